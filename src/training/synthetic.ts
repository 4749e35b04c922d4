// A synthetic calibration dataset, in the format `lavarank calibrate` writes
// ({sample, slowdown} per line), for building and testing the training pipeline
// before a real calibration of this kind of machine exists. The probe's slowdown
// follows a made-up but physically shaped rule (CPU sharing once tasks outnumber
// CPUs, memory-bandwidth and cache contention, fsync behind a disk writer, paging
// under memory pressure), and the sample is what lavarank's collectors would show
// just before the probe, with the lags and noise real ones have (the 1-minute load
// trails a stressor that started seconds ago). Nothing here describes a real host.
import type { Sample } from '../collectors/types.js';
import type { CalibrationRecord } from './dataset.js';
import { seededRandom } from '../util/random.js';

// Options of syntheticCalibration.
export interface SyntheticOptions {
  count?: number; // probes; default 600
  seed?: number; // default 1
  ncpu?: number; // default 8
}

function normal(rand: () => number): number {
  return Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());
}

const clamp = (x: number, lo: number, hi: number): number => Math.min(hi, Math.max(lo, x));
const round = (x: number, digits = 4): number => Math.round(x * 10 ** digits) / 10 ** digits;

// Generates probes under random mixes of stressors; the same seed gives the same records.
export function syntheticCalibration(options: SyntheticOptions = {}): CalibrationRecord[] {
  const count = options.count ?? 600;
  const ncpu = options.ncpu ?? 8;
  const rand = seededRandom(options.seed ?? 1);
  const records: CalibrationRecord[] = [];
  let previousLoad = 0;
  let ts = Date.UTC(2026, 10, 20, 9, 0, 0);
  const memTotal = 32 * 2 ** 30;
  for (let i = 0; i < count; i++) {
    // The stressor mix for this probe.
    const hogs = rand() < 0.3 ? 0 : Math.floor(rand() * (2 * ncpu + 1));
    const bandwidthHog = rand() < 0.25 ? 1 : 0;
    const pressured = rand() < 0.2;
    const mem = pressured ? 0.85 + 0.14 * rand() : 0.15 + 0.55 * rand();
    const disk = rand() < 0.3 ? 0.2 + 0.8 * rand() : 0;
    const steal = rand() < 0.1 ? 0.15 * rand() : 0;
    const warmupSec = 15 + 75 * rand();

    // The probe: half CPU work, a quarter memory streaming, a quarter fsync'd writes.
    const cpuTasks = hogs + bandwidthHog;
    const busyShare = Math.min(1, cpuTasks / ncpu);
    const paging = Math.max(0, mem - 0.9) / 0.1; // 0..~0.9
    const cpuPart = 0.5 * Math.max(1, (cpuTasks + 1) / ncpu) * (1 + 0.08 * busyShare) / (1 - steal);
    const memPart = 0.25 * (1 + 0.7 * bandwidthHog + 0.15 * busyShare) * (1 + 5 * paging * paging);
    const ioPart = 0.25 * (1 + 5 * disk + 2 * paging);
    const ratio = (cpuPart + memPart + ioPart) * (1 + 0.03 * normal(rand));
    const slowdown = round(100 * (ratio - 1) + 2 * normal(rand), 2);

    // What the collectors show just before the probe starts.
    const dState = disk + 2 * paging; // tasks in uninterruptible sleep count in the load
    const settled = 1 - Math.exp(-warmupSec / 60);
    const load1 = Math.max(0, (cpuTasks + dState) * settled + previousLoad * (1 - settled) + 0.1 * normal(rand));
    previousLoad = cpuTasks + dState;
    const runnable = Math.max(0, cpuTasks + Math.floor(rand() * 1.4));
    const busy = clamp((cpuTasks + 0.3 * disk + 0.02 * ncpu) / ncpu + 0.01 * normal(rand), 0, 1);
    const iowait = clamp(((0.6 * disk + 0.5 * paging) / ncpu) * (1 - busy) + 0.002 * rand(), 0, 1);
    const majorFaults = pressured ? Math.exp(2 + 7 * paging + 0.5 * normal(rand)) : 5 * rand();
    const swapOut = mem > 0.93 ? 3000 * ((mem - 0.93) / 0.07) * rand() : 0;
    const swapIn = mem > 0.93 ? 0.7 * swapOut * rand() : 0;
    const diskBusy = clamp(disk * (0.9 + 0.1 * rand()) + 0.4 * paging + 0.01 * rand(), 0, 1);
    const cpuSome = clamp(Math.max(0, (cpuTasks - ncpu) / ncpu) * 0.9 + 0.02 * busyShare + 0.01 * rand(), 0, 1);
    const memSome = clamp(0.5 * paging + 0.05 * paging * normal(rand), 0, 1);
    const ioSome = clamp(0.8 * disk + 0.3 * paging + 0.01 * rand(), 0, 1);
    const rx = Math.round(2e5 * rand());
    const tx = Math.round(1e5 * rand());
    const netUtil = round((Math.max(rx, tx) * 8) / 1e10, 6);
    ts += Math.round((60 + 30 * rand()) * 1000);

    const sample: Sample = {
      ts,
      failures: {},
      cpu: {
        user: round(busy * 0.85),
        system: round(busy * 0.15),
        iowait: round(iowait),
        steal: round(steal),
        busy: round(busy),
        online: ncpu,
      },
      load: {
        load1: round(load1, 2),
        load1PerCpu: round(load1 / ncpu),
        runnable,
        runnablePerCpu: round(runnable / ncpu),
        online: ncpu,
      },
      memory: {
        totalBytes: memTotal,
        availableBytes: Math.round(memTotal * (1 - mem)),
        usedFraction: round(mem),
        swapTotalBytes: 8 * 2 ** 30,
        swapUsedFraction: round(mem > 0.93 ? 0.3 * rand() : 0.01 * rand()),
        swapInPerSec: round(swapIn, 1),
        swapOutPerSec: round(swapOut, 1),
        majorFaultsPerSec: round(majorFaults, 1),
      },
      disk: {
        devices: [
          { name: 'nvme0n1', busy: round(diskBusy), readBytesPerSec: Math.round(2e6 * paging), writeBytesPerSec: Math.round(4e8 * disk) },
          { name: 'sda', busy: round(0.01 * rand()), readBytesPerSec: 0, writeBytesPerSec: Math.round(1e4 * rand()) },
        ],
        busiest: 'nvme0n1',
        busyMax: round(diskBusy),
        busyMean: round(diskBusy / 2),
        readBytesPerSec: Math.round(2e6 * paging),
        writeBytesPerSec: Math.round(4e8 * disk),
      },
      network: {
        interfaces: [{ name: 'eth0', rxBytesPerSec: rx, txBytesPerSec: tx, speedBitsPerSec: 1e10, utilization: netUtil }],
        rxBytesPerSec: rx,
        txBytesPerSec: tx,
        utilizationMax: netUtil,
      },
      pressure: {
        cpuSome: round(cpuSome),
        cpuFull: 0,
        memorySome: round(memSome),
        memoryFull: round(memSome * 0.6),
        ioSome: round(ioSome),
        ioFull: round(ioSome * 0.7),
      },
    };
    records.push({
      sample,
      slowdown,
      synthetic: true,
      stressors: { cpuHogs: hogs, bandwidthHog, memoryUsed: round(mem, 3), diskWriter: round(disk, 3), steal: round(steal, 3), warmupSec: Math.round(warmupSec) },
    });
  }
  return records;
}
