import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { FakeClock } from '../../src/util/clock.js';
import { createGpuCollector, freshGpuReading, judgeQuery, launchVia, parseNvidiaSmi, parseNvidiaSmiPartial, summarizeGpus, type GpuOptions, type ProgramCheck } from '../../src/collectors/gpu.js';
import { CollectorError } from '../../src/util/errors.js';
import { eventually, fixture, recordingLog, tempDir, withEnv } from './helpers.js';
import { RunQueueWait, readPidFile } from '../helpers.js';
import { fuseHangOver, unmountFuse } from '../faults/helpers.js';

const NEED_FUSE = process.getuid?.() !== 0 || !existsSync('/dev/fuse') ? 'needs root and /dev/fuse' : false;

// A vetting rule that lets every program run: these tests are about the query itself.
const allowAll = (path: string): ProgramCheck => ({ problems: [], path });

// A collector over a fake nvidia-smi, closed when the test ends.
function gpu(t: TestContext, bin: string, options: GpuOptions = {}) {
  const c = createGpuCollector({ command: fixture('bin', bin), intervalMs: 20, checkProgram: allowAll, ...options });
  t.after(() => c.close?.());
  return c;
}

// The first failure collect() throws, once the background query has given one.
function failureOf(c: { collect(monotonicMs: number): unknown }): Promise<unknown> {
  return eventually(() => {
    try {
      c.collect(performance.now());
      return undefined;
    } catch (err) {
      return err;
    }
  });
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false; // ESRCH: the process is gone, which is what the caller is waiting for
  }
}

test('parseNvidiaSmi reads one line per GPU', () => {
  assert.deepEqual(parseNvidiaSmi('45, 1024, 16384\n85, 15000, 16384\n'), [
    { utilPercent: 45, memUsedMiB: 1024, memTotalMiB: 16384 },
    { utilPercent: 85, memUsedMiB: 15000, memTotalMiB: 16384 },
  ]);
});

test('parseNvidiaSmi leaves out fields printed as [Not Supported] or [N/A]', () => {
  assert.deepEqual(parseNvidiaSmi('[Not Supported], 2048, 8192\n3, [N/A], [N/A]\n'), [
    { memUsedMiB: 2048, memTotalMiB: 8192 },
    { utilPercent: 3 },
  ]);
});

// NVML documents that utilisation is not given for a MIG-enabled GPU and memory is (in
// aggregate, to root), so such a GPU is read by its memory, never as a GPU in trouble.
test('parseNvidiaSmi reads a GPU in MIG mode, [N/A] utilisation and its memory, by its memory alone', () => {
  const rows = parseNvidiaSmi('[N/A], 40960, 81920\n12, 1024, 81920\n');
  assert.deepEqual(rows, [{ memUsedMiB: 40960, memTotalMiB: 81920 }, { utilPercent: 12, memUsedMiB: 1024, memTotalMiB: 81920 }]);
  assert.deepEqual(summarizeGpus(rows, 0), { count: 2, ageMs: 0, utilMean: 0.12, utilMax: 0.12, memUsedFraction: 0.5 });
});

test('parseNvidiaSmi names the line of output that is not the CSV asked for', () => {
  assert.throws(
    () => parseNvidiaSmi('45, 1024, 16384\nNVIDIA-SMI has failed\n', 'nvidia-smi output'),
    (err: unknown) => err instanceof CollectorError && /nvidia-smi output line 2: expected 3 comma-separated values/.test(err.message),
  );
  assert.throws(() => parseNvidiaSmi('45, lots, 16384\n'), /"lots" is neither a number nor \[Not Supported\]/);
});

// nvidia-smi prints these in place of a value for a GPU that has failed: read as a field
// the board does not report, the GPU passed for an idle one (utilisation 0 %), unnoticed
// even with gpu.enabled true; refused, they failed the whole query, the healthy GPUs' values too.
test('parseNvidiaSmi keeps a GPU that reports [GPU requires reset] or [Unknown Error] as that error alone, named by its index', () => {
  assert.deepEqual(parseNvidiaSmi('0, 0, 81920\n[GPU requires reset], [GPU requires reset], [GPU requires reset]\n3, [Unknown Error], 81920\n'), [
    { utilPercent: 0, memUsedMiB: 0, memTotalMiB: 81920 },
    { fault: '1: [GPU requires reset]' },
    { fault: '2: [Unknown Error]' },
  ]);
  assert.deepEqual(parseNvidiaSmi('[Unknown Error], 1000, 81920\n'), [{ fault: '0: [Unknown Error]' }]);
  assert.throws(() => parseNvidiaSmi('[GPU \u001b[2J], 1000, 81920\n'), /"\[GPU \u001b\[2J\]" is neither a number/, 'a control character, which the log and a terminal would take as it is');
});

