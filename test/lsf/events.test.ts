import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { describe, test } from 'node:test';
import { parseJobStatusLine, readSuspensions, Suspensions } from '../../src/lsf/events.js';
import { ParseError } from '../../src/util/errors.js';

const T0 = 1_800_000_000;
const RUSAGE = '1.000000 0.100000 5000 0 -1 0 0 800 0 0 0 16 -1 0 0 0 16 8 -1';

// A JOB_STATUS line as OpenLava's writeJobStatus() writes it (src/lsbatch/lib/lsb.log.c).
function status(time: number, jobId: number, jStatus: number, idx = 0, withRusage = false): string {
  return `"JOB_STATUS" "33" ${time} ${jobId} ${jStatus} 0 0 0.0000 0 ${withRusage ? `1 ${RUSAGE}` : '0'} 0 ${idx}`;
}

describe('parseJobStatusLine', () => {
  test('reads the time, job, state and array index, with or without the rusage fields', () => {
    assert.deepEqual(parseJobStatusLine(status(T0, 42, 8, 3)), { time: T0, jobId: 42, jStatus: 8, idx: 3, rusage: false });
    assert.deepEqual(parseJobStatusLine(status(T0, 42, 4, 3, true)), { time: T0, jobId: 42, jStatus: 4, idx: 3, rusage: true });
  });

  test('skips other records and the position header', () => {
    assert.equal(parseJobStatusLine('#1234'), undefined);
    assert.equal(parseJobStatusLine(`"JOB_NEW" "33" ${T0} 42 0 1`), undefined);
  });

  test('refuses a number written in quotes, as writeJobStatus never writes one', () => {
    assert.throws(() => parseJobStatusLine(`"JOB_STATUS" "33" "${T0}" 7 8`, 'lsb.events:3'), /^ParseError: lsb\.events:3: eventTime: expected an integer, found "1800000000"$/);
  });

  test('names the field of a JOB_STATUS it cannot read', () => {
    assert.throws(() => parseJobStatusLine(`"JOB_STATUS" "33" ${T0} x 8`, 'lsb.events:7'), (err: unknown) => err instanceof ParseError && err.message === 'lsb.events:7: jobId: expected an integer, found "x"');
  });
});

describe('Suspensions', () => {
  test('adds up the suspended intervals within the run, system and user suspensions alike', () => {
    const s = new Suspensions();
    for (const e of [
      { time: T0 + 100, jobId: 1, idx: 0, jStatus: 8 }, // SSUSP
      { time: T0 + 160, jobId: 1, idx: 0, jStatus: 4 }, // RUN
      { time: T0 + 200, jobId: 1, idx: 0, jStatus: 16 }, // USUSP
      { time: T0 + 230, jobId: 1, idx: 0, jStatus: 16 }, // still
      { time: T0 + 240, jobId: 1, idx: 0, jStatus: 64 }, // DONE
      { time: T0 + 100, jobId: 2, idx: 0, jStatus: 4 },
    ]) s.add(e);
    assert.equal(s.secondsWithin(1, 0, T0, T0 + 300), 100);
    assert.equal(s.secondsWithin(1, 0, T0 + 150, T0 + 300), 50); // a reused id's older run does not count
    assert.equal(s.secondsWithin(2, 0, T0, T0 + 300), 0);
    assert.equal(s.jobs, 1);
  });

  test('counts no suspended time for a job pending again, whose state shares no bit with a suspension', () => {
    const s = new Suspensions();
    s.add({ time: T0 + 50, jobId: 9, idx: 0, jStatus: 1, rusage: true }); // PEND, requeued
    s.add({ time: T0 + 80, jobId: 9, idx: 0, jStatus: 4 }); // RUN
    assert.equal(s.secondsWithin(9, 0, T0, T0 + 100), 0);
  });

  test('counts a suspension still open at the end of the log up to the job\'s end', () => {
    const s = new Suspensions();
    s.add({ time: T0 + 10, jobId: 5, idx: 2, jStatus: 8 });
    assert.equal(s.secondsWithin(5, 2, T0, T0 + 40), 30);
    assert.equal(s.secondsWithin(5, 1, T0, T0 + 40), 0);
  });
});

describe('Suspensions, with the host unreachable', () => {
  test('keeps a job suspended while its host was unreachable (UNKWN), until it is resumed', () => {
    // bstop, then sbatchd down for maintenance: mbatchd logs UNKWN alone, then the job's
    // state again when the host is back (mbd.host.c), then RUN at bresume.
    const s = new Suspensions();
    for (const e of [
      { time: T0 + 100, jobId: 3, idx: 0, jStatus: 16 }, // USUSP
      { time: T0 + 130, jobId: 3, idx: 0, jStatus: 0x10000 }, // UNKWN
      { time: T0 + 190, jobId: 3, idx: 0, jStatus: 16 }, // back: still USUSP
      { time: T0 + 220, jobId: 3, idx: 0, jStatus: 4 }, // RUN
    ]) s.add(e);
    assert.equal(s.secondsWithin(3, 0, T0, T0 + 300), 120);
  });
});

