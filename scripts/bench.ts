// `npm run bench`: what lavarank costs the host it runs on, next to the obvious
// alternative. Each section runs in a fresh Node process of its own, so that its
// RSS, heap and child-process counts are its own; this process only starts them
// and prints the table.
//
//   node dist/scripts/bench.js [--json] [--lavarank-samples 2000] [--si-samples 100]
//                              [--model-calls 20000] [--daemon-reports 30] [--daemon-interval 5]
//                              [--daemon-windows 6] [--flat-reports 40] [--flat-interval 2]
//   node dist/scripts/bench.js --section NAME --samples N     (one section, JSON out)
//
// Retrain at scale is measured apart: scripts/bench-retrain.ts (npm run bench:retrain).
//
// A section is a function returning a SectionResult; add one by adding it to SECTIONS.
// The whole daemon is measured apart (scripts/bench-daemon.ts): the built elim, run
// as a child the way LIM runs it (--lite-mode, history on), side by side with the
// reads-only floor (scripts/floor-elim.ts), on this host and on a generated big node
// (scripts/gen-bignode.ts; lavarank keeps its files open there, as on a real node's
// procfs, and, for context, opens them for each read, as a snapshot's), for
// --daemon-reports reports at a --daemon-interval test
// interval cut into --daemon-windows windows (0 reports skips it); then the flatness
// check: both on generated nodes from 2 to 256 CPUs and 1 to 300 block devices
// (--flat-reports reports at --flat-interval; 0 skips it).
import { spawnSync } from 'node:child_process';
import * as childProcess from 'node:child_process';
import { createRequire, syncBuiltinESMExports } from 'node:module';
import { existsSync } from 'node:fs';
import { cpus, release } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { readKernelText } from '../src/collectors/procfs.js';
import { procStatFields } from '../src/util/exec.js';
import { FLAT_TARGET, flatGrowth, flatness, sideBySide, spread, WARMUP_REPORTS, type FlatPoint, type SideBySide } from './bench-daemon.js';
import { median } from '../src/util/stats.js';
import { BIG_NODE, blockDevices, type BigNodeSpec } from './gen-bignode.js';

// USER_HZ: the unit of the children's CPU times in /proc/self/stat. 100 on every
// Linux architecture lavarank runs on (asking `getconf CLK_TCK` would be a fork).
const USER_HZ = 100;

// systeminformation caches disksIO, networkStats and fsStats for 500 ms.
const SI_PACE_MS = 600;

// What one section measured, as the child process reports it to the parent.
export interface SectionResult {
  section: string;
  samples: number;
  cpuMsMedian: number; // this process's CPU (user + system) per sample
  cpuMsP90: number;
  childCpuMsPerSample: number; // CPU of the children it waited for, per sample
  wallMsMedian: number;
  spawnsPerSample: number; // counted by wrapping child_process
  forksPerSampleSystemWide: number; // /proc/stat `processes` delta: every fork on the host, an upper bound
  rssMB: number; // after the run
  heapUsedMB: number;
  notes: string[];
  inference?: InferenceResult; // the model section only
}

// Per-call times of the model, in microseconds (each call timed on its own).
export interface InferenceResult {
  calls: number;
  forwardUsMedian: number; // the network's forward pass over a feature vector
  forwardUsP90: number;
  rankUsMedian: number; // what the daemon does per tick: toFeatures + forward pass
  rankUsP90: number;
  model: string;
}

interface SectionOptions {
  samples: number;
}

type Section = (options: SectionOptions) => Promise<SectionResult>;

