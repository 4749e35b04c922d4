// Plain arrays of values computed once and read on every report.
//
// The elim runs in V8's interpreter (--lite-mode), where every number read from a
// Float64Array or Float32Array, from an array of doubles or from an object field of
// doubles is boxed into a fresh 16-byte heap number, while one read from an array
// of tagged elements is the number already there. Filling the array with null first
// makes its elements tagged for good: an elements kind never narrows back to numbers.

// An array of n values, value i being at(i), whose elements V8 keeps tagged.
export function taggedArray<T>(n: number, at: (i: number) => T): T[] {
  const a = new Array<T | null>(n).fill(null) as T[];
  for (let i = 0; i < n; i++) a[i] = at(i);
  return a;
}
