// CPU time fractions from /proc/stat, as deltas of the aggregate `cpu` line.
import { createQuotaReader, type QuotaUse } from './cgroup.js';
import { allowedCpusOf, cpuListIn, jobCpuTest, readCores } from './cpulist.js';
import { kernelFile, onProcFs, procPath, type KernelFile } from './procfs.js';
import { badFile, badLine, byteIndex, bytesAt, counterAt, DECIMAL_DIGITS, latin1At, latin1Slice, noneBefore, numberSlots, OTHER_SPACE_CHARS, sameItems, toNumber, tokens } from './text.js';
import type { Collector, CollectorOptions, CpuReading } from './types.js';
import { monotonicMs as processMonotonicMs } from '../util/clock.js';

const NAME = 'cpu';

// Jiffies (USER_HZ) per state, as /proc/stat prints them. guest and guest_nice are
// left out: the kernel already counts them in user and nice.
export interface CpuTimes {
  user: number;
  nice: number;
  system: number;
  idle: number;
  iowait: number;
  irq: number;
  softirq: number;
  steal: number;
}

// What the CPU collector needs from one reading of /proc/stat.
export interface StatCounters {
  total: CpuTimes; // the aggregate `cpu` line, summed over every possible CPU
  cpus: string[]; // names of the cpuN lines: the online CPUs
  cpuIdle: number[]; // idle + iowait of each cpuN line, in the order of cpus
  processes?: number; // forks since boot
}

const FIELDS = ['user', 'nice', 'system', 'idle', 'iowait', 'irq', 'softirq', 'steal'] as const;

// Parses /proc/stat. Kernels before 2.6.11 print fewer than eight times; the missing ones are 0.
export function parseStat(text: string, file = '/proc/stat'): StatCounters {
  let total: CpuTimes | undefined;
  const cpus: string[] = [];
  const cpuIdle: number[] = [];
  let processes: number | undefined;
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] ?? '';
    if (line.startsWith('cpu')) {
      const t = tokens(line);
      const label = t[0] ?? '';
      if (label !== 'cpu' && !/^cpu\d+$/.test(label)) throw badLine(NAME, file, i + 1, line, 'unknown cpu label');
      if (t.length < 5) throw badLine(NAME, file, i + 1, line, `expected at least 4 times, found ${t.length - 1}`);
      const times = { user: 0, nice: 0, system: 0, idle: 0, iowait: 0, irq: 0, softirq: 0, steal: 0 };
      for (let f = 0; f < FIELDS.length && f + 1 < t.length; f++) {
        const v = toNumber(t[f + 1]);
        if (v === undefined || v < 0) throw badLine(NAME, file, i + 1, line, `${FIELDS[f]} is not a count`);
        times[FIELDS[f] as keyof CpuTimes] = v;
      }
      if (label === 'cpu') total = times;
      else {
        cpus.push(label);
        cpuIdle.push(times.idle + times.iowait);
      }
    } else if (line.startsWith('processes ')) {
      const v = toNumber(tokens(line)[1]);
      if (v === undefined) throw badLine(NAME, file, i + 1, line, 'processes is not a count');
      processes = v;
    }
  }
  if (total === undefined) throw badFile(NAME, file, 'no aggregate cpu line');
  if (cpus.length === 0) throw badFile(NAME, file, 'no cpuN lines');
  const out: StatCounters = { total, cpus, cpuIdle };
  if (processes !== undefined) out.processes = processes;
  return out;
}

// The cpuN lines a reading of /proc/stat had: their names, and each name followed by
// the space the kernel prints after it (cpuLinesOneByOne looks for those at the start
// of a line).
export interface CpuSet {
  names: string[];
  heads: string[];
  // How much of the file the last reading's string held (0: the whole file): up to where its
  // cpuN lines ended, and CPU_LINES_SLACK more.
  cut: number;
}

// The CpuSet of a list of cpuN names.
export function cpuSet(names: string[]): CpuSet {
  return { names, heads: names.map((n) => `${n} `), cut: 0 };
}

// How far past the last reading's cpuN lines the next reading's string goes: the lines
// grow as their counters gain digits.
const CPU_LINES_SLACK = 512;
// The least of the file a cut string must leave out: a 4 kB page, a minor fault a report.
const CPU_LINES_CUT_MIN = 4096;
const CPU_LINE_AFTER = Buffer.from('\ncpu', 'latin1');
// cpuLinesOneByOne's answers besides the index of the last cpuN line's newline.
const REFUSED = -2;
const ENDS_FILE = -1;

const CPU = Buffer.from('cpu', 'latin1');
// What scanStat leaves to parseStat where the lines up to the last cpuN line hold it:
// whitespace but spaces and newlines, as tokens() would split the lines elsewhere, and
// the characters by which Number(), which reads idle and iowait, reads a field that
// parseStat's toNumber refuses ("+5", ".5", "5.", "1e3", "0x10", "0o7", "0b1"): such a
// field must still make the collector fail, naming the line, as it did when the hot path
// read digits. A fraction, which parseStat reads, is left to it too. Fifteen searches of
// V8's memchr a report, about 18 000 instructions on the generated 128-CPU node.
const NOT_IN_CPU_LINES: readonly string[] = [...OTHER_SPACE_CHARS, '+', '.', 'e', 'E', 'x', 'X', 'o', 'O', 'b', 'B'];
const SPACE = 32;
const NEWLINE = 10;

