import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { readAcct, type JobFinish } from '../../src/lsf/acct.js';
import { syntheticHosts, mergeHosts } from '../../src/simulate/hosts.js';
import { DEFAULT_GENERATE, acctMix, generateFamilies, generateWorkload, jobsFromAcct, offeredLoad } from '../../src/simulate/workload.js';
import { seededRandom } from '../../src/util/random.js';
import { fixture } from '../helpers.js';

const hosts = syntheticHosts(20);

async function fixtureRecords(): Promise<JobFinish[]> {
  const out: JobFinish[] = [];
  for await (const r of readAcct(fixture('openlava', 'lsb.acct'))) out.push(r);
  return out;
}

describe('generateWorkload', () => {
  it('gives the same jobs for the same seed and other jobs for another', () => {
    const a = generateWorkload(hosts, { jobs: 500 }, 7);
    assert.deepEqual(generateWorkload(hosts, { jobs: 500 }, 7), a);
    assert.notDeepEqual(generateWorkload(hosts, { jobs: 500 }, 8).map((j) => j.submit), a.map((j) => j.submit));
  });

  it('offers about the utilisation asked for', () => {
    for (const u of [0.5, 0.9]) {
      const load = offeredLoad(generateWorkload(hosts, { jobs: 20_000, utilisation: u }, 3), hosts);
      assert.ok(Math.abs(load - u) / u < 0.15, `asked ${u}, offered ${load}`);
    }
  });

  it('submits bursts of jobs of one family at the same instant', () => {
    const jobs = generateWorkload(hosts, { jobs: 2000, burstShare: 1, burstSize: 10 }, 1);
    for (let i = 0; i < jobs.length; i += 10) {
      const burst = jobs.slice(i, i + 10);
      assert.equal(new Set(burst.map((j) => j.submit)).size, 1);
      assert.equal(new Set(burst.map((j) => j.family)).size, 1);
    }
    assert.ok(jobs[10]!.submit > jobs[0]!.submit);
  });

  it('keeps jobs in submit order, numbered from 1', () => {
    const jobs = generateWorkload(hosts, { jobs: 300 }, 2);
    jobs.forEach((j, i) => {
      assert.equal(j.id, i + 1);
      if (i > 0) assert.ok(j.submit >= jobs[i - 1]!.submit);
    });
  });

  it('refuses settings out of range, naming them', () => {
    assert.throws(() => generateWorkload(hosts, { utilisation: 0 }, 1), /utilisation: expected more than 0/);
    assert.throws(() => generateWorkload(hosts, { jobs: 0, families: 0 }, 1), /2 problems/);
  });
});

describe('generateFamilies', () => {
  it('splits families by the mix and, balanced, gives every slot size and run times across the range', () => {
    const fams = generateFamilies({ ...DEFAULT_GENERATE, families: 20, mix: { cpu: 0.5, mem: 0.25, io: 0.25 }, overthread: 0.25, balanced: true }, seededRandom(1), 64);
    const count = (t: string) => fams.filter((f) => f.type === t).length;
    assert.deepEqual([count('cpu'), count('mem'), count('io')], [10, 5, 5]);
    assert.deepEqual([...new Set(fams.map((f) => f.slots))].sort((a, b) => a - b), [1, 2, 4, 8]);
    assert.equal(fams.filter((f) => f.threads === 2 * f.slots).length, 5);
    const works = fams.map((f) => f.medianWork).sort((a, b) => a - b);
    assert.ok(works[0]! < 400 && works[works.length - 1]! > 5000);
  });

  it('draws slots and run times from the seed unless balanced, with the types in the mix\'s order', () => {
    const fams = generateFamilies({ ...DEFAULT_GENERATE, families: 8, mix: { cpu: 0.5, mem: 0.25, io: 0.25 } }, seededRandom(1), 64);
    assert.deepEqual(fams.map((f) => f.type), ['cpu', 'cpu', 'cpu', 'cpu', 'mem', 'mem', 'io', 'io']);
    const other = generateFamilies({ ...DEFAULT_GENERATE, families: 8, mix: { cpu: 0.5, mem: 0.25, io: 0.25 } }, seededRandom(2), 64);
    assert.notDeepEqual(fams.map((f) => f.medianWork), other.map((f) => f.medianWork));
  });

  it('never asks for more slots than the largest host has', () => {
    const fams = generateFamilies({ ...DEFAULT_GENERATE, families: 16 }, seededRandom(1), 2);
    assert.ok(fams.every((f) => f.slots <= 2));
  });
});

