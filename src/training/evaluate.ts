// Honest validation of rank models: folds that hold out whole groups (a stressor
// configuration of the calibration, so that no held-out run has a twin in
// training), repeated with different fold assignments; the mean absolute error with
// a 95 % interval from a bootstrap over the groups; and the one rule that decides
// whether a model may be written, shared by train-default, eval-model and retrain.
import { seededRandom, shuffled } from '../util/random.js';
import { notBeaten } from './judge.js';

// What the write decision compares: mean absolute errors on the same held-out rows.
export interface GateInput {
  model: number;
  backbone: number;
  ridge: number;
}

// The decision, with the reason in a sentence.
export interface GateResult {
  pass: boolean;
  reason: string;
}

// The rule: a model is written only if it beats both the backbone alone and the ridge
// regression on the held-out rows; otherwise it adds nothing a simpler model does not.
// The same rule as retrain's (notBeaten in src/training/judge.ts), in one sentence.
export function gateDecision(m: GateInput): GateResult {
  const f = (x: number): string => x.toFixed(2);
  const lost = notBeaten(m.model, [
    { name: 'the backbone alone', mae: m.backbone },
    { name: 'the ridge regression', mae: m.ridge },
  ]);
  if (lost.length === 0) return { pass: true, reason: `the model (MAE ${f(m.model)}) beats the backbone alone (${f(m.backbone)}) and the ridge regression (${f(m.ridge)})` };
  return { pass: false, reason: `the model (MAE ${f(m.model)}) does not beat ${lost.map((l) => `${l.name} (${f(l.mae)})`).join(' nor ')}` };
}

// Fold numbers 0..k-1 for each row, whole groups together, groups dealt in a seeded
// random order so that folds have similar numbers of groups.
export function groupFolds(groups: readonly string[], k: number, seed: number): number[] {
  const distinct = shuffled([...new Set(groups)].sort(), seededRandom(seed));
  const foldOf = new Map(distinct.map((g, i) => [g, i % k]));
  return groups.map((g) => foldOf.get(g)!);
}

// A mean absolute error and its 95 % interval.
export interface MaeInterval {
  mae: number;
  lo: number;
  hi: number;
}

// The MAE of per-row absolute errors and a 95 % percentile interval from resampling
// whole groups with replacement (rows of one group are not independent).
export function groupBootstrap(errors: readonly number[], groups: readonly string[], seed: number, resamples = 2000): MaeInterval {
  const byGroup = new Map<string, { sum: number; n: number }>();
  errors.forEach((e, i) => {
    const g = byGroup.get(groups[i]!) ?? { sum: 0, n: 0 };
    g.sum += e;
    g.n++;
    byGroup.set(groups[i]!, g);
  });
  const list = [...byGroup.values()];
  const total = errors.reduce((s, e) => s + e, 0);
  const mae = errors.length === 0 ? NaN : total / errors.length;
  if (list.length < 2) return { mae, lo: mae, hi: mae };
  const rand = seededRandom(seed);
  const stats: number[] = [];
  for (let r = 0; r < resamples; r++) {
    let sum = 0;
    let n = 0;
    for (let i = 0; i < list.length; i++) {
      const g = list[Math.floor(rand() * list.length)]!;
      sum += g.sum;
      n += g.n;
    }
    stats.push(sum / n);
  }
  stats.sort((a, b) => a - b);
  return { mae, lo: stats[Math.floor(0.025 * resamples)]!, hi: stats[Math.min(resamples - 1, Math.floor(0.975 * resamples))]! };
}

// One row of the evaluation table.
export interface EvalEntry {
  name: string;
  interval: MaeInterval;
  note: string;
}

// The table eval-model prints and the docs quote.
export function evalTable(entries: readonly EvalEntry[]): string {
  const width = Math.max(9, ...entries.map((e) => e.name.length));
  const lines = [`| ${'predictor'.padEnd(width)} |   MAE | 95 % interval | notes |`, `|${'-'.repeat(width + 2)}|------:|:-------------:|-------|`];
  for (const e of entries) {
    const i = e.interval;
    lines.push(`| ${e.name.padEnd(width)} | ${i.mae.toFixed(1).padStart(5)} | ${`${i.lo.toFixed(1)} – ${i.hi.toFixed(1)}`.padStart(13)} | ${e.note} |`);
  }
  return lines.join('\n');
}
