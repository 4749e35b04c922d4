// `lavarank check`: validates the configuration and everything it names (model,
// child elims, log and history locations, the GPU query) and, given $LSF_ENVDIR or --lsf-envdir,
// the OpenLava side (src/lsf/check.ts). Prints the problems first, most serious
// first, then the effective configuration; exits 1 on a critical problem or an
// error, 0 when there are none (warnings alone do not fail).
import { readFileSync, type Stats } from 'node:fs';
import { lstat } from 'node:fs/promises';
import { cpuRanges, parseCpuList, parseCpuNumbers, readCores } from '../collectors/cpulist.js';
import { SMT_YIELD } from '../model/backbone.js';
import { isPhysicalInterface, netDevNames, parseLinkSpeed } from '../collectors/network.js';
import { availableParallelism, hostname } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { EXIT_USAGE, print, printError } from '../util/cliio.js';
import { defaultConfig, findConfigAsync, loadConfigAsync, MIN_LIM_INTERVAL, type Config, type ConfigSource, type LogConfig } from '../config/config.js';
import { ConfigError, errnoReason, errorCode, errorMessage, errorReason } from '../util/errors.js';
import { parseCommandLine } from '../util/options.js';
import { findExecutableAsync } from '../util/exec.js';
import { escapedControls } from '../util/shown.js';
import { systemClock } from '../util/clock.js';
import { createGpuCollector } from '../collectors/gpu.js';
import { createCpuCollector } from '../collectors/cpu.js';
import { createLoadCollector } from '../collectors/loadavg.js';
import { createMemoryCollector } from '../collectors/memory.js';
import type { CollectorOptions } from '../collectors/types.js';
import { checkGpuProgramAsync } from '../daemon/sampler.js';
import { chooseLogTarget, type LogChoice } from '../daemon/log.js';
import { lsfEnvProblemsAsync, lsfLogdirAsync, sharedTextResources } from '../daemon/lsf-env.js';
import { childProgramAsync } from '../daemon/children.js';
import { typedRankNames } from '../daemon/elim.js';
import { describeModel, modelPathFor } from '../model/rankers.js';
import { loadModelAsync } from '../model/model.js';
import { historyLocation } from '../history/record.js';
import { checkLsf, SEVERITIES, type Finding, type LsfCheckInput, type Severity } from '../lsf/check.js';
import { checkTrustAsync } from '../util/trust.js';
import { metricsDirectoryProblemsAsync } from '../daemon/metrics.js';
import { unwritable } from '../util/appender.js';
import { fileSystemAsync, isDirectoryAsync, isPresentAsync, lowSpace, mib, rotationRoomAsync, writableProblemAsync } from '../util/paths.js';
import { recommendForCpus } from './recommend.js';
import { cpusOption, hostCpusForRank, jobCpuSet } from './jobcpus.js';

const USAGE = `Usage: lavarank check [--config FILE] [--lsf-envdir DIR] [--cluster NAME] [--queues FILE] [--lsf] [--cpus N]

Checks lavarank's configuration and what it names (model, child elims, log and
history locations and the free space of their file systems, the GPU query, which it runs once, and the files a report
needs under proc_root and sys_root, read once) and, with $LSF_ENVDIR or
--lsf-envdir, the OpenLava side as OpenLava reads it: rank declared in lsf.shared with INCREASING Y and kept out of
the ResourceMap, a dynamic resource mapped so that LIM starts the elim, a queue
with order[rank] and its reservation against "lavarank recommend --cpus N", and
the installed $LSF_SERVERDIR/elim (lavarank's wrapper, this build, Node >= 20.5).
Problems come first, most serious first, with file:line and the offending text;
then the effective configuration. Exits 1 on a critical problem or an error;
warnings alone exit 0.

  --config FILE     lavarank's configuration (default: as the elim finds it)
  --lsf-envdir DIR  the directory of lsf.conf (default: $LSF_ENVDIR); lsf.shared and
                    lsf.cluster.<cluster> are read in the LSF_CONFDIR it sets
  --cluster NAME    the cluster (default: the first lsf.shared lists, which OpenLava's LIM takes)
  --queues FILE     lsb.queues (default: $LSB_CONFDIR/lsb.queues, as OpenLava reads it,
                    else $LSB_CONFDIR/<cluster>/configdir/lsb.queues, as LSF does)
  --lsf             IBM Spectrum LSF: the installed elim is elim.rank
  --cpus N          CPUs of a typical node, for the reservation (default: this host's,
                    or the CPUs a job may use here where those are fewer, as the rank
                    counts them)`;

// This build's program, which the installed wrapper should run (dist/src/commands/check.js → dist/src/cli.js).
const PROGRAM = fileURLToPath(new URL('../cli.js', import.meta.url));