// A reading as the collector keeps it, in an array from numberSlots(TIMES_SLOTS): the
// eight times in FIELDS order, then idle + iowait. In the interpreter a time past 2^31
// read from an object's field is copied into a fresh heap number, and so is every
// result of arithmetic on one: kept in such an array, the sum computed once per reading
// (the next report uses it again as the earlier reading's), the times cost a report a
// few hundred bytes.
export const TIMES_SLOTS = 9;
const IDLE_IOWAIT = 8;

// Writes the eight times of a parsed reading into times slots, in FIELDS order.
function timesInto(t: CpuTimes, into: number[]): void {
  into[0] = t.user;
  into[1] = t.nice;
  into[2] = t.system;
  into[3] = t.idle;
  into[4] = t.iowait;
  into[5] = t.irq;
  into[6] = t.softirq;
  into[7] = t.steal;
}

// The hot path's reading of /proc/stat: the aggregate line as the kernel prints it
// ("cpu  " then eight times, single spaces), read from its bytes into `into` (times
// slots, FIELDS order), and a check that the cpuN lines follow it, exactly `known` in
// order, with no other cpu line anywhere after them. With `idle` (a slot per known
// CPU), each cpuN line's idle + iowait is written there; without it their numbers are
// not read. False for anything else (hotplug, an old kernel's shorter line, garbage),
// for parseStat to read or reject; `into` and `idle` may then hold some of the times.
// When it returns true, parseStat would give the same total, known.names as its cpus
// and `idle` as its cpuIdle, or reject the file: a cpuN line's other times are not
// read. Idle and iowait are read by Number(), as parseStat reads them, and must each be
// at least 0, of at most DECIMAL_DIGITS characters, and their sum finite. Each aggregate field must be digits; with `idle`, the
// lines up to the last cpuN line must hold none of NOT_IN_CPU_LINES.
export function scanStat(bytes: Buffer, known: CpuSet, into: number[], idle?: number[]): boolean {
  if (!bytesAt(bytes, CPU, 0) || bytes[3] !== SPACE) return false;
  let p = 4;
  while (bytes[p] === SPACE) p++;
  const newline = byteIndex(bytes, NEWLINE, p);
  if (newline < 0) return false;
  for (let f = 0; f < 8; f++) {
    let end = byteIndex(bytes, SPACE, p);
    if (end < 0 || end > newline) end = f === 7 ? newline : -1;
    if (end <= p) return false;
    const v = counterAt(bytes, p, end);
    if (v < 0) return false;
    into[f] = v;
    p = end + 1;
  }
  const n = known.names.length;
  if (n === 0) return false;
  // The lines are found in a latin1 string of the file (see cpuLinesOneByOne), made once a
  // report, of the file up to where the last reading's cpuN lines ended rather than all of
  // it: on a big node intr's thousands of numbers follow them (25 kB of /proc/stat's 26 on
  // the generated 128-CPU node), and each 4 kB a report allocates is a minor fault in the
  // daemon, whose young generation gives its pages back at each scavenge (5.8 against 1.3
  // faults a report, the daemon on that node side by side). A string that ends before the
  // lines do, or inside them, is read again as the whole file.
  // Only where that leaves a page or more out: a Buffer search of the rest costs about 4 000
  // instructions more than the string's, which a 2-CPU host's short file does not repay.
  const cut = known.cut;
  if (cut > 0 && bytes.length - cut >= CPU_LINES_CUT_MIN) {
    const text = latin1Slice.call(bytes, 0, cut);
    const nl = cpuLinesOneByOne(text, newline, known, idle);
    if (nl >= 0) {
      // Whitespace after the lines cannot move a field the lines hold.
      if (idle !== undefined && !noneBefore(text, NOT_IN_CPU_LINES, nl)) return false;
      known.cut = nl + 1 + CPU_LINES_SLACK;
      // No other cpu line anywhere after them, in the whole file.
      return bytes.indexOf(CPU_LINE_AFTER, nl) < 0;
    }
  }
  const text = latin1Slice.call(bytes, 0, bytes.length);
  const nl = cpuLinesOneByOne(text, newline, known, idle);
  if (nl === REFUSED) return false;
  if (idle !== undefined && !noneBefore(text, NOT_IN_CPU_LINES, nl < 0 ? text.length : nl)) return false;
  known.cut = nl < 0 ? 0 : nl + 1 + CPU_LINES_SLACK;
  return nl < 0 || text.indexOf('\ncpu', nl) < 0;
}

