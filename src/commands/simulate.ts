// `lavarank simulate`: replays a cluster's scheduling under each placement policy —
// OpenLava's default, order[rank] with and without the queue's reservation, typed
// ranks, JOB_ACCEPT_INTERVAL=1, random, two random choices, an oracle — on the site's
// hosts and jobs (lsb.acct) or a generated workload, and reports what ordering by
// rank gains. The model: docs/simulate.md.
import { stat } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { MIN_LIM_INTERVAL, findConfigAsync, loadConfigAsync } from '../config/config.js';
import { readAcct, skippedLines, type JobFinish } from '../lsf/acct.js';
import { durationSeconds, parseResReq } from '../lsf/res-req.js';
import { loadModelAsync, type LoadedModel } from '../model/model.js';
import { modelPathFor, modelRanker } from '../model/rankers.js';
import { outputDirectoryProblemsAsync, UnsyncedRename, writeFileAtomic } from '../util/atomic-file.js';
import { fileIdentityAsync, isInputFile, isPresentAsync, unwritableDirectoryAsync } from '../util/paths.js';
import { print, printError, printStatus } from '../util/cliio.js';
import { ConfigError, UsageError, errorMessage, errorReason } from '../util/errors.js';
import { numberOption, parseCommandLine } from '../util/options.js';
import { escapedControls } from '../util/shown.js';
import { median } from '../util/stats.js';
import type { HostSpec } from '../simulate/cluster.js';
import { NO_BACKGROUND, type BackgroundSpec } from '../simulate/engine.js';
import { runExperiment, type ExperimentInput, type ExperimentResult } from '../simulate/experiment.js';
import { readHosts, syntheticHosts } from '../simulate/hosts.js';
import { DEFAULT_SCHEDULER, type SchedulerSettings } from '../simulate/mbatchd.js';
import { CALIBRATED, CALIBRATION_SOURCE } from '../simulate/params.js';
import { parseSweep, standardPolicies, type PolicySpec } from '../simulate/policies.js';
import { formatReport, renderHtml, reportJson, type ReportContext } from '../simulate/report.js';
import { SIMULATE_GENERATE, generateWorkload, jobsFromAcct, offeredLoad, type GenerateOptions, type JobSpec } from '../simulate/workload.js';
import { recommendForCpus } from './recommend.js';

// The command-line options simulate and recommend's simulator mode share.
export const SIMULATION_OPTIONS = {
  hosts: { type: 'string', multiple: true },
  synthetic: { type: 'string' },
  acct: { type: 'string' },
  load: { type: 'string' },
  speedup: { type: 'string' },
  repeat: { type: 'string' },
  generate: { type: 'boolean' },
  jobs: { type: 'string' },
  utilisation: { type: 'string' },
  families: { type: 'string' },
  mix: { type: 'string' },
  burst: { type: 'string' },
  overthread: { type: 'string' },
  runtime: { type: 'string' },
  background: { type: 'string' },
  'mbd-sleep': { type: 'string' },
  'accept-interval': { type: 'string' },
  'load-update': { type: 'string' },
  interval: { type: 'string' },
  staleness: { type: 'string' },
  d: { type: 'string' },
  t: { type: 'string' },
  'res-req': { type: 'string' },
  sweep: { type: 'string' },
  policies: { type: 'string' },
  seed: { type: 'string' },
  seeds: { type: 'string' },
  model: { type: 'string' },
  config: { type: 'string' },
} as const;

// The parsed values of SIMULATION_OPTIONS.
export type SimulationArgs = { [K in keyof typeof SIMULATION_OPTIONS]?: (typeof SIMULATION_OPTIONS)[K] extends { multiple: true } ? string[] : (typeof SIMULATION_OPTIONS)[K] extends { type: 'boolean' } ? boolean : string };

// What the help of the simulator's options says of the defaults that differ between
// simulate and recommend --hosts, which chooses the reservation itself (no --d, --t or
// --res-req).
export interface SimulatorDefaults {
  jobs: number;
  seeds: number;
  sweep: string;
  reservation: boolean; // --d, --t and --res-req are taken
  policies: string; // the --policies lines
}

// simulate's defaults, as it applies them and its help says.
const SIMULATE_DEFAULTS: SimulatorDefaults = {
  jobs: SIMULATE_GENERATE.jobs,
  seeds: 5,
  sweep: '0,2,5,10,20,40',
  reservation: true,
  policies: `  --policies LIST       policies to run (default all: default,rank,rank+D..,typed+D..,accept1,
                        random,two-choices,oracle and the sweep)`,
};

