// Runs the built elim the way LIM does: stdout a real pipe (a FIFO here, as LIM's
// pipe(2)), stdin /dev/null, stderr closed, nice -20 as root, LSF_RESOURCES set.
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, closeSync, constants, openSync, readFileSync, readSync, readdirSync, writeFileSync } from 'node:fs';
import { Socket } from 'node:net';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { stringify } from 'yaml';
import { DAEMON_NODE_FLAGS } from '../../src/util/node-flags.js';
import { RunQueueWait, cliPath, fixture, repoRoot, tempDir, tokenEnv } from '../helpers.js';

export interface Report {
  at: number; // ms since spawn
  line: string;
}

export interface Elim {
  child: ChildProcess;
  pid: number;
  dir: string;
  logFile: string;
  historyDir: string;
  started: number;
  reads: Array<{ at: number; data: string }>; // every chunk as read
  reports(): Report[];
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>;
  waitForReports(n: number, timeoutMs?: number): Promise<Report[]>;
  closeReader(): void;
  pauseReader(): void;
  resumeReader(): void;
  log(): Array<Record<string, unknown>>;
  waitForLog(test: (line: Record<string, unknown>) => boolean, timeoutMs?: number): Promise<Record<string, unknown>>;
  cleanup(): Promise<void>; // SIGTERM as LIM would, SIGKILL after 3 s, then the temp dir goes
}

export interface StartOptions {
  config?: string; // YAML appended to the test's base config
  override?: Record<string, Record<string, unknown>>; // sections merged over the base config (log, history, gpu)
  args?: string[]; // extra arguments after `run`; a --config there replaces the generated config
  env?: NodeJS.ProcessEnv;
  testInterval?: number | null; // seconds; null: none (use the config's interval)
  nodeArgs?: string[]; // options for node itself, before the program (--expose-gc, --import)
  blockSignals?: boolean; // start node with every signal blocked and TERM, HUP, INT, QUIT ignored
  // Run the elim as this user (from root: setpriv after as-lim's nice -20), for
  // faults only a non-root process meets (EACCES); its directory and pipe become its own.
  user?: { uid: number; gid: number };
  cwd?: string; // the directory LIM leaves the elim in; default /tmp, as OpenLava 4.0's LIM
  cli?: string; // the program to run; default this build's dist/src/cli.js
  nice?: number; // the nice value LIM runs at (from root); default -20, OpenLava's
  stderrIsStdout?: boolean; // fd 2 a second copy of the pipe instead of closed
}

// How long waitForReports and waitForLog wait by default before they fail.
const WAIT_GUARD_MS = 60_000;

// Creates a FIFO and returns its path.
export function mkfifo(dir: string, name = 'stdout.fifo'): string {
  const path = join(dir, name);
  const r = spawnSync('mkfifo', ['-m', '600', path]);
  if (r.status !== 0) throw new Error(`mkfifo failed: ${r.stderr.toString()}`);
  return path;
}

// Opens the read end of a FIFO as a stream (before the writer, without blocking).
export function openReader(fifo: string): Socket {
  const fd = openSync(fifo, constants.O_RDONLY | constants.O_NONBLOCK);
  return new Socket({ fd, readable: true, writable: false });
}

// The read end of the elim's pipe, read by polling: paused, it makes no read(2) at
// all, so unread reports stay in the kernel pipe as they would with a stuck LIM (a
// paused net.Socket keeps reading into its own buffer up to its high-water mark).
class PollingReader {
  private readonly buf = Buffer.alloc(64 * 1024);
  private readonly timer: NodeJS.Timeout;
  private paused = false;
  private fd: number | undefined;
  constructor(fifo: string, private readonly onData: (chunk: string) => void) {
    this.fd = openSync(fifo, constants.O_RDONLY | constants.O_NONBLOCK);
    this.timer = setInterval(() => this.poll(), 10);
  }
  poll(): void {
    if (this.paused || this.fd === undefined) return;
    for (;;) {
      let n: number;
      try {
        n = readSync(this.fd, this.buf, 0, this.buf.length, null);
      } catch {
        return; // EAGAIN: nothing to read now
      }
      if (n === 0) return; // no writer at the moment
      this.onData(this.buf.toString('latin1', 0, n));
    }
  }
  pause(): void {
    this.paused = true;
  }
  resume(): void {
    this.paused = false;
    this.poll();
  }
  close(): void {
    clearInterval(this.timer);
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }
}

