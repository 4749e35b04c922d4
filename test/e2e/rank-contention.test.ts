// The rank rises with every kind of contention: on generated hosts of 2, 64 and 128 CPUs
// with 1, 8 or 300 block devices, read through lavarank's own collectors and ranked by
// the shipped default, more of any one kind (CPU tasks and load, busy and iowait time,
// memory used, swapping, major faults, the busiest link, PSI cpu, memory and io, tasks
// waiting for io; on a host of one disk its busy time or queue) with the others fixed
// never lowers the rank or a typed rank, alone on an idle host or on top of the others,
// with and without PSI. Two kinds of step fall, each documented: PSI cpu rising past the
// least busy CPU's share (docs/model.md, "The price"), left out by name, and io added to
// the disks of a host of several (to the busiest, its queue, a quiet one or every one at
// once) with the tasks waiting fixed, which reads the same waiters as held by the disks
// and spread over them (docs/model.md, "The same contention on every size"), held to its
// bound instead: rank_io no lower than before over the disks' count or the busiest disk's
// busy share, nothing else lower.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import fc from 'fast-check';
import type { Sample } from '../../src/collectors/types.js';
import { parseModel } from '../../src/model/model.js';
import { modelRanker } from '../../src/model/rankers.js';
import { repoRoot } from '../helpers.js';
import { fullState, hostSampler, type HostState } from '../helpers/synthetic-host.js';

const ranker = modelRanker(parseModel(readFileSync(join(repoRoot, 'models', 'default.json'), 'utf8'), 'models/default.json'));
const hosts = hostSampler();
after(() => hosts.close());

interface Host {
  state: Required<HostState>;
  disks: readonly { busy: number; queue: number }[];
  psi: boolean;
}

// One kind of contention, and how to give a host more of it.
const MORE: Record<string, (h: Host, by: number) => Host> = {
  runnable: (h, by) => ({ ...h, state: { ...h.state, runnable: h.state.runnable + Math.ceil(by * h.state.cpus) } }),
  load1: (h, by) => ({ ...h, state: { ...h.state, load1: h.state.load1 + by * h.state.cpus } }),
  busy: (h, by) => ({ ...h, state: { ...h.state, busy: Math.min(1 - h.state.iowait, h.state.busy + by / 4) } }),
  iowait: (h, by) => ({ ...h, state: { ...h.state, iowait: Math.min(1 - h.state.busy, h.state.iowait + by / 4) } }),
  memUsed: (h, by) => ({ ...h, state: { ...h.state, memUsed: Math.min(1, h.state.memUsed + by / 4) } }),
  swapping: (h, by) => ({ ...h, state: { ...h.state, swapPagesPerSec: h.state.swapPagesPerSec + 1000 * by } }),
  majorFaults: (h, by) => ({ ...h, state: { ...h.state, majorFaultsPerSec: h.state.majorFaultsPerSec + 1000 * by } }),
  network: (h, by) => ({ ...h, state: { ...h.state, netUtil: Math.min(1, h.state.netUtil + by / 4) } }),
  psiCpu: (h, by) => ({ ...h, state: { ...h.state, psiCpu: Math.min(1, h.state.psiCpu + by / 4) } }),
  psiMemory: (h, by) => ({ ...h, state: { ...h.state, psiMemSome: Math.min(1, h.state.psiMemSome + by / 4) } }),
  psiIo: (h, by) => ({ ...h, state: { ...h.state, psiIoSome: Math.min(1, h.state.psiIoSome + by / 4) } }),
  ioWaiters: (h, by) => ({ ...h, state: { ...h.state, blocked: h.state.blocked + Math.ceil(4 * by) } }),
};

