// A reader that stops reading: LIM busy, stopped or hung. The daemon must neither
// block (it could no longer handle SIGTERM), nor pile reports up in memory, nor leave
// LIM a backlog: LIM parses one report per poll (every 5 s), so every old report
// left in the pipe is 5 s more of stale values once it reads again.
import assert from 'node:assert/strict';
import { closeSync, constants, openSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { Elim } from '../e2e/harness.js';
import { sleep, startWithChild, until, vmRssKb } from './helpers.js';
import { readFileSync } from 'node:fs';

// The child elim's clock value in a report line, in ms.
function clockOf(line: string): number | undefined {
  const m = / clock (\d+(?:\.\d+)?)/.exec(line);
  return m === null ? undefined : Number(m[1]) * 1000;
}

// The first line read after `from` reads.
function firstLineAfter(elim: Elim, from: number): string | undefined {
  const data = elim.reads.slice(from).map((r) => r.data).join('');
  const nl = data.indexOf('\n');
  return nl < 0 ? undefined : data.slice(0, nl);
}

function historyLines(elim: Elim): number {
  try {
    return readFileSync(join(elim.historyDir, `${hostname()}.jsonl`), 'utf8').split('\n').length - 1;
  } catch {
    return 0;
  }
}

describe('a reader that stops reading', { concurrency: false }, () => {
  it('gets the current report when it reads again, not one written while it was away', async () => {
    const elim = startWithChild('clock', 0.1);
    try {
      await until('a report with the child clock', () => elim.reports().find((r) => clockOf(r.line) !== undefined));
      elim.pauseReader();
      await sleep(3000);
      const from = elim.reads.length;
      const resumedAt = Date.now();
      elim.resumeReader();
      const line = await until('a read after resuming', () => firstLineAfter(elim, from));
      const clock = clockOf(line);
      assert.ok(clock !== undefined, line);
      assert.ok(resumedAt - clock < 1000, `the first report read after a 3 s pause was ${resumedAt - clock} ms old: ${line}`);
    } finally {
      await elim.cleanup();
    }
  });

  it('keeps running without growing while the pipe is full, and the returning reader gets the newest report, not what the pipe held', async (t) => {
    const elim = startWithChild('clock', 0.05);
    try {
      await until('a report with the child clock', () => elim.reports().find((r) => clockOf(r.line) !== undefined));
      elim.pauseReader();
      // Fill what is left of the pipe with old reports, as 5000 unread ticks would.
      const fd = openSync(join(elim.dir, 'stdout.fifo'), constants.O_WRONLY | constants.O_NONBLOCK);
      const old = Buffer.from('1 rank 999\n'.repeat(372)); // 4092 bytes: whole reports per write
      let held = 0;
      try {
        for (;;) held += writeSync(fd, old);
      } catch {
        // EAGAIN: the pipe is full
      } finally {
        closeSync(fd);
      }
      t.diagnostic(`the kernel pipe took ${held} bytes of old reports (${Math.round(held / 11)} reports of 11 bytes) before it was full`);
      await sleep(2000);
      const rssBefore = vmRssKb(elim.pid)!;
      const ticksBefore = historyLines(elim);
      await sleep(10_000);
      const rssAfter = vmRssKb(elim.pid)!;
      const ticks = historyLines(elim) - ticksBefore;
      t.diagnostic(`VmRSS ${rssBefore} kB -> ${rssAfter} kB over ${ticks} ticks with nobody reading`);
      assert.ok(ticks >= 50, `only ${ticks} ticks in 10 s at a 0.05 s interval: the elim is blocked`);
      assert.ok(rssAfter - rssBefore < 4096, `VmRSS grew by ${rssAfter - rssBefore} kB while nobody read`);
      assert.ok(
        elim.log().some((l) => /^LIM (is not reading|had not read)/.test(String(l['msg']))),
        'the elim did not log that LIM stopped reading',
      );

      const from = elim.reads.length;
      const resumedAt = Date.now();
      elim.resumeReader();
      const line = await until('a read after resuming', () => firstLineAfter(elim, from));
      assert.notEqual(line, '1 rank 999', 'the returning reader got the old reports the pipe held');
      const clock = clockOf(line);
      assert.ok(clock !== undefined && resumedAt - clock < 1000, `the first report after resuming is ${resumedAt - (clock ?? 0)} ms old: ${line}`);
    } finally {
      await elim.cleanup();
    }
  });
});
