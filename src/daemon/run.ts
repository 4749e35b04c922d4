// The elim as LIM starts it (`lavarank run`). Sets up config, logs, priority and
// the collectors, runs the report loop, and ends cleanly on SIGTERM, on a closed
// stdout and when LIM itself is gone.
import { getPriority, hostname } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { isTerminal } from '../util/terminal.js';
import { fileURLToPath } from 'node:url';
import type { Logger } from '../util/logger.js';
import { RotatingAppender } from '../util/appender.js';
import { systemClock, type Clock } from '../util/clock.js';
import { PARENT_ENV, startChildElims, type ChildElimSpec } from './children.js';
import { LIM_PID_ENV, limPid, testInterval } from '../lsf/wrapper.js';
import { findConfigAsync, loadConfigAsync, MIN_LIM_INTERVAL, type ChildElimConfig, type Config, type ConfigSource } from '../config/config.js';
import { isPresentAsync } from '../util/paths.js';
import { runElim, typedRankNames, type ElimOptions, type Tick } from './elim.js';
import { ConfigError, ModelError, UsageError, errorMessage } from '../util/errors.js';
import { holdExit, killNow } from '../util/exit.js';
import { collectGarbage } from '../util/gc.js';
import { absolutePathAsync, runIsolated } from '../util/exec.js';
import { packageRootOfAsync, syslogGid, treeProblemsAsync } from '../util/trust.js';
import { HISTORY_HOLD, historyDirectoryProblems, historyDirectoryProblemsAsync, historyLocation, historyRecord, type HistoryRecord } from '../history/record.js';
import { setupLoggingBeside, type PendingLog } from './log.js';
import { lsfEnvProblemsAsync, lsfLogdirAsync, sharedTextResources } from './lsf-env.js';
import { MetricsWriter, metricsDirectoryProblems, metricsDirectoryProblemsAsync } from './metrics.js';
import { openRankersAsync, type ModelRankers } from '../model/rankers.js';
import { reniceProcess, type ReniceResult } from './nice.js';
import { fdSink } from './report.js';
import { Stopper, stopOnSignals } from './stopper.js';
import { collectorsFromConfig, createSampler, type CollectorStats, type Sampler } from './sampler.js';
import type { CollectorName, Sample } from '../collectors/types.js';
import { collectLocalInventory, nvidiaOnPciBus } from '../collectors/inventory.js';
import { VERSION } from '../util/version.js';
import { CHILD_NODE_FLAGS } from '../util/node-flags.js';

// The dummy resource lavarank's layout maps so that LIM starts the elim
// (openlava-conf/lsf.cluster); rank itself stays out of the ResourceMap.
export const TRIGGER_RESOURCE = 'elimtrig';

// Under LSF's MELIM (which sets ELIM_ABORT_VALUE), an elim that exits with that value is
// never restarted on this host, so lavarank does so only where it is not wanted: when
// LSF_RESOURCES is set and names none of `names` (its rank, typed ranks, and the trigger
// that starts it). IBM's pages say LIM builds LSF_RESOURCES from the ResourceMap and give
// a checking header that exits only when it is set and names none of the elim's
// resources; lavarank's layout maps elimtrig, not rank, so under LSF it may name
// elimtrig alone. OpenLava never sets ELIM_ABORT_VALUE, so there lavarank always keeps running.
export function lsfAbortCode(names: readonly string[], env: NodeJS.ProcessEnv): { code: number; why: string } | undefined {
  const abortValue = env['ELIM_ABORT_VALUE'];
  if (abortValue === undefined || abortValue.trim() === '') return undefined;
  const resources = (env['LSF_RESOURCES'] ?? '').split(/\s+/).filter((s) => s !== '');
  if (resources.length === 0 || resources.some((r) => names.includes(r))) return undefined;
  const code = Number(abortValue);
  if (!Number.isInteger(code) || code < 0 || code > 255) return undefined;
  return {
    code,
    why: `LSF_RESOURCES (${JSON.stringify(env['LSF_RESOURCES'] ?? '')}) names none of ${names.map((n) => `'${n}'`).join(', ')} on this host; exiting with ELIM_ABORT_VALUE ${code} so MELIM does not restart this elim`,
  };
}

// The sample deadline in ms: sample_deadline, else half the interval. Under a test
// interval without sample_deadline, at least the 5 s of the default 10 s interval: a
// loaded test machine's slow sample is not a host in trouble; a test that sets the key
// gets it, as LIM's elim does.
export function sampleDeadlineMs(sampleDeadline: number | null, intervalMs: number, underTestInterval: boolean): number {
  if (sampleDeadline !== null) return sampleDeadline * 1000;
  return underTestInterval ? Math.max(intervalMs / 2, 5000) : intervalMs / 2;
}

// The report loop's settings from the config: the resource, the report interval, the
// first report's window, the sample's deadline and the pessimistic rank.
export function loopSettings(config: Readonly<Config>, intervalMs: number, underTestInterval: boolean): Pick<ElimOptions, 'resource' | 'typedRanks' | 'intervalMs' | 'firstReportMs' | 'deadlineMs' | 'pessimisticAfter' | 'pessimisticRank'> {
  return {
    resource: config.resource,
    typedRanks: config.typed_ranks,
    intervalMs,
    firstReportMs: Math.min(FIRST_REPORT_MS, intervalMs),
    deadlineMs: sampleDeadlineMs(config.sample_deadline, intervalMs, underTestInterval),
    pessimisticAfter: config.pessimistic_after,
    pessimisticRank: config.pessimistic_rank,
  };
}

// Counts each report it is given and logs a summary line once an hour's worth at
// intervalMs are counted, with the figures `more` gives then (the collectors', memory).
export function hourlySummary(intervalMs: number, log: Pick<Logger, 'info'>, more: () => object): (tick: Pick<Tick, 'state' | 'outcome' | 'rank'>) => void {
  const every = Math.max(1, Math.round(3_600_000 / intervalMs));
  let summary = emptySummary();
  return (tick) => {
    countReport(summary, tick);
    if (summary.ticks < every) return;
    log.info({ ...summaryFields(summary), ...more() }, 'summary');
    summary = emptySummary();
  };
}

// The reports since the last hourly summary line, counted.
export interface Summary {
  ticks: number;
  states: Record<string, number>;
  unread: number; // reports LIM did not read: dropped, or replaced by a newer one
  rankMin: number;
  rankMax: number;
  rankSum: number;
}

// A summary of no reports.
export function emptySummary(): Summary {
  return { ticks: 0, states: {}, unread: 0, rankMin: Number.POSITIVE_INFINITY, rankMax: Number.NEGATIVE_INFINITY, rankSum: 0 };
}