// Counts every child process this Node process starts. Async children all go
// through ChildProcess.prototype.spawn (spawn, exec, execFile, fork); the sync
// functions each reach the native spawn once, without calling each other's export.
// Must run before the code under test captures child_process's functions.
function countSpawns(): () => number {
  let count = 0;
  const proto = childProcess.ChildProcess.prototype as unknown as { spawn: (...args: unknown[]) => unknown };
  const asyncSpawn = proto.spawn;
  proto.spawn = function (this: unknown, ...args: unknown[]) {
    count++;
    return asyncSpawn.apply(this, args);
  };
  const cjs = createRequire(import.meta.url)('node:child_process') as Record<string, unknown>;
  for (const name of ['spawnSync', 'execSync', 'execFileSync']) {
    const original = cjs[name] as (...args: unknown[]) => unknown;
    cjs[name] = function (this: unknown, ...args: unknown[]) {
      count++;
      return original.apply(this, args);
    };
  }
  syncBuiltinESMExports();
  return () => count;
}

function forksSinceBoot(): number {
  const m = /^processes (\d+)$/m.exec(readKernelText('bench', '/proc/stat'));
  return Number(m?.[1] ?? Number.NaN);
}

// CPU ms of the children this process has waited for (cutime + cstime).
function childCpuMs(): number {
  const stat = readKernelText('bench', '/proc/self/stat');
  const fields = procStatFields(stat);
  return ((Number(fields[13]) + Number(fields[14])) * 1000) / USER_HZ; // fields 16 and 17 of proc(5)
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? Number.NaN;
}

// Runs sampleOnce `samples` times after `warmup` untimed runs and measures each,
// sleeping paceMs between samples (outside the measured window).
async function measure(
  section: string,
  samples: number,
  warmup: number,
  paceMs: number,
  spawns: () => number,
  sampleOnce: () => unknown,
  notes: string[],
): Promise<SectionResult> {
  const pause = () => (paceMs > 0 ? new Promise((resolve) => setTimeout(resolve, paceMs)) : undefined);
  for (let i = 0; i < warmup; i++) {
    await sampleOnce();
    await pause();
  }
  const cpu: number[] = [];
  const wall: number[] = [];
  const spawnsBefore = spawns();
  const forksBefore = forksSinceBoot();
  const childBefore = childCpuMs();
  for (let i = 0; i < samples; i++) {
    const c0 = process.cpuUsage();
    const w0 = performance.now();
    await sampleOnce();
    const w1 = performance.now();
    const c1 = process.cpuUsage(c0);
    cpu.push((c1.user + c1.system) / 1000);
    wall.push(w1 - w0);
    await pause();
  }
  const forks = forksSinceBoot() - forksBefore;
  const mem = process.memoryUsage();
  return {
    section,
    samples,
    cpuMsMedian: percentile(cpu, 0.5),
    cpuMsP90: percentile(cpu, 0.9),
    childCpuMsPerSample: (childCpuMs() - childBefore) / samples,
    wallMsMedian: percentile(wall, 0.5),
    spawnsPerSample: (spawns() - spawnsBefore) / samples,
    forksPerSampleSystemWide: forks / samples,
    rssMB: mem.rss / 2 ** 20,
    heapUsedMB: mem.heapUsed / 2 ** 20,
    notes,
  };
}

// lavarank's sampler as the daemon runs it over the real /proc and /sys, GPU polling off, logging nowhere.
async function hostSampler() {
  const { createCollectors } = await import('../src/collectors/index.js');
  const { createSampler } = await import('../src/daemon/sampler.js');
  const { systemClock } = await import('../src/util/clock.js');
  const { pino } = await import('pino');
  const log = pino({ level: 'info' }, { write: () => undefined });
  return createSampler({ collectors: createCollectors({ detail: false, gpu: { enabled: false } }), clock: systemClock, log });
}

// lavarank's own sampler over the real /proc and /sys, GPU polling off (this host
// has no nvidia-smi; where it has, that is one child every 30 s, not per tick).
async function lavarankSection({ samples }: SectionOptions): Promise<SectionResult> {
  const spawns = countSpawns();
  const sampler = await hostSampler();
  const result = await measure('lavarank', samples, 50, 0, spawns, () => sampler.sample(), ['gpu disabled', 'steady state: first 50 samples untimed']);
  const failures = sampler.sample().failures;
  if (Object.keys(failures).length > 0) result.notes.push(`failures: ${JSON.stringify(failures)}`);
  sampler.close();
  return result;
}

