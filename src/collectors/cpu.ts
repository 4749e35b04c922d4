// CPU time fractions from /proc/stat, as deltas of the aggregate `cpu` line.
import { procPath, readKernelText } from './procfs.js';
import { badFile, badLine, toNumber, tokens } from './text.js';
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

function sum(t: CpuTimes): number {
  return t.user + t.nice + t.system + t.idle + t.iowait + t.irq + t.softirq + t.steal;
}

// The fractions between two readings, or undefined when they cannot be compared:
// the set of online CPUs changed (hotplug: an offline CPU's idle time is accounted
// differently, so the aggregate jumps), a counter went backwards, or no time passed.
export function cpuFractions(before: StatCounters, now: StatCounters): CpuReading | undefined {
  if (before.cpus.length !== now.cpus.length || before.cpus.some((name, i) => now.cpus[i] !== name)) return undefined;
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
// sums them, so 0.5 on a 2-CPU host means one CPU's worth of work).
export function createCpuCollector(options: CollectorOptions = {}): Collector<'cpu'> {
  const file = procPath(options.procRoot ?? '/proc', 'stat');
  let previous: StatCounters | undefined;
  return {
    name: NAME,
    collect() {
      const now = parseStat(readKernelText(NAME, file), file);
      const before = previous;
      previous = now;
      return before === undefined ? undefined : cpuFractions(before, now);
    },
  };
}
