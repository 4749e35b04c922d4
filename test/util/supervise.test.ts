import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, existsSync, mkdirSync, readFileSync, renameSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { after, before, describe, it } from 'node:test';
import { INSPECTOR_NOWHERE } from '../../src/util/node-flags.js';
import { parseSyscallLine, progressMark, superviseCommand } from '../../src/util/supervise.js';
import { join } from 'node:path';
import { cliPath, fileDir, fixture, isAlive, mkfifo, sleep, startReadingFifo, tempDir, testDir, until } from '../helpers.js';
import { fuseHangOver, unmountFuse } from '../faults/helpers.js';

// A real python3, not a version manager's shell shim found on PATH.
const PYTHON = ['/usr/bin/python3', '/usr/local/bin/python3'].find((p) => existsSync(p));

describe('parseSyscallLine', () => {
  it('reads statx on x64 as a path at its second argument, relative to the first', () => {
    const call = parseSyscallLine('332 0xffffffffffffff9c 0x7f3a1c000b60 0x100 0xfff 0x7f3a2effcc40 0x0 0x7f3a2effcb88 0x7f3a34b1f8ae\n', 'x64');
    assert.deepEqual(call, { name: 'statx', pathAddress: 0x7f3a1c000b60, dirfd: -100 });
  });

  it('reads lstat on x64 as a path at its first argument', () => {
    assert.deepEqual(parseSyscallLine('6 0x55d0c1a0 0x7ffd0000 0x0 0x0 0x0 0x0 0x7ffd 0x7f00', 'x64'), { name: 'lstat', pathAddress: 0x55d0c1a0 });
  });

  it('reads a read on x64 as its descriptor', () => {
    assert.deepEqual(parseSyscallLine('0 0x17 0x7f3a1c000b60 0x10000 0x0 0x0 0x0 0x7ffd 0x7f00', 'x64'), { name: 'read', fd: 23 });
  });

  it('reads openat on arm64 by its own number', () => {
    assert.deepEqual(parseSyscallLine('56 0xffffff9c 0xaaaad000 0x0 0x0 0x0 0x0 0xffff 0xffff', 'arm64'), { name: 'openat', pathAddress: 0xaaaad000, dirfd: -100 });
  });

  it('gives nothing for a wait that asks no file system (a futex, epoll_wait)', () => {
    assert.equal(parseSyscallLine('202 0x7f3a2effcc40 0x80 0x0 0x0 0x0 0x0 0x7ffd 0x7f00', 'x64'), undefined);
    assert.equal(parseSyscallLine('232 0x3 0x7ffd 0x400 0xffffffff 0x0 0x0 0x7ffd 0x7f00', 'x64'), undefined);
  });

  it('gives nothing for a thread not in a call, or an unknown architecture', () => {
    assert.equal(parseSyscallLine('running\n', 'x64'), undefined);
    assert.equal(parseSyscallLine('-1 0x7ffd 0x7f00\n', 'x64'), undefined);
    assert.equal(parseSyscallLine('6 0x55d0c1a0 0x0 0x0 0x0 0x0 0x0 0x0 0x0', 'ppc64'), undefined);
  });
});

