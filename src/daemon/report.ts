// The elim protocol on stdout. LIM parses a report with fscanf: a count, then that
// many name/value pairs, whitespace-separated. A partial report blocks LIM and a
// report cut short by our exit crashes it, so each report is one line written with
// exactly one write(2) of at most PIPE_BUF bytes (atomic on a pipe). LIM parses
// one report per poll, every 5 s, so reports it has not read are a backlog of
// stale values: on a pipe they are taken back before the next one is written.
import { closeSync, constants, fstatSync, openSync, readvSync, writeSync } from 'node:fs';
import { lazyBuiltin } from '../util/builtin.js';
import type { Socket } from 'node:net';
import { isValidResourceName, isValidTextValue, MAX_TEXT_BYTES, type ResourceValue } from '../lsf/elim-parse.js';
import { errorCode } from '../util/errors.js';

// POSIX guarantees that a write of at most this many bytes to a pipe is atomic.
export const PIPE_BUF = 4096;

// The fraction of a value written with three places, by thousandths: '' for none, then
// '.001' to '.999' without trailing zeros ('.5' for 500).
const THOUSANDTHS: readonly string[] = Array.from({ length: 1000 }, (_, i) => (i === 0 ? '' : `.${String(i).padStart(3, '0').replace(/0+$/, '')}`));

// A finite number as a plain decimal: no exponent, no NaN, at most `decimals` places.
export function formatValue(value: number, decimals = 3): string {
  // A value from 0 to 10^6 (every rank), the quick way: its thousandths as a whole
  // number, and a table. toFixed, a search for the point and a slice, each a builtin
  // run cold once per report, cost 20-25 µs more (in process, 100 ms apart). The
  // scaled value is within 1e-10 of value × 1000, so where it is not within 1e-4 of a
  // half, the nearest whole number is the one toFixed(3) rounds to; the rest go the
  // long way.
  if (decimals === 3 && value >= 0 && value < 1e6) {
    const scaled = value * 1000;
    const thousandths = Math.round(scaled);
    const off = scaled - thousandths;
    if (off > -0.4999 && off < 0.4999) {
      const whole = (thousandths / 1000) | 0;
      return `${whole}${THOUSANDTHS[thousandths - whole * 1000]!}`;
    }
  }
  if (!Number.isFinite(value)) throw new RangeError(`cannot report a non-finite value (${String(value)})`);
  let text = Math.abs(value) < 1e21 ? value.toFixed(decimals) : BigInt(Math.round(value)).toString();
  if (text.includes('.')) {
    // Trailing zeros, then a trailing point (a loop: the regular expressions cost more, run once per report).
    let end = text.length;
    while (text.charCodeAt(end - 1) === 48) end--;
    if (text.charCodeAt(end - 1) === 46) end--;
    text = text.slice(0, end);
  }
  return text === '-0' ? '0' : text;
}

// Names already checked: the same few are reported every 10 s.
const knownNames = new Set<string>();

// One complete report line, `N name value ...\n`, with N equal to the pairs.
export function formatElimLine(pairs: ReadonlyArray<readonly [string, number]>): string {
  if (pairs.length === 0) throw new RangeError('a report needs at least one name/value pair');
  // Concatenated: an array and its join are two more builtins to run cold each report.
  let line = `${pairs.length}`;
  for (let i = 0; i < pairs.length; i++) {
    const name = pairs[i]![0];
    const value = pairs[i]![1];
    if (!knownNames.has(name)) {
      if (!isValidResourceName(name)) throw new RangeError(`invalid load index name ${JSON.stringify(name)}`);
      if (knownNames.size < 256) knownNames.add(name);
    }
    line += ` ${name} ${formatValue(value)}`;
  }
  // Names and values are ASCII: the length is the byte count.
  line += '\n';
  if (line.length > PIPE_BUF) {
    throw new RangeError(`report of ${line.length} bytes exceeds PIPE_BUF (${PIPE_BUF}) and could not be written atomically`);
  }
  return line;
}

// Values another source (a child elim) adds to a report.
export interface ExtraValues {
  source: string; // for logs: the child elim's name
  pairs: ReadonlyArray<readonly [string, ResourceValue]>; // text for a String resource
}

