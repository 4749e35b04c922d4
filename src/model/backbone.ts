// The physical backbone of the rank: the slowdown a new job would see on a host,
// composed from per-resource stall. CPU: processor sharing between the tasks that
// want a CPU and the new one, on the host's own number of CPUs and cores (SMT threads
// share a core, with an assumed yield), and steal. Memory:
// PSI memory stall, pages swapped or faulted in, memory nearly full. I/O: the tasks
// waiting for io, PSI io "some" × the CPUs not idle (without PSI, iowait × CPUs), per busy
// device, and the busiest disk's busy share. Network: the busiest physical link's
// utilization, with an assumed weight (no calibration run had a known link speed).
// A share s of time lost to a resource
// stretches the time spent on it by 1 / (1 - s), a slowdown of s / (1 - s); io is
// the exception (ioSlowdown: the disk is shared between streams, so it saturates), and
// so is the network. The typical job is a mix of the four, with the first three's
// weights fitted on calibration data; the per-type slowdowns are the typed ranks.
// Pure and small: the daemon runs it every tick, the simulator and retrain call it
// on history records. docs/model.md derives every term.

// How much of a typical job is CPU, memory and io work (fitted), and how the number of
// tasks that want a CPU is estimated from the runnable count and the 1-minute load.
export interface BackboneParams {
  weights: { cpu: number; mem: number; io: number };
  runnableWeight: number; // 0..1: share of the runnable count (now) against load1 (the last minute)
  secondsPerPage: number; // stall one swapped or faulted-in page costs the host's jobs
  memFullFrom: number; // share of memory used above which a new job's allocations reclaim
}

// The per-resource and typical-job slowdowns, in rank points (percent).
export interface BackboneRanks {
  rank: number; // the typical job: weights.cpu × cpu + weights.mem × mem + weights.io × io + NET_WEIGHT × net
  cpu: number; // a CPU-bound job
  mem: number; // a memory-bound job (it runs on a CPU too, so CPU sharing counts)
  io: number; // an io-bound job
  net: number; // a job bound by the busiest network link
}

// The slowdowns and how they came about.
export interface BackboneResult extends BackboneRanks {
  parts: BackboneParts;
}

// The intermediate quantities, for explain and tests.
export interface BackboneParts {
  cpus: number | null; // online CPUs used, null when unknown (then the per-CPU limit is used)
  cores: number | null; // the cores they make where fewer than the CPUs (SMT), else null
  tasks: number; // tasks estimated to want a CPU, besides the new job (per CPU when cpus is null)
  cpuShare: number; // share of a CPU the new job would get, 0..1
  steal: number;
  memStall: number; // share of time lost to memory, 0..MAX_STALL
  ioStall: number; // share of time lost to io, 0..MAX_STALL
  netUtil: number; // the busiest link's utilization, 0..MAX_STALL (of a learned capacity when no link speed is known)
}

// Provisional defaults until models carry their own fit: the calibration probe spends
// about 70 % of its idle time computing, 28 % streaming memory and 2 % in fsync'd
// writes; io is given more since the disk writer slowed more than the probe's io part.
export const DEFAULT_BACKBONE: Readonly<BackboneParams> = Object.freeze({
  weights: Object.freeze({ cpu: 0.7, mem: 0.25, io: 0.05 }),
  runnableWeight: 0.5,
  // A 4 KiB read or write on an SSD: at 5000 pages per second half the time is stalled.
  secondsPerPage: 1e-4,
  memFullFrom: 0.9,
});

// No stall share reaches 1 (a 100x slowdown already ranks far beyond RANK_MAX).
export const MAX_STALL = 0.99;
// From memFullFrom of memory used, the stall share rises linearly to this at 100 % used.
export const MEM_FULL_STALL = 0.5;
// A busy disk counts for at most this stall share when PSI io does not say more:
// busy time is not saturation on a device that serves requests in parallel.
export const DISK_BUSY_STALL = 0.5;

// How much of a typical job is moving data over the network: assumed, not fitted, and
// the same share the io part was given before any fit (DEFAULT_BACKBONE). No
// calibration run had a known link speed, so a fit would find nothing; with it a
// saturated link moves the rank (15 at 95 % of the link, 23 from 99 %) instead of
// leaving the host ranked as idle. Retraining on a cluster whose hosts report their
// link speed corrects it through the network (net_util_max is one of its inputs).
export const NET_WEIGHT = 0.05;

