// Memory use from /proc/meminfo, and swap and major-fault rates from /proc/vmstat.
import { procPath, readKernelText } from './procfs.js';
import { badFile, badLine, ratePerSec, toNumber, tokens } from './text.js';
import type { Collector, CollectorOptions, MemoryReading } from './types.js';

const NAME = 'memory';

// The /proc/meminfo values the collector uses, in bytes.
export interface MeminfoCounters {
  totalBytes: number;
  freeBytes: number;
  availableBytes?: number; // MemAvailable, kernels >= 3.14 (and RHEL 6.6+ backports)
  buffersBytes: number;
  cachedBytes: number;
  swapTotalBytes: number;
  swapFreeBytes: number;
}

// Parses /proc/meminfo ("MemTotal:  24684084 kB"). Every line must be a name and a
// number; only the ones lavarank uses are kept.
export function parseMeminfo(text: string, file = '/proc/meminfo'): MeminfoCounters {
  const values = new Map<string, number>();
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] ?? '';
    if (line.trim() === '') continue;
    const colon = line.indexOf(':');
    const t = tokens(line.slice(colon + 1));
    const v = toNumber(t[0]);
    const unit = t[1];
    if (colon <= 0 || v === undefined || t.length > 2 || (unit !== undefined && unit !== 'kB')) {
      throw badLine(NAME, file, i + 1, line, 'expected "Name: value [kB]"');
    }
    values.set(line.slice(0, colon), unit === 'kB' ? v * 1024 : v);
  }
  const totalBytes = values.get('MemTotal');
  if (totalBytes === undefined || !(totalBytes > 0)) throw badFile(NAME, file, 'no positive MemTotal');
  const out: MeminfoCounters = {
    totalBytes,
    freeBytes: values.get('MemFree') ?? 0,
    buffersBytes: values.get('Buffers') ?? 0,
    cachedBytes: values.get('Cached') ?? 0,
    swapTotalBytes: values.get('SwapTotal') ?? 0,
    swapFreeBytes: values.get('SwapFree') ?? 0,
  };
  const available = values.get('MemAvailable');
  if (available !== undefined) out.availableBytes = available;
  return out;
}

// The /proc/vmstat counters the collector uses; absent when the kernel does not print them.
export interface VmstatCounters {
  pswpin?: number; // pages swapped in since boot
  pswpout?: number;
  pgmajfault?: number;
}

const VMSTAT_KEYS = new Set(['pswpin', 'pswpout', 'pgmajfault']);

// Parses /proc/vmstat ("pgmajfault 366"); every line must be a name and a number.
export function parseVmstat(text: string, file = '/proc/vmstat'): VmstatCounters {
  const out: VmstatCounters = {};
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] ?? '';
    if (line === '') continue;
    const t = tokens(line);
    const v = toNumber(t[1]);
    if (t.length !== 2 || v === undefined) throw badLine(NAME, file, i + 1, line, 'expected "name value"');
    const key = t[0] ?? '';
    if (VMSTAT_KEYS.has(key)) out[key as keyof VmstatCounters] = v;
  }
  return out;
}

// Used and swap fractions of one meminfo reading. Without MemAvailable (kernels
// before 3.14) the available memory is estimated as MemFree + Buffers + Cached,
// which overstates it a little (some cache cannot be dropped).
export function memoryFractions(m: MeminfoCounters): MemoryReading {
  const available = Math.min(m.totalBytes, m.availableBytes ?? m.freeBytes + m.buffersBytes + m.cachedBytes);
  const swapUsed = Math.max(0, m.swapTotalBytes - m.swapFreeBytes);
  return {
    totalBytes: m.totalBytes,
    availableBytes: available,
    usedFraction: 1 - available / m.totalBytes,
    swapTotalBytes: m.swapTotalBytes,
    swapUsedFraction: m.swapTotalBytes > 0 ? swapUsed / m.swapTotalBytes : 0,
  };
}

// The memory collector always has a reading; only its rates need a delta.
export interface MemoryCollector extends Collector<'memory'> {
  collect(monotonicMs: number): MemoryReading;
}

// Reads meminfo and vmstat each tick. The fractions are there from the first tick;
// the per-second rates from the second, each left out for a tick when its counter
// went backwards.
export function createMemoryCollector(options: CollectorOptions = {}): MemoryCollector {
  const root = options.procRoot ?? '/proc';
  const meminfoFile = procPath(root, 'meminfo');
  const vmstatFile = procPath(root, 'vmstat');
  let previous: { at: number; vm: VmstatCounters } | undefined;
  return {
    name: NAME,
    collect(monotonicMs): MemoryReading {
      const reading = memoryFractions(parseMeminfo(readKernelText(NAME, meminfoFile), meminfoFile));
      const vm = parseVmstat(readKernelText(NAME, vmstatFile), vmstatFile);
      const before = previous;
      previous = { at: monotonicMs, vm };
      if (before !== undefined) {
        const seconds = (monotonicMs - before.at) / 1000;
        const rate = (key: keyof VmstatCounters): number | undefined => {
          const now = vm[key];
          const then = before.vm[key];
          return now === undefined || then === undefined ? undefined : ratePerSec(now, then, seconds);
        };
        const swapIn = rate('pswpin');
        const swapOut = rate('pswpout');
        const faults = rate('pgmajfault');
        if (swapIn !== undefined) reading.swapInPerSec = swapIn;
        if (swapOut !== undefined) reading.swapOutPerSec = swapOut;
        if (faults !== undefined) reading.majorFaultsPerSec = faults;
      }
      return reading;
    },
  };
}
