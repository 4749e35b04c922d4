// Small questions about paths that several folders ask.
import { closeSync, constants, fstatSync, openSync, readSync, statSync, type Stats } from 'node:fs';
import { access, lstat, open, realpath, stat, statfs, type FileHandle } from 'node:fs/promises';
import { basename, dirname, resolve } from 'node:path';
import { ConfigError, errorCode, errorReason } from './errors.js';
import { fuseMounterAsync } from './trust.js';

// Reaches a path off the event loop, with a stat that waits in libuv's pool, before a
// synchronous walk of it (a trust or directory check): on a file system that stops
// answering (a hung NFS server) the wait then holds a pool thread, not the reports
// and the SIGTERM handler, and the walk meets what the kernel has just read. Whether
// the path exists is for the check to tell.
export async function reachOffLoop(path: string): Promise<void> {
  await stat(path).catch(() => undefined);
}

// True when path names an existing directory (following symbolic links).
export function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false; // missing, unreadable or a dangling link: not a directory lavarank can use
  }
}

// Why we cannot create files at path: the nearest existing directory at or above it
// fails access(2) for writing, or undefined. On NFS that is the server's answer: with
// root_squash (the default) root is its anonymous user there, EACCES in a directory of root's.
// Its stat and access(2) calls are asked in libuv's pool.
export async function writableProblemAsync(path: string): Promise<string | undefined> {
  let dir = path;
  for (;;) {
    if (await stat(dir).then(() => true, () => false)) {
      try {
        await access(dir, constants.W_OK);
        return undefined;
      } catch (err) {
        return `${dir} is not writable: ${errorReason(err)}`;
      }
    }
    const up = dirname(dir);
    if (up === dir) return `no existing directory above ${path}`;
    dir = up;
  }
}

// isDirectory with its stat in libuv's pool, for the daemon's event loop.
export async function isDirectoryAsync(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isDirectory();
  } catch {
    return false; // as isDirectory
  }
}

// existsSync with its stat in libuv's pool.
export async function existsAsync(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false, // missing, unreadable or a dangling link, as existsSync says
  );
}

// Whether anything is at path, a link to nothing included (existsSync follows links),
// with its lstat in libuv's pool.
export async function isPresentAsync(path: string): Promise<boolean> {
  try {
    await lstat(path);
    return true;
  } catch {
    return false; // nothing there, or a directory on the way that cannot be read: the open will say
  }
}

// The text of a regular file of at most maxBytes. What the name leads to is looked at
// first through an O_PATH descriptor, which opens nothing (see openInput): a link put
// there by whoever owns its directory (an LSF administrator's LSF_ENVDIR, /tmp) to a
// device, whose open is an action as root, or to a FIFO is refused unopened, and a
// regular file is opened through that descriptor. Anything but a regular file, or a
// larger one, is an error whose message says which. The open, fstat and reads are asked
// in libuv's pool: a file under a user's FUSE mount whose server answers the pool and
// never a main thread (an LSF administrator's LSF_CONFDIR, a name of theirs below a
// sticky directory) held the main thread, where SIGINT could not end it.
export async function readRegularTextAsync(path: string, maxBytes: number): Promise<string> {
  return (await readRegularBytesAsync(path, maxBytes)).toString('utf8');
}

// readRegularTextAsync's bytes, undecoded.
export async function readRegularBytesAsync(path: string, maxBytes: number): Promise<Buffer> {
  const named = await open(path, O_PATH);
  let handle: FileHandle;
  try {
    if (!(await named.stat()).isFile()) throw new Error('not a regular file');
    handle = await open(`/proc/self/fd/${named.fd}`, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY);
  } finally {
    await named.close();
  }
  try {
    const st = await handle.stat();
    if (!st.isFile()) throw new Error('not a regular file');
    if (st.size > maxBytes) throw new Error(`${st.size} bytes, more than the ${maxBytes}-byte limit`);
    // As readOpenRegular: read to the end, never past maxBytes + 1.
    const chunks: Buffer[] = [];
    let got = 0;
    for (;;) {
      const buf = Buffer.allocUnsafe(Math.min(Math.max(st.size + 1 - got, 4096), maxBytes + 1 - got));
      const { bytesRead } = await handle.read(buf, 0, buf.length, null);
      if (bytesRead === 0) return Buffer.concat(chunks, got);
      chunks.push(buf.subarray(0, bytesRead));
      got += bytesRead;
      if (got > maxBytes) throw new Error(`more than the ${maxBytes}-byte limit (it grew while being read)`);
    }
  } finally {
    await handle.close();
  }
}

