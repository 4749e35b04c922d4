// Model files: a JSON document holding the feature list and scaling this build
// uses, the fitted parameters of the physical backbone (src/model/backbone.ts), the
// range of every input seen in training, a brain.js 1.6.1 network
// (NeuralNetwork.toJSON()) that corrects the backbone within those ranges, its
// output scaling, and how the model was trained. Loading checks every part and
// every number before anything is used, and nothing in the file is ever run as
// code: the weights feed src/model/network.ts, never brain.js's fromJSON/toFunction.
import { constants, openSync } from 'node:fs';
import { ModelError, errorCode, errorMessage, errorReason } from '../util/errors.js';
import { readOpenRegular } from '../util/paths.js';
import { RANK_MAX, clampRank, withLoadTieBreak, type TypedRanks } from './rank.js';
import { openTrusted, openTrustedAsync, type TrustedOpen } from '../util/trust.js';
import { taggedArray } from '../util/tagged.js';
import { sha256Hex, sha256HexSliced } from '../util/sha256.js';
import { FEATURES, FEATURE_NAMES, featureScaling, type FeatureScaling } from './features.js';
import { BACKBONE_VERSION, backboneRanksWith, backboneWith, type BackboneParams, type BackboneRanks, type BackboneResult, type IoCost } from './backbone.js';
import { ACTIVATIONS, Network, type Activation } from './network.js';

// The `format` and `version` every model file starts with.
export const MODEL_FORMAT = 'lavarank-model';
export const MODEL_VERSION = 2;
// Larger files are refused before they are parsed (the default model is ~20 KB).
export const MAX_MODEL_BYTES = 2 * 1024 * 1024;
// Generous bounds that keep one forward pass far below the 50 µs budget.
export const MAX_LAYER_SIZE = 512;
export const MAX_LAYERS = 8;

// brain.js 1.6.1's NeuralNetwork.toJSON(), trained on arrays (no lookups).
export interface BrainNetworkJSON {
  sizes: number[];
  layers: Array<Record<string, { bias?: number; weights?: Record<string, number> }>>;
  outputLookup: boolean;
  inputLookup: boolean;
  activation: Activation;
  trainOpts?: Record<string, unknown>;
  leakyReluAlpha?: number;
}

// The network's output y (0..1 for sigmoid) maps to a correction of the backbone,
// in rank points: rankAtZero + y × (rankAtOne − rankAtZero).
export interface OutputScaling {
  rankAtZero: number;
  rankAtOne: number;
}

// Holdout mean absolute errors of the baselines, in rank points (backbone, ridge
// and more where the trainer measured them).
export interface BaselineMae {
  mean: number;
  loadOnly: number;
  formula: number;
  [other: string]: number;
}

// How the model was made. Extra keys are allowed (retrain adds its own).
export interface TrainingInfo {
  date: string; // ISO 8601
  source: string[]; // datasets, with their sha256
  samples: number; // rows used, training + holdout
  trainSamples: number;
  holdoutSamples: number;
  holdoutMae: number; // rank points
  baselines: BaselineMae;
  [other: string]: unknown;
}

// The range of one input in training: lo..hi of the scaled values the network saw
// (estimates included), min..max of the raw values present (null: never present).
export interface FeatureRange {
  feature: string;
  lo: number;
  hi: number;
  min: number | null;
  max: number | null;
}

// The network that corrects the backbone, and its output scaling.
export interface Residual {
  output: OutputScaling;
  network: BrainNetworkJSON;
}

// A model file, as written and as read back.
export interface ModelFile {
  format: typeof MODEL_FORMAT;
  version: typeof MODEL_VERSION;
  name: string;
  features: string[];
  scaling: FeatureScaling[];
  backbone: BackboneParams;
  ranges: FeatureRange[];
  residual: Residual | null; // null: the backbone alone
  training: TrainingInfo;
}

// What a model makes of one state of a host.
export interface Evaluation {
  rank: number; // backbone + correction clamped to 0..RANK_MAX, plus the load tie-break (withLoadTieBreak)
  backbone: BackboneResult;
  correction: number; // what the network added to the backbone (never below 0 outside the ranges)
  tie: number; // what the load tie-break added (0..TIE_WEIGHT)
  outside: string[]; // inputs outside the range seen in training
  typed: TypedRanks; // the backbone's per-type slowdowns, clamped
}

