import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FakeClock, type Clock } from '../../src/util/clock.js';
import type { Sample } from '../../src/collectors/types.js';
import { MODEL_CHECK_EVERY, RankHolder, Ranking, ReportLine, UnreadReports, attemptsOf, nextDue, runElim, type ElimOptions, type Tick } from '../../src/daemon/elim.js';
import type { Ranker } from '../../src/model/rank.js';
import { parseModel, serializeModel } from '../../src/model/model.js';
import { modelRanker } from '../../src/model/rankers.js';
import { fullSample, randomModelFile } from '../model/helpers.js';
import type { ReportSink, WriteOutcome } from '../../src/daemon/report.js';
import { captureLog } from '../helpers.js';

function sampleWith(busy: number, failures: Sample['failures'] = {}): Sample {
  return {
    ts: 0,
    cpu: { user: busy, system: 0, iowait: 0, steal: 0, busy, online: 2 },
    load: { load1: 0, load1PerCpu: 0, runnable: 0, runnablePerCpu: 0, online: 2 },
    memory: { totalBytes: 1, availableBytes: 1, usedFraction: 0, swapTotalBytes: 0, swapUsedFraction: 0 },
    failures,
  };
}

const busyRanker: Ranker = {
  name: 'test',
  rank: (s) => ({ rank: (s.cpu?.busy ?? 0) * 100, model: 'test' }),
};

class Recorder implements ReportSink {
  lines: string[] = [];
  outcomes: WriteOutcome[] = [];
  constructor(private readonly script: (n: number) => WriteOutcome = () => 'written') {}
  write(line: string): WriteOutcome {
    const outcome = this.script(this.outcomes.length);
    this.outcomes.push(outcome);
    if (outcome === 'written') this.lines.push(line);
    return outcome;
  }
}

function options(over: Partial<ElimOptions> & Pick<ElimOptions, 'sampler'>): ElimOptions & { ticks: Tick[]; out: Recorder } {
  const ticks: Tick[] = [];
  const out = (over.out as Recorder | undefined) ?? new Recorder();
  return {
    rankers: { current: () => busyRanker },
    log: captureLog().log,
    clock: new FakeClock(),
    signal: new AbortController().signal,
    resource: 'rank',
    intervalMs: 10_000,
    pessimisticAfter: 3,
    pessimisticRank: 1000,
    maxTicks: 5,
    onTick: (t) => ticks.push(t),
    ...over,
    out,
    ticks,
  };
}

// A sampler that plays a script of values; a function entry throws or returns what it returns.
function scripted(values: Array<number | Error | (() => Sample | Promise<Sample>)>) {
  let i = 0;
  return {
    calls: () => i,
    sample(): Sample | Promise<Sample> {
      const v = values[Math.min(i, values.length - 1)];
      i++;
      if (v instanceof Error) throw v;
      if (typeof v === 'function') return v();
      return sampleWith(v ?? 0);
    },
  };
}

