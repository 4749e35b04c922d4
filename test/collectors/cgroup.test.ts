import assert from 'node:assert/strict';
import { existsSync, mkdirSync, rmdirSync, rmSync } from 'node:fs';
import { basename, join } from 'node:path';
import { test } from 'node:test';
import fc from 'fast-check';
import { cgroupDirs, createMemoryLimitReader, createQuotaReader, LIMITS_CHECK_EVERY, parseCfsPeriod, parseCfsQuota, parseCgroupMounts, parseCpuMax, parseKeyed, parseMemoryLimit, parseProcCgroup, placeOf, readCgroupMounts } from '../../src/collectors/cgroup.js';
import { CollectorError, errorCode } from '../../src/util/errors.js';
import { fixtureText, openOn, tempDir, writeTree } from './helpers.js';

// This VM's hybrid layout (cgroup v1 controllers, an empty unified hierarchy), captured
// from a shell in a v1 cgroup `lrq` with a CFS quota.
const hybridCgroup = fixtureText('cgroup', 'v1-hybrid', 'cgroup');
const hybridMounts = fixtureText('cgroup', 'v1-hybrid', 'mountinfo');

// A container under cgroup v2 with its own cgroup namespace (docker's default there):
// it sees its cgroup as the root of the hierarchy.
const v2Mountinfo = '20 1 0:19 / / rw - overlay overlay rw\n31 20 0:27 / /sys/fs/cgroup ro,nosuid,nodev,noexec,relatime - cgroup2 cgroup ro\n';
// cpu.stat as Documentation/admin-guide/cgroup-v2.rst lists it, with the cpu controller enabled.
const v2CpuStat = (usage: number, throttled: number): string =>
  `usage_usec ${usage}\nuser_usec ${usage - 1000}\nsystem_usec 1000\nnr_periods 500\nnr_throttled 20\nthrottled_usec ${throttled}\nnr_bursts 0\nburst_usec 0\n`;

test('parseProcCgroup reads the v1 controllers\' cgroups and the unified one of a hybrid layout, leaving out named hierarchies', () => {
  const p = parseProcCgroup(hybridCgroup);
  assert.equal(p.v1.get('cpu'), '/lrq');
  assert.equal(p.v1.get('cpuacct'), '/lrq');
  assert.equal(p.v1.get('memory'), '/lrq');
  assert.equal(p.v1.has('name=systemd'), false);
  assert.equal(p.v2, '/');
  assert.deepEqual(parseProcCgroup('0::/system.slice/lsf.service\n'), { v1: new Map(), v2: '/system.slice/lsf.service' });
  assert.deepEqual([...parseProcCgroup('4:cpu,cpuacct:/docker/abc\n').v1], [['cpu', '/docker/abc'], ['cpuacct', '/docker/abc']]);
});

test('parseProcCgroup names the file and line of a line not as the kernel writes it', () => {
  assert.throws(() => parseProcCgroup('0::/\ngarbage\n'), (err: unknown) => err instanceof CollectorError && /\/proc\/self\/cgroup line 2/.test(err.message));
});

test('parseCgroupMounts finds the v1 hierarchies with their controllers and the v2 one in a real mountinfo', () => {
  const mounts = parseCgroupMounts(hybridMounts);
  assert.deepEqual(
    mounts.filter((m) => m.controllers.length > 0 || m.version === 2).map((m) => [m.point, m.version, m.controllers.join(',')]),
    [
      ['/sys/fs/cgroup/cpu', 1, 'cpu'],
      ['/sys/fs/cgroup/cpuacct', 1, 'cpuacct'],
      ['/sys/fs/cgroup/memory', 1, 'memory'],
      ['/sys/fs/cgroup/unified', 2, ''],
    ],
  );
  // Optional fields before the separator, and a mount point with an escaped space.
  const [m] = parseCgroupMounts('40 30 0:37 /docker/abc /my\\040cg rw shared:5 master:1 - cgroup cgroup rw,cpu,cpuacct\n');
  assert.deepEqual(m, { point: '/my cg', root: '/docker/abc', version: 1, controllers: ['cpu', 'cpuacct'] });
});

test('parseCgroupMounts takes a user\'s FUSE mount whose point holds vertical tabs and a dash for no cgroup hierarchy', () => {
  // Captured from root's mountinfo after oltest's fusermount3 of /home/oltest/f\vA\v-\vcgroup\vx\vrw,cpu,cpuacct,memory:
  // the kernel escapes blanks in a mount point but not a vertical tab.
  const fuse = '73 26 0:43 / /home/oltest/f\vA\v-\vcgroup\vx\vrw,cpu,cpuacct,memory rw,nosuid,nodev,relatime - fuse hello rw,user_id=1003,group_id=1003\n';
  const nbsp = '74 26 0:44 / /home/oltest/g\u00a0A\u00a0-\u00a0cgroup2\u00a0x\u00a0rw rw,nosuid,nodev,relatime - fuse.x x rw,user_id=1003,group_id=1003\n';
  assert.deepEqual(parseCgroupMounts(fuse + nbsp), []);
  assert.equal(parseCgroupMounts(hybridMounts + fuse + nbsp).length, parseCgroupMounts(hybridMounts).length);
});

test('cgroupDirs gives the cgroup and its ancestors up to the mount\'s root, which in a container is the container\'s own', () => {
  const host = { point: '/sys/fs/cgroup', root: '/', version: 2 as const, controllers: [] };
  assert.deepEqual(cgroupDirs(host, '/system.slice/lsf.service'), ['/sys/fs/cgroup/system.slice/lsf.service', '/sys/fs/cgroup/system.slice', '/sys/fs/cgroup']);
  // Docker on cgroup v1 mounts the container's cgroup as the root of each hierarchy.
  const container = { point: '/sys/fs/cgroup/cpu,cpuacct', root: '/docker/abc', version: 1 as const, controllers: ['cpu', 'cpuacct'] };
  assert.deepEqual(cgroupDirs(container, '/docker/abc'), ['/sys/fs/cgroup/cpu,cpuacct']);
  assert.equal(cgroupDirs(container, '/docker/other'), undefined);
  assert.equal(cgroupDirs(host, '/../..'), undefined, 'a cgroup outside the namespace\'s root');
  assert.deepEqual(cgroupDirs(host, '/a', '/tmp/sys'), ['/tmp/sys/fs/cgroup/a', '/tmp/sys/fs/cgroup']);
});

test('placeOf takes a controller from the v1 hierarchy that holds it, else from v2', () => {
  const mounts = parseCgroupMounts(hybridMounts);
  assert.deepEqual(placeOf('cpu', parseProcCgroup(hybridCgroup), mounts), { version: 1, dirs: ['/sys/fs/cgroup/cpu/lrq', '/sys/fs/cgroup/cpu'] });
  assert.deepEqual(placeOf('cpu', parseProcCgroup('0::/\n'), parseCgroupMounts(v2Mountinfo)), { version: 2, dirs: ['/sys/fs/cgroup'] });
});

