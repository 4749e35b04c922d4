import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { TIE_WEIGHT } from '../../src/model/rank.js';
import { pathToFileURL } from 'node:url';
import { featureIndex, featuresFromNamed } from '../../src/model/features.js';
import { modelFromFile } from '../../src/model/model.js';
import {
  bestReservation,
  hostSizeWarning,
  ignoredOption,
  reservationGrid,
  addJobs,
  addOneJob,
  builtInStates,
  formatRecommendation,
  lightStates,
  recommend,
  reservationSeconds,
  saturated,
  type HostState,
} from '../../src/commands/recommend.js';
import { cliPath, repoRoot, testDir } from '../helpers.js';
import { mergeHosts } from '../../src/simulate/hosts.js';
import { fullSample, randomModelFile } from '../model/helpers.js';

// A model whose rank is 1000 × sigmoid(runnable tasks per CPU / 4): no backbone.
function runnableModel() {
  const file = randomModelFile({ hidden: [] });
  file.backbone.weights = { cpu: 0, mem: 0, io: 0 };
  const node = file.residual.network.layers[1]!['0']!;
  node.bias = 0;
  for (const k of Object.keys(node.weights!)) node.weights![k] = 0;
  node.weights![String(featureIndex('runnable_per_cpu'))] = 1;
  file.residual.output = { rankAtZero: 0, rankAtOne: 1000 };
  return modelFromFile(file);
}

// A backbone alone that counts CPU sharing only.
function sharingModel() {
  const file = { ...randomModelFile(), residual: null };
  file.backbone = { ...file.backbone, weights: { cpu: 1, mem: 0, io: 0 }, runnableWeight: 1 };
  return modelFromFile(file);
}

const state = (ncpu: number, runnable: number, psi: number | null = 0): HostState => ({
  ncpu,
  named: { cpu_busy: runnable, runnable_per_cpu: runnable, load1_per_cpu: runnable, mem_used: 0.3, psi_cpu_some: psi },
});

describe('addOneJob', () => {
  it('adds one busy CPU, one runnable task and one unit of load, per CPU', () => {
    const after = addOneJob(state(4, 0.5));
    assert.equal(after['cpu_busy'], 0.75);
    assert.equal(after['runnable_per_cpu'], 0.75);
    assert.equal(after['load1_per_cpu'], 0.75);
    assert.equal(after['mem_used'], 0.3);
  });

  it('never takes CPU busy past 1, and adds CPU pressure only once tasks outnumber CPUs', () => {
    assert.equal(addOneJob(state(4, 0.5))['psi_cpu_some'], 0);
    const full = addOneJob(state(4, 1, 0.1));
    assert.equal(full['cpu_busy'], 1);
    assert.equal(full['runnable_per_cpu'], 1.25);
    assert.ok(Math.abs((full['psi_cpu_some'] as number) - 0.35) < 1e-12);
  });

  it('adds to the CPU pressure of a host already oversubscribed only what the new task makes wait', () => {
    const after = addOneJob(state(4, 1.5, 0.1));
    assert.ok(Math.abs((after['psi_cpu_some'] as number) - 0.35) < 1e-12, String(after['psi_cpu_some']));
  });

  it('leaves unavailable inputs unavailable', () => {
    assert.equal(addOneJob(state(4, 0.5, null))['psi_cpu_some'], null);
  });
});

