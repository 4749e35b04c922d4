import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { createPressureCollector, isPsiUnavailable, parsePressure } from '../../src/collectors/pressure.js';
import { CollectorError } from '../../src/util/errors.js';
import { CAPTURED_PROC, fakeHost, fixtureText, scannedPressure, tempDir, writeTree } from './helpers.js';

const LINE = 'avg10=12.50 avg60=1.00 avg300=0.10 total=123';

test('parsePressure reads the some and full lines of a real PSI file', () => {
  const text = fixtureText('proc-disk', 't1/proc/pressure/io');
  const p = parsePressure(text);
  assert.equal(p.some.avg10, Number(/^some avg10=([\d.]+)/.exec(text)?.[1]));
  assert.ok(p.full !== undefined && p.full.total > 0);
});

test('parsePressure accepts a cpu file without a full line, as kernels before 5.13 print it', () => {
  assert.equal(parsePressure(`some ${LINE}\n`).full, undefined);
});

test('parsePressure names the file and line of a garbled pair', () => {
  assert.throws(
    () => parsePressure(`some ${LINE}\nfull avg10=x avg60=0 avg300=0 total=0\n`, '/proc/pressure/io'),
    (err: unknown) => err instanceof CollectorError && /\/proc\/pressure\/io line 2: "avg10=x"/.test(err.message),
  );
});

test('parsePressure rejects a negative average, which would make the CPU waiting bound negative', () => {
  assert.throws(() => parsePressure(`some ${LINE.replace('12.50', '-1.00')}\n`), /line 1: "avg10=-1\.00" is not key=number/);
});

test('parsePressure rejects a line that lacks avg10', () => {
  assert.throws(() => parsePressure('some avg60=0 avg300=0 total=0\n'), /expected avg10, avg60, avg300 and total/);
});

test('parsePressure rejects a line that lacks avg60, avg300 or total, naming its line', () => {
  for (const key of ['avg60', 'avg300', 'total']) {
    const full = LINE.split(' ').filter((pair) => !pair.startsWith(`${key}=`)).join(' ');
    assert.throws(() => parsePressure(`some ${LINE}\nfull ${full}\n`), /line 2: .*expected avg10, avg60, avg300 and total/, key);
  }
});

test('parsePressure rejects a line that is neither some nor full, naming its line', () => {
  assert.throws(() => parsePressure(`some ${LINE}\nhalf ${LINE}\n`), /line 2: .*expected "some" or "full"/);
});

test('parsePressure rejects a file without a some line, naming it, rather than fail on it later untyped', () => {
  assert.throws(() => parsePressure(`full ${LINE}\n`, '/proc/pressure/memory'), (err: unknown) => err instanceof CollectorError && /\/proc\/pressure\/memory.*no "some" line/.test(err.message));
});

test('the collector turns avg10 percent into fractions', (t) => {
  const root = tempDir(t);
  writeTree(root, {
    'pressure/cpu': `some ${LINE}\nfull ${LINE.replace('12.50', '5.00')}\n`,
    'pressure/memory': `some ${LINE.replace('12.50', '1.00')}\nfull ${LINE.replace('12.50', '0.50')}\n`,
    'pressure/io': `some ${LINE.replace('12.50', '80.00')}\nfull ${LINE.replace('12.50', '40.00')}\n`,
  });
  assert.deepEqual(createPressureCollector({ procRoot: root }).collect(0), {
    cpuSome: 0.125,
    cpuFull: 0.05,
    memorySome: 0.01,
    memoryFull: 0.005,
    ioSome: 0.8,
    ioFull: 0.4,
  });
});

test('the collector reads the full line of a PSI file the hot path leaves to the parser', (t) => {
  const root = tempDir(t);
  // Two spaces between the pairs: not the kernel's layout, so parsePressure reads these.
  const loose = (some: string, full: string): string => `some ${LINE.replace('12.50', some).replaceAll(' ', '  ')}\nfull ${LINE.replace('12.50', full).replaceAll(' ', '  ')}\n`;
  writeTree(root, { 'pressure/cpu': loose('10.00', '4.00'), 'pressure/memory': loose('6.00', '2.00'), 'pressure/io': loose('50.00', '20.00') });
  assert.deepEqual(createPressureCollector({ procRoot: root }).collect(0), { cpuSome: 0.1, cpuFull: 0.04, memorySome: 0.06, memoryFull: 0.02, ioSome: 0.5, ioFull: 0.2 });
});

test('the collector gives the share of the time since its last reading that some task waited for a CPU, from the cpu total', (t) => {
  const root = tempDir(t);
  const files = (cpuTotal: number, loose = false): Record<string, string> => {
    const cpu = `some avg10=0.00 avg60=0.00 avg300=0.00 total=${cpuTotal}\nfull ${LINE}\n`;
    return { 'pressure/cpu': loose ? cpu.replaceAll(' ', '  ') : cpu, 'pressure/memory': `some ${LINE}\nfull ${LINE}\n`, 'pressure/io': `some ${LINE}\nfull ${LINE}\n` };
  };
  writeTree(root, files(5_000_000));
  const c = createPressureCollector({ procRoot: root });
  assert.equal(c.collect(1000)?.cpuSomeInterval, undefined);
  // 9.9 s of waiting in 10 s, though avg10 (an average a pause can move) reads 0.
  writeTree(root, files(14_900_000));
  assert.equal(c.collect(11_000)?.cpuSomeInterval, 0.99);
  // The parser's path (text not in the kernel's layout) reads the same total.
  writeTree(root, files(19_900_000, true));
  assert.equal(c.collect(21_000)?.cpuSomeInterval, 0.5);
  // A total that went back gives none, and the next interval starts from it.
  writeTree(root, files(1_000_000));
  assert.equal(c.collect(31_000)?.cpuSomeInterval, undefined);
  writeTree(root, files(3_000_000));
  assert.equal(c.collect(41_000)?.cpuSomeInterval, 0.2);
});

