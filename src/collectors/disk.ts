// Busy fraction and throughput of the physical disks, from /proc/diskstats.
import { existsSync, realpathSync } from 'node:fs';
import { basename } from 'node:path';
import { errorCode } from '../util/errors.js';
import { kernelFile, procPath, readKernelTextIfPresent } from './procfs.js';
import { badLine, byteIndex, bytesAt, counterAt, fieldCounter, lastLineStart, lastLineStartOf, latin1Slice, numberSlots, onlySpacesAndNewlines, toNumber, tokens } from './text.js';
import { TableReader, keptEntries } from './table.js';
import type { Collector, CollectorOptions, DiskDevice, DiskReading } from './types.js';

const NAME = 'disk';

// A device busy less than this share of the interval is not counted among those the
// host's io waits on (busyDevices, the model's io_devices): a system disk's logging.
export const IO_DEVICE_BUSY = 0.1;

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
  weightedMs: number; // column 14: ms × I/Os in flight (the weighted time in queue)
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
    const weightedMs = toNumber(t[13]);
    if (
      major === undefined ||
      minor === undefined ||
      readSectors === undefined ||
      writeSectors === undefined ||
      ioTicksMs === undefined ||
      weightedMs === undefined
    ) {
      throw badLine(NAME, file, i + 1, line, 'a counter is not a number');
    }
    out.push({ major, minor, name: t[2] ?? '', readSectors, writeSectors, ioTicksMs, weightedMs });
  }
  return out;
}

// Where one disk's line starts in /proc/diskstats: the text from the start of the
// line through the name and the space after it ("%4d %7d %s "), major and minor
// included, so that a renumbered device is not taken for the old one.
interface DiskLine extends DiskId {
  prefix: Buffer;
  needle: Buffer; // "\n" + prefix
  needleText: string;
  hint: number; // where the needle was last found (0: the first line); the search starts a little before
}

// What the hot path knows of /proc/diskstats from the last full reading: the start of
// its last line, every device's name in order, and where the physical disks' lines start.
// The kernel prints disks in the order they were added, each followed by its
// partitions: a new disk changes the last line, a disk gone loses its line.
export interface DiskLayout {
  last: Buffer;
  names: string[];
  disks: DiskLine[];
}

// The start of a diskstats line through the name (third field).
const NAME_FIELD = / *\d+ +\d+ (\S+)/y;

// The device names of /proc/diskstats in order (lines without one are skipped).
export function diskstatsNames(text: string): string[] {
  const names: string[] = [];
  let start = 0;
  while (start < text.length) {
    NAME_FIELD.lastIndex = start;
    const m = NAME_FIELD.exec(text);
    if (m !== null) names.push(m[1]!);
    const nl = text.indexOf('\n', start);
    if (nl < 0) break;
    start = nl + 1;
  }
  return names;
}

// The layout of a diskstats text for the given disks (in file order), or undefined
// when a disk's line does not start in the kernel's layout (then there is no hot path).
export function diskLayout(text: string, disks: readonly DiskCounters[]): DiskLayout | undefined {
  const lines: DiskLine[] = [];
  // Each search starts after the previous disk's line (the disks are in file order):
  // searching from the top for each took quadratic time, 0.14 s at 9 000 devices.
  let from = 0;
  for (const d of disks) {
    const prefix = `${String(d.major).padStart(4)} ${String(d.minor).padStart(7)} ${d.name} `;
    const find = (start: number): number => (start === 0 && text.startsWith(prefix) ? 0 : text.indexOf(`\n${prefix}`, start));
    let at = find(from);
    if (at < 0 && from > 0) at = find(0); // not in file order after all
    if (at < 0) return undefined;
    if (at > 0) at++;
    from = at + prefix.length - 1;
    lines.push({ name: d.name, major: d.major, minor: d.minor, prefix: Buffer.from(prefix, 'latin1'), needle: Buffer.from(`\n${prefix}`, 'latin1'), needleText: `\n${prefix}`, hint: Math.max(0, at - 1) });
  }
  const lastAt = lastLineStart(text);
  NAME_FIELD.lastIndex = lastAt;
  if (NAME_FIELD.exec(text) === null) return undefined;
  return { last: Buffer.from(text.slice(lastAt, NAME_FIELD.lastIndex), 'latin1'), names: diskstatsNames(text), disks: lines };
}

// After the name, fields 4 to 14 are delimited by single spaces, as the kernel prints
// them; 13 and 14 are read (1 to 30 digits), and 6 and 10 when the sectors are asked
// for; the others are only skipped, as parseDiskstats skips them. Field 14 ends the line
// on kernels before 4.18.
const READ_SECTORS = 6;
const WRITE_SECTORS = 10;
const IO_TICKS = 13;

