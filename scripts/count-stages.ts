// Where a report's instructions go, stage by stage: each stage of one report (the
// sampler and its collectors, the ranker, the line, the sink's take-back and write, the
// history record, the tick hook, the loop) called on its own in one process under
// `valgrind --tool=callgrind`, with the installed wrapper's V8 flags, on a generated
// node read kept open (its files the same at each sample after the first two). Each stage runs
// --calls times, each call followed by a 2 ms timer awaited; a stage's figure is its
// window less the window of that timer alone, whose own figure is the loop's wait
// (with a setTimeout callback and a setInterval beside it, for comparison). callgrind's
// counters are zeroed at a getuid() and dumped at each getgid() (process.getuid and
// process.getgid call them; after the zero nothing else does).
//
//   node dist/scripts/count-stages.js [--node small|big] [--calls 200] [--keep DIR]
//
// --keep: where to leave the callgrind dumps, the stages' the last ones in order
// (`callgrind_annotate --inclusive=yes FILE` reads them; native functions only).
// The sink is counted twice: on a FIFO whose reads move its atime (the bench's stdout,
// and a pipe(2) on kernels before 6.14), where the take-back is left out, and on one
// read through O_NOATIME, as LIM's pipe(2) is read on Linux 6.14 and later (no times
// kept), where it runs at every report.
// The figures are steady-state costs of code run back to back; the daemon runs each
// stage once per interval, and pays besides for the scavenges its allocations bring
// and the work of every sixth report (npm run count-report counts the whole daemon).
// Needs valgrind and mkfifo on the PATH.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { constants, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import { createCollectors } from '../src/collectors/index.js';
import { createSampler, type Sampler } from '../src/daemon/sampler.js';
import { fdSink, formatElimLine, type ReportSink } from '../src/daemon/report.js';
import { runElim, type Tick } from '../src/daemon/elim.js';
import { hourlySummary } from '../src/daemon/run.js';
import { historyRecord, HISTORY_HOLD, type HistoryRecord } from '../src/history/record.js';
import { loadModel, type LoadedModel } from '../src/model/model.js';
import type { RankResult, Ranker } from '../src/model/rank.js';
import type { Sample } from '../src/collectors/types.js';
import { rawFeatures, toFeatures } from '../src/model/features.js';
import { modelRanker } from '../src/model/rankers.js';
import { RotatingAppender } from '../src/util/appender.js';
import { systemClock } from '../src/util/clock.js';
import { DAEMON_NODE_FLAGS } from '../src/util/node-flags.js';
import { dumpInstructions, SMALL_NODE } from './count-report.js';
import { BIG_NODE, generateBigNode, writeCounters } from './gen-bignode.js';

const here = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

// One stage: what one report does there, or (whole) n reports its own way, without the gap.
interface Stage {
  name: string;
  run: () => void | Promise<void>;
  whole?: (n: number) => Promise<void>;
  // What the figure is less the gap's: `base` (the gap's window is subtracted, the
  // default), `self` (the window as it is: the stage waits its own way), or the name of
  // another stage whose figure is subtracted too (work the harness adds to the stage).
  less?: 'self' | string;
  contract?: boolean; // a report needs it, whatever the program: the reads-only floor does it too
}

const gap = (): Promise<void> => new Promise((r) => setTimeout(r, 2));

// Stages in the order counted. The first is the gap alone; its figure is the loop's wait.
function stagesOf(ctx: {
  sampler: Sampler;
  instant: Sampler;
  ranker: Ranker;
  model: LoadedModel;
  sample: Sample;
  result: RankResult;
  line: string;
  sink: ReportSink;
  unmarked: ReportSink;
  history: (result: RankResult) => void;
  hook: () => void;
  loop: (n: number) => Promise<void>;
  peeking: (n: number) => Promise<void>;
}): Stage[] {
  // The ranker's own input: a model without a network (the shipped one) reads the raw
  // named values alone (modelRanker), never toFeatures' scaled vector.
  const features = ctx.model.network === undefined ? (s: Sample) => ({ values: [] as number[], named: rawFeatures(s) }) : toFeatures;
  const feats = features(ctx.sample);
  const own: Array<[string, number]> = [['rank', ctx.result.rank]];
  return [
    { name: 'wait: a timer and an await', run: () => undefined, less: 'self', contract: true },
    { name: 'wait: a setTimeout callback instead', run: () => undefined, less: 'self', whole: (n) => new Promise<void>((done) => { let i = 0; const f = (): void => void (++i >= n ? done() : setTimeout(f, 2)); setTimeout(f, 2); }) },
    { name: 'wait: a setInterval instead', run: () => undefined, less: 'self', whole: (n) => new Promise<void>((done) => { let i = 0; const t = setInterval(() => { if (++i >= n) { clearInterval(t); done(); } }, 2); }) },
    { name: 'sampler and collectors', run: () => void ctx.sampler.sample(), contract: true },
    { name: '  of which the sampler\'s own (instant collectors)', run: () => void ctx.instant.sample() },
    { name: 'ranker: features, backbone, network', run: () => void ctx.ranker.rank(ctx.sample) },
    { name: `  of which ${ctx.model.network === undefined ? 'rawFeatures (no network)' : 'toFeatures'}`, run: () => void features(ctx.sample) },
    { name: '  of which the model\'s score', run: () => void ctx.model.score(feats) },
    { name: 'report line', run: () => void formatElimLine(own) },
    { name: 'sink: take-back and write', run: () => void ctx.sink.write(ctx.line), contract: true },
    { name: '  reads moving no time (LIM\'s pipe(2), 6.14+)', run: () => void ctx.unmarked.write(ctx.line) },
    { name: 'history record (a batch of 6 every 6th)', run: () => ctx.history(ctx.result) },
    { name: 'tick hook: parent check, summary', run: ctx.hook },
    { name: 'loop: runElim over instant stages, less its wait', run: () => undefined, whole: ctx.loop },
    { name: '  and a peek that does nothing, less the loop', run: () => undefined, whole: ctx.peeking, less: 'loop: runElim over instant stages, less its wait' },
    { name: '  and the sampler\'s peek itself (its read, its scan)', run: () => ctx.sampler.peek() },
  ];
}

