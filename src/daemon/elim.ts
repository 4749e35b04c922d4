// The elim loop: every interval, take a sample, rank it, write one report. It is
// never silent while alive: a sample that fails or misses its deadline still
// produces a report on time (the last good rank, then after `pessimisticAfter`
// consecutive failures a pessimistic rank), because LIM would otherwise keep the
// last value forever and keep sending jobs to a host in an unknown state.
import type { Logger } from '../util/logger.js';
import type { Clock } from '../util/clock.js';
import type { CollectorName, Sample } from '../collectors/types.js';
import { errorMessage } from '../util/errors.js';
import { clampRank, type RankResult, type RankerSource, type TypedRanks } from '../model/rank.js';
import { PIPE_BUF, budgetReport, formatElimLine, type ExtraValues, type ReportSink, type WriteOutcome } from './report.js';

// Something that samples the host; real collectors are synchronous, fakes may not be.
export interface SampleSource {
  sample(): Sample | Promise<Sample>;
  // Called once between two reports, at a random instant of the wait (the sampler's peek).
  peek?(): void;
}

// How often, in ranked reports, the model file is looked at: every sixth, a minute at
// the 10 s interval. Its stat ran cold at each report and cost about 70 µs of CPU, a
// tenth of what lavarank adds to a report over reading its files; a model replaced
// by `lavarank retrain` is a weekly event, and is taken within two minutes.
export const MODEL_CHECK_EVERY = 6;

// The most reports after a model file is replaced before the daemon ranks with it: seen
// at one look, loaded at the next if unchanged (rankers.ts), used from the report after.
export const MODEL_TAKEN_WITHIN = 2 * MODEL_CHECK_EVERY + 1;

// Whether a report's rank is the sample's, the last good one held, or pessimistic_rank.
export type TickState = 'ok' | 'held' | 'pessimistic';

// What one tick did, for history, logs and tests.
export interface Tick {
  seq: number;
  ts: number; // wall clock of the report, epoch ms
  rank: number;
  state: TickState;
  outcome: WriteOutcome;
  line: string;
  sample?: Sample;
  result?: RankResult;
  failure?: string;
  durationMs: number;
}

// What runElim is given: its side effects (sampler, output, log, clock, signal) and the config's settings.
export interface ElimOptions {
  sampler: SampleSource;
  rankers: RankerSource;
  out: ReportSink;
  log: Logger;
  clock: Clock;
  signal: AbortSignal;
  resource: string;
  // Also report the ranks of a CPU-, a memory- and an io-bound job as <resource>_cpu,
  // <resource>_mem and <resource>_io (config typed_ranks); default false.
  typedRanks?: boolean;
  intervalMs: number;
  firstReportMs?: number; // measuring window before the first report; default min(1 s, interval)
  deadlineMs?: number; // default half the interval; a synchronous sample past it counts as failed
  pessimisticAfter: number;
  pessimisticRank: number;
  // Collectors whose failure makes the whole sample a failure.
  required?: readonly CollectorName[];
  // Values of child elims, per child in priority order (see budgetReport).
  extraValues?: () => readonly ExtraValues[];
  onTick?: (tick: Tick) => void;
  maxTicks?: number;
  // Where in each wait the sampler's peek falls, a share from 0 to 1; default Math.random.
  random?: () => number;
}

// Why runElim returned: stopped, stdout closed, or maxTicks reached.
export type StopReason = 'aborted' | 'output-closed' | 'max-ticks';

// Collectors without which a sample is a failure: the rank would mean nothing.
export const REQUIRED_COLLECTORS: readonly CollectorName[] = ['cpu', 'load', 'memory'];

// The names the typed ranks are reported under, for a resource name.
export function typedRankNames(resource: string): [cpu: string, mem: string, io: string] {
  return [`${resource}_cpu`, `${resource}_mem`, `${resource}_io`];
}

// Sets the typed ranks of a report's own pairs (after the rank): the ranker's, or the
// rank itself for each type when the ranker has none (the fallback formula), or when
// the rank is held or pessimistic and no typed ranks go with it.
function setTyped(own: Array<[string, number]>, rank: number, typed: TypedRanks | undefined): void {
  own[1]![1] = typed === undefined ? rank : clampRank(typed.rank_cpu);
  own[2]![1] = typed === undefined ? rank : clampRank(typed.rank_mem);
  own[3]![1] = typed === undefined ? rank : clampRank(typed.rank_io);
}

// The rank each report gives (runElim): the sample's, else the last good one held,
// else, after pessimisticAfter failed samples in a row or before any good one,
// pessimisticRank; each change of course said once. Updated in place, one take() per
// report, as the loop makes no object of its own per report.
export class RankHolder {
  state: TickState = 'pessimistic';
  rank: number;
  typed: TypedRanks | undefined; // the typed ranks going with rank, when it has them
  private failures = 0;
  private lastGood: number | undefined;
  private lastTyped: TypedRanks | undefined;

