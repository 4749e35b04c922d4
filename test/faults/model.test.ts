// Model file faults, against the built daemon: truncated, another feature list, a
// non-finite weight, huge, deleted, a directory, a FIFO, not UTF-8, writable by
// others. At start a configured model with any of them stops the daemon before its
// first report and `lavarank check` names it; while running, the daemon keeps the
// model it has, logs why, reports on as before, and takes a good model when one
// comes; a file rewritten in place while the daemon reads it is taken once whole.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, closeSync, mkdirSync, openSync, renameSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { MODEL_CHECK_EVERY } from '../../src/daemon/elim.js';
import { parseModel, serializeModel } from '../../src/model/model.js';
import { cliPath, tempDir } from '../helpers.js';
import { historyRecords, longestHistoryGap, startElim, type Elim } from '../e2e/harness.js';
import { randomModelFile } from '../model/helpers.js';
import { mkfifo, sleep, until } from './helpers.js';

// The text of a valid model; seeds give different ids.
function goodModel(seed: number): string {
  return serializeModel(randomModelFile({ seed, name: `fault${seed}` }));
}

// Writes a model the way retrain or an administrator would: a new file renamed over the old.
function install(path: string, text: string | Buffer): void {
  writeFileSync(`${path}.new`, text, { mode: 0o644 });
  renameSync(`${path}.new`, path);
}

interface ModelFault {
  name: string;
  put(path: string): void; // replaces the model file at path with the fault
  why: RegExp; // what the refusal says
}

