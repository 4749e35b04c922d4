// A comparison: every policy over the same workload and hosts, for several seeds,
// summarised per policy (mean and 95th-percentile slowdown, excess slowdown, the share
// of the oracle's gain over OpenLava's default, pending time, makespan, utilisation)
// with the spread over seeds, plus the D sweep of the queue's reservation.
import type { RankResult, Ranker } from '../model/rank.js';
import { percentile } from '../util/stats.js';
import { toSample, JOB_TYPES, type HostSpec, type JobType } from './cluster.js';
import { runWorkload, type BackgroundSpec, type CachedRank, type SimRun } from './engine.js';
import type { SchedulerSettings } from './mbatchd.js';
import type { ClusterParams } from './params.js';
import { describePolicy, usesRank, type PolicySpec } from './policies.js';
import type { JobSpec } from './workload.js';

// What a comparison runs.
export interface ExperimentInput {
  hosts: readonly HostSpec[];
  workload: (seed: number) => JobSpec[]; // the jobs of one seed
  policies: readonly PolicySpec[];
  seeds: readonly number[];
  ranker?: Ranker;
  scheduler?: Partial<SchedulerSettings>;
  params?: Readonly<ClusterParams>;
  background?: Readonly<BackgroundSpec>;
  traceHosts?: number;
  onProgress?: (p: { run: number; runs: number; policy: string; seed: number; finished: number; jobs: number }) => void;
}

// One policy's figures for one seed.
export interface RunStats {
  seed: number;
  jobs: number;
  meanSlowdown: number;
  p95Slowdown: number;
  meanExcess: number; // mean of slowdown − 1: what contention costs
  meanPending: number; // seconds from submit to start
  makespan: number; // seconds from the start to the last job's end
  utilisation: { mean: number; min: number; max: number }; // hosts' busy CPU share over the makespan
  byType: Partial<Record<JobType, { jobs: number; meanSlowdown: number }>>;
  seconds: number; // wall time of the run
}

// A figure over seeds.
export interface Spread {
  mean: number;
  sd: number; // sample standard deviation (0 for one seed)
  ci95: number; // half-width of the 95 % confidence interval of the mean (Student's t)
  n: number;
}

// One policy over all seeds.
export interface PolicySummary {
  name: string;
  description: string;
  kind: PolicySpec['kind'];
  reservation?: PolicySpec['reservation'];
  acceptInterval?: number;
  unavailable?: string; // why it was not run
  runs: RunStats[];
  meanSlowdown?: Spread;
  p95Slowdown?: Spread;
  meanExcess?: Spread;
  meanPending?: Spread;
  makespan?: Spread;
  utilisation?: Spread;
  gainShare?: Spread; // per seed: (default − policy) / (default − oracle) of the mean slowdown
  cutVsDefault?: Spread; // per seed: 1 − policy / default of the mean slowdown
  cdf?: number[]; // slowdown quantiles 0, 1, ..., 100 % of the first seed
  hosts?: Array<{ name: string; cpus: number; jobs: number; utilisation: number }>; // first seed
  trace?: SimRun['trace']; // first seed
}

// The comparison's answer.
export interface ExperimentResult {
  seeds: number[];
  hosts: number;
  slots: number;
  jobsPerSeed: number[];
  policies: PolicySummary[];
  typedAvailable: boolean;
  rankCalls: number;
  seconds: number;
}

// Why a typed policy cannot run with this ranker, or undefined if it can.
export function typedUnavailable(ranker: Ranker | undefined, host: HostSpec | undefined): string | undefined {
  if (ranker === undefined || host === undefined) return 'unavailable: no rank model';
  const idle = { busy: 0, iowait: 0, load1PerCpu: 0, runnablePerCpu: 0, memUsed: 0.1, diskBusy: 0, psiCpu: 0, psiIo: 0 };
  const result: RankResult = ranker.rank(toSample(idle, host.cpus, host.memBytes, 0));
  return result.typed === undefined ? 'unavailable: model has no typed ranks' : undefined;
}

const T95 = [12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.16, 2.145, 2.131, 2.12, 2.11, 2.101, 2.093, 2.086];

// Student's t for a two-sided 95 % interval with df degrees of freedom: the table up
// to 20, then the Cornish-Fisher expansion around the normal 1.96 (within 0.001 of
// the exact value from 20 on; 1.96 alone is 6 % short at 21, 2 % at 60).
export function t95(df: number): number {
  const fromTable = T95[df - 1];
  if (fromTable !== undefined) return fromTable;
  const z = 1.959964;
  return z + (z ** 3 + z) / (4 * df) + (5 * z ** 5 + 16 * z ** 3 + 3 * z) / (96 * df * df);
}

// Mean, standard deviation and 95 % interval of per-seed values (NaN values left out).
export function spread(values: readonly number[]): Spread {
  const v = values.filter((x) => Number.isFinite(x));
  const n = v.length;
  if (n === 0) return { mean: NaN, sd: NaN, ci95: NaN, n: 0 };
  const mean = v.reduce((a, b) => a + b, 0) / n;
  if (n === 1) return { mean, sd: 0, ci95: NaN, n };
  const sd = Math.sqrt(v.reduce((a, b) => a + (b - mean) ** 2, 0) / (n - 1));
  const t = t95(n - 1);
  return { mean, sd, ci95: (t * sd) / Math.sqrt(n), n };
}

