import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { Readable } from 'node:stream';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import {
  formatJobFinish, JOB_STAT_DONE, JOB_STAT_EXIT, parseAcctLine, readAcct, skippedLines, tokenizeAcctLine, type JobFinish,
} from '../../src/lsf/acct.js';
import { ParseError } from '../../src/util/errors.js';
import { fixture as fixturePath } from '../helpers.js';

const FIXTURE = fixturePath('openlava', 'lsb.acct');
const FIXTURE_LINES = readFileSync(FIXTURE, 'utf8').split('\n').filter((l) => l !== '');
const GOOD = FIXTURE_LINES[0] ?? '';

async function readAll(input: string | Readable, options = {}) {
  const reader = readAcct(input, options);
  const records: JobFinish[] = [];
  for await (const r of reader) records.push(r);
  return { records, stats: reader.stats };
}

const fixture = await readAll(FIXTURE);
const byName = (name: string) => fixture.records.filter((r) => r.jobName === name);

function only<T>(items: T[]): T {
  assert.equal(items.length, 1);
  return items[0] as T;
}

describe('the real OpenLava 4.0 lsb.acct', () => {
  test('has 75 JOB_FINISH records and nothing skipped', () => {
    assert.equal(fixture.records.length, 75);
    assert.deepEqual(
      { ...fixture.stats, unknownTypes: [...fixture.stats.unknownTypes], unknownVersions: [...fixture.stats.unknownVersions] },
      { lines: 75, records: 75, blank: 0, malformed: 0, problems: [], unknownTypes: [], unknownVersions: [], incomplete: 0 },
    );
  });

  test('has 68 DONE and 7 EXIT records', () => {
    assert.equal(fixture.records.filter((r) => r.jStatus === JOB_STAT_DONE).length, 68);
    assert.equal(fixture.records.filter((r) => r.jStatus === JOB_STAT_EXIT).length, 7);
  });

  test('has 71 distinct job ids, the array sharing one', () => {
    assert.equal(new Set(fixture.records.map((r) => r.jobId)).size, 71);
  });

  test('puts the -n 2 job on ol3 then ol1', () => {
    const job = only(byName('par_probe'));
    assert.deepEqual(job.execHosts, ['ol3', 'ol1']);
    assert.equal(job.numProcessors, 2);
    assert.equal(job.maxNumProcessors, 2);
  });

  test('gives the job killed while held no execution host, startTime 0 and rusage -1', () => {
    const job = only(byName('held_job'));
    assert.deepEqual(job.execHosts, []);
    assert.equal(job.startTime, 0);
    assert.equal(job.jStatus, JOB_STAT_EXIT);
    assert.equal(job.exitStatus, 0);
    assert.ok(Object.values(job.rusage).every((v) => v === -1));
    assert.equal(job.maxRMem, 0);
  });

  test('gives the five array elements job id 122 and indexes 1 to 5', () => {
    const elements = byName('arr[1-5]');
    assert.ok(elements.every((r) => r.jobId === 122));
    assert.deepEqual(elements.map((r) => r.idx).sort(), [1, 2, 3, 4, 5]);
  });

  test('keeps the raw wait status: 768 for exit 3, 33280 for a bkill while running', () => {
    assert.deepEqual(byName('exit3').map((r) => r.exitStatus), [768, 768, 768, 768]);
    assert.deepEqual(byName('long_sleeper').map((r) => r.exitStatus), [33280, 33280]);
  });

  test('types the first record field by field', () => {
    const r = fixture.records[0];
    assert.ok(r);
    assert.equal(r.endTime, 1795886705);
    assert.equal(r.jobId, 101);
    assert.equal(r.options, 33554451);
    assert.equal(r.submitTime, 1795886702);
    assert.equal(r.startTime, 1795886705);
    assert.equal(r.userName, 'root');
    assert.equal(r.queue, 'normal');
    assert.equal(r.outFile, '/tmp/olfix/out.%J');
    assert.equal(r.jobFile, '1795886702.101');
    assert.equal(r.hostFactor, 100);
    assert.equal(r.command, "sh -c 'i=0; while [ $i -lt 200000 ]; do i=$((i+1)); done; echo done $i'");
    assert.equal(r.rusage.utime, 0.186669);
    assert.equal(r.rusage.maxrss, 4576);
    assert.equal(r.rusage.ismrss, -1);
    assert.equal(r.rusage.nivcsw, 13);
    assert.equal(r.projectName, 'default');
    assert.equal(r.maxRMem, 4444);
    assert.equal(r.maxRSwap, 11448);
  });

  test('reads -R, -w, -E, -i and -P into their fields', () => {
    assert.equal(fixture.records.filter((r) => r.resReq === 'select[rank<200] order[rank]').length, 13);
    assert.equal(only(byName('after_probe')).dependCond, 'ended(exit3)');
    assert.equal(only(fixture.records.filter((r) => r.preExecCmd !== '')).preExecCmd, 'test -d /tmp');
    assert.equal(only(fixture.records.filter((r) => r.inFile !== '')).inFile, '/etc/hostname');
    assert.equal(fixture.records.filter((r) => r.projectName === 'probe_proj').length, 3);
  });

  test('is in finish order', () => {
    const ends = fixture.records.map((r) => r.endTime);
    assert.deepEqual(ends, [...ends].sort((a, b) => a - b));
  });

  test('is written back byte for byte by formatJobFinish', () => {
    assert.deepEqual(fixture.records.map(formatJobFinish), FIXTURE_LINES);
  });
});

