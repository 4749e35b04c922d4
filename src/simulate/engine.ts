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

// One run as it goes: its settings, random streams and hosts, its event queue, and
// the state every event changes (the clock, the pending jobs, the finished count, the
// refresh epoch, the hosts' order at the current session). The stages below take it.
export interface Sim {
  readonly jobs: readonly JobSpec[];
  readonly options: RunOptions;
  readonly s: Readonly<SchedulerSettings>;
  readonly p: Readonly<ClusterParams>;
  readonly policy: PolicySpec;
  readonly bg: Readonly<BackgroundSpec>;
  readonly acceptInterval: number;
  readonly lookback: number;
  readonly bgRand: () => number;
  readonly policyRand: () => number;
  readonly H: readonly HostState[];
  readonly events: Heap<SimEvent>;
  seq: number; // events pushed so far: ties at one instant and kind keep their order
  readonly outcomes: Array<JobOutcome | undefined>;
  readonly counters: SimRun['counters'];
  readonly pending: number[]; // job indices, in submit order
  nextArrival: number; // the next job to arrive
  finished: number;
  now: number;
  epoch: number; // of the latest refresh: a host's view is computed once per epoch
  lastRefresh: number | undefined;
  readonly traceHosts: readonly HostState[];
  readonly trace: SimRun['trace'];
  readonly progressEvery: number;
  readonly viewInputs: ViewInputs;
  readonly alone: (h: HostState, item: LoadItem) => number;
  ordered: HostOrders; // the policy's order at the current session
  readonly orderValue: (h: HostState, index: number) => number;
  readonly pool: HostState[]; // the oracle's candidates, reused
  readonly bgOn: boolean[]; // whether each host's background load is on
}

// A run's settings with their defaults, its random streams, its hosts' starting state
// and an empty event queue, before any event.
export function newSim(hosts: readonly HostSpec[], jobs: readonly JobSpec[], options: RunOptions): Sim {
  const s: SchedulerSettings = { ...DEFAULT_SCHEDULER, ...options.scheduler };
  const p = options.params ?? CALIBRATED;
  const policy = options.policy;
  const cache = options.rankCache ?? new Map<string, CachedRank>();
  // Separate streams, so that every policy sees the same host phases and background.
  const timings = hostTimings(hosts.length, s, seededRandom(options.seed * 7919 + 1));
  const bgRand = seededRandom(options.seed * 7919 + 2);
  const policyRand = seededRandom(options.seed * 7919 + 3);
  const H = hosts.map((h, i) => new HostState(h, i, timings[i]!, p, options.keepHistory === true));
  const counters = { events: 0, sessions: 0, refreshes: 0, rankSamples: 0, rankCalls: 0 };
  const traceHosts = H.slice(0, Math.min(H.length, options.traceHosts ?? 0));
  // mbatchd's view of a host is computed when first needed, and only the parts the
  // policy reads (all of them for onSession).
  const viewInputs: ViewInputs = {
    s,
    p,
    needLoad: policy.kind === 'default' || options.onSession !== undefined,
    ranker: usesRank(policy) || options.onSession !== undefined ? options.ranker : undefined,
    cache,
    counters,
    reading: { cpuWanting: 0, ioStreams: 0, memUsed: 0, load1: 0, psiCpu: 0, psiIo: 0, busyIntegral: 0, iowaitIntegral: 0 },
  };
  const sim: Sim = {
    jobs,
    options,
    s,
    p,
    policy,
    bg: options.background ?? NO_BACKGROUND,
    acceptInterval: policy.acceptInterval ?? s.acceptInterval,
    lookback: Math.max(LOOKBACK, historyNeeded(s) + 10),
    bgRand,
    policyRand,
    H,
    events: new Heap<SimEvent>(eventLess),
    seq: 0,
    outcomes: new Array<JobOutcome | undefined>(jobs.length),
    counters,
    pending: [],
    nextArrival: 0,
    finished: 0,
    now: 0,
    epoch: -1,
    lastRefresh: undefined,
    traceHosts,
    trace: { times: [], hosts: traceHosts.map((h) => h.spec.name), running: traceHosts.map(() => []) },
    progressEvery: Math.max(1, Math.floor(jobs.length / 200)),
    viewInputs,
    alone: aloneRates(p),
    // Never read: every session builds its own before a job is placed.
    ordered: new HostOrders(H, (h) => eligible(sim, h, 0), (h, index) => orderValue(sim, h, index)),
    orderValue: (h, index) => orderValue(sim, h, index),
    pool: new Array<HostState>(H.length),
    bgOn: new Array<boolean>(H.length).fill(false),
  };
  return sim;
}

// Schedules an event at t, after those already scheduled at t of its kind.
function pushEvent(sim: Sim, t: number, kind: number, host = -1, version = 0): void {
  sim.events.push({ t, kind, seq: sim.seq++, host, version });
}