describe('recommend', () => {
  it('takes D as the median, over the starting states, of the average a job adds while a burst fills the host, rounded', () => {
    const model = runnableModel();
    const states = [state(4, 0.25), state(8, 0.25), state(16, 0.25)];
    const r = recommend(model, states, { intervalSec: 10, statesFrom: 'test' });
    const rank = (s: HostState, named: Record<string, number | null>): number => model.predict(featuresFromNamed({ ...named, cpus: s.ncpu }));
    const perJob = states.map((s) => (rank(s, addJobs(s, s.ncpu)) - rank(s, s.named)) / s.ncpu);
    assert.equal(r.perJob.median, perJob.sort((a, b) => a - b)[1]);
    assert.equal(r.d, Math.round(r.perJob.median));
    assert.equal(r.states, 3);
    assert.ok(r.perJob.min <= r.perJob.median && r.perJob.median <= r.perJob.max);
  });

  it('adds k jobs as k single jobs would, per CPU', () => {
    const s = state(8, 0.25);
    assert.deepEqual(addJobs(s, 1), addOneJob(s));
    assert.equal(addJobs(s, 4)['runnable_per_cpu'], 0.75);
    assert.equal(addJobs(s, 8)['cpu_busy'], 1);
  });

  it('gives a smaller D for hosts with more CPUs, since each job is a smaller share of the host', () => {
    const model = runnableModel();
    const d = (ncpu: number): number => recommend(model, [state(ncpu, 0.25)], { intervalSec: 10, statesFrom: 'test' }).perJob.median;
    assert.ok(d(4) > d(16), `${d(4)} vs ${d(16)}`);
  });

  it('follows processor sharing with the backbone: a burst filling a light host adds what sharing its CPUs costs', () => {
    // 4 of 16 CPUs taken, 16 more jobs: 20 tasks on 16 CPUs, each gets 16/21 of one.
    const r = recommend(sharingModel(), [state(16, 0.25)], { intervalSec: 10, statesFrom: 'test' });
    // Plus the load tie-break, from a quarter of the CPUs busy to all of them.
    assert.ok(Math.abs(r.perJob.median - (100 * (21 / 16 - 1) + TIE_WEIGHT * (1 - 0.25)) / 16) < 1e-9, String(r.perJob.median));
    assert.ok(Math.abs(r.firstJobMedian - TIE_WEIGHT / 16) < 1e-12, 'the first job finds a free CPU: it adds only its share of the load tie-break');
    assert.ok(r.saturatedMedian > 5, 'one more job on a full 16-CPU host shares');
  });

  it('never recommends a D under 1, which would not make mbatchd re-sort', () => {
    const flat = randomModelFile({ hidden: [] });
    flat.backbone.weights = { cpu: 0, mem: 0, io: 0 };
    for (const k of Object.keys(flat.residual.network.layers[1]!['0']!.weights!)) flat.residual.network.layers[1]!['0']!.weights![k] = 0;
    assert.equal(recommend(modelFromFile(flat), builtInStates(), { intervalSec: 10, statesFrom: 'x' }).d, 1);
  });

  it('takes T as interval + EXINTERVAL + mbatchd refresh, within 5-50 s, in whole seconds', () => {
    assert.equal(reservationSeconds(10), 45);
    assert.equal(reservationSeconds(5), 40);
    assert.equal(reservationSeconds(7.4), 42);
    assert.equal(reservationSeconds(60), 50);
  });

  it('writes the RES_REQ with the resource name, an integer D and lower-case seconds', () => {
    const r = recommend(runnableModel(), [state(8, 0.25)], { intervalSec: 10, resource: 'lrank', statesFrom: 'test' });
    assert.match(r.resReq, /^order\[lrank\] rusage\[lrank=\d+:duration=45s:decay=1\]$/);
    const text = formatRecommendation(r);
    assert.ok(text.includes(`    RES_REQ = ${r.resReq}`));
    assert.match(text, /counted twice/);
    for (const line of text.split('\n')) assert.ok(line.length <= 80, line);
  });

  it('refuses to recommend without a starting state', () => {
    assert.throws(() => recommend(runnableModel(), [], { intervalSec: 10, statesFrom: 'd.jsonl' }), /no lightly loaded starting state in d\.jsonl/);
  });
});

