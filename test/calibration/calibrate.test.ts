import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, closeSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statfsSync, symlinkSync, writeFileSync, writeSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import {
  BASELINE_NEAREST,
  appendJournal,
  createJournal,
  DEFAULT_SQUEEZE_LIMIT,
  boostSeconds,
  buildPlan,
  compactSample,
  cpuHogLevels,
  estimateSeconds,
  expectedLoad,
  finalizeRecords,
  formatPlan,
  idleBaseline,
  prepareHost,
  processCpuSeconds,
  readJournal,
  releaseHost,
  roundSignificant,
  scratchProblem,
  stressConfigs,
  StressorGroup,
  type CalibrationLine,
  type RawRecord,
  writeDataset,
  type StressConfig,
} from '../../src/calibration/calibrate.js';
import type { Sample } from '../../src/collectors/types.js';
import { INSPECTOR_NOWHERE } from '../../src/util/node-flags.js';
import { finalizeJournal } from '../../src/commands/calibrate.js';
import { dirWithMode, failDirectorySync, mkfifo, repoRoot, tempDir, testDir, until } from '../helpers.js';

const calibratePath = join(repoRoot, 'dist', 'src', 'commands', 'calibrate.js');

// calibrate refuses a TMPDIR in memory (tmpfs: /tmp on Debian 13 and Fedora), so where
// this machine's is one, this file's temporary directories, and with them the TMPDIR of
// every calibrate it starts, go to /var/tmp, which the FHS keeps on disk.
if (scratchProblem(tmpdir()) !== undefined) process.env['TMPDIR'] = '/var/tmp';
const IDLE: StressConfig = { cpuHogs: 0, membw: 0, mem: 0, disk: 0 };
const isIdle = (c: StressConfig): boolean => c.cpuHogs + c.membw + c.mem + c.disk + (c.squeeze ?? 0) === 0;
const PLAN = { cpus: 2, repeats: 10, idleRepeats: 5, warmupSeconds: 30, seed: 1, quick: false };

test('the design tries 0.5 to 4 CPU hogs per CPU alone, and crosses the other loads with 0 to 4 per CPU', () => {
  assert.deepEqual(cpuHogLevels(2), [0, 1, 2, 3, 4, 6, 8]);
  assert.deepEqual(cpuHogLevels(8), [0, 4, 8, 12, 16, 24, 32]);
  const configs = stressConfigs(2);
  assert.equal(configs.length, 6 + 5 * 5);
  assert.ok(!configs.some(isIdle), 'the idle configuration is not a stress block');
  for (const others of ['0/0/0', '1/0/0', '0/1/0', '0/0/1', '0/0/2', '1/1/1']) {
    const hogs = configs.filter((c) => `${c.membw}/${c.mem}/${c.disk}` === others).map((c) => c.cpuHogs);
    assert.deepEqual(hogs, others === '0/0/0' ? [1, 2, 3, 4, 6, 8] : [0, 1, 2, 4, 8], others);
  }
  assert.ok(configs.every((c) => (c.squeeze ?? 0) === 0), 'no squeeze unless the host can make it');
});

test('with the squeeze, memory nearly full, swapping, and swapping beside a disk writer are crossed with the hog counts too', () => {
  const squeezed = stressConfigs(2, true).filter((c) => (c.squeeze ?? 0) > 0);
  assert.deepEqual(
    squeezed.map((c) => `${c.cpuHogs}:${c.squeeze}/${c.disk}`).sort(),
    [0, 1, 2, 4, 8].flatMap((h) => [`${h}:1/0`, `${h}:2/0`, `${h}:2/1`]).sort(),
  );
  assert.ok(squeezed.every((c) => c.membw === 0 && c.mem === 0), 'never beside the whole-host memory hog');
});

test('the plan runs every stress configuration once, between idle blocks at most two apart', () => {
  const plan = buildPlan(PLAN);
  const stress = plan.blocks.filter((b) => !b.idle);
  assert.equal(stress.length, 31);
  assert.equal(new Set(stress.map((b) => JSON.stringify(b.config))).size, 31);
  assert.ok(plan.blocks[0]!.idle && plan.blocks.at(-1)!.idle, 'starts and ends idle');
  let run = 0;
  for (const b of plan.blocks) {
    run = b.idle ? 0 : run + 1;
    assert.ok(run <= 2, `block ${b.index} follows ${run} stress blocks`);
  }
  assert.ok(stress.every((b) => b.probes === 10 && b.boost && b.settleSeconds === 30));
  assert.ok(plan.blocks.filter((b) => b.idle).every((b) => b.probes === 5 && isIdle(b.config)));
  assert.deepEqual(plan.blocks.map((b) => b.index), plan.blocks.map((_, i) => i));
});

test('within each sweep the load rises from block to block, so the boost can follow it', () => {
  const plan = buildPlan(PLAN);
  const longIdle = plan.blocks.filter((b) => b.idle && b.settleSeconds === 60).map((b) => b.index);
  assert.equal(longIdle.length, 4, 'one long idle block before each of three sweeps, and one at the end');
  for (let s = 0; s + 1 < longIdle.length; s++) {
    const loads = plan.blocks.slice(longIdle[s]! + 1, longIdle[s + 1]).filter((b) => !b.idle).map((b) => expectedLoad(b.config));
    assert.deepEqual(loads, [...loads].sort((a, b) => a - b), `sweep ${s + 1}`);
  }
});

