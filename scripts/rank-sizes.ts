// Prints the rank of the same contention on hosts of 2, 4, 16, 64, 128 and 256 CPUs: each
// state is generated as /proc and /sys files 10 s apart (test/helpers/synthetic-host.ts,
// PSI weighted as the kernel weights it where other CPUs work), read by the real
// collectors and ranked by the default model, with the rank of a CPU-, memory- and
// io-bound job beside it. docs/model.md quotes its table ("The same contention on every size").
//
//   npm run rank-sizes
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseModel } from '../src/model/model.js';
import { modelRanker } from '../src/model/rankers.js';
import type { RankResult } from '../src/model/rank.js';
import { print } from '../src/util/cliio.js';
import { hostSampler, kernelPsi, type HostLayout, type HostState } from '../test/helpers/synthetic-host.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

// The host sizes of the table, in CPUs.
export const SIZES = [2, 4, 16, 64, 128, 256] as const;

// A state of the table: its name, the host of n CPUs in it, whether the host has no PSI,
// and which rank the state is about (the typical job's alone, or a job type's beside it).
export interface SizeCase {
  name: string;
  host: (n: number) => HostState;
  layout?: (n: number) => HostLayout; // the CPUs' own shares, the jobs' CPUs, the disks
  quota?: number; // lavarank's cgroup's CPU quota, its work the host's runnable tasks (none throttled)
  noPsi?: boolean;
  typed?: 'rank_cpu' | 'rank_mem' | 'rank_io';
}

// PSI "some" of one task stalled a share `stall` of its time beside `loops` CPU loops, as
// the kernel weights each CPU by its non-idle time (a task asleep stalled keeps its CPU non-idle).
const beside = (stall: number, loops: number): number => kernelPsi([{ stall, nonIdle: 1 }, ...Array.from({ length: loops }, () => ({ stall: 0, nonIdle: 1 }))]);
const diskBeside = (loops: number): number => kernelPsi([{ stall: 0.99, nonIdle: 0.99 }, ...Array.from({ length: loops }, () => ({ stall: 0, nonIdle: 1 }))]);
// Four tasks waiting for io on an otherwise idle host of n CPUs, each asleep on a CPU of its
// own while there are CPUs (the kernel spreads wake-ups): iowait, PSI io and procs_blocked.
const fourWaiting = (n: number): HostState => ({ cpus: n, iowait: (0.99 * Math.min(4, n)) / n, psiIoSome: kernelPsi(Array.from({ length: Math.min(4, n) }, () => ({ stall: 0.99, nonIdle: 0.99 }))), blocked: 4 });
// Every CPU but the jobs' 0-1 running a loop (cpu.job_cpus "0-1"), four tasks on 0-1.
const twoJobCpus = (n: number): HostLayout => ({ perCpu: Array.from({ length: n }, () => ({ busy: 1 })), jobCpus: [0, 1] });

