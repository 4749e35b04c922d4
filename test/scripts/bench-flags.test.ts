import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DEFAULT_VARIANTS, compareFlags, parseVariant } from '../../scripts/bench-flags.js';
import { DAEMON_NODE_FLAGS } from '../../src/util/node-flags.js';
import { cliPath } from '../helpers.js';

describe('parseVariant', () => {
  it('reads a name and its comma-separated flags', () => {
    assert.deepEqual(parseVariant('jitless=--jitless, --no-memory-reducer'), { name: 'jitless', flags: ['--jitless', '--no-memory-reducer'] });
  });

  it('refuses a variant without a name, without flags or with something that is not a flag, naming the option', () => {
    for (const bad of ['--jitless', '=--jitless', 'x=', 'x=jitless']) {
      assert.throws(() => parseVariant(bad), { message: `--variant: expected name=--flag,--flag..., received ${JSON.stringify(bad)}` });
    }
  });
});

describe('compareFlags', () => {
  it('compares the installed flags with the others by default', () => {
    assert.deepEqual(DEFAULT_VARIANTS[0]?.flags, [...DAEMON_NODE_FLAGS]);
    assert.ok(DEFAULT_VARIANTS.length >= 2);
  });

  it('runs the built elim under each variant side by side on a generated node and measures each report', async () => {
    const results = await compareFlags({
      cliPath,
      variants: [
        { name: 'installed', flags: [...DAEMON_NODE_FLAGS] },
        { name: 'default V8', flags: ['--no-expose-wasm'] },
      ],
      reports: 4,
      intervalSec: 0.2,
    });
    assert.deepEqual(results.map((r) => r.name), ['installed', 'default V8']);
    for (const r of results) {
      assert.match(r.lastLine, /^1 rank \d+(\.\d+)?$/);
      assert.ok(r.q25Ms <= r.medianMs && r.medianMs <= r.q75Ms, JSON.stringify(r));
      assert.ok(r.medianMs > 0 && r.medianMs < 500, JSON.stringify(r));
      assert.ok(r.rssMB > 10 && r.rssMB < 500, JSON.stringify(r));
    }
  });
});