test("with squeeze 'only', the plan is the fifteen squeeze configurations between idle blocks, and nothing else", () => {
  const plan = buildPlan({ ...PLAN, squeeze: 'only' });
  const stress = plan.blocks.filter((b) => !b.idle);
  assert.deepEqual(
    stress.map((b) => `${b.config.cpuHogs}:${b.config.squeeze}/${b.config.disk}`).sort(),
    stressConfigs(2, true).filter((c) => (c.squeeze ?? 0) > 0).map((c) => `${c.cpuHogs}:${c.squeeze}/${c.disk}`).sort(),
  );
  assert.ok(stress.every((b) => b.config.membw === 0 && b.config.mem === 0 && b.probes === 10 && b.boost));
  assert.ok(plan.blocks[0]!.idle && plan.blocks.at(-1)!.idle, 'starts and ends idle: every probe has idle runs on both sides');
  let run = 0;
  for (const b of plan.blocks) {
    run = b.idle ? 0 : run + 1;
    assert.ok(run <= 2, `block ${b.index} follows ${run} stress blocks`);
  }
});

test("calibrate refuses --squeeze only with --quick, and names the modes it takes", () => {
  const run = (...args: string[]) => spawnSync(process.execPath, [calibratePath, '--dry-run', ...args], { encoding: 'utf8' });
  const quick = run('--squeeze', 'only', '--quick');
  assert.equal(quick.status, 2);
  assert.match(quick.stderr, /--squeeze only: --quick never has the squeeze blocks/);
  const bad = run('--squeeze', 'sometimes');
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /--squeeze: expected auto, yes, no or only, received "sometimes"/);
});