describe('tokenizeAcctLine', () => {
  test('turns "" inside a string into one quote', () => {
    assert.deepEqual(tokenizeAcctLine('"say ""hi""" """"'), [
      { text: 'say "hi"', quoted: true },
      { text: '"', quoted: true },
    ]);
  });

  test('reads "" as an empty string, distinct from a bare number', () => {
    assert.deepEqual(tokenizeAcctLine('"" 0 -1.000000'), [
      { text: '', quoted: true },
      { text: '0', quoted: false },
      { text: '-1.000000', quoted: false },
    ]);
  });

  test('rejects an unterminated string, naming where', () => {
    assert.throws(() => tokenizeAcctLine('"JOB_FINISH" "33 1 2', 'lsb.acct:7'), (err: unknown) => {
      assert.ok(err instanceof ParseError);
      assert.equal(err.where, 'lsb.acct:7');
      assert.match(err.message, /unterminated string starting at column 14/);
      return true;
    });
  });

  test('rejects text glued to a closing quote', () => {
    assert.throws(() => tokenizeAcctLine('"abc"def 1'), /unexpected "d" after the string at column 1/);
  });

  test('rejects a quote inside a bare word', () => {
    assert.throws(() => tokenizeAcctLine('12"3'), /stray quote/);
  });

  test('gives back any string that formatJobFinish quoted', () => {
    const text = fc.string({ unit: 'binary' }).filter((s) => !/[\n\r]/.test(s));
    fc.assert(
      fc.property(fc.array(text, { maxLength: 5 }), (strings) => {
        const line = strings.map((s) => `"${s.replaceAll('"', '""')}"`).join(' ');
        assert.deepEqual(tokenizeAcctLine(line).map((t) => t.text), strings);
      }),
    );
  });
});

function withField(line: string, index: number, value: string): string {
  const tokens = tokenizeAcctLine(line).map((t) => (t.quoted ? `"${t.text.replaceAll('"', '""')}"` : t.text));
  tokens[index] = value;
  return tokens.join(' ');
}

