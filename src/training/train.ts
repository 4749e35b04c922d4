// Training a rank model: a brain.js network fitted to {values, mask, label} rows,
// judged on a holdout the training never saw against three baselines, and written
// atomically as a model file. Used by scripts/train-default.ts and by `lavarank
// retrain`. The only daemon-side module that may import brain.js is this one's
// callers' business: src/daemon/run.ts must never reach it (test/layout.test.ts).
import brain from 'brain.js';
import { writeFileAtomic } from '../util/atomic-file.js';
import type { Sample } from '../collectors/types.js';
import { ConfigError, errorMessage } from '../util/errors.js';
import { RANK_MAX, RANK_MIN, clampRank, formulaRanker } from '../model/rank.js';
import { FEATURES, FEATURE_NAMES, PSI_FEATURES, featureIndex, featureScaling, unscaleValue, withoutFeatures } from '../model/features.js';
import { ACTIVATIONS, type Activation } from '../model/network.js';
import { seededRandom, shuffled } from '../util/random.js';
import {
  MODEL_FORMAT,
  MODEL_VERSION,
  modelFromFile,
  serializeModel,
  type BrainNetworkJSON,
  type LoadedModel,
  type ModelFile,
  type OutputScaling,
} from '../model/model.js';

// One labelled example: the features of a host just before a job started there,
// and the job's slowdown in percent.
export interface TrainingRow {
  values: readonly number[];
  mask: readonly boolean[];
  label: number;
}

// Where training is, for a progress bar or log lines.
export interface TrainProgress {
  epoch: number;
  epochs: number;
  trainError: number; // brain.js's mean squared error on the scaled output
  validationMae: number; // rank points
  bestEpoch: number;
  bestValidationMae: number;
}

// Options of trainModel; every one has a default.
export interface TrainOptions {
  name?: string; // the model's name; default "model"
  source?: string[]; // the data the rows came from, recorded in the file
  seed?: number; // initial weights, shuffles and splits; default 1
  hiddenLayers?: readonly number[]; // default [12, 8]
  activation?: Activation; // default sigmoid
  epochs?: number; // passes over the training rows; default 2000
  chunk?: number; // epochs between validation checks (and progress calls); default 50
  learningRate?: number; // default 0.2
  momentum?: number; // default 0.3
  split?: 'random' | 'tail'; // holdout: a seeded random sample, or the last rows as given (by time); default random
  holdoutFraction?: number; // default 0.2
  holdout?: readonly TrainingRow[]; // rows to judge on, given apart: then every row of `rows` is trained on
  validationFraction?: number; // of the training part, for choosing the epoch; default 0.15
  augmentWithoutPsi?: boolean; // also train on copies without PSI; default true
  output?: OutputScaling; // default from the labels (see chooseOutput)
  onProgress?: (p: TrainProgress) => void;
  signal?: AbortSignal; // stops after the current chunk, keeping the best so far
  now?: () => Date;
}

// The holdout comparison and what training did.
export interface TrainReport {
  holdoutMae: number;
  holdoutMaeWithoutPsi: number; // the same rows as a host without PSI would send them

  baselines: { mean: number; loadOnly: number; formula: number };
  beatsBaselines: boolean;
  meanLabel: number;
  loadOnlyFit: { intercept: number; slope: number }; // rank = intercept + slope × load1 per CPU
  trainSamples: number;
  validationSamples: number;
  holdoutSamples: number;
  augmentedSamples: number;
  epochs: number;
  bestEpoch: number;
  validationMae: number;
  output: OutputScaling;
  elapsedMs: number;
}

// Runs fn with Math.random replaced by a seeded generator, and restores it: brain.js
// draws its initial weights from Math.random, and a rebuild must give the same model.
export function withSeededRandom<T>(seed: number, fn: () => T): T {
  const original = Math.random;
  Math.random = seededRandom(seed);
  try {
    return fn();
  } finally {
    Math.random = original;
  }
}

const clampLabel = (label: number): number => Math.min(RANK_MAX, Math.max(RANK_MIN, label));

// The mean absolute error, in rank points, of a predictor over rows (labels clamped to the rank's range).
export function meanAbsoluteError(predict: (values: readonly number[], mask: readonly boolean[]) => number, rows: readonly TrainingRow[]): number {
  if (rows.length === 0) return NaN;
  let sum = 0;
  for (const row of rows) sum += Math.abs(clampRank(predict(row.values, row.mask)) - clampLabel(row.label));
  return sum / rows.length;
}

const LOAD1 = featureIndex('load1_per_cpu');
const CPU_BUSY = featureIndex('cpu_busy');
const RUNNABLE = featureIndex('runnable_per_cpu');
const MEM_USED = featureIndex('mem_used');

