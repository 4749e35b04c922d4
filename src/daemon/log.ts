// Where lavarank's logs go. OpenLava closes the elim's stderr (Node reopens it on
// /dev/null), so logs go to a file: log.file, else $LSF_LOGDIR/lavarank.<host>.log,
// else stderr when it is a terminal, else /var/log/lavarank/lavarank.<host>.log.
// A location that cannot be written, or whose directory another user can change, is
// skipped for the next one, and the reason is logged in the one that works; nothing
// about logging can stop the reports.
import { closeSync, fstat, open, writeSync, type Stats } from 'node:fs';
import { hostname } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { isTerminal } from '../util/terminal.js';
import { createLogger, type LevelName, type Logger } from '../util/logger.js';
import { OPEN_FLAGS, RotatingAppender, makeDir, refusedAt, unwritable } from '../util/appender.js';
import type { LogConfig } from '../config/config.js';
import { errorMessage, errorReason } from '../util/errors.js';
import { isDirectoryAsync } from '../util/paths.js';
import { isoTime, monotonicMs } from '../util/clock.js';
import { escapedControls } from '../util/shown.js';
import { holdExit } from '../util/exit.js';
import { directoryProblems, directoryProblemsAsync, holdDirectoryAsync } from '../util/trust.js';

// The log's last place to try, after log.file, LSF_LOGDIR and a terminal's stderr.
export const DEFAULT_LOG_DIR = '/var/log/lavarank';
// Log files are not for every user: they quote paths, child elims' output and errors.
export const LOG_FILE_MODE = 0o640;

// One place the log can go: a file or stderr, and why it was chosen.
export interface LogTarget {
  kind: 'file' | 'stderr';
  path?: string;
  why: string;
  mustExist?: string; // a directory that must already exist: lavarank never creates OpenLava's
}

// The logger once its place is chosen, with what was tried before it.
export interface LogSetup {
  log: Logger;
  target: LogTarget;
  skipped: string[]; // locations tried first and why they failed
  appender?: RotatingAppender;
  write(record: string): void; // a record as the logger writes it, to the same place
  close(timeoutMs?: number): Promise<void>;
  // Logs a fatal error synchronously, for a process that is about to exit.
  fatalNow(message: string, err: unknown): void;
  // fatalNow where the log file is open; where it is not, the line is queued and the
  // log closed within timeoutMs: writeNow would make, walk and open its directory on
  // this thread, which a user's FUSE server there that answers only libuv's pool holds
  // for good. For a crash, whose exit follows.
  fatalLast(message: string, err: unknown, timeoutMs: number): Promise<void>;
}

// The log file locations to try, in order, for this host. logdirFrom: the lsf.conf
// that env's LSF_LOGDIR was taken from (lsfLogdirAsync), when it was not in the environment.
export function logCandidates(config: LogConfig, host: string, env: NodeJS.ProcessEnv, stderrIsTty: boolean, logdirFrom?: string): LogTarget[] {
  const out: LogTarget[] = [];
  if (config.file !== null) out.push({ kind: 'file', path: config.file, why: 'log.file' });
  const logdir = env['LSF_LOGDIR'];
  if (logdir !== undefined && logdir.startsWith('/')) {
    out.push({ kind: 'file', path: join(logdir, `lavarank.${host}.log`), why: logdirFrom === undefined ? '$LSF_LOGDIR' : `LSF_LOGDIR in ${logdirFrom}`, mustExist: logdir });
  }
  if (stderrIsTty) out.push({ kind: 'stderr', why: 'stderr is a terminal' });
  out.push({ kind: 'file', path: join(DEFAULT_LOG_DIR, `lavarank.${host}.log`), why: 'default location' });
  return out;
}

// Why root must not write its log in dir (see directoryProblems).
function logDirectoryProblems(dir: string): string[] {
  return directoryProblems(dir, 'log directory');
}

// logDirectoryProblems with the walk in libuv's pool, for the appender's reopens.
function logDirectoryProblemsAsync(dir: string, signal?: AbortSignal): Promise<string[]> {
  return directoryProblemsAsync(dir, 'log directory', signal === undefined ? {} : { signal });
}

