import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { byteIndex, counterAt, fieldCounter, latin1At, noneBefore, onlySpacesAndNewlines, OTHER_SPACE_CHARS, sameItems, tokens, toNumber } from '../../src/collectors/text.js';

const bytes = (text: string): Buffer => Buffer.from(text, 'latin1');

test('counterAt reads the decimal between two positions as toNumber reads the same text', () => {
  // 15 digits are summed one by one, 16 and more read by Number(): summing the 17 of
  // 29166729164841593 would round at each step, to 29166729164841596, not ...592.
  const b = bytes('sda 0 7 12345 18446744073709551615 000042 9007199254740993 999999999999999 4294967297 29166729164841593\n');
  for (const field of ['0', '7', '12345', '18446744073709551615', '000042', '9007199254740993', '999999999999999', '4294967297', '29166729164841593']) {
    const at = b.indexOf(` ${field} `) >= 0 ? b.indexOf(` ${field} `) + 1 : b.indexOf(` ${field}\n`) + 1;
    assert.equal(counterAt(b, at, at + field.length), toNumber(field), field);
  }
});

test('counterAt refuses what is not 1 to 30 digits: signs, points, exponents, hex, spaces, an empty field', () => {
  for (const field of ['-5', '+5', '1.5', '1e2', '0x10', ' 5', '5\t', '', '1'.repeat(31), 'Infinity', '١٢', '12345678901234x', '1234567890123456x', '5:', '/5']) {
    const b = bytes(`[${field}]`);
    assert.equal(counterAt(b, 1, 1 + Buffer.byteLength(field, 'latin1')), -1, JSON.stringify(field));
  }
  assert.equal(counterAt(bytes('1'.repeat(30)), 0, 30), Number('1'.repeat(30)));
});

// fieldCounter's reading of `field` (no whitespace in it, as its callers' fields have none) against counterAt's.
function sameAsCounterAt(field: string): void {
  const b = bytes(` ${field} `);
  const end = 1 + Buffer.byteLength(field, 'latin1');
  assert.equal(fieldCounter(b, 1, end), counterAt(b, 1, end), JSON.stringify(field));
}

test('fieldCounter reads what counterAt reads, and refuses what Number() reads in other forms: exponents, points, signs, hex', () => {
  for (const field of ['0', '7', '42', '12345', '99999999', '110000000', '999999999999999', '000042', '0', '10', '100', '1000000000000000', '18446744073709551615', '29166729164841593']) {
    sameAsCounterAt(field);
    assert.equal(fieldCounter(bytes(field), 0, field.length), toNumber(field), field);
  }
  // "1e2" has as many digits as characters; "1e000000010" (10^10) ends as it does; "1e0100"
  // ends in two zeros; "0xFFFFFFFFFF" (hex) has as many digits as it has characters.
  for (const field of ['1e2', '1E2', '1e+2', '1e02', '1.5e3', '1.0', '10.', '5.', '+5', '+10', '-5', '.5', 'Infinity', '1e000000010', '12e00000010', '1e0100', '1e100', '1e0000000000100', '0x10', '0xFFFFFFFFFF', '0x174876E800', '0o17', '0b11', '0010', '1_0', '12a', 'a12', '']) {
    sameAsCounterAt(field);
  }
});

test('fieldCounter gives counterAt\'s number or refusal for any field without whitespace', () => {
  // Every field of up to four characters from the characters Number() reads.
  const chars = ['0', '1', '5', '9', '.', 'e', '+', '-', 'x'];
  const all = (n: number): string[] => (n === 0 ? [''] : all(n - 1).flatMap((s) => chars.map((c) => s + c)));
  for (let n = 0; n <= 4; n++) for (const field of all(n)) sameAsCounterAt(field);
  // Random ones, and numbers in exponent form whose exponent may be padded with zeros,
  // the form that can have as many digits as characters.
  const field = fc.string({ unit: fc.constantFrom(...'0123456789.eE+-xXoObBIn_:/', '\u0085'), maxLength: 18 });
  const exponent = fc
    .tuple(fc.stringMatching(/^[1-9]\d{0,5}$/), fc.constantFrom('', '.'), fc.stringMatching(/^\d{0,3}$/), fc.constantFrom('e', 'E'), fc.constantFrom('', '+', '-'), fc.nat(10), fc.nat(120))
    .map(([int, dot, fraction, e, sign, zeros, x]) => `${int}${dot}${dot === '' ? '' : fraction}${e}${sign}${'0'.repeat(zeros)}${x}`);
  const digits = fc.stringMatching(/^\d{1,20}$/);
  fc.assert(fc.property(fc.oneof(field, exponent, digits), (f) => sameAsCounterAt(f)), { numRuns: 3000 });
});