// The part of an Evaluation the daemon reports, as evaluate gives it.
export interface Score {
  rank: number;
  backbone: number; // the backbone's rank, unclamped (Evaluation.backbone.rank)
  typed: TypedRanks;
}

// What a model ranks: the scaled values the network sees and the raw named values
// the backbone reads, of one state of a host (a Features, a training row).
export interface ModelInput {
  values: ArrayLike<number>;
  named: Readonly<Record<string, number | null | undefined>>;
}

// A validated model, ready to rank.
export interface LoadedModel {
  file: ModelFile;
  id: string; // name#first 8 hex digits of the file's sha256: what history and logs record
  path?: string;
  network: Network | undefined;
  // The rank and how it came about, for the scaled values and the raw named ones of one state.
  evaluate(f: ModelInput): Evaluation;
  // What the daemon reports of evaluate's answer, computed without the rest.
  score(f: ModelInput): Score;
  // The rank alone, clamped to 0..RANK_MAX.
  predict(f: ModelInput): number;
}

const TOP_KEYS = ['format', 'version', 'name', 'features', 'scaling', 'backbone', 'ranges', 'residual', 'training'];
const NETWORK_KEYS = ['sizes', 'layers', 'outputLookup', 'inputLookup', 'activation', 'trainOpts', 'leakyReluAlpha'];

type Json = unknown;

