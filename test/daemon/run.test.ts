import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, readlinkSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { pciBus } from '../collectors/helpers.js';
import { cpus, hostname } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { pino } from 'pino';
import { defaultConfig } from '../../src/config/config.js';
import type { Tick } from '../../src/daemon/elim.js';
import type { RotatingAppender } from '../../src/util/appender.js';
import { FakeClock, systemClock } from '../../src/util/clock.js';
import { PARENT_ENV } from '../../src/daemon/children.js';
import { generateBigNode } from '../../scripts/gen-bignode.js';
import { afterFirstReport, announceStart, countReport, elimPriority, emptySummary, gatherInventory, handRunNote, hostInventory, hourlySummary, inventorySource, insideItself, logFailingProbed, loopSettings, lsfAbortCode, noPsiWarning, openWriters, parentCheck, readConfig, readEnvironment, readTextNames, reportInterval, reportSchedule, sampleDeadlineMs, settleStop, startChildrenOnceRead, summaryFields, TRIGGER_RESOURCE } from '../../src/daemon/run.js';
import { chooseHistoryDir, historyDirectoryProblems } from '../../src/history/record.js';
import { cliPath, repoRoot, tempDir, testDir, tokenEnv } from '../helpers.js';
import { startElim, threadNice, type StartOptions } from '../e2e/harness.js';
import { FAULTS, SyntheticHost, until } from '../faults/helpers.js';

describe('reportSchedule', () => {
  // What it said, at which level, and to complain.
  function said(): { log: { warn: (...a: unknown[]) => void; fatal: (...a: unknown[]) => void }; lines: string[] } {
    const lines: string[] = [];
    const at = (level: string) => (...a: unknown[]) => void lines.push(`${level}: ${String(a.at(-1))}`);
    return { log: { warn: at('warn'), fatal: at('fatal') }, lines };
  }
  const LSF = { ELIM_ABORT_VALUE: '97', LSF_RESOURCES: 'rank_mem ' };

  it('asks LSF about the typed ranks only where they are on: rank_mem alone in LSF_RESOURCES keeps a typed elim reporting and stops the other', () => {
    const typed = said();
    assert.deepEqual(reportSchedule({ resource: 'rank', typed_ranks: true, interval: 10 }, LSF, undefined, false, typed.log as never, () => undefined), { ok: true, intervalMs: 10_000 });
    assert.deepEqual(typed.lines, []);
    const plain = said();
    assert.deepEqual(reportSchedule({ resource: 'rank', typed_ranks: false, interval: 10 }, LSF, undefined, false, plain.log as never, () => undefined), { ok: false, code: 97 });
    assert.match(plain.lines.join('\n'), /^warn: .*names none of 'rank', 'elimtrig'/);
  });

  it('refuses an interval under 5 s under LIM with status 1, said at fatal and to complain; a test interval is used and warned of', () => {
    const refused = said();
    const complained: string[] = [];
    assert.deepEqual(reportSchedule({ resource: 'rank', typed_ranks: false, interval: 2 }, {}, undefined, false, refused.log as never, (t) => void complained.push(t)), { ok: false, code: 1 });
    assert.match(refused.lines.join('\n'), /^fatal: interval 2 s is under 5 s/);
    assert.match(complained.join('\n'), /^lavarank: interval 2 s is under 5 s/);
    const fast = said();
    assert.deepEqual(reportSchedule({ resource: 'rank', typed_ranks: false, interval: 2 }, {}, 0.3, false, fast.log as never, () => undefined), { ok: true, intervalMs: 300 });
    assert.deepEqual(fast.lines, ['warn: test interval in use: not for LIM, which reads one report per 5 s']);
  });
});