function rawAt(values: readonly number[], mask: readonly boolean[], i: number): number | undefined {
  return mask[i] === true ? unscaleValue(FEATURES[i]!, values[i] ?? 0) : undefined;
}

// The least-squares line rank = a + b × (1-minute load per CPU): what OpenLava's
// default host ordering looks at, made as good as a straight line can be.
export function fitLoadOnly(rows: readonly TrainingRow[]): { intercept: number; slope: number } {
  let n = 0;
  let sx = 0;
  let sy = 0;
  let sxx = 0;
  let sxy = 0;
  for (const row of rows) {
    const x = rawAt(row.values, row.mask, LOAD1) ?? 0;
    const y = clampLabel(row.label);
    n++;
    sx += x;
    sy += y;
    sxx += x * x;
    sxy += x * y;
  }
  if (n === 0) return { intercept: 0, slope: 0 };
  const den = n * sxx - sx * sx;
  const slope = den > 1e-12 ? (n * sxy - sx * sy) / den : 0;
  return { intercept: (sy - slope * sx) / n, slope };
}

// The load-only line's prediction for a vector.
export function loadOnlyRank(fit: { intercept: number; slope: number }, values: readonly number[]): number {
  return fit.intercept + fit.slope * unscaleValue(FEATURES[LOAD1]!, values[LOAD1] ?? 0);
}

const FORMULA = formulaRanker();

// The hand-weighted formula of src/model/rank.ts (the daemon's fallback), fed the raw
// cpu busy, runnable per CPU and memory used that the vector holds. Values beyond a
// feature's cap come back as the cap (runnable per CPU above 4 counts as 4).
export function formulaRank(values: readonly number[], mask: readonly boolean[] = FEATURE_NAMES.map(() => true)): number {
  const busy = rawAt(values, mask, CPU_BUSY);
  const runnable = rawAt(values, mask, RUNNABLE);
  const mem = rawAt(values, mask, MEM_USED);
  const sample: Sample = { ts: 0, failures: {} };
  if (busy !== undefined) sample.cpu = { user: busy, system: 0, iowait: 0, steal: 0, busy, online: 1 };
  if (runnable !== undefined) sample.load = { load1: 0, load1PerCpu: 0, runnable, runnablePerCpu: runnable, online: 1 };
  if (mem !== undefined) sample.memory = { totalBytes: 1, availableBytes: 1 - mem, usedFraction: mem, swapTotalBytes: 0, swapUsedFraction: 0 };
  return FORMULA.rank(sample).rank;
}

// The output scaling for a set of labels: rank 0 sits a little above the sigmoid's
// floor (so an idle host is not pushed into saturation), and y = 1 sits 25 % above
// the 99th percentile label, rounded up to 50, between 200 and RANK_MAX.
export function chooseOutput(labels: readonly number[]): OutputScaling {
  const sorted = labels.map(clampLabel).sort((a, b) => a - b);
  const p99 = sorted.length === 0 ? 0 : sorted[Math.min(sorted.length - 1, Math.floor(0.99 * sorted.length))]!;
  const top = Math.min(RANK_MAX, Math.max(200, Math.ceil((1.25 * p99) / 50) * 50));
  return { rankAtZero: -top / 10, rankAtOne: top };
}

function checkRows(rows: readonly TrainingRow[]): void {
  rows.forEach((row, i) => {
    if (row.values.length !== FEATURE_NAMES.length || row.mask.length !== FEATURE_NAMES.length) {
      throw new ConfigError(`training row ${i}: ${row.values.length} values and ${row.mask.length} mask entries, expected ${FEATURE_NAMES.length}`);
    }
    if (!Number.isFinite(row.label)) throw new ConfigError(`training row ${i}: label is ${String(row.label)}, expected a finite number`);
    row.values.forEach((v, k) => {
      if (!(v >= 0 && v <= 1)) throw new ConfigError(`training row ${i}: ${FEATURE_NAMES[k]} is ${String(v)}, expected 0..1`);
    });
  });
}

function positiveInt(name: string, v: number, max: number): number {
  if (!Number.isInteger(v) || v < 1 || v > max) throw new ConfigError(`${name}: expected an integer from 1 to ${max}, received ${String(v)}`);
  return v;
}

function fraction(name: string, v: number, min: number, max: number): number {
  if (!(v >= min && v <= max)) throw new ConfigError(`${name}: expected a number from ${min} to ${max}, received ${String(v)}`);
  return v;
}

