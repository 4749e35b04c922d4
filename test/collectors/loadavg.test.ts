import assert from 'node:assert/strict';
import { test } from 'node:test';
import { countCores } from '../../src/collectors/cpulist.js';
import { createLoadCollector, parseLoadavg } from '../../src/collectors/loadavg.js';
import { CollectorError } from '../../src/util/errors.js';
import { CAPTURED_PROC, fakeHost, fixtureText, scannedLoadavg, tempDir, writeTree } from './helpers.js';

test('parseLoadavg reads a real /proc/loadavg', () => {
  const text = fixtureText('proc-cpu', 't1/proc/loadavg');
  const l = parseLoadavg(text);
  assert.equal(String(l.load1), text.split(' ')[0]);
  assert.ok(l.running >= 3, 'two hogs and the reader were running');
  assert.ok(l.tasks > l.running);
});

test('parseLoadavg reads the loads of 0.00 an idle host shows as 0, not as garbage', () => {
  const r = parseLoadavg('0.00 0.00 0.00 1/95 4242\n');
  assert.deepEqual([r.load1, r.load5, r.load15, r.running, r.tasks], [0, 0, 0, 1, 95]);
});

test('parseLoadavg names the file and line of a garbled line', () => {
  assert.throws(
    () => parseLoadavg('0.15 0.16 0.06 2-85 3851\n', '/proc/loadavg'),
    (err: unknown) => err instanceof CollectorError && /\/proc\/loadavg line 1/.test(err.message),
  );
});

test('parseLoadavg rejects a running/total field with more than one slash, naming the file and line', () => {
  assert.throws(
    () => parseLoadavg('0.15 0.16 0.06 2/85/9 3851\n', '/proc/loadavg'),
    (err: unknown) => err instanceof CollectorError && /\/proc\/loadavg line 1/.test(err.message) && /running\/total/.test(err.message),
  );
});

test('parseLoadavg rejects a negative load or count, which would read as a host less than idle', () => {
  for (const text of ['-0.50 0.16 0.06 2/85 3851\n', '0.15 0.16 0.06 -2/85 3851\n']) {
    assert.throws(() => parseLoadavg(text, '/proc/loadavg'), (err: unknown) => err instanceof CollectorError && /running\/total/.test(err.message), text);
  }
});

test('parseLoadavg rejects a line cut short', () => {
  assert.throws(() => parseLoadavg('0.15 0.16'), /expected 5 fields, found 2/);
});

test('the reading process is not counted as a runnable task', (t) => {
  const root = tempDir(t);
  writeTree(root, { 'proc/loadavg': '3.00 1.00 0.50 5/85 100\n', 'sys/devices/system/cpu/online': '0-3\n' });
  const r = createLoadCollector({ procRoot: `${root}/proc`, sysRoot: `${root}/sys` }).collect(0);
  assert.deepEqual(r, { load1: 3, load1PerCpu: 0.75, runnable: 4, runnablePerCpu: 1, online: 4, cores: undefined });
});

test('a runnable count of 0 does not go below 0', (t) => {
  const root = tempDir(t);
  writeTree(root, { 'proc/loadavg': '0.00 0.00 0.00 0/85 100\n', 'sys/devices/system/cpu/online': '0\n' });
  assert.equal(createLoadCollector({ procRoot: `${root}/proc`, sysRoot: `${root}/sys` }).collect(0).runnable, 0);
});

test('without sysfs the online CPUs are counted from /proc/stat', (t) => {
  const root = tempDir(t);
  writeTree(root, {
    'proc/loadavg': '1.00 1.00 1.00 1/85 100\n',
    'proc/stat': 'cpu 1 1 1 1\ncpu0 1 1 1 1\ncpu1 1 1 1 1\ncpu2 1 1 1 1\n',
  });
  assert.equal(createLoadCollector({ procRoot: `${root}/proc`, sysRoot: `${root}/sys` }).collect(0).online, 3);
});

test('the collector reads the captured host under CPU hogs', (t) => {
  const host = fakeHost(t);
  host.load('proc-cpu', 't1');
  const r = createLoadCollector(host).collect(0);
  assert.equal(r.online, 2);
  assert.ok(r.runnablePerCpu >= 1, `runnablePerCpu ${r.runnablePerCpu}`);
});

test('scanLoadavg reads every captured /proc/loadavg as parseLoadavg does, and leaves other text to it', () => {
  for (const f of CAPTURED_PROC) {
    const text = fixtureText(f, 't1/proc/loadavg');
    const parsed = parseLoadavg(text);
    assert.deepEqual(scannedLoadavg(text), { load1: parsed.load1, running: parsed.running }, f);
  }
  assert.equal(scannedLoadavg('0.15 0.16 0.06 2-85 3851\n'), undefined);
  assert.equal(scannedLoadavg('0.15 0.16 0.06 2/85 3851 9\n'), undefined);
  assert.equal(scannedLoadavg('1e3 0.16 0.06 2/85 3851\n'), undefined);
});

