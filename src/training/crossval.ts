// Grouped, repeated k-fold validation of the whole training recipe (backbone fit and
// correction network) against the simpler predictors it must beat, each refitted on
// every training part: the backbone alone, a ridge regression on the same inputs,
// the load-only line, the mean, and the formula (unfitted). Whole groups (stressor
// configurations) are held out together, so a held-out run never has a twin from
// the same configuration in training. What `npm run eval-model` prints and what
// decides whether `npm run train-default` writes the default model.
import { modelFromFile, type LoadedModel } from '../model/model.js';
import { clampRank } from '../model/rank.js';
import { ConfigError } from '../util/errors.js';
import { gateDecision, groupBootstrap, groupFolds, type EvalEntry, type GateResult, type MaeInterval } from './evaluate.js';
import { linearPredict } from './linear.js';
import { backboneRank, fitBaselines, fitModel, formulaRank, loadOnlyRank, type Baselines, type TrainOptions, type TrainingRow } from './train.js';

// How the validation is run.
export interface CrossValOptions {
  folds: number; // default 5
  repeats: number; // fold assignments, each with its own seed; default 3
  seed: number; // default 1
  onFold?: (done: number, total: number) => void;
}

// The predictors compared, in table order.
export const PREDICTORS = ['model', 'backbone', 'ridge', 'loadOnly', 'mean', 'formula'] as const;
export type Predictor = (typeof PREDICTORS)[number];

// Each predictor's rank for one row, unclamped: the model, its own backbone, and the
// baselines fitted on the same training rows.
export function predictAll(model: LoadedModel, base: Baselines, row: TrainingRow): Record<Predictor, number> {
  return {
    model: model.predict(row),
    backbone: backboneRank(row.named, model.file.backbone),
    ridge: linearPredict(base.ridge, row.values),
    loadOnly: loadOnlyRank(base.loadOnly, row),
    mean: base.meanLabel,
    formula: formulaRank(row),
  };
}

// What the validation found.
export interface CrossValResult {
  rows: number;
  groups: number;
  folds: number;
  repeats: number;
  mae: Record<Predictor, MaeInterval>; // per-row errors averaged over repeats, interval by group bootstrap
  perRepeat: Record<Predictor, number[]>; // the MAE of each repeat
  difference: { ridge: MaeInterval; backbone: MaeInterval }; // model minus each, paired by row
  backboneMinusRidge: MaeInterval; // what ships when the network fails the gate, against the ridge, paired by row
  gate: GateResult;
}

// Runs the validation; rows need a group (rows without one form a group each). Fewer
// than two groups, or fewer than two folds, leave no fold anything to train on: its
// rows would be scored by nothing and count as errors of 0, so that is refused.
export async function crossValidate(rows: readonly TrainingRow[], train: TrainOptions, o: CrossValOptions): Promise<CrossValResult> {
  const groups = rows.map((r, i) => r.group ?? `row ${i}`);
  if (!Number.isInteger(o.folds) || o.folds < 2) throw new ConfigError(`folds: expected an integer of at least 2, received ${String(o.folds)}`);
  const distinct = new Set(groups).size;
  if (distinct < 2) {
    throw new ConfigError(`grouped validation needs rows from at least 2 stressor configurations, to hold one out while training on another; the ${rows.length} rows have ${distinct}`);
  }
  const err = Object.fromEntries(PREDICTORS.map((p) => [p, rows.map(() => 0)])) as Record<Predictor, number[]>;
  const signedModelMinus = { ridge: rows.map(() => 0), backbone: rows.map(() => 0) };
  const signedBackboneMinusRidge = rows.map(() => 0);
  const perRepeat = Object.fromEntries(PREDICTORS.map((p) => [p, [] as number[]])) as Record<Predictor, number[]>;
  const total = o.folds * o.repeats;
  let done = 0;
  for (let r = 0; r < o.repeats; r++) {
    const fold = groupFolds(groups, o.folds, o.seed + 7919 * r);
    const repeatErr = Object.fromEntries(PREDICTORS.map((p) => [p, 0])) as Record<Predictor, number>;
    for (let f = 0; f < o.folds; f++) {
      const trainRows = rows.filter((_, i) => fold[i] !== f);
      const testIdx = rows.map((_, i) => i).filter((i) => fold[i] === f);
      if (testIdx.length === 0 || trainRows.length === 0) continue;
      const { model } = await fitModel(trainRows, { ...train, seed: (train.seed ?? 1) + 101 * r + f, onProgress: undefined });
      const loaded = modelFromFile(model, `fold ${f + 1} of repeat ${r + 1}`);
      const base = fitBaselines(trainRows);
      for (const i of testIdx) {
        const row = rows[i]!;
        const y = clampRank(row.label);
        const pred = predictAll(loaded, base, row);
        for (const p of PREDICTORS) {
          const e = Math.abs(clampRank(pred[p]) - y);
          err[p][i]! += e / o.repeats;
          repeatErr[p] += e;
        }
        const me = Math.abs(clampRank(pred.model) - y);
        signedModelMinus.ridge[i]! += (me - Math.abs(clampRank(pred.ridge) - y)) / o.repeats;
        signedModelMinus.backbone[i]! += (me - Math.abs(clampRank(pred.backbone) - y)) / o.repeats;
        signedBackboneMinusRidge[i]! += (Math.abs(clampRank(pred.backbone) - y) - Math.abs(clampRank(pred.ridge) - y)) / o.repeats;
      }
      o.onFold?.(++done, total);
    }
    for (const p of PREDICTORS) perRepeat[p].push(repeatErr[p] / rows.length);
  }
  const mae = Object.fromEntries(PREDICTORS.map((p) => [p, groupBootstrap(err[p], groups, o.seed)])) as Record<Predictor, MaeInterval>;
  return {
    rows: rows.length,
    groups: new Set(groups).size,
    folds: o.folds,
    repeats: o.repeats,
    mae,
    perRepeat,
    difference: { ridge: groupBootstrap(signedModelMinus.ridge, groups, o.seed), backbone: groupBootstrap(signedModelMinus.backbone, groups, o.seed) },
    backboneMinusRidge: groupBootstrap(signedBackboneMinusRidge, groups, o.seed),
    gate: gateDecision({ model: mae.model.mae, backbone: mae.backbone.mae, ridge: mae.ridge.mae }),
  };
}

// The table rows for a result, with what each predictor is.
export function crossValEntries(r: CrossValResult): EvalEntry[] {
  const spread = (xs: number[]): string => xs.map((x) => x.toFixed(1)).join(', ');
  return [
    { name: 'backbone + network', interval: r.mae.model, note: `the full recipe, a monotone correction network on the backbone; per repeat ${spread(r.perRepeat.model)}` },
    { name: 'backbone alone', interval: r.mae.backbone, note: `src/model/backbone.ts, weights fitted per fold; per repeat ${spread(r.perRepeat.backbone)}` },
    { name: 'ridge regression', interval: r.mae.ridge, note: 'closed form on the same inputs (src/training/linear.ts, as retrain)' },
    { name: 'load-only line', interval: r.mae.loadOnly, note: 'a + b × load1 per CPU' },
    { name: 'mean', interval: r.mae.mean, note: 'the training folds\' mean slowdown' },
    { name: 'formula', interval: r.mae.formula, note: 'the daemon\'s fallback, unfitted' },
  ];
}
