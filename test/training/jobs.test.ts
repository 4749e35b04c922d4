import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { JOB_STAT_EXIT, readAcct, type JobFinish } from '../../src/lsf/acct.js';
import type { HistoryRecord } from '../../src/history/record.js';
import { backbone } from '../../src/model/backbone.js';
import { readHistory } from '../../src/history/reader.js';
import { buildExamples, HistoryJoin, jobKind, JobTable, labelAndSplit, noExclusions, shortHostName, type ExampleOptions } from '../../src/training/jobs.js';
import { makeJob } from '../helpers/job.js';
import { familyLines } from '../../src/training/retrain.js';
import { fileDir, fixture } from '../helpers.js';

const T0 = 1_800_000_000; // epoch seconds

// A job of `name` that ran `wall` s from `start` on `host`, using `cpu` CPU seconds.
function run(name: string, start: number, wall: number, cpu = wall, host = 'ol1', over: Partial<JobFinish> = {}): JobFinish {
  const base = makeJob(name, start, wall, host, over);
  return { ...base, rusage: { ...base.rusage, utime: cpu, stime: 0 } };
}

function sample(host: string, tsSec: number, cpu = tsSec): HistoryRecord {
  return { ts: tsSec * 1000, host, features: { cpu_busy: cpu }, rank: 0, model: 'test' };
}

// A sample every 10 s on every host the jobs ran on, covering all their starts.
function historyFor(jobs: readonly JobFinish[]): HistoryRecord[] {
  const out: HistoryRecord[] = [];
  const hosts = new Set(jobs.map((j) => j.execHosts[0] ?? ''));
  const starts = jobs.map((j) => j.startTime).filter((t) => t > 0);
  for (const host of hosts) for (let t = Math.min(...starts) - 10; t <= Math.max(...starts); t += 10) out.push(sample(host, t, 0.1));
  return out;
}

// The labels of the jobs, in start order, and what was left out.
async function labels(jobs: JobFinish[], options: ExampleOptions = {}) {
  const r = await buildExamples(jobs, historyFor(jobs), options);
  const byJob = new Map<number, number>();
  r.examples.index.forEach((i, k) => byJob.set(r.table.jobId[i] ?? 0, r.examples.label[k] ?? NaN));
  return { ...r, labelOf: (job: JobFinish) => byJob.get(job.jobId) };
}

// One job on ol1 at T0 (cpu = wall, so an idle run), joined with `history`; the ts of its sample.
async function sampleFor(host: string, start: number, history: HistoryRecord[], intervalSec?: number): Promise<number | undefined> {
  const table = new JobTable();
  table.add(run('j', start, 100, 100, host));
  table.finish();
  const j = new HistoryJoin(table, intervalSec === undefined ? {} : { intervalSec });
  for (const r of history) j.offer(r);
  j.finish();
  const ts = j.sampleTs[0];
  return ts === -Infinity ? undefined : ts;
}

describe('jobKind', () => {
  test('is the job name when there is one', () => {
    assert.equal(jobKind(makeJob('cpu_probe', T0, 1)), 'name:cpu_probe');
  });

  test('is the command when the job has no name', () => {
    assert.equal(jobKind(makeJob('', T0, 1, 'ol1', { command: 'sleep 2' })), 'command:sleep 2');
  });

  test('is the array name without its index range for an array element', () => {
    assert.equal(jobKind(makeJob('arr[1-5]', T0, 1, 'ol1', { idx: 3 })), 'name:arr');
    assert.equal(jobKind(makeJob('arr[1-100]%10', T0, 1, 'ol1', { idx: 3 })), 'name:arr');
  });

  test('keeps brackets in the name of a job that is not an array element', () => {
    assert.equal(jobKind(makeJob('fit[a]', T0, 1)), 'name:fit[a]');
  });
});

describe('shortHostName', () => {
  test('drops the domain and case', () => {
    assert.equal(shortHostName('OL1.Example.COM'), 'ol1');
    assert.equal(shortHostName('ol1'), 'ol1');
  });

  test('keeps an IPv4 address whole', () => {
    assert.equal(shortHostName('10.1.2.3'), '10.1.2.3');
  });
});

