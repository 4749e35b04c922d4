// `lavarank recommend`: the load reservation for the rank queue,
// `order[rank] rusage[rank=D:duration=T:decay=1]`. D is the rank a typical job adds,
// on average, while a burst fills a lightly loaded host, as the model sees it; T is how long the elim's
// rank takes to reflect a new job in mbatchd's view (the contract's 5–50 s window).
// The derivation and the trade-off are in docs/model.md.
import { availableParallelism } from 'node:os';
import { EXIT_USAGE, print, printError, printStatus } from '../util/cliio.js';
import { findConfigAsync, loadConfigAsync } from '../config/config.js';
import { isPresentAsync } from '../util/paths.js';
import { ConfigError, UsageError, errorMessage } from '../util/errors.js';
import { parseCommandLine } from '../util/options.js';
import { readCalibrationAsync, type CalibrationRecord } from '../training/dataset.js';
import { featuresFromNamed, jobView, rawFeatures } from '../model/features.js';
import { loadModelAsync, type LoadedModel } from '../model/model.js';
import { modelPathFor } from '../model/rankers.js';
import { median } from '../util/stats.js';
import type { HostSpec } from '../simulate/cluster.js';
import { runExperiment, type PolicySummary } from '../simulate/experiment.js';
import { parseSweep, type PolicySpec } from '../simulate/policies.js';
import { cpusOption, hostCpusForRank } from './jobcpus.js';
import { progressReporter, setupSimulation, simulationHelp, SIMULATION_OPTIONS, type SimulationArgs, type SimulatorDefaults } from './simulate.js';

// OpenLava's defaults: non-master LIMs send their load every EXINTERVAL (15 s), and
// mbatchd refreshes its copy about every 20 s (elim-contract.md, "Propagation").
export const EXINTERVAL_SEC = 15;
export const MBATCHD_REFRESH_SEC = 20;
// The window in which the rank mbatchd uses can be stale (elim-contract.md, "Bursts").
export const MIN_DURATION_SEC = 5;
export const MAX_DURATION_SEC = 50;

// A host state to add one job to: raw named features and its CPU count.
export interface HostState {
  named: Record<string, number | null>;
  ncpu: number;
}

// The reservation and how it was found.
export interface Recommendation {
  d: number; // rank points per job, an integer >= 1: the median of perJob
  t: number; // seconds
  resReq: string;
  model: string;
  states: number;
  perJob: { min: number; median: number; max: number }; // average rank per job while a burst fills a host's slots
  firstJobMedian: number; // what the first job adds to the light hosts
  saturatedMedian: number; // what one more job adds once every CPU of the same hosts is taken
  statesFrom: string;
  intervalSec: number;
}

// The state after k more single-threaded CPU-bound jobs: k more busy CPUs (at most
// all of them), k more runnable tasks (and, once settled, k more units of 1-minute
// load), and the CPU pressure that follows from runnable tasks outnumbering CPUs.
// Memory, disk and network stay as they were: such a job uses little of them.
export function addJobs(state: HostState, k: number): Record<string, number | null> {
  const step = k / state.ncpu;
  const named = { ...state.named };
  const add = (name: string, cap: number): void => {
    const v = named[name];
    if (typeof v === 'number') named[name] = Math.min(cap, v + step);
  };
  const runnableBefore = named['runnable_per_cpu'];
  add('cpu_busy', 1);
  add('load1_per_cpu', Infinity);
  add('runnable_per_cpu', Infinity);
  const psi = named['psi_cpu_some'];
  if (typeof psi === 'number' && typeof runnableBefore === 'number') {
    const waiting = (r: number): number => Math.min(1, Math.max(0, r - 1));
    named['psi_cpu_some'] = Math.min(1, Math.max(0, psi + waiting(runnableBefore + step) - waiting(runnableBefore)));
  }
  return named;
}

// The state after one more job.
export function addOneJob(state: HostState): Record<string, number | null> {
  return addJobs(state, 1);
}

