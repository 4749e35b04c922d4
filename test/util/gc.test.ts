import assert from 'node:assert/strict';
import { test } from 'node:test';
import { collectGarbage } from '../../src/util/gc.js';

test('collectGarbage does nothing when Node was started without --expose-gc', () => {
  const g = globalThis as { gc?: unknown };
  const saved = g.gc;
  delete g.gc;
  try {
    assert.equal(collectGarbage(), undefined);
  } finally {
    if (saved !== undefined) g.gc = saved;
  }
});

test('collectGarbage runs the exposed collection twice and gives the resident set before and after', () => {
  const g = globalThis as { gc?: unknown };
  const saved = g.gc;
  let calls = 0;
  g.gc = () => calls++;
  try {
    const settled = collectGarbage();
    assert.equal(calls, 2);
    assert.ok(settled !== undefined && settled.rssBefore > 0 && settled.rssAfter > 0, JSON.stringify(settled));
  } finally {
    if (saved === undefined) delete g.gc;
    else g.gc = saved;
  }
});
