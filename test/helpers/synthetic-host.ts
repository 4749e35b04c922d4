// Synthetic hosts of any size in any state, for property tests of the rank: the
// /proc and /sys files the collectors read, in the kernel's formats, written at two
// instants `seconds` apart (t0/ and t1/, each with proc/ and sys/) so that the rate
// collectors (CPU shares, swap and fault rates, disk busy) have their deltas, and the
// Sample lavarank's own collectors read from them. Nothing here is hand-edited
// kernel text: every file is rendered from the state.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createCollectors } from '../../src/collectors/index.js';
import type { SpeedRead } from '../../src/collectors/linkspeed.js';
import type { Sample } from '../../src/collectors/types.js';

// What a host is doing over the window between t0 and t1.
export interface HostState {
  cpus: number; // online CPUs
  cores?: number; // the cores they make (SMT: fewer than cpus, which it must divide); default cpus, with no topology in sysfs
  busy?: number; // share of all CPUs' time not idle and not iowait (steal included, as the collector counts), 0..1; default min(1, runnable / cpus)
  iowait?: number; // share, 0..1
  steal?: number; // share, 0..1
  runnable?: number; // tasks runnable at t1, besides whoever reads /proc/loadavg; default 0
  load1?: number; // the 1-minute load; default runnable
  blocked?: number; // tasks waiting for io (procs_blocked) at t0 and t1; default 0
  memUsed?: number; // 1 - MemAvailable / MemTotal; default 0.3
  memTotalGiB?: number; // default 4 GiB per CPU
  swapPagesPerSec?: number; // pswpin + pswpout per second (half each); default 0
  majorFaultsPerSec?: number; // default 0
  diskBusy?: number; // share of time the disk had I/O in flight (one I/O in flight while busy); default 0
  netUtil?: number; // eth0's received bytes as a share of its 10 Gb/s link, 0..1; default 10 kB/s
  psiCpu?: number; // PSI cpu some avg10, 0..1; default 0
  psiMemSome?: number;
  psiMemFull?: number;
  psiIoSome?: number;
  psiIoFull?: number;
  seconds?: number; // from t0 to t1; default 10
  own?: number; // lavarank's own CPU time over the window, in CPUs (part of busy: the elim's start); default 0
}

// Where the host's CPU time falls, for hosts whose CPUs differ: each CPU's own busy and
// iowait shares (the state's busy and iowait are then ignored: /proc/stat's total line is
// their sum), and the CPUs a job may use (cpu.job_cpus), given to the collectors.
export interface HostLayout {
  perCpu?: readonly { busy: number; iowait?: number }[];
  jobCpus?: readonly number[];
  // The physical disks sda, sdb, ... (the state's diskBusy is then ignored): each one's
  // busy share and mean number of I/Os in flight (default its busy share: one at a time).
  disks?: readonly { busy: number; queue?: number }[];
}

const HZ = 100; // USER_HZ
const LINK_BYTES_PER_SEC = 10_000e6 / 8; // eth0's speed file says 10000 (Mb/s)
const PAGE_KB = 4;

function put(root: string, rel: string, text: string): void {
  const path = join(root, rel);
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, text);
}

const clamp01 = (x: number): number => Math.min(1, Math.max(0, x));

