import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs, { chmodSync, chownSync, mkdirSync, readFileSync, readdirSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import fsp from 'node:fs/promises';
import { syncBuiltinESMExports } from 'node:module';
import { join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { UnsyncedRename, replaceFileAsync, tempFileName, tempFilePid, writeFileAtomic } from '../../src/util/atomic-file.js';
import { failDirectorySync, mkfifo, tempDir, testDir } from '../helpers.js';

describe('writeFileAtomic', () => {
  it('writes nothing through a link planted at its temp file\'s name, and refuses', (t) => {
    const dir = testDir(t);
    const { victim } = plantedAtTempName(t, dir, 'm.json');
    assert.throws(() => writeFileAtomic(join(dir, 'm.json'), 'new text\n'), (err: unknown) => (err as NodeJS.ErrnoException).code === 'EEXIST');
    assert.equal(readFileSync(victim, 'utf8'), 'untouched\n');
    assert.equal(statSync(victim).mode & 0o777, 0o600);
  });

  it('removes its temp file when the write fails (fsync: EIO) and throws that error', (t) => {
    const dir = testDir(t);
    t.mock.method(fs, 'fsyncSync', () => {
      throw Object.assign(new Error('EIO: i/o error, fsync'), { code: 'EIO' });
    });
    syncBuiltinESMExports();
    t.after(() => {
      t.mock.restoreAll();
      syncBuiltinESMExports();
    });
    const path = join(dir, 'm.json');
    writeFileSync(path, 'old');
    assert.throws(() => writeFileAtomic(path, 'new text\n'), (err: unknown) => (err as NodeJS.ErrnoException).code === 'EIO');
    assert.deepEqual(readdirSync(dir), ['m.json']);
    assert.equal(readFileSync(path, 'utf8'), 'old');
  });

  it('replaces a file with mode 0644 whatever the umask, leaving no temp file', () => {
    const t = tempDir();
    const old = process.umask(0o077);
    try {
      const path = join(t.dir, 'm.json');
      writeFileSync(path, 'old');
      writeFileAtomic(path, 'new text\n');
      assert.equal(readFileSync(path, 'utf8'), 'new text\n');
      assert.equal(statSync(path).mode & 0o777, 0o644);
      assert.deepEqual(readdirSync(t.dir), ['m.json']);
    } finally {
      process.umask(old);
      t.cleanup();
    }
  });

  it('throws when the target cannot be replaced and removes its temp file', () => {
    const t = tempDir();
    try {
      const target = join(t.dir, 'target');
      mkdirSync(target);
      writeFileSync(join(target, 'inside'), 'kept');
      // rename(2) of a file over a directory fails (EISDIR).
      assert.throws(() => writeFileAtomic(target, 'text'), (err: unknown) => (err as NodeJS.ErrnoException).code === 'EISDIR');
      assert.deepEqual(readdirSync(t.dir), ['target']);
      assert.equal(readFileSync(join(target, 'inside'), 'utf8'), 'kept');
    } finally {
      t.cleanup();
    }
  });

  it('syncs the directory it wrote in, held open: a link to a FIFO put in the directory\'s place after the rename is never opened', (t) => {
    const dir = testDir(t);
    const theirs = join(dir, 'theirs');
    mkdirSync(theirs);
    const fifo = join(dir, 'fifo');
    mkfifo(fifo);
    // Held open for writing, so that an open for reading returns instead of waiting for a writer.
    const writer = fs.openSync(fifo, fs.constants.O_RDWR);
    t.after(() => fs.closeSync(writer));
    // The directory swapped for a link to a FIFO as soon as the rename is done.
    const realRename = fs.renameSync;
    t.mock.method(fs, 'renameSync', (from: fs.PathLike, to: fs.PathLike) => {
      realRename(from, to);
      realRename(theirs, join(dir, 'moved'));
      symlinkSync(fifo, theirs);
    });
    syncBuiltinESMExports();
    t.after(() => {
      t.mock.restoreAll();
      syncBuiltinESMExports();
    });
    writeFileAtomic(join(theirs, 'report.html'), 'text\n');
    assert.equal(readFileSync(join(dir, 'moved', 'report.html'), 'utf8'), 'text\n');
  });

  // EIO from the directory's fsync after the rename (injected with strace on a real
  // retrain): the new file is in place, and a caller must not say it is unwritten.
  it('throws UnsyncedRename, the new file in place, when the directory cannot be synced after the rename', (t) => {
    const dir = testDir(t);
    const path = join(dir, 'report.txt');
    writeFileSync(path, 'old\n');
    t.after(failDirectorySync());
    assert.throws(
      () => writeFileAtomic(path, 'new\n'),
      (err: unknown) => err instanceof UnsyncedRename && err.path === path && (err.cause as NodeJS.ErrnoException).code === 'EIO' && /EIO \(i\/o error\)/.test(err.message),
    );
    assert.equal(readFileSync(path, 'utf8'), 'new\n');
    assert.deepEqual(readdirSync(dir), ['report.txt']);
  });

  // A fresh install's wrapper, a first --html: 'was replaced ... undo the replacement'
  // named a file that had never been there.
  it('says of a new file whose directory cannot be synced that it was written, not that it replaced one', (t) => {
    const dir = testDir(t);
    const path = join(dir, 'report.txt');
    t.after(failDirectorySync());
    assert.throws(() => writeFileAtomic(path, 'new\n'), {
      message: `${path} was written, but its directory ${dir} could not be synced: EIO (i/o error); after a crash ${path} may be as it was before`,
    });
    assert.equal(readFileSync(path, 'utf8'), 'new\n');
  });

  it('refuses a directory another user owns, and leaves nothing in a directory of root\'s they swap in for it by a link', { skip: process.getuid?.() === 0 ? false : 'needs root to act as another user' }, async (t) => {
    const dir = testDir(t);
    chmodSync(dir, 0o755);
    // retrain --report ~oltest/out/report.txt, run as root: oltest swaps out for their link.
    const home = join(dir, 'home');
    const out = join(home, 'out');
    const victim = join(dir, 'victim');
    mkdirSync(out, { recursive: true });
    chownSync(home, USER, USER);
    chownSync(out, USER, USER);
    mkdirSync(victim, { mode: 0o700 });
    await swapping(t, out, victim);
    let written = 0;
    let theirs = 0;
    for (let i = 0; i < WRITES; i++) {
      try {
        writeFileAtomic(join(out, 'report.txt'), 'quoted lines\n', 0o640);
        written++;
      } catch (err) {
        if (String((err as Error).message).includes(`owned by uid ${USER}`)) theirs++; // else nothing was at the name
      }
    }
    await stopSwapping(t);
    assert.equal(written, 0);
    assert.equal(theirs > 0, true);
    assert.deepEqual(readdirSync(victim), []);
    assert.deepEqual(litter(out), []);
  });

  it('leaves no temp file and writes nothing in root\'s directory when a member of the log group swaps the directory below theirs for a link', { skip: process.getuid?.() === 0 ? false : 'needs root to act as another user' }, async (t) => {
    const dir = testDir(t);
    chmodSync(dir, 0o755);
    // A report in /var/log/lavarank, Ubuntu's /var/log root:syslog 0775, oltest in that group.
    const logs = join(dir, 'logs');
    const out = join(logs, 'out');
    const victim = join(dir, 'victim');
    mkdirSync(out, { recursive: true });
    chownSync(logs, 0, USER);
    chmodSync(logs, 0o775);
    mkdirSync(victim, { mode: 0o700 });
    await swapping(t, out, victim);
    let written = 0;
    // WRITES tries at least, and on until one passes between two swaps (at most ten times
    // as many): under load all 2000 once fell inside the swapper's window (CI, stop 78).
    for (let i = 0; i < WRITES * 10 && (i < WRITES || written === 0); i++) {
      try {
        writeFileAtomic(join(out, 'report.txt'), 'quoted lines\n', 0o640, { logGroup: USER });
        written++;
      } catch {
        // refused: their link was in place, or nothing was
      }
    }
    await stopSwapping(t);
    assert.deepEqual(readdirSync(victim), []);
    assert.deepEqual(litter(out), []);
    assert.equal(written > 0, true, 'the directory itself passes between swaps');
  });
  // simulate --html run by oltest into their project's 2775 directory was refused, told
  // to make it root's: another user's swap can only send a user's own file where that
  // user may write, so the refusal is root's alone.
  it('writes, for a caller other than root, in their own group-writable directory, which only root is refused', { skip: process.getuid?.() === 0 ? false : 'needs root to act as another user' }, (t) => {
    const dir = testDir(t);
    chmodSync(dir, 0o755);
    const shared = join(dir, 'shared');
    mkdirSync(shared);
    chownSync(shared, USER, 65534);
    chmodSync(shared, 0o2775);
    const path = join(shared, 'out.html');
    const module = new URL('../../src/util/atomic-file.js', import.meta.url).href;
    const script = `const m = await import(process.argv[1]); const p = process.argv[2]; console.log(JSON.stringify(await m.outputDirectoryProblemsAsync(p))); m.writeFileAtomic(p, 'report\\n');`;
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script, module, path], { uid: USER, gid: USER, encoding: 'utf8' });
    assert.equal(r.stderr, '');
    assert.equal(r.stdout, '[]\n');
    assert.equal(readFileSync(path, 'utf8'), 'report\n');
    assert.equal(statSync(path).uid, USER);
    assert.throws(() => writeFileAtomic(path, 'root\'s\n'), /has mode 2775, writable by group or others/);
  });

  it('gives the file its writer\'s group, not a setgid directory\'s, so a 0640 file stays the writer\'s to read', { skip: process.getuid?.() === 0 ? false : 'needs root to chown' }, () => {
    const t = tempDir();
    try {
      const shared = join(t.dir, 'shared');
      mkdirSync(shared);
      chownSync(shared, 0, 65534);
      chmodSync(shared, 0o2755);
      const path = join(shared, 'report.html');
      writeFileAtomic(path, 'quoted lines\n', 0o640);
      assert.equal(statSync(path).gid, process.getegid!());
      assert.equal(statSync(path).mode & 0o777, 0o640);
    } finally {
      t.cleanup();
    }
  });

  it('gives a member of a setgid directory\'s group no moment in which to open the temp file of a 0640 file', { skip: process.getuid?.() === 0 ? false : 'needs root to act as another user' }, () => {
    const t = tempDir();
    const realOpen = fs.openSync;
    try {
      chmodSync(t.dir, 0o755);
      const shared = join(t.dir, 'shared');
      mkdirSync(shared);
      chownSync(shared, 0, 65534);
      chmodSync(shared, 0o2755);
      // Right after the temp file is created, a process of the directory's group tries
      // to open it: a descriptor it gets then reads whatever is written afterwards.
      const readable: boolean[] = [];
      fs.openSync = ((path: fs.PathLike, flags: fs.OpenMode, mode?: fs.Mode | null): number => {
        const fd = realOpen(path, flags, mode);
        if (!String(path).endsWith('.tmp')) return fd; // the directory, held
        const r = spawnSync('/bin/sh', ['-c', 'exec 3< "$0"', String(path)], { uid: 65534, gid: 65534 });
        readable.push(r.status === 0);
        return fd;
      }) as typeof fs.openSync;
      syncBuiltinESMExports();
      writeFileAtomic(join(shared, 'report.html'), 'quoted lines\n', 0o640);
      assert.deepEqual(readable.slice(0, 1), [false]);
    } finally {
      fs.openSync = realOpen;
      syncBuiltinESMExports();
      t.cleanup();
    }
  });
});

