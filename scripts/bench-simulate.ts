// `npm run bench:simulate`: how long the simulator takes, and how much memory, for
// 100 000 generated jobs on 1 000 heterogeneous hosts (the target: at most 60 s and
// 1 GB per run on 2 cores). Each policy runs in a fresh Node process of its own, so
// that its peak RSS is its own; this process starts them and prints the table, with
// wall and CPU time (on a shared machine the two differ by the others' load).
//
//   node dist/scripts/bench-simulate.js [--jobs 100000] [--hosts 1000] [--policies rank+D,default,typed,oracle] [--json]
//   node dist/scripts/bench-simulate.js --one POLICY --jobs N --hosts N      (one run, JSON out)
import { spawnSync } from 'node:child_process';
import { loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { loadModel } from '../src/model/model.js';
import { defaultModelPath, modelRanker } from '../src/model/rankers.js';
import { runWorkload } from '../src/simulate/engine.js';
import { typedUnavailable } from '../src/simulate/experiment.js';
import { syntheticHosts } from '../src/simulate/hosts.js';
import type { PolicySpec } from '../src/simulate/policies.js';
import { generateWorkload } from '../src/simulate/workload.js';

const POLICIES: Record<string, PolicySpec> = {
  'rank+D': { name: 'rank+D4', kind: 'rank', reservation: { value: 4, duration: 45, decay: 1 } },
  default: { name: 'default', kind: 'default' },
  typed: { name: 'typed+D4', kind: 'typed', reservation: { value: 4, duration: 45, decay: 1 } },
  oracle: { name: 'oracle', kind: 'oracle' },
  random: { name: 'random', kind: 'random' },
};

interface OneRun {
  policy: string;
  jobs: number;
  hosts: number;
  generateSeconds: number;
  simulateSeconds: number; // wall
  simulateCpuSeconds: number; // user + system of this process
  peakRssMB: number;
  events: number;
  rankSamples: number;
  rankCalls: number;
  simulatedHours: number;
  meanSlowdown: number;
  unavailable?: string;
}

function one(policyKey: string, jobs: number, hostCount: number): OneRun {
  const policy = POLICIES[policyKey];
  if (policy === undefined) throw new Error(`unknown policy ${policyKey}; known: ${Object.keys(POLICIES).join(', ')}`);
  const hosts = syntheticHosts(hostCount);
  const ranker = modelRanker(loadModel(defaultModelPath()));
  const base = { policy: policy.name, jobs, hosts: hostCount };
  if (policy.kind === 'typed') {
    const why = typedUnavailable(ranker, hosts[0]);
    if (why !== undefined) return { ...base, generateSeconds: 0, simulateSeconds: 0, simulateCpuSeconds: 0, peakRssMB: 0, events: 0, rankSamples: 0, rankCalls: 0, simulatedHours: 0, meanSlowdown: NaN, unavailable: why };
  }
  const t0 = performance.now();
  const list = generateWorkload(hosts, { jobs, utilisation: 0.8 }, 1);
  const t1 = performance.now();
  const cpu0 = process.cpuUsage();
  const run = runWorkload(hosts, list, { seed: 1, policy, ranker });
  const cpu = process.cpuUsage(cpu0);
  const t2 = performance.now();
  return {
    ...base,
    generateSeconds: (t1 - t0) / 1000,
    simulateSeconds: (t2 - t1) / 1000,
    simulateCpuSeconds: (cpu.user + cpu.system) / 1e6,
    peakRssMB: process.resourceUsage().maxRSS / 1024,
    events: run.counters.events,
    rankSamples: run.counters.rankSamples,
    rankCalls: run.counters.rankCalls,
    simulatedHours: run.makespan / 3600,
    meanSlowdown: run.outcomes.reduce((a, o) => a + o.slowdown, 0) / run.outcomes.length,
  };
}

function main(): void {
  const { values: a } = parseArgs({ options: { jobs: { type: 'string' }, hosts: { type: 'string' }, policies: { type: 'string' }, one: { type: 'string' }, json: { type: 'boolean' } } });
  const jobs = Number(a.jobs ?? 100_000);
  const hosts = Number(a.hosts ?? 1000);
  if (a.one !== undefined) {
    process.stdout.write(`${JSON.stringify(one(a.one, jobs, hosts))}\n`);
    return;
  }
  const self = fileURLToPath(import.meta.url);
  const results: OneRun[] = [];
  for (const key of (a.policies ?? 'rank+D,default,typed,oracle').split(',')) {
    const child = spawnSync(process.execPath, [self, '--one', key, '--jobs', String(jobs), '--hosts', String(hosts)], { encoding: 'utf8', maxBuffer: 1 << 20 });
    if (child.status !== 0) throw new Error(`bench run ${key} failed: ${child.stderr}`);
    results.push(JSON.parse(child.stdout) as OneRun);
  }
  if (a.json === true) {
    process.stdout.write(`${JSON.stringify(results, null, 2)}\n`);
    return;
  }
  const lines = [
    `lavarank simulate: ${jobs} generated jobs on ${hosts} synthetic hosts (8-64 CPUs), one run per policy, each in its own process`,
    `target: at most 60 s and 1024 MB per run; the machine's load average was ${loadavg().map((x) => x.toFixed(1)).join(' / ')} (1/5/15 min) at the end`,
    '',
    'policy      wall s  CPU s  generate s  peak RSS MB  events    rank samples  ranker calls  simulated h  mean slowdown',
  ];
  for (const r of results) {
    if (r.unavailable !== undefined) {
      lines.push(`${r.policy.padEnd(10)}  ${r.unavailable}`);
      continue;
    }
    lines.push(
      `${r.policy.padEnd(10)}  ${r.simulateSeconds.toFixed(1).padStart(6)}  ${r.simulateCpuSeconds.toFixed(1).padStart(5)}  ${r.generateSeconds.toFixed(1).padStart(10)}  ${r.peakRssMB.toFixed(0).padStart(11)}  ${String(r.events).padStart(8)}  ${String(r.rankSamples).padStart(12)}  ${String(r.rankCalls).padStart(12)}  ${r.simulatedHours.toFixed(1).padStart(11)}  ${r.meanSlowdown.toFixed(3).padStart(13)}`,
    );
  }
  const worst = results.filter((r) => r.unavailable === undefined);
  // Wall time counts other processes' use of the CPUs; CPU time is what the run itself took.
  const slow = worst.filter((r) => r.simulateCpuSeconds > 60).map((r) => r.policy);
  const slowWall = worst.filter((r) => r.simulateSeconds > 60).map((r) => r.policy);
  const big = worst.filter((r) => r.peakRssMB > 1024).map((r) => r.policy);
  lines.push('', slow.length === 0 && big.length === 0 ? 'target met by every run in CPU time and memory' : `target NOT met: ${[...slow.map((p) => `${p} over 60 s of CPU`), ...big.map((p) => `${p} over 1 GB`)].join(', ')}`);
  if (slowWall.length > 0) lines.push(`over 60 s of wall time on this (shared) machine: ${slowWall.join(', ')}`);
  process.stdout.write(`${lines.join('\n')}\n`);
}

main();