// scanStat's reading of the cpuN lines after the aggregate line's newline, line by line:
// each line must start with its prefix; idle and iowait are read by Number(). From
// stop 49 to 51 a host of 48 CPUs or more had its lines split natively instead (one
// string, split at its spaces): cold, in process, that cost 204 against 251 µs on 128
// CPUs and 257 against 411 µs on 256, but it allocated 60 kB more per report on 128 CPUs,
// and fresh young-generation memory costs page faults: 15.9 minor faults per report
// against 0.1 on the generated 128-CPU node, and 0.40-0.65 ms more CPU per report side
// by side at a 1 s interval (docs/collectors.md, "The split taken back").
// Answers the index of the last cpuN line's newline, ENDS_FILE when that line ends the
// file, REFUSED for anything else; the lines must end inside `text`.
function cpuLinesOneByOne(text: string, newline: number, known: CpuSet, idle: number[] | undefined): number {
  const heads = known.heads;
  const n = heads.length;
  // `text` is a latin1 string of the file's start (the same characters at the same places
  // as the bytes): V8's string search and startsWith cost fewer instructions than byteIndex
  // and the name compared as two 32-bit words through a DataView (until 2026-12-06), 1 900 a
  // line less (callgrind, --lite-mode: 1.34 M against 1.59 M a call on 128 CPUs, 2.67
  // against 3.16 M on 256).
  let nl = newline;
  // One loop that calls nothing per line but the searches. With a call per line for the
  // name check, another that read all five times digit by digit, and a byteIndex that
  // was a function, a line cost 3.5 µs; this loop 1.9 µs.
  // Indexed loops on the hot paths: an interpreted for-of allocates a result object per step.
  for (let i = 0; i < n; i++) {
    const head = heads[i]!;
    if (nl < 0) return REFUSED;
    let p = nl + 1;
    if (!text.startsWith(head, p)) return REFUSED;
    p += head.length;
    nl = text.indexOf('\n', p);
    if (idle === undefined) continue;
    const end = nl < 0 ? text.length : nl;
    // user, nice and system, each skipped by the space after it: none may be empty (two
    // spaces in a row, which tokens() reads as one), and the last space must come before
    // the line's end. What they hold is not read: a field that is no count is rejected only
    // where parseStat reads the file (scanStat's "or reject the file"; review75). Checking
    // that each starts with a digit, as until 2026-12-06, cost an element load and six
    // bytecodes a field (1 600 instructions a line with the loop over the three,
    // callgrind, --lite-mode).
    const user = text.indexOf(' ', p);
    if (user <= p) return REFUSED;
    const nice = text.indexOf(' ', user + 1);
    if (nice <= user + 1) return REFUSED;
    const system = text.indexOf(' ', nice + 1);
    if (system <= nice + 1 || system >= end) return REFUSED;
    // idle, then iowait, up to the next space or the line's end, by Number() as parseStat
    // reads each (toNumber): the same double for every field parseStat takes. Until
    // 2026-12-07 they were read digit by digit from the bytes, about 400 instructions a
    // digit in the interpreter against 1 000 a field for a string and its Number()
    // (callgrind, --lite-mode), 15 digits a line on the generated 128-CPU node. A field
    // Number() reads and parseStat does not ("1e3", "0x10", "+5") is kept out before
    // (NOT_IN_CPU_LINES); one Number() does not read (NaN), a negative time or an infinite
    // sum is left to parseStat, which rejects it, so that idle holds no such value.
    const idleEnd = text.indexOf(' ', system + 1);
    if (idleEnd <= system + 1 || idleEnd >= end) return REFUSED;
    let iowaitEnd = text.indexOf(' ', idleEnd + 1);
    if (iowaitEnd < 0 || iowaitEnd > end) iowaitEnd = end;
    if (iowaitEnd <= idleEnd + 1) return REFUSED;
    // Number() reads any number of digits, toNumber at most DECIMAL_DIGITS (review75).
    if (idleEnd - system - 1 > DECIMAL_DIGITS || iowaitEnd - idleEnd - 1 > DECIMAL_DIGITS) return REFUSED;
    const idleTime = +text.slice(system + 1, idleEnd);
    const iowait = +text.slice(idleEnd + 1, iowaitEnd);
    if (!(idleTime >= 0 && iowait >= 0)) return REFUSED;
    const sum = idleTime + iowait;
    if (sum === Infinity) return REFUSED;
    idle[i] = sum;
  }
  return nl < 0 ? ENDS_FILE : nl;
}

const PROCS_BLOCKED_TEXT = '\nprocs_blocked ';
const PROCS_BLOCKED = Buffer.from(PROCS_BLOCKED_TEXT, 'latin1');

// The bytes at /proc/stat's end searched as text first: the kernel prints procs_blocked
// second to last, before softirq's line of eleven counters (fs/proc/stat.c, show_stat),
// at most about 260 bytes. V8's search of their latin1 text costs 4 000 instructions,
// Buffer's lastIndexOf 7 800, whose checks in JavaScript cost more than its search
// (callgrind, in process, 2 000 calls, here and on the generated 128-CPU node alike);
// it is run twice an interval, at the report and at the peek.
const BLOCKED_TAIL = 512;

// The tasks waiting for io at this instant: procs_blocked, the kernel's nr_iowait (tasks
// in io_schedule, whatever device, NFS mount or FUSE server they wait on), or -1 where
// /proc/stat has no such line or it is no count. Unlike PSI io, not capped at a task a
// CPU. Searched from the end, where the kernel prints it, past intr's thousands of numbers.
export function blockedIn(bytes: Buffer): number {
  const from = bytes.length > BLOCKED_TAIL ? bytes.length - BLOCKED_TAIL : 0;
  const inTail = latin1Slice.call(bytes, from, bytes.length).lastIndexOf(PROCS_BLOCKED_TEXT);
  // Not in the tail: the last one before it (starting before it, so one across its edge too).
  const at = inTail >= 0 ? from + inTail : from > 0 ? bytes.lastIndexOf(PROCS_BLOCKED, from - 1) : -1;
  if (at < 0) return -1;
  const start = at + PROCS_BLOCKED.length;
  const newline = byteIndex(bytes, NEWLINE, start);
  return counterAt(bytes, start, newline < 0 ? bytes.length : newline);
}

