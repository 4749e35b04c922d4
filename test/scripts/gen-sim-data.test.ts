// Retrain on accounting and history written from the simulator's cluster model, which
// does not assume the answer: families of CPU-, memory- and io-bound jobs of different
// sizes, slowed by what shares their host (other jobs, background load).
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { before, describe, test } from 'node:test';
import { generateSimData, type SimDataResult } from '../../scripts/gen-sim-data.js';
import { readAcct } from '../../src/lsf/acct.js';
import { readHistory } from '../../src/history/reader.js';
import { featuresFromNamed } from '../../src/model/features.js';
import { loadModel } from '../../src/model/model.js';
import { buildExamples } from '../../src/training/jobs.js';
import { retrain } from '../../src/training/retrain.js';
import { fileDir } from '../helpers.js';

const root = fileDir('lavarank-gen-sim-');

function corr(x: readonly number[], y: readonly number[]): number {
  const n = x.length;
  const mx = x.reduce((a, b) => a + b, 0) / n;
  const my = y.reduce((a, b) => a + b, 0) / n;
  let sxy = 0;
  let sxx = 0;
  let syy = 0;
  for (let i = 0; i < n; i++) {
    sxy += ((x[i] ?? 0) - mx) * ((y[i] ?? 0) - my);
    sxx += ((x[i] ?? 0) - mx) ** 2;
    syy += ((y[i] ?? 0) - my) ** 2;
  }
  return sxy / Math.sqrt(sxx * syy);
}

// The mean correlation of values with the jobs' size within each family (weighted by runs).
function withinFamily(values: readonly number[], size: readonly number[], family: readonly number[]): number {
  const groups = new Map<number, number[]>();
  family.forEach((f, k) => groups.set(f, [...(groups.get(f) ?? []), k]));
  let sum = 0;
  let n = 0;
  for (const ks of groups.values()) {
    if (ks.length < 20) continue;
    sum += corr(ks.map((k) => values[k] ?? 0), ks.map((k) => size[k] ?? 0)) * ks.length;
    n += ks.length;
  }
  return sum / n;
}

let sim: SimDataResult;
before(async () => {
  sim = await generateSimData({ outDir: join(root, 'sim'), hosts: 6, jobs: 800, seed: 1, background: 0.5 });
});

describe('retrain on the simulated cluster', () => {
  test('labels recover each job\'s true slowdown from contention and ignore its size, where a run-time label does not', async (t) => {
    const b = await buildExamples(readAcct(sim.acctPath), readHistory(sim.historyDir), { holdoutFraction: 0 });
    const labels: number[] = [];
    const truth: number[] = [];
    const size: number[] = [];
    const family: number[] = [];
    const runtime: number[] = [];
    b.examples.index.forEach((i, k) => {
      const t = sim.truth.get(b.table.jobId[i] ?? 0);
      assert.ok(t !== undefined);
      labels.push(b.examples.label[k] ?? NaN);
      truth.push(100 * (t.slowdown - 1));
      size.push(Math.log(t.work));
      family.push(b.table.family[i] ?? 0);
      runtime.push((b.table.end[i] ?? 0) - (b.table.start[i] ?? 0));
    });
    assert.ok(labels.length > 0.8 * sim.jobs, `${labels.length} of ${sim.jobs} jobs labelled`);
    const meanTruth = truth.reduce((a, x) => a + x, 0) / truth.length;
    assert.ok(meanTruth > 10, `mean true slowdown ${meanTruth.toFixed(1)} %: too little contention to test anything`);
    const r = corr(labels, truth);
    assert.ok(r > 0.95, `labels against the true slowdown: r = ${r.toFixed(3)}`);
    // The old label, run time over the family's 10th percentile, grows with the job's size.
    const p10 = new Map<number, number>();
    for (const f of new Set(family)) {
      const sorted = runtime.filter((_, k) => family[k] === f).sort((a, c) => a - c);
      p10.set(f, sorted[Math.floor(0.1 * sorted.length)] ?? NaN);
    }
    const runtimeLabel = runtime.map((w, k) => 100 * (w / (p10.get(family[k] ?? 0) ?? NaN) - 1));
    const oldSize = withinFamily(runtimeLabel, size, family);
    const newSize = withinFamily(labels, size, family);
    t.diagnostic(`${labels.length} labelled; r(label, truth) ${r.toFixed(3)}; within-family r with size: label ${newSize.toFixed(3)}, run-time label ${oldSize.toFixed(3)}; mean true slowdown ${meanTruth.toFixed(1)} %`);
    assert.ok(oldSize > 0.5, `the data's sizes vary too little to tell: a run-time label correlates ${oldSize.toFixed(2)} with size`);
    assert.ok(Math.abs(newSize) < 0.15, `labels correlate ${newSize.toFixed(2)} with the job's size within its family`);
  });

  test('learns that a host busy with other work slows the jobs started on it', async (t) => {
    const out = join(root, 'model.json');
    const lines: string[] = [];
    const r = await retrain(
      {
        history: [sim.historyDir], acct: [sim.acctPath], calibration: [], out, report: `${out}.report.html`, configPath: null, configModel: out,
        intervalSec: 10, minRuns: 5, holdoutFraction: 0.2, seed: 1, epochs: 300, timeLimitSec: 60, force: true, dryRun: false,
      },
      { out: (t) => lines.push(t), err: () => undefined, isTTY: false },
    );
    const text = lines.join('\n');
    const mae = (name: string): number => Number(new RegExp(`^\\| ${name} +\\| +([\\d.]+) \\|`, 'm').exec(text)?.[1] ?? NaN);
    assert.ok(mae('new model') < 0.85 * mae('mean'), `new model ${mae('new model')}, mean ${mae('mean')}:\n${text}`);
    assert.ok(mae('linear regression') < 0.85 * mae('mean'), `linear regression ${mae('linear regression')}, mean ${mae('mean')}`);
    assert.equal(r.written, true);
    const model = loadModel(out);
    const rank = (busy: number, runnable: number): number =>
      model.predict(featuresFromNamed({ cpus: 16, cpu_busy: busy, runnable_per_cpu: runnable, load1_per_cpu: runnable, mem_used: 0.3, disk_busy_max: 0, psi_io_some: 0, psi_cpu_some: 0 }));
    const idle = rank(0.1, 0.1);
    const busy = rank(1, 1.75);
    t.diagnostic(`holdout MAE: new ${mae('new model')}, linear regression ${mae('linear regression')}, mean ${mae('mean')}; rank idle ${idle.toFixed(1)}, busy ${busy.toFixed(1)}`);
    assert.ok(busy > idle + 10, `rank on a host with 1.75 runnable tasks per CPU ${busy.toFixed(1)}, on an idle one ${idle.toFixed(1)}`);
  });
});
