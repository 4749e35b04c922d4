import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { ParseError } from '../../src/util/errors.js';
import { calibrationRows, MAX_FOREIGN_RISE, parseCalibration, readCalibrationAsync, unusableReason } from '../../src/training/dataset.js';
import { toFeatures } from '../../src/model/features.js';
import { mkfifo, tempDir } from '../helpers.js';
import { fullSample } from '../model/helpers.js';

describe('calibration datasets', () => {
  const good = JSON.stringify({ sample: fullSample(), slowdown: 42.5, probe: 'mix' });

  it('read {sample, slowdown} lines, keeping extra keys', () => {
    const { records, skipped } = parseCalibration(`${good}\n${good}\n`, 'd.jsonl');
    assert.equal(records.length, 2);
    assert.equal(skipped, 0);
    assert.equal(records[0]!['probe'], 'mix');
  });

  it('skip and report bad lines by number, and an incomplete last line as such', () => {
    const text = [good, '{"sample":{}, "slowdown":1}', '[1]', JSON.stringify({ sample: fullSample(), slowdown: 'x' }), '', good, '{"sample":'].join('\n');
    const r = parseCalibration(text, 'd.jsonl');
    assert.equal(r.records.length, 2);
    assert.equal(r.skipped, 4);
    assert.deepEqual(r.problems, [
      'd.jsonl:2: sample.ts is not a number',
      'd.jsonl:3: not a JSON object',
      'd.jsonl:4: slowdown is not a finite number',
      'd.jsonl:7: incomplete last line',
    ]);
  });

  it('read a file behind a byte order mark, and refuse a FIFO at once, naming it', async () => {
    const { dir, cleanup } = tempDir();
    try {
      const path = join(dir, 'bom.jsonl');
      writeFileSync(path, `\uFEFF${good}\n`);
      const file = await readCalibrationAsync(path);
      assert.equal(file.records.length, 1);
      assert.equal(file.skipped, 0);
      const fifo = join(dir, 'fifo.jsonl');
      mkfifo(fifo);
      await assert.rejects(readCalibrationAsync(fifo), (err: unknown) => err instanceof ParseError && /fifo\.jsonl: cannot read the calibration dataset: not a regular file/.test(err.message));
    } finally {
      cleanup();
    }
  });

  it('become training rows through the daemon\'s toFeatures', () => {
    const { records } = parseCalibration(good, 'd');
    const [row] = calibrationRows(records);
    const f = toFeatures(fullSample());
    // and carry the 1-minute load per CPU as read, LIM's r15s, for eval-model's check against the default order
    assert.deepEqual(row, { values: f.values, mask: f.mask, named: f.named, label: 42.5, rawLoad1PerCpu: fullSample().load?.load1PerCpu });
  });

  it('are grouped by their stressor configuration, a dataset from before the squeeze counting as no squeeze', () => {
    const sample = fullSample();
    const rows = calibrationRows([
      { sample, slowdown: 1, config: { cpuHogs: 2, membw: 0, mem: 1, disk: 0 } },
      { sample, slowdown: 2, config: { cpuHogs: 2, membw: 0, mem: 1, disk: 0, squeeze: 0 } },
      { sample, slowdown: 3, config: { cpuHogs: 0, membw: 0, mem: 0, disk: 1, squeeze: 2 } },
      { sample, slowdown: 4 },
    ]);
    assert.deepEqual(rows.map((r) => r.group), ['cpu=2 membw=0 mem=1 disk=0 squeeze=0', 'cpu=2 membw=0 mem=1 disk=0 squeeze=0', 'cpu=0 membw=0 mem=0 disk=1 squeeze=2', undefined]);
  });

  it('are identified by their sha256, and an unreadable file is a ParseError', async () => {
    const t = tempDir();
    try {
      const path = join(t.dir, 'd.jsonl');
      writeFileSync(path, `${good}\n`);
      assert.match((await readCalibrationAsync(path)).sha256, /^[0-9a-f]{64}$/);
      await assert.rejects(readCalibrationAsync(join(t.dir, 'none')), (err: unknown) => err instanceof ParseError && /ENOENT/.test(err.message));
    } finally {
      t.cleanup();
    }
  });
});

describe('unusableReason', () => {
  it('refuses a probe during which other processes\' CPU use rose by more than MAX_FOREIGN_RISE, and keeps one where it rose less', () => {
    const sample = fullSample();
    assert.equal(MAX_FOREIGN_RISE, 0.15);
    assert.match(unusableReason({ sample, slowdown: 1, foreign: { before: 0.1, during: 0.3 } }) ?? '', /rose by 20 %/);
    assert.equal(unusableReason({ sample, slowdown: 1, foreign: { before: 0.1, during: 0.2 } }), undefined);
    assert.equal(unusableReason({ sample, slowdown: 1, foreign: { before: 0.5, during: 0.1 } }), undefined);
    assert.equal(unusableReason({ sample, slowdown: 1 }), undefined);
  });
});
