// Running an administrator's command in a child process, so that Ctrl-C ends it.
//
// A thread that asked a FUSE server something the server has read and never answers
// waits uninterruptibly, SIGKILL included (request_wait_answer in fs/fuse/dev.c), and a
// process ends, for its parent, only once its last thread has: `lavarank check` with a
// user's mount on a path it looks at left, at Ctrl-C, a zombie the shell waited for
// until the server ended. No code in that process can end such a wait, so the command
// the shell waits for is a small parent that asks no file system (what the kernel
// cannot end then holds only the child). It forwards SIGINT, SIGTERM and SIGHUP to the
// child, started in a session of its own so that a terminal's Ctrl-C reaches it once,
// and exits with the child's status; once the child was told to stop, or has said its
// status, and its main thread is gone or one of its threads has waited in the same
// file-system call for a second, it names that call and exits without it.
import { closeSync, openSync, readdirSync, readFileSync, readlinkSync, readSync } from 'node:fs';
import { constants } from 'node:os';
import { spawnSelf, statFields } from './exec.js';
import { escapedControlsInLines } from './shown.js';
import { monotonicMs } from './clock.js';

// Set in the child's environment (and removed from it at its start) to say it is the worker.
const WORKER_MARK = 'LAVARANK_SUPERVISED_WORKER';

// The signals forwarded to the worker, each ending a command with 128 + its number.
const STOP_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

// How often the parent looks at a worker that was told to stop or said its status.
const LOOK_MS = 100;
// How long a thread must stay in the same file-system call to count as held there.
const HELD_MS = 1000;
// How long a held worker is given to close its stdout and stderr before it is killed.
const CLOSE_WAIT_MS = 500;

// Whether this process is a supervised worker; removes the mark, so its own children
// (calibrate's probes, execa's commands) do not inherit it.
export function isSupervisedWorker(): boolean {
  const mark = process.env[WORKER_MARK] === '1' && typeof process.send === 'function';
  delete process.env[WORKER_MARK];
  if (mark) {
    // The channel must not keep the worker alive; the parent's end (it was killed) ends
    // the worker as a SIGTERM would, rather than leave it running unseen.
    (process.channel as { unref?: () => void } | undefined)?.unref?.();
    process.once('disconnect', () => process.kill(process.pid, 'SIGTERM'));
    process.on('message', (m: unknown) => {
      if (typeof m !== 'object' || m === null || (m as { closeOutput?: unknown }).closeOutput !== true) return;
      closeOutput();
      tellClosed();
    });
    for (const s of STOP_SIGNALS) process.on(s, endBySignal);
    stopWithParent();
  }
  return mark;
}

// How often the worker looks whether its parent was stopped.
const PARENT_LOOK_MS = 250;
// How long the worker told to stop (SIGTSTP) waits for its parent to be stopped.
const PARENT_STOPPING_MS = 2000;

// Stops the worker while its parent is stopped: at the terminal's Ctrl-Z, which the
// parent forwards as SIGTSTP, and at a SIGSTOP of the parent's own (`kill -STOP` of the
// PID the shell shows), which no handler sees; the worker, in a session of its own,
// would run on while the job was stopped.
function stopWithParent(): void {
  const parent = process.ppid;
  process.on('SIGTSTP', () => waitWhileStopped(parent, monotonicMs() + PARENT_STOPPING_MS));
  setInterval(() => waitWhileStopped(parent, 0), PARENT_LOOK_MS).unref();
}

// Holds the worker's main thread (a futex wait, no code run, no output) while its parent
// is stopped, and until `until` while it is not stopped yet. Not a SIGSTOP: a stopped
// worker runs nothing, so once its stopped parent was killed (Ctrl-Z, then `kill -9 %1`)
// nothing continued it, and it stayed stopped for good under init; the kernel's SIGCONT
// to an orphaned stopped group never reaches a session of its own. Held so, it sees its
// parent gone at its next look and ends as at any parent's end ('disconnect').
function waitWhileStopped(parent: number, until: number): void {
  const cell = new Int32Array(new SharedArrayBuffer(4));
  for (;;) {
    if (process.ppid !== parent) return;
    const stopped = statFields(parent)?.[0] === 'T';
    if (!stopped && monotonicMs() >= until) return;
    Atomics.wait(cell, 0, 0, stopped ? PARENT_LOOK_MS : 10);
  }
}