// The warnings for the daemon's rotating files whose file system has less free than
// what they may still take there (rotationRoomAsync), summed over the files on it.
async function lowSpaceProblems(writers: ReadonlyArray<{ what: string; file: string; room: number; warn: string }>): Promise<string[]> {
  const found = await Promise.all(writers.map(async (w) => ({ ...w, fs: await fileSystemAsync(w.file) })));
  const problems: string[] = [];
  for (const w of found) {
    if (w.fs === undefined) continue;
    const sharing = found.filter((o) => o.fs?.dev === w.fs?.dev);
    const room = sharing.reduce((sum, o) => sum + o.room, 0);
    const low = lowSpace(w.fs.figures, room);
    if (low === undefined) continue;
    const whose = sharing.map((o) => o.what).join(' and ');
    const their = sharing.length > 1 ? 'their' : 'its';
    problems.push(`${w.warn} ${low}, less than the ${mib(room)} ${whose} may still take there (max_bytes × (keep + 1), less what ${their} files take now); ${w.what} stops when it is full${w.what === 'the history' ? ', and retrain learns from it' : ''}`);
  }
  return problems;
}

// Why the daemon would refuse the log or history file already at path (see
// unwritable: another user's, a link, not a regular file), or undefined. Each question
// of check is asked in libuv's pool, as the daemon's start asks it: a path under a
// user's FUSE mount whose server answers the pool and never a main thread held check
// on its main thread, where SIGINT could not end it.
async function existingFileProblem(path: string): Promise<string | undefined> {
  let st: Stats;
  try {
    st = await lstat(path);
  } catch {
    return undefined; // not there yet: the daemon creates it
  }
  if (st.isSymbolicLink()) return `${path} is a symbolic link, which lavarank does not follow`;
  const why = unwritable(st);
  return why === undefined ? undefined : `${path} ${why}`;
}

// Why the daemon could not append to the log or history file at path, predicted
// without creating anything: refused when it could but will not (see unwritable).
async function predictedOpenProblem(path: string): Promise<{ why: string; refused: boolean } | undefined> {
  const cannot = await writableProblemAsync(path);
  if (cannot !== undefined) return { why: cannot, refused: false };
  const file = await existingFileProblem(path);
  return file === undefined ? undefined : { why: file, refused: true };
}

// Where the daemon would log on this host, and the locations it would pass over
// first: its own rule (chooseLogTarget), with the file's open predicted. Under LIM
// stderr is never a terminal.
export function logChoice(config: LogConfig, host: string, env: NodeJS.ProcessEnv, logdirFrom?: string): Promise<LogChoice> {
  return chooseLogTarget(config, { host, env, stderrIsTty: false, logdirFrom }, { fileProblem: predictedOpenProblem });
}

// What the rank makes of the network: the physical interfaces that are up, and those
// whose kernel gives no link speed (virtio and the like), whose load is then measured
// against network.link_speed or, without it, a learned capacity (collectors/network.ts).
export function networkNote(config: Readonly<Config>): string {
  let names: string[];
  try {
    names = netDevNames(readFileSync(join(config.proc_root, 'net/dev'), 'latin1')).filter((n) => isPhysicalInterface(n, config.sys_root));
  } catch (err) {
    return `network: ${join(config.proc_root, 'net/dev')} cannot be read: ${errorReason(err)}`;
  }
  const read = (name: string, file: string): string | undefined => {
    try {
      return readFileSync(join(config.sys_root, 'class/net', name, file), 'latin1').trim();
    } catch {
      return undefined; // EINVAL while the link is down or the driver has no speed
    }
  };
  const up = names.filter((n) => read(n, 'operstate') === 'up');
  if (up.length === 0) return 'network: no physical interface is up';
  const unknown = up.filter((n) => parseLinkSpeed(read(n, 'speed') ?? '-1') === undefined);
  if (unknown.length === 0) return `network: ${up.join(', ')} (link speeds from the kernel)`;
  if (config.network.link_speed !== null) return `network: ${up.join(', ')} (${unknown.join(', ')} taken as ${config.network.link_speed} Mb/s: network.link_speed)`;
  const one = unknown.length === 1;
  return `network: ${up.join(', ')}; ${unknown.join(', ')} report${one ? 's' : ''} no link speed, so ${one ? 'its load is' : 'their load is each'} measured against the highest rate ${one ? 'it has' : 'each has'} carried in the last hour, at least 1 Gb/s, which anyone's burst of traffic raises (set network.link_speed, Mb/s, if you know it)`;
}