// Sends SIGTERM, as LIM does at shutdown, and asserts what LIM needs: exit status 0
// within 2 s of its own time. Waits 10 s at most, so that a slow exit says how slow it was.
export async function assertStopsOnSigterm(elim: Elim): Promise<void> {
  const queued = new RunQueueWait(elim.pid);
  const sent = Date.now();
  process.kill(elim.pid, 'SIGTERM');
  let timer: NodeJS.Timeout | undefined;
  const exit = await Promise.race([elim.exited, new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), 10_000)))]);
  clearTimeout(timer);
  queued.stop();
  const ms = Date.now() - sent;
  const waitedMs = Math.round(queued.waitedMs());
  assert.ok(exit !== undefined, `still running 10 s after SIGTERM (${waitedMs} ms of them waiting for a CPU)`);
  // Judged, as faults/sigterm judges it, by the wall time less the time the elim's main
  // thread waited on a run queue: the suite's other elims start at nice -20 in its
  // session, and an elim at nice 10 can then get no CPU for seconds (2.34 and 4.13 s
  // stops seen by wall time alone), which says nothing of the elim.
  assert.ok(ms - waitedMs < 2000, `exited ${ms} ms after SIGTERM, of which ${waitedMs} ms waiting for a CPU`);
  assert.equal(exit.code, 0, `exit status ${exit.code ?? exit.signal} after SIGTERM`);
}

// The history records the elim has written so far, each whole line parsed (a line
// still being written is left for the next call); none while the file is not made.
export function historyRecords<T>(elim: Elim): T[] {
  let text: string;
  try {
    text = readFileSync(join(elim.historyDir, `${hostname()}.jsonl`), 'utf8');
  } catch {
    return [];
  }
  return text.split('\n').slice(0, -1).map((l) => JSON.parse(l) as T);
}

// The longest time between two of the elim's reports so far, in ms, by the daemon's own
// history times: where the test reads the pipe, a stall of the test process would show
// as a gap the daemon never had. History is written a batch at a time, so the newest
// reports may not be counted yet.
export function longestHistoryGap(elim: Elim): number {
  const ts = historyRecords<{ ts: number }>(elim).map((r) => r.ts);
  return Math.max(0, ...ts.slice(1).map((t, i) => t - ts[i]!));
}

// The elim's own record of each report (its debug 'report written' line): its number,
// when it was due on the elim's clock (ms from its loop's start), how late it was written,
// and when that was (epoch ms, the line's time).
export interface ScheduleRecord {
  seq: number;
  dueMs: number;
  lateMs: number;
  at: number;
}

// The elim's schedule so far, one record a report written, from its log (debug level).
export function scheduleRecords(elim: Elim): ScheduleRecord[] {
  return elim
    .log()
    .filter((l) => l['msg'] === 'report written')
    .map((l) => ({ seq: Number(l['seq']), dueMs: Number(l['dueMs']), lateMs: Number(l['lateMs']), at: Date.parse(String(l['time'])) }));
}

