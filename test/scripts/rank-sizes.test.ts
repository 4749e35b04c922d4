import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { CASES, rankSizes, SIZES, sizesTable } from '../../scripts/rank-sizes.js';
import { repoRoot } from '../helpers.js';

describe('rank-sizes', () => {
  const results = rankSizes();

  it('gives docs/model.md\'s table of the same contention on every size, as printed', () => {
    const model = readFileSync(join(repoRoot, 'docs', 'model.md'), 'utf8');
    const block = /<!-- npm run rank-sizes -->\n([\s\S]*?)\n<!-- end rank-sizes -->/.exec(model)?.[1];
    assert.ok(block !== undefined, 'no rank-sizes block in docs/model.md');
    assert.equal(block, sizesTable(CASES, SIZES, results));
  });

  it('ranks a stall of PSI memory, steal, a saturated link, one task keeping a disk saturated, a CPU quota and a cpuset within half a point on 2 to 256 CPUs', () => {
    const flat = ['PSI memory "some" 0.8', 'PSI memory "some" 0.9', 'memory 95 % used', 'steal 20 %, a quarter of the CPUs busy', 'busiest link 95 % of its speed', 'one task keeping a disk saturated, alone', 'a container of `cpus: 2` running two loops, the machine otherwise idle', 'jobs on CPUs 0-1 (`cpu.job_cpus`), four tasks there, a loop on every other CPU'];
    for (const name of flat) {
      const i = CASES.findIndex((c) => c.name === name);
      assert.ok(i >= 0, name);
      const ranks = results[i]!.map((r) => r.rank);
      assert.ok(Math.max(...ranks) - Math.min(...ranks) <= 0.5, `${name}: ${ranks.map((r) => r.toFixed(1)).join(', ')}`);
    }
  });
});