const LOST = 'Unable to determine the device handle for GPU 0000:3B:00.0: GPU is lost. Reboot the system to recover this GPU';

test('parseNvidiaSmiPartial keeps the whole rows of a failed query and names each GPU it could not reach, on stdout or stderr', () => {
  const rows = [
    { utilPercent: 45, memUsedMiB: 1024, memTotalMiB: 16384 },
    { utilPercent: 85, memUsedMiB: 15000, memTotalMiB: 16384 },
  ];
  const lost = ['0000:3B:00.0: GPU is lost. Reboot the system to recover this GPU'];
  assert.deepEqual(parseNvidiaSmiPartial(`45, 1024, 16384\n${LOST}\n85, 15000, 16384\n`, ''), { rows, lost });
  assert.deepEqual(parseNvidiaSmiPartial('45, 1024, 16384\n85, 15000, 16384\n', `${LOST}\n`), { rows, lost });
  assert.deepEqual(parseNvidiaSmiPartial('3, 10, 80\n', 'Unable to determine the device handle for gpu0000:0B:00.0: Unknown Error\n'), {
    rows: [{ utilPercent: 3, memUsedMiB: 10, memTotalMiB: 80 }],
    lost: ['0000:0B:00.0: Unknown Error'],
  });
});

// The lost GPU's line takes its place in nvidia-smi's list, so a GPU in trouble after it keeps its index.
test('parseNvidiaSmiPartial keeps a GPU in trouble among the rows, counting the lost GPU in its index', () => {
  assert.deepEqual(parseNvidiaSmiPartial(`45, 1024, 16384\n${LOST}\n[GPU requires reset], 0, 80\n`, ''), {
    rows: [{ utilPercent: 45, memUsedMiB: 1024, memTotalMiB: 16384 }, { fault: '2: [GPU requires reset]' }],
    lost: ['0000:3B:00.0: GPU is lost. Reboot the system to recover this GPU'],
  });
  // Whether nvidia-smi exits 0 with such a row is not known: a non-zero exit keeps the healthy rows too.
  assert.deepEqual(parseNvidiaSmiPartial('45, 1024, 16384\n[GPU requires reset], 0, 80\n', ''), {
    rows: [{ utilPercent: 45, memUsedMiB: 1024, memTotalMiB: 16384 }, { fault: '1: [GPU requires reset]' }],
    lost: [],
  });
});

test('parseNvidiaSmiPartial gives nothing where a line is neither a whole row nor an unreachable GPU in plain text, or no GPU was read', () => {
  assert.equal(parseNvidiaSmiPartial('45, 1024, 16384\n', ''), undefined);
  assert.equal(parseNvidiaSmiPartial(`${LOST}\n`, ''), undefined);
  assert.equal(parseNvidiaSmiPartial(`45, 1024\n${LOST}\n`, ''), undefined);
  assert.equal(parseNvidiaSmiPartial(`45, 1024, 16384\n${LOST}\n`, 'Failed to initialize NVML: Unknown Error\n'), undefined);
  assert.equal(parseNvidiaSmiPartial(`45, 1024, 16384\n${LOST}\u001b[2J\n`, ''), undefined, 'a control character, which the log and a terminal would take as it is');
});

// A finished query's result as runIsolated gives it.
function ran(fields: { stdout?: string; stderr?: string; exitCode?: number; reason?: string }) {
  const failed = fields.exitCode !== 0 || fields.reason !== undefined;
  return { stdout: fields.stdout ?? '', stderr: fields.stderr ?? '', exitCode: fields.exitCode, failed, timedOut: false, ...(fields.reason === undefined ? {} : { reason: fields.reason }) };
}