test('parseCpuMax gives the quota in CPUs, parseCfsQuota and parseCfsPeriod v1\'s in µs, and nothing where none is set', () => {
  assert.equal(parseCpuMax('max 100000\n'), undefined);
  assert.equal(parseCpuMax('50000 100000\n'), 0.5);
  assert.equal(parseCpuMax('200000 100000\n'), 2);
  assert.throws(() => parseCpuMax('50000\n'), CollectorError);
  assert.throws(() => parseCpuMax('x 100000\n'), CollectorError);
  assert.equal(parseCfsQuota('-1\n'), undefined);
  assert.equal(parseCfsQuota('50000\n'), 50000);
  assert.throws(() => parseCfsQuota('lots\n'), CollectorError);
  assert.equal(parseCfsPeriod('100000\n'), 100000);
  assert.throws(() => parseCfsPeriod('0\n'), CollectorError);
});

test('parseKeyed reads the counters asked for from a real cpu.stat and names a bad line', () => {
  assert.deepEqual(parseKeyed(fixtureText('cgroup', 'v1-hybrid', 'cpu.stat'), ['throttled_time', 'nr_throttled', 'usage_usec']), [9693026651, 381, undefined]);
  assert.throws(() => parseKeyed('usage_usec -5\n', ['usage_usec']), (err: unknown) => err instanceof CollectorError && /line 1/.test(err.message));
});

test('parseMemoryLimit gives bytes, and nothing for v2\'s max or v1\'s unlimited', () => {
  assert.equal(parseMemoryLimit('max\n'), undefined);
  assert.equal(parseMemoryLimit('4294967296\n'), 4294967296);
  assert.equal(parseMemoryLimit('9223372036854771712\n'), undefined);
  assert.throws(() => parseMemoryLimit('lots\n'), CollectorError);
});

test('the quota reader gives a v2 container\'s quota, and the CPUs\' worth it used and spent throttled between two readings', (t) => {
  const root = tempDir(t);
  writeTree(root, { 'proc/self/cgroup': '0::/\n', 'proc/self/mountinfo': v2Mountinfo, 'sys/fs/cgroup/cpu.max': '200000 100000\n', 'sys/fs/cgroup/cpu.stat': v2CpuStat(1_000_000, 0) });
  const q = createQuotaReader(`${root}/proc`, `${root}/sys`);
  assert.equal(q.read(0), undefined, 'no delta yet');
  // 10 s: 20 CPU-seconds used (the whole quota), run queues throttled 15 s in all.
  writeTree(root, { 'sys/fs/cgroup/cpu.stat': v2CpuStat(21_000_000, 15_000_000) });
  assert.deepEqual(q.read(10_000), { cpus: 2, used: 2, throttled: 1.5 });
  q.close();
});

// Both readers, on a v2 container (2 CPUs of quota, 1 GiB of memory, half used) whose
// mountinfo is the given text, read its limits.
function assertV2LimitsRead(root: string, mountinfo: string): void {
  writeTree(root, {
    'proc/self/cgroup': '0::/\n',
    'proc/self/mountinfo': mountinfo,
    'sys/fs/cgroup/cpu.max': '200000 100000\n',
    'sys/fs/cgroup/cpu.stat': v2CpuStat(1_000_000, 0),
    'sys/fs/cgroup/memory.max': '1073741824\n',
    'sys/fs/cgroup/memory.current': '536870912\n',
    'sys/fs/cgroup/memory.stat': 'inactive_file 0\n',
  });
  const q = createQuotaReader(`${root}/proc`, `${root}/sys`);
  q.read(0);
  writeTree(root, { 'sys/fs/cgroup/cpu.stat': v2CpuStat(21_000_000, 0) });
  assert.equal(q.read(10_000)?.cpus, 2);
  q.close();
  const m = createMemoryLimitReader(`${root}/proc`, `${root}/sys`);
  assert.deepEqual(m.read(), { limitBytes: 1073741824, usedFraction: 0.5 });
  m.close();
}

test('the quota and memory limit readers find the limits in a mountinfo that one user\'s FUSE mounts made larger than 4 MiB', (t) => {
  const root = tempDir(t);
  // 300 mount points of 3 750 blanks, each 15 KiB escaped, after the host's own mounts.
  const blanks = '/\\040'.repeat(15) + '\\040'.repeat(3735);
  const fuse = Array.from({ length: 300 }, (_, i) => `${100 + i} 26 0:${60 + i} / /home/oltest/big${blanks}/d${i} rw,nosuid,nodev,relatime - fuse x rw,user_id=1003,group_id=1003\n`).join('');
  assert.ok(fuse.length > 4 * 1024 * 1024);
  assertV2LimitsRead(root, v2Mountinfo + fuse);
});

test('the quota and memory limit readers read mountinfo only up to the mount that places their controllers, never the lines after it', (t) => {
  const root = tempDir(t);
  // A line after the cgroup2 mount that would fail the look if it were read (a user's
  // FUSE mounts come there, after boot's, and one of theirs can be of any length).
  assertV2LimitsRead(root, `${v2Mountinfo}99 20 0:99 / /home/oltest/x rw - cgroup \n`);
});

test('a mountinfo line longer than 64 KiB is not taken for a cgroup mount', (t) => {
  const root = tempDir(t);
  const long = `30 20 0:98 / /sys/fs/cgroup/${'\\040'.repeat(17_000)} rw - cgroup2 cgroup2 rw\n`;
  assert.ok(long.length > 64 * 1024);
  writeTree(root, {
    'proc/self/cgroup': '0::/\n',
    'proc/self/mountinfo': long + v2Mountinfo,
    'sys/fs/cgroup/cpu.max': '200000 100000\n',
    'sys/fs/cgroup/cpu.stat': v2CpuStat(1_000_000, 0),
  });
  const q = createQuotaReader(`${root}/proc`, `${root}/sys`);
  q.read(0);
  writeTree(root, { 'sys/fs/cgroup/cpu.stat': v2CpuStat(21_000_000, 0) });
  assert.equal(q.read(10_000)?.cpus, 2);
  q.close();
});

// Where the look must read on past users' mounts (a controller that /proc/self/cgroup
// names is mounted nowhere here), one user's mounts can make mountinfo any size: a look
// that failed past its bound failed every elim's cpu and memory sample at start and once
// a minute while they kept it so.
test('readCgroupMounts skips a line too long to be a cgroup mount\'s, and leaves out what is past its bound without failing', (t) => {
  const root = tempDir(t);
  const cgroupLine = (id: number): string => `${id} 30 0:28 / /sys/fs/cgroup/c${id} rw,relatime - cgroup cgroup rw,cpu`;
  const long = `40 26 0:60 / /home/oltest/${'a'.repeat(200_000)} rw - cgroup x rw,cpu`; // a cgroup's type, but no cgroup's length
  writeTree(root, { mountinfo: [cgroupLine(31), long, cgroupLine(32), 'x'.repeat(300_000), cgroupLine(33)].join('\n') });
  const points = (mounts: readonly { point: string }[] | undefined): string[] | undefined => mounts?.map((m) => m.point);
  assert.deepEqual(points(readCgroupMounts('cpu', `${root}/mountinfo`)), ['/sys/fs/cgroup/c31', '/sys/fs/cgroup/c32', '/sys/fs/cgroup/c33']);
  assert.deepEqual(points(readCgroupMounts('cpu', `${root}/mountinfo`, () => false, 300_000)), ['/sys/fs/cgroup/c31', '/sys/fs/cgroup/c32'], 'what is past the bound left out, without failing');
});

