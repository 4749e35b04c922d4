import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { FakeClock, isoTime, systemClock } from '../../src/util/clock.js';

describe('systemClock.sleep', () => {
  it('resolves after the time asked, with and without a signal', async () => {
    const t0 = performance.now();
    await systemClock.sleep(30);
    await systemClock.sleep(30, new AbortController().signal);
    assert.ok(performance.now() - t0 >= 59, `slept ${performance.now() - t0} ms`);
  });

  it('rejects every sleep on a signal with an AbortError when it aborts, at once', async () => {
    const ac = new AbortController();
    const t0 = performance.now();
    const sleeps = [systemClock.sleep(10_000, ac.signal), systemClock.sleep(20_000, ac.signal)];
    setTimeout(() => ac.abort(new Error('stop')), 20);
    for (const s of sleeps) {
      await assert.rejects(s, (err: unknown) => err instanceof Error && err.name === 'AbortError' && (err as { code?: string }).code === 'ABORT_ERR');
    }
    assert.ok(performance.now() - t0 < 5000);
  });

  it('rejects at once on a signal already aborted, and a finished sleep is not woken later', async () => {
    const ac = new AbortController();
    await systemClock.sleep(5, ac.signal);
    ac.abort();
    await assert.rejects(systemClock.sleep(10_000, ac.signal), { name: 'AbortError' });
  });
});

// Runs a module that imports systemClock and does `body` with it; its status, output and time.
function runWithClock(body: string): { status: number | null; stdout: string; ms: number } {
  const url = new URL('../../src/util/clock.js', import.meta.url).href;
  const t0 = performance.now();
  const run = spawnSync(process.execPath, ['--input-type=module', '-e', `import { systemClock } from ${JSON.stringify(url)};\n${body}`], { encoding: 'utf8', timeout: 20_000 });
  return { status: run.status, stdout: run.stdout, ms: performance.now() - t0 };
}

describe('systemClock waits and the process', () => {
  it('keeps a process whose only work is a wait alive until the wait ends', () => {
    // V8's delayed tasks, which end the waits, hold no loop: without a handle of Node's
    // the process ended at once (13, an unsettled top-level await).
    const slept = runWithClock("await systemClock.sleep(50, new AbortController().signal); await systemClock.sleep(50); systemClock.after(50, () => process.stdout.write('after'));");
    assert.deepEqual([slept.status, slept.stdout], [0, 'after']);
  });

  it('lets a process end once its waits are over or cancelled, not at their timeouts', () => {
    const ended = runWithClock("await systemClock.sleep(20); const cancel = systemClock.after(60_000, () => process.stdout.write('late')); cancel(); const ac = new AbortController(); const s = systemClock.sleep(60_000, ac.signal); ac.abort(); await s.catch(() => process.stdout.write('aborted'));");
    assert.deepEqual([ended.status, ended.stdout], [0, 'aborted']);
    assert.ok(ended.ms < 15_000, `ended after ${Math.round(ended.ms)} ms`);
  });
});

describe('systemClock.monotonic', () => {
  it('counts milliseconds as performance.now() does, and never goes back', async () => {
    const m0 = systemClock.monotonic();
    const p0 = performance.now();
    let last = m0;
    for (let i = 0; i < 1000; i++) {
      const m = systemClock.monotonic();
      assert.ok(m >= last, `went back from ${last} to ${m}`);
      last = m;
    }
    await systemClock.sleep(50);
    const elapsed = systemClock.monotonic() - m0;
    const reference = performance.now() - p0;
    assert.ok(elapsed >= 49 && Math.abs(elapsed - reference) < 5, `monotonic ${elapsed} ms, performance.now ${reference} ms`);
    // Counted from the process start, not the epoch: a change of the wall clock cannot move it.
    assert.ok(systemClock.monotonic() <= process.uptime() * 1000 + 1000, `monotonic ${systemClock.monotonic()} ms`);
  });
});

