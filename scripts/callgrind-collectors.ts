// Each collector's instructions per collect(), counted by callgrind (deterministic where
// CPU time on a shared machine is not), on this host's /proc and on a generated big node
// (gen-bignode: 128 CPUs, 64 disks, 8 NICs, its files kept open and rewritten in place
// between calls, as a real node's move), in the interpreter as installed (the daemon's
// V8 flags).
//
//   npm run callgrind:collectors [-- --calls 14] [--warm 4] [--only host|big] [--cpus 128]
//                                   [--collector disk] [--keep DIR] [--each]
//
// One valgrind run per root: the child calls every collector in turn, each call alone
// between two markers (process.getegid() zeroes callgrind's counters, process.getgroups()
// dumps them), 100 ms apart. The first calls cost more until V8 has feedback for the
// code: the first `warm` rounds are left out. One call in six of the cpu and memory
// collectors holds their look once a minute (AFFINITY_CHECK_EVERY), so each collector is
// given as the median of its calls (a steady call), their least and most, and their mean.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { createCollectors } from '../src/collectors/index.js';
import { DAEMON_NODE_FLAGS } from '../src/util/node-flags.js';
import { BIG_NODE, generateBigNode, writeCounters, type BigNodeSpec } from './gen-bignode.js';

// Instructions of each call of one collector, in call order.
export type Counts = Map<string, number[]>;

// The total instructions of each callgrind dump in dir for pid, in dump order (the
// "summary:" or "totals:" line of callgrind.out.<pid>.<n>).
export function dumpTotals(dir: string, pid: number): number[] {
  const prefix = `callgrind.out.${pid}.`;
  const parts = readdirSync(dir)
    .filter((f) => f.startsWith(prefix))
    .map((f) => ({ f, n: Number(f.slice(prefix.length)) }))
    .filter((x) => Number.isInteger(x.n) && x.n > 0)
    .sort((a, b) => a.n - b.n);
  return parts.map(({ f }) => {
    const m = /^(?:summary|totals): (\d+)/m.exec(readFileSync(join(dir, f), 'utf8'));
    if (m === null) throw new Error(`${join(dir, f)}: no summary or totals line`);
    return Number(m[1]);
  });
}

// Each collector's counts from the dumps' totals and the collectors' names in call order.
// Node's getgroups() calls the C function twice (the count, then the list), so a call may
// come with two dumps: its own first, then the few instructions between the two.
export function callCounts(dumps: readonly number[], order: readonly string[]): Counts {
  const totals = dumps.length === 2 * order.length ? dumps.filter((_, i) => i % 2 === 0) : dumps;
  if (totals.length !== order.length) throw new Error(`expected ${order.length} dumps, found ${dumps.length}`);
  const counts: Counts = new Map();
  order.forEach((name, i) => {
    const list = counts.get(name) ?? [];
    list.push(totals[i]!);
    counts.set(name, list);
  });
  return counts;
}

// The median, least and most of a list of counts.
export function spread(xs: readonly number[]): { median: number; min: number; max: number } {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  const median = s.length === 0 ? NaN : s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
  return { median, min: s[0] ?? NaN, max: s[s.length - 1] ?? NaN };
}

