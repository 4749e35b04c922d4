// NVIDIA GPU utilisation and memory, from nvidia-smi run in the background on its
// own slower cadence. nvidia-smi can hang for seconds to minutes when the driver is
// wedged (a GPU fallen off the bus, a driver reload), so the tick never waits for
// it: collect() returns the latest result the background query left behind.
import type { Logger } from '../util/logger.js';
import { systemClock, type Clock } from '../util/clock.js';
import { CollectorError, errorMessage } from '../util/errors.js';
import { LAUNCHER, findExecutableAsync, runIsolated, type RunResult } from '../util/exec.js';
import { holdExit } from '../util/exit.js';
import { badLine, fraction, toNumber } from './text.js';
import type { Collector, GpuReading } from './types.js';

const NAME = 'gpu';

// The arguments lavarank passes to nvidia-smi; a fake nvidia-smi in tests gets the same.
export const GPU_QUERY_ARGS: readonly string[] = [
  '--query-gpu=utilization.gpu,memory.used,memory.total',
  '--format=csv,noheader,nounits',
];

// What checkProgram says about a program.
export interface ProgramCheck {
  problems: string[];
  path: string | undefined; // the resolved path to execute when problems is empty
}

// The config's three-way switch for GPU polling.
export type GpuEnabled = 'auto' | 'true' | 'false';

// How the GPU collector runs; the lead's config file maps onto these.
export interface GpuOptions {
  // auto: use nvidia-smi if it is there, silently unavailable otherwise; true: a GPU is
  // expected, so failures reach sample.failures; false: never run anything.
  enabled?: GpuEnabled | boolean;
  command?: string; // default nvidia-smi, found on PATH
  intervalMs?: number; // between queries, default 30 s
  timeoutMs?: number; // per query, default 10 s; then SIGKILL to its process group
  staleAfterMs?: number; // a result older than this is not used, default 3 intervals
  missingRetryMs?: number; // retry interval while the command is not found, default 10 min
  signal?: AbortSignal; // the daemon's: aborting it kills a query in flight
  log?: Logger;
  clock?: Clock; // stamps results with clock.monotonic(), the time base of collect()
  // Vets the program found for `command` (lavarank runs as root: a program other
  // users can change must never run): the problems that forbid running it ([] when
  // it may run) and the path to execute, resolved by that same check, so that a
  // symbolic link swapped after the check cannot change what runs. The caller
  // decides what is trusted, so collectors need no knowledge of the daemon's rules.
  // Required unless enabled is false.
  checkProgram?: (path: string) => ProgramCheck | Promise<ProgramCheck>;
}

// What nvidia-smi prints for a field the board or its mode does not give (utilisation
// of a GPU in MIG mode is [N/A]); any other bracketed value is an error.
const ABSENT = /^\[(Not Supported|N\/A)\]$/;

// One GPU as nvidia-smi printed it; a field is absent where it printed [Not Supported] or
// [N/A]. A GPU in trouble prints an error in place of a value ([GPU requires reset],
// [Unknown Error]): its row holds that error alone, as "<index>: <error>", and no value,
// since read as a field it does not report it would pass for an idle GPU.
export interface GpuRow {
  utilPercent?: number;
  memUsedMiB?: number;
  memTotalMiB?: number;
  fault?: string;
}

// One line of the csv output as a GPU's row, the GPU at position `index` of nvidia-smi's list.
function parseRow(line: string, lineNo: number, index: number, file: string): GpuRow {
  const cells = line.split(',').map((c) => c.trim());
  if (cells.length !== 3) throw badLine(NAME, file, lineNo, line, `expected 3 comma-separated values, found ${cells.length}`);
  // Printable and short only, since the log and check's terminal output quote it as it is.
  const error = cells.find((cell) => !ABSENT.test(cell) && /^\[[\x20-\x5c\x5e-\x7e]{1,100}\]$/.test(cell));
  if (error !== undefined) return { fault: `${index}: ${error}` };
  const values = cells.map((cell) => {
    if (ABSENT.test(cell)) return undefined;
    const v = toNumber(cell);
    if (v === undefined || v < 0) throw badLine(NAME, file, lineNo, line, `"${cell}" is neither a number nor [Not Supported]`);
    return v;
  });
  const row: GpuRow = {};
  if (values[0] !== undefined) row.utilPercent = values[0];
  if (values[1] !== undefined) row.memUsedMiB = values[1];
  if (values[2] !== undefined) row.memTotalMiB = values[2];
  return row;
}