describe('isoTime', () => {
  it('writes a time as Date#toISOString does', () => {
    assert.equal(isoTime(0), '1970-01-01T00:00:00.000Z');
    assert.equal(isoTime(Date.UTC(2000, 1, 29, 23, 59, 59, 999)), '2000-02-29T23:59:59.999Z');
    assert.equal(isoTime(Date.UTC(2100, 2, 1, 0, 0, 0, 1)), '2100-03-01T00:00:00.001Z');
    assert.equal(isoTime(Date.UTC(2026, 11, 3, 22, 35, 4, 415)), '2026-12-03T22:35:04.415Z');
    assert.equal(isoTime(253402300799999), '9999-12-31T23:59:59.999Z');
  });

  it('agrees with Date#toISOString on every whole millisecond from 1970 to 9999', () => {
    fc.assert(fc.property(fc.integer({ min: 0, max: 253402300799999 }), (ms) => isoTime(ms) === new Date(ms).toISOString()), { numRuns: 20_000 });
  });

  it('agrees with Date#toISOString on each day boundary of the leap-year rules', () => {
    for (const year of [1970, 1972, 1999, 2000, 2001, 2024, 2100, 2400, 9999]) {
      for (const [month, day] of [[0, 1], [1, 28], [1, 29], [2, 1], [11, 31]] as const) {
        const ms = Date.UTC(year, month, day);
        for (const at of [ms - 1, ms, ms + 1]) assert.equal(isoTime(at), new Date(at).toISOString(), `${at}`);
      }
    }
  });

  it('agrees with Date#toISOString at each hour, minute and second boundary of a day', () => {
    const day = Date.UTC(2024, 1, 29);
    for (let s = 0; s <= 86_400; s++) {
      for (const at of [day + s * 1000 - 1, day + s * 1000]) assert.equal(isoTime(at), new Date(at).toISOString(), `${at}`);
    }
  });

  it('leaves times before 1970, from year 10000 on and fractions of a millisecond to Date', () => {
    // Years before 1 too: Date writes them with a sign and six digits.
    for (const ms of [-1, -86_400_000, -62_198_755_200_001, -8.64e15, 253402300800000, 1.5, 8.64e15]) assert.equal(isoTime(ms), new Date(ms).toISOString());
    assert.throws(() => isoTime(Number.NaN), RangeError);
  });
});

describe('FakeClock.after', () => {
  it('calls each timer as advance passes its time, in order of time, with the clock at it; a cancelled one never', () => {
    const clock = new FakeClock(1_000_000);
    const calls: Array<[string, number, number]> = [];
    const at = (name: string) => () => void calls.push([name, clock.monotonic(), clock.now()]);
    clock.after(300, at('b'));
    clock.after(100, at('a'));
    const cancel = clock.after(200, at('cancelled'));
    clock.after(5000, at('later'));
    cancel();
    clock.advance(1000);
    assert.deepEqual(calls, [['a', 100, 1_000_100], ['b', 300, 1_000_300]]);
    assert.equal(clock.monotonic(), 1000);
    assert.equal(clock.now(), 1_001_000);
    clock.advance(4000);
    assert.deepEqual(calls.at(-1), ['later', 5000, 1_005_000]);
  });
});

describe('systemClock.after', () => {
  it('calls the function after the time asked, and never once cancelled', async () => {
    const calls: string[] = [];
    systemClock.after(5, () => calls.push('called'));
    const cancel = systemClock.after(5, () => calls.push('cancelled'));
    cancel();
    await systemClock.sleep(30);
    assert.deepEqual(calls, ['called']);
  });

  // Atomics.waitAsync answers a wait of 0 at once, without a promise: under a millisecond
  // (a report's wait at its last fraction) the wait is a timer's next turn instead.
  it('calls the function on a later turn for a time under a millisecond, 0, negative or NaN', async () => {
    const calls: number[] = [];
    for (const ms of [0.4, 0, -5, Number.NaN]) systemClock.after(ms, () => calls.push(ms));
    const sleeps = [0.4, 0, -5, Number.NaN].map((ms) => systemClock.sleep(ms, new AbortController().signal));
    await Promise.resolve();
    assert.deepEqual(calls, []);
    await Promise.all(sleeps);
    assert.deepEqual(calls, [0.4, 0, -5, Number.NaN]);
  });
});
