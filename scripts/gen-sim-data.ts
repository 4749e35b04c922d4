// Synthetic accounting and history that do not assume the answer: a workload is run
// through `lavarank simulate`'s cluster model (src/simulate/: families of CPU-,
// memory- and io-bound jobs of different sizes, processor sharing and memory and io
// stretches between co-located jobs and background load, mbatchd's placement), and
// what the cluster would have logged is written: one JOB_FINISH record per job (whole
// seconds, the CPU time its threads got) and each host's history, one sample every
// interval through the daemon's own rawFeatures. The true slowdown of every job (its
// run time over its run time alone on an idle host) is returned beside, for tests to
// compare retrain's labels and model with; nothing in the files says it.
//
//   node dist/scripts/gen-sim-data.js OUTDIR [--hosts 16] [--jobs 3000] [--seed 1] [--utilisation 0.9]
import { mkdir, open } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { formatJobFinish, JOB_STAT_DONE, type JobFinish } from '../src/lsf/acct.js';
import { rawFeatures } from '../src/model/features.js';
import { runWorkload } from '../src/simulate/engine.js';
import { syntheticHosts } from '../src/simulate/hosts.js';
import { generateWorkload, type GenerateOptions } from '../src/simulate/workload.js';
import { printError, print } from '../src/util/cliio.js';
import { ConfigError, errorMessage } from '../src/util/errors.js';

// Options of generateSimData.
export interface SimDataOptions {
  outDir: string; // receives lsb.acct and history/
  hosts?: number; // syntheticHosts(n): 8 to 64 CPUs, CPU factors 0.8 to 1.4; default 16
  jobs?: number; // default 3000
  seed?: number; // default 1
  utilisation?: number; // offered load of the job slots; default 0.9
  families?: number; // default 12
  background?: number; // share of the time each host carries non-batch CPU load; default 0.3
  backgroundMeanOn?: number; // seconds a period of it lasts on average; default 3600
  runtimeMin?: number; // family median run times are log-uniform in [min, max] seconds; default 120
  runtimeMax?: number; // default 1800
  intervalSec?: number; // the daemons' sampling interval; default 10
  startTime?: number; // epoch seconds of the simulation's time 0; default 1800000000
}

// What the simulator says happened to one job: the answer retrain must find.
export interface TrueJob {
  family: string;
  host: string;
  work: number; // idle run time on the reference host, seconds: the job's size
  slowdown: number; // run time over its run time alone on an idle host of its kind (1 = undisturbed)
  type: string; // cpu, mem or io
}

// What generateSimData wrote.
export interface SimDataResult {
  acctPath: string;
  historyDir: string;
  historyLines: number;
  jobs: number;
  truth: Map<number, TrueJob>; // by job id
}

function positive(name: string, value: number, integer = true): number {
  if (!(value > 0) || (integer && !Number.isInteger(value))) throw new ConfigError(`${name}: expected a positive ${integer ? 'integer' : 'number'}, received ${String(value)}`);
  return value;
}

