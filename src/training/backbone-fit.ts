// Fits the backbone's parameters (src/model/backbone.ts) to labelled rows: how much
// of the typical job is CPU, memory and io work (each 0..1, pulled gently towards
// the probe's own composition where the data cannot tell them apart), and, by a
// grid search, how the CPU demand mixes the runnable count with the 1-minute load,
// what a paged page costs and from what share of memory used allocations reclaim.
// The fit minimises the absolute error, as the model is judged.
import { DEFAULT_BACKBONE, backbone, type BackboneParams } from '../model/backbone.js';
import { RANK_MAX, RANK_MIN } from '../model/rank.js';

// A row the backbone can be fitted on: raw named values and the measured slowdown.
export interface BackboneRow {
  named: Readonly<Record<string, number | null>>;
  label: number;
}

// The grid of the parameters that enter the backbone non-linearly.
export const BACKBONE_GRID = {
  runnableWeight: [0, 0.25, 0.5, 0.75, 1],
  secondsPerPage: [3e-7, 1e-6, 3e-6, 1e-5, 3e-5, 1e-4],
  memFullFrom: [0.75, 0.8, 0.85, 0.9, 0.95],
} as const;

// How strongly the weights are pulled towards the prior, as a share of the data's
// own scale (the weighted sum of squares of the columns): enough to settle weights
// the data leaves free (memory work when nothing in the data stalls memory), too
// little to move ones it determines.
const PRIOR_STRENGTH = 0.01;
// A weight is the share of the typical job's time spent on a resource: at most 1.
const MAX_WEIGHT = 1;
const IRLS_ROUNDS = 12;

const clampLabel = (x: number): number => Math.min(RANK_MAX, Math.max(RANK_MIN, x));

// Solves the small system A x = b by Gaussian elimination; undefined if singular.
function solve(a: number[][], b: number[]): number[] | undefined {
  const n = b.length;
  const m = a.map((row, i) => [...row, b[i]!]);
  for (let c = 0; c < n; c++) {
    let p = c;
    for (let r = c + 1; r < n; r++) if (Math.abs(m[r]![c]!) > Math.abs(m[p]![c]!)) p = r;
    if (Math.abs(m[p]![c]!) < 1e-12) return undefined;
    [m[c], m[p]] = [m[p]!, m[c]!];
    for (let r = 0; r < n; r++) {
      if (r === c) continue;
      const f = m[r]![c]! / m[c]![c]!;
      for (let k = c; k <= n; k++) m[r]![k]! -= f * m[c]![k]!;
    }
  }
  return m.map((row, i) => row[n]! / row[i]!);
}

// Weighted least squares of y on an intercept (free, not penalised) and columns whose
// weights stay within 0..upper, with a ridge pull of the weights towards prior. Every
// combination of weights at 0, free or at upper is solved exactly and the best
// feasible one kept (3³ combinations for three columns: exact, and cheap).
export function boxRidge(
  x: readonly (readonly number[])[],
  y: readonly number[],
  sw: readonly number[],
  prior: readonly number[],
  lambda: number,
  upper: number,
): { intercept: number; weights: number[] } {
  const p = prior.length;
  const loss = (c: number, beta: readonly number[]): number => {
    let s = 0;
    x.forEach((row, i) => {
      let e = y[i]! - c;
      for (let a = 0; a < p; a++) e -= row[a]! * beta[a]!;
      s += (sw[i] ?? 1) * e * e;
    });
    for (let a = 0; a < p; a++) s += lambda * (beta[a]! - prior[a]!) ** 2;
    return s;
  };
  let best = { intercept: 0, weights: new Array<number>(p).fill(0) };
  let bestLoss = Infinity;
  for (let code = 0; code < 3 ** p; code++) {
    // state[a]: 0 at zero, 1 free, 2 at the upper bound.
    const state = [...Array(p).keys()].map((a) => Math.floor(code / 3 ** a) % 3);
    const free = [...Array(p).keys()].filter((a) => state[a] === 1);
    const fixed = (a: number): number => (state[a] === 2 ? upper : 0);
    // Unknowns: the intercept, then the free weights; the fixed weights move to the right side.
    const n = free.length + 1;
    const m = Array.from({ length: n }, () => new Array<number>(n).fill(0));
    const r = new Array<number>(n).fill(0);
    x.forEach((row, i) => {
      const w = sw[i] ?? 1;
      let target = y[i]!;
      for (let a = 0; a < p; a++) if (state[a] !== 1) target -= row[a]! * fixed(a);
      const z = [1, ...free.map((a) => row[a]!)];
      for (let u = 0; u < n; u++) {
        r[u]! += w * z[u]! * target;
        for (let v = 0; v < n; v++) m[u]![v]! += w * z[u]! * z[v]!;
      }
    });
    free.forEach((a, k) => {
      m[k + 1]![k + 1]! += lambda;
      r[k + 1]! += lambda * prior[a]!;
    });
    const sol = solve(m, r);
    if (sol === undefined) continue;
    const weights = [...Array(p).keys()].map((a) => (state[a] === 1 ? sol[free.indexOf(a) + 1]! : fixed(a)));
    if (weights.some((v) => v < -1e-12 || v > upper + 1e-12)) continue;
    const l = loss(sol[0]!, weights);
    if (l < bestLoss) {
      bestLoss = l;
      best = { intercept: sol[0]!, weights: weights.map((v) => Math.min(upper, Math.max(0, v))) };
    }
  }
  return best;
}