// One cpuN line's eight times at `t` seconds since t0, for shares of that CPU's time.
function cpuTimes(busyShare: number, iowaitShare: number, stealShare: number, t: number): number[] {
  const ticks = HZ * t;
  const iowait = clamp01(iowaitShare);
  const busy = clamp01(Math.min(Math.max(busyShare, stealShare), 1 - iowait));
  const steal = Math.min(clamp01(stealShare), busy);
  // Counters start from a nonzero base, as on a host that has been up a while.
  // Each a whole number of ticks, as the kernel counts, and idle what is left, so that
  // the ticks add up to the window: rounded apart, a step of iowait alone moved every
  // other share by a tick of the total (seed -398308996). Busy time, steal and iowait are
  // each rounded on their own (user and system split what busy leaves beside steal), and
  // iowait within what busy left: with user, system and iowait rounded apart, where busy
  // and iowait filled the window they passed it (1001 ticks of 1000, idle 0) and iowait
  // filling it lowered the busy share read; with steal the difference of two roundings, a
  // step of busy alone moved steal by a tick (props77, 2026-12-07).
  const whole = (share: number): number => Math.round(ticks * share);
  const stolen = whole(steal);
  const work = whole(busy) - stolen;
  const user = Math.round(work * 0.85);
  const system = work - user;
  const waited = Math.min(whole(iowait), Math.round(ticks) - whole(busy));
  return [
    1_000_000 + user, // user
    0, // nice
    200_000 + system, // system
    5_000_000 + Math.max(0, Math.round(ticks) - user - system - waited - stolen), // idle
    10_000 + waited, // iowait
    0,
    1000,
    stolen, // steal
  ];
}

// sda, sdb, ..., sdz, sdaa, ...
function diskName(i: number): string {
  return i < 26 ? `sd${String.fromCharCode(97 + i)}` : `sd${String.fromCharCode(96 + Math.floor(i / 26))}${String.fromCharCode(97 + (i % 26))}`;
}

// The files of one instant: counters at `t` seconds since t0 (0 or the window).
function render(s: Required<Omit<HostState, 'seconds'>>, t: number, layout: HostLayout = {}): Record<string, string> {
  const lines =
    layout.perCpu === undefined
      ? Array.from({ length: s.cpus }, () => cpuTimes(s.busy, s.iowait, s.steal, t))
      : Array.from({ length: s.cpus }, (_, i) => cpuTimes(layout.perCpu![i]?.busy ?? 0, layout.perCpu![i]?.iowait ?? 0, s.steal, t));
  const total = lines[0]!.map((_, k) => lines.reduce((a, l) => a + l[k]!, 0));
  const stat = [
    `cpu  ${total.join(' ')} 0 0`,
    ...lines.map((l, i) => `cpu${i} ${l.join(' ')} 0 0`),
    'intr 0',
    'ctxt 1000',
    `processes ${50_000 + Math.round(t)}`,
    `procs_running ${s.runnable + 1}`,
    `procs_blocked ${s.blocked}`,
    '',
  ].join('\n');
  const totalKb = Math.round(s.memTotalGiB * 1024 * 1024);
  const availableKb = Math.round(totalKb * (1 - clamp01(s.memUsed)));
  const kb = (name: string, v: number): string => `${`${name}:`.padEnd(16)}${String(v).padStart(10)} kB`;
  const meminfo = [
    kb('MemTotal', totalKb),
    kb('MemFree', Math.round(availableKb / 2)),
    kb('MemAvailable', availableKb),
    kb('Buffers', 1000),
    kb('Cached', Math.round(availableKb / 3)),
    kb('SwapTotal', 8 * 1024 * 1024),
    kb('SwapFree', 8 * 1024 * 1024 - Math.min(8 * 1024 * 1024, Math.round(s.swapPagesPerSec * 60 * PAGE_KB))),
    '',
  ].join('\n');
  const swapHalf = (s.swapPagesPerSec * t) / 2;
  const vmstat = `pgpgin 1000\npgpgout 1000\npswpin ${Math.round(1000 + swapHalf)}\npswpout ${Math.round(1000 + swapHalf)}\npgmajfault ${Math.round(5000 + s.majorFaultsPerSec * t)}\n`;
  const disks = layout.disks ?? [{ busy: s.diskBusy }];
  const diskstats = disks
    .map((d, i) => {
      const ioMs = Math.round(1_000_000 + 1000 * t * clamp01(d.busy));
      const weightedMs = Math.round(1_300_000 + 1000 * t * Math.max(0, d.queue ?? clamp01(d.busy)));
      const sectors = Math.round(1_000_000 + 20_000 * t * clamp01(d.busy));
      return `   8 ${String(16 * i).padStart(7)} ${diskName(i)} 10000 0 ${sectors} 5000 20000 0 ${sectors} 8000 0 ${ioMs} ${weightedMs} 0 0 0 0 0 0\n`;
    })
    .join('');
  const netdev =
    'Inter-|   Receive                                                |  Transmit\n' +
    ' face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed\n' +
    '    lo:    3193      29    0    0    0     0          0         0     3193      29    0    0    0     0       0          0\n' +
    `  eth0: ${1_000_000 + Math.round(Math.max(10_000, clamp01(s.netUtil) * LINK_BYTES_PER_SEC) * t)} 5992 0 0 0 0 0 0 ${1_000_000 + Math.round(5000 * t)} 4056 0 0 0 0 0 0\n`;
  const psi = (some: number, full: number | undefined): string =>
    `some avg10=${(100 * clamp01(some)).toFixed(2)} avg60=0.00 avg300=0.00 total=1000\n` +
    (full === undefined ? '' : `full avg10=${(100 * clamp01(full)).toFixed(2)} avg60=0.00 avg300=0.00 total=0\n`);
  return {
    'proc/stat': stat,
    'proc/loadavg': `${s.load1.toFixed(2)} ${s.load1.toFixed(2)} ${s.load1.toFixed(2)} ${s.runnable + 1}/${1000 + s.cpus} 12345\n`,
    'proc/meminfo': meminfo,
    'proc/vmstat': vmstat,
    'proc/diskstats': diskstats,
    'proc/net/dev': netdev,
    'proc/pressure/cpu': psi(s.psiCpu, 0),
    'proc/pressure/memory': psi(s.psiMemSome, s.psiMemFull),
    'proc/pressure/io': psi(s.psiIoSome, s.psiIoFull),
    'sys/devices/system/cpu/online': s.cpus === 1 ? '0\n' : `0-${s.cpus - 1}\n`,
    ...Object.fromEntries(disks.flatMap((_, i) => [[`sys/block/${diskName(i)}/device/vendor`, 'ATA\n'], [`sys/block/${diskName(i)}/removable`, '0\n']])),
    'sys/class/net/eth0/device/vendor': '0x8086\n',
    'sys/class/net/eth0/speed': '10000\n',
    ...topology(s.cpus, s.cores),
  };
}