// What a second thread adds to a core's throughput when both of its SMT threads
// (hyperthreads) are busy: assumed, not fitted (the calibration VM shows one thread per
// core, so there was nothing to fit it on). Vendors and HPC measurements put it at 0 to
// 40 % by workload, commonly 20 to 30 %. With it, two busy threads of one core each
// run at (1 + SMT_YIELD) / 2 = 62.5 % of a core to themselves: a job that shares a core
// with a busy sibling is slowed by 60 %, where counting threads as CPUs said 0.
export const SMT_YIELD = 0.25;

// The throughput, in cores' worth, of x tasks that each want a CPU on n CPUs that make
// c cores (c = n without SMT). The scheduler gives each task a core of its own while
// there are idle cores; the next ones share cores with a busy sibling, each thread
// beyond the first adding SMT_YIELD of a core spread over the core's extra threads;
// beyond n tasks, time-sharing adds nothing. Divided by x, the share of a core each
// task gets on average: over a long job's life, the new job is as likely as any task
// to be one that shares a core.
export function smtCapacity(x: number, n: number, c: number): number {
  if (!(c < n)) return Math.min(x, n);
  // The cores that have a second thread are at most c and at most the n - c extra
  // threads: where only some cores show siblings (some offline, a hybrid CPU), each
  // of those gives SMT_YIELD, never more, so the capacity stays below n.
  const perExtraThread = (SMT_YIELD * Math.min(c, n - c)) / (n - c);
  return Math.min(x, c) + perExtraThread * Math.min(Math.max(0, x - c), n - c);
}

// Every raw value backbone() reads: a fit that calls it many times per row packs
// these alone, and hands them back in one object of one shape, read much faster.
export const BACKBONE_INPUTS = [
  'cpus',
  'cores',
  'quota_host_cpus',
  'quota_host_busy',
  'runnable_per_cpu',
  'load1_per_cpu',
  'cpu_steal',
  'cpu_busy',
  'cpu_iowait',
  'swap_io',
  'major_faults',
  'mem_used',
  'psi_mem_some',
  'psi_io_some',
  'disk_busy_max',
  'net_util_max',
  'io_devices',
  'machine_cpus',
  'machine_busy',
  'io_queue',
  'io_queue_max',
  'io_blocked',
] as const;

// What one major fault costs the task that takes it: a 4 KiB page read back from an SSD.
const FAULT_SECONDS = 100e-6;

// The memory stall a kernel without PSI (before 4.20: RHEL 7's 3.10) cannot report,
// from the major-fault rate, over the n CPUs (those a job may use, where fewer; under a
// CPU quota, those it was taken from: stallCpus): faults arriving at random leave a CPU
// without a task waiting for a page for a share exp(-rate × FAULT_SECONDS / n) of the
// time, so the same faults per CPU stall as much on every size. Over the whole host's rate as one CPU's, 300 a second per busy CPU
// ranked a half-busy 256-CPU host 1000 where 2 CPUs ranked 1 (an audit, 2026-12-05).
// Not over the CPUs busy or in iowait, as PSI weights each CPU's stall, which that audit
// took: the same faults then stalled less as other CPUs got busy, and a host without
// PSI swapping at 5000 pages a second ranked 19.9 with one of its 64 CPUs busy and 0.4
// with 63 (a second audit, the same day). On the squeeze calibration's swapping runs
// without CPU hogs (2 CPUs), the measured stall is what about 220-260 µs a fault gives;
// CPU contention and disks slower than an SSD lengthen each wait, so it is low there.
// `score-model --without-psi` on those runs: 108.2 (45.8 - 228.5); 106.4 (44.8 - 224.5)
// over the CPUs busy or in iowait, 104.0 (45.1 - 217.2) over one. The fitted paging
// cost (secondsPerPage) is not this: no training run paged, so it stayed at the bottom
// of its grid.
function faultStall(faultsPerSec: number | undefined, cpus: number): number | undefined {
  return faultsPerSec === undefined ? undefined : 1 - Math.exp((-Math.max(0, faultsPerSec) * FAULT_SECONDS) / cpus);
}

