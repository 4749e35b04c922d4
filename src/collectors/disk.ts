// Busy fraction and throughput of the physical disks, from /proc/diskstats.
import { existsSync } from 'node:fs';
import { procPath, readKernelText, readKernelTextIfPresent } from './procfs.js';
import { badLine, fraction, ratePerSec, toNumber, tokens } from './text.js';
import type { Collector, CollectorOptions, DiskDevice, DiskReading } from './types.js';

const NAME = 'disk';

// diskstats counts sectors of 512 bytes whatever the device's own sector size.
const SECTOR_BYTES = 512;

// The counters of one /proc/diskstats line that the collector uses.
export interface DiskCounters {
  major: number;
  minor: number;
  name: string;
  readSectors: number; // column 6
  writeSectors: number; // column 10
  ioTicksMs: number; // column 13: ms during which at least one I/O was in flight
}

// Parses /proc/diskstats. Kernels print 14 columns (< 4.18), 18 (+ discards) or 20
// (+ flushes, >= 5.5); later kernels may add more, which are ignored. 2.6 kernels
// before 2.6.25 printed 7 columns for partitions: those lines are skipped, since
// partitions are left out anyway.
export function parseDiskstats(text: string, file = '/proc/diskstats'): DiskCounters[] {
  const out: DiskCounters[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] ?? '';
    const t = tokens(line);
    if (t.length === 0 || t.length === 7) continue;
    if (t.length < 14) throw badLine(NAME, file, i + 1, line, `expected 14, 18 or 20 columns, found ${t.length}`);
    const major = toNumber(t[0]);
    const minor = toNumber(t[1]);
    const readSectors = toNumber(t[5]);
    const writeSectors = toNumber(t[9]);
    const ioTicksMs = toNumber(t[12]);
    if (
      major === undefined ||
      minor === undefined ||
      readSectors === undefined ||
      writeSectors === undefined ||
      ioTicksMs === undefined
    ) {
      throw badLine(NAME, file, i + 1, line, 'a counter is not a number');
    }
    out.push({ major, minor, name: t[2] ?? '', readSectors, writeSectors, ioTicksMs });
  }
  return out;
}

// Names that are never a physical disk of their own: memory-backed (ram, zram), file-
// backed (loop), views of other disks (dm-*: LVM, dm-crypt, multipath; md: software
// RAID) whose I/O is already counted on the disks below them, network-backed (nbd)
// and removable media (sr, fd). Used even without sysfs.
const NOT_PHYSICAL = /^(loop|ram|zram|dm-|md|nbd|sr|fd)\d/;

// Partitions by name, for hosts without sysfs: sda1, vdb2, xvda1, hdc3, nvme0n1p1, mmcblk0p2.
const PARTITION_NAME = /^((s|v|xv|h)d[a-z]+\d+|(nvme\d+n\d+|mmcblk\d+|md\d+)p\d+)$/;

// Why a block device is left out of the disk figures, or undefined for a physical disk.
// With sysfs: a partition has a `partition` attribute, a whole disk appears in
// /sys/block, a disk backed by hardware has a `device` link (loop, dm, md, zram and
// nbd have none), and removable media say so in `removable`.
export function diskExclusion(name: string, sysRoot: string | undefined): string | undefined {
  if (NOT_PHYSICAL.test(name)) return 'virtual or removable by name';
  if (sysRoot === undefined) return PARTITION_NAME.test(name) ? 'partition by name' : undefined;
  const sysName = name.replaceAll('/', '!'); // cciss/c0d0 is cciss!c0d0 in sysfs
  if (existsSync(procPath(sysRoot, 'class/block', sysName, 'partition'))) return 'partition';
  const dir = procPath(sysRoot, 'block', sysName);
  if (!existsSync(dir)) return 'not a whole disk';
  if (!existsSync(procPath(dir, 'device'))) return 'virtual (no device link)';
  const removable = readKernelTextIfPresent(NAME, procPath(dir, 'removable'));
  if (removable !== undefined && removable.trim() === '1') return 'removable';
  return undefined;
}

// The busiest device and the mean over devices, from per-device values.
export function summarizeDisks(devices: DiskDevice[]): DiskReading {
  let busiest: DiskDevice | undefined;
  let busySum = 0;
  let read = 0;
  let write = 0;
  for (const d of devices) {
    if (busiest === undefined || d.busy > busiest.busy) busiest = d;
    busySum += d.busy;
    read += d.readBytesPerSec;
    write += d.writeBytesPerSec;
  }
  const out: DiskReading = {
    devices,
    busyMax: busiest?.busy ?? 0,
    busyMean: devices.length > 0 ? busySum / devices.length : 0,
    readBytesPerSec: read,
    writeBytesPerSec: write,
  };
  if (busiest !== undefined) out.busiest = busiest.name;
  return out;
}

// Reads /proc/diskstats each tick. A device is classified once (and again if its
// major:minor changes); it reports from its second reading on, and a device whose
// counters went backwards is left out for that tick. A host without a physical disk
// (diskless, NFS root) reports no devices and 0 busy, which is the truth.
export function createDiskCollector(options: CollectorOptions = {}): Collector<'disk'> {
  const file = procPath(options.procRoot ?? '/proc', 'diskstats');
  const sysRoot = options.sysRoot ?? '/sys';
  let useSys: boolean | undefined;
  const classified = new Map<string, { dev: string; why: string | undefined }>();
  let previous: { at: number; disks: Map<string, DiskCounters> } | undefined;

  function isPhysical(d: DiskCounters): boolean {
    const dev = `${d.major}:${d.minor}`;
    let known = classified.get(d.name);
    if (known === undefined || known.dev !== dev) {
      useSys ??= existsSync(procPath(sysRoot, 'block'));
      known = { dev, why: diskExclusion(d.name, useSys ? sysRoot : undefined) };
      classified.set(d.name, known);
    }
    return known.why === undefined;
  }

  return {
    name: NAME,
    collect(monotonicMs) {
      const disks = new Map<string, DiskCounters>();
      const seen = new Set<string>();
      for (const d of parseDiskstats(readKernelText(NAME, file), file)) {
        seen.add(d.name);
        if (isPhysical(d)) disks.set(d.name, d);
      }
      for (const name of classified.keys()) if (!seen.has(name)) classified.delete(name);
      const before = previous;
      previous = { at: monotonicMs, disks };
      if (before === undefined) return undefined;
      const elapsedMs = monotonicMs - before.at;
      const devices: DiskDevice[] = [];
      for (const d of disks.values()) {
        const old = before.disks.get(d.name);
        if (old === undefined || old.major !== d.major || old.minor !== d.minor) continue;
        const ticks = ratePerSec(d.ioTicksMs, old.ioTicksMs, elapsedMs); // ms busy per ms
        const read = ratePerSec(d.readSectors, old.readSectors, elapsedMs / 1000);
        const write = ratePerSec(d.writeSectors, old.writeSectors, elapsedMs / 1000);
        if (ticks === undefined || read === undefined || write === undefined) continue;
        devices.push({
          name: d.name,
          busy: fraction(ticks),
          readBytesPerSec: read * SECTOR_BYTES,
          writeBytesPerSec: write * SECTOR_BYTES,
        });
      }
      if (devices.length === 0 && disks.size > 0) return undefined;
      return summarizeDisks(devices);
    },
  };
}
