// What a crash (a bug's uncaught exception: the daemon's `die`) keeps. It writes its
// fatal line and exits at once, LIM restarting the elim 90 s after its last start; the
// history records held for the next batch of six were lost with it, and said nowhere.
import assert from 'node:assert/strict';
import { pathToFileURL } from 'node:url';
import { describe, it } from 'node:test';
import { historyRecords, startElim } from '../e2e/harness.js';
import { fixture } from '../helpers.js';

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
});
