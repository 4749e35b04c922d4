import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { numberOption, parseCommandLine } from '../../src/util/options.js';
import { UsageError } from '../../src/util/errors.js';

describe('numberOption', () => {
  it('gives the fallback when the option was not given, and the number when it is in range', () => {
    assert.equal(numberOption('seed', undefined, 7, { integer: true, min: 0, max: 9 }), 7);
    assert.equal(numberOption('holdout', '0.25', 0.2, { min: 0.05, max: 0.5 }), 0.25);
  });

  it('refuses blank text instead of reading it as 0', () => {
    assert.throws(() => numberOption('seed', ' ', 1, { integer: true, min: 0, max: 9 }), { message: '--seed: expected an integer from 0 to 9, received " "' });
  });

  it('names the option, the kind and range expected, and the text received, as a UsageError (exit status 2)', () => {
    assert.throws(() => numberOption('cpus', '2.5', 1, { integer: true, min: 1, max: 4096, kind: 'a whole number of CPUs' }), (err: unknown) => {
      assert.ok(err instanceof UsageError);
      assert.equal(err.message, '--cpus: expected a whole number of CPUs from 1 to 4096, received "2.5"');
      return true;
    });
    assert.throws(() => numberOption('warmup', '1e9', 30, { min: 0, max: 3600 }), { message: '--warmup: expected a number from 0 to 3600, received "1e9"' });
  });
});

describe('parseCommandLine', () => {
  const options = { acct: { type: 'string' }, hosts: { type: 'string', multiple: true }, json: { type: 'boolean' } } as const;

  it('refuses an option that takes one value given twice with two values, naming both, as a UsageError', () => {
    assert.throws(() => parseCommandLine(['--acct', 'lsb.acct.1', '--acct=lsb.acct'], options), (err: unknown) => {
      assert.ok(err instanceof UsageError);
      assert.equal(err.message, '--acct: given twice, "lsb.acct.1" then "lsb.acct"; it takes one value');
      return true;
    });
  });

  it('takes every value of a repeatable option, a value given twice the same and a flag given twice', () => {
    assert.deepEqual({ ...parseCommandLine(['--hosts', 'a', '--hosts', 'b', '--acct', 'x', '--acct', 'x', '--json', '--json'], options) }, { hosts: ['a', 'b'], acct: 'x', json: true });
  });
});