describe('starting states', () => {
  it('takes the lightly loaded samples of calibration data, with their CPU counts', () => {
    const light = { sample: fullSample({ busy: 0.2, runnablePerCpu: 0.25 }), slowdown: 3 };
    light.sample.disk!.busyMax = 0.05;
    const busy = { sample: fullSample({ busy: 0.9, runnablePerCpu: 1 }), slowdown: 60 };
    const states = lightStates([light, busy]);
    assert.equal(states.length, 1);
    assert.equal(states[0]!.ncpu, 4);
    assert.equal(states[0]!.named['cpu_busy'], 0.2);
  });

  it('has built-in light states from 4 to 64 CPUs when no data is given', () => {
    const states = builtInStates();
    assert.deepEqual([...new Set(states.map((s) => s.ncpu))], [4, 8, 16, 32, 64]);
    for (const s of states) assert.ok((s.named['cpu_busy'] as number) <= 0.5);
  });

  it('takes a one-CPU host of the calibration data as a starting state', () => {
    const one = { sample: fullSample({ busy: 0.2, runnablePerCpu: 0.25, ncpu: 1 }), slowdown: 3 };
    one.sample.disk!.busyMax = 0.05;
    assert.deepEqual(lightStates([one]).map((s) => s.ncpu), [1]);
  });

  it('leaves out a sample with more runnable tasks than half its CPUs, though at most half its CPUs are busy', () => {
    const queued = { sample: fullSample({ busy: 0.45, runnablePerCpu: 2 }), slowdown: 3 };
    queued.sample.disk!.busyMax = 0.05;
    assert.deepEqual(lightStates([queued]), []);
  });

  it('keeps a load already past one task per CPU when comparing with every CPU taken', () => {
    assert.equal(saturated(state(8, 1.5)).named['runnable_per_cpu'], 1.5);
  });

  it('compares with the same hosts once every CPU is taken', () => {
    const s = saturated(state(8, 0.25));
    assert.equal(s.named['runnable_per_cpu'], 1);
    assert.equal(s.named['cpu_busy'], 1);
    assert.equal(s.named['mem_used'], 0.3);
  });
});

