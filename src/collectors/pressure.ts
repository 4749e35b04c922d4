// Pressure stall information (PSI) for cpu, memory and io, from /proc/pressure/*.
import { CollectorError, errorCode } from '../util/errors.js';
import { kernelFile, procPath, type KernelFile } from './procfs.js';
import { badFile, badLine, numberSlots, toNumber, tokens } from './text.js';
import type { Collector, CollectorOptions, PressureReading } from './types.js';

const NAME = 'pressure';

// One line of a PSI file; averages in percent, total in microseconds, as printed.
export interface PressureLine {
  avg10: number;
  avg60: number;
  avg300: number;
  total: number;
}

// One /proc/pressure/<resource> file. `full` is missing for cpu before kernel 5.13.
export interface PressureCounters {
  some: PressureLine;
  full?: PressureLine;
}

// Parses a PSI file: "some avg10=1.81 avg60=1.12 avg300=1.00 total=7027585", then "full ...".
export function parsePressure(text: string, file = '/proc/pressure/cpu'): PressureCounters {
  let some: PressureLine | undefined;
  let full: PressureLine | undefined;
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] ?? '';
    const t = tokens(line);
    if (t.length === 0) continue;
    const values = new Map<string, number>();
    for (const pair of t.slice(1)) {
      const eq = pair.indexOf('=');
      const v = toNumber(pair.slice(eq + 1));
      if (eq <= 0 || v === undefined || v < 0) throw badLine(NAME, file, i + 1, line, `"${pair}" is not key=number`);
      values.set(pair.slice(0, eq), v);
    }
    const avg10 = values.get('avg10');
    const avg60 = values.get('avg60');
    const avg300 = values.get('avg300');
    const total = values.get('total');
    if (avg10 === undefined || avg60 === undefined || avg300 === undefined || total === undefined) {
      throw badLine(NAME, file, i + 1, line, 'expected avg10, avg60, avg300 and total');
    }
    const parsed = { avg10, avg60, avg300, total };
    if (t[0] === 'some') some = parsed;
    else if (t[0] === 'full') full = parsed;
    else throw badLine(NAME, file, i + 1, line, 'expected "some" or "full"');
  }
  if (some === undefined) throw badFile(NAME, file, 'no "some" line');
  return full === undefined ? { some } : { some, full };
}

// A PSI file as the kernel prints it (kernel/sched/psi.c): the "some" line, then
// "full" on every resource but cpu before 5.13; nothing else.
const PSI_LINE = 'avg10=\\d{1,30}\\.\\d{1,30} avg60=\\d{1,30}\\.\\d{1,30} avg300=\\d{1,30}\\.\\d{1,30} total=\\d{1,30}\\n';
const PSI_FILE = new RegExp(`some ${PSI_LINE}(?:full ${PSI_LINE})?$`, 'y');
// The same with \d+, for files whose lines are at most SHORT_LINE characters (the
// newline included): the fixed text of a line is 37 characters and each of its seven
// numbers a digit at least, so a number of 31 digits makes a line of 74 or more. The
// kernel's are 71 at most ("%lu.%02lu" three times, a total in µs of 16 digits for three
// centuries). A bounded \d{1,30} costs the regular-expression interpreter about
// 2 800 instructions more a file than \d+ (callgrind, --lite-mode).
const PSI_LINE_SHORT = 'avg10=\\d+\\.\\d+ avg60=\\d+\\.\\d+ avg300=\\d+\\.\\d+ total=\\d+\\n';
const PSI_FILE_SHORT = new RegExp(`some ${PSI_LINE_SHORT}(?:full ${PSI_LINE_SHORT})?$`, 'y');
const SHORT_LINE = 73;
const AVG10_AT = 'some avg10='.length; // also 'full avg10='

// The hot path's reading of a PSI file: the avg10 of its "some" line written into
// into[at], and of its "full" line into into[at + 1] (undefined without one), without a
// match array or an object. False for text not in the kernel's layout, for
// parsePressure to read or reject; when it returns true, parsePressure agrees.
export function scanPressure(text: string, into: Array<number | undefined>, at: number): boolean {
  const newline = text.indexOf('\n');
  const file = newline < SHORT_LINE && text.length - newline <= SHORT_LINE + 1 ? PSI_FILE_SHORT : PSI_FILE;
  file.lastIndex = 0;
  if (!file.test(text)) return false;
  // The layout is checked: each avg10 ends at the first space after it.
  into[at] = Number(text.slice(AVG10_AT, text.indexOf(' ', AVG10_AT)));
  const full = newline + 1 + AVG10_AT;
  into[at + 1] = full < text.length ? Number(text.slice(full, text.indexOf(' ', full))) : undefined;
  return true;
}

