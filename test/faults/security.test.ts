// A hostile local user against the files lavarank acts on as root: one who owns a
// directory on the path to the config, the model, a child elim or the GPU
// command, and swaps symbolic links there while the daemon reads or runs them.
// The attacker is a real unprivileged user (nobody, through setuid in a child
// process), so the kernel's own permission checks apply to it.
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { createGpuCollector } from '../../src/collectors/gpu.js';
import { childProgramAsync, startChildElims } from '../../src/daemon/children.js';
import { setupLoggingAsync } from '../../src/daemon/log.js';
import { MetricsWriter, metricsDirectoryProblems } from '../../src/daemon/metrics.js';
import { checkGpuProgramAsync } from '../../src/daemon/sampler.js';
import { readHistory } from '../../src/history/reader.js';
import { readAcct } from '../../src/lsf/acct.js';
import { historyDirectoryProblems } from '../../src/history/record.js';
import { loadModel, serializeModel } from '../../src/model/model.js';
import { RotatingAppender } from '../../src/util/appender.js';
import { systemClock, type Clock } from '../../src/util/clock.js';
import { captureLog, cliPath, installedCopy, plantLink, repoRoot, tempDir, testDir, writeWithMode } from '../helpers.js';
import { randomModelFile } from '../model/helpers.js';
import { assertStopsOnSigterm, startElim } from '../e2e/harness.js';
import { ATTACKER, LinkSwapper, NEED_ROOT_FOR_ATTACKER, asAttacker, attackerDir, attackerFile, attackerSwap, sleep, stickyDir, symlinkAs } from './helpers.js';

// Restarts at once instead of after the back-off, so that a few seconds hold many starts.
const hurried: Clock = { ...systemClock, sleep: (ms, signal) => systemClock.sleep(Math.min(ms, 5), signal) };

// A root-owned program in a root-owned directory, as an administrator installs it.
function rootProgram(dir: string, name: string, text: string): string {
  mkdirSync(dir, { recursive: true, mode: 0o755 });
  return writeWithMode(join(dir, name), text, 0o755);
}

// Waits until path appears (the attacker's program ran) or ms have passed.
async function waitForFile(path: string, ms: number): Promise<void> {
  const until = Date.now() + ms;
  while (Date.now() < until && !existsSync(path)) await sleep(50);
}

describe('a user who owns a directory on the config path', () => {
  it('points lavarank.yaml at a root-only file: it is refused unread, and nothing of it reaches the log, lavarank check or the terminal', { skip: NEED_ROOT_FOR_ATTACKER }, () => {
    const { dir, cleanup } = tempDir('lavarank-security-');
    try {
      const shadow = join(dir, 'shadow');
      writeFileSync(shadow, 'root:$6$S3CRETSALT$R00THASH:19000:0:99999:7:::\nalice:$6$AL1CESALT$AL1CEHASH:19000:0:99999:7:::\n', { mode: 0o600 });
      const envdir = attackerDir(dir, 'envdir');
      asAttacker('ln', ['-s', shadow, join(envdir, 'lavarank.yaml')]);
      const logdir = join(dir, 'log');
      mkdirSync(logdir, { mode: 0o755 });
      const env = { PATH: process.env['PATH'], LSF_ENVDIR: envdir, LSF_LOGDIR: logdir };
      const run = spawnSync(process.execPath, [cliPath, 'run'], { env, encoding: 'utf8', timeout: 20_000, stdio: ['ignore', 'pipe', 'pipe'] });
      const check = spawnSync(process.execPath, [cliPath, 'check'], { env, encoding: 'utf8', timeout: 20_000 });
      const logFile = join(logdir, `lavarank.${hostname()}.log`);
      const log = readFileSync(logFile, 'utf8');
      assert.equal(run.status, 1, `run exited ${run.status}`);
      assert.equal(check.status, 1, `check exited ${check.status}`);
      assert.match(log, new RegExp(`owned by uid ${ATTACKER.uid}`));
      assert.match(check.stdout, new RegExp(`owned by uid ${ATTACKER.uid}`));
      for (const [where, text] of [['log', log], ['run', run.stdout + run.stderr], ['check', check.stdout + check.stderr]] as const) {
        for (const secret of ['S3CRETSALT', 'R00THASH', 'alice', 'AL1CE', '19000', '99999']) {
          assert.equal(text.includes(secret), false, `${where} shows "${secret}" from the refused file:\n${text}`);
        }
      }
      assert.equal(statSync(logFile).mode & 0o007, 0, `the log is readable by others: mode ${(statSync(logFile).mode & 0o777).toString(8)}`);
    } finally {
      cleanup();
    }
  });
});

