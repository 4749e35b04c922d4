// What the interactive subcommands once and explain share: their command line, and
// one sample of this host over a short window, what the elim would see at its next tick.
import type { Logger } from '../util/logger.js';
import { EXIT_USAGE, print, printError } from '../util/cliio.js';
import { errorMessage } from '../util/errors.js';
import { numberOption, parseCommandLine } from '../util/options.js';
import { systemClock } from '../util/clock.js';
import type { CollectorName, Sample } from '../collectors/types.js';
import { findConfigAsync, loadConfigAsync, type Config } from '../config/config.js';
import { isPresentAsync } from '../util/paths.js';
import { REQUIRED_COLLECTORS } from '../daemon/elim.js';
import { collectorsFromConfig, createSampler } from '../daemon/sampler.js';

// Samples twice, windowSeconds apart (rates need two readings), and returns the second.
// The second waits, if need be, for the first GPU query (at most its timeout and 3 s):
// nvidia-smi can take longer than the window, and its GPUs then read as none.
export async function sampleOverWindow(config: Readonly<Config>, windowSeconds: number, log: Logger): Promise<Sample> {
  const controller = new AbortController();
  const collectors = collectorsFromConfig(config, { log, signal: controller.signal });
  const sampler = createSampler({ collectors, clock: systemClock, log });
  try {
    sampler.sample();
    await Promise.all([systemClock.sleep(windowSeconds * 1000), ...collectors.map((c) => c.ready?.())]);
    return sampler.sample();
  } finally {
    sampler.close();
    controller.abort();
  }
}

// The required collectors that failed in sample: when any did, the elim reports the pessimistic rank.
export function failedRequired(sample: Pick<Sample, 'failures'>): CollectorName[] {
  return REQUIRED_COLLECTORS.filter((name) => sample.failures[name] !== undefined);
}

// What both interactive subcommands take: --config, --json and --window (seconds, default 1).
export interface OneShotArgs {
  config: Readonly<Config>;
  json: boolean;
  windowSeconds: number;
}

// Parses once's or explain's command line and loads the config; a number is the exit
// status to return at once (0 after --help, EXIT_USAGE for a bad --window, said on stderr).
// The config's walk is asked in libuv's pool: a config under a user's FUSE mount whose
// server answers the pool and never a main thread held the command there, and Ctrl-C
// (SIGINT) did not end it.
export async function oneShotArgs(command: string, usage: string, argv: string[]): Promise<OneShotArgs | number> {
  const args = parseCommandLine(argv, { config: { type: 'string' }, json: { type: 'boolean' }, window: { type: 'string' }, help: { type: 'boolean' } });
  if (args.help === true) {
    print(usage);
    return 0;
  }
  let windowSeconds: number;
  try {
    windowSeconds = numberOption('window', args.window, 1, { min: 0.1, max: 600, kind: 'seconds' });
  } catch (err) {
    printError(`lavarank ${command}: ${errorMessage(err)}`);
    return EXIT_USAGE;
  }
  return { config: await loadConfigAsync(await findConfigAsync(args.config, process.env, isPresentAsync)), json: args.json === true, windowSeconds };
}
