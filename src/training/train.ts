// Training a rank model from {values, mask, named, label} rows, in stages:
// fitBackbone (the physical backbone's weights, src/training/backbone-fit.ts) →
// the correction (fitModel: a brain.js network, with every weight kept at or above zero so
// that more contention never lowers the rank, learns what the backbone misses,
// within the ranges of the inputs it saw) → judge (a holdout the training never saw,
// against the backbone alone, a ridge regression, the load-only line, the mean and
// the formula) → gate (gateDecision) → writeModelFile. Used by
// scripts/train-default.ts, scripts/eval-model.ts and `lavarank retrain`. Only
// training code imports brain.js: src/daemon/run.ts must never reach it
// (test/layout.test.ts).
import brain from 'brain.js';
import { writeFileAtomic } from '../util/atomic-file.js';
import type { Sample } from '../collectors/types.js';
import { ConfigError, errorMessage } from '../util/errors.js';
import { RANK_MAX, RANK_MIN, clampRank, formulaRanker, withLoadTieBreak } from '../model/rank.js';
import { FEATURE_NAMES, PSI_FEATURES, featureIndex, featureScaling, withoutFeatures } from '../model/features.js';
import { BACKBONE_VERSION, backbone, type BackboneParams } from '../model/backbone.js';
import { ACTIVATIONS, type Activation } from '../model/network.js';
import { seededRandom, shuffled } from '../util/random.js';
import {
  MODEL_FORMAT,
  MODEL_VERSION,
  modelFromFile,
  serializeModel,
  type BrainNetworkJSON,
  type FeatureRange,
  type LoadedModel,
  type ModelFile,
  type OutputScaling,
} from '../model/model.js';
import { backboneFitSteps, type BackboneFit } from './backbone-fit.js';
import { gateDecision, type GateResult } from './evaluate.js';
import { linearPredict, RidgeFit, type LinearModel } from './linear.js';

// One labelled example: the features of a host just before a job started there
// (scaled values, mask, raw named values), the job's slowdown in percent, and the
// group it belongs to for grouped validation (a calibration configuration).
export interface TrainingRow {
  values: readonly number[];
  mask: readonly boolean[];
  named: Readonly<Record<string, number | null>>;
  label: number;
  group?: string;
  rawLoad1PerCpu?: number; // /proc/loadavg's 1-minute load per CPU as read: LIM's r15s on Linux (calibration rows)
}

// Where training is, for a progress bar or log lines.
export interface TrainProgress {
  epoch: number;
  epochs: number;
  trainError: number; // brain.js's mean squared error on the scaled output
  validationMae: number; // rank points, of backbone + correction
  bestEpoch: number;
  bestValidationMae: number;
}

// Options of trainModel and fitModel; every one has a default.
export interface TrainOptions {
  name?: string; // the model's name; default "model"
  source?: string[]; // the data the rows came from, recorded in the file
  seed?: number; // initial weights, shuffles and splits; default 1
  hiddenLayers?: readonly number[]; // default [12, 8] (retrain's); the shipped default model's are DEFAULT_SETTINGS' [8]
  activation?: Activation; // sigmoid (the default) keeps the correction monotone with non-negative weights
  epochs?: number; // passes over the training rows; default 1000
  chunk?: number; // epochs between validation checks (and progress calls); default 50
  learningRate?: number; // default 0.2 (retrain's); the shipped default model's is DEFAULT_SETTINGS' 0.1
  momentum?: number; // default 0.3
  split?: 'random' | 'tail'; // holdout: a seeded random sample, or the last rows as given (by time); default random
  holdoutFraction?: number; // default 0.2
  holdout?: readonly TrainingRow[]; // rows to judge on, given apart: then every row of `rows` is trained on
  validationFraction?: number; // of the training part, for choosing the epoch; default 0.15
  augmentWithoutPsi?: boolean; // also train on copies without PSI; default true
  correction?: boolean; // train the network at all (false: the backbone alone); default true
  onProgress?: (p: TrainProgress) => void;
  signal?: AbortSignal; // stops within a step (STEP_MS of work), keeping the best so far
  deadline?: number; // ms on clock: stops there within a step, keeping the best so far
  clock?: () => number; // ms, for the deadline and the size of a step; default performance.now
  now?: () => Date;
}

