// A directory whose filesystem stops answering (here a FUSE mount whose daemon never
// answers, as an NFS server that hangs): the log or history directory ($LSF_LOGDIR is
// often NFS) and a child elim's ($LSF_SERVERDIR). The history's and the metrics
// file's directory checks ask every lstat, readlink and statfs of their walk in libuv's
// pool (a server may answer the pool and never the event loop); a child elim's check
// walks synchronously after a stat in the pool. So the wait is there, not on the event
// loop: the reports and the SIGTERM handling go on. Needs root and /dev/fuse.
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { constants as osConstants, hostname } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, it } from 'node:test';
import { historyRecords, startElim, type Elim, type StartOptions } from '../e2e/harness.js';
import { fuseHangOver, unmountFuse } from './helpers.js';
import { wrapperText } from '../../src/lsf/install.js';
import { RotatingAppender } from '../../src/util/appender.js';
import { RunQueueWait, childrenOf, cliPath, fixture, installedCopy, isAlive, repoRoot, sleep, tempDir, testDir, until } from '../helpers.js';

const NEED = process.getuid?.() !== 0 || !existsSync('/dev/fuse') ? 'needs root and /dev/fuse' : false;

// Mounts a FUSE filesystem on dir whose daemon never answers: every lookup there waits
// until the holder is killed, which closes /dev/fuse and ends the waits with an error.
const hangOver = (dir: string): Promise<ChildProcess> => fuseHangOver(dir, 'silent');

// Sends SIGTERM (unless the elim is gone) and says how it ran on if it did so for 2 s of its
// own time: wall time less its main thread's run-queue wait, looked at for 10 s at most, as
// assertStopsOnSigterm judges; undefined if it stopped. By wall time alone a loaded host
// failed a healthy stop. Gone means a zombie too: a thread held by the mount keeps the
// process from being reaped until the server ends. Its end is taken as the last look that
// saw it running, so that this process's own lateness between two looks counts for it.
async function runsOnAfterSigterm(elim: Elim): Promise<string | undefined> {
  if (!isAlive(elim.pid)) return undefined;
  const queued = new RunQueueWait(elim.pid);
  const sent = Date.now();
  process.kill(elim.pid, 'SIGTERM');
  let seenRunning = sent;
  while (isAlive(elim.pid) && Date.now() - sent < 10_000) {
    seenRunning = Date.now();
    await sleep(20);
  }
  queued.stop();
  const waited = Math.round(queued.waitedMs());
  if (isAlive(elim.pid)) return `still running 10 s after SIGTERM, ${waited} ms of them waiting for a CPU`;
  const ms = seenRunning - sent;
  return ms - waited >= 2000 ? `still running ${ms} ms after SIGTERM, of which ${waited} ms waiting for a CPU` : undefined;
}

// How many of `more` further reports came (waited for as long as a hang guard allows: a
// blocked main thread makes none, a loaded host only makes them late), then whether the
// elim runs on 2 s of its own time after a SIGTERM sent then.
async function reportsThenStop(elim: Elim, more = 3): Promise<{ reports: number; wchan: string; ranOn: string | undefined }> {
  const before = elim.reports().length;
  await Promise.race([elim.waitForReports(before + more).catch(() => undefined), elim.exited]);
  const reports = elim.reports().length - before;
  const wchan = isAlive(elim.pid) ? readFileSync(`/proc/${elim.pid}/wchan`, 'utf8') : 'exited';
  return { reports, wchan, ranOn: await runsOnAfterSigterm(elim) };
}

// The elim's reports and its SIGTERM handling while dir (made in a temp directory, named
// name) sits on a root-mounted FUSE server that hangs `hung` (fuseHangOver), its
// attributes still cached: the elim started with options(dir), the server mounted after
// 2 reports, settleMs for the elim to meet the hung directory, then 3 s of reports.
async function reportsOverHungFuse(o: { name: string; hung: 'statfs' | 'opendir' | 'main' | 'exec'; options: (dir: string) => StartOptions; settleMs: number; what: string }): Promise<void> {
  const { dir: hd, cleanup } = tempDir('lavarank-hung-');
  const dir = join(hd, o.name);
  mkdirSync(dir, { mode: 0o755 });
  const elim = startElim(o.options(dir));
  let server: ChildProcess | undefined;
  try {
    await elim.waitForReports(2);
    server = await fuseHangOver(dir, o.hung);
    await sleep(o.settleMs);
    const r = await reportsThenStop(elim);
    assert.ok(r.reports >= 3 && r.ranOn === undefined, `${r.reports} of 3 reports at a 0.5 s interval while ${o.what} hung (main thread waiting in ${r.wchan}); ${r.ranOn ?? 'stopped'}`);
  } finally {
    await unmountFuse(server, dir);
    await elim.cleanup();
    cleanup();
  }
}