test('the quota reader takes the tightest quota of the cgroup and its ancestors, and that cgroup\'s use', (t) => {
  const root = tempDir(t);
  // systemd on cgroup v2: CPUQuota=300% on the service, 150% on its slice.
  writeTree(root, {
    'proc/self/cgroup': '0::/system.slice/lsf.service\n',
    'proc/self/mountinfo': '31 20 0:27 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n',
    'sys/fs/cgroup/system.slice/lsf.service/cpu.max': '300000 100000\n',
    'sys/fs/cgroup/system.slice/lsf.service/cpu.stat': v2CpuStat(0, 0),
    'sys/fs/cgroup/system.slice/cpu.max': '150000 100000\n',
    'sys/fs/cgroup/system.slice/cpu.stat': v2CpuStat(0, 0),
  });
  const q = createQuotaReader(`${root}/proc`, `${root}/sys`);
  q.read(0);
  writeTree(root, { 'sys/fs/cgroup/system.slice/cpu.stat': v2CpuStat(10_000_000, 0) });
  assert.deepEqual(q.read(10_000), { cpus: 1.5, used: 1, throttled: 0 });
  q.close();
});

test('an ancestor\'s larger quota that other cgroups use up counts, though lavarank\'s own smaller quota is idle', (t) => {
  const root = tempDir(t);
  // CPUQuota=200% on the service, 400% on its slice, whose other services keep the 4 CPUs busy.
  writeTree(root, {
    'proc/self/cgroup': '0::/batch.slice/lsf.service\n',
    'proc/self/mountinfo': '31 20 0:27 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n',
    'sys/fs/cgroup/batch.slice/lsf.service/cpu.max': '200000 100000\n',
    'sys/fs/cgroup/batch.slice/lsf.service/cpu.stat': v2CpuStat(0, 0),
    'sys/fs/cgroup/batch.slice/cpu.max': '400000 100000\n',
    'sys/fs/cgroup/batch.slice/cpu.stat': v2CpuStat(0, 0),
  });
  const q = createQuotaReader(`${root}/proc`, `${root}/sys`);
  q.read(0);
  // 10 s: the service used half a CPU, the slice its 4 CPUs and was throttled 40 s (8 tasks in all).
  writeTree(root, {
    'sys/fs/cgroup/batch.slice/lsf.service/cpu.stat': v2CpuStat(5_000_000, 0),
    'sys/fs/cgroup/batch.slice/cpu.stat': v2CpuStat(40_000_000, 40_000_000),
  });
  const use = q.read(10_000);
  // A new task gets 4 / 9 of a CPU from the slice: 2 / (T + 1) for T = 3.5 tasks at the service's quota.
  assert.deepEqual(use, { cpus: 2, used: 0.5, throttled: 3 });
  q.close();
});

test('the quota reader reads v1\'s usage from cpuacct and throttling from cpu, mounted apart as on this VM or together in a docker container', (t) => {
  const apart = tempDir(t);
  writeTree(apart, {
    'proc/self/cgroup': hybridCgroup,
    'proc/self/mountinfo': hybridMounts,
    'sys/fs/cgroup/cpu/cpu.cfs_quota_us': '-1\n',
    'sys/fs/cgroup/cpu/cpu.cfs_period_us': '100000\n',
    'sys/fs/cgroup/cpu/lrq/cpu.cfs_quota_us': '50000\n',
    'sys/fs/cgroup/cpu/lrq/cpu.cfs_period_us': '100000\n',
    'sys/fs/cgroup/cpu/lrq/cpu.stat': 'nr_periods 0\nnr_throttled 0\nthrottled_time 0\nnr_bursts 0\nburst_time 0\n',
    'sys/fs/cgroup/cpuacct/lrq/cpuacct.usage': '0\n',
  });
  const q = createQuotaReader(`${apart}/proc`, `${apart}/sys`);
  q.read(0);
  writeTree(apart, {
    'sys/fs/cgroup/cpu/lrq/cpu.stat': 'nr_periods 100\nnr_throttled 50\nthrottled_time 5000000000\nnr_bursts 0\nburst_time 0\n',
    'sys/fs/cgroup/cpuacct/lrq/cpuacct.usage': '5000000000\n',
  });
  assert.deepEqual(q.read(10_000), { cpus: 0.5, used: 0.5, throttled: 0.5 });
  q.close();
  const together = tempDir(t);
  writeTree(together, {
    'proc/self/cgroup': '12:cpu,cpuacct:/docker/abc\n0::/\n',
    'proc/self/mountinfo': '40 30 0:37 /docker/abc /sys/fs/cgroup/cpu,cpuacct ro - cgroup cgroup rw,cpu,cpuacct\n',
    'sys/fs/cgroup/cpu,cpuacct/cpu.cfs_quota_us': '200000\n',
    'sys/fs/cgroup/cpu,cpuacct/cpu.cfs_period_us': '100000\n',
    'sys/fs/cgroup/cpu,cpuacct/cpu.stat': 'nr_periods 0\nnr_throttled 0\nthrottled_time 0\n',
    'sys/fs/cgroup/cpu,cpuacct/cpuacct.usage': '0\n',
  });
  const d = createQuotaReader(`${together}/proc`, `${together}/sys`);
  d.read(0);
  writeTree(together, { 'sys/fs/cgroup/cpu,cpuacct/cpuacct.usage': '20000000000\n' });
  assert.deepEqual(d.read(10_000), { cpus: 2, used: 2, throttled: 0 });
  d.close();
});

test('on v1 a level whose cgroup has no usage at the same path of the cpuacct hierarchy is left out, and the others still count', (t) => {
  const root = tempDir(t);
  // cpu and cpuacct mounted apart, as on this VM, lavarank moved to cpu:/p/c but left in cpuacct:/p.
  const stat = 'nr_periods 0\nnr_throttled 0\nthrottled_time 0\n';
  writeTree(root, {
    'proc/self/cgroup': '2:cpuacct:/p\n1:cpu:/p/c\n0::/\n',
    'proc/self/mountinfo': hybridMounts,
    'sys/fs/cgroup/cpu/p/c/cpu.cfs_quota_us': '200000\n',
    'sys/fs/cgroup/cpu/p/c/cpu.cfs_period_us': '100000\n',
    'sys/fs/cgroup/cpu/p/c/cpu.stat': stat,
    'sys/fs/cgroup/cpu/p/cpu.cfs_quota_us': '100000\n',
    'sys/fs/cgroup/cpu/p/cpu.cfs_period_us': '100000\n',
    'sys/fs/cgroup/cpu/p/cpu.stat': stat,
    'sys/fs/cgroup/cpuacct/p/cpuacct.usage': '0\n',
  });
  const q = createQuotaReader(`${root}/proc`, `${root}/sys`);
  q.read(0);
  writeTree(root, { 'sys/fs/cgroup/cpuacct/p/cpuacct.usage': '5000000000\n' });
  assert.deepEqual(q.read(10_000), { cpus: 1, used: 0.5, throttled: 0 });
  q.close();
});

