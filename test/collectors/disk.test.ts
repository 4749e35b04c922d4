import assert from 'node:assert/strict';
import fs, { rmSync } from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';
import { mock, test } from 'node:test';
import fc from 'fast-check';
import { NOT_IN_SYSFS, createDiskCollector, diskExclusion, diskLayout, parseDiskstats } from '../../src/collectors/disk.js';
import { ioDevices } from '../../src/model/features.js';
import { CollectorError } from '../../src/util/errors.js';
import { CAPTURED_PROC, fakeHost, fixtureMeta, fixtureText, scannedDisks, tempDir, writeTree } from './helpers.js';

// One /proc/diskstats line with the given counters, in a kernel's 14, 18 or 20 columns.
function line(name: string, minor: number, c: { read?: number; write?: number; ticks?: number; weighted?: number }, columns = 20): string {
  const stats = [1, 0, c.read ?? 0, 1, 1, 0, c.write ?? 0, 1, 0, c.ticks ?? 0, c.weighted ?? 2, 0, 0, 0, 0, 0, 0];
  return `   8 ${String(minor).padStart(7)} ${name} ${stats.slice(0, columns - 3).join(' ')}`;
}

// A fake /sys with whole disks that have a device link, partitions, and virtual disks.
function sysTree(root: string, disks: string[], extra: Record<string, string> = {}): void {
  const files: Record<string, string> = {};
  for (const d of disks) {
    files[`sys/block/${d}/device`] = '';
    files[`sys/block/${d}/removable`] = '0\n';
  }
  writeTree(root, { ...files, ...extra });
}

test('parseDiskstats reads every line of a real /proc/diskstats', () => {
  const text = fixtureText('proc-disk', 't1/proc/diskstats');
  const disks = parseDiskstats(text);
  assert.equal(disks.length, text.trim().split('\n').length);
  const vda = disks.find((d) => d.name === 'vda');
  assert.ok(vda !== undefined && vda.writeSectors > 0 && vda.ioTicksMs > 0);
});

test('parseDiskstats reads the 14-, 18- and 20-column formats alike', () => {
  for (const columns of [14, 18, 20]) {
    const [d] = parseDiskstats(line('sda', 0, { read: 8, write: 16, ticks: 30 }, columns));
    assert.deepEqual(d, { major: 8, minor: 0, name: 'sda', readSectors: 8, writeSectors: 16, ioTicksMs: 30, weightedMs: 2 }, `${columns} columns`);
  }
});

test('parseDiskstats skips the 7-column partition lines of 2.6 kernels', () => {
  assert.deepEqual(parseDiskstats('   8    1 sda1 10 20 30 40\n'), []);
});

test('parseDiskstats names the file and line of a short or garbled line', () => {
  assert.throws(
    () => parseDiskstats(`${line('sda', 0, {})}\n   8 0 sdb 1 2 3 4 5 6 7 8 9 10\n`, '/proc/diskstats'),
    (err: unknown) => err instanceof CollectorError && /\/proc\/diskstats line 2: expected 14, 18 or 20 columns/.test(err.message),
  );
  assert.throws(() => parseDiskstats(line('sda', 0, { ticks: 777 }).replace('777', 'x7x')), /line 1: a counter is not a number/);
});

test('the collector sees the fsync-ing writer on vda and leaves out loop and zram devices', (t) => {
  const host = fakeHost(t);
  const c = createDiskCollector(host);
  host.load('proc-disk', 't0');
  assert.equal(c.collect(0), undefined);
  host.load('proc-disk', 't1');
  const r = c.collect(fixtureMeta('proc-disk').elapsedMs);
  assert.ok(r !== undefined);
  assert.deepEqual(
    r.devices?.map((d) => d.name),
    ['vda'],
  );
  assert.ok((r.writeBytesPerSec ?? 0) > 50e6, `write ${r.writeBytesPerSec}`);
  assert.ok(r.busyMax > 0.05 && r.busyMax <= 1, `busy ${r.busyMax}`);
  assert.equal(r.busiest, 'vda');
});

test('busy is io_ticks over wall time and throughput is sectors of 512 bytes per second', (t) => {
  const root = tempDir(t);
  sysTree(root, ['sda']);
  const c = createDiskCollector({ procRoot: `${root}/proc`, sysRoot: `${root}/sys` });
  writeTree(root, { 'proc/diskstats': line('sda', 0, { read: 0, write: 0, ticks: 0 }) });
  c.collect(0);
  writeTree(root, { 'proc/diskstats': line('sda', 0, { read: 2000, write: 4000, ticks: 2500 }) });
  assert.deepEqual(c.collect(10_000)?.devices, [{ name: 'sda', busy: 0.25, readBytesPerSec: 102_400, writeBytesPerSec: 204_800 }]);
});

test('the busiest device and the mean over devices are reported', (t) => {
  const root = tempDir(t);
  sysTree(root, ['sda', 'sdb']);
  const c = createDiskCollector({ procRoot: `${root}/proc`, sysRoot: `${root}/sys` });
  writeTree(root, { 'proc/diskstats': `${line('sda', 0, {})}\n${line('sdb', 16, {})}\n` });
  c.collect(0);
  writeTree(root, { 'proc/diskstats': `${line('sda', 0, { ticks: 1000 })}\n${line('sdb', 16, { ticks: 9000 })}\n` });
  const r = c.collect(10_000);
  assert.equal(r?.busiest, 'sdb');
  assert.equal(r?.busyMax, 0.9);
  assert.equal(r?.busyMean, 0.5);
});

