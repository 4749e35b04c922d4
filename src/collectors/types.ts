// The shape of one sample of the host, as the collectors produce it and
// toFeatures() consumes it. A missing subsystem means "unavailable this tick"
// (no delta yet, a counter reset, a kernel without PSI, no GPU), never zero.

// Fractions of all online CPUs' time since the previous tick, 0..1.
export interface CpuReading {
  user: number; // user + nice
  system: number; // system + irq + softirq
  iowait: number;
  steal: number;
  busy: number; // everything but idle and iowait
  online: number; // online CPUs counted in /proc/stat
  minBusy?: number; // the least busy online CPU's busy share (isolated CPUs and those outside lavarank's affinity left out); absent when unknown
  spansFailure?: true; // the interval spans a read of /proc/stat that failed, so it is longer than the other collectors' (pressure's cpuSomeInterval); absent otherwise
  own?: number; // the CPUs' worth of time lavarank's own process ran over the interval (all its threads); absent where /proc/stat is not the running kernel's
  blocked?: number; // the tasks waiting for io, the mean of procs_blocked at the last three peeks where the daemon takes one an interval (at an instant of no report's, the collector's peek()), else at the last three reads (this interval's two ends and the one before, where the interval before was half to twice as long, else the two ends; fewer after a reading without it); not capped at one a CPU, as PSI io is; absent where /proc/stat has none
  // Where a job may use only some of the online CPUs (isolcpus=, an affinity or cpuset,
  // cpu.job_cpus), and at least one: how many, their busy share, and the cores they
  // make where fewer than they (SMT; absent when sysfs does not say). Absent otherwise.
  jobCpus?: number;
  jobBusy?: number;
  jobCores?: number;
  // With them: the tasks running on the other CPUs (their busy time), averaged over
  // the readings as the kernel averages the 1-minute load, to take out of it.
  jobElsewhere1?: number;
  // The CPUs' worth of time /proc/stat's times left out of the interval (wallJiffies in
  // src/collectors/cpu.ts: a program run between ticks, charged none, which the load
  // average, sampled at ticks, misses too), averaged as the kernel averages the 1-minute
  // load, to add to it. Absent while no time was ever left out.
  untimed1?: number;
  // Where lavarank's cgroup, which LIM, sbatchd and their jobs share (a container's), or
  // an ancestor of it has a CPU quota below the CPUs a job may use: the quota in CPUs,
  // the CPUs' worth of time the cgroup used and spent throttled since the last reading,
  // and their sum averaged as the kernel averages the 1-minute load. Absent otherwise.
  quotaCpus?: number;
  quotaUsed?: number;
  quotaThrottled?: number;
  quotaTasks1?: number;
}

// From /proc/loadavg.
export interface LoadReading {
  load1: number;
  load1PerCpu: number;
  runnable: number; // runnable tasks, not counting the process reading /proc/loadavg
  runnablePerCpu: number;
  online: number;
  cores?: number | undefined; // cores the online CPUs make (SMT threads share one); absent when sysfs does not say
}

// From /proc/meminfo and /proc/vmstat. Rates are absent until a delta exists.
export interface MemoryReading {
  totalBytes: number;
  availableBytes: number;
  usedFraction: number; // 1 - MemAvailable / MemTotal
  swapTotalBytes: number;
  swapUsedFraction: number; // 0 when there is no swap
  swapInPerSec?: number; // pages
  swapOutPerSec?: number; // pages
  majorFaultsPerSec?: number;
  // Where lavarank's cgroup, which LIM, sbatchd and their jobs share (a container's), or
  // an ancestor has a memory limit below MemTotal: the limit, and the share of it in use
  // less inactive file pages. Absent otherwise.
  cgroupLimitBytes?: number;
  cgroupUsedFraction?: number;
  // With those, the share of the interval some task of a limited cgroup stalled on
  // memory, from its own memory.pressure (the unified hierarchy's), the worst of them;
  // absent where none can be read (v1 alone, PSI off, the unified cgroup the root).
  cgroupPressureSome?: number;
}

// One physical disk's figures for the tick.
export interface DiskDevice {
  name: string;
  busy: number; // fraction of wall time with I/O in flight (io_ticks), 0..1
  readBytesPerSec: number;
  writeBytesPerSec: number;
}

// Physical block devices from /proc/diskstats. The device list and the throughput
// are there only with CollectorOptions.detail: the model uses neither.
export interface DiskReading {
  devices?: DiskDevice[];
  busiest?: string;
  busyMax: number;
  busyMean: number;
  busyDevices?: number; // the devices busy at least IO_DEVICE_BUSY, each by its busy share over the busiest's; absent when none is
  queue?: number; // the mean number of I/Os in flight on all the disks (their weighted time in queue over the interval); only beside busyDevices, absent when a disk's went backwards
  queueMax?: number; // the most of them on one disk; given with queue
  readBytesPerSec?: number;
  writeBytesPerSec?: number;
}

// One physical interface's figures for the tick.
export interface NetInterface {
  name: string;
  rxBytesPerSec: number;
  txBytesPerSec: number;
  speedBitsPerSec?: number; // the kernel's, else CollectorOptions.linkSpeedMbps; absent when neither says
  learnedBitsPerSec?: number; // without speedBitsPerSec: the capacity learned (network.ts, learnedCapacity)
  utilization?: number; // max(rx, tx) * 8 / (speed, else the learned capacity), 0..1
}

