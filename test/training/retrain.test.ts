import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { generateData } from '../../scripts/gen-data.js';
import { readAcct, type JobFinish } from '../../src/lsf/acct.js';
import { ConfigError } from '../../src/util/errors.js';
import { labelJobs } from '../../src/training/jobs.js';
import { loadModel } from '../../src/model/model.js';
import { gateDecision } from '../../src/training/evaluate.js';
import {
  acctFiles, chunkFor, decideWrite, EXIT_INTERRUPTED, EXIT_NOT_BETTER, EXIT_WRITTEN, formatHoldoutTable,
  pairedDifference, Progress, resolveOutput, retrain, slimJob, stringPool, type RetrainIO, type RetrainOptions,
} from '../../src/training/retrain.js';
import { defaultModelPath } from '../../src/model/rankers.js';
import { tempDir } from '../helpers.js';
import { makeJob } from '../helpers/job.js';

const T0 = 1_800_000_000;
const { dir: root, cleanup } = tempDir('lavarank-retrain-');
after(cleanup);

// Small generated data: 3 hosts, 600 ticks, 400 jobs: ~390 examples, 78 held out.
let small: { acctPath: string; historyDir: string };
before(async () => {
  small = await generateData({ outDir: join(root, 'small'), hosts: 3, ticks: 600, jobs: 400, kinds: 4, seed: 7 });
});

let runs = 0;
function options(over: Partial<RetrainOptions> = {}): RetrainOptions {
  runs += 1;
  const dir = join(root, `run${runs}`);
  mkdirSync(dir, { recursive: true });
  return {
    history: [small.historyDir], acct: [small.acctPath], calibration: [],
    out: join(dir, 'model.json'), report: join(dir, 'model.json.report.html'), configPath: null,
    configModel: join(dir, 'model.json'), intervalSec: 10, minRuns: 5, holdoutFraction: 0.2, seed: 1,
    epochs: 20, timeLimitSec: 60, force: false, dryRun: false, now: () => new Date('2027-01-01T00:00:00Z'),
    ...over,
  };
}

function sink(over: Partial<RetrainIO> = {}): RetrainIO & { stdout: string[]; stderr: string[] } {
  const stdout: string[] = [];
  const stderr: string[] = [];
  return { stdout, stderr, out: (t) => stdout.push(t), err: (t) => stderr.push(t), isTTY: false, ...over };
}

describe('formatHoldoutTable', () => {
  test('lines up MAE and n in right-aligned columns and shows a missing MAE as -', () => {
    const text = formatHoldoutTable([
      { name: 'new model', mae: 4.04, n: 19596, note: 'a' },
      { name: 'installed model', mae: null, n: 19596, note: 'none: no file at /x' },
      { name: 'mean', mae: 53.567, n: 7, note: 'c' },
    ]);
    assert.equal(
      text,
      [
        '| predictor       |   MAE |     n | notes',
        '|-----------------|------:|------:|------',
        '| new model       |   4.0 | 19596 | a',
        '| installed model |     - | 19596 | none: no file at /x',
        '| mean            |  53.6 |     7 | c',
      ].join('\n'),
    );
  });
});

