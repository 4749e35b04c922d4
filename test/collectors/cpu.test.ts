import assert from 'node:assert/strict';
import { describe, it, test, type TestContext } from 'node:test';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { AFFINITY_CHECK_EVERY, blockedIn, busyOf, createCpuCollector, cpuFractions, cpuSet, kernelCpuNumbers, leastBusy, Load1Average, meanBlocked, parseStat, scanStat, TIMES_SLOTS, untimedAverage, withQuota } from '../../src/collectors/cpu.js';
import { numberSlots } from '../../src/collectors/text.js';
import { monotonicMs } from '../../src/util/clock.js';
import { CollectorError } from '../../src/util/errors.js';
import { CAPTURED_PROC, fakeHost, fixtureMeta, fixtureText, scannedCpuIdle, scannedStat, tempDir, writeTree } from './helpers.js';
import type { CpuReading } from '../../src/collectors/types.js';

function stat(cpu: string, ...cpus: string[]): string {
  return [`cpu  ${cpu}`, ...cpus.map((times, i) => `cpu${i} ${times}`), 'intr 1 0', 'processes 42', ''].join('\n');
}

test('parseStat reads the aggregate line, the online CPUs and the fork counter of a real /proc/stat', () => {
  const s = parseStat(fixtureText('proc-idle', 't0/proc/stat'));
  assert.deepEqual(s.cpus, ['cpu0', 'cpu1']);
  assert.ok(s.total.idle > 0);
  assert.ok(s.total.user > 0);
  assert.ok((s.processes ?? 0) > 0);
});

test('parseStat treats the times an old kernel does not print as 0', () => {
  const s = parseStat('cpu 10 20 30 40\ncpu0 10 20 30 40\n');
  assert.deepEqual(s.total, { user: 10, nice: 20, system: 30, idle: 40, iowait: 0, irq: 0, softirq: 0, steal: 0 });
});

test('parseStat names the file and the line of a garbled cpu line', () => {
  assert.throws(
    () => parseStat('cpu 1 2 3 4 5 6 7 8\ncpu0 1 2 x 4\n', '/proc/stat'),
    (err: unknown) => err instanceof CollectorError && err.collector === 'cpu' && /\/proc\/stat line 2: system/.test(err.message),
  );
});

test('parseStat rejects a cpu line cut short', () => {
  assert.throws(() => parseStat('cpu 1 2 3\ncpu0 1 2 3\n'), /line 1: expected at least 4 times/);
});

test('parseStat rejects a negative time, which would make a fraction negative', () => {
  assert.throws(() => parseStat('cpu 1 2 3 4\ncpu0 1 -2 3 4\n'), /line 2: nice is not a count/);
});

test('parseStat rejects a file without cpuN lines', () => {
  assert.throws(() => parseStat('cpu 1 2 3 4\nintr 0\n'), /no cpuN lines/);
});

test('the collector sees both CPUs busy under two CPU hogs', (t) => {
  const host = fakeHost(t);
  const c = createCpuCollector(host);
  host.load('proc-cpu', 't0');
  assert.equal(c.collect(0), undefined);
  host.load('proc-cpu', 't1');
  const r = c.collect(fixtureMeta('proc-cpu').elapsedMs);
  assert.ok(r !== undefined);
  assert.ok(r.busy > 0.95, `busy ${r.busy}`);
  assert.equal(r.online, 2);
  assert.ok(Math.abs(r.user + r.system + r.steal - r.busy) < 1e-9);
});

test('the collector sees an idle host as mostly idle', (t) => {
  const host = fakeHost(t);
  const c = createCpuCollector(host);
  host.load('proc-idle', 't0');
  c.collect(0);
  host.load('proc-idle', 't1');
  const r = c.collect(3000);
  assert.ok(r !== undefined && r.busy < 0.3, `busy ${r?.busy}`);
});

test('fractions are over all CPUs: one busy CPU of two is half busy', () => {
  const before = parseStat(stat('0 0 0 0 0 0 0 0', '0 0 0 0', '0 0 0 0'));
  const after = parseStat(stat('100 0 0 100 0 0 0 0', '100 0 0 0', '0 0 0 100'));
  assert.equal(cpuFractions(before, after)?.busy, 0.5);
});

test('user includes nice, system includes irq and softirq, iowait is not busy', () => {
  // Counters that do not start at 0, as no real host's do: each field is a difference.
  const before = parseStat(stat('5 5 5 5 5 5 5 0', '5 5 5 5'));
  const after = parseStat(stat('15 15 15 45 15 15 15 0', '15 15 15 45'));
  assert.deepEqual(cpuFractions(before, after), { user: 0.2, system: 0.3, iowait: 0.1, steal: 0, busy: 0.5, online: 1 });
});

test('a counter that went backwards gives no value for that tick, then rates resume', (t) => {
  const root = tempDir(t);
  const c = createCpuCollector({ procRoot: root });
  writeTree(root, { stat: stat('500 0 100 1000 0 0 0 0', '500 0 100 1000') });
  c.collect(0);
  writeTree(root, { stat: stat('400 0 100 1100 0 0 0 0', '400 0 100 1100') });
  assert.equal(c.collect(10_000), undefined);
  writeTree(root, { stat: stat('500 0 100 1100 0 0 0 0', '500 0 100 1100') });
  assert.equal(c.collect(20_000)?.busy, 1);
});

test('iowait moving back into idle does not drop the tick', () => {
  const before = parseStat(stat('0 0 0 100 50 0 0 0', '0 0 0 100'));
  const after = parseStat(stat('100 0 0 200 40 0 0 0', '100 0 0 200'));
  const r = cpuFractions(before, after);
  assert.ok(r !== undefined);
  assert.equal(r.iowait, 0);
  assert.equal(r.busy, 100 / 190);
});

test('nice, system, steal, irq or softirq going backwards alone (a hypervisor resetting steal) gives no value for that tick, not a negative fraction', () => {
  const before = parseStat(stat('100 50 100 1000 0 50 50 500', '100 50 100 1000'));
  for (const after of ['200 50 200 1100 0 50 50 400', '200 50 200 1100 0 40 50 500', '200 50 200 1100 0 50 40 500', '200 40 200 1100 0 50 50 500', '200 50 90 1100 0 50 50 500']) {
    assert.equal(cpuFractions(before, parseStat(stat(after, '200 50 200 1100'))), undefined, after);
  }
});

test('idle + iowait going backwards alone gives no value for that tick, not a busy share above 1', () => {
  const before = parseStat(stat('100 0 0 1000 100 0 0 0', '100 0 0 1000'));
  const after = parseStat(stat('300 0 0 900 100 0 0 0', '300 0 0 900'));
  assert.equal(cpuFractions(before, after), undefined);
});

test('iowait that grew by more than idle + iowait did (idle moved into iowait) is cut to that: iowait and busy never pass 1 together', () => {
  const before = parseStat(stat('0 0 0 100 0 0 0 0', '0 0 0 100'));
  const after = parseStat(stat('100 0 0 80 30 0 0 0', '100 0 0 80'));
  const r = cpuFractions(before, after);
  assert.ok(r !== undefined);
  assert.equal(r.busy, 100 / 110);
  assert.equal(r.iowait, 10 / 110);
});

test('blockedIn reads the tasks waiting for io from a real /proc/stat, and -1 where there is no count', () => {
  assert.equal(blockedIn(Buffer.from(fixtureText('proc-disks4', 't1/proc/stat'), 'latin1')), 3);
  assert.equal(blockedIn(Buffer.from(stat('1 2 3 4 0 0 0 0', '1 2 3 4'), 'latin1')), -1);
  assert.equal(blockedIn(Buffer.from('cpu  1 2 3 4\nprocs_blocked 12', 'latin1')), 12);
  assert.equal(blockedIn(Buffer.from('cpu  1 2 3 4\nprocs_blocked x\n', 'latin1')), -1);
});

// blockedIn searches the file's last 512 bytes as text first, then the bytes before them.
test('blockedIn finds the last procs_blocked line wherever it is: in the tail, before it, or across its edge', () => {
  const filler = (n: number): string => `extra ${'9'.repeat(n - 7)}\n`; // a line of n bytes
  const head = 'cpu  1 2 3 4\nprocs_blocked 5\n';
  assert.equal(blockedIn(Buffer.from(`${head}${filler(600)}`, 'latin1')), 5);
  assert.equal(blockedIn(Buffer.from(`${head}${filler(600)}procs_blocked 7\n${filler(100)}`, 'latin1')), 7);
  for (let tail = 495; tail <= 515; tail++) {
    // '\nprocs_blocked 8\n' begins `tail` bytes before the end, around the 512 searched as text
    const text = `${head}${filler(700)}procs_blocked 8\n${filler(tail - 17)}`;
    assert.equal(blockedIn(Buffer.from(text, 'latin1')), 8, `procs_blocked's newline ${tail} bytes before the end`);
  }
  assert.equal(blockedIn(Buffer.from(`cpu  1 2 3 4\n${filler(600)}`, 'latin1')), -1);
  // bytes past 0x7f are one character each in latin1, so the text's offsets are the bytes'
  assert.equal(blockedIn(Buffer.from(`${head}${'\u00e9'.repeat(300)}\nprocs_blocked 9\n${'\u00ff'.repeat(100)}\n`, 'latin1')), 9);
});

test('the reading gives the tasks waiting for io as the mean of its interval\'s two ends, read in the same scan of /proc/stat', (t) => {
  const root = tempDir(t);
  const c = createCpuCollector({ procRoot: root });
  writeTree(root, { stat: `${stat('0 0 0 0 0 0 0 0', '0 0 0 0')}procs_running 1\nprocs_blocked 2\n` });
  c.collect(0);
  writeTree(root, { stat: `${stat('100 0 0 100 0 0 0 0', '100 0 0 100')}procs_running 1\nprocs_blocked 7\nsoftirq 0 0\n` });
  assert.equal(c.collect(10_000)?.blocked, 4.5);
});

// procs_blocked at successive reads through the collector, each 10 s after the last
// unless the times (ms) are given.
function blockedSeries(t: TestContext, counts: readonly (number | undefined)[], times?: readonly number[]): (number | undefined)[] {
  const root = tempDir(t);
  const c = createCpuCollector({ procRoot: root });
  return counts.map((n, i) => {
    const line = n === undefined ? '' : `procs_blocked ${n}\n`;
    writeTree(root, { stat: `${stat(`${100 * i} 0 0 ${100 * i} 0 0 0 0`, `${100 * i} 0 0 ${100 * i}`)}procs_running 1\n${line}` });
    return c.collect(times?.[i] ?? 10_000 * i)?.blocked;
  });
}

