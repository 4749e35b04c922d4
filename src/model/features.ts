// The model's inputs: one fixed, named, ordered list of features, each scaled to
// 0..1. The daemon (toFeatures on a live sample), the training scripts (toFeatures
// on a calibration sample) and retrain (featuresFromNamed on a history line) all go
// through featuresFromNamed, so training and serving cannot drift apart. The table
// of sources, scalings and rules for unavailable inputs is in docs/model.md.
import { tasksElsewhere } from '../collectors/cpu.js';
import { IO_DEVICE_BUSY } from '../collectors/disk.js';
import { smtCapacity } from './backbone.js';
import type { Sample } from '../collectors/types.js';
import { taggedArray } from '../util/tagged.js';

// How a raw value becomes 0..1: linear is min(x / cap, 1); log1p is
// min(ln(1 + x) / ln(1 + cap), 1), for rates that span orders of magnitude;
// inverse is 1 / (1 + x) and complement 1 - min(x, 1), for inputs where more means
// less contention (CPUs, free CPUs, a CPU share), so that every scaled input grows
// with contention: the network's monotonicity rests on that.
export type Transform = 'linear' | 'log1p' | 'inverse' | 'complement';

// What a raw value counts, for explain's display.
export type FeatureUnit = 'fraction' | 'per-cpu' | 'per-second' | 'count';

// One feature: its name, where it comes from, how it is scaled and what stands in
// for it when the input is unavailable.
export interface FeatureSpec {
  readonly name: string;
  readonly unit: FeatureUnit;
  readonly transform: Transform;
  readonly cap: number;
  readonly source: string;
  // Reads the raw value from a sample; undefined when the input is unavailable. view:
  // viewOf(sample), where the caller has it (rawFeatures computes it once for every read).
  readonly read: (sample: Sample, view?: SampleView) => number | undefined;
  // An estimate of the raw value from other features that are present, where one
  // is well founded; otherwise the idle value (0) stands in.
  readonly estimate?: { readonly from: string; readonly how: string; readonly fn: (raw: RawLookup) => number | undefined };
  // A feature computed from the CPU count n (> 0) and the runnable tasks per CPU r
  // (≥ 0), the raw values of cpus and runnable_per_cpu (never read from a sample
  // directly): recomputed whenever raw values are turned into features, so an edited
  // state (recommend's added jobs) or an old history line stays consistent; unavailable
  // where either is, or n is not above 0, or the result is not finite. Two numbers
  // rather than a lookup: the daemon derives every report, and a lookup by name was a
  // closure and a keyed load apiece in the interpreter.
  readonly derive?: (n: number, r: number) => number;
  // host: the host's size, which no load changes; its range in training is checked
  // both ways. contention (the rest): only values above the range leave it.
  readonly kind?: 'host' | 'contention';
}

// Raw values of the features that were present, for estimates.
export type RawLookup = (name: string) => number | undefined;

const sum2 = (a: number | undefined, b: number | undefined): number | undefined =>
  a === undefined || b === undefined ? undefined : a + b;

// The runnable tasks per CPU that the rank believes. /proc/loadavg's count is one
// instant: a burst of short commands at the moment of the read (a job's launch, an
// administrator's ps, the kernel's own workers) showed a 2-CPU host that had been
// idle for the whole interval as oversubscribed (rank 100-150 under a real LIM), and
// one kernel worker at the read flipped a 2-CPU host with one busy task between 0
// and 30 from report to report. Over the interval, the tasks that wanted a CPU
// averaged the busy CPUs (busy × n) plus those waiting, whom PSI cpu "some" counts as
// a share of the time: at most busy × n + r × some. A count above that is a transient
// and is cut to it; a persistent load passes, since its CPU time and pressure account
// for it. A job that started just before the read shows whole at the next report
// (the queue's reservation covers it until then). Held-out validation agrees: the
// recipe's error fell from 52.2 to 47.2 when the bound stopped allowing one more
// task (docs/model.md). Without PSI (kernels before 4.20, and RHEL 8 and 9 unless
// booted with psi=1) "some" is taken at its largest for a task that is not pinned:
// the least busy CPU's share, or the busy share where that is unknown (accountedFor).
// Without the CPU share the count is taken as read.
export function runnableShown(s: Sample, view: SampleView = viewOf(s)): number | undefined {
  const quota = view.quota;
  const host = hostRunnableShown(s, view.job);
  return quota === undefined ? host : withinQuota(quota, host, quota.tasks);
}

// runnableShown over the CPUs a job may use (job: jobView's), before any CPU quota.
function hostRunnableShown(s: Sample, job: JobView | undefined): number | undefined {
  const load = s.load;
  if (load === undefined) return undefined;
  if (job === undefined) return accountedFor(s, s.pressure?.cpuSome, s.cpu?.busy, load.runnablePerCpu, load.runnable, load.online, true, s.pressure?.cpuSomeInterval);
  const tasks = Math.max(0, load.runnable - job.elsewhere);
  return accountedFor(s, jobPressure(s, job), job.busy, tasks / job.cpus, tasks, job.cpus, true, undefined);
}

// The host as a job sees it where a job may use only some of the online CPUs
// (isolcpus=, an affinity or cpuset that LIM and its jobs share, cpu.job_cpus): those
// CPUs, their busy share, and the tasks taken to run on the others (one a busy CPU's
// worth: their busy time), which /proc/loadavg's host-wide counts also hold. The
// counts per CPU are then over those CPUs, less those tasks: 4 hogs on the 2 CPUs a
// 64-CPU host with isolcpus=2-63 leaves its jobs are 2 a CPU, as on a 2-CPU host,
// not 4/64. Tasks queued on the other CPUs are not known apart from those on the job's
// (procfs gives no per-CPU queue without schedstats) and count as the job's where PSI
// lets them through. Undefined where a job may use every online CPU.
export function jobView(s: Sample): JobView | undefined {
  const cpu = s.cpu;
  const cpus = cpu?.jobCpus;
  const busy = cpu?.jobBusy;
  if (cpu === undefined || cpus === undefined || busy === undefined || !(cpus >= 1) || !(cpus < cpu.online) || !(busy >= 0 && busy <= 1)) return undefined;
  return { cpus, busy, elsewhere: tasksElsewhere(cpu.busy, cpu.online, busy, cpus) };
}

