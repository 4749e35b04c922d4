import assert from 'node:assert/strict';
import { test } from 'node:test';
import { creditedWaitMs } from '../helpers.js';

// The stop checks of faults/sigterm and the e2e harness take this wait off the stop's
// wall time; the kernel adds a wait to schedstat whole, when the thread gets the CPU.
test('creditedWaitMs credits a run-queue wait that began before the first reading only for the time since, less the time on a CPU', () => {
  // Waiting 3 s when the watch began, on a CPU 10 ms from 20 ms after, seen at 30 ms: 2.5 s of its own work followed.
  const readings = [
    { atMs: 0, cpuNs: 0, waitNs: 0 },
    { atMs: 30, cpuNs: 10e6, waitNs: 3020e6 },
    { atMs: 2530, cpuNs: 2510e6, waitNs: 3020e6 },
  ];
  assert.equal(creditedWaitMs(readings), 20);
});

test('creditedWaitMs credits in full a run-queue wait that falls after the first reading', () => {
  const readings = [
    { atMs: 0, cpuNs: 0, waitNs: 5e6 },
    { atMs: 20, cpuNs: 20e6, waitNs: 5e6 },
    { atMs: 1300, cpuNs: 60e6, waitNs: 1205e6 },
  ];
  assert.equal(creditedWaitMs(readings), 1200);
});