// Lightly loaded starting states when no calibration data is given: 4 to 64 CPUs,
// 10 to 50 % busy, memory 40 % used, no paging and little I/O.
export function builtInStates(): HostState[] {
  const states: HostState[] = [];
  for (const ncpu of [4, 8, 16, 32, 64]) {
    for (const busy of [0.1, 0.25, 0.5]) {
      states.push({
        ncpu,
        named: {
          cpu_busy: busy, cpu_iowait: 0.005, cpu_steal: 0, load1_per_cpu: busy, runnable_per_cpu: busy, mem_used: 0.4,
          swap_io: 0, major_faults: 1, disk_busy_max: 0.02, disk_busy_mean: 0.01, net_util_max: 0.01,
          psi_cpu_some: 0.01, psi_mem_some: 0, psi_mem_full: 0, psi_io_some: 0.01, psi_io_full: 0, gpu_util_max: null, gpu_mem_used: null,
        },
      });
    }
  }
  return states;
}

// The lightly loaded states in calibration data: at most half the CPUs busy and as
// many runnable tasks, memory under 80 %, the busiest disk under 20 % busy.
export function lightStates(records: readonly CalibrationRecord[]): HostState[] {
  const out: HostState[] = [];
  for (const r of records) {
    const named = rawFeatures(r.sample);
    const ncpu = jobView(r.sample)?.cpus ?? r.sample.cpu?.online ?? r.sample.load?.online;
    const light = (name: string, max: number): boolean => typeof named[name] === 'number' && named[name]! <= max;
    if (typeof ncpu !== 'number' || !(ncpu >= 1)) continue;
    if (light('cpu_busy', 0.5) && light('runnable_per_cpu', 0.5) && light('mem_used', 0.8) && (named['disk_busy_max'] ?? 0) <= 0.2) {
      out.push({ named, ncpu });
    }
  }
  return out;
}

// The same host with every CPU taken (one runnable task per CPU), for comparison:
// past this point each job makes every other one wait.
export function saturated(state: HostState): HostState {
  const named = { ...state.named };
  for (const name of ['cpu_busy', 'runnable_per_cpu', 'load1_per_cpu']) {
    if (typeof named[name] === 'number') named[name] = Math.max(named[name]!, 1);
  }
  return { ncpu: state.ncpu, named };
}

// The staleness window for an elim interval: interval + EXINTERVAL + mbatchd's refresh, within 5–50 s.
export function reservationSeconds(intervalSec: number): number {
  return Math.round(Math.min(MAX_DURATION_SEC, Math.max(MIN_DURATION_SEC, intervalSec + EXINTERVAL_SEC + MBATCHD_REFRESH_SEC)));
}

// D and T for a model and starting states. Pure.
export function recommend(
  model: LoadedModel,
  states: readonly HostState[],
  options: { intervalSec: number; resource?: string; statesFrom: string },
): Recommendation {
  if (states.length === 0) throw new ConfigError(`no lightly loaded starting state in ${options.statesFrom}`);
  // The host's size is part of the state: the CPUs a new job finds free depend on it.
  const rankOf = (s: HostState, named: Record<string, number | null>): number => model.predict(featuresFromNamed({ ...named, cpus: s.ncpu }));
  const rank = (s: HostState): number => rankOf(s, s.named);
  const added = (s: HostState): number => rankOf(s, addOneJob(s)) - rank(s);
  // A burst fills a host's job slots, one per CPU by default: the reservation is
  // linear, so D is the average a job adds over that fill, which makes the reserved
  // rank right once the host is full (the first jobs on free CPUs add less, the
  // ones past the free CPUs more).
  const perJob = states.map((s) => (rankOf(s, addJobs(s, s.ncpu)) - rank(s)) / s.ncpu).sort((a, b) => a - b);
  const mid = median(perJob);
  // At least 1: any reservation makes mbatchd re-sort after each job it places.
  const d = Math.max(1, Math.round(mid));
  const t = reservationSeconds(options.intervalSec);
  const resource = options.resource ?? 'rank';
  return {
    d,
    t,
    resReq: `order[${resource}] rusage[${resource}=${d}:duration=${t}s:decay=1]`,
    model: model.id,
    states: states.length,
    perJob: { min: perJob[0]!, median: mid, max: perJob[perJob.length - 1]! },
    firstJobMedian: median(states.map(added)),
    saturatedMedian: median(states.map((s) => added(saturated(s)))),
    statesFrom: options.statesFrom,
    intervalSec: options.intervalSec,
  };
}

