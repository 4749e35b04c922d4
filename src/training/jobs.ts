// Training examples from the cluster's own jobs: each finished job is labelled with
// its slowdown against other runs of the same kind, then joined with the features
// its execution host reported just before the job started. The choices and their
// reasons are in docs/retrain-data.md.
import { JOB_STAT_DONE, JOB_STAT_EXIT, type JobFinish } from '../lsf/acct.js';
import { ConfigError } from '../util/errors.js';
import type { HistoryRecord } from '../history/record.js';
import { RANK_MAX } from '../model/rank.js';
import { percentile } from '../util/stats.js';

// Why a finished job was left out, checked in this order; a job counts once.
export const EXCLUSION_REASONS = ['notStarted', 'failed', 'badTimes', 'fewRuns', 'tooShort', 'outlier', 'noHistory'] as const;
// One of EXCLUSION_REASONS.
export type ExclusionReason = (typeof EXCLUSION_REASONS)[number];
// How many jobs were left out for each reason.
export type ExclusionCounts = Record<ExclusionReason, number>;

// A zero count for every reason.
export function noExclusions(): ExclusionCounts {
  return { notStarted: 0, failed: 0, badTimes: 0, fewRuns: 0, tooShort: 0, outlier: 0, noHistory: 0 };
}

// Options of labelJobs (defaults and reasons in docs/retrain-data.md).
export interface LabelOptions {
  minRuns?: number; // a kind needs this many successful runs for a baseline; default 5
  baselinePercentile?: number; // of the kind's run times, 0..100; default 10
  minBaselineSec?: number; // kinds faster than this are left out (1 s resolution); default 10
  minRatio?: number; // runs shorter than this × baseline are outliers; default 0.5
  maxSlowdown?: number; // labels above this, in percent, are outliers; default RANK_MAX
}

// Options of HistoryJoin and joinHistory.
export interface JoinOptions {
  intervalSec?: number; // the daemon's sampling interval; a sample counts up to 2 intervals back; default 10
}

// Options of buildExamples.
export type ExampleOptions = LabelOptions & JoinOptions;

// A job that has a label but no features yet.
export interface LabelledJob {
  job: JobFinish;
  kind: string;
  host: string; // first execution host, as lsb.acct spells it
  startTime: number; // epoch seconds
  runtime: number; // seconds
  baseline: number; // seconds, the kind's baseline
  label: number; // percent slowdown, 0..maxSlowdown
}

// One training example: a labelled job and its host's features at its start.
export interface Example extends LabelledJob {
  features: Record<string, number | null>;
  sampleTs: number; // epoch ms of the sample used
}

// The kind of job whose runs are compared: the job name, an array's name without its
// index range, or the command when the job has no name.
export function jobKind(job: JobFinish): string {
  if (job.jobName === '') return `command:${job.command}`;
  const name = job.idx > 0 ? job.jobName.replace(/\[[^\]]*\](?:%\d+)?$/, '') : job.jobName;
  return `name:${name}`;
}

const IPV4 = /^\d{1,3}(?:\.\d{1,3}){3}$/;

// The host name without its domain, lower-cased: lsb.acct and the daemon's hostname
// may disagree on the domain (ol1 vs ol1.example.com) and on case, never on the rest.
export function shortHostName(name: string): string {
  const lower = name.toLowerCase();
  if (IPV4.test(lower)) return lower;
  const dot = lower.indexOf('.');
  return dot === -1 ? lower : lower.slice(0, dot);
}

function succeeded(job: JobFinish): boolean {
  // Tested as bits: mbatchd masks its internal bits off, but an LSF-derived
  // build may leave post-processing bits (PDONE, PERR) set.
  return (job.jStatus & JOB_STAT_DONE) !== 0 && (job.jStatus & JOB_STAT_EXIT) === 0 && job.exitStatus === 0;
}

function positive(name: string, value: number, integer = false): number {
  if (!Number.isFinite(value) || value <= 0 || (integer && !Number.isInteger(value))) {
    throw new ConfigError(`${name}: expected a positive ${integer ? 'integer' : 'number'}, received ${String(value)}`);
  }
  return value;
}

function labelSettings(options: LabelOptions) {
  const p = options.baselinePercentile ?? 10;
  if (!(p >= 0 && p <= 100)) throw new ConfigError(`baselinePercentile: expected 0 to 100, received ${String(p)}`);
  const minRatio = options.minRatio ?? 0.5;
  if (!(minRatio >= 0 && minRatio <= 1)) throw new ConfigError(`minRatio: expected 0 to 1, received ${String(minRatio)}`);
  return {
    minRuns: positive('minRuns', options.minRuns ?? 5, true),
    percentile: p,
    minBaselineSec: positive('minBaselineSec', options.minBaselineSec ?? 10),
    minRatio,
    maxSlowdown: positive('maxSlowdown', options.maxSlowdown ?? RANK_MAX),
  };
}