// More io on the disks with the tasks waiting fixed: on a host of one disk it never lowers
// the rank (among MORE there); on a host of several it may, to the known fall's bound
// (beyondKnownFall): the disks' requests in flight say how many of the waiters they hold,
// and those are divided among the disks busy, so io on a quiet disk, a deeper queue or a
// busier disk without a waiter more reads as the same waiters held by the disks and spread
// (of 1 500 random states a kind on 1 and 8 disks, rank_io fell in 30 with a quiet disk made
// busy, worst 409 -> 359; 3 with the busiest disk's queue deeper, 301 -> 260; 1 with it
// busier, 304 -> 281; 83 with every disk, 384 -> 113; none beyond the bound. CI's seed
// 439636505 found the first: 200 -> 199).
const DISK_MORE: Record<string, (h: Host, by: number) => Host> = {
  busiestDisk: (h, by) => ({ ...h, disks: h.disks.map((d, i) => (i === 0 ? { busy: Math.min(1, d.busy + by / 4), queue: d.queue + by / 4 } : d)) }),
  busiestQueue: (h, by) => ({ ...h, disks: h.disks.map((d, i) => (i === 0 ? { busy: d.busy, queue: d.queue + by } : d)) }),
  quietDisk: (h, by) => ({ ...h, disks: h.disks.map((d, i) => (i === h.disks.length - 1 ? { busy: Math.min(1, d.busy + by / 4), queue: d.queue + by / 4 } : d)) }),
  everyDisk: (h, by) => ({ ...h, disks: h.disks.map((d) => ({ busy: Math.min(1, d.busy + by / 4), queue: d.queue + by / 4 })) }),
};
const everyDisk = DISK_MORE.everyDisk!;

// Every kind, for hosts of one disk, where none may lower the rank.
const ANY_MORE: Record<string, (h: Host, by: number) => Host> = { ...MORE, ...DISK_MORE };

// The default's weight of rank_io in the rank (its backbone's, as the model file gives it).
const IO_WEIGHT = (JSON.parse(readFileSync(join(repoRoot, 'models', 'default.json'), 'utf8')) as { backbone: { weights: { io: number } } }).backbone.weights.io;

// A number drawn evenly between min and max (fc.double draws most doubles near 0).
const evenly = (min: number, max: number): fc.Arbitrary<number> => fc.integer({ min: 0, max: 1_000_000 }).map((i) => min + ((max - min) * i) / 1_000_000);

// Hosts of 2, 64 and 128 CPUs with `devices` disks, the first `share` of them busy, less
// busy down the list (the busiest first, the last quiet where not all are busy).
const anyHost = (devices: readonly number[]): fc.Arbitrary<Host> =>
  fc
    .record({
      cpus: fc.constantFrom(2, 64, 128),
      devices: fc.constantFrom(...devices),
      share: evenly(0, 1),
      perCpu: evenly(0, 4),
      load1PerCpu: evenly(0, 4),
      busy: evenly(0, 1),
      iowait: evenly(0, 0.3),
      memUsed: evenly(0, 1),
      swapping: fc.oneof(fc.constant(0), evenly(0, 20_000)),
      majorFaults: fc.oneof(fc.constant(0), evenly(0, 20_000)),
      diskBusy: evenly(0, 1),
      depth: evenly(0, 4),
      netUtil: evenly(0, 1),
      psiCpu: evenly(0, 1),
      psiMemSome: evenly(0, 1),
      psiIoSome: evenly(0, 1),
      blockedPerCpu: evenly(0, 2),
      psi: fc.boolean(),
    })
    .map((r) => {
      const busyDisks = Math.max(1, Math.round(r.share * r.devices));
      return {
        state: fullState({
          cpus: r.cpus,
          runnable: Math.round(r.perCpu * r.cpus),
          load1: r.load1PerCpu * r.cpus,
          iowait: r.iowait,
          busy: Math.min(r.busy, 1 - r.iowait),
          memUsed: r.memUsed,
          swapPagesPerSec: r.swapping,
          majorFaultsPerSec: r.majorFaults,
          netUtil: r.netUtil,
          psiCpu: r.psiCpu,
          psiMemSome: r.psiMemSome,
          psiIoSome: r.psiIoSome,
          blocked: Math.round(r.blockedPerCpu * r.cpus),
        }),
        disks: Array.from({ length: r.devices }, (_, i) => {
          const f = i < busyDisks && (i < r.devices - 1 || r.devices === 1) ? 1 - i / (busyDisks + 1) : 0;
          return { busy: r.diskBusy * f, queue: r.diskBusy * r.depth * f };
        }),
        psi: r.psi,
      };
    });

