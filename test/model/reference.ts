// The model's per-report path as it was written before its allocations were cut
// (commit b6ae1b4): a named record built a key at a time, arrays of doubles, every
// input clamped and checked against the ranges. Kept as the oracle that the daemon's
// path gives the same features, rank and typed ranks bit for bit; the load tie-break
// joined both later.
import type { Sample } from '../../src/collectors/types.js';
import {
  DEFAULT_BACKBONE,
  DISK_BUSY_STALL,
  MAX_STALL,
  MEM_FULL_STALL,
  NET_WEIGHT,
  ioSlowdown,
  ioWaiting,
  perDevice,
  smtCapacity,
  stallSlowdown,
  waitersBeyond,
  type BackboneInput,
  type BackboneParams,
  type BackboneResult,
  type DiskQueue,
  type IoCost,
} from '../../src/model/backbone.js';
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

function mapBoth(a: number | undefined, b: number | undefined, f: (a: number, b: number) => number): number | undefined {
  return a === undefined || b === undefined || !(a > 0) ? undefined : f(a, Math.max(0, b));
}

// The derived features as FeatureSpec.derive gave them when it took a lookup by name.
const DERIVE: Readonly<Record<string, (v: RawLookup) => number | undefined>> = {
  free_cpus: (v) => mapBoth(v('cpus'), v('runnable_per_cpu'), (n, r) => Math.max(0, n - r * n)),
  new_task_cpu_share: (v) => mapBoth(v('cpus'), v('runnable_per_cpu'), (n, r) => Math.min(1, n / (r * n + 1))),
};

