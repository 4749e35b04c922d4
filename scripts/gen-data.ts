// Synthetic cluster data with a known answer, for the end-to-end retrain test and the
// benchmark: per-host history files (a sample every interval) and an lsb.acct whose
// jobs ran slower by exactly `slope` percent per unit of cpu_busy at their start,
// plus noise. A job's CPU time is its work (its family's size times its own input
// size, `sizeSpread`), its run time that work stretched by the slowdown: the job
// waited for the CPU. This generator assumes the answer; it shows that the pipeline
// runs and scales (scripts/bench-retrain.ts). Deterministic for a seed; files are
// written as they are generated.
//
//   node dist/scripts/gen-data.js OUTDIR [--hosts 10] [--ticks 8640] [--jobs 1000] [--seed 1] ...
import { mkdir, open, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { formatJobFinish, JOB_STAT_DONE, JOB_STAT_EXIT, type JobFinish } from '../src/lsf/acct.js';
import { printError, print } from '../src/util/cliio.js';
import { ConfigError, errorMessage } from '../src/util/errors.js';
import { seededRandom } from '../src/util/random.js';

// Options of generateData; every count is validated and named in the error.
export interface GenOptions {
  outDir: string; // receives lsb.acct and history/
  seed?: number; // default 1
  hosts?: number; // default 10
  ticks?: number; // samples per host; default 8640 (a day at 10 s)
  intervalSec?: number; // default 10
  jobs?: number; // default 1000
  kinds?: number; // distinct job names; default 20
  slope?: number; // slowdown in percent per unit of cpu_busy; default 200
  noise?: number; // standard deviation of the slowdown noise, percent; default 5
  curve?: 'linear' | 'square'; // slowdown = slope × cpu_busy, or slope × cpu_busy² (which a straight line cannot fit); default linear
  sizeSpread?: number; // a job's input size is log-uniform in [1/s, s] times its family's; default 1 (all the same)
  failedFraction?: number; // jobs that exit 3; default 0.02
  multiHostFraction?: number; // jobs on two hosts, the sampled one first; default 0.05
  domain?: string; // appended to host names in lsb.acct only, e.g. ".example.com"; default ""
  rotateEvery?: number; // lines per history file before rotating to .1, .2...; default 0 (never)
  torn?: boolean; // end each host's current file with half a line, as a killed daemon would
  startTime?: number; // epoch seconds of the first sample; default 1800000000
}

// What generateData wrote.
export interface GenResult {
  acctPath: string;
  historyDir: string;
  historyLines: number;
  jobs: number;
  failed: number;
  baseRuntimes: Map<string, number>; // job name -> run time at cpu_busy 0 of a job of size 1, seconds
}

// The features each sample carries, named as the model names them (src/model/features.ts),
// so that retrain reads them as it reads a real daemon's history. Only cpu_busy drives
// the slowdown; the others are there so that a model has something to ignore or be
// misled by: runnable_per_cpu follows cpu_busy, load1_per_cpu trails it by a minute
// (what the load-only baseline sees), mem_used and disk_busy_max are unrelated.
export const GEN_FEATURES = ['cpu_busy', 'load1_per_cpu', 'runnable_per_cpu', 'mem_used', 'disk_busy_max'] as const;

function normal(rand: () => number): number {
  return Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());
}

const round4 = (x: number) => Math.round(x * 1e4) / 1e4;
const clamp = (x: number, lo: number, hi: number) => Math.min(hi, Math.max(lo, x));

function count(name: string, value: number, min = 0): number {
  if (!Number.isInteger(value) || value < min) throw new ConfigError(`${name}: expected an integer >= ${min}, received ${String(value)}`);
  return value;
}

function fraction(name: string, value: number): number {
  if (!(value >= 0 && value <= 1)) throw new ConfigError(`${name}: expected 0 to 1, received ${String(value)}`);
  return value;
}

