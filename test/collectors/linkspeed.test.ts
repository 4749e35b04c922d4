import assert from 'node:assert/strict';
import { closeSync, fstatSync, openSync, writeFileSync } from 'node:fs';
import { test } from 'node:test';
import { SPEED_CHECK_MS, SPEED_STUCK_MS, asksForRead, createLinkSpeeds, takeReadSpeed, type Link, type SpeedRead } from '../../src/collectors/linkspeed.js';
import { exitHolds } from '../../src/util/exit.js';
import { mkfifo } from '../helpers.js';
import { openOn, tempDir, writeTree } from './helpers.js';

// A reader that answers only when told to, as the kernel does while its rtnl lock is
// held: the paths asked for, in order, and a way to answer the oldest.
function heldReader(): { read: SpeedRead; asked: string[]; answer(text: string | Error): void; waiting(): number } {
  const asked: string[] = [];
  const pending: Array<(err: Error | null, text?: string) => void> = [];
  return {
    read: (path, done) => {
      asked.push(path);
      pending.push(done);
    },
    asked,
    answer(text) {
      const done = pending.shift();
      assert.ok(done !== undefined, 'no read is waiting');
      if (text instanceof Error) done(text);
      else done(null, text);
    },
    waiting: () => pending.length,
  };
}

test('a speed read that never returns holds no report: the last speeds are used, no other read starts, and it is told once when stuck and when it returns', () => {
  const reader = heldReader();
  const warnings: string[] = [];
  const speeds = createLinkSpeeds({ sysRoot: '/sys', read: reader.read, warn: (m) => warnings.push(m) });
  speeds.at(0);
  speeds.report('eth0', true);
  reader.answer('1000\n');
  assert.equal(speeds.speed('eth0'), 1e9);
  // eth0 is read again a minute on; that read does not return, and eth1 is found meanwhile.
  speeds.at(SPEED_CHECK_MS);
  speeds.report('eth0', true);
  speeds.report('eth1', true);
  assert.deepEqual(reader.asked, ['/sys/class/net/eth0/speed', '/sys/class/net/eth0/speed']);
  for (let ms = SPEED_CHECK_MS; ms < SPEED_CHECK_MS + SPEED_STUCK_MS; ms += 10_000) {
    speeds.at(ms);
    speeds.report('eth0', true);
    speeds.report('eth1', true);
    assert.equal(speeds.speed('eth0'), 1e9, 'the last speed read');
    assert.equal(speeds.speed('eth1'), undefined);
  }
  assert.equal(reader.waiting(), 1, 'one read at a time: eth1 waits behind the stuck one');
  assert.deepEqual(warnings, []);
  speeds.at(SPEED_CHECK_MS + SPEED_STUCK_MS);
  speeds.at(SPEED_CHECK_MS + SPEED_STUCK_MS + 10_000);
  assert.deepEqual(warnings, [
    "reading /sys/class/net/eth0/speed has not returned for 60 s (a driver holding the kernel's rtnl lock?); the last link speeds are used and none is read again until it returns",
  ]);
  // The lock is let go: the read returns, eth1's read follows at once.
  reader.answer('25000\n');
  assert.equal(speeds.speed('eth0'), 25e9);
  assert.match(warnings[1] ?? '', /^reading \/sys\/class\/net\/eth0\/speed returned, 70 s or more after it started; link speeds are read again$/);
  assert.deepEqual(reader.asked.slice(2), ['/sys/class/net/eth1/speed']);
  reader.answer('-1\n');
  assert.equal(speeds.speed('eth1'), undefined, 'the kernel does not know it');
  assert.equal(warnings.length, 2);
});

test('a link is read when found, at its first bytes after being idle, and while it moves at most once per SPEED_CHECK_MS', () => {
  const reader = heldReader();
  const speeds = createLinkSpeeds({ sysRoot: '/s', read: reader.read });
  const reads = (): number => reader.asked.length;
  const tick = (ms: number, moved: boolean): number => {
    speeds.at(ms);
    speeds.report('eth0', moved);
    while (reader.waiting() > 0) reader.answer('1000\n');
    return reads();
  };
  assert.equal(tick(0, false), 1, 'found: read even while idle, since nothing is known of it');
  assert.equal(tick(10_000, true), 1, 'moving since it was found, read 10 s ago');
  assert.equal(tick(20_000, false), 1, 'idle: not read');
  assert.equal(tick(30_000, true), 2, 'its first bytes after being idle: the link may have just come up');
  assert.equal(tick(40_000, true), 2);
  assert.equal(tick(30_000 + SPEED_CHECK_MS - 1, true), 2);
  assert.equal(tick(30_000 + SPEED_CHECK_MS, true), 3, 'a minute of moving bytes since the last read');
});

