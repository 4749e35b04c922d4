// Helpers shared by the parsers of /proc and /sys text and by the rate arithmetic.
import { CollectorError } from '../util/errors.js';
import { taggedArray } from '../util/tagged.js';

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
// JavaScript first, which costs more than the search. u8IndexOf is exported for the
// tests' reference readers, which keep the scans as they were.
export const u8IndexOf = Uint8Array.prototype.indexOf;
const u8LastIndexOf = Uint8Array.prototype.lastIndexOf;

// Where the byte is in bytes from `from` on, or -1: u8IndexOf.call(bytes, byte, from)
// as a bound Function.prototype.call, which the hot paths call per line and per field.
// No JavaScript frame of its own, and one builtin frame less than u8IndexOf.call:
// 861 instructions a search against 976 in a loop (callgrind, --lite-mode); the
// function that wrapped the .call until 2026-12-06 cost its own frame on top.
export const byteIndex: (bytes: Uint8Array, byte: number, from: number) => number = Function.prototype.call.bind(u8IndexOf) as (bytes: Uint8Array, byte: number, from: number) => number;

// lastLineStart for bytes.
export function lastLineStartOf(bytes: Uint8Array): number {
  return bytes.length < 2 ? 0 : u8LastIndexOf.call(bytes, 10, bytes.length - 2) + 1;
}

// True if bytes hold `part` at `at`. A loop: Buffer's compare checks its arguments in
// JavaScript first (and allocates), which costs more than comparing the few bytes of a
// line's start, and the hot paths call this once per report or per disk.
export function bytesAt(bytes: Uint8Array, part: Uint8Array, at: number): boolean {
  if (at < 0 || at + part.length > bytes.length) return false;
  for (let i = 0; i < part.length; i++) if (bytes[at + i] !== part[i]) return false;
  return true;
}

// Buffer's own latin1Slice, where toString('latin1', start, end) ends after checking its
// arguments in JavaScript, which costs more than the slice for a field of a few bytes.
// Node has it on Buffer.prototype (undocumented); where it is missing, toString does the same.
// Called directly (.call, start <= end <= length) only where latin1At's frame shows.
export const latin1Slice =
  (Buffer.prototype as unknown as { latin1Slice?: (this: Buffer, start: number, end: number) => string }).latin1Slice ??
  function (this: Buffer, start: number, end: number): string {
    return this.toString('latin1', start, end);
  };

// bytes[start, end) as latin1 text, without toString's checks; the part past the bytes' end is left out.
export function latin1At(bytes: Buffer, start: number, end: number): string {
  const stop = Math.min(end, bytes.length);
  return start < stop ? latin1Slice.call(bytes, start, stop) : '';
}

const DIGITS = /^\d{1,30}$/;

// The most decimal digits a double always holds exactly. A longer counter is left to
// Number(), which rounds it to the nearest double once; summing its digits rounds at
// each step and may land elsewhere.
export const EXACT_DIGITS = 15;

// The counter in bytes[start, end) when it is 1 to 30 decimal digits, else -1. The
// hot paths read the few counters they use this way, from fields they delimit with
// native searches: a regular expression over a string of the whole line, its match and
// parts, was most of what a report allocated. Up to 15 digits are summed one by one,
// which in --lite-mode's interpreter costs 1.1 µs for an 11-digit counter where a
// string, the regular expression and Number() cost 1.35 µs (0.55 and 1.0 µs for 5 digits).
export function counterAt(bytes: Buffer, start: number, end: number): number {
  if (end - start > 0 && end - start <= EXACT_DIGITS) {
    let v = 0;
    for (let p = start; p < end; p++) {
      const c = bytes[p]! - 48;
      if (!(c >= 0 && c <= 9)) return -1;
      v = v * 10 + c;
    }
    return v;
  }
  const text = latin1Slice.call(bytes, start, end);
  return DIGITS.test(text) ? Number(text) : -1;
}

// The least counter of n digits at index n, from 2 digits on (10^(n-1)); none for 0 or 1,
// which fieldCounter leaves to counterAt.
const LEAST_OF_DIGITS: readonly number[] = [Infinity, Infinity, ...Array.from({ length: EXACT_DIGITS - 1 }, (_, i) => 10 ** (i + 1))];

