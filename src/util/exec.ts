// The one place lavarank runs other programs. Every command is started with an
// argument vector (never a shell), a timeout or the daemon's abort signal, so
// nothing it starts can outlive it or hang it: through execa, imported lazily (a
// daemon with no GPU and no child elims never loads it), except runIsolated and
// spawnSelf, which need a process group or session of their own and use
// node:child_process, loaded at their first call (childProcess).
import type { ChildProcess as NodeChild } from 'node:child_process';
import { accessSync, constants, existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { access, stat } from 'node:fs/promises';
import { PassThrough, type Readable } from 'node:stream';
import { join } from 'node:path';
import { errorCode, errorMessage, errorReason } from './errors.js';
import { CHILD_NODE_FLAGS } from './node-flags.js';
import { checkTrustAsync, trustProblems } from './trust.js';
import type { ResultPromise } from 'execa';
import { monotonicMs } from './clock.js';
import { lazyBuiltin } from './builtin.js';

// node:child_process, required at the first program started rather than imported: an
// elim with gpu.enabled false and no child elims (its host inventory then read in
// process: collectLocalInventory) starts none, while with gpu.enabled auto, what `lavarank
// install` leaves, it starts `lavarank inventory` at least; and the module with the dgram and net
// it loads stays resident for the process's life: 0.6 MB in a bare node under the elim's
// flags (43 427 against 44 023 kB with tty, worker_threads and assert loaded as the elim
// has them, three runs), 0.2-0.5 MB in the elim (docs/collectors.md, "child_process left
// unloaded").
const childProcess = lazyBuiltin<typeof import('node:child_process')>('node:child_process');

// How runCommand starts a program: always with a timeout, and with an abort signal where given.
export interface RunOptions {
  timeoutMs: number;
  signal?: AbortSignal;
  maxBufferBytes?: number;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
}

// What a program run by runCommand gave: its output, its status, and whether it failed.
export interface RunResult {
  stdout: string;
  stderr: string;
  exitCode: number | undefined;
  failed: boolean;
  timedOut: boolean;
  // Why it failed, in one line (not found, timed out, killed, exit code).
  reason?: string;
}

// Time execa gives a command between SIGTERM and SIGKILL.
const FORCE_KILL_AFTER_MS = 1000;

// Runs file with args to completion and returns its output; never throws for the
// command's own failure (the result says why), only for invalid options.
export async function runCommand(file: string, args: readonly string[], options: RunOptions): Promise<RunResult> {
  if (!Number.isFinite(options.timeoutMs) || options.timeoutMs <= 0) {
    throw new TypeError(`runCommand: timeoutMs must be a positive number, received ${String(options.timeoutMs)}`);
  }
  const { execa } = await import('execa');
  const result = await execa(file, args, {
    shell: false,
    reject: false,
    stdin: 'ignore',
    timeout: options.timeoutMs,
    forceKillAfterDelay: FORCE_KILL_AFTER_MS,
    cleanup: false, // lavarank ends its children itself; execa's exit hooks would also fire on ignored signals
    maxBuffer: options.maxBufferBytes ?? 1024 * 1024,
    stripFinalNewline: false,
    ...(options.signal === undefined ? {} : { cancelSignal: options.signal }),
    ...(options.env === undefined ? {} : { env: options.env, extendEnv: false }),
    ...(options.cwd === undefined ? {} : { cwd: options.cwd }),
  });
  const stdout = typeof result.stdout === 'string' ? result.stdout : '';
  const stderr = typeof result.stderr === 'string' ? result.stderr : '';
  const out: RunResult = {
    stdout,
    stderr,
    exitCode: result.exitCode,
    failed: result.failed,
    timedOut: result.timedOut,
  };
  if (result.failed) out.reason = result.shortMessage;
  return out;
}

// Starts this program again (the same Node, its flags and script) with argv as a
// supervised command's worker (src/util/supervise.ts): the terminal's stdio and an IPC
// channel, in a session of its own, with env. No shell. Like every Node process
// lavarank starts, its inspector has nowhere to listen before keepInspectorClosed runs:
// root's `pkill -USR1 node` in its first tenth of a second opened it on 127.0.0.1:9229.
// The flags this process was given come after, so that they still decide.
export function spawnSelf(argv: readonly string[], env: NodeJS.ProcessEnv): NodeChild {
  return childProcess().spawn(process.execPath, [...CHILD_NODE_FLAGS, ...process.execArgv, process.argv[1] ?? '', ...argv], {
    stdio: ['inherit', 'inherit', 'inherit', 'ipc'],
    detached: true,
    env,
  });
}

// The program runIsolated's launcher option names: env(1), which, given no variables,
// execs its arguments in its own process.
export const LAUNCHER = '/usr/bin/env';

// Options of runIsolated.
export interface IsolatedOptions extends RunOptions {
  // The resolved path of LAUNCHER (checked by the caller as any program lavarank runs):
  // file is started by it rather than directly. Node's spawn returns only once the new
  // process has exec'd, and the exec of a program on a file system that stops answering
  // (an NFS or autofs server gone after the caller's check in libuv's pool) waits with
  // it, holding the caller's event loop; the launcher's own exec (a local root program)
  // returns, and its exec of file then waits in that process, which the timeout ends.
  // A file whose path holds '=' is started directly: env would take it for a variable.
  launcher?: string;
}

// Runs file with args to completion like runCommand, but in a process group of its
// own, and on timeout or abort kills the whole group with SIGKILL: for a program
// that runs other programs synchronously and without timeouts (systeminformation),
// so that neither it nor what it started stays behind, hung, once lavarank gives
// up. Uses node:child_process, not execa: loading execa costs the daemon ~14 MB
// and, on a saturated host at nice 10, more than a second.
export function runIsolated(file: string, args: readonly string[], options: IsolatedOptions): Promise<RunResult> {
  if (!Number.isFinite(options.timeoutMs) || options.timeoutMs <= 0) {
    return Promise.reject(new TypeError(`runIsolated: timeoutMs must be a positive number, received ${String(options.timeoutMs)}`));
  }
  const maxBytes = options.maxBufferBytes ?? 1024 * 1024;
  const launcher = options.launcher !== undefined && !file.includes('=') ? options.launcher : undefined;
  return new Promise((resolve) => {
    let child: NodeChild;
    try {
      child = childProcess().spawn(launcher ?? file, launcher === undefined ? args : ['--', file, ...args], {
        shell: false,
        detached: true, // setsid(): the child leads a new process group
        stdio: ['ignore', 'pipe', 'pipe'],
        // A multi-call binary (busybox, a single-binary coreutils) chooses by argv[0].
        ...(launcher === undefined ? {} : { argv0: 'env' }),
        ...(options.env === undefined ? {} : { env: options.env }),
        ...(options.cwd === undefined ? {} : { cwd: options.cwd }),
      });
    } catch (err) {
      // Thrown at once rather than emitted: ETXTBSY, E2BIG, ENOMEM (see spawnGroup).
      resolve({ stdout: '', stderr: '', exitCode: undefined, failed: true, timedOut: false, reason: `Command failed: ${file}: ${errorMessage(err)}` });
      return;
    }
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    let bytes = 0;
    let why: string | undefined; // set when lavarank ended it
    let timedOut = false;
    let exited = false;
    let settled = false;
    // The group's id is the leader's pid, which cannot be reused while the leader
    // is unreaped or any member still holds the pipes.
    const killGroup = (): void => {
      if (child.pid === undefined) return;
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        // ESRCH: the group is already gone
      }
    };
    const end = (reason: string): void => {
      why ??= reason;
      if (!exited) killGroup();
    };
    const onAbort = (): void => end(`Command was cancelled: ${file}`);
    const timer = setTimeout(() => {
      timedOut = true;
      end(`Command timed out after ${options.timeoutMs} milliseconds: ${file}`);
    }, options.timeoutMs);
    let straggler: NodeJS.Timeout | undefined;
    const finish = (exitCode: number | undefined, failure: string | undefined): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      clearTimeout(straggler);
      options.signal?.removeEventListener('abort', onAbort);
      const result: RunResult = {
        stdout: Buffer.concat(stdout).toString('utf8'),
        stderr: Buffer.concat(stderr).toString('utf8'),
        exitCode,
        failed: why !== undefined || failure !== undefined,
        timedOut,
      };
      const reason = why ?? failure;
      if (reason !== undefined) result.reason = reason;
      resolve(result);
    };
    const keep = (into: Buffer[]) => (chunk: Buffer) => {
      bytes += chunk.length;
      if (bytes > maxBytes) end(`Command's output exceeded ${maxBytes} bytes: ${file}`);
      else into.push(chunk);
    };
    // Out of descriptors (EMFILE) there are no pipes; the 'error' event ends the run.
    child.stdout?.on('data', keep(stdout));
    child.stderr?.on('data', keep(stderr));
    child.once('error', (err) => finish(undefined, `Command failed: ${file}: ${err.message}`));
    child.once('exit', () => {
      exited = true;
      // Something it started still holds the pipes: end it too, after a grace period.
      // One that left the group (setsid) is out of reach of the kill: the pipes are
      // closed on our side, so that the run still ends.
      straggler = setTimeout(() => {
        killGroup();
        child.stdout?.destroy();
        child.stderr?.destroy();
      }, 1000);
    });
    child.once('close', (code, signal) =>
      finish(code ?? undefined, code === 0 ? undefined : `Command failed with ${code === null ? `signal ${String(signal)}` : `exit code ${code}`}: ${file}`),
    );
    if (options.signal?.aborted === true) onAbort();
    options.signal?.addEventListener('abort', onAbort, { once: true });
  });
}

