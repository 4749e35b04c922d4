// A size-bounded, rotating, append-only line writer for the log and the history.
// It never blocks the caller: lines are queued (bounded; the oldest are dropped
// first) and written by one asynchronous write at a time, so a slow, full or hung
// filesystem (NFS under $LSF_LOGDIR) delays only itself, never a report. A short
// write is cut back to its last whole line with ftruncate, so a full disk never
// leaves a torn line in the middle of the file; a kill can at most leave the last
// line incomplete, and the next open ends that line before appending.
import { close, closeSync, fstat, fstatSync, ftruncate, ftruncateSync, lstat, mkdir, mkdirSync, open, openSync, read, readSync, rename, stat, unlink, write, writeSync, constants, type Stats } from 'node:fs';
import { statfs } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import { promisify } from 'node:util';
import { errorCode, errorReason } from './errors.js';
import { holdExit } from './exit.js';
import { reachOffLoop } from './paths.js';
import { holdDirectory, holdDirectoryAsync, nextDirectoryToMake, nextDirectoryToMakeAsync, type HeldDirectory } from './trust.js';
import { monotonicMs } from './clock.js';

const openAsync = promisify(open);
const closeAsync = promisify(close);
const fstatAsync = promisify(fstat);
const statAsync = promisify(stat);
const renameAsync = promisify(rename);
const unlinkAsync = promisify(unlink);
const lstatAsync = promisify(lstat);

// What rename(2) says when its target is a name it cannot replace: a directory (empty or
// not, or a file where a directory is moved), or a mount point.
const NAME_TAKEN: ReadonlySet<string> = new Set(['EISDIR', 'ENOTEMPTY', 'ENOTDIR', 'EEXIST', 'EBUSY']);
const mkdirAsync = promisify(mkdir);
const ftruncateAsync = promisify(ftruncate);
const readAsync = promisify(read);
const NEWLINE = Buffer.from('\n');

// A write that failed after some whole lines of its batch reached the file: they stay.
class PartialWrite extends Error {
  constructor(
    readonly lines: number,
    readonly bytes: number,
    override readonly cause: unknown,
  ) {
    super(`${cause === undefined ? 'write failed' : errorReason(cause)} after ${lines} lines`);
    this.name = 'PartialWrite';
  }
}

function writeAsync(fd: number, buf: Buffer): Promise<number> {
  return new Promise((resolve, reject) => {
    write(fd, buf, 0, buf.length, null, (err, n) => (err === null ? resolve(n) : reject(err)));
  });
}

// How a RotatingAppender writes, rotates, holds lines and says what went wrong.
export interface AppenderOptions {
  path: string;
  maxBytes: number; // rotate before the file would grow past this
  keep: number; // rotated files kept: path.1 (newest) ... path.keep
  maxQueueBytes?: number; // bytes held in memory while the file cannot be written
  dirMode?: number;
  fileMode?: number;
  retryMs?: number; // first retry after a failure; doubles up to 5 minutes
  reopenCheckMs?: number; // how often the path is compared with the open file; default 30 s
  now?: () => number; // monotonic ms, for retry timing
  // Why the file's directory must not be written into (directoryProblems), asked
  // after the directory is made and before every open: one checked at start may be
  // made, or made again after a cleaner removed it, by someone else (in a sticky
  // parent such as /tmp, or at the end of a link that pointed nowhere at start).
  // With it, the file is then opened, and rotated, in the directory held open once it
  // passed (holdDirectory), not by a path someone may change in between.
  directoryProblems?: (dir: string) => string[];
  // directoryProblems with its walk's questions asked in libuv's pool (directoryProblemsAsync),
  // for the opens and rotations made from the event loop; default directoryProblems.
  // signal is aborted at close(): the walk then rejects before its next question.
  directoryProblemsAsync?: (dir: string, signal: AbortSignal) => Promise<string[]>;
  // The file already opened at path with OPEN_FLAGS, right after its directory was
  // checked, of which unwritable() names nothing: taken as the first open, so that the
  // directory is not asked again at once. Every later open asks it.
  opened?: { fd: number; stats: { ino: number; size: number } };
  // Told once when writing starts failing (with the error), once when the queue
  // first overflows meanwhile (the oldest lines are then dropped), once when it
  // works again (with the lines dropped), and at close if lines could not be written.
  onTrouble?: (event: TroubleEvent) => void;
}

