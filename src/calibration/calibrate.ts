// `lavarank calibrate` (also scripts/calibrate): measures, on the host it runs on,
// how much a fixed probe job slows down under controlled background load, and what
// lavarank's own collectors saw just before each probe started. The JSON-lines
// dataset it writes is what the default model is trained on. The design, the
// warm-up and the idle baseline are explained in docs/calibration.md.
import { setMaxListeners } from 'node:events';
import { createInterface } from 'node:readline';
import { accessSync, closeSync, constants, fstatSync, ftruncateSync, mkdtempSync, openSync, readFileSync, rmSync, statfsSync, unlinkSync, writeSync } from 'node:fs';
import { constants as osConstants, hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Logger } from '../util/logger.js';
import { UnsyncedRename, writeFileAtomic } from '../util/atomic-file.js';
import { stripBom } from '../util/bom.js';
import { systemClock, type Clock } from '../util/clock.js';
import { parseLoadavg } from '../collectors/loadavg.js';
import type { Sample } from '../collectors/types.js';
import type { Config } from '../config/config.js';
import { ConfigError, errorCode, errorMessage, errorReason } from '../util/errors.js';
import { procStatFields, runCommand, spawnLongRunning, type ChildProcess } from '../util/exec.js';
import { CHILD_NODE_FLAGS } from '../util/node-flags.js';
import { seededRandom, shuffled } from '../util/random.js';
import type { ProbeResult } from './probe.js';
import { collectorsFromConfig, createSampler, type Sampler } from '../daemon/sampler.js';
import { median } from '../util/stats.js';
import type { StressKind } from './stress.js';
import {
  cgroupMemoryUse,
  createSqueezeCgroup,
  disableSwapFile,
  enableSwapFile,
  ownMemoryCgroup,
  removeCgroup,
  squeezedMemory,
  swapTotalBytes,
  type SqueezeCgroup,
} from './cgroup.js';
import { STOP_SIGNALS } from './jobs.js';
import { workDirectoryProblem } from './workdir.js';

const PROBE_PATH = fileURLToPath(new URL('./probe.js', import.meta.url));
const STRESS_PATH = fileURLToPath(new URL('./stress.js', import.meta.url));

// The background load of one block: how many of each stressor runs. mem is 0 (none)
// or 1 (high: MemAvailable brought down to about 3 GiB); squeeze is 0 (none), 1
// (the squeeze cgroup's memory nearly full) or 2 (overcommitted: it swaps all the
// time), and then the probe runs in that cgroup too; the others are process counts.
// Datasets from before the squeeze have no squeeze key: 0.
export interface StressConfig {
  cpuHogs: number;
  membw: number;
  mem: number;
  disk: number;
  squeeze?: number;
}

// What the squeeze stressor keeps touching, as a share of the squeeze cgroup's limit, by level.
export const SQUEEZE_FILL: Readonly<Record<number, number>> = { 1: 0.95, 2: 1.5 };

// One block of the plan: a configuration held steady while the probe runs `probes` times.
export interface PlanBlock {
  index: number;
  idle: boolean;
  config: StressConfig;
  probes: number;
  settleSeconds: number; // waited after the stressors are ready (and after any boost)
  boost: boolean; // raise the 1-minute load to its steady level with extra hogs first
}

// The whole run: the blocks in order and the timings every block shares.
export interface Plan {
  cpus: number;
  seed: number;
  quick: boolean;
  probeScale: number;
  squeezeLimitBytes: number; // the squeeze cgroup's memory limit (blocks with squeeze > 0)
  windowSeconds: number; // the sample window just before each probe
  memIntensity: number; // what mem: 1 asks of the mem stressor
  maxQuietWaits: number; // windows a probe may wait for the host's other users to go quiet
  blocks: PlanBlock[];
}

// What shapes a plan; see docs/calibration.md for the defaults.
export interface PlanOptions {
  cpus: number;
  repeats: number; // probe runs per stress block
  idleRepeats: number; // probe runs per idle block
  warmupSeconds: number; // settle time of a stress block
  seed: number;
  quick: boolean;
  probeScale?: number; // default 1 (0.02 for --quick)
  // Include the memory squeeze blocks (the host can make them), or 'only' them and the idle
  // blocks between them, to add memory stall and swapping to a dataset made without; default false.
  squeeze?: boolean | 'only';
  squeezeLimitBytes?: number; // default 4 GiB
  quietWaitSeconds?: number; // how long a probe may wait for others to go quiet; default 10
}

// The squeeze cgroup's limit unless told otherwise: the probe (2 × 256 MiB at scale 1)
// is then an eighth of the squeezed host's memory.
export const DEFAULT_SQUEEZE_LIMIT = 4 * 1024 ** 3;

// One probe run as measured, before the idle baseline is known.
export interface RawRecord {
  v: 1 | 2; // 2: squeeze, probe.scale and memoryView may be present
  ts: number; // epoch ms when the probe started
  host: string;
  cpus: number;
  block: number;
  config: StressConfig;
  sample: Sample; // the window just before the probe: what the daemon would have reported
  sampleDuring: Sample; // the probe's own run
  probe: { wallSeconds: number; cpuSeconds: number; parts: ProbeResult['parts']; scale?: number };
  // 'cgroup' when sample.memory describes the squeeze cgroup (a host of its limit's
  // size) rather than the whole machine; absent otherwise.
  memoryView?: 'cgroup';
  // Share of the host's CPU time used by processes calibrate did not start (other
  // users of the host): in the sample window, and while the probe ran.
  foreign: { before: number; during: number };
  stressedSeconds: number; // since the block's stressors were all at full load
  quietWaits: number; // sample windows skipped because others were busy on the host
}

// One line of the dataset: the raw record plus its idle baseline and slowdown in percent.
export interface CalibrationLine extends RawRecord {
  idleSeconds: number;
  slowdown: number;
}

const NO_STRESS: StressConfig = { cpuHogs: 0, membw: 0, mem: 0, disk: 0 };

