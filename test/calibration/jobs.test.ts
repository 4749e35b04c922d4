import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { appendFileSync, mkdirSync, readFileSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { test } from 'node:test';
import { MAX_ENVIRON_BYTES, batchJobsWarning, jobIdOf, runningBatchJobs, scanBatchJobs } from '../../src/calibration/jobs.js';
import { mkfifo, repoRoot, tempDir, until } from '../helpers.js';

const calibratePath = join(repoRoot, 'dist', 'src', 'commands', 'calibrate.js');

// A fake /proc: each process's environ and comm.
function proc(dir: string, processes: Record<number, { environ: string[]; comm: string }>): string {
  for (const [pid, p] of Object.entries(processes)) {
    mkdirSync(join(dir, pid));
    writeFileSync(join(dir, pid, 'environ'), `${p.environ.join('\0')}\0`);
    writeFileSync(join(dir, pid, 'comm'), `${p.comm}\n`);
  }
  return dir;
}

test('jobIdOf takes LSB_JOBID from a NUL-separated environment, and nothing from a variable that only ends with it', () => {
  assert.equal(jobIdOf(Buffer.from('PATH=/bin\0LSB_JOBID=4242\0HOME=/root\0', 'latin1')), '4242');
  assert.equal(jobIdOf(Buffer.from('PATH=/bin\0MY_LSB_JOBID=1\0', 'latin1')), undefined);
  assert.equal(jobIdOf(Buffer.from('LSB_JOBID=\0', 'latin1')), undefined);
});

// Any user may set LSB_JOBID: 128 KB of escape sequences in five processes made the
// warning calibrate prints to root's terminal 1.4 MB long.
test('jobIdOf takes only a job number, as sbatchd writes LSB_JOBID, not any text a user sets there', () => {
  assert.equal(jobIdOf(Buffer.from('LSB_JOBID=2147483646\0', 'latin1')), '2147483646');
  assert.equal(jobIdOf(Buffer.from(`LSB_JOBID=1${'\x1b[8m'.repeat(32000)}\0`, 'latin1')), undefined);
  assert.equal(jobIdOf(Buffer.from('LSB_JOBID=12 ; x\0', 'latin1')), undefined);
});

// sbatchd gives every element of a job array the array's id as LSB_JOBID and its index
// as LSB_JOBINDEX (0 for a job that is no element; sbd.job.c, OpenLava 4.0).
test('jobIdOf names an element of a job array as bjobs does, id[index], and a job that is no element by its id alone', () => {
  assert.equal(jobIdOf(Buffer.from('LSB_JOBID=100\0LSB_JOBINDEX=3\0', 'latin1')), '100[3]');
  assert.equal(jobIdOf(Buffer.from('LSB_JOBINDEX=12\0PATH=/bin\0LSB_JOBID=100\0', 'latin1')), '100[12]');
  assert.equal(jobIdOf(Buffer.from('LSB_JOBID=4242\0LSB_JOBINDEX=0\0', 'latin1')), '4242');
  assert.equal(jobIdOf(Buffer.from(`LSB_JOBID=4242\0LSB_JOBINDEX=1${'\x1b[8m'.repeat(100)}\0`, 'latin1')), '4242');
});

// Named by LSB_JOBID alone, eight elements of one array read as one job, and calibrate
// submitted as an element of an array (one element a host) left out every other element
// that shared its host.
test('runningBatchJobs counts each element of a job array as a job, and leaves out only the element calibrate runs in', (t) => {
  const tmp = tempDir();
  t.after(tmp.cleanup);
  const root = proc(tmp.dir, {
    10: { environ: ['LSB_JOBID=100', 'LSB_JOBINDEX=1'], comm: 'a.out' },
    11: { environ: ['LSB_JOBID=100', 'LSB_JOBINDEX=2'], comm: 'a.out' },
    12: { environ: ['LSB_JOBID=200', 'LSB_JOBINDEX=1'], comm: 'node' }, // calibrate's own element
    13: { environ: ['LSB_JOBID=200', 'LSB_JOBINDEX=2'], comm: 'node' }, // another calibrate
  });
  assert.deepEqual(runningBatchJobs(root, 1, '200[1]').jobs.map((j) => j.jobId).sort(), ['100[1]', '100[2]', '200[2]']);
});

test('runningBatchJobs groups processes by job, leaving out calibrate itself and the job it runs in', (t) => {
  const tmp = tempDir();
  t.after(tmp.cleanup);
  const root = proc(tmp.dir, {
    10: { environ: ['LSB_JOBID=7', 'PATH=/bin'], comm: 'a.out' },
    11: { environ: ['LSB_JOBID=7'], comm: 'a.out' },
    12: { environ: ['LSB_JOBID=8'], comm: 'sleep' },
    13: { environ: ['LSB_JOBID=9'], comm: 'node' }, // calibrate's own job
    14: { environ: ['LSB_JOBID=8'], comm: 'node' }, // calibrate itself
    15: { environ: ['PATH=/bin'], comm: 'sshd' },
  });
  mkdirSync(join(root, 'self'));
  const { jobs, unreadable } = runningBatchJobs(root, 14, '9');
  assert.equal(unreadable, 0);
  assert.deepEqual(
    jobs.map((j) => [j.jobId, j.processes.map((p) => p.pid).sort()]).sort(),
    [['7', [10, 11]], ['8', [12]]],
  );
});

test('the warning names each job by its id, its first process and how many others, up to five jobs', () => {
  const job = (id: number, pids: number[]): { jobId: string; processes: Array<{ pid: number; command: string }> } => ({ jobId: String(id), processes: pids.map((pid) => ({ pid, command: `cmd${pid}` })) });
  assert.equal(batchJobsWarning([]), undefined);
  const one = batchJobsWarning([job(7, [11, 10, 12])]);
  assert.match(one ?? '', /^WARNING: 1 batch job is running on this host \(job 7: cmd10 \(pid 10 and 2 other processes\)\): .*badmin hclose/);
  const many = batchJobsWarning([1, 2, 3, 4, 5, 6, 7].map((i) => job(i, [i])));
  assert.match(many ?? '', /7 batch jobs are running .*job 5: cmd5 \(pid 5\), and 2 more\)/);
  assert.match(batchJobsWarning([{ jobId: '1', processes: [{ pid: 1, command: 'x\x1b[8my' }] }]) ?? '', /x\\u001b\[8my/, 'a name another user chose reaches root\'s terminal escaped');
});

// calibrate loaded a busy host for hours without a word: its measurements then mixed
// the jobs' load into what it took for its own stressors.
test('calibrate names a batch job running on the host before it starts, in its dry run too', async (t) => {
  // A job id of this run's own: a second run of these tests at once on the machine has its
  // own job, which a shared id would merge with this one under the other's lower pid. A
  // pid has up to 7 digits (pid_max 4194304, systemd's), and a job id at most 10.
  const id = `42${String(process.pid).padStart(7, '0')}`;
  if (await skipUnderOtherJobs(t)) return;
  const job = spawn('sleep', ['60'], { env: { ...process.env, LSB_JOBID: id }, stdio: 'ignore' });
  try {
    await until('the job started', () => (readProc(job.pid!, 'comm').startsWith('sleep') && jobIdOf(Buffer.from(readProc(job.pid!, 'environ'), 'latin1')) === id ? true : undefined));
    const env = { ...process.env };
    delete env['LSB_JOBID'];
    const r = spawnSync(process.execPath, [calibratePath, '--dry-run', '--squeeze', 'no'], { encoding: 'utf8', env });
    assert.equal(r.status, 0, r.stderr);
    // other jobs may run on the machine running the tests: this one must be among those named
    assert.match(r.stderr, new RegExp(`lavarank calibrate: WARNING: \\d+ batch jobs? (is|are) running on this host \\(.*job ${id}: sleep \\(pid ${job.pid}\\)`));
    assert.match(r.stdout, /^Calibration plan for /);
  } finally {
    job.kill('SIGKILL');
  }
});

// calibrate submitted as an element of a job array, one element a host: another element
// that lands on the same host loads it as much as any job.
test('calibrate run as an element of a job array names another element of that array running on the host', async (t) => {
  const id = `43${String(process.pid).padStart(7, '0')}`;
  if (await skipUnderOtherJobs(t)) return;
  const sibling = spawn('sleep', ['60'], { env: { ...process.env, LSB_JOBID: id, LSB_JOBINDEX: '2' }, stdio: 'ignore' });
  try {
    await until('the element started', () => (readProc(sibling.pid!, 'comm').startsWith('sleep') && jobIdOf(Buffer.from(readProc(sibling.pid!, 'environ'), 'latin1')) === `${id}[2]` ? true : undefined));
    const r = spawnSync(process.execPath, [calibratePath, '--dry-run', '--squeeze', 'no'], { encoding: 'utf8', env: { ...process.env, LSB_JOBID: id, LSB_JOBINDEX: '1' } });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, new RegExp(`lavarank calibrate: WARNING: \\d+ batch jobs? (is|are) running on this host \\(.*job ${id}\\[2\\]: sleep \\(pid ${sibling.pid}\\)`));
  } finally {
    sibling.kill('SIGKILL');
  }
});

