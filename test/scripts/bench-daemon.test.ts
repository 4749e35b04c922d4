import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { measureDaemon } from '../../scripts/bench-daemon.js';
import { cliPath } from '../helpers.js';

describe('measureDaemon', () => {
  it('runs the built elim as LIM would and measures its CPU per report and RSS', async () => {
    const r = await measureDaemon({ cliPath, reports: 3, warmup: 1, intervalSec: 0.2 });
    assert.equal(r.reports, 3);
    assert.match(r.lastLine, /^1 rank \d+(\.\d+)?$/);
    assert.ok(r.cpuMsPerReport > 0 && r.cpuMsPerReport < 200, String(r.cpuMsPerReport));
    assert.ok(r.rssMB > 10 && r.rssMB < 500, String(r.rssMB));
    assert.ok(r.threads >= 1);
  });

  it('says so when the elim cannot run', async () => {
    await assert.rejects(measureDaemon({ cliPath: '/nonexistent/cli.js', reports: 1, warmup: 1, intervalSec: 0.2 }), /exited with status 1 after 0 reports/);
  });
});
