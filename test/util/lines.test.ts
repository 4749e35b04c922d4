import assert from 'node:assert/strict';
import { appendFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { readLineBatches } from '../../src/util/lines.js';
import { tempDir } from '../helpers.js';

describe('readLineBatches of a path', () => {
  // A user whose directory held an lsb.acct appended to it as fast as retrain read it,
  // and retrain, under cron, never ended (hostile25).
  it('reads the file as long as it was when opened, not what is appended while it is read', async () => {
    const { dir, cleanup } = tempDir();
    try {
      const file = join(dir, 'lsb.acct');
      const line = `${'x'.repeat(999)}\n`;
      writeFileSync(file, line.repeat(4000));
      let lines = 0;
      let appended = false;
      for await (const batch of readLineBatches(file)) {
        lines += batch.length;
        if (!appended) {
          appendFileSync(file, line.repeat(4000));
          appended = true;
        }
      }
      assert.equal(lines, 4000);
    } finally {
      cleanup();
    }
  });

  it('hands over a line torn at that size as a last line without its newline', async () => {
    const { dir, cleanup } = tempDir();
    try {
      const file = join(dir, 'lsb.acct');
      // Past the stream's read-ahead (two 256 KiB chunks), so that the append comes before the end is read.
      writeFileSync(file, `${'one\n'.repeat(400_000)}tw`);
      const all = [];
      for await (const batch of readLineBatches(file)) {
        if (all.length === 0) appendFileSync(file, 'o\nthree\n');
        all.push(...batch);
      }
      assert.equal(all.length, 400_001);
      assert.deepEqual([all.at(-1)!.text, all.at(-1)!.complete], ['tw', false]);
    } finally {
      cleanup();
    }
  });

  it('reads an empty file as no lines', async () => {
    const { dir, cleanup } = tempDir();
    try {
      const file = join(dir, 'lsb.acct');
      writeFileSync(file, '');
      const all = [];
      for await (const batch of readLineBatches(file)) all.push(...batch);
      assert.deepEqual(all, []);
    } finally {
      cleanup();
    }
  });
});