describe('the contention label, on crafted families', () => {
  test('gives every idle run 0, whatever its size: a bigger input is more work, not contention', async () => {
    const jobs = Array.from({ length: 10 }, (_, i) => run('fit', T0 + 100 * i, 100 + 50 * i));
    const r = await labels(jobs);
    assert.equal(r.examples.index.length, 10);
    assert.deepEqual([...r.examples.label], new Array<number>(10).fill(0));
  });

  test('labels a run that got half the CPU time per second as 100 % slower', async () => {
    const waited = run('fit', T0 + 450, 200, 100);
    const jobs = [...Array.from({ length: 9 }, (_, i) => run('fit', T0 + 100 * i, 100 + 30 * i)), waited];
    assert.equal((await labels(jobs)).labelOf(waited), 100);
  });

  test('compares a 4-slot run with its slots: 400 CPU seconds in 100 s on 4 slots is undisturbed', async () => {
    const par = (start: number, wall: number, cpu: number) => run('par', start, wall, cpu, 'ol1', { execHosts: ['ol1', 'ol1', 'ol1', 'ol1'] });
    const slow = par(T0 + 250, 200, 400);
    const r = await labels([...Array.from({ length: 9 }, (_, i) => par(T0 + 100 * i, 100, 400)), slow]);
    assert.equal(r.labelOf(slow), 100);
    assert.equal(r.examples.families.get(r.table.family[0] ?? 0)?.status, 'ok');
  });

  test('takes the baselines from the training window only: the holdout never sees its own future', async () => {
    // Training runs used half their CPU; the held-out ones, later, all of it. Baselines from
    // every run would put the baseline at 1 and label every training run 100 %.
    const training = Array.from({ length: 8 }, (_, i) => run('drift', T0 + 100 * i, 100, 50));
    const held = Array.from({ length: 2 }, (_, i) => run('drift', T0 + 10_000 + 100 * i, 100, 95));
    const r = await labels([...training, ...held], { maxSpeedup: 2 });
    assert.equal(r.examples.trainCount, 8);
    assert.equal(r.examples.holdoutCount, 2);
    assert.ok(r.examples.cut > T0 + 700 && r.examples.cut <= T0 + 10_000);
    const fam = r.examples.families.get(r.table.family[0] ?? 0);
    assert.ok(fam?.status === 'ok' && Math.abs(fam.baseline - 0.5) < 1e-9, JSON.stringify(fam));
    for (const j of training) assert.equal(r.labelOf(j), 0);
  });

  test('gives each family its own baseline: runs of two families that take different CPU shares are both undisturbed', async () => {
    const jobs = Array.from({ length: 20 }, (_, i) => (i % 2 === 0 ? run('full', T0 + 100 * i, 100) : run('half', T0 + 100 * i, 100, 50)));
    const r = await labels(jobs);
    assert.equal(r.examples.index.length, 20);
    assert.deepEqual([...r.examples.label], new Array<number>(20).fill(0));
  });

  test('gives another user\'s runs under the same job name their own family: they never set this user\'s baseline', async () => {
    // alice's runs take half a CPU second a second, undisturbed; mallory names runs alike
    // that take all of it: in one family their baseline of 1 labelled every run of alice's 100 %.
    const alice = Array.from({ length: 10 }, (_, i) => run('align', T0 + 100 * i, 100, 50));
    const mallory = Array.from({ length: 10 }, (_, i) => run('align', T0 + 50 + 100 * i, 100, 100, 'ol2', { userName: 'mallory' }));
    const r = await labels([...alice, ...mallory]);
    for (const j of alice.slice(0, 8)) assert.equal(r.labelOf(j), 0);
  });

  test('refuses a holdout fraction of 1, which leaves nothing to train on, or below 0', () => {
    const t = new JobTable();
    t.finish();
    assert.throws(() => labelAndSplit(t, 1), /holdoutFraction: expected 0 to less than 1, received 1/);
    assert.throws(() => labelAndSplit(t, -0.1), /holdoutFraction: expected 0 to less than 1, received -0.1/);
  });

  test('takes a family\'s baseline from all its runs in the training window, those without history included', async () => {
    // History began only at T0 + 695: the first seven runs found no sample, but they are still runs of the family.
    const jobs = Array.from({ length: 10 }, (_, i) => run('fit', T0 + 100 * i, 100));
    const history = [695, 795, 895].map((s) => sample('ol1', T0 + s, 0.1));
    const r = await buildExamples(jobs, history);
    assert.equal(r.excluded.noHistory, 7);
    assert.equal(r.excluded.fewRuns, 0);
    assert.equal(r.examples.index.length, 3);
    assert.equal(r.examples.families.get(r.table.family[0] ?? 0)?.status, 'ok');
  });

  test('keeps a family\'s runs too short to label in its baseline, at the lowest efficiency their whole seconds allow', async () => {
    // Undisturbed, the work takes 6 s (under --min-runtime 10); slowed, 12 s. Leaving the
    // 6 s runs out of the baseline would make the 12 s runs the family's fastest: label 0.
    const jobs = Array.from({ length: 20 }, (_, i) => run('mem', T0 + 100 * i, i % 2 === 0 ? 6 : 12, 6));
    const r = await labels(jobs);
    assert.equal(r.excluded.tooShort, 10);
    const slowed = jobs.filter((_, i) => i % 2 === 1);
    for (const j of slowed.slice(0, 8)) assert.ok(Math.abs((r.labelOf(j) ?? NaN) - 100 * (6 / 7 / 0.5 - 1)) < 1e-3, `label ${r.labelOf(j)}`);
  });

  test('leaves out a family seen only in the holdout as fewRuns', async () => {
    const jobs = [...Array.from({ length: 8 }, (_, i) => run('old', T0 + 100 * i, 100)), run('new', T0 + 5000, 100), run('new', T0 + 5100, 100)];
    const r = await labels(jobs);
    assert.equal(r.excluded.fewRuns, 2);
  });

  test('names a family seen only in the holdout among the families left out, with no runs in the training window', async () => {
    // Seen on the real 3-host cluster (2026-12-05): "fewRuns 42" printed, but only a family of one run named.
    const jobs = [...Array.from({ length: 8 }, (_, i) => run('old', T0 + 100 * i, 100)), run('new', T0 + 5000, 100), run('new', T0 + 5100, 100)];
    const r = await labels(jobs);
    assert.deepEqual(familyLines(r.table.families, r.examples.families, r.table.settings), [
      'families left out (1 of 2):',
      '  name:new (alice): fewRuns, 0 runs in the training window (--min-runs 5)',
    ]);
  });

  test('leaves out a family that mostly sleeps as lowCpu: its CPU time does not measure its work', async () => {
    const r = await labels(Array.from({ length: 10 }, (_, i) => run('sleeper', T0 + 100 * i, 100 + i, 0.01)));
    assert.deepEqual(r.excluded, { ...noExclusions(), lowCpu: 10 });
  });

  test('leaves out a family whose fast runs drifted as unstable', async () => {
    const older = Array.from({ length: 6 }, (_, i) => run('drift', T0 + 100 * i, 100));
    const newer = Array.from({ length: 6 }, (_, i) => run('drift', T0 + 1000 + 100 * i, 100, 60));
    const r = await labels([...older, ...newer], { holdoutFraction: 0.1 });
    assert.equal(r.excluded.unstable, 12);
  });

  test('counts a run beyond the label range, or far more efficient than its family, as an outlier', async () => {
    const hung = run('fit', T0 + 450, 1200, 100);
    const threads = run('fit', T0 + 550, 100, 250);
    const r = await labels([...Array.from({ length: 10 }, (_, i) => run('fit', T0 + 100 * i, 100)), hung, threads]);
    assert.equal(r.excluded.outlier, 2);
    assert.equal(r.examples.index.length, 10, 'the outliers are not examples');
  });
});

