import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { activeSeconds, contentionLabel, cpuEfficiency, familyBaseline, labelSettings } from '../../src/training/label.js';
import { ConfigError } from '../../src/util/errors.js';

const S = labelSettings();

describe('cpuEfficiency', () => {
  test('is CPU seconds per second of run time per slot', () => {
    assert.equal(cpuEfficiency({ wallSec: 100, suspendedSec: 0, cpuSec: 50, slots: 1 }), 0.5);
    assert.equal(cpuEfficiency({ wallSec: 100, suspendedSec: 0, cpuSec: 400, slots: 4 }), 1);
  });

  test('leaves the suspended time out of the run time', () => {
    assert.equal(activeSeconds({ wallSec: 250, suspendedSec: 100 }), 150);
    assert.equal(cpuEfficiency({ wallSec: 250, suspendedSec: 100, cpuSec: 150, slots: 1 }), 1);
  });

  test('is NaN without CPU time or without active time', () => {
    assert.ok(Number.isNaN(cpuEfficiency({ wallSec: 100, suspendedSec: 0, cpuSec: -1, slots: 1 })));
    assert.ok(Number.isNaN(cpuEfficiency({ wallSec: 100, suspendedSec: 100, cpuSec: 10, slots: 1 })));
  });
});

describe('familyBaseline', () => {
  test('is the 90th percentile of the efficiencies, and stable when both halves agree', () => {
    const effs = [0.5, 0.9, 1, 0.6, 0.95, 1, 0.7, 1, 0.8, 0.98];
    const b = familyBaseline(effs, S);
    assert.equal(b.status, 'ok');
    assert.ok(b.status === 'ok' && Math.abs(b.baseline - 1) < 1e-9);
  });

  test('needs minRuns runs', () => {
    assert.deepEqual(familyBaseline([1, 1, 1, 1], S), { status: 'fewRuns', runs: 4 });
    assert.equal(familyBaseline([1, 1, 1, 1], labelSettings({ minRuns: 4 })).status, 'ok');
  });

  test('leaves out a family whose fastest runs keep their CPU under 20 % busy', () => {
    assert.equal(familyBaseline([0.01, 0.02, 0.01, 0.015, 0.012], S).status, 'lowCpu');
    assert.equal(familyBaseline([0.15, 0.16, 0.15, 0.16, 0.15, 0.16], S).status, 'lowCpu');
    assert.equal(familyBaseline([0.25, 0.26, 0.25, 0.26, 0.25, 0.26], S).status, 'ok');
  });

  test('calls a family unstable when its older and newer runs have baselines more than 15 % apart', () => {
    const older = [1, 1, 0.98, 0.99, 1];
    const newer = [0.7, 0.7, 0.69, 0.7, 0.71];
    const b = familyBaseline([...older, ...newer], S);
    assert.equal(b.status, 'unstable');
    assert.ok(b.status === 'unstable' && b.spread > 0.4);
    assert.equal(familyBaseline([...older, ...older.map((e) => e * 0.95)], S).status, 'ok');
  });
});

describe('contentionLabel', () => {
  test('is the percent by which the run fell short of its family\'s efficiency', () => {
    assert.equal(contentionLabel(0.5, 1, S), 100);
    assert.ok(Math.abs((contentionLabel(1 / 1.5, 1, S) ?? NaN) - 50) < 1e-9);
  });

  test('gives 0 to a run more efficient than the baseline', () => {
    assert.equal(contentionLabel(1.2, 1, S), 0);
  });

  test('calls a run slowed beyond 1000 % or more than twice as efficient an outlier', () => {
    assert.equal(contentionLabel(1 / 11.5, 1, S), undefined);
    assert.equal(contentionLabel(1 / 11, 1, S), 1000);
    assert.equal(contentionLabel(2.1, 1, S), undefined);
  });
});

describe('labelSettings', () => {
  test('rejects an option out of range, naming it', () => {
    assert.throws(() => labelSettings({ minRuns: 0 }), (err: unknown) => err instanceof ConfigError && /^minRuns: expected a positive integer, received 0$/.test(err.message));
    assert.throws(() => labelSettings({ baselinePercentile: 101 }), /baselinePercentile: expected 0 to 100, received 101/);
    assert.throws(() => labelSettings({ minRuntimeSec: -1 }), /minRuntimeSec: expected a positive number, received -1/);
  });
});
