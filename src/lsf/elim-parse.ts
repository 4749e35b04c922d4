// A tolerant reader of elim reports, for the site elims lavarank runs as children.
// LIM reads a report with fscanf: a count, then count pairs of name and value,
// whitespace-separated, newlines meaning nothing. A child may split a report
// across writes, print garbage, get the count wrong, or flood the pipe; none of
// that may cost more than bounded memory and CPU, and none of it may pass a
// value on that is not a finite number.
//
// Where LIM and this parser differ, on purpose:
// - LIM reads a non-numeric value with atof, so `-` or `n/a` becomes 0.0 and
//   looks like a real reading. Here such a pair is dropped: the child's old value
//   ages out instead of a made-up 0 being passed on. The value of a String
//   resource (`textNames`, from lsf.shared) is kept as text, as LIM keeps it, if it
//   is printable ASCII of at most MAX_TEXT_BYTES.
// - LIM has no width limit on its 1024-byte buffers; a longer token is dropped.
// - LIM kills an elim for a bad count. Here the parser resynchronises: a
//   count-looking token where a name is due starts a new report (the previous
//   count was too large), and tokens left on the line after a complete report
//   (the count was too small) are skipped to the end of that line.
// Each valid pair counts as soon as it is read; a report cut short keeps the
// pairs it completed.

// The longest token kept; LIM's own buffers are 1024 bytes.
export const MAX_TOKEN_BYTES = 1024;
// Counts above this are garbage; no elim reports that many resources.
export const MAX_PAIRS = 256;
// Distinct names one parser keeps, so a child inventing names cannot grow memory.
export const MAX_NAMES = 256;
// Bytes one push examines; of a longer chunk only the newest bytes are parsed.
export const MAX_BYTES_PER_PUSH = 64 * 1024;

// A value as a child reported it: a number, or the text of a String resource.
export type ResourceValue = number | string;

// The longest String value kept: LIM reads a value into a 1024-byte buffer, its NUL included.
export const MAX_TEXT_BYTES = 1023;
const TEXT = /^[\x21-\x7e]+$/;

// True for a String resource's value lavarank passes on: printable ASCII without
// blanks (LIM splits on them), at most MAX_TEXT_BYTES, so that LIM reads the same
// bytes back from lavarank's line.
export function isValidTextValue(value: string): boolean {
  return value.length <= MAX_TEXT_BYTES && TEXT.test(value);
}

// What went wrong in a push, by kind.
export type ParseProblem =
  | 'bad-count' // a token where a count was due is not a count (0..MAX_PAIRS)
  | 'leftover-pairs' // tokens after a complete report on its line: the count was too small
  | 'truncated-report' // a count where a name was due: the previous count was too large
  | 'bad-name' // not a valid resource name; its pair is dropped
  | 'bad-value' // not a finite decimal number; its pair is dropped
  | 'bad-text' // a String resource's value that is not printable ASCII of at most MAX_TEXT_BYTES; dropped
  | 'oversized-token' // longer than MAX_TOKEN_BYTES; dropped
  | 'too-many-names' // more than MAX_NAMES distinct names; new names dropped
  | 'chunk-truncated' // a chunk longer than MAX_BYTES_PER_PUSH; only its end was parsed
  | 'out-of-range'; // a decimal beyond float32 (LIM's type for load values); its pair is dropped

// What one push produced.
export interface ParseResult {
  values: Map<string, ResourceValue>; // the latest value per name seen in this push
  reports: number; // reports completed in this push
  problems: Set<ParseProblem>;
}

// One rule for the names lavarank reads from a child and the names it writes to
// LIM (formatElimLine uses it too), so a name a child gets through can always be
// reported: a letter, then letters, digits and underscores (what a resource
// requirement can name), at most MAX_NAME_LENGTH in all.
const NAME = /^[A-Za-z][A-Za-z0-9_]*$/;
const COUNT = /^\d{1,6}$/;
const NUMBER = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d{1,4})?$/;
const NEWLINE = 0x0a;

// The longest resource name OpenLava 4.0's lsf.shared takes (its check refuses
// MAXLSFNAMELEN - 1 = 1023 characters and more; getusr reads a name into 1024 bytes).
// IBM LSF's lsf.shared takes 39: a longer name is then simply unknown to LIM.
export const MAX_NAME_LENGTH = 1022;

// True for a name LIM accepts as a load index and lavarank passes on: a letter,
// then letters, digits or underscores, at most MAX_NAME_LENGTH in all. (LIM refuses
// names starting with a digit and names with any of .!-=+* /[]@:&|{}'`".)
export function isValidResourceName(name: string): boolean {
  return name.length <= MAX_NAME_LENGTH && NAME.test(name);
}

// The number a value token stands for, or undefined unless it is a finite decimal
// that LIM's float holds (1e300 is a finite double, infinite in a float32).
export function parseResourceValue(token: string): number | undefined {
  if (!NUMBER.test(token)) return undefined;
  const value = Number(token);
  return Number.isFinite(Math.fround(value)) ? value : undefined;
}

