import assert from 'node:assert/strict';
import fs, { chmodSync, mkdirSync, readFileSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import fsPromises from 'node:fs/promises';
import { syncBuiltinESMExports } from 'node:module';
import { join } from 'node:path';
import { describe, it, mock } from 'node:test';
import fc from 'fast-check';
import type { Sample } from '../../src/collectors/types.js';
import { defaultConfig, type Config } from '../../src/config/config.js';
import { ModelError } from '../../src/util/errors.js';
import { backbone } from '../../src/model/backbone.js';
import { RAW_NAMES } from '../../src/model/features.js';
import { parseModel, serializeModel, type ModelFile } from '../../src/model/model.js';
import { defaultModelPath, describeModel, modelRanker, openRankers } from '../../src/model/rankers.js';
import { captureLog, repoRoot, tempDir, until } from '../helpers.js';
import { anySample, calibrationSamples, fullSample, randomModelFile } from './helpers.js';
import { referenceRank } from './reference.js';

function config(model: string | null): Config {
  return { ...defaultConfig(), model };
}

// Writes a model the way an administrator or retrain would: a new file renamed over the old.
function install(path: string, file: ModelFile | string): void {
  writeFileSync(`${path}.new`, typeof file === 'string' ? file : serializeModel(file), { mode: 0o644 });
  renameSync(`${path}.new`, path);
}

function withDir(fn: (dir: string) => void): void {
  const t = tempDir();
  try {
    fn(t.dir);
  } finally {
    t.cleanup();
  }
}

async function withDirAsync(fn: (dir: string) => Promise<void>): Promise<void> {
  const t = tempDir();
  try {
    await fn(t.dir);
  } finally {
    t.cleanup();
  }
}

describe('openRankers', () => {
  it('ranks with the embedded default model when the config names none, and says which', () => {
    const c = captureLog();
    const rankers = openRankers(config(null), c.log);
    const model = rankers.model();
    assert.ok(model !== undefined);
    assert.equal(rankers.path, defaultModelPath());
    const line = c.lines.find((l) => l.level === 'info' && /embedded default model/.test(String(l.msg)));
    assert.ok(line, c.messages().join('\n'));
    assert.equal(line['model'], model.id);
    assert.equal(line['trained'], model.file.training.date);
    assert.equal(typeof line['holdoutMae'], 'number');
  });

  it('warns in the log at start that a configured model fitted before 2026-12-06 should be retrained, and ranks with it', () => {
    withDir((dir) => {
      const path = join(dir, 'm.json');
      const file = randomModelFile();
      delete (file.training as Record<string, unknown>)['backboneVersion'];
      install(path, file);
      const c = captureLog();
      const rankers = openRankers(config(path), c.log);
      assert.ok(rankers.model() !== undefined);
      const warning = c.lines.find((l) => l.level === 'warn' && /has no training\.backboneVersion/.test(String(l.msg)));
      assert.ok(warning, c.messages().join('\n'));
      assert.equal(warning['model'], rankers.model()?.id);
      const d = captureLog();
      openRankers(config(null), d.log);
      assert.equal(d.lines.filter((l) => l.level === 'warn').length, 0, d.messages().join('\n'));
    });
  });

  it('gives the rank, the model id and the named features for a sample', () => {
    withDir((dir) => {
      const path = join(dir, 'm.json');
      install(path, randomModelFile());
      const ranker = openRankers(config(path), captureLog().log).current();
      const result = ranker.rank(fullSample());
      assert.ok(result.rank >= 0 && result.rank <= 1000);
      assert.match(result.model, /^test#[0-9a-f]{8}$/);
      assert.deepEqual(Object.keys(result.features ?? {}), RAW_NAMES);
      assert.equal(result.features?.['cpu_busy'], 0.5);
      assert.equal(result.features?.['cpus'], 4);
      assert.equal(result.features?.['gpu_util_max'], null);
    });
  });

  it('gives the backbone and the per-type ranks beside the rank, as the backbone computes them from the same inputs', () => {
    withDir((dir) => {
      const path = join(dir, 'm.json');
      install(path, randomModelFile());
      const sample = fullSample({ ncpu: 2, busy: 1, runnablePerCpu: 2 });
      sample.pressure!.cpuSome = 0.9; // four tasks on two CPUs: two always wait
      const result = openRankers(config(path), captureLog().log).current().rank(sample);
      const b = backbone(result.features ?? {});
      assert.equal(result.backbone, b.rank);
      assert.deepEqual(result.typed, { rank_cpu: b.cpu, rank_mem: b.mem, rank_io: b.io });
      assert.ok(b.cpu > 100, 'four tasks on two CPUs: a new one gets 2/5 of a CPU');
    });
  });

  it('refuses to start on an invalid or missing model named in the config', () => {
    withDir((dir) => {
      const path = join(dir, 'm.json');
      install(path, '{"format":"lavarank-model","version":2}');
      assert.throws(() => openRankers(config(path), captureLog().log), (err: unknown) => err instanceof ModelError && /m\.json: name is nothing/.test(err.message));
      assert.throws(() => openRankers(config(join(dir, 'none.json')), captureLog().log), /none\.json cannot be read: ENOENT/);
    });
  });

  it('falls back to the formula, logging an error, when the embedded default is unusable', () => {
    withDir((dir) => {
      const broken = join(dir, 'default.json');
      install(broken, 'not json');
      const c = captureLog();
      const rankers = openRankers(config(null), c.log, { defaultModelPath: broken });
      assert.equal(rankers.current().name, 'formula');
      assert.equal(rankers.model(), undefined);
      assert.ok(c.lines.some((l) => l.level === 'error' && /embedded default model is unusable/.test(String(l.msg))));
    });
  });
});

describe('refresh', () => {
  it('does nothing while the file is unchanged', async () => {
    await withDirAsync(async (dir) => {
      const path = join(dir, 'm.json');
      install(path, randomModelFile());
      const c = captureLog();
      const rankers = openRankers(config(path), c.log);
      const before = rankers.current();
      const logged = c.lines.length;
      for (let i = 0; i < 5; i++) await rankers.refresh();
      assert.equal(rankers.current(), before);
      assert.equal(c.lines.length, logged);
    });
  });

  it('switches to a replaced model that validates, and logs the switch', async () => {
    await withDirAsync(async (dir) => {
      const path = join(dir, 'm.json');
      install(path, randomModelFile({ seed: 1 }));
      const c = captureLog();
      const rankers = openRankers(config(path), c.log);
      const first = rankers.current().name;
      install(path, randomModelFile({ seed: 2, name: 'second' }));
      await rankers.refresh();
      assert.equal(rankers.current().name, first, 'taken at the first check that found it, before it had settled');
      await rankers.refresh();
      assert.match(rankers.current().name, /^second#/);
      assert.notEqual(rankers.current().name, first);
      assert.ok(c.lines.some((l) => /model file changed; now ranking with second#/.test(String(l.msg)) && l['previous'] === first));
    });
  });

  // A script that rewrites the model in a loop had every look load it: 0.7-1.2 s of the
  // elim's CPU each near the size limit, 1-2 % of a CPU at the 10 s interval.
  it('never reads a model file replaced before every check, says so once, and takes it once it stays the same from one check to the next', async () => {
    await withDirAsync(async (dir) => {
      const path = join(dir, 'm.json');
      install(path, randomModelFile({ name: 'old' }));
      const c = captureLog();
      const rankers = openRankers(config(path), c.log);
      await withModelReadHooked(async (wasRead) => {
        for (let i = 1; i <= 5; i++) {
          install(path, randomModelFile({ name: `v${i}`, seed: i + 1 }));
          await rankers.refresh();
        }
        assert.equal(wasRead(), false, 'a version replaced before the next check was read');
      });
      assert.match(rankers.current().name, /^old#/);
      const said = c.lines.filter((l) => l.level === 'warn' && /^model file keeps being replaced: .*; keeping old#/.test(String(l.msg)));
      assert.equal(said.length, 1, c.messages().join('\n'));
      await rankers.refresh();
      assert.match(rankers.current().name, /^v5#/);
    });
  });

  it('keeps the old model when the replacement is invalid, logging once per version', async () => {
    await withDirAsync(async (dir) => {
      const path = join(dir, 'm.json');
      install(path, randomModelFile());
      const c = captureLog();
      const rankers = openRankers(config(path), c.log);
      const good = rankers.current();
      const bad = randomModelFile({ name: 'bad' });
      bad.residual.network.layers[1]!['0']!.weights!['2'] = NaN;
      install(path, serializeModel(bad));
      for (let i = 0; i < 3; i++) await rankers.refresh();
      assert.equal(rankers.current(), good);
      const errors = c.lines.filter((l) => l.level === 'error');
      assert.equal(errors.length, 1);
      assert.match(String(errors[0]!['err']), /network\.layers\[1\]\["0"\]\.weights\["2"\] is null/);
      assert.match(String(errors[0]!.msg), /keeping test#/);
      // A second bad version is logged too, then a good one is taken.
      install(path, '{');
      await rankers.refresh();
      await rankers.refresh();
      assert.equal(c.lines.filter((l) => l.level === 'error').length, 2);
      install(path, randomModelFile({ name: 'fixed' }));
      await rankers.refresh();
      await rankers.refresh();
      assert.match(rankers.current().name, /^fixed#/);
    });
  });

  it('keeps the old model when the file is deleted, logging once, and takes it back when it returns', async () => {
    await withDirAsync(async (dir) => {
      const path = join(dir, 'm.json');
      install(path, randomModelFile());
      const c = captureLog();
      const rankers = openRankers(config(path), c.log);
      const good = rankers.current();
      unlinkSync(path);
      for (let i = 0; i < 3; i++) await rankers.refresh();
      assert.equal(rankers.current(), good);
      assert.equal(c.lines.filter((l) => l.level === 'error' && /cannot be read; keeping/.test(String(l.msg))).length, 1);
      install(path, randomModelFile({ name: 'back' }));
      await rankers.refresh();
      await rankers.refresh();
      assert.match(rankers.current().name, /^back#/);
    });
  });

  it('notices a model made writable by others (a chmod changes ctime) and keeps the old one', async () => {
    await withDirAsync(async (dir) => {
      const path = join(dir, 'm.json');
      install(path, randomModelFile());
      const c = captureLog();
      const rankers = openRankers(config(path), c.log);
      const good = rankers.current();
      writeFileSync(path, serializeModel(randomModelFile({ name: 'sneaky' })));
      chmodSync(path, 0o666);
      await rankers.refresh();
      await rankers.refresh();
      assert.equal(rankers.current(), good);
      assert.ok(c.lines.some((l) => l.level === 'error' && /writable by group or others/.test(String(l['err']))));
    });
  });

  it('takes a version refused for its directory once the directory is fixed, without the file being touched again', async () => {
    await withDirAsync(async (dir) => {
      const models = join(dir, 'models');
      mkdirSync(models, { mode: 0o755 });
      chmodSync(models, 0o755);
      const path = join(models, 'm.json');
      install(path, randomModelFile({ name: 'old' }));
      const c = captureLog();
      const rankers = openRankers(config(path), c.log);
      chmodSync(models, 0o775); // made under umask 002
      install(path, randomModelFile({ name: 'new', seed: 2 }));
      for (let i = 0; i < 3; i++) await rankers.refresh();
      assert.match(rankers.current().name, /^old#/);
      const refusals = c.lines.filter((l) => l.level === 'error' && /chmod go-w/.test(String(l['err'])));
      assert.equal(refusals.length, 1, 'logged once while nothing changes');
      chmodSync(models, 0o755); // the fix the log gives
      assert.match((await describeModel(config(path))).description, /: new#/);
      await rankers.refresh();
      assert.match(rankers.current().name, /^new#/);
      assert.ok(c.lines.some((l) => /model file usable now; now ranking with new#/.test(String(l.msg))));
    });
  });

  it('takes a version whose read failed with an I/O error at a later check, without the file being touched again', async () => {
    await withDirAsync(async (dir) => {
      const path = join(dir, 'm.json');
      install(path, randomModelFile({ name: 'old' }));
      const c = captureLog();
      const rankers = openRankers(config(path), c.log);
      install(path, randomModelFile({ name: 'new', seed: 2 }));
      await rankers.refresh(); // found; read at the next check, which finds it unchanged
      // The disk (or an NFS server) fails the read once: EIO from read(2).
      const failing = mock.method(fs, 'readSync', () => {
        throw Object.assign(new Error('EIO: i/o error, read'), { code: 'EIO' });
      });
      syncBuiltinESMExports();
      try {
        await rankers.refresh();
      } finally {
        failing.mock.restore();
        syncBuiltinESMExports();
      }
      assert.match(rankers.current().name, /^old#/);
      assert.ok(c.lines.some((l) => l.level === 'error' && /cannot be read: EIO/.test(String(l['err']))));
      await rankers.refresh();
      assert.match(rankers.current().name, /^new#/);
    });
  });

  // The daemon asks every MODEL_CHECK_EVERY reports: a look held by a server that stopped
  // answering must not be joined by another each minute, each holding one of libuv's four threads.
  it('starts no second look at the file while one is under way', async () => {
    await withDirAsync(async (dir) => {
      const path = join(dir, 'm.json');
      install(path, randomModelFile());
      const rankers = openRankers(config(path), captureLog().log);
      let answer: (() => void) | undefined;
      const held = mock.method(fsPromises, 'stat', (async (...args: Parameters<typeof fsPromises.stat>) => {
        await new Promise<void>((resolve) => (answer = resolve));
        return fs.statSync(args[0]);
      }) as typeof fsPromises.stat);
      syncBuiltinESMExports();
      try {
        const looks = [rankers.refresh(), rankers.refresh(), rankers.refresh()];
        await until('the first look', () => answer);
        assert.equal(held.mock.callCount(), 1);
        answer?.();
        await Promise.all(looks);
      } finally {
        held.mock.restore();
        syncBuiltinESMExports();
      }
    });
  });

  // SIGTERM while a new version's walk is under way: the walk ends at its next question,
  // which is the stop, not a fault of the file.
  it('ends a look under way once the daemon stops, keeping the model without logging the stop as the file\'s fault', async () => {
    await withDirAsync(async (dir) => {
      const path = join(dir, 'm.json');
      install(path, randomModelFile({ name: 'old' }));
      const c = captureLog();
      const stop = new AbortController();
      const rankers = openRankers(config(path), c.log, { signal: stop.signal });
      install(path, randomModelFile({ name: 'new', seed: 2 }));
      await rankers.refresh(); // found; walked at the next check, which finds it unchanged
      stop.abort();
      await rankers.refresh();
      assert.match(rankers.current().name, /^old#/);
      assert.deepEqual(c.lines.filter((l) => l.level === 'error').map((l) => l.msg), []);
    });
  });

  // The read of a new version is hooked (every other question of a look is asked in the
  // pool, the model's read alone by readSync), so that what follows it can be watched turn by turn.
  async function withModelReadHooked(fn: (wasRead: () => boolean) => Promise<void>): Promise<void> {
    const readSync = fs.readSync;
    let read = false;
    const hooked = mock.method(fs, 'readSync', ((...args: Parameters<typeof fs.readSync>) => {
      read = true;
      return readSync(...args);
    }) as typeof fs.readSync);
    syncBuiltinESMExports();
    try {
      await fn(() => read);
    } finally {
      hooked.mock.restore();
      syncBuiltinESMExports();
    }
  }

  // The digest of a model near the 2 MiB limit took 585-632 ms of the elim's CPU at once,
  // its reports, timers and SIGTERM handler waiting (a 0.5 s interval: gaps of 1.9-2.6 s).
  it('lets reports due while a new version is digested be made, with the old model, before the new one is taken', async () => {
    await withDirAsync(async (dir) => {
      const path = join(dir, 'm.json');
      install(path, randomModelFile({ name: 'old' }));
      const rankers = openRankers(config(path), captureLog().log);
      install(path, randomModelFile({ name: 'new', seed: 2, hidden: [128, 64] }));
      await rankers.refresh(); // found; read at the next check, which finds it unchanged
      await withModelReadHooked(async (wasRead) => {
        const ranked: string[] = []; // the model each turn of the loop after the read would rank with
        let done = false;
        const report = (): void => {
          if (done) return;
          if (wasRead()) ranked.push(rankers.current().name);
          setImmediate(report);
        };
        setImmediate(report);
        await rankers.refresh().then(() => (done = true));
        assert.ok(ranked.length >= 2, `${ranked.length} turns of the loop between the read and the switch`);
        assert.ok(ranked.every((name) => name.startsWith('old#')), ranked.join(', '));
        assert.match(rankers.current().name, /^new#/);
      });
    });
  });

  it('abandons a new version being digested once the daemon stops, keeping the old model without an error line', async () => {
    await withDirAsync(async (dir) => {
      const path = join(dir, 'm.json');
      install(path, randomModelFile({ name: 'old' }));
      const c = captureLog();
      const stop = new AbortController();
      const rankers = openRankers(config(path), c.log, { signal: stop.signal });
      install(path, randomModelFile({ name: 'new', seed: 2, hidden: [128, 64] }));
      await rankers.refresh(); // found; read at the next check, which finds it unchanged
      await withModelReadHooked(async (wasRead) => {
        let done = false;
        const sigterm = (): void => {
          if (wasRead()) stop.abort();
          else if (!done) setImmediate(sigterm);
        };
        setImmediate(sigterm);
        await rankers.refresh().then(() => (done = true));
        assert.ok(stop.signal.aborted, 'the stop came after the look');
        assert.match(rankers.current().name, /^old#/);
        assert.deepEqual(c.lines.filter((l) => l.level === 'error').map((l) => l.msg), []);
      });
    });
  });

  it('leaves the formula for the embedded default once it is repaired', async () => {
    await withDirAsync(async (dir) => {
      const path = join(dir, 'default.json');
      install(path, 'broken');
      const rankers = openRankers(config(null), captureLog().log, { defaultModelPath: path });
      assert.equal(rankers.current().name, 'formula');
      install(path, randomModelFile());
      await rankers.refresh();
      await rankers.refresh();
      assert.match(rankers.current().name, /^test#/);
    });
  });
});

describe('describeModel', () => {
  it('describes a usable model with its id, training date and holdout error', async () => {
    await withDirAsync(async (dir) => {
      const path = join(dir, 'm.json');
      install(path, randomModelFile());
      const d = await describeModel(config(path));
      assert.deepEqual(d.problems, []);
      assert.match(d.description, /^model .*m\.json: test#[0-9a-f]{8}, trained 2026-11-28 on 100 samples \(test\); holdout MAE 12\.5 \(mean 40\.0, load-only 30\.0, formula 50\.0\)$/);
    });
  });

  it('warns, without a problem, that a model fitted before 2026-12-06 is ranked as it was fitted and should be retrained', async () => {
    await withDirAsync(async (dir) => {
      const path = join(dir, 'm.json');
      const file = randomModelFile();
      delete (file.training as Record<string, unknown>)['backboneVersion'];
      install(path, file);
      const d = await describeModel(config(path));
      assert.deepEqual(d.problems, []);
      assert.equal(d.warnings.length, 1);
      assert.match(d.warnings[0]!, /^model test#[0-9a-f]{8} has no training\.backboneVersion: an older lavarank fitted it, .*dilutes.*ranked as it was fitted until it is retrained.*lavarank retrain/);
      install(path, randomModelFile());
      assert.deepEqual((await describeModel(config(path))).warnings, []);
    });
  });

  it('warns of a model an older build fitted on 2026-12-06 by the field it lacks, not as trained before the date its description gives', async () => {
    await withDirAsync(async (dir) => {
      const path = join(dir, 'm.json');
      const file = randomModelFile();
      delete (file.training as Record<string, unknown>)['backboneVersion'];
      file.training.date = '2026-12-06T05:00:00.000Z';
      install(path, file);
      const d = await describeModel(config(path));
      assert.match(d.description, /trained 2026-12-06 /);
      assert.equal(d.warnings.length, 1);
      assert.doesNotMatch(d.warnings[0]!, /trained before/);
      assert.match(d.warnings[0]!, /has no training\.backboneVersion/);
      file.training['backboneVersion'] = 1;
      install(path, file);
      assert.match((await describeModel(config(path))).warnings[0] ?? '', /^model test#[0-9a-f]{8} has training\.backboneVersion 1: an older lavarank fitted it/);
    });
  });

  it('lists an invalid configured model as a problem that stops the daemon', async () => {
    await withDirAsync(async (dir) => {
      const path = join(dir, 'm.json');
      install(path, '[]');
      const d = await describeModel(config(path));
      assert.match(d.description, /would refuse to start/);
      assert.match(d.problems[0] ?? '', /m\.json: is a list of 0, expected an object/);
    });
  });

  it('lists an unusable embedded default as a problem, saying the formula would be used', async () => {
    await withDirAsync(async (dir) => {
      const d = await describeModel(config(null), { defaultModelPath: join(dir, 'none.json') });
      assert.match(d.problems[0] ?? '', /embedded default model unusable \(the daemon would fall back to the built-in formula\): .*ENOENT/);
    });
  });
});

describe('models/default.json', () => {
  it('is a valid model for this build whose grouped validation is recorded, beating the mean, the load line and the formula', () => {
    const model = parseModel(readFileSync(join(repoRoot, 'models', 'default.json'), 'utf8'), 'models/default.json');
    const t = model.file.training;
    assert.ok(t.holdoutMae < Math.min(t.baselines.mean, t.baselines.loadOnly, t.baselines.formula), JSON.stringify(t));
    const v = t['validation'] as { method: string; gate: string };
    assert.match(v.method, /^grouped \d+-fold, \d+ repeats$/);
    assert.match(v.gate, /^the model \(MAE [\d.]+\) /);
  });

  it('was trained on the host size of the calibration only, so larger hosts are outside its range', () => {
    const model = parseModel(readFileSync(join(repoRoot, 'models', 'default.json'), 'utf8'), 'default');
    const cpus = model.file.ranges.find((r) => r.feature === 'cpus');
    assert.deepEqual([cpus?.min, cpus?.max], [2, 2]);
  });

  it('ranks an idle host low and a host with twice as many runnable tasks as CPUs high', () => {
    const ranker = modelRanker(parseModel(readFileSync(join(repoRoot, 'models', 'default.json'), 'utf8'), 'default'));
    const idle = fullSample({ busy: 0.02, runnablePerCpu: 0 });
    idle.pressure = { cpuSome: 0, memorySome: 0, memoryFull: 0, ioSome: 0, ioFull: 0 };
    idle.disk!.busyMax = idle.disk!.busyMean = 0;
    idle.memory!.majorFaultsPerSec = 0;
    idle.load!.load1PerCpu = 0.05;
    const busy = fullSample({ busy: 1, runnablePerCpu: 2 });
    busy.pressure = { cpuSome: 0.9, memorySome: 0, memoryFull: 0, ioSome: 0, ioFull: 0 };
    busy.disk!.busyMax = busy.disk!.busyMean = 0;
    assert.ok(ranker.rank(idle).rank < 15, `idle: ${ranker.rank(idle).rank}`);
    assert.ok(ranker.rank(busy).rank > 60, `busy: ${ranker.rank(busy).rank}`);
  });
});

describe('modelRanker', () => {
  it('gives calibration and random samples the rank, features, typed ranks and backbone rank the reference gives, bit for bit', () => {
    const file = randomModelFile({ hidden: [12, 8], seed: 5 });
    file.ranges = file.ranges.map((r, i) => ({ ...r, hi: i % 2 === 0 ? 0.4 : 1 }));
    file.residual.output = { rankAtZero: -200, rankAtOne: 300 };
    const models = [parseModel(readFileSync(join(repoRoot, 'models', 'default.json'), 'utf8'), 'default'), parseModel(serializeModel(file), 'network')];
    const samples = calibrationSamples();
    for (const model of models) {
      const ranker = modelRanker(model);
      const assertSame = (sample: Sample): void => {
        const result = ranker.rank(sample);
        assert.deepStrictEqual(result, referenceRank(model, sample)); // numbers by Object.is
        assert.deepStrictEqual(Object.keys(result.features ?? {}), RAW_NAMES);
      };
      for (const sample of samples) assertSame(sample);
      fc.assert(fc.property(anySample, assertSame), { numRuns: 1000 });
    }
  });
});
