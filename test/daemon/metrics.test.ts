import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, lchownSync, mkdirSync, readdirSync, readFileSync, renameSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { Tick } from '../../src/daemon/elim.js';
import { formatMetrics, metricsDirectoryProblems, MetricsWriter, type MetricsSnapshot } from '../../src/daemon/metrics.js';
import { FEATURE_NAMES } from '../../src/model/features.js';
import { exitHolds } from '../../src/util/exit.js';
import { atLstatAnswer, captureLog, tempDir, testDir, until } from '../helpers.js';
import { parseExposition, sampleOf } from '../helpers/prom-parse.js';
import { startElim } from '../e2e/harness.js';

const features = Object.fromEntries(FEATURE_NAMES.map((name, i) => [name, name.startsWith('gpu_') ? null : i / 100]));

function tick(over: Partial<Tick> = {}): Tick {
  return {
    seq: 1,
    ts: 1_795_886_702_000,
    rank: 42.5,
    state: 'ok',
    outcome: 'written',
    line: '1 rank 42.5\n',
    durationMs: 0.25,
    result: { rank: 42.5, model: 'default#14d68495', features },
    ...over,
  };
}

function snapshot(over: Partial<MetricsSnapshot> = {}): MetricsSnapshot {
  return {
    resource: 'rank',
    version: '0.1.0',
    tick: tick(),
    model: 'default#14d68495',
    counters: { ticks: 7, sampleFailures: 2, pessimistic: 1, unread: 3, metricsSkipped: 0 },
    collectors: { cpu: { calls: 7, failures: 1, consecutiveFailures: 0, totalMs: 1, maxMs: 0.5, lastMs: 0.05 } },
    ...over,
  };
}

// Waits until the writer has no write pending.
async function settle(writer: MetricsWriter): Promise<void> {
  await writer.idle(5000);
}

describe('the exposition-format parser used by these tests', () => {
  it('refuses what a scraper refuses', () => {
    const bad = [
      'a 1', // no final newline
      'a{b="x} 1\n', // unterminated label value
      'a{b="\\t"} 1\n', // bad escape
      '# TYPE a gauge\na 1\n# TYPE a gauge\n', // second TYPE
      'a 1\n# TYPE a gauge\n', // TYPE after samples
      'a 1\nb 1\na{x="1"} 2\n', // a family in two groups
      'a 1\na 2\n', // the same series twice
      'a 1 1700000000000\n', // a timestamp
      'a one\n', // not a float
      '9a 1\n', // bad name
    ];
    for (const text of bad) assert.throws(() => parseExposition(text), Error, JSON.stringify(text));
  });

  it('reads families, escaped labels and special values', () => {
    const f = parseExposition('# HELP a A \\\\ help\n# TYPE a gauge\na{l="q\\"\\\\\\n"} NaN\na{l="2"} +Inf\n');
    assert.equal(f.get('a')?.help, 'A \\ help');
    assert.equal(f.get('a')?.samples[0]?.labels['l'], 'q"\\\n');
    assert.ok(Number.isNaN(sampleOf(f, 'a', { l: 'q"\\\n' })));
  });
});

