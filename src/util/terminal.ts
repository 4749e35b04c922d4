// Whether a file descriptor is a terminal, without loading node:tty where it cannot be one.
// node:tty requires node:net at load, about 0.2-0.6 MB of resident set that stays; the
// elim asks at every start, with its stdout a pipe and its stderr /dev/null under LIM.
import { fstatSync } from 'node:fs';
import { lazyBuiltin } from './builtin.js';

// The Linux character device major of /dev/null, /dev/zero, /dev/full and /dev/*random
// (Documentation/admin-guide/devices.txt, "1 char: Memory devices"): never a terminal.
const MEMORY_DEVICES = 1;

const tty = lazyBuiltin<typeof import('node:tty')>('node:tty');

// The major number of a device number as glibc's gnu_dev_major reads it.
function major(rdev: number): number {
  return (Math.floor(rdev / 2 ** 8) & 0xfff) | (Math.floor(rdev / 2 ** 32) & ~0xfff);
}

// isatty(fd), asked of node:tty only for a character device other than a memory device
// (every terminal is a character device); false for a closed or invalid fd, as isatty.
export function isTerminal(fd: number): boolean {
  let stats;
  try {
    stats = fstatSync(fd);
  } catch {
    return false; // closed: not a terminal
  }
  if (!stats.isCharacterDevice() || major(stats.rdev) === MEMORY_DEVICES) return false;
  return tty().isatty(fd);
}
