import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { runsOrderCheck, scoreReport, scoreRuns } from '../../scripts/score-model.js';
import { loadModel } from '../../src/model/model.js';
import { clampRank } from '../../src/model/rank.js';
import { PREDICTORS } from '../../src/training/crossval.js';
import { calibrationRows, readCalibrationAsync } from '../../src/training/dataset.js';
import { backboneRank, fitBaselines, withoutPsi } from '../../src/training/train.js';
import { repoRoot, tempDir } from '../helpers.js';

const model = loadModel(join(repoRoot, 'models', 'default.json'), { trust: false });
const rows = calibrationRows((await readCalibrationAsync(join(repoRoot, 'data', 'calibration-epyc-2vcpu.jsonl'))).records);
// Runs of the disk writer's configurations are scored; the baselines learn from the rest.
const scored = rows.filter((r) => r.group?.includes('disk=1') === true);
const train = rows.filter((r) => r.group?.includes('disk=1') !== true);

test('each configuration gets its measured mean and each predictor\'s mean rank over its own runs', () => {
  assert.ok(scored.length > 0 && train.length > 0);
  const r = scoreRuns(model, train, scored);
  assert.equal(r.runs, scored.length);
  assert.equal(r.configs.reduce((n, c) => n + c.runs, 0), scored.length);
  for (const c of r.configs) {
    const own = scored.filter((row) => row.group === c.config);
    assert.equal(own.length, c.runs, c.config);
    const mean = (f: (row: (typeof own)[number]) => number): number => own.reduce((s, row) => s + f(row), 0) / own.length;
    assert.ok(Math.abs(c.measured - mean((row) => clampRank(row.label))) < 1e-9, c.config);
    assert.ok(Math.abs(c.predicted.model - mean((row) => clampRank(model.predict(row)))) < 1e-9, c.config);
    assert.ok(Math.abs(c.predicted.backbone - mean((row) => backboneRank(row.named, model.file.backbone))) < 1e-9, c.config);
  }
  const measured = r.configs.map((c) => c.measured);
  assert.deepEqual(measured, [...measured].sort((a, b) => a - b), 'listed from the least to the most slowed');
});

test('the shipped model, the backbone alone, scores exactly as its backbone row', () => {
  assert.equal(model.file.residual, null);
  const r = scoreRuns(model, train, scored);
  assert.deepEqual(r.mae.backbone, r.mae.model);
  for (const c of r.configs) assert.equal(c.predicted.backbone, c.predicted.model, c.config);
});

test('the MAE of the mean predictor is the mean distance of the runs from the training mean', () => {
  const r = scoreRuns(model, train, scored);
  const meanLabel = fitBaselines(train).meanLabel;
  const expected = scored.reduce((s, row) => s + Math.abs(clampRank(meanLabel) - clampRank(row.label)), 0) / scored.length;
  assert.ok(Math.abs(r.mae.mean.mae - expected) < 1e-9);
  for (const p of PREDICTORS) assert.ok(r.mae[p].lo <= r.mae[p].mae && r.mae[p].mae <= r.mae[p].hi, p);
});

test('the report lists every configuration and every predictor', () => {
  const r = scoreRuns(model, train, scored);
  const text = scoreReport(r);
  for (const c of r.configs) assert.ok(text.includes(`| ${c.config} | ${c.runs} |`), c.config);
  for (const p of PREDICTORS) assert.match(text, new RegExp(`\\| ${p} +\\|`));
});

test('scoring no runs is an error, and the script without --data exits 2 with its usage', () => {
  assert.throws(() => scoreRuns(model, train, []), /no runs to score/);
  const r = spawnSync(process.execPath, [join(repoRoot, 'dist', 'scripts', 'score-model.js')], { encoding: 'utf8' });
  assert.equal(r.status, 2);
  assert.match(r.stderr, /Usage: npm run score-model -- --data FILE/);
});

test('the shipped model, scored on the squeeze runs it was never trained on, beats the ridge and the load line, and ranks swapping far above idle', async () => {
  const squeeze = calibrationRows((await readCalibrationAsync(join(repoRoot, 'data', 'calibration-epyc-2vcpu-squeeze.jsonl'))).records);
  const training = (await Promise.all(['calibration-epyc-2vcpu.jsonl', 'calibration-epyc-2vcpu-broad.jsonl'].map(async (f) => calibrationRows((await readCalibrationAsync(join(repoRoot, 'data', f))).records)))).flat();
  const r = scoreRuns(model, training, squeeze);
  assert.ok(r.mae.model.mae < r.mae.ridge.mae, `model ${r.mae.model.mae} against ridge ${r.mae.ridge.mae}`);
  assert.ok(r.mae.model.mae < r.mae.loadOnly.mae, `model ${r.mae.model.mae} against the load line ${r.mae.loadOnly.mae}`);
  const idle = r.configs.find((c) => c.config === 'cpu=0 membw=0 mem=0 disk=0 squeeze=0');
  const swapping = r.configs.find((c) => c.config === 'cpu=0 membw=0 mem=0 disk=0 squeeze=2');
  assert.ok(idle !== undefined && swapping !== undefined);
  assert.ok(swapping.measured > 50 && swapping.predicted.model > idle.predicted.model + 50, `swapping ranks ${swapping.predicted.model}, idle ${idle.predicted.model}`);
});