// A log location passed over, and why. missing: its $LSF_LOGDIR does not exist;
// refused: it could be written, but its directory or file is not lavarank's alone.
export interface SkippedLog {
  target: LogTarget;
  why: string;
  missing: boolean;
  refused: boolean;
}

// The log locations in order, the one chosen (none: nothing usable), and those passed over before it.
export interface LogChoice {
  candidates: LogTarget[];
  chosen: LogTarget | undefined;
  skipped: SkippedLog[];
}

// How chooseLogTarget judges a location. The daemon opens the file; check, which must
// create nothing, predicts that open. The directory rules default to the daemon's, each
// asked in libuv's pool; a probe may answer at once (tests).
export interface LogProbe {
  isDirectory?: (path: string) => boolean | Promise<boolean>;
  directoryProblems?: (dir: string) => string[] | Promise<string[]>;
  // Why the file cannot be appended to, asked once its directory passed.
  fileProblem: (path: string) => { why: string; refused: boolean } | undefined | Promise<{ why: string; refused: boolean } | undefined>;
  trying?: (target: LogTarget) => void; // told each location before its first question
}

// Whether two log locations are the same.
function sameTarget(a: LogTarget, b: LogTarget): boolean {
  return a.kind === b.kind && a.path === b.path;
}

// The log locations for this host in order (logCandidates), the first usable one
// (stderr, when it is a candidate, always is), and each one passed over before it
// and why: the one rule by which the daemon logs and check says where it will. Every
// question is asked in libuv's pool: a log location under a user's FUSE mount whose
// server answers the pool and never a main thread (their directory at a name still to
// be made below a sticky one) held the daemon's start, and check, there.
export async function chooseLogTarget(
  config: LogConfig,
  where: { host: string; env: NodeJS.ProcessEnv; stderrIsTty: boolean; logdirFrom?: string | undefined; after?: LogTarget | undefined },
  probe: LogProbe,
): Promise<LogChoice> {
  const isDir = probe.isDirectory ?? isDirectoryAsync;
  const problemsOf = probe.directoryProblems ?? logDirectoryProblemsAsync;
  const all = logCandidates(config, where.host, where.env, where.stderrIsTty, where.logdirFrom);
  // where.after: only the locations after that one (the fallback of setupLoggingBeside).
  const after = where.after === undefined ? -1 : all.findIndex((t) => sameTarget(t, where.after!));
  const candidates = all.slice(after + 1);
  const skipped: SkippedLog[] = [];
  for (const target of candidates) {
    probe.trying?.(target);
    if (target.kind === 'stderr') return { candidates, chosen: target, skipped };
    const path = target.path!;
    if (target.mustExist !== undefined && !(await isDir(target.mustExist))) {
      skipped.push({ target, why: `${target.mustExist} does not exist, and lavarank does not create OpenLava's directory`, missing: true, refused: false });
      continue;
    }
    // Root creates, appends to and renames files here: not in a directory another user can change.
    const shared = await problemsOf(dirname(path));
    if (shared.length > 0) {
      skipped.push({ target, why: shared.join('; '), missing: false, refused: true });
      continue;
    }
    const file = await probe.fileProblem(path);
    if (file !== undefined) {
      skipped.push({ target, ...file, missing: false });
      continue;
    }
    return { candidates, chosen: target, skipped };
  }
  return { candidates, chosen: undefined, skipped };
}

