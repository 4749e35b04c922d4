// Fits the backbone's parameters (src/model/backbone.ts) to labelled rows: how much
// of the typical job is CPU, memory and io work (each 0..1, pulled gently towards
// the probe's own composition where the data cannot tell them apart), and, by a
// grid search, how the CPU demand mixes the runnable count with the 1-minute load,
// what a paged page costs and from what share of memory used allocations reclaim.
// The fit minimises the absolute error, as the model is judged.
import { BACKBONE_INPUTS, DEFAULT_BACKBONE, NET_WEIGHT, backbone, type BackboneParams } from '../model/backbone.js';
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
// Rounds of reweighting after the first least-squares fit.
export const IRLS_ROUNDS = 12;

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

// The sums weighted least squares needs, taken in one pass over the rows: with
// z = [1, x_1 .. x_p, y], m[u][v] = Σ w z_u z_v. Every combination boxRidgeOfMoments
// tries, its loss and the prior's pull are computed from these (p + 2)² numbers, not
// from the rows. x holds the rows' p columns one row after the other; sw the row
// weights (1 where missing).
export function momentsOf(x: Float64Array, y: readonly number[], sw: readonly number[], p: number): number[][] {
  const m = zeroMoments(p);
  const z = new Array<number>(p + 2).fill(1);
  for (let i = 0; i < y.length; i++) {
    for (let a = 0; a < p; a++) z[a + 1] = x[i * p + a]!;
    z[p + 1] = y[i]!;
    addMoments(m, z, sw[i] ?? 1);
  }
  return symmetric(m);
}

const zeroMoments = (p: number): number[][] => Array.from({ length: p + 2 }, () => new Array<number>(p + 2).fill(0));

function addMoments(m: number[][], z: readonly number[], w: number): void {
  for (let u = 0; u < z.length; u++) {
    const wz = w * z[u]!;
    const mu = m[u]!;
    for (let v = u; v < z.length; v++) mu[v]! += wz * z[v]!;
  }
}

// The upper triangle addMoments fills, mirrored.
function symmetric(m: readonly (readonly number[])[]): number[][] {
  return m.map((row, u) => row.map((v, w) => (w >= u ? v : m[w]![u]!)));
}

