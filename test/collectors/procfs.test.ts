import assert from 'node:assert/strict';
import fs, { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';
import util from 'node:util';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { kernelFile, onKernelFs, readKernelTextIfPresent } from '../../src/collectors/procfs.js';
import { CollectorError } from '../../src/util/errors.js';
import { mkfifo } from '../faults/helpers.js';
import { tempDir } from './helpers.js';

const openFds = (): number => readdirSync('/proc/self/fd').length;

test('onKernelFs tells procfs, sysfs and the cgroup file systems from any other filesystem', (t) => {
  assert.equal(onKernelFs('/proc/loadavg'), true);
  if (existsSync('/sys/devices/system/cpu/online')) assert.equal(onKernelFs('/sys/devices/system/cpu/online'), true);
  // Where this host mounts them: cgroup v1's cpu hierarchy, and v2 (alone or beside v1).
  for (const file of ['/sys/fs/cgroup/cpu/cpu.cfs_period_us', '/sys/fs/cgroup/cgroup.controllers', '/sys/fs/cgroup/unified/cgroup.controllers']) {
    if (existsSync(file)) assert.equal(onKernelFs(file), true, file);
  }
  const dir = tempDir(t);
  writeFileSync(join(dir, 'stat'), 'cpu 1 2 3\n');
  assert.equal(onKernelFs(join(dir, 'stat')), false);
  assert.equal(onKernelFs(join(dir, 'missing')), false);
});

test('a file on procfs is read again through the one descriptor it keeps open', () => {
  const before = openFds();
  const file = kernelFile('load', '/proc/loadavg');
  try {
    const first = file.text();
    assert.match(first, /^\d+\.\d+ \d+\.\d+ \d+\.\d+ \d+\/\d+ \d+\n$/);
    assert.equal(openFds(), before + 1);
    for (let i = 0; i < 5; i++) assert.match(file.text(), /^\d+\.\d+ \d+\.\d+ \d+\.\d+ \d+\/\d+ \d+\n$/);
    assert.equal(openFds(), before + 1);
  } finally {
    file.close();
  }
  assert.equal(openFds(), before);
});

test('a kept procfs file longer than one seq_file page is read whole each time, not its first page again', () => {
  // /proc/vmstat prints one record per counter, a page at a time, and runs past 4 kB on any recent kernel.
  const names = (text: string): string[] => text.trim().split('\n').map((l) => l.split(' ')[0]!);
  const expected = names(readFileSync('/proc/vmstat', 'latin1'));
  const file = kernelFile('memory', '/proc/vmstat');
  try {
    for (let i = 0; i < 3; i++) assert.deepEqual(names(file.text()), expected);
  } finally {
    file.close();
  }
});

// Counts the reads the module under test makes: its named import of readvSync follows
// node:fs once syncBuiltinESMExports has run.
function countReads(t: TestContext): () => number {
  const spy = t.mock.method(fs, 'readvSync');
  syncBuiltinESMExports();
  t.after(() => {
    spy.mock.restore();
    syncBuiltinESMExports();
  });
  return () => spy.mock.callCount();
}

test('a kept file of large records (records "many": /proc/diskstats, a disk and its partitions in one) is read to a read of 0 bytes after a short first read', (t) => {
  const dir = tempDir(t);
  const reads = countReads(t);
  const path = join(dir, 'diskstats');
  writeFileSync(path, '   7       0 loop0 1 0 2 0 0 0 0 0 0 0 0 0 0 0 0 0 0\n');
  const file = kernelFile('disk', path, () => true, 'many');
  try {
    const before = reads();
    assert.match(file.text(), /loop0/);
    assert.equal(reads() - before, 2);
  } finally {
    file.close();
  }
});

test('a kept file of one record (/proc/stat) ends at a first read shorter than the buffer, and one longer than the buffer is still read whole', (t) => {
  const dir = tempDir(t);
  const reads = countReads(t);
  // /proc/stat on 128 CPUs: 25 kB, past half a page, one seq_file record.
  const stat = join(dir, 'stat');
  writeFileSync(stat, `${'cpu0 1 2 3 4 5 6 7 8 9 10\n'.repeat(1000)}`);
  const file = kernelFile('cpu', stat, () => true, 'one');
  try {
    for (let i = 0; i < 2; i++) {
      const before = reads();
      assert.equal(file.bytes().length, 26_000);
      assert.equal(reads() - before, 1);
    }
  } finally {
    file.close();
  }
  // Past the read buffer (64 kB or more, grown by the tests before): every byte, kept open or not.
  const lines: string[] = [];
  for (let i = 0; i < 120_000; i++) lines.push(`intr${i} ${i * 7919} ${i % 13}`);
  const text = `${lines.join('\n')}\n`; // about 2.3 MB
  writeFileSync(join(dir, 'big'), text);
  for (const keep of [true, false]) {
    const big = kernelFile('cpu', join(dir, 'big'), () => keep, 'one');
    try {
      assert.equal(big.text(), text);
      assert.equal(big.text(), text, 'read again');
    } finally {
      big.close();
    }
  }
});

test('a kept file whose first read gives at most half a page is read once; a longer one, and a file opened for each read, to a read of 0 bytes', (t) => {
  const dir = tempDir(t);
  const reads = countReads(t);
  const cases: Array<[size: number, keep: boolean, expected: number]> = [[1, true, 1], [2048, true, 1], [2049, true, 2], [1, false, 2], [2048, false, 2]];
  for (const [size, keep, expected] of cases) {
    const path = join(dir, `f${size}`);
    writeFileSync(path, 'x'.repeat(size - 1) + '\n');
    const file = kernelFile('load', path, () => keep);
    try {
      for (let i = 0; i < 2; i++) {
        const before = reads();
        assert.equal(file.bytes().length, size);
        assert.equal(reads() - before, expected, `${size} bytes, ${keep ? 'kept open' : 'opened each time'}`);
      }
    } finally {
      file.close();
    }
  }
});

test('kept procfs and sysfs files read whole, in one read where they are short, the same as readFileSync', () => {
  const paths = ['/proc/version', '/proc/filesystems', '/proc/self/cmdline', '/sys/devices/system/cpu/online', '/sys/devices/system/cpu/possible'];
  for (const path of paths.filter((p) => existsSync(p))) {
    const file = kernelFile('load', path);
    try {
      for (let i = 0; i < 2; i++) assert.equal(file.text(), readFileSync(path, 'latin1'), path);
    } finally {
      file.close();
    }
  }
});

test('a file elsewhere is opened for each read, so a file replaced at its path is read anew', (t) => {
  const dir = tempDir(t);
  const path = join(dir, 'loadavg');
  writeFileSync(path, 'first\n');
  const file = kernelFile('load', path);
  const before = openFds();
  assert.equal(file.text(), 'first\n');
  assert.equal(openFds(), before);
  writeFileSync(`${path}.new`, 'second\n');
  renameSync(`${path}.new`, path);
  assert.equal(file.text(), 'second\n');
  rmSync(path);
  assert.throws(() => file.text(), (err: unknown) => err instanceof CollectorError && /cannot open .*loadavg: ENOENT/.test(err.message));
  assert.equal(file.textIfPresent(), undefined);
});

test('a kept descriptor whose read fails is closed, and the next read opens the path again', (t) => {
  const dir = tempDir(t);
  const path = join(dir, 'speed');
  mkdirSync(path); // opens, but a read fails (EISDIR), as a removed device's attribute does (ENODEV)
  const file = kernelFile('network', path, () => true);
  const before = openFds();
  assert.throws(() => file.bytes(), (err: unknown) => err instanceof CollectorError && /cannot read .*speed: EISDIR/.test(err.message));
  assert.equal(openFds(), before, 'the descriptor of the failed read is closed');
  rmSync(path, { recursive: true });
  writeFileSync(path, '1000\n');
  assert.equal(file.text(), '1000\n');
  assert.equal(openFds(), before + 1, 'kept open once read');
  file.close();
  assert.equal(openFds(), before);
});

test('a file taken for a kernel file that cannot be read at an offset (ESPIPE) is read as a stream instead', (t) => {
  const dir = tempDir(t);
  const path = join(dir, 'stat');
  mkfifo(path); // no writer: a stream read gives end-of-file at once, a read at an offset ESPIPE
  const file = kernelFile('cpu', path, () => true);
  const before = openFds();
  assert.equal(file.bytes().length, 0);
  assert.equal(file.bytes().length, 0);
  assert.equal(openFds(), before, 'opened for each read from then on');
});

test('whether a file is kept open is decided once, not asked again at each read', (t) => {
  const dir = tempDir(t);
  const path = join(dir, 'loadavg');
  writeFileSync(path, '0.00 0.00 0.00 1/1 1\n');
  let asked = 0;
  const file = kernelFile('load', path, () => {
    asked++;
    return false;
  });
  for (let i = 0; i < 4; i++) file.text();
  assert.equal(asked, 1);
});

test('a file larger than the read buffer is read whole, opened each time or kept open, and one past the size limit is refused', (t) => {
  const dir = tempDir(t);
  // 300 kB of numbered lines: several reads, the buffer grown twice, every byte where it belongs.
  const lines: string[] = [];
  for (let i = 0; lines.join('\n').length < 300_000; i++) lines.push(`dev${i} ${i * 7919} ${i % 13}`);
  const text = `${lines.join('\n')}\n`;
  writeFileSync(join(dir, 'diskstats'), text);
  assert.equal(kernelFile('disk', join(dir, 'diskstats'), () => false).text(), text);
  const kept = kernelFile('disk', join(dir, 'diskstats'), () => true);
  try {
    assert.equal(kept.text(), text);
    assert.equal(kept.text(), text, 'read again from offset 0 through the kept descriptor');
  } finally {
    kept.close();
  }
  writeFileSync(join(dir, 'huge'), Buffer.alloc(4 * 1024 * 1024 + 1, 0x31));
  assert.throws(() => kernelFile('disk', join(dir, 'huge')).bytes(), (err: unknown) => err instanceof CollectorError && /huge is larger than 4194304 bytes/.test(err.message));
  assert.equal(kernelFile('disk', join(dir, 'diskstats')).text(), text, 'a refused file leaves the next read whole');
});

test('a file that is present but cannot be read is a failure, not an absent file', (t) => {
  const dir = tempDir(t);
  assert.equal(readKernelTextIfPresent('pressure', join(dir, 'missing')), undefined);
  assert.throws(() => readKernelTextIfPresent('pressure', dir), (err: unknown) => err instanceof CollectorError && /EISDIR/.test(err.message));
  assert.throws(() => kernelFile('pressure', dir).textIfPresent(), (err: unknown) => err instanceof CollectorError && /EISDIR/.test(err.message));
});

// Node's getSystemErrorMap builds a Map of every libuv errno at each call, about 150 000
// instructions: a file absent at every report (PSI off on RHEL 8 and 9) paid that once a
// report for the words of an error no one reads.
test('a file absent at every report asks Node for its table of errnos at most once, not once a read', (t) => {
  const dir = tempDir(t);
  const spy = t.mock.method(util, 'getSystemErrorMap');
  syncBuiltinESMExports();
  t.after(() => {
    spy.mock.restore();
    syncBuiltinESMExports();
  });
  const file = kernelFile('pressure', join(dir, 'cpu'));
  for (let report = 0; report < 5; report++) {
    assert.equal(file.bytesIfPresent(), undefined);
    assert.equal(readKernelTextIfPresent('pressure', join(dir, 'io')), undefined);
  }
  assert.ok(spy.mock.callCount() <= 1, `getSystemErrorMap called ${spy.mock.callCount()} times`);
});