// The link is the attacker's own, in a directory like /tmp (root's, sticky,
// writable by all), and points in turn at root's file and at the attacker's.
describe('a user who swaps a symbolic link on the path lavarank reads or runs', () => {
  it('model: swapped between root\'s model and their own while it is loaded over and over, their model is never loaded', { skip: NEED_ROOT_FOR_ATTACKER }, async (t) => {
    const { dir, cleanup } = tempDir('lavarank-security-');
    try {
      const good = join(dir, 'good.json');
      writeFileSync(good, serializeModel(randomModelFile({ seed: 1, name: 'root' })), { mode: 0o644 });
      const evil = serializeModel(randomModelFile({ seed: 2, name: 'attacker' }));
      const { link, swapper } = attackerSwap(dir, 'model.json', good, { name: 'evil.json', text: evil, mode: 0o644 });
      await swapper.ready();
      const loaded = { root: 0, attacker: 0, refused: 0 };
      const until = Date.now() + 2000;
      while (Date.now() < until) {
        for (let i = 0; i < 20; i++) {
          try {
            const name = loadModel(link).file.name;
            loaded[name === 'attacker' ? 'attacker' : 'root']++;
          } catch {
            loaded.refused++;
          }
        }
        await sleep(0); // lets the swapper's output in
      }
      const swaps = await swapper.stop();
      t.diagnostic(`${swaps} swaps; loads: ${JSON.stringify(loaded)}`);
      assert.ok(swaps > 100, `the attacker made only ${swaps} swaps`);
      assert.equal(loaded.attacker, 0, `the attacker's model was loaded ${loaded.attacker} times`);
    } finally {
      cleanup();
    }
  });

  it('child elim: swapped between root\'s elim and their own across many restarts, their program never runs', { skip: NEED_ROOT_FOR_ATTACKER }, async (t) => {
    const dir = testDir(t, 'lavarank-security-');
    try {
      const marker = join(dir, 'pwned');
      const good = rootProgram(join(dir, 'bin'), 'elim.site', "#!/bin/sh\nprintf '1 good 1\\n'\n");
      const { link, swapper } = attackerSwap(dir, 'elim', good, { name: 'elim.evil', text: `#!/bin/sh\ntouch ${marker}\nprintf '1 pwned 1\\n'\n` });
      await swapper.ready();
      const log = captureLog();
      const controller = new AbortController();
      const elims = startChildElims([{ command: [link] }], { log: log.log, signal: controller.signal, clock: hurried });
      await waitForFile(marker, 4000);
      await elims.close();
      const swaps = await swapper.stop();
      const starts = log.messages().filter((m) => m.endsWith(' started')).length;
      const refusals = log.messages().filter((m) => m.includes('not started')).length;
      t.diagnostic(`${swaps} swaps, ${starts} starts, ${refusals} refusals`);
      assert.ok(starts + refusals > 20, `only ${starts + refusals} attempts to start the child`);
      assert.equal(existsSync(marker), false, "the attacker's program ran as root");
    } finally {
      rmSync(join(dir, 'pwned'), { force: true });
    }
  });

  it('gpu.command: swapped between root\'s nvidia-smi and their own across many queries, their program never runs', { skip: NEED_ROOT_FOR_ATTACKER }, async (t) => {
    const { dir, cleanup } = tempDir('lavarank-security-');
    try {
      const marker = join(dir, 'pwned');
      const good = rootProgram(join(dir, 'bin'), 'nvidia-smi', "#!/bin/sh\necho '5, 100, 1000'\n");
      const { link, swapper } = attackerSwap(dir, 'nvidia-smi', good, { name: 'nvidia-smi.evil', text: `#!/bin/sh\ntouch ${marker}\necho '0, 0, 1000'\n` });
      await swapper.ready();
      const log = captureLog();
      const controller = new AbortController();
      // The daemon's own trust rule, retried every 10 ms instead of every 10 minutes.
      const gpu = createGpuCollector({ enabled: true, command: link, intervalMs: 10, missingRetryMs: 10, timeoutMs: 5000, signal: controller.signal, log: log.log, checkProgram: (path: string) => checkGpuProgramAsync(path) });
      await waitForFile(marker, 3000);
      gpu.close?.();
      const swaps = await swapper.stop();
      t.diagnostic(`${swaps} swaps; ${log.lines.length} log lines`);
      assert.equal(existsSync(marker), false, "the attacker's program ran as root");
    } finally {
      cleanup();
    }
  });
});

