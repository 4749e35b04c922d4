import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { crossValEntries, crossValidate, fitLine, ORDER_MIN_GAP, ORDERS, pairOrder, predictAll, PREDICTORS } from '../../src/training/crossval.js';
import { gateDecision } from '../../src/training/evaluate.js';
import { calibrationRows } from '../../src/training/dataset.js';
import { syntheticCalibration } from '../../src/training/synthetic.js';
import { fitBaselines, fitModel } from '../../src/training/train.js';
import { modelFromFile } from '../../src/model/model.js';
import { ConfigError } from '../../src/util/errors.js';

// Synthetic probes in 8 "configurations" by their runnable tasks per CPU.
const rows = calibrationRows(syntheticCalibration({ count: 120, seed: 5 })).map((r) => ({
  ...r,
  group: `load ${Math.min(7, Math.floor(2 * (r.named['runnable_per_cpu'] ?? 0)))}`,
}));

describe('crossValidate', () => {
  it('scores every predictor on every row once per repeat, and decides with gateDecision', async () => {
    const r = await crossValidate(rows, { epochs: 20, chunk: 10, hiddenLayers: [4] }, { folds: 4, repeats: 2, seed: 1 });
    assert.equal(r.rows, rows.length);
    assert.equal(r.groups, new Set(rows.map((x) => x.group)).size);
    for (const p of PREDICTORS) {
      assert.equal(r.perRepeat[p].length, 2, p);
      assert.ok(r.mae[p].lo <= r.mae[p].mae && r.mae[p].mae <= r.mae[p].hi, p);
      // The MAE over all rows is the mean of the repeats' MAEs, each over all rows.
      assert.ok(Math.abs(r.mae[p].mae - (r.perRepeat[p][0]! + r.perRepeat[p][1]!) / 2) < 1e-9, p);
    }
    assert.deepEqual(r.gate, gateDecision({ model: r.mae.model.mae, backbone: r.mae.backbone.mae, ridge: r.mae.ridge.mae }));
    assert.ok(r.mae.ridge.mae < r.mae.mean.mae, 'the ridge regression learnt something');
    // paired by row over the same rows, the mean difference is the difference of the MAEs
    assert.ok(Math.abs(r.difference.ridge.mae - (r.mae.model.mae - r.mae.ridge.mae)) < 1e-9);
    assert.ok(Math.abs(r.difference.backbone.mae - (r.mae.model.mae - r.mae.backbone.mae)) < 1e-9);
    // each repeat deals the groups into folds anew
    assert.notEqual(r.perRepeat.mean[0], r.perRepeat.mean[1]);
    assert.deepEqual(crossValEntries(r).map((e) => e.name), ['backbone + network', 'backbone alone', 'ridge regression', 'load-only line', 'mean', 'formula']);
  });
});

describe('crossValidate, the backbone against the ridge', () => {
  it('gives the backbone alone minus the ridge, paired by row, not the network\'s difference', async () => {
    // What ships when the network fails the gate is the backbone: its margin over the ridge is its own.
    const r = await crossValidate(rows, { epochs: 20, chunk: 10, hiddenLayers: [4] }, { folds: 4, repeats: 2, seed: 1 });
    assert.ok(Math.abs(r.backboneMinusRidge.mae - (r.mae.backbone.mae - r.mae.ridge.mae)) < 1e-9);
    assert.ok(r.backboneMinusRidge.lo <= r.backboneMinusRidge.mae && r.backboneMinusRidge.mae <= r.backboneMinusRidge.hi);
  });
});

describe('crossValidate, what each fold trains on', () => {
  it('fits every predictor without the rows of the fold it is tested on', async () => {
    // Two configurations, two folds: each is predicted by predictors fitted on the other alone,
    // so the mean predictor is off by exactly 100 on every row; fitted on all rows it would be off by 50.
    const two = rows.slice(0, 40).map((r, i) => ({ ...r, group: i < 20 ? 'A' : 'B', label: i < 20 ? 0 : 100 }));
    const r = await crossValidate(two, { epochs: 2, chunk: 10, hiddenLayers: [2] }, { folds: 2, repeats: 1, seed: 1 });
    assert.equal(r.groups, 2);
    assert.equal(r.mae.mean.mae, 100);
  });
});

describe('crossValidate, with nothing to hold out', () => {
  it('refuses rows of one configuration rather than score every predictor 0', async () => {
    // One group: every fold's training part would be empty, its rows scored by nothing.
    const one = rows.slice(0, 40).map((r) => ({ ...r, group: 'cpu=1 membw=0 mem=0 disk=0 squeeze=0' }));
    await assert.rejects(
      crossValidate(one, { epochs: 2, chunk: 10, hiddenLayers: [2] }, { folds: 5, repeats: 1, seed: 1 }),
      (err: unknown) => err instanceof ConfigError && /at least 2 stressor configurations.*the 40 rows have 1$/.test(err.message),
    );
  });
});

