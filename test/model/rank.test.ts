import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { RANK_MAX, TIE_WEIGHT, clampRank, withLoadTieBreak } from '../../src/model/rank.js';
import { featuresFromNamed } from '../../src/model/features.js';
import { loadModel } from '../../src/model/model.js';
import { defaultModelPath } from '../../src/model/rankers.js';
import { referenceClamp } from './reference.js';

describe('clampRank', () => {
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