// Counts one report in summary.
export function countReport(summary: Summary, tick: Pick<Tick, 'state' | 'outcome' | 'rank'>): void {
  summary.ticks++;
  summary.states[tick.state] = (summary.states[tick.state] ?? 0) + 1;
  if (tick.outcome === 'dropped' || tick.outcome === 'replaced') summary.unread++;
  summary.rankMin = Math.min(summary.rankMin, tick.rank);
  summary.rankMax = Math.max(summary.rankMax, tick.rank);
  summary.rankSum += tick.rank;
}

// The summary line's counts and the rank's min, mean and max.
export function summaryFields(summary: Summary): { ticks: number; states: Record<string, number>; unread: number; rank: { min: number; mean: number; max: number } } {
  return { ticks: summary.ticks, states: summary.states, unread: summary.unread, rank: { min: summary.rankMin, mean: summary.rankSum / summary.ticks, max: summary.rankMax } };
}

// --test-keep-open's rule: every file kept open, as lavarank keeps those of procfs and sysfs.
function keepEveryFile(): boolean {
  return true;
}

// What `lavarank run` was given on its command line.
export interface DaemonArgs {
  config?: string; // --config FILE
  testInterval?: string; // --test-interval SECONDS
  noHistory?: boolean; // --no-history: history off whatever the config says
  testKeepOpen?: boolean; // --test-keep-open: every file kept open, as on procfs and sysfs
  commandLineProblem?: string; // what was wrong with the command line: logged, exit 2, no report
  startupDeadlineMs?: number; // --test-startup-deadline: STARTUP_DEADLINE_MS otherwise
}

// Runs the elim until stopped; returns the exit status. `complain` receives the reason
// the daemon cannot start, for a terminal (under LIM stderr is /dev/null, so the same
// reason is always logged too).
export async function runDaemon(args: DaemonArgs, complain: (text: string) => void, clock: Clock = systemClock): Promise<number> {
  const starting = startupDeadline(args.startupDeadlineMs ?? STARTUP_DEADLINE_MS, hostname());
  try {
    return await runStarting(args, complain, clock, starting);
  } finally {
    starting.done(); // ended before its first report: each way out has its own bound
  }
}

async function runStarting(args: DaemonArgs, complain: (text: string) => void, clock: Clock, starting: Starting): Promise<number> {
  // At SIGUSR1 Node opens its inspector, a debugger on 127.0.0.1:9229 that any local
  // user can connect to and run code in, as root here (Node 20 has no
  // --disable-sigusr1). A listener of lavarank's own replaces Node's: set first.
  let onUsr1 = (): void => {};
  process.on('SIGUSR1', () => onUsr1());
  // SIGUSR2 is Node's diagnostic-report signal (--report-signal), so an administrator's
  // `pkill -USR2 node` is meant for another Node service; its default action ended the
  // elim with no word in its log and left each child elim, in a process group of its
  // own, running under PID 1, one more set per LIM restart.
  let onUsr2 = (): void => {};
  process.on('SIGUSR2', () => onUsr2());
  // LIM, watched at each report: as the wrapper found it, else our parent now. Not
  // passed on to the child elims, whose parent is lavarank.
  const parent = limPid(process.env) ?? process.ppid;
  delete process.env[LIM_PID_ENV];
  // LSF_LOGDIR from lsf.conf where LIM did not pass it: the log and history go there.
  // Every question the start asks of a file system (lsf.conf, the config, the log, the
  // model, the metrics and history directories) is asked in libuv's pool: a user's FUSE
  // server on one of those paths that answers the pool and never a main thread held the
  // start on its main thread, no report and neither SIGTERM nor SIGKILL obeyed, and each
  // `lsadmin reconfig` left one more such process. A start that still does not end
  // (a server that answers nothing) ends the process at the start-up deadline.
  const { env, confRefusal, logdirFrom, source } = await readEnvironment(args.config, process.env, starting);
  starting.environment(env, logdirFrom);
  const interactive = isTerminal(1);
  const host = hostname();
  // LIM leaves the elim in the directory LIM runs in (/tmp under OpenLava 4.0). A
  // relative name resolved there by a child elim (`python3 -m module`, a relative
  // PATH entry, a `#!/usr/bin/env` script) would be whatever another user put there,
  // run as root; from / it is root's.
  process.chdir('/');

  const read = await readConfig(args, source, env, starting);
  if (!read.ok) {
    // The configured log location is unknown; log where the defaults would.
    const fallback = starting.logTo(setupLoggingBeside(DEFAULT_LOG_CONFIG, { host, env, logdirFrom }));
    fallback.log.fatal({ problems: read.problems, config: source.path }, `cannot start: ${read.what}`);
    complain(`lavarank: cannot start: ${read.what}\n  ${read.problems.join('\n  ')}`);
    return await closedLog(starting, fallback, read.code);
  }
  const { config, fastInterval } = read;

  // Chosen beside the start (setupLoggingBeside): its records wait meanwhile, and where it
  // went, and what was passed over, is said once it is chosen.
  const logging = starting.logTo(setupLoggingBeside(config.log, { host, env, logdirFrom }));
  const log = logging.log;
  void logging.ready.then(() => {
    log.info({ logTarget: logging.target }, 'log location chosen');
    for (const skipped of logging.skipped) log.warn(`log location skipped: ${skipped}`);
  });

  const byHand = handRunNote(env, !args.noHistory && config.history.enabled);
  if (byHand !== undefined) {
    log.info(byHand);
    if (isTerminal(2)) complain(`lavarank: ${byHand}`);
  }
  onUsr1 = () => log.info('SIGUSR1 ignored: Node would open its inspector, which any local user could use to run code as root');
  onUsr2 = () => log.info('SIGUSR2 ignored: only SIGTERM stops the elim');
  const inside = insideItself(env);
  if (inside !== undefined) {
    log.fatal(inside);
    complain(`lavarank: ${inside}`);
    return await closedLog(starting, logging, 1);
  }
  // Its stop, forced exit and crash; the parts they end are set on it as they are made.
  const stopper = new Stopper({ log, logging });
  process.on('uncaughtException', stopper.crash('uncaught exception'));
  process.on('unhandledRejection', stopper.crash('unhandled promise rejection'));
  void announceStart(log, { parent, env, source, confRefusal });
  // Only the child elims need them.
  const textNames = config.elims.length > 0 ? readTextNames(env, log) : undefined;

  const schedule = reportSchedule(config, env, fastInterval, interactive, log, complain);
  if (!schedule.ok) return await closedLog(starting, logging, schedule.code);
  const { intervalMs } = schedule;

  const { signal, groupsSignal } = stopper;

  const rankers = await loadRankers(config, signal, starting, logging, complain);
  if (typeof rankers === 'number') return rankers;

  // Without the detail that only a person reads (each disk, throughput): the model does not use it.
  if (args.testKeepOpen === true) log.warn('test keep-open in use: every file is kept open, even one that is not on procfs or sysfs');
  const collectors = collectorsFromConfig(config, { log, signal: groupsSignal, clock, detail: false, ...(args.testKeepOpen === true ? { keepOpen: keepEveryFile } : {}) });
  const sampler = createSampler({ collectors, clock, log });

  const writers = openWriters(config, { noHistory: args.noHistory === true, host, env, log, logFailing: logFailingProbed(() => logging.appender) });
  stopper.writers = writers;
  const priority = elimPriority(config.nice, log);
  stopper.priority = priority;
  stopOnSignals(stopper, interactive, log);
  // Once the first report is out, every thread goes to `nice` (elimPriority), and
  // only then are the child elims started, so that they inherit it.
  const lowerPriority = (): void => {
    priority.lower();
    startChildrenOnceRead(textNames, stopper, log, (names) => startChildElims(config.elims.map(childSpec), { log, signal, clock, textNames: names, reserved: [config.resource, ...(config.typed_ranks ? typedRankNames(config.resource) : [])] }));
  };
  const checkParent = parentCheck(parent, stopper);

  const { onTick, inventory } = tickHook({
    log,
    intervalMs,
    starting,
    stopping: () => stopper.stopping !== undefined,
    procRoot: config.proc_root,
    checkParent,
    checkInstallation: () => void checkInstallation(log, signal),
    lowerPriority,
    inventory: () => gatherInventory(config.gpu.enabled !== false, groupsSignal, log, inventorySource(config)),
    writers,
    sampler,
  });

  // A failure of the loop itself (a write error stdout gives that is not a closed
  // reader: ENOSPC or EDQUOT when stdout is a file) takes the normal stop, so that the
  // log says why and the child elims are ended, and then exits 1.
  let failed = false;
  const reason = await runElim({
    sampler,
    rankers,
    out: fdSink(1),
    log,
    clock,
    signal,
    ...loopSettings(config, intervalMs, fastInterval !== undefined),
    onTick,
    ...(config.elims.length === 0 ? {} : { extraValues: () => stopper.children?.groups() ?? [] }),
  }).catch((err: unknown) => {
    failed = true;
    log.fatal({ err: errorMessage(err) }, 'the report loop failed; stopping');
    return 'the report loop failed';
  });
  stopper.ended(reason);
  await settleStop({ sampler, children: stopper.children, inventory: inventory(), writers, clock });
  log.info({ reason: stopper.stopping }, 'lavarank stopped');
  await logging.close(300);
  return stopper.forcedCode ?? (failed ? 1 : 0);
}

