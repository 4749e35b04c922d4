import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  ElimReportParser,
  MAX_BYTES_PER_PUSH,
  MAX_NAMES,
  MAX_NAME_LENGTH,
  MAX_TOKEN_BYTES,
  isValidResourceName,
  parseResourceValue,
  type ParseResult,
  type ResourceValue,
} from '../../src/lsf/elim-parse.js';

function pushAll(parser: ElimReportParser, ...chunks: string[]): ParseResult[] {
  return chunks.map((chunk) => parser.push(Buffer.from(chunk, 'latin1')));
}

function values(result: ParseResult): Record<string, ResourceValue> {
  return Object.fromEntries(result.values);
}

test("keeps a String resource's value as text, as LIM keeps it, and any other name's text not at all", () => {
  const [r] = pushAll(new ElimReportParser(new Set(['os_state'])), '3 os_state ok-2.1 load 1.5 other ok\n');
  assert.ok(r);
  assert.deepEqual(values(r), { os_state: 'ok-2.1', load: 1.5 });
  assert.deepEqual([...r.problems], ['bad-value']);
  const [n] = pushAll(new ElimReportParser(new Set(['os_state'])), '1 os_state 3\n');
  assert.deepEqual(values(n!), { os_state: '3' });
});

test("drops a String resource's value that LIM would not read back the same from lavarank's line", () => {
  for (const text of ['\xe9t\xe9', 'a\x01b', 'x'.repeat(1024)]) {
    const [r] = pushAll(new ElimReportParser(new Set(['os_state'])), `1 os_state ${text}\n`);
    assert.deepEqual(values(r!), {}, JSON.stringify(text));
    assert.deepEqual([...r!.problems], ['bad-text']);
  }
  const [r] = pushAll(new ElimReportParser(new Set(['os_state'])), `1 os_state ${'x'.repeat(1023)}\n`);
  assert.equal(values(r!)['os_state'], 'x'.repeat(1023));
});

test('a well-formed report gives its pairs and counts one report', () => {
  const [r] = pushAll(new ElimReportParser(), '2 scratch 12.5 licenses 3\n');
  assert.ok(r);
  assert.deepEqual(values(r), { scratch: 12.5, licenses: 3 });
  assert.equal(r.reports, 1);
  assert.equal(r.problems.size, 0);
});

test('newlines carry no meaning: a report over several lines and several reports on one line both parse', () => {
  const parser = new ElimReportParser();
  const [a] = pushAll(parser, '2 a 1\n b\t2\n');
  const [b] = pushAll(parser, '1 a 5 1 a 6 0\n');
  assert.deepEqual(a && values(a), { a: 1, b: 2 });
  assert.equal(b?.reports, 3);
  assert.deepEqual(b && values(b), { a: 6 });
});

test('a report split across chunks, even inside a token, is completed by the next chunk', () => {
  const parser = new ElimReportParser();
  const [first, second, third] = pushAll(parser, '2 scr', 'atch 1', '7 b 2\n');
  assert.equal(first?.values.size, 0);
  assert.deepEqual(second && values(second), {});
  assert.deepEqual(third && values(third), { scratch: 17, b: 2 });
  assert.equal(third?.reports, 1);
});

test('a partial report keeps the pairs it completed', () => {
  const [r] = pushAll(new ElimReportParser(), '3 a 1 b 2 c');
  assert.deepEqual(r && values(r), { a: 1, b: 2 });
  assert.equal(r?.reports, 0);
});

test('only the latest value per name is returned for a chunk with many reports', () => {
  const text = Array.from({ length: 1000 }, (_, i) => `1 load ${i}\n`).join('');
  const [r] = pushAll(new ElimReportParser(), text);
  assert.deepEqual(r && values(r), { load: 999 });
  assert.equal(r?.reports, 1000);
});

test('garbage before a report is skipped and the report still parses', () => {
  const [r] = pushAll(new ElimReportParser(), 'hello world\n1 a 4\n');
  assert.deepEqual(r && values(r), { a: 4 });
  assert.ok(r?.problems.has('bad-count'));
});

test('a count that is too small: the leftover pairs are skipped to the end of the line', () => {
  const parser = new ElimReportParser();
  const [r] = pushAll(parser, '1 a 1 b 2\n1 c 3\n');
  assert.deepEqual(r && values(r), { a: 1, c: 3 });
  assert.ok(r?.problems.has('leftover-pairs'));
});

