import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { systemClock } from '../../src/util/clock.js';

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