test('a CPU coming online changes the count at once, without sysfs too', (t) => {
  const root = tempDir(t);
  const stat = (n: number): string => ['cpu  1 1 1 1 0 0 0 0 0 0', ...Array.from({ length: n }, (_, i) => `cpu${i} 1 1 1 1 0 0 0 0 0 0`), 'intr 0', ''].join('\n');
  writeTree(root, { 'proc/loadavg': '1.00 1.00 1.00 1/85 100\n', 'sys/devices/system/cpu/online': '0-1\n', 'proc/stat': stat(2) });
  const withSys = createLoadCollector({ procRoot: `${root}/proc`, sysRoot: `${root}/sys` });
  const withoutSys = createLoadCollector({ procRoot: `${root}/proc`, sysRoot: `${root}/none` });
  assert.deepEqual([withSys.collect(0).online, withoutSys.collect(0).online], [2, 2]);
  writeTree(root, { 'sys/devices/system/cpu/online': '0-2\n', 'proc/stat': stat(3) });
  assert.deepEqual([withSys.collect(10_000).online, withoutSys.collect(10_000).online], [3, 3]);
});

// The topology files of CPUs 0..n-1 on a host whose core k holds CPUs k, k + cores, ...
// (x86's numbering: "0,64" for CPU 0 of a 128-thread host), in the kernel's list format.
function topology(cpus: number, cores: number, file = 'core_cpus_list'): Record<string, string> {
  const files: Record<string, string> = {};
  for (let cpu = 0; cpu < cpus; cpu++) {
    const core = cpu % cores;
    const threads = Array.from({ length: cpus / cores }, (_, k) => core + k * cores);
    files[`sys/devices/system/cpu/cpu${cpu}/topology/${file}`] = `${threads.join(',')}\n`;
  }
  return files;
}

test('counts the cores of an SMT host from sysfs topology: 128 threads on 64 cores, and thread_siblings_list on older kernels', (t) => {
  const root = tempDir(t);
  writeTree(root, { 'proc/loadavg': '1.00 1.00 1.00 1/85 100\n', 'sys/devices/system/cpu/online': '0-127\n', ...topology(128, 64) });
  const r = createLoadCollector({ procRoot: `${root}/proc`, sysRoot: `${root}/sys` }).collect(0);
  assert.deepEqual([r.online, r.cores], [128, 64]);
  const old = tempDir(t);
  writeTree(old, { 'proc/loadavg': '1.00 1.00 1.00 1/85 100\n', 'sys/devices/system/cpu/online': '0-7\n', ...topology(8, 2, 'thread_siblings_list') });
  assert.equal(createLoadCollector({ procRoot: `${old}/proc`, sysRoot: `${old}/sys` }).collect(0).cores, 2);
});

test('counts the cores again only when the online CPUs change, and leaves them unknown when a CPU has no topology', (t) => {
  const root = tempDir(t);
  writeTree(root, { 'proc/loadavg': '1.00 1.00 1.00 1/85 100\n', 'sys/devices/system/cpu/online': '0-3\n', ...topology(4, 2) });
  const c = createLoadCollector({ procRoot: `${root}/proc`, sysRoot: `${root}/sys` });
  assert.equal(c.collect(0).cores, 2);
  // Topology rewritten under an unchanged CPU list is not read again (no sysfs walk per report).
  writeTree(root, topology(4, 4));
  assert.equal(c.collect(10_000).cores, 2);
  // CPU 4 comes online without a topology directory: the count is read again, and unknown.
  writeTree(root, { 'sys/devices/system/cpu/online': '0-4\n' });
  assert.deepEqual([c.collect(20_000).online, c.collect(20_000).cores], [5, undefined]);
  // Its topology appears with the next change (CPU 4 offline, then online again).
  writeTree(root, { 'sys/devices/system/cpu/online': '0-3\n' });
  assert.equal(c.collect(30_000).cores, 4);
});

test('countCores counts distinct sibling lists, and refuses garbage, a missing list, a list without its own CPU or more cores than CPUs', () => {
  const four = [0, 1, 2, 3];
  assert.equal(countCores(['0,2\n', '1,3\n', '0,2\n', '1,3\n'], four), 2);
  assert.equal(countCores(['0-1\n', '0-1\n', '2-3\n', '2-3\n'], four), 2);
  assert.equal(countCores(['0\n', '1\n'], [0, 1]), 2);
  assert.equal(countCores(['0,2\n', undefined], [0, 2]), undefined);
  assert.equal(countCores(['0,2\n', ''], [0, 2]), undefined);
  assert.equal(countCores(['0,2\n', 'ff\n'], [0, 2]), undefined);
  assert.equal(countCores(['0,2\n', '3-2\n'], [0, 2]), undefined);
  assert.equal(countCores(['0-4294967295\n'], [0]), undefined); // refused before it is expanded
  assert.equal(countCores(['0\n', '0\n'], [0, 1]), undefined); // CPU 1's list leaves CPU 1 out
  assert.equal(countCores([], []), undefined);
  // Eight threads a core (POWER's SMT8) is believed; a guest whose 16 vCPUs all share one core is not.
  const sixteen = Array.from({ length: 16 }, (_, i) => i);
  assert.equal(countCores(sixteen.map((i) => (i < 8 ? '0-7\n' : '8-15\n')), sixteen), 2);
  assert.equal(countCores(sixteen.map(() => '0-15\n'), sixteen), undefined);
});
