import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { RANK_MAX, TIE_WEIGHT, clampRank, formulaRanker, withLoadTieBreak } from '../../src/model/rank.js';
import type { Sample } from '../../src/collectors/types.js';
import { featuresFromNamed } from '../../src/model/features.js';
import { loadModel } from '../../src/model/model.js';
import { defaultModelPath } from '../../src/model/rankers.js';
import { referenceClamp } from './reference.js';

describe('clampRank', () => {
  it('caps a rank at 1000, the ceiling the README and pessimistic_rank name, and raises one below 0 to 0', () => {
    assert.equal(clampRank(5000), 1000);
    assert.equal(clampRank(Infinity), 1000);
    assert.equal(clampRank(-3), 0);
  });

  it('gives what Math.min(RANK_MAX, Math.max(RANK_MIN, value)) gives, bit for bit, and RANK_MAX for NaN', () => {
    const edges = fc.constantFrom(0, -0, RANK_MAX, -RANK_MAX, RANK_MAX + 1e-13, 5e-324, -5e-324, NaN, Infinity, -Infinity);
    fc.assert(
      fc.property(fc.oneof(fc.double(), fc.double({ min: -10, max: RANK_MAX + 10 }), edges), (value) => {
        assert.ok(Object.is(clampRank(value), referenceClamp(value)), `${value}: ${clampRank(value)} against ${referenceClamp(value)}`);
      }),
      { numRuns: 5000 },
    );
    assert.ok(Object.is(clampRank(-0), 0));
    assert.equal(clampRank(NaN), RANK_MAX);
  });
});

describe('withLoadTieBreak', () => {
  it('adds TIE_WEIGHT times the busy share, capped at all CPUs busy, and nothing when the share is unknown', () => {
    assert.equal(withLoadTieBreak(0, 0.5), TIE_WEIGHT * 0.5);
    assert.equal(withLoadTieBreak(40, 3), 40 + TIE_WEIGHT);
    assert.equal(withLoadTieBreak(40, 1.5), 40 + TIE_WEIGHT);
    for (const busy of [undefined, null, NaN, 0, -1]) assert.equal(withLoadTieBreak(12, busy), 12, String(busy));
  });

  it('never takes a rank past RANK_MAX', () => {
    assert.equal(withLoadTieBreak(RANK_MAX, 1), RANK_MAX);
    assert.equal(withLoadTieBreak(RANK_MAX - TIE_WEIGHT / 2, 1), RANK_MAX);
  });

  it('ranks a 16-CPU host with half its CPUs busy above an idle one, where processor sharing alone ranks both 0', () => {
    const model = loadModel(defaultModelPath(), { trust: false });
    const host = (busy: number): number => {
      const named = { cpus: 16, cpu_busy: busy, runnable_per_cpu: busy, load1_per_cpu: busy, mem_used: 0.1, psi_cpu_some: 0, psi_io_some: 0, psi_mem_some: 0, psi_mem_full: 0, psi_io_full: 0 };
      const f = featuresFromNamed(named);
      return model.evaluate({ values: f.values, named: f.named }).rank;
    };
    const idle = host(0.01);
    const half = host(0.5);
    assert.ok(idle < half, `${idle} against ${half}`);
    assert.ok(half - idle <= TIE_WEIGHT, 'the tie-break alone tells them apart');
  });
});

describe('formulaRanker', () => {
  const host = (busy: number, runnablePerCpu: number, usedFraction: number): Sample => ({
    ts: 0,
    failures: {},
    cpu: { user: busy, system: 0, iowait: 0, steal: 0, busy, online: 2 },
    load: { load1: 0, load1PerCpu: 0, runnable: 2 * runnablePerCpu, runnablePerCpu, online: 2 },
    memory: { totalBytes: 1, availableBytes: 1 - usedFraction, usedFraction, swapTotalBytes: 0, swapUsedFraction: 0 },
    pressure: { cpuSome: 1, memorySome: 0, memoryFull: 0, ioSome: 0, ioFull: 0 }, // CPU pressure accounts for any runnable count
  });

  it('ranks 100 times the busier of CPU use and runnable tasks per CPU', () => {
    assert.equal(formulaRanker().rank(host(0.3, 0, 0.5)).rank, 30);
    assert.equal(formulaRanker().rank(host(1, 1.5, 0.5)).rank, 150);
  });

  it('adds up to 400 as memory use goes from 80 % to 100 %', () => {
    assert.equal(formulaRanker().rank(host(0.5, 0.5, 0.8)).rank, 50);
    const close = (usedFraction: number, expected: number): void => {
      const rank = formulaRanker().rank(host(0.5, 0.5, usedFraction)).rank;
      assert.ok(Math.abs(rank - expected) < 1e-9, `memory ${usedFraction}: ${rank}, expected ${expected}`);
    };
    close(0.9, 50 + 200);
    close(1, 50 + 400);
  });
});

describe('the load tie-break\'s size', () => {
  it('adds at most 0.1 to the rank of a fully busy host, below what the model resolves, yet 100 steps of LIM\'s 3 decimals', () => {
    assert.equal(withLoadTieBreak(0, 1), 0.1);
  });
});
