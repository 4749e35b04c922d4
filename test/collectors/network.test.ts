import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { test, type TestContext } from 'node:test';
import { SPEED_CHECK_MS } from '../../src/collectors/linkspeed.js';
import { LEARNED_CEILING, LEARNED_FLOOR, LEARNED_WINDOW_MS, LearnedSpeeds, createNetworkCollector, learnedCapacity, netDevLayout, parseLinkSpeed, parseNetDev } from '../../src/collectors/network.js';
import { fraction } from '../../src/collectors/text.js';
import { CollectorError } from '../../src/util/errors.js';
import { CAPTURED_PROC, fakeHost, fixtureText, scannedInterfaces, tempDir, writeTree } from './helpers.js';

const HEADER =
  'Inter-|   Receive                                                |  Transmit\n' +
  ' face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed\n';

function dev(counters: Record<string, [number, number]>): string {
  return (
    HEADER +
    Object.entries(counters)
      .map(([name, [rx, tx]]) => `${name.padStart(6)}: ${rx} 10 0 0 0 0 0 0 ${tx} 10 0 0 0 0 0 0`)
      .join('\n') +
    '\n'
  );
}

// A fake /sys/class/net: physical interfaces get a device link and a speed (Mb/s).
function sysNet(root: string, physical: Record<string, string | undefined>, virtual: string[] = []): void {
  const files: Record<string, string> = {};
  for (const [name, speed] of Object.entries(physical)) {
    files[`sys/class/net/${name}/device`] = '';
    if (speed !== undefined) files[`sys/class/net/${name}/speed`] = `${speed}\n`;
  }
  for (const name of virtual) files[`sys/class/net/${name}/type`] = '1\n';
  writeTree(root, files);
}

test('parseNetDev reads every interface of a real /proc/net/dev', () => {
  const names = parseNetDev(fixtureText('proc-idle', 't0/proc/net/dev')).map((c) => c.name);
  assert.deepEqual(names.sort(), ['eth0', 'ifb0', 'ifb1', 'lo']);
});

test('parseNetDev reads a counter glued to the colon', () => {
  const [c] = parseNetDev(`${HEADER}  eth0:107891391 3241 0 0 0 0 0 0 201419 1910 0 0 0 0 0 0\n`);
  assert.deepEqual(c, { name: 'eth0', rxBytes: 107891391, txBytes: 201419 });
});

test('parseNetDev names the file and line of a line cut short', () => {
  assert.throws(
    () => parseNetDev(`${HEADER}  eth0: 1 2 3 4\n`, '/proc/net/dev'),
    (err: unknown) => err instanceof CollectorError && /\/proc\/net\/dev line 3: expected an interface name and 16 counters/.test(err.message),
  );
});

test('parseLinkSpeed turns Mb/s into bits per second and unknown speeds into undefined', () => {
  assert.equal(parseLinkSpeed('1000\n'), 1e9);
  assert.equal(parseLinkSpeed('-1\n'), undefined);
  assert.equal(parseLinkSpeed('0\n'), undefined);
  assert.equal(parseLinkSpeed('4294967295\n'), undefined);
  assert.equal(parseLinkSpeed('65535\n'), undefined);
  assert.equal(parseLinkSpeed('fast\n'), undefined);
});

test('the captured host counts eth0 only: lo and the ifb interfaces are virtual', (t) => {
  const host = fakeHost(t);
  const c = createNetworkCollector(host);
  host.load('proc-idle', 't0');
  assert.equal(c.collect(0), undefined);
  host.load('proc-idle', 't1');
  const r = c.collect(3000);
  assert.deepEqual(
    r?.interfaces?.map((i) => i.name),
    ['eth0'],
  );
  // virtio reports speed -1: measured against the learned capacity, at least 1 Gb/s
  assert.equal(r?.interfaces?.[0]?.learnedBitsPerSec, LEARNED_FLOOR);
  assert.equal(r?.utilizationMax, r?.interfaces?.[0]?.utilization);
  assert.ok((r?.utilizationMax ?? 1) < 0.01, 'an idle host\'s traffic is a sliver of 1 Gb/s');
});