// The share is multiplied by the cpu collector's least busy CPU over its own last interval
// (accountedFor): one spanning a failed reading as well would pair two intervals.
test('the collector gives the share of the cpu total over the interval since the reading before alone, and none after PSI was missing', (t) => {
  const root = tempDir(t);
  const files = (cpuTotal: number, memory = `some ${LINE}\nfull ${LINE}\n`): Record<string, string> => ({
    'pressure/cpu': `some avg10=0.00 avg60=0.00 avg300=0.00 total=${cpuTotal}\nfull ${LINE}\n`,
    'pressure/memory': memory,
    'pressure/io': `some ${LINE}\nfull ${LINE}\n`,
  });
  writeTree(root, files(0));
  const c = createPressureCollector({ procRoot: root });
  assert.equal(c.collect(1000)?.cpuSomeInterval, undefined);
  // A garbled memory file fails the reading, after the cpu total was read.
  writeTree(root, files(9_900_000, 'some avg10=x\n'));
  assert.throws(() => c.collect(11_000), CollectorError);
  // The last 10 s had 0.1 s of waiting: 0.01, not the 20 s mean 0.5.
  writeTree(root, files(10_000_000));
  assert.equal(c.collect(21_000)?.cpuSomeInterval, 0.01);
  // PSI gone for a reading (ENOENT), then back: no reading began this interval.
  rmSync(join(root, 'pressure', 'cpu'));
  assert.equal(c.collect(31_000), undefined);
  writeTree(root, files(10_100_000));
  assert.equal(c.collect(41_000)?.cpuSomeInterval, undefined);
  writeTree(root, files(10_200_000));
  assert.equal(c.collect(51_000)?.cpuSomeInterval, 0.01);
});

test('the collector reads the io stall of the captured fsync-ing writer', (t) => {
  const host = fakeHost(t);
  host.load('proc-disk', 't1');
  const r = createPressureCollector(host).collect(0);
  assert.ok(r !== undefined && r.ioSome > 0.01, `ioSome ${r?.ioSome}`);
});

test('a kernel without /proc/pressure makes pressure unavailable, not zero', (t) => {
  const root = tempDir(t);
  assert.equal(createPressureCollector({ procRoot: root }).collect(0), undefined);
});

test('PSI disabled at boot (EOPNOTSUPP on read) counts as unavailable', () => {
  const cause = Object.assign(new Error('read failed'), { code: 'EOPNOTSUPP' });
  assert.equal(isPsiUnavailable(new CollectorError('pressure', 'cannot read', { cause })), true);
  const denied = Object.assign(new Error('read failed'), { code: 'EACCES' });
  assert.equal(isPsiUnavailable(new CollectorError('pressure', 'cannot read', { cause: denied })), false);
});

test('a garbled PSI file is an error, not unavailability', (t) => {
  const root = tempDir(t);
  writeTree(root, { 'pressure/cpu': 'nonsense\n', 'pressure/memory': `some ${LINE}\n`, 'pressure/io': `some ${LINE}\n` });
  assert.throws(() => createPressureCollector({ procRoot: root }).collect(0), CollectorError);
});

test('scanPressure reads every captured PSI file as parsePressure does, and leaves other text to it', () => {
  for (const f of CAPTURED_PROC) {
    for (const r of ['cpu', 'memory', 'io']) {
      const text = fixtureText(f, `t1/proc/pressure/${r}`);
      const parsed = parsePressure(text);
      assert.deepEqual(scannedPressure(text), { some: parsed.some.avg10, full: parsed.full?.avg10, total: parsed.some.total }, `${f} ${r}`);
    }
  }
  assert.deepEqual(scannedPressure(`some ${LINE}\n`), { some: 12.5, full: undefined, total: parsePressure(`some ${LINE}\n`).some.total });
  assert.deepEqual(scannedPressure(`some ${LINE}\nfull ${LINE.replace('12.50', '0.01')}\n`), { some: 12.5, full: 0.01, total: parsePressure(`some ${LINE}\n`).some.total });
  assert.equal(scannedPressure(`some ${LINE}\nfull ${LINE}\nsome ${LINE}\n`), undefined);
  assert.equal(scannedPressure(`full ${LINE}\nsome ${LINE}\n`), undefined);
  assert.equal(scannedPressure(`some ${LINE.replace('12.50', '-1.00')}\n`), undefined);
});

test('scanPressure leaves a number of 31 digits to parsePressure in the shortest line that holds one, and reads 30', () => {
  const line = (kind: string, total: string) => `${kind} avg10=1.0 avg60=0.0 avg300=0.0 total=${total}\n`;
  const thirty = '9'.repeat(30);
  const some = line('some', '5');
  assert.equal(line('some', `1${thirty}`).length, 74);
  assert.equal(scannedPressure(line('some', `1${thirty}`)), undefined);
  assert.equal(scannedPressure(some + line('full', `1${thirty}`)), undefined);
  assert.throws(() => parsePressure(some + line('full', `1${thirty}`)), CollectorError);
  assert.deepEqual(scannedPressure(line('some', thirty)), { some: 1, full: undefined, total: Number(thirty) });
  assert.deepEqual(scannedPressure(some + line('full', thirty)), { some: 1, full: 1, total: 5 });
});