describe('JobTable', () => {
  test('counts failed and killed jobs as failed, and keeps them out of the baseline', async () => {
    const failed = run('sim', T0 + 450, 10, 1, 'ol1', { jStatus: JOB_STAT_EXIT, exitStatus: 768 });
    const killed = run('sim', T0 + 460, 10, 1, 'ol1', { jStatus: JOB_STAT_EXIT, exitStatus: 33280 });
    const r = await labels([...Array.from({ length: 10 }, (_, i) => run('sim', T0 + 100 * i, 100)), failed, killed]);
    assert.equal(r.excluded.failed, 2);
    assert.equal(r.examples.index.length, 10);
  });

  test('counts a DONE job with a non-zero wait status as failed', () => {
    const t = new JobTable();
    t.add(run('x', T0, 100, 100, 'ol1', { exitStatus: 256 }));
    assert.equal(t.excluded().failed, 1);
  });

  test('counts a job killed before it started as not started, one that ended before it started as bad times', () => {
    const t = new JobTable();
    t.add(makeJob('sim', 0, 0, 'ol1', { startTime: 0, endTime: T0, execHosts: [], jStatus: JOB_STAT_EXIT }));
    t.add(run('x', T0, -5, 1));
    assert.deepEqual(t.excluded(), { ...noExclusions(), notStarted: 1, badTimes: 1 });
  });

  test('leaves out runs shorter than minRuntimeSec, suspended time excluded', () => {
    const t = new JobTable({ minRuntimeSec: 10 });
    t.add(run('q', T0, 9, 9));
    t.add(run('q', T0, 30, 5), 25);
    t.add(run('q', T0, 10, 10));
    assert.equal(t.excluded().tooShort, 2);
    const lower = new JobTable({ minRuntimeSec: 2 });
    lower.add(run('q', T0, 9, 9));
    assert.equal(lower.excluded().tooShort, 0);
  });

  test('leaves a short run that was suspended out of its family\'s baseline, since its whole seconds bound nothing', () => {
    const t = new JobTable({ minRuntimeSec: 10 });
    // 0-4 s with a suspension logged from 1 to 3 s: the run may have started at 0, ended at
    // 4.99 and been suspended from 1.99 to 3, so run 3.98 s, where 4 + 1 - 2 gives 3 s and
    // an efficiency above any it may have had.
    t.add(run('q', T0, 4, 3.5), 2);
    t.finish();
    assert.equal(t.excluded().tooShort, 1);
    assert.ok(Number.isNaN(t.baselineEfficiency(0)), `baseline efficiency ${t.baselineEfficiency(0)}, where 3.5 CPU s in up to 3.98 s allow ${(3.5 / 3.98).toFixed(2)}`);
  });

  test('leaves out a run without CPU time in the accounting as noUsage', () => {
    const t = new JobTable();
    t.add(run('x', T0, 100, -1));
    t.add(run('x', T0 + 1, 100, 0));
    assert.equal(t.excluded().noUsage, 2);
  });

  test('takes the suspended time out of a run before labelling it', async () => {
    const t = new JobTable();
    for (let i = 0; i < 10; i++) t.add(run('s', T0 + 100 * i, 100));
    const suspended = run('s', T0 + 450, 300, 100);
    t.add(suspended, 150); // 300 s, of which 150 suspended: 100 CPU s in 150 s of running
    t.finish();
    const j = new HistoryJoin(t);
    for (const r of historyFor([suspended, run('s', T0, 1), run('s', T0 + 900, 1)])) j.offer(r);
    j.finish();
    const ex = labelAndSplit(t, 0.2);
    const k = [...ex.index].findIndex((i) => t.jobId[i] === suspended.jobId);
    assert.ok(Math.abs((ex.label[k] ?? NaN) - 50) < 1e-4, `label ${ex.label[k]}`);
  });

  test('counts a record found twice once, and sorts the rows by start time', () => {
    const t = new JobTable();
    const a = run('x', T0 + 50, 100);
    const b = run('x', T0, 100);
    t.add(a);
    t.add(b);
    t.add(a);
    assert.equal(t.finish(), 1);
    assert.deepEqual([...t.start], [T0, T0 + 50]);
  });

  test('groups the elements of a job array into one family', async () => {
    const elements = [1, 2, 3, 4, 5].map((idx) => run('arr[1-5]', T0 + idx, 60, 60, 'ol1', { jobId: 122, idx }));
    const r = await labels(elements, { holdoutFraction: 0 });
    assert.equal(r.examples.index.length, 5);
    assert.equal(r.table.jobLabel(r.examples.index[0] ?? 0), '122[1]');
  });

  test('leaves out every job of the real capture, which all ran under 10 s', async () => {
    const jobs: JobFinish[] = [];
    for await (const job of readAcct(fixture('openlava', 'lsb.acct'))) jobs.push(job);
    const t = new JobTable();
    for (const job of jobs) t.add(job);
    t.finish();
    assert.deepEqual(t.excluded(), { ...noExclusions(), notStarted: 1, failed: 6, tooShort: 68 });
  });
});

