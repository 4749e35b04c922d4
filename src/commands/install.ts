// `lavarank install` (also scripts/install-elim): the installer of src/lsf/install.ts
// with the terminal, the environment and the clock of this process.
import { runInstall } from '../lsf/install.js';
import { print, printError } from '../util/cliio.js';

// The entry point `lavarank install` dispatches to; returns the exit code.
export async function main(argv: string[]): Promise<number> {
  return runInstall(argv, { out: print, err: printError, env: process.env, now: () => new Date(), uid: process.geteuid?.() ?? 0 });
}
