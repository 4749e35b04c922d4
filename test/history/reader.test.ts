import assert from 'node:assert/strict';
import { mkdirSync, renameSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { describe, test } from 'node:test';
import { ParseError } from '../../src/util/errors.js';
import type { HistoryRecord } from '../../src/history/record.js';
import { historyFiles, parseHistoryLine, readHistory, type HistoryReadOptions } from '../../src/history/reader.js';
import { fileDir } from '../helpers.js';

const dir = fileDir('lavarank-history-');

function line(ts: number, host = 'ol1', features: Record<string, number | null> = { cpu_busy: 0.5 }): string {
  return JSON.stringify({ ts, host, features, rank: 50, model: 'formula' });
}

function write(name: string, text: string): string {
  const path = join(dir, name);
  mkdirSync(join(path, '..'), { recursive: true });
  writeFileSync(path, text);
  return path;
}

async function readAll(paths: string | string[], options: HistoryReadOptions = {}) {
  const reader = readHistory(paths, options);
  const records: HistoryRecord[] = [];
  for await (const r of reader) records.push(r);
  return { records, stats: reader.stats };
}

describe('parseHistoryLine', () => {
  test('returns the record of a valid line', () => {
    assert.deepEqual(parseHistoryLine(line(1000, 'ol2', { cpu_busy: 0.25, gpu: null })), {
      ts: 1000, host: 'ol2', features: { cpu_busy: 0.25, gpu: null }, rank: 50, model: 'formula',
    });
  });

  test('drops keys it does not know, so newer daemons still read', () => {
    const text = JSON.stringify({ ts: 1, host: 'a', features: {}, rank: 0, model: 'm', extra: [1] });
    assert.deepEqual(Object.keys(parseHistoryLine(text)), ['ts', 'host', 'features', 'rank', 'model']);
  });

  const bad: [string, string, RegExp][] = [
    ['a torn line', '{"ts":1000,"host":"ol', /not JSON/],
    ['an array', '[1,2]', /expected a JSON object, found an array/],
    ['a string ts', '{"ts":"1000","host":"a","features":{},"rank":0,"model":"m"}', /ts: expected a number of epoch ms, found "1000"/],
    ['an infinite ts', '{"ts":1e400,"host":"a","features":{},"rank":0,"model":"m"}', /ts: expected a number of epoch ms, found Infinity/],
    ['an empty host', '{"ts":1,"host":"","features":{},"rank":0,"model":"m"}', /host: expected a host name/],
    ['no features', '{"ts":1,"host":"a","rank":0,"model":"m"}', /features: expected an object, found nothing/],
    ['a string feature', '{"ts":1,"host":"a","features":{"cpu":"0.5"},"rank":0,"model":"m"}', /features.cpu: expected a number or null/],
    ['an infinite feature', '{"ts":1,"host":"a","features":{"cpu":1e400},"rank":0,"model":"m"}', /features.cpu: expected a number or null, found Infinity/],
    ['a missing rank', '{"ts":1,"host":"a","features":{},"model":"m"}', /rank: expected a number/],
    ['an infinite rank', '{"ts":1,"host":"a","features":{},"rank":-1e400,"model":"m"}', /rank: expected a number, found -Infinity/],
    ['a numeric model', '{"ts":1,"host":"a","features":{},"rank":0,"model":3}', /model: expected a string/],
  ];
  for (const [what, text, message] of bad) {
    test(`rejects ${what} with a ParseError`, () => {
      assert.throws(() => parseHistoryLine(text, 'h:3'), (err: unknown) => {
        assert.ok(err instanceof ParseError);
        assert.equal(err.where, 'h:3');
        assert.match(err.message, message);
        return true;
      });
    });
  }
});

describe('historyFiles', () => {
  test('lists current and rotated files, oldest first per host, and ignores others', async () => {
    const d = join(dir, 'list');
    for (const name of ['b.jsonl', 'a.jsonl.1', 'a.jsonl', 'a.jsonl.10', 'a.jsonl.2', 'notes.txt', 'a.jsonl.gz', 'a.jsonl.tmp']) {
      write(join('list', name), '');
    }
    mkdirSync(join(d, 'sub.jsonl'));
    symlinkSync(join(d, 'b.jsonl'), join(d, 'c.jsonl'));
    assert.deepEqual(
      (await historyFiles(d)).map((p) => p.slice(d.length + 1)),
      ['a.jsonl.10', 'a.jsonl.2', 'a.jsonl.1', 'a.jsonl', 'b.jsonl', 'c.jsonl'],
    );
  });

  test('keeps a file named explicitly whatever its name', async () => {
    const path = write('explicit.log', '');
    assert.deepEqual(await historyFiles([path]), [path]);
  });
});

describe('readHistory', () => {
  test('skips and counts a torn last line', async () => {
    const path = write('torn/ol1.jsonl', `${line(1)}\n${line(2)}\n${line(3).slice(0, 30)}`);
    const { records, stats } = await readAll(path);
    assert.deepEqual(records.map((r) => r.ts), [1, 2]);
    assert.equal(stats.incomplete, 1);
    assert.equal(stats.malformed, 0);
  });

  test('counts a line of blanks as blank, and keeps only the first maxProblems problems while counting all', async () => {
    const path = write('capped/ol1.jsonl', [line(1), '  \t', 'x', 'y', 'z', line(2)].join('\n') + '\n');
    const { records, stats } = await readAll(path, { maxProblems: 2 });
    assert.deepEqual(records.map((r) => r.ts), [1, 2]);
    assert.equal(stats.blank, 1);
    assert.equal(stats.malformed, 3);
    assert.deepEqual(stats.problems.map((p) => p.line), [3, 4]);
  });

  test('skips garbage lines in the middle, reporting file and line', async () => {
    const path = write('garbage/ol1.jsonl', [line(1), 'garbage', '', '{"ts":2}', line(3), '\u0000\u0000'].join('\n') + '\n');
    const { records, stats } = await readAll(path);
    assert.deepEqual(records.map((r) => r.ts), [1, 3]);
    assert.equal(stats.malformed, 3);
    assert.equal(stats.blank, 1);
    assert.deepEqual(stats.problems.map((p) => [p.file, p.line]), [[path, 2], [path, 4], [path, 6]]);
  });

  test('reads every file of a directory and of several paths', async () => {
    write('many/d/ol1.jsonl.1', `${line(1)}\n`);
    write('many/d/ol1.jsonl', `${line(2)}\n${line(3).slice(0, 5)}`);
    write('many/d/ol2.jsonl', `${line(4, 'ol2')}\n`);
    const extra = write('many/other.jsonl', `${line(5, 'ol3')}\n`);
    const { records, stats } = await readAll([join(dir, 'many/d'), extra]);
    assert.deepEqual(records.map((r) => r.ts), [1, 2, 4, 5]);
    assert.equal(stats.files, 4);
    assert.equal(stats.incomplete, 1);
  });

  // In a sticky history.dir (/tmp) a user's own *.jsonl is theirs to replace between
  // retrain's listing (which checks for regular files) and its read: a FIFO there held
  // the open until someone wrote to it, retrain's SIGTERM included.
  test('refuses a file that is a FIFO by the time it is read, at once, rather than wait for a writer', async () => {
    const fifo = join(dir, 'swapped', 'node2.jsonl');
    mkdirSync(join(fifo, '..'), { recursive: true });
    const made = spawnSync('mkfifo', [fifo]);
    assert.equal(made.status, 0);
    const outcome = await Promise.race([
      readAll([fifo]).then(() => 'read', (err: unknown) => (err instanceof Error ? err.message : String(err))),
      new Promise<string>((resolve) => setTimeout(() => resolve('still waiting after 2 s'), 2000).unref()),
    ]);
    assert.equal(outcome, `history file ${fifo}: not a regular file`);
  });

  test('with skipRefused, leaves out a FIFO met at the open and a file gone before it, naming each, and reads the rest', async () => {
    const d = join(dir, 'skip');
    write('skip/ok.jsonl', `${line(7)}\n`);
    const fifo = join(d, 'swapped.jsonl');
    assert.equal(spawnSync('mkfifo', [fifo]).status, 0);
    const gone = join(d, 'rotated.jsonl.3');
    const { records, stats } = await readAll([join(d, 'ok.jsonl'), fifo, gone], { skipRefused: true });
    assert.deepEqual(records.map((r) => r.ts), [7]);
    assert.equal(stats.files, 1);
    assert.deepEqual(stats.skipped, [
      { file: gone, why: `${gone}: gone before it was read (rotated away?), or a link to nothing` },
      { file: fifo, why: `history file ${fifo}: not a regular file` },
    ]);
    await assert.rejects(readAll([join(d, 'ok.jsonl'), fifo]), /not a regular file/);
  });

  test('with skipRefused, still refuses a file given by itself (named) that is refused or gone', async () => {
    const d = join(dir, 'skip-named');
    write('skip-named/ok.jsonl', `${line(7)}\n`);
    const fifo = join(d, 'given.jsonl');
    assert.equal(spawnSync('mkfifo', [fifo]).status, 0);
    await assert.rejects(readAll([join(d, 'ok.jsonl'), fifo], { skipRefused: true, named: [fifo] }), /given\.jsonl: not a regular file/);
    const gone = join(d, 'gone.jsonl');
    await assert.rejects(readAll([join(d, 'ok.jsonl'), gone], { skipRefused: true, named: [gone] }), { code: 'ENOENT' });
  });

  // The daemon rotates host.jsonl (.3 → .4 ... host.jsonl → .1) when it reaches
  // history.max_bytes, while a retrain of a large cluster may be reading for minutes.
  test('reads every record of a host whose daemon rotates its files while the reader is in them, none twice', async () => {
    const d = join(dir, 'rotating');
    write('rotating/ol1.jsonl.1', `${line(1)}\n${line(2)}\n`);
    write('rotating/ol1.jsonl', `${line(3)}\n${line(4)}\n`);
    const files = await historyFiles(d);
    const reader = readHistory(files, { followRotation: true });
    const seen: number[] = [];
    for await (const r of reader) {
      if (seen.length === 0) {
        renameSync(join(d, 'ol1.jsonl.1'), join(d, 'ol1.jsonl.2'));
        renameSync(join(d, 'ol1.jsonl'), join(d, 'ol1.jsonl.1'));
        write('rotating/ol1.jsonl', `${line(5)}\n`);
      }
      seen.push(r.ts);
    }
    assert.deepEqual(seen.sort((a, b) => a - b), [1, 2, 3, 4]);
    assert.equal(reader.stats.files, 2);
  });

  // A history file in a user's directory appended to as fast as it was read held retrain
  // there for good (hostile25).
  test('reads a file as long as it was when opened, not what is appended while it is read', async () => {
    // Past the stream's read-ahead (two 256 KiB chunks), so that the append comes before the end is read.
    const path = write('growing/ol1.jsonl', `${line(1)}\n`.repeat(20_000));
    let records = 0;
    for await (const r of readHistory(path)) {
      if (records++ === 0) writeFileSync(path, `${line(2)}\n`.repeat(20_000), { flag: 'a' });
      assert.equal(r.ts, 1);
    }
    assert.equal(records, 20_000);
  });

  test('reads every record of a host whose daemon rotated its files after they were listed, none twice', async () => {
    const d = join(dir, 'rotated');
    write('rotated/ol1.jsonl.1', `${line(1)}\n${line(2)}\n`);
    write('rotated/ol1.jsonl', `${line(3)}\n${line(4)}\n`);
    const files = await historyFiles(d);
    renameSync(join(d, 'ol1.jsonl.1'), join(d, 'ol1.jsonl.2'));
    renameSync(join(d, 'ol1.jsonl'), join(d, 'ol1.jsonl.1'));
    write('rotated/ol1.jsonl', `${line(5)}\n`);
    const { records, stats } = await readAll(files, { followRotation: true });
    assert.deepEqual(records.map((r) => r.ts).sort((a, b) => a - b), [1, 2, 3, 4, 5]);
    assert.equal(stats.files, 3);
  });

  test('reads a host file named by itself as named, without the rotated files beside it', async () => {
    const named = write('named/ol1.jsonl', `${line(3)}\n`);
    write('named/ol1.jsonl.1', `${line(1)}\n`);
    const { records } = await readAll([named], { followRotation: true, named: [named] });
    assert.deepEqual(records.map((r) => r.ts), [3]);
  });

  // In a sticky history.dir any user may add a file; one named with 255 characters made
  // the look for its .1 fail with ENAMETOOLONG, which stopped the whole retrain.
  test('reads a directory holding a host file whose name is as long as a name may be, which can have no rotated file', async () => {
    write('longname/ol1.jsonl', `${line(1)}\n`);
    write(`longname/${'h'.repeat(249)}.jsonl`, `${line(2, 'h')}\n`);
    const { records } = await readAll(await historyFiles(join(dir, 'longname')), { followRotation: true, skipRefused: true });
    assert.deepEqual(records.map((r) => r.ts).sort((a, b) => a - b), [1, 2]);
  });

  test('throws when a named path does not exist', async () => {
    await assert.rejects(readAll(join(dir, 'nope')), { code: 'ENOENT' });
  });

  test('reads 20 000 lines across chunk boundaries without losing one', async () => {
    const text = Array.from({ length: 20_000 }, (_, i) => line(i, 'ol1', { cpu_busy: i / 20_000, mem: null })).join('\n');
    const path = write('big/ol1.jsonl', `${text}\n`);
    const { records, stats } = await readAll(path);
    assert.equal(stats.records, 20_000);
    assert.equal(records[19_999]?.ts, 19_999);
    assert.equal(stats.malformed + stats.incomplete, 0);
  });
});