// Parses the csv,noheader,nounits output: one "util, used, total" line per GPU, in
// nvidia-smi's index order. `unreachable`, where given, takes a line that stands in for a
// GPU's row (and its place in that order) instead of the parser refusing it.
export function parseNvidiaSmi(text: string, file = 'nvidia-smi output', unreachable?: (line: string) => boolean): GpuRow[] {
  const rows: GpuRow[] = [];
  let index = 0;
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] ?? '';
    if (line.trim() === '') continue;
    if (unreachable?.(line.trim()) !== true) rows.push(parseRow(line, i + 1, index, file));
    index++;
  }
  return rows;
}

// The rows of GPUs that gave their values, and the named errors of those in trouble.
export function splitFaults(rows: readonly GpuRow[]): { healthy: GpuRow[]; faults: string[] } {
  return { healthy: rows.filter((r) => r.fault === undefined), faults: rows.flatMap((r) => (r.fault === undefined ? [] : [r.fault])) };
}

// The line nvidia-smi prints in place of a GPU's row when it cannot reach that GPU, going
// on with the others and exiting 15: "Unable to determine the device handle for GPU
// 0000:3B:00.0: GPU is lost. Reboot the system to recover this GPU" (or "...: Unknown
// Error"; some versions write "gpu", or no space before the bus id). Printable and short
// only, since the log and check's terminal output quote it as it is.
const UNREACHABLE = /^Unable to determine the device handle for gpu ?([0-9a-f]{4,8}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-9a-f]): ([\x20-\x7e]{1,200})$/i;

// The output of a failed query whose every line is either a GPU's whole row or the line
// of a GPU nvidia-smi could not reach, with at least one such line or one GPU in trouble:
// the rows, and each unreachable GPU as "bus id: what nvidia-smi said". Undefined for any
// other output (neither, no row, a line of another kind, a row the parser refuses): then
// the query has failed as a whole.
export function parseNvidiaSmiPartial(stdout: string, stderr: string, file = 'nvidia-smi output'): { rows: GpuRow[]; lost: string[] } | undefined {
  const lost: string[] = [];
  const isLost = (line: string): boolean => {
    const m = UNREACHABLE.exec(line);
    if (m !== null) lost.push(`${m[1] ?? ''}: ${m[2] ?? ''}`);
    return m !== null;
  };
  if (stderr.split('\n').some((line) => line.trim() !== '' && !isLost(line.trim()))) return undefined;
  try {
    const rows = parseNvidiaSmi(stdout, file, isLost);
    // Whole rows alone explain a failure only where one names a GPU in trouble.
    return rows.length === 0 || (lost.length === 0 && rows.every((r) => r.fault === undefined)) ? undefined : { rows, lost };
  } catch {
    return undefined; // not whole rows: the caller's failure names the output
  }
}

// The reading for a set of GPUs: mean and max utilisation, and the fullest GPU's memory.
export function summarizeGpus(rows: GpuRow[], ageMs: number): GpuReading {
  const utils = rows.flatMap((r) => (r.utilPercent === undefined ? [] : [fraction(r.utilPercent / 100)]));
  const mems = rows.flatMap((r) =>
    r.memUsedMiB === undefined || r.memTotalMiB === undefined || !(r.memTotalMiB > 0) ? [] : [fraction(r.memUsedMiB / r.memTotalMiB)],
  );
  const out: GpuReading = { count: rows.length, ageMs };
  if (utils.length > 0) {
    out.utilMean = utils.reduce((a, b) => a + b, 0) / utils.length;
    out.utilMax = Math.max(...utils);
  }
  if (mems.length > 0) out.memUsedFraction = Math.max(...mems);
  return out;
}

// The last query's result that gave rows: when it ended (monotonic ms), its GPUs, and
// those it could not reach.
export interface GpuResult {
  at: number;
  rows: GpuRow[];
  lost?: string[];
}

// The GPUs' reading at monotonicMs from the last query's result; undefined where there
// is none, it listed no GPU, or it is older than staleAfterMs (collect() then says why).
export function freshGpuReading(latest: GpuResult | undefined, monotonicMs: number, staleAfterMs: number): GpuReading | undefined {
  if (latest === undefined) return undefined;
  const ageMs = Math.max(0, monotonicMs - latest.at);
  if (!(ageMs <= staleAfterMs && latest.rows.length > 0)) return undefined;
  const reading = summarizeGpus(latest.rows, ageMs);
  return latest.lost === undefined ? reading : { ...reading, lost: latest.lost };
}

function positive(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isFinite(value) || value <= 0) {
    throw new TypeError(`gpu.${name} must be a positive number of milliseconds, received ${String(value)}`);
  }
  return value;
}

