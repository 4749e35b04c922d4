import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { cachedRank, cheapestOf, hostTotals, newSim, placePending, runWorkload, session, simulateWorkload, startJob, step, twoChoices, type JobOutcome } from '../../src/simulate/engine.js';
import { mergeHosts } from '../../src/simulate/hosts.js';
import { TYPE_MIX, type SampleValues } from '../../src/simulate/cluster.js';
import { INFINIT_LOAD } from '../../src/simulate/mbatchd.js';
import type { JobSpec } from '../../src/simulate/workload.js';

const hosts = (n: number, cpus = 4) => mergeHosts(Array.from({ length: n }, (_, i) => ({ name: `h${i + 1}`, cpus, mxj: cpus })));

const cpuJob = (id: number, submit: number, work = 100): JobSpec => ({ id, family: 'f', type: 'cpu', mix: { ...TYPE_MIX.cpu }, slots: 1, threads: 1, work, memBytes: 2 ** 30, submit });

describe('runWorkload', () => {
  it('gives the same outcomes for the same seed, and other outcomes for another seed', () => {
    const h = hosts(6);
    const run = (seed: number) => simulateWorkload(h, { jobs: 300, utilisation: 0.9 }, { seed, policy: { name: 'random', kind: 'random' }, background: { share: 0.3, meanOn: 600, maxCpuShare: 0.5 } });
    const a = run(3);
    const b = run(3);
    assert.deepEqual(a.outcomes, b.outcomes);
    assert.equal(a.makespan, b.makespan);
    assert.notDeepEqual(run(4).outcomes.map((o) => o.end), a.outcomes.map((o) => o.end));
  });

  it('runs a lone job at its idle speed and reports its CPU time and host', () => {
    const r = runWorkload(hosts(1), [cpuJob(1, 0, 100)], { seed: 1, policy: { name: 'default', kind: 'default' } });
    const o = r.outcomes[0]!;
    assert.equal(o.start, 10); // the first dispatch session, MBD_SLEEP_TIME after the start
    assert.ok(Math.abs(o.end - 110) < 1e-6);
    assert.ok(Math.abs(o.slowdown - 1) < 1e-9);
    assert.ok(Math.abs(o.cpuSeconds - 100) < 1e-6);
    assert.equal(o.host, 'h1');
  });

  it('shares CPUs between threads beyond the CPU count (processor sharing)', () => {
    // Two jobs of 4 threads each on a 4-CPU host: each runs at half speed.
    const jobs = [1, 2].map((id) => ({ ...cpuJob(id, 0, 100), threads: 4 }));
    const r = runWorkload(hosts(1), jobs, { seed: 1, policy: { name: 'default', kind: 'default' } });
    for (const o of r.outcomes) assert.ok(Math.abs(o.slowdown - 2) < 1e-6, `slowdown ${o.slowdown}`);
  });

  it('gives the simulated Sample of a host at any time with keepHistory', () => {
    const r = runWorkload(hosts(1), [cpuJob(1, 0, 1000)], { seed: 1, policy: { name: 'default', kind: 'default' }, keepHistory: true });
    const before = r.sampleAt('h1', 5);
    const during = r.sampleAt('h1', 600);
    assert.equal(before.cpu?.busy, 0);
    assert.ok(Math.abs(during.cpu!.busy - 0.25) < 1e-9); // one busy thread of 4 CPUs
    assert.ok(during.load!.load1 > 0.99 && during.load!.load1 < 1); // 590 s of a 60 s average
    assert.equal(during.load?.online, 4);
    assert.throws(() => r.sampleAt('nope', 1), /no host named/);
  });
});

// A ranker that gives each host a fixed rank, told apart by its memory size.
const fixedRanks = (byGiB: Record<number, number>) => ({
  name: 'fixed',
  rank: (sample: import('../../src/collectors/types.js').Sample) => ({ rank: byGiB[Math.round(sample.memory!.totalBytes / 2 ** 30)]!, model: 'fixed' }),
});

