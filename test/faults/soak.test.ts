// The simulated day (soak-sim.ts, 8640 ticks) in a process of its own with forced
// GC: after a warm-up, neither the heap nor RSS may grow by a megabyte. The
// real-time run of the built daemon is `npm run soak` (scripts/soak.ts), 10 minutes.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { repoRoot } from '../helpers.js';

const MB = 1024 * 1024;

interface SoakResult {
  ticks: number;
  written: number;
  wallSeconds: number;
  cpuSeconds: number;
  heapGrowthFromHour1: number;
  rssGrowthFromHour1: number;
  heapGrowthFromHour4: number;
  rssGrowthFromHour4: number;
  historyLines: number;
  historyDropped: number;
  modelReloads: number;
  modelSwitches: number;
  points: Array<{ hour: number; heapUsed: number; rss: number }>;
}

describe('a simulated day', () => {
  it('8640 ticks with changing /proc, hourly model reloads, history and log: every report written, heap and RSS flat within 1 MB after warm-up', (t) => {
    const r = spawnSync(
      process.execPath,
      ['--expose-gc', '--max-semi-space-size=1', join(repoRoot, 'dist', 'test', 'faults', 'soak-sim.js'), '8640'],
      { encoding: 'utf8', timeout: 600_000 },
    );
    assert.equal(r.status, 0, r.stderr);
    const s = JSON.parse(r.stdout) as SoakResult;
    const f = (b: number): string => `${(b / MB).toFixed(2)} MB`;
    t.diagnostic(
      `${s.ticks} ticks and ${s.modelReloads} model reloads in ${s.wallSeconds.toFixed(1)} s (${s.cpuSeconds.toFixed(1)} s CPU); ` +
        `heap ${f(s.points[0]!.heapUsed)} -> ${f(s.points.at(-1)!.heapUsed)}, RSS ${f(s.points[0]!.rss)} -> ${f(s.points.at(-1)!.rss)}; ` +
        `growth from hour 1: heap ${f(s.heapGrowthFromHour1)}, RSS ${f(s.rssGrowthFromHour1)}; from hour 4: heap ${f(s.heapGrowthFromHour4)}, RSS ${f(s.rssGrowthFromHour4)}`,
    );
    assert.equal(s.written, 8640);
    assert.equal(s.historyLines, 8640);
    assert.equal(s.historyDropped, 0);
    assert.equal(s.modelSwitches, 23, 'the hourly model replacements were not all taken');
    assert.ok(s.heapGrowthFromHour1 < MB, `heap grew ${f(s.heapGrowthFromHour1)} from hour 1`);
    assert.ok(s.heapGrowthFromHour4 < MB, `heap grew ${f(s.heapGrowthFromHour4)} from hour 4`);
    assert.ok(s.rssGrowthFromHour4 < MB, `RSS grew ${f(s.rssGrowthFromHour4)} from hour 4`);
  });
});
