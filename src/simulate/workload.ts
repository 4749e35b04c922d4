// The jobs a simulation runs: generated (families of CPU-, memory- and io-bound
// jobs of different sizes, Poisson arrivals for a target utilisation, bursts of jobs
// submitted at once), or taken from an lsb.acct file and replayed, faster for a
// higher load. Every random choice comes from one seeded generator.
import type { JobFinish } from '../lsf/acct.js';
import { jobKind } from '../training/jobs.js';
import { seededRandom, shuffled } from '../util/random.js';
import { ConfigError } from '../util/errors.js';
import { TYPE_MIX, idleTimeFactor, type HostSpec, type JobMix, type JobType } from './cluster.js';

// One job to run.
export interface JobSpec {
  id: number;
  family: string; // jobs of one kind (a generated family, or retrain's jobKind for lsb.acct)
  type: JobType; // what a typed rank orders it by, and what the oracle knows
  mix: JobMix; // shares of its idle run time (cpu, mem, io, wait)
  slots: number; // job slots it asks for (bsub -n)
  threads: number; // threads it runs: more than its slots where it oversubscribes
  work: number; // idle run time, seconds, on the reference host (speed 1)
  memBytes: number;
  submit: number; // seconds from the start of the run
  exclusive?: boolean; // bsub -x: starts only on a host running no job, and takes it whole
}

// The generator's settings.
export interface GenerateOptions {
  jobs: number;
  utilisation: number; // offered load: job slots' busy time over all hosts' slots
  families: number;
  mix: Record<JobType, number>; // share of families of each type
  burstShare: number; // share of submissions that are bursts
  burstSize: number; // jobs in a burst
  overthread: number; // share of families that run twice as many threads as slots
  runtimeMin: number; // family median run times are log-uniform in [min, max] seconds
  runtimeMax: number;
  balanced?: boolean; // spread families' slots and run times evenly (less variation between seeds)
}

// A contended, mixed default: 12 families, half CPU-, a quarter memory-, a quarter
// io-bound, 85 % offered load, a fifth of submissions bursts of 20 jobs, a fifth of
// families oversubscribing their slots, medians from 5 minutes to 2 hours. (The API's
// defaults since its first version; lavarank simulate has its own, SIMULATE_GENERATE.)
export const DEFAULT_GENERATE: Readonly<GenerateOptions> = Object.freeze({
  jobs: 5000,
  utilisation: 0.85,
  families: 12,
  mix: Object.freeze({ cpu: 0.5, mem: 0.25, io: 0.25 }),
  burstShare: 0.2,
  burstSize: 20,
  overthread: 0.2,
  runtimeMin: 300,
  runtimeMax: 7200,
});

// What `lavarank simulate` and `recommend --hosts` generate by default: more
// families, balanced, fewer io-bound ones (with one disk per 8 CPUs, a quarter of
// io-bound families saturate the disks whatever the placement).
export const SIMULATE_GENERATE: Readonly<GenerateOptions> = Object.freeze({
  ...DEFAULT_GENERATE,
  families: 24,
  mix: Object.freeze({ cpu: 0.6, mem: 0.25, io: 0.15 }),
  balanced: true,
});

// One generated family.
export interface Family {
  name: string;
  type: JobType;
  slots: number;
  threads: number;
  medianWork: number;
  memPerSlot: number;
  weight: number; // relative popularity
}

const SLOT_CHOICES = [1, 1, 1, 1, 2, 2, 4, 8];
const MEM_PER_SLOT: Record<JobType, number> = { cpu: 1 * 2 ** 30, mem: 3 * 2 ** 30, io: 1 * 2 ** 30 };
const WORK_SIGMA = 0.3; // spread of one family's run times (log-normal)

function normal(rand: () => number): number {
  // Box-Muller; 1 - u keeps the logarithm finite.
  const u = 1 - rand();
  const v = rand();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
}

function exponential(rand: () => number, mean: number): number {
  return -Math.log(1 - rand()) * mean;
}

function pick<T>(rand: () => number, items: readonly T[], weights: readonly number[]): T {
  const total = weights.reduce((a, b) => a + b, 0);
  let r = rand() * total;
  for (let i = 0; i < items.length; i++) {
    r -= weights[i]!;
    if (r < 0) return items[i]!;
  }
  return items[items.length - 1]!;
}

