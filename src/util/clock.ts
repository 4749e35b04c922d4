// Time as a parameter, so the daemon loop can be driven by a fake clock in tests
// and soak runs. Wall time is for timestamps only; intervals use monotonic time,
// so clock jumps (NTP steps, an admin's `date -s`) never stretch or squeeze ticks.
import { setTimeout as sleepTimer } from 'node:timers/promises';

export interface Clock {
  now(): number; // wall clock, epoch ms
  monotonic(): number; // ms since an arbitrary origin, never goes back
  // Resolves after ms, or rejects with an AbortError when signal aborts.
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  monotonic: () => performance.now(),
  sleep: (ms, signal) => sleepTimer(Math.max(0, ms), undefined, signal === undefined ? {} : { signal }),
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