// What the rank makes of PSI, from how reading /proc/pressure/cpu ended: undefined
// when it was read, else the error code. Without PSI the rank estimates stall from
// other inputs (docs/model.md), less accurately; RHEL 8 and 9 build it in but boot
// with it off, where the file is there and reading it fails with EOPNOTSUPP.
export function pressureNoteFor(path: string, code: string | undefined): string {
  if (code === undefined) return `pressure: PSI read from ${path}`;
  const estimated = 'so the rank estimates CPU, memory and io stall from other inputs, less accurately (docs/model.md)';
  if (code === 'ENOENT') {
    return `pressure: no ${path} (a kernel before 4.20, one built without CONFIG_PSI, or one booted with PSI off, which newer kernels show so), ${estimated}; where the kernel has PSI built in (grep CONFIG_PSI /boot/config-$(uname -r)), boot with psi=1`;
  }
  if (code === 'EOPNOTSUPP' || code === 'ENOTSUP') {
    return `pressure: PSI is built into this kernel but off (RHEL 8 and 9 ship it off), ${estimated}; boot with psi=1 to turn it on (grubby --update-kernel=ALL --args=psi=1)`;
  }
  return `pressure: ${path} cannot be read: ${errnoReason(code) ?? code}; ${estimated}`;
}

// pressureNoteFor this host's (proc_root's) /proc/pressure/cpu.
export function pressureNote(config: Readonly<Config>): string {
  const path = join(config.proc_root, 'pressure/cpu');
  try {
    readFileSync(path, 'latin1');
    return pressureNoteFor(path, undefined);
  } catch (err) {
    return pressureNoteFor(path, errorCode(err) ?? errorMessage(err));
  }
}

// How the kernel shares the CPUs, from proc_root's sys/kernel/sched_autogroup_enabled.
// With autogroup on (Debian's and Ubuntu's default) CFS shares CPU time between
// sessions first, then between a session's tasks, while the rank counts tasks; OpenLava
// 4.0's sbatchd gives a job no session of its own (sbd.job.c), so every job runs in
// sbatchd's, and a login's or lsrun's tasks take a session's share from the jobs, not
// their count (docs/model.md, "Sessions", measured). Autogroup acts only on tasks in the
// root CPU cgroup (task_wants_autogroup, kernel/sched/autogroup.c): where cgroup v2's
// cpu controller is on below the root (sys_root's fs/cgroup/cgroup.subtree_control lists
// cpu), every task outside the root cgroup, and under systemd that is all of LIM's, its
// jobs' and a login's, has a CPU cgroup of its own, and CPU time goes between the
// cgroups first, so autogroup, on or off, changes nothing for them.
// Undefined for a value the kernel does not write.
export function autogroupNote(config: Readonly<Config>): string | undefined {
  // Checked first: with the controller on, the cgroups decide, autogroup on or off.
  const controllers = join(config.sys_root, 'fs/cgroup/cgroup.subtree_control');
  if (readWords(controllers)?.includes('cpu') === true) {
    return (
      `cpu sharing: cgroup v2's cpu controller is on (${controllers} lists cpu): the kernel shares CPU time between the cgroups first ` +
      "(system.slice against user.slice, by cpu.weight), then between their tasks, while the rank counts tasks; autogroup acts only on tasks in " +
      "the root CPU cgroup, which under systemd holds none of LIM's, its jobs' or a login's, so kernel.sched_autogroup_enabled changes nothing here " +
      '(docs/model.md, "Sessions")'
    );
  }
  const path = join(config.proc_root, 'sys/kernel/sched_autogroup_enabled');
  let text: string;
  try {
    text = readFileSync(path, 'latin1').trim();
  } catch (err) {
    return errorCode(err) === 'ENOENT' ? 'cpu sharing: task by task, as the rank assumes (this kernel has no autogroup)' : `cpu sharing: ${path} cannot be read: ${errorReason(err)}`;
  }
  if (text === '0') return 'cpu sharing: task by task, as the rank assumes (kernel.sched_autogroup_enabled = 0)';
  if (text !== '1') return undefined;
  return (
    "cpu sharing: kernel.sched_autogroup_enabled = 1: the kernel shares CPU time between sessions first, then between a session's tasks " +
    "(for tasks in the root CPU cgroup), but the rank counts tasks. OpenLava runs every job in sbatchd's session, so busy work in other sessions " +
    "(logins, lsrun through RES) counts in the rank for its tasks but takes a session's share: jobs run faster than the rank predicts beside " +
    'a login with many busy tasks, and slower beside other busy jobs and one busy login (docs/model.md, "Sessions"). Set ' +
    'kernel.sched_autogroup_enabled = 0 on compute nodes to have the CPUs shared task by task, as the rank assumes (README, "Troubleshooting")'
  );
}

// The blank-separated words of a file, or undefined when it cannot be read.
function readWords(path: string): string[] | undefined {
  try {
    return readFileSync(path, 'latin1').trim().split(/\s+/);
  } catch {
    return undefined; // no cgroup v2 at the root (v1, or the hybrid layout): nothing to tell
  }
}