test('the read before the interval counts only where the interval before it was about as long: reads at no steady pace give the two ends', (t) => {
  // calibrate: another probe's end, its next window's start 0.1 s later, the window's end
  // 10 s after; the daemon: its baseline, the first report 0.5 s later, then every 10 s.
  assert.deepEqual(blockedSeries(t, [9, 2, 4], [0, 100, 10_100]), [undefined, 5.5, 3]);
  assert.deepEqual(blockedSeries(t, [2, 2, 8, 2], [0, 500, 10_500, 20_500]), [undefined, 2, 5, 4]);
});

test('the reading gives the tasks waiting for io as the mean of the last three reads, once there are three', (t) => {
  assert.deepEqual(blockedSeries(t, [2, 7, 3, 8]), [undefined, 4.5, 4, 6]);
});

test('a count at one read that strays from the rest moves the tasks waiting for io by a third of its excess, not a half', (t) => {
  // Four waiters, ten at one read (rank73's series strayed by up to 3 a read): the two
  // ends read 4, 7, 7, 4 (a step of 3); three reads 4, 6, 6, 6, 4 (steps of 2).
  assert.deepEqual(blockedSeries(t, [4, 4, 4, 10, 4, 4, 4]).slice(1), [4, 4, 6, 6, 6, 4]);
});

test('a host with at least as many tasks waiting for io at every read never reads fewer', (t) => {
  const fewer = [1, 3, 0, 5, 2, 2, 7];
  const more = [1, 4, 0, 5, 3, 9, 7];
  const a = blockedSeries(t, fewer);
  const b = blockedSeries(t, more);
  a.forEach((x, i) => assert.ok(x === undefined || b[i]! >= x, `read ${i}: ${b[i]} below ${x}`));
});

// procs_blocked read at each report (reports[i]) and by a peek after it (peeks[i],
// none where undefined), through the collector, each report 10 s after the last.
function peekedSeries(t: TestContext, reports: readonly number[], peeks: readonly (number | undefined)[]): (number | undefined)[] {
  const root = tempDir(t);
  const c = createCpuCollector({ procRoot: root });
  const write = (i: number, n: number): void => writeTree(root, { stat: `${stat(`${100 * i} 0 0 ${100 * i} 0 0 0 0`, `${100 * i} 0 0 ${100 * i}`)}procs_running 1\nprocs_blocked ${n}\n` });
  return reports.map((n, i) => {
    write(i, n);
    const blocked = c.collect(10_000 * i)?.blocked;
    const p = peeks[i];
    if (p !== undefined) {
      write(i, p);
      c.peek?.();
    }
    return blocked;
  });
}

// Sixteen io waiters of oltest's on 2 CPUs, out of their wait around each report's read
// (its instant is theirs to learn), left procs_blocked 0 at every report: the io part 161
// where seen it is 460.5 (2026-12-07, hostile21). The daemon also reads it once between
// two reports, at an instant drawn at random.
test('the reading gives the tasks waiting for io as the mean of the last three peeks between reports, where they were taken', (t) => {
  assert.deepEqual(peekedSeries(t, [0, 0, 0, 0, 0], [16, 17, 18, 19, 20]), [undefined, 16, 16.5, 17, 18]);
});

test('an interval without a peek gives the reports\' reads, and the peeks count again from the next one', (t) => {
  assert.deepEqual(peekedSeries(t, [2, 4, 6, 8], [16, undefined, 10, undefined]), [undefined, 16, 4, 10]);
});

// /proc/stat unreadable (the fds used up, ENOMEM) fails the report's read and the peeks
// alike: the reading after it must not take peeks from before as this interval's.
test('an interval whose peek failed, after a read that failed, gives the reports\' reads, not the peeks of before', (t) => {
  const root = tempDir(t);
  const c = createCpuCollector({ procRoot: root });
  const at = (i: number, n: number): string => `${stat(`${100 * i} 0 0 ${100 * i} 0 0 0 0`, `${100 * i} 0 0 ${100 * i}`)}procs_blocked ${n}\n`;
  writeTree(root, { stat: at(0, 2) });
  c.collect(0);
  writeTree(root, { stat: at(0, 16) });
  c.peek?.();
  writeTree(root, { stat: at(1, 4) });
  assert.equal(c.collect(10_000)?.blocked, 16);
  writeTree(root, { stat: at(1, 17) });
  c.peek?.();
  rmSync(join(root, 'stat'));
  assert.throws(() => c.collect(20_000), CollectorError);
  c.peek?.(); // fails as the read did: no peek this interval
  writeTree(root, { stat: at(3, 9) });
  // 10 s, then 20 s across the failed read: the three reads (2, 4, 9) weigh alike.
  assert.equal(c.collect(30_000)?.blocked, 5);
});

test('the reading gives no tasks waiting for io where the kernel prints none, and its instant alone after such a reading', (t) => {
  const root = tempDir(t);
  const c = createCpuCollector({ procRoot: root });
  writeTree(root, { stat: `${stat('0 0 0 0 0 0 0 0', '0 0 0 0')}procs_running 1\nprocs_blocked 2\n` });
  c.collect(0);
  writeTree(root, { stat: stat('100 0 0 100 0 0 0 0', '100 0 0 100') });
  assert.equal(c.collect(10_000)?.blocked, undefined);
  writeTree(root, { stat: `${stat('200 0 0 200 0 0 0 0', '200 0 0 200')}procs_blocked 6\n` });
  assert.equal(c.collect(20_000)?.blocked, 6);
  // Then the two reads since it, before the third.
  writeTree(root, { stat: `${stat('300 0 0 300 0 0 0 0', '300 0 0 300')}procs_blocked 8\n` });
  assert.equal(c.collect(30_000)?.blocked, 7);
});

// The readers share one buffer: /proc/self/status, read at every sixth report for the
// affinity, is longer than a small host's /proc/stat up to procs_blocked (1 420 bytes
// against 1 126 on a 2-CPU VM), and blockedIn, asked after that read, found nothing.
test('the reading gives the tasks waiting for io at the reports where the affinity is looked at again too', (t) => {
  const root = tempDir(t);
  const status = `Name:\tnode\nCpus_allowed_list:\t0-1\n${'Padding:\t0\n'.repeat(200)}`;
  const statAt = (n: number): string => `${stat(`${n} 0 0 ${n} 0 0 0 0`, `${n} 0 0 ${n}`, '0 0 0 0')}procs_running 1\nprocs_blocked 3\n`;
  writeTree(root, { 'proc/self/status': status, 'proc/stat': statAt(0) });
  assert.ok(status.length > statAt(0).length);
  const c = createCpuCollector({ procRoot: `${root}/proc`, sysRoot: `${root}/sys` });
  c.collect(0);
  const blocked: Array<number | undefined> = [];
  for (let i = 1; i <= 2 * AFFINITY_CHECK_EVERY; i++) {
    writeTree(root, { 'proc/stat': statAt(100 * i) });
    blocked.push(c.collect(10_000 * i)?.blocked);
  }
  assert.deepEqual(blocked, blocked.map(() => 3));
});

test('a CPU going offline skips the tick that straddles it and counts the new set afterwards', (t) => {
  const root = tempDir(t);
  const c = createCpuCollector({ procRoot: root });
  writeTree(root, { stat: stat('0 0 0 0 0 0 0 0', '0 0 0 0', '0 0 0 0') });
  c.collect(0);
  writeTree(root, { stat: stat('100 0 0 300 0 0 0 0', '100 0 0 100') });
  assert.equal(c.collect(10_000), undefined);
  writeTree(root, { stat: stat('200 0 0 300 0 0 0 0', '200 0 0 100') });
  assert.deepEqual(c.collect(20_000), { user: 1, system: 0, iowait: 0, steal: 0, busy: 1, online: 1, minBusy: 1 });
});

test('a counter near 2^64 that stands still leaves the busy share and minBusy exact on a small host', (t) => {
  // A steal counter wrapped below zero, as some hypervisors leave it: 2^64 - 100, frozen.
  // Past 2^53 a double holds it only to 2048 jiffies, more than 2 CPUs give in 10 s.
  const root = tempDir(t);
  const c = createCpuCollector({ procRoot: `${root}/proc`, sysRoot: `${root}/sys` });
  const steal = '18446744073709551516';
  writeTree(root, { 'proc/stat': stat(`0 0 0 0 0 0 0 ${steal}`, `0 0 0 0 0 0 0 ${steal}`, '0 0 0 0 0 0 0 0') });
  c.collect(0);
  writeTree(root, { 'proc/stat': stat(`1000 0 0 1000 0 0 0 ${steal}`, `0 0 0 1000 0 0 0 ${steal}`, '1000 0 0 0 0 0 0 0') });
  const r = c.collect(10_000);
  assert.equal(r?.busy, 0.5);
  assert.equal(r?.steal, 0);
  assert.equal(r?.minBusy, 0);
});

test('a missing /proc/stat is a CollectorError naming the path', (t) => {
  const root = tempDir(t);
  const c = createCpuCollector({ procRoot: root });
  assert.throws(() => c.collect(0), (err: unknown) => err instanceof CollectorError && err.message.includes(`${root}/stat`));
});

const CAPTURES = CAPTURED_PROC.flatMap((f) => [`${f}/t0`, `${f}/t1`]);

// Two CPUs as the kernel prints them, whose cpu1 line the per-CPU tests below garble.
const twoCpus = cpuSet(['cpu0', 'cpu1']);
const twoCpuStat = 'cpu  1 2 3 4 5 6 7 8\ncpu0 11 12 13 14 15 16 17 18\ncpu1 21 22 23 24 25 26 27 28\nintr 0\n';

describe('meanBlocked (the collector\'s procs_blocked stage, called alone)', () => {
  it('is the last read alone at the first reading, and nothing where this read has none', () => {
    assert.equal(meanBlocked(4, -1, -1, 10_000, 0), 4);
    assert.equal(meanBlocked(-1, 3, 2, 10_000, 10_000), undefined);
  });

  it('takes the three reads where the interval before was about as long as this one, else the two ends', () => {
    assert.equal(meanBlocked(6, 3, 0, 10_000, 10_000), 3);
    assert.equal(meanBlocked(6, 3, 0, 10_000, 20_000), 3); // twice as long still counts as steady
    assert.equal(meanBlocked(6, 3, 0, 10_000, 20_001), 4.5);
    assert.equal(meanBlocked(6, 3, 0, 20_001, 10_000), 4.5);
    assert.equal(meanBlocked(6, 3, -1, 10_000, 10_000), 4.5); // no earlier read
    assert.equal(meanBlocked(6, 3, 0, 10_000, 0), 4.5); // no interval before
  });
});

