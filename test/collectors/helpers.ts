// Shared by the collector tests: fixture paths, fake /proc and /sys trees in temp
// dirs, and a pino logger that records what it was given.
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pino, type Logger } from 'pino';
import type { TestContext } from 'node:test';
import { scanStat, TIMES_SLOTS, type CpuSet, type CpuTimes } from '../../src/collectors/cpu.js';
import { diskScanFor, scanDiskstats, type DiskCounters, type DiskLayout } from '../../src/collectors/disk.js';
import { netScanFor, scanNetDev, type NetCounters, type NetLayout } from '../../src/collectors/network.js';
import { LOAD1, RUNNING, scanLoadavg } from '../../src/collectors/loadavg.js';
import { MEMINFO_SLOTS, scanMeminfo, scanVmstat, VMSTAT_SLOTS, type MeminfoCounters, type VmstatCounters } from '../../src/collectors/memory.js';
import { scanPressure, someTotalIn } from '../../src/collectors/pressure.js';
import { numberSlots } from '../../src/collectors/text.js';

// dist/test/collectors/ -> the repository root, where the fixtures stay uncompiled.
const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

// The descriptors this process holds open on a path.
export function openOn(path: string): number {
  return readdirSync('/proc/self/fd').filter((fd) => {
    try {
      return readlinkSync(`/proc/self/fd/${fd}`) === path;
    } catch {
      return false; // the directory's own descriptor, gone by now
    }
  }).length;
}

// Absolute path of something under test/fixtures/.
export function fixture(...parts: string[]): string {
  return join(ROOT, 'test/fixtures', ...parts);
}

// Every capture of a host's /proc at two instants (test/fixtures/proc-*/t0 and t1), read
// from the directory so that a test of "every captured" file cannot miss one added later.
export const CAPTURED_PROC: readonly string[] = readdirSync(fixture())
  .filter((name) => name.startsWith('proc-') && ['t0', 't1'].every((t) => existsSync(fixture(name, t, 'proc'))))
  .sort();
if (CAPTURED_PROC.length === 0) throw new Error(`no capture in ${fixture()}: proc-*/t0/proc and t1/proc`); // else every loop over them passes empty

// The text of one captured kernel file, e.g. fixtureText('proc-idle', 't0/proc/stat').
export function fixtureText(...parts: string[]): string {
  return readFileSync(fixture(...parts), 'latin1');
}

export interface FixtureMeta {
  label: string;
  elapsedMs: number;
  nproc: number;
}

// meta.json of a captured fixture tree.
export function fixtureMeta(name: string): FixtureMeta {
  return JSON.parse(readFileSync(fixture(name, 'meta.json'), 'utf8')) as FixtureMeta;
}

// Sets an environment variable for one test; the fake nvidia-smi reads FAKE_GPU_CALLS
// and FAKE_GPU_PIDFILE.
export function withEnv(t: TestContext, name: string, value: string): void {
  process.env[name] = value;
  t.after(() => delete process.env[name]);
}

