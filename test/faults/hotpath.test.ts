// The collectors' hot-path readers (scanStat, scanDiskstats...) against the strict
// parsers, with fast-check: kernel-shaped text with random counters, then hostile
// edits (characters inserted, replaced or deleted: separators, signs, exponents,
// newlines). A reader may leave any text to the parser (undefined); when it does
// return, it never throws, every number is finite, and the parser gives the same
// values for what the reader read, or rejects the text (a line the reader skips).
// $LAVARANK_FUZZ_RUNS sets the runs per reader, $LAVARANK_FAULT_SEED replays a seed.
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import fc from 'fast-check';
import { cpuSet, createCpuCollector, parseStat, scanStat, TIMES_SLOTS, type StatCounters } from '../../src/collectors/cpu.js';
import { diskLayout, parseDiskstats, type DiskCounters } from '../../src/collectors/disk.js';
import { parseLoadavg } from '../../src/collectors/loadavg.js';
import { createMemoryCollector, MEMINFO_SLOTS, parseMeminfo, parseVmstat, scanMeminfo, type MeminfoCounters, type VmstatCounters } from '../../src/collectors/memory.js';
import { netDevLayout, netScanFor, parseNetDev, scanNetDev } from '../../src/collectors/network.js';
import { parsePressure } from '../../src/collectors/pressure.js';
import { numberSlots, ratePerSec } from '../../src/collectors/text.js';
import type { CpuReading, MemoryReading } from '../../src/collectors/types.js';
import { CollectorError } from '../../src/util/errors.js';
import { tempDir } from '../helpers.js';
import { scannedCpuIdle, scannedDisks, scannedInterfaces, scannedLoadavg, scannedMeminfo, scannedPressure, scannedStat, scannedVmstat } from '../collectors/helpers.js';
import { referenceIoTicks } from '../collectors/diskstats-reference.js';
import { referenceMeminfo } from '../collectors/meminfo-reference.js';
import { referenceScanNetDev } from '../collectors/netdev-reference.js';
import { referenceScanStat } from '../collectors/stat-lines-reference.js';
import { referenceCpuIdle } from '../collectors/stat-reference.js';
import { envCount } from './helpers.js';

const RUNS = envCount('LAVARANK_FUZZ_RUNS', 300);
const SEED = Number(process.env['LAVARANK_FAULT_SEED']) || undefined;

// What the parser makes of a text: its value, or undefined when it rejects it (always with a CollectorError).
function strict<T>(parse: () => T): T | undefined {
  try {
    return parse();
  } catch (err) {
    assert.ok(err instanceof CollectorError, `untyped rejection: ${String(err)}`);
    return undefined;
  }
}

function allFinite(value: unknown): boolean {
  if (typeof value === 'number') return Number.isFinite(value);
  if (typeof value !== 'object' || value === null) return true;
  return Object.values(value).every(allFinite);
}

// The reader's value against the parser's: false when either gives nothing, else true once compare's assertions pass.
function agrees<S, P>(scanned: S | undefined, parse: () => P, compare: (scanned: S, parsed: P) => void = (s, p) => assert.deepEqual(s, p)): boolean {
  if (scanned === undefined) return false;
  assert.ok(allFinite(scanned));
  const parsed = strict(parse);
  if (parsed === undefined) return false;
  compare(scanned, parsed);
  return true;
}

// A reading of scanStat (its answer, times slots and idle + iowait) against the old
// reading's, the oracle: every text the old one read, read to the same numbers or, with
// idle + iowait, left to parseStat for a character by which Number() reads what parseStat
// does not; any other only where parseStat rejects it or gives the same total, CPU set and
// idle + iowait (since 2026-12-07 whitespace other than spaces after the cpuN lines is read
// past, and idle and iowait are read by Number(), as parseStat reads them, more than 15
// digits too).
// What scanStat with idle + iowait leaves to parseStat, read by the readings before 2026-12-07.
const NOT_DECIMAL = /[+.eExXoObB]/;
interface StatReading {
  read: boolean;
  times: number[];
  idle: number[] | undefined;
}
function asOldOrParsed(text: string, known: readonly string[], old: StatReading, now: StatReading): boolean {
  if (old.read && !now.read && now.idle !== undefined) {
    assert.match(text, NOT_DECIMAL, 'the old reading read it');
    return false;
  }
  if (old.read) {
    assert.equal(now.read, true, 'the old reading read it');
    assert.deepEqual(now.times, old.times);
    assert.deepEqual(now.idle, old.idle);
    return true;
  }
  if (!now.read) return false;
  assert.ok(allFinite(now.times) && allFinite(now.idle));
  const parsed = strict(() => parseStat(text));
  if (parsed === undefined) return false;
  const t = parsed.total;
  assert.deepEqual(now.times.slice(0, 8), [t.user, t.nice, t.system, t.idle, t.iowait, t.irq, t.softirq, t.steal]);
  assert.deepEqual(known, parsed.cpus);
  if (now.idle !== undefined) assert.deepEqual([...now.idle], parsed.cpuIdle, `read ${JSON.stringify(now.idle)} where the old reading did not`);
  return true;
}