function isObject(v: Json): v is Record<string, Json> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function show(v: Json): string {
  if (v === undefined) return 'nothing';
  if (v === null) return 'null';
  if (typeof v === 'string') return JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}...` : v);
  if (typeof v === 'number') return Number.isNaN(v) ? 'NaN' : String(v);
  if (Array.isArray(v)) return `a list of ${v.length}`;
  if (typeof v === 'object') return 'an object';
  return String(v);
}

class Check {
  constructor(private readonly where: string) {}

  fail(path: string, message: string): never {
    throw new ModelError(`${this.where}: ${path === '' ? '' : `${path} `}${message}`);
  }

  expect(path: string, expected: string, found: Json): never {
    this.fail(path, `is ${show(found)}, expected ${expected}`);
  }

  object(path: string, v: Json): Record<string, Json> {
    if (!isObject(v)) this.expect(path, 'an object', v);
    return v;
  }

  array(path: string, v: Json): Json[] {
    if (!Array.isArray(v)) this.expect(path, 'a list', v);
    return v;
  }

  finite(path: string, v: Json): number {
    if (typeof v !== 'number' || !Number.isFinite(v)) this.expect(path, 'a finite number', v);
    return v;
  }

  // A weight or bias: the network holds them in Float32Arrays (as brain.js does), where
  // a finite double beyond ±3.4e38 becomes Infinity and every rank NaN.
  float32(path: string, v: Json): number {
    const n = this.finite(path, v);
    if (!Number.isFinite(Math.fround(n))) this.expect(path, 'a number within float32 range (±3.4e38)', n);
    return n;
  }

  string(path: string, v: Json): string {
    if (typeof v !== 'string') this.expect(path, 'a string', v);
    return v;
  }

  onlyKeys(path: string, obj: Record<string, Json>, known: readonly string[]): void {
    for (const key of Object.keys(obj)) {
      if (!known.includes(key)) this.fail(path === '' ? key : `${path}.${key}`, `is not a known key (known: ${known.join(', ')})`);
    }
  }

  // The object's keys must be exactly "0".."n-1" (brain.js's node and weight keys).
  indexKeys(path: string, obj: Record<string, Json>, n: number, what: string): void {
    const keys = Object.keys(obj);
    for (let i = 0; i < n; i++) if (!Object.hasOwn(obj, String(i))) this.fail(path, `has no ${what} "${i}" (expected ${n}: "0".."${n - 1}")`);
    if (keys.length !== n) {
      const extra = keys.find((k) => !/^(0|[1-9]\d*)$/.test(k) || Number(k) >= n);
      this.fail(path, `has ${keys.length} ${what}s, expected ${n}${extra === undefined ? '' : ` (unexpected "${extra}")`}`);
    }
  }
}

// The network's checks, yielding after each node the count of values it checked, so
// that a reload can take a turn of the event loop between slices (validateBetweenTurns).
function* validateNetworkSteps(c: Check, raw: Json): Generator<number, { net: BrainNetworkJSON; weights: number[][][]; biases: number[][] }, void> {
  const n = c.object('residual.network', raw);
  c.onlyKeys('residual.network', n, NETWORK_KEYS);
  const sizesRaw = c.array('residual.network.sizes', n['sizes']);
  if (sizesRaw.length < 2 || sizesRaw.length > MAX_LAYERS) c.fail('residual.network.sizes', `has ${sizesRaw.length} layers, expected 2 to ${MAX_LAYERS}`);
  const sizes = sizesRaw.map((s, i) => {
    if (typeof s !== 'number' || !Number.isInteger(s) || s < 1 || s > MAX_LAYER_SIZE) {
      c.expect(`residual.network.sizes[${i}]`, `an integer from 1 to ${MAX_LAYER_SIZE}`, s);
    }
    return s;
  });
  if (sizes[0] !== FEATURE_NAMES.length) {
    c.fail('residual.network.sizes[0]', `is ${sizes[0]}, but the model has ${FEATURE_NAMES.length} features: the input layer must match`);
  }
  if (sizes[sizes.length - 1] !== 1) c.fail(`residual.network.sizes[${sizes.length - 1}]`, `is ${sizes[sizes.length - 1]}, expected 1 output (the rank)`);
  const activation = n['activation'];
  if (typeof activation !== 'string' || !(ACTIVATIONS as readonly string[]).includes(activation)) {
    c.expect('residual.network.activation', `one of ${ACTIVATIONS.join(', ')}`, activation);
  }
  // brain.js's toJSON does not save leakyReluAlpha; fromJSON then uses its default.
  // From 0 to 1: a negative slope turns more contention into a lower rank, and a
  // large negative one sends the output to -Infinity, a rank of 0 for a saturated
  // host. With it, and rankAtOne > rankAtZero, an overflow can only be +Infinity or
  // NaN, both rank 1000.
  const alpha = n['leakyReluAlpha'] === undefined ? 0.01 : c.finite('residual.network.leakyReluAlpha', n['leakyReluAlpha']);
  if (alpha < 0 || alpha > 1) c.expect('residual.network.leakyReluAlpha', 'a number from 0 to 1', alpha);
  if (n['inputLookup'] !== false) c.expect('residual.network.inputLookup', 'false (a network trained on arrays)', n['inputLookup']);
  if (n['outputLookup'] !== false) c.expect('residual.network.outputLookup', 'false (a network trained on arrays)', n['outputLookup']);
  if (n['trainOpts'] !== undefined) c.object('residual.network.trainOpts', n['trainOpts']);
  const layers = c.array('residual.network.layers', n['layers']);
  if (layers.length !== sizes.length) c.fail('residual.network.layers', `has ${layers.length} layers, but residual.network.sizes has ${sizes.length}`);
  const weights: number[][][] = [[]];
  const biases: number[][] = [[]];
  for (let l = 0; l < layers.length; l++) {
    const lp = `residual.network.layers[${l}]`;
    const layer = c.object(lp, layers[l]);
    const size = sizes[l]!;
    c.indexKeys(lp, layer, size, 'node');
    yield size;
    if (l === 0) {
      for (let node = 0; node < size; node++) {
        const np = `${lp}["${node}"]`;
        const obj = c.object(np, layer[String(node)]);
        if (Object.keys(obj).length !== 0) c.fail(np, 'is an input node and must be {}');
      }
      yield size;
      continue;
    }
    const prev = sizes[l - 1]!;
    const lw: number[][] = [];
    const lb: number[] = [];
    for (let node = 0; node < size; node++) {
      const np = `${lp}["${node}"]`;
      const obj = c.object(np, layer[String(node)]);
      c.onlyKeys(np, obj, ['bias', 'weights']);
      lb.push(c.float32(`${np}.bias`, obj['bias']));
      const w = c.object(`${np}.weights`, obj['weights']);
      c.indexKeys(`${np}.weights`, w, prev, 'weight');
      const row: number[] = [];
      for (let k = 0; k < prev; k++) row.push(c.float32(`${np}.weights["${k}"]`, w[String(k)]));
      lw.push(row);
      yield prev + 1;
    }
    weights.push(lw);
    biases.push(lb);
  }
  const net: BrainNetworkJSON = {
    sizes,
    layers: layers as BrainNetworkJSON['layers'],
    outputLookup: false,
    inputLookup: false,
    activation: activation as Activation,
  };
  if (n['trainOpts'] !== undefined) net.trainOpts = n['trainOpts'] as Record<string, unknown>;
  if (n['leakyReluAlpha'] !== undefined) net.leakyReluAlpha = alpha;
  return { net, weights, biases };
}

function validateFeatures(c: Check, namesRaw: Json, scalingRaw: Json): void {
  const names = c.array('features', namesRaw);
  const scaling = c.array('scaling', scalingRaw);
  const mine = featureScaling();
  for (let i = 0; i < Math.max(names.length, FEATURE_NAMES.length); i++) {
    const theirs = names[i];
    const ours = FEATURE_NAMES[i];
    if (theirs !== ours) {
      const what = ours === undefined ? 'this build has no feature there' : `this build expects ${JSON.stringify(ours)}`;
      c.fail(`features[${i}]`, `is ${show(theirs)}, but ${what}: the model was made for another feature list (retrain it, or use a lavarank version that matches)`);
    }
  }
  if (scaling.length !== mine.length) c.fail('scaling', `has ${scaling.length} entries, expected ${mine.length}`);
  mine.forEach((ours, i) => {
    const p = `scaling[${i}]`;
    const s = c.object(p, scaling[i]);
    c.onlyKeys(p, s, ['feature', 'transform', 'cap']);
    if (s['feature'] !== ours.feature) c.expect(`${p}.feature`, JSON.stringify(ours.feature), s['feature']);
    if (s['transform'] !== ours.transform) c.expect(`${p}.transform`, `${JSON.stringify(ours.transform)} (this build's scaling of ${ours.feature})`, s['transform']);
    if (s['cap'] !== ours.cap) c.expect(`${p}.cap`, `${ours.cap} (this build's scaling of ${ours.feature})`, s['cap']);
  });
}