// The same subsystems through systeminformation, as a collector built on it would ask.
// disksIO, networkStats and fsStats return their cached result when called again
// within 500 ms, so samples are paced 600 ms apart, as a 10 s tick would see them.
async function systeminformationSection({ samples }: SectionOptions): Promise<SectionResult> {
  const spawns = countSpawns();
  const mod = (await import('systeminformation')) as typeof import('systeminformation') & { default?: typeof import('systeminformation') };
  const si = mod.default ?? mod;
  const sampleOnce = () => Promise.all([si.currentLoad(), si.mem(), si.disksIO(), si.networkStats(), si.fsStats()]);
  return measure('systeminformation', samples, 3, SI_PACE_MS, spawns, sampleOnce, [
    'currentLoad + mem + disksIO + networkStats + fsStats per sample',
    `first 3 samples untimed; samples ${SI_PACE_MS} ms apart so that no cached result is returned`,
  ]);
}

// A Node process that loads nothing: the floor under every RSS figure.
async function baselineSection(): Promise<SectionResult> {
  const mem = process.memoryUsage();
  return {
    section: 'node baseline',
    samples: 0,
    cpuMsMedian: 0,
    cpuMsP90: 0,
    childCpuMsPerSample: 0,
    wallMsMedian: 0,
    spawnsPerSample: 0,
    forksPerSampleSystemWide: 0,
    rssMB: mem.rss / 2 ** 20,
    heapUsedMB: mem.heapUsed / 2 ** 20,
    notes: ['empty Node process, for comparison'],
  };
}

// The embedded default model over a real sample of this host: the forward pass
// alone, and rank(sample) as the daemon calls it each tick (features included).
async function modelSection({ samples }: SectionOptions): Promise<SectionResult> {
  const { loadModel } = await import('../src/model/model.js');
  const { defaultModelPath, modelRanker } = await import('../src/model/rankers.js');
  const { toFeatures } = await import('../src/model/features.js');
  const sampler = await hostSampler();
  sampler.sample();
  await new Promise((r) => setTimeout(r, 200));
  const sample = sampler.sample();
  sampler.close();
  const model = loadModel(defaultModelPath(), { trust: false });
  const ranker = modelRanker(model);
  const features = toFeatures(sample);
  const time = (fn: () => unknown): number[] => {
    for (let i = 0; i < 2000; i++) fn();
    const out: number[] = [];
    for (let i = 0; i < samples; i++) {
      const t = performance.now();
      fn();
      out.push((performance.now() - t) * 1000);
    }
    return out;
  };
  const c0 = process.cpuUsage();
  // The forward pass with the backbone: the model's whole computation for one sample.
  const forward = time(() => model.evaluate(features));
  const ranked = time(() => ranker.rank(sample));
  const cpu = process.cpuUsage(c0);
  const mem = process.memoryUsage();
  return {
    section: 'model',
    samples,
    cpuMsMedian: (cpu.user + cpu.system) / 1000 / (2 * samples),
    cpuMsP90: Number.NaN,
    childCpuMsPerSample: 0,
    wallMsMedian: percentile(ranked, 0.5) / 1000,
    spawnsPerSample: 0,
    forksPerSampleSystemWide: 0,
    rssMB: mem.rss / 2 ** 20,
    heapUsedMB: mem.heapUsed / 2 ** 20,
    notes: [`model ${model.id}; each call timed alone after 2000 untimed calls`],
    inference: {
      calls: samples,
      forwardUsMedian: percentile(forward, 0.5),
      forwardUsP90: percentile(forward, 0.9),
      rankUsMedian: percentile(ranked, 0.5),
      rankUsP90: percentile(ranked, 0.9),
      model: model.id,
    },
  };
}

const SECTIONS: Record<string, Section> = {
  baseline: baselineSection,
  lavarank: lavarankSection,
  systeminformation: systeminformationSection,
  model: modelSection,
};