describe('runWorkload\'s ranks', () => {
  // Ranks are kept by the host's state, not by host: two hosts of one size and load that
  // differ in their disks (lshosts' ndisks, a hosts file's disks) are not one state.
  it('ranks hosts that differ only in their disks each with its own disks', () => {
    const h = mergeHosts([
      { name: 'many', cpus: 8, mxj: 8, disks: 8 },
      { name: 'one', cpus: 8, mxj: 8, disks: 1 },
    ]);
    const byDisks = { name: 'disks', rank: (sample: import('../../src/collectors/types.js').Sample) => ({ rank: sample.disk!.devices!.length, model: 'disks' }) };
    const r = runWorkload(h, [cpuJob(1, 45, 100)], { seed: 1, policy: { name: 'rank', kind: 'rank' }, ranker: byDisks });
    assert.equal(r.outcomes[0]!.host, 'one');
  });
});

describe('cachedRank (the rank of mbatchd\'s view, a stage of runWorkload)', () => {
  const values: SampleValues = { busy: 0.5, iowait: 0, load1PerCpu: 0.5, runnablePerCpu: 0.5, memUsed: 0.25, diskBusy: 0, psiCpu: 0, psiIo: 0 };
  const counting = () => {
    const seen: number[] = [];
    return { seen, ranker: { name: 'count', rank: (sample: import('../../src/collectors/types.js').Sample) => { seen.push(sample.disk!.devices!.length); return { rank: 10 * seen.length, model: 'count' }; } } };
  };

  it('asks the ranker once for a host state, and again for one that differs only in its disks', () => {
    const { seen, ranker } = counting();
    const cache = new Map();
    const counters = { rankCalls: 0 };
    const [eight, other] = mergeHosts([{ name: 'a', cpus: 8, mxj: 8, disks: 8 }, { name: 'b', cpus: 8, mxj: 8, disks: 1 }]);
    const first = cachedRank(ranker, cache, eight!, values, 20, counters);
    const again = cachedRank(ranker, cache, eight!, { ...values }, 30, counters);
    const fewer = cachedRank(ranker, cache, other!, values, 20, counters);
    assert.deepEqual([first.rank, again.rank, fewer.rank], [10, 10, 20]);
    assert.deepEqual(seen, [8, 1]);
    assert.equal(counters.rankCalls, 2);
  });

  it('gives the typed ranks as unknown (INFINIT_LOAD) for a ranker without them, and in order with them', () => {
    const [host] = mergeHosts([{ name: 'a', cpus: 4, mxj: 4 }]);
    const plain = cachedRank({ name: 'p', rank: () => ({ rank: 7, model: 'p' }) }, new Map(), host!, values, 0, { rankCalls: 0 });
    assert.deepEqual(plain.ranks, [7, INFINIT_LOAD, INFINIT_LOAD, INFINIT_LOAD]);
    const typed = cachedRank({ name: 't', rank: () => ({ rank: 7, model: 't', typed: { rank_cpu: 1, rank_mem: 2, rank_io: 3 } }) }, new Map(), host!, values, 0, { rankCalls: 0 });
    assert.deepEqual(typed.ranks, [7, 1, 2, 3]);
  });
});

// The measured burst: 3 hosts with 8 slots, ranks 45 / 7.5 / 135, 12 jobs at once.
function burst(policy: import('../../src/simulate/policies.js').PolicySpec, acceptInterval = 0): number[] {
  const h = mergeHosts([
    { name: 'ol1', cpus: 8, mxj: 8, memBytes: 8 * 2 ** 30 },
    { name: 'ol2', cpus: 8, mxj: 8, memBytes: 16 * 2 ** 30 },
    { name: 'ol3', cpus: 8, mxj: 8, memBytes: 24 * 2 ** 30 },
  ]);
  // Jobs that only wait, so that the hosts' state (and the ranks) never change.
  const jobs: JobSpec[] = Array.from({ length: 12 }, (_, i) => ({ ...cpuJob(i + 1, 45, 3600), mix: { cpu: 0, mem: 0, io: 0, wait: 1 } }));
  const r = runWorkload(h, jobs, { seed: 1, policy, ranker: fixedRanks({ 8: 45, 16: 7.5, 24: 135 }), scheduler: { acceptInterval } });
  return ['ol1', 'ol2', 'ol3'].map((name) => r.outcomes.filter((o) => o.host === name).length);
}

