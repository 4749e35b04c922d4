// The embedded default must be what its documented command makes: a change to the
// backbone, the features, the fit or a baseline that moves any byte of it shows here,
// not months later when someone rebuilds it (default#e1075e2c no longer rebuilt from
// its own commit once the fallback formula's no-PSI bound was corrected).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { validationReport } from '../../scripts/train-default.js';
import { gateDecision } from '../../src/training/evaluate.js';
import { repoRoot, tempDir } from '../helpers.js';

test('models/default.json is rebuilt byte for byte by npm run train-default with the date it records', () => {
  const shipped = readFileSync(join(repoRoot, 'models', 'default.json'), 'utf8');
  const date = (JSON.parse(shipped) as { training?: { date?: unknown } }).training?.date;
  assert.equal(typeof date, 'string', 'the default records the date it was trained on');
  const { dir, cleanup } = tempDir();
  try {
    const out = join(dir, 'default.json');
    const run = spawnSync(process.execPath, [join(repoRoot, 'dist', 'scripts', 'train-default.js'), '--date', date as string, '--out', out], { encoding: 'utf8', timeout: 600_000 });
    assert.equal(run.status, 0, run.stderr);
    assert.equal(readFileSync(out, 'utf8'), shipped, 'rebuild the default (npm run train-default -- --date <its date>) and commit it with the change that moved it');
  } finally {
    cleanup();
  }
});

test('the validation report prints the backbone alone minus the ridge, which the docs quote for what ships', () => {
  const iv = (mae: number): { mae: number; lo: number; hi: number } => ({ mae, lo: mae - 1, hi: mae + 1 });
  const maes = { model: iv(44), backbone: iv(43), ridge: iv(50), loadOnly: iv(48), mean: iv(130), formula: iv(78) };
  const text = validationReport({
    rows: 10, groups: 4, folds: 2, repeats: 1, mae: maes,
    perRepeat: { model: [44], backbone: [43], ridge: [50], loadOnly: [48], mean: [130], formula: [78] },
    difference: { ridge: iv(-6), backbone: iv(1) },
    backboneMinusRidge: iv(-7),
    gate: gateDecision({ model: 44, backbone: 43, ridge: 50 }),
  });
  assert.match(text, /^model minus ridge: +-6\.0 /m);
  assert.match(text, /^backbone minus ridge: -7\.0 \(95 % interval -8\.0 – -6\.0\)$/m);
});

test('the validation report prints the check against r15s:pg when the validation made it, and nothing of it otherwise', () => {
  const iv = (mae: number): { mae: number; lo: number; hi: number } => ({ mae, lo: mae - 1, hi: mae + 1 });
  const sh = (x: number): { mae: number; lo: number; hi: number } => ({ mae: x, lo: x - 0.01, hi: x + 0.01 });
  const base = {
    rows: 10, groups: 4, folds: 2, repeats: 1,
    mae: { model: iv(44), backbone: iv(43), ridge: iv(50), loadOnly: iv(48), mean: iv(130), formula: iv(78) },
    perRepeat: { model: [44], backbone: [43], ridge: [50], loadOnly: [48], mean: [130], formula: [78] },
    difference: { ridge: iv(-6), backbone: iv(1) },
    backboneMinusRidge: iv(-7),
    gate: gateDecision({ model: 44, backbone: 43, ridge: 50 }),
  };
  assert.doesNotMatch(validationReport(base), /r15s/);
  const text = validationReport({
    ...base,
    defaultOrder: {
      lsfLoadLine: iv(61.9), backboneMinusLoadOnly: iv(-5.2), backboneMinusLsfLoadLine: iv(-18.7),
      order: { model: sh(0.8), backbone: sh(0.81), ridge: sh(0.77), loadOnly: sh(0.75), mean: sh(0.5), formula: sh(0.7), lsfLoad: sh(0.72) },
      orderBackboneMinusLsfLoad: sh(0.09), orderBackboneMinusLoadOnly: sh(0.006), pairs: 1234, rowsPaired: 9,
    },
  });
  assert.match(text, /^line on r15s per CPU: +MAE 61\.9 \(95 % interval 60\.9 – 62\.9\)$/m);
  assert.match(text, /^backbone minus load-only line: +-5\.2 \(95 % interval -6\.2 – -4\.2\)$/m);
  assert.match(text, /^backbone minus line on r15s: +-18\.7 /m);
  assert.match(text, /^\| r15s \(the load as read\) \| 0\.720 \| 0\.710 – 0\.730 \|$/m);
  assert.match(text, /^\| backbone alone \| 0\.810 \| 0\.800 – 0\.820 \|$/m);
  assert.match(text, /^order, backbone minus r15s: +\+0\.090 \(95 % interval 0\.080 – 0\.100\)$/m);
  assert.match(text, /^order, backbone minus load line: \+0\.006 \(95 % interval -0\.004 – 0\.016\)$/m);
  assert.match(text, /of 1234 pairs/);
});
