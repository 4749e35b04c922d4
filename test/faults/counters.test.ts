// Counters that wrap or reset, CPUs going offline and online, and the wall clock
// stepped forward and back, with the real collectors and sampler on a synthetic
// host and a fake clock. A counter that went backwards gives no value for that
// tick, never a negative rate; the tick after is normal. Intervals follow the
// monotonic clock, so a wall-clock step moves timestamps only.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { FakeClock } from '../../src/util/clock.js';
import type { Sample } from '../../src/collectors/types.js';
import { tempDir } from '../helpers.js';
import { SyntheticHost, runOnHost, type HostRun } from './helpers.js';

// Called after tick `seq` was reported, before the host advances to the next one.
type Hooks = Record<number, (host: SyntheticHost, clock: FakeClock) => void>;

async function run(hooks: Hooks, ticks = 8): Promise<HostRun> {
  const { dir, cleanup } = tempDir('lavarank-counters-');
  try {
    const host = new SyntheticHost(join(dir, 'host'));
    return await runOnHost(host, { ticks, afterTick: (seq, clock) => hooks[seq]?.(host, clock) });
  } finally {
    cleanup();
  }
}

const FRACTION = /^(user|system|iowait|steal|busy|usedFraction|swapUsedFraction|busyMax|busyMean|utilization|utilizationMax|cpuSome|cpuFull|memorySome|memoryFull|ioSome|ioFull)$/;

// Every number in a sample is finite, every rate non-negative, every fraction in [0, 1].
function assertSane(sample: Sample | undefined, where: string): void {
  const walk = (value: unknown, key: string): void => {
    if (typeof value === 'number') {
      assert.ok(Number.isFinite(value), `${where}: ${key} = ${value}`);
      if (!['ts'].includes(key)) assert.ok(value >= 0, `${where}: ${key} = ${value} is negative`);
      if (FRACTION.test(key)) assert.ok(value <= 1, `${where}: ${key} = ${value} is above 1`);
    } else if (typeof value === 'object' && value !== null) {
      for (const [k, v] of Object.entries(value)) walk(v, Array.isArray(value) ? key : k);
    }
  };
  walk(sample, 'sample');
}

function allSane(r: HostRun): void {
  r.ticks.forEach((t, i) => {
    assertSane(t.sample, `tick ${i + 1}`);
    assert.equal(t.state, 'ok', `tick ${i + 1}: ${t.failure ?? ''}`);
  });
}

describe('counters that go backwards', () => {
  it('a network byte counter wrapping at 2^32 gives no rate for that tick, and the next tick is normal', async () => {
    const r = await run({
      2: (host) => (host.state.net.rx = 2 ** 32 - 1_000_000),
      3: (host) => (host.state.net.rx = 500_000), // wrapped: 32-bit counter of an old driver
    });
    allSane(r);
    const rx = r.ticks.map((t) => t.sample?.network?.rxBytesPerSec);
    assert.equal(rx[3], undefined, `the wrapping tick gave ${rx[3]}`);
    assert.ok(rx[4] !== undefined && rx[4] > 0, `the tick after the wrap gave ${rx[4]}`);
  });

  it('a disk counter reset (driver reload) gives no disk figures for that tick, and the next tick is normal', async () => {
    const r = await run({ 3: (host) => Object.assign(host.state.disk, { readSectors: 0, writeSectors: 0, ioTicksMs: 0 }) });
    allSane(r);
    const busy = r.ticks.map((t) => t.sample?.disk);
    assert.equal(busy[3], undefined);
    assert.ok(busy[4] !== undefined && busy[4].devices?.length === 1);
  });

  it('/proc/stat reset (a VM restored from a snapshot) gives no CPU reading for that tick, not a negative or impossible fraction', async () => {
    const r = await run({ 3: (host) => host.state.jiffies.forEach((cpu) => cpu.fill(0)) });
    allSane(r);
    const cpu = r.ticks.map((t) => t.sample?.cpu);
    assert.equal(cpu[3], undefined);
    assert.ok(cpu[4] !== undefined && Math.abs(cpu[4].busy - 0.5) < 0.01, JSON.stringify(cpu[4]));
  });

  it('vmstat counters reset give no swap or fault rates for that tick', async () => {
    const r = await run({ 3: (host) => Object.assign(host.state.vm, { pswpin: 0, pswpout: 0, pgmajfault: 0 }) });
    allSane(r);
    assert.equal(r.ticks[3]?.sample?.memory?.majorFaultsPerSec, undefined);
    assert.ok(r.ticks[4]?.sample?.memory?.majorFaultsPerSec !== undefined);
    assert.ok(r.ticks[3]?.sample?.memory?.usedFraction !== undefined, 'the memory fractions need no delta and stay');
  });
});

describe('CPU hotplug', () => {
  for (const [from, to] of [
    [4, 2],
    [2, 4],
  ] as const) {
    it(`${from} to ${to} online CPUs: no CPU fraction for the tick that straddles it, then fractions over ${to} CPUs, and load per CPU over ${to} at once`, async () => {
      const r = await run({
        1: (host) => host.setOnline(from),
        3: (host) => host.setOnline(to),
      });
      allSane(r);
      const cpu = r.ticks.map((t) => t.sample?.cpu);
      const load = r.ticks.map((t) => t.sample?.load);
      assert.equal(cpu[3], undefined, 'a fraction across a change of the CPU set');
      assert.equal(cpu[4]?.online, to);
      assert.equal(load[3]?.online, to);
      assert.ok(Math.abs((load[3]?.load1PerCpu ?? 0) - (load[3]?.load1 ?? 0) / to) < 1e-9);
    });
  }
});

describe('the wall clock stepped', () => {
  for (const [name, stepMs] of [
    ['back an hour (NTP step, date -s)', -3_600_000],
    ['forward a day', 86_400_000],
  ] as const) {
    it(`${name}: reports stay on the monotonic 10 s grid, rates are unchanged, and timestamps follow the wall clock`, async () => {
      const steady = await run({});
      const stepped = await run({ 3: (_host, clock) => clock.jumpWall(stepMs) });
      allSane(stepped);
      assert.deepEqual(stepped.mono, steady.mono);
      const rates = (r: HostRun): unknown[] => r.ticks.map((t) => [t.rank, t.sample?.cpu?.busy, t.sample?.network?.rxBytesPerSec, t.sample?.disk?.busyMax]);
      assert.deepEqual(rates(stepped), rates(steady));
      const ts = stepped.ticks.map((t) => t.ts);
      assert.equal(ts[3]! - ts[2]!, 10_000 + stepMs);
      assert.equal(ts[4]! - ts[3]!, 10_000);
    });
  }
});
