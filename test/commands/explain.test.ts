import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { TIE_WEIGHT } from '../../src/model/rank.js';
import { pathToFileURL } from 'node:url';
import { explainFeatures, formatExplanation, jobCpusShown, type Explanation } from '../../src/commands/explain.js';
import { NET_WEIGHT } from '../../src/model/backbone.js';
import { FEATURE_NAMES, featureIndex, toFeatures } from '../../src/model/features.js';
import { loadModel, modelFromFile } from '../../src/model/model.js';
import { defaultModelPath } from '../../src/model/rankers.js';
import { cliPath, repoRoot, testDir } from '../helpers.js';
import { fullSample, randomModelFile } from '../model/helpers.js';

// A model whose backbone counts CPU work only, and whose one-layer network looks only
// at runnable tasks per CPU and disk busy.
function focusedModel() {
  const file = randomModelFile({ hidden: [] });
  file.backbone.weights = { cpu: 1, mem: 0, io: 0 };
  const node = file.residual.network.layers[1]!['0']!;
  node.bias = -3;
  for (const k of Object.keys(node.weights!)) node.weights![k] = 0;
  node.weights![String(featureIndex('runnable_per_cpu'))] = 8;
  node.weights![String(featureIndex('disk_busy_max'))] = 2;
  file.residual.output = { rankAtZero: 0, rankAtOne: 500 };
  return modelFromFile(file);
}

function explanation(sample = fullSample({ busy: 1, runnablePerCpu: 1.2 })): Explanation {
  return { host: 'node017', ts: Date.UTC(2026, 10, 28, 12, 30, 5), failures: {}, ...explainFeatures(focusedModel(), toFeatures(sample)) };
}