// How far before its last place a line is looked for first: lines move as the
// counters before them gain digits.
const HINT_SLACK = 256;

const SPACE = 32;
const NEWLINE = 10;

// The counters of the physical disks in one reading, in file order, as parallel
// arrays. In the interpreter, an object per disk per report, each counter copied out
// of it as a fresh heap number, was most of what a report allocated on a node with 64
// disks; arrays reused from report to report hold small integers without any.
export interface DiskScan {
  disks: readonly DiskId[];
  ioTicksMs: number[];
  weightedMs: number[];
  readSectors: number[]; // filled only when sectors are read
  writeSectors: number[];
}

// Which device a reading's counters belong to.
export interface DiskId {
  name: string;
  major: number;
  minor: number;
}

// Arrays to scan the layout's disks into.
export function diskScanFor(layout: DiskLayout): DiskScan {
  const n = layout.disks.length;
  return { disks: layout.disks, ioTicksMs: numberSlots(n), weightedMs: numberSlots(n), readSectors: numberSlots(n), writeSectors: numberSlots(n) };
}

// The hot path's reading of /proc/diskstats: the counters of the layout's disks, each
// found by the start of its line, the other lines not read, written into `into` (from
// diskScanFor); the sectors only when asked, since the model uses io_ticks and the
// weighted time alone.
// False when the last line changed (a device added), a disk's line is gone or
// renumbered, or is not in the kernel's layout: then parseDiskstats reads it all and
// the devices are classified again. When it returns true, parseDiskstats gives the
// same counters for these disks, or rejects a line this does not read or a field it
// only skips. Updates the layout's hints.
export function scanDiskstats(bytes: Buffer, layout: DiskLayout, into: DiskScan, sectors: boolean): boolean {
  // What the loops read per line and per field, in locals: in the interpreter each read
  // of a module binding is a context load and a hole check (ThrowReferenceErrorIfHole).
  const find = byteIndex;
  const space = SPACE;
  const newlineByte = NEWLINE;
  const ioTicksField = IO_TICKS;
  const readField = READ_SECTORS;
  const writeField = WRITE_SECTORS;
  const fieldNumber = fieldCounter;
  if (!bytesAt(bytes, layout.last, lastLineStartOf(bytes))) return false;
  // Each field ends at the next space (a native search): where parseDiskstats's split
  // ends it too when no other whitespace is in the text.
  if (!onlySpacesAndNewlines(bytes)) return false;
  // What the loop reads of its arguments, read once: in the interpreter a Buffer's length
  // is a getter's call, and each named load costs about 60 instructions.
  const size = bytes.length;
  const disks = layout.disks;
  const n = disks.length;
  const ticksInto = into.ioTicksMs;
  const weightedInto = into.weightedMs;
  for (let k = 0; k < n; k++) {
    const d = disks[k]!;
    const hint = d.hint;
    const needleText = d.needleText;
    let at: number;
    // Where it was: most lines do not move. One native comparison of the line's start as
    // text: comparing its 20-odd bytes in an interpreted loop cost five times as much.
    const stop = hint + needleText.length;
    if (stop <= size && latin1Slice.call(bytes, hint, stop) === needleText) at = hint + 1;
    else if (hint === 0 && bytesAt(bytes, d.prefix, 0)) at = 0;
    else {
      at = bytes.indexOf(d.needle, Math.max(0, hint - HINT_SLACK));
      if (at < 0) at = bytes.indexOf(d.needle);
      if (at < 0) return false;
      d.hint = at;
      at++;
    }
    // Past the prefix, which is the needle less its newline.
    let p = at + needleText.length - 1;
    // find (byteIndex), a bound builtin without a frame of its own: 64 disks × 11 searches a report.
    const newline = find(bytes, newlineByte, p);
    const lineEnd = newline < 0 ? size : newline;
    // Fields 4 to 12: none may be empty (two spaces in a row), and the sectors are read
    // when asked. Whether they end before the line does is checked once, at io_ticks:
    // each search starts past the last, so a field that ran past the line's end puts
    // io_ticks' end past it too.
    if (sectors) {
      for (let field = 4; field < ioTicksField; field++) {
        const end = find(bytes, space, p);
        if (end <= p) return false; // an empty field, or no space after it
        if (field === readField || field === writeField) {
          const value = counterAt(bytes, p, end);
          if (value < 0) return false;
          if (field === readField) into.readSectors[k] = value;
          else into.writeSectors[k] = value;
        }
        p = end + 1;
      }
    } else {
      // The daemon's way: the nine fields only skipped, written out. In the interpreter a
      // loop's turn (its test, count and jump) cost about 160 instructions beside the
      // field's search and test; written out, the scan of the big node's 64 disks took
      // 1.121 M instructions a call against 1.212 M in a loop of nine and 1.155 M in one
      // of three turns (callgrind, --lite-mode, 20 calls after 30; 1.276 M before the
      // loop's reads of its arguments were moved out of it).
      let end = find(bytes, space, p);
      if (end <= p) return false;
      p = end + 1;
      end = find(bytes, space, p);
      if (end <= p) return false;
      p = end + 1;
      end = find(bytes, space, p);
      if (end <= p) return false;
      p = end + 1;
      end = find(bytes, space, p);
      if (end <= p) return false;
      p = end + 1;
      end = find(bytes, space, p);
      if (end <= p) return false;
      p = end + 1;
      end = find(bytes, space, p);
      if (end <= p) return false;
      p = end + 1;
      end = find(bytes, space, p);
      if (end <= p) return false;
      p = end + 1;
      end = find(bytes, space, p);
      if (end <= p) return false;
      p = end + 1;
      end = find(bytes, space, p);
      if (end <= p) return false;
      p = end + 1;
    }
    const end = find(bytes, space, p);
    if (end <= p || end >= lineEnd) return false;
    // io_ticks and the weighted time by fieldCounter (Number() of their text) rather than
    // digit by digit (until 2026-12-07): about 1 200 instructions a disk less with the
    // weighted time's end searched for (callgrind:collectors, the big node: 1.530 M → 1.451
    // M a call), for two small strings a disk. Neither field holds whitespace: the text
    // has none but spaces and newlines, and each ends at a space or the line's end.
    const ticks = fieldNumber(bytes, p, end);
    if (ticks < 0) return false;
    ticksInto[k] = ticks;
    // The weighted time (field 14), up to a space or the line's end (it ends the line
    // before 4.18).
    p = end + 1;
    let weightedEnd = find(bytes, space, p);
    if (weightedEnd < 0 || weightedEnd > lineEnd) weightedEnd = lineEnd;
    const weighted = fieldNumber(bytes, p, weightedEnd);
    if (weighted < 0) return false; // not 1 to 30 digits: parseDiskstats refuses the line
    weightedInto[k] = weighted;
  }
  return true;
}

