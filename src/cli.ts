#!/usr/bin/env node
// The lavarank command. Subcommand modules are imported on demand, so the
// running elim never loads the training or installation code. Without a
// subcommand it prints the help on a terminal, and runs the elim when stdout is
// not a terminal: the installed wrapper always says `run`, but a wrapper written
// by hand (or by an older guide) may start lavarank with ELIMARGS alone, and
// under LIM stdout is a pipe.
import { realpathSync } from 'node:fs';
import { isTerminal } from './util/terminal.js';
import { fileURLToPath } from 'node:url';
import { EXIT_USAGE, failureStatus, printError, print, type SubcommandMain } from './util/cliio.js';
import { exitWhenReturned } from './util/exit.js';
import { keepInspectorClosed } from './util/node-flags.js';
import { endAs, isSupervisedWorker, superviseCommand, tellExitStatus } from './util/supervise.js';
import { VERSION } from './util/version.js';

const COMMANDS: Record<string, { summary: string; load: () => Promise<{ main: SubcommandMain }> }> = {
  run: { summary: 'run the elim (the default; what LIM starts)', load: () => import('./commands/run.js') },
  once: { summary: 'take one sample, print the report line (--json: sample, features, rank)', load: () => import('./commands/once.js') },
  check: { summary: 'check the config, model and (with $LSF_ENVDIR) the OpenLava side; problems first', load: () => import('./commands/check.js') },
  explain: { summary: "show every feature, the rank and what each feature adds to it", load: () => import('./commands/explain.js') },
  simulate: { summary: 'replay scheduling on your hosts and jobs: what ordering by rank gains over the default', load: () => import('./commands/simulate.js') },
  recommend: { summary: 'print the recommended rusage[rank=D:duration=T:decay=1] for the rank queue', load: () => import('./commands/recommend.js') },
  calibrate: { summary: 'measure a probe job under controlled loads and write a training dataset', load: () => import('./commands/calibrate.js') },
  retrain: { summary: 'train a model from finished jobs (lsb.acct + history); replace the installed one if better', load: () => import('./commands/retrain.js') },
  inventory: { summary: "print this host's inventory as JSON (what the elim logs at start)", load: () => import('./commands/inventory.js') },
  install: { summary: 'install the elim wrapper into $LSF_SERVERDIR (--help for options)', load: () => import('./commands/install.js') },
};

