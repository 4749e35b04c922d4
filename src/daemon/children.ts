// Site elims run as lavarank's children. OpenLava starts exactly one
// $LSF_SERVERDIR/elim, so a site that already has elims lists them under
// `elims:` and lavarank runs each one, reads its reports, and passes their latest
// values on in its own report. Each child is started without a shell, with
// lavarank's environment (LSF_RESOURCES and the rest as LIM set them), and only
// if its executable, and every path an argument names by an absolute path
// (the script of [/bin/sh, /site/elim.sh]), cannot be changed or made by another user, since
// lavarank runs it as root. A dead child is restarted with back-off, and so is one that closed
// its stdout but runs on, which is ended first (as LIM does); its values are dropped at once,
// and a live child's values are dropped once older than max_age.
//
// Dropping a value only leaves it out of lavarank's report: LIM keeps showing
// the last value it read for that name for as long as lavarank lives (an elim
// cannot report "unknown"). A site that knows which value is safe for its
// resource (0 free scratch, say) sets stale_value, and that value is reported
// for every name of a stale or dead child instead. A dead child's String resource
// is reported '-', as LIM sets it when its own elim dies.
//
// Each child leads a process group of its own, and the whole group is ended
// (SIGTERM, then SIGKILL a second later) when the child exits, is restarted, or
// lavarank stops: a helper a child started cannot outlive it, even one that
// ignores SIGTERM (one that calls setsid() to leave the group can; see SECURITY.md).
// What is executed is the path the trust check resolved, checked right before each
// start, never the configured path again (a link there could have been swapped).
import { stat } from 'node:fs/promises';
import { basename, isAbsolute } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import type { Logger } from '../util/logger.js';
import type { Clock } from '../util/clock.js';
import { ElimReportParser, MAX_TEXT_BYTES, type ParseProblem, type ParseResult, type ResourceValue } from '../lsf/elim-parse.js';
import { selfReference } from '../lsf/wrapper.js';
import { ConfigError, errorMessage } from '../util/errors.js';
import { spawnGroup, type GroupProcess } from '../util/exec.js';
import { holdExit } from '../util/exit.js';
import { checkTrustAsync, type TrustVerdict } from '../util/trust.js';
import type { ExtraValues } from './report.js';
import { MAX_CHILD_ELIMS } from '../config/config.js';

// One entry of the config's `elims:` list.
export interface ChildElimSpec {
  name?: string; // for logs; default the executable's file name
  command: string[]; // argv; [0] is an absolute path
  max_age?: number; // seconds a value stays valid without a new report
  stale_value?: number; // reported instead of a stale or dead child's values; default: leave them out
}

// What startChildElims needs from the daemon.
export interface ChildElimOptions {
  log: Logger;
  signal: AbortSignal; // aborting ends every child, as close() does
  clock: Clock;
  env?: NodeJS.ProcessEnv; // the children's whole environment; default process.env
  reserved?: readonly string[]; // lavarank's own resource names, which no child may report
  textNames?: ReadonlySet<string>; // String resources (lsf.shared): their values are passed on as text
}

// The running set of child elims.
export interface ChildElims {
  values(): Array<[string, ResourceValue]>; // the latest fresh values from all live children
  groups(): ExtraValues[]; // the same, per child, in config order
  close(): Promise<void>; // ends every child's process group (SIGTERM, SIGKILL after STOP_GRACE_MS) and waits; final
  kill(): void; // SIGKILL to every child's process group at once, before a forced exit that cannot wait for close()
}

// Set in every child's environment to the daemon's pid: a lavarank started by
// lavarank (through any path) sees it and refuses to run, so that it cannot start
// itself again without end.
export const PARENT_ENV = 'LAVARANK_PARENT_PID';

