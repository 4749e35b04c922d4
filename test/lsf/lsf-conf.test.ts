import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isPlainPath } from '../../src/lsf/lsf-conf.js';

describe('isPlainPath', () => {
  it('takes an absolute path and refuses one a shell would expand, since lsf.conf is never evaluated', () => {
    assert.equal(isPlainPath('/opt/openlava/etc'), true);
    assert.equal(isPlainPath('/opt/$CLUSTER/conf'), false);
    assert.equal(isPlainPath('/opt/`hostname`/conf'), false);
    assert.equal(isPlainPath('conf'), false);
  });
});