test('without a quota at any level (a systemd service, or no cgroup files at all) the quota reader gives nothing', (t) => {
  const root = tempDir(t);
  writeTree(root, {
    'proc/self/cgroup': '0::/system.slice/lsf.service\n',
    'proc/self/mountinfo': '31 20 0:27 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n',
    'sys/fs/cgroup/system.slice/lsf.service/cpu.max': 'max 100000\n',
    'sys/fs/cgroup/system.slice/lsf.service/cpu.stat': v2CpuStat(0, 0),
  });
  const q = createQuotaReader(`${root}/proc`, `${root}/sys`);
  assert.equal(q.read(0), undefined);
  assert.equal(q.read(10_000), undefined);
  const none = tempDir(t);
  assert.equal(createQuotaReader(`${none}/proc`, `${none}/sys`).read(0), undefined);
});

test('a usage counter that went backwards (the cgroup made again) gives no use for that reading, then use resumes', (t) => {
  const root = tempDir(t);
  writeTree(root, { 'proc/self/cgroup': '0::/\n', 'proc/self/mountinfo': v2Mountinfo, 'sys/fs/cgroup/cpu.max': '100000 100000\n', 'sys/fs/cgroup/cpu.stat': v2CpuStat(9_000_000, 0) });
  const q = createQuotaReader(`${root}/proc`, `${root}/sys`);
  q.read(0);
  writeTree(root, { 'sys/fs/cgroup/cpu.stat': v2CpuStat(2_000_000, 0) });
  assert.equal(q.read(10_000), undefined);
  writeTree(root, { 'sys/fs/cgroup/cpu.stat': v2CpuStat(7_000_000, 0) });
  assert.deepEqual(q.read(20_000), { cpus: 1, used: 0.5, throttled: 0 });
});

test('the memory limit reader gives a v2 container\'s limit and the share in use less inactive file pages', (t) => {
  const root = tempDir(t);
  const gib = 2 ** 30;
  // memory.stat as Documentation/admin-guide/cgroup-v2.rst lists it (a few of its keys).
  const stat = `anon ${2 * gib}\nfile ${1.5 * gib}\nkernel 1000\nactive_anon ${2 * gib}\ninactive_anon 0\nactive_file ${gib}\ninactive_file ${gib / 2}\nunevictable 0\n`;
  writeTree(root, {
    'proc/self/cgroup': '0::/\n',
    'proc/self/mountinfo': v2Mountinfo,
    'sys/fs/cgroup/memory.max': `${4 * gib}\n`,
    'sys/fs/cgroup/memory.high': 'max\n',
    'sys/fs/cgroup/memory.current': `${3.5 * gib}\n`,
    'sys/fs/cgroup/memory.stat': stat,
  });
  const m = createMemoryLimitReader(`${root}/proc`, `${root}/sys`);
  assert.deepEqual(m.read(), { limitBytes: 4 * gib, usedFraction: 0.75 });
  // memory.high below memory.max is where reclaim starts: the tighter.
  writeTree(root, { 'sys/fs/cgroup/memory.high': `${3.5 * gib}\n` });
  for (let i = 1; i < LIMITS_CHECK_EVERY; i++) m.read();
  assert.deepEqual(m.read(), { limitBytes: 3.5 * gib, usedFraction: 3 / 3.5 });
  m.close();
});

test('the memory limit reader reads v1\'s usage with the inactive file pages of the cgroup and its descendants', (t) => {
  const root = tempDir(t);
  writeTree(root, {
    'proc/self/cgroup': hybridCgroup,
    'proc/self/mountinfo': hybridMounts,
    'sys/fs/cgroup/memory/memory.limit_in_bytes': '9223372036854771712\n',
    'sys/fs/cgroup/memory/lrq/memory.limit_in_bytes': '1073741824\n',
    'sys/fs/cgroup/memory/lrq/memory.usage_in_bytes': '805306368\n',
    'sys/fs/cgroup/memory/lrq/memory.stat': 'cache 268435456\nrss 536870912\ninactive_file 0\nhierarchical_memory_limit 1073741824\ntotal_cache 268435456\ntotal_inactive_file 268435456\n',
  });
  const m = createMemoryLimitReader(`${root}/proc`, `${root}/sys`);
  assert.deepEqual(m.read(), { limitBytes: 1073741824, usedFraction: 0.5 });
  m.close();
});

test('an ancestor\'s larger memory limit that other cgroups fill counts, though lavarank\'s own smaller limit is nearly empty', (t) => {
  const root = tempDir(t);
  const gib = 2 ** 30;
  const stat = (inactive: number): string => `anon 0\nfile 0\ninactive_file ${inactive}\n`;
  // MemoryMax=8G on the service, 16G on its slice, whose other services hold 15.5 GiB.
  writeTree(root, {
    'proc/self/cgroup': '0::/batch.slice/lsf.service\n',
    'proc/self/mountinfo': '31 20 0:27 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n',
    'sys/fs/cgroup/batch.slice/lsf.service/memory.max': `${8 * gib}\n`,
    'sys/fs/cgroup/batch.slice/lsf.service/memory.high': 'max\n',
    'sys/fs/cgroup/batch.slice/lsf.service/memory.current': `${gib}\n`,
    'sys/fs/cgroup/batch.slice/lsf.service/memory.stat': stat(0),
    'sys/fs/cgroup/batch.slice/memory.max': `${16 * gib}\n`,
    'sys/fs/cgroup/batch.slice/memory.high': 'max\n',
    'sys/fs/cgroup/batch.slice/memory.current': `${16 * gib}\n`,
    'sys/fs/cgroup/batch.slice/memory.stat': stat(gib / 2),
  });
  const m = createMemoryLimitReader(`${root}/proc`, `${root}/sys`);
  assert.deepEqual(m.read(64 * gib), { limitBytes: 16 * gib, usedFraction: 15.5 / 16 });
  m.close();
});