function validateTraining(c: Check, raw: Json): TrainingInfo {
  const t = c.object('training', raw);
  const date = c.string('training.date', t['date']);
  if (Number.isNaN(Date.parse(date))) c.expect('training.date', 'an ISO 8601 date', date);
  const source = c.array('training.source', t['source']);
  source.forEach((s, i) => c.string(`training.source[${i}]`, s));
  for (const key of ['samples', 'trainSamples', 'holdoutSamples']) {
    const v = t[key];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) c.expect(`training.${key}`, 'a count (an integer >= 0)', v);
  }
  const mae = c.finite('training.holdoutMae', t['holdoutMae']);
  if (mae < 0) c.expect('training.holdoutMae', 'a number >= 0', mae);
  const baselines = c.object('training.baselines', t['baselines']);
  for (const key of ['mean', 'loadOnly', 'formula']) c.finite(`training.baselines.${key}`, baselines[key]);
  for (const [key, v] of Object.entries(baselines)) c.finite(`training.baselines.${key}`, v);
  const version = t['backboneVersion'];
  if (version !== undefined && !(typeof version === 'number' && Number.isInteger(version) && version >= 1 && version <= BACKBONE_VERSION)) {
    c.expect('training.backboneVersion', `an integer from 1 to ${BACKBONE_VERSION} (the backbones this build runs; a larger one is a newer lavarank's)`, version);
  }
  return t as TrainingInfo;
}

function validateBackbone(c: Check, raw: Json): BackboneParams {
  const b = c.object('backbone', raw);
  c.onlyKeys('backbone', b, ['weights', 'runnableWeight', 'secondsPerPage', 'memFullFrom']);
  const w = c.object('backbone.weights', b['weights']);
  c.onlyKeys('backbone.weights', w, ['cpu', 'mem', 'io']);
  const weight = (k: string): number => {
    const v = c.finite(`backbone.weights.${k}`, w[k]);
    if (v < 0 || v > 100) c.expect(`backbone.weights.${k}`, 'a number from 0 to 100', v);
    return v;
  };
  const within = (k: string, lo: number, hi: number): number => {
    const v = c.finite(`backbone.${k}`, b[k]);
    if (v < lo || v > hi) c.expect(`backbone.${k}`, `a number from ${lo} to ${hi}`, v);
    return v;
  };
  return {
    weights: { cpu: weight('cpu'), mem: weight('mem'), io: weight('io') },
    runnableWeight: within('runnableWeight', 0, 1),
    secondsPerPage: within('secondsPerPage', 0, 1),
    memFullFrom: within('memFullFrom', 0, 0.999),
  };
}

