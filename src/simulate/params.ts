// The cluster model's physical parameters: how much slower a job's CPU, memory and
// io phases run beside other work, and what the collectors would see. They come from
// the calibration measurements (data/calibration-epyc-2vcpu.jsonl, docs/calibration.md):
// the probe's three parts (cpu, mem, disk), timed alone and beside known stressors,
// and the samples taken before each probe. Never from the rank model under test.
// deriveClusterParams recomputes them from a dataset; a test checks that CALIBRATED
// is what it gives for the shipped one, and `npm run sim-params` prints the evidence.
import type { CalibrationRecord } from '../training/dataset.js';
import { median } from '../util/stats.js';

// The model's parameters (docs/simulate.md, "The cluster model").
export interface ClusterParams {
  // The probe's CPU part beside h CPU hogs on C CPUs, over processor sharing's
  // max(1, (h + 1) / C): multiplies a CPU phase's time while CPUs are oversubscribed.
  cpuOverhead: number;
  // A memory phase's stretch when every CPU streams memory (the probe's mem part
  // beside the membw hog, over processor sharing of the CPUs they also need).
  memBandwidthStretch: number;
  // Memory used (fraction) from which the host counts as under memory pressure.
  memPressureFrom: number;
  // A memory phase's stretch under memory pressure while CPUs are oversubscribed
  // (the probe's mem part with `mem: high` over the same CPU load without it).
  memPressureStretch: number;
  // An io phase's stretch beside one other continuous io stream (fair sharing of one
  // disk would give 2): the stretch is 1 + (this − 1) × (streams − 1).
  diskShareStretch: number;
  // What the collectors see per continuous io stream: the disk's busy share, PSI io
  // "some", and iowait in CPUs' worth of time (divided by the CPU count in a sample).
  diskBusyPerStream: number;
  psiIoPerStream: number;
  iowaitCpusPerStream: number;
}

// The parameters derived from data/calibration-epyc-2vcpu.jsonl (2-vCPU AMD EPYC VM,
// 305 probe runs of 2026-11-28; clean runs only), rounded to two decimals.
export const CALIBRATED: Readonly<ClusterParams> = Object.freeze({
  cpuOverhead: 1,
  memBandwidthStretch: 1.06,
  memPressureFrom: 0.85,
  memPressureStretch: 1.3,
  diskShareStretch: 1.45,
  diskBusyPerStream: 0.37,
  psiIoPerStream: 0.25,
  iowaitCpusPerStream: 0.59,
});

// Where CALIBRATED comes from, and the evidence for each number.
export const CALIBRATION_SOURCE = 'data/calibration-epyc-2vcpu.jsonl (2-vCPU AMD EPYC VM, clean runs: others used at most 10 % of the CPUs)';

// A run in which other processes used at most this share of the CPUs, before and
// during the probe (docs/calibration.md, "clean").
export const CLEAN_FOREIGN = 0.1;

interface Config {
  cpuHogs: number;
  membw: number;
  mem: number;
  disk: number;
}

interface Run {
  config: Config;
  cpus: number;
  parts: { cpu: number; mem: number; disk: number };
  sample: CalibrationRecord['sample'];
}

// One derived number and the groups of runs it came from.
export interface Derivation {
  value: number;
  from: string[]; // "h=2 membw=1: 1.63 (n=9)" and the like
}

// deriveClusterParams' answer: the parameters and how each was found.
export interface DerivedParams {
  params: ClusterParams;
  evidence: Record<keyof ClusterParams, Derivation> & { memPressureFreeCpu: Derivation };
  runs: number; // clean runs used
}

