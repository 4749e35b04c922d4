// The whole running elim's cost, for `npm run bench`: CPU per report (all threads),
// RSS and time to the first report of dist/src/cli.js run, started as LIM starts it
// (stdout a pipe, stdin /dev/null, the installed wrapper's V8 flags) with a temporary
// config, next to the reads-only floor (scripts/floor-elim.ts) on the same files,
// on this host and on a generated big node (scripts/gen-bignode.ts).
import { execFileSync, spawn } from 'node:child_process';
import { closeSync, constants, mkdtempSync, openSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { Socket } from 'node:net';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { readKernelText } from '../src/collectors/procfs.js';
import { procStatFields } from '../src/util/exec.js';
import { median } from '../src/util/stats.js';
import { DAEMON_NODE_FLAGS } from '../src/util/node-flags.js';
import { HISTORY_HOLD } from '../src/history/record.js';
import { blockDevices, generateBigNode, writeCounters, type BigNodeRoots, type BigNodeSpec, type WriteOptions } from './gen-bignode.js';

// The reports a measurement leaves out before it counts, by default: those at which the
// elim still does start-up's own work, once for its life. The first report walks the
// installation and starts the inventory, the third collects start-up's garbage, and the
// HISTORY_HOLD-th writes the first history batch, which opens the history file (its
// directory checked, made, the file opened and looked at: about 3 ms of CPU on a 2-vCPU
// VM, against about 2 ms for a whole report). With 5, that batch fell in the first
// measured window; its asynchronous steps end long before the next report at the
// intervals the benches use.
export const WARMUP_REPORTS = HISTORY_HOLD + 1;

// USER_HZ, the unit of utime and stime in /proc/PID/stat.
const USER_HZ = 100;

// The whole running elim: CPU (all threads) per report and RSS.
export interface DaemonResult {
  reports: number; // measured, after the warm-up reports
  warmupReports: number;
  intervalSec: number;
  cpuMsPerReport: number; // from schedstat when the threads stayed the same, else from stat
  cpuMsPerReportTicks: number; // from /proc/PID/stat utime + stime alone
  cpuSource: string; // which of the two cpuMsPerReport is
  rssMB: number;
  threads: number;
  lastLine: string;
}

// One program to run as LIM would, and what it was measured at.
export interface ElimRun {
  label: string;
  args: string[]; // after the Node executable: V8 flags, script, arguments
  cwd?: string;
}

// One program's cost per report, over the measured reports and per window of them.
export interface ElimMeasurement extends DaemonResult {
  label: string;
  windowsCpuMsPerReport: number[]; // the measured reports cut into equal windows, in order
  firstReportMs: number; // from spawn to the first complete line
  childrenSeen: number; // distinct child processes seen alive at a report after the warm-up
}

interface CpuReading {
  ticksNs: number; // utime + stime of /proc/PID/stat: every thread, dead ones included; 10 ms steps
  schedNs: number | undefined; // sum of /proc/PID/task/*/schedstat: nanoseconds, live threads only
  tasks: string[];
}

function readCpu(pid: number): CpuReading {
  const stat = readKernelText('bench', `/proc/${pid}/stat`);
  const fields = procStatFields(stat);
  const ticksNs = ((Number(fields[11]) + Number(fields[12])) * 1e9) / USER_HZ; // fields 14 and 15 of proc(5)
  const tasks = readdirSync(`/proc/${pid}/task`).sort();
  let schedNs: number | undefined = 0;
  try {
    for (const t of tasks) schedNs += Number(readKernelText('bench', `/proc/${pid}/task/${t}/schedstat`).split(' ')[0]);
  } catch {
    schedNs = undefined; // a kernel without CONFIG_SCHED_INFO, or a thread that just ended
  }
  return { ticksNs, schedNs: Number.isFinite(schedNs) ? schedNs : undefined, tasks };
}

// CPU ns between two readings: schedstat when the same threads ran throughout (it forgets ended threads).
function cpuNsBetween(a: CpuReading, b: CpuReading): { ns: number; precise: boolean } {
  const precise = a.schedNs !== undefined && b.schedNs !== undefined && a.tasks.join() === b.tasks.join();
  return { ns: precise ? b.schedNs! - a.schedNs! : b.ticksNs - a.ticksNs, precise };
}

function rssMBOf(pid: number): number {
  const m = /^VmRSS:\s+(\d+) kB$/m.exec(readKernelText('bench', `/proc/${pid}/status`));
  return Number(m?.[1] ?? Number.NaN) / 1024;
}

// Child processes of pid alive now (every thread's children).
function childrenOf(pid: number): string[] {
  const out: string[] = [];
  try {
    for (const t of readdirSync(`/proc/${pid}/task`)) {
      out.push(...readKernelText('bench', `/proc/${pid}/task/${t}/children`).split(' ').filter((s) => s !== '' && s !== '\n'));
    }
  } catch {
    // a thread that just ended, or a kernel without CONFIG_PROC_CHILDREN
  }
  return out;
}

// A pipe like the one LIM gives its elim (pipe(2)), made as a FIFO: Node's spawn gives
// a socket pair instead, on which lavarank's report sink skips what it does on a pipe
// (taking back a report the reader has not read, before each write). The write end
// is blocking, as LIM's is.
// noAtime: read through O_NOATIME, so that reads leave the FIFO's atime as LIM's pipe(2)
// is left on Linux 6.14 and later (the sink then takes back at every report).
export function reportPipe(options: { noAtime?: boolean } = {}): { readEnd: Socket; writeFd: number; remove: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'lavarank-bench-pipe-'));
  const path = join(dir, 'stdout');
  execFileSync('mkfifo', ['-m', '600', path]);
  const readFd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK | (options.noAtime === true ? constants.O_NOATIME : 0)); // does not wait for a writer
  const writeFd = openSync(path, constants.O_WRONLY); // a reader is there: does not wait either
  return { readEnd: new Socket({ fd: readFd, readable: true, writable: false }), writeFd, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

// Runs one program until it has written warmup + reports lines and measures it.
function measureOne(run: ElimRun, o: { reports: number; warmup: number; windows: number; intervalSec: number }, onFirst: () => void = () => undefined): Promise<ElimMeasurement> {
  const started = performance.now();
  const pipe = reportPipe();
  const child = spawn(process.execPath, run.args, { stdio: ['ignore', pipe.writeFd, 'ignore'], ...(run.cwd === undefined ? {} : { cwd: run.cwd }) });
  closeSync(pipe.writeFd); // the child's copy is the only writer: its exit ends the pipe
  const stdout = pipe.readEnd;
  const pid = child.pid;
  let timer: NodeJS.Timeout | undefined;
  const done = new Promise<ElimMeasurement>((resolvePromise, reject) => {
    if (pid === undefined) {
      reject(new Error(`${run.label}: cannot start ${process.execPath} ${run.args.join(' ')}`));
      return;
    }
    const perWindow = Math.max(1, Math.floor(o.reports / o.windows));
    let seen = 0;
    let buffered = '';
    let firstReportMs = Number.NaN;
    let start: CpuReading | undefined;
    let windowStart: CpuReading | undefined;
    const windows: number[] = [];
    const children = new Set<string>();
    let lastLine = '';
    const limitMs = (o.warmup + o.reports) * o.intervalSec * 3000 + 15_000;
    timer = setTimeout(() => reject(new Error(`${run.label}: wrote ${seen} reports in ${limitMs / 1000} s`)), limitMs);
    child.on('exit', (code) => reject(new Error(`${run.label}: exited with status ${String(code)} after ${seen} reports`)));
    stdout.setEncoding('utf8');
    stdout.on('data', (chunk: string) => {
      buffered += chunk;
      let nl: number;
      while ((nl = buffered.indexOf('\n')) >= 0) {
        lastLine = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        seen++;
        if (seen === 1) {
          firstReportMs = performance.now() - started;
          onFirst();
        }
        if (seen > o.warmup) for (const c of childrenOf(pid)) children.add(c);
        if (seen === o.warmup) start = windowStart = readCpu(pid);
        const measured = seen - o.warmup;
        if (measured > 0 && start !== undefined && windowStart !== undefined && (measured % perWindow === 0 || measured === o.reports)) {
          const now = readCpu(pid);
          const inWindow = measured % perWindow === 0 ? perWindow : measured % perWindow;
          windows.push(cpuNsBetween(windowStart, now).ns / 1e6 / inWindow);
          windowStart = now;
        }
        if (measured === o.reports && start !== undefined) {
          const end = readCpu(pid);
          const total = cpuNsBetween(start, end);
          child.removeAllListeners('exit');
          resolvePromise({
            label: run.label,
            reports: o.reports,
            warmupReports: o.warmup,
            intervalSec: o.intervalSec,
            cpuMsPerReport: total.ns / 1e6 / o.reports,
            cpuMsPerReportTicks: (end.ticksNs - start.ticksNs) / 1e6 / o.reports,
            cpuSource: total.precise ? '/proc/PID/task/*/schedstat, all threads' : '/proc/PID/stat utime+stime, all threads',
            rssMB: rssMBOf(pid),
            threads: end.tasks.length,
            lastLine,
            windowsCpuMsPerReport: windows,
            firstReportMs,
            childrenSeen: children.size,
          });
        }
      }
    });
  });
  return done.finally(async () => {
    clearTimeout(timer);
    child.kill('SIGTERM');
    await new Promise((r) => (child.exitCode !== null || child.signalCode !== null ? r(undefined) : child.once('exit', r)));
    stdout.destroy();
    pipe.remove();
  });
}

// Runs every program side by side (so that they share the host's noise) and measures
// `reports` reports of each after `warmup`, cut into `windows` windows. With stagger,
// each starts once the one before has written its first report, so that the time to
// the first report is not that of several Node processes starting on the same CPUs.
export async function measureElims(
  runs: ElimRun[],
  o: { reports: number; warmup?: number; windows?: number; intervalSec: number; stagger?: boolean },
): Promise<ElimMeasurement[]> {
  const options = { reports: o.reports, warmup: o.warmup ?? WARMUP_REPORTS, windows: o.windows ?? 1, intervalSec: o.intervalSec };
  const started: Array<Promise<ElimMeasurement>> = [];
  for (const r of runs) {
    let first: () => void = () => undefined;
    const firstReport = new Promise<void>((resolve) => (first = resolve));
    const measured = measureOne(r, options, first);
    started.push(measured);
    if (o.stagger === true) await Promise.race([firstReport, measured.then(() => undefined, () => undefined)]);
  }
  const settled = await Promise.allSettled(started);
  const failed = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (failed !== undefined) throw failed.reason;
  return settled.map((s) => (s as PromiseFulfilledResult<ElimMeasurement>).value);
}

// Where the elims' config files, logs and history go, and the file for one run.
export function daemonConfig(dir: string, name: string, o: { procRoot?: string; sysRoot?: string; history?: boolean; extra?: string }): string {
  const config = join(dir, `${name}.yaml`);
  const lines = [
    `log:\n  file: ${join(dir, `${name}.log`)}`,
    o.history === false ? 'history:\n  enabled: false' : `history:\n  dir: ${join(dir, `${name}-history`)}`,
    'gpu:\n  enabled: false',
  ];
  if (o.procRoot !== undefined) lines.push(`proc_root: ${o.procRoot}`);
  if (o.sysRoot !== undefined) lines.push(`sys_root: ${o.sysRoot}`);
  writeFileSync(config, `${lines.join('\n')}\n${o.extra ?? ''}`, { mode: 0o644 });
  return config;
}

// The built elim as LIM runs it (the installed wrapper's V8 flags), at a test interval.
// `extra`: more arguments of `lavarank run` (--test-keep-open).
export function daemonRun(label: string, cliPath: string, config: string, intervalSec: number, cwd: string, extra: readonly string[] = []): ElimRun {
  return { label, args: [...DAEMON_NODE_FLAGS, cliPath, 'run', '--test-interval', String(intervalSec), '--config', config, ...extra], cwd };
}

// The reads-only floor over the same roots, with the same V8 flags.
export function floorRun(label: string, floorPath: string, intervalSec: number, roots: { procRoot?: string; sysRoot?: string } = {}, keepOpen = false): ElimRun {
  const args = [...DAEMON_NODE_FLAGS, floorPath, '--interval', String(intervalSec)];
  if (keepOpen) args.push('--keep-open');
  if (roots.procRoot !== undefined) args.push('--proc-root', roots.procRoot);
  if (roots.sysRoot !== undefined) args.push('--sys-root', roots.sysRoot);
  return { label, args };
}

// Median and range of a list of windows, as "median (min–max)".
export function spread(values: number[], digits = 2): string {
  if (values.length === 0) return '-';
  return `${median(values).toFixed(digits)} (${Math.min(...values).toFixed(digits)}–${Math.max(...values).toFixed(digits)})`;
}

// Runs the built elim (dist/src/cli.js run) as LIM would, stdout piped, with a
// temporary config (log file in a temp dir, history and GPU off), and measures
// `reports` reports after `warmup` ones. `config` is added to that config (YAML).
export async function measureDaemon(options: { cliPath: string; reports: number; warmup?: number; intervalSec?: number; config?: string }): Promise<DaemonResult> {
  const intervalSec = options.intervalSec ?? 1;
  const dir = mkdtempSync(join(tmpdir(), 'lavarank-bench-'));
  try {
    const config = daemonConfig(dir, 'lavarank', { history: false, ...(options.config === undefined ? {} : { extra: options.config }) });
    const [r] = await measureElims([daemonRun('lavarank', options.cliPath, config, intervalSec, dir)], {
      reports: options.reports,
      warmup: options.warmup ?? WARMUP_REPORTS,
      intervalSec,
    });
    const { label: _label, windowsCpuMsPerReport: _w, firstReportMs: _f, childrenSeen: _c, ...result } = r!;
    return result;
  } catch (err) {
    if (err instanceof Error) err.message = err.message.replace(/^lavarank: /, 'the elim ').replace(/; see .*$/, '');
    throw new Error(`${err instanceof Error ? err.message : String(err)}; see ${join(dir, 'lavarank.log')}`, { cause: err });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// One host of the side-by-side comparison: lavarank and the floor on the same files.
export interface SideBySide {
  host: string;
  lavarank: ElimMeasurement;
  floor: ElimMeasurement;
  ratioWindows: number[]; // lavarank / floor, window by window (they ran at the same time)
  target: boolean; // false: a row for context, not judged against issue 16's targets
}

// Keeps a generated node's counters moving while elims read it: a new tick every half
// interval, each file replaced by a rename, or rewritten in place (options.inPlace).
export function advanceCounters(roots: BigNodeRoots, spec: BigNodeSpec, intervalSec: number, options: WriteOptions = {}): () => void {
  let tick = 0;
  const timer = setInterval(() => writeCounters(roots, spec, ++tick, options), (intervalSec * 1000) / 2);
  return () => clearInterval(timer);
}

// lavarank and the reads-only floor, all at once: on this host's /proc and /sys, and on
// a generated node of `spec` whose counters advance every half interval; and a second
// floor on each that keeps its files open, as lavarank does on procfs and sysfs.
// The generated node is a plain directory, whose files lavarank opens for each read:
// it is read that way, as a snapshot, and as a real node's procfs and sysfs are read,
// kept open (lavarank run --test-keep-open; the files are rewritten in place for it).
export async function sideBySide(o: {
  cliPath: string;
  floorPath: string;
  spec: BigNodeSpec;
  reports: number;
  warmup: number;
  windows: number;
  intervalSec: number;
}): Promise<SideBySide[]> {
  const dir = mkdtempSync(join(tmpdir(), 'lavarank-bench-side-'));
  try {
    const roots = generateBigNode(join(dir, 'node'), o.spec);
    const hostConfig = daemonConfig(dir, 'host', {});
    const bigConfig = daemonConfig(dir, 'big', roots);
    const keptConfig = daemonConfig(dir, 'big-kept', roots);
    // In place: a reader that keeps its files open sees the new counters, as on procfs.
    const stop = advanceCounters(roots, o.spec, o.intervalSec, { inPlace: true });
    let results: ElimMeasurement[];
    try {
      results = await measureElims(
        // The floors first: a daemon's start-up inventory must not delay the next one's first report.
        [
          floorRun('floor host', o.floorPath, o.intervalSec),
          floorRun('floor host kept open', o.floorPath, o.intervalSec, {}, true),
          floorRun('floor big', o.floorPath, o.intervalSec, roots),
          floorRun('floor big kept open', o.floorPath, o.intervalSec, roots, true),
          daemonRun('lavarank big kept open', o.cliPath, keptConfig, o.intervalSec, dir, ['--test-keep-open']),
          daemonRun('lavarank big', o.cliPath, bigConfig, o.intervalSec, dir),
          daemonRun('lavarank host', o.cliPath, hostConfig, o.intervalSec, dir),
        ],
        { ...o, stagger: true },
      );
    } finally {
      stop();
    }
    const [fh, fhk, fb, fbk, lbk, lb, lh] = results as [ElimMeasurement, ElimMeasurement, ElimMeasurement, ElimMeasurement, ElimMeasurement, ElimMeasurement, ElimMeasurement];
    const ratios = (l: ElimMeasurement, f: ElimMeasurement) => l.windowsCpuMsPerReport.map((v, i) => v / (f.windowsCpuMsPerReport[i] ?? Number.NaN));
    const big = describeSpec(o.spec);
    const host = `this host (${cpus().length} CPUs)`;
    return [
      { host, lavarank: lh, floor: fh, ratioWindows: ratios(lh, fh), target: true },
      { host: `${big}, files kept open as on procfs and sysfs`, lavarank: lbk, floor: fb, ratioWindows: ratios(lbk, fb), target: true },
      { host: `${big}, files opened for each read as a snapshot's`, lavarank: lb, floor: fb, ratioWindows: ratios(lb, fb), target: false },
      { host: `${host}, against the floor keeping its files open`, lavarank: lh, floor: fhk, ratioWindows: ratios(lh, fhk), target: false },
      { host: `${big}, files kept open, against the floor keeping its files open`, lavarank: lbk, floor: fbk, ratioWindows: ratios(lbk, fbk), target: false },
    ];
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// "128 CPUs, 336 block devices (64 disks x 4 partitions, 16 loop), 8 NICs".
export function describeSpec(s: BigNodeSpec): string {
  return `${s.cpus} CPUs, ${blockDevices(s)} block devices (${s.disks} disks × ${s.partitions} partitions, ${s.loops} loop), ${s.nics} NICs`;
}

// One point of the flatness check: lavarank and the floor on a generated node of that size.
export interface FlatPoint {
  spec: BigNodeSpec;
  lavarank: ElimMeasurement;
  floor: ElimMeasurement;
}

// Issue 16's "nearly flat", taken as: lavarank's cost per report on the largest node of
// a series at most this many times its cost on the smallest.
export const FLAT_TARGET = 1.25;

// How lavarank's cost grew along one series of the flatness check: the CPU counts (on
// nodes of one block device) or the block devices (on nodes of the fewest CPUs).
export interface FlatGrowth {
  along: 'CPUs' | 'block devices';
  from: number; // the smallest node's CPUs or block devices
  to: number; // the largest's
  fromMs: number; // lavarank's median cost per report there
  toMs: number;
  growth: number; // toMs / fromMs
}

// The growth along each series that has two nodes or more, from the windows' medians.
export function flatGrowth(points: readonly FlatPoint[]): FlatGrowth[] {
  const fewestCpus = Math.min(...points.map((p) => p.spec.cpus));
  const series: Array<[FlatGrowth['along'], FlatPoint[], (p: FlatPoint) => number]> = [
    ['CPUs', points.filter((p) => blockDevices(p.spec) === 1), (p) => p.spec.cpus],
    ['block devices', points.filter((p) => p.spec.cpus === fewestCpus), (p) => blockDevices(p.spec)],
  ];
  const out: FlatGrowth[] = [];
  for (const [along, members, size] of series) {
    if (members.length < 2) continue;
    const sorted = [...members].sort((a, b) => size(a) - size(b));
    const small = sorted[0]!;
    const large = sorted[sorted.length - 1]!;
    const fromMs = median(small.lavarank.windowsCpuMsPerReport);
    const toMs = median(large.lavarank.windowsCpuMsPerReport);
    out.push({ along, from: size(small), to: size(large), fromMs, toMs, growth: toMs / fromMs });
  }
  return out;
}

// lavarank and the floor on generated nodes of every size in `specs`, `together` nodes
// at a time (every process side by side on a 2-CPU host would measure the crowd).
export async function flatness(o: {
  cliPath: string;
  floorPath: string;
  specs: BigNodeSpec[];
  reports: number;
  warmup: number;
  windows: number;
  intervalSec: number;
  together: number;
}): Promise<FlatPoint[]> {
  const dir = mkdtempSync(join(tmpdir(), 'lavarank-bench-flat-'));
  const stops: Array<() => void> = [];
  try {
    const results: ElimMeasurement[] = [];
    for (let first = 0; first < o.specs.length; first += o.together) {
      const runs: ElimRun[] = [];
      o.specs.slice(first, first + o.together).forEach((spec, k) => {
        const i = first + k;
        const roots = generateBigNode(join(dir, `node${i}`), spec);
        // Read as a real node's procfs and sysfs are, through descriptors kept open (the
        // files rewritten in place), like the big node's target row, not opened for each
        // read as any plain directory is: a real node of any size pays no open and close
        // per file. The floor opens each file, as the target's floor does.
        stops.push(advanceCounters(roots, spec, o.intervalSec, { inPlace: true }));
        runs.push(floorRun(`floor ${i}`, o.floorPath, o.intervalSec, roots));
        runs.push(daemonRun(`lavarank ${i}`, o.cliPath, daemonConfig(dir, `node${i}`, roots), o.intervalSec, dir, ['--test-keep-open']));
      });
      results.push(...(await measureElims(runs, { reports: o.reports, warmup: o.warmup, windows: o.windows, intervalSec: o.intervalSec, stagger: true })));
      while (stops.length > 0) stops.pop()!();
    }
    return o.specs.map((spec, i) => ({ spec, floor: results[2 * i]!, lavarank: results[2 * i + 1]! }));
  } finally {
    for (const stop of stops) stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