// Three missed reports of an elim reporting every 60 s, the usual INTERVAL in lsf.shared.
export const DEFAULT_MAX_AGE_S = 180;
// Between SIGTERM and SIGKILL when lavarank stops: LIM gives lavarank 2 s in all,
// and a starved host (nice 10 under load) stretches every step of the shutdown.
export const STOP_GRACE_MS = 800;
// Restart delays: 10 s, doubling to 5 min; back to 10 s after a run of 5 min or more.
export const BACKOFF_MIN_MS = 10_000;
export const BACKOFF_MAX_MS = 300_000;
export const STABLE_RUN_MS = 300_000;
// A child that writes more than this between two reports (or within a window, if
// reports are further apart) is flooding: reading it stops until the next report,
// and only the end of its newest chunk is parsed. A site elim writes a few hundred
// bytes per report; parsing is what costs (about 15 ms per 64 KB in lite mode).
export const FLOOD_BYTES = 64 * 1024;
export const FLOOD_WINDOW_MS = 10_000;
// Of a flooding child's newest chunk, this much (its end) is parsed: room for a
// report of 256 pairs of long names.
export const FLOOD_TAIL_BYTES = 16 * 1024;
// How long a child whose stdout reached its end may take to exit before it is taken
// to have closed its output and run on: its exit and its end of file come together.
export const EXIT_AFTER_EOF_MS = 1000;

const LABEL = /^[A-Za-z0-9_.-]{1,64}$/;
// Names remembered per child for stale_value, as many as the parser keeps.
const MAX_KNOWN_NAMES = 256;

const PROBLEM_TEXT: Record<ParseProblem, string> = {
  'bad-count': 'a token where a report count was due is not a count',
  'leftover-pairs': 'more pairs than the report count announced',
  'truncated-report': 'fewer pairs than the report count announced',
  'bad-name': 'a resource name that is not letters, digits and underscores',
  'bad-value': 'a value that is not a finite decimal number (dropped, not read as 0; a String resource\'s text needs its TYPE String in lsf.shared)',
  'bad-text': `a String resource's value that is not printable ASCII of at most ${MAX_TEXT_BYTES} characters (dropped)`,
  'oversized-token': `a token longer than 1024 bytes`,
  'too-many-names': 'more distinct resource names than lavarank keeps per child',
  'chunk-truncated': 'a single write too long to parse whole; only its end was read',
  'out-of-range': 'a value beyond what LIM\'s float holds (over 3.4e38; dropped, not passed on as infinity)',
};

// What LIM itself sets a String resource to when its elim dies: unknown, '-' in lsload.
const UNKNOWN_TEXT = '-';

// A child elim's value and when it was read.
export interface Stamped {
  value: ResourceValue;
  at: number; // clock.monotonic() when read
}

// One child elim: its spec, its values and the state of its reading.
export class Child {
  readonly values = new Map<string, Stamped>();
  readonly known = new Set<string>(); // every name this child has reported, for stale_value
  alive = false;
  parser: ElimReportParser;
  needResync = false;
  floodTail: Uint8Array | undefined;
  paused = false; // reading stopped for the rest of the window: the child blocks on its pipe
  process: GroupProcess | undefined;
  windowStart = 0;
  windowBytes = 0;
  readonly problemsLogged = new Set<string>(); // in this run
  readonly clashesLogged = new Set<string>(); // ever
  constructor(
    readonly label: string,
    readonly file: string,
    readonly args: readonly string[],
    readonly maxAgeMs: number,
    readonly staleValue: number | undefined,
    readonly textNames: ReadonlySet<string>,
  ) {
    this.parser = new ElimReportParser(textNames);
  }
}

// Keeps a child's parsed values, stamped now on clock, and says each problem of its
// output once per run.
function apply(child: Child, result: ParseResult, clock: Pick<Clock, 'monotonic'>, log: Pick<Logger, 'warn'>): void {
  const at = clock.monotonic();
  for (const [name, value] of result.values) {
    child.values.set(name, { value, at });
    if (child.known.size < MAX_KNOWN_NAMES) child.known.add(name);
  }
  for (const problem of result.problems) {
    if (child.problemsLogged.has(problem)) continue;
    child.problemsLogged.add(problem);
    log.warn({ elim: child.label, problem }, `child elim ${child.label} wrote ${PROBLEM_TEXT[problem]}`);
  }
}

