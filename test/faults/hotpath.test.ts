// The collectors' hot-path readers (scanStat, scanDiskstats...) against the strict
// parsers, with fast-check: kernel-shaped text with random counters, then hostile
// edits (characters inserted, replaced or deleted: separators, signs, exponents,
// newlines). A reader may leave any text to the parser (undefined); when it does
// return, it never throws, every number is finite, and the parser gives the same
// values for what the reader read, or rejects the text (a line the reader skips).
// $LAVARANK_FUZZ_RUNS sets the runs per reader, $LAVARANK_FAULT_SEED replays a seed.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { cpuSet, parseStat } from '../../src/collectors/cpu.js';
import { diskLayout, parseDiskstats, type DiskCounters } from '../../src/collectors/disk.js';
import { parseLoadavg } from '../../src/collectors/loadavg.js';
import { parseMeminfo, parseVmstat } from '../../src/collectors/memory.js';
import { netDevLayout, parseNetDev, scanNetDev } from '../../src/collectors/network.js';
import { parsePressure } from '../../src/collectors/pressure.js';
import { CollectorError } from '../../src/util/errors.js';
import { scannedDisks, scannedLoadavg, scannedMeminfo, scannedPressure, scannedStat, scannedVmstat } from '../collectors/helpers.js';
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
      return agrees(scannedPressure(text), () => parsePressure(text), (scanned, parsed) => assert.deepEqual(scanned, { some: parsed.some.avg10, full: parsed.full?.avg10 }));
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
      if (full !== undefined) assert.deepEqual(ticksOnly?.map((d) => d.ioTicksMs), full.map((d) => d.ioTicksMs));
      const ticksAgree = agrees(ticksOnly, () => parseDiskstats(text), (scanned, parsed) => {
        for (const d of scanned) assert.ok(parsed.some((p: DiskCounters) => p.name === d.name && p.ioTicksMs === d.ioTicksMs), JSON.stringify(d));
      });
      return agrees(full, () => parseDiskstats(text), (scanned, parsed) => {
        for (const d of scanned) assert.ok(parsed.some((p: DiskCounters) => JSON.stringify(p) === JSON.stringify(d)), JSON.stringify(d));
      }) || ticksAgree;
    },
  );

  const NICS = ['lo', 'eth0', 'docker0', 'eth1'];
  const netText = (values: string[][]) =>
    'Inter-|   Receive |  Transmit\n face |bytes packets|bytes packets\n' + NICS.map((n, i) => `${n.padStart(6)}:${values[i]!.map((v) => v.padStart(8)).join(' ')}`).join('\n') + '\n';

  property(
    'scanNetDev: the counters parseNetDev gives for the interfaces it knows, or nothing',
    fc.tuple(fc.array(counters(16), { minLength: 4, maxLength: 4 }), fc.array(counters(16), { minLength: 4, maxLength: 4 }), edits),
    ([before, after, list]) => {
      const first = netText(before);
      const layout = netDevLayout(first, parseNetDev(first).filter((c) => c.name.startsWith('eth')));
      assert.ok(layout !== undefined);
      const text = applyEdits(netText(after), list);
      return agrees(scanNetDev(Buffer.from(text, 'latin1'), layout), () => parseNetDev(text), (scanned, parsed) => {
        for (const c of scanned) assert.ok(parsed.some((p) => p.name === c.name && p.rxBytes === c.rxBytes && p.txBytes === c.txBytes), JSON.stringify(c));
      });
    },
  );
});