// What went wrong, or right again, with the file; see AppenderOptions.onTrouble.
export type TroubleEvent =
  | { state: 'failing'; error: unknown; path: string }
  | { state: 'dropping'; path: string }
  | { state: 'recovered'; dropped: number; path: string }
  | { state: 'lost'; lines: number; path: string };

// What a RotatingAppender has written, dropped and rotated since it was made.
export interface AppenderStats {
  linesWritten: number;
  bytesWritten: number;
  linesDropped: number;
  failures: number;
  rotations: number;
}

// Every open of the file, by the writer and by writeNow: appending, never through a
// symbolic link planted at the path, and never waiting: a FIFO planted there by
// whoever owns the directory would otherwise block the open until they read it
// (O_NONBLOCK changes nothing for a regular file). What unwritable() names is then
// refused.
export const OPEN_FLAGS = constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT | constants.O_NOFOLLOW | constants.O_NOCTTY | constants.O_NONBLOCK;

// Why an opened log or history file must not be written, or undefined. Not a regular
// file: a FIFO, a device, a socket. More than one link: O_NOFOLLOW stops a symbolic
// link, not a hard one, and where fs.protected_hardlinks is 0 whoever owns the
// directory can link a root file there for root to append to. Another user's: one
// who made it before lavarank, in a sticky directory such as /tmp, could read every
// line root appends (its mode is theirs to choose).
export function unwritable(st: { isFile(): boolean; nlink: number; uid: number } & Partial<Pick<Stats, 'isFIFO' | 'isSocket' | 'isSymbolicLink' | 'isDirectory'>>, uid: number = process.geteuid?.() ?? 0): string | undefined {
  if (!st.isFile()) {
    const kind = st.isFIFO?.() ? 'a FIFO' : st.isSocket?.() ? 'a socket' : st.isSymbolicLink?.() ? 'a symbolic link' : st.isDirectory?.() ? 'a directory' : undefined;
    return kind === undefined ? 'is not a regular file' : `is not a regular file but ${kind} of uid ${st.uid}`;
  }
  if (st.nlink !== 1) return `has ${st.nlink} hard links`;
  if (st.uid !== uid) return `is owned by uid ${st.uid} (remove it, or chown root it)`;
  return undefined;
}

// The refusal of a file unwritable() names.
export function refusal(path: string, why: string): Error {
  return Object.assign(new Error(`${path} ${why}; lavarank appends its log and history only to a regular file of one link that it owns`), { code: 'EREFUSED' });
}

// What unwritable() says of what stands at name (the file's name in its held directory)
// once an open with OPEN_FLAGS failed, or undefined where nothing is there to name: the
// kernel says ENXIO for a FIFO and, as root in a sticky directory such as /tmp, EACCES for
// another user's socket or link, so that the log said "permission denied" and named
// neither (2026-12-07, hostile20).
export async function refusedAt(name: string): Promise<string | undefined> {
  const st = await lstatAsync(name).catch(() => undefined);
  return st === undefined ? undefined : unwritable(st);
}

// The refusal of what stands at name when an open with OPEN_FLAGS failed (refusedAt),
// or the open's own error.
async function openRefusal(name: string, path: string, err: unknown): Promise<unknown> {
  const why = await refusedAt(name);
  return why === undefined ? err : Object.assign(refusal(path, why), { cause: err });
}

// How often the path is checked against the open file (moved, deleted, directory removed).
const REOPEN_CHECK_MS = 30_000;
const MAX_RETRY_MS = 5 * 60_000;

// Levels mkdir -p makes at most: more means someone keeps removing what it makes.
const MAX_MADE_LEVELS = 64;