// A descriptor open for reading on the regular file path leads to; throws 'not a
// regular file' for anything else, which is never opened (see readRegularTextAsync).
export function openRegular(path: string): number {
  const named = openSync(path, O_PATH);
  try {
    if (!fstatSync(named).isFile()) throw new Error('not a regular file');
    return openSync(`/proc/self/fd/${named}`, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY);
  } finally {
    closeSync(named);
  }
}

// The bytes of the regular file open at fd, if no more than maxBytes; closes fd.
// Read to its end, not to the size fstat gave, yet never past maxBytes + 1: a file
// that grows while it is read is refused, not read without end. The buffer is sized
// by the file, not the limit: a 2 MB buffer per model reload left the daemon 2 MB
// more resident from the second reload on (npm run soak; likely glibc's adaptive
// mmap threshold).
export function readOpenRegular(fd: number, maxBytes: number): Buffer {
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw new Error('not a regular file');
    if (st.size > maxBytes) throw new Error(`${st.size} bytes, more than the ${maxBytes}-byte limit`);
    let buf = Buffer.allocUnsafe(st.size + 1); // the extra byte shows a file that grew
    let got = 0;
    for (;;) {
      if (got === buf.length) {
        const bigger = Buffer.allocUnsafe(Math.min(buf.length * 2, maxBytes + 1));
        buf.copy(bigger, 0, 0, got);
        buf = bigger;
      }
      const n = readSync(fd, buf, got, buf.length - got, null);
      if (n === 0) return buf.subarray(0, got);
      got += n;
      if (got > maxBytes) throw new Error(`more than the ${maxBytes}-byte limit (it grew while being read)`);
    }
  } finally {
    closeSync(fd);
  }
}

// What tells two names of one file apart from two files: device and inode where the
// path exists (a second name, a link), else its directory's (links resolved) and its
// name, for a file not written yet. Its stats are asked in libuv's pool.
export async function fileIdentityAsync(path: string): Promise<string> {
  try {
    const st = await stat(path);
    return `${st.dev}:${st.ino}`;
  } catch {
    try {
      const dir = await stat(dirname(resolve(path)));
      return `${dir.dev}:${dir.ino}/${basename(path)}`;
    } catch {
      return `path ${resolve(path)}`;
    }
  }
}

// O_PATH (Linux, asm-generic/fcntl.h), which Node does not export: a descriptor that
// names a file without opening it.
const O_PATH = 0o10000000;

// A shell's process substitution, <(zcat old.jsonl.gz): a pipe whose writer is the
// administrator's own command.
const SUBSTITUTED = /^\/(dev|proc\/self)\/fd\/\d+$/;

// Whether what path leads to (st) may be read as an input (lsb.acct, a history file,
// a journal): a regular file, or the pipe of a shell's process substitution. Any other
// FIFO or a device would block the read for ever, or act as root when opened.
export function isInputFile(st: Stats, path: string): boolean {
  return st.isFile() || (st.isFIFO() && SUBSTITUTED.test(path));
}

// A file with holes: one whose blocks on disk hold less than 1/HOLES_RATIO of its size.
// `truncate -s 16T` in a sticky history.dir makes one at once, and its zeros, read at
// some 13 s a GiB, held a cron retrain for days, and its lock kept the next week's
// from running. The daemons and mbatchd only append, so their files have no holes; a
// compressed file system keeps such text in about a tenth of its size, far above the
// ratio. Below HOLES_MIN_BYTES blocks say little (ext4 keeps a tiny file in its inode).
// Only another user's file is judged: ZFS counts a file's blocks only once their
// transaction group is written (some 5 s; openzfs/zfs#13991), so root's own copy of an
// lsb.acct read at once would look like holes, and no other user can make a file of
// root's (or one linked to root's, which the hard-link rule refuses there).
const HOLES_RATIO = 64;
const HOLES_MIN_BYTES = 64 * 1024;

