// `npm run bench:retrain`: how fast and how big `lavarank retrain` runs at scale. For
// each size it generates accounting and history with scripts/gen-data.ts into a temp
// dir (not timed), then runs a whole retrain with the administrator's defaults in a
// fresh Node process of its own (so that its peak RSS is its own) and prints history
// lines/s, jobs/s, the time of each part and the peak RSS. The targets (issue 15):
// 10 M history lines + 1 M jobs in <= 5 min with peak RSS <= 512 MB on 2 cores.
//
//   node dist/scripts/bench-retrain.js [--sizes 100000:1000000,1000000:10000000] [--json]
//
// A size is JOBS:HISTORY_LINES; the history is spread over 100 hosts per 10 000 jobs
// (at most 1000 hosts), a sample every 10 s.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, loadavg, release, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

// What one retrain measured, as the child reports it.
interface ChildResult {
  jobs: number;
  historyLines: number;
  examples: number;
  holdout: number;
  wallSec: number;
  readSec: number; // lsb.acct, history, join, labels
  trainSec: number;
  epochs: number;
  stoppedBy: string;
  peakRssMB: number;
  cpuSec: number;
  newMae: number;
  exitCode: number;
}

interface SizeResult extends ChildResult {
  generateSec: number;
  hosts: number;
  historyLinesPerSec: number; // history lines over the reading part
  jobsPerSec: number; // jobs over the whole retrain
  loadBefore: number;
}

// The child: one whole retrain over DIR, defaults as `lavarank retrain` has them.
async function child(dir: string): Promise<void> {
  const { retrain, resolveOptions } = await import('../src/training/retrain.js');
  const { parseRetrainArgs } = await import('../src/commands/retrain.js');
  const { defaultConfig } = await import('../src/config/config.js');
  const options = await resolveOptions(parseRetrainArgs(['--acct', join(dir, 'lsb.acct'), '--history', join(dir, 'history'), '--out', join(dir, 'model.json')]), defaultConfig(), null);
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const r = await retrain(options, { out: () => undefined, err: () => undefined, isTTY: false });
  const wallSec = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(c0);
  const out: ChildResult = {
    jobs: r.jobs, historyLines: r.historyRecords, examples: r.examples, holdout: r.holdout, wallSec, readSec: r.readMs / 1000, trainSec: r.trainMs / 1000,
    epochs: r.epochs, stoppedBy: r.stoppedBy, peakRssMB: process.resourceUsage().maxRSS / 1024, cpuSec: (cpu.user + cpu.system) / 1e6, newMae: r.newMae, exitCode: r.exitCode,
  };
  process.stdout.write(`${JSON.stringify(out)}\n`);
}

async function measure(jobs: number, lines: number): Promise<SizeResult> {
  const { generateData } = await import('./gen-data.js');
  const hosts = Math.min(1000, Math.max(10, Math.round(jobs / 100)));
  const ticks = Math.ceil(lines / hosts);
  const dir = mkdtempSync(join(tmpdir(), 'lavarank-bench-retrain-'));
  try {
    const g0 = performance.now();
    // Job sizes vary 2x either way and the curve is not a line, as on a real cluster.
    await generateData({ outDir: dir, hosts, ticks, jobs, seed: 1, sizeSpread: 2, curve: 'square' });
    const generateSec = (performance.now() - g0) / 1000;
    const loadBefore = loadavg()[0] ?? NaN;
    const run = spawnSync(process.execPath, [fileURLToPath(import.meta.url), '--child', dir], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
    if (run.status !== 0) throw new Error(`the retrain of ${jobs} jobs failed with status ${String(run.status)}`);
    const r = JSON.parse(run.stdout) as ChildResult;
    return { ...r, generateSec, hosts, historyLinesPerSec: r.historyLines / r.readSec, jobsPerSec: r.jobs / r.wallSec, loadBefore };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function line(r: SizeResult): string {
  const f = (x: number, d = 1): string => (Number.isFinite(x) ? x.toFixed(d) : '-');
  return (
    `| ${r.jobs} | ${r.historyLines} | ${r.hosts} | ${f(r.wallSec)} | ${f(r.readSec)} | ${Math.round(r.historyLinesPerSec)} | ${Math.round(r.jobsPerSec)} | ` +
    `${f(r.trainSec)} (${r.epochs} epochs, ${r.stoppedBy}) | ${f(r.peakRssMB, 0)} | ${f(r.cpuSec)} | ${f(r.newMae, 2)} | ${f(r.loadBefore, 2)} |`
  );
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { child: { type: 'string' }, sizes: { type: 'string', default: '100000:1000000,1000000:10000000' }, json: { type: 'boolean', default: false } } });
  if (values.child !== undefined) {
    await child(values.child);
    return;
  }
  const sizes = values.sizes.split(',').map((s) => {
    const [jobs, lines] = s.split(':').map(Number);
    if (!Number.isInteger(jobs) || !Number.isInteger(lines)) throw new Error(`--sizes: expected JOBS:LINES[,...], received "${s}"`);
    return { jobs: jobs as number, lines: lines as number };
  });
  const results: SizeResult[] = [];
  for (const s of sizes) results.push(await measure(s.jobs, s.lines));
  if (values.json) {
    process.stdout.write(`${JSON.stringify(results, null, 2)}\n`);
    return;
  }
  const text = [
    `lavarank bench:retrain, ${new Date().toISOString()}`,
    `host: ${cpus().length} CPUs (${cpus()[0]?.model ?? 'unknown'}), Linux ${release()}, Node ${process.version}`,
    '',
    '| jobs | history lines | hosts | wall s | read+join+label s | history lines/s | jobs/s | training s | peak RSS MB | CPU s | holdout MAE | load avg before |',
    '|---|---|---|---|---|---|---|---|---|---|---|---|',
    ...results.map(line),
    '',
    ...results.map((r) => `${r.jobs} jobs + ${r.historyLines} lines: ${r.wallSec <= 300 ? 'within' : 'OVER'} 5 min, peak RSS ${r.peakRssMB <= 512 ? 'within' : 'OVER'} 512 MB (exit ${r.exitCode})`),
  ];
  process.stdout.write(`${text.join('\n')}\n`);
}

await main();
