import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { FakeClock, monotonicMs, systemClock } from '../../src/util/clock.js';
import type { Collector, CollectorName, CpuReading, LoadReading } from '../../src/collectors/types.js';
import { CollectorError } from '../../src/util/errors.js';
import { defaultConfig } from '../../src/config/config.js';
import { collectorsFromConfig, createSampler } from '../../src/daemon/sampler.js';
import { createDiskCollector } from '../../src/collectors/disk.js';
import { eventually, fixture, recordingLog, tempDir, withEnv, writeTree } from '../collectors/helpers.js';

const CPU: CpuReading = { user: 0.5, system: 0.1, iowait: 0, steal: 0, busy: 0.6, online: 2 };
const LOAD: LoadReading = { load1: 1, load1PerCpu: 0.5, runnable: 1, runnablePerCpu: 0.5, online: 2 };

// A collector that returns whatever `next` says, or throws it when it is an Error.
function scripted<K extends CollectorName>(name: K, next: () => unknown): Collector<K> & { seen: number[] } {
  const seen: number[] = [];
  return {
    name,
    seen,
    collect(monotonicMs) {
      seen.push(monotonicMs);
      const value = next();
      if (value instanceof Error) throw value;
      return value as never;
    },
  };
}

test('the sample holds each collector part, the wall time, and no failures', () => {
  const clock = new FakeClock(1_000_000);
  const { log } = recordingLog();
  const sampler = createSampler({ collectors: [scripted('cpu', () => CPU), scripted('load', () => LOAD)], clock, log });
  assert.deepEqual(sampler.sample(), { ts: 1_000_000, failures: {}, cpu: CPU, load: LOAD });
});

test('each collector gets the monotonic time at which it is called', () => {
  const clock = new FakeClock();
  clock.advance(10_000);
  const cpu = scripted('cpu', () => {
    clock.advance(3000); // a read /proc took 3 s to answer
    return CPU;
  });
  const load = scripted('load', () => LOAD);
  createSampler({ collectors: [cpu, load], clock, log: recordingLog().log }).sample();
  assert.deepEqual([cpu.seen, load.seen], [[10_000], [13_000]]);
});

test('with the system clock, each collector gets a time no earlier than the end of the one before it', () => {
  const cpu = scripted('cpu', () => {
    const until = monotonicMs() + 3;
    while (monotonicMs() < until); // a read that took 3 ms
    return CPU;
  });
  const load = scripted('load', () => LOAD);
  const before = monotonicMs();
  createSampler({ collectors: [cpu, load], clock: systemClock, log: recordingLog().log }).sample();
  const after = monotonicMs();
  assert.ok(cpu.seen[0]! >= before && load.seen[0]! <= after, `${before} ${cpu.seen[0]} ${load.seen[0]} ${after}`);
  assert.ok(load.seen[0]! - cpu.seen[0]! >= 3, `${cpu.seen[0]} then ${load.seen[0]}`);
});

test('a disk busy all the time reads as saturated at the tick after one where a collector before it took 4 s', (t) => {
  const root = tempDir(t);
  writeTree(root, { 'sys/block/sda/device': '', 'sys/block/sda/removable': '0\n' });
  const clock = new FakeClock();
  // io_ticks of a disk busy since boot: the monotonic time at which the file is read.
  const diskAt = (ms: number): void => writeTree(root, { 'proc/diskstats': `   8       0 sda 1 0 0 1 1 0 0 1 0 ${ms} 2 0 0 0 0 0 0\n` });
  let slowMs = 4000;
  const slow = scripted('cpu', () => {
    clock.advance(slowMs);
    diskAt(clock.monotonic());
    return CPU;
  });
  const disk = createDiskCollector({ procRoot: join(root, 'proc'), sysRoot: join(root, 'sys'), detail: false });
  const sampler = createSampler({ collectors: [slow, disk], clock, log: recordingLog().log });
  sampler.sample(); // at 0; the disk read at 4 s
  slowMs = 0;
  clock.advance(10_000 - 4000);
  assert.equal(sampler.sample().disk?.busyMax, 1); // at 10 s: 6 s of io_ticks in the 6 s between the two reads
});