// Whether a configuration loads the host at all.
export function isIdleConfig(c: StressConfig): boolean {
  return c.cpuHogs + c.membw + c.mem + c.disk + (c.squeeze ?? 0) === 0;
}

// CPU hog counts, as tasks per CPU: from a free CPU for the probe (1/2) to
// oversubscribed four times over (0..8 hogs on 2 CPUs).
const CPU_LEVELS = [0, 0.5, 1, 1.5, 2, 3, 4];
// The levels the other stressors are crossed with.
const CROSS_LEVELS = [0, 0.5, 1, 2, 4];

// The CPU hog counts tried: 0 to 4 times the CPUs.
export function cpuHogLevels(cpus: number, levels: readonly number[] = CPU_LEVELS): number[] {
  return [...new Set(levels.map((f) => Math.round(f * cpus)))];
}

// The other stressors, alone and in combinations: memory bandwidth, memory nearly
// full (the whole host, and in the squeeze cgroup), memory overcommitted (swapping),
// one and two fsync'ing disk writers, everything but the squeeze together, and
// swapping with a disk writer.
function otherLoads(squeeze: boolean): Array<Omit<StressConfig, 'cpuHogs'>> {
  const loads: Array<Omit<StressConfig, 'cpuHogs'>> = [
    { membw: 1, mem: 0, disk: 0 },
    { membw: 0, mem: 1, disk: 0 },
    { membw: 0, mem: 0, disk: 1 },
    { membw: 0, mem: 0, disk: 2 },
    { membw: 1, mem: 1, disk: 1 },
  ];
  if (squeeze) {
    loads.push({ membw: 0, mem: 0, disk: 0, squeeze: 1 }, { membw: 0, mem: 0, disk: 0, squeeze: 2 }, { membw: 0, mem: 0, disk: 1, squeeze: 2 });
  }
  return loads;
}

// The design: every CPU hog level alone, and each other load crossed with the
// CROSS_LEVELS hog counts; without the all-zero (idle) one.
export function stressConfigs(cpus: number, squeeze = false): StressConfig[] {
  const out: StressConfig[] = cpuHogLevels(cpus)
    .filter((h) => h > 0)
    .map((cpuHogs) => ({ cpuHogs, membw: 0, mem: 0, disk: 0 }));
  for (const cpuHogs of cpuHogLevels(cpus, CROSS_LEVELS)) {
    for (const o of otherLoads(squeeze)) out.push({ cpuHogs, ...o });
  }
  return out;
}

// The number of tasks a configuration keeps runnable or in uninterruptible sleep,
// which is what the load average counts; 0.6 for the probe itself, which runs
// about that share of a block. The mem stressor only sleeps; the squeeze stressor
// is always either running or waiting for a page.
export function expectedLoad(config: StressConfig): number {
  return config.cpuHogs + config.membw + config.disk + ((config.squeeze ?? 0) > 0 ? 1 : 0) + 0.6;
}

const SWEEPS = 3;
const IDLE_EVERY = 2; // stress blocks between idle blocks
const SHORT_IDLE_SETTLE = 5; // s: stressors gone, writeback done
const LONG_IDLE_SETTLE = 60; // s: the 1-minute load decays to about a third

// Builds the run: the stress configurations, shuffled with the seed, dealt into
// sweeps of increasing load (so the load average mostly has to rise between blocks,
// which the boost can do, rather than fall); each sweep starts with a long idle
// block, and an idle block follows every second stress block to track drift.
export function buildPlan(o: PlanOptions): Plan {
  const blocks: PlanBlock[] = [];
  const add = (idle: boolean, config: StressConfig, probes: number, settleSeconds: number): void => {
    blocks.push({ index: blocks.length, idle, config, probes, settleSeconds, boost: !idle && !o.quick });
  };
  const squeezeLimitBytes = o.squeezeLimitBytes ?? DEFAULT_SQUEEZE_LIMIT;
  if (o.quick) {
    add(true, NO_STRESS, o.idleRepeats, o.warmupSeconds);
    add(false, { cpuHogs: 1, membw: 1, mem: 1, disk: 1 }, o.repeats, o.warmupSeconds);
    add(true, NO_STRESS, o.idleRepeats, o.warmupSeconds);
    const probeScale = o.probeScale ?? 0.02;
    return { cpus: o.cpus, seed: o.seed, quick: true, probeScale, squeezeLimitBytes, windowSeconds: 0.3, memIntensity: 0.01, maxQuietWaits: 0, blocks };
  }
  const rand = seededRandom(o.seed); // a seed always gives the same plan
  const configs = stressConfigs(o.cpus, o.squeeze === true || o.squeeze === 'only').filter((c) => o.squeeze !== 'only' || (c.squeeze ?? 0) > 0);
  const byLoad = shuffled(configs, rand).sort((a, b) => expectedLoad(a) - expectedLoad(b));
  const sweeps: StressConfig[][] = Array.from({ length: SWEEPS }, () => []);
  byLoad.forEach((c, i) => sweeps[i % SWEEPS]!.push(c));
  for (const sweep of sweeps) {
    add(true, NO_STRESS, o.idleRepeats, Math.max(LONG_IDLE_SETTLE, o.warmupSeconds));
    sweep.forEach((c, i) => {
      add(false, c, o.repeats, o.warmupSeconds);
      if ((i + 1) % IDLE_EVERY === 0 && i + 1 < sweep.length) add(true, NO_STRESS, o.idleRepeats, SHORT_IDLE_SETTLE);
    });
  }
  add(true, NO_STRESS, o.idleRepeats, LONG_IDLE_SETTLE);
  const windowSeconds = 2;
  const maxQuietWaits = Math.ceil((o.quietWaitSeconds ?? 10) / windowSeconds);
  return { cpus: o.cpus, seed: o.seed, quick: false, probeScale: o.probeScale ?? 1, squeezeLimitBytes, windowSeconds, memIntensity: 1, maxQuietWaits, blocks };
}

// The probe's wall time on an idle 2-vCPU EPYC VM, for estimates only.
const IDLE_PROBE_SECONDS = 2.3;

