// Shared helpers for tests: paths into the repository, captured logs, temp dirs,
// files and directories with exact modes, a planted link, and the guard that
// fails a test file whose processes outlive it.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs, { chmodSync, closeSync, constants, cpSync, lstatSync, mkdirSync, mkdtempSync, openSync, readFileSync, readdirSync, readlinkSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import fsPromises from 'node:fs/promises';
import { syncBuiltinESMExports } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, mock, type TestContext } from 'node:test';
import { pino, type Logger } from 'pino';

// The repository root (tests run from dist/test/...).
export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

// A path under test/fixtures/.
export function fixture(...parts: string[]): string {
  return join(repoRoot, 'test', 'fixtures', ...parts);
}

// The built CLI.
export const cliPath = join(repoRoot, 'dist', 'src', 'cli.js');

export interface CapturedLog {
  log: Logger;
  lines: Array<Record<string, unknown> & { msg?: string; level?: string }>;
  messages(): string[];
}

// A pino logger whose records are kept in memory, parsed.
export function captureLog(level = 'debug'): CapturedLog {
  const lines: CapturedLog['lines'] = [];
  const log = pino(
    { level, formatters: { level: (label: string) => ({ level: label }) } },
    { write: (s: string) => lines.push(JSON.parse(s) as CapturedLog['lines'][number]) },
  );
  return { log, lines, messages: () => lines.map((l) => String(l.msg)) };
}

// Runs Node on args, sends it SIGTERM the moment anything appears in dir (polled
// without pause, as early as any caller could signal), and resolves to its exit code,
// or the signal's name when the signal ended it.
export async function signalOnFirstEntry(args: readonly string[], dir: string): Promise<number | string | null> {
  const child = spawn(process.execPath, args, { stdio: 'ignore' });
  const exited = new Promise<number | string | null>((resolve) => child.on('exit', (code, signal) => resolve(code ?? signal)));
  // The deadline only guards against a program that never writes there: signalled before
  // Node has set up its handler (a start slowed past 5 s on a loaded host), it would die
  // of the signal, which is not what is tested.
  const deadline = Date.now() + 30_000;
  while (readdirSync(dir).length === 0 && Date.now() < deadline) await new Promise((r) => setImmediate(r));
  child.kill('SIGTERM');
  return exited;
}

// A fresh temporary directory, removed by the returned cleanup function.
export function tempDir(prefix = 'lavarank-test-'): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

// A fresh directory under the temp directory, removed with all it holds once test t ends.
export function testDir(t: Pick<TestContext, 'after'>, prefix = 'lavarank-test-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

// A fresh directory under the temp directory, removed with all it holds once the tests of
// the file (called at the top level) or of the describe (called in its body) end.
export function fileDir(prefix = 'lavarank-test-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

// Writes a file with exactly `mode` (chmod after the write, as the umask narrows the mode write gives it); returns its path.
export function writeWithMode(path: string, text: string, mode: number): string {
  writeFileSync(path, text, { mode });
  chmodSync(path, mode);
  return path;
}

// The PID a fake program wrote to path with `echo $$ > path`, or undefined while
// there is none yet. The shell creates the file before it writes to it, so an empty
// or partial file is "not yet": Number('') is 0, and a test that took 0 for the PID
// would find no such process and fail at random.
export function readPidFile(path: string): number | undefined {
  let text: string;
  try {
    text = readFileSync(path, 'latin1');
  } catch {
    return undefined;
  }
  const m = /^([1-9][0-9]*)\n$/.exec(text);
  return m === null ? undefined : Number(m[1]);
}

// The fields of /proc/<pid>/stat after the command name, or undefined once the
// process is gone (it may go between any two reads: read it once, and catch).
export function procStatFields(pid: number): string[] | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  } catch {
    return undefined;
  }
}

// True while pid exists and is not a zombie.
export function isAlive(pid: number): boolean {
  const f = procStatFields(pid);
  return f !== undefined && f[0] !== 'Z' && f[0] !== 'X';
}

// Resolves after ms.
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

// Polls until check() gives something other than undefined, or throws after timeoutMs.
// The default guards against a hang and judges no speed: a loaded CI host took over
// 10 s to start an elim and write its first metrics file (faults/disk, 2026-12-07).
export async function until<T>(what: string, check: () => T | undefined, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await sleep(25);
  }
}

// Makes a FIFO (mode 0644) at path.
export function mkfifo(path: string): void {
  const r = spawnSync('mkfifo', ['-m', '644', path]);
  if (r.status !== 0) throw new Error(`mkfifo ${path}: ${r.stderr.toString()}`);
}

