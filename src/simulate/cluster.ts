// The cluster model: how fast each running job progresses on its host, and what
// lavarank's collectors would read there. A job's idle run time splits into a CPU,
// a memory, an io and a waiting part (its mix); beside other work each part
// stretches: CPU by processor sharing of the host's CPUs, memory by bandwidth
// contention and memory pressure, io by sharing the host's disk. The stretches are
// the calibrated ClusterParams (src/simulate/params.ts); docs/simulate.md has the
// equations. Pure functions plus one class, SimHost, that keeps a host's jobs and
// the timeline its samples are taken from.
import type { Sample } from '../collectors/types.js';
import type { ClusterParams } from './params.js';

// The three kinds of job a typed rank is for.
export type JobType = 'cpu' | 'mem' | 'io';
export const JOB_TYPES: readonly JobType[] = ['cpu', 'mem', 'io'];

// Shares of a job's run time alone on an idle host: computing, streaming memory,
// waiting for the disk, and waiting for nothing the host provides (sleep, network).
export interface JobMix {
  cpu: number;
  mem: number;
  io: number;
  wait: number;
}

// The mix of each generated job type (an assumption, docs/simulate.md): a memory-bound
// job still computes a third of its time, an io-bound one a fifth.
export const TYPE_MIX: Readonly<Record<JobType, Readonly<JobMix>>> = Object.freeze({
  cpu: Object.freeze({ cpu: 1, mem: 0, io: 0, wait: 0 }),
  mem: Object.freeze({ cpu: 0.3, mem: 0.7, io: 0, wait: 0 }),
  io: Object.freeze({ cpu: 0.2, mem: 0, io: 0.8, wait: 0 }),
});

// A host as the simulator needs it.
export interface HostSpec {
  name: string;
  cpus: number;
  memBytes: number;
  mxj: number; // job slots (bhosts MAX)
  disks?: number; // local disks io-bound jobs share; default diskCount(): one per CPUS_PER_DISK CPUs
  cpuFactor: number; // lshosts cpuf: what mbatchd divides r15s by
  speed: number; // CPU work per second relative to the reference host (cpuFactor / the median cpuFactor)
}

// CPUs per local disk when nothing says how many disks a host has (an assumption:
// larger nodes carry more or faster scratch devices).
export const CPUS_PER_DISK = 8;

// The disks of a host: as given, else one per CPUS_PER_DISK CPUs (at least one).
export function diskCount(host: Pick<HostSpec, 'cpus' | 'disks'>): number {
  return host.disks ?? Math.max(1, Math.round(host.cpus / CPUS_PER_DISK));
}

// What a running job brings to its host's equations.
export interface LoadItem {
  threads: number;
  mix: Readonly<JobMix>;
  memBytes: number;
}

// Each job's progress and where its time goes, for one host state.
export interface Rates {
  rate: number[]; // idle-seconds of work done per second, per job (1 alone on a reference host)
  cpuShare: number[]; // share of its time each job's threads want a CPU (cpu + mem phases)
  ioShare: number[]; // share of its time in io
  cpuWanting: number; // threads that want a CPU, background included (the runnable count)
  ioStreams: number; // threads waiting for a disk (D state)
  memStreams: number; // threads streaming memory
  cpuGiven: number; // share of a CPU each wanting thread gets, 0..1
  memUsed: number; // fraction of memory used
}

const MAX_ITERATIONS = 60;
const TOLERANCE = 1e-9;

// Idle run time of a job of this mix on a host of this speed, per idle-second of work
// on the reference host: only the CPU part runs faster on a faster CPU.
export function idleTimeFactor(mix: Readonly<JobMix>, speed: number): number {
  return mix.cpu / speed + mix.mem + mix.io + mix.wait;
}