test('calibrate refuses --summary, --finalize and --dry-run together, and a run option beside --summary or --finalize, with status 2, doing nothing', () => {
  const { dir, cleanup } = tempDir();
  try {
    const out = join(dir, 'out.jsonl');
    for (const [args, message] of [
      [['--finalize', 'j.partial', '--out', out, '--dry-run'], '--finalize and --dry-run: give one of them'],
      [['--summary', 'd.jsonl', '--finalize', 'j.partial'], '--summary and --finalize: give one of them'],
      [['--summary', 'd.jsonl', '--out', out], '--out does not apply to --summary, which prints the table of a dataset and runs nothing'],
      [['--finalize', 'j.partial', '--out', out, '--repeats', '3'], '--repeats does not apply to --finalize, which writes --out from a journal and runs nothing'],
    ] as const) {
      const r = spawnSync(process.execPath, [calibratePath, ...args], { encoding: 'utf8' });
      assert.equal(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.ok(r.stderr.startsWith(`lavarank calibrate: ${message}`), r.stderr);
      assert.equal(r.stdout, '');
      assert.equal(existsSync(out), false);
    }
  } finally {
    cleanup();
  }
});

test('the same seed gives the same plan and another seed another order', () => {
  const order = (seed: number): string => JSON.stringify(buildPlan({ ...PLAN, seed }).blocks.map((b) => b.config));
  assert.equal(order(1), order(1));
  assert.notEqual(order(1), order(2));
});

test('the quick plan is three short blocks around one with every stressor', () => {
  const plan = buildPlan({ ...PLAN, repeats: 2, idleRepeats: 2, warmupSeconds: 0.5, quick: true });
  assert.deepEqual(plan.blocks.map((b) => [b.idle, b.probes, b.boost]), [[true, 2, false], [false, 2, false], [true, 2, false]]);
  assert.deepEqual(plan.blocks[1]!.config, { cpuHogs: 1, membw: 1, mem: 1, disk: 1 });
  assert.ok(estimateSeconds(plan) < 10);
});

test('the full plan on 2 CPUs is estimated at 60 to 120 minutes, and the squeeze blocks add to it', () => {
  const minutes = estimateSeconds(buildPlan(PLAN)) / 60;
  assert.ok(minutes > 60 && minutes < 120, `${minutes} min`);
  assert.ok(estimateSeconds(buildPlan({ ...PLAN, squeeze: true })) / 60 > minutes + 20);
});

test('the boost lasts as long as the kernel load average needs to reach the target', () => {
  assert.equal(boostSeconds(3.3, 3.6, 4), 0, 'already within 10%');
  assert.equal(boostSeconds(0, 2.6, 0), 0);
  // The kernel's 1-minute average, updated every 5 s: load = load * e + n * (1 - e).
  const e = Math.exp(-5 / 60);
  for (const [from, target, extra] of [[0, 2.6, 3], [0.5, 4.6, 5], [1, 1.6, 2]] as const) {
    const seconds = boostSeconds(from, target, extra);
    let load: number = from;
    for (let t = 5; t <= seconds; t += 5) load = load * e + (target + extra) * (1 - e);
    const rest = seconds % 5; // the part of an update period left over
    load = load * Math.exp(-rest / 60) + (target + extra) * (1 - Math.exp(-rest / 60));
    assert.ok(Math.abs(load - target) < 0.05, `from ${from} to ${target} with ${extra} extra: ${load}`);
  }
  assert.equal(boostSeconds(0, 100, 1), 60, 'capped at a minute');
});

function record(i: number, config: StressConfig, wallSeconds: number, foreign = 0): RawRecord {
  const sample: Sample = { ts: i * 10_000, failures: {} };
  return {
    v: 1,
    ts: i * 10_000,
    host: 'h',
    cpus: 2,
    block: 0,
    config,
    sample,
    sampleDuring: sample,
    probe: { wallSeconds, cpuSeconds: wallSeconds, parts: { cpu: 1, mem: 0.5, disk: 0.1 } },
    foreign: { before: foreign, during: foreign },
    stressedSeconds: 0,
    quietWaits: 0,
  };
}

test('the idle baseline is the median of the nearest idle runs in time, never the run itself', () => {
  const hog: StressConfig = { ...IDLE, cpuHogs: 2 };
  // Idle walls drift from 2.0 to 3.0 s over the run.
  const records = [
    ...[2.0, 2.1, 2.0, 2.2, 2.1, 2.0, 2.1].map((w, i) => record(i, IDLE, w)),
    record(7, hog, 3.15),
    ...[3.0, 2.9, 3.1, 3.0, 3.0, 2.9, 3.1].map((w, i) => record(100 + i, IDLE, w)),
  ];
  assert.equal(idleBaseline(records, 0), 2.1, 'the six idle runs after the first, itself excluded');
  assert.equal(idleBaseline(records, 7), 2.1, `the ${BASELINE_NEAREST} nearest are the early ones`);
  assert.equal(idleBaseline(records, records.length - 1), 3.0);
  const lines = finalizeRecords(records);
  assert.equal(lines.length, records.length);
  assert.equal(lines[7]!.slowdown, 50);
  assert.equal(lines[7]!.idleSeconds, 2.1);
});

test('idle runs shared with others are left out of the baseline while three clean ones remain', () => {
  const records = [record(0, IDLE, 2.0), record(1, IDLE, 2.0), record(2, IDLE, 2.0), record(3, IDLE, 4.0, 0.4), record(4, IDLE, 4.0, 0.4), record(5, { ...IDLE, disk: 1 }, 3.0)];
  assert.equal(idleBaseline(records, 5), 2.0);
  const fewClean = [record(0, IDLE, 2.0), record(3, IDLE, 4.0, 0.4), record(4, IDLE, 4.0, 0.4), record(5, { ...IDLE, disk: 1 }, 3.0)];
  assert.equal(idleBaseline(fewClean, 1), 3.0, 'with fewer than three clean runs, all idle runs count');
  // three clean runs (one at exactly CLEAN_FOREIGN_CPU) against four shared ones: the clean ones alone decide
  const outnumbered = [record(0, IDLE, 2.0), record(1, IDLE, 2.0), record(2, IDLE, 2.0, 0.1), ...[3, 4, 5, 6].map((i) => record(i, IDLE, 4.0, 0.4)), record(7, { ...IDLE, disk: 1 }, 3.0)];
  assert.equal(idleBaseline(outnumbered, 7), 2.0);
});

test('a slowdown is computed from the idle baseline as stored, so that it can be recomputed from the line', () => {
  const records = [...[0, 1, 2].map((i) => record(i, IDLE, 2.12345)), record(3, { ...IDLE, cpuHogs: 2 }, 3.15)];
  const line = finalizeRecords(records)[3]!;
  assert.equal(line.idleSeconds, 2.123);
  assert.equal(line.slowdown, 48.37); // 100 × (3.15 / 2.123 − 1) = 48.3749..., not 48.34 from 2.12345
});

test('a run with no other idle run has no baseline and is left out of the dataset', () => {
  assert.equal(idleBaseline([record(0, IDLE, 2)], 0), undefined);
  assert.deepEqual(finalizeRecords([record(0, { ...IDLE, cpuHogs: 1 }, 2)]), []);
});

test('numbers are stored with four significant digits; integers such as timestamps stay exact', () => {
  assert.equal(roundSignificant(0.123456), 0.1235);
  assert.equal(roundSignificant(123456.789), 123500);
  assert.equal(roundSignificant(1795891988423), 1795891988423);
  assert.equal(roundSignificant(0), 0);
  const sample: Sample = {
    ts: 1795891988421,
    failures: { gpu: 'gone' },
    cpu: { user: 0.0339123, system: 0.016949, iowait: 0, steal: 0, busy: 0.050861, online: 2 },
    disk: { devices: [{ name: 'vda', busy: 0.00395587, readBytesPerSec: 8101.64004, writeBytesPerSec: 0 }], busyMax: 0.00395587, busyMean: 0.00395587, readBytesPerSec: 8101.64004, writeBytesPerSec: 0, busiest: 'vda' },
  };
  assert.deepEqual(compactSample(sample), {
    ts: 1795891988421,
    failures: { gpu: 'gone' },
    cpu: { user: 0.03391, system: 0.01695, iowait: 0, steal: 0, busy: 0.05086, online: 2 },
    disk: { devices: [{ name: 'vda', busy: 0.003956, readBytesPerSec: 8102, writeBytesPerSec: 0 }], busyMax: 0.003956, busyMean: 0.003956, readBytesPerSec: 8102, writeBytesPerSec: 0, busiest: 'vda' },
  });
});

test('a process CPU time is read from /proc/<pid>/stat, even with spaces and parentheses in its name', (t) => {
  const dir = testDir(t);
  mkdirSync(join(dir, '42'));
  // utime 250 and stime 50 ticks are fields 14 and 15.
  writeFileSync(join(dir, '42', 'stat'), '42 (a b) c) R 1 42 42 0 -1 4194304 100 0 0 0 250 50 0 0 20 0 1 0 100 1000 10\n');
  assert.equal(processCpuSeconds(42, dir), 3);
  assert.equal(processCpuSeconds(43, dir), undefined);
  assert.ok(processCpuSeconds(process.pid)! > 0);
});

test('a journal with a torn last line reads back all complete records', () => {
  const r = record(0, IDLE, 2);
  assert.deepEqual(readJournal(`${JSON.stringify(r)}\n${JSON.stringify(r)}\n{"v":1,"ts"`), [r, r]);
  assert.throws(() => readJournal(`{"v":\n${JSON.stringify(r)}\n`), /journal line 1/);
});

test('a journal line cut short by a full disk is cut back, so the line appended once space returns is read, not refused', (t) => {
  const dir = testDir(t);
  const path = join(dir, 'out.jsonl.partial');
  const fd = createJournal(path);
  t.after(() => closeSync(fd));
  const [a, b, c] = [record(0, IDLE, 2), record(1, { ...IDLE, cpuHogs: 2 }, 3), record(2, IDLE, 2)];
  appendJournal(fd, path, a);
  // A nearly full disk: the first write takes 100 bytes and returns, the next fails.
  let calls = 0;
  const fullDisk = (f: number, buf: Buffer, offset: number): number => {
    if (calls++ > 0) throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
    return writeSync(f, buf, offset, 100);
  };
  assert.throws(() => appendJournal(fd, path, b, fullDisk), { message: `cannot append a run to the journal ${path}: ENOSPC (no space left on device)` });
  appendJournal(fd, path, c); // a disk writer's file was deleted: there is room again
  assert.deepEqual(readJournal(readFileSync(path, 'utf8'), path), [a, c]);
});

test('a line that is not a journal record (a history line, a synthetic row) is refused, naming the file and line', () => {
  const r = record(0, IDLE, 2);
  assert.throws(() => readJournal(`${JSON.stringify(r)}\n{"v":2,"ts":1,"host":"h","rank":3}\n`, 'x.partial'), /^Error: x\.partial line 2: not a calibration journal record/);
});

test('a record without the foreign share or a stressor count the baseline reads is refused, naming the file and line', () => {
  const r = record(0, IDLE, 2);
  const { foreign: _foreign, ...noForeign } = r;
  assert.throws(() => readJournal(`${JSON.stringify(r)}\n${JSON.stringify(noForeign)}\n`, 'x.partial'), /^Error: x\.partial line 2: not a calibration journal record/);
  const noDisk = { ...r, config: { cpuHogs: 0, membw: 0, mem: 0 } };
  assert.throws(() => readJournal(`${JSON.stringify(noDisk)}\n`, 'x.partial'), /^Error: x\.partial line 1: not a calibration journal record/);
});

test('--finalize of a journal with no run in it writes nothing and exits 1', (t) => {
  const dir = testDir(t);
  const journal = join(dir, 'empty.partial');
  writeFileSync(journal, '');
  const out = join(dir, 'out.jsonl');
  const r = spawnSync(process.execPath, [calibratePath, '--finalize', journal, '--out', out], { encoding: 'utf8' });
  assert.equal(r.status, 1, r.stderr);
  assert.match(r.stderr, /--finalize .*empty\.partial: no probe run with an idle baseline in it; nothing written/);
  assert.equal(existsSync(out), false);
});

test('--summary and --finalize refuse a FIFO at once, naming the option and the file, rather than wait on it for ever', (t) => {
  const dir = testDir(t);
  const fifo = join(dir, 'journal.partial');
  mkfifo(fifo);
  for (const args of [['--summary', fifo], ['--finalize', fifo, '--out', join(dir, 'out.jsonl')]]) {
    const r = spawnSync(process.execPath, [calibratePath, ...args], { encoding: 'utf8', timeout: 20_000 });
    assert.equal(r.signal, null, `${args[0]} waited on the FIFO`);
    assert.equal(r.status, 1, r.stderr);
    assert.equal(r.stderr, `calibrate: ${args[0]} ${fifo}: cannot be read: not a regular file\n`);
  }
});

test('--finalize into a directory that does not exist names --out, not the temp file the write failed on', (t) => {
  const dir = testDir(t);
  const journal = join(dir, 'run.partial');
  writeFileSync(journal, [record(0, IDLE, 2), record(1, { ...IDLE, cpuHogs: 2 }, 3), record(2, IDLE, 2)].map((r) => `${JSON.stringify(r)}\n`).join(''));
  const out = join(dir, 'missing', 'out.jsonl');
  const r = spawnSync(process.execPath, [calibratePath, '--finalize', journal, '--out', out], { encoding: 'utf8' });
  assert.equal(r.status, 1, r.stderr);
  assert.equal(r.stderr, `calibrate: --out ${out}: cannot be written: ENOENT (no such file or directory); nothing written\n`);
});

test('--summary of a directory names the option and the directory', (t) => {
  const dir = testDir(t);
  const r = spawnSync(process.execPath, [calibratePath, '--summary', dir], { encoding: 'utf8' });
  assert.equal(r.status, 1, r.stderr);
  assert.equal(r.stderr, `calibrate: --summary ${dir}: cannot be read: not a regular file\n`);
});

test('--dry-run prints the plan and its estimated duration and runs nothing', () => {
  const r = spawnSync(process.execPath, [calibratePath, '--dry-run'], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /^Calibration plan for \d+ CPUs, seed 1: \d+ blocks, \d+ probe runs\./);
  assert.match(r.stdout, /Estimated duration: \d+:\d\d/);
});

test('--dry-run plans with the defaults the usage gives: 10 repeats, 5 idle repeats, 30 s warm-up, seed 1, a probe scale of 1', () => {
  const r = spawnSync(process.execPath, [calibratePath, '--dry-run', '--squeeze', 'no'], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const plan = buildPlan({ cpus: availableParallelism(), repeats: 10, idleRepeats: 5, warmupSeconds: 30, seed: 1, quick: false, probeScale: 1, squeeze: false, squeezeLimitBytes: DEFAULT_SQUEEZE_LIMIT, quietWaitSeconds: 10 });
  assert.equal(r.stdout, `${formatPlan(plan)}\n`);
});

test('--finalize refuses to replace an existing --out without --force, with status 1, leaving it whole', (t) => {
  const dir = testDir(t);
  const journal = join(dir, 'run.partial');
  writeFileSync(journal, '');
  const out = join(dir, 'out.jsonl');
  writeFileSync(out, 'precious\n');
  const r = spawnSync(process.execPath, [calibratePath, '--finalize', journal, '--out', out], { encoding: 'utf8' });
  assert.equal(r.status, 1, r.stderr);
  assert.match(r.stderr, /--out: .*out\.jsonl exists; use --force to replace it/);
  assert.equal(readFileSync(out, 'utf8'), 'precious\n');
});

test('finalizeJournal (calibrate --finalize\'s stage, called alone) writes the journal\'s finalized runs, replacing out only with force', async (t) => {
  const dir = testDir(t);
  chmodSync(dir, 0o755);
  const records = [record(0, IDLE, 2), record(1, { ...IDLE, cpuHogs: 2 }, 3), record(2, IDLE, 2)];
  const journal = join(dir, 'run.partial');
  writeFileSync(journal, records.map((r) => `${JSON.stringify(r)}\n`).join(''));
  const out = join(dir, 'out.jsonl');
  const finalized = finalizeRecords(records).map((l) => `${JSON.stringify(l)}\n`).join('');
  assert.equal(await finalizeJournal(journal, out, false), 0);
  assert.equal(readFileSync(out, 'utf8'), finalized);
  writeFileSync(out, 'precious\n');
  assert.equal(await finalizeJournal(journal, out, false), 1);
  assert.equal(readFileSync(out, 'utf8'), 'precious\n');
  assert.equal(await finalizeJournal(journal, out, true), 0);
  assert.equal(readFileSync(out, 'utf8'), finalized);
});

test('a bad count or warm-up is refused with status 2, naming the option and what was received', () => {
  for (const [args, message] of [
    [['--repeats', '0'], '--repeats: expected an integer from 1 to 10000, received "0"'],
    [['--seed', ''], '--seed: expected an integer from 0 to 10000, received ""'],
    [['--warmup', 'soon'], '--warmup: expected seconds from 0 to 3600, received "soon"'],
  ] as const) {
    const r = spawnSync(process.execPath, [calibratePath, '--dry-run', ...args], { encoding: 'utf8' });
    assert.equal(r.status, 2, r.stderr);
    assert.equal(r.stderr, `lavarank calibrate: ${message}\n`);
    assert.equal(r.stdout, '');
  }
});

test('a journal that cannot be opened ends calibrate with status 1, naming it, and leaves no work directory', (t) => {
  const dir = testDir(t);
  const out = join(dir, 'missing', 'cal.jsonl');
  const r = spawnSync(process.execPath, [calibratePath, '--quick', '--out', out], { encoding: 'utf8', env: { ...process.env, TMPDIR: dir } });
  assert.equal(r.status, 1, r.stderr);
  assert.match(r.stderr, new RegExp(`ENOENT.*${join('missing', 'cal.jsonl')}\\.partial`));
  assert.deepEqual(readdirSync(dir), [], 'no lavarank-calibrate-* directory left in TMPDIR');
});

test('a temporary directory on tmpfs or ramfs is named as one where fsync reaches no disk; one on a disk is not', () => {
  const TMPFS = 0x01021994;
  const RAMFS = 0x858458f6;
  const EXT4 = 0xef53;
  assert.match(scratchProblem('/scratch', () => TMPFS) ?? '', /^the probe's and the disk stressor's files would go to the temporary directory \/scratch, on tmpfs \(in memory\).*set TMPDIR/);
  assert.match(scratchProblem('/scratch', () => RAMFS) ?? '', /on ramfs \(in memory\)/);
  assert.equal(scratchProblem('/scratch', () => EXT4), undefined);
});

// /dev/shm is a tmpfs on most Linux hosts; where it is not, the test has nothing to run on.
const shmIsTmpfs = ((): boolean => {
  try {
    return statfsSync('/dev/shm').type === 0x01021994;
  } catch {
    return false;
  }
})();

test('with TMPDIR on tmpfs, calibrate refuses before it loads the host, with status 1, naming TMPDIR, and leaves nothing', { skip: shmIsTmpfs ? false : '/dev/shm is not a tmpfs here' }, (t) => {
  const dir = testDir(t);
  const shm = mkdtempSync('/dev/shm/lavarank-test-');
  t.after(() => rmSync(shm, { recursive: true, force: true }));
  const out = join(dir, 'cal.jsonl');
  const r = spawnSync(process.execPath, [calibratePath, '--quick', '--out', out], { encoding: 'utf8', env: { ...process.env, TMPDIR: shm } });
  assert.equal(r.status, 1, r.stderr);
  assert.match(r.stderr, new RegExp(`temporary directory ${shm}, on tmpfs \\(in memory\\): their fsync'd writes would reach no disk`));
  assert.doesNotMatch(r.stderr, /starting stressors/);
  assert.deepEqual(readdirSync(shm), []);
  assert.deepEqual(readdirSync(dir), [], 'no journal and no dataset');
});

// Whoever can change --out's directory could swap it for their link to one of root's
// between the steps of the dataset's write, and the journal is made there by path
// (4a88fce): refused before any run, the journal not made. A config that cannot be
// read stops the command that passed this check, at once, before the runs.
test('with --out in a directory others can write, calibrate refuses before it makes anything there, with status 1, naming --out', { skip: process.geteuid?.() === 0 ? false : 'the refusal binds root alone (3946ef4): a user\'s own write lands only where that user may write' }, (t) => {
  const dir = testDir(t);
  const open = dirWithMode(dir, 'open', 0o777);
  const out = join(open, 'cal.jsonl');
  const r = spawnSync(process.execPath, [calibratePath, '--quick', '--out', out, '--config', join(dir, 'missing.yaml')], { encoding: 'utf8' });
  assert.equal(r.status, 1, r.stderr);
  assert.match(r.stderr, new RegExp(`--out ${out}: dataset directory ${open} has mode 0777`));
  assert.deepEqual(readdirSync(open), [], 'no journal and no dataset');
});

// Another user who can write TMPDIR could swap calibrate's work directory for theirs and
// plant links at the names the stressors open by path (O_TRUNC): root filled the file named.
test('with TMPDIR a directory others can write (not sticky), calibrate refuses before it makes anything there, with status 1, naming TMPDIR', (t) => {
  const dir = testDir(t);
  const open = dirWithMode(dir, 'scratch', 0o777);
  const out = join(dir, 'cal.jsonl');
  const r = spawnSync(process.execPath, [calibratePath, '--quick', '--out', out], { encoding: 'utf8', env: { ...process.env, TMPDIR: open } });
  assert.equal(r.status, 1, r.stderr);
  // calibrate has no --dir: the advice names what it takes.
  assert.match(r.stderr, new RegExp(`temporary directory ${open}, which others could redirect: .*mode 0777, writable by group or others.*set TMPDIR to a directory only root can change, or a sticky one such as /tmp`));
  assert.doesNotMatch(r.stderr, /--dir/);
  assert.doesNotMatch(r.stderr, /starting stressors/);
  assert.deepEqual(readdirSync(open), []);
  assert.deepEqual(readdirSync(dir), ['scratch'], 'no journal and no dataset');
});

test('a link planted at the journal\'s path, even to nothing, is refused without --force, with status 1, and its target is not created', (t) => {
  const dir = testDir(t);
  const out = join(dir, 'out.jsonl');
  const victim = join(dir, 'victim');
  symlinkSync(victim, `${out}.partial`);
  const r = spawnSync(process.execPath, [calibratePath, '--quick', '--out', out], { encoding: 'utf8' });
  assert.equal(r.status, 1, r.stderr);
  assert.match(r.stderr, /out\.jsonl\.partial exists: .*--force deletes them/);
  assert.equal(existsSync(victim), false);
});

test('with --force, a link at the journal\'s path is replaced by the journal, and the file it named is untouched', async (t) => {
  const dir = testDir(t);
  const out = join(dir, 'out.jsonl');
  const journal = `${out}.partial`;
  const victim = join(dir, 'victim');
  writeFileSync(victim, 'untouched\n');
  symlinkSync(victim, journal);
  const child = spawn(process.execPath, [calibratePath, '--quick', '--force', '--out', out], { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, TMPDIR: dir } });
  let stderr = '';
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  let status: number | string | null | undefined;
  const exited = new Promise<void>((done) => child.on('close', (code, signal) => ((status = code ?? signal), done())));
  const isFile = (): boolean => lstatSync(journal, { throwIfNoEntry: false })?.isFile() === true; // between the link's removal and the journal, nothing
  // Until the journal is a file, calibrate has exited, or the link's target was written:
  // each comes of calibrate itself (--quick ends by itself), however loaded the host.
  // Under load, with calibrate's job scan first, the journal came after more than the
  // 20 s this once waited. The 180 s only guard against a calibrate that hangs.
  const deadline = Date.now() + 180_000;
  while (!isFile() && status === undefined && readFileSync(victim, 'utf8') === 'untouched\n' && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  const journalWasAFile = isFile();
  const ended = status;
  child.kill('SIGTERM');
  await exited;
  assert.ok(journalWasAFile, `the journal was a file of its own (calibrate ${ended === undefined ? 'still ran' : `had ended with ${ended}`}): ${stderr}`);
  assert.equal(readFileSync(victim, 'utf8'), 'untouched\n');
});

test('calibrate refuses to overwrite an existing dataset without --force, with status 1: a file in the way, not a bad command line', (t) => {
  const dir = testDir(t);
  const out = join(dir, 'out.jsonl');
  writeFileSync(out, 'precious\n');
  const r = spawnSync(process.execPath, [calibratePath, '--quick', '--out', out], { encoding: 'utf8' });
  assert.equal(r.status, 1, r.stderr);
  assert.match(r.stderr, /out\.jsonl exists; use --force/);
  assert.equal(readFileSync(out, 'utf8'), 'precious\n');
});

test('a journal left by a killed run is not replaced without --force, and the refusal says how to make the dataset from it', (t) => {
  const dir = testDir(t);
  const out = join(dir, 'out.jsonl');
  writeFileSync(`${out}.partial`, `${JSON.stringify(record(0, IDLE, 2))}\n`);
  const r = spawnSync(process.execPath, [calibratePath, '--quick', '--out', out], { encoding: 'utf8' });
  assert.equal(r.status, 1, r.stderr);
  assert.ok(r.stderr.includes(`"lavarank calibrate --finalize ${out}.partial --out ${out}" writes the dataset from them, --force deletes them`), r.stderr);
  assert.equal(readFileSync(`${out}.partial`, 'utf8'), `${JSON.stringify(record(0, IDLE, 2))}\n`);
});

function finiteNumbers(value: unknown, path: string): void {
  if (typeof value === 'number') assert.ok(Number.isFinite(value), `${path} is finite`);
  else if (Array.isArray(value)) value.forEach((v, i) => finiteNumbers(v, `${path}[${i}]`));
  else if (typeof value === 'object' && value !== null) for (const [k, v] of Object.entries(value)) finiteNumbers(v, `${path}.${k}`);
}

function assertSample(s: Sample, path: string): void {
  assert.equal(typeof s.ts, 'number', `${path}.ts`);
  assert.equal(typeof s.failures, 'object', `${path}.failures`);
  for (const part of ['cpu', 'load', 'memory', 'disk'] as const) assert.equal(typeof s[part], 'object', `${path}.${part}`);
  assert.ok(s.cpu!.busy >= 0 && s.cpu!.busy <= 1);
  assert.ok(s.memory!.usedFraction > 0 && s.memory!.usedFraction < 1);
  assert.ok(s.load!.online >= 1);
  finiteNumbers(s, path);
}

// Runs `calibrate --quick` with its temporary files under dir; resolves with its exit and stderr.
function quickCalibrate(dir: string, out: string): { pid: number; exited: Promise<{ code: number | null; stderr: string }> } {
  const child = spawn(process.execPath, [calibratePath, '--quick', '--out', out], {
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, TMPDIR: dir },
  });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  return { pid: child.pid!, exited: new Promise((resolve) => child.on('exit', (code) => resolve({ code, stderr }))) };
}

// A quick calibration in a temporary directory of its own; whatever still uses that
// directory is killed, and the directory removed, after the test.
function quickCalibrationIn(t: TestContext): { dir: string; out: string; run: ReturnType<typeof quickCalibrate> } {
  const dir = testDir(t);
  const out = join(dir, 'out.jsonl');
  const run = quickCalibrate(dir, out);
  t.after(() => processesUsing(dir).forEach((pid) => process.kill(pid, 'SIGKILL')));
  return { dir, out, run };
}

test('calibrate --quick writes one well-formed line per probe run', async (t) => {
  const dir = testDir(t);
  const out = join(dir, 'out.jsonl');
  const { code, stderr } = await quickCalibrate(dir, out).exited;
  assert.equal(code, 0, stderr);
  const lines = readFileSync(out, 'utf8').trimEnd().split('\n').map((l) => JSON.parse(l) as CalibrationLine);
  assert.equal(lines.length, 6);
  assert.deepEqual(lines.map((l) => isIdle(l.config)), [true, true, false, false, true, true]);
  for (const [i, l] of lines.entries()) {
    assert.deepEqual(Object.keys(l).sort(), ['block', 'config', 'cpus', 'foreign', 'host', 'idleSeconds', 'probe', 'quietWaits', 'sample', 'sampleDuring', 'slowdown', 'stressedSeconds', 'ts', 'v']);
    assert.equal(l.v, 2);
    assert.equal(l.probe.scale, 0.02);
    assert.ok(l.cpus >= 1 && l.host.length > 0);
    assertSample(l.sample, `line ${i + 1}: sample`);
    assertSample(l.sampleDuring, `line ${i + 1}: sampleDuring`);
    assert.ok(l.sample.ts <= l.ts && l.ts <= l.sampleDuring.ts, 'sample before the probe, sampleDuring after');
    finiteNumbers(l, `line ${i + 1}`);
    assert.ok(l.probe.wallSeconds > 0 && l.idleSeconds > 0);
    assert.equal(l.slowdown, roundSignificant(100 * (l.probe.wallSeconds / l.idleSeconds - 1)));
  }
  assert.deepEqual(readdirSync(dir), ['out.jsonl'], 'no journal and no temporary file left');
  assert.match(stderr, /wrote 6 lines/);
});

// Only a guard against a calibrate that hangs: the waits below end as soon as calibrate
// exits, and a quick calibration reaches its stress block by itself. In a full run at a
// load of about 20 the whole of one took 293 s, and 60 s ran out before its stressors.
const STRESS_BLOCK_DEADLINE_MS = 300_000;

// Live processes whose command line mentions dir (the stressors and probes get --dir under it).
function processesUsing(dir: string): number[] {
  const out: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, 'latin1');
      const stat = readFileSync(`/proc/${entry}/stat`, 'latin1');
      if (cmdline.includes(dir) && stat[stat.lastIndexOf(')') + 2] !== 'Z') out.push(Number(entry));
    } catch {
      // exited while we looked
    }
  }
  return out;
}

