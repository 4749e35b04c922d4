// Kernel CPU lists such as "0-3,6" (/sys/devices/system/cpu/online, isolated, a core's
// siblings) and the cores a set of CPUs makes, read by the load and cpu collectors; a
// bad list names the collector.
import { kernelFile, procPath, readKernelTextIfPresent, type KernelFile } from './procfs.js';
import { badLine, bytesAt, latin1At } from './text.js';

// No Linux build allows more than 8192 CPUs (CONFIG_NR_CPUS); a list naming more is
// garbage, and would make a loaded host look idle per CPU.
const MAX_CPUS = 65_536;

// Counts the CPUs in a kernel CPU list such as "0-3,6" (/sys/devices/system/cpu/online).
export function parseCpuList(text: string, file = '/sys/devices/system/cpu/online', collector = 'load'): number {
  return parseCpuNumbers(text, file, collector).length;
}

// The CPU numbers of a kernel CPU list such as "0-3,6", in order; anything else
// throws, and a range is expanded only once it is known to keep the list within
// MAX_CPUS. Lists are read only when they change (hotplug), never per report.
export function parseCpuNumbers(text: string, file = '/sys/devices/system/cpu/online', collector = 'load'): number[] {
  const line = text.trim();
  if (line === '') throw badLine(collector, file, 1, line, 'empty CPU list');
  const out: number[] = [];
  for (const part of line.split(',')) {
    const m = /^(\d{1,6})(?:-(\d{1,6}))?$/.exec(part);
    if (m === null) throw badLine(collector, file, 1, line, `"${part}" is not a CPU number or range`);
    const first = Number(m[1]);
    const last = m[2] === undefined ? first : Number(m[2]);
    if (last < first) throw badLine(collector, file, 1, line, `range "${part}" runs backwards`);
    if (out.length + last - first + 1 > MAX_CPUS) throw badLine(collector, file, 1, line, `more than ${MAX_CPUS} CPUs, more than any kernel supports`);
    for (let i = first; i <= last; i++) out.push(i);
  }
  return out;
}

// CPU numbers as a kernel CPU list, the inverse of parseCpuNumbers: [0, 1, 2, 5] as "0-2,5".
export function cpuRanges(cpus: readonly number[]): string {
  const sorted = [...cpus].sort((a, b) => a - b);
  const parts: string[] = [];
  for (let i = 0; i < sorted.length; ) {
    let j = i;
    while (j + 1 < sorted.length && sorted[j + 1] === sorted[j]! + 1) j++;
    parts.push(i === j ? `${sorted[i]}` : `${sorted[i]}-${sorted[j]}`);
    i = j + 1;
  }
  return parts.join(',');
}

// The CPU list in a small file, or undefined when the file is missing, the list empty
// or not what the kernel writes: an old kernel, no sysfs, a fake proc root, nothing
// lavarank can know of. Read as the collectors read kernel files (O_NONBLOCK): a FIFO
// in its place is read as empty, where readFileSync waited for a writer for ever.
export function cpuListIn(path: string): number[] | undefined {
  let list: string | undefined;
  try {
    list = readKernelTextIfPresent('cpu', path);
  } catch {
    return undefined;
  }
  if (list === undefined || list.trim() === '') return undefined;
  try {
    return parseCpuNumbers(list, path, 'cpu');
  } catch {
    return undefined;
  }
}

// The CPUs a process may run on, from the Cpus_allowed_list of its status file
// (/proc/self/status, /proc/PID/status); undefined when unknown: every CPU allowed.
export function allowedCpusIn(status: string): number[] | undefined {
  return allowedCpusOf(kernelFile('cpu', status, () => false));
}

const ALLOWED_LINE = Buffer.from('Cpus_allowed_list:', 'latin1');
const NL_ALLOWED_LINE = Buffer.from('\nCpus_allowed_list:', 'latin1');