test('io_ticks past the wall time between two reads (counters read microseconds apart) count as busy 1, never more', (t) => {
  const root = tempDir(t);
  sysTree(root, ['sda', 'sdb']);
  const c = createDiskCollector({ procRoot: `${root}/proc`, sysRoot: `${root}/sys` });
  writeTree(root, { 'proc/diskstats': `${line('sda', 0, {})}\n${line('sdb', 16, {})}\n` });
  c.collect(0);
  writeTree(root, { 'proc/diskstats': `${line('sda', 0, { ticks: 10_100 })}\n${line('sdb', 16, { ticks: 5000 })}\n` });
  const r = c.collect(10_000);
  assert.equal(r?.busyMax, 1);
  assert.equal(r?.busyMean, 0.75);
  assert.deepEqual(r?.devices?.map((d) => d.busy), [1, 0.5]);
});

test('without detail (the daemon) the busy figures are the same, and no device list or throughput is given', (t) => {
  const root = tempDir(t);
  sysTree(root, ['sda', 'sdb', 'sdc']);
  const detailed = createDiskCollector({ procRoot: `${root}/proc`, sysRoot: `${root}/sys` });
  const lean = createDiskCollector({ procRoot: `${root}/proc`, sysRoot: `${root}/sys`, detail: false });
  const both = (ms: number, ticks: number[]) => {
    writeTree(root, { 'proc/diskstats': ['sda', 'sdb', 'sdc'].map((n, i) => line(n, 16 * i, { read: ms, write: 2 * ms, ticks: ticks[i] })).join('\n') });
    return [detailed.collect(ms), lean.collect(ms)] as const;
  };
  both(0, [0, 0, 0]);
  for (const [ms, ticks] of [[10_000, [1234, 10_003, 77]], [20_000, [1234, 19_999, 2077]], [30_000, [9999, 20_000, 2077]]] as const) {
    const [d, l] = both(ms, [...ticks]);
    assert.ok(d !== undefined && d.devices?.length === 3 && d.readBytesPerSec === 3 * 512_000, JSON.stringify(d));
    const { devices, readBytesPerSec, writeBytesPerSec, ...busy } = d;
    assert.deepEqual(l, busy, `at ${ms} ms`);
    assert.deepEqual(busy, { busyMax: devices.reduce((m, x) => Math.max(m, x.busy), 0), busyMean: l?.busyMean, busiest: l?.busiest, busyDevices: l?.busyDevices, queue: l?.queue, queueMax: l?.queueMax });
    assert.ok(Math.abs((l?.busyDevices ?? NaN) - ioDevices(devices)!) < 1e-12, `busy devices at ${ms} ms`);
    assert.ok(Math.abs((l?.busyMean ?? 0) - devices.reduce((s, x) => s + x.busy, 0) / 3) < 1e-12, `mean at ${ms} ms`);
  }
});

// The model counts the tasks waiting for io per busy device (io_devices): the daemon's
// collector gives no device list, so it counts them itself, or the count was absent there.
test('without detail (the daemon), counts the disks busy at least a tenth of the time, each by its share of the busiest\'s, and none when no disk is', (t) => {
  const root = tempDir(t);
  sysTree(root, ['sda', 'sdb', 'sdc']);
  const c = createDiskCollector({ procRoot: `${root}/proc`, sysRoot: `${root}/sys`, detail: false });
  const at = (ms: number, ticks: number[]) => {
    writeTree(root, { 'proc/diskstats': ['sda', 'sdb', 'sdc'].map((n, i) => line(n, 16 * i, { ticks: ticks[i] })).join('\n') });
    return c.collect(ms);
  };
  at(0, [0, 0, 0]);
  assert.equal(at(10_000, [8000, 4000, 999])?.busyDevices, 1.5);
  assert.equal(at(20_000, [8999, 4000, 1998])?.busyDevices, undefined);
});

// The model divides among the busy devices only the tasks waiting for io that the local
// disks can hold (io_queue): their mean number of I/Os in flight, from the weighted time.
test('without detail (the daemon), gives the I/Os in flight on all the disks and on the deepest from their weighted time, beside the busy devices only', (t) => {
  const root = tempDir(t);
  sysTree(root, ['sda', 'sdb', 'sdc']);
  const c = createDiskCollector({ procRoot: `${root}/proc`, sysRoot: `${root}/sys`, detail: false });
  const at = (ms: number, ticks: number[], weighted: number[], columns = 20) => {
    writeTree(root, { 'proc/diskstats': ['sda', 'sdb', 'sdc'].map((n, i) => line(n, 16 * i, { ticks: ticks[i], weighted: weighted[i] }, columns)).join('\n') });
    return c.collect(ms);
  };
  at(0, [0, 0, 0], [0, 0, 0]);
  const first = at(10_000, [10_000, 1000, 500], [40_000, 1500, 500]);
  assert.ok(first?.queue === 4.2 && first.queueMax === 4, JSON.stringify(first));
  assert.equal(at(20_000, [11_000, 1000, 500], [41_000, 1500, 500], 14)?.queue, 0.1, 'the 14 columns of a kernel before 4.18');
  assert.equal(at(30_000, [11_999, 1000, 500], [51_000, 1500, 500])?.queue, undefined, 'no disk busy a tenth of the time');
  const wrapped = at(40_000, [21_999, 1000, 500], [1000, 1500, 500]);
  assert.ok(wrapped?.busyDevices === 1 && wrapped.queue === undefined, `a weighted time that went backwards (a 32-bit wrap): ${JSON.stringify(wrapped)}`);
  assert.equal(at(50_000, [31_999, 1000, 500], [6000, 1500, 500])?.queue, 0.5, 'the tick after it');
  const oneBack = at(60_000, [41_999, 1000, 500], [46_000, 1000, 500]);
  assert.ok(oneBack?.busyDevices === 1 && oneBack.queue === undefined, `one disk's weighted time back, the sum still forward: ${JSON.stringify(oneBack)}`);
});