// Opens path as the appender would (making its directory, which is then checked
// again: someone else may have made it), for the appender to take as its first open;
// else the reason it cannot. Every walk, open and mkdir in libuv's pool.
async function openLogAsync(path: string): Promise<{ fd: number; stats: Stats } | { why: string; refused: boolean }> {
  let fd: number | undefined;
  try {
    await makeDir(join(path, '..'), 0o755);
    // Again once it exists: someone else may have made it (see AppenderOptions.directoryProblems).
    const shared = await logDirectoryProblemsAsync(dirname(path));
    if (shared.length > 0) return { why: shared.join('; '), refused: true };
    // As the appender opens it: in the directory held once checked (holdDirectoryAsync), and
    // O_NONBLOCK, so that a FIFO planted there is refused, not waited on.
    const held = await holdDirectoryAsync(dirname(path), 'log directory');
    if ('problems' in held) return { why: held.problems.join('; '), refused: true };
    const name = `${held.path}/${basename(path)}`;
    try {
      fd = await openAsync(name, OPEN_FLAGS, LOG_FILE_MODE);
    } catch (err) {
      // Named by what stands there (held.fd is still open: name goes through it).
      const why = await refusedAt(name);
      if (why !== undefined) return { why, refused: true };
      throw err;
    } finally {
      closeSync(held.fd);
    }
    const stats = await fstatAsync(fd);
    const why = unwritable(stats);
    if (why === undefined) return { fd, stats };
    closeSync(fd);
    return { why, refused: true };
  } catch (err) {
    if (fd !== undefined) closeSync(fd);
    return { why: errorReason(err), refused: false };
  }
}

const openAsync = promisify(open);
const fstatAsync = promisify(fstat);

function stderrIsTerminal(): boolean {
  return isTerminal(2); // false where fd 2 is closed
}

// pino.stdTimeFunctions.isoTime's text, without a Date (isoTime says why); every elim log record's time.
export const recordTime = (): string => `,"time":"${isoTime(Date.now())}"`;

