// Replacing a file so that a reader sees the old or the new content, never half of
// one: a temp file in the same directory, fsync, rename, fsync of the directory.
import { closeSync, constants, fchmodSync, fchownSync, fsyncSync, openSync, readSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { open, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { directoryProblemsAsync, holdDirectory, type HeldDirectory } from './trust.js';
import { errorReason } from './errors.js';

// The new file is in place (readers see it), but its directory could not be synced
// after the rename (EIO from the disk): a crash may still bring back the old file, or
// leave none where there was none. A caller must not treat the file as unwritten, nor
// drop what it kept of the old one.
export class UnsyncedRename extends Error {
  override name = 'UnsyncedRename';
  constructor(
    readonly path: string,
    cause: unknown,
  ) {
    super(`${path} was written, but its directory ${dirname(path)} could not be synced: ${errorReason(cause)}; after a crash ${path} may be as it was before`, { cause });
  }
}

// Options of writeFileAtomic and outputDirectoryProblemsAsync.
export interface AtomicWriteOptions {
  what?: string; // the directory, as messages name it; default 'output directory'
  logGroup?: number | undefined; // as directoryProblems takes it (default: the syslog group's gid)
}

// Why writeFileAtomic refuses to write path: its directory, or one above it, can be
// changed by another user (see writeFileAtomic). Asked before long work (a retrain, a
// calibration) whose result the refusal at its end would lose. The walk is asked in
// libuv's pool.
export async function outputDirectoryProblemsAsync(path: string, options: AtomicWriteOptions = {}): Promise<string[]> {
  if (!asRoot()) return [];
  const problems = await directoryProblemsAsync(dirname(path), options.what ?? 'output directory', rules(options));
  return problems.length === 0 ? [] : [...problems, REFUSED];
}

function rules(options: AtomicWriteOptions): { logGroup?: number } {
  return 'logGroup' in options ? { logGroup: options.logGroup } : {};
}

// Whether the refusal binds this process: another user's swap turns root's writes to a
// directory of root's, but a user's own only to where that user could write anyway (as
// a shell's > into that directory would), so a user's --html into their project's 2775
// directory, refused with advice to make it root's, is theirs to write.
function asRoot(): boolean {
  return (process.geteuid?.() ?? 0) === 0;
}

const REFUSED = 'lavarank writes its files only in a directory no other user can change (they could swap it for a link, between two of its steps, to any directory of root\'s): make it root\'s as said, or name a directory of root\'s';

// Writes text to path atomically, mode 0644 unless given; on failure removes the temp
// file and throws (UnsyncedRename once the new file is in place). Refused (nothing written) where outputDirectoryProblemsAsync names a
// problem (as root only, see asRoot): a user who owns the directory (a --report in their home) swapped it for a
// link to a directory of root's between the steps of 5 000 writes by path, and root
// left 1 800 temp files, and the file itself, in both. The temp file, the rename, its
// removal and the sync are then made in the directory held open once it passed
// (holdDirectory), not by its path again: a member of the syslog group may still rename
// entries of /var/log, whose exception the walk keeps.
export function writeFileAtomic(path: string, text: string, mode = 0o644, options: AtomicWriteOptions = {}): void {
  const held = asRoot() ? holdDirectory(dirname(path), options.what ?? 'output directory', rules(options)) : openDirectory(dirname(path));
  // Not there, or not a directory: the open's own error, as the write's would have been.
  if ('problems' in held && held.error !== undefined) throw held.error;
  if ('problems' in held) throw new Error(`${path} not written: ${[...held.problems, REFUSED].join('; ')}`);
  try {
    writeInHeld(held.path, basename(path), text, mode);
    try {
      fsyncSync(held.fd);
    } catch (err) {
      throw new UnsyncedRename(path, err);
    }
  } finally {
    closeSync(held.fd);
  }
}

// dir opened as a held directory, unchecked: for a caller other than root.
function openDirectory(dir: string): HeldDirectory {
  const fd = openSync(dir, constants.O_RDONLY | constants.O_DIRECTORY);
  return { fd, path: `/proc/self/fd/${fd}` };
}

// writeFileAtomic's steps, every name in dir (a held directory's /proc/self/fd/N).
function writeInHeld(dir: string, name: string, text: string, mode: number): void {
  const tmp = join(dir, tempFileName(name));
  // Created readable by us alone: in a setgid directory it takes the directory's
  // group, and a descriptor that group opened before the chown below would read
  // what is written after it.
  const fd = openSync(tmp, 'wx', 0o600);
  try {
    // The group is ours (a 0640 report quotes input lines), then the mode: readers
    // other than root (check, explain, a report run or read by a user) need 0644
    // whatever the umask.
    fchownSync(fd, process.geteuid?.() ?? 0, process.getegid?.() ?? 0);
    fchmodSync(fd, mode);
    const buf = Buffer.from(text);
    let off = 0;
    while (off < buf.length) off += writeSync(fd, buf, off);
    fsyncSync(fd);
  } catch (err) {
    closeSync(fd);
    unlinkSync(tmp);
    throw err;
  }
  closeSync(fd);
  try {
    renameSync(tmp, join(dir, name));
  } catch (err) {
    unlinkSync(tmp);
    throw err;
  }
}

// Puts a directory's entries on disk (after a rename into it): without this, a crash
// soon after may leave the old name, or on some file systems an empty file.
// O_DIRECTORY: whoever owns the directory (a --report or --out in theirs) may put a
// FIFO or a link to a device at its name once the rename is done, and a plain open
// as root waited on their FIFO for good, or would open the device (a watchdog armed);
// the kernel refuses anything but a directory (ENOTDIR) before opening it.
export function syncDirectory(dir: string): void {
  const dfd = openSync(dir, constants.O_RDONLY | constants.O_DIRECTORY);
  try {
    fsyncSync(dfd);
  } finally {
    closeSync(dfd);
  }
}

// Replaces path with text through a temp file and a rename, without blocking the
// event loop and without fsync: for files rewritten every few seconds whose
// readers want whole content, not durability (a metrics file). Mode 0644 whatever
// the umask; on failure the temp file is removed and the error thrown. into: the
// directory to make both names in instead of path's (a held one, /proc/self/fd/N).
export async function replaceFileAsync(path: string, text: string, into = dirname(path)): Promise<void> {
  const tmp = join(into, tempFileName(basename(path)));
  const target = join(into, basename(path));
  const handle = await open(tmp, 'wx', 0o644);
  try {
    await handle.chmod(0o644);
    await handle.writeFile(text);
  } catch (err) {
    await handle.close().catch(() => undefined); // the write's error is the one to tell
    await rm(tmp, { force: true });
    throw err;
  }
  try {
    // On NFS a write's failure (EDQUOT, ENOSPC, EIO) may first show here: a temp file
    // left at each tick's failed close would pile up in the directory for good.
    await handle.close();
    await rename(tmp, target);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}

// The name of this process's temp file for name beside it (writeFileAtomic's and
// replaceFileAsync's): `.NAME.PID.TIME.tmp`, TIME the clock in ms, base 36, then 8 random
// hex digits. Without them every name was known ahead: in a sticky directory (a metrics
// file's, a report's) a user who made each name of the coming seconds failed every write
// (O_EXCL: EEXIST) for as long as they went on (2026-12-07, hostile20).
export function tempFileName(name: string): string {
  return `.${name}.${process.pid}.${Date.now().toString(36)}${randomHex()}.tmp`;
}

// /dev/urandom, opened at the first temp file's name and kept: node:crypto would add 0.6 MB
// to the elim's resident set (util/sha256.ts), and Math.random's state can be worked out
// from enough of its outputs, which the names show to anyone who lists the directory.
let urandom: number | undefined;

// 8 hex digits from the kernel's random source; where /dev/urandom cannot be opened (a
// chroot or container without it) Web Crypto's, which loads the crypto module only then.
export function randomHex(): string {
  const bytes = Buffer.alloc(4);
  if (urandom === undefined) {
    try {
      urandom = openSync('/dev/urandom', constants.O_RDONLY);
    } catch {
      urandom = -1; // no /dev/urandom here: Web Crypto below, from now on
    }
  }
  if (urandom < 0) globalThis.crypto.getRandomValues(bytes);
  else if (readSync(urandom, bytes, 0, 4, null) !== 4) throw new Error('/dev/urandom gave fewer than 4 bytes');
  return bytes.toString('hex');
}

// The pid in the name of a temp file for name (tempFileName's, or `.NAME.PID.tmp`, retrain's
// copy of the model it replaces), or undefined for any other name: how the metrics writer and
// retrain find those a killed process left.
export function tempFilePid(entry: string, name: string): number | undefined {
  const prefix = `.${name}.`;
  if (!entry.startsWith(prefix) || !entry.endsWith('.tmp')) return undefined;
  const m = /^([1-9][0-9]{0,9})(?:\.[0-9a-z]+)?$/.exec(entry.slice(prefix.length, -'.tmp'.length));
  return m === null ? undefined : Number(m[1]);
}
