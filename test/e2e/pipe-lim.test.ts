// The installed wrapper started by a LIM stand-in that does what OpenLava's LIM does
// and the FIFO harness does not: stdout the write end of a pipe(2) whose only reader
// is LIM, and a signal mask and ignored signals passed through execve with no shell
// in between (test/fixtures/bin/pipe-lim.py; fd 2 and above closed, cwd /tmp, nice
// -20 as root). Each test is one condition of shared/docs/elim-contract.md.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, constants, existsSync, openSync, readFileSync, readlinkSync, writeFileSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { describe, it } from 'node:test';
import { formatValue } from '../../src/daemon/report.js';
import { wrapperText } from '../../src/lsf/install.js';
import { RunQueueWait, cliPath, fixture, tempDir } from '../helpers.js';
import { isAlive, sleep, until } from '../faults/helpers.js';
import { REPORT_RE, threadNice } from './harness.js';

// A real python3, not a version manager's shell shim found on PATH.
const PYTHON = ['/usr/bin/python3', '/usr/local/bin/python3'].find((p) => existsSync(p));
const NEED_PYTHON = PYTHON === undefined ? 'needs /usr/bin/python3 for the LIM stand-in' : false;
const isRoot = process.getuid?.() === 0;

interface PipeLim {
  lim: ChildProcess;
  elimPid: number;
  dir: string;
  logFile: string;
  historyFile: string;
  chunks: Array<{ at: number; data: string }>; // what LIM read, chunk by chunk
  lines(): string[];
  status: Promise<number>; // the elim's wait status, as LIM reaped it
  send(command: 'pause' | 'resume' | 'close'): void;
  done: string[]; // the commands the stand-in has carried out, in order
  log(): string;
  stop(): Promise<void>;
}

// Installs a wrapper in a fresh directory and has the stand-in start it as LIM would.
async function startUnderLim(config: string, args: string[] = []): Promise<PipeLim> {
  const { dir, cleanup } = tempDir('lavarank-pipe-lim-');
  const logFile = join(dir, 'lavarank.log');
  const historyDir = join(dir, 'history');
  const configPath = join(dir, 'lavarank.yaml');
  writeFileSync(configPath, `log: {file: ${logFile}, level: debug}\nhistory: {dir: ${historyDir}}\ngpu: {enabled: false}\n${config}`, { mode: 0o644 });
  const wrapper = join(dir, 'elim');
  writeFileSync(wrapper, wrapperText(process.execPath, cliPath), { mode: 0o755 });
  const lim = spawn(PYTHON!, [fixture('bin', 'pipe-lim.py'), wrapper, '--config', configPath, ...args], {
    stdio: ['pipe', 'pipe', 'inherit'],
    env: { ...process.env, LSF_RESOURCES: 'rank ', LSF_MASTER: 'N' },
  });
  const started = Date.now();
  const chunks: PipeLim['chunks'] = [];
  const done: string[] = [];
  let resolveStatus: (s: number) => void = () => undefined;
  const status = new Promise<number>((resolve) => (resolveStatus = resolve));
  let resolvePid: (pid: number) => void = () => undefined;
  const pid = new Promise<number>((resolve) => (resolvePid = resolve));
  createInterface({ input: lim.stdout! }).on('line', (line) => {
    const [word, rest = ''] = [line.slice(0, line.indexOf(' ')), line.slice(line.indexOf(' ') + 1)];
    if (word === 'pid') resolvePid(Number(rest));
    else if (word === 'data') chunks.push({ at: Date.now() - started, data: JSON.parse(rest) as string });
    else if (word === 'exit') resolveStatus(Number(rest));
    else if (word === 'done') done.push(rest);
  });
  const elimPid = await pid;
  const limExited = new Promise<void>((resolve) => lim.once('exit', () => resolve()));
  return {
    lim,
    elimPid,
    dir,
    logFile,
    historyFile: join(historyDir, `${hostname()}.jsonl`),
    chunks,
    lines: () => chunks.map((c) => c.data).join('').split('\n').slice(0, -1),
    status,
    send: (command) => lim.stdin!.write(`${command}\n`),
    done,
    log: () => (existsSync(logFile) ? readFileSync(logFile, 'utf8') : ''),
    async stop() {
      if (isAlive(elimPid)) process.kill(elimPid, 'SIGTERM');
      await until('the elim to stop', () => (isAlive(elimPid) ? undefined : true), 5000).catch(() => process.kill(elimPid, 'SIGKILL'));
      if (lim.exitCode === null && lim.signalCode === null) {
        lim.kill('SIGKILL');
        await limExited;
      }
      cleanup();
    },
  };
}