// counterAt's counter for a field that holds no whitespace (a hot path's field, delimited
// by spaces in a text without other whitespace), by Number() of its latin1 text where
// that is sure to be the same number: about 1 900 instructions for the slice and its
// Number() and 1 200 for the checks against 4 300 digit by digit for 8 digits (callgrind,
// --lite-mode). Number() also reads "1e3", "1.0", "0x1f", "+5" and "Infinity"; a field
// of 2 to 15 characters that starts with a digit from 1 to 9 and reads as a number of as
// many digits, whose last two are its last two characters, holds digits only: a point
// or a sign leaves fewer digits than characters unless an exponent makes up for them,
// and then the number ends in zeros its exponent would end in too, which only an
// exponent of 100 or more does, past 15 digits. Anything else is counterAt's to read.
export function fieldCounter(bytes: Buffer, start: number, end: number): number {
  const n = end - start;
  if (n <= EXACT_DIGITS && bytes[start]! > 48) {
    const v = +latin1Slice.call(bytes, start, end);
    if (v >= LEAST_OF_DIGITS[n]! && v < 1e15 && v % 100 === bytes[end - 2]! * 10 + bytes[end - 1]! - 528) return v;
  }
  return counterAt(bytes, start, end);
}

// The bytes other than space and newline that tokens() splits on: JavaScript's \s in
// latin1 (tab, vertical tab, form feed, carriage return, no-break space).
const OTHER_SPACES = [9, 11, 12, 13, 0xa0];

// True if bytes hold no whitespace but spaces and newlines. A hot path may then skip a
// field by looking for the next space (a native search) without reading it, and
// still split the line where tokens() would.
// Buffer's indexOf (memchr), not Uint8Array's (a loop over elements): this searches the whole file.
export function onlySpacesAndNewlines(bytes: Buffer): boolean {
  for (let i = 0; i < OTHER_SPACES.length; i++) if (bytes.indexOf(OTHER_SPACES[i]!) >= 0) return false;
  return true;
}

// The same bytes as latin1 characters.
export const OTHER_SPACE_CHARS: readonly string[] = OTHER_SPACES.map((c) => String.fromCharCode(c));

// True if text holds none of chars (each one character) before `end`, for a hot path that
// already holds a latin1 string of the file: String's indexOf is V8's own memchr, where
// Buffer's first checks its arguments in JavaScript (about 3 000 instructions a call,
// callgrind, --lite-mode), and the text from `end` on need not be checked.
export function noneBefore(text: string, chars: readonly string[], end: number): boolean {
  for (let i = 0; i < chars.length; i++) {
    const at = text.indexOf(chars[i]!);
    if (at >= 0 && at < end) return false;
  }
  return true;
}

// True if both lists hold the same items in the same order: the same device or CPU
// names as the last reading, the same CPU numbers. An indexed loop, for the hot paths
// that call it each report.
export function sameItems<T extends string | number>(a: readonly T[], b: readonly T[]): boolean {
  if (a === b) return true;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

// An array of n numbers (value i at(i), else 0) that a hot path keeps from one report to
// the next and reads more often than it writes, with its elements kept tagged
// (taggedArray): a plain array of numbers turns into an unboxed one once it holds a
// fraction or a number past 2^31, and then every read in the interpreter makes a fresh
// 16-byte heap number.
export function numberSlots(n: number, at: (i: number) => number = () => 0): number[] {
  return taggedArray(n, at);
}

// The kernel prints counters as decimal integers (a u64 has at most 20 digits) and
// averages as fixed-point decimals; nvidia-smi's csv is the same. Only that form is
// taken: no exponent, hex or Infinity, and at most 30 digits on each side, so that
// no sum, product (kB to bytes, Mb/s to bit/s) or rate of them overflows to Infinity.
export const DECIMAL_DIGITS = 30;
const DECIMAL = new RegExp(`^-?\\d{1,${DECIMAL_DIGITS}}(?:\\.\\d{1,${DECIMAL_DIGITS}})?$`);

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
// backwards (wrap, device reset, reboot of the counter), no time passed or either reading
// lacks the counter (a kernel that does not print it).
export function ratePerSec(now: number | undefined, before: number | undefined, seconds: number): number | undefined {
  if (now === undefined || before === undefined || !(seconds > 0) || now < before) return undefined;
  return (now - before) / seconds;
}

// Clamps to [0, 1]: kernel counters sampled a few microseconds apart can overshoot slightly.
export function fraction(value: number): number {
  return Math.min(1, Math.max(0, value));
}
