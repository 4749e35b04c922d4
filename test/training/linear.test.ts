import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { linearPredict, RidgeFit } from '../../src/training/linear.js';

describe('RidgeFit', () => {
  test('recovers the line that generated noiseless data', () => {
    const fit = new RidgeFit(2);
    for (let i = 0; i < 50; i++) {
      const x = [i / 50, ((i * 7) % 11) / 11];
      fit.add(x, 3 + 100 * (x[0] ?? 0) - 20 * (x[1] ?? 0));
    }
    const m = fit.solve(1e-9);
    assert.ok(Math.abs(m.intercept - 3) < 1e-4, String(m.intercept));
    assert.ok(Math.abs((m.weights[0] ?? 0) - 100) < 1e-4);
    assert.ok(Math.abs((m.weights[1] ?? 0) + 20) < 1e-4);
    assert.ok(Math.abs(linearPredict(m, [0.5, 0.5]) - 43) < 1e-3);
  });

  test('penalises per row, so that the same lambda shrinks as much on many rows as on few', () => {
    const slope = (rows: number): number => {
      const fit = new RidgeFit(1);
      for (let i = 0; i < rows; i++) fit.add([i / rows], (100 * i) / rows);
      return fit.solve(0.1).weights[0] ?? NaN;
    };
    // x uniform on 0..1 has variance 1/12: the slope shrinks to 100 × (1/12) / (1/12 + 0.1), about 45
    const expected = (100 * (1 / 12)) / (1 / 12 + 0.1);
    for (const rows of [100, 10_000]) assert.ok(Math.abs(slope(rows) - expected) < 1, `${rows} rows: ${slope(rows)}`);
  });

  test('gives a feature that never varies the weight 0, and the mean as intercept', () => {
    const fit = new RidgeFit(3);
    for (const y of [10, 20, 30]) fit.add([0, 0, 0], y);
    const m = fit.solve();
    assert.deepEqual(m.weights, [0, 0, 0]);
    assert.ok(Math.abs(m.intercept - 20) < 1e-9);
  });
});
