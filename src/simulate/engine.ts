// The discrete-event simulation of one policy on one workload: jobs arrive, wait for
// mbatchd's dispatch sessions, run on a host at the speed the cluster model gives
// them beside the other work there, and end. The rank a policy sees is computed by
// the daemon's own ranker from the host's simulated sample, taken when the elim
// would have sampled it and delayed as LIM and mbatchd delay it; reservations are
// added and decay as mbatchd does. docs/simulate.md describes the model.
//
// API (stable, used by other tools such as synthetic lsb.acct generation):
//   runWorkload(hosts, jobs, options) → SimRun: per-job outcomes and, with
//   keepHistory, sampleAt(host, t): the host's simulated Sample at any time.
//   simulateWorkload(hosts, generate, options): generateWorkload + runWorkload.
// Deterministic: the same hosts, jobs and seed give the same outcomes.
import type { Sample } from '../collectors/types.js';
import type { RankResult, Ranker } from '../model/rank.js';
import { ConfigError } from '../util/errors.js';
import { Heap } from '../util/heap.js';
import { seededRandom } from '../util/random.js';
import {
  HostTimeline,
  aloneRate,
  diskCount,
  type HostReading,
  quantize,
  sampleKey,
  sampleValues,
  solveRates,
  toSample,
  type HostSpec,
  type JobType,
  type LoadItem,
  type SampleValues,
} from './cluster.js';
import {
  DEFAULT_SCHEDULER,
  INFINIT_LOAD,
  acceptsJob,
  hostTimings,
  loadSampleTime,
  normalizeRq,
  r15sSortKey,
  rankSampleTime,
  refreshDue,
  reservedAt,
  type HostTiming,
  type SchedulerSettings,
} from './mbatchd.js';
import { CALIBRATED, type ClusterParams } from './params.js';
import { usesRank, type PolicySpec } from './policies.js';
import { generateWorkload, type GenerateOptions, type JobSpec } from './workload.js';

// Load on hosts that is not batch jobs (interactive users, services): each host is
// busy with it `share` of the time, in periods of `meanOn` seconds on average, with
// 1 to cpus × maxCpuShare CPU-bound threads.
export interface BackgroundSpec {
  share: number;
  meanOn: number;
  maxCpuShare: number;
}

// No background load.
export const NO_BACKGROUND: Readonly<BackgroundSpec> = Object.freeze({ share: 0, meanOn: 1800, maxCpuShare: 0.5 });

// The ranks the elim would report for one sample, as the rank cache keeps them.
export interface CachedRank {
  rank: number;
  ranks: readonly number[]; // rank, rank_cpu, rank_mem, rank_io (INFINIT_LOAD without typed ranks)
}

const UNKNOWN_RANKS: readonly number[] = Object.freeze([INFINIT_LOAD, INFINIT_LOAD, INFINIT_LOAD, INFINIT_LOAD]);

// How to run.
export interface RunOptions {
  seed: number;
  policy: PolicySpec;
  scheduler?: Partial<SchedulerSettings>;
  params?: Readonly<ClusterParams>;
  ranker?: Ranker; // required by policies that read the rank
  background?: Readonly<BackgroundSpec>;
  keepHistory?: boolean; // keep every host's whole timeline, for sampleAt at any time
  rankCache?: Map<string, CachedRank>; // shared between runs with the same ranker
  traceHosts?: number; // hosts whose running jobs are recorded at every session (default 0)
  onProgress?: (finished: number, total: number) => void;
  // Called at every dispatch session, after a refresh if one was due and before any
  // job is placed: mbatchd's view of every host (for tests and tracing; it makes
  // every host's view be computed at every refresh).
  onSession?: (t: number, refreshed: boolean, hosts: HostView[]) => void;
}

// mbatchd's view of one host at a session.
export interface HostView {
  name: string;
  r15s: number; // the sort key of r15s: (normalised run queue + 1) / CPU factor
  rank: number; // INFINIT_LOAD while unknown
  typed: [number, number, number]; // rank_cpu, rank_mem, rank_io; INFINIT_LOAD without typed ranks
  reserved: [number, number, number, number]; // on rank, rank_cpu, rank_mem, rank_io
  running: number; // jobs
}

// What happened to one job.
export interface JobOutcome {
  id: number;
  family: string;
  type: JobType;
  host: string;
  submit: number; // seconds from the start of the run
  start: number;
  end: number;
  cpuSeconds: number; // CPU time its threads got
  slots: number;
  threads: number;
  ideal: number; // its run time alone on an idle host of the kind it ran on
  slowdown: number; // (end − start) / ideal
}

// One host's totals over the run.
export interface HostStats {
  name: string;
  cpus: number;
  jobs: number;
  utilisation: number; // busy share of its CPUs over the makespan, background included
}