// Checks generator settings; throws ConfigError naming the option.
export function checkGenerate(o: Readonly<GenerateOptions>): void {
  const problems: string[] = [];
  if (!(Number.isInteger(o.jobs) && o.jobs >= 1)) problems.push(`jobs: expected a whole number of at least 1, received ${o.jobs}`);
  if (!(o.utilisation > 0 && o.utilisation <= 4)) problems.push(`utilisation: expected more than 0 and at most 4, received ${o.utilisation}`);
  if (!(Number.isInteger(o.families) && o.families >= 1)) problems.push(`families: expected a whole number of at least 1, received ${o.families}`);
  const mixTotal = o.mix.cpu + o.mix.mem + o.mix.io;
  if (!(o.mix.cpu >= 0 && o.mix.mem >= 0 && o.mix.io >= 0 && mixTotal > 0)) problems.push(`mix: expected non-negative shares with a positive total, received ${JSON.stringify(o.mix)}`);
  if (!(o.burstShare >= 0 && o.burstShare <= 1)) problems.push(`burst share: expected 0 to 1, received ${o.burstShare}`);
  if (!(Number.isInteger(o.burstSize) && o.burstSize >= 1)) problems.push(`burst size: expected a whole number of at least 1, received ${o.burstSize}`);
  if (!(o.overthread >= 0 && o.overthread <= 1)) problems.push(`overthread: expected 0 to 1, received ${o.overthread}`);
  if (!(o.runtimeMin > 0 && o.runtimeMax >= o.runtimeMin)) problems.push(`run times: expected 0 < min <= max, received ${o.runtimeMin}..${o.runtimeMax}`);
  if (problems.length > 0) throw new ConfigError(problems.length === 1 ? problems[0]! : `${problems.length} problems with the generator settings`, { problems });
}

// The families of a generated workload: types in proportion to the mix (largest
// remainders), in that order, with slots, run times and memory drawn from the seed,
// popularity falling with the position; or, with `balanced`, slot counts cycling
// through SLOT_CHOICES and median run times evenly spread (log scale) over
// [runtimeMin, runtimeMax], types, slots and run times each in a seeded order, so
// that every seed offers the same kind of load.
export function generateFamilies(o: Readonly<GenerateOptions>, rand: () => number, maxSlots: number): Family[] {
  const F = o.families;
  const types: JobType[] = [];
  const total = o.mix.cpu + o.mix.mem + o.mix.io;
  const exact = (['cpu', 'mem', 'io'] as const).map((t) => ({ t, n: (o.mix[t] / total) * F }));
  for (const e of exact) for (let i = 0; i < Math.floor(e.n); i++) types.push(e.t);
  const byRemainder = [...exact].sort((a, b) => b.n - Math.floor(b.n) - (a.n - Math.floor(a.n)));
  for (let i = 0; types.length < F; i++) types.push(byRemainder[i % 3]!.t);
  const balanced = o.balanced === true;
  const typeOrder = balanced ? shuffled(types, rand) : types;
  const slotOrder = balanced ? shuffled(Array.from({ length: F }, (_, i) => SLOT_CHOICES[i % SLOT_CHOICES.length]!), rand) : undefined;
  const workOrder = balanced ? shuffled(Array.from({ length: F }, (_, i) => (i + 0.5) / F), rand) : undefined;
  return typeOrder.map((type, i) => {
    const slots = Math.min(maxSlots, slotOrder?.[i] ?? SLOT_CHOICES[Math.floor(rand() * SLOT_CHOICES.length)]!);
    const medianWork = o.runtimeMin * Math.exp((workOrder?.[i] ?? rand()) * Math.log(o.runtimeMax / o.runtimeMin));
    // floor(families × overthread) families oversubscribe, spread evenly over the list.
    const over = Math.floor((i + 1) * o.overthread + 1e-9) > Math.floor(i * o.overthread + 1e-9);
    return {
      name: `${type}${i + 1}`,
      type,
      slots,
      threads: over ? 2 * slots : slots,
      medianWork,
      memPerSlot: MEM_PER_SLOT[type] * Math.exp(0.3 * normal(rand)),
      weight: 1 / (1 + i * 0.3),
    };
  });
}