function validateRanges(c: Check, raw: Json): FeatureRange[] {
  const list = c.array('ranges', raw);
  if (list.length !== FEATURE_NAMES.length) c.fail('ranges', `has ${list.length} entries, expected one per feature (${FEATURE_NAMES.length})`);
  return FEATURE_NAMES.map((name, i) => {
    const p = `ranges[${i}]`;
    const r = c.object(p, list[i]);
    c.onlyKeys(p, r, ['feature', 'lo', 'hi', 'min', 'max']);
    if (r['feature'] !== name) c.expect(`${p}.feature`, JSON.stringify(name), r['feature']);
    const lo = c.finite(`${p}.lo`, r['lo']);
    const hi = c.finite(`${p}.hi`, r['hi']);
    if (!(lo >= 0 && hi <= 1 && lo <= hi)) c.fail(p, `lo ${lo} and hi ${hi} must satisfy 0 <= lo <= hi <= 1 (scaled values)`);
    const min = r['min'] === null ? null : c.finite(`${p}.min`, r['min']);
    const max = r['max'] === null ? null : c.finite(`${p}.max`, r['max']);
    if ((min === null) !== (max === null) || (min !== null && max !== null && min > max)) c.fail(p, `min ${show(min)} and max ${show(max)} must both be null or min <= max`);
    return { feature: name, lo, hi, min, max };
  });
}

// The message for a model file of the first format, which had no backbone.
const OLD_FORMAT =
  'is 1: a model of the first format (a network alone on 18 inputs, blind to the host\'s size), which this build no longer runs; ' +
  'retrain it for this version: "lavarank retrain" for a site model, "npm run train-default" for the embedded default, ' +
  'or remove "model:" from the config to use the embedded default';

// A validated model document: the file as this build holds it and its network.
type Validated = { file: ModelFile; network: Network | undefined };

// Checks a parsed model document; `where` names it in every message.
export function validateModel(raw: Json, where: string): Validated {
  const steps = validateModelSteps(raw, where);
  for (;;) {
    const step = steps.next();
    if (step.done === true) return step.value;
  }
}

// How many values (weights, biases, nodes) a reload's validation checks between two turns
// of the event loop: about 1 µs each in the elim's interpreter (--lite-mode), so a few ms a
// slice, where the whole network of a model near the 2 MiB limit took 23-55 ms at once.
export const VALIDATION_SLICE = 4096;
// What validateModelSteps yields to give what follows a turn of its own.
const A_SLICE = Number.POSITIVE_INFINITY;

// validateModel with a turn of the event loop after each VALIDATION_SLICE values checked,
// for the daemon's reloads: the same checks in the same order, so the same error. signal
// aborted: rejects with its reason at the next turn.
async function validateBetweenTurns(raw: Json, where: string, signal?: AbortSignal, slice = VALIDATION_SLICE): Promise<Validated> {
  const steps = validateModelSteps(raw, where);
  let checked = 0;
  for (;;) {
    const step = steps.next();
    if (step.done === true) return step.value;
    checked += step.value;
    if (checked >= slice) {
      checked = 0;
      await nextTurn(signal);
    }
  }
}

// One turn of the event loop (setImmediate); signal aborted: rejects with its reason.
async function nextTurn(signal?: AbortSignal): Promise<void> {
  await new Promise<void>((resolve) => setImmediate(resolve));
  signal?.throwIfAborted();
}

// validateModel's checks, yielding the count of values checked as it goes (validateNetworkSteps).
function* validateModelSteps(raw: Json, where: string): Generator<number, Validated, void> {
  const c = new Check(where);
  const top = c.object('', raw);
  if (top['format'] !== MODEL_FORMAT) c.expect('format', JSON.stringify(MODEL_FORMAT), top['format']);
  if (top['version'] === 1) c.fail('version', OLD_FORMAT);
  if (top['version'] !== MODEL_VERSION) c.expect('version', `${MODEL_VERSION} (the only model format this build reads)`, top['version']);
  c.onlyKeys('', top, TOP_KEYS);
  const name = c.string('name', top['name']);
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(name)) c.expect('name', 'letters, digits, ".", "_" or "-" (at most 64)', name);
  validateFeatures(c, top['features'], top['scaling']);
  const backboneParams = validateBackbone(c, top['backbone']);
  const ranges = validateRanges(c, top['ranges']);
  let residual: Residual | null = null;
  let network: Network | undefined;
  if (top['residual'] !== null) {
    const r = c.object('residual', top['residual']);
    c.onlyKeys('residual', r, ['output', 'network']);
    const output = c.object('residual.output', r['output']);
    c.onlyKeys('residual.output', output, ['rankAtZero', 'rankAtOne']);
    const rankAtZero = c.finite('residual.output.rankAtZero', output['rankAtZero']);
    const rankAtOne = c.finite('residual.output.rankAtOne', output['rankAtOne']);
    if (!(rankAtOne > rankAtZero)) c.fail('residual.output.rankAtOne', `(${rankAtOne}) must be greater than residual.output.rankAtZero (${rankAtZero})`);
    if (Math.abs(rankAtZero) > 10 * RANK_MAX || Math.abs(rankAtOne) > 10 * RANK_MAX) c.fail('residual.output', `maps outside ±${10 * RANK_MAX}`);
    const { net, weights, biases } = yield* validateNetworkSteps(c, r['network']);
    residual = { output: { rankAtZero, rankAtOne }, network: net };
    yield A_SLICE; // the network's float32 copy of every weight, as long as a slice: a turn of its own
    network = new Network({ sizes: net.sizes, activation: net.activation, leakyReluAlpha: net.leakyReluAlpha ?? 0.01, biases, weights });
  }
  const training = validateTraining(c, top['training']);
  const file: ModelFile = {
    format: MODEL_FORMAT,
    version: MODEL_VERSION,
    name,
    features: [...FEATURE_NAMES],
    scaling: featureScaling(),
    backbone: backboneParams,
    ranges,
    residual,
    training,
  };
  return { file, network };
}