// A temp dir removed when the test ends.
export function tempDir(t: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'lavarank-test-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

// Writes files (path relative to root -> content) under root, creating directories.
export function writeTree(root: string, files: Record<string, string>): void {
  for (const [path, content] of Object.entries(files)) {
    const full = join(root, path);
    mkdirSync(dirname(full), { recursive: true });
    writeFileSync(full, content);
  }
}

// A fake host whose proc and sys trees can be swapped from one captured instant
// to the next, as time passing would.
export interface FakeHost {
  procRoot: string;
  sysRoot: string;
  load(fixtureName: string, instant: 't0' | 't1'): void;
}

// A temp dir to load captured instants into.
export function fakeHost(t: TestContext): FakeHost {
  const root = tempDir(t);
  const procRoot = join(root, 'proc');
  const sysRoot = join(root, 'sys');
  return {
    procRoot,
    sysRoot,
    load(fixtureName, instant) {
      rmSync(procRoot, { recursive: true, force: true });
      rmSync(sysRoot, { recursive: true, force: true });
      cpSync(fixture(fixtureName, instant, 'proc'), procRoot, { recursive: true });
      cpSync(fixture(fixtureName, instant, 'sys'), sysRoot, { recursive: true });
    },
  };
}

export interface RecordedLog {
  log: Logger;
  entries(): { level: string; msg: string; [key: string]: unknown }[];
}

// A debug-level pino logger writing into memory.
export function recordingLog(): RecordedLog {
  const lines: string[] = [];
  const log = pino({ level: 'debug', base: null, timestamp: false }, { write: (s: string) => void lines.push(s) });
  return {
    log,
    entries: () =>
      lines.map((l) => {
        const o = JSON.parse(l) as { level: number; msg: string };
        return { ...o, level: pino.levels.labels[o.level] ?? String(o.level) };
      }),
  };
}

// Resolves once check() returns something other than undefined, or rejects after
// timeoutMs: long, since a loaded CI host may take seconds to start or reap a process
// (3 s was too short once in a fresh-clone run); it costs time only when a test fails.
export async function eventually<T>(check: () => T | undefined, timeoutMs = 15_000): Promise<T> {
  const until = performance.now() + timeoutMs;
  for (;;) {
    const value = check();
    if (value !== undefined) return value;
    if (performance.now() > until) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

// scanDiskstats's reading of the layout's disks as the counters parseDiskstats gives
// (sectors 0 when not read), or undefined when it leaves the text to the parser.
export function scannedDisks(bytes: Buffer, layout: DiskLayout, sectors = true): DiskCounters[] | undefined {
  const into = diskScanFor(layout);
  if (!scanDiskstats(bytes, layout, into, sectors)) return undefined;
  return into.disks.map((d, i) => ({ major: d.major, minor: d.minor, name: d.name, readSectors: into.readSectors[i]!, writeSectors: into.writeSectors[i]!, ioTicksMs: into.ioTicksMs[i]!, weightedMs: into.weightedMs[i]! }));
}

// scanNetDev's reading of the layout's interfaces as the counters parseNetDev gives, or
// undefined when it leaves the text to the parser.
export function scannedInterfaces(bytes: Buffer, layout: NetLayout): NetCounters[] | undefined {
  const into = netScanFor(layout);
  if (!scanNetDev(bytes, layout, into)) return undefined;
  return into.interfaces.map((c, k) => ({ name: c.name, rxBytes: into.rxBytes[k]!, txBytes: into.txBytes[k]! }));
}

// scanStat's reading of the aggregate line as the times parseStat gives, or undefined
// when it leaves the text to the parser.
export function scannedStat(bytes: Buffer, known: CpuSet): CpuTimes | undefined {
  const t = numberSlots(TIMES_SLOTS);
  if (!scanStat(bytes, known, t)) return undefined;
  return { user: t[0]!, nice: t[1]!, system: t[2]!, idle: t[3]!, iowait: t[4]!, irq: t[5]!, softirq: t[6]!, steal: t[7]! };
}

// scanStat's reading of each cpuN line's idle + iowait, as parseStat's cpuIdle, or
// undefined when it leaves the text to the parser.
export function scannedCpuIdle(bytes: Buffer, known: CpuSet): number[] | undefined {
  const idle = numberSlots(known.names.length);
  if (!scanStat(bytes, known, numberSlots(TIMES_SLOTS), idle)) return undefined;
  return [...idle];
}

// scanMeminfo's reading as the counters parseMeminfo gives, or undefined when it leaves
// the text to the parser.
export function scannedMeminfo(text: string): MeminfoCounters | undefined {
  const m: Array<number | undefined> = numberSlots(MEMINFO_SLOTS);
  if (!scanMeminfo(Buffer.from(text, 'latin1'), m)) return undefined;
  const [totalBytes, freeBytes, availableBytes, buffersBytes, cachedBytes, swapTotalBytes, swapFreeBytes] = m as number[];
  return { totalBytes: totalBytes!, freeBytes: freeBytes!, availableBytes: availableBytes!, buffersBytes: buffersBytes!, cachedBytes: cachedBytes!, swapTotalBytes: swapTotalBytes!, swapFreeBytes: swapFreeBytes! };
}

// scanVmstat's reading as the counters parseVmstat gives, or undefined when it leaves
// the text to the parser.
export function scannedVmstat(bytes: Buffer): VmstatCounters | undefined {
  const v: Array<number | undefined> = numberSlots(VMSTAT_SLOTS);
  if (!scanVmstat(bytes, v)) return undefined;
  return { pswpin: v[0]!, pswpout: v[1]!, pgmajfault: v[2]! };
}

// What the hot path reads of a PSI file: the avg10 of its some and full lines (full
// undefined without one) and the some line's total, or undefined when it leaves the
// text to parsePressure.
export function scannedPressure(text: string): { some: number; full: number | undefined; total: number } | undefined {
  const avg10: Array<number | undefined> = numberSlots(2);
  return scanPressure(text, avg10, 0) ? { some: avg10[0]!, full: avg10[1], total: someTotalIn(text) } : undefined;
}

// What the hot path reads of /proc/loadavg, or undefined when it leaves the text to parseLoadavg.
export function scannedLoadavg(text: string): { load1: number; running: number } | undefined {
  const into = numberSlots(2);
  return scanLoadavg(text, into) ? { load1: into[LOAD1]!, running: into[RUNNING]! } : undefined;
}

// A sysfs root whose PCI bus holds the given devices, as [vendor, class] file texts.
export function pciBus(devices: Array<[string, string]>): string {
  const root = mkdtempSync(join(tmpdir(), 'lavarank-pci-'));
  mkdirSync(join(root, 'bus', 'pci', 'devices'), { recursive: true });
  devices.forEach(([vendor, pciClass], i) => {
    const dir = join(root, 'bus', 'pci', 'devices', `0000:0${i}:00.0`);
    mkdirSync(dir);
    writeFileSync(join(dir, 'vendor'), vendor);
    writeFileSync(join(dir, 'class'), pciClass);
  });
  return root;
}