// A rough run time: the probe gets cpus / runnable tasks of the CPU once they
// outnumber the CPUs, and takes about 4 times as long in the squeeze; boosts are
// guessed at 20 s and filling memory at 40 s.
export function estimateSeconds(plan: Plan, idleProbeSeconds = IDLE_PROBE_SECONDS): number {
  let total = 0;
  for (const b of plan.blocks) {
    const squeeze = b.config.squeeze ?? 0;
    const runnable = b.config.cpuHogs + b.config.membw + (squeeze > 0 ? 1 : 0) + 1;
    const wall = idleProbeSeconds * plan.probeScale * Math.max(1, runnable / plan.cpus) * (squeeze > 0 ? 4 : 1) + 0.1;
    total += b.settleSeconds + b.probes * (plan.windowSeconds + wall);
    if (b.boost) total += 20;
    if ((b.config.mem > 0 || squeeze > 0) && !plan.quick) total += 40;
  }
  return total;
}

// A configuration in words, as the plan, the progress lines and the summary name it.
export function describe(c: StressConfig): string {
  if (isIdleConfig(c)) return 'idle';
  const squeeze = c.squeeze ?? 0;
  return `cpu=${c.cpuHogs} membw=${c.membw} mem=${c.mem === 0 ? 'none' : 'high'} disk=${c.disk}${squeeze > 0 ? ` squeeze=${squeeze === 1 ? 'full' : 'swap'}` : ''}`;
}

// seconds as min:ss, for the plan and the progress lines.
export function minutes(seconds: number): string {
  const m = Math.floor(seconds / 60);
  return `${m}:${String(Math.round(seconds - m * 60)).padStart(2, '0')}`;
}

// The plan as text, for --dry-run.
export function formatPlan(plan: Plan): string {
  const probes = plan.blocks.reduce((n, b) => n + b.probes, 0);
  const lines = plan.blocks.map(
    (b) => `  ${String(b.index + 1).padStart(3)}  ${describe(b.config).padEnd(36)} ${String(b.probes).padStart(3)} probes, settle ${b.settleSeconds} s${b.boost ? ' + boost' : ''}`,
  );
  return [
    `Calibration plan for ${plan.cpus} CPUs, seed ${plan.seed}${plan.quick ? ' (quick)' : ''}: ${plan.blocks.length} blocks, ${probes} probe runs.`,
    ...lines,
    `Estimated duration: ${minutes(estimateSeconds(plan))} (min:s), rough.`,
  ].join('\n');
}

// A probe starts only after a sample window in which others used at most this share
// of the CPUs, or after maxQuietWaits windows.
export const QUIET_FOREIGN_CPU = 0.1;

// Idle runs whose probe shared the host with more foreign CPU use than this are not
// used as a baseline (another user's job would make every slowdown look smaller).
// Kernel work done for calibrate's processes is not attributed to them: a quiet host
// shows 1-5% in idle runs and up to 8% beside many stressors.
export const CLEAN_FOREIGN_CPU = 0.1;
// Idle runs the baseline takes the median of, nearest in time.
export const BASELINE_NEAREST = 6;

// The idle wall time for record i: the median wall time of the BASELINE_NEAREST idle
// runs nearest in time to it (never itself), among the clean ones if at least three
// are clean. Undefined when there is no other idle run.
export function idleBaseline(records: readonly RawRecord[], i: number): number | undefined {
  const me = records[i];
  if (me === undefined) return undefined;
  const idle = records.filter((r, j) => j !== i && isIdleConfig(r.config));
  const clean = idle.filter((r) => Math.max(r.foreign.before, r.foreign.during) <= CLEAN_FOREIGN_CPU);
  const pool = clean.length >= 3 ? clean : idle;
  if (pool.length === 0) return undefined;
  const nearest = [...pool].sort((a, b) => Math.abs(a.ts - me.ts) - Math.abs(b.ts - me.ts)).slice(0, BASELINE_NEAREST);
  return median(nearest.map((r) => r.probe.wallSeconds));
}

// Adds each record's idle baseline and slowdown; records without a baseline are left out.
export function finalizeRecords(records: readonly RawRecord[]): CalibrationLine[] {
  const out: CalibrationLine[] = [];
  records.forEach((r, i) => {
    const baseline = idleBaseline(records, i);
    if (baseline === undefined) return;
    // From the stored (rounded) baseline, so every line's slowdown can be recomputed exactly from it.
    const idleSeconds = roundSignificant(baseline);
    out.push({ ...r, idleSeconds, slowdown: roundSignificant(100 * (r.probe.wallSeconds / idleSeconds - 1)) });
  });
  return out;
}

// x rounded to `digits` significant digits; integers (timestamps, byte counts) unchanged.
export function roundSignificant(x: number, digits = 4): number {
  if (!Number.isFinite(x) || Number.isInteger(x) || x === 0) return x;
  return Number(x.toPrecision(digits));
}

function roundDeep<T>(value: T): T {
  if (typeof value === 'number') return roundSignificant(value) as T;
  if (Array.isArray(value)) return value.map((v) => roundDeep(v)) as T;
  if (typeof value === 'object' && value !== null) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, roundDeep(v)])) as T;
  }
  return value;
}

// A sample as stored in the dataset: every number to 4 significant digits, all
// parts kept (per-device and per-interface lists are one entry each on a VM).
export function compactSample(sample: Sample): Sample {
  return roundDeep(sample);
}

// CPU seconds (user + system) a process has used, from /proc/<pid>/stat; undefined
// once it is gone. Ticks are USER_HZ, 100 on every Linux architecture lavarank runs on.
export function processCpuSeconds(pid: number, procRoot = '/proc'): number | undefined {
  let text: string;
  try {
    text = readFileSync(join(procRoot, String(pid), 'stat'), 'latin1');
  } catch {
    return undefined; // exited: its time is no longer attributable
  }
  const fields = procStatFields(text);
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  return Number.isFinite(utime) && Number.isFinite(stime) ? (utime + stime) / 100 : undefined;
}

