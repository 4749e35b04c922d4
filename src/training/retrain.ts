// `lavarank retrain`: learns the rank from the cluster's own finished jobs. Reads
// lsb.acct and the daemons' history, labels each job with its slowdown and joins it
// with its host's features at its start (src/training/jobs.ts), holds out the newest jobs,
// trains, compares the new model with the installed one on those jobs, and replaces
// the installed model atomically only if the new one is better. Writes an HTML
// report either way. Choices and their reasons are in docs/retrain.md.
import { accessSync, chmodSync, constants, copyFileSync, existsSync, readdirSync, renameSync, statSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { readAcct, type JobFinish } from '../lsf/acct.js';
import { writeFileAtomic } from '../util/atomic-file.js';
import type { Config } from '../config.js';
import { ConfigError, ModelError, errorCode, errorMessage } from '../util/errors.js';
import { historyFiles, readHistory } from '../history/reader.js';
import { defaultHistoryDir } from '../history/record.js';
import { EXCLUSION_REASONS, HistoryJoin, labelJobs, shortHostName, type Example, type ExclusionCounts } from './jobs.js';
import { calibrationRows, readCalibration } from './dataset.js';
import { featuresFromNamed } from '../model/features.js';
import { loadModel, modelFromFile, type LoadedModel } from '../model/model.js';
import { meanAbsoluteError, trainModel, writeModelFile, type TrainingRow } from './train.js';
import type { GateResult } from './evaluate.js';
import { clampRank } from '../model/rank.js';
import { defaultModelPath, modelPathFor } from '../model/rankers.js';
import { renderReport, type HoldoutPoint, type MaeEntry } from './report-html.js';
import { trustProblems } from '../util/trust.js';

// Exit status: the new model was written (or, with --dry-run, would be). All are in docs/retrain.md.
export const EXIT_WRITTEN = 0;
// Exit status: an error; the message names the file or option and what was wrong.
export const EXIT_ERROR = 1;
// Exit status: a bad option value.
export const EXIT_USAGE = 2;
// Exit status: the new model is not better than the installed one, so nothing was written.
export const EXIT_NOT_BETTER = 3;
// Exit status: Ctrl-C or SIGTERM (128 + SIGINT, as shells report it); nothing was written.
export const EXIT_INTERRUPTED = 130;

// A holdout smaller than this says too little to replace a model on.
export const MIN_HOLDOUT = 20;
// Fewer training rows than this cannot fit a network with a validation part.
export const MIN_TRAIN = 50;

// At most as many epochs as the default model is trained for.
export const DEFAULT_EPOCHS = 2000;
// Never more than two minutes of training by default, so that 100 000 jobs fit in a few minutes.
export const DEFAULT_TIME_LIMIT_SEC = 120;
// Training stops once the validation error has not improved for this many epochs.
export const PATIENCE_EPOCHS = 200;
// An improvement of the validation MAE smaller than this share does not count for patience.
export const MIN_IMPROVEMENT = 0.005;

// Everything one retrain run needs, already resolved against the config.
export interface RetrainOptions {
  history: string[]; // files or directories
  historyFromConfig?: boolean; // no --history was given: history is the config's history.dir
  acct: string[]; // files or directories (lsb.acct and lsb.acct.N inside)
  calibration: string[];
  out: string;
  report: string;
  configPath: string | null; // for hints only
  configModel: string; // the model file the config makes the daemons use
  intervalSec: number;
  minRuns: number;
  holdoutFraction: number;
  seed: number;
  epochs: number;
  timeLimitSec: number;
  force: boolean;
  dryRun: boolean;
  now?: () => Date; // the model's training date
}

// Where retrain writes and what it watches: stdout for results, stderr for progress.
export interface RetrainIO {
  out(text: string): void; // one or more whole lines
  err(text: string): void; // raw text, no newline added (a progress line is redrawn with \r)
  isTTY: boolean; // err is a terminal: one progress line updated in place
  columns?: number; // the terminal's width; default 80
  signal?: AbortSignal; // Ctrl-C: stop cleanly, write nothing
  clock?: () => number; // ms, for progress pacing and the time limit; default performance.now
}

// What a run did, for main's exit status, the benchmark and tests.
export interface RetrainResult {
  exitCode: number;
  written: boolean;
  outcome: string;
  jobs: number;
  examples: number;
  holdout: number;
  newMae: number;
  installedMae: number | null;
  readMs: number; // lsb.acct, history and the join
  trainMs: number;
  epochs: number;
  stoppedBy: string; // what ended training
  totalMs: number;
  reportPath?: string;
}

// ---------------------------------------------------------------- progress

// A progress reporter: on a terminal one line redrawn in place (at most every 100 ms),
// otherwise a log line at most every `everyMs`, so a cron job's log stays short.
export class Progress {
  private shown = false;
  private last = -Infinity;
  constructor(
    private readonly write: (text: string) => void,
    private readonly isTTY: boolean,
    private readonly clock: () => number,
    private readonly everyMs = 10_000,
    private readonly columns = 80,
  ) {}

  // A passing state; `force` shows it whatever the pace.
  update(text: string, force = false): void {
    const t = this.clock();
    if (!force && t - this.last < (this.isTTY ? 100 : this.everyMs)) return;
    this.last = t;
    if (this.isTTY) {
      // A line longer than the terminal wraps, and \r would then redraw only its last row.
      this.write(`\r\x1b[K${text.length < this.columns ? text : `${text.slice(0, Math.max(0, this.columns - 2))}…`}`);
      this.shown = true;
    } else {
      this.write(`${text}\n`);
    }
  }

  // Removes the progress line from a terminal, before other output.
  clear(): void {
    if (!this.shown) return;
    this.write('\r\x1b[K');
    this.shown = false;
  }
}

// ---------------------------------------------------------------- pure pieces

// The model being replaced, or why there is none to compare with.
export type Installed =
  | { state: 'none'; path: string }
  | { state: 'invalid'; path: string; why: string }
  | { state: 'loaded'; path: string; model: LoadedModel };

// Whether to write, the exit status and why. Strictly lower holdout MAE wins; with no
// usable installed model there is nothing to beat; --force writes anyway; --dry-run
// writes nothing but exits as a real run would.
export function decideWrite(
  newMae: number,
  installedMae: number | null,
  options: { force: boolean; dryRun: boolean; installedPath: string; gate?: GateResult },
): { write: boolean; exitCode: number; reason: string } {
  const fmt = (x: number): string => x.toFixed(2);
  let better: boolean;
  let reason: string;
  if (!Number.isFinite(newMae)) {
    better = false;
    reason = `the new model's holdout MAE is ${String(newMae)}`;
  } else if (installedMae === null) {
    better = true;
    reason = `there is no usable installed model at ${options.installedPath} to beat`;
  } else if (newMae < installedMae) {
    better = true;
    reason = `the new model beats the installed one on the holdout (MAE ${fmt(newMae)} < ${fmt(installedMae)})`;
  } else {
    better = false;
    reason = `the new model does not beat the installed one on the holdout (MAE ${fmt(newMae)} >= ${fmt(installedMae)})`;
  }
  if (better && options.gate !== undefined && !options.gate.pass) {
    // The rule the default model is held to (gateDecision): beat the backbone alone and the ridge regression.
    better = false;
    reason = options.gate.reason;
  }
  const write = better || options.force;
  const exitCode = write ? EXIT_WRITTEN : EXIT_NOT_BETTER;
  if (options.dryRun) return { write: false, exitCode, reason: `dry run, nothing written: it would ${write ? '' : 'not '}be written, since ${reason}${!better && write ? ' and --force was given' : ''}` };
  if (!better && write) return { write, exitCode, reason: `written because of --force, although ${reason}` };
  return { write, exitCode, reason: write ? `written: ${reason}` : `not written: ${reason} (--force writes anyway)` };
}

// The holdout table for a terminal: MAE in rank points and n, side by side.
export function formatHoldoutTable(entries: readonly MaeEntry[]): string {
  const nameWidth = Math.max(9, ...entries.map((e) => e.name.length));
  const nWidth = Math.max(1, ...entries.map((e) => String(e.n).length));
  const lines = [
    `| ${'predictor'.padEnd(nameWidth)} |   MAE | ${'n'.padStart(nWidth)} | notes`,
    `|${'-'.repeat(nameWidth + 2)}|------:|${'-'.repeat(nWidth + 1)}:|------`,
  ];
  for (const e of entries) {
    const mae = e.mae === null || !Number.isFinite(e.mae) ? '-' : e.mae.toFixed(1);
    lines.push(`| ${e.name.padEnd(nameWidth)} | ${mae.padStart(5)} | ${String(e.n).padStart(nWidth)} | ${e.note}`);
  }
  return lines.join('\n');
}

// Epochs per training chunk for this many rows: about half a second of brain.js at
// ~150 000 rows per second, so Ctrl-C and the time limit act within a second.
export function chunkFor(rows: number): number {
  return Math.max(1, Math.min(50, Math.floor(75_000 / Math.max(1, rows))));
}

// The output path: --out as given; else the model the config names. The embedded default
// in the install tree is replaced only when named with --out, since a reinstall would
// silently bring the old one back and every host without a config would change at once.
export function resolveOutput(out: string | undefined, config: Pick<Config, 'model'>, embedded: string, configPath: string | null): string {
  if (out !== undefined) return resolve(out);
  if (config.model !== null) return resolve(config.model);
  throw new ConfigError(
    `no --out, and ${configPath === null ? 'there is no config file' : `the config ${configPath} sets no model`}; the daemons use the embedded default model ${embedded}, ` +
      'which retrain replaces only when named explicitly. Give --out FILE (and set "model: FILE" in the config), or --out ' + embedded,
  );
}

// A function that returns one shared copy of each distinct string it is given. The parser's
// fields are slices of their line, and V8 keeps a whole line alive for a slice of 13
// characters or more; names and hosts also repeat from job to job.
export function stringPool(): (s: string) => string {
  const pool = new Map<string, string>();
  return (s) => {
    let own = pool.get(s);
    if (own === undefined) {
      own = s.length < 13 ? s : Buffer.from(s, 'utf8').toString('utf8'); // a flat copy, not a slice
      pool.set(own, own);
    }
    return own;
  };
}

// A job without the fields retrain never reads, its strings from the pool: 100 000 jobs
// then take about 50 MB of heap instead of 140.
export function slimJob(job: JobFinish, intern: (s: string) => string = (s) => s): JobFinish {
  return {
    ...EMPTY_JOB,
    version: intern(job.version), endTime: job.endTime, jobId: job.jobId, submitTime: job.submitTime, startTime: job.startTime,
    userName: intern(job.userName), queue: intern(job.queue), execHosts: job.execHosts.slice(0, 1).map(intern),
    jStatus: job.jStatus, jobName: intern(job.jobName), command: job.jobName === '' ? intern(job.command) : '', exitStatus: job.exitStatus, idx: job.idx,
  };
}

const EMPTY_JOB: JobFinish = Object.freeze({
  version: '', endTime: 0, jobId: 0, userId: 0, options: 0, numProcessors: 0, submitTime: 0, beginTime: 0, termTime: 0, startTime: 0,
  userName: '', queue: '', resReq: '', dependCond: '', preExecCmd: '', fromHost: '', cwd: '', inFile: '', outFile: '', errFile: '',
  jobFile: '', askedHosts: [], execHosts: [], jStatus: 0, hostFactor: 0, jobName: '', command: '',
  rusage: Object.freeze({
    utime: -1, stime: -1, maxrss: -1, ixrss: -1, ismrss: -1, idrss: -1, isrss: -1, minflt: -1, majflt: -1, nswap: -1,
    inblock: -1, oublock: -1, ioch: -1, msgsnd: -1, msgrcv: -1, nsignals: -1, nvcsw: -1, nivcsw: -1, exutime: -1,
  }),
  mailUser: '', projectName: '', exitStatus: 0, maxNumProcessors: 0, loginShell: '', idx: 0, maxRMem: 0, maxRSwap: 0,
  inFileSpool: '', commandSpool: '',
}) as JobFinish;

const ACCT_FILE = /^lsb\.acct(?:\.(\d+))?$/;

// The accounting files named: files as given; a directory gives its lsb.acct and rotated
// lsb.acct.N, oldest (highest N) first. Throws ConfigError naming a path that is missing.
export function acctFiles(paths: readonly string[]): string[] {
  const files: string[] = [];
  for (const path of paths) {
    const st = statOrFail('--acct', path, 'an lsb.acct file or the directory holding it');
    if (!st.isDirectory()) {
      files.push(path);
      continue;
    }
    const found = readdirSync(path)
      .map((name) => ({ name, m: ACCT_FILE.exec(name) }))
      .filter((f) => f.m !== null)
      .map((f) => ({ path: join(path, f.name), n: f.m?.[1] === undefined ? 0 : Number(f.m[1]) }))
      .sort((a, b) => b.n - a.n);
    if (found.length === 0) throw new ConfigError(`--acct ${path}: a directory with no lsb.acct or lsb.acct.N in it`);
    files.push(...found.map((f) => f.path));
  }
  return files;
}

function statOrFail(option: string, path: string, expected: string) {
  try {
    return statSync(path);
  } catch (err) {
    const code = errorCode(err);
    throw new ConfigError(`${option} ${path}: ${code === 'ENOENT' ? 'no such file or directory' : `cannot be read (${code ?? errorMessage(err)})`}; expected ${expected}`, { cause: err });
  }
}

// ---------------------------------------------------------------- arguments

// The command line as given, before the config fills in defaults.
export interface RetrainArgs {
  help: boolean;
  acct: string[];
  history: string[];
  calibration: string[];
  out?: string;
  report?: string;
  config?: string;
  interval?: number;
  minRuns: number;
  holdoutFraction: number;
  seed: number;
  epochs: number;
  timeLimitSec: number;
  force: boolean;
  dryRun: boolean;
}

// ---------------------------------------------------------------- the run

function pct(x: number): string {
  return `${Math.round(100 * x)} %`;
}

function isoMinute(epochSec: number): string {
  return new Date(epochSec * 1000).toISOString().slice(0, 16).replace('T', ' ');
}

function exclusionText(excluded: ExclusionCounts): string {
  return EXCLUSION_REASONS.map((r) => `${r} ${excluded[r]}`).join(', ');
}

// Mean and standard error of the paired difference |new − actual| − |installed − actual|,
// so that "better by 0.3" can be told from noise.
export function pairedDifference(newPred: readonly number[], oldPred: readonly number[], labels: readonly number[]): { mean: number; se: number } {
  const n = labels.length;
  if (n < 2) return { mean: NaN, se: NaN };
  const d = labels.map((y, i) => Math.abs((newPred[i] ?? NaN) - clampRank(y)) - Math.abs((oldPred[i] ?? NaN) - clampRank(y)));
  const mean = d.reduce((s, x) => s + x, 0) / n;
  const variance = d.reduce((s, x) => s + (x - mean) ** 2, 0) / (n - 1);
  return { mean, se: Math.sqrt(variance / n) };
}

function loadInstalled(path: string): Installed {
  if (!existsSync(path)) return { state: 'none', path };
  try {
    return { state: 'loaded', path, model: loadModel(path) };
  } catch (err) {
    return { state: 'invalid', path, why: errorMessage(err) };
  }
}

// Keeps the model about to be replaced as OUT.previous (atomically too): rolling back is
// one `mv OUT.previous OUT`, which the daemons pick up like any replacement.
function keepPrevious(path: string): string | undefined {
  if (!existsSync(path) || !statSync(path).isFile()) return undefined;
  const previous = `${path}.previous`;
  const tmp = join(dirname(path), `.${basename(previous)}.${process.pid}.tmp`);
  copyFileSync(path, tmp);
  chmodSync(tmp, 0o644);
  renameSync(tmp, previous);
  return previous;
}

// Fails early, before minutes of reading and training, if the model could not be written
// or the daemons would refuse it for where it is.
function checkOutput(out: string, report: string, dryRun: boolean): void {
  if (existsSync(out) && !statSync(out).isFile()) throw new ConfigError(`--out ${out}: exists and is not a regular file`);
  const dirs = dryRun ? [dirname(report)] : [dirname(out), dirname(report)];
  for (const dir of new Set(dirs)) {
    try {
      accessSync(dir, constants.W_OK);
    } catch (err) {
      throw new ConfigError(`cannot write into ${dir}: ${errorCode(err) ?? errorMessage(err)}`, { cause: err });
    }
  }
  if (!dryRun) {
    const problems = trustProblems(dirname(out), 'model directory', { directory: true });
    if (problems.length > 0) throw new ConfigError(`the daemons would refuse a model written to ${out}: ${problems.join('; ')}`);
  }
}

// Runs a retrain with resolved options; resolves to what it did. Throws ConfigError for
// inputs that cannot be used (named in the message); I/O errors are thrown as they are.
export async function retrain(options: RetrainOptions, io: RetrainIO): Promise<RetrainResult> {
  const clock = io.clock ?? (() => performance.now());
  const started = clock();
  const progress = new Progress(io.err, io.isTTY, clock, 10_000, io.columns ?? 80);
  const say = (text: string): void => {
    progress.clear();
    io.out(text);
  };
  const aborted = (): boolean => io.signal?.aborted === true;
  const result: RetrainResult = {
    exitCode: EXIT_INTERRUPTED, written: false, outcome: 'interrupted: nothing written', jobs: 0, examples: 0, holdout: 0,
    newMae: NaN, installedMae: null, readMs: 0, trainMs: 0, epochs: 0, stoppedBy: '', totalMs: 0,
  };
  const interrupted = (): RetrainResult => {
    progress.clear();
    result.totalMs = clock() - started;
    return result;
  };

  // Every input is checked before anything is read, so a typo fails at once.
  checkOutput(options.out, options.report, options.dryRun);
  const acctPaths = acctFiles(options.acct);
  if (options.history.length === 0) throw new ConfigError('--history: expected at least one history file or directory, received none');
  const historyNote = options.historyFromConfig === true ? ' (no --history was given, so this is the config\'s history.dir)' : '';
  for (const path of options.history) statOrFail('--history', path, `a history file or a directory of *.jsonl files${historyNote}`);
  const historyPaths = await historyFiles(options.history);
  if (historyPaths.length === 0) {
    throw new ConfigError(`no history found: no *.jsonl or *.jsonl.N files in ${options.history.join(', ')} (the daemons write them to their history.dir)`);
  }
  for (const path of options.calibration) statOrFail('--calibration', path, 'a calibration dataset (JSON lines)');

  // lsb.acct: every record in memory, slimmed; duplicates (a file given twice, a copy
  // of a rotated file) counted once.
  const source: string[] = [];
  const inputs: Array<{ what: string; path: string; summary: string }> = [];
  const problems: string[] = [];
  const jobs: JobFinish[] = [];
  const seen = new Set<string>();
  const intern = stringPool();
  let duplicates = 0;
  for (const path of acctPaths) {
    const reader = readAcct(path);
    for await (const job of reader) {
      const key = `${job.jobId}.${job.idx}.${job.submitTime}.${job.startTime}.${job.endTime}`;
      if (seen.has(key)) duplicates += 1;
      else {
        seen.add(key);
        jobs.push(slimJob(job, intern));
      }
      if ((jobs.length & 4095) === 0) {
        progress.update(`reading ${path}: ${jobs.length} jobs`);
        if (aborted()) return interrupted();
      }
    }
    const s = reader.stats;
    const skipped = [
      s.malformed > 0 ? `${s.malformed} malformed` : '',
      s.incomplete > 0 ? `${s.incomplete} incomplete last line` : '',
      ...[...s.unknownTypes].map(([t, n]) => `${n} ${t}`),
      ...[...s.unknownVersions].map(([v, n]) => `${n} of unknown version ${v}`),
    ].filter((x) => x !== '');
    const summary = `${s.records} JOB_FINISH records${skipped.length > 0 ? `; skipped ${skipped.join(', ')}` : ''}`;
    say(`lsb.acct ${path}: ${summary}`);
    inputs.push({ what: 'lsb.acct', path, summary });
    source.push(`lsb.acct ${path} (${s.records} records)`);
    for (const p of s.problems.slice(0, 10)) problems.push(`${path}:${p.line}: ${p.message}`);
  }
  seen.clear();
  if (duplicates > 0) say(`${duplicates} records appear more than once (the same job in two files) and are counted once`);
  if (jobs.length === 0) {
    throw new ConfigError(`no JOB_FINISH records in ${acctPaths.join(', ')}${inputs.length > 0 ? ` (${inputs.map((i) => i.summary).join('; ')})` : ''}`);
  }
  result.jobs = jobs.length;

  // Label, then stream the history once through the join.
  const { labelled, excluded } = labelJobs(jobs, { minRuns: options.minRuns });
  const jobHosts = new Set(labelled.map((j) => shortHostName(j.host)));
  let jobFrom = Infinity;
  let jobTo = -Infinity;
  for (const j of labelled) {
    jobFrom = Math.min(jobFrom, j.startTime);
    jobTo = Math.max(jobTo, j.startTime);
  }
  jobs.length = 0;
  const join = new HistoryJoin(labelled, { intervalSec: options.intervalSec });
  const reader = readHistory(historyPaths);
  const historyHosts = new Set<string>();
  let tsFrom = Infinity;
  let tsTo = -Infinity;
  let records = 0;
  for await (const record of reader) {
    join.offer(record);
    historyHosts.add(record.host);
    if (record.ts < tsFrom) tsFrom = record.ts;
    if (record.ts > tsTo) tsTo = record.ts;
    records += 1;
    if ((records & 4095) === 0) {
      progress.update(`reading history: ${records} records, file ${reader.stats.files} of ${historyPaths.length}`);
      if (aborted()) return interrupted();
    }
  }
  if (aborted()) return interrupted();
  const hs = reader.stats;
  const historySummary =
    `${hs.records} records in ${hs.files} files` +
    `${hs.malformed > 0 ? `; skipped ${hs.malformed} malformed lines` : ''}${hs.incomplete > 0 ? `; ${hs.incomplete} incomplete last lines (a daemon killed mid-write, or still writing)` : ''}`;
  say(`history: ${historySummary}`);
  inputs.push({ what: 'history', path: options.history.join(', '), summary: historySummary });
  source.push(`history ${options.history.join(', ')} (${hs.records} records)`);
  for (const p of hs.problems.slice(0, 10)) problems.push(`${p.file}:${p.line}: ${p.message}`);
  if (hs.records === 0) throw new ConfigError(`no history records in ${historyPaths.length} history files under ${options.history.join(', ')}${hs.malformed > 0 ? ` (${hs.malformed} malformed lines; first: ${hs.problems[0]?.message ?? ''})` : ''}`);

  const joined = join.result();
  excluded.noHistory = joined.noHistory;
  const examples: Example[] = joined.examples;
  result.examples = examples.length;
  say(`jobs: ${result.jobs} finished, ${examples.length} usable; left out: ${exclusionText(excluded)}`);
  if (examples.length === 0) throw new ConfigError(noExamplesMessage(result.jobs, excluded, jobHosts, historyHosts, { jobFrom, jobTo, tsFrom, tsTo }, options.intervalSec));

  // Calibration rows are not jobs of this cluster and have no place in its timeline:
  // they go first, so the time split always trains on them and never holds them out.
  const calRows: TrainingRow[] = [];
  for (const path of options.calibration) {
    const file = readCalibration(path);
    for (const p of file.problems.slice(0, 10)) problems.push(p);
    const summary = `${file.records.length} rows${file.skipped > 0 ? `; skipped ${file.skipped} lines` : ''}`;
    say(`calibration ${path}: ${summary} (trained on, never held out)`);
    inputs.push({ what: 'calibration', path, summary });
    source.push(`calibration ${path} (${file.records.length} probes, sha256 ${file.sha256.slice(0, 16)})`);
    calRows.push(...calibrationRows(file.records));
  }
  const exampleRows: TrainingRow[] = examples.map((e) => {
    const f = featuresFromNamed(e.features);
    return { values: f.values, mask: f.mask, named: f.named, label: e.label };
  });
  const holdoutCount = Math.round(examples.length * options.holdoutFraction);
  const trainCount = examples.length - holdoutCount + calRows.length;
  if (holdoutCount < MIN_HOLDOUT) {
    throw new ConfigError(
      `too few examples for a holdout: ${examples.length} usable jobs, so the newest ${pct(options.holdoutFraction)} is ${holdoutCount} jobs, and at least ${MIN_HOLDOUT} are needed to judge a model ` +
        `(about ${Math.ceil(MIN_HOLDOUT / options.holdoutFraction)} usable jobs at --holdout ${options.holdoutFraction}; collect more history, or see the reasons above)`,
    );
  }
  if (trainCount < MIN_TRAIN) throw new ConfigError(`too few examples to train on: ${trainCount} rows after holding out ${holdoutCount}, at least ${MIN_TRAIN} needed`);
  const rows = [...calRows, ...exampleRows];
  const share = holdoutCount / rows.length;
  if (share < 0.01) throw new ConfigError(`the ${holdoutCount} held-out jobs would be under 1 % of the ${rows.length} rows: give fewer --calibration rows or more jobs`);
  const holdoutExamples = examples.slice(examples.length - holdoutCount);
  const holdoutRows = exampleRows.slice(exampleRows.length - holdoutCount);
  const firstHeld = holdoutExamples[0]?.startTime ?? NaN;
  const lastHeld = holdoutExamples[holdoutExamples.length - 1]?.startTime ?? NaN;
  say(
    `split by start time: ${examples.length - holdoutCount} jobs to train on${calRows.length > 0 ? ` (+${calRows.length} calibration rows)` : ''}, ` +
      `the newest ${holdoutCount} held out (started ${isoMinute(firstHeld)} to ${isoMinute(lastHeld)} UTC)`,
  );
  result.readMs = clock() - started;
  result.holdout = holdoutCount;

  // Training, stopped by the epoch count, the time limit, a validation error that no
  // longer improves, or Ctrl-C (io.signal: then nothing is written).
  const stop = new AbortController();
  const signal = io.signal === undefined ? stop.signal : AbortSignal.any([io.signal, stop.signal]);
  const trainStart = clock();
  const limitMs = options.timeLimitSec * 1000;
  const chunk = chunkFor(trainCount);
  let stoppedBy = `${options.epochs} epochs`;
  let improvedAt = 0;
  let improvedMae = Infinity;
  const { model, report } = await trainModel(rows, {
    name: 'retrained',
    source,
    seed: options.seed,
    epochs: options.epochs,
    chunk,
    split: 'tail',
    holdoutFraction: share,
    ...(options.now === undefined ? {} : { now: options.now }),
    signal,
    onProgress: (p) => {
      const elapsed = clock() - trainStart;
      if (p.validationMae < improvedMae * (1 - MIN_IMPROVEMENT)) {
        improvedMae = p.validationMae;
        improvedAt = p.epoch;
      }
      progress.update(
        `training: epoch ${p.epoch}/${p.epochs}, validation MAE ${p.validationMae.toFixed(2)} (best ${p.bestValidationMae.toFixed(2)}), ` +
          `${(elapsed / 1000).toFixed(0)}/${options.timeLimitSec} s`,
        p.epoch <= chunk || p.epoch === p.epochs, // a log says at once that training has begun
      );
      if (stop.signal.aborted) return;
      if (elapsed >= limitMs && p.epoch < p.epochs) {
        stoppedBy = `the ${options.timeLimitSec} s time limit`;
        stop.abort();
      } else if (p.epoch - improvedAt >= PATIENCE_EPOCHS && p.epoch < p.epochs) {
        stoppedBy = `no improvement of the validation error for ${PATIENCE_EPOCHS} epochs`;
        stop.abort();
      }
    },
  });
  if (aborted()) return interrupted();
  result.trainMs = clock() - trainStart;
  result.epochs = report.epochs;
  result.stoppedBy = stoppedBy;
  if (report.holdoutSamples !== holdoutCount) throw new Error(`internal: trainModel held out ${report.holdoutSamples} rows, expected ${holdoutCount}`);
  const training = `Trained ${report.epochs} epochs in ${(result.trainMs / 1000).toFixed(1)} s (stopped by ${stoppedBy}); kept the network of epoch ${report.bestEpoch}, the best on the validation part (${report.validationSamples} rows).`;
  say(training);

  // The same held-out rows through the new model and the installed one, as the daemon computes.
  const fresh = modelFromFile(model, 'the new model');
  const newPred = holdoutRows.map((r) => fresh.predict(r));
  const newMae = meanAbsoluteError((r) => fresh.predict(r), holdoutRows);
  const comparePath = existsSync(options.out) ? options.out : options.configModel;
  const installed = loadInstalled(comparePath);
  let installedPred: number[] | undefined;
  let installedMae: number | null = null;
  let installedNote: string;
  if (installed.state === 'loaded') {
    const m = installed.model;
    installedPred = holdoutRows.map((r) => m.predict(r));
    installedMae = meanAbsoluteError((r) => m.predict(r), holdoutRows);
    installedNote = `${m.id} (${installed.path}), trained ${m.file.training.date.slice(0, 10)} on ${m.file.training.samples} samples`;
  } else if (installed.state === 'none') {
    installedNote = `none: no file at ${installed.path}`;
  } else {
    installedNote = `unusable: ${installed.why}`;
  }
  result.newMae = newMae;
  result.installedMae = installedMae;
  const n = holdoutCount;
  const b = report.baselines;
  const table: MaeEntry[] = [
    { name: 'new model', mae: newMae, n, note: `trained on ${report.trainSamples + report.validationSamples} rows` },
    { name: 'installed model', mae: installedMae, n, note: installedNote },
    { name: 'backbone alone', mae: b.backbone, n, note: 'the new model without its network' },
    { name: 'ridge regression', mae: b.ridge, n, note: 'on the same inputs, fitted on the training jobs' },
    { name: 'load-only fit', mae: b.loadOnly, n, note: `${report.loadOnlyFit.intercept.toFixed(1)} + ${report.loadOnlyFit.slope.toFixed(1)} x load1 per CPU, fitted on the training jobs` },
    { name: 'mean', mae: b.mean, n, note: `always ${report.meanLabel.toFixed(1)}, the training jobs' mean slowdown` },
    { name: 'formula', mae: b.formula, n, note: 'the daemon\'s built-in fallback formula' },
  ];
  say(`\nholdout: the ${n} newest jobs; MAE in rank points (percent slowdown), lower is better\n${formatHoldoutTable(table)}`);
  if (installedPred !== undefined) {
    const d = pairedDifference(newPred, installedPred, holdoutRows.map((r) => r.label));
    say(`new minus installed: ${d.mean >= 0 ? '+' : ''}${d.mean.toFixed(2)} ± ${d.se.toFixed(2)} rank points per job (± one standard error)`);
  }
  if (!(newMae < Math.min(b.mean, b.loadOnly))) say('warning: the new model does not beat the mean and the load-only fit on the holdout; the data may not carry enough signal');

  // The decision, then the write: atomic, the previous model kept, and read back as the daemon will.
  const decision = decideWrite(newMae, installedMae, { force: options.force, dryRun: options.dryRun, installedPath: comparePath, gate: report.gate });
  result.exitCode = decision.exitCode;
  result.outcome = decision.reason;
  if (aborted()) return interrupted();
  model.training['retrain'] = {
    jobs: result.jobs, examples: examples.length, excluded, calibrationRows: calRows.length, holdoutFrom: isoMinute(firstHeld), holdoutTo: isoMinute(lastHeld),
    intervalSec: options.intervalSec, minRuns: options.minRuns, stoppedBy, installed: installed.state === 'loaded' ? installed.model.id : installed.state,
  };
  if (installedMae !== null) model.training.baselines['installed'] = installedMae;
  let previous: string | undefined;
  if (decision.write) {
    previous = keepPrevious(options.out);
    writeModelFile(options.out, model);
    result.written = true;
    let check: LoadedModel;
    try {
      check = loadModel(options.out);
    } catch (err) {
      throw new ModelError(`wrote ${options.out}, but it does not load as the daemons would load it: ${errorMessage(err)}`, { cause: err });
    }
    say(`\n${decision.reason}\nwrote ${options.out} (${check.id})${previous === undefined ? '' : `; the model it replaced is kept as ${previous}`}`);
    if (process.geteuid?.() !== 0) say('warning: not running as root: the file is not owned by root, and a daemon running as root refuses it');
    if (resolve(options.out) !== resolve(options.configModel)) {
      say(`note: the daemons use ${options.configModel}${options.configPath === null ? '' : ` (config ${options.configPath})`}; set "model: ${options.out}" in their config to use this one`);
    } else {
      say('the daemons load it at their next tick');
    }
  } else {
    say(`\n${decision.reason}`);
  }

  const points: HoldoutPoint[] = holdoutExamples.map((e, i) => {
    const p: HoldoutPoint = {
      label: e.label,
      values: holdoutRows[i]?.values ?? [],
      mask: holdoutRows[i]?.mask ?? [],
      predicted: newPred[i] ?? NaN,
      job: { id: e.job.idx > 0 ? `${e.job.jobId}[${e.job.idx}]` : String(e.job.jobId), kind: e.kind, host: e.host, start: e.startTime, runtime: e.runtime, baseline: e.baseline },
    };
    const old = installedPred?.[i];
    if (old !== undefined) p.installed = old;
    return p;
  });
  const html = renderReport({
    generated: (options.now?.() ?? new Date()).toISOString(),
    out: options.out,
    outcome: `${decision.reason[0]?.toUpperCase() ?? ''}${decision.reason.slice(1)}.`,
    newModelId: fresh.id,
    installed: installed.state === 'loaded' ? { path: installed.path, id: installed.model.id } : { path: installed.path },
    table,
    holdout: points,
    holdoutRange: { from: firstHeld, to: lastHeld },
    counts: { jobs: result.jobs, examples: examples.length, train: examples.length - holdoutCount, calibration: calRows.length, holdout: holdoutCount },
    excluded,
    inputs,
    problems,
    training,
  });
  try {
    writeFileAtomic(options.report, html);
  } catch (err) {
    throw new Error(`${result.written ? `the model was written to ${options.out}, but ` : ''}the report ${options.report} could not be written: ${errorCode(err) ?? errorMessage(err)}`, { cause: err });
  }
  result.reportPath = options.report;
  say(`report: ${options.report}`);
  result.totalMs = clock() - started;
  return result;
}

// Why no job found a sample, with what would tell a wrong host name from a wrong time range.
function noExamplesMessage(
  jobs: number,
  excluded: ExclusionCounts,
  jobHosts: ReadonlySet<string>,
  historyHosts: ReadonlySet<string>,
  range: { jobFrom: number; jobTo: number; tsFrom: number; tsTo: number },
  intervalSec: number,
): string {
  const parts = [`no usable examples: of ${jobs} finished jobs, left out ${exclusionText(excluded)}`];
  if (excluded.noHistory > 0) {
    const known = new Set([...historyHosts].map(shortHostName));
    const common = [...jobHosts].filter((h) => known.has(h));
    const list = (s: Iterable<string>): string => {
      const all = [...s].sort();
      return all.slice(0, 5).join(', ') + (all.length > 5 ? ` and ${all.length - 5} more` : '');
    };
    if (common.length === 0) parts.push(`the jobs ran on ${list(jobHosts)}, but the history is from ${list(known)}: no host in common`);
    else {
      parts.push(
        `the jobs started ${isoMinute(range.jobFrom)} to ${isoMinute(range.jobTo)} UTC, the history covers ${isoMinute(range.tsFrom / 1000)} to ${isoMinute(range.tsTo / 1000)} UTC; ` +
          `a job needs a sample of its host at most ${2 * intervalSec} s (two --interval) before it started`,
      );
    }
  }
  return parts.join('; ');
}

// ---------------------------------------------------------------- main

// Resolves the options the config supplies: output, report, interval, history directory.
export async function resolveOptions(args: RetrainArgs, config: Readonly<Config>, configPath: string | null): Promise<RetrainOptions> {
  const out = resolveOutput(args.out, config, defaultModelPath(), configPath);
  let history = args.history;
  if (history.length === 0) {
    history = [config.history.dir ?? defaultHistoryDir(process.env)];
  }
  return {
    history,
    historyFromConfig: args.history.length === 0,
    acct: args.acct,
    calibration: args.calibration,
    out,
    report: resolve(args.report ?? `${out}.report.html`),
    configPath,
    configModel: resolve(modelPathFor(config)),
    intervalSec: args.interval ?? config.interval,
    minRuns: args.minRuns,
    holdoutFraction: args.holdoutFraction,
    seed: args.seed,
    epochs: args.epochs,
    timeLimitSec: args.timeLimitSec,
    force: args.force,
    dryRun: args.dryRun,
  };
}