// C's isspace() in the "C" locale, which is what fscanf skips.
function isSpace(byte: number): boolean {
  return byte === 0x20 || (byte >= 0x09 && byte <= 0x0d);
}

// Reads one child's stdout, chunk by chunk, keeping the state of a report that
// spans chunks.
export class ElimReportParser {
  private readonly token = Buffer.alloc(MAX_TOKEN_BYTES);
  private tokenLength = 0;
  private oversized = false;
  private expecting: 'count' | 'name' | 'value' = 'count';
  private pairsLeft = 0;
  private name: string | undefined; // undefined while the current pair is being dropped
  private skipToNewline = false;
  private reportEndedOnThisLine = false;
  private readonly names = new Set<string>();
  private result: ParseResult = emptyResult();

  // textNames: the String resources, whose values are kept as text.
  constructor(private readonly textNames: ReadonlySet<string> = new Set()) {}

  // Parses a chunk and returns what it completed.
  push(chunk: Uint8Array): ParseResult {
    this.result = emptyResult();
    let start = 0;
    if (chunk.length > MAX_BYTES_PER_PUSH) {
      this.result.problems.add('chunk-truncated');
      this.resync();
      start = chunk.length - MAX_BYTES_PER_PUSH;
    }
    for (let i = start; i < chunk.length; i++) {
      const byte = chunk[i] as number;
      if (isSpace(byte)) {
        if (this.tokenLength > 0 || this.oversized) this.endToken();
        if (byte === NEWLINE) {
          this.skipToNewline = false;
          this.reportEndedOnThisLine = false;
        }
      } else if (this.skipToNewline) {
        continue;
      } else if (this.tokenLength < MAX_TOKEN_BYTES) {
        this.token[this.tokenLength++] = byte;
      } else {
        this.oversized = true;
      }
    }
    return this.result;
  }

  // Forgets the partial token and report and skips to the next line; called after
  // bytes were lost, since what follows is the middle of something.
  resync(): void {
    this.tokenLength = 0;
    this.oversized = false;
    this.expecting = 'count';
    this.pairsLeft = 0;
    this.name = undefined;
    this.skipToNewline = true;
    this.reportEndedOnThisLine = false;
  }

  private endToken(): void {
    const text = this.oversized ? undefined : this.token.toString('latin1', 0, this.tokenLength);
    if (this.oversized) this.result.problems.add('oversized-token');
    this.tokenLength = 0;
    this.oversized = false;
    if (!this.skipToNewline) this.onToken(text);
  }

  // text is undefined for an oversized token, which fits nowhere.
  private onToken(text: string | undefined): void {
    switch (this.expecting) {
      case 'count':
        this.onCount(text);
        return;
      case 'name':
        if (text !== undefined && COUNT.test(text)) {
          this.result.problems.add('truncated-report');
          this.expecting = 'count';
          this.onCount(text);
          return;
        }
        if (text !== undefined && isValidResourceName(text)) {
          this.name = text;
        } else {
          if (text !== undefined) this.result.problems.add('bad-name');
          this.name = undefined;
        }
        this.expecting = 'value';
        return;
      case 'value':
        this.onValue(text);
        return;
    }
  }

  private onCount(text: string | undefined): void {
    const count = text !== undefined && COUNT.test(text) ? Number(text) : undefined;
    if (count === undefined || count > MAX_PAIRS) {
      if (this.reportEndedOnThisLine && count === undefined) {
        this.result.problems.add('leftover-pairs');
        this.skipToNewline = true;
      } else if (text !== undefined) {
        this.result.problems.add('bad-count');
      }
      return;
    }
    if (count === 0) {
      this.endReport();
      return;
    }
    this.pairsLeft = count;
    this.expecting = 'name';
  }

  private onValue(text: string | undefined): void {
    if (this.name !== undefined && text !== undefined && this.textNames.has(this.name)) {
      if (isValidTextValue(text)) this.store(this.name, text);
      else this.result.problems.add('bad-text');
    } else if (this.name !== undefined) {
      const value = text === undefined ? undefined : parseResourceValue(text);
      if (value === undefined) {
        if (text !== undefined) this.result.problems.add(NUMBER.test(text) ? 'out-of-range' : 'bad-value');
      } else {
        this.store(this.name, value);
      }
    }
    this.name = undefined;
    this.pairsLeft -= 1;
    if (this.pairsLeft > 0) {
      this.expecting = 'name';
    } else {
      this.endReport();
    }
  }

  private store(name: string, value: ResourceValue): void {
    if (!this.names.has(name)) {
      if (this.names.size >= MAX_NAMES) {
        this.result.problems.add('too-many-names');
        return;
      }
      this.names.add(name);
    }
    this.result.values.set(name, value);
  }

  private endReport(): void {
    this.expecting = 'count';
    this.reportEndedOnThisLine = true;
    this.result.reports += 1;
  }
}

function emptyResult(): ParseResult {
  return { values: new Map(), reports: 0, problems: new Set() };
}