// Hostile edits: a character inserted, replaced or deleted at a position.
const edit = fc.tuple(fc.nat(), fc.constantFrom('insert', 'replace', 'delete'), fc.constantFrom(' ', '  ', '\t', '\n', '\r', 'x', '-', '+', '.', 'e', 'E', '0', '9', ':', '=', '/', '\u00a0'));
const edits = fc.oneof({ weight: 1, arbitrary: fc.constant([] as Array<[number, string, string]>) }, { weight: 3, arbitrary: fc.array(edit, { minLength: 1, maxLength: 4 }) });

function applyEdits(text: string, list: ReadonlyArray<readonly [number, string, string]>): string {
  let t = text;
  for (const [pos, kind, ch] of list) {
    const at = pos % (t.length + 1);
    if (kind === 'insert') t = t.slice(0, at) + ch + t.slice(at);
    else if (kind === 'replace') t = t.slice(0, at) + ch + t.slice(at + 1);
    else t = t.slice(0, at) + t.slice(at + 1);
  }
  return t;
}

// Counters as the kernel prints them: up to 20 digits (a u64).
const counter = fc.oneof(fc.nat(), fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }).map(Number)).map((n) => BigInt(Math.floor(n)).toString());
const counters = (n: number) => fc.array(counter, { minLength: n, maxLength: n });

// check returns true when the reader returned a value the parser agreed with. A reader
// that leaves everything to the parser would be correct and useless, so at least a
// tenth of the runs (a quarter have no edits) must be read by the reader itself.
function property<T>(name: string, arb: fc.Arbitrary<T>, check: (input: T) => boolean): void {
  it(name, () => {
    let agreed = 0;
    fc.assert(
      fc.property(arb, (input) => {
        if (check(input)) agreed++;
      }),
      { numRuns: RUNS, ...(SEED === undefined ? {} : { seed: SEED }) },
    );
    assert.ok(agreed >= RUNS / 10, `the reader read only ${agreed} of ${RUNS} texts itself`);
  });
}

