import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { dumpInstructions, installInto, productionPackages } from '../../scripts/count-report.js';
import { repoRoot, tempDir } from '../helpers.js';

describe('count-report', () => {
  it('installs the production packages of the lockfile and leaves out the development ones', () => {
    const lock = {
      packages: {
        '': { name: 'lavarank' },
        'node_modules/pino': { version: '10.0.0' },
        'node_modules/fast-check': { version: '4.0.0', dev: true },
        'node_modules/a/node_modules/b': { version: '1.0.0' },
      },
    };
    assert.deepEqual(productionPackages(lock), ['node_modules/pino', 'node_modules/a/node_modules/b']);
    assert.throws(() => productionPackages({ lockfileVersion: 1 }), /package-lock\.json: no "packages" object/);
  });

  it('copies what an installation holds, and no development package', () => {
    const t = tempDir();
    try {
      installInto(repoRoot, t.dir);
      assert.ok(existsSync(join(t.dir, 'dist/src/cli.js')));
      assert.ok(existsSync(join(t.dir, 'models/default.json')));
      assert.ok(existsSync(join(t.dir, 'node_modules/execa/package.json')));
      assert.equal(existsSync(join(t.dir, 'node_modules/pino')), false); // only the tests and scripts load it
      assert.equal(existsSync(join(t.dir, 'node_modules/typescript')), false);
      assert.equal(existsSync(join(t.dir, 'dist/test')), false);
    } finally {
      t.cleanup();
    }
  });

  it('reads the instructions of a callgrind dump from its totals line, else its summary line', () => {
    assert.equal(dumpInstructions('events: Ir\nsummary: 120\nfn=(1) main\n0 3\ntotals: 24593591\n'), 24593591);
    assert.equal(dumpInstructions('events: Ir\nsummary: 120\n'), 120);
    assert.throws(() => dumpInstructions('events: Ir\n'), /without a totals: or summary: line/);
  });
});
