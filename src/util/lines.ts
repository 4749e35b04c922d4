// Splitting a file or stream into lines for the lsb.acct and history readers.
// readline cannot say whether the last line ended with a newline, and both readers
// must skip a last line that a writer (mbatchd, the daemon) has not finished.
import type { Stats } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';
import { stripBom } from './bom.js';
import { ConfigError } from './errors.js';
import { openInput } from './paths.js';

// One line without its newline. `complete` is false for a last line that has no
// newline; `tooLong` marks a line cut at maxLength, whose text is only the start.
export interface Line {
  text: string;
  number: number; // 1-based
  complete: boolean;
  tooLong: boolean;
}

// Options of readLineBatches.
export interface LineOptions {
  // Longer lines are cut, so a file without newlines cannot exhaust memory.
  maxLength?: number;
}

// Far above any real lsb.acct or history line; bounds memory on a garbage file.
export const DEFAULT_MAX_LINE = 1024 * 1024;

// What one read takes from a file.
export const READ_CHUNK = 256 * 1024;

// A stream of what an input opened by openInput held when it was opened: a regular file
// is read to its size then, not to its end, which a writer (a user whose directory holds
// the input, appending as fast as it is read) could keep ahead of for good, and retrain,
// under cron, never ended. What is appended meanwhile is the next run's; a line torn at
// that size is a last line without its newline, as a writer's unfinished one. A pipe (a
// process substitution) is read to its end.
export function streamAsOpened(handle: FileHandle, stats: Pick<Stats, 'isFile' | 'size'>): Readable {
  if (!stats.isFile()) return handle.createReadStream({ highWaterMark: READ_CHUNK });
  if (stats.size === 0) {
    void handle.close();
    return Readable.from([]);
  }
  return handle.createReadStream({ highWaterMark: READ_CHUNK, end: stats.size - 1 });
}

// Yields the lines of a file (by path) or a stream, a batch per chunk read, so the
// callers pay for one await per chunk rather than per line.
export async function* readLineBatches(input: string | Readable, options: LineOptions = {}): AsyncGenerator<Line[]> {
  const maxLength = options.maxLength ?? DEFAULT_MAX_LINE;
  if (!Number.isInteger(maxLength) || maxLength < 1) {
    throw new ConfigError(`maxLength: expected a positive integer, received ${String(maxLength)}`);
  }
  // A path is opened as an input (openInput): never a device, nor a FIFO it would wait on.
  const opened = typeof input === 'string' ? await openInput(input, 'input file') : undefined;
  const stream = opened === undefined ? input : streamAsOpened(opened.handle, opened.stats);
  const decoder = new StringDecoder('utf8');
  let pending = '';
  let skipping = false; // inside an overlong line, discarding up to its newline
  let number = 0;
  let first = true;
  for await (const chunk of stream as AsyncIterable<Buffer | string>) {
    let text = pending + (typeof chunk === 'string' ? chunk : decoder.write(chunk));
    // A file saved by a Windows editor starts with a byte order mark; it is not part of the
    // first line. The decoder gives '' until the mark's three bytes are all in.
    if (first && text.length > 0) {
      first = false;
      text = stripBom(text);
    }
    const batch: Line[] = [];
    let start = 0;
    for (let nl = text.indexOf('\n'); nl !== -1; nl = text.indexOf('\n', start)) {
      if (skipping) {
        skipping = false;
      } else {
        number += 1;
        const tooLong = nl - start > maxLength;
        batch.push({ text: text.slice(start, tooLong ? start + maxLength : nl), number, complete: true, tooLong });
      }
      start = nl + 1;
    }
    pending = text.slice(start);
    if (!skipping && pending.length > maxLength) {
      number += 1;
      batch.push({ text: pending.slice(0, maxLength), number, complete: true, tooLong: true });
      skipping = true;
    }
    if (skipping) pending = '';
    if (batch.length > 0) yield batch;
  }
  const tail = pending + decoder.end();
  if (tail.length > 0 && !skipping) {
    number += 1;
    const tooLong = tail.length > maxLength;
    yield [{ text: tooLong ? tail.slice(0, maxLength) : tail, number, complete: false, tooLong }];
  }
}
