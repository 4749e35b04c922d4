import assert from 'node:assert/strict';
import { chmodSync, chownSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { writeFileAtomic } from '../../src/util/atomic-file.js';
import { tempDir } from '../helpers.js';

describe('writeFileAtomic', () => {
  it('replaces a file with mode 0644 whatever the umask, leaving no temp file', () => {
    const t = tempDir();
    const old = process.umask(0o077);
    try {
      const path = join(t.dir, 'm.json');
      writeFileSync(path, 'old');
      writeFileAtomic(path, 'new text\n');
      assert.equal(readFileSync(path, 'utf8'), 'new text\n');
      assert.equal(statSync(path).mode & 0o777, 0o644);
      assert.deepEqual(readdirSync(t.dir), ['m.json']);
    } finally {
      process.umask(old);
      t.cleanup();
    }
  });

  it('throws when the target cannot be replaced and removes its temp file', () => {
    const t = tempDir();
    try {
      const target = join(t.dir, 'target');
      mkdirSync(target);
      writeFileSync(join(target, 'inside'), 'kept');
      // rename(2) of a file over a directory fails (EISDIR).
      assert.throws(() => writeFileAtomic(target, 'text'), (err: unknown) => (err as NodeJS.ErrnoException).code === 'EISDIR');
      assert.deepEqual(readdirSync(t.dir), ['target']);
      assert.equal(readFileSync(join(target, 'inside'), 'utf8'), 'kept');
    } finally {
      t.cleanup();
    }
  });

  it('gives the file its writer\'s group, not a setgid directory\'s, so a 0640 file stays the writer\'s to read', { skip: process.getuid?.() === 0 ? false : 'needs root to chown' }, () => {
    const t = tempDir();
    try {
      const shared = join(t.dir, 'shared');
      mkdirSync(shared);
      chownSync(shared, 0, 65534);
      chmodSync(shared, 0o2755);
      const path = join(shared, 'report.html');
      writeFileAtomic(path, 'quoted lines\n', 0o640);
      assert.equal(statSync(path).gid, process.getegid!());
      assert.equal(statSync(path).mode & 0o777, 0o640);
    } finally {
      t.cleanup();
    }
  });
});