function normalizeEnabled(value: GpuOptions['enabled']): GpuEnabled {
  if (value === undefined || value === 'auto') return 'auto';
  if (value === true || value === 'true') return 'true';
  if (value === false || value === 'false') return 'false';
  throw new TypeError(`gpu.enabled must be auto, true or false, received ${JSON.stringify(value)}`);
}

// The options checked, with their defaults: a TypeError names the first one that is wrong.
function gpuSettings(options: GpuOptions) {
  const enabled = normalizeEnabled(options.enabled);
  const command = options.command ?? 'nvidia-smi';
  if (command === '') throw new TypeError('gpu.command must be a command name or path, received ""');
  const vet = options.checkProgram;
  if (vet === undefined && options.enabled !== false && options.enabled !== 'false') {
    throw new TypeError('gpu.checkProgram must be a function that vets the program before it runs, received undefined');
  }
  const checkProgram = vet ?? ((): ProgramCheck => ({ problems: ['no gpu.checkProgram was given'], path: undefined }));
  const intervalMs = positive('intervalMs', options.intervalMs, 30_000);
  const timeoutMs = positive('timeoutMs', options.timeoutMs, 10_000);
  const staleAfterMs = positive('staleAfterMs', options.staleAfterMs, 3 * intervalMs);
  const missingRetryMs = positive('missingRetryMs', options.missingRetryMs, 600_000);
  return { enabled, command, checkProgram, intervalMs, timeoutMs, staleAfterMs, missingRetryMs };
}

// The first line of a failed nvidia-smi's output that is not a GPU's row, which says why:
// "NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver" (exit 9),
// "Failed to initialize NVML: Driver/library version mismatch", "Unable to determine the
// device handle for GPU 0000:3B:00.0: Unknown Error" (exit 15). Cut to 200 characters.
function explanation(output: string): string | undefined {
  const lines = output.split('\n').map((l) => l.trim()).filter((l) => l !== '');
  const line = lines.find((l) => l.split(',').length !== 3);
  return line === undefined || line.length <= 200 ? line : `${line.slice(0, 200)}...`;
}

// The most a query may print (a real nvidia-smi prints about 20 bytes a GPU, and a
// line of its own when it fails). Past it the query is ended and fails: at the 1 MiB
// default, 60 000 rows took the daemon from 47 to 68 MiB of RSS for good and held its
// reports up to 3.8 s at a 0.5 s interval while the output was joined and parsed.
const MAX_OUTPUT_BYTES = 64 * 1024;

// A command that cannot be started at all: not found on PATH, or the spawn's errno.
const NOT_RUNNABLE = /^Command failed with (ENOENT|EACCES|ENOTDIR)\b|^Command failed: .* (ENOENT|EACCES|ENOTDIR)$/;

// How long past its timeout a query may take to end before it is said to be stuck: the
// timeout's SIGKILL to its process group, and the reaping. A query ends only when the
// program has exited and its output is closed (a second after its exit, what it started
// is killed and the output closed); an nvidia-smi stuck in the kernel on a wedged driver
// (a GPU fallen off the bus), or an exec waiting on a file system that stopped
// answering, never exits, whatever the signal.
const STUCK_GRACE_MS = 3000;

// The command found on PATH (undefined: not installed), its check, and where it passed, the
// check of the launcher, env, by the same rule. Looked for and checked in libuv's pool
// where checkProgram is asynchronous (the daemon's): a user's FUSE server on the way that
// answers the pool and never the event loop held the reports and SIGTERM there. Counted by
// holdExit: a question that never returns would hold the stopped elim's exit.
async function vetCommand(
  command: string,
  checkProgram: (path: string) => ProgramCheck | Promise<ProgramCheck>,
): Promise<{ found: string | undefined; vetted: ProgramCheck | undefined; launcher: ProgramCheck | undefined }> {
  const release = holdExit();
  try {
    const found = await findExecutableAsync(command);
    const vetted = found === undefined ? undefined : await checkProgram(found);
    const launcher = vetted?.problems.length === 0 ? await checkProgram(LAUNCHER) : undefined;
    return { found, vetted, launcher };
  } finally {
    release();
  }
}

// How the command at `path` is started, given the launcher's check (undefined where it was
// not checked): by the launcher at the path its check resolved, or directly, and why.
export function launchVia(path: string | undefined, launcher: ProgramCheck | undefined): { launcherPath?: string; direct?: string } {
  if (launcher === undefined || path === undefined) return {};
  if (path.includes('=')) return { direct: `its path holds "=", which ${LAUNCHER} would take for a variable` };
  if (launcher.problems.length > 0) return { direct: `${LAUNCHER} refused: ${launcher.problems.join('; ')}` };
  if (launcher.path === undefined) return { direct: `${LAUNCHER} refused: the check resolved no path` };
  return { launcherPath: launcher.path };
}

