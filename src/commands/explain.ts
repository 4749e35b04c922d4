// `lavarank explain`: samples the host over a short window and shows, on one
// 80×24 screen, the rank, the backbone and the network's correction that make it,
// the slowdowns of a CPU-, a memory- and an io-bound job, the inputs outside the
// range the model was trained on, and the features (raw and scaled, or what stood
// in for them) with how much each adds to the rank: the rank minus the rank with
// that feature at its idle value. It answers "why is this host's rank high?".
// --json for scripts.
import { hostname } from 'node:os';
import { print } from '../util/cliio.js';
import type { CollectorName, Sample } from '../collectors/types.js';
import { ModelError, errorMessage } from '../util/errors.js';
import { cliLogger } from '../daemon/log.js';
import { FEATURES, IDLE_VALUE, jobView, toFeatures, type FeatureUnit, type Features } from '../model/features.js';
import { NET_WEIGHT } from '../model/backbone.js';
import { loadModelAsync, type LoadedModel } from '../model/model.js';
import type { TypedRanks } from '../model/rank.js';
import { modelPathFor } from '../model/rankers.js';
import { failedRequired, oneShotArgs, sampleOverWindow } from './oneshot.js';

// One feature's part in the rank.
export interface FeatureExplanation {
  name: string;
  unit: FeatureUnit;
  raw: number | null; // null: unavailable this tick
  scaled: number; // what the network saw (an estimate or the idle value when raw is null)
  estimated: boolean; // unavailable, and an estimate from other features stood in
  contribution: number; // rank minus the rank with this feature at its idle value
}

// An input outside the range the model saw in training.
export interface OutsideInput {
  name: string;
  raw: number | null;
  min: number | null; // the raw range in training; null: never present there
  max: number | null;
}

// Why a host has its rank.
export interface Explanation {
  host: string;
  ts: number; // epoch ms of the sample
  model: string; // the model's id
  rank: number;
  backbone: number; // the physical backbone's rank (src/model/backbone.ts)
  correction: number; // what the network added to it
  tie: number; // what the load tie-break added (at most TIE_WEIGHT, src/model/rank.ts)
  typed: TypedRanks; // CPU-bound, memory-bound, io-bound jobs
  link: number; // what the busiest network link adds to the backbone's rank (an assumed weight)
  cores: number | null; // the cores the online CPUs make, where fewer than the CPUs (SMT); else null
  outside: OutsideInput[]; // where the correction is never below 0
  idleRank: number; // the rank with every feature at its idle value
  features: FeatureExplanation[]; // largest contribution (in absolute value) first
  failures: Partial<Record<CollectorName, string>>;
  // The CPUs a job may use, where fewer than the online ones: the rank counts them as the host's.
  jobCpus?: { cpus: number; online: number };
}

// The CPUs a job may use and the online ones, where the rank counts only the former
// (jobView); undefined where a job may use them all.
export function jobCpusShown(sample: Sample): { cpus: number; online: number } | undefined {
  const job = jobView(sample);
  return job === undefined || sample.cpu === undefined ? undefined : { cpus: job.cpus, online: sample.cpu.online };
}

// Explains a feature vector with a model. Pure: the same input gives the same output.
export function explainFeatures(model: LoadedModel, f: Pick<Features, 'values' | 'named'>): Omit<Explanation, 'host' | 'ts' | 'failures'> {
  const values = [...f.values];
  const named: Record<string, number | null> = { ...f.named };
  const e = model.evaluate({ values, named });
  const features = FEATURES.map((spec, i): FeatureExplanation => {
    const own = values[i]!;
    const raw = f.named[spec.name] ?? null;
    values[i] = IDLE_VALUE;
    // Idle, not unavailable: the backbone estimates an unavailable input from others
    // (load from runnable tasks, memory stall from major faults), which would turn
    // "what this feature adds" into "what it adds over its estimate", of either sign.
    // The CPU count has no idle value; without it the backbone assumes a large host.
    named[spec.name] = spec.name === 'cpus' ? null : 0;
    const without = model.predict({ values, named });
    values[i] = own;
    named[spec.name] = raw;
    return { name: spec.name, unit: spec.unit, raw, scaled: own, estimated: raw === null && own !== IDLE_VALUE, contribution: e.rank - without };
  });
  features.sort((a, b) => Math.abs(b.contribution) - Math.abs(a.contribution) || a.name.localeCompare(b.name));
  const ranges = new Map(model.file.ranges.map((r) => [r.feature, r]));
  const outside = e.outside.map((name): OutsideInput => ({ name, raw: f.named[name] ?? null, min: ranges.get(name)?.min ?? null, max: ranges.get(name)?.max ?? null }));
  const idle = model.predict({ values: f.values.map(() => IDLE_VALUE), named: {} });
  const link = NET_WEIGHT * e.backbone.net;
  return { model: model.id, rank: e.rank, backbone: e.backbone.rank, correction: e.correction, tie: e.tie, typed: e.typed, link, cores: e.backbone.parts.cores, outside, idleRank: idle, features };
}

