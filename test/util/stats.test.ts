import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { median, percentile } from '../../src/util/stats.js';

describe('percentile', () => {
  test('interpolates between ranks', () => {
    assert.equal(percentile([10, 20, 30, 40, 50], 10), 14);
    assert.equal(percentile([10, 20, 30, 40, 50], 50), 30);
  });

  test('gives the extremes at 0 and 100', () => {
    assert.equal(percentile([10, 20, 30], 0), 10);
    assert.equal(percentile([10, 20, 30], 100), 30);
  });

  test('is NaN for no values', () => {
    assert.ok(Number.isNaN(percentile([], 50)));
  });
});

describe('median', () => {
  test('takes the middle value of an odd count, whatever the order', () => {
    assert.equal(median([30, 10, 20]), 20);
  });

  test('takes the mean of the middle two of an even count', () => {
    assert.equal(median([4, 1, 3, 2]), 2.5);
  });

  test('leaves its input in its order', () => {
    const values = [3, 1, 2];
    median(values);
    assert.deepEqual(values, [3, 1, 2]);
  });
});
