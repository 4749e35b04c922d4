import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { rawFeatures } from '../../src/model/features.js';
import { HostTimeline, TYPE_MIX, aloneRate, busyShare, idleTimeFactor, iowaitShare, psiCpuLevel, psiIoLevel, quantize, sampleKey, sampleValues, solveRates, toSample, type LoadItem } from '../../src/simulate/cluster.js';
import { CALIBRATED } from '../../src/simulate/params.js';

const p = CALIBRATED;
const host = (cpus: number, disks = 1, speed = 1) => ({ cpus, disks, speed, memBytes: cpus * 4 * 2 ** 30 });
const job = (type: keyof typeof TYPE_MIX, threads = 1, memGiB = 1): LoadItem => ({ threads, mix: TYPE_MIX[type], memBytes: memGiB * 2 ** 30 });
const none = { threads: 0, memBytes: 0 };
const close = (a: number, b: number, eps = 1e-6) => assert.ok(Math.abs(a - b) < eps, `${a} vs ${b}`);

describe('solveRates', () => {
  it('runs CPU-bound jobs at full speed while threads fit the CPUs, then shares the CPUs', () => {
    close(solveRates(host(4), [job('cpu'), job('cpu', 3)], none, p).rate[0]!, 1);
    const over = solveRates(host(4), [job('cpu', 4), job('cpu', 2)], none, p);
    close(over.rate[0]!, 4 / 6);
    close(over.cpuWanting, 6);
    close(over.cpuGiven, 4 / 6);
  });

  it('runs the CPU part faster on a faster host', () => {
    close(solveRates(host(4, 1, 2), [job('cpu')], none, p).rate[0]!, 2);
    close(solveRates(host(4, 1, 2), [job('mem')], none, p).rate[0]!, 1 / (0.3 / 2 + 0.7));
  });

  it('stretches io beside another io stream on the same disk by the calibrated disk-sharing factor', () => {
    const continuous = { threads: 1, mix: { cpu: 0, mem: 0, io: 1, wait: 0 }, memBytes: 0 };
    const two = solveRates(host(8, 1), [continuous, continuous], none, p);
    close(two.rate[0]!, 1 / p.diskShareStretch);
    // With a disk each, no stretch.
    close(solveRates(host(8, 2), [continuous, continuous], none, p).rate[0]!, 1);
  });

  it('stretches memory phases under memory pressure only while the CPUs are oversubscribed', () => {
    const full = host(2);
    const heavy = { ...job('mem', 1, 7.5) };
    const free = solveRates(full, [heavy], none, p);
    assert.ok(free.memUsed >= p.memPressureFrom);
    close(free.rate[0]!, 1);
    const busy = solveRates(full, [heavy], { threads: 2, memBytes: 0 }, p);
    const busyNoPressure = solveRates(full, [job('mem')], { threads: 2, memBytes: 0 }, p);
    assert.ok(busy.rate[0]! < busyNoPressure.rate[0]!);
  });

  it('never slows a job that only waits', () => {
    const waiter = { threads: 1, mix: { cpu: 0, mem: 0, io: 0, wait: 1 }, memBytes: 0 };
    close(solveRates(host(1), [waiter, job('cpu', 8), job('io', 4)], { threads: 4, memBytes: 0 }, p).rate[0]!, 1);
  });

  it('counts a job\'s own threads sharing the host in its rate alone', () => {
    close(aloneRate(host(2), job('cpu', 4), p), 0.5);
    close(aloneRate(host(8), job('cpu', 4), p), 1);
  });
});

describe('psiIoLevel', () => {
  // The level a host settles to with these jobs alone on it.
  const level = (cpus: number, disks: number, items: LoadItem[]) => {
    const r = solveRates(host(cpus, disks), items, none, p);
    return psiIoLevel({ cpuWanting: r.cpuWanting, ioStreams: r.ioStreams, memUsed: r.memUsed }, cpus, disks, p);
  };

  it('gives one io-bound job on an idle disk its blocked share, not a stalled host', () => {
    // 0.8 of its time in io, blocked the calibrated share of that: PSI io some ≈ 0.2.
    close(level(8, 1, [job('io')]), 0.8 * p.psiIoPerStream);
    close(level(8, 8, [job('io')]), 0.8 * p.psiIoPerStream);
  });

  it('is diluted by CPU-bound tasks, as the kernel weighs CPUs by their non-idle time', () => {
    const alone = level(8, 1, [job('io')]);
    const beside = level(8, 1, [job('io'), job('cpu', 7)]);
    close(beside, alone / 8);
  });

  it('rises toward 1 only as more io streams share one disk', () => {
    const streams = [1, 2, 4, 8, 32].map((n) => level(64, 1, [job('io', n)]));
    for (let i = 1; i < streams.length; i++) assert.ok(streams[i]! > streams[i - 1]!, `${streams}`);
    assert.ok(streams[0]! < 0.25 && streams[4]! > 0.9, `${streams}`);
    // The same streams spread over a disk each stay at one stream's share.
    close(level(64, 8, [job('io', 8)]), level(64, 1, [job('io')]));
  });
});