// A finished run.
export interface SimRun {
  policy: string;
  outcomes: JobOutcome[]; // in job id order
  makespan: number; // seconds until the last job ended
  hosts: HostStats[];
  trace: { times: number[]; hosts: string[]; running: number[][] }; // running[k][i]: jobs on hosts[k] at times[i]
  counters: { events: number; sessions: number; refreshes: number; rankSamples: number; rankCalls: number };
  // The host's simulated Sample at time t (what the elim's collectors would have given,
  // over the elim interval before t); for times older than ~2 minutes before the end
  // only with keepHistory.
  sampleAt(host: string, t: number): Sample;
}

interface Running {
  spec: JobSpec;
  index: number; // in the jobs array
  item: LoadItem;
  remaining: number; // idle-seconds of reference work left
  rate: number;
  cpuRate: number; // CPU-seconds per second over its threads
  start: number;
  cpuSeconds: number;
  ideal: number;
  aloneRate: number; // its rate alone on an idle host of this kind
  resIndex: number; // -1: no reservation
  runTime: number; // mbatchd's runTime: accumulated at refreshes
  updStateTime: number;
}

// Indices of mbatchd's view a reservation can apply to.
const IDX_RANK = 0;
const TYPE_INDEX: Record<JobType, number> = { cpu: 1, mem: 2, io: 3 };

class HostState {
  readonly jobs: Running[] = [];
  usedSlots = 0;
  bgThreads = 0;
  lastUpdate = 0;
  version = 0;
  lastAccept = -Infinity;
  exclusive = false; // an exclusive job runs here: no other job may start
  started = 0;
  // The oracle's prices of adding a job of each shape, valid for oracleVersion.
  readonly oracleMemo = new Map<string, { own: number; ownIdle: number; others: number[] }>();
  oracleVersion = -1;
  // mbatchd's view, valid for viewEpoch.
  viewEpoch = -1;
  r15sKey = 0;
  ranks: readonly number[] = UNKNOWN_RANKS;
  readonly resv = [0, 0, 0, 0];
  readonly timeline: HostTimeline;
  readonly kind: string;

  constructor(
    readonly spec: HostSpec,
    readonly index: number,
    readonly timing: HostTiming,
    params: Readonly<ClusterParams>,
    keepAll: boolean,
  ) {
    this.timeline = new HostTimeline(spec.cpus, diskCount(spec), params, keepAll);
    this.kind = `${spec.cpus}|${spec.memBytes}|${spec.speed}|${diskCount(spec)}`;
  }

  get free(): number {
    return this.spec.mxj - this.usedSlots;
  }
}

interface OrderEntry {
  key: number;
  host: HostState;
  version: number;
}

// The hosts in a policy's order at one dispatch session, one heap per load index,
// built when the index is first asked from the hosts eligible then: mbatchd sorts the
// candidates by the queue's order[] index, re-sorting as reservations change.
class HostOrders {
  private readonly byIndex = new Map<number, { heap: Heap<OrderEntry>; versions: number[] }>();

  constructor(
    private readonly hosts: readonly HostState[],
    private readonly eligible: (h: HostState) => boolean,
    private readonly value: (h: HostState, index: number) => number,
  ) {}

  private orderFor(index: number): { heap: Heap<OrderEntry>; versions: number[] } {
    let o = this.byIndex.get(index);
    if (o !== undefined) return o;
    // Ties keep the host list's order (mbatchd's bubble sort swaps only when strictly out of order).
    const heap = new Heap<OrderEntry>((a, b) => a.key < b.key || (a.key === b.key && a.host.index < b.host.index));
    const versions = new Array<number>(this.hosts.length).fill(0);
    for (const h of this.hosts) if (this.eligible(h)) heap.push({ key: this.value(h, index), host: h, version: 0 });
    o = { heap, versions };
    this.byIndex.set(index, o);
    return o;
  }

  // The first eligible host in the index's order that fits; those that do not fit stay in it.
  first(index: number, fits: (h: HostState) => boolean): HostState | undefined {
    const o = this.orderFor(index);
    const aside: OrderEntry[] = [];
    let chosen: OrderEntry | undefined;
    while (o.heap.size > 0) {
      const e = o.heap.pop()!;
      if (e.version !== o.versions[e.host.index] || !this.eligible(e.host)) continue; // stale or no longer eligible
      if (!fits(e.host)) {
        aside.push(e);
        continue;
      }
      chosen = e;
      break;
    }
    for (const e of aside) o.heap.push(e);
    return chosen?.host;
  }

  // After a job starts on h: its entries move (a reservation raised its value) or stay.
  started(h: HostState): void {
    for (const [index, o] of this.byIndex) {
      o.versions[h.index]!++;
      if (this.eligible(h)) o.heap.push({ key: this.value(h, index), host: h, version: o.versions[h.index]! });
    }
  }
}