// The options of spawnLongRunning: the signal that ends the child, and its environment.
export interface SpawnOptions {
  signal: AbortSignal;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
}

// A child spawnLongRunning started: its stdout a stream, its exit never a rejection.
export type ChildProcess = ResultPromise<{ stdin: 'ignore'; stdout: 'pipe'; stderr: 'ignore'; buffer: false; reject: false }>;

// Starts a long-running child (a site's own elim) whose stdout is read as a stream.
// Aborting signal sends SIGTERM, then SIGKILL after a second. The subprocess is
// returned inside an object: it is a thenable, so an async function returning it
// bare would resolve only when the process exits, with no stream left to read.
// Rejects with the signal's reason, starting nothing, if it aborted meanwhile.
export async function spawnLongRunning(
  file: string,
  args: readonly string[],
  options: SpawnOptions,
): Promise<{ child: ChildProcess }> {
  const { execa } = await import('execa');
  // Loading execa can take a second on a saturated host at nice 10; a child started
  // after the daemon began to stop could outlive it (execa's SIGKILL comes 1 s later).
  options.signal.throwIfAborted();
  const child = execa(file, args, {
    shell: false,
    reject: false,
    stdin: 'ignore',
    stdout: 'pipe',
    stderr: 'ignore',
    buffer: false,
    cleanup: false,
    forceKillAfterDelay: FORCE_KILL_AFTER_MS,
    cancelSignal: options.signal,
    ...(options.env === undefined ? {} : { env: options.env, extendEnv: false }),
    ...(options.cwd === undefined ? {} : { cwd: options.cwd }),
  });
  return { child };
}

