import assert from 'node:assert/strict';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileIdentity, readRegularText } from '../../src/util/paths.js';
import { mkfifo, tempDir } from '../helpers.js';

describe('fileIdentity', () => {
  it('gives one file reached by two names, through a link or not, and one file not written yet, the same identity', () => {
    const { dir, cleanup } = tempDir();
    try {
      mkdirSync(join(dir, 'real'));
      symlinkSync(join(dir, 'real'), join(dir, 'link'));
      writeFileSync(join(dir, 'real', 'a'), 'x');
      assert.equal(fileIdentity(join(dir, 'link', 'a')), fileIdentity(join(dir, 'real', 'a')));
      assert.equal(fileIdentity(join(dir, 'link', 'new')), fileIdentity(join(dir, 'real', 'new')));
      assert.equal(fileIdentity(join(dir, 'real', '..', 'real', 'new')), fileIdentity(join(dir, 'real', 'new')));
      assert.notEqual(fileIdentity(join(dir, 'real', 'a')), fileIdentity(join(dir, 'real', 'new')));
      assert.notEqual(fileIdentity(join(dir, 'nowhere', 'x')), fileIdentity(join(dir, 'nowhere', 'y')));
    } finally {
      cleanup();
    }
  });
});

describe('readRegularText', () => {
  // /proc's files are regular files whose fstat size is 0: their text stands for a
  // file that grew after fstat, and shows the buffer growing past the size given.
  it('reads a file to its end past the size fstat gave, and refuses one that grows past the limit', () => {
    const text = readRegularText('/proc/self/mountinfo', 1 << 20);
    assert.ok(text.length > 100 && text.endsWith('\n'), text);
    assert.throws(() => readRegularText('/proc/self/mountinfo', 50), /^Error: more than the 50-byte limit \(it grew while being read\)$/);
  });


  it('refuses a FIFO at once and a file over the limit, saying which', () => {
    const { dir, cleanup } = tempDir();
    try {
      mkfifo(join(dir, 'fifo'));
      assert.throws(() => readRegularText(join(dir, 'fifo'), 100), /^Error: not a regular file$/);
      writeFileSync(join(dir, 'big'), 'x'.repeat(101));
      assert.throws(() => readRegularText(join(dir, 'big'), 100), /^Error: 101 bytes, more than the 100-byte limit$/);
      writeFileSync(join(dir, 'ok'), 'été');
      assert.equal(readRegularText(join(dir, 'ok'), 100), 'été');
    } finally {
      cleanup();
    }
  });
});
