// `lavarank calibrate` (also scripts/calibrate): the command line around
// src/calibration/calibrate.ts; docs/calibration.md explains the measurement.
import { availableParallelism, constants as osConstants, hostname } from 'node:os';
import {
  DEFAULT_SQUEEZE_LIMIT,
  buildPlan,
  calibrate,
  finalizeRecords,
  formatPlan,
  readJournal,
  squeezeSupport,
  summaryTable,
  writeLines,
  type Plan,
} from '../calibration/calibrate.js';
import { JOB_SCAN_TIMEOUT_MS, batchJobsWarning, scanBatchJobs } from '../calibration/jobs.js';
import { findConfigAsync, loadConfigAsync } from '../config/config.js';
import { cliLogger } from '../daemon/log.js';
import { EXIT_FAILURE, EXIT_USAGE, print, printError, runAsProgram } from '../util/cliio.js';
import { ConfigError, UsageError, errorMessage, errorReason } from '../util/errors.js';
import { outputDirectoryProblemsAsync } from '../util/atomic-file.js';
import { isPresentAsync, readRegularTextAsync } from '../util/paths.js';
import { MAX_DATASET_BYTES } from '../training/dataset.js';
import { numberOption, parseCommandLine } from '../util/options.js';
import { escapedControls } from '../util/shown.js';

const USAGE = `Usage: lavarank calibrate [--out FILE] [--repeats N] [--idle-repeats N]
                          [--warmup SECONDS] [--seed N] [--probe-scale X]
                          [--squeeze auto|yes|no|only] [--squeeze-limit MIB]
                          [--swap-file FILE] [--quiet-wait SECONDS]
                          [--quick] [--dry-run]
                          [--force] [--config FILE]
       lavarank calibrate --finalize JOURNAL --out FILE
       lavarank calibrate --summary DATASET

Runs a fixed probe job many times on this host, alone and beside controlled
background load (0.5 to 4 CPU hogs per CPU, a memory-bandwidth hog, memory
nearly full, memory overcommitted in a cgroup with swap, one or two fsync'ing
disk writers, and combinations), and writes one JSON line per probe run: the sample lavarank's
collectors took just before the probe, the probe's times and its slowdown in
percent against the idle runs nearest in time. Takes two to three hours on 2
CPUs (140 min without the squeeze blocks; --dry-run estimates it, low); see
docs/calibration.md.

  --out FILE          the dataset (default calibration-<host>.jsonl); refused if
                      it exists, unless --force
  --repeats N         probe runs per stress configuration (default 10)
  --idle-repeats N    probe runs per idle block (default 5)
  --warmup SECONDS    settle time of each configuration before its probes (default 30)
  --seed N            the order of the configurations (default 1)
  --probe-scale X     the probe's amount of work (default 1: about 2.3 s idle)
  --squeeze MODE      the memory squeeze blocks: auto (default: when this host
                      can make them: root, a memory cgroup, swap), yes, no,
                      or only (just the squeeze blocks and the idle ones between
                      them: memory stall and swapping for a dataset without)
  --squeeze-limit MIB the squeeze cgroup's memory limit (default 4096)
  --swap-file FILE    without swap, make FILE a swap file (twice the squeeze
                      limit) for the run, and remove it at the end
  --quiet-wait SECONDS  how long a probe waits for a window in which other
                      processes leave the CPUs alone (default 10)
  --quick             a tiny run for tests: small probe, three short blocks
  --dry-run           print the plan and its estimated duration, run nothing
  --finalize JOURNAL  turn the journal of an interrupted run (FILE.partial), or a
                      dataset, into a dataset (the idle baselines computed afresh)
  --summary DATASET   print the slowdown by configuration as a Markdown table

The probe and the disk stressor write under $TMPDIR (default /tmp), which must be
on a disk (tmpfs is refused): the local disk jobs use for scratch; and sticky, like
/tmp, or changeable by root only (a directory others can write is refused).
Progress goes to stderr. SIGINT or SIGTERM stops the stressors, removes the
temporary files and writes the runs done so far; a second signal exits at once.`;

// calibrate's options as parsed.
type CalibrateArgs = ReturnType<typeof parseCalibrateArgs>;

// calibrate's command line, parsed (an unknown option throws, as before any stage runs).
function parseCalibrateArgs(argv: string[]) {
  return parseCommandLine(argv, {
    out: { type: 'string' },
    repeats: { type: 'string' },
    'idle-repeats': { type: 'string' },
    warmup: { type: 'string' },
    seed: { type: 'string' },
    'probe-scale': { type: 'string' },
    squeeze: { type: 'string' },
    'squeeze-limit': { type: 'string' },
    'swap-file': { type: 'string' },
    'quiet-wait': { type: 'string' },
    quick: { type: 'boolean' },
    'dry-run': { type: 'boolean' },
    force: { type: 'boolean' },
    finalize: { type: 'string' },
    summary: { type: 'string' },
    config: { type: 'string' },
    help: { type: 'boolean' },
  });
}

