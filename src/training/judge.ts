// One judge for every way of predicting a job's slowdown: each candidate (the new
// model, the installed one, the embedded default, linear regression, the physical
// backbone and the reference baselines) sees the same held-out jobs, through the same
// features, and is scored against the same labels. No candidate gets labels of its
// own scale or rows of its own choosing, so the table compares like with like.
import type { Features } from '../model/features.js';
import { clampRank } from '../model/rank.js';

// A predictor of the rank for a host's state; `predict` absent means it is not
// available for this run, and the note says why.
export interface Candidate {
  name: string;
  note: string;
  predict?: (features: Features) => number;
}

// One held-out job: its host's features at its start and its label.
export interface HeldOutRow {
  features: Features;
  label: number; // percent slowdown
}

// A candidate's score on the held-out rows.
export interface Verdict {
  name: string;
  note: string;
  mae: number | null; // rank points; null when the candidate was not available
  n: number;
  predictions?: Float32Array; // per held-out row, clamped to the rank's range
}

// What judge() returns: every candidate's verdict, in the order given, and the labels.
export interface Judgement {
  verdicts: Verdict[];
  labels: Float32Array; // clamped to the rank's range, as scored
}

// Scores every candidate on the same rows, in one pass (each row's features are
// computed once, by the caller, and shared). Predictions and labels are clamped to the
// rank's range, as LIM receives ranks.
export function judge(candidates: readonly Candidate[], rows: Iterable<HeldOutRow>, count: number): Judgement {
  const labels = new Float32Array(count);
  const preds = candidates.map((c) => (c.predict === undefined ? undefined : new Float32Array(count)));
  const sums = candidates.map(() => 0);
  let n = 0;
  for (const row of rows) {
    if (n >= count) throw new RangeError(`judge: more than the ${count} rows announced`);
    const y = clampRank(row.label);
    labels[n] = y;
    candidates.forEach((c, k) => {
      if (c.predict === undefined) return;
      const p = clampRank(c.predict(row.features));
      (preds[k] as Float32Array)[n] = p;
      sums[k] = (sums[k] ?? 0) + Math.abs(p - y);
    });
    n += 1;
  }
  if (n !== count) throw new RangeError(`judge: ${n} rows, ${count} announced`);
  const verdicts = candidates.map((c, k): Verdict => {
    const p = preds[k];
    const v: Verdict = { name: c.name, note: c.note, mae: p === undefined || n === 0 ? null : (sums[k] ?? 0) / n, n };
    if (p !== undefined) v.predictions = p;
    return v;
  });
  return { verdicts, labels };
}

// Mean and standard error of the paired difference |a − label| − |b − label| over the
// same jobs, so that "better by 0.3" can be told from noise.
export function pairedDifference(a: ArrayLike<number>, b: ArrayLike<number>, labels: ArrayLike<number>): { mean: number; se: number } {
  const n = labels.length;
  if (n < 2) return { mean: NaN, se: NaN };
  let sum = 0;
  let sumSq = 0;
  for (let i = 0; i < n; i++) {
    const y = clampRank(labels[i] ?? NaN);
    const d = Math.abs((a[i] ?? NaN) - y) - Math.abs((b[i] ?? NaN) - y);
    sum += d;
    sumSq += d * d;
  }
  const mean = sum / n;
  const variance = Math.max(0, (sumSq - n * mean * mean) / (n - 1));
  return { mean, se: Math.sqrt(variance / n) };
}

// The gate a new model must pass besides beating the installed one: a lower holdout MAE
// than each of these reference predictors (linear regression, the physical backbone),
// those that were available. Returns the ones it does not beat.
export function notBeaten(newMae: number, references: ReadonlyArray<{ name: string; mae: number | null }>): Array<{ name: string; mae: number }> {
  const out: Array<{ name: string; mae: number }> = [];
  for (const r of references) if (r.mae !== null && !(newMae < r.mae)) out.push({ name: r.name, mae: r.mae });
  return out;
}