  constructor(
    private readonly pessimisticAfter: number,
    private readonly pessimisticRank: number,
    private readonly log: Pick<Logger, 'info' | 'warn' | 'error'>,
  ) {
    this.rank = pessimisticRank;
  }

  // Takes one report's ranked result, or why there is none.
  take(result: RankResult | undefined, why: string | undefined): void {
    const { log } = this;
    if (result !== undefined) {
      if (this.failures > 0) log.info({ failedTicks: this.failures }, `sampling recovered after ${this.failures} failed ticks`);
      this.failures = 0;
      this.state = 'ok';
      this.rank = result.rank;
      this.lastGood = this.rank;
      this.typed = result.typed;
      this.lastTyped = this.typed;
      return;
    }
    const failures = ++this.failures;
    const lastGood = this.lastGood;
    if (failures >= this.pessimisticAfter || lastGood === undefined) {
      if (failures === this.pessimisticAfter || (lastGood === undefined && failures === 1)) {
        log.error({ failedTicks: failures, reason: why }, `reporting the pessimistic rank ${this.pessimisticRank} until sampling recovers`);
      }
      this.state = 'pessimistic';
      this.rank = this.pessimisticRank;
      this.typed = undefined;
    } else {
      if (failures === 1) log.warn({ reason: why }, 'sample failed; repeating the last good rank');
      this.state = 'held';
      this.rank = lastGood;
      this.typed = this.lastTyped;
    }
  }
}

// A sample's rank (runElim): the ranker's result with its rank clamped, or why there is
// none (a required collector's failure, a rank that is not finite, the ranker's throw);
// the model is checked for a new version every MODEL_CHECK_EVERY rankings. The result
// itself where its rank already is (every model's and the formula's): a copy of it and a
// wrapper around it were two objects made at each report for nothing.
export class Ranking {
  private rankings = 0; // reports ranked so far, for MODEL_CHECK_EVERY

  constructor(
    private readonly rankers: RankerSource,
    private readonly required: readonly CollectorName[],
  ) {}

  // The rank of one report's sample, or why there is none.
  of(sample: Sample): RankResult | string {
    const { required } = this;
    let failure: string | undefined;
    for (let i = 0; i < required.length; i++) {
      const why = sample.failures[required[i]!];
      if (why !== undefined) failure = failure === undefined ? why : `${failure}; ${why}`;
    }
    if (failure !== undefined) return failure;
    try {
      if (this.rankings++ % MODEL_CHECK_EVERY === 0) this.rankers.refresh?.();
      const result = this.rankers.current().rank(sample);
      if (!Number.isFinite(result.rank)) return `model ${result.model} gave a non-finite rank`;
      const rank = clampRank(result.rank);
      // 0 is copied: clampRank makes a -0 a 0, which the same comparison cannot tell apart.
      return rank === result.rank && rank !== 0 ? result : { ...result, rank };
    } catch (err) {
      return `ranking failed: ${errorMessage(err)}`;
    }
  }
}

// A report's line (runElim): the rank, and the typed ranks where there are names for them,
// then the child elims' values that fit in PIPE_BUF; each value or elim left out, and each
// elim back in, said once. The report's own name/value pairs are made once: only the values
// change from one report to the next, and nothing keeps the pairs beyond the line built
// from them. Every report carries every name: LIM keeps a name's last value for as long as
// the elim lives.
export class ReportLine {
  private readonly own: Array<[string, number]>;
  private readonly typed: boolean;
  private extrasBroken = false;
  private readonly cutOff = new Set<string>(); // sources whose values do not fit in the report now
  private readonly refusedLogged = new Set<string>();

  constructor(
    resource: string,
    typedNames: readonly string[],
    private readonly extraValues: (() => readonly ExtraValues[]) | undefined,
    private readonly log: Pick<Logger, 'info' | 'warn' | 'error'>,
  ) {
    this.own = [[resource, 0], ...typedNames.map((name): [string, number] => [name, 0])];
    this.typed = typedNames.length > 0;
  }