// The host as a job sees it where lavarank's cgroup, which LIM, sbatchd and their jobs
// share (a container's), or an ancestor has a CPU quota of fewer CPUs than a job may
// use (the cpu collector's quotaCpus): the quota Q, the CPUs it is taken on (n: those a
// job may use) and the cores they make (hostCores, the cores fact's before the quota),
// and the cgroup's tasks that want a CPU, its CPUs' worth used plus its
// CPUs' worth throttled (each throttled run queue holds at least one task), over the
// last interval (tasks) and averaged as the 1-minute load (tasks1). Throttled tasks
// leave the kernel's run queues, so /proc/loadavg does not count them, and /proc/stat
// is the machine's: a container of `cpus: 2` on a 16-CPU machine running two loops
// ranked 0 where a new job there gets two thirds of a CPU. Undefined without a quota.
export function quotaView(s: Sample): QuotaView | undefined {
  return quotaOf(s, jobView(s));
}

// quotaView with the sample's jobView (job) already known.
function quotaOf(s: Sample, job: JobView | undefined): QuotaView | undefined {
  const cpu = s.cpu;
  const q = cpu?.quotaCpus;
  const used = cpu?.quotaUsed;
  const throttled = cpu?.quotaThrottled;
  if (cpu === undefined || q === undefined || used === undefined || throttled === undefined) return undefined;
  const hostCpus = job?.cpus ?? s.load?.online ?? cpu.online;
  if (!(q > 0) || !(q < hostCpus) || !(used >= 0 && used < Infinity) || !(throttled >= 0 && throttled < Infinity)) return undefined;
  const tasks = used + throttled;
  const t1 = cpu.quotaTasks1;
  const hostCores = job !== undefined ? cpu.jobCores : s.load?.cores;
  return { cpus: q, hostCpus, hostCores, tasks, tasks1: t1 !== undefined && t1 >= 0 && t1 < Infinity ? t1 : tasks };
}

// jobView's host as a job sees it where it may use only some of the CPUs.
export interface JobView {
  readonly cpus: number;
  readonly busy: number;
  readonly elsewhere: number;
}

// quotaView's host as a job sees it under a CPU quota.
export interface QuotaView {
  readonly cpus: number;
  readonly hostCpus: number;
  readonly hostCores: number | undefined;
  readonly tasks: number;
  readonly tasks1: number;
}

// A sample's jobView and quotaView, which several reads of one sample need: worked out
// once for all of them by rawFeatures (called apiece, some 16 calls a report in the
// interpreter, about 3 % of rawFeatures), and by any read given none.
export interface SampleView {
  readonly job: JobView | undefined;
  readonly quota: QuotaView | undefined;
}

// Where a job may use every CPU and has no quota: most hosts, without an allocation.
const UNCONFINED: SampleView = Object.freeze({ job: undefined, quota: undefined });

// The view of a sample that its reads share (SampleView).
export function viewOf(s: Sample): SampleView {
  const job = jobView(s);
  const quota = quotaOf(s, job);
  return job === undefined && quota === undefined ? UNCONFINED : { job, quota };
}

// Whether a job sees fewer CPUs than the machine has: only some of them (jobView) or a
// CPU quota (quotaView). Then the facts machine_cpus and machine_busy are given.
function seenConfined(view: SampleView): boolean {
  return view.job !== undefined || view.quota !== undefined;
}

// Tasks per CPU under a quota: the more contended of the quota's and the host's. A new
// task gets min(Q / (T + 1), n / (H + 1)) of a CPU, T being the cgroup's tasks and H the
// tasks on its n CPUs (perCpu × n, which count the cgroup's that run): the backbone's
// share Q / (tasks + 1) is that for tasks = max(T, (H + 1) × Q / n − 1), tasks / Q per
// CPU (on an SMT machine, the machine's share is the SMT one: smtTasksPerCpu). Either
// rises with each count; without the host's reading the quota's alone.
function withinQuota(quota: { cpus: number; hostCpus: number; hostCores: number | undefined }, perCpu: number | undefined, tasks: number): number {
  const own = tasks / quota.cpus;
  if (perCpu === undefined) return own;
  const plain = perCpu + 1 / quota.hostCpus - 1 / quota.cpus;
  const smt = smtTasksPerCpu(quota, perCpu);
  const host = smt > plain ? smt : plain;
  return own >= host ? own : host;
}

// On an SMT machine whose tasks outnumber its cores, a new task there gets
// smtCapacity(H + 1, n, c) / (H + 1) of a core, less than n / (H + 1): the tasks per CPU
// at which the backbone gives that share on the quota's Q CPUs, with the cores it takes
// there (the cores fact: the machine's where fewer than Q, else none), so that a quota
// that does not bind leaves the machine's figure. 0 where the machine leaves a task a
// core of its own. Without it, a container of `cpus: 16` on a 64-thread machine whose
// every thread was busy ranked 2.8 where the machine ranks 62.9.
function smtTasksPerCpu(quota: { cpus: number; hostCpus: number; hostCores: number | undefined }, perCpu: number): number {
  const { cpus: q, hostCpus: n, hostCores: c } = quota;
  if (c === undefined || !(c >= 1 && c < n)) return 0;
  const x = Math.max(0, perCpu) * n + 1;
  const share = smtCapacity(x, n, c) / x;
  if (!(share < 1)) return 0;
  // The backbone's share Q' / X on the quota's CPUs, inverted for X (tasks with the new one).
  const cores = c < q ? c : q;
  const full = smtCapacity(q, q, cores); // what X ≥ Q tasks get done together
  const slope = cores < q ? (full - cores) / (q - cores) : 0; // each task beyond the cores adds this
  const tasks = share <= full / q ? full / share : (cores * (1 - slope)) / (share - slope);
  return (tasks - 1) / q;
}

