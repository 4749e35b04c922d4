import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, chownSync, closeSync, copyFileSync, mkdirSync, openSync, readFileSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { pino, type Logger } from 'pino';
import {
  BACKOFF_MIN_MS,
  DEFAULT_MAX_AGE_S,
  FLOOD_BYTES,
  STABLE_RUN_MS,
  STOP_GRACE_MS,
  Child,
  beginRun,
  childGroups,
  endRun,
  outputClosed,
  childProgramAsync,
  newWindow,
  readChunk,
  startChildElims,
  type ChildElimSpec,
  type ChildElims,
  type ChildValues,
} from '../../src/daemon/children.js';
import { FakeClock, systemClock, type Clock } from '../../src/util/clock.js';
import type { ResourceValue } from '../../src/lsf/elim-parse.js';
import { ConfigError } from '../../src/util/errors.js';
import type { GroupProcess } from '../../src/util/exec.js';
import { MAX_CHILD_ELIMS } from '../../src/config/config.js';
import { fileDir, stragglers, testDir } from '../helpers.js';

const FIXTURES = fileURLToPath(new URL('../../../test/fixtures/elims/', import.meta.url));

// The fixtures are copied to a private directory with mode 0755, so the trust
// check passes whatever umask the checkout was made with.
const dir = fileDir('lavarank-children-');
before(() => {
  for (const name of readdirSync(FIXTURES)) {
    copyFileSync(join(FIXTURES, name), join(dir, name));
    chmodSync(join(dir, name), 0o755);
  }
});

function elim(name: string, extra: Partial<ChildElimSpec> = {}): ChildElimSpec {
  return { command: [join(dir, name)], ...extra };
}

// The dying fixture, living 1 s rather than 0.3 s: a test that must see each run's value
// (or act during a run) polls for it from a process that a loaded host may leave without
// a CPU for longer than 0.3 s, and would then meet only the death and wait for ever.
function dyingSlowly(extra: Partial<ChildElimSpec> = {}): ChildElimSpec {
  return elim('dying', { command: [join(dir, 'dying'), '1'], ...extra });
}

interface Harness {
  elims: ChildElims;
  lines: Array<Record<string, unknown>>;
  messages(): string[];
}

function start(specs: ChildElimSpec[], options: { clock?: Clock; env?: NodeJS.ProcessEnv; textNames?: ReadonlySet<string> } = {}): Harness {
  const lines: Array<Record<string, unknown>> = [];
  const log: Logger = pino({ level: 'debug' }, { write: (s: string) => void lines.push(JSON.parse(s) as Record<string, unknown>) });
  const elims = startChildElims(specs, {
    log,
    signal: new AbortController().signal,
    clock: options.clock ?? systemClock,
    ...(options.env === undefined ? {} : { env: options.env }),
    ...(options.textNames === undefined ? {} : { textNames: options.textNames }),
  });
  return { elims, lines, messages: () => lines.map((l) => String(l.msg)) };
}