test('utilization is the busier direction in bits over the link speed', async (t) => {
  const root = tempDir(t);
  sysNet(root, { eth0: '1000', eth1: '10000' }, ['docker0']);
  const c = createNetworkCollector({ procRoot: `${root}/proc`, sysRoot: `${root}/sys` });
  writeTree(root, { 'proc/net/dev': dev({ eth0: [0, 0], eth1: [0, 0], docker0: [0, 0] }) });
  c.collect(0);
  await c.settled(); // the speeds, read in the background once the interfaces are found
  writeTree(root, { 'proc/net/dev': dev({ eth0: [250e6, 500e6], eth1: [0, 0], docker0: [9e9, 9e9] }) });
  const r = c.collect(10_000);
  assert.deepEqual(r?.interfaces?.[0], {
    name: 'eth0',
    rxBytesPerSec: 25e6,
    txBytesPerSec: 50e6,
    speedBitsPerSec: 1e9,
    utilization: 0.4,
  });
  assert.equal(r?.utilizationMax, 0.4);
  assert.equal(r?.rxBytesPerSec, 25e6, 'docker0 is not counted');
});

test('without detail (the daemon) utilizationMax is the same, and no interface list or totals are given', async (t) => {
  const root = tempDir(t);
  sysNet(root, { eth0: '1000', eth1: '10', eth2: '-1', eth3: '25000' }, ['docker0']);
  const detailed = createNetworkCollector({ procRoot: `${root}/proc`, sysRoot: `${root}/sys` });
  const lean = createNetworkCollector({ procRoot: `${root}/proc`, sysRoot: `${root}/sys`, detail: false });
  const both = (ms: number, counters: Record<string, [number, number]>) => {
    writeTree(root, { 'proc/net/dev': dev(counters) });
    return [detailed.collect(ms), lean.collect(ms)] as const;
  };
  both(0, { eth0: [0, 0], eth1: [0, 0], eth2: [0, 0], docker0: [0, 0] });
  await Promise.all([detailed.settled(), lean.settled()]);
  const ticks: Array<[number, Record<string, [number, number]>]> = [
    // eth1 (10 Mb/s) saturated: utilization 1, not above
    [10_000, { eth0: [1_234_567, 98_765_432_109], eth1: [50e6, 3], eth2: [9e12, 9e12], docker0: [9e9, 9e9] }],
    [20_000, { eth0: [2_469_134, 98_865_432_109], eth1: [50e6 + 777_777, 4], eth2: [9e12, 9e12], docker0: [0, 0] }],
    // eth0 reset (left out), eth3 appears (absent until its second reading)
    [30_000, { eth0: [5, 5], eth1: [50e6 + 800_000, 4], eth2: [9e12 + 1, 9e12], eth3: [2 ** 53, 0], docker0: [0, 0] }],
    [40_000, { eth0: [1e9, 5], eth1: [50e6 + 800_000, 4], eth2: [9e12 + 1, 9e12], eth3: [2 ** 53 + 3e10, 1e9], docker0: [0, 0] }],
  ];
  for (const [ms, counters] of ticks) {
    const [d, l] = both(ms, counters);
    await Promise.all([detailed.settled(), lean.settled()]);
    assert.ok(d?.interfaces !== undefined && d.rxBytesPerSec !== undefined, JSON.stringify(d));
    const { interfaces, rxBytesPerSec, txBytesPerSec, ...model } = d;
    assert.deepEqual(l, model, `at ${ms} ms`);
    const known = interfaces.flatMap((i) => (i.utilization === undefined ? [] : [i.utilization]));
    assert.equal(l?.utilizationMax, Math.max(...known), `at ${ms} ms`);
  }
  assert.equal(both(50_000, { eth0: [1e9, 5], eth1: [50e6 + 800_000, 4], eth2: [9e12 + 1, 9e12], eth3: [2 ** 53 + 3e10, 1e9] })[1]?.utilizationMax, 0, 'idle links: 0, not absent');
});