// PSI cpu "some" over the CPUs a job may use, where fewer than the online ones. The
// kernel averages each CPU's share weighted by its non-idle time (collect_percpu_times
// in kernel/sched/psi.c), so busy CPUs outside the job's without a queue dilute the
// waiting on the job's: 8 tasks on the 2 CPUs isolcpus=2-63 leaves a 64-CPU host's jobs,
// a poller on each of the other 62, show 2/64, and ranked 52 where a 2-CPU host with 8
// tasks ranks 344 (an audit, 2026-12-05; the rank stayed at 52 from 3 tasks to 8). The
// counts already take each busy CPU elsewhere as one task and no queue (jobView), so
// the waiting is the job's CPUs': the host's share times all the busy time over what
// the job's CPUs weigh, at most their number (exact once they are all busy, the only
// way tasks that are not pinned wait there; over their own busy time it would fall as
// they grow busier). Never less than the host's share, and at most 1.
function jobPressure(s: Sample, job: JobView): number | undefined {
  const psi = s.pressure?.cpuSome;
  if (psi === undefined || !(psi > 0)) return psi;
  const seen = psi * (job.busy + job.elsewhere / job.cpus);
  return seen > psi ? (seen < 1 ? seen : 1) : psi;
}

// The busy share the rank reads: of the CPUs a job may use where fewer than the online
// ones (jobView), else of all of them. The model's cpu_busy and the formula's CPU term.
export function cpuBusyShown(s: Sample, view: SampleView = viewOf(s)): number | undefined {
  const busy = view.job?.busy ?? s.cpu?.busy;
  const quota = view.quota;
  if (quota === undefined) return busy;
  // Under a CPU quota, also the share of the quota used: the more contended.
  const used = Math.min(1, s.cpu!.quotaUsed! / quota.cpus);
  return busy === undefined || used > busy ? used : busy;
}

// perCpu, or what the interval's CPU time and pressure account for when that is less:
// busy + tasks × some / cpus, "some" being PSI cpu's (psi: over the job's CPUs where
// fewer, jobPressure) but at most the busy share of the least busy CPU (minBusy; the
// busy share where that is unknown, and without PSI);
// and the waiting part at most some / (1 − some) per CPU for a count read at one
// instant (instant), or for any count where PSI shows more waiting than minBusy
// allows. The tasks' waiting share is given as a count over a number of CPUs so that
// each caller's arithmetic stays as it was: runnableShown's runnable tasks over the
// online CPUs, load1Shown's load already per CPU (over 1). Never below the least busy
// CPU's share where that is known. Without the CPU share, perCpu.
//
// Two audit findings (2026-12-02) gave the last two rules. A user who pinned 300
// threads to one CPU of an idle 2-CPU host (taskset: one CPU's cost) kept PSI "some"
// near 1 and ranked it 1000, yet a job placed there runs on the idle CPU: a task that
// is not pinned waits only while every CPU is busy, which is at most as long as the
// least busy CPU was busy, so waiting beyond that is pinned work's. (The calibration
// samples have no minBusy: there the busy share stands in, which validated at 42.4
// against 42.9 without it.) And 2000 threads made runnable for 40-120 ms around each
// of the daemon's reads (1.8 % of the host) ranked it up to 1000, the count at the
// read standing for the whole interval. A queue that is not empty a share "some" of
// the time holds on average some / (1 − some) tasks if its lengths fall off
// geometrically, as those of tasks arriving at random do; a count whose waiting part
// is above that per CPU came in a burst. Steady overload keeps "some" near 1, where the
// rule cuts nothing. The 1-minute load is left out of it unless tasks are pinned: it
// carries the last minute's queue, which the interval's pressure may no longer show
// (bounding it always validated 2.6 points worse), and a burst must be timed to the
// kernel's own 5 s samples to move it. Held-out validation: 43.4 (27.7-66.2) with
// both rules, against 42.9 (28.1-64.2) before them.
function accountedFor(s: Sample, psi: number | undefined, busy: number | undefined, perCpu: number, tasks: number, cpus: number, instant: boolean, waited: number | undefined): number {
  if (busy === undefined || !(cpus > 0)) return perCpu;
  const alone = s.cpu?.minBusy; // the least busy CPU's share: all were busy at most that long
  // minBusy alone where known: over the CPUs a job may use it is at most the busy share
  // anyway, but the busy share also counts the CPUs left out of it (isolcpus, others'
  // cpusets), whose idle time would bound the waiting of jobs that cannot run there.
  const most = alone !== undefined ? alone : busy;
  const some = psi !== undefined && psi <= most ? psi : most;
  const waiting = (tasks * some) / cpus;
  // The 1-minute load too, where PSI shows waiting that the least busy CPU cannot
  // account for: tasks pinned beside an idle CPU, whose queue the load carries. And
  // without PSI, where "some" is only that bound: the load's tasks in state D (a hung
  // NFS server, a user's vfork()s) would each count as waiting that share of the time.
  // 50 of them beside one busy task on a 2-CPU host without PSI ranked 627 (a 2026-12-05
  // audit; 8 with PSI), 10 a CPU on a 64-CPU host half busy 210; a steady overload keeps
  // every CPU busy, where the rule cuts nothing.
  const pinned = alone !== undefined && psi !== undefined && psi > alone;
  const queue = (instant || pinned || psi === undefined) && some < 1 ? some / (1 - some) : Infinity;
  const bound = busy + (waiting <= queue ? waiting : queue);
  const shown = perCpu <= bound ? perCpu : bound;
  // And at least the least busy CPU's share: every CPU ran a task that long, so as many
  // a CPU wanted one on average, whatever the instants of the counts saw. Both are
  // instants a user can learn (the daemon's reads from its /proc/PID/schedstat, the
  // kernel's 5 s samples from /proc/loadavg) and step aside at: a full 2-CPU host whose
  // two loops did so ranked 0.1 instead of 49.1 (2026-12-06, hostile18). Only where
  // minBusy is known (the daemon's samples; the calibration's have none), at most the
  // busy share it is over, and less the time a hypervisor took (steal: busy time of no
  // task here, which the backbone counts apart).
  let floor = alone !== undefined && alone > 0 && alone <= 1 ? alone : 0;
  if (!(floor <= busy)) floor = busy >= 0 ? busy : 0;
  const steal = s.cpu?.steal;
  if (steal !== undefined && steal > 0) floor = steal < floor ? floor - steal : 0;
  // And less lavarank's own time (all of it, as if on the least busy CPU: each CPU ran
  // other tasks at least that long): its start between the baseline and the first report
  // took 0.05 of a CPU, which ranked an idle 1-CPU host 6.7 instead of 1.7 (review72).
  const own = s.cpu?.own;
  if (own !== undefined && own > 0) floor = own < floor ? floor - own : 0;
  // And the tasks waiting beyond them, which the same stepping aside hid (two loops a CPU
  // of a full 2-CPU host ranked 49.1 where seen they rank 147.2, 2026-12-07, hostile19):
  // at least one on a CPU while it had a queue, which PSI's counter, not an instant, gives
  // over the interval (waited). The kernel weights each CPU's share by its non-idle time,
  // at most 1 and at least about the floor, so the CPUs' mean share is at least
  // waited × floor: exact with every CPU busy, and never more than an honest queue. Over
  // all online CPUs only (PSI's): the caller passes none for a job's. Not where the CPU
  // reading spans a failed read of /proc/stat: its floor is then of two intervals and the
  // share of the last alone, and a host busy through the first and queued on one CPU in
  // the second read 1.5 times its floor (rank74).
  if (waited !== undefined && waited > 0 && waited <= 1 && s.cpu?.spansFailure !== true) floor += floor * waited;
  return shown < floor ? floor : shown;
}

