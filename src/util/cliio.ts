// Output for the interactive subcommands (check, once, explain, retrain, install...)
// Never reachable in elim mode: there stdout belongs to LIM and carries reports only,
// written by src/daemon/report.ts.
import { realpathSync, writeSync } from 'node:fs';
import { basename } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigError, UsageError, errorMessage } from './errors.js';
import { keepInspectorClosed } from './node-flags.js';
import { escapedControlsInLines } from './shown.js';

let stdoutClosed = false;

// Writes text to stdout synchronously, so it is complete before the process exits.
// Once the reader has gone (`lavarank check | head -2`), the rest of the output is
// dropped without a word: the command still finishes what it does (an install
// stopped between two steps would be half done) and exits with its own status. Any
// other failure (a full disk under `> file`) is thrown, naming stdout.
export function print(text: string): void {
  if (stdoutClosed) return;
  const buf = Buffer.from(text.endsWith('\n') ? text : `${text}\n`);
  let off = 0;
  while (off < buf.length) {
    try {
      off += writeSync(1, buf, off);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'EAGAIN') continue;
      if (code === 'EPIPE') {
        stdoutClosed = true;
        return;
      }
      // Node's own message ("ENOSPC: no space left on device, write") names no file.
      throw new Error(`cannot write to stdout: ${errorMessage(err)}`, { cause: err });
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

// Exit statuses of every command (README, "Exit statuses"): 2 when the command line
// is wrong in itself, 1 for any other error (unreadable or malformed input, a
// refusal, a failure). A command may add its own above 2 (retrain: 3, 130).
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;

// Whether err is about the command line itself: parseArgs' own errors (an unknown
// option, a missing value) and UsageError.
export function isUsageError(err: unknown): boolean {
  return err instanceof UsageError || (err instanceof TypeError && String((err as NodeJS.ErrnoException).code).startsWith('ERR_PARSE_ARGS'));
}

// Says on stderr why a command failed, prefixed with who ("lavarank check"), and
// returns its exit status: the one place that decides it for an error a command
// throws. A usage error points to `who --help` when the command has one.
export function failureStatus(who: string, err: unknown, options: { help?: boolean } = {}): number {
  if (isUsageError(err)) {
    printError(`${who}: ${errorMessage(err)}${options.help === false ? '' : `\nTry "${who} --help".`}`);
    return EXIT_USAGE;
  }
  // Its message may quote names other users chose (where their link in a directory they
  // own leads, a line of their file), whose escape sequences root's terminal would obey.
  if (err instanceof ConfigError && err.problems.length > 1) printError(escapedControlsInLines(`${who}: ${err.problems.length} problems:\n  ${err.problems.join('\n  ')}`));
  else printError(escapedControlsInLines(`${who}: ${errorMessage(err)}`));
  if (process.env['LAVARANK_DEBUG'] === '1' && err instanceof Error && !(err instanceof ConfigError) && err.stack !== undefined) printError(err.stack);
  return EXIT_FAILURE;
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

// Runs main when the module at moduleUrl is the program node was started with (the
// helper programs calibrate spawns: probe.js, stress.js), then exits with its status.
// Does nothing when the module is merely imported.
export async function runAsProgram(moduleUrl: string, main: SubcommandMain): Promise<void> {
  const script = process.argv[1];
  if (script === undefined) return;
  let self: boolean;
  try {
    self = realpathSync(script) === fileURLToPath(moduleUrl);
  } catch {
    return; // argv[1] is not a file: we were imported
  }
  if (!self) return;
  keepInspectorClosed();
  let code: number;
  try {
    code = await main(process.argv.slice(2));
  } catch (err) {
    code = failureStatus(basename(fileURLToPath(moduleUrl), '.js'), err, { help: false });
  }
  // Exit explicitly: a stray timer must not keep a finished helper alive.
  process.exit(code);
}