describe('parseAcctLine', () => {
  test('parses a record with an embedded quote in its command', () => {
    const line = withField(GOOD, 28, '"echo ""hello world"""');
    const parsed = parseAcctLine(line);
    assert.equal(parsed.kind, 'record');
    assert.equal(parsed.kind === 'record' && parsed.record.command, 'echo "hello world"');
  });

  test('returns another record type as unknown', () => {
    assert.deepEqual(parseAcctLine('"JOB_NEW" "33" 1795886705 101'), { kind: 'unknownType', type: 'JOB_NEW' });
  });

  test('returns a JOB_FINISH of another version as unknown, without reading on', () => {
    assert.deepEqual(parseAcctLine('"JOB_FINISH" "7.06" whatever'), { kind: 'unknownVersion', version: '7.06' });
  });

  test('parses a version the caller declares known', () => {
    const line = withField(GOOD, 1, '"34"');
    const parsed = parseAcctLine(line, 'x', { versions: ['33', '34'] });
    assert.equal(parsed.kind === 'record' && parsed.record.version, '34');
  });

  test('reads the asked hosts of a job submitted with -m, then its execution hosts', () => {
    // The real first record given one asked host (bsub -m ol2): numAskedHosts 1, then "ol2", then numExHosts.
    const line = withField(GOOD, 22, '1 "ol2"');
    const parsed = parseAcctLine(line);
    assert.ok(parsed.kind === 'record', parsed.kind);
    assert.deepEqual([parsed.record.askedHosts, parsed.record.execHosts, parsed.record.jobName], [['ol2'], ['ol3'], 'cpu_probe']);
  });

  test('rejects a line whose field count disagrees with its host counts', () => {
    assert.throws(() => parseAcctLine(`${GOOD} ""`), /59 fields, but numAskedHosts 0 and numExHosts 1 need 58/);
  });

  test('rejects a record claiming two execution hosts but listing one', () => {
    assert.throws(() => parseAcctLine(withField(GOOD, 23, '2')), /numExHosts 2 need 59/);
  });

  test('rejects an asked-host count larger than the line', () => {
    assert.throws(() => parseAcctLine(withField(GOOD, 22, '40')), /numAskedHosts 40 needs at least 97/);
  });

  test('rejects a negative host count', () => {
    assert.throws(() => parseAcctLine(withField(GOOD, 23, '-1')), /numExHosts\): expected a count of 0 or more/);
  });

  test('rejects a garbage number, naming the field', () => {
    assert.throws(() => parseAcctLine(withField(GOOD, 10, '17958867x5')), /field 11 \(startTime\): expected an integer, found "17958867x5"/);
  });

  test('rejects a fraction where an integer belongs', () => {
    assert.throws(() => parseAcctLine(withField(GOOD, 3, '101.5')), /field 4 \(jobId\): expected an integer/);
  });

  test('rejects a quoted number where a number belongs', () => {
    assert.throws(() => parseAcctLine(withField(GOOD, 3, '"101"')), /field 4 \(jobId\): expected an integer, found the string "101"/);
  });

  test('rejects a bare word where a string belongs', () => {
    assert.throws(() => parseAcctLine(withField(GOOD, 11, 'root')), /field 12 \(userName\): expected a quoted string/);
  });

  test('rejects a quoted number where a real number belongs (hostFactor)', () => {
    assert.throws(() => parseAcctLine(withField(GOOD, 26, '"1.0"')), /field 27 \(hostFactor\): expected a number, found the string "1.0"/);
  });

  test('rejects nan in a rusage time', () => {
    assert.throws(() => parseAcctLine(withField(GOOD, 29, 'nan')), /\(ru_utime\): expected a number/);
  });
});