// Splits rows into training and holdout parts (the holdout is never trained on).
export function splitHoldout<T>(rows: readonly T[], how: 'random' | 'tail', share: number, seed: number): { train: T[]; holdout: T[] } {
  const count = Math.round(rows.length * share);
  if (how === 'tail') return { train: rows.slice(0, rows.length - count), holdout: rows.slice(rows.length - count) };
  const order = shuffled(rows.map((_, i) => i), seededRandom(seed ^ 0x5eed));
  const held = new Set(order.slice(0, count));
  return { train: rows.filter((_, i) => !held.has(i)), holdout: rows.filter((_, i) => held.has(i)) };
}

const yieldToLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

// Trains a model from labelled rows; returns the model file object and the holdout report.
export async function trainModel(rows: readonly TrainingRow[], options: TrainOptions = {}): Promise<{ model: ModelFile; report: TrainReport }> {
  const started = performance.now();
  checkRows(rows);
  const seed = options.seed ?? 1;
  const epochs = positiveInt('epochs', options.epochs ?? 2000, 1_000_000);
  const chunk = Math.min(epochs, positiveInt('chunk', options.chunk ?? 50, 1_000_000));
  const hiddenLayers = options.hiddenLayers ?? [12, 8];
  hiddenLayers.forEach((n, i) => positiveInt(`hiddenLayers[${i}]`, n, 512));
  const activation = options.activation ?? 'sigmoid';
  if (!ACTIVATIONS.includes(activation)) throw new ConfigError(`activation: expected one of ${ACTIVATIONS.join(', ')}, received ${String(activation)}`);
  const learningRate = fraction('learningRate', options.learningRate ?? 0.2, 1e-6, 0.999);
  const momentum = fraction('momentum', options.momentum ?? 0.3, 1e-6, 0.999);
  const holdoutFraction = fraction('holdoutFraction', options.holdoutFraction ?? 0.2, 0.01, 0.9);
  const validationFraction = fraction('validationFraction', options.validationFraction ?? 0.15, 0.01, 0.9);
  const split = options.split ?? 'random';
  if (split !== 'random' && split !== 'tail') throw new ConfigError(`split: expected random or tail, received ${String(split)}`);

  if (options.holdout !== undefined) checkRows(options.holdout);
  const { train, holdout } = options.holdout === undefined ? splitHoldout(rows, split, holdoutFraction, seed) : { train: [...rows], holdout: [...options.holdout] };
  const order = shuffled(train, seededRandom(seed ^ 0xfeed));
  const validationCount = Math.max(1, Math.round(order.length * validationFraction));
  const validation = order.slice(0, validationCount);
  const fit = order.slice(validationCount);
  if (fit.length < 10 || holdout.length < 5) {
    throw new ConfigError(`too few rows to train: ${rows.length} (${fit.length} to fit, ${validation.length} to validate, ${holdout.length} to hold out); need at least 10 to fit and 5 to hold out`);
  }

  const augmented: TrainingRow[] = [];
  if (options.augmentWithoutPsi !== false) {
    const psi = PSI_FEATURES.map(featureIndex);
    for (const row of fit) {
      if (!psi.some((i) => row.mask[i] === true)) continue;
      const f = withoutFeatures(row.values, row.mask, PSI_FEATURES);
      augmented.push({ values: f.values, mask: f.mask, label: row.label });
    }
  }
  const output = options.output ?? chooseOutput(fit.map((r) => r.label));
  const span = output.rankAtOne - output.rankAtZero;
  const toTarget = (label: number): number => Math.min(1, Math.max(0, (clampLabel(label) - output.rankAtZero) / span));
  // Plain arrays: brain.js takes any other input (a Float32Array too) for a hash of named inputs.
  let data: unknown = shuffled([...fit, ...augmented], seededRandom(seed ^ 0xbeef)).map((r) => ({
    input: [...r.values],
    output: [toTarget(r.label)],
  }));

  const net = new brain.NeuralNetwork({ hiddenLayers: [...hiddenLayers], activation });
  // brain.js 1.6.1's train() copies the whole data set into Float32Arrays (formatData) on
  // every call, so one call per chunk made a full copy per chunk: with 100 000 rows and a
  // chunk of one epoch that garbage took the RSS past 900 MB. After the first call (which
  // sets the conversion up and draws the weights) the data is converted once, by brain.js
  // itself, and later calls are told it is already in that form. The numbers are the same.
  const formatOnce = net as unknown as { formatData(d: unknown): unknown };
  const trainOpts = { errorThresh: 1e-9, learningRate, momentum, log: false };
  const predictWith = (values: readonly number[]): number => output.rankAtZero + (net.run(values as number[])[0] ?? NaN) * span;

  let best: BrainNetworkJSON | undefined;
  let bestEpoch = 0;
  let bestMae = Infinity;
  let done = 0;
  let trainError = NaN;
  while (done < epochs) {
    const n = Math.min(chunk, epochs - done);
    // The first call initialises the weights from Math.random; seed it.
    const run = () => net.train(data as Parameters<typeof net.train>[0], { ...trainOpts, iterations: n });
    const status = done === 0 ? withSeededRandom(seed, run) : run();
    if (done === 0) {
      data = formatOnce.formatData(data);
      formatOnce.formatData = (d) => d;
    }
    done += n;
    trainError = status.error;
    const mae = meanAbsoluteError(predictWith, validation);
    if (mae < bestMae) {
      bestMae = mae;
      bestEpoch = done;
      best = net.toJSON() as unknown as BrainNetworkJSON;
    }
    options.onProgress?.({ epoch: done, epochs, trainError, validationMae: mae, bestEpoch, bestValidationMae: bestMae });
    if (options.signal?.aborted === true || !Number.isFinite(trainError)) break;
    await yieldToLoop();
  }
  if (best === undefined) throw new ConfigError(`training diverged (training error ${String(trainError)}); try a lower learningRate`);

  // The fitted baselines get every non-holdout row, validation part included.
  const meanLabel = train.reduce((s, r) => s + clampLabel(r.label), 0) / train.length;
  const loadFit = fitLoadOnly(train);
  const baselines = {
    mean: meanAbsoluteError(() => meanLabel, holdout),
    loadOnly: meanAbsoluteError((v) => loadOnlyRank(loadFit, v), holdout),
    formula: meanAbsoluteError(formulaRank, holdout),
  };
  const date = (options.now?.() ?? new Date()).toISOString();
  const draft: ModelFile = {
    format: MODEL_FORMAT,
    version: MODEL_VERSION,
    name: options.name ?? 'model',
    features: [...FEATURE_NAMES],
    scaling: featureScaling(),
    output,
    network: { ...best, leakyReluAlpha: 0.01 },
    training: {
      date,
      source: options.source ?? [],
      samples: train.length + holdout.length,
      trainSamples: train.length,
      holdoutSamples: holdout.length,
      holdoutMae: 0,
      baselines,
      seed,
      hiddenLayers: [...hiddenLayers],
      activation,
      epochs: done,
      bestEpoch,
      validationMae: bestMae,
      augmentedWithoutPsi: augmented.length,
      learningRate,
      momentum,
      split,
    },
  };
  // Judged exactly as the daemon will run it: through the file's text and our own forward pass.
  let loaded: LoadedModel;
  try {
    loaded = modelFromFile(draft, 'the trained model');
  } catch (err) {
    throw new ConfigError(`training produced an unusable model: ${errorMessage(err)}`, { cause: err });
  }
  const holdoutMae = meanAbsoluteError((v) => loaded.predict(v), holdout);
  const noPsi = holdout.map((r) => ({ ...withoutFeatures(r.values, r.mask, PSI_FEATURES), label: r.label }));
  const holdoutMaeWithoutPsi = meanAbsoluteError((v) => loaded.predict(v), noPsi);
  draft.training.holdoutMae = holdoutMae;
  draft.training['holdoutMaeWithoutPsi'] = holdoutMaeWithoutPsi;
  const report: TrainReport = {
    holdoutMae,
    holdoutMaeWithoutPsi,
    baselines,
    beatsBaselines: holdoutMae < Math.min(baselines.mean, baselines.loadOnly, baselines.formula),
    meanLabel,
    loadOnlyFit: loadFit,
    trainSamples: fit.length,
    validationSamples: validation.length,
    holdoutSamples: holdout.length,
    augmentedSamples: augmented.length,
    epochs: done,
    bestEpoch,
    validationMae: bestMae,
    output,
    elapsedMs: performance.now() - started,
  };
  return { model: draft, report };
}

// A side-by-side table of holdout errors, in the order given, for a terminal or markdown.
export function maeTable(entries: ReadonlyArray<{ name: string; mae: number; note?: string }>): string {
  const width = Math.max(9, ...entries.map((e) => e.name.length));
  const lines = [`| ${'predictor'.padEnd(width)} | holdout MAE | notes |`, `|${'-'.repeat(width + 2)}|------------:|-------|`];
  for (const e of entries) lines.push(`| ${e.name.padEnd(width)} | ${e.mae.toFixed(1).padStart(11)} | ${e.note ?? ''} |`);
  return lines.join('\n');
}

// Writes a model file atomically (writeFileAtomic): a daemon checking the file sees
// the old or the new model, never half of one.
export function writeModelFile(path: string, model: ModelFile): void {
  const text = serializeModel(model);
  modelFromFile(model, path); // never write what the daemon would refuse
  writeFileAtomic(path, text);
}
