// `lavarank retrain` end to end: the built CLI as its own process, on generated data
// whose answer is known (slowdown = 200 x cpu_busy² + noise, jobs of sizes varying 2x
// either way), must recover the relation, beat linear regression,
// write a model the daemon loads, refuse to replace a better one without --force, and
// stop on Ctrl-C without writing anything.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, test } from 'node:test';
import { generateData } from '../../scripts/gen-data.js';
import { featuresFromNamed } from '../../src/model/features.js';
import { loadModel } from '../../src/model/model.js';
import { cliPath, portsAfterSigusr1, repoRoot, startReadingFifo, fileDir } from '../helpers.js';

const root = fileDir('lavarank-e2e-retrain-');

// No config: the installed model is the embedded default, and --out is always given.
const ENV = { PATH: process.env['PATH'], LAVARANK_CONFIG: '', LSF_ENVDIR: '' };

interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

function start(program: string[], args: string[], onOutput?: (stdout: string, stderr: string, kill: (s: NodeJS.Signals) => void) => void): Promise<Run> {
  const [command, ...rest] = program;
  const child = spawn(command ?? process.execPath, [...rest, ...args], { env: ENV, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  const kill = (s: NodeJS.Signals): void => void child.kill(s);
  child.stdout.on('data', (c: Buffer) => {
    stdout += c.toString();
    onOutput?.(stdout, stderr, kill);
  });
  child.stderr.on('data', (c: Buffer) => {
    stderr += c.toString();
    onOutput?.(stdout, stderr, kill);
  });
  return new Promise((resolve) => child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr })));
}

const retrain = (args: string[], onOutput?: Parameters<typeof start>[2]): Promise<Run> => start([process.execPath, cliPath, 'retrain'], args, onOutput);

// The MAE column of a row of the holdout table.
function maeOf(stdout: string, predictor: string): number {
  const m = new RegExp(`^\\| ${predictor} +\\| +([\\d.]+) \\|`, 'm').exec(stdout);
  assert.ok(m !== null, `no "${predictor}" row in:\n${stdout}`);
  return Number(m[1]);
}

let data: { acctPath: string; historyDir: string };
let inputs: string[];
before(async () => {
  data = await generateData({ outDir: join(root, 'data'), hosts: 8, ticks: 3000, jobs: 3000, seed: 11, slope: 200, noise: 5, domain: '.example.com', curve: 'square', sizeSpread: 2 });
  inputs = ['--acct', data.acctPath, '--history', data.historyDir];
});