test('scanDiskstats reads the weighted time as parseDiskstats does, whether it ends the line or a space follows it', () => {
  for (const columns of [14, 18, 20]) {
    const two = `${line('sda', 0, { ticks: 1 }, columns)}\n${line('sda1', 1, {}, columns)}\n`;
    const layout = diskLayout(two, parseDiskstats(two).filter((d) => d.name === 'sda'))!;
    const text = `${line('sda', 0, { ticks: 5, weighted: 123_456_789 }, columns)}\n${line('sda1', 1, {}, columns)}\n`;
    assert.deepEqual(scannedDisks(Buffer.from(text), layout, false)?.[0]?.weightedMs, 123_456_789, `${columns} columns`);
    assert.equal(parseDiskstats(text)[0]?.weightedMs, 123_456_789);
    const garbled = text.replace(' 123456789', ' 123456789x');
    assert.equal(scannedDisks(Buffer.from(garbled), layout, false), undefined, `${columns} columns, garbled`);
  }
});

test('scanDiskstats leaves to parseDiskstats an io_ticks or weighted time that Number() reads and parseDiskstats refuses', () => {
  const two = `${line('sda', 0, { ticks: 1 })}\n${line('sda1', 1, {})}\n`;
  const layout = diskLayout(two, parseDiskstats(two).filter((d) => d.name === 'sda'))!;
  for (const weird of ['1e2', '1e000000010', '1.5e1', '+100', '0x1F', '100.', 'Infinity']) {
    for (const text of [two.replace(' 1 2 0 0', ` ${weird} 2 0 0`), two.replace(' 1 2 0 0', ` 1 ${weird} 0 0`)]) {
      assert.throws(() => parseDiskstats(text), CollectorError, text);
      assert.equal(scannedDisks(Buffer.from(text, 'latin1'), layout, false), undefined, text);
    }
  }
  const text = two.replace(' 1 2 0 0', ' 123456789012345 110000000 0 0');
  assert.deepEqual(scannedDisks(Buffer.from(text, 'latin1'), layout, false)?.map((d) => [d.ioTicksMs, d.weightedMs]), [[123_456_789_012_345, 110_000_000]]);
});

// True if parseDiskstats reads text and gives a line of the named device.
function parsesAsDisk(text: string, name: string): boolean {
  try {
    return parseDiskstats(text).some((d) => d.name === name);
  } catch (err) {
    assert.ok(err instanceof CollectorError, String(err));
    return false;
  }
}

// The daemon's reading skips fields 4 to 12 in nine written-out steps (2026-12-08): a step
// whose test were lost would read io_ticks a field off wherever that field is empty.
test('scanDiskstats reads a disk line with any of fields 4 to 12 empty as parseDiskstats does, or leaves it, and leaves one cut short there', () => {
  const two = `${line('sda', 0, { ticks: 7, weighted: 9, read: 3, write: 4 })}\n${line('sda1', 1, {})}\n`;
  const layout = diskLayout(two, parseDiskstats(two).filter((d) => d.name === 'sda'))!;
  const [sda = '', sda1 = ''] = two.split('\n');
  const head = '   8       0 sda ';
  const fields = sda.slice(head.length).split(' ');
  for (let field = 4; field <= 12; field++) {
    const i = field - 4;
    // Empty: two spaces in a row, which parseDiskstats's split reads as one.
    const empty = `${head}${[...fields.slice(0, i), '', ...fields.slice(i)].join(' ')}\n${sda1}\n`;
    const parsed = parseDiskstats(empty).slice(0, 1);
    // Cut short: the line ends at this field; parseDiskstats refuses it, or at 7 columns
    // skips it as a 2.6 kernel's partition line: either way no io_ticks of sda.
    const cut = `${head}${fields.slice(0, i + 1).join(' ')}\n${sda1}\n`;
    assert.ok(!parsesAsDisk(cut, 'sda'), cut);
    for (const sectors of [false, true]) {
      const scanned = scannedDisks(Buffer.from(empty), layout, sectors);
      if (scanned !== undefined) assert.deepEqual(scanned, parsed.map((d) => (sectors ? d : { ...d, readSectors: 0, writeSectors: 0 })), `field ${field} empty, sectors ${sectors}`);
      assert.equal(scannedDisks(Buffer.from(cut), layout, sectors), undefined, `cut at field ${field}, sectors ${sectors}`);
    }
  }
  assert.deepEqual(scannedDisks(Buffer.from(two), layout, false)?.map((d) => [d.ioTicksMs, d.weightedMs]), [[7, 9]]);
});