// mkdir -p, one directory at a time, each at the path the trust walk resolved
// (nextDirectoryToMake), which refuses a directory or link of someone else's on the
// way. Node's recursive mkdir resolved the path again at each level, so a link another
// user put at a name still to be made in /tmp, between the check and the mkdir, had
// root make the rest of the path wherever it pointed. A plain mkdir also names the
// real cause of a failure (EROFS), where the recursive one said ENOENT.
// Each is made in its parent held open once checked (holdDirectory), not by a path in
// which whoever may rename entries of a directory above (the syslog group's /var/log)
// could swap in their link after the walk. The walk's questions are asked in libuv's
// pool: a server that answers them there and never on the event loop held the reports.
// signal aborted (the appender closed): rejects before its next question or mkdir.
export async function makeDir(dir: string, mode: number, signal?: AbortSignal): Promise<void> {
  for (let made = 0; made <= MAX_MADE_LEVELS; made++) {
    const next = await nextDirectoryToMakeAsync(dir, 'directory', signal === undefined ? {} : { signal });
    if (next === undefined) return;
    const held = await holdParentAsync(next, signal);
    try {
      signal?.throwIfAborted();
      await mkdirAsync(`${held.path}/${basename(next)}`, { mode }).catch((err: unknown) => {
        if (errorCode(err) !== 'EEXIST') throw err; // made meanwhile: the next walk judges it
      });
    } finally {
      closeSync(held.fd);
    }
  }
  throw Object.assign(new Error(`${dir} kept being removed while it was made`), { code: 'EAGAIN' });
}

// The directory path is in (a file to open, a directory to make), held; refused: thrown.
function holdParent(path: string): HeldDirectory {
  return heldOrThrown(holdDirectory(dirname(path), 'directory'));
}

// holdParent, its open in libuv's pool (holdDirectoryAsync): for the event loop.
async function holdParentAsync(path: string, signal?: AbortSignal): Promise<HeldDirectory> {
  return heldOrThrown(await holdDirectoryAsync(dirname(path), 'directory', signal === undefined ? {} : { signal }));
}

function heldOrThrown(held: HeldDirectory | { problems: string[] }): HeldDirectory {
  if ('problems' in held) throw Object.assign(new Error(held.problems.join('; ')), { code: 'EREFUSED' });
  return held;
}

// makeDir, synchronously, for start-up.
export function makeDirSync(dir: string, mode: number): void {
  for (let made = 0; made <= MAX_MADE_LEVELS; made++) {
    const next = nextDirectoryToMake(dir, 'directory');
    if (next === undefined) return;
    const held = holdParent(next);
    try {
      mkdirSync(`${held.path}/${basename(next)}`, { mode });
    } catch (err) {
      if (errorCode(err) !== 'EEXIST') throw err;
    } finally {
      closeSync(held.fd);
    }
  }
  throw Object.assign(new Error(`${dir} kept being removed while it was made`), { code: 'EAGAIN' });
}

// Appends whole lines to a file in a directory only root may change, rotating it by size.
export class RotatingAppender {
  private fd: number | undefined;
  private ino = 0;
  private size = 0;
  private queue: string[] = [];
  private queueBytes = 0;
  private busy: Promise<void> | undefined;
  private inflight: string[] | undefined; // the batch being written asynchronously
  private inflightWriting = false; // its write has begun (past the open, rotation and checks)
  private failing = false;
  private noSpace = false; // probeSpace's last answer: the file system has no free block
  private droppedUntold = 0; // lines dropped since the last onTrouble that counted them
  private droppingTold = false;
  private retryAt = 0;
  private retryMs: number;
  private retryTimer: NodeJS.Timeout | undefined;
  private lastCheck = 0;
  private closed = false;
  // Aborted when close() gives up: the walks, mkdirs, renames and opens of a drain still
  // under way then stop at their next step (see close()).
  private readonly stopping = new AbortController();
  private unterminated = false; // the open file ends in a line a kill cut short
  private readonly maxQueueBytes: number;
  private readonly now: () => number;
  readonly stats: AppenderStats = { linesWritten: 0, bytesWritten: 0, linesDropped: 0, failures: 0, rotations: 0 };

  constructor(private readonly options: AppenderOptions) {
    this.maxQueueBytes = options.maxQueueBytes ?? 1024 * 1024;
    this.retryMs = options.retryMs ?? 10_000;
    this.now = options.now ?? (() => monotonicMs());
    if (options.opened !== undefined) {
      this.fd = options.opened.fd;
      this.ino = options.opened.stats.ino;
      this.size = options.opened.stats.size;
      this.lastCheck = this.now();
      this.unterminated = options.opened.stats.size > 0 && !endsWithNewlineSync(options.path, options.opened.stats);
    }
  }

  get path(): string {
    return this.options.path;
  }

  // Queues one line (a newline is added if missing). Never throws, never waits.
  append(line: string): void {
    this.appendAll([line]);
  }