describe('predictAll, the backbone alone', () => {
  it('is ranked as the daemon ranks a model of the backbone alone, load tie-break included', async () => {
    // What ships when the network fails the gate: the same backbone, no network.
    const { model } = await fitModel(rows, { correction: false });
    const alone = modelFromFile(model, 'the backbone alone');
    const base = fitBaselines(rows);
    assert.ok(rows.some((r) => (r.named['cpu_busy'] ?? 0) > 0), 'rows with a busy CPU, where the tie-break adds to the rank');
    for (const row of rows) assert.equal(predictAll(alone, base, row).backbone, alone.predict(row));
  });
});

describe('pairOrder', () => {
  it('counts only pairs of different configurations whose labels are at least the gap apart', () => {
    // a and b share a configuration; c is 5 points from a, under the gap; d is far from all.
    const labels = [0, 50, 5, 300];
    const groups = ['A', 'A', 'B', 'C'];
    const { pairs } = pairOrder(labels, [1, 2, 3, 4], groups, 10);
    // a: d only (b same group, c within the gap); b: c, d; c: b, d; d: a, b, c
    assert.deepEqual(pairs, [1, 2, 2, 3]);
  });

  it('gives a pair put in the measured order 1, the reverse order 0 and a tie one half, to both its rows', () => {
    const groups = ['A', 'B'];
    assert.deepEqual(pairOrder([0, 100], [1, 9], groups).right, [1, 1]);
    assert.deepEqual(pairOrder([0, 100], [9, 1], groups).right, [0, 0]);
    assert.deepEqual(pairOrder([0, 100], [4, 4], groups).right, [0.5, 0.5]);
  });

  it('refuses scores that do not match the labels, naming both counts', () => {
    assert.throws(() => pairOrder([0, 100], [1], ['A', 'B']), (err: unknown) => err instanceof ConfigError && /as many scores and groups as labels \(2\), received 1 and 2/.test(err.message));
  });
});

describe('fitLine', () => {
  it('recovers the line through points on it, and a flat line where x never varies', () => {
    const line = fitLine([0, 1, 2, 4], [3, 5, 7, 11]);
    assert.ok(Math.abs(line.intercept - 3) < 1e-9 && Math.abs(line.slope - 2) < 1e-9, JSON.stringify(line));
    assert.deepEqual(fitLine([2, 2, 2], [1, 2, 3]), { intercept: 2, slope: 0 });
  });
});

describe('crossValidate, against the default order', () => {
  it('scores r15s (the load as read) and every predictor\'s order on the same held-out pairs, a constant at exactly a coin', async () => {
    assert.ok(rows.every((r) => r.rawLoad1PerCpu !== undefined), 'calibration rows carry the load as read');
    const r = await crossValidate(rows, { epochs: 20, chunk: 10, hiddenLayers: [4] }, { folds: 4, repeats: 2, seed: 1 });
    const c = r.defaultOrder;
    assert.ok(c !== undefined);
    assert.deepEqual(Object.keys(c.order).sort(), [...ORDERS].sort());
    // the mean ranks every run alike: every pair a tie
    assert.equal(c.order.mean.mae, 0.5);
    assert.ok(c.pairs > 0 && c.rowsPaired > 0 && c.rowsPaired <= rows.length);
    // the synthetic label rises with the load: its raw order is better than a coin
    assert.ok(c.order.lsfLoad.mae > 0.5, String(c.order.lsfLoad.mae));
    // paired by row over the same rows, the mean difference is the difference of the MAEs
    assert.ok(Math.abs(c.backboneMinusLoadOnly.mae - (r.mae.backbone.mae - r.mae.loadOnly.mae)) < 1e-9);
    assert.ok(Math.abs(c.backboneMinusLsfLoadLine.mae - (r.mae.backbone.mae - c.lsfLoadLine.mae)) < 1e-9);
    assert.ok(Math.abs(c.orderBackboneMinusLsfLoad.mae - (c.order.backbone.mae - c.order.lsfLoad.mae)) < 1e-9);
    assert.ok(Math.abs(c.orderBackboneMinusLoadOnly.mae - (c.order.backbone.mae - c.order.loadOnly.mae)) < 1e-9);
    assert.ok(ORDER_MIN_GAP > 0);
  });

  it('leaves the check out when a row lacks the load as read, rather than score it as 0', async () => {
    const without = rows.map((row, i) => (i === 0 ? { ...row, rawLoad1PerCpu: undefined } : row));
    const r = await crossValidate(without, { epochs: 2, chunk: 10, hiddenLayers: [2] }, { folds: 2, repeats: 1, seed: 1 });
    assert.equal(r.defaultOrder, undefined);
  });
});