// Whether the host's CPUs are SMT threads (hyperthreads, most cloud vCPUs), from
// cpu0's siblings in sys_root, and whether the cores of the online CPUs could be
// counted, as the rank needs to cost a busy sibling; undefined when sysfs does not say.
export function smtNote(config: Readonly<Config>): string | undefined {
  let threads: number;
  try {
    const path = join(config.sys_root, 'devices/system/cpu/cpu0/topology/thread_siblings_list');
    threads = parseCpuList(readFileSync(path, 'latin1'), path);
  } catch {
    return undefined;
  }
  if (threads <= 1) return 'cpus: one thread per core';
  let cores: number | undefined;
  let online = 0;
  try {
    const path = join(config.sys_root, 'devices/system/cpu/online');
    const cpus = parseCpuNumbers(readFileSync(path, 'latin1'), path);
    online = cpus.length;
    cores = readCores(config.sys_root, cpus);
  } catch {
    cores = undefined;
  }
  const smt = `cpus: ${threads} threads per core (SMT)`;
  if (cores === undefined || !(cores < online)) {
    return `${smt}, but the cores of the online CPUs cannot be counted from sysfs, so the rank counts each thread as a CPU: a job placed beside a busy sibling thread runs slower than the rank says (docs/model.md)`;
  }
  const yieldPct = Math.round(SMT_YIELD * 100);
  return `${smt}: ${online} CPUs make ${cores} cores; the rank counts a job placed beside a busy sibling thread as sharing that core, which an assumed ${yieldPct} % SMT yield makes ${Math.round((2 / (1 + SMT_YIELD) - 1) * 100)} % slower (docs/model.md)`;
}

// The CPUs the rank takes a job to be free to use (the cpu collector's minBusy and job
// CPUs, by the same rule: jobCpuTest), with a running lim's affinity standing for the daemon's (else
// this process's); undefined when sysfs does not list the online CPUs.
export function jobCpusNote(config: Readonly<Config>, set = jobCpuSet(config)): string | undefined {
  if (set === undefined) return undefined;
  const { online, usable, isolated, named, from, quota } = set;
  const isolatedNote = isolated.length > 0 ? `, isolcpus ${cpuRanges(isolated)} left out` : '';
  const quotaText = quotaNote(quota, usable.length === 0 ? online.length : usable.length);
  if (usable.length === online.length) return `job CPUs: all ${online.length} online (${from}${isolatedNote})${quotaText}`;
  const advice = named === undefined ? '; if jobs run elsewhere (a JOB_STARTER with taskset, launchers that pin them to isolcpus CPUs, or LIM alone pinned), name their CPUs in cpu.job_cpus' : '';
  if (usable.length === 0) return `job CPUs: none of the ${online.length} online (${from}${isolatedNote}): the rank reads every online CPU as a job's${advice}${quotaText}`;
  // The count first: "CPU 0, 1 of the 2 online" read as CPUs 0 and 1 (a cpulist's comma),
  // and "CPU 0 of the 2 online" as none.
  const which = `${usable.length} of the ${online.length} online, ${usable.length === 1 ? 'CPU' : 'CPUs'} ${cpuRanges(usable)}`;
  return `job CPUs: ${which} (${from}${isolatedNote}): the rank reads the host as a job on these sees it (their count and busy time, and the runnable tasks less one a busy CPU outside them)${advice}${quotaText}`;
}

// The daemon counts a CPU quota only where it leaves fewer CPUs than a job may use.
function quotaNote(quota: number | undefined, usable: number): string {
  if (quota === undefined || quota >= usable) return '';
  return `; lim's cgroup, which its elim and jobs share, has a CPU quota of ${Number(quota.toFixed(3))} CPUs, fewer: the rank reads the host as that many CPUs, with the cgroup's used and throttled time as its tasks (docs/collectors.md, "cgroup limits")`;
}

// What reading the collectors a report needs (cpu, load, memory) once from proc_root and
// sys_root, as the daemon's first sample does, fails with: one that fails at every sample
// (a proc_root that is not there) makes the elim report the pessimistic rank for good.
export function requiredReadProblems(config: Readonly<Config>, now = systemClock.monotonic()): string[] {
  const options: CollectorOptions = { procRoot: config.proc_root, sysRoot: config.sys_root, detail: false, ...(config.cpu.job_cpus === null ? {} : { jobCpus: config.cpu.job_cpus }) };
  const problems: string[] = [];
  for (const collector of [createCpuCollector(options), createLoadCollector(options), createMemoryCollector(options)]) {
    try {
      collector.collect(now);
    } catch (err) {
      problems.push(errorMessage(err));
    } finally {
      collector.close?.();
    }
  }
  return problems;
}

