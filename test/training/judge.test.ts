import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { featuresFromNamed } from '../../src/model/features.js';
import { judge, notBeaten, pairedDifference, type Candidate } from '../../src/training/judge.js';

const rows = [10, 20, 30, 2000].map((label, i) => ({ features: featuresFromNamed({ cpu_busy: i / 4 }), label }));

describe('judge', () => {
  test('scores every candidate on the same rows against the same labels, clamped to the rank range', () => {
    const seen: number[] = [];
    const candidates: Candidate[] = [
      { name: 'twenty', note: '', predict: () => 20 },
      { name: 'from cpu', note: '', predict: (f) => { seen.push(f.values[0] ?? NaN); return 100 * (f.named['cpu_busy'] ?? 0); } },
      { name: 'absent', note: 'not in this build' },
    ];
    const { verdicts, labels } = judge(candidates, rows, rows.length);
    assert.deepEqual([...labels], [10, 20, 30, 1000]);
    assert.equal(verdicts[0]?.mae, (10 + 0 + 10 + 980) / 4);
    assert.equal(verdicts[1]?.mae, (10 + 5 + 20 + 925) / 4);
    assert.equal(seen.length, 4);
    assert.deepEqual(verdicts[2], { name: 'absent', note: 'not in this build', mae: null, n: 4 });
    assert.ok(verdicts.every((v) => v.n === 4));
  });

  test('refuses a row count other than announced', () => {
    assert.throws(() => judge([], rows, 3), /more than the 3 rows announced/);
    assert.throws(() => judge([], rows, 5), /4 rows, 5 announced/);
  });

  test('clamps each prediction to the rank range before scoring it, as LIM receives ranks', () => {
    const candidates: Candidate[] = [
      { name: 'below', note: '', predict: () => -50 },
      { name: 'above', note: '', predict: () => 5000 },
    ];
    const { verdicts } = judge(candidates, rows, rows.length);
    assert.equal(verdicts[0]?.mae, (10 + 20 + 30 + 1000) / 4);
    assert.equal(verdicts[1]?.mae, (990 + 980 + 970 + 0) / 4);
    assert.deepEqual([...(verdicts[0]?.predictions ?? [])], [0, 0, 0, 0]);
    assert.deepEqual([...(verdicts[1]?.predictions ?? [])], [1000, 1000, 1000, 1000]);
  });
});

describe('pairedDifference', () => {
  test('is the mean of the per-job differences of absolute errors, with its standard error', () => {
    // errors: new 1, 1, 1, 1; installed 2, 4, 2, 4 -> differences -1, -3, -1, -3
    const d = pairedDifference([11, 9, 11, 9], [12, 6, 12, 14], [10, 10, 10, 10]);
    assert.equal(d.mean, -2);
    assert.ok(Math.abs(d.se - Math.sqrt(4 / 3 / 4)) < 1e-12);
  });
});

describe('notBeaten', () => {
  test('lists the available references the new model does not strictly beat', () => {
    assert.deepEqual(notBeaten(5, [{ name: 'linear', mae: 5 }, { name: 'backbone', mae: null }, { name: 'x', mae: 6 }]), [{ name: 'linear', mae: 5 }]);
  });
});