// Whether the elim reports, and how often: not where LSF's LSF_RESOURCES names none of
// its resources (lsfAbortCode's status, said at warn), nor at an interval reportInterval
// refuses (status 1, said at fatal and to complain); a test interval is warned of.
export function reportSchedule(
  config: Pick<Config, 'resource' | 'typed_ranks' | 'interval'>,
  env: NodeJS.ProcessEnv,
  fastInterval: number | undefined,
  interactive: boolean,
  log: Pick<Logger, 'warn' | 'fatal'>,
  complain: (text: string) => void,
): { ok: true; intervalMs: number } | { ok: false; code: number } {
  const abort = lsfAbortCode([config.resource, ...(config.typed_ranks ? typedRankNames(config.resource) : []), TRIGGER_RESOURCE], env);
  if (abort !== undefined) {
    log.warn(abort.why);
    return { ok: false, code: abort.code };
  }
  const interval = reportInterval(config.interval, fastInterval, interactive);
  if (!interval.ok) {
    log.fatal(interval.why);
    complain(`lavarank: ${interval.why}`);
    return { ok: false, code: 1 };
  }
  if (fastInterval !== undefined) log.warn({ seconds: fastInterval }, 'test interval in use: not for LIM, which reads one report per 5 s');
  return { ok: true, intervalMs: interval.intervalMs };
}

// The check, at each report, that LIM (parent) is still the elim's parent: stops the
// elim once it is not, unless a stop is under way. ppid is process.ppid's but in tests.
// LIM killed (SIGKILL) sends nothing, and its pipe may be held open by others: the
// parent is checked at each report (as the write would fail with EPIPE on a pipe
// LIM took with it). Not in between: a wakeup of an idle Node process costs about
// as much CPU as a whole report, so the elim wakes once per report and may outlive
// LIM by up to one interval and the time to stop.
export function parentCheck(parent: number, stopper: Pick<Stopper, 'stopping' | 'stop'>, ppid: () => number = () => process.ppid): () => void {
  return () => {
    if (stopper.stopping === undefined && ppid() !== parent) stopper.stop(`parent process ${parent} is gone (LIM killed?)`);
  };
}

// The first report's work (runDaemon's tick hook): its line logged, the installation's
// check, the priority lowered (and the child elims started) and the host inventory,
// unless the elim is stopping, and the word on a kernel without PSI. Returns the
// inventory under way, for the stop to wait for.
// The walk of the installed tree (a few thousand lstat calls, 70-80 ms of CPU
// cold) after the report, so that it never delays it, and still at LIM's
// priority: at nice 10 on a node whose CPUs all run jobs it held the event loop,
// and a SIGTERM with it, for 5-8 s. SETTLE_AT collects what it leaves. Neither
// once stopping: the walk would only delay the exit; nor the inventory, a Node
// process of its own, which would be started only to be killed at once, and logged
// as failed, when LIM died while the elim was starting.
export function afterFirstReport(
  tick: Pick<Tick, 'line' | 'state' | 'sample'>,
  parts: { log: Pick<Logger, 'info' | 'warn'>; stopping: boolean; procRoot: string; checkInstallation(): void; lowerPriority(): void; inventory(): Promise<void> },
): Promise<void> | undefined {
  const { log } = parts;
  log.info({ line: tick.line.trim(), state: tick.state }, 'first report written');
  let inventory: Promise<void> | undefined;
  if (!parts.stopping) {
    parts.checkInstallation();
    parts.lowerPriority();
    inventory = parts.inventory();
  }
  const noPsi = noPsiWarning(tick.sample, parts.procRoot);
  if (noPsi !== undefined) log.warn(noPsi);
  return inventory;
}

// Start-up leaves garbage in the old generation (the config and model parsed, the
// inventory's output), which, with V8's memory reducer off (node-flags.ts), stays
// resident until the old generation fills, hours later if ever: full collections at
// the SETTLE_AT-th report give it back, about 2-3 MB of a 50 MB budget. Not sooner:
// run as the inventory came in, they gave back nothing.
function settleStartupHeap(log: Pick<Logger, 'info'>): void {
  const settled = collectGarbage();
  if (settled !== undefined) log.info({ rssBefore: settled.rssBefore, rssAfter: settled.rssAfter }, 'start-up garbage collected');
}

