// `npm run bench:flood`: what a child elim that floods its output costs the daemon
// (issue 13: `yes "1 floodval 1"` as a child made lavarank use 9.96 CPU s per 10 s
// and 97 MB RSS; docs/reliability.md promises under half a CPU). Runs the built elim
// as LIM would, once alone and once with that child, and prints the daemon's own CPU
// (all its threads, not the child's) per 10 s and its RSS.
//
//   node dist/scripts/bench-flood.js [--interval 1] [--reports 10] [--json]
//
// The daemon reads a flooding child up to FLOOD_BYTES per report, so the shorter the
// interval, the more it reads: 1 s (ten reports per 10 s) is the harsh case; LIM's
// own is 10 s.
import { cpus, loadavg, release } from 'node:os';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { measureDaemon, type DaemonResult } from './bench-daemon.js';

const CLI = resolve(dirname(fileURLToPath(import.meta.url)), '../src/cli.js');
const FLOOD_CONFIG = "elims:\n  - name: yes\n    command: [/usr/bin/yes, '1 floodval 1']\n";

interface Row {
  case: string;
  cpuSecPer10s: number;
  rssMB: number;
  lastLine: string;
}

function row(name: string, r: DaemonResult): Row {
  return { case: name, cpuSecPer10s: (r.cpuMsPerReport * (10 / r.intervalSec)) / 1000, rssMB: r.rssMB, lastLine: r.lastLine };
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { interval: { type: 'string', default: '1' }, reports: { type: 'string', default: '10' }, json: { type: 'boolean', default: false } } });
  const intervalSec = Number(values.interval);
  const reports = Number(values.reports);
  if (!Number.isFinite(intervalSec) || intervalSec <= 0) throw new Error(`--interval must be a positive number of seconds, received ${values.interval}`);
  if (!Number.isInteger(reports) || reports < 1) throw new Error(`--reports must be a positive integer, received ${values.reports}`);
  const alone = row('daemon alone', await measureDaemon({ cliPath: CLI, reports, warmup: 3, intervalSec }));
  const flood = row('with yes "1 floodval 1" as child', await measureDaemon({ cliPath: CLI, reports, warmup: 3, intervalSec, config: FLOOD_CONFIG }));
  if (!flood.lastLine.includes(' floodval 1')) throw new Error(`the flooding child's value did not reach the report: ${flood.lastLine}`);
  if (values.json) {
    process.stdout.write(`${JSON.stringify({ intervalSec, reports, rows: [alone, flood] })}\n`);
    return;
  }
  process.stdout.write(`${cpus().length} CPUs, Linux ${release()}, load ${loadavg().map((l) => l.toFixed(2)).join(' ')}; ${reports} reports at a ${intervalSec} s interval\n`);
  for (const r of [alone, flood]) process.stdout.write(`${r.case.padEnd(34)} ${r.cpuSecPer10s.toFixed(2)} CPU s per 10 s   RSS ${r.rssMB.toFixed(1)} MB\n`);
  process.stdout.write(`limit: 5.00 CPU s per 10 s (half a CPU)\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