describe('a history directory whose filesystem stops answering', { skip: NEED }, () => {
  it('does not stop the reports or the SIGTERM handling', async (t) => {
    const hd = testDir(t, 'lavarank-hung-');
    const history = join(hd, 'history');
    mkdirSync(history, { mode: 0o755 });
    // 0.5 s reports: history is first opened at the 6th report (3 s in).
    const elim = startElim({ testInterval: 0.5, override: { history: { dir: history } } });
    let holder: ChildProcess | undefined;
    try {
      await elim.waitForReports(2);
      holder = await hangOver(history);
      await sleep(3000); // the history's first open, at the 6th report, meets the hung directory
      const r = await reportsThenStop(elim);
      assert.ok(r.reports >= 3 && r.ranOn === undefined, `${r.reports} of 3 reports at a 0.5 s interval while the history directory hung (main thread waiting in ${r.wchan}); ${r.ranOn ?? 'stopped'}`);
    } finally {
      await unmountFuse(holder, history);
      await elim.cleanup();
    }
  });

  it('a history directory on a file system whose statfs stops answering, its attributes still cached: does not stop the reports or the SIGTERM handling', async () => {
    // The history's first open, at the 6th report (3 s in), walks to the mount: where
    // fusectl is mounted no statfs is asked; where it is not, the walk asks it in the pool.
    await reportsOverHungFuse({ name: 'history', hung: 'statfs', options: (history) => ({ testInterval: 0.5, override: { history: { dir: history } } }), settleMs: 3000, what: "the history directory's statfs" });
  });

  it('a history directory on a file system whose open of a directory stops answering, its attributes still cached: does not stop the reports or the SIGTERM handling', async () => {
    // The history's first open, at the 6th report (3 s in), holds the directory.
    await reportsOverHungFuse({ name: 'history', hung: 'opendir', options: (history) => ({ testInterval: 0.5, override: { history: { dir: history } } }), settleMs: 3000, what: "the history directory's opendir" });
  });

  it('a metrics file on a file system whose open of a directory stops answering, its attributes still cached: does not stop the reports or the SIGTERM handling', async () => {
    // The metrics file is written at every report.
    await reportsOverHungFuse({ name: 'metrics', hung: 'opendir', options: (metrics) => ({ testInterval: 0.5, override: { metrics: { textfile: join(metrics, 'lavarank.prom') } } }), settleMs: 0, what: "the metrics directory's opendir" });
  });

  // A user's FUSE mount with allow_other (fusermount3 where /etc/fuse.conf has
  // user_allow_other) over a directory of theirs on the history's path (one still to be
  // made below a sticky history.dir's parent, an LSF administrator's $LSF_LOGDIR): its
  // server sees which thread asks, answers the stat made in libuv's pool with attributes
  // valid for no time, and never the walk's lstat on the event loop. The walk refuses
  // the mount, but only once that lstat has returned.
  it("a history directory on another user's FUSE mount whose server answers libuv's pool and never the event loop: does not stop the reports or the SIGTERM handling", async () => {
    await reportsOverHungFuse({ name: 'history', hung: 'main', options: (history) => ({ testInterval: 0.5, override: { history: { dir: history } } }), settleMs: 3000, what: "the walk of another user's FUSE mount" });
  });

  it("a metrics file on another user's FUSE mount whose server answers libuv's pool and never the event loop: does not stop the reports or the SIGTERM handling", async () => {
    // The metrics directory is checked before every write, at every report.
    await reportsOverHungFuse({ name: 'metrics', hung: 'main', options: (metrics) => ({ testInterval: 0.5, override: { metrics: { textfile: join(metrics, 'lavarank.prom') } } }), settleMs: 0, what: "the walk of another user's FUSE mount" });
  });

  // The other walks made after the first report, each on a path (root's in this test,
  // the mount theirs) that a user's FUSE server answering only libuv's pool holds: a
  // child elim's program at its restart, the GPU command at its next query, the model
  // file at its next check. Each is checked again while the elim runs.
  it("a child elim's program on another user's FUSE mount whose server answers libuv's pool and never the event loop: its restart does not stop the reports or the SIGTERM handling", async () => {
    // The child exits 1 s after its start and is started again 10 s later: that check meets the mount.
    const options = (site: string): StartOptions => {
      const child = join(site, 'elim.short');
      writeFileSync(child, '#!/bin/sh\necho "1 childval 5"\nsleep 1\n');
      chmodSync(child, 0o755);
      return { testInterval: 0.5, config: `elims:\n  - name: short\n    command: [${child}]` };
    };
    await reportsOverHungFuse({ name: 'site', hung: 'main', options, settleMs: 12_000, what: "the check of a child elim on another user's FUSE mount" });
  });

  it("a GPU command on another user's FUSE mount whose server answers libuv's pool and never the event loop: its next query does not stop the reports or the SIGTERM handling", async () => {
    // Queried every second: the query after the mount looks for the program there.
    const options = (bin: string): StartOptions => {
      copyFileSync(fixture('bin', 'nvidia-smi-ok'), join(bin, 'nvidia-smi'));
      chmodSync(join(bin, 'nvidia-smi'), 0o755);
      return { testInterval: 0.5, override: { gpu: { enabled: true, command: join(bin, 'nvidia-smi'), interval: 1 } } };
    };
    await reportsOverHungFuse({ name: 'bin', hung: 'main', options, settleMs: 1500, what: "the GPU command's check on another user's FUSE mount" });
  });

  // A root-mounted file system (NFS, autofs) that stops answering after the pool's check of
  // the GPU command and before its start: the new process's exec waits there, and libuv's
  // spawn waits for that exec (stop 70's merge saw it once, a mount landing in that window).
  // The server answers the pool, so the check passes every time, and never a main thread.
  it('a GPU command on a root-mounted file system whose server answers the checks in the pool and never the exec: its queries do not stop the reports or the SIGTERM handling', async () => {
    const options = (bin: string): StartOptions => {
      copyFileSync(fixture('bin', 'nvidia-smi-ok'), join(bin, 'nvidia-smi'));
      chmodSync(join(bin, 'nvidia-smi'), 0o755);
      return { testInterval: 0.5, override: { gpu: { enabled: true, command: join(bin, 'nvidia-smi'), interval: 1 } } };
    };
    await reportsOverHungFuse({ name: 'bin', hung: 'exec', options, settleMs: 1500, what: "the GPU command's exec on a root-mounted file system" });
  });

  it("a model file on another user's FUSE mount whose server answers libuv's pool and never the event loop: its next check does not stop the reports or the SIGTERM handling", async () => {
    // The model file is looked at every MODEL_CHECK_EVERY (6) reports, 3 s at this interval.
    const options = (models: string): StartOptions => {
      copyFileSync(join(repoRoot, 'models', 'default.json'), join(models, 'model.json'));
      return { testInterval: 0.5, config: `model: ${join(models, 'model.json')}` };
    };
    await reportsOverHungFuse({ name: 'models', hung: 'main', options, settleMs: 3500, what: "the model file's check on another user's FUSE mount" });
  });

  it("a directory on LIM's PATH on another user's FUSE mount whose server answers libuv's pool and never a main thread: the host inventory is still gathered", async (t) => {
    // The inventory, a process of its own started at the first report, searches PATH
    // for the programs it runs by name: it is given root's directories of PATH alone.
    // GPUs on (the query pointed elsewhere): with gpu.enabled false the elim reads its
    // inventory in process and starts nothing.
    const hd = testDir(t, 'lavarank-hung-');
    const bin = join(hd, 'bin');
    mkdirSync(bin, { mode: 0o755 });
    const server = await fuseHangOver(bin, 'main');
    const elim = startElim({ testInterval: 0.5, env: { PATH: `/usr/local/bin:/usr/bin:/bin:${bin}` }, override: { gpu: { enabled: 'auto', command: '/nonexistent/nvidia-smi' } } });
    try {
      const inventory = await elim.waitForLog((l) => /^host inventory/.test(String(l['msg'])), 20_000).catch(() => undefined);
      assert.equal(inventory?.['msg'], 'host inventory', `the host inventory ${inventory === undefined ? 'was not gathered within 20 s' : `failed: ${String(inventory['err'])}`}`);
    } finally {
      await unmountFuse(server, bin);
      await elim.cleanup();
    }
  });

  it('a child elim whose directory stops answering: its restart does not stop the reports or the SIGTERM handling', async (t) => {
    const hd = testDir(t, 'lavarank-hung-');
    const site = join(hd, 'site');
    mkdirSync(site, { mode: 0o755 });
    const child = join(site, 'elim.short');
    writeFileSync(child, '#!/bin/sh\necho "1 childval 5"\nsleep 1\n');
    chmodSync(child, 0o755);
    const elim = startElim({ testInterval: 0.5, config: `elims:\n  - name: short\n    command: [${child}]` });
    let holder: ChildProcess | undefined;
    try {
      await until('the child value', () => elim.reports().find((r) => / childval 5/.test(r.line)), 15_000);
      holder = await hangOver(site); // the child exits 1 s after its start and is started again 10 s later
      await sleep(12_000); // the child ended 1 s after its start; its restart, 10 s later, meets the hung directory
      const r = await reportsThenStop(elim);
      assert.ok(r.reports >= 3 && r.ranOn === undefined, `${r.reports} of 3 reports at a 0.5 s interval while the child's directory hung (main thread waiting in ${r.wchan}); ${r.ranOn ?? 'stopped'}`);
    } finally {
      await unmountFuse(holder, site);
      await elim.cleanup();
    }
  });
});