// What the report loop's tick hook acts on.
interface TickParts {
  log: Logger;
  intervalMs: number;
  starting: Pick<Starting, 'done'>;
  stopping(): boolean;
  procRoot: string;
  checkParent(): void;
  checkInstallation(): void;
  lowerPriority(): void;
  inventory(): Promise<void>;
  writers: Pick<Writers, 'report' | 'historyStats'>;
  sampler: Pick<Sampler, 'stats'>;
}

// The report loop's tick hook: LIM still the parent, the heap settled at SETTLE_AT, the
// first report's work, the writers and the hourly summary; and the inventory under way
// (undefined before the first report), which the stop waits for.
function tickHook(parts: TickParts): { onTick: (tick: Tick) => void; inventory: () => Promise<void> | undefined } {
  const { log, sampler, writers } = parts;
  const summarize = hourlySummary(parts.intervalMs, log, () => {
    const mem = process.memoryUsage();
    return { collectors: sampler.stats(), history: writers.historyStats(), rssBytes: mem.rss, heapUsedBytes: mem.heapUsed, cpu: process.cpuUsage() };
  });
  let inventory: Promise<void> | undefined;
  const onTick = (tick: Tick): void => {
    parts.checkParent();
    if (tick.seq === SETTLE_AT) settleStartupHeap(log);
    if (tick.seq === 1) {
      parts.starting.done();
      inventory = afterFirstReport(tick, {
        log,
        stopping: parts.stopping(),
        procRoot: parts.procRoot,
        checkInstallation: parts.checkInstallation,
        lowerPriority: parts.lowerPriority,
        inventory: parts.inventory,
      });
    }
    writers.report(tick, sampler.stats);
    summarize(tick);
  };
  return { onTick, inventory: () => inventory };
}

// Gathers the host inventory (hostInventory by default) and logs it; a failure is
// logged too, as a warning, or, where the elim's own stop (LIM's SIGTERM, LIM gone, a
// forced exit: groupsSignal) ended it while still gathering, as in an elim's first
// seconds, as nothing failed. Never rejects.
export function gatherInventory(gpus: boolean, groupsSignal: AbortSignal, log: Pick<Logger, 'info' | 'warn'>, inventory: (gpus: boolean, signal: AbortSignal) => Promise<unknown> = hostInventory): Promise<void> {
  return inventory(gpus, groupsSignal)
    .then((inv) => log.info({ inventory: inv }, 'host inventory'))
    .catch((err: unknown) => {
      if (groupsSignal.aborted) log.info('host inventory not gathered: the elim is stopping');
      else log.warn({ err: errorMessage(err) }, 'host inventory failed');
    });
}

// Starts the child elims (start) once lsf.shared's String resources are read, unless the
// elim is stopping by then, and sets them on the stopper; none without textNames (no
// child elims configured).
// Started once SIGTERM is handled: before that, the signal's default action would
// end lavarank and leave the children, in process groups of their own, running.
// A read still out is said, or the child elims' resources stayed unknown without a
// word in the log.
export function startChildrenOnceRead(textNames: TextNames | undefined, stopper: Pick<Stopper, 'stopping' | 'children'>, log: Pick<Logger, 'warn'>, start: (names: ReadonlySet<string>) => NonNullable<Stopper['children']>): void {
  if (textNames === undefined) return;
  if (!textNames.isRead()) log.warn(`the child elims wait for lsf.shared, whose read has not returned at the first report (a file system that does not answer?); they start once it does`);
  void textNames.names.then((names) => {
    if (stopper.stopping === undefined) stopper.children = start(names);
  });
}

// Where the elim's host inventory comes from: with gpu.enabled false, /proc, /sys and
// os-release read in process (collectLocalInventory), so that an elim that runs no GPU
// query starts no program at all and never loads node:child_process (util/exec.ts);
// likewise with auto (the default) on a host whose PCI bus holds no NVIDIA display
// controller, as most compute nodes' does not; else `lavarank inventory` (hostInventory),
// whose systeminformation finds the GPUs through lspci, and the elim loads child_process
// for nvidia-smi anyway. inventory: the out-of-process one (a parameter for tests).
export function inventorySource(
  config: Pick<Config, 'gpu' | 'proc_root' | 'sys_root'>,
  inventory: (gpus: boolean, signal: AbortSignal) => Promise<unknown> = hostInventory,
): (gpus: boolean, signal: AbortSignal) => Promise<unknown> {
  const local = (gpusWhy?: string): Promise<unknown> => collectLocalInventory({ procRoot: config.proc_root, sysRoot: config.sys_root, ...(gpusWhy === undefined ? {} : { gpusWhy }) });
  if (config.gpu.enabled === false) return () => local();
  if (config.gpu.enabled === true) return inventory;
  return async (gpus, signal) => {
    const release = holdExit(); // a sysfs read that never returns would hold the stopped elim's exit
    let nvidia: boolean | undefined;
    try {
      nvidia = await nvidiaOnPciBus(config.sys_root);
    } finally {
      release();
    }
    if (nvidia === false) return local(`not gathered: no NVIDIA display controller in ${join(config.sys_root, 'bus/pci/devices')} (gpu.enabled is auto)`);
    return inventory(gpus, signal);
  };
}

// The host inventory from `lavarank inventory`, run out of process (see src/commands/inventory.ts);
// killed with everything it started after 15 s or when signal aborts; without the GPUs
// (nvidia-smi) when gpus is false.
// Its PATH is LIM's without the directories another user can change, found in libuv's
// pool (absolutePathAsync); the inventory drops the same ones again, walking root's alone.
export async function hostInventory(gpus: boolean, signal?: AbortSignal): Promise<unknown> {
  const cli = fileURLToPath(new URL('../cli.js', import.meta.url));
  const release = holdExit(); // a question that never returns would hold the stopped elim's exit
  let path: string;
  try {
    path = await absolutePathAsync(process.env['PATH'], signal);
  } finally {
    release();
  }
  const env = { ...process.env, PATH: path };
  const result = await runIsolated(process.execPath, [...CHILD_NODE_FLAGS, cli, 'inventory', ...(gpus ? [] : ['--no-gpus'])], { timeoutMs: 15_000, env, ...(signal === undefined ? {} : { signal }) });
  if (result.failed) throw new Error(result.reason ?? 'lavarank inventory failed');
  return JSON.parse(result.stdout) as unknown;
}

function childSpec(elim: ChildElimConfig): ChildElimSpec {
  const spec: ChildElimSpec = { command: [...elim.command] };
  if (elim.name !== null) spec.name = elim.name;
  if (elim.max_age !== null) spec.max_age = elim.max_age;
  if (elim.stale_value !== null) spec.stale_value = elim.stale_value;
  return spec;
}

