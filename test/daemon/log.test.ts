import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, closeSync, constants, existsSync, linkSync, mkdirSync, openSync, readdirSync, readFileSync, readSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { defaultConfig } from '../../src/config/config.js';
import { chooseLogTarget, formatLogLine, LOG_FILE_MODE, logCandidates, setupLoggingAsync, setupLoggingBeside } from '../../src/daemon/log.js';
import { fuseHangOver, unmountFuse } from '../faults/helpers.js';
import { dirWithMode, mkfifo, plantLink, repoRoot, tempDir, testDir, until } from '../helpers.js';

describe('logCandidates', () => {
  const log = defaultConfig().log;
  it('tries log.file, then $LSF_LOGDIR, then stderr on a terminal, then /var/log/lavarank', () => {
    const got = logCandidates({ ...log, file: '/x/l.log' }, 'node7', { LSF_LOGDIR: '/lsf/log' }, true);
    assert.deepEqual(
      got.map((t) => t.path ?? t.kind),
      ['/x/l.log', '/lsf/log/lavarank.node7.log', 'stderr', '/var/log/lavarank/lavarank.node7.log'],
    );
  });
  it('names where LSF_LOGDIR came from: the environment, or the lsf.conf it was taken from', () => {
    const why = (from?: string): string | undefined => logCandidates(log, 'h', { LSF_LOGDIR: '/lsf/log' }, false, from).find((t) => t.path === '/lsf/log/lavarank.h.log')?.why;
    assert.equal(why(), '$LSF_LOGDIR');
    assert.equal(why('/opt/openlava/etc/lsf.conf'), 'LSF_LOGDIR in /opt/openlava/etc/lsf.conf');
  });
  it('skips a relative $LSF_LOGDIR, which would put the log under whatever directory LIM started in', () => {
    assert.deepEqual(logCandidates(log, 'h', { LSF_LOGDIR: 'log' }, false).map((t) => t.path ?? t.kind), ['/var/log/lavarank/lavarank.h.log']);
  });
  it('skips stderr when it is not a terminal (LIM closes it)', () => {
    assert.ok(!logCandidates(log, 'h', {}, false).some((t) => t.kind === 'stderr'));
  });
});

describe('chooseLogTarget', () => {
  const log = { ...defaultConfig().log, file: '/x/l.log' };
  const where = { host: 'h', env: { LSF_LOGDIR: '/lsf/log' }, stderrIsTty: false };

  it('passes over a location whose directory is refused, with the reason, and takes the next', async () => {
    const got = await chooseLogTarget(log, where, {
      isDirectory: () => true,
      directoryProblems: (dir) => (dir === '/x' ? ['log directory /x is owned by uid 500'] : []),
      fileProblem: () => undefined,
    });
    assert.equal(got.chosen?.path, '/lsf/log/lavarank.h.log');
    assert.deepEqual(
      got.skipped.map((s) => [s.target.path, s.why, s.missing, s.refused]),
      [['/x/l.log', 'log directory /x is owned by uid 500', false, true]],
    );
  });

  it('asks nothing about the file in a refused directory', async () => {
    const asked: string[] = [];
    await chooseLogTarget(log, where, {
      isDirectory: () => true,
      directoryProblems: (dir) => (dir === '/x' ? ['refused'] : []),
      fileProblem: (path) => void asked.push(path),
    });
    assert.deepEqual(asked, ['/lsf/log/lavarank.h.log']);
  });

  it('marks an $LSF_LOGDIR that does not exist as missing, without asking about its directory', async () => {
    const asked: string[] = [];
    const got = await chooseLogTarget({ ...log, file: null }, where, {
      isDirectory: () => false,
      directoryProblems: (dir) => (asked.push(dir), []),
      fileProblem: () => undefined,
    });
    assert.deepEqual(got.skipped.map((s) => [s.target.why, s.missing]), [['$LSF_LOGDIR', true]]);
    assert.deepEqual(asked, ['/var/log/lavarank']);
    assert.equal(got.chosen?.why, 'default location');
  });

  it('takes stderr on a terminal before the default location, asking nothing about it', async () => {
    const got = await chooseLogTarget({ ...log, file: null }, { host: 'h', env: {}, stderrIsTty: true }, { fileProblem: () => ({ why: 'EACCES', refused: false }) });
    assert.equal(got.chosen?.kind, 'stderr');
    assert.deepEqual(got.skipped, []);
  });

  it('chooses nothing when every location fails, and gives each reason', async () => {
    const got = await chooseLogTarget(log, where, { isDirectory: () => true, directoryProblems: () => [], fileProblem: () => ({ why: 'EROFS', refused: false }) });
    assert.equal(got.chosen, undefined);
    assert.deepEqual(got.skipped.map((s) => s.why), ['EROFS', 'EROFS', 'EROFS']);
  });
});

