import assert from 'node:assert/strict';
import { dirname, join } from 'node:path';
import { describe, it } from 'node:test';
import { closeSync, fstatSync, writeSync } from 'node:fs';
import { setTimeout as delay } from 'node:timers/promises';
import { describeSpec, FLAT_TARGET, flatGrowth, measureDaemon, measureElims, reportPipe, sideBySide, type ElimMeasurement, type FlatPoint } from '../../scripts/bench-daemon.js';
import { HISTORY_HOLD } from '../../src/history/record.js';
import { cliPath } from '../helpers.js';

// Whether a report read through reportPipe's read end moved the FIFO's atime.
async function readMovesAtime(options: { noAtime?: boolean }): Promise<boolean> {
  const pipe = reportPipe(options);
  try {
    await delay(30); // past the coarse clock's tick of the FIFO's making, which stamped its times
    const got = new Promise((done) => pipe.readEnd.once('data', done));
    const before = fstatSync(pipe.writeFd).atimeMs;
    writeSync(pipe.writeFd, '1 rank 5\n');
    await got;
    return fstatSync(pipe.writeFd).atimeMs !== before;
  } finally {
    pipe.readEnd.destroy();
    closeSync(pipe.writeFd);
    pipe.remove();
  }
}

describe('reportPipe', () => {
  it('reads so that the FIFO\'s atime moves, and with noAtime as LIM\'s pipe(2) on Linux 6.14+ is read: leaving it', async () => {
    assert.equal(await readMovesAtime({}), true);
    assert.equal(await readMovesAtime({ noAtime: true }), false);
  });
});

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

describe('measureElims', () => {
  it("gives each program a pipe for stdout, as LIM does, not Node's socket pair", async () => {
    // Says every 50 ms what its stdout is.
    const probe = "const { fstatSync, writeSync } = require('node:fs'); const s = fstatSync(1); setInterval(() => writeSync(1, `1 fifo ${s.isFIFO() ? 1 : 0} socket ${s.isSocket() ? 1 : 0}\\n`), 50);";
    const [r] = await measureElims([{ label: 'probe', args: ['-e', probe] }], { reports: 2, warmup: 1, intervalSec: 0.05 });
    assert.equal(r?.lastLine, '1 fifo 1 socket 0');
  });

  it("counts no report before the elim's first history batch, which opens the history file once for its life", async () => {
    const probe = "let n = 0; setInterval(() => require('node:fs').writeSync(1, `1 line ${++n}\\n`), 20);";
    const [r] = await measureElims([{ label: 'probe', args: ['-e', probe] }], { reports: 1, intervalSec: 0.02 });
    assert.ok(r!.warmupReports > HISTORY_HOLD, `${r!.warmupReports} warm-up reports`);
    assert.equal(r!.lastLine, `1 line ${r!.warmupReports + 1}`);
  });
});

describe('sideBySide', () => {
  it('measures lavarank on the generated node both ways, and judges the kept-open one with this host', async () => {
    const floorPath = join(dirname(cliPath), '..', 'scripts', 'floor-elim.js');
    const spec = { cpus: 4, disks: 2, partitions: 1, loops: 0, nics: 1 };
    const rows = await sideBySide({ cliPath, floorPath, spec, reports: 2, warmup: 2, windows: 1, intervalSec: 0.3 });
    assert.deepEqual(
      rows.map((r) => [r.host.replace(/^this host \(\d+ CPUs\)/, 'host').replace(describeSpec(spec), 'node'), r.target]),
      [
        ['host', true],
        ['node, files kept open as on procfs and sysfs', true],
        ["node, files opened for each read as a snapshot's", false],
        ['host, against the floor keeping its files open', false],
        ['node, files kept open, against the floor keeping its files open', false],
      ],
    );
    // The generated node's load makes lavarank report a rank above 0 there, read either way.
    for (const r of rows.slice(1, 3)) assert.match(r.lavarank.lastLine, /^1 rank [1-9]\d*(\.\d+)?$/, r.host);
    assert.equal(rows[1]!.floor, rows[2]!.floor);
    assert.notEqual(rows[1]!.lavarank, rows[2]!.lavarank);
  });
});

describe('flatGrowth', () => {
  // A flatness point whose lavarank cost per report is the given windows.
  const point = (cpus: number, disks: number, partitions: number, windows: number[]): FlatPoint => {
    const measured = { windowsCpuMsPerReport: windows } as ElimMeasurement;
    return { spec: { cpus, disks, partitions, loops: 0, nics: 1 }, lavarank: measured, floor: measured };
  };

  it('divides the median cost on the largest node of each series by that on the smallest, whatever the order of the points', () => {
    const growth = flatGrowth([
      point(256, 1, 0, [3, 2, 9]),
      point(2, 1, 0, [1, 1.5, 2]),
      point(32, 1, 0, [5, 5, 5]),
      point(2, 60, 4, [1, 1.8, 2]),
      point(2, 2, 4, [9, 9, 9]),
    ]);
    assert.deepEqual(growth, [
      { along: 'CPUs', from: 2, to: 256, fromMs: 1.5, toMs: 3, growth: 2 },
      { along: 'block devices', from: 1, to: 300, fromMs: 1.5, toMs: 1.8, growth: 1.2 },
    ]);
    assert.ok(growth[1]!.growth <= FLAT_TARGET && !(growth[0]!.growth <= FLAT_TARGET));
  });

  it('leaves out a series of one node', () => {
    assert.deepEqual(flatGrowth([point(2, 1, 0, [1]), point(8, 1, 0, [1.1])]).map((g) => g.along), ['CPUs']);
  });
});
