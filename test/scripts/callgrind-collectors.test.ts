import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { callCounts, dumpTotals, formatCounts, spread } from '../../scripts/callgrind-collectors.js';

describe('dumpTotals', () => {
  it('reads the totals of one process’s numbered dumps in number order, not name order', () => {
    const dir = mkdtempSync(join(tmpdir(), 'lavarank-cg-test-'));
    try {
      writeFileSync(join(dir, 'callgrind.out.7.2'), 'version: 1\nsummary: 200\n');
      writeFileSync(join(dir, 'callgrind.out.7.10'), 'version: 1\ntotals: 1000\n');
      writeFileSync(join(dir, 'callgrind.out.7.1'), 'version: 1\nsummary: 100\n');
      writeFileSync(join(dir, 'callgrind.out.7'), 'summary: 5\n'); // the dump at exit
      writeFileSync(join(dir, 'callgrind.out.8.1'), 'summary: 9\n'); // another process
      assert.deepEqual(dumpTotals(dir, 7), [100, 200, 1000]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('callCounts', () => {
  it('gives each collector its calls, taking the first of each pair where there are two dumps a call', () => {
    assert.deepEqual([...callCounts([10, 1, 20, 1, 11, 1, 21, 1], ['cpu', 'disk', 'cpu', 'disk'])], [['cpu', [10, 11]], ['disk', [20, 21]]]);
    assert.deepEqual([...callCounts([10, 20], ['cpu', 'disk'])], [['cpu', [10]], ['disk', [20]]]);
  });

  it('refuses dumps that do not match the calls', () => {
    assert.throws(() => callCounts([1, 2, 3], ['cpu', 'disk']), { message: 'expected 2 dumps, found 3' });
  });
});

describe('spread and formatCounts', () => {
  it('gives the median, least and most', () => {
    assert.deepEqual(spread([5, 1, 3]), { median: 3, min: 1, max: 5 });
    assert.deepEqual(spread([4, 1, 3, 2]), { median: 2.5, min: 1, max: 4 });
  });

  it('leaves the first calls out and sums the means', () => {
    const text = formatCounts('t', new Map([['cpu', [9000, 1000, 3000, 2000]], ['disk', [500, 500, 500, 500]]]), 1);
    assert.equal(text, ['t', '  cpu       median 2.0 k (1.0–3.0)   mean 2.0 k', '  disk      median 0.5 k (0.5–0.5)   mean 0.5 k', '  sum       of the means 2.5 k instructions a report'].join('\n'));
  });
});

describe('formatCounts with each', () => {
  it('lists every counted call after the collector’s line', () => {
    const text = formatCounts('t', new Map([['cpu', [9000, 1000, 3000]]]), 1, true);
    assert.equal(text.split('\n')[2], '            1000 3000');
  });
});