  // Queues several lines, written together (one write unless the file is busy).
  appendAll(lines: readonly string[]): void {
    if (this.closed) return;
    for (const line of lines) {
      const text = line.endsWith('\n') ? line : `${line}\n`;
      this.queue.push(text);
      this.queueBytes += text.length;
    }
    this.trimQueue();
    this.kick();
  }

  // Resolves when everything queued so far is written, or after timeoutMs.
  async flush(timeoutMs: number): Promise<void> {
    const deadline = this.now() + timeoutMs;
    while ((this.queue.length > 0 || this.busy !== undefined) && this.now() < deadline) {
      if (this.busy === undefined) {
        if (this.failing && this.now() < this.retryAt) break;
        this.kick();
        if (this.busy === undefined) break;
      }
      const left = Math.max(1, deadline - this.now());
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([this.busy, new Promise((r) => (timer = setTimeout(r, left)))]);
      clearTimeout(timer);
    }
  }

  // Writes a line synchronously, after what is still queued or being written: for
  // the last words of a process about to die, which cannot wait for the queue. A
  // batch whose asynchronous write has begun may then appear twice; one still waiting
  // for the file to be readied is written here and taken from the drain, since the
  // line logged just before a fatal error always waits so.
  // It goes to the file already open, else to the path opened as the normal path
  // opens it (O_NOFOLLOW: a symbolic link planted there is not followed).
  writeNow(line: string): void {
    const text = line.endsWith('\n') ? line : `${line}\n`;
    let fd = this.fd;
    try {
      let torn = this.unterminated;
      if (fd === undefined) {
        // As the normal path makes and checks it; refused: nothing is written (catch below).
        this.refuseDirectory(dirname(this.options.path));
        makeDirSync(dirname(this.options.path), this.options.dirMode ?? 0o755);
        const held = this.hold();
        try {
          fd = openSync(this.inHeld(held), OPEN_FLAGS, this.options.fileMode ?? 0o644);
        } finally {
          if (held !== undefined) closeSync(held.fd);
        }
        const st = fstatSync(fd);
        if (unwritable(st) !== undefined) return;
        torn = st.size > 0 && !endsWithNewlineSync(this.options.path, st);
      }
      const items = [...(torn ? ['\n'] : []), ...(this.inflight ?? []), ...this.queue, text];
      const buf = Buffer.from(items.join(''));
      let off = 0;
      try {
        while (off < buf.length) off += writeSync(fd, buf, off);
      } catch (err) {
        // A full disk took part of it: what follows its last whole line is cut back,
        // so that the next line appended does not join a torn one.
        if (off > 0) ftruncateSync(fd, Math.max(0, fstatSync(fd).size - (off - wholeLines(items, off).bytes)));
        throw err;
      }
      if (fd === this.fd) this.unterminated = false;
      if (!this.inflightWriting) this.inflight = undefined; // written: the drain skips it
      this.queue = [];
      this.queueBytes = 0;
    } catch {
      // the file cannot be written even now: nothing else is left to try
    } finally {
      if (fd !== undefined && fd !== this.fd) closeSync(fd);
    }
  }

  // Whether the file is open now: writeNow then writes to it without a walk or open.
  get isOpen(): boolean {
    return this.fd !== undefined;
  }

  // Whether its last write failed (a full disk, a refused directory) and none has succeeded
  // since, or probeSpace found its file system without a free block: the lines wait in
  // memory meanwhile, and what could say so is the file itself.
  get isFailing(): boolean {
    return this.failing || this.noSpace;
  }

  // Asks whether the file's file system has a free block left (statfs of its directory,
  // in libuv's pool), writing nothing: a full disk otherwise shows at the next write
  // only, which for a log at level info may be an hour away. Asked as the one task on
  // the file, as a write is: a file system that stops answering then holds one pool
  // thread, not two, the lines waiting in memory meanwhile. A failed question changes
  // nothing (the next write says why).
  probeSpace(): void {
    if (this.closed || this.failing || this.busy !== undefined) return;
    this.run(async () => {
      try {
        this.noSpace = (await statfs(dirname(this.options.path))).bfree === 0;
      } catch {
        // unanswered here; a write tells why, and probes stop while it fails
      }
    });
  }

