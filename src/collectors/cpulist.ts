// Kernel CPU lists such as "0-3,6" (/sys/devices/system/cpu/online, isolated, a core's
// siblings), read by the load and cpu collectors; a bad list names the collector.
import { badLine } from './text.js';

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

