// The model's per-report path as it was written before its allocations were cut
// (commit b6ae1b4): a named record built a key at a time, arrays of doubles, every
// input clamped and checked against the ranges. Kept as the oracle that the daemon's
// path gives the same features, rank and typed ranks bit for bit; the load tie-break
// joined both later.
import type { Sample } from '../../src/collectors/types.js';
import { backbone } from '../../src/model/backbone.js';
import { FEATURES, FEATURE_NAMES, HOST_FACTS, IDLE_VALUE, scaleValue, type Features, type RawLookup } from '../../src/model/features.js';
import type { Evaluation, LoadedModel, ModelInput } from '../../src/model/model.js';
import { RANK_MAX, RANK_MIN, TIE_WEIGHT, type RankResult } from '../../src/model/rank.js';

// clampRank as it was.
export function referenceClamp(value: number): number {
  if (Number.isNaN(value)) return RANK_MAX;
  return Math.min(RANK_MAX, Math.max(RANK_MIN, value));
}

function baseFeatures(sample: Sample): Record<string, number | null> {
  const named: Record<string, number | null> = {};
  for (const spec of FEATURES) {
    let raw: number | undefined;
    try {
      raw = spec.read(sample);
    } catch {
      raw = undefined;
    }
    named[spec.name] = typeof raw === 'number' && Number.isFinite(raw) ? raw : null;
  }
  // The host facts (the cores) joined the record later, as the load tie-break did.
  for (const fact of HOST_FACTS) {
    const raw = fact.read(sample);
    named[fact.name] = typeof raw === 'number' && Number.isFinite(raw) ? raw : null;
  }
  return named;
}

function deriveInto(named: Record<string, number | null>): void {
  const present: RawLookup = (name) => named[name] ?? undefined;
  for (const spec of FEATURES) {
    if (spec.derive === undefined) continue;
    const v = spec.derive(present);
    named[spec.name] = v !== undefined && Number.isFinite(v) ? v : null;
  }
}

// featuresFromNamed as it was.
export function referenceFromNamed(named: Readonly<Record<string, number | null | undefined>>): Features {
  const n = FEATURES.length;
  const values = new Array<number>(n).fill(IDLE_VALUE);
  const mask = new Array<boolean>(n).fill(false);
  const out: Record<string, number | null> = {};
  for (const spec of FEATURES) {
    const raw = spec.derive === undefined && Object.hasOwn(named, spec.name) ? named[spec.name] : undefined;
    out[spec.name] = typeof raw === 'number' && Number.isFinite(raw) ? raw : null;
  }
  for (const fact of HOST_FACTS) {
    const raw = named[fact.name];
    out[fact.name] = typeof raw === 'number' && Number.isFinite(raw) ? raw : null;
  }
  deriveInto(out);
  FEATURES.forEach((spec, i) => {
    const raw = out[spec.name];
    if (typeof raw === 'number') {
      values[i] = scaleValue(spec, raw);
      mask[i] = true;
    }
  });
  const present: RawLookup = (name) => out[name] ?? undefined;
  FEATURES.forEach((spec, i) => {
    if (mask[i] === true) return;
    const guess = spec.estimate?.fn(present);
    if (guess !== undefined && Number.isFinite(guess)) values[i] = scaleValue(spec, guess);
  });
  return { names: FEATURE_NAMES, values, mask, named: out };
}

// toFeatures as it was.
export function referenceFeatures(sample: Sample): Features {
  return referenceFromNamed(baseFeatures(sample));
}

// rawFeatures as it was.
export function referenceRaw(sample: Sample): Record<string, number | null> {
  const named = baseFeatures(sample);
  deriveInto(named);
  return named;
}

// A loaded model's evaluate as it was.
export function referenceEvaluate(model: LoadedModel, f: ModelInput): Evaluation {
  const { file, network } = model;
  const n = FEATURE_NAMES.length;
  const lo = Float64Array.from(file.ranges, (r) => r.lo);
  const hi = Float64Array.from(file.ranges, (r) => r.hi);
  const host = FEATURES.map((spec) => spec.kind === 'host');
  const input = new Float64Array(n);
  const out = file.residual?.output;
  const span = out === undefined ? 0 : out.rankAtOne - out.rankAtZero;
  const EPS = 1e-9;
  // A model fitted before 2026-12-06 (no training.backboneVersion) reads PSI io as the host's share,
  // one of backbone version 2 as the host's waiters, of version 3 as the waiters per busy device.
  const version = file.training['backboneVersion'];
  const b = backbone(f.named, file.backbone, version === 3 ? 'device' : version === 2 ? 'waiters' : 'some');
  const outside: string[] = [];
  for (let i = 0; i < n; i++) {
    const v = f.values[i] ?? 0;
    if (v > hi[i]! + EPS || (host[i] === true && v < lo[i]! - EPS)) outside.push(FEATURE_NAMES[i]!);
    input[i] = Math.min(hi[i]!, Math.max(lo[i]!, v));
  }
  let correction = 0;
  if (network !== undefined && out !== undefined) {
    correction = out.rankAtZero + network.run(input) * span;
    if (outside.length > 0 && correction < 0) correction = 0;
  }
  // The load tie-break (withLoadTieBreak), written out.
  const clamped = referenceClamp(b.rank + correction);
  const busy = f.named['cpu_busy'];
  const rank = typeof busy === 'number' && busy > 0 && clamped < RANK_MAX ? Math.min(RANK_MAX, clamped + TIE_WEIGHT * Math.min(1, busy)) : clamped;
  return {
    rank,
    backbone: b,
    correction,
    tie: rank - clamped,
    outside,
    typed: { rank_cpu: referenceClamp(b.cpu), rank_mem: referenceClamp(b.mem), rank_io: referenceClamp(b.io) },
  };
}

// modelRanker(model).rank(sample) as it was.
export function referenceRank(model: LoadedModel, sample: Sample): RankResult {
  const f = referenceFeatures(sample);
  const e = referenceEvaluate(model, f);
  return { rank: e.rank, model: model.id, features: f.named, typed: e.typed, backbone: referenceClamp(e.backbone.rank) };
}