// The weights minimising the absolute error (iteratively reweighted least squares),
// beside a free intercept that is fitted and then left out: the backbone of an idle
// host is 0, and whatever level the labels have besides (a baseline the idle runs
// miss, a site's jobs that are slower everywhere) is the correction network's to
// learn. Without it, any column that is never negative would stand in for the level,
// with a weight that means nothing.
function absoluteFit(x: readonly number[][], y: readonly number[], prior: readonly number[]): { intercept: number; weights: number[] } {
  // The pull is relative to the (weighted) data's own scale, so that it stays as weak
  // against the data whatever the row weights of a round are.
  const pull = (sw: readonly number[]): number => (PRIOR_STRENGTH * x.reduce((s, row, i) => s + sw[i]! * row.reduce((t, v) => t + v * v, 0), 0)) / 3;
  let sw = y.map(() => 1);
  let fit = boxRidge(x, y, sw, prior, pull(sw), MAX_WEIGHT);
  for (let round = 0; round < IRLS_ROUNDS; round++) {
    // |e| = e² / |e|: weights 1 / |e| turn squares into absolute values; the floor of
    // one rank point keeps rows the fit already matches from dominating.
    const f = fit;
    sw = x.map((row, i) => 1 / Math.max(1, Math.abs(y[i]! - f.intercept - row[0]! * f.weights[0]! - row[1]! * f.weights[1]! - row[2]! * f.weights[2]!)));
    fit = boxRidge(x, y, sw, prior, pull(sw), MAX_WEIGHT);
  }
  return fit;
}

// The fitted parameters, and the backbone's mean absolute error (without the level)
// on the rows they were fitted on.
export function fitBackbone(rows: readonly BackboneRow[], prior: Readonly<BackboneParams> = DEFAULT_BACKBONE): { params: BackboneParams; mae: number } {
  const y = rows.map((r) => clampLabel(r.label));
  const priorWeights = [prior.weights.cpu, prior.weights.mem, prior.weights.io];
  let best: { params: BackboneParams; mae: number } = { params: { ...prior, weights: { ...prior.weights } }, mae: NaN };
  if (rows.length === 0) return best;
  let bestFit = Infinity;
  for (const runnableWeight of BACKBONE_GRID.runnableWeight) {
    for (const secondsPerPage of BACKBONE_GRID.secondsPerPage) {
      for (const memFullFrom of BACKBONE_GRID.memFullFrom) {
        const shape: BackboneParams = { weights: { cpu: 1, mem: 0, io: 0 }, runnableWeight, secondsPerPage, memFullFrom };
        const x = rows.map((r) => {
          const b = backbone(r.named, shape);
          return [b.cpu, b.mem, b.io];
        });
        const fit = absoluteFit(x, y, priorWeights);
        const [cpu, mem, io] = fit.weights as [number, number, number];
        // Grid points are compared as fitted, level included; the backbone ships without it.
        let withLevel = 0;
        let alone = 0;
        x.forEach((row, i) => {
          const b = cpu * row[0]! + mem * row[1]! + io * row[2]!;
          withLevel += Math.abs(y[i]! - clampLabel(fit.intercept + b));
          alone += Math.abs(y[i]! - clampLabel(b));
        });
        if (withLevel < bestFit) {
          bestFit = withLevel;
          best = { params: { weights: { cpu, mem, io }, runnableWeight, secondsPerPage, memFullFrom }, mae: alone / rows.length };
        }
      }
    }
  }
  return best;
}