// Event kinds, in the order they are handled at the same instant: jobs that end free
// their slots before a session looks for slots; a job submitted at a session's time
// is seen by that session.
const EV_COMPLETE = 0;
const EV_BACKGROUND = 1;
const EV_SESSION = 3;

interface SimEvent {
  t: number;
  kind: number;
  seq: number;
  host: number;
  version: number;
}

const eventLess = (a: SimEvent, b: SimEvent): boolean => a.t < b.t || (a.t === b.t && (a.kind < b.kind || (a.kind === b.kind && a.seq < b.seq)));

// A job "ends now" when what is left would take less than this.
const END_EPSILON = 1e-6;
// How far back a host's history is kept at least (sampleAt's "~2 minutes"); more
// where mbatchd's view looks further back (historyNeeded).
const LOOKBACK = 180;
// Hosts the oracle prices per job at most (a random sample of the candidates beyond).
export const ORACLE_CANDIDATES = 64;
// Rank cache entries kept before the cache is emptied (a few MB).
const RANK_CACHE_MAX = 200_000;

// How far before a refresh mbatchd's view reads a host's history: the oldest elim
// sample it can hold (a fixed staleness, or the elim's report before LIM's read before
// the last exchange) and the interval that sample averages over.
function historyNeeded(s: Readonly<SchedulerSettings>): number {
  const age = s.staleness === 'auto' ? s.exInterval + s.limPoll + s.elimInterval : s.staleness;
  return age + s.elimInterval;
}

// Brings every job's progress on h up to time t.
function advance(h: HostState, t: number): void {
  const dt = t - h.lastUpdate;
  if (dt > 0) {
    for (const r of h.jobs) {
      r.remaining -= r.rate * dt;
      r.cpuSeconds += r.cpuRate * dt;
    }
  }
  h.lastUpdate = t;
}

// A job's rate alone on an idle host of h's kind, remembered per kind and job shape.
function aloneRates(p: Readonly<ClusterParams>): (h: HostState, item: LoadItem) => number {
  const memo = new Map<string, number>();
  return (h, item) => {
    const key = `${h.kind}#${item.threads}:${item.mix.cpu},${item.mix.mem},${item.mix.io},${item.mix.wait}:${Math.round(item.memBytes / 2 ** 26)}`;
    let r = memo.get(key);
    if (r === undefined) {
      r = aloneRate(h.spec, item, p);
      if (memo.size >= RANK_CACHE_MAX) memo.clear();
      memo.set(key, r);
    }
    return r;
  };
}

// The oracle's price of putting a job on h now, in the unit of the mean slowdown:
// its own excess slowdown, plus what it adds to each job already there, for the
// share of that job's idle run time during which both run (the shorter of the new
// job's idle run time and what that job has left), from the cluster model itself.
// Among hosts where that is the same (often nothing) it draws one at random:
// preferring the least loaded, or the first, did worse (docs/simulate.md).
function oracleCost(h: HostState, spec: JobSpec, sig: string, t: number, p: Readonly<ClusterParams>, alone: (h: HostState, item: LoadItem) => number): number {
  // Prices depend on the host's jobs, which change with its version: one memo per host and version.
  if (h.oracleVersion !== h.version) {
    h.oracleMemo.clear();
    h.oracleVersion = h.version;
  }
  const added = { threads: spec.threads, mix: spec.mix, memBytes: spec.memBytes };
  let m = h.oracleMemo.get(sig);
  if (m === undefined) {
    const items = h.jobs.map((r) => r.item);
    // The jobs' current rates are the host's solved state: only the state with the job added is new.
    const after = solveRates(h.spec, [...items, added], { threads: h.bgThreads, memBytes: 0 }, p);
    const ownAlone = alone(h, added);
    m = {
      own: ownAlone / after.rate[items.length]! - 1,
      ownIdle: 1 / ownAlone, // per idle-second of work
      others: h.jobs.map((r, i) => r.aloneRate / after.rate[i]! - r.aloneRate / r.rate),
    };
    h.oracleMemo.set(sig, m);
  }
  advance(h, t);
  const ownIdle = spec.work * m.ownIdle;
  let cost = m.own;
  for (let i = 0; i < h.jobs.length; i++) {
    const r = h.jobs[i]!;
    cost += (m.others[i]! * Math.min(ownIdle, Math.max(0, r.remaining) / r.aloneRate)) / (r.spec.work / r.aloneRate);
  }
  return cost;
}