// A stop signal's default action, stdout and stderr closed first, for a command with no
// handler of its own: a thread the kernel holds keeps the process's descriptors for as
// long as it waits, and a reader of its pipe (`out=$(lavarank check)`) would wait for
// their end as long, after the parent has gone.
function endBySignal(signal: NodeJS.Signals): void {
  if (process.listenerCount(signal) > 1) return; // the command's own handler stops it
  closeOutput();
  process.removeAllListeners(signal); // Node restores the default action
  process.kill(process.pid, signal);
}

// Closes stdout and stderr, which a thread the kernel holds would keep open for a reader.
function closeOutput(): void {
  for (const fd of [1, 2]) {
    try {
      closeSync(fd);
    } catch {
      // already closed
    }
  }
}

// Tells the parent that this worker's stdout and stderr are closed.
function tellClosed(): void {
  if (typeof process.send !== 'function' || !process.connected) return;
  try {
    process.send({ closed: true });
  } catch {
    // the parent is gone
  }
}

// Tells the supervising parent the status this worker is about to exit with, so that
// the parent can end with it even if the worker's exit is held by the kernel.
export function tellExitStatus(code: number): void {
  if (typeof process.send !== 'function' || !process.connected) return;
  try {
    process.send({ exit: code });
  } catch {
    // the parent is gone: nobody waits for the status
  }
}

// How a supervised command ended: the status to exit with and, when it was ended by a
// signal (or left behind after one was forwarded to it), that signal.
export interface Ending {
  code: number;
  signal?: NodeJS.Signals;
}

// The signals whose default action ends a process without a core dump, which this
// parent can raise on itself to end as its worker did. Not SIGUSR1 (its listener keeps
// the inspector closed), nor SIGPIPE (Node ignores it).
const ENDING_SIGNALS: ReadonlySet<string> = new Set(['SIGHUP', 'SIGINT', 'SIGKILL', 'SIGUSR2', 'SIGALRM', 'SIGTERM', 'SIGVTALRM', 'SIGPROF', 'SIGPWR']);

// Ends this process as the worker ended: by its signal where that signal's default
// action ends a process without a core, else with its status. A shell tells the two
// apart: it ends a loop, or a script, whose command was ended by SIGINT (bash's
// "wait and cooperative exit"), and goes on after one that exited 130.
export function endAs(ending: Ending): never {
  const { signal } = ending;
  if (signal !== undefined && ENDING_SIGNALS.has(signal)) {
    process.removeAllListeners(signal); // Node restores the default action
    process.kill(process.pid, signal); // not blocked here, so delivered before kill returns
  }
  process.exit(ending.code);
}

// How often the parent of a command with a held-call limit looks at it before it was told to stop.
const LIMIT_LOOK_MS = 1000;

// The status a command ends with when one of its file-system calls outlived heldLimitMs.
const HELD_LIMIT_STATUS = 1;