describe('runElim', () => {
  it('writes one report per tick with the rank from the model', async () => {
    const o = options({ sampler: scripted([0, 0.1, 0.2, 0.3, 0.4, 0.5]) });
    assert.equal(await runElim(o), 'max-ticks');
    assert.deepEqual(o.out.lines, ['1 rank 10\n', '1 rank 20\n', '1 rank 30\n', '1 rank 40\n', '1 rank 50\n']);
  });

  it('makes the first report after the short measuring window, then one per interval', async () => {
    const clock = new FakeClock();
    const at: number[] = [];
    const o = options({ sampler: scripted([0.1]), clock, firstReportMs: 1000, maxTicks: 3 });
    o.onTick = () => at.push(clock.monotonic());
    await runElim(o);
    assert.deepEqual(at, [1000, 11_000, 21_000]);
  });

  // The reports' instants are a user's to learn (the elim's /proc/PID/schedstat, the
  // history file's mtime): io waiters that left their wait around them hid every one
  // beyond the CPUs from procs_blocked (hostile21). The peek's instant is drawn anew.
  it('peeks once between two reports, at the drawn share of the wait, never at a report', async () => {
    const clock = new FakeClock();
    const at: number[] = [];
    const peeks: number[] = [];
    const shares = [0.25, 0.5, 0.9];
    const sampler = { ...scripted([0.1]), peek: () => peeks.push(clock.monotonic()) };
    const o = options({ sampler, clock, firstReportMs: 1000, maxTicks: 3, random: () => shares[peeks.length]! });
    o.onTick = () => at.push(clock.monotonic());
    await runElim(o);
    assert.deepEqual(at, [1000, 11_000, 21_000]);
    assert.deepEqual(peeks, [250, 6000, 20_000]);
  });

  // The wait's catch is the stop's: a peek that threw there ended the loop as 'aborted',
  // no report more and no word of why (review75). The daemon's sampler catches each
  // collector's throw, but the loop is the seam every SampleSource goes through.
  it('reports on at its times when the sampler\'s peek throws, and says so once', async () => {
    const clock = new FakeClock();
    const cap = captureLog();
    const sampler = { ...scripted([0.1]), peek: () => { throw new Error('peek broke'); } };
    const o = options({ sampler, clock, log: cap.log, firstReportMs: 1000, maxTicks: 3, random: () => 0.5 });
    const at: number[] = [];
    o.onTick = () => at.push(clock.monotonic());
    assert.equal(await runElim(o), 'max-ticks');
    assert.deepEqual(at, [1000, 11_000, 21_000]);
    assert.deepEqual(cap.messages().filter((m) => m.includes('peek broke')), ['the sampler\'s peek between reports failed: peek broke; the reports go on']);
  });

  it('says a peek\'s failure again once a peek between has worked', async () => {
    const clock = new FakeClock();
    const cap = captureLog();
    const works = [false, true, false, false];
    let n = 0;
    const sampler = { ...scripted([0.1]), peek: () => { if (!works[n++]) throw new Error(`peek ${n} broke`); } };
    const o = options({ sampler, clock, log: cap.log, firstReportMs: 1000, maxTicks: 4, random: () => 0.5 });
    assert.equal(await runElim(o), 'max-ticks');
    assert.equal(n, 4);
    assert.deepEqual(cap.messages().filter((m) => m.includes('broke')), [
      'the sampler\'s peek between reports failed: peek 1 broke; the reports go on',
      'the sampler\'s peek between reports failed: peek 3 broke; the reports go on',
    ]);
  });

  it('takes no peek after it is stopped in its wait', async () => {
    const clock = new FakeClock();
    const controller = new AbortController();
    // A wait that ends only when stopped: the peek's timer is armed and not yet taken.
    const stuck: Clock = {
      now: () => clock.now(),
      monotonic: () => clock.monotonic(),
      after: (ms, fn) => clock.after(ms, fn),
      sleep: (_ms, signal) => new Promise((_resolve, reject) => signal?.addEventListener('abort', () => reject(new Error('stopped')), { once: true })),
    };
    const peeks: number[] = [];
    const sampler = { ...scripted([0.1]), peek: () => peeks.push(clock.monotonic()) };
    const o = options({ sampler, clock: stuck, signal: controller.signal, random: () => 0.5 });
    setImmediate(() => controller.abort());
    assert.equal(await runElim(o), 'aborted');
    clock.advance(60_000);
    assert.deepEqual(peeks, []);
  });

  it('repeats the last good rank while failures are fewer than pessimistic_after, then reports the pessimistic rank', async () => {
    const boom = new Error('cannot open /proc/stat');
    const o = options({ sampler: scripted([0, 0.2, boom, boom, boom, boom]), maxTicks: 5 });
    await runElim(o);
    assert.deepEqual(o.out.lines, ['1 rank 20\n', '1 rank 20\n', '1 rank 20\n', '1 rank 1000\n', '1 rank 1000\n']);
    assert.deepEqual(o.ticks.map((t) => t.state), ['ok', 'held', 'held', 'pessimistic', 'pessimistic']);
  });

  it('returns to normal values after a failure and logs the recovery', async () => {
    const boom = new Error('garbage');
    const cap = captureLog();
    const o = options({ sampler: scripted([0, boom, boom, boom, boom, 0.3]), log: cap.log, maxTicks: 5 });
    await runElim(o);
    assert.deepEqual(o.out.lines, ['1 rank 1000\n', '1 rank 1000\n', '1 rank 1000\n', '1 rank 1000\n', '1 rank 30\n']);
    assert.ok(cap.messages().includes('sampling recovered after 4 failed ticks'), cap.messages().join('|'));
  });

  it('reports the pessimistic rank at once when no sample has ever succeeded', async () => {
    const o = options({ sampler: scripted([new Error('no /proc')]), maxTicks: 1 });
    await runElim(o);
    assert.deepEqual(o.out.lines, ['1 rank 1000\n']);
  });

  it('reports a rank of -0 as 0, and records it as 0', async () => {
    const ranker: Ranker = { name: 'minus', rank: () => ({ rank: -0, model: 'minus' }) };
    const o = options({ sampler: scripted([0]), rankers: { current: () => ranker }, maxTicks: 1 });
    await runElim(o);
    assert.deepEqual(o.out.lines, ['1 rank 0\n']);
    assert.ok(Object.is(o.ticks[0]?.result?.rank, 0));
  });

  it('hands the tick hook the ranker\'s own result, not a copy, when its rank is within range', async () => {
    const given = { rank: 12.5, model: 'own', features: { cpu_busy: 0.1 } };
    const ranker: Ranker = { name: 'own', rank: () => given };
    const o = options({ sampler: scripted([0]), rankers: { current: () => ranker }, maxTicks: 1 });
    await runElim(o);
    assert.deepEqual(o.out.lines, ['1 rank 12.5\n']);
    assert.equal(o.ticks[0]?.result, given);
  });

  it('still reports on time when a sample never finishes, and does not start another meanwhile', async () => {
    const never = (): Promise<Sample> => new Promise<Sample>(() => undefined);
    const sampler = scripted([0, 0.5, never]);
    const clock = new FakeClock();
    const at: number[] = [];
    const o = options({ sampler, clock, maxTicks: 5, pessimisticAfter: 2 });
    o.onTick = (t) => {
      at.push(clock.monotonic());
      o.ticks.push(t);
    };
    await runElim(o);
    assert.deepEqual(o.out.lines, ['1 rank 50\n', '1 rank 50\n', '1 rank 1000\n', '1 rank 1000\n', '1 rank 1000\n']);
    assert.match(o.ticks[1]?.failure ?? '', /did not finish within 5000 ms/);
    assert.match(o.ticks[2]?.failure ?? '', /previous sample is still running/);
    assert.equal(sampler.calls(), 3);
    // Each report left on its own slot, deadline included: 1 s, then every 10 s after the first.
    assert.deepEqual(at, [1000, 16_000, 21_000, 31_000, 41_000]);
  });

  it('treats a failed required collector as a failed sample, but not a failed optional one', async () => {
    const o = options({
      sampler: scripted([
        () => sampleWith(0.1),
        () => sampleWith(0.2, { pressure: 'pressure: cannot open /proc/pressure/cpu: EACCES' }),
        () => sampleWith(0.3, { memory: 'memory: cannot open /proc/meminfo: ENOENT' }),
      ]),
      maxTicks: 2,
    });
    await runElim(o);
    assert.deepEqual(o.ticks.map((t) => t.state), ['ok', 'held']);
    assert.match(o.ticks[1]?.failure ?? '', /meminfo/);
  });

  it('treats a model that throws or returns NaN as a failed sample', async () => {
    let n = 0;
    const ranker: Ranker = {
      name: 'flaky',
      rank: () => {
        n++;
        if (n === 2) throw new Error('weights are broken');
        return { rank: n === 3 ? Number.NaN : 5, model: 'flaky' };
      },
    };
    const o = options({ sampler: scripted([0]), rankers: { current: () => ranker }, maxTicks: 3 });
    await runElim(o);
    assert.deepEqual(o.ticks.map((t) => t.state), ['ok', 'held', 'held']);
    assert.match(o.ticks[1]?.failure ?? '', /weights are broken/);
    assert.match(o.ticks[2]?.failure ?? '', /non-finite rank/);
  });

  it('treats a model that returns an infinite rank, either way, as a failed sample rather than a rank of 0 or 1000', async () => {
    let n = 0;
    const ranker: Ranker = { name: 'inf', rank: () => ({ rank: [5, Number.NEGATIVE_INFINITY, Number.POSITIVE_INFINITY][n++] ?? 5, model: 'inf' }) };
    const o = options({ sampler: scripted([0]), rankers: { current: () => ranker }, maxTicks: 3 });
    await runElim(o);
    assert.deepEqual(o.out.lines, ['1 rank 5\n', '1 rank 5\n', '1 rank 5\n']);
    assert.deepEqual(o.ticks.map((t) => t.state), ['ok', 'held', 'held']);
    assert.match(o.ticks[1]?.failure ?? '', /non-finite rank/);
  });

  it('starts counting failures afresh after a good sample: earlier failures do not bring the pessimistic rank sooner', async () => {
    const boom = new Error('cannot open /proc/stat');
    const o = options({ sampler: scripted([0, 0.2, boom, boom, 0.3, boom, boom]), maxTicks: 6 });
    await runElim(o);
    assert.deepEqual(o.ticks.map((t) => t.state), ['ok', 'held', 'held', 'ok', 'held', 'held']);
    assert.deepEqual(o.out.lines.slice(3), ['1 rank 30\n', '1 rank 30\n', '1 rank 30\n']);
  });

  it('treats the failure of each of the cpu, load and memory collectors as a failed sample by default', async () => {
    for (const name of ['cpu', 'load', 'memory'] as const) {
      const o = options({
        sampler: scripted([() => sampleWith(0.1), () => sampleWith(0.1), () => sampleWith(0.2, { [name]: `${name}: broken` })]),
        maxTicks: 2,
      });
      await runElim(o);
      assert.deepEqual(o.ticks.map((t) => t.state), ['ok', 'held'], name);
      assert.equal(o.ticks[1]?.failure, `${name}: broken`);
    }
  });

  it('looks for a replaced model at the first ranked report and every MODEL_CHECK_EVERY after it', async () => {
    const refreshedAt: number[] = [];
    let current: Ranker = busyRanker;
    const replacement: Ranker = { name: 'new', rank: () => ({ rank: 7, model: 'new' }) };
    const rankers = {
      current: () => current,
      refresh: () => {
        refreshedAt.push(o.ticks.length + 1); // the report this refresh ranks
        if (refreshedAt.length === 2) current = replacement;
      },
    };
    const n = 2 * MODEL_CHECK_EVERY + 1;
    const o = options({ sampler: scripted([0.1]), rankers, maxTicks: n });
    await runElim(o);
    assert.deepEqual(refreshedAt, [1, MODEL_CHECK_EVERY + 1, 2 * MODEL_CHECK_EVERY + 1]);
    // The replacement is ranked with from the report that found it.
    assert.deepEqual(o.out.lines.slice(MODEL_CHECK_EVERY - 1, MODEL_CHECK_EVERY + 1), ['1 rank 10\n', '1 rank 7\n']);
  });

  it('counts only the reports it ranks towards the next look at the model', async () => {
    const refreshedAt: number[] = [];
    const rankers = { current: () => busyRanker, refresh: () => refreshedAt.push(o.ticks.length + 1) };
    const boom = new Error('no /proc/stat');
    // The baseline and report 1 sample, reports 2 and 3 fail: the second look is MODEL_CHECK_EVERY ranked reports after the first.
    const o = options({ sampler: scripted([0.1, 0.1, boom, boom, ...Array<number>(MODEL_CHECK_EVERY + 2).fill(0.1)]), rankers, maxTicks: MODEL_CHECK_EVERY + 3 });
    await runElim(o);
    assert.deepEqual(refreshedAt, [1, MODEL_CHECK_EVERY + 3]);
  });

  it('writes the same report lines byte for byte for fixed samples, with a network and with the backbone alone', async () => {
    const samples = (): Sample[] => {
      const noPsi = fullSample({ ncpu: 128, busy: 0.3, runnablePerCpu: 0.2 });
      delete noPsi.pressure;
      const crowded = fullSample({ ncpu: 2, busy: 1, runnablePerCpu: 2 });
      crowded.pressure!.cpuSome = 0.9;
      crowded.pressure!.ioSome = 0.6;
      // The first only sets the collectors' baselines: no report is made of it.
      return [fullSample(), fullSample(), crowded, noPsi, fullSample({ ncpu: 64, busy: 0, runnablePerCpu: 0 })];
    };
    const withNetwork = randomModelFile({ seed: 7 });
    const backboneAlone = { ...withNetwork, residual: null };
    const lines: string[][] = [];
    for (const file of [withNetwork, backboneAlone]) {
      const ranker = modelRanker(parseModel(serializeModel(file), 'test'));
      const given = samples();
      const o = options({ sampler: { sample: () => given.shift()! }, rankers: { current: () => ranker }, typedRanks: true, maxTicks: 4 });
      await runElim(o);
      lines.push(o.out.lines);
    }
    assert.deepEqual(lines, [
      [
        '4 rank 0.05 rank_cpu 1.01 rank_mem 3.165 rank_io 22\n',
        '4 rank 105.738 rank_cpu 152.525 rank_mem 157.913 rank_io 120\n',
        '4 rank 0.03 rank_cpu 1.01 rank_mem 2.142 rank_io 460.517\n',
        '4 rank 0 rank_cpu 1.01 rank_mem 3.165 rank_io 32\n',
      ],
      [
        '4 rank 2.689 rank_cpu 1.01 rank_mem 3.165 rank_io 22\n',
        '4 rank 152.386 rank_cpu 152.525 rank_mem 157.913 rank_io 120\n',
        '4 rank 24.338 rank_cpu 1.01 rank_mem 2.142 rank_io 460.517\n',
        '4 rank 3.139 rank_cpu 1.01 rank_mem 3.165 rank_io 32\n',
      ],
    ]);
  });

  it('clamps the rank to 0..1000', async () => {
    const ranker: Ranker = { name: 'wild', rank: () => ({ rank: 5000, model: 'wild' }) };
    const o = options({ sampler: scripted([0]), rankers: { current: () => ranker }, maxTicks: 1 });
    await runElim(o);
    assert.deepEqual(o.out.lines, ['1 rank 1000\n']);
    assert.equal(o.ticks[0]?.result?.rank, 1000);
  });

  it('stops when the reader has gone away', async () => {
    const out = new Recorder((n) => (n === 2 ? 'closed' : 'written'));
    const o = options({ sampler: scripted([0.1]), out, maxTicks: 10 });
    assert.equal(await runElim(o), 'output-closed');
    assert.equal(o.out.lines.length, 2);
  });

  it('keeps going when the pipe is full, and logs the drop once and the resumption once', async () => {
    const cap = captureLog();
    const out = new Recorder((n) => (n >= 1 && n <= 3 ? 'dropped' : 'written'));
    const o = options({ sampler: scripted([0.1]), out, log: cap.log, maxTicks: 6 });
    await runElim(o);
    assert.equal(o.out.lines.length, 3);
    const msgs = cap.messages();
    assert.equal(msgs.filter((m) => m.startsWith('LIM is not reading')).length, 1);
    assert.equal(msgs.filter((m) => m === 'LIM is reading again; 3 reports were dropped').length, 1, msgs.join('|'));
  });

  it('logs once that LIM stopped reading when each report replaces an unread one, and once that it reads again', async () => {
    const cap = captureLog();
    const out = new Recorder((n) => (n >= 1 && n <= 3 ? 'replaced' : 'written'));
    const o = options({ sampler: scripted([0.1]), out, log: cap.log, maxTicks: 6 });
    await runElim(o);
    const msgs = cap.messages();
    assert.equal(msgs.filter((m) => m.startsWith('LIM had not read the previous report')).length, 1, msgs.join('|'));
    assert.equal(msgs.filter((m) => m === 'LIM is reading again; 3 reports were replaced').length, 1, msgs.join('|'));
  });

  it('stops without writing when aborted while waiting for the next tick', async () => {
    const controller = new AbortController();
    const o = options({ sampler: scripted([0.1]), signal: controller.signal, maxTicks: 100 });
    o.onTick = (t) => {
      if (t.seq === 2) controller.abort();
    };
    assert.equal(await runElim(o), 'aborted');
    assert.equal(o.out.lines.length, 2);
  });

  it('adds values from child elims and drops one that reuses its own name', async () => {
    const o = options({
      sampler: scripted([0.1]),
      extraValues: () => [
        {
          source: 'site',
          pairs: [
            ['scratch', 12],
            ['rank', 999],
          ],
        },
      ],
      maxTicks: 1,
    });
    await runElim(o);
    assert.deepEqual(o.out.lines, ['2 rank 10 scratch 12\n']);
  });

  it('leaves out a child value LIM would refuse, alone, and says so once', async () => {
    const cap = captureLog();
    const extras = [{ source: 'site', pairs: [['bad name', 1], ['ok', 2]] as Array<[string, number]> }];
    const o = options({ sampler: scripted([0.1]), extraValues: () => extras, log: cap.log, maxTicks: 2 });
    await runElim(o);
    assert.deepEqual(o.out.lines, ['2 rank 10 ok 2\n', '2 rank 10 ok 2\n']);
    assert.equal(cap.messages().filter((m) => m.startsWith('child elim site\'s value "bad name" left out')).length, 1);
  });

  it('logs a child cut off for the line length once while it stays cut, once when it fits again, and again when it is cut again', async () => {
    const cap = captureLog();
    const long: Array<[string, number]> = Array.from({ length: 120 }, (_, i) => [`n${'x'.repeat(30)}${String(i).padStart(3, '0')}`, 1]);
    const fits = [false, false, true, true, false, false];
    let tick = 0;
    const o = options({
      sampler: scripted([0.1]),
      extraValues: () => [{ source: 'big', pairs: fits[tick++] === true ? [['scratch', 1]] : long }],
      log: cap.log,
      maxTicks: fits.length,
    });
    await runElim(o);
    assert.deepEqual(o.out.lines, ['1 rank 10\n', '1 rank 10\n', '2 rank 10 scratch 1\n', '2 rank 10 scratch 1\n', '1 rank 10\n', '1 rank 10\n']);
    const msgs = cap.messages();
    assert.equal(msgs.filter((m) => m === "child elim big's values left out of the report: with them it would exceed 4096 bytes").length, 2, msgs.join('|'));
    assert.equal(msgs.filter((m) => m === "child elim big's values fit in the report again").length, 1, msgs.join('|'));
  });

  it('writes no report once stopped while a sample is under way', async () => {
    const controller = new AbortController();
    const stopDuring = (): Promise<Sample> => {
      queueMicrotask(() => controller.abort());
      return new Promise<Sample>(() => undefined);
    };
    const o = options({ sampler: scripted([0, 0.1, 0.1, stopDuring]), signal: controller.signal, maxTicks: 100 });
    assert.equal(await runElim(o), 'aborted');
    assert.deepEqual(o.out.lines, ['1 rank 10\n', '1 rank 10\n']);
  });

  it('falls back to its own value alone when the child values cannot be had', async () => {
    const cap = captureLog();
    const o = options({
      sampler: scripted([0.1]),
      extraValues: () => {
        throw new Error('broken');
      },
      log: cap.log,
      maxTicks: 2,
    });
    await runElim(o);
    assert.deepEqual(o.out.lines, ['1 rank 10\n', '1 rank 10\n']);
    assert.equal(cap.messages().filter((m) => m === 'child elim values left out of the report').length, 1);
  });

  it('holds the last good rank when a synchronous sample returns after its deadline, and reports the pessimistic rank after pessimistic_after such samples', async () => {
    const clock = new FakeClock();
    let n = 0;
    const sampler = {
      sample(): Sample {
        n++;
        if (n >= 3) clock.advance(6000); // from the second report on, the kernel takes 6 s to answer
        return sampleWith(0.1 * n);
      },
    };
    const o = options({ sampler, clock, maxTicks: 5, deadlineMs: 5000 });
    await runElim(o);
    assert.deepEqual(o.out.lines, ['1 rank 20\n', '1 rank 20\n', '1 rank 20\n', '1 rank 1000\n', '1 rank 1000\n']);
    assert.deepEqual(o.ticks.map((t) => t.state), ['ok', 'held', 'held', 'pessimistic', 'pessimistic']);
    assert.match(o.ticks[1]!.failure ?? '', /sample took 6000 ms, over its deadline of 5000 ms/);
  });

  it('takes a synchronous sample that returns exactly at its deadline', async () => {
    const clock = new FakeClock();
    const sampler = {
      sample(): Sample {
        clock.advance(5000);
        return sampleWith(0.3);
      },
    };
    const o = options({ sampler, clock, maxTicks: 2, deadlineMs: 5000 });
    await runElim(o);
    assert.deepEqual(o.ticks.map((t) => t.state), ['ok', 'ok']);
    assert.deepEqual(o.out.lines, ['1 rank 30\n', '1 rank 30\n']);
  });

  it('skips missed slots instead of bursting reports after a stall', async () => {
    const clock = new FakeClock();
    const at: number[] = [];
    const sampler = {
      sample(): Sample {
        if (at.length === 1) clock.advance(35_000); // a 35 s stall inside one sample
        return sampleWith(0.1);
      },
    };
    const o = options({ sampler, clock, maxTicks: 3, deadlineMs: 60_000 });
    o.onTick = () => at.push(clock.monotonic());
    await runElim(o);
    assert.deepEqual(at, [1000, 46_000, 56_000]);
  });

  it('starts a new grid after a stall that leaves less than half an interval to the next slot, rather than report twice in quick succession', async () => {
    const clock = new FakeClock();
    const at: number[] = [];
    const sampler = {
      sample(): Sample {
        if (at.length === 1) clock.advance(6000); // the report due at 11 s leaves at 17 s, 4 s before the next slot
        return sampleWith(0.1);
      },
    };
    const o = options({ sampler, clock, maxTicks: 3, deadlineMs: 60_000 });
    o.onTick = () => at.push(clock.monotonic());
    await runElim(o);
    assert.deepEqual(at, [1000, 17_000, 27_000]);
  });

  it('keeps its schedule when the work after a report on time takes more than half an interval, since the reports stay an interval apart', async () => {
    const clock = new FakeClock();
    const at: number[] = [];
    const o = options({ sampler: scripted([0, 0.1, 0.1, 0.1]), clock, maxTicks: 3 });
    o.onTick = () => {
      at.push(clock.monotonic());
      if (at.length === 1) clock.advance(6000); // the start-up's collections at nice 10 beside busy loops
    };
    await runElim(o);
    assert.deepEqual(at, [1000, 11_000, 21_000]);
  });
});

