import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Sample } from '../../src/collectors/types.js';
import { runExperiment, runStats, spread, sweepOf, typedUnavailable } from '../../src/simulate/experiment.js';
import type { SimRun } from '../../src/simulate/engine.js';
import { percentile } from '../../src/util/stats.js';
import { syntheticHosts } from '../../src/simulate/hosts.js';
import { standardPolicies } from '../../src/simulate/policies.js';
import { generateWorkload } from '../../src/simulate/workload.js';

const busyRanker = { name: 'busy', rank: (s: Sample) => ({ rank: 100 * (s.load?.runnablePerCpu ?? 0), model: 'busy' }) };
const typedRanker = {
  name: 'typed',
  rank: (s: Sample) => ({ rank: 100 * (s.load?.runnablePerCpu ?? 0), model: 'typed', typed: { rank_cpu: 100 * (s.load?.runnablePerCpu ?? 0), rank_mem: 100 * (s.memory?.usedFraction ?? 0), rank_io: 100 * (s.disk?.busyMax ?? 0) } }),
};

describe('spread', () => {
  it('gives the mean, the sample standard deviation and the 95 % interval of the mean', () => {
    const s = spread([1, 2, 3, 4]);
    assert.equal(s.mean, 2.5);
    assert.ok(Math.abs(s.sd - Math.sqrt(5 / 3)) < 1e-12);
    assert.ok(Math.abs(s.ci95 - (3.182 * Math.sqrt(5 / 3)) / 2) < 1e-9);
    assert.equal(spread([7]).sd, 0);
    assert.equal(spread([NaN, 1, 3]).mean, 2);
  });

  it('widens the interval of 22 seeds by Student\'s t for 21 degrees of freedom (2.080), not the normal 1.96', () => {
    const v = Array.from({ length: 22 }, (_, i) => i % 2);
    const s = spread(v);
    assert.ok(Math.abs(s.ci95 / (s.sd / Math.sqrt(22)) - 2.08) < 0.001, String(s.ci95 / (s.sd / Math.sqrt(22))));
  });

  it('follows Student\'s t for 30 and 99 degrees of freedom, the most seeds simulate takes (2.042, 1.984)', () => {
    for (const [n, t] of [[31, 2.042], [100, 1.984]] as const) {
      const s = spread(Array.from({ length: n }, (_, i) => i % 2));
      assert.ok(Math.abs(s.ci95 / (s.sd / Math.sqrt(n)) - t) < 0.001, `${n} seeds: ${s.ci95 / (s.sd / Math.sqrt(n))}`);
    }
  });
});

describe('runExperiment', () => {
  const hosts = syntheticHosts(6);
  const input = {
    hosts,
    workload: (seed: number) => generateWorkload(hosts, { jobs: 150, utilisation: 0.9 }, seed),
    policies: standardPolicies({ d: 5, t: 45 }, [10]),
    seeds: [1, 2],
  };

  it('runs every policy on the same jobs per seed and says why the typed one cannot run', () => {
    const r = runExperiment({ ...input, ranker: busyRanker });
    assert.equal(r.typedAvailable, false);
    const typed = r.policies.find((p) => p.kind === 'typed')!;
    assert.equal(typed.unavailable, 'unavailable: model has no typed ranks');
    assert.equal(typed.runs.length, 0);
    for (const p of r.policies.filter((x) => x.kind !== 'typed')) assert.deepEqual(p.runs.map((x) => x.jobs), [150, 150]);
    assert.deepEqual(sweepOf(r).map((s) => s.d), [0, 5, 10]);
  });

  it('gives each policy the share of the oracle\'s gain over the default, seed by seed, where the oracle gained', () => {
    const r = runExperiment({ ...input, ranker: typedRanker });
    const get = (k: string) => r.policies.find((p) => p.name === k)!;
    const base = get('default').runs;
    const oracle = get('oracle').runs;
    const random = get('random');
    const expected = random.runs
      .map((x, i) => ({ gain: base[i]!.meanSlowdown - x.meanSlowdown, headroom: base[i]!.meanSlowdown - oracle[i]!.meanSlowdown }))
      .filter((g) => g.headroom > 0)
      .map((g) => g.gain / g.headroom);
    assert.ok(expected.length >= 1);
    assert.equal(random.gainShare!.n, expected.length);
    assert.ok(Math.abs(random.gainShare!.mean - expected.reduce((a, b) => a + b, 0) / expected.length) < 1e-12);
    assert.equal(get('oracle').gainShare!.mean, 1);
    assert.equal(get('typed+D5').runs.length, 2);
    assert.equal(get('typed+D5').cdf!.length, 101);
  });

  it('knows a model with typed ranks from one without', () => {
    assert.equal(typedUnavailable(typedRanker, hosts[0]), undefined);
    assert.equal(typedUnavailable(busyRanker, hosts[0]), 'unavailable: model has no typed ranks');
  });
});

describe('runStats', () => {
  it('gives the mean wait from submission to start, and the 95th percentile of the slowdowns', () => {
    const slowdowns = Array.from({ length: 20 }, (_, i) => 1 + i / 4);
    const outcomes = slowdowns.map((slowdown, i) => ({ id: i + 1, family: 'f', type: 'cpu' as const, host: 'h', submit: 100 + i, start: 105 + i, end: 200 + i, cpuSeconds: 1, slots: 1, threads: 1, ideal: 1, slowdown }));
    const run = { policy: 'p', outcomes, makespan: 300, hosts: [{ name: 'h', cpus: 4, jobs: 20, utilisation: 0.5 }] } as unknown as SimRun;
    const stats = runStats(run, 1, 0.1);
    assert.equal(stats.meanPending, 5);
    assert.equal(stats.p95Slowdown, percentile([...slowdowns], 95));
    assert.notEqual(stats.p95Slowdown, percentile([...slowdowns], 90));
  });
});
