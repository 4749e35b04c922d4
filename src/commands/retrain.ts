// `lavarank retrain`: the command line and the terminal around src/training/retrain.ts.
import { findConfigAsync, loadConfigAsync } from '../config/config.js';
import { isPresentAsync } from '../util/paths.js';
import {
  DEFAULT_EPOCHS,
  DEFAULT_MAX_TRAIN_ROWS,
  DEFAULT_MIN_RUNTIME_SEC,
  DEFAULT_TIME_LIMIT_SEC,
  EXIT_ERROR,
  EXIT_INTERRUPTED,
  EXIT_USAGE,
  resolveOptions,
  retrain,
  type RetrainArgs,
  type RetrainIO,
} from '../training/retrain.js';
import { MODEL_TAKEN_WITHIN } from '../daemon/elim.js';
import { print, printError, printStatus } from '../util/cliio.js';
import { UsageError } from '../util/errors.js';
import { numberOption, parseCommandLine } from '../util/options.js';

const USAGE = `Usage: lavarank retrain --acct FILE... --history PATH... [options]

Learns the rank from this cluster's finished jobs: joins each job in lsb.acct with
its host's features at its start (from the daemons' history), labels it with its
slowdown from contention (its CPU efficiency against its family's, suspended time
excluded), trains a model on all but the newest jobs, judges it with the installed
model, the embedded default, linear regression and the physical backbone on those
newest jobs, and replaces the installed model (atomically; daemons reload it within
${MODEL_TAKEN_WITHIN} reports) only if the new one beats the installed model, linear regression
and the backbone. Writes an HTML report either way (not when interrupted).

Inputs:
  --acct FILE|DIR          lsb.acct, rotated lsb.acct.N, or their directory (repeatable);
                           lsb.events* there give the jobs' suspended time
  --history FILE|DIR       history files or directories of *.jsonl and rotated
                           *.jsonl.N (repeatable); default: the config's history.dir
  --calibration FILE       calibration dataset rows to train on too (repeatable);
                           never held out
Output:
  --out FILE               model file to write; default: the one the config names
                           (the embedded default is replaced only if named here)
  --report FILE            HTML report; default: OUT.report.html
  --dry-run                do everything but write the model
  --force                  write even if the new model is not better
Settings:
  --config FILE            lavarank config (default: as the daemon finds it)
  --interval SEC           the daemons' sampling interval; default: the config's
  --min-runs N             runs a family of jobs needs for a baseline; default 5
  --min-runtime SEC        shorter runs are left out (whole-second times); default ${DEFAULT_MIN_RUNTIME_SEC}
  --max-train-rows N       the network trains on at most N jobs; default ${DEFAULT_MAX_TRAIN_ROWS}
  --holdout FRACTION       newest share of the jobs held out; default 0.2
  --seed N                 seed of the weights and shuffles; default 1
  --epochs N               at most this many passes over the data; default ${DEFAULT_EPOCHS}
  --time-limit SEC         at most this long training; default ${DEFAULT_TIME_LIMIT_SEC}

Exit status: 0 written (or would be, with --dry-run), 1 error, 2 bad option,
3 not better than the installed model, linear regression or the physical
backbone, so not written, 130 interrupted.`;