// The fullest level's paging switched as lavarank's own cgroup filled past its slice's
// share: the slice's 5 000 faults a second, then its own 0, and without PSI a 2-CPU host
// ranked 13.0 at 79 % of the service's limit and 7.6 at 85 % (props80, 2026-12-08).
// The innermost's are the jobs' own: a sibling's (another container of a compose
// project under a limit of its own) are not, as lim79 found for the machine's.
test('the paging rates are the innermost limit\'s, whichever level is fullest, so filling lavarank\'s own cgroup never switches whose paging is read', (t) => {
  const root = tempDir(t);
  const gib = 2 ** 30;
  const stat = (faults: number, swapIn: number): string => `anon 0\ninactive_file 0\npgmajfault ${faults}\npswpin ${swapIn}\npswpout 0\n`;
  const at = (own: number, slice: number, ownFaults: number, sliceFaults: number): Record<string, string> => ({
    'proc/self/cgroup': '0::/batch.slice/lsf.service\n',
    'proc/self/mountinfo': '31 20 0:27 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n',
    'sys/fs/cgroup/batch.slice/lsf.service/memory.max': `${4 * gib}\n`,
    'sys/fs/cgroup/batch.slice/lsf.service/memory.current': `${own * 4 * gib}\n`,
    'sys/fs/cgroup/batch.slice/lsf.service/memory.stat': stat(ownFaults, ownFaults / 10),
    'sys/fs/cgroup/batch.slice/memory.max': `${16 * gib}\n`,
    'sys/fs/cgroup/batch.slice/memory.current': `${slice * 16 * gib}\n`,
    'sys/fs/cgroup/batch.slice/memory.stat': stat(sliceFaults, sliceFaults / 10),
  });
  writeTree(root, at(0.75, 0.8125, 0, 0));
  const m = createMemoryLimitReader(`${root}/proc`, `${root}/sys`);
  m.read(64 * gib, 0);
  // lavarank's own cgroup faults 100 pages a second, the slice's other services 4 900 more.
  writeTree(root, at(0.75, 0.8125, 1000, 50_000));
  assert.deepEqual(m.read(64 * gib, 10_000), { limitBytes: 16 * gib, usedFraction: 0.8125, paging: { majorFaultsPerSec: 100, swapInPerSec: 10, swapOutPerSec: 0 } });
  // lavarank's own cgroup fills past the slice's share and faults more: its limit is now the fullest.
  writeTree(root, at(0.875, 0.84375, 3000, 100_000));
  assert.deepEqual(m.read(64 * gib, 20_000), { limitBytes: 4 * gib, usedFraction: 0.875, paging: { majorFaultsPerSec: 200, swapInPerSec: 20, swapOutPerSec: 0 } });
  m.close();
});

test('the paging rates never switch whose they are as the levels\' used shares move, on v1 and v2', (t) => {
  const root = tempDir(t);
  const gib = 2 ** 30;
  const share = fc.integer({ min: 0, max: 1000 }).map((i) => i / 1000);
  const rate = fc.integer({ min: 0, max: 20_000 });
  fc.assert(
    fc.property(fc.constantFrom(1, 2), fc.array(fc.tuple(share, share, rate, rate), { minLength: 2, maxLength: 5 }), (version, reads) => {
      const dir = version === 2 ? 'sys/fs/cgroup/batch.slice' : 'sys/fs/cgroup/memory/batch.slice';
      const own = `${dir}/lsf.service`;
      const stat = (faults: number): string => (version === 2 ? `inactive_file 0\npgmajfault ${faults}\npswpin ${faults}\npswpout 0\n` : `total_inactive_file 0\ntotal_pgmajfault ${faults}\n`);
      const limit = version === 2 ? 'memory.max' : 'memory.limit_in_bytes';
      const usage = version === 2 ? 'memory.current' : 'memory.usage_in_bytes';
      writeTree(root, {
        'proc/self/cgroup': version === 2 ? '0::/batch.slice/lsf.service\n' : '4:memory:/batch.slice/lsf.service\n',
        'proc/self/mountinfo': version === 2 ? '31 20 0:27 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n' : '32 20 0:28 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n',
        [`${own}/${limit}`]: `${4 * gib}\n`,
        [`${dir}/${limit}`]: `${16 * gib}\n`,
      });
      const m = createMemoryLimitReader(`${root}/proc`, `${root}/sys`);
      try {
        let ownFaults = 0;
        let sliceFaults = 0;
        reads.forEach(([ownUsed, sliceUsed, ownRate, otherRate], i) => {
          ownFaults += 10 * ownRate;
          sliceFaults += 10 * (ownRate + otherRate); // the slice's counts hold its services'
          writeTree(root, { [`${own}/${usage}`]: `${Math.round(ownUsed * 4 * gib)}\n`, [`${own}/memory.stat`]: stat(ownFaults), [`${dir}/${usage}`]: `${Math.round(sliceUsed * 16 * gib)}\n`, [`${dir}/memory.stat`]: stat(sliceFaults) });
          const r = m.read(64 * gib, i * 10_000);
          if (i > 0) assert.equal(r?.paging?.majorFaultsPerSec, ownRate, `read ${i}: lavarank's cgroup ${ownUsed}, its slice ${sliceUsed}`);
        });
      } finally {
        m.close();
      }
    }),
    { numRuns: 100 },
  );
});

test('a memory limit no smaller than the machine\'s memory does not count, and a smaller one below it still does', (t) => {
  const root = tempDir(t);
  const gib = 2 ** 30;
  writeTree(root, {
    'proc/self/cgroup': '0::/batch.slice/lsf.service\n',
    'proc/self/mountinfo': '31 20 0:27 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n',
    'sys/fs/cgroup/batch.slice/lsf.service/memory.max': `${4 * gib}\n`,
    'sys/fs/cgroup/batch.slice/lsf.service/memory.current': `${gib}\n`,
    'sys/fs/cgroup/batch.slice/lsf.service/memory.stat': 'inactive_file 0\n',
    'sys/fs/cgroup/batch.slice/memory.max': `${64 * gib}\n`,
    'sys/fs/cgroup/batch.slice/memory.current': `${60 * gib}\n`,
    'sys/fs/cgroup/batch.slice/memory.stat': 'inactive_file 0\n',
  });
  const m = createMemoryLimitReader(`${root}/proc`, `${root}/sys`);
  assert.deepEqual(m.read(32 * gib), { limitBytes: 4 * gib, usedFraction: 0.25 });
  m.close();
});

test('without a memory limit at any level the memory limit reader gives nothing', (t) => {
  const root = tempDir(t);
  writeTree(root, { 'proc/self/cgroup': '0::/\n', 'proc/self/mountinfo': v2Mountinfo, 'sys/fs/cgroup/memory.max': 'max\n', 'sys/fs/cgroup/memory.high': 'max\n' });
  assert.equal(createMemoryLimitReader(`${root}/proc`, `${root}/sys`).read(), undefined);
});

// systemd on cgroup v2: the OpenLava service under system.slice, its files kept open as
// the daemon keeps them on procfs and the cgroup file systems, rewritten in place as the
// kernel's are (docker update, systemctl set-property).
const SERVICE = 'sys/fs/cgroup/system.slice/lsf.service';
const serviceTree = (root: string, files: Record<string, string>): void =>
  writeTree(root, { 'proc/self/cgroup': '0::/system.slice/lsf.service\n', 'proc/self/mountinfo': '31 20 0:27 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n', ...files });
