// Time as a parameter, so the daemon loop can be driven by a fake clock in tests
// and soak runs. Wall time is for timestamps only; intervals use monotonic time,
// so clock jumps (NTP steps, an admin's `date -s`) never stretch or squeeze ticks.
export interface Clock {
  now(): number; // wall clock, epoch ms
  monotonic(): number; // ms since an arbitrary origin, never goes back
  // Resolves after ms, or rejects with an AbortError when signal aborts.
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
  // Calls fn after ms, unless the function returned is called first.
  after(ms: number, fn: () => void): () => void;
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

// Atomics.waitAsync (ES2024, in Node since 16), which TypeScript's ES2022 lib does not declare.
const atomics = Atomics as unknown as { waitAsync(cell: Int32Array, index: number, value: number, ms: number): { async: boolean; value: Promise<string> | string } };
// A cell nothing ever notifies: a wait on it ends by its timeout alone.
const cell = new Int32Array(new SharedArrayBuffer(4));
// V8's delayed tasks keep no loop alive: a ref'd handle of Node's is held while a wait is
// pending (one interval that never fires, ref'd and unref'd by the count).
let holder: NodeJS.Timeout | undefined;
let pending = 0;

// Calls fn after ms, unless the function returned is called first. A wait of
// Atomics.waitAsync, which V8 ends from a delayed task of its own (a libuv timer run in
// C++), not one of Node's timers, whose lists the interpreter runs under --lite-mode:
// 16 800 instructions an awaited wait against 46 200-51 500 (callgrind, 300 waits).
function timeout(ms: number, fn: () => void): () => void {
  if (!(ms >= 1)) {
    // Under a millisecond a wait of 0 ends without a promise; as setTimeout, the next turn.
    const timer = setTimeout(fn, 0);
    return () => clearTimeout(timer);
  }
  let live = true;
  if (pending++ === 0) (holder ??= setInterval(() => undefined, 2 ** 31 - 1)).ref();
  const release = (): void => {
    live = false;
    if (--pending === 0) holder!.unref();
  };
  void (atomics.waitAsync(cell, 0, 0, ms).value as Promise<string>).then(() => {
    if (!live) return;
    release();
    fn();
  });
  return () => {
    if (live) release();
  };
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  if (signal === undefined) return new Promise((resolve) => void timeout(ms, resolve));
  if (signal.aborted) return Promise.reject(abortError(signal));
  const waiting = sleepersOf(signal);
  return new Promise((resolve, reject) => {
    // Rejected from the signal's listener, at once: Atomics.notify would end the wait a
    // task later, when a timer due in between (the peek's) could still run.
    const onAbort = (): void => {
      cancel();
      reject(abortError(signal));
    };
    const cancel = timeout(ms, () => {
      waiting.delete(onAbort);
      resolve();
    });
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

// Epoch ms of 10000-01-01T00:00:00Z: the first time toISOString writes with six digits of year.
const YEAR_10000_MS = 253402300800000;
const DAY_MS = 86_400_000;

function pad(n: number, width: number): string {
  return String(n).padStart(width, '0');
}

// The UTC ISO 8601 text of an epoch-ms time, as Date#toISOString writes it. Whole ms
// from 1970 to 9999 are formatted here (Hinnant's days-to-civil), any other by Date:
// formatting a Date makes V8 set up its time-zone cache, which pages 0.8 MB of ICU's
// code and data into the elim's resident set at its first log line (measured).
export function isoTime(ms: number): string {
  if (!(Number.isInteger(ms) && ms >= 0 && ms < YEAR_10000_MS)) return new Date(ms).toISOString();
  const days = Math.floor(ms / DAY_MS);
  let rest = ms - days * DAY_MS;
  // Days since 0000-03-01, counted in 400-year eras of 146097 days, so that the leap
  // day ends a year.
  const z = days + 719_468;
  const era = Math.floor(z / 146_097);
  const dayOfEra = z - era * 146_097;
  const yearOfEra = Math.floor((dayOfEra - Math.floor(dayOfEra / 1460) + Math.floor(dayOfEra / 36_524) - Math.floor(dayOfEra / 146_096)) / 365);
  const dayOfYear = dayOfEra - (365 * yearOfEra + Math.floor(yearOfEra / 4) - Math.floor(yearOfEra / 100));
  const shifted = Math.floor((5 * dayOfYear + 2) / 153); // 0 for March ... 11 for February
  const day = dayOfYear - Math.floor((153 * shifted + 2) / 5) + 1;
  const month = shifted < 10 ? shifted + 3 : shifted - 9;
  const year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0);
  const hours = Math.floor(rest / 3_600_000);
  rest -= hours * 3_600_000;
  const minutes = Math.floor(rest / 60_000);
  rest -= minutes * 60_000;
  const seconds = Math.floor(rest / 1000);
  const millis = rest - seconds * 1000;
  return `${pad(year, 4)}-${pad(month, 2)}-${pad(day, 2)}T${pad(hours, 2)}:${pad(minutes, 2)}:${pad(seconds, 2)}.${pad(millis, 3)}Z`;
}

// The real clock, for everything but tests.
export const systemClock: Clock = {
  now: () => Date.now(),
  monotonic: monotonicMs,
  sleep,
  after: timeout,
};

// A clock that advances only when slept on or told to, for tests and simulations.
// Its timers (after) fire as advance passes their time, each with the clock at it.
export class FakeClock implements Clock {
  private wall: number;
  private mono = 0;
  private timers: Array<{ at: number; fn: () => void }> = [];
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
    const until = this.mono + ms;
    for (;;) {
      let first: { at: number; fn: () => void } | undefined;
      for (const t of this.timers) if (t.at <= until && (first === undefined || t.at < first.at)) first = t;
      if (first === undefined) break;
      this.timers.splice(this.timers.indexOf(first), 1);
      this.wall += first.at - this.mono;
      this.mono = first.at;
      first.fn();
    }
    this.wall += until - this.mono;
    this.mono = until;
  }
  after(ms: number, fn: () => void): () => void {
    const timer = { at: this.mono + Math.max(0, ms), fn };
    this.timers.push(timer);
    return () => {
      const i = this.timers.indexOf(timer);
      if (i >= 0) this.timers.splice(i, 1);
    };
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