describe('decideWrite', () => {
  const opts = { force: false, dryRun: false, installedPath: '/m.json' };

  test('writes when the new model has the lower holdout MAE', () => {
    assert.deepEqual(
      { ...decideWrite(4, 5, opts), reason: undefined },
      { write: true, exitCode: EXIT_WRITTEN, reason: undefined },
    );
  });

  test('does not write on a tie or a worse MAE, and exits 3', () => {
    for (const mae of [5, 6]) {
      const d = decideWrite(mae, 5, opts);
      assert.equal(d.write, false);
      assert.equal(d.exitCode, EXIT_NOT_BETTER);
      assert.match(d.reason, /^not written: .*--force writes anyway/);
    }
  });

  test('writes a worse model with --force, and says so', () => {
    const d = decideWrite(6, 5, { ...opts, force: true });
    assert.equal(d.write, true);
    assert.equal(d.exitCode, EXIT_WRITTEN);
    assert.match(d.reason, /because of --force/);
  });

  test('writes when there is no usable installed model to beat', () => {
    const d = decideWrite(50, null, opts);
    assert.equal(d.write, true);
    assert.match(d.reason, /no usable installed model at \/m\.json/);
  });

  test('never writes a model whose MAE is not a number', () => {
    assert.equal(decideWrite(NaN, null, opts).write, false);
  });

  test('does not write a model that fails the gate of the default model, even with nothing installed to beat', () => {
    const gate = gateDecision({ model: 10, backbone: 9, ridge: 12 });
    const d = decideWrite(10, null, { ...opts, gate });
    assert.equal(d.write, false);
    assert.equal(d.exitCode, EXIT_NOT_BETTER);
    assert.match(d.reason, /^not written: the model \(MAE 10\.00\) does not beat the backbone alone \(9\.00\)/);
    assert.equal(decideWrite(10, null, { ...opts, gate: gateDecision({ model: 10, backbone: 11, ridge: 12 }) }).write, true);
  });

  test('with --dry-run writes nothing but exits as the real run would', () => {
    const better = decideWrite(4, 5, { ...opts, dryRun: true });
    const worse = decideWrite(6, 5, { ...opts, dryRun: true });
    assert.deepEqual([better.write, better.exitCode, worse.write, worse.exitCode], [false, EXIT_WRITTEN, false, EXIT_NOT_BETTER]);
    assert.match(better.reason, /^dry run, nothing written: it would be written/);
    assert.match(worse.reason, /it would not be written/);
  });
});

describe('resolveOutput', () => {
  test('takes --out, else the model the config names', () => {
    assert.equal(resolveOutput('/a/m.json', { model: '/b/c.json' }, '/install/default.json', null), '/a/m.json');
    assert.equal(resolveOutput(undefined, { model: '/b/c.json' }, '/install/default.json', null), '/b/c.json');
  });

  test('refuses to pick the embedded default by itself, and says how to name it', () => {
    assert.throws(
      () => resolveOutput(undefined, { model: null }, '/install/default.json', '/etc/lavarank.yaml'),
      (err: unknown) => err instanceof ConfigError && /config \/etc\/lavarank\.yaml sets no model/.test(err.message) && /--out \/install\/default\.json$/.test(err.message),
    );
  });
});

describe('acctFiles', () => {
  test('expands a directory to lsb.acct and its rotations, oldest first', () => {
    const dir = join(root, 'logdir');
    mkdirSync(dir);
    for (const name of ['lsb.acct', 'lsb.acct.1', 'lsb.acct.10', 'lsb.acct.2', 'lsb.events']) writeFileSync(join(dir, name), '');
    assert.deepEqual(acctFiles([dir]), ['lsb.acct.10', 'lsb.acct.2', 'lsb.acct.1', 'lsb.acct'].map((n) => join(dir, n)));
  });

  test('names a missing file', () => {
    assert.throws(() => acctFiles([join(root, 'nope')]), { message: `--acct ${join(root, 'nope')}: no such file or directory; expected an lsb.acct file or the directory holding it` });
  });
});

describe('chunkFor', () => {
  test('gives one epoch per chunk for big data and at most 50 for small', () => {
    assert.equal(chunkFor(100_000), 1);
    assert.equal(chunkFor(3000), 25);
    assert.equal(chunkFor(10), 50);
  });
});

describe('pairedDifference', () => {
  test('is the mean of the per-job differences of absolute errors, with its standard error', () => {
    // errors: new 1, 1, 1, 1; installed 2, 4, 2, 4 -> differences -1, -3, -1, -3
    const d = pairedDifference([11, 9, 11, 9], [12, 6, 12, 14], [10, 10, 10, 10]);
    assert.equal(d.mean, -2);
    assert.ok(Math.abs(d.se - Math.sqrt(4 / 3 / 4)) < 1e-12);
  });
});