// The help text of the simulator's options.
export function simulationHelp(o: SimulatorDefaults = SIMULATE_DEFAULTS): string {
  const reservation = o.reservation
    ? `
  --d D --t T           the queue's rusage[rank=D:duration=T:decay=1] (default: recommend's)
  --res-req STRING      the same from the queue's RES_REQ (bare duration: minutes; without
                        decay= the whole D is held until T), e.g. "order[rank] rusage[rank=8:duration=45s:decay=1]"`
    : '';
  return `Hosts:
  --hosts FILE          a YAML list (name, cpus, mem, mxj, cpu_factor, count) or the
                        output of lshosts -l/-w and bhosts -l/-w; repeat to merge
                        (lshosts for CPUs and memory, bhosts for MAX slots)
  --synthetic N         without --hosts: N heterogeneous hosts, 8-64 CPUs (default 40)
Jobs (an lsb.acct replay, or generated):
  --acct FILE           replay this lsb.acct (jobs that ran; run time taken as the idle one)
  --load U              replay at this offered load (0..4), else --speedup X (default 1)
  --repeat N            play the trace N times in a row (default 1)
  --generate            generate (the default without --acct):
  --jobs N (${o.jobs})  --utilisation U (${SIMULATE_GENERATE.utilisation})  --families N (${SIMULATE_GENERATE.families})
  --mix C,M,I           shares of CPU-, memory- and io-bound families (${SIMULATE_GENERATE.mix.cpu},${SIMULATE_GENERATE.mix.mem},${SIMULATE_GENERATE.mix.io})
  --burst SHARE,SIZE    share of submissions that are bursts, jobs per burst (${SIMULATE_GENERATE.burstShare},${SIMULATE_GENERATE.burstSize})
  --overthread S        share of families running twice as many threads as slots (${SIMULATE_GENERATE.overthread})
  --runtime MIN,MAX     family median run times, seconds (${SIMULATE_GENERATE.runtimeMin},${SIMULATE_GENERATE.runtimeMax})
  --background S        share of time each host runs non-batch CPU load (default 0)
mbatchd and LIM:
  --mbd-sleep S (${DEFAULT_SCHEDULER.mbdSleep})  --accept-interval N (${DEFAULT_SCHEDULER.acceptInterval})  --load-update S (${DEFAULT_SCHEDULER.freshPeriod})
  --interval S          the elim's report interval, 5 s or more (default: the config's)
  --staleness auto|S    how old mbatchd's values are: auto = elim, LIM and refresh timing (5-50 s)${reservation}
  --sweep LIST          D values to compare (default ${o.sweep})
${o.policies}
Runs:
  --seed N (1) --seeds K (${o.seeds})   K seeds from N; figures are means with their spread
  --model FILE --config FILE   the rank model (default: the config's, else the embedded one)`;
}

// Two numbers A,B of an option, checked here so that a bad value is a usage error
// naming the option rather than one of the generator's settings, found later.
function pair(name: string, text: string | undefined, fallback: [number, number], rule: { expected: string; ok: (a: number, b: number) => boolean }): [number, number] {
  if (text === undefined) return fallback;
  const parts = text.split(',').map((s) => (s.trim() === '' ? NaN : Number(s)));
  if (parts.length !== 2 || parts.some((x) => !Number.isFinite(x)) || !rule.ok(parts[0]!, parts[1]!)) {
    throw new UsageError(`--${name}: expected ${rule.expected}, received ${JSON.stringify(text)}`);
  }
  return [parts[0]!, parts[1]!];
}