test('scored as a host without PSI would send them, the squeeze runs still rank swapping far above idle, and the model still beats the ridge and the load line', async () => {
  const squeeze = calibrationRows((await readCalibrationAsync(join(repoRoot, 'data', 'calibration-epyc-2vcpu-squeeze.jsonl'))).records).map(withoutPsi);
  assert.ok(squeeze.every((r) => r.named['psi_mem_some'] === null && r.named['psi_io_some'] === null));
  const training = (await Promise.all(['calibration-epyc-2vcpu.jsonl', 'calibration-epyc-2vcpu-broad.jsonl'].map(async (f) => calibrationRows((await readCalibrationAsync(join(repoRoot, 'data', f))).records)))).flat();
  const r = scoreRuns(model, training, squeeze);
  assert.ok(r.mae.model.mae < r.mae.ridge.mae && r.mae.model.mae < r.mae.loadOnly.mae, `model ${r.mae.model.mae}, ridge ${r.mae.ridge.mae}, load line ${r.mae.loadOnly.mae}`);
  const idle = r.configs.find((c) => c.config === 'cpu=0 membw=0 mem=0 disk=0 squeeze=0');
  const swapping = r.configs.find((c) => c.config === 'cpu=0 membw=0 mem=0 disk=0 squeeze=2');
  assert.ok(idle !== undefined && swapping !== undefined);
  assert.ok(swapping.predicted.model > idle.predicted.model + 50, `swapping ranks ${swapping.predicted.model}, idle ${idle.predicted.model}`);
});

test('score-model --without-psi says how it scored the runs', () => {
  const r = spawnSync(process.execPath, [join(repoRoot, 'dist', 'scripts', 'score-model.js'), '--data', join(repoRoot, 'data', 'calibration-epyc-2vcpu-squeeze.jsonl'), '--without-psi'], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /^scored as a host without PSI would send them/m);
  assert.match(r.stdout, /^\| model +\| +\d+\.\d \|/m);
});

test('eval-model and score-model refuse a data file that holds no calibration run, naming it, with status 1', () => {
  const { dir, cleanup } = tempDir();
  try {
    const empty = join(dir, 'empty.jsonl');
    writeFileSync(empty, '');
    const history = join(dir, 'history.jsonl');
    writeFileSync(history, '{"v":2,"ts":1,"host":"h","rank":3}\n');
    for (const [script, file] of [['eval-model.js', empty], ['score-model.js', history]] as const) {
      const r = spawnSync(process.execPath, [join(repoRoot, 'dist', 'scripts', script), '--data', file], { encoding: 'utf8' });
      assert.equal(r.status, 1, `${script}: ${r.stdout}`);
      assert.match(r.stderr, new RegExp(`${file.replaceAll('/', '\\/').replaceAll('.', '\\.')}: no calibration runs in it`));
    }
  } finally {
    cleanup();
  }
});

test('the scored runs are set against r15s:pg: a line on the load as read, and each order\'s share of pairs put as measured', () => {
  const r = scoreRuns(model, train, scored);
  const c = r.defaultOrder;
  assert.ok(c !== undefined, 'calibration rows carry the load as read');
  assert.ok(c.pairs > 0);
  // the mean ranks every run alike: every pair a tie
  assert.equal(c.order.mean.mae, 0.5);
  assert.ok(Math.abs(c.backboneMinusLsfLoadLine.mae - (r.mae.backbone.mae - c.lsfLoadLine.mae)) < 1e-9);
  assert.ok(Math.abs(c.orderBackboneMinusLsfLoad.mae - (c.order.backbone.mae - c.order.lsfLoad.mae)) < 1e-9);
  const text = scoreReport(r);
  assert.match(text, /^line on r15s per CPU, fitted on the training datasets: MAE \d+\.\d \(95 % interval /m);
  assert.match(text, /^\| r15s \(the load as read\) \| 0\.\d{3} \| /m);
  assert.match(text, /^order, backbone minus r15s: [+-]\d\.\d{3} /m);
});

test('without the load as read on every row, no check against r15s is made rather than one on zeros', () => {
  const ranks = Object.fromEntries(PREDICTORS.map((p) => [p, scored.map(() => 0)])) as Record<(typeof PREDICTORS)[number], number[]>;
  const groups = scored.map((row) => row.group ?? '');
  assert.notEqual(runsOrderCheck(ranks, train, scored, groups, 1), undefined);
  const lacking = scored.map((row, i) => (i === 0 ? { ...row, rawLoad1PerCpu: undefined } : row));
  assert.equal(runsOrderCheck(ranks, train, lacking, groups, 1), undefined);
  assert.doesNotMatch(scoreReport(scoreRuns(model, train, lacking)), /r15s/);
});