// One JSON log record as a line for a person at a terminal: local time, level,
// message, then the other fields as key=value; pid, hostname and name are left out.
export function formatLogLine(json: string): string {
  let rec: Record<string, unknown>;
  try {
    rec = JSON.parse(json) as Record<string, unknown>;
  } catch {
    return json.endsWith('\n') ? json : `${json}\n`; // not a record: as it came
  }
  const { time, level, msg, pid: _pid, hostname: _hostname, name: _name, ...fields } = rec;
  const when = new Date(typeof time === 'string' || typeof time === 'number' ? time : Date.now());
  const two = (n: number): string => String(n).padStart(2, '0');
  const clock = `${two(when.getHours())}:${two(when.getMinutes())}:${two(when.getSeconds())}.${String(when.getMilliseconds()).padStart(3, '0')}`;
  const shown = (v: unknown): string => (typeof v === 'string' && /^[^\s"=]+$/.test(v) ? v : JSON.stringify(v) ?? String(v));
  const rest = Object.entries(fields).map(([k, v]) => `${k}=${shown(v)}`);
  // A message or field may quote a name another user chose (their link's target in an
  // $LSF_LOGDIR they own), which the terminal would take as escape sequences.
  return `${escapedControls([clock, String(level ?? '').toUpperCase().padEnd(5), String(msg ?? ''), ...rest].join(' '))}\n`;
}

// Writes to stderr, ignoring a closed stderr (the log has nowhere else to go).
function writeStderr(text: string): void {
  try {
    writeSync(2, text);
  } catch {
    // stderr closed: nothing to tell
  }
}

// Writes a logger's record to stderr, as stderrLogger does.
function stderrWriter(terminal: boolean): (record: string) => void {
  return terminal ? (record) => writeStderr(formatLogLine(record)) : writeStderr;
}

// A logger writing synchronously to stderr: lines for a person on a terminal, JSON
// otherwise (under LIM stderr is /dev/null; a redirect keeps the machine format).
function stderrLogger(level: LevelName, name = 'lavarank', terminal = stderrIsTerminal()): Logger {
  return createLogger({ level, name, time: recordTime, write: stderrWriter(terminal) });
}

// Opens the first usable log location and returns a logger writing there; every
// question about the locations asked in libuv's pool (chooseLogTarget), for the daemon's start.
export async function setupLoggingAsync(
  config: LogConfig,
  options: { host: string; env?: NodeJS.ProcessEnv; logdirFrom?: string | undefined; stderrIsTty?: boolean; name?: string; after?: LogTarget; trying?: (target: LogTarget) => void },
): Promise<LogSetup> {
  const env = options.env ?? process.env;
  const tty = options.stderrIsTty ?? stderrIsTerminal();
  let opened: { fd: number; stats: Stats } | undefined;
  const fileProblem = async (path: string): Promise<{ why: string; refused: boolean } | undefined> => {
    const result = await openLogAsync(path);
    if ('why' in result) return result;
    opened = result;
    return undefined;
  };
  const choice = await chooseLogTarget(config, { host: options.host, env, stderrIsTty: tty, logdirFrom: options.logdirFrom, after: options.after }, { fileProblem, ...(options.trying === undefined ? {} : { trying: options.trying }) });
  return loggingTo(choice, opened, config, options, tty);
}

// The log set up beside the start, for the daemon: a logger usable at once, whose
// records wait in memory (PENDING_LOG_BYTES, the oldest dropped) while setupLoggingAsync's
// questions are out, and go where it chose once they return. A log location at a name
// still to be made below a sticky directory (/tmp, emptied at boot) can be a user's FUSE
// mount whose server reads each request and answers none: the thread that asked waits
// for good, SIGKILL included, and the start that waited on it gave no report (a
// hostile-user audit, 2026-12-06). The check is counted by holdExit, so that an exit
// meanwhile ends the process by SIGKILL rather than join that thread for ever.
// At a stop or a crash with that check still out past half the time the exit gives the
// records, they go to the next location by the same rules (the locations after the one
// being checked), which says why: they went to stderr, /dev/null under LIM, and were lost
// without a word (2026-12-06, lost71).
export function setupLoggingBeside(
  config: LogConfig,
  options: { host: string; env?: NodeJS.ProcessEnv; logdirFrom?: string | undefined; stderrIsTty?: boolean; name?: string },
): PendingLog {
  const level = config.level === 'silent' ? 'fatal' : config.level;
  let chosen: LogSetup | undefined;
  let pending: string[] = [];
  let pendingBytes = 0;
  let dropped = 0;
  let checking: LogTarget | undefined; // the location whose questions are out
  let stuck: LogTarget | undefined; // the location being checked when the fallback began
  let readied: LogSetup | undefined; // the fallback's location, open, not yet taken
  const write = (record: string): void => {
    if (chosen !== undefined) return chosen.write(record);
    pending.push(record);
    pendingBytes += record.length;
    while (pendingBytes > PENDING_LOG_BYTES && pending.length > 1) {
      pendingBytes -= pending.shift()!.length;
      dropped++;
    }
  };
  const log = createLogger({ level, name: options.name ?? 'lavarank', time: recordTime, write });
  const released = holdExit();
  // The first location to return is used; one returning after the fallback was taken is closed.
  const take = (setup: LogSetup): void => {
    if (chosen !== undefined) {
      void setup.close(0);
      return;
    }
    chosen = setup;
    if (readied !== undefined) void readied.close(0);
    readied = undefined;
    for (const record of pending) setup.write(record);
    pending = [];
    pendingBytes = 0;
    if (dropped > 0) log.warn(`${dropped} log lines were dropped while the log location was being checked`);
  };
  const ready = setupLoggingAsync(config, { ...options, trying: (target) => (checking = target) })
    .then(take, (err: unknown) => {
      if (chosen !== undefined) return;
      take(loggingTo({ candidates: [], chosen: undefined, skipped: [] }, undefined, config, options, options.stderrIsTty ?? stderrIsTerminal()));
      log.error({ err: errorMessage(err) }, 'the log location could not be chosen');
    })
    .finally(released);
  // The locations after the one still being checked, readied once the process begins to
  // end and taken by settle (see there); counted by holdExit, as the check is.
  let fallback: Promise<void> | undefined;
  const fallBack = (): Promise<void> => {
    if (fallback !== undefined) return fallback;
    if (chosen !== undefined) return Promise.resolve();
    stuck = checking;
    const releasedFallback = holdExit();
    fallback = setupLoggingAsync(config, { ...options, ...(stuck === undefined ? {} : { after: stuck }) })
      .then(
        (setup) => {
          // stderr, the last location or none writable, is settle's own last resort: taken
          // here it beat a location merely slow (a crash's line lost to /dev/null at a CI load).
          if (setup.target.kind === 'stderr') return;
          if (chosen !== undefined) void setup.close(0);
          else readied = setup;
        },
        () => undefined, // setupLoggingAsync rejects only for a bug of its own: settle says the records are lost
      )
      .finally(releasedFallback);
    return fallback;
  };
  // The next location readied, where none was chosen meanwhile, with one line that says why.
  const takeFallback = (): void => {
    const setup = readied;
    if (setup === undefined || chosen !== undefined) return;
    readied = undefined;
    const kept = pending.length;
    take(setup);
    const where = stuck === undefined ? 'the log location' : `the log location ${stuck.path ?? 'stderr'} (${stuck.why})`;
    log.warn({ skipped: setup.skipped }, `${where} was still being checked when the elim began to exit (a file system that does not answer?): the ${kept} records kept meanwhile are written here, the next location`);
  };
  // Waits for the location being checked for the first half of timeoutMs, then for it or
  // the next location, readied meanwhile, until timeoutMs; closes the one taken within what
  // is left. Records still waiting then go to stderr, with one line that says so. The next
  // location taken as soon as it opened beat a location merely slow: a crash's line, and the
  // records kept, went to the next one for a log.file 40 directories deep (checked in 120
  // ms; 10 crashes of 10, 2026-12-07), and a CI run's to /var/log/lavarank.
  const settle = async (timeoutMs: number): Promise<void> => {
    const began = monotonicMs();
    let timer: NodeJS.Timeout | undefined;
    const until = async (ms: number, ...events: Array<Promise<unknown>>): Promise<void> => {
      await Promise.race([...events, new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)))]);
      clearTimeout(timer);
    };
    const opening = fallBack();
    await until(timeoutMs / 2, ready);
    takeFallback();
    if (chosen === undefined) {
      const fellBack = opening.then(() => {
        takeFallback();
        return chosen === undefined ? ready : undefined;
      });
      await until(Math.max(0, timeoutMs - (monotonicMs() - began)), ready, fellBack);
    }
    if (chosen === undefined) {
      const where = checking === undefined ? '' : ` of ${checking.path ?? 'stderr'} (${checking.why})`;
      log.error({ lines: pending.length }, `${pending.length} log records are lost: the check${where} had not returned, and no other log location could be opened, within the ${timeoutMs} ms the exit gives them; written to stderr`);
      for (const record of pending.splice(0)) stderrWriter(stderrIsTerminal())(record);
    }
    await chosen?.close(Math.max(0, timeoutMs - (monotonicMs() - began)));
  };
  // With the error's stack, as the log file's own fatal line (loggingTo's fatalRecord).
  const fatalRecord = (message: string, err: unknown): void => log.fatal({ err: errorMessage(err), stack: err instanceof Error ? err.stack : undefined }, message);
  return {
    log,
    ready,
    get target() {
      return chosen?.target ?? { kind: 'stderr', why: 'the log location is being checked' };
    },
    get skipped() {
      return chosen?.skipped ?? [];
    },
    get appender() {
      return chosen?.appender;
    },
    isReady: () => chosen !== undefined,
    ending: () => void fallBack(),
    write,
    close: (timeoutMs = 500) => settle(timeoutMs),
    fatalNow: (message, err) => (chosen === undefined ? fatalRecord(message, err) : chosen.fatalNow(message, err)),
    fatalLast: async (message, err, timeoutMs) => {
      if (chosen !== undefined) return chosen.fatalLast(message, err, timeoutMs);
      fatalRecord(message, err);
      await settle(timeoutMs);
    },
  };
}