// D, T and the decay of the rank reservation in a RES_REQ string,
// rusage[rank=D:duration=T:decay=K], read as `lavarank check` reads the queue's (a bare
// duration is minutes, as in OpenLava). Without decay= mbatchd holds the whole D until
// T has passed (adjLsbLoad, mbd.host.c: no decay, factor 1), which is decay 0 here.
// The resource is the one the string orders by (order[lrank] with the config's
// resource: lrank), else rank; throws UsageError.
export function parseRankRusage(text: string, resource?: string): { d: number; t: number; decay: number } {
  const req = parseResReq(text);
  resource ??= req.order[0]?.replace(/^-/, '') ?? 'rank';
  const rusage = req.rusage;
  const value = rusage.get(resource);
  const d = value === undefined || !/^\d+(\.\d+)?$/.test(value) ? NaN : Number(value);
  const duration = rusage.get('duration');
  const t = duration === undefined ? undefined : durationSeconds(duration);
  if (!(d >= 0) || t === undefined || !(t > 0)) {
    throw new UsageError(`--res-req: expected rusage[${resource}=D:duration=T...] with D >= 0 and T such as 45s, received ${JSON.stringify(text)}`);
  }
  const decayText = rusage.get('decay');
  if (decayText !== undefined && !/^\d+(\.\d+)?$/.test(decayText)) {
    throw new UsageError(`--res-req: expected decay= a number >= 0 (1: linear), received ${JSON.stringify(text)}`);
  }
  return { d, t, decay: decayText === undefined ? 0 : Number(decayText) };
}

// Everything a simulation needs, from the command line.
export interface SimulationSetup {
  input: ExperimentInput;
  hosts: HostSpec[];
  model: LoadedModel;
  recommended: { d: number; t: number; decay: number; from: string };
  context: Omit<ReportContext, 'generated' | 'command'>;
}

// A number option whose default comes from an input (the config, the model), checked
// before any input is read; undefined when not given.
function givenNumber(name: string, text: string | undefined, rule: { integer?: boolean; min: number; max: number; kind?: string }): number | undefined {
  return text === undefined ? undefined : numberOption(name, text, NaN, rule);
}

// What the command line asks for, every option checked: a bad option is a usage
// error (exit status 2) even when an input named beside it cannot be read.
export interface SimulationOptions {
  synthetic: number;
  scheduler: Omit<SchedulerSettings, 'elimInterval'>;
  interval: number | undefined; // the elim's; default: the config's
  reservation: { d: number | undefined; t: number | undefined; decay: number; fromResReq: boolean };
  sweep: number[];
  seeds: number[];
  background: BackgroundSpec;
  // An lsb.acct replay (--acct) or a generated workload.
  workload: { acct: string; replay: Replay } | { generate: GenerateOptions };
}

// How an lsb.acct replay is played: at an offered load, or sped up; repeated.
type Replay = { utilisation: number; repeat: number } | { speedup: number; repeat: number };

// Checks every option of SimulationArgs, reading nothing; throws UsageError.
export function simulationOptions(args: SimulationArgs): SimulationOptions {
  // Each pair sets the same thing two ways: the one silently ignored would be a surprise.
  if (args['res-req'] !== undefined && (args.d !== undefined || args.t !== undefined)) throw new UsageError('--res-req and --d/--t contradict each other: give the reservation one way');
  if (args.load !== undefined && args.speedup !== undefined) throw new UsageError('--load and --speedup contradict each other: choose one');
  if (args.synthetic !== undefined && args.hosts !== undefined && args.hosts.length > 0) throw new UsageError('--hosts and --synthetic contradict each other: the hosts are read from --hosts or generated, choose one');
  const scheduler = {
    ...DEFAULT_SCHEDULER,
    mbdSleep: numberOption('mbd-sleep', args['mbd-sleep'], DEFAULT_SCHEDULER.mbdSleep, { min: 1, max: 3600 }),
    acceptInterval: numberOption('accept-interval', args['accept-interval'], DEFAULT_SCHEDULER.acceptInterval, { integer: true, min: 0, max: 100 }),
    freshPeriod: numberOption('load-update', args['load-update'], DEFAULT_SCHEDULER.freshPeriod, { min: 1, max: 3600 }),
    staleness: args.staleness === undefined || args.staleness === 'auto' ? 'auto' as const : numberOption('staleness', args.staleness, 0, { min: 0, max: 3600, kind: '"auto" or seconds' }),
  };
  const fromResReq = args['res-req'] === undefined ? undefined : parseRankRusage(args['res-req']);
  const reservation = {
    d: fromResReq?.d ?? givenNumber('d', args.d, { min: 0, max: 1000 }),
    t: fromResReq?.t ?? givenNumber('t', args.t, { min: 1, max: 3600 }),
    decay: fromResReq?.decay ?? 1, // --d/--t and recommend's: decay=1
    fromResReq: fromResReq !== undefined,
  };
  const seed = numberOption('seed', args.seed, 1, { integer: true, min: 0, max: 2 ** 31 - 1 });
  const seedCount = numberOption('seeds', args.seeds, SIMULATE_DEFAULTS.seeds, { integer: true, min: 1, max: 100 });
  const bgShare = numberOption('background', args.background, 0, { min: 0, max: 0.95 });
  const interval = givenNumber('interval', args.interval, { min: 1, max: 3600 });
  if (interval !== undefined && interval < MIN_LIM_INTERVAL) throw new UsageError(`--interval: expected seconds from ${MIN_LIM_INTERVAL} to 3600 (${UNDER_LIM_POLL}), received ${JSON.stringify(args.interval)}`);
  return {
    synthetic: numberOption('synthetic', args.synthetic, 40, { integer: true, min: 1, max: 100_000 }),
    scheduler,
    interval,
    reservation,
    sweep: parseSweep(args.sweep ?? SIMULATE_DEFAULTS.sweep),
    seeds: Array.from({ length: seedCount }, (_, i) => seed + i),
    background: bgShare > 0 ? { ...NO_BACKGROUND, share: bgShare } : NO_BACKGROUND,
    workload: args.acct === undefined ? { generate: generateOptions(args) } : { acct: args.acct, replay: replayOptions(args) },
  };
}