describe('lsfAbortCode', () => {
  const NAMES = ['rank', TRIGGER_RESOURCE];
  it('does nothing under OpenLava, which never sets ELIM_ABORT_VALUE', () => {
    assert.equal(lsfAbortCode(NAMES, { LSF_RESOURCES: 'gpu ' }), undefined);
  });
  it('does nothing under LSF when LSF_RESOURCES names the resource', () => {
    assert.equal(lsfAbortCode(NAMES, { ELIM_ABORT_VALUE: '97', LSF_RESOURCES: 'gpu rank ' }), undefined);
  });
  it('does nothing under LSF when LSF_RESOURCES names only the trigger, as LIM builds it from the ResourceMap that maps elimtrig and not rank', () => {
    assert.equal(lsfAbortCode(NAMES, { ELIM_ABORT_VALUE: '97', LSF_RESOURCES: 'elimtrig ' }), undefined);
  });
  it('does nothing under LSF when LSF_RESOURCES is empty or unset, as the checking header in IBM\'s pages does', () => {
    assert.equal(lsfAbortCode(NAMES, { ELIM_ABORT_VALUE: '97', LSF_RESOURCES: ' ' }), undefined);
    assert.equal(lsfAbortCode(NAMES, { ELIM_ABORT_VALUE: '97' }), undefined);
  });
  it('gives ELIM_ABORT_VALUE under LSF when LSF_RESOURCES names none of the names', () => {
    const r = lsfAbortCode(NAMES, { ELIM_ABORT_VALUE: '97', LSF_RESOURCES: 'ranking gpu ' });
    assert.equal(r?.code, 97);
    assert.match(r?.why ?? '', /names none of 'rank', 'elimtrig'/);
  });
  it('ignores an ELIM_ABORT_VALUE that is not an exit status', () => {
    // 256 would exit 0 and -1 exit 255: not the value MELIM was told.
    for (const value of ['x', '256', '-1', '9.5']) assert.equal(lsfAbortCode(NAMES, { ELIM_ABORT_VALUE: value, LSF_RESOURCES: 'gpu ' }), undefined, value);
    assert.equal(lsfAbortCode(NAMES, { ELIM_ABORT_VALUE: '255', LSF_RESOURCES: 'gpu ' })?.code, 255);
    assert.equal(lsfAbortCode(NAMES, { ELIM_ABORT_VALUE: '0', LSF_RESOURCES: 'gpu ' })?.code, 0);
  });
  it('names as the trigger the resource the shipped lsf.cluster snippet maps', () => {
    const snippet = readFileSync(join(repoRoot, 'openlava-conf', 'lsf.cluster'), 'utf8');
    const mapped = snippet.split('\n').filter((l) => /^\s*\w+\s+\(\[/.test(l)).map((l) => l.trim().split(/\s+/)[0]);
    assert.deepEqual(mapped, [TRIGGER_RESOURCE]);
  });
});

describe('sampleDeadlineMs', () => {
  it('takes sample_deadline when set, with or without a test interval', () => {
    assert.equal(sampleDeadlineMs(2, 10_000, false), 2000);
    assert.equal(sampleDeadlineMs(0.001, 300, true), 1);
  });
  it('is half the interval without it, and at least 5 s under a test interval', () => {
    assert.equal(sampleDeadlineMs(null, 10_000, false), 5000);
    assert.equal(sampleDeadlineMs(null, 300, true), 5000);
    assert.equal(sampleDeadlineMs(null, 20_000, true), 10_000);
  });
});

describe('loopSettings (the report loop\'s settings, a stage of the start)', () => {
  it('opens the first report\'s window at half a second, or the whole interval where that is shorter', () => {
    const config = { ...defaultConfig(), resource: 'load_rank', typed_ranks: true, pessimistic_after: 5, pessimistic_rank: 900, sample_deadline: null };
    assert.deepEqual(loopSettings(config, 10_000, false), { resource: 'load_rank', typedRanks: true, intervalMs: 10_000, firstReportMs: 500, deadlineMs: 5000, pessimisticAfter: 5, pessimisticRank: 900 });
    assert.deepEqual(loopSettings(config, 300, true), { resource: 'load_rank', typedRanks: true, intervalMs: 300, firstReportMs: 300, deadlineMs: 5000, pessimisticAfter: 5, pessimisticRank: 900 });
  });

  it('takes sample_deadline as the deadline under a test interval too', () => {
    assert.equal(loopSettings({ ...defaultConfig(), sample_deadline: 2 }, 300, true).deadlineMs, 2000);
  });
});

describe('readEnvironment (the start\'s first stage)', () => {
  const step = { step: <T>(_what: string, work: Promise<T>): Promise<T> => work };
  it('takes LSF_LOGDIR from $LSF_ENVDIR/lsf.conf and finds $LSF_ENVDIR/lavarank.yaml', async () => {
    const { dir, cleanup } = tempDir();
    try {
      writeFileSync(join(dir, 'lsf.conf'), 'LSF_LOGDIR=/var/log/openlava\n', { mode: 0o644 });
      writeFileSync(join(dir, 'lavarank.yaml'), 'interval: 10\n', { mode: 0o644 });
      const found = await readEnvironment(undefined, { LSF_ENVDIR: dir }, step);
      assert.equal(found.env['LSF_LOGDIR'], '/var/log/openlava');
      assert.equal(found.logdirFrom, join(dir, 'lsf.conf'));
      assert.equal(found.confRefusal, undefined);
      assert.deepEqual(found.source, { path: join(dir, 'lavarank.yaml'), why: '$LSF_ENVDIR/lavarank.yaml' });
    } finally {
      cleanup();
    }
  });
  it('makes a relative --config absolute, from the directory LIM ran the elim in, and leaves an empty one empty', async () => {
    const env = { LSF_LOGDIR: '/var/log/openlava' };
    assert.deepEqual((await readEnvironment('conf/lavarank.yaml', env, step)).source, { path: join(process.cwd(), 'conf/lavarank.yaml'), why: '--config' });
    assert.deepEqual((await readEnvironment('', env, step)).source, { path: '', why: '--config' });
  });
});

describe('announceStart (the start\'s first log lines)', () => {
  it('logs the config and why it was chosen, the refusal of lsf.conf, and an LSF_ENVDIR that does not exist', async () => {
    const lines: Array<Record<string, unknown>> = [];
    const log = pino({}, { write: (l: string) => void lines.push(JSON.parse(l) as Record<string, unknown>) });
    await announceStart(log, { parent: 4242, env: { LSF_ENVDIR: '/nonexistent/etc', LSF_RESOURCES: 'elimtrig' }, source: { path: '/etc/lavarank.yaml', why: '--config' }, confRefusal: 'lsf.conf refused: writable by others' });
    const [first, ...rest] = lines;
    assert.equal(first?.['msg'], 'lavarank starting');
    assert.equal(first?.['parent'], 4242);
    assert.equal(first?.['config'], '/etc/lavarank.yaml');
    assert.equal(first?.['configWhy'], '--config');
    assert.equal(first?.['lsfResources'], 'elimtrig');
    const warnings = rest.filter((l) => l['level'] === 40).map((l) => String(l['msg']));
    assert.ok(warnings.includes('lsf.conf refused: writable by others'), warnings.join('\n'));
    assert.ok(warnings.some((w) => w.includes('/nonexistent/etc')), warnings.join('\n'));
  });
});

describe('readConfig (the start\'s config stage)', () => {
  const step = { step: <T>(_what: string, work: Promise<T>): Promise<T> => work };
  it('refuses a bad command line with status 2, before it reads any config', async () => {
    const read = await readConfig({ commandLineProblem: 'unknown option --foo' }, { path: '/nonexistent/lavarank.yaml', why: '--config' }, {}, step);
    assert.deepEqual(read, { ok: false, what: 'invalid command line', problems: ['unknown option --foo'], code: 2 });
  });
  it('gives a config file\'s problems, each naming its key, with status 1', async () => {
    const { dir, cleanup } = tempDir();
    try {
      const path = join(dir, 'lavarank.yaml');
      writeFileSync(path, 'interval: 10\nintervall: 20\n', { mode: 0o644 });
      const read = await readConfig({}, { path, why: '--config' }, {}, step);
      assert.equal(read.ok, false);
      assert.ok(!read.ok);
      assert.equal(read.what, 'invalid configuration');
      assert.equal(read.code, 1);
      assert.match(read.problems.join('\n'), /intervall/);
    } finally {
      cleanup();
    }
  });
  it('gives the config and the test interval $LAVARANK_TEST_INTERVAL sets, or status 2 for one out of range', async () => {
    const defaults = { path: null, why: 'built-in defaults' };
    const read = await readConfig({}, defaults, { LAVARANK_TEST_INTERVAL: '0.5' }, step);
    assert.ok(read.ok);
    assert.equal(read.config.interval, 10);
    assert.equal(read.fastInterval, 0.5);
    const bad = await readConfig({ testInterval: '0' }, defaults, {}, step);
    assert.ok(!bad.ok);
    assert.equal(bad.code, 2);
    assert.match(bad.problems[0] ?? '', /--test-interval/);
  });
});

describe('insideItself', () => {
  it('refuses to run as one of lavarank\'s own child elims, naming its parent and what to remove', () => {
    assert.match(insideItself({ [PARENT_ENV]: '4242' }) ?? '', /started by lavarank \(pid 4242\) as a child elim .*remove lavarank from elims:/);
  });
  it('runs when lavarank did not start it, the variable unset or empty', () => {
    assert.equal(insideItself({}), undefined);
    assert.equal(insideItself({ [PARENT_ENV]: '' }), undefined);
  });
});

describe('handRunNote (what a run by hand is told)', () => {
  it('tells a run without LIM\'s variables that its samples join the host\'s history, and how to test without', () => {
    assert.match(handRunNote({}, true) ?? '', /^not started by LIM \(neither LSF_RESOURCES nor LS_ELIM_RESOURCES is set\): a run by hand; its samples go into this host's history .*--no-history/);
  });
  it('says nothing to a run by hand with history off (--no-history, as the README\'s hand run)', () => {
    assert.equal(handRunNote({ PATH: '/usr/bin' }, false), undefined);
  });
  it('says nothing where LIM (or MELIM) started it: either variable set, even empty', () => {
    for (const env of [{ LSF_RESOURCES: 'rank ' }, { LS_ELIM_RESOURCES: 'r15s rank ' }, { LSF_RESOURCES: '' }]) assert.equal(handRunNote(env, true), undefined, JSON.stringify(env));
  });
});

describe('reportInterval (the start\'s interval stage)', () => {
  it('takes the test interval over the config\'s, even one under the minimum LIM reads at', () => {
    assert.deepEqual(reportInterval(10, 0.2, false), { ok: true, intervalMs: 200 });
  });
  it('refuses, under LIM, a config interval under the 5 s at which LIM reads, and says what to set', () => {
    const r = reportInterval(2, undefined, false);
    assert.ok(!r.ok);
    assert.match(r.why, /interval 2 s is under 5 s.*set interval to 10/);
  });
  it('runs a short config interval on a terminal, and the configured one otherwise', () => {
    assert.deepEqual(reportInterval(2, undefined, true), { ok: true, intervalMs: 2000 });
    assert.deepEqual(reportInterval(15, undefined, false), { ok: true, intervalMs: 15_000 });
  });
});

describe('countReport and summaryFields (the hourly summary)', () => {
  it('counts reports by state, those LIM did not read, and the rank\'s min, mean and max', () => {
    const summary = emptySummary();
    countReport(summary, { state: 'ok', outcome: 'written', rank: 1 });
    countReport(summary, { state: 'ok', outcome: 'replaced', rank: 3 });
    countReport(summary, { state: 'pessimistic', outcome: 'dropped', rank: 8 });
    assert.deepEqual(summaryFields(summary), { ticks: 3, states: { ok: 2, pessimistic: 1 }, unread: 2, rank: { min: 1, mean: 4, max: 8 } });
  });
});

describe('openWriters (the start\'s history and metrics stage)', () => {
  const tick = (seq: number, state: Tick['state'] = 'ok'): Tick => ({ seq, ts: 1000 * seq, rank: seq, state, outcome: 'written', line: `1 rank ${seq}\n`, result: { rank: seq, model: 'formula' }, durationMs: 1 });
  it('writes the records of good reports held since the last batch at the stop, and none of the others', async () => {
    const { dir, cleanup } = tempDir();
    try {
      const config = defaultConfig();
      config.history.dir = dir;
      const writers = openWriters(config, { noHistory: false, host: 'n1', env: {}, log: pino({ level: 'silent' }) });
      writers.report(tick(1), () => ({}));
      writers.report(tick(2, 'held'), () => ({}));
      writers.report(tick(3), () => ({}));
      await writers.settle(systemClock);
      const lines = readFileSync(join(dir, 'n1.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { ts: number; host: string; rank: number });
      assert.deepEqual(lines.map((r) => [r.ts, r.host, r.rank]), [[1000, 'n1', 1], [3000, 'n1', 3]]);
    } finally {
      cleanup();
    }
  });
  it('under --no-history makes no file, keeps no record, and says so in the log', async () => {
    const { dir, cleanup } = tempDir();
    try {
      const config = defaultConfig();
      config.history.dir = dir;
      const lines: string[] = [];
      const writers = openWriters(config, { noHistory: true, host: 'n1', env: {}, log: pino({}, { write: (l: string) => void lines.push(l) }) });
      writers.report(tick(1), () => ({}));
      assert.deepEqual(writers.lastWrites(), [undefined, undefined]);
      await writers.settle(systemClock);
      assert.deepEqual(readdirSync(dir), []);
      assert.match(lines.join(''), /history off \(--no-history\)/);
    } finally {
      cleanup();
    }
  });
});

describe('noPsiWarning (the first report\'s word on PSI)', () => {
  it('names the pressure directory of a kernel without PSI, and says how to turn it on', () => {
    assert.match(noPsiWarning({ failures: {} }, '/host/proc') ?? '', /^no PSI \(\/host\/proc\/pressure missing or off\).*boot with psi=1$/);
  });
  it('says nothing where PSI was read, where its read failed, or where there was no sample', () => {
    assert.equal(noPsiWarning({ pressure: {} as never, failures: {} }, '/proc'), undefined);
    assert.equal(noPsiWarning({ failures: { pressure: 'EIO' } }, '/proc'), undefined);
    assert.equal(noPsiWarning(undefined, '/proc'), undefined);
  });
});

describe('elimPriority (the nice the elim runs at)', () => {
  const recorder = (results: Array<{ before: number; after: number; errors?: string[] }>) => {
    const asked: number[] = [];
    const renice = (nice: number) => {
      asked.push(nice);
      const r = results.shift() ?? { before: 0, after: 0 };
      return { before: r.before, after: r.after, threads: 7, errors: r.errors ?? [] };
    };
    return { asked, renice };
  };
  it('puts back, for a stop, the nice that lowering found, and says so', () => {
    const lines: string[] = [];
    const { asked, renice } = recorder([{ before: -20, after: 10 }, { before: 10, after: -20 }]);
    const priority = elimPriority(10, pino({}, { write: (l: string) => void lines.push(l) }), renice, () => -20);
    priority.back();
    assert.deepEqual(asked, [], 'nothing to put back before the priority was lowered');
    priority.lower();
    priority.back();
    assert.deepEqual(asked, [10, -20]);
    assert.match(lines.join(''), /nice changed from -20 to 10.*nice changed back from 10 to -20 to stop in time/s);
  });
  it('leaves alone a priority that lowering did not lower, and warns of threads it could not change', () => {
    const lines: string[] = [];
    const { asked, renice } = recorder([{ before: 0, after: 0, errors: ['thread 12: EPERM'] }]);
    const priority = elimPriority(10, pino({}, { write: (l: string) => void lines.push(l) }), renice, () => 0);
    priority.lower();
    priority.back();
    assert.deepEqual(asked, [10]);
    assert.match(lines.join(''), /"level":40.*EPERM.*could not set nice 10 on every thread/);
  });
  it('never raises the priority LIM gave: started at nice 19 (or at 10), it stays there and says so', () => {
    for (const started of [19, 10]) {
      const lines: string[] = [];
      const { asked, renice } = recorder([]);
      const priority = elimPriority(10, pino({}, { write: (l: string) => void lines.push(l) }), renice, () => started);
      priority.lower();
      priority.back();
      assert.deepEqual(asked, [], `started at ${started}`);
      assert.match(lines.join(''), new RegExp(`nice stays at ${started}, the one LIM gave`));
      // At the configured nice itself, nothing would be raised: the line must not say so.
      assert.equal(/would raise/.test(lines.join('')), started > 10, `started at ${started}: ${lines.join('')}`);
    }
  });
});

describe('settleStop (the stop\'s last stage)', () => {
  it('closes the collectors, settles the writers on the clock given, and waits for the child elims and the inventory', async () => {
    const done: string[] = [];
    const clock = new FakeClock();
    await settleStop({
      sampler: { close: () => void done.push('sampler') },
      children: { close: () => Promise.resolve(done.push('children')) },
      inventory: Promise.reject(new Error('inventory failed')),
      writers: {
        settle: (c) => {
          done.push(c === clock ? 'writers' : 'writers, another clock');
          return Promise.resolve();
        },
      },
      clock,
    });
    assert.deepEqual(done, ['sampler', 'children', 'writers']);
  });
  it('is not held by a child elim that never ends, past its 1.5 s', async () => {
    const clock = new FakeClock();
    const before = clock.monotonic();
    await settleStop({ sampler: { close: () => {} }, children: { close: () => new Promise(() => {}) }, inventory: undefined, writers: undefined, clock });
    assert.equal(clock.monotonic() - before, 1500);
  });
});

describe('hourlySummary', () => {
  it('logs one summary line per hour of reports, with the figures asked for then, and starts counting again', () => {
    const logged: Array<[Record<string, unknown>, string]> = [];
    let asked = 0;
    const summarize = hourlySummary(1_200_000, { info: (fields: object, msg: string) => void logged.push([fields as Record<string, unknown>, msg]) } as never, () => ({ asked: ++asked }));
    summarize({ state: 'ok', outcome: 'written', rank: 2 });
    summarize({ state: 'ok', outcome: 'written', rank: 4 });
    assert.equal(logged.length, 0);
    summarize({ state: 'held', outcome: 'dropped', rank: 6 });
    assert.deepEqual(logged, [[{ ticks: 3, states: { ok: 2, held: 1 }, unread: 1, rank: { min: 2, mean: 4, max: 6 }, asked: 1 }, 'summary']]);
    for (let i = 0; i < 3; i++) summarize({ state: 'ok', outcome: 'written', rank: 1 });
    assert.equal(logged.length, 2);
    assert.deepEqual(logged[1]?.[0]['rank'], { min: 1, mean: 1, max: 1 });
  });
});

describe('readTextNames (the start\'s lsf.shared stage)', () => {
  it('gives the String resources read, says which in the log, and tells when the read has returned', async () => {
    const lines: string[] = [];
    let answer: (v: { names: Set<string> }) => void = () => {};
    const text = readTextNames({}, pino({}, { write: (l: string) => void lines.push(l) }), () => new Promise((resolve) => (answer = resolve)));
    assert.equal(text.isRead(), false);
    answer({ names: new Set(['os_state']) });
    assert.deepEqual(await text.names, new Set(['os_state']));
    assert.equal(text.isRead(), true);
    assert.match(lines.join(''), /os_state.*passed on as text/);
  });
  it('gives no names for a read that failed, and warns that the child elims\' String resources are dropped', async () => {
    const lines: string[] = [];
    const text = readTextNames({}, pino({}, { write: (l: string) => void lines.push(l) }), () => Promise.reject(new Error('EIO')));
    assert.deepEqual(await text.names, new Set());
    assert.equal(text.isRead(), true);
    assert.match(lines.join(''), /"level":40.*EIO.*String resources are dropped/);
  });
});

describe('startChildrenOnceRead (the first report\'s child elims)', () => {
  const textNames = (): { names: Promise<ReadonlySet<string>>; isRead: () => boolean; answer: (names: Set<string>) => void } => {
    let answer: (names: Set<string>) => void = () => {};
    let read = false;
    const names = new Promise<ReadonlySet<string>>((resolve) => (answer = (n) => { read = true; resolve(n); }));
    return { names, isRead: () => read, answer };
  };
  const children = { kill: () => {}, groups: () => [], close: async () => undefined };

  it('starts the child elims with the String resources once lsf.shared is read, saying that the read is still out', async () => {
    const lines: string[] = [];
    const text = textNames();
    const stopper: { stopping: string | undefined; children: typeof children | undefined } = { stopping: undefined, children: undefined };
    const given: Array<ReadonlySet<string>> = [];
    startChildrenOnceRead(text, stopper, { warn: (m: string) => void lines.push(m) } as never, (names) => (given.push(names), children));
    assert.equal(stopper.children, undefined);
    assert.match(lines.join(''), /the child elims wait for lsf\.shared/);
    text.answer(new Set(['os_state']));
    await text.names;
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(stopper.children, children);
    assert.deepEqual(given, [new Set(['os_state'])]);
  });

  it('starts none once the elim is stopping when the read returns, and says nothing of a read that has returned', async () => {
    const lines: string[] = [];
    const text = textNames();
    text.answer(new Set());
    const stopper: { stopping: string | undefined; children: typeof children | undefined } = { stopping: undefined, children: undefined };
    let started = 0;
    startChildrenOnceRead(text, stopper, { warn: (m: string) => void lines.push(m) } as never, () => (started++, children));
    stopper.stopping = 'SIGTERM';
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(started, 0);
    assert.equal(stopper.children, undefined);
    assert.deepEqual(lines, []);
  });
});

describe('parentCheck (LIM watched at each report)', () => {
  it('stops the elim once its parent is no longer LIM, naming LIM\'s pid, and only once', () => {
    let ppid = 4242;
    const stops: string[] = [];
    const stopper = { stopping: undefined as string | undefined, stop: (why: string) => { stops.push(why); stopper.stopping = why; } };
    const check = parentCheck(4242, stopper, () => ppid);
    check();
    assert.deepEqual(stops, []);
    ppid = 1;
    check();
    check();
    assert.deepEqual(stops, ['parent process 4242 is gone (LIM killed?)']);
  });
  it('leaves a stop under way alone', () => {
    const stops: string[] = [];
    parentCheck(4242, { stopping: 'SIGTERM', stop: (why) => void stops.push(why) }, () => 1)();
    assert.deepEqual(stops, []);
  });
});

describe('afterFirstReport (the first report\'s work)', () => {
  const run = (stopping: boolean, sample?: { failures: Record<string, string> }) => {
    const done: string[] = [];
    const lines: string[] = [];
    const log = { info: (_: unknown, m: string) => void lines.push(`info ${m}`), warn: (m: string) => void lines.push(`warn ${m}`) };
    const inventory = afterFirstReport(
      { line: '1 rank 3.5\n', state: 'ok', ...(sample === undefined ? {} : { sample: sample as never }) },
      {
        log: log as never,
        stopping,
        procRoot: '/proc',
        checkInstallation: () => void done.push('installation'),
        lowerPriority: () => void done.push('priority'),
        inventory: () => (done.push('inventory'), Promise.resolve()),
      },
    );
    return { done, lines, inventory };
  };

  it('checks the installation, lowers the priority and gathers the inventory, returning it for the stop', async () => {
    const { done, lines, inventory } = run(false, { failures: {} });
    assert.deepEqual(done, ['installation', 'priority', 'inventory']);
    assert.ok(inventory instanceof Promise);
    assert.equal(lines[0], 'info first report written');
    assert.match(lines[1] ?? '', /^warn no PSI/);
  });

  it('once stopping starts none of them, and still logs the report', () => {
    const { done, lines, inventory } = run(true);
    assert.deepEqual(done, []);
    assert.equal(inventory, undefined);
    assert.deepEqual(lines, ['info first report written']);
  });
});

describe('gatherInventory', () => {
  const logged = () => {
    const lines: string[] = [];
    const log = { info: (a: unknown, m?: string) => void lines.push(`info ${m ?? String(a)}`), warn: (_: unknown, m: string) => void lines.push(`warn ${m}`) };
    return { lines, log: log as never };
  };

  it('logs the inventory gathered, with or without the GPUs as asked', async () => {
    const { lines, log } = logged();
    const asked: boolean[] = [];
    await gatherInventory(false, new AbortController().signal, log, async (gpus) => (asked.push(gpus), { cpus: 2 }));
    assert.deepEqual(asked, [false]);
    assert.deepEqual(lines, ['info host inventory']);
  });

  it('warns of a failure, but only says the inventory was not gathered when the elim\'s stop ended it', async () => {
    const failing = async (): Promise<unknown> => {
      throw new Error('killed');
    };
    const running = logged();
    await gatherInventory(true, new AbortController().signal, running.log, failing);
    assert.deepEqual(running.lines, ['warn host inventory failed']);
    const stopped = logged();
    await gatherInventory(true, AbortSignal.abort(), stopped.log, failing);
    assert.deepEqual(stopped.lines, ['info host inventory not gathered: the elim is stopping']);
  });
});

describe('inventorySource (where the host inventory comes from)', () => {
  it('reads this host in process with gpu.enabled false, and asks `lavarank inventory` otherwise', async () => {
    const local = inventorySource({ gpu: { enabled: false } as never, proc_root: '/proc', sys_root: '/sys' });
    assert.notEqual(local, hostInventory);
    const inv = (await local(false, new AbortController().signal)) as { cpu: { cores: number } | null; gpus: unknown };
    assert.equal(inv.cpu?.cores, cpus().length);
    assert.equal(inv.gpus, null);
    assert.equal(inventorySource({ gpu: { enabled: true } as never, proc_root: '/proc', sys_root: '/sys' }), hostInventory);
  });

  it('with gpu.enabled auto, reads the host in process where no NVIDIA display controller is on the PCI bus, and asks `lavarank inventory` where one is', async () => {
    const none = pciBus([['0x8086', '0x060000'], ['0x1a03', '0x030000']]);
    const nvidia = pciBus([['0x10de', '0x030200']]);
    try {
      const asked: boolean[] = [];
      const outOfProcess = async (gpus: boolean): Promise<unknown> => (asked.push(gpus), { from: 'lavarank inventory' });
      const local = (await inventorySource({ gpu: { enabled: 'auto' } as never, proc_root: '/proc', sys_root: none }, outOfProcess)(true, new AbortController().signal)) as { cpu: { cores: number } | null; gpus: unknown; errors: Record<string, string> };
      assert.deepEqual(asked, []);
      assert.equal(local.cpu?.cores, cpus().length);
      assert.equal(local.gpus, null);
      assert.equal(local.errors['gpus'], `not gathered: no NVIDIA display controller in ${join(none, 'bus/pci/devices')} (gpu.enabled is auto)`);
      assert.deepEqual(await inventorySource({ gpu: { enabled: 'auto' } as never, proc_root: '/proc', sys_root: nvidia }, outOfProcess)(true, new AbortController().signal), { from: 'lavarank inventory' });
      // A bus that cannot be read says nothing: the GPUs are looked for as before.
      assert.deepEqual(await inventorySource({ gpu: { enabled: 'auto' } as never, proc_root: '/proc', sys_root: join(none, 'missing') }, outOfProcess)(true, new AbortController().signal), { from: 'lavarank inventory' });
      assert.deepEqual(asked, [true, true]);
    } finally {
      rmSync(none, { recursive: true, force: true });
      rmSync(nvidia, { recursive: true, force: true });
    }
  });
});

describe('chooseHistoryDir', () => {
  it('uses $LSF_LOGDIR when set, else /var/lib/lavarank/history', async () => {
    // root may write there (a user running the tests may not: /opt is root's)
    assert.equal((await chooseHistoryDir({ LSF_LOGDIR: '/opt/lsf/log' }, () => true, historyDirectoryProblems, () => undefined)).dir, '/opt/lsf/log/lavarank-history');
    assert.equal((await chooseHistoryDir({})).dir, '/var/lib/lavarank/history');
  });

  it('passes over an $LSF_LOGDIR others can change for /var/lib, and says why', async () => {
    const choice = await chooseHistoryDir({ LSF_LOGDIR: '/opt/lsf/log' }, () => true, (dir) => (dir === '/opt/lsf/log/lavarank-history' ? ['directory /opt/lsf/log is owned by uid 500'] : []));
    assert.deepEqual(choice, { dir: '/var/lib/lavarank/history', skipped: '/opt/lsf/log/lavarank-history: directory /opt/lsf/log is owned by uid 500' });
  });

  it('does not use an $LSF_LOGDIR that does not exist, since lavarank never creates it', async () => {
    assert.equal((await chooseHistoryDir({ LSF_LOGDIR: '/nonexistent/lsf/log' })).dir, '/var/lib/lavarank/history');
  });
});

describe('lavarank run --config', () => {
  it("says an empty --config names no file, rather than refuse the directory LIM left it in as the config", () => {
    // Under LIM the elim starts in /tmp, and '' resolved there read "config file /tmp is not a regular file".
    const { dir, cleanup } = tempDir('lavarank-emptyconfig-');
    try {
      mkdirSync(join(dir, 'log'));
      const r = spawnSync(process.execPath, [cliPath, 'run', '--config', ''], { cwd: dir, encoding: 'utf8', timeout: 20_000, env: { PATH: process.env['PATH'], LSF_LOGDIR: join(dir, 'log'), ...tokenEnv() } });
      assert.equal(r.status, 1);
      assert.match(r.stderr, /--config names no config file: expected a file name, received an empty string/);
      assert.doesNotMatch(r.stderr, new RegExp(`config file ${dir}`));
    } finally {
      cleanup();
    }
  });
});

// The files under dir that the process holds open now.
function openFilesUnder(pid: number, dir: string): string[] {
  const out: string[] = [];
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      const target = readlinkSync(`/proc/${pid}/fd/${fd}`);
      if (target.startsWith(`${dir}/`)) out.push(target);
    } catch {
      // closed meanwhile
    }
  }
  return out.sort();
}

describe('lavarank run --test-keep-open', () => {
  it('keeps every file of a generated root open between reports, and says so in the log', async (t) => {
    const dir = testDir(t, 'lavarank-keep-');
    const roots = generateBigNode(join(dir, 'node'), { cpus: 4, disks: 2, partitions: 1, loops: 0, nics: 1 });
    const config = `proc_root: ${roots.procRoot}\nsys_root: ${roots.sysRoot}\n`;
    const kept = startElim({ testInterval: 0.2, config, args: ['--test-keep-open'] });
    const plain = startElim({ testInterval: 0.2, config });
    try {
      await Promise.all([kept.waitForReports(3, 20_000), plain.waitForReports(3, 20_000)]);
      const files = openFilesUnder(kept.pid, dir);
      for (const f of ['proc/stat', 'proc/diskstats', 'proc/meminfo', 'proc/vmstat', 'proc/loadavg', 'proc/net/dev', 'sys/devices/system/cpu/online', 'sys/class/net/ens0f0/speed']) {
        assert.ok(files.includes(join(dir, 'node', f)), `${f} is not held open: ${files.join(', ')}`);
      }
      // Without the flag, a plain directory's files are opened for each read and closed after it.
      assert.deepEqual(openFilesUnder(plain.pid, dir), []);
      await kept.waitForLog((l) => String(l['msg']).startsWith('test keep-open in use'));
      assert.equal(plain.log().find((l) => String(l['msg']).startsWith('test keep-open')), undefined);
    } finally {
      await Promise.all([kept.cleanup(), plain.cleanup()]);
    }
  });
});

// The start-up deadline guards the start alone: once the first report is out it must be
// cleared, or every elim would end itself that long after each start, and LIM restart it.
describe('lavarank run --test-startup-deadline', () => {
  it('a start that writes its first report goes on reporting past the start-up deadline, and stops normally', async () => {
    const elim = startElim({ testInterval: 0.25, args: ['--test-startup-deadline', '10'] });
    try {
      // A report 13 s after the spawn is past the 10 s counted from the daemon's start, which
      // comes after Node has loaded the program; 10 s leaves a loaded machine its first report.
      let exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
      void elim.exited.then((e) => (exit = e));
      const late = await until('a report 13 s after the start, or the exit', () => elim.reports().find((r) => r.at > 13_000) ?? (exit === undefined ? undefined : null), 30_000);
      assert.notEqual(late, null, `exited (${exit?.code ?? exit?.signal}) before its report 13 s after the start`);
      assert.equal(elim.log().find((l) => String(l['msg']).startsWith('start-up did not finish')), undefined);
      process.kill(elim.pid, 'SIGTERM');
      assert.deepEqual(await elim.exited.then((e) => [e.code, e.signal]), [0, null]);
    } finally {
      await elim.cleanup();
    }
  });
});

// The first pessimistic-rank record of an elim's log.
function pessimisticRecord(elim: ReturnType<typeof startElim>): Promise<Record<string, unknown>> {
  return elim.waitForLog((l) => String(l['msg']).startsWith('reporting the pessimistic rank'), 10_000);
}

describe('the running elim does what its config says', { concurrency: false }, () => {
  it('sample_deadline: a sample that takes longer than it counts as failed, under a test interval too', async () => {
    // 1 µs: no sample of the real /proc is that quick, so every one fails.
    const elim = startElim({ testInterval: 0.2, config: 'sample_deadline: 0.000001\n' });
    try {
      const reports = await elim.waitForReports(3);
      assert.deepEqual(reports.slice(0, 3).map((r) => r.line), ['1 rank 1000', '1 rank 1000', '1 rank 1000']);
      assert.match(String((await pessimisticRecord(elim))['reason']), /over its deadline of 0\.001 ms/);
    } finally {
      await elim.cleanup();
    }
  });

  it('resource and typed_ranks: the report names the configured resource and its three typed ranks', async () => {
    const elim = startElim({ testInterval: 0.2, config: 'resource: load2\ntyped_ranks: true\n' });
    try {
      const [first] = await elim.waitForReports(1);
      assert.match(first!.line, /^4 load2 \S+ load2_cpu \S+ load2_mem \S+ load2_io \S+$/);
    } finally {
      await elim.cleanup();
    }
  });

  it('started at nice 19 (a LIM its administrator niced), every thread stays at 19: the configured 10 is no reason to raise it', { skip: process.getuid?.() !== 0 ? 'needs root for nice -20' : false }, async () => {
    const elim = startElim({ testInterval: 0.3, nice: 19 });
    try {
      await elim.waitForLog((l) => String(l['msg']).startsWith('nice stays at 19')); // after the first report
      const nice = threadNice(elim.pid);
      assert.ok(nice.length > 1);
      assert.deepEqual(new Set(nice), new Set([19]), `thread nice values: ${nice.join(', ')}`);
    } finally {
      await elim.cleanup();
    }
  });

  it('run by hand (neither LSF_RESOURCES nor LS_ELIM_RESOURCES set) it says so in its log, and reports as under LIM', async () => {
    const elim = startElim({ testInterval: 0.3, env: { LSF_RESOURCES: undefined, LSF_MASTER: undefined } });
    try {
      await elim.waitForReports(2);
      await elim.waitForLog((l) => String(l['msg']).startsWith('not started by LIM (neither LSF_RESOURCES nor LS_ELIM_RESOURCES is set): a run by hand; its samples go into'));
    } finally {
      await elim.cleanup();
    }
  });

  it('nice: every thread runs at the configured nice value', { skip: process.getuid?.() !== 0 ? 'needs root for nice -20' : false }, async () => {
    const elim = startElim({ testInterval: 0.3, config: 'nice: 5\n' });
    try {
      await elim.waitForLog((l) => l['msg'] === 'nice changed from -20 to 5'); // after the first report
      assert.deepEqual(new Set(threadNice(elim.pid)), new Set([5]));
    } finally {
      await elim.cleanup();
    }
  });

  it('pessimistic_after and pessimistic_rank: the last good rank is held for pessimistic_after - 1 failed samples, then the configured rank is reported', async (t) => {
    const dir = testDir(t, 'lavarank-pessimistic-');
    const host = new SyntheticHost(join(dir, 'host'));
    const elim = startElim({ testInterval: 0.1, config: `proc_root: ${host.procRoot}\nsys_root: ${host.sysRoot}\npessimistic_after: 5\npessimistic_rank: 777\n` });
    try {
      await elim.waitForReports(3);
      host.break('proc/stat', FAULTS.find((f) => f.name === 'missing')!);
      const record = await pessimisticRecord(elim);
      assert.equal(record['failedTicks'], 5);
      assert.equal(record['msg'], 'reporting the pessimistic rank 777 until sampling recovers');
      await until('a report of rank 777', () => (elim.reports().some((r) => r.line === '1 rank 777') ? true : undefined));
    } finally {
      await elim.cleanup();
    }
  });

  it('log.level: records below the level are left out of the log', async () => {
    const elim = startElim({ testInterval: 0.2, override: { log: { level: 'warn' } } });
    try {
      await elim.waitForReports(2);
      await elim.waitForLog((l) => String(l['msg']).startsWith('test interval in use'));
      assert.deepEqual(elim.log().filter((l) => l['level'] !== 'warn' && l['level'] !== 'error' && l['level'] !== 'fatal'), []);
    } finally {
      await elim.cleanup();
    }
  });

  const historyOff: Array<[string, StartOptions]> = [
    ['history.enabled: false', { override: { history: { enabled: false } } }],
    ['--no-history', { args: ['--no-history'] }],
  ];
  for (const [what, start] of historyOff) {
    it(`${what}: no history is written, and the log says so`, async () => {
      const elim = startElim({ testInterval: 0.05, ...start });
      try {
        // History is written six records at a time: past the first batch.
        await elim.waitForReports(14);
        await elim.waitForLog((l) => String(l['msg']).startsWith('history off'));
        assert.equal(existsSync(elim.historyDir), false);
      } finally {
        await elim.cleanup();
      }
    });
  }

  it('log and history max_bytes and keep: a file that would grow past max_bytes is rotated, and keep rotated files are kept', async (t) => {
    const dir = testDir(t, 'lavarank-rotate-');
    const logFile = join(dir, 'lavarank.log');
    const history = join(dir, 'history', `${hostname()}.jsonl`);
    // Each file 200 bytes short of 64 KiB, beside a rotated .1 that keep: 1 leaves no room for.
    mkdirSync(join(dir, 'history'));
    for (const path of [logFile, history]) {
      writeFileSync(path, `${'{}\n'.repeat(Math.floor((65536 - 200) / 3))}`, { mode: 0o640 });
      writeFileSync(`${path}.1`, 'the oldest\n', { mode: 0o640 });
    }
    const elim = startElim({
      testInterval: 0.05,
      override: { log: { file: logFile, max_bytes: '64k', keep: 1 }, history: { dir: join(dir, 'history'), max_bytes: '64k', keep: 1 } },
    });
    try {
      for (const path of [logFile, history]) {
        await until(`${path} rotated`, () => (readFileSync(`${path}.1`, 'utf8').startsWith('{}\n') ? true : undefined));
        assert.equal(existsSync(`${path}.2`), false, `${path}.2 kept with keep: 1`);
      }
    } finally {
      await elim.cleanup();
    }
  });
});

// The first n report lines of `lavarank run` started without --config, with only env
// (and PATH) for its environment; ends it with SIGTERM.
async function reportsWithEnv(env: NodeJS.ProcessEnv, n: number, timeoutMs: number): Promise<string[]> {
  const child = spawn(process.execPath, [cliPath, 'run'], { env: { PATH: process.env['PATH'], ...tokenEnv(), ...env }, stdio: ['ignore', 'pipe', 'ignore'] });
  const exited = new Promise((resolve) => child.on('exit', resolve));
  try {
    return await new Promise<string[]>((resolve, reject) => {
      let text = '';
      const timer = setTimeout(() => reject(new Error(`fewer than ${n} reports in ${timeoutMs} ms: ${JSON.stringify(text)}`)), timeoutMs);
      child.stdout.on('data', (chunk: Buffer) => {
        text += chunk.toString();
        const lines = text.split('\n');
        if (lines.length > n) {
          clearTimeout(timer);
          resolve(lines.slice(0, n));
        }
      });
      child.on('exit', (code) => reject(new Error(`exited ${code} after ${JSON.stringify(text)}`)));
    });
  } finally {
    child.kill('SIGTERM');
    await exited;
  }
}

describe('the environment the elim reads', { concurrency: false }, () => {
  it('$LAVARANK_CONFIG, else $LSF_ENVDIR/lavarank.yaml, is the config without --config, and $LAVARANK_TEST_INTERVAL sets the interval', async () => {
    const { dir, cleanup } = tempDir('lavarank-env-');
    try {
      const config = (name: string): string => `resource: ${name}\nlog: {file: ${join(dir, `${name}.log`)}}\nhistory: {enabled: false}\ngpu: {enabled: false}\n`;
      const envdir = join(dir, 'etc');
      mkdirSync(envdir);
      writeFileSync(join(envdir, 'lavarank.yaml'), config('fromenvdir'), { mode: 0o644 });
      writeFileSync(join(dir, 'env.yaml'), config('fromenv'), { mode: 0o644 });
      // Three reports in 15 s: the config's interval, 10 s, would give two (at the start
      // and 10 s later), and 0.2 s gives three once started. 5 s left two daemons
      // starting side by side on a loaded host too little time to start.
      const fast = { LAVARANK_TEST_INTERVAL: '0.2' };
      const [viaEnv, viaEnvdir] = await Promise.all([
        reportsWithEnv({ ...fast, LAVARANK_CONFIG: join(dir, 'env.yaml'), LSF_ENVDIR: envdir }, 3, 15_000),
        reportsWithEnv({ ...fast, LSF_ENVDIR: envdir }, 3, 15_000),
      ]);
      for (const line of viaEnv) assert.match(line, /^1 fromenv \d+(\.\d+)?$/);
      for (const line of viaEnvdir) assert.match(line, /^1 fromenvdir \d+(\.\d+)?$/);
    } finally {
      cleanup();
    }
  });

  it('a $LSF_ENVDIR/lavarank.yaml that links to nothing (its file system not mounted yet) stops the elim, naming it, instead of running on the defaults', async () => {
    const { dir, cleanup } = tempDir('lavarank-env-');
    try {
      const envdir = join(dir, 'etc');
      const logdir = join(dir, 'log');
      mkdirSync(envdir);
      mkdirSync(logdir);
      symlinkSync(join(dir, 'not-mounted', 'lavarank.yaml'), join(envdir, 'lavarank.yaml'));
      const child = spawn(process.execPath, [cliPath, 'run'], {
        env: { PATH: process.env['PATH'], ...tokenEnv(), LSF_ENVDIR: envdir, LSF_LOGDIR: logdir, LAVARANK_TEST_INTERVAL: '0.2' },
        stdio: ['ignore', 'pipe', 'ignore'],
      });
      const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
      // Either it exits, or a report comes first: then it took the defaults.
      const outcome = await Promise.race([exited.then((code) => `exit ${code}`), new Promise<string>((resolve) => child.stdout.once('data', (chunk: Buffer) => resolve(`reported ${JSON.stringify(chunk.toString())}`)))]);
      child.kill('SIGTERM');
      await exited;
      assert.equal(outcome, 'exit 1');
      const fatal = readFileSync(join(logdir, `lavarank.${hostname()}.log`), 'utf8')
        .split('\n')
        .filter((line) => line !== '')
        .map((line) => JSON.parse(line) as Record<string, unknown>)
        .find((line) => line['msg'] === 'cannot start: invalid configuration');
      assert.ok(fatal, 'no fatal line in the log');
      assert.match(String((fatal['problems'] as string[])[0]), new RegExp(`config file ${join(envdir, 'lavarank.yaml')} \\(from \\$LSF_ENVDIR/lavarank.yaml\\) cannot be read: ENOENT`));
    } finally {
      cleanup();
    }
  });
});

describe('logFailingProbed', () => {
  it("asks the log's file system whether it is full at the first metrics write and every sixth after, and says what the appender says", () => {
    let probes = 0;
    let failing = false;
    const appender = {
      probeSpace: () => void (probes += 1),
      get isFailing() {
        return failing;
      },
    } as unknown as RotatingAppender;
    const logFailing = logFailingProbed(() => appender);
    const seen: Array<boolean | undefined> = [];
    for (let i = 0; i < 13; i++) {
      if (i === 7) failing = true;
      seen.push(logFailing());
    }
    assert.equal(probes, 3);
    assert.deepEqual(seen, [false, false, false, false, false, false, false, true, true, true, true, true, true]);
    assert.equal(logFailingProbed(() => undefined)(), undefined, 'no log file: no gauge');
  });
});