describe('a burst of 12 jobs on 3 hosts ranked 45 / 7.5 / 135 (measured on OpenLava 4.0)', () => {
  it('goes 4 / 8 / 0 with order[rank] and JOB_ACCEPT_INTERVAL=0: the lowest rank is filled first', () => {
    assert.deepEqual(burst({ name: 'rank', kind: 'rank' }), [4, 8, 0]);
  });

  it('goes 4 / 4 / 4 with JOB_ACCEPT_INTERVAL=1: one job per host per session, whatever the rank', () => {
    assert.deepEqual(burst({ name: 'rank', kind: 'rank' }, 1), [4, 4, 4]);
    assert.deepEqual(burst({ name: 'accept1', kind: 'rank', acceptInterval: 1 }), [4, 4, 4]);
  });

  it('goes 5 / 5 / 2 with rusage[rank=40:duration=40s:decay=1]: 40 more per job placed, re-sorted per job', () => {
    assert.deepEqual(burst({ name: 'rank+D40', kind: 'rank', reservation: { value: 40, duration: 40, decay: 1 } }), [5, 5, 2]);
  });
});

describe('placing by rank, beyond a burst of one-slot jobs', () => {
  const two = () => mergeHosts([
    { name: 'a', cpus: 4, mxj: 2, memBytes: 8 * 2 ** 30 },
    { name: 'b', cpus: 4, mxj: 2, memBytes: 16 * 2 ** 30 },
  ]);
  const waiting = (id: number, slots = 1): JobSpec => ({ ...cpuJob(id, 45, 3600), slots, mix: { cpu: 0, mem: 0, io: 0, wait: 1 } });

  it('passes over the best-ranked host when it has fewer free slots than the job asks for', () => {
    const r = runWorkload(two(), [waiting(1), waiting(2, 2)], { seed: 1, policy: { name: 'rank', kind: 'rank' }, ranker: fixedRanks({ 8: 10, 16: 50 }) });
    assert.deepEqual(r.outcomes.map((o) => [o.host, o.start]), [['a', 50], ['b', 50]]);
  });

  it('starts an exclusive job only on a host running nothing, and starts nothing beside it', () => {
    // Two hosts of 2 slots, three jobs at once: the exclusive job 2 takes the host job 1
    // left empty, and job 3 goes beside job 1, whatever the policy prefers.
    const jobs = [waiting(1), { ...waiting(2), exclusive: true }, waiting(3)];
    for (const policy of [{ name: 'rank', kind: 'rank' as const }, { name: 'random', kind: 'random' as const }, { name: 'oracle', kind: 'oracle' as const }]) {
      const [one, x, three] = runWorkload(two(), jobs, { seed: 1, policy, ranker: fixedRanks({ 8: 10, 16: 50 }) }).outcomes;
      assert.deepEqual([x!.host !== one!.host, three!.host === one!.host, x!.start, three!.start], [true, true, 50, 50], policy.name);
    }
  });

  it('with two choices, takes the lower rank of two distinct hosts: of two hosts, always the better one', () => {
    for (let seed = 1; seed <= 12; seed++) {
      const r = runWorkload(two(), [waiting(1)], { seed, policy: { name: 'two-choices', kind: 'two-choices' }, ranker: fixedRanks({ 8: 50, 16: 10 }) });
      assert.equal(r.outcomes[0]?.host, 'b', `seed ${seed}`);
    }
  });
});