test('an idle link is not read at its second idle report in a row, nor at any after', () => {
  const reader = heldReader();
  const speeds = createLinkSpeeds({ sysRoot: '/s', read: reader.read });
  speeds.at(0);
  speeds.report('eth0', false);
  reader.answer('-1\n'); // a port with no link: unknown
  for (let ms = 10_000; ms <= 3 * SPEED_CHECK_MS; ms += 10_000) {
    speeds.at(ms);
    speeds.report('eth0', false);
  }
  assert.equal(reader.asked.length, 1);
});

test('a link forgotten while its read waits in the queue is not read', () => {
  const reader = heldReader();
  const speeds = createLinkSpeeds({ sysRoot: '/s', read: reader.read });
  speeds.at(0);
  speeds.report('eth0', true);
  speeds.report('eth1', true);
  speeds.forget('eth1'); // gone while eth0's read is in flight
  reader.answer('1000\n');
  assert.deepEqual(reader.asked, ['/s/class/net/eth0/speed']);
  assert.equal(reader.waiting(), 0);
});

test('a link whose read fails after a speed was known has its speed unknown, not the old one', () => {
  const reader = heldReader();
  const speeds = createLinkSpeeds({ sysRoot: '/s', read: reader.read });
  speeds.at(0);
  speeds.report('eth0', true);
  reader.answer('1000\n');
  speeds.at(SPEED_CHECK_MS);
  speeds.report('eth0', true);
  reader.answer(Object.assign(new Error('EINVAL: invalid argument, read'), { code: 'EINVAL' })); // the link went down
  assert.equal(speeds.speed('eth0'), undefined);
});

test('a link asked for again while its read waits is not queued twice', () => {
  const reader = heldReader();
  const speeds = createLinkSpeeds({ sysRoot: '/s', read: reader.read });
  speeds.at(0);
  speeds.report('eth0', true);
  speeds.report('eth1', true);
  speeds.report('eth1', false);
  speeds.report('eth1', true); // first bytes after idle, but its read is still waiting
  reader.answer('1000\n');
  reader.answer('1000\n');
  assert.equal(reader.waiting(), 0);
  assert.deepEqual(reader.asked, ['/s/class/net/eth0/speed', '/s/class/net/eth1/speed']);
});

test("a link forgotten while its read is in flight does not take that read's speed, and is read afresh when found again", () => {
  const reader = heldReader();
  const speeds = createLinkSpeeds({ sysRoot: '/s', read: reader.read });
  speeds.at(0);
  speeds.report('eth0', true);
  speeds.forget('eth0'); // its counters went backwards: the name may now be another device's
  speeds.report('eth0', true);
  reader.answer('1000\n'); // the first device's answer
  assert.equal(speeds.speed('eth0'), undefined);
  reader.answer('100000\n');
  assert.equal(speeds.speed('eth0'), 1e11);
});

test('a read that fails or a reader that throws leaves the speed unknown, and the next link is still read', () => {
  const asked: string[] = [];
  const speeds = createLinkSpeeds({
    sysRoot: '/s',
    read: (path, done) => {
      asked.push(path);
      if (path.includes('eth0')) throw new TypeError('refused');
      if (path.includes('eth1')) return done(Object.assign(new Error('EINVAL: invalid argument, read'), { code: 'EINVAL' }));
      done(null, '10000\n');
    },
  });
  speeds.at(0);
  for (const name of ['eth0', 'eth1', 'eth2']) speeds.report(name, true);
  assert.deepEqual(
    ['eth0', 'eth1', 'eth2'].map((name) => speeds.speed(name)),
    [undefined, undefined, 1e10],
  );
  assert.equal(asked.length, 3);
});

