import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  DEFAULT_SCHEDULER,
  acceptsJob,
  hostTimings,
  lastTick,
  loadSampleTime,
  normalizeRq,
  r15sSortKey,
  rankSampleTime,
  refreshDue,
  reservedAt,
} from '../../src/simulate/mbatchd.js';
import { seededRandom } from '../../src/util/random.js';
import { percentile } from '../../src/util/stats.js';

describe('normalizeRq', () => {
  it('gives LIM\'s effective run queue: (raw / nprocs + 1) / cpuFactor below one task per CPU', () => {
    assert.equal(normalizeRq(0, 1, 4), 1);
    assert.equal(normalizeRq(2, 1, 4), 1.125);
    assert.equal(normalizeRq(8, 2, 4), 1.5);
  });

  it('rises by one per CPU-full of tasks beyond the CPUs', () => {
    assert.equal(normalizeRq(8, 1, 4), 3);
    assert.equal(normalizeRq(12, 1, 4), 4);
  });

  it('prefers, among equally loaded hosts, the one with more CPUs or the faster one', () => {
    assert.ok(normalizeRq(2, 1, 8) < normalizeRq(2, 1, 4));
    assert.ok(r15sSortKey(normalizeRq(2, 1.5, 4), 1.5) < r15sSortKey(normalizeRq(2, 1, 4), 1));
  });

  it('caps the fraction of a partly filled CPU at 0.9 on a host of more than ten CPUs, as the C code does', () => {
    // 31 tasks on 16 CPUs: k1 = 15/16 is capped at 0.9, so f = 0.9 × (1/16) / 0.1 = 0.5625
    assert.equal(normalizeRq(31, 1, 16), Math.fround(0.5625 + 0.4375 * (31 / 16) + 1));
  });

  it('sorts r15s by (normalised + 1) / cpuFactor, so that an idle slow host can come after a busy fast one', () => {
    assert.equal(r15sSortKey(1, 2), 1);
    assert.ok(r15sSortKey(1, 4) < r15sSortKey(0, 1));
  });

  it('keeps a negative load at 0 and an unknown one unknown', () => {
    assert.equal(normalizeRq(-1, 1, 4), 0);
    assert.equal(normalizeRq(2147483647, 1, 4), 2147483647);
  });
});

describe('lastTick', () => {
  it('is the latest tick at or before t, and undefined before the first', () => {
    assert.equal(lastTick(25, 10, 3), 23);
    assert.equal(lastTick(23, 10, 3), 23);
    assert.equal(lastTick(2, 10, 3), undefined);
    // a tick that floating point puts a hair after t is still the tick at t
    assert.ok(Math.abs((lastTick(0.3, 0.1, 0.1) ?? NaN) - 0.3) < 1e-9);
  });
});

describe('staleness of the rank mbatchd sees', () => {
  // For a change on a host at time c: the first refresh whose rank sample was taken
  // after c, and how long after c that refresh was.
  const delays = (master: boolean): number[] => {
    const s = DEFAULT_SCHEDULER;
    const rand = seededRandom(11);
    const out: number[] = [];
    for (const timing of hostTimings(400, s, rand)) {
      const t = { ...timing, master };
      const c = 100 + rand() * 100;
      for (let R = 10; R < 400; R += 20) {
        const at = rankSampleTime(t, R, s);
        if (at !== undefined && at >= c) {
          out.push(R - c);
          break;
        }
      }
    }
    return out.sort((a, b) => a - b);
  };

  it('reaches mbatchd 5 to 50 s after a change on a non-master host, 25 s on average', () => {
    const d = delays(false);
    assert.equal(d.length, 400);
    assert.ok(d[0]! >= 5, `min ${d[0]}`);
    assert.ok(d[d.length - 1]! <= 50, `max ${d[d.length - 1]}`);
    const mean = d.reduce((a, b) => a + b, 0) / d.length;
    assert.ok(mean > 20 && mean < 35, `mean ${mean}`);
    assert.ok(percentile(d, 90) > 35, `p90 ${percentile(d, 90)}`);
  });

  it('reaches mbatchd sooner from the master host, whose LIM reads its own elim', () => {
    const master = delays(true);
    const other = delays(false);
    assert.ok(master[master.length - 1]! <= 35);
    assert.ok(percentile(master, 50) < percentile(other, 50));
  });

  it('has no rank before the first report has been read and sent', () => {
    const t = { master: false, elimPhase: 1, pollPhase: 4, exchangePhase: 14 };
    assert.equal(rankSampleTime(t, 10, DEFAULT_SCHEDULER), undefined);
    assert.equal(rankSampleTime(t, 30, DEFAULT_SCHEDULER), 1 + 10 * Math.floor((29 - 1) / 10));
  });

  it('uses exactly the given age with a fixed staleness', () => {
    const s = { ...DEFAULT_SCHEDULER, staleness: 30 };
    const t = { master: false, elimPhase: 1, pollPhase: 4, exchangePhase: 14 };
    assert.equal(rankSampleTime(t, 100, s), 70);
    assert.equal(loadSampleTime(t, 100, s), 70);
    // no rank yet while the given age reaches back before the elim's first report
    assert.equal(rankSampleTime(t, 31, s), undefined);
    assert.equal(rankSampleTime(t, 32, s), 2);
  });

  it('reads r15s at the host\'s last load exchange', () => {
    const t = { master: true, elimPhase: 1, pollPhase: 4, exchangePhase: 7 };
    assert.equal(loadSampleTime(t, 50, DEFAULT_SCHEDULER), 37);
  });
});

describe('reservedAt', () => {
  const r = { value: 40, duration: 40, decay: 1 };

  it('is the whole value for a job that has not run yet, decaying linearly to 0 over the duration', () => {
    assert.equal(reservedAt(r, 0), 40);
    assert.equal(reservedAt(r, 10), 30);
    assert.equal(reservedAt(r, 30), 10);
    assert.equal(reservedAt(r, 40), 0);
    assert.equal(reservedAt(r, 55), 0);
  });

  it('decays faster with a larger decay exponent', () => {
    assert.equal(reservedAt({ ...r, decay: 2 }, 20), 10);
  });
});

describe('sessions', () => {
  it('refreshes loads at the first session, then at the first one more than LOAD_UPDATE_INTVL later', () => {
    const s = DEFAULT_SCHEDULER;
    const refreshes: number[] = [];
    let last: number | undefined;
    for (let t = 10; t <= 90; t += s.mbdSleep) {
      if (refreshDue(t, last, s)) {
        refreshes.push(t);
        last = t;
      }
    }
    assert.deepEqual(refreshes, [10, 30, 50, 70, 90]); // every 20 s with MBD_SLEEP_TIME=10
    // a session exactly LOAD_UPDATE_INTVL after the last refresh is not more than it
    const five = { ...s, mbdSleep: 5 };
    assert.equal(refreshDue(15, 0, five), false);
    assert.equal(refreshDue(20, 0, five), true);
  });

  it('lets a host take one job per session with JOB_ACCEPT_INTERVAL=1, any number with 0', () => {
    const s = DEFAULT_SCHEDULER;
    assert.equal(acceptsJob(20, 20, s, 1), false);
    assert.equal(acceptsJob(30, 20, s, 1), true);
    assert.equal(acceptsJob(20, 20, s, 0), true);
  });
});