describe('scanStat', () => {
  it('reads the aggregate line and the CPU set of every captured /proc/stat as parseStat does', () => {
    for (const capture of CAPTURES) {
      const text = fixtureText(capture, 'proc/stat');
      const parsed = parseStat(text);
      assert.deepEqual(scannedStat(Buffer.from(text, 'latin1'), cpuSet(parsed.cpus)), parsed.total, capture);
    }
  });

  it('reads each cpuN line\'s idle + iowait of every captured /proc/stat as parseStat does', () => {
    for (const capture of CAPTURES) {
      const text = fixtureText(capture, 'proc/stat');
      const parsed = parseStat(text);
      assert.deepEqual(scannedCpuIdle(Buffer.from(text, 'latin1'), cpuSet(parsed.cpus)), parsed.cpuIdle, capture);
    }
  });

  it('reads a cpuN line that grew past the last reading\'s string, and one more cpu line after intr, as a fresh set does', () => {
    const intr = `intr ${'1 0 '.repeat(1500)}5\n`;
    const set = cpuSet(['cpu0', 'cpu1']);
    assert.deepEqual(scannedCpuIdle(Buffer.from(twoCpuStat.replace('intr 0\n', intr), 'latin1'), set), [29, 49]);
    assert.ok(set.cut > 0 && set.cut + 4096 <= twoCpuStat.length + intr.length, 'the next string ends a page or more before the file');
    const longer = twoCpuStat.replace('27 28', `${'9'.repeat(600)} 28`).replace('intr 0\n', intr);
    assert.deepEqual(scannedCpuIdle(Buffer.from(longer, 'latin1'), set), [29, 49]);
    const another = twoCpuStat.replace('intr 0\n', `${intr}cpu2 1 2 3 4 5 6 7 8\n`);
    assert.equal(scannedCpuIdle(Buffer.from(another, 'latin1'), set), undefined);
  });

  it('leaves to parseStat the per-CPU times of a cpuN line not split by single spaces', () => {
    assert.deepEqual(scannedCpuIdle(Buffer.from(twoCpuStat, 'latin1'), twoCpus), [29, 49]);
    // parseStat splits each of these into the same tokens, where the third single space
    // is no longer before idle.
    for (const garbled of ['21  22 23', '21 22\t23', '21 22\u00a023', '21\r22 23']) {
      const text = twoCpuStat.replace('21 22 23', garbled);
      assert.deepEqual(parseStat(text).cpuIdle, [29, 49], JSON.stringify(garbled));
      assert.equal(scannedCpuIdle(Buffer.from(text, 'latin1'), twoCpus), undefined, JSON.stringify(garbled));
    }
    assert.equal(scannedCpuIdle(Buffer.from(twoCpuStat.replace('21 22 23 24 25 26 27 28', '21 22 23 24'), 'latin1'), twoCpus), undefined, 'four times');
    assert.equal(scannedCpuIdle(Buffer.from(twoCpuStat.replace('21 22 23 24 25', '21 22 23\n24 25'), 'latin1'), twoCpus), undefined, 'a line cut short');
  });

  it('leaves to parseStat an empty idle or iowait before a double space', () => {
    // Each parses, to a cpu1 idle + iowait that fields split at single spaces would get wrong.
    for (const times of ['21 22 23  24 25', '21 22 23 24  25']) {
      const text = twoCpuStat.replace('21 22 23 24 25', times);
      assert.deepEqual(parseStat(text).cpuIdle, [29, 49], JSON.stringify(times));
      assert.equal(scannedCpuIdle(Buffer.from(text, 'latin1'), twoCpus), undefined, JSON.stringify(times));
    }
  });

  it('reads idle and iowait as parseStat does where they hold more digits than a sum of digits holds exactly', () => {
    // Read by Number() as parseStat reads them (until 2026-12-07 digit by digit, and these
    // were left to parseStat): a 17-digit time is the double Number() rounds it to once.
    for (const times of ['21 22 23 29166729164841593 25', '21 22 23 24 29166729164841593', '21 22 23 024 25']) {
      const text = twoCpuStat.replace('21 22 23 24 25', times);
      assert.deepEqual(scannedCpuIdle(Buffer.from(text, 'latin1'), twoCpus), parseStat(text).cpuIdle, JSON.stringify(times));
    }
  });

  it('leaves to parseStat idle or iowait that Number() reads and parseStat does not, and a fraction', () => {
    for (const times of ['21 22 23 1e3 25', '21 22 23 24 1E3', '21 22 23 +24 25', '21 22 23 .5 25', '21 22 23 24 5.', '21 22 23 0x10 25', '21 22 23 24 0X1', '21 22 23 0o7 25', '21 22 23 0O7 25', '21 22 23 24 0b1', '21 22 23 0B1 25', '21 22 23 24.5 25']) {
      const text = twoCpuStat.replace('21 22 23 24 25', times);
      assert.equal(scannedCpuIdle(Buffer.from(text, 'latin1'), twoCpus), undefined, JSON.stringify(times));
    }
  });

  // Since 2026-12-07 idle and iowait are read by Number(), which takes more than
  // parseStat's toNumber; NOT_IN_CPU_LINES keeps out the characters of the forms between
  // them. A property over fields of those characters, digits and '-', of up to 40: each
  // reading scanStat makes must be parseStat's, so that the fast path never takes a
  // field the parser refuses (a 31-digit time did, review75).
  it('reads no idle or iowait that parseStat refuses, and where it reads them reads them as parseStat does', () => {
    const alphabet = '0123456789-+.eExXoObB\tI\u00a0';
    let seed = 75;
    const next = (n: number): number => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return Math.floor(seed / 65536) % n; // the high bits: the low ones of an LCG cycle
    };
    const field = (): string => {
      const digitsOnly = next(2) === 0;
      const length = 1 + next(40);
      let s = next(4) === 0 ? '-' : '';
      for (let k = 0; k < length; k++) s += digitsOnly ? String(next(10)) : alphabet[next(alphabet.length)];
      return s;
    };
    let read = 0;
    for (let run = 0; run < 4000; run++) {
      const text = twoCpuStat.replace('21 22 23 24 25', `21 22 23 ${field()} ${field()}`);
      const scanned = scannedCpuIdle(Buffer.from(text, 'latin1'), twoCpus);
      if (scanned === undefined) continue;
      read++;
      let parsed: number[] | string;
      try {
        parsed = parseStat(text).cpuIdle;
      } catch (err) {
        parsed = (err as Error).message;
      }
      assert.deepEqual(scanned, parsed, JSON.stringify(text.split('\n')[2]));
    }
    assert.ok(read >= 200, `only ${read} of 4000 lines read by scanStat: the property hardly ran`);
  });

  it('leaves to parseStat an idle or iowait of more digits than it reads, and reads one of as many', () => {
    const thirty = twoCpuStat.replace('21 22 23 24 25', `21 22 23 ${'1'.repeat(30)} 25`);
    assert.deepEqual(scannedCpuIdle(Buffer.from(thirty, 'latin1'), twoCpus), parseStat(thirty).cpuIdle);
    for (const times of [`21 22 23 ${'1'.repeat(31)} 25`, `21 22 23 24 ${'0'.repeat(40)}1`]) {
      const text = twoCpuStat.replace('21 22 23 24 25', times);
      assert.equal(scannedCpuIdle(Buffer.from(text, 'latin1'), twoCpus), undefined, JSON.stringify(times));
      assert.throws(() => parseStat(text), /idle is not a count|iowait is not a count/);
    }
  });

  it('reads the cpuN lines where whitespace other than spaces comes only after them', () => {
    for (const after of ['intr 0\t1\n', 'intr 0\r\n', 'intr 0\nctxt\u00a05\n']) {
      const text = twoCpuStat.replace('intr 0\n', after);
      assert.deepEqual(scannedCpuIdle(Buffer.from(text, 'latin1'), twoCpus), [29, 49], JSON.stringify(after));
    }
  });

  it('leaves to parseStat idle or iowait that is not a count: negative, or too large for a double', () => {
    for (const times of ['21 22 23 -24 25', '21 22 23 24 -1', '21 22 23 1e999 25', '21 22 23 24 x']) {
      const text = twoCpuStat.replace('21 22 23 24 25', times);
      assert.equal(scannedCpuIdle(Buffer.from(text, 'latin1'), twoCpus), undefined, JSON.stringify(times));
    }
  });

  it('leaves to parseStat cpuN lines that all hold the same double space, though each has as many fields', () => {
    // Split at single spaces, every line would have an empty second time, and idle would
    // be read one field early: parseStat reads cpu0's idle + iowait as 14 + 15.
    const text = twoCpuStat.replace('cpu0 11 12', 'cpu0 11  12').replace('cpu1 21 22', 'cpu1 21  22');
    assert.deepEqual(parseStat(text).cpuIdle, [29, 49]);
    assert.equal(scannedCpuIdle(Buffer.from(text, 'latin1'), twoCpus), undefined);
  });

  it('leaves to parseStat a file whose first line after the aggregate is not a cpuN line', () => {
    const notFirst = twoCpuStat.replace('cpu0 11', 'xyz0 11');
    assert.equal(scannedStat(Buffer.from(notFirst, 'latin1'), twoCpus), undefined);
    assert.equal(scannedCpuIdle(Buffer.from(notFirst, 'latin1'), twoCpus), undefined);
    assert.deepEqual(parseStat(notFirst).cpus, ['cpu1'], 'parseStat reads one CPU');
  });

  it('reads idle + iowait of cpuN lines of five times, and of a last cpuN line without a newline', () => {
    const five = 'cpu  1 2 3 4 5 6 7 8\ncpu0 11 12 13 14 15\ncpu1 21 22 23 24 25\nintr 0\n';
    assert.deepEqual(scannedCpuIdle(Buffer.from(five, 'latin1'), twoCpus), [29, 49]);
    const last = twoCpuStat.replace('\nintr 0\n', '');
    assert.deepEqual(scannedCpuIdle(Buffer.from(last, 'latin1'), twoCpus), [29, 49]);
  });

  it('leaves to parseStat a file whose cpuN lines are not the ones it knows', () => {
    const text = stat('1 2 3 4 5 6 7 8', '1 2 3 4', '1 2 3 4');
    assert.ok(scannedStat(Buffer.from(text, 'latin1'), cpuSet(['cpu0', 'cpu1'])) !== undefined);
    assert.equal(scannedStat(Buffer.from(text, 'latin1'), cpuSet([])), undefined);
    assert.equal(scannedStat(Buffer.from(text, 'latin1'), cpuSet(['cpu0'])), undefined);
    assert.equal(scannedStat(Buffer.from(text, 'latin1'), cpuSet(['cpu0', 'cpu1', 'cpu2'])), undefined);
    assert.equal(scannedStat(Buffer.from(text, 'latin1'), cpuSet(['cpu0', 'cpu2'])), undefined);
  });

  it('reads a file that ends after its cpuN lines, with or without an intr line or a final newline', () => {
    const known = cpuSet(['cpu0', 'cpu1']);
    const lines = 'cpu  1 2 3 4 5 6 7 8\ncpu0 1 1 1 1\ncpu1 0 1 2 3';
    for (const text of [lines, `${lines}\n`, `${lines}\nctxt 5\n`, `${lines}\nintr 0\n`]) {
      assert.deepEqual(scannedStat(Buffer.from(text, 'latin1'), known), parseStat(text).total, JSON.stringify(text));
    }
    assert.equal(scannedStat(Buffer.from(`${lines}\nctxt 5\ncpu2 0 0 0 0\n`, 'latin1'), known), undefined, 'a cpu line after another line');
  });

  it('tells cpu1 from cpu10, and a name followed by a tab from one followed by a space', () => {
    const text = 'cpu  1 2 3 4 5 6 7 8\ncpu10 1 1 1 1\nintr 0\n';
    assert.equal(scannedStat(Buffer.from(text, 'latin1'), cpuSet(['cpu1'])), undefined);
    assert.deepEqual(scannedStat(Buffer.from(text, 'latin1'), cpuSet(['cpu10'])), parseStat(text).total);
    assert.equal(scannedStat(Buffer.from(text.replace('cpu10 ', 'cpu10\t'), 'latin1'), cpuSet(['cpu10'])), undefined);
  });

  it('leaves to parseStat an aggregate line not as the kernel prints it', () => {
    const known = cpuSet(['cpu0']);
    assert.equal(scannedStat(Buffer.from('cpu 10 20 30 40\ncpu0 10 20 30 40\n', 'latin1'), known), undefined, 'an old kernel: four times');
    assert.equal(scannedStat(Buffer.from('cpu\t1 2 3 4 5 6 7 8 0 0\ncpu0 1 2 3 4\n', 'latin1'), known), undefined);
    assert.equal(scannedStat(Buffer.from('cpu  1 2 3 4 5 6 7 0x8 0 0\ncpu0 1 2 3 4\n', 'latin1'), known), undefined);
    assert.equal(scannedStat(Buffer.from('cpu  1 2 3 4 5 6 7 -8 0 0\ncpu0 1 2 3 4\n', 'latin1'), known), undefined);
    assert.equal(scannedStat(Buffer.from('intr 0\ncpu  1 2 3 4 5 6 7 8 0 0\ncpu0 1 2 3 4\n', 'latin1'), known), undefined);
  });

  it('leaves to parseStat a cpu line after the intr line, or cpuN lines with another line between them', () => {
    const text = stat('1 2 3 4 5 6 7 8', '1 2 3 4');
    const known = cpuSet(['cpu0']);
    assert.ok(scannedStat(Buffer.from(text, 'latin1'), known) !== undefined);
    assert.equal(scannedStat(Buffer.from(`${text}cpu1 1 2 3 4\n`, 'latin1'), known), undefined);
    const split = 'cpu  1 2 3 4 5 6 7 8\ncpu0 1 2 3 4\nctxt 5\ncpu1 1 2 3 4\n';
    assert.equal(scannedStat(Buffer.from(split, 'latin1'), cpuSet(['cpu0', 'cpu1'])), undefined);
    assert.equal(parseStat(split).cpus.length, 2, 'parseStat still reads both');
    // Also where each cpuN line holds as many fields.
    const even = 'cpu  1 2 3 4 5 6 7 8\ncpu0 1 2 3 4 5 6\nctxt\ncpu1 1 2 3 4 5 6\n';
    assert.equal(scannedStat(Buffer.from(even, 'latin1'), cpuSet(['cpu0', 'cpu1'])), undefined);
    assert.equal(scannedCpuIdle(Buffer.from(even, 'latin1'), cpuSet(['cpu0', 'cpu1'])), undefined);
  });
});

