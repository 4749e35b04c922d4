import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { stageFigures } from '../../scripts/count-stages.js';

describe('count-stages', () => {
  it('takes the gap\'s window from each stage, and a named stage\'s figure from the one that names it', () => {
    const stages = [{ name: 'wait', less: 'self' }, { name: 'timer alone', less: 'self' }, { name: 'advance' }, { name: 'sample', less: 'advance' }, { name: 'line' }];
    // Per call: the gap 40, a whole-window stage 30, the harness's work 40 + 100, a sample with it 40 + 100 + 500.
    assert.deepEqual(stageFigures(stages, [40, 30, 140, 640, 45]), [40, 30, 100, 500, 5]);
  });

  it('names a stage whose subtracted stage does not exist', () => {
    assert.throws(() => stageFigures([{ name: 'wait', less: 'self' }, { name: 'sample', less: 'nothing' }], [1, 2]), /stage sample: no stage nothing to subtract/);
  });
});
