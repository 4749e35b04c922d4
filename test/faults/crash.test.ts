// What a crash (a bug's uncaught exception: the daemon's `die`) keeps. It writes its
// fatal line and exits at once, LIM restarting the elim 90 s after its last start; the
// history records held for the next batch of six were lost with it, and said nowhere.
import assert from 'node:assert/strict';
import { pathToFileURL } from 'node:url';
import { describe, it } from 'node:test';
import { join } from 'node:path';
import { historyRecords, startElim } from '../e2e/harness.js';
import { fixture, isAlive, readPidFile, testDir, until } from '../helpers.js';

describe('a crash of the elim', () => {
  it('writes the history records held for the next batch before it exits', async () => {
    const elim = startElim({ testInterval: 0.3, nodeArgs: ['--import', pathToFileURL(fixture('crash-at.mjs')).href], env: { CRASH_ON_SIGNAL: 'SIGUSR2' } });
    try {
      await elim.waitForReports(9);
      process.kill(elim.pid, 'SIGUSR2');
      const exit = await elim.exited;
      // 1, or SIGKILL where a write of the pool's was still out (src/util/exit.ts).
      assert.ok(exit.code === 1 || exit.signal === 'SIGKILL', `exited ${exit.code ?? exit.signal}`);
      // The reports read before the crash's line: the loop goes on while the crash waits for
      // its writes, and a report made then has its record held, not written.
      const fatal = elim.log().find((l) => l['msg'] === 'uncaught exception; exiting');
      assert.ok(fatal !== undefined, 'no fatal line');
      const fatalAt = Date.parse(String(fatal['time'])) - elim.started;
      const before = elim.reports().filter((r) => r.at <= fatalAt).length;
      const records = historyRecords(elim).length;
      assert.ok(records >= before, `${records} history records for the ${before} reports read before the crash`);
    } finally {
      await elim.cleanup();
    }
  });

  // The query runs in a process group of its own (runIsolated), which the crash's SIGKILL
  // to the child elims' groups did not reach: a hung nvidia-smi ran on under PID 1 for its
  // whole 60 s timeout, and one stuck in the kernel for good.
  it('ends a GPU query under way, with its process group', async (t) => {
    const dir = testDir(t, 'lavarank-crash-gpu-');
    const pidFile = join(dir, 'gpu.pid');
    const elim = startElim({
      testInterval: 0.3,
      nodeArgs: ['--import', pathToFileURL(fixture('crash-at.mjs')).href],
      env: { CRASH_ON_SIGNAL: 'SIGUSR2', FAKE_GPU_PIDFILE: pidFile },
      override: { gpu: { enabled: true, command: fixture('bin', 'nvidia-smi-hang'), interval: 1, timeout: 60 } },
    });
    let hung: number | undefined;
    try {
      hung = await until('the GPU query started', () => readPidFile(pidFile), 30_000);
      process.kill(elim.pid, 'SIGUSR2');
      await elim.exited;
      assert.ok(elim.log().some((l) => l['msg'] === 'uncaught exception; exiting'), 'no fatal line: the exit was not the crash path');
      const query = hung;
      await until('the hung GPU query ended', () => (isAlive(query) ? undefined : true), 10_000);
    } finally {
      if (hung !== undefined && isAlive(hung)) process.kill(hung, 'SIGKILL');
      await elim.cleanup();
    }
  });
});