describe('formatMetrics', () => {
  it('writes valid text format with the rank, every available raw feature, the model, the duration and the counters', () => {
    const f = parseExposition(formatMetrics(snapshot()));
    assert.equal(sampleOf(f, 'lavarank_rank', { resource: 'rank' }), 42.5);
    for (const name of FEATURE_NAMES.filter((n) => !n.startsWith('gpu_'))) assert.equal(sampleOf(f, 'lavarank_feature', { feature: name }), features[name]);
    assert.equal(sampleOf(f, 'lavarank_model_info', { model: 'default#14d68495' }), 1);
    assert.equal(sampleOf(f, 'lavarank_sample_duration_seconds'), 0.00025);
    assert.equal(sampleOf(f, 'lavarank_report_state', { state: 'ok' }), 1);
    assert.equal(sampleOf(f, 'lavarank_report_state', { state: 'pessimistic' }), 0);
    assert.equal(sampleOf(f, 'lavarank_sample_failures_total'), 2);
    assert.equal(sampleOf(f, 'lavarank_pessimistic_reports_total'), 1);
    assert.equal(sampleOf(f, 'lavarank_reports_unread_total'), 3);
    assert.equal(sampleOf(f, 'lavarank_collector_failures_total', { collector: 'cpu' }), 1);
    assert.equal(sampleOf(f, 'lavarank_last_report_timestamp_seconds'), 1_795_886_702);
    for (const family of f.values()) {
      assert.ok(family.help !== undefined && family.type !== 'untyped', family.name);
      assert.equal(family.name.endsWith('_total'), family.type === 'counter', family.name);
    }
  });

  it('leaves an unavailable feature out rather than report it as a number', () => {
    const f = parseExposition(formatMetrics(snapshot()));
    assert.equal(f.get('lavarank_feature')?.samples.some((s) => s.labels['feature']?.startsWith('gpu_')), false);
  });

  it("says for each of the elim's files whether writing it fails now, and nothing of a file it does not write", () => {
    const f = parseExposition(formatMetrics(snapshot({ outputs: { log: true, history: false } })));
    assert.equal(sampleOf(f, 'lavarank_output_failing', { output: 'log' }), 1);
    assert.equal(sampleOf(f, 'lavarank_output_failing', { output: 'history' }), 0);
    const none = parseExposition(formatMetrics(snapshot({ outputs: { history: true } })));
    assert.deepEqual(none.get('lavarank_output_failing')?.samples.map((x) => x.labels['output']), ['history']);
  });

  it('escapes a model id with quotes, backslashes and newlines so it reads back the same', () => {
    const model = 'odd "model"\\\nname';
    const f = parseExposition(formatMetrics(snapshot({ model })));
    assert.equal(sampleOf(f, 'lavarank_model_info', { model }), 1);
  });
});