// The progress display: one line rewritten in place on a terminal, log lines otherwise.
interface Progress {
  status(line: string, important?: boolean): void; // on a terminal every status, otherwise only important ones
  note(line: string): void; // always, on a line of its own
}

function createProgress(tty: boolean, clock: Clock, say: (text: string) => void): Progress {
  let onStatusLine = false;
  const stamp = (): string => new Date(clock.now()).toISOString().slice(11, 19);
  return {
    status(line, important = false) {
      if (tty) {
        // Cursor up one line and clear it: the status stays on one line and every
        // write still ends with a newline.
        say(`${onStatusLine ? '\x1b[1A\r\x1b[2K' : ''}${line}`);
        onStatusLine = true;
      } else if (important) {
        say(`${stamp()} ${line}`);
      }
    },
    note(line) {
      say(tty ? line : `${stamp()} ${line}`);
      onStatusLine = false;
    },
  };
}

// The stressors of one block, started together and stopped together.
export class StressorGroup {
  private readonly controller = new AbortController();
  private readonly children: ChildProcess[] = [];
  private readonly kinds = new Map<ChildProcess, StressKind>();
  private readonly unlink: () => void;

  constructor(
    runSignal: AbortSignal,
    private readonly dir: string,
  ) {
    // Each stressor adds a listener to the group's signal (execa's cancelSignal), and so
    // does each wait for its readiness: a block of 8 hogs, a disk writer and the boost's
    // extra hogs passes Node's default of 10 and printed a MaxListenersExceededWarning.
    // Not a leak: the group, its signal and their listeners are dropped with the block.
    setMaxListeners(0, this.controller.signal);
    const abort = (): void => this.controller.abort();
    if (runSignal.aborted) abort();
    runSignal.addEventListener('abort', abort, { once: true });
    this.unlink = () => runSignal.removeEventListener('abort', abort);
  }

  // Starts `count` stressors of a kind and waits until each says it is at full load.
  async start(kind: StressKind, count: number, intensity = 1, extra: readonly string[] = [], readyTimeoutMs = 180_000): Promise<void> {
    const started: ChildProcess[] = [];
    for (let i = 0; i < count; i++) {
      const args = [...CHILD_NODE_FLAGS, STRESS_PATH, kind, '--intensity', String(intensity), '--dir', this.dir, '--parent', String(process.pid), ...extra];
      const { child } = await spawnLongRunning(process.execPath, args, { signal: this.controller.signal });
      this.children.push(child);
      this.kinds.set(child, kind);
      started.push(child);
    }
    await Promise.all(started.map((c) => this.ready(c, kind, readyTimeoutMs)));
  }

  private async ready(child: ChildProcess, kind: string, timeoutMs: number): Promise<void> {
    const lines = createInterface({ input: child.stdout });
    let timer: NodeJS.Timeout | undefined;
    let onAbort: (() => void) | undefined;
    try {
      await new Promise<void>((resolve, reject) => {
        lines.on('line', (line) => {
          if (line.includes('"ready":true')) resolve();
        });
        void child.then((r) => reject(new Error(`the ${kind} stressor exited before it was ready (${r.exitCode ?? r.signal ?? 'unknown'})`)));
        timer = setTimeout(() => reject(new Error(`the ${kind} stressor was not ready within ${timeoutMs / 1000} s`)), timeoutMs);
        if (this.controller.signal.aborted) reject(new Error('interrupted'));
        onAbort = () => reject(new Error('interrupted'));
        this.controller.signal.addEventListener('abort', onAbort, { once: true });
      });
    } finally {
      clearTimeout(timer);
      if (onAbort !== undefined) this.controller.signal.removeEventListener('abort', onAbort);
    }
  }

  // The pids of the stressors still running.
  pids(): number[] {
    return this.children.filter((c) => c.exitCode === null && c.signalCode === null && c.pid !== undefined).map((c) => c.pid!);
  }

  // The kind of a stressor that exited while it should be running (the OOM killer,
  // a crash), if any: the block's load is no longer what its config says.
  lost(): StressKind | undefined {
    const gone = this.children.find((c) => c.exitCode !== null || c.signalCode !== null);
    return gone === undefined ? undefined : this.kinds.get(gone);
  }

  // Sends SIGTERM (SIGKILL a second later) to all and waits until every one has exited.
  async stop(): Promise<void> {
    this.controller.abort();
    await Promise.all(this.children);
    this.unlink();
  }

  // The last resort when a second signal forces exit: SIGKILL now, no waiting.
  killNow(): void {
    for (const pid of this.pids()) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  }
}

// What one calibration run needs from its surroundings.
interface RunContext {
  plan: Plan;
  squeeze: SqueezeCgroup | undefined; // made by prepareHost when the plan has squeeze blocks
  sampler: Sampler;
  clock: Clock;
  signal: AbortSignal;
  dir: string; // calibrate's temporary directory, for the probe's and the disk stressor's files
  progress: Progress;
  onRecord: (record: RawRecord) => void;
  groups: Set<StressorGroup>; // live groups, for the forced exit
}

function readLoad1(): number {
  return parseLoadavg(readFileSync('/proc/loadavg', 'latin1')).load1;
}

// Seconds of extra hogs that bring the 1-minute load from load1 to target: the
// kernel's average follows the runnable count with a 60 s time constant, so with
// target + extra tasks it reaches target after 60 s × ln((extra + target − load1) / extra).
export function boostSeconds(load1: number, target: number, extra: number): number {
  if (load1 >= 0.9 * target || extra <= 0) return 0;
  return Math.min(60, 60 * Math.log((extra + target - load1) / extra));
}