describe('reservations', () => {
  // One host, one job dispatched at the session at 20 s (between the refreshes at 10 and 30).
  function reservedOverTime(work: number): Array<[number, boolean, number]> {
    const seen: Array<[number, boolean, number]> = [];
    runWorkload(hosts(1), [{ ...cpuJob(1, 15, work), mix: { cpu: 0, mem: 0, io: 0, wait: 1 } }, { ...cpuJob(2, 200, 1) }], {
      seed: 1,
      policy: { name: 'rank+D40', kind: 'rank', reservation: { value: 40, duration: 40, decay: 1 } },
      ranker: fixedRanks({ 16: 10 }),
      onSession: (t, refreshed, views) => {
        if (t <= 110) seen.push([t, refreshed, views[0]!.reserved[0]]);
      },
    });
    return seen;
  }

  it('changes only at load refreshes, one refresh late: a 40 s reservation lasts 70 s', () => {
    // Sessions see the reservation before placing: the job is placed at 20 s, after that session looked.
    assert.deepEqual(reservedOverTime(1000), [
      [10, true, 0],
      [20, false, 0],
      [30, true, 40], // runTime 0 at this refresh: the whole reservation
      [40, false, 40],
      [50, true, 30], // runTime 10 (from the previous refresh at 30): 40 × 30/40
      [60, false, 30],
      [70, true, 10], // runTime 30
      [80, false, 10],
      [90, true, 0], // runTime 50: gone, 70 s after the job started
      [100, false, 0],
      [110, true, 0],
    ]);
  });

  it('reserves once per slot: a 4-slot job with rusage[rank=10] adds 40 to its host', () => {
    // mbatchd's adjLsbLoad adds the value for each entry of the job's hPtr, one per slot.
    const seen: Array<[number, number]> = [];
    runWorkload(hosts(1, 8), [{ ...cpuJob(1, 15, 1000), slots: 4, threads: 4, mix: { cpu: 0, mem: 0, io: 0, wait: 1 } }, { ...cpuJob(2, 200, 1) }], {
      seed: 1,
      policy: { name: 'rank+D10', kind: 'rank', reservation: { value: 10, duration: 40, decay: 1 } },
      ranker: fixedRanks({ 32: 10 }),
      onSession: (t, _refreshed, views) => {
        if (t === 30 || t === 50) seen.push([t, views[0]!.reserved[0]]);
      },
    });
    assert.deepEqual(seen, [[30, 40], [50, 30]]);
  });

  it('keeps a finished job\'s reservation until the next refresh', () => {
    // The job runs from 20 s to 35 s; its reservation is still there at 40 s, gone at 50 s.
    const seen = reservedOverTime(15);
    assert.deepEqual(seen.filter(([t]) => t >= 30 && t <= 50), [
      [30, true, 40],
      [40, false, 40],
      [50, true, 0],
    ]);
  });
});

describe('old values', () => {
  it('shows mbatchd the rank as old as --staleness says, even beyond three minutes', () => {
    // One 1-CPU host runs a job from 10 s to about 410 s; the rank is 100 per runnable task.
    // At the refresh at 610 s a staleness of 300 s shows the host as it was at 310 s: busy.
    const seen: number[] = [];
    const ranker = { name: 'load', rank: (sample: import('../../src/collectors/types.js').Sample) => ({ rank: 100 * sample.load!.runnablePerCpu, model: 'load' }) };
    runWorkload(mergeHosts([{ name: 'solo', cpus: 1, mxj: 1 }]), [cpuJob(1, 0, 400), cpuJob(2, 700, 1)], {
      seed: 1,
      policy: { name: 'rank', kind: 'rank' },
      ranker,
      scheduler: { staleness: 300 },
      onSession: (t, _refreshed, views) => {
        if (t === 610) seen.push(views[0]!.rank);
      },
    });
    assert.deepEqual(seen, [100]);
  });
});