test('the files themselves: a speed is read in the background, and a FIFO planted at a speed path answers at once as unknown', async (t) => {
  const root = tempDir(t);
  writeTree(root, { 'class/net/eth0/speed': '10000\n' });
  writeTree(root, { 'class/net/eth1/device': '' });
  mkfifo(`${root}/class/net/eth1/speed`);
  const speeds = createLinkSpeeds({ sysRoot: root });
  t.after(() => speeds.close());
  speeds.at(0);
  speeds.report('eth0', true);
  speeds.report('eth1', true);
  speeds.report('eth2', true); // no such file
  assert.equal(speeds.speed('eth0'), undefined, 'not read on the caller');
  await speeds.settled();
  assert.deepEqual(
    ['eth0', 'eth1', 'eth2'].map((name) => speeds.speed(name)),
    [1e10, undefined, undefined],
  );
});

test('after close nothing more is read, and settled waits for the read in flight', async () => {
  const reader = heldReader();
  const speeds = createLinkSpeeds({ sysRoot: '/s', read: reader.read });
  speeds.at(0);
  speeds.report('eth0', true);
  speeds.report('eth1', true);
  speeds.close();
  let settled = false;
  const done = speeds.settled().then(() => {
    settled = true;
  });
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(settled, false, 'the read in flight still holds its descriptor');
  reader.answer('1000\n');
  await done;
  speeds.report('eth2', true);
  assert.deepEqual(reader.asked, ['/s/class/net/eth0/speed']);
});

test('the default reader keeps a speed file open where keepOpen says and reads it again from its start; forgetting the link or closing the speeds closes it', async (t) => {
  const root = tempDir(t);
  const path = `${root}/class/net/eth0/speed`;
  writeTree(root, { 'class/net/eth0/speed': '1000\n' });
  const speeds = createLinkSpeeds({ sysRoot: root, keepOpen: () => true });
  t.after(() => speeds.close());
  speeds.at(0);
  speeds.report('eth0', true);
  await speeds.settled();
  assert.equal(speeds.speed('eth0'), 1e9);
  assert.equal(openOn(path), 1);
  writeFileSync(path, '2500\n'); // in place, as a kept descriptor sees procfs and sysfs change
  speeds.at(SPEED_CHECK_MS);
  speeds.report('eth0', true);
  await speeds.settled();
  assert.equal(speeds.speed('eth0'), 2.5e9);
  assert.equal(openOn(path), 1, 'the same descriptor, read again');
  speeds.forget('eth0');
  assert.equal(openOn(path), 0, 'forgotten: its name may be another device next');
  speeds.report('eth0', true);
  await speeds.settled();
  assert.equal(openOn(path), 1);
  speeds.close();
  assert.equal(openOn(path), 0);
});

test("the default reader keeps nothing of a forgotten link's file: its name, back, is asked of keepOpen again (names that come and go, as VFs moved back from a container's namespace as dev<ifindex>, held memory for good)", async (t) => {
  const root = tempDir(t);
  writeTree(root, { 'class/net/dev7/speed': '1000\n' });
  const asked: string[] = [];
  const speeds = createLinkSpeeds({ sysRoot: root, keepOpen: (path) => {
      asked.push(path);
      return true;
    },
  });
  t.after(() => speeds.close());
  speeds.at(0);
  speeds.report('dev7', true);
  await speeds.settled();
  speeds.forget('dev7');
  speeds.report('dev7', true);
  await speeds.settled();
  assert.deepEqual(asked, [`${root}/class/net/dev7/speed`, `${root}/class/net/dev7/speed`]);
});

test('the default reader closes a file that keepOpen does not keep, and one whose read failed', async (t) => {
  const root = tempDir(t);
  writeTree(root, { 'class/net/eth0/speed': '1000\n', 'class/net/eth1/speed/x': '' }); // eth1's "speed" is a directory: its read fails
  const speeds = createLinkSpeeds({ sysRoot: root, keepOpen: (path) => path.includes('eth1') });
  t.after(() => speeds.close());
  speeds.at(0);
  speeds.report('eth0', true);
  speeds.report('eth1', true);
  await speeds.settled();
  assert.deepEqual([speeds.speed('eth0'), speeds.speed('eth1')], [1e9, undefined]);
  assert.deepEqual([openOn(`${root}/class/net/eth0/speed`), openOn(`${root}/class/net/eth1/speed`)], [0, 0]);
});

