// Ridge regression in closed form: rank = intercept + Σ weight × scaled feature,
// the weights solving (XᵀX + λI) w = Xᵀy. The straight-line model every learnt model
// must beat; fitted from sums accumulated one row at a time, so a million training
// jobs cost the memory of one (n+1)² matrix.

// A fitted linear predictor over the model's scaled feature vector.
export interface LinearModel {
  intercept: number;
  weights: number[];
  rows: number;
}

// Accumulates XᵀX and Xᵀy over rows, then solves.
export class RidgeFit {
  private readonly n: number; // features + 1 (the intercept, last)
  private readonly xtx: Float64Array;
  private readonly xty: Float64Array;
  private readonly x: Float64Array;
  rows = 0;

  constructor(features: number) {
    this.n = features + 1;
    this.xtx = new Float64Array(this.n * this.n);
    this.xty = new Float64Array(this.n);
    this.x = new Float64Array(this.n);
  }

  // Adds one row: its feature values and its label.
  add(values: ArrayLike<number>, label: number): void {
    const { n, x, xtx, xty } = this;
    for (let i = 0; i < n - 1; i++) x[i] = values[i] ?? 0;
    x[n - 1] = 1;
    for (let i = 0; i < n; i++) {
      const xi = x[i] ?? 0;
      if (xi === 0) continue;
      xty[i]! += xi * label;
      for (let j = 0; j < n; j++) xtx[i * n + j]! += xi * (x[j] ?? 0);
    }
    this.rows += 1;
  }

  // The weights for a ridge penalty of `lambda` per row (the intercept is not penalised).
  // A feature that never varies gets weight 0 rather than an arbitrary one.
  solve(lambda = 1e-3): LinearModel {
    const { n } = this;
    const a = Float64Array.from(this.xtx);
    const b = Float64Array.from(this.xty);
    for (let i = 0; i < n - 1; i++) a[i * n + i]! += lambda * Math.max(1, this.rows);
    const w = solveSymmetric(a, b, n);
    return { intercept: w[n - 1] ?? 0, weights: Array.from(w.subarray(0, n - 1)), rows: this.rows };
  }
}

// Solves A w = b for a symmetric positive definite A (n × n, row-major) by Cholesky;
// a pivot that vanishes (a column of zeros) gives that unknown 0.
function solveSymmetric(a: Float64Array, b: Float64Array, n: number): Float64Array {
  const l = new Float64Array(n * n);
  for (let j = 0; j < n; j++) {
    let d = a[j * n + j] ?? 0;
    for (let k = 0; k < j; k++) d -= (l[j * n + k] ?? 0) ** 2;
    const ljj = d > 1e-12 ? Math.sqrt(d) : 0;
    l[j * n + j] = ljj;
    for (let i = j + 1; i < n; i++) {
      let s = a[i * n + j] ?? 0;
      for (let k = 0; k < j; k++) s -= (l[i * n + k] ?? 0) * (l[j * n + k] ?? 0);
      l[i * n + j] = ljj === 0 ? 0 : s / ljj;
    }
  }
  const y = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let s = b[i] ?? 0;
    for (let k = 0; k < i; k++) s -= (l[i * n + k] ?? 0) * (y[k] ?? 0);
    const lii = l[i * n + i] ?? 0;
    y[i] = lii === 0 ? 0 : s / lii;
  }
  const w = new Float64Array(n);
  for (let i = n - 1; i >= 0; i--) {
    let s = y[i] ?? 0;
    for (let k = i + 1; k < n; k++) s -= (l[k * n + i] ?? 0) * (w[k] ?? 0);
    const lii = l[i * n + i] ?? 0;
    w[i] = lii === 0 ? 0 : s / lii;
  }
  return w;
}

// The linear model's prediction for a scaled feature vector.
export function linearPredict(model: LinearModel, values: ArrayLike<number>): number {
  let y = model.intercept;
  for (let i = 0; i < model.weights.length; i++) y += (model.weights[i] ?? 0) * (values[i] ?? 0);
  return y;
}