// The warning names five jobs, in /proc's order, and a test's job has a recent pid: on a
// machine already running five batch jobs (a cluster node running the tests, the test
// cluster of an audit) it is among "and N more", whatever calibrate does.
async function skipUnderOtherJobs(t: { skip: (message: string) => void }): Promise<boolean> {
  const seen = await scanBatchJobs('/proc', 20_000);
  const others = 'jobs' in seen ? seen.jobs.length : 0;
  if (others < 5) return false;
  t.skip(`${others} batch jobs already run on this machine, and the warning names five`);
  return true;
}

function readProc(pid: number, file: string): string {
  try {
    return readFileSync(`/proc/${pid}/${file}`, 'latin1');
  } catch {
    return ''; // not there yet, or gone
  }
}

// Any user may point their process's environment at GiBs of memory (prctl PR_SET_MM_MAP
// in a user namespace of theirs); read to its end, 1 GiB of it held calibrate 37 s and
// 3.2 GB, and 64 GiB would have taken the host's memory.
test('a process environment is read no further than exec can make one, MAX_ENVIRON_BYTES', (t) => {
  const tmp = tempDir();
  t.after(tmp.cleanup);
  const root = proc(tmp.dir, { 10: { environ: ['LSB_JOBID=7'], comm: 'a.out' }, 11: { environ: [], comm: 'moved' } });
  const environ = join(root, '11', 'environ');
  truncateSync(environ, MAX_ENVIRON_BYTES);
  appendFileSync(environ, '\0LSB_JOBID=8\0');
  assert.deepEqual(runningBatchJobs(root, 1, undefined).jobs.map((j) => j.jobId), ['7']);
});