test('scanStat reads the cpuN lines of a 64-CPU host as parseStat does, also where one line has a time more', () => {
  const n = 64;
  const names = Array.from({ length: n }, (_, i) => `cpu${i}`);
  const lines = names.map((c, i) => `${c} ${1000 + i} 7 ${300 + i} ${9_000_000 + 17 * i} ${i % 3} 0 ${i} 0 0 0`);
  const text = [`cpu  ${Array.from({ length: 10 }, (_, f) => 100 * f).join(' ')}`, ...lines, 'intr 5 0 1', 'processes 42', ''].join('\n');
  assert.deepEqual(scannedCpuIdle(Buffer.from(text, 'latin1'), cpuSet(names)), parseStat(text).cpuIdle);
  const longer = text.replace(`${lines[5]!}\n`, `${lines[5]!} 0\n`);
  assert.deepEqual(parseStat(longer).cpuIdle, parseStat(text).cpuIdle);
  assert.deepEqual(scannedCpuIdle(Buffer.from(longer, 'latin1'), cpuSet(names)), parseStat(longer).cpuIdle);
});

test('a garbled aggregate line after good ticks is a CollectorError naming the file and line 1', (t) => {
  const root = tempDir(t);
  const c = createCpuCollector({ procRoot: root });
  writeTree(root, { stat: stat('0 0 0 0 0 0 0 0', '0 0 0 0') });
  c.collect(0);
  writeTree(root, { stat: stat('10 0 0 10 0 0 0 0', '10 0 0 10') });
  c.collect(10_000);
  writeTree(root, { stat: stat('20 0 0 2x 0 0 0 0', '20 0 0 20') });
  assert.throws(() => c.collect(20_000), (err: unknown) => err instanceof CollectorError && err.message.includes(`${root}/stat line 1: idle is not a count`));
});

test('a cpuN line whose idle Number() reads and parseStat does not, after good ticks, is a CollectorError naming the line', (t) => {
  const root = tempDir(t);
  const c = createCpuCollector({ procRoot: root });
  writeTree(root, { stat: stat('0 0 0 0 0 0 0 0', '0 0 0 0') });
  c.collect(0);
  writeTree(root, { stat: stat('10 0 0 10 0 0 0 0', '10 0 0 10') });
  c.collect(10_000);
  writeTree(root, { stat: stat('20 0 0 20 0 0 0 0', '20 0 0 2e1 0') });
  assert.throws(() => c.collect(20_000), (err: unknown) => err instanceof CollectorError && err.message.includes(`${root}/stat line 2: idle is not a count`));
});

test('a CPU replaced by another between ticks, with as many online, skips the tick that straddles it', (t) => {
  const root = tempDir(t);
  const c = createCpuCollector({ procRoot: root });
  const twoOf = (names: string[], user: number): string =>
    [`cpu  ${user} 0 0 100 0 0 0 0 0 0`, ...names.map((n) => `${n} ${user / 2} 0 0 50 0 0 0 0 0 0`), 'intr 0', ''].join('\n');
  writeTree(root, { stat: twoOf(['cpu0', 'cpu1'], 0) });
  c.collect(0);
  writeTree(root, { stat: twoOf(['cpu0', 'cpu1'], 100) });
  assert.ok(c.collect(10_000) !== undefined);
  writeTree(root, { stat: twoOf(['cpu0', 'cpu2'], 200) });
  assert.equal(c.collect(20_000), undefined);
  writeTree(root, { stat: twoOf(['cpu0', 'cpu2'], 300) });
  assert.equal(c.collect(30_000)?.online, 2);
});

test('minBusy is the busy share of the least busy CPU: 0 beside tasks pinned to the other', (t) => {
  const root = tempDir(t);
  const c = createCpuCollector({ procRoot: `${root}/proc`, sysRoot: `${root}/sys` });
  writeTree(root, { 'proc/stat': stat('0 0 0 0 0 0 0 0', '0 0 0 0 0', '0 0 0 0 0') });
  c.collect(0);
  // 10 s at 100 Hz on 2 CPUs: cpu0 idle throughout, cpu1 busy throughout (taskset -c 1).
  writeTree(root, { 'proc/stat': stat('1000 0 0 1000 0 0 0 0', '0 0 0 1000 0', '1000 0 0 0 0') });
  const r = c.collect(10_000);
  assert.equal(r?.busy, 0.5);
  assert.equal(r?.minBusy, 0);
  // Both half busy: the same busy share, and no CPU free the whole time.
  writeTree(root, { 'proc/stat': stat('2000 0 0 2000 0 0 0 0', '500 0 0 1500 0', '1500 0 0 500 0') });
  assert.equal(c.collect(20_000)?.minBusy, 0.5);
});

// 10 s on 2 CPUs as a tickless kernel with tick-based accounting counts it while a
// program runs 87.5 % of the time on cpu1 between ticks, sleeping across each (the
// tick-accounting cheat): charged no tick, it leaves cpu1 125 jiffies of exact idle
// time and nothing else; cpu0 idles throughout.
function cheatedStat(root: string): void {
  writeTree(root, { 'proc/stat': stat('0 0 0 0 0 0 0 0', '0 0 0 0 0', '0 0 0 0 0') });
}

// The cpu collector of the tree at root with its times held against the clock
// (kernelClock): collect(ms) is given ms, and its read returns heldMs later (at once by default).
function onKernelClock(root: string): { collect(ms: number, heldMs?: number): CpuReading | undefined } {
  let readAt = 0;
  const c = createCpuCollector({ procRoot: `${root}/proc`, sysRoot: `${root}/sys`, kernelClock: () => readAt });
  return {
    collect(ms, heldMs = 0) {
      readAt = ms + heldMs;
      return c.collect(ms);
    },
  };
}

