// `npm run soak:day`: the simulated day (test/faults/soak-sim.ts: 8640 ticks at 10 s
// on a fake clock, changing /proc, hourly model reloads, history and log) in a
// process of its own with forced GC and the daemon's Node options, and its memory
// figures printed hour by hour against the 1 MB target. soak.test.ts runs the same day as a leak guard; this is
// where the RSS target is measured, because RSS also counts what the allocator
// keeps and moves with the machine's load (run it on a quiet machine).
//   node dist/scripts/soak-day.js [--ticks 8640] [--json]
// Exits 1 if heap, Buffers or RSS grew by 1 MB or more after hour 4, or a report or
// history line was not written.
import { parseArgs } from 'node:util';
import { numberOption } from '../src/util/options.js';
import { runSimulatedDay } from '../test/faults/helpers.js';

const MB = 1024 * 1024;
const { values: args } = parseArgs({
  options: { ticks: { type: 'string' }, json: { type: 'boolean', default: false } },
  strict: true,
});
// At least five simulated hours: the growth is measured from hour 4.
const ticks = numberOption('ticks', args.ticks, 8640, { integer: true, min: 1800, max: 86_400 });

const r = runSimulatedDay(ticks);
const failures: string[] = [];
const f = (b: number): string => `${(b / MB).toFixed(2)} MB`;
for (const [what, growth] of [
  ['heap', r.heapGrowthFromHour4],
  ['Buffers', r.externalGrowthFromHour4],
  ['RSS', r.rssGrowthFromHour4],
] as const) {
  if (growth >= MB) failures.push(`${what} grew ${f(growth)} after hour 4`);
}
if (r.written !== r.ticks) failures.push(`${r.ticks - r.written} reports not written`);
if (r.historyLines !== r.ticks || r.historyDropped > 0) failures.push(`history: ${r.historyLines} lines, ${r.historyDropped} dropped`);

if (args.json) {
  process.stdout.write(`${JSON.stringify({ ...r, failures })}\n`);
} else {
  const out = (line: string): void => void process.stdout.write(`${line}\n`);
  out(`simulated day: ${r.ticks} ticks, ${r.modelReloads} model reloads in ${r.wallSeconds.toFixed(1)} s (${r.cpuSeconds.toFixed(1)} s CPU)`);
  out('hour   heap MB   Buffers MB   RSS MB');
  for (const p of r.points) {
    out(`${String(p.hour).padStart(4)} ${(p.heapUsed / MB).toFixed(2).padStart(9)} ${(p.external / MB).toFixed(2).padStart(12)} ${(p.rss / MB).toFixed(2).padStart(8)}`);
  }
  out(`growth after hour 4: heap ${f(r.heapGrowthFromHour4)}, Buffers ${f(r.externalGrowthFromHour4)}, RSS ${f(r.rssGrowthFromHour4)} (target < 1 MB each)`);
  out(failures.length === 0 ? 'OK' : `FAILED:\n  ${failures.join('\n  ')}`);
}
process.exitCode = failures.length === 0 ? 0 : 1;