  // Flushes (bounded) and closes the file. A retry that is still waiting for its
  // back-off is made at once (space may be back: this is the last chance), and the
  // lines that could not be written are counted and told (onTrouble 'lost').
  async close(timeoutMs = 500): Promise<void> {
    this.retryAt = 0;
    await this.flush(timeoutMs);
    this.closed = true;
    // A drain still readying the file (its checks ask some 20 questions in libuv's pool,
    // each a round trip of the event loop) stops at its next step, opening nothing: it
    // is counted by holdExit, and at a load of 20 its walks outlived the exit's 200 ms
    // wait, which then ended the stopped elim by SIGKILL. Its lines are told lost below.
    this.stopping.abort();
    clearTimeout(this.retryTimer);
    const unwritten = this.queue.length + (this.inflight?.length ?? 0) + this.droppedUntold;
    if (unwritten > 0) this.options.onTrouble?.({ state: 'lost', lines: unwritten, path: this.options.path });
    this.droppedUntold = 0;
    if (this.busy === undefined && this.fd !== undefined) {
      const fd = this.fd;
      this.fd = undefined;
      await closeAsync(fd).catch(() => undefined);
    }
  }

  // Gives up at once, for an exit that cannot wait for close(): a drain readying the
  // file (its walk, mkdirs, renames, open) stops at its next question, so the holdExit
  // count it keeps ends with the question in the pool; a write already begun goes on.
  // Nothing is written after it; a close() under way tells the lines left as lost.
  abort(): void {
    this.closed = true;
    this.stopping.abort();
    clearTimeout(this.retryTimer);
  }

  // Readies the file now, as the first drain would (its directory made, checked and
  // held, the file opened), so that the first lines appended need one write: the
  // daemon's history holds its first batch for six reports, and a stop before then had
  // the file readied (some 20 questions of libuv's pool) in the 300 ms its last lines
  // are given, which beside busy loops it missed (a lost batch, an error line). A
  // failure is told, and retried, as a drain's.
  ready(): void {
    if (this.closed || this.busy !== undefined || this.fd !== undefined) return;
    this.run(() =>
      this.ensureOpen(0).catch((err: unknown) => {
        if (!this.stopping.signal.aborted) this.markFailing(err); // stopped by close() or abort(): no failure
      }),
    );
  }

  // Starts a drain unless one runs, nothing waits, a back-off is due, or close() has
  // given up: a retry timer set before the close must not make the directory and
  // write the lines close() already told as lost, into a file nothing would close.
  private kick(): void {
    if (this.closed || this.busy !== undefined || this.queue.length === 0) return;
    if (this.failing && this.now() < this.retryAt) return;
    this.run(() => this.drain());
  }

  // Runs work (a drain, or ready()'s open) as the one task on the file.
  private run(work: () => Promise<void>): void {
    // Counted as a task that may never return: an open or write on a hung NFS server
    // would otherwise hold the stopped process's exit for ever (src/util/exit.ts).
    const release = holdExit();
    this.busy = work().finally(() => {
      release();
      this.busy = undefined;
      if (this.closed) this.closeFile();
      else if (this.queue.length > 0 && !this.failing) this.kick();
    });
  }

  // Closes the file, if open, without waiting: after a failure, or when a drain still
  // under way at close() opened or kept it.
  private closeFile(): void {
    if (this.fd === undefined) return;
    const fd = this.fd;
    this.fd = undefined;
    close(fd, () => undefined);
  }

  private async drain(): Promise<void> {
    while (this.queue.length > 0 && !this.closed) {
      const taken = this.takeBatch();
      const batch = Buffer.from(taken.join(''));
      this.inflight = taken;
      this.inflightWriting = false;
      try {
        await this.ensureOpen(batch.length);
        if (this.inflight !== taken) continue; // writeNow wrote it meanwhile
        this.inflightWriting = true;
        await this.writeAll(batch, taken);
      } catch (err) {
        const ours = this.inflight === taken;
        this.inflight = undefined;
        this.inflightWriting = false;
        // The lines a short write left whole stay written: a disk with room for some
        // of a long outage's queue takes them, where retrying it whole would never fit.
        const kept = err instanceof PartialWrite ? err.lines : 0;
        if (err instanceof PartialWrite) {
          this.stats.linesWritten += err.lines;
          this.stats.bytesWritten += err.bytes;
        }
        // Put the rest back in front of what arrived meanwhile, within the memory bound.
        if (ours) this.queue = taken.slice(kept).concat(this.queue);
        this.queueBytes = this.queue.reduce((n, s) => n + s.length, 0);
        if (this.stopping.signal.aborted) return; // stopped by close(), which told these lines lost: no failure
        this.markFailing(err instanceof PartialWrite ? err.cause : err);
        this.trimQueue();
        return;
      }
      this.inflight = undefined;
      this.inflightWriting = false;
      this.stats.linesWritten += taken.length;
      this.stats.bytesWritten += batch.length;
      this.noSpace = false; // a write that succeeded found room
      // Lines dropped behind a write that was slow, not failing (a hung NFS server that
      // answers again), are told with their count too, and the next overflow again.
      if (this.failing || this.droppingTold) {
        this.failing = false;
        this.retryMs = this.options.retryMs ?? 10_000;
        this.options.onTrouble?.({ state: 'recovered', dropped: this.droppedUntold, path: this.options.path });
        this.droppedUntold = 0;
        this.droppingTold = false;
      }
    }
  }