test('time the kernel left out of a CPU\'s times reads as busy: a program charged no tick does not make its CPU idle', (t) => {
  const root = tempDir(t);
  cheatedStat(root);
  const c = onKernelClock(root);
  c.collect(0);
  writeTree(root, { 'proc/stat': stat('0 0 0 1125 0 0 0 0', '0 0 0 1000 0', '0 0 0 125 0') });
  const r = c.collect(10_000);
  // 1125 idle jiffies of at least 1990 (2000, less the rounding's and the tick's 10).
  assert.equal(r?.busy, (1990 - 1125) / 1990);
  assert.equal(r?.minBusy, 0); // cpu0 was free
});

test('a program charged no tick on every CPU leaves the host nearly all busy, where it read idle', (t) => {
  const root = tempDir(t);
  cheatedStat(root);
  const c = onKernelClock(root);
  c.collect(0);
  writeTree(root, { 'proc/stat': stat('0 0 0 250 0 0 0 0', '0 0 0 125 0', '0 0 0 125 0') });
  const r = c.collect(10_000);
  assert.ok(r !== undefined && r.busy > 0.87, `busy ${r?.busy}`);
  assert.ok(r.minBusy !== undefined && r.minBusy > 0.87, `minBusy ${r.minBusy}`);
});

test('the time left out is counted in CPUs and averaged as the 1-minute load, for the load average that misses it too', (t) => {
  const root = tempDir(t);
  cheatedStat(root);
  const c = onKernelClock(root);
  c.collect(0);
  writeTree(root, { 'proc/stat': stat('0 0 0 250 0 0 0 0', '0 0 0 125 0', '0 0 0 125 0') });
  assert.equal(c.collect(10_000)?.untimed1, (1990 - 250) / 1000);
  // The program stops: the next 10 s are counted whole, and the average decays.
  writeTree(root, { 'proc/stat': stat('0 0 0 2250 0 0 0 0', '0 0 0 1125 0', '0 0 0 1125 0') });
  assert.equal(c.collect(20_000)?.untimed1, 1.74 * Math.exp(-10_000 / 60_000));
});

test('times short of the clock by no more than their rounding and the tick\'s lag read as they are', (t) => {
  const root = tempDir(t);
  cheatedStat(root);
  const c = onKernelClock(root);
  c.collect(0);
  // An idle host's 10 s on 2 CPUs, 1 990 jiffies of 2 000 printed.
  writeTree(root, { 'proc/stat': stat('2 0 0 1988 0 0 0 0', '1 0 0 994 0', '1 0 0 994 0') });
  assert.equal(c.collect(10_000)?.busy, 2 / 1990);
});

test('a read held before the kernel printed its times does not make the next interval read busy', (t) => {
  const root = tempDir(t);
  cheatedStat(root);
  const c = onKernelClock(root);
  // Given 0, the first read waits 1.5 s (the elim preempted, a page fault) before the
  // kernel prints: the next read, 10 s after that, finds an idle host's 10 s on 2 CPUs.
  c.collect(0, 1500);
  writeTree(root, { 'proc/stat': stat('2 0 0 1998 0 0 0 0', '1 0 0 999 0', '1 0 0 999 0') });
  const r = c.collect(11_500);
  assert.equal(r?.busy, 2 / 2000);
  assert.equal(r?.untimed1, undefined);
});

test('the reading gives the CPUs\' worth of time lavarank\'s own process ran over the interval', (t) => {
  const root = tempDir(t);
  cheatedStat(root);
  let readAt = 0;
  let ownUs = 7_000_000; // the process's CPU time so far
  const c = createCpuCollector({ procRoot: `${root}/proc`, sysRoot: `${root}/sys`, kernelClock: () => readAt, ownCpuUs: () => ownUs });
  c.collect(0);
  // 0.5 s of the process's time in the 10 s interval, between the reads' returns.
  readAt = 10_000;
  ownUs += 500_000;
  writeTree(root, { 'proc/stat': stat('2 0 0 1998 0 0 0 0', '1 0 0 999 0', '1 0 0 999 0') });
  assert.equal(c.collect(10_000)?.own, 0.05);
});

test('a tree that is not procfs gives no time of lavarank\'s own, which is not the tree\'s host\'s', (t) => {
  const root = tempDir(t);
  cheatedStat(root);
  const c = createCpuCollector({ procRoot: `${root}/proc`, sysRoot: `${root}/sys` });
  c.collect(0);
  writeTree(root, { 'proc/stat': stat('2 0 0 1998 0 0 0 0', '1 0 0 999 0', '1 0 0 999 0') });
  const r = c.collect(10_000);
  assert.ok(r !== undefined && !('own' in r), JSON.stringify(r));
});

test('the real /proc gives lavarank\'s own time over the interval from the process\'s CPU time', () => {
  const c = createCpuCollector();
  c.collect(monotonicMs());
  const start = process.cpuUsage();
  // Spin on the CPU for 20 ms of this process's time.
  while (process.cpuUsage(start).user + process.cpuUsage(start).system < 20_000);
  const r = c.collect(monotonicMs());
  c.close?.();
  assert.ok(r?.own !== undefined && r.own > 0, `own ${r?.own}`);
});

// The floor takes lavarank's time off the least busy CPU's share (accountedFor): a read
// that failed between them must leave both over the same span, since the last good read.
test('after a read of /proc/stat that failed, lavarank\'s own time is over the same span as the least busy CPU\'s share', (t) => {
  const root = tempDir(t);
  cheatedStat(root);
  let readAt = 0;
  let ownUs = 0;
  const c = createCpuCollector({ procRoot: `${root}/proc`, sysRoot: `${root}/sys`, kernelClock: () => readAt, ownCpuUs: () => ownUs });
  c.collect(0);
  readAt = 10_000;
  ownUs = 100_000;
  writeTree(root, { 'proc/stat': stat('200 0 0 1800 0 0 0 0', '100 0 0 900 0', '100 0 0 900 0') });
  assert.equal(c.collect(10_000)?.own, 0.01);
  readAt = 20_000;
  ownUs = 1_000_000;
  writeTree(root, { 'proc/stat': 'cpu  not the kernel\'s\n' });
  assert.throws(() => c.collect(20_000), CollectorError);
  // 20 s since the last good read: CPU 0 busy 600 of 2000 ticks, CPU 1 1000 of 2000.
  readAt = 30_000;
  ownUs = 1_100_000;
  writeTree(root, { 'proc/stat': stat('1800 0 0 4200 0 0 0 0', '700 0 0 2300 0', '1100 0 0 1900 0') });
  const r = c.collect(30_000);
  assert.ok(r?.minBusy !== undefined && Math.abs(r.minBusy - 0.3) < 1e-12, `minBusy ${r?.minBusy}`);
  assert.equal(r.own, 0.05);
});

test('after a read of /proc/stat that failed, the tasks waiting for io take the read before only while the pace stays within twice', (t) => {
  const root = tempDir(t);
  const c = createCpuCollector({ procRoot: root });
  const at = (i: number, blocked: number): string => `${stat(`${100 * i} 0 0 ${100 * i} 0 0 0 0`, `${100 * i} 0 0 ${100 * i}`)}procs_blocked ${blocked}\n`;
  const series = (steps: ReadonlyArray<[number, number | undefined]>): Array<number | string | undefined> =>
    steps.map(([ms, blocked], i) => {
      writeTree(root, { stat: blocked === undefined ? 'cpu  not the kernel\'s\n' : at(i + 1, blocked) });
      try {
        return c.collect(ms)?.blocked;
      } catch {
        return 'failed';
      }
    });
  // 10 s, then 20 s across the failed read: the three reads (2, 4, 9) weigh alike.
  assert.deepEqual(series([[0, 2], [10_000, 4], [20_000, undefined], [30_000, 9]]), [undefined, 3, 'failed', 5]);
});

test('the times of a tree that is not procfs are not held against the clock', (t) => {
  const root = tempDir(t);
  cheatedStat(root);
  const c = createCpuCollector({ procRoot: `${root}/proc`, sysRoot: `${root}/sys` });
  c.collect(0);
  writeTree(root, { 'proc/stat': stat('0 0 0 250 0 0 0 0', '0 0 0 125 0', '0 0 0 125 0') });
  assert.equal(c.collect(10_000)?.busy, 0);
});

test('minBusy leaves out the CPUs the kernel isolates from the scheduler', (t) => {
  const root = tempDir(t);
  writeTree(root, { 'sys/devices/system/cpu/isolated': '0\n', 'proc/stat': stat('0 0 0 0 0 0 0 0', '0 0 0 0 0', '0 0 0 0 0') });
  const c = createCpuCollector({ procRoot: `${root}/proc`, sysRoot: `${root}/sys` });
  c.collect(0);
  writeTree(root, { 'proc/stat': stat('1000 0 0 1000 0 0 0 0', '0 0 0 1000 0', '1000 0 0 0 0') });
  assert.equal(c.collect(10_000)?.minBusy, 1); // cpu0 idles because nothing may run there
});

test('minBusy leaves out the CPUs outside the affinity lavarank runs with, which no job started beside it gets', (t) => {
  const root = tempDir(t);
  // systemd's CPUAffinity=1-2: cpu0 is left to the system, and idles.
  writeTree(root, { 'proc/self/status': 'Name:\tnode\nCpus_allowed:\t6\nCpus_allowed_list:\t1-2\n', 'proc/stat': stat('0 0 0 0 0 0 0 0', '0 0 0 0 0', '0 0 0 0 0', '0 0 0 0 0') });
  const c = createCpuCollector({ procRoot: `${root}/proc`, sysRoot: `${root}/sys` });
  c.collect(0);
  writeTree(root, { 'proc/stat': stat('2000 0 0 1000 0 0 0 0', '0 0 0 1000 0', '1000 0 0 0 0', '1000 0 0 0 0') });
  assert.equal(c.collect(10_000)?.minBusy, 1);
  // Without the status line (an old kernel), every CPU counts: cpu0 idled throughout.
  writeTree(root, { 'proc/self/status': 'Name:\tnode\n' });
  const d = createCpuCollector({ procRoot: `${root}/proc`, sysRoot: `${root}/sys` });
  writeTree(root, { 'proc/stat': stat('0 0 0 0 0 0 0 0', '0 0 0 0 0', '0 0 0 0 0', '0 0 0 0 0') });
  d.collect(0);
  writeTree(root, { 'proc/stat': stat('2000 0 0 1000 0 0 0 0', '0 0 0 1000 0', '1000 0 0 0 0', '1000 0 0 0 0') });
  assert.equal(d.collect(10_000)?.minBusy, 0);
});