const keptOpen = (): boolean => true;

test('the quota reader keeps /proc/self/cgroup and the quota files open between looks, and sees a quota set, changed and removed at the next look', (t) => {
  const root = tempDir(t);
  serviceTree(root, { [`${SERVICE}/cpu.max`]: 'max 100000\n', [`${SERVICE}/cpu.stat`]: v2CpuStat(0, 0) });
  const q = createQuotaReader(`${root}/proc`, `${root}/sys`, keptOpen);
  const look = (max: string, usage: number, ms: number): ReturnType<typeof q.read> => {
    serviceTree(root, { [`${SERVICE}/cpu.max`]: max, [`${SERVICE}/cpu.stat`]: v2CpuStat(usage, 0) });
    q.refresh();
    return q.read(ms);
  };
  assert.equal(q.read(0), undefined);
  assert.equal(look('50000 100000\n', 0, 10_000), undefined, 'set (systemctl set-property CPUQuota=50%): found, no delta yet');
  assert.deepEqual(look('50000 100000\n', 2_000_000, 20_000), { cpus: 0.5, used: 0.2, throttled: 0 });
  assert.deepEqual(look('150000 100000\n', 4_000_000, 30_000), { cpus: 1.5, used: 0.2, throttled: 0 }, 'changed (docker update --cpus 1.5)');
  assert.equal(openOn(`${root}/proc/self/cgroup`), 1);
  assert.equal(openOn(`${root}/${SERVICE}/cpu.max`), 1, 'one descriptor over four looks');
  assert.equal(look('max 100000\n', 6_000_000, 40_000), undefined, 'removed');
  q.close();
  assert.equal(openOn(`${root}/proc/self/cgroup`) + openOn(`${root}/${SERVICE}/cpu.max`) + openOn(`${root}/${SERVICE}/cpu.stat`), 0);
});

test('the memory limit reader sees a limit file that appears (the controller enabled), a limit set and one removed at the next look', (t) => {
  const root = tempDir(t);
  const gib = 2 ** 30;
  serviceTree(root, { [`${SERVICE}/memory.current`]: `${gib}\n`, [`${SERVICE}/memory.stat`]: 'inactive_file 0\n' });
  const m = createMemoryLimitReader(`${root}/proc`, `${root}/sys`, keptOpen);
  const look = (): ReturnType<typeof m.read> => {
    for (let i = 1; i < LIMITS_CHECK_EVERY; i++) m.read();
    return m.read();
  };
  assert.equal(m.read(), undefined, 'no memory.max: the memory controller is not enabled');
  serviceTree(root, { [`${SERVICE}/memory.max`]: 'max\n', [`${SERVICE}/memory.high`]: 'max\n' });
  assert.equal(look(), undefined, 'enabled, no limit');
  assert.equal(openOn(`${root}/${SERVICE}/memory.max`), 1);
  serviceTree(root, { [`${SERVICE}/memory.max`]: `${4 * gib}\n` });
  assert.deepEqual(look(), { limitBytes: 4 * gib, usedFraction: 0.25 }, 'set (MemoryMax=4G)');
  serviceTree(root, { [`${SERVICE}/memory.max`]: 'max\n' });
  assert.equal(look(), undefined, 'removed');
  assert.equal(openOn(`${root}/${SERVICE}/memory.max`), 1, 'one descriptor over three looks');
  m.close();
  assert.equal(openOn(`${root}/${SERVICE}/memory.max`) + openOn(`${root}/proc/self/cgroup`), 0);
});

test('lavarank moved to another cgroup (/proc/self/cgroup rewritten) is seen at the next look, and the old cgroup\'s files are closed', (t) => {
  const root = tempDir(t);
  const other = 'sys/fs/cgroup/batch.slice/lsf.service';
  serviceTree(root, {
    [`${SERVICE}/cpu.max`]: '50000 100000\n',
    [`${SERVICE}/cpu.stat`]: v2CpuStat(0, 0),
    [`${other}/cpu.max`]: '300000 100000\n',
    [`${other}/cpu.stat`]: v2CpuStat(0, 0),
  });
  const q = createQuotaReader(`${root}/proc`, `${root}/sys`, keptOpen);
  q.read(0);
  assert.deepEqual(q.read(10_000), { cpus: 0.5, used: 0, throttled: 0 });
  writeTree(root, { 'proc/self/cgroup': '0::/batch.slice/lsf.service\n' });
  q.refresh();
  q.read(20_000);
  writeTree(root, { [`${other}/cpu.stat`]: v2CpuStat(10_000_000, 0) });
  assert.deepEqual(q.read(30_000), { cpus: 3, used: 1, throttled: 0 });
  assert.equal(openOn(`${root}/${SERVICE}/cpu.max`) + openOn(`${root}/${SERVICE}/cpu.stat`), 0);
  assert.equal(openOn(`${root}/${other}/cpu.max`), 1);
  q.close();
});

test('a quota file kept open whose cgroup the kernel removes (ENODEV) is found absent at the next look, without failing it', (t) => {
  // A real cgroup v1 cpu hierarchy (this VM's), as root; elsewhere there is nothing to remove.
  const hierarchy = '/sys/fs/cgroup/cpu';
  const dir = join(hierarchy, `lavarank-test-${process.pid}`);
  try {
    mkdirSync(dir);
  } catch (err) {
    t.skip(`no v1 cpu hierarchy to make a cgroup in (${errorCode(err) ?? String(err)})`);
    return;
  }
  t.after(() => {
    try {
      rmdirSync(dir);
    } catch (err) {
      if (errorCode(err) !== 'ENOENT') throw err; // removed by the test
    }
  });
  const root = tempDir(t);
  writeTree(root, { 'proc/self/cgroup': `1:cpu:/${basename(dir)}\n0::/\n`, 'proc/self/mountinfo': `31 30 0:28 / ${hierarchy} rw,relatime - cgroup cgroup rw,cpu\n` });
  const q = createQuotaReader(`${root}/proc`, '/sys');
  assert.equal(q.read(0), undefined);
  assert.equal(openOn(join(dir, 'cpu.cfs_quota_us')), 1, 'kept open on the cgroup file system');
  rmdirSync(dir);
  assert.doesNotThrow(() => q.refresh());
  assert.equal(q.read(10_000), undefined);
  q.close();
});