describe('jobs from lsb.acct', () => {
  it('replays every job that ran, in submit order, with its family, slots and run time', async () => {
    const records = await fixtureRecords();
    const jobs = jobsFromAcct(records, mergeHosts([{ name: 'ol1', cpus: 2 }, { name: 'ol2', cpus: 2 }, { name: 'ol3', cpus: 2 }]));
    assert.equal(jobs.length, 74); // 75 records, one killed while held
    assert.equal(jobs[0]!.submit, 0);
    assert.ok(jobs.every((j, i) => i === 0 || j.submit >= jobs[i - 1]!.submit));
    assert.ok(jobs.some((j) => j.family === 'name:par_probe' && j.slots === 2));
    assert.ok(jobs.every((j) => j.work >= 1));
  });

  it('speeds the replay up for a higher load, and repeats it', async () => {
    const records = await fixtureRecords();
    const h = mergeHosts([{ name: 'ol1', cpus: 2 }, { name: 'ol2', cpus: 2 }, { name: 'ol3', cpus: 2 }]);
    const plain = jobsFromAcct(records, h);
    const fast = jobsFromAcct(records, h, { speedup: 4, repeat: 3 });
    assert.equal(fast.length, 3 * plain.length);
    assert.ok(Math.abs(fast[plain.length - 1]!.submit - plain[plain.length - 1]!.submit / 4) < 1e-9);
    const loaded = jobsFromAcct(records, h, { utilisation: 0.8 });
    assert.ok(Math.abs(offeredLoad(loaded, h) - 0.8) < 0.1, String(offeredLoad(loaded, h)));
  });

  it('takes CPU share from CPU time, io from blocks moved, the rest as waiting', async () => {
    const records = await fixtureRecords();
    const byName = (n: string) => records.find((r) => r.jobName === n && r.startTime > 0)!;
    const sleeper = acctMix(byName('sleeper'), 100e6);
    assert.ok(sleeper.mix.wait > 0.95);
    const io = acctMix({ ...byName('io_probe'), rusage: { ...byName('io_probe').rusage, oublock: 400_000 } }, 100e6);
    assert.equal(io.type, 'io');
    const cpu = acctMix({ ...byName('cpu_probe'), startTime: 100, endTime: 110, rusage: { ...byName('cpu_probe').rusage, utime: 9, stime: 0.5 } }, 100e6);
    assert.equal(cpu.type, 'cpu');
    assert.ok(Math.abs(cpu.mix.cpu - 0.95) < 1e-9);
  });
});