// Opens an input file (lsb.acct, a history file) to read, with what was opened. What
// the name leads to is looked at first through an O_PATH descriptor, which opens
// nothing: in a directory someone else can write (a sticky history.dir, an LSF
// admin's logdir) the name may lead, by now, to a device, whose open is itself an
// action as root (a watchdog armed, which reboots the host when it is closed without
// its magic character; a tape rewound), or to a FIFO, whose open would wait for a
// writer for ever. Anything but a regular file, or a process substitution's pipe, is
// refused unopened (a ConfigError naming `what`); a regular file is then opened
// through that descriptor (/proc/self/fd), so what is read is what was looked at.
// The name itself is looked at first, not followed: a symbolic link there that another
// user owns, or a file of several links in a directory others can write or own (where
// fs.protected_hardlinks is 0), may name a root-only file (/etc/shadow, a munge key),
// whose lines root would read and quote as malformed (retrain printed the first bytes
// of each, into a cron job's log); both are refused unread, as checkTrust refuses them.
// So is another user's file with holes (HOLES_RATIO), and a file on another user's FUSE
// mount: its server answers each read as late as it likes, a byte at a time, and
// makes up the size read to, so that `retrain --acct` or `simulate --acct` of it read
// for as long as its owner wished (progress, to the held-call limit), retrain's lock
// held all that time (hostile27).
export async function openInput(path: string, what: string): Promise<{ handle: FileHandle; stats: Stats }> {
  const uid = process.geteuid?.() ?? 0;
  const ours = (st: Stats): boolean => st.uid === 0 || st.uid === uid;
  let named = await open(path, O_PATH | constants.O_NOFOLLOW);
  let stats: Stats;
  try {
    stats = await named.stat();
    if (stats.isSymbolicLink()) {
      if (!ours(stats)) throw new ConfigError(`${what} ${path}: a symbolic link of uid ${stats.uid}'s, who can point it at any file; not read (copy the file there instead)`);
      await named.close();
      named = await open(path, O_PATH);
      stats = await named.stat();
    }
    if (!isInputFile(stats, path)) throw new ConfigError(`${what} ${path}: not a regular file`);
    if (stats.isFile() && stats.nlink > 1) {
      const dir = await stat(dirname(path));
      if (!ours(dir) || (dir.mode & 0o022) !== 0) {
        throw new ConfigError(`${what} ${path}: ${stats.nlink} hard links in ${dirname(path)}, a directory others can write or own, so another user may have linked a root file there; not read (copy it to a directory of root's)`);
      }
    }
    if (stats.isFile() && !ours(stats) && stats.size > HOLES_MIN_BYTES && stats.blocks * 512 * HOLES_RATIO < stats.size) {
      throw new ConfigError(`${what} ${path}: ${stats.size} bytes held in ${stats.blocks * 512} on disk, a file with holes, which no daemon or mbatchd writes (they only append); not read`);
    }
    if (stats.isFile()) {
      const mounter = await fuseMounterAsync(`/proc/self/fd/${named.fd}`, stats.dev).catch(() => undefined);
      if (mounter !== null && mounter !== 0 && mounter !== uid) {
        throw new ConfigError(
          `${what} ${path}: on a FUSE file system ${mounter === undefined ? 'whose mounter cannot be told from /proc/self/mountinfo' : `that uid ${mounter} mounted`}, whose server answers each read as late and as slowly as it likes; not read (copy the file to a file system root mounted)`,
        );
      }
    }
    if (stats.isFile()) return { handle: await open(`/proc/self/fd/${named.fd}`, constants.O_RDONLY | constants.O_NONBLOCK), stats };
  } finally {
    await named.close();
  }
  return { handle: await open(path, 'r'), stats }; // read blocking, as a pipe with a writer is meant to be
}