// Names that are never a physical disk of their own: memory-backed (ram, zram), file-
// backed (loop), views of other disks (dm-*: LVM, dm-crypt, multipath; md: software
// RAID; drbd: replication) whose I/O is already counted on the disks below them,
// network-backed (nbd; rbd: Ceph) and removable media (sr, fd). Used even without sysfs.
const NOT_PHYSICAL = /^(loop|ram|zram|dm-|md|nbd|rbd|drbd|sr|fd)\d/;

// Partitions by name, for hosts without sysfs: sda1, vdb2, xvda1, hdc3, dasda1 (s390),
// nvme0n1p1, mmcblk0p2, cciss/c0d0p1; and an eMMC's boot and RPMB areas (mmcblk0boot0,
// mmcblk0rpmb), which the kernel lists as devices of their own.
const PARTITION_NAME = /^((s|v|xv|h)d[a-z]+\d+|dasd[a-z]+\d+|(nvme\d+n\d+|mmcblk\d+|md\d+|cciss\/c\d+d\d+)p\d+|mmcblk\d+(boot\d+|rpmb))$/;

// Why a device is left out while it has no sysfs entry; classified again (see
// createDiskCollector) rather than kept, as the entry may be on its way.
export const NOT_IN_SYSFS = 'not in sysfs (yet)';

// A device without a sysfs entry is classified again at this many full readings, then kept out.
const SYSFS_RETRIES = 6;

// The device an NVMe multipath head (nvme0n1) hangs from: its subsystem, where a
// namespace without multipath, and each path of one (nvme0c0n1), hang from a controller
// (nvme_mpath_set_live: device_add_disk(&head->subsys->dev, ...)).
const NVME_SUBSYSTEM = /^nvme-subsys\d+$/;

// Where a disk's `device` link leads, or undefined without one (or gone meanwhile).
function deviceOf(dir: string): string | undefined {
  try {
    return realpathSync(procPath(dir, 'device'));
  } catch (err) {
    if (errorCode(err) === 'ENOENT' || errorCode(err) === 'ENOTDIR') return undefined;
    throw err;
  }
}