// The 1-minute load per CPU that the rank believes. The kernel's load average counts
// tasks in uninterruptible sleep (state D) beside those that want a CPU: tasks waiting
// for a disk or a hung NFS server, and any user's processes parked in vfork(), 50 of
// which ranked an idle 2-CPU host 422 (2026-12-02, an audit) with the CPUs 0.5 %
// busy and PSI cpu at 0.4 %. Such tasks compete for no CPU; their io shows in the io
// inputs. So the load is bounded as the runnable count is (runnableShown): at most the
// busy CPUs plus the load times PSI cpu "some" (at most the least busy CPU's share),
// per CPU, its waiting part bounded as a queue's where tasks are pinned beside an idle
// CPU (accountedFor). A load that CPU time and pressure account for passes.
export function load1Shown(s: Sample, view: SampleView = viewOf(s)): number | undefined {
  const quota = view.quota;
  const host = hostLoad1Shown(s, view.job);
  return quota === undefined ? host : withinQuota(quota, host, quota.tasks1);
}

// load1Shown over the CPUs a job may use (job: jobView's), before any CPU quota.
function hostLoad1Shown(s: Sample, job: JobView | undefined): number | undefined {
  const load = s.load;
  if (load === undefined) return undefined;
  // Tasks that ran between ticks, charged no tick (the cpu collector's untimed1), are
  // missed by the kernel's load average too, which samples the run queues at a tick: a
  // user's program on each CPU of a 2-CPU host that ran 98 % of the time and slept
  // across each tick ranked it 0.1 where the same work charged ranks 49.
  const untimed = s.cpu?.untimed1;
  const seen = untimed !== undefined && untimed > 0 && untimed < Infinity;
  const load1 = seen ? load.load1 + untimed : load.load1;
  const load1PerCpu = seen ? load1 / load.online : load.load1PerCpu;
  if (job === undefined) return accountedFor(s, s.pressure?.cpuSome, s.cpu?.busy, load1PerCpu, load1PerCpu, 1, false, s.pressure?.cpuSomeInterval);
  // The tasks elsewhere as the load average weighs them: the last interval's alone
  // would take a burst there that has just begun, or has just ended, out of a load that
  // does not hold it yet, or holds it still.
  const elsewhere1 = s.cpu?.jobElsewhere1;
  const elsewhere = elsewhere1 !== undefined && elsewhere1 >= 0 && elsewhere1 < Infinity ? elsewhere1 : job.elsewhere;
  const perCpu = Math.max(0, load1 - elsewhere) / job.cpus;
  // Busy CPUs outside the job's may hold queues of their own (a user's threads pinned
  // there), which PSI, weighted by every busy CPU, shows below minBusy: bounded as a
  // queue's, as pinned waiting is, else 300 threads on one isolated CPU ranked 1000. Also
  // with those CPUs idle: any number of tasks may queue on a CPU busy for a tick, so a
  // bound switched on by that tick lowered the rank as they got busy (1000 read 661.9,
  // props79), and a tick there is nearly always (the daemon, LIM, kernel threads).
  return accountedFor(s, jobPressure(s, job), job.busy, perCpu, perCpu, 1, true, undefined);
}

// The share of memory in use that the rank reads: the machine's, or where lavarank's
// cgroup (a container's, which its jobs share) has a memory limit, the share of that
// limit in use when it is the larger. A job there is reclaimed, then killed, at the
// limit whatever the machine has free: a container at 95 % of `mem_limit: 4g` on a
// 256 GB machine read as 2 % used.
export function memUsedShown(s: Sample): number | undefined {
  const host = s.memory?.usedFraction;
  const limited = s.memory?.cgroupUsedFraction;
  if (limited === undefined || !(limited >= 0 && limited <= 1)) return host;
  return host === undefined || limited > host ? limited : host;
}

