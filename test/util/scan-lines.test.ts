import assert from 'node:assert/strict';
import { closeSync, openSync, readSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { seededRandom } from '../../src/util/random.js';
import { scanLines, type ScanEnd, type ScanOptions } from '../../src/util/scan-lines.js';
import { testDir } from '../helpers.js';

const KIB64 = 64 * 1024;

// A read over bytes, as readSync over a file gives them, counting what was read.
function reader(bytes: Buffer): { read: (buffer: Buffer, length: number) => number; readBytes: () => number } {
  let at = 0;
  return {
    read: (buffer, length) => {
      const n = bytes.copy(buffer, 0, at, Math.min(bytes.length, at + length));
      at += n;
      return n;
    },
    readBytes: () => at,
  };
}

function scanAll(bytes: Buffer, options: ScanOptions): { lines: Array<string | undefined>; end: ScanEnd } {
  const lines: Array<string | undefined> = [];
  const end = scanLines(reader(bytes).read, options, (line) => {
    lines.push(line);
    return false;
  });
  return { lines, end };
}

// The lines of a whole file split at once: what scanLines must hand over.
function wholeSplit(text: string, maxLine: number): Array<string | undefined> {
  if (text === '') return [];
  const lines = text.split('\n');
  if (text.endsWith('\n')) lines.pop();
  return lines.map((l) => (l.length > maxLine ? undefined : l));
}

// A file of lines of every kind of length around the chunk size, some over it, ending
// with or without a newline, and some padded to exactly a whole number of chunks.
function generated(rand: () => number): string {
  const lines: string[] = [];
  const target = Math.floor(rand() * 3 * KIB64) + 1;
  let size = 0;
  while (size < target) {
    const kind = rand();
    const length = kind < 0.5 ? Math.floor(rand() * 200) : kind < 0.8 ? KIB64 - 100 + Math.floor(rand() * 200) : Math.floor(rand() * 2.5 * KIB64);
    const byte = 0x20 + Math.floor(rand() * 0xe0);
    lines.push(String.fromCharCode(byte === 0x0a ? 0x41 : byte).repeat(length));
    size += length + 1;
  }
  let text = lines.join('\n');
  if (rand() < 0.5) text += '\n';
  if (rand() < 0.3) {
    const whole = Math.max(1, Math.round(text.length / KIB64)) * KIB64; // exactly N x 64 KiB
    text = text.length > whole ? text.slice(0, whole) : text + 'p'.repeat(whole - text.length);
    if (rand() < 0.5) text = `${text.slice(0, -1)}\n`;
  }
  return text;
}

test('scanLines hands over the lines a whole-file split gives, on 400 generated files with lines across chunks, with and without a last newline, and of exactly N x 64 KiB', () => {
  const rand = seededRandom(63);
  for (let i = 0; i < 400; i++) {
    const text = generated(rand);
    const bytes = Buffer.from(text, 'latin1');
    const { lines, end } = scanAll(bytes, { maxBytes: 64 * 1024 * 1024, maxLine: KIB64 });
    assert.equal(end, 'end');
    assert.deepEqual(lines, wholeSplit(text, KIB64), `file ${i}: ${bytes.length} bytes`);
  }
});

test('scanLines reads a real file through readSync as it reads bytes handed to it', (t) => {
  const dir = testDir(t);
  const path = join(dir, 'mountinfo');
  const text = `a\n${'b'.repeat(KIB64 + 5)}\n${'c'.repeat(KIB64 - 1)}\nd`;
  writeFileSync(path, text, 'latin1');
  const fd = openSync(path, 'r');
  t.after(() => closeSync(fd));
  const lines: Array<string | undefined> = [];
  const end = scanLines((buffer, length) => readSync(fd, buffer, 0, length, null), { maxBytes: 1 << 20, maxLine: KIB64 }, (line) => {
    lines.push(line);
    return false;
  });
  assert.equal(end, 'end');
  assert.deepEqual(lines, ['a', undefined, 'c'.repeat(KIB64 - 1), 'd']);
});

test('scanLines never hands over the line that its byte bound cuts, with or without a newline after the bound', () => {
  for (const rest of ['\n', 'tail\n', '']) {
    const text = `one\ntwo\n${'x'.repeat(100)}${rest}`;
    const maxBytes = 8 + 100; // 'one\ntwo\n' and the long line's first 100 bytes
    const { lines, end } = scanAll(Buffer.from(text, 'latin1'), { maxBytes, maxLine: KIB64, chunk: 16 });
    assert.equal(end, 'bound', `rest ${JSON.stringify(rest)}`);
    assert.deepEqual(lines, ['one', 'two'], `rest ${JSON.stringify(rest)}`);
  }
});

test('scanLines stops reading once each says so', () => {
  const bytes = Buffer.from(`keep\nstop\n${'later\n'.repeat(100_000)}`, 'latin1');
  const { read, readBytes } = reader(bytes);
  const seen: Array<string | undefined> = [];
  const end = scanLines(read, { maxBytes: bytes.length, maxLine: KIB64, chunk: 4096 }, (line) => {
    seen.push(line);
    return line === 'stop';
  });
  assert.equal(end, 'stopped');
  assert.deepEqual(seen, ['keep', 'stop']);
  assert.equal(readBytes(), 4096, 'one chunk read');
});

test('scanLines hands over a line longer than maxLine as undefined, however the chunks cut it', () => {
  for (const chunk of [3, 7, 10, 64]) {
    const { lines } = scanAll(Buffer.from('short\n0123456789\n01234\n0123456789abc', 'latin1'), { maxBytes: 1000, maxLine: 5, chunk });
    assert.deepEqual(lines, ['short', undefined, '01234', undefined], `chunk ${chunk}`);
  }
});
