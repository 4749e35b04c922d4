import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { GEN_FEATURES, generateData, type GenOptions } from '../../scripts/gen-data.js';
import { readAcct, type JobFinish } from '../../src/lsf/acct.js';
import { ConfigError } from '../../src/util/errors.js';
import { readHistory } from '../../src/history/reader.js';
import { FEATURE_NAMES } from '../../src/model/features.js';
import { buildExamples } from '../../src/training/jobs.js';
import { fileDir } from '../helpers.js';

const root = fileDir('lavarank-gen-');
let runs = 0;

async function generate(options: Omit<GenOptions, 'outDir'>) {
  runs += 1;
  return generateData({ outDir: join(root, String(runs)), ...options });
}

function contents(result: { acctPath: string; historyDir: string }): string[] {
  const files = readdirSync(result.historyDir).sort();
  return [readFileSync(result.acctPath, 'utf8'), ...files.map((f) => readFileSync(join(result.historyDir, f), 'utf8'))];
}

describe('generateData', () => {
  test('writes identical files for the same seed and different ones for another', async () => {
    const small = { hosts: 3, ticks: 200, jobs: 50 };
    const a = contents(await generate({ ...small, seed: 5 }));
    const b = contents(await generate({ ...small, seed: 5 }));
    const c = contents(await generate({ ...small, seed: 6 }));
    assert.deepEqual(a, b);
    assert.notDeepEqual(a, c);
  });

  test('writes files the readers accept without a malformed line, the torn ends counted', async () => {
    const result = await generate({ hosts: 4, ticks: 300, jobs: 200, torn: true, domain: '.example.com' });
    const acct = readAcct(result.acctPath);
    const jobs: JobFinish[] = [];
    for await (const job of acct) jobs.push(job);
    const history = readHistory(result.historyDir);
    for await (const _ of history);
    assert.equal(acct.stats.records, 200);
    assert.equal(acct.stats.malformed, 0);
    assert.equal(history.stats.records, 1200);
    assert.equal(history.stats.malformed, 0);
    assert.equal(history.stats.incomplete, 4);
    assert.ok(jobs.every((j) => j.execHosts[0]?.endsWith('.example.com')));
  });

  test('writes only features the model knows, so retrain reads every one of them', async () => {
    const result = await generate({ hosts: 2, ticks: 5, jobs: 0 });
    const history = readHistory(result.historyDir);
    const names = new Set<string>();
    for await (const record of history) for (const name of Object.keys(record.features)) names.add(name);
    assert.deepEqual([...names].sort(), [...GEN_FEATURES].sort());
    for (const name of names) assert.ok(FEATURE_NAMES.includes(name), `${name} is not a model feature`);
  });

  test('rotates history into .jsonl.N files, oldest with the highest N', async () => {
    const result = await generate({ hosts: 1, ticks: 25, jobs: 0, rotateEvery: 10 });
    assert.deepEqual(readdirSync(result.historyDir).sort(), ['node001.jsonl', 'node001.jsonl.1', 'node001.jsonl.2']);
    const firstTs = (file: string) => (JSON.parse(readFileSync(join(result.historyDir, file), 'utf8').split('\n')[0] ?? '') as { ts: number }).ts;
    assert.ok(firstTs('node001.jsonl.2') < firstTs('node001.jsonl.1'));
    assert.equal(readFileSync(join(result.historyDir, 'node001.jsonl'), 'utf8').split('\n').length - 1, 5);
  });

  test('makes jobs of varied sizes whose contention labels recover slowdown = 200 x cpu_busy', async () => {
    const result = await generate({ hosts: 8, ticks: 2000, jobs: 3000, seed: 11, domain: '.example.com', sizeSpread: 3 });
    const { join: j, examples, excluded } = await buildExamples(readAcct(result.acctPath), readHistory(result.historyDir), { holdoutFraction: 0 });
    assert.equal(excluded.noHistory, 0);
    assert.equal(excluded.fewRuns + excluded.tooShort + excluded.lowCpu, 0);
    assert.ok(excluded.unstable < 0.1 * examples.index.length, `${excluded.unstable} jobs of unstable families`);
    const xs = [...examples.index].map((i) => j.namedAt(i)['cpu_busy'] ?? NaN);
    const ys = [...examples.label];
    const mean = (v: number[]) => v.reduce((s, x) => s + x, 0) / v.length;
    const mx = mean(xs);
    const my = mean(ys);
    let sxy = 0;
    let sxx = 0;
    xs.forEach((x, i) => {
      sxy += (x - mx) * ((ys[i] ?? NaN) - my);
      sxx += (x - mx) ** 2;
    });
    // Against the family's fastest runs (which waited a little too), not against zero contention.
    const slope = sxy / sxx;
    assert.ok(slope > 170 && slope < 215, `slope ${slope}`);
  });

  test('rejects a host count of 0, naming the option', async () => {
    await assert.rejects(generate({ hosts: 0 }), (err: unknown) => err instanceof ConfigError && /^hosts: expected an integer >= 1, received 0$/.test(err.message));
  });
});
