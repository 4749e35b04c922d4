// Runs every collector once per tick and assembles the Sample. Each collector runs on
// its own: one that throws leaves its part out, is named in sample.failures, and
// never stops the others. Synchronous, since every reader is; the daemon still races
// it against a deadline.
import type { Logger } from '../util/logger.js';
import { monotonicMs, type Clock } from '../util/clock.js';
import { errorMessage } from '../util/errors.js';
import { createCollectors } from '../collectors/index.js';
import type { Collector, CollectorName, Sample, SampleParts, SpeedRead } from '../collectors/types.js';
import type { Config } from '../config/config.js';
import type { ProgramCheck } from '../collectors/gpu.js';
import { checkTrustAsync, type TrustVerdict } from '../util/trust.js';

// Running totals for one collector, for the daemon's periodic summary.
export interface CollectorStats {
  calls: number;
  failures: number;
  consecutiveFailures: number;
  totalMs: number;
  maxMs: number;
  lastMs: number;
}

// What the sampler runs, the clock it stamps samples with, and where it logs.
export interface SamplerOptions {
  collectors: readonly Collector[];
  clock: Clock;
  log: Logger;
}

// One sample per call; peek between two, at an instant of no report's; stats for the
// periodic summary; close releases the collectors.
export interface Sampler {
  sample(): Sample;
  peek(): void;
  stats(): Partial<Record<CollectorName, CollectorStats>>;
  close(): void;
}

interface State {
  stats: CollectorStats;
  lastError: string | undefined;
}

function store<K extends CollectorName>(sample: Sample, name: K, value: SampleParts[K]): void {
  (sample as Partial<SampleParts>)[name] = value;
}

// Creates the sampler over a fixed list of collectors.
export function createSampler({ collectors, clock, log }: SamplerOptions): Sampler {
  // By the collector's place in the list: a Map's lookup cost a builtin call a collector a report.
  const states: State[] = collectors.map(() => ({
    stats: { calls: 0, failures: 0, consecutiveFailures: 0, totalMs: 0, maxMs: 0, lastMs: 0 },
    lastError: undefined,
  }));
  // The daemon's clock is the one that times the collectors: then the time a collector
  // is called is the time the one before it ended, one clock read a collector, not two.
  const sameClock = clock.monotonic === monotonicMs;
  // The collectors that peek (the cpu one): the walk over all eight and its iterator cost
  // 6 000 instructions a peek, more than the peek's scan (callgrind, in process).
  const peekers = collectors.filter((c) => c.peek !== undefined);

  // A log that runs for months must not repeat the same failure every 10 s: the first
  // failure (and any change of reason) at warn, repeats at debug, the recovery at info.
  function failed(c: Collector, state: State, message: string): void {
    state.stats.failures++;
    state.stats.consecutiveFailures++;
    if (message === state.lastError) {
      log.debug({ collector: c.name, consecutive: state.stats.consecutiveFailures }, `collector failed again: ${message}`);
    } else {
      log.warn({ collector: c.name }, `collector failed: ${message}`);
    }
    state.lastError = message;
  }

  // Called only for a collector whose last call failed: the caller's test of lastError
  // keeps the call off the path of every success.
  function recovered(c: Collector, state: State): void {
    log.info({ collector: c.name, failedTicks: state.stats.consecutiveFailures }, 'collector recovered');
    state.lastError = undefined;
    state.stats.consecutiveFailures = 0;
  }

  return {
    sample() {
      const sample: Sample = { ts: clock.now(), failures: {} };
      const durations: Record<string, number> | undefined = log.isLevelEnabled('debug') ? {} : undefined;
      // One clock read per collector: each one's end is the next one's start.
      let started = monotonicMs();
      for (let k = 0; k < collectors.length; k++) {
        const c = collectors[k]!;
        const state = states[k]!;
        try {
          // Each collector's own time, not the tick's: a rate divides by the time between
          // two reads of its file, and a collector before it that took seconds (a host
          // thrashing, /proc slow to answer) would move its read but not its time.
          const value = c.collect(sameClock ? started : clock.monotonic());
          if (value !== undefined) store(sample, c.name, value);
          if (state.lastError !== undefined) recovered(c, state);
        } catch (err) {
          const message = errorMessage(err);
          sample.failures[c.name] = message;
          failed(c, state, message);
        } finally {
          const ended = monotonicMs();
          const ms = ended - started;
          started = ended;
          state.stats.calls++;
          state.stats.totalMs += ms;
          state.stats.lastMs = ms;
          if (ms > state.stats.maxMs) state.stats.maxMs = ms;
          if (durations !== undefined) durations[c.name] = ms;
        }
      }
      if (durations !== undefined) log.debug({ durationsMs: durations }, 'sampled');
      return sample;
    },
    peek() {
      for (let k = 0; k < peekers.length; k++) {
        const c = peekers[k]!;
        try {
          c.peek!();
        } catch (err) {
          // A peek is never a failure: the next collect() reads the same file and says why.
          log.debug({ collector: c.name }, `collector peek failed: ${errorMessage(err)}`);
        }
      }
    },
    stats() {
      const out: Partial<Record<CollectorName, CollectorStats>> = {};
      for (let k = 0; k < collectors.length; k++) out[collectors[k]!.name] = { ...states[k]!.stats };
      return out;
    },
    close() {
      for (const c of collectors) {
        try {
          c.close?.();
        } catch (err) {
          log.warn({ collector: c.name }, `collector close failed: ${errorMessage(err)}`);
        }
      }
    },
  };
}

