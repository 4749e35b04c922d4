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