async function startStressors(ctx: RunContext, config: StressConfig): Promise<StressorGroup> {
  const group = new StressorGroup(ctx.signal, ctx.dir);
  ctx.groups.add(group);
  try {
    // Filling most of the memory can take minutes on a busy host.
    if (config.mem > 0) await group.start('mem', 1, ctx.plan.memIntensity, [], 900_000);
    const squeeze = config.squeeze ?? 0;
    if (squeeze > 0) {
      if (ctx.squeeze === undefined) throw new Error('a squeeze block without a squeeze cgroup (prepareHost did not make one)');
      const bytes = Math.round((SQUEEZE_FILL[squeeze] ?? 1) * ctx.squeeze.limitBytes);
      await group.start('squeeze', 1, 1, ['--bytes', String(bytes), '--cgroup', ctx.squeeze.dir], 900_000);
    }
    if (config.cpuHogs > 0) await group.start('cpu', config.cpuHogs);
    if (config.membw > 0) await group.start('membw', config.membw);
    if (config.disk > 0) await group.start('disk', config.disk);
  } catch (err) {
    await stopStressors(ctx, group);
    throw err;
  }
  return group;
}

async function stopStressors(ctx: RunContext, group: StressorGroup): Promise<void> {
  await group.stop();
  ctx.groups.delete(group);
}

function cpuOf(pids: readonly number[]): Map<number, number> {
  const out = new Map<number, number>();
  for (const pid of pids) {
    const s = processCpuSeconds(pid);
    if (s !== undefined) out.set(pid, s);
  }
  return out;
}

function cpuSince(start: NodeJS.CpuUsage): number {
  const used = process.cpuUsage(start);
  return (used.user + used.system) / 1e6;
}

function stressorCpu(before: ReadonlyMap<number, number>, after: ReadonlyMap<number, number>): number {
  let sum = 0;
  for (const [pid, s] of after) sum += s - (before.get(pid) ?? s);
  return sum;
}

// The share of all CPUs' time over a window that calibrate's own processes (ours,
// in CPU seconds) do not account for; 0 without a CPU reading.
function foreignShare(sample: Sample, cpus: number, seconds: number, ours: number): number {
  const busy = sample.cpu?.busy;
  const online = sample.cpu?.online ?? cpus;
  if (busy === undefined || seconds <= 0) return 0;
  return Math.max(0, busy * online * seconds - ours) / (online * seconds);
}

async function runProbeOnce(ctx: RunContext, block: PlanBlock, group: StressorGroup | undefined, stressedSince: number): Promise<RawRecord> {
  const { plan, sampler, clock } = ctx;
  const pids = group?.pids() ?? [];
  sampler.sample();
  let w0 = clock.monotonic();
  let stressW0 = cpuOf(pids);
  let selfW0 = process.cpuUsage();
  let sample: Sample;
  let before: number;
  let quietWaits = 0;
  for (;;) {
    await clock.sleep(plan.windowSeconds * 1000, ctx.signal);
    sample = sampler.sample();
    const now = clock.monotonic();
    const stressNow = cpuOf(pids);
    const selfNow = process.cpuUsage();
    before = foreignShare(sample, plan.cpus, (now - w0) / 1000, cpuSince(selfW0) + stressorCpu(stressW0, stressNow));
    if (before <= QUIET_FOREIGN_CPU || quietWaits >= plan.maxQuietWaits) break;
    // Someone else is busy on the host: wait for a quiet window (they come and go).
    quietWaits++;
    [w0, stressW0, selfW0] = [now, stressNow, selfNow];
  }
  // In a squeeze block the probe runs in the squeeze cgroup, and the samples describe
  // that cgroup's memory: the host the block emulates is one of the limit's size.
  const squeezed = (block.config.squeeze ?? 0) > 0 ? ctx.squeeze : undefined;
  if (squeezed !== undefined) sample = withCgroupMemory(sample, squeezed);
  const t0 = clock.monotonic();
  const ts = clock.now();
  const stressBefore = cpuOf(pids);
  const selfBefore = process.cpuUsage();
  const probeArgs = [...CHILD_NODE_FLAGS, PROBE_PATH, '--scale', String(plan.probeScale), '--dir', ctx.dir, ...(squeezed === undefined ? [] : ['--cgroup', squeezed.dir])];
  const result = await runCommand(process.execPath, probeArgs, { timeoutMs: 600_000, signal: ctx.signal });
  let sampleDuring = sampler.sample();
  if (squeezed !== undefined) sampleDuring = withCgroupMemory(sampleDuring, squeezed);
  const elapsed = (clock.monotonic() - t0) / 1000;
  ctx.signal.throwIfAborted();
  if (result.failed) throw new Error(`the probe failed: ${result.reason ?? 'unknown'}; ${result.stderr.trim()}`);
  const probe = JSON.parse(result.stdout) as ProbeResult;
  const ours = probe.processCpuSeconds + cpuSince(selfBefore) + stressorCpu(stressBefore, cpuOf(pids));
  const during = foreignShare(sampleDuring, plan.cpus, elapsed, ours);
  return {
    v: 2,
    ts,
    host: hostname(),
    cpus: sample.load?.online ?? plan.cpus,
    block: block.index,
    config: block.config,
    sample: compactSample(sample),
    sampleDuring: compactSample(sampleDuring),
    probe: roundDeep({ wallSeconds: probe.wallSeconds, cpuSeconds: probe.cpuSeconds, parts: probe.parts, scale: plan.probeScale }),
    foreign: { before: roundSignificant(before, 3), during: roundSignificant(during, 3) },
    stressedSeconds: roundSignificant((clock.monotonic() - stressedSince) / 1000, 3),
    quietWaits,
    ...(squeezed === undefined ? {} : { memoryView: 'cgroup' as const }),
  };
}

// A sample whose memory part describes the squeeze cgroup instead of the machine.
function withCgroupMemory(sample: Sample, cgroup: SqueezeCgroup): Sample {
  if (sample.memory === undefined) return sample;
  return { ...sample, memory: squeezedMemory(sample.memory, cgroupMemoryUse(cgroup), cgroup.limitBytes) };
}