// io_ticks and the weighted time are read by Number() where fieldCounter is sure it reads
// a counter (review76): against the plain parser, on lines whose two fields are counters,
// forms Number() reads and parseDiskstats refuses, and garbage.
test('scanDiskstats reads io_ticks and the weighted time as parseDiskstats does, for any text of theirs, or leaves the line to it', () => {
  const digits = fc.stringMatching(/^\d{1,32}$/);
  const exponent = fc
    .tuple(fc.stringMatching(/^[1-9]\d{0,5}$/), fc.constantFrom('', '.'), fc.stringMatching(/^\d{0,12}$/), fc.constantFrom('e', 'E'), fc.constantFrom('', '+', '-'), fc.nat(10), fc.nat(120))
    .map(([int, dot, fraction, e, sign, zeros, x]) => `${int}${dot}${dot === '' ? '' : fraction}${e}${sign}${'0'.repeat(zeros)}${x}`);
  const decimal = fc.tuple(fc.stringMatching(/^[1-9]\d{0,8}$/), fc.stringMatching(/^\d{0,6}$/)).map(([int, fraction]) => `${int}.${fraction}`);
  const zeros = fc.tuple(fc.stringMatching(/^[1-9]\d{0,8}$/), fc.integer({ min: 1, max: 6 })).map(([int, k]) => `${int}00.${'0'.repeat(k)}`);
  // 15 characters that Number() reads as an 11-digit counter ending in 10 ("1.2345678910e10").
  const asLong = fc.tuple(fc.integer({ min: 1, max: 9 }), fc.stringMatching(/^\d{8}$/)).map(([int, fraction]) => `${int}.${fraction}10e10`);
  const garbage = fc.string({ unit: fc.constantFrom(...'0123456789.eE+-xXoObBIn_:/'), minLength: 1, maxLength: 18 });
  const named = fc.constantFrom('Infinity', '0x1F', '0x174876E800', '+100', '-5', '1_0', '100.', '.5', '0010', '1e0100');
  const field = fc.oneof({ weight: 12, arbitrary: digits }, exponent, decimal, zeros, asLong, garbage, named);
  let read = 0;
  let refused = 0;
  fc.assert(
    fc.property(fc.constantFrom(14, 18, 20), field, field, (columns, ticks, weighted) => {
      const two = `${line('sda', 0, { ticks: 1 }, columns)}\n${line('sda1', 1, {}, columns)}\n`;
      const layout = diskLayout(two, parseDiskstats(two).filter((d) => d.name === 'sda'))!;
      const text = two.replace(' 1 2', ` ${ticks} ${weighted}`);
      let parsed: { ioTicksMs: number; weightedMs: number } | undefined;
      try {
        parsed = parseDiskstats(text).find((d) => d.name === 'sda');
      } catch (err) {
        assert.ok(err instanceof CollectorError, String(err));
        refused++;
      }
      const scanned = scannedDisks(Buffer.from(text, 'latin1'), layout, false);
      if (scanned === undefined) return;
      read++;
      assert.ok(parsed !== undefined, `read ${JSON.stringify([ticks, weighted])} where parseDiskstats refuses it`);
      assert.deepEqual([scanned[0]?.ioTicksMs, scanned[0]?.weightedMs], [parsed.ioTicksMs, parsed.weightedMs], JSON.stringify([ticks, weighted]));
    }),
    { numRuns: 2000 },
  );
  assert.ok(read > 500 && refused > 100, `read ${read}, refused ${refused}: both kinds of line must be tried`);
});

// counterAt gives -1 past 30 digits: taken as the count, the tick after read the whole
// counter as one interval's weighted time, thousands of I/Os in flight on one disk.
test('scanDiskstats refuses a weighted time of more than 30 digits, as parseDiskstats refuses its line', () => {
  const two = `${line('sda', 0, { ticks: 1 })}\n${line('sda1', 1, {})}\n`;
  const layout = diskLayout(two, parseDiskstats(two).filter((d) => d.name === 'sda'))!;
  const text = two.replace(' 1 2 0 0', ` 1 ${'1'.repeat(31)} 0 0`);
  assert.throws(() => parseDiskstats(text), CollectorError);
  assert.equal(scannedDisks(Buffer.from(text), layout, false), undefined);
  assert.equal(scannedDisks(Buffer.from(two.replace(' 1 2 0 0', ` 1 ${'1'.repeat(30)} 0 0`)), layout, false)?.[0]?.weightedMs, Number('1'.repeat(30)));
});

test('scanDiskstats refuses an io_ticks or a sector count of more than 30 digits, as parseDiskstats refuses its line', () => {
  const two = `${line('sda', 0, { ticks: 1, read: 3, write: 4 })}\n${line('sda1', 1, {})}\n`;
  const layout = diskLayout(two, parseDiskstats(two).filter((d) => d.name === 'sda'))!;
  const long = '1'.repeat(31);
  for (const [text, sectors] of [[two.replace(' 1 2 0 0', ` ${long} 2 0 0`), false], [two.replace(' 3 ', ` ${long} `), true], [two.replace(' 4 ', ` ${long} `), true]] as const) {
    assert.throws(() => parseDiskstats(text), CollectorError, text);
    assert.equal(scannedDisks(Buffer.from(text), layout, sectors), undefined, text);
    const thirty = text.replace(long, long.slice(1));
    assert.deepEqual(scannedDisks(Buffer.from(thirty), layout, sectors), parseDiskstats(thirty).slice(0, 1).map((d) => (sectors ? d : { ...d, readSectors: 0, writeSectors: 0 })), thirty);
  }
});

test('a disk whose sectors went backwards but not its io_ticks still counts as busy, without its throughput', (t) => {
  const root = tempDir(t);
  sysTree(root, ['sda', 'sdb']);
  const c = createDiskCollector({ procRoot: `${root}/proc`, sysRoot: `${root}/sys` });
  writeTree(root, { 'proc/diskstats': `${line('sda', 0, { read: 5000 })}\n${line('sdb', 16, { read: 5000 })}\n` });
  c.collect(0);
  writeTree(root, { 'proc/diskstats': `${line('sda', 0, { read: 10, ticks: 8000 })}\n${line('sdb', 16, { read: 5100, ticks: 2000 })}\n` });
  const r = c.collect(10_000);
  assert.deepEqual(r?.devices?.map((d) => d.name), ['sdb']);
  assert.equal(r?.readBytesPerSec, 5120);
  assert.equal(r?.busiest, 'sda');
  assert.equal(r?.busyMax, 0.8);
  assert.equal(r?.busyMean, 0.5);
});

