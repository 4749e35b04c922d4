import assert from 'node:assert/strict';
import fs, { closeSync, openSync, readFileSync, readSync, constants, mkdirSync } from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';
import { join } from 'node:path';
import { describe, it, mock, type TestContext } from 'node:test';
import { spawn, spawnSync } from 'node:child_process';
import fc from 'fast-check';
import { budgetReport, fdSink, formatElimLine, formatValue, PIPE_BUF } from '../../src/daemon/report.js';
import { repoRoot, tempDir } from '../helpers.js';

describe('formatValue', () => {
  it('prints integers without a decimal point', () => {
    assert.equal(formatValue(42), '42');
  });
  it('keeps at most three decimals and strips trailing zeros', () => {
    assert.equal(formatValue(12.3456), '12.346');
    assert.equal(formatValue(0.1), '0.1');
  });
  it('never uses exponent notation, for tiny or huge values', () => {
    assert.equal(formatValue(1e-9), '0');
    assert.equal(formatValue(2.5e21), '2500000000000000000000');
    assert.equal(formatValue(1e20), '100000000000000000000');
  });
  it('writes 1e21 in digits, the first value toFixed writes with an exponent', () => {
    assert.equal(formatValue(1e21), '1000000000000000000000');
    assert.equal(formatValue(-1e21), '-1000000000000000000000');
  });
  it('prints negative zero as 0', () => {
    assert.equal(formatValue(-0.0001), '0');
  });
  it('refuses NaN and infinities', () => {
    assert.throws(() => formatValue(Number.NaN), RangeError);
    assert.throws(() => formatValue(Number.POSITIVE_INFINITY), RangeError);
  });
  it('rounds as toFixed(3) does at and next to a half thousandth, from whole thousandths or not', () => {
    // 1.0005 is stored a little under its half, 2.0005 a little over, 1.0625 exactly on it.
    assert.equal(formatValue(1.0005), '1');
    assert.equal(formatValue(2.0005), '2.001');
    assert.equal(formatValue(1.0625), '1.063');
    assert.equal(formatValue(999_999.9995), '1000000');
    assert.equal(formatValue(1000), '1000');
    assert.equal(formatValue(0.12), '0.12');
    assert.equal(formatValue(-0), '0');
  });
  it('writes every value as toFixed(3) with its trailing zeros and point cut', () => {
    const cut = (text: string): string => (text.includes('.') ? text.replace(/0+$/, '').replace(/\.$/, '') : text);
    // Halves of a thousandth and their neighbours, where a shortcut would round wrong.
    const halves = fc.tuple(fc.integer({ min: 0, max: 2_000_000_000 }), fc.integer({ min: -2, max: 2 })).map(([k, ulps]) => {
      let v = (k + 0.5) / 1000;
      for (let i = 0; i < Math.abs(ulps); i++) v = ulps > 0 ? v + Number.EPSILON * Math.max(1, v) : v - Number.EPSILON * Math.max(1, v);
      return v;
    });
    fc.assert(
      fc.property(fc.oneof(fc.double({ min: 0, max: 2e6, noNaN: true }), fc.double({ min: -10, max: 10, noNaN: true }), halves), (value) => {
        const expected = cut(value.toFixed(3));
        assert.equal(formatValue(value), expected === '-0' ? '0' : expected);
      }),
      { numRuns: 20_000 },
    );
  });
});

