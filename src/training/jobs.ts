// Training examples from the cluster's own jobs. The finished jobs are kept in one
// compact table (typed arrays, a few dozen bytes per job), joined in one streaming
// pass with the features their execution host reported just before they started,
// split by time, and labelled with their slowdown from contention against baselines
// of their family computed from the training window only (src/training/label.ts).
// The choices and their reasons are in docs/retrain-data.md.
import { JOB_STAT_DONE, JOB_STAT_EXIT, type JobFinish } from '../lsf/acct.js';
import { ConfigError } from '../util/errors.js';
import type { HistoryRecord } from '../history/record.js';
import { RAW_NAMES, featuresFromNamed, type Features } from '../model/features.js';
import { contentionLabel, cpuEfficiency, familyBaseline, labelSettings, type FamilyBaseline, type LabelOptions, type LabelSettings } from './label.js';

// Why a finished job was left out, checked in this order; a job counts once.
export const EXCLUSION_REASONS = ['notStarted', 'failed', 'requeued', 'badTimes', 'tooShort', 'noUsage', 'noHistory', 'fewRuns', 'lowCpu', 'unstable', 'outlier'] as const;
// One of EXCLUSION_REASONS.
export type ExclusionReason = (typeof EXCLUSION_REASONS)[number];
// How many jobs were left out for each reason.
export type ExclusionCounts = Record<ExclusionReason, number>;

// A zero count for every reason.
export function noExclusions(): ExclusionCounts {
  return { notStarted: 0, failed: 0, requeued: 0, badTimes: 0, tooShort: 0, noUsage: 0, noHistory: 0, fewRuns: 0, lowCpu: 0, unstable: 0, outlier: 0 };
}

// The family of a job, whose runs are compared: the job name, an array's name without
// its index range, or the command when the job has no name.
export function jobKind(job: Pick<JobFinish, 'jobName' | 'command' | 'idx'>): string {
  if (job.jobName === '') return `command:${job.command}`;
  const name = job.idx > 0 ? job.jobName.replace(/\[[^\]]*\](?:%\d+)?$/, '') : job.jobName;
  return `name:${name}`;
}