// Solves a host's state: the rates of the jobs on it, given background threads that
// want a CPU and background memory. The phases' shares of time depend on the rates
// and the rates on how many threads are in each phase: a fixed point, reached by
// iteration from the idle shares (it converges: every stretch is bounded and grows
// with the load it depends on).
export function solveRates(host: Pick<HostSpec, 'cpus' | 'memBytes' | 'speed' | 'disks'>, items: readonly LoadItem[], background: { threads: number; memBytes: number }, p: Readonly<ClusterParams>): Rates {
  const n = items.length;
  const rate = new Array<number>(n).fill(0);
  const cpuShare = new Array<number>(n).fill(0);
  const ioShare = new Array<number>(n).fill(0);
  const memShare = new Array<number>(n).fill(0);
  const C = host.cpus;
  const disks = diskCount(host);
  let memBytes = background.memBytes;
  for (const it of items) memBytes += it.memBytes;
  const memUsed = host.memBytes > 0 ? memBytes / host.memBytes : 0;
  // Start from the idle shares.
  for (let i = 0; i < n; i++) {
    const m = items[i]!.mix;
    const t = idleTimeFactor(m, host.speed);
    cpuShare[i] = (m.cpu / host.speed + m.mem) / t;
    memShare[i] = m.mem / t;
    ioShare[i] = m.io / t;
  }
  let N = 0;
  let M = 0;
  let Q = 0;
  let given = 1;
  for (let iter = 0; iter < MAX_ITERATIONS; iter++) {
    let n2 = background.threads;
    let m2 = 0;
    let q2 = 0;
    for (let i = 0; i < n; i++) {
      const th = items[i]!.threads;
      n2 += th * cpuShare[i]!;
      m2 += th * memShare[i]!;
      q2 += th * ioShare[i]!;
    }
    const converged = iter > 0 && Math.abs(n2 - N) < TOLERANCE && Math.abs(m2 - M) < TOLERANCE && Math.abs(q2 - Q) < TOLERANCE;
    N = n2;
    M = m2;
    Q = q2;
    given = N > C ? C / N : 1;
    if (converged) break;
    const over = N > C ? p.cpuOverhead : 1;
    // Bandwidth: no stretch for one stream, the calibrated one when every CPU streams.
    const streaming = C > 1 ? Math.min(1, Math.max(0, (Math.min(M, C) - 1) / (C - 1))) : Math.min(1, Math.max(0, M - 1));
    const bw = 1 + (p.memBandwidthStretch - 1) * streaming;
    const press = memUsed >= p.memPressureFrom && N > C ? p.memPressureStretch : 1;
    // Disk: streams spread over the host's disks; no stretch while each has one at most.
    const disk = 1 + (p.diskShareStretch - 1) * Math.max(0, Q / disks - 1);
    for (let i = 0; i < n; i++) {
      const m = items[i]!.mix;
      const tc = (m.cpu * over) / (host.speed * given);
      const tm = (m.mem * bw * press) / given;
      const td = m.io * disk;
      const t = tc + tm + td + m.wait;
      rate[i] = t > 0 ? 1 / t : 1;
      cpuShare[i] = t > 0 ? (tc + tm) / t : 0;
      memShare[i] = t > 0 ? tm / t : 0;
      ioShare[i] = t > 0 ? td / t : 0;
    }
  }
  return { rate, cpuShare, ioShare, cpuWanting: N, ioStreams: Q, memStreams: M, cpuGiven: given, memUsed };
}

// A job's rate alone on an idle host: its own threads may still share the host's
// CPUs or disks with each other, which is part of its idle run time, not contention.
export function aloneRate(host: Pick<HostSpec, 'cpus' | 'memBytes' | 'speed' | 'disks'>, item: LoadItem, p: Readonly<ClusterParams>): number {
  return solveRates(host, [item], { threads: 0, memBytes: 0 }, p).rate[0]!;
}

// The instantaneous quantities a sample is made from; constant between two events on the host.
export interface HostLevel {
  cpuWanting: number;
  ioStreams: number;
  memUsed: number;
}

// What the kernel's averages and counters hold at one moment.
export interface HostReading extends HostLevel {
  load1: number; // 1-minute load average: running + uninterruptible tasks, 60 s time constant
  psiCpu: number; // PSI cpu some, avg10
  psiIo: number; // PSI io some, avg10
  busyIntegral: number; // seconds × busy share, since the start
  iowaitIntegral: number;
}