describe('formatElimLine', () => {
  it('writes the count, then the pairs, then a newline', () => {
    assert.equal(formatElimLine([['rank', 12.5]]), '1 rank 12.5\n');
    assert.equal(formatElimLine([['rank', 1], ['scratch', 20]]), '2 rank 1 scratch 20\n');
  });
  it('refuses an empty report, which LIM would read as a protocol error', () => {
    assert.throws(() => formatElimLine([]), /at least one/);
  });
  it('refuses names with whitespace, which would break the pair count', () => {
    assert.throws(() => formatElimLine([['my rank', 1]]), /invalid load index name/);
    assert.throws(() => formatElimLine([['', 1]]), /invalid load index name/);
  });
  it('refuses a report longer than PIPE_BUF, which could not be written atomically', () => {
    const pairs: Array<[string, number]> = [];
    for (let i = 0; i < 300; i++) pairs.push([`index_with_a_long_name_${i}`, 123456.789]);
    assert.throws(() => formatElimLine(pairs), new RegExp(`PIPE_BUF \\(${PIPE_BUF}\\)`));
  });
  it('writes a report of exactly PIPE_BUF bytes, and refuses one a byte longer', () => {
    // 124 pairs of 33 bytes (" " + a 30-letter name + " 1"), after "124", then the newline: 4096 bytes.
    const pairs: Array<[string, number]> = Array.from({ length: 124 }, (_, i) => [`i${'x'.repeat(26)}${String(i).padStart(3, '0')}`, 1]);
    assert.equal(formatElimLine(pairs).length, PIPE_BUF);
    pairs[0] = [`${pairs[0]![0]}y`, 1];
    assert.throws(() => formatElimLine(pairs), /exceeds PIPE_BUF/);
  });
});