describe('HostTimeline', () => {
  it('follows the 1-minute load and avg10 pressure as exponential averages of the level', () => {
    const tl = new HostTimeline(4, 1, p, false);
    tl.set(0, { cpuWanting: 8, ioStreams: 0, memUsed: 0.2 });
    const r = tl.at(60);
    close(r.load1, 8 * (1 - Math.exp(-1)));
    close(r.psiCpu, 1 - Math.exp(-6));
    tl.set(60, { cpuWanting: 0, ioStreams: 0, memUsed: 0.2 });
    close(tl.at(120).load1, r.load1 * Math.exp(-1));
  });

  it('integrates busy time, so a sample averages CPU use over the elim interval', () => {
    const tl = new HostTimeline(4, 1, p, false);
    tl.set(0, { cpuWanting: 0, ioStreams: 0, memUsed: 0 });
    tl.set(95, { cpuWanting: 4, ioStreams: 0, memUsed: 0 });
    const v = sampleValues(tl, { cpus: 4, disks: 1 }, 100, 10, p);
    close(v.busy, 0.5);
    close(v.runnablePerCpu, 1);
  });

  it('refuses a change before the last one, and forgets old segments unless told to keep them', () => {
    const tl = new HostTimeline(4, 1, p, false);
    tl.set(10, { cpuWanting: 1, ioStreams: 0, memUsed: 0 });
    assert.throws(() => tl.set(5, { cpuWanting: 1, ioStreams: 0, memUsed: 0 }), /before the last one/);
    for (let t = 20; t < 1000; t += 10) tl.set(t, { cpuWanting: t % 20 === 0 ? 1 : 0, ioStreams: 0, memUsed: 0 });
    tl.prune(800);
    assert.ok(tl.oldest >= 790 && tl.oldest <= 800);
    const kept = new HostTimeline(4, 1, p, true);
    kept.set(10, { cpuWanting: 1, ioStreams: 0, memUsed: 0 });
    kept.prune(800);
    assert.equal(kept.oldest, 0);
  });
});

describe('toSample', () => {
  // solveRates spreads a host's io streams evenly over its disks; a sample of one disk
  // read the waiters of all of them as one device's queue (io_devices).
  it('lists the host\'s disks, each as busy as the busiest, as its io streams spread over them', () => {
    const v = { busy: 0.5, iowait: 0.1, load1PerCpu: 0.75, runnablePerCpu: 0.5, memUsed: 0.6, diskBusy: 0.4, psiCpu: 0.02, psiIo: 0.6 };
    const named = rawFeatures(toSample(v, 64, 256 * 2 ** 30, 1000, 8));
    assert.equal(named['disk_busy_max'], 0.4);
    assert.equal(named['io_devices'], 8);
    assert.equal(rawFeatures(toSample(v, 64, 256 * 2 ** 30, 1000))['io_devices'], 1);
  });

  it('gives the collectors\' shape, which the daemon\'s features read back', () => {
    const v = { busy: 0.5, iowait: 0.1, load1PerCpu: 0.75, runnablePerCpu: 0.5, memUsed: 0.6, diskBusy: 0.3, psiCpu: 0.02, psiIo: 0.2 };
    const named = rawFeatures(toSample(v, 16, 64 * 2 ** 30, 1000));
    assert.equal(named['cpu_busy'], 0.5);
    assert.equal(named['cpu_iowait'], 0.1);
    // The load's io streams want no CPU: believed up to busy + load × PSI cpu (load1Shown).
    assert.equal(named['load1_per_cpu'], 0.5 + 0.75 * 0.02);
    assert.equal(named['runnable_per_cpu'], 0.5);
    assert.ok(Math.abs(named['mem_used']! - 0.6) < 1e-12);
    assert.equal(named['disk_busy_max'], 0.3);
    assert.equal(named['psi_io_some'], 0.2);
    assert.equal(named['swap_io'], 0);
    assert.equal(named['net_util_max'], null); // no known link speed, as on the calibration VM
    assert.equal(named['gpu_util_max'], null);
  });

  it('keys the cache on values rounded to the quantisation steps', () => {
    const v = { busy: 0.503, iowait: 0, load1PerCpu: 0.741, runnablePerCpu: 0.5, memUsed: 0.6, diskBusy: 0, psiCpu: 0, psiIo: 0 };
    const w = { ...v, busy: 0.497, load1PerCpu: 0.739 };
    assert.equal(sampleKey(16, 1, quantize(v)), sampleKey(16, 1, quantize(w)));
    assert.notEqual(sampleKey(16, 1, quantize(v)), sampleKey(16, 1, quantize({ ...v, busy: 0.52 })));
    assert.notEqual(sampleKey(16, 1, quantize(v)), sampleKey(32, 1, quantize(v)));
  });
});

describe('the host model, its bounds and its parts', () => {
  it('runs only the CPU part of a job faster on a faster host: memory, io and waiting take as long', () => {
    close(idleTimeFactor({ cpu: 0.5, mem: 0.3, io: 0.1, wait: 0.1 }, 2), 0.25 + 0.3 + 0.1 + 0.1);
  });

  it('slows CPU-bound threads by the CPU-sharing overhead only once the CPUs are oversubscribed', () => {
    const q = { ...p, cpuOverhead: 1.25 };
    close(solveRates(host(4), [job('cpu', 4)], none, q).rate[0]!, 1);
    close(solveRates(host(4), [job('cpu', 8)], none, q).rate[0]!, 0.5 / 1.25);
  });

  it('counts the background memory in the memory used', () => {
    const h = host(4);
    close(solveRates(h, [job('cpu', 1, 4)], { threads: 0, memBytes: h.memBytes / 2 }, p).memUsed, 0.5 + 4 / 16);
  });

  it('keeps busy, iowait and PSI cpu shares within 0..1 however oversubscribed the host', () => {
    const crowded = { cpuWanting: 20, ioStreams: 3, memUsed: 0.5 };
    assert.equal(busyShare(crowded, 4), 1);
    assert.equal(iowaitShare(crowded, 4, p), 0); // no idle CPU left to count iowait on
    assert.equal(psiCpuLevel(crowded, 4), 1);
    close(iowaitShare({ cpuWanting: 2, ioStreams: 4, memUsed: 0.5 }, 4, p), 0.5); // 4 × 0.59 / 4 capped at the idle half
  });
});