// The reports written between two epoch times that were later than boundMs beyond the
// time the elim's main thread waited for a CPU meanwhile (queued watched it throughout):
// what the elim's own work delayed, not the machine's load.
export function lateByTheElim(elim: Elim, queued: RunQueueWait, fromMs: number, toMs: number, boundMs: number): string[] {
  const origin = performance.timeOrigin;
  return scheduleRecords(elim)
    .filter((r) => r.at >= fromMs && r.at <= toMs)
    .map((r) => ({ r, waited: Math.round(queued.waitedBetweenMs(r.at - r.lateMs - origin, r.at - origin)) }))
    .filter(({ r, waited }) => r.lateMs - waited >= boundMs)
    .map(({ r, waited }) => `report ${r.seq} written ${r.lateMs} ms after it was due, of which ${waited} ms waiting for a CPU`);
}

// A command line that runs command as user, without root's groups (from root).
function asUser(user: { uid: number; gid: number }, command: string[]): string[] {
  return ['setpriv', `--reuid=${user.uid}`, `--regid=${user.gid}`, '--clear-groups', ...command];
}

// Whether startElim's user can load this build's daemon, as the elim they run must: a
// clone built by root under umask 077 is readable by root alone.
export function userLoadsBuild(user: { uid: number; gid: number }): boolean {
  const daemon = pathToFileURL(join(repoRoot, 'dist', 'src', 'daemon', 'run.js')).href;
  const [file, ...args] = asUser(user, [process.execPath, '--input-type=module', '-e', `await import(${JSON.stringify(daemon)})`]);
  return spawnSync(file!, args, { cwd: '/', stdio: 'ignore', timeout: 20_000 }).status === 0;
}