function usage(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((c) => c.length));
  const lines = Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`);
  return [
    'Usage: lavarank [COMMAND] [OPTIONS]',
    '',
    'An OpenLava/LSF elim reporting "rank": the predicted slowdown, in percent, of a',
    'job started on this host now (0 = idle host).',
    '',
    'Commands:',
    ...lines,
    '',
    'Options: -h, --help (also after every command); -V, --version.',
    'Config: --config, else $LAVARANK_CONFIG, else $LSF_ENVDIR/lavarank.yaml, else defaults.',
    'Without a command: this help; started by LIM (LSF_RESOURCES set, stdout a pipe): run.',
  ].join('\n');
}

// What a command line asks for: a subcommand with its arguments, the help, the
// version, or a usage error. Pure: the terminal and LIM tests are parameters.
export type Choice =
  | { kind: 'command'; name: string; args: string[] }
  | { kind: 'help' }
  | { kind: 'version' }
  | { kind: 'usage-error'; message: string };

// Chooses what to do; stdoutIsTerminal and underLim decide what a line without a command
// means: the elim where LIM started it (a hand-written wrapper may pass ELIMARGS alone),
// else what a terminal gets. Outside LIM a pipe is an administrator's `lavarank | less`,
// which ran a second elim as root beside LIM's, writing to its history (admin77).
export function chooseCommand(argv: readonly string[], stdoutIsTerminal: boolean, underLim: boolean): Choice {
  const first = argv[0];
  if (first === '--version' || first === '-V') return { kind: 'version' };
  if (first === '--help' || first === '-h' || first === 'help') return { kind: 'help' };
  if (first !== undefined && !first.startsWith('-')) {
    // Own keys only: `in` also finds what every object inherits (toString, constructor).
    if (!Object.hasOwn(COMMANDS, first)) return { kind: 'usage-error', message: `lavarank: unknown command '${first}'` };
    return { kind: 'command', name: first, args: helpAlias(argv.slice(1)) };
  }
  if (!stdoutIsTerminal && underLim) return { kind: 'command', name: 'run', args: helpAlias([...argv]) };
  if (first === undefined) return { kind: 'help' };
  return { kind: 'usage-error', message: `lavarank: no command given; to run the elim in the foreground: lavarank run ${argv.join(' ')}` };
}

// Every subcommand takes --help; -h is the same, mapped here so that no screen can
// forget it. Only before "--": after it, -h is an argument. (As an option's value
// it was already refused: parseArgs rejects a value that starts with "-".)
function helpAlias(args: string[]): string[] {
  const end = args.indexOf('--');
  return args.map((a, i) => (a === '-h' && (end < 0 || i < end) ? '--help' : a));
}

// Whether LIM started this process: LIM (and LSF's MELIM) gives its elim LSF_RESOURCES
// and LS_ELIM_RESOURCES (docs/elim-contract.md); no login shell has them.
export function startedByLim(env: NodeJS.ProcessEnv): boolean {
  return env['LSF_RESOURCES'] !== undefined || env['LS_ELIM_RESOURCES'] !== undefined;
}

// Parses the command line and runs the chosen subcommand; resolves to the exit status.
export async function main(argv: string[]): Promise<number> {
  const choice = chooseCommand(argv, isTerminal(1), startedByLim(process.env));
  if (choice.kind === 'version' || choice.kind === 'help') {
    // Inside the try every command has: a stdout that cannot be written (a full disk)
    // printed Node's stack trace here.
    try {
      print(choice.kind === 'version' ? VERSION : usage());
      return 0;
    } catch (err) {
      return failureStatus('lavarank', err);
    }
  }
  if (choice.kind === 'usage-error') {
    printError(`${choice.message}\n\n${usage()}`);
    return EXIT_USAGE;
  }
  const { name, args: rest } = choice;
  const command = COMMANDS[name]!;
  try {
    const module = await command.load();
    return await module.main(rest);
  } catch (err) {
    return failureStatus(`lavarank ${name}`, err);
  }
}

// Whether a command runs in a child (src/util/supervise.ts), so that Ctrl-C ends it even
// where the kernel holds one of its threads in a file system's request. Not the elim, nor
// its host inventory (started by the elim and by once --json, which end it with its
// process group: a worker in a session of its own outlived that kill, with its hung GPU
// query), nor a command's help alone, which asks no file system and would pay a second
// Node start (check --help: 582 M instructions of the parent's on top of the 1 070 M of
// the command's).
export function runsInWorker(choice: Choice): choice is Extract<Choice, { kind: 'command' }> {
  if (choice.kind !== 'command' || choice.name === 'run' || choice.name === 'inventory') return false;
  return !(choice.args.length === 1 && choice.args[0] === '--help');
}

// How long one file-system call of a command may hold it (heldLimitMs): as long as the
// elim's start may take (STARTUP_DEADLINE_MS), thirty times a `check` over NFS.
export const COMMAND_HELD_LIMIT_MS = 60_000;

// How long one file-system call may hold the long runs an administrator starts and
// leaves (retrain, calibrate's run): an NFS server's failover holds a call for minutes
// and should be waited out rather than end hours of work, but a call held half an hour
// is a server that will not answer; under cron, nobody else would end the run, and a
// held retrain keeps its lock, so that every later one refuses to start.
export const LONG_RUN_HELD_LIMIT_MS = 30 * 60_000;

// The held-call limit of a supervised command: the long one for retrain, and for
// calibrate but its --summary and --finalize, which read one dataset or journal.
export function heldLimitMs(choice: Extract<Choice, { kind: 'command' }>): number {
  if (choice.name === 'retrain') return LONG_RUN_HELD_LIMIT_MS;
  if (choice.name === 'calibrate' && !choice.args.some((a) => a === '--summary' || a === '--finalize' || a.startsWith('--summary=') || a.startsWith('--finalize='))) return LONG_RUN_HELD_LIMIT_MS;
  return COMMAND_HELD_LIMIT_MS;
}

// How long the exit waits for a link speed read in the pool to return before it ends the
// process by SIGKILL: such a read takes microseconds unless the kernel holds it.
const EXIT_WAIT_MS = 200;

// True when this file is the program node was asked to run (directly or through
// the npm bin link), not a module imported by a script.
function invokedDirectly(): boolean {
  const script = process.argv[1];
  if (script === undefined) return false;
  try {
    return realpathSync(script) === fileURLToPath(import.meta.url);
  } catch {
    return false; // argv[1] is not a file: we were imported
  }
}

if (invokedDirectly()) {
  keepInspectorClosed();
  const argv = process.argv.slice(2);
  const worker = isSupervisedWorker();
  const choice = chooseCommand(argv, isTerminal(1), startedByLim(process.env));
  if (!worker && runsInWorker(choice)) endAs(await superviseCommand(argv, `lavarank ${choice.name}`, printError, undefined, heldLimitMs(choice)));
  const code = await main(argv);
  if (worker) tellExitStatus(code);
  // Exit explicitly: a stray timer or a child's pipe must not keep a stopped elim alive,
  // nor a link speed read the kernel holds (src/util/exit.ts).
  await exitWhenReturned(code, EXIT_WAIT_MS);
}