// Makes fsync of a directory fail with EIO (what strace's fault injection gave real
// runs after a rename), fsync of a file as usual; returns the undo.
export function failDirectorySync(): () => void {
  const realFsync = fs.fsyncSync;
  const fsync = mock.method(fs, 'fsyncSync', (fd: number) => {
    if (fs.fstatSync(fd).isDirectory()) throw Object.assign(new Error('EIO: i/o error, fsync'), { errno: -5, code: 'EIO', syscall: 'fsync' });
    realFsync(fd);
  });
  syncBuiltinESMExports();
  return () => {
    fsync.mock.restore();
    syncBuiltinESMExports();
  };
}

// Replaces the file at path with a symbolic link to a new file beside it, victim, that holds 'untouched\n'; returns victim's path.
export function plantLink(path: string): string {
  const victim = join(dirname(path), 'victim');
  writeFileSync(victim, 'untouched\n', { mode: 0o644 });
  rmSync(path);
  symlinkSync(victim, path);
  return victim;
}

// Makes parent/name with exactly `mode` (0777: writable by others; 01777: sticky, like /tmp); returns its path.
export function dirWithMode(parent: string, name: string, mode: number): string {
  const dir = join(parent, name);
  mkdirSync(dir);
  chmodSync(dir, mode);
  return dir;
}

// Makes /etc/group, as the trust check reads it, name gid the syslog group, for the
// rest of the test: a test host need not have one, and the rule for it must be seen.
export function syslogGroupIs(t: TestContext, gid: number): void {
  const real = fs.readFileSync;
  t.mock.method(fs, 'readFileSync', (path: fs.PathOrFileDescriptor, ...rest: unknown[]) =>
    path === '/etc/group' ? `root:x:0:\nsyslog:x:${gid}:\n` : (real as (...args: unknown[]) => unknown)(path, ...rest),
  );
  syncBuiltinESMExports();
  t.after(() => {
    t.mock.restoreAll();
    syncBuiltinESMExports();
  });
}

// Makes the nth answer of fs/promises' lstat for path wait for then() before it is
// returned, as a stop that comes with a walk's last answer (the held directory's own
// lstat) would, for the rest of the test; asked() counts that path's questions.
export function atLstatAnswer(t: TestContext, path: string, nth: number, then: () => unknown): { asked: () => number } {
  const real = fsPromises.lstat;
  let asked = 0;
  t.mock.method(fsPromises, 'lstat', async (...args: Parameters<typeof real>) => {
    const answer = await real(...args);
    if (args[0] === path && ++asked === nth) await then();
    return answer;
  });
  syncBuiltinESMExports();
  t.after(() => {
    t.mock.restoreAll();
    syncBuiltinESMExports();
  });
  return { asked: () => asked };
}

// Every process a test file starts carries this variable, with a value of the
// file's own, in its environment (children inherit it, and the e2e harness passes
// it on), so that what a test started can be found after the file ends, even once
// it has been reparented to init.
export const TEST_TOKEN_ENV = 'LAVARANK_TEST_TOKEN';
export const testToken = `${process.pid}.${randomBytes(6).toString('hex')}`;
process.env[TEST_TOKEN_ENV] = testToken;

// The variable to give a process started with an environment of its own.
export function tokenEnv(): Record<string, string> {
  return { [TEST_TOKEN_ENV]: testToken };
}

// A process still running (not a zombie) that carries this file's token.
export interface Straggler {
  pid: number;
  command: string;
}

// Processes other than this one that carry this file's token and still run.
export function stragglers(token = testToken): Straggler[] {
  const out: Straggler[] = [];
  const needle = `${TEST_TOKEN_ENV}=${token}\0`;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'latin1');
      const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
      if (state === 'Z' || state === 'X') continue;
      if (!readFileSync(`/proc/${entry}/environ`, 'latin1').includes(needle)) continue;
      const command = readFileSync(`/proc/${entry}/cmdline`, 'latin1').split('\0').join(' ').trim();
      out.push({ pid: Number(entry), command });
    } catch {
      // gone meanwhile, or not ours to read
    }
  }
  return out;
}

// Waits up to graceMs for this file's processes to end; then kills those left with
// SIGKILL and throws, naming them: a test that leaves a process behind fails.
export async function assertNoStragglers(graceMs = 3000): Promise<void> {
  const deadline = Date.now() + graceMs;
  let left = stragglers();
  while (left.length > 0 && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 100));
    left = stragglers();
  }
  if (left.length === 0) return;
  for (const p of left) {
    try {
      process.kill(p.pid, 'SIGKILL');
    } catch {
      // ended meanwhile
    }
  }
  throw new Error(`${left.length} process(es) this test file started outlived it (killed now): ${left.map((p) => `${p.pid} ${p.command}`).join('; ')}`);
}