// What mbatchd's view of a host is computed from, the same for a whole run.
interface ViewInputs {
  s: Readonly<SchedulerSettings>;
  p: Readonly<ClusterParams>;
  needLoad: boolean; // the r15s sort key is read
  ranker: Ranker | undefined; // the ranks are read
  cache: Map<string, CachedRank>;
  counters: { rankSamples: number; rankCalls: number };
  reading: HostReading; // scratch, reused
}

// mbatchd's view of h after the refresh at R: the r15s key from LIM's load sample and
// the ranks from the elim's sample that reached mbatchd by then (unknown before any).
function viewHost(h: HostState, R: number, v: ViewInputs): void {
  if (v.needLoad) {
    const load1 = h.timeline.readAt(loadSampleTime(h.timing, R, v.s), v.reading).load1;
    h.r15sKey = r15sSortKey(normalizeRq(load1, h.spec.cpuFactor, h.spec.cpus), h.spec.cpuFactor);
  }
  if (v.ranker === undefined) return;
  const at = rankSampleTime(h.timing, R, v.s);
  if (at === undefined) {
    h.ranks = UNKNOWN_RANKS;
    return;
  }
  v.counters.rankSamples++;
  h.ranks = cachedRank(v.ranker, v.cache, h.spec, quantize(sampleValues(h.timeline, h.spec, at, v.s.elimInterval, v.p)), at, v.counters).ranks;
}

// Solves h's rates after a change at time t and records the new level (a new version
// of the host); the time its next job ends, Infinity with none.
function solveHost(h: HostState, t: number, p: Readonly<ClusterParams>): number {
  // Background load is CPU-bound threads; its memory is not modelled.
  const rates = solveRates(h.spec, h.jobs.map((r) => r.item), { threads: h.bgThreads, memBytes: 0 }, p);
  let next = Infinity;
  h.jobs.forEach((r, i) => {
    r.rate = rates.rate[i]!;
    r.cpuRate = r.item.threads * rates.cpuShare[i]! * rates.cpuGiven;
    next = Math.min(next, t + Math.max(0, r.remaining) / r.rate);
  });
  h.timeline.set(t, { cpuWanting: rates.cpuWanting, ioStreams: rates.ioStreams, memUsed: rates.memUsed });
  h.version++;
  return next;
}

// A job started at t on a host where it runs alone at aloneRate (its rates are solved next).
function runningJob(spec: JobSpec, index: number, item: LoadItem, aloneRate: number, resIndex: number, t: number): Running {
  return {
    spec,
    index,
    item,
    remaining: spec.work,
    rate: 0,
    cpuRate: 0,
    start: t,
    cpuSeconds: 0,
    ideal: spec.work / aloneRate,
    aloneRate,
    resIndex,
    runTime: 0,
    updStateTime: t,
  };
}

// Whether the next job's arrival (Infinity with none left) is handled before the next
// event: before a session at the same instant, after completions and background changes.
function arrivesFirst(arrival: number, next: SimEvent | undefined): boolean {
  return arrival < Infinity && (next === undefined || arrival < next.t || (arrival === next.t && next.kind === EV_SESSION));
}

// The mean idle period of a host's background load: what makes it busy `share` of the time.
function meanOff(bg: Readonly<BackgroundSpec>): number {
  return (bg.meanOn * (1 - bg.share)) / bg.share;
}

// Turns h's background load on (1 to cpus × maxCpuShare threads, drawn with rand) or
// off; the mean time until it switches again.
function switchBackground(h: HostState, on: boolean, bg: Readonly<BackgroundSpec>, rand: () => number): number {
  h.bgThreads = on ? 1 + Math.floor(rand() * Math.max(1, Math.floor(h.spec.cpus * bg.maxCpuShare))) : 0;
  return on ? bg.meanOn : meanOff(bg);
}

// What onSession is given of h: mbatchd's view, computed before.
function hostView(h: HostState): HostView {
  return { name: h.spec.name, r15s: h.r15sKey, rank: h.ranks[0]!, typed: [h.ranks[1]!, h.ranks[2]!, h.ranks[3]!], reserved: [h.resv[0]!, h.resv[1]!, h.resv[2]!, h.resv[3]!], running: h.jobs.length };
}

// A load refresh's work on every host at time t: the reservations rebuilt from the
// running jobs' runTime at the previous refresh, then runTime brought up to t (so a
// reservation changes one refresh late, as in mbatchd); history older than lookback dropped.
function refreshLoads(hosts: readonly HostState[], t: number, lookback: number, reservation: PolicySpec['reservation']): void {
  for (const h of hosts) {
    h.resv.fill(0);
    h.timeline.prune(t - lookback);
    for (const r of h.jobs) {
      if (r.resIndex >= 0 && reservation !== undefined) h.resv[r.resIndex]! += r.spec.slots * reservedAt(reservation, r.runTime);
      r.runTime += t - r.updStateTime;
      r.updStateTime = t;
    }
  }
}