describe('hot-path readers agree with the parsers', () => {
  property(
    'scanStat: the aggregate line and the cpuN names parseStat gives, or nothing',
    fc.tuple(fc.integer({ min: 1, max: 6 }), counters(10), fc.array(counters(10), { minLength: 6, maxLength: 6 }), fc.boolean(), edits),
    ([n, total, cpus, knowTheSet, list]) => {
      const names = Array.from({ length: n }, (_, i) => `cpu${i}`);
      const kernel = [`cpu  ${total.join(' ')}`, ...names.map((c, i) => `${c} ${cpus[i]!.join(' ')}`), 'intr 5 0 1', 'processes 42', ''].join('\n');
      const text = applyEdits(kernel, list);
      const known = cpuSet(knowTheSet ? names : names.slice(1));
      return agrees(scannedStat(Buffer.from(text, 'latin1'), known), () => parseStat(text), (scanned, parsed) => {
        assert.deepEqual(scanned, parsed.total);
        assert.deepEqual(known.names, parsed.cpus);
      });
    },
  );

  property(
    "scanStat with per-CPU idle: each cpuN line's idle + iowait parseStat gives, or nothing",
    // One CPU's jiffies stay under 10^15 for 300 000 years at 100 Hz: a longer field is
    // left to the parser, so most lines here are of realistic length.
    fc.tuple(fc.integer({ min: 1, max: 6 }), counters(10), fc.array(fc.array(fc.oneof({ weight: 9, arbitrary: fc.nat().map(String) }, { weight: 1, arbitrary: counter }), { minLength: 10, maxLength: 10 }), { minLength: 6, maxLength: 6 }), edits),
    ([n, total, cpus, list]) => {
      const names = Array.from({ length: n }, (_, i) => `cpu${i}`);
      const kernel = [`cpu  ${total.join(' ')}`, ...names.map((c, i) => `${c} ${cpus[i]!.join(' ')}`), 'intr 5 0 1', 'processes 42', ''].join('\n');
      const text = applyEdits(kernel, list);
      return agrees(scannedCpuIdle(Buffer.from(text, 'latin1'), cpuSet(names)), () => parseStat(text), (scanned, parsed) => assert.deepEqual(scanned, parsed.cpuIdle));
    },
  );

  property(
    'scanStat with per-CPU idle, names of 5 to 9 bytes ("cpu7 " to "cpu10000 ") edited or cut short: what parseStat gives, or nothing',
    fc.tuple(
      fc.uniqueArray(fc.oneof(fc.integer({ min: 0, max: 9 }), fc.integer({ min: 10, max: 99 }), fc.integer({ min: 100, max: 999 }), fc.integer({ min: 1000, max: 9999 }), fc.integer({ min: 10000, max: 99999 })), { minLength: 1, maxLength: 6 }),
      fc.array(fc.array(fc.nat().map(String), { minLength: 10, maxLength: 10 }), { minLength: 6, maxLength: 6 }),
      fc.option(fc.tuple(fc.nat(), fc.nat(), fc.constantFrom('insert', 'replace', 'delete'), fc.constantFrom(' ', 'x', '0', '1', '9', 'c', '\n')), { freq: 2 }),
      fc.option(fc.nat(), { freq: 2 }),
    ),
    ([numbers, cpus, nameEdit, cut]) => {
      const names = [...numbers].sort((a, b) => a - b).map((n) => `cpu${n}`);
      const lines = ['cpu  1 2 3 4 5 6 7 8 0 0', ...names.map((c, i) => `${c} ${cpus[i]!.join(' ')}`)];
      // One character of a name, or of the space after it, inserted, replaced or deleted.
      if (nameEdit !== null) {
        const [line, at, kind, ch] = nameEdit;
        const k = 1 + (line % names.length);
        lines[k] = applyEdits(lines[k]!, [[at % (names[k - 1]!.length + 2), kind, ch]]);
      }
      let text = [...lines, 'intr 5 0 1', 'processes 42', ''].join('\n');
      // Cut short: a name near the end of the bytes, where two words cannot be read.
      if (cut !== null) text = text.slice(0, cut % (text.length + 1));
      return agrees(scannedCpuIdle(Buffer.from(text, 'latin1'), cpuSet(names)), () => parseStat(text), (scanned, parsed) => assert.deepEqual(scanned, parsed.cpuIdle));
    },
  );

  // The old reading (test/collectors/stat-reference.ts) as the oracle of the new one's
  // numbers: leading zeros, 15 and 16 digits, counters past 2^53, fields that are no
  // count or empty (two spaces), lines with fields missing, the text cut anywhere.
  const statField = fc.oneof(
    { weight: 40, arbitrary: fc.nat().map(String) },
    { weight: 4, arbitrary: counter },
    { weight: 4, arbitrary: fc.tuple(fc.integer({ min: 1, max: 4 }), fc.nat()).map(([zeros, n]) => '0'.repeat(zeros) + String(n)) },
    { weight: 2, arbitrary: fc.constantFrom('999999999999999', '1000000000000000', '9007199254740993', '18446744073709551615') },
    { weight: 1, arbitrary: fc.constantFrom('', 'x1', '-5', '1.5', '+3', '1e3', '0x10', '1e2', '100.', '1e000000010', '0x174876E800', '1e0100') },
  );
  property(
    "scanStat with per-CPU idle: every text the reading before 2026-12-06 read, read to the same numbers; any other only where parseStat rejects it or reads the same",
    fc.tuple(
      fc.integer({ min: 1, max: 6 }),
      fc.array(fc.oneof({ weight: 9, arbitrary: fc.array(statField, { minLength: 5, maxLength: 10 }) }, { weight: 1, arbitrary: fc.array(statField, { minLength: 3, maxLength: 4 }) }), { minLength: 6, maxLength: 6 }),
      edits,
      fc.oneof({ weight: 4, arbitrary: fc.constant(null) }, { weight: 1, arbitrary: fc.nat() }),
    ),
    ([n, cpus, list, cut]) => {
      const names = Array.from({ length: n }, (_, i) => `cpu${i}`);
      const kernel = ['cpu  1 2 3 4 5 6 7 8 0 0', ...names.map((c, i) => `${c} ${cpus[i]!.join(' ')}`), 'intr 5 0 1', 'processes 42', ''].join('\n');
      let text = applyEdits(kernel, list);
      if (cut !== null) text = text.slice(0, cut % (text.length + 1));
      const bytes = Buffer.from(text, 'latin1');
      const known = cpuSet(names);
      const old = referenceCpuIdle(bytes, known);
      const now = scannedCpuIdle(bytes, known);
      if (old !== undefined && now === undefined) assert.match(text, NOT_DECIMAL, 'the old reading read it');
      else if (old !== undefined) assert.deepEqual(now, old);
      else if (now !== undefined) {
        const parsed = strict(() => parseStat(text));
        if (parsed !== undefined) assert.deepEqual(now, parsed.cpuIdle, `read ${JSON.stringify(now)} where the old reading did not`);
      }
      return old !== undefined;
    },
  );

  // The reading that found the cpuN lines in the bytes (test/collectors/stat-lines-reference.ts)
  // as the oracle of the one that finds them in a latin1 string: names of 5 to 9 bytes, a
  // known set that is not the file's, fields of every kind, the text edited and cut.
  property(
    'scanStat, its cpuN lines found in a string: the answer, the times and the idle + iowait of the reading that found them in the bytes',
    fc.tuple(
      fc.uniqueArray(fc.oneof(fc.integer({ min: 0, max: 9 }), fc.integer({ min: 10, max: 99 }), fc.integer({ min: 100, max: 999 }), fc.integer({ min: 1000, max: 99999 })), { minLength: 1, maxLength: 6 }),
      fc.array(fc.oneof({ weight: 9, arbitrary: fc.array(statField, { minLength: 5, maxLength: 10 }) }, { weight: 1, arbitrary: fc.array(statField, { minLength: 3, maxLength: 4 }) }), { minLength: 6, maxLength: 6 }),
      // The file's own set most often: the other three are each refused by both readings,
      // and the property asks that a tenth of its runs be read (at one in four, 29 of 300
      // were in one CI run).
      fc.oneof({ weight: 6, arbitrary: fc.constant('same' as const) }, { weight: 1, arbitrary: fc.constantFrom('first left out' as const, 'last left out' as const, 'one more' as const) }),
      fc.boolean(),
      edits,
      fc.oneof({ weight: 4, arbitrary: fc.constant(null) }, { weight: 1, arbitrary: fc.nat() }),
    ),
    ([numbers, cpus, set, withIdle, list, cut]) => {
      const names = [...numbers].sort((a, b) => a - b).map((n) => `cpu${n}`);
      const kernel = ['cpu  1 2 3 4 5 6 7 8 0 0', ...names.map((c, i) => `${c} ${cpus[i]!.join(' ')}`), 'intr 5 0 1', 'processes 42', ''].join('\n');
      let text = applyEdits(kernel, list);
      if (cut !== null) text = text.slice(0, cut % (text.length + 1));
      const bytes = Buffer.from(text, 'latin1');
      const known = set === 'same' ? names : set === 'first left out' ? names.slice(1) : set === 'last left out' ? names.slice(0, -1) : [...names, 'cpu100000'];
      const oldTimes = numberSlots(TIMES_SLOTS);
      const newTimes = numberSlots(TIMES_SLOTS);
      const oldIdle = numberSlots(known.length);
      const newIdle = numberSlots(known.length);
      const old = referenceScanStat(bytes, known, oldTimes, withIdle ? oldIdle : undefined);
      const now = scanStat(bytes, cpuSet(known), newTimes, withIdle ? newIdle : undefined);
      return asOldOrParsed(text, known, { read: old, times: oldTimes, idle: withIdle ? oldIdle : undefined }, { read: now, times: newTimes, idle: withIdle ? newIdle : undefined });
    },
  );

  // A CpuSet keeps how much of the file the last reading's string held: a reading of
  // another text through it (lines longer or shorter, edited, cut, another cpu line in or
  // after intr's numbers) must read what the reading that found the lines in the bytes reads.
  property(
    'scanStat after another reading through the same set: the answer, the times and the idle + iowait of the reading that found the lines in the bytes',
    fc.tuple(
      fc.integer({ min: 1, max: 6 }),
      fc.array(fc.array(statField, { minLength: 10, maxLength: 10 }), { minLength: 6, maxLength: 6 }),
      // The second reading's lines as long as to end past the first's string: its times past iowait, which neither reading reads, of up to 119 digits.
      fc.array(fc.tuple(fc.array(statField, { minLength: 5, maxLength: 5 }), fc.array(fc.oneof(statField, fc.nat(79).map((k) => '9'.repeat(40 + k))), { minLength: 5, maxLength: 5 })).map(([a, b]) => [...a, ...b]), { minLength: 6, maxLength: 6 }),
      fc.integer({ min: 0, max: 1600 }),
      fc.boolean(),
      edits,
      fc.oneof({ weight: 4, arbitrary: fc.constant(null) }, { weight: 1, arbitrary: fc.nat() }),
    ),
    ([n, first, second, intr, withIdle, list, cut]) => {
      const names = Array.from({ length: n }, (_, i) => `cpu${i}`);
      // intr's numbers past the string's slack and a page, so that the second reading's string ends before the file does.
      const kernelOf = (cpus: string[][]) => ['cpu  1 2 3 4 5 6 7 8 0 0', ...names.map((c, i) => `${c} ${cpus[i]!.join(' ')}`), `intr ${'1 0 '.repeat(intr)}5`, 'processes 42', ''].join('\n');
      const set = cpuSet(names);
      scanStat(Buffer.from(kernelOf(first), 'latin1'), set, numberSlots(TIMES_SLOTS), withIdle ? numberSlots(n) : undefined);
      let text = applyEdits(kernelOf(second), list);
      if (cut !== null) text = text.slice(0, cut % (text.length + 1));
      const bytes = Buffer.from(text, 'latin1');
      const oldTimes = numberSlots(TIMES_SLOTS);
      const newTimes = numberSlots(TIMES_SLOTS);
      const oldIdle = numberSlots(n);
      const newIdle = numberSlots(n);
      const old = referenceScanStat(bytes, names, oldTimes, withIdle ? oldIdle : undefined);
      const now = scanStat(bytes, set, newTimes, withIdle ? newIdle : undefined);
      return asOldOrParsed(text, names, { read: old, times: oldTimes, idle: withIdle ? oldIdle : undefined }, { read: now, times: newTimes, idle: withIdle ? newIdle : undefined });
    },
  );

  property(
    'scanLoadavg: what parseLoadavg gives, or nothing',
    fc.tuple(counters(6), edits),
    ([v, list]) => {
      const text = applyEdits(`${v[0]}.${v[1]!.slice(-2)} ${v[1]}.05 ${v[2]}.00 ${v[3]}/${v[4]} ${v[5]}\n`, list);
      return agrees(scannedLoadavg(text), () => parseLoadavg(text), (scanned, parsed) => assert.deepEqual(scanned, { load1: parsed.load1, running: parsed.running }));
    },
  );

  property(
    'scanMeminfo: what parseMeminfo gives, or nothing',
    fc.tuple(counters(9), fc.boolean(), edits),
    ([v, available, list]) => {
      const keys = ['MemTotal', 'MemFree', ...(available ? ['MemAvailable'] : []), 'Buffers', 'Cached', 'SwapCached', 'SwapTotal', 'SwapFree', 'Dirty'];
      const kernel = keys.map((k, i) => `${`${k}:`.padEnd(16)}${v[i]!.padStart(8)} kB`).join('\n') + '\nHugePages_Total:       0\n';
      const text = applyEdits(kernel, list);
      return agrees(scannedMeminfo(text), () => parseMeminfo(text));
    },
  );

  // Each wanted line may come again further down with another value (the parsers keep
  // the last), or first of the file, as a cut or an edit may leave it.
  property(
    'scanMeminfo: the same answer and values as the reading before 2026-12-06 for every text, names found twice included',
    fc.tuple(counters(9), fc.boolean(), fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 6 }), counter), { maxLength: 3 }), edits, fc.oneof({ weight: 4, arbitrary: fc.constant(null) }, { weight: 1, arbitrary: fc.nat() })),
    ([v, available, again, list, cut]) => {
      const keys = ['MemTotal', 'MemFree', ...(available ? ['MemAvailable'] : []), 'Buffers', 'Cached', 'SwapCached', 'SwapTotal', 'SwapFree', 'Dirty'];
      const wanted = ['MemTotal', 'MemFree', 'MemAvailable', 'Buffers', 'Cached', 'SwapTotal', 'SwapFree'];
      const lines = keys.map((k, i) => `${`${k}:`.padEnd(16)}${v[i]!.padStart(8)} kB`);
      for (const [at, k, value] of again) lines.splice(at % (lines.length + 1), 0, `${`${wanted[k]!}:`.padEnd(16)}${value.padStart(8)} kB`);
      let text = applyEdits(lines.join('\n') + '\nHugePages_Total:       0\n', list);
      if (cut !== null) text = text.slice(cut % (text.length + 1));
      const bytes = Buffer.from(text, 'latin1');
      const old = referenceMeminfo(bytes);
      const now: Array<number | undefined> = numberSlots(MEMINFO_SLOTS);
      assert.equal(scanMeminfo(bytes, now), old.read);
      assert.deepEqual(now, old.slots);
      return old.read;
    },
  );

  property(
    'scanVmstat: what parseVmstat gives, or nothing',
    fc.tuple(counters(6), fc.shuffledSubarray(['nr_free_pages', 'pgpgin', 'pswpin', 'pswpout', 'pgfault', 'pgmajfault'], { minLength: 4 }), edits),
    ([v, keys, list]) => {
      const text = applyEdits(keys.map((k, i) => `${k} ${v[i]}`).join('\n') + '\n', list);
      return agrees(scannedVmstat(Buffer.from(text, 'latin1')), () => parseVmstat(text));
    },
  );

  property(
    'scanPressure: what parsePressure gives, or nothing',
    fc.tuple(fc.array(fc.integer({ min: 0, max: 10_000 }), { minLength: 6, maxLength: 6 }), counters(2), fc.boolean(), edits),
    ([avg, totals, full, list]) => {
      const pct = (x: number) => (x / 100).toFixed(2);
      const line = (kind: string, a: number, t: string) => `${kind} avg10=${pct(avg[a]!)} avg60=${pct(avg[a + 1]!)} avg300=${pct(avg[a + 2]!)} total=${t}\n`;
      const text = applyEdits(line('some', 0, totals[0]!) + (full ? line('full', 3, totals[1]!) : ''), list);
      return agrees(scannedPressure(text), () => parsePressure(text), (scanned, parsed) => assert.deepEqual(scanned, { some: parsed.some.avg10, full: parsed.full?.avg10, total: parsed.some.total }));
    },
  );

  // Numbers of 1 to 3 digits and some of 25 to 33, so that lines run from the shortest to
  // either side of the length under which scanPressure's cheaper expression is used (a
  // 31-digit number makes a line of 74 characters or more).
  const psiDigits = fc.oneof({ weight: 6, arbitrary: fc.integer({ min: 1, max: 3 }) }, { weight: 1, arbitrary: fc.integer({ min: 25, max: 33 }) });
  const psiNumber = psiDigits.chain((n) => fc.stringMatching(new RegExp(`^\\d{${n}}$`)));
  property(
    'scanPressure: what parsePressure gives for numbers of up to 33 digits, and nothing where it rejects one',
    fc.tuple(fc.array(psiNumber, { minLength: 14, maxLength: 14 }), fc.boolean()),
    ([n, full]) => {
      const line = (kind: string, a: number) => `${kind} avg10=${n[a]}.${n[a + 1]} avg60=${n[a + 2]}.${n[a + 3]} avg300=${n[a + 4]}.${n[a + 5]} total=${n[a + 6]}\n`;
      const text = line('some', 0) + (full ? line('full', 7) : '');
      // In the kernel's layout the reader reads exactly what the parser takes.
      const scanned = scannedPressure(text);
      const parsed = strict(() => parsePressure(text));
      assert.equal(scanned !== undefined, parsed !== undefined, text);
      if (parsed !== undefined) assert.deepEqual(scanned, { some: parsed.some.avg10, full: parsed.full?.avg10, total: parsed.some.total });
      return scanned !== undefined;
    },
  );

  // Lines of sda..sdd (whole disks: the layout) with partitions and a loop device.
  const DEVICES = [
    ['sda', 8, 0],
    ['sda1', 8, 1],
    ['sdb', 8, 16],
    ['loop0', 7, 0],
    ['sdc', 8, 32],
    ['sdc1', 8, 33],
  ] as const;
  const diskText = (values: string[][], columns: number) =>
    DEVICES.map(([name, major, minor], i) => `${String(major).padStart(4)} ${String(minor).padStart(7)} ${name} ${values[i]!.slice(0, columns).join(' ')}`).join('\n') + '\n';

  property(
    'scanDiskstats: the counters parseDiskstats gives for the disks it knows, or nothing',
    fc.tuple(fc.array(counters(17), { minLength: 6, maxLength: 6 }), fc.array(counters(17), { minLength: 6, maxLength: 6 }), fc.constantFrom(11, 15, 17), edits),
    ([before, after, columns, list]) => {
      const first = diskText(before, columns);
      const layout = diskLayout(first, parseDiskstats(first).filter((d) => /^sd[a-z]$/.test(d.name)));
      assert.ok(layout !== undefined);
      const text = applyEdits(diskText(after, columns), list);
      // As the daemon reads it (io_ticks only), then with the sectors: the same ticks either way.
      const ticksOnly = scannedDisks(Buffer.from(text, 'latin1'), layout, false);
      const full = scannedDisks(Buffer.from(text, 'latin1'), layout);
      if (full !== undefined) assert.deepEqual(ticksOnly?.map((d) => [d.ioTicksMs, d.weightedMs]), full.map((d) => [d.ioTicksMs, d.weightedMs]));
      const ticksAgree = agrees(ticksOnly, () => parseDiskstats(text), (scanned, parsed) => {
        for (const d of scanned) assert.ok(parsed.some((p: DiskCounters) => p.name === d.name && p.ioTicksMs === d.ioTicksMs && p.weightedMs === d.weightedMs), JSON.stringify(d));
      });
      return agrees(full, () => parseDiskstats(text), (scanned, parsed) => {
        for (const d of scanned) assert.ok(parsed.some((p: DiskCounters) => JSON.stringify(p) === JSON.stringify(d)), JSON.stringify(d));
      }) || ticksAgree;
    },
  );

  property(
    "scanDiskstats, io_ticks and the weighted time only: every text the reference reads, read to the same numbers; any other only where parseDiskstats rejects it",
    fc.tuple(fc.array(fc.array(statField, { minLength: 17, maxLength: 17 }), { minLength: 6, maxLength: 6 }), fc.constantFrom(11, 15, 17), edits, fc.oneof({ weight: 4, arbitrary: fc.constant(null) }, { weight: 1, arbitrary: fc.nat() })),
    ([values, columns, list, cut]) => {
      const first = diskText(DEVICES.map(() => Array.from({ length: 17 }, () => '1')), columns);
      const layoutOf = () => diskLayout(first, parseDiskstats(first).filter((d) => /^sd[a-z]$/.test(d.name)))!;
      let text = applyEdits(diskText(values, columns), list);
      if (cut !== null) text = text.slice(0, cut % (text.length + 1));
      const bytes = Buffer.from(text, 'latin1');
      const old = referenceIoTicks(bytes, layoutOf());
      const scanned = scannedDisks(bytes, layoutOf(), false);
      const now = scanned === undefined ? undefined : { ticks: scanned.map((d) => d.ioTicksMs), weighted: scanned.map((d) => d.weightedMs) };
      if (old !== undefined) assert.deepEqual(now, old);
      else if (now !== undefined) assert.equal(strict(() => parseDiskstats(text)), undefined, `read ${JSON.stringify(now)} where parseDiskstats accepts`);
      return old !== undefined;
    },
  );

  const NICS = ['lo', 'eth0', 'docker0', 'eth1'];
  const netText = (values: string[][]) =>
    'Inter-|   Receive |  Transmit\n face |bytes packets|bytes packets\n' + NICS.map((n, i) => `${n.padStart(6)}:${values[i]!.map((v) => v.padStart(8)).join(' ')}`).join('\n') + '\n';

  // And "|": parseNetDev skips a line that has one (it takes it for a header).
  const netEdits = fc.oneof(edits, fc.array(fc.oneof(edit, fc.tuple(fc.nat(), fc.constantFrom('insert', 'replace'), fc.constant('|'))), { minLength: 1, maxLength: 4 }));

  property(
    'scanNetDev: the counters parseNetDev gives for the interfaces it knows, or nothing',
    fc.tuple(fc.array(counters(16), { minLength: 4, maxLength: 4 }), fc.array(counters(16), { minLength: 4, maxLength: 4 }), netEdits),
    ([before, after, list]) => {
      const first = netText(before);
      const layout = netDevLayout(first, parseNetDev(first).filter((c) => c.name.startsWith('eth')));
      assert.ok(layout !== undefined);
      const text = applyEdits(netText(after), list);
      return agrees(scannedInterfaces(Buffer.from(text, 'latin1'), layout), () => parseNetDev(text), (scanned, parsed) => {
        for (const c of scanned) assert.ok(parsed.some((p) => p.name === c.name && p.rxBytes === c.rxBytes && p.txBytes === c.txBytes), JSON.stringify(c));
      });
    },
  );

  // Lines of 14 to 18 fields, each padded by 0 to 3 spaces (none after the colon, as the
  // kernel prints a wide counter), counters of up to 32 digits, edits ("|" too) and cuts.
  const netField = fc.tuple(fc.integer({ min: 0, max: 3 }), fc.oneof({ weight: 8, arbitrary: counter }, { weight: 1, arbitrary: fc.stringMatching(/^\d{25,32}$/) }));
  const netFields = fc.oneof({ weight: 4, arbitrary: fc.array(netField, { minLength: 16, maxLength: 16 }) }, { weight: 1, arbitrary: fc.array(netField, { minLength: 14, maxLength: 18 }) });
  const netEditList = fc.oneof({ weight: 1, arbitrary: fc.constant([] as Array<[number, string, string]>) }, { weight: 1, arbitrary: fc.array(fc.oneof(edit, fc.tuple(fc.nat(), fc.constantFrom('insert', 'replace'), fc.constant('|'))), { minLength: 1, maxLength: 4 }) });
  property(
    'scanNetDev: the same answer, counters and hints as the reading before 2026-12-06 for every text',
    fc.tuple(
      fc.array(netFields, { minLength: 4, maxLength: 4 }),
      netEditList,
      fc.oneof({ weight: 4, arbitrary: fc.constant(null) }, { weight: 1, arbitrary: fc.nat() }),
    ),
    ([rows, list, cut]) => {
      const first = netText(NICS.map(() => Array.from({ length: 16 }, () => '0')));
      const layoutOf = () => netDevLayout(first, parseNetDev(first).filter((c) => c.name.startsWith('eth')))!;
      const lines = rows.map((fields, i) => `${NICS[i]!.padStart(6)}:${fields.map(([pad, v], f) => ' '.repeat(f === 0 ? pad : pad + 1) + v).join('')}`);
      let text = applyEdits('Inter-|   Receive |  Transmit\n face |bytes packets|bytes packets\n' + lines.join('\n') + '\n', list);
      if (cut !== null) text = text.slice(0, cut % (text.length + 1));
      const bytes = Buffer.from(text, 'latin1');
      const oldLayout = layoutOf();
      const newLayout = layoutOf();
      const old = netScanFor(oldLayout);
      const now = netScanFor(newLayout);
      const read = referenceScanNetDev(bytes, oldLayout, old);
      assert.equal(scanNetDev(bytes, newLayout, now), read);
      assert.deepEqual(now, old);
      assert.deepEqual(newLayout, oldLayout);
      return read;
    },
  );
});