// Completes times slots with idle + iowait.
function withSums(v: number[]): void {
  v[IDLE_IOWAIT] = v[3]! + v[4]!;
}

// The jiffies between two readings in times slots: the sum of each time's delta, not
// the delta of their sums. A double holds a counter past 2^53 only to some thousand
// jiffies (a steal counter wrapped below zero, near 2^64, as some hypervisors leave
// it), and a sum of the eight carried that into the total: a 2-CPU host's 2000 jiffies
// in 10 s read as 0 or 4096. A time that stands still has a delta of exactly 0.
function timeBetween(a: number[], b: number[]): number {
  return b[0]! - a[0]! + (b[1]! - a[1]!) + (b[2]! - a[2]!) + (b[IDLE_IOWAIT]! - a[IDLE_IOWAIT]!) + (b[5]! - a[5]!) + (b[6]! - a[6]!) + (b[7]! - a[7]!);
}

// The fractions between two readings, or undefined when they cannot be compared:
// the set of online CPUs changed (hotplug: an offline CPU's idle time is accounted
// differently, so the aggregate jumps), a counter went backwards, or no time passed.
export function cpuFractions(before: StatCounters, now: StatCounters): CpuReading | undefined {
  const a = numberSlots(TIMES_SLOTS);
  const b = numberSlots(TIMES_SLOTS);
  timesInto(before.total, a);
  timesInto(now.total, b);
  withSums(a);
  withSums(b);
  return sameItems(before.cpus, now.cpus) ? fractionsOf(a, b, now.cpus.length, timeBetween(a, b)) : undefined;
}

// cpuFractions of two readings in times slots with their sums, over the same CPUs, total
// jiffies apart (timeBetween).
function fractionsOf(a: number[], b: number[], online: number, total: number): CpuReading | undefined {
  const user = b[0]! - a[0]!;
  const nice = b[1]! - a[1]!;
  const system = b[2]! - a[2]!;
  const irq = b[5]! - a[5]!;
  const softirq = b[6]! - a[6]!;
  const steal = b[7]! - a[7]!;
  if (user < 0 || nice < 0 || system < 0 || irq < 0 || softirq < 0 || steal < 0) return undefined;
  // proc(5): iowait "may decrease in certain conditions" (with NO_HZ a sleeping CPU's
  // time moves from iowait to idle when the task it waited for wakes elsewhere). The
  // sum of the two only grows, so split that sum instead of dropping the tick.
  const idleIowait = b[IDLE_IOWAIT]! - a[IDLE_IOWAIT]!;
  if (idleIowait < 0) return undefined;
  const iowait = Math.min(idleIowait, Math.max(0, b[4]! - a[4]!));
  if (!(total > 0)) return undefined;
  return {
    user: (user + nice) / total,
    system: (system + irq + softirq) / total,
    iowait: iowait / total,
    steal: steal / total,
    busy: (total - idleIowait) / total,
    online,
  };
}

// The least number of jiffies (USER_HZ: 100 a second on every Linux architecture,
// proc(5)) that an interval of ms on `online` CPUs leaves in /proc/stat's times, where
// they are the kernel's: the interval less a jiffy a CPU for the busy time a tick has
// not yet charged at either end, and one for each of the aggregate's eight times,
// rounded down to jiffies when printed. Idle time is measured to the nanosecond on a
// tickless (NO_HZ) kernel, but busy time is charged by the tick to whatever runs at it
// (CONFIG_TICK_CPU_ACCOUNTING, the default), so a program that runs between ticks and
// sleeps across each one (Tsafrir, Etsion and Feitelson, "Secretly monopolizing the
// CPU without superuser privileges", 2007) is charged nothing and counted as no time
// at all: its CPU's times fall short of the wall clock by what it ran, and a host
// busy with it read as idle. The interval's own time is the larger of the two.
export function wallJiffies(ms: number, online: number): number {
  return (ms / 10) * online - online - 8;
}

// The busy share of the least busy online CPU between two readings of each CPU's idle
// + iowait (idleBefore, idleNow: parallel to the CPU names), each CPU's time taken as
// the aggregate's over the CPUs (allTime, in the same jiffies). CPUs in skip (no job can
// be given them: jobCpuTest) are left out, and so is a CPU whose idle + iowait went
// backwards (leftOut); undefined when none is left.
export function leastBusy(idleBefore: readonly number[], idleNow: readonly number[], allTime: number, skip: ReadonlySet<number> = NO_CPUS): number | undefined {
  const n = idleNow.length;
  if (idleBefore.length !== n || n === 0 || !(allTime > 0)) return undefined;
  const each = allTime / n;
  let most = -1; // the most idle time of one CPU
  // Most hosts leave no CPU out: Set.prototype.has, a builtin called from the
  // interpreter, cost about 450 instructions a CPU (callgrind, --lite-mode).
  const none = skip.size === 0;
  for (let i = 0; i < n; i++) {
    if (!none && skip.has(i)) continue;
    const idle = idleNow[i]! - idleBefore[i]!;
    if (idle < 0) continue; // leftOut
    if (idle > most) most = idle;
  }
  if (most < 0) return undefined;
  const busy = 1 - most / each;
  return busy <= 0 ? 0 : busy >= 1 ? 1 : busy;
}

const NO_CPUS: ReadonlySet<number> = new Set();

