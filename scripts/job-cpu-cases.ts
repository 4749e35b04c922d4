// Prints the rank of hosts whose jobs may use only some of their CPUs (isolcpus=,
// cpu.job_cpus), each next to the plain host a job placed there would see: the real
// cpu, load and pressure collectors read a generated /proc and /sys over one 10 s
// interval, and the default model ranks the sample. docs/model.md quotes its table.
//
//   npm run job-cpu-cases
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { createCpuCollector } from '../src/collectors/cpu.js';
import { createLoadCollector } from '../src/collectors/loadavg.js';
import { createPressureCollector } from '../src/collectors/pressure.js';
import type { Sample } from '../src/collectors/types.js';
import { parseModel } from '../src/model/model.js';
import { modelRanker } from '../src/model/rankers.js';
import { print } from '../src/util/cliio.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

// A host over one interval: each CPU's busy share, the runnable count and 1-minute
// load /proc/loadavg shows, PSI cpu "some" in percent, and what confines jobs.
export interface Case {
  name: string;
  busy: number[];
  runnable: number;
  load1: number;
  psi: number;
  isolated?: string;
  jobCpus?: number[];
  smt?: boolean; // two threads a core: cpuN and cpuN+n/2
}

function writeTree(root: string, files: Record<string, string>): void {
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), text);
  }
}

// /proc/stat after `t` intervals of 10 s at 100 Hz.
function stat(busy: readonly number[], t: number): string {
  const per = busy.map((b) => [Math.round(1000 * b * t), Math.round(1000 * (1 - b) * t)] as const);
  const user = per.reduce((a, p) => a + p[0], 0);
  const idle = per.reduce((a, p) => a + p[1], 0);
  return [`cpu  ${user} 0 0 ${idle} 0 0 0 0 0 0`, ...per.map((p, k) => `cpu${k} ${p[0]} 0 0 ${p[1]} 0 0 0 0 0 0`), 'intr 0', 'processes 1', ''].join('\n');
}

const QUIET = 'some avg10=0.00 avg60=0.00 avg300=0.00 total=0\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=0\n';

