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

  test('gives a feature that never varies the weight 0, and the mean as intercept', () => {
    const fit = new RidgeFit(3);
    for (const y of [10, 20, 30]) fit.add([0, 0, 0], y);
    const m = fit.solve();
    assert.deepEqual(m.weights, [0, 0, 0]);
    assert.ok(Math.abs(m.intercept - 20) < 1e-9);
  });
});