// Why an elim interval under MIN_LIM_INTERVAL cannot be simulated: LIM reads one
// report per 5 s, so faster reports pile up in the pipe and LIM shows ever older
// values (elim-contract.md, "Reading"; the daemon refuses to run so under LIM), where
// the simulator would take each refresh's rank from the latest report.
const UNDER_LIM_POLL = `under ${MIN_LIM_INTERVAL} s LIM falls behind the elim's reports and shows ever older ranks, where the simulator would show fresher ones`;

// How an lsb.acct replay is played (--load or --speedup, --repeat).
function replayOptions(args: SimulationArgs): Replay {
  if (args.generate === true) throw new UsageError('--acct and --generate: choose one');
  for (const name of ['jobs', 'utilisation', 'families', 'mix', 'burst', 'overthread', 'runtime'] as const) {
    if (args[name] !== undefined) throw new UsageError(`--${name} applies to a generated workload only, not to a replay of --acct (whose offered load is --load)`);
  }
  const repeat = numberOption('repeat', args.repeat, 1, { integer: true, min: 1, max: 100_000 });
  return args.load !== undefined
    ? { utilisation: numberOption('load', args.load, 1, { min: 0.01, max: 4 }), repeat }
    : { speedup: numberOption('speedup', args.speedup, 1, { min: 0.001, max: 1e6 }), repeat };
}

// The generated workload's settings.
function generateOptions(args: SimulationArgs): GenerateOptions {
  for (const name of ['load', 'speedup', 'repeat'] as const) {
    if (args[name] !== undefined) throw new UsageError(`--${name} applies to a replay of --acct only (a generated workload's offered load is --utilisation)`);
  }
  const [burstShare, burstSize] = pair('burst', args.burst, [SIMULATE_GENERATE.burstShare, SIMULATE_GENERATE.burstSize], {
    expected: 'SHARE,SIZE: a share from 0 to 1 and a whole number of jobs of at least 1',
    ok: (share, size) => share >= 0 && share <= 1 && Number.isInteger(size) && size >= 1,
  });
  const [runtimeMin, runtimeMax] = pair('runtime', args.runtime, [SIMULATE_GENERATE.runtimeMin, SIMULATE_GENERATE.runtimeMax], {
    expected: 'MIN,MAX: seconds, 0 < MIN <= MAX',
    ok: (min, max) => min > 0 && max >= min,
  });
  let mix = { ...SIMULATE_GENERATE.mix };
  if (args.mix !== undefined) {
    const m = args.mix.split(',').map((s) => (s.trim() === '' ? NaN : Number(s)));
    if (m.length !== 3 || m.some((x) => !Number.isFinite(x) || x < 0) || m[0]! + m[1]! + m[2]! <= 0) {
      throw new UsageError(`--mix: expected three shares cpu,mem,io, none negative and not all 0, received ${JSON.stringify(args.mix)}`);
    }
    mix = { cpu: m[0]!, mem: m[1]!, io: m[2]! };
  }
  return {
    jobs: numberOption('jobs', args.jobs, SIMULATE_GENERATE.jobs, { integer: true, min: 1, max: 10_000_000 }),
    utilisation: numberOption('utilisation', args.utilisation, SIMULATE_GENERATE.utilisation, { min: 0.01, max: 4 }),
    families: numberOption('families', args.families, SIMULATE_GENERATE.families, { integer: true, min: 1, max: 10_000 }),
    mix,
    burstShare,
    burstSize,
    overthread: numberOption('overthread', args.overthread, SIMULATE_GENERATE.overthread, { min: 0, max: 1 }),
    runtimeMin,
    runtimeMax,
    balanced: true,
  };
}