// The feature list, in the order the network sees it. Changing it (names, order,
// scaling) makes every existing model file invalid for this build: the loader
// compares the file's list with this one.
export const FEATURES: readonly FeatureSpec[] = [
  {
    name: 'cpu_busy',
    unit: 'fraction',
    transform: 'linear',
    cap: 1,
    source: '/proc/stat: share of the online CPUs\' time not idle and not iowait (of the CPUs a job may use, where fewer)',
    read: cpuBusyShown,
    // The collector that feeds it is required by the elim; for history rows only.
    estimate: { from: 'runnable_per_cpu', how: 'min(runnable per CPU, 1)', fn: (v) => mapDefined(v('runnable_per_cpu'), (r) => Math.min(r, 1)) },
  },
  { name: 'cpu_iowait', unit: 'fraction', transform: 'linear', cap: 0.5, source: '/proc/stat: iowait share', read: (s) => s.cpu?.iowait },
  { name: 'cpu_steal', unit: 'fraction', transform: 'linear', cap: 0.5, source: '/proc/stat: steal share (time a hypervisor gave to others)', read: (s) => s.cpu?.steal },
  {
    name: 'load1_per_cpu',
    unit: 'per-cpu',
    transform: 'linear',
    cap: 4,
    source: '/proc/loadavg: 1-minute load, at most what the last interval\'s busy CPUs and PSI cpu account for, / online CPUs',
    read: load1Shown,
  },
  {
    name: 'runnable_per_cpu',
    unit: 'per-cpu',
    transform: 'linear',
    cap: 4,
    source: '/proc/loadavg: runnable tasks now, at most what the last interval\'s busy CPUs and PSI cpu account for, / online CPUs',
    read: runnableShown,
  },
  {
    name: 'mem_used',
    unit: 'fraction',
    transform: 'linear',
    cap: 1,
    source: '/proc/meminfo: 1 - MemAvailable / MemTotal (under a cgroup memory limit, the fuller of that and the limit\'s share in use)',
    read: memUsedShown,
  },
  {
    name: 'swap_io',
    unit: 'per-second',
    transform: 'log1p',
    cap: 10_000,
    source: '/proc/vmstat: pswpin + pswpout, pages per second (under a cgroup memory limit the cgroup\'s own on v2 from Linux 6.12, none before it nor on v1)',
    read: (s) => sum2(s.memory?.swapInPerSec, s.memory?.swapOutPerSec),
  },
  {
    name: 'major_faults',
    unit: 'per-second',
    transform: 'log1p',
    cap: 10_000,
    source: '/proc/vmstat: pgmajfault per second, pages read back from disk or swap (under a cgroup memory limit the cgroup\'s own)',
    read: (s) => s.memory?.majorFaultsPerSec,
  },
  {
    name: 'disk_busy_max',
    unit: 'fraction',
    transform: 'linear',
    cap: 1,
    source: '/proc/diskstats: busiest physical device\'s share of time with I/O in flight',
    read: (s) => s.disk?.busyMax,
    estimate: { from: 'psi_io_some', how: 'the io "some" pressure', fn: (v) => v('psi_io_some') },
  },
  { name: 'disk_busy_mean', unit: 'fraction', transform: 'linear', cap: 1, source: '/proc/diskstats: mean busy share over physical devices', read: (s) => s.disk?.busyMean },
  {
    name: 'net_util_max',
    unit: 'fraction',
    transform: 'linear',
    cap: 1,
    source: '/proc/net/dev + /sys/class/net/*/speed: busiest interface, max(rx, tx) / link speed (unknown: the highest rate of the last hour, at least 1 Gb/s)',
    read: (s) => s.network?.utilizationMax,
  },
  {
    name: 'psi_cpu_some',
    unit: 'fraction',
    transform: 'linear',
    cap: 1,
    source: '/proc/pressure/cpu: some avg10 (share of time a runnable task waited for a CPU)',
    read: (s) => s.pressure?.cpuSome,
    estimate: {
      from: 'runnable_per_cpu',
      how: 'clamp(runnable per CPU - 1, 0, 1): tasks wait once there are more of them than CPUs',
      fn: (v) => mapDefined(v('runnable_per_cpu'), (r) => clamp01(r - 1)),
    },
  },
  {
    name: 'psi_mem_some',
    unit: 'fraction',
    transform: 'linear',
    cap: 1,
    source: '/proc/pressure/memory: some avg10; under a memory limit, the limited cgroup\'s own memory.pressure share of the interval where larger',
    // PSI memory is the machine's, weighted over every CPU's busy time, and the backbone
    // costs it as the share itself: a container stalling at its limit read diluted (on
    // this 2-CPU VM the cgroup's 6.5-7.2 % against the machine's 4.1-5.2 %). The larger of
    // the two: a cgroup reading never lowers the rank (docs/collectors.md, "cgroup limits").
    read: (s) => {
      const machine = s.pressure?.memorySome;
      const cgroup = s.memory?.cgroupPressureSome;
      return machine === undefined || cgroup === undefined || !(cgroup > machine) ? machine : cgroup;
    },
  },
  { name: 'psi_mem_full', unit: 'fraction', transform: 'linear', cap: 1, source: '/proc/pressure/memory: full avg10', read: (s) => s.pressure?.memoryFull },
  {
    name: 'psi_io_some',
    unit: 'fraction',
    transform: 'linear',
    cap: 1,
    source: '/proc/pressure/io: some avg10',
    read: (s) => s.pressure?.ioSome,
    estimate: { from: 'disk_busy_max', how: 'the busiest disk\'s busy share', fn: (v) => v('disk_busy_max') },
  },
  { name: 'psi_io_full', unit: 'fraction', transform: 'linear', cap: 1, source: '/proc/pressure/io: full avg10', read: (s) => s.pressure?.ioFull },
  { name: 'gpu_util_max', unit: 'fraction', transform: 'linear', cap: 1, source: 'nvidia-smi: utilization.gpu of the busiest GPU', read: (s) => s.gpu?.utilMax },
  { name: 'gpu_mem_used', unit: 'fraction', transform: 'linear', cap: 1, source: 'nvidia-smi: memory.used / memory.total of the fullest GPU', read: (s) => s.gpu?.memUsedFraction },
  // What a new job would get, which per-CPU averages cannot say: the same load per
  // CPU leaves a free CPU on a large host and none on a small one.
  {
    name: 'cpus',
    unit: 'count',
    transform: 'inverse',
    cap: 1,
    source: '/sys/devices/system/cpu/online (else /proc/stat): online CPUs (those a job may use, where fewer)',
    read: (s, v = viewOf(s)) => v.quota?.cpus ?? v.job?.cpus ?? s.load?.online ?? s.cpu?.online,
    kind: 'host',
  },
  {
    name: 'free_cpus',
    unit: 'count',
    transform: 'inverse',
    cap: 1,
    source: 'online CPUs minus runnable tasks, at least 0',
    read: () => undefined,
    derive: (n, r) => Math.max(0, n - r * n),
  },
  {
    name: 'new_task_cpu_share',
    unit: 'fraction',
    transform: 'complement',
    cap: 1,
    source: 'share of a CPU a new task would get: min(1, CPUs / (runnable tasks + 1))',
    read: () => undefined,
    derive: (n, r) => Math.min(1, n / (r * n + 1)),
  },
];