  // The oldest queued lines that fit in one file, at least one: a long outage's queue
  // (up to maxQueueBytes), written as one batch into the file a rotation had just
  // emptied, made it as large as the queue whatever maxBytes said.
  private takeBatch(): string[] {
    let bytes = 0;
    let n = 0;
    for (const line of this.queue) {
      const size = Buffer.byteLength(line);
      if (n > 0 && bytes + size > this.options.maxBytes) break;
      bytes += size;
      n++;
    }
    const taken = this.queue.splice(0, n);
    for (const line of taken) this.queueBytes -= line.length;
    return taken;
  }

  private trimQueue(): void {
    while (this.queueBytes > this.maxQueueBytes && this.queue.length > 1) {
      const dropped = this.queue.shift()!;
      this.queueBytes -= dropped.length;
      this.stats.linesDropped++;
      this.droppedUntold++;
      if (!this.droppingTold) {
        this.droppingTold = true;
        this.options.onTrouble?.({ state: 'dropping', path: this.options.path });
      }
    }
  }

  private markFailing(err: unknown): void {
    this.stats.failures++;
    this.closeFile();
    this.retryAt = this.now() + this.retryMs;
    this.retryMs = Math.min(MAX_RETRY_MS, this.retryMs * 2);
    if (!this.failing) {
      this.failing = true;
      this.options.onTrouble?.({ state: 'failing', error: err, path: this.options.path });
    }
    this.armRetry();
  }