// The total of the "some" line (microseconds) of a file scanPressure read: its first line
// ends at it.
export function someTotalIn(text: string): number {
  const from = text.indexOf('total=') + 6;
  return Number(text.slice(from, text.indexOf('\n', from)));
}

// Slots for the six avg10 values, in percent (full undefined where a file has none),
// from numberSlots.
const CPU = 0;
const MEMORY = 2;
const IO = 4;
const FULL = 1;

// Writes a parsed file's avg10 values into avg10 slots.
function avg10Into(p: PressureCounters, into: Array<number | undefined>, at: number): void {
  into[at] = p.some.avg10;
  into[at + FULL] = p.full?.avg10;
}

// The reading from the three files' avg10 slots, percent turned into fractions.
function fractionsOf(avg10: ReadonlyArray<number | undefined>): PressureReading {
  const cpuFull = avg10[CPU + FULL];
  const out: PressureReading = {
    cpuSome: avg10[CPU]! / 100,
    memorySome: avg10[MEMORY]! / 100,
    memoryFull: (avg10[MEMORY + FULL] ?? 0) / 100,
    ioSome: avg10[IO]! / 100,
    ioFull: (avg10[IO + FULL] ?? 0) / 100,
  };
  if (cpuFull !== undefined) out.cpuFull = cpuFull / 100;
  return out;
}

// Missing files (kernel without CONFIG_PSI, before 4.20) and EOPNOTSUPP (built in but
// disabled at boot with psi=0) mean "no PSI on this host".
export function isPsiUnavailable(err: unknown): boolean {
  const code = err instanceof CollectorError ? errorCode(err.cause) : undefined;
  return code === 'ENOENT' || code === 'EOPNOTSUPP' || code === 'ENOTSUP';
}

// Reads the three PSI files each tick. A host without PSI yields undefined (the
// features are unavailable), never zeros, which would claim an unloaded host.
export function createPressureCollector(options: CollectorOptions = {}): Collector<'pressure'> {
  const dir = procPath(options.procRoot ?? '/proc', 'pressure');
  const keep = options.keepOpen;
  const files = { cpu: kernelFile(NAME, procPath(dir, 'cpu'), keep), memory: kernelFile(NAME, procPath(dir, 'memory'), keep), io: kernelFile(NAME, procPath(dir, 'io'), keep) };
  const avg10: Array<number | undefined> = numberSlots(6);
  // The cpu "some" total (microseconds) and collect()'s time at the last reading, -1 before it.
  let someTotal = -1;
  let someMs = 0;
  // Reads one file into the avg10 slots at `at`; with `total`, answers its "some" line's
  // total (the cpu file's, for cpuSomeInterval), else -1.
  function read(file: KernelFile, at: number, total: boolean): number {
    const text = file.text();
    if (scanPressure(text, avg10, at)) return total ? someTotalIn(text) : -1;
    const parsed = parsePressure(text, file.path);
    avg10Into(parsed, avg10, at);
    return total ? parsed.some.total : -1;
  }
  return {
    name: NAME,
    collect(monotonicMs: number) {
      // The share is of this interval alone, as the cpu collector's least busy CPU it is
      // multiplied by (accountedFor): the total is kept as soon as it is read, and a cpu
      // file missing or refused leaves none to count from.
      let share = NaN;
      try {
        const total = read(files.cpu, CPU, true);
        if (someTotal >= 0 && total >= someTotal && monotonicMs > someMs) share = (total - someTotal) / ((monotonicMs - someMs) * 1000);
        someTotal = total >= 0 ? total : -1;
        someMs = monotonicMs;
      } catch (err) {
        someTotal = -1;
        if (isPsiUnavailable(err)) return undefined;
        throw err;
      }
      try {
        read(files.memory, MEMORY, false);
        read(files.io, IO, false);
      } catch (err) {
        if (isPsiUnavailable(err)) return undefined;
        throw err;
      }
      const out = fractionsOf(avg10);
      if (share >= 0) out.cpuSomeInterval = share < 1 ? share : 1;
      return out;
    },
    close() {
      files.cpu.close();
      files.memory.close();
      files.io.close();
    },
  };
}
