// Helpers shared by the parsers of /proc and /sys text and by the rate arithmetic.
import { CollectorError } from '../util/errors.js';

const MAX_QUOTED = 120;

// Splits a line into its whitespace-separated tokens (none for a blank line).
export function tokens(line: string): string[] {
  const t = line.trim();
  return t === '' ? [] : t.split(/\s+/);
}

// Where the last line of text starts; a final newline ends that line rather than starting another.
export function lastLineStart(text: string): number {
  return text.lastIndexOf('\n', text.length - 2) + 1;
}

// V8's own searches for one byte: Buffer's indexOf checks its arguments in
// JavaScript first, which costs more than the search.
const u8IndexOf = Uint8Array.prototype.indexOf;
const u8LastIndexOf = Uint8Array.prototype.lastIndexOf;

// Where the byte is in bytes from `from` on, or -1.
export function byteIndex(bytes: Uint8Array, byte: number, from: number): number {
  return u8IndexOf.call(bytes, byte, from);
}

// lastLineStart for bytes.
export function lastLineStartOf(bytes: Uint8Array): number {
  return bytes.length < 2 ? 0 : u8LastIndexOf.call(bytes, 10, bytes.length - 2) + 1;
}

// True if bytes hold `part` at `at`.
export function bytesAt(bytes: Buffer, part: Buffer, at: number): boolean {
  return at >= 0 && at + part.length <= bytes.length && bytes.compare(part, 0, part.length, at, at + part.length) === 0;
}

// Where the digits read by the last decimalAt end.
let digitsEnd = 0;

// The unsigned decimal of 1 to 30 digits at bytes[at], or -1 when there is no digit
// there or more than 30; decimalEnd() then tells where its digits end. The hot paths
// read counters with it instead of a regular expression over a string: the string, the
// match and its parts were garbage, most of what the elim allocated per report. The
// digits are summed in two parts of at most 9, which stay small integers (an
// interpreted sum past 2^30 allocates a heap number per digit). Up to 15 digits the
// value is exact; longer ones are read by Number() from their text, as the parsers do.
export function decimalAt(bytes: Buffer, at: number): number {
  const end = skipDigits(bytes, at);
  if (end < 0) return -1;
  digitsEnd = end;
  const digits = end - at;
  if (digits > 15) return Number(bytes.toString('latin1', at, end));
  const split = end - 9 > at ? end - 9 : at;
  let high = 0;
  for (let i = at; i < split; i++) high = high * 10 + (bytes[i]! - DIGIT_0);
  let low = 0;
  for (let i = split; i < end; i++) low = low * 10 + (bytes[i]! - DIGIT_0);
  return split === at ? low : high * 1e9 + low;
}

// The index after the digits of the last decimalAt that found some.
export function decimalEnd(): number {
  return digitsEnd;
}

// Where the 1 to 30 digits at bytes[at] end, or -1 when there is no digit there or more than 30.
export function skipDigits(bytes: Uint8Array, at: number): number {
  const n = bytes.length < at + 31 ? bytes.length : at + 31;
  let i = at;
  for (; i < n; i++) {
    const c = bytes[i]!;
    if (c < DIGIT_0 || c > DIGIT_9) break;
  }
  return i === at || i - at > 30 ? -1 : i;
}

const DIGIT_0 = 48;
const DIGIT_9 = 57;

// The kernel prints counters as decimal integers (a u64 has at most 20 digits) and
// averages as fixed-point decimals; nvidia-smi's csv is the same. Only that form is
// taken: no exponent, hex or Infinity, and at most 30 digits on each side, so that
// no sum, product (kB to bytes, Mb/s to bit/s) or rate of them overflows to Infinity.
const DECIMAL = /^-?\d{1,30}(?:\.\d{1,30})?$/;

// A number from a token in that form, or undefined for anything else (including an empty token).
export function toNumber(token: string | undefined): number | undefined {
  if (token === undefined || !DECIMAL.test(token)) return undefined;
  return Number(token);
}

// The error for a line the parser cannot use, naming collector, file, line number and text.
export function badLine(collector: string, file: string, lineNo: number, line: string, why: string): CollectorError {
  const shown = line.length > MAX_QUOTED ? `${line.slice(0, MAX_QUOTED)}...` : line;
  return new CollectorError(collector, `${file} line ${lineNo}: ${why}: ${JSON.stringify(shown)}`);
}

// The error for a file that parsed line by line but lacks something required.
export function badFile(collector: string, file: string, why: string): CollectorError {
  return new CollectorError(collector, `${file}: ${why}`);
}

// Counters are parsed as doubles: past 2^53 they lose a few units of precision, which
// is far below what matters for a rate over ten seconds.
// The per-second rate of a counter between two readings, or undefined when it went
// backwards (wrap, device reset, reboot of the counter) or no time passed.
export function ratePerSec(now: number, before: number, seconds: number): number | undefined {
  if (!(seconds > 0) || now < before) return undefined;
  return (now - before) / seconds;
}

// Clamps to [0, 1]: kernel counters sampled a few microseconds apart can overshoot slightly.
export function fraction(value: number): number {
  return Math.min(1, Math.max(0, value));
}