// The user the swapping child runs as (oltest on the audit's VM), and the writes tried against it.
const USER = 1003;
const WRITES = 2000;

// Starts USER's child that, until the test ends, moves dir away, puts their link to
// victim at its name, and puts dir back; resolves once it has swapped once.
async function swapping(t: TestContext, dir: string, victim: string): Promise<void> {
  const away = `${dir}.away`;
  const script = `const fs = require('fs'); const [d, a, v] = process.argv.slice(1); for (let n = 0; ; n++) { fs.renameSync(d, a); fs.symlinkSync(v, d); if (n === 0) process.stdout.write('swapping\\n'); fs.unlinkSync(d); fs.renameSync(a, d); }`;
  const child = spawn(process.execPath, ['-e', script, dir, away, victim], { uid: USER, gid: USER, stdio: ['ignore', 'pipe', 'ignore'] });
  swappers.set(t, { child, dir, away });
  t.after(() => stopSwapping(t));
  await new Promise<void>((resolve, reject) => {
    child.stdout.once('data', () => resolve());
    child.once('exit', (code) => reject(new Error(`the swapping child exited (${code}) before swapping`)));
  });
}

const swappers = new Map<TestContext, { child: ChildProcess; dir: string; away: string }>();

// Ends the child of swapping and puts the directory back at its name.
async function stopSwapping(t: TestContext): Promise<void> {
  const s = swappers.get(t);
  if (s === undefined) return;
  swappers.delete(t);
  if (s.child.exitCode === null) {
    const exited = new Promise((resolve) => s.child.once('exit', resolve));
    s.child.kill('SIGKILL');
    await exited;
  }
  if (fs.existsSync(s.away)) {
    fs.rmSync(s.dir, { force: true });
    fs.renameSync(s.away, s.dir);
  }
}