describe('explainFeatures', () => {
  it('gives each feature the rank it adds over its idle value, largest first', () => {
    const model = focusedModel();
    const f = toFeatures(fullSample({ busy: 1, runnablePerCpu: 1.2 }));
    const e = explainFeatures(model, f);
    // The network reads runnable tasks and the busiest disk; the backbone's CPU part, runnable tasks and the 1-minute load.
    assert.deepEqual(new Set(e.features.slice(0, 3).map((x) => x.name)), new Set(['runnable_per_cpu', 'load1_per_cpu', 'disk_busy_max']));
    assert.equal(e.features[0]!.name, 'runnable_per_cpu');
    const idle = [...f.values];
    idle[featureIndex('runnable_per_cpu')] = 0;
    const without = model.predict({ values: idle, named: { ...f.named, runnable_per_cpu: 0 } });
    assert.equal(e.features[0]!.contribution, model.predict(f) - without);
    // What the network reads, what the backbone's CPU part reads (its only fitted weight
    // here) and the busiest link, whose part of the backbone has an assumed weight.
    const others = new Set(['runnable_per_cpu', 'disk_busy_max', 'load1_per_cpu', 'cpus', 'cpu_steal', 'net_util_max']);
    for (const x of e.features) if (!others.has(x.name) && x.name !== 'cpu_busy') assert.equal(x.contribution, 0, x.name);
    // cpu_busy reaches the rank through the load tie-break alone.
    const busy = e.features.find((x) => x.name === 'cpu_busy')!.contribution;
    assert.ok(busy > 0 && busy <= TIE_WEIGHT + 1e-12, String(busy));
    assert.ok(f.named['net_util_max']! > 0 && e.features.find((x) => x.name === 'net_util_max')!.contribution > 0);
    assert.equal(e.rank, model.predict(f));
    assert.equal(e.idleRank, model.predict({ values: FEATURE_NAMES.map(() => 0), named: {} }));
    assert.equal(e.model, model.id);
  });

  it('says the cores of an SMT host, on the screen and in the JSON, and nothing of them on a host of one thread per core', () => {
    const smt = fullSample({ busy: 1, runnablePerCpu: 1, ncpu: 8 });
    smt.load = { ...smt.load!, cores: 4 };
    const e = explanation(smt);
    assert.equal(e.cores, 4);
    assert.match(formatExplanation(e).split('\n')[3] ?? '', /^by job type: .*; SMT, 4 cores/);
    const plain = explanation(fullSample({ busy: 1, runnablePerCpu: 1, ncpu: 8 }));
    assert.equal(plain.cores, null);
    assert.doesNotMatch(formatExplanation(plain), /SMT/);
  });

  it('says how many of the online CPUs a job may use where the rank counts only those, and nothing where a job may use them all', () => {
    const confined = fullSample({ busy: 2 / 64, runnablePerCpu: 4 / 64, ncpu: 64 });
    confined.cpu = { ...confined.cpu!, jobCpus: 2, jobBusy: 1 };
    assert.deepEqual(jobCpusShown(confined), { cpus: 2, online: 64 });
    const e = { ...explanation(confined), jobCpus: jobCpusShown(confined)! };
    assert.match(formatExplanation(e).split('\n')[3] ?? '', /^by job type: .*; jobs get 2 of 64 CPUs/);
    const plain = fullSample({ busy: 1, runnablePerCpu: 1, ncpu: 8 });
    assert.equal(jobCpusShown(plain), undefined);
    assert.doesNotMatch(formatExplanation(explanation(plain)), /jobs get/);
  });

  it('never shows a present load or memory stall as lowering the rank: idle is 0, not an estimate from the other inputs', () => {
    const model = loadModel(defaultModelPath(), { trust: false });
    const f = toFeatures(fullSample({ busy: 1, runnablePerCpu: 2, ncpu: 2 }));
    f.named['major_faults'] = 3000;
    f.named['psi_mem_some'] = 0.2;
    const e = explainFeatures(model, f);
    for (const name of ['load1_per_cpu', 'psi_mem_some']) {
      const x = e.features.find((g) => g.name === name)!;
      assert.ok(x.contribution >= 0, `${name} adds ${x.contribution}`);
    }
  });

  it('splits the rank into the backbone and the network\'s correction, and gives the per-type ranks', () => {
    const model = focusedModel();
    const s = fullSample({ busy: 1, runnablePerCpu: 2, ncpu: 4 });
    s.pressure!.cpuSome = 1; // eight tasks on four CPUs: some task always waits
    const f = toFeatures(s);
    const e = explainFeatures(model, f);
    const ev = model.evaluate(f);
    assert.equal(e.backbone, ev.backbone.rank);
    assert.equal(e.correction, ev.correction);
    assert.ok(Math.abs(e.rank - (e.backbone + e.correction + e.tie)) < 1e-9);
    assert.ok(Math.abs(e.tie - TIE_WEIGHT) < 1e-9, 'all CPUs busy: the whole tie-break');
    assert.deepEqual(e.typed, ev.typed);
    assert.ok(e.typed.rank_cpu > 100, 'eight tasks on four CPUs: a new one gets 4/9 of a CPU');
  });

  it('lists the inputs outside the calibration with the range seen there', () => {
    const file = randomModelFile();
    const c = featureIndex('cpus');
    file.ranges[c] = { feature: 'cpus', lo: 1 / 3, hi: 1 / 3, min: 2, max: 2 };
    const e = explainFeatures(modelFromFile(file), toFeatures(fullSample({ ncpu: 64 })));
    assert.deepEqual(e.outside, [{ name: 'cpus', raw: 64, min: 2, max: 2 }]);
    assert.ok(e.correction >= 0, 'never below the backbone outside the calibration');
  });

  it('marks unavailable inputs and says when an estimate stood in for them', () => {
    const s = fullSample({ busy: 1, runnablePerCpu: 1.5 }); // busy: the runnable count is believed
    delete s.pressure;
    const e = explainFeatures(focusedModel(), toFeatures(s));
    const byName = new Map(e.features.map((x) => [x.name, x]));
    const psi = byName.get('psi_cpu_some');
    assert.deepEqual({ ...psi, contribution: 0 }, { name: 'psi_cpu_some', unit: 'fraction', raw: null, scaled: 0.5, estimated: true, contribution: 0 });
    assert.equal(byName.get('psi_mem_some')?.estimated, false);
    assert.equal(byName.get('psi_mem_some')?.raw, null);
  });
});

