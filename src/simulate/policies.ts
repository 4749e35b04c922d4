// The placement policies a simulation compares, side by side on the same jobs:
// OpenLava's default order, order[rank] with and without the queue's reservation,
// typed ranks, JOB_ACCEPT_INTERVAL=1, random, two random choices by rank, and an
// oracle that sees the true current state and each job's type.
import { UsageError } from '../util/errors.js';
import type { Reservation } from './mbatchd.js';

// How a policy picks a host among those with free slots.
export type PolicyKind =
  | 'default' // r15s:pg, what mbatchd does for a job without order[]
  | 'rank' // order[rank]
  | 'typed' // order[rank_cpu], order[rank_mem] or order[rank_io] by the job's type
  | 'random' // uniformly among hosts with free slots
  | 'two-choices' // the lower rank of two hosts drawn at random
  | 'oracle'; // the least total slowdown, from the true current state and the job's type

// One policy of a comparison.
export interface PolicySpec {
  name: string; // short, unique in a run: the table's first column
  kind: PolicyKind;
  reservation?: Reservation; // rusage[rank=D:duration=T:decay=1] on the index it orders by
  acceptInterval?: number; // JOB_ACCEPT_INTERVAL for this policy, else the scheduler's
}

// Whether a policy reads the elim's rank (and so needs a ranker).
export function usesRank(p: PolicySpec): boolean {
  return p.kind === 'rank' || p.kind === 'typed' || p.kind === 'two-choices';
}

// The policy list of a comparison: the fixed ones, the queue's recommended
// reservation and a sweep of D with the same T and decay (1, linear, unless given).
export function standardPolicies(recommended: { d: number; t: number; decay?: number }, sweep: readonly number[]): PolicySpec[] {
  const res = (d: number): Reservation => ({ value: d, duration: recommended.t, decay: recommended.decay ?? 1 });
  const list: PolicySpec[] = [
    { name: 'default', kind: 'default' },
    { name: 'rank', kind: 'rank' },
    { name: `rank+D${recommended.d}`, kind: 'rank', reservation: res(recommended.d) },
    { name: `typed+D${recommended.d}`, kind: 'typed', reservation: res(recommended.d) },
    { name: 'accept1', kind: 'rank', acceptInterval: 1 },
    { name: 'random', kind: 'random' },
    { name: 'two-choices', kind: 'two-choices' },
    { name: 'oracle', kind: 'oracle' },
  ];
  for (const d of sweep) {
    if (d === recommended.d) continue;
    list.push({ name: `rank+D${d}`, kind: 'rank', reservation: res(d) });
  }
  return list;
}

// What each policy means, for the report.
export function describePolicy(p: PolicySpec): string {
  const res = p.reservation === undefined ? '' : ` rusage[${p.kind === 'typed' ? 'rank_<type>' : 'rank'}=${p.reservation.value}:duration=${p.reservation.duration}s:decay=${p.reservation.decay}]`;
  const jai = p.acceptInterval === undefined ? '' : `, JOB_ACCEPT_INTERVAL=${p.acceptInterval}`;
  switch (p.kind) {
    case 'default':
      return `OpenLava's default order r15s:pg${jai}`;
    case 'rank':
      return `order[rank]${res}${jai}`;
    case 'typed':
      return `order[rank_cpu|rank_mem|rank_io] by job type${res}${jai}`;
    case 'random':
      return `a random host with free slots${jai}`;
    case 'two-choices':
      return `the lower rank of two random hosts with free slots${jai}`;
    case 'oracle':
      return 'the host with the least added slowdown, from the true current state and the job\'s type (the headroom)';
  }
}

// A D sweep from text: "0,5,10,20,40"; throws UsageError.
export function parseSweep(text: string, option = '--sweep', expected = 'rank points'): number[] {
  const parts = text.split(',').map((s) => s.trim()).filter((s) => s !== '');
  const values = parts.map(Number);
  if (parts.length === 0 || values.some((v) => !Number.isFinite(v) || v < 0 || v > 1000)) {
    throw new UsageError(`${option}: expected comma-separated ${expected} from 0 to 1000, received ${JSON.stringify(text)}`);
  }
  return [...new Set(values)].sort((a, b) => a - b);
}