// The outcome of a job that ended at t on the host named host.
function jobOutcome(r: Readonly<Running>, host: string, t: number): JobOutcome {
  const j = r.spec;
  return {
    id: j.id,
    family: j.family,
    type: j.type,
    host,
    submit: j.submit,
    start: r.start,
    end: t,
    cpuSeconds: r.cpuSeconds,
    slots: j.slots,
    threads: j.threads,
    ideal: r.ideal,
    slowdown: (t - r.start) / r.ideal,
  };
}

// Brings h to time t and takes off it the jobs done by then, their outcomes recorded at
// their index and their slots freed: how many finished. A finished job leaves the started
// list at once; its reservation stays in the loads until the next refresh rebuilds them.
function retireFinished(h: HostState, t: number, outcomes: Array<JobOutcome | undefined>): number {
  advance(h, t);
  const done = h.jobs.filter((r) => r.remaining <= r.rate * END_EPSILON);
  if (done.length === 0) return 0;
  for (const r of done) {
    outcomes[r.index] = jobOutcome(r, h.spec.name, t);
    h.usedSlots -= r.spec.slots;
    if (r.spec.exclusive === true) h.exclusive = false;
  }
  const keep = h.jobs.filter((r) => r.remaining > r.rate * END_EPSILON);
  h.jobs.length = 0;
  h.jobs.push(...keep);
  return done.length;
}

// Each host's totals over a run that ended at makespan: its jobs among outcomes, and
// the busy share of its CPUs its timeline gives.
export function hostTotals(hosts: ReadonlyArray<{ spec: Pick<HostSpec, 'name' | 'cpus'>; timeline: Pick<HostTimeline, 'at'> }>, outcomes: readonly JobOutcome[], makespan: number): HostStats[] {
  const hostJobs = new Map<string, number>();
  for (const o of outcomes) hostJobs.set(o.host, (hostJobs.get(o.host) ?? 0) + 1);
  return hosts.map((h) => ({
    name: h.spec.name,
    cpus: h.spec.cpus,
    jobs: hostJobs.get(h.spec.name) ?? 0,
    utilisation: makespan > 0 ? h.timeline.at(makespan).busyIntegral / makespan : 0,
  }));
}

// The two-choices policy's pick: of two distinct candidates drawn with rand, the one of
// lower value (the first in the list on a tie); the only candidate, or none. The later
// one's value is asked first, as the simulator's mbatchd view is computed on demand.
export function twoChoices<T>(candidates: readonly T[], rand: () => number, value: (candidate: T) => number): T | undefined {
  if (candidates.length <= 1) return candidates[0];
  const i = Math.floor(rand() * candidates.length);
  let j = Math.floor(rand() * (candidates.length - 1));
  if (j >= i) j++;
  const a = candidates[Math.min(i, j)]!;
  const b = candidates[Math.max(i, j)]!;
  return value(b) < value(a) ? b : a;
}

// The oracle's pick among the first n entries of pool: where there are more than
// limit, limit of them drawn with rand to the front (a partial shuffle, in place),
// each priced by cost; the cheapest, costs within 1e-3 of each other drawn between.
// On a large cluster, a random sample of the candidates: among hundreds of hosts with
// free slots, many are equally good, and pricing every one of them for every job
// would cost minutes.
export function cheapestOf<T>(pool: T[], n: number, limit: number, rand: () => number, cost: (candidate: T) => number): T | undefined {
  const k = Math.min(n, limit);
  if (n > k) {
    for (let i = 0; i < k; i++) {
      const j = i + Math.floor(rand() * (n - i));
      const tmp = pool[i]!;
      pool[i] = pool[j]!;
      pool[j] = tmp;
    }
  }
  let best: T | undefined;
  let bestCost = Infinity;
  let bestTie = Infinity;
  for (let i = 0; i < k; i++) {
    const h = pool[i]!;
    const c = cost(h);
    const tie = rand();
    if (c < bestCost - 1e-3 || (c <= bestCost + 1e-3 && tie < bestTie)) {
      bestCost = c;
      bestTie = tie;
      best = h;
    }
  }
  return best;
}

