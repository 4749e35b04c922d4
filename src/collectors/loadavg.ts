// The 1-minute load and the runnable tasks per online CPU, from /proc/loadavg, and the
// cores the online CPUs make (SMT threads share one), from sysfs topology.
import { kernelFile, procPath } from './procfs.js';
import { cpuSet, parseStat, scanStat, TIMES_SLOTS, type CpuSet } from './cpu.js';
import { parseCpuNumbers, readCores } from './cpulist.js';
import { badFile, badLine, latin1At, numberSlots, toNumber, tokens } from './text.js';
import type { Collector, CollectorOptions, LoadReading } from './types.js';

const NAME = 'load';

// The five fields of /proc/loadavg.
export interface LoadavgCounters {
  load1: number;
  load5: number;
  load15: number;
  running: number; // tasks runnable at the instant of the read, the reader included
  tasks: number; // all tasks
  lastPid: number;
}

// Parses /proc/loadavg: "0.15 0.16 0.06 2/85 3851".
export function parseLoadavg(text: string, file = '/proc/loadavg'): LoadavgCounters {
  const line = text.split('\n')[0] ?? '';
  const t = tokens(line);
  if (t.length < 5) throw badLine(NAME, file, 1, line, `expected 5 fields, found ${t.length}`);
  const [l1, l5, l15, ratio, last] = t;
  const slash = (ratio ?? '').split('/');
  const values = [toNumber(l1), toNumber(l5), toNumber(l15), toNumber(slash[0]), toNumber(slash[1]), toNumber(last)];
  if (slash.length !== 2 || values.some((v) => v === undefined || v < 0)) {
    throw badLine(NAME, file, 1, line, 'expected "load1 load5 load15 running/total lastpid"');
  }
  const [load1, load5, load15, running, tasks, lastPid] = values as number[];
  return { load1: load1!, load5: load5!, load15: load15!, running: running!, tasks: tasks!, lastPid: lastPid! };
}

// /proc/loadavg as the kernel prints it ("%lu.%02lu" three times, "%u/%d %d").
const LOADAVG = /\d{1,30}\.\d{1,30} \d{1,30}\.\d{1,30} \d{1,30}\.\d{1,30} \d{1,30}\/\d{1,30} \d{1,30}\n/y;

// Slots for what the hot path reads of /proc/loadavg, from numberSlots.
export const LOAD1 = 0;
export const RUNNING = 1;

// The hot path's reading of /proc/loadavg: the 1-minute load and the running count,
// written into into[LOAD1] and into[RUNNING] (a numberSlots array), without a match
// array or an object. False for text not in the kernel's layout, for parseLoadavg to
// read or reject; when it returns true, parseLoadavg agrees.
export function scanLoadavg(text: string, into: number[]): boolean {
  LOADAVG.lastIndex = 0;
  if (!LOADAVG.test(text)) return false;
  // The layout is checked: single spaces, and a slash after the running count.
  const load1End = text.indexOf(' ');
  const runningAt = text.indexOf(' ', text.indexOf(' ', load1End + 1) + 1) + 1;
  into[LOAD1] = Number(text.slice(0, load1End));
  into[RUNNING] = Number(text.slice(runningAt, text.indexOf('/', runningAt)));
  return true;
}

// The load collector always has a reading: it needs no delta.
export interface LoadCollector extends Collector<'load'> {
  collect(monotonicMs: number): LoadReading;
}

// The runnable count in /proc/loadavg is nr_running() at the instant of the read, and
// the reading process is running then: it is subtracted so that an idle host shows 0.
// Online CPUs come from sysfs; without it (some containers), from /proc/stat's cpuN lines.
export function createLoadCollector(options: CollectorOptions = {}): LoadCollector {
  const procRoot = options.procRoot ?? '/proc';
  const file = kernelFile(NAME, procPath(procRoot, 'loadavg'), options.keepOpen);
  const sysRoot = options.sysRoot ?? '/sys';
  const onlineFile = kernelFile(NAME, procPath(sysRoot, 'devices/system/cpu/online'), options.keepOpen);
  const statFile = kernelFile(NAME, procPath(procRoot, 'stat'), options.keepOpen, 'one');
  const load = numberSlots(2);
  // The CPU list changes only with hotplug: it is parsed again only when its text does.
  let onlineText: string | undefined;
  let onlineCount = 0;
  let cores: number | undefined; // of onlineText's CPUs; undefined without topology
  let statCpus: CpuSet = cpuSet([]);
  const statTimes = numberSlots(TIMES_SLOTS); // scanStat's, unused here
  function onlineCpus(): number {
    const list = onlineFile.textIfPresent();
    if (list !== undefined) {
      if (list !== onlineText) {
        const cpus = parseCpuNumbers(list, onlineFile.path);
        onlineCount = cpus.length;
        cores = readCores(sysRoot, cpus);
        onlineText = list;
      }
      return onlineCount;
    }
    onlineText = undefined;
    cores = undefined;
    const bytes = statFile.bytes();
    if (!scanStat(bytes, statCpus, statTimes)) statCpus = cpuSet(parseStat(latin1At(bytes, 0, bytes.length), statFile.path).cpus);
    return statCpus.names.length;
  }
  return {
    name: NAME,
    collect(): LoadReading {
      const text = file.text();
      if (!scanLoadavg(text, load)) {
        const parsed = parseLoadavg(text, file.path);
        load[LOAD1] = parsed.load1;
        load[RUNNING] = parsed.running;
      }
      const online = onlineCpus();
      if (!(online > 0)) throw badFile(NAME, onlineFile.path, 'no online CPU');
      const load1 = load[LOAD1]!;
      const runnable = Math.max(0, load[RUNNING]! - 1);
      return { load1, load1PerCpu: load1 / online, runnable, runnablePerCpu: runnable / online, online, cores };
    },
    close() {
      file.close();
      onlineFile.close();
      statFile.close();
    },
  };
}