// A generated workload for these hosts. The same seed gives the same jobs.
export function generateWorkload(hosts: readonly HostSpec[], options: Partial<GenerateOptions>, seed: number): JobSpec[] {
  const o: GenerateOptions = { ...DEFAULT_GENERATE, ...options, mix: { ...DEFAULT_GENERATE.mix, ...options.mix } };
  checkGenerate(o);
  if (hosts.length === 0) throw new ConfigError('no hosts to generate a workload for');
  const rand = seededRandom(seed);
  const maxSlots = hosts.reduce((a, h) => Math.max(a, h.mxj), 0);
  const families = generateFamilies(o, rand, maxSlots);
  const weights = families.map((f) => f.weight);
  // The arrival rate that offers `utilisation` of all slots: jobs per second times the
  // mean slot-seconds a job holds on an average host.
  const meanSpeedFactor = (f: Family): number => hosts.reduce((a, h) => a + idleTimeFactor(TYPE_MIX[f.type], h.speed), 0) / hosts.length;
  const wsum = weights.reduce((a, b) => a + b, 0);
  const meanSlotSeconds = families.reduce((a, f, i) => a + (weights[i]! / wsum) * f.slots * f.medianWork * Math.exp((WORK_SIGMA * WORK_SIGMA) / 2) * meanSpeedFactor(f), 0);
  const slots = hosts.reduce((a, h) => a + h.mxj, 0);
  const jobsPerSecond = (o.utilisation * slots) / meanSlotSeconds;
  const jobsPerSubmission = 1 + o.burstShare * (o.burstSize - 1);
  const meanGap = jobsPerSubmission / jobsPerSecond;
  const jobs: JobSpec[] = [];
  let t = 0;
  while (jobs.length < o.jobs) {
    t += exponential(rand, meanGap);
    const f = pick(rand, families, weights);
    const n = rand() < o.burstShare ? o.burstSize : 1;
    for (let k = 0; k < n && jobs.length < o.jobs; k++) {
      jobs.push({
        id: jobs.length + 1,
        family: f.name,
        type: f.type,
        mix: { ...TYPE_MIX[f.type] },
        slots: f.slots,
        threads: f.threads,
        work: f.medianWork * Math.exp(WORK_SIGMA * normal(rand)),
        memBytes: f.memPerSlot * f.slots,
        submit: t,
      });
    }
  }
  return jobs;
}

// How an lsb.acct record becomes a job (docs/simulate.md, "Replaying lsb.acct").
export interface AcctReplayOptions {
  speedup?: number; // submit gaps divided by this (default 1)
  utilisation?: number; // instead of speedup: the speedup that offers this load on the hosts
  repeat?: number; // the trace played this many times, one after the other (default 1)
  diskBytesPerSec?: number; // what one io stream moves, to turn blocks into io time (default 100 MB/s)
}

// Bytes per block in the rusage counters (inblock/oublock count 512-byte sectors).
const BLOCK_BYTES = 512;
// lsb.acct's options bit of a job submitted with bsub -x (SUB_EXCLUSIVE, lsbatch.h).
const SUB_EXCLUSIVE = 0x40;
// Resident memory per slot from which a job is taken as memory-bound.
export const MEM_BOUND_BYTES_PER_SLOT = 2 * 2 ** 30;

// The slots a job that ran held: its execHosts entries, one per slot (numExHosts,
// mbd.log.c). numProcessors is the least it asked for: a job submitted with
// `-n 2,8` that ran on 8 slots records 2 there.
export function acctSlots(job: JobFinish): number {
  return Math.max(1, job.execHosts.length > 0 ? job.execHosts.length : job.numProcessors);
}