// Why a block device is left out of the disk figures, or undefined for a physical disk.
// With sysfs: a partition has a `partition` attribute, a whole disk appears in
// /sys/block, a disk backed by hardware has a `device` link (loop, dm, md, zram and
// nbd have none), and removable media say so in `removable`. An NVMe multipath head
// is a view of its paths, as a dm-multipath device is of its sdX: older kernels keep
// no I/O statistics on it (all zeros; its paths, nvme0c0n1, have them), newer ones the
// same I/O as its paths. Counted, a host whose one dual-port NVMe was saturated read a
// mean busy share of 0.5, or that disk counted twice.
export function diskExclusion(name: string, sysRoot: string | undefined): string | undefined {
  if (NOT_PHYSICAL.test(name)) return 'virtual or removable by name';
  if (sysRoot === undefined) return PARTITION_NAME.test(name) ? 'partition by name' : undefined;
  const sysName = name.replaceAll('/', '!'); // cciss/c0d0 is cciss!c0d0 in sysfs
  if (existsSync(procPath(sysRoot, 'class/block', sysName, 'partition'))) return 'partition';
  const dir = procPath(sysRoot, 'block', sysName);
  if (!existsSync(dir)) {
    // The kernel lists a new disk in /proc/diskstats before it makes its sysfs entries
    // (device_add_disk): a disk read in that window has none yet.
    return existsSync(procPath(sysRoot, 'class/block', sysName)) ? 'not a whole disk' : NOT_IN_SYSFS;
  }
  const device = deviceOf(dir);
  if (device === undefined) return 'virtual (no device link)';
  if (NVME_SUBSYSTEM.test(basename(device))) return 'NVMe multipath head (its paths count)';
  const removable = readKernelTextIfPresent(NAME, procPath(dir, 'removable'));
  if (removable !== undefined && removable.trim() === '1') return 'removable';
  return undefined;
}