// The io stall a kernel without PSI (before 4.20: RHEL 7's 3.10) cannot report, from the
// CPUs' iowait share of n CPUs (under a CPU quota, those it was taken from: stallCpus).
// A CPU counts iowait only while it is idle and a task that slept on it waits for io, so
// iowait × n, the mean number of CPUs in iowait, is at most the mean number of tasks
// waiting for io: the number ioSlowdown costs, as -ln(1 - s).
// So s = 1 - exp(-iowait × n), which costs exactly that mean. The share alone stood for
// PSI's "some" until 2026-12-05, and read one task waiting for NFS all the time as a
// stall of 1/n: rank_io 69 on 2 CPUs, 0.8 on 128, 0.4 on 256. Without the CPU count
// (older history) n is taken as 1, the share alone. With the busy devices (a model of
// backbone version 3: `devices`, the busiest's share `busyMax`, the disks' `queue`) the
// CPUs in iowait are counted per busy device, as PSI's waiters are (perDevice), with the
// waiters `beyond` the CPUs (waitersBeyond) added first.
function iowaitStall(iowait: number | undefined, cpus: number | undefined, devices?: number, busyMax?: number, queue?: DiskQueue, beyond = 0): number | undefined {
  return iowait === undefined ? undefined : 1 - Math.exp(-perDevice(Math.max(0, iowait) * (cpus ?? 1) + beyond, devices, busyMax, queue));
}

// The tasks waiting for io that neither PSI nor iowait can count: the kernel's per-CPU
// stall counts a CPU once however many waiters slept on it, and iowait counts an idle CPU
// once, so ioWaiting and iowait × n count at most n of them; procs_blocked (io_blocked)
// counts every task in io_schedule, so at least blocked - n wait uncounted. On a 2-CPU host
// four tasks waiting on one disk or on NFS read as two (rank_io 196, where 4 to 256 CPUs
// read 392) and eight as two (196 against 460, the cap; rank72, 2026-12-07). A lower bound
// of the uncounted, never a share of the counted, so a host with no more waiters than CPUs
// reads as before; history without io_blocked, or without the CPU count, adds none.
export function waitersBeyond(blocked: number | undefined, n: number | undefined): number {
  return blocked === undefined || n === undefined ? 0 : Math.max(0, blocked - n);
}

// How a model's io part reads PSI io "some": 'device' (models whose training.backboneVersion
// is 3) as the tasks waiting per busy device (perDevice of ioWaiting), 'waiters' (version 2,
// 2026-12-06) as "some" times the CPUs not idle (ioWaiting), the host's, 'some' (the models
// before) as "some" alone, the host-wide share of time a task waited.
export type IoCost = 'waiters' | 'some' | 'device';

// The backbone version a model trained with this build records (training.backboneVersion);
// a model without one was fitted with the io cost of 'some' and is ranked with it.
export const BACKBONE_VERSION = 3;

// The mean number of tasks waiting for io, from PSI io "some" on n CPUs busy a share
// `busy` and in iowait a share `iowait`. The kernel averages each CPU's stall weighted by
// that CPU's non-idle time (collect_percpu_times, kernel/sched/psi.c), and a CPU where a
// task sleeps waiting for io counts as non-idle: one task waiting all the time reads 0.99
// on an otherwise idle host and about 1/(k + 1) beside k CPUs busy with work that does
// not wait. "some" times the CPUs not idle, (busy + iowait) × n, at least one and at most
// n, undoes that weighting: about one task on every size and load, as iowait × n counts
// without PSI (iowaitStall). Read as the host's share it ranked the same disk rank_io 461
// idle and 69 beside one CPU loop (an audit, 2026-12-06). It counts at most a task a CPU
// not idle, and a task that sleeps between its waits less than once (some × non-idle is
// then its stall share squared); without the CPU count, "some" alone.
export function ioWaiting(some: number, busy: number | undefined, iowait: number | undefined, n: number | undefined): number {
  if (!(some > 0)) return 0;
  if (n === undefined) return some;
  const nonIdle = (Math.max(0, busy ?? 0) + Math.max(0, iowait ?? 0)) * n;
  return some * Math.max(1, Math.min(n, nonIdle));
}

// The mean number of I/Os in flight on the physical disks over the interval (io_queue)
// and on the one where it is highest (io_queue_max), and the tasks waiting for io, the
// mean of the last three reads, the daemon's at random instants (io_blocked,
// procs_blocked; undefined in history from before it).
export interface DiskQueue {
  all: number;
  max: number;
  blocked?: number | undefined;
}