// The topology files of an SMT host, x86's numbering (core k holds CPUs k, k + cores,
// ...), or none when every CPU is a core, as the collectors read most test trees.
function topology(cpus: number, cores: number): Record<string, string> {
  if (!(cores < cpus)) return {};
  const files: Record<string, string> = {};
  for (let cpu = 0; cpu < cpus; cpu++) {
    const threads = Array.from({ length: Math.ceil(cpus / cores) }, (_, k) => (cpu % cores) + k * cores).filter((c) => c < cpus);
    files[`sys/devices/system/cpu/cpu${cpu}/topology/core_cpus_list`] = `${threads.join(',')}\n`;
  }
  return files;
}

// The state with every default filled in.
export function fullState(state: HostState): Required<HostState> {
  const runnable = Math.max(0, Math.round(state.runnable ?? 0));
  return {
    cpus: state.cpus,
    cores: state.cores ?? state.cpus,
    busy: state.busy ?? Math.min(1, runnable / state.cpus),
    iowait: state.iowait ?? 0,
    steal: state.steal ?? 0,
    runnable,
    load1: state.load1 ?? runnable,
    blocked: Math.max(0, Math.round(state.blocked ?? 0)),
    memUsed: state.memUsed ?? 0.3,
    memTotalGiB: state.memTotalGiB ?? 4 * state.cpus,
    swapPagesPerSec: state.swapPagesPerSec ?? 0,
    majorFaultsPerSec: state.majorFaultsPerSec ?? 0,
    diskBusy: state.diskBusy ?? 0,
    netUtil: state.netUtil ?? 0,
    psiCpu: state.psiCpu ?? 0,
    psiMemSome: state.psiMemSome ?? 0,
    psiMemFull: state.psiMemFull ?? 0,
    psiIoSome: state.psiIoSome ?? 0,
    psiIoFull: state.psiIoFull ?? 0,
    seconds: state.seconds ?? 10,
    own: state.own ?? 0,
  };
}

