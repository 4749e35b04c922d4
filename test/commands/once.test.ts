import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cliPath, tempDir } from '../helpers.js';

test('when sampling fails, once prints the pessimistic rank for the rank and every typed rank, and exits 1', () => {
  const { dir, cleanup } = tempDir();
  try {
    chmodSync(dir, 0o755);
    mkdirSync(join(dir, 'proc')); // an empty proc root: the required collectors fail
    const config = join(dir, 'lavarank.yaml');
    writeFileSync(config, `proc_root: ${join(dir, 'proc')}\ntyped_ranks: true\npessimistic_rank: 777\n`, { mode: 0o644 });
    chmodSync(config, 0o644);
    const r = spawnSync(process.execPath, [cliPath, 'once', '--config', config, '--window', '0.1'], { encoding: 'utf8', env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin' } });
    assert.equal(r.stdout, '4 rank 777 rank_cpu 777 rank_mem 777 rank_io 777\n');
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr, /lavarank once: sampling failed, the elim would report the pessimistic rank: cpu: cannot open/);
  } finally {
    cleanup();
  }
});