test('a collector that throws is named in failures and does not stop the others', () => {
  const { log } = recordingLog();
  const sampler = createSampler({
    collectors: [scripted('cpu', () => new CollectorError('cpu', 'cannot open /proc/stat: EACCES')), scripted('load', () => LOAD)],
    clock: new FakeClock(),
    log,
  });
  const s = sampler.sample();
  assert.equal(s.cpu, undefined);
  assert.deepEqual(s.load, LOAD);
  assert.deepEqual(s.failures, { cpu: 'cpu: cannot open /proc/stat: EACCES' });
});

test('a collector with no value yet leaves its part out without a failure', () => {
  const s = createSampler({ collectors: [scripted('disk', () => undefined)], clock: new FakeClock(), log: recordingLog().log }).sample();
  assert.equal('disk' in s, false);
  assert.deepEqual(s.failures, {});
});

test('the first failure is logged at warn, repeats at debug, and the recovery at info', () => {
  const { log, entries } = recordingLog();
  const results: unknown[] = [new Error('EIO'), new Error('EIO'), new Error('EIO'), CPU];
  const sampler = createSampler({ collectors: [scripted('cpu', () => results.shift())], clock: new FakeClock(), log });
  for (let i = 0; i < 4; i++) sampler.sample();
  const logged = entries()
    .filter((e) => e.msg !== 'sampled')
    .map((e) => [e.level, e.collector, e.msg]);
  assert.deepEqual(logged, [
    ['warn', 'cpu', 'collector failed: EIO'],
    ['debug', 'cpu', 'collector failed again: EIO'],
    ['debug', 'cpu', 'collector failed again: EIO'],
    ['info', 'cpu', 'collector recovered'],
  ]);
});

test('the recovery is logged once, with the failed ticks, and the same failure after it at warn again', () => {
  const { log, entries } = recordingLog();
  const results: unknown[] = [new Error('EIO'), new Error('EIO'), CPU, CPU, new Error('EIO')];
  const sampler = createSampler({ collectors: [scripted('cpu', () => results.shift())], clock: new FakeClock(), log });
  for (let i = 0; i < 5; i++) sampler.sample();
  const logged = entries()
    .filter((e) => e.msg !== 'sampled')
    .map((e) => [e.level, e.msg, e.failedTicks]);
  assert.deepEqual(logged, [
    ['warn', 'collector failed: EIO', undefined],
    ['debug', 'collector failed again: EIO', undefined],
    ['info', 'collector recovered', 2],
    ['warn', 'collector failed: EIO', undefined],
  ]);
});

test('a failure with a new reason is logged at warn again', () => {
  const { log, entries } = recordingLog();
  const results: unknown[] = [new Error('EIO'), new Error('EACCES')];
  const sampler = createSampler({ collectors: [scripted('cpu', () => results.shift())], clock: new FakeClock(), log });
  sampler.sample();
  sampler.sample();
  assert.deepEqual(
    entries()
      .filter((e) => e.level === 'warn')
      .map((e) => e.msg),
    ['collector failed: EIO', 'collector failed: EACCES'],
  );
});

test('each tick logs every collector duration at debug', () => {
  const { log, entries } = recordingLog();
  createSampler({ collectors: [scripted('cpu', () => CPU), scripted('load', () => LOAD)], clock: new FakeClock(), log }).sample();
  const sampled = entries().find((e) => e.msg === 'sampled');
  assert.equal(sampled?.level, 'debug');
  assert.deepEqual(Object.keys(sampled?.durationsMs as object), ['cpu', 'load']);
});

test('stats count calls, failures and durations per collector', () => {
  const results: unknown[] = [CPU, new Error('EIO'), new Error('EIO')];
  const sampler = createSampler({ collectors: [scripted('cpu', () => results.shift())], clock: new FakeClock(), log: recordingLog().log });
  for (let i = 0; i < 3; i++) sampler.sample();
  const cpu = sampler.stats().cpu;
  assert.ok(cpu !== undefined);
  assert.equal(cpu.calls, 3);
  assert.equal(cpu.failures, 2);
  assert.equal(cpu.consecutiveFailures, 2);
  assert.ok(cpu.totalMs >= cpu.maxMs && cpu.maxMs >= cpu.lastMs && cpu.lastMs >= 0);
});

test('close closes every collector even when one close throws', () => {
  const closed: string[] = [];
  const a: Collector<'gpu'> = {
    name: 'gpu',
    collect: () => undefined,
    close: () => {
      throw new Error('boom');
    },
  };
  const b: Collector<'cpu'> = { name: 'cpu', collect: () => undefined, close: () => void closed.push('cpu') };
  const { log, entries } = recordingLog();
  createSampler({ collectors: [a, b], clock: new FakeClock(), log }).close();
  assert.deepEqual(closed, ['cpu']);
  assert.match(entries()[0]?.msg ?? '', /collector close failed: boom/);
});

