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

// Measured slowdowns closer than this, in rank points, are not a placement decision:
// order agreement counts only pairs of runs at least this far apart.
export const ORDER_MIN_GAP = 10;

// The orders compared on held-out pairs: each predictor's rank as reported (clamped), and
// the 1-minute load per CPU as /proc/loadavg gives it, which is what LIM's r15s is on Linux
// and so what OpenLava's default order, r15s:pg, sorts by among hosts of one kind
// (docs/simulate.md, "r15s"; none of these runs paged, so pg decides nothing).
export const ORDERS = [...PREDICTORS, 'lsfLoad'] as const;
export type Order = (typeof ORDERS)[number];

// For each row of one held-out fold, how many of its pairs with rows of other
// configurations (measured labels at least minGap apart) a score puts in the measured
// order, ties counting half, and how many such pairs it has. Rows of one configuration
// are not paired: placement chooses between hosts in different states.
export function pairOrder(labels: readonly number[], scores: readonly number[], groups: readonly string[], minGap = ORDER_MIN_GAP): { right: number[]; pairs: number[] } {
  if (scores.length !== labels.length || groups.length !== labels.length) {
    throw new ConfigError(`pairOrder: expected as many scores and groups as labels (${labels.length}), received ${scores.length} and ${groups.length}`);
  }
  const right = labels.map(() => 0);
  const pairs = labels.map(() => 0);
  for (let i = 0; i < labels.length; i++) {
    for (let j = i + 1; j < labels.length; j++) {
      if (groups[i] === groups[j]) continue;
      const gap = labels[i]! - labels[j]!;
      if (Math.abs(gap) < minGap) continue;
      const s = scores[i]! - scores[j]!;
      const credit = s === 0 ? 0.5 : Math.sign(s) === Math.sign(gap) ? 1 : 0;
      right[i]! += credit;
      right[j]! += credit;
      pairs[i]!++;
      pairs[j]!++;
    }
  }
  return { right, pairs };
}

// A least-squares line y = intercept + slope × x.
export function fitLine(xs: readonly number[], ys: readonly number[]): { intercept: number; slope: number } {
  const n = xs.length;
  if (n === 0) return { intercept: 0, slope: 0 };
  const mx = xs.reduce((a, x) => a + x, 0) / n;
  const my = ys.reduce((a, y) => a + y, 0) / n;
  let sxx = 0;
  let sxy = 0;
  for (let i = 0; i < n; i++) {
    sxx += (xs[i]! - mx) ** 2;
    sxy += (xs[i]! - mx) * (ys[i]! - my);
  }
  const slope = sxx > 1e-12 ? sxy / sxx : 0;
  return { intercept: my - slope * mx, slope };
}

// The checks against OpenLava's default order on the same held-out runs, when every row
// carries the load as read (calibration rows do): a line fitted on that load, its MAE
// and the backbone's paired margins; and every order's agreement with the measured one.
export interface DefaultOrderCheck {
  lsfLoadLine: MaeInterval; // MAE of a line on the 1-minute load per CPU as read (r15s)
  backboneMinusLoadOnly: MaeInterval; // MAE, paired by row
  backboneMinusLsfLoadLine: MaeInterval; // MAE, paired by row
  order: Record<Order, MaeInterval>; // share of pairs ordered as measured (0.5: a coin)
  orderBackboneMinusLsfLoad: MaeInterval; // paired by row
  orderBackboneMinusLoadOnly: MaeInterval; // paired by row
  pairs: number; // pairs counted, summed over repeats
  rowsPaired: number; // rows with at least one pair
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
  defaultOrder?: DefaultOrderCheck; // absent when a row lacks the load as read
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
  const withLoad = rows.every((r) => r.rawLoad1PerCpu !== undefined);
  const lsfErr = rows.map(() => 0);
  const right = Object.fromEntries(ORDERS.map((p) => [p, rows.map(() => 0)])) as Record<Order, number[]>;
  const pairs = rows.map(() => 0);
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
      const lsfLine = withLoad ? fitLine(trainRows.map((t) => t.rawLoad1PerCpu!), trainRows.map((t) => clampRank(t.label))) : undefined;
      const scores = Object.fromEntries(ORDERS.map((p) => [p, [] as number[]])) as Record<Order, number[]>;
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
        for (const p of PREDICTORS) scores[p].push(clampRank(pred[p]));
        if (lsfLine !== undefined) {
          lsfErr[i]! += Math.abs(clampRank(lsfLine.intercept + lsfLine.slope * row.rawLoad1PerCpu!) - y) / o.repeats;
          scores.lsfLoad.push(row.rawLoad1PerCpu!);
        }
      }
      if (withLoad) {
        const labels = testIdx.map((i) => clampRank(rows[i]!.label));
        const testGroups = testIdx.map((i) => groups[i]!);
        for (const p of ORDERS) {
          const counted = pairOrder(labels, scores[p], testGroups);
          testIdx.forEach((i, k) => {
            right[p][i]! += counted.right[k]!;
            if (p === 'lsfLoad') pairs[i]! += counted.pairs[k]!;
          });
        }
      }
      o.onFold?.(++done, total);
    }
    for (const p of PREDICTORS) perRepeat[p].push(repeatErr[p] / rows.length);
  }
  const mae = Object.fromEntries(PREDICTORS.map((p) => [p, groupBootstrap(err[p], groups, o.seed)])) as Record<Predictor, MaeInterval>;
  let defaultOrder: DefaultOrderCheck | undefined;
  if (withLoad) {
    const paired = rows.map((_, i) => i).filter((i) => pairs[i]! > 0);
    const pairedGroups = paired.map((i) => groups[i]!);
    const share = (p: Order): number[] => paired.map((i) => right[p][i]! / pairs[i]!);
    defaultOrder = {
      lsfLoadLine: groupBootstrap(lsfErr, groups, o.seed),
      backboneMinusLoadOnly: groupBootstrap(err.backbone.map((e, i) => e - err.loadOnly[i]!), groups, o.seed),
      backboneMinusLsfLoadLine: groupBootstrap(err.backbone.map((e, i) => e - lsfErr[i]!), groups, o.seed),
      order: Object.fromEntries(ORDERS.map((p) => [p, groupBootstrap(share(p), pairedGroups, o.seed)])) as Record<Order, MaeInterval>,
      orderBackboneMinusLsfLoad: groupBootstrap(share('backbone').map((x, k) => x - share('lsfLoad')[k]!), pairedGroups, o.seed),
      orderBackboneMinusLoadOnly: groupBootstrap(share('backbone').map((x, k) => x - share('loadOnly')[k]!), pairedGroups, o.seed),
      pairs: pairs.reduce((a, n) => a + n, 0) / 2,
      rowsPaired: paired.length,
    };
  }
  return {
    rows: rows.length,
    groups: new Set(groups).size,
    folds: o.folds,
    repeats: o.repeats,
    mae,
    perRepeat,
    difference: { ridge: groupBootstrap(signedModelMinus.ridge, groups, o.seed), backbone: groupBootstrap(signedModelMinus.backbone, groups, o.seed) },
    backboneMinusRidge: groupBootstrap(signedBackboneMinusRidge, groups, o.seed),
    ...(defaultOrder === undefined ? {} : { defaultOrder }),
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
    { name: 'load-only line', interval: r.mae.loadOnly, note: 'a + b × load1 per CPU, the load bounded as the model reads it' },
    { name: 'mean', interval: r.mae.mean, note: 'the training folds\' mean slowdown' },
    { name: 'formula', interval: r.mae.formula, note: 'the daemon\'s fallback, unfitted' },
  ];
}
