import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { ModelError } from '../../src/util/errors.js';
import { FEATURE_NAMES } from '../../src/model/features.js';
import { MAX_MODEL_BYTES, loadModel, modelId, parseModel, readModelText, serializeModel, type ModelFile } from '../../src/model/model.js';
import { repoRoot, tempDir } from '../helpers.js';
import { randomModelFile } from './helpers.js';

function rejects(mutate: (m: ModelFile & Record<string, unknown>) => void, pattern: RegExp): void {
  const file = randomModelFile({ hidden: [5, 3] }) as ModelFile & Record<string, unknown>;
  mutate(file);
  assert.throws(() => parseModel(JSON.stringify(file), 'm.json'), (err: unknown) => {
    assert.ok(err instanceof ModelError, `expected ModelError, got ${String(err)}`);
    assert.match(err.message, /^m\.json: /);
    assert.match(err.message, pattern);
    return true;
  });
}

describe('parseModel', () => {
  it('accepts a complete model and predicts a rank within 0..1000', () => {
    const model = parseModel(serializeModel(randomModelFile()), 'm.json');
    const rank = model.predict(FEATURE_NAMES.map(() => 0.5));
    assert.ok(rank >= 0 && rank <= 1000, String(rank));
    assert.match(model.id, /^test#[0-9a-f]{8}$/);
  });

  it('identifies a model by its name and the digest of its bytes', () => {
    const text = serializeModel(randomModelFile());
    assert.equal(parseModel(text, 'a').id, modelId('test', text));
    assert.notEqual(parseModel(serializeModel(randomModelFile({ seed: 2 })), 'b').id, parseModel(text, 'a').id);
  });

  it('maps the network output linearly from output.rankAtZero to output.rankAtOne', () => {
    const file = randomModelFile({ hidden: [] });
    // Weights 0 and bias 0: the sigmoid gives 0.5 whatever the input.
    for (const node of Object.values(file.network.layers[1]!)) {
      node.bias = 0;
      for (const k of Object.keys(node.weights!)) node.weights![k] = 0;
    }
    file.output = { rankAtZero: 100, rankAtOne: 300 };
    assert.equal(parseModel(JSON.stringify(file), 'm').predict(FEATURE_NAMES.map(() => 1)), 200);
  });

  it('refuses text larger than the size limit before parsing it', () => {
    assert.throws(() => parseModel(' '.repeat(MAX_MODEL_BYTES + 1), 'big.json'), /big\.json: .*more than the 2097152-byte limit/);
  });

  it('refuses text that is not JSON', () => assert.throws(() => parseModel('{"format":', 'x'), /x: not valid JSON/));

  it('refuses another format or version', () => {
    rejects((m) => (m.format = 'brain' as never), /format is "brain", expected "lavarank-model"/);
    rejects((m) => (m.version = 2 as never), /version is 2, expected 1/);
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
    rejects((m) => (m.network.layers[2]!['1']!.weights!['3'] = null as never), /network\.layers\[2\]\["1"\]\.weights\["3"\] is null, expected a finite number/);
    rejects((m) => (m.network.layers[1]!['0']!.bias = 'NaN' as never), /network\.layers\[1\]\["0"\]\.bias is "NaN", expected a finite number/);
    // JSON has no Infinity, but 1e999 parses to it.
    const text = JSON.stringify(randomModelFile()).replace(/"bias":[-0-9.e]+/, '"bias":1e999');
    assert.throws(() => parseModel(text, 'm'), /bias is Infinity, expected a finite number/);
  });

  it('refuses a weight or bias beyond float32 range, which the network would hold as Infinity', () => {
    rejects((m) => (m.network.layers[1]!['0']!.weights!['0'] = 1e308), /network\.layers\[1\]\["0"\]\.weights\["0"\] is 1e\+308, expected a number within float32 range/);
    rejects((m) => (m.network.layers[1]!['0']!.bias = -1e39), /bias is -1e\+39, expected a number within float32 range/);
  });

  it('refuses code where a number belongs, without running it', () => {
    rejects((m) => (m.network.layers[1]!['2']!.weights!['0'] = 'process.exit(7)' as never), /weights\["0"\] is "process.exit\(7\)", expected a finite number/);
  });

  it('refuses layer sizes inconsistent with the feature count or with each other', () => {
    rejects((m) => (m.network.sizes[0] = 5), /network\.sizes\[0\] is 5, but the model has \d+ features/);
    rejects((m) => (m.network.sizes[3] = 2), /network\.sizes\[3\] is 2, expected 1 output/);
    rejects((m) => m.network.layers.pop(), /network\.layers has 3 layers, but network\.sizes has 4/);
    rejects((m) => delete m.network.layers[1]!['4'], /network\.layers\[1\] has no node "4"/);
    rejects((m) => (m.network.layers[1]!['5'] = { bias: 0, weights: {} }), /network\.layers\[1\] has 6 nodes, expected 5 \(unexpected "5"\)/);
    rejects((m) => delete m.network.layers[3]!['0']!.weights!['2'], /network\.layers\[3\]\["0"\]\.weights has no weight "2"/);
    rejects((m) => (m.network.sizes[1] = 100000), /network\.sizes\[1\] is 100000, expected an integer from 1 to 512/);
  });

  it('refuses an unknown activation', () => rejects((m) => (m.network.activation = 'softmax' as never), /network\.activation is "softmax", expected one of sigmoid, relu, leaky-relu, tanh/));

  it('refuses a network trained with named inputs (a lookup table)', () => rejects((m) => (m.network.inputLookup = true), /network\.inputLookup is true/));

  it('refuses an output scaling that does not increase', () => rejects((m) => (m.output.rankAtOne = -50), /output\.rankAtOne \(-50\) must be greater/));

  it('refuses missing training metadata', () => {
    rejects((m) => delete (m.training as Partial<ModelFile['training']>).holdoutMae, /training\.holdoutMae is nothing, expected a finite number/);
    rejects((m) => (m.training.date = 'yesterday'), /training\.date is "yesterday", expected an ISO 8601 date/);
    rejects((m) => delete (m.training.baselines as Partial<ModelFile['training']['baselines']>).loadOnly, /training\.baselines\.loadOnly/);
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
      assert.throws(() => loadModel(path), (err: unknown) => err instanceof ModelError && /refused: .*writable by group or others/.test(err.message));
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
