import assert from 'node:assert/strict';
import { test } from 'node:test';
import { cpuRanges, parseCpuList, parseCpuNumbers } from '../../src/collectors/cpulist.js';
import { CollectorError } from '../../src/util/errors.js';

test('parseCpuList counts single CPUs and ranges', () => {
  assert.equal(parseCpuList('0-3,6\n'), 5);
  assert.equal(parseCpuList('0'), 1);
  assert.equal(parseCpuList('0-1,4-5,8'), 5);
});

test('parseCpuList rejects what is not a CPU list', () => {
  assert.throws(() => parseCpuList('0-3,x'), /"x" is not a CPU number or range/);
  assert.throws(() => parseCpuList('3-1'), /runs backwards/);
  assert.throws(() => parseCpuList(''), /empty CPU list/);
});

test('parseCpuNumbers lists the CPUs in order, and names the collector of a bad list', () => {
  assert.deepEqual(parseCpuNumbers('0-2,6,8-9\n'), [0, 1, 2, 6, 8, 9]);
  assert.throws(() => parseCpuNumbers('0-65536', '/sys/devices/system/cpu/isolated', 'cpu'), /^CollectorError: cpu: .*isolated.*more than 65536 CPUs/);
});

test('parseCpuList rejects a list naming more CPUs than any kernel supports, instead of an idle-looking host', () => {
  assert.throws(() => parseCpuList('0-4294967295'), CollectorError);
  assert.throws(() => parseCpuList(`0-${'9'.repeat(400)}`), CollectorError);
});

test('cpuRanges writes CPU numbers as a kernel CPU list', () => {
  assert.equal(cpuRanges([5, 0, 1, 2, 7, 8]), '0-2,5,7-8');
  assert.equal(cpuRanges([3]), '3');
  assert.equal(cpuRanges([]), '');
});