// Called once per report: parses what was kept of a flood and starts a new
// reading window, resuming a child whose reading was stopped.
export function newWindow(child: Child, clock: Pick<Clock, 'monotonic'>, log: Pick<Logger, 'warn'>): void {
  if (child.floodTail !== undefined) {
    const tail = child.floodTail;
    child.parser.resync();
    child.needResync = false;
    apply(child, child.parser.push(tail.subarray(Math.max(0, tail.length - FLOOD_TAIL_BYTES))), clock, log);
    child.floodTail = undefined;
  }
  child.windowStart = clock.monotonic();
  child.windowBytes = 0;
  if (child.paused) {
    child.paused = false;
    child.process?.stdout.resume();
  }
}

// Reads one chunk of a child's output: parsed, unless the child wrote more than
// FLOOD_BYTES in its window, when it is read no further until the next (newWindow).
export function readChunk(child: Child, chunk: Uint8Array, clock: Pick<Clock, 'monotonic'>, log: Pick<Logger, 'warn'>): void {
  if (!child.alive) return;
  if (clock.monotonic() - child.windowStart >= FLOOD_WINDOW_MS) newWindow(child, clock, log);
  child.windowBytes += chunk.length;
  if (child.windowBytes > FLOOD_BYTES) {
    // Bounded CPU and memory: stop reading until the next report (the child
    // blocks on its full pipe meanwhile) and keep only the newest chunk, which
    // is parsed then. Reading on at the pipe's speed cost a whole CPU.
    if (!child.problemsLogged.has('flood')) {
      child.problemsLogged.add('flood');
      log.warn({ elim: child.label, problem: 'flood' }, `child elim ${child.label} writes more than ${FLOOD_BYTES} bytes between two reports; it is read no further until the next, and only its newest output is read`);
    }
    child.floodTail = chunk;
    child.needResync = true;
    if (!child.paused) {
      child.paused = true;
      child.process?.stdout.pause();
    }
    return;
  }
  if (child.needResync) {
    child.parser.resync();
    child.needResync = false;
  }
  apply(child, child.parser.push(chunk), clock, log);
}

// Why the program of `command` must not be started, and the resolved path to
// execute when it may: the trust check of its whole path, and not lavarank itself.
// An argument that names a path by an absolute path is checked too (argumentProblemsAsync):
// with [/bin/sh, /site/elim.sh] the script is what runs, as root. Every lstat,
// readlink, statfs and stat of the walks is asked in libuv's pool, since a user's FUSE
// server on the way (their directory in $LSF_SERVERDIR, their name in /tmp) may answer
// the pool and never the event loop, whose walk then held the reports and SIGTERM for good. lavarank's own program is looked for
// (selfReference reads the file) only once every path passed: then they are root's.
// signal aborted: rejects with its reason at the walks' next question.
export async function childProgramAsync(command: readonly string[], what: string, signal?: AbortSignal): Promise<{ path: string | undefined; problems: string[] }> {
  const [file = '', ...args] = command;
  const verdict = await checkTrustAsync(file, what, { executable: true }, signal);
  const problems = [...verdict.problems];
  for (const [i, arg] of args.entries()) {
    if (isAbsolute(arg)) problems.push(...(await argumentProblemsAsync(arg, `${what}: its argument ${i + 1}`, signal)));
  }
  if (problems.length > 0 || verdict.real === undefined) return { path: undefined, problems };
  const self = selfReference(verdict.real, args);
  if (self !== undefined) return { path: undefined, problems: [startsItself(what, self)] };
  return { path: verdict.real, problems };
}

// The refusal of a child program that is lavarank itself (selfReference's reason).
function startsItself(what: string, self: string): string {
  return `${what}: ${self}; lavarank would start itself again and again (is this the old elim, replaced by install --force?)`;
}

// Why an argument naming `arg` by an absolute path must not be given to the program,
// whatever is there: the program may read it as code (sh a script, python3 a
// directory's __main__.py). A regular file and a directory pass the trust check as
// such; a device node (/dev/null, the /dev/sda of [smartctl, -A, /dev/sda]) by its
// owner and its path; anything else (a FIFO, whose writer sh would take commands from;
// a socket) is refused. A path that does not exist (a link to nothing included) is refused where anyone but root could
// make it (in their directory, or one others can write, /tmp): between the check and
// the moment the program opens it, they would; elsewhere it is checked again before
// every start.
// Its stat and walk are asked in libuv's pool (childProgramAsync).
async function argumentProblemsAsync(arg: string, what: string, signal?: AbortSignal): Promise<string[]> {
  const isDir = await stat(arg).then(
    (st) => st.isDirectory(),
    () => false, // missing, or not ours to see: the walk says which
  );
  return argumentVerdictProblems(arg, what, await checkTrustAsync(arg, what, isDir ? { directory: true } : { device: true }, signal));
}