function asRun(r: CalibrationRecord): Run | undefined {
  const config = r['config'] as Config | undefined;
  const probe = r['probe'] as { parts?: { cpu?: number; mem?: number; disk?: number } } | undefined;
  const foreign = r['foreign'] as { before?: number; during?: number } | undefined;
  const cpus = r['cpus'];
  const parts = probe?.parts;
  if (config === undefined || parts === undefined || foreign === undefined || typeof cpus !== 'number') return undefined;
  if (!(typeof foreign.before === 'number' && foreign.before <= CLEAN_FOREIGN && typeof foreign.during === 'number' && foreign.during <= CLEAN_FOREIGN)) return undefined;
  if (typeof parts.cpu !== 'number' || typeof parts.mem !== 'number' || typeof parts.disk !== 'number') return undefined;
  return { config, cpus, parts: { cpu: parts.cpu, mem: parts.mem, disk: parts.disk }, sample: r.sample };
}

const key = (c: Config): string => `h=${c.cpuHogs} membw=${c.membw} mem=${c.mem} disk=${c.disk}`;

// The model's parameters from calibration records (clean runs only). Throws when the
// dataset lacks the idle runs or the stressor configurations a parameter needs.
export function deriveClusterParams(records: readonly CalibrationRecord[]): DerivedParams {
  const runs = records.map(asRun).filter((r): r is Run => r !== undefined);
  const groups = new Map<string, Run[]>();
  for (const r of runs) {
    const k = key(r.config);
    const g = groups.get(k);
    if (g === undefined) groups.set(k, [r]);
    else g.push(r);
  }
  const group = (c: Config): Run[] => groups.get(key(c)) ?? [];
  const idle = group({ cpuHogs: 0, membw: 0, mem: 0, disk: 0 });
  if (idle.length < 3) throw new RangeError(`calibration data: ${idle.length} clean idle runs, at least 3 needed for the baseline`);
  const base = { cpu: median(idle.map((r) => r.parts.cpu)), mem: median(idle.map((r) => r.parts.mem)), disk: median(idle.map((r) => r.parts.disk)) };
  const ratio = (g: Run[], part: 'cpu' | 'mem' | 'disk'): number => median(g.map((r) => r.parts[part])) / base[part];
  const cpus = median(runs.map((r) => r.cpus));
  const ps = (tasks: number): number => Math.max(1, tasks / cpus);
  const fmt = (x: number): string => x.toFixed(2);

  const collect = (what: string, rows: Array<{ label: string; value: number; n: number }>): Derivation => {
    const usable = rows.filter((r) => Number.isFinite(r.value));
    if (usable.length === 0) throw new RangeError(`calibration data: no clean runs for ${what}`);
    return { value: median(usable.map((r) => r.value)), from: usable.map((r) => `${r.label}: ${fmt(r.value)} (n=${r.n})`) };
  };
  const hogs = [0, 1, 2, 3, 4, 5, 6, 7, 8];
  const at = (c: Partial<Config>): Config => ({ cpuHogs: 0, membw: 0, mem: 0, disk: 0, ...c });

  // CPU: the probe is one more task beside h hogs.
  const cpuOverhead = collect('CPU sharing', hogs.filter((h) => h + 1 > cpus && group(at({ cpuHogs: h })).length >= 2).map((h) => {
    const g = group(at({ cpuHogs: h }));
    return { label: `h=${h}`, value: ratio(g, 'cpu') / ps(h + 1), n: g.length };
  }));
  // Memory bandwidth: membw is one more CPU task that also streams memory.
  const memBandwidthStretch = collect('memory bandwidth', hogs.filter((h) => group(at({ cpuHogs: h, membw: 1 })).length >= 2).map((h) => {
    const g = group(at({ cpuHogs: h, membw: 1 }));
    return { label: `h=${h} membw=1`, value: ratio(g, 'mem') / ps(h + 2), n: g.length };
  }));
  // Memory pressure: the same CPU load with and without `mem: high`.
  const pressure = (oversubscribed: boolean): Array<{ label: string; value: number; n: number }> =>
    hogs.filter((h) => (h + 1 > cpus) === oversubscribed && group(at({ cpuHogs: h, mem: 1 })).length >= 1 && group(at({ cpuHogs: h })).length >= 2).map((h) => {
      const g = group(at({ cpuHogs: h, mem: 1 }));
      return { label: `h=${h} mem=1 / h=${h}`, value: ratio(g, 'mem') / ratio(group(at({ cpuHogs: h })), 'mem'), n: g.length };
    });
  const memPressureStretch = collect('memory pressure (CPUs oversubscribed)', pressure(true));
  const memPressureFreeCpu = collect('memory pressure (a free CPU)', pressure(false));
  const memRuns = runs.filter((r) => r.config.mem === 1 && typeof r.sample.memory?.usedFraction === 'number');
  const usedMedian = median(memRuns.map((r) => r.sample.memory!.usedFraction));
  const memPressureFrom: Derivation = {
    value: Math.floor(usedMedian * 20) / 20,
    from: [`median memory used in ${memRuns.length} clean runs with mem: high: ${usedMedian.toFixed(3)}, rounded down to 0.05`],
  };
  // Disk: the writer against the same CPU load without it, where five or more clean runs exist.
  const diskShareStretch = collect('disk sharing', hogs.filter((h) => group(at({ cpuHogs: h, disk: 1 })).length >= 5 && group(at({ cpuHogs: h })).length >= 2).map((h) => {
    const g = group(at({ cpuHogs: h, disk: 1 }));
    return { label: `h=${h} disk=1 / h=${h}`, value: ratio(g, 'disk') / ratio(group(at({ cpuHogs: h })), 'disk'), n: g.length };
  }));
  // What the collectors saw with the writer running (one continuous stream).
  const writer = runs.filter((r) => r.config.disk === 1);
  const sampled = (what: string, pick: (r: Run) => number | undefined, rows: Run[]): Derivation => {
    const values = rows.map(pick).filter((v): v is number => typeof v === 'number' && Number.isFinite(v));
    if (values.length === 0) throw new RangeError(`calibration data: no clean runs for ${what}`);
    return { value: median(values), from: [`median over ${values.length} clean runs with the disk writer`] };
  };
  const diskBusyPerStream = sampled('disk busy', (r) => r.sample.disk?.busyMax, writer);
  const psiIoPerStream = sampled('PSI io', (r) => r.sample.pressure?.ioSome, writer);
  // iowait shows only where a CPU is idle: at most half the CPUs taken by hogs.
  const freeCpu = writer.filter((r) => r.config.membw === 0 && r.config.cpuHogs <= cpus / 2);
  const iowaitCpusPerStream = sampled('iowait', (r) => (r.sample.cpu === undefined ? undefined : r.sample.cpu.iowait * r.cpus), freeCpu);
  iowaitCpusPerStream.from = [`median iowait × CPUs over ${freeCpu.length} clean runs with the disk writer and a free CPU`];

  const evidence = {
    cpuOverhead,
    memBandwidthStretch,
    memPressureFrom,
    memPressureStretch,
    diskShareStretch,
    diskBusyPerStream,
    psiIoPerStream,
    iowaitCpusPerStream,
    memPressureFreeCpu,
  };
  const params: ClusterParams = {
    cpuOverhead: cpuOverhead.value,
    memBandwidthStretch: memBandwidthStretch.value,
    memPressureFrom: memPressureFrom.value,
    memPressureStretch: memPressureStretch.value,
    diskShareStretch: diskShareStretch.value,
    diskBusyPerStream: diskBusyPerStream.value,
    psiIoPerStream: psiIoPerStream.value,
    iowaitCpusPerStream: iowaitCpusPerStream.value,
  };
  return { params, evidence, runs: runs.length };
}

// The parameters rounded as CALIBRATED holds them.
export function roundParams(p: ClusterParams): ClusterParams {
  const r = (x: number): number => Math.round(x * 100) / 100;
  return {
    cpuOverhead: r(p.cpuOverhead),
    memBandwidthStretch: r(p.memBandwidthStretch),
    memPressureFrom: r(p.memPressureFrom),
    memPressureStretch: r(p.memPressureStretch),
    diskShareStretch: r(p.diskShareStretch),
    diskBusyPerStream: r(p.diskBusyPerStream),
    psiIoPerStream: r(p.psiIoPerStream),
    iowaitCpusPerStream: r(p.iowaitCpusPerStream),
  };
}
