// CPU time fractions from /proc/stat, as deltas of the aggregate `cpu` line.
import { kernelFile, procPath } from './procfs.js';
import { badFile, badLine, byteIndex, bytesAt, counterAt, onlySpacesAndNewlines, toNumber, tokens } from './text.js';
import type { Collector, CollectorOptions, CpuReading } from './types.js';

const NAME = 'cpu';

// Jiffies (USER_HZ) per state, as /proc/stat prints them. guest and guest_nice are
// left out: the kernel already counts them in user and nice.
export interface CpuTimes {
  user: number;
  nice: number;
  system: number;
  idle: number;
  iowait: number;
  irq: number;
  softirq: number;
  steal: number;
}

// What the CPU collector needs from one reading of /proc/stat.
export interface StatCounters {
  total: CpuTimes; // the aggregate `cpu` line, summed over every possible CPU
  cpus: string[]; // names of the cpuN lines: the online CPUs
  processes?: number; // forks since boot
}

const FIELDS = ['user', 'nice', 'system', 'idle', 'iowait', 'irq', 'softirq', 'steal'] as const;

// Parses /proc/stat. Kernels before 2.6.11 print fewer than eight times; the missing ones are 0.
export function parseStat(text: string, file = '/proc/stat'): StatCounters {
  let total: CpuTimes | undefined;
  const cpus: string[] = [];
  let processes: number | undefined;
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] ?? '';
    if (line.startsWith('cpu')) {
      const t = tokens(line);
      const label = t[0] ?? '';
      if (label !== 'cpu' && !/^cpu\d+$/.test(label)) throw badLine(NAME, file, i + 1, line, 'unknown cpu label');
      if (t.length < 5) throw badLine(NAME, file, i + 1, line, `expected at least 4 times, found ${t.length - 1}`);
      const times = { user: 0, nice: 0, system: 0, idle: 0, iowait: 0, irq: 0, softirq: 0, steal: 0 };
      for (let f = 0; f < FIELDS.length && f + 1 < t.length; f++) {
        const v = toNumber(t[f + 1]);
        if (v === undefined || v < 0) throw badLine(NAME, file, i + 1, line, `${FIELDS[f]} is not a count`);
        times[FIELDS[f] as keyof CpuTimes] = v;
      }
      if (label === 'cpu') total = times;
      else cpus.push(label);
    } else if (line.startsWith('processes ')) {
      const v = toNumber(tokens(line)[1]);
      if (v === undefined) throw badLine(NAME, file, i + 1, line, 'processes is not a count');
      processes = v;
    }
  }
  if (total === undefined) throw badFile(NAME, file, 'no aggregate cpu line');
  if (cpus.length === 0) throw badFile(NAME, file, 'no cpuN lines');
  const out: StatCounters = { total, cpus };
  if (processes !== undefined) out.processes = processes;
  return out;
}

// The cpuN lines a reading of /proc/stat had: their names, and each name followed by
// the space the kernel prints after it, to look for at the start of a line.
export interface CpuSet {
  names: string[];
  prefixes: Buffer[];
}

// The CpuSet of a list of cpuN names.
export function cpuSet(names: string[]): CpuSet {
  return { names, prefixes: names.map((n) => Buffer.from(`${n} `, 'latin1')) };
}

const NL_CPU = Buffer.from('\ncpu', 'latin1');
const CPU = Buffer.from('cpu', 'latin1');
const SPACE = 32;
const NEWLINE = 10;