// What a collector or the parsers make of a report: a value, or a CollectorError.
type Outcome<T> = { value: T | undefined } | { error: true };

function outcome<T>(f: () => T | undefined): Outcome<T> {
  try {
    return { value: f() };
  } catch (err) {
    assert.ok(err instanceof CollectorError, `untyped rejection: ${String(err)}`);
    return { error: true };
  }
}

// The formulas of docs/collectors.md over two parsed readings' named fields, each
// double computed in the order it always was: the collectors keep their readings in
// arrays and compute each sum once, and must give the same doubles, also for counters
// past 2^53, where the order of the additions shows.
function cpuByName(before: StatCounters, now: StatCounters): CpuReading | undefined {
  if (before.cpus.join() !== now.cpus.join()) return undefined;
  const a = before.total;
  const b = now.total;
  const d = { user: b.user - a.user, nice: b.nice - a.nice, system: b.system - a.system, irq: b.irq - a.irq, softirq: b.softirq - a.softirq, steal: b.steal - a.steal };
  if (Object.values(d).some((v) => v < 0)) return undefined;
  const idleIowait = b.idle + b.iowait - (a.idle + a.iowait);
  if (idleIowait < 0) return undefined;
  const iowait = Math.min(idleIowait, Math.max(0, b.iowait - a.iowait));
  // The sum of each time's delta: past 2^53 the delta of the times' sums loses what a counter near 2^64 rounds off.
  const total = d.user + d.nice + d.system + idleIowait + d.irq + d.softirq + d.steal;
  if (!(total > 0)) return undefined;
  const out: CpuReading = { user: (d.user + d.nice) / total, system: (d.system + d.irq + d.softirq) / total, iowait: iowait / total, steal: d.steal / total, busy: (total - idleIowait) / total, online: now.cpus.length };
  // The least busy CPU: the most idle + iowait one CPU gained, over each CPU's share of
  // the time; a CPU whose idle + iowait went backwards left out.
  const idle = now.cpuIdle.map((v, i) => v - before.cpuIdle[i]!);
  const gained = idle.filter((v) => v >= 0);
  if (gained.length > 0) out.minBusy = Math.min(1, Math.max(0, 1 - Math.max(...gained) / (total / idle.length)));
  return out;
}

