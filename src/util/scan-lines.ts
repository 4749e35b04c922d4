// Reading a file of any size a chunk at a time, line by line, holding no line over a
// bound: /proc/self/mountinfo, where one user's mount point can make a line of 71 MB.

// Bounds of scanLines.
export interface ScanOptions {
  maxBytes: number; // the most read; what is past it is never read
  maxLine: number; // a longer line is handed over as undefined, never held
  chunk?: number; // bytes asked for a read; default 64 KiB
}

// How scanLines ended: each asked to stop, the file ended, or maxBytes were read
// first (the line under way there, cut, is not handed over).
export type ScanEnd = 'stopped' | 'end' | 'bound';

// Hands each line of what read(buffer, length) gives, decoded as latin1 (one character
// a byte) and without its newline, to each, until each returns true, read gives 0
// bytes or maxBytes are read. A line longer than maxLine is handed over as undefined,
// so that a caller can still count it; a last line without a newline is handed over
// at the end of the file, never at the bound. Errors of read and of each go through.
export function scanLines(read: (buffer: Buffer, length: number) => number, options: ScanOptions, each: (line: string | undefined) => boolean): ScanEnd {
  const steps = scanLinesSteps(options, each);
  let step = steps.next();
  while (step.done !== true) step = steps.next(read(step.value.buffer, step.value.length));
  return step.value;
}

// One read scanLinesSteps asks for: at most length bytes into buffer, from its start.
export interface ReadAsk {
  buffer: Buffer;
  length: number;
}

// scanLines with its reads asked of its caller: each yield is a read to make, and the
// caller gives back the number of bytes it read (0 at the end of the file), so that the
// reads can be made in libuv's pool, each one a turn of the event loop.
export function* scanLinesSteps(options: ScanOptions, each: (line: string | undefined) => boolean): Generator<ReadAsk, ScanEnd, number> {
  const chunk = Buffer.allocUnsafe(options.chunk ?? 64 * 1024);
  let partial = ''; // the start of a line that goes on in the next chunk
  let long = false; // the line under way is longer than maxLine: not kept
  let total = 0;
  const hand = (line: string): boolean => each(long || line.length > options.maxLine ? undefined : line);
  while (total < options.maxBytes) {
    const n = yield { buffer: chunk, length: Math.min(chunk.length, options.maxBytes - total) };
    if (n === 0) {
      if ((partial !== '' || long) && hand(partial)) return 'stopped';
      return 'end';
    }
    total += n;
    const text = chunk.toString('latin1', 0, n);
    let start = 0;
    for (let end = text.indexOf('\n'); end >= 0; end = text.indexOf('\n', start)) {
      const done = hand(long ? '' : partial + text.slice(start, end));
      partial = '';
      long = false;
      start = end + 1;
      if (done) return 'stopped';
    }
    if (!long && partial.length + n - start > options.maxLine) {
      long = true;
      partial = '';
    }
    if (!long) partial += text.slice(start);
  }
  return 'bound';
}
