// `lavarank calibrate` (also scripts/calibrate): the command line around
// src/calibration/calibrate.ts; docs/calibration.md explains the measurement.
import { existsSync, readFileSync } from 'node:fs';
import { availableParallelism, hostname } from 'node:os';
import { parseArgs } from 'node:util';
import { buildPlan, calibrate, finalizeRecords, formatPlan, readJournal, summaryTable, writeLines, type Plan } from '../calibration/calibrate.js';
import { findConfig, loadConfig } from '../config.js';
import { cliLogger } from '../daemon/log.js';
import { print, printError, runAsProgram } from '../util/cliio.js';
import { errorMessage } from '../util/errors.js';
import { numberOption } from '../util/options.js';

const USAGE = `Usage: lavarank calibrate [--out FILE] [--repeats N] [--idle-repeats N]
                          [--warmup SECONDS] [--seed N] [--quick] [--dry-run]
                          [--force] [--config FILE]
       lavarank calibrate --finalize JOURNAL --out FILE
       lavarank calibrate --summary DATASET

Runs a fixed probe job many times on this host, alone and beside controlled
background load (CPU hogs, a memory-bandwidth hog, memory pressure, an fsync'ing
disk writer), and writes one JSON line per probe run: the sample lavarank's
collectors took just before the probe, the probe's times and its slowdown in
percent against the idle runs nearest in time. Takes about an hour on 2 CPUs;
see docs/calibration.md.

  --out FILE          the dataset (default calibration-<host>.jsonl); refused if
                      it exists, unless --force
  --repeats N         probe runs per stress configuration (default 10)
  --idle-repeats N    probe runs per idle block (default 5)
  --warmup SECONDS    settle time of each configuration before its probes (default 30)
  --seed N            the order of the configurations (default 1)
  --quick             a tiny run for tests: small probe, three short blocks
  --dry-run           print the plan and its estimated duration, run nothing
  --finalize JOURNAL  turn the journal of an interrupted run (FILE.partial), or a
                      dataset, into a dataset (the idle baselines computed afresh)
  --summary DATASET   print the slowdown by configuration as a Markdown table

Progress goes to stderr. SIGINT or SIGTERM stops the stressors, removes the
temporary files and writes the runs done so far; a second signal exits at once.`;

// Runs the calibration (or prints its plan); resolves to the exit status.
export async function main(argv: string[]): Promise<number> {
  const { values: args } = parseArgs({
    args: argv,
    options: {
      out: { type: 'string' },
      repeats: { type: 'string' },
      'idle-repeats': { type: 'string' },
      warmup: { type: 'string' },
      seed: { type: 'string' },
      quick: { type: 'boolean' },
      'dry-run': { type: 'boolean' },
      force: { type: 'boolean' },
      finalize: { type: 'string' },
      summary: { type: 'string' },
      config: { type: 'string' },
      help: { type: 'boolean' },
    },
    strict: true,
  });
  if (args.help === true) {
    print(USAGE);
    return 0;
  }
  const quick = args.quick === true;
  let plan: Plan;
  try {
    const count = { integer: true, min: 1, max: 10_000 };
    plan = buildPlan({
      cpus: availableParallelism(),
      repeats: numberOption('repeats', args.repeats, quick ? 2 : 10, count),
      idleRepeats: numberOption('idle-repeats', args['idle-repeats'], quick ? 2 : 5, count),
      warmupSeconds: numberOption('warmup', args.warmup, quick ? 0.5 : 30, { min: 0, max: 3600, kind: 'seconds' }),
      seed: numberOption('seed', args.seed, 1, { ...count, min: 0 }),
      quick,
    });
  } catch (err) {
    printError(`lavarank calibrate: ${errorMessage(err)}`);
    return 2;
  }
  if (args['dry-run'] === true) {
    print(formatPlan(plan));
    return 0;
  }
  if (args.summary !== undefined) {
    print(summaryTable(finalizeRecords(readJournal(readFileSync(args.summary, 'utf8')))));
    return 0;
  }
  const out = args.out ?? `calibration-${hostname()}.jsonl`;
  if (args.finalize !== undefined) {
    if (existsSync(out) && args.force !== true) {
      printError(`lavarank calibrate: --out: ${out} exists; use --force to replace it`);
      return 2;
    }
    const lines = finalizeRecords(readJournal(readFileSync(args.finalize, 'utf8')));
    writeLines(out, lines);
    printError(`lavarank calibrate: wrote ${lines.length} lines to ${out}`);
    return 0;
  }
  const journalPath = `${out}.partial`;
  for (const path of [out, journalPath]) {
    if (existsSync(path) && args.force !== true) {
      printError(`lavarank calibrate: ${path} exists; use --force to replace it`);
      return 2;
    }
  }
  const config = loadConfig(findConfig(args.config, process.env, existsSync));
  const log = cliLogger();
  return calibrate({ plan, out, journalPath, config, log, say: printError });
}

await runAsProgram(import.meta.url, main);