// `lavarank recommend --cpus N`: the states (built-in ones unless given) taken as
// hosts of cpus CPUs. The shipped openlava-conf/lsb.queues and the docs take their
// D and T from this function (npm run gen:reservation), and check compares with it.
export function recommendForCpus(
  model: LoadedModel,
  cpus: number,
  options: { intervalSec: number; resource?: string; states?: readonly HostState[]; statesFrom?: string },
): Recommendation {
  // The states' loads are per CPU; how much one job adds depends on the hosts' size.
  const states = (options.states ?? builtInStates()).map((st) => ({ ...st, ncpu: cpus }));
  const statesFrom = `${options.statesFrom ?? 'built-in light states (no --data)'}, for hosts with ${cpus} CPU${cpus === 1 ? '' : 's'} (--cpus)`;
  return recommend(model, states, { intervalSec: options.intervalSec, statesFrom, ...(options.resource === undefined ? {} : { resource: options.resource }) });
}

// The recommendation for a terminal: D, T, the RES_REQ line and the trade-off.
export function formatRecommendation(r: Recommendation): string {
  const f = (x: number): string => x.toFixed(1);
  return [
    `model ${r.model}`,
    '',
    `D = ${r.d}: the rank a single-threaded CPU-bound job adds, on average, while a`,
    `    burst fills a lightly loaded host's slots (one per CPU): median ${f(r.perJob.median)}`,
    `    over ${r.states} starting states (min ${f(r.perJob.min)}, max ${f(r.perJob.max)}) from ${r.statesFrom}.`,
    `    The first job on those hosts adds ${f(r.firstJobMedian)}; one more once every CPU is`,
    `    taken adds ${f(r.saturatedMedian)}.`,
    `T = ${r.t}s: how stale mbatchd's rank can be: elim interval ${r.intervalSec} s + EXINTERVAL`,
    `    ${EXINTERVAL_SEC} s + mbatchd's load refresh ~${MBATCHD_REFRESH_SEC} s, kept within ${MIN_DURATION_SEC}-${MAX_DURATION_SEC} s`,
    '',
    'In lsb.queues, in the rank queue:',
    `    RES_REQ = ${r.resReq}`,
    '',
    'mbatchd adds D to a host\'s rank for each job it places there and re-sorts',
    'before the next one, so a burst spreads by rank instead of piling onto the',
    'host that looked least loaded at the last refresh. The reservation decays to',
    'zero over T. Once the elim\'s rank reflects the job, the job is counted twice',
    '(measured and reserved) until the reservation has decayed: a larger D or T',
    'spreads bursts more but makes busy hosts look busier for up to T; a smaller',
    'one lets bursts herd again.',
  ].join('\n');
}

// Reservation durations the simulator tries by default, within the contract's 5-50 s window.
export const SIM_DURATIONS: readonly number[] = [25, 45];

// recommend --hosts' own defaults, as it applies them and its help says (simulate's
// were printed: 5000 jobs, 5 seeds, a sweep from 0, and --d, --t, --res-req it refuses).
const RECOMMEND_DEFAULTS: SimulatorDefaults = {
  jobs: 3000,
  seeds: 3,
  sweep: '2,5,10,20,40',
  reservation: false,
  policies: `  --policies LIST       which of the reservations tried to run: default, rank,
                        D<d>/T<t> for each D and T (default all)`,
};

