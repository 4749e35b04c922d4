import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { PROBE_WORK, probeWork, type ProbeResult } from '../../src/calibration/probe.js';
import { dirWithMode, repoRoot, signalOnFirstEntry, testDir } from '../helpers.js';

const probePath = join(repoRoot, 'dist', 'src', 'calibration', 'probe.js');

function runProbe(args: string[]): { status: number | null; lines: string[]; stderr: string } {
  const r = spawnSync(process.execPath, [probePath, ...args], { encoding: 'utf8', timeout: 30_000 });
  return { status: r.status, lines: r.stdout.split('\n').filter((l) => l !== ''), stderr: r.stderr };
}

test('the probe prints one JSON line with its wall time, CPU time and the time of each part', (t) => {
  const dir = testDir(t);
  const r = runProbe(['--scale', '0.02', '--dir', dir]);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.lines.length, 1);
  const p = JSON.parse(r.lines[0]!) as ProbeResult;
  assert.equal(p.v, 1);
  assert.equal(p.scale, 0.02);
  for (const v of [p.wallSeconds, p.cpuSeconds, p.processCpuSeconds, p.parts.cpu, p.parts.mem, p.parts.disk]) {
    assert.ok(Number.isFinite(v) && v > 0, `${v} is a positive number`);
  }
  assert.ok(p.parts.cpu + p.parts.mem + p.parts.disk <= p.wallSeconds + 1e-6, 'the parts fit in the wall time');
  assert.ok(p.processCpuSeconds >= p.cpuSeconds, 'the process used at least the CPU time of its work');
});

test('the probe does the same work on every run at the same scale, and more at a larger one', () => {
  const works = ['0.02', '0.02', '0.04'].map((scale) => (JSON.parse(runProbe(['--scale', scale]).lines[0]!) as ProbeResult).work);
  assert.deepEqual(works[0], works[1]);
  assert.notDeepEqual(works[0], works[2]);
  assert.equal(works[0]!.diskBytesWritten, probeWork(0.02).diskChunks * PROBE_WORK.diskChunkBytes);
});

test('the probe refuses a --dir others can write (not sticky), with status 1, and makes nothing there', (t) => {
  const dir = testDir(t);
  const open = dirWithMode(dir, 'scratch', 0o777);
  const r = runProbe(['--scale', '0.02', '--dir', open]);
  assert.equal(r.status, 1, r.stderr);
  assert.match(r.stderr, new RegExp(`^probe: .*temporary directory ${open}, which others could redirect: .*mode 0777`));
  assert.deepEqual(r.lines, []);
  assert.deepEqual(readdirSync(open), []);
});

test('the probe leaves nothing in its directory', (t) => {
  const dir = testDir(t);
  assert.equal(runProbe(['--scale', '0.02', '--dir', dir]).status, 0);
  assert.deepEqual(readdirSync(dir), []);
});

test('a probe stopped with SIGTERM, even as soon as its directory exists, removes its files and exits with 143', async (t) => {
  // Five rounds, each signalled the moment the directory appears (polled without
  // pause), as early as calibrate's could come: a probe that made its directory
  // before handling SIGTERM died of the signal there in most rounds, leaving it.
  for (let round = 0; round < 5; round++) {
    const dir = testDir(t);
    assert.equal(await signalOnFirstEntry([probePath, '--scale', '3', '--dir', dir], dir), 143, `round ${round + 1}`);
    assert.deepEqual(readdirSync(dir), [], `round ${round + 1}`);
  }
});

test('the work scales with --scale and never drops below one unit of each kind', () => {
  assert.deepEqual(probeWork(1), {
    cpuIterations: PROBE_WORK.cpuIterations,
    memBytes: PROBE_WORK.memBytes,
    memPasses: PROBE_WORK.memPasses,
    diskChunks: PROBE_WORK.diskChunks,
  });
  const tiny = probeWork(1e-9);
  assert.equal(tiny.cpuIterations, 1);
  assert.equal(tiny.memBytes, 1024 * 1024);
  assert.equal(tiny.diskChunks, 1);
  assert.equal(probeWork(2).memBytes, PROBE_WORK.memBytes, 'buffers stay at 256 MiB; more passes instead');
  assert.equal(probeWork(2).memPasses, 2 * PROBE_WORK.memPasses);
});

test('the probe refuses a scale that is not a positive number', () => {
  const r = runProbe(['--scale', 'fast']);
  assert.equal(r.status, 2);
  assert.match(r.stderr, /--scale: expected a number above 0/);
});