// A ranker with per-type ranks: CPU-bound 2 × busy %, memory-bound busy % + 5, io-bound 1.
const typedRanker: Ranker = {
  name: 'typed',
  rank: (s) => {
    const b = (s.cpu?.busy ?? 0) * 100;
    return { rank: b, model: 'typed', typed: { rank_cpu: 2 * b, rank_mem: b + 5, rank_io: 1 } };
  },
};

describe('runElim with typed_ranks', () => {
  it('reports the per-type ranks beside the rank, named after the resource, in every report', async () => {
    const o = options({ sampler: scripted([0, 0.1, 0.2]), rankers: { current: () => typedRanker }, typedRanks: true, resource: 'lrank', maxTicks: 2 });
    await runElim(o);
    assert.deepEqual(o.out.lines, ['4 lrank 10 lrank_cpu 20 lrank_mem 15 lrank_io 1\n', '4 lrank 20 lrank_cpu 40 lrank_mem 25 lrank_io 1\n']);
  });

  it('holds the last per-type ranks with the rank, and reports the pessimistic rank for every type', async () => {
    const boom = new Error('cannot open /proc/stat');
    const o = options({ sampler: scripted([0, 0.2, boom, boom, boom]), rankers: { current: () => typedRanker }, typedRanks: true, maxTicks: 4 });
    await runElim(o);
    assert.deepEqual(o.out.lines, [
      '4 rank 20 rank_cpu 40 rank_mem 25 rank_io 1\n',
      '4 rank 20 rank_cpu 40 rank_mem 25 rank_io 1\n',
      '4 rank 20 rank_cpu 40 rank_mem 25 rank_io 1\n',
      '4 rank 1000 rank_cpu 1000 rank_mem 1000 rank_io 1000\n',
    ]);
  });

  it('reports the rank for every type when the ranker has no per-type ranks (the fallback formula)', async () => {
    const o = options({ sampler: scripted([0.3]), typedRanks: true, maxTicks: 1 });
    await runElim(o);
    assert.deepEqual(o.out.lines, ['4 rank 30 rank_cpu 30 rank_mem 30 rank_io 30\n']);
  });

  it('clamps the per-type ranks like the rank, and drops child values that reuse their names', async () => {
    const wild: Ranker = { name: 'w', rank: () => ({ rank: 5, model: 'w', typed: { rank_cpu: 5000, rank_mem: -3, rank_io: 2 } }) };
    const o = options({ sampler: scripted([0]), rankers: { current: () => wild }, typedRanks: true, extraValues: () => [{ source: 'site', pairs: [['rank_mem', 7], ['scratch', 1]] }], maxTicks: 1 });
    await runElim(o);
    assert.deepEqual(o.out.lines, ['5 rank 5 rank_cpu 1000 rank_mem 0 rank_io 2 scratch 1\n']);
  });
});

