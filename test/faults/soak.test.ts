// The simulated day (soak-sim.ts, 8640 ticks) as a leak guard: after a warm-up,
// neither the V8 heap nor the memory held by Buffers may grow by a megabyte. Both
// are what the program keeps and barely move from run to run (heap +0.03 MB in
// each of three concurrent runs here). RSS also counts what the allocator keeps and
// moves with the machine's load (-0.3..+0.2 MB in the same runs), so the test only
// refuses gross RSS growth; the 1 MB RSS target is measured by scripts that print
// figures: `npm run soak:day` (this day) and `npm run soak` (the built daemon for
// 10 minutes in real time).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { runSimulatedDay } from './helpers.js';

const MB = 1024 * 1024;
// Gross RSS growth: four times the target. A leak kept in JS objects or Buffers
// fails the first two checks long before; this one catches memory kept natively,
// from about 600 bytes a tick (4 MB over the 7200 ticks after hour 4).
const RSS_GUARD = 4 * MB;

describe('a simulated day', () => {
  it('8640 ticks with changing /proc, hourly model reloads, history and log: every report written, heap and Buffers flat within 1 MB after warm-up, no gross RSS growth', (t) => {
    const s = runSimulatedDay(8640);
    const f = (b: number): string => `${(b / MB).toFixed(2)} MB`;
    t.diagnostic(
      `${s.ticks} ticks and ${s.modelReloads} model reloads in ${s.wallSeconds.toFixed(1)} s (${s.cpuSeconds.toFixed(1)} s CPU); ` +
        `heap ${f(s.points[0]!.heapUsed)} -> ${f(s.points.at(-1)!.heapUsed)}, RSS ${f(s.points[0]!.rss)} -> ${f(s.points.at(-1)!.rss)}; ` +
        `growth from hour 1: heap ${f(s.heapGrowthFromHour1)}, RSS ${f(s.rssGrowthFromHour1)}; ` +
        `from hour 4: heap ${f(s.heapGrowthFromHour4)}, Buffers ${f(s.externalGrowthFromHour4)}, RSS ${f(s.rssGrowthFromHour4)}`,
    );
    assert.equal(s.written, 8640);
    assert.equal(s.historyLines, 8640);
    assert.equal(s.historyDropped, 0);
    assert.equal(s.modelSwitches, 23, 'the hourly model replacements were not all taken');
    assert.ok(s.heapGrowthFromHour1 < MB, `heap grew ${f(s.heapGrowthFromHour1)} from hour 1`);
    assert.ok(s.heapGrowthFromHour4 < MB, `heap grew ${f(s.heapGrowthFromHour4)} from hour 4`);
    assert.ok(s.externalGrowthFromHour4 < MB, `memory outside the heap (Buffers) grew ${f(s.externalGrowthFromHour4)} from hour 4`);
    assert.ok(s.rssGrowthFromHour4 < RSS_GUARD, `RSS grew ${f(s.rssGrowthFromHour4)} from hour 4, more than allocator noise`);
  });
});
