// Child elims (a site's own, run by lavarank) that flood their output, print
// tokens of a megabyte, or ignore SIGTERM, under the built daemon: reports stay on
// time and whole, memory stays bounded, the newest values still get through, and
// SIGTERM still ends everything within 2 s.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { processCpuSeconds } from '../../src/calibration/calibrate.js';
import { tempDir } from '../helpers.js';
import { assertStopsOnSigterm, REPORT_RE, startElim, type Elim } from '../e2e/harness.js';
import { DescendantWatch, installElim, sleep, until, vmRssKb } from './helpers.js';

function withChild(dir: string, name: string, testInterval = 0.2): Elim {
  return startElim({ testInterval, config: `elims:\n  - name: ${name}\n    command: [${installElim(dir, name)}]\n` });
}

function maxGap(elim: Elim): number {
  const at = elim.reports().map((r) => r.at);
  return Math.max(0, ...at.slice(1).map((t, i) => t - at[i]!));
}

async function sigtermWithin2s(elim: Elim, watch: DescendantWatch): Promise<void> {
  await assertStopsOnSigterm(elim);
  await sleep(100);
  assert.deepEqual(DescendantWatch.survivors(watch.children()), []);
}

describe('child elims that misbehave', { concurrency: false }, () => {
  it('one that floods its output: reports stay on time with its newest value, memory and CPU stay bounded, and SIGTERM ends both', async (t) => {
    const { dir, cleanup } = tempDir('lavarank-children-');
    const elim = withChild(dir, 'flood');
    const watch = new DescendantWatch(elim.pid);
    try {
      await until('a flood value', () => elim.reports().find((r) => r.line.includes(' flood ')), 10_000);
      await sleep(3000); // buffers and pools reach their working size first
      const cpu0 = processCpuSeconds(elim.pid)!;
      const rss0 = vmRssKb(elim.pid)!;
      const from = elim.reports().length;
      await sleep(5000);
      const cpu = processCpuSeconds(elim.pid)! - cpu0;
      const rss = vmRssKb(elim.pid)!;
      const reports = elim.reports().slice(from);
      t.diagnostic(`${reports.length} reports in 5 s; the daemon used ${cpu.toFixed(2)} CPU s; VmRSS ${rss0} -> ${rss} kB`);
      assert.ok(reports.length >= 12, `${reports.length} reports in 5 s at a 0.2 s interval`);
      assert.ok(maxGap(elim) < 2000, `a gap of ${maxGap(elim)} ms`);
      for (const r of reports) assert.match(r.line, REPORT_RE);
      const values = reports.map((r) => Number(/ flood (\d+)/.exec(r.line)?.[1])).filter((v) => Number.isFinite(v));
      assert.ok(values.length >= reports.length / 2, 'the flood value went missing from most reports');
      assert.ok(values.at(-1)! > values[0]!, 'the flood value does not advance: an old value is reported');
      assert.ok(rss - rss0 < 20 * 1024, `VmRSS grew by ${rss - rss0} kB in 5 s`);
      assert.ok(cpu < 2.5, `the daemon used ${cpu.toFixed(2)} CPU seconds in 5 s reading the flood`);
      await sigtermWithin2s(elim, watch);
    } finally {
      watch.stop();
      await elim.cleanup();
      cleanup();
    }
  });

  it('one that prints tokens of 200 KB and 1 MB: they are dropped, the reports after them get through, and memory stays bounded', async (t) => {
    const { dir, cleanup } = tempDir('lavarank-children-');
    const elim = withChild(dir, 'hugetoken');
    try {
      await until('the value after the 1 MB token', () => elim.reports().find((r) => / later 8(\s|$)/.test(r.line)), 10_000);
      assert.ok(elim.reports().some((r) => / after 7(\s|$)/.test(r.line)), 'the value after the 200 KB token never arrived');
      for (const r of elim.reports()) {
        assert.match(r.line, REPORT_RE);
        assert.ok(r.line.length < 200, `a report of ${r.line.length} bytes`);
      }
      const rss = vmRssKb(elim.pid)!;
      t.diagnostic(`VmRSS ${rss} kB`);
      assert.ok(rss < 200 * 1024, `VmRSS ${rss} kB`);
      const problems = elim.log().filter((l) => l['elim'] === 'hugetoken').map((l) => String(l['problem'] ?? l['msg']));
      assert.ok(problems.some((p) => p === 'oversized-token' || p.includes('flood')), problems.join(' | '));
    } finally {
      await elim.cleanup();
      cleanup();
    }
  });

  it('one that ignores SIGTERM, next to one that floods: SIGTERM still ends the daemon and both within 2 s', async () => {
    const { dir, cleanup } = tempDir('lavarank-children-');
    const elim = startElim({
      testInterval: 0.2,
      config: `elims:\n  - command: [${installElim(dir, 'stubborn')}]\n  - command: [${installElim(dir, 'flood')}]\n`,
    });
    const watch = new DescendantWatch(elim.pid);
    try {
      await until('both children reporting', () => elim.reports().find((r) => r.line.includes(' pid ') && r.line.includes(' flood ')), 10_000);
      assert.ok(watch.children().length >= 2, 'the children did not start');
      await sigtermWithin2s(elim, watch);
    } finally {
      watch.stop();
      await elim.cleanup();
      cleanup();
    }
  });

  it('one that prints names LIM would refuse (_x, 40 characters): only those are left out, logged once, and the other child\'s values and stale_value still go out', async () => {
    const { dir, cleanup } = tempDir('lavarank-children-');
    const elim = startElim({
      testInterval: 0.2,
      config:
        `elims:\n  - name: badname\n    command: [${installElim(dir, 'badname')}]\n` +
        `  - name: good\n    command: [${installElim(dir, 'good')}]\n  - name: once\n    command: [${installElim(dir, 'silent')}]\n    max_age: 0.5\n    stale_value: -1\n`,
    });
    try {
      const report = await until('ok, scratch and once\'s stale value in one report', () =>
        elim.reports().find((r) => / ok 2( |$)/.test(r.line) && / scratch 12\.5( |$)/.test(r.line) && / once -1( |$)/.test(r.line)),
      );
      assert.match(report.line, REPORT_RE);
      for (const r of elim.reports()) assert.doesNotMatch(r.line, / _x |nnnnnnnnnn/);
      const badName = elim.log().filter((l) => l['elim'] === 'badname' && l['problem'] === 'bad-name');
      assert.equal(badName.length, 1, 'the bad names were not logged once');
    } finally {
      await elim.cleanup();
      cleanup();
    }
  });

  it('one whose report would push the line past 4096 bytes: it alone is cut off, with a log line naming it, and the children before it still go out', async () => {
    const { dir, cleanup } = tempDir('lavarank-children-');
    const elim = startElim({
      testInterval: 0.2,
      config: `elims:\n  - name: good\n    command: [${installElim(dir, 'good')}]\n  - name: longnames\n    command: [${installElim(dir, 'longnames')}]\n`,
    });
    try {
      await until('the cut logged', () => elim.log().find((l) => l['elim'] === 'longnames' && /would exceed 4096 bytes/.test(String(l['msg']))));
      const from = elim.reports().length;
      await elim.waitForReports(from + 3);
      for (const r of elim.reports().slice(from)) {
        assert.match(r.line, REPORT_RE);
        assert.ok(r.line.length < 4096);
        assert.match(r.line, / scratch 12\.5 licenses 3$/);
      }
    } finally {
      await elim.cleanup();
      cleanup();
    }
  });

  it('one that reports 1e300 (finite, but infinite in LIM\'s float): that value is left out and logged, the others go out', async () => {
    const { dir, cleanup } = tempDir('lavarank-children-');
    const elim = startElim({ testInterval: 0.2, config: `elims:\n  - name: bigvalue\n    command: [${installElim(dir, 'bigvalue')}]\n` });
    try {
      await until('fine 3', () => elim.reports().find((r) => / fine 3$/.test(r.line)));
      await sleep(500);
      for (const r of elim.reports()) {
        assert.doesNotMatch(r.line, / big /);
        assert.ok(r.line.split(' ').every((token) => token.length < 40), `a huge number reached LIM: ${r.line.slice(0, 80)}...`);
      }
      assert.ok(elim.log().some((l) => l['elim'] === 'bigvalue' && l['problem'] === 'out-of-range'), 'the refusal was not logged');
    } finally {
      await elim.cleanup();
      cleanup();
    }
  });
});