describe('RankHolder (the rank a report gives)', () => {
  const holder = () => {
    const lines: string[] = [];
    const at = (level: string) => (_: unknown, m: string) => void lines.push(`${level} ${m}`);
    return { lines, h: new RankHolder(3, 1000, { info: at('info'), warn: at('warn'), error: at('error') } as never) };
  };
  const typed = { rank_cpu: 1, rank_mem: 2, rank_io: 3 };

  it('holds the last good rank and its typed ranks, then gives the pessimistic rank at the pessimisticAfter-th failure', () => {
    const { h, lines } = holder();
    h.take({ rank: 7, model: 'm', typed } as never, undefined);
    assert.deepEqual([h.state, h.rank, h.typed], ['ok', 7, typed]);
    const seen: Array<[string, number, unknown]> = [];
    for (let i = 0; i < 4; i++) {
      h.take(undefined, 'EIO');
      seen.push([h.state, h.rank, h.typed]);
    }
    assert.deepEqual(seen, [['held', 7, typed], ['held', 7, typed], ['pessimistic', 1000, undefined], ['pessimistic', 1000, undefined]]);
    assert.deepEqual(lines, ['warn sample failed; repeating the last good rank', 'error reporting the pessimistic rank 1000 until sampling recovers']);
    h.take({ rank: 5, model: 'm' } as never, undefined);
    assert.deepEqual([h.state, h.rank, h.typed], ['ok', 5, undefined]);
    assert.equal(lines[2], 'info sampling recovered after 4 failed ticks');
  });

  it('gives the pessimistic rank from the first failure when no sample was ever good, said once', () => {
    const { h, lines } = holder();
    h.take(undefined, 'no sample');
    h.take(undefined, 'no sample');
    assert.deepEqual([h.state, h.rank], ['pessimistic', 1000]);
    assert.deepEqual(lines, ['error reporting the pessimistic rank 1000 until sampling recovers']);
  });
});