test('judgeQuery reads the healthy GPUs of a query that exited 15 and names the lost one and the one in trouble', () => {
  const verdict = judgeQuery(ran({ stdout: `45, 1024, 16384\n${LOST}\n[GPU requires reset], 0, 80\n`, exitCode: 15, reason: 'Command failed with exit code 15' }), 'nvidia-smi');
  assert.deepEqual(verdict, {
    kind: 'incomplete',
    rows: [{ utilPercent: 45, memUsedMiB: 1024, memTotalMiB: 16384 }],
    lost: ['0000:3B:00.0: GPU is lost. Reboot the system to recover this GPU', '2: [GPU requires reset]'],
    message: '2 GPUs cannot be reached, GPU 0000:3B:00.0: GPU is lost. Reboot the system to recover this GPU; GPU 2: [GPU requires reset]; the other 1 is read',
  });
  assert.deepEqual(judgeQuery(ran({ stdout: '[GPU requires reset], 0, 80\n', exitCode: 0 }), 'nvidia-smi'), { kind: 'failed', message: 'no GPU gives its values: GPU 0: [GPU requires reset]' });
  assert.deepEqual(judgeQuery(ran({ stdout: '3, 10, 80\n', exitCode: 0 }), 'nvidia-smi'), { kind: 'read', rows: [{ utilPercent: 3, memUsedMiB: 10, memTotalMiB: 80 }] });
});

test('judgeQuery tells a command that cannot be started from one that failed, and quotes why the failed one said it did', () => {
  assert.deepEqual(judgeQuery(ran({ reason: 'Command failed with ENOENT: nvidia-smi not found on PATH' }), 'nvidia-smi'), {
    kind: 'missing',
    problem: 'nvidia-smi cannot be run: Command failed with ENOENT: nvidia-smi not found on PATH',
  });
  const driver = "NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver.";
  assert.deepEqual(judgeQuery(ran({ stdout: `${driver}\n`, exitCode: 9, reason: 'Command failed with exit code 9\nmore' }), 'nvidia-smi'), {
    kind: 'failed',
    message: `Command failed with exit code 9; it printed: ${JSON.stringify(driver)}`,
  });
});

test('launchVia starts the command by the path the launcher\'s check resolved, and directly only with the reason', () => {
  assert.deepEqual(launchVia('/usr/bin/nvidia-smi', { problems: [], path: '/usr/bin/env' }), { launcherPath: '/usr/bin/env' });
  assert.deepEqual(launchVia('/opt/a=b/nvidia-smi', { problems: [], path: '/usr/bin/env' }), { direct: 'its path holds "=", which /usr/bin/env would take for a variable' });
  assert.deepEqual(launchVia('/usr/bin/nvidia-smi', { problems: ['group-writable', 'owned by uid 1000'], path: '/usr/bin/env' }), {
    direct: '/usr/bin/env refused: group-writable; owned by uid 1000',
  });
  assert.deepEqual(launchVia('/usr/bin/nvidia-smi', { problems: [], path: undefined }), { direct: '/usr/bin/env refused: the check resolved no path' });
  assert.deepEqual(launchVia('/usr/bin/nvidia-smi', undefined), {}, 'a command refused before the launcher was checked');
});

test('summarizeGpus gives the mean and max utilisation and the fullest GPU', () => {
  assert.deepEqual(
    summarizeGpus(
      [
        { utilPercent: 20, memUsedMiB: 100, memTotalMiB: 1000 },
        { utilPercent: 60, memUsedMiB: 750, memTotalMiB: 1000 },
      ],
      5,
    ),
    { count: 2, utilMean: 0.4, utilMax: 0.6, memUsedFraction: 0.75, ageMs: 5 },
  );
});

test('parseNvidiaSmi refuses a negative value and a line of more than 3 values', () => {
  assert.throws(() => parseNvidiaSmi('-5, 1024, 16384\n'), /"-5" is neither a number nor \[Not Supported\]/);
  assert.throws(() => parseNvidiaSmi('45, 1024, 16384, 7\n'), /line 1: expected 3 comma-separated values, found 4/);
});

test('summarizeGpus holds utilisation within 0..1 and leaves out a GPU that reports no memory total', () => {
  assert.deepEqual(
    summarizeGpus(
      [
        { utilPercent: 150, memUsedMiB: 10, memTotalMiB: 0 },
        { utilPercent: 50, memUsedMiB: 0, memTotalMiB: 0 },
      ],
      0,
    ),
    { count: 2, utilMean: 0.75, utilMax: 1, ageMs: 0 },
  );
});