// The id history and logs record for a model: its name and a digest of its bytes.
export function modelId(name: string, text: string): string {
  return idOf(name, sha256Hex(text));
}

// A model's id from its name and the hex digest of its bytes.
function idOf(name: string, digest: string): string {
  return `${name}#${digest.slice(0, 8)}`;
}

const HOST_FEATURES = new Set(FEATURES.filter((f) => f.kind === 'host').map((f) => f.name));

// The model as a function of one state: backbone, plus the network's correction on
// the inputs clamped to the ranges seen in training, never below 0 once an input
// is outside them (more contention than calibrated, or a host of another size).
function loaded(file: ModelFile, network: Network | undefined, id: string, path?: string): LoadedModel {
  const n = FEATURE_NAMES.length;
  // Tagged arrays (src/util/tagged.ts), read every report without boxing; the same
  // numbers as the Float64Arrays they replace, so the same results bit for bit.
  const lo = taggedArray(n, (i) => file.ranges[i]!.lo);
  const hi = taggedArray(n, (i) => file.ranges[i]!.hi);
  // A hair of slack: scaled values go through float rounding on both sides.
  const EPS = 1e-9;
  const above = taggedArray(n, (i) => hi[i]! + EPS);
  const below = taggedArray(n, (i) => lo[i]! - EPS);
  const host = FEATURE_NAMES.map((name) => HOST_FEATURES.has(name));
  const backbone = backboneWith(file.backbone, ioCostOf(file.training));
  const backboneRanks = backboneRanksWith(file.backbone, ioCostOf(file.training)); // for score: no parts
  const input = taggedArray(n, () => 0); // the network's input, reused
  const out = file.residual?.output;
  const span = out === undefined ? 0 : out.rankAtOne - out.rankAtZero;
  const outsideAt = (values: ArrayLike<number>, i: number): boolean => {
    const v = values[i] ?? 0;
    return v > above[i]! || (host[i] === true && v < below[i]!);
  };
  // What the network adds to the backbone; `outside`: whether an input is outside the ranges.
  const correctionOf = (values: ArrayLike<number>, outside: boolean): number => {
    if (network === undefined || out === undefined) return 0;
    for (let i = 0; i < n; i++) input[i] = Math.min(hi[i]!, Math.max(lo[i]!, values[i] ?? 0));
    const correction = out.rankAtZero + network.run(input) * span;
    return outside && correction < 0 ? 0 : correction;
  };
  const typedOf = (b: BackboneRanks): TypedRanks => ({ rank_cpu: clampRank(b.cpu), rank_mem: clampRank(b.mem), rank_io: clampRank(b.io) });
  const evaluate = (f: ModelInput): Evaluation => {
    const b = backbone(f.named);
    const outside: string[] = [];
    for (let i = 0; i < n; i++) if (outsideAt(f.values, i)) outside.push(FEATURE_NAMES[i]!);
    const correction = correctionOf(f.values, outside.length > 0);
    const clamped = clampRank(b.rank + correction);
    const rank = withLoadTieBreak(clamped, f.named['cpu_busy']);
    return { rank, backbone: b, correction, tie: rank - clamped, outside, typed: typedOf(b) };
  };
  // evaluate's rank, backbone rank and typed ranks, without what only explain shows:
  // no list of the inputs outside the ranges, which only a network needs to know of.
  const score = (f: ModelInput): Score => {
    const b = backboneRanks(f.named);
    let outside = false;
    if (network !== undefined) for (let i = 0; i < n && !outside; i++) outside = outsideAt(f.values, i);
    return { rank: withLoadTieBreak(clampRank(b.rank + correctionOf(f.values, outside)), f.named['cpu_busy']), backbone: b.rank, typed: typedOf(b) };
  };
  const model: LoadedModel = { file, id, network, evaluate, score, predict: (f) => score(f).rank };
  if (path !== undefined) model.path = path;
  return model;
}