describe('budgetReport', () => {
  const long = (prefix: string, n: number): Array<[string, number]> =>
    Array.from({ length: n }, (_, i) => [`${prefix}${'x'.repeat(30)}${String(i).padStart(3, '0')}`, 1234567.125]);

  it('puts its own values first, then each source whole and in order, and cuts off a source that does not fit', () => {
    const built = budgetReport([['rank', 10]], [
      { source: 'a', pairs: [['scratch', 1]] },
      { source: 'big', pairs: long('b', 120) },
      { source: 'c', pairs: [['licenses', 3]] },
    ]);
    assert.equal(built.line, '3 rank 10 scratch 1 licenses 3\n');
    assert.deepEqual(built.cut, ['big']);
  });

  it('fills the line up to exactly PIPE_BUF bytes and not one more, the count included', () => {
    const fits = (n: number): boolean => budgetReport([['rank', 10]], [{ source: 's', pairs: long('n', n) }]).cut.length === 0;
    for (let n = 60; n < 110; n++) {
      const built = budgetReport([['rank', 10]], [{ source: 's', pairs: long('n', n) }]);
      assert.ok(Buffer.byteLength(built.line) <= PIPE_BUF);
      if (fits(n)) assert.equal(built.line, formatElimLine([['rank', 10], ...long('n', n)]));
      else assert.equal(built.line, '1 rank 10\n');
    }
    const last = [...Array(110).keys()].filter(fits).at(-1)!;
    assert.ok(last > 60 && last < 109, `the boundary is at ${last} pairs`);
    assert.throws(() => formatElimLine([['rank', 10], ...long('n', last + 1)]), /exceeds PIPE_BUF/);
  });

  it('takes a source whose line comes to exactly the limit, newline included, and cuts it at one byte less', () => {
    const extras = [{ source: 's', pairs: long('n', 5) }];
    const whole = formatElimLine([['rank', 10], ...long('n', 5)]);
    assert.equal(budgetReport([['rank', 10]], extras, whole.length).line, whole);
    const short = budgetReport([['rank', 10]], extras, whole.length - 1);
    assert.equal(short.line, '1 rank 10\n');
    assert.deepEqual(short.cut, ['s']);
  });

  it('counts the digits of the new pair count, not the old, against the limit: a source that brings the count from 1 to 10 is cut at one byte under', () => {
    const extras = [{ source: 's', pairs: long('n', 9) }];
    const whole = formatElimLine([['rank', 10], ...long('n', 9)]);
    assert.ok(whole.startsWith('10 '));
    assert.equal(budgetReport([['rank', 10]], extras, whole.length).line, whole);
    const short = budgetReport([['rank', 10]], extras, whole.length - 1);
    assert.equal(short.line, '1 rank 10\n');
    assert.deepEqual(short.cut, ['s']);
  });

  it("passes a String resource's text as it is, and refuses text LIM would not read back the same", () => {
    const built = budgetReport([['rank', 12.5]], [{ source: 's', pairs: [['os_state', 'ok-2.1'], ['bad', 'two words'], ['n', 3]] }]);
    assert.equal(built.line, '3 rank 12.5 os_state ok-2.1 n 3\n');
    assert.deepEqual(built.refused, [{ source: 's', name: 'bad', why: 'not printable ASCII of at most 1023 characters' }]);
  });

  it('passes a child\'s small values with six decimals, not rounded to 0 as a rank\'s three would: LIM reads 0 as idle', () => {
    const built = budgetReport([['rank', 12.5]], [{ source: 's', pairs: [['tiny', 0.0004], ['small', 1.5e-5], ['neg', -0.0003], ['big', 123456.7891234]] }]);
    assert.equal(built.line, '5 rank 12.5 tiny 0.0004 small 0.000015 neg -0.0003 big 123456.789123\n');
  });

  it('passes a child\'s values below a millionth with a float\'s seven significant digits, not as 0 or rounded to one digit', () => {
    const built = budgetReport([['rank', 12.5]], [{ source: 's', pairs: [['tiny', 4e-7], ['small', 1.5e-6], ['neg', -2.5e-9], ['frac', 0.123456789]] }]);
    assert.equal(built.line, '5 rank 12.5 tiny 0.0000004 small 0.0000015 neg -0.0000000025 frac 0.1234568\n');
  });

  it("passes a child's values down to a float's smallest (1e-30, 1.4e-45) as numbers LIM reads back, not as 0", () => {
    const built = budgetReport([['rank', 12.5]], [{ source: 's', pairs: [['tiny', 1e-30], ['least', 1.4e-45]] }]);
    const tokens = built.line.trim().split(' ');
    assert.equal(tokens[0], '3');
    const tiny = Number(tokens[tokens.indexOf('tiny') + 1]);
    const least = Number(tokens[tokens.indexOf('least') + 1]);
    assert.ok(Math.abs(tiny / 1e-30 - 1) < 1e-6, built.line);
    assert.equal(Math.fround(least), Math.fround(1.4e-45), built.line);
    assert.doesNotMatch(built.line, /\d[eE][+-]?\d/, 'a value in exponent notation');
  });

  it('reports a name given twice by one source once, the first value', () => {
    const built = budgetReport([['rank', 10]], [{ source: 's', pairs: [['scratch', 1], ['scratch', 2]] }]);
    assert.equal(built.line, '2 rank 10 scratch 1\n');
    assert.deepEqual(built.refused, [{ source: 's', name: 'scratch', why: 'already in the report' }]);
  });

  it('leaves out a name an earlier source already put in the report', () => {
    const built = budgetReport([['rank', 10]], [
      { source: 'a', pairs: [['scratch', 1]] },
      { source: 'b', pairs: [['scratch', 2], ['licenses', 3]] },
    ]);
    assert.equal(built.line, '3 rank 10 scratch 1 licenses 3\n');
    assert.deepEqual(built.refused, [{ source: 'b', name: 'scratch', why: 'already in the report' }]);
  });

  it('leaves out alone a pair whose name LIM refuses, whose value is infinite in a float, or whose name is taken', () => {
    const built = budgetReport([['rank', 10]], [{ source: 's', pairs: [['_x', 1], ['n'.repeat(1023), 2], ['big', 1e300], ['rank', 5], ['ok', 2]] }]);
    assert.equal(built.line, '2 rank 10 ok 2\n');
    assert.deepEqual(built.refused.map((r) => r.name), ['_x', 'n'.repeat(1023), 'big', 'rank']);
  });
});