// The plan stage: the options checked against one another and each against its range,
// the squeeze as this host can make it, and the plan built from them; or the exit status
// once the error that stops it is printed (the usage status for the command line's).
export function planFromOptions(args: CalibrateArgs): { plan: Plan } | { status: number } {
  const contradiction = modeConflict(args);
  if (contradiction !== undefined) {
    printError(`lavarank calibrate: ${contradiction}`);
    return { status: EXIT_USAGE };
  }
  const quick = args.quick === true;
  const mode = args.squeeze ?? 'auto';
  if (!['auto', 'yes', 'no', 'only'].includes(mode)) {
    printError(`lavarank calibrate: --squeeze: expected auto, yes, no or only, received ${JSON.stringify(mode)}`);
    return { status: EXIT_USAGE };
  }
  let squeeze: boolean | 'only' = false;
  try {
    const count = { integer: true, min: 1, max: 10_000 };
    const options = {
      cpus: availableParallelism(),
      repeats: numberOption('repeats', args.repeats, quick ? 2 : 10, count),
      idleRepeats: numberOption('idle-repeats', args['idle-repeats'], quick ? 2 : 5, count),
      warmupSeconds: numberOption('warmup', args.warmup, quick ? 0.5 : 30, { min: 0, max: 3600, kind: 'seconds' }),
      seed: numberOption('seed', args.seed, 1, { ...count, min: 0 }),
      quick,
      probeScale: numberOption('probe-scale', args['probe-scale'], quick ? 0.02 : 1, { min: 0.01, max: 100 }),
      quietWaitSeconds: numberOption('quiet-wait', args['quiet-wait'], 10, { min: 0, max: 3600, kind: 'seconds' }),
      squeezeLimitBytes: numberOption('squeeze-limit', args['squeeze-limit'], DEFAULT_SQUEEZE_LIMIT / 1024 ** 2, { integer: true, min: 256, max: 1024 ** 2, kind: 'MiB' }) * 1024 ** 2,
    };
    // The squeeze blocks need root, a memory cgroup and swap; --quick never has them.
    if (mode === 'only' && quick) throw new UsageError('--squeeze only: --quick never has the squeeze blocks; leave one of them out');
    // --summary and --finalize read a journal and run nothing: no word about the host's squeeze.
    const runs = args.summary === undefined && args.finalize === undefined;
    if (mode !== 'no' && !quick && runs) {
      const support = squeezeSupport({ swapFile: args['swap-file'] });
      if (support.ok) squeeze = mode === 'only' ? 'only' : true;
      // Not a usage error: the same command line works on a host that can.
      else if (mode === 'yes' || mode === 'only') throw new ConfigError(`--squeeze ${mode}: this host cannot make the memory squeeze: ${support.why}`);
      else printError(`lavarank calibrate: no memory squeeze blocks: ${support.why}`);
    }
    return { plan: buildPlan({ ...options, squeeze }) };
  } catch (err) {
    printError(`lavarank calibrate: ${errorMessage(err)}`);
    return { status: err instanceof UsageError ? EXIT_USAGE : EXIT_FAILURE };
  }
}

// The batch jobs stage, before a run or its plan: the batch jobs already loading this
// host named on stderr; the exit status where a signal stopped the look, else undefined.
export async function warnOfBatchJobs(scan: typeof scanBatchJobs = scanBatchJobs): Promise<number | undefined> {
  const seen = await scan();
  if ('stopped' in seen) {
    printError(`lavarank calibrate: ${seen.stopped}: stopped while looking for running batch jobs; nothing was run`);
    return 128 + osConstants.signals[seen.stopped]; // as a shell reports a process the signal ended, as the run does
  }
  if ('failed' in seen) {
    printError(
      `lavarank calibrate: WARNING: no running batch job is named, since the look for them (the LSB_JOBID of each process's environment) failed: ${escapedControls(seen.failed)} ` +
        `(past ${JOB_SCAN_TIMEOUT_MS / 1000} s: a process whose memory cannot be read, such as a user's FUSE file that does not answer, or very many processes); close the host (badmin hclose) and make sure its jobs have ended before calibrating`,
    );
  }
  const warning = 'failed' in seen ? undefined : batchJobsWarning(seen.jobs);
  if (warning !== undefined) printError(`lavarank calibrate: ${warning}`);
  if (!('failed' in seen) && seen.unreadable > 0 && process.getuid?.() !== 0) {
    printError(`lavarank calibrate: the environment of ${seen.unreadable} processes of other users cannot be read, so their batch jobs are not named here (root sees them)`);
  }
  return undefined;
}

