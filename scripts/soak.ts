// `npm run soak`: the built daemon in real time, started as LIM starts it (the
// e2e harness: a FIFO as stdout, stderr closed, nice -20 as root), for 10 minutes
// at a 1 s test interval, with a child elim, a GPU query every second (a fake
// nvidia-smi), history, and its model file replaced every minute. Measured as the
// simulated day is (test/faults/soak-sim.ts): heap and RSS after a forced GC,
// every 30 s, by a probe loaded into the daemon (scripts/soak-probe.ts); the
// first two minutes are warm-up. Ends with SIGTERM and checks the exit. Exits 1 if
// heap or RSS grew by 1 MB or more after warm-up (the lowest of the last three probes
// against the lowest of the first three: scripts/soak-verdict.ts), a report came 2 s
// late, or the exit was not clean.
//   node dist/scripts/soak.js [--minutes 10] [--interval 1] [--warmup 2] [--probe-every 30]
//                             [--without gpu,child,model] [--snapshots 120,480 --keep DIR] [--json]
// --without leaves parts out, to find which one a growth comes from.
import { chmodSync, mkdirSync, readFileSync, readdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { serializeModel } from '../src/model/model.js';
import { startElim } from '../test/e2e/harness.js';
import { fixture, repoRoot, tempDir } from '../test/helpers.js';
import { installElim, vmRssKb } from '../test/faults/helpers.js';
import { randomModelFile } from '../test/model/helpers.js';
import { sustainedGrowth } from './soak-verdict.js';

interface Point {
  at: number;
  rss: number;
  heapUsed: number;
  heapTotal: number;
  external: number;
  arrayBuffers: number;
}

const MB = 1024 * 1024;

function out(text: string): void {
  process.stdout.write(`${text}\n`);
}

const { values: args } = parseArgs({
  options: {
    minutes: { type: 'string', default: '10' },
    interval: { type: 'string', default: '1' },
    warmup: { type: 'string', default: '2' },
    'probe-every': { type: 'string', default: '30' },
    without: { type: 'string', default: '' },
    snapshots: { type: 'string', default: '' }, // seconds, e.g. 120,480: heap snapshots kept in --keep
    keep: { type: 'string' }, // a directory to keep the probe file and snapshots in
    json: { type: 'boolean', default: false },
  },
  strict: true,
});
const minutes = Number(args.minutes);
const warmupMs = Number(args.warmup) * 60_000;
const without = new Set(args.without.split(',').filter((w) => w !== ''));
const interval = Number(args.interval);
if (!(minutes > 0) || !(interval >= 0.05)) throw new Error('--minutes must be positive and --interval at least 0.05');

const { dir, cleanup } = tempDir('lavarank-soak-');
try {
  const probe = join(dir, 'probe.jsonl');
  mkdirSync(join(dir, 'models'), { mode: 0o755 });
  chmodSync(dir, 0o755);
  const modelPath = join(dir, 'models', 'rank.json');
  const models = [1, 2].map((seed) => serializeModel(randomModelFile({ seed, name: `soak${seed}`, hidden: [12, 6] })));
  let installs = 0;
  const installModel = (): void => {
    writeFileSync(`${modelPath}.new`, models[installs++ % 2]!, { mode: 0o644 });
    renameSync(`${modelPath}.new`, modelPath);
  };
  installModel();
  const elim = startElim({
    testInterval: interval,
    nodeArgs: ['--expose-gc', '--import', pathToFileURL(join(repoRoot, 'dist', 'scripts', 'soak-probe.js')).href],
    env: {
      LAVARANK_SOAK_PROBE: probe,
      LAVARANK_SOAK_EVERY_MS: String(Number(args['probe-every']) * 1000),
      LAVARANK_SOAK_SNAPSHOTS: args.snapshots,
    },
    override: {
      log: { level: 'info' },
      gpu: without.has('gpu') ? { enabled: false } : { enabled: true, command: fixture('bin', 'nvidia-smi-ok'), interval: 1, timeout: 5 },
    },
    config: `model: ${modelPath}\n${without.has('child') ? '' : `elims:\n  - name: site\n    command: [${installElim(dir, 'good')}]\n`}`,
  });
  const started = Date.now();
  const external: Array<{ at: number; rssKb: number }> = [];
  if (!args.json) out(`soak: pid ${elim.pid}, ${minutes} min at a ${interval} s interval${without.size > 0 ? `, without ${[...without].join(', ')}` : ''}`);
  const end = started + minutes * 60_000;
  let nextModel = started + 60_000;
  while (Date.now() < end && elim.child.exitCode === null) {
    await new Promise((resolve) => setTimeout(resolve, 5000));
    if (Date.now() >= nextModel && !without.has('model')) {
      installModel();
      nextModel += 60_000;
    }
    const rssKb = vmRssKb(elim.pid);
    if (rssKb !== undefined) external.push({ at: Date.now(), rssKb });
    if (!args.json && external.length % 12 === 0) out(`  ${Math.round((Date.now() - started) / 1000)} s: VmRSS ${rssKb} kB, ${elim.reports().length} reports`);
  }
  const sent = Date.now();
  process.kill(elim.pid, 'SIGTERM');
  const exit = await Promise.race([elim.exited, new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), 5000))]);
  const exitMs = Date.now() - sent;

  const points = readFileSync(probe, 'utf8')
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as Point);
  const warmed = points.filter((p) => p.at - started >= warmupMs);
  const judged = warmed.length > 0 ? warmed : points;
  const warm = judged[0];
  const last = judged.at(-1);
  const reports = elim.reports();
  const gaps = reports.slice(1).map((r, i) => r.at - reports[i]!.at);
  const log = elim.log();
  const result = {
    minutes,
    interval,
    reports: reports.length,
    expectedReports: Math.floor((minutes * 60) / interval),
    maxGapMs: Math.max(0, ...gaps),
    probes: points.length,
    heapAfterWarmup: warm?.heapUsed,
    heapAtEnd: last?.heapUsed,
    heapGrowth: sustainedGrowth(judged.map((p) => p.heapUsed)),
    rssAfterWarmup: warm?.rss,
    rssAtEnd: last?.rss,
    rssGrowth: sustainedGrowth(judged.map((p) => p.rss)),
    vmRssKbFirst: external[0]?.rssKb,
    vmRssKbLast: external.at(-1)?.rssKb,
    modelSwitches: log.filter((l) => String(l['msg']).startsWith('model file changed; now ranking')).length,
    gpuFailures: log.filter((l) => String(l['msg']).startsWith('GPU query failed')).length,
    errors: log.filter((l) => l['level'] === 'error' || l['level'] === 'fatal').map((l) => String(l['msg'])),
    exitCode: exit?.code ?? null,
    exitMs,
  };
  elim.cleanup();
  const failures: string[] = [];
  if (result.heapGrowth === undefined || result.heapGrowth >= MB) failures.push(`heap grew ${result.heapGrowth} bytes after warm-up`);
  if (result.rssGrowth === undefined || result.rssGrowth >= MB) failures.push(`RSS grew ${result.rssGrowth} bytes after warm-up`);
  if (result.maxGapMs >= 2000 + interval * 1000) failures.push(`a gap of ${result.maxGapMs} ms between reports`);
  if (result.exitCode !== 0 || exitMs >= 2000) failures.push(`exit ${result.exitCode} ${exitMs} ms after SIGTERM`);
  if (result.errors.length > 0) failures.push(`errors logged: ${result.errors.join(' | ')}`);
  if (args.json) {
    out(JSON.stringify({ ...result, points, failures }));
  } else {
    const f = (b: number | undefined): string => (b === undefined ? '?' : `${(b / MB).toFixed(2)} MB`);
    out(`reports: ${result.reports} of ~${result.expectedReports}, longest gap ${result.maxGapMs} ms`);
    out(`heap after warm-up ${f(result.heapAfterWarmup)}, at end ${f(result.heapAtEnd)}: growth ${f(result.heapGrowth)}`);
    out(`RSS  after warm-up ${f(result.rssAfterWarmup)}, at end ${f(result.rssAtEnd)}: growth ${f(result.rssGrowth)}`);
    out(`RSS at each probe after warm-up (MB): ${judged.map((p) => (p.rss / MB).toFixed(2)).join(' ')}`);
    out('growth: the lowest of the last three probes less the lowest of the first three after warm-up');
    out(`VmRSS from outside: ${result.vmRssKbFirst} kB -> ${result.vmRssKbLast} kB (without forced GC)`);
    out(`model switches ${result.modelSwitches}, GPU query failures ${result.gpuFailures}, exit ${result.exitCode} ${exitMs} ms after SIGTERM`);
    out(failures.length === 0 ? 'OK' : `FAILED:\n  ${failures.join('\n  ')}`);
  }
  process.exitCode = failures.length === 0 ? 0 : 1;
  if (args.keep !== undefined) {
    mkdirSync(args.keep, { recursive: true });
    for (const f of readdirSync(dir)) if (f.endsWith('.heapsnapshot') || f === 'probe.jsonl') renameSync(join(dir, f), join(args.keep, f));
  }
} finally {
  cleanup();
}
