// Memory use from /proc/meminfo, and swap and major-fault rates from /proc/vmstat.
import { kernelFile, procPath } from './procfs.js';
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

// Where the value of the last line starting with `key` begins, or -1 (the parsers
// also keep the last one of a name).
function lineValueAt(text: string, key: string, afterNewline: string): number {
  const at = text.lastIndexOf(afterNewline);
  if (at >= 0) return at + afterNewline.length;
  return text.startsWith(key) ? key.length : -1;
}

// A meminfo value as the kernel prints it: padded with spaces, in kB.
const MEMINFO_VALUE = / *(\d{1,30}) kB\n/y;

const MEMINFO_KEYS = ['MemTotal:', 'MemFree:', 'MemAvailable:', 'Buffers:', 'Cached:', 'SwapTotal:', 'SwapFree:'] as const;
const MEMINFO_AFTER_NEWLINE = MEMINFO_KEYS.map((k) => `\n${k}`);

// The hot path's reading of /proc/meminfo: the seven lines used, found by name. Undefined
// when one is missing (an old kernel without MemAvailable) or not in the kernel's
// layout, for parseMeminfo to read or reject; when it returns, parseMeminfo agrees
// or rejects a line this does not read.
export function scanMeminfo(text: string): MeminfoCounters | undefined {
  const v: number[] = [];
  for (let i = 0; i < MEMINFO_KEYS.length; i++) {
    const at = lineValueAt(text, MEMINFO_KEYS[i]!, MEMINFO_AFTER_NEWLINE[i]!);
    if (at < 0) return undefined;
    MEMINFO_VALUE.lastIndex = at;
    const m = MEMINFO_VALUE.exec(text);
    if (m === null) return undefined;
    v.push(Number(m[1]) * 1024);
  }
  const [totalBytes, freeBytes, availableBytes, buffersBytes, cachedBytes, swapTotalBytes, swapFreeBytes] = v as [number, number, number, number, number, number, number];
  if (!(totalBytes > 0)) return undefined;
  return { totalBytes, freeBytes, availableBytes, buffersBytes, cachedBytes, swapTotalBytes, swapFreeBytes };
}

const VMSTAT_NAMES = ['pswpin ', 'pswpout ', 'pgmajfault '].map((k) => Buffer.from(k, 'latin1'));
const VMSTAT_AFTER_NEWLINE = VMSTAT_NAMES.map((k) => Buffer.concat([Buffer.from('\n'), k]));
const VMSTAT_VALUE = /(\d{1,30})(?:\n|$)/y;

// Where the value of the last line of bytes starting with `key` begins, or -1.
function bytesValueAt(bytes: Buffer, key: Buffer, afterNewline: Buffer): number {
  const at = bytes.lastIndexOf(afterNewline);
  if (at >= 0) return at + afterNewline.length;
  return bytes.length >= key.length && bytes.compare(key, 0, key.length, 0, key.length) === 0 ? key.length : -1;
}

// The hot path's reading of /proc/vmstat: the three counters used, found by name among
// the ~190 lines, without making a string of the file. Undefined when one is missing or
// not in the kernel's layout, for parseVmstat to read or reject; when it returns,
// parseVmstat agrees or rejects a line this does not read.
export function scanVmstat(bytes: Buffer): VmstatCounters | undefined {
  const v: number[] = [];
  for (let i = 0; i < VMSTAT_NAMES.length; i++) {
    const at = bytesValueAt(bytes, VMSTAT_NAMES[i]!, VMSTAT_AFTER_NEWLINE[i]!);
    if (at < 0) return undefined;
    VMSTAT_VALUE.lastIndex = 0;
    const m = VMSTAT_VALUE.exec(bytes.toString('latin1', at, Math.min(bytes.length, at + 32)));
    if (m === null) return undefined;
    v.push(Number(m[1]));
  }
  return { pswpin: v[0]!, pswpout: v[1]!, pgmajfault: v[2]! };
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
  const meminfoFile = kernelFile(NAME, procPath(root, 'meminfo'));
  const vmstatFile = kernelFile(NAME, procPath(root, 'vmstat'));
  let previous: { at: number; vm: VmstatCounters } | undefined;
  return {
    name: NAME,
    collect(monotonicMs): MemoryReading {
      const meminfo = meminfoFile.text();
      const reading = memoryFractions(scanMeminfo(meminfo) ?? parseMeminfo(meminfo, meminfoFile.path));
      const vmstat = vmstatFile.bytes();
      const vm = scanVmstat(vmstat) ?? parseVmstat(vmstat.toString('latin1', 0, vmstat.length), vmstatFile.path);
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
    close() {
      meminfoFile.close();
      vmstatFile.close();
    },
  };
}