// The temp files of writeFileAtomic left in dir.
function litter(dir: string): string[] {
  return readdirSync(dir).filter((name) => name.endsWith('.tmp'));
}

// Has fs/promises' open hand out handles whose close fails after closing, as on NFS,
// and whose writeFile fails first when writeFails; undone by the returned function.
function closeFailsOnNfs(writeFails: boolean): () => void {
  const realOpen = fsp.open;
  fsp.open = (async (...args: Parameters<typeof fsp.open>) => {
    const handle = await realOpen(...args);
    const realClose = handle.close.bind(handle);
    handle.close = async () => {
      await realClose();
      throw Object.assign(new Error('EDQUOT: disk quota exceeded, close'), { code: 'EDQUOT' });
    };
    if (writeFails) handle.writeFile = async () => Promise.reject(Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' }));
    return handle;
  }) as typeof fsp.open;
  syncBuiltinESMExports();
  return () => {
    fsp.open = realOpen;
    syncBuiltinESMExports();
  };
}

// The temp file name each writer would use next, with the clock and the random digits held
// still (as if someone had guessed them), and a link of someone else's already there (in a
// sticky directory such as /tmp they can make it).
function plantedAtTempName(t: TestContext, dir: string, name: string): { victim: string } {
  t.mock.method(Date, 'now', () => 1_700_000_000_000);
  // Zeros from /dev/urandom (char device 1:9) alone; every other read as it is.
  const realRead = fs.readSync;
  t.mock.method(fs, 'readSync', ((fd: number, buffer: Buffer, ...rest: unknown[]) => {
    const st = fs.fstatSync(fd);
    if (st.isCharacterDevice() && st.rdev === 0x109) {
      const [offset, length] = rest as [number, number];
      buffer.fill(0, offset, offset + length);
      return length;
    }
    return (realRead as (...a: unknown[]) => number)(fd, buffer, ...rest);
  }) as typeof fs.readSync);
  syncBuiltinESMExports();
  t.after(() => {
    t.mock.restoreAll();
    syncBuiltinESMExports();
  });
  const victim = join(dir, 'victim');
  writeFileSync(victim, 'untouched\n', { mode: 0o600 });
  symlinkSync(victim, join(dir, `.${name}.${process.pid}.${(1_700_000_000_000).toString(36)}00000000.tmp`));
  return { victim };
}

// Every name the temp file of name would have had in the next `ms` milliseconds without its
// random digits, made first as a user can in a sticky directory.
function squatTempNames(dir: string, name: string, ms: number): void {
  const now = Date.now();
  for (let at = now - 10; at < now + ms; at++) writeFileSync(join(dir, `.${name}.${process.pid}.${at.toString(36)}.tmp`), '');
}

describe('replaceFileAsync', () => {
  it('writes although another user made first every temp name of the clock\'s next seconds', async () => {
    const { dir, cleanup } = tempDir();
    try {
      const path = join(dir, 'lavarank.prom');
      squatTempNames(dir, 'lavarank.prom', 3000);
      squatTempNames(dir, 'report.html', 3000);
      await replaceFileAsync(path, 'new\n');
      assert.equal(readFileSync(path, 'utf8'), 'new\n');
      writeFileAtomic(join(dir, 'report.html'), 'text\n');
      assert.equal(readFileSync(join(dir, 'report.html'), 'utf8'), 'text\n');
    } finally {
      cleanup();
    }
  });

  it('replaces a file with mode 0644 whatever the umask, leaving no temp file', async (t) => {
    const dir = testDir(t);
    const old = process.umask(0o077);
    try {
      const path = join(dir, 'lavarank.prom');
      await replaceFileAsync(path, 'new\n');
      assert.equal(readFileSync(path, 'utf8'), 'new\n');
      assert.equal(statSync(path).mode & 0o777, 0o644);
      assert.deepEqual(readdirSync(dir), ['lavarank.prom']);
    } finally {
      process.umask(old);
    }
  });

  it('writes nothing through a link planted at its temp file\'s name, and refuses', async (t) => {
    const dir = testDir(t);
    const { victim } = plantedAtTempName(t, dir, 'lavarank.prom');
    await assert.rejects(replaceFileAsync(join(dir, 'lavarank.prom'), 'new\n'), (err: unknown) => (err as NodeJS.ErrnoException).code === 'EEXIST');
    assert.equal(readFileSync(victim, 'utf8'), 'untouched\n');
    assert.equal(statSync(victim).mode & 0o777, 0o600);
  });

  it('removes its temp file when closing it fails, as on NFS, where a write\'s EDQUOT or EIO first shows at close', async () => {
    const t = tempDir();
    const undo = closeFailsOnNfs(false);
    try {
      const path = join(t.dir, 'lavarank.prom');
      writeFileSync(path, 'old\n');
      await assert.rejects(replaceFileAsync(path, 'new\n'), (err: unknown) => (err as NodeJS.ErrnoException).code === 'EDQUOT');
      assert.deepEqual(readdirSync(t.dir), ['lavarank.prom']);
      assert.equal(readFileSync(path, 'utf8'), 'old\n');
    } finally {
      undo();
      t.cleanup();
    }
  });

  it('removes its temp file when the write fails and closing it fails too, and throws the write\'s error', async () => {
    const t = tempDir();
    const undo = closeFailsOnNfs(true);
    try {
      const path = join(t.dir, 'lavarank.prom');
      await assert.rejects(replaceFileAsync(path, 'new\n'), (err: unknown) => (err as NodeJS.ErrnoException).code === 'ENOSPC');
      assert.deepEqual(readdirSync(t.dir), []);
    } finally {
      undo();
      t.cleanup();
    }
  });
});

describe('tempFilePid', () => {
  it("finds the pid in this process's temp file names and in retrain's copy's, and in no other name", () => {
    assert.equal(tempFilePid(tempFileName('lavarank.prom'), 'lavarank.prom'), process.pid);
    assert.equal(tempFilePid('.model.json.previous.4242.tmp', 'model.json.previous'), 4242);
    for (const entry of ['.model.json.previous.4242.tmp', '.lavarank.prom.4242.x.y.tmp', '.lavarank.prom.04242.mbbq3k2x.tmp', '.lavarank.prom.4242.MBBQ.tmp', 'lavarank.prom.4242.mbbq3k2x.tmp', '.lavarank.prom.4242.mbbq3k2x.tmp~', '.lavarank.prom.12345678901.mbbq3k2x.tmp']) {
      assert.equal(tempFilePid(entry, entry.includes('model') ? 'model.json' : 'lavarank.prom'), undefined, entry);
    }
  });
});

describe('tempFileName without /dev/urandom', () => {
  it('takes its random digits from Web Crypto where /dev/urandom cannot be opened (a chroot without it)', () => {
    // A child, so that the module's kept descriptor starts unset: /dev/urandom's open refused
    // there, every other open as it is.
    const moduleUrl = new URL('../../src/util/atomic-file.js', import.meta.url).href;
    const script = `
      import fs from 'node:fs';
      import { syncBuiltinESMExports } from 'node:module';
      const realOpen = fs.openSync;
      fs.openSync = (path, ...rest) => {
        if (path === '/dev/urandom') throw Object.assign(new Error("ENOENT: no such file or directory, open '/dev/urandom'"), { code: 'ENOENT' });
        return realOpen(path, ...rest);
      };
      syncBuiltinESMExports();
      const { tempFileName } = await import(${JSON.stringify(moduleUrl)});
      process.stdout.write(JSON.stringify([tempFileName('x'), tempFileName('x'), tempFileName('x')]));
    `;
    const child = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
    assert.equal(child.status, 0, child.stderr);
    const names = JSON.parse(child.stdout) as string[];
    for (const name of names) assert.match(name, /^\.x\.\d+\.[0-9a-z]+[0-9a-f]{8}\.tmp$/);
    assert.equal(new Set(names.map((name) => name.slice(-12, -4))).size, 3, names.join(' '));
  });
});