// Weighted least squares of y on an intercept (free, not penalised) and columns whose
// weights stay within 0..upper, with a ridge pull of the weights towards prior, from
// the rows' moments (momentsOf). Every combination of weights at 0, free or at upper
// is solved exactly and the best feasible one kept (3³ combinations for three
// columns: exact, and cheap, since none of them looks at the rows again).
export function boxRidgeOfMoments(s: readonly (readonly number[])[], prior: readonly number[], lambda: number, upper: number): { intercept: number; weights: number[] } {
  const p = prior.length;
  const yAt = p + 1;
  // Σ w (y - c - x·β)² is the quadratic form gᵀ S g with g = [-c, -β, 1].
  const loss = (c: number, beta: readonly number[]): number => {
    const g = [-c, ...beta.map((b) => -b), 1];
    let l = 0;
    for (let u = 0; u < g.length; u++) for (let v = 0; v < g.length; v++) l += g[u]! * s[u]![v]! * g[v]!;
    for (let a = 0; a < p; a++) l += lambda * (beta[a]! - prior[a]!) ** 2;
    return l;
  };
  let best = { intercept: 0, weights: new Array<number>(p).fill(0) };
  let bestLoss = Infinity;
  for (let code = 0; code < 3 ** p; code++) {
    // state[a]: 0 at zero, 1 free, 2 at the upper bound.
    const state = [...Array(p).keys()].map((a) => Math.floor(code / 3 ** a) % 3);
    const free = [...Array(p).keys()].filter((a) => state[a] === 1);
    const fixed = (a: number): number => (state[a] === 2 ? upper : 0);
    // Unknowns: the intercept, then the free weights (their z indices); the fixed weights move to the right side.
    const at = [0, ...free.map((a) => a + 1)];
    const m = at.map((u) => at.map((v) => s[u]![v]!));
    const r = at.map((u) => {
      let t = s[u]![yAt]!;
      for (let a = 0; a < p; a++) if (state[a] !== 1) t -= fixed(a) * s[u]![a + 1]!;
      return t;
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
// with a weight that means nothing. Each round passes over the rows once.
export function absoluteFit(x: Float64Array, y: readonly number[], prior: readonly number[]): { intercept: number; weights: number[] } {
  const p = prior.length;
  // The pull is relative to the (weighted) data's own scale (the weighted sum of
  // squares of the columns), so that it stays as weak against the data whatever the
  // row weights of a round are.
  const fitOf = (moments: number[][]): { intercept: number; weights: number[] } => {
    let scale = 0;
    for (let a = 1; a <= p; a++) scale += moments[a]![a]!;
    return boxRidgeOfMoments(moments, prior, (PRIOR_STRENGTH * scale) / 3, MAX_WEIGHT);
  };
  let fit = fitOf(momentsOf(x, y, [], p));
  const z = new Array<number>(p + 2).fill(1);
  for (let round = 0; round < IRLS_ROUNDS; round++) {
    // |e| = e² / |e|: weights 1 / |e| turn squares into absolute values; the floor of
    // one rank point keeps rows the fit already matches from dominating.
    const m = zeroMoments(p);
    for (let i = 0; i < y.length; i++) {
      let e = y[i]! - fit.intercept;
      for (let a = 0; a < p; a++) {
        z[a + 1] = x[i * p + a]!;
        e -= z[a + 1]! * fit.weights[a]!;
      }
      z[p + 1] = y[i]!;
      addMoments(m, z, 1 / Math.max(1, Math.abs(e)));
    }
    fit = fitOf(symmetric(m));
  }
  return fit;
}

// What fitBackbone found: the parameters, and the backbone's mean absolute error
// (without the level) on the rows they were fitted on.
export interface BackboneFit {
  params: BackboneParams;
  mae: number;
  gridPoints: number; // of the grid's points, how many were tried (all, unless stopped)
}

// The number of points of BACKBONE_GRID.
export const BACKBONE_GRID_POINTS = BACKBONE_GRID.runnableWeight.length * BACKBONE_GRID.secondsPerPage.length * BACKBONE_GRID.memFullFrom.length;

// The fit one grid point at a time: yields the best so far after each point, so that a
// caller can stop it (a deadline, Ctrl-C) or give the event loop a turn, and returns
// the best of the whole grid. One point costs a pass over the rows per IRLS round.
export function* backboneFitSteps(rows: readonly BackboneRow[], prior: Readonly<BackboneParams> = DEFAULT_BACKBONE): Generator<BackboneFit, BackboneFit> {
  const y = rows.map((r) => clampLabel(r.label));
  // The network part is not fitted (NET_WEIGHT is assumed) and depends on no grid
  // parameter: the weights are fitted to what it leaves of each label.
  const fixed = new Float64Array(rows.length);
  const width = BACKBONE_INPUTS.length;
  const packed = new Float64Array(width * rows.length);
  rows.forEach((r, i) => BACKBONE_INPUTS.forEach((k, a) => (packed[i * width + a] = r.named[k] ?? NaN)));
  const input: Record<string, number> = Object.fromEntries(BACKBONE_INPUTS.map((k) => [k, NaN]));
  for (let i = 0; i < rows.length; i++) {
    for (let a = 0; a < width; a++) input[BACKBONE_INPUTS[a]!] = packed[i * width + a]!;
    fixed[i] = NET_WEIGHT * backbone(input, prior).net;
  }
  const target = y.map((v, i) => v - fixed[i]!);
  const priorWeights = [prior.weights.cpu, prior.weights.mem, prior.weights.io];
  let best: BackboneFit = { params: { ...prior, weights: { ...prior.weights } }, mae: NaN, gridPoints: 0 };
  if (rows.length === 0) return best;
  let bestFit = Infinity;
  let tried = 0;
  // The per-resource slowdowns of a grid point, reused: 3 numbers a row, not an array each.
  const x = new Float64Array(3 * rows.length);
  // The backbone runs once a row at every grid point: on the values it reads alone,
  // packed above (NaN for missing, which it takes as missing too) and put back into one
  // object of one shape for each call, which it reads several times faster than rows.
  for (const runnableWeight of BACKBONE_GRID.runnableWeight) {
    for (const secondsPerPage of BACKBONE_GRID.secondsPerPage) {
      for (const memFullFrom of BACKBONE_GRID.memFullFrom) {
        const shape: BackboneParams = { weights: { cpu: 1, mem: 0, io: 0 }, runnableWeight, secondsPerPage, memFullFrom };
        for (let i = 0; i < rows.length; i++) {
          for (let a = 0; a < width; a++) input[BACKBONE_INPUTS[a]!] = packed[i * width + a]!;
          const b = backbone(input, shape);
          x[3 * i] = b.cpu;
          x[3 * i + 1] = b.mem;
          x[3 * i + 2] = b.io;
        }
        const fit = absoluteFit(x, target, priorWeights);
        const [cpu, mem, io] = fit.weights as [number, number, number];
        // Grid points are compared as fitted, level included; the backbone ships without it.
        let withLevel = 0;
        let alone = 0;
        for (let i = 0; i < rows.length; i++) {
          const b = cpu * x[3 * i]! + mem * x[3 * i + 1]! + io * x[3 * i + 2]! + fixed[i]!;
          withLevel += Math.abs(y[i]! - clampLabel(fit.intercept + b));
          alone += Math.abs(y[i]! - clampLabel(b));
        }
        tried += 1;
        if (withLevel < bestFit) {
          bestFit = withLevel;
          best = { params: { weights: { cpu, mem, io }, runnableWeight, secondsPerPage, memFullFrom }, mae: alone / rows.length, gridPoints: tried };
        }
        best = { ...best, gridPoints: tried };
        if (tried < BACKBONE_GRID_POINTS) yield best;
      }
    }
  }
  return best;
}

// The fitted parameters over the whole grid (backboneFitSteps run to the end).
export function fitBackbone(rows: readonly BackboneRow[], prior: Readonly<BackboneParams> = DEFAULT_BACKBONE): BackboneFit {
  const steps = backboneFitSteps(rows, prior);
  for (;;) {
    const step = steps.next();
    if (step.done === true) return step.value;
  }
}
