import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cliPath, fixture, tempDir } from '../helpers.js';
import { writeSyntheticHost } from '../helpers/synthetic-host.js';

// `lavarank once` over a config of its own in dir (sampling window 0.1 s), with no
// environment but PATH; args go before --config.
function once(dir: string, configText: string, args: readonly string[] = []): SpawnSyncReturns<string> {
  const config = join(dir, 'lavarank.yaml');
  writeFileSync(config, configText, { mode: 0o644 });
  chmodSync(config, 0o644); // whatever the umask: a config others can write is refused, one root cannot read is not read
  return spawnSync(process.execPath, [cliPath, 'once', ...args, '--config', config, '--window', '0.1'], { encoding: 'utf8', env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin' } });
}

test('when sampling fails, once prints the pessimistic rank for the rank and every typed rank, and exits 1', () => {
  const { dir, cleanup } = tempDir();
  try {
    chmodSync(dir, 0o755);
    mkdirSync(join(dir, 'proc')); // an empty proc root: the required collectors fail
    const r = once(dir, `proc_root: ${join(dir, 'proc')}\ntyped_ranks: true\npessimistic_rank: 777\n`);
    assert.equal(r.stdout, '4 rank 777 rank_cpu 777 rank_mem 777 rank_io 777\n');
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr, /lavarank once: sampling failed, the elim would report the pessimistic rank: cpu: cannot open/);
  } finally {
    cleanup();
  }
});

test('when sampling fails, once --json gives the pessimistic rank and no typed ranks, and exits 1', () => {
  const { dir, cleanup } = tempDir();
  try {
    chmodSync(dir, 0o755);
    mkdirSync(join(dir, 'proc')); // an empty proc root: the required collectors fail
    const r = once(dir, `proc_root: ${join(dir, 'proc')}\ntyped_ranks: true\npessimistic_rank: 777\ngpu: {enabled: false}\n`, ['--json']);
    assert.equal(r.status, 1, r.stderr);
    const detail = JSON.parse(r.stdout) as Record<string, unknown>;
    assert.equal(detail['rank'], 777);
    assert.equal('typed' in detail, false, 'typed ranks from a failed sample would be made up');
  } finally {
    cleanup();
  }
});

test('when an optional collector fails (no /proc/diskstats), once still reports the rank and exits 0', () => {
  const { dir, cleanup } = tempDir();
  try {
    chmodSync(dir, 0o755);
    const { t1 } = writeSyntheticHost(dir, { cpus: 4, runnable: 1 });
    rmSync(join(t1, 'proc', 'diskstats'));
    const r = once(dir, `proc_root: ${join(t1, 'proc')}\nsys_root: ${join(t1, 'sys')}\npessimistic_rank: 777\ngpu: {enabled: false}\n`);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^1 rank \d+(\.\d+)?\n$/);
    assert.notEqual(r.stdout, '1 rank 777\n');
  } finally {
    cleanup();
  }
});

// A directory for PATH with the programs of a GPU node: lspci listing an NVIDIA board,
// and test/fixtures/bin/<smi> as nvidia-smi.
function gpuNodeBin(dir: string, smi: string): string {
  const bin = join(dir, 'bin');
  mkdirSync(bin, { mode: 0o755 });
  for (const [name, as] of [['lspci-nvidia', 'lspci'], [smi, 'nvidia-smi']] as const) {
    copyFileSync(fixture('bin', name), join(bin, as));
    chmodSync(join(bin, as), 0o755);
  }
  return bin;
}

// systeminformation runs nvidia-smi, where lspci lists an NVIDIA board, synchronously and
// without a timeout: gathered in once's own process, the inventory of a GPU node whose
// driver is wedged hung once --json as long as nvidia-smi (the fake: 60 s; a real one: for good).
test('once --json on a GPU node whose nvidia-smi hangs ends with the inventory\'s timeout in place of the inventory', () => {
  const { dir, cleanup } = tempDir();
  try {
    chmodSync(dir, 0o755);
    const bin = gpuNodeBin(dir, 'nvidia-smi-hang');
    const config = join(dir, 'lavarank.yaml');
    writeFileSync(config, 'gpu: {timeout: 1}\nhistory: {enabled: false}\n', { mode: 0o644 });
    // The 40 s limit only keeps a hung run from holding the test suite; the fake hangs 60 s.
    const r = spawnSync(process.execPath, [cliPath, 'once', '--json', '--config', config, '--window', '0.1'], {
      encoding: 'utf8',
      env: { PATH: `${bin}:${process.env['PATH'] ?? '/usr/bin:/bin'}` },
      timeout: 40_000,
      killSignal: 'SIGKILL',
    });
    assert.equal(r.status, 0, `status ${String(r.status)}, signal ${String(r.signal)}: ${r.stderr}`);
    const detail = JSON.parse(r.stdout) as { inventory: { error?: string } };
    assert.match(detail.inventory.error ?? '', /timed out/);
  } finally {
    cleanup();
  }
});

// The host inventory (systeminformation's graphics()) ran nvidia-smi whatever gpu.enabled.
test('once --json with gpu.enabled false never runs nvidia-smi, not even for the host inventory', () => {
  const { dir, cleanup } = tempDir();
  try {
    chmodSync(dir, 0o755);
    const bin = gpuNodeBin(dir, 'nvidia-smi-ok');
    const calls = join(dir, 'calls');
    const config = join(dir, 'lavarank.yaml');
    writeFileSync(config, 'gpu: {enabled: false}\nhistory: {enabled: false}\n', { mode: 0o644 });
    const r = spawnSync(process.execPath, [cliPath, 'once', '--json', '--config', config, '--window', '0.1'], {
      encoding: 'utf8',
      env: { PATH: `${bin}:${process.env['PATH'] ?? '/usr/bin:/bin'}`, FAKE_GPU_CALLS: calls },
    });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(existsSync(calls), false, 'nvidia-smi ran');
    const detail = JSON.parse(r.stdout) as { inventory: { gpus: unknown; errors: Record<string, string> } };
    assert.equal(detail.inventory.gpus, null);
    assert.equal(detail.inventory.errors['gpus'], 'not gathered (gpu.enabled is false)');
  } finally {
    cleanup();
  }
});