// The start, before its first report: lsf.conf, the config, the log, lsf.shared, the
// model and the metrics and history directories are each looked at once, and each may
// lie under a user's FUSE mount (their directory at a name still to be made, or gone,
// below a sticky one). Its server answers libuv's pool and never a main thread; the
// walk refuses such a mount, but only once its lstat of the mount's root has returned.
describe("the start, with a path it reads on another user's FUSE mount whose server answers libuv's pool and never a main thread", { skip: NEED }, () => {
  // The elim started with options(mount, temp dir) once the server is mounted; then
  // what it did: its reports within waitMs, its exit, and whether SIGTERM then ended it.
  // waitMs guards against a hang: a start that ends or reports returns at once.
  async function startOverUsersFuse(options: (mount: string, dir: string) => StartOptions, waitMs = 60_000): Promise<{ elim: Elim; dir: string; done: () => Promise<void> }> {
    const { dir, cleanup } = tempDir('lavarank-hung-');
    const mount = join(dir, 'mnt');
    mkdirSync(mount, { mode: 0o755 });
    const server = await fuseHangOver(mount, 'main');
    const elim = startElim({ testInterval: 0.5, ...options(mount, dir) });
    await Promise.race([elim.waitForReports(2, waitMs).catch(() => undefined), elim.exited]);
    return {
      elim,
      dir,
      done: async () => {
        await unmountFuse(server, mount);
        await elim.cleanup();
        cleanup();
      },
    };
  }

  // Reports, then SIGTERM: gone 2 s of its own time later.
  async function assertReportsAndStops(elim: Elim, what: string): Promise<void> {
    const reports = elim.reports().length;
    const wchan = isAlive(elim.pid) ? readFileSync(`/proc/${elim.pid}/wchan`, 'utf8') : 'exited';
    const ranOn = await runsOnAfterSigterm(elim);
    assert.ok(reports >= 2 && ranOn === undefined, `${reports} reports within 60 s of the start with ${what} (main thread in ${wchan}); ${ranOn ?? 'stopped'}`);
  }

  it("an LSF_ENVDIR there (lsf.conf, LSF_ENVDIR's look and lsf.shared): the elim reports and SIGTERM ends it", async () => {
    const run = await startOverUsersFuse((mount) => ({ env: { LSF_ENVDIR: mount }, config: 'elims:\n  - name: short\n    command: [/bin/true]' }));
    try {
      await assertReportsAndStops(run.elim, "LSF_ENVDIR on the user's mount");
    } finally {
      await run.done();
    }
  });

  it('a log file there: the elim reports and SIGTERM ends it', async () => {
    const run = await startOverUsersFuse((mount, dir) => ({ env: { LSF_LOGDIR: dir }, override: { log: { file: join(mount, 'logs', 'lavarank.log') } } }));
    try {
      await assertReportsAndStops(run.elim, "log.file on the user's mount");
    } finally {
      await run.done();
    }
  });

  it('a history directory there: the elim reports, history off for the mount, and SIGTERM ends it', async () => {
    const run = await startOverUsersFuse((mount) => ({ override: { history: { dir: join(mount, 'history') } } }));
    try {
      const off = await run.elim.waitForLog((l) => /^history off/.test(String(l['msg'])), 1000).catch(() => undefined);
      await assertReportsAndStops(run.elim, "history.dir on the user's mount");
      assert.match(String(off?.['msg']), /FUSE file system that uid 1003 mounted/);
    } finally {
      await run.done();
    }
  });

  it('a metrics file there: the elim reports, metrics off for the mount, and SIGTERM ends it', async () => {
    const run = await startOverUsersFuse((mount) => ({ override: { metrics: { textfile: join(mount, 'lavarank.prom') } } }));
    try {
      const off = await run.elim.waitForLog((l) => /^metrics off/.test(String(l['msg'])), 1000).catch(() => undefined);
      await assertReportsAndStops(run.elim, "metrics.textfile on the user's mount");
      assert.match(String(off?.['msg']), /FUSE file system that uid 1003 mounted/);
    } finally {
      await run.done();
    }
  });

  it('a config file there: refused, its path and the FUSE rule logged, exit 1', async () => {
    // The mount's root as the file: the walk's lstat of it is the one the server holds.
    const run = await startOverUsersFuse((mount, dir) => ({ env: { LSF_LOGDIR: dir }, args: ['--config', mount] }));
    try {
      const exit = await Promise.race([run.elim.exited, sleep(1000).then(() => undefined)]);
      const log = existsSync(join(run.dir, `lavarank.${hostname()}.log`)) ? readFileSync(join(run.dir, `lavarank.${hostname()}.log`), 'utf8') : '';
      assert.equal(exit?.code, 1, `the elim ${exit === undefined ? 'still ran 60 s after its start' : `exited ${exit.code ?? exit.signal}`}`);
      assert.match(log, new RegExp(`"${run.dir}/mnt on the path of config file ${run.dir}/mnt is on a FUSE file system that uid 1003 mounted.*"msg":"cannot start: invalid configuration"`));
    } finally {
      await run.done();
    }
  });

  it('a model file there: refused, its path and the FUSE rule logged, exit 1', async () => {
    const run = await startOverUsersFuse((mount) => ({ config: `model: ${mount}` }));
    try {
      const exit = await Promise.race([run.elim.exited, sleep(1000).then(() => undefined)]);
      assert.equal(exit?.code, 1, `the elim ${exit === undefined ? 'still ran 60 s after its start' : `exited ${exit.code ?? exit.signal}`}`);
      assert.match(readFileSync(run.elim.logFile, 'utf8'), new RegExp(`cannot start: model file ${run.dir}/mnt refused: .*FUSE file system that uid 1003 mounted`));
    } finally {
      await run.done();
    }
  });

  it("a crash while the log file is closed, its directory since on the user's mount: the elim still exits", async (t) => {
    // The log's directory taken by the mount after 2 reports; the appender finds its file
    // gone at its next look (30 s), refuses the mount and closes the file; then the crash.
    const dir = testDir(t, 'lavarank-hung-');
    const logs = join(dir, 'logs');
    mkdirSync(logs, { mode: 0o755 });
    const elim = startElim({ testInterval: 0.5, override: { log: { file: join(logs, 'lavarank.log') } }, nodeArgs: ['--import', pathToFileURL(fixture('crash-at.mjs')).href], env: { CRASH_AT_MS: '38000' } });
    let server: ChildProcess | undefined;
    try {
      await elim.waitForReports(2);
      server = await fuseHangOver(logs, 'main');
      const exit = await Promise.race([elim.exited, sleep(45_000).then(() => undefined)]);
      const wchan = isAlive(elim.pid) ? readFileSync(`/proc/${elim.pid}/wchan`, 'utf8') : 'exited';
      assert.notEqual(exit, undefined, `still running 45 s after its start, 7 s after its crash (main thread in ${wchan})`);
    } finally {
      await unmountFuse(server, logs);
      await elim.cleanup();
    }
  });

  it('a start that does not end (a server that answers nothing) ends at the start-up deadline, its log naming the step', async (t) => {
    const dir = testDir(t, 'lavarank-hung-');
    const envdir = join(dir, 'conf');
    mkdirSync(envdir, { mode: 0o755 });
    const holder = await hangOver(envdir);
    // The config there, which the first report needs; LSF_LOGDIR given, so the deadline's line goes there.
    const elim = startElim({ testInterval: 0.5, env: { LSF_LOGDIR: dir }, args: ['--config', join(envdir, 'lavarank.yaml'), '--test-startup-deadline', '5'] });
    try {
      const exit = await Promise.race([elim.exited, sleep(15_000).then(() => undefined)]);
      const wchan = isAlive(elim.pid) ? readFileSync(`/proc/${elim.pid}/wchan`, 'utf8') : 'exited';
      assert.notEqual(exit, undefined, `still running 15 s after its start with a 5 s start-up deadline (main thread in ${wchan})`);
      assert.match(readFileSync(join(dir, `lavarank.${hostname()}.log`), 'utf8'), /start-up did not finish within 5 s: reading the config has not returned/);
    } finally {
      await unmountFuse(holder, envdir);
      await elim.cleanup();
    }
  });
});