describe('a symbolic link planted at the log path', () => {
  it('is not followed by the last line a crashing daemon writes, as it is not by the normal path', async () => {
    const { dir, cleanup } = tempDir('lavarank-security-');
    try {
      const path = join(dir, 'lavarank.log');
      const setup = await setupLoggingAsync({ file: path, level: 'info', max_bytes: 1 << 20, keep: 2 }, { host: 'h', stderrIsTty: false });
      setup.log.info('running');
      await setup.appender!.flush(1000);
      const victim = plantLink(path);
      setup.fatalNow('uncaught exception; exiting', new Error('boom'));
      assert.equal(readFileSync(victim, 'utf8'), 'untouched\n');
    } finally {
      cleanup();
    }
  });
});

describe('an installation another user can change', () => {
  it('is named in the log once the first report is out, with the module they could change and the fix; reports go on', async (t) => {
    const dir = testDir(t, 'lavarank-security-');
    const pkg = installedCopy(dir);
    const module = join(pkg, 'node_modules', 'yaml', 'package.json');
    chmodSync(module, 0o664);
    const elim = startElim({ cli: join(pkg, 'dist', 'src', 'cli.js') });
    try {
      await elim.waitForReports(3);
      // The walk asks its ~2 000 questions one at a time in libuv's pool, at nice 10 beside
      // the reports: on a loaded machine (a load of 27 on 2 CPUs) it outlasted 5 s.
      const line = await elim.waitForLog((r) => r['level'] === 'error' && /installation/.test(String(r['msg'])), 30_000);
      assert.match(String(line['msg']), new RegExp(`^the lavarank installation ${pkg} can be changed by users other than root, who could then run their code as root; make it root's: chown -R root ${pkg} && chmod -R go-w ${pkg}`));
      assert.deepEqual(line['problems'], [`lavarank installation ${module} has mode 0664, writable by group or others; run: chmod -R go-w ${pkg}`]);
      await assertStopsOnSigterm(elim);
    } finally {
      await elim.cleanup();
    }
  });

  it('is not mentioned when it is root\'s alone', async (t) => {
    const dir = testDir(t, 'lavarank-security-');
    const elim = startElim({ cli: join(installedCopy(dir), 'dist', 'src', 'cli.js') });
    try {
      await elim.waitForReports(4);
      assert.deepEqual(elim.log().filter((r) => /installation/.test(String(r['msg']))), []);
    } finally {
      await elim.cleanup();
    }
  });
});