// The feature names, in order.
export const FEATURE_NAMES: readonly string[] = FEATURES.map((f) => f.name);

// A fact about the host that the backbone reads and the network does not.
export interface HostFact {
  name: string;
  source: string;
  read: (sample: Sample, view?: SampleView) => number | undefined; // as FeatureSpec's
}

// Recorded in history beside the features, so that retraining's backbone sees them,
// but never a network input: a model file lists its features, and those made before
// a fact was added must still load. A history line from before a fact reads it as
// absent, which the backbone takes as the builds before it did.
export const HOST_FACTS: readonly HostFact[] = [
  {
    name: 'cores',
    source: '/sys/devices/system/cpu/cpuN/topology/core_cpus_list: cores the online CPUs (those a job may use, where fewer) make (fewer than the CPUs on an SMT host)',
    read: (s, v = viewOf(s)) => {
      const cores = v.job !== undefined ? s.cpu?.jobCores : s.load?.cores;
      const quota = v.quota;
      // Under a CPU quota, the cores matter only where fewer than the quota's CPUs.
      return quota === undefined || cores === undefined || cores < quota.cpus ? cores : undefined;
    },
  },
  {
    name: 'quota_host_cpus',
    source: 'under a CPU quota (then cpus), the CPUs a job may use that it was taken from: those the machine\'s major faults and iowait are spread over (absent without a quota)',
    // Without PSI the backbone takes its fault and iowait stalls over these (stallCpus in
    // src/model/backbone.ts): over the quota's CPUs, a 128-CPU machine's faults ranked it
    // 0.7 without a quota and 178.7 under `cpus: 1`.
    read: (s, v = viewOf(s)) => v.quota?.hostCpus,
  },
  {
    name: 'quota_host_busy',
    source: 'under a CPU quota, the busy share of the CPUs it was taken from (cpu_busy is then the larger of it and the quota\'s share used; absent without a quota)',
    // PSI io is the machine's, diluted by its busy CPUs: the backbone counts the tasks
    // waiting for io over them (ioWaiting in src/model/backbone.ts). Over the quota's CPUs
    // a container ranked below the machine without a quota; with the quota's busy share
    // over the machine's CPUs, a container running its quota's worth on an idle 16-CPU
    // machine counted 8 times the waiting a 2-CPU host with that work does.
    read: (s, v = viewOf(s)) => (v.quota === undefined ? undefined : (v.job?.busy ?? s.cpu?.busy)),
  },
  {
    name: 'io_devices',
    source: '/proc/diskstats: the physical devices busy at least a tenth of the interval, each counted by its busy share over the busiest\'s (absent when none is: io to NFS alone)',
    // The backbone counts the tasks waiting for io per busy device (perDevice in
    // src/model/backbone.ts): a new job's io goes to one device, not to all of them.
    read: (s) => s.disk?.busyDevices ?? ioDevices(s.disk?.devices),
  },
  {
    name: 'machine_cpus',
    source: 'where a job may use only some of the online CPUs (isolcpus=, cpu.job_cpus, a cpuset) or under a CPU quota, all the online CPUs: those PSI io is weighted over (absent otherwise)',
    // The backbone counts the tasks waiting for io over these (ioWaiting in
    // src/model/backbone.ts): PSI io is the machine's, weighted by every CPU's non-idle
    // time, and the disks are shared by every task whatever its CPUs. Over the job's 2 of
    // 64 CPUs, one task keeping an NFS mount busy beside 62 busy CPUs read rank_io 1.6
    // where every CPU a job's reads 98 (an audit, 2026-12-06).
    read: (s, v = viewOf(s)) => (seenConfined(v) ? s.cpu?.online : undefined),
  },
  {
    name: 'machine_busy',
    source: 'where machine_cpus is given, their busy share (not idle and not iowait; absent otherwise)',
    read: (s, v = viewOf(s)) => (seenConfined(v) ? s.cpu?.busy : undefined),
  },
  {
    name: 'io_queue',
    source: '/proc/diskstats: the mean number of I/Os in flight on the physical devices, their weighted time in queue over the interval (given beside io_devices)',
    // The backbone divides among the busy devices only the waiters these can hold
    // (perDevice in src/model/backbone.ts): tasks waiting on NFS, Lustre or GPFS are in no
    // local queue. Divided whole, four tasks waiting on NFS ranked 33.8 beside one local
    // disk 10 % busy and 4.2 beside eight (an audit, 2026-12-06).
    read: (s) => s.disk?.queue,
  },
  {
    name: 'io_queue_max',
    source: '/proc/diskstats: the mean number of I/Os in flight on the physical device where it is highest (given with io_queue)',
    // At least these many of the local waiters are counted on one device (perDevice): four
    // tasks waiting on one saturated disk ranked 33.0-34.9 alone and 14.6-15.0 beside a
    // user's dd on each of three other disks, divided among the four (an audit, 2026-12-06).
    read: (s) => s.disk?.queueMax,
  },
  {
    name: 'io_blocked',
    source: '/proc/stat: the tasks waiting for io, procs_blocked averaged over the last three reads (in the daemon, one an interval at a random instant; elsewhere the reports\' reads where they came at a steady pace, else the interval\'s two ends: on local disks, NFS or FUSE alike, not capped at one a CPU as PSI io is)',
    // The share of the waiters the local disks hold is io_queue over these (perDevice in
    // src/model/backbone.ts): PSI counts at most one waiter a CPU and the disks' queue is
    // not capped, so on a 2-CPU host four NFS readers ranked rank_io 116-122 alone and
    // 55-67 beside light io on four disks (measured, 2026-12-06). And those beyond the
    // machine's CPUs count whole (waitersBeyond), with no disk busy too: io to NFS alone.
    // Given with io_queue alone until 2026-12-07, four NFS waiters on 2 CPUs read as two.
    read: (s) => s.cpu?.blocked,
  },
];

