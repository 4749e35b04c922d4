import assert from 'node:assert/strict';
import { test } from 'node:test';
import { profileReports, summarizeProfile } from '../../scripts/bench-alloc.js';

interface Frame {
  callFrame: { functionName: string; url: string; lineNumber: number };
  selfSize: number;
  children: Frame[];
}

const frame = (functionName: string, url: string, selfSize: number, children: Frame[] = []): Frame => ({
  callFrame: { functionName, url, lineNumber: 9 },
  selfSize,
  children,
});

test('summarizeProfile sums self sizes by function per report, largest first, without what the counter mover allocated', () => {
  const head = frame('(root)', '', 0, [
    frame('report', 'file:///x/dist/scripts/bench-alloc.js', 100, [
      frame('collect', 'file:///x/dist/src/collectors/disk.js', 4000),
      frame('moveCounters', 'file:///x/dist/scripts/bench-alloc.js', 50_000, [frame('writeFileSync', 'node:fs', 9000)]),
      frame('collect', 'file:///x/dist/src/collectors/disk.js', 2000),
      frame('rank', 'file:///x/dist/src/model/rank.js', 1000),
    ]),
  ]);
  const p = summarizeProfile(head, 10);
  assert.equal(p.totalBytes, 710);
  assert.deepEqual(p.byFunction, [
    ['collect collectors/disk.js:10', 600],
    ['rank model/rank.js:10', 100],
    ['report scripts/bench-alloc.js:10', 10],
  ]);
});

test('profileReports samples what the collectors and the ranker allocate on this host', async () => {
  const p = await profileReports({ procRoot: '/proc', sysRoot: '/sys', reports: 10 });
  assert.ok(p.totalBytes > 1000 && p.totalBytes < 1_000_000, `${p.totalBytes} bytes per report`);
  assert.ok(p.byFunction.some(([name]) => name.includes('collectors/')), JSON.stringify(p.byFunction.slice(0, 5)));
});
