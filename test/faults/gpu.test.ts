// A GPU tool that hangs (a wedged driver) or prints garbage, with gpu.enabled: true.
// The query runs in the background on its own cadence and with its own timeout, so
// neither may delay a report; GPU is not a required collector, so the rank stays
// normal while the failure is logged.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { defaultConfig } from '../../src/config/config.js';
import { collectorsFromConfig } from '../../src/daemon/sampler.js';
import { captureLog, cliPath, fixture, readPidFile, tempDir, testDir } from '../helpers.js';
import { startElim } from '../e2e/harness.js';
import { installBin, isAlive, sleep, until } from './helpers.js';

function gaps(at: number[]): number[] {
  return at.slice(1).map((t, i) => t - at[i]!);
}

describe('a GPU tool that misbehaves', { concurrency: false }, () => {
  it('that hangs: reports stay on time and normal, the query is killed at its timeout and the failure is logged', async (t) => {
    const dir = testDir(t, 'lavarank-gpu-');
    const pidFile = join(dir, 'gpu.pid');
    const elim = startElim({
      testInterval: 0.2,
      override: { gpu: { enabled: true, command: fixture('bin', 'nvidia-smi-hang'), interval: 1, timeout: 1 } },
      env: { FAKE_GPU_PIDFILE: pidFile },
    });
    try {
      const hung = await until('nvidia-smi started', () => readPidFile(pidFile));
      await sleep(4000);
      const reports = elim.reports();
      assert.ok(reports.length >= 10, `${reports.length} reports in 4 s at a 0.2 s interval`);
      assert.ok(Math.max(...gaps(reports.map((r) => r.at))) < 2000);
      assert.ok(reports.every((r) => /^1 rank \d+(\.\d+)?$/.test(r.line)), 'an odd report');
      // By the daemon's own word: the real /proc of a saturated test machine may rank 1000 too.
      assert.equal(elim.log().filter((l) => String(l['msg']).startsWith('reporting the pessimistic rank ')).length, 0, 'a pessimistic report');
      const failure = elim.log().find((l) => String(l['msg']).startsWith('GPU query failed'));
      assert.match(String(failure?.['msg']), /timed out/);
      assert.equal(isAlive(hung), false, 'the hung nvidia-smi was not killed after its 1 s timeout');
    } finally {
      await elim.cleanup();
    }
  });

  it('that prints garbage: reports stay normal and the parse failure is logged once, naming the output line', async () => {
    const elim = startElim({
      testInterval: 0.2,
      override: { gpu: { enabled: true, command: fixture('bin', 'nvidia-smi-garbage'), interval: 1, timeout: 5 } },
    });
    try {
      // Eight reports and a repeated query (the tool runs every second), however slowly a
      // loaded test machine starts the elim: a fixed wait failed with 7 reports in 3.5 s.
      const again = (): boolean => elim.log().some((l) => String(l['msg']).startsWith('GPU query failed again'));
      await until('8 reports and a second GPU query', () => (elim.reports().length >= 8 && again() ? true : undefined), 20_000);
      const reports = elim.reports();
      assert.ok(reports.every((r) => /^1 rank \d+(\.\d+)?$/.test(r.line)), 'an odd report');
      const log = elim.log();
      assert.equal(log.filter((l) => String(l['msg']).startsWith('reporting the pessimistic rank ')).length, 0, 'a pessimistic report');
      const warned = log.filter((l) => String(l['msg']).startsWith('GPU query failed:'));
      assert.equal(warned.length, 1, 'the same failure should be warned once, then logged at debug');
      assert.match(String(warned[0]?.['msg']), /nvidia-smi-garbage output line 1: expected 3 comma-separated values/);
      assert.ok(log.some((l) => String(l['msg']).startsWith('GPU query failed again')), 'the repeats were not logged at debug');
    } finally {
      await elim.cleanup();
    }
  });
});

describe('a GPU lost among several (nvidia-smi exits 15)', () => {
  // The whole query failed ("collector failed: gpu"), the healthy GPUs' values dropped with the lost one's.
  it('the elim reads the other GPUs, fails no collector, and names the lost GPU in its log', async () => {
    const elim = startElim({
      testInterval: 0.2,
      override: { gpu: { enabled: true, command: fixture('bin', 'nvidia-smi-lost'), interval: 1, timeout: 5 } },
    });
    try {
      const incomplete = await elim.waitForLog((l) => String(l['msg']).startsWith('GPU query incomplete:'), 20_000);
      assert.match(String(incomplete['msg']), /GPU 0000:3B:00\.0: GPU is lost\. Reboot the system to recover this GPU; the other 2 are read$/);
      await elim.waitForReports(elim.reports().length + 3);
      assert.deepEqual(elim.log().filter((l) => /^(collector failed|GPU query failed)/.test(String(l['msg']))).map((l) => l['msg']), []);
    } finally {
      await elim.cleanup();
    }
  });
});

describe('a GPU command another user can change', () => {
  // lavarank runs as root: a program others can write would run their code as root.
  it('is never run: the query is refused, the reason logged, and GPU features are unavailable', async (t) => {
    const dir = testDir(t, 'lavarank-gpu-');
    const calls = join(dir, 'calls');
    const command = installBin(join(dir, 'bin'), 'nvidia-smi-ok', 'nvidia-smi');
    chmodSync(command, 0o777);
    const log = captureLog();
    const env = process.env['FAKE_GPU_CALLS'];
    process.env['FAKE_GPU_CALLS'] = calls;
    // The daemon's own wiring, so the trust rule under test is the one the elim applies.
    const config = { ...defaultConfig(), gpu: { ...defaultConfig().gpu, enabled: true, command, interval: 0.05 } };
    const controller = new AbortController();
    const gpu = collectorsFromConfig(config, { log: log.log, signal: controller.signal }).find((c) => c.name === 'gpu')!;
    try {
      await sleep(500);
      assert.equal(existsSync(calls), false, 'the command was run');
      assert.throws(() => gpu.collect(performance.now()), /writable by group or others/);
      const refused = log.lines.filter((l) => /refused/.test(String(l.msg)));
      assert.equal(refused.length, 1, log.messages().join(' | '));
      assert.equal(refused[0]?.level, 'error');
    } finally {
      controller.abort();
      gpu.close?.();
      if (env === undefined) delete process.env['FAKE_GPU_CALLS'];
      else process.env['FAKE_GPU_CALLS'] = env;
    }
  });

  it('is named by lavarank check, which exits 1', () => {
    const { dir, cleanup } = tempDir('lavarank-gpu-');
    try {
      const command = installBin(join(dir, 'bin'), 'nvidia-smi-ok', 'nvidia-smi');
      chmodSync(command, 0o777);
      const config = join(dir, 'lavarank.yaml');
      writeFileSync(config, `log: {file: ${join(dir, 'l.log')}}\nhistory: {dir: ${join(dir, 'h')}}\ngpu: {enabled: true, command: ${command}}\n`, { mode: 0o644 });
      const r = spawnSync(process.execPath, [cliPath, 'check', '--config', config], { encoding: 'utf8' });
      assert.equal(r.status, 1, r.stdout);
      assert.match(r.stdout, /gpu\.command .*nvidia-smi has mode 0777, writable by group or others/);
    } finally {
      cleanup();
    }
  });
});
