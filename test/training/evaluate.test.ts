import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { evalTable, gateDecision, groupBootstrap, groupFolds } from '../../src/training/evaluate.js';

describe('groupFolds', () => {
  const groups = Array.from({ length: 60 }, (_, i) => `g${i % 12}`);

  it('puts every row of a group in the same fold, and deals the groups evenly', () => {
    const fold = groupFolds(groups, 4, 1);
    const foldOf = new Map<string, number>();
    groups.forEach((g, i) => {
      if (foldOf.has(g)) assert.equal(fold[i], foldOf.get(g), `group ${g} split across folds`);
      foldOf.set(g, fold[i]!);
    });
    const perFold = [0, 1, 2, 3].map((f) => [...foldOf.values()].filter((x) => x === f).length);
    assert.deepEqual(perFold, [3, 3, 3, 3]);
  });

  it('gives the same folds for the same seed and other folds for another', () => {
    assert.deepEqual(groupFolds(groups, 4, 7), groupFolds(groups, 4, 7));
    assert.notDeepEqual(groupFolds(groups, 4, 7), groupFolds(groups, 4, 8));
  });
});

describe('groupBootstrap', () => {
  it('gives the mean error and an interval around it that widens when the groups disagree', () => {
    const groups = Array.from({ length: 40 }, (_, i) => `g${i % 10}`);
    const alike = groups.map((_, i) => 10 + (i % 3));
    const apart = groups.map((g) => (Number(g.slice(1)) < 5 ? 1 : 21));
    const a = groupBootstrap(alike, groups, 1);
    const b = groupBootstrap(apart, groups, 1);
    assert.ok(Math.abs(a.mae - alike.reduce((s, x) => s + x, 0) / alike.length) < 1e-12);
    assert.ok(a.lo <= a.mae && a.mae <= a.hi && b.lo <= b.mae && b.mae <= b.hi);
    assert.ok(b.hi - b.lo > 5 * (a.hi - a.lo), `alike ${a.lo}..${a.hi}, apart ${b.lo}..${b.hi}`);
  });
});

describe('groupBootstrap, its interval', () => {
  it('is the 2.5th to 97.5th percentile of the resampled means, not their whole range', () => {
    // ten groups of one row, errors 0..9: the mean of ten draws has sd 2.87 / sqrt(10), so about 4.5 ± 1.78
    const errors = Array.from({ length: 10 }, (_, i) => i);
    for (const seed of [1, 2, 3]) {
      const { mae, lo, hi } = groupBootstrap(errors, errors.map((i) => `g${i}`), seed);
      assert.equal(mae, 4.5);
      assert.ok(Math.abs(lo - 2.72) < 0.3 && Math.abs(hi - 6.28) < 0.3, `seed ${seed}: ${lo}..${hi}`);
    }
  });
});

describe('groupBootstrap, its edge cases', () => {
  it('gives one row\'s error as the mean of one row, and no interval to a single group', () => {
    assert.deepEqual(groupBootstrap([7], ['g'], 1), { mae: 7, lo: 7, hi: 7 });
    assert.deepEqual(groupBootstrap([3, 5], ['g', 'g'], 1), { mae: 4, lo: 4, hi: 4 });
  });

  it('resamples two groups rather than taking them as one', () => {
    const { mae, lo, hi } = groupBootstrap([0, 10], ['a', 'b'], 1);
    assert.equal(mae, 5);
    assert.ok(lo < 5 && hi > 5, `${lo}..${hi}`);
  });

  it('gives groups that all have the same mean error exactly that error as their interval', () => {
    const groups = Array.from({ length: 30 }, (_, i) => `g${i % 6}`);
    assert.deepEqual(groupBootstrap(groups.map(() => 4), groups, 1), { mae: 4, lo: 4, hi: 4 });
  });

  it('draws as many groups as there are into each resample: one bad group of four reaches 22.5 in 5 % of them', () => {
    // Four one-row groups, errors 0, 0, 0 and 30: a resample of four draws holds the bad
    // one three times or more with probability 13/256 (mean 22.5 or 30), four times with
    // 1/256. Three draws would put the 97.5th percentile at 20, five at 18 or 24.
    for (const seed of [1, 2, 3]) assert.equal(groupBootstrap([0, 0, 0, 30], ['a', 'b', 'c', 'd'], seed).hi, 22.5, `seed ${seed}`);
  });
});

describe('gateDecision', () => {
  it('passes a model only when it beats both the backbone alone and the ridge regression, naming what it lost to', () => {
    assert.equal(gateDecision({ model: 40, backbone: 45, ridge: 42 }).pass, true);
    const lost = gateDecision({ model: 40, backbone: 45, ridge: 39 });
    assert.equal(lost.pass, false);
    assert.match(lost.reason, /does not beat the ridge regression \(39\.00\)$/);
    assert.match(gateDecision({ model: 50, backbone: 45, ridge: 50 }).reason, /the backbone alone \(45\.00\) nor the ridge regression \(50\.00\)/);
  });
});

describe('evalTable', () => {
  it('prints one Markdown row per predictor with its MAE and 95 % interval', () => {
    const t = evalTable([{ name: 'backbone alone', interval: { mae: 53.71, lo: 41.4, hi: 71.33 }, note: 'n' }]).split('\n');
    assert.equal(t.length, 3);
    assert.match(t[2]!, /^\| backbone alone \|  53\.7 \|   41\.4 – 71\.3 \| n \|$/);
  });

  it('keeps the first column as wide as its header when every name is shorter', () => {
    const t = evalTable([{ name: 'mean', interval: { mae: 1, lo: 1, hi: 1 }, note: 'n' }]).split('\n');
    assert.deepEqual(t.map((line) => line.indexOf('|', 1)), [12, 12, 12]);
  });
});
