import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BACKBONE_INPUTS, NET_WEIGHT, backbone, type BackboneParams } from '../../src/model/backbone.js';
import { seededRandom } from '../../src/util/random.js';
import {
  BACKBONE_GRID_POINTS,
  IRLS_ROUNDS,
  absoluteFit,
  backboneFitSteps,
  boxRidgeOfMoments,
  fitBackbone,
  momentsOf,
  type BackboneRow,
} from '../../src/training/backbone-fit.js';

// Hosts under random contention of every kind the backbone reads.
function hosts(count: number, seed: number): Record<string, number>[] {
  const rand = seededRandom(seed);
  return Array.from({ length: count }, () => ({
    cpus: 1 + Math.floor(rand() * 32),
    runnable_per_cpu: 3 * rand(),
    load1_per_cpu: 3 * rand(),
    cpu_steal: 0.05 * rand(),
    swap_io: rand() < 0.6 ? 0 : 30_000 * rand(),
    major_faults: rand() < 0.6 ? 0 : 10_000 * rand(),
    mem_used: 0.3 + 0.7 * rand(),
    psi_mem_some: rand() < 0.5 ? 0 : 0.3 * rand(),
    psi_io_some: rand() < 0.5 ? 0 : 0.5 * rand(),
    disk_busy_max: rand(),
  }));
}

// Rows of p columns, y = 5 + x · weights + noise, in the flat layout momentsOf takes.
function linearData(n: number, weights: readonly number[], seed: number): { x: Float64Array; y: number[] } {
  const rand = seededRandom(seed);
  const p = weights.length;
  const x = new Float64Array(n * p);
  const y: number[] = [];
  for (let i = 0; i < n; i++) {
    let v = 5 + (rand() - 0.5);
    for (let a = 0; a < p; a++) {
      x[i * p + a] = 100 * rand();
      v += weights[a]! * x[i * p + a]!;
    }
    y.push(v);
  }
  return { x, y };
}

// The weighted squared error of a fit, summed over the rows themselves.
function rowLoss(x: Float64Array, y: readonly number[], fit: { intercept: number; weights: readonly number[] }): number {
  const p = fit.weights.length;
  return y.reduce((s, v, i) => {
    let e = v - fit.intercept;
    for (let a = 0; a < p; a++) e -= x[i * p + a]! * fit.weights[a]!;
    return s + e * e;
  }, 0);
}

// A Float64Array whose element reads are counted.
function counted(x: Float64Array): { x: Float64Array; reads: () => number } {
  let reads = 0;
  const proxy = new Proxy(x, {
    get(target, key, receiver) {
      if (typeof key === 'string' && /^\d+$/.test(key)) reads++;
      return Reflect.get(target, key, receiver) as unknown;
    },
  });
  return { x: proxy, reads: () => reads };
}

describe('boxRidgeOfMoments', () => {
  it('recovers the weights of a linear relation whose weights lie inside the box', () => {
    const { x, y } = linearData(400, [0.2, 0.6, 0.9], 1);
    const fit = boxRidgeOfMoments(momentsOf(x, y, [], 3), [0.5, 0.5, 0.5], 1e-9, 1);
    assert.equal(fit.weights.length, 3);
    fit.weights.forEach((w, a) => assert.ok(Math.abs(w - [0.2, 0.6, 0.9][a]!) < 0.01, `weight ${a}: ${w}`));
    assert.ok(Math.abs(fit.intercept - 5) < 0.3, String(fit.intercept));
  });

  it('holds a weight the data pushes past a bound at that bound, and no feasible neighbour fits the rows better', () => {
    const { x, y } = linearData(400, [1.5, -0.4, 0.3], 2);
    const fit = boxRidgeOfMoments(momentsOf(x, y, [], 3), [0.5, 0.5, 0.5], 1e-9, 1);
    assert.equal(fit.weights[0], 1);
    assert.equal(fit.weights[1], 0);
    const best = rowLoss(x, y, fit);
    for (let a = 0; a < 3; a++) {
      for (const step of [-0.01, 0.01]) {
        const w = fit.weights.map((v, b) => (b === a ? v + step : v));
        if (w[a]! < 0 || w[a]! > 1) continue;
        // The intercept refitted for the moved weight: the best it could do.
        const c = y.reduce((s, v, i) => s + v - w.reduce((t, wb, b) => t + wb * x[i * 3 + b]!, 0), 0) / y.length;
        assert.ok(rowLoss(x, y, { intercept: c, weights: w }) >= best - 1e-6, `weight ${a} moved by ${step}`);
      }
    }
  });
});