describe('setupLoggingAsync', () => {
  it('falls back to the next location when log.file cannot be written, and says why in the log', async () => {
    const { dir, cleanup } = tempDir();
    try {
      writeFileSync(join(dir, 'file'), '');
      const setup = await setupLoggingAsync(
        { ...defaultConfig().log, file: join(dir, 'file', 'lavarank.log') },
        { host: 'h1', env: { LSF_LOGDIR: dir }, stderrIsTty: false },
      );
      assert.equal(setup.target.path, join(dir, 'lavarank.h1.log'));
      assert.match(setup.skipped[0] ?? '', /file\/lavarank\.log \(log\.file\): log directory .*\/file is not a directory$/);
      setup.log.info('hello');
      await setup.close(1000);
      const rec = JSON.parse(readFileSync(join(dir, 'lavarank.h1.log'), 'utf8').trim()) as Record<string, unknown>;
      assert.equal(rec['msg'], 'hello');
      assert.equal(rec['level'], 'info');
    } finally {
      cleanup();
    }
  });

  it('passes over a log directory others can write, for the next location, and says why', async () => {
    const { dir, cleanup } = tempDir();
    try {
      const open = dirWithMode(dir, 'open', 0o777);
      const setup = await setupLoggingAsync({ ...defaultConfig().log, file: join(open, 'lavarank.log') }, { host: 'h1', env: { LSF_LOGDIR: dir }, stderrIsTty: false });
      assert.equal(setup.target.path, join(dir, 'lavarank.h1.log'));
      assert.deepEqual(setup.skipped, [`${join(open, 'lavarank.log')} (log.file): log directory ${open} has mode 0777, writable by group or others; run: chmod go-w ${open}`]);
      assert.equal(existsSync(join(open, 'lavarank.log')), false, 'nothing is created in the refused directory');
    } finally {
      cleanup();
    }
  });

  it('makes a missing log directory 0755 whatever the umask, and logs there', async (t) => {
    const dir = testDir(t);
    const umask = process.umask(0); // as a daemon started with umask 0 has it
    try {
      const setup = await setupLoggingAsync({ ...defaultConfig().log, file: join(dir, 'new', 'l.log') }, { host: 'h', env: { LSF_LOGDIR: dir }, stderrIsTty: false });
      process.umask(umask);
      assert.equal(setup.target.path, join(dir, 'new', 'l.log'));
      assert.equal(statSync(join(dir, 'new')).mode & 0o7777, 0o755);
      await setup.close(1000);
    } finally {
      process.umask(umask);
    }
  });

  it('rotates nothing once the log directory has become writable by others', async () => {
    const { dir, cleanup } = tempDir();
    try {
      const logs = dirWithMode(dir, 'logs', 0o755);
      const path = join(logs, 'l.log');
      const setup = await setupLoggingAsync({ ...defaultConfig().log, file: path, max_bytes: 200, keep: 2 }, { host: 'h', env: {}, stderrIsTty: false });
      assert.equal(setup.target.path, path);
      chmodSync(logs, 0o777);
      for (let i = 0; i < 5; i++) setup.log.info(`line ${i} ${'x'.repeat(100)}`);
      await setup.close(1000);
      assert.deepEqual(readdirSync(logs).filter((n) => n !== 'l.log'), []);
    } finally {
      cleanup();
    }
  });

  it('writes its first lines to the file it opened when it chose the location, not to one opened again', async () => {
    const { dir, cleanup } = tempDir();
    try {
      const setup = await setupLoggingAsync({ ...defaultConfig().log, file: join(dir, 'l.log') }, { host: 'h', env: {}, stderrIsTty: false });
      renameSync(join(dir, 'l.log'), join(dir, 'opened.log'));
      setup.log.info('hello');
      await setup.close(1000);
      assert.deepEqual(readdirSync(dir), ['opened.log']);
      assert.match(readFileSync(join(dir, 'opened.log'), 'utf8'), /"msg":"hello"/);
    } finally {
      cleanup();
    }
  });

  it('stamps each record, fatal ones too, with the UTC ISO 8601 time it was written', async () => {
    const { dir, cleanup } = tempDir();
    try {
      const before = Date.now();
      const setup = await setupLoggingAsync({ ...defaultConfig().log, file: join(dir, 'l.log') }, { host: 'h', env: {}, stderrIsTty: false });
      setup.log.info('queued');
      setup.fatalNow('stopping', new Error('boom'));
      await setup.close(1000);
      const after = Date.now();
      const recs = readFileSync(join(dir, 'l.log'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
      assert.deepEqual(recs.map((r) => r['msg']).slice(0, 2), ['queued', 'stopping']);
      for (const r of recs) {
        const time = String(r['time']);
        assert.match(time, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
        assert.equal(new Date(time).toISOString(), time);
        assert.ok(Date.parse(time) >= before && Date.parse(time) <= after, `${time} not between ${before} and ${after}`);
      }
    } finally {
      cleanup();
    }
  });

  it('at level silent, still logs a fatal record (why the elim stops) and nothing below it', async () => {
    const { dir, cleanup } = tempDir();
    try {
      const setup = await setupLoggingAsync({ ...defaultConfig().log, level: 'silent', file: join(dir, 'l.log') }, { host: 'h', env: {}, stderrIsTty: false });
      setup.log.error('an error');
      setup.log.fatal('interval under 5 s');
      await setup.close(1000);
      const recs = readFileSync(join(dir, 'l.log'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
      assert.deepEqual(recs.map((r) => [r['level'], r['msg']]), [['fatal', 'interval under 5 s']]);
    } finally {
      cleanup();
    }
  });

  it('writes a fatal record synchronously, after the lines still queued', async () => {
    const { dir, cleanup } = tempDir();
    try {
      const setup = await setupLoggingAsync({ ...defaultConfig().log, file: join(dir, 'l.log') }, { host: 'h', env: {}, stderrIsTty: false });
      setup.log.info('queued');
      setup.fatalNow('uncaught exception; exiting', new Error('boom'));
      const recs = readFileSync(join(dir, 'l.log'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
      assert.deepEqual(recs.map((r) => r['msg']), ['queued', 'uncaught exception; exiting']);
      assert.equal(recs[1]?.['err'], 'boom');
    } finally {
      cleanup();
    }
  });

  it('names the host in a fatal record as in every other, for a log.file several hosts share', async () => {
    const { dir, cleanup } = tempDir();
    try {
      const setup = await setupLoggingAsync({ ...defaultConfig().log, file: join(dir, 'l.log') }, { host: 'h', env: {}, stderrIsTty: false });
      setup.log.info('queued');
      setup.fatalNow('cannot start: the model is not valid JSON', new Error('boom'));
      const recs = readFileSync(join(dir, 'l.log'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
      assert.deepEqual(recs.map((r) => [r['level'], r['pid'], r['hostname'], r['name']]), [
        ['info', process.pid, hostname(), 'lavarank'],
        ['fatal', process.pid, hostname(), 'lavarank'],
      ]);
    } finally {
      cleanup();
    }
  });
});

describe('setupLoggingBeside', () => {
  // The records of a log still being chosen (the pool's questions out, so none before the
  // first turn of the event loop), as the file holds them once it is chosen.
  const fileRecords = (path: string): Array<Record<string, unknown>> =>
    readFileSync(path, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);

  it("writes a crash's last line made while the location is checked with the error's stack, as one made after", async () => {
    const { dir, cleanup } = tempDir();
    try {
      // An $LSF_LOGDIR of its own: the next location is not this host's /var/log/lavarank.
      const setup = setupLoggingBeside({ ...defaultConfig().log, file: join(dir, 'lavarank.log') }, { host: 'h1', env: { LSF_LOGDIR: dir }, stderrIsTty: false });
      assert.equal(setup.isReady(), false);
      const err = new Error('boom');
      await setup.fatalLast('uncaught exception; exiting', err, 5000);
      const last = fileRecords(join(dir, 'lavarank.log')).at(-1)!;
      assert.equal(last['msg'], 'uncaught exception; exiting');
      assert.equal(last['err'], 'boom');
      assert.equal(last['stack'], err.stack);
    } finally {
      cleanup();
    }
  });

  it("writes a crash's last line, and the records kept before it, to log.file where its check is slow but returns within half the time the exit gives them, not to the next location", async () => {
    const { dir, cleanup } = tempDir();
    try {
      // log.file 40 directories deep: its check walks each, the next location's a few.
      const deep = join(dir, ...Array.from({ length: 40 }, () => 'd'));
      mkdirSync(deep, { recursive: true, mode: 0o755 });
      const logdir = join(dir, 'logdir');
      mkdirSync(logdir, { mode: 0o755 });
      const setup = setupLoggingBeside({ ...defaultConfig().log, file: join(deep, 'lavarank.log') }, { host: 'h1', env: { LSF_LOGDIR: logdir }, stderrIsTty: false });
      setup.log.info('started');
      await setup.fatalLast('uncaught exception; exiting', new Error('boom'), 10_000);
      assert.deepEqual(fileRecords(join(deep, 'lavarank.log')).map((r) => r['msg']), ['started', 'uncaught exception; exiting']);
      // Readied meanwhile, the next location may have made its file, but wrote nothing there.
      const next = join(logdir, 'lavarank.h1.log');
      assert.equal(existsSync(next) ? readFileSync(next, 'utf8') : '', '', 'records written to the next location');
    } finally {
      cleanup();
    }
  });

  it('keeps the newest 256 KiB of records made while the location is checked, in order, and says how many older ones it dropped', async () => {
    const { dir, cleanup } = tempDir();
    try {
      const setup = setupLoggingBeside({ ...defaultConfig().log, file: join(dir, 'lavarank.log') }, { host: 'h1', env: {}, stderrIsTty: false });
      const filler = 'x'.repeat(1000);
      for (let i = 0; i < 400; i++) setup.log.info({ i, filler }, 'waiting');
      assert.equal(setup.isReady(), false);
      await setup.ready;
      await setup.close(5000);
      const records = fileRecords(join(dir, 'lavarank.log'));
      const kept = records.filter((r) => r['msg'] === 'waiting').map((r) => Number(r['i']));
      assert.ok(kept.length > 0 && kept.length < 400, `${kept.length} of 400 kept`);
      assert.deepEqual(kept, kept.map((_, k) => 400 - kept.length + k), 'the newest, in order');
      const bytes = records.filter((r) => r['msg'] === 'waiting').reduce((sum, r) => sum + JSON.stringify(r).length + 1, 0);
      assert.ok(bytes <= 256 * 1024, `${bytes} bytes kept`);
      assert.ok(bytes > 256 * 1024 - 1200, `${bytes} bytes kept: fewer than the bound allows`);
      assert.deepEqual(records.filter((r) => r['level'] === 'warn').map((r) => r['msg']), [`${400 - kept.length} log lines were dropped while the log location was being checked`]);
    } finally {
      cleanup();
    }
  });
});

describe('the log file', () => {
  it('is created readable by its owner and group only (0640): it quotes paths, child output and errors', async (t) => {
    const dir = testDir(t);
    const umask = process.umask(0o002); // a lax umask must not widen it
    try {
      const setup = await setupLoggingAsync({ ...defaultConfig().log, file: join(dir, 'l.log') }, { host: 'h', env: {}, stderrIsTty: false });
      setup.log.info('hello');
      await setup.close(1000);
      assert.equal((statSync(join(dir, 'l.log')).mode & 0o777).toString(8), LOG_FILE_MODE.toString(8));
      assert.equal(LOG_FILE_MODE & 0o007, 0);
    } finally {
      process.umask(umask);
    }
  });

  it('is not reached through a symbolic link planted at its path by the crash path\'s last line, before anything was written', async () => {
    const { dir, cleanup } = tempDir();
    try {
      const path = join(dir, 'l.log');
      const setup = await setupLoggingAsync({ ...defaultConfig().log, file: path }, { host: 'h', env: {}, stderrIsTty: false });
      const victim = plantLink(path);
      setup.fatalNow('uncaught exception; exiting', new Error('boom'));
      assert.equal(readFileSync(victim, 'utf8'), 'untouched\n');
    } finally {
      cleanup();
    }
  });
});

describe('a FIFO planted at the log path', () => {
  // In a child with a deadline: an open that waits for a reader (the bug) would block this test's own thread.
  it('with nobody reading it is skipped at once, and the log goes to the next location', async () => {
    const { dir, cleanup } = tempDir();
    try {
      const fifo = join(dir, 'l.log');
      mkfifo(fifo);
      const script = `const { setupLoggingAsync } = await import(${JSON.stringify(new URL('../../src/daemon/log.js', import.meta.url).href)});
        const { defaultConfig } = await import(${JSON.stringify(new URL('../../src/config/config.js', import.meta.url).href)});
        const s = await setupLoggingAsync({ ...defaultConfig().log, file: ${JSON.stringify(fifo)} }, { host: 'h', env: { LSF_LOGDIR: ${JSON.stringify(dir)} }, stderrIsTty: false });
        console.log(JSON.stringify({ path: s.target.path, skipped: s.skipped })); await s.close(1000);`;
      const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { timeout: 10_000, encoding: 'utf8' });
      if (r.status !== 0) closeSync(openSync(fifo, constants.O_RDONLY | constants.O_NONBLOCK)); // release a child stuck in open
      assert.equal(r.status, 0, `exited ${r.status} (${r.signal}): ${r.stderr}`);
      const got = JSON.parse(r.stdout) as { path: string; skipped: string[] };
      assert.equal(got.path, join(dir, 'lavarank.h.log'));
      assert.match(got.skipped[0] ?? '', new RegExp(`l\\.log \\(log\\.file\\): is not a regular file but a FIFO of uid ${process.getuid?.() ?? 0}$`));
    } finally {
      cleanup();
    }
  });

  it('that someone reads is skipped, and gets nothing', async (t) => {
    const dir = testDir(t);
    const fifo = join(dir, 'l.log');
    mkfifo(fifo);
    const reader = openSync(fifo, constants.O_RDONLY | constants.O_NONBLOCK);
    try {
      const setup = await setupLoggingAsync({ ...defaultConfig().log, file: fifo }, { host: 'h', env: { LSF_LOGDIR: dir }, stderrIsTty: false });
      assert.equal(setup.target.path, join(dir, 'lavarank.h.log'));
      assert.match(setup.skipped[0] ?? '', new RegExp(`not a regular file but a FIFO of uid ${process.getuid?.() ?? 0}$`));
      setup.log.info('hello');
      setup.fatalNow('uncaught exception; exiting', new Error('boom'));
      await setup.close(1000);
      assert.equal(readSync(reader, Buffer.alloc(64)), 0);
    } finally {
      closeSync(reader);
    }
  });
});

describe('a hard link planted at the log path', () => {
  it('is skipped, the file it shares untouched, and the log goes to the next location', async () => {
    const { dir, cleanup } = tempDir();
    try {
      const victim = join(dir, 'victim');
      writeFileSync(victim, 'untouched\n', { mode: 0o600 });
      linkSync(victim, join(dir, 'l.log'));
      const setup = await setupLoggingAsync({ ...defaultConfig().log, file: join(dir, 'l.log') }, { host: 'h', env: { LSF_LOGDIR: dir }, stderrIsTty: false });
      assert.equal(setup.target.path, join(dir, 'lavarank.h.log'));
      assert.match(setup.skipped[0] ?? '', /l\.log \(log\.file\): has 2 hard links$/);
      setup.log.info('hello');
      setup.fatalNow('uncaught exception; exiting', new Error('boom'));
      await setup.close(1000);
      assert.equal(readFileSync(victim, 'utf8'), 'untouched\n');
    } finally {
      cleanup();
    }
  });
});

describe('logs on a terminal', () => {
  it('formats a record as local time, level, message and key=value fields, without pid or hostname', () => {
    const time = new Date(2026, 10, 28, 9, 5, 7, 42).toISOString();
    const line = formatLogLine(JSON.stringify({ level: 'info', time, pid: 7, hostname: 'h', name: 'lavarank', path: '/var/lib/x', n: 3, why: 'two words', msg: 'history file' }));
    assert.equal(line, '09:05:07.042 INFO  history file path=/var/lib/x n=3 why="two words"\n');
  });

  it("writes the control characters of a message and of its fields as \\u escapes, since they may quote a name another user chose", () => {
    const time = new Date(2026, 10, 28, 9, 5, 7, 42).toISOString();
    const dir = '/var/log/openlava/x\x1b]0;owned\x07\x1b[8m';
    const line = formatLogLine(JSON.stringify({ level: 'warn', time, path: dir, c1: '\x9b2K', msg: `history location skipped: ${dir} is owned by uid 65534` }));
    assert.doesNotMatch(line, /[\0-\x09\x0b-\x1f\x7f-\x9f]/);
    assert.equal(
      line,
      '09:05:07.042 WARN  history location skipped: /var/log/openlava/x\\u001b]0;owned\\u0007\\u001b[8m is owned by uid 65534 path=/var/log/openlava/x\\u001b]0;owned\\u0007\\u001b[8m c1=\\u009b2K\n',
    );
  });

  it('writes lines for a person to a terminal stderr, not JSON', () => {
    const script = `import('${new URL('../../src/daemon/log.js', import.meta.url).href}').then(async (m) => {
      const s = await m.setupLoggingAsync({ file: null, level: 'info', max_bytes: 1e6, keep: 1 }, { host: 'h', env: {}, stderrIsTty: true });
      s.log.info({ a: 1 }, 'hello');
    })`;
    const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, /^\d\d:\d\d:\d\d\.\d{3} INFO  hello a=1\n$/);
  });
});

describe('an $LSF_LOGDIR that does not exist', () => {
  it('is skipped with the reason, and not created', async () => {
    const { dir, cleanup } = tempDir();
    try {
      const logdir = join(dir, 'lsf', 'log');
      const setup = await setupLoggingAsync({ ...defaultConfig().log, file: null }, { host: 'h', env: { LSF_LOGDIR: logdir }, stderrIsTty: true });
      await setup.close(100);
      assert.equal(setup.target.kind, 'stderr');
      assert.deepEqual(setup.skipped, [`${join(logdir, 'lavarank.h.log')} ($LSF_LOGDIR): ${logdir} does not exist, and lavarank does not create OpenLava's directory`]);
      assert.equal(existsSync(join(dir, 'lsf')), false);
    } finally {
      cleanup();
    }
  });
});

// settle's last resort: the location being checked and every one after it held (a FUSE
// server that answers nothing), so none opens within the exit's time. Under LIM stderr is
// /dev/null; here a child process's stderr is read.
describe('setupLoggingBeside with every log location held', { skip: process.getuid?.() !== 0 || !existsSync('/dev/fuse') ? 'needs root and /dev/fuse' : false }, () => {
  it('writes the records kept to stderr at a stop, with one line that says how many are lost and which check had not returned', async (t) => {
    const dir = testDir(t);
    const mount = join(dir, 'mnt');
    mkdirSync(mount, { mode: 0o755 });
    const server = await fuseHangOver(mount, 'none');
    const script = [
      `const { setupLoggingBeside } = await import(${JSON.stringify(join(repoRoot, 'dist', 'src', 'daemon', 'log.js'))});`,
      `const { defaultConfig } = await import(${JSON.stringify(join(repoRoot, 'dist', 'src', 'config', 'config.js'))});`,
      `const setup = setupLoggingBeside({ ...defaultConfig().log, file: ${JSON.stringify(join(mount, 'lavarank.log'))} }, { host: 'h1', env: { LSF_LOGDIR: ${JSON.stringify(join(mount, 'logdir'))} }, stderrIsTty: false });`,
      "setup.log.info('kept while the location was checked');",
      'await setup.close(400);',
      "process.stdout.write('settled\\n');",
    ].join('\n');
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    try {
      await until('the stop settled', () => (out.includes('settled') ? true : undefined), 20_000);
      const records = err.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>);
      assert.deepEqual(
        records.map((r) => r['msg']),
        // The line is kept as the others are, so it follows the records it counts.
        ['kept while the location was checked', `1 log records are lost: the check of ${join(mount, 'lavarank.log')} (log.file) had not returned, and no other log location could be opened, within the 400 ms the exit gives them; written to stderr`],
        err,
      );
    } finally {
      child.kill('SIGKILL');
      await unmountFuse(server, mount);
    }
  });
});
