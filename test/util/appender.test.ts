import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, chownSync, closeSync, lchownSync, constants, copyFileSync, existsSync, fstatSync, linkSync, mkdirSync, openSync, readFileSync, readSync, readdirSync, renameSync, rmSync, statSync, symlinkSync, truncateSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import fsp from 'node:fs/promises';
import { syncBuiltinESMExports } from 'node:module';
import { describe, it, mock } from 'node:test';
import { makeDir, makeDirSync, OPEN_FLAGS, RotatingAppender, type TroubleEvent } from '../../src/util/appender.js';
import { exitHolds } from '../../src/util/exit.js';
import { atLstatAnswer, mkfifo, tempDir, testDir, until } from '../helpers.js';

// Waits until the appender has failed at least n times: its open reaches the directory
// with an asynchronous stat first, so a failure comes a pool round trip after the append.
async function failedAtLeast(a: RotatingAppender, n: number): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (a.stats.failures < n) {
    if (Date.now() > deadline) throw new Error(`the appender failed ${a.stats.failures} times, not ${n}, within 10 s`);
    await new Promise((r) => setTimeout(r, 2));
  }
}

function lines(path: string): string[] {
  return readFileSync(path, 'utf8').split('\n').filter((l) => l !== '');
}

// Mounts a tmpfs of the given size on a new directory; undefined when not permitted.
function smallDisk(dir: string, bytes: number): { path: string; unmount: () => void } | undefined {
  const path = join(dir, 'disk');
  mkdirSync(path);
  const r = spawnSync('mount', ['-t', 'tmpfs', '-o', `size=${bytes}`, 'tmpfs', path]);
  if (r.status !== 0) return undefined;
  return { path, unmount: () => void spawnSync('umount', ['-l', path]) };
}

const canMount = (() => {
  const { dir, cleanup } = tempDir();
  try {
    const d = smallDisk(dir, 65536);
    d?.unmount();
    return d !== undefined;
  } finally {
    cleanup();
  }
})();

