// The promises of the rank, as properties of the shipped default model on synthetic
// hosts of 2, 16, 64 and 128 CPUs read through lavarank's own collectors (issue 12):
// more contention never lowers the rank (but where PSI cpu rises past the least busy
// CPU's share: docs/model.md, "The price"), a free CPU ranks near idle whatever the
// host's size (a free core on an SMT host), swapping and memory stall rank far above idle (a saturated disk for an
// io-bound job, rank_io), and a small full host ranks well above a big full one.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import fc from 'fast-check';
import { MAX_STALL, NET_WEIGHT, SMT_YIELD } from '../../src/model/backbone.js';
import { parseModel } from '../../src/model/model.js';
import { modelRanker } from '../../src/model/rankers.js';
import { repoRoot } from '../helpers.js';
import { fullState, hostSampler, kernelPsi, type HostState } from '../helpers/synthetic-host.js';

const ranker = modelRanker(parseModel(readFileSync(join(repoRoot, 'models', 'default.json'), 'utf8'), 'models/default.json'));
const hosts = hostSampler();
after(() => hosts.close());
const rankOf = (state: HostState): number => ranker.rank(hosts.sample(state)).rank;
const SIZES = [2, 16, 64, 128] as const;

// What "near idle" and "far above idle" mean here, in rank points (percent slowdown).
const NEAR = 10;
const FAR = 30;

describe('the synthetic host', () => {
  it('reads back, through the collectors, as the state it was written from', () => {
    const state: HostState = { cpus: 16, cores: 8, runnable: 20, load1: 18, busy: 0.8, iowait: 0.05, steal: 0.02, memUsed: 0.6, swapPagesPerSec: 400, majorFaultsPerSec: 50, diskBusy: 0.4, netUtil: 0.7, psiCpu: 0.3, psiMemSome: 0.1, psiMemFull: 0.05, psiIoSome: 0.2, psiIoFull: 0.1 };
    const s = hosts.sample(state);
    const near = (a: number | undefined, b: number, what: string): void => assert.ok(a !== undefined && Math.abs(a - b) < 0.01 * Math.max(1, b), `${what}: ${a} vs ${b}`);
    near(s.cpu?.busy, 0.8, 'busy');
    near(s.cpu?.iowait, 0.05, 'iowait');
    near(s.cpu?.steal, 0.02, 'steal');
    assert.equal(s.load?.online, 16);
    assert.equal(s.load?.cores, 8);
    near(s.load?.runnable, 20, 'runnable');
    near(s.load?.load1, 18, 'load1');
    near(s.memory?.usedFraction, 0.6, 'memory used');
    near((s.memory?.swapInPerSec ?? 0) + (s.memory?.swapOutPerSec ?? 0), 400, 'swap pages per second');
    near(s.memory?.majorFaultsPerSec, 50, 'major faults per second');
    near(s.disk?.busyMax, 0.4, 'disk busy');
    near(s.network?.utilizationMax, 0.7, 'busiest link');
    near(s.pressure?.cpuSome, 0.3, 'psi cpu');
    near(s.pressure?.memorySome, 0.1, 'psi memory some');
    near(s.pressure?.ioFull, 0.1, 'psi io full');
    assert.deepEqual(s.failures, {});
  });

  // Rounded part by part, user, system and iowait could pass the window where busy and
  // iowait filled it (1001 ticks of 1000, idle 0), and iowait filling it lowered the busy
  // share read: 3 of 200 000 of the property's steps below fell so (props77, 2026-12-07).
  it('reads the same busy share whatever iowait fills of the rest of the window, the ticks adding up to it', () => {
    for (const [cpus, busy] of [[128, 0.523479], [2, 0.691335], [3, 0.9848008]] as const) {
      const alone = hosts.sample({ cpus, busy });
      for (const iowait of [(1 - busy) / 2, 1 - busy]) {
        const s = hosts.sample({ cpus, busy, iowait });
        assert.equal(s.cpu?.busy, alone.cpu?.busy, `${cpus} CPUs ${busy} busy, iowait ${iowait}`);
      }
    }
  });
});