// Builds the hosts, the workload, the policies and the context from parsed options:
// every option is checked first (simulationOptions), then the inputs are read.
export async function setupSimulation(args: SimulationArgs, options: { policies?: (recommended: { d: number; t: number; decay: number }, sweep: number[]) => PolicySpec[] } = {}): Promise<SimulationSetup> {
  const opts = simulationOptions(args);
  const config = await loadConfigAsync(await findConfigAsync(args.config, process.env, isPresentAsync));
  const hosts = args.hosts !== undefined && args.hosts.length > 0 ? await readHosts(args.hosts) : syntheticHosts(opts.synthetic);
  // In libuv's pool, as check's: a model under a user's FUSE mount whose server answers
  // the pool and never a main thread held the main thread in the trust walk.
  const model = await loadModelAsync(args.model ?? modelPathFor(config));
  const ranker = modelRanker(model);
  if (opts.interval === undefined && config.interval < MIN_LIM_INTERVAL) throw new ConfigError(`the config's interval ${config.interval} s cannot be simulated: ${UNDER_LIM_POLL}; give --interval ${MIN_LIM_INTERVAL} or more`);
  const scheduler: SchedulerSettings = { ...opts.scheduler, elimInterval: opts.interval ?? config.interval };
  // The queue's reservation: recommend's D for the hosts' median CPU count, its T.
  const cpus = Math.round(median(hosts.map((h) => h.cpus)));
  const rec = recommendForCpus(model, cpus, { intervalSec: scheduler.elimInterval });
  const d = opts.reservation.d ?? rec.d;
  const t = opts.reservation.t ?? rec.t;
  const decay = opts.reservation.decay;
  const recommended = { d, t, decay, from: opts.reservation.fromResReq ? '--res-req' : args.d === undefined ? `lavarank recommend for ${cpus}-CPU hosts` : '--d' };
  let policies = (options.policies ?? standardPolicies)({ d, t, decay }, opts.sweep.filter((x) => x > 0));
  if (args.policies !== undefined) {
    // The names carry D (rank+D2), which may be recommend's: checked once it is known.
    const wanted = args.policies.split(',').map((s) => s.trim()).filter((s) => s !== '');
    const unknown = wanted.filter((w) => !policies.some((p) => p.name === w));
    if (unknown.length > 0) throw new UsageError(`--policies: unknown ${unknown.join(', ')}; known: ${policies.map((p) => p.name).join(', ')}`);
    policies = policies.filter((p) => wanted.includes(p.name));
  }
  const { seeds, background } = opts;

  let workload: (seed: number) => JobSpec[];
  let workloadText: string;
  if ('acct' in opts.workload) {
    const { acct, replay } = opts.workload;
    const unreadable = await acctProblemAsync(acct);
    if (unreadable !== undefined) throw new ConfigError(`--acct ${acct}: ${unreadable}`);
    const records: JobFinish[] = [];
    const reader = readAcct(acct);
    try {
      for await (const r of reader) records.push(r);
    } catch (err) {
      // The open's own words name the descriptor it reopens ("open '/proc/self/fd/19'").
      if (err instanceof ConfigError) throw err;
      throw new ConfigError(`--acct ${acct}: cannot be read: ${errorReason(err)}`, { cause: err });
    }
    // Lines left out change the workload replayed: say how many and why, as retrain does.
    const st = reader.stats;
    const skipped = skippedLines(st, true);
    // The first malformed line's field, from a job's name or directory, is quoted by
    // JSON.stringify, which leaves DEL and C1 controls as they came (U+009B is CSI).
    if (skipped.length > 0) printError(escapedControls(`lavarank simulate: --acct ${acct}: skipped ${skipped.join(', ')}`));
    let jobs: JobSpec[];
    try {
      jobs = jobsFromAcct(records, hosts, replay);
    } catch (err) {
      // "the accounting file has no job that ran" said which file only when one was given.
      throw new ConfigError(`--acct ${acct}: ${errorMessage(err)}`, { cause: err });
    }
    workload = () => jobs;
    workloadText = `${acct} replayed (${records.length} records, ${jobs.length} jobs${replay.repeat > 1 ? ` over ${replay.repeat} repeats` : ''}), offered load ${offeredLoad(jobs, hosts).toFixed(2)}`;
  } else {
    const gen = opts.workload.generate;
    workload = (s) => generateWorkload(hosts, gen, s);
    workloadText = `generated: ${gen.jobs} jobs per seed in ${gen.families} families (cpu ${gen.mix.cpu}, mem ${gen.mix.mem}, io ${gen.mix.io}), offered load ${gen.utilisation}, bursts ${gen.burstShare} × ${gen.burstSize}, ${gen.overthread} of families with twice the threads, run times ${gen.runtimeMin}-${gen.runtimeMax} s`;
  }
  if (background.share > 0) workloadText += `; background CPU load on each host ${background.share} of the time`;
  const sizes = [...new Set(hosts.map((h) => h.cpus))].sort((a, b) => a - b);
  const slots = hosts.reduce((a, h) => a + h.mxj, 0);
  const p = CALIBRATED;
  return {
    hosts,
    model,
    recommended,
    input: { hosts, workload, policies, seeds, ranker, scheduler, params: p, background, traceHosts: Math.min(hosts.length, 6) },
    context: {
      workload: workloadText,
      hostsText: `${hosts.length} hosts (${args.hosts?.join(', ') ?? 'synthetic'}), ${slots} slots, CPUs ${sizes.join('/')}`,
      model: model.id,
      scheduler: `MBD_SLEEP_TIME=${scheduler.mbdSleep}, JOB_ACCEPT_INTERVAL=${scheduler.acceptInterval}, LOAD_UPDATE_INTVL=${scheduler.freshPeriod}, elim interval ${scheduler.elimInterval} s, staleness ${scheduler.staleness === 'auto' ? 'auto (5-50 s)' : `${scheduler.staleness} s`}`,
      recommended,
      params: `CPU overhead ${p.cpuOverhead}, memory bandwidth ${p.memBandwidthStretch}, memory pressure ${p.memPressureStretch} from ${p.memPressureFrom} used, disk sharing ${p.diskShareStretch}; from ${CALIBRATION_SOURCE}`,
      notes: [],
    },
  };
}