// A mask line of /proc/<pid>/status as a number.
function sigset(pid: number, name: string): bigint {
  const hex = new RegExp(`^${name}:\\s*([0-9a-f]+)$`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
  assert.ok(hex !== undefined, `no ${name} in /proc/${pid}/status`);
  return BigInt(`0x${hex}`);
}
const bit = (signal: number): bigint => 1n << BigInt(signal - 1);
const SIG = { HUP: 1, INT: 2, QUIT: 3, PIPE: 13, TERM: 15 } as const;

// The elim's wait status as LIM's waitpid gives it, said in words.
function describeStatus(status: number): string {
  return (status & 0x7f) === 0 ? `exit ${status >> 8}` : `signal ${status & 0x7f}`;
}

describe('the elim started through its wrapper by a LIM that gives it a pipe(2)', { concurrency: false, skip: NEED_PYTHON }, () => {
  it('with every signal blocked and TERM, INT, HUP, QUIT and PIPE ignored, fd 2 closed, at nice -20: reports whole on the pipe, undoes the mask, outlives INT, HUP, QUIT and PIPE, and ends on SIGTERM with status 0 within 2 s', async () => {
    const elim = await startUnderLim('', ['--test-interval', '0.2']);
    try {
      await until('three reports', () => (elim.lines().length >= 3 ? true : undefined));
      const pid = elim.elimPid;
      assert.match(readlinkSync(`/proc/${pid}/fd/1`), /^pipe:/, 'stdout is not a pipe');
      assert.equal(readlinkSync(`/proc/${pid}/fd/2`), '/dev/null', 'fd 2, closed by LIM, is what Node reopens');
      assert.equal(readlinkSync(`/proc/${pid}/cwd`), '/', 'the elim stayed in LIM\'s /tmp');
      assert.equal(sigset(pid, 'SigBlk'), 0n, 'signals are still blocked in the daemon');
      for (const s of ['TERM', 'INT', 'HUP', 'QUIT'] as const) {
        assert.equal(sigset(pid, 'SigIgn') & bit(SIG[s]), 0n, `SIG${s} is still ignored in the daemon`);
        assert.notEqual(sigset(pid, 'SigCgt') & bit(SIG[s]), 0n, `SIG${s} has no handler in the daemon`);
      }
      if (isRoot) assert.deepEqual(new Set(threadNice(pid)), new Set([10]), `thread nice values: ${threadNice(pid).join(', ')}`);
      for (const s of ['SIGINT', 'SIGHUP', 'SIGQUIT', 'SIGPIPE'] as const) process.kill(pid, s);
      const before = elim.lines().length;
      await until('three more reports', () => (elim.lines().length >= before + 3 ? true : undefined));
      assert.ok(isAlive(pid), 'a signal other than SIGTERM ended the elim');
      // Judged, as assertStopsOnSigterm judges it, by the wall time less the time the
      // elim's main thread waited on a run queue for a CPU (a loaded host's, not the elim's).
      const queued = new RunQueueWait(pid);
      const sent = Date.now();
      process.kill(pid, 'SIGTERM');
      const status = await Promise.race([elim.status, sleep(10_000).then(() => undefined)]);
      queued.stop();
      const ms = Date.now() - sent;
      const waitedMs = Math.round(queued.waitedMs());
      assert.ok(status !== undefined, `still running 10 s after SIGTERM (${waitedMs} ms of them waiting for a CPU)`);
      assert.equal(describeStatus(status), 'exit 0');
      assert.ok(ms - waitedMs < 2000, `exited ${ms} ms after SIGTERM, of which ${waitedMs} ms waiting for a CPU`);
      for (const c of elim.chunks) assert.ok(c.data.endsWith('\n'), `a read ended inside a report: ${JSON.stringify(c.data)}`);
      for (const line of elim.lines()) assert.match(line, REPORT_RE);
      assert.match(elim.log(), /"msg":"stopping: SIGTERM"/);
    } finally {
      await elim.stop();
    }
  });

  it('LIM not reading, its pipe(2) full of old reports: the elim keeps its schedule, and LIM reading again gets one report, the newest, not the backlog', async (t) => {
    const elim = await startUnderLim('', ['--test-interval', '0.2']);
    try {
      await until('a report', () => (elim.lines().length >= 1 ? true : undefined));
      elim.send('pause');
      await until('the stand-in to stop reading', () => (elim.done.includes('pause') ? true : undefined));
      // Fill the pipe through the elim's own descriptor, as ~6000 unread reports would.
      const fd = openSync(`/proc/${elim.elimPid}/fd/1`, constants.O_WRONLY | constants.O_NONBLOCK);
      let held = 0;
      try {
        for (const old = Buffer.from('1 rank 999\n'.repeat(372)); ; ) held += writeSync(fd, old);
      } catch {
        // EAGAIN: full
      } finally {
        closeSync(fd);
      }
      t.diagnostic(`the pipe held ${held} bytes of old reports`);
      const historyLines = (): string[] => (existsSync(elim.historyFile) ? readFileSync(elim.historyFile, 'utf8').split('\n').slice(0, -1) : []);
      // A batch of history (six ticks) while nobody reads: a blocked elim writes none.
      // Waited for, not timed: at nice 10 beside two busy loops at a load of 20 it took
      // over 3 s in 2 runs of 3 (0 ticks counted in 3 s).
      const ticksBefore = historyLines().length;
      await until('six ticks with nobody reading', () => (historyLines().length >= ticksBefore + 6 ? true : undefined), 60_000);
      const from = elim.chunks.length;
      const resumedAt = Date.now();
      elim.send('resume');
      const first = await until('a read after resuming', () => elim.chunks[from]?.data);
      // What LIM read was written before the test heard of it: an upper bound that holds
      // however late the stand-in (a process of its own) got to 'resume' on a loaded host
      // (with the 300 ms the bound at the resume had: a record's ts is taken just after its write).
      const heardAt = Date.now();
      assert.notEqual(first, '1 rank 999\n', 'LIM got the backlog');
      assert.equal(first.split('\n').length, 2, `LIM's first read held more than one report: ${JSON.stringify(first)}`);
      // History is written six ticks at a time: once it is past the resume, the ticks
      // just before it are there, and what LIM read must be one of them.
      type Rec = { ts: number; rank: number };
      const records = (): Rec[] => historyLines().map((l) => JSON.parse(l) as Rec);
      await until('history past the read', () => (records().some((r) => r.ts > heardAt + 300) ? true : undefined));
      const around = records()
        .filter((r) => r.ts > resumedAt - 700 && r.ts < heardAt + 300)
        .map((r) => `1 rank ${formatValue(r.rank)}\n`);
      assert.ok(around.includes(first), `LIM read ${JSON.stringify(first)}, not one of the reports written around its return ${JSON.stringify(around)}`);
      assert.match(elim.log(), /"msg":"LIM had not read the previous report/);
    } finally {
      await elim.stop();
    }
  });

  it('LIM closes its read end and stays: the elim exits with status 0 at its next report, quietly', async () => {
    const elim = await startUnderLim('', ['--test-interval', '0.5']);
    try {
      await until('a report', () => (elim.lines().length >= 1 ? true : undefined));
      // Once the history's file is readied (made when its directory's check returns), its
      // first batch still held: readied at the stop instead (a walk in libuv's pool), it
      // outlasted the 300 ms the stop gives its last lines, beside two busy loops at a load
      // of 25-30 (1 run of 3; docs/reliability.md, lim69).
      await until('the history file readied', () => (existsSync(elim.historyFile) ? true : undefined), 60_000);
      const queued = new RunQueueWait(elim.elimPid);
      const closed = Date.now();
      elim.send('close');
      const status = await Promise.race([elim.status, sleep(15_000).then(() => undefined)]);
      queued.stop();
      const ms = Date.now() - closed;
      const waitedMs = Math.round(queued.waitedMs());
      assert.ok(status !== undefined, `still running ${ms} ms after LIM closed the pipe, with a 0.5 s interval`);
      // Its next report, then the stop: judged less its main thread's wait for a CPU.
      assert.ok(ms - waitedMs < 3000, `exited ${ms} ms after LIM closed the pipe, with a 0.5 s interval, of which ${waitedMs} ms waiting for a CPU`);
      assert.equal(describeStatus(status), 'exit 0');
      assert.match(elim.log(), /"msg":"stdout closed by the reader; exiting"/);
      assert.doesNotMatch(elim.log(), /"level":"(error|fatal)"/);
    } finally {
      await elim.stop();
    }
  });

  it('LIM killed with SIGKILL, the pipe(2) closing with it: the elim exits at its next report, within one interval (5 s) and 2 s', async (t) => {
    const elim = await startUnderLim('interval: 5\n');
    try {
      await until('the first report', () => (elim.lines().length >= 1 ? true : undefined));
      const queued = new RunQueueWait(elim.elimPid);
      const killed = Date.now();
      elim.lim.kill('SIGKILL');
      await until('the elim to end', () => (isAlive(elim.elimPid) ? undefined : true), 15_000);
      queued.stop();
      const outlived = Date.now() - killed;
      const waitedMs = Math.round(queued.waitedMs());
      t.diagnostic(`the elim outlived LIM by ${outlived} ms, ${waitedMs} ms of them waiting for a CPU`);
      assert.ok(outlived - waitedMs < 7000, `the elim outlived LIM by ${outlived} ms with a 5 s interval, of which ${waitedMs} ms waiting for a CPU`);
      assert.match(elim.log(), /"msg":"(stdout closed by the reader; exiting|stopping: parent process \d+ is gone \(LIM killed\?\))"/);
      assert.doesNotMatch(elim.log(), /"level":"(error|fatal)"/);
    } finally {
      await elim.stop();
    }
  });
});
