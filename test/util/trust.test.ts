import assert from 'node:assert/strict';
import { chmodSync, chownSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { trustProblems } from '../../src/util/trust.js';
import { tempDir } from '../helpers.js';

const root = process.getuid?.() === 0;

describe('trustProblems', () => {
  it('accepts a file owned by root with mode 0644 in root-owned directories', () => {
    const { dir, cleanup } = tempDir();
    try {
      const f = join(dir, 'model.json');
      writeFileSync(f, '{}', { mode: 0o644 });
      assert.deepEqual(trustProblems(f, 'model file'), []);
    } finally {
      cleanup();
    }
  });

  it('refuses a group-writable file and says how to fix it', () => {
    const { dir, cleanup } = tempDir();
    try {
      const f = join(dir, 'model.json');
      writeFileSync(f, '{}');
      chmodSync(f, 0o664);
      assert.deepEqual(trustProblems(f, 'model file'), [`model file ${f} has mode 0664, writable by group or others; run: chmod go-w ${f}`]);
    } finally {
      cleanup();
    }
  });

  it('refuses a file owned by another user', { skip: root ? false : 'needs root to chown' }, () => {
    const { dir, cleanup } = tempDir();
    try {
      const f = join(dir, 'lavarank.yaml');
      writeFileSync(f, '', { mode: 0o644 });
      chownSync(f, 1234, 1234);
      assert.match(trustProblems(f, 'config file')[0] ?? '', /is owned by uid 1234; it must be owned by root/);
    } finally {
      cleanup();
    }
  });

  it('accepts a world-writable directory only if it is sticky, like /tmp', () => {
    const { dir, cleanup } = tempDir();
    try {
      const open = join(dir, 'open');
      mkdirSync(open);
      const f = join(open, 'x');
      writeFileSync(f, '', { mode: 0o644 });
      chmodSync(open, 0o1777);
      assert.deepEqual(trustProblems(f, 'file'), []);
      chmodSync(open, 0o777);
      assert.match(trustProblems(f, 'file')[0] ?? '', /directory .*open above file .* has mode 0777/);
    } finally {
      cleanup();
    }
  });

  it('checks the directories of a symlink and of its target', () => {
    const { dir, cleanup } = tempDir();
    try {
      const open = join(dir, 'open');
      mkdirSync(open);
      chmodSync(open, 0o777);
      const real = join(dir, 'real.json');
      writeFileSync(real, '{}', { mode: 0o644 });
      const link = join(open, 'model.json');
      symlinkSync(real, link);
      assert.match(trustProblems(link, 'model file').join('\n'), /directory .*open above model file/);
    } finally {
      cleanup();
    }
  });

  it('requires an execute bit for programs', () => {
    const { dir, cleanup } = tempDir();
    try {
      const f = join(dir, 'elim.site');
      writeFileSync(f, '#!/bin/sh\n', { mode: 0o644 });
      assert.match(trustProblems(f, 'child elim', { executable: true })[0] ?? '', /is not executable/);
    } finally {
      cleanup();
    }
  });

  it('names a missing file', () => {
    assert.deepEqual(trustProblems('/nonexistent/m.json', 'model file'), ['model file /nonexistent/m.json cannot be read: ENOENT']);
  });
});
