// Memory use from /proc/meminfo, and swap and major-fault rates from /proc/vmstat.
import { createMemoryLimitReader } from './cgroup.js';
import { kernelFile, procPath } from './procfs.js';
import { badFile, badLine, byteIndex, bytesAt, counterAt, latin1At, numberSlots, ratePerSec, toNumber, tokens } from './text.js';
import type { Collector, CollectorOptions, MemoryReading } from './types.js';

const NAME = 'memory';

// The /proc/meminfo values the collector uses, in bytes.
export interface MeminfoCounters {
  totalBytes: number;
  freeBytes: number;
  availableBytes?: number; // MemAvailable, kernels >= 3.14 (and RHEL 6.6+ backports)
  buffersBytes: number;
  cachedBytes: number;
  shmemBytes?: number; // tmpfs and shared memory, counted in Cached (kernels >= 2.6.32); kept only without MemAvailable, for its estimate
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
  const shmem = values.get('Shmem');
  if (available !== undefined) out.availableBytes = available;
  else if (shmem !== undefined) out.shmemBytes = shmem;
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

// The meminfo values the hot path reads, in the order of its slots.
const MEMINFO_NAMES = ['MemTotal:', 'MemFree:', 'MemAvailable:', 'Buffers:', 'Cached:', 'SwapTotal:', 'SwapFree:'];
const MEMINFO_AFTER_NEWLINE = MEMINFO_NAMES.map((k) => `\n${k}`);
const TOTAL = 0;
const FREE = 1;
const AVAILABLE = 2;
const BUFFERS = 3;
const CACHED = 4;
const SWAP_TOTAL = 5;
const SWAP_FREE = 6;
// Slots for a meminfo reading in bytes, MEMINFO_NAMES's order (AVAILABLE the estimate
// without MemAvailable: meminfoInto), from numberSlots: the hot path reads it without an object, and
// the fractions read each value without the copy an object's field costs.
export const MEMINFO_SLOTS = 7;

// Where the value of the last line of bytes starting with `key` begins, or -1 (the
// parsers also keep the last one of a name). For /proc/vmstat (4 kB, the three names
// past its middle), where a string of the file and textValueAt's searches cost more.
function bytesValueAt(bytes: Buffer, key: Buffer, afterNewline: Buffer): number {
  const at = bytes.lastIndexOf(afterNewline);
  if (at >= 0) return at + afterNewline.length;
  return bytesAt(bytes, key, 0) ? key.length : -1;
}

// Where the value of the last line of text starting with `key` begins, or -1 (the
// parsers also keep the last one of a name). `text` is the file's bytes as latin1, one
// character a byte. V8's string search, forward, finds the line and then looks for a
// later one: two native searches, where Buffer's lastIndexOf checked its arguments in
// JavaScript and searched backwards (7 500 instructions a name on a 1.5 kB meminfo
// under --lite-mode, against 3 000–4 000). A name found twice is looked for again from
// the end, as before.
function textValueAt(text: string, key: string, afterNewline: string): number {
  const at = text.indexOf(afterNewline);
  if (at >= 0) {
    const last = text.indexOf(afterNewline, at + 1) < 0 ? at : text.lastIndexOf(afterNewline);
    return last + afterNewline.length;
  }
  return text.startsWith(key) ? key.length : -1;
}

// A meminfo value as the kernel prints it ("%8lu", then " kB"): padded with spaces.
const PADDED_COUNT = /^ *\d{1,30}$/;
const NEWLINE = 10;

// The hot path's reading of /proc/meminfo: the seven lines used, found by name in one
// string of the file (1.5 kB, textValueAt), their values in bytes written into `into`
// (meminfo slots). False when one is missing (an old kernel without MemAvailable), not
// in the kernel's layout or MemTotal is not positive, for parseMeminfo to read or
// reject; `into` may then hold some of the values. When it returns true, parseMeminfo
// agrees, or rejects a line this does not read.
export function scanMeminfo(bytes: Buffer, into: Array<number | undefined>): boolean {
  const text = latin1At(bytes, 0, bytes.length);
  // What the loop reads per name, in locals: in the interpreter each read of a module
  // binding is a context load and a hole check (ThrowReferenceErrorIfHole).
  const names = MEMINFO_NAMES;
  const afterNewline = MEMINFO_AFTER_NEWLINE;
  const valueAt = textValueAt;
  const find = byteIndex;
  const padded = PADDED_COUNT;
  const newlineByte = NEWLINE;
  for (let i = 0; i < names.length; i++) {
    const at = valueAt(text, names[i]!, afterNewline[i]!);
    if (at < 0) return false;
    const newline = find(bytes, newlineByte, at);
    const end = newline - 3; // " kB"
    if (end <= at || bytes[end] !== 32 || bytes[end + 1] !== 107 || bytes[end + 2] !== 66) return false; // ' ', 'k', 'B'
    const value = text.slice(at, end);
    if (!padded.test(value)) return false;
    into[i] = Number(value) * 1024;
  }
  return into[TOTAL]! > 0;
}

// Writes a parsed meminfo reading into meminfo slots; without MemAvailable, its estimate
// (memoryFractions) in that slot.
function meminfoInto(m: MeminfoCounters, into: Array<number | undefined>): void {
  into[TOTAL] = m.totalBytes;
  into[FREE] = m.freeBytes;
  into[AVAILABLE] = m.availableBytes ?? m.freeBytes + m.buffersBytes + (m.shmemBytes === undefined ? m.cachedBytes : Math.max(0, m.cachedBytes - m.shmemBytes));
  into[BUFFERS] = m.buffersBytes;
  into[CACHED] = m.cachedBytes;
  into[SWAP_TOTAL] = m.swapTotalBytes;
  into[SWAP_FREE] = m.swapFreeBytes;
}

const VMSTAT_NAMES = ['pswpin ', 'pswpout ', 'pgmajfault '].map((k) => Buffer.from(k, 'latin1'));
const VMSTAT_AFTER_NEWLINE = VMSTAT_NAMES.map((k) => Buffer.concat([Buffer.from('\n'), k]));
// Slots for the vmstat counters, VMSTAT_NAMES's order (each undefined when the kernel
// does not print it), from numberSlots.
export const VMSTAT_SLOTS = 3;

// The hot path's reading of /proc/vmstat: the three counters used, found by name among
// the ~190 lines, without making a string of the file, written into `into` (vmstat
// slots). False when one is missing or not in the kernel's layout, for parseVmstat to
// read or reject; `into` may then hold some of them. When it returns true, parseVmstat
// agrees, or rejects a line this does not read.
export function scanVmstat(bytes: Buffer, into: Array<number | undefined>): boolean {
  // In locals, as in scanMeminfo.
  const names = VMSTAT_NAMES;
  const afterNewline = VMSTAT_AFTER_NEWLINE;
  const find = byteIndex;
  const counter = counterAt;
  for (let i = 0; i < names.length; i++) {
    const at = bytesValueAt(bytes, names[i]!, afterNewline[i]!);
    if (at < 0) return false;
    const newline = find(bytes, 10, at);
    const v = counter(bytes, at, newline < 0 ? bytes.length : newline);
    if (v < 0) return false;
    into[i] = v;
  }
  return true;
}

// Writes a parsed vmstat reading into vmstat slots.
function vmstatInto(v: VmstatCounters, into: Array<number | undefined>): void {
  into[0] = v.pswpin;
  into[1] = v.pswpout;
  into[2] = v.pgmajfault;
}

// Used and swap fractions of one meminfo reading. Without MemAvailable (kernels
// before 3.14) the available memory is estimated as MemFree + Buffers + Cached less
// Shmem: Cached includes tmpfs and shared memory (Documentation/filesystems/proc.rst),
// which cannot be dropped, and on a node whose /tmp or /dev/shm holds most of its
// memory counting them made it look empty. It still overstates a little (mapped and
// dirty cache).
export function memoryFractions(m: MeminfoCounters): MemoryReading {
  const slots: Array<number | undefined> = numberSlots(MEMINFO_SLOTS);
  meminfoInto(m, slots);
  return fractionsOf(slots);
}

// memoryFractions of a reading in meminfo slots.
function fractionsOf(m: ReadonlyArray<number | undefined>): MemoryReading {
  const total = m[TOTAL]!;
  const swapTotal = m[SWAP_TOTAL]!;
  const available = Math.min(total, m[AVAILABLE]!);
  const swapUsed = Math.max(0, swapTotal - m[SWAP_FREE]!);
  return {
    totalBytes: total,
    availableBytes: available,
    usedFraction: 1 - available / total,
    swapTotalBytes: swapTotal,
    swapUsedFraction: swapTotal > 0 ? swapUsed / swapTotal : 0,
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
  const meminfoFile = kernelFile(NAME, procPath(root, 'meminfo'), options.keepOpen);
  const vmstatFile = kernelFile(NAME, procPath(root, 'vmstat'), options.keepOpen);
  const meminfo: Array<number | undefined> = numberSlots(MEMINFO_SLOTS);
  // Two vmstat readings, swapped each report: the hot path writes into the older one, so
  // that a file it cannot read, and parseVmstat then rejects, leaves the last one as it was.
  let previous: Array<number | undefined> = numberSlots(VMSTAT_SLOTS);
  let spare: Array<number | undefined> = numberSlots(VMSTAT_SLOTS);
  let previousAt: number | undefined; // undefined before the first reading
  // The memory limit of lavarank's cgroup (a container's): read per report only where one is set.
  const limit = createMemoryLimitReader(root, options.sysRoot ?? '/sys', options.keepOpen);
  return {
    name: NAME,
    collect(monotonicMs): MemoryReading {
      const meminfoBytes = meminfoFile.bytes();
      const reading = scanMeminfo(meminfoBytes, meminfo)
        ? fractionsOf(meminfo)
        : memoryFractions(parseMeminfo(latin1At(meminfoBytes, 0, meminfoBytes.length), meminfoFile.path));
      const vmstat = vmstatFile.bytes();
      const now = spare;
      if (!scanVmstat(vmstat, now)) vmstatInto(parseVmstat(latin1At(vmstat, 0, vmstat.length), vmstatFile.path), now);
      const before = previous;
      const beforeAt = previousAt;
      previous = now;
      previousAt = monotonicMs;
      spare = before;
      if (beforeAt !== undefined) {
        const seconds = (monotonicMs - beforeAt) / 1000;
        const swapIn = ratePerSec(now[0], before[0], seconds);
        const swapOut = ratePerSec(now[1], before[1], seconds);
        const faults = ratePerSec(now[2], before[2], seconds);
        if (swapIn !== undefined) reading.swapInPerSec = swapIn;
        if (swapOut !== undefined) reading.swapOutPerSec = swapOut;
        if (faults !== undefined) reading.majorFaultsPerSec = faults;
      }
      const inCgroup = limit.read(reading.totalBytes, monotonicMs);
      if (inCgroup !== undefined) {
        reading.cgroupLimitBytes = inCgroup.limitBytes;
        reading.cgroupUsedFraction = inCgroup.usedFraction;
        // A job there pages within that limit: /proc/vmstat counts every cgroup's paging on
        // the machine (a neighbour container's swapping read as this one's), so the cgroup's
        // own counts stand in for it, and a rate it has no counter for (v1's swap) is left out.
        const paging = inCgroup.paging;
        reading.majorFaultsPerSec = paging?.majorFaultsPerSec;
        reading.swapInPerSec = paging?.swapInPerSec;
        reading.swapOutPerSec = paging?.swapOutPerSec;
        if (inCgroup.pressureSome !== undefined) reading.cgroupPressureSome = inCgroup.pressureSome;
      }
      return reading;
    },
    close() {
      meminfoFile.close();
      vmstatFile.close();
      limit.close();
    },
  };
}