// One contention input of a host, and how to give it more.
const MORE: Record<string, (s: Required<HostState>, by: number) => HostState> = {
  runnable: (s, by) => ({ ...s, runnable: s.runnable + Math.ceil(by * s.cpus) }),
  load1: (s, by) => ({ ...s, load1: s.load1 + by * s.cpus }),
  busy: (s, by) => ({ ...s, busy: Math.min(1 - s.iowait, s.busy + by / 4) }),
  iowait: (s, by) => ({ ...s, iowait: Math.min(1 - s.busy, s.iowait + by / 4) }),
  // Steal on top of the host's own work: the synthetic busy share counts steal, so more
  // steal at the same busy share would be the host's own work replaced by steal, not more
  // contention. On a host of one SMT core that replacement lowers the rank (CI's seed
  // 1991548190: 2 CPUs, 1 core, 2.3 % busy, its work turned to steal, 3.35 -> 2.26): a busy
  // sibling thread costs a new task more than the same time stolen (smtCapacity).
  steal: (s, by) => {
    const more = Math.min(by / 4, Math.max(0, 1 - s.iowait - s.busy));
    return { ...s, busy: s.busy + more, steal: s.steal + more };
  },
  memUsed: (s, by) => ({ ...s, memUsed: Math.min(1, s.memUsed + by / 4) }),
  swapPagesPerSec: (s, by) => ({ ...s, swapPagesPerSec: s.swapPagesPerSec + 1000 * by }),
  majorFaultsPerSec: (s, by) => ({ ...s, majorFaultsPerSec: s.majorFaultsPerSec + 1000 * by }),
  diskBusy: (s, by) => ({ ...s, diskBusy: Math.min(1, s.diskBusy + by / 4) }),
  netUtil: (s, by) => ({ ...s, netUtil: Math.min(1, s.netUtil + by / 4) }),
  psiCpu: (s, by) => ({ ...s, psiCpu: Math.min(1, s.psiCpu + by / 4) }),
  psiMemSome: (s, by) => ({ ...s, psiMemSome: Math.min(1, s.psiMemSome + by / 4) }),
  psiMemFull: (s, by) => ({ ...s, psiMemFull: Math.min(s.psiMemSome, s.psiMemFull + by / 4) }),
  psiIoSome: (s, by) => ({ ...s, psiIoSome: Math.min(1, s.psiIoSome + by / 4) }),
  psiIoFull: (s, by) => ({ ...s, psiIoFull: Math.min(s.psiIoSome, s.psiIoFull + by / 4) }),
};

// A number drawn evenly between min and max. fc.double draws evenly over the doubles
// between them, most of which lie near 0: of fc.double({ min: 0, max: 1 }), 92 % are
// below 1e-10 and 0.4 % within 0.05-0.95, so hosts drawn with it were nearly all idle
// or saturated on every input, and no step met a state in between.
const evenly = (min: number, max: number): fc.Arbitrary<number> => fc.integer({ min: 0, max: 1_000_000 }).map((i) => min + ((max - min) * i) / 1_000_000);

// Hosts of the four sizes in any state a kernel can report.
const anyHost: fc.Arbitrary<Required<HostState>> = fc
  .record({
    cpus: fc.constantFrom(...SIZES),
    smt: fc.boolean(),
    perCpu: evenly(0, 4),
    load1PerCpu: evenly(0, 4),
    busy: evenly(0, 1),
    iowait: evenly(0, 0.3),
    steal: evenly(0, 0.2),
    memUsed: evenly(0, 1),
    swapPagesPerSec: fc.oneof(fc.constant(0), evenly(0, 20_000)),
    majorFaultsPerSec: fc.oneof(fc.constant(0), evenly(0, 20_000)),
    diskBusy: evenly(0, 1),
    netUtil: evenly(0, 1),
    psiCpu: evenly(0, 1),
    psiMemSome: evenly(0, 1),
    psiIoSome: evenly(0, 1),
    fullShare: evenly(0, 1),
  })
  .map((r) =>
    fullState({
      cpus: r.cpus,
      cores: r.smt ? r.cpus / 2 : r.cpus,
      runnable: Math.round(r.perCpu * r.cpus),
      load1: r.load1PerCpu * r.cpus,
      iowait: r.iowait,
      steal: r.steal,
      busy: Math.max(r.steal, Math.min(r.busy, 1 - r.iowait)),
      memUsed: r.memUsed,
      swapPagesPerSec: r.swapPagesPerSec,
      majorFaultsPerSec: r.majorFaultsPerSec,
      diskBusy: r.diskBusy,
      netUtil: r.netUtil,
      psiCpu: r.psiCpu,
      psiMemSome: r.psiMemSome,
      psiMemFull: r.psiMemSome * r.fullShare,
      psiIoSome: r.psiIoSome,
      psiIoFull: r.psiIoSome * r.fullShare,
    }),
  );