describe('Suspensions, with a job id reused', () => {
  test('a suspension of a later run of the same job id counts nothing for the earlier run', () => {
    const s = new Suspensions();
    for (const e of [
      { time: T0 + 10, jobId: 9, idx: 0, jStatus: 8 }, // first run: 10..20
      { time: T0 + 20, jobId: 9, idx: 0, jStatus: 4 },
      { time: T0 + 1000, jobId: 9, idx: 0, jStatus: 16 }, // a later run of id 9: 1000..1100
      { time: T0 + 1100, jobId: 9, idx: 0, jStatus: 64 },
    ]) s.add(e);
    assert.equal(s.secondsWithin(9, 0, T0, T0 + 100), 10);
    assert.equal(s.secondsWithin(9, 0, T0 + 900, T0 + 1050), 50); // cut at the run's end
  });

  test('a suspension left open by an earlier run counts only from the start of this one', () => {
    const s = new Suspensions();
    s.add({ time: T0 + 10, jobId: 9, idx: 0, jStatus: 8 });
    assert.equal(s.secondsWithin(9, 0, T0 + 500, T0 + 600), 100);
  });
});

describe('readSuspensions', () => {
  test('keeps only the first maxProblems problems but counts every malformed JOB_STATUS', async () => {
    const text = ['"JOB_STATUS" "33" a', '"JOB_STATUS" "33" b', '"JOB_STATUS" "33" c', ''].join('\n');
    const stats = await readSuspensions(Readable.from([text]), new Suspensions(), { source: 'e', maxProblems: 2 });
    assert.equal(stats.malformed, 3);
    assert.deepEqual(stats.problems, ['e:1: eventTime: expected an integer, found "a"', 'e:2: eventTime: expected an integer, found "b"']);
  });

  test('counts every line it read, and a last line cut short without its newline as incomplete', async () => {
    const text = ['#48', status(T0 + 10, 7, 8), status(T0 + 40, 7, 4)].join('\n');
    const s = new Suspensions();
    const stats = await readSuspensions(Readable.from([text]), s, { source: 'lsb.events' });
    assert.deepEqual({ lines: stats.lines, incomplete: stats.incomplete, statusRecords: stats.statusRecords }, { lines: 3, incomplete: 1, statusRecords: 1 });
    assert.equal(s.secondsWithin(7, 0, T0, T0 + 100), 90); // the cut RUN was not taken
  });

  test('reads a log, locating a malformed JOB_STATUS as file:line and skipping the rest', async () => {
    const text = ['#48', `"JOB_NEW" "33" ${T0} 7 0`, status(T0 + 10, 7, 8), '"JOB_STATUS" "33" broken', status(T0 + 40, 7, 4), ''].join('\n');
    const s = new Suspensions();
    const stats = await readSuspensions(Readable.from([text]), s, { source: 'lsb.events' });
    assert.equal(stats.statusRecords, 2);
    assert.equal(stats.malformed, 1);
    assert.deepEqual(stats.problems, ['lsb.events:4: eventTime: expected an integer, found "broken"']);
    assert.equal(s.secondsWithin(7, 0, T0, T0 + 100), 30);
  });
});

describe('Suspensions, across an lsb.events switch', () => {
  // mbatchd's switch_log() (src/lsbatch/daemons/mbd.log.c) renames lsb.events to
  // lsb.events.1 and writes a new lsb.events that copies, with their own times, the
  // records of every job still in core since its start: its JOB_STATUS lines too.
  test('counts once a suspension a running job\'s records repeat in the new lsb.events', async () => {
    const before = ['#48', `"JOB_START" "33" ${T0} 7 4`, status(T0 + 100, 7, 8), status(T0 + 160, 7, 4), ''].join('\n');
    const after = ['#96', `"JOB_NEW" "33" ${T0 - 5} 7 0`, `"JOB_START" "33" ${T0} 7 4`, status(T0 + 100, 7, 8), status(T0 + 160, 7, 4), status(T0 + 400, 7, 64), ''].join('\n');
    const s = new Suspensions();
    await readSuspensions(Readable.from([before]), s, { source: 'lsb.events.1' });
    await readSuspensions(Readable.from([after]), s, { source: 'lsb.events' });
    assert.equal(s.secondsWithin(7, 0, T0, T0 + 400), 60);
  });
});

describe('Suspensions.requeuedWithin', () => {
  test('tells a job pending again with its usage kept between its submission and its last start, not one released from a hold', async () => {
    const text = [
      '#48',
      status(T0 + 50, 7, 1, 0, true), // 7 ran, then REQUEUE_EXIT_VALUES made it pending: its usage kept
      status(T0 + 50, 8, 1), // 8 was held (PSUSP) and released: pending, never ran
      '',
    ].join('\n');
    const s = new Suspensions();
    await readSuspensions(Readable.from([text]), s);
    assert.equal(s.requeuedWithin(7, 0, T0, T0 + 100), true);
    assert.equal(s.requeuedWithin(7, 0, T0 + 60, T0 + 100), false); // a later job with the same id
    assert.equal(s.requeuedWithin(8, 0, T0, T0 + 100), false);
    // Within the same second as the submission or the start still counts (OpenLava logs whole seconds).
    assert.equal(s.requeuedWithin(7, 0, T0 + 50, T0 + 100), true);
    assert.equal(s.requeuedWithin(7, 0, T0, T0 + 50), true);
  });
});