describe('MetricsWriter', () => {
  it('replaces the file each tick, mode 0644 whatever the umask, leaving no temporary file', async (t) => {
    const dir = testDir(t);
    const umask = process.umask(0o077);
    try {
      const path = join(dir, 'lavarank.prom');
      const writer = new MetricsWriter({ path, resource: 'rank', version: '0.1.0', log: captureLog().log });
      writer.update(tick(), {});
      await settle(writer);
      writer.update(tick({ rank: 7, seq: 2 }), {});
      await settle(writer);
      assert.equal(statSync(path).mode & 0o777, 0o644);
      assert.deepEqual(readdirSync(dir), ['lavarank.prom']);
      const f = parseExposition(readFileSync(path, 'utf8'));
      assert.equal(sampleOf(f, 'lavarank_rank'), 7);
      assert.equal(sampleOf(f, 'lavarank_ticks_total'), 2);
    } finally {
      process.umask(umask);
    }
  });

  it('counts failed and pessimistic ticks, and keeps the model of the last good rank', async () => {
    const texts: string[] = [];
    const writer = new MetricsWriter({ path: '/x.prom', resource: 'rank', version: 'v', log: captureLog().log, write: async (_p, t) => void texts.push(t) });
    writer.update(tick(), {});
    await settle(writer);
    const { result: _, ...failed } = tick({ state: 'pessimistic', rank: 1000 });
    writer.update(failed, {});
    await settle(writer);
    const f = parseExposition(texts[1]!);
    assert.equal(sampleOf(f, 'lavarank_sample_failures_total'), 1);
    assert.equal(sampleOf(f, 'lavarank_pessimistic_reports_total'), 1);
    assert.equal(sampleOf(f, 'lavarank_model_info', { model: 'default#14d68495' }), 1);
  });

  it('counts a report replaced by a newer one as unread, and shows the model of the newest good rank', async () => {
    const texts: string[] = [];
    const writer = new MetricsWriter({ path: '/x.prom', resource: 'rank', version: 'v', log: captureLog().log, write: async (_p, t) => void texts.push(t) });
    writer.update(tick({ outcome: 'replaced' }), {});
    await settle(writer);
    writer.update(tick({ result: { rank: 42.5, model: 'site#00000001', features } }), {});
    await settle(writer);
    const f = parseExposition(texts[1]!);
    assert.equal(sampleOf(f, 'lavarank_reports_unread_total'), 1);
    assert.equal(sampleOf(f, 'lavarank_model_info', { model: 'site#00000001' }), 1);
    assert.throws(() => sampleOf(f, 'lavarank_model_info', { model: 'default#14d68495' }), /no sample/);
  });

  it('refuses a metrics directory others can write (root replaces the file there)', () => {
    const { dir, cleanup } = tempDir();
    try {
      const open = join(dir, 'open');
      mkdirSync(open);
      chmodSync(open, 0o777);
      assert.match(metricsDirectoryProblems(open, { logGroup: undefined }).join('\n'), /metrics directory .*open has mode 0777, writable by group or others/);
      assert.deepEqual(metricsDirectoryProblems(dir, { logGroup: undefined }), []);
    } finally {
      cleanup();
    }
  });

  it('skips a tick while the previous write is pending, and counts it', async () => {
    let release = (): void => undefined;
    const texts: string[] = [];
    const writer = new MetricsWriter({
      path: '/x.prom',
      resource: 'rank',
      version: 'v',
      log: captureLog().log,
      write: (_p, t) => {
        texts.push(t);
        return new Promise<void>((resolve) => (release = resolve));
      },
    });
    writer.update(tick(), {});
    writer.update(tick({ seq: 2 }), {});
    release();
    await settle(writer);
    writer.update(tick({ seq: 3 }), {});
    release();
    await settle(writer);
    assert.equal(texts.length, 2);
    assert.equal(sampleOf(parseExposition(texts[1]!), 'lavarank_metrics_skipped_total'), 1);
  });

  it('counts a pending write as a task that may never return, until it settles: a hung directory must not hold the exit', async () => {
    let release = (): void => undefined;
    const writer = new MetricsWriter({
      path: '/x.prom',
      resource: 'rank',
      version: 'v',
      log: captureLog().log,
      write: () => new Promise<void>((resolve) => (release = resolve)),
    });
    const before = exitHolds();
    writer.update(tick(), {});
    assert.equal(exitHolds(), before + 1);
    release();
    await settle(writer);
    assert.equal(exitHolds(), before);
  });

  it('logs a write failure once and the recovery, and keeps going', async () => {
    const { dir, cleanup } = tempDir();
    try {
      const sub = join(dir, 'textfile');
      const path = join(sub, 'lavarank.prom');
      const cap = captureLog();
      let now = 0;
      const writer = new MetricsWriter({ path, resource: 'rank', version: 'v', log: cap.log, now: () => now });
      for (let i = 0; i < 3; i++) {
        writer.update(tick(), {});
        await settle(writer);
        now += 80_000;
      }
      mkdirSync(sub);
      writer.update(tick(), {});
      await settle(writer);
      assert.deepEqual(cap.messages(), ['cannot write the metrics file; reports continue, retrying later', 'metrics file writable again']);
      assert.ok(existsSync(path));
    } finally {
      cleanup();
    }
  });
});

describe('MetricsWriter and its directory', () => {
  it('asks about the directory before every write, and writes nothing once it is refused', async () => {
    const { dir, cleanup } = tempDir();
    try {
      const path = join(dir, 'lavarank.prom');
      const cap = captureLog();
      let refused: string[] = [];
      const asked: string[] = [];
      const writer = new MetricsWriter({ path, resource: 'rank', version: 'v', log: cap.log, directoryProblems: (at) => (asked.push(at), refused) });
      writer.update(tick(), {});
      await settle(writer);
      const first = readFileSync(path, 'utf8');
      refused = [`directory ${dir} is owned by uid 65534`];
      writer.update(tick(), {});
      await settle(writer);
      assert.deepEqual(asked, [dir, dir]);
      assert.equal(readFileSync(path, 'utf8'), first);
      assert.deepEqual(cap.messages(), ['cannot write the metrics file; reports continue, retrying later']);
    } finally {
      cleanup();
    }
  });
});

