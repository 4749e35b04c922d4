import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { ModelError } from '../../src/util/errors.js';
import { backbone } from '../../src/model/backbone.js';
import { FEATURE_NAMES, featuresFromNamed, toFeatures } from '../../src/model/features.js';
import { MAX_MODEL_BYTES, VALIDATION_SLICE, loadModel, modelId, parseModel, parseModelAsync, readModelText, serializeModel, type LoadedModel, type ModelFile, type ModelInput } from '../../src/model/model.js';
import { repoRoot, tempDir } from '../helpers.js';
import { anySample, calibrationSamples, randomModelFile } from './helpers.js';
import { referenceEvaluate } from './reference.js';

type TestFile = ReturnType<typeof randomModelFile> & Record<string, unknown>;

// Every text `rejects` saw refused, with parseModel's message, for the reload's check (parseModelAsync).
const refused: Array<{ text: string; message: string }> = [];

function rejects(mutate: (m: TestFile) => void, pattern: RegExp): void {
  const file = randomModelFile({ hidden: [5, 3] }) as TestFile;
  mutate(file);
  const text = JSON.stringify(file);
  assert.throws(() => parseModel(text, 'm.json'), (err: unknown) => {
    assert.ok(err instanceof ModelError, `expected ModelError, got ${String(err)}`);
    assert.match(err.message, /^m\.json: /);
    assert.match(err.message, pattern);
    refused.push({ text, message: err.message });
    return true;
  });
}