// Runs the GPU query once as the daemon does (its vetting, timeout and parser, at most
// gpu.timeout + 3 s): what it read, or why it failed (a driver not loaded, a GPU in
// trouble), which the daemon would only log, and the GPUs it could not reach among others it read.
export async function queryGpus(config: Readonly<Config>): Promise<{ gpus?: string; failure?: string; lost?: string[] }> {
  const poller = createGpuCollector({
    enabled: true,
    command: config.gpu.command,
    timeoutMs: config.gpu.timeout * 1000,
    intervalMs: 3_600_000,
    clock: systemClock,
    checkProgram: (path: string) => checkGpuProgramAsync(path),
  });
  try {
    await poller.ready?.();
    const r = poller.collect(systemClock.monotonic());
    if (r === undefined) return { failure: 'no result' };
    const util = r.utilMax === undefined ? 'utilisation not reported' : `busiest ${Math.round(r.utilMax * 100)} % used`;
    return { gpus: `${r.count} GPU${r.count === 1 ? '' : 's'}, ${util}`, ...(r.lost === undefined ? {} : { lost: r.lost }) };
  } catch (err) {
    return { failure: errorMessage(err).replace(/^(gpu: )+/, '') };
  } finally {
    poller.close?.();
  }
}

// One finding as a line: severity, file:line, message.
export function formatFinding(f: Finding): string {
  return `${f.severity.toUpperCase().padEnd(8)} ${f.where === undefined ? '' : `${f.where}: `}${f.message}`;
}

// The findings most serious first, keeping the order they were found in within a severity.
export function bySeverity(findings: readonly Finding[]): Finding[] {
  return SEVERITIES.flatMap((s) => findings.filter((f) => f.severity === s));
}

// Where check's stages put what they find: findings by severity, and the notes of the
// effective configuration.
export interface CheckReport {
  add(severity: Severity, message: string): void;
  notes: string[];
}

// The GPU side: gpu.command found, trusted and answering, unless gpu.enabled is false;
// what is wrong is an error where gpu.enabled is true, else a warning or a note.
export async function checkGpu(config: Readonly<Config>, { add, notes }: CheckReport): Promise<void> {
  if (config.gpu.enabled === false) return;
  const gpu = await findExecutableAsync(config.gpu.command);
  if (gpu === undefined) {
    notes.push(`gpu: ${config.gpu.command} not found${config.gpu.enabled === 'auto' ? ' (GPU features off)' : ''}`);
    if (config.gpu.enabled === true) add('error', `gpu.command ${config.gpu.command}: not found (gpu.enabled is true)`);
    return;
  }
  const untrusted = (await checkTrustAsync(gpu, 'gpu.command', { executable: true })).problems;
  for (const problem of untrusted) add('error', problem);
  if (untrusted.length > 0) {
    notes.push(`gpu: ${gpu}`);
    return;
  }
  const query = await queryGpus(config);
  notes.push(`gpu: ${gpu}: ${query.gpus ?? 'no GPUs read'}`);
  if (query.failure !== undefined) {
    if (config.gpu.enabled === true) add('error', `gpu.command ${gpu}: the query fails: ${query.failure} (gpu.enabled is true; the rank goes on without GPU features)`);
    else add('warning', `gpu.command ${gpu}: the query fails, so GPU features are off: ${query.failure}`);
  }
  for (const lost of query.lost ?? []) {
    add(config.gpu.enabled === true ? 'error' : 'warning', `gpu.command ${gpu}: cannot reach GPU ${lost}; the GPU features read the other GPUs`);
  }
}

// A file the daemon writes and rotates: the room its rotation may still take on its file system.
interface RotatedWriter {
  what: string;
  file: string;
  room: number;
  warn: string;
}

// The history side: its directory as the daemon chooses it, writable and not shared, and
// its file for this host not in the way; the history file as a writer whose room is
// checked, where the daemon would keep one.
export async function checkHistory(config: Readonly<Config>, env: NodeJS.ProcessEnv, host: string, { add, notes }: CheckReport): Promise<RotatedWriter | undefined> {
  if (!config.history.enabled) {
    notes.push('history: disabled');
    return undefined;
  }
  const { dir, skipped, problems: shared } = await historyLocation(config.history.dir, env);
  if (skipped !== undefined) add('warning', `${skipped}: history goes to ${dir} instead`);
  const why = await writableProblemAsync(dir);
  if (why !== undefined) add('error', `history directory ${dir}: ${why}`);
  for (const problem of shared) add('error', `${problem} (history would be off: root appends there, and retrain learns from it)`);
  const file = join(dir, `${host}.jsonl`);
  const inTheWay = await existingFileProblem(file);
  if (inTheWay !== undefined && shared.length === 0) add('error', `history file ${inTheWay}: the daemon would write no history until it is removed`);
  notes.push(shared.length === 0 ? `history: ${dir}/${host}.jsonl` : 'history: off (its directory is refused)');
  if (shared.length > 0) return undefined;
  return { what: 'the history', file, room: await rotationRoomAsync(file, config.history.max_bytes, config.history.keep), warn: `history directory ${dir}: its file system has` };
}