// A command run by root at a terminal (once, explain, check) with args(mount, dir) while
// a user's FUSE mount at mount (made in the temp directory dir), whose server answers
// libuv's pool and never a main thread, may hold it: its exit code and output, or
// 'running' 15 s after its start, with where its main thread waits and what SIGINT did.
// The mount is made at mnt in the directory mountIn returns (the temp directory itself by
// default); hung 'file' makes every name there a regular file of root's it will not open.
async function commandOverUsersFuse(command: string, args: (mount: string, dir: string) => string[], mountIn: (dir: string) => string = (dir) => dir, hung: 'main' | 'file' = 'main'): Promise<{ code: number | null | 'running'; out: string; err: string; held: string }> {
  const { dir, cleanup } = tempDir('lavarank-hung-');
  const mount = join(mountIn(dir), 'mnt');
  mkdirSync(mount, { mode: 0o755 });
  const server = await fuseHangOver(mount, hung);
  const child = spawn(process.execPath, [cliPath, command, ...args(mount, dir)], { stdio: ['ignore', 'pipe', 'pipe'], env: { PATH: process.env['PATH'] } });
  let out = '';
  let err = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  try {
    const code = await Promise.race([exited, sleep(15_000).then(() => 'running' as const)]);
    if (code !== 'running') return { code, out, err, held: '' };
    // The main thread of the child the command runs in (src/util/supervise.ts), if any.
    const worker = childrenOf(child.pid!)[0] ?? child.pid!;
    const wchan = readFileSync(`/proc/${worker}/wchan`, 'utf8');
    child.kill('SIGINT');
    const afterInt = await Promise.race([exited.then(() => 'ended'), sleep(2000).then(() => 'still running')]);
    return { code, out, err, held: `lavarank ${command} still running 15 s after its start (main thread in ${wchan}); 2 s after SIGINT: ${afterInt}` };
  } finally {
    child.kill('SIGKILL');
    await unmountFuse(server, mount);
    cleanup();
  }
}

// The history's and the metrics file's directories may be names still to be made below
// a sticky one (/tmp, emptied at boot), where a user can make their directory first and
// mount a FUSE server of theirs on it that reads each request and answers none. A
// process whose request the server has read waits uninterruptibly, SIGKILL included:
// the start-up deadline's SIGKILL left the elim a zombie whose pool thread held LIM's
// pipe, so LIM never reaped it, never restarted it, and the host had no rank for as
// long as the server ran. These directories are looked at beside the reports now.
describe("the start, with the history or the metrics directory on another user's FUSE mount whose server reads every request and answers none", { skip: NEED }, () => {
  for (const what of ['history', 'metrics'] as const) {
    it(`a ${what} directory there: the elim reports before its start-up deadline`, async (t) => {
      const dir = testDir(t, 'lavarank-hung-');
      const mount = join(dir, 'mnt');
      mkdirSync(mount, { mode: 0o755 });
      const server = await fuseHangOver(mount, 'none');
      const override: Record<string, Record<string, unknown>> = what === 'history' ? { history: { dir: join(mount, 'history') } } : { metrics: { textfile: join(mount, 'metrics', 'lavarank.prom') } };
      const elim = startElim({ testInterval: 0.5, override, args: ['--test-startup-deadline', '5'] });
      try {
        await Promise.race([elim.waitForReports(3, 12_000).catch(() => undefined), elim.exited]);
        const reports = elim.reports().length;
        const wchan = isAlive(elim.pid) ? readFileSync(`/proc/${elim.pid}/wchan`, 'utf8') : 'exited';
        assert.ok(reports >= 3, `${reports} reports within 12 s of the start with ${what} on the user's mount and a 5 s start-up deadline (main thread in ${wchan})`);
      } finally {
        await unmountFuse(server, mount);
        await elim.cleanup();
      }
    });
  }

  it('a history directory there: the records dropped while its check is out, and those lost at the stop, are said in the log', async (t) => {
    const dir = testDir(t, 'lavarank-hung-');
    const mount = join(dir, 'mnt');
    mkdirSync(mount, { mode: 0o755 });
    const server = await fuseHangOver(mount, 'none');
    const elim = startElim({ testInterval: 0.1, override: { history: { dir: join(mount, 'history') } } });
    try {
      const dropping = await elim.waitForLog((l) => /^history: the check of its directory has not returned/.test(String(l['msg'])), 60_000).catch(() => undefined);
      assert.ok(dropping !== undefined, `no word of the history records dropped after ${elim.reports().length} reports with the history directory's check held`);
      process.kill(elim.pid, 'SIGTERM');
      const lost = await elim.waitForLog((l) => /history records could not be written and are lost/.test(String(l['msg'])), 10_000).catch(() => undefined);
      assert.ok(lost !== undefined && Number(lost['lines']) > 60, `the stop after ${elim.reports().length} reports said ${lost === undefined ? 'nothing' : String(lost['lines'])} of the records held and dropped while the check was out`);
    } finally {
      await unmountFuse(server, mount);
      await elim.cleanup();
    }
  });
});

