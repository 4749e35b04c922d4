// Small questions about paths that several folders ask.
import { closeSync, constants, fstatSync, openSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';

// True when path names an existing directory (following symbolic links).
export function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false; // missing, unreadable or a dangling link: not a directory lavarank can use
  }
}

// True when path names an existing regular file (following symbolic links).
export function isRegularFile(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false; // missing, unreadable or a dangling link
  }
}

// The text of a regular file of at most maxBytes. Opened with O_NONBLOCK, so that a
// FIFO put in its place (by whoever owns its directory) is refused at once instead of
// waiting for a writer; anything but a regular file, or a larger one, is an error
// whose message says which.
export function readRegularText(path: string, maxBytes: number): string {
  return readRegularBytes(path, maxBytes).toString('utf8');
}

// readRegularText's bytes, undecoded.
export function readRegularBytes(path: string, maxBytes: number): Buffer {
  return readOpenRegular(openSync(path, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY), maxBytes);
}

// The bytes of the regular file open at fd, if no more than maxBytes; closes fd.
export function readOpenRegular(fd: number, maxBytes: number): Buffer {
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw new Error('not a regular file');
    if (st.size > maxBytes) throw new Error(`${st.size} bytes, more than the ${maxBytes} expected`);
    return readFileSync(fd);
  } finally {
    closeSync(fd);
  }
}

// What tells two names of one file apart from two files: device and inode where the
// path exists (a second name, a link), else its directory's (links resolved) and its
// name, for a file not written yet.
export function fileIdentity(path: string): string {
  try {
    const st = statSync(path);
    return `${st.dev}:${st.ino}`;
  } catch {
    try {
      const dir = statSync(dirname(resolve(path)));
      return `${dir.dev}:${dir.ino}/${basename(path)}`;
    } catch {
      return `path ${resolve(path)}`;
    }
  }
}