// Runs this program again with argv as the worker and resolves to how it ended. who
// names the command in the line said (by say, on stderr) when the worker is left behind;
// start starts the worker (a test's own program in tests). With heldLimitMs, a
// file-system call the worker stays in that long (a user's silent FUSE server, a FIFO
// nobody opens) is named and the worker stopped, ending with HELD_LIMIT_STATUS: where
// nobody is at the terminal (pdsh, a configuration tool, cron) nothing else ends it.
export async function superviseCommand(
  argv: readonly string[],
  who: string,
  say: (line: string) => void,
  start: (argv: readonly string[], env: NodeJS.ProcessEnv) => ReturnType<typeof spawnSelf> = spawnSelf,
  heldLimitMs?: number,
): Promise<Ending> {
  const child = start(argv, { ...process.env, [WORKER_MARK]: '1' });
  return await new Promise<Ending>((resolve) => {
    let stoppedBy: NodeJS.Signals | undefined;
    let said: number | undefined;
    let timer: NodeJS.Timeout | undefined;
    let limitTimer: NodeJS.Timeout | undefined;
    let expired = false;
    let mainGoneSince: number | undefined;
    const looks = new Map<string, { call: string; since: number }>();
    let ended = false;
    let leaving = false;
    const done = (ending: Ending): void => {
      if (ended) return;
      ended = true;
      if (timer !== undefined) clearInterval(timer);
      if (limitTimer !== undefined) clearInterval(limitTimer);
      for (const s of STOP_SIGNALS) process.off(s, forward);
      process.off('SIGTSTP', suspend);
      process.off('SIGCONT', resume);
      child.removeAllListeners('exit');
      resolve(ending);
    };
    const look = (): void => {
      const pid = child.pid;
      if (leaving || pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
      const now = monotonicMs();
      const calls = fileSystemCalls(pid, looks, now);
      const mainGone = statFields(pid)?.[0] === 'Z';
      // A worker whose every thread has ended is exiting, not held: Node reaps it, and
      // its message and 'exit' come at this loop's next poll, after this timer. Taken as
      // held, a worker that exited 130 (retrain's Ctrl-C) ended the command as SIGINT.
      if (mainGone && threadCount(pid) <= 1) return;
      // Nor is one whose main thread has just gone: its other threads end within
      // milliseconds (a pool thread's read finishing) unless a file system holds them.
      mainGoneSince = mainGone ? (mainGoneSince ?? now) : undefined;
      const mainHeld = mainGoneSince !== undefined && now - mainGoneSince >= HELD_MS;
      // A main thread gone that long while the process lives: what its other threads ask holds it.
      const held = mainHeld ? calls.map((c) => c.call) : calls.filter((c) => c.held).map((c) => c.call);
      if (!mainHeld && held.length === 0) return;
      // A status said is the command's own; without one, it was ending by the signal
      // forwarded (endBySignal), or was held before it could say any.
      const ending: Ending = expired ? { code: HELD_LIMIT_STATUS } : said !== undefined ? { code: said } : stoppedBy !== undefined ? { code: 128 + constants.signals[stoppedBy], signal: stoppedBy } : { code: 1 };
      const status = ending.code;
      if (held.length > 0) {
        say(
          escapedControlsInLines(
            `${who}: process ${pid} is still waiting for ${held.join('; ')}; it ends when that file system answers ` +
              `(or root unmounts it with umount -f); exiting with ${status} without it`,
          ),
        );
      }
      leave(pid, ending);
    };
    // Kills a held worker and ends with ending, once it has closed its output (askToCloseOutput).
    const leave = (pid: number, ending: Ending): void => {
      leaving = true;
      void askToCloseOutput(child, CLOSE_WAIT_MS).then(() => {
        if (ended) return; // it exited meanwhile: its pid may be another's by now
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // already gone
        }
        done(ending);
      });
    };
    const watch = (): void => {
      if (limitTimer !== undefined) clearInterval(limitTimer);
      timer ??= setInterval(look, LOOK_MS);
    };
    function forward(signal: NodeJS.Signals): void {
      stoppedBy ??= signal;
      try {
        child.kill(signal);
      } catch {
        // the worker is gone; its exit event follows
      }
      watch();
    }
    // Before any stop, only a call held past the limit counts; it is then stopped as at
    // a SIGTERM (its own handler, or endBySignal closing its stdout first), and look()
    // takes over: a worker still held after that is named again and left.
    const lookForLimit = (limit: number): void => {
      const pid = child.pid;
      if (pid === undefined || child.exitCode !== null || child.signalCode !== null || timer !== undefined) return;
      const now = monotonicMs();
      const over = fileSystemCalls(pid, looks, now).filter((c) => c.heldMs >= limit);
      if (over.length === 0) return;
      expired = true;
      say(
        escapedControlsInLines(
          `${who}: gave up after ${Math.round(limit / 1000)} s in ${over.map((c) => c.call).join('; ')} ` +
            `(a file system that does not answer, or a FIFO nobody writes?); stopping it`,
        ),
      );
      forward('SIGTERM');
    };
    if (heldLimitMs !== undefined) limitTimer = setInterval(() => lookForLimit(heldLimitMs), Math.min(LIMIT_LOOK_MS, heldLimitMs));
    for (const s of STOP_SIGNALS) process.on(s, forward);
    // Job control: a terminal's Ctrl-Z stops the shell's job, this process's group, which
    // the worker, in a session of its own, is not in; it would run on (and write to the
    // terminal) while the shell shows the job stopped. The worker is told, then this
    // process stops; the worker holds itself while this process is stopped
    // (waitWhileStopped), so `fg` and `bg` continue both, and a kill of this one ends both.
    const suspend = (): void => {
      try {
        child.kill('SIGTSTP');
      } catch {
        // the worker is gone; its exit event follows
      }
      process.kill(process.pid, 'SIGSTOP');
    };
    const resume = (): void => {
      try {
        child.kill('SIGCONT');
      } catch {
        // as above
      }
    };
    process.on('SIGTSTP', suspend);
    process.on('SIGCONT', resume);
    child.on('message', (m: unknown) => {
      if (typeof m === 'object' && m !== null && typeof (m as { exit?: unknown }).exit === 'number') {
        said = (m as { exit: number }).exit;
        watch();
      }
    });
    child.on('error', (err) => {
      say(`${who}: cannot start: ${err.message}`);
      done({ code: 1 });
    });
    child.on('exit', (code, signal) => done(expired ? { code: HELD_LIMIT_STATUS } : signal === null ? { code: code ?? 1 } : { code: 128 + constants.signals[signal], signal }));
  });
}