// Appends lines to one file through a buffer, so a million lines cost a few hundred writes.
class BufferedFile {
  private parts: string[] = [];
  private size = 0;
  private constructor(private readonly fh: FileHandle) {}
  static async open(path: string): Promise<BufferedFile> {
    return new BufferedFile(await open(path, 'w'));
  }
  async write(text: string): Promise<void> {
    this.parts.push(text);
    this.size += text.length;
    if (this.size >= 64 * 1024) await this.flush();
  }
  async flush(): Promise<void> {
    if (this.size === 0) return;
    const text = this.parts.join('');
    this.parts = [];
    this.size = 0;
    await this.fh.write(text);
  }
  async close(): Promise<void> {
    await this.flush();
    await this.fh.close();
  }
}

interface PlannedJob {
  id: number;
  tick: number;
  offset: number; // seconds after the tick's second, 1..interval-1
  host: number;
  second: number; // host index of a two-host job, or -1
  kind: number;
  failed: boolean;
  start: number;
  runtime: number;
  work: number; // CPU seconds
}

interface HostState {
  name: string;
  msOffset: number; // where in its second this host samples, as real daemons drift apart
  cpuMean: number;
  cpu: number;
  mem: number;
  disk: number; // busiest disk's busy share
  load1: number; // per CPU, the kernel's 1-minute exponential average of runnable tasks
}