// One run's figures.
export function runStats(run: SimRun, seed: number, seconds: number): RunStats {
  const o = run.outcomes;
  const slow = Float64Array.from(o.map((x) => x.slowdown)).sort();
  const sum = (f: (x: (typeof o)[number]) => number): number => o.reduce((a, x) => a + f(x), 0);
  const byType: RunStats['byType'] = {};
  for (const t of JOB_TYPES) {
    const of = o.filter((x) => x.type === t);
    if (of.length > 0) byType[t] = { jobs: of.length, meanSlowdown: of.reduce((a, x) => a + x.slowdown, 0) / of.length };
  }
  const util = run.hosts.map((h) => h.utilisation);
  return {
    seed,
    jobs: o.length,
    meanSlowdown: sum((x) => x.slowdown) / o.length,
    p95Slowdown: percentile(Array.from(slow), 95),
    meanExcess: sum((x) => x.slowdown - 1) / o.length,
    meanPending: sum((x) => x.start - x.submit) / o.length,
    makespan: run.makespan,
    utilisation: { mean: util.reduce((a, b) => a + b, 0) / util.length, min: util.reduce((a, b) => Math.min(a, b), Infinity), max: util.reduce((a, b) => Math.max(a, b), 0) },
    byType,
    seconds,
  };
}

// Runs every policy for every seed and summarises.
export function runExperiment(input: ExperimentInput): ExperimentResult {
  const started = performance.now();
  const typedWhy = typedUnavailable(input.ranker, input.hosts[0]);
  const caches = new Map<string, CachedRank>();
  const summaries: PolicySummary[] = input.policies.map((p) => ({
    name: p.name,
    description: describePolicy(p),
    kind: p.kind,
    ...(p.reservation === undefined ? {} : { reservation: p.reservation }),
    ...(p.acceptInterval === undefined ? {} : { acceptInterval: p.acceptInterval }),
    ...(p.kind === 'typed' && typedWhy !== undefined ? { unavailable: typedWhy } : {}),
    ...(usesRank(p) && input.ranker === undefined ? { unavailable: 'unavailable: no rank model' } : {}),
    runs: [],
  }));
  const runnable = input.policies.filter((_, i) => summaries[i]!.unavailable === undefined);
  const runs = runnable.length * input.seeds.length;
  const jobsPerSeed: number[] = [];
  let run = 0;
  let rankCalls = 0;
  input.seeds.forEach((seed, si) => {
    const jobs = input.workload(seed);
    jobsPerSeed.push(jobs.length);
    input.policies.forEach((policy, pi) => {
      const summary = summaries[pi]!;
      if (summary.unavailable !== undefined) return;
      run++;
      const t0 = performance.now();
      const result = runWorkload(input.hosts, jobs, {
        seed,
        policy,
        ...(input.ranker === undefined ? {} : { ranker: input.ranker }),
        ...(input.scheduler === undefined ? {} : { scheduler: input.scheduler }),
        ...(input.params === undefined ? {} : { params: input.params }),
        ...(input.background === undefined ? {} : { background: input.background }),
        rankCache: caches,
        traceHosts: si === 0 ? (input.traceHosts ?? 0) : 0,
        onProgress: (finished, total) => input.onProgress?.({ run, runs, policy: policy.name, seed, finished, jobs: total }),
      });
      rankCalls += result.counters.rankCalls;
      summary.runs.push(runStats(result, seed, (performance.now() - t0) / 1000));
      if (si === 0) {
        const slow = result.outcomes.map((o) => o.slowdown).sort((a, b) => a - b);
        summary.cdf = Array.from({ length: 101 }, (_, q) => percentile(slow, q));
        summary.hosts = result.hosts.map((h) => ({ ...h }));
        summary.trace = result.trace;
      }
    });
  });
  const base = summaries.find((s) => s.kind === 'default' && s.unavailable === undefined);
  const oracle = summaries.find((s) => s.kind === 'oracle' && s.unavailable === undefined);
  for (const s of summaries) {
    if (s.runs.length === 0) continue;
    const pick = (f: (r: RunStats) => number): Spread => spread(s.runs.map(f));
    s.meanSlowdown = pick((r) => r.meanSlowdown);
    s.p95Slowdown = pick((r) => r.p95Slowdown);
    s.meanExcess = pick((r) => r.meanExcess);
    s.meanPending = pick((r) => r.meanPending);
    s.makespan = pick((r) => r.makespan);
    s.utilisation = pick((r) => r.utilisation.mean);
    if (base !== undefined) {
      s.cutVsDefault = spread(s.runs.map((r, i) => 1 - r.meanSlowdown / base.runs[i]!.meanSlowdown));
      if (oracle !== undefined) {
        s.gainShare = spread(s.runs.map((r, i) => {
          const headroom = base.runs[i]!.meanSlowdown - oracle.runs[i]!.meanSlowdown;
          return headroom > 1e-9 ? (base.runs[i]!.meanSlowdown - r.meanSlowdown) / headroom : NaN;
        }));
      }
    }
  }
  return {
    seeds: [...input.seeds],
    hosts: input.hosts.length,
    slots: input.hosts.reduce((a, h) => a + h.mxj, 0),
    jobsPerSeed,
    policies: summaries,
    typedAvailable: typedWhy === undefined,
    rankCalls,
    seconds: (performance.now() - started) / 1000,
  };
}

// The reservation sweep: mean slowdown per D (D = 0 is order[rank] alone), from the
// policies of a result that order by rank without JOB_ACCEPT_INTERVAL.
export function sweepOf(result: ExperimentResult): Array<{ d: number; name: string; meanSlowdown: Spread }> {
  return result.policies
    .filter((p) => p.kind === 'rank' && p.meanSlowdown !== undefined && p.acceptInterval === undefined)
    .map((p) => ({ d: p.reservation?.value ?? 0, name: p.name, meanSlowdown: p.meanSlowdown! }))
    .sort((a, b) => a.d - b.d);
}