describe('absoluteFit', () => {
  it('reads the rows once for the first fit and once per reweighting round, not once per combination of bounds', () => {
    const n = 200;
    const { x, y } = linearData(n, [0.2, 0.6, 0.9], 3);
    const c = counted(x);
    absoluteFit(c.x, y, [0.5, 0.5, 0.5]);
    assert.equal(c.reads(), (IRLS_ROUNDS + 1) * n * 3);
  });

  it('ignores a few wild labels that would drag a least-squares fit', () => {
    const { x, y } = linearData(300, [0.2, 0.6, 0.9], 4);
    for (let i = 0; i < 15; i++) y[i * 20] = 5000;
    const fit = absoluteFit(x, y, [0.5, 0.5, 0.5]);
    assert.equal(fit.weights.length, 3);
    fit.weights.forEach((w, a) => assert.ok(Math.abs(w - [0.2, 0.6, 0.9][a]!) < 0.05, `weight ${a}: ${w}`));
  });
});

describe('fitBackbone', () => {
  const truth: BackboneParams = { weights: { cpu: 0.6, mem: 0.3, io: 0.4 }, runnableWeight: 0.25, secondsPerPage: 3e-6, memFullFrom: 0.85 };
  const rows: BackboneRow[] = hosts(400, 5).map((named) => ({ named, label: backbone(named, truth).rank }));

  it('finds the grid point and the weights of the backbone that made the labels', () => {
    const { params, mae, gridPoints } = fitBackbone(rows);
    assert.equal(gridPoints, BACKBONE_GRID_POINTS);
    assert.deepEqual([params.runnableWeight, params.secondsPerPage, params.memFullFrom], [truth.runnableWeight, truth.secondsPerPage, truth.memFullFrom]);
    // io, the smallest column, is held back towards the prior's 0.05 by the pull meant for weights the data leaves free.
    for (const k of ['cpu', 'mem'] as const) assert.ok(Math.abs(params.weights[k] - truth.weights[k]) < 0.03, `${k}: ${params.weights[k]}`);
    assert.ok(params.weights.io > 0.2 && params.weights.io <= truth.weights.io, String(params.weights.io));
    const meanLabel = rows.reduce((s, r) => s + r.label, 0) / rows.length;
    assert.ok(mae < 0.05 * meanLabel, `${mae} against a mean label of ${meanLabel}`);
  });

  it('fits the weights to what the assumed network part leaves of each label, so that busy links change no fitted weight', () => {
    const rand = seededRandom(9);
    const linked = rows.map((r) => {
      const named = { ...r.named, net_util_max: rand() < 0.5 ? 0 : 0.99 * rand() };
      return { named, label: backbone(named, truth).rank };
    });
    assert.ok(linked.some((r, i) => r.label > rows[i]!.label + 1), 'the network part is in some labels');
    const plain = fitBackbone(rows);
    const fit = fitBackbone(linked);
    assert.deepEqual([fit.params.runnableWeight, fit.params.secondsPerPage, fit.params.memFullFrom], [plain.params.runnableWeight, plain.params.secondsPerPage, plain.params.memFullFrom]);
    for (const k of ['cpu', 'mem', 'io'] as const) assert.ok(Math.abs(fit.params.weights[k] - plain.params.weights[k]) < 1e-6, `${k}: ${fit.params.weights[k]} against ${plain.params.weights[k]}`);
    assert.ok(Math.abs(fit.mae - plain.mae) < 1e-6 * Math.max(1, plain.mae), `${fit.mae} against ${plain.mae}`);
    assert.ok(NET_WEIGHT > 0);
  });

  it('reports the error of the backbone as it ships, without the level it fitted beside the weights', () => {
    // every label 30 points above the backbone's: the level is fitted and left out, so the shipped backbone is off by about 30
    const lifted = rows.map((r) => ({ ...r, label: r.label + 30 }));
    const { mae } = fitBackbone(lifted);
    assert.ok(mae > 25 && mae < 35, String(mae));
  });

  it('reads each raw value of a row once, whatever the size of the grid', () => {
    let reads = 0;
    const watched = rows.map((r) => ({ label: r.label, named: new Proxy(r.named, { get: (t, k) => (reads++, Reflect.get(t, k) as unknown) }) }));
    fitBackbone(watched);
    assert.equal(reads, rows.length * BACKBONE_INPUTS.length);
  });

  it('yields the best point so far after each grid point, so that a caller can stop it early with a usable fit', () => {
    const steps = backboneFitSteps(rows);
    const first = steps.next();
    const second = steps.next();
    assert.equal(first.done, false);
    assert.equal(first.value.gridPoints, 1);
    assert.equal(second.value.gridPoints, 2);
    assert.ok(Number.isFinite(second.value.mae));
    let last = second;
    while (last.done !== true) last = steps.next();
    assert.deepEqual(last.value, fitBackbone(rows));
  });
});