test('the memory limit reader gives the paging of the fullest limit\'s cgroup and its descendants, v1\'s major faults and v2\'s swap counts too', (t) => {
  const root = tempDir(t);
  const v1Stat = (faults: number): string => `rss 536870912\npgmajfault 7\ntotal_inactive_file 0\ntotal_pgmajfault ${faults}\n`;
  writeTree(root, {
    'proc/self/cgroup': hybridCgroup,
    'proc/self/mountinfo': hybridMounts,
    'sys/fs/cgroup/memory/memory.limit_in_bytes': '9223372036854771712\n',
    'sys/fs/cgroup/memory/lrq/memory.limit_in_bytes': '1073741824\n',
    'sys/fs/cgroup/memory/lrq/memory.usage_in_bytes': '536870912\n',
    'sys/fs/cgroup/memory/lrq/memory.stat': v1Stat(100),
  });
  const v1 = createMemoryLimitReader(`${root}/proc`, `${root}/sys`);
  assert.deepEqual(v1.read(Infinity, 0), { limitBytes: 1073741824, usedFraction: 0.5 }); // no rate at the first report
  writeTree(root, { 'sys/fs/cgroup/memory/lrq/memory.stat': v1Stat(5100) });
  assert.deepEqual(v1.read(Infinity, 10_000), { limitBytes: 1073741824, usedFraction: 0.5, paging: { majorFaultsPerSec: 500 } });
  writeTree(root, { 'sys/fs/cgroup/memory/lrq/memory.stat': v1Stat(10) }); // the cgroup made again: no rate
  assert.deepEqual(v1.read(Infinity, 20_000), { limitBytes: 1073741824, usedFraction: 0.5 });
  v1.close();

  const gib = 2 ** 30;
  const v2Stat = (faults: number, swapIn: number, swapOut: number): string =>
    `anon ${gib}\ninactive_file 0\npgfault 99999\npgmajfault ${faults}\npswpin ${swapIn}\npswpout ${swapOut}\n`;
  writeTree(root, {
    'proc/self/cgroup': '0::/\n',
    'proc/self/mountinfo': v2Mountinfo,
    'sys/fs/cgroup/memory.max': `${2 * gib}\n`,
    'sys/fs/cgroup/memory.current': `${gib}\n`,
    'sys/fs/cgroup/memory.stat': v2Stat(10, 20, 30),
  });
  const v2 = createMemoryLimitReader(`${root}/proc`, `${root}/sys`);
  v2.read(Infinity, 0);
  writeTree(root, { 'sys/fs/cgroup/memory.stat': v2Stat(1010, 2020, 30) });
  assert.deepEqual(v2.read(Infinity, 5_000), { limitBytes: 2 * gib, usedFraction: 0.5, paging: { majorFaultsPerSec: 200, swapInPerSec: 400, swapOutPerSec: 0 } });
  v2.close();
});

// A v2 host whose root cgroup has one memory limit of 2 GiB, half used, whose memory.stat
// counts `faults` major faults; faultsStat gives that memory.stat alone.
const faultsStat = (faults: number): string => `anon ${2 ** 30}\ninactive_file 0\npgmajfault ${faults}\n`;
const halfUsedV2Limit = (faults: number): Record<string, string> => ({
  'proc/self/cgroup': '0::/\n',
  'proc/self/mountinfo': v2Mountinfo,
  'sys/fs/cgroup/memory.max': `${2 * 2 ** 30}\n`,
  'sys/fs/cgroup/memory.current': `${2 ** 30}\n`,
  'sys/fs/cgroup/memory.stat': faultsStat(faults),
});

// review80: a mutant that kept the first report's counts for every later rate survived.
test('the memory limit reader gives each report the paging since the report before, not since its first', (t) => {
  const root = tempDir(t);
  writeTree(root, halfUsedV2Limit(0));
  const r = createMemoryLimitReader(`${root}/proc`, `${root}/sys`);
  r.read(Infinity, 0);
  writeTree(root, { 'sys/fs/cgroup/memory.stat': faultsStat(10_000) });
  assert.deepEqual(r.read(Infinity, 10_000)?.paging, { majorFaultsPerSec: 1000 });
  writeTree(root, { 'sys/fs/cgroup/memory.stat': faultsStat(10_010) }); // the burst is over
  assert.deepEqual(r.read(Infinity, 20_000)?.paging, { majorFaultsPerSec: 1 });
  r.close();
});

// review80: a limit not below MemTotal is skipped, and its counts were kept from before:
// lowered again (docker update) an hour later, its first rate was that hour's average.
test('the memory limit reader gives no paging rate for a limit at the first report it counts again, rather than the average since it last counted', (t) => {
  const root = tempDir(t);
  const gib = 2 ** 30;
  writeTree(root, halfUsedV2Limit(0));
  const r = createMemoryLimitReader(`${root}/proc`, `${root}/sys`);
  r.read(Infinity, 0);
  assert.equal(r.read(gib, 10_000), undefined); // MemTotal below the limit: it does not count
  writeTree(root, { 'sys/fs/cgroup/memory.stat': faultsStat(3_600_000) });
  assert.deepEqual(r.read(Infinity, 3_600_000), { limitBytes: 2 * gib, usedFraction: 0.5 });
  writeTree(root, { 'sys/fs/cgroup/memory.stat': faultsStat(3_700_000) });
  assert.deepEqual(r.read(Infinity, 3_610_000)?.paging, { majorFaultsPerSec: 10_000 });
  r.close();
});

// A PSI file whose "some" line has this avg10 (percent) and total (µs).
const psiText = (avg10: number, total: number): string => `some avg10=${avg10.toFixed(2)} avg60=0.00 avg300=0.00 total=${total}\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=0\n`;

// A hybrid host (v1 controllers, v2's unified hierarchy) where lavarank's cgroup lrq has a
// v1 memory limit of 96 MiB, half used, and no major fault.
const halfUsedHybridLimit: Record<string, string> = {
  'proc/self/cgroup': hybridCgroup.replace('0::/', '0::/lrq'),
  'proc/self/mountinfo': hybridMounts,
  'sys/fs/cgroup/memory/memory.limit_in_bytes': '9223372036854771712\n',
  'sys/fs/cgroup/memory/lrq/memory.limit_in_bytes': `${96 * 2 ** 20}\n`,
  'sys/fs/cgroup/memory/lrq/memory.usage_in_bytes': `${48 * 2 ** 20}\n`,
  'sys/fs/cgroup/memory/lrq/memory.stat': 'total_inactive_file 0\ntotal_pgmajfault 0\n',
};

test('under a memory limit on a hybrid host, the reader gives the limited cgroup\'s own memory.pressure from the unified cgroup of the same path: avg10 first, then the interval\'s share', (t) => {
  const root = tempDir(t);
  const unified = 'sys/fs/cgroup/unified/lrq/memory.pressure';
  writeTree(root, {
    ...halfUsedHybridLimit,
    'sys/fs/cgroup/unified/memory.pressure': psiText(4, 1_000_000),
    [unified]: psiText(6.45, 1_046_554),
  });
  const m = createMemoryLimitReader(`${root}/proc`, `${root}/sys`); // opened at each read: a file removed from a fake tree is gone
  assert.equal(m.read(Infinity, 0)?.pressureSome, 0.0645);
  writeTree(root, { [unified]: psiText(7.21, 1_746_554) });
  assert.equal(m.read(Infinity, 10_000)?.pressureSome, 0.07, '0.7 s of 10 stalled');
  rmSync(`${root}/${unified}`); // the unified cgroup removed (ENOENT here, ENODEV through a kept descriptor on cgroupfs)
  assert.deepEqual(m.read(Infinity, 20_000), { limitBytes: 96 * 2 ** 20, usedFraction: 0.5, paging: { majorFaultsPerSec: 0 } }, 'gone: the limit is still read, without a pressure');
  writeTree(root, { [unified]: psiText(1, 50) });
  for (let i = 3; i < LIMITS_CHECK_EVERY; i++) m.read(Infinity, i * 10_000);
  assert.equal(m.read(Infinity, 60_000)?.pressureSome, 0.01, 'back at the next look');
  m.close();
  assert.equal(openOn(`${root}/${unified}`), 0);
});