// Parses and validates model text; throws ModelError naming what is wrong and where.
export function parseModel(text: string, where: string): LoadedModel {
  const { file, network } = validateText(text, where);
  return loaded(file, network, modelId(file.name, text));
}

// parseModel with its work spread over turns of the event loop, for the daemon's reloads:
// the parse in a turn of its own, the validation VALIDATION_SLICE values at a time
// (validateBetweenTurns) and the id's digest 32 KiB at a time (sha256HexSliced). At once,
// a model near the 2 MiB limit held the reports and the SIGTERM handler for 585-632 ms of
// CPU in the elim's interpreter (the digest), then 62-139 ms (the decoding, parse and
// validation). signal aborted: rejects with its reason at the next turn.
export async function parseModelAsync(text: string, where: string, signal?: AbortSignal): Promise<LoadedModel> {
  await nextTurn(signal); // the file's read and decoding had the turn before
  const raw = parseText(text, where);
  await nextTurn(signal);
  const { file, network } = await validateBetweenTurns(raw, where, signal);
  await nextTurn(signal);
  const digest = await sha256HexSliced(Buffer.from(text, 'utf8'), signal);
  return loaded(file, network, idOf(file.name, digest));
}

// The model file and its network in text, validated; throws ModelError.
function validateText(text: string, where: string): Validated {
  return validateModel(parseText(text, where), where);
}

// The document in model text, within the size limit; throws ModelError.
function parseText(text: string, where: string): Json {
  const bytes = Buffer.byteLength(text);
  if (bytes > MAX_MODEL_BYTES) throw new ModelError(`${where}: ${bytes} bytes, more than the ${MAX_MODEL_BYTES}-byte limit for a model file`);
  try {
    // A byte order mark (an editor's) is no JSON; the id is still that of every byte.
    return JSON.parse(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text) as Json;
  } catch (err) {
    throw new ModelError(`${where}: not valid JSON: ${(err as Error).message}`, { cause: err });
  }
}

// The exact text a model file holds; the id is a digest of it.
export function serializeModel(file: ModelFile): string {
  return `${JSON.stringify(file, null, 2)}\n`;
}

// A model object in memory (fresh from training) as the daemon would see it once written.
export function modelFromFile(file: ModelFile, where = 'model'): LoadedModel {
  return parseModel(serializeModel(file), where);
}

// Options of loadModel.
export interface LoadOptions {
  trust?: boolean; // refuse files other users can write; default true
  uid?: number; // the user lavarank runs as, for the trust check
}

// Reads a model file's text, at most MAX_MODEL_BYTES + 1 bytes, so a huge file is
// refused without reading it all; throws ModelError. O_NONBLOCK: opening a FIFO for
// reading would otherwise wait for a writer forever, before fstat could refuse it,
// and the daemon reloads a replaced model on its only thread. The flag means
// nothing for a regular file.
export function readModelText(path: string): string {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY);
  } catch (err) {
    throw new ModelError(`model file ${path} cannot be read: ${errorReason(err)}`, { cause: err });
  }
  return readOpenModel(fd, path);
}

// Reads the model text from an open descriptor and closes it.
function readOpenModel(fd: number, path: string): string {
  let bytes: Buffer;
  try {
    bytes = readOpenRegular(fd, MAX_MODEL_BYTES);
  } catch (err) {
    const code = errorCode(err); // a system error's code; else what readOpenRegular refused
    // An I/O error is nothing in the text: refused, so that the daemon tries the same version again (docs/model.md).
    throw new ModelError(code === undefined ? `model file ${path}: ${errorMessage(err)}` : `model file ${path} cannot be read: ${errorReason(err)}`, { cause: err, refused: code !== undefined });
  }
  try {
    // The mark kept, so that the id is the digest of the file's bytes (docs/model.md).
    return new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes);
  } catch (err) {
    throw new ModelError(`model file ${path} is not UTF-8 text`, { cause: err });
  }
}