// Polls the command lines of the processes using dir until found() gives a value, and
// fails at once, with calibrate's status and what it printed, if calibrate exits first.
async function duringCalibration<T>(dir: string, run: ReturnType<typeof quickCalibrate>, what: string, found: (cmdlines: Map<number, string>) => T | undefined): Promise<T> {
  let ended: { code: number | null; stderr: string } | undefined;
  void run.exited.then((e) => (ended = e));
  const deadline = Date.now() + STRESS_BLOCK_DEADLINE_MS;
  for (;;) {
    const cmdlines = new Map<number, string>();
    for (const pid of processesUsing(dir)) {
      try {
        cmdlines.set(pid, readFileSync(`/proc/${pid}/cmdline`, 'latin1'));
      } catch {
        // exited while we looked
      }
    }
    const value = found(cmdlines);
    if (value !== undefined) return value;
    if (ended !== undefined) assert.fail(`calibrate exited with ${ended.code} before ${what}: ${ended.stderr}`);
    assert.ok(Date.now() < deadline, `${what}: calibrate still ran after ${STRESS_BLOCK_DEADLINE_MS} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

test('SIGINT in the middle of a calibration stops every stressor and leaves no temporary file', async (t) => {
  const { dir, out, run } = quickCalibrationIn(t);
  // Wait until all four stressors of the stress block run. The idle block and the
  // stressors' start (membw fills 512 MiB) come first, which calibrate reaches by itself.
  await duringCalibration(dir, run, 'the stressors started', (cmdlines) => (cmdlines.size - (cmdlines.has(run.pid) ? 1 : 0) >= 4 ? true : undefined));
  process.kill(run.pid, 'SIGINT');
  const { code, stderr } = await run.exited;
  assert.equal(code, 130, stderr);
  assert.match(stderr, /SIGINT: stopping the stressors/);
  assert.deepEqual(processesUsing(dir), []);
  const left = readdirSync(dir);
  assert.ok(left.every((f) => f === 'out.jsonl'), `left behind: ${left.join(', ')}`);
  if (left.length === 1) {
    const lines = readFileSync(out, 'utf8').trimEnd().split('\n');
    assert.ok(lines.length >= 1 && lines.length <= 4, 'the runs done before the signal');
  }
});

test('a stressor that dies during a block ends that block and its runs are left out', async (t) => {
  const { dir, out, run } = quickCalibrationIn(t);
  // calibrate starts the membw stressor only once the cpu one said it was ready. A
  // cpu stressor killed before that could not start, which ends the calibration instead.
  const cpuHog = await duringCalibration(dir, run, 'the cpu stressor was ready and the membw one started', (cmdlines) => {
    const hog = [...cmdlines].find(([, c]) => c.includes('\0cpu\0'));
    return hog !== undefined && [...cmdlines.values()].some((c) => c.includes('\0membw\0')) ? hog[0] : undefined;
  });
  process.kill(cpuHog, 'SIGKILL'); // as the OOM killer would
  const { code, stderr } = await run.exited;
  assert.equal(code, 0, stderr);
  assert.match(stderr, /the cpu stressor exited on its own; skipping the rest of this block/);
  const lines = readFileSync(out, 'utf8').trimEnd().split('\n').map((l) => JSON.parse(l) as CalibrationLine);
  assert.deepEqual(lines.map((l) => isIdle(l.config)), [true, true, true, true], 'only the idle runs');
  assert.deepEqual(processesUsing(dir), []);
});

test('prepareHost sets nothing up for a plan without squeeze blocks, and releaseHost has nothing to undo', async () => {
  const setup = await prepareHost(buildPlan(PLAN), { swapBytes: 1, signal: new AbortController().signal, say: () => assert.fail('nothing to say') });
  assert.deepEqual(setup, { squeeze: undefined, swapFile: undefined });
  assert.deepEqual(await releaseHost(setup), []);
});

test('writeDataset writes the finalized runs and removes the journal', (t) => {
  const dir = testDir(t);
  const out = join(dir, 'out.jsonl');
  const journal = `${out}.partial`;
  writeFileSync(journal, 'x\n');
  const records = [record(0, IDLE, 2), record(1, { ...IDLE, cpuHogs: 2 }, 3), record(2, IDLE, 2)];
  const lines = writeDataset(out, journal, records);
  assert.deepEqual(lines.map((l) => l.slowdown), [0, 50, 0]);
  assert.deepEqual(readFileSync(out, 'utf8').trimEnd().split('\n').map((l) => (JSON.parse(l) as CalibrationLine).slowdown), [0, 50, 0]);
  assert.deepEqual(readdirSync(dir), ['out.jsonl']);
});

test('writeDataset that cannot write the dataset keeps the journal and names it, with the command that finishes from it', (t) => {
  const dir = testDir(t);
  const out = join(dir, 'missing', 'out.jsonl');
  const journal = join(dir, 'out.jsonl.partial');
  writeFileSync(journal, 'the runs\n');
  const records = [record(0, IDLE, 2), record(1, { ...IDLE, cpuHogs: 2 }, 3), record(2, IDLE, 2)];
  assert.throws(() => writeDataset(out, journal, records), {
    message: `could not write ${out}: ENOENT (no such file or directory); the runs are kept in ${journal}: "lavarank calibrate --finalize ${journal} --out FILE" writes the dataset from them`,
  });
  assert.equal(readFileSync(journal, 'utf8'), 'the runs\n');
});

test('writeDataset whose directory cannot be synced after the rename says the dataset was written, and keeps the journal', (t) => {
  const dir = testDir(t);
  const out = join(dir, 'out.jsonl');
  const journal = join(dir, 'out.jsonl.partial');
  writeFileSync(journal, 'the runs\n');
  const records = [record(0, IDLE, 2), record(1, { ...IDLE, cpuHogs: 2 }, 3), record(2, IDLE, 2)];
  const restoreSync = failDirectorySync();
  try {
    assert.throws(() => writeDataset(out, journal, records), {
      message: `${out} was written, but its directory ${dir} could not be synced: EIO (i/o error); after a crash ${out} may be as it was before; the runs are kept in ${journal}: "lavarank calibrate --finalize ${journal} --out FILE" writes the dataset from them`,
    });
  } finally {
    restoreSync();
  }
  assert.equal(readFileSync(journal, 'utf8'), 'the runs\n');
});

test('a block of a dozen stressors starts and stops without a listener warning', async (t) => {
  const dir = testDir(t);
  const warnings: string[] = [];
  const onWarning = (w: Error): void => {
    warnings.push(`${w.name}: ${w.message}`);
  };
  process.on('warning', onWarning);
  t.after(() => process.removeListener('warning', onWarning));
  const run = new AbortController();
  const group = new StressorGroup(run.signal, dir);
  t.after(() => group.killNow());
  // As many as a cpu=8 block with its boost starts: each adds listeners to the group's signal.
  await group.start('cpu', 12, 0.01, ['--max-seconds', '60']);
  assert.equal(group.pids().length, 12);
  await group.stop();
  assert.deepEqual(group.pids(), []);
  await new Promise((r) => setImmediate(r)); // warnings are emitted on the next tick
  assert.deepEqual(warnings.filter((w) => w.includes('MaxListeners')), []);
});

// The command line of one cpu stressor a block starts, read from /proc while it runs.
async function stressorCommandLine(t: TestContext): Promise<string[]> {
  const dir = testDir(t);
  const run = new AbortController();
  const group = new StressorGroup(run.signal, dir);
  t.after(() => group.killNow());
  await group.start('cpu', 1, 0.01, ['--max-seconds', '60']);
  const [pid] = group.pids();
  const args = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
  await group.stop();
  return args;
}

test('the stressors of a block are told the pid of calibrate, so that they leave if it dies while they start', async (t) => {
  const args = await stressorCommandLine(t);
  assert.equal(args[args.indexOf('--parent') + 1], String(process.pid));
});

test("the stressors of a block start with their inspector's port nowhere, so that a SIGUSR1 before their own listener opens nothing a local user can reach", async (t) => {
  const args = await stressorCommandLine(t);
  assert.ok(args.includes(`--inspect-port=${INSPECTOR_NOWHERE}`), args.join(' '));
  assert.ok(args.indexOf(`--inspect-port=${INSPECTOR_NOWHERE}`) < args.findIndex((a) => a.endsWith('stress.js')), 'a flag of Node, before the script');
});

test('SIGHUP stops a calibration with status 129, not the 143 of SIGTERM', async (t) => {
  const { out, run } = quickCalibrationIn(t);
  // The journal is made once the signals are handled; the first block is idle, so no stressor runs yet.
  await until('the journal was made', () => (existsSync(`${out}.partial`) ? true : undefined), STRESS_BLOCK_DEADLINE_MS);
  process.kill(run.pid, 'SIGHUP');
  const { code, stderr } = await run.exited;
  assert.equal(code, 129, stderr);
  assert.match(stderr, /SIGHUP: stopping the stressors/);
});