// A report line with extra values, and what had to be left out of it.
export interface BudgetedReport {
  line: string;
  cut: string[]; // sources left out whole: with them the line would exceed PIPE_BUF
  refused: Array<{ source: string; name: string; why: string }>; // single pairs that cannot be reported
}

function pairText(name: string, value: number, decimals = 3): string {
  return ` ${name} ${formatValue(value, decimals)}`;
}

// A child elim's value keeps six decimals, not the rank's three, and below 1 as many
// more as keep seven significant digits, a float's: LIM stores it as a float, and a
// child's 0.0004 (then its 0.0000004) sent as 0 read as the idle value (select[x>0]
// turned around).
const CHILD_DECIMALS = 6;

function childDecimals(value: number): number {
  const magnitude = Math.floor(Math.log10(Math.abs(value)));
  // 0 and values of 1 or more: six; a float's smallest, about 1.4e-45, needs 51.
  return Number.isFinite(magnitude) && magnitude < 0 ? Math.min(CHILD_DECIMALS - magnitude, 52) : CHILD_DECIMALS;
}

// Builds one report line within PIPE_BUF: `own` first (always, and alone it always
// fits), then each source in order, all of its pairs or none, so a long or broken
// child costs only its own values. A pair whose name LIM would refuse, or whose
// value is not finite in LIM's float, or whose name is already in the line, is left
// out alone.
export function budgetReport(own: ReadonlyArray<readonly [string, number]>, extras: readonly ExtraValues[], limit = PIPE_BUF): BudgetedReport {
  const ownLine = formatElimLine(own); // throws for an invalid pair of lavarank's own
  const refused: BudgetedReport['refused'] = [];
  const cut: string[] = [];
  const names = new Set(own.map(([name]) => name));
  let count = own.length;
  let body = own.map(([name, value]) => pairText(name, value)).join('');
  for (const { source, pairs } of extras) {
    let part = '';
    let n = 0;
    const mine = new Set<string>();
    for (const [name, value] of pairs) {
      let why: string | undefined;
      if (!isValidResourceName(name)) why = 'not a load index name LIM accepts';
      else if (typeof value === 'string' && !isValidTextValue(value)) why = `not printable ASCII of at most ${MAX_TEXT_BYTES} characters`;
      else if (typeof value === 'number' && !Number.isFinite(Math.fround(value))) why = 'not a finite number in LIM\'s float';
      else if (names.has(name) || mine.has(name)) why = 'already in the report';
      if (why !== undefined) {
        refused.push({ source, name, why });
        continue;
      }
      mine.add(name);
      part += typeof value === 'string' ? ` ${name} ${value}` : pairText(name, value, childDecimals(value));
      n++;
    }
    if (n === 0) continue;
    if (String(count + n).length + body.length + part.length + 1 > limit) {
      cut.push(source);
      continue;
    }
    count += n;
    body += part;
    for (const name of mine) names.add(name);
  }
  return { line: count === own.length ? ownLine : `${count}${body}\n`, cut, refused };
}

// What happened to one report: written whole; written whole after taking back
// older reports the reader had not read (it is not reading); dropped because the
// reader is not reading and the pipe is full; or the reader is gone (EPIPE).
export type WriteOutcome = 'written' | 'replaced' | 'dropped' | 'closed';

// Where reports go.
export interface ReportSink {
  write(line: string): WriteOutcome;
}

const CLOSED_CODES = new Set(['EPIPE', 'EBADF', 'ECONNRESET', 'ENXIO', 'EIO', 'EINVAL', 'ENOTCONN']);

// Failures of the take-back's open that pass: one of them turned it off for the
// process's life, and a LIM that stalled later read the old backlog one per 5 s.
const TRANSIENT_CODES = new Set(['EMFILE', 'ENFILE', 'ENOMEM', 'EINTR']);

// Wrappers kept referenced so their handles are never collected.
const keepAlive: Socket[] = [];