test('utilization is the busier direction over the link speed, clamped to 1, as the fraction helper gives it', async (t) => {
  const root = tempDir(t);
  sysNet(root, { eth0: '10', eth1: '1000', eth2: '25000' });
  const c = createNetworkCollector({ procRoot: `${root}/proc`, sysRoot: `${root}/sys` });
  writeTree(root, { 'proc/net/dev': dev({ eth0: [0, 0], eth1: [0, 0], eth2: [0, 0] }) });
  c.collect(0);
  await c.settled();
  writeTree(root, { 'proc/net/dev': dev({ eth0: [3, 30e6], eth1: [123_456_789, 7], eth2: [31, 98_765_432_109] }) });
  const r = c.collect(7_000);
  assert.deepEqual(
    r?.interfaces?.map((i) => i.utilization),
    r?.interfaces?.map((i) => fraction((Math.max(i.rxBytesPerSec, i.txBytesPerSec) * 8) / i.speedBitsPerSec!)),
  );
  assert.equal(r?.interfaces?.[0]?.utilization, 1);
});

test('an interface without a known speed is measured against the highest rate it has carried, at least 1 Gb/s', (t) => {
  const root = tempDir(t);
  sysNet(root, { ib0: undefined, eth0: '-1' });
  const c = createNetworkCollector({ procRoot: `${root}/proc`, sysRoot: `${root}/sys` });
  const lean = createNetworkCollector({ procRoot: `${root}/proc`, sysRoot: `${root}/sys`, detail: false }); // the daemon's
  let rx = 0;
  // eth0 moves rate bytes/s in each 1 s reading; ib0 stays idle.
  const step = (ms: number, rate: number) => {
    rx += rate;
    writeTree(root, { 'proc/net/dev': dev({ ib0: [0, 0], eth0: [rx, 10] }) });
    const detailed = c.collect(ms);
    assert.equal(lean.collect(ms)?.utilizationMax, detailed?.utilizationMax);
    return detailed;
  };
  step(0, 0);
  let r = step(1000, 25e6); // 200 Mb/s: a fifth of the floor
  assert.deepEqual(r?.interfaces?.[1], { name: 'eth0', rxBytesPerSec: 25e6, txBytesPerSec: 0, utilization: 0.2, learnedBitsPerSec: 1e9 });
  assert.deepEqual(r?.interfaces?.[0], { name: 'ib0', rxBytesPerSec: 0, txBytesPerSec: 0, utilization: 0, learnedBitsPerSec: 1e9 });
  assert.equal(r?.utilizationMax, 0.2);
  r = step(2000, 500e6); // 4 Gb/s, a new high: a full link as far as anyone knows
  assert.equal(r?.utilizationMax, 1);
  assert.equal(r?.interfaces?.[1]?.learnedBitsPerSec, 4e9);
  r = step(3000, 250e6); // half of what it has carried
  assert.equal(r?.utilizationMax, 0.5);
  r = step(4000, 0);
  assert.equal(r?.utilizationMax, 0);
  r = step(5000, 1e12); // a glitch: 8 Tb/s
  r = step(6000, 500e6);
  assert.equal(r?.interfaces?.[1]?.learnedBitsPerSec, LEARNED_CEILING);
  assert.equal(r?.utilizationMax, 0.01, 'the ceiling bounds what a glitch teaches');
});

test('learnedCapacity only rises, from the floor to the ceiling', () => {
  assert.equal(learnedCapacity(LEARNED_FLOOR, 0), LEARNED_FLOOR);
  assert.equal(learnedCapacity(LEARNED_FLOOR, 5e8), LEARNED_FLOOR);
  assert.equal(learnedCapacity(LEARNED_FLOOR, 3e9), 3e9);
  assert.equal(learnedCapacity(3e9, 2e9), 3e9);
  assert.equal(learnedCapacity(3e9, Infinity), LEARNED_CEILING);
  assert.equal(learnedCapacity(3e9, NaN), 3e9);
});

