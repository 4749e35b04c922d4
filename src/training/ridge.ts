// A ridge regression on the model's scaled inputs: the plain statistical baseline a
// model must beat (issue 12). Closed form: the inputs are standardised, the normal
// equations (X'X + λI) β = X'y solved by Cholesky; the intercept is not penalised.
import { RANK_MAX, RANK_MIN } from '../model/rank.js';

// A fitted ridge regression.
export interface RidgeFit {
  intercept: number;
  coef: number[]; // per input, on the original (scaled 0..1) input
  lambda: number;
}

// The default penalty, on standardised inputs: one pseudo-row of zero effect per
// input, enough to keep inputs that never vary or move together from blowing up,
// too little to shrink real effects measured on hundreds of rows.
export const DEFAULT_RIDGE_LAMBDA = 1;

const clampLabel = (x: number): number => Math.min(RANK_MAX, Math.max(RANK_MIN, x));

// Solves the symmetric positive definite system a x = b (Cholesky); a is overwritten.
function cholSolve(a: number[][], b: number[]): number[] {
  const n = b.length;
  for (let j = 0; j < n; j++) {
    let d = a[j]![j]!;
    for (let k = 0; k < j; k++) d -= a[j]![k]! ** 2;
    const l = Math.sqrt(Math.max(d, 1e-12));
    a[j]![j] = l;
    for (let i = j + 1; i < n; i++) {
      let s = a[i]![j]!;
      for (let k = 0; k < j; k++) s -= a[i]![k]! * a[j]![k]!;
      a[i]![j] = s / l;
    }
  }
  const z = new Array<number>(n).fill(0);
  for (let i = 0; i < n; i++) {
    let s = b[i]!;
    for (let k = 0; k < i; k++) s -= a[i]![k]! * z[k]!;
    z[i] = s / a[i]![i]!;
  }
  const x = new Array<number>(n).fill(0);
  for (let i = n - 1; i >= 0; i--) {
    let s = z[i]!;
    for (let k = i + 1; k < n; k++) s -= a[k]![i]! * x[k]!;
    x[i] = s / a[i]![i]!;
  }
  return x;
}

// Fits rank = intercept + Σ coef·x on rows of inputs and labels (labels clamped to the rank's range).
export function fitRidge(xs: readonly (readonly number[])[], labels: readonly number[], lambda = DEFAULT_RIDGE_LAMBDA): RidgeFit {
  const n = xs.length;
  const p = xs[0]?.length ?? 0;
  if (n === 0) return { intercept: 0, coef: new Array<number>(p).fill(0), lambda };
  const y = labels.map(clampLabel);
  const mean = new Array<number>(p).fill(0);
  for (const row of xs) for (let j = 0; j < p; j++) mean[j]! += row[j]! / n;
  const sd = new Array<number>(p).fill(0);
  for (const row of xs) for (let j = 0; j < p; j++) sd[j]! += (row[j]! - mean[j]!) ** 2 / n;
  for (let j = 0; j < p; j++) sd[j] = Math.sqrt(sd[j]!) || 1; // a constant input: any scale, its coefficient ends at 0
  const ym = y.reduce((s, v) => s + v, 0) / n;
  const a = Array.from({ length: p }, (_, i) => Array.from({ length: p }, (_, j) => (i === j ? lambda : 0)));
  const b = new Array<number>(p).fill(0);
  xs.forEach((row, r) => {
    const z = row.map((v, j) => (v - mean[j]!) / sd[j]!);
    for (let i = 0; i < p; i++) {
      b[i]! += z[i]! * (y[r]! - ym);
      for (let j = 0; j <= i; j++) a[i]![j]! += z[i]! * z[j]!;
    }
  });
  for (let i = 0; i < p; i++) for (let j = i + 1; j < p; j++) a[i]![j] = a[j]![i]!;
  const beta = cholSolve(a, b);
  const coef = beta.map((v, j) => v / sd[j]!);
  const intercept = ym - coef.reduce((s, c, j) => s + c * mean[j]!, 0);
  return { intercept, coef, lambda };
}

// The ridge prediction for one input vector.
export function ridgeRank(fit: RidgeFit, x: readonly number[]): number {
  let s = fit.intercept;
  for (let j = 0; j < fit.coef.length; j++) s += fit.coef[j]! * (x[j] ?? 0);
  return s;
}
