// What turns a sample into the number LIM receives. The daemon only knows this
// interface; the trained model and the fallback formula both implement it.
import type { Sample } from '../collectors/types.js';
import { cpuBusyShown, runnableShown } from './features.js';

// The rank is a predicted slowdown in percent, clamped to this range.
export const RANK_MIN = 0;
export const RANK_MAX = 1000;

// The predicted slowdowns of a CPU-bound, a memory-bound and an io-bound job.
export interface TypedRanks {
  rank_cpu: number;
  rank_mem: number;
  rank_io: number;
}

export interface RankResult {
  rank: number;
  model: string; // which model produced it, for history and logs
  features?: Record<string, number | null>; // named inputs; null where unavailable
  typed?: TypedRanks; // clamped like the rank
  backbone?: number; // the physical backbone's rank for the same inputs (src/model/backbone.ts)
}

// What turns a sample into a rank: the model's network or backbone, or the formula.
export interface Ranker {
  readonly name: string;
  rank(sample: Sample): RankResult;
}

// The ranker in use; the daemon calls refresh() every MODEL_CHECK_EVERY ranked
// reports (the first included) to pick up a replaced model.
export interface RankerSource {
  current(): Ranker;
  refresh?(): void;
}

// Clamps to [RANK_MIN, RANK_MAX]; NaN becomes RANK_MAX, since an unknown state must not attract jobs.
export function clampRank(value: number): number {
  // A rank within the range is returned as it is: Math.max and Math.min would give
  // the same number boxed anew, twice per call, in the interpreter the elim runs in.
  // 0 and -0 go the long way, which makes -0 a 0.
  if (value > RANK_MIN && value <= RANK_MAX) return value;
  if (Number.isNaN(value)) return RANK_MAX;
  return Math.min(RANK_MAX, Math.max(RANK_MIN, value));
}

// Hosts the model ranks alike are told apart by their CPU load, as mbatchd's own
// r15s order would: every host with a free CPU and nothing else contended ranks 0
// (processor sharing), yet the calibration measured 3-6 % on a 2-CPU host half busy
// (shared caches and memory bandwidth, which the model does not see), and ties go
// to mbatchd's host order, whatever the load. So the rank adds TIE_WEIGHT times the
// share of CPU time busy: at most 0.1 % of slowdown, far below what the model
// resolves, yet 100 steps of LIM's 3 decimals, above mbatchd's 0.0001 sort threshold.
export const TIE_WEIGHT = 0.1;

// rank, a clamped model rank, plus the load tie-break for a busy share (0..1;
// undefined or NaN: none), still within RANK_MAX.
export function withLoadTieBreak(rank: number, busy: number | null | undefined): number {
  if (typeof busy !== 'number' || !(busy > 0) || !(rank < RANK_MAX)) return rank;
  const tied = rank + TIE_WEIGHT * (busy < 1 ? busy : 1);
  return tied < RANK_MAX ? tied : RANK_MAX;
}

// A transparent fallback: 100 × the busier of CPU use and runnable tasks per CPU,
// plus up to 400 as memory use goes from 80 % to 100 %. A host whose CPUs are all
// busy gets 100 (a new job would share a CPU: about twice as slow).
export function formulaRanker(): Ranker {
  return {
    name: 'formula',
    rank(sample) {
      const cpu = cpuBusyShown(sample); // of the CPUs a job may use, as the model's cpu_busy
      const runnable = runnableShown(sample); // the count the model believes (transients cut), as training's formula baseline reads it
      const mem = sample.memory?.usedFraction;
      const cpuTerm = Math.max(cpu ?? 0, runnable ?? 0);
      const memTerm = mem === undefined ? 0 : Math.max(0, (mem - 0.8) / 0.2);
      return {
        rank: clampRank(100 * cpuTerm + 400 * memTerm),
        model: 'formula',
        features: { cpu_busy: cpu ?? null, runnable_per_cpu: runnable ?? null, mem_used: mem ?? null },
      };
    },
  };
}
