import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { test } from 'node:test';
import { createMemoryCollector, memoryFractions, parseMeminfo, parseVmstat } from '../../src/collectors/memory.js';
import { CollectorError } from '../../src/util/errors.js';
import { CAPTURED_PROC, fakeHost, fixtureText, scannedMeminfo, scannedVmstat, tempDir, writeTree } from './helpers.js';

function meminfo(fields: Record<string, number>): string {
  return Object.entries(fields)
    .map(([k, v]) => `${k}:${' '.repeat(8)}${v} kB`)
    .join('\n');
}

test('parseMeminfo reads a real /proc/meminfo in bytes', () => {
  const text = fixtureText('proc-idle', 't0/proc/meminfo');
  const kb = Number(/MemTotal:\s+(\d+) kB/.exec(text)?.[1]);
  const m = parseMeminfo(text);
  assert.equal(m.totalBytes, kb * 1024);
  assert.ok(m.availableBytes !== undefined && m.availableBytes < m.totalBytes);
});

test('parseMeminfo names the file and line of a garbled line', () => {
  assert.throws(
    () => parseMeminfo('MemTotal: 100 kB\nMemFree 50 kB\n', '/proc/meminfo'),
    (err: unknown) => err instanceof CollectorError && /\/proc\/meminfo line 2/.test(err.message),
  );
});

test('parseMeminfo refuses a line without a name, with a word for its value, or with more after its unit', () => {
  for (const line of [': 50 kB', 'MemFree: lots kB', 'MemFree: 50 kB extra']) {
    assert.throws(() => parseMeminfo(`MemTotal: 100 kB\n${line}\n`), /line 2: .*expected "Name: value \[kB\]"/, line);
  }
});

test('parseMeminfo requires MemTotal', () => {
  assert.throws(() => parseMeminfo('MemFree: 50 kB\n'), /no positive MemTotal/);
});

test('parseVmstat picks the swap and major fault counters of a real /proc/vmstat', () => {
  const v = parseVmstat(fixtureText('proc-idle', 't0/proc/vmstat'));
  assert.equal(typeof v.pswpin, 'number');
  assert.equal(typeof v.pswpout, 'number');
  assert.ok((v.pgmajfault ?? 0) > 0);
});

test('parseVmstat rejects a line that is not a name and a number', () => {
  assert.throws(() => parseVmstat('pgmajfault 1\npswpin\n'), /line 2/);
});

test('the collector sees the memory held during the capture as used', (t) => {
  const host = fakeHost(t);
  host.load('proc-memory', 't0');
  const held = createMemoryCollector(host).collect(0);
  host.load('proc-idle', 't0');
  const idle = createMemoryCollector(host).collect(0);
  assert.ok(held.usedFraction > 0.9, `used ${held.usedFraction}`);
  assert.ok(idle.usedFraction < 0.2, `used ${idle.usedFraction}`);
});

test('without MemAvailable or Shmem, available memory is MemFree + Buffers + Cached', () => {
  const m = parseMeminfo(meminfo({ MemTotal: 1000, MemFree: 100, Buffers: 50, Cached: 250, SwapTotal: 0, SwapFree: 0 }));
  assert.equal(memoryFractions(m).usedFraction, 0.6);
});

test('without MemAvailable, memory held in tmpfs or shared memory (Shmem, which Cached includes) is not counted as available', (t) => {
  // A RHEL 6.5 node (2.6.32, before the MemAvailable backport), 64 GiB, its tmpfs and
  // /dev/shm holding 58 GiB: the estimate took the whole page cache as free.
  const root = tempDir(t);
  const gib = 1024 * 1024;
  writeTree(root, {
    meminfo: meminfo({ MemTotal: 64 * gib, MemFree: 2 * gib, Buffers: 0.25 * gib, Cached: 60 * gib, SwapCached: 0, Shmem: 58 * gib, SwapTotal: 0, SwapFree: 0 }),
    vmstat: 'pswpin 0\npswpout 0\npgmajfault 0\n',
  });
  const reading = createMemoryCollector({ procRoot: root }).collect(0);
  assert.equal(reading.availableBytes, 4.25 * gib * 1024);
});

test('swap used is a fraction of swap total, and 0 without swap', () => {
  const withSwap = parseMeminfo(meminfo({ MemTotal: 1000, MemAvailable: 500, SwapTotal: 400, SwapFree: 300 }));
  const without = parseMeminfo(meminfo({ MemTotal: 1000, MemAvailable: 500, SwapTotal: 0, SwapFree: 0 }));
  assert.equal(memoryFractions(withSwap).swapUsedFraction, 0.25);
  assert.equal(memoryFractions(without).swapUsedFraction, 0);
});