function sleep(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

// The child, under valgrind: calls every collector `rounds` times, each call between the
// markers, and prints the collectors' names in call order.
function child(o: RootRun): void {
  const collectors = createCollectors({ procRoot: o.procRoot, sysRoot: o.sysRoot, detail: false, keepOpen: () => true, gpu: { enabled: false } }).filter((c) => o.collector === undefined || c.name === o.collector);
  const order: string[] = [];
  for (let r = 0; r < o.rounds; r++) {
    if (o.moving !== undefined) writeCounters({ procRoot: o.procRoot, sysRoot: o.sysRoot }, o.moving, r + 1, { inPlace: true });
    for (let i = 0; i < collectors.length; i++) {
      const c = collectors[i]!;
      const now = performance.now();
      process.getegid!();
      c.collect(now);
      process.getgroups!();
      order.push(c.name);
    }
    sleep(100);
  }
  for (const c of collectors) c.close?.();
  process.stdout.write(`${JSON.stringify(order)}\n`);
}

// One valgrind run: the root, the rounds of calls, the generated node's spec when its
// counters are to move, one collector alone (else all), and where to keep callgrind's
// dumps for callgrind_annotate (else they are removed).
export interface RootRun {
  procRoot: string;
  sysRoot: string;
  rounds: number;
  moving?: BigNodeSpec;
  collector?: string;
  keep?: string;
}

// Runs the child under callgrind on one root; the counts of each collector's calls.
export function countRoot(o: RootRun): Counts {
  const out = o.keep ?? mkdtempSync(join(tmpdir(), 'lavarank-callgrind-'));
  try {
    const script = fileURLToPath(import.meta.url);
    const args = ['--tool=callgrind', `--callgrind-out-file=${join(out, 'callgrind.out.%p')}`, '--zero-before=*getegid*', '--dump-before=*getgroups*', process.execPath, ...DAEMON_NODE_FLAGS.filter((f) => !f.startsWith('--inspect-port')), script, '--child', '--proc-root', o.procRoot, '--sys-root', o.sysRoot, '--rounds', String(o.rounds), ...(o.moving === undefined ? [] : ['--moving', JSON.stringify(o.moving)]), ...(o.collector === undefined ? [] : ['--collector', o.collector])];
    const run = spawnSync('valgrind', args, { encoding: 'utf8', maxBuffer: 64 << 20 });
    if (run.status !== 0) throw new Error(`valgrind exited ${run.status}: ${run.stderr.slice(-2000)}`);
    const order = JSON.parse(run.stdout.trim().split('\n').pop() ?? '[]') as string[];
    const pid = Number(/^==(\d+)==/m.exec(run.stderr)?.[1]);
    return callCounts(dumpTotals(out, pid), order);
  } finally {
    if (o.keep === undefined) rmSync(out, { recursive: true, force: true });
  }
}

// One line per collector, the calls after `warm`: their median (a steady call: the look once
// a minute is one call in AFFINITY_CHECK_EVERY), least and most, and their mean (the look
// averaged in).
export function formatCounts(title: string, counts: Counts, warm: number, each = false): string {
  const lines = [title];
  let total = 0;
  const k = (n: number): string => (n / 1000).toFixed(1);
  for (const [name, all] of counts) {
    const kept = all.slice(warm);
    const s = spread(kept);
    const mean = kept.reduce((x, y) => x + y, 0) / kept.length;
    total += mean;
    lines.push(`  ${name.padEnd(9)} median ${k(s.median)} k (${k(s.min)}–${k(s.max)})   mean ${k(mean)} k`);
    // Each call's count: a generated node's files are the same at the same call in every
    // build, so two builds compare call by call where the calls' own spread is wider.
    if (each) lines.push(`  ${''.padEnd(9)} ${kept.join(' ')}`);
  }
  lines.push(`  ${'sum'.padEnd(9)} of the means ${k(total)} k instructions a report`);
  return lines.join('\n');
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      child: { type: 'boolean', default: false },
      'proc-root': { type: 'string' },
      'sys-root': { type: 'string' },
      rounds: { type: 'string' },
      moving: { type: 'string' },
      calls: { type: 'string', default: '14' },
      warm: { type: 'string', default: '4' },
      only: { type: 'string' },
      cpus: { type: 'string', default: String(BIG_NODE.cpus) },
      collector: { type: 'string' },
      keep: { type: 'string' },
      each: { type: 'boolean', default: false },
    },
  });
  if (values.child) {
    const o: RootRun = { procRoot: values['proc-root']!, sysRoot: values['sys-root']!, rounds: Number(values.rounds) };
    if (values.moving !== undefined) o.moving = JSON.parse(values.moving) as BigNodeSpec;
    if (values.collector !== undefined) o.collector = values.collector;
    child(o);
    return;
  }
  const calls = Number(values.calls);
  const warm = Number(values.warm);
  const cpus = Number(values.cpus);
  if (!(Number.isInteger(calls) && calls > 0)) throw new RangeError(`--calls: expected a whole number above 0, received ${values.calls}`);
  if (!(Number.isInteger(warm) && warm >= 0)) throw new RangeError(`--warm: expected a whole number, received ${values.warm}`);
  if (!(Number.isInteger(cpus) && cpus > 0)) throw new RangeError(`--cpus: expected a whole number above 0, received ${values.cpus}`);
  if (values.only !== undefined && values.only !== 'host' && values.only !== 'big') throw new RangeError(`--only: expected host or big, received ${values.only}`);
  const rounds = calls + warm;
  const pick: Partial<RootRun> = {};
  if (values.collector !== undefined) pick.collector = values.collector;
  if (values.keep !== undefined) pick.keep = values.keep;
  if (values.only !== 'big') console.log(formatCounts(`this host (/proc, /sys), ${calls} calls after ${warm}:`, countRoot({ procRoot: '/proc', sysRoot: '/sys', rounds, ...pick }), warm, values.each));
  if (values.only !== 'host') {
    const dir = mkdtempSync(join(tmpdir(), 'lavarank-bignode-'));
    try {
      const spec = { ...BIG_NODE, cpus };
      const roots = generateBigNode(dir, spec);
      console.log(formatCounts(`generated node (${spec.cpus} CPUs, ${spec.disks} disks, ${spec.nics} NICs), kept open and moving, ${calls} calls after ${warm}:`, countRoot({ ...roots, rounds, moving: spec, ...pick }), warm, values.each));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await main();