// A long-running program in a process group of its own (see spawnGroup).
export interface GroupProcess {
  readonly pid: number | undefined; // also the group's id; undefined if it could not be started
  readonly stdout: Readable;
  // Settles when the program itself has exited (not its pipe, which something it
  // started may hold), with why: "exit code N", "signal X" or "could not be started: E".
  readonly exited: Promise<{ exitCode: number | null; signal: NodeJS.Signals | null; reason: string }>;
  // Ends the whole group: SIGTERM, then SIGKILL to what is left after the grace
  // period (graceMs, else the spawn's); resolves once no process of the group runs.
  // The first call decides; later calls get the same promise.
  end(graceMs?: number): Promise<void>;
  // SIGKILL to the whole group at once, for a process about to exit without waiting
  // for end(): what end() has not killed yet would outlive it.
  kill(): void;
}

// Options of spawnGroup.
export interface GroupOptions {
  env?: NodeJS.ProcessEnv; // the whole environment; default process.env
  argv0?: string; // argv[0] the program sees; default file
  graceMs?: number; // between SIGTERM and SIGKILL; default 1 s
}

// How long end() waits after SIGKILL for the group to disappear (a process in an
// uninterruptible sleep dies only when it wakes); then it stops waiting.
const AFTER_KILL_MS = 300;
const POLL_MS = 20;