// Writes OUTDIR/lsb.acct and OUTDIR/history/<host>.jsonl[.N] and returns what it wrote.
export async function generateData(options: GenOptions): Promise<GenResult> {
  const hosts = count('hosts', options.hosts ?? 10, 1);
  const ticks = count('ticks', options.ticks ?? 8640, 1);
  const interval = count('intervalSec', options.intervalSec ?? 10, 2);
  const jobCount = count('jobs', options.jobs ?? 1000);
  const kinds = count('kinds', options.kinds ?? 20, 1);
  const rotateEvery = count('rotateEvery', options.rotateEvery ?? 0);
  const failedFraction = fraction('failedFraction', options.failedFraction ?? 0.02);
  const multiHostFraction = hosts < 2 ? 0 : fraction('multiHostFraction', options.multiHostFraction ?? 0.05);
  const slope = options.slope ?? 200;
  const noise = options.noise ?? 5;
  const sizeSpread = options.sizeSpread ?? 1;
  const curve = options.curve ?? 'linear';
  if (curve !== 'linear' && curve !== 'square') throw new ConfigError(`curve: expected linear or square, received ${String(curve)}`);
  if (!(sizeSpread >= 1)) throw new ConfigError(`sizeSpread: expected a number >= 1, received ${String(sizeSpread)}`);
  const domain = options.domain ?? '';
  const t0 = options.startTime ?? 1_800_000_000;
  // Over t seconds the kernel's 1-minute load average keeps exp(-t / 60 s) of its old value.
  const load1Decay = Math.exp(-interval / 60);
  const rand = seededRandom(options.seed ?? 1);

  const hostStates: HostState[] = Array.from({ length: hosts }, (_, i) => {
    const cpuMean = 0.1 + 0.4 * rand();
    return {
      name: `node${String(i + 1).padStart(3, '0')}`,
      msOffset: 1 + Math.floor(rand() * 998),
      cpuMean, cpu: cpuMean, mem: 0.2 + 0.5 * rand(), disk: 0.1 * rand(), load1: 1.2 * cpuMean,
    };
  });
  // Log-uniform from one minute to an hour: all far above lsb.acct's 1 s resolution.
  const baseRuntimes = Array.from({ length: kinds }, () => Math.round(60 * Math.exp(rand() * Math.log(60))));
  const kindName = (k: number) => `sim${String(k).padStart(2, '0')}`;

  const planned: PlannedJob[] = Array.from({ length: jobCount }, () => {
    const host = Math.floor(rand() * hosts);
    const other = Math.floor(rand() * (hosts - 1));
    return {
      id: 0,
      tick: Math.floor(rand() * ticks),
      // Never 0: a sample taken later in the start second must not be the one that counts.
      offset: 1 + Math.floor(rand() * (interval - 1)),
      host,
      second: rand() < multiHostFraction ? (other >= host ? other + 1 : other) : -1,
      kind: Math.floor(rand() * kinds),
      failed: rand() < failedFraction,
      start: 0,
      runtime: 0,
      work: 0,
    };
  });
  planned.sort((a, b) => a.tick - b.tick);

  const historyDir = join(options.outDir, 'history');
  await mkdir(historyDir, { recursive: true });
  const segments = rotateEvery === 0 ? 1 : Math.ceil(ticks / rotateEvery);
  const fileName = (host: HostState, segment: number) =>
    join(historyDir, segment === segments - 1 ? `${host.name}.jsonl` : `${host.name}.jsonl.${segments - 1 - segment}`);
  let files = await Promise.all(hostStates.map((h) => BufferedFile.open(fileName(h, 0))));
  let next = 0;
  let historyLines = 0;
  for (let tick = 0; tick < ticks; tick += 1) {
    if (rotateEvery > 0 && tick > 0 && tick % rotateEvery === 0) {
      await Promise.all(files.map((f) => f.close()));
      const segment = tick / rotateEvery;
      files = await Promise.all(hostStates.map((h) => BufferedFile.open(fileName(h, segment))));
    }
    const second = t0 + tick * interval;
    for (let h = 0; h < hosts; h += 1) {
      const s = hostStates[h] as HostState;
      // AR(1) around the host's mean; clamping at 0 leaves idle stretches, so each
      // kind has runs on idle hosts and its baseline is close to the true base run time.
      s.cpu = s.cpuMean + 0.99 * (s.cpu - s.cpuMean) + 0.056 * normal(rand);
      s.mem = clamp(s.mem + 0.005 * normal(rand), 0.05, 0.95);
      s.disk = clamp(0.9 * s.disk + 0.02 * Math.abs(normal(rand)), 0, 1);
      const cpu = round4(clamp(s.cpu, 0, 1));
      const runnable = round4(Math.max(0, cpu * 1.2 + 0.05 * normal(rand)));
      s.load1 = runnable + load1Decay * (s.load1 - runnable);
      const load1 = round4(s.load1);
      const mem = round4(s.mem);
      const disk = round4(s.disk);
      const rank = Math.round(100 * Math.max(cpu, runnable) * 10) / 10;
      await (files[h] as BufferedFile).write(
        `{"ts":${second * 1000 + s.msOffset},"host":"${s.name}","features":{"cpu_busy":${cpu},"load1_per_cpu":${load1},` +
          `"runnable_per_cpu":${runnable},"mem_used":${mem},"disk_busy_max":${disk}},"rank":${rank},"model":"formula"}\n`,
      );
      historyLines += 1;
    }
    // Every host's sample for this tick exists now: price the jobs that start in it.
    for (; next < planned.length && (planned[next] as PlannedJob).tick === tick; next += 1) {
      price(planned[next] as PlannedJob);
    }
  }
  function price(job: PlannedJob): void {
    const cpu = round4(clamp((hostStates[job.host] as HostState).cpu, 0, 1));
    const slowdown = slope * (curve === 'square' ? cpu * cpu : cpu) + noise * normal(rand);
    job.start = t0 + job.tick * interval + job.offset;
    const size = Math.exp((2 * rand() - 1) * Math.log(sizeSpread));
    job.work = (baseRuntimes[job.kind] ?? 60) * size;
    job.runtime = job.failed ? 1 + Math.floor(rand() * 30) : Math.max(1, Math.round(job.work * (1 + slowdown / 100)));
  }
  if (options.torn === true) {
    for (const [h, f] of files.entries()) await f.write(`{"ts":${(t0 + ticks * interval) * 1000},"host":"${hostStates[h]?.name}","feat`);
  }
  await Promise.all(files.map((f) => f.close()));
  // Job ids grow with submission, as mbatchd numbers them.
  planned.sort((a, b) => a.start - b.start);
  planned.forEach((job, i) => {
    job.id = i + 1;
  });

  // lsb.acct is in finish order, as mbatchd appends a record when a job ends.
  planned.sort((a, b) => a.start + a.runtime - (b.start + b.runtime));
  const acctPath = join(options.outDir, 'lsb.acct');
  const acct = await BufferedFile.open(acctPath);
  let failed = 0;
  for (const job of planned) {
    if (job.failed) failed += 1;
    await acct.write(`${formatJobFinish(toRecord(job, job.id))}\n`);
  }
  await acct.close();

  function toRecord(job: PlannedJob, jobId: number): JobFinish {
    const host = (i: number) => `${hostStates[i]?.name ?? 'node000'}${domain}`;
    const execHosts = job.second < 0 ? [host(job.host)] : [host(job.host), host(job.second)];
    // Every fifth kind has no -J name, so its kind is its command.
    const jobName = job.kind % 5 === 4 ? '' : kindName(job.kind);
    const submitTime = job.start - 1 - (jobId % 60);
    return {
      version: '33', endTime: job.start + job.runtime, jobId, userId: 1000, options: 33554435, numProcessors: execHosts.length,
      submitTime, beginTime: 0, termTime: 0, startTime: job.start, userName: 'sim', queue: 'normal', resReq: '',
      dependCond: '', preExecCmd: '', fromHost: host(0), cwd: '/home/sim', inFile: '', outFile: '', errFile: '',
      jobFile: `${submitTime}.${jobId}`, askedHosts: [], execHosts, jStatus: job.failed ? JOB_STAT_EXIT : JOB_STAT_DONE,
      hostFactor: 100, jobName, command: `./${kindName(job.kind)} --input "case ${job.kind}"`,
      rusage: {
        // A two-host job keeps both of its slots busy: twice the CPU time for the same run time.
        utime: (job.failed ? job.runtime * 0.9 : job.work * 0.95) * execHosts.length, stime: (job.failed ? job.runtime * 0.05 : job.work * 0.03) * execHosts.length, maxrss: 100_000, ixrss: 0, ismrss: -1, idrss: 0, isrss: 0,
        minflt: 5000, majflt: 0, nswap: 0, inblock: 0, oublock: 64, ioch: -1, msgsnd: 0, msgrcv: 0, nsignals: 0,
        nvcsw: 100, nivcsw: 10, exutime: -1,
      },
      mailUser: '', projectName: 'default', exitStatus: job.failed ? 768 : 0, maxNumProcessors: execHosts.length,
      loginShell: '', idx: 0, maxRMem: 100_000, maxRSwap: 200_000, inFileSpool: '', commandSpool: '',
    };
  }

  return {
    acctPath, historyDir, historyLines, jobs: jobCount, failed,
    baseRuntimes: new Map(baseRuntimes.map((b, k) => [kindName(k), b])),
  };
}

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      seed: { type: 'string' }, hosts: { type: 'string' }, ticks: { type: 'string' }, jobs: { type: 'string' },
      kinds: { type: 'string' }, interval: { type: 'string' }, slope: { type: 'string' }, noise: { type: 'string' }, 'size-spread': { type: 'string' }, curve: { type: 'string' },
      domain: { type: 'string' }, 'rotate-every': { type: 'string' }, torn: { type: 'boolean' },
    },
  });
  const [outDir] = positionals;
  if (outDir === undefined || positionals.length > 1) {
    printError('usage: gen-data OUTDIR [--seed N] [--hosts N] [--ticks N] [--jobs N] [--kinds N] [--interval S] [--slope P] [--noise P] [--size-spread S] [--curve linear|square] [--domain .D] [--rotate-every N] [--torn]');
    return 2;
  }
  const num = (v: string | undefined) => (v === undefined ? undefined : Number(v));
  const started = performance.now();
  const result = await generateData({
    outDir, seed: num(values.seed), hosts: num(values.hosts), ticks: num(values.ticks), jobs: num(values.jobs),
    kinds: num(values.kinds), intervalSec: num(values.interval), slope: num(values.slope), noise: num(values.noise), sizeSpread: num(values['size-spread']), curve: values.curve as GenOptions['curve'],
    domain: values.domain, rotateEvery: num(values['rotate-every']), torn: values.torn,
  });
  const seconds = ((performance.now() - started) / 1000).toFixed(1);
  print(`${result.historyLines} history lines in ${result.historyDir}, ${result.jobs} jobs in ${result.acctPath} (${seconds} s)`);
  return 0;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err: unknown) => {
      printError(`gen-data: ${errorMessage(err)}`);
      process.exit(1);
    },
  );
}
