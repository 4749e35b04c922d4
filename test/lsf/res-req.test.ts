import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { durationSeconds, parseResReq } from '../../src/lsf/res-req.js';

describe('parseResReq', () => {
  it('reads the order terms and the rusage values of a RES_REQ', () => {
    const r = parseResReq('select[rank<50] order[rank:r15s] rusage[mem=100:rank=8:duration=45s:decay=1] span[hosts=1]');
    assert.deepEqual(r.order, ['rank', 'r15s']);
    assert.deepEqual(Object.fromEntries(r.rusage), { mem: '100', rank: '8', duration: '45s', decay: '1' });
  });

  it('reads rusage terms separated by commas, as LSF writes resources with their own durations', () => {
    const r = parseResReq('order[rank] rusage[mem=20, rank=2:duration=45s:decay=1]');
    assert.equal(r.rusage.get('rank'), '2');
    assert.equal(r.rusage.get('mem'), '20');
  });

  it('keeps a one-letter rusage name and drops a term with no name before its =', () => {
    assert.deepEqual(Object.fromEntries(parseResReq('rusage[=5:r=1:rank=2]').rusage), { r: '1', rank: '2' });
  });

  it('takes a duration as minutes without a unit, and refuses an upper-case unit as bsub does', () => {
    assert.equal(durationSeconds('45s'), 45);
    assert.equal(durationSeconds('2m'), 120);
    assert.equal(durationSeconds('2'), 120);
    assert.equal(durationSeconds('1h'), 3600);
    assert.equal(durationSeconds('40S'), undefined);
  });

  it('takes a bare decimal as minutes but refuses a decimal with a unit, as getTimeVal does', () => {
    assert.equal(durationSeconds('1.5'), 90);
    assert.equal(durationSeconds('1.5m'), undefined);
    assert.equal(durationSeconds('0.5h'), undefined);
  });
});
