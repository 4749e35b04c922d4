import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { describePolicy, parseSweep, standardPolicies, usesRank } from '../../src/simulate/policies.js';

describe('standardPolicies', () => {
  it('lists the default, rank, reservation, typed, accept-interval, random, two-choice and oracle policies, then the sweep', () => {
    const list = standardPolicies({ d: 8, t: 45 }, [2, 8, 20]);
    assert.deepEqual(list.map((p) => p.name), ['default', 'rank', 'rank+D8', 'typed+D8', 'accept1', 'random', 'two-choices', 'oracle', 'rank+D2', 'rank+D20']);
    assert.deepEqual(list.find((p) => p.name === 'rank+D20')!.reservation, { value: 20, duration: 45, decay: 1 });
    assert.equal(list.find((p) => p.name === 'accept1')!.acceptInterval, 1);
  });

  it('says which policies read the rank and what each does', () => {
    const list = standardPolicies({ d: 8, t: 45 }, []);
    assert.deepEqual(list.filter(usesRank).map((p) => p.name), ['rank', 'rank+D8', 'typed+D8', 'accept1', 'two-choices']);
    assert.equal(describePolicy(list[2]!), 'order[rank] rusage[rank=8:duration=45s:decay=1]');
    assert.match(describePolicy(list[0]!), /r15s:pg/);
  });
});

describe('parseSweep', () => {
  it('reads a sorted list without repeats, and refuses anything else', () => {
    assert.deepEqual(parseSweep('20, 5,0,5'), [0, 5, 20]);
    assert.throws(() => parseSweep('5,-1'), /--sweep: expected/);
    assert.throws(() => parseSweep(''), /--sweep/);
  });
});
