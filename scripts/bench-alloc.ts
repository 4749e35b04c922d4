// What one report allocates on V8's heap, by function: the daemon's sampler over every
// collector, and the ranker, as the daemon calls them per report, on this host and on a
// generated big node.
//
//   npm run bench:alloc [-- --samples 400] [--top 12]
//
// Why it matters: between two reports V8 gives back its young generation (it shrinks
// it after a scavenge when the process allocates less than 1000 bytes per ms, which an
// elim always does), so every 4 kB a report allocates is a fresh page and a minor
// fault. docs/collectors.md has the figures. Uses the inspector's sampling heap
// profiler with the objects that minor and major GCs collected included, every
// 64 bytes on average, in the interpreter as installed (--lite-mode).
import { mkdtempSync, rmSync } from 'node:fs';
import { Session } from 'node:inspector';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';
import { pino } from 'pino';
import { createCollectors } from '../src/collectors/index.js';
import { defaultConfig } from '../src/config/config.js';
import { createSampler } from '../src/daemon/sampler.js';
import { openRankers } from '../src/model/rankers.js';
import { FakeClock } from '../src/util/clock.js';
import { BIG_NODE, generateBigNode, writeCounters } from './gen-bignode.js';

// One node of the sampling heap profile (the inspector's HeapProfiler.SamplingHeapProfileNode).
interface ProfileNode {
  callFrame: { functionName: string; url: string; lineNumber: number };
  selfSize: number;
  children: ProfileNode[];
}

// Bytes allocated per report in total and by function ("name file:line"), largest first.
export interface AllocProfile {
  totalBytes: number;
  byFunction: Array<[string, number]>;
}

// The name of the function that moves a generated node's counters between reports: what it
// allocates is the benchmark's, not lavarank's, and is left out.
const MOVER = 'moveCounters';

// Sums a profile's self sizes by function, divided by the number of reports, leaving out
// everything a function named `skip` called.
export function summarizeProfile(head: ProfileNode, reports: number, skip = MOVER): AllocProfile {
  const by = new Map<string, number>();
  let total = 0;
  const walk = (n: ProfileNode): void => {
    if (n.callFrame.functionName === skip) return;
    if (n.selfSize > 0) {
      const f = n.callFrame;
      const key = `${f.functionName === '' ? '(anonymous)' : f.functionName} ${f.url.split('/').slice(-2).join('/')}:${f.lineNumber + 1}`;
      by.set(key, (by.get(key) ?? 0) + n.selfSize);
      total += n.selfSize;
    }
    for (const c of n.children) walk(c);
  };
  walk(head);
  return { totalBytes: total / reports, byFunction: [...by].map(([k, v]): [string, number] => [k, v / reports]).sort((a, b) => b[1] - a[1]) };
}

function post<T>(session: Session, method: string, params?: object): Promise<T> {
  return new Promise((resolve, reject) => session.post(method, params, (err, result) => (err === null ? resolve(result as T) : reject(err))));
}

// Runs the sampler over the collectors, and the ranker, `reports` times over the roots, sampling what they allocate.
// `between` runs before each report (a generated node's counters move there).
export async function profileReports(o: { procRoot: string; sysRoot: string; reports: number; between?: () => void }): Promise<AllocProfile> {
  const log = pino({ level: 'silent' });
  // The daemon's own sampler, on a clock that moves 10 s per report.
  const clock = new FakeClock();
  const sampler = createSampler({ collectors: createCollectors({ procRoot: o.procRoot, sysRoot: o.sysRoot, detail: false, gpu: { enabled: false } }), clock, log });
  const rankers = openRankers({ ...defaultConfig(), proc_root: o.procRoot, sys_root: o.sysRoot }, log);
  const report = (): void => {
    o.between?.();
    clock.advance(10_000);
    const sample = sampler.sample();
    rankers.refresh?.();
    rankers.current().rank(sample);
  };
  // Warm-up: baselines, classification, layouts, lazily compiled code.
  for (let i = 0; i < 30; i++) report();
  const session = new Session();
  session.connect();
  try {
    await post(session, 'HeapProfiler.enable');
    await post(session, 'HeapProfiler.startSampling', { samplingInterval: 64, includeObjectsCollectedByMinorGC: true, includeObjectsCollectedByMajorGC: true });
    for (let i = 0; i < o.reports; i++) report();
    const { profile } = await post<{ profile: { head: ProfileNode } }>(session, 'HeapProfiler.stopSampling');
    return summarizeProfile(profile.head, o.reports);
  } finally {
    session.disconnect();
    sampler.close();
  }
}

function show(label: string, p: AllocProfile, top: number): string {
  const rows = p.byFunction.slice(0, top).map(([name, bytes]) => `| ${name} | ${(bytes / 1024).toFixed(2)} |`);
  return [`${label}: ${(p.totalBytes / 1024).toFixed(1)} kB per report`, '', '| function | kB per report |', '|---|---|', ...rows].join('\n');
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { samples: { type: 'string', default: '400' }, top: { type: 'string', default: '12' } } });
  const reports = Number(values.samples);
  const top = Number(values.top);
  if (!Number.isInteger(reports) || reports < 10) throw new RangeError(`--samples: expected an integer >= 10, received ${JSON.stringify(values.samples)}`);
  if (!Number.isInteger(top) || top < 1) throw new RangeError(`--top: expected an integer >= 1, received ${JSON.stringify(values.top)}`);
  const host = await profileReports({ procRoot: '/proc', sysRoot: '/sys', reports });
  const dir = mkdtempSync(join(tmpdir(), 'lavarank-bench-alloc-'));
  try {
    const roots = generateBigNode(join(dir, 'node'), BIG_NODE);
    let tick = 0;
    const big = await profileReports({
      ...roots,
      reports,
      between: function moveCounters() {
        writeCounters(roots, BIG_NODE, ++tick);
      },
    });
    console.log(`lavarank allocation per report (sampler, collectors and ranker, ${reports} reports after 30, sampling heap profiler every 64 bytes, ${process.execArgv.join(' ') || 'no V8 flags'})\n`);
    console.log(show('this host', host, top));
    console.log('');
    console.log(show(`generated node: ${BIG_NODE.cpus} CPUs, ${BIG_NODE.disks} disks × ${BIG_NODE.partitions} partitions, ${BIG_NODE.loops} loops, ${BIG_NODE.nics} NICs (counters moved before each report)`, big, top));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) await main();