describe('ReportLine (the line a report writes)', () => {
  const logged = () => {
    const lines: string[] = [];
    const at = (level: string) => (_: unknown, m: string) => void lines.push(`${level} ${m}`);
    return { lines, log: { info: at('info'), warn: at('warn'), error: at('error') } as never };
  };

  it('leaves out a child elim whose values would pass PIPE_BUF, says so once, and says once that they fit again', () => {
    const { lines, log } = logged();
    let many = true;
    const big = Array.from({ length: 600 }, (_, i): [string, number] => [`v${i}`, 1]);
    const r = new ReportLine('rank', [], () => [{ source: 'scratch', pairs: many ? big : [['v0', 1]] }, { source: 'small', pairs: [['tmp', 2]] }], log);
    assert.equal(r.line(7, undefined), '2 rank 7 tmp 2\n');
    assert.equal(r.line(8, undefined), '2 rank 8 tmp 2\n');
    many = false;
    assert.equal(r.line(9, undefined), '3 rank 9 v0 1 tmp 2\n');
    assert.deepEqual(lines, ["warn child elim scratch's values left out of the report: with them it would exceed 4096 bytes", "info child elim scratch's values fit in the report again"]);
  });

  it('gives the typed ranks under their names, the rank where there are none, and its own values alone when the children fail, said once', () => {
    const { lines, log } = logged();
    const r = new ReportLine('rank', ['rank_cpu', 'rank_mem', 'rank_io'], () => {
      throw new Error('EBADF');
    }, log);
    assert.equal(r.line(5, { rank_cpu: 1, rank_mem: 2, rank_io: 3 }), '4 rank 5 rank_cpu 1 rank_mem 2 rank_io 3\n');
    assert.equal(r.line(6, undefined), '4 rank 6 rank_cpu 6 rank_mem 6 rank_io 6\n');
    assert.deepEqual(lines, ['error child elim values left out of the report']);
  });
});