// Reads and discards whatever the reader of a pipe has not read yet, through fd, a
// non-blocking read end of our own opened on /proc/self/fd/N, and returns how many
// bytes that was. Every report went in with one atomic write and every read takes all
// there is, so the pipe only ever holds whole reports, and what is taken is whole
// reports. This and the write that follows run in one turn of the event loop, so
// SIGTERM cannot fall between them; a LIM polling at that very instant waits
// microseconds.
function takeBackUnread(fd: number, scratch: readonly Buffer[]): number {
  let taken = 0;
  // An empty pipe, the usual case, is an EAGAIN error from readSync: without a stack
  // trace, which is never shown, it costs a few microseconds instead of tens.
  const stackTraceLimit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  try {
    for (;;) {
      let n: number;
      try {
        n = readvSync(fd, scratch);
      } catch (err) {
        if (errorCode(err) === 'EAGAIN') return taken; // the pipe is empty
        throw err;
      }
      if (n === 0) return taken;
      taken += n;
    }
  } finally {
    Error.stackTraceLimit = stackTraceLimit;
  }
}

// The atime of what fd is open on, in ms; NaN where it cannot be told.
function atimeOf(fd: number): number {
  try {
    return fstatSync(fd).atimeMs;
  } catch {
    return Number.NaN; // the take-back then runs, and says what is wrong, or the write does
  }
}