describe('parseModel', () => {
  it('accepts a complete model and predicts a rank within 0..1000', () => {
    const model = parseModel(serializeModel(randomModelFile()), 'm.json');
    const rank = model.predict({ values: FEATURE_NAMES.map(() => 0.5), named: { cpus: 4, runnable_per_cpu: 1 } });
    assert.ok(rank >= 0 && rank <= 1000, String(rank));
    assert.match(model.id, /^test#[0-9a-f]{8}$/);
  });

  it('identifies a model by its name and the digest of its bytes', () => {
    const text = serializeModel(randomModelFile());
    assert.equal(parseModel(text, 'a').id, modelId('test', text));
    assert.notEqual(parseModel(serializeModel(randomModelFile({ seed: 2 })), 'b').id, parseModel(text, 'a').id);
  });

  it('loads a model file that begins with a byte order mark, its id the digest of every byte, as sha256sum gives it', () => {
    const { dir, cleanup } = tempDir();
    try {
      const path = join(dir, 'm.json');
      const bytes = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(serializeModel(randomModelFile({ name: 'bom' })))]);
      writeFileSync(path, bytes, { mode: 0o644 });
      chmodSync(path, 0o644);
      const model = loadModel(path, { trust: false });
      assert.equal(model.id, `bom#${createHash('sha256').update(bytes).digest('hex').slice(0, 8)}`);
    } finally {
      cleanup();
    }
  });

  it('keeps the ids history and the docs already hold: the first 8 hex digits of the SHA-256 of the file', () => {
    const text = readFileSync(join(repoRoot, 'models', 'default.json'), 'utf8');
    assert.equal(modelId('default', text), 'default#ec38855a');
  });

  it('adds the network output, mapped linearly from rankAtZero to rankAtOne, to the backbone', () => {
    const file = randomModelFile({ hidden: [] });
    // Weights 0 and bias 0: the sigmoid gives 0.5 whatever the input.
    for (const node of Object.values(file.residual.network.layers[1]!)) {
      node.bias = 0;
      for (const k of Object.keys(node.weights!)) node.weights![k] = 0;
    }
    file.residual.output = { rankAtZero: 100, rankAtOne: 300 };
    const model = parseModel(JSON.stringify(file), 'm');
    assert.equal(model.predict({ values: FEATURE_NAMES.map(() => 1), named: {} }), 200, 'an idle host: backbone 0');
    const named = { cpus: 2, runnable_per_cpu: 2, load1_per_cpu: 2 };
    const e = model.evaluate({ values: FEATURE_NAMES.map(() => 1), named });
    assert.equal(e.backbone.rank, backbone(named, file.backbone).rank);
    assert.equal(e.correction, 200);
    assert.equal(e.rank, e.backbone.rank + 200);
  });

  it('ranks with the backbone alone when the file has no network', () => {
    const file = { ...randomModelFile(), residual: null };
    const model = parseModel(JSON.stringify(file), 'm');
    assert.equal(model.network, undefined);
    const named = { cpus: 8, runnable_per_cpu: 1.5, load1_per_cpu: 1.5, psi_io_some: 0.3 };
    assert.equal(model.predict({ values: FEATURE_NAMES.map(() => 0.3), named }), backbone(named, file.backbone).rank);
  });

  // Its io weight, and any correction network, were fitted on "some" read as the host's
  // share: ranked with the new io cost it would mean what nobody validated.
  it('ranks a model fitted before 2026-12-06 (no training.backboneVersion) with the io cost it was fitted with, PSI io "some" as the host\'s share', () => {
    const file = { ...randomModelFile(), residual: null };
    const named = { cpus: 16, cpu_busy: 0.5, cpu_iowait: 0.06, runnable_per_cpu: 0.5, load1_per_cpu: 0.5, psi_io_some: 0.11 };
    const input = { values: FEATURE_NAMES.map(() => 0.3), named };
    assert.equal(parseModel(JSON.stringify(file), 'new').evaluate(input).backbone.io, backbone(named, file.backbone, 'waiters').io);
    delete (file.training as Record<string, unknown>)['backboneVersion'];
    const old = parseModel(JSON.stringify(file), 'old').evaluate(input).backbone;
    assert.equal(old.io, backbone(named, file.backbone, 'some').io);
    assert.ok(old.io < 15, `the diluted share: rank_io ${old.io}`);
  });

  // Fitted and validated on the host's waiters: ranked per busy device it would mean
  // what nobody validated (its io weight was fitted on the other reading).
  it('ranks a model of backbone version 2 with the host\'s waiters, and one of version 3 with the waiters per busy device', () => {
    const file = { ...randomModelFile(), residual: null };
    const named = { cpus: 16, cpu_busy: 0.5, cpu_iowait: 0.06, runnable_per_cpu: 0.5, load1_per_cpu: 0.5, psi_io_some: 0.5, disk_busy_max: 0.9, io_devices: 4 };
    const input = { values: FEATURE_NAMES.map(() => 0.3), named };
    file.training['backboneVersion'] = 3;
    const v3 = parseModel(JSON.stringify(file), 'v3').evaluate(input).backbone.io;
    file.training['backboneVersion'] = 2;
    const v2 = parseModel(JSON.stringify(file), 'v2').evaluate(input).backbone.io;
    assert.equal(v3, backbone(named, file.backbone, 'device').io);
    assert.equal(v2, backbone(named, file.backbone, 'waiters').io);
    assert.ok(v3 < v2, `rank_io ${v3} per device, ${v2} on the host`);
  });

  it('never lets the network lower the rank below the backbone once an input is above the range seen in training', () => {
    const file = randomModelFile({ hidden: [] });
    const node = file.residual.network.layers[1]!['0']!;
    node.bias = -4; // the network alone would take about 50 points off
    for (const k of Object.keys(node.weights!)) node.weights![k] = 0;
    file.residual.output = { rankAtZero: -50, rankAtOne: 50 };
    const i = FEATURE_NAMES.indexOf('psi_io_some');
    file.ranges[i] = { feature: 'psi_io_some', lo: 0, hi: 0.5, min: 0, max: 0.5 };
    const model = parseModel(JSON.stringify(file), 'm');
    const at = (psi: number) => {
      const values = FEATURE_NAMES.map(() => 0);
      values[i] = psi;
      return model.evaluate({ values, named: { cpus: 2, psi_io_some: psi } });
    };
    const inside = at(0.4);
    assert.deepEqual(inside.outside, []);
    assert.ok(inside.correction < -40 && inside.rank === Math.max(0, inside.backbone.rank + inside.correction), JSON.stringify(inside));
    const beyond = at(0.8);
    assert.deepEqual(beyond.outside, ['psi_io_some']);
    assert.equal(beyond.correction, 0);
    assert.equal(beyond.rank, beyond.backbone.rank);
  });

  it('refuses a leaky-relu slope outside 0 to 1, naming it: a negative one turns contention into a lower rank, down to -Infinity (rank 0)', () => {
    for (const alpha of [-0.01, -1e300, 1.5]) {
      const file = randomModelFile({ activation: 'leaky-relu' });
      file.residual.network.leakyReluAlpha = alpha;
      assert.throws(() => parseModel(serializeModel(file), 'm.json'), (err: unknown) => err instanceof ModelError && /leakyReluAlpha.*a number from 0 to 1/.test(err.message));
    }
  });

  it('keeps a correction that raises the rank, however small, once an input is above the range seen in training', () => {
    const file = randomModelFile({ hidden: [] });
    const node = file.residual.network.layers[1]!['0']!;
    node.bias = 0; // sigmoid(0): a correction of exactly 0.5 on every input
    for (const k of Object.keys(node.weights!)) node.weights![k] = 0;
    file.residual.output = { rankAtZero: 0, rankAtOne: 1 };
    const i = FEATURE_NAMES.indexOf('psi_io_some');
    file.ranges[i] = { feature: 'psi_io_some', lo: 0, hi: 0.5, min: 0, max: 0.5 };
    const model = parseModel(JSON.stringify(file), 'm');
    const values = FEATURE_NAMES.map(() => 0);
    values[i] = 0.8;
    const beyond = model.evaluate({ values, named: { cpus: 2, psi_io_some: 0.8 } });
    assert.deepEqual(beyond.outside, ['psi_io_some']);
    assert.equal(beyond.correction, 0.5);
    assert.equal(beyond.rank, beyond.backbone.rank + 0.5);
  });

  it('counts a host of another size as outside the calibration, both ways, but not a less loaded one', () => {
    const file = randomModelFile();
    const c = FEATURE_NAMES.indexOf('cpus');
    const r = FEATURE_NAMES.indexOf('runnable_per_cpu');
    file.ranges[c] = { feature: 'cpus', lo: 1 / 3, hi: 1 / 3, min: 2, max: 2 };
    file.ranges[r] = { feature: 'runnable_per_cpu', lo: 0.1, hi: 0.5, min: 0.4, max: 2 };
    const model = parseModel(JSON.stringify(file), 'm');
    const outside = (named: Record<string, number>) => model.evaluate(featuresFromNamed(named)).outside;
    assert.deepEqual(outside({ cpus: 2, runnable_per_cpu: 1 }), []);
    assert.deepEqual(outside({ cpus: 2, runnable_per_cpu: 0 }), [], 'less contention than calibrated is not outside');
    assert.deepEqual(outside({ cpus: 64, runnable_per_cpu: 1 }), ['cpus']);
    assert.deepEqual(outside({ cpus: 1, runnable_per_cpu: 3 }), ['runnable_per_cpu', 'cpus']);
  });

  it('refuses text larger than the size limit before parsing it', () => {
    assert.throws(() => parseModel(' '.repeat(MAX_MODEL_BYTES + 1), 'big.json'), /big\.json: .*more than the 2097152-byte limit/);
  });

  it('refuses text that is not JSON', () => assert.throws(() => parseModel('{"format":', 'x'), /x: not valid JSON/));

  it('refuses a training.backboneVersion this build does not run, naming the versions it does', () => {
    rejects((m) => (m.training['backboneVersion'] = 4), /training\.backboneVersion is 4, expected an integer from 1 to 3 .*a newer lavarank's/);
    rejects((m) => (m.training['backboneVersion'] = '2'), /training\.backboneVersion is "2", expected an integer from 1 to 3/);
  });

  it('refuses another format or version', () => {
    rejects((m) => (m.format = 'brain' as never), /format is "brain", expected "lavarank-model"/);
    rejects((m) => (m.version = 3 as never), /version is 3, expected 2/);
  });

  it('refuses a model of the first format, saying how to retrain it', () => {
    rejects((m) => (m.version = 1 as never), /version is 1: a model of the first format .*retrain it for this version: "lavarank retrain" for a site model, "npm run train-default" for the embedded default/);
  });

  it('refuses the embedded default of the previous release (format 1) as a file, naming it and how to retrain', () => {
    const path = join(repoRoot, 'test', 'fixtures', 'models', 'default-format1.json');
    assert.throws(() => parseModel(readFileSync(path, 'utf8'), path), (err: unknown) => {
      assert.ok(err instanceof ModelError);
      assert.match(err.message, /default-format1\.json: .*version is 1: a model of the first format.*"lavarank retrain" for a site model/);
      return true;
    });
  });

  it('refuses backbone parameters out of their range, naming them', () => {
    rejects((m) => (m.backbone.weights.mem = -0.1), /backbone\.weights\.mem is -0\.1, expected a number from 0 to 100/);
    rejects((m) => (m.backbone.runnableWeight = 2), /backbone\.runnableWeight is 2, expected a number from 0 to 1/);
    rejects((m) => delete (m.backbone as Partial<ModelFile['backbone']>).secondsPerPage, /backbone\.secondsPerPage is nothing/);
  });

  it('refuses ranges that are not one per feature in order, or not ordered', () => {
    rejects((m) => m.ranges.pop(), /ranges has \d+ entries, expected one per feature/);
    rejects((m) => (m.ranges[0]!.feature = 'load5'), /ranges\[0\]\.feature is "load5", expected "cpu_busy"/);
    rejects((m) => Object.assign(m.ranges[2]!, { lo: 0.8, hi: 0.5 }), /ranges\[2\] lo 0\.8 and hi 0\.5 must satisfy 0 <= lo <= hi <= 1/);
  });

  it('refuses a raw range whose min is above its max, or with only one of them', () => {
    rejects((m) => Object.assign(m.ranges[3]!, { min: 2, max: 1 }), /ranges\[3\] min 2 and max 1 must both be null or min <= max/);
    rejects((m) => Object.assign(m.ranges[3]!, { min: 1, max: null }), /ranges\[3\] min 1 and max null must both be null or min <= max/);
  });

  it('refuses unknown top-level keys', () => rejects((m) => (m['script'] = 'x'), /script is not a known key/));

  it('refuses a feature list other than this build\'s, naming the first difference', () => {
    rejects((m) => (m.features[3] = 'load5'), /features\[3\] is "load5", but this build expects "load1_per_cpu"/);
    rejects((m) => m.features.pop(), new RegExp(`features\\[${FEATURE_NAMES.length - 1}\\] is nothing`));
    rejects((m) => m.features.push('extra'), /this build has no feature there/);
  });

  it('refuses scaling other than this build\'s', () => {
    rejects((m) => (m.scaling[3]!.cap = 8), /scaling\[3\]\.cap is 8, expected 4/);
    rejects((m) => (m.scaling[6]!.transform = 'linear'), /scaling\[6\]\.transform is "linear", expected "log1p"/);
  });

  it('refuses a non-finite weight or bias, naming its place', () => {
    rejects((m) => (m.residual.network.layers[2]!['1']!.weights!['3'] = null as never), /network\.layers\[2\]\["1"\]\.weights\["3"\] is null, expected a finite number/);
    rejects((m) => (m.residual.network.layers[1]!['0']!.bias = 'NaN' as never), /network\.layers\[1\]\["0"\]\.bias is "NaN", expected a finite number/);
    // JSON has no Infinity, but 1e999 parses to it.
    const text = JSON.stringify(randomModelFile()).replace(/"bias":[-0-9.e]+/, '"bias":1e999');
    assert.throws(() => parseModel(text, 'm'), /bias is Infinity, expected a finite number/);
  });

  it('refuses a weight or bias beyond float32 range, which the network would hold as Infinity', () => {
    rejects((m) => (m.residual.network.layers[1]!['0']!.weights!['0'] = 1e308), /network\.layers\[1\]\["0"\]\.weights\["0"\] is 1e\+308, expected a number within float32 range/);
    rejects((m) => (m.residual.network.layers[1]!['0']!.bias = -1e39), /bias is -1e\+39, expected a number within float32 range/);
  });

  it('refuses code where a number belongs, without running it', () => {
    rejects((m) => (m.residual.network.layers[1]!['2']!.weights!['0'] = 'process.exit(7)' as never), /weights\["0"\] is "process.exit\(7\)", expected a finite number/);
  });

  it('refuses layer sizes inconsistent with the feature count or with each other', () => {
    rejects((m) => (m.residual.network.sizes[0] = 5), /network\.sizes\[0\] is 5, but the model has \d+ features/);
    rejects((m) => (m.residual.network.sizes[3] = 2), /network\.sizes\[3\] is 2, expected 1 output/);
    rejects((m) => m.residual.network.layers.pop(), /network\.layers has 3 layers, but residual\.network\.sizes has 4/);
    rejects((m) => delete m.residual.network.layers[1]!['4'], /network\.layers\[1\] has no node "4"/);
    rejects((m) => (m.residual.network.layers[1]!['5'] = { bias: 0, weights: {} }), /network\.layers\[1\] has 6 nodes, expected 5 \(unexpected "5"\)/);
    rejects((m) => delete m.residual.network.layers[3]!['0']!.weights!['2'], /network\.layers\[3\]\["0"\]\.weights has no weight "2"/);
    rejects((m) => (m.residual.network.sizes[1] = 100000), /network\.sizes\[1\] is 100000, expected an integer from 1 to 512/);
  });

  it('takes 2 to 8 layers of 1 to 512 nodes, as docs/model.md says, and refuses 9 layers or a layer of no nodes', () => {
    const eight = parseModel(serializeModel(randomModelFile({ hidden: [2, 2, 2, 2, 2, 2] })), 'm.json');
    assert.ok(Number.isFinite(eight.predict({ values: FEATURE_NAMES.map(() => 0.5), named: { cpus: 4, runnable_per_cpu: 1 } })));
    assert.throws(() => parseModel(serializeModel(randomModelFile({ hidden: [2, 2, 2, 2, 2, 2, 2] })), 'm.json'), /network\.sizes has 9 layers, expected 2 to 8/);
    rejects((m) => (m.residual.network.sizes[1] = 0), /network\.sizes\[1\] is 0, expected an integer from 1 to 512/);
  });

  it('refuses an unknown activation', () => rejects((m) => (m.residual.network.activation = 'softmax' as never), /network\.activation is "softmax", expected one of sigmoid, relu, leaky-relu, tanh/));

  it('refuses a network trained with named inputs (a lookup table)', () => rejects((m) => (m.residual.network.inputLookup = true), /network\.inputLookup is true/));

  it('refuses an output scaling that does not increase', () => rejects((m) => (m.residual.output.rankAtOne = -50), /residual\.output\.rankAtOne \(-50\) must be greater/));

  it('refuses missing training metadata', () => {
    rejects((m) => delete (m.training as Partial<ModelFile['training']>).holdoutMae, /training\.holdoutMae is nothing, expected a finite number/);
    rejects((m) => (m.training.date = 'yesterday'), /training\.date is "yesterday", expected an ISO 8601 date/);
    rejects((m) => delete (m.training.baselines as Partial<ModelFile['training']['baselines']>).loadOnly, /training\.baselines\.loadOnly/);
  });

  // After the tests above, which fill `refused`.
  it('refuses every model the tests above refuse with the same message at a reload, which checks the network between turns of the event loop', async () => {
    assert.ok(refused.length >= 30, `${refused.length} refusals recorded`);
    for (const { text, message } of refused) {
      await assert.rejects(parseModelAsync(text, 'm.json'), (err: unknown) => err instanceof ModelError && err.message === message, message);
    }
  });

  // At once, the parse and validation of a model near the 2 MiB limit held the elim's
  // reports and SIGTERM handler for 62-106 ms of CPU (--lite-mode, a load of 9).
  it('checks a large network a slice at a time with turns of the event loop between, and refuses its last bad weight as parseModel does', async () => {
    const file = randomModelFile({ hidden: [128, 64] });
    const last = file.residual.network.layers[3] as Record<string, { weights: Record<string, unknown> }>;
    last['0']!.weights['63'] = null;
    const text = serializeModel(file);
    assert.throws(() => parseModel(text, 'm.json'), /layers\[3\]\["0"\]\.weights\["63"\] is null, expected a finite number/);
    let turns = 0;
    let done = false;
    const count = (): void => {
      turns++;
      if (!done) setImmediate(count);
    };
    setImmediate(count);
    await assert.rejects(parseModelAsync(text, 'm.json'), /layers\[3\]\["0"\]\.weights\["63"\] is null, expected a finite number/);
    done = true;
    const slices = Math.floor((FEATURE_NAMES.length * 128 + 128 * 64 + 64) / VALIDATION_SLICE);
    assert.ok(slices >= 2 && turns >= slices + 2, `${turns} turns of the loop for ${slices} slices, the parse and the read before it`);
  });
});