// A function, not a constant: simulate.ts and this module import each other, and
// what simulationHelp reads may not be initialised yet when this module is evaluated.
const usage = (): string => `Usage: lavarank recommend [--model FILE] [--config FILE] [--data FILE]... [--cpus N] [--json]
       lavarank recommend --hosts FILE... | --synthetic N [--acct FILE] [simulation options] [--json]

Prints the load reservation for the rank queue, order[rank] rusage[rank=D:duration=T:decay=1]:
D from the model (--model, else the config's, else the embedded default), starting
from lightly loaded states in the calibration datasets given with --data (else
built-in ones), for hosts with --cpus CPUs (default: this host's, or the CPUs a
job may use here where those are fewer, as the rank counts them; run it on a
compute node, or give the CPU count of your typical node); T from the config's
interval.

With --hosts (or --synthetic N), D and T are chosen by the simulator (lavarank
simulate) instead; --data and --cpus then do not apply, nor the simulator's
options without it. The queue's reservation is tried for every D of --sweep and
every T of --durations (whole seconds, default ${SIM_DURATIONS.join(',')}) on your hosts, with
your jobs (--acct, replayed at --load) or a generated mixed workload, over --seeds seeds (default ${RECOMMEND_DEFAULTS.seeds}), and the
one with the lowest mean slowdown is printed, with the config's resource and T in
seconds; order[rank] alone when no reservation did better. It warns when your
hosts differ so much in size that one D per queue cannot fit them.

${simulationHelp(RECOMMEND_DEFAULTS)}`;

// Prints the recommendation; resolves to the exit status.
export async function main(argv: string[]): Promise<number> {
  const args = parseCommandLine(argv, {
      ...SIMULATION_OPTIONS,
      model: { type: 'string' },
      config: { type: 'string' },
      data: { type: 'string', multiple: true },
      cpus: { type: 'string' },
      json: { type: 'boolean' },
      help: { type: 'boolean' },
      durations: { type: 'string' },
    });
  if (args.help === true) {
    print(usage());
    return 0;
  }
  const ignored = ignoredOption(args);
  if (ignored !== undefined) throw new UsageError(ignored);
  if (simulatorMode(args)) return simulatedMain(args);
  let givenCpus: number | undefined;
  try {
    givenCpus = cpusOption(args.cpus);
  } catch (err) {
    printError(`lavarank recommend: ${errorMessage(err)}`);
    return EXIT_USAGE;
  }
  const config = await loadConfigAsync(await findConfigAsync(args.config, process.env, isPresentAsync));
  const cpus = givenCpus ?? hostCpusForRank(config, availableParallelism()).cpus;
  // In libuv's pool, as check's: a model under a user's FUSE mount whose server answers
  // the pool and never a main thread held the main thread in the trust walk.
  const model = await loadModelAsync(args.model ?? modelPathFor(config));
  let states: HostState[] | undefined;
  let statesFrom: string | undefined;
  if (args.data !== undefined && args.data.length > 0) {
    const records: CalibrationRecord[] = [];
    for (const path of args.data) {
      const file = await readCalibrationAsync(path);
      for (const problem of file.problems) printError(`skipped ${problem}`);
      records.push(...file.records);
    }
    states = lightStates(records);
    statesFrom = args.data.join(', ');
  }
  const r = recommendForCpus(model, cpus, { intervalSec: config.interval, resource: config.resource, ...(states === undefined ? {} : { states, statesFrom }) });
  print(args.json === true ? JSON.stringify(r, null, 2) : formatRecommendation(r));
  return 0;
}

// Whether the simulator chooses D and T: with --hosts, or --synthetic hosts.
function simulatorMode(args: { hosts?: string[]; synthetic?: string }): boolean {
  return (args.hosts !== undefined && args.hosts.length > 0) || args.synthetic !== undefined;
}