// The states, each the same per CPU (or per task) on every size.
export const CASES: readonly SizeCase[] = [
  { name: 'idle', host: (n) => ({ cpus: n }) },
  { name: 'every CPU but one busy (PSI cpu 2 %)', host: (n) => ({ cpus: n, runnable: n - 1, psiCpu: 0.02 }) },
  { name: 'every CPU busy, a task each (PSI cpu 5 %)', host: (n) => ({ cpus: n, runnable: n, psiCpu: 0.05 }), typed: 'rank_cpu' },
  { name: 'two tasks per CPU (PSI cpu 90 %)', host: (n) => ({ cpus: n, runnable: 2 * n, psiCpu: 0.9 }), typed: 'rank_cpu' },
  { name: 'four tasks per CPU (PSI cpu 100 %)', host: (n) => ({ cpus: n, runnable: 4 * n, psiCpu: 1 }), typed: 'rank_cpu' },
  { name: 'steal 20 %, a quarter of the CPUs busy', host: (n) => ({ cpus: n, runnable: n / 4, busy: 0.45, steal: 0.2 }), typed: 'rank_cpu' },
  { name: 'PSI memory "some" 0.8', host: (n) => ({ cpus: n, psiMemSome: 0.8 }), typed: 'rank_mem' },
  { name: 'PSI memory "some" 0.9', host: (n) => ({ cpus: n, psiMemSome: 0.9 }), typed: 'rank_mem' },
  { name: 'memory 95 % used', host: (n) => ({ cpus: n, memUsed: 0.95 }), typed: 'rank_mem' },
  { name: 'swapping 100 pages/s a CPU, PSI memory 0.3', host: (n) => ({ cpus: n, swapPagesPerSec: 100 * n, majorFaultsPerSec: 50 * n, psiMemSome: 0.3 }), typed: 'rank_mem' },
  { name: 'swapping 1000 pages/s a CPU, PSI memory 0.3', host: (n) => ({ cpus: n, swapPagesPerSec: 1000 * n, majorFaultsPerSec: 500 * n, psiMemSome: 0.3 }), typed: 'rank_mem' },
  { name: 'one task stalled 90 % in its own memory cgroup (not runnable), alone', host: (n) => ({ cpus: n, busy: 0.1 / n, psiMemSome: beside(0.9, 0) }), typed: 'rank_mem' },
  { name: 'the same beside 1 CPU loop', host: (n) => ({ cpus: n, runnable: 1, busy: 1.1 / n, psiMemSome: beside(0.9, 1) }), typed: 'rank_mem' },
  { name: 'the same beside n/2 CPU loops', host: (n) => ({ cpus: n, runnable: n / 2, busy: (n / 2 + 0.1) / n, psiMemSome: beside(0.9, n / 2) }), typed: 'rank_mem' },
  { name: 'one task keeping a disk saturated, alone', host: (n) => ({ cpus: n, iowait: 0.99 / n, diskBusy: 1, psiIoSome: diskBeside(0) }), typed: 'rank_io' },
  { name: 'the same beside 1 CPU loop', host: (n) => ({ cpus: n, runnable: 1, busy: 1 / n, iowait: 0.99 / n, diskBusy: 1, psiIoSome: diskBeside(1) }), typed: 'rank_io' },
  { name: 'the same beside n/2 CPU loops', host: (n) => ({ cpus: n, runnable: n / 2, busy: 0.5, iowait: 0.99 / n, diskBusy: 1, psiIoSome: diskBeside(n / 2) }), typed: 'rank_io' },
  { name: 'four tasks waiting on one saturated disk', host: fourWaiting, layout: () => ({ disks: [{ busy: 1, queue: 4 }] }), typed: 'rank_io' },
  { name: 'four tasks waiting on NFS', host: fourWaiting, typed: 'rank_io' },
  { name: 'busiest link 95 % of its speed', host: (n) => ({ cpus: n, netUtil: 0.95 }) },
  { name: 'a container of `cpus: 2` running two loops, the machine otherwise idle', host: (n) => ({ cpus: n, runnable: 2, psiCpu: 0 }), quota: 2, typed: 'rank_cpu' },
  { name: 'jobs on CPUs 0-1 (`cpu.job_cpus`), four tasks there, a loop on every other CPU', host: (n) => ({ cpus: n, runnable: n + 2, psiCpu: 2 / n }), layout: twoJobCpus, typed: 'rank_cpu' },
  { name: 'no PSI: one task waiting on NFS (a CPU\'s worth of iowait)', host: (n) => ({ cpus: n, iowait: 1 / n }), noPsi: true, typed: 'rank_io' },
  { name: 'no PSI: four tasks waiting on NFS', host: fourWaiting, noPsi: true, typed: 'rank_io' },
  { name: 'no PSI: 20 % iowait beside 30 % busy, a disk 80 % busy (0.2 × n tasks waiting)', host: (n) => ({ cpus: n, runnable: Math.round(0.3 * n), busy: 0.3, iowait: 0.2, diskBusy: 0.8 }), noPsi: true, typed: 'rank_io' },
  { name: 'no PSI: 150 swapped pages and 150 major faults/s a CPU, half busy', host: (n) => ({ cpus: n, runnable: n / 2, busy: 0.5, swapPagesPerSec: 150 * n, majorFaultsPerSec: 150 * n }), noPsi: true, typed: 'rank_mem' },
  { name: 'no PSI: two tasks per CPU', host: (n) => ({ cpus: n, runnable: 2 * n }), noPsi: true, typed: 'rank_cpu' },
];

// Each case's rank result on each size, through the collectors and the default model.
export function rankSizes(cases: readonly SizeCase[] = CASES, sizes: readonly number[] = SIZES): RankResult[][] {
  const ranker = modelRanker(parseModel(readFileSync(join(ROOT, 'models', 'default.json'), 'utf8'), 'models/default.json'));
  const hosts = hostSampler();
  try {
    return cases.map((c) =>
      sizes.map((n) => {
        const state = c.host(n);
        const sample = hosts.sample(state, c.layout?.(n));
        if (c.noPsi === true) delete sample.pressure;
        if (c.quota !== undefined && sample.cpu !== undefined) {
          const used = state.runnable ?? 0;
          sample.cpu = { ...sample.cpu, quotaCpus: c.quota, quotaUsed: used, quotaThrottled: 0, quotaTasks1: used };
        }
        return ranker.rank(sample);
      }),
    );
  } finally {
    hosts.close();
  }
}

// The table docs/model.md quotes: the rank (and the job type's, where the state names one) on each size, and the spread.
export function sizesTable(cases: readonly SizeCase[] = CASES, sizes: readonly number[] = SIZES, results = rankSizes(cases, sizes)): string {
  const lines = [`| state | ${sizes.map((n) => `${n} CPUs`).join(' | ')} | largest − smallest |`, `|---|${sizes.map(() => '--:|').join('')}--:|`];
  cases.forEach((c, i) => {
    const row = results[i]!;
    const typedOf = (r: RankResult): number => (c.typed === undefined ? NaN : (r.typed?.[c.typed] ?? NaN));
    const cell = (r: RankResult): string => (c.typed === undefined ? r.rank.toFixed(1) : `${r.rank.toFixed(1)} (${typedOf(r).toFixed(1)})`);
    const ranks = row.map((r) => r.rank);
    const typed = c.typed === undefined ? '' : ` (${(Math.max(...row.map(typedOf)) - Math.min(...row.map(typedOf))).toFixed(1)})`;
    lines.push(`| ${c.name}${c.typed === undefined ? '' : `; \`${c.typed}\``} | ${row.map(cell).join(' | ')} | ${(Math.max(...ranks) - Math.min(...ranks)).toFixed(1)}${typed} |`);
  });
  return lines.join('\n');
}

// Prints the table; returns the exit status.
export function main(): number {
  print(sizesTable());
  return 0;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) process.exitCode = main();
