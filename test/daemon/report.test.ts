import assert from 'node:assert/strict';
import { closeSync, openSync, readFileSync, readSync, constants, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { spawn, spawnSync } from 'node:child_process';
import { PassThrough } from 'node:stream';
import { fdSink, formatElimLine, formatValue, PIPE_BUF, streamSink } from '../../src/daemon/report.js';
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
  it('prints negative zero as 0', () => {
    assert.equal(formatValue(-0.0001), '0');
  });
  it('refuses NaN and infinities', () => {
    assert.throws(() => formatValue(Number.NaN), RangeError);
    assert.throws(() => formatValue(Number.POSITIVE_INFINITY), RangeError);
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
      assert.equal(sink.write('1 rank 8\n'), 'closed');
      closeSync(writer);
    } finally {
      cleanup();
    }
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
    const code = await new Promise((resolve) => child.on('exit', resolve));
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

describe('streamSink', () => {
  it('writes to a stream and reports a destroyed one as closed', () => {
    const stream = new PassThrough();
    const chunks: string[] = [];
    stream.on('data', (c: Buffer) => chunks.push(c.toString()));
    const sink = streamSink(stream);
    assert.equal(sink.write('1 rank 2\n'), 'written');
    stream.destroy();
    assert.equal(sink.write('1 rank 3\n'), 'closed');
    assert.deepEqual(chunks, ['1 rank 2\n']);
  });
});
