// Reading kernel text files on the per-tick hot path, without forking and without
// ever blocking the event loop. Files are opened with O_NONBLOCK: /proc and /sys
// ignore the flag, but a FIFO planted in their place (a fault, a fake procfs)
// returns EAGAIN or end-of-file at once instead of hanging the daemon forever.
import { closeSync, constants, openSync, readSync } from 'node:fs';
import { join } from 'node:path';
import { CollectorError, errorCode } from '../util/errors.js';

// /proc/diskstats on a host with thousands of devices is still far below this.
const MAX_BYTES = 4 * 1024 * 1024;
const CHUNK = 64 * 1024;

let scratch = Buffer.allocUnsafe(CHUNK);

// Reads a whole kernel text file synchronously. Throws CollectorError naming the
// collector and the path on any failure (missing, unreadable, would block, too big).
export function readKernelText(collector: string, path: string): string {
  const bytes = readKernelBytes(collector, path);
  return bytes.toString('latin1', 0, bytes.length);
}

// Reads a whole kernel file like readKernelText, into the one read buffer, and returns
// a view of its bytes, valid until the next read. The hot paths search these bytes
// and make strings of only the few they use: turning a 50 kB /proc/diskstats into a
// string every tick, in fresh memory, cost more than reading it.
export function readKernelBytes(collector: string, path: string): Buffer {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY);
  } catch (err) {
    throw new CollectorError(collector, `cannot open ${path}: ${errorCode(err) ?? String(err)}`, { cause: err });
  }
  try {
    let length = 0;
    for (;;) {
      if (length === scratch.length) {
        if (scratch.length >= MAX_BYTES) throw new CollectorError(collector, `${path} is larger than ${MAX_BYTES} bytes`);
        const bigger = Buffer.allocUnsafe(scratch.length * 2);
        scratch.copy(bigger, 0, 0, length);
        scratch = bigger;
      }
      let n: number;
      try {
        n = readSync(fd, scratch, length, scratch.length - length, null);
      } catch (err) {
        const code = errorCode(err);
        const why = code === 'EAGAIN' ? 'read would block (not a kernel file?)' : (code ?? String(err));
        throw new CollectorError(collector, `cannot read ${path}: ${why}`, { cause: err });
      }
      if (n === 0) break;
      length += n;
    }
    return scratch.subarray(0, length);
  } finally {
    closeSync(fd);
  }
}

// Like readKernelText, but a missing file (ENOENT) gives undefined: used where
// absence is a normal state (no PSI, no link speed).
export function readKernelTextIfPresent(collector: string, path: string): string | undefined {
  try {
    return readKernelText(collector, path);
  } catch (err) {
    if (err instanceof CollectorError && errorCode(err.cause) === 'ENOENT') return undefined;
    throw err;
  }
}

export function procPath(root: string, ...parts: string[]): string {
  return join(root, ...parts);
}