test('an nvidia-smi that lists no GPU gives nothing in auto mode and a failure with enabled true', async (t) => {
  const clock = new FakeClock();
  // One query each, judged once it has ended (ready()), whatever the machine's load: a
  // wait of 15 s for the message, with a query every 20 ms and any other failure taken
  // for "not yet", ran out in a full run at a load of about 20 and said nothing more.
  const auto = gpu(t, 'nvidia-smi-none', { clock, intervalMs: 60_000 });
  const strict = gpu(t, 'nvidia-smi-none', { clock, enabled: true, intervalMs: 60_000 });
  await Promise.all([auto.ready!(), strict.ready!()]);
  assert.throws(() => strict.collect(clock.monotonic()), (err: unknown) => err instanceof CollectorError && err.message === `gpu: ${fixture('bin', 'nvidia-smi-none')} listed no GPU`);
  assert.equal(auto.collect(clock.monotonic()), undefined);
});

test('without staleAfterMs a result is used for three intervals, and not after', async (t) => {
  const clock = new FakeClock();
  const c = gpu(t, 'nvidia-smi-ok', { clock, intervalMs: 60_000 });
  await eventually(() => c.collect(0));
  assert.ok(c.collect(180_000) !== undefined);
  assert.equal(c.collect(180_001), undefined);
});

test('the collector hands out the background query result with its age', async (t) => {
  const clock = new FakeClock();
  const c = gpu(t, 'nvidia-smi-ok', { clock, intervalMs: 60_000 });
  const r = await eventually(() => c.collect(clock.monotonic()));
  assert.equal(r.count, 2);
  assert.equal(r.utilMean, 0.65);
  assert.equal(r.utilMax, 0.85);
  assert.equal(r.memUsedFraction, 15000 / 16384);
  assert.equal(c.collect(clock.monotonic() + 1234)?.ageMs, 1234);
});

test('a result older than staleAfterMs is not used', async (t) => {
  const clock = new FakeClock();
  const c = gpu(t, 'nvidia-smi-ok', { clock, intervalMs: 60_000, staleAfterMs: 90_000 });
  await eventually(() => c.collect(0));
  assert.ok(c.collect(90_000) !== undefined);
  assert.equal(c.collect(90_001), undefined);
});

test('GPUs that print [Not Supported] for utilisation still report memory', async (t) => {
  const c = gpu(t, 'nvidia-smi-not-supported');
  const r = await eventually(() => c.collect(performance.now()));
  assert.deepEqual({ ...r, ageMs: 0 }, { count: 2, memUsedFraction: 0.25, ageMs: 0 });
});

test('an absent nvidia-smi makes the GPU unavailable and is logged once', async (t) => {
  const { log, entries } = recordingLog();
  const c = gpu(t, 'no-such-nvidia-smi', { log });
  await eventually(() => (entries().length > 0 ? true : undefined));
  assert.equal(c.collect(performance.now()), undefined);
  await new Promise((resolve) => setTimeout(resolve, 100));
  assert.deepEqual(
    entries().map((e) => e.level),
    ['info'],
  );
  assert.match(entries()[0]?.msg ?? '', /cannot be run: .*ENOENT.*; GPU features unavailable/);
});

test('an absent nvidia-smi is retried at the slow missing-tool interval, not every interval', async (t) => {
  const dir = tempDir(t);
  const command = join(dir, 'nvidia-smi');
  const slow = createGpuCollector({ command, intervalMs: 20, checkProgram: allowAll });
  const fast = createGpuCollector({ command, intervalMs: 20, missingRetryMs: 50, checkProgram: allowAll });
  t.after(() => {
    slow.close?.();
    fast.close?.();
  });
  await new Promise((resolve) => setTimeout(resolve, 100));
  copyFileSync(fixture('bin', 'nvidia-smi-ok'), command);
  await eventually(() => fast.collect(performance.now()));
  assert.equal(slow.collect(performance.now()), undefined);
});

test('with enabled true an absent nvidia-smi is a failure the sampler will report', async (t) => {
  const c = gpu(t, 'no-such-nvidia-smi', { enabled: 'true' });
  const err = await failureOf(c);
  assert.ok(err instanceof CollectorError);
  assert.match(err.message, /gpu: .*no-such-nvidia-smi cannot be run/);
});

