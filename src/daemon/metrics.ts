// The optional metrics file (`metrics.textfile`): after every tick, the rank, each
// feature's raw value and the host's cores, the model, how long the tick took and
// the failure counters, in Prometheus's text format, for node_exporter's textfile
// collector (--collector.textfile.directory). The file is replaced by a rename, so
// the collector never reads half of it, and written asynchronously, its directory
// reached first by an asynchronous stat: a slow or hung disk delays only the metrics
// (a tick is skipped while a write is pending), never a report.
import { closeSync } from 'node:fs';
import { lstat, readdir, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { Logger } from '../util/logger.js';
import type { CollectorName } from '../collectors/types.js';
import { replaceFileAsync, tempFilePid } from '../util/atomic-file.js';
import { existingDirectoryProblems, existingDirectoryProblemsAsync, holdDirectoryAsync } from '../util/trust.js';
import { errorMessage } from '../util/errors.js';
import { processAlive } from '../util/exec.js';
import { holdExit } from '../util/exit.js';
import { reachOffLoop } from '../util/paths.js';
import type { Tick, TickState } from './elim.js';
import type { CollectorStats } from './sampler.js';
import { monotonicMs } from '../util/clock.js';

// Counts kept across ticks, since the daemon started.
export interface MetricsCounters {
  ticks: number;
  sampleFailures: number; // ticks whose sample or ranking failed (held or pessimistic rank)
  pessimistic: number; // reports of the pessimistic rank
  unread: number; // reports LIM did not read (dropped, or replaced by a newer one)
  metricsSkipped: number; // ticks whose metrics were not written: the previous write was pending
}

// Everything one metrics file says.
export interface MetricsSnapshot {
  resource: string;
  version: string;
  tick: Tick;
  model: string | undefined; // the model of the last good rank
  counters: MetricsCounters;
  collectors: Partial<Record<CollectorName, CollectorStats>>;
  outputs?: OutputsFailing;
}

// Whether writing each of the elim's own files fails now, for those it writes.
export type OutputsFailing = Partial<Record<'log' | 'history', boolean>>;

// Why root must not write the metrics file in dir (see existingDirectoryProblems: the
// writer never makes the directory, so one still to be made in /tmp could be another
// user's link by the time of the write): asked by the daemon at start and before every
// write, and by check. logGroup as directoryProblems takes it; the daemon reads
// /etc/group once, not at every report.
export function metricsDirectoryProblems(dir: string, logGroup?: { logGroup: number | undefined }): string[] {
  return existingDirectoryProblems(dir, 'metrics directory', logGroup ?? {});
}

// metricsDirectoryProblems with the walk in libuv's pool, for the check before each write.
// signal aborted (the writer closed): rejects before the walk's next question.
export function metricsDirectoryProblemsAsync(dir: string, logGroup?: { logGroup: number | undefined }, signal?: AbortSignal): Promise<string[]> {
  return existingDirectoryProblemsAsync(dir, 'metrics directory', { ...(logGroup ?? {}), ...(signal === undefined ? {} : { signal }) });
}

const STATES: readonly TickState[] = ['ok', 'held', 'pessimistic'];

// A label value as the text format writes it: backslash, double quote and newline escaped.
function labelValue(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

function sampleValue(value: number): string {
  if (Number.isNaN(value)) return 'NaN';
  if (value === Infinity) return '+Inf';
  if (value === -Infinity) return '-Inf';
  return String(value);
}

type Labels = Record<string, string>;

// One metric family: HELP, TYPE and its samples, in the text format.
function family(name: string, type: 'gauge' | 'counter', help: string, samples: ReadonlyArray<readonly [Labels, number]>): string[] {
  if (samples.length === 0) return [];
  return [
    `# HELP ${name} ${help.replace(/\\/g, '\\\\').replace(/\n/g, '\\n')}`,
    `# TYPE ${name} ${type}`,
    ...samples.map(([labels, value]) => {
      const pairs = Object.entries(labels).map(([k, v]) => `${k}="${labelValue(v)}"`);
      return `${name}${pairs.length === 0 ? '' : `{${pairs.join(',')}}`} ${sampleValue(value)}`;
    }),
  ];
}

// The metrics file's text for one tick. Pure. An unavailable feature (no GPU, no
// PSI) has no sample rather than a number that would read as "idle".
export function formatMetrics(s: MetricsSnapshot): string {
  const { tick, counters } = s;
  const features = Object.entries(tick.result?.features ?? {}).filter((e): e is [string, number] => typeof e[1] === 'number');
  const collectors = Object.entries(s.collectors) as Array<[string, CollectorStats]>;
  const outputs = Object.entries(s.outputs ?? {}) as Array<[string, boolean]>;
  const lines = [
    ...family('lavarank_rank', 'gauge', 'The rank last reported to LIM: predicted slowdown in percent of a job started on this host now.', [[{ resource: s.resource }, tick.rank]]),
    ...family('lavarank_report_state', 'gauge', 'How the last rank was found: ok (sampled), held (sample failed, last good rank), pessimistic.', STATES.map((st) => [{ state: st }, tick.state === st ? 1 : 0] as const)),
    ...family('lavarank_feature', 'gauge', "Each raw value the model reads (its inputs before scaling, and the host's cores) in the last good sample; absent when unavailable.", features.map(([name, v]) => [{ feature: name }, v] as const)),
    ...family('lavarank_model_info', 'gauge', 'The model that ranks this host (1).', s.model === undefined ? [] : [[{ model: s.model }, 1]]),
    ...family('lavarank_build_info', 'gauge', 'The lavarank version and Node.js running the elim (1).', [[{ version: s.version, node: process.version }, 1]]),
    ...family('lavarank_sample_duration_seconds', 'gauge', 'Time the last tick took to sample the host, rank it and write the report.', [[{}, tick.durationMs / 1000]]),
    ...family('lavarank_collector_duration_seconds', 'gauge', "Each collector's time in the last sample.", collectors.map(([name, st]) => [{ collector: name }, st.lastMs / 1000] as const)),
    ...family('lavarank_last_report_timestamp_seconds', 'gauge', 'When the last report was written (Unix time).', [[{}, tick.ts / 1000]]),
    ...family('lavarank_ticks_total', 'counter', 'Reports written since the elim started.', [[{}, counters.ticks]]),
    ...family('lavarank_sample_failures_total', 'counter', 'Ticks whose sample or ranking failed since the elim started.', [[{}, counters.sampleFailures]]),
    ...family('lavarank_pessimistic_reports_total', 'counter', 'Reports of the pessimistic rank since the elim started.', [[{}, counters.pessimistic]]),
    ...family('lavarank_collector_failures_total', 'counter', "Each collector's failures since the elim started.", collectors.map(([name, st]) => [{ collector: name }, st.failures] as const)),
    ...family('lavarank_reports_unread_total', 'counter', 'Reports LIM did not read (pipe full, or replaced by a newer one).', [[{}, counters.unread]]),
    // The log and the history say they failed only once there is room again, and the elim's
    // stderr is LIM's /dev/null: a full disk is otherwise seen by no one while it lasts.
    ...family('lavarank_output_failing', 'gauge', 'Whether writing the log or the history file fails now (1: a full disk or a refused directory; its lines wait in memory, the oldest dropped past a bound).', outputs.map(([name, failing]) => [{ output: name }, failing ? 1 : 0] as const)),
    ...family('lavarank_metrics_skipped_total', 'counter', 'Ticks whose metrics were not written because the previous write was still pending.', [[{}, counters.metricsSkipped]]),
  ];
  return `${lines.join('\n')}\n`;
}

// After a failed write the next is begun no sooner than this, then twice as long after
// each failure up to MAX_RETRY_MS, as the history appender retries. A refused
// directory was walked again at every tick: where fusectl is not mounted, a
// user's FUSE mount there behind 70 MB of their mount lines had each walk read mountinfo
// to its 64 MiB bound, 4.6 s of the elim's CPU in 20 s at a 1 s interval against 0.16 s
// (a hostile-user audit, 2026-12-06).
const FIRST_RETRY_MS = 10_000;
const MAX_RETRY_MS = 5 * 60_000;

// Keeps the counters and writes the file after each tick.
export class MetricsWriter {
  private readonly counters: MetricsCounters = { ticks: 0, sampleFailures: 0, pessimistic: 0, unread: 0, metricsSkipped: 0 };
  private model: string | undefined;
  private pending: Promise<void> | undefined;
  private failing = false;
  private retryAt = 0; // while failing, no write is begun before this (now())
  private retryMs: number;
  // Aborted by close() once its wait is over: a write still checking its directory stops
  // at the walk's next question and opens nothing (see close()).
  private readonly stopping = new AbortController();
  private swept = false; // whether the temp files a dead writer left were looked for

  constructor(
    private readonly options: {
      path: string;
      resource: string;
      version: string;
      log: Logger;
      write?: (path: string, text: string) => Promise<void>;
      // Why root must not write in the file's directory, asked before every write: one
      // still to be made when the daemon started may be someone else's by now. The file
      // is then written in the directory held open once it passed (holdDirectory).
      directoryProblems?: (dir: string) => string[];
      // directoryProblems with its walk's questions asked in libuv's pool; default directoryProblems.
      // signal is aborted at close(): the walk then rejects before its next question.
      directoryProblemsAsync?: (dir: string, signal: AbortSignal) => Promise<string[]>;
      logGroup?: number; // the syslog group's gid, for holdDirectory (read once, at start)
      // Reaches the directory off the event loop before that synchronous check; default
      // an asynchronous stat.
      probe?: (dir: string) => Promise<unknown>;
      retryMs?: number; // first retry after a failure; doubles up to 5 minutes, as the history's
      now?: () => number; // monotonic ms, for retry timing
    },
  ) {
    this.retryMs = options.retryMs ?? FIRST_RETRY_MS;
  }

  // Counts the tick and starts writing the file, unless the previous write is still pending.
  update(tick: Tick, collectors: Partial<Record<CollectorName, CollectorStats>>, outputs?: OutputsFailing): void {
    const c = this.counters;
    c.ticks++;
    if (tick.state !== 'ok') c.sampleFailures++;
    if (tick.state === 'pessimistic') c.pessimistic++;
    if (tick.outcome === 'dropped' || tick.outcome === 'replaced') c.unread++;
    if (tick.result !== undefined) this.model = tick.result.model;
    if (this.stopping.signal.aborted) return; // closed
    if (this.pending !== undefined) {
      c.metricsSkipped++;
      return;
    }
    if (this.failing && this.now() < this.retryAt) return;
    const text = formatMetrics({ resource: this.options.resource, version: this.options.version, tick, model: this.model, counters: { ...c }, collectors, ...(outputs === undefined ? {} : { outputs }) });
    const { path, log } = this.options;
    const dir = dirname(path);
    const check = this.options.directoryProblems;
    const write = this.options.write ?? (check === undefined ? replaceFileAsync : (p: string, t: string) => this.replaceInHeld(p, t));
    // The check walks the directory's path with lstat, on the event loop; a textfile
    // directory on a hung NFS server would stop the reports with it. Reached first off
    // the loop (the stat waits in libuv's pool, and the next ticks are skipped while it
    // does), the check then meets the attributes the kernel has just read.
    const attempt =
      check === undefined
        ? write(path, text)
        : (this.options.probe ?? reachOffLoop)(dir)
            .catch(() => undefined) // missing or unreadable: the check and the write say why
            .then(async () => {
              const refusal = (await this.options.directoryProblemsAsync?.(dir, this.stopping.signal)) ?? check(dir);
              if (refusal.length > 0) throw new Error(refusal.join('; '));
              return write(path, text);
            });
    this.pending = attempt.then(
      () => {
        if (this.failing) log.info({ path }, 'metrics file writable again');
        this.failing = false;
        this.retryMs = this.options.retryMs ?? FIRST_RETRY_MS;
      },
      (err: unknown) => {
        if (this.stopping.signal.aborted) return; // stopped by close(): no failure of the file's
        if (!this.failing) log.error({ path, err: errorMessage(err) }, 'cannot write the metrics file; reports continue, retrying later');
        this.failing = true;
        this.retryAt = this.now() + this.retryMs;
        this.retryMs = Math.min(MAX_RETRY_MS, this.retryMs * 2);
      },
    );
    // Counted as a task that may never return: a write to a textfile directory on a
    // hung NFS server would otherwise hold the stopped elim's exit for ever.
    const release = holdExit();
    void this.pending.finally(() => {
      release();
      this.pending = undefined;
    });
  }

  private now(): number {
    return this.options.now?.() ?? monotonicMs();
  }

  // replaceFileAsync in the file's directory held open once it passed (holdDirectoryAsync:
  // opened in libuv's pool, as the file is written), not by its path again after the check.
  private async replaceInHeld(path: string, text: string): Promise<void> {
    const held = await holdDirectoryAsync(dirname(path), 'metrics directory', { logGroup: this.options.logGroup, signal: this.stopping.signal });
    if ('problems' in held) throw new Error(held.problems.join('; '));
    try {
      if (!this.swept) {
        this.swept = true;
        await this.removeStale(held.path, basename(path));
      }
      this.stopping.signal.throwIfAborted(); // closed meanwhile: no file is made
      await replaceFileAsync(path, text, held.path);
    } finally {
      closeSync(held.fd);
    }
  }

  // Removes, in the held directory dir, the temp files of name (tempFilePid) whose process
  // has ended: a forced exit's SIGKILL between a replace's open and its rename left one
  // there for good (2 runs of 14 at a load of 25, stop70), which nothing removed. Only
  // that pattern, only a regular file of lavarank's user (unlink removes a link, never
  // what it points to), never a live process's.
  private async removeStale(dir: string, name: string): Promise<void> {
    const signal = this.stopping.signal;
    const own = process.geteuid?.() ?? 0;
    const removed: number[] = [];
    try {
      for (const entry of await readdir(dir)) {
        const pid = tempFilePid(entry, name);
        if (pid === undefined || pid === process.pid || processAlive(pid)) continue;
        signal.throwIfAborted();
        const st = await lstat(join(dir, entry));
        if (!st.isFile() || st.uid !== own) continue;
        signal.throwIfAborted();
        await unlink(join(dir, entry));
        removed.push(pid);
      }
    } catch (err) {
      signal.throwIfAborted();
      this.options.log.warn({ err: errorMessage(err) }, `the temp files a stopped elim left beside the metrics file could not all be removed`);
    }
    if (removed.length > 0) this.options.log.info({ pids: removed }, `removed ${removed.length} temp files left beside the metrics file by elims that ended in the middle of a write`);
  }

  // Resolves when no write is pending, or after timeoutMs.
  async idle(timeoutMs: number): Promise<void> {
    if (this.pending === undefined) return;
    await Promise.race([this.pending, new Promise((resolve) => setTimeout(resolve, timeoutMs).unref())]);
  }

  // Waits for a pending write (idle), then closes, for a clean stop: no write is begun
  // after it, and one still checking its directory stops at the walk's next question. That
  // write is counted by holdExit, and its ~20 round trips of the event loop (the walk and
  // the held directory's) outlived the exit's 200 ms wait at a load of 20, ending the
  // stopped elim by SIGKILL. One already writing its file goes on (a few questions, as before).
  async close(timeoutMs = 300): Promise<void> {
    await this.idle(timeoutMs);
    this.stopping.abort();
  }
}