function sampleOf(h: Host): Sample {
  const s = hosts.sample(h.state, { disks: h.disks });
  if (!h.psi) delete s.pressure;
  return s;
}

// The rank and the typed ranks, by name.
function ranksOf(s: Sample): Record<string, number> {
  const r = ranker.rank(s);
  return { rank: r.rank, rank_cpu: r.typed?.rank_cpu ?? NaN, rank_mem: r.typed?.rank_mem ?? NaN, rank_io: r.typed?.rank_io ?? NaN };
}

// Why the step from `was` to `now` (samples of h and of h with more of `kind`) lowered
// a rank by more than a point, or undefined; the step where PSI cpu rises past the least
// busy CPU's share is the documented price.
function fallBetween(was: Sample, now: Sample, what: string): string | undefined {
  const least = was.cpu?.minBusy ?? NaN;
  if ((was.pressure?.cpuSome ?? NaN) <= least && (now.pressure?.cpuSome ?? NaN) > least) return undefined;
  const before = ranksOf(was);
  const after = ranksOf(now);
  for (const name of Object.keys(before)) {
    if (after[name]! < before[name]! - 1) return `${what}: ${name} ${before[name]!.toFixed(2)} -> ${after[name]!.toFixed(2)}`;
  }
  return undefined;
}

function fall(h: Host, kind: string, by: number): string | undefined {
  return fallBetween(sampleOf(h), sampleOf(ANY_MORE[kind]!(h, by)), `${kind} +${by.toFixed(3)} on ${h.state.cpus} CPUs, ${h.disks.length} disks, PSI ${h.psi}; ${JSON.stringify(h)}`);
}

// The I/Os in flight a kind adds to the busiest disk, which stays the busiest: the floor
// does not fall and the disks' number does not rise, so perDevice falls by at most that
// many waiters (test/model/backbone.test.ts), rank_io by 100 times it (rank76, 2026-12-07:
// a search of perDevice's inputs and of the generated hosts' found it reached, never passed).
const BUSIEST_ADDS: Record<string, (by: number) => number> = { busiestDisk: (by) => by / 4, busiestQueue: (by) => by };

// Why io added to the disks of h (`kind` of DISK_MORE) lowered more than the known fall
// allows, or undefined.
// The per-device reading divides the waiters the disks' requests can hold among the busy
// disks, at most k of them (io_devices), and counts at least one (where as many wait) on
// the busiest disk as busy as it is (perDevice's floor): so rank_io may fall to its value
// before over k, or to 100 × the busiest disk's busy share, whichever is more, never
// lower; and the rank by no more than rank_io's weight in it times that fall: the tasks
// waiting, PSI and the CPUs did not change, so no other part may fall.
function beyondKnownFall(h: Host, kind: string, by: number): string | undefined {
  const what = `${kind} +${by.toFixed(3)} on ${h.state.cpus} CPUs, ${h.disks.length} disks, PSI ${h.psi}; ${JSON.stringify(h)}`;
  const before = ranksOf(sampleOf(h));
  const more = DISK_MORE[kind]!(h, by);
  const after = ranksOf(sampleOf(more));
  const busiest = Math.max(...more.disks.map((d) => d.busy));
  const io = Math.max(before.rank_io! / h.disks.length, Math.min(before.rank_io!, 100 * busiest));
  if (after.rank_io! < io - 1) return `${what}: rank_io ${before.rank_io!.toFixed(2)} -> ${after.rank_io!.toFixed(2)}, below ${io.toFixed(2)}`;
  const adds = BUSIEST_ADDS[kind]?.(by);
  if (adds !== undefined && after.rank_io! < before.rank_io! - 100 * adds - 1) return `${what}: rank_io ${before.rank_io!.toFixed(2)} -> ${after.rank_io!.toFixed(2)}, more than the ${adds.toFixed(3)} I/Os the busiest disk added`;
  for (const name of ['rank_cpu', 'rank_mem']) {
    if (after[name]! < before[name]! - 1) return `${what}: ${name} ${before[name]!.toFixed(2)} -> ${after[name]!.toFixed(2)}`;
  }
  const allowed = IO_WEIGHT * Math.max(0, before.rank_io! - after.rank_io!);
  if (after.rank! < before.rank! - allowed - 1) return `${what}: rank ${before.rank!.toFixed(2)} -> ${after.rank!.toFixed(2)}, more than rank_io's fall allows (${allowed.toFixed(2)})`;
  return undefined;
}