// The family a run is labelled within: its jobKind, of the user who submitted it. Job
// names are each user's to choose, so another user's runs under the same name would
// otherwise set the family's baseline and with it every label: runs named as five
// families of another user's, efficient on busy hosts and idle on idle ones, left four of
// the five stable and had retrain write a model whose idle-to-full CPU spread was halved.
export function jobFamily(job: Pick<JobFinish, 'jobName' | 'command' | 'idx' | 'userName'>): string {
  return `${jobKind(job)} (${job.userName})`;
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

const REASON_CODE = new Map<ExclusionReason, number>(EXCLUSION_REASONS.map((r, i) => [r, i + 1]));
const code = (r: ExclusionReason): number => REASON_CODE.get(r) ?? 0;

// The finished jobs, one row each, as typed columns: what the label, the join and the
// report need and nothing else (about 60 bytes a job). Rows are in start order after finish().
export class JobTable {
  count = 0;
  start = new Float64Array(1024); // epoch s
  end = new Float64Array(1024);
  jobId = new Float64Array(1024);
  submit = new Float64Array(1024);
  cpu = new Float64Array(1024); // user + system CPU seconds; -1 when the accounting has none
  suspended = new Float32Array(1024); // seconds suspended while running
  idx = new Int32Array(1024);
  family = new Int32Array(1024); // into families
  host = new Int32Array(1024); // into hosts (short names); -1 for a job that never started
  slots = new Int32Array(1024);
  reason = new Uint8Array(1024); // 0: usable so far; else 1 + its index in EXCLUSION_REASONS
  readonly families: string[] = [];
  readonly hosts: string[] = [];
  private readonly familyIds = new Map<string, number>();
  private readonly hostIds = new Map<string, number>();
  readonly settings: LabelSettings;

  constructor(options: LabelOptions = {}) {
    this.settings = labelSettings(options);
  }

  // The id of a short host name, or undefined for a host no job ran on.
  hostId(shortName: string): number | undefined {
    return this.hostIds.get(shortName);
  }

  // Adds a JOB_FINISH record, with the seconds it was suspended while running and
  // whether it ran before its last start (Suspensions.requeuedWithin: its CPU time is
  // then that of every run), and marks it with the first job-level reason that leaves it out.
  add(job: JobFinish, suspendedSec = 0, requeued = false): void {
    if (this.count === this.start.length) this.grow();
    const i = this.count;
    this.count += 1;
    this.start[i] = job.startTime;
    this.end[i] = job.endTime;
    this.jobId[i] = job.jobId;
    this.submit[i] = job.submitTime;
    this.idx[i] = job.idx;
    this.suspended[i] = suspendedSec;
    const { utime, stime } = job.rusage;
    this.cpu[i] = utime >= 0 && stime >= 0 ? utime + stime : -1;
    this.family[i] = intern(this.familyIds, this.families, jobFamily(job));
    const first = job.execHosts[0];
    this.host[i] = first === undefined ? -1 : intern(this.hostIds, this.hosts, shortHostName(first));
    this.slots[i] = Math.max(1, job.execHosts.length);
    let reason: ExclusionReason | undefined;
    if (job.startTime <= 0 || first === undefined) reason = 'notStarted';
    else if (!succeeded(job)) reason = 'failed';
    else if (requeued) reason = 'requeued';
    else if (job.endTime < job.startTime) reason = 'badTimes';
    else if (job.endTime - job.startTime - suspendedSec < this.settings.minRuntimeSec) reason = 'tooShort';
    else if (!((this.cpu[i] ?? -1) > 0)) reason = 'noUsage';
    this.reason[i] = reason === undefined ? 0 : code(reason);
  }

  // Sorts the rows by start time and drops records found twice (the same job in two
  // files); returns how many were dropped.
  finish(): number {
    const n = this.count;
    const order = new Uint32Array(n);
    for (let i = 0; i < n; i++) order[i] = i;
    const { start, jobId, idx, submit, end } = this;
    const cmp = (a: number, b: number): number =>
      (start[a] ?? 0) - (start[b] ?? 0) || (jobId[a] ?? 0) - (jobId[b] ?? 0) || (idx[a] ?? 0) - (idx[b] ?? 0) || (submit[a] ?? 0) - (submit[b] ?? 0) || (end[a] ?? 0) - (end[b] ?? 0);
    order.sort(cmp);
    let kept = 0;
    for (let k = 0; k < n; k++) {
      const i = order[k] ?? 0;
      if (kept > 0 && cmp(order[kept - 1] ?? 0, i) === 0) continue;
      order[kept++] = i;
    }
    const keep = order.subarray(0, kept);
    this.start = permute(this.start, keep);
    this.end = permute(this.end, keep);
    this.jobId = permute(this.jobId, keep);
    this.submit = permute(this.submit, keep);
    this.cpu = permute(this.cpu, keep);
    this.suspended = permute(this.suspended, keep);
    this.idx = permute(this.idx, keep);
    this.family = permute(this.family, keep);
    this.host = permute(this.host, keep);
    this.slots = permute(this.slots, keep);
    this.reason = permute(this.reason, keep);
    this.count = kept;
    return n - kept;
  }

  // Why row i is left out, or undefined if it is (still) usable.
  reasonOf(i: number): ExclusionReason | undefined {
    const c = this.reason[i] ?? 0;
    return c === 0 ? undefined : EXCLUSION_REASONS[c - 1];
  }

  // Leaves row i out for `reason`.
  exclude(i: number, reason: ExclusionReason): void {
    this.reason[i] = code(reason);
  }

  // How many rows are left out for each reason.
  excluded(): ExclusionCounts {
    const counts = noExclusions();
    for (let i = 0; i < this.count; i++) {
      const r = this.reasonOf(i);
      if (r !== undefined) counts[r] += 1;
    }
    return counts;
  }

  // Row i's CPU efficiency (src/training/label.ts), its run time taken extraSec longer.
  efficiency(i: number, extraSec = 0): number {
    return cpuEfficiency({ wallSec: (this.end[i] ?? 0) - (this.start[i] ?? 0) + extraSec, suspendedSec: this.suspended[i] ?? 0, cpuSec: this.cpu[i] ?? -1, slots: this.slots[i] ?? 1 });
  }

  // Row i's efficiency for its family's baseline: a run left out as tooShort counts at the
  // lowest efficiency its whole seconds allow (one second more run time), since leaving it
  // out would drop a family's fastest runs, those that waited least, and lower every label.
  // Not a short run that was suspended: each suspension's whole seconds may be a second
  // too many, so its run time has no such bound (NaN, which familyBaseline leaves out).
  baselineEfficiency(i: number): number {
    if (this.reason[i] !== code('tooShort')) return this.efficiency(i);
    if ((this.suspended[i] ?? 0) > 0) return NaN;
    return this.efficiency(i, 1);
  }

  // The job id as bjobs shows it: 122[3] for an array element.
  jobLabel(i: number): string {
    const idx = this.idx[i] ?? 0;
    return idx > 0 ? `${this.jobId[i]}[${idx}]` : String(this.jobId[i]);
  }

  private grow(): void {
    const size = this.start.length * 2;
    const bigger = <T extends Float64Array | Float32Array | Int32Array | Uint8Array>(a: T): T => {
      const b = new (a.constructor as new (n: number) => T)(size);
      b.set(a);
      return b;
    };
    this.start = bigger(this.start);
    this.end = bigger(this.end);
    this.jobId = bigger(this.jobId);
    this.submit = bigger(this.submit);
    this.cpu = bigger(this.cpu);
    this.suspended = bigger(this.suspended);
    this.idx = bigger(this.idx);
    this.family = bigger(this.family);
    this.host = bigger(this.host);
    this.slots = bigger(this.slots);
    this.reason = bigger(this.reason);
  }
}

function intern(ids: Map<string, number>, names: string[], name: string): number {
  let id = ids.get(name);
  if (id === undefined) {
    id = names.length;
    // A flat copy: the parser's strings are slices of their line, and V8 would keep the line alive.
    names.push(name.length < 13 ? name : Buffer.from(name, 'utf8').toString('utf8'));
    ids.set(names[id] ?? name, id);
  }
  return id;
}

function permute<T extends Float64Array | Float32Array | Int32Array | Uint8Array>(a: T, order: Uint32Array): T {
  const b = new (a.constructor as new (n: number) => T)(order.length);
  for (let k = 0; k < order.length; k++) b[k] = a[order[k] ?? 0] ?? 0;
  return b;
}

// Options of HistoryJoin.
export interface JoinOptions {
  intervalSec?: number; // the daemon's sampling interval; a sample counts up to 2 intervals back; default 10
}

// What a job keeps of its sample: the model's raw features (the CPU count the backbone reads among them) and the host facts (the cores, the CPUs a quota was taken from).
const PACKED: readonly string[] = RAW_NAMES;
const F = PACKED.length;

// Matches the table's usable jobs with history records offered one at a time: each job
// keeps the latest sample of its first execution host at or before its start, no older
// than two intervals. Records may come in any order, but each host's history is in time
// order, so each record touches only the few jobs that start within its window. A job
// keeps the sample's raw features packed in a Float32Array row (NaN where the host
// reported none), never the parsed record: memory grows with the jobs, not the history.
export class HistoryJoin {
  readonly raw: Float32Array; // count × RAW_NAMES (the CPU count among them)
  readonly sampleTs: Float64Array; // epoch ms of the sample used; -Infinity for none
  private readonly windowMs: number;
  private readonly order: Int32Array; // usable rows grouped by host, each group in start order
  private readonly hostFrom: Int32Array; // order[hostFrom[h] .. hostFrom[h + 1]) are host h's
  private readonly shortNames = new Map<string, number>();
  private readonly table: JobTable;

  constructor(table: JobTable, options: JoinOptions = {}) {
    const interval = options.intervalSec ?? 10;
    if (!(Number.isFinite(interval) && interval > 0)) throw new ConfigError(`intervalSec: expected a positive number, received ${String(interval)}`);
    this.table = table;
    this.windowMs = 2 * 1000 * interval;
    this.raw = new Float32Array(table.count * F).fill(NaN);
    this.sampleTs = new Float64Array(table.count).fill(-Infinity);
    const hosts = table.hosts.length;
    const counts = new Int32Array(hosts + 1);
    for (let i = 0; i < table.count; i++) if (table.reason[i] === 0) counts[(table.host[i] ?? 0) + 1]! += 1;
    for (let h = 0; h < hosts; h++) counts[h + 1]! += counts[h] ?? 0;
    this.hostFrom = counts.slice();
    const fill = counts.slice();
    this.order = new Int32Array(counts[hosts] ?? 0);
    // The table is in start order, so each host's group is too.
    for (let i = 0; i < table.count; i++) if (table.reason[i] === 0) this.order[fill[table.host[i] ?? 0]!++] = i;
  }

  // Considers one sample for every usable job of its host that started within the window after it.
  offer(record: HistoryRecord): void {
    let h = this.shortNames.get(record.host);
    if (h === undefined) {
      h = this.table.hostId(shortHostName(record.host)) ?? -1;
      this.shortNames.set(record.host, h);
    }
    if (h < 0) return;
    const { order, table, sampleTs } = this;
    const to = this.hostFrom[h + 1] ?? 0;
    // lsb.acct has whole seconds, so a sample in the job's start second may have come
    // after the start: only samples at or before the second's beginning are used.
    let lo = this.hostFrom[h] ?? 0;
    let hi = to;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((table.start[order[mid] ?? 0] ?? 0) * 1000 < record.ts) lo = mid + 1;
      else hi = mid;
    }
    const latest = record.ts + this.windowMs;
    for (let k = lo; k < to; k++) {
      const i = order[k] ?? 0;
      if ((table.start[i] ?? 0) * 1000 > latest) break;
      if (record.ts > (sampleTs[i] ?? Infinity)) {
        sampleTs[i] = record.ts;
        const base = i * F;
        for (let f = 0; f < F; f++) {
          const v = record.features[PACKED[f] ?? ''];
          this.raw[base + f] = typeof v === 'number' ? v : NaN;
        }
      }
    }
  }

  // Marks the usable jobs that found no sample as noHistory; returns how many did find one.
  finish(): number {
    let joined = 0;
    for (let i = 0; i < this.table.count; i++) {
      if (this.table.reason[i] !== 0) continue;
      if (this.sampleTs[i] === -Infinity) this.table.exclude(i, 'noHistory');
      else joined += 1;
    }
    return joined;
  }

  // The raw features of row i's sample, named as the history records them (null: not reported).
  namedAt(i: number): Record<string, number | null> {
    const named: Record<string, number | null> = {};
    for (let f = 0; f < F; f++) {
      const v = this.raw[i * F + f] ?? NaN;
      named[PACKED[f] ?? ''] = Number.isNaN(v) ? null : v;
    }
    return named;
  }

  // The model's input for row i, as the daemon would have computed it from that sample.
  featuresAt(i: number): Features {
    return featuresFromNamed(this.namedAt(i));
  }
}