async function runBlock(ctx: RunContext, block: PlanBlock, position: { done: number; total: number; startedMs: number }): Promise<void> {
  const { clock, progress, plan } = ctx;
  const label = `block ${block.index + 1}/${plan.blocks.length} ${describe(block.config)}`;
  const eta = (): string => {
    const elapsed = (clock.monotonic() - position.startedMs) / 1000;
    const rest = plan.blocks.slice(block.index);
    const left = estimateSeconds({ ...plan, blocks: rest });
    return `elapsed ${minutes(elapsed)}, about ${minutes(left)} left`;
  };
  progress.status(`${label}: starting stressors (${eta()})`, true);
  let group: StressorGroup | undefined;
  try {
    if (!block.idle) {
      try {
        group = await startStressors(ctx, block.config);
      } catch (err) {
        ctx.signal.throwIfAborted();
        // A stressor that cannot reach full load (memory filled too slowly on a busy
        // host, a cgroup refused) loses its block, not the whole run.
        progress.note(`${label}: skipped: ${errorMessage(err)}`);
        return;
      }
    }
    const readyAt = clock.monotonic();
    if (block.boost) {
      const target = expectedLoad(block.config);
      const extra = Math.ceil(target);
      const seconds = boostSeconds(readLoad1(), target, extra);
      if (seconds > 0) {
        progress.status(`${label}: boosting the load average for ${seconds.toFixed(0)} s`);
        const booster = await startStressors(ctx, { cpuHogs: extra, membw: 0, mem: 0, disk: 0 });
        try {
          await clock.sleep(seconds * 1000, ctx.signal);
        } finally {
          await stopStressors(ctx, booster);
        }
      }
    }
    progress.status(`${label}: settling for ${block.settleSeconds} s (load1 ${readLoad1().toFixed(2)})`);
    await clock.sleep(block.settleSeconds * 1000, ctx.signal);
    for (let i = 0; i < block.probes; i++) {
      const record = await runProbeOnce(ctx, block, group, readyAt);
      const lost = group?.lost();
      if (lost !== undefined) {
        // Its runs would be labelled with a load that was not there: drop this one and the rest.
        progress.note(`${label}: the ${lost} stressor exited on its own; skipping the rest of this block`);
        break;
      }
      ctx.onRecord(record);
      position.done++;
      const line =
        `[${position.done}/${position.total}] ${label}: probe ${i + 1}/${block.probes} ${record.probe.wallSeconds.toFixed(2)} s` +
        ` load1 ${record.sample.load?.load1 ?? '?'} foreign ${(record.foreign.during * 100).toFixed(0)}% (${eta()})`;
      progress.status(line, true);
    }
  } finally {
    if (group !== undefined) await stopStressors(ctx, group);
  }
}

async function runPlan(ctx: RunContext): Promise<void> {
  const total = ctx.plan.blocks.reduce((n, b) => n + b.probes, 0);
  const position = { done: 0, total, startedMs: ctx.clock.monotonic() };
  for (const block of ctx.plan.blocks) {
    ctx.signal.throwIfAborted();
    await runBlock(ctx, block, position);
  }
}

// Writes the dataset as JSON lines, atomically: an interrupted write leaves no half file.
export function writeLines(path: string, lines: readonly object[]): void {
  writeFileAtomic(path, lines.map((l) => `${JSON.stringify(l)}\n`).join(''), 0o644, { what: 'dataset directory' });
}

// Reads raw records back from a journal (one JSON object a line, a torn last line ignored).
export function readJournal(text: string, file = 'journal'): RawRecord[] {
  const out: RawRecord[] = [];
  const lines = stripBom(text).split('\n');
  lines.forEach((line, i) => {
    if (line.trim() === '') return;
    let record: unknown;
    try {
      record = JSON.parse(line);
    } catch (err) {
      if (i < lines.length - 1) throw new Error(`${file} line ${i + 1}: ${errorMessage(err)}`, { cause: err });
      return;
    }
    // The fields finalizing reads (a finished dataset has them too, and finalizes again
    // the same); anything else (a history line, a synthetic row) is not a journal.
    const r = record as Partial<RawRecord> | null;
    const numbers = (o: unknown, keys: string[]): boolean => typeof o === 'object' && o !== null && keys.every((k) => typeof (o as Record<string, unknown>)[k] === 'number');
    // foreign and every stressor count are read by the baseline (which runs are idle and clean).
    if (
      !numbers(r, ['ts', 'cpus', 'block']) ||
      !numbers(r?.config, ['cpuHogs', 'membw', 'mem', 'disk']) ||
      !['number', 'undefined'].includes(typeof r?.config?.squeeze) ||
      !numbers(r?.probe, ['wallSeconds', 'cpuSeconds']) ||
      !numbers(r?.foreign, ['before', 'during']) ||
      typeof r?.sample !== 'object'
    ) {
      throw new Error(`${file} line ${i + 1}: not a calibration journal record (expected ts, cpus, block, config, probe, foreign and sample, as calibrate writes them to <out>.partial)`);
    }
    out.push(record as RawRecord);
  });
  return out;
}


// The slowdown by configuration as a Markdown table: every run, and the runs that
// shared the host with nobody (others used at most CLEAN_FOREIGN_CPU of it).
export function summaryTable(lines: readonly CalibrationLine[]): string {
  const groups = new Map<string, { config: StressConfig; all: number[]; clean: number[] }>();
  for (const l of lines) {
    const key = describe(l.config);
    const g = groups.get(key) ?? { config: l.config, all: [], clean: [] };
    g.all.push(l.slowdown);
    if (l.foreign.before <= CLEAN_FOREIGN_CPU && l.foreign.during <= CLEAN_FOREIGN_CPU) g.clean.push(l.slowdown);
    groups.set(key, g);
  }
  const order = (c: StressConfig): number[] => [10 * (c.squeeze ?? 0) + (c.membw + c.mem + c.disk === 3 ? 9 : c.membw * 1 + c.mem * 2 + c.disk * 3), c.cpuHogs];
  const sorted = [...groups.values()].sort((a, b) => {
    const [x, y] = [order(a.config), order(b.config)];
    return x[0]! - y[0]! || x[1]! - y[1]!;
  });
  const mean = (v: number[]): string => (v.length === 0 ? '' : (v.reduce((s, x) => s + x, 0) / v.length).toFixed(1));
  const rows = sorted.map((g) => {
    const c = g.config;
    const squeeze = ['none', 'full', 'swap'][c.squeeze ?? 0] ?? String(c.squeeze);
    return `| ${c.cpuHogs} | ${c.membw} | ${c.mem === 0 ? 'none' : 'high'} | ${c.disk} | ${squeeze} | ${g.all.length} | ${mean(g.all)} | ${Math.min(...g.all).toFixed(1)} | ${Math.max(...g.all).toFixed(1)} | ${g.clean.length} | ${mean(g.clean)} |`;
  });
  return [
    '| CPU hogs | membw | mem | disk | squeeze | n | mean % | min % | max % | n clean | mean clean % |',
    '|---:|---:|:---|---:|:---|---:|---:|---:|---:|---:|---:|',
    ...rows,
  ].join('\n');
}