test('the captured virtio host, whose eth0 reports speed -1, has a utilization against linkSpeedMbps: 0 for its idle link, not absent', (t) => {
  const host = fakeHost(t);
  const c = createNetworkCollector({ ...host, linkSpeedMbps: 1000 });
  host.load('proc-idle', 't0');
  c.collect(0);
  host.load('proc-idle', 't1');
  const r = c.collect(3000);
  assert.deepEqual(r?.interfaces, [{ name: 'eth0', rxBytesPerSec: 0, txBytesPerSec: 0, speedBitsPerSec: 1e9, utilization: 0 }]);
  assert.equal(r?.utilizationMax, 0);
});

test('an interface whose speed file is missing or says -1 is measured against linkSpeedMbps, and a known kernel speed still wins', async (t) => {
  const root = tempDir(t);
  sysNet(root, { eth0: undefined, eth1: '-1', eth2: '1000' }, ['docker0']);
  const options = { procRoot: `${root}/proc`, sysRoot: `${root}/sys`, linkSpeedMbps: 10_000 };
  const detailed = createNetworkCollector(options);
  const lean = createNetworkCollector({ ...options, detail: false });
  const both = (ms: number, counters: Record<string, [number, number]>) => {
    writeTree(root, { 'proc/net/dev': dev(counters) });
    return [detailed.collect(ms), lean.collect(ms)] as const;
  };
  both(0, { eth0: [0, 0], eth1: [0, 0], eth2: [0, 0], docker0: [0, 0] });
  await Promise.all([detailed.settled(), lean.settled()]);
  // 1 Gb/s on eth0, 2 Gb/s on eth1 (of an assumed 10), 0.5 Gb/s on eth2 (of the kernel's 1): eth2 is the busiest.
  const [d, l] = both(1000, { eth0: [125e6, 0], eth1: [0, 250e6], eth2: [62.5e6, 0], docker0: [9e9, 9e9] });
  assert.deepEqual(
    d?.interfaces?.map((i) => [i.name, i.speedBitsPerSec, i.utilization]),
    [
      ['eth0', 1e10, 0.1],
      ['eth1', 1e10, 0.2],
      ['eth2', 1e9, 0.5],
    ],
  );
  assert.equal(d?.utilizationMax, 0.5);
  assert.deepEqual(l, { utilizationMax: 0.5 });
  // eth1's speed, unknown when it was found, was asked for again at its first bytes (1000 ms).
  await Promise.all([detailed.settled(), lean.settled()]);
  // The kernel learns eth1's speed (the link renegotiated). A moving link's speed is read
  // again SPEED_CHECK_MS after the last read, and a report uses the last speed read: the
  // new one wins over the assumed one from the report after that read.
  writeTree(root, { 'sys/class/net/eth1/speed': '2500\n' });
  // The same rates at every report: eth0 1 Gb/s, eth1 2 Gb/s, eth2 0.5 Gb/s.
  const steady = (ms: number) => both(ms, { eth0: [125e3 * ms, 0], eth1: [0, 250e3 * ms], eth2: [62.5e3 * ms, 0], docker0: [9e9, 9e9] })[1];
  assert.deepEqual(steady(SPEED_CHECK_MS), { utilizationMax: 0.5 });
  await Promise.all([detailed.settled(), lean.settled()]);
  assert.deepEqual(steady(SPEED_CHECK_MS + 1000), { utilizationMax: 0.5 }, 'not read again within SPEED_CHECK_MS, and the read asked for now is not waited for');
  await Promise.all([detailed.settled(), lean.settled()]);
  assert.deepEqual(steady(SPEED_CHECK_MS + 2000), { utilizationMax: 0.8 });
});