// Starts `lavarank run` as LIM would, with a config in a fresh temp directory.
export function startElim(options: StartOptions = {}): Elim {
  const { dir, cleanup } = tempDir('lavarank-e2e-');
  const logFile = join(dir, 'lavarank.log');
  const historyDir = join(dir, 'history');
  const configPath = join(dir, 'lavarank.yaml');
  const base: Record<string, Record<string, unknown>> = {
    log: { file: logFile, level: 'debug' },
    history: { dir: historyDir },
    gpu: { enabled: false },
  };
  for (const [section, values] of Object.entries(options.override ?? {})) base[section] = { ...base[section], ...values };
  writeFileSync(configPath, [stringify(base), options.config ?? ''].join('\n'), { mode: 0o644 });
  const fifo = mkfifo(dir);
  const reads: Elim['reads'] = [];
  const waiters: Array<() => void> = [];
  const started = Date.now();
  const reader = new PollingReader(fifo, (data) => {
    reads.push({ at: Date.now() - started, data });
    for (const w of waiters.splice(0)) w();
  });
  const out = openSync(fifo, constants.O_WRONLY);
  // A test's own --config stands instead of the generated one: run refuses two.
  const config = options.args?.includes('--config') === true ? [] : ['--config', configPath];
  const args = [options.cli ?? cliPath, 'run', ...config, ...(options.args ?? [])];
  if (options.testInterval !== null) args.push('--test-interval', String(options.testInterval ?? 0.3));
  // The flags the installed wrapper passes, so the tests run what LIM runs.
  let node = [process.execPath, ...DAEMON_NODE_FLAGS, ...(options.nodeArgs ?? []), ...args];
  // as-lim starts it at -20; nice's -n is relative to that.
  if (options.nice !== undefined) node = ['nice', '-n', String(options.nice + 20), ...node];
  if (options.user !== undefined) {
    const { uid, gid } = options.user;
    chmodSync(dir, 0o755);
    for (const path of [dir, fifo]) chownSync(path, uid, gid);
    node = asUser(options.user, node);
  }
  const child = spawn(fixture('bin', 'as-lim'), options.blockSignals === true ? [fixture('bin', 'with-signals-blocked'), ...node] : node, {
    stdio: ['ignore', out, 'ignore'],
    env: { PATH: process.env['PATH'], LSF_RESOURCES: 'rank ', LSF_MASTER: 'N', ...tokenEnv(), ...options.env, ...(options.cwd === undefined ? {} : { AS_LIM_CWD: options.cwd }), ...(options.stderrIsStdout === true ? { AS_LIM_STDERR_IS_STDOUT: '1' } : {}) },
  });
  closeSync(out);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>((resolve) => {
    child.on('exit', (code, signal) => resolve({ code, signal, at: Date.now() - started }));
  });
  const reports = (): Report[] => {
    const out: Report[] = [];
    let buffered = '';
    for (const r of reads) {
      buffered += r.data;
      let nl: number;
      while ((nl = buffered.indexOf('\n')) >= 0) {
        out.push({ at: r.at, line: buffered.slice(0, nl) });
        buffered = buffered.slice(nl + 1);
      }
    }
    return out;
  };
  return {
    child,
    pid: child.pid!,
    dir,
    logFile,
    historyDir,
    started,
    reads,
    reports,
    exited,
    // The guards are waits, not judgments of the elim (the tests judge its schedule apart):
    // an elim at nice 10 beside six busy loops at nice 0 in its session got 5 of 15
    // reports at 0.1 s in 10 s, and lim68 saw two 5 s waits for log lines run out at a load of 23.
    async waitForReports(n, timeoutMs = WAIT_GUARD_MS) {
      const deadline = Date.now() + timeoutMs;
      while (reports().length < n) {
        if (Date.now() > deadline) throw new Error(`only ${reports().length} of ${n} reports after ${timeoutMs} ms; log:\n${safeRead(logFile)}`);
        await new Promise<void>((resolve) => {
          waiters.push(resolve);
          setTimeout(resolve, 50);
        });
      }
      return reports();
    },
    closeReader: () => reader.close(),
    pauseReader: () => reader.pause(),
    resumeReader: () => reader.resume(),
    log: () => {
      const text = safeRead(logFile);
      // Whole lines only: the daemon may be writing the last one while it is read.
      return text
        .slice(0, text.lastIndexOf('\n') + 1)
        .split('\n')
        .filter((l) => l.trim() !== '')
        .map((l) => JSON.parse(l) as Record<string, unknown>);
    },
    async waitForLog(test, timeoutMs = WAIT_GUARD_MS) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const found = this.log().find(test);
        if (found !== undefined) return found;
        if (Date.now() > deadline) throw new Error(`no matching log line after ${timeoutMs} ms; log:\n${safeRead(logFile)}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    // SIGKILL alone would leave the elim's children running, reparented to init,
    // as a LIM killed with SIGKILL would not (the elim ends them when its parent goes).
    cleanup: async () => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        let timer: NodeJS.Timeout | undefined;
        const ended = await Promise.race([exited.then(() => true), new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), 3000)))]);
        clearTimeout(timer);
        if (!ended) {
          child.kill('SIGKILL');
          await exited;
        }
      }
      reader.close();
      cleanup();
    },
  };
}

function safeRead(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}

// The nice value of every thread of a process.
export function threadNice(pid: number): number[] {
  return readdirSync(`/proc/${pid}/task`).map((tid) => {
    const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(fields[16]);
  });
}

// Pids of every process whose parent is pid.
export function childrenOf(pid: number): number[] {
  const out: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === pid) out.push(Number(entry));
    } catch {
      // the process ended while we looked
    }
  }
  return out;
}

// The strict grammar of one report line as lavarank writes it.
export const REPORT_RE = /^([1-9]\d*)( [A-Za-z][A-Za-z0-9_]* -?\d+(\.\d+)?)+$/;

// The process group of a live process (stat's fifth field).
export function processGroupOf(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[2]);
}

// Live (not zombie) processes of process group pgid.
export function liveInGroup(pgid: number): number[] {
  const out: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const fields = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const after = fields.slice(fields.lastIndexOf(')') + 2).split(' ');
      if (Number(after[2]) === pgid && after[0] !== 'Z' && after[0] !== 'X') out.push(Number(entry));
    } catch {
      // ended while we looked
    }
  }
  return out;
}
