import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { allowedCpusIn, allowedCpusOf, cpuRanges, parseCpuList, parseCpuNumbers } from '../../src/collectors/cpulist.js';
import { createCpuCollector } from '../../src/collectors/cpu.js';
import { kernelFile } from '../../src/collectors/procfs.js';
import { CollectorError } from '../../src/util/errors.js';
import { mkfifo } from '../helpers.js';
import { openOn, tempDir, writeTree } from './helpers.js';

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

test('parseCpuNumbers counts every range of a list against the 65536-CPU bound, so that many large ranges cannot fill memory', () => {
  assert.equal(parseCpuNumbers('0-32767,32768-65535').length, 65_536);
  assert.throws(() => parseCpuNumbers('0-32767,32768-65535,0'), /more than 65536 CPUs/);
  // A megabyte of ranges under the bound each: 10^11 CPUs in all, were they expanded.
  assert.throws(() => parseCpuNumbers(Array.from({ length: 100_000 }, () => '0-999999').join(',')), /more than 65536 CPUs/);
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

// This process's own affinity, as its status file gives it.
function ownAffinity(): number[] {
  const line = readFileSync('/proc/self/status', 'latin1').split('\n').find((l) => l.startsWith('Cpus_allowed_list:'));
  assert.ok(line !== undefined, 'this kernel prints Cpus_allowed_list');
  return parseCpuNumbers(line.slice('Cpus_allowed_list:'.length).trim());
}

// Status texts as the kernel writes them and as it never does, with the CPUs each allows.
const STATUS_TEXTS: Array<[text: string, allowed: number[] | undefined]> = [
  ['Name:\tnode\nCpus_allowed:\t6\nCpus_allowed_list:\t1-2\n', [1, 2]],
  ['Cpus_allowed_list:\t0-1\n', [0, 1]],
  ['Name:\tnode\nCpus_allowed_list:\t0-3,6,8-9\nMems_allowed_list:\t0\n', [0, 1, 2, 3, 6, 8, 9]],
  ['Name:\tnode\nCpus_allowed_list:  5  \n', [5]],
  ['Name:\tnode\nCpus_allowed_list:\t7', [7]],
  ['Name:\tnode\nCpus_allowed_list:\tgarbage\n', undefined],
  ['Name:\tnode\nCpus_allowed_list:\t0-1 2\n', undefined],
  ['Name:\tnode\nCpus_allowed_list:\t\n', undefined],
  ['Name:\tnode\nXCpus_allowed_list:\t1\n', undefined],
  ['Name:\tnode\n', undefined],
  ['', undefined],
];

test('allowedCpusOf reads the affinity of a status file it reads again, and allowedCpusIn of one it opens', (t) => {
  const path = join(tempDir(t), 'status');
  writeFileSync(path, '');
  // Kept open, as on procfs: each text is written over the last, and read again from the start.
  const status = kernelFile('cpu', path, () => true);
  t.after(() => status.close());
  for (const [text, allowed] of [[readFileSync('/proc/self/status', 'latin1'), ownAffinity()] as const, ...STATUS_TEXTS]) {
    writeFileSync(path, text);
    assert.deepEqual(allowedCpusOf(status), allowed, JSON.stringify(text.slice(0, 60)));
    assert.deepEqual(allowedCpusIn(path), allowed, JSON.stringify(text.slice(0, 60)));
  }
  assert.deepEqual(allowedCpusIn('/proc/self/status'), ownAffinity());
});

test('allowedCpusOf gives undefined, every CPU allowed, where the status file is missing', (t) => {
  assert.equal(allowedCpusOf(kernelFile('cpu', join(tempDir(t), 'missing'))), undefined);
});

test('the cpu collector keeps its status file open on procfs, and closes it with the collector', (t) => {
  const root = tempDir(t);
  writeTree(root, {
    'proc/self/status': 'Name:\tnode\nCpus_allowed_list:\t0-1\n',
    'proc/stat': 'cpu  0 0 0 0 0 0 0 0\ncpu0 0 0 0 0 0 0 0 0\ncpu1 0 0 0 0 0 0 0 0\n',
  });
  const open = (): number => openOn(join(root, 'proc/self/status'));
  const c = createCpuCollector({ procRoot: join(root, 'proc'), sysRoot: join(root, 'sys'), keepOpen: () => true });
  c.collect(0);
  assert.equal(open(), 1);
  c.close?.();
  assert.equal(open(), 0);
});

// A FIFO in a CPU list's place (a fake sys_root, as the fault tests plant in the kernel
// files) was read with readFileSync, whose open waits for a writer: the cpu collector
// never came back from its creation (isolated) or its first reading (online). Run in
// a child process, whose time limit only tells a hang from an answer.
test('a FIFO in the place of the isolated or online CPU list is read as no list, without waiting for a writer', (t) => {
  const root = tempDir(t);
  writeTree(root, { 'proc/stat': 'cpu  0 0 0 0 0 0 0 0\ncpu0 0 0 0 0 0 0 0 0\ncpu1 0 0 0 0 0 0 0 0\n' });
  mkdirSync(join(root, 'sys/devices/system/cpu'), { recursive: true });
  mkfifo(join(root, 'sys/devices/system/cpu/isolated'));
  mkfifo(join(root, 'sys/devices/system/cpu/online'));
  const cpu = new URL('../../src/collectors/cpu.js', import.meta.url).href;
  const script = `const { createCpuCollector } = await import(${JSON.stringify(cpu)});
    const c = createCpuCollector({ procRoot: process.argv[1] + '/proc', sysRoot: process.argv[1] + '/sys' });
    c.collect(0); c.close(); console.log('read');`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script, root], { encoding: 'utf8', timeout: 20_000 });
  assert.equal(r.signal, null, 'the collector waited for a writer');
  assert.equal(r.stdout.trim(), 'read', r.stderr);
});
