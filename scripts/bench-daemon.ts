// The whole running elim's cost, for `npm run bench`: CPU per report (all threads)
// and RSS of dist/src/cli.js run, started as LIM starts it (stdout a pipe, stdin
// /dev/null) with a temporary config: log file in a temp dir, history and GPU off.
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readKernelText } from '../src/collectors/procfs.js';
import { DAEMON_NODE_FLAGS } from '../src/util/node-flags.js';

// USER_HZ, the unit of utime and stime in /proc/PID/stat.
const USER_HZ = 100;

// The whole running elim: CPU (all threads) per report and RSS.
export interface DaemonResult {
  reports: number; // measured, after the warm-up reports
  warmupReports: number;
  intervalSec: number;
  cpuMsPerReport: number; // from schedstat when the threads stayed the same, else from stat
  cpuMsPerReportTicks: number; // from /proc/PID/stat utime + stime alone
  cpuSource: string; // which of the two cpuMsPerReport is
  rssMB: number;
  threads: number;
  lastLine: string;
}

interface CpuReading {
  ticksNs: number; // utime + stime of /proc/PID/stat: every thread, dead ones included; 10 ms steps
  schedNs: number | undefined; // sum of /proc/PID/task/*/schedstat: nanoseconds, live threads only
  tasks: string[];
}

function readCpu(pid: number): CpuReading {
  const stat = readKernelText('bench', `/proc/${pid}/stat`);
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticksNs = ((Number(fields[11]) + Number(fields[12])) * 1e9) / USER_HZ; // fields 14 and 15 of proc(5)
  const tasks = readdirSync(`/proc/${pid}/task`).sort();
  let schedNs: number | undefined = 0;
  try {
    for (const t of tasks) schedNs += Number(readKernelText('bench', `/proc/${pid}/task/${t}/schedstat`).split(' ')[0]);
  } catch {
    schedNs = undefined; // a kernel without CONFIG_SCHED_INFO, or a thread that just ended
  }
  return { ticksNs, schedNs: Number.isFinite(schedNs) ? schedNs : undefined, tasks };
}

function rssMBOf(pid: number): number {
  const m = /^VmRSS:\s+(\d+) kB$/m.exec(readKernelText('bench', `/proc/${pid}/status`));
  return Number(m?.[1] ?? Number.NaN) / 1024;
}

// Runs the built elim (dist/src/cli.js run) as LIM would, stdout piped, with a
// temporary config (log file in a temp dir, history and GPU off), and measures
// `reports` reports after `warmup` ones. `config` is added to that config (YAML).
export async function measureDaemon(options: { cliPath: string; reports: number; warmup?: number; intervalSec?: number; config?: string }): Promise<DaemonResult> {
  const warmup = options.warmup ?? 5;
  const intervalSec = options.intervalSec ?? 1;
  const dir = mkdtempSync(join(tmpdir(), 'lavarank-bench-'));
  const config = join(dir, 'lavarank.yaml');
  writeFileSync(config, `log:\n  file: ${join(dir, 'lavarank.log')}\nhistory:\n  enabled: false\ngpu:\n  enabled: false\n${options.config ?? ''}`, { mode: 0o644 });
  const child = spawn(process.execPath, [...DAEMON_NODE_FLAGS, options.cliPath, 'run', '--test-interval', String(intervalSec), '--config', config], {
    stdio: ['ignore', 'pipe', 'ignore'],
    cwd: dir,
  });
  const pid = child.pid;
  if (pid === undefined) throw new Error(`cannot start ${options.cliPath}`);
  let timer: NodeJS.Timeout | undefined;
  try {
    return await new Promise<DaemonResult>((resolvePromise, reject) => {
      let seen = 0;
      let buffered = '';
      let start: CpuReading | undefined;
      let lastLine = '';
      const limitMs = (warmup + options.reports) * intervalSec * 3000 + 10_000;
      timer = setTimeout(() => reject(new Error(`the elim wrote ${seen} reports in ${limitMs / 1000} s`)), limitMs);
      child.on('exit', (code) => reject(new Error(`the elim exited with status ${String(code)} after ${seen} reports; see ${join(dir, 'lavarank.log')}`)));
      child.stdout.setEncoding('utf8');
      child.stdout.on('data', (chunk: string) => {
        buffered += chunk;
        let nl: number;
        while ((nl = buffered.indexOf('\n')) >= 0) {
          lastLine = buffered.slice(0, nl);
          buffered = buffered.slice(nl + 1);
          seen++;
          if (seen === warmup) start = readCpu(pid);
          if (seen === warmup + options.reports && start !== undefined) {
            const end = readCpu(pid);
            // schedstat forgets threads that ended; use it only if the same threads ran throughout.
            const precise = start.schedNs !== undefined && end.schedNs !== undefined && start.tasks.join() === end.tasks.join();
            child.removeAllListeners('exit');
            resolvePromise({
              reports: options.reports,
              warmupReports: warmup,
              intervalSec,
              cpuMsPerReport: (precise ? end.schedNs! - start.schedNs! : end.ticksNs - start.ticksNs) / 1e6 / options.reports,
              cpuMsPerReportTicks: (end.ticksNs - start.ticksNs) / 1e6 / options.reports,
              cpuSource: precise ? '/proc/PID/task/*/schedstat, all threads' : '/proc/PID/stat utime+stime, all threads',
              rssMB: rssMBOf(pid),
              threads: end.tasks.length,
              lastLine,
            });
          }
        }
      });
    });
  } finally {
    clearTimeout(timer);
    child.kill('SIGTERM');
    await new Promise((r) => (child.exitCode !== null || child.signalCode !== null ? r(undefined) : child.once('exit', r)));
    rmSync(dir, { recursive: true, force: true });
  }
}
