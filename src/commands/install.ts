// `lavarank install` (also scripts/install-elim): the installer of src/lsf/install.ts
// with the terminal, the environment and the clock of this process.
import { runInstall } from '../lsf/install.js';
import { print, printError } from '../util/cliio.js';
import { escapedControlsInLines } from '../util/shown.js';

// The entry point `lavarank install` dispatches to; returns the exit code.
export async function main(argv: string[]): Promise<number> {
  // A refusal names where the links of an LSF administrator's LSB_CONFDIR lead: names they
  // chose, whose escape sequences root's terminal would obey.
  const err = (text: string): void => printError(escapedControlsInLines(text));
  return runInstall(argv, { out: print, err, env: process.env, now: () => new Date(), uid: process.geteuid?.() ?? 0 });
}
