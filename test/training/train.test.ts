import assert from 'node:assert/strict';
import { readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { ConfigError } from '../../src/util/errors.js';
import { calibrationRows } from '../../src/training/dataset.js';
import { FEATURE_NAMES, featuresFromNamed, toFeatures } from '../../src/model/features.js';
import { gateDecision } from '../../src/training/evaluate.js';
import { loadModel, modelFromFile, serializeModel } from '../../src/model/model.js';
import { BACKBONE_GRID_POINTS } from '../../src/training/backbone-fit.js';
import { syntheticCalibration } from '../../src/training/synthetic.js';
import {
  chooseOutput,
  fitLoadOnly,
  fitModel,
  fitSettings,
  formulaRank,
  meanAbsoluteError,
  splitHoldout,
  splitValidation,
  trainModel,
  withSeededRandom,
  writeModelFile,
  type TrainingRow,
} from '../../src/training/train.js';
import { formulaRanker } from '../../src/model/rank.js';
import { tempDir } from '../helpers.js';
import { fullSample, randomModelFile } from '../model/helpers.js';

const now = () => new Date('2026-11-28T12:00:00Z');
const rows = calibrationRows(syntheticCalibration({ count: 250, seed: 3 }));
const quick = { epochs: 150, chunk: 50, hiddenLayers: [8], now } as const;

function rowWith(named: Record<string, number>, label: number): TrainingRow {
  const f = featuresFromNamed(named);
  return { values: f.values, mask: f.mask, named: f.named, label };
}

describe('trainModel', () => {
  it('learns the synthetic relation well enough to beat the mean, the load-only fit and the formula on the holdout', async () => {
    const { model, report } = await trainModel(rows, { ...quick, epochs: 300, hiddenLayers: [10] });
    assert.ok(report.holdoutMae < Math.min(report.baselines.mean, report.baselines.loadOnly, report.baselines.formula), JSON.stringify(report));
    assert.ok(report.holdoutMae < 0.5 * report.baselines.mean, JSON.stringify(report));
    assert.equal(model.training.holdoutMae, report.holdoutMae);
    assert.equal(report.trainSamples + report.validationSamples + report.holdoutSamples, rows.length);
  });

  it('decides with gateDecision: the model is good enough only if it beats the backbone alone and the ridge regression', async () => {
    const { report } = await trainModel(rows, quick);
    assert.deepEqual(report.gate, gateDecision({ model: report.holdoutMae, backbone: report.baselines.backbone, ridge: report.baselines.ridge }));
    assert.equal(report.beatsBaselines, report.gate.pass);
  });

  it('keeps every weight of the correction network at or above zero, so more contention never lowers it', async () => {
    const { model } = await trainModel(rows, quick);
    const layers = model.residual?.network.layers ?? [];
    assert.ok(layers.length > 1);
    for (const layer of layers.slice(1)) {
      for (const node of Object.values(layer)) for (const w of Object.values(node.weights ?? {})) assert.ok(w >= 0, String(w));
    }
  });

  it('records the range of every input in training', async () => {
    const { model } = await trainModel(rows, quick);
    const cpus = model.ranges.find((r) => r.feature === 'cpus');
    assert.deepEqual([cpus?.min, cpus?.max], [8, 8], 'the synthetic host has 8 CPUs');
    for (const r of model.ranges) assert.ok(r.lo <= r.hi, r.feature);
  });

  it('gives the same model for the same seed and rows, and another for another seed', async () => {
    const a = await trainModel(rows, { ...quick, seed: 5 });
    const b = await trainModel(rows, { ...quick, seed: 5 });
    const c = await trainModel(rows, { ...quick, seed: 6 });
    assert.equal(serializeModel(a.model), serializeModel(b.model));
    assert.notEqual(JSON.stringify(a.model.residual), JSON.stringify(c.model.residual));
  });

  it('puts Math.random back after seeding it, also when training fails', async () => {
    const original = Math.random;
    await trainModel(rows, { ...quick, epochs: 50 });
    assert.equal(Math.random, original);
    assert.throws(() => withSeededRandom(1, () => { throw new Error('boom'); }), /boom/);
    assert.equal(Math.random, original);
  });

  it('reports progress after every chunk and stops early when aborted, keeping the best epoch', async () => {
    const seen: number[] = [];
    const controller = new AbortController();
    const { report } = await trainModel(rows, {
      ...quick,
      epochs: 1000,
      onProgress: (p) => {
        seen.push(p.epoch);
        if (p.epoch >= 100) controller.abort();
      },
      signal: controller.signal,
    });
    assert.deepEqual(seen, [50, 100]);
    assert.equal(report.epochs, 100);
    assert.ok(report.bestEpoch === 50 || report.bestEpoch === 100);
  });

  it('stops within one grid point of the backbone fit when the signal is already aborted, with a usable backbone-only model', async () => {
    const controller = new AbortController();
    controller.abort();
    const { model, fit } = await fitModel(rows, { ...quick, signal: controller.signal });
    assert.equal(fit.stopped, 'signal');
    assert.equal(fit.backboneGridPoints, 1);
    assert.equal(model.residual, null);
    assert.ok(Number.isFinite(modelFromFile(model, 'stopped').predict(rows[0]!)));
  });

  it('stops at the deadline inside a long backbone fit, however slow one step is', async () => {
    // A clock that moves a minute at every look: every step looks "slow".
    let minutes = 0;
    const clock = (): number => 60_000 * minutes++;
    const { fit } = await fitModel(rows, { ...quick, clock, deadline: 5 * 60_000 });
    assert.equal(fit.stopped, 'deadline');
    // The clock is looked at after each grid point: the sixth look, after the sixth point, is the first at 5 minutes.
    assert.equal(fit.backboneGridPoints, 6);
  });

  it('stops at the deadline in the middle of the first epoch, keeping the network as far as it got', async () => {
    // Each look at the clock is a millisecond. The backbone fit looks between grid points (149 looks); the
    // network's first step (FIRST_STEP_ROWS rows, fewer than the epoch's) looks before it and twice to time it;
    // having "taken" 1 ms it makes the next step the rest of the epoch, but the look before that step is past
    // the deadline.
    const many = calibrationRows(syntheticCalibration({ count: 1500, seed: 4 }));
    let ms = 0;
    const clock = (): number => ms++;
    const { model, fit } = await fitModel(many, { ...quick, clock, deadline: BACKBONE_GRID_POINTS + 1 });
    assert.equal(fit.stopped, 'deadline');
    assert.equal(fit.backboneGridPoints, BACKBONE_GRID_POINTS);
    assert.equal(fit.epochs, 0);
    assert.ok(model.residual !== null, 'the network of the part epoch is kept');
    assert.ok(Number.isFinite(fit.validationMae));
  });

  it('trains the same network in steps of one row as in steps of a whole epoch (brain.js updates row after row)', async () => {
    const few = rows.slice(0, 120);
    const whole = await fitModel(few, { ...quick, epochs: 3, chunk: 3 });
    // A clock that jumps an hour per look makes every step take "too long": one row a step.
    let hours = 0;
    const stepped = await fitModel(few, { ...quick, epochs: 3, chunk: 3, clock: () => 3_600_000 * hours++ });
    assert.ok(hours > 3 * 2 * 100, `${hours} looks at the clock`);
    assert.deepEqual(stepped.model.residual?.network.layers, whole.model.residual?.network.layers);
    assert.equal(stepped.fit.validationMae, whole.fit.validationMae);
  });

  it('records what the model is and how it was made', async () => {
    const { model } = await trainModel(rows, { ...quick, name: 'site', source: ['a.jsonl sha256:00'] });
    assert.equal(model.name, 'site');
    assert.deepEqual(model.features, FEATURE_NAMES);
    assert.equal(model.training.date, '2026-11-28T12:00:00.000Z');
    assert.deepEqual(model.training.source, ['a.jsonl sha256:00']);
    assert.equal(model.training.samples, rows.length);
    assert.equal(model.residual?.network.sizes.join(','), `${FEATURE_NAMES.length},8,1`);
  });

  it('holds out the last rows as given with split "tail" (the newest, for retrain)', () => {
    const items = Array.from({ length: 10 }, (_, i) => i);
    assert.deepEqual(splitHoldout(items, 'tail', 0.3, 1), { train: [0, 1, 2, 3, 4, 5, 6], holdout: [7, 8, 9] });
    const r = splitHoldout(items, 'random', 0.3, 1);
    assert.equal(r.holdout.length, 3);
    assert.deepEqual([...r.train, ...r.holdout].sort((a, b) => a - b), items);
    assert.deepEqual(splitHoldout(items, 'random', 0.3, 1), r);
  });

  it('holds out rows drawn from the whole list with split "random", not the newest', () => {
    const items = Array.from({ length: 100 }, (_, i) => i);
    const { holdout } = splitHoldout(items, 'random', 0.2, 1);
    assert.equal(holdout.length, 20);
    assert.ok(holdout.some((i) => i < 50), `held out ${holdout.join(' ')}`);
  });

  it('refuses too few rows and malformed rows with a message naming the problem', async () => {
    await assert.rejects(trainModel(rows.slice(0, 12), quick), (err: unknown) => err instanceof ConfigError && /too few rows/.test(err.message));
    const bad = [...rows];
    bad[4] = { ...rows[4]!, label: NaN };
    await assert.rejects(trainModel(bad, quick), /training row 4: label is NaN/);
    bad[4] = { ...rows[4]!, values: rows[4]!.values.map(() => 2) };
    await assert.rejects(trainModel(bad, quick), /training row 4: cpu_busy is 2, expected 0..1/);
    await assert.rejects(trainModel(rows, { ...quick, learningRate: 3 }), /learningRate: expected a number from/);
    bad[4] = { ...rows[4]!, label: Infinity };
    await assert.rejects(trainModel(bad, quick), /training row 4: label is Infinity/);
    // enough to train on, but a holdout of 4 rows judges nothing
    await assert.rejects(trainModel(rows.slice(0, 40), { ...quick, holdoutFraction: 0.1 }), /too few rows to train: 40 \(36 to train on, 4 to hold out\)/);
  });
});

describe('the baselines', () => {
  it('fit a straight line on the 1-minute load per CPU by least squares', () => {
    const data = [0.2, 0.5, 1, 1.5, 2].map((load) => rowWith({ load1_per_cpu: load }, 10 + 30 * load));
    const fit = fitLoadOnly(data);
    assert.ok(Math.abs(fit.intercept - 10) < 1e-9 && Math.abs(fit.slope - 30) < 1e-9, JSON.stringify(fit));
  });

  it('compute the formula of src/model/rank.ts from the features', () => {
    const s = fullSample({ busy: 0.4, runnablePerCpu: 0.7 });
    s.memory!.usedFraction = 0.9;
    const f = toFeatures(s);
    assert.ok(Math.abs(formulaRank(f) - formulaRanker().rank(s).rank) < 1e-9);
  });

  it('measure the mean absolute error against labels clamped to the rank range', () => {
    const data = [rowWith({}, -20), rowWith({}, 50), rowWith({}, 2000)];
    assert.equal(meanAbsoluteError(() => 10, data), (10 + 40 + 990) / 3);
    // and predictions clamped too, as LIM receives ranks
    assert.equal(meanAbsoluteError(() => -100, data), (0 + 50 + 1000) / 3);
    assert.equal(meanAbsoluteError(() => 5000, data), (1000 + 950 + 0) / 3);
  });

  it('choose the correction\'s output range from the 1st to the 99th percentile with a quarter of margin, at least -50..50', () => {
    assert.deepEqual(chooseOutput([0, 10, 20]), { rankAtZero: -50, rankAtOne: 50 });
    // 0..100: percentiles 1 and 99, a margin of 24.5, rounded to 5.
    assert.deepEqual(chooseOutput(Array.from({ length: 101 }, (_, i) => i)), { rankAtZero: -50, rankAtOne: 125 });
    assert.deepEqual(chooseOutput(Array.from({ length: 101 }, (_, i) => -3 * i)), { rankAtZero: -370, rankAtOne: 70 });
  });

});

describe('writeModelFile', () => {
  it('writes a file the loader accepts, mode 0644, leaving no temporary file', () => {
    const t = tempDir();
    try {
      const path = join(t.dir, 'model.json');
      writeFileSync(path, 'old');
      writeModelFile(path, randomModelFile());
      assert.equal(loadModel(path).file.name, 'test');
      assert.equal(statSync(path).mode & 0o777, 0o644);
      assert.deepEqual(readdirSync(t.dir), ['model.json']);
    } finally {
      t.cleanup();
    }
  });

  it('writes mode 0644 even under a umask that would take the read bits away', () => {
    const t = tempDir();
    const umask = process.umask(0o077);
    try {
      const path = join(t.dir, 'model.json');
      writeModelFile(path, randomModelFile());
      assert.equal(statSync(path).mode & 0o777, 0o644);
    } finally {
      process.umask(umask);
      t.cleanup();
    }
  });

  it('refuses to write a model the daemon would refuse, leaving the old file alone', () => {
    const t = tempDir();
    try {
      const path = join(t.dir, 'model.json');
      writeFileSync(path, 'old');
      const bad = randomModelFile();
      bad.residual.network.layers[1]!['0']!.bias = NaN;
      assert.throws(() => writeModelFile(path, bad), /bias is null/);
      assert.deepEqual(readdirSync(t.dir), ['model.json']);
    } finally {
      t.cleanup();
    }
  });
});

describe('the synthetic calibration data', () => {
  it('is the same for the same seed and has samples toFeatures can read fully (no GPU)', () => {
    const a = syntheticCalibration({ count: 20, seed: 9 });
    assert.deepEqual(a, syntheticCalibration({ count: 20, seed: 9 }));
    for (const r of a) {
      const f = toFeatures(r.sample);
      assert.equal(f.mask.filter((m) => !m).length, 2);
      assert.ok(Number.isFinite(r.slowdown));
    }
  });

  it('gets slower with more CPU hogs than CPUs, as the rule says', () => {
    const records = syntheticCalibration({ count: 400, seed: 2 });
    const mean = (xs: number[]) => xs.reduce((s, x) => s + x, 0) / xs.length;
    const light = records.filter((r) => (r['stressors'] as { cpuHogs: number }).cpuHogs === 0);
    const heavy = records.filter((r) => (r['stressors'] as { cpuHogs: number }).cpuHogs >= 12);
    // 13 to 16 tasks on 8 CPUs: the CPU half of the probe alone takes 1.6 to 2 times as long.
    assert.ok(mean(heavy.map((r) => r.slowdown)) > mean(light.map((r) => r.slowdown)) + 25);
  });
});

describe('fitSettings (fitModel\'s first stage, called alone)', () => {
  it('fills in the defaults, a chunk of at most the epochs', () => {
    assert.deepEqual(fitSettings({ epochs: 20 }), { seed: 1, epochs: 20, chunk: 20, hiddenLayers: [12, 8], activation: 'sigmoid', learningRate: 0.2, momentum: 0.3, validationFraction: 0.15 });
    assert.equal(fitSettings({}).chunk, 50);
  });

  it('names the first option out of range, in the order the options are checked', () => {
    assert.throws(() => fitSettings({ chunk: 0, hiddenLayers: [0] }), (err: unknown) => err instanceof ConfigError && /^chunk: expected an integer from 1 to 1000000, received 0/.test(err.message));
    assert.throws(() => fitSettings({ hiddenLayers: [8, 513] }), /hiddenLayers\[1\]: expected an integer from 1 to 512, received 513/);
    assert.throws(() => fitSettings({ momentum: 1 }), /momentum: expected a number from 0.000001 to 0.999, received 1/);
  });
});

describe('splitValidation', () => {
  const grouped = Array.from({ length: 60 }, (_, i) => ({ ...rowWith({ cpu_busy: i / 60 }, i), group: `g${i % 6}` }));
  const groupsOf = (rs: readonly TrainingRow[]): Set<string | undefined> => new Set(rs.map((r) => r.group));

  it('holds out whole configurations: no group has rows on both sides, and every row is on one side', () => {
    for (const seed of [1, 2, 3]) {
      const { fitRows, validation } = splitValidation(grouped, 0.2, seed);
      assert.equal(fitRows.length + validation.length, grouped.length);
      assert.ok(validation.length > 0);
      for (const g of groupsOf(validation)) assert.ok(!groupsOf(fitRows).has(g), `seed ${seed}: group ${g} on both sides`);
    }
  });

  it('holds out whole configurations from four configurations on', () => {
    const four = grouped.filter((r) => Number(r.group?.slice(1)) < 4);
    const { fitRows, validation } = splitValidation(four, 0.2, 1);
    assert.equal(groupsOf(validation).size, 1);
    for (const g of groupsOf(validation)) assert.ok(!groupsOf(fitRows).has(g), `group ${g} on both sides`);
  });

  it('holds out configurations until their rows reach the share, and no more', () => {
    // Six configurations of ten rows: a share of 10 rows takes one, of 11 rows two.
    assert.equal(splitValidation(grouped, 10 / 60, 1).validation.length, 10);
    assert.equal(splitValidation(grouped, 11 / 60, 1).validation.length, 20);
  });

  it('validates on one configuration, however small the share, where each is one row', () => {
    const single = grouped.slice(0, 6).map((r, i) => ({ ...r, group: `c${i}` }));
    assert.equal(splitValidation(single, 0.001, 1).validation.length, 1);
  });

  it('leaves at least two configurations to fit on, however large the share', () => {
    const { fitRows } = splitValidation(grouped, 0.95, 1);
    assert.equal(groupsOf(fitRows).size, 2);
  });

  it('with calibration configurations beside a cluster\'s jobs, validates on the share of the jobs too, at random', () => {
    const jobs = Array.from({ length: 1000 }, (_, i) => rowWith({ cpu_busy: (i % 50) / 50 }, i));
    const runs = Array.from({ length: 40 }, (_, i) => ({ ...rowWith({ cpu_busy: 1 }, i), group: `cpu=${i % 8}` }));
    const { fitRows, validation } = splitValidation([...runs, ...jobs], 0.15, 1);
    assert.equal(fitRows.length + validation.length, 1040);
    assert.equal(validation.filter((r) => r.group === undefined).length, 150);
    const held = groupsOf(validation.filter((r) => r.group !== undefined));
    assert.ok(held.size >= 1);
    for (const g of held) assert.ok(!groupsOf(fitRows).has(g), `group ${g} on both sides`);
  });

  it('validates on at least one row, however small the share', () => {
    const ungrouped = grouped.slice(0, 20).map(({ group: _group, ...r }) => r);
    const { fitRows, validation } = splitValidation(ungrouped, 0.001, 1);
    assert.equal(validation.length, 1);
    assert.equal(fitRows.length, 19);
  });
});