test('garbage output is logged at warn once, then at debug while it repeats', async (t) => {
  const { log, entries } = recordingLog();
  const c = gpu(t, 'nvidia-smi-garbage', { log });
  await eventually(() => (entries().length >= 3 ? true : undefined));
  const levels = entries().map((e) => e.level);
  assert.equal(levels[0], 'warn');
  assert.ok(levels.slice(1).every((l) => l === 'debug'), levels.join(','));
  assert.equal(c.collect(performance.now()), undefined);
});

test('output the parser refuses is the failure named once by the collector, not "gpu: gpu:"', async (t) => {
  const { log, entries } = recordingLog();
  const c = gpu(t, 'nvidia-smi-garbage', { enabled: true, log });
  const err = await failureOf(c);
  assert.match(String(err), /^CollectorError: gpu: \/\S*nvidia-smi-garbage output line 1: /);
  assert.match(entries()[0]?.msg ?? '', /^GPU query failed: \/\S*nvidia-smi-garbage output line 1: /);
});

// A real nvidia-smi prints about 20 bytes a GPU; 60 000 rows (1 MB, under the default
// 1 MiB bound) took the daemon from 47 to 68 MiB of RSS and held its reports for seconds.
test('output far past what nvidia-smi prints for any number of GPUs ends the query and is the failure, not thousands of GPUs', async (t) => {
  const { log, entries } = recordingLog();
  const c = gpu(t, 'nvidia-smi-flood', { enabled: true, intervalMs: 60_000, log });
  await c.ready!();
  assert.throws(() => c.collect(performance.now()), (err: unknown) => err instanceof CollectorError && /output exceeded 65536 bytes/.test(err.message));
  assert.match(entries()[0]?.msg ?? '', /^GPU query failed: Command's output exceeded 65536 bytes: \S*nvidia-smi-flood/);
});

test('a failing nvidia-smi with enabled true fails with its exit code', async (t) => {
  const c = gpu(t, 'nvidia-smi-fails', { enabled: true });
  await failureOf(c).then((err) => assert.match(String(err), /exit code 6/));
});

// The exit status alone (9) did not say that the driver is not loaded; nvidia-smi prints it.
test('a failing nvidia-smi fails with what it printed, which names a driver that is not loaded', async (t) => {
  const { log, entries } = recordingLog();
  const c = gpu(t, 'nvidia-smi-no-driver', { enabled: true, log });
  const err = await failureOf(c);
  assert.match(String(err), /exit code 9.*; it printed: "NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver/);
  assert.match(entries()[0]?.msg ?? '', /it printed: "NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver/);
});

// nvidia-smi goes on past a GPU fallen off the bus and exits 15: the whole query was taken
// for a failure, and the healthy GPUs' values were dropped with the lost one's.
test('a GPU lost among several: the others are read, and the lost one is named in the log once', async (t) => {
  const { log, entries } = recordingLog();
  const c = gpu(t, 'nvidia-smi-lost', { enabled: true, log });
  const reading = await eventually(() => c.collect(performance.now()));
  assert.deepEqual({ ...reading, ageMs: 0 }, { count: 2, utilMean: 0.65, utilMax: 0.85, memUsedFraction: 15000 / 16384, ageMs: 0, lost: ['0000:3B:00.0: GPU is lost. Reboot the system to recover this GPU'] });
  await eventually(() => (entries().some((e) => e.level === 'debug') ? true : undefined));
  assert.deepEqual(
    entries().filter((e) => e.level !== 'debug').map((e) => [e.level, e.msg]),
    [['warn', 'GPU query incomplete: a GPU cannot be reached, GPU 0000:3B:00.0: GPU is lost. Reboot the system to recover this GPU; the other 2 are read']],
  );
});

// [GPU requires reset] in one GPU's row failed the whole query: the healthy GPUs' values
// were dropped, and with gpu.enabled true the collector failed at every report.
test('GPUs in trouble among several: the others are read, and each one in trouble is named by its index in the log once', async (t) => {
  const { log, entries } = recordingLog();
  const c = gpu(t, 'nvidia-smi-reset', { enabled: true, log });
  const reading = await eventually(() => c.collect(performance.now()));
  assert.deepEqual({ ...reading, ageMs: 0 }, { count: 2, utilMean: 0.65, utilMax: 0.85, memUsedFraction: 15000 / 16384, ageMs: 0, lost: ['1: [GPU requires reset]', '3: [Unknown Error]'] });
  await eventually(() => (entries().some((e) => e.level === 'debug') ? true : undefined));
  assert.deepEqual(
    entries().filter((e) => e.level !== 'debug').map((e) => [e.level, e.msg]),
    [['warn', 'GPU query incomplete: 2 GPUs cannot be reached, GPU 1: [GPU requires reset]; GPU 3: [Unknown Error]; the other 2 are read']],
  );
});

// A single GPU in trouble leaves nothing to read: the query has failed, as before, naming it.
test('a query whose every GPU is in trouble fails, naming each', async (t) => {
  const c = gpu(t, 'nvidia-smi-reset-all', { enabled: true });
  const err = await failureOf(c);
  assert.ok(err instanceof CollectorError, String(err));
  assert.equal(err.message, 'gpu: no GPU gives its values: GPU 0: [GPU requires reset]');
  const quiet = gpu(t, 'nvidia-smi-reset-all', { enabled: 'auto' });
  await quiet.ready!();
  assert.equal(quiet.collect(performance.now()), undefined);
});

test('a hung nvidia-smi does not delay collect, and close kills it', async (t) => {
  const pidFile = join(tempDir(t), 'pid');
  withEnv(t, 'FAKE_GPU_PIDFILE', pidFile);
  const c = createGpuCollector({ command: fixture('bin', 'nvidia-smi-hang'), timeoutMs: 30_000, checkProgram: allowAll });
  // The fake writes its PID first thing; at a load of 25 that took over 15 s. 120 s
  // only guard against a query never started.
  const pid = await eventually(() => readPidFile(pidFile), 120_000);
  const queued = new RunQueueWait(process.pid); // this thread, which collect runs on
  const started = performance.now();
  assert.equal(c.collect(performance.now()), undefined);
  const ms = performance.now() - started;
  queued.poll();
  queued.stop();
  // A query that waited would take the 30 s timeout. Judged less the time this thread
  // waited for a CPU, which on a loaded host says nothing of collect.
  const waited = queued.waitedMs();
  assert.ok(ms - waited < 1000, `collect returned after ${Math.round(ms)} ms, ${Math.round(waited)} of them waiting for a CPU`);
  assert.ok(isAlive(pid));
  c.close?.();
  await eventually(() => (isAlive(pid) ? undefined : true));
});

test("aborting the daemon's signal kills a hung query and stops the polling", async (t) => {
  const pidFile = join(tempDir(t), 'pid');
  withEnv(t, 'FAKE_GPU_PIDFILE', pidFile);
  const daemon = new AbortController();
  const { log, entries } = recordingLog();
  gpu(t, 'nvidia-smi-hang', { timeoutMs: 30_000, signal: daemon.signal, log });
  const pid = await eventually(() => readPidFile(pidFile));
  rmSync(pidFile);
  daemon.abort();
  await eventually(() => (isAlive(pid) ? undefined : true));
  await new Promise((resolve) => setTimeout(resolve, 100));
  assert.equal(existsSync(pidFile), false, 'no new query after the abort');
  assert.deepEqual(entries(), [], 'a cancelled query at shutdown is not logged as a failure');
});

test('a hung nvidia-smi is killed at the timeout and the failure logged', async (t) => {
  const pidFile = join(tempDir(t), 'pid');
  withEnv(t, 'FAKE_GPU_PIDFILE', pidFile);
  const { log, entries } = recordingLog();
  // The one query must write its PID before the timeout kills it: at 100 ms a loaded
  // host could kill the shell before its echo, leaving no PID file (or an empty one).
  gpu(t, 'nvidia-smi-hang', { timeoutMs: 2000, intervalMs: 60_000, log });
  // Waits, not timings: a loaded CI host may take seconds to start the fake and reap it.
  const pid = await eventually(() => readPidFile(pidFile), 15_000);
  await eventually(() => (isAlive(pid) ? undefined : true), 15_000);
  await eventually(() => entries()[0], 15_000);
  assert.match(entries()[0]?.msg ?? '', /timed out after 2000 milliseconds/);
});

// A program a wrapper started, or that nvidia-smi left behind, holding the query's output:
// only the direct child was killed, so the query waited for it (60 s here), said to be
// stuck; the timeout ends the query's whole process group.
test("a query's timeout ends what the program started too, with its process group", async (t) => {
  const pidFile = join(tempDir(t), 'pid');
  withEnv(t, 'FAKE_GPU_PIDFILE', pidFile);
  const { log, entries } = recordingLog();
  // 2 s, as above: a shorter timeout could kill the shell on a loaded host before it wrote the PID.
  const c = gpu(t, 'nvidia-smi-stuck', { timeoutMs: 2000, intervalMs: 60_000, enabled: true, log });
  const pid = await eventually(() => readPidFile(pidFile), 15_000);
  t.after(() => {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // ESRCH: already gone
    }
  });
  await c.ready!();
  assert.match(entries()[0]?.msg ?? '', /GPU query failed: Command timed out after 2000 milliseconds/);
  await eventually(() => (isAlive(pid) ? undefined : true), 15_000);
});

// An nvidia-smi stuck in the kernel on a wedged driver outlives SIGKILL; so does a start
// whose exec waits on a file system that stopped answering (root's FUSE mount here, whose
// server holds what a main thread asks: the exec's lookup).
test('a query still running after its timeout (a program stuck in the kernel) is logged and is the failure, not waited on in silence', { skip: NEED_FUSE }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'lavarank-test-'));
  const bin = join(dir, 'bin');
  mkdirSync(bin, { mode: 0o755 });
  const server = await fuseHangOver(bin, 'exec');
  const { log, entries } = recordingLog();
  const c = createGpuCollector({ command: join(bin, 'nvidia-smi'), timeoutMs: 1000, intervalMs: 60_000, enabled: true, log, checkProgram: allowAll });
  // In this order: a look into the mount from this thread would wait as the exec does.
  t.after(async () => {
    c.close?.();
    await unmountFuse(server, bin);
    rmSync(dir, { recursive: true, force: true });
  });
  await c.ready!();
  assert.match(entries()[0]?.msg ?? '', /still running .* after its 1000 ms timeout/);
  assert.throws(() => c.collect(performance.now()), (err: unknown) => err instanceof CollectorError && /still running/.test(err.message));
});