describe('a user who owns a directory where lavarank writes as root', () => {
  it('history and metrics in their directory: the daemon reports on, writes nothing there or where their link points, and says why', { skip: NEED_ROOT_FOR_ATTACKER }, async (t) => {
    const dir = testDir(t, 'lavarank-security-');
    const theirs = attackerDir(dir, 'theirs');
    const rootOnly = join(dir, 'root-only');
    mkdirSync(rootOnly, { mode: 0o700 });
    asAttacker('ln', ['-s', rootOnly, join(theirs, 'history')]);
    const elim = startElim({ override: { history: { dir: join(theirs, 'history') }, metrics: { textfile: join(theirs, 'lavarank.prom') } } });
    try {
      await elim.waitForReports(3);
      const errors = elim.log().filter((r) => r['level'] === 'error').map((r) => String(r['msg']));
      assert.ok(errors.some((m) => /^history off: .*theirs.* is owned by uid 65534/.test(m)), errors.join('\n'));
      assert.ok(errors.some((m) => /^metrics off: metrics directory .*theirs is owned by uid 65534/.test(m)), errors.join('\n'));
      await assertStopsOnSigterm(elim);
      assert.deepEqual(readdirSync(rootOnly), []);
      assert.deepEqual(readdirSync(theirs), ['history']);
    } finally {
      await elim.cleanup();
    }
  });

  it('history through root\'s link that points into their directory at a name not made yet: once they make it, nothing is written there', { skip: NEED_ROOT_FOR_ATTACKER }, async (t) => {
    const dir = testDir(t, 'lavarank-security-');
    const theirs = attackerDir(dir, 'theirs');
    const lib = join(dir, 'lib');
    mkdirSync(lib, { mode: 0o755 });
    // An NFS directory not mounted yet at boot, a target removed: the link leads nowhere when the daemon starts.
    symlinkSync(join(theirs, 'history'), join(lib, 'history'));
    const elim = startElim({ override: { history: { dir: join(lib, 'history') } } });
    try {
      await elim.waitForReports(2);
      asAttacker('mkdir', [join(theirs, 'history')]);
      await sleep(11_000); // past the history writer's first retry, 10 s after its failure at start
      assert.deepEqual(readdirSync(join(theirs, 'history')), []);
      const errors = elim.log().filter((r) => r['level'] === 'error').map((r) => `${String(r['msg'])} ${String(r['err'])}`);
      assert.ok(errors.some((m) => /history directory .*history is owned by uid 65534/.test(m)), errors.join('\n'));
      await assertStopsOnSigterm(elim);
    } finally {
      await elim.cleanup();
    }
  });

  it('metrics.textfile in a directory not made yet below a sticky one (as /tmp/x): their link, coming and going there, never has root write where it points', { skip: NEED_ROOT_FOR_ATTACKER }, async (t) => {
    const { dir, cleanup } = tempDir('lavarank-security-');
    try {
      const rootOnly = join(dir, 'root-only');
      mkdirSync(rootOnly, { mode: 0o700 });
      // The metrics directory, not made yet: the attacker's link there points at nothing, then at rootOnly, and so on.
      const link = join(stickyDir(dir), 'metrics');
      const swapper = new LinkSwapper(link, [join(dir, 'nowhere'), rootOnly]);
      await swapper.ready();
      const log = captureLog();
      const writer = new MetricsWriter({ path: join(link, 'lavarank.prom'), resource: 'rank', version: 'v', log: log.log, directoryProblems: (at) => metricsDirectoryProblems(at) });
      const tick = { seq: 1, ts: Date.now(), rank: 1, state: 'ok', outcome: 'written', line: '1 rank 1\n', durationMs: 1 } as const;
      let writes = 0;
      const until = Date.now() + 2000;
      while (Date.now() < until) {
        writer.update({ ...tick }, {});
        await writer.close(1000);
        writes++;
      }
      const swaps = await swapper.stop();
      t.diagnostic(`${swaps} swaps, ${writes} writes`);
      assert.ok(swaps > 100, `the attacker made only ${swaps} swaps`);
      assert.deepEqual(readdirSync(rootOnly), [], 'root wrote where their link pointed');
      const unmade = join(dir, 'tmp', 'unmade');
      assert.match(metricsDirectoryProblems(unmade)[0] ?? '', new RegExp(`^metrics directory ${unmade} does not exist, and .* can be written by others`));
    } finally {
      cleanup();
    }
  });

  for (const c of [
    { kind: 'the history directory itself', below: [] as string[] },
    { kind: 'a directory above the history directory', below: ['history'] },
  ]) {
    it(`history below a sticky directory (as /tmp/x), their link at ${c.kind} coming and going: root makes nothing and writes nothing where it points`, { skip: NEED_ROOT_FOR_ATTACKER }, async (t) => {
      const { dir, cleanup } = tempDir('lavarank-security-');
      try {
        const rootOnly = join(dir, 'root-only');
        mkdirSync(rootOnly, { mode: 0o700 });
        // Not made yet when the writer checks it, then their link to rootOnly: mkdir -p and the open went through it.
        const link = join(stickyDir(dir), 'x');
        const swapper = new LinkSwapper(link, [join(dir, 'nowhere'), rootOnly]);
        await swapper.ready();
        let opens = 0;
        const until = Date.now() + 2000;
        while (Date.now() < until) {
          const writer = new RotatingAppender({ path: join(link, ...c.below, 'h.jsonl'), maxBytes: 1 << 20, keep: 1, directoryProblems: historyDirectoryProblems });
          writer.append('{}');
          await writer.close(1000);
          opens++;
        }
        const swaps = await swapper.stop();
        t.diagnostic(`${swaps} swaps, ${opens} opens`);
        assert.ok(swaps > 100, `the attacker made only ${swaps} swaps`);
        assert.deepEqual(readdirSync(rootOnly), [], 'root wrote where their link pointed');
      } finally {
        cleanup();
      }
    });
  }

  it('log.file in their directory: the log goes to the next location, and nothing is created in theirs', { skip: NEED_ROOT_FOR_ATTACKER }, async () => {
    const { dir, cleanup } = tempDir('lavarank-security-');
    try {
      const theirs = attackerDir(dir, 'theirs');
      const logdir = join(dir, 'log');
      mkdirSync(logdir, { mode: 0o755 });
      const setup = await setupLoggingAsync({ file: join(theirs, 'lavarank.log'), level: 'info', max_bytes: 1 << 20, keep: 2 }, { host: 'h', env: { LSF_LOGDIR: logdir }, stderrIsTty: false });
      setup.log.info('running');
      await setup.close(1000);
      assert.equal(setup.target.path, join(logdir, 'lavarank.h.log'));
      assert.match(setup.skipped[0] ?? '', new RegExp(`log directory ${theirs} is owned by uid ${ATTACKER.uid}; it must be owned by root`));
      assert.deepEqual(readdirSync(theirs), []);
    } finally {
      cleanup();
    }
  });
});