test("the config's network.link_speed reaches the network collector, for an interface whose kernel reports no speed", (t) => {
  const root = tempDir(t);
  const netDev = (rx: number): string =>
    'Inter-|   Receive |  Transmit\n face |bytes    packets|bytes    packets\n' + `  eth0: ${rx} 10 0 0 0 0 0 0 0 10 0 0 0 0 0 0\n`;
  writeTree(root, { 'proc/net/dev': netDev(0), 'sys/class/net/eth0/device': '', 'sys/class/net/eth0/speed': '-1\n' });
  const d = defaultConfig();
  const controller = new AbortController();
  const network = (linkSpeed: number | null) => {
    const config = { ...d, proc_root: `${root}/proc`, sys_root: `${root}/sys`, gpu: { ...d.gpu, enabled: false }, network: { link_speed: linkSpeed } };
    const c = collectorsFromConfig(config, { log: recordingLog().log, signal: controller.signal, detail: false }).find((x) => x.name === 'network')!;
    t.after(() => c.close?.());
    return c;
  };
  const assumed = network(10_000);
  const unknown = network(null);
  assumed.collect(0);
  unknown.collect(0);
  writeTree(root, { 'proc/net/dev': netDev(25e6) });
  assert.deepEqual(assumed.collect(1000), { utilizationMax: 0.02 });
  assert.deepEqual(unknown.collect(1000), { utilizationMax: 0.2 }, 'without it, against the learned capacity: 1 Gb/s at first');
});

test("a link speed read that has not returned for a minute is told in the daemon's log, as the network collector's", (t) => {
  const root = tempDir(t);
  writeTree(root, { 'proc/net/dev': 'Inter-|   Receive |  Transmit\n face |bytes    packets|bytes    packets\n  eth0: 0 10 0 0 0 0 0 0 0 10 0 0 0 0 0 0\n', 'sys/class/net/eth0/device': '' });
  const d = defaultConfig();
  const config = { ...d, proc_root: `${root}/proc`, sys_root: `${root}/sys`, gpu: { ...d.gpu, enabled: false } };
  const { log, entries } = recordingLog();
  const controller = new AbortController();
  // As the kernel does while another task holds the rtnl lock: no answer.
  const c = collectorsFromConfig(config, { log, signal: controller.signal, linkSpeedRead: () => undefined }).find((x) => x.name === 'network')!;
  t.after(() => c.close?.());
  c.collect(0);
  c.collect(30_000);
  assert.deepEqual(entries().filter((e) => e.level === 'warn'), []);
  c.collect(60_000);
  const told = entries().filter((e) => e.level === 'warn');
  assert.equal(told.length, 1);
  assert.match(told[0]!.msg, /^reading .*\/sys\/class\/net\/eth0\/speed has not returned for 60 s/);
  assert.equal((told[0] as unknown as { collector: string }).collector, 'network');
});

test("the config's cpu.job_cpus reaches the cpu collector", (t) => {
  const root = tempDir(t);
  const stat = (cpu0: string, cpu1: string): string => `cpu  ${cpu0.split(' ').map((v, i) => Number(v) + Number(cpu1.split(' ')[i])).join(' ')}\ncpu0 ${cpu0}\ncpu1 ${cpu1}\n`;
  writeTree(root, { 'proc/self/status': 'Cpus_allowed_list:\t0-1\n', 'proc/stat': stat('0 0 0 0 0 0 0 0', '0 0 0 0 0 0 0 0') });
  const d = defaultConfig();
  const controller = new AbortController();
  const cpu = (jobCpus: number[] | null) => {
    const config = { ...d, proc_root: `${root}/proc`, sys_root: `${root}/sys`, gpu: { ...d.gpu, enabled: false }, cpu: { job_cpus: jobCpus } };
    const c = collectorsFromConfig(config, { log: recordingLog().log, signal: controller.signal, detail: false }).find((x) => x.name === 'cpu')!;
    t.after(() => c.close?.());
    return c;
  };
  const confined = cpu([1]);
  const anywhere = cpu(null);
  confined.collect(0);
  anywhere.collect(0);
  writeTree(root, { 'proc/stat': stat('0 0 0 1000 0 0 0 0', '1000 0 0 0 0 0 0 0') });
  assert.equal((confined.collect(10_000) as { minBusy?: number } | undefined)?.minBusy, 1);
  assert.equal((anywhere.collect(10_000) as { minBusy?: number } | undefined)?.minBusy, 0);
});