test('linkSpeedMbps that is not a positive number of Mb/s is refused when the collector is created, naming the option', () => {
  for (const bad of [0, -1000, Number.NaN, Number.POSITIVE_INFINITY]) {
    assert.throws(() => createNetworkCollector({ linkSpeedMbps: bad }), (err: unknown) => err instanceof TypeError && err.message === `linkSpeedMbps must be a positive number of Mb/s, received ${String(bad)}`);
  }
});

test("an idle link's speed is not read again: its utilization is 0 whatever the speed, and a link is read again at its first bytes", async (t) => {
  const root = tempDir(t);
  sysNet(root, { eth0: '1000', eth1: '-1' });
  const c = createNetworkCollector({ procRoot: `${root}/proc`, sysRoot: `${root}/sys`, detail: false });
  const at = (ms: number, eth0: [number, number], eth1: [number, number]) => {
    writeTree(root, { 'proc/net/dev': dev({ eth0, eth1 }) });
    return c.collect(ms);
  };
  at(0, [0, 0], [0, 0]);
  await c.settled();
  assert.deepEqual(at(1000, [12_500_000, 0], [0, 0]), { utilizationMax: 0.1 });
  // Both idle, and eth0's speed file gone: not read again, eth0 keeps its known speed (read, it would be unknown, and so would the maximum).
  rmSync(`${root}/sys/class/net/eth0/speed`);
  assert.deepEqual(at(2000, [12_500_000, 0], [0, 0]), { utilizationMax: 0 });
  await c.settled();
  assert.deepEqual(at(2500, [12_500_000, 0], [0, 0]), { utilizationMax: 0 });
  // eth1's link comes up and both move bytes, well within SPEED_CHECK_MS: both are read
  // again at once, as links that were idle. This report has the speeds known before
  // (eth1 unknown: 1 Gb/s carried, against the learned floor of 1 Gb/s, is full) ...
  writeTree(root, { 'sys/class/net/eth1/speed': '10000\n' });
  assert.deepEqual(at(3000, [12_500_001, 0], [0, 62_500_000]), { utilizationMax: 1 });
  await c.settled();
  // ... and the next one those read: eth0's is now unknown and eth1 has 10 Gb/s.
  assert.deepEqual(at(4000, [12_500_002, 0], [0, 187_500_000]), { utilizationMax: 0.1 });
});

test('an interface whose counters went backwards is left out for that tick', (t) => {
  const root = tempDir(t);
  sysNet(root, { eth0: '1000', eth1: '1000' });
  const c = createNetworkCollector({ procRoot: `${root}/proc`, sysRoot: `${root}/sys` });
  writeTree(root, { 'proc/net/dev': dev({ eth0: [5000, 5000], eth1: [5000, 5000] }) });
  c.collect(0);
  writeTree(root, { 'proc/net/dev': dev({ eth0: [10, 10], eth1: [6000, 6000] }) });
  assert.deepEqual(
    c.collect(1000)?.interfaces?.map((i) => i.name),
    ['eth1'],
  );
  writeTree(root, { 'proc/net/dev': dev({ eth0: [1010, 10], eth1: [7000, 7000] }) });
  assert.equal(c.collect(2000)?.interfaces?.find((i) => i.name === 'eth0')?.rxBytesPerSec, 1000);
});

test('an interface whose counters went backwards has its speed read afresh, as its name may now be another device', async (t) => {
  const root = tempDir(t);
  sysNet(root, { eth0: '1000' });
  const c = createNetworkCollector({ procRoot: `${root}/proc`, sysRoot: `${root}/sys`, detail: false });
  const at = (ms: number, rx: number): ReturnType<typeof c.collect> => {
    writeTree(root, { 'proc/net/dev': dev({ eth0: [rx, 0] }) });
    return c.collect(ms);
  };
  at(0, 5e9);
  await c.settled();
  assert.deepEqual(at(1000, 5e9 + 12_500_000), { utilizationMax: 0.1 });
  writeTree(root, { 'sys/class/net/eth0/speed': '10000\n' }); // a 10 Gb/s device now has the name
  assert.equal(at(2000, 0), undefined, 'left out for that tick');
  at(3000, 12_500_000);
  await c.settled();
  assert.deepEqual(at(4000, 25_000_000), { utilizationMax: 0.01 });
});

