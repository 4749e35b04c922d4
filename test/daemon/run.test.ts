import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { lsfAbortCode, testInterval } from '../../src/daemon/run.js';
import { defaultHistoryDir } from '../../src/history/record.js';

describe('lsfAbortCode', () => {
  it('does nothing under OpenLava, which never sets ELIM_ABORT_VALUE', () => {
    assert.equal(lsfAbortCode('rank', { LSF_RESOURCES: 'elimtrig ' }), undefined);
  });
  it('does nothing under LSF when LSF_RESOURCES names the resource', () => {
    assert.equal(lsfAbortCode('rank', { ELIM_ABORT_VALUE: '97', LSF_RESOURCES: 'gpu rank ' }), undefined);
  });
  it('gives ELIM_ABORT_VALUE under LSF when LSF_RESOURCES does not name the resource', () => {
    const r = lsfAbortCode('rank', { ELIM_ABORT_VALUE: '97', LSF_RESOURCES: 'ranking gpu ' });
    assert.equal(r?.code, 97);
    assert.match(r?.why ?? '', /does not name 'rank'/);
  });
  it('ignores an ELIM_ABORT_VALUE that is not an exit status', () => {
    assert.equal(lsfAbortCode('rank', { ELIM_ABORT_VALUE: 'x', LSF_RESOURCES: '' }), undefined);
  });
});

describe('testInterval', () => {
  it('reads --test-interval before $LAVARANK_TEST_INTERVAL', () => {
    assert.equal(testInterval('0.5', { LAVARANK_TEST_INTERVAL: '2' }), 0.5);
    assert.equal(testInterval(undefined, { LAVARANK_TEST_INTERVAL: '2' }), 2);
    assert.equal(testInterval(undefined, {}), undefined);
  });
  it('refuses a value that is not a sane number of seconds, naming the option', () => {
    assert.throws(() => testInterval('fast', {}), /--test-interval \/ \$LAVARANK_TEST_INTERVAL: expected seconds from 0.05 to 3600, received "fast"/);
    assert.throws(() => testInterval('0', {}), /expected seconds/);
  });
});

describe('defaultHistoryDir', () => {
  it('uses $LSF_LOGDIR when set, else /var/lib/lavarank/history', () => {
    assert.equal(defaultHistoryDir({ LSF_LOGDIR: '/opt/lsf/log' }, () => true), '/opt/lsf/log/lavarank-history');
    assert.equal(defaultHistoryDir({}), '/var/lib/lavarank/history');
  });

  it('does not use an $LSF_LOGDIR that does not exist, since lavarank never creates it', () => {
    assert.equal(defaultHistoryDir({ LSF_LOGDIR: '/nonexistent/lsf/log' }), '/var/lib/lavarank/history');
  });
});
