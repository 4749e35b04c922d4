// `lavarank calibrate` (also scripts/calibrate): measures, on the host it runs on,
// how much a fixed probe job slows down under controlled background load, and what
// lavarank's own collectors saw just before each probe started. The JSON-lines
// dataset it writes is what the default model is trained on. The design, the
// warm-up and the idle baseline are explained in docs/calibration.md.
import { createInterface } from 'node:readline';
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { availableParallelism, hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Logger } from 'pino';
import { writeFileAtomic } from '../util/atomic-file.js';
import { systemClock, type Clock } from '../util/clock.js';
import { parseLoadavg } from '../collectors/loadavg.js';
import type { Sample } from '../collectors/types.js';
import type { Config } from '../config.js';
import { errorMessage } from '../util/errors.js';
import { runCommand, spawnLongRunning, type ChildProcess } from '../util/exec.js';
import { seededRandom, shuffled } from '../util/random.js';
import type { ProbeResult } from './probe.js';
import { collectorsFromConfig, createSampler, type Sampler } from '../daemon/sampler.js';
import { median } from '../util/stats.js';
import type { StressKind } from './stress.js';

const PROBE_PATH = fileURLToPath(new URL('./probe.js', import.meta.url));
const STRESS_PATH = fileURLToPath(new URL('./stress.js', import.meta.url));

// The background load of one block: how many of each stressor runs. mem is 0 (none)
// or 1 (high: MemAvailable brought down to about 3 GiB); the others are process counts.
export interface StressConfig {
  cpuHogs: number;
  membw: number;
  mem: number;
  disk: number;
}

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
}

// One probe run as measured, before the idle baseline is known.
export interface RawRecord {
  v: 1;
  ts: number; // epoch ms when the probe started
  host: string;
  cpus: number;
  block: number;
  config: StressConfig;
  sample: Sample; // the window just before the probe: what the daemon would have reported
  sampleDuring: Sample; // the probe's own run
  probe: { wallSeconds: number; cpuSeconds: number; parts: ProbeResult['parts'] };
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

// The CPU hog counts tried: 0, 1/2, 1, 3/2 and 2 times the CPUs (0..4 on 2 CPUs).
export function cpuHogLevels(cpus: number): number[] {
  return [...new Set([0, 0.5, 1, 1.5, 2].map((f) => Math.round(f * cpus)))];
}

// The fractional design: every CPU hog level crossed with no other stressor, each
// other stressor alone, and all three together; without the all-zero (idle) one.
export function stressConfigs(cpus: number): StressConfig[] {
  const others = [
    { membw: 0, mem: 0, disk: 0 },
    { membw: 1, mem: 0, disk: 0 },
    { membw: 0, mem: 1, disk: 0 },
    { membw: 0, mem: 0, disk: 1 },
    { membw: 1, mem: 1, disk: 1 },
  ];
  const out: StressConfig[] = [];
  for (const cpuHogs of cpuHogLevels(cpus)) {
    for (const o of others) if (cpuHogs + o.membw + o.mem + o.disk > 0) out.push({ cpuHogs, ...o });
  }
  return out;
}

// The number of tasks a configuration keeps runnable or in uninterruptible sleep,
// which is what the load average counts; 0.6 for the probe itself, which runs
// about that share of a block. The mem stressor only sleeps.
export function expectedLoad(config: StressConfig): number {
  return config.cpuHogs + config.membw + config.disk + 0.6;
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
  if (o.quick) {
    add(true, NO_STRESS, o.idleRepeats, o.warmupSeconds);
    add(false, { cpuHogs: 1, membw: 1, mem: 1, disk: 1 }, o.repeats, o.warmupSeconds);
    add(true, NO_STRESS, o.idleRepeats, o.warmupSeconds);
    return { cpus: o.cpus, seed: o.seed, quick: true, probeScale: 0.02, windowSeconds: 0.3, memIntensity: 0.01, maxQuietWaits: 0, blocks };
  }
  const rand = seededRandom(o.seed); // a seed always gives the same plan
  const byLoad = shuffled(stressConfigs(o.cpus), rand).sort((a, b) => expectedLoad(a) - expectedLoad(b));
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
  return { cpus: o.cpus, seed: o.seed, quick: false, probeScale: 1, windowSeconds: 2, memIntensity: 1, maxQuietWaits: 5, blocks };
}

// The probe's wall time on an idle 2-vCPU EPYC VM, for estimates only.
const IDLE_PROBE_SECONDS = 2.3;

// A rough run time: the probe gets cpus / runnable tasks of the CPU once they
// outnumber the CPUs; boosts are guessed at 20 s and filling memory at 40 s.
export function estimateSeconds(plan: Plan, idleProbeSeconds = IDLE_PROBE_SECONDS): number {
  let total = 0;
  for (const b of plan.blocks) {
    const runnable = b.config.cpuHogs + b.config.membw + 1;
    const wall = idleProbeSeconds * plan.probeScale * Math.max(1, runnable / plan.cpus) + 0.1;
    total += b.settleSeconds + b.probes * (plan.windowSeconds + wall);
    if (b.boost) total += 20;
    if (b.config.mem > 0 && !plan.quick) total += 40;
  }
  return total;
}

function describe(c: StressConfig): string {
  if (c.cpuHogs + c.membw + c.mem + c.disk === 0) return 'idle';
  return `cpu=${c.cpuHogs} membw=${c.membw} mem=${c.mem === 0 ? 'none' : 'high'} disk=${c.disk}`;
}

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
  const idle = records.filter((r, j) => j !== i && r.config.cpuHogs + r.config.membw + r.config.mem + r.config.disk === 0);
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
  // The command name may hold spaces and parentheses: fields start after the last ')'.
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
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
class StressorGroup {
  private readonly controller = new AbortController();
  private readonly children: ChildProcess[] = [];
  private readonly kinds = new Map<ChildProcess, StressKind>();
  private readonly unlink: () => void;