describe('RotatingAppender', () => {
  it('refuses a FIFO planted at its path without waiting for a reader, and says why', async (t) => {
    const dir = testDir(t);
    const path = join(dir, 'h.jsonl');
    mkfifo(path);
    try {
      const troubles: string[] = [];
      const a = new RotatingAppender({ path, maxBytes: 1 << 20, keep: 2, retryMs: 60_000, onTrouble: (e) => troubles.push(e.state === 'failing' ? String(e.error) : e.state) });
      a.append('{"i":0}');
      await a.close(1000);
      assert.equal(a.stats.linesWritten, 0);
      assert.match(troubles[0] ?? '', /ENXIO|not a regular file/);
    } finally {
      // Opening the read end lets an open that waits for one (the bug) return, so the file can end.
      closeSync(openSync(path, constants.O_RDONLY | constants.O_NONBLOCK));
    }
  });

  it('appends nothing to a file hard-linked at its path (a root file, where fs.protected_hardlinks is 0)', async () => {
    const { dir, cleanup } = tempDir();
    try {
      const victim = join(dir, 'victim');
      writeFileSync(victim, 'untouched\n', { mode: 0o600 });
      const path = join(dir, 'h.jsonl');
      linkSync(victim, path);
      const troubles: string[] = [];
      const a = new RotatingAppender({ path, maxBytes: 1 << 20, keep: 2, retryMs: 60_000, onTrouble: (e) => troubles.push(e.state === 'failing' ? String(e.error) : e.state) });
      a.append('{"i":0}');
      a.writeNow('last words');
      await a.close(1000);
      assert.match(troubles[0] ?? '', /has 2 hard links/);
      assert.equal(readFileSync(victim, 'utf8'), 'untouched\n');
    } finally {
      cleanup();
    }
  });

  it('writes nothing to a file another user made at its path first, as in /tmp, where they would read every line', { skip: process.getuid?.() === 0 ? false : 'needs root to chown' }, async () => {
    const { dir, cleanup } = tempDir();
    try {
      const path = join(dir, 'h.jsonl');
      writeFileSync(path, '', { mode: 0o666 });
      chownSync(path, 65534, 65534);
      const troubles: string[] = [];
      const a = new RotatingAppender({ path, maxBytes: 1 << 20, keep: 2, retryMs: 60_000, onTrouble: (e) => troubles.push(e.state === 'failing' ? String(e.error) : e.state) });
      a.append('{"secret":1}');
      a.writeNow('last words');
      await a.close(1000);
      assert.match(troubles[0] ?? '', /is owned by uid 65534 \(remove it, or chown root it\); lavarank appends .* only to a regular file of one link that it owns/);
      assert.equal(readFileSync(path, 'utf8'), '');
    } finally {
      cleanup();
    }
  });

  it('appends nothing through a symbolic link planted at its path (in /tmp, to a file of root\'s), by writeNow either', async () => {
    const { dir, cleanup } = tempDir();
    try {
      const victim = join(dir, 'victim');
      writeFileSync(victim, 'untouched\n', { mode: 0o600 });
      const path = join(dir, 'h.jsonl');
      symlinkSync(victim, path);
      const troubles: string[] = [];
      const a = new RotatingAppender({ path, maxBytes: 1 << 20, keep: 2, retryMs: 60_000, onTrouble: (e) => troubles.push(e.state === 'failing' ? String(e.error) : e.state) });
      a.append('{"i":0}');
      await a.flush(1000);
      a.writeNow('last words');
      await a.close(1000);
      assert.match(troubles[0] ?? '', /h\.jsonl is not a regular file but a symbolic link of uid \d+;/);
      assert.equal(readFileSync(victim, 'utf8'), 'untouched\n');
    } finally {
      cleanup();
    }
  });

  it('opens its file in the directory it checked, not through a link of another user swapped in for that directory after the check', { skip: process.getuid?.() === 0 ? false : 'needs root to chown a link' }, async () => {
    const { dir, cleanup } = tempDir();
    try {
      // The log directory sits in one the syslog group may write (Ubuntu's /var/log):
      // a member renames it away and puts their link to a directory of root's there.
      const logs = join(dir, 'logs');
      const victim = join(dir, 'victim');
      mkdirSync(logs);
      mkdirSync(victim, { mode: 0o700 });
      const path = join(logs, 'x.log');
      let asked = 0;
      const directoryProblems = (): string[] => {
        if (++asked === 2) {
          // the check before the open has passed: now the swap
          renameSync(logs, join(dir, 'logs.moved'));
          symlinkSync(victim, logs);
          lchownSync(logs, 65534, 65534);
        }
        return [];
      };
      const a = new RotatingAppender({ path, maxBytes: 1 << 20, keep: 2, retryMs: 60_000, directoryProblems });
      a.append('{"i":0}');
      await a.close(1000);
      assert.equal(asked >= 2, true);
      assert.deepEqual(readdirSync(victim), []);
    } finally {
      cleanup();
    }
  });

  it('writeNow writes nothing where the directory check refuses the directory, and close counts even a single lost line', async () => {
    const { dir, cleanup } = tempDir();
    try {
      const path = join(dir, 'h.jsonl');
      const events: Array<{ state: string; lines?: number }> = [];
      const a = new RotatingAppender({
        path,
        maxBytes: 1 << 20,
        keep: 2,
        retryMs: 60_000,
        directoryProblems: () => ['log directory is writable by others'],
        onTrouble: (e) => events.push(e.state === 'lost' ? { state: e.state, lines: e.lines } : { state: e.state }),
      });
      a.writeNow('fatal');
      assert.equal(existsSync(path), false);
      a.append('{"i":0}');
      await a.close(200);
      assert.equal(existsSync(path), false);
      assert.deepEqual(events.at(-1), { state: 'lost', lines: 1 });
    } finally {
      cleanup();
    }
  });

  it('names another user\'s socket at its path in a sticky directory, where the open says only EACCES', { skip: process.getuid?.() === 0 ? false : 'needs root to chown the socket' }, async (t) => {
    const dir = testDir(t);
    const server = createServer();
    try {
      chmodSync(dir, 0o1777);
      const path = join(dir, 'h.jsonl');
      await new Promise<void>((resolve) => server.listen(path, resolve));
      lchownSync(path, 65534, 65534);
      const troubles: string[] = [];
      const a = new RotatingAppender({ path, maxBytes: 1 << 20, keep: 2, retryMs: 60_000, onTrouble: (e) => troubles.push(e.state === 'failing' ? String(e.error) : e.state) });
      a.append('{"i":0}');
      await a.close(1000);
      if (process.geteuid?.() !== 0) return t.skip('needs root, as the daemon runs');
      assert.equal(a.stats.linesWritten, 0);
      assert.match(troubles[0] ?? '', /h\.jsonl is not a regular file but a socket of uid 65534; /);
    } finally {
      server.close();
    }
  });

  it('writes nothing to a FIFO planted at its path that someone reads', async (t) => {
    const dir = testDir(t);
    const path = join(dir, 'h.jsonl');
    mkfifo(path);
    const reader = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
    try {
      const troubles: string[] = [];
      const a = new RotatingAppender({ path, maxBytes: 1 << 20, keep: 2, retryMs: 60_000, onTrouble: (e) => troubles.push(e.state === 'failing' ? String(e.error) : e.state) });
      a.append('{"secret":1}');
      a.writeNow('last words');
      await a.close(1000);
      assert.match(troubles[0] ?? '', /not a regular file/);
      assert.equal(readSync(reader, Buffer.alloc(64)), 0); // nothing was written to it, and no writer holds it
    } finally {
      closeSync(reader);
    }
  });

  it('appends lines in order, adding the newline', async () => {
    const { dir, cleanup } = tempDir();
    try {
      const a = new RotatingAppender({ path: join(dir, 'sub', 'h.jsonl'), maxBytes: 1 << 20, keep: 2 });
      for (let i = 0; i < 100; i++) a.append(`{"i":${i}}`);
      await a.close(1000);
      assert.deepEqual(lines(join(dir, 'sub', 'h.jsonl')), Array.from({ length: 100 }, (_, i) => `{"i":${i}}`));
      assert.equal(a.stats.linesWritten, 100);
    } finally {
      cleanup();
    }
  });

  // probeSpace (rel75) was reached only by faults/disk's full tmpfs, where a later probe
  // also ends the state: its reset at a write that succeeds passed every test removed (review76).
  it('probeSpace says failing where the file system has no free block, and a write that succeeds ends it', async (t) => {
    const dir = testDir(t);
    const statfs = mock.method(fsp, 'statfs', async () => ({ type: 0, bsize: 4096, blocks: 100, bfree: 0, bavail: 0, files: 10, ffree: 10 }));
    syncBuiltinESMExports();
    try {
      const a = new RotatingAppender({ path: join(dir, 'h.jsonl'), maxBytes: 1 << 20, keep: 2 });
      assert.equal(a.isFailing, false);
      a.probeSpace();
      await a.flush(1000);
      assert.equal(statfs.mock.callCount(), 1);
      assert.equal(a.isFailing, true, 'no free block');
      a.append('{"i":0}');
      await a.flush(1000);
      assert.equal(a.isFailing, false, 'the write went through');
      await a.close(1000);
    } finally {
      statfs.mock.restore();
      syncBuiltinESMExports();
    }
  });

  it('appendAll queues several lines in order, each a line of the file', async () => {
    const { dir, cleanup } = tempDir();
    try {
      const path = join(dir, 'h.jsonl');
      const a = new RotatingAppender({ path, maxBytes: 1 << 20, keep: 2 });
      a.append('{"i":0}');
      a.appendAll(['{"i":1}', '{"i":2}\n', '{"i":3}']);
      await a.close(1000);
      assert.deepEqual(lines(path), ['{"i":0}', '{"i":1}', '{"i":2}', '{"i":3}']);
      assert.equal(a.stats.linesWritten, 4);
    } finally {
      cleanup();
    }
  });

  it('writes first to the file opened for it at start without asking about the directory again, and asks before each later open', async () => {
    const { dir, cleanup } = tempDir();
    try {
      const path = join(dir, 'x.log');
      const fd = openSync(path, OPEN_FLAGS, 0o640);
      const asked: string[] = [];
      const a = new RotatingAppender({ path, maxBytes: 150, keep: 1, opened: { fd, stats: fstatSync(fd) }, directoryProblems: (at) => (asked.push(at), []) });
      a.append('a'.repeat(99));
      await a.flush(1000);
      assert.deepEqual(asked, []);
      a.append('b'.repeat(99)); // past maxBytes: rotated, then opened anew
      await a.close(1000);
      assert.deepEqual(asked, [dir, dir, dir]); // before the rotation's renames, before making the directory, and after
      assert.deepEqual(lines(`${path}.1`), ['a'.repeat(99)]);
      assert.deepEqual(lines(path), ['b'.repeat(99)]);
    } finally {
      cleanup();
    }
  });

  it('renames nothing when the directory check refuses the directory at a rotation', async () => {
    const { dir, cleanup } = tempDir();
    try {
      const path = join(dir, 'x.log');
      const fd = openSync(path, OPEN_FLAGS, 0o640);
      const a = new RotatingAppender({ path, maxBytes: 150, keep: 2, retryMs: 60_000, opened: { fd, stats: fstatSync(fd) }, directoryProblems: () => ['directory is owned by uid 65534'] });
      a.append('a'.repeat(99));
      await a.flush(1000);
      a.append('b'.repeat(99)); // past maxBytes: a rotation, refused
      await a.close(1000);
      assert.deepEqual(readdirSync(dir), ['x.log']);
      assert.deepEqual(lines(path), ['a'.repeat(99)]);
    } finally {
      cleanup();
    }
  });

  it('makes no directory when the directory check refuses the place it would be made', async () => {
    const { dir, cleanup } = tempDir();
    try {
      const path = join(dir, 'theirs', 'history', 'h.jsonl');
      const a = new RotatingAppender({ path, maxBytes: 1 << 20, keep: 1, directoryProblems: () => ['directory above is owned by uid 65534'] });
      a.append('{"i":0}');
      await a.close(1000);
      assert.equal(existsSync(join(dir, 'theirs')), false);
      assert.equal(a.stats.linesWritten, 0);
    } finally {
      cleanup();
    }
  });

  it('rotates before the file would pass max_bytes and keeps only `keep` old files', async () => {
    const { dir, cleanup } = tempDir();
    try {
      const path = join(dir, 'x.log');
      const a = new RotatingAppender({ path, maxBytes: 1000, keep: 2 });
      const line = 'x'.repeat(99); // 100 bytes with the newline
      for (let i = 0; i < 35; i++) {
        a.append(`${String(i).padStart(2, '0')}${line.slice(2)}`);
        await a.flush(1000);
      }
      await a.close(1000);
      assert.deepEqual(readdirSync(dir).sort(), ['x.log', 'x.log.1', 'x.log.2']);
      for (const f of ['x.log', 'x.log.1', 'x.log.2']) assert.ok(readFileSync(join(dir, f)).length <= 1000, f);
      assert.equal(lines(path)[0]?.slice(0, 2), '30');
      assert.equal(lines(`${path}.1`)[0]?.slice(0, 2), '20');
      assert.equal(lines(`${path}.2`)[0]?.slice(0, 2), '10');
    } finally {
      cleanup();
    }
  });

  it('goes on writing when every rotated name is a directory (another user\'s in a sticky directory): rotations lose old lines, not new ones', async () => {
    const { dir, cleanup } = tempDir();
    try {
      const path = join(dir, 'x.jsonl');
      for (const i of [1, 2, 3]) {
        mkdirSync(`${path}.${i}`);
        writeFileSync(join(`${path}.${i}`, 'theirs'), '');
      }
      const a = new RotatingAppender({ path, maxBytes: 1000, keep: 3 });
      const line = 'x'.repeat(99); // 100 bytes with the newline
      for (let i = 0; i < 35; i++) {
        a.append(`${String(i).padStart(2, '0')}${line.slice(2)}`);
        await a.flush(1000);
      }
      await a.close(1000);
      assert.equal(a.stats.failures, 0);
      assert.deepEqual(lines(path).map((l) => l.slice(0, 2)), ['30', '31', '32', '33', '34']);
      for (const i of [1, 2, 3]) assert.deepEqual(readdirSync(`${path}.${i}`), ['theirs'], `${path}.${i}`);
    } finally {
      cleanup();
    }
  });

  it('keeps the generations it can when one rotated name is a directory', async () => {
    const { dir, cleanup } = tempDir();
    try {
      const path = join(dir, 'x.jsonl');
      mkdirSync(`${path}.2`);
      writeFileSync(join(`${path}.2`, 'theirs'), '');
      const a = new RotatingAppender({ path, maxBytes: 1000, keep: 3 });
      const line = 'x'.repeat(99);
      for (let i = 0; i < 35; i++) {
        a.append(`${String(i).padStart(2, '0')}${line.slice(2)}`);
        await a.flush(1000);
      }
      await a.close(1000);
      assert.equal(a.stats.failures, 0);
      assert.equal(lines(path)[0]?.slice(0, 2), '30');
      assert.equal(lines(`${path}.1`)[0]?.slice(0, 2), '20');
      assert.equal(lines(`${path}.2`)[0]?.slice(0, 2), '10');
      assert.deepEqual(readdirSync(`${path}.3`), ['theirs'], 'moved along once, as a file there would be, never removed');
    } finally {
      cleanup();
    }
  });

  it('writes a backlog larger than max_bytes into files of at most max_bytes each, every line kept in order', async () => {
    const { dir, cleanup } = tempDir();
    try {
      const path = join(dir, 'x.log');
      const a = new RotatingAppender({ path, maxBytes: 1000, keep: 10 });
      const line = 'x'.repeat(99); // 100 bytes with the newline
      // Appended at once, as a queue that waited out a full disk is written when space returns.
      for (let i = 0; i < 35; i++) a.append(`${String(i).padStart(2, '0')}${line.slice(2)}`);
      await a.close(1000);
      const generation = (f: string): number => (f === 'x.log' ? 0 : Number(f.slice('x.log.'.length)));
      const files = readdirSync(dir).sort((x, y) => generation(y) - generation(x)); // oldest first
      for (const f of files) assert.ok(statSync(join(dir, f)).size <= 1000, `${f}: ${statSync(join(dir, f)).size} bytes`);
      const written = files.flatMap((f) => lines(join(dir, f)).map((l) => Number(l.slice(0, 2))));
      assert.deepEqual(written, Array.from({ length: 35 }, (_, i) => i));
    } finally {
      cleanup();
    }
  });

  it('rotates a file already near max_bytes when it first opens it, before appending the first line', async () => {
    const { dir, cleanup } = tempDir();
    try {
      const path = join(dir, 'x.log');
      writeFileSync(path, `${'o'.repeat(949)}\n`); // 950 bytes left by an earlier run
      const a = new RotatingAppender({ path, maxBytes: 1000, keep: 1 });
      a.append('n'.repeat(99)); // 100 bytes: 1050 would pass max_bytes
      await a.close(1000);
      assert.deepEqual(readdirSync(dir).sort(), ['x.log', 'x.log.1']);
      assert.deepEqual(lines(path), ['n'.repeat(99)]);
      assert.deepEqual(lines(`${path}.1`), ['o'.repeat(949)]);
    } finally {
      cleanup();
    }
  });

  it('starts a new file when another file is put at its path while running, as logrotate does', async () => {
    const { dir, cleanup } = tempDir();
    try {
      const path = join(dir, 'host.jsonl');
      const a = new RotatingAppender({ path, maxBytes: 1 << 20, keep: 1, reopenCheckMs: 0 });
      a.append('before');
      await a.flush(1000);
      renameSync(path, `${path}.old`);
      writeFileSync(path, '');
      await new Promise((r) => setTimeout(r, 5));
      a.append('after');
      await a.close(1000);
      assert.deepEqual(lines(`${path}.old`), ['before']);
      assert.deepEqual(lines(path), ['after']);
    } finally {
      cleanup();
    }
  });

  it('writes a single line longer than maxQueueBytes when the file is writable, instead of dropping it', async () => {
    const { dir, cleanup } = tempDir();
    try {
      const path = join(dir, 'x.log');
      const a = new RotatingAppender({ path, maxBytes: 1 << 20, keep: 1, maxQueueBytes: 10 });
      a.append('z'.repeat(50));
      await a.close(1000);
      assert.equal(a.stats.linesDropped, 0);
      assert.deepEqual(lines(path), ['z'.repeat(50)]);
    } finally {
      cleanup();
    }
  });

  it('never throws, reports trouble once when the file cannot be opened, and at close the lines never written', async () => {
    const { dir, cleanup } = tempDir();
    try {
      writeFileSync(join(dir, 'notadir'), '');
      const events: string[] = [];
      const a = new RotatingAppender({
        path: join(dir, 'notadir', 'h.jsonl'),
        maxBytes: 1 << 20,
        keep: 1,
        retryMs: 10,
        onTrouble: (e) => events.push(e.state),
      });
      for (let i = 0; i < 5; i++) {
        a.append('line');
        await new Promise((r) => setTimeout(r, 30));
      }
      await a.close(100);
      assert.deepEqual(events, ['failing', 'lost']);
      assert.ok(a.stats.failures >= 2, `retried ${a.stats.failures} times`);
    } finally {
      cleanup();
    }
  });

  it('after close, makes no retry: no directory is made and nothing written once the cause is gone', async () => {
    const { dir, cleanup } = tempDir();
    try {
      writeFileSync(join(dir, 'notadir'), '');
      const a = new RotatingAppender({ path: join(dir, 'notadir', 'h.jsonl'), maxBytes: 1 << 20, keep: 1, retryMs: 10 });
      a.append('line');
      await failedAtLeast(a, 1); // failing, with a retry waiting
      await a.close(20);
      rmSync(join(dir, 'notadir')); // a retry now would succeed: mkdir -p, then write
      await new Promise((r) => setTimeout(r, 500)); // past every back-off the test's appender had
      assert.deepEqual(readdirSync(dir), [], 'the closed appender made its directory or file');
    } finally {
      cleanup();
    }
  });

  it("at close, stops a first open still checking its directory at the check's next question: no directory or file is made, no failure told, and its task that holds the exit ends", async () => {
    const { dir, cleanup } = tempDir();
    try {
      let answer: (() => void) | undefined;
      let signal: AbortSignal | undefined;
      const events: TroubleEvent[] = [];
      const a = new RotatingAppender({
        path: join(dir, 'sub', 'h.jsonl'),
        maxBytes: 1 << 20,
        keep: 1,
        directoryProblems: () => [],
        // The first check: a walk's question still in libuv's pool (at a load of 20, one of some 20).
        directoryProblemsAsync: (_at, s) => ((signal = s), answer === undefined ? new Promise<string[]>((resolve) => (answer = () => resolve([]))) : Promise.resolve([])),
        onTrouble: (event) => events.push(event),
      });
      const before = exitHolds();
      a.append('line');
      const reply = await until('the first question', () => answer);
      await a.close(20);
      reply(); // answered after the close: makeDir's walk, the mkdir and the open are not begun
      await until('the drain to end', () => (exitHolds() === before ? true : undefined), 2000);
      assert.deepEqual(readdirSync(dir), [], 'the closed appender made its directory or file');
      assert.deepEqual(events.map((e) => e.state), ['lost']);
      assert.equal(signal?.aborted, true);
    } finally {
      cleanup();
    }
  });

  // The held directory's walk ends without a question after its last answer (the
  // directory's own lstat), so a close that comes with that answer is seen only at the open.
  it('at close, stops a first open whose directory was held as the close came: no file is made and its lines are told lost', async (t) => {
    const { dir, cleanup } = tempDir();
    try {
      const events: TroubleEvent[] = [];
      const a = new RotatingAppender({
        path: join(dir, 'h.jsonl'),
        maxBytes: 1 << 20,
        keep: 1,
        directoryProblems: () => [],
        directoryProblemsAsync: async () => [],
        onTrouble: (event) => events.push(event),
      });
      // dir is asked by makeDir's walk (it exists), then last by the walk of the directory held.
      const { asked } = atLstatAnswer(t, dir, 2, async () => {
        void a.close(0);
        await until('the close', () => (events.length > 0 ? true : undefined));
      });
      const before = exitHolds();
      a.append('line');
      await until('the drain to end', () => (exitHolds() === before ? true : undefined), 2000);
      assert.equal(asked(), 2);
      assert.deepEqual(readdirSync(dir), [], 'the closed appender made its file');
      assert.deepEqual(events.map((e) => e.state), ['lost']);
    } finally {
      cleanup();
    }
  });

  it('at close, stops a rotation whose directory was held as the close came: nothing is renamed', async (t) => {
    const { dir, cleanup } = tempDir();
    try {
      writeFileSync(join(dir, 'h.jsonl'), 'old\n');
      const events: TroubleEvent[] = [];
      const a = new RotatingAppender({
        path: join(dir, 'h.jsonl'),
        maxBytes: 8,
        keep: 2,
        directoryProblems: () => [],
        directoryProblemsAsync: async () => [],
        onTrouble: (event) => events.push(event),
      });
      // dir is asked by the open's makeDir and held directory (the file is too full for
      // the line: rotated), then by the rotation's makeDir and, last, its held directory.
      const { asked } = atLstatAnswer(t, dir, 4, async () => {
        void a.close(0);
        await until('the close', () => (events.length > 0 ? true : undefined));
      });
      const before = exitHolds();
      a.append('a line too long for what is left');
      await until('the drain to end', () => (exitHolds() === before ? true : undefined), 2000);
      assert.equal(asked(), 4);
      assert.deepEqual(readdirSync(dir), ['h.jsonl'], 'the closed appender rotated its file');
      assert.equal(readFileSync(join(dir, 'h.jsonl'), 'utf8'), 'old\n');
      assert.deepEqual(events.map((e) => e.state), ['lost']);
    } finally {
      cleanup();
    }
  });

  it('holds at most maxQueueBytes in memory while failing, dropping the oldest lines', async () => {
    const { dir, cleanup } = tempDir();
    try {
      writeFileSync(join(dir, 'f'), '');
      const a = new RotatingAppender({ path: join(dir, 'f', 'x'), maxBytes: 1 << 20, keep: 1, maxQueueBytes: 1000, retryMs: 60_000 });
      for (let i = 0; i < 1000; i++) a.append('y'.repeat(49));
      assert.ok(a.stats.linesDropped >= 975 && a.stats.linesDropped < 1000, `dropped ${a.stats.linesDropped}`);
      await a.close(10);
    } finally {
      cleanup();
    }
  });

  it('holds 1 MiB of lines by default while failing, dropping the oldest beyond it, and says so once', async () => {
    const { dir, cleanup } = tempDir();
    try {
      writeFileSync(join(dir, 'f'), '');
      const events: TroubleEvent[] = [];
      const a = new RotatingAppender({ path: join(dir, 'f', 'x'), maxBytes: 1 << 20, keep: 1, retryMs: 60_000, onTrouble: (e) => events.push(e) });
      const line = 'y'.repeat(1023); // 1024 bytes with its newline
      a.append(line);
      await failedAtLeast(a, 1); // the retry is now a minute away: the lines below wait in the queue
      for (let i = 0; i < 1100; i++) a.append(line);
      assert.equal(a.stats.linesDropped, 1101 - 1024);
      assert.equal(events.filter((e) => e.state === 'dropping').length, 1);
      await a.close(10);
    } finally {
      cleanup();
    }
  });

  it('tries a failing file again 10 s after the first failure, then after twice as long each time, up to 5 minutes', async (t) => {
    const dir = testDir(t);
    let now = 0;
    writeFileSync(join(dir, 'f'), '');
    const a = new RotatingAppender({ path: join(dir, 'f', 'x'), maxBytes: 1 << 20, keep: 1, now: () => now });
    try {
      a.append('line');
      await failedAtLeast(a, 1);
      for (const [i, wait] of [10_000, 20_000, 40_000, 80_000, 160_000, 300_000, 300_000].entries()) {
        now += wait - 1;
        a.append('line');
        await a.flush(60_000); // waits for a write a millisecond early, had one started
        assert.equal(a.stats.failures, i + 1, `tried again ${wait - 1} ms after failure ${i + 1}`);
        now += 1;
        a.append('line');
        await failedAtLeast(a, i + 2);
      }
    } finally {
      await a.close(0);
    }
  });

  it('when the file comes back after a failure, it holds the newest lines, the oldest having been dropped', async () => {
    const { dir, cleanup } = tempDir();
    try {
      const path = join(dir, 'h.jsonl');
      let refuse = true;
      const a = new RotatingAppender({ path, maxBytes: 1 << 20, keep: 1, maxQueueBytes: 40, retryMs: 60_000, directoryProblems: () => (refuse ? ['not yet'] : []) });
      for (let i = 10; i < 30; i++) a.append(`l${i}`);
      await failedAtLeast(a, 1);
      refuse = false;
      await a.close(1000);
      const written = lines(path);
      assert.equal(written.at(-1), 'l29');
      assert.ok(!written.includes('l10'), written.join(' '));
      assert.equal(written.length + a.stats.linesDropped, 20);
    } finally {
      cleanup();
    }
  });

  it('retries by its own timer, with nothing more appended, even when the timer fires before the back-off is over', async () => {
    const { dir, cleanup } = tempDir();
    try {
      const path = join(dir, 'h.jsonl');
      let refuse = true;
      // Node's timers count from the event loop's cached time, which can lag the
      // clock the back-off is measured on. Here the clock runs 150 ms ahead while
      // the failure sets the back-off, so the 20 ms timer fires before it is over.
      let ahead = 0;
      const a = new RotatingAppender({
        path,
        maxBytes: 1 << 20,
        keep: 1,
        retryMs: 20,
        now: () => performance.now() + ahead,
        directoryProblems: () => {
          if (!refuse) return [];
          ahead = 150;
          setImmediate(() => (ahead = 0));
          return ['not yet'];
        },
      });
      a.append('waiting');
      await failedAtLeast(a, 1);
      refuse = false;
      const deadline = Date.now() + 2000;
      // The file is made at the open, before the write: wait for the line itself.
      const written = (): string[] => (existsSync(path) ? lines(path) : []);
      while (written().length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
      assert.deepEqual(written(), ['waiting'], 'the line waited for another append');
      await a.close(100);
    } finally {
      cleanup();
    }
  });

  it('does not rotate an empty file away for a batch larger than max_bytes: the history before it stays where it is', async () => {
    const { dir, cleanup } = tempDir();
    try {
      const path = join(dir, 'h.jsonl');
      writeFileSync(`${path}.1`, 'old\n');
      const fd = openSync(path, OPEN_FLAGS, 0o640);
      const a = new RotatingAppender({ path, maxBytes: 50, keep: 2, opened: { fd, stats: fstatSync(fd) } });
      a.append('n'.repeat(100));
      await a.close(1000);
      assert.equal(a.stats.rotations, 0);
      assert.deepEqual(lines(path), ['n'.repeat(100)]);
      assert.deepEqual(lines(`${path}.1`), ['old']);
      assert.equal(existsSync(`${path}.2`), false);
    } finally {
      cleanup();
    }
  });

  it('starts a new file when its directory is removed while running', async () => {
    const { dir, cleanup } = tempDir();
    try {
      const path = join(dir, 'h', 'host.jsonl');
      const a = new RotatingAppender({ path, maxBytes: 1 << 20, keep: 1, reopenCheckMs: 0 });
      a.append('before');
      await a.flush(1000);
      rmSync(join(dir, 'h'), { recursive: true });
      await new Promise((r) => setTimeout(r, 5));
      a.append('after');
      await a.close(1000);
      assert.ok(existsSync(path));
      assert.deepEqual(lines(path), ['after']);
    } finally {
      cleanup();
    }
  });

  it('on a full disk, keeps only whole lines in the file and resumes when space returns', { skip: canMount ? false : 'needs root to mount a tmpfs' }, async (t) => {
    const dir = testDir(t);
    const disk = smallDisk(dir, 64 * 1024)!;
    try {
      const path = join(disk.path, 'history.jsonl');
      const filler = join(disk.path, 'filler');
      // Leave a few hundred bytes free, less than one batch.
      writeFileSync(filler, Buffer.alloc(64 * 1024 - 4096 + 3500));
      const events: string[] = [];
      const a = new RotatingAppender({ path, maxBytes: 1 << 20, keep: 1, retryMs: 20, onTrouble: (e) => events.push(e.state) });
      for (let i = 0; i < 40; i++) a.append(JSON.stringify({ i, pad: 'p'.repeat(40) }));
      await a.flush(300);
      assert.equal(events[0], 'failing');
      const during = readFileSync(path, 'utf8');
      assert.ok(during === '' || during.endsWith('\n'), `a torn line was left: ${JSON.stringify(during.slice(-30))}`);
      rmSync(filler);
      await new Promise((r) => setTimeout(r, 100));
      a.append(JSON.stringify({ i: 40, pad: '' }));
      await a.close(2000);
      assert.deepEqual(events, ['failing', 'recovered']);
      const got = lines(path).map((l) => (JSON.parse(l) as { i: number }).i);
      assert.deepEqual(got, Array.from({ length: 41 }, (_, i) => i));
    } finally {
      disk.unmount();
    }
  });

  it('at close, writes what waits for a retry at once, and tells how many lines could not be written', { skip: canMount ? false : 'needs root to mount a tmpfs' }, async (t) => {
    const dir = testDir(t);
    const disk = smallDisk(dir, 64 * 1024)!;
    try {
      const path = join(disk.path, 'history.jsonl');
      const filler = join(disk.path, 'filler');
      const events: Array<{ state: string; lines?: number }> = [];
      const line = (i: number): string => JSON.stringify({ i, pad: 'p'.repeat(40) });
      // Still full at close: every line is counted as lost.
      writeFileSync(filler, Buffer.alloc(64 * 1024));
      const a = new RotatingAppender({ path, maxBytes: 1 << 20, keep: 1, retryMs: 60_000, onTrouble: (e) => events.push(e) });
      for (let i = 0; i < 10; i++) a.append(line(i));
      await a.flush(300);
      await a.close(300);
      assert.deepEqual(events.map((e) => e.state), ['failing', 'lost']);
      assert.equal(events[1]!.lines, 10);
      // Space back during the (one minute) back-off: close writes them all.
      rmSync(filler);
      events.length = 0;
      writeFileSync(filler, Buffer.alloc(64 * 1024));
      const b = new RotatingAppender({ path, maxBytes: 1 << 20, keep: 1, retryMs: 60_000, onTrouble: (e) => events.push(e) });
      for (let i = 0; i < 10; i++) b.append(line(i));
      await b.flush(300);
      rmSync(filler);
      await b.close(1000);
      assert.deepEqual(events.map((e) => e.state), ['failing', 'recovered']);
      assert.equal(lines(path).length, 10);
    } finally {
      disk.unmount();
    }
  });
  it('writes the whole lines that fit when space comes back for part of a long outage\'s queue, in order', { skip: canMount ? false : 'needs root to mount a tmpfs' }, async (t) => {
    const dir = testDir(t);
    const disk = smallDisk(dir, 128 * 1024)!;
    try {
      const path = join(disk.path, 'h.jsonl');
      const filler = join(disk.path, 'filler');
      writeFileSync(filler, Buffer.alloc(128 * 1024 - 4096));
      let full: unknown;
      const a = new RotatingAppender({ path, maxBytes: 1 << 20, keep: 1, maxQueueBytes: 32 * 1024, retryMs: 20, onTrouble: (e) => (full ??= e.state === 'failing' ? e.error : undefined) });
      let i = 0;
      const line = (): string => JSON.stringify({ i: i++, pad: 'p'.repeat(80) });
      // Fills the last page, then the disk is full: the queue grows to its bound.
      for (let k = 0; k < 600; k++) a.append(line());
      await until('the disk full', () => full);
      // Told with the write's own error, though whole lines of that batch were written.
      assert.equal((full as NodeJS.ErrnoException).code, 'ENOSPC');
      const before = lines(path).length;
      // 16 KiB back: half the queue's bytes.
      truncateSync(filler, statSync(filler).size - 16 * 1024);
      for (let k = 0; k < 100; k++) {
        a.append(line());
        await new Promise((r) => setTimeout(r, 10));
      }
      await a.close(1000); // read once nothing is being written: no line is read half-written
      const written = lines(path).map((l) => (JSON.parse(l) as { i: number }).i);
      assert.ok(written.length > before + 100, `${written.length - before} lines written in 1 s with 16 KiB free`);
      assert.deepEqual(
        written.filter((n, k) => k > 0 && n <= written[k - 1]!),
        [],
        'out of order',
      );
      assert.ok(readFileSync(path, 'utf8').endsWith('\n'));
    } finally {
      disk.unmount();
    }
  });

  it('after logrotate copytruncate emptied the file, rotates by its real size: no near-empty file is moved to .1', async () => {
    const { dir, cleanup } = tempDir();
    try {
      const path = join(dir, 'h.jsonl');
      const a = new RotatingAppender({ path, maxBytes: 1000, keep: 3 });
      for (let k = 0; k < 9; k++) a.append('x'.repeat(99));
      await a.flush(1000);
      copyFileSync(path, `${path}-20261204`);
      truncateSync(path, 0);
      a.append('y'.repeat(199));
      await a.close(1000);
      assert.equal(a.stats.rotations, 0, `${path}.1 holds ${existsSync(`${path}.1`) ? statSync(`${path}.1`).size : 0} bytes`);
      assert.deepEqual(lines(path), ['y'.repeat(199)]);
    } finally {
      cleanup();
    }
  });

  it('tells lines dropped behind a slow write, not a failing one, with their count, and a later overflow again', async () => {
    const { dir, cleanup } = tempDir();
    try {
      const path = join(dir, 'h.jsonl');
      const events: TroubleEvent[] = [];
      let refuse = false;
      const a = new RotatingAppender({ path, maxBytes: 1 << 20, keep: 1, maxQueueBytes: 100, retryMs: 20, reopenCheckMs: 0, directoryProblems: () => (refuse ? ['not now'] : []), onTrouble: (e) => events.push(e) });
      a.append('first'); // being written while the burst overflows the queue
      for (let k = 0; k < 30; k++) a.append(`burst-${k}`);
      await a.flush(1000);
      const first = a.stats.linesDropped;
      assert.ok(first > 0);
      rmSync(path);
      refuse = true; // later, a real failure, overflowing again: the appends overflow
      for (let k = 0; k < 30; k++) a.append(`later-${k}`); // before the write fails
      await failedAtLeast(a, 1);
      refuse = false;
      const deadline = Date.now() + 10_000;
      while (events.filter((e) => e.state === 'recovered').length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
      const second = a.stats.linesDropped - first;
      await a.close(1000);
      assert.deepEqual(
        events.map((e) => (e.state === 'recovered' ? `recovered ${e.dropped}` : e.state)),
        ['dropping', `recovered ${first}`, 'dropping', 'failing', `recovered ${second}`],
      );
    } finally {
      cleanup();
    }
  });

  it('ends a line a kill left torn before appending, so the next line stays whole, opened at start or later, and by writeNow', async () => {
    const { dir, cleanup } = tempDir();
    try {
      const rec = (n: number): string => JSON.stringify({ n });
      const torn = rec(2).slice(0, 4);
      const expected = [rec(1), torn, rec(3), rec(4)];
      // Opened later, by the writer itself.
      const later = join(dir, 'later.jsonl');
      writeFileSync(later, `${rec(1)}\n${torn}`);
      const a = new RotatingAppender({ path: later, maxBytes: 1 << 20, keep: 1 });
      a.appendAll([rec(3), rec(4)]);
      await a.close(1000);
      assert.deepEqual(lines(later), expected);
      // Opened at start and handed over, as the log file is.
      const atStart = join(dir, 'start.jsonl');
      writeFileSync(atStart, `${rec(1)}\n${torn}`);
      const fd = openSync(atStart, OPEN_FLAGS, 0o644);
      const b = new RotatingAppender({ path: atStart, maxBytes: 1 << 20, keep: 1, opened: { fd, stats: fstatSync(fd) } });
      b.appendAll([rec(3), rec(4)]);
      await b.close(1000);
      assert.deepEqual(lines(atStart), expected);
      // The last words of a process, before anything was written.
      const last = join(dir, 'last.jsonl');
      writeFileSync(last, `${rec(1)}\n${torn}`);
      const c = new RotatingAppender({ path: last, maxBytes: 1 << 20, keep: 1 });
      c.writeNow(rec(3));
      assert.deepEqual(lines(last), [rec(1), torn, rec(3)]);
      // A file that ends whole gets no empty line.
      c.writeNow(rec(4));
      assert.deepEqual(lines(last), expected);
      assert.equal(readFileSync(last, 'utf8').includes('\n\n'), false);
    } finally {
      cleanup();
    }
  });

  it('writeNow right after an append writes that line once, before the last words, where its write had not begun', async () => {
    // The daemon's "lavarank starting" line, then a model that cannot be used: the
    // line's batch waited for the event loop when the fatal line was written at once.
    const { dir, cleanup } = tempDir();
    try {
      for (const opened of [false, true]) {
        const path = join(dir, `${opened ? 'start' : 'later'}.jsonl`);
        const fd = opened ? openSync(path, OPEN_FLAGS, 0o644) : undefined;
        const a = new RotatingAppender({ path, maxBytes: 1 << 20, keep: 1, ...(fd === undefined ? {} : { opened: { fd, stats: fstatSync(fd) } }) });
        a.append('{"msg":"lavarank starting"}');
        a.writeNow('{"level":"fatal"}');
        await a.close(1000);
        assert.deepEqual(lines(path), ['{"msg":"lavarank starting"}', '{"level":"fatal"}'], opened ? 'opened at start' : 'opened by the writer');
      }
    } finally {
      cleanup();
    }
  });

  it('writeNow on a full disk leaves no torn line: what follows the last whole line written is cut back', { skip: canMount ? false : 'needs root to mount a tmpfs' }, async (t) => {
    const dir = testDir(t);
    const disk = smallDisk(dir, 64 * 1024)!;
    try {
      const path = join(disk.path, 'lavarank.log');
      const a = new RotatingAppender({ path, maxBytes: 1 << 20, keep: 1 });
      a.append('{"msg":"started"}');
      await a.flush(1000);
      writeFileSync(join(disk.path, 'filler'), Buffer.alloc(64 * 1024 - 4096));
      a.writeNow(JSON.stringify({ level: 'fatal', msg: 'boom', stack: 's'.repeat(6000) }));
      const text = readFileSync(path, 'utf8');
      await a.close(10);
      assert.equal(text, '{"msg":"started"}\n');
    } finally {
      disk.unmount();
    }
  });

  it('counts a write under way as a task that may never return, so a stopped process is not held by a hung filesystem', (t) => {
    const dir = testDir(t);
    const fifo = join(dir, 'fifo');
    mkfifo(fifo);
    // One pool thread, taken by a read that never returns (uncounted): the appender's
    // open waits behind it, as behind an NFS server that stopped answering.
    const script = `
      import { openSync, read } from 'node:fs';
      import { RotatingAppender } from ${JSON.stringify(new URL('../../src/util/appender.js', import.meta.url).href)};
      import { exitHolds, exitWhenReturned } from ${JSON.stringify(new URL('../../src/util/exit.js', import.meta.url).href)};
      read(openSync(${JSON.stringify(fifo)}, 'r+'), Buffer.alloc(8), 0, 8, null, () => undefined);
      const a = new RotatingAppender({ path: ${JSON.stringify(join(dir, 'h.jsonl'))}, maxBytes: 1 << 20, keep: 1 });
      a.append('stuck');
      process.stdout.write(String(exitHolds()));
      await a.close(50);
      void exitWhenReturned(0, 50);`;
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 20_000, env: { ...process.env, UV_THREADPOOL_SIZE: '1' } });
    assert.equal(r.stdout, '1', r.stderr);
    assert.equal(r.signal, 'SIGKILL', `ended by ${r.signal ?? `exit ${r.status}`}: the hung write held the exit`);
  });
});