// Runs one section in a fresh Node process and returns its result.
function runSection(name: string, samples: number): SectionResult {
  const child = spawnSync(process.execPath, [fileURLToPath(import.meta.url), '--section', name, '--samples', String(samples)], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
    maxBuffer: 16 * 2 ** 20,
  });
  if (child.status !== 0) throw new Error(`bench section ${name} failed with status ${String(child.status)}`);
  return JSON.parse(child.stdout) as SectionResult;
}

function fmt(value: number, digits = 3): string {
  return Number.isFinite(value) ? value.toFixed(digits) : '-';
}

function modelReport(model: SectionResult): string[] {
  const lines = [''];
  const inf = model.inference;
  if (inf !== undefined) {
    lines.push(
      `model inference (${inf.model}, ${inf.calls} calls each): forward pass ${fmt(inf.forwardUsMedian, 2)} µs median (p90 ${fmt(inf.forwardUsP90, 2)}), ` +
        `rank(sample) with features ${fmt(inf.rankUsMedian, 2)} µs median (p90 ${fmt(inf.rankUsP90, 2)}); target <= 50 µs: ${inf.rankUsMedian <= 50 ? 'met' : 'NOT MET'}`,
    );
  }
  return lines;
}

// The targets of issue 16 for the running elim.
const TARGET_RATIO = 1.5;
const TARGET_RSS_MB = 50;
const TARGET_FIRST_REPORT_S = 2;

function daemonReport(side: SideBySide[]): string[] {
  const first = side[0]?.lavarank;
  if (first === undefined) return [];
  const lines = [
    '',
    `whole elim (dist/src/cli.js run, V8 flags of the installed wrapper, history on, GPU off) next to the reads-only floor ` +
      `(scripts/floor-elim.ts: opens, reads and closes the same files, writes one line; the last two rows: with --keep-open), seven processes side by side; ` +
      `on the generated node, lavarank keeps its files open (--test-keep-open, the files rewritten in place) as it keeps a real node's /proc and /sys, ` +
      `or opens them for each read as it does any file elsewhere (the third row, not a target); test interval ${first.intervalSec} s, ` +
      `${first.reports} reports after ${first.warmupReports}; CPU of all threads per report (${first.cpuSource}), ` +
      `median of ${first.windowsCpuMsPerReport.length} windows (min–max):`,
    '',
    '| host | lavarank ms/report | floor ms/report | ratio | lavarank RSS MB | floor RSS MB | first report s | processes started |',
    '|---|---|---|---|---|---|---|---|',
  ];
  for (const s of side) {
    lines.push(
      `| ${s.host} | ${spread(s.lavarank.windowsCpuMsPerReport, 3)} | ${spread(s.floor.windowsCpuMsPerReport, 3)} | ${spread(s.ratioWindows)} | ` +
        `${fmt(s.lavarank.rssMB, 1)} | ${fmt(s.floor.rssMB, 1)} | ${fmt(s.lavarank.firstReportMs / 1000, 2)} | ${s.lavarank.childrenSeen} |`,
    );
  }
  const misses: string[] = [];
  for (const s of side) {
    if (!s.target) continue;
    const ratio = median(s.ratioWindows);
    if (!(ratio <= TARGET_RATIO)) misses.push(`ratio ${fmt(ratio, 2)} > ${TARGET_RATIO} on ${s.host}`);
    if (!(s.lavarank.rssMB <= TARGET_RSS_MB)) misses.push(`RSS ${fmt(s.lavarank.rssMB, 1)} MB > ${TARGET_RSS_MB} MB on ${s.host}`);
    if (!(s.lavarank.firstReportMs <= TARGET_FIRST_REPORT_S * 1000)) misses.push(`first report after ${fmt(s.lavarank.firstReportMs / 1000, 2)} s on ${s.host}`);
    if (s.lavarank.childrenSeen > 0) misses.push(`${s.lavarank.childrenSeen} child processes seen on ${s.host}`);
  }
  lines.push(
    '',
    `targets (ratio <= ${TARGET_RATIO} on the first two rows, RSS <= ${TARGET_RSS_MB} MB, first report <= ${TARGET_FIRST_REPORT_S} s, 0 processes started per report): ` +
      (misses.length === 0 ? 'met' : `NOT MET: ${misses.join('; ')}`),
    `last reports: ${side.map((s) => `"${s.lavarank.lastLine.trim()}" (${s.host})`).join(', ')}`,
  );
  return lines;
}