test('partitions, device-mapper, md, loop and removable devices are left out', (t) => {
  const root = tempDir(t);
  sysTree(root, ['sda', 'sr0'], {
    'sys/class/block/sda1/partition': '1\n',
    'sys/block/sr0/removable': '1\n',
    'sys/block/dm-0/removable': '0\n',
    'sys/block/md0/removable': '0\n',
    'sys/block/nvme0n1/removable': '0\n',
    'sys/class/block/sdy/dev': '8:128\n',
  });
  const sys = `${root}/sys`;
  assert.equal(diskExclusion('sda', sys), undefined);
  assert.equal(diskExclusion('sda1', sys), 'partition');
  assert.equal(diskExclusion('dm-0', sys), 'virtual or removable by name');
  assert.equal(diskExclusion('md0', sys), 'virtual or removable by name');
  assert.equal(diskExclusion('loop3', sys), 'virtual or removable by name');
  assert.equal(diskExclusion('sr0', sys), 'virtual or removable by name');
  assert.equal(diskExclusion('nvme0n1', sys), 'virtual (no device link)');
  assert.equal(diskExclusion('sdy', sys), 'not a whole disk');
  assert.equal(diskExclusion('sdz', sys), NOT_IN_SYSFS);
});

test('a disk read before its sysfs entries exist (the hot-add window) is classified again, and counted once they do', (t) => {
  const root = tempDir(t);
  sysTree(root, ['nvme0n1']);
  const c = createDiskCollector({ procRoot: `${root}/proc`, sysRoot: `${root}/sys`, detail: false });
  const row = (minor: number, name: string, ticks: number): string =>
    `259 ${String(minor).padStart(7)} ${name} 123456 789 12345678 45678 234567 8901 23456789 123456 0 ${ticks} 169134 0 0 0 0 0 0\n`;
  const at = (ms: number, hot: boolean): string | undefined => {
    writeTree(root, { 'proc/diskstats': row(0, 'nvme0n1', 0) + (hot ? row(1, 'nvme1n1', ms / 2) : '') });
    return c.collect(ms)?.busiest;
  };
  at(0, false);
  at(10_000, true); // listed, but /sys/block/nvme1n1 not made yet
  sysTree(root, ['nvme1n1']);
  at(20_000, true);
  assert.equal(at(30_000, true), 'nvme1n1');
});

test('a removable disk whose name says nothing is left out through sysfs', (t) => {
  const root = tempDir(t);
  sysTree(root, ['sdc'], { 'sys/block/sdc/removable': '1\n' });
  assert.equal(diskExclusion('sdc', `${root}/sys`), 'removable');
});

test('an NVMe multipath head is left out and its path counted, so one saturated dual-port NVMe reads as one saturated disk', (t) => {
  const root = tempDir(t);
  // As the kernel lays them out: the head hangs from its subsystem, the path (no device
  // number: 0 0) from its controller. Kernels before the head kept I/O statistics print it all zeros.
  writeTree(root, {
    'sys/devices/virtual/nvme-subsystem/nvme-subsys0/nvme0n1/removable': '0\n',
    'sys/devices/pci0000:00/0000:00:01.0/nvme/nvme0/nvme0c0n1/removable': '0\n',
  });
  fs.mkdirSync(`${root}/sys/block`);
  fs.symlinkSync('../devices/virtual/nvme-subsystem/nvme-subsys0/nvme0n1', `${root}/sys/block/nvme0n1`);
  fs.symlinkSync('../devices/pci0000:00/0000:00:01.0/nvme/nvme0/nvme0c0n1', `${root}/sys/block/nvme0c0n1`);
  fs.symlinkSync('../../nvme-subsys0', `${root}/sys/devices/virtual/nvme-subsystem/nvme-subsys0/nvme0n1/device`);
  fs.symlinkSync('../../nvme0', `${root}/sys/devices/pci0000:00/0000:00:01.0/nvme/nvme0/nvme0c0n1/device`);
  sysTree(root, ['sda']);
  const at = (ticks: number): string =>
    `${line('sda', 0, {})}\n   0       0 nvme0c0n1 34706049 74843 4815165730 93876201 4187610 1925219 6989322264 47813633 0 ${ticks} 118897696 312571 0 11200562376 857547 0 0\n` +
    ' 259       0 nvme0n1 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0\n';
  const c = createDiskCollector({ procRoot: `${root}/proc`, sysRoot: `${root}/sys`, detail: false });
  writeTree(root, { 'proc/diskstats': at(45_557_635) });
  c.collect(0);
  writeTree(root, { 'proc/diskstats': at(45_567_635) });
  assert.deepEqual(c.collect(10_000), { busyMax: 1, busyMean: 0.5, busiest: 'nvme0c0n1', busyDevices: 1, queue: 0, queueMax: 0 });
  assert.equal(diskExclusion('nvme0n1', `${root}/sys`), 'NVMe multipath head (its paths count)');
});

test('without sysfs, partitions are recognised by name', () => {
  assert.equal(diskExclusion('sda', undefined), undefined);
  assert.equal(diskExclusion('nvme0n1', undefined), undefined);
  assert.equal(diskExclusion('sda1', undefined), 'partition by name');
  assert.equal(diskExclusion('nvme0n1p2', undefined), 'partition by name');
  assert.equal(diskExclusion('mmcblk0p1', undefined), 'partition by name');
  assert.equal(diskExclusion('dasda', undefined), undefined);
  assert.equal(diskExclusion('dasda1', undefined), 'partition by name');
  assert.equal(diskExclusion('cciss/c0d0', undefined), undefined);
  assert.equal(diskExclusion('cciss/c0d0p1', undefined), 'partition by name');
  assert.equal(diskExclusion('mmcblk0', undefined), undefined);
  assert.equal(diskExclusion('mmcblk0boot0', undefined), 'partition by name');
  assert.equal(diskExclusion('mmcblk0rpmb', undefined), 'partition by name');
});