test('minBusy counts every CPU where the affinity line is garbage or missing', (t) => {
  for (const status of ['Name:\tnode\nCpus_allowed_list:\tgarbage\n', 'Name:\tnode\nCpus_allowed_list:\t\n', 'Name:\tnode\n']) {
    const root = tempDir(t);
    writeTree(root, { 'proc/self/status': status, 'proc/stat': stat('0 0 0 0 0 0 0 0', '0 0 0 0 0', '0 0 0 0 0') });
    const c = createCpuCollector({ procRoot: `${root}/proc`, sysRoot: `${root}/sys` });
    c.collect(0);
    writeTree(root, { 'proc/stat': stat('1000 0 0 1000 0 0 0 0', '0 0 0 1000 0', '1000 0 0 0 0') });
    assert.equal(c.collect(10_000)?.minBusy, 0, JSON.stringify(status));
  }
});

test('the affinity is read again when a CPU comes online, since a cpuset then changes it', (t) => {
  const root = tempDir(t);
  writeTree(root, { 'proc/self/status': 'Name:\tnode\nCpus_allowed_list:\t1\n', 'proc/stat': stat('0 0 0 0 0 0 0 0', '0 0 0 0 0', '0 0 0 0 0') });
  const c = createCpuCollector({ procRoot: `${root}/proc`, sysRoot: `${root}/sys` });
  c.collect(0);
  writeTree(root, { 'proc/stat': stat('1000 0 0 1000 0 0 0 0', '0 0 0 1000 0', '1000 0 0 0 0') });
  assert.equal(c.collect(10_000)?.minBusy, 1); // cpu0 is outside the affinity
  // cpu2 comes online and the cpuset now takes cpu0 and cpu2 in too.
  writeTree(root, { 'proc/self/status': 'Name:\tnode\nCpus_allowed_list:\t0-2\n', 'proc/stat': stat('1000 0 0 1000 0 0 0 0', '0 0 0 1000 0', '1000 0 0 0 0', '0 0 0 0 0') });
  assert.equal(c.collect(20_000), undefined); // a new CPU set: no rate this tick
  writeTree(root, { 'proc/stat': stat('2500 0 0 2500 0 0 0 0', '0 0 0 2000 0', '2000 0 0 0 0', '500 0 0 500 0') });
  assert.equal(c.collect(30_000)?.minBusy, 0, 'cpu0 idled and is now allowed');
});

test('jobCpus (cpu.job_cpus) stands for the affinity, for jobs a JOB_STARTER confines to CPUs LIM is not confined to', (t) => {
  const root = tempDir(t);
  // LIM, and so lavarank, may run anywhere; the jobs only on cpu1, where they queue.
  writeTree(root, { 'proc/self/status': 'Name:\tnode\nCpus_allowed_list:\t0-1\n', 'proc/stat': stat('0 0 0 0 0 0 0 0', '0 0 0 0 0', '0 0 0 0 0') });
  const c = createCpuCollector({ procRoot: `${root}/proc`, sysRoot: `${root}/sys`, jobCpus: [1] });
  const d = createCpuCollector({ procRoot: `${root}/proc`, sysRoot: `${root}/sys` });
  c.collect(0);
  d.collect(0);
  writeTree(root, { 'proc/stat': stat('1000 0 0 1000 0 0 0 0', '0 0 0 1000 0', '1000 0 0 0 0') });
  assert.equal(c.collect(10_000)?.minBusy, 1, 'cpu0 idles, but no job may run there');
  assert.equal(d.collect(10_000)?.minBusy, 0, 'without it, the affinity: cpu0 is free');
});

test('jobCpus names isolated CPUs too, for a site whose launchers pin jobs to the CPUs isolcpus= keeps from the system', (t) => {
  const root = tempDir(t);
  // isolcpus=1: the jobs run there, pinned, and queue; cpu0 is the system's and idles.
  writeTree(root, { 'sys/devices/system/cpu/isolated': '1\n', 'proc/stat': stat('0 0 0 0 0 0 0 0', '0 0 0 0 0', '0 0 0 0 0') });
  const c = createCpuCollector({ procRoot: `${root}/proc`, sysRoot: `${root}/sys`, jobCpus: [1] });
  c.collect(0);
  writeTree(root, { 'proc/stat': stat('1000 0 0 1000 0 0 0 0', '0 0 0 1000 0', '1000 0 0 0 0') });
  assert.equal(c.collect(10_000)?.minBusy, 1, 'cpu1, the jobs\' CPU, was busy throughout');
});

test('where a job may use only some online CPUs, the reading gives their count and busy share, and the cores they make', (t) => {
  const root = tempDir(t);
  // isolcpus=2-3 on a 4-CPU host of 2 cores (0,2 and 1,3): jobs get cpu0 and cpu1, one core each.
  const topology = (cpu: number, siblings: string): Record<string, string> => ({ [`sys/devices/system/cpu/cpu${cpu}/topology/core_cpus_list`]: `${siblings}\n` });
  writeTree(root, {
    'sys/devices/system/cpu/isolated': '2-3\n',
    ...topology(0, '0,2'),
    ...topology(1, '1,3'),
    ...topology(2, '0,2'),
    ...topology(3, '1,3'),
    'proc/stat': stat('0 0 0 0 0 0 0 0', '0 0 0 0 0', '0 0 0 0 0', '0 0 0 0 0', '0 0 0 0 0'),
  });
  const c = createCpuCollector({ procRoot: `${root}/proc`, sysRoot: `${root}/sys` });
  c.collect(0);
  // 10 s at 100 Hz: cpu0 busy throughout, cpu1 half, cpu2 and cpu3 idle.
  writeTree(root, { 'proc/stat': stat('1500 0 0 2500 0 0 0 0', '1000 0 0 0 0', '500 0 0 500 0', '0 0 0 1000 0', '0 0 0 1000 0') });
  const r = c.collect(10_000);
  assert.equal(r?.busy, 1500 / 4000);
  assert.equal(r?.jobCpus, 2);
  assert.equal(r?.jobBusy, 0.75);
  assert.equal(r?.minBusy, 0.5);
  assert.equal(r?.jobCores, undefined, 'two CPUs on two cores: no SMT among them');
  // cpu.job_cpus naming the two threads of core 0: two CPUs, one core.
  const d = createCpuCollector({ procRoot: `${root}/proc`, sysRoot: `${root}/sys`, jobCpus: [0, 2] });
  writeTree(root, { 'proc/stat': stat('0 0 0 0 0 0 0 0', '0 0 0 0 0', '0 0 0 0 0', '0 0 0 0 0', '0 0 0 0 0') });
  d.collect(0);
  writeTree(root, { 'proc/stat': stat('1500 0 0 2500 0 0 0 0', '1000 0 0 0 0', '500 0 0 500 0', '0 0 0 1000 0', '0 0 0 1000 0') });
  const e = d.collect(10_000);
  assert.equal(e?.jobCpus, 2);
  assert.equal(e?.jobBusy, 0.5);
  assert.equal(e?.jobCores, 1);
});

// lxcfs (LXD, Kubernetes' lxcfs webhooks) shows a container's cpuset in /proc/stat
// renumbered from cpu0, while its sysfs online list and the affinity keep the kernel's
// numbers: a container on CPUs 2-5 read as cpu0-cpu3, with Cpus_allowed_list 2-5.
test('under lxcfs, which renumbers a container\'s CPUs in /proc/stat from cpu0, every CPU of its cpuset counts as the job\'s', (t) => {
  const root = tempDir(t);
  writeTree(root, {
    'proc/self/status': 'Name:\tnode\nCpus_allowed_list:\t2-5\n',
    'sys/devices/system/cpu/online': '2-5\n',
    'proc/stat': stat('0 0 0 0 0 0 0 0', '0 0 0 0 0', '0 0 0 0 0', '0 0 0 0 0', '0 0 0 0 0'),
  });
  const c = createCpuCollector({ procRoot: `${root}/proc`, sysRoot: `${root}/sys` });
  c.collect(0);
  // 10 s at 100 Hz: two tasks on the container's last two CPUs, its first two idle.
  writeTree(root, { 'proc/stat': stat('2000 0 0 2000 0 0 0 0', '0 0 0 1000 0', '0 0 0 1000 0', '1000 0 0 0 0', '1000 0 0 0 0') });
  const r = c.collect(10_000);
  assert.equal(r?.busy, 0.5);
  assert.equal(r?.jobCpus, undefined, `read as a container of ${r?.jobCpus} CPUs, busy ${r?.jobBusy}`);
  assert.equal(r?.minBusy, 0, 'two of its CPUs were free');
});

// lxcfs with a cpuset moved to as many other CPUs (LXD's limits.cpu changed from 2-5 to
// 4-7, or rebalanced under a count): the cpuN lines stay cpu0-cpu3, only the online list
// tells which CPUs they are now. Two tasks on CPUs 4 and 5, the container's cpu0 and cpu1
// after the move. Where the affinity does not change with it (cpu.job_cpus, or LIM's own
// cpuset of 4-5 inside the container), the lines kept the old numbers for good, and the
// two busy CPUs a job may use read as idle.
function lxcfsMoved(t: TestContext, options: { jobCpus?: number[]; affinity: string }): { jobCpus?: number; jobBusy?: number } | undefined {
  const root = tempDir(t);
  const busy = [0, 0, 0, 0];
  const idle = [0, 0, 0, 0];
  const tick = (running: number[]): void => {
    for (let i = 0; i < 4; i++) {
      if (running.includes(i)) busy[i]! += 1000;
      else idle[i]! += 1000;
    }
    const line = (i: number): string => `${busy[i]} 0 0 ${idle[i]} 0 0 0 0`;
    writeTree(root, { 'proc/stat': stat(`${busy.reduce((a, b) => a + b)} 0 0 ${idle.reduce((a, b) => a + b)} 0 0 0 0`, line(0), line(1), line(2), line(3)) });
  };
  writeTree(root, { 'proc/self/status': `Name:\tnode\nCpus_allowed_list:\t${options.affinity}\n`, 'sys/devices/system/cpu/online': '2-5\n' });
  tick([]);
  const c = createCpuCollector({ procRoot: `${root}/proc`, sysRoot: `${root}/sys`, ...(options.jobCpus === undefined ? {} : { jobCpus: options.jobCpus }) });
  c.collect(0);
  writeTree(root, { 'sys/devices/system/cpu/online': '4-7\n' });
  let last;
  for (let k = 1; k <= AFFINITY_CHECK_EVERY; k++) {
    tick([0, 1]);
    last = c.collect(k * 10_000);
  }
  return last;
}