describe('Progress', () => {
  test('on a terminal redraws one line in place, at most every 100 ms, cut to the width', () => {
    const out: string[] = [];
    let now = 0;
    const p = new Progress((t) => out.push(t), true, () => now, 10_000, 20);
    p.update('reading: 1');
    now = 50;
    p.update('reading: 2');
    now = 150;
    p.update('a line much longer than twenty columns');
    p.clear();
    p.clear();
    assert.deepEqual(out, ['\r\x1b[Kreading: 1', '\r\x1b[Ka line much longer…', '\r\x1b[K']);
  });

  test('elsewhere writes whole log lines, at most one per interval unless forced', () => {
    const out: string[] = [];
    let now = 0;
    const p = new Progress((t) => out.push(t), false, () => now, 10_000);
    p.update('a');
    now = 5000;
    p.update('b');
    p.update('c', true);
    now = 16_000;
    p.update('d');
    p.clear();
    assert.deepEqual(out, ['a\n', 'c\n', 'd\n']);
  });
});

describe('slimJob and stringPool', () => {
  test('a slimmed job labels exactly as the full record', async () => {
    const jobs: JobFinish[] = [];
    for await (const j of readAcct(small.acctPath)) jobs.push(j);
    const intern = stringPool();
    const full = labelJobs(jobs);
    const slim = labelJobs(jobs.map((j) => slimJob(j, intern)));
    assert.deepEqual(slim.excluded, full.excluded);
    assert.deepEqual(slim.labelled.map((l) => [l.kind, l.host, l.label]), full.labelled.map((l) => [l.kind, l.host, l.label]));
  });

  test('keeps only the first execution host, and the command only for a job without a name', () => {
    const named = slimJob(makeJob('fit', T0, 100, 'ol1', { execHosts: ['ol1', 'ol2', 'ol2'] }));
    assert.deepEqual([named.execHosts, named.command], [['ol1'], '']);
    assert.equal(slimJob(makeJob('', T0, 100, 'ol1', { command: 'run me' })).command, 'run me');
  });

  test('the pool gives one shared copy per distinct string', () => {
    const intern = stringPool();
    const line = 'x'.repeat(20) + 'a-long-host-name.example.com' + 'y'.repeat(20);
    const a = intern(line.slice(20, 48));
    const b = intern(line.slice(20, 48));
    assert.equal(a, 'a-long-host-name.example.com');
    assert.equal(a, b);
  });
});

