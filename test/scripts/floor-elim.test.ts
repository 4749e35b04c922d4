import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { floorRun, measureElims } from '../../scripts/bench-daemon.js';
import { floorFiles, speedEvery } from '../../scripts/floor-elim.js';
import { SPEED_CHECK_MS } from '../../src/collectors/linkspeed.js';
import { generateBigNode } from '../../scripts/gen-bignode.js';
import { repoRoot, tempDir } from '../helpers.js';

describe('floor-elim', () => {
  it('reads the files the collectors read each report (nine in /proc and the CPU list), and the speed of each physical NIC as often as lavarank', () => {
    const { dir, cleanup } = tempDir('lavarank-floor-');
    try {
      const roots = generateBigNode(join(dir, 'node'), { cpus: 2, disks: 1, partitions: 1, loops: 1, nics: 3 });
      const { everyReport, speeds } = floorFiles(roots.procRoot, roots.sysRoot);
      const relative = (files: string[]): string[] => files.map((f) => f.slice(dir.length + '/node/'.length));
      assert.deepEqual(relative(everyReport), [
        'proc/stat',
        'proc/loadavg',
        'proc/meminfo',
        'proc/vmstat',
        'proc/diskstats',
        'proc/net/dev',
        'proc/pressure/cpu',
        'proc/pressure/memory',
        'proc/pressure/io',
        'sys/devices/system/cpu/online',
      ]);
      assert.deepEqual(relative(speeds), ['sys/class/net/ens0f0/speed', 'sys/class/net/ens0f1/speed', 'sys/class/net/ens1f0/speed']);
      assert.equal(speedEvery(5000), SPEED_CHECK_MS / 5000);
      assert.equal(speedEvery(10_000), SPEED_CHECK_MS / 10_000);
      assert.equal(speedEvery(SPEED_CHECK_MS * 2), 1);
    } finally {
      cleanup();
    }
  });

  it('writes one report per interval, and is measured like the elim', async () => {
    const [m] = await measureElims([floorRun('floor', join(repoRoot, 'dist', 'scripts', 'floor-elim.js'), 0.1)], { reports: 3, warmup: 1, windows: 3, intervalSec: 0.1 });
    assert.equal(m?.lastLine, '1 rank 0');
    assert.equal(m?.windowsCpuMsPerReport.length, 3);
    assert.ok(m !== undefined && m.cpuMsPerReport > 0 && m.firstReportMs > 0);
  });
});