// Why --acct cannot be replayed, or undefined: it is read as retrain reads it, a
// regular file or the pipe of a shell's process substitution (--acct <(zcat
// lsb.acct.1.gz), a /dev/fd/N path). Any other FIFO blocked the read for ever, and a
// directory failed with a bare "EISDIR: illegal operation on a directory, read". Its
// stat is asked in libuv's pool: on a user's FUSE mount whose server answers the pool
// and never a main thread, it held the main thread.
export async function acctProblemAsync(path: string): Promise<string | undefined> {
  let st;
  try {
    st = await stat(path);
  } catch (err) {
    return `cannot be read: ${errorReason(err)}; expected an lsb.acct file`;
  }
  if (isInputFile(st, path)) return undefined;
  return `${st.isDirectory() ? 'a directory' : 'not a regular file'}; expected an lsb.acct file`;
}

// A progress line on a terminal: which run, and how far its jobs are.
export function progressReporter(isTTY: boolean): ExperimentInput['onProgress'] {
  if (!isTTY) return undefined;
  let lastDraw = 0;
  return (p) => {
    const now = performance.now();
    if (now - lastDraw < 100 && p.finished < p.jobs) return;
    lastDraw = now;
    const width = 30;
    const frac = ((p.run - 1) + p.finished / p.jobs) / p.runs;
    const bar = '#'.repeat(Math.round(frac * width)).padEnd(width, '.');
    printStatus(`\r[${bar}] ${(frac * 100).toFixed(0).padStart(3)}%  run ${p.run}/${p.runs} ${p.policy} seed ${p.seed}\x1b[K`);
  };
}

const USAGE = `Usage: lavarank simulate [--hosts FILE]... [--acct FILE | --generate ...] [options]

Replays scheduling on your hosts with your jobs (or a generated workload) under
OpenLava's default order r15s:pg, order[rank] with and without the queue's
reservation (and a sweep of D), typed ranks, JOB_ACCEPT_INTERVAL=1, random, two
random choices by rank and an oracle that knows the true state and each job's
type, and prints per policy the mean and 95th-percentile slowdown, the excess
slowdown, the share of the oracle's gain over the default each captures, pending
time, makespan and utilisation, averaged over several seeds. The rank is computed
by the daemon's own model from each host's simulated state, as old as mbatchd
would see it. The cluster model and its assumptions: docs/simulate.md.

${simulationHelp()}
Output:
  --json                the figures as JSON instead of the table
  --html FILE           also write a self-contained HTML report with plots
  --help`;