// A PSI "some" share as the kernel reports it for the whole host: each CPU's stalled
// share weighted by its non-idle share (collect_percpu_times, kernel/sched/psi.c: "each
// CPU is weighted by its non-idle time"; a CPU where a task sleeps stalled is non-idle).
export function kernelPsi(perCpu: readonly { stall: number; nonIdle: number }[]): number {
  let weighted = 0;
  let nonIdle = 0;
  for (const c of perCpu) {
    weighted += c.stall * c.nonIdle;
    nonIdle += c.nonIdle;
  }
  return nonIdle > 0 ? weighted / nonIdle : 0;
}

// The files of the host at `t` seconds into its window (counters grow at the state's
// rates), relative to a root that holds proc/ and sys/: for a writer that keeps them
// current in real time under a running daemon.
export function renderHost(state: HostState, t: number, layout?: HostLayout): Record<string, string> {
  return render(fullState(state), t, layout);
}

// Writes the host's two instants under dir: dir/t0/{proc,sys} and dir/t1/{proc,sys}.
export function writeSyntheticHost(dir: string, state: HostState): { t0: string; t1: string } {
  const s = fullState(state);
  const out = { t0: join(dir, 't0'), t1: join(dir, 't1') };
  for (const [at, t] of [[out.t0, 0], [out.t1, s.seconds]] as const) {
    for (const [rel, text] of Object.entries(render(s, t))) put(at, rel, text);
  }
  return out;
}

// Reads synthetic hosts through lavarank's collectors (GPU off), one directory for
// all of them: each state's t0 files are written and read (the baselines), then its
// t1 files `seconds` later, as two ticks of the daemon would, with fresh collectors.
export interface HostSampler {
  sample(state: HostState, layout?: HostLayout): Sample;
  close(): void;
}

// Reads a link speed file at once, on the caller's thread: both readings of a sample
// are taken in one synchronous step, with no turn of the event loop in which the
// daemon's background read would return.
export const speedReadNow: SpeedRead = (path, done) => {
  let text: string;
  try {
    text = readFileSync(path, 'latin1');
  } catch (err) {
    return done(err as Error);
  }
  done(null, text);
};

// A sampler over one temporary directory, removed by close().
export function hostSampler(): HostSampler {
  const dir = mkdtempSync(join(tmpdir(), 'lavarank-host-'));
  const procRoot = join(dir, 'proc');
  const sysRoot = join(dir, 'sys');
  const write = (files: Record<string, string>): void => {
    for (const [rel, text] of Object.entries(files)) put(dir, rel, text);
  };
  return {
    sample(state, layout = {}) {
      const s = fullState(state);
      rmSync(sysRoot, { recursive: true, force: true }); // the CPU list and devices may differ between hosts
      write(render(s, 0, layout));
      const jobCpus = layout.jobCpus === undefined ? {} : { jobCpus: [...layout.jobCpus] };
      let ownUs = 0;
      const collectors = createCollectors({ procRoot, sysRoot, gpu: { enabled: false }, linkSpeedRead: speedReadNow, ownCpuUs: () => ownUs, ...jobCpus });
      for (const c of collectors) c.collect(0);
      ownUs = s.own * s.seconds * 1e6;
      write(render(s, s.seconds, layout));
      const sample: Sample = { ts: Date.UTC(2026, 11, 1, 12), failures: {} };
      for (const c of collectors) {
        const part = c.collect(s.seconds * 1000);
        if (part !== undefined) (sample as unknown as Record<string, unknown>)[c.name] = part;
        c.close?.();
      }
      return sample;
    },
    close: () => rmSync(dir, { recursive: true, force: true }),
  };
}

// The Sample the collectors read from one host (a sampler of its own, removed after).
export function sampleSyntheticHost(state: HostState, layout?: HostLayout): Sample {
  const sampler = hostSampler();
  try {
    return sampler.sample(state, layout);
  } finally {
    sampler.close();
  }
}