// Solves h's rates after a change at time t, records the new level and schedules its next completion.
function resolve(sim: Sim, h: HostState, t: number): void {
  const next = solveHost(h, t, sim.p);
  if (next < Infinity) pushEvent(sim, next, EV_COMPLETE, h.index, h.version);
}

// Brings h's view up to the latest refresh (nothing before the first).
function view(sim: Sim, h: HostState): void {
  if (h.viewEpoch === sim.epoch || sim.lastRefresh === undefined) return;
  h.viewEpoch = sim.epoch;
  viewHost(h, sim.lastRefresh, sim.viewInputs);
}

// A load refresh at session time t: fresh values from LIM, then every running job's
// reservation added with the runTime of the previous refresh, then runTime updated.
function refresh(sim: Sim, t: number): void {
  sim.counters.refreshes++;
  sim.epoch++;
  sim.lastRefresh = t;
  refreshLoads(sim.H, t, sim.lookback, sim.policy.reservation);
}

// Whether h takes a job at t at all: a free slot, no exclusive job, past its accept interval.
function eligible(sim: Sim, h: HostState, t: number): boolean {
  return h.free > 0 && !h.exclusive && acceptsJob(t, h.lastAccept, sim.s, sim.acceptInterval);
}

// Whether an eligible host can take the job: enough free slots and, for an exclusive
// job (bsub -x), no job running there (PEND_HOST_NONEXCLUSIVE in getJUsable).
function fits(h: HostState, spec: JobSpec): boolean {
  return h.free >= spec.slots && (spec.exclusive !== true || h.usedSlots === 0);
}

// Starts job index ji on h at time t: its slots taken, its reservation added, h's rates solved.
export function startJob(sim: Sim, ji: number, h: HostState, t: number): void {
  const spec = sim.jobs[ji]!;
  const policy = sim.policy;
  advance(h, t);
  const resIndex = policy.reservation === undefined ? -1 : policy.kind === 'typed' ? TYPE_INDEX[spec.type] : IDX_RANK;
  const item = { threads: spec.threads, mix: spec.mix, memBytes: spec.memBytes };
  h.jobs.push(runningJob(spec, ji, item, sim.alone(h, item), resIndex, t));
  h.usedSlots += spec.slots;
  h.started++;
  h.lastAccept = t;
  if (spec.exclusive === true) h.exclusive = true;
  // adjLsbLoad at jobStarted: the whole reservation at once, for the jobs placed after
  // it, once per slot (mbatchd adds it for each entry of the job's hPtr, one per slot).
  if (resIndex >= 0 && policy.reservation !== undefined) h.resv[resIndex]! += spec.slots * reservedAt(policy.reservation, 0);
  resolve(sim, h, t);
}

// The jobs of h done by t taken off it, counted and reported to onProgress; h's rates solved again.
function finishJobs(sim: Sim, h: HostState, t: number): void {
  const n = retireFinished(h, t, sim.outcomes);
  if (n === 0) return;
  const total = sim.jobs.length;
  const onProgress = sim.options.onProgress;
  for (let k = 0; k < n; k++) {
    sim.finished++;
    if (onProgress !== undefined && (sim.finished % sim.progressEvery === 0 || sim.finished === total)) onProgress(sim.finished, total);
  }
  resolve(sim, h, t);
}

// The value h is ordered by on the load index: the r15s key for the default policy,
// else the rank there plus the reservation on it.
function orderValue(sim: Sim, h: HostState, index: number): number {
  view(sim, h);
  if (sim.policy.kind === 'default') return h.r15sKey;
  return h.ranks[index]! + h.resv[index]!;
}

// The host a policy picks for a job at t among the eligible hosts with enough free slots.
function choose(sim: Sim, spec: JobSpec, t: number): HostState | undefined {
  const { H, policy, policyRand } = sim;
  switch (policy.kind) {
    case 'default':
    case 'rank':
    case 'typed':
      return sim.ordered.first(policy.kind === 'typed' ? TYPE_INDEX[spec.type] : IDX_RANK, (h) => fits(h, spec));
    case 'random': {
      const c = H.filter((h) => eligible(sim, h, t) && fits(h, spec));
      return c.length === 0 ? undefined : c[Math.floor(policyRand() * c.length)];
    }
    case 'two-choices':
      return twoChoices(
        H.filter((h) => eligible(sim, h, t) && fits(h, spec)),
        policyRand,
        (h) => orderValue(sim, h, IDX_RANK),
      );
    case 'oracle': {
      let n = 0;
      for (const h of H) if (eligible(sim, h, t) && fits(h, spec)) sim.pool[n++] = h;
      const sig = `${spec.threads}:${spec.mix.cpu},${spec.mix.mem},${spec.mix.io},${spec.mix.wait}:${Math.round(spec.memBytes / 2 ** 26)}`;
      return cheapestOf(sim.pool, n, ORACLE_CANDIDATES, policyRand, (h) => oracleCost(h, spec, sig, t, sim.p, sim.alone));
    }
  }
}