// The ranks the elim would report for a host's (quantized) sample values taken at
// `at` seconds: the cached ranks of a host of the same shape in the same state, else
// the ranker's, then kept (the cache emptied when full); counts each ranker call.
export function cachedRank(ranker: Ranker, cache: Map<string, CachedRank>, host: Readonly<HostSpec>, v: SampleValues, at: number, counters: { rankCalls: number }): CachedRank {
  // The disks are part of the state: two hosts that differ only in them rank apart.
  const key = `${sampleKey(host.cpus, host.memBytes, v)}|${diskCount(host)}`;
  let r = cache.get(key);
  if (r === undefined) {
    counters.rankCalls++;
    const result: RankResult = ranker.rank(toSample(v, host.cpus, host.memBytes, Math.round(at * 1000), diskCount(host)));
    const typed = result.typed;
    r = { rank: result.rank, ranks: typed === undefined ? [result.rank, INFINIT_LOAD, INFINIT_LOAD, INFINIT_LOAD] : [result.rank, typed.rank_cpu, typed.rank_mem, typed.rank_io] };
    if (cache.size >= RANK_CACHE_MAX) cache.clear();
    cache.set(key, r);
  }
  return r;
}

// A dispatch session's pass over the pending jobs, in submit order: `place` starts a
// job where the policy finds a host and gives the free slots that took, or undefined
// where none fits; such a job waits and the later ones are still tried (a smaller job
// may fit), until no slot is free. The jobs left pending, in order.
export function placePending(pending: readonly number[], free: number, place: (job: number) => number | undefined): number[] {
  const left: number[] = [];
  for (let k = 0; k < pending.length; k++) {
    const ji = pending[k]!;
    if (free <= 0) {
      for (let r = k; r < pending.length; r++) left.push(pending[r]!);
      break;
    }
    const used = place(ji);
    if (used === undefined) left.push(ji);
    else free -= used;
  }
  return left;
}

function checkInputs(hosts: readonly HostSpec[], jobs: readonly JobSpec[], o: RunOptions): void {
  if (hosts.length === 0) throw new ConfigError('no hosts to simulate');
  const maxSlots = hosts.reduce((a, h) => Math.max(a, h.mxj), 0);
  for (const j of jobs) {
    if (j.slots > maxSlots) throw new ConfigError(`job ${j.id} (${j.family}) asks for ${j.slots} slots; the largest host has ${maxSlots}`);
    if (!(j.work > 0) || !(j.submit >= 0)) throw new ConfigError(`job ${j.id} (${j.family}): work ${j.work} s and submit ${j.submit} s must be positive`);
  }
  for (let i = 1; i < jobs.length; i++) {
    if (jobs[i]!.submit < jobs[i - 1]!.submit) throw new ConfigError(`jobs must be in submit order: job ${jobs[i]!.id} is submitted before job ${jobs[i - 1]!.id}`);
  }
  if (usesRank(o.policy) && o.ranker === undefined) throw new ConfigError(`policy ${o.policy.name} orders by rank: a ranker is needed`);
}

// A run's settings with their defaults, its random streams and its hosts' starting state.
function runSetup(hosts: readonly HostSpec[], options: RunOptions) {
  const s: SchedulerSettings = { ...DEFAULT_SCHEDULER, ...options.scheduler };
  const p = options.params ?? CALIBRATED;
  const policy = options.policy;
  const bg = options.background ?? NO_BACKGROUND;
  const cache = options.rankCache ?? new Map<string, CachedRank>();
  const acceptInterval = policy.acceptInterval ?? s.acceptInterval;
  const lookback = Math.max(LOOKBACK, historyNeeded(s) + 10);
  // Separate streams, so that every policy sees the same host phases and background.
  const timings = hostTimings(hosts.length, s, seededRandom(options.seed * 7919 + 1));
  const bgRand = seededRandom(options.seed * 7919 + 2);
  const policyRand = seededRandom(options.seed * 7919 + 3);
  const H = hosts.map((h, i) => new HostState(h, i, timings[i]!, p, options.keepHistory === true));
  return { s, p, policy, bg, cache, acceptInterval, lookback, bgRand, policyRand, H };
}