// Labels finished jobs. Pure: the result depends only on the jobs and options.
export function labelJobs(
  jobs: Iterable<JobFinish>,
  options: LabelOptions = {},
): { labelled: LabelledJob[]; excluded: ExclusionCounts; baselines: Map<string, number> } {
  const s = labelSettings(options);
  const excluded = noExclusions();
  const candidates: { job: JobFinish; kind: string; runtime: number }[] = [];
  const runtimes = new Map<string, number[]>();
  for (const job of jobs) {
    if (job.startTime <= 0 || job.execHosts.length === 0) excluded.notStarted += 1;
    else if (!succeeded(job)) excluded.failed += 1;
    else if (job.endTime < job.startTime) excluded.badTimes += 1;
    else {
      const kind = jobKind(job);
      const runtime = job.endTime - job.startTime;
      candidates.push({ job, kind, runtime });
      const list = runtimes.get(kind);
      if (list === undefined) runtimes.set(kind, [runtime]);
      else list.push(runtime);
    }
  }
  const baselines = new Map<string, number>();
  for (const [kind, list] of runtimes) {
    if (list.length < s.minRuns) continue;
    list.sort((a, b) => a - b);
    baselines.set(kind, percentile(list, s.percentile));
  }
  const labelled: LabelledJob[] = [];
  for (const { job, kind, runtime } of candidates) {
    const baseline = baselines.get(kind);
    if (baseline === undefined) {
      excluded.fewRuns += 1;
      continue;
    }
    if (baseline < s.minBaselineSec) {
      excluded.tooShort += 1;
      continue;
    }
    const ratio = runtime / baseline;
    const slowdown = 100 * (ratio - 1);
    if (ratio < s.minRatio || slowdown > s.maxSlowdown) {
      excluded.outlier += 1;
      continue;
    }
    const host = job.execHosts[0] ?? '';
    labelled.push({ job, kind, host, startTime: job.startTime, runtime, baseline, label: Math.min(s.maxSlowdown, Math.max(0, slowdown)) });
  }
  return { labelled, excluded, baselines };
}

interface HostJobs {
  starts: Float64Array; // epoch ms, ascending
  jobs: LabelledJob[]; // in the order of starts
  bestTs: Float64Array;
  bestFeatures: (Record<string, number | null> | undefined)[];
}

// Matches labelled jobs with history records offered one at a time, in any order,
// keeping per job only the best sample so far: memory grows with the jobs, not the history.
export class HistoryJoin {
  private readonly byHost = new Map<string, HostJobs>();
  private readonly windowMs: number;
  private readonly shortNames = new Map<string, string>();

  constructor(jobs: readonly LabelledJob[], options: JoinOptions = {}) {
    this.windowMs = 2 * 1000 * positive('intervalSec', options.intervalSec ?? 10);
    const grouped = new Map<string, LabelledJob[]>();
    for (const job of jobs) {
      const host = shortHostName(job.host);
      const list = grouped.get(host);
      if (list === undefined) grouped.set(host, [job]);
      else list.push(job);
    }
    for (const [host, list] of grouped) {
      list.sort((a, b) => a.startTime - b.startTime);
      this.byHost.set(host, {
        starts: Float64Array.from(list, (j) => j.startTime * 1000),
        jobs: list,
        bestTs: new Float64Array(list.length).fill(-Infinity),
        bestFeatures: new Array<undefined>(list.length).fill(undefined),
      });
    }
  }

  // Considers one sample for every job of its host that started within the window after it.
  offer(record: HistoryRecord): void {
    let host = this.shortNames.get(record.host);
    if (host === undefined) {
      host = shortHostName(record.host);
      this.shortNames.set(record.host, host);
    }
    const entry = this.byHost.get(host);
    if (entry === undefined) return;
    const { starts, bestTs, bestFeatures } = entry;
    const latest = record.ts + this.windowMs;
    // lsb.acct has whole seconds, so a sample in the job's start second may have come
    // after the start: only samples at or before the second's beginning are used.
    for (let i = lowerBound(starts, record.ts); i < starts.length && (starts[i] ?? Infinity) <= latest; i += 1) {
      if (record.ts > (bestTs[i] ?? Infinity)) {
        bestTs[i] = record.ts;
        bestFeatures[i] = record.features;
      }
    }
  }

  // The jobs that found a sample, by start time, and how many did not.
  result(): { examples: Example[]; noHistory: number } {
    const examples: Example[] = [];
    let noHistory = 0;
    for (const { jobs, bestTs, bestFeatures } of this.byHost.values()) {
      jobs.forEach((job, i) => {
        const features = bestFeatures[i];
        if (features === undefined) noHistory += 1;
        else examples.push({ ...job, features, sampleTs: bestTs[i] ?? NaN });
      });
    }
    examples.sort((a, b) => a.startTime - b.startTime || a.job.jobId - b.job.jobId || a.job.idx - b.job.idx);
    return { examples, noHistory };
  }
}

function lowerBound(sorted: Float64Array, value: number): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((sorted[mid] ?? Infinity) < value) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

// Joins labelled jobs with a stream of history records, read once.
export async function joinHistory(
  jobs: readonly LabelledJob[],
  history: AsyncIterable<HistoryRecord> | Iterable<HistoryRecord>,
  options: JoinOptions = {},
): Promise<{ examples: Example[]; noHistory: number }> {
  const join = new HistoryJoin(jobs, options);
  for await (const record of history) join.offer(record);
  return join.result();
}

// The training set: examples, what was left out by reason, and each kind's baseline.
export interface ExampleSet {
  examples: Example[];
  excluded: ExclusionCounts;
  baselines: Map<string, number>; // seconds, for kinds with enough runs
}

// Labels the jobs, then joins the kept ones with the history in one streaming pass.
export async function buildExamples(
  jobs: Iterable<JobFinish>,
  history: AsyncIterable<HistoryRecord> | Iterable<HistoryRecord>,
  options: ExampleOptions = {},
): Promise<ExampleSet> {
  const { labelled, excluded, baselines } = labelJobs(jobs, options);
  const { examples, noHistory } = await joinHistory(labelled, history, options);
  excluded.noHistory = noHistory;
  return { examples, excluded, baselines };
}