describe('lavarank recommend', () => {
  it('prints D, T and the RES_REQ for the embedded default model and a calibration dataset', () => {
    const script = `const m = await import(${JSON.stringify(pathToFileURL(join(repoRoot, 'dist', 'src', 'commands', 'recommend.js')).href)}); process.exitCode = await m.main(process.argv.slice(1));`;
    const data = join(repoRoot, 'data', 'calibration-synthetic.jsonl');
    const child = spawnSync(process.execPath, ['--input-type=module', '-e', script, '--', '--json', '--data', data], { encoding: 'utf8', env: { ...process.env, LAVARANK_CONFIG: '', LSF_ENVDIR: '' } });
    assert.equal(child.status, 0, child.stderr);
    const r = JSON.parse(child.stdout) as { d: number; t: number; resReq: string; states: number };
    assert.ok(Number.isInteger(r.d) && r.d >= 1);
    assert.equal(r.t, 45);
    assert.equal(r.resReq, `order[rank] rusage[rank=${r.d}:duration=45s:decay=1]`);
    assert.ok(r.states > 50, String(r.states));
  });

  it("takes the resource and the elim's interval from the config: order[resource], and T from its interval", (t) => {
    const dir = testDir(t, 'lavarank-recommend-');
    const config = join(dir, 'lavarank.yaml');
    writeFileSync(config, 'resource: lrank\ninterval: 5\n', { mode: 0o644 });
    const child = spawnSync(process.execPath, [cliPath, 'recommend', '--json', '--cpus', '8', '--config', config], { encoding: 'utf8' });
    assert.equal(child.status, 0, child.stderr);
    const r = JSON.parse(child.stdout) as { d: number; t: number; resReq: string };
    assert.equal(r.t, 40, '5 s + EXINTERVAL 15 s + 20 s');
    assert.equal(r.resReq, `order[lrank] rusage[lrank=${r.d}:duration=40s:decay=1]`);
  });

  it('recommends, without --cpus, for the CPUs a job may use where the config names fewer than the online ones, as the rank counts them', (t) => {
    const dir = testDir(t, 'lavarank-recommend-');
    const config = join(dir, 'lavarank.yaml');
    writeFileSync(config, 'cpu:\n  job_cpus: "0"\n', { mode: 0o644 });
    const child = spawnSync(process.execPath, [cliPath, 'recommend', '--json', '--config', config], { encoding: 'utf8' });
    assert.equal(child.status, 0, child.stderr);
    const r = JSON.parse(child.stdout) as { d: number; statesFrom: string };
    assert.match(r.statesFrom, /for hosts with 1 CPU \(--cpus\)$/);
    const one = spawnSync(process.execPath, [cliPath, 'recommend', '--json', '--cpus', '1', '--config', config], { encoding: 'utf8' });
    assert.equal((JSON.parse(one.stdout) as { d: number }).d, r.d, 'the same D as --cpus 1');
  });

  it('says which lines of a --data file it skipped, and recommends from the rest', (t) => {
    const dir = testDir(t, 'lavarank-recommend-');
    const data = join(dir, 'calibration.jsonl');
    writeFileSync(data, `${readFileSync(join(repoRoot, 'data', 'calibration-synthetic.jsonl'), 'utf8')}not json\n`);
    const child = spawnSync(process.execPath, [cliPath, 'recommend', '--json', '--cpus', '8', '--data', data], { encoding: 'utf8', env: { ...process.env, LAVARANK_CONFIG: '', LSF_ENVDIR: '' } });
    assert.equal(child.status, 0, child.stderr);
    assert.match(child.stderr, /^skipped .*calibration\.jsonl/m);
    assert.ok((JSON.parse(child.stdout) as { states: number }).states > 50);
  });

  it('refuses a --cpus that is not a whole number of CPUs with status 2', () => {
    const script = `const m = await import(${JSON.stringify(pathToFileURL(join(repoRoot, 'dist', 'src', 'commands', 'recommend.js')).href)}); process.exitCode = await m.main(process.argv.slice(1));`;
    const child = spawnSync(process.execPath, ['--input-type=module', '-e', script, '--', '--cpus', '2.5'], { encoding: 'utf8', env: { ...process.env, LAVARANK_CONFIG: '', LSF_ENVDIR: '' } });
    assert.equal(child.status, 2);
    assert.equal(child.stderr, 'lavarank recommend: --cpus: expected a whole number of CPUs from 1 to 4096, received "2.5"\n');
  });
});

describe('options the chosen mode would ignore', () => {
  const run = (args: string[]) => spawnSync(process.execPath, [cliPath, 'recommend', ...args], { encoding: 'utf8', env: { ...process.env, LAVARANK_CONFIG: '', LSF_ENVDIR: '' } });

  it('refuses a simulator option such as --acct without --hosts, which would print the model\'s D as if the jobs had been replayed, and exits 2', () => {
    const child = run(['--cpus', '8', '--acct', join(repoRoot, 'test', 'fixtures', 'openlava', 'lsb.acct')]);
    assert.equal(child.status, 2);
    assert.equal(child.stdout, '');
    assert.match(child.stderr, /^lavarank recommend: --acct applies with --hosts or --synthetic only \(the simulator\)/);
  });

  it('refuses --cpus beside --hosts, which the simulator would not use, and exits 2', () => {
    const child = run(['--hosts', join(repoRoot, 'test', 'fixtures', 'openlava', 'lshosts-l.txt'), '--cpus', '64', '--jobs', '60', '--seeds', '1']);
    assert.equal(child.status, 2);
    assert.equal(child.stdout, '');
    assert.match(child.stderr, /^lavarank recommend: --cpus applies without --hosts only/);
  });

  it('refuses --d beside --hosts, since recommend chooses D there itself, and exits 2', () => {
    assert.equal(ignoredOption({ hosts: ['h'], d: '10' })?.startsWith('--d: with --hosts or --synthetic recommend chooses D and T itself'), true);
  });

  it('takes --synthetic N as the simulator on N generated hosts, as its help says', () => {
    assert.equal(ignoredOption({ synthetic: '4', jobs: '60' }), undefined);
    assert.match(ignoredOption({ synthetic: '4', data: 'x.jsonl' }) ?? '', /^--data applies without --hosts only/);
  });
});

