import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { mkfifo } from '../helpers.js';

const exitModule = new URL('../../src/util/exit.js', import.meta.url).href;

// Runs a script in a new node that first starts a read in the pool that never returns
// (a FIFO of its own, opened for reading and writing, that nothing writes to), counted
// by holdExit; the script's `release` uncounts it.
function withStuckRead(t: TestContext, then: string, timeout = 10_000): ReturnType<typeof spawnSync> {
  const dir = mkdtempSync(join(tmpdir(), 'lavarank-test-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const fifo = join(dir, 'fifo');
  mkfifo(fifo);
  const script = `
    import { openSync, read } from 'node:fs';
    import { exitNow, exitWhenReturned, holdExit } from ${JSON.stringify(exitModule)};
    const release = holdExit();
    read(openSync(${JSON.stringify(fifo)}, 'r+'), Buffer.alloc(8), 0, 8, null, release);
    setImmediate(() => { ${then} });`;
  return spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout });
}

test('process.exit waits for ever on a read in the pool that never returns', (t) => {
  const r = withStuckRead(t, 'process.exit(0);', 1500);
  assert.equal(r.signal, 'SIGTERM', 'ended by the timeout, not by process.exit');
});

test('exitNow ends the process by SIGKILL while a counted read is in the pool', (t) => {
  const r = withStuckRead(t, 'exitNow(0);');
  assert.equal(r.signal, 'SIGKILL', r.stderr?.toString());
});

test('exitWhenReturned ends the process by SIGKILL once its wait is over and the read has not returned', (t) => {
  const r = withStuckRead(t, 'void exitWhenReturned(0, 50);');
  assert.equal(r.signal, 'SIGKILL', r.stderr?.toString());
});

test('exitWhenReturned exits with the code as soon as the counted tasks have returned', () => {
  const script = `
    import { exitWhenReturned, holdExit } from ${JSON.stringify(exitModule)};
    setTimeout(holdExit(), 20);
    void exitWhenReturned(3, 60_000);`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 10_000 });
  assert.equal(r.status, 3, r.stderr);
});
