import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
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
});