// A SIGTERM while the metrics' or history's directory check is still out: the stop waits
// for it a second, then gives it up (its walk stops at its next question) and says what
// was lost. It waited its whole 1.5 s race and said nothing of the metrics, and a walk
// that was only slow went on, so that the exit's wait for the pool ended it by SIGKILL
// 2.0 s after SIGTERM, past LIM's 2 s.
describe('a SIGTERM while the directory check of the history or the metrics is out', { skip: NEED }, () => {
  // The elim started with override(mount) over a server in `hung` mode, SIGTERM after its
  // second report; its exit (none within 10 s: a thread held by the server) and its log.
  // With the history records written by the exit, and the reports made before the SIGTERM.
  async function stopDuringCheck(hung: 'none' | 'slow', override: (mount: string) => Record<string, Record<string, unknown>>): Promise<{ exit: { code: number | null; signal: NodeJS.Signals | null } | undefined; log: Array<Record<string, unknown>>; readied: boolean; reports: number; history: number }> {
    const { dir, cleanup } = tempDir('lavarank-hung-');
    const mount = join(dir, 'mnt');
    mkdirSync(mount, { mode: 0o755 });
    const server = await fuseHangOver(mount, hung);
    const elim = startElim({ testInterval: 0.5, override: override(mount) });
    try {
      await elim.waitForReports(2);
      const readied = elim.log().some((l) => l['msg'] === 'history file' || l['msg'] === 'metrics file (Prometheus text format, each tick)');
      const reports = elim.reports().length;
      process.kill(elim.pid, 'SIGTERM');
      const exit = await Promise.race([elim.exited, sleep(10_000).then(() => undefined)]);
      return { exit, log: elim.log(), readied, reports, history: historyRecords(elim).length };
    } finally {
      await unmountFuse(server, mount);
      await elim.cleanup();
      cleanup();
    }
  }

  it('a history directory 150 levels down a slow file system: the stop gives the check up, says the records lost, and exits 0', async () => {
    // Each level a question the server answers 20-40 ms late: the walk takes 3 s or more.
    const r = await stopDuringCheck('slow', (mount) => ({ history: { dir: join(mount, ...Array<string>(150).fill('d'), 'history') } }));
    assert.equal(r.readied, false, 'the check returned before the SIGTERM');
    assert.deepEqual(r.exit === undefined ? 'still running 10 s after SIGTERM' : { code: r.exit.code, signal: r.exit.signal }, { code: 0, signal: null });
    assert.ok(r.log.some((l) => /^\d+ history records could not be written and are lost: the check of the history directory had not returned 1 s into the stop, which gives it up/.test(String(l['msg']))), JSON.stringify(r.log.filter((l) => l['level'] === 'error')));
  });

  it('a metrics directory on a server that reads every request and answers none: the stop gives the check up and says so', async () => {
    const r = await stopDuringCheck('none', (mount) => ({ metrics: { textfile: join(mount, 'metrics', 'lavarank.prom') } }));
    assert.ok(r.log.some((l) => /^no metrics file was written: the check of the metrics directory had not returned 1 s into the stop/.test(String(l['msg']))), JSON.stringify(r.log.slice(-4)));
  });

  it("a metrics directory on a server that answers none, the history's check returned: the stop still writes the history records it held", async () => {
    // Two reports at 0.5 s, fewer than a batch (HISTORY_HOLD): every record is held at the SIGTERM.
    const r = await stopDuringCheck('none', (mount) => ({ metrics: { textfile: join(mount, 'metrics', 'lavarank.prom') } }));
    assert.ok(r.history >= r.reports && r.reports >= 2, `${r.history} history records written of the ${r.reports} reports made before the SIGTERM; errors: ${JSON.stringify(r.log.filter((l) => l['level'] === 'error' || l['level'] === 50))}`);
  });
});

// once and explain, run by root at a terminal, read the config named and the model: a
// user's FUSE mount at either, whose server answers libuv's pool and never a main
// thread, held them there, and Ctrl-C (SIGINT) did not end them.
describe("lavarank once and explain with a config on another user's FUSE mount whose server answers libuv's pool and never a main thread", { skip: NEED }, () => {
  for (const command of ['once', 'explain']) {
    it(`${command} refuses the config by the mount's rule and exits`, async () => {
      // The mount's root as the file: the walk's lstat of it is the one the server holds.
      const r = await commandOverUsersFuse(command, (mount) => ['--config', mount]);
      assert.notEqual(r.code, 'running', r.held);
      assert.equal(r.code, 1);
      assert.match(r.err, /on a FUSE file system that uid 1003 mounted/);
    });
  }
});