function signalGroup(pgid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pgid, signal);
  } catch {
    // ESRCH: nothing left in the group
  }
}

// The fields of a /proc/<pid>/stat text after "pid (comm) ", whose command name may
// hold spaces and parentheses: state is [0], ppid [1], pgrp [2], utime [11], stime [12],
// cutime [13], cstime [14], starttime [19] (proc(5)'s fields 3 on).
export function procStatFields(text: string): string[] {
  return text.slice(text.lastIndexOf(')') + 2).split(' ');
}

// Whether a process of this pid runs on this host (signal 0 sends nothing; EPERM: it
// does, as another user's).
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return errorCode(err) !== 'ESRCH';
  }
}

// The procStatFields of a process, or undefined once it is gone.
export function statFields(pid: number): string[] | undefined {
  try {
    return procStatFields(readFileSync(`/proc/${pid}/stat`, 'latin1'));
  } catch {
    return undefined;
  }
}

interface Member {
  pid: number;
  start: string; // pids are reused; with its start time a process is unique
}

// The processes of group pgid that descend from roots (its leader, unless given), read
// from /proc/<pid>/task/<tid>/children (a few small files, where scanning all of /proc
// took 60 ms on a busy VM).
function groupMembers(pgid: number, roots: readonly number[] = [pgid]): Member[] {
  const members: Member[] = [];
  const queue = [...roots];
  while (queue.length > 0 && members.length < 1000) {
    const pid = queue.shift()!;
    const fields = statFields(pid);
    if (fields === undefined || Number(fields[2]) !== pgid) continue;
    members.push({ pid, start: fields[19] ?? '' });
    let tasks: string[] = [];
    try {
      tasks = readdirSync(`/proc/${pid}/task`);
    } catch {
      continue; // gone meanwhile
    }
    for (const tid of tasks) {
      try {
        for (const kid of readFileSync(`/proc/${pid}/task/${tid}/children`, 'latin1').split(' ')) if (kid !== '') queue.push(Number(kid));
      } catch {
        // gone meanwhile
      }
    }
  }
  return members;
}