const FAULTS: ModelFault[] = [
  { name: 'truncated', put: (p) => install(p, goodModel(1).slice(0, 5000)), why: /not valid JSON/ },
  {
    name: 'made for another feature list',
    put: (p) => {
      const m = JSON.parse(goodModel(1)) as { features: string[] };
      [m.features[0], m.features[1]] = [m.features[1]!, m.features[0]!];
      install(p, JSON.stringify(m));
    },
    why: /features\[0\] is .*, but this build expects .*: the model was made for another feature list/,
  },
  { name: 'with a weight of 1e999 (Infinity once parsed)', put: (p) => install(p, goodModel(1).replace(/("weights": \{\s*"0": )[-0-9.e]+/, '$11e999')), why: /weights\["0"\] is Infinity, expected a finite number/ },
  { name: 'with NaN for a weight', put: (p) => install(p, goodModel(1).replace(/("weights": \{\s*"0": )[-0-9.e]+/, '$1NaN')), why: /not valid JSON/ },
  { name: 'huge (3 MB)', put: (p) => install(p, goodModel(1).replace('"source": [', `"source": ["${'x'.repeat(3 << 20)}", `)), why: /more than the 2097152-byte limit/ },
  { name: 'deleted', put: (p) => rmSync(p), why: /ENOENT/ },
  {
    name: 'a directory',
    put: (p) => {
      rmSync(p);
      mkdirSync(p);
    },
    why: /not a regular file|EISDIR/,
  },
  {
    name: 'a FIFO (opening it for reading would wait for a writer forever)',
    put: (p) => {
      rmSync(p);
      mkfifo(p);
    },
    why: /not a regular file/,
  },
  { name: 'not UTF-8', put: (p) => install(p, Buffer.from([0x7b, 0xff, 0xfe, 0x7d])), why: /not UTF-8 text/ },
  {
    name: 'writable by others',
    put: (p) => {
      install(p, goodModel(2));
      chmodSync(p, 0o666);
    },
    why: /writable by group or others/,
  },
];

function modelDir(): { dir: string; path: string; cleanup: () => void } {
  const { dir, cleanup } = tempDir('lavarank-model-');
  const models = join(dir, 'models');
  mkdirSync(models, { mode: 0o755 });
  chmodSync(models, 0o755);
  return { dir, path: join(models, 'rank.json'), cleanup };
}

describe('a configured model file that cannot be used, at start', { concurrency: false }, () => {
  for (const fault of FAULTS) {
    it(`${fault.name}: the daemon writes no report, exits 1 within 5 s and logs why; lavarank check names it and exits 1`, async () => {
      const { path, cleanup } = modelDir();
      install(path, goodModel(1));
      fault.put(path);
      const elim = startElim({ config: `model: ${path}\n` });
      try {
        const exit = await Promise.race([elim.exited, sleep(5000).then(() => undefined)]);
        assert.ok(exit !== undefined, 'the daemon is still starting after 5 s');
        assert.equal(exit.code, 1);
        assert.equal(elim.reads.length, 0, 'a report was written');
        const fatal = elim.log().find((l) => l['level'] === 'fatal');
        assert.match(String(fatal?.['msg']), /^cannot start: /);
        assert.match(String(fatal?.['msg']), fault.why);
        const configPath = join(elim.dir, 'lavarank.yaml');
        const r = spawnSync(process.execPath, [cliPath, 'check', '--config', configPath], { encoding: 'utf8', timeout: 10_000 });
        assert.equal(r.status, 1, `check: status ${r.status}, signal ${r.signal}\n${r.stdout}`);
        assert.match(r.stdout, fault.why);
      } finally {
        await elim.cleanup();
        cleanup();
      }
    });
  }
});

function logged(elim: Elim, pattern: RegExp): number {
  return elim.log().filter((l) => pattern.test(String(l['msg']))).length;
}

function historyModels(elim: Elim): string[] {
  return historyRecords<{ model: string }>(elim).map((r) => r.model);
}

describe('a model file replaced while the daemon runs', { concurrency: false }, () => {
  it('by each fault in turn: reports go on, normal and on time, the running model is kept and the reason logged, and a good model is then taken', async (t) => {
    const { path, cleanup } = modelDir();
    install(path, goodModel(1));
    const elim = startElim({ testInterval: 0.1, config: `model: ${path}\n` });
    try {
      await elim.waitForReports(3);
      let seed = 10;
      for (const fault of FAULTS) {
        const refused = logged(elim, /^model file (changed but cannot be used|cannot be read); keeping /);
        const before = elim.reports().length;
        fault.put(path);
        await until(`${fault.name}: the refusal logged`, () => (logged(elim, /^model file (changed but cannot be used|cannot be read); keeping /) > refused ? true : undefined), 5000);
        const refusal = elim.log().filter((l) => /; keeping /.test(String(l['msg']))).at(-1);
        assert.match(String(refusal?.['err']), new RegExp(`${fault.why.source}|ENOENT|EISDIR`));
        await sleep(300);
        assert.ok(elim.reports().length - before >= 2, `${fault.name}: only ${elim.reports().length - before} reports since the fault`);
        rmSync(path, { recursive: true, force: true });
        const good = goodModel(++seed);
        const taken = logged(elim, /^model file changed; now ranking with /);
        install(path, good);
        await until(`${fault.name}: the good model taken`, () => (logged(elim, /^model file changed; now ranking with /) > taken ? true : undefined), 5000);
      }
      await sleep(300);
      const gap = longestHistoryGap(elim);
      t.diagnostic(`${FAULTS.length} faults, ${elim.reports().length} reports, longest gap ${gap} ms at a 0.1 s interval`);
      assert.ok(gap < 2000, `a gap of ${gap} ms`);
      // By the daemon's own word: the real /proc of a saturated test machine may rank 1000 too.
      assert.equal(logged(elim, /^reporting the pessimistic rank /), 0, 'a pessimistic report');
      assert.ok(elim.reports().every((r) => /^1 rank \d+(\.\d+)?$/.test(r.line)), 'an odd report');
      // History is written six records at a time: wait for the batch with the last model.
      const last = parseModel(goodModel(seed), 'x').id;
      await until('the last model in the history', () => (historyModels(elim).at(-1) === last ? true : undefined), 5000);
    } finally {
      await elim.cleanup();
      cleanup();
    }
  });

  it('rewritten in place, slowly, while the daemon reads it: it keeps the old model until the new one is whole, then takes it', async () => {
    const { path, cleanup } = modelDir();
    install(path, goodModel(1));
    const elim = startElim({ testInterval: 0.1, config: `model: ${path}\n` });
    try {
      await elim.waitForReports(3);
      const next = Buffer.from(goodModel(2));
      // The daemon looks at the file every MODEL_CHECK_EVERY reports (0.1 s each): the
      // writing lasts several of those, so that it meets the file partly written.
      const fd = openSync(path, 'w'); // truncates: the daemon sees it empty, then growing
      for (let off = 0; off < next.length; off += 1024) {
        writeSync(fd, next, off, Math.min(1024, next.length - off));
        await sleep((MODEL_CHECK_EVERY * 100) / 3);
      }
      closeSync(fd);
      const id = parseModel(next.toString(), 'x').id;
      await until('the new model taken', () => (historyModels(elim).at(-1) === id ? true : undefined), 5000);
      // A version is read once it is the same at two checks in a row: the partial ones, each
      // replaced by a longer one before the next check, are seen changing and never read.
      assert.ok(logged(elim, /^model file keeps being replaced: /) >= 1, 'no partial version was seen: the test proves nothing');
      assert.equal(logged(elim, /^model file changed but cannot be used; keeping /), 0, 'a partial version was read');
      // By the daemon's own word: the real /proc of a saturated test machine may rank 1000 too.
      assert.equal(logged(elim, /^reporting the pessimistic rank /), 0, 'a pessimistic report');
      assert.ok(elim.reports().every((r) => /^1 rank \d+(\.\d+)?$/.test(r.line)), 'an odd report');
      const gap = longestHistoryGap(elim);
      assert.ok(gap < 2000, `a gap of ${gap} ms`);
    } finally {
      await elim.cleanup();
      cleanup();
    }
  });
});