// The synthetic jobs slow down linearly with cpu_busy, where a ridge regression is as
// good as any model and the gate (beat the backbone and the ridge regression) refuses
// what 20 epochs give: tests that need a model written force it.
describe('retrain', () => {
  test('writes a model that loads, a report, and says why, when nothing is installed', async () => {
    const o = options({ force: true });
    const io = sink();
    const r = await retrain(o, io);
    assert.equal(r.exitCode, EXIT_WRITTEN);
    assert.equal(r.written, true);
    assert.equal(loadModel(o.out).file.name, 'retrained');
    assert.ok(readFileSync(o.report, 'utf8').startsWith('<!DOCTYPE html>'));
    const text = io.stdout.join('\n');
    assert.match(text, /\| installed model +\| +- \|/);
    assert.match(text, /\| backbone alone +\| +[\d.]+ \|/);
    assert.match(text, /\| ridge regression +\| +[\d.]+ \|/);
    assert.match(text, /written: there is no usable installed model|written because of --force, although the model \(MAE [\d.]+\) does not beat/);
    assert.equal(r.holdout, Math.round(r.examples * 0.2));
  });

  test('refuses, when nothing is installed, a model that does not pass the gate, and says why', async () => {
    const o = options({ epochs: 1 });
    const io = sink();
    const r = await retrain(o, io);
    assert.equal(r.written, false);
    assert.equal(r.exitCode, EXIT_NOT_BETTER);
    assert.match(io.stdout.join('\n'), /not written: the model \(MAE [\d.]+\) does not beat the backbone alone|not written: the model \(MAE [\d.]+\) does not beat the ridge regression/);
    assert.equal(existsSync(o.out), false);
  });

  test('with --dry-run writes the report but not the model', async () => {
    const o = options({ dryRun: true, force: true });
    const r = await retrain(o, sink());
    assert.equal(r.exitCode, EXIT_WRITTEN);
    assert.equal(existsSync(o.out), false);
    assert.equal(existsSync(o.report), true);
  });

  test('stops when interrupted and writes nothing, not even the report', async () => {
    const o = options({ epochs: 100_000 });
    const controller = new AbortController();
    const io = sink({ isTTY: true, signal: controller.signal });
    // Interrupt as soon as training reports progress.
    const err = io.err;
    io.err = (t) => {
      if (t.includes('training:')) controller.abort();
      err(t);
    };
    const r = await retrain(o, io);
    assert.equal(r.exitCode, EXIT_INTERRUPTED);
    assert.equal(existsSync(o.out), false);
    assert.equal(existsSync(o.report), false);
  });

  test('names an accounting file that does not exist', async () => {
    const o = options({ acct: [join(root, 'missing.acct')] });
    await assert.rejects(retrain(o, sink()), (err: unknown) => err instanceof ConfigError && err.message.startsWith(`--acct ${join(root, 'missing.acct')}: no such file`));
  });

  test('says so when the missing history directory is the config\'s, taken for want of --history', async () => {
    const missing = join(root, 'no-history-here');
    await assert.rejects(
      retrain(options({ history: [missing], historyFromConfig: true }), sink()),
      (err: unknown) => err instanceof ConfigError && err.message.startsWith(`--history ${missing}: no such file or directory`) && err.message.includes("no --history was given, so this is the config's history.dir"),
    );
  });

  test('says there is no history in a directory without history files', async () => {
    const empty = join(root, 'empty-history');
    mkdirSync(empty);
    await assert.rejects(retrain(options({ history: [empty] }), sink()), (err: unknown) => err instanceof ConfigError && err.message.startsWith(`no history found: no *.jsonl or *.jsonl.N files in ${empty}`));
  });

  test('with no usable example, says the jobs and the history have no host in common', async () => {
    const other = join(root, 'other-history');
    mkdirSync(other);
    writeFileSync(join(other, 'elsewhere.jsonl'), `${JSON.stringify({ ts: T0 * 1000, host: 'elsewhere', features: { cpu_busy: 0.5 }, rank: 1, model: 'm' })}\n`);
    await assert.rejects(
      retrain(options({ history: [other] }), sink()),
      (err: unknown) => err instanceof ConfigError && /^no usable examples: of 400 finished jobs/.test(err.message) && /history is from elsewhere: no host in common/.test(err.message),
    );
  });

  test('refuses a holdout too small to judge a model', async () => {
    const tiny = await generateData({ outDir: join(root, 'tiny'), hosts: 2, ticks: 300, jobs: 60, kinds: 2, seed: 3 });
    await assert.rejects(
      retrain(options({ acct: [tiny.acctPath], history: [tiny.historyDir] }), sink()),
      (err: unknown) => err instanceof ConfigError && /^too few examples for a holdout: \d+ usable jobs, so the newest 20 % is \d+ jobs, and at least 20 are needed/.test(err.message),
    );
  });

  test('appends calibration rows to the training part and never holds them out', async () => {
    const calibration = join(root, 'cal.jsonl');
    const sample = { ts: T0 * 1000, failures: {}, cpu: { user: 0.5, system: 0, iowait: 0, steal: 0, busy: 0.5, online: 4 } };
    writeFileSync(calibration, Array.from({ length: 30 }, () => JSON.stringify({ sample, slowdown: 100 })).join('\n') + '\n');
    const plain = await retrain(options(), sink());
    const io = sink();
    const o = options({ calibration: [calibration], force: true });
    const r = await retrain(o, io);
    assert.equal(r.holdout, plain.holdout);
    const t = loadModel(o.out).file.training;
    assert.equal(t.samples, r.examples + 30);
    assert.equal(t.holdoutSamples, r.holdout);
    assert.match(io.stdout.join('\n'), /\(\+30 calibration rows\)/);
  });
});