// What ended the training: every epoch done, the deadline, or the signal.
export type TrainStop = 'epochs' | 'deadline' | 'signal';

// The holdout comparison and what training did: the fit's own figures as fitModel gave them.
export interface TrainReport extends Pick<FitReport, 'validationSamples' | 'augmentedSamples' | 'epochs' | 'bestEpoch' | 'validationMae' | 'output' | 'stopped' | 'backboneGridPoints'> {
  holdoutMae: number;
  holdoutMaeWithoutPsi: number; // the same rows as a host without PSI would send them
  baselines: { mean: number; loadOnly: number; formula: number; backbone: number; ridge: number };
  gate: GateResult; // gateDecision: beats the backbone alone and the ridge regression
  beatsBaselines: boolean; // gate.pass
  meanLabel: number;
  loadOnlyFit: { intercept: number; slope: number }; // rank = intercept + slope × load1 per CPU
  backbone: BackboneParams;
  trainSamples: number; // the fit's fitSamples
  holdoutSamples: number;
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

// The mean absolute error, in rank points, of a predictor over rows (predictions
// and labels clamped to the rank's range).
export function meanAbsoluteError(predict: (row: TrainingRow) => number, rows: readonly TrainingRow[]): number {
  if (rows.length === 0) return NaN;
  let sum = 0;
  for (const row of rows) sum += Math.abs(clampRank(predict(row)) - clampLabel(row.label));
  return sum / rows.length;
}

const rawOf = (row: TrainingRow, name: string): number | undefined => {
  const v = row.named[name];
  return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
};

// The least-squares line rank = a + b × (1-minute load per CPU): what OpenLava's
// default host ordering looks at, made as good as a straight line can be.
export function fitLoadOnly(rows: readonly TrainingRow[]): { intercept: number; slope: number } {
  let n = 0;
  let sx = 0;
  let sy = 0;
  let sxx = 0;
  let sxy = 0;
  for (const row of rows) {
    const x = rawOf(row, 'load1_per_cpu') ?? 0;
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

// The rank of a model of this backbone alone (no correction network), as the daemon
// computes it: clamped, with the load tie-break every model's rank carries, so that a
// network is judged against the backbone it would ship instead of, like with like.
export function backboneRank(named: Readonly<Record<string, number | null>>, params: BackboneParams): number {
  return withLoadTieBreak(clampRank(backbone(named, params).rank), named['cpu_busy']);
}

// The load-only line's prediction for a row.
export function loadOnlyRank(fit: { intercept: number; slope: number }, row: TrainingRow): number {
  return fit.intercept + fit.slope * (rawOf(row, 'load1_per_cpu') ?? 0);
}

const FORMULA = formulaRanker();

// The hand-weighted formula of src/model/rank.ts (the daemon's fallback), fed the raw
// CPU busy, runnable per CPU and memory used of the row.
export function formulaRank(row: Pick<TrainingRow, 'named'>): number {
  const busy = row.named['cpu_busy'] ?? undefined;
  const runnable = row.named['runnable_per_cpu'] ?? undefined;
  const mem = row.named['mem_used'] ?? undefined;
  const sample: Sample = { ts: 0, failures: {} };
  if (busy !== undefined) sample.cpu = { user: busy, system: 0, iowait: 0, steal: 0, busy, online: 1 };
  if (runnable !== undefined) sample.load = { load1: 0, load1PerCpu: 0, runnable, runnablePerCpu: runnable, online: 1 };
  if (mem !== undefined) sample.memory = { totalBytes: 1, availableBytes: 1 - mem, usedFraction: mem, swapTotalBytes: 0, swapUsedFraction: 0 };
  return FORMULA.rank(sample).rank;
}

// The output scaling of the correction network for a set of corrections (label minus
// backbone): the sigmoid's 0..1 spans the 1st to 99th percentile with a quarter of
// margin each side, and at least -50..+50, so that no correction sits in a flat tail.
export function chooseOutput(corrections: ArrayLike<number>): OutputScaling {
  const sorted = Float64Array.from(corrections).sort();
  const at = (q: number): number => (sorted.length === 0 ? 0 : sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!);
  const lo = at(0.01);
  const hi = at(0.99);
  const margin = 0.25 * Math.max(hi - lo, 1);
  const round = (x: number): number => Math.round(x / 5) * 5;
  return { rankAtZero: round(Math.min(-50, lo - margin)), rankAtOne: round(Math.max(50, hi + margin)) };
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

// The part of the training rows that chooses the epoch. Where rows have groups
// (calibration configurations), whole groups: the epoch is then chosen for states
// the network has not seen, as it will be judged, not for twins of its training rows.
// Rows without a group (a cluster's jobs, beside calibration runs) give their own
// share at random, so that the epoch is also chosen for the jobs the model serves.
export function splitValidation(rows: readonly TrainingRow[], share: number, seed: number): { fitRows: TrainingRow[]; validation: TrainingRow[] } {
  const rand = seededRandom(seed ^ 0xfeed);
  const groups = [...new Set(rows.map((r) => r.group).filter((g) => g !== undefined))].sort();
  if (groups.length >= 4) {
    const grouped = rows.filter((r) => r.group !== undefined);
    const wantGrouped = Math.max(1, Math.round(grouped.length * share));
    const held = new Set<string>();
    let count = 0;
    for (const g of shuffled(groups, rand)) {
      if (count >= wantGrouped || held.size >= groups.length - 2) break;
      held.add(g);
      count += grouped.filter((r) => r.group === g).length;
    }
    const jobs = shuffled(
      rows.filter((r) => r.group === undefined),
      rand,
    );
    const jobsHeld = Math.round(jobs.length * share);
    return {
      fitRows: [...jobs.slice(jobsHeld), ...grouped.filter((r) => !held.has(r.group!))],
      validation: [...jobs.slice(0, jobsHeld), ...grouped.filter((r) => held.has(r.group!))],
    };
  }
  const want = Math.max(1, Math.round(rows.length * share));
  const order = shuffled(rows, rand);
  return { validation: order.slice(0, want), fitRows: order.slice(want) };
}

// The range of every input over rows: scaled lo..hi (what the network saw) and raw min..max.
export function rangesOf(rows: readonly TrainingRow[]): FeatureRange[] {
  return FEATURE_NAMES.map((feature, i) => {
    let lo = Infinity;
    let hi = -Infinity;
    let min: number | null = null;
    let max: number | null = null;
    for (const row of rows) {
      const v = row.values[i] ?? 0;
      lo = Math.min(lo, v);
      hi = Math.max(hi, v);
      const raw = rawOf(row, feature);
      if (raw !== undefined) {
        min = min === null ? raw : Math.min(min, raw);
        max = max === null ? raw : Math.max(max, raw);
      }
    }
    if (!Number.isFinite(lo)) [lo, hi] = [0, 0];
    return { feature, lo, hi, min, max };
  });
}

// The rows again as a kernel without PSI would send them: estimates stand in.
export function withoutPsi(row: TrainingRow): TrainingRow {
  const f = withoutFeatures(row.values, row.mask, PSI_FEATURES);
  const named = { ...row.named };
  for (const name of PSI_FEATURES) named[name] = null;
  return { ...row, values: f.values, mask: f.mask, named };
}

const WIDTH = FEATURE_NAMES.length;

// Copies of the rows that have PSI, as a host without it would send them (withoutPsi),
// packed: what training needs of them and no more (WIDTH scaled values a copy, its
// backbone with the given parameters, its label), since there can be 100 000 of them.
interface Copies {
  values: Float64Array;
  base: Float64Array;
  label: Float64Array;
}

const emptyCopies = (): Copies => ({ values: new Float64Array(0), base: new Float64Array(0), label: new Float64Array(0) });

function copiesWithoutPsi(rows: readonly TrainingRow[], params: BackboneParams): Copies {
  const psi = PSI_FEATURES.map(featureIndex);
  const withPsi = rows.filter((row) => psi.some((i) => row.mask[i] === true));
  const copies: Copies = { values: new Float64Array(withPsi.length * WIDTH), base: new Float64Array(withPsi.length), label: new Float64Array(withPsi.length) };
  withPsi.forEach((row, j) => {
    const copy = withoutPsi(row);
    copies.values.set(copy.values, j * WIDTH);
    copies.base[j] = backbone(copy.named, params).rank;
    copies.label[j] = copy.label;
  });
  return copies;
}

// Ranges widened to take in more scaled values (WIDTH a row); the raw min and max stay,
// since the copies without PSI have no raw values the rows they come from lack.
function widenRanges(ranges: FeatureRange[], values: Float64Array): FeatureRange[] {
  for (let at = 0; at < values.length; at += WIDTH) {
    ranges.forEach((r, i) => {
      const v = values[at + i]!;
      r.lo = Math.min(r.lo, v);
      r.hi = Math.max(r.hi, v);
    });
  }
  return ranges;
}

// The training set in the form brain.js 1.6.1's formatData gives arrays ({input,
// output} of Float32Arrays), in a seeded shuffled order, every row a view into one
// buffer: 170 000 rows as plain arrays, then as brain.js's own copies, took more
// than 150 MB where these take about 50.
function brainData(count: number, inputOf: (i: number) => ArrayLike<number>, targetOf: (i: number) => number, rand: () => number): Array<{ input: Float32Array; output: Float32Array }> {
  const inputs = new Float32Array(count * WIDTH);
  const outputs = new Float32Array(count);
  return shuffled([...Array(count).keys()], rand).map((i, k) => {
    inputs.set(inputOf(i), k * WIDTH);
    outputs[k] = targetOf(i);
    return { input: inputs.subarray(k * WIDTH, (k + 1) * WIDTH), output: outputs.subarray(k, k + 1) };
  });
}

const yieldToLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

// brain.js 1.6.1's NeuralNetwork internals that the monotone training touches.
interface BrainInternals {
  outputLayer: number;
  sizes: number[];
  weights: Float32Array[][];
  changes: Float32Array[][];
  adjustWeights(): void;
  formatData(d: unknown): unknown;
  verifyIsInitialized(d: unknown): void;
}

// Makes a brain.js network keep every weight at or above zero: after each update
// (brain.js adjusts after every row) a negative weight is set to 0 and its momentum
// dropped. With non-negative weights and an increasing activation, the output can
// only grow with each input, and every scaled input grows with contention.
function keepWeightsNonNegative(net: BrainInternals): void {
  const adjust = Object.getPrototypeOf(net).adjustWeights as () => void;
  net.adjustWeights = function adjustWeights(this: BrainInternals): void {
    adjust.call(this);
    for (let layer = 1; layer <= this.outputLayer; layer++) {
      const w = this.weights[layer]!;
      const ch = this.changes[layer]!;
      for (let node = 0; node < w.length; node++) {
        const row = w[node]!;
        for (let k = 0; k < row.length; k++) {
          if (row[k]! < 0) {
            row[k] = 0;
            ch[node]![k] = 0;
          }
        }
      }
    }
  };
}

// What fitModel reports besides the model.
export interface FitReport {
  backboneTrainMae: number;
  fitSamples: number;
  validationSamples: number;
  augmentedSamples: number;
  epochs: number;
  bestEpoch: number;
  validationMae: number;
  output: OutputScaling | null;
  stopped: TrainStop;
  backboneGridPoints: number; // of BACKBONE_GRID_POINTS: fewer when stopped during the backbone fit
}

// The model of the backbone alone, fitModel's draft: the correction network and the
// holdout's figures are filled in by the stages after it.
function draftModel(options: Pick<TrainOptions, 'name' | 'now' | 'source'>, backboneParams: BackboneParams, ranges: ModelFile['ranges'], fit: { rows: number; seed: number; backboneTrainMae: number }): ModelFile {
  return {
    format: MODEL_FORMAT,
    version: MODEL_VERSION,
    name: options.name ?? 'model',
    features: [...FEATURE_NAMES],
    scaling: featureScaling(),
    backbone: backboneParams,
    ranges,
    residual: null,
    training: {
      date: (options.now?.() ?? new Date()).toISOString(),
      source: options.source ?? [],
      samples: fit.rows,
      trainSamples: fit.rows,
      holdoutSamples: 0,
      holdoutMae: 0,
      baselines: { mean: 0, loadOnly: 0, formula: 0 },
      backboneVersion: BACKBONE_VERSION,
      seed: fit.seed,
      backboneTrainMae: fit.backboneTrainMae,
    },
  };
}

// fitModel's settings: the options checked, defaults filled in.
export interface FitSettings {
  seed: number;
  epochs: number;
  chunk: number; // at most epochs
  hiddenLayers: readonly number[];
  activation: Activation;
  learningRate: number;
  momentum: number;
  validationFraction: number;
}

// fitModel's first stage: each option checked (a ConfigError names the one out of
// range), its default where it is left out.
export function fitSettings(options: TrainOptions): FitSettings {
  const epochs = positiveInt('epochs', options.epochs ?? 1000, 1_000_000);
  const chunk = Math.min(epochs, positiveInt('chunk', options.chunk ?? 50, 1_000_000));
  const hiddenLayers = options.hiddenLayers ?? [12, 8];
  hiddenLayers.forEach((n, i) => positiveInt(`hiddenLayers[${i}]`, n, 512));
  const activation = options.activation ?? 'sigmoid';
  if (!ACTIVATIONS.includes(activation)) throw new ConfigError(`activation: expected one of ${ACTIVATIONS.join(', ')}, received ${String(activation)}`);
  return {
    seed: options.seed ?? 1,
    epochs,
    chunk,
    hiddenLayers,
    activation,
    learningRate: fraction('learningRate', options.learningRate ?? 0.2, 1e-6, 0.999),
    momentum: fraction('momentum', options.momentum ?? 0.3, 1e-6, 0.999),
    validationFraction: fraction('validationFraction', options.validationFraction ?? 0.15, 0.01, 0.9),
  };
}

// About how long one step of fitModel takes (a grid point of the backbone fit is
// shorter): the deadline and the signal are checked, and the event loop given a turn
// for Ctrl-C, between steps, so that both act within about this long at any size.
export const STEP_MS = 250;
// The first step's rows, before fitModel has measured how fast this machine trains.
const FIRST_STEP_ROWS = 1000;

// Stage: a model from training rows alone (nothing held out here but the validation
// part that chooses the epoch): the backbone fitted on all of them, then the
// correction network trained on what the backbone misses.
export async function fitModel(rows: readonly TrainingRow[], options: TrainOptions = {}): Promise<{ model: ModelFile; fit: FitReport }> {
  checkRows(rows);
  const { seed, epochs, chunk, hiddenLayers, activation, learningRate, momentum, validationFraction } = fitSettings(options);

  const { fitRows, validation } = splitValidation(rows, validationFraction, seed);
  if (fitRows.length < 10) throw new ConfigError(`too few rows to train: ${rows.length} (${fitRows.length} to fit, ${validation.length} to validate); need at least 10 to fit`);

  const clock = options.clock ?? (() => performance.now());
  const deadline = options.deadline ?? Infinity;
  let stopped: TrainStop = 'epochs';
  const mustStop = (): boolean => {
    if (options.signal?.aborted === true) stopped = 'signal';
    else if (clock() >= deadline) stopped = 'deadline';
    return stopped !== 'epochs';
  };

  // The backbone sees every training row: it has a handful of parameters.
  const steps = backboneFitSteps(rows);
  let fitted: BackboneFit | undefined;
  for (let step = steps.next(); ; step = steps.next()) {
    fitted = step.value;
    if (step.done === true || mustStop()) break;
    await yieldToLoop();
  }
  const { params, mae: backboneTrainMae, gridPoints: backboneGridPoints } = fitted;
  const copies = options.augmentWithoutPsi === false ? emptyCopies() : copiesWithoutPsi(fitRows, params);
  const ranges = widenRanges(rangesOf(rows), copies.values);
  const draft = draftModel(options, params, ranges, { rows: rows.length, seed, backboneTrainMae });
  const report: FitReport = {
    backboneTrainMae,
    fitSamples: fitRows.length,
    validationSamples: validation.length,
    augmentedSamples: copies.base.length,
    epochs: 0,
    bestEpoch: 0,
    validationMae: NaN,
    output: null,
    stopped,
    backboneGridPoints,
  };
  // Stopped during the backbone fit: the backbone alone, with the best grid point so far.
  if (options.correction === false || stopped !== 'epochs') return { model: draft, fit: report };

  // The training set: the fit rows, then their copies without PSI.
  const baseOf = (row: TrainingRow): number => backbone(row.named, params).rank;
  const count = fitRows.length + copies.base.length;
  const corrections = new Float64Array(count);
  fitRows.forEach((r, i) => (corrections[i] = clampLabel(r.label) - baseOf(r)));
  copies.base.forEach((base, j) => (corrections[fitRows.length + j] = clampLabel(copies.label[j]!) - base));
  const output = chooseOutput(corrections);
  const span = output.rankAtOne - output.rankAtZero;
  const toTarget = (c: number): number => Math.min(1, Math.max(0, (c - output.rankAtZero) / span));
  const inputOf = (i: number): ArrayLike<number> => (i < fitRows.length ? fitRows[i]!.values : copies.values.subarray((i - fitRows.length) * WIDTH, (i - fitRows.length + 1) * WIDTH));
  const data = brainData(count, inputOf, (i) => toTarget(corrections[i]!), seededRandom(seed ^ 0xbeef));
  const net = new brain.NeuralNetwork({ hiddenLayers: [...hiddenLayers], activation });
  const internals = net as unknown as BrainInternals;
  keepWeightsNonNegative(internals);
  const trainOpts = { errorThresh: 1e-9, learningRate, momentum, log: false };
  const validationBase = validation.map(baseOf);
  const validationMae = (): number => {
    let sum = 0;
    validation.forEach((row, i) => {
      const c = output.rankAtZero + (net.run(row.values as number[])[0] ?? NaN) * span;
      sum += Math.abs(clampRank(validationBase[i]! + c) - clampLabel(row.label));
    });
    return sum / validation.length;
  };

  // brain.js 1.6.1's train() copies the whole data set into Float32Arrays (formatData) on
  // every call, so one call per chunk made a full copy per chunk: with 100 000 rows and a
  // chunk of one epoch that garbage took the RSS past 900 MB. The data is built in that
  // form once (brainData), and train() is told it already is. The weights are drawn
  // from Math.random (seeded) as train() would, then made non-negative (their size
  // kept), so that no unit starts dead.
  internals.formatData = (d) => d;
  withSeededRandom(seed, () => internals.verifyIsInitialized(data));
  for (let layer = 1; layer <= internals.outputLayer; layer++) {
    for (const row of internals.weights[layer]!) for (let k = 0; k < row.length; k++) row[k] = Math.abs(row[k]!);
  }

  // brain.js trains row after row and keeps its momentum on the network, with no
  // shuffle between epochs: an epoch trained in steps of a slice of the rows each is
  // the same epoch, update for update. A step is sized to take about STEP_MS, so that
  // the deadline and the signal are checked that often whatever the rows' number.
  const rowsOf = data;
  let stepRows = Math.min(rowsOf.length, FIRST_STEP_ROWS);
  let trainedRows = 0;
  const trainEpoch = async (): Promise<number | undefined> => {
    let errorSum = 0;
    for (let at = 0; at < rowsOf.length; ) {
      if (mustStop()) return undefined;
      const end = Math.min(rowsOf.length, at + stepRows);
      const started = clock();
      errorSum += net.train(rowsOf.slice(at, end) as Parameters<typeof net.train>[0], { ...trainOpts, iterations: 1 }).error * (end - at);
      const ms = clock() - started;
      stepRows = Math.max(1, Math.min(rowsOf.length, ms > 0 ? Math.round(((end - at) * STEP_MS) / ms) : 2 * stepRows));
      trainedRows += end - at;
      at = end;
      await yieldToLoop();
    }
    return errorSum / rowsOf.length;
  };

  let best: BrainNetworkJSON | undefined;
  let bestEpoch = 0;
  let bestMae = Infinity;
  let done = 0;
  let trainError = NaN;
  const check = (): void => {
    const mae = validationMae();
    if (mae < bestMae) {
      bestMae = mae;
      bestEpoch = done;
      best = net.toJSON() as unknown as BrainNetworkJSON;
    }
    options.onProgress?.({ epoch: done, epochs, trainError, validationMae: mae, bestEpoch, bestValidationMae: bestMae });
  };
  while (done < epochs) {
    const n = Math.min(chunk, epochs - done);
    let finished = 0;
    for (; finished < n; finished++) {
      const error = await trainEpoch();
      if (error === undefined) break;
      trainError = error;
      done += 1;
    }
    // A chunk cut short is dropped, unless nothing better exists: then the network
    // as it is, even within its first epoch, is kept, since it has learnt something.
    if (finished === n || (best === undefined && trainedRows > 0)) check();
    if (stopped !== 'epochs' || !Number.isFinite(trainError)) break;
  }
  if (best === undefined && trainedRows === 0) {
    report.stopped = stopped;
    return { model: draft, fit: report };
  }
  if (best === undefined) throw new ConfigError(`training diverged (training error ${String(trainError)}); try a lower learningRate`);
  draft.residual = { output, network: { ...best, leakyReluAlpha: 0.01 } };
  Object.assign(draft.training, { hiddenLayers: [...hiddenLayers], activation, epochs: done, bestEpoch, validationMae: bestMae, augmentedWithoutPsi: copies.base.length, learningRate, momentum });
  Object.assign(report, { epochs: done, bestEpoch, validationMae: bestMae, output, stopped });
  return { model: draft, fit: report };
}

// The fitted baselines of the holdout comparison, from the training rows.
export interface Baselines {
  meanLabel: number;
  loadOnly: { intercept: number; slope: number };
  ridge: LinearModel; // src/training/linear.ts, the one retrain fits too
}

// Stage: fits the baselines a model is compared with on the same training rows.
export function fitBaselines(rows: readonly TrainingRow[]): Baselines {
  return {
    meanLabel: rows.reduce((s, r) => s + clampLabel(r.label), 0) / Math.max(1, rows.length),
    loadOnly: fitLoadOnly(rows),
    ridge: fitLinear(rows),
  };
}

// The closed-form ridge regression over all features (src/training/linear.ts), on
// labels clamped to the rank's range as the judge scores them.
export function fitLinear(rows: readonly TrainingRow[]): LinearModel {
  const fit = new RidgeFit(FEATURE_NAMES.length);
  for (const r of rows) fit.add(r.values, clampLabel(r.label));
  return fit.solve();
}

// Trains a model from labelled rows; returns the model file object and the holdout report.
export async function trainModel(rows: readonly TrainingRow[], options: TrainOptions = {}): Promise<{ model: ModelFile; report: TrainReport }> {
  const started = performance.now();
  checkRows(rows);
  const seed = options.seed ?? 1;
  const holdoutFraction = fraction('holdoutFraction', options.holdoutFraction ?? 0.2, 0.01, 0.9);
  const split = options.split ?? 'random';
  if (split !== 'random' && split !== 'tail') throw new ConfigError(`split: expected random or tail, received ${String(split)}`);
  if (options.holdout !== undefined) checkRows(options.holdout);
  const { train, holdout } = options.holdout === undefined ? splitHoldout(rows, split, holdoutFraction, seed) : { train: [...rows], holdout: [...options.holdout] };
  if (holdout.length < 5 || train.length < 12) {
    throw new ConfigError(`too few rows to train: ${rows.length} (${train.length} to train on, ${holdout.length} to hold out); need at least 12 to train on and 5 to hold out`);
  }
  const { model: draft, fit } = await fitModel(train, options);

  // Judged exactly as the daemon will run it: through the file's text and our own forward pass.
  let loaded: LoadedModel;
  try {
    loaded = modelFromFile(draft, 'the trained model');
  } catch (err) {
    throw new ConfigError(`training produced an unusable model: ${errorMessage(err)}`, { cause: err });
  }
  const base = fitBaselines(train);
  const holdoutMae = meanAbsoluteError((r) => loaded.predict(r), holdout);
  const baselines = {
    mean: meanAbsoluteError(() => base.meanLabel, holdout),
    loadOnly: meanAbsoluteError((r) => loadOnlyRank(base.loadOnly, r), holdout),
    formula: meanAbsoluteError(formulaRank, holdout),
    backbone: meanAbsoluteError((r) => backboneRank(r.named, draft.backbone), holdout),
    ridge: meanAbsoluteError((r) => linearPredict(base.ridge, r.values), holdout),
  };
  const holdoutMaeWithoutPsi = meanAbsoluteError((r) => loaded.predict(withoutPsi(r)), holdout);
  const gate = gateDecision({ model: holdoutMae, backbone: baselines.backbone, ridge: baselines.ridge });
  Object.assign(draft.training, {
    samples: train.length + holdout.length,
    trainSamples: train.length,
    holdoutSamples: holdout.length,
    holdoutMae,
    baselines,
    holdoutMaeWithoutPsi,
    split,
  });
  const report: TrainReport = {
    holdoutMae,
    holdoutMaeWithoutPsi,
    baselines,
    gate,
    beatsBaselines: gate.pass,
    meanLabel: base.meanLabel,
    loadOnlyFit: base.loadOnly,
    backbone: draft.backbone,
    trainSamples: fit.fitSamples,
    validationSamples: fit.validationSamples,
    holdoutSamples: holdout.length,
    augmentedSamples: fit.augmentedSamples,
    epochs: fit.epochs,
    bestEpoch: fit.bestEpoch,
    validationMae: fit.validationMae,
    output: fit.output,
    stopped: fit.stopped,
    backboneGridPoints: fit.backboneGridPoints,
    elapsedMs: performance.now() - started,
  };
  return { model: draft, report };
}

// Writes a model file atomically (writeFileAtomic): a daemon checking the file sees
// the old or the new model, never half of one.
export function writeModelFile(path: string, model: ModelFile): void {
  const text = serializeModel(model);
  modelFromFile(model, path); // never write what the daemon would refuse
  writeFileAtomic(path, text, 0o644, { what: 'model directory' });
}
