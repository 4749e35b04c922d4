import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { readCalibrationAsync } from '../../src/training/dataset.js';
import { CALIBRATED, deriveClusterParams, roundParams } from '../../src/simulate/params.js';
import { repoRoot } from '../helpers.js';

const file = await readCalibrationAsync(join(repoRoot, 'data', 'calibration-epyc-2vcpu.jsonl'));

describe('deriveClusterParams', () => {

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

describe('deriveClusterParams, on the shipped dataset changed', () => {
  type Rec = (typeof file.records)[number];
  const copy = (): Rec[] => JSON.parse(JSON.stringify(file.records)) as Rec[];
  const config = (r: Rec) => r['config'] as { cpuHogs: number; membw: number; mem: number; disk: number };
  const row = (from: string[], label: string): string | undefined => from.find((f) => f.startsWith(`${label}: `));

  it('takes CPU sharing only from runs where the probe and the hogs outnumber the CPUs', () => {
    const d = deriveClusterParams(file.records);
    assert.ok(d.evidence.cpuOverhead.from.length > 0);
    for (const f of d.evidence.cpuOverhead.from) assert.ok(Number(/^h=(\d+):/.exec(f)?.[1]) + 1 > 2, f);
  });

  it('counts no processor sharing while the CPU tasks fit the CPUs, as on a host of more CPUs', () => {
    const four = copy().map((r) => ({ ...r, cpus: 4 }));
    const d2 = deriveClusterParams(file.records);
    const d4 = deriveClusterParams(four);
    // h=1 membw=1 is three tasks beside the probe's one: shared 3:2 on 2 CPUs, not at all on 4,
    // so the stretch read on 4 CPUs is the one on 2 CPUs times 1.5 (not times 2, as 3/4 of a CPU would give)
    const value = (d: typeof d2): number => Number(/: ([\d.]+) \(/.exec(row(d.evidence.memBandwidthStretch.from, 'h=1 membw=1') ?? '')?.[1]);
    assert.ok(Math.abs(value(d4) - 1.5 * value(d2)) < 0.02, `${value(d4)} vs ${value(d2)}`);
  });

  it('rounds the memory-pressure threshold down to 0.05', () => {
    const records = copy();
    for (const r of records) if (config(r).mem === 1 && r.sample.memory !== undefined) r.sample.memory.usedFraction = 0.89;
    assert.equal(deriveClusterParams(records).params.memPressureFrom, 0.85);
  });

  it('takes iowait per stream only from writer runs without the memory-bandwidth stressor', () => {
    const records = copy();
    for (const r of records) {
      if (config(r).disk !== 1 || config(r).membw !== 1 || r.sample.cpu === undefined) continue;
      r.sample.cpu.iowait = 0.95;
      r['foreign'] = { before: 0, during: 0 }; // clean, so that only the membw rule keeps them out
    }
    assert.equal(roundParams(deriveClusterParams(records).params).iowaitCpusPerStream, CALIBRATED.iowaitCpusPerStream);
  });

  it('refuses a dataset with fewer than three clean idle runs', () => {
    let kept = 0;
    const two = file.records.filter((r) => {
      const c = config(r);
      if (c.cpuHogs + c.membw + c.mem + c.disk > 0) return true;
      return kept++ < 2;
    });
    assert.throws(() => deriveClusterParams(two), /calibration data: 2 clean idle runs, at least 3 needed/);
  });
});
