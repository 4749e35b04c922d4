import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { UsageError } from '../../src/util/errors.js';
import { testInterval } from '../../src/lsf/wrapper.js';

describe('testInterval', () => {
  it('reads --test-interval before $LAVARANK_TEST_INTERVAL', () => {
    assert.equal(testInterval('0.5', { LAVARANK_TEST_INTERVAL: '2' }), 0.5);
    assert.equal(testInterval(undefined, { LAVARANK_TEST_INTERVAL: '2' }), 2);
    assert.equal(testInterval(undefined, {}), undefined);
  });
  it('refuses a value that is not a sane number of seconds, naming the option', () => {
    assert.throws(() => testInterval('fast', {}), /--test-interval \/ \$LAVARANK_TEST_INTERVAL: expected seconds from 0.05 to 3600, received "fast"/);
    assert.throws(() => testInterval('0', {}), (err: unknown) => err instanceof UsageError && /expected seconds/.test(err.message));
  });
});