// The log side: where the daemon would log, and each location it would pass over that
// an administrator should hear of; the log as a writer whose room is checked, if any.
export async function checkLog(config: Readonly<Config>, host: string, env: NodeJS.ProcessEnv, logdirFrom: string | undefined, { add, notes }: CheckReport): Promise<RotatedWriter | undefined> {
  const logs = await logChoice(config.log, host, env, logdirFrom);
  if (logs.chosen === undefined) add('error', 'no log location is usable; logs would be lost (set log.file)');
  else notes.push(`log: ${logs.chosen.path} (${logs.chosen.why})`);
  for (const { target, why, missing, refused } of logs.skipped) {
    if (missing) continue; // lsfEnvProblems already says that $LSF_LOGDIR does not exist
    if (target.path === config.log.file) add('error', `log.file ${target.path}: ${why}`);
    // The daemon could write there but will not: worth a warning even when the log then goes elsewhere.
    else if (refused) add('warning', `${why}: the log does not go to ${target.path}`);
  }
  if (logs.chosen?.path === undefined) return undefined;
  const room = await rotationRoomAsync(logs.chosen.path, config.log.max_bytes, config.log.keep);
  return { what: 'the log', file: logs.chosen.path, room, warn: `log ${logs.chosen.path}: its file system has` };
}

// The metrics side: the textfile's directory exists and is safe for root to write in.
export async function checkMetrics(config: Readonly<Config>, { add }: CheckReport): Promise<void> {
  if (config.metrics.textfile === null) return;
  const dir = dirname(config.metrics.textfile);
  const problems = await metricsDirectoryProblemsAsync(dir);
  for (const problem of problems) add('error', `${problem} (metrics would be off)`);
  // The daemon never makes it (README, "Metrics for Prometheus"): every write would fail.
  if (problems.length === 0 && !(await isDirectoryAsync(dir))) add('error', `metrics.textfile ${config.metrics.textfile}: its directory ${dir} does not exist, and lavarank never makes it (metrics would not be written); create it: mkdir -m 0755 ${dir}`);
}

// The queue reservation recommend gives for this model and --cpus, or this host's CPUs
// for the rank; undefined where the model cannot be loaded (that problem is the model
// stage's).
export async function expectedReservation(config: Readonly<Config>, givenCpus: number | undefined, jobSet: ReturnType<typeof jobCpuSet>): Promise<LsfCheckInput['expected']> {
  try {
    const loaded = await loadModelAsync(modelPathFor(config));
    const host = hostCpusForRank(config, availableParallelism(), jobSet);
    const cpus = givenCpus ?? host.cpus;
    const r = recommendForCpus(loaded, cpus, { intervalSec: config.interval, resource: config.resource });
    const whose = givenCpus === undefined ? `${host.whose}; --cpus N for your typical node` : '--cpus';
    return { d: r.d, t: r.t, resReq: r.resReq, why: `"lavarank recommend --cpus ${cpus}" (${whose}; model ${r.model})` };
  } catch {
    return undefined; // the model problem is already listed
  }
}

// check's options as parsed.
type CheckArgs = ReturnType<typeof parseCheckArgs>;

// check's command line, parsed (unknown options throw, as before any stage runs).
function parseCheckArgs(argv: string[]) {
  return parseCommandLine(argv, {
    config: { type: 'string' },
    'lsf-envdir': { type: 'string' },
    cluster: { type: 'string' },
    queues: { type: 'string' },
    lsf: { type: 'boolean' },
    cpus: { type: 'string' },
    help: { type: 'boolean' },
  });
}

// The environment check reads: the caller's with --lsf-envdir as LSF_ENVDIR (given), and
// that with LSF_LOGDIR from lsf.conf where it lacks one, as the daemon takes it (env).
export interface CheckEnvironment {
  given: NodeJS.ProcessEnv;
  env: NodeJS.ProcessEnv;
  confRefusal: string | undefined;
  logdirFrom: string | undefined;
}

// The environment stage: LSF_ENVDIR as given, then LSF_LOGDIR as the daemon finds it.
export async function checkEnvironment(lsfEnvdir: string | undefined, base: NodeJS.ProcessEnv = process.env): Promise<CheckEnvironment> {
  const given: NodeJS.ProcessEnv = { ...base, ...(lsfEnvdir === undefined ? {} : { LSF_ENVDIR: lsfEnvdir }) };
  const { env, refusal: confRefusal, from: logdirFrom } = await lsfLogdirAsync(given);
  return { given, env, confRefusal, logdirFrom };
}