describe('a user who owns the directory of a child elim\'s script', () => {
  it('[/bin/sh, their script]: the script is refused as a program would be, never runs, and check names it', { skip: NEED_ROOT_FOR_ATTACKER }, async (t) => {
    const dir = testDir(t, 'lavarank-security-');
    const theirs = attackerDir(dir, 'theirs');
    const marker = join(theirs, 'ran-as-root');
    const script = join(theirs, 'elim.sh');
    asAttacker('sh', ['-c', `printf 'id -u > ${marker}\necho "1 site 5"\nsleep 60\n' > ${script}`]);
    const config = `elims:\n  - name: site\n    command: [/bin/sh, ${script}]\n`;
    const elim = startElim({ config });
    try {
      await elim.waitForReports(4);
      await sleep(500);
      assert.equal(existsSync(marker), false, 'their script ran as root');
      assert.equal(elim.reports().some((r) => r.line.includes(' site ')), false);
      const errors = elim.log().filter((r) => r['level'] === 'error').map((r) => JSON.stringify(r));
      assert.ok(errors.some((m) => m.includes('argument 1') && m.includes(`owned by uid ${ATTACKER.uid}`)), errors.join('\n'));
      const yaml = join(dir, 'lavarank.yaml');
      writeFileSync(yaml, config, { mode: 0o644 });
      const check = spawnSync(process.execPath, [cliPath, 'check', '--config', yaml], { encoding: 'utf8', env: { PATH: process.env['PATH'] } });
      assert.equal(check.status, 1, check.stdout);
      assert.match(check.stdout, /child elim elims\[0\]: its argument 1 .*owned by uid 65534/);
    } finally {
      await elim.cleanup();
    }
  });
});

// The attacker, in their own directory, keeps `script` something the trust check of a
// regular file passes over: a FIFO fed with their commands, or a file that comes and
// goes. Returns a stop that ends their loop.
function attackerLoop(shell: string): () => Promise<void> {
  const child = spawn('/bin/sh', ['-c', shell], { uid: ATTACKER.uid, gid: ATTACKER.gid, stdio: 'ignore' });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  return async () => {
    child.kill('SIGKILL');
    await exited;
  };
}