test('scanBatchJobs finds the jobs of a process list through its child process', async (t) => {
  const tmp = tempDir();
  t.after(tmp.cleanup);
  const root = proc(tmp.dir, { 10: { environ: ['LSB_JOBID=7'], comm: 'a.out' }, 11: { environ: ['PATH=/bin'], comm: 'sh' } });
  assert.deepEqual(await scanBatchJobs(root, 60_000), { jobs: [{ jobId: '7', processes: [{ pid: 10, command: 'a.out' }] }], unreadable: 0 });
});

// Reading /proc/PID/environ waits for the lock of that process's memory map, which any
// user with a FUSE mount can hold for good; only a fatal signal ends the wait, so root's
// calibrate --dry-run waited through SIGINT and SIGTERM. An environ no one writes to (a
// FIFO) holds the scan the same way.
test('scanBatchJobs gives up on a process whose environment never answers, instead of holding calibrate', async (t) => {
  const tmp = tempDir();
  t.after(tmp.cleanup);
  const root = proc(tmp.dir, { 10: { environ: ['LSB_JOBID=7'], comm: 'a.out' } });
  mkdirSync(join(root, '11'));
  const made = spawnSync('mkfifo', [join(root, '11', 'environ')]);
  assert.equal(made.status, 0);
  assert.deepEqual(await scanBatchJobs(root, 1_000), { failed: 'it did not end within 1 s' });
});

test('scanBatchJobs reports a scan whose output is not its JSON line as failed, without throwing', async (t) => {
  const tmp = tempDir();
  t.after(tmp.cleanup);
  const program = join(tmp.dir, 'cut-short.mjs');
  writeFileSync(program, "process.stdout.write('{\"jobs\": [');\n");
  const seen = await scanBatchJobs(tmp.dir, 60_000, program);
  assert.ok('failed' in seen, JSON.stringify(seen));
  assert.match(seen.failed, /^its output was not the JSON line it prints \(/);
});

// calibrate's job scan runs before calibrate handles its signals: a SIGTERM (kill PID,
// not a terminal's ^C, which reaches the whole group) ended calibrate by its default
// action and left the child behind, waiting for good on a held process.
test('scanBatchJobs ends its child when SIGTERM reaches the process waiting for it, and says it was stopped', async (t) => {
  const tmp = tempDir();
  t.after(tmp.cleanup);
  const root = proc(join(tmp.dir, 'proc'), {});
  mkdirSync(join(root, '11'), { recursive: true });
  mkfifo(join(root, '11', 'environ'));
  const driver = join(tmp.dir, 'driver.mjs');
  writeFileSync(driver, `const { scanBatchJobs } = await import(${JSON.stringify(pathToFileURL(join(repoRoot, 'dist', 'src', 'calibration', 'jobs.js')).href)});\nprocess.stdout.write(JSON.stringify(await scanBatchJobs(${JSON.stringify(root)}, 60_000)));\n`);
  const parent = spawn(process.execPath, [driver], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  parent.stdout.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((resolve) => parent.once('close', (code) => resolve(code)));
  let scan: number | undefined;
  try {
    // Set-up, not what is judged: the driver (Node, then jobs.js) starting its child took
    // more than 10 s at nice 10 under a load of 20. Given the scan's own 60 s, and ended
    // at once should the driver exit first.
    const running = (): void => assert.equal(parent.exitCode, null, `the driver exited first: ${out}`);
    scan = await until('the scan child started', () => (running(), Number(readProc(parent.pid!, `task/${parent.pid}/children`).trim().split(' ')[0]) || undefined), 60_000);
    await until('the scan child waiting on the FIFO', () => (running(), readProc(scan!, 'cmdline').includes('jobscan.js') ? true : undefined), 60_000);
    parent.kill('SIGTERM');
    assert.equal(await exited, 0);
    assert.deepEqual(JSON.parse(out), { stopped: 'SIGTERM' });
    assert.equal(readProc(scan, 'cmdline'), '', 'the scan child is gone');
  } finally {
    parent.kill('SIGKILL');
    if (scan !== undefined && readProc(scan, 'cmdline').includes('jobscan.js')) process.kill(scan, 'SIGKILL'); // left behind by the old code
  }
});