// env starts the command (so that an exec waiting on its file system holds env, not the
// reports) only where it passes the same rule as the command.
test('a launcher the vetting rule refuses: the command is started directly, and a warning says so once', async (t) => {
  const { log, entries } = recordingLog();
  const refuseEnv = (path: string): ProgramCheck => (path === '/usr/bin/env' ? { problems: ['/usr/bin/env is not root\'s'], path: undefined } : { problems: [], path });
  const c = gpu(t, 'nvidia-smi-ok', { intervalMs: 20, log, checkProgram: refuseEnv });
  await eventually(() => c.collect(performance.now()));
  await eventually(() => (entries().length > 0 ? true : undefined));
  await new Promise((resolve) => setTimeout(resolve, 100));
  assert.deepEqual(
    entries().map((e) => [e.level, e.msg]),
    [['warn', `${fixture('bin', 'nvidia-smi-ok')} is started directly (/usr/bin/env refused: /usr/bin/env is not root's): an exec of it that waits on its file system would hold the reports`]],
  );
});

// env would take the path for a variable, so runIsolated starts it directly; nothing said so.
test('a command whose path holds "=": it is started directly, and a warning says so once', async (t) => {
  const dir = join(tempDir(t), 'a=b');
  mkdirSync(dir);
  const program = join(dir, 'nvidia-smi');
  copyFileSync(fixture('bin', 'nvidia-smi-ok'), program);
  const { log, entries } = recordingLog();
  const c = createGpuCollector({ command: program, intervalMs: 20, log, checkProgram: allowAll });
  t.after(() => c.close?.());
  await eventually(() => c.collect(performance.now()));
  await eventually(() => (entries().length > 0 ? true : undefined));
  await new Promise((resolve) => setTimeout(resolve, 100));
  assert.deepEqual(
    entries().map((e) => [e.level, e.msg]),
    [['warn', `${program} is started directly (its path holds "=", which /usr/bin/env would take for a variable): an exec of it that waits on its file system would hold the reports`]],
  );
});

