// Order statistics shared by retrain (the label baselines), calibrate (the idle
// baseline) and recommend (the reservation D).

// The p-th percentile (0..100) of ascending values, interpolating between ranks.
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const rank = ((sorted.length - 1) * p) / 100;
  const lo = Math.floor(rank);
  const below = sorted[lo] ?? NaN;
  const above = sorted[Math.min(lo + 1, sorted.length - 1)] ?? NaN;
  return below + (above - below) * (rank - lo);
}

// The median of values in any order: the middle one, or the mean of the middle two; NaN for none.
export function median(values: readonly number[]): number {
  return percentile([...values].sort((a, b) => a - b), 50);
}