test("the config's gpu.enabled: false leaves the GPU collector out, and its command is never run", async (t) => {
  const calls = join(tempDir(t), 'calls');
  withEnv(t, 'FAKE_GPU_CALLS', calls);
  const d = defaultConfig();
  const controller = new AbortController();
  t.after(() => controller.abort());
  const config = { ...d, gpu: { ...d.gpu, enabled: false, command: fixture('bin', 'nvidia-smi-ok') } };
  const collectors = collectorsFromConfig(config, { log: recordingLog().log, signal: controller.signal });
  t.after(() => collectors.forEach((c) => c.close?.()));
  assert.equal(collectors.find((c) => c.name === 'gpu'), undefined);
  await new Promise((r) => setTimeout(r, 200));
  assert.equal(existsSync(calls), false);
});

test("the config's gpu.command runs every gpu.interval seconds", async (t) => {
  const calls = join(tempDir(t), 'calls');
  withEnv(t, 'FAKE_GPU_CALLS', calls);
  const d = defaultConfig();
  const controller = new AbortController();
  t.after(() => controller.abort());
  // Under the 1 s the config allows, so that the test is quick; the default, 30 s, would run it once.
  const config = { ...d, gpu: { ...d.gpu, enabled: true, command: fixture('bin', 'nvidia-smi-ok'), interval: 0.05 } };
  const collectors = collectorsFromConfig(config, { log: recordingLog().log, signal: controller.signal });
  t.after(() => collectors.forEach((c) => c.close?.()));
  await eventually(() => (existsSync(calls) && readFileSync(calls, 'utf8').trim().split('\n').length >= 4 ? true : undefined), 10_000);
});

test("the config's gpu.enabled: true makes a GPU command that fails a failure of the GPU collector, where auto leaves the GPU out", async (t) => {
  const d = defaultConfig();
  const controller = new AbortController();
  t.after(() => controller.abort());
  const gpu = (enabled: true | 'auto') => {
    const config = { ...d, gpu: { ...d.gpu, enabled, command: fixture('bin', 'nvidia-smi-fails') } };
    const collectors = collectorsFromConfig(config, { log: recordingLog().log, signal: controller.signal });
    t.after(() => collectors.forEach((c) => c.close?.()));
    return collectors.find((c) => c.name === 'gpu')!;
  };
  const expected = gpu(true);
  const auto = gpu('auto');
  const failure = await eventually(() => {
    try {
      expected.collect(performance.now());
      return undefined; // the first query is still running
    } catch (err) {
      return err as Error;
    }
  }, 10_000);
  assert.match(failure.message, /^gpu: Command failed with exit code 6: .*nvidia-smi-fails/);
  assert.equal(auto.collect(performance.now()), undefined);
});

// The peek runs between two reports, outside the sample's failure accounting: a collector
// whose peek throws must neither stop the others' nor reach the report loop, whose wait
// would take it for the stop (elim.ts).
test('peek asks each collector that peeks, in order; one that throws is logged at debug and the next still peeks', () => {
  const { log, entries } = recordingLog();
  const peeked: string[] = [];
  const cpu = { ...scripted('cpu', () => CPU), peek: () => void peeked.push('cpu') };
  const failing = { ...scripted('memory', () => undefined), peek: () => { throw new Error('no /proc/stat'); } };
  const disk = { ...scripted('disk', () => undefined), peek: () => void peeked.push('disk') };
  const sampler = createSampler({ collectors: [cpu, scripted('load', () => LOAD), failing, disk], clock: new FakeClock(), log });
  sampler.peek();
  sampler.peek();
  assert.deepEqual(peeked, ['cpu', 'disk', 'cpu', 'disk']);
  const debug = entries().filter((e) => e.level === 'debug');
  assert.deepEqual(debug.map((e) => [e.msg, (e as { collector?: string }).collector]), [['collector peek failed: no /proc/stat', 'memory'], ['collector peek failed: no /proc/stat', 'memory']]);
  assert.ok(entries().every((e) => e.level === 'debug'), 'a failed peek is never a warning');
});
