import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { RANK_MAX, clampRank } from '../../src/model/rank.js';
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