// Why this process cannot make a file in dir, or undefined: asked before long work (a
// retrain, a simulation) whose result a failed write at its end would lose. Its
// access(2) is asked in libuv's pool.
export async function unwritableDirectoryAsync(dir: string): Promise<string | undefined> {
  try {
    await access(dir, constants.W_OK);
    return undefined;
  } catch (err) {
    return errorCode(err) === 'ENOENT' ? 'the directory does not exist' : errorReason(err);
  }
}

// What statfs says of a file system's blocks, in the units Node's StatFs gives them.
export interface SpaceFigures {
  bsize: number;
  blocks: number;
  bfree: number;
}

// bytes in MiB, or in GiB from 1 GiB, to one decimal.
export function mib(bytes: number): string {
  return bytes >= 1024 ** 3 ? `${(bytes / 1024 ** 3).toFixed(1)} GiB` : `${(bytes / 1024 ** 2).toFixed(1)} MiB`;
}

// How little room a file system has left, or undefined where it has the `need` bytes
// asked of it. Free counts the blocks reserved for root (bfree, not bavail): the daemon
// writes as root.
export function lowSpace(figures: SpaceFigures, need: number): string | undefined {
  const size = figures.blocks * figures.bsize;
  const free = figures.bfree * figures.bsize;
  if (!(size > 0) || free >= need) return undefined;
  return `${mib(free)} free of ${mib(size)} (${((100 * free) / size).toFixed(1)} %)`;
}

// The file system holding path's directory, or the nearest existing directory above it (a
// history directory not yet made): its device and statfs figures, asked in libuv's pool,
// of that directory's real path once each directory on it is seen (lstat) to be root's or
// uid's; undefined where none can be asked or one is another user's (what is wrong with
// the path is for the other checks to say). By the path as given, `check` asked the file
// system of whatever another user put at a name still to be made below a sticky directory
// after its trust walk: their link's target in 1 of 12 runs against a swapping loop, and
// the sizes of their files there as the history's (2026-12-07, hostile22).
export async function fileSystemAsync(path: string, uid = process.geteuid?.() ?? 0): Promise<{ dev: number; figures: SpaceFigures } | undefined> {
  for (let dir = dirname(path); ; ) {
    const real = await realpath(dir).catch(() => undefined);
    if (real !== undefined) return (await ownedAsync(dir, uid, true)) && (await ownedAsync(real, uid, false)) ? spaceOfAsync(real) : undefined;
    const up = dirname(dir);
    if (up === dir) return undefined;
    dir = up;
  }
}

// Whether every entry on path (lstat: a link as itself) is a directory, or with links a
// link, that root or uid owns. Asked of the path as given (no link of another user's on
// it) and of its real path (no links left): then only root or uid can replace any of it,
// and a statfs by the real path asks their file system.
async function ownedAsync(path: string, uid: number, links: boolean): Promise<boolean> {
  const entries: string[] = [];
  for (let entry = path; ; entry = dirname(entry)) {
    entries.push(entry);
    if (dirname(entry) === entry) break;
  }
  const seen = await Promise.all(entries.map((e) => lstat(e).catch(() => undefined)));
  return seen.every((st) => st !== undefined && (st.isDirectory() || (links && st.isSymbolicLink())) && (st.uid === 0 || st.uid === uid));
}

async function spaceOfAsync(dir: string): Promise<{ dev: number; figures: SpaceFigures } | undefined> {
  const [st, figures] = await Promise.all([lstat(dir).catch(() => undefined), statfs(dir).catch(() => undefined)]);
  return st !== undefined && figures !== undefined ? { dev: st.dev, figures } : undefined;
}

// What a file rotated as path.1 ... path.keep at maxBytes may still add to its file
// system: its files never take more than (keep + 1) × maxBytes, since once path.keep
// exists each rotation replaces it, freeing what the new path takes; so this is, from
// then on, what it writes before its next rotation. Sizes looked at in libuv's pool.
export async function rotationRoomAsync(path: string, maxBytes: number, keep: number): Promise<number> {
  const names = [path, ...Array.from({ length: keep }, (_, i) => `${path}.${i + 1}`)];
  const sizes = await Promise.all(names.map(async (n) => (await lstat(n).catch(() => undefined))?.size ?? 0));
  return Math.max(0, (keep + 1) * maxBytes - sizes.reduce((a, b) => a + b, 0));
}
