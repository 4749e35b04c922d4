// Output for the interactive subcommands (check, once, explain, retrain, install...).
// Never reachable in elim mode: there stdout belongs to LIM and carries reports only,
// written by src/report.ts.
import { writeSync } from 'node:fs';

// Writes text to stdout synchronously, so it is complete before the process exits.
export function print(text: string): void {
  const buf = Buffer.from(text.endsWith('\n') ? text : `${text}\n`);
  let off = 0;
  while (off < buf.length) {
    try {
      off += writeSync(1, buf, off);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EAGAIN') continue;
      throw err;
    }
  }
}

// Writes a diagnostic line to stderr, ignoring a closed stderr.
export function printError(text: string): void {
  try {
    writeSync(2, text.endsWith('\n') ? text : `${text}\n`);
  } catch {
    // stderr closed or not writable: the exit status still tells the caller
  }
}

// The signature every subcommand module exports as `main`.
export type SubcommandMain = (argv: string[]) => Promise<number>;

// Writes text to stderr as it is, adding no newline: for a progress line redrawn in
// place on a terminal. A closed stderr is ignored, as in printError.
export function printStatus(text: string): void {
  try {
    writeSync(2, text);
  } catch {
    // stderr closed or not writable: progress is only a courtesy
  }
}