// The collectors a loaded config asks for, with the daemon's log, abort signal and clock;
// the GPU program is vetted with the same trust rule as every program lavarank runs.
// detail (default true) adds the figures the model does not use; the daemon leaves them out.
// keepOpen (--test-keep-open) replaces the rule of which files are kept open; linkSpeedRead,
// how a link speed is read (tests).
export function collectorsFromConfig(
  config: Readonly<Config>,
  deps: { log: Logger; signal: AbortSignal; clock?: Clock; detail?: boolean; keepOpen?: (path: string) => boolean; linkSpeedRead?: SpeedRead },
): Collector[] {
  return createCollectors({
    procRoot: config.proc_root,
    sysRoot: config.sys_root,
    detail: deps.detail ?? true,
    ...(deps.keepOpen === undefined ? {} : { keepOpen: deps.keepOpen }),
    ...(deps.linkSpeedRead === undefined ? {} : { linkSpeedRead: deps.linkSpeedRead }),
    ...(config.network.link_speed === null ? {} : { linkSpeedMbps: config.network.link_speed }),
    ...(config.cpu.job_cpus === null ? {} : { jobCpus: config.cpu.job_cpus }),
    warn: (message: string) => deps.log.warn({ collector: 'network' }, message),
    gpu: {
      enabled: config.gpu.enabled,
      command: config.gpu.command,
      intervalMs: config.gpu.interval * 1000,
      timeoutMs: config.gpu.timeout * 1000,
      signal: deps.signal,
      log: deps.log,
      checkProgram: (path: string) => checkGpuProgramAsync(path, deps.signal),
      ...(deps.clock === undefined ? {} : { clock: deps.clock }),
    },
  });
}

// The daemon's trust rule for the GPU program, as the collector wants it, the walk's
// questions asked in libuv's pool, for the daemon's event loop; signal aborted: rejects
// at the walk's next question.
export async function checkGpuProgramAsync(path: string, signal?: AbortSignal): Promise<ProgramCheck> {
  return programCheck(await checkTrustAsync(path, 'gpu.command', { executable: true }, signal));
}

function programCheck(verdict: TrustVerdict): ProgramCheck {
  return { problems: verdict.problems, path: verdict.problems.length === 0 ? verdict.real : undefined };
}