test('fractions stay within 0..1 where the kernel says more is available or free than there is', () => {
  const m = parseMeminfo(meminfo({ MemTotal: 1000, MemAvailable: 1200, SwapTotal: 400, SwapFree: 500 }));
  assert.equal(memoryFractions(m).usedFraction, 0);
  assert.equal(memoryFractions(m).swapUsedFraction, 0);
});

test('without MemAvailable, Shmem above Cached (shared memory swapped out) takes nothing from MemFree and Buffers', () => {
  const m = parseMeminfo(meminfo({ MemTotal: 1000, MemFree: 100, Buffers: 50, Cached: 250, Shmem: 400, SwapTotal: 0, SwapFree: 0 }));
  assert.equal(memoryFractions(m).usedFraction, 0.85);
});

test('the first reading has fractions but no rates; the second has rates per second', (t) => {
  const root = tempDir(t);
  const c = createMemoryCollector({ procRoot: root });
  const mem = meminfo({ MemTotal: 1000, MemAvailable: 500 });
  writeTree(root, { meminfo: mem, vmstat: 'pswpin 10\npswpout 20\npgmajfault 30\n' });
  const first = c.collect(0);
  assert.equal(first.usedFraction, 0.5);
  assert.equal(first.majorFaultsPerSec, undefined);
  writeTree(root, { vmstat: 'pswpin 30\npswpout 20\npgmajfault 130\n' });
  const second = c.collect(10_000);
  assert.equal(second.swapInPerSec, 2);
  assert.equal(second.swapOutPerSec, 0);
  assert.equal(second.majorFaultsPerSec, 10);
});

test('a vmstat counter that went backwards leaves only that rate out', (t) => {
  const root = tempDir(t);
  const c = createMemoryCollector({ procRoot: root });
  writeTree(root, { meminfo: meminfo({ MemTotal: 1000, MemAvailable: 500 }), vmstat: 'pswpin 10\npswpout 20\npgmajfault 30\n' });
  c.collect(0);
  writeTree(root, { vmstat: 'pswpin 10\npswpout 20\npgmajfault 5\n' });
  const r = c.collect(10_000);
  assert.equal(r.majorFaultsPerSec, undefined);
  assert.equal(r.swapInPerSec, 0);
});

test('parseMeminfo refuses a MemTotal of 0, which would make the used fraction NaN', () => {
  assert.throws(() => parseMeminfo('MemTotal: 0 kB\nMemAvailable: 0 kB\n'), /no positive MemTotal/);
});

test('the collector fails on a MemTotal of 0 rather than giving a NaN used fraction', (t) => {
  const root = tempDir(t);
  // In the kernel's layout, final newline included, so that the hot path (scanMeminfo) reads it.
  const c = createMemoryCollector({ procRoot: root });
  writeTree(root, { meminfo: `${meminfo({ MemTotal: 0, MemFree: 0, MemAvailable: 0, Buffers: 0, Cached: 0, SwapTotal: 0, SwapFree: 0 })}\n`, vmstat: 'pswpin 1\npswpout 2\npgmajfault 3\n' });
  assert.throws(() => c.collect(0), (err: unknown) => err instanceof CollectorError && /no positive MemTotal/.test(err.message));
});

test('parseMeminfo refuses a unit other than kB, which it would otherwise read as bytes', () => {
  assert.throws(() => parseMeminfo('MemTotal: 16 GB\n'), /expected "Name: value \[kB\]"/);
});

test('parseMeminfo takes only plain decimals, so kB to bytes cannot overflow to Infinity', () => {
  assert.throws(() => parseMeminfo('MemTotal: 1e306 kB\nMemAvailable: 1e306 kB\n'), CollectorError);
  assert.throws(() => parseMeminfo('MemTotal: 0x1000 kB\n'), CollectorError);
});

test('scanMeminfo and scanVmstat read every captured file as the parsers do', () => {
  for (const f of CAPTURED_PROC) {
    for (const t of ['t0', 't1']) {
      const meminfo = fixtureText(f, `${t}/proc/meminfo`);
      const vmstat = fixtureText(f, `${t}/proc/vmstat`);
      assert.deepEqual(scannedMeminfo(meminfo), parseMeminfo(meminfo), `${f}/${t}`);
      assert.deepEqual(scannedVmstat(Buffer.from(vmstat, 'latin1')), parseVmstat(vmstat), `${f}/${t}`);
    }
  }
});

