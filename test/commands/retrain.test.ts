import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { main, parseRetrainArgs } from '../../src/commands/retrain.js';
import { defaultModelPath } from '../../src/model/rankers.js';
import { EXIT_USAGE } from '../../src/training/retrain.js';
import { ConfigError } from '../../src/util/errors.js';
import { fileDir } from '../helpers.js';

const root = fileDir('lavarank-retrain-cmd-');

describe('parseRetrainArgs', () => {
  test('gives the documented defaults', () => {
    const a = parseRetrainArgs(['--acct', 'a', '--acct', 'b']);
    assert.deepEqual([a.acct, a.history, a.minRuns, a.holdoutFraction, a.seed, a.force, a.dryRun, a.interval], [['a', 'b'], [], 5, 0.2, 1, false, false, undefined]);
  });

  test('names the option, what it expects and what it got', () => {
    assert.throws(() => parseRetrainArgs(['--acct', 'a', '--holdout', '0.9']), { message: '--holdout: expected a number from 0.05 to 0.5, received "0.9"' });
    assert.throws(() => parseRetrainArgs(['--acct', 'a', '--min-runs', '2.5']), { message: '--min-runs: expected an integer from 2 to 1000000, received "2.5"' });
    assert.throws(() => parseRetrainArgs(['--acct', 'a', '--interval', '']), /^UsageError: --interval: expected a number/);
  });

  test('refuses an --out or --report of blanks, naming it', () => {
    for (const name of ['out', 'report']) {
      assert.throws(() => parseRetrainArgs(['--acct', 'a', `--${name}`, '  ']), { name: 'UsageError', message: `--${name}: expected a file name, received ""` });
    }
  });

  test('takes --dry-run, --force and every --calibration given', () => {
    const a = parseRetrainArgs(['--acct', 'a', '--dry-run', '--force', '--calibration', 'c1', '--calibration', 'c2']);
    assert.deepEqual([a.dryRun, a.force, a.calibration], [true, true, ['c1', 'c2']]);
  });

  test('takes --help without an accounting file', () => {
    assert.equal(parseRetrainArgs(['--help']).help, true);
  });

  test('requires an accounting file', () => {
    assert.throws(() => parseRetrainArgs(['--history', 'h']), (err: unknown) => err instanceof ConfigError && /^--acct: expected at least one lsb\.acct/.test(err.message));
  });
});

describe('main', () => {
  test('exits 2 for a bad option value, before reading anything', async () => {
    assert.equal(await main(['--acct', 'x', '--holdout', 'lots']), EXIT_USAGE);
  });

  test('the default output of a config without a model is refused, not the embedded default overwritten', async () => {
    const before = readFileSync(defaultModelPath());
    const config = join(root, 'lavarank.yaml');
    writeFileSync(config, 'interval: 10\n', { mode: 0o644 });
    await assert.rejects(main(['--acct', join(root, 'lsb.acct'), '--history', join(root, 'history'), '--config', config]), /sets no model/);
    assert.deepEqual(readFileSync(defaultModelPath()), before);
  });
});