// Reads, trust-checks and validates a model file; throws ModelError. The trust
// check comes first and the text is read from the descriptor it checked, so a
// file refused is never read, and a symbolic link swapped meanwhile changes nothing.
export function loadModel(path: string, options: LoadOptions = {}): LoadedModel {
  if (options.trust === false) return modelAt(readModelText(path), path);
  return modelOpened(openTrusted(path, 'model file', trustOf(options)), path);
}

// loadModel with the trust check's walk asked in libuv's pool (openTrustedAsync), for the
// daemon's reloads on its event loop; the read that follows is of a file the walk found root's,
// and the id's digest is taken between turns of the loop (parseModelAsync).
// signal aborted: rejects at the walk's next question or the digest's next turn.
export async function loadModelAsync(path: string, options: LoadOptions = {}, signal?: AbortSignal): Promise<LoadedModel> {
  const text = options.trust === false ? readModelText(path) : textOpened(await openTrustedAsync(path, 'model file', trustOf(options), signal), path);
  const model = await parseModelAsync(text, path, signal);
  model.path = path;
  return model;
}

function trustOf(options: LoadOptions): { uid?: number } {
  return options.uid === undefined ? {} : { uid: options.uid };
}

// The model in the file the trust check opened, or its refusal by name.
function modelOpened(opened: TrustedOpen, path: string): LoadedModel {
  return modelAt(textOpened(opened, path), path);
}

// The text of the file the trust check opened, or its refusal by name (loadModel's and
// loadModelAsync's one reading).
function textOpened(opened: TrustedOpen, path: string): string {
  if ('problems' in opened) throw new ModelError(refusal(opened.problems, path), { refused: true });
  return readOpenModel(opened.fd, path);
}

// The trust check's problems as one message naming the file once: each problem about the
// file itself already starts with its name (`model file F is owned by ...`); one about a
// directory, a link or a mount on its path names the file further on.
function refusal(problems: readonly string[], path: string): string {
  const own = `model file ${path} `;
  const text = problems.join('; ');
  return problems.every((p) => p.startsWith(own)) ? text : `model file ${path} refused: ${text}`;
}

function modelAt(text: string, path: string): LoadedModel {
  const model = parseModel(text, path);
  model.path = path;
  return model;
}

// How a model's backbone reads PSI io: as it was fitted (version 2: the host's waiters,
// 3: per busy device; the same on a host with one busy device). A model without
// training.backboneVersion (every model made before 2026-12-06) had its io weight and
// any correction network fitted on "some" read as the host's share, so it is ranked
// that way, as it was validated, until it is retrained (staleBackbone says so).
export function ioCostOf(training: Readonly<TrainingInfo>): IoCost {
  const v = training['backboneVersion'];
  return typeof v === 'number' && v >= 3 ? 'device' : typeof v === 'number' && v >= 2 ? 'waiters' : 'some';
}

// What `lavarank check` and the daemon's log say about a model fitted with an older
// backbone than this build's, or undefined.
// It names the field, not a training date: a model an older build fitted on the day the
// field came (2026-12-06) was "trained 2026-12-06" on the line above.
export function staleBackbone(model: LoadedModel): string | undefined {
  if (ioCostOf(model.file.training) !== 'some') return undefined;
  const v = model.file.training['backboneVersion'];
  return (
    `model ${model.id} has ${v === undefined ? 'no training.backboneVersion' : `training.backboneVersion ${String(v)}`}: an older lavarank fitted it, ` +
    'and it reads PSI io "some" as the host\'s share, which work on other CPUs dilutes ' +
    '(one task keeping a disk saturated ranks lower as CPU work is added); it is ranked as it was fitted until it is retrained: ' +
    'retrain it with this build ("lavarank retrain") to fit it to this build\'s backbone'
  );
}

// One line about a model for logs and `lavarank check`.
export function describeLoaded(model: LoadedModel): string {
  const t = model.file.training;
  const b = t.baselines;
  return (
    `${model.id}, trained ${t.date.slice(0, 10)} on ${t.samples} samples (${t.source.join(', ') || 'unknown source'}); ` +
    `holdout MAE ${t.holdoutMae.toFixed(1)} (mean ${b.mean.toFixed(1)}, load-only ${b.loadOnly.toFixed(1)}, formula ${b.formula.toFixed(1)})`
  );
}
