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