// What the host offers for the memory squeeze, checked without changing anything:
// root, a memory cgroup calibrate may make a child under, and swap (present, or a
// swap file calibrate was told to set up).
export function squeezeSupport(o: { swapFile?: string | undefined }): { ok: true } | { ok: false; why: string } {
  if (process.getuid?.() !== 0) return { ok: false, why: 'not root: cannot make a memory cgroup' };
  const where = ownMemoryCgroup();
  if ('why' in where) return { ok: false, why: where.why };
  try {
    accessSync(where.parent, constants.W_OK);
  } catch (err) {
    return { ok: false, why: `cannot make a cgroup under ${where.parent}: ${errorMessage(err)}` };
  }
  if (swapTotalBytes(readFileSync('/proc/meminfo', 'latin1')) === 0 && o.swapFile === undefined) {
    return { ok: false, why: 'no swap (give --swap-file FILE to let calibrate set one up for the run)' };
  }
  return { ok: true };
}

// What prepareHost set up, for the run and for releaseHost.
export interface HostSetup {
  squeeze: SqueezeCgroup | undefined;
  swapFile: string | undefined; // enabled by calibrate, to be turned off again
}

// Stage: sets up what the plan's squeeze blocks need (the swap file if asked for and
// there is no swap, then the cgroup); nothing when the plan has none. Throws with
// the step that failed, having undone the ones before it.
export async function prepareHost(plan: Plan, o: { swapFile?: string | undefined; swapBytes: number; signal: AbortSignal; say: (text: string) => void }): Promise<HostSetup> {
  const setup: HostSetup = { squeeze: undefined, swapFile: undefined };
  if (!plan.blocks.some((b) => (b.config.squeeze ?? 0) > 0)) return setup;
  const where = ownMemoryCgroup();
  if ('why' in where) throw new Error(`the plan has squeeze blocks but ${where.why}`);
  if (swapTotalBytes(readFileSync('/proc/meminfo', 'latin1')) === 0) {
    if (o.swapFile === undefined) throw new Error('the plan has squeeze blocks but the host has no swap; give --swap-file');
    o.say(`lavarank calibrate: enabling a ${(o.swapBytes / 1024 ** 3).toFixed(1)} GiB swap file ${o.swapFile} for the run`);
    await enableSwapFile(o.swapFile, o.swapBytes, o.signal);
    setup.swapFile = o.swapFile;
  }
  try {
    setup.squeeze = createSqueezeCgroup(where, `lavarank-calibrate-${process.pid}`, plan.squeezeLimitBytes);
  } catch (err) {
    await releaseHost(setup);
    throw err;
  }
  return setup;
}

// Stage: undoes prepareHost once every stressor and probe has exited; returns what
// could not be undone.
export async function releaseHost(setup: HostSetup): Promise<string[]> {
  const problems: string[] = [];
  if (setup.squeeze !== undefined) {
    // A process that was just killed may take a moment to leave the cgroup.
    let removed = false;
    for (let i = 0; i < 50 && !removed; i++) {
      removed = removeCgroup(setup.squeeze.dir);
      if (!removed) await new Promise((r) => setTimeout(r, 100));
    }
    if (!removed) problems.push(`cannot remove the squeeze cgroup ${setup.squeeze.dir} (rmdir it once empty)`);
  }
  if (setup.swapFile !== undefined) {
    const why = await disableSwapFile(setup.swapFile);
    if (why !== undefined) problems.push(why);
  }
  return problems;
}

// Stage: the dataset from the runs, written atomically, and the journal removed;
// returns the lines written (none: nothing written). A dataset that cannot be written
// (a full disk, hours into the run) leaves the journal, and the error says how to
// finish from it.
export function writeDataset(out: string, journalPath: string, records: readonly RawRecord[]): CalibrationLine[] {
  const lines = finalizeRecords(records);
  if (lines.length > 0) {
    try {
      writeLines(out, lines);
    } catch (err) {
      throw new Error(
        `${err instanceof UnsyncedRename ? err.message : `could not write ${out}: ${errorReason(err)}`}; the runs are kept in ${journalPath}: "lavarank calibrate --finalize ${journalPath} --out FILE" writes the dataset from them`,
        { cause: err },
      );
    }
  }
  rmSync(journalPath, { force: true });
  return lines;
}

// statfs(2) types of the file systems that hold their files in memory (linux/magic.h).
const MEMORY_FILESYSTEMS: ReadonlyMap<number, string> = new Map([
  [0x01021994, 'tmpfs'],
  [0x858458f6, 'ramfs'],
]);

// Why $TMPDIR (dir), where calibrate's work directory goes, cannot hold the probe's
// and the disk stressor's files, or undefined: on a file system in memory their fsync'd writes
// reach no disk, so the disk blocks would be labelled with load that was not there.
export function scratchProblem(dir: string, fsType: (dir: string) => number = (d) => statfsSync(d).type): string | undefined {
  const kind = MEMORY_FILESYSTEMS.get(fsType(dir));
  if (kind === undefined) return undefined;
  return (
    `the probe's and the disk stressor's files would go to the temporary directory ${dir}, on ${kind} (in memory): their fsync'd writes would reach no disk, ` +
    `and the disk blocks would be labelled with a load that was not there; set TMPDIR to a directory on the local disk jobs use for scratch`
  );
}