// The hot path's reading of /proc/stat, from its bytes without making strings: the
// aggregate line as the kernel prints it ("cpu  " then eight times, single spaces),
// and a check that the cpuN lines follow it, exactly `known` in order, with no
// other cpu line anywhere after them, without reading their numbers. Undefined for
// anything else (hotplug, an old kernel's shorter line, garbage), for parseStat to
// read or reject. When it returns, its cpus is known.names itself, and parseStat
// would give the same total and names, or reject a line this does not read.
export function scanStat(bytes: Buffer, known: CpuSet): StatCounters | undefined {
  if (!bytesAt(bytes, CPU, 0) || bytes[3] !== SPACE || !onlySpacesAndNewlines(bytes)) return undefined;
  let p = 4;
  while (bytes[p] === SPACE) p++;
  const newline = byteIndex(bytes, NEWLINE, p);
  if (newline < 0) return undefined;
  const times = [0, 0, 0, 0, 0, 0, 0, 0];
  for (let f = 0; f < 8; f++) {
    let end = byteIndex(bytes, SPACE, p);
    if (end < 0 || end > newline) end = f === 7 ? newline : -1;
    if (end <= p) return undefined;
    const v = counterAt(bytes, p, end);
    if (v < 0) return undefined;
    times[f] = v;
    p = end + 1;
  }
  const prefixes = known.prefixes;
  if (prefixes.length === 0) return undefined;
  let nl = newline;
  // Indexed loops on the hot paths: an interpreted for-of allocates a result object per step.
  for (let i = 0; i < prefixes.length; i++) {
    const prefix = prefixes[i]!;
    if (nl < 0 || !bytesAt(bytes, prefix, nl + 1)) return undefined;
    nl = byteIndex(bytes, NEWLINE, nl + 1 + prefix.length);
  }
  if (nl >= 0 && bytes.indexOf(NL_CPU, nl) >= 0) return undefined;
  const total: CpuTimes = {
    user: times[0]!,
    nice: times[1]!,
    system: times[2]!,
    idle: times[3]!,
    iowait: times[4]!,
    irq: times[5]!,
    softirq: times[6]!,
    steal: times[7]!,
  };
  return { total, cpus: known.names };
}

function sum(t: CpuTimes): number {
  return t.user + t.nice + t.system + t.idle + t.iowait + t.irq + t.softirq + t.steal;
}

// The fractions between two readings, or undefined when they cannot be compared:
// the set of online CPUs changed (hotplug: an offline CPU's idle time is accounted
// differently, so the aggregate jumps), a counter went backwards, or no time passed.
export function cpuFractions(before: StatCounters, now: StatCounters): CpuReading | undefined {
  if (before.cpus !== now.cpus && (before.cpus.length !== now.cpus.length || before.cpus.some((name, i) => now.cpus[i] !== name))) return undefined;
  const a = before.total;
  const b = now.total;
  const d = {
    user: b.user - a.user,
    nice: b.nice - a.nice,
    system: b.system - a.system,
    irq: b.irq - a.irq,
    softirq: b.softirq - a.softirq,
    steal: b.steal - a.steal,
  };
  if (Object.values(d).some((v) => v < 0)) return undefined;
  // proc(5): iowait "may decrease in certain conditions" (with NO_HZ a sleeping CPU's
  // time moves from iowait to idle when the task it waited for wakes elsewhere). The
  // sum of the two only grows, so split that sum instead of dropping the tick.
  const idleIowait = b.idle + b.iowait - (a.idle + a.iowait);
  if (idleIowait < 0) return undefined;
  const iowait = Math.min(idleIowait, Math.max(0, b.iowait - a.iowait));
  const total = sum(b) - sum(a);
  if (!(total > 0)) return undefined;
  return {
    user: (d.user + d.nice) / total,
    system: (d.system + d.irq + d.softirq) / total,
    iowait: iowait / total,
    steal: d.steal / total,
    busy: (total - idleIowait) / total,
    online: now.cpus.length,
  };
}

// Reads /proc/stat each tick; fractions are over all online CPUs (the aggregate line
// sums them, so 0.5 on a 2-CPU host means one CPU's worth of work). scanStat reads
// it while the CPU set stays the same; parseStat on the first tick, after a change,
// and for text scanStat does not expect.
export function createCpuCollector(options: CollectorOptions = {}): Collector<'cpu'> {
  const file = kernelFile(NAME, procPath(options.procRoot ?? '/proc', 'stat'));
  let previous: StatCounters | undefined;
  let known: CpuSet = cpuSet([]);
  return {
    name: NAME,
    collect() {
      const bytes = file.bytes();
      let now = scanStat(bytes, known);
      if (now === undefined) {
        now = parseStat(bytes.toString('latin1', 0, bytes.length), file.path);
        known = cpuSet(now.cpus);
      }
      const before = previous;
      previous = now;
      return before === undefined ? undefined : cpuFractions(before, now);
    },
    close: file.close,
  };
}