// The nodes of the flatness check: CPUs from 2 to 256 with one disk, then block devices
// from 1 to 300 (disks with 4 partitions each) on 2 CPUs.
const FLAT_SPECS: readonly BigNodeSpec[] = [
  ...[2, 32, 128, 256].map((cpus) => ({ cpus, disks: 1, partitions: 0, loops: 0, nics: 1 })),
  { cpus: 2, disks: 2, partitions: 4, loops: 0, nics: 1 },
  { cpus: 2, disks: 20, partitions: 4, loops: 0, nics: 1 },
  { cpus: 2, disks: 60, partitions: 4, loops: 0, nics: 1 },
];

function flatReport(points: FlatPoint[]): string[] {
  const first = points[0]?.lavarank;
  if (first === undefined) return [];
  const lines = [
    '',
    `flatness: generated nodes, lavarank keeping their files open as on procfs and sysfs, four (and their floors, which open them) side by side at a time, test interval ${first.intervalSec} s, ${first.reports} reports after ` +
      `${first.warmupReports}; CPU of all threads per report, median of ${first.windowsCpuMsPerReport.length} windows (min–max):`,
    '',
    '| CPUs | block devices (physical disks) | lavarank ms/report | floor ms/report | lavarank − floor ms | ratio |',
    '|---|---|---|---|---|---|',
  ];
  for (const p of points) {
    const l = p.lavarank.windowsCpuMsPerReport;
    const f = p.floor.windowsCpuMsPerReport;
    lines.push(
      `| ${p.spec.cpus} | ${blockDevices(p.spec)} (${p.spec.disks}) | ${spread(l, 3)} | ${spread(f, 3)} | ${spread(l.map((v, i) => v - (f[i] ?? Number.NaN)), 3)} | ` +
        `${spread(l.map((v, i) => v / (f[i] ?? Number.NaN)))} |`,
    );
  }
  const growth = flatGrowth(points);
  const misses = growth.filter((g) => !(g.growth <= FLAT_TARGET));
  lines.push(
    '',
    `lavarank's cost from the smallest node to the largest: ${growth.map((g) => `${g.from} to ${g.to} ${g.along}, ${fmt(g.fromMs, 2)} to ${fmt(g.toMs, 2)} ms (×${fmt(g.growth, 2)})`).join('; ')}`,
    `target (nearly flat: at most ×${FLAT_TARGET} along each): ` + (misses.length === 0 ? 'met' : `NOT MET along ${misses.map((g) => g.along).join(' and ')}`),
  );
  return lines;
}