// check, run by root by hand and in scripts, reads the config, LSF_ENVDIR's lsf.conf and
// the files and directories it names (LSF_CONFDIR's lsf.shared and lsf.cluster.*,
// LSB_CONFDIR's lsb.queues, LSF_SERVERDIR's elim), the model and the log's, history's
// and metrics' places: an LSF administrator's lsf.conf may name a directory of theirs,
// and a user's FUSE mount at any of them, whose server answers libuv's pool and never a
// main thread, held check there, and Ctrl-C (SIGINT) did not end it.
describe("lavarank check with a path it reads on another user's FUSE mount whose server answers libuv's pool and never a main thread", { skip: NEED }, () => {
  it("refuses a config there by the mount's rule and exits 1", async () => {
    const r = await commandOverUsersFuse('check', (mount) => ['--config', mount]);
    assert.notEqual(r.code, 'running', r.held);
    assert.equal(r.code, 1);
    assert.match(r.out, /CRITICAL .*mnt on the path of config file .*mnt is on a FUSE file system that uid 1003 mounted.*\(the elim would not start\)/);
  });

  it('finishes with an lsf.conf whose LSF_CONFDIR, LSB_CONFDIR and LSF_SERVERDIR are there, naming what it cannot read', async () => {
    const r = await commandOverUsersFuse('check', (mount, dir) => {
      const envdir = join(dir, 'conf');
      mkdirSync(envdir, { mode: 0o755 });
      writeFileSync(join(envdir, 'lsf.conf'), `LSF_CONFDIR=${mount}\nLSB_CONFDIR=${mount}\nLSF_SERVERDIR=${mount}\n`);
      return ['--lsf-envdir', envdir];
    });
    assert.notEqual(r.code, 'running', r.held);
    assert.equal(r.code, 1);
    assert.match(r.out, /CRITICAL .*mnt\/lsf\.shared cannot be read/);
    assert.match(r.out, /CRITICAL .*mnt\/elim does not exist or cannot be read/);
  });

  it("refuses an installed elim whose program is there by the mount's rule and exits 1", async () => {
    const r = await commandOverUsersFuse('check', (mount, dir) => {
      const envdir = join(dir, 'conf');
      const serverdir = join(dir, 'sbin');
      mkdirSync(envdir, { mode: 0o755 });
      mkdirSync(serverdir, { mode: 0o755 });
      writeFileSync(join(envdir, 'lsf.conf'), `LSF_CONFDIR=${envdir}\nLSF_SERVERDIR=${serverdir}\n`);
      writeFileSync(join(serverdir, 'elim'), wrapperText(process.execPath, mount), { mode: 0o755 });
      return ['--lsf-envdir', envdir];
    });
    assert.notEqual(r.code, 'running', r.held);
    assert.equal(r.code, 1);
    assert.match(r.out, /ERROR .*mnt on the path of the elim's program .*mnt is on a FUSE file system that uid 1003 mounted/);
  });

  it("refuses a model there by the mount's rule and exits 1", async () => {
    const r = await commandOverUsersFuse('check', (mount, dir) => {
      writeFileSync(join(dir, 'lavarank.yaml'), `model: ${mount}\n`);
      return ['--config', join(dir, 'lavarank.yaml')];
    });
    assert.notEqual(r.code, 'running', r.held);
    assert.equal(r.code, 1);
    assert.match(r.out, /CRITICAL .*model file .*mnt refused: .*FUSE file system that uid 1003 mounted/);
  });

  it('says why history and metrics there are off and exits 1', async () => {
    const r = await commandOverUsersFuse('check', (mount, dir) => {
      writeFileSync(join(dir, 'lavarank.yaml'), `history:\n  dir: ${join(mount, 'history')}\nmetrics:\n  textfile: ${join(mount, 'lavarank.prom')}\nlog:\n  file: ${join(mount, 'logs', 'l.log')}\n`);
      return ['--config', join(dir, 'lavarank.yaml')];
    });
    assert.notEqual(r.code, 'running', r.held);
    assert.equal(r.code, 1);
    assert.match(r.out, /ERROR .*history would be off/);
    assert.match(r.out, /ERROR .*FUSE file system that uid 1003 mounted.*\(metrics would be off\)/);
    assert.match(r.out, /ERROR +log\.file .*FUSE file system that uid 1003 mounted/);
  });
});

// The trust walk's chown advice asks statfs (to tell NFS's root_squash) of a directory it
// refuses for its owner; on a user's FUSE mount that shows its mount point as theirs the
// statfs goes to their server, which need never answer: check waited for it until Ctrl-C
// where fusectl told the mount (the FUSE rule then asks no statfs itself). Run in a mount
// namespace of its own with fusectl mounted there, as systemd mounts it at boot.
describe("lavarank check with a history directory on another user's FUSE mount shown as theirs, whose server never answers statfs", { skip: NEED }, () => {
  it("refuses it by the mount's rule alone and exits 1, asking their server nothing more", async (t) => {
    const dir = testDir(t, 'lavarank-hung-');
    const mount = join(dir, 'mnt');
    mkdirSync(mount, { mode: 0o755 });
    const config = join(dir, 'lavarank.yaml');
    writeFileSync(config, `history:\n  dir: ${mount}\n`, { mode: 0o644 });
    const server = await fuseHangOver(mount, 'theirs');
    const child = spawn('unshare', ['-m', '--propagation', 'private', 'sh', '-c', 'mount -t fusectl fusectl /sys/fs/fuse/connections && exec "$@"', 'sh', process.execPath, cliPath, 'check', '--config', config], { stdio: ['ignore', 'pipe', 'pipe'], env: { PATH: process.env['PATH'] } });
    let out = '';
    child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    try {
      const code = await Promise.race([exited, sleep(30_000).then(() => 'running' as const)]);
      assert.notEqual(code, 'running', `lavarank check still running 30 s after its start: ${out}`);
      assert.equal(code, 1, out);
      assert.match(out, /history directory .*mnt is on a FUSE file system that uid 1003 mounted/);
      assert.doesNotMatch(out, /chown root .*mnt/);
    } finally {
      child.kill('SIGKILL');
      await unmountFuse(server, mount);
    }
  });
});

// retrain, run by root by hand and from cron, looks at its inputs (--history: a
// history.dir in a sticky directory, where a user can mount at a name still to be made;
// --acct: the LSF administrator's logdir) and its model directory before any work: a
// user's FUSE mount at one, whose server answers libuv's pool and never a main thread,
// held it there, and Ctrl-C (SIGINT) did not end it.
describe("lavarank retrain with an input or its output on another user's FUSE mount whose server answers libuv's pool and never a main thread", { skip: NEED }, () => {
  // --acct, --history and --out in dir, each replaced by the mount where named.
  const inputs = (dir: string, at: { acct?: string; history?: string; out?: string }): string[] => {
    copyFileSync(fixture('openlava/lsb.acct'), join(dir, 'lsb.acct'));
    mkdirSync(join(dir, 'history'), { mode: 0o755 });
    return ['--acct', at.acct ?? join(dir, 'lsb.acct'), '--history', at.history ?? join(dir, 'history'), '--out', at.out ?? join(dir, 'model.json')];
  };

  it('a --history there: retrain ends with status 1, naming it', async () => {
    const r = await commandOverUsersFuse('retrain', (mount, dir) => [...inputs(dir, { history: mount }), '--dry-run']);
    assert.notEqual(r.code, 'running', r.held);
    assert.equal(r.code, 1);
    assert.match(r.err, /mnt/);
  });

  it('an --acct there: retrain ends with status 1, naming it', async () => {
    const r = await commandOverUsersFuse('retrain', (mount, dir) => [...inputs(dir, { acct: mount }), '--dry-run']);
    assert.notEqual(r.code, 'running', r.held);
    assert.equal(r.code, 1);
    assert.match(r.err, /mnt/);
  });

  it("an --out there: retrain refuses the model directory by the mount's rule, with status 1", async () => {
    const r = await commandOverUsersFuse('retrain', (mount, dir) => inputs(dir, { out: join(mount, 'model.json') }));
    assert.notEqual(r.code, 'running', r.held);
    assert.equal(r.code, 1);
    assert.match(r.err, /the daemons would refuse a model written to .*mnt\/model\.json: .*FUSE file system that uid 1003 mounted/);
  });

  it("a config there: retrain refuses it by the mount's rule, with status 1", async () => {
    const r = await commandOverUsersFuse('retrain', (mount, dir) => [...inputs(dir, {}), '--config', mount]);
    assert.notEqual(r.code, 'running', r.held);
    assert.equal(r.code, 1);
    assert.match(r.err, /FUSE file system that uid 1003 mounted/);
  });
});

// The walk of the installed tree (treeProblems), by check (the installed elim's
// installation) and by the daemon after its first report (its own): a sticky directory
// of the tree (a package's scratch directory, mode 1777), which the program's own walk
// never passes through, may hold a user's FUSE mount, whose server answering libuv's
// pool and never a main thread held check there past Ctrl-C (SIGINT), and would hold the
// daemon's reports and its SIGTERM.
describe("the installed tree's walk with another user's FUSE mount in a sticky directory of the tree, whose server answers libuv's pool and never a main thread", { skip: NEED }, () => {
  // A package at dir/pkg, as lavarank's installed tree, with a sticky directory tmp.
  const stickyInPackage = (dir: string): string => {
    const pkg = join(dir, 'pkg');
    mkdirSync(join(pkg, 'dist', 'src'), { recursive: true, mode: 0o755 });
    writeFileSync(join(pkg, 'package.json'), '{}\n', { mode: 0o644 });
    writeFileSync(join(pkg, 'dist', 'src', 'cli.js'), '', { mode: 0o644 });
    mkdirSync(join(pkg, 'tmp'));
    chmodSync(join(pkg, 'tmp'), 0o1777);
    return join(pkg, 'tmp');
  };

  it('lavarank check of an elim installed from such a tree names the sticky directory and exits 1', async () => {
    const r = await commandOverUsersFuse(
      'check',
      (_mount, dir) => {
        const envdir = join(dir, 'conf');
        const serverdir = join(dir, 'sbin');
        mkdirSync(envdir, { mode: 0o755 });
        mkdirSync(serverdir, { mode: 0o755 });
        writeFileSync(join(envdir, 'lsf.conf'), `LSF_CONFDIR=${envdir}\nLSF_SERVERDIR=${serverdir}\n`);
        writeFileSync(join(serverdir, 'elim'), wrapperText(process.execPath, join(dir, 'pkg', 'dist', 'src', 'cli.js')), { mode: 0o755 });
        return ['--lsf-envdir', envdir];
      },
      stickyInPackage,
    );
    assert.notEqual(r.code, 'running', r.held);
    assert.equal(r.code, 1);
    assert.match(r.out, /ERROR .*the elim's installation .*pkg\/tmp has mode 1777, writable by group or others/);
  });

  it('the daemon run from such a tree reports on after its first report, logs the sticky directory, and SIGTERM ends it', async (t) => {
    const dir = testDir(t, 'lavarank-hung-');
    const pkg = installedCopy(dir);
    const sticky = join(pkg, 'tmp');
    mkdirSync(sticky);
    chmodSync(sticky, 0o1777);
    const mount = join(sticky, 'mnt');
    mkdirSync(mount, { mode: 0o755 });
    const server = await fuseHangOver(mount, 'main');
    const elim = startElim({ cli: join(pkg, 'dist', 'src', 'cli.js'), testInterval: 0.5 });
    try {
      await elim.waitForReports(1, 15_000);
      await elim.waitForLog((l) => /^the lavarank installation/.test(String(l['msg'])), 15_000).catch(() => undefined);
      const r = await reportsThenStop(elim);
      assert.ok(r.reports >= 3 && r.ranOn === undefined, `${r.reports} of 3 reports at a 0.5 s interval after the installation's walk began (main thread waiting in ${r.wchan}); ${r.ranOn ?? 'stopped'}`);
      const line = elim.log().find((l) => /^the lavarank installation/.test(String(l['msg'])));
      assert.ok(line !== undefined, 'no line about the installation in the log');
      assert.ok((line['problems'] as string[]).some((p) => p === `lavarank installation ${sticky} has mode 1777, writable by group or others; run: chmod -R go-w ${pkg}`), JSON.stringify(line['problems']));
    } finally {
      await unmountFuse(server, mount);
      await elim.cleanup();
    }
  });
});

// install, run by root by hand, walks LSF_SERVERDIR, the Node binary and the program,
// looks at the elim there now, and with --merge-conf reads lsf.conf and the files in
// LSF_CONFDIR and LSB_CONFDIR it names: an LSF administrator's directory of theirs, where
// a user's FUSE mount whose server answers libuv's pool and never a main thread held
// install there, past Ctrl-C (SIGINT).
describe("lavarank install with a path it reads on another user's FUSE mount whose server answers libuv's pool and never a main thread", { skip: NEED }, () => {
  it("refuses an LSF_SERVERDIR there by the mount's rule and exits 1", async () => {
    const r = await commandOverUsersFuse('install', (mount) => ['--serverdir', mount, '--dry-run']);
    assert.notEqual(r.code, 'running', r.held);
    assert.equal(r.code, 1);
    assert.match(r.err, /mnt on the path of LSF_SERVERDIR .*mnt is on a FUSE file system that uid 1003 mounted/);
  });

  it('says it cannot read the lsf.shared of an LSF_CONFDIR there and exits 1', async () => {
    const r = await commandOverUsersFuse('install', (mount, dir) => {
      const envdir = join(dir, 'conf');
      mkdirSync(envdir, { mode: 0o755 });
      mkdirSync(join(dir, 'sbin'), { mode: 0o755 });
      writeFileSync(join(envdir, 'lsf.conf'), `LSF_CONFDIR=${mount}\n`);
      return ['--uninstall', '--merge-conf', '--serverdir', join(dir, 'sbin'), '--envdir', envdir, '--dry-run'];
    });
    assert.notEqual(r.code, 'running', r.held);
    assert.equal(r.code, 1);
    assert.match(r.err, /cannot read lsf\.shared .*mnt\/lsf\.shared: /);
  });
});

// calibrate, simulate and recommend, run by root by hand, read the config named (--config,
// $LAVARANK_CONFIG, $LSF_ENVDIR/lavarank.yaml) before any work: a user's FUSE mount at it,
// whose server answers libuv's pool and never a main thread, held them there, past Ctrl-C.
describe("lavarank calibrate, simulate and recommend with a config on another user's FUSE mount whose server answers libuv's pool and never a main thread", { skip: NEED }, () => {
  const runs: Array<[string, (dir: string) => string[]]> = [
    ['calibrate', (dir) => ['--out', join(dir, 'calibration.jsonl'), '--quick']],
    ['simulate', () => []],
    ['recommend', () => []],
  ];
  for (const [command, more] of runs) {
    it(`${command} refuses the config by the mount's rule and exits 1`, async () => {
      const r = await commandOverUsersFuse(command, (mount, dir) => [...more(dir), '--config', mount]);
      assert.notEqual(r.code, 'running', r.held);
      assert.equal(r.code, 1);
      assert.match(r.err, /config file .*mnt .*on a FUSE file system that uid 1003 mounted/);
    });
  }
});

// A thread whose request a user's FUSE server has read and never answers waits
// uninterruptibly, SIGKILL included, and a process ends for its parent only once every
// thread has: each command, run by root at a terminal with a path it looks at on such a
// mount, left at Ctrl-C (SIGINT) or SIGTERM a zombie the shell waited for until the
// server ended. The command the shell waits for now leaves that process behind.
describe("every command stopped while a question to another user's FUSE server that reads every request and answers none is out", { skip: NEED }, () => {
  const runs: Array<[string, (mount: string, dir: string) => string[]]> = [
    ['check', (mount) => ['--config', join(mount, 'lavarank.yaml')]],
    ['once', (mount) => ['--config', join(mount, 'lavarank.yaml')]],
    ['explain', (mount) => ['--config', join(mount, 'lavarank.yaml')]],
    ['retrain', (mount, dir) => ['--acct', join(dir, 'lsb.acct'), '--config', join(mount, 'lavarank.yaml'), '--dry-run']],
    ['calibrate', (mount, dir) => ['--out', join(dir, 'calibration.jsonl'), '--quick', '--config', join(mount, 'lavarank.yaml')]],
    ['simulate', (mount) => ['--config', join(mount, 'lavarank.yaml')]],
    ['recommend', (mount) => ['--config', join(mount, 'lavarank.yaml')]],
    ['install', (mount) => ['--serverdir', mount, '--dry-run']],
  ];
  // Where a thread of pid or of a child of pid waits in the server's request, or undefined.
  const waitingThread = (pid: number): string | undefined => {
    const pids = [pid, ...childrenOf(pid)];
    for (const p of pids) {
      for (const tid of spawnSync('ls', [`/proc/${p}/task`], { encoding: 'utf8' }).stdout.trim().split('\n')) {
        try {
          if (readFileSync(`/proc/${p}/task/${tid}/wchan`, 'utf8') === 'request_wait_answer') return `${p}/${tid}`;
        } catch {
          // the thread ended
        }
      }
    }
    return undefined;
  };
  for (const [command, args] of runs) {
    for (const [signal, status] of [['SIGINT', 130], ['SIGTERM', 143]] as const) {
      if (signal === 'SIGTERM' && command !== 'check') continue; // one command is enough for the second signal
      it(`${command}: ${signal} ends it with status ${status} (by the signal where the command has no handler), naming the path it waits for`, async (t) => {
        const dir = testDir(t, 'lavarank-hung-');
        const mount = join(dir, 'mnt');
        mkdirSync(mount, { mode: 0o755 });
        copyFileSync(fixture('openlava/lsb.acct'), join(dir, 'lsb.acct'));
        const server = await fuseHangOver(mount, 'none');
        const child = spawn(process.execPath, [cliPath, command, ...args(mount, dir)], { stdio: ['ignore', 'pipe', 'pipe'], env: { PATH: process.env['PATH'] } });
        let err = '';
        child.stderr?.on('data', (d: Buffer) => (err += d.toString()));
        child.stdout?.resume();
        // Ended by the signal (a command with no handler of its own) or exiting with 128 + its
        // number (retrain, calibrate): what a shell shows as the status either way.
        const exited = new Promise<number | null>((resolve) => child.on('exit', (code, sig) => resolve(code ?? (sig === null ? null : 128 + osConstants.signals[sig]))));
        const stdoutEnded = new Promise<string>((resolve) => child.stdout?.on('end', () => resolve('ended')));
        try {
          await until('a thread waiting in the FUSE server', () => waitingThread(child.pid!), 30_000);
          child.kill(signal);
          const code = await Promise.race([exited, sleep(10_000).then(() => 'still running 10 s after the signal' as const)]);
          assert.equal(code, status, err);
          assert.match(err, new RegExp(`lavarank ${command}: process \\d+ is still waiting for \\w+ ${mount.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
          // A reader of its output (`out=$(lavarank check)`) must not wait for the process left behind.
          assert.equal(await Promise.race([stdoutEnded, sleep(5000).then(() => 'still open 5 s after the exit')]), 'ended');
        } finally {
          child.kill('SIGKILL');
          await unmountFuse(server, mount);
        }
      });
    }
  }
});

// The inputs and outputs simulate, recommend, retrain and calibrate looked at or read
// on the main thread after their config: a user's FUSE mount at one, whose server
// answers libuv's pool and never a main thread (every name there a regular file of
// root's it will not open, so the pool's stat before a read passes), held them there.
describe("lavarank simulate, recommend, retrain and calibrate with an input or output on another user's FUSE mount whose server answers libuv's pool and never a main thread", { skip: NEED }, () => {
  const dataset = (dir: string): string => {
    copyFileSync(fixture('openlava/lsb.acct'), join(dir, 'lsb.acct'));
    mkdirSync(join(dir, 'history'), { mode: 0o755 });
    writeFileSync(join(dir, 'history', 'hostA.jsonl'), '');
    return dir;
  };
  const runs: Array<[string, string, (mount: string, dir: string) => string[], RegExp]> = [
    ['simulate', 'its --hosts file', (mount) => ['--hosts', join(mount, 'lshosts')], /--hosts .*mnt\/lshosts: cannot read/],
    ['simulate', 'its --model', (mount) => ['--model', join(mount, 'model.json')], /mnt.*on a FUSE file system that uid 1003 mounted/],
    ['simulate', 'its --acct', (mount) => ['--acct', join(mount, 'lsb.acct')], /input file .*mnt\/lsb\.acct: on a FUSE file system that uid 1003 mounted/],
    ['simulate', 'its --html report', (mount) => ['--html', join(mount, 'report.html')], /--html .*mnt\/report\.html: .*FUSE file system that uid 1003 mounted/],
    ['recommend', 'its --model', (mount) => ['--model', join(mount, 'model.json')], /mnt.*on a FUSE file system that uid 1003 mounted/],
    ['recommend', 'a --data dataset', (mount) => ['--data', join(mount, 'calibration.jsonl')], /mnt\/calibration\.jsonl: cannot read the calibration dataset/],
    ['retrain', 'a --calibration dataset', (mount, dir) => ['--acct', join(dataset(dir), 'lsb.acct'), '--history', join(dir, 'history'), '--out', join(dir, 'model.json'), '--calibration', join(mount, 'calibration.jsonl'), '--dry-run'], /mnt\/calibration\.jsonl: cannot read the calibration dataset/],
    ['calibrate', 'its --out', (mount) => ['--out', join(mount, 'calibration.jsonl'), '--quick'], /--out .*mnt\/calibration\.jsonl: .*FUSE file system that uid 1003 mounted/],
    ['calibrate', 'a --summary dataset', (mount) => ['--summary', join(mount, 'calibration.jsonl')], /--summary .*mnt\/calibration\.jsonl: cannot be read/],
  ];
  for (const [command, what, args, said] of runs) {
    it(`${command} with ${what} there ends with status 1, naming it`, async () => {
      const r = await commandOverUsersFuse(command, args, undefined, 'file');
      assert.notEqual(r.code, 'running', r.held);
      assert.equal(r.code, 1, r.err);
      assert.match(r.err, said);
    });
  }
});

// The log's full-disk probe (statfs, every sixth metrics write) is the one task on the
// file, as a write is: asked beside the writes, a log directory whose server stopped
// answering held two of libuv's four pool threads (the probe and the next write), not one.
describe("the log's full-disk probe on a file system whose statfs stops answering", { skip: NEED }, () => {
  it("keeps the log's lines in memory behind it, rather than start a write beside it", async (t) => {
    const dir = testDir(t, 'lavarank-hung-');
    const mount = join(dir, 'mnt');
    mkdirSync(mount, { mode: 0o755 });
    const server = await fuseHangOver(mount, 'statfs');
    const log = new RotatingAppender({ path: join(mount, 'lavarank.log'), maxBytes: 1 << 20, keep: 1, retryMs: 20 });
    try {
      log.probeSpace();
      log.append('{"msg":"a line"}');
      await sleep(1000);
      // This process's threads waiting in statfs (the write's trust walk asks it too).
      const statfsNr = process.arch === 'arm64' ? '43' : '137';
      const waiting = readdirSync('/proc/self/task').filter((tid) => {
        try {
          return readFileSync(`/proc/self/task/${tid}/syscall`, 'latin1').split(' ', 1)[0] === statfsNr;
        } catch {
          return false; // the thread ended
        }
      });
      assert.equal(waiting.length, 1, 'pool threads held by the log');
      assert.equal(log.stats.failures, 0, 'a write was tried while the probe was out');
      assert.equal(log.stats.linesWritten, 0);
    } finally {
      await unmountFuse(server, mount);
      await log.close(500);
    }
  });
});
