// stderr a second copy of LIM's pipe, as where a LIM or MELIM passes its own stderr on, or
// fd 2 is reused: anything the elim wrote there would reach LIM among the reports' tokens
// (a protocol error: LIM SIGTERMs the elim and marks its values unknown).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { startElim } from '../e2e/harness.js';

describe('stderr the same pipe as stdout', () => {
  it('carries nothing but whole reports through the start, the signals the elim ignores and its stop', async () => {
    const elim = startElim({ testInterval: 0.2, stderrIsStdout: true });
    try {
      await elim.waitForReports(3);
      for (const signal of ['SIGUSR1', 'SIGUSR2', 'SIGHUP', 'SIGINT', 'SIGQUIT'] as const) process.kill(elim.pid, signal);
      await elim.waitForLog((l) => String(l['msg']).startsWith('SIGUSR2 ignored'));
      await elim.waitForReports(elim.reports().length + 3);
      process.kill(elim.pid, 'SIGTERM');
      const exit = await elim.exited;
      assert.equal(exit.code, 0);
      const text = elim.reads.map((r) => r.data).join('');
      assert.match(text, /^(1 rank \d+(\.\d+)?\n)+$/, `read from the pipe: ${JSON.stringify(text.slice(0, 400))}`);
    } finally {
      await elim.cleanup();
    }
  });
});