// Blocks the thread for ms without spinning the CPU.
function pause(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

// A sink on a file descriptor (stdout by default), made non-blocking so that a
// reader that stops reading never blocks the daemon, which could then no longer
// handle SIGTERM. On a pipe (what LIM gives), the descriptor is reopened through
// /proc/self/fd with O_NONBLOCK: a new open file description, so nothing shared
// changes, and a write of at most PIPE_BUF bytes to a full pipe fails with EAGAIN
// having written nothing. Before each write, reports the reader has not read are
// taken back (takeBackUnread; left out where the pipe's atime says it read; its read end
// kept between reports where reads do not move the atime), so the pipe holds at most the newest report instead
// of up to 64 KiB of old ones (5000 reports, 14 hours of them at 10 s, which LIM
// would read one per 5 s once it reads again). On a socket (what Node's
// child_process gives), a net.Socket wrapper switches the descriptor to
// non-blocking; the socket is never used otherwise, and its buffer cannot be
// taken back, so a full socket drops reports.
// fd made non-blocking by a net.Socket that holds it (see fdSink). node:net is required
// here, not imported: loaded, it stays resident (0.2-0.4 MB), and LIM gives a pipe.
const net = lazyBuiltin<typeof import('node:net')>('node:net');
function nonBlockingSocket(fd: number): Socket {
  return new (net().Socket)({ fd, readable: false, writable: true }).unref();
}

export function fdSink(fd = 1): ReportSink {
  let target = fd;
  let pipe: string | undefined;
  // As the one-element list readvSync takes: readSync checks five arguments through
  // Node's wrapped validators, readvSync two (src/collectors/procfs.ts reads so too).
  const scratch = [Buffer.allocUnsafe(64 * 1024)];
  try {
    const st = fstatSync(fd);
    if (st.isFIFO()) {
      pipe = `/proc/self/fd/${fd}`;
      target = openSync(pipe, constants.O_WRONLY | constants.O_NONBLOCK);
    } else if (st.isSocket()) keepAlive.push(nonBlockingSocket(fd));
  } catch (err) {
    const code = errorCode(err);
    // EBADF: stdout closed; ENXIO: a FIFO with no reader. Either way nobody reads us.
    if (code === 'EBADF' || code === 'ENXIO') return { write: () => 'closed' };
    // The reopen failed (no /proc, no descriptor free at start): no take-back then, and
    // the descriptor itself is made non-blocking, as for a socket, so that a full pipe
    // drops reports instead of blocking the write, and with it SIGTERM, for good.
    pipe = undefined;
    target = fd;
    keepAlive.push(nonBlockingSocket(fd));
  }
  // Whether the reader read the last report is told by the pipe's atime, which a read of
  // something moves (pipe_read's file_accessed): moved since it was looked at with the
  // pipe empty before that report went in, the pipe is empty again (every read takes all
  // there is, and nothing but our report was there to read), and the take-back's open,
  // failing read and close (27 000 instructions and three syscalls) are left out. Where
  // reads do not move it (an anonymous pipe since Linux 6.14, a FIFO on a noatime mount),
  // the first report read without moving it says so, and from then on the take-back runs
  // at every report without the look.
  let atimeMoves: boolean | undefined;
  let seen = Number.NaN; // the atime looked at with the pipe empty before the last report went in whole; NaN: none

  // The take-back's read end, -1 while none is open. It is closed again before the write
  // unless the pipe was just found empty where reads do not move the atime: held open
  // across a write, it would hide a reader gone (no EPIPE). Held there, it saves an open and a close a report (11 000
  // instructions of 45 000, loop26), and what it hides shows one report later: the report
  // written beside it stays unread, so the next take-back finds it, closes the read end
  // before that write, and the write fails with EPIPE. LIM itself is not hidden: killed,
  // it is no longer the parent (run.ts, parentCheck), and OpenLava closes the pipe only
  // to send SIGTERM (lim.rload.c, lim_pclose).
  let readEnd = -1;
  const closeReadEnd = (): void => {
    if (readEnd < 0) return;
    const fd = readEnd;
    readEnd = -1;
    closeSync(fd);
  };

  // Takes back what the reader has not read, unless the atime says it read the last
  // report; whether anything was taken back.
  const takeBack = (path: string): boolean => {
    const atime = atimeMoves === false ? Number.NaN : atimeOf(target);
    if (!Number.isNaN(seen) && !Number.isNaN(atime) && atime !== seen) {
      atimeMoves = true;
      seen = atime;
      closeReadEnd();
      return false;
    }
    let taken: number;
    try {
      if (readEnd < 0) readEnd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
      taken = takeBackUnread(readEnd, scratch);
    } catch (err) {
      seen = Number.NaN;
      closeReadEnd();
      // Out of descriptors or memory for a moment: tried again at the next report.
      // Any other failure is for good (no read end can be opened here): a full pipe
      // then drops reports instead.
      if (!TRANSIENT_CODES.has(errorCode(err) ?? '')) pipe = undefined;
      return false;
    }
    if (taken > 0) {
      closeReadEnd();
      seen = Number.NaN; // our own read moved it
      return true;
    }
    // Looked at again now that the pipe is found empty: a read that fell between the look
    // above and the take-back moved the atime before our report goes in, and held against
    // the look above it passed at the next report for a read of this one, which may wait
    // unread behind it (review78).
    const now = atimeMoves === false ? Number.NaN : atimeOf(target);
    // Empty though the atime did not move: the last report was read without moving it.
    if (atimeMoves === undefined && !Number.isNaN(seen) && !Number.isNaN(atime) && !Number.isNaN(now)) atimeMoves = now !== atime;
    seen = atimeMoves === false ? Number.NaN : now;
    if (atimeMoves !== false) closeReadEnd();
    return false;
  };

  const send = (line: string, replaced: boolean): WriteOutcome => {
    // A report (ASCII, at most PIPE_BUF bytes) goes out whole in one write to a
    // pipe; only a socket may take part of it, and the rest then goes as bytes.
    let buf: Buffer | undefined;
    let off = 0;
    let waited = 0;
    for (;;) {
      try {
        if (buf === undefined) {
          off = writeSync(target, line);
          if (off >= line.length) return replaced ? 'replaced' : 'written';
          buf = Buffer.from(line);
        }
        while (off < buf.length) off += writeSync(target, buf, off, buf.length - off);
        return replaced ? 'replaced' : 'written';
      } catch (err) {
        const code = errorCode(err);
        if (code === 'EAGAIN' && off === 0) return 'dropped';
        if (code !== undefined && CLOSED_CODES.has(code)) return 'closed';
        // Part of a report is out (only possible on a socket): LIM would block on
        // the rest, so finish it, waiting up to a second for room.
        if (code === 'EAGAIN' && waited < 1000) {
          pause(10);
          waited += 10;
          continue;
        }
        if (code === 'EAGAIN') return 'closed';
        throw err;
      }
    }
  };

  return {
    write(line) {
      const replaced = pipe !== undefined && takeBack(pipe);
      const outcome = send(line, replaced);
      if (outcome !== 'written' && outcome !== 'replaced') {
        seen = Number.NaN;
        closeReadEnd();
      }
      return outcome;
    },
  };
}
