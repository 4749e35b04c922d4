// Copies the /proc and /sys files the collectors read into a fixture tree, twice with
// a delay, so that tests can compute real deltas from real kernel text:
//
//   node dist/scripts/capture-fixtures.js --out test/fixtures/proc-idle --label idle \
//     [--delay-ms 3000] [--note "what was running"]
//
// Layout: <out>/t0/{proc,sys}/..., <out>/t1/{proc,sys}/..., <out>/meta.json. Symlinks
// that the collectors only test for existence (/sys/block/<dev>/device,
// /sys/class/net/<if>/device) become empty files. A speed file the kernel refuses to
// read (EINVAL: link down, virtual interface) is left out, which the collector reads
// as "unknown" just the same.
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, release } from 'node:os';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import { parseDiskstats } from '../src/collectors/disk.js';
import { parseNetDev } from '../src/collectors/network.js';
import { readKernelText } from '../src/collectors/procfs.js';

const PROC_FILES = ['stat', 'loadavg', 'meminfo', 'vmstat', 'diskstats', 'net/dev', 'pressure/cpu', 'pressure/memory', 'pressure/io'];

function copy(from: string, to: string): boolean {
  let text: string;
  try {
    text = readKernelText('capture', from);
  } catch (err) {
    console.error(`skipped ${from}: ${(err as Error).message}`);
    return false;
  }
  mkdirSync(dirname(to), { recursive: true });
  writeFileSync(to, text, 'latin1');
  return true;
}

function marker(from: string, to: string): void {
  if (!existsSync(from)) return;
  mkdirSync(dirname(to), { recursive: true });
  writeFileSync(to, '');
}

function capture(dir: string): void {
  for (const f of PROC_FILES) copy(join('/proc', f), join(dir, 'proc', f));
  copy('/sys/devices/system/cpu/online', join(dir, 'sys/devices/system/cpu/online'));
  const diskstats = readFileSync(join(dir, 'proc/diskstats'), 'latin1');
  for (const d of parseDiskstats(diskstats)) {
    const sysName = d.name.replaceAll('/', '!');
    const cls = join('sys/class/block', sysName);
    if (existsSync(join('/', cls, 'partition'))) copy(join('/', cls, 'partition'), join(dir, cls, 'partition'));
    const blk = join('sys/block', sysName);
    if (existsSync(join('/', blk))) {
      copy(join('/', blk, 'removable'), join(dir, blk, 'removable'));
      marker(join('/', blk, 'device'), join(dir, blk, 'device'));
    }
  }
  for (const n of parseNetDev(readFileSync(join(dir, 'proc/net/dev'), 'latin1'))) {
    const net = join('sys/class/net', n.name);
    mkdirSync(join(dir, net), { recursive: true });
    marker(join('/', net, 'device'), join(dir, net, 'device'));
    copy(join('/', net, 'speed'), join(dir, net, 'speed'));
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      out: { type: 'string' },
      label: { type: 'string' },
      'delay-ms': { type: 'string', default: '3000' },
      note: { type: 'string', default: '' },
    },
  });
  if (values.out === undefined || values.label === undefined) {
    console.error('usage: capture-fixtures --out DIR --label NAME [--delay-ms 3000] [--note TEXT]');
    process.exitCode = 2;
    return;
  }
  const delayMs = Number(values['delay-ms']);
  // Replaces an earlier capture, but never a directory that is something else.
  if (existsSync(values.out) && readdirSync(values.out).length > 0 && !existsSync(join(values.out, 'meta.json'))) {
    console.error(`${values.out} exists and is not a fixture tree (no meta.json); not overwriting it`);
    process.exitCode = 2;
    return;
  }
  rmSync(values.out, { recursive: true, force: true });
  const t0 = performance.now();
  capture(join(values.out, 't0'));
  await new Promise((resolve) => setTimeout(resolve, Math.max(0, delayMs - (performance.now() - t0))));
  const t1 = performance.now();
  capture(join(values.out, 't1'));
  const meta = {
    label: values.label,
    note: values.note,
    capturedAt: new Date().toISOString(),
    elapsedMs: Math.round(t1 - t0),
    nproc: cpus().length,
    cpuModel: cpus()[0]?.model ?? 'unknown',
    kernel: release(),
  };
  writeFileSync(join(values.out, 'meta.json'), `${JSON.stringify(meta, null, 2)}\n`);
  console.log(`captured ${values.label} into ${values.out} (${meta.elapsedMs} ms apart)`);
}

await main();