// LIM's environment completed from lsf.conf, and where the config is (readEnvironment).
export interface StartEnvironment {
  env: NodeJS.ProcessEnv; // LIM's, with LSF_LOGDIR from lsf.conf where LIM did not pass it
  confRefusal: string | undefined; // why lsf.conf was not read, for the log
  logdirFrom: string | undefined; // the lsf.conf LSF_LOGDIR came from
  source: ConfigSource; // the config file, its path absolute, or the built-in defaults
}

// Reads LSF_LOGDIR from lsf.conf where processEnv lacks it, and finds the config
// (--config, $LAVARANK_CONFIG, $LSF_ENVDIR/lavarank.yaml), made absolute before the
// start leaves the directory LIM ran it in.
export async function readEnvironment(config: string | undefined, processEnv: NodeJS.ProcessEnv, starting: Pick<Starting, 'step'>): Promise<StartEnvironment> {
  const { env, refusal, from } = await starting.step('reading lsf.conf', lsfLogdirAsync(processEnv));
  const found = await starting.step('looking for the config', findConfigAsync(config, env, isPresentAsync));
  const source = found.path === null || found.path === '' ? found : { ...found, path: resolve(found.path) };
  return { env, confRefusal: refusal, logdirFrom: from, source };
}

// Logs the start: the version, LIM's pid, the config and why that one, LSF's resources;
// then why lsf.conf was refused, and what is wrong with LSF_ENVDIR and LSF_LOGDIR,
// which are warnings only, so looked at beside the start, as the log's location is:
// LSF_LOGDIR may be a user's mount whose server holds the look for good (see
// setupLoggingBeside). Resolves once that look has returned.
export function announceStart(log: Pick<Logger, 'info' | 'warn'>, facts: { parent: number; env: NodeJS.ProcessEnv; source: ConfigSource; confRefusal: string | undefined }): Promise<void> {
  const { env, source } = facts;
  log.info(
    {
      version: VERSION,
      ppid: process.ppid,
      parent: facts.parent,
      node: process.version,
      config: source.path ?? 'built-in defaults',
      configWhy: source.why,
      lsfResources: env['LSF_RESOURCES'],
      lsfMaster: env['LSF_MASTER'],
    },
    'lavarank starting',
  );
  const lookedAtEnv = holdExit();
  const looked = lsfEnvProblemsAsync(env)
    .then(
      (problems) => problems.forEach((problem) => log.warn(problem)),
      (err: unknown) => log.warn({ err: errorMessage(err) }, 'LSF_ENVDIR and LSF_LOGDIR could not be looked at'),
    )
    .finally(lookedAtEnv);
  if (facts.confRefusal !== undefined) log.warn(facts.confRefusal);
  return looked;
}

// What an administrator running the elim by hand (`$LSF_SERVERDIR/elim`, which says
// `run`) with history on is told, on the terminal and in the log: neither variable LIM
// gives its elim is set (the rule of cli.ts's startedByLim), so its samples would go
// into the history LIM's elim on this host writes, which retraining reads.
export function handRunNote(env: NodeJS.ProcessEnv, historyOn: boolean): string | undefined {
  if (!historyOn || env['LSF_RESOURCES'] !== undefined || env['LS_ELIM_RESOURCES'] !== undefined) return undefined;
  return "not started by LIM (neither LSF_RESOURCES nor LS_ELIM_RESOURCES is set): a run by hand; its samples go into this host's history beside those of LIM's elim: stop it and run it again with --no-history to test it";
}

// Why this elim must not run, when lavarank started it as one of its own child elims
// (PARENT_ENV set), listed under some path the check at start did not recognise:
// running would start the same children again, without end.
export function insideItself(env: NodeJS.ProcessEnv): string | undefined {
  const parentElim = env[PARENT_ENV];
  if (parentElim === undefined || parentElim === '') return undefined;
  return `started by lavarank (pid ${parentElim}) as a child elim (${PARENT_ENV} is set); refusing to run inside itself: remove lavarank from elims:`;
}

// The config and the test interval the start runs with, or why it cannot start.
export type ConfigRead =
  | { ok: true; config: Readonly<Config>; fastInterval: number | undefined }
  | { ok: false; what: 'invalid command line' | 'invalid configuration'; problems: readonly string[]; code: number };

// Reads the config source names and the test interval (--test-interval, else
// $LAVARANK_TEST_INTERVAL in env); a problem with either, or the command line's, is
// returned, not thrown, with the exit status it gives.
export async function readConfig(args: DaemonArgs, source: ConfigSource, env: NodeJS.ProcessEnv, starting: Pick<Starting, 'step'>): Promise<ConfigRead> {
  try {
    if (args.commandLineProblem !== undefined) throw new UsageError(args.commandLineProblem);
    const config = await starting.step('reading the config', loadConfigAsync(source));
    return { ok: true, config, fastInterval: testInterval(args.testInterval, env) };
  } catch (err) {
    const problems = err instanceof ConfigError ? err.problems : [errorMessage(err)];
    if (err instanceof UsageError) return { ok: false, what: 'invalid command line', problems, code: 2 }; // the README's rule: 2 for a bad command line
    return { ok: false, what: 'invalid configuration', problems, code: 1 };
  }
}

// The time between reports in ms: the test interval's when there is one, else the
// config's, or why LIM cannot use the config's (under MIN_LIM_INTERVAL, not on a terminal).
export function reportInterval(configSeconds: number, testSeconds: number | undefined, interactive: boolean): { ok: true; intervalMs: number } | { ok: false; why: string } {
  if (testSeconds !== undefined) return { ok: true, intervalMs: testSeconds * 1000 };
  if (!interactive && configSeconds < MIN_LIM_INTERVAL) {
    return { ok: false, why: `interval ${configSeconds} s is under ${MIN_LIM_INTERVAL} s: LIM reads one report per 5 s, so faster reports pile up in the pipe and LIM shows ever older values; set interval to 10` };
  }
  return { ok: true, intervalMs: configSeconds * 1000 };
}

// How long the start may take, to its first report, before the process ends itself: a
// file system question that never returns (a server that answers nothing, not even
// libuv's pool) would otherwise leave it silent for good, and LIM never restarts an
// elim that is alive. LIM starts it again no sooner than 90 s after this start, so any
// deadline under that restarts it as soon; 60 s leaves a slow start (a loaded node,
// an NFS server slow to answer) thirty times the 2 s a start takes.
export const STARTUP_DEADLINE_MS = 60_000;

// The model's rankers, or, where the model cannot be loaded, the exit status once the
// reason is logged and told to a terminal.
async function loadRankers(config: Config, signal: AbortSignal, starting: Starting, logging: PendingLog, complain: (text: string) => void): Promise<ModelRankers | number> {
  try {
    return await starting.step('loading the model', openRankersAsync(config, logging.log, { signal }));
  } catch (err) {
    const why = err instanceof ModelError ? err.message : errorMessage(err);
    // Written at once, the log's location chosen: on a busy host the bounded close below can end before a queued line is written.
    await starting.step('opening the log', logging.ready);
    logging.fatalNow(`cannot start: ${why}`, err);
    complain(`lavarank: cannot start: ${why}`);
    return await closedLog(starting, logging, 1);
  }
}