// The option given that the chosen mode would ignore, as a usage error's text, or
// undefined: `recommend --acct lsb.acct` without --hosts printed the model's D as if
// the accounting had been replayed, and --cpus or --data beside --hosts changed nothing.
export function ignoredOption(args: Record<string, unknown>): string | undefined {
  const given = (name: string): boolean => args[name] !== undefined;
  if (simulatorMode(args as { hosts?: string[]; synthetic?: string })) {
    const modelOnly = ['data', 'cpus'].find(given);
    if (modelOnly !== undefined) return `--${modelOnly} applies without --hosts only (D from the model); with --hosts or --synthetic the simulator chooses D from the hosts and jobs`;
    const chosen = ['d', 't', 'res-req'].find(given);
    if (chosen !== undefined) return `--${chosen}: with --hosts or --synthetic recommend chooses D and T itself; --sweep and --durations set the values it tries`;
    return undefined;
  }
  const simulatorOnly = [...Object.keys(SIMULATION_OPTIONS), 'durations'].filter((name) => name !== 'model' && name !== 'config').find(given);
  if (simulatorOnly !== undefined) return `--${simulatorOnly} applies with --hosts or --synthetic only (the simulator); without them, D comes from the model alone`;
  return undefined;
}

// Host sizes past which one D per queue cannot fit them all: the D the model gives the
// largest hosts and the smallest differ by more than this factor.
export const MAX_D_RATIO = 2;

// The model's D for each host size, and a warning when the sizes need different Ds
// (a job adds less rank on a host with more CPUs): one queue per group of hosts then.
export function hostSizeWarning(model: LoadedModel, hosts: readonly HostSpec[], intervalSec: number, resource = 'rank'): { perSize: Array<{ cpus: number; hosts: number; d: number }>; warning?: string } {
  const sizes = [...new Set(hosts.map((h) => h.cpus))].sort((a, b) => a - b);
  const perSize = sizes.map((cpus) => ({
    cpus,
    hosts: hosts.filter((h) => h.cpus === cpus).length,
    d: recommendForCpus(model, cpus, { intervalSec, resource }).d,
  }));
  const ds = perSize.map((x) => x.d);
  const lo = Math.min(...ds);
  const hi = Math.max(...ds);
  if (hi <= MAX_D_RATIO * lo) return { perSize };
  const groups = perSize.map((x) => `${x.hosts} host${x.hosts === 1 ? '' : 's'} with ${x.cpus} CPUs: D = ${x.d}`).join('; ');
  return {
    perSize,
    warning: `host sizes differ too much for one D per queue (the model's D goes from ${lo} to ${hi}, more than ${MAX_D_RATIO}x): ${groups}. One D over-reserves the large hosts or under-reserves the small ones; consider one queue per host group (HOSTS = the group in lsb.queues), each with its own rusage[${resource}=D:...].`,
  };
}

// The reservations the simulator compares: every D of the sweep for every T, and D = 0.
export function reservationGrid(ds: readonly number[], ts: readonly number[]): PolicySpec[] {
  const out: PolicySpec[] = [{ name: 'default', kind: 'default' }, { name: 'rank', kind: 'rank' }];
  for (const t of ts) for (const d of ds) if (d > 0) out.push({ name: `D${d}/T${t}`, kind: 'rank', reservation: { value: d, duration: t, decay: 1 } });
  return out;
}

// The reservation with the lowest mean slowdown among those the grid ran.
export function bestReservation(policies: readonly PolicySummary[]): PolicySummary | undefined {
  return policies.filter((p) => p.kind === 'rank' && p.meanSlowdown !== undefined).sort((a, b) => a.meanSlowdown!.mean - b.meanSlowdown!.mean)[0];
}