test('network-backed and replicated block devices are left out by name', () => {
  for (const name of ['rbd0', 'drbd1', 'nbd0']) assert.equal(diskExclusion(name, undefined), 'virtual or removable by name', name);
});

test('diskLayout finds every disk of a diskstats with thousands of devices, at the line of each', () => {
  const names = Array.from({ length: 3000 }, (_, i) => `sd${String.fromCharCode(97 + (i % 26))}${String.fromCharCode(97 + Math.floor(i / 26) % 26)}${Math.floor(i / 676)}`);
  const text = names.map((n, i) => line(n, i, { ticks: i })).join('\n') + '\n';
  const disks = parseDiskstats(text).filter((_, i) => i % 3 === 0);
  const layout = diskLayout(text, disks);
  assert.ok(layout !== undefined);
  assert.deepEqual(layout.disks.map((d) => d.name), disks.map((d) => d.name));
  assert.deepEqual(scannedDisks(Buffer.from(text, 'latin1'), layout)?.map((d) => d.ioTicksMs), disks.map((d) => d.ioTicksMs));
  const reversed = diskLayout(text, [...disks].reverse());
  assert.deepEqual(reversed?.disks.map((d) => d.name), [...disks].reverse().map((d) => d.name), 'disks given out of file order are found too');
});

test('a device whose counters went backwards is left out for that tick only', (t) => {
  const root = tempDir(t);
  sysTree(root, ['sda', 'sdb']);
  const c = createDiskCollector({ procRoot: `${root}/proc`, sysRoot: `${root}/sys` });
  writeTree(root, { 'proc/diskstats': `${line('sda', 0, { ticks: 5000 })}\n${line('sdb', 16, { ticks: 5000 })}\n` });
  c.collect(0);
  writeTree(root, { 'proc/diskstats': `${line('sda', 0, { ticks: 100 })}\n${line('sdb', 16, { ticks: 6000 })}\n` });
  assert.deepEqual(
    c.collect(10_000)?.devices?.map((d) => d.name),
    ['sdb'],
  );
  writeTree(root, { 'proc/diskstats': `${line('sda', 0, { ticks: 1100 })}\n${line('sdb', 16, { ticks: 7000 })}\n` });
  assert.equal(c.collect(20_000)?.devices?.find((d) => d.name === 'sda')?.busy, 0.1);
});

test('when every device was reset the tick gives no value rather than zeros', (t) => {
  const root = tempDir(t);
  sysTree(root, ['sda']);
  const c = createDiskCollector({ procRoot: `${root}/proc`, sysRoot: `${root}/sys` });
  writeTree(root, { 'proc/diskstats': line('sda', 0, { ticks: 5000 }) });
  c.collect(0);
  writeTree(root, { 'proc/diskstats': line('sda', 0, { ticks: 10 }) });
  assert.equal(c.collect(10_000), undefined);
});

test('a disk that appears between ticks is absent until its second reading', (t) => {
  const root = tempDir(t);
  sysTree(root, ['sda', 'sdb']);
  const c = createDiskCollector({ procRoot: `${root}/proc`, sysRoot: `${root}/sys` });
  writeTree(root, { 'proc/diskstats': line('sda', 0, {}) });
  c.collect(0);
  writeTree(root, { 'proc/diskstats': `${line('sda', 0, { ticks: 10 })}\n${line('sdb', 16, { ticks: 99_000 })}\n` });
  assert.deepEqual(
    c.collect(10_000)?.devices?.map((d) => d.name),
    ['sda'],
  );
  writeTree(root, { 'proc/diskstats': `${line('sda', 0, { ticks: 20 })}\n${line('sdb', 16, { ticks: 100_000 })}\n` });
  assert.equal(c.collect(20_000)?.busiest, 'sdb');
});

test('when the disks change between ticks, each is compared with its own earlier reading, by name, and a new one is left out of every figure', (t) => {
  const root = tempDir(t);
  sysTree(root, ['sda', 'sdb', 'sdc']);
  const c = createDiskCollector({ procRoot: `${root}/proc`, sysRoot: `${root}/sys` });
  writeTree(root, { 'proc/diskstats': `${line('sda', 0, { ticks: 1000 })}\n${line('sdb', 16, { ticks: 5000 })}\n` });
  c.collect(0);
  // sda gone, sdc new: sdb is now first, and sdc has no earlier reading.
  writeTree(root, { 'proc/diskstats': `${line('sdb', 16, { ticks: 6000 })}\n${line('sdc', 32, { ticks: 99_000 })}\n` });
  const r = c.collect(10_000);
  assert.deepEqual(r?.devices?.map((d) => d.name), ['sdb']);
  assert.equal(r?.busyMax, 0.1);
  assert.equal(r?.busyMean, 0.1); // over the one disk counted, not the two listed
});

test('a host without a physical disk reports no devices and 0 busy', (t) => {
  const root = tempDir(t);
  sysTree(root, []);
  const c = createDiskCollector({ procRoot: `${root}/proc`, sysRoot: `${root}/sys` });
  writeTree(root, { 'proc/diskstats': line('loop0', 0, {}) });
  c.collect(0);
  assert.deepEqual(c.collect(10_000), { devices: [], busyMax: 0, busyMean: 0, readBytesPerSec: 0, writeBytesPerSec: 0 });
});

test('scanDiskstats reads the disk of every captured /proc/diskstats as parseDiskstats does', () => {
  for (const f of CAPTURED_PROC) {
    const t0 = fixtureText(f, 't0/proc/diskstats');
    const t1 = fixtureText(f, 't1/proc/diskstats');
    const layout = diskLayout(t0, parseDiskstats(t0).filter((d) => d.name === 'vda'));
    assert.ok(layout !== undefined, f);
    assert.deepEqual(scannedDisks(Buffer.from(t1, 'latin1'), layout), parseDiskstats(t1).filter((d) => d.name === 'vda'), f);
  }
});