// A start that ends before its first report waits for its log's location, as long as
// the start-up deadline allows, so that its last lines are not left in memory; then code.
async function closedLog(starting: Starting, setup: PendingLog, code: number): Promise<number> {
  await starting.step('opening the log', setup.ready);
  await setup.close(300);
  return code;
}

// The log configuration of a start that has no config to take one from.
const DEFAULT_LOG_CONFIG = { file: null, level: 'info', max_bytes: 10 * 1024 * 1024, keep: 3 } as const;

// The start's steps, raced against its deadline (see STARTUP_DEADLINE_MS).
interface Starting {
  step<T>(what: string, work: Promise<T>): Promise<T>; // names the step under way, for the deadline's line
  logTo(setup: PendingLog): PendingLog; // the log being set up, where the deadline's line goes once chosen
  environment(env: NodeJS.ProcessEnv, logdirFrom: string | undefined): void; // LSF_LOGDIR as lsf.conf gave it, for the defaults' log
  done(): void; // the first report is out, or the start ended: no deadline
}

// The start's deadline: once past it, one line in the log (else where the defaults
// would log, given 2 s to open) names the step under way, and the process ends by
// SIGKILL, since Node's exit would wait for the pool's question that never returns;
// stdout's pipe closed first (killNow), since a question a user's FUSE server read and
// never answers outlives SIGKILL, and LIM, waiting for a zombie that held its pipe,
// never restarted the elim.
function startupDeadline(ms: number, host: string): Starting {
  let what = 'starting';
  let logging: PendingLog | undefined;
  let defaults: { env?: NodeJS.ProcessEnv; logdirFrom?: string | undefined } = {};
  const timer = setTimeout(() => void expire(), ms);
  const expire = async (): Promise<void> => {
    const why = `start-up did not finish within ${ms / 1000} s: ${what} has not returned (a file system that does not answer?); exiting, for LIM to start the elim again`;
    setTimeout(killNow, 2000).unref();
    // A log whose location is still checked writes the line, with the records it kept,
    // where the next location by its rules opens (setupLoggingBeside): those records were lost.
    // Held before the config gave one, the defaults' log, set up beside as well: set up
    // whole, a $LSF_LOGDIR on the file system that held the start held the line too, and
    // the elim ended every 90 s with no word anywhere (2026-12-07, hostile23).
    logging ??= setupLoggingBeside(DEFAULT_LOG_CONFIG, { host, ...defaults });
    if (!logging.isReady()) await logging.fatalLast(why, what, 1800);
    else logging.fatalNow(why, what);
    killNow();
  };
  return {
    step(name, work) {
      what = name;
      return work;
    },
    logTo(setup) {
      logging ??= setup;
      return setup;
    },
    environment(env, logdirFrom) {
      defaults = { env, logdirFrom };
    },
    done: () => clearTimeout(timer),
  };
}

// How long the stop waits for the metrics' and history's directory checks still out
// before it gives them up, within its 1.5 s race: the history's last lines then have
// their 300 ms.
const STOP_CHECKS_MS = 1000;

// The rates of the first report are measured over this long: the first report is due
// within 2 s of the start, and on a loaded node Node and the modules take one to load.
const FIRST_REPORT_MS = 500;

// The report at which start-up's garbage is collected (see settleStartupHeap): 20 s in at the 10 s interval.
const SETTLE_AT = 3;

// History records kept while the check of the history's directory is out: the newest
// ten minutes at the 10 s interval; older ones are dropped and counted.
const HISTORY_WAITING = 60;

// What the first report's sample says of a kernel without PSI, or undefined where it has
// PSI, or where its read failed (that failure is reported as such). RHEL 8 and 9 build
// PSI in and boot with it off: said once, where the administrator looks.
export function noPsiWarning(sample: Pick<Sample, 'pressure' | 'failures'> | undefined, procRoot: string): string | undefined {
  if (sample === undefined || sample.pressure !== undefined || sample.failures.pressure !== undefined) return undefined;
  return `no PSI (${join(procRoot, 'pressure')} missing or off): the rank estimates CPU, memory and io stall from other inputs, less accurately; where the kernel has PSI built in but off (RHEL 8 and 9), boot with psi=1`;
}

// The elim's priority (elimPriority).
export interface ElimPriority {
  lower(): void; // every thread to the config's nice, said in the log
  back(): void; // every thread back to the nice lower() found, for a stop; nothing before lower()
}

// The start (Node's modules, the model, the first sample) runs at LIM's priority,
// nice -20: at nice 10 on a node whose every CPU runs a job it got a tenth of a CPU
// and the first report came seconds late, so the priority is lowered after it. It is
// put back for the last steps of a stop: at nice 10 on such a node the elim's few ms of
// shutdown work stretched past LIM's 2 s, and past the 300 ms its last history lines
// are given. It never raises the priority: a LIM its administrator started at nice 19
// gave its elim 19, and as root the elim could otherwise move itself to 10, ahead of
// what they chose. renice is reniceProcess and current getPriority(0) but in tests.
export function elimPriority(nice: number, log: Pick<Logger, 'info' | 'warn'>, renice: (nice: number) => ReniceResult = reniceProcess, current: () => number = () => getPriority(0)): ElimPriority {
  let lowered: ReniceResult | undefined;
  return {
    lower() {
      const started = current();
      if (started >= nice) {
        log.info(`nice stays at ${started}, the one LIM gave: the configured nice ${nice} ${started > nice ? 'would raise the priority' : 'is that already'}`);
        return;
      }
      lowered = renice(nice);
      if (lowered.errors.length > 0) log.warn({ errors: lowered.errors }, `could not set nice ${nice} on every thread`);
      log.info({ threads: lowered.threads }, `nice changed from ${lowered.before} to ${lowered.after}`);
    },
    back() {
      if (lowered === undefined || lowered.before >= lowered.after) return;
      const back = renice(lowered.before);
      // Info, not a warning: without root (a run by hand) raising the priority is refused, as it should be.
      if (back.errors.length > 0) log.info({ errors: back.errors }, `could not set nice ${lowered.before} back on every thread to stop in time`);
      else log.info(`nice changed back from ${back.before} to ${back.after} to stop in time`);
    },
  };
}

// The String resources of lsf.shared, being read (readTextNames).
export interface TextNames {
  names: Promise<ReadonlySet<string>>; // none where lsf.shared could not be read, which is logged
  isRead(): boolean; // whether the read has returned
}