describe('MetricsWriter after a failure', () => {
  it('asks about a refused directory again only after 10 s, then twice as long after each refusal, and at each tick once it passes', async () => {
    const { dir, cleanup } = tempDir();
    try {
      const path = join(dir, 'lavarank.prom');
      let now = 0;
      let refused = [`directory ${dir} is on a FUSE file system that uid 1003 mounted`];
      const asked: number[] = [];
      const writer = new MetricsWriter({ path, resource: 'rank', version: 'v', log: captureLog().log, now: () => now, directoryProblems: () => (asked.push(now), refused) });
      // A tick a second for 80 s: a walk of a user's mount lines each time cost the elim up to a second of CPU.
      for (; now <= 80_000; now += 1000) {
        if (now === 50_000) refused = [];
        writer.update(tick(), {});
        await settle(writer);
      }
      assert.deepEqual(asked, [0, 10_000, 30_000, 70_000, 71_000, 72_000, 73_000, 74_000, 75_000, 76_000, 77_000, 78_000, 79_000, 80_000]);
      assert.ok(existsSync(path));
    } finally {
      cleanup();
    }
  });
});

describe('MetricsWriter closed while a write checks its directory', () => {
  it("stops the write at the check's next question: no file is made, no failure logged, and its task that holds the exit ends", async () => {
    const { dir, cleanup } = tempDir();
    try {
      let answer: (() => void) | undefined;
      let signal: AbortSignal | undefined;
      const cap = captureLog();
      const writer = new MetricsWriter({
        path: join(dir, 'lavarank.prom'),
        resource: 'rank',
        version: 'v',
        log: cap.log,
        directoryProblems: () => [],
        // A walk's question still in libuv's pool (at a load of 20, one of some 20).
        directoryProblemsAsync: (_at, s) => ((signal = s), new Promise<string[]>((resolve) => (answer = () => resolve([])))),
      });
      const before = exitHolds();
      writer.update(tick(), {});
      const reply = await until('the first question', () => answer);
      const alive = setInterval(() => undefined, 1000); // close()'s timer is unref'd, and the walk's question is the test's
      await writer.close(20).finally(() => clearInterval(alive));
      reply(); // answered after the close: the held directory's walk and the write are not begun
      await until('the write to end', () => (exitHolds() === before ? true : undefined), 2000);
      assert.deepEqual(readdirSync(dir), []);
      assert.deepEqual(cap.messages(), []);
      assert.equal(signal?.aborted, true);
    } finally {
      cleanup();
    }
  });

  // The held directory's walk ends without a question after its last answer (the
  // directory's own lstat), so a close that comes with that answer is seen only at the write.
  it('stops a write whose directory was held as the close came: no file is made and no failure logged', async (t) => {
    const { dir, cleanup } = tempDir();
    try {
      let signal: AbortSignal | undefined;
      const cap = captureLog();
      const writer = new MetricsWriter({
        path: join(dir, 'lavarank.prom'),
        resource: 'rank',
        version: 'v',
        log: cap.log,
        directoryProblems: () => [],
        directoryProblemsAsync: async (_at, s) => ((signal = s), []),
      });
      const { asked } = atLstatAnswer(t, dir, 1, async () => {
        void writer.close(0);
        await until('the close', () => (signal?.aborted === true ? true : undefined));
      });
      const before = exitHolds();
      writer.update(tick(), {});
      await until('the write to end', () => (exitHolds() === before ? true : undefined), 2000);
      assert.equal(asked(), 1);
      assert.deepEqual(readdirSync(dir), []);
      assert.deepEqual(cap.messages(), []);
    } finally {
      cleanup();
    }
  });
});

describe('MetricsWriter and a directory swapped after its check', () => {
  it('writes the file in the directory it checked, not through a link of another user swapped in for that directory after the check', { skip: process.getuid?.() === 0 ? false : 'needs root to chown a link' }, async () => {
    const { dir, cleanup } = tempDir();
    try {
      // The metrics directory sits in one the syslog group may write (Ubuntu's /var/log):
      // a member renames it away and puts their link to a directory of root's there.
      const textfile = join(dir, 'textfile');
      const victim = join(dir, 'victim');
      mkdirSync(textfile);
      mkdirSync(victim, { mode: 0o700 });
      const directoryProblems = (): string[] => {
        renameSync(textfile, join(dir, 'textfile.moved'));
        symlinkSync(victim, textfile);
        lchownSync(textfile, 65534, 65534);
        return [];
      };
      const writer = new MetricsWriter({ path: join(textfile, 'lavarank.prom'), resource: 'rank', version: 'v', log: captureLog().log, directoryProblems });
      writer.update(tick(), {});
      await settle(writer);
      assert.deepEqual(readdirSync(victim), []);
    } finally {
      cleanup();
    }
  });
});