// Parses and checks the options; throws UsageError naming the option for a bad value.
export function parseRetrainArgs(argv: string[]): RetrainArgs {
  const v = parseCommandLine(argv, {
      acct: { type: 'string', multiple: true },
      history: { type: 'string', multiple: true },
      calibration: { type: 'string', multiple: true },
      out: { type: 'string' },
      report: { type: 'string' },
      config: { type: 'string' },
      interval: { type: 'string' },
      'min-runs': { type: 'string' },
      'min-runtime': { type: 'string' },
      'max-train-rows': { type: 'string' },
      holdout: { type: 'string' },
      seed: { type: 'string' },
      epochs: { type: 'string' },
      'time-limit': { type: 'string' },
      force: { type: 'boolean' },
      'dry-run': { type: 'boolean' },
      help: { type: 'boolean' },
    });
  const args: RetrainArgs = {
    help: v.help === true,
    acct: v.acct ?? [],
    history: v.history ?? [],
    calibration: v.calibration ?? [],
    minRuns: numberOption('min-runs', v['min-runs'], 5, { integer: true, min: 2, max: 1_000_000 }),
    minRuntimeSec: numberOption('min-runtime', v['min-runtime'], DEFAULT_MIN_RUNTIME_SEC, { min: 1, max: 7 * 24 * 3600 }),
    maxTrainRows: numberOption('max-train-rows', v['max-train-rows'], DEFAULT_MAX_TRAIN_ROWS, { integer: true, min: 100, max: 10_000_000 }),
    holdoutFraction: numberOption('holdout', v.holdout, 0.2, { min: 0.05, max: 0.5 }),
    seed: numberOption('seed', v.seed, 1, { integer: true, min: 0, max: 2 ** 32 - 1 }),
    epochs: numberOption('epochs', v.epochs, DEFAULT_EPOCHS, { integer: true, min: 1, max: 1_000_000 }),
    timeLimitSec: numberOption('time-limit', v['time-limit'], DEFAULT_TIME_LIMIT_SEC, { min: 1, max: 7 * 24 * 3600 }),
    force: v.force === true,
    dryRun: v['dry-run'] === true,
  };
  if (v.interval !== undefined) args.interval = numberOption('interval', v.interval, 10, { min: 1, max: 3600 });
  if (v.out !== undefined) args.out = v.out;
  if (v.report !== undefined) args.report = v.report;
  if (v.config !== undefined) args.config = v.config;
  for (const [name, value] of [['out', v.out], ['report', v.report]] as const) {
    if (value !== undefined && value.trim() === '') throw new UsageError(`--${name}: expected a file name, received ""`);
  }
  if (!args.help && args.acct.length === 0) throw new UsageError('--acct: expected at least one lsb.acct file (OpenLava writes $LSB_SHAREDIR/logdir/lsb.acct), received none');
  return args;
}

// Deadline for a clean stop after Ctrl-C; then, or at a second Ctrl-C, the process exits.
const STOP_DEADLINE_MS = 10_000;

// Runs `lavarank retrain`; resolves to the exit status.
export async function main(argv: string[]): Promise<number> {
  let args: RetrainArgs;
  try {
    args = parseRetrainArgs(argv);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    printError(`lavarank retrain: ${err.message}\nTry "lavarank retrain --help".`);
    return EXIT_USAGE;
  }
  if (args.help) {
    print(USAGE);
    return 0;
  }
  // Asked in libuv's pool, as once and explain ask it: a config under a user's FUSE
  // mount whose server answers only the pool held retrain there, past SIGINT.
  const source = await findConfigAsync(args.config, process.env, isPresentAsync);
  const config = await loadConfigAsync(source);
  const options = await resolveOptions(args, config, source.path);

  // Ctrl-C: the first stops after the current step and writes nothing; a second one, or
  // a stop that takes longer than the deadline, ends the process at once with status 1.
  const controller = new AbortController();
  let deadline: NodeJS.Timeout | undefined;
  const onSignal = (name: NodeJS.Signals): void => {
    if (controller.signal.aborted) {
      printError(`\nlavarank retrain: ${name} again; exiting now`);
      process.exit(EXIT_ERROR);
    }
    printError(`\nlavarank retrain: ${name}: stopping; nothing will be written (again to exit at once)`);
    controller.abort();
    deadline = setTimeout(() => {
      printError(`lavarank retrain: did not stop within ${STOP_DEADLINE_MS / 1000} s; exiting`);
      process.exit(EXIT_ERROR);
    }, STOP_DEADLINE_MS);
    deadline.unref();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    const io: RetrainIO = { out: print, err: printStatus, isTTY: process.stderr.isTTY === true, signal: controller.signal };
    if (process.stderr.columns !== undefined) io.columns = process.stderr.columns;
    const result = await retrain(options, io);
    if (result.exitCode === EXIT_INTERRUPTED) printError('lavarank retrain: interrupted; nothing written');
    return result.exitCode;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    if (deadline !== undefined) clearTimeout(deadline);
  }
}