// What a finished query gave: the rows of the GPUs read (with those not read, named, where
// some were not), the failure of a query that cannot be run at all, or why it gave nothing.
export type QueryVerdict =
  | { kind: 'read'; rows: GpuRow[] }
  | { kind: 'incomplete'; rows: GpuRow[]; lost: string[]; message: string }
  | { kind: 'missing'; problem: string }
  | { kind: 'failed'; message: string };

// The verdict on a query's result; throws the parser's CollectorError for a whole query's
// output that is not the csv asked for.
export function judgeQuery(result: RunResult, command: string): QueryVerdict {
  // Exited (not killed): one GPU fallen off the bus among several leaves the others' rows whole.
  const partial = result.failed && result.exitCode !== undefined ? parseNvidiaSmiPartial(result.stdout, result.stderr, `${command} output`) : undefined;
  // A GPU in trouble among healthy ones ([GPU requires reset] in its row) is named as a
  // lost one is; with no healthy GPU left the query has failed.
  const read = !result.failed ? { ...splitFaults(parseNvidiaSmi(result.stdout, `${command} output`)), lost: [] } : partial === undefined ? undefined : { ...splitFaults(partial.rows), lost: partial.lost };
  const unread = read === undefined ? [] : [...read.lost, ...read.faults];
  const named = unread.map((gpu) => `GPU ${gpu}`).join('; ');
  if (read !== undefined && read.healthy.length === 0 && read.faults.length > 0) return { kind: 'failed', message: `no GPU gives its values: ${named}` };
  if (read !== undefined && unread.length > 0) {
    const message = `${unread.length === 1 ? 'a GPU' : `${unread.length} GPUs`} cannot be reached, ${named}; the other ${read.healthy.length} ${read.healthy.length === 1 ? 'is' : 'are'} read`;
    return { kind: 'incomplete', rows: read.healthy, lost: unread, message };
  }
  if (!result.failed) return { kind: 'read', rows: read?.healthy ?? [] };
  if (NOT_RUNNABLE.test(result.reason ?? '')) return { kind: 'missing', problem: `${command} cannot be run: ${(result.reason ?? '').split('\n').pop() ?? ''}` };
  const why = (result.reason ?? 'failed').split('\n')[0] ?? 'failed';
  const said = explanation(`${result.stderr}\n${result.stdout}`);
  return { kind: 'failed', message: said === undefined ? why : `${why}; it printed: ${JSON.stringify(said)}` };
}

