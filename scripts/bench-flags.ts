// The built elim under other V8 flags, side by side with the flags the installed
// wrapper gives it (src/util/node-flags.ts), on a generated big node whose counters
// move: CPU of all threads per report, as the median and quartiles of single reports
// (a mean over a window hides a few-per-cent change under one slow report), and RSS,
// for several rounds. For trying a flag before changing the wrapper; the figures are
// in docs/collectors.md.
//
//   npm run bench:flags [-- --rounds 3] [--reports 60] [--interval 1]
//                       [--variant 'name=--flag,--flag' ...]
//
// Without --variant: the installed flags, and Sparkplug without the optimiser.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { DAEMON_NODE_FLAGS } from '../src/util/node-flags.js';
import { percentile } from '../src/util/stats.js';
import { advanceCounters, daemonConfig, describeSpec, measureElims, WARMUP_REPORTS, type ElimRun } from './bench-daemon.js';
import { BIG_NODE, generateBigNode } from './gen-bignode.js';

// A set of V8 flags to run the elim with, by name.
export interface FlagVariant {
  name: string;
  flags: string[];
}

// The variants compared when none is given.
export const DEFAULT_VARIANTS: readonly FlagVariant[] = [
  { name: 'installed', flags: [...DAEMON_NODE_FLAGS] },
  { name: 'sparkplug', flags: ['--no-opt', '--no-maglev', '--sparkplug', '--optimize-for-size', '--no-expose-wasm', '--no-memory-reducer', '--single-threaded-gc'] },
];

// Parses "name=--flag,--flag"; throws naming the option and what it received.
export function parseVariant(text: string): FlagVariant {
  const eq = text.indexOf('=');
  const name = eq < 0 ? '' : text.slice(0, eq).trim();
  const flags = eq < 0 ? [] : text.slice(eq + 1).split(',').map((f) => f.trim()).filter((f) => f !== '');
  if (name === '' || flags.length === 0 || flags.some((f) => !f.startsWith('--'))) {
    throw new RangeError(`--variant: expected name=--flag,--flag..., received ${JSON.stringify(text)}`);
  }
  return { name, flags };
}

// One variant's figures in one round.
export interface FlagResult {
  name: string;
  medianMs: number;
  q25Ms: number;
  q75Ms: number;
  meanMs: number;
  rssMB: number;
  lastLine: string;
}

// Runs every variant side by side for `reports` reports after 5, on a generated node, once.
export async function compareFlags(o: { cliPath: string; variants: readonly FlagVariant[]; reports: number; intervalSec: number }): Promise<FlagResult[]> {
  const dir = mkdtempSync(join(tmpdir(), 'lavarank-bench-flags-'));
  try {
    const roots = generateBigNode(join(dir, 'node'), BIG_NODE);
    const runs: ElimRun[] = o.variants.map((v, i) => ({
      label: v.name,
      args: [...v.flags, o.cliPath, 'run', '--test-interval', String(o.intervalSec), '--config', daemonConfig(dir, `v${i}`, roots)],
      cwd: dir,
    }));
    const stop = advanceCounters(roots, BIG_NODE, o.intervalSec);
    try {
      // One window per report: each window is one report's CPU.
      const measured = await measureElims(runs, { reports: o.reports, warmup: WARMUP_REPORTS, windows: o.reports, intervalSec: o.intervalSec, stagger: true });
      return measured.map((m) => {
        const w = m.windowsCpuMsPerReport;
        const sorted = [...w].sort((a, b) => a - b);
        return {
          name: m.label,
          medianMs: percentile(sorted, 50),
          q25Ms: percentile(sorted, 25),
          q75Ms: percentile(sorted, 75),
          meanMs: w.reduce((a, b) => a + b, 0) / w.length,
          rssMB: m.rssMB,
          lastLine: m.lastLine,
        };
      });
    } finally {
      stop();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      rounds: { type: 'string', default: '3' },
      reports: { type: 'string', default: '60' },
      interval: { type: 'string', default: '1' },
      variant: { type: 'string', multiple: true },
    },
  });
  const rounds = Number(values.rounds);
  const reports = Number(values.reports);
  const intervalSec = Number(values.interval);
  if (!Number.isInteger(rounds) || rounds < 1) throw new RangeError(`--rounds: expected a whole number of at least 1, received ${JSON.stringify(values.rounds)}`);
  if (!Number.isInteger(reports) || reports < 4) throw new RangeError(`--reports: expected a whole number of at least 4, received ${JSON.stringify(values.reports)}`);
  if (!(intervalSec >= 0.1 && intervalSec <= 60)) throw new RangeError(`--interval: expected seconds from 0.1 to 60, received ${JSON.stringify(values.interval)}`);
  const variants = values.variant === undefined ? DEFAULT_VARIANTS : values.variant.map(parseVariant);
  const cliPath = resolve(dirname(fileURLToPath(import.meta.url)), '..', 'src', 'cli.js');
  console.log(`lavarank under other V8 flags, ${new Date().toISOString()}: ${describeSpec(BIG_NODE)}, counters moving; side by side, ${reports} reports after 5 at a ${intervalSec} s test interval; CPU of all threads per report`);
  for (const v of variants) console.log(`  ${v.name}: ${v.flags.join(' ')}`);
  console.log('\n| round | variant | median ms/report | q25–q75 | mean | RSS MB |\n|---|---|---|---|---|---|');
  for (let round = 1; round <= rounds; round++) {
    for (const r of await compareFlags({ cliPath, variants, reports, intervalSec })) {
      console.log(`| ${round} | ${r.name} | ${r.medianMs.toFixed(3)} | ${r.q25Ms.toFixed(3)}–${r.q75Ms.toFixed(3)} | ${r.meanMs.toFixed(3)} | ${r.rssMB.toFixed(1)} |`);
    }
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) await main();
