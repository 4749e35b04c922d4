import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { pathToFileURL } from 'node:url';
import { explainFeatures, formatExplanation, type Explanation } from '../../src/commands/explain.js';
import { FEATURE_NAMES, featureIndex, toFeatures } from '../../src/model/features.js';
import { modelFromFile } from '../../src/model/model.js';
import { cliPath, repoRoot } from '../helpers.js';
import { fullSample, randomModelFile } from '../model/helpers.js';

// A one-layer model that looks only at runnable tasks per CPU and disk busy.
function focusedModel() {
  const file = randomModelFile({ hidden: [] });
  const node = file.network.layers[1]!['0']!;
  node.bias = -3;
  for (const k of Object.keys(node.weights!)) node.weights![k] = 0;
  node.weights![String(featureIndex('runnable_per_cpu'))] = 8;
  node.weights![String(featureIndex('disk_busy_max'))] = 2;
  file.output = { rankAtZero: 0, rankAtOne: 1000 };
  return modelFromFile(file);
}

function explanation(sample = fullSample({ busy: 0.9, runnablePerCpu: 1.2 })): Explanation {
  return { host: 'node017', ts: Date.UTC(2026, 10, 28, 12, 30, 5), failures: {}, ...explainFeatures(focusedModel(), toFeatures(sample)) };
}

describe('explainFeatures', () => {
  it('gives each feature the rank it adds over its idle value, largest first', () => {
    const model = focusedModel();
    const f = toFeatures(fullSample({ busy: 0.9, runnablePerCpu: 1.2 }));
    const e = explainFeatures(model, f);
    assert.deepEqual(e.features.slice(0, 2).map((x) => x.name), ['runnable_per_cpu', 'disk_busy_max']);
    const idle = [...f.values];
    idle[featureIndex('runnable_per_cpu')] = 0;
    assert.equal(e.features[0]!.contribution, model.predict(f.values) - model.predict(idle));
    for (const x of e.features.slice(2)) assert.equal(x.contribution, 0, x.name);
    assert.equal(e.rank, model.predict(f.values));
    assert.equal(e.idleRank, model.predict(FEATURE_NAMES.map(() => 0)));
    assert.equal(e.model, model.id);
  });

  it('marks unavailable inputs and says when an estimate stood in for them', () => {
    const s = fullSample({ runnablePerCpu: 1.5 });
    delete s.pressure;
    const e = explainFeatures(focusedModel(), toFeatures(s));
    const byName = new Map(e.features.map((x) => [x.name, x]));
    assert.deepEqual(byName.get('psi_cpu_some'), { name: 'psi_cpu_some', unit: 'fraction', raw: null, scaled: 0.5, estimated: true, contribution: 0 });
    assert.equal(byName.get('psi_mem_some')?.estimated, false);
    assert.equal(byName.get('psi_mem_some')?.raw, null);
  });
});

describe('formatExplanation', () => {
  it('fits one 80×24 screen with every feature on it', () => {
    const text = formatExplanation(explanation());
    const lines = text.split('\n');
    assert.ok(lines.length <= 24, `${lines.length} lines`);
    for (const line of lines) assert.ok(line.length <= 80, `${line.length}: ${line}`);
    for (const name of FEATURE_NAMES) assert.ok(lines.some((l) => l.startsWith(`${name} `)), name);
  });

  it('shows the rank, what it means, and the biggest contributor first with its bar', () => {
    const e = explanation();
    const lines = formatExplanation(e).split('\n');
    assert.equal(lines[0], `node017  2026-11-28 12:30:05 UTC  model ${e.model}`);
    assert.match(lines[1]!, new RegExp(`^rank ${e.rank.toFixed(0)}: a job started now should take ${(1 + e.rank / 100).toFixed(2)} times as long`));
    assert.match(lines[3]!, /^runnable_per_cpu 1\.20 per CPU\s+0\.300\s+\+\d+  #{20}$/);
    assert.match(lines[4]!, /^disk_busy_max\s+30\.0 %\s+0\.300\s+\+\d+  #+$/);
  });

  it('writes rates, fractions and unavailable inputs readably', () => {
    const s = fullSample();
    s.memory!.majorFaultsPerSec = 25_000;
    delete s.pressure;
    const text = formatExplanation(explanation(s));
    assert.match(text, /^major_faults\s+25k\/s /m);
    assert.match(text, /^swap_io\s+10\.0\/s /m);
    assert.match(text, /^psi_io_some\s+n\/a, estimated\s+0\.300/m);
    assert.match(text, /^gpu_util_max\s+n\/a, idle\s+0\.000/m);
  });

  it('says when a collector failed', () => {
    const e = { ...explanation(), failures: { disk: 'diskstats: garbled' } };
    assert.match(formatExplanation(e).split('\n').at(-1)!, /^collectors failed: disk/);
  });
});

describe('lavarank explain', () => {
  it('samples this host and prints every feature as JSON with --json', () => {
    const script = `const m = await import(${JSON.stringify(pathToFileURL(join(repoRoot, 'dist', 'src', 'commands', 'explain.js')).href)}); process.exitCode = await m.main(['--json', '--window', '0.2']);`;
    const child = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', env: { ...process.env, LAVARANK_CONFIG: '', LSF_ENVDIR: '' } });
    assert.equal(child.status, 0, child.stderr);
    const out = JSON.parse(child.stdout) as { rank: number; model: string; features: Array<{ name: string }>; modelPath: string };
    assert.ok(out.rank >= 0 && out.rank <= 1000);
    assert.match(out.model, /^default/);
    assert.deepEqual(out.features.map((f) => f.name).sort(), [...FEATURE_NAMES].sort());
    assert.equal(out.modelPath, join(repoRoot, 'models', 'default.json'));
  });
});

describe('lavarank once and explain', () => {
  for (const command of ['once', 'explain']) {
    it(`${command} refuses a --window out of range or not a number, with status 2 and the option named`, () => {
      for (const window of ['0', '601', 'abc', '']) {
        const r = spawnSync(process.execPath, [cliPath, command, '--window', window], { encoding: 'utf8', env: { ...process.env, LAVARANK_CONFIG: '', LSF_ENVDIR: '' } });
        assert.equal(r.status, 2, `--window ${JSON.stringify(window)}: ${r.stderr}`);
        assert.equal(r.stdout, '');
        assert.equal(r.stderr.trim(), `lavarank ${command}: --window: expected seconds from 0.1 to 600, received ${JSON.stringify(window)}`);
      }
    });
  }
});