// Under the test runner (each file in a process of its own), every test file that
// uses these helpers is checked once its tests are done. Programs that import them
// (soak-sim.ts, started by a test, inherits NODE_TEST_CONTEXT; the soak scripts)
// are not test files, and registering a hook there would print TAP to their stdout.
const isTestFile = process.env['NODE_TEST_CONTEXT'] !== undefined && /\.test\.m?js$/.test(process.argv[1] ?? '');
if (isTestFile) after(() => assertNoStragglers());

// The TCP ports pid listens on: its sockets (by inode) in LISTEN state (0A) in its
// network namespace's tables.
export function listeningPorts(pid: number): number[] {
  const inodes = new Set<string>();
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (m !== null) inodes.add(m[1]!);
    } catch {
      // closed meanwhile
    }
  }
  const ports: number[] = [];
  for (const table of ['tcp', 'tcp6']) {
    for (const line of readFileSync(`/proc/${pid}/net/${table}`, 'utf8').split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f[3] === '0A' && inodes.has(f[9] ?? '')) ports.push(parseInt(f[1]!.split(':')[1]!, 16));
    }
  }
  return ports;
}

// Sends SIGUSR1 to pid, a Node process of lavarank's past its start, and gives Node
// up to two seconds to open its inspector (it listens within milliseconds when it
// does); resolves to the TCP ports pid then listens on.
export async function portsAfterSigusr1(pid: number): Promise<number[]> {
  process.kill(pid, 'SIGUSR1');
  const deadline = Date.now() + 2000;
  while (listeningPorts(pid).length === 0 && Date.now() < deadline) await sleep(25);
  return listeningPorts(pid);
}

// A Node program (args) started with a FIFO as its stdin, which it reads as a file
// named /dev/fd/0 (a shell's <(...); Node's own stdio pipes are sockets): resolves once
// it has opened it, and so waits, past its start, until finish() closes the writer.
export async function startReadingFifo(args: readonly string[], env: NodeJS.ProcessEnv): Promise<{
  child: ChildProcess;
  reader: number; // the process that opened it: child, or the child child runs its command in
  finish(): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  cleanup(): void;
}> {
  const { dir, cleanup } = tempDir();
  const fifo = join(dir, 'input');
  mkfifo(fifo);
  const reader = openSync(fifo, constants.O_RDONLY | constants.O_NONBLOCK);
  let writer: number | undefined = openSync(fifo, constants.O_WRONLY);
  const child = spawn(process.execPath, args, { env, stdio: [reader, 'ignore', 'ignore'] });
  closeSync(reader);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  const close = (): void => {
    if (writer !== undefined) closeSync(writer);
    writer = undefined;
  };
  const done = { child, reader: 0, finish: () => (close(), exited), cleanup: () => (close(), child.kill('SIGKILL'), cleanup()) };
  try {
    const pipe = readlinkSync(`/proc/${child.pid}/fd/0`);
    // Once it has opened /dev/fd/0, it holds a second descriptor on the FIFO: the program,
    // or the child it runs the command in (src/util/supervise.ts).
    const opened = (pid: number): boolean => {
      try {
        return readdirSync(`/proc/${pid}/fd`).filter((fd) => linkTarget(`/proc/${pid}/fd/${fd}`) === pipe).length > 1;
      } catch {
        return false; // ended meanwhile
      }
    };
    done.reader = await until('the program reading its stdin', () => [child.pid!, ...childrenOf(child.pid!)].find(opened), 30_000);
  } catch (err) {
    done.cleanup();
    throw err;
  }
  return done;
}

// The children of pid, by their PIDs ([] once it is gone).
export function childrenOf(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter((p) => p !== '').map(Number);
  } catch {
    return [];
  }
}

// The target of a link in /proc, or undefined once it is gone.
function linkTarget(path: string): string | undefined {
  try {
    return readlinkSync(path);
  } catch {
    return undefined; // closed meanwhile
  }
}

