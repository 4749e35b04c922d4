// Reading kernel text files on the per-tick hot path, without forking and without
// ever blocking the event loop. Files are opened with O_NONBLOCK: /proc and /sys
// ignore the flag, but a FIFO planted in their place (a fault, a fake procfs)
// returns EAGAIN or end-of-file at once instead of hanging the daemon forever.
import { closeSync, constants, openSync, readvSync, statfsSync } from 'node:fs';
import { join } from 'node:path';
import { CollectorError, errorCode, errorReason } from '../util/errors.js';
import { latin1At } from './text.js';

// /proc/diskstats on a host with thousands of devices is still far below this.
const MAX_BYTES = 4 * 1024 * 1024;
const CHUNK = 64 * 1024;

let scratch = Buffer.allocUnsafe(CHUNK);
const spill = Buffer.allocUnsafe(CHUNK);
// The buffers as the one-element lists readvSync takes, made once. readvSync rather than
// readSync: readSync checks five arguments through Node's wrapped validators, which
// allocate on every call (480 bytes against 184, measured in the interpreter), and a
// report makes two reads or more per file.
const scratchList: Buffer[] = [scratch];
const spillList: Buffer[] = [spill];

// Reads a whole kernel text file synchronously. Throws CollectorError naming the
// collector and the path on any failure (missing, unreadable, would block, too big).
export function readKernelText(collector: string, path: string): string {
  return latin1(readKernelBytes(collector, path));
}

function latin1(bytes: Buffer): string {
  return latin1At(bytes, 0, bytes.length);
}

// What read gives, or undefined when the file does not exist (ENOENT): where absence
// is a normal state (no PSI, no link speed, no sysfs CPU list, no cgroup limit file).
export function unlessMissing<T>(read: () => T): T | undefined {
  try {
    return read();
  } catch (err) {
    if (err instanceof CollectorError && errorCode(err.cause) === 'ENOENT') return undefined;
    throw err;
  }
}

// Reads a whole kernel file like readKernelText, into the one read buffer, and returns
// a view of its bytes, valid until the next read. The hot paths search these bytes
// and make strings of only the few they use: turning a 50 kB /proc/diskstats into a
// string every tick, in fresh memory, cost more than reading it.
export function readKernelBytes(collector: string, path: string): Buffer {
  const fd = openKernelFile(collector, path);
  try {
    return scratch.subarray(0, readFrom(collector, path, fd, null));
  } finally {
    closeSync(fd);
  }
}

// Opens a kernel file for reading, O_NONBLOCK (above); a failure is a CollectorError
// naming the collector and the path.
export function openKernelFile(collector: string, path: string): number {
  try {
    return openSync(path, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY);
  } catch (err) {
    throw new CollectorError(collector, `cannot open ${path}: ${errorReason(err)}`, { cause: err });
  }
}

// Reads fd to its end into the read buffer, from its current offset (position null)
// or from offset 0 (position 0: a kernel file kept open is read again from its start,
// each read at the offset the previous one ended, as seq_file expects); returns the
// length. A seq_file read returns about a page at a time, so a short read is not the
// end: the end is a read of 0 bytes, or, for a kept file, a first read short of what
// `records` allows (Records).
function readFrom(collector: string, path: string, fd: number, position: 0 | null, records: Records = 'many'): number {
  let length = 0;
  // The longest first read that is the whole file; read whole only from offset 0.
  const ends = position !== 0 ? -1 : records === 'one' ? scratch.length - 1 : records === 'small' ? SHORT_READ_ENDS : -1;
  for (;;) {
    let n: number;
    try {
      // The first read fills the buffer from its start; later ones (the end-of-file read,
      // a seq_file's next page) go to the spill buffer and are copied after the first.
      n = readvSync(fd, length === 0 ? scratchList : spillList, position === null ? undefined : length);
    } catch (err) {
      const code = errorCode(err);
      const why = code === 'EAGAIN' ? 'read would block (not a kernel file?)' : (code ?? String(err));
      throw new CollectorError(collector, `cannot read ${path}: ${why}`, { cause: err });
    }
    if (n === 0 || (length === 0 && n <= ends)) return length + n;
    if (length > 0) {
      if (length + n > scratch.length) grow(collector, path, length, length + n);
      spill.copy(scratch, length, 0, n);
    }
    length += n;
  }
}

// A kept file (procfs, sysfs) whose first read from offset 0 gives at most this many
// bytes has ended, and is not read again for the 0 bytes that would say so: 9 of the
// 10 files of a report on a small host, a read each, 5-6 µs cold (in process, 100 ms
// apart). seq_file (fs/seq_file.c, seq_read_iter and the seq_read before it) ends a
// read before the caller's 64 kB only at the file's end, or when the next record does
// not fit in what is left of its own buffer, a page or more. Most files lavarank keeps
// open print records far under half a page (a net/dev line, a vmstat counter) or the
// whole file as one record (stat, meminfo, loadavg, pressure, status), and a sysfs
// attribute comes whole in one read. Not /proc/diskstats: its record is a disk with
// all its partitions (block/genhd.c, diskstats_show), and a disk of 30 partitions
// after a few loop devices stops the first read at a few hundred bytes; it is read
// to a read of 0 bytes (kernelFile's records: 'many'). A file opened for each
// read (a fake root, a FIFO in a kernel file's place) is too.
const SHORT_READ_ENDS = 2048;