// The kernel's time constants for the 1-minute load and PSI's avg10.
export const LOAD1_TAU = 60;
export const AVG10_TAU = 10;

// Busy share of all CPUs for a level.
export function busyShare(level: HostLevel, cpus: number): number {
  return Math.min(1, level.cpuWanting / cpus);
}

// iowait share of all CPUs' time: only idle CPUs count their time as iowait.
export function iowaitShare(level: HostLevel, cpus: number, p: Readonly<ClusterParams>): number {
  return Math.max(0, Math.min(1 - busyShare(level, cpus), (p.iowaitCpusPerStream * level.ioStreams) / cpus));
}

// PSI cpu "some" for a level: the share of time some task waits for a CPU, which the
// kernel weighs by each CPU's non-idle time: (tasks − CPUs) / CPUs, within 0..1.
export function psiCpuLevel(level: HostLevel, cpus: number): number {
  return Math.min(1, Math.max(0, (level.cpuWanting - cpus) / cpus));
}

// PSI io "some" for a level. The kernel marks a CPU "some" while a task that last ran
// there is blocked on io, and averages the CPUs weighted by their non-idle time
// (kernel/sched/psi.c): for a host, the io-blocked tasks over the productive ones,
// min(non-idle tasks, CPUs), at most 1. It is host-wide (no per-disk share), an io
// stream counts as non-idle, and CPU-bound tasks dilute it. A stream is blocked
// psiIoPerStream of its time alone on its disk (the calibration writer); a shared
// disk stretches its io time (diskShareStretch) and the stretch is all blocked time,
// so the share tends to 1 only as the disk saturates.
export function psiIoLevel(level: HostLevel, cpus: number, disks: number, p: Readonly<ClusterParams>): number {
  const q = level.ioStreams;
  if (!(q > 0)) return 0;
  const stretch = 1 + (p.diskShareStretch - 1) * Math.max(0, q / disks - 1);
  const blocked = 1 - (1 - p.psiIoPerStream) / stretch;
  const productive = Math.min(level.cpuWanting + q, cpus);
  return Math.min(1, (blocked * q) / Math.max(productive, blocked * q));
}

// A host's piecewise-constant history: one segment per state between two events, with
// the averages and counters at its start, so that the reading at any time inside it
// is exact (an exponential average of a constant input has a closed form). Old
// segments are dropped unless the whole history is kept. Kept as columns of numbers:
// the simulator reads it for every host at every load refresh.
export class HostTimeline {
  // Per segment: start time, level, and the readings at its start.
  private t: number[] = [0];
  private wanting: number[] = [0];
  private io: number[] = [0];
  private mem: number[] = [0];
  private load1: number[] = [0];
  private psiCpu: number[] = [0];
  private psiIo: number[] = [0];
  private busyI: number[] = [0];
  private iowaitI: number[] = [0];
  private first = 0;
  private readonly scratch: HostReading = { cpuWanting: 0, ioStreams: 0, memUsed: 0, load1: 0, psiCpu: 0, psiIo: 0, busyIntegral: 0, iowaitIntegral: 0 };

  constructor(
    private readonly cpus: number,
    private readonly disks: number,
    private readonly p: Readonly<ClusterParams>,
    private readonly keepAll: boolean,
  ) {}

  // The level from time `at` on; `at` must not be before the last change.
  set(at: number, level: HostLevel): void {
    const last = this.t.length - 1;
    if (at < this.t[last]!) throw new RangeError(`host timeline: change at ${at} s before the last one at ${this.t[last]} s`);
    const r = this.readInto(last, at, this.scratch);
    if (at === this.t[last]) {
      // Two changes at the same instant: the later one wins, the averages are unchanged.
      this.wanting[last] = level.cpuWanting;
      this.io[last] = level.ioStreams;
      this.mem[last] = level.memUsed;
      return;
    }
    this.t.push(at);
    this.wanting.push(level.cpuWanting);
    this.io.push(level.ioStreams);
    this.mem.push(level.memUsed);
    this.load1.push(r.load1);
    this.psiCpu.push(r.psiCpu);
    this.psiIo.push(r.psiIo);
    this.busyI.push(r.busyIntegral);
    this.iowaitI.push(r.iowaitIntegral);
  }