describe('joining with history', () => {
  test('gives a job started 5 s after a sample that sample', async () => {
    assert.equal(await sampleFor('ol1', T0, [sample('ol1', T0 - 5)]), (T0 - 5) * 1000);
  });

  test('gives a job started 25 s after the last sample none, with a 10 s interval', async () => {
    assert.equal(await sampleFor('ol1', T0, [sample('ol1', T0 - 25)]), undefined);
  });

  test('accepts a sample exactly two intervals before the start', async () => {
    assert.equal(await sampleFor('ol1', T0, [sample('ol1', T0 - 20)]), (T0 - 20) * 1000);
  });

  test('widens the window with the interval', async () => {
    assert.equal(await sampleFor('ol1', T0, [sample('ol1', T0 - 25)], 30), (T0 - 25) * 1000);
  });

  test('never uses a sample taken after the start', async () => {
    assert.equal(await sampleFor('ol1', T0, [sample('ol1', T0 - 15), sample('ol1', T0 + 1)]), (T0 - 15) * 1000);
  });

  test('never uses a sample from within the start second', async () => {
    const within = { ...sample('ol1', T0), ts: T0 * 1000 + 500 };
    assert.equal(await sampleFor('ol1', T0, [within]), undefined);
  });

  test('uses a sample taken in the start second itself', async () => {
    assert.equal(await sampleFor('ol1', T0, [sample('ol1', T0)]), T0 * 1000);
  });

  test('picks the nearest earlier sample whatever the order of the history', async () => {
    const history = [sample('ol1', T0 - 8), sample('ol1', T0 - 18), sample('ol1', T0 + 2)];
    assert.equal(await sampleFor('ol1', T0, history), (T0 - 8) * 1000);
    assert.equal(await sampleFor('ol1', T0, [...history].reverse()), (T0 - 8) * 1000);
  });

  test('ignores samples of other hosts', async () => {
    assert.equal(await sampleFor('ol1', T0, [sample('ol2', T0 - 1), sample('ol10', T0 - 2)]), undefined);
  });

  test('matches host names that differ by domain or case', async () => {
    assert.equal(await sampleFor('ol1', T0, [sample('OL1.example.com', T0 - 3)]), (T0 - 3) * 1000);
    assert.equal(await sampleFor('ol1.cluster.example', T0, [sample('ol1', T0 - 4)]), (T0 - 4) * 1000);
  });

  test('joins a multi-host job with its first execution host', async () => {
    const t = new JobTable();
    t.add(run('par', T0, 100, 200, 'ol3', { execHosts: ['ol3', 'ol1'] }));
    t.finish();
    const j = new HistoryJoin(t);
    j.offer(sample('ol1', T0 - 1, 0.1));
    j.offer(sample('ol3', T0 - 10, 0.9));
    j.finish();
    assert.ok(Math.abs((j.namedAt(0)['cpu_busy'] ?? NaN) - 0.9) < 1e-6); // kept as float32
  });

  test('gives jobs of one host starting close together each their own sample, packed as the history had it', async () => {
    const t = new JobTable();
    for (const start of [T0 + 3, T0 + 12, T0 + 14]) t.add(run('j', start, 100));
    t.finish();
    const j = new HistoryJoin(t);
    j.offer(sample('ol1', T0, 0.25));
    j.offer(sample('ol1', T0 + 10, 0.75));
    assert.equal(j.finish(), 3);
    assert.deepEqual([0, 1, 2].map((i) => j.namedAt(i)['cpu_busy']), [0.25, 0.75, 0.75]); // exact in float32
    assert.equal(j.namedAt(0)['mem_used'], null);
  });

  test('keeps the host\'s CPU count beside the features, for the backbone', () => {
    const t = new JobTable();
    t.add(run('j', T0, 100));
    t.finish();
    const j = new HistoryJoin(t);
    j.offer({ ...sample('ol1', T0 - 5, 0.5), features: { cpu_busy: 0.5, cpus: 64 } });
    j.finish();
    assert.equal(j.namedAt(0)['cpus'], 64);
    assert.equal(j.featuresAt(0).named['cpus'], 64);
  });

  test('keeps the CPUs a CPU quota was taken from where a line has them, and reads a line from before them over its CPUs alone', () => {
    const t = new JobTable();
    t.add(run('j', T0, 100, 100, 'ol1'));
    t.add(run('j', T0, 100, 100, 'ol2'));
    t.finish();
    const j = new HistoryJoin(t);
    // A container of `cpus: 2` on a 128-CPU machine without PSI, 2 % iowait: ol1's line is this build's, ol2's an older one's.
    const features = { cpus: 2, cpu_iowait: 0.02 };
    j.offer({ ...sample('ol1', T0 - 5), features: { ...features, quota_host_cpus: 128 } });
    j.offer({ ...sample('ol2', T0 - 5), features });
    j.finish();
    const rowOf = (host: string): number => [0, 1].find((i) => t.hosts[t.host[i] ?? -1] === host) ?? -1;
    const [newer, older] = [rowOf('ol1'), rowOf('ol2')];
    assert.equal(j.namedAt(newer)['quota_host_cpus'], 128);
    assert.equal(j.namedAt(older)['quota_host_cpus'], null);
    const io = (i: number): number => backbone(j.featuresAt(i).named).io;
    assert.ok(Math.abs(io(newer) - 100 * 0.02 * 128) < 1e-3, `iowait over the machine's 128 CPUs: ${io(newer)}`);
    assert.ok(Math.abs(io(older) - 100 * 0.02 * 2) < 1e-3, `iowait over the quota's 2, as the older build read it: ${io(older)}`);
  });

  test('marks the usable jobs without a sample as noHistory', async () => {
    const t = new JobTable();
    t.add(run('j', T0, 100));
    t.add(run('j', T0 + 500, 100));
    t.finish();
    const j = new HistoryJoin(t);
    j.offer(sample('ol1', T0 - 1));
    assert.equal(j.finish(), 1);
    assert.equal(t.excluded().noHistory, 1);
  });

  test('rejects a non-positive interval, naming it', () => {
    assert.throws(() => new HistoryJoin(new JobTable(), { intervalSec: 0 }), /^ConfigError: intervalSec: expected a positive number, received 0$/);
  });
});

