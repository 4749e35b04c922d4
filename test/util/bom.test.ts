import { test } from 'node:test';
import assert from 'node:assert/strict';
import { stripBom } from '../../src/util/bom.js';

test('a byte order mark at the start is taken off', () => {
  assert.equal(stripBom('\uFEFFBegin Queue\n'), 'Begin Queue\n');
  assert.equal(stripBom('\uFEFF'), '');
});

test('only the first byte order mark at the start is taken off, and one elsewhere stays', () => {
  assert.equal(stripBom('\uFEFF\uFEFFx'), '\uFEFFx');
  assert.equal(stripBom('a\uFEFFb'), 'a\uFEFFb');
  assert.equal(stripBom('\n\uFEFF'), '\n\uFEFF');
});

test('a text without a byte order mark is returned as it is', () => {
  for (const text of ['', 'x', '{"a":1}\n', '\uFFFEx']) assert.equal(stripBom(text), text);
});