describe('jobs from lsb.acct, crafted records', () => {
  const GiB_KB = 1024 * 1024; // lsb.acct's maxRMem is in KB
  const h = mergeHosts([{ name: 'ol1', cpus: 2 }, { name: 'ol2', cpus: 2 }, { name: 'ol3', cpus: 2 }]);
  const base = async (): Promise<JobFinish> => (await fixtureRecords()).find((r) => r.jobName === 'cpu_probe' && r.startTime > 0)!;
  const job = (b: JobFinish, over: Partial<JobFinish>, ru: Partial<JobFinish['rusage']> = {}): JobFinish => ({
    ...b, startTime: 100, endTime: 200, numProcessors: 1, maxRMem: 0, ...over, rusage: { ...b.rusage, utime: 100, stime: 0, inblock: 0, oublock: 0, ...ru },
  });

  it('takes the CPU share per slot: 100 CPU seconds in 100 s on 2 slots is half busy', async () => {
    assert.equal(acctMix(job(await base(), { numProcessors: 2, execHosts: ['ol1', 'ol1'] }), 100e6).mix.cpu, 0.5);
  });

  it('takes the slots a job held from its execution hosts, not the least it asked for (bsub -n 2,4)', async () => {
    const b = await base();
    const ranOnFour = job(b, { numProcessors: 2, maxNumProcessors: 4, execHosts: ['ol1', 'ol1', 'ol1', 'ol1'] }, { utime: 400 });
    const [j] = jobsFromAcct([ranOnFour], mergeHosts([{ name: 'ol1', cpus: 4 }]));
    assert.equal(j?.slots, 4);
    assert.equal(j?.threads, 4);
    assert.equal(j?.mix.cpu, 1);
  });

  it('calls a job memory-bound by its resident memory per slot, not in all', async () => {
    const b = await base();
    assert.equal(acctMix(job(b, { numProcessors: 4, execHosts: ['ol1', 'ol1', 'ol1', 'ol1'], maxRMem: 4 * GiB_KB }, { utime: 400 }), 100e6).type, 'cpu');
    const one = acctMix(job(b, { numProcessors: 1, maxRMem: 4 * GiB_KB }), 100e6);
    assert.equal(one.type, 'mem');
    assert.ok(one.mix.mem > 0);
  });

  it('calls a memory-bound job that mostly moves blocks io, and never gives a mix above the whole run', async () => {
    const b = await base();
    const io = acctMix(job(b, { maxRMem: 4 * GiB_KB }, { utime: 1, oublock: 10_000_000 }), 100e6);
    assert.equal(io.type, 'io');
    const flood = acctMix(job(b, {}, { utime: 50, oublock: 100_000_000 }), 100e6).mix;
    assert.ok(Math.abs(flood.cpu + flood.mem + flood.io + flood.wait - 1) < 1e-9, JSON.stringify(flood));
    assert.ok(Math.abs(flood.io - 0.5) < 1e-9);
  });

  it('replays a job submitted with bsub -x (options bit 0x40) as exclusive, and the others not', async () => {
    const b = await base();
    const [x, plain] = jobsFromAcct([job(b, { jobId: 1, options: b.options | 0x40 }), job(b, { jobId: 2, options: b.options & ~0x40 })], h);
    assert.equal(x?.exclusive, true);
    assert.equal(plain?.exclusive, undefined);
  });

  it('gives a job no more slots than the largest host has, so that it can start', async () => {
    const [j] = jobsFromAcct([job(await base(), { numProcessors: 8, execHosts: ['ol1', 'ol2', 'ol3', 'ol1', 'ol2', 'ol3', 'ol1', 'ol2'] })], h);
    assert.equal(j?.slots, 2);
  });

  it('replays at the --load asked on hosts of different speeds, counting the CPU part slower on the slower hosts', async () => {
    // 200 CPU-bound jobs of 600 s, one submitted every 100 s, on hosts with CPU factors 0.5, 1 and 2.
    const b = await base();
    const records = Array.from({ length: 200 }, (_, i) => job(b, { jobId: 1000 + i, submitTime: 1e9 + 100 * i, startTime: 1e9 + 100 * i, endTime: 1e9 + 100 * i + 600 }, { utime: 600 }));
    const mixed = mergeHosts([0.5, 1, 2].map((f, i) => ({ name: `h${i}`, cpus: 4, cpuFactor: f })));
    const offered = offeredLoad(jobsFromAcct(records, mixed, { utilisation: 0.8 }), mixed);
    assert.ok(Math.abs(offered - 0.8) < 0.005, String(offered));
  });

  it('starts each repeat of the replay one second after the last submission of the one before', async () => {
    const records = await fixtureRecords();
    const plain = jobsFromAcct(records, h);
    const twice = jobsFromAcct(records, h, { repeat: 2 });
    assert.equal(twice[plain.length]!.submit, plain[plain.length - 1]!.submit + 1);
    assert.ok(twice.every((j, i) => i === 0 || j.submit >= twice[i - 1]!.submit));
  });
});