// leftOut: a CPU whose idle + iowait went backwards between two readings of the same
// CPU set is left out of that interval's per-CPU figures, as a disk whose counter went
// backwards is left out of the disk figures. The kernel's per-CPU idle time steps back
// now and then (a read that races the CPU's exit from idle on nohz kernels before 6.3,
// prometheus/node_exporter#1903; a CPU taken offline and back between two reads,
// sysstat#433). Until 2026-12-05 one such CPU made both figures unknown, and with
// jobBusy unknown the rank read the host as a whole: a 64-CPU host whose jobs may use
// CPUs 0-7 (a cpuset), 16 tasks on them, ranked 0.0 instead of 110.7 for that report.

// The busy share of the CPUs not in skip between two readings of each CPU's idle +
// iowait, as leastBusy takes them: the busy share a job sees where it may use only
// those CPUs. A CPU whose idle + iowait went backwards is left out (leftOut);
// undefined when none is left.
export function busyOf(idleBefore: readonly number[], idleNow: readonly number[], allTime: number, skip: ReadonlySet<number>): number | undefined {
  const n = idleNow.length;
  if (idleBefore.length !== n || n === 0 || !(allTime > 0)) return undefined;
  let idle = 0;
  let counted = 0;
  for (let i = 0; i < n; i++) {
    if (skip.has(i)) continue;
    const d = idleNow[i]! - idleBefore[i]!;
    if (d < 0) continue; // leftOut
    idle += d;
    counted++;
  }
  if (counted === 0) return undefined;
  const busy = 1 - idle / ((allTime / n) * counted);
  return busy <= 0 ? 0 : busy >= 1 ? 1 : busy;
}

// The tasks taken to run on the CPUs no job may use, from the busy shares of all
// online CPUs and of the job's: one a busy CPU's worth of their time, 0 where that is
// not a finite number above ELSEWHERE_NOISE. The collector averages it for the 1-minute
// load, and the features (jobView) take it out of the runnable count.
export function tasksElsewhere(busy: number, online: number, jobBusy: number, jobCpus: number): number {
  const elsewhere = busy * online - jobBusy * jobCpus;
  return elsewhere > ELSEWHERE_NOISE && elsewhere < Infinity ? elsewhere : 0;
}

// The CPUs' worth of tasks elsewhere below which tasksElsewhere reads none: the rounding.
// Each share is a quotient of ticks, so with every other CPU idle the two products differ
// by their rounding alone (7e-15 on 64 CPUs), which would be read as tasks elsewhere: it
// once turned on the 1-minute load's queue bound (a host ranked 170.2 read 72.1, props78,
// 2026-12-07; the bound holds always since props79) and still takes a sliver out of the
// runnable count and the load. A tick of one CPU over a minute's interval is 1.7e-4 of a
// CPU, far above it.
export const ELSEWHERE_NOISE = 1e-9;

// The kernel's numbers of the CPUs of the cpuN lines, in their order: the names' own,
// except where the lines are numbered from 0 without a gap and the online list
// (/sys/devices/system/cpu/online) names as many other CPUs. Then they are that list's,
// in order: lxcfs, which LXD and Kubernetes' lxcfs webhooks mount over a container's
// /proc/stat, shows the container's cpuset there renumbered from cpu0 (its
// proc_stat_read), while its online list, every process's affinity and isolcpus keep the
// kernel's numbers. Read by the names, a container on CPUs 2-5 had its cpu0 and cpu1
// left out as outside the affinity, and was read as a host of 2 CPUs, cpu2 and cpu3.
export function kernelCpuNumbers(names: readonly string[], online: readonly number[] | undefined): number[] {
  const numbers = names.map((name) => Number(name.slice(3)));
  if (online === undefined || online.length !== numbers.length || !numbers.every((n, at) => n === at)) return numbers;
  return [...online];
}

// The positions, among the CPUs (kernelCpuNumbers), of those no job may be given
// (mayUse false): their idle time is no free CPU for a job (jobCpuTest).
function unusablePositions(mayUse: (cpu: number) => boolean, cpus: readonly number[]): Set<number> {
  const out = new Set<number>();
  cpus.forEach((cpu, at) => {
    if (!mayUse(cpu)) out.add(at);
  });
  return out;
}

// What the collector knows of the CPUs a job may use, found again only when the set of
// online CPUs changes: their positions left out (skip), how many they are when fewer
// than the online CPUs (count, else 0) and the cores they make where fewer (cores).
interface JobCpus {
  skip: Set<number>;
  count: number;
  cores: number | undefined;
}

// The JobCpus of the online CPUs, by jobCpuTest's rule (cpus: kernelCpuNumbers).
function jobCpusOf(mayUse: (cpu: number) => boolean, cpus: readonly number[], sysRoot: string): JobCpus {
  const skip = unusablePositions(mayUse, cpus);
  const count = cpus.length - skip.size;
  if (skip.size === 0 || count === 0) return { skip, count: 0, cores: undefined };
  const usable = cpus.filter((_, at) => !skip.has(at));
  const cores = readCores(sysRoot, usable);
  return { skip, count, cores: cores !== undefined && cores < count ? cores : undefined };
}

// Whether a CPU list differs from the one before; both unknown is no change.
function changed(before: readonly number[] | undefined, now: readonly number[] | undefined): boolean {
  return before === undefined || now === undefined ? before !== now : !sameItems(before, now);
}

// This process's CPU time so far, user and system, in microseconds.
function processCpuUs(): number {
  const used = process.cpuUsage();
  return used.user + used.system;
}