test('an interface that appears between ticks is absent until its second reading', (t) => {
  const root = tempDir(t);
  sysNet(root, { eth0: '1000', eth1: '1000' });
  const c = createNetworkCollector({ procRoot: `${root}/proc`, sysRoot: `${root}/sys` });
  writeTree(root, { 'proc/net/dev': dev({ eth0: [0, 0] }) });
  c.collect(0);
  writeTree(root, { 'proc/net/dev': dev({ eth0: [10, 10], eth1: [5000, 5000] }) });
  assert.deepEqual(
    c.collect(1000)?.interfaces?.map((i) => i.name),
    ['eth0'],
  );
  writeTree(root, { 'proc/net/dev': dev({ eth0: [20, 20], eth1: [6000, 6000] }) });
  assert.equal(c.collect(2000)?.interfaces?.length, 2);
});

test('a missing /proc/net/dev is a CollectorError naming the path', (t) => {
  const root = tempDir(t);
  const c = createNetworkCollector({ procRoot: root, sysRoot: root });
  assert.throws(() => c.collect(0), (err: unknown) => err instanceof CollectorError && err.message.includes('net/dev'));
});

test('parseLinkSpeed gives unknown, not Infinity, for a speed in exponent notation', () => {
  assert.equal(parseLinkSpeed('1e303'), undefined);
  assert.equal(parseLinkSpeed('Infinity'), undefined);
});

test('scanNetDev reads eth0 of every captured /proc/net/dev as parseNetDev does', () => {
  for (const f of CAPTURED_PROC) {
    const t0 = fixtureText(f, 't0/proc/net/dev');
    const t1 = fixtureText(f, 't1/proc/net/dev');
    const layout = netDevLayout(t0, parseNetDev(t0).filter((c) => c.name === 'eth0'));
    assert.ok(layout !== undefined, f);
    assert.deepEqual(scannedInterfaces(Buffer.from(t1, 'latin1'), layout), parseNetDev(t1).filter((c) => c.name === 'eth0'), f);
  }
});

test('scanNetDev leaves to a full reading an interface added at the end, one gone, and a garbled line', () => {
  const text = dev({ lo: [1, 1], eth0: [10, 20] });
  const layout = netDevLayout(text, parseNetDev(text).filter((c) => c.name === 'eth0'))!;
  assert.deepEqual(scannedInterfaces(Buffer.from(dev({ lo: [2, 2], eth0: [30, 40] })), layout), [{ name: 'eth0', rxBytes: 30, txBytes: 40 }]);
  assert.equal(scannedInterfaces(Buffer.from(dev({ lo: [2, 2], eth0: [30, 40], veth1: [0, 0] })), layout), undefined, 'veth1 added');
  assert.equal(scannedInterfaces(Buffer.from(dev({ lo: [2, 2], eth1: [30, 40] })), layout), undefined, 'eth0 gone');
  assert.equal(scannedInterfaces(Buffer.from(dev({ lo: [2, 2], eth0: [30, 40] }).replace(' 30 ', ' 3x0 ')), layout), undefined, 'garbled');
});

test('scanNetDev leaves to a full reading an interface on the first line, which has no newline before it to be found by', () => {
  const text = '  eth0: 10 0 0 0 0 0 0 0 20 0 0 0 0 0 0 0\n    lo: 1 0 0 0 0 0 0 0 1 0 0 0 0 0 0 0\n';
  const layout = netDevLayout(text, parseNetDev(text).filter((c) => c.name === 'eth0'))!;
  assert.equal(scannedInterfaces(Buffer.from(text.replace(' 10 ', ' 11 ')), layout), undefined);
});