// The tasks waiting on one device, from w waiting on the host, the effective number k
// of devices busy (io_devices) and the I/Os in flight on the disks (io_queue,
// io_queue_max): of the w, the local disks hold at most q = min(w, all), and only these
// are divided, q / k, and at least one task (q, where fewer) on a device busy all the
// time and min(q, max) on the deepest queue, however many others are (ioWaiting counts
// at most a task a CPU not idle, so w / k alone ranked every disk saturated below one);
// the other w - q wait where no local disk shows (NFS, Lustre, GPFS) and count whole.
// All w divided by k, four tasks waiting on NFS ranked 33.8, 16.9, 8.5 and 4.2 beside 1,
// 2, 4 and 8 local disks 10 % busy, and four on one saturated disk 33.0-34.9 alone and
// 14.6-15.0 beside a user's dd on each of three others (an audit, 2026-12-06). The
// queue counts requests, not tasks (writeback or an async reader keeps many in flight
// for one task): hence the min with w. The deepest's floor counts them as tasks too (8
// readers keeping 2 in flight each read as 2 a device), yet diskstats gives the same facts
// for 2 waiters on each of 4 disks beside a user's async io on 4 others, where 1 would
// halve the worst disk: it is kept (an audit, 2026-12-06). And w is a lower bound where the waiters
// outnumber the CPUs (ioWaiting), while the queue is not: with the tasks waiting for io
// counted whole (blocked, procs_blocked), the disks hold a share all / blocked of them,
// and of the w only that share, q = w × all / blocked where blocked > w. On a 2-CPU host
// four NFS readers ranked rank_io 116-122 alone and 55-67 beside light io on four disks:
// PSI counted 1.5 of 5.5 waiters, the disks held 1.6 requests, and min(w, all) took all
// of the 1.5 for the disks (measured, 2026-12-06). This q is never above min(w, all), so
// a host never reads lower than without blocked, and never above w undivided: a count
// that reads too many or too few moves the reading only between those two. Without k
// (io to NFS alone, or no device list) the waiters are taken as one device's; without
// the queue (history from before it), all of them are divided and the busiest's share
// alone floors them; without blocked, min(w, all).
export function perDevice(w: number, k: number | undefined, busyMax: number | undefined, queue?: DiskQueue): number {
  if (k === undefined || !(k > 1)) return w;
  const all = queue === undefined ? w : Math.max(0, queue.all);
  const blocked = queue?.blocked ?? 0;
  const local = Math.min(w, blocked > w ? (w * all) / blocked : all);
  const floor = Math.max(Math.min(1, busyMax ?? 0), queue === undefined ? 0 : queue.max, 0);
  return w - local + Math.max(local / k, Math.min(local, floor));
}

// The CPUs the stand-ins for PSI (faultStall, iowaitStall) are taken over: n, or under a
// CPU quota the CPUs a job may use that the quota was taken from (quota_host_cpus, a host
// fact), more than n there. A major fault or an iowait tick anywhere on the machine counts
// in /proc/vmstat and /proc/stat, and a job in the quota runs on the machine's CPUs and
// disks among the others' tasks: the stall share is the machine's, which the quota's
// smaller CPU factor then multiplies (rank_mem) and which io does not divide. Over the
// quota's Q CPUs the faults counted n / Q times and the tasks waiting for io Q / n times:
// without PSI a half-busy 128-CPU machine with 19 200 major faults a second ranked 0.7
// without a quota, 49.6 under `cpus: 2` and 178.7 under `cpus: 1`; with 10 % iowait 23.0
// and 1.0 (an audit, 2026-12-05). History from before the fact, and hosts without a
// quota, read n.
function stallCpus(n: number | undefined, quotaHostCpus: number | undefined): number | undefined {
  return n !== undefined && quotaHostCpus !== undefined && quotaHostCpus > n ? quotaHostCpus : n;
}

// The CPUs the tasks waiting for io are counted over (ioWaiting, iowaitStall): the
// machine's online CPUs where a job may use only some (machine_cpus, a host fact), since
// PSI io weights each of them by its non-idle time and /proc/stat's iowait share is of
// all of them; else stallCpus' (over). Over the job's 2 of 64 CPUs, one task keeping an
// NFS mount busy read rank_io 99 alone and 1.6 beside 62 busy CPUs outside them, and
// without PSI 3 where every CPU a job's reads 100 (an audit, 2026-12-06). History from
// before the fact reads over as before.
function ioCpus(n: number | undefined, over: number | undefined, machineCpus: number | undefined): number | undefined {
  return n !== undefined && over !== undefined && machineCpus !== undefined && machineCpus > over ? machineCpus : over;
}