// Reports between two looks at lavarank's affinity (/proc/self/status) and the online
// list: a minute at the 10 s interval, as for the model file.
export const AFFINITY_CHECK_EVERY = 6;

// The time constant of the kernel's 1-minute load average (EXP_1 in
// include/linux/sched/loadavg.h: e^(-5 s / 60 s) a 5 s sample).
const LOAD1_MS = 60_000;

// A value averaged as the kernel averages the 1-minute load, over the times it is given.
export class Load1Average {
  value: number | undefined; // undefined before the first value and after a reset
  private ms = 0;

  // Adds the value seen at ms (collect()'s time): the new average, the value itself
  // where there was none or no time passed since the last.
  add(v: number, ms: number): number {
    const dt = ms - this.ms;
    const value = this.value === undefined || !(dt > 0) ? v : v + (this.value - v) * Math.exp(-dt / LOAD1_MS);
    this.value = value;
    this.ms = ms;
    return value;
  }
}

// The CPUs a job may use (jobCpuTest), as the collector follows them: isolcpus= is read
// once, as it changes only with a reboot; the affinity again whenever the set of online
// CPUs changes (a cpuset rewrites it on hotplug) and every AFFINITY_CHECK_EVERY reports,
// never per report; not where cpu.job_cpus names them (the online list still is). And
// the tasks running on the CPUs no job may use (their busy time), averaged.
export class JobCpuTracker {
  job: JobCpus = { skip: new Set(), count: 0, cores: undefined };
  // The affinity and the online list the job CPUs were last found from, looked at again
  // every AFFINITY_CHECK_EVERY reports: a cpuset can change without a CPU going on or off
  // line (systemctl set-property AllowedCPUs=, docker update --cpuset-cpus), and under
  // lxcfs one moved to as many other CPUs leaves the cpuN lines as they were while the
  // online list, which numbers them (kernelCpuNumbers), changes; the affinity need not
  // (cpu.job_cpus, or LIM's own narrower cpuset inside the container).
  private allowed: number[] | undefined;
  private online: number[] | undefined;
  private sinceAffinity = 0;
  private readonly isolated: readonly number[];
  private readonly onlinePath: string;
  private readonly elsewhere1 = new Load1Average();

  constructor(
    private readonly status: KernelFile, // /proc/self/status, for the affinity
    private readonly sysRoot: string,
    private readonly jobCpus: readonly number[] | undefined, // cpu.job_cpus
  ) {
    this.isolated = jobCpus === undefined ? (cpuListIn(procPath(sysRoot, 'devices/system/cpu/isolated')) ?? []) : [];
    this.onlinePath = procPath(sysRoot, 'devices/system/cpu/online');
  }

  // Finds the job CPUs again for a new set of CPU names (/proc/stat's cpuN lines).
  find(names: readonly string[]): void {
    this.findFrom(names, this.jobCpus === undefined ? allowedCpusOf(this.status) : undefined, cpuListIn(this.onlinePath));
    this.sinceAffinity = 0;
  }

  // At every AFFINITY_CHECK_EVERY-th call, looks at the affinity and the online list and
  // finds the job CPUs again where either changed: whether it looked.
  recheck(names: readonly string[]): boolean {
    if (++this.sinceAffinity < AFFINITY_CHECK_EVERY) return false;
    this.sinceAffinity = 0;
    const affinity = this.jobCpus === undefined ? allowedCpusOf(this.status) : undefined;
    const onlineNow = cpuListIn(this.onlinePath);
    if (changed(this.allowed, affinity) || changed(this.online, onlineNow)) this.findFrom(names, affinity, onlineNow);
    return true;
  }

  // Adds to a reading of total time the job CPUs' count, busy share and cores, and the
  // tasks elsewhere averaged up to ms, where a job may use fewer than the online CPUs.
  into(reading: CpuReading, idleBefore: readonly number[], idleNow: readonly number[], total: number, ms: number): void {
    const job = this.job;
    if (!(job.count > 0)) return;
    const jobBusy = busyOf(idleBefore, idleNow, total, job.skip);
    if (jobBusy === undefined) return;
    reading.jobCpus = job.count;
    reading.jobBusy = jobBusy;
    if (job.cores !== undefined) reading.jobCores = job.cores;
    reading.jobElsewhere1 = this.elsewhere1.add(tasksElsewhere(reading.busy, reading.online, jobBusy, job.count), ms);
  }

  close(): void {
    this.status.close();
  }

  private findFrom(names: readonly string[], affinity: number[] | undefined, online: number[] | undefined): void {
    this.allowed = affinity;
    this.online = online;
    this.job = jobCpusOf(jobCpuTest(this.jobCpus, this.isolated, affinity), kernelCpuNumbers(names, online), this.sysRoot);
    this.elsewhere1.value = undefined;
  }
}

// Adds to a reading the quota's CPUs, use and throttled time and its tasks averaged up to
// ms (tasks1), where the quota is fewer CPUs than a job may use.
export function withQuota(reading: CpuReading, use: Readonly<QuotaUse>, tasks1: Load1Average, ms: number): void {
  if (!(use.cpus < (reading.jobCpus ?? reading.online))) return;
  reading.quotaCpus = use.cpus;
  reading.quotaUsed = use.used;
  reading.quotaThrottled = use.throttled;
  reading.quotaTasks1 = tasks1.add(use.used + use.throttled, ms);
}