async function simulatedMain(args: SimulationArgs & { json?: boolean; durations?: string; cpus?: string }): Promise<number> {
  let durations: number[];
  try {
    durations = args.durations === undefined ? [...SIM_DURATIONS] : parseSweep(args.durations, '--durations', 'seconds');
    // Refused, not dropped: `--durations 0.5,45` tried 45 alone without a word.
    const short = durations.find((t) => !(t >= 1));
    if (short !== undefined || durations.length === 0) throw new UsageError(`--durations: expected seconds of at least 1${short === undefined ? '' : `, received ${short}`}`);
    // The chosen T goes into the queue's rusage as duration=Ts, which takes whole seconds.
    const part = durations.find((t) => !Number.isInteger(t));
    if (part !== undefined) throw new UsageError(`--durations: expected whole seconds, received ${part}`);
  } catch (err) {
    printError(`lavarank recommend: ${errorMessage(err)}`);
    return EXIT_USAGE;
  }
  const sweep = parseSweep(args.sweep ?? RECOMMEND_DEFAULTS.sweep);
  // --jobs belongs to a generated workload: with --acct, setupSimulation refuses it.
  const jobs = args.acct === undefined ? { jobs: args.jobs ?? String(RECOMMEND_DEFAULTS.jobs) } : {};
  const setup = await setupSimulation({ ...args, seeds: args.seeds ?? String(RECOMMEND_DEFAULTS.seeds), ...jobs }, { policies: () => reservationGrid(sweep, durations) });
  const isTTY = process.stderr.isTTY === true;
  const onProgress = progressReporter(isTTY);
  const result = runExperiment({ ...setup.input, traceHosts: 0, ...(onProgress === undefined ? {} : { onProgress }) });
  if (isTTY) printStatus('\r\x1b[K');
  const config = await loadConfigAsync(await findConfigAsync(args.config, process.env, isPresentAsync));
  const sizes = hostSizeWarning(setup.model, setup.hosts, setup.input.scheduler?.elimInterval ?? config.interval, config.resource);
  const best = bestReservation(result.policies);
  const base = result.policies.find((p) => p.kind === 'default');
  const d = best?.reservation?.value ?? 0;
  const t = best?.reservation?.duration ?? 0;
  const resReq = best?.reservation === undefined ? `order[${config.resource}]` : `order[${config.resource}] rusage[${config.resource}=${d}:duration=${t}s:decay=1]`;
  if (args.json === true) {
    print(JSON.stringify({ d, t, resReq, model: setup.model.id, workload: setup.context.workload, hosts: setup.context.hostsText, seeds: result.seeds, perSize: sizes.perSize, warning: sizes.warning ?? null, grid: result.policies.map((p) => ({ name: p.name, reservation: p.reservation ?? null, meanSlowdown: p.meanSlowdown ?? null, p95Slowdown: p.p95Slowdown ?? null })) }, null, 2));
    return 0;
  }
  const f = (p: PolicySummary | undefined): string => (p?.meanSlowdown === undefined ? '-' : `${p.meanSlowdown.mean.toFixed(3)}±${Number.isFinite(p.meanSlowdown.ci95) ? p.meanSlowdown.ci95.toFixed(3) : '-'}`);
  const lines = [
    `model ${setup.model.id}`,
    `workload: ${setup.context.workload}`,
    `hosts:    ${setup.context.hostsText}`,
    '',
    'mean slowdown by reservation (mean over seeds ± 95 % interval):',
    ...result.policies.map((p) => `  ${p.name.padEnd(10)} ${f(p)}`),
    '',
    best === undefined
      ? 'No rank policy ran.'
      : best.reservation === undefined
        ? `No reservation did better than order[${config.resource}] alone (${f(best)}; the default r15s:pg: ${f(base)}).`
        : `D = ${d}, T = ${t}s: the lowest mean slowdown, ${f(best)} (order[${config.resource}] alone: ${f(result.policies.find((p) => p.name === 'rank'))}; the default r15s:pg: ${f(base)}).`,
    '',
    'In lsb.queues, in the rank queue:',
    `    RES_REQ = ${resReq}`,
    '',
    'Differences of a few thousandths are within the spread between seeds: run more seeds (--seeds) before trusting them.',
  ];
  if (sizes.warning !== undefined) lines.push('', `warning: ${sizes.warning}`);
  print(lines.join('\n'));
  return 0;
}