// review80: stop 79 read a thread's io alone, and where it cannot be read (a kernel built
// without CONFIG_TASK_IO_ACCOUNTING) every look at a read() of a slow disk that moves its
// position looked the same ("@?"): held, and stopped at the limit, where the position the
// code before it read told it moving.
describe('progressMark', () => {
  const io = (rchar: number, wchar: number): string => `rchar: ${rchar}\nwchar: ${wchar}\nsyscr: 9\nsyscw: 1\nread_bytes: 0\nwrite_bytes: 0\ncancelled_write_bytes: 0\n`;
  const fdinfo = (pos: number) => () => `pos:\t${pos}\nflags:\t0100000\nmnt_id:\t25\nino:\t1234\n`;

  it('tells a thread that moved bytes from one that did not, by its io, whatever the position', () => {
    assert.notEqual(progressMark(io(4096, 0), fdinfo(0)), progressMark(io(8192, 0), fdinfo(0)));
    assert.equal(progressMark(io(4096, 7), fdinfo(0)), progressMark(io(4096, 7), fdinfo(65536)));
  });

  it('tells a read that moved its descriptor\'s position from a held one where the thread\'s io cannot be read', () => {
    assert.notEqual(progressMark(undefined, fdinfo(4096)), progressMark(undefined, fdinfo(8192)));
    assert.equal(progressMark(undefined, fdinfo(4096)), progressMark(undefined, fdinfo(4096)));
    assert.notEqual(progressMark('garbled\n', fdinfo(4096)), progressMark('garbled\n', fdinfo(8192)));
  });

  it('gives nothing where neither the io nor the position can be read', () => {
    assert.equal(progressMark(undefined, () => undefined), undefined);
  });
});

