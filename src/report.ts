// The elim protocol on stdout. LIM parses a report with fscanf: a count, then that
// many name/value pairs, whitespace-separated. A partial report blocks LIM and a
// report cut short by our exit crashes it, so each report is one line written with
// exactly one write(2) of at most PIPE_BUF bytes (atomic on a pipe), and a full
// pipe drops the report instead of queueing it.
import { constants, fstatSync, openSync, writeSync } from 'node:fs';
import { Socket } from 'node:net';
import type { Writable } from 'node:stream';
import { errorCode } from './errors.js';

// POSIX guarantees that a write of at most this many bytes to a pipe is atomic.
export const PIPE_BUF = 4096;

// A load index name LIM accepts: it reads names into 1024-byte buffers, lsf.shared
// limits them to 39 characters of letters, digits and underscores.
const NAME_RE = /^[A-Za-z][A-Za-z0-9_]{0,38}$/;

// True if name can be reported as a load index.
export function isValidIndexName(name: string): boolean {
  return NAME_RE.test(name);
}

// A finite number as a plain decimal: no exponent, no NaN, at most `decimals` places.
export function formatValue(value: number, decimals = 3): string {
  if (!Number.isFinite(value)) throw new RangeError(`cannot report a non-finite value (${String(value)})`);
  let text = Math.abs(value) < 1e21 ? value.toFixed(decimals) : BigInt(Math.round(value)).toString();
  if (text.includes('.')) text = text.replace(/0+$/, '').replace(/\.$/, '');
  return text === '-0' ? '0' : text;
}

// One complete report line, `N name value ...\n`, with N equal to the pairs.
export function formatElimLine(pairs: ReadonlyArray<readonly [string, number]>): string {
  if (pairs.length === 0) throw new RangeError('a report needs at least one name/value pair');
  const parts: string[] = [String(pairs.length)];
  for (const [name, value] of pairs) {
    if (!isValidIndexName(name)) throw new RangeError(`invalid load index name ${JSON.stringify(name)}`);
    parts.push(name, formatValue(value));
  }
  const line = `${parts.join(' ')}\n`;
  if (Buffer.byteLength(line) > PIPE_BUF) {
    throw new RangeError(`report of ${Buffer.byteLength(line)} bytes exceeds PIPE_BUF (${PIPE_BUF}) and could not be written atomically`);
  }
  return line;
}

// What happened to one report: written whole, dropped because the reader is not
// reading (pipe full), or the reader is gone (EPIPE, closed descriptor).
export type WriteOutcome = 'written' | 'dropped' | 'closed';

// Where reports go.
export interface ReportSink {
  write(line: string): WriteOutcome;
}

const CLOSED_CODES = new Set(['EPIPE', 'EBADF', 'ECONNRESET', 'ENXIO', 'EIO', 'EINVAL', 'ENOTCONN']);

// Wrappers kept referenced so their handles are never collected.
const keepAlive: Socket[] = [];

// Blocks the thread for ms without spinning the CPU.
function pause(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

// A sink on a file descriptor (stdout by default), made non-blocking so that a
// reader that stops reading costs dropped reports, never a blocked daemon that can
// no longer handle SIGTERM. On a pipe (what LIM gives), the descriptor is reopened
// through /proc/self/fd with O_NONBLOCK: a new open file description, so nothing
// shared changes, and a write of at most PIPE_BUF bytes to a full pipe fails with
// EAGAIN having written nothing. On a socket (what Node's child_process gives), a
// net.Socket wrapper switches the descriptor to non-blocking; the socket is never
// used otherwise.
export function fdSink(fd = 1): ReportSink {
  let target = fd;
  try {
    const st = fstatSync(fd);
    if (st.isFIFO()) target = openSync(`/proc/self/fd/${fd}`, constants.O_WRONLY | constants.O_NONBLOCK);
    else if (st.isSocket()) keepAlive.push(new Socket({ fd, readable: false, writable: true }).unref());
  } catch (err) {
    const code = errorCode(err);
    // EBADF: stdout closed; ENXIO: a FIFO with no reader. Either way nobody reads us.
    if (code === 'EBADF' || code === 'ENXIO') return { write: () => 'closed' };
    // Without /proc the blocking descriptor still works; only the full-pipe case degrades.
  }
  return {
    write(line) {
      const buf = Buffer.from(line);
      let off = 0;
      let waited = 0;
      for (;;) {
        try {
          while (off < buf.length) off += writeSync(target, buf, off, buf.length - off);
          return 'written';
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
    },
  };
}

// A sink on a Node stream, for tests (a PassThrough) and embedding.
export function streamSink(stream: Writable): ReportSink {
  return {
    write(line) {
      if (stream.destroyed || stream.writableEnded) return 'closed';
      if (stream.writableNeedDrain) return 'dropped';
      stream.write(line);
      return 'written';
    },
  };
}