function memoryByName(m: MeminfoCounters): MemoryReading {
  const cached = m.shmemBytes === undefined ? m.cachedBytes : Math.max(0, m.cachedBytes - m.shmemBytes);
  const available = Math.min(m.totalBytes, m.availableBytes ?? m.freeBytes + m.buffersBytes + cached);
  const swapUsed = Math.max(0, m.swapTotalBytes - m.swapFreeBytes);
  return { totalBytes: m.totalBytes, availableBytes: available, usedFraction: 1 - available / m.totalBytes, swapTotalBytes: m.swapTotalBytes, swapUsedFraction: m.swapTotalBytes > 0 ? swapUsed / m.swapTotalBytes : 0 };
}

// Over a few reports whose files are kernel-shaped text with hostile edits, each
// collector, which keeps its readings in reused arrays and reads through its hot path
// where it can, gives what those formulas give of the strict parsers' readings: the
// same numbers, bit for bit, or an error on the same report.
describe('collectors over a few reports give what the parsers give', () => {
  const { dir, cleanup } = tempDir('lavarank-hotpath-');
  after(cleanup);
  let runs = 0;
  // A fresh /proc per run: the collector opens its files at the first read.
  const procRoot = (): string => {
    const root = join(dir, String(runs++));
    mkdirSync(root);
    return root;
  };
  const REPORTS = 3;
  const counterBig = fc.bigInt({ min: 0n, max: 2n ** 64n - 1n });
  // The counters of one report: the previous ones plus a small step, sometimes none, sometimes a step back or a jump.
  const steps = (n: number) => fc.array(fc.array(fc.oneof(fc.bigInt({ min: 0n, max: 5000n }), fc.constant(-3n), counterBig), { minLength: n, maxLength: n }), { minLength: REPORTS - 1, maxLength: REPORTS - 1 });
  const series = (start: bigint[], stepList: bigint[][]): string[][] => {
    const out = [start];
    for (const step of stepList) out.push(out[out.length - 1]!.map((v, i) => { const next = v + step[i]!; return next < 0n ? 0n : next; }));
    return out.map((values) => values.map(String));
  };
  const editsPerReport = fc.array(edits, { minLength: REPORTS, maxLength: REPORTS });
  // A hot path may read a file whose strict parser rejects a line it does not read (a
  // cpuN line's numbers, another vmstat line): the collector then goes on from a reading
  // the parsers never gave, and the run is not compared further.
  const stopsHere = <T>(got: Outcome<T>, expected: Outcome<T>): boolean => 'error' in expected && 'value' in got;

  property(
    'cpu: the fractions between the readings parseStat gives',
    fc.tuple(fc.array(counterBig, { minLength: 8, maxLength: 8 }), steps(8), fc.integer({ min: 1, max: 4 }), editsPerReport),
    ([start, stepList, n, editList]) => {
      const root = procRoot();
      const collector = createCpuCollector({ procRoot: root });
      let previous: StatCounters | undefined;
      let failed = false; // a read since the last reading failed: the next one spans it
      let agreed = false;
      const reports = series(start, stepList);
      for (let r = 0; r < reports.length; r++) {
        // Each CPU's idle and iowait follow the aggregate's, at its own fraction.
        const each = (i: number, f: number): string => String(BigInt(reports[r]![f]!) / BigInt(i + 1));
        const kernel = [`cpu  ${reports[r]!.join(' ')} 0 0`, ...Array.from({ length: n }, (_, i) => `cpu${i} 1 2 3 ${each(i, 3)} ${each(i, 4)} 6 7 8 0 0`), 'intr 5 0 1', ''].join('\n');
        const text = applyEdits(kernel, editList[r]!);
        writeFileSync(join(root, 'stat'), text, 'latin1');
        const got = outcome(() => collector.collect(r * 10_000));
        const expected = outcome(() => {
          const spans = failed;
          failed = true;
          const now = parseStat(text);
          const before = previous;
          previous = now;
          failed = false;
          const reading = before === undefined ? undefined : cpuByName(before, now);
          return reading !== undefined && spans ? { ...reading, spansFailure: true as const } : reading;
        });
        if (stopsHere(got, expected)) break;
        assert.deepEqual(got, expected, `report ${r}`);
        agreed ||= 'value' in got && got.value !== undefined;
      }
      collector.close?.();
      return agreed;
    },
  );

  property(
    'memory: the fractions of the reading parseMeminfo gives, and the rates of the counters parseVmstat gives',
    fc.tuple(fc.array(counterBig, { minLength: 7, maxLength: 7 }), steps(7), fc.boolean(), editsPerReport),
    ([start, stepList, available, editList]) => {
      const root = procRoot();
      const collector = createMemoryCollector({ procRoot: root });
      let previous: { at: number; vm: VmstatCounters } | undefined;
      let agreed = false;
      const reports = series(start, stepList);
      for (let r = 0; r < reports.length; r++) {
        const v = reports[r]!;
        const names = ['MemTotal', 'MemFree', ...(available ? ['MemAvailable'] : []), 'Buffers', 'Cached', 'SwapTotal', 'SwapFree'];
        // Small enough that kB become bytes exactly, as on any real host.
        const kb = v.map((x) => String(BigInt(x) % 2n ** 40n));
        const meminfo = names.map((k, i) => `${`${k}:`.padEnd(16)}${kb[i]!.padStart(8)} kB`).join('\n') + '\nHugePages_Total:       0\n';
        const vmstat = `nr_free_pages 5\npswpin ${v[4]}\npswpout ${v[5]}\npgfault 9\npgmajfault ${v[6]}\n`;
        // The edits go to one of the two files.
        const edited = r % 2 === 0 ? [applyEdits(meminfo, editList[r]!), vmstat] : [meminfo, applyEdits(vmstat, editList[r]!)];
        writeFileSync(join(root, 'meminfo'), edited[0]!, 'latin1');
        writeFileSync(join(root, 'vmstat'), edited[1]!, 'latin1');
        const at = r * 10_000;
        const got = outcome(() => collector.collect(at));
        const expected = outcome((): MemoryReading => {
          const reading = memoryByName(parseMeminfo(edited[0]!));
          const vm = parseVmstat(edited[1]!);
          const before = previous;
          previous = { at, vm };
          if (before === undefined) return reading;
          const seconds = (at - before.at) / 1000;
          const rate = (k: keyof VmstatCounters): number | undefined => (vm[k] === undefined || before.vm[k] === undefined ? undefined : ratePerSec(vm[k], before.vm[k], seconds));
          const [swapIn, swapOut, faults] = [rate('pswpin'), rate('pswpout'), rate('pgmajfault')];
          if (swapIn !== undefined) reading.swapInPerSec = swapIn;
          if (swapOut !== undefined) reading.swapOutPerSec = swapOut;
          if (faults !== undefined) reading.majorFaultsPerSec = faults;
          return reading;
        });
        if (stopsHere(got, expected)) break;
        assert.deepEqual(got, expected, `report ${r}`);
        agreed ||= r > 0 && 'value' in got;
      }
      collector.close?.();
      return agreed;
    },
  );
});