// Sets yaml's two debugging switches (LOG_TOKENS, LOG_STREAM) for one test and mocks
// console.log and console.dir, where yaml prints its tokens; both variables are put back
// after the test. printed() counts what yaml would have written to stdout.
export function yamlDebugOn(t: TestContext): { printed: () => number } {
  const log = t.mock.method(console, 'log', () => undefined);
  const dir = t.mock.method(console, 'dir', () => undefined);
  const saved = [process.env['LOG_TOKENS'], process.env['LOG_STREAM']];
  process.env['LOG_TOKENS'] = '1';
  process.env['LOG_STREAM'] = '1';
  t.after(() => {
    for (const [name, value] of [['LOG_TOKENS', saved[0]], ['LOG_STREAM', saved[1]]] as const) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  });
  return { printed: () => log.mock.callCount() + dir.mock.callCount() };
}

// One reading of /proc/<pid>/schedstat: when it was read (ms, performance.now()), and the
// thread's time on a CPU and its wait on a run queue so far (ns).
export interface SchedReading {
  atMs: number;
  cpuNs: number;
  waitNs: number;
}

// The run-queue wait, in ms, between the first of these readings and the last: each
// increase, at most the time since the first reading that was neither spent on a CPU
// nor credited already. The kernel adds a wait whole when the thread gets the CPU, so
// a wait that began before the first reading (the signal sent while the elim waited)
// came whole, and an elim slow by its own work by as much as that wait's earlier part
// still passed.
export function creditedWaitMs(readings: readonly SchedReading[]): number {
  const first = readings[0];
  if (first === undefined) return 0;
  let credited = 0;
  for (let i = 1; i < readings.length; i++) {
    const r = readings[i]!;
    const waited = (r.waitNs - readings[i - 1]!.waitNs) / 1e6;
    const room = r.atMs - first.atMs - (r.cpuNs - first.cpuNs) / 1e6 - credited;
    if (waited > 0 && room > 0) credited += Math.min(waited, room);
  }
  return credited;
}

// Polls how long the main thread of pid (where its JavaScript and its SIGTERM handler
// run) has waited on a run queue for a CPU, from /proc/<pid>/schedstat, so that after it
// exits the test knows how much of its stop the machine withheld the CPU
// (creditedWaitMs). The last poll may come up to everyMs before the exit, which leaves
// the figure short; a poll late by more than everyMs can leave it long by that lateness.
export class RunQueueWait {
  private readonly readings: SchedReading[] = [];
  private readonly timer: NodeJS.Timeout;
  constructor(private readonly pid: number, everyMs = 20) {
    this.poll();
    this.timer = setInterval(() => this.poll(), everyMs).unref();
  }

  private read(): SchedReading | undefined {
    try {
      const [cpu, wait] = readFileSync(`/proc/${this.pid}/schedstat`, 'latin1').split(' ').map(Number);
      return Number.isFinite(cpu) && Number.isFinite(wait) ? { atMs: performance.now(), cpuNs: cpu!, waitNs: wait! } : undefined;
    } catch {
      return undefined; // gone
    }
  }

  poll(): void {
    const now = this.read();
    if (now !== undefined) this.readings.push(now);
  }

  stop(): void {
    clearInterval(this.timer);
  }

  // Milliseconds waited since the watch began; 0 when schedstat could not be read.
  waitedMs(): number {
    return creditedWaitMs(this.readings);
  }

  // Milliseconds waited between two moments (performance.now()), from the last reading
  // at or before fromMs to the first at or after toMs; a poll late by more than everyMs
  // widens that span by its lateness.
  waitedBetweenMs(fromMs: number, toMs: number): number {
    let first = 0;
    while (first + 1 < this.readings.length && this.readings[first + 1]!.atMs <= fromMs) first++;
    let last = first;
    while (last + 1 < this.readings.length && this.readings[last]!.atMs < toMs) last++;
    return creditedWaitMs(this.readings.slice(first, last + 1));
  }
}

// A copy of this build as an administrator installs it (chmod -R go-w), whatever the
// umask of the clone it comes from. Links are copied as what they point at: a clone
// whose node_modules is a link to another tree's would otherwise have the tests chmod
// that tree's files.
export function installedCopy(dir: string): string {
  const pkg = join(dir, 'lavarank');
  mkdirSync(pkg, { mode: 0o755 });
  for (const part of ['package.json', 'models', 'node_modules', 'dist/src']) cpSync(join(repoRoot, part), join(pkg, part), { recursive: true, dereference: true });
  const walk = (path: string): void => {
    const st = lstatSync(path);
    if (st.isSymbolicLink()) return;
    chmodSync(path, st.mode & 0o7755);
    if (st.isDirectory()) for (const name of readdirSync(path)) walk(join(path, name));
  };
  walk(pkg);
  return pkg;
}