// The String resources of lsf.shared, whose values child elims report as text: read
// beside the start, as only the child elims, started after the first report, need them
// (lsf.shared's directory may be a user's mount whose server holds the read for good).
// What was found, or why nothing was, is logged.
export function readTextNames(env: NodeJS.ProcessEnv, log: Logger, read: (env: NodeJS.ProcessEnv) => Promise<{ names: Set<string>; problem?: string }> = sharedTextResources): TextNames {
  let done = false;
  const readShared = holdExit();
  const names = read(env)
    .then(
      (shared) => {
        if (shared.problem !== undefined) log.warn(shared.problem);
        else if (shared.names.size > 0) log.info({ names: [...shared.names] }, "String and dynamic Boolean resources in lsf.shared: child elims' values for them are passed on as text");
        return shared.names;
      },
      (err: unknown) => {
        log.warn({ err: errorMessage(err) }, "child elims' String resources are dropped: lsf.shared could not be read");
        return new Set<string>();
      },
    )
    .finally(() => {
      done = true;
      readShared();
    });
  return { names, isRead: () => done };
}

// The stop's last steps once the report loop has ended: the collectors closed, then the
// child elims, the host inventory and the writers waited for, STOP_SETTLE_MS at most, so
// that the log's last lines and the exit still come within LIM's 2 s.
export async function settleStop(parts: {
  sampler: { close(): void };
  children: { close(): Promise<unknown> } | undefined;
  inventory: Promise<unknown> | undefined;
  writers: Pick<Writers, 'settle'> | undefined;
  clock: Clock;
}): Promise<void> {
  parts.sampler.close();
  const pending: Array<Promise<unknown>> = [];
  if (parts.children !== undefined) pending.push(parts.children.close());
  if (parts.inventory !== undefined) pending.push(parts.inventory);
  if (parts.writers !== undefined) pending.push(parts.writers.settle(parts.clock));
  await Promise.race([Promise.allSettled(pending), parts.clock.sleep(STOP_SETTLE_MS)]);
}

// How long the stop waits for the child elims, the inventory and the writers.
const STOP_SETTLE_MS = 1500;

// The history and metrics writers of a running elim (openWriters).
export interface Writers {
  // Keeps the report's history record, written HISTORY_HOLD at a time, and updates the
  // metrics file with the collectors' stats (asked only when there is one).
  report(tick: Tick, stats: () => Partial<Record<CollectorName, CollectorStats>>): void;
  // The history file's counts for the hourly summary, while it is open.
  historyStats(): RotatingAppender['stats'] | undefined;
  // What a crash waits for: the held records written, and both files closed.
  lastWrites(): Array<Promise<unknown> | undefined>;
  // A forced exit's: the history's writes given up.
  abortHistory(): void;
  // The stop's: the directory checks still out waited for STOP_CHECKS_MS, then given up
  // and what that lost said; the held records written and both files closed.
  settle(clock: Clock): Promise<void>;
}

// How many metrics writes apart the log's file system is asked whether it is full: once
// a minute at the default 10 s interval, no cost a report can show (count-report).
const SPACE_PROBE_REPORTS = 6;

// Whether the log file's writes fail now, its file system asked whether it is full at
// every SPACE_PROBE_REPORTS-th call (the metrics write's): the log at level info writes
// about once an hour, and its gauge read 0 on a full disk until then (admin74's walk).
export function logFailingProbed(appender: () => RotatingAppender | undefined): () => boolean | undefined {
  let calls = 0;
  return () => {
    const a = appender();
    if (a !== undefined && calls++ % SPACE_PROBE_REPORTS === 0) a.probeSpace();
    return a?.isFailing;
  };
}

// The history and metrics writers, their directories checked beside the reports.
// The metrics file's and the history's directories are looked at beside the reports,
// not before the first: each may be a name still to be made below a sticky directory
// (/tmp, emptied at boot), where a user can put a FUSE mount of theirs whose server
// reads each request and answers none. The thread that asked then waits even through
// SIGKILL, so the start-up deadline's kill left a zombie holding LIM's pipe: never
// reaped, never restarted, no rank for as long as the server ran (a hostile-user audit,
// 2026-12-06). Until a check returns, its writer is off (the last 60 history records kept).
// logFailing: whether the log file's writes fail now (undefined where the log is no file).
export function openWriters(config: Readonly<Config>, opts: { noHistory: boolean; host: string; env: NodeJS.ProcessEnv; log: Logger; logFailing?: () => boolean | undefined }): Writers {
  const { host, env, log } = opts;
  let metrics: MetricsWriter | undefined;
  let history: RotatingAppender | undefined;
  const released = holdExit(); // a check that never returns would hold the stopped elim's exit
  // Records are made while the history's check is out or its file open: not for a history found off.
  let historyOpening = !opts.noHistory && config.history.enabled;
  let metricsOpening = config.metrics.textfile !== null;
  // Aborted when the stop gives up a check still out (see STOP_CHECKS_MS): each walk then
  // stops at its next question, and what it finds after is not used.
  const checksEnd = new AbortController();
  const opened = Promise.all([
    openMetrics(config, log, checksEnd.signal).then(
      (writer) => {
        if (!checksEnd.signal.aborted) metrics = writer;
      },
      (err: unknown) => {
        if (!checksEnd.signal.aborted) log.error({ err: errorMessage(err) }, 'metrics off: the check of its directory failed');
      },
    ).finally(() => (metricsOpening = false)),
    opts.noHistory
      ? undefined
      : openHistory(config, host, env, log, checksEnd.signal).then(
          (appender) => {
            if (checksEnd.signal.aborted) appender?.abort();
            else history = appender;
          },
          (err: unknown) => {
            if (!checksEnd.signal.aborted) log.error({ err: errorMessage(err) }, 'history off: the check of its directory failed');
          },
        ).finally(() => (historyOpening = false)),
  ]).finally(released);
  if (opts.noHistory) log.info('history off (--no-history)');
  else if (!config.history.enabled) log.info('history off (history.enabled: false)');

  // History records are written six at a time (a minute at the 10 s interval), and
  // on stop: the elim's code runs cold, once per report, and serialising and
  // writing a batch costs little more than one record. A SIGKILL loses at most five.
  const heldHistory: HistoryRecord[] = [];
  let heldDropped = 0; // records dropped while the check was out: counted in the log, as the appender's are
  const writeHistory = (): void => {
    // While the directory's check is out, the newest records wait (ten minutes at the 10 s interval).
    if (history === undefined && historyOpening) {
      const over = heldHistory.length - HISTORY_WAITING;
      if (over <= 0) return;
      if (heldDropped === 0) log.warn(`history: the check of its directory has not returned after ${HISTORY_WAITING} records; keeping the newest ${HISTORY_WAITING} and dropping the older ones until it does`);
      heldDropped += over;
      heldHistory.splice(0, over);
      return;
    }
    if (heldDropped > 0 && history !== undefined) log.warn(`history: its directory's check has returned; ${heldDropped} records made while it was out were dropped`);
    heldDropped = 0;
    if (heldHistory.length > 0) history?.appendAll(heldHistory.map((record) => JSON.stringify(record)));
    heldHistory.length = 0;
  };

  // The records held meanwhile, and those dropped before them, were lost without a word (a
  // hostile-user audit, 2026-12-06): said, as the appender says its own, with the metrics
  // file's check, in one line.
  const giveUpChecks = (): void => {
    const lost = historyOpening ? heldHistory.length + heldDropped : 0;
    const what = [...(historyOpening ? [`${lost} history records could not be written and are lost`] : []), ...(metricsOpening ? ['no metrics file was written'] : [])];
    const dirs = [...(historyOpening ? ['history'] : []), ...(metricsOpening ? ['metrics'] : [])];
    checksEnd.abort();
    if (dirs.length === 0) return;
    const checks = dirs.length === 1 ? `the check of the ${dirs[0]} directory` : 'the checks of the history and metrics directories';
    log.error({ lines: lost }, `${what.join(', and ')}: ${checks} had not returned ${STOP_CHECKS_MS / 1000} s into the stop, which gives ${dirs.length === 1 ? 'it' : 'them'} up (a file system that does not answer?); a question still held in libuv's pool ends the exit by SIGKILL`);
  };

  return {
    report(tick, stats) {
      if ((history !== undefined || historyOpening) && tick.result !== undefined && tick.state === 'ok') {
        heldHistory.push(historyRecord(tick.ts, host, tick.result));
        if (heldHistory.length >= HISTORY_HOLD) writeHistory();
      }
      if (metrics === undefined) return;
      const logFailing = opts.logFailing?.();
      metrics.update(tick, stats(), { ...(logFailing === undefined ? {} : { log: logFailing }), ...(history === undefined ? {} : { history: history.isFailing }) });
    },
    historyStats: () => history?.stats,
    lastWrites() {
      if (history !== undefined) writeHistory();
      return [history?.close(300), metrics?.close(300)];
    },
    abortHistory: () => history?.abort(),
    // A check still under way gives its writer late, if ever: waited for STOP_CHECKS_MS, then
    // given up. A user's server that reads its question and never answers (their FUSE mount
    // at a history.dir still to be made below /tmp) held the stop to its whole race, and a
    // walk that was only slow went on after it, so that the exit's wait for the pool ended
    // by SIGKILL, not status 0.
    // The other's writer, whose check did return, is closed as usual: a metrics check given
    // up had the history's held records (up to a batch) lost without a word.
    async settle(clock) {
      const checked = await Promise.race([opened.then(() => true), clock.sleep(STOP_CHECKS_MS).then(() => false)]);
      if (!checked) giveUpChecks();
      writeHistory();
      await Promise.allSettled([history?.close(300), metrics?.close(300)]);
    },
  };
}