// The sample without PSI, as a kernel before 4.20 or booted with psi=0 gives it.
function withoutPsi(s: Sample): Sample {
  const { pressure: _, ...rest } = s;
  return rest;
}

describe('the default model as contention of every kind rises', () => {
  // Each sample writes and reads a whole tree: a loaded test machine takes a quarter of a
  // second for one, so the steps alone are on one disk and the random states run 40 times
  // (400 with PSI and 400 without, on 1 and 8 disks, found none but the two left out; 1 500
  // a kind on 8 disks found the disks' io falling, now held to the known fall's bound).
  it('never ranks lower with one kind alone on an idle host, in steps, on 2, 64 and 128 CPUs, with and without PSI', () => {
    for (const cpus of [2, 64, 128]) {
      for (const devices of [1]) {
        for (const kind of Object.keys(ANY_MORE)) {
          let h: Host = { state: fullState({ cpus }), disks: Array.from({ length: devices }, () => ({ busy: 0, queue: 0 })), psi: true };
          let was = sampleOf(h);
          for (let step = 1; step <= 2; step++) {
            h = ANY_MORE[kind]!(h, 0.6);
            const now = sampleOf(h);
            const what = `${kind} step ${step} alone on ${cpus} CPUs, ${devices} disks`;
            for (const why of [fallBetween(was, now, what), fallBetween(withoutPsi(was), withoutPsi(now), `${what}, no PSI`)]) assert.equal(why, undefined, why);
            was = now;
          }
        }
      }
    }
  });

  it('never ranks lower with one kind more on top of every other, on 2, 64 and 128 CPUs with 1 and 8 disks (the disks\' io on one disk)', () => {
    fc.assert(
      fc.property(anyHost([1, 8]), fc.constantFrom(...Object.keys(ANY_MORE)), evenly(0.05, 2), (h, kind, by) => {
        const why = kind in DISK_MORE && h.disks.length > 1 ? beyondKnownFall(h, kind, by) : fall(h, kind, by);
        if (why !== undefined) throw new Error(why);
      }),
      { numRuns: 40 },
    );
  });

  // props77's search (2026-12-07): where busy and iowait filled the window, the synthetic
  // host's ticks passed it (1001 of 1000) and iowait filling it lowered the busy share read,
  // the rank 932.68 -> 930.96; 2 of the property's 100 000 steps there.
  it('never ranks lower with iowait filling what busy left, on a 128-CPU host of 8 disks', () => {
    const h: Host = {
      state: fullState({ cpus: 128, busy: 0.523479, iowait: 0.2323887, runnable: 486, load1: 511.990784, memUsed: 0.960076, netUtil: 1e-5, psiCpu: 0.705261, psiMemSome: 0.903723, psiIoSome: 0.655495 }),
      disks: Array.from({ length: 8 }, (_, i) => (i < 7 ? { busy: 0.713477 * (1 - i / 8), queue: 0.635417 * (1 - i / 8) } : { busy: 0, queue: 0 })),
      psi: true,
    };
    const why = fall(h, 'iowait', 1.2961475);
    assert.equal(why, undefined, why);
  });

  // 300 devices (a node with a JBOD or many LUNs): each sample writes and reads them all,
  // seconds on a loaded test machine, so one host, and the io kinds a many-disk node adds.
  it('never ranks lower with more io of one kind on a 128-CPU host of 300 disks, some busy, beside other contention', () => {
    const h: Host = {
      state: fullState({ cpus: 128, runnable: 90, load1: 100, busy: 0.6, iowait: 0.1, memUsed: 0.7, swapPagesPerSec: 2000, netUtil: 0.3, psiCpu: 0.2, psiMemSome: 0.1, psiIoSome: 0.4, blocked: 30 }),
      disks: Array.from({ length: 300 }, (_, i) => (i < 40 && i < 299 ? { busy: 0.9 * (1 - i / 41), queue: 2 * (1 - i / 41) } : { busy: 0, queue: 0 })),
      psi: true,
    };
    for (const kind of ['ioWaiters', 'busiestDisk', 'quietDisk']) {
      const why = fall(h, kind, 1);
      assert.equal(why, undefined, why);
    }
  });

  // The known fall (docs/model.md, "The same contention on every size"): four tasks waiting
  // for io on 2 CPUs and no disk busy read as io to NFS, counted whole; the same beside 8
  // disks each 50 % busy with 0.5 I/Os in flight read as the disks' waiters, half a task a
  // disk. Writeback on every disk with the four still waiting elsewhere gives the same
  // /proc (no task of its own waits: measured, docs/model.md), so it falls there too.
  it('lowers rank_io with io added to the disks, every one at once or one of them, no further than over the disks, and nothing else (the known fall)', () => {
    const stop74: Host = { state: fullState({ cpus: 2, blocked: 4 }), disks: Array.from({ length: 8 }, () => ({ busy: 0, queue: 0 })), psi: true };
    const before = ranksOf(sampleOf(stop74));
    const after = ranksOf(sampleOf(everyDisk(stop74, 2)));
    assert.ok(after.rank_io! < before.rank_io! - 100, `the known fall is gone (rank_io ${before.rank_io} -> ${after.rank_io}): take it out of docs/model.md and test the step among MORE`);
    const why = beyondKnownFall(stop74, 'everyDisk', 2);
    assert.equal(why, undefined, why);
    // A quiet disk made busy beside seven busy ones with no task more waiting (64 CPUs, a
    // quarter of them in iowait, no PSI): the random states' worst, rank_io 409 -> 359.
    const quiet: Host = {
      state: fullState({ cpus: 64, iowait: 0.239 }),
      disks: [...Array.from({ length: 7 }, (_, i) => ({ busy: 0.764 * (1 - i / 9), queue: 3.057 * (1 - i / 9) })), { busy: 0, queue: 0 }],
      psi: false,
    };
    const [was, now] = [ranksOf(sampleOf(quiet)), ranksOf(sampleOf(DISK_MORE.quietDisk!(quiet, 2)))];
    assert.ok(now.rank_io! < was.rank_io! - 20, `the quiet disk's fall is gone (rank_io ${was.rank_io} -> ${now.rank_io}): test the disks' io among MORE again`);
    const quietWhy = beyondKnownFall(quiet, 'quietDisk', 2);
    assert.equal(quietWhy, undefined, quietWhy);
    // The busiest disk's queue 1.6 deeper beside a deeper one, no PSI, 64 CPUs 8 % in
    // iowait (5.1 waiters): 1.6 more of them held and divided, rank_io 446 -> 286, the
    // searched worst (rank76: 1.6 waiters, all the step may take).
    const deeper: Host = { state: fullState({ cpus: 64, busy: 0.5, iowait: 0.08 }), disks: [{ busy: 0.66, queue: 0.66 }, { busy: 0.65, queue: 2.5 }], psi: false };
    const [from, to] = [ranksOf(sampleOf(deeper)), ranksOf(sampleOf(DISK_MORE.busiestQueue!(deeper, 1.6)))];
    assert.ok(to.rank_io! < from.rank_io! - 150, `the busiest queue's fall is gone (rank_io ${from.rank_io} -> ${to.rank_io})`);
    const deeperWhy = beyondKnownFall(deeper, 'busiestQueue', 1.6);
    assert.equal(deeperWhy, undefined, deeperWhy);
    fc.assert(
      fc.property(anyHost([1, 8]), fc.constantFrom(...Object.keys(DISK_MORE)), evenly(0.05, 2), (h, kind, by) => {
        const why = beyondKnownFall(h, kind, by);
        if (why !== undefined) throw new Error(why);
      }),
      { numRuns: 40 },
    );
  });
});