// Runs `lavarank recommend --hosts` on a YAML host list with a config of its own.
function recommendOnHosts(t: { after: (fn: () => void) => void }, hosts: string, config: string, args: string[]): { status: number | null; stdout: string; stderr: string } {
  const dir = testDir(t, 'lavarank-recommend-');
  writeFileSync(join(dir, 'hosts.yaml'), hosts);
  writeFileSync(join(dir, 'lavarank.yaml'), config, { mode: 0o644 });
  return spawnSync(process.execPath, [cliPath, 'recommend', '--hosts', join(dir, 'hosts.yaml'), '--config', join(dir, 'lavarank.yaml'), ...args], { encoding: 'utf8' });
}

// Bursts of CPU-bound jobs onto 16 hosts of 4 CPUs with 16 slots each: with order[rank]
// alone a burst herds onto the hosts that looked idle at the last refresh, and the
// reservation (D 10, T 25 s) spreads it, by far (mean slowdown 2.29 against 2.60 on
// seed 1). T 25 s is not what the config's interval gives (5 s: 40 s), nor D.
const HERDING_HOSTS = '- {name: n, cpus: 4, mxj: 16, count: 16}\n';
const HERDING_ARGS = ['--jobs', '300', '--seeds', '1', '--sweep', '10', '--durations', '25', '--burst', '0.9,40', '--mix', '1,0,0', '--utilisation', '0.7'];