describe('ties and event order', () => {
  it('keeps the host list\'s order among equal ranks: a burst on idle hosts fills the first host first', () => {
    const h = hosts(3, 8);
    const jobs = Array.from({ length: 12 }, (_, i) => ({ ...cpuJob(i + 1, 45, 3600), mix: { cpu: 0, mem: 0, io: 0, wait: 1 } }));
    for (const policy of [{ name: 'rank', kind: 'rank' as const }, { name: 'default', kind: 'default' as const }]) {
      const r = runWorkload(h, jobs, { seed: 1, policy, ranker: fixedRanks({ 32: 20 }) });
      assert.deepEqual(['h1', 'h2', 'h3'].map((n) => r.outcomes.filter((o) => o.host === n).length), [8, 4, 0], policy.name);
    }
  });

  it('lets a session see a job submitted at its own time, and the slot of a job that ended at that time', () => {
    const one = mergeHosts([{ name: 'solo', cpus: 1, mxj: 1 }]);
    const r = runWorkload(one, [cpuJob(1, 10, 10), cpuJob(2, 10, 10)], { seed: 1, policy: { name: 'default', kind: 'default' } });
    assert.equal(r.outcomes[0]!.start, 10); // submitted at the session's time
    assert.ok(Math.abs(r.outcomes[0]!.end - 20) < 1e-9);
    assert.equal(r.outcomes[1]!.start, 20); // the slot freed at 20 s is used by the session at 20 s
  });

  it('places no job before the first dispatch session, and none between sessions', () => {
    const r = runWorkload(hosts(2), [cpuJob(1, 0), cpuJob(2, 13), cpuJob(3, 29.5)], { seed: 1, policy: { name: 'default', kind: 'default' } });
    assert.deepEqual(r.outcomes.map((o) => o.start), [10, 20, 30]);
  });
});

describe('hostTotals (the run\'s last stage)', () => {
  const timeline = (busyIntegral: number) => ({ at: () => ({ busyIntegral }) as never });
  const ended = (host: string) => ({ host }) as JobOutcome;
  it('counts each host\'s jobs and gives the busy share of its CPUs over the makespan', () => {
    const totals = hostTotals(
      [{ spec: { name: 'a', cpus: 2 }, timeline: timeline(50) }, { spec: { name: 'b', cpus: 4 }, timeline: timeline(0) }],
      [ended('a'), ended('a'), ended('c')],
      100,
    );
    assert.deepEqual(totals, [{ name: 'a', cpus: 2, jobs: 2, utilisation: 0.5 }, { name: 'b', cpus: 4, jobs: 0, utilisation: 0 }]);
  });
  it('gives no utilisation for a run that ended at 0', () => {
    assert.equal(hostTotals([{ spec: { name: 'a', cpus: 2 }, timeline: timeline(5) }], [], 0)[0]?.utilisation, 0);
  });
});

describe('placePending (a dispatch session\'s pass, a stage of runWorkload)', () => {
  it('passes over a job no host takes, still tries the later ones, and keeps every job after the last free slot', () => {
    const tried: number[] = [];
    // Job 2 fits nowhere; each other job takes 2 slots; 4 slots free.
    const left = placePending([1, 2, 3, 4, 5, 6], 4, (job) => {
      tried.push(job);
      return job === 2 ? undefined : 2;
    });
    assert.deepEqual(tried, [1, 2, 3]);
    assert.deepEqual(left, [2, 4, 5, 6]);
  });

  it('tries every job while slots are free and leaves none that was placed', () => {
    assert.deepEqual(placePending([7, 8], 3, () => 1), []);
    assert.deepEqual(placePending([7, 8], 3, () => 0), []);
  });
});