describe('MetricsWriter and the temp files a killed elim left', () => {
  // A forced exit's SIGKILL between a replace's open and its rename left its temp file for good.
  it("removes at its first write a temp file of the metrics file whose process has ended, and no other file", { skip: process.getuid?.() === 0 ? false : 'needs root to chown a file' }, async () => {
    const { dir, cleanup } = tempDir();
    try {
      const path = join(dir, 'lavarank.prom');
      const dead = spawnSync(process.execPath, ['-e', '']).pid!; // a pid whose process has ended
      const stale = `.lavarank.prom.${dead}.mbbq3k2x.tmp`;
      const live = `.lavarank.prom.${process.ppid}.mbbq3k2x.tmp`; // a running process's write under way
      const users = `.lavarank.prom.${dead}.mbbq3k2y.tmp`; // not lavarank's: another user's file
      const other = `.other.prom.${dead}.mbbq3k2x.tmp`; // another file's
      const linked = `.lavarank.prom.${dead}.mbbq3k2z.tmp`; // a link, to a file it must not touch
      for (const name of [stale, live, users, other, 'keep']) writeFileSync(join(dir, name), 'x');
      chownSync(join(dir, users), 65534, 65534);
      symlinkSync(join(dir, 'keep'), join(dir, linked));
      const capture = captureLog();
      const writer = new MetricsWriter({ path, resource: 'rank', version: 'v', log: capture.log, directoryProblems: () => [] });
      writer.update(tick(), {});
      await settle(writer);
      assert.deepEqual(readdirSync(dir).sort(), [other, live, users, linked, 'keep', 'lavarank.prom'].sort());
      assert.ok(capture.lines.some((l) => /^removed 1 temp files left beside the metrics file/.test(String(l['msg']))), 'no line about it');
    } finally {
      cleanup();
    }
  });
});

describe('MetricsWriter on a directory that does not answer', () => {
  it('never asks about it on the event loop before reaching it off the loop, and skips the ticks while it waits', async () => {
    const asked: string[] = [];
    let reach: (() => void) | undefined;
    const written: string[] = [];
    const texts: string[] = [];
    const writer = new MetricsWriter({
      path: '/nfs/textfile/lavarank.prom',
      resource: 'rank',
      version: 'v',
      log: captureLog().log,
      directoryProblems: (at) => (asked.push(at), []),
      probe: () => (reach === undefined ? new Promise<void>((resolve) => (reach = resolve)) : Promise.resolve()), // a hung NFS server, until reach()
      write: async (p, text) => void (written.push(p), texts.push(text)),
    });
    for (let i = 0; i < 3; i++) writer.update(tick(), {});
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(asked, []); // the synchronous walk waits for the probe
    assert.deepEqual(written, []);
    reach?.();
    await settle(writer);
    assert.deepEqual([asked, written], [['/nfs/textfile'], ['/nfs/textfile/lavarank.prom']]);
    writer.update(tick(), {});
    await settle(writer);
    assert.match(texts.at(-1) ?? '', /^lavarank_metrics_skipped_total 2$/m); // the two ticks that met the wait
  });
});

describe('the elim with metrics.textfile', () => {
  it('writes the metrics file as it reports', async (t) => {
    const dir = testDir(t);
    const path = join(dir, 'lavarank.prom');
    const elim = startElim({ testInterval: 0.2, override: { metrics: { textfile: path } } });
    try {
      await elim.waitForReports(3);
      // Its directory is checked beside the first reports, so the file may come a report or two later.
      await until('the metrics file', () => (existsSync(path) ? true : undefined));
      const f = parseExposition(readFileSync(path, 'utf8'));
      assert.ok(sampleOf(f, 'lavarank_ticks_total') >= 1);
      assert.ok(sampleOf(f, 'lavarank_feature', { feature: 'cpu_busy' }) >= 0);
      assert.equal(statSync(path).mode & 0o777, 0o644);
    } finally {
      elim.child.kill('SIGTERM');
      await elim.exited;
      elim.cleanup();
    }
  });
});