describe('recommend with the simulator (--hosts)', () => {
  it('tries every D for every T, beside the default order and order[rank] alone', () => {
    const grid = reservationGrid([0, 5, 20], [25, 45]);
    assert.deepEqual(grid.map((p) => p.name), ['default', 'rank', 'D5/T25', 'D20/T25', 'D5/T45', 'D20/T45']);
    assert.deepEqual(grid[5]!.reservation, { value: 20, duration: 45, decay: 1 });
  });

  it('picks the rank policy with the lowest mean slowdown, reservation or not', () => {
    const s = (name: string, mean: number, kind: 'rank' | 'default' = 'rank') => ({ name, kind, description: '', runs: [], meanSlowdown: { mean, sd: 0, ci95: 0, n: 1 } });
    assert.equal(bestReservation([s('default', 1.0, 'default'), s('rank', 1.2), s('D5/T45', 1.1)])!.name, 'D5/T45');
    assert.equal(bestReservation([s('rank', 1.05), s('D5/T45', 1.1)])!.name, 'rank');
  });

  it('warns when host sizes need Ds more than twice apart, and not for one size', () => {
    const model = runnableModel();
    const mixed = hostSizeWarning(model, mergeHosts([{ name: 'a', cpus: 4 }, { name: 'b', cpus: 64 }]), 10);
    assert.equal(mixed.perSize.length, 2);
    assert.ok(mixed.perSize[0]!.d > 2 * mixed.perSize[1]!.d);
    assert.match(mixed.warning!, /one queue per host group/);
    assert.equal(hostSizeWarning(model, mergeHosts([{ name: 'a', cpus: 16 }, { name: 'b', cpus: 16 }]), 10).warning, undefined);
  });

  it('refuses a --durations of fractional seconds, which a rusage duration cannot carry, and exits 2', () => {
    const child = spawnSync(process.execPath, [cliPath, 'recommend', '--hosts', join(repoRoot, 'test', 'fixtures', 'openlava', 'lshosts-l.txt'), '--durations', '25,22.5'], { encoding: 'utf8', env: { ...process.env, LAVARANK_CONFIG: '', LSF_ENVDIR: '' } });
    assert.equal(child.status, 2, child.stderr);
    assert.match(child.stderr, /--durations: expected whole seconds, received 22\.5/);
  });

  it('refuses a --durations value under 1 s rather than leaving it out, and exits 2', () => {
    const child = spawnSync(process.execPath, [cliPath, 'recommend', '--hosts', join(repoRoot, 'test', 'fixtures', 'openlava', 'lshosts-l.txt'), '--durations', '0.5,45'], { encoding: 'utf8', env: { ...process.env, LAVARANK_CONFIG: '', LSF_ENVDIR: '' } });
    assert.equal(child.status, 2, child.stderr);
    assert.match(child.stderr, /--durations: expected seconds of at least 1, received 0\.5/);
  });

  it('names --durations, not --sweep, when --durations is malformed, and exits 2', () => {
    const child = spawnSync(process.execPath, [cliPath, 'recommend', '--hosts', join(repoRoot, 'test', 'fixtures', 'openlava', 'lshosts-l.txt'), '--durations', 'x'], { encoding: 'utf8', env: { ...process.env, LAVARANK_CONFIG: '', LSF_ENVDIR: '' } });
    assert.equal(child.status, 2, child.stderr);
    assert.match(child.stderr, /--durations: expected comma-separated seconds from 0 to 1000, received "x"/);
  });

  it('replays --acct on the given hosts, without taking the generated workload\'s --jobs default for one the admin gave', () => {
    const child = spawnSync(process.execPath, [cliPath, 'recommend', '--hosts', join(repoRoot, 'test', 'fixtures', 'openlava', 'lshosts-l.txt'), '--acct', join(repoRoot, 'test', 'fixtures', 'openlava', 'lsb.acct'), '--seeds', '1', '--sweep', '5', '--durations', '45', '--json'], { encoding: 'utf8', env: { ...process.env, LAVARANK_CONFIG: '', LSF_ENVDIR: '' } });
    assert.equal(child.status, 0, child.stderr);
    const r = JSON.parse(child.stdout) as { workload: string };
    assert.match(r.workload, /lsb\.acct replayed/);
  });

  it('tries --sweep 2,5,10,20,40 over --seeds 3 by default', () => {
    const child = spawnSync(process.execPath, [cliPath, 'recommend', '--hosts', join(repoRoot, 'test', 'fixtures', 'openlava', 'lshosts-l.txt'), '--jobs', '60', '--durations', '45', '--json'], { encoding: 'utf8', env: { ...process.env, LAVARANK_CONFIG: '', LSF_ENVDIR: '' } });
    assert.equal(child.status, 0, child.stderr);
    const r = JSON.parse(child.stdout) as { seeds: number[]; grid: Array<{ name: string }> };
    assert.deepEqual(r.grid.map((g) => g.name), ['default', 'rank', 'D2/T45', 'D5/T45', 'D10/T45', 'D20/T45', 'D40/T45']);
    assert.equal(r.seeds.length, 3);
  });

  it("writes the chosen RES_REQ with the config's resource", (t) => {
    const dir = testDir(t, 'lavarank-recommend-');
    const config = join(dir, 'lavarank.yaml');
    writeFileSync(config, 'resource: lrank\n', { mode: 0o644 });
    const child = spawnSync(process.execPath, [cliPath, 'recommend', '--hosts', join(repoRoot, 'test', 'fixtures', 'openlava', 'lshosts-l.txt'), '--jobs', '60', '--seeds', '1', '--sweep', '5', '--durations', '45', '--config', config, '--json'], { encoding: 'utf8' });
    assert.equal(child.status, 0, child.stderr);
    const r = JSON.parse(child.stdout) as { d: number; resReq: string };
    assert.equal(r.resReq, r.d === 0 ? 'order[lrank]' : `order[lrank] rusage[lrank=${r.d}:duration=45s:decay=1]`);
  });

  it('prints D, T and the RES_REQ line the simulation chose for the given hosts', () => {
    const child = spawnSync(process.execPath, [cliPath, 'recommend', '--hosts', join(repoRoot, 'test', 'fixtures', 'openlava', 'lshosts-l.txt'), '--jobs', '120', '--seeds', '1', '--sweep', '5,20', '--durations', '45', '--json'], { encoding: 'utf8', env: { ...process.env, LAVARANK_CONFIG: '', LSF_ENVDIR: '' } });
    assert.equal(child.status, 0, child.stderr);
    const r = JSON.parse(child.stdout) as { d: number; t: number; resReq: string; grid: Array<{ name: string }> };
    assert.deepEqual(r.grid.map((g) => g.name), ['default', 'rank', 'D5/T45', 'D20/T45']);
    assert.ok(r.d === 0 || [5, 20].includes(r.d));
    assert.match(r.resReq, /^order\[rank\]/);
  });

  it("writes the winning reservation's rusage with the config's resource, its D and its T in seconds from --durations, decay=1", (t) => {
    const child = recommendOnHosts(t, HERDING_HOSTS, 'resource: lrank\ninterval: 5\n', [...HERDING_ARGS, '--json']);
    assert.equal(child.status, 0, child.stderr);
    const r = JSON.parse(child.stdout) as { d: number; t: number; resReq: string; grid: Array<{ name: string; meanSlowdown: { mean: number } | null }> };
    const won = [...r.grid].filter((g) => g.name !== 'default').sort((a, b) => a.meanSlowdown!.mean - b.meanSlowdown!.mean)[0]!;
    assert.equal(won.name, 'D10/T25', `the scenario no longer makes the reservation win: ${JSON.stringify(r.grid)}`);
    assert.equal(r.d, 10);
    assert.equal(r.t, 25);
    assert.equal(r.resReq, 'order[lrank] rusage[lrank=10:duration=25s:decay=1]');
  });

  it("prints the winning reservation's D, T and RES_REQ line for lsb.queues", (t) => {
    const child = recommendOnHosts(t, HERDING_HOSTS, 'resource: lrank\ninterval: 5\n', HERDING_ARGS);
    assert.equal(child.status, 0, child.stderr);
    assert.match(child.stdout, /^D = 10, T = 25s: the lowest mean slowdown, .* \(order\[lrank\] alone: /m);
    assert.match(child.stdout, /^In lsb\.queues, in the rank queue:\n {4}RES_REQ = order\[lrank\] rusage\[lrank=10:duration=25s:decay=1\]$/m);
  });

  it('writes order[resource] alone, without a rusage, when no reservation did better', (t) => {
    const child = recommendOnHosts(t, '- {name: n, cpus: 2, count: 2}\n', 'resource: lrank\n', ['--jobs', '60', '--seeds', '1', '--sweep', '5', '--durations', '45', '--json']);
    assert.equal(child.status, 0, child.stderr);
    const r = JSON.parse(child.stdout) as { d: number; t: number; resReq: string; grid: Array<{ name: string; meanSlowdown: { mean: number } | null }> };
    const rank = r.grid.find((g) => g.name === 'rank')!.meanSlowdown!.mean;
    assert.ok(rank <= r.grid.find((g) => g.name === 'D5/T45')!.meanSlowdown!.mean, `the reservation won here: ${JSON.stringify(r.grid)}`);
    assert.deepEqual({ d: r.d, t: r.t, resReq: r.resReq }, { d: 0, t: 0, resReq: 'order[lrank]' });
  });
});

describe('recommend --help', () => {
  it("states recommend's own defaults for the simulator's options, and lists no --d, --t or --res-req, which it refuses", () => {
    const r = spawnSync(process.execPath, [cliPath, 'recommend', '--help'], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /--jobs N \(3000\)/);
    assert.match(r.stdout, /--seeds K \(3\)/);
    assert.match(r.stdout, /--sweep LIST +D values to compare \(default 2,5,10,20,40\)/);
    assert.match(r.stdout, /--policies LIST +which of the reservations tried to run/);
    assert.doesNotMatch(r.stdout, /--d D|--t T|--res-req/);
  });
});
