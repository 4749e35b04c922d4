import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { JOB_STAT_EXIT, readAcct, type JobFinish } from '../../src/lsf/acct.js';
import { ConfigError } from '../../src/util/errors.js';
import type { HistoryRecord } from '../../src/history/record.js';
import { readHistory } from '../../src/history/reader.js';
import {
  buildExamples, HistoryJoin, jobKind, joinHistory, labelJobs, noExclusions, shortHostName,
  type LabelledJob,
} from '../../src/training/jobs.js';
import { makeJob } from '../helpers/job.js';

const T0 = 1_800_000_000; // epoch seconds

// Five 100 s runs of `name` on ol1, so the kind has a baseline of 100 s.
function kindOf100(name = 'sim', host = 'ol1'): JobFinish[] {
  return Array.from({ length: 5 }, (_, i) => makeJob(name, T0 + 1000 * i, 100, host));
}

function sample(host: string, tsSec: number, cpu = tsSec): HistoryRecord {
  return { ts: tsSec * 1000, host, features: { cpu_busy: cpu }, rank: 0, model: 'test' };
}

function labelled(host: string, start: number): LabelledJob {
  return { job: makeJob('j', start, 100, host), kind: 'name:j', host, startTime: start, runtime: 100, baseline: 100, label: 0 };
}

