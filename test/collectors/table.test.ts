import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { KernelFile } from '../../src/collectors/procfs.js';
import { RECHECK_MS, TableReader, keptEntries, type TableFormat } from '../../src/collectors/table.js';

// A table of "name value" lines; the layout is the list of names, and a scan reads the
// values of every line while the names are the same ones, in the same order.
interface Layout {
  names: string[];
}
interface Scan {
  names: readonly string[];
  values: number[];
}

function rows(text: string): Array<[string, number]> {
  return text
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => {
      const [name, value] = l.split(' ');
      return [name!, Number(value)];
    });
}

// A KernelFile whose text the test sets, and a format that counts what it was asked to do.
function fixture(initial: string) {
  let text = initial;
  const calls = { readAll: 0, scan: 0, names: 0, scanFor: 0, closed: 0 };
  const file: KernelFile = {
    path: '/fake/table',
    bytes: () => Buffer.from(text, 'latin1'),
    text: () => text,
    textIfPresent: () => text,
    bytesIfPresent: () => Buffer.from(text, 'latin1'),
    close: () => void calls.closed++,
  };
  const format: TableFormat<Layout, Scan> = {
    names(t) {
      calls.names++;
      return rows(t).map(([n]) => n);
    },
    readAll(t) {
      calls.readAll++;
      const r = rows(t);
      const names = r.map(([n]) => n);
      return { scan: { names, values: r.map(([, v]) => v) }, layout: { names } };
    },
    scan(bytes, layout, into) {
      calls.scan++;
      const r = rows(bytes.toString('latin1'));
      if (r.length !== layout.names.length || r.some(([n], i) => n !== layout.names[i])) return false;
      r.forEach(([, v], i) => (into.values[i] = v));
      return true;
    },
    scanFor(layout) {
      calls.scanFor++;
      return { names: layout.names, values: layout.names.map(() => 0) };
    },
    fits: (scan, layout) => scan.names === layout.names,
  };
  return { file, format, calls, set: (t: string) => (text = t) };
}

test('the first reading parses the whole table and has no reading before it', () => {
  const f = fixture('a 1\nb 2\n');
  const reader = new TableReader(f.file, f.format);
  assert.deepEqual(reader.read(0).values, [1, 2]);
  assert.equal(reader.before, undefined);
  assert.deepEqual(f.calls, { readAll: 1, scan: 0, names: 0, scanFor: 0, closed: 0 });
});

test('later readings go through the layout, and before is the reading made just before', () => {
  const f = fixture('a 1\nb 2\n');
  const reader = new TableReader(f.file, f.format);
  reader.read(0);
  f.set('a 5\nb 6\n');
  assert.deepEqual(reader.read(10_000).values, [5, 6]);
  assert.deepEqual(reader.before, { at: 0, scan: { names: ['a', 'b'], values: [1, 2] } });
  assert.equal(f.calls.readAll, 1);
  assert.equal(f.calls.scan, 1);
});

test('a reading is reused as the target of the scan after next, never the one before', () => {
  const f = fixture('a 1\n');
  const reader = new TableReader(f.file, f.format);
  const first = reader.read(0);
  const second = reader.read(1);
  const third = reader.read(2);
  const fourth = reader.read(3);
  assert.notEqual(second, first);
  assert.equal(third, first, 'the third reading should be scanned into the first one');
  assert.equal(fourth, second);
  assert.equal(reader.before?.scan, third);
  assert.equal(f.calls.scanFor, 1, 'only the first scan needs a new reading');
});

test('a scan that fails (the lines changed) gives the whole table parsed again', () => {
  const f = fixture('a 1\nb 2\n');
  const reader = new TableReader(f.file, f.format);
  reader.read(0);
  f.set('a 3\nc 4\nb 5\n');
  const now = reader.read(1);
  assert.deepEqual(now, { names: ['a', 'c', 'b'], values: [3, 4, 5] });
  assert.equal(f.calls.readAll, 2);
  // The new layout serves the next reading.
  f.set('a 6\nc 7\nb 8\n');
  assert.deepEqual(reader.read(2).values, [6, 7, 8]);
  assert.equal(f.calls.readAll, 2);
});

test(`every name is checked again after ${RECHECK_MS / 60_000} minutes, and a changed list is read whole`, () => {
  const f = fixture('a 1\nb 2\n');
  // A scan that would accept anything: only the periodic check can see the change.
  const lenient = { ...f.format, scan: (_b: Buffer, _l: Layout, into: Scan) => (f.calls.scan++, into.values.fill(9), true) };
  const reader = new TableReader(f.file, lenient);
  reader.read(0);
  reader.read(RECHECK_MS - 1);
  assert.equal(f.calls.names, 0, 'checked before its time');
  reader.read(RECHECK_MS);
  assert.equal(f.calls.names, 1);
  assert.equal(f.calls.readAll, 1, 'the same names need no full reading');
  f.set('b 2\na 1\n');
  reader.read(RECHECK_MS + 1);
  assert.equal(f.calls.names, 1, 'checked again before its time');
  reader.read(2 * RECHECK_MS);
  assert.equal(f.calls.names, 2);
  assert.equal(f.calls.readAll, 2, 'a changed list of names was not read whole');
});

test('invalidate makes the next reading parse the whole table', () => {
  const f = fixture('a 1\n');
  const reader = new TableReader(f.file, f.format);
  reader.read(0);
  reader.invalidate();
  reader.read(1);
  assert.equal(f.calls.readAll, 2);
  assert.equal(f.calls.scan, 0);
});

test('a table that cannot be parsed leaves the last reading as it was', () => {
  const f = fixture('a 1\n');
  const failing = {
    ...f.format,
    readAll: (t: string) => {
      if (t.includes('bad')) throw new Error('bad line');
      return f.format.readAll(t);
    },
  };
  const reader = new TableReader(f.file, failing);
  reader.read(0);
  reader.read(1);
  f.set('bad\n');
  assert.throws(() => reader.read(2), /bad line/);
  f.set('a 4\n');
  assert.deepEqual(reader.read(3).values, [4]);
  assert.equal(reader.before?.at, 1, 'the failed reading replaced the last good one');
});

test('close closes the file', () => {
  const f = fixture('a 1\n');
  new TableReader(f.file, f.format).close();
  assert.equal(f.calls.closed, 1);
});

test('keptEntries keeps the accepted entries in file order and names every entry seen', () => {
  const entries = [
    { name: 'sda', v: 1 },
    { name: 'loop0', v: 2 },
    { name: 'sdb', v: 3 },
  ];
  const got = keptEntries(entries, (e) => !e.name.startsWith('loop'));
  assert.deepEqual(got.kept, [entries[0], entries[2]]);
  assert.deepEqual([...got.seen], ['sda', 'loop0', 'sdb']);
  assert.equal(got.repeated, false);
});

test('keptEntries says when a name comes twice, keeping its first place and its last entry', () => {
  const got = keptEntries(
    [
      { name: 'eth0', v: 1 },
      { name: 'eth1', v: 2 },
      { name: 'eth0', v: 3 },
    ],
    () => true,
  );
  assert.equal(got.repeated, true);
  assert.deepEqual(got.kept, [
    { name: 'eth0', v: 3 },
    { name: 'eth1', v: 2 },
  ]);
});