describe('readAcct', () => {
  const crafted = [
    GOOD, // 1
    '"JOB_FINISH" "33" 1795886705 101 "unterminated', // 2
    '"JOB_NEW" "33" 1 2 3', // 3
    '"JOB_FINISH" "34" 1 2 3', // 4
    '', // 5
    '#80', // 6: mbatchd's lsb.events header, if someone passes the wrong file
    FIXTURE_LINES[1] ?? '', // 7
    '"JOB_NEW" "33" 4 5 6', // 8
    GOOD.slice(0, 100), // 9: no newline, still being written
  ].join('\n');

  test('keeps going past malformed lines and reports them with line numbers', async () => {
    const { records, stats } = await readAll(Readable.from([crafted]), { source: 'acct' });
    assert.deepEqual(records.map((r) => r.jobId), [101, 102]);
    assert.equal(stats.malformed, 2);
    assert.deepEqual(stats.problems.map((p) => p.line), [2, 6]);
    assert.match(stats.problems[0]?.message ?? '', /^acct:2: unterminated string/);
  });

  test('reads a first line behind a byte order mark (a file saved by a Windows editor), split across chunks too', async () => {
    const bytes = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(`${GOOD}\n`)]);
    for (const chunks of [[bytes], [bytes.subarray(0, 2), bytes.subarray(2)]]) {
      const { records, stats } = await readAll(Readable.from(chunks));
      assert.deepEqual(records.map((r) => r.jobId), [101]);
      assert.equal(stats.malformed, 0);
    }
  });

  test('reads an lsb.acct whose lines end in CRLF (copied through a Windows share) as the same records', async () => {
    const { records, stats } = await readAll(Readable.from([FIXTURE_LINES.map((l) => `${l}\r\n`).join('')]));
    assert.equal(stats.malformed, 0, stats.problems[0]?.message);
    assert.deepEqual(records, fixture.records);
  });

  test('counts unknown record types and versions by name', async () => {
    const { stats } = await readAll(Readable.from([crafted]));
    assert.deepEqual([...stats.unknownTypes], [['JOB_NEW', 2]]);
    assert.deepEqual([...stats.unknownVersions], [['34', 1]]);
  });

  test('counts an empty line of a CRLF file, and a line of blanks, as blank, not malformed', async () => {
    const { records, stats } = await readAll(Readable.from([`${GOOD}\r\n\r\n  \t\r\n${FIXTURE_LINES[1] ?? ''}\r\n`]));
    assert.deepEqual(records.map((r) => r.jobId), [101, 102]);
    assert.equal(stats.blank, 2);
    assert.equal(stats.malformed, 0, stats.problems[0]?.message);
  });

  test('skips and counts a last line without newline, and a blank line', async () => {
    const { stats } = await readAll(Readable.from([crafted]));
    assert.equal(stats.lines, 9);
    assert.equal(stats.incomplete, 1);
    assert.equal(stats.blank, 1);
    assert.equal(stats.records, 2);
  });

  test('says what it skipped in one phrase per reason, the first malformed line on request, and nothing for a clean read', async () => {
    const { stats } = await readAll(Readable.from([crafted]), { source: 'acct' });
    assert.deepEqual(skippedLines(stats), ['2 malformed', '1 incomplete last line', '2 JOB_NEW', '1 of unknown version 34']);
    assert.match(skippedLines(stats, true)[0] ?? '', /^2 malformed \(the first: acct:2: unterminated string/);
    const clean = await readAll(Readable.from([`${GOOD}\n`]));
    assert.deepEqual(skippedLines(clean.stats, true), []);
  });

  test('reads a complete last line without skipping it', async () => {
    const { stats } = await readAll(Readable.from([`${GOOD}\n`]));
    assert.equal(stats.records, 1);
    assert.equal(stats.incomplete, 0);
  });

  test('keeps only the first maxProblems problems but counts all', async () => {
    const { stats } = await readAll(Readable.from(['"\n'.repeat(10)]), { maxProblems: 3 });
    assert.equal(stats.malformed, 10);
    assert.deepEqual(stats.problems.map((p) => p.line), [1, 2, 3]);
  });

  test('reassembles lines and UTF-8 characters split across chunks', async () => {
    const line = withField(GOOD, 11, '"rené"');
    const bytes = Buffer.from(`${line}\n${line}\n`);
    const chunks = [];
    for (let i = 0; i < bytes.length; i += 7) chunks.push(bytes.subarray(i, i + 7));
    const { records } = await readAll(Readable.from(chunks));
    assert.deepEqual(records.map((r) => r.userName), ['rené', 'rené']);
  });

  test('reports an overlong line as malformed and reads the next one', async () => {
    const { records, stats } = await readAll(Readable.from([`${'x'.repeat(5000)}\n${GOOD}\n`]), { maxLineLength: 1000 });
    assert.equal(records.length, 1);
    assert.equal(stats.malformed, 1);
    assert.match(stats.problems[0]?.message ?? '', /:1: line longer than 1000 characters/);
  });

  test('refuses to be iterated twice', async () => {
    const reader = readAcct(Readable.from([`${GOOD}\n`]));
    for await (const _ of reader);
    await assert.rejects(async () => {
      for await (const _ of reader);
    }, /iterated only once/);
  });

  test('throws the I/O error of a missing file', async () => {
    await assert.rejects(readAll('/nonexistent/lsb.acct'), { code: 'ENOENT' });
  });
});