// What a kept file's records are, which says when its first read from offset 0 is the
// whole file: 'one', a single_open file that prints itself as one record (/proc/stat,
// single_open_size in fs/proc/stat.c: 25 kB on 128 CPUs), whole in any first read
// shorter than the buffer, since seq_read_iter (and seq_read before 5.10) shows the
// record into its own buffer, grown until it fits, and copies as much as was asked; a
// read that fills the buffer goes on. 'small', records far under half a page
// (SHORT_READ_ENDS). 'many', anything else, read to a read of 0 bytes.
export type Records = 'one' | 'small' | 'many';

// Makes the read buffer hold at least `needed` bytes, keeping its first `length`.
function grow(collector: string, path: string, length: number, needed: number): void {
  if (needed > MAX_BYTES) throw new CollectorError(collector, `${path} is larger than ${MAX_BYTES} bytes`);
  let size = scratch.length * 2;
  while (size < needed) size *= 2;
  const bigger = Buffer.allocUnsafe(Math.min(size, MAX_BYTES));
  scratch.copy(bigger, 0, 0, length);
  scratch = bigger;
  scratchList[0] = bigger;
}

// statfs f_type of procfs, sysfs and the cgroup file systems (linux/magic.h).
const PROC_SUPER_MAGIC = 0x9fa0;
const SYSFS_MAGIC = 0x62656572;
const CGROUP_SUPER_MAGIC = 0x27e0eb;
const CGROUP2_SUPER_MAGIC = 0x63677270;

// True if path is on procfs, sysfs or a cgroup file system, whose files are never
// replaced by another file at the same path: a sysfs attribute goes away with its
// device, a cgroup's files with the cgroup, and a read through a descriptor kept open
// then fails. Anything else (a fake root, a snapshot, lxcfs's FUSE files) may be
// replaced or removed under a kept descriptor, unnoticed.
export function onKernelFs(path: string): boolean {
  try {
    const type = statfsSync(path).type;
    return type === PROC_SUPER_MAGIC || type === SYSFS_MAGIC || type === CGROUP_SUPER_MAGIC || type === CGROUP2_SUPER_MAGIC;
  } catch {
    return false; // cannot tell: opened for each read, as any other file
  }
}

// True if path is on procfs: its counters are the running kernel's.
export function onProcFs(path: string): boolean {
  try {
    return statfsSync(path).type === PROC_SUPER_MAGIC;
  } catch {
    return false; // cannot tell: taken for another file's
  }
}

// One kernel file a collector reads every tick.
export interface KernelFile {
  readonly path: string;
  // The whole file, as readKernelBytes: a view valid until the next read.
  bytes(): Buffer;
  // The whole file as latin1 text, as readKernelText.
  text(): string;
  // Like text, but undefined when the file does not exist, as readKernelTextIfPresent.
  textIfPresent(): string | undefined;
  // Like bytes, but undefined when the file does not exist.
  bytesIfPresent(): Buffer | undefined;
  // Closes the descriptor kept open, if any; a later read opens the file again.
  close(): void;
}

// A kernel file read every tick. A file on procfs or sysfs is opened once and read
// again from offset 0 each tick, as top does: opening and closing it cost as much as
// reading it (one path walk under /proc, and Node's checks of each call, interpreted in
// --lite-mode). Any other file is opened for each read. A failed read closes the
// descriptor (a removed device's attribute fails for good), so the next read opens the
// file again and a file that came back is found. Errors are readKernelBytes's.
export function kernelFile(collector: string, path: string, keepOpen: (path: string) => boolean = onKernelFs, records: Records = 'small'): KernelFile {
  let fd: number | undefined;
  let keep: boolean | undefined; // decided at the first open: a statfs per read would cost what keeping saves
  let view: Buffer | undefined; // the last view returned, reused while the buffer and the length are the same
  const close = (): void => {
    if (fd === undefined) return;
    const open = fd;
    fd = undefined;
    closeSync(open);
  };
  const bytes = (): Buffer => {
    if (fd === undefined) {
      fd = openKernelFile(collector, path);
      keep ??= keepOpen(path);
    }
    let length: number;
    try {
      length = keep === true ? readFrom(collector, path, fd, 0, records) : readFrom(collector, path, fd, null);
    } catch (err) {
      close();
      // A file that cannot be read at an offset (a stream: ESPIPE) is read as one, opened each time.
      if (keep === true && err instanceof CollectorError && errorCode(err.cause) === 'ESPIPE') {
        keep = false;
        return bytes();
      }
      throw err;
    }
    if (keep !== true) close();
    if (view === undefined || view.length !== length || view.buffer !== scratch.buffer) view = scratch.subarray(0, length);
    return view;
  };
  return {
    path,
    bytes,
    text: () => latin1(bytes()),
    textIfPresent: () => unlessMissing(() => latin1(bytes())),
    bytesIfPresent: () => unlessMissing(bytes),
    close,
  };
}

// Like readKernelText, but a missing file (ENOENT) gives undefined: used where
// absence is a normal state (no PSI, no link speed).
export function readKernelTextIfPresent(collector: string, path: string): string | undefined {
  return unlessMissing(() => readKernelText(collector, path));
}

// A file's path under a proc (or sys) root: the collectors' one way of naming one, so
// that a test's tree stands in for /proc.
export function procPath(root: string, ...parts: string[]): string {
  return join(root, ...parts);
}