  // The line for one report's rank and typed ranks.
  line(rank: number, typed: TypedRanks | undefined): string {
    const { own, log } = this;
    own[0]![1] = rank;
    if (this.typed) setTyped(own, rank, typed);
    if (this.extraValues === undefined) return formatElimLine(own);
    let extras: readonly ExtraValues[];
    try {
      extras = this.extraValues();
      this.extrasBroken = false;
    } catch (err) {
      if (!this.extrasBroken) log.error({ err: errorMessage(err) }, 'child elim values left out of the report');
      this.extrasBroken = true;
      return formatElimLine(own);
    }
    const built = budgetReport(own, extras);
    for (const { source, name, why } of built.refused) {
      const key = `${source}\0${name}`;
      if (this.refusedLogged.has(key)) continue;
      this.refusedLogged.add(key);
      log.warn({ elim: source, name }, `child elim ${source}'s value ${JSON.stringify(name)} left out of the report: ${why}`);
    }
    for (const source of built.cut) {
      if (this.cutOff.has(source)) continue;
      this.cutOff.add(source);
      log.warn({ elim: source }, `child elim ${source}'s values left out of the report: with them it would exceed ${PIPE_BUF} bytes`);
    }
    for (const source of this.cutOff) {
      if (built.cut.includes(source)) continue;
      this.cutOff.delete(source);
      log.info({ elim: source }, `child elim ${source}'s values fit in the report again`);
    }
    return built.line;
  }
}

// The sampler's peek as a timer's callback, or undefined where it takes none: a throw is
// said once a run of them and never ends the loop (review75: inside the wait, whose catch
// is the stop's, it ended it as 'aborted' without a word; from a timer it would end the process).
function peekOf(sampler: SampleSource, log: Pick<Logger, 'warn'>): (() => void) | undefined {
  if (sampler.peek === undefined) return undefined;
  let broken = false;
  return () => {
    try {
      sampler.peek!();
      broken = false;
    } catch (err) {
      if (!broken) log.warn({ err: errorMessage(err) }, `the sampler's peek between reports failed: ${errorMessage(err)}; the reports go on`);
      broken = true;
    }
  };
}

// A sample, or why there is none.
export interface Attempt {
  sample?: Sample;
  failure?: string;
}

// The sampler's runs, each raced against a limit when it is asynchronous: the attempt
// a report makes at the clock's began. A synchronous sampler (the real collectors) gets
// its answer without a promise: the loop awaits only what is asynchronous. It cannot be
// cut short, so one that took longer than the limit counts as failed once it returns: a
// host whose kernel takes seconds to answer /proc (thrashing, a hung mount) is one to
// hold, then avoid, not one whose smeared reading to trust. An attempt while one that
// lost its race still runs fails at once.
export function attemptsOf(sampler: SampleSource, clock: Clock, signal: AbortSignal): (limitMs: number, began: number) => Attempt | Promise<Attempt> {
  let pending = false;
  // began: the clock when the caller starts it (the loop times its report from there).
  const attempt = (limitMs: number, began: number): Attempt | Promise<Attempt> => {
    if (pending) return { failure: 'the previous sample is still running' };
    let result: Sample | Promise<Sample>;
    try {
      result = sampler.sample();
    } catch (err) {
      return { failure: `sampling failed: ${errorMessage(err)}` };
    }
    if (!(result instanceof Promise)) {
      const took = clock.monotonic() - began;
      return took > limitMs ? { failure: `sample took ${Math.round(took)} ms, over its deadline of ${limitMs} ms` } : { sample: result };
    }
    return race(result, limitMs);
  };

  const race = async (result: Promise<Sample>, limitMs: number): Promise<Attempt> => {
    pending = true;
    const settled = result.then(
      (sample): Attempt => ({ sample }),
      (err: unknown): Attempt => ({ failure: `sampling failed: ${errorMessage(err)}` }),
    );
    void settled.finally(() => {
      pending = false;
    });
    const timer = new AbortController();
    const onAbort = (): void => timer.abort();
    signal.addEventListener('abort', onAbort, { once: true });
    try {
      return await Promise.race([
        settled,
        clock.sleep(limitMs, timer.signal).then(
          (): Attempt => ({ failure: `sample did not finish within ${limitMs} ms` }),
          (): Attempt => ({ failure: 'stopping' }),
        ),
      ]);
    } finally {
      timer.abort();
      signal.removeEventListener('abort', onAbort);
    }
  };
  return attempt;
}

// The reports LIM left unread in a row, said once when they start and once, with their
// count, when LIM reads again.
export class UnreadReports {
  private count = 0;
  private kind: 'dropped' | 'replaced' = 'dropped';

  constructor(private readonly log: Pick<Logger, 'warn' | 'info'>) {}

  // Takes what became of a report's write.
  note(outcome: WriteOutcome): void {
    if (outcome === 'dropped' || outcome === 'replaced') {
      if (this.count === 0) {
        this.kind = outcome;
        if (outcome === 'dropped') this.log.warn('LIM is not reading (pipe full); dropping reports until it reads again');
        else this.log.warn('LIM had not read the previous report; each new report replaces the unread one until it reads again');
      }
      this.count++;
    } else if (this.count > 0) {
      this.log.info({ [this.kind]: this.count }, `LIM is reading again; ${this.count} reports were ${this.kind}`);
      this.count = 0;
    }
  }
}