  // Forgets segments that ended before `before` (they can no longer be asked for).
  prune(before: number): void {
    if (this.keepAll) return;
    while (this.first + 1 < this.t.length && this.t[this.first + 1]! <= before) this.first++;
    if (this.first > 256 && this.first > this.t.length / 2) {
      const k = this.first;
      for (const col of [this.t, this.wanting, this.io, this.mem, this.load1, this.psiCpu, this.psiIo, this.busyI, this.iowaitI]) col.splice(0, k);
      this.first = 0;
    }
  }

  // The reading at time `at` (clamped to the oldest segment kept), as a new object.
  at(at: number): HostReading {
    return { ...this.readAt(at, this.scratch) };
  }

  // The reading at time `at` written into `out` (no allocation), which is returned.
  readAt(at: number, out: HostReading): HostReading {
    let lo = this.first;
    let hi = this.t.length - 1;
    if (at <= this.t[lo]!) return this.readInto(lo, this.t[lo]!, out);
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.t[mid]! <= at) lo = mid;
      else hi = mid - 1;
    }
    return this.readInto(lo, at, out);
  }

  // The oldest time still answered exactly.
  get oldest(): number {
    return this.t[this.first]!;
  }

  private readInto(i: number, at: number, out: HostReading): HostReading {
    const dt = at - this.t[i]!;
    const wanting = this.wanting[i]!;
    const io = this.io[i]!;
    const level = { cpuWanting: wanting, ioStreams: io, memUsed: this.mem[i]! };
    const e60 = Math.exp(-dt / LOAD1_TAU);
    const e10 = Math.exp(-dt / AVG10_TAU);
    const loadTarget = wanting + io;
    const psiCpuTarget = psiCpuLevel(level, this.cpus);
    const psiIoTarget = psiIoLevel(level, this.cpus, this.disks, this.p);
    out.cpuWanting = wanting;
    out.ioStreams = io;
    out.memUsed = level.memUsed;
    out.load1 = loadTarget + (this.load1[i]! - loadTarget) * e60;
    out.psiCpu = psiCpuTarget + (this.psiCpu[i]! - psiCpuTarget) * e10;
    out.psiIo = psiIoTarget + (this.psiIo[i]! - psiIoTarget) * e10;
    out.busyIntegral = this.busyI[i]! + busyShare(level, this.cpus) * dt;
    out.iowaitIntegral = this.iowaitI[i]! + iowaitShare(level, this.cpus, this.p) * dt;
    return out;
  }
}

// The values a sample is built from, per CPU where the model reads them per CPU.
export interface SampleValues {
  busy: number;
  iowait: number;
  load1PerCpu: number;
  runnablePerCpu: number;
  memUsed: number;
  diskBusy: number;
  psiCpu: number;
  psiIo: number;
}

// What the elim would read at time `at` over its last `interval` seconds: rates are
// deltas over the interval (as the collectors compute them), the rest is the state at `at`.
export function sampleValues(timeline: HostTimeline, host: Pick<HostSpec, 'cpus' | 'disks'>, at: number, interval: number, p: Readonly<ClusterParams>): SampleValues {
  const cpus = host.cpus;
  const from = Math.max(timeline.oldest, at - interval);
  const dt = at - from;
  let busyBefore = 0;
  let iowaitBefore = 0;
  if (dt > 0) {
    const before = timeline.readAt(from, SCRATCH);
    busyBefore = before.busyIntegral;
    iowaitBefore = before.iowaitIntegral;
  }
  const now = timeline.readAt(at, SCRATCH);
  return {
    busy: dt > 0 ? (now.busyIntegral - busyBefore) / dt : busyShare(now, cpus),
    iowait: dt > 0 ? (now.iowaitIntegral - iowaitBefore) / dt : iowaitShare(now, cpus, p),
    load1PerCpu: now.load1 / cpus,
    runnablePerCpu: now.cpuWanting / cpus,
    memUsed: now.memUsed,
    diskBusy: Math.min(1, (p.diskBusyPerStream * now.ioStreams) / diskCount(host)),
    psiCpu: now.psiCpu,
    psiIo: now.psiIo,
  };
}

