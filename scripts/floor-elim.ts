// The reads-only floor for `npm run bench`: a Node elim that reads, every interval,
// the kernel files lavarank reads each tick and writes one report line, and does
// nothing else (no parsing, features, model, log). What it costs per report is what
// any Node elim reading the same files must pay; lavarank is measured against it.
//
//   node --lite-mode dist/scripts/floor-elim.js [--proc-root /proc] [--sys-root /sys] [--interval 10] [--keep-open]
//
// Each file is opened, read to its end and closed every interval, the floor issue 16
// defines. With --keep-open each file is opened once and read again from offset 0, as
// lavarank reads the files of procfs and sysfs: the lower floor of a reader that
// keeps its files open.
//
// Like lavarank, it decides once at start which interfaces are physical (those with
// /sys/class/net/<if>/device). lavarank reads a moving link's speed in the background
// at most once per SPEED_CHECK_MS (src/collectors/linkspeed.ts); the floor reads every
// physical NIC's speed at its first report and then at the same rate, on one report in
// SPEED_CHECK_MS / interval, so that both read the same files as often.
//
// lavarank also looks, on one report in AFFINITY_CHECK_EVERY, at its own affinity
// (/proc/self/status) and at its cgroup (/proc/self/cgroup) and that cgroup's limit
// files (src/collectors/cgroup.ts), and reads the files of a limit that is set at every
// report. The floor finds those files once at start with lavarank's own finders (as it
// finds the physical NICs) and reads each once at the same reports: once a look, where
// lavarank reads /proc/self/cgroup twice (its cpu and memory collectors) and the CPU
// list a second time, which are lavarank's own cost, not the reads it needs.
import { closeSync, constants, existsSync, openSync, readFileSync, readSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';
import { findMemoryLimit, findQuota, limitFilesOnce, placeFinder, type LimitFiles } from '../src/collectors/cgroup.js';
import { AFFINITY_CHECK_EVERY } from '../src/collectors/cpu.js';
import { SPEED_CHECK_MS } from '../src/collectors/linkspeed.js';

// The cgroup files lavarank reads, as its finders find them now: those of each look
// (its cgroup's limit files) and those it reads at every report while a limit is set
// (a quota's usage and throttling, a memory limit's usage and memory.stat, where the
// limit is below MemTotal as the memory collector takes it). None where it finds no
// cgroup file system or cannot read the files (it then reads no limit file either).
export function cgroupFiles(procRoot: string, sysRoot: string): { everyLook: string[]; everyReport: string[] } {
  const everyLook: string[] = [];
  const everyReport = new Set<string>();
  const once = limitFilesOnce('floor');
  const recorder: LimitFiles = {
    value(path, parse) {
      everyLook.push(path);
      return once.value(path, parse);
    },
    sweep: () => undefined,
    close: () => undefined,
  };
  const places = (controllers: string[]) => {
    const finder = placeFinder('floor', procRoot, sysRoot, controllers);
    try {
      return finder.places();
    } finally {
      finder.close();
    }
  };
  try {
    for (const level of findQuota(places(['cpu', 'cpuacct']), () => false, recorder) ?? []) everyReport.add(level.usage.path).add(level.throttle.path);
    const total = /^MemTotal:\s+(\d+) kB$/m.exec(readFileSync(join(procRoot, 'meminfo'), 'latin1'));
    const totalBytes = total === null ? Infinity : Number(total[1]) * 1024;
    for (const level of findMemoryLimit(places(['memory']), () => false, recorder) ?? []) if (level.limit < totalBytes) everyReport.add(level.usage.path).add(level.stat.path);
  } catch {
    return { everyLook: [], everyReport: [] };
  }
  return { everyLook, everyReport: [...everyReport] };
}

// The files lavarank's collectors read under the two roots: those of every report, those
// of its look on one report in AFFINITY_CHECK_EVERY, and the physical NICs' speeds.
export function floorFiles(procRoot: string, sysRoot: string): { everyReport: string[]; everyLook: string[]; speeds: string[] } {
  const files = ['stat', 'loadavg', 'meminfo', 'vmstat', 'diskstats', 'net/dev', 'pressure/cpu', 'pressure/memory', 'pressure/io'].map((f) => join(procRoot, f));
  files.push(join(sysRoot, 'devices/system/cpu/online'));
  const cgroup = cgroupFiles(procRoot, sysRoot);
  files.push(...cgroup.everyReport);
  const everyLook = [join(procRoot, 'self/status'), join(procRoot, 'self/cgroup'), ...cgroup.everyLook];
  const speeds: string[] = [];
  const netDev = readFileSync(join(procRoot, 'net/dev'), 'latin1');
  for (const line of netDev.split('\n')) {
    const colon = line.indexOf(':');
    if (colon < 0 || line.includes('|')) continue;
    const name = line.slice(0, colon).trim();
    if (name !== 'lo' && existsSync(join(sysRoot, 'class/net', name, 'device'))) speeds.push(join(sysRoot, 'class/net', name, 'speed'));
  }
  return { everyReport: files, everyLook, speeds };
}

// On which reports the floor reads the speeds: one in every speedEvery(intervalMs).
export function speedEvery(intervalMs: number): number {
  return Math.max(1, Math.round(SPEED_CHECK_MS / intervalMs));
}

function main(): void {
  const { values } = parseArgs({
    options: {
      'proc-root': { type: 'string', default: '/proc' },
      'sys-root': { type: 'string', default: '/sys' },
      interval: { type: 'string', default: '10' },
      'keep-open': { type: 'boolean', default: false },
    },
  });
  const keepOpen = values['keep-open'];
  const kept = new Map<string, number>();
  const intervalMs = Number(values.interval) * 1000;
  if (!(intervalMs >= 10)) throw new RangeError(`--interval: expected seconds >= 0.01, received ${JSON.stringify(values.interval)}`);
  const { everyReport, everyLook, speeds } = floorFiles(values['proc-root'], values['sys-root']);
  // The lists of the four kinds of report, made once: [look][speeds].
  const lists = [
    [everyReport, [...everyReport, ...speeds]],
    [[...everyReport, ...everyLook], [...everyReport, ...everyLook, ...speeds]],
  ] as const;
  const every = speedEvery(intervalMs);
  const buffer = Buffer.allocUnsafe(1 << 20);
  const line = Buffer.from('1 rank 0\n');
  let next = performance.now();
  let report = 0;
  const tick = (): void => {
    const files = lists[report % AFFINITY_CHECK_EVERY === 0 ? 1 : 0][report % every === 0 ? 1 : 0];
    report++;
    for (const file of files) {
      let fd = kept.get(file);
      if (fd === undefined) {
        try {
          fd = openSync(file, constants.O_RDONLY | constants.O_NONBLOCK);
        } catch {
          continue;
        }
      }
      let failed = false;
      try {
        if (keepOpen) for (let at = 0, n = 0; (n = readSync(fd, buffer, 0, buffer.length, at)) > 0; at += n);
        else while (readSync(fd, buffer, 0, buffer.length, null) > 0);
      } catch {
        failed = true; // EINVAL from a NIC without a speed: what lavarank reads as "unknown"
      }
      if (keepOpen && !failed) kept.set(file, fd);
      else {
        kept.delete(file);
        closeSync(fd);
      }
    }
    try {
      writeSync(1, line);
    } catch {
      process.exit(0); // the reader is gone
    }
    next += intervalMs;
    setTimeout(tick, Math.max(0, next - performance.now()));
  };
  process.on('SIGTERM', () => process.exit(0));
  tick();
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) main();
