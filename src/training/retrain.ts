// `lavarank retrain`: learns the rank from the cluster's own finished jobs. Reads
// lsb.acct (and lsb.events for suspended time) and the daemons' history, joins each job
// with its host's features at its start in one streaming pass, holds out the newest
// jobs, labels every job with its slowdown from contention against baselines of its
// family from the training window only (src/training/jobs.ts, label.ts), trains, judges
// every candidate on the same held-out jobs, and replaces the installed model atomically
// only if the new one is better. Writes an HTML report whatever happens, unless
// interrupted. Choices and their reasons are in docs/retrain.md.
import { closeSync, constants, copyFileSync, existsSync, fchmodSync, fstatSync, linkSync, openSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeSync, type BigIntStats, type Stats } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { hostname } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { readAcct, skippedLines } from '../lsf/acct.js';
import { readSuspensions, Suspensions } from '../lsf/events.js';
import { outputDirectoryProblemsAsync, tempFilePid, UnsyncedRename, writeFileAtomic } from '../util/atomic-file.js';
import { escapedControls } from '../util/shown.js';
import { processAlive, procStatFields } from '../util/exec.js';
import type { Config } from '../config/config.js';
import { ConfigError, ModelError, UsageError, errorCode, errorMessage, errorReason } from '../util/errors.js';
import { historyFiles, readHistory, type HistoryOwner, type SkippedHistoryFile } from '../history/reader.js';
import { existsAsync, fileIdentityAsync, isDirectoryAsync, isInputFile, unwritableDirectoryAsync } from '../util/paths.js';
import { historyLocation } from '../history/record.js';
import { lsfLogdirAsync } from '../daemon/lsf-env.js';
import { EXCLUSION_REASONS, HistoryJoin, JobTable, labelAndSplit, noExclusions, shortHostName, type ExampleSet, type ExclusionCounts, type ExclusionReason } from './jobs.js';
import { FOREIGN_RISE_WHY, calibrationRows, readCalibrationAsync, usableRecords } from './dataset.js';
import { FEATURE_NAMES, FEATURES, featureIndex, unscaleValue, type FeatureSpec, type Features } from '../model/features.js';
import { loadModel, loadModelAsync, modelFromFile, modelId, serializeModel, type LoadedModel, type ModelFile } from '../model/model.js';
import { backboneRank, formulaRank, trainModel, writeModelFile, type TrainingRow, type TrainReport } from './train.js';
import { clampRank } from '../model/rank.js';
import { defaultModelPath, modelPathFor } from '../model/rankers.js';
import { MODEL_TAKEN_WITHIN } from '../daemon/elim.js';
import { exclusionMeanings, renderReport, thinned, type HoldoutPoint, type MaeEntry, type ReportData } from './report-html.js';
import { checkTrustAsync, directoryProblemsAsync } from '../util/trust.js';
import { judge, notBeaten, pairedDifference, type Candidate, type Verdict } from './judge.js';
import { linearPredict, RidgeFit, type LinearModel } from './linear.js';
import { BACKBONE_GRID_POINTS } from './backbone-fit.js';
import { labelSettings, type FamilyBaseline, type LabelSettings } from './label.js';

// Exit status: the new model was written (or, with --dry-run, would be). All are in docs/retrain.md.
export const EXIT_WRITTEN = 0;
// Exit status: an error; the message names the file or option and what was wrong.
export const EXIT_ERROR = 1;
// Exit status: a bad option value, or an output option naming an input (UsageError).
export const EXIT_USAGE = 2;
// Exit status: the new model is not better than the installed one (or a reference), so nothing was written.
export const EXIT_NOT_BETTER = 3;
// Exit status: Ctrl-C or SIGTERM (128 + SIGINT, as shells report it); nothing was written.
export const EXIT_INTERRUPTED = 130;

// A holdout smaller than this says too little to replace a model on.
export const MIN_HOLDOUT = 20;
// Fewer training rows than this cannot fit a network with a validation part.
export const MIN_TRAIN = 50;

// At most as many epochs as the default model is trained for.
export const DEFAULT_EPOCHS = 2000;
// Never more than two minutes of training by default, so that a million jobs fit in five minutes.
export const DEFAULT_TIME_LIMIT_SEC = 120;
// Training stops once the validation error has not improved for this many epochs.
export const PATIENCE_EPOCHS = 200;
// An improvement of the validation MAE smaller than this share does not count for patience.
export const MIN_IMPROVEMENT = 0.005;
// The network trains on at most this many jobs, evenly spread over the training window:
// brain.js keeps several copies of its rows, and more rows than this add time, not accuracy.
export const DEFAULT_MAX_TRAIN_ROWS = 100_000;
// Runs shorter than this many seconds are left out by default (--min-runtime).
export const DEFAULT_MIN_RUNTIME_SEC = 10;
// The malformed lines shown in the output and the report; the rest are counted.
export const SHOWN_PROBLEMS = 20;
// Held-out jobs drawn in the report (evenly thinned): its plots and feature ranges.
export const REPORT_POINTS = 20_000;
// Held-out rows trainModel checks its network on (the judge scores all of them).
const TRAIN_CHECK_ROWS = 2000;