// A dispatch session at t: a refresh if one is due, the hosts' order built again, the
// pending jobs placed where the policy finds room, the traced hosts' jobs counted.
export function session(sim: Sim, t: number): void {
  const { H, options, pending } = sim;
  sim.counters.sessions++;
  const refreshed = refreshDue(t, sim.lastRefresh, sim.s);
  if (refreshed) refresh(sim, t);
  sim.ordered = new HostOrders(H, (h) => eligible(sim, h, t), sim.orderValue);
  if (options.onSession !== undefined) {
    options.onSession(t, refreshed, H.map((h) => {
      view(sim, h);
      return hostView(h);
    }));
  }
  let free = 0;
  for (const h of H) if (eligible(sim, h, t)) free += h.free;
  if (pending.length > 0 && free > 0) {
    const left = placePending(pending, free, (ji) => {
      const h = choose(sim, sim.jobs[ji]!, t);
      if (h === undefined) return undefined;
      const was = eligible(sim, h, t) ? h.free : 0;
      startJob(sim, ji, h, t);
      const used = was - (eligible(sim, h, t) ? h.free : 0);
      sim.ordered.started(h);
      return used;
    });
    pending.length = left.length;
    for (let r = 0; r < left.length; r++) pending[r] = left[r]!;
  }
  if (sim.traceHosts.length > 0) {
    sim.trace.times.push(t);
    sim.traceHosts.forEach((h, k) => sim.trace.running[k]!.push(h.jobs.length));
  }
}

// h's background load switched on or off at t, and its next switch scheduled.
function toggleBackground(sim: Sim, h: HostState, t: number): void {
  advance(h, t);
  sim.bgOn[h.index] = !sim.bgOn[h.index];
  const mean = switchBackground(h, sim.bgOn[h.index]!, sim.bg, sim.bgRand);
  resolve(sim, h, t);
  pushEvent(sim, t - Math.log(1 - sim.bgRand()) * mean, EV_BACKGROUND, h.index);
}

// Background load at the start: every host busy with probability `share`, its first switch scheduled.
function startBackground(sim: Sim): void {
  if (!(sim.bg.share > 0)) return;
  for (const h of sim.H) {
    if (sim.bgRand() < sim.bg.share) toggleBackground(sim, h, 0);
    else pushEvent(sim, -Math.log(1 - sim.bgRand()) * meanOff(sim.bg), EV_BACKGROUND, h.index);
  }
}

// Handles what comes next: the next job's arrival, else the next event (a job's end on
// a host, a background switch, a dispatch session and the next one scheduled).
export function step(sim: Sim): void {
  const { jobs } = sim;
  const e = sim.events.peek();
  const arrival = sim.nextArrival < jobs.length ? jobs[sim.nextArrival]!.submit : Infinity;
  if (arrivesFirst(arrival, e)) {
    sim.now = arrival;
    sim.pending.push(sim.nextArrival++);
    sim.counters.events++;
    return;
  }
  if (e === undefined) throw new Error('simulation: no event left with jobs unfinished (a bug)');
  sim.events.pop();
  sim.now = e.t;
  sim.counters.events++;
  const h = e.host >= 0 ? sim.H[e.host]! : undefined;
  switch (e.kind) {
    case EV_COMPLETE:
      if (h !== undefined && e.version === h.version) finishJobs(sim, h, sim.now);
      break;
    case EV_BACKGROUND:
      if (h !== undefined) toggleBackground(sim, h, sim.now);
      break;
    case EV_SESSION:
      session(sim, sim.now);
      if (sim.finished < jobs.length) pushEvent(sim, sim.now + sim.s.mbdSleep, EV_SESSION);
      break;
  }
}

// Runs one policy over the jobs (in submit order) on the hosts.
export function runWorkload(hosts: readonly HostSpec[], jobs: readonly JobSpec[], options: RunOptions): SimRun {
  checkInputs(hosts, jobs, options);
  const sim = newSim(hosts, jobs, options);
  startBackground(sim);
  pushEvent(sim, sim.s.mbdSleep, EV_SESSION);
  while (sim.finished < jobs.length) step(sim);
  const done = sim.outcomes as JobOutcome[];
  const now = sim.now;
  return { policy: sim.policy.name, outcomes: done, makespan: now, hosts: hostTotals(sim.H, done, now), trace: sim.trace, counters: sim.counters, sampleAt: samplerOf(sim.H, sim.s.elimInterval, sim.p) };
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