// What setupLoggingBeside gives: a LogSetup whose location is still being chosen until ready.
export interface PendingLog extends LogSetup {
  ready: Promise<void>; // the location chosen, and the records that waited written there
  isReady(): boolean;
  // The process begins to end: a location still being checked is given up for the next
  // one (see close), readied now, so that the stop's last steps find it open.
  ending(): void;
}

// The records a log whose location is being chosen keeps: about a thousand lines.
const PENDING_LOG_BYTES = 256 * 1024;

// The target of a log with no location it could write.
const NO_LOCATION = 'no log location writable';

// The logger writing to the location chosen (opened: its file, opened by the chooser).
function loggingTo(choice: LogChoice, opened: { fd: number; stats: Stats } | undefined, config: LogConfig, options: { name?: string }, tty: boolean): LogSetup {
  // Why the program stops is logged at any level, silent included: under LIM stderr
  // is closed, and an elim that ends without a trace is restarted every 90 s unseen.
  const level = config.level === 'silent' ? 'fatal' : config.level;
  const skipped = choice.skipped.map((s) => `${s.target.path} (${s.target.why}): ${s.why}`);
  const target = choice.chosen;
  if (target?.kind === 'stderr') {
    const log = stderrLogger(level, options.name, tty);
    const fatalNow = (m: string, e: unknown): void => log.fatal({ err: errorMessage(e) }, m);
    return { log, target, skipped, write: stderrWriter(tty), close: async () => undefined, fatalNow, fatalLast: async (m, e) => fatalNow(m, e) };
  }
  if (target !== undefined) {
    const path = target.path!;
    let log: Logger | undefined;
    const appender = new RotatingAppender({
      path,
      maxBytes: config.max_bytes,
      keep: config.keep,
      fileMode: LOG_FILE_MODE,
      directoryProblems: logDirectoryProblems,
      directoryProblemsAsync: logDirectoryProblemsAsync,
      ...(opened === undefined ? {} : { opened }),
      onTrouble: (event) => {
        // The log itself cannot carry these messages; stderr is the best remaining channel.
        const stderr = (): Logger => stderrLogger(level, options.name);
        if (event.state === 'failing') stderr().error({ path, err: errorMessage(event.error) }, 'cannot write the log file; retrying later');
        else if (event.state === 'dropping') stderr().warn({ path }, 'log lines queued past the memory bound; dropping the oldest');
        else if (event.state === 'lost') stderr().error({ path, lines: event.lines }, `${event.lines} log lines could not be written and are lost`);
        else log?.warn({ dropped: event.dropped }, `log file ${path} writable again; ${event.dropped} lines were lost`);
      },
    });
    log = createLogger({ level, name: options.name ?? 'lavarank', time: recordTime, write: (s: string) => appender.append(s) });
    const fatalRecord = (message: string, err: unknown): string => {
      const record = {
        level: 'fatal',
        time: isoTime(Date.now()),
        pid: process.pid,
        hostname: hostname(), // as pino names it in every other record
        name: options.name ?? 'lavarank',
        err: errorMessage(err),
        stack: err instanceof Error ? err.stack : undefined,
        msg: message,
      };
      return JSON.stringify(record);
    };
    const fatalNow = (message: string, err: unknown): void => appender.writeNow(fatalRecord(message, err));
    const fatalLast = async (message: string, err: unknown, timeoutMs: number): Promise<void> => {
      if (appender.isOpen) return fatalNow(message, err);
      appender.append(`${fatalRecord(message, err)}\n`);
      await appender.close(timeoutMs);
    };
    return { log, target, skipped, appender, write: (record) => appender.append(record), close: (timeoutMs = 500) => appender.close(timeoutMs), fatalNow, fatalLast };
  }
  // Nothing writable: stderr, which under LIM is /dev/null. Say so where it can be seen.
  const log = stderrLogger(level, options.name, tty);
  log.error({ skipped }, 'no log location is writable; logging to stderr');
  return {
    log,
    target: { kind: 'stderr', why: NO_LOCATION },
    skipped,
    write: stderrWriter(tty),
    close: async () => undefined,
    fatalNow: (m, e) => log.fatal({ err: errorMessage(e) }, m),
    fatalLast: async (m, e) => log.fatal({ err: errorMessage(e) }, m),
  };
}

// A logger for interactive subcommands: warnings and errors to stderr.
export function cliLogger(): Logger {
  return stderrLogger('warn');
}