// The CPUs' worth of time the times left out over an interval of ms (leftOut jiffies:
// the clock's time beyond what the times counted), averaged with the last average as
// the load average would have counted it: the new average, undefined where it stays
// (no time passed, or nothing left out yet).
export function untimedAverage(untimed1: number | undefined, leftOut: number, ms: number): number | undefined {
  if (!(ms > 0) || !(leftOut > 0 || untimed1 !== undefined)) return undefined;
  const untimed = (leftOut * 10) / ms;
  return untimed1 === undefined ? untimed : untimed + (untimed1 - untimed) * Math.exp(-ms / LOAD1_MS);
}

// The clocks the times of the stat file at path are held against, unless options give them.
function clocksOf(options: CollectorOptions, path: string): { kernelClock: false | (() => number); ownCpuUs: false | (() => number) } {
  return {
    // The clock collect() is given, where the times can be held against it (wallJiffies):
    // the kernel's own, not a fake tree's nor lxcfs's.
    kernelClock: options.kernelClock ?? (onProcFs(path) ? processMonotonicMs : false),
    // lavarank's own CPU time, where the times are the running kernel's: its own work (the
    // start's, between the baseline and the first report) is no task a job would share a
    // CPU with, and a getrusage() a report forks nothing.
    ownCpuUs: options.ownCpuUs ?? (onProcFs(path) ? processCpuUs : false),
  };
}

// procs_blocked over an interval from the reports' reads alone (no peeks): the mean of
// the last three reads (this interval's two ends, blocked and before, and the one
// before them, earlier), each -1 where it had none, read in unbroken order back from
// this one: the kernel keeps no integral of nr_iowait, and one instant strays from the
// interval's mean (10 s intervals on a 2-CPU VM, 2026-12-06: 4.4 tasks RMS, the ends'
// mean 1.5), so the two ends alone moved the waiters beyond the CPUs by up to 3 a
// report where the tasks' mean moved by 0.5 (2026-12-07, rank73: 1.06 tasks RMS a
// report, three reads 0.66). Each read weighs alike, so a host with more waiters at
// every read never reads fewer. The earliest only where the interval before (lastFor)
// was about as long as this one (readFor): reads at no steady pace (calibrate's, a read
// just before its window after another probe's end; the daemon's 0.5 s first report)
// would weigh one instant as an interval. The daemon's peeks' mean is taken instead
// where it has them: the reports' instants are a user's to learn (the elim's
// /proc/PID/schedstat, the history file's mtime), and io waiters of theirs that left
// their wait around them hid all beyond the CPUs (sixteen on 2 CPUs, out 9 % of the
// time: the io part 161 for 460.5, hostile21).
export function meanBlocked(blocked: number, before: number, earlier: number, readFor: number, lastFor: number): number | undefined {
  if (blocked < 0) return undefined;
  if (before < 0) return blocked;
  const steady = earlier >= 0 && lastFor > 0 && readFor > 0 && lastFor <= 2 * readFor && readFor <= 2 * lastFor;
  return steady ? (earlier + before + blocked) / 3 : (before + blocked) / 2;
}