describe('the default model on synthetic hosts', () => {
  it('ranks a host of one SMT core higher with steal added to its work, and lower with its work turned to steal (CI\'s seed 1991548190)', () => {
    const host = fullState({ cpus: 2, cores: 1, busy: 0.022942 });
    const rank = (s: HostState): number => ranker.rank(hosts.sample(s)).rank;
    const was = rank(host);
    assert.ok(rank(MORE.steal!(host, 0.0847)) > was + 1, 'steal on top of the work raises the rank');
    // 3.35 -> 2.41; CI read 2.26, where the synthetic host rounded work and steal apart and
    // the turned host's busy share read a tick low (22 of 1000 for 0.022942; props77).
    const turned = rank({ ...host, steal: 0.0212 });
    assert.ok(turned < was - 0.5 && turned > 0, `the work turned to steal reads lower (${was} -> ${turned}), as docs/model.md says: if it no longer does, take that out of the page`);
  });

  // The cpu collector's shares of this host left busy × online and jobBusy × jobCpus 7e-15
  // apart with CPU 63 idle, which read as a task elsewhere turned on the 1-minute load's
  // queue bound that busy CPUs outside the job's then called for: 72.1, 170.2 without the
  // noise (props78, 2026-12-07). The bound now holds with those CPUs idle too (props79).
  it('ranks a host whose CPUs outside the job\'s ran nothing as such, whatever the rounding of its shares (cpu.job_cpus 0-62 of 64)', () => {
    const jobCpus = Array.from({ length: 63 }, (_, k) => k);
    const perCpu = Array.from({ length: 64 }, (_, k) => ({ busy: k < 63 ? 0.05 + 0.0731 * 9 + (k % 3) * 0.01 : 0 }));
    const s = hosts.sample({ cpus: 64, runnable: 252, load1: 378, psiCpu: 0.5 }, { perCpu, jobCpus });
    assert.equal(s.cpu?.jobElsewhere1, 0);
    const rank = ranker.rank(s).rank;
    const exact = structuredClone(s);
    exact.cpu!.busy = (exact.cpu!.jobBusy! * 63) / 64;
    assert.equal(rank, ranker.rank(exact).rank);
    assert.ok(rank > 50, `rank ${rank}`);
  });

  // But for one step, documented as the price of the rule against pinned work
  // (docs/model.md, "The price"): where PSI cpu rises past the least busy CPU's busy
  // share, the load's waiting part is read as pinned work and capped, and the rank
  // falls (92.0 to 78.7 on 2 CPUs 60 % busy at load 6).
  it('never ranks a host lower when one of its contention inputs grows (tolerance 1 point), but where PSI cpu rises past the least busy CPU\'s share', () => {
    fc.assert(
      fc.property(anyHost, fc.constantFrom(...Object.keys(MORE)), evenly(0.05, 2), (host, input, by) => {
        const was = hosts.sample(host);
        const now = hosts.sample(MORE[input]!(host, by));
        const minBusy = was.cpu?.minBusy ?? NaN;
        if ((was.pressure?.cpuSome ?? NaN) <= minBusy && (now.pressure?.cpuSome ?? NaN) > minBusy) return;
        const before = ranker.rank(was).rank;
        const after = ranker.rank(now).rank;
        if (after < before - 1) throw new Error(`${input} +${by.toFixed(3)} on ${JSON.stringify(host)}: rank ${before.toFixed(2)} -> ${after.toFixed(2)}`);
      }),
      { numRuns: 100 },
    );
  });

  // fast-check's seed -398308996 found 394.77 -> 393.77 here: the synthetic host rounded
  // each /proc/stat field apart, so more iowait alone moved the busy share by a tick
  // (0.7370 -> 0.7363) where the rank is steep. Stop 63 widened the tolerance above to
  // 0.5 % of the rank for it, which hid falls of 2 points at 400; the ticks now add up.
  it('ranks a host no lower when only its iowait grows, where the rank is steep (2 CPUs 74 % busy at load 5.6 under swapping)', () => {
    const host: Required<HostState> = { cpus: 2, cores: 2, busy: 0.736496, iowait: 0.0000042, steal: 0.0915, runnable: 8, load1: 5.605, blocked: 0, memUsed: 0, memTotalGiB: 8, swapPagesPerSec: 7454.9, majorFaultsPerSec: 0, diskBusy: 0, netUtil: 0, psiCpu: 0.736951, psiMemSome: 0.43505, psiMemFull: 0, psiIoSome: 0, psiIoFull: 0, seconds: 10, own: 0 };
    const before = ranker.rank(hosts.sample(host)).rank;
    const after = ranker.rank(hosts.sample(MORE['iowait']!(host, 0.05))).rank;
    assert.ok(after >= before - 1, `rank ${before.toFixed(2)} -> ${after.toFixed(2)}`);
  });

  // The property's seed of props77's search (2026-12-07): iowait filling what busy left
  // of the window, read through ticks that passed it, lowered the rank 526.63 -> 525.56.
  it('ranks a host no lower when its iowait grows to fill what its busy time left of the window (2 CPUs 69 % busy at load 6.6)', () => {
    const host: Required<HostState> = { cpus: 2, cores: 2, busy: 0.691335, iowait: 0.2719542, steal: 0.0989362, runnable: 8, load1: 6.60544, blocked: 0, memUsed: 0.286041, memTotalGiB: 8, swapPagesPerSec: 0, majorFaultsPerSec: 0, diskBusy: 0.130576, netUtil: 0.440797, psiCpu: 0.89383, psiMemSome: 0.672686, psiMemFull: 0.585987537576, psiIoSome: 0.67701, psiIoFull: 0.58975424316, seconds: 10, own: 0 };
    const before = ranker.rank(hosts.sample(host)).rank;
    const after = ranker.rank(hosts.sample(MORE['iowait']!(host, 1.98982685))).rank;
    assert.ok(after >= before - 1, `rank ${before.toFixed(2)} -> ${after.toFixed(2)}`);
  });

  it('ranks a host with a free CPU near idle, whatever its size', () => {
    for (const cpus of SIZES) {
      const idle = rankOf({ cpus });
      const oneFree = rankOf({ cpus, runnable: cpus - 1, psiCpu: 0.02 });
      assert.ok(idle < NEAR, `${cpus} CPUs idle: ${idle}`);
      assert.ok(oneFree < idle + NEAR, `${cpus} CPUs, ${cpus - 1} runnable: ${oneFree} against ${idle} idle`);
    }
  });

  // review72: the elim's start between its baseline and its first report ran 0.05 of a
  // CPU, which the least busy CPU's floor counted as a task's: an idle 1-CPU host ranked
  // 6.7 instead of 1.7 at the first report.
  it('ranks a host whose only work was lavarank\'s own start near idle, on 1 CPU and where a job may use one CPU of 16', () => {
    const alone = rankOf({ cpus: 1, busy: 0.05, own: 0.05 });
    assert.ok(alone < 1, `1 CPU: ${alone.toFixed(2)}`);
    const cpu0 = { perCpu: [{ busy: 0.05 }, ...Array.from({ length: 15 }, () => ({ busy: 0 }))], jobCpus: [0] };
    const pinned = ranker.rank(hosts.sample({ cpus: 16, own: 0.05 }, cpu0)).rank;
    assert.ok(pinned < 1, `job CPU 0 of 16: ${pinned.toFixed(2)}`);
  });

  // A real LIM showed this: an idle 2-CPU host ranked 107-153 at the ticks that met
  // a burst of short commands, from /proc/loadavg's count of one instant.
  it('ranks a host near idle when a burst of short commands meets the read after an idle interval, on every size', () => {
    for (const cpus of SIZES) {
      const idle = rankOf({ cpus });
      const burst = rankOf({ cpus, runnable: cpus + 3, busy: 0.01, load1: 0.1, psiCpu: 0.002 });
      assert.ok(burst < idle + NEAR, `${cpus} CPUs, ${cpus + 3} runnable at the read after an idle interval: ${burst.toFixed(1)} against ${idle.toFixed(1)} idle`);
    }
  });

  // Tasks in uninterruptible sleep count in the load average and want no CPU: an
  // audit parked 50 processes in vfork() and ranked an idle 2-CPU host 422.
  it('ranks a host near idle when its load average is tasks in uninterruptible sleep, its CPUs idle, on every size', () => {
    for (const cpus of SIZES) {
      const idle = rankOf({ cpus });
      const parked = rankOf({ cpus, runnable: 0, busy: 0.005, load1: 25 * cpus, psiCpu: 0.004 });
      assert.ok(parked < idle + NEAR, `${cpus} CPUs, load ${25 * cpus} of parked tasks: ${parked.toFixed(1)} against ${idle.toFixed(1)} idle`);
    }
  });

  // The same without PSI (RHEL 8 and 9 boot with it off), beside a quarter of the CPUs
  // busy: "some" is then the least busy CPU's share, and each parked task counted as
  // waiting that long ranked a 2-CPU host 296.
  it('ranks a host without PSI near idle when its load average is tasks in uninterruptible sleep beside a quarter of its CPUs busy, on every size', () => {
    for (const cpus of SIZES) {
      const busy = hosts.sample({ cpus, runnable: cpus / 4, busy: 0.25 });
      const parked = hosts.sample({ cpus, runnable: cpus / 4, busy: 0.25, load1: cpus / 4 + 25 * cpus });
      delete busy.pressure;
      delete parked.pressure;
      const before = ranker.rank(busy).rank;
      const after = ranker.rank(parked).rank;
      assert.ok(after < before + NEAR, `${cpus} CPUs a quarter busy, load ${cpus / 4 + 25 * cpus} of parked tasks, no PSI: ${after.toFixed(1)} against ${before.toFixed(1)}`);
    }
  });

  it('ranks swapping and memory stall far above idle, on every size', () => {
    for (const cpus of SIZES) {
      const idle = rankOf({ cpus });
      const busyShare = Math.round(0.3 * cpus);
      const swapping = rankOf({ cpus, runnable: busyShare, busy: 0.3, swapPagesPerSec: 5000, majorFaultsPerSec: 2500, psiMemSome: 0.6, psiMemFull: 0.3, memUsed: 0.99 });
      const memoryStall = rankOf({ cpus, runnable: busyShare, busy: 0.3, psiMemSome: 0.6, psiMemFull: 0.3, memUsed: 0.9 });
      for (const [what, rank] of [['swapping', swapping], ['memory stall', memoryStall]] as const) {
        assert.ok(rank > idle + FAR, `${cpus} CPUs, ${what}: ${rank.toFixed(1)} against ${idle.toFixed(1)} idle`);
      }
    }
  });

  // The typical job is the calibration probe, whose io is about 1 % of its time: a
  // saturated disk is slow "for the io part" (issue 12), which rank_io reports.
  it('ranks a saturated disk far above idle for an io-bound job, and never below idle for the typical one, on every size', () => {
    for (const cpus of SIZES) {
      const idle = ranker.rank(hosts.sample({ cpus }));
      const busyShare = Math.round(0.3 * cpus);
      const disk = ranker.rank(hosts.sample({ cpus, runnable: busyShare, busy: 0.3, iowait: 0.4, diskBusy: 1, psiIoSome: 0.9, psiIoFull: 0.6 }));
      const io = disk.typed?.rank_io ?? NaN;
      assert.ok(io > (idle.typed?.rank_io ?? Infinity) + FAR, `${cpus} CPUs, saturated disk: rank_io ${io.toFixed(1)} against ${String(idle.typed?.rank_io)} idle`);
      assert.ok(disk.rank >= idle.rank - 1, `${cpus} CPUs, saturated disk: rank ${disk.rank.toFixed(1)} against ${idle.rank.toFixed(1)} idle`);
    }
  });

  // The kernel weights each CPU's io stall by its non-idle time, so one task keeping a
  // disk saturated reads io "some" 0.99 on an otherwise idle host and about 1/(k + 1)
  // beside k CPU loops: read as the host's share, the rank fell from 23.0 to 3.5 and
  // rank_io from 461 to 69 as CPU work was added, on every size (an audit, 2026-12-06).
  it('ranks one task keeping a disk saturated about the same beside 0 to n - 1 CPU loops, and about +100 % for an io-bound job, on 2, 16 and 128 CPUs', () => {
    for (const cpus of [2, 16, 128]) {
      const loops = cpus <= 16 ? Array.from({ length: cpus }, (_, k) => k) : [0, 1, 2, 4, 8, 16, 32, 64, 96, 127];
      const ranks = loops.map((k) => {
        const psiIoSome = kernelPsi([{ stall: 0.99, nonIdle: 0.99 }, ...Array.from({ length: k }, () => ({ stall: 0, nonIdle: 1 }))]);
        return { k, ...ranker.rank(hosts.sample({ cpus, runnable: k, busy: k / cpus, iowait: 0.99 / cpus, diskBusy: 1, psiIoSome })) };
      });
      const alone = ranks[0]!;
      for (const r of ranks) {
        const io = r.typed?.rank_io ?? NaN;
        assert.ok(Math.abs(r.rank - alone.rank) <= 1, `${cpus} CPUs, ${r.k} loops: rank ${r.rank.toFixed(1)} against ${alone.rank.toFixed(1)} with none`);
        assert.ok(io >= 90 && io <= 110, `${cpus} CPUs, ${r.k} loops: rank_io ${io.toFixed(1)}`);
      }
    }
  });

  // Tasks waiting on NFS, Lustre or GPFS are in no local disk's queue. Divided among the
  // local disks busy a tenth of the time, four of them ranked 33.8, 16.9, 8.5 and 4.2
  // beside 1, 2, 4 and 8 such disks, and a user's small reads on four local disks took
  // them from 32.7-34.8 to 9.4-9.8 (the fourteenth hostile-user audit, 2026-12-06). Each
  // local disk's reader waits while its one I/O is in flight, in iowait and PSI as the
  // kernel counts it.
  it('ranks four tasks waiting on NFS beside 1, 2, 4 and 8 local disks 10 to 13 % busy within a few per cent of beside one, on 16 CPUs', () => {
    for (const busy of [0.1, 0.13]) {
      const at = (k: number) => {
        const r = ranker.rank(hosts.sample({ cpus: 16, iowait: (4 + k * busy) / 16, psiIoSome: 0.99 }, { disks: Array.from({ length: k }, () => ({ busy })) }));
        return { rank: r.rank, io: r.typed?.rank_io ?? NaN };
      };
      const one = at(1);
      assert.ok(one.io > 390 && one.io < 420, `one disk ${busy * 100} % busy: rank_io ${one.io.toFixed(1)}`);
      for (const k of [2, 4, 8]) {
        const r = at(k);
        assert.ok(Math.abs(r.rank - one.rank) <= 0.03 * one.rank, `${k} disks ${busy * 100} % busy: rank ${r.rank.toFixed(1)} against ${one.rank.toFixed(1)} beside one`);
        assert.ok(Math.abs(r.io - one.io) <= 0.03 * one.io, `${k} disks ${busy * 100} % busy: rank_io ${r.io.toFixed(1)} against ${one.io.toFixed(1)} beside one`);
      }
    }
  });

  // The tasks on the deepest local queue are not divided among the other disks: four
  // waiters on one saturated disk ranked 33.0-34.9 alone and 14.6-15.0 beside a user's
  // dd on each of three other disks (the fourteenth hostile-user audit, 2026-12-06).
  it('ranks four tasks waiting on one saturated disk no lower beside a dd saturating each of 1 to 7 other disks, on 16 CPUs', () => {
    const at = (m: number) => {
      const disks = [{ busy: 1, queue: 4 }, ...Array.from({ length: m }, () => ({ busy: 1, queue: 1 }))];
      return ranker.rank(hosts.sample({ cpus: 16, iowait: (4 + m) / 16, diskBusy: 1, psiIoSome: 0.99 }, { disks }));
    };
    const alone = at(0);
    for (const m of [1, 3, 7]) {
      const r = at(m);
      assert.ok(r.rank >= alone.rank - 0.5, `${m} other disks saturated: rank ${r.rank.toFixed(1)} against ${alone.rank.toFixed(1)} alone`);
      assert.ok((r.typed?.rank_io ?? NaN) >= (alone.typed?.rank_io ?? Infinity) - 5, `${m} other disks saturated: rank_io ${String(r.typed?.rank_io)} against ${String(alone.typed?.rank_io)} alone`);
    }
  });

  // PSI counts a CPU once however many waiters slept on it, iowait an idle CPU once: on 2
  // CPUs four tasks waiting on one disk or on NFS read as two, rank_io 196, where 4 to 256
  // CPUs read 392 (rank72, 2026-12-07). procs_blocked counts them all. Each waiter sleeps
  // on a CPU of its own while there are CPUs, as the kernel spreads wake-ups.
  it('ranks four tasks waiting on one saturated disk, and on NFS, about the same on 2, 4, 16, 64, 128 and 256 CPUs, with and without PSI', () => {
    const at = (cpus: number, disk: boolean, psi: boolean): number => {
      const psiIoSome = kernelPsi(Array.from({ length: Math.min(4, cpus) }, () => ({ stall: 0.99, nonIdle: 0.99 })));
      const state = { cpus, iowait: (0.99 * Math.min(4, cpus)) / cpus, psiIoSome, blocked: 4 };
      const sample = hosts.sample(state, disk ? { disks: [{ busy: 1, queue: 4 }] } : {});
      if (!psi) delete sample.pressure;
      return ranker.rank(sample).typed?.rank_io ?? NaN;
    };
    for (const disk of [true, false]) {
      for (const psi of [true, false]) {
        const big = at(16, disk, psi);
        assert.ok(big > 380 && big < 410, `${disk ? 'disk' : 'NFS'}, PSI ${String(psi)}, 16 CPUs: rank_io ${big.toFixed(1)}`);
        for (const cpus of [2, 4, 64, 128, 256]) {
          const io = at(cpus, disk, psi);
          assert.ok(Math.abs(io - big) <= 0.05 * big, `${disk ? 'disk' : 'NFS'}, PSI ${String(psi)}, ${cpus} CPUs: rank_io ${io.toFixed(1)} against ${big.toFixed(1)} on 16`);
        }
      }
    }
  });

  // A new job's io goes to one device: one waiter on each of 8 saturated disks is one
  // waiter on the disk it joins, as on a host whose one disk is saturated by one.
  it('ranks one waiter on each of 8 saturated disks as one waiter on one saturated disk, on 16 CPUs', () => {
    const eight = ranker.rank(hosts.sample({ cpus: 16, iowait: 8 / 16, psiIoSome: 0.99 }, { disks: Array.from({ length: 8 }, () => ({ busy: 1 })) }));
    const one = ranker.rank(hosts.sample({ cpus: 16, iowait: 1 / 16, diskBusy: 1, psiIoSome: 0.99 }));
    assert.ok(Math.abs((eight.typed?.rank_io ?? NaN) - (one.typed?.rank_io ?? NaN)) < 2, `rank_io ${String(eight.typed?.rank_io)} on 8 disks, ${String(one.typed?.rank_io)} on one`);
  });

  // Where a job may use only some CPUs (cpu.job_cpus, isolcpus=, a cpuset), PSI io and
  // iowait are still the machine's, weighted over all its CPUs: counted over the job's
  // 2 of 64, one task keeping an NFS mount busy ranked 8.4 alone and 0.1 (rank_io 1.6)
  // beside 62 busy CPUs outside them, and 3.1 without PSI (an audit, 2026-12-06).
  it('ranks one task waiting for io no disk shows about the same beside 0 to 62 CPU loops outside the job\'s CPUs (cpu.job_cpus 0-1 of 64), with and without PSI', () => {
    const at = (k: number, psi: boolean): { rank: number; io: number } => {
      const perCpu = Array.from({ length: 64 }, (_, i) => (i === 0 ? { busy: 0, iowait: 0.99 } : { busy: i >= 2 && i < 2 + k ? 1 : 0 }));
      const psiIoSome = kernelPsi([{ stall: 0.99, nonIdle: 0.99 }, ...Array.from({ length: k }, () => ({ stall: 0, nonIdle: 1 }))]);
      const sample = hosts.sample({ cpus: 64, runnable: k, psiIoSome }, { perCpu, jobCpus: [0, 1] });
      if (!psi) delete sample.pressure;
      const r = ranker.rank(sample);
      return { rank: r.rank, io: r.typed?.rank_io ?? NaN };
    };
    for (const psi of [true, false]) {
      const alone = at(0, psi);
      for (const k of [0, 1, 8, 31, 62]) {
        const r = at(k, psi);
        assert.ok(Math.abs(r.rank - alone.rank) <= 1, `PSI ${String(psi)}, ${k} loops: rank ${r.rank.toFixed(1)} against ${alone.rank.toFixed(1)} with none`);
        assert.ok(r.io >= 90 && r.io <= 110, `PSI ${String(psi)}, ${k} loops: rank_io ${r.io.toFixed(1)}`);
      }
    }
  });

  // A kernel without PSI (RHEL 7's 3.10) and io to NFS or Ceph (rbd), which no disk
  // shows: only the CPUs' iowait tells, and until it stood in for PSI's io share such a
  // host ranked exactly as an idle one, rank_io 0 included.
  it('ranks a host without PSI whose CPUs wait for io no disk shows far above idle for an io-bound job, on every size', () => {
    for (const cpus of SIZES) {
      const idle = hosts.sample({ cpus });
      const waiting = hosts.sample({ cpus, busy: 0.02, iowait: 0.45 });
      delete idle.pressure;
      delete waiting.pressure;
      const before = ranker.rank(idle);
      const after = ranker.rank(waiting);
      const io = after.typed?.rank_io ?? NaN;
      assert.ok(io > (before.typed?.rank_io ?? Infinity) + FAR, `${cpus} CPUs, 45 % iowait: rank_io ${io.toFixed(1)} against ${String(before.typed?.rank_io)} idle`);
      assert.ok(after.rank > before.rank + 1, `${cpus} CPUs, 45 % iowait: rank ${after.rank.toFixed(2)} against ${before.rank.toFixed(2)} idle`);
    }
  });

  // Without PSI the memory stall is estimated from the major faults; taken over the CPUs
  // busy or in iowait, as PSI weights each CPU's stall, it fell as other CPUs got busy:
  // such a host swapping at 5000 pages a second ranked 19.9 with one of its 64 CPUs busy
  // and 0.4 with 63, below what it ranked idle but for the swapping.
  it('ranks a host without PSI that swaps no lower as more of its CPUs get busy, on every size', () => {
    for (const cpus of SIZES) {
      const at = (busyCpus: number): number => {
        const sample = hosts.sample({ cpus, runnable: busyCpus, busy: busyCpus / cpus, swapPagesPerSec: 5000, majorFaultsPerSec: 5000 });
        delete sample.pressure;
        return ranker.rank(sample).rank;
      };
      const one = at(1);
      const most = at(cpus - 1);
      assert.ok(most >= one - 1, `${cpus} CPUs without PSI swapping: ${one.toFixed(1)} with 1 CPU busy, ${most.toFixed(1)} with ${cpus - 1}`);
    }
  });

  // No training run had network load: the backbone's network part, with its assumed
  // weight, is all there is (docs/model.md), and it must reach the rank as written.
  it('ranks a host whose link is saturated above idle by the backbone\'s assumed network part, on every size', () => {
    for (const cpus of SIZES) {
      const idle = rankOf({ cpus });
      const half = rankOf({ cpus, netUtil: 0.5 });
      const full = rankOf({ cpus, netUtil: 1 });
      const part = (u: number): number => NET_WEIGHT * 100 * -Math.log1p(-Math.min(MAX_STALL, u));
      assert.ok(Math.abs(half - idle - part(0.5)) < 0.5, `${cpus} CPUs, link at 50 %: ${half.toFixed(2)} against ${idle.toFixed(2)} idle`);
      assert.ok(Math.abs(full - idle - part(1)) < 0.5, `${cpus} CPUs, link saturated: ${full.toFixed(2)} against ${idle.toFixed(2)} idle`);
    }
  });

  it('ranks a small full host well above a big full host', () => {
    const small = rankOf({ cpus: 2, runnable: 2, psiCpu: 0.3 });
    const big = rankOf({ cpus: 128, runnable: 128, psiCpu: 0.3 });
    assert.ok(small > big + FAR, `2 CPUs full: ${small.toFixed(1)}, 128 CPUs full: ${big.toFixed(1)}`);
  });

  // A job placed beside a busy SMT sibling runs slower, by SMT_YIELD (assumed): near
  // idle while a core is idle, a CPU-bound job +60 % once every thread is taken.
  it('ranks an SMT host near idle while a core is idle, and far above idle once every thread is taken, on every size', () => {
    for (const cpus of SIZES.filter((n) => n > 2)) {
      const cores = cpus / 2;
      const idle = rankOf({ cpus, cores });
      const coreFree = rankOf({ cpus, cores, runnable: cores - 1, psiCpu: 0.02 });
      const threadsFull = ranker.rank(hosts.sample({ cpus, cores, runnable: cpus - 1, psiCpu: 0.05 }));
      const asThreads = rankOf({ cpus, runnable: cpus - 1, psiCpu: 0.05 });
      assert.ok(coreFree < idle + NEAR, `${cpus} CPUs on ${cores} cores, ${cores - 1} runnable: ${coreFree.toFixed(1)} against ${idle.toFixed(1)} idle`);
      assert.ok(threadsFull.rank > idle + FAR, `${cpus} CPUs on ${cores} cores, ${cpus - 1} runnable: ${threadsFull.rank.toFixed(1)} against ${idle.toFixed(1)} idle`);
      assert.ok(Math.abs((threadsFull.typed?.rank_cpu ?? NaN) - (2 / (1 + SMT_YIELD) - 1) * 100) < 1, `${cpus} CPUs: ${JSON.stringify(threadsFull.typed)}`);
      assert.ok(asThreads < idle + NEAR, `${cpus} CPUs without topology, ${cpus - 1} runnable: ${asThreads.toFixed(1)}`);
    }
  });

  it('doubles a CPU-bound job\'s time at two tasks per CPU on any size', () => {
    for (const cpus of SIZES) {
      const typed = ranker.rank(hosts.sample({ cpus, runnable: 2 * cpus, psiCpu: 0.9 })).typed;
      assert.ok(typed !== undefined && typed.rank_cpu >= 100 && typed.rank_cpu <= 150, `${cpus} CPUs: ${JSON.stringify(typed)}`);
    }
  });
});