// Runs the workload through the cluster model and writes OUTDIR/lsb.acct and
// OUTDIR/history/<host>.jsonl. Deterministic for a seed.
export async function generateSimData(options: SimDataOptions): Promise<SimDataResult> {
  const hostCount = positive('hosts', options.hosts ?? 16);
  const jobCount = positive('jobs', options.jobs ?? 3000);
  const seed = options.seed ?? 1;
  const interval = positive('intervalSec', options.intervalSec ?? 10);
  const t0 = options.startTime ?? 1_800_000_000;
  const hosts = syntheticHosts(hostCount);
  // Jobs shorter than the background's periods, so that the state at a job's start
  // says something about what it will meet (the rank's premise).
  const generate: Partial<GenerateOptions> = {
    jobs: jobCount, utilisation: options.utilisation ?? 0.9, families: options.families ?? 12, runtimeMin: options.runtimeMin ?? 120, runtimeMax: options.runtimeMax ?? 1800,
  };
  const jobs = generateWorkload(hosts, generate, seed);
  const bgShare = options.background ?? 0.3;
  const run = runWorkload(hosts, jobs, {
    seed,
    policy: { name: 'default', kind: 'default' },
    background: { share: bgShare, meanOn: options.backgroundMeanOn ?? 3600, maxCpuShare: 0.75 },
    keepHistory: true,
  });
  const spec = new Map(jobs.map((j) => [j.id, j]));
  const byName = new Map(hosts.map((h) => [h.name, h]));

  const historyDir = join(options.outDir, 'history');
  await mkdir(historyDir, { recursive: true });
  let historyLines = 0;
  for (const host of hosts) {
    const fh = await open(join(historyDir, `${host.name}.jsonl`), 'w');
    let parts: string[] = [];
    // A daemon samples at some millisecond of its own within each interval.
    const offsetMs = 1 + ((host.name.length * 7919 + host.cpus * 104_729) % 997);
    for (let t = interval; t <= run.makespan + interval; t += interval) {
      const features = rawFeatures(run.sampleAt(host.name, t));
      parts.push(`${JSON.stringify({ ts: (t0 + t) * 1000 + offsetMs, host: host.name, features, rank: 0, model: 'simulated' })}\n`);
      historyLines += 1;
      if (parts.length >= 2000) {
        await fh.write(parts.join(''));
        parts = [];
      }
    }
    await fh.write(parts.join(''));
    await fh.close();
  }

  // lsb.acct in finish order, times in whole seconds as mbatchd writes them.
  const truth = new Map<number, TrueJob>();
  const outcomes = [...run.outcomes].sort((a, b) => a.end - b.end || a.id - b.id);
  const acctPath = join(options.outDir, 'lsb.acct');
  const acct = await open(acctPath, 'w');
  let lines: string[] = [];
  for (const o of outcomes) {
    const j = spec.get(o.id);
    if (j === undefined) continue;
    truth.set(o.id, { family: o.family, host: o.host, work: j.work, slowdown: o.slowdown, type: o.type });
    const start = t0 + Math.floor(o.start);
    const record: JobFinish = {
      version: '33', endTime: t0 + Math.floor(o.end), jobId: o.id, userId: 1000, options: 33554435, numProcessors: o.slots,
      submitTime: t0 + Math.floor(o.submit), beginTime: 0, termTime: 0, startTime: start, userName: 'sim', queue: 'normal', resReq: '',
      dependCond: '', preExecCmd: '', fromHost: hosts[0]?.name ?? 'node0001', cwd: '/home/sim', inFile: '', outFile: '', errFile: '',
      jobFile: `${start}.${o.id}`, askedHosts: [], execHosts: new Array<string>(o.slots).fill(o.host), jStatus: JOB_STAT_DONE,
      hostFactor: byName.get(o.host)?.cpuFactor ?? 1, jobName: o.family, command: `./${o.family}`,
      rusage: {
        utime: o.cpuSeconds * 0.97, stime: o.cpuSeconds * 0.03, maxrss: Math.round(j.memBytes / 1024 / Math.max(1, o.slots)), ixrss: 0, ismrss: -1, idrss: 0, isrss: 0,
        minflt: 5000, majflt: 0, nswap: 0, inblock: 0, oublock: 0, ioch: -1, msgsnd: 0, msgrcv: 0, nsignals: 0, nvcsw: 100, nivcsw: 10, exutime: -1,
      },
      mailUser: '', projectName: 'default', exitStatus: 0, maxNumProcessors: o.slots, loginShell: '', idx: 0,
      maxRMem: Math.round(j.memBytes / 1024), maxRSwap: Math.round(j.memBytes / 1024), inFileSpool: '', commandSpool: '',
    };
    lines.push(`${formatJobFinish(record)}\n`);
    if (lines.length >= 2000) {
      await acct.write(lines.join(''));
      lines = [];
    }
  }
  await acct.write(lines.join(''));
  await acct.close();
  return { acctPath, historyDir, historyLines, jobs: outcomes.length, truth };
}

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { hosts: { type: 'string' }, jobs: { type: 'string' }, seed: { type: 'string' }, utilisation: { type: 'string' }, families: { type: 'string' }, background: { type: 'string' } },
  });
  const [outDir] = positionals;
  if (outDir === undefined || positionals.length > 1) {
    printError('usage: gen-sim-data OUTDIR [--hosts N] [--jobs N] [--seed N] [--utilisation U] [--families N] [--background SHARE]');
    return 2;
  }
  const num = (v: string | undefined): number | undefined => (v === undefined ? undefined : Number(v));
  const started = performance.now();
  const o: SimDataOptions = { outDir };
  for (const [key, v] of [['hosts', values.hosts], ['jobs', values.jobs], ['seed', values.seed], ['utilisation', values.utilisation], ['families', values.families], ['background', values.background]] as const) {
    const n = num(v);
    if (n !== undefined) o[key] = n;
  }
  const r = await generateSimData(o);
  print(`${r.historyLines} history lines in ${r.historyDir}, ${r.jobs} jobs in ${r.acctPath} (${((performance.now() - started) / 1000).toFixed(1)} s)`);
  return 0;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err: unknown) => {
      printError(`gen-sim-data: ${errorMessage(err)}`);
      process.exit(1);
    },
  );
}