// The effective number of physical devices the host's io is spread over: the devices
// busy at least IO_DEVICE_BUSY, each weighted by its busy share over the busiest's (1 for
// the busiest). Undefined when no device is that busy (io to NFS alone, or none), or
// the collector gave no list (the daemon's collector counts them itself: busyDevices). Weighted so that a second device lightly busy beside a
// saturated one moves it little (counted whole, it would halve the waiters per device).
export function ioDevices(devices: readonly { busy: number }[] | undefined): number | undefined {
  if (devices === undefined) return undefined;
  let max = 0;
  for (let i = 0; i < devices.length; i++) {
    const b = Math.min(1, devices[i]!.busy);
    if (b >= IO_DEVICE_BUSY && b > max) max = b;
  }
  if (max === 0) return undefined;
  let count = 0;
  for (let i = 0; i < devices.length; i++) {
    const b = Math.min(1, devices[i]!.busy);
    if (b >= IO_DEVICE_BUSY) count += b / max;
  }
  return count;
}

// Every raw value a sample gives, in the order history records them: the features, then the host facts.
export const RAW_NAMES: readonly string[] = [...FEATURE_NAMES, ...HOST_FACTS.map((f) => f.name)];

// The scaled value every feature has on an idle host (for CPUs, free CPUs and a new
// task's share: as if the host had CPUs without end); also what stands in for an
// unavailable input without an estimate, and the reference for explain's contributions.
export const IDLE_VALUE = 0;

const INDEX = new Map(FEATURE_NAMES.map((name, i) => [name, i]));

// The position of a feature in the vector; throws for a name this build does not know.
export function featureIndex(name: string): number {
  const i = INDEX.get(name);
  if (i === undefined) throw new RangeError(`unknown feature '${name}'; known: ${FEATURE_NAMES.join(', ')}`);
  return i;
}

// The model's input for one state of a host.
export interface Features {
  names: readonly string[];
  values: number[]; // scaled 0..1, estimates or the idle value where unavailable
  mask: boolean[]; // true where the input was present
  named: Record<string, number | null>; // raw values; null where unavailable
}

function clamp01(x: number): number {
  return x <= 0 ? 0 : x >= 1 ? 1 : x;
}

function mapDefined(x: number | undefined, f: (x: number) => number): number | undefined {
  return x === undefined ? undefined : f(x);
}

// Scales a raw value to 0..1 with the feature's transform; negative values count as 0.
export function scaleValue(spec: Pick<FeatureSpec, 'transform' | 'cap'>, raw: number): number {
  const x = raw > 0 ? raw : 0;
  switch (spec.transform) {
    case 'linear':
      return clamp01(x / spec.cap);
    case 'log1p':
      return clamp01(Math.log1p(x) / Math.log1p(spec.cap));
    case 'inverse':
      return 1 / (1 + x);
    case 'complement':
      return 1 - clamp01(x);
  }
}

// The raw value a scaled one came from (exact below the cap; the cap above it).
export function unscaleValue(spec: Pick<FeatureSpec, 'transform' | 'cap'>, scaled: number): number {
  const y = clamp01(scaled);
  switch (spec.transform) {
    case 'linear':
      return y * spec.cap;
    case 'log1p':
      return Math.expm1(y * Math.log1p(spec.cap));
    case 'inverse':
      return y > 0 ? 1 / y - 1 : Number.MAX_VALUE;
    case 'complement':
      return 1 - y;
  }
}


// Every feature's name in order, each unavailable: the start of every named record.
// Copied whole ({ ...NO_VALUES }, one allocation in the record's final shape), not
// built a key at a time, which grew the record's property store at each added key:
// the daemon makes one record per report, in --lite-mode, where every allocated
// 4 kB is a page fault (docs/collectors.md, "What the cost is made of").
const NO_VALUES: Readonly<Record<string, number | null>> = Object.fromEntries(RAW_NAMES.map((name) => [name, null]));

// What values and mask start as, copied per call. Tagged (src/util/tagged.ts): a copy
// holds each scaled value as the number computed, which the model then reads without
// boxing it again.
const IDLE_VALUES: readonly number[] = taggedArray(FEATURES.length, () => IDLE_VALUE);
const NO_MASK: readonly boolean[] = taggedArray(FEATURES.length, () => false);

// The tables the per-report path reads, made once: what is read from a sample (the
// features not derived, then the host facts) with the names it is recorded under; the
// derived features and those with an estimate, by position; each feature's transform
// as a small number, its cap and, for log1p, ln(1 + cap). Looked up through each spec
// per report, these were a named load apiece in the interpreter.
const READS: ReadonlyArray<(sample: Sample, view?: SampleView) => number | undefined> = [...FEATURES.filter((f) => f.derive === undefined), ...HOST_FACTS].map((f) => f.read);
const READ_NAMES: readonly string[] = [...FEATURES.filter((f) => f.derive === undefined), ...HOST_FACTS].map((f) => f.name);
const READ_COUNT = READS.length;
const FEATURE_COUNT = FEATURES.length;
const DERIVES: ReadonlyArray<(n: number, r: number) => number> = FEATURES.flatMap((f) => (f.derive === undefined ? [] : [f.derive]));
const DERIVED_NAMES: readonly string[] = FEATURES.flatMap((f) => (f.derive === undefined ? [] : [f.name]));
const ESTIMATED: readonly number[] = FEATURES.flatMap((f, i) => (f.estimate === undefined ? [] : [i]));
const LINEAR = 0;
const LOG1P = 1;
const INVERSE = 2;
const TRANSFORM_CODES: Readonly<Record<Transform, number>> = { linear: LINEAR, log1p: LOG1P, inverse: INVERSE, complement: 3 };
const TRANSFORM_KIND: readonly number[] = taggedArray(FEATURES.length, (i) => TRANSFORM_CODES[FEATURES[i]!.transform]);
const CAP: readonly number[] = taggedArray(FEATURES.length, (i) => FEATURES[i]!.cap);
const LOG1P_CAP: readonly number[] = taggedArray(FEATURES.length, (i) => Math.log1p(FEATURES[i]!.cap));