test('scanDiskstats leaves to a full reading a device added at the end, a disk renumbered or gone, and a garbled disk line', () => {
  const two = `${line('sda', 0, { ticks: 1 })}\n${line('sda1', 1, {})}\n`;
  const layout = diskLayout(two, parseDiskstats(two).filter((d) => d.name === 'sda'))!;
  assert.deepEqual(scannedDisks(Buffer.from(`${line('sda', 0, { ticks: 5 })}\n${line('sda1', 1, { ticks: 9 })}\n`), layout)?.[0]?.ioTicksMs, 5);
  assert.equal(scannedDisks(Buffer.from(`${two}${line('sdb', 16, {})}\n`), layout), undefined, 'sdb added');
  assert.equal(scannedDisks(Buffer.from(`${line('sda', 2, {})}\n${line('sda1', 1, {})}\n`), layout), undefined, 'sda renumbered');
  assert.equal(scannedDisks(Buffer.from(`${line('sdb', 16, {})}\n${line('sda1', 1, {})}\n`), layout), undefined, 'sda gone');
  assert.equal(scannedDisks(Buffer.from(`${line('sda', 0, { ticks: 5 }).replace(' 5 ', ' 5x ')}\n${line('sda1', 1, {})}\n`), layout), undefined, 'garbled');
});

test('scanDiskstats gives up on whitespace other than a space, which would split a field it skips differently', () => {
  const two = `${line('sda', 0, { ticks: 1 })}\n${line('sda1', 1, {})}\n`;
  const layout = diskLayout(two, parseDiskstats(two).filter((d) => d.name === 'sda'))!;
  const sda = line('sda', 0, { ticks: 5 });
  assert.equal(scannedDisks(Buffer.from(`${sda}\n${line('sda1', 1, {})}\n`, 'latin1'), layout, false)?.[0]?.ioTicksMs, 5);
  for (const ch of ['\t', '\v', '\f', '\r', '\u00a0']) {
    // Field 5 (skipped) split in two: parseDiskstats would read other columns.
    const split = `${sda.replace(/^( *\S+ +\S+ \S+ \S+ \S)/, `$1${ch}`)}\n${line('sda1', 1, {})}\n`;
    assert.equal(scannedDisks(Buffer.from(split, 'latin1'), layout, false), undefined, JSON.stringify(ch));
  }
});

// A hot path that reads a disk's line as long as it was at the last full reading (a
// string of it, a search bounded by it) would cut it inside a field once it grew.
test('scanDiskstats reads a disk line grown longer than at the last full reading as parseDiskstats does, by any number of characters', () => {
  for (const columns of [14, 20]) {
    const two = `${line('sda', 0, { ticks: 1 }, columns)}\n${line('sda1', 1, {}, columns)}\n`;
    const layout = diskLayout(two, parseDiskstats(two).filter((d) => d.name === 'sda'))!;
    for (let grown = 0; grown <= 80; grown++) {
      const sda = line('sda', 0, { ticks: 5, weighted: 123_456_789_012 }, columns).replace(' sda 1 ', ` sda ${'1'.repeat(1 + grown)} `);
      const text = `${sda}\n${line('sda1', 1, {}, columns)}\n`;
      const parsed = parseDiskstats(text).slice(0, 1);
      assert.deepEqual(scannedDisks(Buffer.from(text), layout), parsed, `${columns} columns, ${grown} more`);
      assert.deepEqual(scannedDisks(Buffer.from(text), layout, false)?.map((d) => [d.ioTicksMs, d.weightedMs]), [[5, 123_456_789_012]], `${columns} columns, ${grown} more, io_ticks only`);
    }
  }
});

test('scanDiskstats finds a disk whose line moved, before or after where it was, and past the end of a shorter file', () => {
  const loops = [0, 1, 2, 3, 4].map((n) => line(`loop${n}`, n, {}).replace(/^ *8/, '   7')).join('\n');
  const three = `${loops}\n${line('sda1', 1, {})}\n${line('sda', 0, { ticks: 1 })}\n`;
  const layout = diskLayout(three, parseDiskstats(three).filter((d) => d.name === 'sda'))!;
  const moved = `${line('sda1', 1, { read: 123_456_789_012 })}\n${line('sda', 0, { ticks: 7 })}\n`;
  assert.equal(scannedDisks(Buffer.from(moved), layout)?.[0]?.ioTicksMs, 7, 'the file is shorter than where the line was');
  const later = `${three.trimEnd().replace(/\n[^\n]*$/, '')}\n${line('sdz9', 99, {})}\n${line('sda', 0, { ticks: 8 })}\n`;
  assert.equal(scannedDisks(Buffer.from(later), layout)?.[0]?.ioTicksMs, 8, 'a line added before it');
});

test('a garbled line of a physical disk after good ticks is a CollectorError naming the file and line', (t) => {
  const root = tempDir(t);
  sysTree(root, ['sda'], { 'sys/class/block/sda1/partition': '1\n' });
  const c = createDiskCollector({ procRoot: `${root}/proc`, sysRoot: `${root}/sys` });
  writeTree(root, { 'proc/diskstats': `${line('sda1', 1, {})}\n${line('sda', 0, {})}\n` });
  c.collect(0);
  writeTree(root, { 'proc/diskstats': `${line('sda1', 1, {})}\n${line('sda', 0, { ticks: 100 })}\n` });
  c.collect(10_000);
  writeTree(root, { 'proc/diskstats': `${line('sda1', 1, {})}\n${line('sda', 0, { ticks: 200 }).replace(' 200 ', ' 2e2 ')}\n` });
  assert.throws(() => c.collect(20_000), (err: unknown) => err instanceof CollectorError && err.message.includes(`${root}/proc/diskstats line 2: a counter is not a number`));
});

