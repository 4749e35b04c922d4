// The contention label: how much longer a job ran than the same work takes on an
// undisturbed host of its family, measured through its CPU efficiency (user+system
// CPU time per second of run time per slot) rather than its run time, so that a job
// that did more work (a larger input) is not taken for one that waited. Pure; the
// rules, the reasons and the known biases are in docs/retrain-data.md.
import { RANK_MAX } from '../model/rank.js';
import { ConfigError } from '../util/errors.js';
import { percentile } from '../util/stats.js';

// Options of the label; every one has a default (docs/retrain-data.md, "Parameters").
export interface LabelOptions {
  minRuns?: number; // runs a family needs in the training window; default 5
  minRuntimeSec?: number; // runs shorter than this (suspended time excluded) are left out; default 10
  baselinePercentile?: number; // of the family's efficiencies in the training window; default 90
  maxBaselineSpread?: number; // a family is stable when the baselines of its older and newer runs differ by at most this share; default 0.15
  minCpuShare?: number; // families whose baseline efficiency is lower are left out; default 0.2
  maxSpeedup?: number; // runs more efficient than this × the baseline are outliers; default 2
  maxSlowdown?: number; // labels above this, in percent, are outliers; default RANK_MAX
}

// LabelOptions with every default filled in and checked.
export type LabelSettings = Required<LabelOptions>;

function positive(name: string, value: number, integer = false): number {
  if (!Number.isFinite(value) || value <= 0 || (integer && !Number.isInteger(value))) {
    throw new ConfigError(`${name}: expected a positive ${integer ? 'integer' : 'number'}, received ${String(value)}`);
  }
  return value;
}

function between(name: string, value: number, lo: number, hi: number): number {
  if (!(value >= lo && value <= hi)) throw new ConfigError(`${name}: expected ${lo} to ${hi}, received ${String(value)}`);
  return value;
}

// Fills in the defaults and checks every option; throws ConfigError naming the option.
export function labelSettings(options: LabelOptions = {}): LabelSettings {
  const s: LabelSettings = {
    minRuns: positive('minRuns', options.minRuns ?? 5, true),
    minRuntimeSec: positive('minRuntimeSec', options.minRuntimeSec ?? 10),
    baselinePercentile: between('baselinePercentile', options.baselinePercentile ?? 90, 0, 100),
    maxBaselineSpread: between('maxBaselineSpread', options.maxBaselineSpread ?? 0.15, 0, 10),
    minCpuShare: between('minCpuShare', options.minCpuShare ?? 0.2, 0, 1),
    maxSpeedup: positive('maxSpeedup', options.maxSpeedup ?? 2),
    maxSlowdown: positive('maxSlowdown', options.maxSlowdown ?? RANK_MAX),
  };
  return s;
}

// What the accounting says about one run.
export interface RunUsage {
  wallSec: number; // end − start
  suspendedSec: number; // time suspended while running (lsb.events), 0 when unknown
  cpuSec: number; // user + system CPU time of the job's processes
  slots: number; // slots the job was given (one per execHosts entry)
}

// The seconds a run was able to run: its run time without the time it was suspended.
export function activeSeconds(run: Pick<RunUsage, 'wallSec' | 'suspendedSec'>): number {
  return run.wallSec - Math.max(0, run.suspendedSec);
}

// CPU seconds per second of active run time per slot: 1 for a job that kept each of its
// slots' CPU busy, lower when it waited (for a CPU, a disk, the network), NaN when unknown.
export function cpuEfficiency(run: RunUsage): number {
  const active = activeSeconds(run);
  if (!(active > 0) || !(run.cpuSec > 0) || !(run.slots >= 1)) return NaN;
  return run.cpuSec / (active * run.slots);
}

// Whether a family can label its runs, and against which efficiency.
export type FamilyBaseline =
  | { status: 'ok'; runs: number; baseline: number; spread: number }
  | { status: 'fewRuns'; runs: number }
  | { status: 'lowCpu'; runs: number; baseline: number }
  | { status: 'unstable'; runs: number; baseline: number; spread: number };

// The family's baseline efficiency from its runs in the training window, in start
// order: the baselinePercentile of their efficiencies, i.e. its fastest runs for their
// work, its outliers (see contentionLabel) left out. Usable only with minRuns runs, a baseline of at least minCpuShare (below it,
// CPU time does not measure the work: sleeping, waiting for io), and stable fastest
// runs: the same percentile over the older half of the runs and over the newer half
// differ by at most maxBaselineSpread (the larger over the smaller, minus 1). A family
// whose fast runs drift (new inputs, a new version) or are too few to agree fails it.
export function familyBaseline(efficiencies: readonly number[], settings: LabelSettings): FamilyBaseline {
  const p = settings.baselinePercentile;
  const finite = efficiencies.filter((e) => Number.isFinite(e) && e > 0);
  // The family's own outliers (a hung run, a run with more threads than usual) would
  // move the percentile of a few runs: a first baseline finds them, a second leaves them out.
  const first = percentile(ascending(finite), p);
  const inOrder = finite.filter((e) => contentionLabel(e, first, settings) !== undefined);
  const runs = inOrder.length;
  if (runs < settings.minRuns) return { status: 'fewRuns', runs };
  const baseline = percentile(ascending(inOrder), p);
  if (baseline < settings.minCpuShare) return { status: 'lowCpu', runs, baseline };
  const half = Math.floor(runs / 2);
  const older = percentile(ascending(inOrder.slice(0, half)), p);
  const newer = percentile(ascending(inOrder.slice(half)), p);
  const spread = Math.max(older, newer) / Math.min(older, newer) - 1;
  if (!(spread <= settings.maxBaselineSpread)) return { status: 'unstable', runs, baseline, spread };
  return { status: 'ok', runs, baseline, spread };
}

function ascending(values: readonly number[]): number[] {
  return [...values].sort((a, b) => a - b);
}

// The label of a run of a family with a usable baseline: the percent by which its
// active time exceeded what its CPU time takes at the family's baseline efficiency,
// 100 × (baseline / efficiency − 1), clamped at 0. Undefined for an outlier: a run
// slowed beyond maxSlowdown, or more than maxSpeedup times as efficient as its family
// (it ran more threads than usual, so its efficiency says nothing about waiting).
export function contentionLabel(efficiency: number, baseline: number, settings: LabelSettings): number | undefined {
  if (!(efficiency > 0) || !(baseline > 0)) return undefined;
  const ratio = baseline / efficiency;
  const slowdown = 100 * (ratio - 1);
  if (slowdown > settings.maxSlowdown || efficiency > settings.maxSpeedup * baseline) return undefined;
  return Math.max(0, slowdown);
}
