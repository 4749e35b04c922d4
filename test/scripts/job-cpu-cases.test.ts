import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parseModel } from '../../src/model/model.js';
import { modelRanker } from '../../src/model/rankers.js';
import { CASES, sampleOf } from '../../scripts/job-cpu-cases.js';
import { repoRoot } from '../helpers.js';

describe('job-cpu-cases', () => {
  const ranker = modelRanker(parseModel(readFileSync(join(repoRoot, 'models', 'default.json'), 'utf8'), 'models/default.json'));
  const rank = (i: number, which: 'host' | 'seen'): number => ranker.rank(sampleOf(CASES[i]![which]!)).rank;

  it('ranks a host whose jobs may use 2, 32 or 126 of its CPUs as the plain host a job there sees, through the real collectors', () => {
    for (const i of [0, 2, 5]) assert.equal(rank(i, 'host'), rank(i, 'seen'), CASES[i]!.host.name);
  });

  it('ranks a host whose other CPUs each run a poller as the plain host a job there sees, though the pollers dilute PSI cpu', () => {
    assert.equal(rank(10, 'host'), rank(10, 'seen'), CASES[10]!.host.name);
    assert.ok(rank(10, 'host') > 300, `${CASES[10]!.host.name}: ${rank(10, 'host')}`);
  });

  it('ranks the limit docs/model.md states too high, not too low: waiting on the left-out CPUs counts as the job\'s', () => {
    assert.ok(rank(7, 'host') > 100 && rank(7, 'seen') < 5, CASES[7]!.host.name);
    // PSI as the kernel weights it is read over the job's CPUs, as PSI at 100 % is: no higher.
    assert.ok(rank(9, 'host') > rank(9, 'seen') && rank(9, 'host') <= rank(8, 'host'), CASES[9]!.host.name);
  });
});