// Generous: each step waits on a real child process, which a CI machine loaded by the
// rest of the suite can take seconds to start. A passing step returns at once.
async function waitFor<T>(what: string, probe: () => T | undefined, ms = 20_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

function valueOf(elims: ChildElims, name: string): ResourceValue | undefined {
  return elims.values().find(([n]) => n === name)?.[1];
}

// A numeric value's number: the fixtures other than `text` report numbers only.
function numberOf(elims: ChildElims, name: string): number | undefined {
  const value = valueOf(elims, name);
  assert.notEqual(typeof value, 'string', `${name} reported as text`);
  return value as number | undefined;
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

test('a good child\'s values are returned as numbers', async () => {
  const h = start([elim('good')]);
  try {
    await waitFor('scratch', () => valueOf(h.elims, 'scratch'));
    assert.deepEqual(new Map(h.elims.values()), new Map([['scratch', 12.5], ['licenses', 3]]));
  } finally {
    await h.elims.close();
  }
});

test('a bad child\'s garbage is dropped, its good pair kept, and each kind of problem logged once', async () => {
  const h = start([elim('bad')]);
  try {
    assert.equal(await waitFor('good', () => valueOf(h.elims, 'good')), 4);
    await sleep(1200); // a second report, whose problems must not be logged again
    assert.deepEqual(h.elims.values(), [['good', 4]]);
    const badValue = h.messages().filter((m) => m.includes('not a finite decimal'));
    assert.equal(badValue.length, 1);
    assert.ok(h.messages().some((m) => m.includes('resource name')));
  } finally {
    await h.elims.close();
  }
});

test('a report split across writes is completed and a too-large count resynchronises', async () => {
  const h = start([elim('partial')]);
  try {
    await waitFor('second', () => valueOf(h.elims, 'second'));
    assert.equal(valueOf(h.elims, 'first'), 1);
  } finally {
    await h.elims.close();
  }
});

test('a silent child\'s last value is dropped once older than max_age', async () => {
  const clock = new FakeClock();
  const h = start([elim('silent', { max_age: 30 })], { clock });
  try {
    await waitFor('once', () => valueOf(h.elims, 'once'));
    clock.advance(29_000);
    assert.equal(valueOf(h.elims, 'once'), 7);
    clock.advance(2_000);
    assert.deepEqual(h.elims.values(), []);
  } finally {
    await h.elims.close();
  }
});

test('without max_age a value lives DEFAULT_MAX_AGE_S seconds', async () => {
  const clock = new FakeClock();
  const h = start([elim('silent')], { clock });
  try {
    await waitFor('once', () => valueOf(h.elims, 'once'));
    clock.advance(DEFAULT_MAX_AGE_S * 1000);
    assert.equal(valueOf(h.elims, 'once'), 7);
    clock.advance(1);
    assert.equal(valueOf(h.elims, 'once'), undefined);
  } finally {
    await h.elims.close();
  }
});

// A clock whose sleeps last until the test releases them, so a test can look at
// a child between its death and its restart.
class GateClock extends FakeClock {
  readonly sleeps: number[] = [];
  private gates: Array<() => void> = [];
  override async sleep(ms: number, signal?: AbortSignal): Promise<void> {
    signal?.throwIfAborted();
    this.sleeps.push(ms);
    await new Promise<void>((resolve, reject) => {
      this.gates.push(resolve);
      signal?.addEventListener('abort', () => reject(signal.reason as Error), { once: true });
    });
    this.advance(ms);
  }
  release(): void {
    for (const open of this.gates.splice(0)) open();
  }
  get waiting(): number {
    return this.gates.length;
  }
}

test('a dead child\'s values are dropped at once and it is restarted with doubling back-off', async () => {
  const clock = new GateClock();
  const h = start([dyingSlowly()], { clock });
  try {
    for (let run = 1; run <= 4; run++) {
      assert.equal(await waitFor(`value of run ${run}`, () => valueOf(h.elims, 'dying')), 5);
      await waitFor(`death ${run}`, () => (clock.waiting > 0 ? true : undefined));
      assert.deepEqual(h.elims.values(), []);
      clock.release();
    }
    assert.deepEqual(clock.sleeps, [10_000, 20_000, 40_000, 80_000]);
    assert.ok(h.messages().some((m) => m.includes('exit code 3')));
  } finally {
    await h.elims.close();
  }
});

test('a child that closes its stdout but runs on is ended and restarted, as LIM ends and restarts such an elim', async () => {
  const clock = new GateClock();
  const h = start([elim('closer')], { clock });
  try {
    assert.equal(await waitFor('its report', () => valueOf(h.elims, 'closer')), 5);
    const pid = Number(h.lines.find((l) => l.msg === 'child elim closer started')?.pid);
    // EXIT_AFTER_EOF_MS after its end of file, it has not exited: it is ended.
    await waitFor('the restart\'s back-off', () => (clock.waiting > 0 ? true : undefined));
    assert.deepEqual(clock.sleeps, [BACKOFF_MIN_MS]);
    assert.ok(h.messages().includes('child elim closer closed its output but runs on; ending it, to start it again'));
    assert.deepEqual(h.elims.values(), []);
    assert.equal(isRunning(pid), false);
  } finally {
    await h.elims.close();
  }
});

test('the back-off never exceeds BACKOFF_MAX_MS and goes back to the minimum after a stable run', async () => {
  const clock = new GateClock();
  const h = start([dyingSlowly()], { clock });
  try {
    for (let death = 1; death <= 7; death++) {
      await waitFor(`death ${death}`, () => (clock.waiting > 0 ? true : undefined));
      clock.release();
    }
    assert.deepEqual(clock.sleeps, [10_000, 20_000, 40_000, 80_000, 160_000, 300_000, 300_000]);
    await waitFor('run 8', () => valueOf(h.elims, 'dying'));
    clock.advance(STABLE_RUN_MS); // run 8 lasts five minutes
    await waitFor('death 8', () => (clock.waiting > 0 ? true : undefined));
    assert.equal(clock.sleeps.at(-1), BACKOFF_MIN_MS);
  } finally {
    await h.elims.close();
  }
});

test('a flooding child costs bounded work and its newest value is still read', async () => {
  const h = start([elim('flood')]);
  try {
    await sleep(1500);
    const first = await waitFor('flood', () => valueOf(h.elims, 'flood'));
    await sleep(300);
    const second = await waitFor('flood', () => valueOf(h.elims, 'flood'));
    assert.ok(second > first, `value moved on: ${first} then ${second}`);
    assert.ok(h.messages().some((m) => m.includes('only its newest output is read')));
  } finally {
    await h.elims.close();
  }
});

// The countflood fixture's reports are this long; it counts them in a file.
const COUNTFLOOD_REPORT_BYTES = 1023;
// What a blocked child can have written beyond what was read: the socket pair
// between it and lavarank (at most 208 KiB, net.core.wmem_default), plus the
// stream's buffer and the chunk that crossed the budget (64 KiB each).
const PIPE_SLACK = 208 * 1024 + 2 * 64 * 1024;

// How many reports countflood has written once it stays blocked on its pipe (the
// same count over five readings, 0.8 s: a child merely descheduled on a loaded host
// for a moment is not taken as blocked); throws if it keeps writing for 10 s.
async function blockedAt(file: string): Promise<number> {
  const readings: number[] = [];
  const deadline = Date.now() + 10_000;
  for (;;) {
    await sleep(200);
    let text = '';
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      // not written yet
    }
    if (/^\d+\n$/.test(text)) readings.push(Number(text)); // else caught mid-update
    const last = readings.slice(-5);
    if (last.length === 5 && last.every((n) => n === last[0])) return last[0]!;
    if (Date.now() > deadline) throw new Error(`the child never blocked: it wrote ${readings.at(-1)} reports of ${COUNTFLOOD_REPORT_BYTES} bytes in 10 s, all read`);
  }
}

test('a flooding child is read no further than FLOOD_BYTES between two reports: it blocks on its pipe until the next', async (t) => {
  // Time stands still, so only a report (values()) opens a new reading window.
  const count = join(dir, 'countflood.written');
  const h = start([elim('countflood', { command: [join(dir, 'countflood'), count] })], { clock: new FakeClock() });
  try {
    const first = await blockedAt(count);
    assert.ok(first * COUNTFLOOD_REPORT_BYTES <= FLOOD_BYTES + PIPE_SLACK, `${first} reports written before the child blocked`);
    const value = numberOf(h.elims, 'countflood'); // a report: its newest value, and a new window
    assert.ok(value !== undefined && value > 0 && value <= first, `value ${value} of ${first} written`);
    const second = await blockedAt(count);
    t.diagnostic(`reports of ${COUNTFLOOD_REPORT_BYTES} bytes written before blocking: ${first}, then ${second - first} after one report`);
    assert.ok(second > first, 'reading did not resume after the report');
    assert.ok((second - first) * COUNTFLOOD_REPORT_BYTES <= FLOOD_BYTES + PIPE_SLACK, `${second - first} reports written in the second window`);
    assert.equal(h.messages().filter((m) => m.includes('only its newest output is read')).length, 1, 'the flood was not logged once');
  } finally {
    await h.elims.close();
  }
});

test('huge tokens are dropped with bounded memory and the reports after them are read', async () => {
  const go = join(dir, 'hugetoken.go');
  const h = start([elim('hugetoken')], { env: { ...process.env, HUGETOKEN_GO: go } });
  try {
    assert.equal(await waitFor('after', () => valueOf(h.elims, 'after')), 7);
    // dropped as an oversized token, or (past the reading budget) skipped unparsed
    assert.ok(h.messages().some((m) => m.includes('longer than 1024 bytes') || m.includes('only its newest output is read')));
    // The 1 MB token only now: written a fixed second later, a test process without a
    // CPU for that second met its value alone.
    writeFileSync(go, '');
    // the 1 MB token exceeds the flood budget: only the newest chunk, with the report, is parsed
    assert.equal(await waitFor('later', () => valueOf(h.elims, 'later')), 8);
    assert.ok(h.messages().some((m) => m.includes('only its newest output is read')));
    const names = h.elims.values().map(([n]) => n);
    assert.equal(names.includes('huge') || names.includes('huger'), false);
  } finally {
    await h.elims.close();
  }
});

test('close() ends a child that ignores SIGTERM with SIGKILL and leaves nothing behind', async () => {
  const h = start([elim('stubborn')]);
  const pid = await waitFor('pid', () => numberOf(h.elims, 'pid'));
  assert.ok(isRunning(pid));
  const t0 = Date.now();
  await h.elims.close();
  const took = Date.now() - t0;
  assert.equal(isRunning(pid), false);
  assert.ok(took >= STOP_GRACE_MS - 20 && took < 4000, `close took ${took} ms`);
  assert.deepEqual(h.elims.values(), []);
});

test('a grandchild holding the pipe open does not hold up the child\'s restart or close()', async () => {
  const clock = new FakeClock();
  const h = start([elim('orphaner')], { clock });
  try {
    // The grandchild holds the pipe for 30 s: a restart that waited for the pipe's end
    // would come after this deadline.
    await waitFor('a restart', () => (h.lines.some((l) => l.restartInS !== undefined) ? true : undefined), 15_000);
  } finally {
    const t0 = Date.now();
    await h.elims.close();
    assert.ok(Date.now() - t0 < 3000);
  }
});

test('the children get the daemon\'s environment, LSF_RESOURCES included, and LAVARANK_PARENT_PID naming the daemon', async () => {
  const h = start([elim('env')], { env: { ...process.env, LSF_RESOURCES: 'rank scratch ' } });
  try {
    assert.equal(await waitFor('envok', () => valueOf(h.elims, 'envok')), 1);
    assert.equal(valueOf(h.elims, 'parentok'), 1);
  } finally {
    await h.elims.close();
  }
});

test('a name lavarank or an earlier child reports is ignored, and the clash logged once', async () => {
  const h = start([elim('good'), elim('clash', { name: 'site-clash' })]);
  try {
    await waitFor('mine', () => valueOf(h.elims, 'mine'));
    await waitFor('scratch', () => valueOf(h.elims, 'scratch'));
    await sleep(1100);
    const values = new Map(h.elims.values());
    assert.equal(values.get('scratch'), 12.5);
    assert.equal(values.has('rank'), false);
    assert.equal(values.get('mine'), 2);
    const clashes = h.lines.filter((l) => l.elim === 'site-clash' && String(l.msg).includes('already reports'));
    assert.deepEqual(clashes.map((l) => l.name).sort(), ['rank', 'scratch']);
  } finally {
    await h.elims.close();
  }
});

test('an executable others can write is not started', async () => {
  const clock = new FakeClock();
  const open = join(dir, 'good-but-writable');
  copyFileSync(join(dir, 'good'), open);
  chmodSync(open, 0o777);
  const h = start([{ command: [open] }], { clock });
  try {
    await waitFor('refusal', () => (h.messages().some((m) => m.includes('not started')) ? true : undefined));
    assert.ok(h.messages().some((m) => m.includes('chmod go-w')));
    assert.equal(h.messages().some((m) => m.endsWith('started') && !m.includes('not started')), false);
    assert.deepEqual(h.elims.values(), []);
  } finally {
    await h.elims.close();
  }
});

test('invalid specs are refused before anything starts, naming each key', () => {
  const log = pino({ level: 'silent' });
  const options = { log, signal: new AbortController().signal, clock: systemClock };
  assert.throws(
    () =>
      startChildElims(
        [
          { command: ['relative/elim'] },
          { command: [] },
          { command: ['/bin/true'], max_age: -1 },
          { command: ['/bin/true'], name: 'has space' },
        ],
        options,
      ),
    (err: unknown) => {
      assert.ok(err instanceof ConfigError);
      assert.equal(err.problems.length, 4);
      assert.match(err.message, /elims\[0\]\.command\[0\] must be an absolute path/);
      assert.match(err.message, /elims\[1\]\.command must be a non-empty list/);
      assert.match(err.message, /elims\[2\]\.max_age/);
      assert.match(err.message, /elims\[3\]\.name/);
      return true;
    },
  );
});

test('a max_age of 0, a NUL byte in any argument and one child elim too many are refused', (t) => {
  const log = pino({ level: 'silent' });
  const stop = new AbortController(); // ends whatever a spec wrongly accepted started
  const options = { log, signal: stop.signal, clock: systemClock };
  const refused = (specs: ChildElimSpec[], pattern: RegExp) =>
    assert.throws(() => startChildElims(specs, options), (err: unknown) => err instanceof ConfigError && pattern.test(err.message));
  t.after(() => stop.abort());
  refused([{ command: ['/bin/true'], max_age: 0 }], /elims\[0\]\.max_age must be a positive number/);
  refused([{ command: ['/bin/sh', '-c', 'true\0'] }], /elims\[0\]\.command must not contain NUL bytes/);
  refused(Array.from({ length: MAX_CHILD_ELIMS + 1 }, () => ({ command: ['/bin/true'] })), new RegExp(`elims: ${MAX_CHILD_ELIMS + 1} child elims, at most ${MAX_CHILD_ELIMS}`));
});

test('close() is final: called at any moment, even during restarts, nothing it started outlives it and nothing starts after it', async () => {
  // Restarts at once, so that close() falls before, during and after starts.
  const hurried: Clock = { ...systemClock, sleep: (ms, signal) => systemClock.sleep(Math.min(ms, 3), signal) };
  for (let i = 0; i < 12; i++) {
    const h = start([elim('good'), elim('dying'), elim('orphaner')], { clock: hurried });
    await sleep((i * 37) % 400);
    await h.elims.close();
    assert.deepEqual(stragglers(), [], `round ${i}: left running after close()`);
    await sleep(50);
    assert.deepEqual(stragglers(), [], `round ${i}: started after close()`);
  }
});

test('aborting the daemon\'s signal ends the children as close() does', async () => {
  const controller = new AbortController();
  const lines: string[] = [];
  const elims = startChildElims([elim('stubborn')], {
    log: pino({ level: 'debug' }, { write: (s: string) => void lines.push(s) }),
    signal: controller.signal,
    clock: systemClock,
  });
  const pid = await waitFor('pid', () => numberOf(elims, 'pid'));
  controller.abort();
  await elims.close();
  assert.equal(isRunning(pid), false);
});

test('with stale_value, a silent child\'s names report that value once stale instead of vanishing', async () => {
  const clock = new FakeClock();
  const h = start([elim('silent', { max_age: 30, stale_value: -1 })], { clock });
  try {
    await waitFor('once', () => valueOf(h.elims, 'once'));
    assert.deepEqual(h.elims.values(), [['once', 7]]);
    clock.advance(31_000);
    assert.deepEqual(h.elims.values(), [['once', -1]]);
  } finally {
    await h.elims.close();
  }
});

test('with stale_value, a dead child\'s names report that value until it reports again', async () => {
  const clock = new GateClock();
  const h = start([dyingSlowly({ stale_value: 0 })], { clock });
  try {
    assert.equal(await waitFor('first value', () => valueOf(h.elims, 'dying')), 5);
    await waitFor('death', () => (clock.waiting > 0 ? true : undefined));
    assert.deepEqual(h.elims.values(), [['dying', 0]]);
    clock.release();
    assert.equal(await waitFor('value after restart', () => (valueOf(h.elims, 'dying') === 5 ? 5 : undefined)), 5);
  } finally {
    await h.elims.close();
  }
});

test("passes a String resource's text on, as LIM reading the child keeps it, and never replaces it by stale_value", async () => {
  const clock = new FakeClock();
  const h = start([elim('text', { max_age: 30, stale_value: -1 })], { clock, textNames: new Set(['os_state']) });
  try {
    await waitFor('load', () => valueOf(h.elims, 'load'));
    assert.deepEqual(h.elims.values(), [['os_state', 'ok'], ['load', 1.5]]);
    clock.advance(31_000);
    assert.deepEqual(h.elims.values(), [['load', -1]]);
  } finally {
    await h.elims.close();
  }
});

test("a dead child's String resource reports '-', the text LIM gives it when its own elim dies, until the child reports again", async () => {
  const clock = new GateClock();
  const h = start([dyingSlowly()], { clock, textNames: new Set(['dying']) });
  try {
    assert.equal(await waitFor('first value', () => valueOf(h.elims, 'dying')), '5');
    await waitFor('death', () => (clock.waiting > 0 ? true : undefined));
    assert.deepEqual(h.elims.values(), [['dying', '-']]);
    clock.release();
    assert.equal(await waitFor('value after restart', () => (valueOf(h.elims, 'dying') === '5' ? '5' : undefined)), '5');
  } finally {
    await h.elims.close();
  }
});

test('drops the text of a resource lsf.shared does not declare String, saying why', async () => {
  const h = start([elim('text')]);
  try {
    await waitFor('load', () => valueOf(h.elims, 'load'));
    assert.deepEqual(h.elims.values(), [['load', 1.5]]);
    assert.ok(h.messages().some((m) => /wrote a value that is not a finite decimal number .*TYPE String in lsf\.shared/.test(m)), h.messages().join('\n'));
  } finally {
    await h.elims.close();
  }
});

test('a stale_value that is not a finite number is refused, naming the key', () => {
  assert.throws(
    () => startChildElims([elim('good', { stale_value: Number.NaN })], { log: pino({ level: 'silent' }), signal: new AbortController().signal, clock: systemClock }),
    /elims\[0\]\.stale_value must be a finite number/,
  );
});

test('an absolute argument is checked whatever is there: a FIFO, a directory others write, a name others could make', { skip: process.getuid?.() === 0 ? false : 'the paths below must be root\'s' }, async (t) => {
  const base = testDir(t, 'lavarank-args-');
  chmodSync(base, 0o755);
  const shared = join(base, 'tmp');
  mkdirSync(shared);
  chmodSync(shared, 0o1777); // as /tmp
  const own = join(base, 'site');
  mkdirSync(own, { mode: 0o755 });
  const fifo = join(shared, 'elim.sh');
  assert.equal(spawnSync('mkfifo', ['-m', '0600', fifo]).status, 0);
  const problems = async (arg: string): Promise<string> => (await childProgramAsync(['/bin/sh', arg], 'child elim x')).problems.join('; ');
  // sh would take commands from whoever writes the FIFO
  assert.match(await problems(fifo), /argument 1 .*elim\.sh is not a regular file/);
  // python3 runs a directory's __main__.py: one others can write is theirs
  assert.match(await problems(shared), /argument 1 .*tmp has mode 1777, writable by group or others/);
  // missing: anyone could make it in the sticky directory before sh opens it
  assert.match(await problems(join(shared, 'later.sh')), /argument 1 .*later\.sh does not exist, and .*tmp, where it would be, can be written by others/);
  // a link to nothing in the sticky directory, from a directory of root's
  symlinkSync(join(shared, 'later.sh'), join(own, 'link.sh'));
  assert.match(await problems(join(own, 'link.sh')), /link\.sh does not exist, and .*tmp, where it would be, can be written by others/);
  // only root can make it, or it is root's: accepted
  assert.equal(await problems(join(own, 'later.sh')), '');
  assert.equal(await problems(own), '');
  assert.equal(await problems('/dev/null'), '');
});

test('an absolute argument that does not exist yet is refused where another user owns the directory it would be in', { skip: process.getuid?.() === 0 ? false : 'chown needs root' }, async (t) => {
  const base = testDir(t, 'lavarank-args-');
  chmodSync(base, 0o755);
  const theirs = join(base, 'theirs');
  mkdirSync(theirs, { mode: 0o755 });
  chownSync(theirs, 65534, 65534); // not writable by others, yet its owner can make the script there
  const problems = (await childProgramAsync(['/bin/sh', join(theirs, 'later.sh')], 'child elim x')).problems.join('; ');
  assert.match(problems, /directory .*theirs above child elim x: its argument 1 .*later\.sh is owned by uid 65534/);
});

test('an argument naming a block device is checked as a character device is: [smartctl, -A, /dev/sda]', { skip: process.getuid?.() === 0 ? false : 'mknod needs root' }, async (t) => {
  const base = testDir(t, 'lavarank-args-');
  chmodSync(base, 0o755);
  const disk = join(base, 'sda');
  if (spawnSync('mknod', ['-m', '0660', disk, 'b', '7', '0']).status !== 0) {
    t.skip('no CAP_MKNOD here'); // reported as skipped, not passed
    return;
  }
  assert.deepEqual((await childProgramAsync(['/bin/sh', '-A', disk], 'child elim x')).problems, []);
});

test('a child whose start fails at once (ETXTBSY: its program is being written) is started again once it can be', async () => {
  const file = join(dir, 'replaced');
  copyFileSync(join(dir, 'good'), file);
  chmodSync(file, 0o755);
  // Held open for writing, as cp holds a program it copies a new version over.
  const writer = openSync(file, 'r+');
  const h = start([elim('replaced')], { clock: { ...systemClock, sleep: (_ms, signal) => systemClock.sleep(20, signal) } });
  try {
    await waitFor('the failed start', () => h.messages().find((m) => /could not be started: ETXTBSY/.test(m)));
    closeSync(writer);
    assert.equal(await waitFor('scratch', () => valueOf(h.elims, 'scratch')), 12.5);
    assert.deepEqual(h.messages().filter((m) => m.startsWith('supervising')), []);
  } finally {
    await h.elims.close();
  }
});

// A child elim's state as childGroups reads it.
const childValues = (over: Partial<ChildValues> & { values?: Map<string, { value: ResourceValue; at: number }> }): ChildValues => ({
  label: 'c',
  values: new Map(),
  known: new Set(),
  alive: true,
  maxAgeMs: 30_000,
  staleValue: undefined,
  textNames: new Set(),
  clashesLogged: new Set(),
  ...over,
});

test('childGroups drops values past max_age, gives stale_value for a number left out and - for a dead child\'s String resource', () => {
  const warned: string[] = [];
  const log = { warn: (_: unknown, m: string) => void warned.push(m) };
  const fresh = childValues({ label: 'fresh', values: new Map([['a', { value: 1, at: 90_000 }], ['b', { value: 2, at: 10_000 }]]), known: new Set(['a', 'b']), staleValue: -1 });
  const dead = childValues({ label: 'dead', alive: false, values: new Map([['os_state', { value: 'ok', at: 99_000 }]]), known: new Set(['os_state', 'n']), textNames: new Set(['os_state']) });
  const renewed: string[] = [];
  const groups = childGroups([fresh, dead], ['rank'], 100_000, log as never, (child) => void renewed.push(child.label));
  assert.deepEqual(groups, [
    { source: 'fresh', pairs: [['a', 1], ['b', -1]] },
    { source: 'dead', pairs: [['os_state', '-']] },
  ]);
  assert.deepEqual(renewed, ['fresh'], 'only a live child starts a new reading window');
  assert.deepEqual([...fresh.values.keys()], ['a']);
  assert.deepEqual(warned, []);
});

test('childGroups leaves out a name lavarank or an earlier child reports, and says so once', () => {
  const warned: string[] = [];
  const log = { warn: (_: unknown, m: string) => void warned.push(m) };
  const first = childValues({ label: 'first', values: new Map([['gpu', { value: 1, at: 0 }]]) });
  const second = childValues({ label: 'second', values: new Map([['gpu', { value: 2, at: 0 }], ['rank', { value: 3, at: 0 }]]) });
  for (let i = 0; i < 2; i++) {
    assert.deepEqual(childGroups([first, second], ['rank'], 0, log as never, () => {}), [
      { source: 'first', pairs: [['gpu', 1]] },
      { source: 'second', pairs: [] },
    ]);
  }
  assert.equal(warned.length, 2);
  assert.match(warned.join('\n'), /child elim second reports gpu.*\n.*child elim second reports rank/);
});

test('readChunk parses a child\'s output; past FLOOD_BYTES in a window it keeps only the newest chunk, read by newWindow at the next report', () => {
  const warned: string[] = [];
  const log = { warn: (_: unknown, m: string) => void warned.push(m) };
  const clock = new FakeClock();
  const child = new Child('c', '/bin/true', [], 30_000, undefined, new Set());
  child.alive = true;
  readChunk(child, Buffer.from('1 a 5\n'), clock, log as never);
  assert.equal(child.values.get('a')?.value, 5);
  const line = '1 a 7\n';
  const flood = Buffer.from(line.repeat(Math.ceil(FLOOD_BYTES / line.length)));
  readChunk(child, flood, clock, log as never);
  // The newest chunk is read from its first line end: it may begin inside a report.
  readChunk(child, Buffer.from('a 6\n1 a 8\n'), clock, log as never);
  assert.equal(child.values.get('a')?.value, 5, 'nothing past the bound is parsed in its window');
  assert.equal(child.paused, true);
  assert.equal(warned.length, 1);
  assert.match(warned[0]!, /writes more than \d+ bytes between two reports/);
  newWindow(child, clock, log as never);
  assert.equal(child.values.get('a')?.value, 8, 'the newest chunk is read at the next report');
  assert.equal(child.paused, false);
  readChunk(child, Buffer.from('1 a 9\n'), clock, log as never);
  assert.equal(child.values.get('a')?.value, 9);
});

test('beginRun readies a child that ran before: alive, its new process, a fresh parser and window, its problems to be said again', () => {
  const child = new Child('c', '/bin/true', [], 30_000, undefined, new Set());
  const oldParser = child.parser;
  Object.assign(child, { paused: true, needResync: true, floodTail: new Uint8Array(3), windowStart: 5, windowBytes: 900 });
  child.problemsLogged.add('invalid');
  child.clashesLogged.add('gpu');
  const proc = { pid: 7 } as unknown as GroupProcess;
  beginRun(child, proc, 42_000);
  assert.equal(child.process, proc);
  assert.notEqual(child.parser, oldParser);
  assert.deepEqual(
    [child.alive, child.paused, child.needResync, child.floodTail, child.windowStart, child.windowBytes, child.problemsLogged.size, child.clashesLogged.size],
    [true, false, false, undefined, 42_000, 0, 0, 1],
    'a clash is said once ever, not once a run',
  );
  child.values.set('a', { value: 1, at: 0 });
  child.known.add('a');
  child.floodTail = new Uint8Array(3); // a flood's newest chunk kept when the run ends: let go
  endRun(child);
  assert.deepEqual([child.alive, child.values.size, child.known.size, child.floodTail], [false, 0, 1, undefined]);
});

test('outputClosed ends a child that closed its output and runs on, and only that: not one that exits, nor one started again since', async () => {
  const ended: string[] = [];
  const warned: string[] = [];
  const log = { warn: (_: unknown, m: string) => void warned.push(m) };
  const proc = (name: string, exits: boolean): Pick<GroupProcess, 'exited' | 'end'> => ({
    exited: exits ? Promise.resolve({ exitCode: 0, signal: null, reason: 'exit code 0' }) : new Promise(() => undefined),
    end: async () => void ended.push(name),
  });
  const runsOn = proc('runs-on', false);
  const exits = proc('exits', true);
  const replaced = proc('replaced', false);
  // outputClosed's timer is unreferenced, as the daemon's loop holds the process: this does here.
  const hold = setInterval(() => undefined, 60_000);
  await Promise.all([
    outputClosed({ label: 'a', process: runsOn as GroupProcess }, runsOn, log as never),
    outputClosed({ label: 'b', process: exits as GroupProcess }, exits, log as never),
    outputClosed({ label: 'c', process: proc('its next run', false) as GroupProcess }, replaced, log as never),
  ]).finally(() => clearInterval(hold));
  assert.deepEqual(ended, ['runs-on']);
  assert.deepEqual(warned, ['child elim a closed its output but runs on; ending it, to start it again']);
});