// The sample the daemon's collectors take of a case over one interval.
export function sampleOf(c: Case): Sample {
  const root = mkdtempSync(join(tmpdir(), 'lavarank-job-cpus-'));
  try {
    const n = c.busy.length;
    const files: Record<string, string> = {
      'sys/devices/system/cpu/online': `0-${n - 1}\n`,
      'sys/devices/system/cpu/isolated': `${c.isolated ?? ''}\n`,
      'proc/self/status': 'Name:\tnode\n',
      'proc/loadavg': `${c.load1.toFixed(2)} ${c.load1.toFixed(2)} ${c.load1.toFixed(2)} ${c.runnable + 1}/900 12345\n`,
      'proc/pressure/cpu': `some avg10=${c.psi.toFixed(2)} avg60=${c.psi.toFixed(2)} avg300=${c.psi.toFixed(2)} total=1\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=0\n`,
      'proc/pressure/memory': QUIET,
      'proc/pressure/io': QUIET,
      'proc/stat': stat(c.busy, 1),
    };
    if (c.smt === true) {
      for (let k = 0; k < n; k++) files[`sys/devices/system/cpu/cpu${k}/topology/core_cpus_list`] = `${k % (n / 2)},${(k % (n / 2)) + n / 2}\n`;
    }
    writeTree(root, files);
    const options = { procRoot: join(root, 'proc'), sysRoot: join(root, 'sys'), ...(c.jobCpus === undefined ? {} : { jobCpus: c.jobCpus }) };
    const cpu = createCpuCollector(options);
    const load = createLoadCollector(options);
    const pressure = createPressureCollector(options);
    cpu.collect(0);
    pressure.collect(0);
    writeTree(root, { 'proc/stat': stat(c.busy, 2) });
    const sample: Sample = { ts: 0, failures: {} };
    const cpuReading = cpu.collect(10_000);
    const pressureReading = pressure.collect(10_000);
    if (cpuReading !== undefined) sample.cpu = cpuReading;
    sample.load = load.collect(10_000);
    if (pressureReading !== undefined) sample.pressure = pressureReading;
    return sample;
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

const fill = (n: number, f: (i: number) => number): number[] => Array.from({ length: n }, (_, i) => f(i));

// The cases of docs/model.md, each with the plain host it should rank as, where one is.
export const CASES: readonly { host: Case; seen?: Case }[] = [
  {
    host: { name: 'isolcpus=2-63, 4 hogs on CPUs 0-1', busy: fill(64, (i) => (i < 2 ? 1 : 0)), runnable: 4, load1: 4, psi: 100, isolated: '2-63' },
    seen: { name: 'a 2-CPU host with 4 hogs', busy: [1, 1], runnable: 4, load1: 4, psi: 100 },
  },
  { host: { name: 'isolcpus=2-63, one hog on CPU 0', busy: fill(64, (i) => (i < 1 ? 1 : 0)), runnable: 1, load1: 1, psi: 0, isolated: '2-63' } },
  {
    host: { name: 'isolcpus=32-63, a poller on each, one job on each of CPUs 0-31', busy: fill(64, () => 1), runnable: 64, load1: 64, psi: 0, isolated: '32-63' },
    seen: { name: 'a 32-CPU host with 32 jobs', busy: fill(32, () => 1), runnable: 32, load1: 32, psi: 0 },
  },
  { host: { name: 'isolcpus=32-63, a poller on each, CPUs 0-31 idle', busy: fill(64, (i) => (i < 32 ? 0 : 1)), runnable: 32, load1: 32, psi: 0, isolated: '32-63' } },
  { host: { name: 'cpu.job_cpus "0,32" (one core\'s two threads), one hog on CPU 0', busy: fill(64, (i) => (i === 0 ? 1 : 0)), runnable: 1, load1: 1, psi: 0, jobCpus: [0, 32], smt: true } },
  {
    host: { name: 'cpu.job_cpus "2-127", 252 tasks on CPUs 2-127, CPUs 0-1 idle', busy: fill(128, (i) => (i < 2 ? 0 : 1)), runnable: 252, load1: 252, psi: 98, jobCpus: fill(126, (i) => i + 2) },
    seen: { name: 'a 126-CPU host with 252 tasks', busy: fill(126, () => 1), runnable: 252, load1: 252, psi: 100 },
  },
  { host: { name: 'isolcpus=2-63, 300 threads pinned to CPU 63, CPUs 0-1 idle', busy: fill(64, (i) => (i === 63 ? 1 : 0)), runnable: 300, load1: 300, psi: 100, isolated: '2-63' } },
  {
    host: { name: 'isolcpus=32-63, two pinned threads on each, one job on each of CPUs 0-31', busy: fill(64, () => 1), runnable: 96, load1: 96, psi: 50, isolated: '32-63' },
    seen: { name: 'a 32-CPU host with 32 jobs', busy: fill(32, () => 1), runnable: 32, load1: 32, psi: 0 },
  },
  {
    host: { name: 'isolcpus=2-63, 300 threads pinned to CPU 63, CPU 0 busy, CPU 1 half, PSI 100 %', busy: fill(64, (i) => (i === 63 || i === 0 ? 1 : i === 1 ? 0.5 : 0)), runnable: 301, load1: 301, psi: 100, isolated: '2-63' },
    seen: { name: 'a 2-CPU host 75 % busy', busy: [1, 0.5], runnable: 1.5, load1: 1.5, psi: 0 },
  },
  {
    host: { name: 'the same, PSI 40 % as the kernel weights it', busy: fill(64, (i) => (i === 63 || i === 0 ? 1 : i === 1 ? 0.5 : 0)), runnable: 301, load1: 301, psi: 40, isolated: '2-63' },
    seen: { name: 'a 2-CPU host 75 % busy', busy: [1, 0.5], runnable: 1.5, load1: 1.5, psi: 0 },
  },
  {
    host: { name: 'isolcpus=2-63, a poller on each, 8 tasks on CPUs 0-1, PSI as the kernel weights it (2 of 64 busy CPUs wait)', busy: fill(64, () => 1), runnable: 70, load1: 70, psi: (100 * 2) / 64, isolated: '2-63' },
    seen: { name: 'a 2-CPU host with 8 tasks', busy: [1, 1], runnable: 8, load1: 8, psi: 100 },
  },
];

// Prints each case's rank and the features that make it, then the host a job sees.
export function main(): number {
  const ranker = modelRanker(parseModel(readFileSync(join(ROOT, 'models', 'default.json'), 'utf8'), 'models/default.json'));
  const line = (c: Case): string => {
    const r = ranker.rank(sampleOf(c));
    const f = r.features ?? {};
    const num = (name: string): string => (typeof f[name] === 'number' ? (f[name] as number).toFixed(2) : '-');
    return `| ${c.name} | ${r.rank.toFixed(1)} | ${num('cpus')} | ${num('cpu_busy')} | ${num('runnable_per_cpu')} | ${num('load1_per_cpu')} |`;
  };
  print('| host | rank | cpus | cpu_busy | runnable_per_cpu | load1_per_cpu |');
  print('|---|---|---|---|---|---|');
  for (const { host, seen } of CASES) {
    print(line(host));
    if (seen !== undefined) print(line({ ...seen, name: `… a job there sees ${seen.name}` }));
  }
  return 0;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) process.exitCode = main();