describe('a supervised command', () => {
  it('exits with the status of the command it runs', async () => {
    const child = spawn(process.execPath, [cliPath, 'check', '--no-such-option'], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
    assert.equal(code, 2, err);
    assert.match(err, /lavarank check: .*no-such-option/);
  });

  it('ends its command by SIGTERM when the parent is killed, rather than leave it running unseen', async () => {
    // simulate reading its accounting file from a pipe that stays open: a command that waits.
    const run = await startReadingFifo([cliPath, 'simulate', '--acct', '/dev/fd/0'], { PATH: process.env['PATH'] ?? '/usr/bin:/bin' });
    try {
      assert.notEqual(run.reader, run.child.pid, 'the command runs in a child');
      run.child.kill('SIGKILL');
      await until('the command gone', () => (isAlive(run.reader) ? undefined : true), 20_000);
    } finally {
      run.cleanup();
    }
  });

  it('ends by SIGINT when its command was ended by SIGINT, as a shell must see it to stop a loop or a script at Ctrl-C', async () => {
    // bash goes on with the next command of a loop or script after one that exited 130,
    // and stops only when its command died by the signal ("wait and cooperative exit").
    const run = await startReadingFifo([cliPath, 'simulate', '--acct', '/dev/fd/0'], { PATH: process.env['PATH'] ?? '/usr/bin:/bin' });
    try {
      const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => run.child.on('exit', (code, signal) => resolve({ code, signal })));
      run.child.kill('SIGINT');
      assert.deepEqual(await exited, { code: null, signal: 'SIGINT' });
    } finally {
      run.cleanup();
    }
  });

  it('ends by SIGKILL when its command was killed (the OOM killer), as the command itself would have', async () => {
    const run = await startReadingFifo([cliPath, 'simulate', '--acct', '/dev/fd/0'], { PATH: process.env['PATH'] ?? '/usr/bin:/bin' });
    try {
      const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => run.child.on('exit', (code, signal) => resolve({ code, signal })));
      process.kill(run.reader, 'SIGKILL');
      assert.deepEqual(await exited, { code: null, signal: 'SIGKILL' });
    } finally {
      run.cleanup();
    }
  });

  it("starts its command with the inspector's port nowhere, as every Node process lavarank starts, so that a SIGUSR1 in its start-up opens no debugger to root", async () => {
    const run = await startReadingFifo([cliPath, 'simulate', '--acct', '/dev/fd/0'], { PATH: process.env['PATH'] ?? '/usr/bin:/bin' });
    try {
      const args = readFileSync(`/proc/${run.reader}/cmdline`, 'utf8').split('\0');
      assert.ok(args.includes(`--inspect-port=${INSPECTOR_NOWHERE}`), args.join(' '));
    } finally {
      run.cleanup();
    }
  });

  it('stops its command at Ctrl-Z (SIGTSTP) with itself, and continues it when the job is continued', async () => {
    const run = await startReadingFifo([cliPath, 'simulate', '--acct', '/dev/fd/0'], { PATH: process.env['PATH'] ?? '/usr/bin:/bin' });
    try {
      run.child.kill('SIGTSTP');
      await until('the supervising parent stopped', () => (stateOf(run.child.pid!) === 'T' ? true : undefined), 20_000);
      await until('the command held', () => (heldInFutex(run.reader) ? true : undefined), 20_000);
      run.child.kill('SIGCONT');
      await until('the command running again', () => (!heldInFutex(run.reader) && isAlive(run.reader) ? true : undefined), 20_000);
    } finally {
      run.cleanup();
    }
  });

  it('stops its command when the parent alone is stopped (kill -STOP of its PID), and continues it with the parent', async () => {
    const run = await startReadingFifo([cliPath, 'simulate', '--acct', '/dev/fd/0'], { PATH: process.env['PATH'] ?? '/usr/bin:/bin' });
    try {
      process.kill(run.child.pid!, 'SIGSTOP');
      await until('the command held', () => (heldInFutex(run.reader) ? true : undefined), 20_000);
      process.kill(run.child.pid!, 'SIGCONT');
      await until('the command running again', () => (!heldInFutex(run.reader) && isAlive(run.reader) ? true : undefined), 20_000);
    } finally {
      run.cleanup();
    }
  });

  // Seen once under load in e2e/retrain's Ctrl-C (stop 74): the look that runs every
  // 100 ms after a forwarded signal came before this process had read the worker's
  // message and exit, saw its main thread gone, and ended as the signal. The test holds
  // this process's event loop until the worker has exited and the look is due, so the
  // look's timer runs before the poll that brings the message and the exit.
  it("ends with its command's own status where the command exits at the forwarded signal before this process has seen it exit", async () => {
    const before = new Set(process.listeners('SIGINT'));
    let worker: ChildProcess | undefined;
    const start = (_argv: readonly string[], env: NodeJS.ProcessEnv): ChildProcess =>
      (worker = spawn(process.execPath, [fixture('exits-at-sigint.mjs')], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'], detached: true, env }));
    const lines: string[] = [];
    const ending = superviseCommand([], 'lavarank test', (line) => lines.push(line), start);
    try {
      await new Promise((resolve) => worker!.once('message', resolve));
      const forward = process.listeners('SIGINT').find((l) => !before.has(l));
      assert.ok(forward !== undefined, 'the supervisor listens for SIGINT');
      forward('SIGINT');
      const cell = new Int32Array(new SharedArrayBuffer(4));
      const since = Date.now();
      while ((stateOf(worker!.pid!) !== 'Z' || Date.now() - since < 300) && Date.now() - since < 20_000) Atomics.wait(cell, 0, 0, 5);
      assert.equal(stateOf(worker!.pid!), 'Z', 'the worker exited while this loop was held');
      assert.deepEqual(await ending, { code: 130 });
      assert.deepEqual(lines, []);
    } finally {
      worker?.kill('SIGKILL');
    }
  });

  // A main thread gone while others live counts as held only after HELD_MS (rel75): a
  // thread finishing its work ends within it, one a file system holds does not. Neither
  // side of that rule was reached by a test (review76): each broken alone in dist passed.
  describe('a worker whose main thread has gone while another thread lives', { skip: PYTHON === undefined ? 'needs /usr/bin/python3 for the worker' : false }, () => {
    const supervised = async (seconds: number): Promise<{ ending: unknown; lines: string[] }> => {
      const before = new Set(process.listeners('SIGINT'));
      let worker: ChildProcess | undefined;
      const start = (_argv: readonly string[], env: NodeJS.ProcessEnv): ChildProcess =>
        (worker = spawn(PYTHON!, [fixture('main-thread-exits.py'), String(seconds)], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'], detached: true, env }));
      const lines: string[] = [];
      const ending = superviseCommand([], 'lavarank test', (line) => lines.push(line), start);
      try {
        await until('the worker\'s main thread gone', () => (stateOf(worker!.pid!) === 'Z' ? true : undefined), 20_000);
        const forward = process.listeners('SIGINT').find((l) => !before.has(l));
        assert.ok(forward !== undefined, 'the supervisor listens for SIGINT');
        forward('SIGINT');
        return { ending: await ending, lines };
      } finally {
        worker?.kill('SIGKILL');
      }
    };

    it('ends with the status its last thread exits with, soon after', async () => {
      const { ending, lines } = await supervised(0.5);
      assert.deepEqual(ending, { code: 3 });
      assert.deepEqual(lines, []);
    });

    it('is taken as held once that lasts, and ended as the signal forwarded', async () => {
      const { ending } = await supervised(60);
      assert.deepEqual(ending, { code: 130, signal: 'SIGINT' });
    });
  });

  // A user's FIFO, or their FUSE server that reads and never answers, where a command
  // opens a file held `check`, `once`, `explain` and `calibrate --summary` for good where
  // nobody was at the terminal to press Ctrl-C (pdsh, a configuration tool; hostile25).
  describe('with a limit on one file-system call', () => {
    const supervised = async (command: string, args: string[], limitMs: number): Promise<{ ending: unknown; lines: string[]; worker: ChildProcess }> => {
      let worker: ChildProcess | undefined;
      const start = (_argv: readonly string[], env: NodeJS.ProcessEnv): ChildProcess =>
        (worker = spawn(command, args, { stdio: ['ignore', 'ignore', 'inherit', 'ipc'], detached: true, env }));
      const lines: string[] = [];
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<string>((resolve) => (timer = setTimeout(() => resolve('still running 20 s after its start'), 20_000)));
      try {
        const ending = await Promise.race([superviseCommand([], 'lavarank test', (line) => lines.push(line), start, limitMs), late]);
        return { ending, lines, worker: worker! };
      } finally {
        clearTimeout(timer);
        worker?.kill('SIGKILL');
      }
    };

    it('names a call held past the limit, stops the command and ends with 1', async () => {
      const { dir, cleanup } = tempDir();
      try {
        const fifo = join(dir, 'lsf.shared');
        mkfifo(fifo);
        const { ending, lines } = await supervised('cat', [fifo], 1000);
        assert.deepEqual(ending, { code: 1 });
        assert.equal(lines.length, 1, lines.join('\n'));
        assert.equal(lines[0], `lavarank test: gave up after 1 s in openat ${fifo} (a file system that does not answer, or a FIFO nobody writes?); stopping it`);
      } finally {
        cleanup();
      }
    });

    // One 'drip' mount serves both readers of a slow file system: it holds no state (every
    // name a 64 KiB file, each read answered 250 ms late), so neither case sees the other's.
    describe('on a slow FUSE file system', { skip: process.getuid?.() !== 0 || !existsSync('/dev/fuse') ? 'needs root and /dev/fuse' : false }, () => {
      let server: ChildProcess | undefined;
      // Registered before the directory's removal, as node:test runs after hooks in the
      // order they were added: the directory cannot go while it is mounted (EBUSY).
      after(() => unmountFuse(server, mount));
      const mount = join(fileDir(), 'mnt');
      before(async () => {
        mkdirSync(mount);
        server = await fuseHangOver(mount, 'drip');
      });

      // A read of a large file on a slow disk is in a read at nearly every look; the
      // file position that moves between looks tells it from a read a server holds.
      it('leaves a command reading a slow file system that answers every read, past the limit', async () => {
        const { ending, lines } = await supervised('cat', [join(mount, 'lsb.acct')], 1000);
        assert.deepEqual(lines, []);
        assert.deepEqual(ending, { code: 0 });
      });

      // A pread moves no file position (Node's streams read by position), so the old rule,
      // the position, took such a reader of a slow disk for held (hostile26).
      it('leaves a command reading a slow file system by position (pread) that answers every read, past the limit', { skip: PYTHON === undefined ? 'needs python3' : false }, async () => {
        const preads = 'import os, sys\nfd = os.open(sys.argv[1], os.O_RDONLY)\noff = 0\nwhile True:\n    b = os.pread(fd, 4096, off)\n    if not b: break\n    off += len(b)\n';
        const { ending, lines } = await supervised(PYTHON!, ['-c', preads, join(mount, 'lsb.acct')], 1000);
        assert.deepEqual(lines, []);
        assert.deepEqual(ending, { code: 0 });
      });
    });

    // A FIFO's read moves no file position either: `simulate --acct <(ssh host cat …)`
    // fed slowly was ended at the limit by a synchronous read, not by Node's (hostile26).
    it('leaves a command reading a FIFO its writer feeds a byte at a time, past the limit', async (t) => {
      const dir = testDir(t);
      const fifo = join(dir, 'acct');
      mkfifo(fifo);
      const writer = createWriteStream(fifo);
      let sent = 0;
      const feed = setInterval(() => {
        if (++sent <= 12) writer.write('x');
        else {
          clearInterval(feed);
          writer.end();
        }
      }, 200);
      try {
        const { ending, lines } = await supervised('cat', [fifo], 1000);
        assert.deepEqual(lines, []);
        assert.deepEqual(ending, { code: 0 });
      } finally {
        clearInterval(feed);
        writer.destroy();
      }
    });

    // The descriptor's path is no part of a held call's identity: whoever owns a
    // directory above the file (their FUSE mount point's, their FIFO's) renamed it to a
    // new name every 200 ms, so that each look read a new path from /proc/PID/fd, took a
    // new call and never a held one, and the command waited for good (hostile27).
    it('names a read held past the limit though its owner renames a directory above the file at every look', async () => {
      const { dir, cleanup } = tempDir();
      let at = join(dir, 'n0');
      mkdirSync(at);
      mkfifo(join(at, 'acct'));
      const writer = createWriteStream(join(at, 'acct')); // opened, never written: the reader waits in read
      let renamed = 0;
      const renames = setInterval(() => {
        const to = join(dir, `n${++renamed}`);
        renameSync(at, to);
        at = to;
      }, 200);
      try {
        const { ending, lines } = await supervised('cat', [join(at, 'acct')], 1000);
        assert.deepEqual(ending, { code: 1 });
        assert.equal(lines.length, 1, lines.join('\n'));
        assert.match(lines[0]!, /^lavarank test: gave up after 1 s in read \/.*\/n\d+\/acct \(/);
      } finally {
        clearInterval(renames);
        writer.destroy();
        cleanup();
      }
    });

    // A command with its own stop handler (retrain, calibrate's run) left its stdout open
    // where a file system held one of its threads: `retrain … | tail` waited for the
    // server, 808 s, after this parent had said it was exiting (hostile27).
    it("closes a held command's output before leaving it, where the command has its own stop handler", { skip: process.getuid?.() !== 0 || !existsSync('/dev/fuse') ? 'needs root and /dev/fuse' : false }, async () => {
      const { dir, cleanup } = tempDir();
      const mount = join(dir, 'mnt');
      mkdirSync(mount);
      const server = await fuseHangOver(mount, 'none');
      const program = [
        `import { isSupervisedWorker } from ${JSON.stringify(new URL('../../src/util/supervise.js', import.meta.url).href)};`,
        `import { readFile } from 'node:fs';`,
        'isSupervisedWorker();',
        "process.on('SIGTERM', () => process.stdout.write('stopping\\n'));",
        `readFile(${JSON.stringify(join(mount, 'lsb.acct'))}, () => undefined);`,
      ].join('\n');
      let worker: ChildProcess | undefined;
      const start = (_argv: readonly string[], env: NodeJS.ProcessEnv): ChildProcess =>
        (worker = spawn(process.execPath, ['--input-type=module', '-e', program], { stdio: ['ignore', 'pipe', 'inherit', 'ipc'], detached: true, env }));
      try {
        const lines: string[] = [];
        const ending = await superviseCommand([], 'lavarank test', (line) => lines.push(line), start, 1000);
        assert.deepEqual(ending, { code: 1 });
        assert.match(lines.join('\n'), /gave up after 1 s in openat /);
        const out = worker!.stdout!;
        const closedWithin = await Promise.race([
          new Promise<boolean>((resolve) => (out.readableEnded ? resolve(true) : out.on('end', () => resolve(true)).resume())),
          sleep(5000).then(() => false),
        ]);
        assert.ok(closedWithin, "the held command's stdout is still open 5 s after its parent ended");
      } finally {
        await unmountFuse(server, mount);
        cleanup();
      }
    });

    // The wall clock stepped forward (an NTP step at boot, `date -s`) is no time held:
    // an open of a FIFO its writer opens 2.5 s later runs to its end under a 4 s limit.
    it('counts the time a call is held on the monotonic clock, not the wall clock that jumps', async (t) => {
      const dir = testDir(t);
      const realNow = Date.now;
      const timers: NodeJS.Timeout[] = [];
      try {
        const fifo = join(dir, 'lsb.acct');
        mkfifo(fifo);
        timers.push(setTimeout(() => (Date.now = () => realNow() + 3_600_000), 1500));
        timers.push(setTimeout(() => void open(fifo, 'w').then((h) => h.close()), 2500));
        const { ending, lines } = await supervised('cat', [fifo], 4000);
        assert.deepEqual(lines, []);
        assert.deepEqual(ending, { code: 0 });
      } finally {
        Date.now = realNow;
        for (const t of timers) clearTimeout(t);
      }
    });

    it('leaves a command that runs past the limit outside any file-system call', async () => {
      const { ending, lines } = await supervised('sleep', ['2.5'], 1000);
      assert.deepEqual(ending, { code: 0 });
      assert.deepEqual(lines, []);
    });
  });

  // Ctrl-Z, then `kill -9 %1`: the worker, stopped by SIGSTOP in a session of its own,
  // stayed stopped for good under init (the administrator's leftovers, stop 74).
  it('ends its command when the parent is killed while the job is stopped (Ctrl-Z, then kill -9 %1)', async () => {
    const run = await startReadingFifo([cliPath, 'simulate', '--acct', '/dev/fd/0'], { PATH: process.env['PATH'] ?? '/usr/bin:/bin' });
    try {
      run.child.kill('SIGTSTP');
      await until('the supervising parent stopped', () => (stateOf(run.child.pid!) === 'T' ? true : undefined), 20_000);
      await new Promise((r) => setTimeout(r, 500));
      run.child.kill('SIGKILL');
      await until('the command gone', () => (isAlive(run.reader) ? undefined : true), 20_000);
    } finally {
      try {
        process.kill(run.reader, 'SIGKILL'); // left stopped by a build without the fix
      } catch {
        // gone, as it should be
      }
      run.cleanup();
    }
  });
});

// A process's state letter from /proc (T: stopped), or '' once it is gone.
function stateOf(pid: number): string {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'latin1');
    return text.slice(text.lastIndexOf(')') + 2).charAt(0);
  } catch {
    return '';
  }
}

// Whether pid's main thread is held in a futex wait (the worker's wait while its parent
// is stopped; the event loop waits in epoll instead), by its system call's number.
function heldInFutex(pid: number): boolean {
  const futex = process.arch === 'arm64' ? 98 : 202;
  try {
    return readFileSync(`/proc/${pid}/syscall`, 'latin1').split(' ', 1)[0] === String(futex);
  } catch {
    return false;
  }
}