// Runs one policy over the jobs (in submit order) on the hosts.
export function runWorkload(hosts: readonly HostSpec[], jobs: readonly JobSpec[], options: RunOptions): SimRun {
  checkInputs(hosts, jobs, options);
  const { s, p, policy, bg, cache, acceptInterval, lookback, bgRand, policyRand, H } = runSetup(hosts, options);
  const events = new Heap<SimEvent>(eventLess);
  let seq = 0;
  const push = (t: number, kind: number, host = -1, version = 0): void => events.push({ t, kind, seq: seq++, host, version });
  const outcomes: Array<JobOutcome | undefined> = new Array(jobs.length);
  const counters = { events: 0, sessions: 0, refreshes: 0, rankSamples: 0, rankCalls: 0 };
  const pending: number[] = [];
  let nextArrival = 0;
  let finished = 0;
  let now = 0;
  let epoch = -1;
  let lastRefresh: number | undefined;
  const traceHosts = H.slice(0, Math.min(H.length, options.traceHosts ?? 0));
  const trace = { times: [] as number[], hosts: traceHosts.map((h) => h.spec.name), running: traceHosts.map(() => [] as number[]) };
  const progressEvery = Math.max(1, Math.floor(jobs.length / 200));

  // Solves h's rates after a change at time t, records the new level and schedules its next completion.
  const resolve = (h: HostState, t: number): void => {
    const next = solveHost(h, t, p);
    if (next < Infinity) push(next, EV_COMPLETE, h.index, h.version);
  };

  // mbatchd's view of h after the latest refresh, computed when first needed, and
  // only the parts the policy reads (all of them for onSession).
  const viewInputs: ViewInputs = {
    s,
    p,
    needLoad: policy.kind === 'default' || options.onSession !== undefined,
    ranker: usesRank(policy) || options.onSession !== undefined ? options.ranker : undefined,
    cache,
    counters,
    reading: { cpuWanting: 0, ioStreams: 0, memUsed: 0, load1: 0, psiCpu: 0, psiIo: 0, busyIntegral: 0, iowaitIntegral: 0 },
  };
  const view = (h: HostState): void => {
    if (h.viewEpoch === epoch || lastRefresh === undefined) return;
    h.viewEpoch = epoch;
    viewHost(h, lastRefresh, viewInputs);
  };

  // A load refresh at session time t: fresh values from LIM, then every running job's
  // reservation added with the runTime of the previous refresh, then runTime updated.
  const refresh = (t: number): void => {
    counters.refreshes++;
    epoch++;
    lastRefresh = t;
    refreshLoads(H, t, lookback, policy.reservation);
  };

  const eligible = (h: HostState, t: number): boolean => h.free > 0 && !h.exclusive && acceptsJob(t, h.lastAccept, s, acceptInterval);
  // Whether an eligible host can take the job: enough free slots and, for an exclusive
  // job (bsub -x), no job running there (PEND_HOST_NONEXCLUSIVE in getJUsable).
  const fits = (h: HostState, spec: JobSpec): boolean => h.free >= spec.slots && (spec.exclusive !== true || h.usedSlots === 0);

  const alone = aloneRates(p);

  // Starts job index ji on h at time t.
  const startJob = (ji: number, h: HostState, t: number): void => {
    const spec = jobs[ji]!;
    advance(h, t);
    const resIndex = policy.reservation === undefined ? -1 : policy.kind === 'typed' ? TYPE_INDEX[spec.type] : IDX_RANK;
    const item = { threads: spec.threads, mix: spec.mix, memBytes: spec.memBytes };
    h.jobs.push(runningJob(spec, ji, item, alone(h, item), resIndex, t));
    h.usedSlots += spec.slots;
    h.started++;
    h.lastAccept = t;
    if (spec.exclusive === true) h.exclusive = true;
    // adjLsbLoad at jobStarted: the whole reservation at once, for the jobs placed after
    // it, once per slot (mbatchd adds it for each entry of the job's hPtr, one per slot).
    if (resIndex >= 0 && policy.reservation !== undefined) h.resv[resIndex]! += spec.slots * reservedAt(policy.reservation, 0);
    resolve(h, t);
  };

  const finishJobs = (h: HostState, t: number): void => {
    const n = retireFinished(h, t, outcomes);
    if (n === 0) return;
    for (let k = 0; k < n; k++) {
      finished++;
      if (options.onProgress !== undefined && (finished % progressEvery === 0 || finished === jobs.length)) options.onProgress(finished, jobs.length);
    }
    resolve(h, t);
  };

  // The host a policy picks for a job among the eligible hosts with enough free slots.
  const orderValue = (h: HostState, index: number): number => {
    view(h);
    if (policy.kind === 'default') return h.r15sKey;
    return h.ranks[index]! + h.resv[index]!;
  };
  let ordered = new HostOrders(H, (h) => eligible(h, 0), orderValue);
  const chooseOrdered = (spec: JobSpec): HostState | undefined => ordered.first(policy.kind === 'typed' ? TYPE_INDEX[spec.type] : IDX_RANK, (h) => fits(h, spec));
  const pool: HostState[] = new Array<HostState>(H.length);
  const candidates = (spec: JobSpec, t: number): HostState[] => H.filter((h) => eligible(h, t) && fits(h, spec));
  const choose = (spec: JobSpec, t: number): HostState | undefined => {
    switch (policy.kind) {
      case 'default':
      case 'rank':
      case 'typed':
        return chooseOrdered(spec);
      case 'random': {
        const c = candidates(spec, t);
        return c.length === 0 ? undefined : c[Math.floor(policyRand() * c.length)];
      }
      case 'two-choices':
        return twoChoices(candidates(spec, t), policyRand, (h) => orderValue(h, IDX_RANK));
      case 'oracle': {
        let n = 0;
        for (const h of H) if (eligible(h, t) && fits(h, spec)) pool[n++] = h;
        const sig = `${spec.threads}:${spec.mix.cpu},${spec.mix.mem},${spec.mix.io},${spec.mix.wait}:${Math.round(spec.memBytes / 2 ** 26)}`;
        return cheapestOf(pool, n, ORACLE_CANDIDATES, policyRand, (h) => oracleCost(h, spec, sig, t, p, alone));
      }
    }
  };

  const session = (t: number): void => {
    counters.sessions++;
    const refreshed = refreshDue(t, lastRefresh, s);
    if (refreshed) refresh(t);
    ordered = new HostOrders(H, (h) => eligible(h, t), orderValue);
    if (options.onSession !== undefined) {
      options.onSession(t, refreshed, H.map((h) => {
        view(h);
        return hostView(h);
      }));
    }
    let free = 0;
    for (const h of H) if (eligible(h, t)) free += h.free;
    if (pending.length > 0 && free > 0) {
      const left = placePending(pending, free, (ji) => {
        const h = choose(jobs[ji]!, t);
        if (h === undefined) return undefined;
        const was = eligible(h, t) ? h.free : 0;
        startJob(ji, h, t);
        const used = was - (eligible(h, t) ? h.free : 0);
        ordered.started(h);
        return used;
      });
      pending.length = left.length;
      for (let r = 0; r < left.length; r++) pending[r] = left[r]!;
    }
    if (traceHosts.length > 0) {
      trace.times.push(t);
      traceHosts.forEach((h, k) => trace.running[k]!.push(h.jobs.length));
    }
  };

  // Background load: every host starts busy with probability `share`, then alternates.
  const bgOn = new Array<boolean>(H.length).fill(false);
  const toggleBackground = (h: HostState, t: number): void => {
    advance(h, t);
    bgOn[h.index] = !bgOn[h.index];
    const mean = switchBackground(h, bgOn[h.index]!, bg, bgRand);
    resolve(h, t);
    push(t - Math.log(1 - bgRand()) * mean, EV_BACKGROUND, h.index);
  };
  if (bg.share > 0) {
    for (const h of H) {
      if (bgRand() < bg.share) toggleBackground(h, 0);
      else push(-Math.log(1 - bgRand()) * meanOff(bg), EV_BACKGROUND, h.index);
    }
  }

  push(s.mbdSleep, EV_SESSION);
  while (finished < jobs.length) {
    const e = events.peek();
    const arrival = nextArrival < jobs.length ? jobs[nextArrival]!.submit : Infinity;
    if (arrivesFirst(arrival, e)) {
      now = arrival;
      pending.push(nextArrival++);
      counters.events++;
      continue;
    }
    if (e === undefined) throw new Error('simulation: no event left with jobs unfinished (a bug)');
    events.pop();
    now = e.t;
    counters.events++;
    const h = e.host >= 0 ? H[e.host]! : undefined;
    switch (e.kind) {
      case EV_COMPLETE:
        if (h !== undefined && e.version === h.version) finishJobs(h, now);
        break;
      case EV_BACKGROUND:
        if (h !== undefined) toggleBackground(h, now);
        break;
      case EV_SESSION:
        session(now);
        if (finished < jobs.length) push(now + s.mbdSleep, EV_SESSION);
        break;
    }
  }

  const done = outcomes as JobOutcome[];
  return { policy: policy.name, outcomes: done, makespan: now, hosts: hostTotals(H, done, now), trace, counters, sampleAt: samplerOf(H, s.elimInterval, p) };
}

// A finished run's sampleAt over its hosts' timelines.
function samplerOf(hosts: readonly HostState[], elimInterval: number, p: Readonly<ClusterParams>): SimRun['sampleAt'] {
  const byName = new Map(hosts.map((h) => [h.spec.name, h]));
  return (host, t) => {
    const h = byName.get(host);
    if (h === undefined) throw new RangeError(`sampleAt: no host named ${JSON.stringify(host)}`);
    if (t < h.timeline.oldest) throw new RangeError(`sampleAt: ${host} at ${t} s is before the kept history (from ${h.timeline.oldest} s); run with keepHistory`);
    return toSample(sampleValues(h.timeline, h.spec, t, elimInterval, p), h.spec.cpus, h.spec.memBytes, Math.round(t * 1000), diskCount(h.spec));
  };
}

// Generates a workload for the hosts from the seed and runs it (generateWorkload +
// runWorkload with the same seed); the jobs are returned with the run.
export function simulateWorkload(hosts: readonly HostSpec[], generate: Partial<GenerateOptions>, options: RunOptions): SimRun & { jobs: JobSpec[] } {
  const jobs = generateWorkload(hosts, generate, options.seed);
  return { ...runWorkload(hosts, jobs, options), jobs };
}