// Reads /proc/stat each tick; fractions are over all online CPUs (the aggregate line
// sums them, so 0.5 on a 2-CPU host means one CPU's worth of work), and minBusy is the
// least busy CPU's share (leastBusy). Where a job may use only some of them, also
// their count, busy share and cores (jobCpus, jobBusy, jobCores): the host as a job
// sees it. scanStat reads it while the CPU set stays the same; parseStat on the first
// tick, after a change, and for text scanStat does not expect.
export function createCpuCollector(options: CollectorOptions = {}): Collector<'cpu'> {
  // One record (Records): on 128 CPUs its 25 kB end in the first read, not in a second of 0 bytes.
  const file = kernelFile(NAME, procPath(options.procRoot ?? '/proc', 'stat'), options.keepOpen, 'one');
  const { kernelClock, ownCpuUs } = clocksOf(options, file.path);
  const sysRoot = options.sysRoot ?? '/sys';
  const jobs = new JobCpuTracker(kernelFile(NAME, procPath(options.procRoot ?? '/proc', 'self/status'), options.keepOpen), sysRoot, options.jobCpus);
  let known: CpuSet = cpuSet([]);
  // Two readings, swapped each report: the hot path writes into the older one, so that a
  // file it cannot read, and parseStat then rejects, leaves the last reading as it was.
  let previous = numberSlots(TIMES_SLOTS);
  let spare = numberSlots(TIMES_SLOTS);
  let previousIdle: number[] = [];
  let spareIdle: number[] = [];
  let previousCpus: string[] | undefined; // undefined before the first reading
  // When the last read had returned: the kernel printed its times between collect()'s
  // time and then, so the interval's is at least this time to the next collect()'s.
  let previousMs = 0;
  let previousOwnUs = -1; // ownCpuUs() at the last read, -1 where none
  let untimed1: number | undefined; // the CPUs' worth of time the times left out, averaged as the 1-minute load
  let previousBlocked = -1; // procs_blocked at the last reading, -1 where it had none
  let earlierBlocked = -1; // and at the reading before it
  let earlierMs = 0; // when that reading's read had returned
  // procs_blocked at the last three peeks (peek(): once an interval, at an instant of no
  // report's), where each interval since the first of them had one; how many (0 to 3),
  // the next to overwrite, and whether one was taken since the last collect().
  const peeked = [0, 0, 0];
  let peeks = 0;
  let peekNext = 0;
  let peekedSince = false;
  // A read since the last reading failed (the file unreadable or garbled, which throws and
  // keeps the last reading): the next interval spans it, longer than the other collectors'.
  let failed = false;
  // The CPU quota of lavarank's cgroup (a container's), found at start and with each
  // look at the affinity: read per report only where one is set.
  const quota = createQuotaReader(options.procRoot ?? '/proc', sysRoot, options.keepOpen);
  const tasks1 = new Load1Average(); // the quota's cgroup's tasks
  return {
    name: NAME,
    collect(monotonicMs: number) {
      // Set until this read's times replace the last reading's, so a throw before leaves it.
      const spansFailure = failed;
      failed = true;
      // An interval without a peek (a stall; once's, explain's and calibrate's reads,
      // which take none; a peek that failed, as a read that fails here does) starts them
      // again: the reports' own reads count then. Before the read, which may throw.
      if (!peekedSince) peeks = peekNext = 0;
      peekedSince = false;
      const bytes = file.bytes();
      // Not collect()'s time: a read held before the kernel printed its times (the elim
      // preempted at nice 10, a page fault under memory pressure) moved them, not it, and
      // the next interval's times fell short of the clock by the wait, a host's worth of
      // CPUs for its length read as busy and untimed (1.5 s at the first of once's two
      // reads, by strace: untimed1 1.0 on this 2-CPU VM, no program charged no tick).
      const readMs = kernelClock === false ? monotonicMs : kernelClock();
      const ownUs = ownCpuUs === false ? -1 : ownCpuUs();
      // Now: the bytes are a view of the buffer every reader shares, which the reads
      // below (the affinity's status, the quota's files) write over.
      const blocked = blockedIn(bytes);
      const now = spare;
      const nowIdle = spareIdle;
      let found = false; // the job CPUs were found again at this report
      if (!scanStat(bytes, known, now, nowIdle)) {
        const parsed = parseStat(latin1At(bytes, 0, bytes.length), file.path);
        if (!sameItems(parsed.cpus, known.names)) {
          known = cpuSet(parsed.cpus);
          jobs.find(known.names);
          found = true;
        }
        timesInto(parsed.total, now);
        spareIdle = numberSlots(parsed.cpuIdle.length, (i) => parsed.cpuIdle[i]!);
      }
      withSums(now);
      const blockedBefore = previousBlocked;
      const blockedEarlier = earlierBlocked;
      earlierBlocked = previousBlocked;
      previousBlocked = blocked;
      if (!found && jobs.recheck(known.names)) quota.refresh();
      const use = quota.read(monotonicMs);
      const before = previous;
      const beforeIdle = previousIdle;
      const beforeCpus = previousCpus;
      previous = now;
      previousIdle = spareIdle;
      previousCpus = known.names;
      failed = false;
      const beforeMs = previousMs;
      const lastFor = beforeMs - earlierMs; // the interval before this one
      earlierMs = beforeMs;
      previousMs = readMs;
      const ownBeforeUs = previousOwnUs;
      previousOwnUs = ownUs;
      spare = before;
      spareIdle = beforeIdle.length === known.names.length ? beforeIdle : numberSlots(known.names.length);
      if (beforeCpus === undefined || !sameItems(beforeCpus, known.names)) return undefined;
      const counted = timeBetween(before, now);
      const wall = kernelClock === false ? 0 : wallJiffies(monotonicMs - beforeMs, known.names.length);
      const total = wall > counted ? wall : counted;
      const reading = fractionsOf(before, now, known.names.length, total);
      if (reading === undefined) return undefined;
      const untimed = untimedAverage(untimed1, total - counted, monotonicMs - beforeMs);
      if (untimed !== undefined) reading.untimed1 = untimed1 = untimed;
      const minBusy = leastBusy(beforeIdle, previousIdle, total, jobs.job.skip);
      if (minBusy !== undefined) reading.minBusy = minBusy;
      if (spansFailure) reading.spansFailure = true;
      const readFor = readMs - beforeMs;
      if (ownUs >= 0 && ownBeforeUs >= 0 && ownUs >= ownBeforeUs && readFor > 0) reading.own = (ownUs - ownBeforeUs) / 1000 / readFor;
      const blockedMean = peeks > 0 ? meanOf(peeked, peeks) : meanBlocked(blocked, blockedBefore, blockedEarlier, readFor, lastFor);
      if (blockedMean !== undefined) reading.blocked = blockedMean;
      jobs.into(reading, beforeIdle, previousIdle, total, monotonicMs);
      if (use !== undefined) withQuota(reading, use, tasks1, monotonicMs);
      return reading;
    },
    peek() {
      let bytes: Buffer;
      try {
        bytes = file.bytes();
      } catch {
        return; // no peek this interval: collect() reads the file and says why it failed
      }
      const blocked = blockedIn(bytes);
      if (blocked < 0) return;
      peeked[peekNext] = blocked;
      peekNext = (peekNext + 1) % peeked.length;
      if (peeks < peeked.length) peeks++;
      peekedSince = true;
    },
    close: () => {
      file.close();
      jobs.close();
      quota.close();
    },
  };
}

// The mean of the first n values of a ring that holds its last n values.
function meanOf(values: readonly number[], n: number): number {
  let sum = 0;
  for (let i = 0; i < n; i++) sum += values[i]!;
  return sum / n;
}