// Asks a worker to close its stdout and stderr, and resolves once it says it has, or after
// waitMs (a worker whose main thread is held cannot answer): a command with its own stop
// handler (retrain, calibrate's run) keeps them open, and a thread of it the kernel holds
// keeps them for whoever reads them, after the parent has gone (`retrain | tail` waited
// 808 s for a user's FUSE server, though the parent had said it was exiting; hostile27).
function askToCloseOutput(child: ReturnType<typeof spawnSelf>, waitMs: number): Promise<void> {
  return new Promise((resolve) => {
    let timer: NodeJS.Timeout | undefined;
    const answered = (m: unknown): void => {
      if (typeof m === 'object' && m !== null && (m as { closed?: unknown }).closed === true) finish();
    };
    function finish(): void {
      clearTimeout(timer);
      child.off('message', answered);
      resolve();
    }
    if (!child.connected) return finish();
    timer = setTimeout(finish, waitMs);
    child.on('message', answered);
    try {
      child.send({ closeOutput: true });
    } catch {
      finish();
    }
  });
}

// How many threads pid has (a zombie whose threads have all ended lists its main one
// alone), or 0 once it cannot be read.
function threadCount(pid: number): number {
  try {
    return readdirSync(`/proc/${pid}/task`).length;
  } catch {
    return 0;
  }
}

// The file-system calls pid's threads are in, each as "lstat /path", whether it is the
// same as at a look at least HELD_MS ago, and for how long it has been (looks keeps each
// thread's last call and since when). A call on a descriptor is the same only while the
// thread has moved no byte: a read of a large file on a slow disk, or of a FIFO its
// writer feeds, in a read at every look, is making progress, not held.
function fileSystemCalls(pid: number, looks: Map<string, { call: string; since: number }>, now: number): Array<{ call: string; held: boolean; heldMs: number }> {
  let tids: string[];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return [];
  }
  const calls: Array<{ call: string; held: boolean; heldMs: number }> = [];
  for (const tid of tids) {
    const found = fileSystemCall(pid, tid);
    if (found === undefined) {
      looks.delete(tid);
      continue;
    }
    const { call, at } = found;
    const before = looks.get(tid);
    if (before === undefined || before.call !== at) looks.set(tid, { call: at, since: now });
    const heldMs = before !== undefined && before.call === at ? now - before.since : 0;
    calls.push({ call, held: heldMs >= HELD_MS, heldMs });
  }
  return calls;
}

