// Time as a parameter, so the daemon loop can be driven by a fake clock in tests
// and soak runs. Wall time is for timestamps only; intervals use monotonic time,
// so clock jumps (NTP steps, an admin's `date -s`) never stretch or squeeze ticks.
export interface Clock {
  now(): number; // wall clock, epoch ms
  monotonic(): number; // ms since an arbitrary origin, never goes back
  // Resolves after ms, or rejects with an AbortError when signal aborts.
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

// What a sleep rejects with when its signal aborts, as timers/promises does.
function abortError(signal: AbortSignal): Error {
  return Object.assign(new Error('The operation was aborted'), { name: 'AbortError', code: 'ABORT_ERR', cause: signal.reason as unknown });
}

// The sleeps waiting on each signal. One 'abort' listener per signal wakes them all:
// adding and removing an EventTarget listener for every sleep, as timers/promises
// does, costs more than the rest of the daemon's bookkeeping for a report.
const sleepers = new WeakMap<AbortSignal, Set<() => void>>();

function sleepersOf(signal: AbortSignal): Set<() => void> {
  let set = sleepers.get(signal);
  if (set === undefined) {
    const wake = new Set<() => void>();
    signal.addEventListener('abort', () => {
      for (const abort of wake) abort();
      wake.clear();
    }, { once: true });
    sleepers.set(signal, wake);
    set = wake;
  }
  return set;
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  if (signal === undefined) return new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));
  if (signal.aborted) return Promise.reject(abortError(signal));
  const waiting = sleepersOf(signal);
  return new Promise((resolve, reject) => {
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(abortError(signal));
    };
    const timer = setTimeout(() => {
      waiting.delete(onAbort);
      resolve();
    }, Math.max(0, ms));
    waiting.add(onAbort);
  });
}

// Milliseconds on the monotonic clock (CLOCK_MONOTONIC, through libuv's hrtime) since
// the process started. process.uptime() rather than performance.now(): Node checks
// performance.now()'s receiver through a wrapped validator that allocates on every
// call, and the daemon reads the clock about twenty times per report.
export function monotonicMs(): number {
  return process.uptime() * 1000;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  monotonic: monotonicMs,
  sleep,
};

// A clock that advances only when slept on or told to, for tests and simulations.
export class FakeClock implements Clock {
  private wall: number;
  private mono = 0;
  constructor(startWallMs = Date.UTC(2026, 10, 1)) {
    this.wall = startWallMs;
  }
  now(): number {
    return this.wall;
  }
  monotonic(): number {
    return this.mono;
  }
  advance(ms: number): void {
    this.wall += ms;
    this.mono += ms;
  }
  // Moves only the wall clock, as an NTP step or `date -s` would.
  jumpWall(ms: number): void {
    this.wall += ms;
  }
  async sleep(ms: number, signal?: AbortSignal): Promise<void> {
    signal?.throwIfAborted();
    this.advance(Math.max(0, ms));
    await Promise.resolve();
    signal?.throwIfAborted();
  }
}