// When the report after the one due at next, written at wrote, is due: an interval
// later, or an interval after wrote where that is less than half an interval away.
// After a stall (a suspended VM, a starved CPU), a new grid rather than reports in
// quick succession: LIM reads one per 5 s and would fall behind. Judged by when the
// report was written, not by now: work after a report on time (the tick hook's start-up
// collections, at nice 10 beside a job's busy loops in LIM's session, took 3-8 s)
// crowds no report, and judged by now it moved the next one a whole interval past that
// work, 8 s late.
export function nextDue(next: number, wrote: number, intervalMs: number, log: Pick<Logger, 'warn'>): number {
  const due = next + intervalMs;
  if (!(due - wrote < intervalMs / 2)) return due;
  log.warn({ lateMs: Math.round(wrote - due + intervalMs) }, 'fell behind schedule; skipping missed reports');
  return wrote + intervalMs;
}

// Runs until the signal aborts, the reader goes away, or maxTicks reports were made.
export async function runElim(o: ElimOptions): Promise<StopReason> {
  const { clock, log, signal } = o;
  const deadlineMs = o.deadlineMs ?? o.intervalMs / 2;
  const random = o.random ?? Math.random;
  const required = o.required ?? REQUIRED_COLLECTORS;
  const holder = new RankHolder(o.pessimisticAfter, o.pessimisticRank, log);
  const typedNames: string[] = o.typedRanks === true ? typedRankNames(o.resource) : [];
  const unread = new UnreadReports(log);

  const attempt = attemptsOf(o.sampler, clock, signal);

  const ranking = new Ranking(o.rankers, required);
  const report = new ReportLine(o.resource, typedNames, o.extraValues, log);

  const peek = peekOf(o.sampler, log);
  // When each report was due and written, for a test of the schedule on a loaded host; off at info.
  const traceSchedule = log.isLevelEnabled('debug');
  const start = clock.monotonic();
  // The first reading only sets the collectors' baselines; rates need two.
  const baseline = attempt(Math.max(1, (o.firstReportMs ?? Math.min(1000, o.intervalMs)) / 2), clock.monotonic());
  if (baseline instanceof Promise) await baseline;
  let next = start + (o.firstReportMs ?? Math.min(1000, o.intervalMs));
  let seq = 0;

  while (!signal.aborted) {
    const wait = next - clock.monotonic();
    if (wait > 0) {
      try {
        // The sampler's peek at an instant no other user can learn: the reports' are
        // theirs to learn and step aside at (hostile21: io waiters out of their wait
        // around them hid every one beyond the CPUs). On a timer beside the report's
        // sleep, not a sleep of its own awaited before it: 11 000 instructions an
        // interval less (callgrind, in process, 400 intervals: 82 200 against 93 500).
        if (peek !== undefined) {
          const cancel = clock.after(wait * random(), peek);
          try {
            await clock.sleep(wait, signal);
          } finally {
            cancel(); // not yet taken (stopping): none after this wait
          }
        } else await clock.sleep(wait, signal);
      } catch {
        break; // aborted while waiting: nothing half-done
      }
    }
    if (signal.aborted) break;
    const began = clock.monotonic();
    const tried = attempt(deadlineMs, began);
    const got = tried instanceof Promise ? await tried : tried;
    if (signal.aborted) break;
    const ranked = got.sample === undefined ? (got.failure ?? 'no sample') : ranking.of(got.sample);
    const result = typeof ranked === 'string' ? undefined : ranked;
    const why = typeof ranked === 'string' ? ranked : undefined;

    holder.take(result, why);
    const { state, rank } = holder;

    const line = report.line(rank, holder.typed);
    const outcome = o.out.write(line);
    const wrote = clock.monotonic();
    if (traceSchedule) log.debug({ seq: seq + 1, dueMs: Math.round(next - start), lateMs: Math.round(wrote - next) }, 'report written');
    if (outcome === 'closed') {
      log.info('stdout closed by the reader; exiting');
      return 'output-closed';
    }
    unread.note(outcome);

    seq++;
    const tick: Tick = {
      seq,
      ts: clock.now(),
      rank,
      state,
      outcome,
      line,
      durationMs: clock.monotonic() - began,
    };
    if (got.sample !== undefined) tick.sample = got.sample;
    if (result !== undefined) tick.result = result;
    if (why !== undefined) tick.failure = why;
    try {
      o.onTick?.(tick);
    } catch (err) {
      log.error({ err: errorMessage(err) }, 'tick hook failed');
    }
    if (o.maxTicks !== undefined && seq >= o.maxTicks) return 'max-ticks';

    next = nextDue(next, wrote, o.intervalMs, log);
  }
  return 'aborted';
}