describe('buildExamples', () => {
  const dir = fileDir('lavarank-jobs-');

  test('labels, joins and counts every job left out, reading history files', async () => {
    const jobs = [
      ...Array.from({ length: 10 }, (_, i) => run('sim', T0 + 900 * i, 100, 100, 'ol1.example.com')),
      run('sim', T0 + 4000, 150, 100, 'ol1.example.com'),
      run('sim', T0 + 9500, 150, 100, 'ol2'), // ol2 has no history
      run('sim', T0 + 9000, 10, 10, 'ol1', { jStatus: JOB_STAT_EXIT, exitStatus: 768 }),
      run('lonely', T0 + 5000, 100),
    ];
    const lines = [];
    for (let t = T0 - 100; t < T0 + 10_000; t += 10) lines.push(JSON.stringify(sample('ol1', t, (t - T0) / 10_000)));
    writeFileSync(join(dir, 'ol1.jsonl'), `${lines.join('\n')}\n`);
    const { table, join: j, examples, excluded } = await buildExamples(jobs, readHistory(dir));
    assert.deepEqual(excluded, { ...noExclusions(), failed: 1, fewRuns: 1, noHistory: 1 });
    assert.equal(examples.index.length, 11);
    const k = [...examples.index].findIndex((i) => table.start[i] === T0 + 4000);
    const i = examples.index[k] ?? 0;
    assert.equal(examples.label[k], 50);
    assert.equal(table.hosts[table.host[i] ?? 0], 'ol1');
    assert.ok(Math.abs((j.namedAt(i)['cpu_busy'] ?? NaN) - 0.4) < 1e-6, 'the sample of its start second');
  });
});