// One finished job's mix, from its run time, CPU time, blocks and memory: the CPU
// share is CPU time over run time × slots; io time is the blocks moved at the disk
// rate; the rest waits. A job with much resident memory per slot streams memory in its
// CPU time. Run times under a second count as one second (lsb.acct has whole seconds).
export function acctMix(job: JobFinish, diskBytesPerSec: number): { mix: JobMix; type: JobType; work: number } {
  const work = Math.max(1, job.endTime - job.startTime);
  const slots = acctSlots(job);
  const cpuTime = Math.max(0, job.rusage.utime) + Math.max(0, job.rusage.stime);
  const cpu = Math.min(1, cpuTime / (work * slots));
  const blocks = Math.max(0, job.rusage.inblock) + Math.max(0, job.rusage.oublock);
  const io = Math.min(1 - cpu, (blocks * BLOCK_BYTES) / diskBytesPerSec / work);
  const memBound = (job.maxRMem * 1024) / slots >= MEM_BOUND_BYTES_PER_SLOT;
  const mix: JobMix = memBound ? { cpu: cpu * 0.3, mem: cpu * 0.7, io, wait: Math.max(0, 1 - cpu - io) } : { cpu, mem: 0, io, wait: Math.max(0, 1 - cpu - io) };
  const type: JobType = io > cpu ? 'io' : memBound ? 'mem' : 'cpu';
  return { mix, type, work };
}

// Jobs from lsb.acct records that ran (a start time and an execution host), in submit
// order, submit times from the first one, divided by the speedup, repeated.
export function jobsFromAcct(records: readonly JobFinish[], hosts: readonly HostSpec[], options: AcctReplayOptions = {}): JobSpec[] {
  const ran = records.filter((r) => r.startTime > 0 && r.execHosts.length > 0 && r.endTime >= r.startTime).sort((a, b) => a.submitTime - b.submitTime || a.jobId - b.jobId || a.idx - b.idx);
  if (ran.length === 0) throw new ConfigError('the accounting file has no job that ran (a start time and an execution host)');
  const disk = options.diskBytesPerSec ?? 100e6;
  const repeat = options.repeat ?? 1;
  if (!(Number.isInteger(repeat) && repeat >= 1)) throw new ConfigError(`--repeat: expected a whole number of at least 1, received ${repeat}`);
  const maxSlots = hosts.reduce((a, h) => Math.max(a, h.mxj), 0);
  const t0 = ran[0]!.submitTime;
  const span = Math.max(1, ran[ran.length - 1]!.submitTime - t0 + 1);
  const base = ran.map((r) => {
    const { mix, type, work } = acctMix(r, disk);
    const slots = Math.min(maxSlots, acctSlots(r));
    const exclusive = (r.options & SUB_EXCLUSIVE) !== 0;
    return { family: jobKind(r), type, mix, slots, threads: slots, work, memBytes: Math.max(0, r.maxRMem) * 1024, offset: r.submitTime - t0, exclusive };
  });
  let speedup = options.speedup ?? 1;
  if (options.utilisation !== undefined) {
    // The slot-seconds the jobs hold on an average host, as offeredLoad and the
    // generator count them: the CPU part of a run takes longer on a slower host.
    const slotSeconds = base.reduce((a, j) => a + j.slots * j.work * meanIdleFactor(j.mix, hosts), 0);
    const slots = hosts.reduce((a, h) => a + h.mxj, 0);
    speedup = (options.utilisation * slots * span) / slotSeconds;
  }
  if (!(speedup > 0 && Number.isFinite(speedup))) throw new ConfigError(`replay speedup: expected a positive number, received ${speedup}`);
  const jobs: JobSpec[] = [];
  for (let k = 0; k < repeat; k++) {
    for (const j of base) {
      jobs.push({ id: jobs.length + 1, family: j.family, type: j.type, mix: { ...j.mix }, slots: j.slots, threads: j.threads, work: j.work, memBytes: j.memBytes, submit: (k * span + j.offset) / speedup, ...(j.exclusive ? { exclusive: true } : {}) });
    }
  }
  return jobs;
}

// A job's idle run time on an average host of these, per second of it on the reference host.
function meanIdleFactor(mix: Readonly<JobMix>, hosts: readonly HostSpec[]): number {
  return hosts.reduce((a, h) => a + idleTimeFactor(mix, h.speed), 0) / hosts.length;
}

// The load a workload offers: the slot-seconds its jobs hold alone, on an average
// host, over the submit span times all hosts' slots.
export function offeredLoad(jobs: readonly JobSpec[], hosts: readonly HostSpec[]): number {
  if (jobs.length === 0) return 0;
  const span = Math.max(1, jobs[jobs.length - 1]!.submit - jobs[0]!.submit);
  const slots = hosts.reduce((a, h) => a + h.mxj, 0);
  return jobs.reduce((a, j) => a + j.slots * j.work * meanIdleFactor(j.mix, hosts), 0) / (span * slots);
}