describe('loadModel', () => {
  it('reads a trusted file and records its path', () => {
    const t = tempDir();
    try {
      const path = join(t.dir, 'm.json');
      writeFileSync(path, serializeModel(randomModelFile()), { mode: 0o644 });
      const model = loadModel(path);
      assert.equal(model.path, path);
      assert.equal(model.id, modelId('test', readFileSync(path, 'utf8')));
    } finally {
      t.cleanup();
    }
  });

  it('refuses a file other users can write', () => {
    const t = tempDir();
    try {
      const path = join(t.dir, 'm.json');
      writeFileSync(path, serializeModel(randomModelFile()));
      chmodSync(path, 0o666);
      assert.throws(() => loadModel(path), (err: unknown) => err instanceof ModelError && /writable by group or others/.test(err.message));
    } finally {
      t.cleanup();
    }
  });

  // On the real cluster the elim's fatal line and check read `model file F refused: model
  // file F has mode 0666, ...`, the file named twice.
  it('names a refused file once, and a problem on its path after the file', () => {
    const t = tempDir();
    try {
      const sub = join(t.dir, 'sub');
      mkdirSync(sub, { mode: 0o755 });
      const path = join(sub, 'm.json');
      writeFileSync(path, serializeModel(randomModelFile()));
      chmodSync(path, 0o666);
      assert.throws(() => loadModel(path), (err: unknown) => err instanceof ModelError && err.message === `model file ${path} has mode 0666, writable by group or others; run: chmod go-w ${path}`);
      chmodSync(path, 0o644);
      chmodSync(sub, 0o777);
      assert.throws(() => loadModel(path), (err: unknown) => err instanceof ModelError && err.message.startsWith(`model file ${path} refused: directory ${sub} above model file ${path} has mode 0777`));
    } finally {
      t.cleanup();
    }
  });

  it('refuses an oversized file without parsing it', () => {
    const t = tempDir();
    try {
      const path = join(t.dir, 'm.json');
      writeFileSync(path, Buffer.alloc(MAX_MODEL_BYTES + 10, 0x20), { mode: 0o644 });
      assert.throws(() => loadModel(path), /\d+ bytes, more than the 2097152-byte limit/);
    } finally {
      t.cleanup();
    }
  });

  it('reads a file to its end when it is longer than its size said when opened', () => {
    // /proc files are regular files whose stat size is 0: the reader has to grow its buffer.
    const text = readModelText('/proc/self/status');
    assert.match(text, /^Name:/);
    assert.match(text, /\nnonvoluntary_ctxt_switches:\s+\d+\n$/); // the last line: read to the end
    assert.ok(text.length > 512, String(text.length));
  });

  it('reads a model file exactly at the size limit', () => {
    const t = tempDir();
    try {
      const path = join(t.dir, 'm.json');
      writeFileSync(path, Buffer.alloc(MAX_MODEL_BYTES, 0x20), { mode: 0o644 });
      assert.equal(readModelText(path).length, MAX_MODEL_BYTES);
    } finally {
      t.cleanup();
    }
  });

  it('says why a missing file, a directory or a non-UTF-8 file cannot be used', () => {
    const t = tempDir();
    try {
      assert.throws(() => loadModel(join(t.dir, 'nope.json')), /model file .*nope\.json cannot be read: ENOENT/);
      mkdirSync(join(t.dir, 'd'));
      assert.throws(() => loadModel(join(t.dir, 'd')), /is not a regular file|EISDIR/);
      writeFileSync(join(t.dir, 'bin'), Buffer.from([0x7b, 0xff, 0xfe]), { mode: 0o644 });
      assert.throws(() => loadModel(join(t.dir, 'bin')), /not UTF-8 text/);
    } finally {
      t.cleanup();
    }
  });
});