// argumentProblemsAsync's judgement of the walk of arg.
function argumentVerdictProblems(arg: string, what: string, verdict: TrustVerdict): string[] {
  const missing = verdict.missing;
  if (missing === undefined) return verdict.problems;
  if (missing.problems.length > 0) return missing.problems;
  if (missing.shared) {
    return [`${what} ${arg} does not exist, and ${missing.dir}, where it would be, can be written by others: they could make it, a script of theirs, before the program opens it; create it there as root, or name a path in a directory only root can write`];
  }
  return []; // only root can make it: checked again before every start
}

function validateSpecs(specs: readonly ChildElimSpec[], textNames: ReadonlySet<string>): Child[] {
  const problems: string[] = [];
  const children: Child[] = [];
  if (specs.length > MAX_CHILD_ELIMS) problems.push(`elims: ${specs.length} child elims, at most ${MAX_CHILD_ELIMS}`);
  specs.forEach((spec, i) => {
    const where = `elims[${i}]`;
    const command = spec.command as unknown;
    if (!Array.isArray(command) || command.length === 0 || !command.every((a) => typeof a === 'string')) {
      problems.push(`${where}.command must be a non-empty list of strings, received ${JSON.stringify(command)}`);
      return;
    }
    const [file, ...args] = command as string[];
    if (file === undefined || !isAbsolute(file)) {
      problems.push(`${where}.command[0] must be an absolute path, received ${JSON.stringify(file)}`);
    }
    if (command.some((a: string) => a.includes('\0'))) problems.push(`${where}.command must not contain NUL bytes`);
    const maxAge = spec.max_age ?? DEFAULT_MAX_AGE_S;
    if (typeof maxAge !== 'number' || !Number.isFinite(maxAge) || maxAge <= 0) {
      problems.push(`${where}.max_age must be a positive number of seconds, received ${JSON.stringify(spec.max_age)}`);
    }
    const stale = spec.stale_value;
    if (stale !== undefined && (typeof stale !== 'number' || !Number.isFinite(stale))) {
      problems.push(`${where}.stale_value must be a finite number, received ${JSON.stringify(stale)}`);
    }
    const label = spec.name ?? basename(file ?? '');
    if (spec.name !== undefined && (typeof spec.name !== 'string' || !LABEL.test(spec.name))) {
      problems.push(`${where}.name must be 1 to 64 letters, digits, '.', '_' or '-', received ${JSON.stringify(spec.name)}`);
    }
    children.push(new Child(label, file ?? '', args, maxAge * 1000, stale, textNames));
  });
  if (problems.length > 0) throw new ConfigError(problems.join('; '), { problems });
  return children;
}

// What childGroups reads of a child elim, and prunes: its values, stamped on the clock.
export interface ChildValues {
  readonly label: string;
  readonly values: Map<string, Stamped>;
  readonly known: ReadonlySet<string>; // every name it has reported
  readonly alive: boolean;
  readonly maxAgeMs: number;
  readonly staleValue: number | undefined;
  readonly textNames: ReadonlySet<string>; // the String resources, whose text LIM keeps
  readonly clashesLogged: Set<string>; // the names already said to clash
}