// The run stage: the dataset's directory, the dataset and a journal of an earlier run
// checked before hours of runs (--force replaces them), then --finalize's dataset or the
// calibration itself; resolves to the exit status.
export async function runPlan(args: CalibrateArgs, plan: Plan): Promise<number> {
  const out = args.out ?? `calibration-${hostname()}.jsonl`;
  // Before hours of runs, and before the journal is made beside it. This look, the two
  // below and the read of --summary's or --finalize's file are asked in libuv's pool: a
  // user's FUSE mount at one, whose server answers the pool and never a main thread,
  // held the main thread there.
  const refused = await outputDirectoryProblemsAsync(out, { what: 'dataset directory' });
  if (refused.length > 0) throw new ConfigError(`--out ${out}: ${refused.join('; ')}`);
  if (args.finalize !== undefined) return finalizeJournal(args.finalize, out, args.force === true);
  const journalPath = `${out}.partial`;
  if ((await isPresentAsync(out)) && args.force !== true) {
    printError(`lavarank calibrate: ${out} exists; use --force to replace it`);
    return EXIT_FAILURE;
  }
  // The journal of a run killed before it could write its dataset: --force would delete those runs.
  if ((await isPresentAsync(journalPath)) && args.force !== true) {
    printError(
      `lavarank calibrate: ${journalPath} exists: the runs of a calibration that ended without writing ${out}; ` +
        `"lavarank calibrate --finalize ${journalPath} --out ${out}" writes the dataset from them, --force deletes them and starts again`,
    );
    return EXIT_FAILURE;
  }
  const config = await loadConfigAsync(await findConfigAsync(args.config, process.env, isPresentAsync));
  const log = cliLogger();
  return calibrate({ plan, out, journalPath, config, log, say: printError, swapFile: args['swap-file'] });
}

// Runs the calibration (or prints its plan); resolves to the exit status.
export async function main(argv: string[]): Promise<number> {
  const args = parseCalibrateArgs(argv);
  if (args.help === true) {
    print(USAGE);
    return 0;
  }
  const planned = planFromOptions(args);
  if ('status' in planned) return planned.status;
  // A run, or the plan of one: name the batch jobs already loading this host.
  if (args.summary === undefined && args.finalize === undefined) {
    const stopped = await warnOfBatchJobs();
    if (stopped !== undefined) return stopped;
  }
  if (args['dry-run'] === true) {
    print(formatPlan(planned.plan));
    return 0;
  }
  if (args.summary !== undefined) {
    print(summaryTable(finalizeRecords(readJournal(await readInput('summary', args.summary), args.summary))));
    return 0;
  }
  return runPlan(args, planned.plan);
}

// --finalize: the dataset written to out from the journal of a run that ended without
// writing it, unless out exists and force is not given; resolves to the exit status.
export async function finalizeJournal(journal: string, out: string, force: boolean): Promise<number> {
  if ((await isPresentAsync(out)) && !force) {
    printError(`lavarank calibrate: --out: ${out} exists; use --force to replace it`);
    return EXIT_FAILURE;
  }
  const lines = finalizeRecords(readJournal(await readInput('finalize', journal), journal));
  if (lines.length === 0) {
    printError(`lavarank calibrate: --finalize ${journal}: no probe run with an idle baseline in it; nothing written`);
    return EXIT_FAILURE;
  }
  try {
    writeLines(out, lines);
  } catch (err) {
    // Named by the option, not by the temp file the atomic write failed on.
    throw new ConfigError(`--out ${out}: cannot be written: ${errorReason(err)}; nothing written`, { cause: err });
  }
  printError(`lavarank calibrate: wrote ${lines.length} lines to ${out}`);
  return 0;
}

// Options of a run (or of its --dry-run plan), which --summary and --finalize run none of.
const RUN_OPTIONS = ['repeats', 'idle-repeats', 'warmup', 'seed', 'probe-scale', 'squeeze', 'squeeze-limit', 'swap-file', 'quiet-wait', 'quick', 'config'];

// The option given that the mode chosen would ignore, as a usage error's text, or
// undefined. Each mode used to take the first of them in its own order and ignore the
// rest: `--finalize J --out F --dry-run` printed a two-hour run's plan with status 0 and
// wrote nothing, `--summary D --finalize J` printed the summary alone.
export function modeConflict(args: Record<string, unknown>): string | undefined {
  const given = (name: string): boolean => args[name] !== undefined;
  const modes = ['summary', 'finalize', 'dry-run'].filter(given);
  if (modes.length > 1) return `--${modes.join(' and --')}: give one of them (--summary reads a dataset, --finalize writes one from a journal, --dry-run prints a run's plan)`;
  const mode = modes[0];
  if (mode !== 'summary' && mode !== 'finalize') return undefined;
  const ignored = [...RUN_OPTIONS, ...(mode === 'summary' ? ['out', 'force'] : [])].find(given);
  return ignored === undefined ? undefined : `--${ignored} does not apply to --${mode}, which ${mode === 'summary' ? 'prints the table of a dataset' : 'writes --out from a journal'} and runs nothing`;
}

// The text of a journal or dataset named by --summary or --finalize. A FIFO is refused
// at once, not waited on for ever, and an error names the option and the file:
// readFileSync said only "EISDIR: illegal operation on a directory, read".
async function readInput(option: string, path: string): Promise<string> {
  try {
    return await readRegularTextAsync(path, MAX_DATASET_BYTES);
  } catch (err) {
    throw new ConfigError(`--${option} ${path}: cannot be read: ${errorReason(err)}`, { cause: err });
  }
}

await runAsProgram(import.meta.url, main);