describe('loadModel on a FIFO', () => {
  // In a process of its own: were the open to block again, the test would time out
  // instead of hanging the whole test run.
  it('refuses it at once instead of waiting for a writer that never comes', () => {
    const t = tempDir();
    try {
      const fifo = join(t.dir, 'model.json');
      assert.equal(spawnSync('mkfifo', ['-m', '644', fifo]).status, 0);
      const script = `import { loadModel } from ${JSON.stringify(join(repoRoot, 'dist', 'src', 'model', 'model.js'))};
        try { loadModel(${JSON.stringify(fifo)}); console.log('loaded'); } catch (err) { console.log(err.message); }`;
      const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 10_000 });
      assert.equal(r.signal, null, 'loadModel blocked on the FIFO');
      assert.match(r.stdout, /is not a regular file/);
    } finally {
      t.cleanup();
    }
  });
});

describe('the model modules', () => {
  it('never turn file contents into code', () => {
    for (const file of ['model.ts', 'network.ts', 'features.ts']) {
      const text = readFileSync(join(repoRoot, 'src', 'model', file), 'utf8').replace(/^\s*\/\/.*$/gm, '');
      assert.doesNotMatch(text, /\bnew Function\b|\beval\(|\bfromJSON\(|\btoFunction\(|\bimport\(|\brequire\(/, file);
    }
  });
});

describe('evaluate and score', () => {
  // The default model (no network) and networks whose ranges leave inputs outside, with a correction that can go below 0.
  const models = (): LoadedModel[] => {
    const narrow = (file: ReturnType<typeof randomModelFile>): ReturnType<typeof randomModelFile> => {
      file.ranges = file.ranges.map((r, i) => ({ ...r, lo: i % 3 === 0 ? 0.1 : 0, hi: i % 2 === 0 ? 0.3 : 0.9 }));
      file.residual.output = { rankAtZero: -300, rankAtOne: 200 };
      return file;
    };
    return [
      parseModel(readFileSync(join(repoRoot, 'models', 'default.json'), 'utf8'), 'default'),
      parseModel(serializeModel(narrow(randomModelFile({ hidden: [12, 8], seed: 3 }))), 'sigmoid'),
      parseModel(serializeModel(narrow(randomModelFile({ hidden: [5], activation: 'relu', seed: 4 }))), 'relu'),
    ];
  };

  // deepStrictEqual compares numbers with Object.is: bit for bit, -0 apart from 0.
  const assertSame = (model: LoadedModel, f: ModelInput): void => {
    const expected = referenceEvaluate(model, f);
    assert.deepStrictEqual(model.evaluate(f), expected);
    assert.deepStrictEqual(model.score(f), { rank: expected.rank, backbone: expected.backbone.rank, typed: expected.typed });
    assert.ok(Object.is(model.predict(f), expected.rank));
  };

  it('give every calibration sample what the reference evaluation gives, bit for bit', () => {
    const samples = calibrationSamples();
    for (const model of models()) for (const sample of samples) assertSame(model, toFeatures(sample));
  });

  it('give random samples and arbitrary input vectors (out of range, NaN, -0) what the reference gives', () => {
    const value = fc.oneof(fc.double({ min: -0.5, max: 1.5, noNaN: true }), fc.constantFrom(0, -0, 1, NaN, Infinity, -Infinity));
    for (const model of models()) {
      fc.assert(fc.property(anySample, (sample) => assertSame(model, toFeatures(sample))), { numRuns: 500 });
      fc.assert(
        fc.property(anySample, fc.array(value, { minLength: FEATURE_NAMES.length, maxLength: FEATURE_NAMES.length }), (sample, values) => assertSame(model, { values, named: toFeatures(sample).named })),
        { numRuns: 500 },
      );
    }
  });
});