// What a thread's system call asks of a file system ("statx /tmp/x", "read /tmp/x"), with,
// as at, the call by its descriptors' identity (descriptorId) and its progress
// (progressMark: the bytes the thread has moved, else the file position), or undefined
// when it is in none (a futex, epoll, a pipe's read) or cannot be read.
function fileSystemCall(pid: number, tid: string): { call: string; at: string } | undefined {
  let line: string;
  try {
    line = readFileSync(`/proc/${pid}/task/${tid}/syscall`, 'latin1');
  } catch {
    return undefined;
  }
  const call = parseSyscallLine(line, process.arch);
  if (call === undefined) return undefined;
  if (call.fd !== undefined) {
    const target = linkOf(`/proc/${pid}/fd/${call.fd}`);
    if (target?.startsWith('/') !== true) return undefined;
    return { call: `${call.name} ${target}`, at: `${call.name} ${descriptorId(pid, call.fd)} @${progressMark(readOrUndefined(`/proc/${pid}/task/${tid}/io`), () => readOrUndefined(`/proc/${pid}/fdinfo/${call.fd}`)) ?? '?'}` };
  }
  const path = stringAt(pid, tid, call.pathAddress!);
  if (path === undefined || path.startsWith('/') || call.dirfd === undefined || call.dirfd === AT_FDCWD) {
    const named = path === undefined ? call.name : `${call.name} ${path}`;
    return { call: named, at: named };
  }
  return { call: `${call.name} ${linkOf(`/proc/${pid}/fd/${call.dirfd}`) ?? '?'}/${path}`, at: `${call.name} ${descriptorId(pid, call.dirfd)} ${path}` };
}

// What a descriptor of pid is open on, as its number, mount and inode (fdinfo's mnt_id
// and ino, which the kernel gives without asking the file system), for the identity of
// a call: not its path, which whoever owns a directory above the file changes at will
// (a rename of their FUSE mount point's directory between two looks made a held read a
// new call at every look, and a command held there waited for good; hostile27).
function descriptorId(pid: number, fd: number): string {
  try {
    const info = readFileSync(`/proc/${pid}/fdinfo/${fd}`, 'latin1');
    return `${fd}:${/^mnt_id:\s*(\d+)/m.exec(info)?.[1] ?? '?'}:${/^ino:\s*(\d+)/m.exec(info)?.[1] ?? '?'}`;
  } catch {
    return `${fd}:?`;
  }
}

// What tells a thread's call on a descriptor from the same call a moment later: the bytes
// the thread has read and written (its io's rchar and wchar, counted as each call
// returns), or, where the kernel has no io file (built without CONFIG_TASK_IO_ACCOUNTING)
// or it cannot be read, the descriptor's file position (fdinfo, read only then); undefined
// where neither can be read. The bytes first: a pread moves no position (Node's streams
// read by position), nor does a FIFO's or a pipe's read, so a read that returned a moment
// ago and a read held since the last look looked alike. The position still tells a read()
// of a large file on a slow disk from a held one, as it did before the bytes were read.
export function progressMark(io: string | undefined, fdinfo: () => string | undefined): string | undefined {
  if (io !== undefined) {
    const read = /^rchar:\s*(\d+)/m.exec(io)?.[1];
    const written = /^wchar:\s*(\d+)/m.exec(io)?.[1];
    if (read !== undefined && written !== undefined) return `${read}/${written}`;
  }
  const text = fdinfo();
  const pos = text === undefined ? undefined : /^pos:\s*(\d+)/m.exec(text)?.[1];
  return pos === undefined ? undefined : `pos ${pos}`;
}

// A /proc file's text, or undefined where it is absent or cannot be read.
function readOrUndefined(path: string): string | undefined {
  try {
    return readFileSync(path, 'latin1');
  } catch {
    return undefined;
  }
}

const AT_FDCWD = -100;

function linkOf(path: string): string | undefined {
  try {
    return readlinkSync(path);
  } catch {
    return undefined;
  }
}