  // Wakes the appender when the back-off is over, with nothing more appended: the
  // log of a quiet host may get its next line hours later. Node counts a timer from
  // the event loop's cached time, which can lag this.now() by the time the loop has
  // run since, so a timer that fires early waits again for the rest.
  private armRetry(): void {
    clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    if (this.closed) return;
    const wait = Math.max(0, this.retryAt - this.now());
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      if (this.failing && this.now() < this.retryAt) this.armRetry();
      else this.kick();
    }, Math.ceil(wait) + 1);
    this.retryTimer.unref();
  }

  private async writeAll(buf: Buffer, items: readonly string[]): Promise<void> {
    const fd = this.fd!;
    const before = this.size;
    let off = 0;
    try {
      while (off < buf.length) {
        const n = await writeAsync(fd, buf.subarray(off));
        if (n <= 0) throw Object.assign(new Error(`write to ${this.options.path} made no progress`), { code: 'EIO' });
        off += n;
      }
    } catch (err) {
      // Cut what follows the last whole line written: the file keeps only whole lines.
      // The written part is at the end (O_APPEND); the end is asked of the file, since
      // this.size is stale if someone truncated it meanwhile (logrotate's
      // copytruncate), and cutting at the stale size would leave the part, or a hole
      // of zeros.
      if (off > 0) {
        const whole = wholeLines(items, off);
        const end = await fstatAsync(fd).then((st) => st.size, () => before + off);
        this.size = Math.max(0, end - (off - whole.bytes));
        const cut = await ftruncateAsync(fd, this.size).then(() => true, () => false);
        if (cut && whole.lines > 0) throw new PartialWrite(whole.lines, whole.bytes, err);
      }
      throw err;
    }
    this.size += buf.length;
  }

  private async ensureOpen(incoming: number): Promise<void> {
    if (this.fd !== undefined && this.now() - this.lastCheck > (this.options.reopenCheckMs ?? REOPEN_CHECK_MS)) {
      this.lastCheck = this.now();
      let current: Stats | undefined;
      try {
        current = await statAsync(this.options.path);
      } catch (err) {
        if (errorCode(err) !== 'ENOENT') throw err;
      }
      // Deleted, moved away by logrotate, or its directory removed: start a new file.
      if (current === undefined || current.ino !== this.ino) {
        const fd = this.fd;
        this.fd = undefined;
        await closeAsync(fd).catch(() => undefined);
      } else this.size = current.size;
    }
    // Before a rotation, the size is asked of the file: logrotate's copytruncate may
    // have emptied it, and a rotation at the size remembered would move an almost
    // empty file into path.1 and push the oldest generation out.
    if (this.fd !== undefined && this.size > 0 && this.size + incoming > this.options.maxBytes) this.size = (await fstatAsync(this.fd)).size;
    if (this.fd !== undefined && this.size > 0 && this.size + incoming > this.options.maxBytes) {
      const fd = this.fd;
      this.fd = undefined;
      await closeAsync(fd).catch(() => undefined);
      await this.rotate();
    }
    if (this.fd === undefined) {
      const dir = dirname(this.options.path);
      await reachOffLoop(dir); // counted by holdExit with the drain
      // Before mkdir -p as well as after: a directory still to be made is checked by
      // the way to where it would be made, links included, so root makes none at the
      // end of another user's link; after, since someone may have made it in between.
      await this.refuseDirectoryAsync(dir);
      await makeDir(dir, this.options.dirMode ?? 0o755, this.stopping.signal);
      await this.refuseDirectoryAsync(dir);
      const held = await this.holdAsync();
      let fd: number;
      try {
        this.stopping.signal.throwIfAborted(); // closed meanwhile: no file is opened
        fd = await openAsync(this.inHeld(held), OPEN_FLAGS, this.options.fileMode ?? 0o644).catch(async (err: unknown) => {
          throw await openRefusal(this.inHeld(held), this.options.path, err);
        });
      } finally {
        if (held !== undefined) closeSync(held.fd);
      }
      if (this.stopping.signal.aborted) {
        // Closed while it was being opened: not kept, read or written (close() told its lines lost).
        await closeAsync(fd).catch(() => undefined);
        this.stopping.signal.throwIfAborted();
      }
      const st = await fstatAsync(fd);
      const why = unwritable(st);
      if (why !== undefined) {
        await closeAsync(fd);
        throw refusal(this.options.path, why);
      }
      this.fd = fd;
      this.ino = st.ino;
      this.size = st.size;
      this.lastCheck = this.now();
      if (this.size > 0 && this.size + incoming > this.options.maxBytes) {
        this.fd = undefined;
        await closeAsync(fd);
        await this.rotate();
        return this.ensureOpen(incoming);
      }
      this.unterminated = st.size > 0 && !(await endsWithNewline(this.options.path, st));
    }
    // A line a kill cut short ends here, before the next: appended to, it would swallow
    // the first line of this run (the history reader skips only a last line torn).
    if (this.unterminated) {
      if ((await writeAsync(this.fd, NEWLINE)) === 1) this.size++;
      this.unterminated = false;
    }
  }

  private refuseDirectory(dir: string): void {
    refuseIf(this.options.directoryProblems?.(dir) ?? []);
  }

  // refuseDirectory, for the event loop: its walk in libuv's pool where the caller gave one.
  private async refuseDirectoryAsync(dir: string): Promise<void> {
    this.stopping.signal.throwIfAborted();
    refuseIf((await this.options.directoryProblemsAsync?.(dir, this.stopping.signal)) ?? this.options.directoryProblems?.(dir) ?? []);
  }

  // The file's directory held open once it passed (see AppenderOptions.directoryProblems),
  // or undefined when directories are not checked; refused: thrown.
  private hold(): HeldDirectory | undefined {
    return this.options.directoryProblems === undefined ? undefined : holdParent(this.options.path);
  }

  // hold(), its open in libuv's pool: for the drain, on the event loop.
  private async holdAsync(): Promise<HeldDirectory | undefined> {
    return this.options.directoryProblems === undefined ? undefined : holdParentAsync(this.options.path, this.stopping.signal);
  }

  // The file's name, or name.suffix, in the held directory (by path when there is none).
  private inHeld(held: HeldDirectory | undefined, suffix = ''): string {
    return held === undefined ? `${this.options.path}${suffix}` : `${held.path}/${basename(this.options.path)}${suffix}`;
  }

  private async rotate(): Promise<void> {
    const p = this.options.path;
    // The renames are made in the directory too: checked first, as before an open, made
    // if it was removed, and held, as for an open.
    await reachOffLoop(dirname(p));
    await this.refuseDirectoryAsync(dirname(p));
    await makeDir(dirname(p), this.options.dirMode ?? 0o755, this.stopping.signal);
    const held = await this.holdAsync();
    try {
      this.stopping.signal.throwIfAborted(); // closed meanwhile: nothing is renamed
      // A generation whose name is taken by what a rename cannot replace is left where it
      // is (the next rename replaces it, one generation lost), and the file itself, if it
      // cannot become path.1, is removed so that a new one begins: in a sticky directory
      // such as /tmp another user's directories at path.1 to path.keep failed every
      // rotation, and the history, or the log, was written no more (2026-12-07, hostile20).
      for (let i = this.options.keep - 1; i >= 1; i--) {
        await renameAsync(this.inHeld(held, `.${i}`), this.inHeld(held, `.${i + 1}`)).catch((err: unknown) => {
          if (errorCode(err) !== 'ENOENT' && !NAME_TAKEN.has(errorCode(err) ?? '')) throw err;
        });
      }
      await renameAsync(this.inHeld(held), this.inHeld(held, '.1')).catch(async (err: unknown) => {
        if (NAME_TAKEN.has(errorCode(err) ?? '')) {
          await unlinkAsync(this.inHeld(held)).catch((gone: unknown) => {
            if (errorCode(gone) !== 'ENOENT') throw gone;
          });
        } else if (errorCode(err) !== 'ENOENT') throw err;
      });
    } finally {
      if (held !== undefined) closeSync(held.fd);
    }
    this.stats.rotations++;
  }
}