  constructor(
    runSignal: AbortSignal,
    private readonly dir: string,
  ) {
    const abort = (): void => this.controller.abort();
    if (runSignal.aborted) abort();
    runSignal.addEventListener('abort', abort, { once: true });
    this.unlink = () => runSignal.removeEventListener('abort', abort);
  }

  // Starts `count` stressors of a kind and waits until each says it is at full load.
  async start(kind: StressKind, count: number, intensity = 1, readyTimeoutMs = 180_000): Promise<void> {
    const started: ChildProcess[] = [];
    for (let i = 0; i < count; i++) {
      const args = [STRESS_PATH, kind, '--intensity', String(intensity), '--dir', this.dir];
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
    try {
      await new Promise<void>((resolve, reject) => {
        lines.on('line', (line) => {
          if (line.includes('"ready":true')) resolve();
        });
        void child.then((r) => reject(new Error(`the ${kind} stressor exited before it was ready (${r.exitCode ?? r.signal ?? 'unknown'})`)));
        timer = setTimeout(() => reject(new Error(`the ${kind} stressor was not ready within ${timeoutMs / 1000} s`)), timeoutMs);
        if (this.controller.signal.aborted) reject(new Error('interrupted'));
        this.controller.signal.addEventListener('abort', () => reject(new Error('interrupted')), { once: true });
      });
    } finally {
      clearTimeout(timer);
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
  if (config.mem > 0) await group.start('mem', 1, ctx.plan.memIntensity);
  if (config.cpuHogs > 0) await group.start('cpu', config.cpuHogs);
  if (config.membw > 0) await group.start('membw', config.membw);
  if (config.disk > 0) await group.start('disk', config.disk);
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
  const t0 = clock.monotonic();
  const ts = clock.now();
  const stressBefore = cpuOf(pids);
  const selfBefore = process.cpuUsage();
  const result = await runCommand(process.execPath, [PROBE_PATH, '--scale', String(plan.probeScale), '--dir', ctx.dir], {
    timeoutMs: 600_000,
    signal: ctx.signal,
  });
  const sampleDuring = sampler.sample();
  const elapsed = (clock.monotonic() - t0) / 1000;
  ctx.signal.throwIfAborted();
  if (result.failed) throw new Error(`the probe failed: ${result.reason ?? 'unknown'}; ${result.stderr.trim()}`);
  const probe = JSON.parse(result.stdout) as ProbeResult;
  const ours = probe.processCpuSeconds + cpuSince(selfBefore) + stressorCpu(stressBefore, cpuOf(pids));
  const during = foreignShare(sampleDuring, plan.cpus, elapsed, ours);
  return {
    v: 1,
    ts,
    host: hostname(),
    cpus: sample.load?.online ?? plan.cpus,
    block: block.index,
    config: block.config,
    sample: compactSample(sample),
    sampleDuring: compactSample(sampleDuring),
    probe: roundDeep({ wallSeconds: probe.wallSeconds, cpuSeconds: probe.cpuSeconds, parts: probe.parts }),
    foreign: { before: roundSignificant(before, 3), during: roundSignificant(during, 3) },
    stressedSeconds: roundSignificant((clock.monotonic() - stressedSince) / 1000, 3),
    quietWaits,
  };
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
    if (!block.idle) group = await startStressors(ctx, block.config);
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
  writeFileAtomic(path, lines.map((l) => `${JSON.stringify(l)}\n`).join(''));
}

// Reads raw records back from a journal (one JSON object a line, a torn last line ignored).
export function readJournal(text: string): RawRecord[] {
  const out: RawRecord[] = [];
  const lines = text.split('\n');
  lines.forEach((line, i) => {
    if (line.trim() === '') return;
    try {
      out.push(JSON.parse(line) as RawRecord);
    } catch (err) {
      if (i < lines.length - 1) throw new Error(`journal line ${i + 1}: ${errorMessage(err)}`, { cause: err });
    }
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
  const order = (c: StressConfig): number[] => [c.membw + c.mem + c.disk === 3 ? 4 : c.membw * 1 + c.mem * 2 + c.disk * 3, c.cpuHogs];
  const sorted = [...groups.values()].sort((a, b) => {
    const [x, y] = [order(a.config), order(b.config)];
    return x[0]! - y[0]! || x[1]! - y[1]!;
  });
  const mean = (v: number[]): string => (v.length === 0 ? '' : (v.reduce((s, x) => s + x, 0) / v.length).toFixed(1));
  const rows = sorted.map((g) => {
    const c = g.config;
    return `| ${c.cpuHogs} | ${c.membw} | ${c.mem === 0 ? 'none' : 'high'} | ${c.disk} | ${g.all.length} | ${mean(g.all)} | ${Math.min(...g.all).toFixed(1)} | ${Math.max(...g.all).toFixed(1)} | ${g.clean.length} | ${mean(g.clean)} |`;
  });
  return [
    '| CPU hogs | membw | mem | disk | n | mean % | min % | max % | n clean | mean clean % |',
    '|---:|---:|:---|---:|---:|---:|---:|---:|---:|---:|',
    ...rows,
  ].join('\n');
}

// Runs the calibration plan, writing the dataset to `out` (and each run as it ends to
// the journal); `say` receives progress and problems for the terminal. Resolves to the
// exit status: 0 done, 1 failed, 130/143 stopped by SIGINT/SIGTERM.
export async function calibrate(o: { plan: Plan; out: string; journalPath: string; config: Readonly<Config>; log: Logger; say: (text: string) => void }): Promise<number> {
  const { plan, out, journalPath, log } = o;
  const clock = systemClock;
  const controller = new AbortController();
  const groups = new Set<StressorGroup>();
  const dir = mkdtempSync(join(tmpdir(), 'lavarank-calibrate-'));
  const progress = createProgress(process.stderr.isTTY === true, clock, o.say);
  const records: RawRecord[] = [];
  const journal = openSync(journalPath, 'w', 0o644);
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
    rmSync(dir, { recursive: true, force: true });
    o.say(`lavarank calibrate: ${signal} again: exiting now; the runs so far are in ${journalPath}`);
    process.exit(1);
  };
  const signals = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
  for (const s of signals) process.on(s, onSignal);
  const sampler = createSampler({ collectors: collectorsFromConfig(o.config, { log, signal: controller.signal, clock }), clock, log });
  let failure: unknown;
  try {
    progress.note(`lavarank calibrate: ${plan.blocks.length} blocks, ${plan.blocks.reduce((n, b) => n + b.probes, 0)} probe runs, about ${minutes(estimateSeconds(plan))} (min:s); writing ${out}`);
    await runPlan({
      plan,
      sampler,
      clock,
      signal: controller.signal,
      dir,
      progress,
      groups,
      onRecord: (r) => {
        records.push(r);
        writeSync(journal, `${JSON.stringify(r)}\n`);
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
    for (const s of signals) process.removeListener(s, onSignal);
  }
  const lines = finalizeRecords(records);
  if (lines.length > 0) {
    writeLines(out, lines);
    rmSync(journalPath, { force: true });
    progress.note(`lavarank calibrate: wrote ${lines.length} lines to ${out}; slowdown by configuration:\n${summaryTable(lines)}`);
  } else {
    rmSync(journalPath, { force: true });
    progress.note('lavarank calibrate: no probe run with an idle baseline; nothing written');
  }
  if (failure !== undefined) {
    o.say(`lavarank calibrate: ${errorMessage(failure)}`);
    return 1;
  }
  if (stopSignal !== undefined) return stopSignal === 'SIGINT' ? 130 : 143;
  return 0;
}