test('under lxcfs with cpu.job_cpus, a cpuset moved to as many other CPUs is numbered anew at the next look at the online list', (t) => {
  const r = lxcfsMoved(t, { jobCpus: [4, 5], affinity: '2-5' });
  assert.deepEqual([r?.jobCpus, r?.jobBusy], [2, 1], 'CPUs 4 and 5, both busy');
});

test('under lxcfs, a cpuset moved to as many other CPUs is numbered anew though the affinity (LIM\'s own narrower cpuset) stays', (t) => {
  const r = lxcfsMoved(t, { affinity: '4-5' });
  assert.deepEqual([r?.jobCpus, r?.jobBusy], [2, 1], 'CPUs 4 and 5, both busy');
});

test('kernelCpuNumbers keeps the names of a kernel\'s own /proc/stat: with gaps, as the online list, or while a hotplug makes them disagree', () => {
  const names = (...n: number[]): string[] => n.map((i) => `cpu${i}`);
  assert.deepEqual(kernelCpuNumbers(names(0, 1, 3), [0, 1, 3]), [0, 1, 3]);
  assert.deepEqual(kernelCpuNumbers(names(0, 1, 2, 3), [0, 1, 2, 3]), [0, 1, 2, 3]);
  assert.deepEqual(kernelCpuNumbers(names(0, 1, 2, 3), [0, 1, 2, 3, 8]), [0, 1, 2, 3]);
  assert.deepEqual(kernelCpuNumbers(names(0, 1, 2, 3), undefined), [0, 1, 2, 3]);
  assert.deepEqual(kernelCpuNumbers(names(0, 1, 2, 3), [2, 3, 4, 5]), [2, 3, 4, 5], 'lxcfs: the container\'s cpuset');
});

// The kernel's per-CPU idle time steps back now and then (a read racing a CPU's exit
// from idle, prometheus/node_exporter#1903; a CPU offline and back between two reads).
// One such step made jobBusy unknown, and the rank then read the whole host: a cpuset
// of 8 CPUs of 64, full, ranked 0.0 instead of 110.7.
test('a CPU whose idle time went backwards is left out of the job CPUs\' busy share and minBusy, not the whole reading', (t) => {
  const root = tempDir(t);
  writeTree(root, { 'proc/self/status': 'Name:\tnode\nCpus_allowed_list:\t0-1\n', 'proc/stat': stat('0 0 0 2 0 0 0 0', '0 0 0 1 0', '0 0 0 1 0', '0 0 0 0 0', '0 0 0 0 0') });
  const c = createCpuCollector({ procRoot: `${root}/proc`, sysRoot: `${root}/sys` });
  c.collect(0);
  // 10 s at 100 Hz: cpu0 and cpu1, the jobs' CPUs, busy throughout, cpu0's idle read one
  // jiffy back; cpu2 and cpu3 idle.
  writeTree(root, { 'proc/stat': stat('2000 0 0 2001 0 0 0 0', '1000 0 0 0 0', '1000 0 0 1 0', '0 0 0 1000 0', '0 0 0 1000 0') });
  const r = c.collect(10_000);
  assert.equal(r?.jobCpus, 2);
  assert.ok(r?.jobBusy !== undefined && r.jobBusy > 0.99, `jobBusy ${r?.jobBusy}`);
  assert.ok(r?.minBusy !== undefined && r.minBusy > 0.99, `minBusy ${r?.minBusy}`);
});

test('where a job may use every online CPU, the reading has no job CPUs: the host-wide figures are the job\'s', (t) => {
  const root = tempDir(t);
  writeTree(root, { 'proc/self/status': 'Name:\tnode\nCpus_allowed_list:\t0-1\n', 'proc/stat': stat('0 0 0 0 0 0 0 0', '0 0 0 0 0', '0 0 0 0 0') });
  const c = createCpuCollector({ procRoot: `${root}/proc`, sysRoot: `${root}/sys` });
  c.collect(0);
  writeTree(root, { 'proc/stat': stat('1000 0 0 1000 0 0 0 0', '0 0 0 1000 0', '1000 0 0 0 0') });
  const r = c.collect(10_000);
  assert.equal(r?.busy, 0.5);
  assert.deepEqual([r?.jobCpus, r?.jobBusy, r?.jobCores], [undefined, undefined, undefined]);
  // Every CPU left out (a job_cpus list of offline CPUs): nothing to tell, the host-wide figures stand.
  const d = createCpuCollector({ procRoot: `${root}/proc`, sysRoot: `${root}/sys`, jobCpus: [7] });
  writeTree(root, { 'proc/stat': stat('0 0 0 0 0 0 0 0', '0 0 0 0 0', '0 0 0 0 0') });
  d.collect(0);
  writeTree(root, { 'proc/stat': stat('1000 0 0 1000 0 0 0 0', '0 0 0 1000 0', '1000 0 0 0 0') });
  const e = d.collect(10_000);
  assert.equal(e?.busy, 0.5);
  assert.equal(e?.jobCpus, undefined);
});

// /proc/stat of a 4-CPU host after k reports of 10 s at 100 Hz: cpu0 busy, the other three idle.
function oneBusyOfFour(k: number): string {
  return stat(`${1000 * k} 0 0 ${3000 * k} 0 0 0 0`, `${1000 * k} 0 0 0 0`, `0 0 0 ${1000 * k} 0`, `0 0 0 ${1000 * k} 0`, `0 0 0 ${1000 * k} 0`);
}

// A cpu collector on oneBusyOfFour's host whose affinity is `list`, after its first reading.
function withAffinity(t: TestContext, list: string): { root: string; c: ReturnType<typeof createCpuCollector> } {
  const root = tempDir(t);
  writeTree(root, { 'proc/self/status': `Name:\tnode\nCpus_allowed_list:\t${list}\n`, 'proc/stat': oneBusyOfFour(0) });
  const c = createCpuCollector({ procRoot: `${root}/proc`, sysRoot: `${root}/sys` });
  c.collect(0);
  return { root, c };
}

test('the affinity is looked at again every few reports, since a cpuset can change with no CPU going on or off line', (t) => {
  const { root, c } = withAffinity(t, '0-1');
  const at = oneBusyOfFour;
  // systemctl set-property AllowedCPUs=0-3: the cpuset widens, no CPU comes on line.
  writeTree(root, { 'proc/self/status': 'Name:\tnode\nCpus_allowed_list:\t0-3\n' });
  const seen: (number | undefined)[] = [];
  for (let k = 1; k <= AFFINITY_CHECK_EVERY; k++) {
    writeTree(root, { 'proc/stat': at(k) });
    seen.push(c.collect(k * 10_000)?.jobCpus);
  }
  assert.deepEqual(seen, [...Array<number>(AFFINITY_CHECK_EVERY - 1).fill(2), undefined], 'two CPUs until the affinity is looked at again, then every CPU');
  // Narrowed again to cpu0 alone: busy throughout.
  writeTree(root, { 'proc/self/status': 'Name:\tnode\nCpus_allowed_list:\t0\n' });
  let last;
  for (let k = AFFINITY_CHECK_EVERY + 1; k <= 2 * AFFINITY_CHECK_EVERY; k++) {
    writeTree(root, { 'proc/stat': at(k) });
    last = c.collect(k * 10_000);
  }
  assert.deepEqual([last?.jobCpus, last?.jobBusy], [1, 1]);
});

test('an affinity moved to as many other CPUs is seen at the next look, not only a wider or narrower one', (t) => {
  const { root, c } = withAffinity(t, '0-1');
  const at = oneBusyOfFour;
  writeTree(root, { 'proc/self/status': 'Name:\tnode\nCpus_allowed_list:\t2-3\n' });
  let last;
  for (let k = 1; k <= AFFINITY_CHECK_EVERY; k++) {
    writeTree(root, { 'proc/stat': at(k) });
    last = c.collect(k * 10_000);
  }
  assert.deepEqual([last?.jobCpus, last?.jobBusy, last?.minBusy], [2, 0, 0], 'cpu2 and cpu3, both idle');
});

test('the tasks on the CPUs no job may use are averaged as the kernel averages the 1-minute load', (t) => {
  const root = tempDir(t);
  // isolcpus=2-3: CPUs 2-3 idle for two reports, then both busy (a burst begins there).
  let user = 0;
  let idle = 0;
  const per = [0, 0, 0, 0];
  const idles = [0, 0, 0, 0];
  const step = (busy: readonly number[]): string => {
    for (let i = 0; i < 4; i++) {
      per[i]! += 1000 * busy[i]!;
      idles[i]! += 1000 * (1 - busy[i]!);
    }
    user = per.reduce((a, b) => a + b, 0);
    idle = idles.reduce((a, b) => a + b, 0);
    return stat(`${user} 0 0 ${idle} 0 0 0 0`, ...per.map((u, i) => `${u} 0 0 ${idles[i]} 0`));
  };
  writeTree(root, { 'sys/devices/system/cpu/isolated': '2-3\n', 'proc/stat': step([0, 0, 0, 0]) });
  const c = createCpuCollector({ procRoot: `${root}/proc`, sysRoot: `${root}/sys` });
  c.collect(0);
  writeTree(root, { 'proc/stat': step([1, 0, 0, 0]) });
  assert.equal(c.collect(10_000)?.jobElsewhere1, 0);
  writeTree(root, { 'proc/stat': step([1, 0, 0, 0]) });
  assert.equal(c.collect(20_000)?.jobElsewhere1, 0);
  writeTree(root, { 'proc/stat': step([1, 0, 1, 1]) });
  const r = c.collect(30_000);
  assert.equal(r?.jobBusy, 0.5);
  assert.ok(Math.abs(r!.jobElsewhere1! - 2 * (1 - Math.exp(-10 / 60))) < 1e-9, `${r?.jobElsewhere1}: two tasks for 10 s of a minute's average`);
  // Kept up for a minute more, the average nears the two tasks.
  let last;
  for (let k = 4; k <= 9; k++) {
    writeTree(root, { 'proc/stat': step([1, 0, 1, 1]) });
    last = c.collect(k * 10_000);
  }
  assert.ok(Math.abs(last!.jobElsewhere1! - 2 * (1 - Math.exp(-70 / 60))) < 1e-9, String(last?.jobElsewhere1));
});