// The config stage: who runs check, the config as the elim would find and load it (the
// defaults where it cannot be loaded, each problem critical) and its interval under LIM.
export async function checkConfig(configOption: string | undefined, env: NodeJS.ProcessEnv, { add, notes }: CheckReport, uid = process.geteuid?.() ?? 0): Promise<{ source: ConfigSource; config: Readonly<Config> }> {
  // The trust checks take the files of whoever runs them as their own: run as another
  // user, check would accept that user's config and model, which the elim, run as root
  // by LIM, refuses.
  if (uid !== 0) add('warning', `run as uid ${uid}, not root: files are judged as uid ${uid} owns them, but the elim runs as root under LIM and refuses files root does not own; run lavarank check as root`);
  const source = await findConfigAsync(configOption, env, isPresentAsync);
  let config: Readonly<Config> = defaultConfig();
  try {
    config = await loadConfigAsync(source);
  } catch (err) {
    // The daemon refuses to start with an invalid config: LIM shows "-" for the host.
    for (const problem of err instanceof ConfigError ? err.problems : [errorMessage(err)]) add('critical', `${problem} (the elim would not start)`);
  }
  notes.push(`config: ${source.path ?? 'built-in defaults'} (${source.why})`);
  if (config.interval < MIN_LIM_INTERVAL) {
    add('critical', `interval ${config.interval} s: under LIM an interval under ${MIN_LIM_INTERVAL} s is refused (LIM reads one report per 5 s)`);
  }
  return { source, config };
}