// What is left of group pgid just after its leader was reaped: its orphans, now
// children of init or of a subreaper, so found by a scan of /proc. None once pgid
// names a process again: the number was free, so the group had ended.
function orphansOf(pgid: number): Member[] {
  // Most leaders leave nothing: then no scan (26 ms for 107 processes at a load of 16).
  try {
    process.kill(-pgid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ESRCH') return [];
  }
  let names: string[];
  try {
    names = readdirSync('/proc');
  } catch {
    return [];
  }
  const found: Member[] = [];
  for (const name of names) {
    const pid = Number(name);
    if (!Number.isInteger(pid) || pid <= 0 || pid === pgid) continue;
    const fields = statFields(pid);
    if (fields !== undefined && Number(fields[2]) === pgid) found.push({ pid, start: fields[19] ?? '' });
  }
  return existsSync(`/proc/${pgid}`) ? [] : found;
}

// True while the member is still in group pgid, a zombie included: so long, the number
// pgid is held (the kernel gives no new process a number still used as a group's id).
function inGroup(member: Member, pgid: number): boolean {
  const fields = statFields(member.pid);
  return fields !== undefined && fields[19] === member.start && Number(fields[2]) === pgid;
}

// a and the members of b it does not hold.
function withMembers(a: readonly Member[], b: readonly Member[]): Member[] {
  return [...a, ...b.filter((m) => !a.some((k) => k.pid === m.pid && k.start === m.start))];
}

// True while the member runs (a zombie has ended: an init that never reaps, as in
// some containers, would keep it in the group forever).
function running(member: Member): boolean {
  const fields = statFields(member.pid);
  return fields !== undefined && fields[19] === member.start && fields[0] !== 'Z' && fields[0] !== 'X';
}

// Starts a long-running program (a site's own elim) without a shell, stdin closed,
// stderr discarded, stdout a pipe to read, as the leader of a new process group
// (setsid), so that end() reaches whatever it starts too: a helper that ignores
// SIGTERM gets SIGKILL after the grace period instead of outliving lavarank. It
// starts synchronously (no execa to load first), so a caller that checks it is not
// stopping right before the call cannot start anything once stopping began.
export function spawnGroup(file: string, args: readonly string[], options: GroupOptions = {}): GroupProcess {
  const graceMs = options.graceMs ?? FORCE_KILL_AFTER_MS;
  let child: NodeChild;
  try {
    child = childProcess().spawn(file, args, {
      shell: false,
      detached: true,
      stdio: ['ignore', 'pipe', 'ignore'],
      env: options.env ?? process.env,
      argv0: options.argv0 ?? file,
      cwd: '/', // never a directory another user may own (see runDaemon)
    });
  } catch (err) {
    // Some failures are thrown at once rather than emitted: ETXTBSY (the program is
    // open for writing: an installer copying a new version over it), E2BIG, ENOMEM.
    return notStarted(`could not be started: ${errorReason(err)}`);
  }
  // Out of descriptors (EMFILE), Node emits the error later and gives no stdout.
  const stdout = child.stdout ?? endedStream();
  const exited = new Promise<{ exitCode: number | null; signal: NodeJS.Signals | null; reason: string }>((resolve) => {
    child.once('error', (err: NodeJS.ErrnoException) => resolve({ exitCode: null, signal: null, reason: `could not be started: ${err.code ?? err.message}` }));
    child.once('exit', (code, signal) => resolve({ exitCode: code, signal, reason: code !== null ? `exit code ${code}` : `signal ${String(signal)}` }));
  });
  const pgid = child.pid;
  // The group's processes seen while pgid surely named it: the leader's descendants
  // while it was unreaped, its orphans found at its reap, and what those start. Once
  // the leader is reaped and the last of them has ended, pgid is a free number that
  // another process group (a shell's job, any setsid) may get, and a signal to -pgid
  // reached that group (a group leader spawned in a pid namespace with a small
  // pid_max, reaped, its number given to a setsid'd sleep: end() sent the sleep
  // SIGTERM, and SIGKILL when it was given the number during the grace period).
  // Node 20 has no pidfd, so the group is signalled only while its leader is unreaped
  // or one of these is still in it, which holds the number.
  let known: Member[] = [];
  let reaped = false;
  child.once('exit', () => {
    reaped = true;
    // At once, in the callback of the reap itself: its orphans still hold the number.
    if (pgid !== undefined) known = withMembers(known, orphansOf(pgid));
  });
  // Whether -pgid is still this group; known is brought up to date.
  const ours = (group: number): boolean => {
    if (!reaped) return true;
    const live = known.filter((m) => inGroup(m, group));
    known = withMembers(live, groupMembers(group, live.map((m) => m.pid)));
    return live.length > 0;
  };
  const signalOurs = (group: number, signal: NodeJS.Signals): void => {
    if (ours(group)) signalGroup(group, signal);
  };
  let ending: Promise<void> | undefined;
  const end = (endGraceMs = graceMs): Promise<void> => {
    ending ??= (async () => {
      if (pgid === undefined) {
        await exited;
        return;
      }
      if (!reaped) known = withMembers(known, groupMembers(pgid));
      signalOurs(pgid, 'SIGTERM');
      // monotonicMs(), not Date.now(): a wall clock stepped back meanwhile (NTP,
      // date -s) would put the SIGKILL off by the step.
      const killAt = monotonicMs() + endGraceMs;
      for (;;) {
        await new Promise((r) => setTimeout(r, POLL_MS));
        // Nothing of the group is left that holds its number.
        if (!ours(pgid)) return;
        // Everyone seen has ended: what is left is zombies, or a process started
        // meanwhile; SIGKILL settles it without waiting out the grace period.
        if (known.length > 0 && !known.some(running)) break;
        if (monotonicMs() >= killAt) break;
      }
      signalOurs(pgid, 'SIGKILL');
      const giveUpAt = monotonicMs() + AFTER_KILL_MS;
      while (monotonicMs() < giveUpAt && known.some(running)) await new Promise((r) => setTimeout(r, POLL_MS));
      await Promise.race([exited, new Promise((r) => setTimeout(r, AFTER_KILL_MS))]);
    })();
    return ending;
  };
  const kill = (): void => {
    if (pgid !== undefined) signalOurs(pgid, 'SIGKILL');
  };
  return { pid: pgid, stdout, exited, end, kill };
}

// The GroupProcess of a program that could not be started: nothing to read or end.
function notStarted(reason: string): GroupProcess {
  return { pid: undefined, stdout: endedStream(), exited: Promise.resolve({ exitCode: null, signal: null, reason }), end: () => Promise.resolve(), kill: () => undefined };
}

// A stream that has ended, in place of the output of a program that was not started.
function endedStream(): Readable {
  const stream = new PassThrough();
  stream.end();
  return stream;
}

// PATH without its empty and relative entries, which a shell searching by name takes
// as the working directory (or below it), and without a directory that anyone but root
// (or the user lavarank runs as) can change, or that is not there (trusted: the trust
// check of the directory and the way to it): a program of theirs there, named as the
// one looked for, would run as root. The system's own directories if none is left.
export function absolutePath(pathVar: string | undefined, trusted: (dir: string) => boolean = (dir) => trustProblems(dir, 'PATH entry', { directory: true }).length === 0): string {
  const dirs = (pathVar ?? '').split(':').filter((d) => d.startsWith('/') && trusted(d));
  return dirs.length > 0 ? dirs.join(':') : SYSTEM_PATH;
}

const SYSTEM_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

// absolutePath with each entry's walk asked in libuv's pool (checkTrustAsync), for the
// daemon to hand its host inventory a PATH of root's directories alone: that process
// walked LIM's PATH on its main thread, and a directory of another user's there under
// their FUSE mount, whose server answers only libuv's pool, held it in a wait that not
// even SIGKILL ends (the request was with the server), one such process left per
// start. signal aborted: rejects at the walk's next question.
export async function absolutePathAsync(pathVar: string | undefined, signal?: AbortSignal): Promise<string> {
  const dirs: string[] = [];
  for (const d of (pathVar ?? '').split(':')) {
    if (d.startsWith('/') && (await checkTrustAsync(d, 'PATH entry', { directory: true }, signal)).problems.length === 0) dirs.push(d);
  }
  return dirs.length > 0 ? dirs.join(':') : SYSTEM_PATH;
}

// Prepares this process for systeminformation, which runs its commands (lscpu,
// dmidecode, clinfo, xrandr...) by name, through a shell, in the working directory.
// As root, an empty or relative PATH entry would run a program of that name from
// there (LIM's directory, an administrator's /tmp), and so would a directory another
// user can write (a world-writable one in LIM's PATH ran their lscpu as root at every
// start of the daemon, where the GPU query refused their nvidia-smi): only absolute
// entries root alone can change (absolutePath), from /.
export function forNamedCommands(): void {
  process.env['PATH'] = absolutePath(process.env['PATH']);
  process.chdir('/');
}

// Where `command` would be found (itself if it names a path, else the first match on
// PATH), or undefined when no executable file is there. Reads the filesystem only:
// callers use it to avoid loading execa at all for a program that is not installed.
export function findExecutable(command: string, pathVar: string = process.env['PATH'] ?? ''): string | undefined {
  for (const candidate of executableCandidates(command, pathVar)) {
    try {
      accessSync(candidate, constants.X_OK);
      if (statSync(candidate).isFile()) return candidate;
    } catch {
      // not here: try the next PATH entry
    }
  }
  return undefined;
}

// findExecutable with its access and stat calls made in libuv's pool, for the daemon's
// event loop: a PATH entry or gpu.command on a file system whose server answers the
// pool and never the event loop (a user's FUSE mount in a directory of theirs on PATH)
// held the reports and SIGTERM there.
export async function findExecutableAsync(command: string, pathVar: string = process.env['PATH'] ?? ''): Promise<string | undefined> {
  for (const candidate of executableCandidates(command, pathVar)) {
    try {
      await access(candidate, constants.X_OK);
      if ((await stat(candidate)).isFile()) return candidate;
    } catch {
      // not here: try the next PATH entry
    }
  }
  return undefined;
}

// Where findExecutable looks for command. Absolute PATH entries only: an empty or
// relative one names the working directory, which may be another user's (/tmp).
function executableCandidates(command: string, pathVar: string): string[] {
  return command.includes('/') ? [command] : pathVar.split(':').filter((d) => d.startsWith('/')).map((d) => join(d, command));
}