function report(results: SectionResult[], lr: SectionResult, si: SectionResult): string {
  const cpuModel = cpus()[0]?.model ?? 'unknown';
  const lines = [
    `lavarank bench, ${new Date().toISOString()}`,
    `host: ${cpus().length} CPUs (${cpuModel}), Linux ${release()}, Node ${process.version}`,
    '',
    '| sampler | samples | CPU ms/sample median (p90) | children CPU ms/sample | wall ms median | spawns/sample | forks/sample host-wide | RSS MB | heap MB |',
    '|---|---|---|---|---|---|---|---|---|',
  ];
  for (const r of results) {
    lines.push(
      `| ${r.section} | ${r.samples} | ${fmt(r.cpuMsMedian)} (${fmt(r.cpuMsP90)}) | ${fmt(r.childCpuMsPerSample, 2)} | ${fmt(r.wallMsMedian)} | ${fmt(r.spawnsPerSample, 2)} | ${fmt(r.forksPerSampleSystemWide, 2)} | ${fmt(r.rssMB, 1)} | ${fmt(r.heapUsedMB, 1)} |`,
    );
  }
  lines.push('');
  lines.push(
    `systeminformation / lavarank: CPU in-process ${fmt(si.cpuMsMedian / lr.cpuMsMedian, 1)}x, ` +
      `CPU with children ${fmt((si.cpuMsMedian + si.childCpuMsPerSample) / (lr.cpuMsMedian + lr.childCpuMsPerSample), 1)}x, ` +
      `spawns ${fmt(si.spawnsPerSample, 1)} vs ${fmt(lr.spawnsPerSample, 1)}, RSS ${fmt(si.rssMB / lr.rssMB, 2)}x`,
  );
  if (si.samples < lr.samples) {
    lines.push(
      `systeminformation ran ${si.samples} samples, not ${lr.samples}: they must be ${SI_PACE_MS} ms apart to miss its cache, ` +
        `and each takes ~${fmt(si.wallMsMedian, 0)} ms of wall time.`,
    );
  }
  const ok = lr.spawnsPerSample === 0 && lr.cpuMsMedian <= 0.5;
  lines.push(`lavarank targets (0 spawns per tick, <= 0.5 ms CPU per sample): ${ok ? 'met' : 'NOT MET'}`);
  for (const r of results) for (const n of r.notes) lines.push(`note (${r.section}): ${n}`);
  return lines.join('\n');
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      section: { type: 'string' },
      samples: { type: 'string' },
      json: { type: 'boolean', default: false },
      'lavarank-samples': { type: 'string', default: '2000' },
      'si-samples': { type: 'string', default: '100' },
      'model-calls': { type: 'string', default: '20000' },
      'daemon-reports': { type: 'string', default: '30' },
      'daemon-interval': { type: 'string', default: '5' },
      'daemon-windows': { type: 'string', default: '6' },
      'flat-reports': { type: 'string', default: '40' },
      'flat-interval': { type: 'string', default: '2' },
    },
  });
  if (values.section !== undefined) {
    const section = SECTIONS[values.section];
    if (section === undefined) throw new Error(`unknown section ${values.section}; known: ${Object.keys(SECTIONS).join(', ')}`);
    const options: SectionOptions = { samples: Number(values.samples ?? '100') };
    const result = await section(options);
    process.stdout.write(`${JSON.stringify(result)}\n`);
    return;
  }
  const base = runSection('baseline', 0);
  const lr = runSection('lavarank', Number(values['lavarank-samples']));
  const si = runSection('systeminformation', Number(values['si-samples']));
  const results = [base, lr, si];
  const model = runSection('model', Number(values['model-calls']));
  const reports = Number(values['daemon-reports']);
  const here = dirname(fileURLToPath(import.meta.url));
  const cliPath = resolve(here, '..', 'src', 'cli.js');
  const floorPath = join(here, 'floor-elim.js');
  let side: SideBySide[] = [];
  if (reports > 0 && existsSync(cliPath)) {
    side = await sideBySide({
      cliPath,
      floorPath,
      spec: BIG_NODE,
      reports,
      warmup: WARMUP_REPORTS,
      windows: Number(values['daemon-windows']),
      intervalSec: Number(values['daemon-interval']),
    });
  }
  let flat: FlatPoint[] = [];
  const flatReports = Number(values['flat-reports']);
  if (flatReports > 0 && existsSync(cliPath)) {
    flat = await flatness({ cliPath, floorPath, specs: [...FLAT_SPECS], reports: flatReports, warmup: WARMUP_REPORTS, windows: 8, intervalSec: Number(values['flat-interval']), together: 4 });
  }
  const text = values.json
    ? JSON.stringify({ samplers: results, model, side, flat }, null, 2)
    : [report(results, lr, si), ...modelReport(model), ...daemonReport(side), ...flatReport(flat)].join('\n');
  process.stdout.write(`${text}\n`);
}

await main();
