// The host inventory the daemon logs once after its first report is gathered with
// systeminformation, which runs programs of the host synchronously and without a
// timeout (lspci, then nvidia-smi when lspci lists an NVIDIA board; `hostname -f`;
// dmidecode). On a GPU node with a wedged driver nvidia-smi hangs: that must cost
// the inventory, never a report or the exit on SIGTERM.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, it } from 'node:test';
import { fixture, readPidFile, testDir } from '../helpers.js';
import { assertStopsOnSigterm, startElim, type Elim } from '../e2e/harness.js';
import { DescendantWatch, installBin, isAlive, sleep, until } from './helpers.js';

// An elim at a 0.2 s interval whose host inventory hangs in nvidia-smi (its pid written
// to pidFile), with more environment and Node arguments given.
function startWithHangingInventory(dir: string, more: { env?: Record<string, string>; nodeArgs?: string[] } = {}): { elim: Elim; pidFile: string } {
  const bin = join(dir, 'bin');
  installBin(bin, 'lspci-nvidia', 'lspci');
  installBin(bin, 'nvidia-smi-hang', 'nvidia-smi');
  const pidFile = join(dir, 'nvidia-smi.pid');
  const elim = startElim({
    testInterval: 0.2,
    env: { PATH: `${bin}:${process.env['PATH'] ?? ''}`, FAKE_GPU_PIDFILE: pidFile, ...more.env },
    // GPUs on, so that the inventory gathers them (with gpu.enabled false, or auto on this
    // host's PCI bus without an NVIDIA board, it runs no nvidia-smi), but the GPU query
    // pointed elsewhere: only the inventory's hangs.
    override: { gpu: { enabled: true, command: '/nonexistent/nvidia-smi' } },
    ...(more.nodeArgs === undefined ? {} : { nodeArgs: more.nodeArgs }),
  });
  return { elim, pidFile };
}

describe('a host inventory that hangs', { concurrency: false }, () => {
  it('delays no report and no exit: reports stay on time and SIGTERM ends the elim and the hung command within 2 s', async (t) => {
    const dir = testDir(t, 'lavarank-inventory-');
    const { elim, pidFile } = startWithHangingInventory(dir);
    const watch = new DescendantWatch(elim.pid);
    try {
      // The inventory starts after the first report; nvidia-smi is then hung.
      const hung = await until('the inventory runs nvidia-smi', () => readPidFile(pidFile));
      const before = elim.reports().length;
      await sleep(3000);
      const during = elim.reports().slice(before);
      assert.ok(during.length >= 5, `${during.length} reports in 3 s at a 0.2 s interval while nvidia-smi hangs`);
      assert.ok(isAlive(hung), 'the fake nvidia-smi is not hanging; the test proves nothing');

      await assertStopsOnSigterm(elim);
      // Killed a moment ago, it ends when it next gets a CPU: waited for, not assumed after 100 ms.
      const left = await DescendantWatch.survivorsAfter(watch.all());
      await until('the hung nvidia-smi to end', () => (isAlive(hung) ? undefined : true), 5000).catch(() => undefined);
      assert.equal(isAlive(hung), false, 'the hung nvidia-smi outlived the elim');
      assert.deepEqual(left, []);
    } finally {
      watch.stop();
      await elim.cleanup();
    }
  });

  // LIM's SIGTERM in an elim's first seconds (a reconfig soon after a start, LIM closing
  // the pipe at a protocol error) finds the inventory still gathering: the stop ends it,
  // and nothing failed. Before, the log said `host inventory failed` ("This operation was
  // aborted"), a warning at every such stop.
  it('a SIGTERM while it runs is no failure: the log says the stop ended it, and no warning', async (t) => {
    const dir = testDir(t, 'lavarank-inventory-');
    const { elim, pidFile } = startWithHangingInventory(dir);
    try {
      await until('the inventory runs nvidia-smi', () => readPidFile(pidFile));
      await assertStopsOnSigterm(elim);
      const log = elim.log();
      assert.ok(log.some((l) => l['msg'] === 'host inventory not gathered: the elim is stopping'), 'the log does not say the stop ended the inventory');
      const inventoryWarnings = log.filter((l) => /inventory/.test(String(l['msg'])) && l['level'] !== 'info');
      assert.deepEqual(inventoryWarnings, []);
    } finally {
      await elim.cleanup();
    }
  });

  // A crash is no stop: the inventory, in a process group of its own, is not ended by
  // the abort a stop makes, and ran on under PID 1 to its 15 s timeout, or for ever
  // where nvidia-smi ignores the SIGKILL it never gets.
  it('a crash while it hangs ends the hung command with the elim', async (t) => {
    const dir = testDir(t, 'lavarank-inventory-');
    const { elim, pidFile } = startWithHangingInventory(dir, { env: { CRASH_ON_SIGNAL: 'SIGWINCH' }, nodeArgs: ['--import', pathToFileURL(fixture('crash-at.mjs')).href] });
    try {
      const hung = await until('the inventory runs nvidia-smi', () => readPidFile(pidFile));
      process.kill(elim.pid, 'SIGWINCH');
      const exit = await elim.exited;
      // 1, or SIGKILL where a log or history write was out in libuv's pool (src/util/exit.ts).
      assert.ok(exit.code === 1 || exit.signal === 'SIGKILL', `exit ${exit.code ?? exit.signal} after the crash`);
      assert.ok(elim.log().some((l) => l['msg'] === 'uncaught exception; exiting'), 'the crash path did not run');
      await until('the hung nvidia-smi to end', () => (isAlive(hung) ? undefined : true), 5000).catch(() => undefined);
      assert.equal(isAlive(hung), false, 'the hung nvidia-smi outlived the crashed elim');
    } finally {
      await elim.cleanup();
    }
  });
});