function formatRaw(value: number | null, unit: FeatureUnit): string {
  if (value === null) return 'unavailable';
  if (unit === 'fraction') return `${(100 * value).toFixed(1)} %`;
  if (unit === 'per-cpu') return `${value.toFixed(2)} per CPU`;
  if (unit === 'count') return Number.isInteger(value) ? String(value) : value.toFixed(1);
  if (value >= 10_000) return `${(value / 1000).toFixed(0)}k/s`;
  return `${value >= 100 ? value.toFixed(0) : value.toFixed(1)}/s`;
}

const BAR = 20;
const SCREEN_LINES = 24;

function signed(x: number): string {
  const r = Math.round(x);
  return `${r > 0 ? '+' : r < 0 ? '-' : ''}${Math.abs(r)}`;
}

// As many feature lines as fit in `lines`, and the rest summed up by name, wrapped
// between whole names: a name cut at the screen's edge would name no feature.
function fitFeatures(features: readonly FeatureExplanation[], lines: number): { shown: readonly FeatureExplanation[]; summary: string[] } {
  if (features.length <= lines) return { shown: features, summary: [] };
  for (let n = lines - 1; ; n--) {
    const rest = features.slice(n);
    const summary = [`${rest.length} more, adding ${signed(rest.reduce((s, f) => s + f.contribution, 0))} together:`];
    for (const [i, f] of rest.entries()) {
      const name = i < rest.length - 1 ? `${f.name},` : f.name;
      if (summary.at(-1)!.length + 1 + name.length <= 80) summary[summary.length - 1] += ` ${name}`;
      else summary.push(`  ${name}`);
    }
    if (n + summary.length <= lines || n === 0) return { shown: features.slice(0, n), summary };
  }
}

// The ranks by job type and, beside them, the host's facts that explain them, each part
// whole: on a big SMT host whose jobs may use some CPUs and whose link is busy they pass
// 80 columns, and the line cut there ended in "busiest l". Parts that do not fit go on
// a line of their own, indented, as the features' summary wraps.
function jobTypeLines(e: Explanation): string[] {
  const parts = [`by job type: CPU-bound ${e.typed.rank_cpu.toFixed(0)}, memory-bound ${e.typed.rank_mem.toFixed(0)}, io-bound ${e.typed.rank_io.toFixed(0)}`];
  if (e.jobCpus !== undefined) parts.push(`jobs get ${e.jobCpus.cpus} of ${e.jobCpus.online} CPUs`);
  if (e.cores !== null) parts.push(`SMT, ${e.cores} cores`);
  if (e.link >= 0.5) parts.push(`busiest link +${e.link.toFixed(0)}`);
  const lines = [parts[0]!];
  for (const part of parts.slice(1)) {
    if (lines.at(-1)!.length + 2 + part.length <= 80) lines[lines.length - 1] += `; ${part}`;
    else lines.push(`  ${part}`);
  }
  return lines;
}