// The values each child elim adds to a report at `now`, per child in priority order:
// its values no older than its max_age (renew first starts a live child's new reading
// window), then, for each name it reported before and has no value for now,
// stale_value or a dead child's String resource's '-'; a name that `reserved` or an
// earlier child reports is left out, said once per child and name.
export function childGroups<C extends ChildValues>(children: readonly C[], reserved: readonly string[], now: number, log: Pick<Logger, 'warn'>, renew: (child: C) => void): ExtraValues[] {
  const taken = new Set(reserved);
  const out: ExtraValues[] = [];
  for (const child of children) {
    const pairs: Array<[string, ResourceValue]> = [];
    const offer = (name: string, value: ResourceValue): void => {
      if (taken.has(name)) {
        if (!child.clashesLogged.has(name)) {
          child.clashesLogged.add(name);
          log.warn({ elim: child.label, name }, `child elim ${child.label} reports ${name}, which lavarank or an earlier child in elims: already reports; its value is ignored`);
        }
        return;
      }
      taken.add(name);
      pairs.push([name, value]);
    };
    if (child.alive) renew(child);
    for (const [name, { at }] of child.values) if (!child.alive || now - at > child.maxAgeMs) child.values.delete(name);
    for (const [name, { value }] of child.values) offer(name, value);
    // LIM would keep showing a value left out; stale_value replaces it instead (a
    // number: not for a String resource, whose last text LIM keeps while its elim
    // lives). A dead child's String resource is reported '-', the text LIM gives one
    // when its own elim dies (setUnkwnValues in lim.rload.c), so that select[os_state==ok]
    // stops matching a host whose health elim has died.
    if (child.staleValue !== undefined || !child.alive) {
      for (const name of child.known) {
        if (child.values.has(name)) continue;
        if (!child.textNames.has(name)) {
          if (child.staleValue !== undefined) offer(name, child.staleValue);
        } else if (!child.alive) offer(name, UNKNOWN_TEXT);
      }
    }
    out.push({ source: child.label, pairs });
  }
  return out;
}

// Readies a child for a run of proc started at now: alive, a fresh parser and reading
// window, nothing of its last run's output kept, its problems to be said again.
export function beginRun(child: Child, proc: GroupProcess, now: number): void {
  child.process = proc;
  child.alive = true;
  child.paused = false;
  child.parser = new ElimReportParser(child.textNames);
  child.needResync = false;
  child.floodTail = undefined;
  child.windowStart = now;
  child.windowBytes = 0;
  child.problemsLogged.clear();
}

// Marks a child's run ended: dead, its values gone (stale_value and '-' stand for them).
export function endRun(child: Child): void {
  child.alive = false;
  child.values.clear();
  child.floodTail = undefined;
}

// LIM takes the end of an elim's output as a protocol error: it ends the elim and
// starts it again (getusr, lim_pclose). A child that closed its stdout and runs on
// would otherwise report nothing for as long as lavarank lives, never restarted,
// and without a word in the log: proc, whose output reached its end, is ended unless it
// exits within EXIT_AFTER_EOF_MS or is no longer the child's.
export async function outputClosed(child: Pick<Child, 'label' | 'process'>, proc: Pick<GroupProcess, 'exited' | 'end'>, log: Pick<Logger, 'warn'>): Promise<void> {
  const exited = await Promise.race([
    proc.exited.then(() => true),
    // A real timer, not the daemon's clock: this waits on the kernel, not on a schedule.
    // Unreferenced, and no listener on a signal: close() ends the child anyway.
    delay(EXIT_AFTER_EOF_MS, false, { ref: false }),
  ]);
  if (exited || child.process !== proc) return;
  log.warn({ elim: child.label }, `child elim ${child.label} closed its output but runs on; ending it, to start it again`);
  await proc.end();
}