// Makes the journal anew, never opening what is at its path: calibrate runs as root,
// often from a directory others can write (/tmp), where a link planted at the name
// would have root create or empty the file it points to. The command refused a path
// that exists unless --force, which replaces the entry, never what a link names.
export function createJournal(path: string): number {
  try {
    unlinkSync(path);
  } catch (err) {
    if (errorCode(err) !== 'ENOENT') throw err;
  }
  return openSync(path, constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o644);
}

// Appends one record to the journal as a whole line, or throws naming the journal. A
// full disk may take part of a line without an error (a short write): the rest is
// written, and if that fails what went in is cut back, so that a line appended once
// space returns (a disk writer's file deleted) never joins a torn one, which would
// make --finalize refuse the whole journal.
export function appendJournal(fd: number, path: string, record: RawRecord, write: (fd: number, buf: Buffer, offset: number) => number = writeSync): void {
  const buf = Buffer.from(`${JSON.stringify(record)}\n`);
  const size = fstatSync(fd).size;
  let off = 0;
  try {
    while (off < buf.length) off += write(fd, buf, off);
  } catch (err) {
    if (off > 0) ftruncateSync(fd, size);
    throw new Error(`cannot append a run to the journal ${path}: ${errorReason(err)}`, { cause: err });
  }
}

// Runs the calibration: prepareHost → runPlan (each run appended to the journal as it
// ends) → releaseHost → writeDataset. `say` receives progress and problems for the
// terminal. Resolves to the exit status: 0 done, 1 failed, 129/130/143 stopped by SIGHUP/SIGINT/SIGTERM.
export async function calibrate(o: {
  plan: Plan;
  out: string;
  journalPath: string;
  config: Readonly<Config>;
  log: Logger;
  say: (text: string) => void;
  swapFile?: string | undefined;
  swapBytes?: number;
}): Promise<number> {
  const { plan, out, journalPath, log } = o;
  const clock = systemClock;
  const controller = new AbortController();
  const groups = new Set<StressorGroup>();
  const progress = createProgress(process.stderr.isTTY === true, clock, o.say);
  const records: RawRecord[] = [];
  let dir: string | undefined; // made once the signals are handled, so that a signal never leaves it behind
  let setup: HostSetup = { squeeze: undefined, swapFile: undefined };
  let stopSignal: NodeJS.Signals | undefined;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (stopSignal === undefined) {
      stopSignal = signal;
      progress.note(`lavarank calibrate: ${signal}: stopping the stressors and writing the runs done so far (again to exit at once)`);
      controller.abort();
      return;
    }
    // Second signal: no more waiting. Stressors that escape SIGKILL still leave on
    // their own within a second, when they see they were reparented.
    for (const g of groups) g.killNow();
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
    const left = [setup.squeeze === undefined ? '' : ` the cgroup ${setup.squeeze.dir}`, setup.swapFile === undefined ? '' : ` the swap file ${setup.swapFile} (swapoff it)`].join('');
    o.say(`lavarank calibrate: ${signal} again: exiting now; the runs so far are in ${journalPath}${left === '' ? '' : `; left behind:${left}`}`);
    process.exit(1);
  };
  for (const s of STOP_SIGNALS) process.on(s, onSignal);
  let journal: number;
  try {
    const scratch = workDirectoryProblem(tmpdir(), 'TMPDIR') ?? scratchProblem(tmpdir());
    if (scratch !== undefined) throw new ConfigError(scratch);
    dir = mkdtempSync(join(tmpdir(), 'lavarank-calibrate-'));
    journal = createJournal(journalPath);
  } catch (err) {
    for (const s of STOP_SIGNALS) process.removeListener(s, onSignal);
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  const sampler = createSampler({ collectors: collectorsFromConfig(o.config, { log, signal: controller.signal, clock }), clock, log });
  let failure: unknown;
  try {
    progress.note(`lavarank calibrate: ${plan.blocks.length} blocks, ${plan.blocks.reduce((n, b) => n + b.probes, 0)} probe runs, about ${minutes(estimateSeconds(plan))} (min:s); writing ${out}`);
    setup = await prepareHost(plan, { swapFile: o.swapFile, swapBytes: o.swapBytes ?? 2 * plan.squeezeLimitBytes, signal: controller.signal, say: progress.note });
    await runPlan({
      plan,
      squeeze: setup.squeeze,
      sampler,
      clock,
      signal: controller.signal,
      dir,
      progress,
      groups,
      onRecord: (r) => {
        // Journal first: the dataset and a --finalize of the journal hold the same runs.
        appendJournal(journal, journalPath, r);
        records.push(r);
      },
    });
  } catch (err) {
    if (!controller.signal.aborted) failure = err;
  } finally {
    controller.abort();
    // Groups stop themselves as their blocks unwind; this catches any left by an exception.
    await Promise.all([...groups].map((g) => g.stop()));
    sampler.close();
    closeSync(journal);
    rmSync(dir, { recursive: true, force: true });
    for (const problem of await releaseHost(setup)) progress.note(`lavarank calibrate: ${problem}`);
    for (const s of STOP_SIGNALS) process.removeListener(s, onSignal);
  }
  const lines = writeDataset(out, journalPath, records);
  if (lines.length > 0) progress.note(`lavarank calibrate: wrote ${lines.length} lines to ${out}; slowdown by configuration:\n${summaryTable(lines)}`);
  else progress.note('lavarank calibrate: no probe run with an idle baseline; nothing written');
  if (failure !== undefined) {
    o.say(`lavarank calibrate: ${errorMessage(failure)}`);
    return 1;
  }
  // 128 + the signal's number, as a shell reports a process the signal ended.
  if (stopSignal !== undefined) return 128 + osConstants.signals[stopSignal];
  return 0;
}
