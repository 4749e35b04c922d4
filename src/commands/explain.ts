// `lavarank explain`: samples the host over a short window and shows, on one
// 80×24 screen, every feature (raw and scaled, or what stood in for it), the rank,
// and how much each feature adds to it: the rank minus the rank with that feature
// at its idle value. It answers "why is this host's rank high?". --json for scripts.
import { existsSync } from 'node:fs';
import { hostname } from 'node:os';
import { parseArgs } from 'node:util';
import { print, printError } from '../util/cliio.js';
import { numberOption } from '../util/options.js';
import type { CollectorName } from '../collectors/types.js';
import { findConfig, loadConfig } from '../config.js';
import { ModelError, errorMessage } from '../util/errors.js';
import { cliLogger } from '../daemon/log.js';
import { FEATURES, IDLE_VALUE, toFeatures, type FeatureUnit, type Features } from '../model/features.js';
import { loadModel, type LoadedModel } from '../model/model.js';
import { modelPathFor } from '../model/rankers.js';
import { failedRequired, sampleOverWindow } from './oneshot.js';

// One feature's part in the rank.
export interface FeatureExplanation {
  name: string;
  unit: FeatureUnit;
  raw: number | null; // null: unavailable this tick
  scaled: number; // what the network saw (an estimate or the idle value when raw is null)
  estimated: boolean; // unavailable, and an estimate from other features stood in
  contribution: number; // rank minus the rank with this feature at its idle value
}

// Why a host has its rank.
export interface Explanation {
  host: string;
  ts: number; // epoch ms of the sample
  model: string; // the model's id
  rank: number;
  idleRank: number; // the rank with every feature at its idle value
  features: FeatureExplanation[]; // largest contribution (in absolute value) first
  failures: Partial<Record<CollectorName, string>>;
}

// Explains a feature vector with a model. Pure: the same input gives the same output.
export function explainFeatures(model: LoadedModel, f: Features): Pick<Explanation, 'model' | 'rank' | 'idleRank' | 'features'> {
  const values = [...f.values];
  const rank = model.predict(values);
  const features = FEATURES.map((spec, i): FeatureExplanation => {
    const own = values[i]!;
    values[i] = IDLE_VALUE;
    const without = model.predict(values);
    values[i] = own;
    const raw = f.named[spec.name] ?? null;
    return { name: spec.name, unit: spec.unit, raw, scaled: own, estimated: raw === null && own !== IDLE_VALUE, contribution: rank - without };
  });
  features.sort((a, b) => Math.abs(b.contribution) - Math.abs(a.contribution) || a.name.localeCompare(b.name));
  return { model: model.id, rank, idleRank: model.predict(f.values.map(() => IDLE_VALUE)), features };
}

function formatRaw(value: number | null, unit: FeatureUnit): string {
  if (value === null) return 'unavailable';
  if (unit === 'fraction') return `${(100 * value).toFixed(1)} %`;
  if (unit === 'per-cpu') return `${value.toFixed(2)} per CPU`;
  if (value >= 10_000) return `${(value / 1000).toFixed(0)}k/s`;
  return `${value >= 100 ? value.toFixed(0) : value.toFixed(1)}/s`;
}

const BAR = 20;

// The screen: a title, the rank, one line per feature, a footer; at most 80 columns and 24 lines.
export function formatExplanation(e: Explanation): string {
  const when = new Date(e.ts).toISOString().replace('T', ' ').replace(/\.\d+Z$/, ' UTC');
  const lines = [
    `${e.host.slice(0, 30)}  ${when}  model ${e.model}`.slice(0, 80),
    `rank ${e.rank.toFixed(0)}: a job started now should take ${(1 + e.rank / 100).toFixed(2)} times as long as on an idle host`.slice(0, 80),
    `feature          value            scaled  adds  (every feature idle: rank ${e.idleRank.toFixed(0)})`,
  ];
  const largest = Math.max(1, ...e.features.map((f) => Math.abs(f.contribution)));
  for (const f of e.features) {
    const value = f.raw === null ? (f.estimated ? 'n/a, estimated' : 'n/a, idle') : formatRaw(f.raw, f.unit);
    const adds = Math.round(f.contribution);
    const sign = adds > 0 ? '+' : adds < 0 ? '-' : ' ';
    const bar = (adds < 0 ? '-' : '#').repeat(Math.round((Math.abs(f.contribution) / largest) * BAR));
    lines.push(`${f.name.padEnd(16)} ${value.padEnd(16)} ${f.scaled.toFixed(3).padStart(6)} ${`${sign}${Math.abs(adds)}`.padStart(5)}  ${bar}`.trimEnd());
  }
  const broken = Object.keys(e.failures);
  lines.push(
    broken.length > 0
      ? `collectors failed: ${broken.join(', ')} (see --json); the elim may report its pessimistic rank`.slice(0, 80)
      : 'adds = rank - rank with that feature idle; they need not sum to the rank',
  );
  return lines.join('\n');
}

const USAGE = `Usage: lavarank explain [--json] [--window SECONDS] [--config FILE]

Samples this host over a short window (default 1 s) and shows every feature the
model sees, the rank, and what each feature adds to it (the rank minus the rank
with that feature at its idle value), largest first. --json prints the same for
scripts. The model is the config's, else the embedded default.`;

// Prints the explanation; resolves to 0, or 1 if a required collector failed.
export async function main(argv: string[]): Promise<number> {
  const { values: args } = parseArgs({
    args: argv,
    options: { config: { type: 'string' }, json: { type: 'boolean' }, window: { type: 'string' }, help: { type: 'boolean' } },
    strict: true,
  });
  if (args.help === true) {
    print(USAGE);
    return 0;
  }
  let windowSeconds: number;
  try {
    windowSeconds = numberOption('window', args.window, 1, { min: 0.1, max: 600, kind: 'seconds' });
  } catch (err) {
    printError(`lavarank explain: ${errorMessage(err)}`);
    return 2;
  }
  const config = loadConfig(findConfig(args.config, process.env, existsSync));
  const path = modelPathFor(config);
  let model: LoadedModel;
  try {
    model = loadModel(path);
  } catch (err) {
    const note = config.model === null ? ' (the daemon would rank with the built-in formula, which explain cannot break down)' : '';
    throw new ModelError(`${errorMessage(err)}${note}`, { cause: err });
  }
  const sample = await sampleOverWindow(config, windowSeconds, cliLogger());
  const e: Explanation = { host: hostname(), ts: sample.ts, ...explainFeatures(model, toFeatures(sample)), failures: sample.failures };
  print(args.json === true ? JSON.stringify({ ...e, ts: new Date(e.ts).toISOString(), modelPath: path }, null, 2) : formatExplanation(e));
  return failedRequired(sample).length > 0 ? 1 : 0;
}
