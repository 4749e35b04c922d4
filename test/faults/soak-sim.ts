// A simulated day of the daemon, run in a process of its own with --expose-gc by
// soak.test.ts (a leak guard) and by `npm run soak:day` (the figures): 8640 ticks
// of runElim at 10 s on a fake clock, a synthetic /proc and /sys whose values
// change every tick, the real collectors and sampler, the
// configured model (openRankers) replaced by another every simulated hour and
// reloaded, the report written with fdSink, a history appender with rotation, and
// the log through the elim's own logger (src/util/logger.ts, as setupLogging makes it)
// into its own appender. Prints one JSON object: heap and RSS
// after a forced GC at the end of every simulated hour.
//   node --expose-gc --lite-mode --no-expose-wasm --no-memory-reducer --single-threaded-gc dist/test/faults/soak-sim.js [ticks]
// (runSimulatedDay in helpers.ts). The Node options are the installed elim's
// (src/util/node-flags.ts): with V8's optimising compiler, which the daemon goes
// without, this simulation would keep adding optimised code for hours (+0.2 MB of
// heap and about +1 MB of RSS from hour 4 to 24, measured), which is not what LIM
// runs. $LAVARANK_SOAK_SNAPSHOTS names a directory for heap snapshots at hour 4
// and at the end, to compare what the heap holds (a diagnosis aid).
import { closeSync, mkdirSync, mkdtempSync, openSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { getHeapSpaceStatistics, writeHeapSnapshot } from 'node:v8';
import { RotatingAppender } from '../../src/util/appender.js';
import { createLogger } from '../../src/util/logger.js';
import { recordTime } from '../../src/daemon/log.js';
import { FakeClock } from '../../src/util/clock.js';
import { createCollectors } from '../../src/collectors/index.js';
import { runElim } from '../../src/daemon/elim.js';
import { historyRecord } from '../../src/history/record.js';
import { defaultConfig } from '../../src/config/config.js';
import { serializeModel } from '../../src/model/model.js';
import { openRankers } from '../../src/model/rankers.js';
import { fdSink } from '../../src/daemon/report.js';
import { createSampler } from '../../src/daemon/sampler.js';
import { randomModelFile } from '../model/helpers.js';
import { SyntheticHost, random } from './helpers.js';

const TICKS = Number(process.argv[2] ?? 8640);
const PER_HOUR = 360;
const SNAPSHOTS = process.env['LAVARANK_SOAK_SNAPSHOTS'];

// A fake clock that lets I/O callbacks (the appenders' writes) run every tenth
// sleep, as real intervals would; every sleep would cost a scheduler wait per tick
// on a busy host, for nothing.
class YieldingClock extends FakeClock {
  private sleeps = 0;
  override async sleep(ms: number, signal?: AbortSignal): Promise<void> {
    await super.sleep(ms, signal);
    if (++this.sleeps % 10 === 0) await new Promise((resolve) => setImmediate(resolve));
  }
}

function gc(): void {
  const collect = (globalThis as { gc?: () => void }).gc;
  if (collect === undefined) throw new Error('run with --expose-gc');
  collect();
  collect();
}

interface Point {
  hour: number;
  heapUsed: number;
  heapTotal: number;
  codeSpace: number; // V8's compiled code, which grows as functions are optimised
  rss: number;
  external: number; // memory outside the V8 heap held by JS objects (Buffers included)
  arrayBuffers: number;
}

const dir = mkdtempSync(join(tmpdir(), 'lavarank-soak-'));
try {
  const host = new SyntheticHost(join(dir, 'host'), 8);
  const clock = new YieldingClock();
  const logAppender = new RotatingAppender({ path: join(dir, 'lavarank.log'), maxBytes: 256 * 1024, keep: 2 });
  const log = createLogger({ level: 'info', name: 'lavarank', time: recordTime, write: (s: string) => logAppender.append(s) });
  const history = new RotatingAppender({ path: join(dir, 'history', 'host.jsonl'), maxBytes: 512 * 1024, keep: 2 });
  const collectors = createCollectors({ procRoot: host.procRoot, sysRoot: host.sysRoot, gpu: { enabled: false } });
  const sampler = createSampler({ collectors, clock, log });
  const devNull = openSync('/dev/null', 'w');
  // Two models taking turns; a new file renamed over the old, as retrain installs one.
  mkdirSync(join(dir, 'models'), { mode: 0o755 });
  const modelPath = join(dir, 'models', 'rank.json');
  const models = [1, 2].map((seed) => serializeModel(randomModelFile({ seed, name: `soak${seed}`, hidden: [12, 6] })));
  const installModel = (i: number): void => {
    writeFileSync(`${modelPath}.new`, models[i % 2]!, { mode: 0o644 });
    renameSync(`${modelPath}.new`, modelPath);
  };
  installModel(0);
  const rankers = openRankers({ ...defaultConfig(), model: modelPath }, log);
  let reloads = 0;
  const rand = random(42);
  const points: Point[] = [];
  const started = performance.now();
  let written = 0;
  const ids: string[] = []; // the model of each stretch of ticks

  await runElim({
    sampler,
    rankers,
    out: fdSink(devNull),
    log,
    clock,
    signal: new AbortController().signal,
    resource: 'rank',
    intervalMs: 10_000,
    pessimisticAfter: 3,
    pessimisticRank: 1000,
    maxTicks: TICKS,
    onTick: (tick) => {
      if (tick.result !== undefined) {
        history.append(JSON.stringify(historyRecord(tick.ts, 'soak', tick.result)));
        if (ids.at(-1) !== tick.result.model) ids.push(tick.result.model);
      }
      if (tick.outcome === 'written') written++;
      // A working day: load rises and falls, with noise.
      const busy = Math.min(1, Math.max(0, 0.5 + 0.4 * Math.sin((tick.seq / 8640) * 2 * Math.PI) + 0.2 * (rand() - 0.5)));
      host.tick(10, busy);
      host.write();
      if (tick.seq % PER_HOUR === 0) {
        installModel(tick.seq / PER_HOUR);
        reloads++;
        gc();
        const m = process.memoryUsage();
        const code = getHeapSpaceStatistics().find((sp) => sp.space_name === 'code_space')?.space_size ?? 0;
        if (SNAPSHOTS !== undefined && (tick.seq / PER_HOUR === 4 || tick.seq === TICKS)) writeHeapSnapshot(join(SNAPSHOTS, `hour-${tick.seq / PER_HOUR}.heapsnapshot`));
        points.push({ hour: tick.seq / PER_HOUR, heapUsed: m.heapUsed, heapTotal: m.heapTotal, codeSpace: code, rss: m.rss, external: m.external, arrayBuffers: m.arrayBuffers });
      }
    },
  });
  sampler.close();
  await history.close(2000);
  await logAppender.close(2000);
  closeSync(devNull);

  // The first hours are warm-up: V8 optimises the hot functions (its code space
  // grows by a quarter of a megabyte) and sizes its heap.
  const at = (hour: number): Point => points.find((p) => p.hour === hour) ?? points[0]!;
  const last = points.at(-1)!;
  process.stdout.write(
    `${JSON.stringify({
      ticks: TICKS,
      written,
      wallSeconds: (performance.now() - started) / 1000,
      cpuSeconds: (process.cpuUsage().user + process.cpuUsage().system) / 1e6,
      heapGrowthFromHour1: last.heapUsed - at(1).heapUsed,
      rssGrowthFromHour1: last.rss - at(1).rss,
      heapGrowthFromHour4: last.heapUsed - at(4).heapUsed,
      rssGrowthFromHour4: last.rss - at(4).rss,
      externalGrowthFromHour4: last.external - at(4).external,
      modelReloads: reloads,
      modelSwitches: ids.length - 1,
      historyLines: history.stats.linesWritten,
      historyRotations: history.stats.rotations,
      historyDropped: history.stats.linesDropped,
      points,
    })}\n`,
  );
} finally {
  rmSync(dir, { recursive: true, force: true });
}