describe('formatExplanation', () => {
  it('fits one 80×24 screen, naming every feature on a line of its own or in the summary line', () => {
    const text = formatExplanation(explanation());
    const lines = text.split('\n');
    assert.ok(lines.length <= 24, `${lines.length} lines`);
    for (const line of lines) assert.ok(line.length <= 80, `${line.length}: ${line}`);
    const shown = FEATURE_NAMES.filter((name) => lines.some((l) => l.startsWith(`${name} `)));
    const more = lines.map((l) => /^(\d+) more, adding [+-]?\d+ together: /.exec(l)).find((m) => m !== null);
    assert.ok(more !== undefined, text);
    assert.equal(shown.length + Number(more[1]), FEATURE_NAMES.length);
  });

  it('names the features left off the screen whole, wrapping between names rather than cutting one at 80 columns', () => {
    const e = explanation();
    const byLength = [...e.features].sort((a, b) => a.name.length - b.name.length);
    const text = formatExplanation({ ...e, features: byLength });
    const lines = text.split('\n');
    assert.ok(lines.length <= 24, `${lines.length} lines`);
    for (const line of lines) assert.ok(line.length <= 80, `${line.length}: ${line}`);
    const words = new Set(text.split(/[\s,]+/));
    for (const name of FEATURE_NAMES) assert.ok(words.has(name), `${name} is not named whole:\n${text}`);
  });

  it('shows the rank, what it means, how it is made up, the job types, and the biggest contributor first with its bar', () => {
    const e = explanation();
    const lines = formatExplanation(e).split('\n');
    assert.equal(lines[0], `node017  2026-11-28 12:30:05 UTC  model ${e.model}`);
    assert.match(lines[1]!, new RegExp(`^rank ${e.rank.toFixed(0)}: a job started now should take ${(1 + e.rank / 100).toFixed(2)} times as long`));
    assert.match(lines[2]!, new RegExp(`^= backbone ${e.backbone.toFixed(0)} [+-] network \\d+; every input within the calibration$`));
    assert.match(lines[3]!, /^by job type: CPU-bound \d+, memory-bound \d+, io-bound \d+$/);
    assert.match(lines[5]!, /^runnable_per_cpu\s+1\.20 per CPU\s+0\.300\s+\+\d+  #{20}$/);
  });

  // Any busy GPU is outside the default model's calibration (it has none): the line
  // was cut at 80 columns in the middle of the second name, "gpu_mem".
  it('names the inputs outside the calibration whole, leaving out their values or the last names where they do not fit', () => {
    const e = explanation();
    const gpus = { ...e, outside: [{ name: 'gpu_util_max', raw: 1, min: null, max: null }, { name: 'gpu_mem_used', raw: 0.964, min: null, max: null }] };
    const line = formatExplanation(gpus).split('\n')[2]!;
    assert.match(line, /; outside the calibration: gpu_util_max, gpu_mem_used$/);
    const many = { ...e, outside: ['cpus', 'gpu_util_max', 'gpu_mem_used', 'net_util_max', 'swap_io', 'major_faults'].map((name) => ({ name, raw: 1, min: null, max: null })) };
    const cut = formatExplanation(many).split('\n')[2]!;
    assert.ok(cut.length <= 80, cut);
    assert.match(cut, /; outside the calibration: cpus(, [a-z_]+)* and \d more$/);
  });

  it('says what the busiest link adds beside the job types when it adds a rank point or more, and nothing otherwise', () => {
    const s = fullSample();
    s.network!.utilizationMax = 0.95;
    const e = explanation(s);
    assert.ok(Math.abs(e.link - NET_WEIGHT * 100 * -Math.log(0.05)) < 1e-9, String(e.link));
    assert.match(formatExplanation(e).split('\n')[3]!, /^by job type: CPU-bound \d+, memory-bound \d+, io-bound \d+; busiest link \+15$/);
    s.network!.utilizationMax = 0;
    assert.match(formatExplanation(explanation(s)).split('\n')[3]!, /io-bound \d+$/);
  });

  // A generated 128-CPU node of 64 cores with a full link: the line was cut at 80
  // columns after "busiest l".
  it('names the jobs\' CPUs, the cores and the busiest link whole on a big SMT host, on a line of their own where they do not fit beside the job types', () => {
    const e: Explanation = { ...explanation(), typed: { rank_cpu: 100, rank_mem: 560, rank_io: 461 }, jobCpus: { cpus: 126, online: 128 }, cores: 63, link: 23 };
    const text = formatExplanation(e);
    const lines = text.split('\n');
    assert.ok(lines.length <= 24, `${lines.length} lines`);
    for (const line of lines) assert.ok(line.length <= 80, `${line.length}: ${line}`);
    assert.equal(lines[3], 'by job type: CPU-bound 100, memory-bound 560, io-bound 461');
    assert.equal(lines[4], '  jobs get 126 of 128 CPUs; SMT, 63 cores; busiest link +23');
    assert.match(lines[5]!, /^feature /);
  });

  it('writes rates, fractions and unavailable inputs readably', () => {
    const s = fullSample();
    s.memory!.majorFaultsPerSec = 25_000;
    delete s.pressure;
    const e = explanation(s);
    const one = (name: string): string => formatExplanation({ ...e, features: [e.features.find((f) => f.name === name)!] });
    assert.match(one('major_faults'), /^major_faults\s+25k\/s /m);
    assert.match(one('swap_io'), /^swap_io\s+10\.0\/s /m);
    assert.match(one('psi_io_some'), /^psi_io_some\s+n\/a, estimated\s+0\.300/m);
    assert.match(one('gpu_util_max'), /^gpu_util_max\s+n\/a, idle\s+0\.000/m);
    assert.match(one('cpus'), /^cpus\s+4 /m);
  });

  it('says when a collector failed', () => {
    const e = { ...explanation(), failures: { disk: 'diskstats: garbled' } };
    assert.match(formatExplanation(e).split('\n').at(-1)!, /^collectors failed: disk/);
  });

  it('shows no rank, but the pessimistic one the elim would report, when a collector the rank needs failed', () => {
    const e = { ...explanation(), failures: { cpu: 'stat: ENOENT', load: 'loadavg: ENOENT', memory: 'meminfo: ENOENT' } };
    assert.equal(formatExplanation(e).split('\n')[1], 'no rank: cpu, load, memory failed; the elim would report its pessimistic rank');
  });

  it('names every failed collector whole under the screen, within 80 columns', () => {
    const failures = { cpu: 'x', load: 'x', memory: 'x', disk: 'x', network: 'x', pressure: 'x', gpu: 'x' };
    const lines = formatExplanation({ ...explanation(), failures }).split('\n');
    assert.equal(lines.at(-1), 'collectors failed: cpu, load, memory, disk, network, pressure, gpu (see --json)');
  });

  it('keeps the rank, without a pessimistic one, when only a collector the rank can do without failed', () => {
    const e = { ...explanation(), failures: { disk: 'diskstats: garbled' } };
    const text = formatExplanation(e);
    assert.match(text.split('\n')[1]!, new RegExp(`^rank ${e.rank.toFixed(0)}: `));
    assert.doesNotMatch(text, /pessimistic/);
  });
});

describe('lavarank explain', () => {
  it('samples this host and prints every feature as JSON with --json', () => {
    const script = `const m = await import(${JSON.stringify(pathToFileURL(join(repoRoot, 'dist', 'src', 'commands', 'explain.js')).href)}); process.exitCode = await m.main(['--json', '--window', '0.2']);`;
    const child = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', env: { ...process.env, LAVARANK_CONFIG: '', LSF_ENVDIR: '' } });
    assert.equal(child.status, 0, child.stderr);
    const out = JSON.parse(child.stdout) as { rank: number; backbone: number; typed: Record<string, number>; model: string; features: Array<{ name: string }>; modelPath: string };
    assert.ok(out.rank >= 0 && out.rank <= 1000);
    assert.ok(out.backbone >= 0);
    assert.deepEqual(Object.keys(out.typed), ['rank_cpu', 'rank_mem', 'rank_io']);
    assert.match(out.model, /^default/);
    assert.deepEqual(out.features.map((f) => f.name).sort(), [...FEATURE_NAMES].sort());
    assert.equal(out.modelPath, join(repoRoot, 'models', 'default.json'));
  });
});

describe('lavarank explain with a GPU', () => {
  // nvidia-smi without persistence mode takes a second or more per run, longer than the
  // window: the sample was taken before its first result, and the GPUs read as "n/a, idle".
  it('waits for an nvidia-smi slower than the window and shows its GPUs', (t) => {
    const dir = testDir(t, 'lavarank-explain-');
    const smi = join(dir, 'nvidia-smi');
    writeFileSync(smi, "#!/bin/sh\nsleep 1\nprintf '100, 79000, 81920\\n'\n", { mode: 0o755 });
    const config = join(dir, 'lavarank.yaml');
    writeFileSync(config, `gpu: {enabled: true, command: ${smi}}\nhistory: {enabled: false}\nlog: {file: ${join(dir, 'l.log')}}\n`, { mode: 0o644 });
    const r = spawnSync(process.execPath, [cliPath, 'explain', '--json', '--window', '0.1', '--config', config], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    const out = JSON.parse(r.stdout) as { features: Array<{ name: string; raw: number | null }>; failures: Record<string, string> };
    assert.equal(out.features.find((f) => f.name === 'gpu_util_max')?.raw, 1);
    assert.deepEqual(out.failures, {});
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

describe('lavarank once with the config', () => {
  it('prints the report line the elim would write, with the three per-type ranks', (t) => {
    const dir = testDir(t, 'lavarank-once-');
    const config = join(dir, 'lavarank.yaml');
    writeFileSync(config, 'typed_ranks: true\nhistory:\n  enabled: false\n', { mode: 0o644 });
    const r = spawnSync(process.execPath, [cliPath, 'once', '--window', '0.2', '--config', config], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^4 rank [\d.]+ rank_cpu [\d.]+ rank_mem [\d.]+ rank_io [\d.]+\n$/);
  });

  it('prints the configured resource and pessimistic_rank, and exits 1, when sampling fails', (t) => {
    const dir = testDir(t, 'lavarank-once-');
    const config = join(dir, 'lavarank.yaml');
    // An empty proc_root: the required collectors fail.
    writeFileSync(config, `resource: load2\npessimistic_rank: 500\nproc_root: ${dir}\ngpu: {enabled: false}\nhistory: {enabled: false}\n`, { mode: 0o644 });
    const r = spawnSync(process.execPath, [cliPath, 'once', '--window', '0.1', '--config', config], { encoding: 'utf8' });
    assert.equal(r.status, 1, r.stderr);
    assert.equal(r.stdout, '1 load2 500\n');
    assert.match(r.stderr, /sampling failed, the elim would report the pessimistic rank/);
  });
});

describe('lavarank explain when sampling fails', () => {
  it('names the failed collectors under the screen and exits 1', (t) => {
    const dir = testDir(t, 'lavarank-explain-');
    const config = join(dir, 'lavarank.yaml');
    // An empty proc_root: the required collectors fail.
    writeFileSync(config, `proc_root: ${dir}\ngpu: {enabled: false}\nhistory: {enabled: false}\n`, { mode: 0o644 });
    const r = spawnSync(process.execPath, [cliPath, 'explain', '--window', '0.1', '--config', config], { encoding: 'utf8' });
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stdout, /\ncollectors failed: (\w+, )*cpu\b/);
  });
});