test('busyOf gives the busy share of the CPUs left in, less those whose counter went backwards, and nothing when no CPU is left', () => {
  assert.equal(busyOf([0, 0, 0], [0, 50, 100], 300, new Set([2])), 0.75);
  assert.equal(busyOf([0, 0], [0, 100], 200, new Set()), 0.5);
  assert.equal(busyOf([5, 5], [6, 4], 200, new Set()), 0.99);
  assert.equal(busyOf([5, 5], [4, 4], 200, new Set()), undefined);
  assert.equal(busyOf([0], [50], 100, new Set([0])), undefined);
  assert.equal(busyOf([0, 0], [0, 0], 0, new Set()), undefined);
  assert.equal(busyOf([0, 0], [150, 150], 200, new Set()), 0); // more idle than the CPUs' time (rounding): 0, not below
});

test('leastBusy leaves out a CPU whose counter went backwards, and gives nothing for no time or no CPU left', () => {
  assert.equal(leastBusy([5, 5], [6, 4], 200), 0.99);
  assert.equal(leastBusy([5, 5], [4, 4], 200), undefined);
  assert.equal(leastBusy([5, 5], [5, 5], 0), undefined);
  assert.equal(leastBusy([0], [50], 100, new Set([0])), undefined);
  assert.equal(leastBusy([0, 0], [25, 0], 100), 0.5);
  assert.equal(leastBusy([0, 0], [90, 0], 100), 0); // more idle than a CPU's share (rounding): 0, not below
});

// A container of `cpus: 2` (cpu.max 200000 100000) under cgroup v2 with its own cgroup
// namespace, on a 4-CPU host (oneBusyOfFour's), its cgroup having used `usage` µs and
// been throttled `throttled` µs.
function inContainer(root: string, max: string, usage: number, throttled: number): void {
  writeTree(root, {
    'proc/self/cgroup': '0::/\n',
    'proc/self/mountinfo': '31 20 0:27 / /sys/fs/cgroup ro,nosuid,nodev,noexec,relatime - cgroup2 cgroup ro\n',
    'sys/fs/cgroup/cpu.max': `${max} 100000\n`,
    'sys/fs/cgroup/cpu.stat': `usage_usec ${usage}\nuser_usec ${usage}\nsystem_usec 0\nnr_periods 100\nnr_throttled 10\nthrottled_usec ${throttled}\nnr_bursts 0\nburst_usec 0\n`,
  });
}

test('in a container with a CPU quota below the CPUs a job may use, the reading gives the quota and what the container used and was throttled', (t) => {
  const root = tempDir(t);
  inContainer(root, '200000', 0, 0);
  writeTree(root, { 'proc/stat': oneBusyOfFour(0) });
  const c = createCpuCollector({ procRoot: `${root}/proc`, sysRoot: `${root}/sys` });
  c.collect(0);
  inContainer(root, '200000', 10_000_000, 5_000_000);
  writeTree(root, { 'proc/stat': oneBusyOfFour(1) });
  const r = c.collect(10_000);
  assert.equal(r?.busy, 0.25, 'the machine\'s figures stay');
  assert.deepEqual([r?.quotaCpus, r?.quotaUsed, r?.quotaThrottled, r?.quotaTasks1], [2, 1, 0.5, 1.5]);
});

test('a quota no smaller than the CPUs a job may use, or none, gives no quota in the reading', (t) => {
  for (const max of ['400000', 'max']) {
    const root = tempDir(t);
    inContainer(root, max, 0, 0);
    writeTree(root, { 'proc/stat': oneBusyOfFour(0) });
    const c = createCpuCollector({ procRoot: `${root}/proc`, sysRoot: `${root}/sys` });
    c.collect(0);
    inContainer(root, max, 10_000_000, 0);
    writeTree(root, { 'proc/stat': oneBusyOfFour(1) });
    const r = c.collect(10_000);
    assert.equal(r?.busy, 0.25);
    assert.equal(r?.quotaCpus, undefined, max);
  }
});

test('a quota set or changed while the daemon runs is seen at the next look at the affinity', (t) => {
  const root = tempDir(t);
  inContainer(root, 'max', 0, 0);
  writeTree(root, { 'proc/stat': oneBusyOfFour(0) });
  const c = createCpuCollector({ procRoot: `${root}/proc`, sysRoot: `${root}/sys` });
  c.collect(0);
  // docker update --cpus 1
  inContainer(root, '100000', 0, 0);
  let k = 1;
  for (; k <= AFFINITY_CHECK_EVERY; k++) {
    writeTree(root, { 'proc/stat': oneBusyOfFour(k) });
    inContainer(root, '100000', k * 10_000_000, 0);
    const r = c.collect(k * 10_000);
    assert.equal(r?.quotaCpus, undefined, `report ${k}: not looked at yet, or no delta yet`);
  }
  writeTree(root, { 'proc/stat': oneBusyOfFour(k) });
  inContainer(root, '100000', k * 10_000_000, 0);
  const r = c.collect(k * 10_000);
  assert.deepEqual([r?.quotaCpus, r?.quotaUsed], [1, 1]);
});

describe('the cpu collector\'s stages, called alone', () => {
  it('Load1Average takes its first value as it is, then moves 1 − 1/e of the way to a value held a minute', () => {
    const a = new Load1Average();
    assert.equal(a.add(4, 1_000), 4);
    assert.ok(Math.abs(a.add(0, 61_000) - 4 / Math.E) < 1e-12);
    assert.equal(a.add(2, 61_000), 2); // no time passed: the value as it is
  });

  it('withQuota adds a quota of fewer CPUs than a job may use, its tasks averaged, and nothing for one of as many', () => {
    const reading = { busy: 0.5, online: 4, jobCpus: 3 } as CpuReading;
    const tasks = new Load1Average();
    withQuota(reading, { cpus: 3, used: 1, throttled: 0.5 }, tasks, 10_000);
    assert.equal(reading.quotaCpus, undefined);
    withQuota(reading, { cpus: 2, used: 1, throttled: 0.5 }, tasks, 20_000);
    assert.equal(reading.quotaCpus, 2);
    assert.equal(reading.quotaThrottled, 0.5);
    assert.equal(reading.quotaTasks1, 1.5);
  });

  it('untimedAverage counts the time left out in CPUs and keeps no average while none was left out', () => {
    assert.equal(untimedAverage(undefined, 0, 10_000), undefined);
    assert.equal(untimedAverage(undefined, 100, 0), undefined);
    assert.equal(untimedAverage(undefined, 100, 10_000), 0.1); // 100 jiffies of 10 ms over 10 s
    // Once there is an average, an interval with nothing left out lowers it.
    assert.ok(Math.abs(untimedAverage(0.1, 0, 60_000)! - 0.1 / Math.E) < 1e-12);
  });
});

// Whole /proc/stat texts of 1 to 160 CPUs, read one after another with the CpuSet carried
// between them as the collector carries it (its `cut` ends the next string before intr's
// numbers where that leaves a page out), the counters gaining digits (a line grows past
// the cut) and, now and then, a line garbled, a CPU gone or one more cpu line after intr:
// whenever the fast path reads a text, its total and each CPU's idle + iowait are
// parseStat's, over parseStat's CPUs; a text parseStat refuses it never reads.
test('scanStat, carried from reading to reading, reads every /proc/stat it reads as parseStat does', () => {
  const counter = fc.oneof(fc.nat({ max: 999 }), fc.nat(), fc.maxSafeNat());
  const line = fc.array(counter, { minLength: 10, maxLength: 10 });
  const garble = fc.constantFrom('none', 'none', 'none', 'none', 'double space', 'tab', 'drop cpu', 'cpu after intr', 'four times', 'plus', 'letter');
  const stat = (aggregate: number[], cpus: number[][], intrs: number, how: string, at: number): string => {
    const lines = [`cpu  ${aggregate.join(' ')}`, ...cpus.map((t, i) => `cpu${i} ${t.join(' ')}`)];
    const k = 1 + (at % cpus.length);
    if (how === 'double space') lines[k] = lines[k]!.replace(' ', '  ').replace(/ (\d+) /, ' $1  ');
    if (how === 'tab') lines[k] = lines[k]!.replace(/ (\d+)$/, '\t$1');
    if (how === 'drop cpu' && cpus.length > 1) lines.splice(k, 1);
    if (how === 'four times') lines[k] = lines[k]!.split(' ').slice(0, 5).join(' ');
    if (how === 'plus') lines[k] = lines[k]!.replace(/^(\S+ \d+ \d+ \d+ )/, '$1+');
    if (how === 'letter') lines[k] = lines[k]!.replace(/(\d) /, '$1x ');
    lines.push(`intr ${'7 0 '.repeat(intrs)}1`, 'ctxt 5', 'procs_blocked 0');
    if (how === 'cpu after intr') lines.push(`cpu${cpus.length} 1 2 3 4 5 6 7 8 0 0`);
    return `${lines.join('\n')}\n`;
  };
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 160 }),
      fc.array(fc.record({ aggregate: line, cpus: fc.array(line, { minLength: 160, maxLength: 160 }), intrs: fc.integer({ min: 0, max: 4000 }), how: garble, at: fc.nat() }), { minLength: 1, maxLength: 4 }),
      (n, readings) => {
        let known: ReturnType<typeof cpuSet> | undefined;
        for (const r of readings) {
          const text = stat(r.aggregate, r.cpus.slice(0, n), r.intrs, r.how, r.at);
          let parsed: ReturnType<typeof parseStat> | undefined;
          try {
            parsed = parseStat(text);
          } catch {
            parsed = undefined;
          }
          known ??= cpuSet(parsed?.cpus ?? Array.from({ length: n }, (_, i) => `cpu${i}`));
          const into = numberSlots(TIMES_SLOTS);
          const idle = numberSlots(known.names.length);
          if (!scanStat(Buffer.from(text, 'latin1'), known, into, idle)) continue;
          assert.ok(parsed !== undefined, `scanStat read a text parseStat refuses (${r.how})`);
          const t = parsed.total;
          assert.deepEqual(into.slice(0, 8), [t.user, t.nice, t.system, t.idle, t.iowait, t.irq, t.softirq, t.steal]);
          assert.deepEqual(parsed.cpus, known.names);
          assert.deepEqual([...idle], parsed.cpuIdle);
        }
      },
    ),
    { numRuns: 300, seed: 24 },
  );
});