// Everything one retrain run needs, already resolved against the config.
export interface RetrainOptions {
  history: string[]; // files or directories
  historyFromConfig?: boolean; // no --history was given: history is the config's history.dir
  acct: string[]; // files or directories (lsb.acct, lsb.acct.N and lsb.events* inside)
  calibration: string[];
  out: string;
  report: string;
  configPath: string | null; // for hints only
  configModel: string; // the model file the config makes the daemons use
  embeddedModel?: string; // the embedded default; default defaultModelPath()
  intervalSec: number;
  minRuns: number;
  minRuntimeSec?: number; // default DEFAULT_MIN_RUNTIME_SEC
  maxTrainRows?: number; // default DEFAULT_MAX_TRAIN_ROWS
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
  historyRecords: number;
  newMae: number;
  installedMae: number | null;
  modelId?: string; // the new model's id as written (or as it would be)
  readMs: number; // lsb.acct, history, the join and the labels
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

// Whether to write, the exit status and why. The new model must have a strictly lower
// holdout MAE than the installed one (with no usable installed model there is nothing
// to beat) and than every available reference (linear regression, the physical
// backbone); --force writes anyway; --dry-run writes nothing but exits as a real run would,
// which stops before reading anything where it could not write the model (realRunProblem).
export function decideWrite(
  newMae: number,
  installedMae: number | null,
  options: { force: boolean; dryRun: boolean; installedPath: string; references?: ReadonlyArray<{ name: string; mae: number | null }>; realRunProblem?: string },
): { write: boolean; exitCode: number; reason: string } {
  const fmt = (x: number): string => x.toFixed(2);
  const refs = (options.references ?? []).filter((r) => r.mae !== null);
  const missed = notBeaten(newMae, refs);
  const also = refs.length === 0 ? '' : ` and ${refs.map((r) => `${r.name} (MAE ${fmt(r.mae ?? NaN)})`).join(' and ')}`;
  let better: boolean;
  let reason: string;
  if (!Number.isFinite(newMae)) {
    better = false;
    reason = `the new model's holdout MAE is ${String(newMae)}`;
  } else if (installedMae !== null && !(newMae < installedMae)) {
    better = false;
    reason = `the new model does not beat the installed one on the holdout (MAE ${fmt(newMae)} >= ${fmt(installedMae)})`;
  } else if (missed.length > 0) {
    better = false;
    reason = `the new model does not beat ${missed.map((m) => `${m.name} (MAE ${fmt(newMae)} >= ${fmt(m.mae)})`).join(' or ')} on the holdout, and a model no better than that is not worth deploying`;
  } else if (installedMae === null) {
    better = true;
    reason = `there is no usable installed model at ${options.installedPath} to beat${refs.length === 0 ? '' : `, and the new model (MAE ${fmt(newMae)}) beats${also.slice(4)}`}`;
  } else {
    better = true;
    reason = `the new model beats the installed one on the holdout (MAE ${fmt(newMae)} < ${fmt(installedMae)})${also}`;
  }
  const write = better || options.force;
  const exitCode = write ? EXIT_WRITTEN : EXIT_NOT_BETTER;
  const would = `it would ${write ? '' : 'not '}be written, since ${reason}${!better && write ? ' and --force was given' : ''}`;
  if (options.dryRun && options.realRunProblem !== undefined) {
    return { write: false, exitCode: EXIT_ERROR, reason: `dry run, nothing written: a real run would stop before reading anything, since ${options.realRunProblem}; once it can write there, ${would}` };
  }
  if (options.dryRun) return { write: false, exitCode, reason: `dry run, nothing written: ${would}` };
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

// Epochs between validation checks for this many rows: one check per ~75 000 rows
// trained, so that patience and the best epoch are judged often on large sets without
// the check's cost dominating on small ones. (Ctrl-C and the time limit do not wait
// for a chunk: fitModel checks them between steps of STEP_MS.)
export function chunkFor(rows: number): number {
  return Math.max(1, Math.min(50, Math.floor(75_000 / Math.max(1, rows))));
}

// The output path: --out as given; else the model the config names. The embedded default
// in the install tree is replaced only when named with --out, since a reinstall would
// silently bring the old one back and every host without a config would change at once.
export function resolveOutput(out: string | undefined, config: Pick<Config, 'model'>, embedded: string, configPath: string | null, env: NodeJS.ProcessEnv = process.env): string {
  if (out !== undefined) return resolve(out);
  if (config.model !== null) return resolve(config.model);
  // Under cron there is no $LSF_ENVDIR, so the daemons' $LSF_ENVDIR/lavarank.yaml is not
  // found: saying the daemons use the embedded default would be wrong there.
  if (configPath === null && (env['LSF_ENVDIR'] ?? '') === '' && (env['LAVARANK_CONFIG'] ?? '') === '') {
    throw new ConfigError(
      'no --out, and no config file: $LSF_ENVDIR is not set (as under cron), so the daemons\' $LSF_ENVDIR/lavarank.yaml was not looked for. ' +
        'Give --config with the file the daemons read (or set LSF_ENVDIR), or --out FILE',
    );
  }
  throw new ConfigError(
    `no --out, and ${configPath === null ? 'there is no config file' : `the config ${configPath} sets no model`}; the daemons use the embedded default model ${embedded}, ` +
      'which retrain replaces only when named explicitly. Give --out FILE (and set "model: FILE" in the config), or --out ' + embedded,
  );
}

const ACCT_FILE = /^lsb\.acct(?:\.(\d+))?$/;

const EVENTS_FILE = /^lsb\.events(?:\.(\d+))?$/;

// The files the input options name, each directory listed once, for checkDistinct and
// gatherInputs alike: listed twice, a history directory of thousands of files was read
// twice, and the files checked against the outputs need not be those read (mbatchd and
// the daemons rotate their files while retrain runs).
export interface InputFiles {
  acct: string[]; // lsb.acct files: as given, or a directory's lsb.acct and lsb.acct.N, oldest first
  events: string[]; // lsb.events files: as given, or those in the --acct directories, oldest first
  history: string[]; // *.jsonl and *.jsonl.N files: as given, or those in the --history directories
  // The first --acct or --history path that could not be listed: thrown by gatherInputs,
  // inside the run, so that the failure report names it; the other paths are listed.
  acctProblem?: unknown;
  historyProblem?: unknown;
}

// Stage 0a: lists the --acct and --history inputs. Never throws for an input; a path
// that cannot be listed is kept as acctProblem or historyProblem.
export async function listInputs(options: Pick<RetrainOptions, 'acct' | 'history' | 'historyFromConfig'>): Promise<InputFiles> {
  const files: InputFiles = { acct: [], events: [], history: [] };
  for (const path of options.acct) {
    try {
      const st = await statOrFail('--acct', path, 'an lsb.acct file or the directory holding it');
      if (!st.isDirectory()) {
        (EVENTS_FILE.test(basename(path)) ? files.events : files.acct).push(path);
        continue;
      }
      const names = await readdir(path);
      const acct = rotatedFiles(path, names, ACCT_FILE);
      if (acct.length === 0) throw new ConfigError(`--acct ${path}: a directory with no lsb.acct or lsb.acct.N in it`);
      files.acct.push(...acct);
      files.events.push(...rotatedFiles(path, names, EVENTS_FILE));
    } catch (err) {
      files.acctProblem ??= err;
    }
  }
  const historyNote = options.historyFromConfig === true ? ' (no --history was given, so this is the config\'s history.dir)' : '';
  for (const path of options.history) {
    try {
      await statOrFail('--history', path, `a history file or a directory of *.jsonl files${historyNote}`);
      files.history.push(...(await historyFiles([path])));
    } catch (err) {
      files.historyProblem ??= err;
    }
  }
  return files;
}

// The files, each a regular file (a link to one included): a FIFO or a device among
// the inputs would block the read for ever, with SIGTERM unable to end it. The pipe
// of a shell's process substitution (--acct <(zcat lsb.acct.3.gz), a /dev/fd/N path)
// is let through: its writer is the administrator's own command.
async function regularFiles(option: string, files: string[]): Promise<string[]> {
  for (const file of files) {
    if (!isInputFile(await statOrFail(option, file, 'a regular file'), file)) throw new ConfigError(`${option} ${file}: not a regular file; expected a file the cluster or lavarank wrote`);
  }
  return files;
}

// Stage 0b: refuses outputs that name an input or each other (--report given as the
// lsb.acct, --out as the report): writing one would destroy the other. Files are told
// apart by device and inode, so a second name or a link for one is caught too.
export async function checkDistinct(options: Pick<RetrainOptions, 'out' | 'report' | 'dryRun' | 'acct' | 'history' | 'calibration' | 'configPath' | 'configModel'>, files: InputFiles): Promise<void> {
  const outputs = outputsOf(options);
  if (!options.dryRun && (await fileIdentityAsync(options.out)) === (await fileIdentityAsync(options.report))) {
    throw new UsageError(`--out ${options.out} and --report ${options.report} name the same file; the report would replace the model`);
  }
  // Every path given, and the files the directories among them hold (a missing path
  // is named later, by the stage that reads it).
  const inputs: Array<[string, string]> = [];
  const add = (option: string, given: readonly string[], listed: readonly string[]): void => {
    for (const path of given) inputs.push([`the input ${option}`, path]);
    for (const file of listed) if (!given.includes(file)) inputs.push([`the input ${option}`, file]);
  };
  add('--acct', options.acct, [...files.acct, ...files.events]);
  // The files found in a --history directory are not among them: one that is an output
  // is left out of the read instead (historyInputs), since in a sticky history.dir any
  // user can link one there, and would otherwise stop every run.
  add('--history', options.history, []);
  add('--calibration', options.calibration, []);
  if (options.configPath !== null) inputs.push(['the config', options.configPath]);
  for (const [outOption, out] of outputs) {
    const id = await fileIdentityAsync(out);
    // The model the daemons use is what --out normally replaces; nothing else may.
    const others = outOption === '--out' ? inputs : [...inputs, ['the model the daemons use', options.configModel] as [string, string]];
    let clash: [string, string] | undefined;
    for (const other of others) {
      if ((await fileIdentityAsync(other[1])) !== id) continue;
      clash = other;
      break;
    }
    if (clash !== undefined) throw new UsageError(`${outOption} ${out} is ${clash[0]} ${clash[1]}; writing it would destroy it`);
  }
}

// Each input's stat is asked in libuv's pool: a user's FUSE mount at an input (their
// name in a sticky history.dir, the LSF administrator's logdir for --acct) whose server
// answers the pool and never a main thread held retrain there, where SIGINT could not end it.
async function statOrFail(option: string, path: string, expected: string): Promise<Stats> {
  try {
    return await stat(path);
  } catch (err) {
    const code = errorCode(err);
    throw new ConfigError(`${option} ${path}: ${code === 'ENOENT' ? 'no such file or directory' : `cannot be read: ${errorReason(err)}`}; expected ${expected}`, { cause: err });
  }
}

// The paths whose names match `file` (a name, then optionally ".N" captured), oldest
// first, as mbatchd rotates them: the highest N first, the current file (no N) last;
// paths of one number keep their order.
function oldestFirst(paths: readonly string[], file: RegExp): string[] {
  const rotation = (path: string): number => {
    const m = file.exec(basename(path));
    return m?.[1] === undefined ? 0 : Number(m[1]);
  };
  return paths
    .map((path, i) => ({ path, i, n: rotation(path) }))
    .sort((a, b) => b.n - a.n || a.i - b.i)
    .map((f) => f.path);
}

// The files among names (of dir) that match `file`, oldest first.
function rotatedFiles(dir: string, names: readonly string[], file: RegExp): string[] {
  return oldestFirst(
    names.filter((name) => file.test(name)).map((name) => join(dir, name)),
    file,
  );
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
  minRuntimeSec: number;
  maxTrainRows: number;
  holdoutFraction: number;
  seed: number;
  epochs: number;
  timeLimitSec: number;
  force: boolean;
  dryRun: boolean;
}

// ---------------------------------------------------------------- helpers

function isoMinute(epochSec: number): string {
  return Number.isFinite(epochSec) ? new Date(epochSec * 1000).toISOString().slice(0, 16).replace('T', ' ') : '-';
}

function pct(x: number): string {
  return `${Math.round(100 * x)} %`;
}

// The reasons with a count, as "failed 45, tooShort 66"; "none" when nothing was left out.
export function exclusionText(excluded: ExclusionCounts): string {
  const parts = EXCLUSION_REASONS.filter((r) => excluded[r] > 0).map((r) => `${r} ${excluded[r]}`);
  return parts.length === 0 ? 'none' : parts.join(', ');
}

// One line per reason with a count, saying what it means and which option sets it.
export function exclusionLines(excluded: ExclusionCounts, meanings: Record<ExclusionReason, string>): string[] {
  return EXCLUSION_REASONS.filter((r) => excluded[r] > 0).map((r) => `  ${r} ${excluded[r]}: ${meanings[r]}`);
}

// Families listed by name when their jobs were left out for the family's sake.
export const SHOWN_FAMILIES = 10;

// One line per family whose runs could not be labelled (fewRuns, lowCpu, unstable),
// those that cost the most jobs first (`lost`, by family id; else the runs in the training
// window), with the figure that failed the rule and the rule's limit: the counts alone do
// not tell an administrator which job name to look at.
export function familyLines(names: readonly string[], families: ReadonlyMap<number, FamilyBaseline>, settings: LabelSettings, lost?: ReadonlyMap<number, number>): string[] {
  const cost = ([id, f]: [number, FamilyBaseline]): number => lost?.get(id) ?? f.runs;
  const left = [...families].filter(([, f]) => f.status !== 'ok').sort((a, b) => cost(b) - cost(a) || b[1].runs - a[1].runs || a[0] - b[0]);
  if (left.length === 0) return [];
  const pct = (x: number): string => `${Math.round(100 * x)} %`;
  // A figure that rounds to its limit gets a decimal, cut towards the side that failed:
  // "kept 20 % (at least 20 %)" would read as a family that passed.
  const against = (x: number, limit: number): string => {
    if (pct(x) !== pct(limit)) return pct(x);
    const tenths = x < limit ? Math.floor(1000 * x) : Math.ceil(1000 * x);
    return `${(tenths / 10).toFixed(1)} %`;
  };
  const lines = left.slice(0, SHOWN_FAMILIES).map(([id, f]) => {
    const name = shownName(names[id] ?? `#${id}`);
    const runs = `${f.runs} run${f.runs === 1 ? '' : 's'}`;
    if (f.status === 'fewRuns') return `  ${name}: fewRuns, ${runs} in the training window (--min-runs ${settings.minRuns})`;
    if (f.status === 'lowCpu') return `  ${name}: lowCpu, ${runs}: its fastest runs kept ${against(f.baseline, settings.minCpuShare)} of their slots' CPU busy (at least ${pct(settings.minCpuShare)})`;
    return `  ${name}: unstable, ${runs}: the fastest of its older and of its newer runs are ${against(f.status === 'unstable' ? f.spread : 0, settings.maxBaselineSpread)} apart (at most ${pct(settings.maxBaselineSpread)})`;
  });
  if (left.length > SHOWN_FAMILIES) lines.push(`  and ${left.length - SHOWN_FAMILIES} more`);
  return [`families left out (${left.length} of ${families.size}):`, ...lines];
}

// The jobs each family lost to a family rule (fewRuns, lowCpu, unstable), by family id:
// a family seen only in the holdout has no runs in the training window but may lose many.
function familyLosses(table: JobTable): Map<number, number> {
  const lost = new Map<number, number>();
  for (let i = 0; i < table.count; i++) {
    const r = table.reasonOf(i);
    if (r !== 'fewRuns' && r !== 'lowCpu' && r !== 'unstable') continue;
    const fam = table.family[i] ?? 0;
    lost.set(fam, (lost.get(fam) ?? 0) + 1);
  }
  return lost;
}

// A family's name as the terminal may show it: any user chooses a job name (bsub -J), so
// control characters (an escape sequence for root's terminal) are written as \u escapes,
// and a name longer than 60 characters is cut in its job name or command, not in the user
// who ends it (jobFamily's " (user)"): cut at its end, two users' families of one long
// command line read the same and named neither user.
function shownName(name: string): string {
  if (name.length <= 60) return escapedControls(name);
  const at = name.lastIndexOf(' (');
  const user = at > 0 && name.endsWith(')') && name.length - at <= 40 ? name.slice(at) : '';
  return escapedControls(`${name.slice(0, 59 - user.length)}…${user}`);
}

// The malformed lines of every input: the first SHOWN_PROBLEMS as file:line: reason,
// and how many there were in all.
export class ProblemLog {
  readonly first: string[] = [];
  total = 0;

  // Adds `count` malformed lines of one input, of which `messages` are the first:
  // kept with control characters escaped, since a message quotes the line (any user's
  // text in a job's command or a sticky history.dir) and goes to root's terminal.
  add(count: number, messages: readonly string[]): void {
    this.total += count;
    for (const m of messages) if (this.first.length < SHOWN_PROBLEMS) this.first.push(escapedControls(m));
  }

  // The lines for the output; none when there was nothing malformed.
  lines(): string[] {
    if (this.total === 0) return [];
    const more = this.total - this.first.length;
    return [
      `skipped ${this.total} malformed line${this.total === 1 ? '' : 's'}${more > 0 ? `; the first ${this.first.length}` : ''}:`,
      ...this.first.map((p) => `  ${p}`),
      ...(more > 0 ? [`  and ${more} more`] : []),
    ];
  }
}

async function loadInstalled(path: string): Promise<Installed> {
  if (!(await existsAsync(path))) return { state: 'none', path };
  try {
    return { state: 'loaded', path, model: await loadModelAsync(path) };
  } catch (err) {
    return { state: 'invalid', path, why: errorMessage(err) };
  }
}

// Copies the model about to be replaced into a temp file beside it, which the caller
// renames to OUT.previous once the new model is written (atomically too): rolling back
// is one `mv OUT.previous OUT`, which the daemons pick up like any replacement.
function copyPrevious(path: string): { tmp: string; previous: string } | undefined {
  if (!existsSync(path) || !statSync(path).isFile()) return undefined;
  const previous = `${path}.previous`;
  const tmp = join(dirname(path), `.${basename(previous)}.${process.pid}.tmp`);
  // A new file (EXCL: never through a link at the name), its mode set on a descriptor
  // of it; the directory is one only root can write (checkOutput), this is hardening.
  rmSync(tmp, { force: true }); // left by a run killed here (the entry, never what a link there names)
  copyFileSync(path, tmp, constants.COPYFILE_EXCL);
  const fd = openSync(tmp, constants.O_RDONLY | constants.O_NOFOLLOW);
  try {
    fchmodSync(fd, 0o644);
  } finally {
    closeSync(fd);
  }
  return { tmp, previous };
}

// Takes OUT.lock for a real run, or throws ConfigError naming whoever holds it: two
// retrains of one model at once (one cron file on every host of a shared model path)
// each judged the model they found and kept it as OUT.previous, so the second to
// finish kept the first's new model there and the site's last week's model was lost.
// A lock whose retrain is gone (killed on this host) is taken over. Returns its release.
export function lockOutput(out: string): () => void {
  const lock = `${out}.lock`;
  const me = `${process.pid} ${hostname()}`;
  for (let attempt = 0; ; attempt++) {
    let fd: number;
    try {
      fd = openSync(lock, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o644);
    } catch (err) {
      if (errorCode(err) !== 'EEXIST' || attempt > 2) throw new ConfigError(`cannot take the lock ${lock}: ${errorReason(err)}`, { cause: err });
      const holder = lockHolder(lock);
      if (!holder.gone) throw new ConfigError(`another retrain is writing ${out}: ${holder.who} holds ${lock}; not started (remove ${lock} if no retrain runs there)`);
      takeOver(lock, holder.id);
      continue;
    }
    try {
      writeSync(fd, `${me}\n`);
    } catch (err) {
      // Ours (O_EXCL) and empty: left there, it read as a lock of unknown form that no
      // later run takes over, and every retrain of this model was refused until removed.
      rmSync(lock, { force: true });
      throw new ConfigError(`cannot write the lock ${lock}: ${errorMessage(err)}; not started, nothing written`, { cause: err });
    } finally {
      closeSync(fd);
    }
    removeLeftTemps(out);
    return () => {
      // Removed only while it is still this run's: never another's that took a lock thought stale.
      if (lockHolder(lock).text === me) rmSync(lock, { force: true });
    };
  }
}

// How old a temp file must be to be removed: one being written lives for the seconds
// of a write, and the pid in its name says nothing of another host's processes.
const LEFT_TEMP_AGE_MS = 3_600_000;

// Removes the temp files a retrain killed while writing (SIGKILL, the OOM killer, a
// power cut) left beside the model: its copy of the model being replaced, the new model
// and the report, each named with that run's pid. Only those whose process is gone on
// this host and which were last written over an hour ago: the lock is ours, but a
// --dry-run, which takes none, may be writing its report, here or on another host
// sharing the directory, where its pid runs on no process of this host.
function removeLeftTemps(out: string): void {
  const now = Date.now();
  const dir = dirname(out);
  const names = [basename(out), `${basename(out)}.previous`, `${basename(out)}.report.html`];
  for (const entry of readdirSync(dir)) {
    const pid = names.map((n) => tempFilePid(entry, n)).find((p) => p !== undefined);
    if (pid === undefined || processAlive(pid)) continue;
    const written = statSync(join(dir, entry), { throwIfNoEntry: false })?.mtimeMs;
    if (written === undefined || now - written < LEFT_TEMP_AGE_MS) continue;
    rmSync(join(dir, entry), { force: true });
  }
}

// Moves aside a lock judged stale, if it is still the file read: two runs started
// together on this host both judged it stale, and the second removed the lock the
// first had just made in its place, so both ran. Another's lock moved aside so is put
// back (a link, never over a third's); the caller then tries again and judges it.
function takeOver(lock: string, stale: string | undefined): void {
  const aside = `${lock}.${process.pid}.stale`;
  try {
    renameSync(lock, aside);
  } catch (err) {
    if (errorCode(err) === 'ENOENT') return; // taken away by another run: judged again
    throw err;
  }
  try {
    if (fileId(statSync(aside, { bigint: true })) !== stale) linkSync(aside, lock);
  } catch (err) {
    if (errorCode(err) !== 'EEXIST') throw err;
  } finally {
    rmSync(aside, { force: true });
  }
}

// A file's identity for takeOver: its inode and modification time to the nanosecond, since
// the inode of a lock just removed is at once reused for the next made (tmpfs, ext4).
function fileId(st: BigIntStats): string {
  return `${st.dev}:${st.ino}:${st.mtimeNs}`;
}

// Who holds a lock, and whether that retrain is gone: its process ended on this host,
// or the process of its pid there started after the lock was written (the pid is
// another's by now: after a reboot, or once pids wrapped).
function lockHolder(lock: string): { text: string; who: string; gone: boolean; id?: string } {
  let text: string;
  let written: number;
  let id: string;
  try {
    const fd = openSync(lock, constants.O_RDONLY | constants.O_NOFOLLOW);
    try {
      const st = fstatSync(fd, { bigint: true });
      written = Number(st.mtimeMs);
      id = fileId(st);
      text = readFileSync(fd, 'utf8').trim();
    } finally {
      closeSync(fd);
    }
  } catch (err) {
    return { text: '', who: `nobody (${errorCode(err) ?? errorMessage(err)})`, gone: errorCode(err) === 'ENOENT' };
  }
  const m = /^(\d+) (\S+)$/.exec(text);
  if (m === null) return { text, who: `a lock of unknown form (${JSON.stringify(text.slice(0, 40))})`, gone: false, id };
  const pid = Number(m[1]);
  return { text, id, who: `pid ${pid} on ${m[2]}`, gone: m[2] === hostname() && (!processAlive(pid) || startedAfter(pid, written)) };
}

// How much later than a lock a process must have started to be another than its
// writer, which starts before it writes its lock: room for a clock apart on an NFS
// server (the lock's time) and for btime, which /proc/stat gives in whole seconds.
const PID_REUSE_MARGIN_MS = 60_000;

// Whether the process of pid on this host started after `after` (ms since the epoch) and
// the margin; false where /proc cannot tell (the process may then be the lock's writer).
function startedAfter(pid: number, after: number): boolean {
  let stat: string;
  let procStat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    procStat = readFileSync('/proc/stat', 'utf8');
  } catch (err) {
    if (errorCode(err) === 'ENOENT' || errorCode(err) === 'EACCES' || errorCode(err) === 'ESRCH') return false;
    throw err;
  }
  // starttime, in clock ticks after boot: USER_HZ, 100 on every Linux architecture (proc(5)).
  const ticks = Number(procStatFields(stat)[19]);
  const btime = /^btime (\d+)$/m.exec(procStat);
  if (btime === null || !Number.isFinite(ticks)) return false;
  return Number(btime[1]) * 1000 + ticks * 10 > after + PID_REUSE_MARGIN_MS;
}

// Stage 0: fails early, before minutes of reading and training, if the model or the report could not be written
// or the daemons would refuse it for where it is.
// Every question asked in libuv's pool, as for the inputs (statOrFail).
export async function checkOutput(out: string, report: string, dryRun: boolean): Promise<void> {
  if (await stat(out).then((st) => !st.isFile(), () => false)) throw new ConfigError(`--out ${out}: exists and is not a regular file`);
  if (await stat(report).then((st) => !st.isFile(), () => false)) throw new ConfigError(`--report ${report}: exists and is not a regular file`);
  const dirs = dryRun ? [dirname(report)] : [dirname(out), dirname(report)];
  for (const dir of new Set(dirs)) {
    const why = await unwritableDirectoryAsync(dir);
    if (why !== undefined) throw new ConfigError(`cannot write into ${dir}: ${why}${(await existsAsync(dir)) ? '' : ' (retrain does not create it)'}`);
  }
  if (!dryRun) {
    const { problems } = await checkTrustAsync(dirname(out), 'model directory', { directory: true });
    if (problems.length > 0) throw new ConfigError(`the daemons would refuse a model written to ${out}: ${problems.join('; ')}`);
  }
  const refused = await outputDirectoryProblemsAsync(report, { what: 'report directory' });
  if (refused.length > 0) throw new ConfigError(`--report ${report}: ${refused.join('; ')}`);
}

// Why a real run (no --dry-run) would stop at checkOutput, or undefined: a dry run,
// which writes no model, says so rather than that the model would be written.
export async function outputProblem(out: string, report: string): Promise<string | undefined> {
  try {
    await checkOutput(out, report, false);
    return undefined;
  } catch (err) {
    if (err instanceof ConfigError) return err.message;
    throw err;
  }
}

// ---------------------------------------------------------------- the stages
// retrain() is this list: check the output → list the inputs → gather them → join and label → split →
// train → evaluate → decide → write (model, report). Each stage takes and returns plain
// typed values, so a test can run one alone; the context only carries the output, the
// progress line, the clock and Ctrl-C.

// What the stages share: where to print, the progress line, the clock and Ctrl-C.
export interface StageContext {
  say(text: string): void; // whole lines to stdout, after clearing the progress line
  progress: Progress;
  clock: () => number;
  aborted(): boolean;
}

// Thrown by a stage that saw Ctrl-C; retrain() turns it into EXIT_INTERRUPTED.
export class Interrupted extends Error {
  override name = 'Interrupted';
  constructor() {
    super('interrupted');
  }
}

// A stage context for tests and scripts: output to `out`, no progress, no Ctrl-C.
export function quietContext(out: (text: string) => void = () => undefined, clock: () => number = () => performance.now()): StageContext {
  return { say: out, progress: new Progress(() => undefined, false, clock), clock, aborted: () => false };
}

// One input as the report lists it.
export interface InputSummary {
  what: string;
  path: string;
  summary: string;
}

// What the run has read so far, kept by retrain() so that a report can be written
// even when a later stage gives up.
export interface ReadLog {
  inputs: InputSummary[];
  problems: ProblemLog;
  source: string[]; // recorded in the model file
  table?: JobTable; // once the accounting is read
  historyRecords: number;
  reportTried?: boolean; // the run's own report was attempted: no failure report after it
  families?: string[]; // familyLines, once the jobs are labelled
}

// A fresh, empty ReadLog.
export function readLog(): ReadLog {
  return { inputs: [], problems: new ProblemLog(), source: [], historyRecords: 0 };
}

// What gatherInputs read: every finished job once, in the table; the history files to
// stream; the calibration rows.
export interface GatheredInputs {
  table: JobTable;
  jobs: number; // finished job records, each once
  historyPaths: string[];
  skippedHistory: SkippedHistoryFile[]; // history files found in a directory and left out, with why
  calibration: TrainingRow[];
}

// Stage 1: checks every input before anything is read (a typo fails at once); reads
// the calibration datasets, the suspended time from lsb.events, then lsb.acct into the
// job table: a few dozen bytes per job, a record found twice counted once. The files
// are those listInputs found.
export async function gatherInputs(options: RetrainOptions, files: InputFiles, log: ReadLog, ctx: StageContext): Promise<GatheredInputs> {
  if (files.acctProblem !== undefined) throw files.acctProblem;
  const acctPaths = await regularFiles('--acct', files.acct);
  // Oldest first, however they were named: a suspension and its resume may lie in two
  // files, and Suspensions follows the events in time order (lsb.events.N is older
  // the larger N; named newest first, as ls lists them, a resume met before its
  // suspend was dropped, and the suspension ran to the job's end).
  const eventPaths = oldestFirst(await regularFiles('--acct', files.events), EVENTS_FILE);
  if (options.history.length === 0) throw new ConfigError('--history: expected at least one history file or directory, received none');
  if (files.historyProblem !== undefined) throw files.historyProblem;
  const { paths: historyPaths, skipped: skippedHistory } = await historyInputs(options.history, files.history, outputsOf(options));
  if (historyPaths.length === 0 && skippedHistory.length === 0) {
    throw new ConfigError(`no history found: no *.jsonl or *.jsonl.N files in ${options.history.join(', ')} (the daemons write them to their history.dir)`);
  }
  for (const path of options.calibration) await statOrFail('--calibration', path, 'a calibration dataset (JSON lines)');
  await regularFiles('--calibration', options.calibration);

  // Calibration rows are not jobs of this cluster and have no place in its timeline:
  // they are always trained on and never held out.
  const calibration: TrainingRow[] = [];
  for (const path of options.calibration) {
    const file = await readCalibrationAsync(path);
    log.problems.add(file.skipped, file.problems);
    if (file.records.length === 0) {
      throw new ConfigError(`--calibration ${path}: no calibration runs in it${file.skipped > 0 ? ` (${file.skipped} lines skipped; the first: ${file.problems[0] ?? '?'})` : ''}; expected a dataset lavarank calibrate wrote`);
    }
    // As train-default: a probe during which other processes' CPU use rose was slowed
    // by what its sample, taken before, does not show.
    const { usable, leftOut } = usableRecords(file.records);
    const summary = `${usable.length} rows${leftOut > 0 ? `; left out ${leftOut} (${FOREIGN_RISE_WHY})` : ''}${file.skipped > 0 ? `; skipped ${file.skipped} lines` : ''}`;
    ctx.say(`calibration ${path}: ${summary} (trained on, never held out)`);
    log.inputs.push({ what: 'calibration', path, summary });
    log.source.push(`calibration ${path} (${usable.length} of ${file.records.length} probes, sha256 ${file.sha256.slice(0, 16)})`);
    calibration.push(...calibrationRows(usable));
  }

  const suspensions = new Suspensions();
  for (const path of eventPaths) {
    const s = await readSuspensions(path, suspensions);
    log.problems.add(s.malformed, s.problems);
    const summary = `${s.statusRecords} JOB_STATUS records${s.malformed > 0 ? `; skipped ${s.malformed} malformed` : ''}`;
    ctx.say(`lsb.events ${path}: ${summary}`);
    log.inputs.push({ what: 'lsb.events', path, summary });
    if (ctx.aborted()) throw new Interrupted();
  }
  if (eventPaths.length > 0) ctx.say(`suspended while running: ${suspensions.jobs} jobs (their suspended time is left out of their run time)`);

  const table = new JobTable({ minRuns: options.minRuns, minRuntimeSec: options.minRuntimeSec ?? DEFAULT_MIN_RUNTIME_SEC });
  log.table = table;
  for (const path of acctPaths) {
    const reader = readAcct(path);
    for await (const job of reader) {
      table.add(job, suspensions.secondsWithin(job.jobId, job.idx, job.startTime, job.endTime), suspensions.requeuedWithin(job.jobId, job.idx, job.submitTime, job.startTime));
      if ((table.count & 16383) === 0) {
        ctx.progress.update(`reading ${path}: ${table.count} jobs`);
        if (ctx.aborted()) throw new Interrupted();
      }
    }
    const s = reader.stats;
    const skipped = skippedLines(s);
    const summary = `${s.records} JOB_FINISH records${skipped.length > 0 ? `; skipped ${skipped.join(', ')}` : ''}`;
    ctx.say(`lsb.acct ${path}: ${summary}`);
    log.inputs.push({ what: 'lsb.acct', path, summary });
    log.source.push(`lsb.acct ${path} (${s.records} records)`);
    log.problems.add(s.malformed, s.problems.map((p) => p.message));
  }
  const duplicates = table.finish();
  if (duplicates > 0) ctx.say(`${duplicates} records appear more than once (the same job in two files) and are counted once`);
  if (table.count === 0) {
    // Why every line was refused is the one thing to tell: the first few reasons.
    const why = log.problems.first.slice(0, 3);
    throw new ConfigError(
      `no JOB_FINISH records in ${acctPaths.join(', ')}${log.inputs.length > 0 ? ` (${log.inputs.map((i) => i.summary).join('; ')})` : ''}` +
        (why.length > 0 ? `; the first malformed line${why.length > 1 ? 's' : ''}:\n  ${why.join('\n  ')}` : ''),
    );
  }
  return { table, jobs: table.count, historyPaths, skippedHistory, calibration };
}

// The files this run writes, by option: the report, and the model unless a dry run.
function outputsOf(options: Pick<RetrainOptions, 'out' | 'report' | 'dryRun'>): Array<[string, string]> {
  return options.dryRun ? [['--report', options.report]] : [['--out', options.out], ['--report', options.report]];
}

// The history files to read: a file named on the command line must be a regular file
// (regularFiles), but one found in a listed directory that is not (a FIFO, a device, a
// link to nothing: in a sticky history.dir any user can put one there), or that is one
// of the outputs (their link to the model: checkDistinct stopped the run for it), is
// left out with a warning, as readHistory leaves out one refused when opened, so that
// one user's entry cannot stop a retrain of every host's history.
async function historyInputs(given: readonly string[], listed: readonly string[], outputs: ReadonlyArray<[string, string]>): Promise<{ paths: string[]; skipped: SkippedHistoryFile[] }> {
  const paths: string[] = [];
  const skipped: SkippedHistoryFile[] = [];
  const outputIds: Array<{ option: string; path: string; id: string }> = [];
  for (const [option, path] of outputs) outputIds.push({ option, path, id: await fileIdentityAsync(path) });
  for (const file of listed) {
    if (given.includes(file)) {
      paths.push(...(await regularFiles('--history', [file])));
      continue;
    }
    try {
      await regularFiles('--history', [file]);
      const id = await fileIdentityAsync(file);
      const output = outputIds.find((o) => o.id === id);
      if (output !== undefined) throw new ConfigError(`--history ${file}: is ${output.option} ${output.path}, which this run writes; not read`);
      paths.push(file);
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      skipped.push({ file, why: err.message });
    }
  }
  return { paths, skipped };
}

// A warning for each history directory (or a history file's directory) that someone
// other than root can change, and for each history file read that another user owned
// (owners, from the reader's descriptors): the lines there may be anyone's, and a
// model that learns a host is always idle draws every job to it. A sticky directory
// such as /tmp passes the directory check, since only an entry's owner can replace
// it, but there anyone may add a host's file, or make the daemon's own first: so the
// files' owners are asked too, of what was read, since by now they may have removed
// it or put a link to a root file in its place. Said, not refused: history copied
// from the nodes into an administrator's own directory is a fair input.
export async function sharedHistoryWarnings(paths: readonly string[], owners: readonly HistoryOwner[] = []): Promise<string[]> {
  const dirs = new Set<string>();
  for (const p of paths) dirs.add((await isDirectoryAsync(p)) ? p : dirname(p));
  const uid = process.geteuid?.() ?? 0;
  const foreign = owners.flatMap(({ file, uid: owner }) => (owner === 0 || owner === uid ? [] : [`history file ${escapedControls(file)} is owned by uid ${owner}, not root`]));
  const shown = foreign.length > MAX_FOREIGN_SHOWN ? [...foreign.slice(0, MAX_FOREIGN_SHOWN), `${foreign.length - MAX_FOREIGN_SHOWN} more history files owned by others`] : foreign;
  // A directory's problems name the directories its links lead to, which their owners name.
  const problems: string[] = [];
  for (const dir of dirs) problems.push(...(await directoryProblemsAsync(dir, 'history directory')).map(escapedControls));
  return [...problems, ...shown].map((problem) => `warning: ${problem}; its lines may be anyone's, and the model learns from them`);
}

// A warning for each history file left out (the first MAX_FOREIGN_SHOWN named, the
// rest counted): the model is trained without that host's records.
export function skippedHistoryWarnings(skipped: readonly SkippedHistoryFile[]): string[] {
  const named = skipped.slice(0, MAX_FOREIGN_SHOWN).map(({ why }) => `warning: history file left out: ${escapedControls(why)}`);
  const more = skipped.length - named.length;
  return more > 0 ? [...named, `warning: ${more} more history files left out`] : named;
}

// History files owned by others named one by one in sharedHistoryWarnings; the rest are counted.
const MAX_FOREIGN_SHOWN = 5;

// What joinAndLabel made of the jobs.
export interface LabelledExamples {
  table: JobTable;
  join: HistoryJoin; // the features of every joined job
  examples: ExampleSet; // labelled, in start order, split at examples.cut
  excluded: ExclusionCounts;
}

// Stage 2: streams the history once through the join (each host's records are in time
// order, and each touches only the jobs starting within its window), then splits the
// joined jobs by time and labels them against their family's training-window baseline.
export async function joinAndLabel(
  gathered: Pick<GatheredInputs, 'table' | 'historyPaths'> & Partial<Pick<GatheredInputs, 'skippedHistory'>>,
  options: Pick<RetrainOptions, 'history' | 'intervalSec' | 'holdoutFraction'>,
  log: ReadLog,
  ctx: StageContext,
): Promise<LabelledExamples> {
  const { table, historyPaths } = gathered;
  const join = new HistoryJoin(table, { intervalSec: options.intervalSec });
  // Each host's files are followed through a rotation by its daemon during the read;
  // those named one by one on the command line are read as named.
  const reader = readHistory(historyPaths, { skipRefused: true, followRotation: true, named: options.history });
  const historyHosts = new Set<string>();
  let tsFrom = Infinity;
  let tsTo = -Infinity;
  let records = 0;
  let lastHost = '';
  for await (const record of reader) {
    join.offer(record);
    if (record.host !== lastHost) {
      historyHosts.add(record.host);
      lastHost = record.host;
    }
    if (record.ts < tsFrom) tsFrom = record.ts;
    if (record.ts > tsTo) tsTo = record.ts;
    records += 1;
    if ((records & 16383) === 0) {
      ctx.progress.update(`reading history: ${records} records, file ${reader.stats.files} of ${historyPaths.length}`);
      if (ctx.aborted()) throw new Interrupted();
    }
  }
  if (ctx.aborted()) throw new Interrupted();
  log.historyRecords = records;
  const hs = reader.stats;
  const leftOut = (gathered.skippedHistory?.length ?? 0) + hs.skipped.length;
  const historySummary =
    `${hs.records} record${hs.records === 1 ? '' : 's'} in ${hs.files} file${hs.files === 1 ? '' : 's'}` +
    `${leftOut > 0 ? `; left out ${leftOut} file${leftOut === 1 ? '' : 's'} (see the warnings)` : ''}` +
    `${hs.malformed > 0 ? `; skipped ${hs.malformed} malformed lines` : ''}${hs.incomplete > 0 ? `; ${hs.incomplete} incomplete last lines (a daemon killed mid-write, or still writing)` : ''}`;
  ctx.say(`history: ${historySummary}`);
  for (const warning of await sharedHistoryWarnings(options.history, hs.owners)) ctx.say(warning);
  for (const warning of skippedHistoryWarnings([...(gathered.skippedHistory ?? []), ...hs.skipped])) ctx.say(warning);
  log.inputs.push({ what: 'history', path: options.history.join(', '), summary: historySummary });
  log.source.push(`history ${options.history.join(', ')} (${hs.records} records)`);
  log.problems.add(hs.malformed, hs.problems.map((p) => p.message));
  for (const line of log.problems.lines()) ctx.say(line);
  if (hs.records === 0) throw new ConfigError(`no history records in ${hs.files} history file${hs.files === 1 ? '' : 's'} under ${options.history.join(', ')}${hs.malformed > 0 ? ` (${hs.malformed} malformed lines; first: ${escapedControls(hs.problems[0]?.message ?? '')})` : ''}${leftOut > 0 ? `; ${leftOut} left out (the warnings above say why)` : ''}`);

  join.finish();
  const examples = labelAndSplit(table, options.holdoutFraction);
  const excluded = table.excluded();
  const meanings = exclusionMeanings(table.settings);
  const n = examples.index.length;
  ctx.say(
    `jobs: ${table.count} finished, ${n} usable (${examples.trainCount} before the holdout, ${examples.holdoutCount} in it); left out: ${exclusionText(excluded)}` +
      exclusionLines(excluded, meanings).map((l) => `\n${l}`).join(''),
  );
  log.families = familyLines(table.families, examples.families, table.settings, familyLosses(table));
  for (const line of log.families) ctx.say(line);
  if (n === 0) {
    let jobFrom = Infinity;
    let jobTo = -Infinity;
    const jobHosts = new Set<string>();
    for (let i = 0; i < table.count; i++) {
      if (table.reasonOf(i) !== 'noHistory') continue;
      jobFrom = Math.min(jobFrom, table.start[i] ?? Infinity);
      jobTo = Math.max(jobTo, table.start[i] ?? -Infinity);
      jobHosts.add(table.hosts[table.host[i] ?? 0] ?? '');
    }
    throw new ConfigError(noExamplesMessage(table.count, excluded, table.settings, jobHosts, historyHosts, { jobFrom, jobTo, tsFrom, tsTo }, options.intervalSec));
  }
  return { table, join, examples, excluded };
}

// The reference predictors fitted on the training jobs (and calibration rows).
export interface References {
  linear: LinearModel; // ridge over every feature
  loadOnly: LinearModel; // a line on the 1-minute load per CPU
  meanLabel: number;
}

// The time split, as training needs it.
export interface TimeSplit {
  trainRows: TrainingRow[]; // calibration rows, then an even sample of the training jobs
  checkRows: TrainingRow[]; // a thinned sample of the held-out jobs, for trainModel's own check
  trainJobs: number; // jobs in the training window
  sampledJobs: number; // of which the network trains on these (--max-train-rows)
  calibrationCount: number;
  holdoutCount: number;
  firstHeld: number; // epoch s of the first held-out start
  lastHeld: number;
  references: References;
}

const LOAD1 = featureIndex('load1_per_cpu');
// The raw 1-minute load per CPU of a vector (exact below the feature's cap), as OpenLava's order sees it.
const load1Of = (values: readonly number[]): number => unscaleValue(FEATURES[LOAD1] as FeatureSpec, values[LOAD1] ?? 0);

// The usable jobs a retrain needs at this holdout fraction: MIN_HOLDOUT held out and,
// with the calibration rows, MIN_TRAIN to train on. Above a fraction of 2/7 the second
// bound is the larger: at 0.5, 40 jobs give 20 held out but only 20 to train on.
export function jobsNeeded(holdoutFraction: number, calibrationRows = 0): number {
  return Math.max(Math.ceil(MIN_HOLDOUT / holdoutFraction), Math.ceil(Math.max(0, MIN_TRAIN - calibrationRows) / (1 - holdoutFraction)));
}

// Stage 3: the rows to train on. The jobs are already split at examples.cut (stage 2
// had to, to keep the baselines out of the holdout's future); this takes an even sample
// of at most maxTrainRows training jobs for the network, fits the reference predictors
// on all of them in the same pass, and checks both parts are big enough.
export function splitByTime(labelled: Pick<LabelledExamples, 'table' | 'join' | 'examples'>, calibration: readonly TrainingRow[], options: Pick<RetrainOptions, 'holdoutFraction' | 'maxTrainRows'>): TimeSplit {
  const { examples, join, table } = labelled;
  const { trainCount, holdoutCount, index, label } = examples;
  const usable = index.length;
  if (holdoutCount < MIN_HOLDOUT) {
    throw new ConfigError(
      `too few examples for a holdout: ${usable} usable jobs, ${holdoutCount} of them in the newest ${pct(options.holdoutFraction)}, and at least ${MIN_HOLDOUT} are needed to judge a model ` +
        `(about ${jobsNeeded(options.holdoutFraction, calibration.length)} usable jobs at --holdout ${options.holdoutFraction}; collect more history, or see the reasons above)`,
    );
  }
  if (trainCount + calibration.length < MIN_TRAIN) throw new ConfigError(`too few examples to train on: ${trainCount + calibration.length} rows before the holdout of ${holdoutCount}, at least ${MIN_TRAIN} needed`);
  const maxRows = options.maxTrainRows ?? DEFAULT_MAX_TRAIN_ROWS;
  const sampled = Math.min(trainCount, maxRows);
  const linear = new RidgeFit(FEATURE_NAMES.length);
  const loadOnly = new RidgeFit(1);
  const trainRows: TrainingRow[] = [...calibration];
  for (const r of calibration) {
    linear.add(r.values, clampRank(r.label));
    loadOnly.add([load1Of(r.values)], clampRank(r.label));
  }
  let next = 0; // the next sampled position
  for (let k = 0; k < trainCount; k++) {
    const f = join.featuresAt(index[k] ?? 0);
    const y = clampRank(label[k] ?? 0);
    linear.add(f.values, y);
    loadOnly.add([load1Of(f.values)], y);
    if (next < sampled && k === Math.floor((next * trainCount) / sampled)) {
      trainRows.push({ values: f.values, mask: f.mask, named: f.named, label: label[k] ?? 0 });
      next += 1;
    }
  }
  const checkRows: TrainingRow[] = [];
  for (const k of thinned(Array.from({ length: holdoutCount }, (_, j) => trainCount + j), TRAIN_CHECK_ROWS)) {
    const f = join.featuresAt(index[k] ?? 0);
    checkRows.push({ values: f.values, mask: f.mask, named: f.named, label: label[k] ?? 0 });
  }
  const linearModel = linear.solve();
  const loadModelFit = loadOnly.solve(1e-9);
  return {
    trainRows, checkRows, trainJobs: trainCount, sampledJobs: sampled, calibrationCount: calibration.length, holdoutCount,
    firstHeld: table.start[index[trainCount] ?? 0] ?? NaN,
    lastHeld: table.start[index[usable - 1] ?? 0] ?? NaN,
    references: { linear: linearModel, loadOnly: loadModelFit, meanLabel: linearModel.rows === 0 ? 0 : meanOf(trainRows, calibration.length, examples) },
  };
}

// The mean clamped label of the training jobs and calibration rows.
function meanOf(trainRows: readonly TrainingRow[], calibration: number, examples: ExampleSet): number {
  let sum = 0;
  for (let r = 0; r < calibration; r++) sum += clampRank(trainRows[r]?.label ?? 0);
  for (let k = 0; k < examples.trainCount; k++) sum += clampRank(examples.label[k] ?? 0);
  return sum / Math.max(1, calibration + examples.trainCount);
}

// What trainStage produced.
export interface Trained {
  model: ModelFile;
  report: TrainReport;
  stoppedBy: string; // what ended training
  trainMs: number;
  summary: string; // one sentence for the output and the report
}

// Stage 4: trains the network on the sampled training rows, stopped by the epoch
// count, the time limit, a validation error that no longer improves, or Ctrl-C
// (then Interrupted).
export async function trainStage(
  split: Pick<TimeSplit, 'trainRows' | 'checkRows'>,
  options: Pick<RetrainOptions, 'seed' | 'epochs' | 'timeLimitSec' | 'now'>,
  source: string[],
  ctx: StageContext,
  signal?: AbortSignal,
): Promise<Trained> {
  const stop = new AbortController();
  const trainSignal = signal === undefined ? stop.signal : AbortSignal.any([signal, stop.signal]);
  const trainStart = ctx.clock();
  const limitMs = options.timeLimitSec * 1000;
  const chunk = chunkFor(split.trainRows.length);
  let stoppedBy = `${options.epochs} epochs`;
  let improvedAt = 0;
  let improvedMae = Infinity;
  const { model, report } = await trainModel(split.trainRows, {
    name: 'retrained',
    source,
    seed: options.seed,
    epochs: options.epochs,
    chunk,
    holdout: split.checkRows,
    ...(options.now === undefined ? {} : { now: options.now }),
    signal: trainSignal,
    clock: ctx.clock,
    deadline: trainStart + limitMs,
    onProgress: (p) => {
      const elapsed = ctx.clock() - trainStart;
      if (p.validationMae < improvedMae * (1 - MIN_IMPROVEMENT)) {
        improvedMae = p.validationMae;
        improvedAt = p.epoch;
      }
      ctx.progress.update(
        `training: epoch ${p.epoch}/${p.epochs}, validation MAE ${p.validationMae.toFixed(2)} (best ${p.bestValidationMae.toFixed(2)}), ` +
          `${(elapsed / 1000).toFixed(0)}/${options.timeLimitSec} s`,
        p.epoch <= chunk || p.epoch === p.epochs, // a log says at once that training has begun
      );
      if (stop.signal.aborted) return;
      if (p.epoch - improvedAt >= PATIENCE_EPOCHS && p.epoch < p.epochs) {
        stoppedBy = `no improvement of the validation error for ${PATIENCE_EPOCHS} epochs`;
        stop.abort();
      }
    },
  });
  if (ctx.aborted()) throw new Interrupted();
  if (report.stopped === 'deadline') {
    stoppedBy =
      report.backboneGridPoints < BACKBONE_GRID_POINTS
        ? `the ${options.timeLimitSec} s time limit, during the backbone fit (${report.backboneGridPoints} of its ${BACKBONE_GRID_POINTS} grid points; no network)`
        : `the ${options.timeLimitSec} s time limit`;
  }
  const trainMs = ctx.clock() - trainStart;
  const kept =
    model.residual === null
      ? 'kept the backbone alone'
      : `kept the network of ${report.bestEpoch === 0 ? 'part of the first epoch' : `epoch ${report.bestEpoch}`}, the best on the validation part (${report.validationSamples} rows)`;
  const summary = `Trained ${report.epochs} epochs in ${(trainMs / 1000).toFixed(1)} s (stopped by ${stoppedBy}); ${kept}.`;
  ctx.say(summary);
  return { model, report, stoppedBy, trainMs, summary };
}

// The held-out jobs through every predictor.
export interface Evaluation {
  verdicts: Verdict[]; // in table order
  table: MaeEntry[];
  newMae: number;
  installed: Installed;
  installedPath: string; // the file compared with
  installedMae: number | null;
  references: Array<{ name: string; mae: number | null }>; // the gate's: linear regression, the physical backbone
  paired?: { mean: number; se: number }; // new minus installed, per job
  points: HoldoutPoint[]; // evenly thinned, for the report
  worst: HoldoutPoint[]; // the new model's ten largest errors over all held-out jobs
}

// Where the candidates come from.
export interface EvaluatePaths {
  installed: string; // the model being replaced (the file at --out, else the config's)
  embedded: string; // the embedded default
}

function candidateFromFile(name: string, loaded: Installed): Candidate {
  if (loaded.state === 'loaded') {
    const m = loaded.model;
    return { name, note: `${m.id} (${loaded.path}), trained ${m.file.training.date.slice(0, 10)} on ${m.file.training.samples} samples`, predict: (f) => m.predict(f) };
  }
  return { name, note: loaded.state === 'none' ? `none: no file at ${loaded.path}` : `unusable: ${loaded.why}` };
}

// Stage 5: every candidate on the same held-out jobs and labels (src/training/judge.ts):
// the new model as the daemon will compute it (from the file's numbers, through the
// daemon's forward pass), the installed model, the embedded default, linear regression,
// the physical backbone, and the reference baselines.
export async function evaluate(trained: Pick<Trained, 'model' | 'report'>, split: TimeSplit, labelled: Pick<LabelledExamples, 'table' | 'join' | 'examples'>, paths: EvaluatePaths): Promise<Evaluation> {
  const { table, join, examples } = labelled;
  const fresh = modelFromFile(trained.model, 'the new model');
  const installed = await loadInstalled(paths.installed);
  const sameFile = resolve(paths.embedded) === resolve(installed.path);
  const embedded = sameFile ? installed : await loadInstalled(paths.embedded);
  const refs = split.references;
  const trainedOn = `${trained.report.trainSamples + trained.report.validationSamples} rows`;
  const candidates: Candidate[] = [
    { name: 'new model', note: `trained on ${trainedOn}${split.sampledJobs < split.trainJobs ? ` (${split.sampledJobs} of the ${split.trainJobs} training jobs, evenly spread)` : ''}`, predict: (f) => fresh.predict(f) },
    candidateFromFile('installed model', installed),
    sameFile ? { ...candidateFromFile('embedded default', embedded), note: 'the installed model is the embedded default' } : candidateFromFile('embedded default', embedded),
    { name: 'linear regression', note: `ridge over all ${FEATURE_NAMES.length} features, fitted on the ${refs.linear.rows} training rows`, predict: (f) => linearPredict(refs.linear, f.values) },
    { name: 'physical backbone', note: 'the new model without its network: per-resource stall on the host\'s own CPUs (src/model/backbone.ts), weights fitted on the training rows', predict: (f) => backboneRank(f.named, fresh.file.backbone) },
    { name: 'load-only fit', note: `${refs.loadOnly.intercept.toFixed(1)} + ${(refs.loadOnly.weights[0] ?? 0).toFixed(1)} x load1 per CPU, fitted on the training rows`, predict: (f) => linearPredict(refs.loadOnly, [load1Of(f.values)]) },
    { name: 'mean', note: `always ${refs.meanLabel.toFixed(1)}, the training rows' mean slowdown`, predict: () => refs.meanLabel },
    { name: 'formula', note: 'the daemon\'s built-in fallback formula', predict: (f) => formulaRank(f) },
  ];
  const first = examples.trainCount;
  const n = examples.holdoutCount;
  const shown = new Set(thinned(Array.from({ length: n }, (_, j) => j), REPORT_POINTS));
  const shownFeatures = new Map<number, Features>();
  function* rows() {
    for (let j = 0; j < n; j++) {
      const features = join.featuresAt(examples.index[first + j] ?? 0);
      if (shown.has(j)) shownFeatures.set(j, features);
      yield { features, label: examples.label[first + j] ?? 0 };
    }
  }
  const { verdicts, labels } = judge(candidates, rows(), n);
  const byName = (name: string): Verdict => verdicts.find((v) => v.name === name) as Verdict;
  const newV = byName('new model');
  const instV = byName('installed model');
  const newPred = newV.predictions ?? new Float32Array(n);
  const point = (j: number, features?: Features): HoldoutPoint => {
    const i = examples.index[first + j] ?? 0;
    const f = features ?? join.featuresAt(i);
    const fam = examples.families.get(table.family[i] ?? 0);
    const p: HoldoutPoint = {
      label: labels[j] ?? 0,
      values: f.values,
      mask: f.mask,
      predicted: newPred[j] ?? NaN,
      job: {
        id: table.jobLabel(i), kind: table.families[table.family[i] ?? 0] ?? '', host: table.hosts[table.host[i] ?? 0] ?? '', start: table.start[i] ?? NaN,
        runtime: (table.end[i] ?? 0) - (table.start[i] ?? 0) - (table.suspended[i] ?? 0), cpu: table.cpu[i] ?? NaN, efficiency: table.efficiency(i),
        baseline: fam?.status === 'ok' ? fam.baseline : NaN,
      },
    };
    const old = instV.predictions?.[j];
    if (old !== undefined) p.installed = old;
    return p;
  };
  const points = [...shown].map((j) => point(j, shownFeatures.get(j)));
  const worstIdx = Array.from({ length: n }, (_, j) => j)
    .sort((a, b) => Math.abs((newPred[b] ?? 0) - (labels[b] ?? 0)) - Math.abs((newPred[a] ?? 0) - (labels[a] ?? 0)))
    .slice(0, 10);
  const evaluation: Evaluation = {
    verdicts,
    table: verdicts.map((v) => ({ name: v.name, mae: v.mae, n: v.n, note: v.note })),
    newMae: newV.mae ?? NaN,
    installed,
    installedPath: paths.installed,
    installedMae: instV.mae,
    references: [byName('linear regression'), byName('physical backbone')].map((v) => ({ name: v.name, mae: v.mae })),
    points,
    worst: worstIdx.map((j) => point(j)),
  };
  if (instV.predictions !== undefined) evaluation.paired = pairedDifference(newPred, instV.predictions, labels);
  return evaluation;
}

// The warning for a new model that does not beat the mean or the load-only line, naming
// only the one it missed: "does not beat the mean and the load-only fit" read as both
// when it had beaten the mean by 16 points and missed the load line by 1.6.
export function floorWarning(newMae: number, meanMae: number, loadMae: number): string | null {
  const missed = [
    { name: 'the mean', mae: meanMae },
    { name: 'the load-only fit', mae: loadMae },
  ].filter((m) => !(newMae < m.mae));
  if (missed.length === 0) return null;
  const which = missed.map((m) => `${m.name} (MAE ${m.mae.toFixed(2)})`).join(' or ');
  return `warning: the new model (MAE ${newMae.toFixed(2)}) does not beat ${which} on the holdout; the data may not carry enough signal`;
}

// Prints the holdout table, the paired difference and a warning when the model learnt little.
function sayEvaluation(e: Evaluation, n: number, ctx: StageContext): void {
  ctx.say(`\nholdout: the ${n} newest jobs, every predictor on the same jobs and labels; MAE in rank points (percent slowdown), lower is better\n${formatHoldoutTable(e.table)}`);
  if (e.paired !== undefined) {
    const d = e.paired;
    ctx.say(`new minus installed: ${d.mean >= 0 ? '+' : ''}${d.mean.toFixed(2)} ± ${d.se.toFixed(2)} rank points per job (± one standard error)`);
  }
  const mae = (name: string): number => e.verdicts.find((v) => v.name === name)?.mae ?? Infinity;
  const warning = floorWarning(e.newMae, mae('mean'), mae('load-only fit'));
  if (warning !== null) ctx.say(warning);
}

// What writeModelStage did.
export interface WrittenModel {
  written: boolean;
  id: string; // the model file's id, as the daemon logs it (of the file it would write, when it does not)
  previous?: string; // where the replaced model was kept
}

// Stage 7a: records how the model was retrained and judged in it, and writes it if the
// decision says so: atomically, the previous model kept, and read back as the daemon will.
export function writeModelStage(
  model: ModelFile,
  decision: { write: boolean; reason: string },
  record: Record<string, unknown>,
  evaluation: Pick<Evaluation, 'verdicts'>,
  holdoutCount: number,
  options: Pick<RetrainOptions, 'out' | 'configModel' | 'configPath' | 'intervalSec'>,
  ctx: StageContext,
): WrittenModel {
  // The judge's numbers, over every held-out job, replace trainModel's check on a sample.
  const mae = (name: string): number | null => evaluation.verdicts.find((v) => v.name === name)?.mae ?? null;
  model.training['retrain'] = record;
  model.training.holdoutSamples = holdoutCount;
  model.training.samples = model.training.trainSamples + holdoutCount;
  model.training.holdoutMae = mae('new model') ?? NaN;
  model.training.baselines = { mean: mae('mean') ?? NaN, loadOnly: mae('load-only fit') ?? NaN, formula: mae('formula') ?? NaN };
  for (const [key, name] of [['installed', 'installed model'], ['embedded', 'embedded default'], ['linear', 'linear regression'], ['backbone', 'physical backbone']] as const) {
    const m = mae(name);
    if (m !== null) model.training.baselines[key] = m;
  }
  const id = modelId(model.name, serializeModel(model));
  if (!decision.write) {
    ctx.say(`\n${decision.reason}\nnew model: ${id} (not written)`);
    return { written: false, id };
  }
  // The model being replaced is copied aside first, and becomes OUT.previous only once
  // the new one is in place: a write that fails (a full disk) leaves the model and the
  // rollback copy of the run before as they were, and says which file it could not write.
  let kept: { tmp: string; previous: string } | undefined;
  let unsynced: UnsyncedRename | undefined;
  try {
    kept = copyPrevious(options.out);
    writeModelFile(options.out, model);
  } catch (err) {
    // The new model was renamed into place before its directory's sync failed: the
    // copy is now the only one of the model it replaced, and is kept as OUT.previous.
    if (err instanceof UnsyncedRename) unsynced = err;
    else {
      if (kept !== undefined) rmSync(kept.tmp, { force: true });
      throw new ModelError(`could not write the model ${options.out}: ${errorReason(err)}; the model there and ${options.out}.previous are unchanged`, { cause: err });
    }
  }
  let previous: string | undefined;
  if (kept !== undefined) {
    try {
      renameSync(kept.tmp, kept.previous);
    } catch (err) {
      // The new model is in place; the copy is now the only one of the model it replaced,
      // under a temp name a later run removes an hour on as a killed run's leftover.
      throw new ModelError(
        `wrote ${options.out} (${id}), but could not keep the model it replaced as ${kept.previous}: ${errorReason(err)}; that model is in ${kept.tmp}: move it to ${kept.previous} before the next retrain, which removes it an hour on`,
        { cause: err },
      );
    }
    previous = kept.previous;
  }
  if (unsynced !== undefined) {
    throw new ModelError(
      `wrote ${options.out} (${id})${previous === undefined ? '' : ` and kept the model it replaced as ${previous}`}, but ${errorReason(unsynced.cause)} syncing ${dirname(options.out)}: after a crash ${previous === undefined ? `${options.out} may be as it was before` : 'either may be missing'}; check the disk (dmesg) and run retrain again`,
      { cause: unsynced },
    );
  }
  let check: LoadedModel;
  try {
    check = loadModel(options.out);
  } catch (err) {
    throw new ModelError(`wrote ${options.out}, but it does not load as the daemons would load it: ${errorMessage(err)}`, { cause: err });
  }
  if (check.id !== id) throw new ModelError(`wrote ${options.out}, but it reads back as ${check.id}, not ${id}`);
  ctx.say(`\n${decision.reason}\nwrote ${options.out} (${check.id})${previous === undefined ? '' : `; the model it replaced is kept as ${previous}`}`);
  const uid = process.geteuid?.() ?? 0;
  if (uid !== 0) {
    // Only a daemon of this same user takes the file; under LIM the daemons are root's.
    ctx.say(`warning: not running as root: ${options.out} is owned by uid ${uid}, and a daemon running as root (as LIM starts it) refuses it and keeps the model it has; run retrain as root`);
  }
  if (resolve(options.out) !== resolve(options.configModel)) {
    ctx.say(`note: the daemons use ${options.configModel}${options.configPath === null ? '' : ` (config ${options.configPath})`}; set "model: ${options.out}" in their config to use this one`);
  } else {
    const who = uid === 0 ? 'the daemons' : `daemons running as uid ${uid}`;
    ctx.say(`${who} load it within ${MODEL_TAKEN_WITHIN} reports (${MODEL_TAKEN_WITHIN * options.intervalSec} s at the ${options.intervalSec} s interval)`);
  }
  const written: WrittenModel = { written: true, id: check.id };
  if (previous !== undefined) written.previous = previous;
  return written;
}

// The report quotes the inputs' malformed lines (up to 40 characters of a field, the
// JSON parser's view of a history line), and root may have read an input through a
// link whoever owns its directory planted: readable by owner and group, as the log is.
export const REPORT_MODE = 0o640;

// Stage 7b: writes the HTML report atomically. The error says whether the model was written.
export function writeReportStage(path: string, data: ReportData, modelWritten: { written: boolean; out: string }, ctx: StageContext): void {
  try {
    writeFileAtomic(path, renderReport(data), REPORT_MODE, { what: 'report directory' });
  } catch (err) {
    // Written but not synced: the report is there, and its message says "but" itself.
    const unsynced = err instanceof UnsyncedRename;
    const what = unsynced ? `the report ${err.message}` : `the report ${path} could not be written: ${errorReason(err)}`;
    throw new Error(`${modelWritten.written ? `the model was written to ${modelWritten.out}, ${unsynced ? 'and' : 'but'} ` : ''}${what}`, { cause: err });
  }
  ctx.say(`report: ${path}`);
}

// One paragraph on how the jobs were labelled, for the report.
function labelSummary(l: LabelledExamples): string {
  const s: LabelSettings = l.table.settings;
  const counts = { ok: 0, fewRuns: 0, lowCpu: 0, unstable: 0 };
  let unseen = 0; // families with no usable run there (seen only in the holdout, most often)
  for (const f of l.examples.families.values()) {
    if (f.runs === 0) unseen += 1;
    else counts[f.status] += 1;
  }
  return (
    `Each job is labelled with its slowdown from contention: how far its CPU efficiency (user+system CPU time per second of run time per slot, ` +
    `suspended time excluded) fell below its family's baseline, the ${s.baselinePercentile}th percentile of the family's efficiencies over the runs that started ` +
    `before ${isoMinute(l.examples.cut)} UTC (the training window only). Of ${l.examples.families.size - unseen} families with runs there, ${counts.ok} were usable, ` +
    `${counts.fewRuns} had fewer than ${s.minRuns} runs, ${counts.lowCpu} kept their CPUs under ${Math.round(100 * s.minCpuShare)} % busy and ${counts.unstable} had unstable fastest runs ` +
    `(the baselines of their older and newer halves of runs more than ${Math.round(100 * s.maxBaselineSpread)} % apart)` +
    `${unseen === 0 ? '' : `; ${unseen} more had no run there to take a baseline from (seen only in the holdout)`}.`
  );
}

// ---------------------------------------------------------------- the run

// Runs a retrain with resolved options; resolves to what it did. Throws ConfigError for
// inputs that cannot be used (named in the message), other errors as they are; once
// the output is known to be writable, a run that gives up writes its report first,
// with what was read and left out and why it stopped. Ctrl-C writes nothing.
export async function retrain(options: RetrainOptions, io: RetrainIO): Promise<RetrainResult> {
  const clock = io.clock ?? (() => performance.now());
  const started = clock();
  const progress = new Progress(io.err, io.isTTY, clock, 10_000, io.columns ?? 80);
  const ctx: StageContext = {
    say: (text) => {
      progress.clear();
      io.out(text);
    },
    progress,
    clock,
    aborted: () => io.signal?.aborted === true,
  };
  const result: RetrainResult = {
    exitCode: EXIT_INTERRUPTED, written: false, outcome: 'interrupted: nothing written', jobs: 0, examples: 0, holdout: 0, historyRecords: 0,
    newMae: NaN, installedMae: null, readMs: 0, trainMs: 0, epochs: 0, stoppedBy: '', totalMs: 0,
  };
  await checkOutput(options.out, options.report, options.dryRun);
  const realRunProblem = options.dryRun ? await outputProblem(options.out, options.report) : undefined;
  const files = await listInputs(options);
  await checkDistinct(options, files);
  const log = readLog();
  const unlock = options.dryRun ? () => undefined : lockOutput(options.out);
  try {
    await runStages(options, files, io, ctx, log, result, realRunProblem);
  } catch (err) {
    if (err instanceof Interrupted) progress.clear();
    else {
      // The report of a run that gave up, unless writing the report is what failed.
      if (!log.reportTried) {
        try {
          await writeFailureReport(options, log, err, ctx);
        } catch (reportErr) {
          ctx.say(`the report could not be written either: ${errorMessage(reportErr)}`);
        }
      }
      throw err;
    }
  } finally {
    try {
      unlock();
    } catch (err) {
      // Thrown here, it took the place of how the run ended (its file system gone
      // read-only: the model's own error lost); a lock left with this run's pid is
      // taken over by the next retrain on this host.
      ctx.say(`warning: could not remove the lock ${options.out}.lock: ${errorMessage(err)}; the next retrain on this host takes it over (on another host, remove it if no retrain runs)`);
    }
  }
  result.totalMs = clock() - started;
  return result;
}

// The report of a run that gave up: what was read and left out, and why it stopped.
async function writeFailureReport(options: RetrainOptions, log: ReadLog, err: unknown, ctx: StageContext): Promise<void> {
  const table = log.table;
  const installed = (await existsAsync(options.out)) ? options.out : options.configModel;
  const excluded = table === undefined ? noExclusions() : table.excluded();
  writeReportStage(options.report, {
    generated: (options.now?.() ?? new Date()).toISOString(),
    out: options.out,
    outcome: `Not written: ${errorMessage(err)}.`,
    installed: { path: installed },
    table: [],
    holdout: [],
    counts: { jobs: table?.count ?? 0, examples: 0, train: 0, calibration: 0, holdout: 0 },
    excluded,
    meanings: exclusionMeanings(table?.settings ?? labelSettings({ minRuns: options.minRuns, minRuntimeSec: options.minRuntimeSec ?? DEFAULT_MIN_RUNTIME_SEC })),
    families: log.families,
    inputs: log.inputs,
    problems: log.problems.first,
    problemCount: log.problems.total,
  }, { written: false, out: options.out }, ctx);
}

async function runStages(options: RetrainOptions, files: InputFiles, io: RetrainIO, ctx: StageContext, log: ReadLog, result: RetrainResult, realRunProblem?: string): Promise<void> {
  const started = ctx.clock();
  const gathered = await gatherInputs(options, files, log, ctx);
  result.jobs = gathered.jobs;
  const labelled = await joinAndLabel(gathered, options, log, ctx);
  result.historyRecords = log.historyRecords;
  result.examples = labelled.examples.index.length;
  const split = splitByTime(labelled, gathered.calibration, options);
  ctx.say(
    `split by start time: ${split.trainJobs} jobs to train on${split.calibrationCount > 0 ? ` (+${split.calibrationCount} calibration rows)` : ''}` +
      `${split.sampledJobs < split.trainJobs ? ` (the network on ${split.sampledJobs} of them, evenly spread; --max-train-rows)` : ''}, ` +
      `the newest ${split.holdoutCount} held out (started ${isoMinute(split.firstHeld)} to ${isoMinute(split.lastHeld)} UTC); family baselines from before the holdout only`,
  );
  result.readMs = ctx.clock() - started;
  result.holdout = split.holdoutCount;

  const trained = await trainStage(split, options, log.source, ctx, io.signal);
  result.trainMs = trained.trainMs;
  result.epochs = trained.report.epochs;
  result.stoppedBy = trained.stoppedBy;

  const installedPath = (await existsAsync(options.out)) ? options.out : options.configModel;
  const evaluation = await evaluate(trained, split, labelled, { installed: installedPath, embedded: options.embeddedModel ?? defaultModelPath() });
  result.newMae = evaluation.newMae;
  result.installedMae = evaluation.installedMae;
  sayEvaluation(evaluation, split.holdoutCount, ctx);

  const decision = decideWrite(evaluation.newMae, evaluation.installedMae, {
    force: options.force, dryRun: options.dryRun, installedPath, references: evaluation.references, ...(realRunProblem === undefined ? {} : { realRunProblem }),
  });
  result.exitCode = decision.exitCode;
  result.outcome = decision.reason;
  if (ctx.aborted()) throw new Interrupted();

  const { installed } = evaluation;
  const s = labelled.table.settings;
  const record = {
    jobs: result.jobs, examples: result.examples, excluded: labelled.excluded, calibrationRows: split.calibrationCount, trainJobs: split.trainJobs, sampledJobs: split.sampledJobs,
    holdoutFrom: isoMinute(split.firstHeld), holdoutTo: isoMinute(split.lastHeld), intervalSec: options.intervalSec, minRuns: s.minRuns, minRuntimeSec: s.minRuntimeSec,
    label: 'cpu-efficiency', stoppedBy: trained.stoppedBy, installed: installed.state === 'loaded' ? installed.model.id : installed.state,
  };
  const written = writeModelStage(trained.model, decision, record, evaluation, split.holdoutCount, options, ctx);
  result.written = written.written;
  result.modelId = written.id;

  log.reportTried = true;
  writeReportStage(options.report, {
    generated: (options.now?.() ?? new Date()).toISOString(),
    out: options.out,
    outcome: `${decision.reason[0]?.toUpperCase() ?? ''}${decision.reason.slice(1)}.`,
    newModelId: written.id,
    installed: installed.state === 'loaded' ? { path: installed.path, id: installed.model.id } : { path: installed.path },
    table: evaluation.table,
    holdout: evaluation.points,
    holdoutTotal: split.holdoutCount,
    worst: evaluation.worst,
    holdoutRange: { from: split.firstHeld, to: split.lastHeld },
    counts: { jobs: result.jobs, examples: result.examples, train: split.trainJobs, calibration: split.calibrationCount, holdout: split.holdoutCount },
    excluded: labelled.excluded,
    meanings: exclusionMeanings(s),
    label: labelSummary(labelled),
    families: log.families,
    inputs: log.inputs,
    problems: log.problems.first,
    problemCount: log.problems.total,
    training: trained.summary,
  }, { written: written.written, out: options.out }, ctx);
  result.reportPath = options.report;
}

// Why no job became an example, with what would tell a wrong host name from a wrong
// time range, and the options that set the rules that removed most jobs.
function noExamplesMessage(
  jobs: number,
  excluded: ExclusionCounts,
  settings: LabelSettings,
  jobHosts: ReadonlySet<string>,
  historyHosts: ReadonlySet<string>,
  range: { jobFrom: number; jobTo: number; tsFrom: number; tsTo: number },
  intervalSec: number,
): string {
  const meanings = exclusionMeanings(settings);
  const top = EXCLUSION_REASONS.filter((r) => excluded[r] > 0).sort((a, b) => excluded[b] - excluded[a]).slice(0, 2);
  const parts = [`no usable examples: of ${jobs} finished jobs, left out ${exclusionText(excluded)} (${top.map((r) => `${r}: ${meanings[r]}`).join('; ')})`];
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
        `the ${excluded.noHistory} noHistory job${excluded.noHistory === 1 ? '' : 's'} started ${isoMinute(range.jobFrom)} to ${isoMinute(range.jobTo)} UTC, the history covers ${isoMinute(range.tsFrom / 1000)} to ${isoMinute(range.tsTo / 1000)} UTC; ` +
          `a job needs a sample of its host at most ${2 * intervalSec} s (two --interval) before it started`,
      );
    }
  }
  return parts.join('; ');
}

// ---------------------------------------------------------------- main

// The daemons' history directory when history.dir is not set (chooseHistoryDir), with
// lsf.conf's walk and every question of the rule asked in libuv's pool.
async function defaultHistoryDirAsync(): Promise<string> {
  return (await historyLocation(null, (await lsfLogdirAsync(process.env)).env)).dir;
}

// Resolves the options the config supplies: output, report, interval, history directory.
export async function resolveOptions(args: RetrainArgs, config: Readonly<Config>, configPath: string | null): Promise<RetrainOptions> {
  const out = resolveOutput(args.out, config, defaultModelPath(), configPath);
  let history = args.history;
  if (history.length === 0) {
    history = [config.history.dir ?? (await defaultHistoryDirAsync())];
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
    minRuntimeSec: args.minRuntimeSec,
    maxTrainRows: args.maxTrainRows,
    holdoutFraction: args.holdoutFraction,
    seed: args.seed,
    epochs: args.epochs,
    timeLimitSec: args.timeLimitSec,
    force: args.force,
    dryRun: args.dryRun,
  };
}
