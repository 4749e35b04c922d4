import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { runWorkload, simulateWorkload } from '../../src/simulate/engine.js';
import { mergeHosts } from '../../src/simulate/hosts.js';
import { TYPE_MIX } from '../../src/simulate/cluster.js';
import type { JobSpec } from '../../src/simulate/workload.js';

const hosts = (n: number, cpus = 4) => mergeHosts(Array.from({ length: n }, (_, i) => ({ name: `h${i + 1}`, cpus, mxj: cpus })));

const cpuJob = (id: number, submit: number, work = 100): JobSpec => ({ id, family: 'f', type: 'cpu', mix: { ...TYPE_MIX.cpu }, slots: 1, threads: 1, work, memBytes: 2 ** 30, submit });

describe('runWorkload', () => {
  it('gives the same outcomes for the same seed, and other outcomes for another seed', () => {
    const h = hosts(6);
    const run = (seed: number) => simulateWorkload(h, { jobs: 300, utilisation: 0.9 }, { seed, policy: { name: 'random', kind: 'random' }, background: { share: 0.3, meanOn: 600, maxCpuShare: 0.5 } });
    const a = run(3);
    const b = run(3);
    assert.deepEqual(a.outcomes, b.outcomes);
    assert.equal(a.makespan, b.makespan);
    assert.notDeepEqual(run(4).outcomes.map((o) => o.end), a.outcomes.map((o) => o.end));
  });

  it('runs a lone job at its idle speed and reports its CPU time and host', () => {
    const r = runWorkload(hosts(1), [cpuJob(1, 0, 100)], { seed: 1, policy: { name: 'default', kind: 'default' } });
    const o = r.outcomes[0]!;
    assert.equal(o.start, 10); // the first dispatch session, MBD_SLEEP_TIME after the start
    assert.ok(Math.abs(o.end - 110) < 1e-6);
    assert.ok(Math.abs(o.slowdown - 1) < 1e-9);
    assert.ok(Math.abs(o.cpuSeconds - 100) < 1e-6);
    assert.equal(o.host, 'h1');
  });

  it('shares CPUs between threads beyond the CPU count (processor sharing)', () => {
    // Two jobs of 4 threads each on a 4-CPU host: each runs at half speed.
    const jobs = [1, 2].map((id) => ({ ...cpuJob(id, 0, 100), threads: 4 }));
    const r = runWorkload(hosts(1), jobs, { seed: 1, policy: { name: 'default', kind: 'default' } });
    for (const o of r.outcomes) assert.ok(Math.abs(o.slowdown - 2) < 1e-6, `slowdown ${o.slowdown}`);
  });

  it('gives the simulated Sample of a host at any time with keepHistory', () => {
    const r = runWorkload(hosts(1), [cpuJob(1, 0, 1000)], { seed: 1, policy: { name: 'default', kind: 'default' }, keepHistory: true });
    const before = r.sampleAt('h1', 5);
    const during = r.sampleAt('h1', 600);
    assert.equal(before.cpu?.busy, 0);
    assert.ok(Math.abs(during.cpu!.busy - 0.25) < 1e-9); // one busy thread of 4 CPUs
    assert.ok(during.load!.load1 > 0.99 && during.load!.load1 < 1); // 590 s of a 60 s average
    assert.equal(during.load?.online, 4);
    assert.throws(() => r.sampleAt('nope', 1), /no host named/);
  });
});