const SCRATCH: HostReading = { cpuWanting: 0, ioStreams: 0, memUsed: 0, load1: 0, psiCpu: 0, psiIo: 0, busyIntegral: 0, iowaitIntegral: 0 };

// Rounds the values to the steps the rank cache keys on (docs/simulate.md): well
// under what the collectors can tell apart from one tick to the next.
export function quantize(v: SampleValues): SampleValues {
  return {
    busy: Math.round(v.busy * 100) / 100,
    iowait: Math.round(v.iowait * 100) / 100,
    load1PerCpu: Math.round(v.load1PerCpu * 50) / 50,
    runnablePerCpu: Math.round(v.runnablePerCpu * 50) / 50,
    memUsed: Math.round(v.memUsed * 100) / 100,
    diskBusy: Math.round(v.diskBusy * 100) / 100,
    psiCpu: Math.round(v.psiCpu * 100) / 100,
    psiIo: Math.round(v.psiIo * 100) / 100,
  };
}

// The cache key of quantized values on a host of this size.
export function sampleKey(cpus: number, memBytes: number, v: SampleValues): string {
  const i100 = (x: number): number => Math.round(x * 100);
  return `${cpus}|${memBytes}|${i100(v.busy)}|${i100(v.iowait)}|${i100(v.load1PerCpu)}|${i100(v.runnablePerCpu)}|${i100(v.memUsed)}|${i100(v.diskBusy)}|${i100(v.psiCpu)}|${i100(v.psiIo)}`;
}

// A collectors' Sample for these values: what the daemon would pass to its ranker.
// No swap, no major faults and no memory PSI (none was measured in calibration, which
// had no swap), no GPU, and a network without a known link speed. The host's `disks`
// are listed each as busy as the busiest, as solveRates spreads io streams evenly over them.
export function toSample(v: SampleValues, cpus: number, memBytes: number, ts: number, disks = 1): Sample {
  const busy = Math.min(1, Math.max(0, v.busy));
  const mem = Math.max(0, v.memUsed);
  const writeBytes = v.diskBusy * 100e6;
  return {
    ts,
    failures: {},
    cpu: { user: busy * 0.95, system: busy * 0.05, iowait: v.iowait, steal: 0, busy, online: cpus },
    load: { load1: v.load1PerCpu * cpus, load1PerCpu: v.load1PerCpu, runnable: v.runnablePerCpu * cpus, runnablePerCpu: v.runnablePerCpu, online: cpus },
    memory: {
      totalBytes: memBytes,
      availableBytes: Math.max(0, memBytes * (1 - mem)),
      usedFraction: Math.min(1, mem),
      swapTotalBytes: 0,
      swapUsedFraction: 0,
      swapInPerSec: 0,
      swapOutPerSec: 0,
      majorFaultsPerSec: 0,
    },
    disk: {
      devices: Array.from({ length: Math.max(1, disks) }, (_, i) => ({ name: `sd${String.fromCharCode(97 + (i % 26))}${i < 26 ? '' : String(Math.floor(i / 26))}`, busy: v.diskBusy, readBytesPerSec: 0, writeBytesPerSec: writeBytes })),
      busiest: 'sda',
      busyMax: v.diskBusy,
      busyMean: v.diskBusy,
      readBytesPerSec: 0,
      writeBytesPerSec: writeBytes,
    },
    network: { interfaces: [], rxBytesPerSec: 0, txBytesPerSec: 0 },
    pressure: { cpuSome: v.psiCpu, cpuFull: 0, memorySome: 0, memoryFull: 0, ioSome: v.psiIo, ioFull: 0 },
  };
}