// The model and child elims stage: the model the config names, and each child elim's program.
export async function checkModelAndChildren(config: Readonly<Config>, { add, notes }: CheckReport): Promise<void> {
  const model = await describeModel(config);
  notes.push(`model: ${model.description}`);
  for (const problem of model.problems) add(config.model === null ? 'error' : 'critical', problem);
  for (const warning of model.warnings) add('warning', warning);
  for (const [i, elim] of config.elims.entries()) {
    for (const problem of (await childProgramAsync(elim.command, `child elim elims[${i}]`)).problems) add('error', `${problem} (lavarank would not start it)`);
    notes.push(`child elim ${elim.name ?? `#${i}`}: ${elim.command.join(' ')}`);
  }
}

// The files stage: the LSF environment, lsf.shared where child elims need it, the log,
// the history and the room their file systems have, the metrics and the reads a report needs.
export async function checkFiles(config: Readonly<Config>, { env, confRefusal, logdirFrom }: CheckEnvironment, report: CheckReport): Promise<void> {
  const { add } = report;
  for (const problem of await lsfEnvProblemsAsync({ LSF_LOGDIR: env['LSF_LOGDIR'] })) add('warning', problem);
  if (confRefusal !== undefined) add('warning', confRefusal);
  // The daemon's own reading of lsf.shared, for its child elims' String resources.
  if (config.elims.length > 0) {
    const shared = await sharedTextResources(env);
    if (shared.problem !== undefined) add('warning', shared.problem);
  }
  const host = hostname();
  // A full disk stops the log without a word where anyone looks (its ENOSPC line is
  // written once there is room again), and the history with it: each is asked of its
  // file system the room its rotation may still take, the two summed where they share one.
  const writers: RotatedWriter[] = [];
  const log = await checkLog(config, host, env, logdirFrom, report);
  if (log !== undefined) writers.push(log);
  const history = await checkHistory(config, env, host, report);
  if (history !== undefined) writers.push(history);
  for (const problem of await lowSpaceProblems(writers)) add('warning', problem);
  await checkMetrics(config, report);
  for (const problem of requiredReadProblems(config)) {
    add('critical', `${problem}: the elim would report the pessimistic rank, ${config.pessimistic_rank}, at every report (proc_root ${config.proc_root}, sys_root ${config.sys_root})`);
  }
}

// The host stage: what the rank makes of this host's network, pressure, CPU sharing,
// SMT and job CPUs, as notes; the job CPUs found, for the reservation.
export function checkHost(config: Readonly<Config>, { notes }: CheckReport): ReturnType<typeof jobCpuSet> {
  notes.push(networkNote(config));
  notes.push(pressureNote(config));
  const sharing = autogroupNote(config);
  if (sharing !== undefined) notes.push(sharing);
  const smt = smtNote(config);
  if (smt !== undefined) notes.push(smt);
  // Found once: without cpu.job_cpus it scans /proc for a running lim.
  const jobSet = jobCpuSet(config);
  const jobCpus = jobCpusNote(config, jobSet);
  if (jobCpus !== undefined) notes.push(jobCpus);
  return jobSet;
}

// The OpenLava stage: lsf.shared, the cluster file, the queues and the installed elim, as
// OpenLava reads them; its effective lines. Without $LSF_ENVDIR, the options that apply
// to it are an error.
export async function checkOpenLava(
  args: Pick<CheckArgs, 'cluster' | 'queues' | 'lsf'>,
  config: Readonly<Config>,
  source: ConfigSource,
  { given, env, confRefusal }: CheckEnvironment,
  expected: LsfCheckInput['expected'],
  { add, findings }: CheckReport & { findings: Finding[] },
): Promise<string[]> {
  const envdir = env['LSF_ENVDIR'];
  const lsfLines: string[] = [];
  if (envdir === undefined || envdir === '') {
    lsfLines.push('not checked: no $LSF_ENVDIR (pass --lsf-envdir DIR)');
    // Said as a problem: `check --queues FILE` alone passed with "OK: no problems", the queue unread.
    const unused = (['queues', 'cluster', 'lsf'] as const).filter((o) => args[o] !== undefined);
    if (unused.length > 0) add('error', `--${unused.join(', --')}: the OpenLava side ${unused.length === 1 ? 'it applies' : 'they apply'} to is not checked without $LSF_ENVDIR; pass --lsf-envdir DIR`);
    return lsfLines;
  }
  const lsf = await checkLsf({
    envdir,
    resource: config.resource,
    ...(config.typed_ranks ? { typedRanks: typedRankNames(config.resource) } : {}),
    env: given, // so that each setting says whether it came from the environment or lsf.conf
    program: PROGRAM,
    childElims: config.elims.map((e) => e.command[0]!),
    ...(source.path === null ? {} : { configPath: resolve(source.path) }),
    ...(args.cluster === undefined ? {} : { cluster: args.cluster }),
    ...(args.queues === undefined ? {} : { queues: args.queues }),
    ...(args.lsf === true ? { lsf: true } : {}),
    ...(expected === undefined ? {} : { expected }),
    confRefused: confRefusal !== undefined, // the same lsf.conf: envdir is env's LSF_ENVDIR
  });
  findings.push(...lsf.findings);
  lsfLines.push(...lsf.effective);
  if (expected !== undefined) lsfLines.push(`reservation recommended: ${expected.resReq}, from ${expected.why}`);
  return lsfLines;
}

// Checks everything and prints a report; resolves to 0 when nothing is wrong, else 1.
export async function main(argv: string[]): Promise<number> {
  const args = parseCheckArgs(argv);
  if (args.help === true) {
    print(USAGE);
    return 0;
  }
  let givenCpus: number | undefined;
  try {
    givenCpus = cpusOption(args.cpus);
  } catch (err) {
    printError(`lavarank check: ${errorMessage(err)}`);
    return EXIT_USAGE;
  }
  const environment = await checkEnvironment(args['lsf-envdir']);
  const findings: Finding[] = [];
  const report = { add: (severity: Severity, message: string): void => void findings.push({ severity, message }), notes: [] as string[], findings };
  const { source, config } = await checkConfig(args.config, environment.env, report);
  await checkModelAndChildren(config, report);
  await checkGpu(config, report);
  await checkFiles(config, environment, report);
  const jobSet = checkHost(config, report);
  const expected = await expectedReservation(config, givenCpus, jobSet);
  const lsfLines = await checkOpenLava(args, config, source, environment, expected, report);
  const { text, status } = checkReport(findings, report.notes, lsfLines, config);
  print(text);
  return status;
}

// check's report, most serious finding first, then the effective configuration, as
// lines ending in a newline; its exit status, 1 where any finding is worse than a warning.
export function checkReport(findings: readonly Finding[], notes: readonly string[], lsfLines: readonly string[], config: Readonly<Config>): { text: string; status: 0 | 1 } {
  const sorted = bySeverity(findings);
  const failing = sorted.filter((f) => f.severity !== 'warning').length;
  const lines: string[] = [];
  if (sorted.length === 0) {
    lines.push('OK: no problems');
  } else {
    const counts = SEVERITIES.map((s) => [s, sorted.filter((f) => f.severity === s).length] as const).filter(([, n]) => n > 0);
    lines.push(`${counts.map(([s, n]) => `${n} ${s}${n === 1 || s === 'critical' ? '' : 's'}`).join(', ')}, most serious first:`);
    lines.push(sorted.map((f) => `  ${escapedControls(formatFinding(f))}`).join('\n'));
  }
  // Findings and notes quote names and text others may choose: a link's target in a
  // directory another user owns, a queue of an LSF administrator's lsb.queues.
  lines.push(`\neffective configuration:\n${notes.map((n) => `  ${escapedControls(n)}`).join('\n')}`);
  lines.push(`  OpenLava:\n${lsfLines.map((l) => `    ${escapedControls(l)}`).join('\n')}`);
  lines.push(`  lavarank.yaml, with defaults filled in:\n${stringify(config).replace(/^/gm, '    ').trimEnd()}`);
  // Each part a line of its own, as print gives it one.
  return { text: lines.map((l) => (l.endsWith('\n') ? l : `${l}\n`)).join(''), status: failing > 0 ? 1 : 0 };
}