// The child: builds every stage, warms each, then counts each in its own window.
async function child(node: 'small' | 'big', calls: number, dir: string): Promise<void> {
  const spec = node === 'big' ? BIG_NODE : SMALL_NODE;
  const roots = generateBigNode(join(dir, 'node'), spec);
  const log = pino({ level: 'info' }, pino.destination({ dest: join(dir, 'log'), sync: true }));
  const collectors = createCollectors({ procRoot: roots.procRoot, sysRoot: roots.sysRoot, detail: false, keepOpen: () => true, gpu: { enabled: false } });
  const sampler = createSampler({ collectors, clock: systemClock, log });
  sampler.sample();
  // Moved once, so that the ranker's sample has rates. Not in the windows: rewriting the
  // node's files costs twice a sample, and its garbage moved the sampler's figure by 20 %.
  writeCounters(roots, spec, 1, { inPlace: true });
  const sample = sampler.sample();
  const parts = sample as unknown as Record<string, unknown>;
  const instant = createSampler({ collectors: collectors.map((c) => ({ name: c.name, collect: () => parts[c.name] as never })), clock: systemClock, log });
  const model = loadModel(join(here, 'models/default.json'));
  const ranker = modelRanker(model);
  const result = ranker.rank(sample);
  const line = formatElimLine([['rank', result.rank]]);

  // stdout as LIM gives it: a pipe, read as it comes by another process.
  const fifo = join(dir, 'stdout');
  execFileSync('mkfifo', ['-m', '600', fifo]);
  const reader = spawn('cat', [fifo], { stdio: ['ignore', 'ignore', 'inherit'] });
  const sink = fdSink(openSync(fifo, 'w'));
  // The same through a reader whose reads leave the FIFO's atime as it was.
  const unmarkedFifo = join(dir, 'stdout-noatime');
  execFileSync('mkfifo', ['-m', '600', unmarkedFifo]);
  const unmarkedReader = spawn(process.execPath, [fileURLToPath(import.meta.url), '--reader', unmarkedFifo], { stdio: ['ignore', 'ignore', 'inherit'] });
  const unmarked = fdSink(openSync(unmarkedFifo, 'w')); // waits for the reader's open

  // As the daemon's writers hold and write history (src/daemon/run.ts, openWriters).
  const appender = new RotatingAppender({ path: join(dir, 'history', 'h.jsonl'), maxBytes: 64 * 1024 * 1024, keep: 2 });
  const held: HistoryRecord[] = [];
  const history = (r: RankResult): void => {
    held.push(historyRecord(Date.now(), 'host', r));
    if (held.length < HISTORY_HOLD) return;
    appender.appendAll(held.map((record) => JSON.stringify(record)));
    held.length = 0;
  };
  const tick: Tick = { seq: 1, ts: Date.now(), rank: result.rank, state: 'ok', outcome: 'written', line, sample, result, durationMs: 1 };
  const summarize = hourlySummary(10_000, log, () => ({}));
  const parent = process.ppid;
  let gone = 0;
  const hook = (): void => {
    if (process.ppid !== parent) gone++;
    summarize(tick);
  };
  // At 50 ms, which valgrind's slowness never puts behind schedule (a warning a report).
  // peek: the sampler's peek, whose wake the loop times beside the report's sleep.
  const loopOf = (peek?: () => void) => async (n: number): Promise<void> => {
    const rankers = { current: () => ({ name: result.model, rank: () => result }) };
    await runElim({ sampler: peek === undefined ? { sample: () => sample } : { sample: () => sample, peek }, rankers, out: { write: () => 'written' }, log, clock: systemClock, signal: new AbortController().signal, resource: 'rank', intervalMs: 50, firstReportMs: 50, pessimisticAfter: 3, pessimisticRank: 1000, maxTicks: n });
  };

  const loop = loopOf();
  const peeking = loopOf(() => undefined);
  const stages = stagesOf({ sampler, instant, ranker, model, sample, result, line, sink, unmarked, history, hook, loop, peeking });
  const pass = async (s: Stage, n: number): Promise<void> => {
    if (s.whole !== undefined) return s.whole(n);
    for (let i = 0; i < n; i++) {
      const r = s.run();
      if (r !== undefined) await r;
      await gap();
    }
  };
  for (const s of stages) await pass(s, 20);
  process.getuid?.();
  for (const s of stages) {
    await pass(s, calls);
    process.getgid?.();
  }
  reader.kill();
  unmarkedReader.kill();
  sampler.close();
  appender.abort();
  process.stdout.write(`${JSON.stringify({ stages: stages.map(({ name, less, contract }) => ({ name, less, contract })), gone })}\n`);
}

