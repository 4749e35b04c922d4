// Batch jobs running on the host calibrate is about to load for hours. Their load
// would blur every measurement (runs that share the host are flagged `foreign`, not
// undone), so calibrate names them before it starts. A job is found by LSB_JOBID in a
// process's environment, which sbatchd sets for every job it starts (sbd.job.c,
// OpenLava 4.0; IBM LSF does the same).
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { errorCode } from '../util/errors.js';
import { escapedControls } from '../util/shown.js';

// One job: its id and the processes of it that were seen.
export interface BatchJob {
  jobId: string;
  processes: Array<{ pid: number; command: string }>;
}

// The LSB_JOBID of a /proc/<pid>/environ text (NUL-separated NAME=value), if any.
export function jobIdOf(environ: string): string | undefined {
  for (const entry of environ.split('\0')) {
    if (entry.startsWith('LSB_JOBID=')) {
      const id = entry.slice('LSB_JOBID='.length);
      return id === '' ? undefined : id;
    }
  }
  return undefined;
}

// The jobs of the processes under procRoot, but for the job calibrate itself runs in
// (ownJob: its own LSB_JOBID, when an administrator submits it as a job) and itself.
// unreadable counts the processes whose environment could not be read (another user's,
// when not run as root); a process gone meanwhile counts as neither.
export function runningBatchJobs(procRoot = '/proc', self = process.pid, ownJob = process.env['LSB_JOBID']): { jobs: BatchJob[]; unreadable: number } {
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
    let environ: string;
    try {
      environ = readFileSync(join(procRoot, entry, 'environ'), 'latin1');
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