describe('Ranking (a sample\'s rank)', () => {
  it('names every required collector that failed, refuses a rank that is not finite, and looks for a new model once every MODEL_CHECK_EVERY rankings', () => {
    let refreshes = 0;
    let next = 5;
    const r = new Ranking({ current: () => ({ name: 'm', rank: () => ({ rank: next, model: 'm' }) }), refresh: () => void refreshes++ } as never, ['cpu', 'memory']);
    const ok = { failures: {} } as unknown as Sample;
    assert.equal(r.of({ failures: { cpu: 'cpu: EIO', memory: 'memory: EACCES' } } as unknown as Sample), 'cpu: EIO; memory: EACCES');
    assert.equal(refreshes, 0, 'a failed sample is not a ranking');
    assert.deepEqual(r.of(ok), { rank: 5, model: 'm' });
    next = Number.NaN;
    assert.equal(r.of(ok), 'model m gave a non-finite rank');
    next = 1e9;
    for (let i = 2; i < MODEL_CHECK_EVERY; i++) r.of(ok);
    assert.equal(refreshes, 1);
    assert.equal((r.of(ok) as { rank: number }).rank < 1e9, true, 'clamped');
    assert.equal(refreshes, 2);
  });
});

describe('runElim\'s stages, called alone', () => {
  it('nextDue keeps the grid for a report written on time and starts a new one after a stall', () => {
    const { log, messages } = captureLog();
    assert.equal(nextDue(10_000, 10_400, 10_000, log), 20_000);
    assert.deepEqual(messages(), []);
    // Written 6 s after it was due: the next is an interval after the write, not 4 s later.
    assert.equal(nextDue(10_000, 16_000, 10_000, log), 26_000);
    assert.deepEqual(messages(), ['fell behind schedule; skipping missed reports']);
  });

  it('UnreadReports says once that LIM stopped reading and, with the count, once that it reads again', () => {
    const { log, lines } = captureLog();
    const unread = new UnreadReports(log);
    for (const outcome of ['written', 'dropped', 'dropped', 'replaced', 'written', 'written'] as const) unread.note(outcome);
    assert.deepEqual(lines.map((l) => l.msg), ['LIM is not reading (pipe full); dropping reports until it reads again', 'LIM is reading again; 3 reports were dropped']);
    assert.equal(lines[1]!['dropped'], 3);
  });

  it('attemptsOf fails a synchronous sample that took longer than its limit, and keeps one on time', () => {
    const clock = new FakeClock();
    let takes = 0;
    const attempt = attemptsOf({ sample: () => (clock.advance(takes), sampleWith(0.5)) }, clock, new AbortController().signal);
    takes = 300;
    const late = attempt(200, clock.monotonic());
    assert.ok(!(late instanceof Promise));
    assert.equal(late.failure, 'sample took 300 ms, over its deadline of 200 ms');
    takes = 100;
    const onTime = attempt(200, clock.monotonic());
    assert.ok(!(onTime instanceof Promise));
    assert.equal(onTime.sample?.cpu?.busy, 0.5);
  });
});