// Starts the background query (at once, then every intervalMs) and returns the
// collector that hands out its latest result. With enabled false nothing is run.
export function createGpuCollector(options: GpuOptions = {}): Collector<'gpu'> {
  const { enabled, command, checkProgram, intervalMs, timeoutMs, staleAfterMs, missingRetryMs } = gpuSettings(options);
  const clock = options.clock ?? systemClock;
  const log = options.log;

  // close() and the daemon's signal both end a query in flight.
  const controller = new AbortController();
  const signal = controller.signal;
  if (options.signal?.aborted === true) controller.abort();
  options.signal?.addEventListener('abort', () => controller.abort(), { once: true, signal });
  let timer: NodeJS.Timeout | undefined;
  let latest: GpuResult | undefined;
  let problem: string | undefined; // why the last query gave nothing
  let missingLogged = false;
  let launcherProblem: string | undefined; // why the last query was started without LAUNCHER
  let repeats = 0;
  // Resolved when the first query has ended, been said to be stuck, or been cancelled.
  let firstEnded = (): void => undefined;
  const first = new Promise<void>((resolve) => (firstEnded = resolve));

  function schedule(ms: number): void {
    if (signal.aborted) return;
    timer = setTimeout(() => void query(), ms);
    timer.unref(); // the daemon's own loop keeps the process alive, not this poller
  }

  function failed(message: string, what = 'GPU query failed'): void {
    if (message === problem) {
      repeats++;
      log?.debug({ collector: NAME, repeats }, `${what} again: ${message}`);
    } else {
      repeats = 0;
      log?.warn({ collector: NAME, command }, `${what}: ${message}`);
    }
    problem = message;
  }

  // The query's result, saying why (the log, and the failure with enabled true) once it is
  // still running STUCK_GRACE_MS past its timeout. No other query starts until it ends:
  // one every interval would leave one more process stuck each time.
  async function untilEnded<T>(run: Promise<T>): Promise<T> {
    const stuck = setTimeout(() => {
      if (!signal.aborted) failed(`${command} still running ${timeoutMs + STUCK_GRACE_MS} ms after it started, after its ${timeoutMs} ms timeout: it, or a program it started, does not end (stuck in the kernel on a wedged GPU driver?); no new query until it does`);
      firstEnded();
    }, timeoutMs + STUCK_GRACE_MS);
    stuck.unref();
    try {
      return await run;
    } finally {
      clearTimeout(stuck);
    }
  }

  async function query(): Promise<void> {
    let next = intervalMs;
    try {
      // Not installed (most CPU-only nodes): say so, starting no process.
      // lavarank runs as root: a program another user can change would run their
      // code as root, so it is refused as child elims are (checked at every query:
      // a chmod or a new file on PATH can change the answer). What runs is the path
      // the check resolved, not `found` again.
      const { found, vetted, launcher } = await vetCommand(command, checkProgram);
      if (signal.aborted) return; // shutting down
      const untrusted = vetted === undefined ? [] : vetted.path === undefined && vetted.problems.length === 0 ? ['the check resolved no path'] : vetted.problems;
      if (untrusted.length > 0) {
        next = missingRetryMs;
        const message = `${command} refused: ${untrusted.join('; ')}`;
        if (message !== problem) log?.error({ collector: NAME, command, retryMs: missingRetryMs }, `${message}; GPU features unavailable`);
        problem = message;
        return;
      }
      // Started by env where it passes (see IsolatedOptions.launcher): an exec of the
      // command that waits on its file system then holds env's process, not the reports.
      // Otherwise started directly, and a warning says why, once.
      const path = vetted?.path ?? found;
      const { launcherPath, direct } = launchVia(path, launcher);
      if (direct !== undefined && direct !== launcherProblem) {
        log?.warn({ collector: NAME, command, launcher: LAUNCHER }, `${command} is started directly (${direct}): an exec of it that waits on its file system would hold the reports`);
      }
      if (launcher !== undefined) launcherProblem = direct;
      const result =
        path === undefined
          ? { failed: true, reason: `Command failed with ENOENT: ${command} not found on PATH`, stdout: '', stderr: '', exitCode: undefined, timedOut: false }
          : await untilEnded(runIsolated(path, GPU_QUERY_ARGS, { timeoutMs, signal, maxBufferBytes: MAX_OUTPUT_BYTES, ...(launcherPath === undefined ? {} : { launcher: launcherPath }) }));
      if (signal.aborted) return; // shutting down: a cancelled query is no news
      const verdict = judgeQuery(result, command);
      if (verdict.kind === 'failed') {
        failed(verdict.message);
      } else if (verdict.kind === 'incomplete') {
        latest = { at: clock.monotonic(), rows: verdict.rows, lost: verdict.lost };
        failed(verdict.message, 'GPU query incomplete');
        missingLogged = false;
      } else if (verdict.kind === 'read') {
        latest = { at: clock.monotonic(), rows: verdict.rows };
        if (problem !== undefined) log?.info({ collector: NAME, command }, 'GPU query works again');
        problem = undefined;
        missingLogged = false;
      } else {
        next = missingRetryMs;
        problem = verdict.problem;
        if (!missingLogged) {
          const level = enabled === 'true' ? 'warn' : 'info';
          log?.[level]({ collector: NAME, command, retryMs: missingRetryMs }, `${problem}; GPU features unavailable`);
          missingLogged = true;
        }
      }
    } catch (err) {
      // A CollectorError of the parser already names this collector, as collect() will.
      if (!signal.aborted) failed(err instanceof CollectorError && err.collector === NAME ? err.message.slice(NAME.length + 2) : errorMessage(err));
    } finally {
      firstEnded();
      schedule(next);
    }
  }

  if (enabled !== 'false') void query();
  else firstEnded();

  return {
    name: NAME,
    collect(monotonicMs) {
      const reading = freshGpuReading(latest, monotonicMs, staleAfterMs);
      if (reading !== undefined) return reading;
      if (enabled !== 'true') return undefined;
      if (problem !== undefined) throw new CollectorError(NAME, problem);
      if (latest !== undefined && latest.rows.length === 0) throw new CollectorError(NAME, `${command} listed no GPU`);
      if (latest !== undefined) throw new CollectorError(NAME, `the last GPU result is older than ${staleAfterMs} ms`);
      return undefined; // first query still running
    },
    close() {
      if (timer !== undefined) clearTimeout(timer);
      controller.abort();
      firstEnded();
    },
    ready: () => first,
  };
}