test('a count that is too large: a count where a name is due starts the next report', () => {
  const [r] = pushAll(new ElimReportParser(), '3 a 1 b 2\n2 c 3 d 4\n');
  assert.deepEqual(r && values(r), { a: 1, b: 2, c: 3, d: 4 });
  assert.ok(r?.problems.has('truncated-report'));
  assert.equal(r?.reports, 1);
});

test('non-numeric values are dropped, not read as 0 the way LIM\'s atof would', () => {
  const [r] = pushAll(new ElimReportParser(), '4 a - b n/a c nan d 7\n');
  assert.deepEqual(r && values(r), { d: 7 });
  assert.ok(r?.problems.has('bad-value'));
});

test('values that overflow to infinity are dropped', () => {
  const [r] = pushAll(new ElimReportParser(), '2 a 1e999 b -2.5e3\n');
  assert.deepEqual(r && values(r), { b: -2500 });
});

test('pairs with invalid names are dropped and the rest of the report is kept', () => {
  const [r] = pushAll(new ElimReportParser(), '3 bad-name 1 9lives 2 ok 3\n');
  assert.deepEqual(r && values(r), { ok: 3 });
  assert.ok(r?.problems.has('bad-name'));
});

test('a 1 MB token is dropped with bounded memory and the next report parses', () => {
  const parser = new ElimReportParser();
  const huge = Buffer.alloc(1024 * 1024, 0x41);
  const results = [
    parser.push(Buffer.from('1 a ')),
    ...Array.from({ length: 16 }, (_, i) => parser.push(huge.subarray(i * 65536, (i + 1) * 65536))),
    parser.push(Buffer.from('\n1 b 2\n')),
  ];
  const merged = Object.assign({}, ...results.map(values)) as Record<string, number>;
  assert.deepEqual(merged, { b: 2 });
  assert.ok(results.some((r) => r.problems.has('oversized-token')));
});

test("a token of 1024 bytes, LIM's buffer, is read whole and one byte more is dropped as oversized", () => {
  assert.equal(MAX_TOKEN_BYTES, 1024);
  const exact = `1 ${'x'.repeat(1024)} 1\n`;
  const tooLong = `1 ${'x'.repeat(1025)} 1\n`;
  const [a] = pushAll(new ElimReportParser(), exact);
  const [b] = pushAll(new ElimReportParser(), tooLong);
  // valid length for a token but not for a name: dropped as a bad name, not as oversized
  assert.ok(a?.problems.has('bad-name'));
  assert.ok(!a?.problems.has('oversized-token'));
  assert.ok(b?.problems.has('oversized-token'));
});

test('of a chunk of 64 KiB and a byte, the first byte is not parsed; a chunk of 64 KiB is parsed whole', () => {
  const line = '1 a 1\n';
  const whole = `1 first 2\n${line.repeat((65536 - 10) / line.length)}`.padEnd(65536, ' ');
  assert.equal(whole.length, 65536);
  const [all] = pushAll(new ElimReportParser(), whole);
  assert.equal(all?.values.get('first'), 2);
  assert.equal(all?.problems.has('chunk-truncated'), false);
  const [cut] = pushAll(new ElimReportParser(), `\n${whole}`.slice(0, 65537));
  assert.ok(cut?.problems.has('chunk-truncated'));
});

test('after a chunk too long to parse whole, the report under way before it is not completed by what the cut leaves', () => {
  const parser = new ElimReportParser();
  pushAll(parser, '1 load ');
  // What is parsed of the long chunk starts with a number, on the line of the report cut short.
  const tail = '77\n1 newest 9\n'.padEnd(65536, ' ');
  const [r] = pushAll(parser, `${'y'.repeat(1000)} ${tail}`);
  assert.ok(r?.problems.has('chunk-truncated'));
  assert.deepEqual(values(r!), { newest: 9 });
});

test('a count of 256 pairs is a report and one of 257 is garbage', () => {
  // Values that cannot pass for a count either, so that nothing after a refused count resynchronises.
  const pairs = (n: number): string => Array.from({ length: n }, (_, i) => ` n${i} ${i}.5`).join('');
  const [a] = pushAll(new ElimReportParser(), `256${pairs(256)}\n`);
  assert.equal(a?.reports, 1);
  assert.equal(a?.values.get('n255'), 255.5);
  const [b] = pushAll(new ElimReportParser(), `257${pairs(257)}\n`);
  assert.equal(b?.reports, 0);
  assert.equal(b?.values.size, 0);
  assert.deepEqual([...b!.problems], ['bad-count']);
});