// "100.00" is 100 and "1.0000000010e10" 10000000010: each ends in the two digits its last two
// characters are, below 10^15, and is refused only by having fewer digits than characters
// (LEAST_OF_DIGITS; no test reached that guard, review76).
test('fieldCounter refuses a decimal whose fraction is zeros or as long as its exponent, which Number() reads as a counter ending in its last two characters', () => {
  // And a fraction of as many digits as its exponent: "1.0000000010e10" is 10000000010.
  for (const field of ['100.00', '200.000', '1300.00', '12345600.00000', '1.0000000010e10', '9.1234567810e10']) {
    sameAsCounterAt(field);
    assert.equal(fieldCounter(bytes(field), 0, field.length), -1, field);
  }
  const zeros = fc.tuple(fc.stringMatching(/^[1-9]\d{0,8}$/), fc.integer({ min: 1, max: 6 })).map(([int, k]) => `${int}00.${'0'.repeat(k)}`);
  const asLong = fc.tuple(fc.integer({ min: 1, max: 9 }), fc.stringMatching(/^\d{0,12}$/)).map(([int, fraction]) => `${int}.${fraction}e${fraction.length}`);
  fc.assert(fc.property(fc.oneof(zeros, asLong), (f) => sameAsCounterAt(f)), { numRuns: 1000 });
});

test('onlySpacesAndNewlines finds every byte that tokens() splits on besides space and newline', () => {
  assert.equal(onlySpacesAndNewlines(bytes('cpu  1 2 3\ncpu0 1 2 3\n')), true);
  for (const ch of ['\t', '\v', '\f', '\r', '\u00a0']) {
    const text = `cpu  1${ch}2 3\n`;
    assert.equal(onlySpacesAndNewlines(bytes(text)), false, JSON.stringify(ch));
    assert.equal(tokens(text).length, 4, `tokens() splits on ${JSON.stringify(ch)}`);
  }
  // U+0085 is latin1 0x85 and not whitespace to JavaScript: tokens() keeps it in the field.
  assert.equal(onlySpacesAndNewlines(bytes('cpu  1\u00852 3\n')), true);
  assert.equal(tokens('cpu  1\u00852 3').length, 3);
});

test('noneBefore with OTHER_SPACE_CHARS finds the characters onlySpacesAndNewlines finds before an index, and none from it on', () => {
  const onlySpacesAndNewlinesBefore = (text: string, end: number): boolean => noneBefore(text, OTHER_SPACE_CHARS, end);
  assert.equal(onlySpacesAndNewlinesBefore('cpu  1 2 3\ncpu0 1 2 3\n', 22), true);
  for (const ch of ['\t', '\v', '\f', '\r', '\u00a0']) {
    const text = `cpu  1${ch}2 3\nintr 0\n`;
    assert.equal(onlySpacesAndNewlinesBefore(text, 12), false, JSON.stringify(ch));
    assert.equal(onlySpacesAndNewlinesBefore(text, 6), true, `${JSON.stringify(ch)} at the end index`);
    assert.equal(onlySpacesAndNewlinesBefore(`cpu  1 2 3\nintr 0${ch}\n`, 11), true, `${JSON.stringify(ch)} after the end`);
  }
  assert.equal(onlySpacesAndNewlinesBefore('cpu  1\u00852 3\n', 11), true);
});

test('byteIndex finds a byte from a position on, or -1', () => {
  const b = bytes('a b\nc');
  assert.equal(byteIndex(b, 10, 0), 3);
  assert.equal(byteIndex(b, 32, 2), -1);
});

test('byteIndex answers as Uint8Array.prototype.indexOf called on the bytes, for every byte, start and view of a buffer', () => {
  // byteIndex is that search as a bound call; the hot paths' reference readers keep the
  // .call form, so the two must agree on a view's own offsets, a start past the end or
  // before the start, and a byte not there.
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 40 }), fc.nat(8), fc.integer({ min: 0, max: 255 }), fc.integer({ min: -50, max: 50 }), (raw, cut, byte, from) => {
      const whole = Buffer.from(raw);
      const b = whole.subarray(Math.min(cut, whole.length));
      assert.equal(byteIndex(b, byte, from), Uint8Array.prototype.indexOf.call(b, byte, from));
    }),
    { numRuns: 2000 },
  );
});

test('latin1At gives the bytes between two positions as text, and only what the bytes hold past their end', () => {
  const b = Buffer.from('cpu0 1 2\n', 'latin1');
  assert.equal(latin1At(b, 0, 4), 'cpu0');
  assert.equal(latin1At(b, 5, 100), '1 2\n');
  assert.equal(latin1At(b, 9, 20), '');
  assert.equal(latin1At(b, 50, 60), '');
});

test('sameItems is true for the same names or numbers in the same order, and false for any other list', () => {
  const names = ['cpu0', 'cpu1', 'cpu2'];
  assert.equal(sameItems(names, names), true);
  assert.equal(sameItems(names, ['cpu0', 'cpu1', 'cpu2']), true);
  assert.equal(sameItems([], []), true);
  assert.equal(sameItems(names, ['cpu0', 'cpu1']), false);
  assert.equal(sameItems(names, ['cpu0', 'cpu2', 'cpu1']), false);
  assert.equal(sameItems(names, ['cpu0', 'cpu1', 'cpu3']), false);  // CPU numbers, as the affinity lists are compared.
  assert.equal(sameItems([0, 1, 5], [0, 1, 5]), true);
  assert.equal(sameItems([0, 1, 5], [0, 1, 4]), false);
});