// The raw, named values of a sample: null where the input is unavailable. This is
// what the daemon records in history and what featuresFromNamed reads back.
export function rawFeatures(sample: Sample): Record<string, number | null> {
  const named = baseFeatures(sample);
  deriveInto(named);
  return named;
}

// rawFeatures without the derived features (null there): complete() derives them.
function baseFeatures(sample: Sample): Record<string, number | null> {
  const named = { ...NO_VALUES };
  // Indexed loops here and below: the daemon runs this once per report in --lite-mode,
  // where each step of a for-of allocates an iterator result. The tables in locals here
  // and below: there each read of a module constant is a context load and a check that
  // it is initialised.
  const reads = READS;
  const names = READ_NAMES;
  const count = READ_COUNT;
  let view: SampleView | undefined;
  try {
    view = viewOf(sample);
  } catch {
    view = undefined; // a malformed sample: each read that needs the view fails its own way below, as before
  }
  for (let i = 0; i < count; i++) {
    let raw: number | undefined;
    try {
      raw = reads[i]!(sample, view);
    } catch {
      raw = undefined; // a malformed sample from a dataset: a missing part, not a crash
    }
    // raw - raw is 0 for a finite number alone (NaN for NaN and ±Infinity): Number.isFinite
    // without its global load and call.
    if (typeof raw === 'number' && raw - raw === 0) named[names[i]!] = raw;
  }
  return named;
}

// Computes the derived features from the base ones, in place.
function deriveInto(named: Record<string, number | null>): void {
  const n = named['cpus'];
  const r = named['runnable_per_cpu'];
  const known = typeof n === 'number' && n > 0 && typeof r === 'number';
  for (let k = 0; k < DERIVES.length; k++) {
    const v = known ? DERIVES[k]!(n, Math.max(0, r)) : NaN;
    named[DERIVED_NAMES[k]!] = v - v === 0 ? v : null; // finite alone, as in baseFeatures
  }
}

// The features of a record of base raw values (a copy of NO_VALUES, finite numbers
// where present), which it derives into and keeps as the features' named values.
function complete(named: Record<string, number | null>): Features {
  deriveInto(named);
  const values = IDLE_VALUES.slice();
  const mask = NO_MASK.slice();
  const names = FEATURE_NAMES;
  const count = FEATURE_COUNT;
  const kinds = TRANSFORM_KIND;
  const caps = CAP;
  const logCaps = LOG1P_CAP;
  const linear = LINEAR;
  const log1p = LOG1P;
  const inverse = INVERSE;
  for (let i = 0; i < count; i++) {
    const raw = named[names[i]!];
    if (typeof raw !== 'number') continue;
    // scaleValue written out over the tables above, without its two calls a feature and
    // the switch on the transform's name: the same operations in the same order, so the
    // same numbers (the reference in test/model/reference.ts scales with scaleValue).
    const x = raw > 0 ? raw : 0;
    const kind = kinds[i];
    let y: number;
    if (kind === linear) y = x / caps[i]!;
    else if (kind === log1p) y = Math.log1p(x) / logCaps[i]!;
    else if (kind === inverse) y = 1 / (1 + x);
    else y = 1 - (x <= 0 ? 0 : x >= 1 ? 1 : x);
    values[i] = kind === linear || kind === log1p ? (y <= 0 ? 0 : y >= 1 ? 1 : y) : y;
    mask[i] = true;
  }
  // Estimates read only features that were present, never other estimates, so
  // the order of the list does not matter.
  let present: RawLookup | undefined; // made only when an estimate is needed
  for (let k = 0; k < ESTIMATED.length; k++) {
    const i = ESTIMATED[k]!;
    if (mask[i] === true) continue;
    present ??= (name) => named[name] ?? undefined;
    const guess = FEATURES[i]!.estimate!.fn(present);
    if (guess !== undefined && Number.isFinite(guess)) values[i] = scaleValue(FEATURES[i]!, guess);
  }
  return { names: FEATURE_NAMES, values, mask, named };
}

// The vector and mask for raw named values (a history line's `features`, or
// rawFeatures of a sample). A missing key, null or a non-finite value is unavailable.
export function featuresFromNamed(named: Readonly<Record<string, number | null | undefined>>): Features {
  const out = { ...NO_VALUES };
  for (let i = 0; i < FEATURES.length; i++) {
    const spec = FEATURES[i]!;
    if (spec.derive !== undefined || !Object.hasOwn(named, spec.name)) continue; // derived: always recomputed
    const raw = named[spec.name];
    if (typeof raw === 'number' && Number.isFinite(raw)) out[spec.name] = raw;
  }
  for (const fact of HOST_FACTS) {
    const raw = named[fact.name];
    if (typeof raw === 'number' && Number.isFinite(raw)) out[fact.name] = raw;
  }
  return complete(out);
}

// The model's input for a sample: the one function the daemon and training share.
export function toFeatures(sample: Sample): Features {
  return complete(baseFeatures(sample));
}

// The scaling of every feature, in order, as a model file records it.
export interface FeatureScaling {
  feature: string;
  transform: Transform;
  cap: number;
}

// This build's scaling, for writing into model files and checking them.
export function featureScaling(): FeatureScaling[] {
  return FEATURES.map((f) => ({ feature: f.name, transform: f.transform, cap: f.cap }));
}

// The pressure features, which kernels before 4.20 (or booted with psi=0) lack.
export const PSI_FEATURES: readonly string[] = FEATURE_NAMES.filter((n) => n.startsWith('psi_'));

// The vector a host would give if the named inputs were unavailable: for training
// the network on what it will see where they are missing (estimates, idle values).
export function withoutFeatures(values: readonly number[], mask: readonly boolean[], drop: readonly string[]): Features {
  const named: Record<string, number | null> = {};
  FEATURES.forEach((spec, i) => {
    named[spec.name] = mask[i] === true && !drop.includes(spec.name) ? unscaleValue(spec, values[i] ?? IDLE_VALUE) : null;
  });
  return featuresFromNamed(named);
}