// The whole lines among the first `written` bytes of items joined (each item ends in a
// newline): how many items, and their bytes.
function wholeLines(items: readonly string[], written: number): { lines: number; bytes: number } {
  let bytes = 0;
  let lines = 0;
  for (const item of items) {
    const next = bytes + Buffer.byteLength(item);
    if (next > written) break;
    bytes = next;
    lines++;
  }
  return { lines, bytes };
}

// Whether the file of `size` bytes at path, the one just opened (same inode), ends in
// a newline. Read through a descriptor of its own, since the writer's is write-only;
// a file that cannot be read for this is taken as whole.
async function endsWithNewline(path: string, opened: { ino: number; size: number }): Promise<boolean> {
  let fd: number | undefined;
  try {
    fd = await openAsync(path, TAIL_FLAGS);
    if (!isOpenedFile(await fstatAsync(fd), opened)) return true;
    const last = Buffer.alloc(1);
    return lastByteIsNewline((await readAsync(fd, last, 0, 1, opened.size - 1)).bytesRead, last);
  } catch {
    return true;
  } finally {
    if (fd !== undefined) await closeAsync(fd).catch(() => undefined);
  }
}

// endsWithNewline, synchronously, for the file opened at start and by writeNow; the
// same steps and verdicts, each call made on this thread.
function endsWithNewlineSync(path: string, opened: { ino: number; size: number }): boolean {
  let fd: number | undefined;
  try {
    fd = openSync(path, TAIL_FLAGS);
    if (!isOpenedFile(fstatSync(fd), opened)) return true;
    const last = Buffer.alloc(1);
    return lastByteIsNewline(readSync(fd, last, 0, 1, opened.size - 1), last);
  } catch {
    return true;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

// How endsWithNewline opens the file: never through a link, never waiting on a FIFO put in its place.
const TAIL_FLAGS = constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK;

// Whether st, from the descriptor endsWithNewline opened, is the file the writer opened;
// another (replaced meanwhile) says nothing about it, and is taken as whole.
function isOpenedFile(st: { isFile(): boolean; ino: number }, opened: { ino: number }): boolean {
  return st.isFile() && st.ino === opened.ino;
}

// endsWithNewline's verdict on its one-byte read: a byte not read is taken as whole.
function lastByteIsNewline(bytesRead: number, last: Buffer): boolean {
  return bytesRead !== 1 || last[0] === 0x0a;
}

// A directory's problems, if any, thrown as the appender's refusal (code EREFUSED).
function refuseIf(problems: readonly string[]): void {
  if (problems.length > 0) throw Object.assign(new Error(problems.join('; ')), { code: 'EREFUSED' });
}