test('with enabled false nvidia-smi is never run', async (t) => {
  const calls = join(tempDir(t), 'calls');
  withEnv(t, 'FAKE_GPU_CALLS', calls);
  const c = gpu(t, 'nvidia-smi-ok', { enabled: 'false' });
  await new Promise((resolve) => setTimeout(resolve, 100));
  assert.equal(existsSync(calls), false);
  assert.equal(c.collect(performance.now()), undefined);
});

test('the query runs again every intervalMs', async (t) => {
  const calls = join(tempDir(t), 'calls');
  withEnv(t, 'FAKE_GPU_CALLS', calls);
  gpu(t, 'nvidia-smi-ok', { intervalMs: 30 });
  await eventually(() => (existsSync(calls) && readFileSync(calls, 'utf8').split('\n').length > 3 ? true : undefined));
});

test('freshGpuReading (the collector\'s staleness stage, called alone) reads a result up to staleAfterMs old that lists GPUs, naming those lost', () => {
  const rows = [{ utilPercent: 40, memUsedMiB: 1, memTotalMiB: 4 }, { utilPercent: 80, memUsedMiB: 3, memTotalMiB: 4 }];
  assert.equal(freshGpuReading(undefined, 1_000, 500), undefined);
  assert.deepEqual(freshGpuReading({ at: 1_000, rows }, 1_500, 500), { count: 2, ageMs: 500, utilMean: (0.4 + 0.8) / 2, utilMax: 0.8, memUsedFraction: 0.75 });
  assert.equal(freshGpuReading({ at: 1_000, rows }, 1_501, 500), undefined, 'older than staleAfterMs');
  assert.equal(freshGpuReading({ at: 1_000, rows: [] }, 1_000, 500), undefined, 'no GPU listed');
  assert.deepEqual(freshGpuReading({ at: 1_000, rows, lost: ['0000:3B:00.0'] }, 900, 500)?.lost, ['0000:3B:00.0']);
  assert.equal(freshGpuReading({ at: 1_000, rows }, 900, 500)?.ageMs, 0, 'a clock behind the result: age 0');
});

