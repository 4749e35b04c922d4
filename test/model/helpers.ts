// Model files for tests, built without brain.js: random weights of a chosen shape;
// samples from the calibration datasets and random ones.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import type { Sample } from '../../src/collectors/types.js';
import { DEFAULT_BACKBONE } from '../../src/model/backbone.js';
import { FEATURE_NAMES, featureScaling } from '../../src/model/features.js';
import { MODEL_FORMAT, MODEL_VERSION, type BrainNetworkJSON, type ModelFile } from '../../src/model/model.js';
import type { Activation } from '../../src/model/network.js';
import { seededRandom } from '../../src/util/random.js';
import { repoRoot } from '../helpers.js';

// A brain.js-shaped network JSON with seeded random weights in [-scale, scale].
export function randomNetwork(sizes: number[], activation: Activation = 'sigmoid', seed = 1, scale = 2): BrainNetworkJSON {
  const rand = seededRandom(seed);
  const layers: BrainNetworkJSON['layers'] = [];
  sizes.forEach((size, l) => {
    const layer: BrainNetworkJSON['layers'][number] = {};
    for (let node = 0; node < size; node++) {
      if (l === 0) {
        layer[String(node)] = {};
        continue;
      }
      const weights: Record<string, number> = {};
      for (let k = 0; k < sizes[l - 1]!; k++) weights[String(k)] = Math.fround((rand() * 2 - 1) * scale);
      layer[String(node)] = { bias: Math.fround((rand() * 2 - 1) * scale), weights };
    }
    layers.push(layer);
  });
  return { sizes, layers, outputLookup: false, inputLookup: false, activation, trainOpts: {} };
}

// A complete, valid model file around a random correction network, with the default
// backbone and every input's range 0..1 (nothing is ever outside it).
export function randomModelFile(options: { seed?: number; hidden?: number[]; activation?: Activation; name?: string } = {}): ModelFile & { residual: NonNullable<ModelFile['residual']> } {
  const sizes = [FEATURE_NAMES.length, ...(options.hidden ?? [6]), 1];
  return {
    format: MODEL_FORMAT,
    version: MODEL_VERSION,
    name: options.name ?? 'test',
    features: [...FEATURE_NAMES],
    scaling: featureScaling(),
    backbone: { ...DEFAULT_BACKBONE, weights: { ...DEFAULT_BACKBONE.weights } },
    ranges: FEATURE_NAMES.map((feature) => ({ feature, lo: 0, hi: 1, min: null, max: null })),
    residual: { output: { rankAtZero: -50, rankAtOne: 500 }, network: randomNetwork(sizes, options.activation ?? 'sigmoid', options.seed ?? 1) },
    training: {
      date: '2026-11-28T12:00:00.000Z',
      source: ['test'],
      samples: 100,
      trainSamples: 80,
      holdoutSamples: 20,
      holdoutMae: 12.5,
      baselines: { mean: 40, loadOnly: 30, formula: 50 },
      backboneVersion: 3,
    },
  };
}

// A sample with every subsystem present (no GPU), at a chosen CPU load.
export function fullSample(over: { busy?: number; runnablePerCpu?: number; ncpu?: number } = {}): Sample {
  const ncpu = over.ncpu ?? 4;
  const busy = over.busy ?? 0.5;
  const runnablePerCpu = over.runnablePerCpu ?? busy;
  return {
    ts: Date.UTC(2026, 10, 28, 12),
    failures: {},
    cpu: { user: busy * 0.8, system: busy * 0.2, iowait: 0.05, steal: 0.01, busy, online: ncpu },
    load: { load1: 2 * ncpu * busy, load1PerCpu: 2 * busy, runnable: runnablePerCpu * ncpu, runnablePerCpu, online: ncpu },
    memory: {
      totalBytes: 16e9,
      availableBytes: 6e9,
      usedFraction: 0.625,
      swapTotalBytes: 0,
      swapUsedFraction: 0,
      swapInPerSec: 0,
      swapOutPerSec: 10,
      majorFaultsPerSec: 100,
    },
    disk: { devices: [{ name: 'sda', busy: 0.3, readBytesPerSec: 1e6, writeBytesPerSec: 2e6 }], busiest: 'sda', busyMax: 0.3, busyMean: 0.3, readBytesPerSec: 1e6, writeBytesPerSec: 2e6 },
    network: { interfaces: [{ name: 'eth0', rxBytesPerSec: 1e6, txBytesPerSec: 1e5, speedBitsPerSec: 1e9, utilization: 0.008 }], rxBytesPerSec: 1e6, txBytesPerSec: 1e5, utilizationMax: 0.008 },
    pressure: { cpuSome: 0.2, cpuFull: 0, memorySome: 0.01, memoryFull: 0, ioSome: 0.1, ioFull: 0.05 },
  };
}