test('garbage at the start of a line after a report is skipped and a report after it on that line still parses', () => {
  const [r] = pushAll(new ElimReportParser(), '1 a 1\nhello 1 b 2\n');
  assert.deepEqual(r && values(r), { a: 1, b: 2 });
});

test('of a chunk longer than the push limit only its newest lines are parsed', () => {
  const filler = '1 old 1\n'.repeat(Math.ceil((2 * MAX_BYTES_PER_PUSH) / 8));
  const [r] = pushAll(new ElimReportParser(), `1 first 1\n${filler}1 newest 9\n`);
  assert.ok(r?.problems.has('chunk-truncated'));
  assert.equal(r?.values.get('newest'), 9);
  assert.equal(r?.values.has('first'), false);
  assert.ok((r?.reports ?? 0) <= MAX_BYTES_PER_PUSH / 8 + 1);
});

test('a child that invents new names cannot grow the parser beyond MAX_NAMES', () => {
  const parser = new ElimReportParser();
  let kept = 0;
  let refused = false;
  for (let i = 0; i < MAX_NAMES + 50; i++) {
    const r = parser.push(Buffer.from(`1 n${i} 1\n`));
    kept += r.values.size;
    refused ||= r.problems.has('too-many-names');
  }
  assert.equal(kept, MAX_NAMES);
  assert.ok(refused);
  assert.equal(parser.push(Buffer.from('1 n0 5\n')).values.get('n0'), 5);
});

test('resync skips the rest of the current line', () => {
  const parser = new ElimReportParser();
  parser.push(Buffer.from('2 a 1 b'));
  parser.resync();
  const r = parser.push(Buffer.from(' 5 1 c 3\n1 d 4\n'));
  assert.deepEqual(values(r), { d: 4 });
});

test('resource names: a letter, then letters, digits and underscores, at most 1022, as OpenLava 4.0\'s lsf.shared takes (what lavarank can write)', () => {
  assert.ok(isValidResourceName('scratch_gb'));
  assert.ok(isValidResourceName('x_1'));
  assert.ok(isValidResourceName('scratch_free_gigabytes_on_local_nvme_disk')); // 41
  assert.ok(isValidResourceName('a'.repeat(MAX_NAME_LENGTH)));
  assert.equal(MAX_NAME_LENGTH, 1022);
  for (const bad of ['', '1x', '_x', 'a-b', 'a.b', 'a b', 'a'.repeat(MAX_NAME_LENGTH + 1), 'é']) {
    assert.equal(isValidResourceName(bad), false, bad);
  }
});

test('values: finite decimals only', () => {
  assert.equal(parseResourceValue('12'), 12);
  assert.equal(parseResourceValue('-0.5'), -0.5);
  assert.equal(parseResourceValue('.5'), 0.5);
  assert.equal(parseResourceValue('1e3'), 1000);
  assert.equal(parseResourceValue('3.4e38'), 3.4e38);
  for (const bad of ['-', '', 'nan', 'Infinity', '0x10', '1,5', '1e99999', '12abc', '1e300', '3.5e38', '-1e39']) {
    assert.equal(parseResourceValue(bad), undefined, bad);
  }
});

test('a decimal beyond LIM\'s float is dropped as out of range, not as garbage, and its neighbours kept', () => {
  const [r] = pushAll(new ElimReportParser(), '3 big 1e300 fine 3 junk x\n');
  assert.deepEqual(values(r!), { fine: 3 });
  assert.deepEqual([...r!.problems].sort(), ['bad-value', 'out-of-range']);
});

test('a report with CRLF line ends (a child script saved on Windows) parses as fscanf reads it: the CR is blank space', () => {
  const [r] = pushAll(new ElimReportParser(), '2 scratch 12.5 licenses 3\r\n1 scratch 4\r\n');
  assert.ok(r);
  assert.deepEqual(values(r), { scratch: 4, licenses: 3 });
  assert.equal(r.reports, 2);
  assert.equal(r.problems.size, 0);
});