describe('a user who owns the directory of a child elim\'s script, and makes it no regular file', () => {
  for (const [kind, loop] of [
    // sh opens the FIFO and reads from it whatever they write: no race at all.
    ['a FIFO they write commands into', (script: string, marker: string) => `mkfifo ${script}; while :; do printf 'id -u > ${marker}\\n' > ${script}; done`],
    // Missing when lavarank looks, there when sh opens it a few milliseconds later.
    ['a file that comes and goes', (script: string, marker: string) => `while :; do printf 'id -u > ${marker}\\n' > ${script}.new; mv ${script}.new ${script}; rm -f ${script}; done`],
  ] as const) {
    it(`[/bin/sh, their script] where the script is ${kind}: it never runs`, { skip: NEED_ROOT_FOR_ATTACKER }, async (t) => {
      const dir = testDir(t, 'lavarank-security-');
      const theirs = attackerDir(dir, 'theirs');
      const marker = join(theirs, 'ran-as-root');
      const script = join(theirs, 'elim.sh');
      const stop = attackerLoop(loop(script, marker));
      const log = captureLog();
      const controller = new AbortController();
      try {
        await sleep(200); // their loop is under way
        const elims = startChildElims([{ name: 'site', command: ['/bin/sh', script] }], { log: log.log, signal: controller.signal, clock: hurried });
        await waitForFile(marker, 4000);
        await elims.close();
        const starts = log.messages().filter((m) => m.endsWith(' started')).length;
        const refusals = log.messages().filter((m) => m.includes('not started')).length;
        t.diagnostic(`${starts} starts, ${refusals} refusals`);
        assert.equal(existsSync(marker), false, `their script ran as root (${starts} starts)`);
        assert.ok(refusals > 0, log.messages().join('\n'));
      } finally {
        await stop();
      }
    });
  }
});

// Their FIFO in their directory (standing in for a device, whose open is itself an
// action as root), with their writer waiting in open until a reader opens it; the
// writer then leaves the mark `opened`.
function theirWaitingFifo(theirs: string): { fifo: string; opened: string; writer: ChildProcess } {
  const fifo = join(theirs, 'device');
  const opened = join(theirs, 'opened');
  asAttacker('mkfifo', [fifo]);
  const writer = spawn('sh', ['-c', `exec 3>${fifo}; : >${opened}`], { uid: ATTACKER.uid, gid: ATTACKER.gid, stdio: 'ignore' });
  return { fifo, opened, writer };
}

describe("a user who owns the directory of a child elim's program", () => {
  it('their program made a link to a FIFO (as to a device, whose open arms a watchdog): the check before each start refuses it and never opens what it points at', { skip: NEED_ROOT_FOR_ATTACKER }, async (t) => {
    const dir = testDir(t, 'lavarank-security-');
    const theirs = attackerDir(dir, 'theirs');
    const { fifo, opened, writer } = theirWaitingFifo(theirs);
    try {
      const program = join(theirs, 'elim');
      symlinkAs(fifo, program);
      const { path, problems } = await childProgramAsync([program], 'child elim site');
      assert.equal(path, undefined);
      assert.ok(problems.some((p) => p.endsWith('is not a regular file')), problems.join('\n'));
      await waitForFile(opened, 1000);
      assert.equal(existsSync(opened), false, 'root opened the FIFO their link pointed at');
    } finally {
      writer.kill('SIGKILL');
    }
  });
});

// Their FIFO (standing in for a device, whose open is itself an action as root) behind
// their link at `name`, in a directory made by `place`; `read` reads through the link.
// Their writer waits in open until a reader opens the FIFO, then leaves a mark: the
// read must be refused with `refusal`, and the mark never appear.
async function refusesTheirFifo(place: (dir: string, theirs: string) => string, name: string, read: (path: string) => AsyncIterable<unknown>, refusal: RegExp): Promise<void> {
  const { dir, cleanup } = tempDir('lavarank-security-');
  const theirs = attackerDir(dir, 'theirs');
  const { fifo, opened, writer } = theirWaitingFifo(theirs);
  try {
    const link = join(place(dir, theirs), name);
    symlinkAs(fifo, link);
    const reader = read(link);
    await assert.rejects(async () => {
      for await (const _ of reader);
    }, refusal);
    await waitForFile(opened, 1000);
    assert.equal(existsSync(opened), false, 'root opened the FIFO their link pointed at');
  } finally {
    writer.kill('SIGKILL');
    cleanup();
  }
}

describe('a user who owns an entry in a sticky history directory that retrain reads', () => {
  it('their link to a FIFO (as to a device, whose open arms a watchdog or rewinds a tape): root never opens what it points at, and refuses it', { skip: NEED_ROOT_FOR_ATTACKER }, async () => {
    let history = '';
    await refusesTheirFifo(
      (dir) => (history = stickyDir(dir, 'history')),
      'node1.jsonl',
      () => readHistory(history),
      /history file .*node1\.jsonl: a symbolic link of uid \d+'s/,
    );
  });
});