// allowedCpusIn from a status file read as a kernelFile, which the cpu collector keeps
// open for its look at its own affinity every minute; the line is found by a native
// search. Read with readFileSync and a regular expression, which --lite-mode
// interprets, the look cost 380 µs cold, against 145 µs this way (in process, the
// median of 80 looks 100 ms apart), 40 µs per report averaged over the six between two
// looks.
export function allowedCpusOf(status: KernelFile): number[] | undefined {
  let bytes: Buffer;
  try {
    bytes = status.bytes();
  } catch {
    return undefined; // no such file is nothing lavarank can know of, as in cpuListIn
  }
  let start = ALLOWED_LINE.length;
  if (!bytesAt(bytes, ALLOWED_LINE, 0)) {
    const at = bytes.indexOf(NL_ALLOWED_LINE);
    if (at < 0) return undefined;
    start += at + 1;
  }
  const newline = bytes.indexOf(10, start);
  const list = latin1At(bytes, start, newline < 0 ? bytes.length : newline).trim();
  if (list === '') return undefined;
  try {
    return parseCpuNumbers(list, status.path, 'cpu');
  } catch {
    return undefined;
  }
}

// Whether a job may be given a CPU, by its number: one of jobCpus where the site names
// them (cpu.job_cpus, isolated ones included: a site that isolates CPUs for jobs its
// launchers pin there names those), else one outside isolated (isolcpus=: nothing runs
// there unless pinned) and within allowed (the affinity LIM gives its elim and jobs:
// systemd's CPUAffinity=, a cpuset), where that is known. The cpu collector's minBusy
// and `lavarank check` both follow this rule.
export function jobCpuTest(jobCpus: readonly number[] | undefined, isolated: readonly number[], allowed: readonly number[] | undefined): (cpu: number) => boolean {
  if (jobCpus !== undefined) {
    const named = new Set(jobCpus);
    return (cpu) => named.has(cpu);
  }
  const left = new Set(isolated);
  const within = allowed === undefined ? undefined : new Set(allowed);
  return (cpu) => !left.has(cpu) && (within === undefined || within.has(cpu));
}

// How many cores CPUs make (the online ones, or those a job may use): the distinct
// lists of CPUs that share a core (each CPU's topology/core_cpus_list,
// thread_siblings_list before Linux 5.7; "0,64" or "0-1" for a thread with a
// sibling, "0" for a core of its own), lists[i] being
// CPU cpus[i]'s. Undefined when a list is missing or unreadable (an old kernel, a
// container without /sys, a fake root), is not a CPU list or leaves out its own CPU,
// or when the count is not between 1 and the CPUs, or says more than
// MAX_THREADS_PER_CORE threads a core: then no CPU counts as a thread of a shared core.
export function countCores(lists: readonly (string | undefined)[], cpus: readonly number[]): number | undefined {
  if (lists.length !== cpus.length) return undefined;
  const cores = new Set<string>();
  for (let i = 0; i < lists.length; i++) {
    const list = lists[i];
    if (list === undefined) return undefined;
    let siblings: number[];
    try {
      siblings = parseCpuNumbers(list, 'a topology CPU list');
    } catch {
      return undefined;
    }
    if (!siblings.includes(cpus[i]!)) return undefined;
    cores.add(siblings.join(','));
  }
  const online = cpus.length;
  return cores.size >= 1 && cores.size <= online && online <= MAX_THREADS_PER_CORE * cores.size ? cores.size : undefined;
}

// No processor runs more threads a core than POWER's SMT8. A topology that says more (a
// hypervisor that puts every vCPU in one core) is not believed: the rank would treat
// a 128-CPU guest as one core and rank it full under two tasks.
const MAX_THREADS_PER_CORE = 8;

// Reads the cores that CPUs make (the online list's, or a job's) from sysfs, once per
// change of that list: a few small files per CPU, never on a report whose
// CPU set is unchanged.
export function readCores(sysRoot: string, cpus: readonly number[]): number | undefined {
  const lists = cpus.map((cpu) => {
    const dir = procPath(sysRoot, `devices/system/cpu/cpu${cpu}/topology`);
    try {
      return readKernelTextIfPresent('load', `${dir}/core_cpus_list`) ?? readKernelTextIfPresent('load', `${dir}/thread_siblings_list`);
    } catch {
      return undefined; // unreadable: treated as unknown, as missing is
    }
  });
  return countCores(lists, cpus);
}
