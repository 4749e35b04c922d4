// Site elims run as lavarank's children. OpenLava starts exactly one
// $LSF_SERVERDIR/elim, so a site that already has elims lists them under
// `elims:` and lavarank runs each one, reads its reports, and passes their latest
// values on in its own report. Each child is started without a shell, with
// lavarank's environment (LSF_RESOURCES and the rest as LIM set them), and only
// if its executable cannot be changed by another user, since lavarank runs it as
// root. A dead child is restarted with back-off; its values are dropped at once,
// and a live child's values are dropped once older than max_age.
//
// Dropping a value only leaves it out of lavarank's report: LIM keeps showing
// the last value it read for that name for as long as lavarank lives (an elim
// cannot report "unknown"). A site that knows which value is safe for its
// resource (0 free scratch, say) sets stale_value, and that value is reported
// for every name of a stale or dead child instead.
//
// Children are signalled by PID only, as LIM signals its elim: a grandchild a
// shell elim leaves behind is its own business, but it can no longer hold up
// close() by keeping the pipe open.
import { basename, isAbsolute } from 'node:path';
import type { Logger } from 'pino';
import type { Clock } from '../util/clock.js';
import { ElimReportParser, type ParseProblem, type ParseResult } from '../lsf/elim-parse.js';
import { ConfigError, errorMessage } from '../util/errors.js';
import { spawnLongRunning, type ChildProcess } from '../util/exec.js';
import { trustProblems } from '../util/trust.js';
import type { ExtraValues } from './report.js';

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
}

// The running set of child elims.
export interface ChildElims {
  values(): Array<[string, number]>; // the latest fresh values from all live children
  groups(): ExtraValues[]; // the same, per child, in config order
  close(): Promise<void>; // ends every child (SIGTERM, SIGKILL after 1 s) and waits
}

// Three missed reports of an elim reporting every 60 s, the usual INTERVAL in lsf.shared.
export const DEFAULT_MAX_AGE_S = 180;
// Restart delays: 10 s, doubling to 5 min; back to 10 s after a run of 5 min or more.
export const BACKOFF_MIN_MS = 10_000;
export const BACKOFF_MAX_MS = 300_000;
export const STABLE_RUN_MS = 300_000;
// A child that writes more than this per window is flooding: only its newest chunk is parsed.
export const FLOOD_BYTES = 256 * 1024;
export const FLOOD_WINDOW_MS = 10_000;
// After a child exits, how long its pipe may stay open (held by a grandchild) before it is cut.
const PIPE_GRACE_MS = 1_000;

const LABEL = /^[A-Za-z0-9_.-]{1,64}$/;
// Names remembered per child for stale_value, as many as the parser keeps.
const MAX_KNOWN_NAMES = 256;

const PROBLEM_TEXT: Record<ParseProblem, string> = {
  'bad-count': 'a token where a report count was due is not a count',
  'leftover-pairs': 'more pairs than the report count announced',
  'truncated-report': 'fewer pairs than the report count announced',
  'bad-name': 'a resource name that is not letters, digits and underscores',
  'bad-value': 'a value that is not a finite decimal number (dropped, not read as 0)',
  'oversized-token': `a token longer than 1024 bytes`,
  'too-many-names': 'more distinct resource names than lavarank keeps per child',
  'chunk-truncated': 'a single write too long to parse whole; only its end was read',
  'out-of-range': 'a value beyond what LIM\'s float holds (over 3.4e38; dropped, not passed on as infinity)',
};

interface Stamped {
  value: number;
  at: number; // clock.monotonic() when read
}

class Child {
  readonly values = new Map<string, Stamped>();
  readonly known = new Set<string>(); // every name this child has reported, for stale_value
  alive = false;
  parser = new ElimReportParser();
  needResync = false;
  floodTail: Uint8Array | undefined;
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
  ) {}
}

function validateSpecs(specs: readonly ChildElimSpec[]): Child[] {
  const problems: string[] = [];
  const children: Child[] = [];
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
    children.push(new Child(label, file ?? '', args, maxAge * 1000, stale));
  });
  if (problems.length > 0) throw new ConfigError(problems.join('; '), { problems });
  return children;
}

