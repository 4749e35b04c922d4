// The memory verdict of `npm run soak` (scripts/soak.ts), apart so that a test can hold it.

// How much a memory figure grew over the probes after warm-up (in order): the lowest
// of the last `span` less the lowest of the first `span` (fewer in a short run). A
// leak or a step that stays raises every later probe; one probe caught high does
// not count: RSS read just after the probe's forced GC can hold pages not yet given
// back, and one run of four (figures77, a load of 22-26) ended 1.45 MiB up on its
// last probe while VmRSS read from outside after it was 0.7 MiB lower still.
export function sustainedGrowth(values: readonly number[], span = 3): number | undefined {
  if (values.length === 0) return undefined;
  const n = Math.max(1, Math.min(span, Math.floor(values.length / 2)));
  return Math.min(...values.slice(-n)) - Math.min(...values.slice(0, n));
}