test('devices are classified once: sysfs is not read again while the devices stay the same', (t) => {
  const root = tempDir(t);
  sysTree(root, ['sda'], { 'sys/class/block/sda1/partition': '1\n' });
  const c = createDiskCollector({ procRoot: `${root}/proc`, sysRoot: `${root}/sys` });
  writeTree(root, { 'proc/diskstats': `${line('sda', 0, {})}\n${line('sda1', 1, {})}\n` });
  c.collect(0);
  rmSync(`${root}/sys`, { recursive: true });
  writeTree(root, { 'proc/diskstats': `${line('sda', 0, { ticks: 500 })}\n${line('sda1', 1, { ticks: 500 })}\n` });
  assert.deepEqual(
    c.collect(10_000)?.devices?.map((d) => [d.name, d.busy]),
    [['sda', 0.05]],
  );
});

test('a disk renumbered under the same name is left out for the tick that straddles it, then counted', (t) => {
  const root = tempDir(t);
  sysTree(root, ['sda', 'sdb']);
  const c = createDiskCollector({ procRoot: `${root}/proc`, sysRoot: `${root}/sys` });
  writeTree(root, { 'proc/diskstats': `${line('sda', 0, {})}\n${line('sdb', 16, {})}\n` });
  c.collect(0);
  writeTree(root, { 'proc/diskstats': `${line('sda', 0, { ticks: 10 })}\n${line('sdb', 32, { ticks: 10 })}\n` });
  assert.deepEqual(c.collect(10_000)?.devices?.map((d) => d.name), ['sda']);
  writeTree(root, { 'proc/diskstats': `${line('sda', 0, { ticks: 20 })}\n${line('sdb', 32, { ticks: 1010 })}\n` });
  assert.equal(c.collect(20_000)?.busiest, 'sdb');
});

test('a disk added anywhere but at the end, which the kernel does not do, is found within 10 minutes', (t) => {
  const root = tempDir(t);
  sysTree(root, ['sda', 'sdb']);
  const c = createDiskCollector({ procRoot: `${root}/proc`, sysRoot: `${root}/sys` });
  const at = (ms: number, withSdb: boolean) => {
    writeTree(root, { 'proc/diskstats': [line('sda', 0, { ticks: ms / 100 }), ...(withSdb ? [line('sdb', 16, { ticks: ms / 10 })] : []), line('loop0', 7, {})].join('\n') });
    return c.collect(ms)?.devices?.map((d) => d.name);
  };
  at(0, false);
  assert.deepEqual(at(10_000, true), ['sda']);
  assert.deepEqual(at(20_000, true), ['sda']);
  at(600_000, true);
  assert.deepEqual(at(610_000, true), ['sda', 'sdb']);
});

test('a disk of 40 partitions after 8 loop devices, read as the kernel gives /proc/diskstats (a page of whole records a read), is seen kept open', (t) => {
  // diskstats_show prints a disk with all its partitions as one seq_file record, and a
  // read stops when the next record does not fit in the page: the loops alone first.
  const root = tempDir(t);
  const partitions: Record<string, string> = {};
  for (let p = 1; p <= 40; p++) partitions[`sys/class/block/sda${p}/partition`] = `${p}\n`;
  sysTree(root, ['sda', 'nvme0n1'], partitions);
  writeTree(root, { 'proc/diskstats': '' });
  const path = `${root}/proc/diskstats`;
  let ticks = 0;
  const row = (major: number, minor: number, name: string, t: number): string =>
    `${String(major).padStart(4)} ${String(minor).padStart(7)} ${name} 123456 789 12345678 45678 234567 8901 23456789 123456 0 ${t} 169134 0 0 0 0 0 0\n`;
  const records = (): string[] => [
    ...Array.from({ length: 8 }, (_, i) => row(7, i, `loop${i}`, 0)),
    row(8, 0, 'sda', 0) + Array.from({ length: 40 }, (_, p) => row(8, p + 1, `sda${p + 1}`, 0)).join(''),
    row(259, 0, 'nvme0n1', ticks),
  ];
  const next = new Map<number, { record: number; at: number }>();
  const realReadv = fs.readvSync;
  const realClose = fs.closeSync;
  t.mock.method(fs, 'closeSync', (fd: number) => {
    next.delete(fd); // a descriptor number used again is a new open file
    realClose(fd);
  });
  t.mock.method(fs, 'readvSync', (fd: number, buffers: Buffer[], position?: number | null) => {
    if (fs.readlinkSync(`/proc/self/fd/${fd}`) !== path) return realReadv(fd, buffers, position ?? undefined);
    let state = next.get(fd) ?? { record: 0, at: 0 };
    if (typeof position === 'number' && position !== state.at) state = { record: 0, at: 0 }; // from the start again
    const all = records();
    let out = ''; // whole records that fit in a page, at least one
    while (state.record < all.length && (out === '' || out.length + all[state.record]!.length <= 4096)) out += all[state.record++];
    state.at += buffers[0]!.write(out, 0, 'latin1');
    next.set(fd, state);
    return out.length;
  });
  syncBuiltinESMExports();
  t.after(() => {
    mock.restoreAll();
    syncBuiltinESMExports();
  });
  for (const keep of [false, true]) {
    ticks = 0;
    const c = createDiskCollector({ procRoot: `${root}/proc`, sysRoot: `${root}/sys`, keepOpen: () => keep });
    c.collect(0);
    ticks = 5000;
    const r = c.collect(10_000);
    c.close?.();
    assert.deepEqual([r?.busiest, r?.busyMax], ['nvme0n1', 0.5], keep ? 'kept open' : 'opened for each read');
  }
});
