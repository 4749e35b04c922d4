import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { crossValEntries, crossValidate, PREDICTORS } from '../../src/training/crossval.js';
import { gateDecision } from '../../src/training/evaluate.js';
import { calibrationRows } from '../../src/training/dataset.js';
import { syntheticCalibration } from '../../src/training/synthetic.js';

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
    assert.deepEqual(crossValEntries(r).map((e) => e.name), ['backbone + network', 'backbone alone', 'ridge regression', 'load-only line', 'mean', 'formula']);
  });
});