test('an interface that takes its line in the middle of /proc/net/dev (ib0 back after a driver reset) is counted from its second reading, as one at the end', async (t) => {
  // The kernel lists interfaces by a hash of the name (before 5.5) or by ifindex
  // modulo 256 (5.5 to 6.8), not in the order they were created.
  const root = tempDir(t);
  sysNet(root, { eth0: '25000', ib0: '100000' }, ['veth9a']);
  const c = createNetworkCollector({ procRoot: `${root}/proc`, sysRoot: `${root}/sys`, detail: false });
  t.after(() => c.close?.());
  const at = async (ms: number, ib0?: number) => {
    writeTree(root, { 'proc/net/dev': dev({ lo: [0, 0], eth0: [0, 0], ...(ib0 === undefined ? {} : { ib0: [ib0, 0] }), veth9a: [0, 0] }) });
    const u = c.collect(ms)?.utilizationMax;
    await c.settled();
    return u;
  };
  await at(0, 0);
  await at(10_000); // gone for a tick
  const seen = [];
  for (const ms of [20_000, 30_000, 40_000]) seen.push(await at(ms, (ms - 20_000) * 6.25e6)); // 50 Gb/s
  assert.deepEqual(seen, [0, 0.5, 0.5]);
});

test('scanNetDev leaves to a full reading an interface added in the middle', () => {
  const text = dev({ lo: [1, 1], eth0: [10, 20], veth1: [0, 0] });
  const layout = netDevLayout(text, parseNetDev(text).filter((c) => c.name === 'eth0'))!;
  assert.deepEqual(scannedInterfaces(Buffer.from(dev({ lo: [2, 2], eth0: [30, 40], veth1: [0, 0] })), layout), [{ name: 'eth0', rxBytes: 30, txBytes: 40 }]);
  assert.equal(scannedInterfaces(Buffer.from(dev({ lo: [2, 2], ib0: [5, 5], eth0: [30, 40], veth1: [0, 0] })), layout), undefined);
});

// A collector over a tree whose ib0 runs at 100 Gb/s; at(ms, rx) sets ib0's received
// bytes, collects at ms and waits for the speed reads that asked for.
function ib0Link(t: TestContext): { root: string; at: (ms: number, rx: number) => Promise<number | undefined> } {
  const root = tempDir(t);
  sysNet(root, { ib0: '100000' });
  const c = createNetworkCollector({ procRoot: `${root}/proc`, sysRoot: `${root}/sys`, detail: false });
  t.after(() => c.close?.());
  const at = async (ms: number, rx: number) => {
    writeTree(root, { 'proc/net/dev': dev({ lo: [0, 0], ib0: [rx, 0] }) });
    const u = c.collect(ms)?.utilizationMax;
    await c.settled();
    return u;
  };
  return { root, at };
}

test('keeps a link\'s speed over a counter reset: the next rate is measured against it, not against LEARNED_FLOOR', async (t) => {
  const { at } = ib0Link(t);
  await at(0, 1e12);
  assert.equal(await at(10_000, 1e12 + 6.25e9), 0.05); // 5 Gb/s
  await at(20_000, 1e6); // the counters reset (a driver reload): no value
  assert.deepEqual([await at(30_000, 1e6 + 6.25e9), await at(40_000, 1e6 + 12.5e9)], [0.05, 0.05]);
});

test('a link still down when its counters are seen to reset (a driver reload) keeps its speed, and is read again at its first bytes', async (t) => {
  // Its speed was read as unknown then, and stayed so until SPEED_CHECK_MS later: a 100 Gb/s
  // link at 5 Gb/s read as full against LEARNED_FLOOR for a minute (the rank 23 for 0.3).
  const { root, at } = ib0Link(t);
  await at(0, 1e12);
  assert.equal(await at(10_000, 1e12 + 6.25e9), 0.05);
  writeTree(root, { 'sys/class/net/ib0/speed': '-1\n' }); // reloaded, the link negotiating
  assert.equal(await at(20_000, 1e6), undefined);
  assert.equal(await at(30_000, 1e6), 0, 'still down');
  writeTree(root, { 'sys/class/net/ib0/speed': '100000\n' });
  assert.deepEqual([await at(40_000, 1e6 + 6.25e9), await at(50_000, 1e6 + 12.5e9)], [0.05, 0.05]);
});