test('invalid options are rejected with the option name and the value received', () => {
  assert.throws(() => createGpuCollector({ intervalMs: -5, checkProgram: allowAll }), /gpu\.intervalMs must be a positive number of milliseconds, received -5/);
  assert.throws(() => createGpuCollector({ enabled: 'yes' as never, checkProgram: allowAll }), /gpu\.enabled must be auto, true or false, received "yes"/);
});

test('a collector that may run a program cannot be made without a rule to vet it', () => {
  assert.throws(() => createGpuCollector({ enabled: 'auto' }), /gpu\.checkProgram must be a function that vets the program before it runs, received undefined/);
  createGpuCollector({ enabled: false }).close?.();
});

test('what runs is the path the vetting rule resolved, not the one found on PATH', async (t) => {
  const calls = join(tempDir(t), 'calls');
  withEnv(t, 'FAKE_GPU_CALLS', calls);
  const c = gpu(t, 'nvidia-smi-fails', { enabled: true, staleAfterMs: 60_000, checkProgram: () => ({ problems: [], path: fixture('bin', 'nvidia-smi-ok') }) });
  // Waited for, not slept on: 50 ms after nvidia-smi-ok's first line were too few for its
  // rows to be read under load. Had nvidia-smi-fails run, collect() would throw its
  // failure (no GPU listed) instead of ever giving rows.
  const r = await eventually(() => c.collect(performance.now()));
  assert.equal(r.count, 2);
  assert.ok(existsSync(calls), 'the resolved program (nvidia-smi-ok) did not run');
});

test('a program the vetting rule refuses is never run, and the reason is the collector\'s failure', async (t) => {
  const calls = join(tempDir(t), 'calls');
  withEnv(t, 'FAKE_GPU_CALLS', calls);
  const c = gpu(t, 'nvidia-smi-ok', { enabled: true, checkProgram: (path) => ({ problems: [`${path} is not ours`], path: undefined }) });
  await new Promise((r) => setTimeout(r, 200));
  assert.equal(existsSync(calls), false, 'the refused program was run');
  assert.throws(() => c.collect(performance.now()), /nvidia-smi-ok is not ours/);
});