// Starts every child elim of `specs` and keeps them running until close() or signal.
// Throws ConfigError, before starting anything, if a spec is invalid.
export function startChildElims(specs: readonly ChildElimSpec[], options: ChildElimOptions): ChildElims {
  const children = validateSpecs(specs, options.textNames ?? new Set());
  const { log, clock } = options;
  const env = { ...(options.env ?? process.env), [PARENT_ENV]: String(process.pid) };
  const reserved = options.reserved ?? ['rank'];
  const stop = new AbortController();
  const live = new Set<Promise<void>>(); // each run of a child, from its start until its group is gone
  let closing: Promise<void> | undefined;

  // One run of a child, from the trust check until its whole group is gone; never
  // throws. Everything from the second look at `closing` up to spawnGroup is
  // synchronous, so a child is either started and in `live` before close() can look,
  // or not started at all.
  async function runOnce(child: Child): Promise<void> {
    if (closing !== undefined) return;
    // Checked right before every start: a chmod, a new link or a replaced
    // directory since the last start changes the answer. In libuv's pool: on an NFS
    // server that stops answering, or a user's FUSE server that answers only the pool,
    // the walk on the event loop held the reports and the SIGTERM handler. Counted by
    // holdExit: a question that never returns would hold the stopped elim's exit.
    const release = holdExit();
    let program: { path: string | undefined; problems: string[] };
    try {
      program = await childProgramAsync([child.file, ...child.args], `child elim ${child.label}`, stop.signal);
    } catch (err) {
      if (stop.signal.aborted) return;
      program = { path: undefined, problems: [`its check failed: ${errorMessage(err)}`] };
    } finally {
      release();
    }
    if (closing !== undefined) return;
    if (program.path === undefined) {
      log.error({ elim: child.label, problems: program.problems }, `child elim ${child.label} not started: ${program.problems.join('; ')}`);
      return;
    }
    const proc = spawnGroup(program.path, child.args, { env, argv0: child.file });
    const run = follow(child, proc);
    live.add(run);
    void run.finally(() => live.delete(run));
    return run;
  }

  async function follow(child: Child, proc: GroupProcess): Promise<void> {
    beginRun(child, proc, clock.monotonic());
    proc.stdout.on('data', (chunk: Uint8Array) => readChunk(child, chunk, clock, log));
    proc.stdout.on('error', (err) => {
      log.warn({ elim: child.label, err: errorMessage(err) }, `reading child elim ${child.label} failed`);
    });
    proc.stdout.once('end', () => void outputClosed(child, proc, log));
    if (proc.pid !== undefined) log.info({ elim: child.label, pid: proc.pid }, `child elim ${child.label} started`);
    const result = await proc.exited;
    endRun(child);
    if (closing === undefined) {
      log.warn(
        { elim: child.label, exitCode: result.exitCode, signal: result.signal, reason: result.reason },
        `child elim ${child.label} ended: ${result.reason}`,
      );
    }
    // What it started goes with it, before it is started again.
    await proc.end();
    proc.stdout.destroy();
    if (child.process === proc) child.process = undefined;
  }

  async function supervise(child: Child): Promise<void> {
    let backoff = BACKOFF_MIN_MS;
    while (!stop.signal.aborted) {
      const started = clock.monotonic();
      await runOnce(child);
      if (stop.signal.aborted) break;
      if (clock.monotonic() - started >= STABLE_RUN_MS) backoff = BACKOFF_MIN_MS;
      log.warn({ elim: child.label, restartInS: backoff / 1000 }, `child elim ${child.label} restarts in ${backoff / 1000} s`);
      try {
        await clock.sleep(backoff, stop.signal);
      } catch (err) {
        if (stop.signal.aborted) break;
        throw err;
      }
      backoff = Math.min(backoff * 2, BACKOFF_MAX_MS);
    }
  }

  const close = (): Promise<void> => {
    closing ??= (async () => {
      stop.abort();
      options.signal.removeEventListener('abort', onAbort);
      const ending = children.map((c) => c.process?.end(STOP_GRACE_MS));
      await Promise.all([...ending, ...live]);
    })();
    return closing;
  };
  const onAbort = (): void => void close();
  if (options.signal.aborted) void close();
  else {
    options.signal.addEventListener('abort', onAbort, { once: true });
    for (const child of children) {
      void supervise(child).catch((err: unknown) => {
        log.error({ elim: child.label, err: errorMessage(err) }, `supervising child elim ${child.label} failed`);
      });
    }
  }

  const groups = (): ExtraValues[] => childGroups(children, reserved, clock.monotonic(), log, (child) => newWindow(child, clock, log));

  // close() first, so that no child is started after this.
  const kill = (): void => {
    void close();
    for (const child of children) child.process?.kill();
  };

  return {
    groups,
    values: () => groups().flatMap((g) => g.pairs.map(([name, value]): [string, ResourceValue] => [name, value])),
    close,
    kill,
  };
}