function share(x: number | undefined): number {
  if (x === undefined || !(x > 0)) return 0;
  return Math.min(MAX_STALL, x);
}

// The slowdown a share s of time lost causes: s / (1 - s).
export function stallSlowdown(s: number): number {
  const c = Math.min(MAX_STALL, Math.max(0, s));
  return c / (1 - c);
}

// The io part's slowdown for an io stall share s: the share of time at least one task
// waited (for PSI, 1 - exp(-w) of the w tasks waiting, ioWaiting; for a busy disk, its
// discounted busy share). A new job's io shares the device with the tasks already
// waiting, so it slows by about their mean number; s is the chance that there is at
// least one, and for tasks that wait independently that mean is -ln(1 - s). Near 0 this is s / (1 - s) (s + s²/2 against s + s²); near 1 it grows
// slowly where s / (1 - s) explodes: one sequential reader keeps "some" near 1, yet a
// second stream gets about half the disk (+100 %), not a hundredth (+9900 %).
export function ioSlowdown(s: number): number {
  const c = Math.min(MAX_STALL, Math.max(0, s));
  return c === 0 ? 0 : -Math.log1p(-c);
}

// The raw named values backbone() reads: as rawFeatures gives them and history
// stores them; null or missing where unavailable, which counts as idle.
export type BackboneInput = Readonly<Record<string, number | null | undefined>>;

// The backbone's slowdowns for raw named feature values.
export function backbone(raw: BackboneInput, params: Readonly<BackboneParams> = DEFAULT_BACKBONE, ioCost: IoCost = 'device'): BackboneResult {
  return backboneWith(params, ioCost)(raw);
}

// backbone() for parameters that stay fixed, as a loaded model's do. What depends
// on the parameters alone is computed here once rather than at each call: the daemon
// calls it every report in the interpreter, which would box those numbers anew each
// time (16 heap numbers, a quarter of what a call allocated). Same numbers.
// ioCost: how PSI io "some" is read (IoCost); a model file's own (model.ts), else this build's.
export function backboneWith(params: Readonly<BackboneParams>, ioCost: IoCost = 'device'): (raw: BackboneInput) => BackboneResult {
  return backboneOf(params, ioCost, true);
}

// backboneWith without the parts, for the daemon's report, which reads only the
// slowdowns: one object of eight values less a report. Same numbers.
export function backboneRanksWith(params: Readonly<BackboneParams>, ioCost: IoCost = 'device'): (raw: BackboneInput) => BackboneRanks {
  return backboneOf(params, ioCost, false);
}