// Starts every child elim of `specs` and keeps them running until close() or signal.
// Throws ConfigError, before starting anything, if a spec is invalid.
export function startChildElims(specs: readonly ChildElimSpec[], options: ChildElimOptions): ChildElims {
  const children = validateSpecs(specs);
  const { log, clock } = options;
  const env = options.env ?? process.env;
  const reserved = options.reserved ?? ['rank'];
  const stop = new AbortController();
  const live = new Set<Promise<void>>(); // each started child until it has exited
  const onAbort = (): void => stop.abort();
  if (options.signal.aborted) stop.abort();
  else options.signal.addEventListener('abort', onAbort, { once: true });

  function apply(child: Child, result: ParseResult): void {
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

  function parseFloodTail(child: Child): void {
    if (child.floodTail === undefined) return;
    child.parser.resync();
    child.needResync = false;
    apply(child, child.parser.push(child.floodTail));
    child.floodTail = undefined;
  }

  function onChunk(child: Child, chunk: Uint8Array): void {
    if (!child.alive) return;
    const now = clock.monotonic();
    if (now - child.windowStart >= FLOOD_WINDOW_MS) {
      parseFloodTail(child);
      child.windowStart = now;
      child.windowBytes = 0;
    }
    child.windowBytes += chunk.length;
    if (child.windowBytes > FLOOD_BYTES) {
      // Bounded CPU: keep only the newest chunk, parsed when values are next read.
      if (!child.problemsLogged.has('flood')) {
        child.problemsLogged.add('flood');
        log.warn({ elim: child.label }, `child elim ${child.label} writes more than ${FLOOD_BYTES} bytes per ${FLOOD_WINDOW_MS / 1000} s; only its newest output is read`);
      }
      child.floodTail = chunk;
      child.needResync = true;
      return;
    }
    if (child.needResync) {
      child.parser.resync();
      child.needResync = false;
    }
    apply(child, child.parser.push(chunk));
  }

  // One run of a child, from the trust check to its exit; never throws.
  async function runOnce(child: Child): Promise<void> {
    const problems = trustProblems(child.file, `child elim ${child.label}`, { executable: true });
    if (problems.length > 0) {
      log.error({ elim: child.label, problems }, `child elim ${child.label} not started: ${problems.join('; ')}`);
      return;
    }
    let subprocess: ChildProcess;
    try {
      ({ child: subprocess } = await spawnLongRunning(child.file, child.args, { signal: stop.signal, env }));
    } catch (err) {
      if (stop.signal.aborted) return; // stopping: not started, on purpose
      log.error({ elim: child.label, err: errorMessage(err) }, `child elim ${child.label} could not be started`);
      return;
    }
    const settled = subprocess.then(
      () => undefined,
      () => undefined,
    );
    live.add(settled);
    void settled.finally(() => live.delete(settled));
    child.alive = true;
    child.parser = new ElimReportParser();
    child.needResync = false;
    child.floodTail = undefined;
    child.windowStart = clock.monotonic();
    child.windowBytes = 0;
    child.problemsLogged.clear();
    log.info({ elim: child.label, pid: subprocess.pid }, `child elim ${child.label} started`);
    subprocess.stdout?.on('data', (chunk: Uint8Array) => onChunk(child, chunk));
    subprocess.stdout?.on('error', (err) => {
      log.warn({ elim: child.label, err: errorMessage(err) }, `reading child elim ${child.label} failed`);
    });
    subprocess.once('exit', () => {
      child.alive = false;
      child.values.clear();
      child.floodTail = undefined;
      setTimeout(() => subprocess.stdout?.destroy(), PIPE_GRACE_MS).unref();
    });
    const result = await subprocess;
    // again here: a child that failed to spawn emits no 'exit'
    child.alive = false;
    child.values.clear();
    if (!stop.signal.aborted) {
      log.warn(
        { elim: child.label, exitCode: result.exitCode, signal: result.signal, reason: result.shortMessage },
        `child elim ${child.label} ended: ${result.shortMessage ?? `exit code ${String(result.exitCode)}`}`,
      );
    }
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

  for (const child of children) {
    void supervise(child).catch((err: unknown) => {
      log.error({ elim: child.label, err: errorMessage(err) }, `supervising child elim ${child.label} failed`);
    });
  }
  let closing: Promise<void> | undefined;

  const groups = (): ExtraValues[] => {
    const now = clock.monotonic();
    const taken = new Set(reserved);
    const out: ExtraValues[] = [];
    for (const child of children) {
      const pairs: Array<[string, number]> = [];
      const offer = (name: string, value: number): void => {
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
      if (child.alive) parseFloodTail(child);
      for (const [name, { at }] of child.values) if (!child.alive || now - at > child.maxAgeMs) child.values.delete(name);
      for (const [name, { value }] of child.values) offer(name, value);
      // LIM would keep showing a value left out; stale_value replaces it instead.
      if (child.staleValue !== undefined) {
        for (const name of child.known) if (!child.values.has(name)) offer(name, child.staleValue);
      }
      out.push({ source: child.label, pairs });
    }
    return out;
  };

  return {
    groups,
    values: () => groups().flatMap((g) => g.pairs.map(([name, value]): [string, number] => [name, value])),
    close() {
      closing ??= (async () => {
        stop.abort();
        options.signal.removeEventListener('abort', onAbort);
        // The children that run, not the supervisors: one still loading execa (more
        // than a second on a saturated host at nice 10) starts nothing once stopped.
        await Promise.all([...live]);
      })();
      return closing;
    },
  };
}