// A limit skipped for a while (not below MemTotal) forgets its stall total as it forgets
// its paging counts (review80): counted again an hour later, its first share is its
// avg10, not the hour's average.
test('a memory limit counted again after reports it was skipped gives its cgroup\'s avg10 first, not the stall share averaged since it last counted', (t) => {
  const root = tempDir(t);
  const unified = 'sys/fs/cgroup/unified/lrq/memory.pressure';
  writeTree(root, {
    ...halfUsedHybridLimit,
    [unified]: psiText(6.45, 1_046_554),
  });
  const m = createMemoryLimitReader(`${root}/proc`, `${root}/sys`);
  assert.equal(m.read(Infinity, 0)?.pressureSome, 0.0645);
  assert.equal(m.read(2 ** 20, 10_000), undefined, 'MemTotal below the limit: it does not count');
  writeTree(root, { [unified]: psiText(7.21, 1_046_554 + 1_800_000_000) }); // half of the hour stalled
  assert.equal(m.read(Infinity, 3_600_000)?.pressureSome, 0.0721);
  writeTree(root, { [unified]: psiText(7.3, 1_046_554 + 1_800_700_000) });
  assert.equal(m.read(Infinity, 3_610_000)?.pressureSome, 0.07, '0.7 s of 10 stalled');
  m.close();
});

test('a memory limit reads no pressure where lavarank\'s unified cgroup is the hierarchy\'s root, whose files are the machine\'s, and v2\'s at the limit\'s own level', (t) => {
  const root = tempDir(t);
  writeTree(root, {
    'proc/self/cgroup': hybridCgroup,
    'proc/self/mountinfo': hybridMounts,
    'sys/fs/cgroup/memory/memory.limit_in_bytes': '9223372036854771712\n',
    'sys/fs/cgroup/memory/lrq/memory.limit_in_bytes': `${2 ** 30}\n`,
    'sys/fs/cgroup/memory/lrq/memory.usage_in_bytes': '0\n',
    'sys/fs/cgroup/memory/lrq/memory.stat': 'total_inactive_file 0\n',
    'sys/fs/cgroup/unified/memory.pressure': psiText(50, 1),
  });
  const m = createMemoryLimitReader(`${root}/proc`, `${root}/sys`);
  assert.deepEqual(m.read(Infinity, 0), { limitBytes: 2 ** 30, usedFraction: 0 });
  m.close();
  serviceTree(root, { [`${SERVICE}/memory.max`]: `${2 ** 30}\n`, [`${SERVICE}/memory.current`]: '0\n', [`${SERVICE}/memory.stat`]: 'inactive_file 0\n', [`${SERVICE}/memory.pressure`]: psiText(12.5, 9) });
  const v2 = createMemoryLimitReader(`${root}/proc`, `${root}/sys`);
  assert.equal(v2.read(Infinity, 0)?.pressureSome, 0.125);
  v2.close();
});

test('a memory.pressure kept open whose unified cgroup the kernel removes (ENODEV) is left out, and the memory limit still read', (t) => {
  // A real unified hierarchy (this VM's hybrid one, or a v2 host's), as root; elsewhere nothing to remove.
  const unified = ['/sys/fs/cgroup/unified', '/sys/fs/cgroup'].find((d) => existsSync(join(d, 'cgroup.subtree_control')));
  const name = `lavarank-test-${process.pid}`;
  const dir = unified === undefined ? undefined : join(unified, name);
  try {
    if (dir === undefined) throw new Error('no unified hierarchy');
    mkdirSync(dir);
  } catch (err) {
    t.skip(`no unified hierarchy to make a cgroup in (${errorCode(err) ?? String(err)})`);
    return;
  }
  t.after(() => {
    try {
      rmdirSync(dir);
    } catch (err) {
      if (errorCode(err) !== 'ENOENT') throw err; // removed by the test
    }
  });
  if (!existsSync(join(dir, 'memory.pressure'))) {
    t.skip('no memory.pressure in a cgroup here (PSI off for cgroups)');
    return;
  }
  const root = tempDir(t);
  // The memory hierarchy a fake one (the limit), the unified one real.
  writeTree(root, {
    'proc/self/cgroup': `4:memory:/${name}\n0::/${name}\n`,
    'proc/self/mountinfo': `34 30 0:31 / ${root}/memory rw,relatime - cgroup cgroup rw,memory\n40 30 0:37 / ${unified} rw,relatime - cgroup2 cgroup2 rw\n`,
    [`memory/${name}/memory.limit_in_bytes`]: `${2 ** 30}\n`,
    [`memory/${name}/memory.usage_in_bytes`]: '0\n',
    [`memory/${name}/memory.stat`]: 'total_inactive_file 0\n',
  });
  const m = createMemoryLimitReader(`${root}/proc`, '/sys');
  assert.equal(m.read(Infinity, 0)?.pressureSome, 0, 'an empty cgroup');
  assert.equal(openOn(join(dir, 'memory.pressure')), 1, 'kept open on the cgroup file system');
  rmdirSync(dir);
  assert.deepEqual(m.read(Infinity, 10_000), { limitBytes: 2 ** 30, usedFraction: 0 });
  m.close();
});

test('on a host booted with cgroup v1 alone (a "0::" line, no unified mount), the memory limit\'s look reads no mount line past the cgroup file systems', (t) => {
  const root = tempDir(t);
  // After the cgroup mounts, another file system's, then a line that would fail the look if read.
  const v1Only = '34 30 0:31 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory\n60 26 0:50 / /home rw,relatime - ext4 /dev/vdb rw\n61 26 0:51 - cgroup x\n';
  writeTree(root, {
    'proc/self/cgroup': '4:memory:/lrq\n0::/\n',
    'proc/self/mountinfo': v1Only,
    'sys/fs/cgroup/memory/lrq/memory.limit_in_bytes': `${2 ** 30}\n`,
    'sys/fs/cgroup/memory/lrq/memory.usage_in_bytes': '0\n',
    'sys/fs/cgroup/memory/lrq/memory.stat': 'total_inactive_file 0\n',
  });
  const m = createMemoryLimitReader(`${root}/proc`, `${root}/sys`);
  assert.deepEqual(m.read(Infinity, 0), { limitBytes: 2 ** 30, usedFraction: 0 });
  m.close();
});
