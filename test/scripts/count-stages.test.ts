import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { constants, closeSync, mkdtempSync, openSync, rmSync, statSync, writeSync } from 'node:fs';
import { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { describe, it } from 'node:test';
import { noAtimeReadEnd, stageFigures } from '../../scripts/count-stages.js';

// Whether reading a line through readEnd moved the FIFO's atime.
async function readMovesAtime(readEnd: (path: string) => Socket): Promise<boolean> {
  const dir = mkdtempSync(join(tmpdir(), 'lavarank-noatime-'));
  try {
    const fifo = join(dir, 'out');
    execFileSync('mkfifo', ['-m', '600', fifo]);
    await delay(30); // past the coarse clock's tick of the FIFO's making, which stamped its times
    const reader = readEnd(fifo);
    const got = new Promise((done) => reader.once('data', done));
    const fd = openSync(fifo, 'w');
    const before = statSync(fifo).atimeMs;
    writeSync(fd, '1 rank 5\n');
    await got;
    const after = statSync(fifo).atimeMs;
    closeSync(fd);
    reader.destroy();
    return after !== before;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('count-stages', () => {
  it('takes the gap\'s window from each stage, and a named stage\'s figure from the one that names it', () => {
    const stages = [{ name: 'wait', less: 'self' }, { name: 'timer alone', less: 'self' }, { name: 'advance' }, { name: 'sample', less: 'advance' }, { name: 'line' }];
    // Per call: the gap 40, a whole-window stage 30, the harness's work 40 + 100, a sample with it 40 + 100 + 500.
    assert.deepEqual(stageFigures(stages, [40, 30, 140, 640, 45]), [40, 30, 100, 500, 5]);
  });

  it('reads a FIFO without moving its atime, as a plain read end moves it', async () => {
    const plain = (path: string): Socket => new Socket({ fd: openSync(path, constants.O_RDONLY | constants.O_NONBLOCK), readable: true, writable: false });
    assert.equal(await readMovesAtime(plain), true);
    assert.equal(await readMovesAtime(noAtimeReadEnd), false);
  });

  it('names a stage whose subtracted stage does not exist', () => {
    assert.throws(() => stageFigures([{ name: 'wait', less: 'self' }, { name: 'sample', less: 'nothing' }], [1, 2]), /stage sample: no stage nothing to subtract/);
  });
});