describe('makeDir and makeDirSync', () => {
  it('throw the error mkdir gave, not that the directory kept being removed, when the file system refuses to make it', { skip: canMount ? false : 'needs root to mount a tmpfs' }, async (t) => {
    const dir = testDir(t);
    const path = join(dir, 'disk');
    mkdirSync(path);
    const r = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=65536,nr_inodes=1', 'tmpfs', path]); // no inode left for a directory
    try {
      assert.equal(r.status, 0, r.stderr.toString());
      assert.throws(() => makeDirSync(join(path, 'log', 'lavarank'), 0o755), { code: 'ENOSPC' });
      await assert.rejects(makeDir(join(path, 'log', 'lavarank'), 0o755), { code: 'ENOSPC' });
    } finally {
      spawnSync('umount', ['-l', path]);
    }
  });

  // The walk ends without a question after its last answer, so an abort that comes with
  // that answer (the parent's own lstat, held open next) is seen only before the mkdir.
  it('makeDir, aborted while its parent\'s walk waits for its last answer, makes nothing and leaves no descriptor open', async (t) => {
    const { dir, cleanup } = tempDir();
    try {
      const open = (): number => readdirSync('/proc/self/fd').length;
      const before = open();
      const controller = new AbortController();
      // dir is asked by the walk that finds 'made' missing, then last by its parent's.
      const { asked } = atLstatAnswer(t, dir, 2, () => controller.abort());
      await assert.rejects(makeDir(join(dir, 'made'), 0o755, controller.signal), { name: 'AbortError' });
      assert.equal(asked(), 2);
      assert.deepEqual(readdirSync(dir), [], 'made after the abort');
      assert.equal(open(), before);
    } finally {
      cleanup();
    }
  });

  it('leave no descriptor open of the directories they made the path in', async () => {
    const { dir, cleanup } = tempDir();
    try {
      const open = (): number => readdirSync('/proc/self/fd').length;
      const before = open();
      makeDirSync(join(dir, 'a', 'b', 'c'), 0o755);
      await makeDir(join(dir, 'd', 'e', 'f'), 0o755);
      assert.ok(statSync(join(dir, 'a', 'b', 'c')).isDirectory() && statSync(join(dir, 'd', 'e', 'f')).isDirectory());
      assert.equal(open(), before);
    } finally {
      cleanup();
    }
  });

  it('ready() makes its directory and opens its file before any line is appended', async () => {
    const { dir, cleanup } = tempDir();
    const path = join(dir, 'sub', 'h.jsonl');
    try {
      const a = new RotatingAppender({ path, maxBytes: 1 << 20, keep: 2 });
      a.ready();
      await a.flush(60_000); // waits for the open ready() began
      assert.equal(a.isOpen, true);
      assert.equal(readFileSync(path, 'utf8'), '');
      a.append('{"i":0}');
      await a.close(60_000);
      assert.deepEqual(lines(path), ['{"i":0}']);
    } finally {
      cleanup();
    }
  });

  it('ready() that cannot open its file tells the failure once, and the lines appended later are written at the retry', async () => {
    const { dir, cleanup } = tempDir();
    const path = join(dir, 'h.jsonl');
    try {
      const troubles: string[] = [];
      let refuse = true;
      const a = new RotatingAppender({
        path,
        maxBytes: 1 << 20,
        keep: 2,
        retryMs: 10,
        directoryProblems: () => (refuse ? ['refused for the test'] : []),
        onTrouble: (e) => troubles.push(e.state === 'failing' ? String(e.error) : e.state),
      });
      a.ready();
      await until('the failure told', () => (troubles.length > 0 ? true : undefined));
      refuse = false;
      a.append('{"i":0}');
      await until('the line written', () => (a.stats.linesWritten === 1 ? true : undefined));
      await a.close(60_000);
      assert.deepEqual(lines(path), ['{"i":0}']);
      assert.equal(troubles.length, 2, JSON.stringify(troubles));
      assert.match(troubles[0]!, /refused for the test/);
      assert.equal(troubles[1], 'recovered');
    } finally {
      cleanup();
    }
  });
});