function deriveInto(named: Record<string, number | null>): void {
  const present: RawLookup = (name) => named[name] ?? undefined;
  for (const spec of FEATURES) {
    if (spec.derive === undefined) continue;
    const derive = DERIVE[spec.name];
    if (derive === undefined) throw new Error(`the reference has no derivation of ${spec.name}`);
    const v = derive(present);
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
  const b = referenceBackbone(f.named, file.backbone, version === 3 ? 'device' : version === 2 ? 'waiters' : 'some');
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

// The backbone as it was before its reads became named loads (stop 70's 65e2a2b): each
// raw value read through value(raw, name). The oracle that the daemon's backbone gives
// the same results bit for bit, for any record a history line or a sample can give.
const FAULT_SECONDS = 100e-6;

function value(raw: BackboneInput, name: string): number | undefined {
  const v = raw[name];
  return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
}

function faultStall(faultsPerSec: number | undefined, cpus: number): number | undefined {
  return faultsPerSec === undefined ? undefined : 1 - Math.exp((-Math.max(0, faultsPerSec) * FAULT_SECONDS) / cpus);
}

function iowaitStall(iowait: number | undefined, cpus: number | undefined, devices?: number, busyMax?: number, queue?: DiskQueue, beyond = 0): number | undefined {
  return iowait === undefined ? undefined : 1 - Math.exp(-perDevice(Math.max(0, iowait) * (cpus ?? 1) + beyond, devices, busyMax, queue));
}

function stallCpus(n: number | undefined, quotaHostCpus: number | undefined): number | undefined {
  return n !== undefined && quotaHostCpus !== undefined && quotaHostCpus > n ? quotaHostCpus : n;
}

function ioCpus(n: number | undefined, over: number | undefined, machineCpus: number | undefined): number | undefined {
  return n !== undefined && over !== undefined && machineCpus !== undefined && machineCpus > over ? machineCpus : over;
}

function share(x: number | undefined): number {
  if (x === undefined || !(x > 0)) return 0;
  return Math.min(MAX_STALL, x);
}

// backbone() as it was.
export function referenceBackbone(raw: BackboneInput, params: Readonly<BackboneParams> = DEFAULT_BACKBONE, ioCost: IoCost = 'device'): BackboneResult {
  return referenceBackboneWith(params, ioCost)(raw);
}

// backboneWith as it was.
export function referenceBackboneWith(params: Readonly<BackboneParams>, ioCost: IoCost = 'device'): (raw: BackboneInput) => BackboneResult {
  const a = Math.min(1, Math.max(0, params.runnableWeight));
  const loadWeight = 1 - a;
  const secondsPerPage = Math.max(0, params.secondsPerPage);
  const from = Math.min(0.999, Math.max(0, params.memFullFrom));
  const fullSpan = 1 - from;
  const wCpu = Math.max(0, params.weights.cpu);
  const wMem = Math.max(0, params.weights.mem);
  const wIo = Math.max(0, params.weights.io);
  return (raw) => {
    const cpusRaw = value(raw, 'cpus');
    const n = cpusRaw !== undefined && cpusRaw > 0 ? cpusRaw : undefined;
    const runnablePerCpu = Math.max(0, value(raw, 'runnable_per_cpu') ?? 0);
    const load1PerCpu = Math.max(0, value(raw, 'load1_per_cpu') ?? runnablePerCpu);
    const perCpu = a * runnablePerCpu + loadWeight * load1PerCpu;
    const coresRaw = value(raw, 'cores');
    const cores = n !== undefined && coresRaw !== undefined && coresRaw >= 1 && coresRaw < n ? coresRaw : undefined;
    const tasksWithNew = n === undefined ? 0 : perCpu * n + 1;
    const cpuShare =
      n === undefined
        ? Math.min(1, 1 / Math.max(1, perCpu))
        : cores === undefined
          ? Math.min(1, n / tasksWithNew)
          : Math.min(1, smtCapacity(tasksWithNew, n, cores) / tasksWithNew);
    const steal = share(value(raw, 'cpu_steal'));
    const cpuFactor = 1 / (cpuShare * (1 - steal));

    const over = stallCpus(n, value(raw, 'quota_host_cpus'));
    const faults = value(raw, 'major_faults');
    const pages = Math.max(0, value(raw, 'swap_io') ?? 0) + Math.max(0, faults ?? 0);
    const memUsed = value(raw, 'mem_used') ?? 0;
    const fromPsi = share(value(raw, 'psi_mem_some') ?? faultStall(faults, over ?? 1));
    const fromPaging = share(pages * secondsPerPage);
    const fromFull = share(Math.min(1, Math.max(0, (memUsed - from) / fullSpan)) * MEM_FULL_STALL);
    const memStall = Math.min(MAX_STALL, 1 - (1 - fromPsi) * (1 - fromPaging) * (1 - fromFull));

    const psiIo = value(raw, 'psi_io_some');
    const iowait = value(raw, 'cpu_iowait');
    const machine = ioCpus(n, over, value(raw, 'machine_cpus'));
    const machineBusy = value(raw, 'machine_busy');
    const quotaBusy = value(raw, 'quota_host_busy');
    const ioBusy = (machine !== over ? machineBusy : over !== n ? quotaBusy : undefined) ?? value(raw, 'cpu_busy');
    const diskBusy = value(raw, 'disk_busy_max');
    const devices = ioCost === 'device' ? value(raw, 'io_devices') : undefined;
    const queueAll = value(raw, 'io_queue');
    const queueMax = value(raw, 'io_queue_max') ?? 0;
    const blocked = value(raw, 'io_blocked');
    const queue = queueAll === undefined ? undefined : { all: queueAll, max: queueMax, blocked };
    const beyond = ioCost === 'device' ? waitersBeyond(blocked, machine) : 0;
    let ioFromPsi: number | undefined;
    if (psiIo !== undefined && ioCost === 'some') ioFromPsi = psiIo;
    else if (psiIo !== undefined) ioFromPsi = 1 - Math.exp(-perDevice(ioWaiting(psiIo, ioBusy, iowait, machine) + beyond, devices, diskBusy, queue));
    const ioStall = Math.max(share(ioFromPsi ?? iowaitStall(iowait, machine, devices, diskBusy, queue, beyond)), share(diskBusy) * DISK_BUSY_STALL);

    const netUtil = share(value(raw, 'net_util_max'));

    const cpu = 100 * (cpuFactor - 1);
    const mem = 100 * (cpuFactor * (1 + stallSlowdown(memStall)) - 1);
    const io = 100 * ioSlowdown(ioStall);
    const net = 100 * ioSlowdown(netUtil);
    const rank = wCpu * cpu + wMem * mem + wIo * io + NET_WEIGHT * net;
    return {
      rank,
      cpu,
      mem,
      io,
      net,
      parts: { cpus: n ?? null, cores: cores ?? null, tasks: n === undefined ? perCpu : perCpu * n, cpuShare, steal, memStall, ioStall, netUtil },
    };
  };
}
