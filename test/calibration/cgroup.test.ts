import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { enableSwapFile, findMemoryCgroup, removeCgroup, squeezedMemory, swapTotalBytes } from '../../src/calibration/cgroup.js';
import { parseCgroupMounts } from '../../src/collectors/cgroup.js';
import type { MemoryReading } from '../../src/collectors/types.js';
import { dirWithMode, repoRoot, syslogGroupIs, tempDir, testDir } from '../helpers.js';

// mountinfo lines of a hybrid host (v1 controllers and a v2 mount) and of a pure v2 host.
const HYBRID_MOUNTS = [
  '30 25 0:26 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755',
  '34 30 0:30 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory',
  '35 30 0:31 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu',
  '40 30 0:36 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw',
].join('\n');
const V2_MOUNTS = '29 23 0:26 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw,nsdelegate';
const hybrid = parseCgroupMounts(HYBRID_MOUNTS);
const v2 = parseCgroupMounts(V2_MOUNTS);

test('finds the v1 memory cgroup of the process under the memory hierarchy\'s mount', () => {
  const found = findMemoryCgroup('4:memory:/jobs/42\n1:cpu:/\n0::/', hybrid, () => undefined);
  assert.deepEqual(found, { kind: 'v1', parent: '/sys/fs/cgroup/memory/jobs/42' });
});

test('finds a v2 cgroup only where the memory controller is offered', () => {
  const withMemory = findMemoryCgroup('0::/user.slice/u.scope', v2, (dir) => (dir === '/sys/fs/cgroup/user.slice/u.scope' ? 'cpu io memory pids\n' : undefined));
  assert.deepEqual(withMemory, { kind: 'v2', parent: '/sys/fs/cgroup/user.slice/u.scope' });
  const without = findMemoryCgroup('0::/', hybrid, () => 'hugetlb\n');
  assert.ok('why' in without);
  assert.match(without.why, /does not offer the memory controller \(cgroup.controllers: "hugetlb"\)/);
});

// mountinfo escapes a blank in a path as \040; calibrate parsed the file on its own
// and made its squeeze cgroup under the escaped text, a directory that is not there.
test('finds the memory cgroup under a mount point whose path mountinfo escapes, unescaped', () => {
  const mounts = parseCgroupMounts('34 30 0:30 / /sys/fs/cgroup/mem\\040ory rw,relatime - cgroup cgroup rw,memory');
  assert.deepEqual(findMemoryCgroup('4:memory:/jobs/42\n', mounts, () => undefined), { kind: 'v1', parent: '/sys/fs/cgroup/mem ory/jobs/42' });
});

test('says why when there is no memory cgroup at all', () => {
  const found = findMemoryCgroup('1:cpu:/\n', hybrid, () => undefined);
  assert.ok('why' in found && /no memory cgroup/.test(found.why));
});

test('the squeezed memory reading is that of a host the size of the limit, with the page cache counted as available', () => {
  const host: MemoryReading = { totalBytes: 24e9, availableBytes: 23e9, usedFraction: 1 - 23 / 24, swapTotalBytes: 4e9, swapUsedFraction: 0.1, swapInPerSec: 500, swapOutPerSec: 600, majorFaultsPerSec: 80 };
  const m = squeezedMemory(host, { usageBytes: 2000, inactiveFileBytes: 200 }, 2048);
  assert.deepEqual(m, { ...host, totalBytes: 2048, availableBytes: 248, usedFraction: 1 - 248 / 2048 });
  assert.equal(squeezedMemory(host, { usageBytes: 4096, inactiveFileBytes: 0 }, 2048).availableBytes, 0, 'never negative');
});

test('swap space is read from /proc/meminfo in bytes, 0 when there is none', () => {
  assert.equal(swapTotalBytes('MemTotal:       24683944 kB\nSwapTotal:       4194300 kB\nSwapFree:        4194300 kB\n'), 4194300 * 1024);
  assert.equal(swapTotalBytes('MemTotal:       24683944 kB\nSwapTotal:             0 kB\n'), 0);
});

test('the squeeze stressor refuses to start without the amount of memory to touch', () => {
  const r = spawnSync(process.execPath, [join(repoRoot, 'dist', 'src', 'calibration', 'stress.js'), 'squeeze'], { encoding: 'utf8' });
  assert.equal(r.status, 2);
  assert.match(r.stderr, /squeeze: --bytes is required/);
});

test('enableSwapFile refuses a swap file in a directory others can write, before creating anything', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const open = dirWithMode(dir, 'open', 0o777);
    await assert.rejects(enableSwapFile(join(open, 'calib.swap'), 1 << 20, new AbortController().signal), (err: Error) => {
      assert.match(err.message, new RegExp(`^--swap-file ${open}/calib.swap: swap file directory ${open} has mode 0777, writable by group or others`));
      return true;
    });
    assert.deepEqual(readdirSync(open), []);
  } finally {
    cleanup();
  }
});

test('enableSwapFile refuses a swap file in a directory the syslog group may write (root:syslog 0775, as Ubuntu\'s /var/log): its members could rename root\'s file and link another at its name', async (t) => {
  const dir = testDir(t);
  const logs = dirWithMode(dir, 'log', 0o775);
  syslogGroupIs(t, statSync(logs).gid);
  // No mkswap or swapon to find, so that a directory let through makes no swap on the test host.
  const path = process.env['PATH'];
  process.env['PATH'] = dirWithMode(dir, 'bin', 0o755);
  t.after(() => {
    process.env['PATH'] = path;
  });
  await assert.rejects(enableSwapFile(join(logs, 'calib.swap'), 1 << 20, new AbortController().signal), (err: Error) => {
    assert.match(err.message, new RegExp(`^--swap-file ${logs}/calib.swap: swap file directory ${logs} has mode 0775, writable by group or others`));
    return true;
  });
  assert.deepEqual(readdirSync(logs), []);
});

test('enableSwapFile never writes into a file that is already there', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const path = join(dir, 'calib.swap');
    writeFileSync(path, 'precious\n');
    await assert.rejects(enableSwapFile(path, 1 << 20, new AbortController().signal), /EEXIST|not found/);
    assert.equal(readFileSync(path, 'utf8'), 'precious\n');
  } finally {
    cleanup();
  }
});

test('enableSwapFile refuses a swap file in a directory not made yet below a sticky one (/tmp/x): another user could make it their link to anywhere first', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const sticky = dirWithMode(dir, 'tmp', 0o1777);
    const unmade = join(sticky, 'x');
    await assert.rejects(enableSwapFile(join(unmade, 'calib.swap'), 1 << 20, new AbortController().signal), (err: Error) => {
      assert.match(err.message, new RegExp(`^--swap-file ${unmade}/calib.swap: swap file directory ${unmade} does not exist, and ${sticky}, where it would be made, can be written by others`));
      return true;
    });
    assert.deepEqual(readdirSync(sticky), []);
  } finally {
    cleanup();
  }
});

test('removing a cgroup directory already gone counts as removed; one that cannot be removed does not', () => {
  const { dir, cleanup } = tempDir();
  try {
    const gone = join(dir, 'squeeze');
    mkdirSync(gone);
    assert.equal(removeCgroup(gone), true);
    assert.equal(removeCgroup(gone), true);
    const busy = join(dir, 'busy');
    mkdirSync(busy);
    writeFileSync(join(busy, 'x'), '');
    assert.equal(removeCgroup(busy), false);
  } finally {
    cleanup();
  }
});