// Physical network interfaces from /proc/net/dev and /sys/class/net. The interface
// list and the totals are there only with CollectorOptions.detail: the model uses neither.
export interface NetworkReading {
  interfaces?: NetInterface[];
  rxBytesPerSec?: number;
  txBytesPerSec?: number;
  utilizationMax?: number; // absent when no physical interface has two readings
}

// Pressure stall information, avg10, as fractions 0..1 (the kernel prints percent).
export interface PressureReading {
  cpuSome: number;
  cpuFull?: number; // only kernels >= 5.13 print "full" for cpu
  // The share of the time since the last reading that some task waited for a CPU, from
  // the cpu "some" line's total (a counter, which no pause at the reads can dodge, where
  // avg10 is an average); absent at the first reading, at the first after one without
  // the cpu file, and where the total went back.
  cpuSomeInterval?: number;
  memorySome: number;
  memoryFull: number;
  ioSome: number;
  ioFull: number;
}

// NVIDIA GPUs, from the last successful background query. A field that no GPU
// reports (nvidia-smi prints `[Not Supported]` or `[N/A]`) is absent.
export interface GpuReading {
  count: number;
  utilMean?: number; // 0..1, over the GPUs that report it
  utilMax?: number; // 0..1
  memUsedFraction?: number; // 0..1, the fullest GPU
  ageMs: number; // how old the query result is
  // GPUs read without, "what names it: what nvidia-smi said": those it could not reach by
  // bus id, those in trouble ([GPU requires reset] in their row) by index
  lost?: string[];
}

// What each collector contributes, by collector name.
export interface SampleParts {
  cpu: CpuReading;
  load: LoadReading;
  memory: MemoryReading;
  disk: DiskReading;
  network: NetworkReading;
  pressure: PressureReading;
  gpu: GpuReading;
}

// A collector's name is the key of its part in the Sample.
export type CollectorName = keyof SampleParts;

// One sample: what every collector returned this tick.
export interface Sample extends Partial<SampleParts> {
  ts: number; // wall clock, epoch milliseconds
  failures: Partial<Record<CollectorName, string>>; // collector name -> why it gave nothing
}

// Where the kernel's files are; tests point these at fixture trees.
export interface CollectorOptions {
  procRoot?: string; // default /proc
  sysRoot?: string; // default /sys
  // Figures the model does not use (each disk's and interface's, throughput), for people reading a
  // sample (lavarank once --json, calibration). Default true; the daemon turns it off.
  detail?: boolean;
  // Which files are kept open and read again from their start each tick; default
  // onKernelFs (those on procfs and sysfs). Tests and `npm run bench` keep every file
  // of a generated tree open, as lavarank keeps a real node's /proc and /sys files.
  keepOpen?: (path: string) => boolean;
  // The link speed (Mb/s) assumed for a physical interface whose kernel reports none
  // (network.link_speed); the kernel's speed wins where known. Default: none assumed.
  linkSpeedMbps?: number;
  // The CPUs jobs may run on (cpu.job_cpus), where the site confines jobs otherwise than
  // LIM (a JOB_STARTER running taskset); default: lavarank's own affinity, which LIM's
  // jobs share.
  jobCpus?: readonly number[];
  // How a link's speed file is read (src/collectors/linkspeed.ts); default: in the thread
  // pool, never on the daemon's thread. Tests that take two readings in one synchronous
  // step give a reader that answers at once.
  linkSpeedRead?: SpeedRead;
  // Where /proc/stat's times are the running kernel's, so that time they leave out of the
  // interval can be told (the cpu collector's wall floor): the clock collect() is given,
  // read again when /proc/stat's read has returned; false where they are not. Default:
  // the monotonic clock (src/util/clock.ts) where /proc/stat is on procfs. Tests give it
  // with a fake tree and clock.
  kernelClock?: false | (() => number);
  // The CPU time lavarank's own process has used, in microseconds (all its threads,
  // not its children's), so that the least busy CPU's share can be read without it.
  // Default: process.cpuUsage() where /proc/stat is on procfs, none otherwise. Tests
  // give it with a fake tree.
  ownCpuUs?: false | (() => number);
  // Where a collector tells what is not a failure of one reading: a kernel read in the
  // background (a link speed) that has not returned. Default: not told.
  warn?: (message: string) => void;
}

// Reads one link speed file, calling back with its text or the error
// (src/collectors/linkspeed.ts).
export type SpeedRead = (path: string, done: (err: Error | null, text?: string) => void) => void;

// A collector keeps its own previous counters; collect() is called once per tick.
export interface Collector<K extends CollectorName = CollectorName> {
  readonly name: K;
  // Returns this tick's values, or undefined while no delta exists yet
  // (first tick, counter went backwards). Throws CollectorError on bad input.
  collect(monotonicMs: number): SampleParts[K] | undefined;
  // Reads what the next collect() counts at an instant of no report's, between two
  // collect()s (the cpu collector's procs_blocked); optional, and never a failure.
  peek?(): void;
  // Releases timers or child processes (the GPU poller); optional.
  close?(): void;
  // Settles once a collector that gathers in the background (the GPU poller) has its
  // first result or failure, for a one-shot sample that should not read "none yet".
  ready?(): Promise<void>;
}
