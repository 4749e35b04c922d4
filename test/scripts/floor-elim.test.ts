import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { floorRun, measureElims } from '../../scripts/bench-daemon.js';
import { floorFiles, speedEvery } from '../../scripts/floor-elim.js';
import { SPEED_CHECK_MS } from '../../src/collectors/linkspeed.js';
import { generateBigNode } from '../../scripts/gen-bignode.js';
import { writeTree } from '../collectors/helpers.js';
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

  it('reads, once a look as lavarank does, its own status and cgroup, and on the generated node no limit file, since there is no cgroup there', () => {
    const { dir, cleanup } = tempDir('lavarank-floor-');
    try {
      const roots = generateBigNode(join(dir, 'node'), { cpus: 2, disks: 1, partitions: 1, loops: 1, nics: 1 });
      const { everyLook, everyReport } = floorFiles(roots.procRoot, roots.sysRoot);
      assert.deepEqual(everyLook, [join(roots.procRoot, 'self/status'), join(roots.procRoot, 'self/cgroup')]);
      assert.equal(everyReport.length, 10);
    } finally {
      cleanup();
    }
  });

  it('reads the limit files of lavarank\'s cgroup and its ancestors once a look, and a set limit\'s usage files at every report', () => {
    const { dir, cleanup } = tempDir('lavarank-floor-');
    try {
      // systemd on cgroup v2: OpenLava's service with a CPU quota and a memory limit under MemTotal, none above it.
      const service = 'sys/fs/cgroup/system.slice/lsf.service';
      writeTree(dir, {
        'proc/self/cgroup': '0::/system.slice/lsf.service\n',
        'proc/self/mountinfo': '31 20 0:27 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n',
        'proc/meminfo': 'MemTotal:       16000000 kB\n',
        'proc/net/dev': 'Inter-| Receive\n face |bytes\n',
        [`${service}/cpu.max`]: '50000 100000\n',
        [`${service}/cpu.stat`]: 'usage_usec 0\nthrottled_usec 0\n',
        [`${service}/memory.max`]: `${2 ** 30}\n`,
        [`${service}/memory.high`]: 'max\n',
        [`${service}/memory.current`]: '0\n',
        [`${service}/memory.stat`]: 'inactive_file 0\n',
        'sys/fs/cgroup/system.slice/cpu.max': 'max 100000\n',
        'sys/fs/cgroup/system.slice/memory.max': 'max\n',
        'sys/fs/cgroup/system.slice/memory.high': 'max\n',
      });
      const { everyLook, everyReport } = floorFiles(join(dir, 'proc'), join(dir, 'sys'));
      const relative = (files: string[]): string[] => files.map((f) => f.slice(dir.length + 1));
      assert.deepEqual(relative(everyLook), [
        'proc/self/status',
        'proc/self/cgroup',
        `${service}/cpu.max`,
        'sys/fs/cgroup/system.slice/cpu.max',
        'sys/fs/cgroup/cpu.max',
        `${service}/memory.max`,
        `${service}/memory.high`,
        'sys/fs/cgroup/system.slice/memory.max',
        'sys/fs/cgroup/system.slice/memory.high',
        'sys/fs/cgroup/memory.max',
        'sys/fs/cgroup/memory.high',
      ]);
      assert.deepEqual(relative(everyReport).slice(10), [`${service}/cpu.stat`, `${service}/memory.current`, `${service}/memory.stat`]);
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