async function sampleFor(host: string, start: number, history: HistoryRecord[], intervalSec?: number) {
  const { examples } = await joinHistory([labelled(host, start)], history, intervalSec === undefined ? {} : { intervalSec });
  return examples[0]?.sampleTs;
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

describe('labelJobs', () => {
  test('labels a run as its percent slowdown against the 10th percentile of its kind', () => {
    const slow = makeJob('sim', T0 + 9000, 150);
    const { labelled, baselines } = labelJobs([...kindOf100(), slow]);
    assert.equal(baselines.get('name:sim'), 100);
    assert.equal(labelled.find((l) => l.job === slow)?.label, 50);
  });

  test('takes the 10th percentile of the kind\'s run times as its baseline', () => {
    const runs = Array.from({ length: 11 }, (_, i) => makeJob('spread', T0 + 1000 * i, 100 + 10 * i));
    const { labelled, baselines } = labelJobs(runs);
    assert.equal(baselines.get('name:spread'), 110);
    const label = labelled.find((l) => l.runtime === 200)?.label ?? NaN;
    assert.ok(Math.abs(label - 81.818181) < 1e-5, `label ${label}`);
  });

  test('gives 0 to a run faster than the baseline', () => {
    const fast = makeJob('sim', T0 + 9000, 90);
    const runs = [...kindOf100(), ...kindOf100(), fast];
    assert.equal(labelJobs(runs).labelled.find((l) => l.job === fast)?.label, 0);
  });

  test('labels a multi-host job with its first execution host', () => {
    const par = makeJob('sim', T0 + 9000, 100, 'ol3', { execHosts: ['ol3', 'ol1'] });
    assert.equal(labelJobs([...kindOf100(), par]).labelled.find((l) => l.job === par)?.host, 'ol3');
  });

  test('counts failed and killed jobs as failed, and keeps them out of the baseline', () => {
    const failed = makeJob('sim', T0 + 9000, 10, 'ol1', { jStatus: JOB_STAT_EXIT, exitStatus: 768 });
    const killed = makeJob('sim', T0 + 9000, 10, 'ol1', { jStatus: JOB_STAT_EXIT, exitStatus: 33280 });
    const { labelled, excluded, baselines } = labelJobs([...kindOf100(), failed, killed]);
    assert.equal(excluded.failed, 2);
    assert.equal(labelled.length, 5);
    assert.equal(baselines.get('name:sim'), 100);
  });

  test('counts a DONE job with a non-zero wait status as failed', () => {
    assert.equal(labelJobs([makeJob('x', T0, 100, 'ol1', { exitStatus: 256 })]).excluded.failed, 1);
  });

  test('counts a job killed before it started as not started rather than failed', () => {
    const held = makeJob('sim', 0, 0, 'ol1', { startTime: 0, endTime: T0, execHosts: [], jStatus: JOB_STAT_EXIT });
    assert.deepEqual(labelJobs([held]).excluded, { ...noExclusions(), notStarted: 1 });
  });

  test('counts a job that ended before it started as bad times', () => {
    assert.equal(labelJobs([makeJob('x', T0, -5)]).excluded.badTimes, 1);
  });

  test('leaves out every run of a kind with fewer than minRuns successful runs', () => {
    const four = kindOf100().slice(0, 4);
    assert.equal(labelJobs(four).excluded.fewRuns, 4);
    assert.equal(labelJobs(four, { minRuns: 4 }).labelled.length, 4);
  });

  test('groups the elements of a job array into one kind', () => {
    const elements = [1, 2, 3, 4, 5].map((idx) => makeJob('arr[1-5]', T0, 60, 'ol1', { jobId: 122, idx }));
    assert.equal(labelJobs(elements).labelled.length, 5);
  });

  test('leaves out a kind whose baseline is below the 1 s resolution threshold', () => {
    const quick = Array.from({ length: 5 }, (_, i) => makeJob('quick', T0 + i, 3));
    assert.equal(labelJobs(quick).excluded.tooShort, 5);
    assert.equal(labelJobs(quick, { minBaselineSec: 2 }).labelled.length, 5);
  });

  test('counts a run more than 11 times the baseline as an outlier', () => {
    const hung = makeJob('sim', T0 + 9000, 1101);
    const limit = makeJob('sim', T0 + 9000, 1100);
    const { labelled, excluded } = labelJobs([...kindOf100(), hung, limit]);
    assert.equal(excluded.outlier, 1);
    assert.equal(labelled.find((l) => l.job === limit)?.label, 1000);
  });

  test('counts a run under half the baseline as an outlier', () => {
    const short = makeJob('sim', T0 + 9000, 49);
    const { excluded } = labelJobs([...kindOf100(), ...kindOf100(), short]);
    assert.equal(excluded.outlier, 1);
  });

  test('leaves out every job of the real capture, whose kinds all run under 10 s', async () => {
    const jobs: JobFinish[] = [];
    for await (const job of readAcct(new URL('../../../test/fixtures/openlava/lsb.acct', import.meta.url).pathname)) jobs.push(job);
    const { labelled, excluded } = labelJobs(jobs);
    assert.equal(labelled.length, 0);
    assert.deepEqual(excluded, { ...noExclusions(), notStarted: 1, failed: 6, fewRuns: 2, tooShort: 66 });
  });

  test('rejects an option out of range, naming it', () => {
    assert.throws(() => labelJobs([], { minRuns: 0 }), (err: unknown) => err instanceof ConfigError && /^minRuns: expected a positive integer, received 0$/.test(err.message));
    assert.throws(() => labelJobs([], { baselinePercentile: 101 }), /baselinePercentile: expected 0 to 100, received 101/);
  });
});

describe('joining with history', () => {
  test('gives a job started 5 s after a sample that sample', async () => {
    assert.equal(await sampleFor('ol1', T0, [sample('ol1', T0 - 5)]), (T0 - 5) * 1000);
  });

  test('gives a job started 25 s after the last sample none, with a 10 s interval', async () => {
    const { examples, noHistory } = await joinHistory([labelled('ol1', T0)], [sample('ol1', T0 - 25)]);
    assert.equal(examples.length, 0);
    assert.equal(noHistory, 1);
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
    const [job] = labelJobs([...kindOf100(), makeJob('sim', T0 + 9000, 100, 'ol3', { execHosts: ['ol3', 'ol1'] })]).labelled.slice(-1);
    assert.ok(job);
    const { examples } = await joinHistory([job], [sample('ol1', T0 + 8999, 0.1), sample('ol3', T0 + 8990, 0.9)]);
    assert.equal(examples[0]?.features.cpu_busy, 0.9);
  });

  test('gives jobs of one host starting close together each their own sample', async () => {
    const jobs = [labelled('ol1', T0 + 3), labelled('ol1', T0 + 12), labelled('ol1', T0 + 14)];
    const { examples } = await joinHistory(jobs, [sample('ol1', T0), sample('ol1', T0 + 10)]);
    assert.deepEqual(examples.map((e) => e.features.cpu_busy), [T0, T0 + 10, T0 + 10]);
  });

  test('returns the examples in start order', async () => {
    const jobs = [labelled('ol2', T0 + 50), labelled('ol1', T0 + 30), labelled('ol1', T0 + 10)];
    const { examples } = await joinHistory(jobs, [sample('ol1', T0 + 5), sample('ol1', T0 + 25), sample('ol2', T0 + 45)]);
    assert.deepEqual(examples.map((e) => e.startTime), [T0 + 10, T0 + 30, T0 + 50]);
  });

  test('rejects a non-positive interval, naming it', () => {
    assert.throws(() => new HistoryJoin([], { intervalSec: 0 }), /^ConfigError: intervalSec: expected a positive number, received 0$/);
  });
});

describe('buildExamples', () => {
  const dir = mkdtempSync(join(tmpdir(), 'lavarank-jobs-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('labels, joins and counts every job left out, reading history files', async () => {
    const jobs = [
      ...kindOf100('sim', 'ol1.example.com'),
      makeJob('sim', T0 + 9000, 150, 'ol1.example.com'),
      makeJob('sim', T0 + 9500, 150, 'ol2'), // ol2 has no history
      makeJob('sim', T0 + 9000, 10, 'ol1', { jStatus: JOB_STAT_EXIT, exitStatus: 768 }),
      makeJob('lonely', T0, 100),
    ];
    const lines = [];
    for (let t = T0 - 100; t < T0 + 10_000; t += 10) lines.push(JSON.stringify(sample('ol1', t, (t - T0) / 10_000)));
    writeFileSync(join(dir, 'ol1.jsonl'), `${lines.join('\n')}\n`);
    const { examples, excluded } = await buildExamples(jobs, readHistory(dir));
    assert.deepEqual(excluded, { ...noExclusions(), failed: 1, fewRuns: 1, noHistory: 1 });
    assert.equal(examples.length, 6);
    const last = examples.at(-1);
    assert.equal(last?.label, 50);
    assert.equal(last?.host, 'ol1.example.com');
    assert.equal(last?.features.cpu_busy, 0.9);
  });
});