// The NUL-ended string at address in a thread's memory (its parent may read it).
function stringAt(pid: number, tid: string, address: number): string | undefined {
  let fd: number;
  try {
    fd = openSync(`/proc/${pid}/task/${tid}/mem`, 'r');
  } catch {
    return undefined;
  }
  try {
    const buf = Buffer.alloc(4096);
    const n = readSync(fd, buf, 0, buf.length, address);
    const end = buf.subarray(0, n).indexOf(0);
    return buf.subarray(0, end < 0 ? n : end).toString('utf8');
  } catch {
    return undefined;
  } finally {
    closeSync(fd);
  }
}

// A system call that asks a file system: its name, and where it names the file (a
// path's address, with the directory descriptor it is relative to, or a descriptor).
export interface FileSystemCall {
  name: string;
  pathAddress?: number;
  dirfd?: number;
  fd?: number;
}

// Calls by number: [name, the argument naming the file, whether it is a descriptor,
// the argument holding the directory descriptor a relative path starts from].
type CallTable = Record<number, [string, number, 'path' | 'fd', number?]>;

const X64: CallTable = {
  0: ['read', 0, 'fd'], 2: ['open', 0, 'path'], 4: ['stat', 0, 'path'], 5: ['fstat', 0, 'fd'], 6: ['lstat', 0, 'path'],
  17: ['pread64', 0, 'fd'], 19: ['readv', 0, 'fd'], 21: ['access', 0, 'path'], 78: ['getdents', 0, 'fd'],
  83: ['mkdir', 0, 'path'], 89: ['readlink', 0, 'path'], 137: ['statfs', 0, 'path'], 138: ['fstatfs', 0, 'fd'],
  217: ['getdents64', 0, 'fd'], 257: ['openat', 1, 'path', 0], 258: ['mkdirat', 1, 'path', 0], 262: ['newfstatat', 1, 'path', 0],
  267: ['readlinkat', 1, 'path', 0], 269: ['faccessat', 1, 'path', 0], 332: ['statx', 1, 'path', 0], 437: ['openat2', 1, 'path', 0],
  439: ['faccessat2', 1, 'path', 0],
};
const ARM64: CallTable = {
  34: ['mkdirat', 1, 'path', 0], 43: ['statfs', 0, 'path'], 44: ['fstatfs', 0, 'fd'], 48: ['faccessat', 1, 'path', 0],
  56: ['openat', 1, 'path', 0], 61: ['getdents64', 0, 'fd'], 63: ['read', 0, 'fd'], 65: ['readv', 0, 'fd'], 67: ['pread64', 0, 'fd'],
  78: ['readlinkat', 1, 'path', 0], 79: ['newfstatat', 1, 'path', 0], 80: ['fstat', 0, 'fd'], 291: ['statx', 1, 'path', 0],
  437: ['openat2', 1, 'path', 0], 439: ['faccessat2', 1, 'path', 0],
};

// Parses a /proc/PID/task/TID/syscall line ("332 0xffffff9c 0x7f.. ..." while in a call,
// "running" or "-1 ..." otherwise) into the file-system call it is, for x64 and arm64.
// Pure.
export function parseSyscallLine(line: string, arch: string): FileSystemCall | undefined {
  const table = arch === 'x64' ? X64 : arch === 'arm64' ? ARM64 : undefined;
  const fields = line.trim().split(/\s+/);
  const nr = Number(fields[0]);
  if (table === undefined || !Number.isInteger(nr) || nr < 0) return undefined;
  const entry = table[nr];
  if (entry === undefined) return undefined;
  const [name, index, kind, dirIndex] = entry;
  const arg = (i: number): bigint | undefined => {
    const text = fields[1 + i];
    return text === undefined ? undefined : BigInt(text);
  };
  const value = arg(index);
  if (value === undefined) return undefined;
  if (kind === 'fd') return { name, fd: Number(BigInt.asIntN(32, value)) };
  const call: FileSystemCall = { name, pathAddress: Number(value) };
  const dir = dirIndex === undefined ? undefined : arg(dirIndex);
  if (dir !== undefined) call.dirfd = Number(BigInt.asIntN(32, dir));
  return call;
}