test("the default reader closes a descriptor forgotten while its read is in flight once, when the read returns, and never the descriptor that took its number", async (t) => {
  const root = tempDir(t);
  const path = `${root}/class/net/eth0/speed`;
  writeTree(root, { 'class/net/eth0/speed': '1000\n', other: '' });
  const speeds = createLinkSpeeds({ sysRoot: root, keepOpen: () => true });
  t.after(() => speeds.close());
  speeds.at(0);
  speeds.report('eth0', true); // opened here, read in the pool: in flight until the loop turns
  speeds.forget('eth0');
  const other = openSync(`${root}/other`, 'r'); // the lowest free number: eth0's, had forget closed it
  t.after(() => closeSync(other));
  await speeds.settled();
  assert.doesNotThrow(() => fstatSync(other), 'the descriptor forgotten in flight was closed at once, and its number, taken by another file, closed again when its read returned');
  assert.equal(openOn(path), 0);
});

test("the default reader's read in the pool holds the process's exit until it returns (src/util/exit.ts), even once forgotten or closed", async (t) => {
  const root = tempDir(t);
  writeTree(root, { 'class/net/eth0/speed': '1000\n', 'class/net/eth1/speed': '1000\n' });
  const speeds = createLinkSpeeds({ sysRoot: root, keepOpen: () => true });
  t.after(() => speeds.close());
  speeds.at(0);
  speeds.report('eth0', true);
  speeds.report('eth1', true);
  assert.equal(exitHolds(), 1, 'one read at a time');
  await speeds.settled();
  assert.equal(exitHolds(), 0);
  speeds.forget('eth0');
  speeds.report('eth0', true);
  speeds.close();
  assert.equal(exitHolds(), 1, 'closed while in flight');
  await speeds.settled();
  assert.equal(exitHolds(), 0);
});

test('a stuck read that returns after close is not told as read again', () => {
  const reader = heldReader();
  const warnings: string[] = [];
  const speeds = createLinkSpeeds({ sysRoot: '/s', read: reader.read, warn: (m) => warnings.push(m) });
  speeds.at(0);
  speeds.report('eth0', true);
  speeds.at(SPEED_STUCK_MS);
  assert.equal(warnings.length, 1, 'told stuck');
  speeds.close();
  reader.answer('1000\n');
  assert.equal(warnings.length, 1);
});

// A known link at report time 0, last asked for at askedAt, moving or not at its last report.
function knownLink(fields: Partial<Link> = {}): Link {
  return { name: 'eth0', path: '/sys/class/net/eth0/speed', speed: 10_000, askedAt: 0, moving: true, queued: false, unsure: false, ...fields };
}

test('asksForRead: a moving link is read again only once SPEED_CHECK_MS has passed since its last read', () => {
  const link = knownLink();
  assert.equal(asksForRead(link, true, SPEED_CHECK_MS - 1), false);
  assert.equal(asksForRead(link, true, SPEED_CHECK_MS), true);
});

test('asksForRead: a link that comes up (moves after an idle report) is read at once, and that read is sure', () => {
  const link = knownLink({ moving: false, unsure: true, askedAt: 5 });
  assert.equal(asksForRead(link, true, 10), true);
  assert.equal(link.moving, true);
  assert.equal(link.unsure, false);
});

test('asksForRead: an idle link, or one already queued, is not read; idle is remembered', () => {
  const idle = knownLink();
  assert.equal(asksForRead(idle, false, SPEED_CHECK_MS * 2), false);
  assert.equal(idle.moving, false);
  assert.equal(asksForRead(knownLink({ moving: false, queued: true }), true, SPEED_CHECK_MS * 2), false);
});

test('takeReadSpeed: an unsure read that finds no speed keeps the last one and waits for the first bytes; a sure one forgets it', () => {
  const unsure = knownLink({ unsure: true });
  takeReadSpeed(unsure, undefined);
  assert.deepEqual([unsure.speed, unsure.moving], [10_000, false]);
  const sure = knownLink();
  takeReadSpeed(sure, undefined);
  assert.deepEqual([sure.speed, sure.moving], [undefined, true]);
  takeReadSpeed(unsure, 25_000);
  assert.equal(unsure.speed, 25_000);
});