// Why a report could not be written at path, or undefined: checked before the
// simulation, which takes minutes on a large cluster, rather than found when the
// write fails at its end, named by its temp file (EISDIR, ENOENT on ".r.html.123.tmp").
// Asked in libuv's pool, as the clash check's stats: a report directory on a user's
// FUSE mount whose server answers the pool and never a main thread held the main thread.
export async function reportPathProblemAsync(path: string): Promise<string | undefined> {
  const st = await stat(path).catch(() => undefined); // missing or unreadable: as existsSync said
  if (st !== undefined && !st.isFile()) return 'exists and is not a regular file';
  const dir = dirname(resolve(path));
  const why = await unwritableDirectoryAsync(dir);
  if (why !== undefined) return `cannot write into ${dir}: ${why}`;
  const refused = await outputDirectoryProblemsAsync(path, { what: 'HTML report directory' });
  return refused.length === 0 ? undefined : refused.join('; ');
}

// Runs the comparison and prints it; resolves to the exit status.
export async function main(argv: string[]): Promise<number> {
  const args = parseCommandLine(argv, { ...SIMULATION_OPTIONS, json: { type: 'boolean' }, html: { type: 'string' }, help: { type: 'boolean' } });
  if (args.help === true) {
    print(USAGE);
    return 0;
  }
  // A bad option is a UsageError (exit status 2), an unusable input any other error (1):
  // src/cli.ts. Every option is checked before any input is read.
  const setup: SimulationSetup = await setupSimulation(args);
  // The report replacing one of the simulation's own inputs would destroy it: the
  // files given, the config and the model it names (the daemons' model, often).
  if (args.html !== undefined) {
    const source = await findConfigAsync(args.config, process.env, isPresentAsync);
    const inputs: Array<[string, string | undefined]> = [
      ...(args.hosts ?? []).map((h): [string, string] => ['the input --hosts', h]),
      ['the input --acct', args.acct],
      ['the config', source.path ?? undefined],
      ['the model', args.model ?? modelPathFor(await loadConfigAsync(source))],
    ];
    const report = await fileIdentityAsync(args.html);
    let clash: [string, string | undefined] | undefined;
    for (const input of inputs) {
      if (input[1] !== undefined && (await fileIdentityAsync(input[1])) === report) {
        clash = input;
        break;
      }
    }
    if (clash !== undefined) throw new UsageError(`--html ${args.html} is ${clash[0]} ${clash[1]!}; writing the report would destroy it`);
    const unwritable = await reportPathProblemAsync(args.html);
    if (unwritable !== undefined) throw new ConfigError(`--html ${args.html}: ${unwritable}`);
  }
  const isTTY = process.stderr.isTTY === true;
  const onProgress = progressReporter(isTTY);
  const result: ExperimentResult = runExperiment({ ...setup.input, ...(onProgress === undefined ? {} : { onProgress }) });
  if (isTTY) printStatus('\r\x1b[K');
  const ctx: ReportContext = { ...setup.context, generated: new Date().toISOString(), command: `lavarank simulate ${argv.join(' ')}`.trim() };
  if (!result.typedAvailable) ctx.notes.push('typed ranks unavailable: model has no typed ranks (RankResult.typed); the typed policy was not run.');
  if (args.html !== undefined) {
    try {
      writeFileAtomic(args.html, renderHtml(result, ctx), 0o644, { what: 'HTML report directory' });
    } catch (err) {
      if (err instanceof UnsyncedRename) throw new Error(`--html ${err.message}`, { cause: err });
      // Node's message names no file for a failed write (a full disk), or the temp file.
      throw new ConfigError(`--html ${args.html}: cannot be written: ${errorMessage(err)}; any file there is unchanged`, { cause: err });
    }
  }
  print(args.json === true ? JSON.stringify(reportJson(result, ctx), null, 2) : `${formatReport(result, ctx)}${args.html === undefined ? '' : `\nreport: ${args.html}`}`);
  return 0;
}