test('a link found while it is down (ib0 back after a driver reload) is read again at its first bytes, not a minute later', async (t) => {
  const root = tempDir(t);
  sysNet(root, { ib0: '100000' });
  const c = createNetworkCollector({ procRoot: `${root}/proc`, sysRoot: `${root}/sys`, detail: false });
  t.after(() => c.close?.());
  const at = async (ms: number, ib0?: number) => {
    writeTree(root, { 'proc/net/dev': dev(ib0 === undefined ? { lo: [0, 0] } : { lo: [0, 0], ib0: [ib0, 0] }) });
    const u = c.collect(ms)?.utilizationMax;
    await c.settled();
    return u;
  };
  await at(0, 1e12);
  assert.equal(await at(10_000, 1e12 + 6.25e9), 0.05);
  await at(20_000); // unregistered
  writeTree(root, { 'sys/class/net/ib0/speed': '-1\n' });
  await at(30_000, 1e6); // registered again, its link negotiating
  writeTree(root, { 'sys/class/net/ib0/speed': '100000\n' });
  assert.deepEqual([await at(40_000, 1e6 + 6.25e9), await at(50_000, 1e6 + 12.5e9), await at(60_000, 1e6 + 18.75e9)], [1, 0.05, 0.05]);
});

test('a capacity learned from one burst is forgotten within LEARNED_WINDOW_MS, so a saturated link reads full again', (t) => {
  // Any local user can send UDP to any address at the virtio NIC's speed: one 10 s
  // burst at 10 Gb/s taught a capacity kept for the daemon's life, and a link later
  // saturated at 1 Gb/s read 10 % (the network part of the rank 0.5 instead of 23).
  const root = tempDir(t);
  sysNet(root, { eth0: '-1' });
  const c = createNetworkCollector({ procRoot: `${root}/proc`, sysRoot: `${root}/sys`, detail: false });
  let tx = 0;
  const at = (ms: number, bytes: number) => {
    tx += bytes;
    writeTree(root, { 'proc/net/dev': dev({ eth0: [0, tx] }) });
    return c.collect(ms)?.utilizationMax;
  };
  at(0, 0);
  at(10_000, 12.5e9); // the burst: 10 Gb/s for 10 s
  assert.equal(at(20_000, 1.25e9), 0.1, 'within the window the burst still counts');
  at(LEARNED_WINDOW_MS, 0);
  assert.equal(at(LEARNED_WINDOW_MS + 10_000, 1.25e9), 1, '1 Gb/s, the most the link has carried within the window');
});

test('LearnedSpeeds (the collector\'s learned-capacity stage, called alone) keeps a link\'s highest rate for the window, then the floor again', () => {
  const learned = new LearnedSpeeds();
  assert.equal(learned.speed('eth0', 0, 0, 0), LEARNED_FLOOR, 'an idle link never seen: the floor');
  assert.equal(learned.speed('eth0', 500e6, 100e6, 1_000), 4e9, 'the higher direction, in bits');
  assert.equal(learned.speed('eth0', 100e6, 0, 2_000), 4e9, 'a slower reading keeps the highest');
  assert.equal(learned.speed('eth1', 0, 0, 2_000), LEARNED_FLOOR, 'each link its own');
  assert.equal(learned.speed('eth0', 0, 0, LEARNED_WINDOW_MS - 1), 4e9, 'still within the window');
  assert.equal(learned.speed('eth0', 0, 0, LEARNED_WINDOW_MS + 1_000), LEARNED_FLOOR, 'forgotten a window later');
  learned.speed('eth0', 500e6, 0, LEARNED_WINDOW_MS + 2_000);
  learned.delete('eth0');
  assert.equal(learned.speed('eth0', 0, 0, LEARNED_WINDOW_MS + 3_000), LEARNED_FLOOR, 'deleted: the floor again');
});