// Every sample of the calibration datasets in data/ (idle and loaded, real and synthetic hosts).
export function calibrationSamples(): Sample[] {
  const samples: Sample[] = [];
  for (const file of ['calibration-epyc-2vcpu.jsonl', 'calibration-epyc-2vcpu-broad.jsonl', 'calibration-synthetic.jsonl']) {
    for (const line of readFileSync(join(repoRoot, 'data', file), 'utf8').split('\n')) {
      if (line.trim() === '') continue;
      const record = JSON.parse(line) as { sample: Sample; sampleDuring?: Sample };
      samples.push(record.sample);
      if (record.sampleDuring !== undefined) samples.push(record.sampleDuring);
    }
  }
  return samples;
}

// A reading's number as a collector, a dataset or a damaged one may give it: ordinary
// values of any size, and the edges (0, -0, negatives, NaN, infinities, the tiniest).
const anyNumber: fc.Arbitrary<number> = fc.oneof(
  { weight: 6, arbitrary: fc.double({ min: 0, max: 1, noNaN: true }) },
  { weight: 2, arbitrary: fc.double({ min: 0, max: 1e6, noNaN: true }) },
  { weight: 1, arbitrary: fc.integer({ min: 0, max: 512 }) },
  { weight: 1, arbitrary: fc.constantFrom(0, -0, -1, 1, 4, 10_000, 5e-324, 1e300, NaN, Infinity, -Infinity) },
);

// A part of a sample with these number fields, any of them absent, or the part absent.
function part<K extends string>(keys: readonly K[]): fc.Arbitrary<Record<K, number> | undefined> {
  const fields = Object.fromEntries(keys.map((k) => [k, anyNumber])) as Record<K, fc.Arbitrary<number>>;
  return fc.option(fc.record(fields, { requiredKeys: [] }), { freq: 6, nil: undefined }) as fc.Arbitrary<Record<K, number> | undefined>;
}

// Samples with any subsystem present or absent and any values in the fields the features read.
export const anySample: fc.Arbitrary<Sample> = fc
  .record({
    cpu: part(['busy', 'iowait', 'steal', 'online', 'user', 'system', 'minBusy', 'jobCpus', 'jobBusy', 'jobCores', 'jobElsewhere1', 'quotaCpus', 'quotaUsed', 'quotaThrottled', 'quotaTasks1']),
    load: part(['runnablePerCpu', 'load1PerCpu', 'online', 'load1', 'runnable']),
    memory: part(['usedFraction', 'swapInPerSec', 'swapOutPerSec', 'majorFaultsPerSec', 'totalBytes']),
    disk: part(['busyMax', 'busyMean']),
    network: part(['utilizationMax', 'rxBytesPerSec']),
    pressure: part(['cpuSome', 'memorySome', 'memoryFull', 'ioSome', 'ioFull']),
    gpu: part(['utilMax', 'memUsedFraction', 'count']),
  })
  .map((parts) => {
    const sample: Record<string, unknown> = { ts: 0, failures: {} };
    for (const [name, value] of Object.entries(parts)) if (value !== undefined) sample[name] = value;
    return sample as unknown as Sample;
  });