describe('fdSink', () => {
  it('writes a whole report to a regular file', () => {
    const { dir, cleanup } = tempDir();
    try {
      const path = join(dir, 'out');
      const fd = openSync(path, 'w');
      assert.equal(fdSink(fd).write('1 rank 3\n'), 'written');
      closeSync(fd);
      assert.equal(readFileSync(path, 'utf8'), '1 rank 3\n');
    } finally {
      cleanup();
    }
  });

  it('keeps only the newest report in a pipe nobody reads, never blocking, and writes normally once read', () => {
    const { dir, cleanup } = tempDir();
    try {
      const fifo = join(dir, 'fifo');
      assert.equal(spawnSync('mkfifo', [fifo]).status, 0);
      const reader = openSync(fifo, constants.O_RDONLY | constants.O_NONBLOCK);
      const writer = openSync(fifo, constants.O_WRONLY);
      const sink = fdSink(writer);
      const outcomes: string[] = [];
      // Far more than the 64 KiB a pipe holds: a blocking or queueing sink would show.
      for (let i = 0; i < 20_000; i++) outcomes.push(sink.write(`1 rank ${i}\n`));
      assert.equal(outcomes[0], 'written');
      assert.deepEqual(new Set(outcomes.slice(1)), new Set(['replaced']));
      const buf = Buffer.alloc(1 << 20);
      const read = (): string => {
        try {
          return buf.toString('latin1', 0, readSync(reader, buf));
        } catch {
          return ''; // EAGAIN: empty
        }
      };
      assert.equal(read(), '1 rank 19999\n');
      assert.equal(sink.write('1 rank 7\n'), 'written');
      assert.equal(read(), '1 rank 7\n');
      closeSync(reader);
      // Where the read of 7 left the FIFO's atime (within one tick of the coarse clock of
      // the read of 19999, on a relatime or noatime mount: 8 runs of 10 here, review80), the
      // sink keeps its take-back's read end (stop 79) and 8 goes in beside it: the reader
      // gone is seen one report later, at 9, as fdSink says, and never later than that.
      const eight = sink.write('1 rank 8\n');
      if (eight !== 'closed') {
        assert.equal(eight, 'written');
        assert.equal(sink.write('1 rank 9\n'), 'closed');
      }
      closeSync(writer);
    } finally {
      cleanup();
    }
  });

  it('where the pipe cannot be reopened (no /proc), drops reports on a full pipe instead of blocking', () => {
    const { dir, cleanup } = tempDir();
    try {
      const fifo = join(dir, 'fifo');
      assert.equal(spawnSync('mkfifo', [fifo]).status, 0);
      // In a child: a blocking write would hold its thread for good, which only a kill ends.
      const script = `
        import fs, { constants, openSync } from 'node:fs';
        import { syncBuiltinESMExports } from 'node:module';
        const reader = openSync(${JSON.stringify(fifo)}, constants.O_RDONLY | constants.O_NONBLOCK);
        const writer = openSync(${JSON.stringify(fifo)}, constants.O_WRONLY);
        const realOpen = fs.openSync;
        fs.openSync = (path, ...rest) => {
          if (String(path).startsWith('/proc/self/fd/')) throw Object.assign(new Error('ENOENT: no /proc'), { code: 'ENOENT' });
          return realOpen(path, ...rest);
        };
        syncBuiltinESMExports();
        const { fdSink } = await import(${JSON.stringify(join(repoRoot, 'dist', 'src', 'daemon', 'report.js'))});
        const sink = fdSink(writer);
        const counts = {};
        for (let i = 0; i < 20000; i++) { const o = sink.write('1 rank ' + i + '\\n'); counts[o] = (counts[o] ?? 0) + 1; }
        process.stdout.write(JSON.stringify(counts));
        process.exit(0);
      `;
      const child = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 20_000 });
      assert.equal(child.signal, null, 'the write blocked on the full pipe');
      assert.equal(child.status, 0, child.stderr);
      const counts = JSON.parse(child.stdout) as Record<string, number>;
      assert.deepEqual(Object.keys(counts).sort(), ['dropped', 'written']);
      assert.ok(counts['written']! > 1000 && counts['dropped']! > 1000, child.stdout);
    } finally {
      cleanup();
    }
  });

  it('takes back unread reports again after a moment without descriptors (EMFILE), not for good', (t) => {
    let fail = 0;
    const { writer, read } = watchedFifo(t, () => {
      if (fail === 0) return;
      fail--;
      throw Object.assign(new Error('EMFILE: too many open files'), { code: 'EMFILE' });
    });
    const sink = fdSink(writer);
    assert.equal(sink.write('1 rank 1\n'), 'written');
    fail = 1;
    assert.equal(sink.write('1 rank 2\n'), 'written'); // nothing taken back: two reports wait
    assert.equal(sink.write('1 rank 3\n'), 'replaced');
    assert.equal(read(), '1 rank 3\n');
  });

  // A FIFO with a reader that reads when told, and the sink's opens of a read end counted,
  // each after onOpen, which may throw in the open's place.
  function watchedFifo(t: TestContext, onOpen: () => void = () => undefined): { fifo: string; reader: number; writer: number; opens: () => number; read: () => string; closeReader: () => void } {
    const { dir, cleanup } = tempDir();
    t.after(cleanup);
    const fifo = join(dir, 'fifo');
    assert.equal(spawnSync('mkfifo', [fifo]).status, 0);
    const reader = openSync(fifo, constants.O_RDONLY | constants.O_NONBLOCK);
    const writer = openSync(fifo, constants.O_WRONLY);
    let readerOpen = true;
    const closeReader = (): void => {
      if (readerOpen) closeSync(reader);
      readerOpen = false;
    };
    t.after(() => {
      closeReader();
      closeSync(writer);
    });
    let opens = 0;
    const realOpen = fs.openSync;
    t.mock.method(fs, 'openSync', (path: fs.PathLike, flags: fs.OpenMode = 'r', mode?: fs.Mode) => {
      if (String(path).startsWith('/proc/self/fd/') && flags === (constants.O_RDONLY | constants.O_NONBLOCK)) {
        onOpen();
        opens++;
      }
      return realOpen(path, flags, mode);
    });
    syncBuiltinESMExports();
    t.after(() => {
      mock.restoreAll();
      syncBuiltinESMExports();
    });
    const buf = Buffer.alloc(4096);
    return { fifo, reader, writer, opens: () => opens, read: () => buf.toString('latin1', 0, readSync(reader, buf)), closeReader };
  }

  // Past the kernel's coarse clock tick (at most 10 ms), so that a read moves the atime.
  const nextTick = (): void => void Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 25);

  it('opens no read end when the reader has read the last report (the pipe\'s atime moved), and takes back again when it stops', (t) => {
    const { writer, opens, read } = watchedFifo(t);
    const sink = fdSink(writer);
    assert.equal(sink.write('1 rank 1\n'), 'written');
    assert.equal(opens(), 1); // nothing known of the reader yet
    nextTick();
    assert.equal(read(), '1 rank 1\n');
    assert.equal(sink.write('1 rank 2\n'), 'written');
    assert.equal(opens(), 1, 'the take-back ran though the reader had read the last report');
    nextTick();
    assert.equal(sink.write('1 rank 3\n'), 'replaced'); // the reader stopped: report 2 taken back
    assert.equal(opens(), 2);
    assert.equal(read(), '1 rank 3\n');
  });

  it('where a read does not move the pipe\'s atime, takes back at every report and stops looking at it', (t) => {
    const { writer, opens, read } = watchedFifo(t);
    // As an anonymous pipe since Linux 6.14 or a FIFO on a noatime mount: the atime stays.
    let looks = 0;
    const realFstat = fs.fstatSync;
    t.mock.method(fs, 'fstatSync', (fd: number) => {
      looks++;
      return Object.assign(realFstat(fd), { atimeMs: 1 });
    });
    syncBuiltinESMExports();
    const sink = fdSink(writer);
    const seen: Array<[string, number, number]> = [];
    const write = (line: string): void => void seen.push([sink.write(line), looks, opens()]);
    looks = 0;
    write('1 rank 1\n');
    nextTick();
    assert.equal(read(), '1 rank 1\n');
    write('1 rank 2\n'); // read, yet the atime did not move (looked at before and after): no more looks
    nextTick();
    assert.equal(read(), '1 rank 2\n');
    write('1 rank 3\n');
    write('1 rank 4\n'); // not read: taken back
    assert.equal(read(), '1 rank 4\n');
    // Its read end opened once it knows, and kept until it takes a report back.
    assert.deepEqual(seen, [['written', 2, 1], ['written', 4, 2], ['written', 4, 2], ['replaced', 4, 2]]);
  });

  // As the test above: a FIFO whose atime reads leave as it was, the sink's looks answered.
  function unmovedAtime(t: TestContext): void {
    const realFstat = fs.fstatSync;
    t.mock.method(fs, 'fstatSync', (fd: number) => Object.assign(realFstat(fd), { atimeMs: 1 }));
    syncBuiltinESMExports();
  }

  // The FIFO's read ends this process holds, the test's own included: by
  // /proc/self/fdinfo's flags, whose O_ACCMODE is not O_WRONLY.
  const readEndsOf = (fifo: string): number =>
    fs.readdirSync('/proc/self/fd').filter((fd) => {
      try {
        if (fs.readlinkSync(`/proc/self/fd/${fd}`) !== fifo) return false;
        const flags = /^flags:\s*([0-7]+)$/m.exec(fs.readFileSync(`/proc/self/fdinfo/${fd}`, 'latin1'))?.[1];
        return flags !== undefined && (Number.parseInt(flags, 8) & 3) !== constants.O_WRONLY;
      } catch {
        return false; // the directory's own descriptor, gone once listed
      }
    }).length;

  it('where a read does not move the pipe\'s atime, keeps one read end of its own between reports the reader read, and none once it takes one back', (t) => {
    const { writer, read, fifo } = watchedFifo(t);
    unmovedAtime(t);
    const sink = fdSink(writer);
    const ends: number[] = [];
    for (let i = 1; i <= 4; i++) {
      assert.equal(sink.write(`1 rank ${i}\n`), 'written');
      assert.equal(read(), `1 rank ${i}\n`);
      ends.push(readEndsOf(fifo) - 1); // less the reader's
    }
    assert.equal(sink.write('1 rank 5\n'), 'written');
    assert.equal(sink.write('1 rank 6\n'), 'replaced');
    ends.push(readEndsOf(fifo) - 1);
    // None after the first report (nothing known yet), one from the second on.
    assert.deepEqual(ends, [0, 1, 1, 1, 0]);
  });

  // A sink on a FIFO whose reads leave its atime, after three reports each written and read.
  const threeReadWhereAtimeStays = (t: TestContext): { sink: ReturnType<typeof fdSink>; closeReader: () => void } => {
    const { writer, read, closeReader } = watchedFifo(t);
    unmovedAtime(t);
    const sink = fdSink(writer);
    for (let i = 1; i <= 3; i++) {
      assert.equal(sink.write(`1 rank ${i}\n`), 'written');
      assert.equal(read(), `1 rank ${i}\n`);
    }
    return { sink, closeReader };
  };

  it('where a read does not move the pipe\'s atime and the reader closes its end having read the last report, says so at the report after the next: the next one stays unread beside the kept read end', (t) => {
    const { sink, closeReader } = threeReadWhereAtimeStays(t);
    closeReader();
    assert.equal(sink.write('1 rank 4\n'), 'written');
    assert.equal(sink.write('1 rank 5\n'), 'closed');
  });

  it('where a read does not move the pipe\'s atime and the reader closes its end leaving the last report unread, says so at the next report', (t) => {
    const { sink, closeReader } = threeReadWhereAtimeStays(t);
    assert.equal(sink.write('1 rank 4\n'), 'written');
    closeReader();
    assert.equal(sink.write('1 rank 5\n'), 'closed');
  });

  // A reader that reads once right after the sink's next look at the atime, before its
  // take-back: what LIM's poll does when it falls in that instant.
  function readAfterNextLook(t: TestContext, read: () => string): { arm: () => void; got: () => string } {
    let armed = false;
    let got = '';
    const realFstat = fs.fstatSync;
    t.mock.method(fs, 'fstatSync', (fd: number) => {
      const st = realFstat(fd);
      if (armed) {
        armed = false;
        got = read();
      }
      return st;
    });
    syncBuiltinESMExports();
    return { arm: () => void (armed = true), got: () => got };
  }

  it('takes back a report the reader has not read though it read the one before between the look at the atime and the take-back', (t) => {
    const { writer, read } = watchedFifo(t);
    const race = readAfterNextLook(t, read);
    const sink = fdSink(writer);
    assert.equal(sink.write('1 rank 1\n'), 'written');
    nextTick();
    assert.equal(read(), '1 rank 1\n');
    assert.equal(sink.write('1 rank 2\n'), 'written'); // read: left out
    nextTick();
    race.arm();
    assert.equal(sink.write('1 rank 3\n'), 'written');
    assert.equal(race.got(), '1 rank 2\n'); // read after the look, before report 3 went in
    nextTick();
    // Report 3 is unread: the atime moved, but by the read of report 2.
    assert.equal(sink.write('1 rank 4\n'), 'replaced');
    assert.equal(read(), '1 rank 4\n');
  });

  it('goes on looking at the atime where the reader read the first report between the look and the take-back', (t) => {
    const { writer, opens, read } = watchedFifo(t);
    const race = readAfterNextLook(t, read);
    const sink = fdSink(writer);
    assert.equal(sink.write('1 rank 1\n'), 'written');
    nextTick();
    race.arm();
    assert.equal(sink.write('1 rank 2\n'), 'written');
    assert.equal(race.got(), '1 rank 1\n');
    nextTick();
    assert.equal(read(), '1 rank 2\n');
    assert.equal(sink.write('1 rank 3\n'), 'written');
    assert.equal(opens(), 2, 'the take-back ran though the reader had read the last report');
  });

  it('drops instead of blocking when stdout is a socket nobody reads (Node child_process pipes)', async () => {
    const script = `
      import { fdSink } from ${JSON.stringify(join(repoRoot, 'dist', 'src', 'daemon', 'report.js'))};
      import { writeSync } from 'node:fs';
      const sink = fdSink(1);
      let n = 0, outcome;
      while ((outcome = sink.write('1 rank 100\\n')) === 'written' && n < 1e6) n++;
      writeSync(2, JSON.stringify({ n, outcome }));
    `;
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.pause();
    let err = '';
    child.stderr.on('data', (c: Buffer) => (err += c.toString()));
    // 'exit' may come before the child's last write to stderr is read: its end is
    // waited for too ('close' would wait for the paused stdout, which never ends).
    const stderrEnded = new Promise((resolve) => child.stderr.once('end', resolve));
    const code = await new Promise((resolve) => child.on('exit', resolve));
    await stderrEnded;
    assert.equal(code, 0, err);
    const result = JSON.parse(err) as { n: number; outcome: string };
    assert.equal(result.outcome, 'dropped');
    assert.ok(result.n > 10 && result.n < 1e6, `wrote ${result.n} reports before the socket filled`);
  });

  it('reports a closed descriptor as closed', () => {
    const { dir, cleanup } = tempDir();
    try {
      mkdirSync(join(dir, 'x'));
      const fd = openSync(join(dir, 'x', 'f'), 'w');
      closeSync(fd);
      assert.equal(fdSink(fd).write('1 rank 1\n'), 'closed');
    } finally {
      cleanup();
    }
  });
});
