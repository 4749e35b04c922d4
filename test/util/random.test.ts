import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { seededRandom } from '../../src/util/random.js';

describe('seededRandom', () => {
  test('repeats its sequence for a seed, within [0, 1)', () => {
    const a = seededRandom(42);
    const b = seededRandom(42);
    const xs = Array.from({ length: 1000 }, () => a());
    assert.deepEqual(xs, Array.from({ length: 1000 }, () => b()));
    assert.ok(xs.every((x) => x >= 0 && x < 1));
  });

  test('gives another sequence for another seed', () => {
    const a = seededRandom(1);
    const b = seededRandom(2);
    assert.notDeepEqual(Array.from({ length: 10 }, () => a()), Array.from({ length: 10 }, () => b()));
  });
});