describe('lavarank retrain, end to end', () => {
  const dir = join(root, 'models');
  const out = join(dir, 'model.json');
  before(() => mkdirSync(dir));

  test('recovers slowdown = 200 x cpu_busy² from jobs of varied sizes, beats linear regression and the backbone, and writes a model the daemon loads', async (t) => {
    const r = await retrain([...inputs, '--out', out, '--epochs', '400']);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const mae = maeOf(r.stdout, 'new model');
    const mean = maeOf(r.stdout, 'mean');
    assert.ok(mae < 0.2 * mean, `new model MAE ${mae}, mean baseline ${mean}`);
    assert.ok(mae < maeOf(r.stdout, 'load-only fit'), 'no better than a line on the load');
    assert.ok(mae < maeOf(r.stdout, 'linear regression'), 'no better than linear regression');
    assert.ok(mae < maeOf(r.stdout, 'embedded default'), 'no better than the embedded default');
    assert.match(r.stdout, /^written: the new model beats the installed one on the holdout \(MAE [\d.]+ < [\d.]+\) and linear regression \(MAE [\d.]+\) and physical backbone \(MAE [\d.]+\)$/m);
    assert.equal(statSync(out).mode & 0o777, 0o644);
    assert.ok(existsSync(`${out}.report.html`));

    // Probe the written model as the daemon would: hosts that differ only in CPU load
    // (runnable tasks and the 1-minute load follow it, as in the data).
    const model = loadModel(out);
    const cpus = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8];
    const ranks = cpus.map((c) =>
      model.predict(featuresFromNamed({ cpu_busy: c, runnable_per_cpu: 1.2 * c, load1_per_cpu: 1.2 * c, mem_used: 0.45, disk_busy_max: 0.05 })),
    );
    ranks.forEach((rank, i) => i > 1 && assert.ok(rank > (ranks[i - 1] ?? Infinity), `rank does not grow with cpu_busy: ${ranks.join(', ')}`));
    // The curve: the rise from 0.4 to 0.8 is three times the rise from 0 to 0.4 for c², once for a line.
    const rise = ((ranks[7] ?? NaN) - (ranks[3] ?? NaN)) / Math.max(1, (ranks[3] ?? NaN) - (ranks[0] ?? NaN));
    t.diagnostic(`holdout MAE ${mae} (mean baseline ${mean}); ranks ${ranks.map((x) => x.toFixed(1)).join(', ')}; rise ratio ${rise.toFixed(2)}`);
    assert.ok((ranks[7] ?? 0) - (ranks[0] ?? 0) > 90 && (ranks[7] ?? 0) - (ranks[0] ?? 0) < 150, `rank 0.1 -> 0.8 rose ${((ranks[7] ?? 0) - (ranks[0] ?? 0)).toFixed(1)}, expected about 126`);
    assert.ok(rise > 2, `rise ratio ${rise.toFixed(2)}: the model learnt a line, not the curve`);
  });

  test('does not replace a better installed model without --force, and exits 3', async () => {
    const before = readFileSync(out);
    const r = await retrain([...inputs, '--out', out, '--epochs', '1']);
    assert.equal(r.code, 3, r.stderr);
    assert.match(r.stdout, /^not written: the new model does not beat the installed one/m);
    assert.deepEqual(readFileSync(out), before);
    assert.ok(maeOf(r.stdout, 'installed model') < maeOf(r.stdout, 'new model'));
  });

  test('replaces it with --force, keeping the replaced model as .previous', async () => {
    const before = readFileSync(out);
    const r = await retrain([...inputs, '--out', out, '--epochs', '1', '--force']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^written because of --force/m);
    assert.deepEqual(readFileSync(`${out}.previous`), before);
    assert.equal(statSync(`${out}.previous`).mode & 0o777, 0o644);
    assert.notDeepEqual(readFileSync(out), before);
    assert.equal(loadModel(out).file.training.epochs, 1);
  });

  test('stops on Ctrl-C while training, exits 130 and writes neither model nor report', async () => {
    const fresh = join(dir, 'interrupted.json');
    let sent = false;
    const r = await retrain([...inputs, '--out', fresh, '--epochs', '100000', '--time-limit', '600'], (_stdout, stderr, kill) => {
      if (!sent && stderr.includes('training: epoch')) {
        sent = true;
        kill('SIGINT');
      }
    });
    assert.equal(sent, true, 'training never reported progress');
    assert.equal(r.code, 130, r.stderr);
    assert.match(r.stderr, /interrupted; nothing written/);
    assert.equal(existsSync(fresh), false);
    assert.equal(existsSync(`${fresh}.report.html`), false);
  });

  test('names an accounting file that does not exist, and exits 1', async () => {
    const missing = join(root, 'no-such-lsb.acct');
    const r = await retrain(['--acct', missing, '--history', data.historyDir, '--out', join(dir, 'x.json')]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, new RegExp(`^lavarank retrain: --acct ${missing}: no such file or directory`));
  });

  test('exits 2 for a bad option', async () => {
    const r = await retrain([...inputs, '--out', join(dir, 'x.json'), '--holdout', '0.99']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /--holdout: expected a number from 0\.05 to 0\.5, received "0\.99"/);
  });

  test("scripts/retrain, run by root's cron, opens no inspector at SIGUSR1 that would take any local user's code on 127.0.0.1:9229", async () => {
    const script = join(repoRoot, 'scripts', 'retrain');
    const run = await startReadingFifo([script, '--acct', '/dev/fd/0', '--history', data.historyDir, '--out', join(dir, 'z.json'), '--dry-run'], { PATH: process.env['PATH'] ?? '/usr/bin:/bin' });
    try {
      assert.deepEqual(await portsAfterSigusr1(run.child.pid!), []);
      assert.deepEqual(await portsAfterSigusr1(run.reader), []);
      assert.equal((await run.finish()).signal, null);
    } finally {
      run.cleanup();
    }
  });

  test('scripts/retrain runs the same command', async () => {
    const script = join(repoRoot, 'scripts', 'retrain');
    assert.ok((statSync(script).mode & 0o111) !== 0, 'scripts/retrain is not executable');
    const help = await start([script], ['--help']);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /^Usage: lavarank retrain/);
    const bad = await start([script], ['--acct', join(root, 'nope'), '--out', join(dir, 'y.json')]);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /^lavarank retrain: --acct .*nope: no such file or directory/);
  });
});
