// The embedded default must be what its documented command makes: a change to the
// backbone, the features, the fit or a baseline that moves any byte of it shows here,
// not months later when someone rebuilds it (default#e1075e2c no longer rebuilt from
// its own commit once the fallback formula's no-PSI bound was corrected).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
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