// A FIFO's read end whose reads do not move the FIFO's atime (O_NOATIME: the caller owns
// it or is root), as a pipe(2) is read on Linux 6.14 and later; opened without waiting
// for a writer, the data it reads dropped.
export function noAtimeReadEnd(path: string): Socket {
  const fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOATIME);
  return new Socket({ fd, readable: true, writable: false }).resume();
}

// Each stage's figure from the windows' instruction counts (per call), as Stage.less says.
export function stageFigures(stages: ReadonlyArray<Pick<Stage, 'name' | 'less'>>, perCall: readonly number[]): number[] {
  const base = perCall[0] ?? 0;
  const byName = new Map(stages.map((s, i) => [s.name, i]));
  const figure = (i: number): number => {
    const s = stages[i]!;
    if (s.less === 'self') return perCall[i]!;
    const other = s.less === undefined ? undefined : byName.get(s.less);
    if (s.less !== undefined && other === undefined) throw new Error(`stage ${s.name}: no stage ${s.less} to subtract`);
    return perCall[i]! - base - (other === undefined ? 0 : figure(other));
  };
  return stages.map((_, i) => figure(i));
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { node: { type: 'string', default: 'small' }, calls: { type: 'string', default: '200' }, child: { type: 'string' }, keep: { type: 'string' }, reader: { type: 'string' } } });
  if (values.reader !== undefined) {
    noAtimeReadEnd(values.reader).on('error', () => undefined); // killed at the end
    return;
  }
  const calls = Number(values.calls);
  if (!Number.isInteger(calls) || calls < 1) throw new RangeError(`--calls: expected a whole number of at least 1, received ${JSON.stringify(values.calls)}`);
  if (values.node !== 'small' && values.node !== 'big') throw new RangeError(`--node: expected small or big, received ${JSON.stringify(values.node)}`);
  if (values.child !== undefined) return child(values.node, calls, values.child);
  const dir = mkdtempSync(join(tmpdir(), 'lavarank-stages-'));
  try {
    const keep = values.keep === undefined ? dir : resolve(values.keep);
    mkdirSync(keep, { recursive: true });
    const out = join(keep, 'cg.out');
    const run = spawnSync('valgrind', ['--tool=callgrind', `--callgrind-out-file=${out}`, '--zero-before=getuid', '--dump-before=getgid', process.execPath, ...DAEMON_NODE_FLAGS, fileURLToPath(import.meta.url), '--node', values.node, '--calls', String(calls), '--child', dir], { encoding: 'utf8', maxBuffer: 1 << 24 });
    if (run.status !== 0) throw new Error(`valgrind exited with ${String(run.status)}: ${run.stderr.slice(-2000)}`);
    const { stages } = JSON.parse(run.stdout.trim().split('\n').at(-1)!) as { stages: Array<Pick<Stage, 'name' | 'less' | 'contract'>> };
    const dumps = readdirSync(keep).filter((f) => /^cg\.out\.\d+$/.test(f)).sort((a, b) => Number(a.split('.').at(-1)) - Number(b.split('.').at(-1)));
    if (dumps.length < stages.length) throw new Error(`expected ${stages.length} dumps, found ${dumps.length}`);
    // Node calls getgid at start too: the stages' windows are the last dumps.
    const perCall = dumps.slice(-stages.length).map((f) => dumpInstructions(readFileSync(join(keep, f), 'latin1')) / calls);
    const figures = stageFigures(stages, perCall);
    // The share is of one report's stages: the first wait and every stage not indented.
    const counted = stages.map((s, i) => (i === 1 || i === 2 || s.name.startsWith(' ') ? 0 : figures[i]!));
    const total = counted.reduce((a, b) => a + b, 0);
    process.stdout.write(`instructions a call (callgrind Ir, every thread), ${calls} calls each, the ${values.node} generated node, the installed flags; share of the ${Math.round(total)} the stages sum to; * a stage the reads-only floor has too:\n`);
    stages.forEach((s, i) => {
      const share = counted[i]! === 0 ? '' : `  ${((100 * counted[i]!) / total).toFixed(1)} %`;
      process.stdout.write(`  ${s.contract === true ? '*' : ' '} ${s.name.padEnd(52)} ${String(Math.round(figures[i]!)).padStart(8)}${share}\n`);
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((err: unknown) => {
    process.stderr.write(`count-stages: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  });
}