// Reads /proc/diskstats each tick. A device is classified once (and again if its
// major:minor changes); it reports from its second reading on, and a device whose
// io_ticks went backwards is left out for that tick. A host without a physical disk
// (diskless, NFS root) reports no devices and 0 busy, which is the truth. The whole
// file is parsed and new devices classified on the first tick and when the lines
// change; otherwise only the physical disks' lines are read (scanDiskstats).
// Without options.detail (the daemon), only io_ticks is read: no device list, no throughput.
export function createDiskCollector(options: CollectorOptions = {}): Collector<'disk'> {
  // Read to its end: one record is a disk with all its partitions (see SHORT_READ_ENDS).
  const diskstats = kernelFile(NAME, procPath(options.procRoot ?? '/proc', 'diskstats'), options.keepOpen, 'many');
  const file = diskstats.path;
  const sysRoot = options.sysRoot ?? '/sys';
  const detail = options.detail ?? true;
  let useSys: boolean | undefined;
  const classified = new Map<string, { dev: string; why: string | undefined; tries: number }>();
  let unsettled = false; // a device was left out for lack of a sysfs entry: no hot path, so the next reading classifies it again

  function isPhysical(d: DiskCounters): boolean {
    const dev = `${d.major}:${d.minor}`;
    let known = classified.get(d.name);
    const again = known !== undefined && known.why === NOT_IN_SYSFS && known.tries < SYSFS_RETRIES;
    if (known === undefined || known.dev !== dev || again) {
      useSys ??= existsSync(procPath(sysRoot, 'block'));
      const tries = again && known!.dev === dev ? known!.tries + 1 : 1;
      known = { dev, why: diskExclusion(d.name, useSys ? sysRoot : undefined), tries };
      classified.set(d.name, known);
      if (known.why === NOT_IN_SYSFS && tries < SYSFS_RETRIES) unsettled = true;
    }
    return known.why === undefined;
  }

  const table = new TableReader<DiskLayout, DiskScan>(diskstats, {
    names: diskstatsNames,
    // The whole file, its new devices classified, and a new layout for the hot path.
    readAll(text) {
      unsettled = false;
      const { kept: disks, seen, repeated } = keptEntries(parseDiskstats(text, file), isPhysical);
      for (const name of classified.keys()) if (!seen.has(name)) classified.delete(name);
      const layout = repeated || unsettled ? undefined : diskLayout(text, disks);
      // The layout's own list when there is one (same disks, same order), so that the next scan lines up with this reading.
      // In numberSlots, as diskScanFor's are: the next scan but one writes into this reading.
      const n = disks.length;
      const scan: DiskScan = {
        disks: layout?.disks ?? disks,
        ioTicksMs: numberSlots(n, (i) => disks[i]!.ioTicksMs),
        weightedMs: numberSlots(n, (i) => disks[i]!.weightedMs),
        readSectors: numberSlots(n, (i) => disks[i]!.readSectors),
        writeSectors: numberSlots(n, (i) => disks[i]!.writeSectors),
      };
      return { scan, layout };
    },
    scan: (bytes, layout, into) => scanDiskstats(bytes, layout, into, detail),
    scanFor: diskScanFor,
    fits: (scan, layout) => scan.disks === layout.disks,
  });

  return {
    name: NAME,
    collect(monotonicMs) {
      const now = table.read(monotonicMs);
      const before = table.before;
      if (before === undefined) return undefined;
      const old = before.scan;
      const elapsedMs = monotonicMs - before.at;
      if (!(elapsedMs > 0) && now.disks.length > 0) return undefined; // no disk, no time: 0 busy, as below
      // Read through the same layout, the previous disks are in the same order.
      const index = old.disks === now.disks ? undefined : new Map(old.disks.map((d, i) => [`${d.major}:${d.minor} ${d.name}`, i]));
      // Small integers only in this loop (ticks, their sums, counts), and the fractions
      // computed once after it: in the interpreter every other number is a fresh heap object.
      let counted = 0;
      let saturated = 0; // disks busy the whole time: ticks at or past the elapsed time
      let ticksSum = 0; // ticks of the others
      let busiestAt = -1;
      let busiestTicks = 0; // clamped to the elapsed time
      let busyTicks = 0; // of the disks busy at least IO_DEVICE_BUSY of the time
      let weighted = 0; // ms × I/Os in flight, every disk's; -1 once one went backwards
      let deepest = 0; // the most of one disk
      const busyFrom = IO_DEVICE_BUSY * elapsedMs;
      const devices: DiskDevice[] = [];
      const seconds = elapsedMs / 1000; // for the throughput, with detail
      let readSum = 0;
      let writeSum = 0;
      for (let i = 0; i < now.disks.length; i++) {
        const d = now.disks[i]!;
        const j = index === undefined ? i : index.get(`${d.major}:${d.minor} ${d.name}`);
        if (j === undefined) continue;
        // A counter that went backwards (a reset device) gives no value for this tick.
        const ticks = now.ioTicksMs[i]! - old.ioTicksMs[j]!;
        if (ticks < 0) continue;
        counted++;
        const queued = now.weightedMs[i]! - old.weightedMs[j]!;
        if (queued < 0 || weighted < 0) weighted = -1;
        else {
          weighted += queued;
          if (queued > deepest) deepest = queued;
        }
        // ms busy per ms, clamped to 1: counters read microseconds apart overshoot.
        let clamped = ticks;
        if (ticks >= elapsedMs) {
          clamped = elapsedMs;
          saturated++;
        } else ticksSum += ticks;
        if (clamped >= busyFrom) busyTicks += clamped;
        if (busiestAt < 0 || clamped > busiestTicks) {
          busiestAt = i;
          busiestTicks = clamped;
        }
        if (!detail) continue;
        const readSectors = now.readSectors[i]! - old.readSectors[j]!;
        const writeSectors = now.writeSectors[i]! - old.writeSectors[j]!;
        if (readSectors < 0 || writeSectors < 0) continue; // busy still counts: io_ticks did not go back
        const read = (readSectors / seconds) * SECTOR_BYTES;
        const write = (writeSectors / seconds) * SECTOR_BYTES;
        devices.push({ name: d.name, busy: clamped / elapsedMs, readBytesPerSec: read, writeBytesPerSec: write });
        readSum += read;
        writeSum += write;
      }
      if (counted === 0 && now.disks.length > 0) return undefined;
      const out: DiskReading = {
        busyMax: counted === 0 ? 0 : busiestTicks / elapsedMs,
        busyMean: counted === 0 ? 0 : (saturated + ticksSum / elapsedMs) / counted,
      };
      if (busiestAt >= 0) out.busiest = now.disks[busiestAt]!.name;
      if (busyTicks > 0) {
        out.busyDevices = busyTicks / busiestTicks;
        // Only beside busyDevices: the model reads the queue only to divide waiters among devices.
        if (weighted >= 0) {
          out.queue = weighted / elapsedMs;
          out.queueMax = deepest / elapsedMs;
        }
      }
      if (detail) Object.assign(out, { devices, readBytesPerSec: readSum, writeBytesPerSec: writeSum });
      return out;
    },
    close: () => table.close(),
  };
}
