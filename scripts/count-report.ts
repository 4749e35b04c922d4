// The whole daemon's user-space instructions per report, counted by callgrind: the
// quiet before/after figure of issue 16's passes, which run times on a shared VM move
// by more than a cut is worth. Each build is installed in a root of its own holding
// only what an installation holds (dist/src, models/, package.json and the production
// node_modules: with a checkout's development tree, the installation's check after the
// first report walks 7 500 files under valgrind for minutes), runs as LIM runs it (the
// installed wrapper's V8 flags, stdout a FIFO read as it comes, history on, GPU off)
// under `valgrind --tool=callgrind`, and has its counters zeroed after --warmup reports
// and dumped --reports reports later. Builds given together start together, so that
// they share the host's noise; --floor counts the reads-only floor the same way.
//
//   node dist/scripts/count-report.js [--node host|small|big] [--reports 24] [--warmup 40]
//        [--interval 3] [--rounds 1] [--floor] [--pipe fifo|lim] [--build DIR]... [--keep DIR]
//
// --pipe: `fifo` (the default, the bench's stdout), read so that reads move its atime;
// `lim`, read through O_NOATIME, as LIM's pipe(2) is on Linux 6.14 and later, where
// reads keep no times and the sink takes back at every report.
// --node: this host's /proc and /sys; or a generated node read kept open as procfs
// is, its counters advancing every half interval (gen-bignode.ts): `small` (2 CPUs,
// one disk, one NIC: the same files at every run, quieter than this host's) or `big`
// (issue 16's 128-CPU node). --build: a checkout whose `npm run build` is to be counted
// (repeat it to compare builds; default this checkout). --keep: where to leave the
// callgrind dumps (`callgrind_annotate --inclusive=yes FILE` reads them); else they are
// removed; they name Node's and V8's native functions only (valgrind sees no symbols for
// the interpreter's frames), so a figure per JavaScript function needs an in-process
// harness. Needs valgrind and callgrind_control on the PATH.
import { execFileSync, spawn } from 'node:child_process';
import { closeSync, cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { DAEMON_NODE_FLAGS } from '../src/util/node-flags.js';
import { advanceCounters, daemonConfig, reportPipe } from './bench-daemon.js';
import { BIG_NODE, generateBigNode, type BigNodeRoots, type BigNodeSpec } from './gen-bignode.js';

// A 2-CPU node with one disk and one NIC: the shape of the VMs the passes ran on.
export const SMALL_NODE: Readonly<BigNodeSpec> = { cpus: 2, disks: 1, partitions: 1, loops: 0, nics: 1, threadsPerCore: 1 };

// One program counted: its label and what follows the valgrind options.
interface Counted {
  label: string;
  args: string[];
  cwd: string;
  log?: string; // the daemon's log file: its lines written in the window tell a quiet run
}

// What one program's window held.
export interface CountResult {
  label: string;
  instructions: number; // user-space instructions (callgrind's Ir) in the window, every thread
  perReport: number;
  logLines: number | undefined; // lines the daemon logged in the window (a late report logs one)
  dump: string;
}

// The production packages of a lockfile (its `packages` without `dev`), as paths under the root.
export function productionPackages(lock: unknown): string[] {
  const packages = (lock as { packages?: Record<string, { dev?: boolean }> }).packages;
  if (packages === undefined || typeof packages !== 'object') throw new Error('package-lock.json: no "packages" object (lockfileVersion 2 or 3 expected)');
  return Object.entries(packages)
    .filter(([path, p]) => path.startsWith('node_modules/') && p.dev !== true)
    .map(([path]) => path);
}

// Copies what an installation of the checkout at `build` holds into `root`.
export function installInto(build: string, root: string): void {
  const cli = join(build, 'dist/src/cli.js');
  if (!existsSync(cli)) throw new Error(`${build}: no dist/src/cli.js; run npm run build there first`);
  mkdirSync(root, { recursive: true });
  cpSync(join(build, 'dist/src'), join(root, 'dist/src'), { recursive: true });
  cpSync(join(build, 'models'), join(root, 'models'), { recursive: true });
  cpSync(join(build, 'package.json'), join(root, 'package.json'));
  for (const path of productionPackages(JSON.parse(readFileSync(join(build, 'package-lock.json'), 'utf8')))) {
    if (existsSync(join(build, path))) cpSync(join(build, path), join(root, path), { recursive: true });
  }
}

// The instructions a callgrind dump holds: its `totals:` line (else `summary:`), first event (Ir).
export function dumpInstructions(text: string): number {
  const m = /^totals:\s+(\d+)/m.exec(text) ?? /^summary:\s+(\d+)/m.exec(text);
  if (m === null) throw new Error('callgrind dump without a totals: or summary: line');
  return Number(m[1]);
}

function lineCount(path: string | undefined): number | undefined {
  if (path === undefined || !existsSync(path)) return undefined;
  return readFileSync(path, 'latin1').split('\n').length - 1;
}

// Runs the programs together under callgrind and counts each one's window.
async function countTogether(runs: Counted[], o: { reports: number; warmup: number; intervalSec: number; dumpDir: string; noAtime: boolean }): Promise<CountResult[]> {
  const one = (run: Counted): Promise<CountResult> => {
    const pipe = reportPipe({ noAtime: o.noAtime });
    const out = join(o.dumpDir, `${run.label.replace(/[^A-Za-z0-9_-]+/g, '-')}.%p`);
    const child = spawn('valgrind', ['--tool=callgrind', `--callgrind-out-file=${out}`, process.execPath, ...run.args], { stdio: ['ignore', pipe.writeFd, 'pipe'], cwd: run.cwd });
    closeSync(pipe.writeFd);
    let stderr = '';
    child.stderr?.setEncoding('utf8').on('data', (s: string) => (stderr = (stderr + s).slice(-4000)));
    const pid = child.pid;
    const limitMs = (o.warmup + o.reports) * o.intervalSec * 4000 + 300_000;
    let timer: NodeJS.Timeout | undefined;
    const done = new Promise<CountResult>((resolvePromise, reject) => {
      if (pid === undefined) return reject(new Error(`${run.label}: cannot start valgrind (is it installed?)`));
      timer = setTimeout(() => reject(new Error(`${run.label}: no ${o.warmup + o.reports} reports in ${limitMs / 1000} s`)), limitMs);
      child.on('exit', (code) => reject(new Error(`${run.label}: exited with status ${String(code)}: ${stderr}`)));
      let seen = 0;
      let buffered = '';
      let logAtZero: number | undefined;
      pipe.readEnd.setEncoding('utf8');
      pipe.readEnd.on('data', (chunk: string) => {
        buffered += chunk;
        let nl: number;
        while ((nl = buffered.indexOf('\n')) >= 0) {
          buffered = buffered.slice(nl + 1);
          seen++;
          try {
            if (seen === o.warmup) {
              execFileSync('callgrind_control', ['-z', String(pid)], { stdio: 'ignore' });
              logAtZero = lineCount(run.log);
            } else if (seen === o.warmup + o.reports) {
              execFileSync('callgrind_control', ['-d', String(pid)], { stdio: 'ignore' });
              const logLines = lineCount(run.log);
              const prefix = `${out.slice(out.lastIndexOf('/') + 1).replace('%p', String(pid))}.`;
              const dump = readdirSync(o.dumpDir).filter((f) => f.startsWith(prefix)).sort().at(-1);
              if (dump === undefined) throw new Error(`${run.label}: callgrind wrote no dump ${prefix}*`);
              const instructions = dumpInstructions(readFileSync(join(o.dumpDir, dump), 'latin1'));
              child.removeAllListeners('exit');
              resolvePromise({
                label: run.label,
                instructions,
                perReport: instructions / o.reports,
                logLines: logLines === undefined || logAtZero === undefined ? undefined : logLines - logAtZero,
                dump: join(o.dumpDir, dump),
              });
            }
          } catch (err) {
            reject(err instanceof Error ? err : new Error(String(err)));
          }
        }
      });
    });
    return done.finally(async () => {
      clearTimeout(timer);
      child.kill('SIGTERM');
      await new Promise((r) => (child.exitCode !== null || child.signalCode !== null ? r(undefined) : child.once('exit', r)));
      pipe.readEnd.destroy();
      pipe.remove();
    });
  };
  const settled = await Promise.allSettled(runs.map(one));
  const failed = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (failed !== undefined) throw failed.reason;
  return settled.map((s) => (s as PromiseFulfilledResult<CountResult>).value);
}

function whole(name: string, raw: string, min: number): number {
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min) throw new RangeError(`--${name}: expected a whole number of at least ${min}, received ${JSON.stringify(raw)}`);
  return n;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      node: { type: 'string', default: 'host' },
      reports: { type: 'string', default: '24' },
      warmup: { type: 'string', default: '40' },
      interval: { type: 'string', default: '3' },
      rounds: { type: 'string', default: '1' },
      floor: { type: 'boolean', default: false },
      pipe: { type: 'string', default: 'fifo' },
      build: { type: 'string', multiple: true },
      keep: { type: 'string' },
    },
  });
  const reports = whole('reports', values.reports, 1);
  const warmup = whole('warmup', values.warmup, 1);
  const intervalSec = whole('interval', values.interval, 1);
  const rounds = whole('rounds', values.rounds, 1);
  if (values.pipe !== 'fifo' && values.pipe !== 'lim') throw new RangeError(`--pipe: expected fifo or lim, received ${JSON.stringify(values.pipe)}`);
  if (!['host', 'small', 'big'].includes(values.node)) throw new RangeError(`--node: expected host, small or big, received ${JSON.stringify(values.node)}`);
  const here = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
  const builds = (values.build ?? [here]).map((b) => resolve(b));
  for (const b of builds) if (!statSync(b, { throwIfNoEntry: false })?.isDirectory()) throw new Error(`--build: ${b} is not a directory`);
  const dir = mkdtempSync(join(tmpdir(), 'lavarank-count-'));
  const dumpDir = values.keep === undefined ? join(dir, 'dumps') : resolve(values.keep);
  mkdirSync(dumpDir, { recursive: true });
  try {
    const spec = values.node === 'big' ? BIG_NODE : values.node === 'small' ? SMALL_NODE : undefined;
    const roots: BigNodeRoots | undefined = spec === undefined ? undefined : generateBigNode(join(dir, 'node'), spec);
    const stop = spec === undefined || roots === undefined ? () => undefined : advanceCounters(roots, spec, intervalSec, { inPlace: true });
    const runs: Counted[] = builds.map((b, i) => {
      const root = join(dir, `install${i}`);
      installInto(b, root);
      const name = `build${i}`;
      const config = daemonConfig(dir, name, { ...(roots ?? {}), history: true });
      const extra = roots === undefined ? [] : ['--test-keep-open'];
      return {
        label: `${name} ${b}`,
        args: [...DAEMON_NODE_FLAGS, join(root, 'dist/src/cli.js'), 'run', '--test-interval', String(intervalSec), '--config', config, ...extra],
        cwd: dir,
        log: join(dir, `${name}.log`),
      };
    });
    if (values.floor) {
      const floorArgs = [...DAEMON_NODE_FLAGS, join(here, 'dist/scripts/floor-elim.js'), '--interval', String(intervalSec)];
      if (roots !== undefined) floorArgs.push('--keep-open', '--proc-root', roots.procRoot, '--sys-root', roots.sysRoot);
      runs.push({ label: 'floor', args: floorArgs, cwd: dir });
    }
    const per = new Map<string, number[]>();
    try {
      for (let r = 1; r <= rounds; r++) {
        const results = await countTogether(runs, { reports, warmup, intervalSec, dumpDir, noAtime: values.pipe === 'lim' });
        for (const c of results) {
          per.set(c.label, [...(per.get(c.label) ?? []), c.perReport]);
          const logged = c.logLines === undefined ? '' : `, ${c.logLines} log lines in the window`;
          process.stdout.write(`round ${r}: ${c.label}: ${Math.round(c.perReport)} instructions a report (${c.instructions} over ${reports}${logged})${values.keep === undefined ? '' : `, ${c.dump}`}\n`);
        }
      }
    } finally {
      stop();
    }
    const where = values.node === 'host' ? 'this host' : `a generated node of ${spec!.cpus} CPUs read kept open`;
    const read = values.pipe === 'lim' ? ', stdout read without moving its atime (LIM\'s pipe on Linux 6.14+)' : '';
    process.stdout.write(`\ninstructions a report (callgrind Ir, every thread), ${where}${read}, ${reports} reports after ${warmup}, ${intervalSec} s interval, ${rounds} round(s):\n`);
    for (const [label, counts] of per) {
      const sorted = [...counts].sort((a, b) => a - b);
      process.stdout.write(`  ${label}: ${sorted.map((c) => Math.round(c)).join(', ')}\n`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((err: unknown) => {
    process.stderr.write(`count-report: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  });
}
