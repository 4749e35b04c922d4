import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { readCalibration } from '../../src/training/dataset.js';
import { CALIBRATED, deriveClusterParams, roundParams } from '../../src/simulate/params.js';
import { repoRoot } from '../helpers.js';

describe('deriveClusterParams', () => {
  const file = readCalibration(join(repoRoot, 'data', 'calibration-epyc-2vcpu.jsonl'));

  it('gives CALIBRATED from the shipped calibration dataset', () => {
    assert.deepEqual(roundParams(deriveClusterParams(file.records).params), { ...CALIBRATED });
  });

  it('finds processor sharing in the probe\'s CPU part and no memory-pressure effect with a free CPU', () => {
    const d = deriveClusterParams(file.records);
    assert.ok(Math.abs(d.params.cpuOverhead - 1) < 0.05);
    assert.ok(Math.abs(d.evidence.memPressureFreeCpu.value - 1) < 0.1);
    assert.ok(d.evidence.diskShareStretch.from.length >= 2);
  });

  it('uses only clean runs and refuses data without idle runs', () => {
    const d = deriveClusterParams(file.records);
    assert.ok(d.runs < file.records.length && d.runs > 100);
    const noIdle = file.records.filter((r) => (r['config'] as { cpuHogs: number }).cpuHogs > 0);
    assert.throws(() => deriveClusterParams(noIdle), /clean idle runs/);
  });
});
