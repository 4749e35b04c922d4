// The /proc faults of procfs.test.ts against the built daemon started as LIM starts
// it, one daemon walking through them in turn: the reports keep coming, the
// pessimistic rank appears after pessimistic_after failed samples, and the daemon
// recovers and says so when the file is repaired.
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { testDir } from '../helpers.js';
import { startElim, type Elim } from '../e2e/harness.js';
import { FAULTS, SyntheticHost, sleep, until } from './helpers.js';

const PESSIMISTIC = 777;

function rankOf(line: string): number {
  return Number(line.split(' ')[2]);
}

// Reports read after the first `from` reports.
function since(elim: Elim, from: number): number[] {
  return elim.reports().slice(from).map((r) => rankOf(r.line));
}

describe('broken /proc files under the built daemon', { concurrency: false }, () => {
  it('keeps reporting through every fault of /proc/stat and /proc/meminfo, goes pessimistic, and recovers after each', async (t) => {
    const dir = testDir(t, 'lavarank-procfs-e2e-');
    const host = new SyntheticHost(join(dir, 'host'));
    const elim = startElim({
      testInterval: 0.1,
      config: `proc_root: ${host.procRoot}\nsys_root: ${host.sysRoot}\npessimistic_after: 2\npessimistic_rank: ${PESSIMISTIC}\n`,
    });
    try {
      await elim.waitForReports(3);
      assert.ok(since(elim, 0).every((r) => r !== PESSIMISTIC), 'pessimistic before any fault');
      const cases = [
        ...FAULTS.map((fault) => ({ file: 'proc/stat', fault })),
        ...FAULTS.filter((f) => f.name === 'garbage' || f.name.startsWith('a FIFO whose')).map((fault) => ({ file: 'proc/meminfo', fault })),
      ];
      let recoveries = 0;
      for (const { file, fault } of cases) {
        const what = `${file} ${fault.name}`;
        const before = elim.reports().length;
        const undo = host.break(file, fault);
        try {
          await until(`${what}: the pessimistic rank`, () => (since(elim, before).includes(PESSIMISTIC) ? true : undefined), 5000);
        } finally {
          undo();
        }
        const repaired = elim.reports().length;
        await until(`${what}: a normal rank after repair`, () => (since(elim, repaired).some((r) => r !== PESSIMISTIC) ? true : undefined), 5000);
        recoveries++;
        await until(`${what}: the recovery logged`, () =>
          elim.log().filter((l) => /^sampling recovered after \d+ failed ticks$/.test(String(l['msg']))).length >= recoveries ? true : undefined,
        );
      }
      await sleep(300);
      const reports = elim.reports();
      const gaps = reports.slice(1).map((r, i) => r.at - reports[i]!.at);
      t.diagnostic(`${cases.length} faults, ${reports.length} reports, longest gap ${Math.max(...gaps)} ms at a 0.1 s interval`);
      assert.ok(Math.max(...gaps) < 2000, `a gap of ${Math.max(...gaps)} ms between reports`);
      assert.equal(elim.child.exitCode, null, 'the daemon exited');
    } finally {
      await elim.cleanup();
    }
  });

  it('says once, at the first report, that the host has no PSI and how to turn it on, and keeps reporting', async (t) => {
    const dir = testDir(t, 'lavarank-procfs-e2e-');
    const host = new SyntheticHost(join(dir, 'host'));
    rmSync(join(host.procRoot, 'pressure'), { recursive: true });
    const elim = startElim({ testInterval: 0.1, config: `proc_root: ${host.procRoot}\nsys_root: ${host.sysRoot}\n` });
    try {
      await elim.waitForReports(5);
      const said = elim.log().filter((l) => String(l['msg']).startsWith('no PSI'));
      assert.equal(said.length, 1);
      assert.match(String(said[0]!['msg']), /boot with psi=1$/);
      assert.ok(elim.reports().every((r) => /^1 rank \d/.test(r.line)), 'a report without a rank');
    } finally {
      await elim.cleanup();
    }
  });
});