// Logs, once, every file of the running installation that a user other than root can
// change (lavarank check and install refuse them too): Node loads the program's
// modules from that tree, so such a file runs its owner's code as root at the next
// start. The daemon goes on: it is already running what it loaded. Its questions wait
// in libuv's pool, beside the reports (a user's FUSE mount in a sticky directory of
// the tree, whose server answers only the pool, held them and SIGTERM in the walk);
// counted for the exit's wait, and a stop (signal) ends the walk at its next question.
async function checkInstallation(log: Logger, signal: AbortSignal): Promise<void> {
  const released = holdExit();
  try {
    const root = await packageRootOfAsync(fileURLToPath(import.meta.url), signal);
    if (root === undefined) return;
    const problems = await treeProblemsAsync(root, 'lavarank installation', {}, signal);
    if (problems.length > 0) log.error({ problems }, `the lavarank installation ${root} can be changed by users other than root, who could then run their code as root; make it root's: chown -R root ${root} && chmod -R go-w ${root}`);
  } catch (err) {
    if (!signal.aborted) log.error({ err: errorMessage(err) }, 'the check of the lavarank installation failed');
  } finally {
    released();
  }
}

// The metrics writer, unless metrics.textfile is unset or in a directory another
// user can change (root creates a file there and renames it over the old one).
async function openMetrics(config: Readonly<Config>, log: Logger, signal: AbortSignal): Promise<MetricsWriter | undefined> {
  const path = config.metrics.textfile;
  if (path === null) return undefined;
  // /etc/group read once, not at every report's check.
  const group = { logGroup: syslogGid() };
  const problemsOf = (dir: string): string[] => metricsDirectoryProblems(dir, group);
  const problemsOfAsync = (dir: string, signal?: AbortSignal): Promise<string[]> => metricsDirectoryProblemsAsync(dir, group, signal);
  const problems = await problemsOfAsync(dirname(path), signal);
  if (problems.length > 0) {
    log.error({ problems }, `metrics off: ${problems.join('; ')}`);
    return undefined;
  }
  log.info({ path }, 'metrics file (Prometheus text format, each tick)');
  return new MetricsWriter({ path, resource: config.resource, version: VERSION, log, directoryProblems: problemsOf, directoryProblemsAsync: problemsOfAsync, ...(group.logGroup === undefined ? {} : { logGroup: group.logGroup }) });
}

async function openHistory(config: Readonly<Config>, host: string, env: NodeJS.ProcessEnv, log: Logger, signal: AbortSignal): Promise<RotatingAppender | undefined> {
  if (!config.history.enabled) return undefined;
  const { dir, skipped, problems } = await historyLocation(config.history.dir, env, undefined, (d) => historyDirectoryProblemsAsync(d, signal));
  if (skipped !== undefined) log.warn(`history location skipped: ${skipped}`);
  // Root creates, appends to and renames files here, and retrain learns from them.
  if (problems.length > 0) {
    log.error({ problems }, `history off: ${problems.join('; ')}`);
    return undefined;
  }
  const path = join(dir, `${host}.jsonl`);
  log.info({ path }, 'history file');
  const appender = new RotatingAppender({
    path,
    maxBytes: config.history.max_bytes,
    keep: config.history.keep,
    directoryProblems: historyDirectoryProblems,
    directoryProblemsAsync: historyDirectoryProblemsAsync,
    onTrouble: (event) => {
      if (event.state === 'failing') log.error({ path, err: errorMessage(event.error) }, 'cannot write history; reports continue, retrying later');
      else if (event.state === 'dropping') log.warn({ path }, 'history lines queued past the 1 MiB bound; dropping the oldest until the file can be written');
      // At stop, after one last try: every line that never reached the file is said.
      else if (event.state === 'lost') log.error({ path, lines: event.lines }, `${event.lines} history lines could not be written and are lost`);
      else log.info({ path, dropped: event.dropped }, `history writable again; ${event.dropped} lines were lost`);
    },
  });
  // The file readied now, not at the first batch (six reports in), which a stop before
  // then would have to ready in the 300 ms it gives its last lines.
  appender.ready();
  return appender;
}