// The labelled examples, split by time.
export interface ExampleSet {
  index: Int32Array; // table rows of the examples, in start order
  label: Float32Array; // percent slowdown from contention
  trainCount: number; // index[0 .. trainCount) started before `cut`: the training window
  holdoutCount: number; // the rest, started at or after `cut`: held out
  cut: number; // epoch s
  families: Map<number, FamilyBaseline>; // by family id, from the training window (fewRuns with 0 runs: seen only in the holdout)
}

// Splits the joined jobs by start time, then labels them: the newest `holdoutFraction`
// of the jobs that found a sample are held out; every family's baseline comes from its
// runs that started before the first held-out one (history or not; too short to
// label or not, baselineEfficiency), so the holdout never sees its own future. Marks the rows it leaves out in the table.
export function labelAndSplit(table: JobTable, holdoutFraction: number): ExampleSet {
  if (!(holdoutFraction >= 0 && holdoutFraction < 1)) throw new ConfigError(`holdoutFraction: expected 0 to less than 1, received ${String(holdoutFraction)}`);
  const s = table.settings;
  const candidates: number[] = [];
  for (let i = 0; i < table.count; i++) if (table.reason[i] === 0) candidates.push(i);
  const held = Math.round(candidates.length * holdoutFraction);
  const cut = held === 0 ? Infinity : (table.start[candidates[candidates.length - held] ?? 0] ?? Infinity);

  const noHistory = code('noHistory');
  const tooShort = code('tooShort');
  const efficiencies = new Map<number, number[]>();
  for (let i = 0; i < table.count && (table.start[i] ?? Infinity) < cut; i++) {
    const r = table.reason[i];
    if (r !== 0 && r !== noHistory && r !== tooShort) continue;
    const fam = table.family[i] ?? 0;
    const list = efficiencies.get(fam);
    const e = table.baselineEfficiency(i);
    if (list === undefined) efficiencies.set(fam, [e]);
    else list.push(e);
  }
  const families = new Map<number, FamilyBaseline>();
  for (const [fam, list] of efficiencies) families.set(fam, familyBaseline(list, s));

  const index: number[] = [];
  const labels: number[] = [];
  let trainCount = 0;
  for (const i of candidates) {
    const fam = table.family[i] ?? 0;
    let fb = families.get(fam);
    if (fb === undefined) {
      // A family seen only in the holdout: kept with no runs, so that it is named among
      // the families left out like any other, not only counted.
      fb = { status: 'fewRuns', runs: 0 };
      families.set(fam, fb);
    }
    if (fb.status !== 'ok') {
      table.exclude(i, fb.status);
      continue;
    }
    const label = contentionLabel(table.efficiency(i), fb.baseline, s);
    if (label === undefined) {
      table.exclude(i, 'outlier');
      continue;
    }
    index.push(i);
    labels.push(label);
    if ((table.start[i] ?? Infinity) < cut) trainCount += 1;
  }
  return { index: Int32Array.from(index), label: Float32Array.from(labels), trainCount, holdoutCount: index.length - trainCount, cut, families };
}

// Options of buildExamples.
export type ExampleOptions = LabelOptions & JoinOptions & { holdoutFraction?: number };

// Everything from jobs and history to labelled examples, for tests and scripts that
// have the records in memory: table, join in one pass, then split and label.
export async function buildExamples(
  jobs: Iterable<JobFinish> | AsyncIterable<JobFinish>,
  history: AsyncIterable<HistoryRecord> | Iterable<HistoryRecord>,
  options: ExampleOptions = {},
): Promise<{ table: JobTable; join: HistoryJoin; examples: ExampleSet; excluded: ExclusionCounts; duplicates: number }> {
  const table = new JobTable(options);
  for await (const job of jobs) table.add(job);
  const duplicates = table.finish();
  const join = new HistoryJoin(table, options);
  for await (const record of history) join.offer(record);
  join.finish();
  const examples = labelAndSplit(table, options.holdoutFraction ?? 0.2);
  return { table, join, examples, excluded: table.excluded(), duplicates };
}
