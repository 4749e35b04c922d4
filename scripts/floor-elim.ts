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
// /sys/class/net/<if>/device) and reads their speed every tick.
import { closeSync, constants, existsSync, openSync, readFileSync, readSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';

// The files lavarank's collectors read each tick under the two roots, physical NICs' speed included.
export function floorFiles(procRoot: string, sysRoot: string): string[] {
  const files = ['stat', 'loadavg', 'meminfo', 'vmstat', 'diskstats', 'net/dev', 'pressure/cpu', 'pressure/memory', 'pressure/io'].map((f) => join(procRoot, f));
  files.push(join(sysRoot, 'devices/system/cpu/online'));
  const netDev = readFileSync(join(procRoot, 'net/dev'), 'latin1');
  for (const line of netDev.split('\n')) {
    const colon = line.indexOf(':');
    if (colon < 0 || line.includes('|')) continue;
    const name = line.slice(0, colon).trim();
    if (name !== 'lo' && existsSync(join(sysRoot, 'class/net', name, 'device'))) files.push(join(sysRoot, 'class/net', name, 'speed'));
  }
  return files;
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
  const files = floorFiles(values['proc-root'], values['sys-root']);
  const buffer = Buffer.allocUnsafe(1 << 20);
  const line = Buffer.from('1 rank 0\n');
  let next = performance.now();
  const tick = (): void => {
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
