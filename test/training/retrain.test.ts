import assert from 'node:assert/strict';
import fs, { chmodSync, chownSync, cpSync, existsSync, mkdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import fsp from 'node:fs/promises';
import { syncBuiltinESMExports } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { before, describe, mock, test } from 'node:test';
import { generateData } from '../../scripts/gen-data.js';
import { ConfigError } from '../../src/util/errors.js';
import { loadModel } from '../../src/model/model.js';
import {
  chunkFor, decideWrite, evaluate, EXIT_ERROR, jobsNeeded, MIN_HOLDOUT, MIN_TRAIN, EXIT_INTERRUPTED, familyLines, EXIT_NOT_BETTER, EXIT_WRITTEN, checkOutput, floorWarning, formatHoldoutTable, gatherInputs, joinAndLabel, listInputs, lockOutput,
  ProblemLog, Progress, quietContext, readLog, resolveOptions, resolveOutput, retrain, sharedHistoryWarnings, splitByTime, trainStage, writeModelStage, writeReportStage, type RetrainIO, type RetrainOptions,
} from '../../src/training/retrain.js';
import { clampRank } from '../../src/model/rank.js';
import { defaultModelPath } from '../../src/model/rankers.js';
import { defaultConfig } from '../../src/config/config.js';
import { parseRetrainArgs } from '../../src/commands/retrain.js';
import { labelSettings, type FamilyBaseline } from '../../src/training/label.js';
import { FEATURE_NAMES } from '../../src/model/features.js';
import { cliPath, failDirectorySync, fileDir, mkfifo, tempDir, testDir } from '../helpers.js';
import { readHistory } from '../../src/history/reader.js';
import { formatJobFinish } from '../../src/lsf/acct.js';
import { makeJob } from '../helpers/job.js';
import { noExclusions } from '../../src/training/jobs.js';
import type { ReportData } from '../../src/training/report-html.js';
import { spawn, spawnSync } from 'node:child_process';
import { hostname } from 'node:os';

const T0 = 1_800_000_000;
const root = fileDir('lavarank-retrain-');

// Small generated data: 3 hosts, 600 ticks, 400 jobs: ~390 examples, ~78 held out.
let small: { acctPath: string; historyDir: string };
before(async () => {
  small = await generateData({ outDir: join(root, 'small'), hosts: 3, ticks: 600, jobs: 400, kinds: 4, seed: 7, curve: 'square', sizeSpread: 2 });
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
    epochs: 300, timeLimitSec: 60, force: false, dryRun: false, now: () => new Date('2027-01-01T00:00:00Z'),
    ...over,
  };
}

// A dry run over a copy of the small history, named dirName, with links added in it
// (name → what each points at), which must end written; its output.
async function dryRunWithLinks(dirName: string, links: Record<string, string>): Promise<string> {
  const history = join(root, dirName);
  cpSync(small.historyDir, history, { recursive: true });
  for (const [name, target] of Object.entries(links)) symlinkSync(target, join(history, name));
  const io = sink();
  const r = await retrain(options({ history: [history], dryRun: true }), io);
  assert.equal(r.exitCode, EXIT_WRITTEN);
  return io.stdout.join('\n');
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

  test('does not write a model that beats the installed one but not linear regression or the backbone, simpler models that do as well', () => {
    const references = [{ name: 'linear regression', mae: 4.5 }, { name: 'physical backbone', mae: 3.8 }];
    for (const installed of [5, null]) {
      const d = decideWrite(4, installed, { ...opts, references });
      assert.equal(d.write, false, String(installed));
      assert.equal(d.exitCode, EXIT_NOT_BETTER);
      assert.match(d.reason, /does not beat physical backbone \(MAE 4\.00 >= 3\.80\)/);
      assert.doesNotMatch(d.reason, /linear regression \(MAE 4\.00/);
    }
    // a tie with a reference is not beating it; a reference that could not be scored is no bar
    assert.equal(decideWrite(4, 5, { ...opts, references: [{ name: 'linear regression', mae: 4 }] }).write, false);
    assert.equal(decideWrite(4, 5, { ...opts, references: [{ name: 'linear regression', mae: null }, { name: 'physical backbone', mae: 4.2 }] }).write, true);
  });

  test('names the references a written model beats, with or without an installed model, and none where there are none', () => {
    const references = [{ name: 'linear regression', mae: 4.5 }];
    assert.equal(decideWrite(4, 5, { ...opts, references }).reason, 'written: the new model beats the installed one on the holdout (MAE 4.00 < 5.00) and linear regression (MAE 4.50)');
    assert.equal(decideWrite(4, null, { ...opts, references }).reason, 'written: there is no usable installed model at /m.json to beat, and the new model (MAE 4.00) beats linear regression (MAE 4.50)');
    assert.equal(decideWrite(4, null, { ...opts, references: [] }).reason, 'written: there is no usable installed model at /m.json to beat');
  });

  test('never writes a model whose MAE is not a number', () => {
    assert.equal(decideWrite(NaN, null, opts).write, false);
  });

  test('with --dry-run writes nothing but exits as the real run would', () => {
    const better = decideWrite(4, 5, { ...opts, dryRun: true });
    const worse = decideWrite(6, 5, { ...opts, dryRun: true });
    assert.deepEqual([better.write, better.exitCode, worse.write, worse.exitCode], [false, EXIT_WRITTEN, false, EXIT_NOT_BETTER]);
    assert.match(better.reason, /^dry run, nothing written: it would be written/);
    assert.match(worse.reason, /it would not be written/);
  });

  test('with --dry-run where a real run could not write the model, says that run would stop, and exits 1 as it would', () => {
    const d = decideWrite(4, 5, { ...opts, dryRun: true, realRunProblem: 'cannot write into /x: the directory does not exist' });
    assert.deepEqual([d.write, d.exitCode], [false, EXIT_ERROR]);
    assert.equal(d.reason.startsWith('dry run, nothing written: a real run would stop before reading anything, since cannot write into /x: the directory does not exist; once it can write there, it would be written'), true, d.reason);
  });
});

describe('floorWarning', () => {
  test('names only the floor the new model missed, and says nothing when it beats both', () => {
    assert.equal(
      floorWarning(25.84, 41.9, 24.2),
      'warning: the new model (MAE 25.84) does not beat the load-only fit (MAE 24.20) on the holdout; the data may not carry enough signal',
    );
    assert.match(floorWarning(50, 41.9, 24.2) ?? '', /does not beat the mean \(MAE 41\.90\) or the load-only fit \(MAE 24\.20\)/);
    assert.equal(floorWarning(20, 41.9, 24.2), null);
    assert.match(floorWarning(NaN, 41.9, 24.2) ?? '', /the mean .* or the load-only fit/);
  });
});

describe('resolveOptions', () => {
  const d = defaultConfig();
  const config = { ...d, interval: 20, model: '/srv/lavarank/model.json', history: { ...d.history, dir: '/srv/lavarank/history' } };
  test("takes the config's history.dir, interval and model without --history, --interval or --out", async () => {
    const o = await resolveOptions(parseRetrainArgs(['--acct', '/a']), config, '/etc/lavarank.yaml');
    assert.deepEqual([o.history, o.historyFromConfig, o.intervalSec, o.out], [['/srv/lavarank/history'], true, 20, '/srv/lavarank/model.json']);
  });
  test('prefers --history, --interval and --out to the config', async () => {
    const o = await resolveOptions(parseRetrainArgs(['--acct', '/a', '--history', '/h', '--interval', '5', '--out', '/o.json']), config, '/etc/lavarank.yaml');
    assert.deepEqual([o.history, o.historyFromConfig, o.intervalSec, o.out], [['/h'], false, 5, '/o.json']);
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

  // cron's environment has no LSF_ENVDIR: the documented weekly job found no config and
  // was told the daemons use the embedded default, which they do not.
  test('without a config and without $LSF_ENVDIR, as under cron, says the daemons\' config was not looked for and to give --config', () => {
    assert.throws(
      () => resolveOutput(undefined, { model: null }, '/install/default.json', null, { PATH: '/usr/bin:/bin' }),
      {
        name: 'ConfigError',
        message: 'no --out, and no config file: $LSF_ENVDIR is not set (as under cron), so the daemons\' $LSF_ENVDIR/lavarank.yaml was not looked for. Give --config with the file the daemons read (or set LSF_ENVDIR), or --out FILE',
      },
    );
  });
});

describe('checkOutput, the model directory', () => {
  test('refuses, before anything is read, to write a model where others could change it, which the daemons would refuse; a dry run writes no model there', async () => {
    const dir = join(root, 'open-to-all');
    mkdirSync(dir, { recursive: true });
    chmodSync(dir, 0o777);
    const out = join(dir, 'model.json');
    await assert.rejects(checkOutput(out, `${out}.html`, false), (err: unknown) => err instanceof ConfigError && err.message.startsWith(`the daemons would refuse a model written to ${out}: `));
    await assert.doesNotReject(checkOutput(out, join(root, 'model.json.html'), true));
  });

  test('refuses, before anything is read, a report where others could change the directory, a dry run\'s too', { skip: process.geteuid?.() === 0 ? false : 'the refusal binds root alone (3946ef4): a user\'s own write lands only where that user may write' }, async () => {
    const dir = join(root, 'open-to-all');
    mkdirSync(dir, { recursive: true });
    chmodSync(dir, 0o777);
    const out = join(root, 'model.json');
    for (const dryRun of [false, true]) {
      await assert.rejects(checkOutput(out, join(dir, 'report.html'), dryRun), (err: unknown) => err instanceof ConfigError && err.message.startsWith(`--report ${join(dir, 'report.html')}: report directory ${dir} has mode 0777`));
    }
  });
});

describe('checkOutput', () => {
  test('names a directory that does not exist as such, before anything is read', async () => {
    const out = join(root, 'no-such-dir', 'model.json');
    await assert.rejects(
      checkOutput(out, `${out}.html`, false),
      (err: unknown) => err instanceof ConfigError && err.message === `cannot write into ${join(root, 'no-such-dir')}: the directory does not exist (retrain does not create it)`,
    );
  });
});

describe('listInputs', () => {
  test('expands an --acct directory to lsb.acct and its rotations, and lsb.events and its rotations, oldest first', async () => {
    const dir = join(root, 'logdir');
    mkdirSync(dir);
    for (const name of ['lsb.acct', 'lsb.acct.1', 'lsb.acct.10', 'lsb.acct.2', 'lsb.events', 'lsb.events.1', 'lsb.events.2']) writeFileSync(join(dir, name), '');
    const files = await listInputs({ acct: [dir], history: [] });
    assert.deepEqual(files.acct, ['lsb.acct.10', 'lsb.acct.2', 'lsb.acct.1', 'lsb.acct'].map((n) => join(dir, n)));
    assert.deepEqual(files.events, ['lsb.events.2', 'lsb.events.1', 'lsb.events'].map((n) => join(dir, n)));
  });

  test('takes files as given, each once, and an lsb.events file given as --acct as an event log', async () => {
    const dir = join(root, 'logdir-files');
    mkdirSync(dir);
    for (const name of ['lsb.acct', 'lsb.events']) writeFileSync(join(dir, name), '');
    const files = await listInputs({ acct: [join(dir, 'lsb.acct'), join(dir, 'lsb.events')], history: [small.historyDir] });
    assert.deepEqual(files, { acct: [join(dir, 'lsb.acct')], events: [join(dir, 'lsb.events')], history: ['node001', 'node002', 'node003'].map((h) => join(small.historyDir, `${h}.jsonl`)) });
  });

  test('keeps a missing path as the problem to report, and lists the paths after it', async () => {
    const files = await listInputs({ acct: [join(root, 'nope'), small.acctPath], history: [] });
    assert.ok(files.acctProblem instanceof ConfigError);
    assert.equal(files.acctProblem.message, `--acct ${join(root, 'nope')}: no such file or directory; expected an lsb.acct file or the directory holding it`);
    assert.deepEqual(files.acct, [small.acctPath]);
  });
});

describe('sharedHistoryWarnings', () => {
  test('warns of a history directory others can write, and of a history file\'s directory, once each; says nothing of a root-only one', async () => {
    const { dir, cleanup } = tempDir();
    try {
      const open = join(dir, 'open');
      mkdirSync(open);
      chmodSync(open, 0o777);
      const safe = join(dir, 'safe');
      mkdirSync(safe, { mode: 0o755 });
      writeFileSync(join(open, 'a.jsonl'), '');
      const warnings = await sharedHistoryWarnings([open, join(open, 'a.jsonl'), safe]);
      assert.deepEqual(warnings, [`warning: history directory ${open} has mode 0777, writable by group or others; run: chmod go-w ${open}; its lines may be anyone's, and the model learns from them`]);
    } finally {
      cleanup();
    }
  });
});

test("sharedHistoryWarnings shows the directory a history link leads to with its control characters escaped, since whoever owns the link's directory names it", async () => {
  const { dir, cleanup } = tempDir();
  try {
    const theirs = join(dir, 'x\x1b[8m');
    mkdirSync(theirs);
    chmodSync(theirs, 0o777);
    const link = join(dir, 'history');
    symlinkSync(theirs, link);
    const warnings = await sharedHistoryWarnings([link]);
    assert.equal(warnings.length, 1);
    assert.doesNotMatch(warnings[0]!, /\x1b/);
    assert.match(warnings[0]!, /history directory .*\/x\\u001b\[8m has mode 0777/);
  } finally {
    cleanup();
  }
});

test("sharedHistoryWarnings shows another user's history file name with its control characters escaped", async () => {
  const warnings = await sharedHistoryWarnings([], [{ file: '/tmp/h/x\x1b[2J.jsonl', uid: 4242 }]);
  assert.deepEqual(warnings, ["warning: history file /tmp/h/x\\u001b[2J.jsonl is owned by uid 4242, not root; its lines may be anyone's, and the model learns from them"]);
});

describe('sharedHistoryWarnings in a sticky directory', () => {
  // history.dir: /tmp passes the daemon's directory check (only an entry's owner can
  // replace it), but anyone may add a host's *.jsonl there, or make the daemon's own
  // file first: retrain read theirs with no word said.
  test('warns of each history file another user owns, which a sticky directory lets them add', { skip: process.getuid?.() === 0 ? false : 'needs root to chown' }, async () => {
    const { dir, cleanup } = tempDir();
    try {
      const sticky = join(dir, 'tmp');
      mkdirSync(sticky);
      chmodSync(sticky, 0o1777);
      const mine = join(sticky, 'node1.jsonl');
      const theirs = join(sticky, 'node2.jsonl');
      writeFileSync(mine, '');
      writeFileSync(theirs, '');
      chownSync(theirs, 65534, 65534);
      const warnings = await sharedHistoryWarnings([sticky], [mine, theirs].map((file) => ({ file, uid: statSync(file).uid })));
      assert.deepEqual(warnings, [`warning: history file ${theirs} is owned by uid 65534, not root; its lines may be anyone's, and the model learns from them`]);
    } finally {
      cleanup();
    }
  });

  // Their own entry in a sticky directory is theirs to remove, or to replace with a link
  // to a root file, once retrain has read it (inotify tells them when): asked by path
  // afterwards, the file was "gone since it was listed" or root's, and nothing was said.
  test('warns of a history file another user owned when it was read, though they removed it before the warning', { skip: process.getuid?.() === 0 ? false : 'needs root to chown' }, async () => {
    const { dir, cleanup } = tempDir();
    try {
      const sticky = join(dir, 'tmp');
      mkdirSync(sticky);
      chmodSync(sticky, 0o1777);
      const theirs = join(sticky, 'node2.jsonl');
      writeFileSync(theirs, `${JSON.stringify({ ts: 1, host: 'node2', features: {}, rank: 0, model: 'm' })}\n`);
      chownSync(theirs, 65534, 65534);
      const reader = readHistory([theirs]);
      for await (const record of reader) assert.equal(record.host, 'node2');
      fs.rmSync(theirs);
      fs.symlinkSync('/etc/hostname', theirs);
      const warnings = await sharedHistoryWarnings([sticky], reader.stats.owners);
      assert.deepEqual(warnings, [`warning: history file ${theirs} is owned by uid 65534, not root; its lines may be anyone's, and the model learns from them`]);
    } finally {
      cleanup();
    }
  });
});

describe('chunkFor', () => {
  test('gives one epoch per chunk for big data and at most 50 for small', () => {
    assert.equal(chunkFor(100_000), 1);
    assert.equal(chunkFor(3000), 25);
    assert.equal(chunkFor(10), 50);
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

describe('retrain refuses bad inputs and outputs, naming the option and the file', () => {
  test('a --report or --out that names an input, or each other', async () => {
    const acctCopy = join(root, 'acct-copy');
    writeFileSync(acctCopy, readFileSync(small.acctPath));
    const before = readFileSync(acctCopy);
    await assert.rejects(retrain(options({ acct: [acctCopy], report: acctCopy }), sink()), (err: unknown) => err instanceof ConfigError && /--report .*acct-copy is the input --acct .*acct-copy; writing it would destroy it/.test(err.message));
    await assert.rejects(retrain(options({ acct: [acctCopy], out: acctCopy, force: true }), sink()), /--out .*acct-copy is the input --acct/);
    const o = options();
    writeFileSync(o.out, '{}');
    await assert.rejects(retrain({ ...o, report: o.out }, sink()), /--out .* and --report .* name the same file/);
    // A missing --acct beside it hides nothing; the config and the daemons' model are inputs too.
    await assert.rejects(retrain(options({ acct: [acctCopy, join(root, 'typo')], report: acctCopy }), sink()), /--report .*acct-copy is the input --acct/);
    const config = join(root, 'lavarank.yaml');
    writeFileSync(config, 'gpu: {enabled: false}\n');
    await assert.rejects(retrain(options({ configPath: config, report: config }), sink()), /--report .*lavarank\.yaml is the config/);
    const live = join(root, 'live-model.json');
    writeFileSync(live, '{}');
    await assert.rejects(retrain(options({ configModel: live, report: live }), sink()), /--report .*live-model\.json is the model the daemons use/);
    assert.deepEqual(readFileSync(acctCopy), before);
    assert.equal(readFileSync(o.out, 'utf8'), '{}');
    assert.equal(readFileSync(config, 'utf8'), 'gpu: {enabled: false}\n');
  });

  test('a FIFO among the inputs, instead of waiting on it for ever', { timeout: 20_000 }, async () => {
    const fifo = join(root, 'acct-fifo');
    mkfifo(fifo);
    await assert.rejects(retrain(options({ acct: [fifo] }), sink()), (err: unknown) => err instanceof ConfigError && /--acct .*acct-fifo: not a regular file/.test(err.message));
    const history = join(root, 'h-fifo.jsonl');
    mkfifo(history);
    await assert.rejects(retrain(options({ history: [history] }), sink()), /--history .*h-fifo\.jsonl: not a regular file/);
  });

  test('an lsb.acct whose every line is malformed, saying why for the first ones', async () => {
    const bad = join(root, 'all-bad.acct');
    const line = readFileSync(small.acctPath, 'utf8').split('\n')[0]!.split(' ');
    line[4] = 'notanumber';
    writeFileSync(bad, `${line.join(' ')}\n${line.join(' ')}\n`);
    await assert.rejects(retrain(options({ acct: [bad] }), sink()), /skipped 2 malformed\); the first malformed lines:\n {2}.*all-bad\.acct:1: field 5 \(userId\): expected an integer, found "notanumber"/);
  });

  test('a --calibration file with no calibration run in it (an lsb.acct given by mistake)', async () => {
    await assert.rejects(retrain(options({ calibration: [small.acctPath] }), sink()), /--calibration .*: no calibration runs in it \(\d+ lines skipped; the first: /);
  });

  test('but takes a shell\'s process substitution as --acct (a /dev/fd pipe)', () => {
    const out = join(root, 'subst', 'model.json');
    mkdirSync(join(root, 'subst'));
    const cmd = `exec '${process.execPath}' '${cliPath}' retrain --acct <(cat '${small.acctPath}') --history '${small.historyDir}' --out '${out}' --dry-run --epochs 1`;
    const r = spawnSync('bash', ['-c', cmd], { encoding: 'utf8', timeout: 120_000 });
    assert.match(r.stdout, /lsb\.acct \/dev\/fd\/\d+: \d+ JOB_FINISH records/, r.stderr);
  });

  test('a --report that is a directory', async () => {
    await assert.rejects(retrain(options({ report: root }), sink()), /--report .*: exists and is not a regular file/);
  });
});

describe('retrain', () => {
  test('writes a model that loads, a report, and says why, when nothing is installed', async () => {
    const o = options();
    const io = sink();
    const r = await retrain(o, io);
    assert.equal(r.exitCode, EXIT_WRITTEN);
    assert.equal(r.written, true);
    assert.equal(loadModel(o.out).file.name, 'retrained');
    assert.ok(readFileSync(o.report, 'utf8').startsWith('<!DOCTYPE html>'));
    assert.equal((statSync(o.report).mode & 0o777).toString(8), '640', 'the report quotes input lines: owner and group only');
    assert.equal((statSync(o.out).mode & 0o777).toString(8), '644', 'the model is read by check and explain run by anyone');
    const text = io.stdout.join('\n');
    assert.match(text, /\| installed model +\|     - \|/);
    assert.match(text, /written: there is no usable installed model/);
    assert.equal(r.holdout, Math.round(r.examples * 0.2));
  });

  test('leaves out, with a warning each, entries of a history directory it cannot read (a link to nothing, a FIFO), and trains on the rest', async () => {
    const fifo = join(root, 'stray-fifo');
    mkfifo(fifo);
    const text = await dryRunWithLinks('history-with-strays', { 'gone.jsonl': join(root, 'nowhere'), 'node9.jsonl': fifo });
    assert.match(text, /history: \d+ records in 3 files; left out 2 files \(see the warnings\)/);
    assert.match(text, /warning: history file left out: --history .*gone\.jsonl: no such file or directory/);
    assert.match(text, /warning: history file left out: --history .*node9\.jsonl: not a regular file/);
  });

  test('leaves out, with a warning, a link to the model found in a history directory, which any user can put in a sticky history.dir, instead of stopping the run', async () => {
    const history = join(root, 'history-with-model-link');
    cpSync(small.historyDir, history, { recursive: true });
    const o = options({ history: [history] });
    writeFileSync(o.out, '{}\n');
    symlinkSync(o.out, join(history, 'zz.jsonl'));
    const io = sink();
    await retrain(o, io);
    const text = io.stdout.join('\n');
    assert.match(text, /warning: history file left out: --history .*zz\.jsonl: is --out .*model\.json, which this run writes; not read/);
    assert.match(text, /history: \d+ records in 3 files; left out 1 file/);
  });

  test("shows a left-out entry's name with its control characters escaped: any user names the entries of a sticky history.dir, and root's terminal would obey them", async () => {
    const fifo = join(root, 'escape-fifo');
    mkfifo(fifo);
    const text = await dryRunWithLinks('history-with-escape', { 'x\x1b]0;owned\x07.jsonl': fifo });
    assert.match(text, /warning: history file left out: --history .*x\\u001b\]0;owned\\u0007\.jsonl: not a regular file/);
    assert.doesNotMatch(text, /[\x1b\x07]/);
  });

  test('with --dry-run writes the report but not the model', async () => {
    const o = options({ dryRun: true });
    const r = await retrain(o, sink());
    assert.equal(r.exitCode, EXIT_WRITTEN);
    assert.equal(existsSync(o.out), false);
    assert.equal(existsSync(o.report), true);
  });

  test('with --dry-run, an --out the daemons would refuse makes it say the real run would stop, not that it would write', async () => {
    const dir = join(root, 'dry-open-to-all');
    mkdirSync(dir, { recursive: true });
    chmodSync(dir, 0o777);
    const o = options({ dryRun: true, force: true, out: join(dir, 'model.json') });
    const io = sink();
    const r = await retrain(o, io);
    assert.equal(r.exitCode, EXIT_ERROR);
    assert.equal(existsSync(o.out), false);
    const text = io.stdout.join('\n');
    assert.doesNotMatch(text, /dry run, nothing written: it would be written/);
    assert.match(text, new RegExp(`dry run, nothing written: a real run would stop before reading anything, since the daemons would refuse a model written to ${o.out}: `));
    assert.match(readFileSync(o.report, 'utf8'), /a real run would stop before reading anything/);
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

  test('names an accounting file that does not exist, and says so in the report too', async () => {
    const o = options({ acct: [join(root, 'missing.acct')] });
    await assert.rejects(retrain(o, sink()), (err: unknown) => err instanceof ConfigError && err.message.startsWith(`--acct ${join(root, 'missing.acct')}: no such file`));
    assert.match(readFileSync(o.report, 'utf8'), /Not written: --acct .*missing\.acct: no such file/);
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

  test('with no usable example, gives the start times of the jobs left out for noHistory, saying they are those', async () => {
    const late = join(root, 'late-history');
    mkdirSync(late);
    // node001's history, but a day after every job started.
    writeFileSync(join(late, 'node001.jsonl'), `${JSON.stringify({ ts: (T0 + 86_400 * 2) * 1000, host: 'node001', features: { cpu_busy: 0.5 }, rank: 1, model: 'm' })}\n`);
    await assert.rejects(retrain(options({ history: [late] }), sink()), (err: unknown) => {
      if (!(err instanceof ConfigError)) return false;
      const m = /the (\d+) noHistory jobs started (\S+ \S+) to (\S+ \S+) UTC, the history covers/.exec(err.message);
      return m !== null && /left out [^(]*noHistory (\d+)/.exec(err.message)?.[1] === m[1] && m[2]!.startsWith('2027-01-15');
    });
  });

  test('counts one history record in one file in the singular', async () => {
    const one = join(root, 'one-history');
    mkdirSync(one);
    writeFileSync(join(one, 'node001.jsonl'), `${JSON.stringify({ ts: (T0 + 86_400 * 2) * 1000, host: 'node001', features: { cpu_busy: 0.5 }, rank: 1, model: 'm' })}\n`);
    const io = sink();
    await assert.rejects(retrain(options({ history: [one] }), io), ConfigError);
    assert.match(io.stdout.join('\n'), /^history: 1 record in 1 file$/m);
  });

  test('names each family left out with the figure that failed its rule, the most runs first, usable ones not at all', () => {
    const s = labelSettings();
    const families = new Map<number, FamilyBaseline>([
      [0, { status: 'ok', runs: 40, baseline: 0.9, spread: 0.02 }],
      [1, { status: 'fewRuns', runs: 3 }],
      [2, { status: 'unstable', runs: 58, baseline: 0.5, spread: 0.513 }],
      [3, { status: 'lowCpu', runs: 20, baseline: 0.12 }],
    ]);
    assert.deepEqual(familyLines(['good', 'rare', 'drifting', 'sleepy'], families, s), [
      'families left out (3 of 4):',
      '  drifting: unstable, 58 runs: the fastest of its older and of its newer runs are 51 % apart (at most 15 %)',
      '  sleepy: lowCpu, 20 runs: its fastest runs kept 12 % of their slots\' CPU busy (at least 20 %)',
      '  rare: fewRuns, 3 runs in the training window (--min-runs 5)',
    ]);
    assert.deepEqual(familyLines(['good'], new Map([[0, { status: 'ok', runs: 9, baseline: 1, spread: 0 }]]), s), [], 'every family usable: nothing said');
  });

  test('lists first the families that cost the most jobs, so that one seen only in the holdout is not hidden under "and N more"', () => {
    // The real cluster of 2026-12-05: c63a's 29 runs in the holdout came after 135 families of one run.
    const families = new Map<number, FamilyBaseline>([
      [0, { status: 'fewRuns', runs: 4 }],
      [1, { status: 'fewRuns', runs: 0 }],
      [2, { status: 'unstable', runs: 6, baseline: 0.5, spread: 0.4 }],
    ]);
    const lost = new Map([[0, 4], [1, 29], [2, 6]]);
    assert.deepEqual(familyLines(['few', 'new', 'drift'], families, labelSettings(), lost).slice(1).map((l) => l.split(':')[0]?.trim()), ['new', 'drift', 'few']);
  });

  test('gives a family\'s figure that rounds to its rule\'s limit a decimal, on the side that failed', () => {
    const families = new Map<number, FamilyBaseline>([
      [0, { status: 'lowCpu', runs: 16, baseline: 0.1996 }],
      [1, { status: 'unstable', runs: 12, baseline: 0.5, spread: 0.1502 }],
    ]);
    assert.deepEqual(familyLines(['io', 'cpu'], families, labelSettings()).slice(1), [
      '  io: lowCpu, 16 runs: its fastest runs kept 19.9 % of their slots\' CPU busy (at least 20 %)',
      '  cpu: unstable, 12 runs: the fastest of its older and of its newer runs are 15.1 % apart (at most 15 %)',
    ]);
  });

  test('lists at most ten families left out, then how many more, and shows control characters of a job name escaped', () => {
    const families = new Map<number, FamilyBaseline>(Array.from({ length: 13 }, (_, i) => [i, { status: 'fewRuns', runs: 13 - i }] as [number, FamilyBaseline]));
    const names = Array.from({ length: 13 }, (_, i) => (i === 0 ? 'evil\x1b]0;owned\x07\x9b2J' : `f${i}`));
    const lines = familyLines(names, families, labelSettings());
    assert.equal(lines.length, 12);
    assert.equal(lines[0], 'families left out (13 of 13):');
    assert.equal(lines[1], '  evil\\u001b]0;owned\\u0007\\u009b2J: fewRuns, 13 runs in the training window (--min-runs 5)');
    assert.equal(lines[11], '  and 3 more');
    assert.doesNotMatch(lines.join('\n'), /[\x00-\x09\x0b-\x1f\x7f-\x9f]/);
  });

  test('cuts a long family name in its command, keeping the user who ends it, so that two users of one command read as two', () => {
    const command = 'command:/home/shared/pipelines/genomics/bin/run_alignment.sh --ref hg38 --threads 4';
    const families = new Map<number, FamilyBaseline>([[0, { status: 'fewRuns', runs: 3 }], [1, { status: 'fewRuns', runs: 2 }]] as [number, FamilyBaseline][]);
    const lines = familyLines([`${command} (alice)`, `${command} (bob)`], families, labelSettings());
    assert.deepEqual(lines.slice(1), [
      '  command:/home/shared/pipelines/genomics/bin/run_ali… (alice): fewRuns, 3 runs in the training window (--min-runs 5)',
      '  command:/home/shared/pipelines/genomics/bin/run_align… (bob): fewRuns, 2 runs in the training window (--min-runs 5)',
    ]);
  });

  test('prints the families it left out, and puts them in the report', async () => {
    const tiny = await generateData({ outDir: join(root, 'tiny-families'), hosts: 2, ticks: 300, jobs: 60, kinds: 1, seed: 3, curve: 'square', slope: 50 });
    const o = options({ acct: [tiny.acctPath], history: [tiny.historyDir], minRuns: 1000 });
    const io = sink();
    await assert.rejects(retrain(o, io), ConfigError);
    const out = io.stdout.join('\n');
    const m = /^families left out \(1 of 1\):\n  (\S+ \(sim\)): fewRuns, (\d+) runs in the training window \(--min-runs 1000\)$/m.exec(out);
    assert.ok(m !== null, out);
    const report = readFileSync(o.report, 'utf8');
    assert.match(report, /<p>families left out \(1 of 1\):<\/p><ul><li>\S+ \(sim\): fewRuns, \d+ runs in the training window \(--min-runs 1000\)<\/li><\/ul>/);
  });

  test('refuses a holdout too small to judge a model', async () => {
    const tiny = await generateData({ outDir: join(root, 'tiny'), hosts: 2, ticks: 300, jobs: 60, kinds: 1, seed: 3, curve: 'square', slope: 50 });
    await assert.rejects(
      retrain(options({ acct: [tiny.acctPath], history: [tiny.historyDir] }), sink()),
      (err: unknown) => err instanceof ConfigError && /^too few examples for a holdout: \d+ usable jobs, \d+ of them in the newest 20 %, and at least 20 are needed/.test(err.message),
    );
  });

  test('counts calibration rows towards the rows to train on when it says how many usable jobs are needed', () => {
    assert.equal(jobsNeeded(0.5), Math.ceil(MIN_TRAIN / 0.5));
    assert.equal(jobsNeeded(0.5, MIN_TRAIN), Math.ceil(MIN_HOLDOUT / 0.5), 'enough calibration rows: only the holdout\'s need is left');
  });

  test('says how many usable jobs a larger holdout needs counting those it trains on, not only those it holds out', () => {
    // At --holdout 0.5 it said "about 40": 20 held out, but then only 20 of the 50 to train on.
    const examples = { index: new Int32Array(30), label: new Float32Array(30), trainCount: 15, holdoutCount: 15, cut: 0, families: new Map() };
    assert.throws(
      () => splitByTime({ examples } as unknown as Parameters<typeof splitByTime>[0], [], { holdoutFraction: 0.5, maxTrainRows: 100 }),
      (err: unknown) => err instanceof ConfigError && /\(about 100 usable jobs at --holdout 0\.5;/.test(err.message),
    );
  });

  // splitByTime's input as joinAndLabel gives it: trainCount training jobs then holdoutCount
  // held-out ones, job i starting at 1000 + i s with features all i / 100 and labels[i].
  const stubLabelled = (trainCount: number, holdoutCount: number, labels = new Array<number>(trainCount + holdoutCount).fill(10)): Parameters<typeof splitByTime>[0] => {
    const n = trainCount + holdoutCount;
    const index = Int32Array.from({ length: n }, (_, i) => i);
    const examples = { index, label: Float32Array.from(labels), trainCount, holdoutCount, cut: 1000 + trainCount, families: new Map() };
    const join = { featuresAt: (i: number) => ({ values: new Array<number>(FEATURE_NAMES.length).fill(i / 100), mask: new Array<boolean>(FEATURE_NAMES.length).fill(true), named: {} }) };
    const table = { start: Float64Array.from({ length: n }, (_, i) => 1000 + i) };
    return { examples, join, table } as unknown as Parameters<typeof splitByTime>[0];
  };
  const calibrationRows = (count: number, label: number): Parameters<typeof splitByTime>[1] =>
    Array.from({ length: count }, () => ({ values: new Array<number>(FEATURE_NAMES.length).fill(0), mask: new Array<boolean>(FEATURE_NAMES.length).fill(true), named: {}, label }));

  test('splitByTime accepts a holdout of exactly MIN_HOLDOUT jobs and exactly MIN_TRAIN rows to train on, calibration rows counted among them', () => {
    const split = splitByTime(stubLabelled(MIN_TRAIN - 10, MIN_HOLDOUT), calibrationRows(10, 5), { holdoutFraction: 0.2, maxTrainRows: 1000 });
    assert.equal(split.holdoutCount, MIN_HOLDOUT);
    assert.equal(split.trainRows.length, MIN_TRAIN);
  });

  test('splitByTime refuses one row short of MIN_TRAIN, counting the calibration rows in what it says it had', () => {
    assert.throws(
      () => splitByTime(stubLabelled(MIN_TRAIN - 11, MIN_HOLDOUT), calibrationRows(10, 5), { holdoutFraction: 0.2, maxTrainRows: 1000 }),
      (err: unknown) => err instanceof ConfigError && err.message === `too few examples to train on: ${MIN_TRAIN - 1} rows before the holdout of ${MIN_HOLDOUT}, at least ${MIN_TRAIN} needed`,
    );
  });

  test('splitByTime gives as the mean reference the mean clamped label of the calibration rows and of every training job, not only those sampled', () => {
    // 60 training jobs labelled 5, 25, 45, ... up to 1185 (clamped to 1000), 20 held out at 9999.
    const labels = [...Array.from({ length: 60 }, (_, i) => 20 * i + 5), ...new Array<number>(20).fill(9999)];
    const split = splitByTime(stubLabelled(60, 20, labels), calibrationRows(4, 30), { holdoutFraction: 0.25, maxTrainRows: 10 });
    assert.equal(split.sampledJobs, 10);
    const training = labels.slice(0, 60).map((l) => clampRank(l));
    const expected = (4 * 30 + training.reduce((a, b) => a + b, 0)) / 64;
    assert.ok(Math.abs(split.references.meanLabel - expected) < 1e-9, `${split.references.meanLabel} against ${expected}`);
  });

  test('splitByTime names the start of the first and of the last held-out job', () => {
    const split = splitByTime(stubLabelled(MIN_TRAIN, 30), [], { holdoutFraction: 0.4, maxTrainRows: 1000 });
    assert.equal(split.firstHeld, 1000 + MIN_TRAIN);
    assert.equal(split.lastHeld, 1000 + MIN_TRAIN + 29);
  });

  test('on the real capture, whose jobs all ran under 10 s, names --min-runtime and still writes the report', async () => {
    const acct = fileURLToPath(new URL('../../../test/fixtures/openlava/lsb.acct', import.meta.url));
    const history = join(root, 'capture-history');
    mkdirSync(history);
    const lines: string[] = [];
    for (const host of ['ol1', 'ol2', 'ol3']) for (let t = 1795886690; t < 1795887200; t += 10) lines.push(JSON.stringify({ ts: t * 1000, host, features: { cpu_busy: 0.2 }, rank: 1, model: 'm' }));
    writeFileSync(join(history, 'all.jsonl'), `${lines.join('\n')}\n`);
    const o = options({ acct: [acct], history: [history] });
    const io = sink();
    await assert.rejects(retrain(o, io), (err: unknown) => err instanceof ConfigError && /^no usable examples: of 75 finished jobs, left out notStarted 1, failed 6, tooShort 68 \(tooShort: ran under --min-runtime 10 s/.test(err.message));
    assert.match(io.stdout.join('\n'), /^  tooShort 68: ran under --min-runtime 10 s/m);
    assert.match(io.stdout.join('\n'), /^report: /m);
    const report = readFileSync(o.report, 'utf8');
    assert.match(report, /<td>tooShort<\/td><td class="n">68<\/td>/);
    assert.match(report, /Not written: no usable examples/);
  });

  test('shows malformed lines as file:line: reason, the first 20 and then a count, in the output and the report', async () => {
    const dir = join(root, 'malformed');
    mkdirSync(dir);
    const bad = join(dir, 'lsb.acct');
    const good = readFileSync(small.acctPath, 'utf8');
    writeFileSync(bad, `${Array.from({ length: 25 }, (_, i) => `"JOB_FINISH" "33" nonsense ${i}`).join('\n')}\n${good}`);
    const o = options({ acct: [bad], dryRun: true });
    const io = sink();
    await retrain(o, io);
    const out = io.stdout.join('\n');
    assert.match(out, /^skipped 25 malformed lines; the first 20:$/m);
    assert.match(out, new RegExp(`^  ${bad}:20: field 3 \\(eventTime\\): expected an integer, found "nonsense"$`, 'm'));
    assert.doesNotMatch(out, new RegExp(`${bad}:21:`));
    assert.match(out, /^  and 5 more$/m);
    const report = readFileSync(o.report, 'utf8');
    assert.match(report, /25 malformed lines were skipped; the first 20:/);
    assert.ok(report.includes(`${bad}:1: field 3 (eventTime)`));
  });

  test('names the written model in the report with the id the daemon logs when it loads it', async () => {
    const o = options();
    const r = await retrain(o, sink());
    assert.equal(r.written, true);
    const id = loadModel(o.out).id;
    assert.equal(r.modelId, id);
    assert.ok(readFileSync(o.report, 'utf8').includes(`the new model is <code>${id}</code>`));
  });

  test('takes suspended time from lsb.events in the --acct directory', async () => {
    const dir = join(root, 'with-events');
    mkdirSync(dir);
    writeFileSync(join(dir, 'lsb.acct'), readFileSync(small.acctPath));
    writeFileSync(join(dir, 'lsb.events'), `#0\n"JOB_STATUS" "33" ${T0} 1 8 0 0 0.0000 0 0 0 0\n`);
    const io = sink();
    await retrain(options({ acct: [dir], dryRun: true }), io);
    assert.match(io.stdout.join('\n'), /^lsb\.events .*: 1 JOB_STATUS records$/m);
    assert.match(io.stdout.join('\n'), /^suspended while running: 1 jobs/m);
  });

  test('leaves out as requeued a job that lsb.events shows pending again, with its usage kept, before its last start', async () => {
    // REQUEUE_EXIT_VALUES: the first run (T0 .. T0+50) ends in no JOB_FINISH; mbatchd adds
    // its usage to the job's and logs it pending (ru 1); the JOB_FINISH of the second run
    // has the CPU time of both and the start time of the second.
    const dir = join(root, 'with-requeue');
    mkdirSync(dir);
    const requeued = makeJob('sim', T0 + 100, 100, 'node001', { submitTime: T0 - 10, jobId: 77 });
    const plain = makeJob('sim', T0 + 100, 100, 'node001', { submitTime: T0 - 10, jobId: 78 });
    writeFileSync(join(dir, 'lsb.acct'), `${formatJobFinish(requeued)}\n${formatJobFinish(plain)}\n`);
    const ru = '50.000000 0.100000 5000 0 -1 0 0 800 0 0 0 16 -1 0 0 0 16 8 -1';
    writeFileSync(join(dir, 'lsb.events'), `#0\n"JOB_STATUS" "33" ${T0 + 50} 77 1 0 0 50.1000 0 1 ${ru} 25344 0\n`);
    const o = options({ acct: [dir] });
    const gathered = await gatherInputs(o, await listInputs(o), readLog(), quietContext());
    const reasons = Array.from({ length: gathered.table.count }, (_, i) => [gathered.table.jobId[i], gathered.table.reasonOf(i)]);
    assert.deepEqual(reasons, [[77, 'requeued'], [78, undefined]]);
  });

  test('lists each --acct and --history directory once, and reads and reports each file in them once', async () => {
    const dir = join(root, 'listed-once');
    mkdirSync(dir);
    writeFileSync(join(dir, 'lsb.acct'), readFileSync(small.acctPath));
    writeFileSync(join(dir, 'lsb.events'), `#0\n"JOB_STATUS" "33" ${T0} 1 8 0 0 0.0000 0 0 0 0\n`);
    // Every directory listing retrain makes, through the fs functions its modules import.
    const listSync = mock.method(fs, 'readdirSync');
    const list = mock.method(fsp, 'readdir');
    syncBuiltinESMExports();
    const io = sink();
    const o = options({ acct: [dir], dryRun: true });
    try {
      await retrain(o, io);
    } finally {
      listSync.mock.restore();
      list.mock.restore();
      syncBuiltinESMExports();
    }
    const listings = (path: string): number => [...listSync.mock.calls, ...list.mock.calls].filter((c) => c.arguments[0] === path).length;
    assert.equal(listings(dir), 1, 'the --acct directory');
    assert.equal(listings(small.historyDir), 1, 'the --history directory');
    const said = io.stdout.join('\n');
    assert.deepEqual(said.match(/^lsb\.(acct|events) .*$/gm), [`lsb.events ${join(dir, 'lsb.events')}: 1 JOB_STATUS records`, `lsb.acct ${join(dir, 'lsb.acct')}: 400 JOB_FINISH records`]);
    assert.match(said, /^history: \d+ records in 3 files$/m);
    const report = readFileSync(o.report, 'utf8');
    for (const file of ['lsb.acct', 'lsb.events']) assert.equal(report.split(join(dir, file)).length - 1, 1, `${file} in the report`);
  });

  test('reads the files it listed at the start, not those a rotation left by the time it reads', async () => {
    const dir = join(root, 'rotated-meanwhile');
    mkdirSync(dir);
    writeFileSync(join(dir, 'lsb.acct'), readFileSync(small.acctPath));
    const o = options({ acct: [dir] });
    const files = await listInputs(o);
    writeFileSync(join(dir, 'lsb.acct.1'), readFileSync(small.acctPath)); // mbatchd rotated after the listing
    const said: string[] = [];
    await gatherInputs(o, files, readLog(), quietContext((t) => said.push(t)));
    assert.deepEqual(said.filter((l) => l.startsWith('lsb.acct ')), [`lsb.acct ${join(dir, 'lsb.acct')}: 400 JOB_FINISH records`]);
  });

  test('appends calibration rows to the training part and never holds them out', async () => {
    const calibration = join(root, 'cal.jsonl');
    const sample = { ts: T0 * 1000, failures: {}, cpu: { user: 0.5, system: 0, iowait: 0, steal: 0, busy: 0.5, online: 4 } };
    writeFileSync(calibration, Array.from({ length: 30 }, () => JSON.stringify({ sample, slowdown: 100 })).join('\n') + '\n');
    const plain = await retrain(options(), sink());
    const io = sink();
    const o = options({ calibration: [calibration] });
    const r = await retrain(o, io);
    assert.equal(r.holdout, plain.holdout);
    const t = loadModel(o.out).file.training;
    assert.equal(t.samples, r.examples + 30);
    assert.equal(t.holdoutSamples, r.holdout);
    assert.match(io.stdout.join('\n'), /\(\+30 calibration rows\)/);
  });
});

describe('the stages, one at a time', () => {
  test('gather, then join and label, count every job once and keep the examples in start order', async () => {
    const said: string[] = [];
    const ctx = quietContext((t) => said.push(t));
    const log = readLog();
    const gathered = await gatherInputs(options(), await listInputs(options()), log, ctx);
    assert.equal(gathered.jobs, 400);
    const labelled = await joinAndLabel(gathered, options(), log, ctx);
    const left = Object.values(labelled.excluded).reduce((sum, n) => sum + n, 0);
    const { index, trainCount, holdoutCount, cut } = labelled.examples;
    assert.equal(index.length + left, 400);
    assert.equal(trainCount + holdoutCount, index.length);
    [...index].forEach((i, k) => {
      if (k > 0) assert.ok((labelled.table.start[i] ?? 0) >= (labelled.table.start[index[k - 1] ?? 0] ?? Infinity));
      assert.equal((labelled.table.start[i] ?? 0) < cut, k < trainCount);
    });
    assert.match(said.join('\n'), /^history: \d+ records in 3 files/m);
  });

  test('splitByTime samples at most --max-train-rows training jobs, calibration rows first and always kept', async () => {
    const ctx = quietContext();
    const o = options();
    const log = readLog();
    const labelled = await joinAndLabel(await gatherInputs(o, await listInputs(o), log, ctx), o, log, ctx);
    const cal = Array.from({ length: 10 }, () => ({ values: new Array<number>(FEATURE_NAMES.length).fill(0), mask: new Array<boolean>(FEATURE_NAMES.length).fill(false), named: {}, label: -1 }));
    const split = splitByTime(labelled, cal, { holdoutFraction: 0.2, maxTrainRows: 100 });
    assert.equal(split.sampledJobs, 100);
    assert.equal(split.trainRows.length, 110);
    assert.deepEqual(split.trainRows.slice(0, 10).map((r) => r.label), new Array<number>(10).fill(-1));
    assert.equal(split.holdoutCount, labelled.examples.holdoutCount);
    assert.equal(split.references.linear.rows, labelled.examples.trainCount + 10);
  });

  test('evaluate judges every candidate on the same held-out jobs, the embedded default included', async () => {
    const ctx = quietContext();
    const o = options();
    const log = readLog();
    const labelled = await joinAndLabel(await gatherInputs(o, await listInputs(o), log, ctx), o, log, ctx);
    const split = splitByTime(labelled, [], o);
    const trained = await trainStage(split, { ...o, epochs: 5 }, [], ctx);
    const e = await evaluate(trained, split, labelled, { installed: join(root, 'nothing-here.json'), embedded: defaultModelPath() });
    assert.deepEqual(e.table.map((r) => r.name), ['new model', 'installed model', 'embedded default', 'linear regression', 'physical backbone', 'load-only fit', 'mean', 'formula']);
    assert.ok(e.table.every((r) => r.n === split.holdoutCount));
    assert.equal(e.installed.state, 'none');
    assert.ok(e.table[2]?.mae !== null && e.table[3]?.mae !== null && e.table[4]?.mae !== null, 'the embedded default, linear regression and the backbone were scored');
    assert.deepEqual(e.references.map((r) => r.name), ['linear regression', 'physical backbone']);
    assert.ok(e.points.length === split.holdoutCount && e.worst.length === 10);
  });

  test('splitByTime spreads its sample of training jobs evenly over the training window, and checks training on held-out jobs only', async () => {
    const ctx = quietContext();
    const o = options();
    const log = readLog();
    const labelled = await joinAndLabel(await gatherInputs(o, await listInputs(o), log, ctx), o, log, ctx);
    const { index, trainCount, holdoutCount, label } = labelled.examples;
    const split = splitByTime(labelled, [], { holdoutFraction: 0.2, maxTrainRows: 100 });
    assert.ok(trainCount > 200, `${trainCount} training jobs`);
    split.trainRows.forEach((row, k) => {
      assert.deepEqual(row.values, labelled.join.featuresAt(index[Math.floor((k * trainCount) / 100)] ?? -1).values, `sampled row ${k}`);
    });
    assert.equal(split.checkRows.length, holdoutCount);
    split.checkRows.forEach((row, j) => {
      assert.deepEqual(row.values, labelled.join.featuresAt(index[trainCount + j] ?? -1).values, `check row ${j}`);
      assert.equal(row.label, label[trainCount + j]);
    });
  });

  test('evaluate scores the held-out jobs, not the training ones', async () => {
    const ctx = quietContext();
    const o = options();
    const log = readLog();
    const labelled = await joinAndLabel(await gatherInputs(o, await listInputs(o), log, ctx), o, log, ctx);
    const split = splitByTime(labelled, [], o);
    const trained = await trainStage(split, { ...o, epochs: 2 }, [], ctx);
    const e = await evaluate(trained, split, labelled, { installed: join(root, 'nothing-here.json'), embedded: defaultModelPath() });
    const { trainCount, holdoutCount, label } = labelled.examples;
    const mean = clampRank(Math.fround(split.references.meanLabel));
    let sum = 0;
    for (let j = 0; j < holdoutCount; j++) sum += Math.abs(mean - clampRank(Math.fround(label[trainCount + j] ?? NaN)));
    const meanMae = e.table.find((r) => r.name === 'mean')?.mae ?? NaN;
    assert.ok(Math.abs(meanMae - sum / holdoutCount) < 1e-3, `mean predictor scored ${meanMae}, on the holdout ${sum / holdoutCount}`);
  });

  // One cron file on every host of a shared model path starts many retrains at once:
  // each kept the model it found as OUT.previous, and the site's older model was lost.
  test('does not start while another retrain of the same model runs, and leaves the model, OUT.previous and the lock as they were', async () => {
    const o = options({ force: true });
    writeFileSync(o.out, 'the installed model\n', { mode: 0o644 });
    writeFileSync(`${o.out}.previous`, 'the model before it\n', { mode: 0o644 });
    const sleeper = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)'], { stdio: 'ignore' });
    try {
      writeFileSync(`${o.out}.lock`, `${sleeper.pid} ${hostname()}\n`);
      await assert.rejects(retrain(o, sink()), (err: unknown) => {
        assert.ok(err instanceof ConfigError);
        assert.equal(err.message, `another retrain is writing ${o.out}: pid ${sleeper.pid} on ${hostname()} holds ${o.out}.lock; not started (remove ${o.out}.lock if no retrain runs there)`);
        return true;
      });
    } finally {
      sleeper.kill('SIGKILL');
    }
    assert.equal(readFileSync(o.out, 'utf8'), 'the installed model\n');
    assert.equal(readFileSync(`${o.out}.previous`, 'utf8'), 'the model before it\n');
    assert.equal(readFileSync(`${o.out}.lock`, 'utf8'), `${sleeper.pid} ${hostname()}\n`);
  });

  test('takes over the lock of a retrain killed on this host, and removes its own when done', async () => {
    const o = options({ force: true });
    const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
    writeFileSync(`${o.out}.lock`, `${dead.stdout} ${hostname()}\n`);
    const r = await retrain(o, sink());
    assert.equal(r.exitCode, EXIT_WRITTEN);
    assert.equal(existsSync(`${o.out}.lock`), false);
  });

  // A host that went down during a retrain keeps its lock; after the reboot the pid in it
  // is soon another process's (pid 1 here), and every weekly run was refused for good.
  test('takes over a lock of this host written before the host last booted, whatever process has its pid now', async () => {
    const o = options({ force: true });
    writeFileSync(`${o.out}.lock`, `1 ${hostname()}\n`);
    const beforeBoot = new Date(0);
    fs.utimesSync(`${o.out}.lock`, beforeBoot, beforeBoot);
    const r = await retrain(o, sink());
    assert.equal(r.exitCode, EXIT_WRITTEN);
    assert.equal(existsSync(`${o.out}.lock`), false);
  });

  // pid_max is 32768 on RHEL 7: on a busy node the pids wrap within days, and a process
  // that took the pid of a killed retrain kept every weekly run refused while it lived.
  test('takes over a lock of this host whose pid is now a process started after the lock was written', async () => {
    const o = options({ force: true });
    const later = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)'], { stdio: 'ignore' });
    try {
      writeFileSync(`${o.out}.lock`, `${later.pid} ${hostname()}\n`);
      const hourAgo = new Date(Date.now() - 3600_000);
      fs.utimesSync(`${o.out}.lock`, hourAgo, hourAgo);
      const r = await retrain(o, sink());
      assert.equal(r.exitCode, EXIT_WRITTEN);
      assert.equal(existsSync(`${o.out}.lock`), false);
    } finally {
      later.kill('SIGKILL');
    }
  });

  // Two retrains started together on one host after a run was killed there both judged
  // its lock stale; the second removed the lock the first had just made, and both ran
  // (4 times in 25 with two real processes). Here the other run takes the lock over
  // right after this one has read it.
  test('does not remove the lock another run made in place of a stale one after it was read', () => {
    const o = options({ force: true });
    const lock = `${o.out}.lock`;
    const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' }).stdout;
    writeFileSync(lock, `${dead} ${hostname()}\n`);
    const other = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)'], { stdio: 'ignore' });
    const original = fs.readFileSync;
    let tookOver = false;
    const read = mock.method(fs, 'readFileSync', (...args: Parameters<typeof fs.readFileSync>) => {
      const text = original(...args);
      if (!tookOver && (args[0] === lock || typeof args[0] === 'number')) {
        tookOver = true;
        fs.rmSync(lock);
        writeFileSync(lock, `${other.pid} ${hostname()}\n`);
      }
      return text;
    });
    syncBuiltinESMExports();
    try {
      assert.throws(() => lockOutput(o.out), { message: `another retrain is writing ${o.out}: pid ${other.pid} on ${hostname()} holds ${lock}; not started (remove ${lock} if no retrain runs there)` });
    } finally {
      read.mock.restore();
      syncBuiltinESMExports();
      other.kill('SIGKILL');
    }
    assert.equal(readFileSync(lock, 'utf8'), `${other.pid} ${hostname()}\n`);
  });

  // A disk full when the lock was made (a 0-page tmpfs here) left OUT.lock empty, and
  // every later retrain of the model was refused as held by "a lock of unknown form".
  test('removes the lock it made when writing its holder fails, and names the lock in the error', () => {
    const o = options({ force: true });
    const lock = `${o.out}.lock`;
    const original = fs.writeSync;
    const write = mock.method(fs, 'writeSync', (...args: Parameters<typeof fs.writeSync>) => {
      if (typeof args[0] === 'number' && fs.readlinkSync(`/proc/self/fd/${args[0]}`) === lock) {
        throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
      }
      return (original as (...a: unknown[]) => number)(...args);
    });
    syncBuiltinESMExports();
    try {
      assert.throws(() => lockOutput(o.out), { message: `cannot write the lock ${lock}: ENOSPC: no space left on device, write; not started, nothing written` });
    } finally {
      write.mock.restore();
      syncBuiltinESMExports();
    }
    assert.equal(existsSync(lock), false);
    lockOutput(o.out)();
  });

  // Its file system remounted read-only during training (reproduced on a tmpfs): the
  // lock's removal failed too, and its EROFS was all the run said, not why the model
  // was not written or that the model and OUT.previous were unchanged.
  test('when its lock cannot be removed, still ends with why the model was not written, and warns of the lock', async () => {
    const o = options({ force: true });
    const lock = `${o.out}.lock`;
    const erofs = (what: string): Error => Object.assign(new Error(`EROFS: read-only file system, ${what}`), { code: 'EROFS' });
    const writeSync = fs.writeSync;
    const write = mock.method(fs, 'writeSync', (...args: Parameters<typeof fs.writeSync>) => {
      if (typeof args[0] === 'number' && /\/\.model\.json\.\d+\.[0-9a-z]+\.tmp$/.test(fs.readlinkSync(`/proc/self/fd/${args[0]}`))) throw erofs('write');
      return (writeSync as (...a: unknown[]) => number)(...args);
    });
    const rmSync = fs.rmSync;
    const rm = mock.method(fs, 'rmSync', (...args: Parameters<typeof fs.rmSync>) => {
      if (args[0] === lock) throw erofs(`unlink '${lock}'`);
      rmSync(...args);
    });
    syncBuiltinESMExports();
    const io = sink();
    try {
      await assert.rejects(retrain(o, io), { message: `could not write the model ${o.out}: EROFS (read-only file system); the model there and ${o.out}.previous are unchanged` });
    } finally {
      write.mock.restore();
      rm.mock.restore();
      syncBuiltinESMExports();
    }
    assert.ok(io.stdout.includes(`warning: could not remove the lock ${lock}: EROFS: read-only file system, unlink '${lock}'; the next retrain on this host takes it over (on another host, remove it if no retrain runs)`), io.stdout.join('\n'));
    assert.equal(existsSync(o.out), false);
    rmSync(lock);
  });

  // A rename that failed there (a file system gone read-only or an I/O error right after
  // the new model was written) named only the temp file, which then held the only copy of
  // the model replaced, and which a later retrain removes an hour on.
  test('when the model it replaced cannot be kept as OUT.previous, says the new model is in place and where the old one is', async () => {
    const o = options({ force: true });
    await retrain(o, sink());
    const replaced = readFileSync(o.out, 'utf8');
    const previous = `${o.out}.previous`;
    const renameSync = fs.renameSync;
    const rename = mock.method(fs, 'renameSync', (...args: Parameters<typeof fs.renameSync>) => {
      if (args[1] === previous) throw Object.assign(new Error('EIO: i/o error, rename'), { code: 'EIO' });
      renameSync(...args);
    });
    syncBuiltinESMExports();
    let message = '';
    try {
      await assert.rejects(retrain(o, sink()), (err: Error) => {
        message = err.message;
        return true;
      });
    } finally {
      rename.mock.restore();
      syncBuiltinESMExports();
    }
    const kept = /that model is in (\S+): move it to /.exec(message)?.[1];
    assert.match(message, new RegExp(`^wrote ${o.out} \\(retrained#[0-9a-f]+\\), but could not keep the model it replaced as ${previous}: EIO \\(i/o error\\); `));
    assert.ok(kept !== undefined, message);
    assert.equal(readFileSync(kept, 'utf8'), replaced);
    assert.equal(existsSync(previous), false);
  });

  // A retrain SIGKILLed in its write stage (reproduced with strace delaying its fsync)
  // left its temp files beside the model, each named with its pid, for good.
  test('removes the temp files a retrain killed while writing left beside the model, and keeps those of a process still running', async () => {
    const o = options({ force: true });
    const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' }).stdout;
    const left = [`.model.json.${dead}.mx9vyq7t.tmp`, `.model.json.previous.${dead}.tmp`, `.model.json.report.html.${dead}.mx9vyuvd.tmp`];
    const live = `.model.json.report.html.${process.pid}.mx9vyuvd.tmp`;
    const hourAgo = new Date(Date.now() - 2 * 3600_000);
    for (const name of [...left, live]) {
      writeFileSync(join(o.out, '..', name), 'partial');
      fs.utimesSync(join(o.out, '..', name), hourAgo, hourAgo);
    }
    const r = await retrain(o, sink());
    assert.equal(r.exitCode, EXIT_WRITTEN);
    assert.deepEqual(fs.readdirSync(join(o.out, '..')).filter((n) => n.endsWith('.tmp')), [live]);
  });

  // Over a model directory shared by NFS, a pid gone here may be another host's live run:
  // a --dry-run there (which takes no lock) writing its report beside the model had its
  // temp file removed under it, and its rename failed with ENOENT.
  test('keeps a temp file written just now whose pid runs on no process here, as another host\'s may', async () => {
    const o = options({ force: true });
    const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' }).stdout;
    const writing = `.model.json.report.html.${dead}.mx9vyuvd.tmp`;
    writeFileSync(join(o.out, '..', writing), 'partial');
    const r = await retrain(o, sink());
    assert.equal(r.exitCode, EXIT_WRITTEN);
    assert.deepEqual(fs.readdirSync(join(o.out, '..')).filter((n) => n.endsWith('.tmp')), [writing]);
  });

  test('writeModelStage keeps the model it replaces as OUT.previous, readable by all, for a one-move rollback', async () => {
    const dir = join(root, 'keep-previous');
    mkdirSync(dir, { recursive: true, mode: 0o755 });
    const out = join(dir, 'model.json');
    writeFileSync(out, 'the old model\n', { mode: 0o600 });
    const model = loadModel(defaultModelPath()).file;
    const written = writeModelStage(model, { write: true, reason: 'test' }, {}, { verdicts: ['new model', 'mean', 'load-only fit', 'formula'].map((name, k) => ({ name, note: '', mae: 10 + k, n: 5 })) }, 5, { out, configModel: out, configPath: null, intervalSec: 10 }, quietContext());
    assert.equal(written.written, true);
    assert.equal(written.previous, `${out}.previous`);
    assert.equal(readFileSync(`${out}.previous`, 'utf8'), 'the old model\n');
    assert.equal(statSync(`${out}.previous`).mode & 0o777, 0o644);
    assert.equal(loadModel(out).id, written.id);
  });

  test('writeModelStage run by another user than root does not say the daemons, which run as root, will load the model it wrote', () => {
    const dir = join(root, 'not-root');
    mkdirSync(dir, { recursive: true, mode: 0o755 });
    const out = join(dir, 'model.json');
    // As root, pretend to be uid 1000 (root may give it the file); as anyone else, be them.
    const uid = process.geteuid?.() === 0 ? 1000 : (process.geteuid?.() ?? 1000);
    const euid = mock.method(process as { geteuid(): number }, 'geteuid', () => uid);
    const said: string[] = [];
    try {
      const model = loadModel(defaultModelPath()).file;
      writeModelStage(model, { write: true, reason: 'test' }, {}, { verdicts: ['new model', 'mean', 'load-only fit', 'formula'].map((name, k) => ({ name, note: '', mae: 10 + k, n: 5 })) }, 5, { out, configModel: out, configPath: null, intervalSec: 10 }, quietContext((t) => said.push(t)));
    } finally {
      euid.mock.restore();
    }
    const text = said.join('\n');
    assert.equal(statSync(out).uid, uid);
    assert.doesNotMatch(text, /^the daemons load it/m);
    assert.match(text, new RegExp(`^warning: not running as root: ${out} is owned by uid ${uid}, and a daemon running as root \\(as LIM starts it\\) refuses it and keeps the model it has; run retrain as root$`, 'm'));
    assert.match(text, new RegExp(`^daemons running as uid ${uid} load it within 13 reports \\(130 s at the 10 s interval\\)$`, 'm'));
  });

  test('writeModelStage records as the model\'s samples the rows trained on and every held-out job, not the sample of them training checked', () => {
    const dir = join(root, 'samples');
    mkdirSync(dir, { recursive: true, mode: 0o755 });
    const out = join(dir, 'model.json');
    const model = loadModel(defaultModelPath()).file;
    // As trainModel leaves it for 10 970 training jobs and 2743 held out: 2000 of those checked.
    Object.assign(model.training, { samples: 12_970, trainSamples: 10_970, holdoutSamples: 2000 });
    writeModelStage(model, { write: true, reason: 'test' }, {}, { verdicts: ['new model', 'mean', 'load-only fit', 'formula'].map((name, k) => ({ name, note: '', mae: 10 + k, n: 2743 })) }, 2743, { out, configModel: out, configPath: null, intervalSec: 10 }, quietContext());
    const t = loadModel(out).file.training;
    assert.deepEqual([t.samples, t.trainSamples, t.holdoutSamples], [13_713, 10_970, 2743]);
  });

  // An I/O error syncing the directory after the rename (EIO from fsync, injected with
  // strace on a real run): the new model was in place, yet the message said the model
  // there was unchanged, and the copy of the model it replaced, its only one, was removed.
  test('writeModelStage whose directory cannot be synced after the rename says the new model is in place and keeps the one it replaced as OUT.previous', () => {
    const dir = join(root, 'dir-eio');
    mkdirSync(dir, { recursive: true, mode: 0o755 });
    const out = join(dir, 'model.json');
    writeFileSync(out, 'the old model\n', { mode: 0o644 });
    writeFileSync(`${out}.previous`, 'the model before it\n', { mode: 0o644 });
    const model = loadModel(defaultModelPath()).file;
    const restoreSync = failDirectorySync();
    try {
      assert.throws(
        () => writeModelStage(model, { write: true, reason: 'test' }, {}, { verdicts: ['new model', 'mean', 'load-only fit', 'formula'].map((name, k) => ({ name, note: '', mae: 10 + k, n: 5 })) }, 5, { out, configModel: out, configPath: null, intervalSec: 10 }, quietContext()),
        { message: new RegExp(`^wrote ${out} \\([a-z]+#[0-9a-f]+\\) and kept the model it replaced as ${out}\\.previous, but EIO \\(i/o error\\) syncing ${dir}: after a crash either may be missing`) },
      );
    } finally {
      restoreSync();
    }
    assert.equal(loadModel(out).file.name, model.name);
    assert.equal(readFileSync(`${out}.previous`, 'utf8'), 'the old model\n');
    assert.deepEqual(fs.readdirSync(dir).sort(), ['model.json', 'model.json.previous']);
  });

  // A first retrain, no model at OUT: 'after a crash either may be missing' named two
  // files where there was one.
  test('writeModelStage whose directory cannot be synced after a first model is renamed into place says that model may be lost, not either of two', () => {
    const dir = join(root, 'dir-eio-first');
    mkdirSync(dir, { recursive: true, mode: 0o755 });
    const out = join(dir, 'model.json');
    const model = loadModel(defaultModelPath()).file;
    const restoreSync = failDirectorySync();
    try {
      assert.throws(
        () => writeModelStage(model, { write: true, reason: 'test' }, {}, { verdicts: ['new model', 'mean', 'load-only fit', 'formula'].map((name, k) => ({ name, note: '', mae: 10 + k, n: 5 })) }, 5, { out, configModel: out, configPath: null, intervalSec: 10 }, quietContext()),
        { message: new RegExp(`^wrote ${out} \\([a-z]+#[0-9a-f]+\\), but EIO \\(i/o error\\) syncing ${dir}: after a crash ${out} may be as it was before; check the disk`) },
      );
    } finally {
      restoreSync();
    }
    assert.deepEqual(fs.readdirSync(dir), ['model.json']);
  });

  // The report renamed into place, then EIO syncing its directory: the message said the
  // report could not be written, though it was there.
  test('writeReportStage whose directory cannot be synced after the rename says the report is in place, not that it could not be written', () => {
    const dir = join(root, 'report-eio');
    mkdirSync(dir, { recursive: true, mode: 0o755 });
    const path = join(dir, 'report.html');
    const data: ReportData = {
      generated: '2027-01-01T00:00:00.000Z', out: join(dir, 'model.json'), outcome: 'Written.', newModelId: 'retrained#12345678', installed: { path: join(dir, 'model.json') },
      table: [], holdout: [], counts: { jobs: 0, examples: 0, train: 0, calibration: 0, holdout: 0 }, excluded: noExclusions(), inputs: [], problems: [], training: '',
    };
    const restoreSync = failDirectorySync();
    try {
      assert.throws(() => writeReportStage(path, data, { written: true, out: join(dir, 'model.json') }, quietContext()), {
        message: `the model was written to ${join(dir, 'model.json')}, and the report ${path} was written, but its directory ${dir} could not be synced: EIO (i/o error); after a crash ${path} may be as it was before`,
      });
    } finally {
      restoreSync();
    }
    assert.match(readFileSync(path, 'utf8'), /^<!doctype html>/i);
  });

  test('writeModelStage on a full disk names the model file, and leaves the model and OUT.previous as they were', () => {
    const dir = join(root, 'full-disk');
    mkdirSync(dir, { recursive: true, mode: 0o755 });
    const out = join(dir, 'model.json');
    writeFileSync(out, 'the old model\n', { mode: 0o644 });
    writeFileSync(`${out}.previous`, 'the model before it\n', { mode: 0o644 });
    const model = loadModel(defaultModelPath()).file;
    const write = mock.method(fs, 'writeSync', () => {
      throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
    });
    syncBuiltinESMExports();
    try {
      assert.throws(
        () => writeModelStage(model, { write: true, reason: 'test' }, {}, { verdicts: ['new model', 'mean', 'load-only fit', 'formula'].map((name, k) => ({ name, note: '', mae: 10 + k, n: 5 })) }, 5, { out, configModel: out, configPath: null, intervalSec: 10 }, quietContext()),
        { message: `could not write the model ${out}: ENOSPC (no space left on device); the model there and ${out}.previous are unchanged` },
      );
    } finally {
      write.mock.restore();
      syncBuiltinESMExports();
    }
    assert.equal(readFileSync(out, 'utf8'), 'the old model\n');
    assert.equal(readFileSync(`${out}.previous`, 'utf8'), 'the model before it\n');
    assert.deepEqual(fs.readdirSync(dir).sort(), ['model.json', 'model.json.previous']);
  });

  test('trainStage stops at the time limit even inside the backbone fit, says so, and the backbone alone is still judged', async () => {
    // A clock that moves a second at every look: the 5 s limit passes during the backbone's grid search.
    let seconds = 0;
    const ctx = quietContext(undefined, () => 1000 * seconds++);
    const o = options({ timeLimitSec: 5 });
    const log = readLog();
    const labelled = await joinAndLabel(await gatherInputs(o, await listInputs(o), log, ctx), o, log, ctx);
    const split = splitByTime(labelled, [], o);
    const trained = await trainStage(split, o, [], ctx);
    assert.match(trained.stoppedBy, /^the 5 s time limit, during the backbone fit \(\d+ of its 150 grid points; no network\)$/);
    assert.match(trained.summary, /kept the backbone alone\.$/);
    assert.equal(trained.model.residual, null);
    const e = await evaluate(trained, split, labelled, { installed: join(root, 'nothing-here.json'), embedded: defaultModelPath() });
    assert.ok(Number.isFinite(e.table[0]?.mae), 'the new model was scored');
  });
});

describe('ProblemLog', () => {
  test('keeps the first 20 malformed lines of all inputs and counts the rest', () => {
    const log = new ProblemLog();
    log.add(15, Array.from({ length: 15 }, (_, i) => `a:${i + 1}: bad`));
    log.add(12, Array.from({ length: 10 }, (_, i) => `b:${i + 1}: bad`));
    const lines = log.lines();
    assert.equal(lines[0], 'skipped 27 malformed lines; the first 20:');
    assert.equal(lines[20], '  b:5: bad');
    assert.equal(lines[21], '  and 7 more');
    assert.equal(lines.length, 22);
  });

  test("shows a malformed line's control characters escaped: the line and its file's name are any user's text, and the lines go to root's terminal", () => {
    const log = new ProblemLog();
    log.add(1, ['/tmp/h/x\x1b[31m.jsonl:2: not JSON: Unexpected token \'o\', "not json \x1b]0;owned\x07" is not valid JSON']);
    assert.deepEqual(log.lines(), ['skipped 1 malformed line:', '  /tmp/h/x\\u001b[31m.jsonl:2: not JSON: Unexpected token \'o\', "not json \\u001b]0;owned\\u0007" is not valid JSON']);
  });
});


describe('gatherInputs, as a cluster\'s files are named', () => {
  const T = 1_800_000_000;
  const inputs = (dir: string, over: Partial<RetrainOptions> = {}): RetrainOptions => {
    mkdirSync(dir, { recursive: true });
    const history = join(dir, 'ol1.jsonl');
    writeFileSync(history, `${JSON.stringify({ ts: T * 1000, host: 'ol1', features: { cpu_busy: 0 }, rank: 0, model: 'x' })}\n`);
    const acct = join(dir, 'lsb.acct');
    writeFileSync(acct, `${formatJobFinish(makeJob('j', T, 1000, 'ol1', { jobId: 777 }))}\n`);
    return {
      history: [history], acct: [acct], calibration: [], out: join(dir, 'model.json'), report: join(dir, 'r.html'), configPath: null,
      configModel: join(dir, 'model.json'), intervalSec: 10, minRuns: 5, holdoutFraction: 0.2, seed: 1, epochs: 10, timeLimitSec: 10,
      force: false, dryRun: false, ...over,
    };
  };
  // "JOB_STATUS" "33" eventTime jobId jStatus reason subreasons cpuTime endTime ru exitStatus idx
  const status = (time: number, jStatus: number): string => `"JOB_STATUS" "33" ${time} 777 ${jStatus} 0 0 0.0000 0 0 0 0`;

  test('counts a job suspended 100 s as 100 s suspended whatever the order its lsb.events files are named in', async (t) => {
    const dir = testDir(t);
    // The older file: suspended (SSUSP) at +100; the newer: running again at +200, done at +1000.
    writeFileSync(join(dir, 'lsb.events.1'), `#0\n${status(T + 100, 8)}\n`);
    writeFileSync(join(dir, 'lsb.events'), `#0\n${status(T + 200, 4)}\n${status(T + 1000, 64)}\n`);
    const base = inputs(dir);
    for (const events of [['lsb.events', 'lsb.events.1'], ['lsb.events.1', 'lsb.events']]) {
      const o = { ...base, acct: [base.acct[0]!, ...events.map((e) => join(dir, e))] };
      const gathered = await gatherInputs(o, await listInputs(o), readLog(), quietContext());
      assert.equal(gathered.table.suspended[0], 100, `named ${events.join(', ')}`);
    }
  });

  test('leaves out calibration runs during which others\' CPU use rose, as train-default does, and says how many', async (t) => {
    const dir = testDir(t);
    const cal = join(dir, 'cal.jsonl');
    const sample = { ts: T * 1000, failures: {}, cpu: { user: 0.1, system: 0, iowait: 0, steal: 0, busy: 0.1, online: 4 } };
    writeFileSync(cal, `${JSON.stringify({ sample, slowdown: 5, foreign: { before: 0, during: 0 } })}\n${JSON.stringify({ sample, slowdown: 400, foreign: { before: 0, during: 0.6 } })}\n`);
    const o = inputs(dir, { calibration: [cal] });
    const said: string[] = [];
    const gathered = await gatherInputs(o, await listInputs(o), readLog(), quietContext((text) => said.push(text)));
    assert.deepEqual(gathered.calibration.map((r) => r.label), [5]);
    assert.ok(said.some((l) => /calibration .*cal\.jsonl: 1 rows; left out 1 \(others' CPU use rose/.test(l)), said.join('\n'));
  });
});