// The screen: a title, the rank and how it is made up, one line per feature that
// matters, a footer; at most 80 columns and 24 lines (--json has everything).
export function formatExplanation(e: Explanation): string {
  const when = new Date(e.ts).toISOString().replace('T', ' ').replace(/\.\d+Z$/, ' UTC');
  const sum = `= backbone ${e.backbone.toFixed(0)} ${e.correction < -0.5 ? '-' : '+'} network ${Math.abs(Math.round(e.correction))}; `;
  const withValues = e.outside.map((o) => `${o.name} ${o.raw === null ? 'n/a' : formatRaw(o.raw, FEATURES.find((f) => f.name === o.name)?.unit ?? 'count')}`);
  const names = e.outside.map((o) => o.name);
  // Whole names only: one cut at 80 columns ("gpu_mem") names no input. With their
  // values if they fit, else the names (their values are on the feature lines).
  const listed = (n: number): string => `outside the calibration: ${names.slice(0, n).join(', ')}${n < names.length ? ` and ${names.length - n} more` : ''}`;
  const choices =
    names.length === 0
      ? ['every input within the calibration']
      : [`outside the calibration: ${withValues.join(', ')}`, ...names.map((_, i) => listed(names.length - i)), `${names.length} inputs outside the calibration (--json)`];
  const outside = choices.find((text) => (sum + text).length <= 80) ?? choices.at(-1)!;
  const unranked = failedRequired(e);
  const head = [
    `${e.host.slice(0, 30)}  ${when}  model ${e.model}`.slice(0, 80),
    // Without a required collector the sample ranks as idle, which the elim never reports.
    unranked.length > 0
      ? `no rank: ${unranked.join(', ')} failed; the elim would report its pessimistic rank`
      : `rank ${e.rank.toFixed(0)}: a job started now should take ${(1 + e.rank / 100).toFixed(2)} times as long as on an idle host`.slice(0, 80),
    `${sum}${outside}`.slice(0, 80),
    ...jobTypeLines(e),
    `feature            value            scaled  adds  (every feature idle: rank ${e.idleRank.toFixed(0)})`,
  ];
  const broken = Object.keys(e.failures);
  const foot =
    broken.length > 0
      ? `collectors failed: ${broken.join(', ')} (see --json)`
      : 'adds = rank - rank with that feature idle; they need not sum to the rank';
  const { shown, summary } = fitFeatures(e.features, SCREEN_LINES - head.length - 1);
  const largest = Math.max(1, ...e.features.map((f) => Math.abs(f.contribution)));
  const lines = [...head];
  for (const f of shown) {
    const value = f.raw === null ? (f.estimated ? 'n/a, estimated' : 'n/a, idle') : formatRaw(f.raw, f.unit);
    const adds = Math.round(f.contribution);
    const bar = (adds < 0 ? '-' : '#').repeat(Math.round((Math.abs(f.contribution) / largest) * BAR));
    lines.push(`${f.name.padEnd(18)} ${value.padEnd(16)} ${f.scaled.toFixed(3).padStart(6)} ${signed(f.contribution).padStart(5)}  ${bar}`.trimEnd());
  }
  lines.push(...summary, foot);
  return lines.join('\n');
}

const USAGE = `Usage: lavarank explain [--json] [--window SECONDS] [--config FILE]

Samples this host over a short window (default 1 s, or until the first GPU query
has ended, at most gpu.timeout + 3 s) and shows the rank, the
physical backbone and the network's correction that make it up, the ranks of a
CPU-bound, a memory-bound and an io-bound job, the inputs outside the range the
model was trained on, and what each feature adds to the rank (the rank minus the
rank with that feature at its idle value), largest first. --json prints all of
it for scripts. The model is the config's, else the embedded default.`;

// Prints the explanation; resolves to 0, or 1 if a required collector failed.
export async function main(argv: string[]): Promise<number> {
  const parsed = await oneShotArgs('explain', USAGE, argv);
  if (typeof parsed === 'number') return parsed;
  const { config, windowSeconds } = parsed;
  const path = modelPathFor(config);
  let model: LoadedModel;
  try {
    model = await loadModelAsync(path); // its walk in the pool, as the config's
  } catch (err) {
    const note = config.model === null ? ' (the daemon would rank with the built-in formula, which explain cannot break down)' : '';
    throw new ModelError(`${errorMessage(err)}${note}`, { cause: err });
  }
  const sample = await sampleOverWindow(config, windowSeconds, cliLogger());
  const jobCpus = jobCpusShown(sample);
  const e: Explanation = { host: hostname(), ts: sample.ts, ...explainFeatures(model, toFeatures(sample)), failures: sample.failures, ...(jobCpus === undefined ? {} : { jobCpus }) };
  print(parsed.json ? JSON.stringify({ ...e, ts: new Date(e.ts).toISOString(), modelPath: path }, null, 2) : formatExplanation(e));
  return failedRequired(sample).length > 0 ? 1 : 0;
}