function backboneOf(params: Readonly<BackboneParams>, ioCost: IoCost, withParts: true): (raw: BackboneInput) => BackboneResult;
function backboneOf(params: Readonly<BackboneParams>, ioCost: IoCost, withParts: false): (raw: BackboneInput) => BackboneRanks;
function backboneOf(params: Readonly<BackboneParams>, ioCost: IoCost, withParts: boolean): (raw: BackboneInput) => BackboneRanks | BackboneResult {
  const a = Math.min(1, Math.max(0, params.runnableWeight));
  const loadWeight = 1 - a;
  const secondsPerPage = Math.max(0, params.secondsPerPage);
  const from = Math.min(0.999, Math.max(0, params.memFullFrom));
  const fullSpan = 1 - from;
  const wCpu = Math.max(0, params.weights.cpu);
  const wMem = Math.max(0, params.weights.mem);
  const wIo = Math.max(0, params.weights.io);
  return (raw) => {
    // Every raw value it reads, as history records hold it: a finite number, else
    // undefined (v - v is 0 for a finite number alone: Number.isFinite without its global
    // load and call). Each is read by its name (raw.cpus), a named load: through one
    // function taking the name, each was a keyed load by a name that changes from call to
    // call, the megamorphic path in the daemon's interpreter. And each is tested written
    // out: through a function of the value, a call apiece cost about 200 instructions
    // there, 4 500 of the score's 35 000 a report (docs/collectors.md, perf25).
    let v: number | null | undefined;
    const cpusRaw = typeof (v = raw.cpus) === 'number' && v - v === 0 ? v : undefined;
    const runnableRaw = typeof (v = raw.runnable_per_cpu) === 'number' && v - v === 0 ? v : undefined;
    const load1Raw = typeof (v = raw.load1_per_cpu) === 'number' && v - v === 0 ? v : undefined;
    const coresRaw = typeof (v = raw.cores) === 'number' && v - v === 0 ? v : undefined;
    const stealRaw = typeof (v = raw.cpu_steal) === 'number' && v - v === 0 ? v : undefined;
    const quotaCpusRaw = typeof (v = raw.quota_host_cpus) === 'number' && v - v === 0 ? v : undefined;
    const faults = typeof (v = raw.major_faults) === 'number' && v - v === 0 ? v : undefined;
    const swapIo = typeof (v = raw.swap_io) === 'number' && v - v === 0 ? v : undefined;
    const memUsedRaw = typeof (v = raw.mem_used) === 'number' && v - v === 0 ? v : undefined;
    const psiMem = typeof (v = raw.psi_mem_some) === 'number' && v - v === 0 ? v : undefined;
    const psiIo = typeof (v = raw.psi_io_some) === 'number' && v - v === 0 ? v : undefined;
    const iowait = typeof (v = raw.cpu_iowait) === 'number' && v - v === 0 ? v : undefined;
    const machineCpusRaw = typeof (v = raw.machine_cpus) === 'number' && v - v === 0 ? v : undefined;
    const machineBusy = typeof (v = raw.machine_busy) === 'number' && v - v === 0 ? v : undefined;
    const quotaBusy = typeof (v = raw.quota_host_busy) === 'number' && v - v === 0 ? v : undefined;
    const cpuBusy = typeof (v = raw.cpu_busy) === 'number' && v - v === 0 ? v : undefined;
    const diskBusy = typeof (v = raw.disk_busy_max) === 'number' && v - v === 0 ? v : undefined;
    const ioDevicesRaw = typeof (v = raw.io_devices) === 'number' && v - v === 0 ? v : undefined;
    const queueAll = typeof (v = raw.io_queue) === 'number' && v - v === 0 ? v : undefined;
    const queueMaxRaw = typeof (v = raw.io_queue_max) === 'number' && v - v === 0 ? v : undefined;
    const blocked = typeof (v = raw.io_blocked) === 'number' && v - v === 0 ? v : undefined;
    const netUtilRaw = typeof (v = raw.net_util_max) === 'number' && v - v === 0 ? v : undefined;
    // CPU: processor sharing. With n CPUs and r other tasks wanting one, a new task
    // gets min(1, n / (r + 1)) of a CPU: on a free CPU it runs at full speed whatever
    // the host's size. r mixes the runnable count now (weight a) with the 1-minute load.
    // Fewer than one where a CPU quota gives less (docker --cpus 0.5): a task alone gets that.
    const n = cpusRaw !== undefined && cpusRaw > 0 ? cpusRaw : undefined;
    const runnablePerCpu = Math.max(0, runnableRaw ?? 0);
    const load1PerCpu = Math.max(0, load1Raw ?? runnablePerCpu);
    const perCpu = a * runnablePerCpu + loadWeight * load1PerCpu;
    // Without the CPU count (history from older versions) only the per-CPU limit of a
    // large host is known: the new task waits once tasks outnumber CPUs.
    // On an SMT host (fewer cores than CPUs) a thread beside a busy sibling is not a
    // free CPU: smtCapacity. Without the core count (older history, no topology in
    // sysfs), every CPU counts as a core.
    const cores = n !== undefined && coresRaw !== undefined && coresRaw >= 1 && coresRaw < n ? coresRaw : undefined;
    const tasksWithNew = n === undefined ? 0 : perCpu * n + 1;
    const cpuShare =
      n === undefined
        ? Math.min(1, 1 / Math.max(1, perCpu))
        : cores === undefined
          ? Math.min(1, n / tasksWithNew)
          : Math.min(1, smtCapacity(tasksWithNew, n, cores) / tasksWithNew);
    const steal = share(stealRaw);
    const cpuFactor = 1 / (cpuShare * (1 - steal));

    // Memory: the PSI share, the paging rate and a nearly full memory, as independent stalls.
    // Without PSI the stand-ins count the machine's faults and iowait, so they are taken
    // over the CPUs the machine has for a job, not a CPU quota's (stallCpus).
    const over = stallCpus(n, quotaCpusRaw);
    const pages = Math.max(0, swapIo ?? 0) + Math.max(0, faults ?? 0);
    const memUsed = memUsedRaw ?? 0;
    const fromPsi = share(psiMem ?? faultStall(faults, over ?? 1));
    const fromPaging = share(pages * secondsPerPage);
    const fromFull = share(Math.min(1, Math.max(0, (memUsed - from) / fullSpan)) * MEM_FULL_STALL);
    const memStall = Math.min(MAX_STALL, 1 - (1 - fromPsi) * (1 - fromPaging) * (1 - fromFull));

    // I/O: the PSI share, or the busiest disk's busy share (discounted) where it says more.
    // Without PSI (before 4.20: RHEL 7's 3.10) the CPUs' iowait stands in for PSI's share
    // (iowaitStall: the mean number of CPUs in iowait, at most that of tasks waiting for
    // io; on a host whose other CPUs are busy, much less). Else a host whose io goes to
    // NFS or Ceph (rbd), which no disk shows, or whose disk collector failed, had no io
    // stall: 45 % iowait on 2 CPUs ranked as idle, rank_io 0.
    // PSI's share is read as the tasks waiting (ioWaiting), which the stall 1 - exp(-w) costs
    // exactly, as iowaitStall's; models fitted before read it as the share itself. Over the
    // machine's CPUs under a quota (stallCpus), as iowaitStall: PSI is the machine's, diluted
    // by every CPU's busy time, and over the quota's Q CPUs a container ranked below the same
    // machine without a quota (75.5 against 100.9 in features' SMT quota property). The
    // machine's busy share there is the host fact quota_host_busy (cpu_busy is the larger
    // of it and the quota's share used); history from before it reads cpu_busy, higher.
    // Where a job may use only some CPUs, over all the machine's (ioCpus): PSI io and
    // iowait are weighted over them, whatever the job's.
    const machine = ioCpus(n, over, machineCpusRaw);
    const ioBusy = (machine !== over ? machineBusy : over !== n ? quotaBusy : undefined) ?? cpuBusy;
    // Version 3 counts the waiters per busy device, PSI's or, without PSI, the CPUs in
    // iowait: read on the host, 8 saturated disks ranked rank_io 460 without PSI and 100 with it.
    const devices = ioCost === 'device' ? ioDevicesRaw : undefined; // perDevice(w, undefined) is w
    const queueMax = queueMaxRaw ?? 0;
    const queue = queueAll === undefined ? undefined : { all: queueAll, max: queueMax, blocked };
    // Version 3 adds the waiters beyond the machine's CPUs, which PSI and iowait cannot count.
    const beyond = ioCost === 'device' ? waitersBeyond(blocked, machine) : 0;
    let ioFromPsi: number | undefined;
    if (psiIo !== undefined && ioCost === 'some') ioFromPsi = psiIo;
    else if (psiIo !== undefined) ioFromPsi = 1 - Math.exp(-perDevice(ioWaiting(psiIo, ioBusy, iowait, machine) + beyond, devices, diskBusy, queue));
    const ioStall = Math.max(share(ioFromPsi ?? iowaitStall(iowait, machine, devices, diskBusy, queue, beyond)), share(diskBusy) * DISK_BUSY_STALL);

    // Network: a link carries streams as a disk does, and one bulk transfer keeps it
    // near 100 % while a second one still gets about half of it: ioSlowdown's argument.
    const netUtil = share(netUtilRaw);

    const cpu = 100 * (cpuFactor - 1);
    const mem = 100 * (cpuFactor * (1 + stallSlowdown(memStall)) - 1);
    const io = 100 * ioSlowdown(ioStall);
    const net = 100 * ioSlowdown(netUtil);
    const rank = wCpu * cpu + wMem * mem + wIo * io + NET_WEIGHT * net;
    if (!withParts) return { rank, cpu, mem, io, net };
    return {
      rank,
      cpu,
      mem,
      io,
      net,
      parts: { cpus: n ?? null, cores: cores ?? null, tasks: n === undefined ? perCpu : perCpu * n, cpuShare, steal, memStall, ioStall, netUtil },
    };
  };
}