test('scanMeminfo leaves to parseMeminfo a kernel without MemAvailable and lines not as the kernel prints them', () => {
  const meminfo = fixtureText('proc-idle', 't0/proc/meminfo');
  assert.equal(scannedMeminfo(meminfo.replace(/^MemAvailable:.*\n/m, '')), undefined);
  assert.equal(scannedMeminfo(meminfo.replace(/^(MemFree:\s+\d+) kB/m, '$1')), undefined);
  assert.equal(scannedMeminfo(meminfo.replace(/^(Cached:\s+)\d+/m, '$10x10')), undefined);
});

test('scanVmstat leaves to parseVmstat a file without one of its counters, or with one not a count', () => {
  assert.deepEqual(scannedVmstat(Buffer.from('pswpin 1\npswpout 2\npgmajfault 3')), { pswpin: 1, pswpout: 2, pgmajfault: 3 });
  assert.equal(scannedVmstat(Buffer.from('pswpin 1\npgmajfault 3\n')), undefined);
  assert.equal(scannedVmstat(Buffer.from('pswpin 1\npswpout -2\npgmajfault 3\n')), undefined);
  assert.equal(scannedVmstat(Buffer.from('')), undefined);
});

test('a garbled line the collector reads, after good ticks, is a CollectorError naming the file and line', (t) => {
  const host = fakeHost(t);
  host.load('proc-idle', 't0');
  const c = createMemoryCollector(host);
  c.collect(0);
  const vmstat = `${host.procRoot}/vmstat`;
  writeFileSync(vmstat, fixtureText('proc-idle', 't1/proc/vmstat').replace(/^pgmajfault \d+/m, 'pgmajfault 12x'));
  assert.throws(() => c.collect(3000), (err: unknown) => err instanceof CollectorError && new RegExp(`${vmstat} line \\d+: expected "name value": "pgmajfault 12x"`).test(err.message));
});

test('in a cgroup with a memory limit the paging rates are the cgroup\'s, not the machine\'s, whose swapping may be another cgroup\'s', (t) => {
  // The real cluster's hosts ol1-ol3 (2026-12-07, lim79): one kernel, each host's LIM, elim
  // and jobs in a v1 memory cgroup of 1 GiB; ol2's swapping read as ol1's and ol3's own.
  const root = tempDir(t);
  const stat = (faults: number): string => `total_inactive_file 0\ntotal_pgmajfault ${faults}\n`;
  writeTree(root, {
    'proc/meminfo': meminfo({ MemTotal: 16 * 1024 * 1024, MemAvailable: 12 * 1024 * 1024 }),
    'proc/vmstat': 'pswpin 1000\npswpout 2000\npgmajfault 3000\n',
    'proc/self/cgroup': fixtureText('cgroup', 'v1-hybrid', 'cgroup'),
    'proc/self/mountinfo': fixtureText('cgroup', 'v1-hybrid', 'mountinfo'),
    'sys/fs/cgroup/memory/memory.limit_in_bytes': '9223372036854771712\n',
    'sys/fs/cgroup/memory/lrq/memory.limit_in_bytes': '1073741824\n',
    'sys/fs/cgroup/memory/lrq/memory.usage_in_bytes': '134217728\n',
    'sys/fs/cgroup/memory/lrq/memory.stat': stat(50),
  });
  const c = createMemoryCollector({ procRoot: `${root}/proc`, sysRoot: `${root}/sys` });
  c.collect(0);
  // Another cgroup swaps 2 500 pages a second in and out; this one faults 1 page a second.
  writeTree(root, { 'proc/vmstat': 'pswpin 26000\npswpout 27000\npgmajfault 28000\n', 'sys/fs/cgroup/memory/lrq/memory.stat': stat(60) });
  const r = c.collect(10_000);
  assert.equal(r.cgroupUsedFraction, 0.125);
  assert.equal(r.majorFaultsPerSec, 1);
  assert.equal(r.swapInPerSec, undefined); // v1 counts no swapping per cgroup
  assert.equal(r.swapOutPerSec, undefined);
  // review80: the cgroup made again (its counter went back) has no rate for a report; the
  // machine's, another cgroup's paging, does not stand in for it.
  writeTree(root, { 'proc/vmstat': 'pswpin 51000\npswpout 52000\npgmajfault 53000\n', 'sys/fs/cgroup/memory/lrq/memory.stat': stat(5) });
  assert.equal(c.collect(20_000).majorFaultsPerSec, undefined);
  c.close?.();
});