describe('a user who owns an entry in a sticky history directory that retrain reads, and links it to a root-only file', () => {
  it("retrain refuses their link unread: none of the root file's bytes reach its output, which a cron job appends to a log anyone may read", { skip: NEED_ROOT_FOR_ATTACKER }, () => {
    const { dir, cleanup } = tempDir('lavarank-security-');
    try {
      const shadow = join(dir, 'shadow');
      writeFileSync(shadow, 'root:$6$S3CRETSALT$R00THASH:19000:0:99999:7:::\n', { mode: 0o600 });
      const history = stickyDir(dir, 'history');
      symlinkAs(shadow, join(history, 'node1.jsonl'));
      const r = spawnSync(process.execPath, [cliPath, 'retrain', '--acct', join(repoRoot, 'test', 'fixtures', 'openlava', 'lsb.acct'), '--history', history, '--dry-run', '--out', join(dir, 'm.json'), '--report', join(dir, 'r.html')], {
        encoding: 'utf8',
        timeout: 60_000,
        env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin' },
      });
      const output = r.stdout + r.stderr;
      assert.match(output, /history file .*node1\.jsonl: a symbolic link of uid 65534's/, output);
      assert.doesNotMatch(output, /root:|S3CRET|R00T/, 'the root file was read and quoted');
    } finally {
      cleanup();
    }
  });
});

describe('a user who owns the directory of lsb.acct that retrain reads (an LSF administrator\'s logdir)', () => {
  it('lsb.acct made their link to a FIFO after retrain listed it (as to a device): root never opens what it points at, and refuses it', { skip: NEED_ROOT_FOR_ATTACKER }, async () => {
    await refusesTheirFifo((_dir, theirs) => theirs, 'lsb.acct', (path) => readAcct(path), /lsb\.acct: a symbolic link of uid \d+'s/);
  });
});

describe("a user who owns LSF_ENVDIR (an LSF administrator's account), which check and install --merge-conf read", () => {
  it('their lsf.shared made a link to a FIFO (as to a device, whose open arms a watchdog): lavarank check never opens what it points at', { skip: NEED_ROOT_FOR_ATTACKER }, async (t) => {
    const dir = testDir(t, 'lavarank-security-');
    const theirs = attackerDir(dir, 'envdir');
    const { fifo, opened, writer } = theirWaitingFifo(theirs);
    try {
      symlinkAs(fifo, join(theirs, 'lsf.shared'));
      const r = spawnSync(process.execPath, [cliPath, 'check'], { env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin', LSF_ENVDIR: theirs }, encoding: 'utf8', timeout: 60_000 });
      assert.match(r.stdout, /lsf\.shared cannot be read/, r.stdout + r.stderr);
      await waitForFile(opened, 1000);
      assert.equal(existsSync(opened), false, 'root opened the FIFO their link pointed at');
    } finally {
      writer.kill('SIGKILL');
    }
  });
});

describe('a user who owns the directory LIM leaves the elim in', () => {
  it('a child elim that names a program relative to its working directory never runs theirs', { skip: NEED_ROOT_FOR_ATTACKER }, async (t) => {
    const dir = testDir(t, 'lavarank-security-');
    const theirs = attackerDir(dir, 'theirs');
    const marker = join(theirs, 'ran-as-root');
    // As `python3 -m site_elim`, or a relative PATH entry, would: a name looked up in the working directory.
    asAttacker('sh', ['-c', `printf '#!/bin/sh\\nid -u > ${marker}\\necho "1 evil 1"\\nsleep 60\\n' > ${join(theirs, 'site_elim')} && chmod 755 ${join(theirs, 'site_elim')}`]);
    const elim = startElim({ cwd: theirs, config: `elims:\n  - name: relative\n    command: [/bin/sh, -c, 'exec ./site_elim']\n` });
    try {
      await elim.waitForReports(4);
      await sleep(500);
      assert.equal(existsSync(marker), false, 'their program ran');
      assert.equal(elim.reports().some((r) => r.line.includes(' evil ')), false);
    } finally {
      await elim.cleanup();
    }
  });
  it('the daemon itself leaves their directory for /, so that nothing it runs later (the host inventory, whose tools are looked up in PATH) resolves a name there', { skip: NEED_ROOT_FOR_ATTACKER }, async (t) => {
    const dir = testDir(t, 'lavarank-security-');
    const theirs = attackerDir(dir, 'theirs');
    const elim = startElim({ cwd: theirs });
    try {
      await elim.waitForReports(2);
      assert.equal(readlinkSync(`/proc/${elim.pid}/cwd`), '/');
    } finally {
      await elim.cleanup();
    }
  });
});

// What a hostile user can do to the config or the model short of a race: own the
// file, own the directory it is in, own a link to it, or be in a group that can
// write it. The daemon, started as LIM starts it, must not run on such a file.
describe('a config or model file another user owns or can change, at start', { concurrency: false }, () => {
  type Case = { name: string; kind: 'config' | 'model'; put: (dir: string, text: string) => string; why: RegExp };
  const cases: Case[] = [
    { name: 'the file is theirs (0644)', kind: 'config', put: (dir, text) => attackerFile(join(dir, 'lavarank.yaml'), text, 0o644), why: /config file \S+ is owned by uid 65534; it must be owned by root \(chown root / },
    { name: 'root\'s file in their directory', kind: 'config', put: (dir, text) => writeWithMode(join(attackerDir(dir, 'envdir'), 'lavarank.yaml'), text, 0o644), why: /directory \S+envdir above config file \S+ is owned by uid 65534/ },
    { name: 'root\'s file, writable by its group (0664)', kind: 'config', put: (dir, text) => writeWithMode(join(dir, 'lavarank.yaml'), text, 0o664), why: /has mode 0664, writable by group or others; run: chmod go-w / },
    { name: 'the file is theirs (0644)', kind: 'model', put: (dir, text) => attackerFile(join(dir, 'model.json'), text, 0o644), why: /model file \S+ is owned by uid 65534; it must be owned by root \(chown root / },
    { name: 'root\'s file in their directory', kind: 'model', put: (dir, text) => writeWithMode(join(attackerDir(dir, 'models'), 'model.json'), text, 0o644), why: /directory \S+models above model file \S+ is owned by uid 65534/ },
    {
      name: 'their link, in a sticky directory like /tmp, to root\'s file',
      kind: 'model',
      put: (dir, text) => {
        const link = join(stickyDir(dir), 'model.json');
        symlinkAs(writeWithMode(join(dir, 'model.json'), text, 0o644), link);
        return link;
      },
      why: /symbolic link \S+ on the path of model file \S+ is owned by uid 65534, who can point it elsewhere; it must be owned by root/,
    },
    { name: 'root\'s file, writable by its group (0664)', kind: 'model', put: (dir, text) => writeWithMode(join(dir, 'model.json'), text, 0o664), why: /has mode 0664, writable by group or others; run: chmod go-w / },
  ];
  const goodModel = serializeModel(randomModelFile({ seed: 7, name: 'root-model' }));
  for (const c of cases) {
    it(`${c.kind}: ${c.name}: the daemon writes no report, exits 1 within 5 s, and the log names the file, why and the fix`, { skip: NEED_ROOT_FOR_ATTACKER }, async (t) => {
      const dir = testDir(t, 'lavarank-security-');
      chmodSync(dir, 0o755);
      let elim: ReturnType<typeof startElim> | undefined;
      try {
        // A refused config cannot say where the log goes: it goes where the defaults put it, $LSF_LOGDIR.
        const logdir = join(dir, 'log');
        mkdirSync(logdir, { mode: 0o755 });
        const started = Date.now();
        if (c.kind === 'config') {
          const path = c.put(dir, 'history: {enabled: false}\ngpu: {enabled: false}\n');
          elim = startElim({ args: ['--config', path], env: { LSF_LOGDIR: logdir } });
        } else {
          elim = startElim({ config: `model: ${c.put(dir, goodModel)}\n` });
        }
        const exit = await Promise.race([elim.exited, sleep(5000).then(() => undefined)]);
        assert.ok(exit !== undefined, `still running ${Date.now() - started} ms after start`);
        assert.equal(exit.code, 1);
        assert.equal(elim.reads.length, 0, 'a report was written');
        const log = c.kind === 'config' ? readFileSync(join(logdir, `lavarank.${hostname()}.log`), 'utf8') : readFileSync(elim.logFile, 'utf8');
        const fatal = log.split('\n').filter((l) => l.includes('"level":"fatal"'));
        assert.equal(fatal.length, 1, log);
        assert.match(fatal[0]!, c.why);
      } finally {
        await elim?.cleanup();
      }
    });
  }
});