describe('twoChoices (the two-choices policy\'s pick)', () => {
  const draws = (...values: number[]) => () => values.shift() ?? 0;
  it('takes the lower value of two distinct candidates, whatever the draws', () => {
    const value = (h: string) => ({ a: 3, b: 1, c: 2 })[h] ?? 0;
    for (const [x, y] of [[0, 0], [0.99, 0.99], [0.5, 0.4], [0.1, 0.6]] as const) {
      const picked = twoChoices(['a', 'b', 'c'], draws(x, y), value);
      const i = Math.floor(x * 3);
      let j = Math.floor(y * 2);
      if (j >= i) j++;
      assert.notEqual(i, j);
      const pair = [['a', 'b', 'c'][i]!, ['a', 'b', 'c'][j]!];
      assert.equal(picked, pair.sort((p, q) => value(p) - value(q))[0]);
    }
  });
  it('takes the only candidate without drawing, and none of none', () => {
    let drawn = 0;
    const rand = () => (drawn++, 0.5);
    assert.equal(twoChoices(['a'], rand, () => 0), 'a');
    assert.equal(twoChoices([], rand, () => 0), undefined);
    assert.equal(drawn, 0);
  });
  it('keeps the earlier candidate on a tie', () => {
    assert.equal(twoChoices(['a', 'b'], draws(0.9, 0), () => 1), 'a');
  });
});

describe('cheapestOf (the oracle\'s pick)', () => {
  it('takes the cheapest candidate, a cost within 1e-3 of it counting as a tie that a draw settles', () => {
    const costs: Record<string, number> = { a: 2, b: 1, c: 1.0005, d: 5 };
    const ties = [0.9, 0.8, 0.1, 0.2]; // one draw per candidate priced, in pool order
    assert.equal(cheapestOf(['a', 'b', 'c', 'd'], 4, 64, () => ties.shift()!, (h) => costs[h]!), 'c');
    assert.equal(cheapestOf(['a', 'b', 'd'], 3, 64, () => 0.5, (h) => costs[h]!), 'b');
  });
  it('prices only limit candidates, drawn to the front of the pool, and none beyond n', () => {
    const priced: string[] = [];
    const pool = ['a', 'b', 'c', 'd', 'e'];
    const picked = cheapestOf(pool, 4, 2, () => 0.99, (h) => (priced.push(h), 0));
    assert.equal(priced.length, 2);
    assert.ok(!priced.includes('e'));
    assert.deepEqual(pool.slice(0, 2), priced);
    assert.equal(picked, priced[0]);
    assert.equal(cheapestOf([], 0, 2, () => 0, () => 0), undefined);
  });
});

describe('a run\'s stages, called alone', () => {
  it('startJob takes the job\'s slots and adds its reservation once per slot, on its type\'s index', () => {
    const job = { ...cpuJob(1, 0, 100), type: 'mem' as const, mix: { ...TYPE_MIX.mem }, slots: 2 };
    const sim = newSim(hosts(1), [job], { seed: 1, policy: { name: 'typed+D3', kind: 'typed', reservation: { value: 3, duration: 60, decay: 1 } } });
    const h = sim.H[0]!;
    sim.nextArrival = 1; // it arrived: what a session would start
    startJob(sim, 0, h, 5);
    assert.deepEqual([...h.resv], [0, 0, 6, 0]);
    assert.equal(h.free, 2);
    assert.equal(h.lastAccept, 5);
    // Its end is the one event scheduled: the next step retires it.
    step(sim);
    assert.equal(sim.finished, 1);
    assert.equal(sim.outcomes[0]?.start, 5);
    assert.equal(sim.outcomes[0]?.host, 'h1');
  });

  it('session places the pending jobs that fit, in submit order, and leaves the others pending', () => {
    // Three slots: the first job takes two, the second (two) no longer fits, the third (one) does.
    const jobs = [2, 2, 1].map((slots, i) => ({ ...cpuJob(i + 1, 0, 100), slots }));
    const sim = newSim(hosts(1, 3), jobs, { seed: 1, policy: { name: 'default', kind: 'default' }, traceHosts: 1 });
    sim.pending.push(0, 1, 2);
    session(sim, 10);
    assert.deepEqual(sim.pending, [1]);
    assert.deepEqual(sim.H[0]!.jobs.map((r) => r.index), [0, 2]);
    assert.deepEqual(sim.trace.running, [[2]]);
    assert.equal(sim.counters.refreshes, 1); // the first session refreshes the loads
  });
});
