import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { sustainedGrowth } from '../../scripts/soak-verdict.js';

const MB = 1024 * 1024;
const flat = (n: number): number[] => Array.from({ length: n }, (_, i) => 46 * MB + (i % 3) * 50_000);

describe('sustainedGrowth (the soak\'s memory verdict)', () => {
  it('passes a flat run whose last probe alone is high, as a forced GC\'s pages not yet given back make it (figures77\'s failing run: +1.45 MiB there, VmRSS from outside falling)', () => {
    const values = [...flat(15), 47.45 * MB];
    assert.ok(sustainedGrowth(values)! < 0.2 * MB, String(sustainedGrowth(values)));
  });
  it('fails a steady leak of 100 kB a probe', () => {
    const values = Array.from({ length: 16 }, (_, i) => 46 * MB + i * 100_000);
    assert.ok(sustainedGrowth(values)! >= 1.2 * MB, String(sustainedGrowth(values)));
  });
  it('fails a step of 2 MB that stays, as the model reload\'s buffer made it (2026-11-28)', () => {
    const values = [...flat(2), ...flat(14).map((v) => v + 2 * MB)];
    assert.ok(sustainedGrowth(values)! >= 1.9 * MB, String(sustainedGrowth(values)));
  });
  it('passes a high first probe after warm-up that falls back', () => {
    const values = [48 * MB, ...flat(15)];
    assert.ok(sustainedGrowth(values)! <= 0.1 * MB, String(sustainedGrowth(values)));
  });
  it('judges a short run by what it has, and has no verdict without probes', () => {
    assert.equal(sustainedGrowth([46 * MB, 47 * MB]), MB);
    assert.equal(sustainedGrowth([46 * MB]), 0);
    assert.equal(sustainedGrowth([]), undefined);
  });
});
