// Batch jobs running on the host calibrate is about to load for hours. Their load
// would blur every measurement (runs that share the host are flagged `foreign`, not
// undone), so calibrate names them before it starts. A job is found by LSB_JOBID in a
// process's environment, which sbatchd sets for every job it starts (sbd.job.c,
// OpenLava 4.0; IBM LSF does the same).
import { closeSync, openSync, readdirSync, readFileSync, readSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { errorCode, errorMessage } from '../util/errors.js';
import { runCommand, type RunResult } from '../util/exec.js';
import { CHILD_NODE_FLAGS } from '../util/node-flags.js';
import { escapedControls } from '../util/shown.js';

// One job: its id and the processes of it that were seen.
export interface BatchJob {
  jobId: string;
  processes: Array<{ pid: number; command: string }>;
}

// How much of a process's environment is read: exec(2) gives a program at most 6 MiB
// of arguments and environment together (bprm_stack_limits in fs/exec.c, 3/4 of
// _STK_LIM), so sbatchd's LSB_JOBID lies within it. /proc/<pid>/environ reads whatever
// memory the process names as its environment, which any user may move with
// prctl(PR_SET_MM_MAP) in a user namespace of their own: 64 GiB of untouched memory
// read as zeros at 4 GB/s, all of it held by root's calibrate until the host ran out.
export const MAX_ENVIRON_BYTES = 6 * 1024 * 1024;

// A job id as sbatchd writes LSB_JOBID ("%d", sbd.job.c); IBM LSF's are numbers too.
// An element of a job array gets its array's id there, and its index in LSB_JOBINDEX
// (0 for a job that is no element), so an element is named as bjobs names it, 100[3].
const JOB_NUMBER = /^\d{1,10}$/;

// The value of variable name in a /proc/<pid>/environ (NUL-separated NAME=value), cut
// at max bytes (enough to tell a job number from anything longer), if it is set.
// Searched in the bytes: made text whole, a user's 6 MiB of zeros took 100 to 150 ms a
// process.
function variableOf(environ: Buffer, name: string, max: number): string | undefined {
  const key = `${name}=`;
  for (let at = environ.indexOf(key); at >= 0; at = environ.indexOf(key, at + 1)) {
    if (at > 0 && environ[at - 1] !== 0) continue; // MY_LSB_JOBID=
    const start = at + key.length;
    const end = environ.indexOf(0, start);
    return environ.toString('latin1', start, Math.min(end < 0 ? environ.length : end, start + max));
  }
  return undefined;
}

// A job named as bjobs names it (4242, or 100[3] for an element of a job array), from
// its LSB_JOBID and LSB_JOBINDEX, if LSB_JOBID is a job number.
function jobName(id: string | undefined, index: string | undefined): string | undefined {
  if (id === undefined || !JOB_NUMBER.test(id)) return undefined;
  return index !== undefined && JOB_NUMBER.test(index) && Number(index) > 0 ? `${id}[${index}]` : id;
}

// The job of a /proc/<pid>/environ, named as bjobs names it, if LSB_JOBID is a job
// number. Any other value is a user's own, not sbatchd's: five processes with a 128 KB
// one of escape sequences made calibrate's warning 1.4 MB on root's terminal.
export function jobIdOf(environ: Buffer): string | undefined {
  return jobName(variableOf(environ, 'LSB_JOBID', 11), variableOf(environ, 'LSB_JOBINDEX', 11));
}

// The first max bytes of a file.
function readHead(path: string, max: number): Buffer {
  const fd = openSync(path, 'r');
  try {
    const chunks: Buffer[] = [];
    let total = 0;
    while (total < max) {
      const chunk = Buffer.allocUnsafe(Math.min(64 * 1024, max - total));
      const n = readSync(fd, chunk, 0, chunk.length, null);
      if (n === 0) break;
      chunks.push(chunk.subarray(0, n));
      total += n;
    }
    return Buffer.concat(chunks);
  } finally {
    closeSync(fd);
  }
}

// The jobs of the processes under procRoot, but for the job calibrate itself runs in
// (ownJob: its own, as jobIdOf names it, when an administrator submits it as a job,
// or as an element of a job array) and itself.
// unreadable counts the processes whose environment could not be read (another user's,
// when not run as root); a process gone meanwhile counts as neither.
export function runningBatchJobs(procRoot = '/proc', self = process.pid, ownJob = jobName(process.env['LSB_JOBID'], process.env['LSB_JOBINDEX'])): { jobs: BatchJob[]; unreadable: number } {
  const jobs = new Map<string, BatchJob>();
  let unreadable = 0;
  let entries: string[];
  try {
    entries = readdirSync(procRoot);
  } catch {
    return { jobs: [], unreadable: 0 }; // no /proc: nothing can be said
  }
  for (const entry of entries) {
    if (!/^\d+$/.test(entry) || Number(entry) === self) continue;
    let environ: Buffer;
    try {
      environ = readHead(join(procRoot, entry, 'environ'), MAX_ENVIRON_BYTES);
    } catch (err) {
      if (errorCode(err) === 'EACCES' || errorCode(err) === 'EPERM') unreadable++;
      continue; // ENOENT, ESRCH: exited since the listing
    }
    const jobId = jobIdOf(environ);
    if (jobId === undefined || jobId === ownJob) continue;
    let command = '?';
    try {
      command = readFileSync(join(procRoot, entry, 'comm'), 'latin1').trimEnd();
    } catch {
      // exited between the two reads: still a job's process when its environment was read
    }
    const job = jobs.get(jobId) ?? { jobId, processes: [] };
    job.processes.push({ pid: Number(entry), command });
    jobs.set(jobId, job);
  }
  return { jobs: [...jobs.values()], unreadable };
}

// How long calibrate waits for the job scan: some 0.3 s at 3 000 processes here, a
// minute at 1 000 whose environments name 6 MiB never touched.
export const JOB_SCAN_TIMEOUT_MS = 20_000;

const JOBSCAN_PATH = fileURLToPath(new URL('./jobscan.js', import.meta.url));

// The signals that stop calibrate: handled by its job scan (scanBatchJobs) and by its
// run (calibrate in calibrate.ts), each exiting 128 + the signal's number.
export const STOP_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

// runningBatchJobs in a child process (jobscan.js; program, for tests) that is ended
// after timeoutMs; { failed } says why there is no answer (too late, or how the child
// failed). Reading
// /proc/PID/environ takes the lock of that process's memory map, and any user with a
// FUSE mount holds their own for as long as they like (a thread reading a page of
// theirs that the FUSE server never answers, through /proc/self/mem, and another
// asking for the lock to write): only a fatal signal ends that wait, so root's
// calibrate, even --dry-run, waited in the kernel through SIGINT and SIGTERM.
// SIGINT, SIGTERM or SIGHUP meanwhile ends the child too ({ stopped } names the signal;
// a second one exits at once): by their default action they ended calibrate alone,
// and a child held so stayed behind, root's, for as long as the holder pleased.
export async function scanBatchJobs(procRoot = '/proc', timeoutMs = JOB_SCAN_TIMEOUT_MS, program = JOBSCAN_PATH): Promise<{ jobs: BatchJob[]; unreadable: number } | { failed: string } | { stopped: NodeJS.Signals }> {
  const controller = new AbortController();
  let stopped: NodeJS.Signals | undefined;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (stopped !== undefined) process.exit(1);
    stopped = signal;
    controller.abort();
  };
  for (const s of STOP_SIGNALS) process.on(s, onSignal);
  let result: RunResult;
  try {
    result = await runCommand(process.execPath, [...CHILD_NODE_FLAGS, program, '--proc-root', procRoot], { timeoutMs, maxBufferBytes: 64 * 1024 * 1024, signal: controller.signal });
  } finally {
    for (const s of STOP_SIGNALS) process.removeListener(s, onSignal);
  }
  if (stopped !== undefined) return { stopped };
  if (result.timedOut) return { failed: `it did not end within ${timeoutMs / 1000} s` };
  if (result.failed) return { failed: `${result.reason ?? 'it failed'}; ${result.stderr.trim()}` };
  try {
    return JSON.parse(result.stdout) as { jobs: BatchJob[]; unreadable: number };
  } catch (err) {
    // Its own output, one JSON line; anything else (cut short, a warning of Node's) is a failure, not a crash of calibrate.
    return { failed: `its output was not the JSON line it prints (${errorMessage(err)})` };
  }
}

// The warning for jobs found, naming up to `shown` of them, or undefined for none.
export function batchJobsWarning(jobs: readonly BatchJob[], shown = 5): string | undefined {
  if (jobs.length === 0) return undefined;
  const named = jobs.slice(0, shown).map((j) => {
    const [first] = [...j.processes].sort((a, b) => a.pid - b.pid);
    const others = j.processes.length - 1;
    return `job ${escapedControls(j.jobId)}: ${escapedControls(first?.command ?? '?')} (pid ${first?.pid ?? '?'}${others > 0 ? ` and ${others} other process${others > 1 ? 'es' : ''}` : ''})`;
  });
  const more = jobs.length > shown ? `, and ${jobs.length - shown} more` : '';
  return (
    `WARNING: ${jobs.length} batch job${jobs.length > 1 ? 's are' : ' is'} running on this host (${named.join('; ')}${more}): ` +
    'their load blurs every measurement (runs that share the host are flagged "foreign", not undone); close the host (badmin hclose) and wait for its jobs to end before calibrating'
  );
}
