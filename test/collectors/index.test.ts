import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { createCollectors } from '../../src/collectors/index.js';
import { SPEED_STUCK_MS } from '../../src/collectors/linkspeed.js';
import type { NetworkCollector } from '../../src/collectors/network.js';
import type { Collector } from '../../src/collectors/types.js';

function networkOf(collectors: readonly Collector[]): NetworkCollector {
  const network = collectors.find((c): c is NetworkCollector => c.name === 'network');
  assert.ok(network !== undefined);
  return network;
}

test('createCollectors lists every subsystem in a fixed order', () => {
  const collectors = createCollectors({ gpu: { enabled: false } });
  assert.deepEqual(
    collectors.map((c) => c.name),
    ['cpu', 'load', 'memory', 'disk', 'network', 'pressure'],
  );
});

test('createCollectors adds the GPU collector unless it is disabled', (t) => {
  const collectors = createCollectors({ gpu: { enabled: 'auto', command: '/nonexistent/nvidia-smi', checkProgram: (path) => ({ problems: [], path }) } });
  t.after(() => collectors.forEach((c) => c.close?.()));
  assert.equal(collectors.at(-1)?.name, 'gpu');
});

test('the collectors read this host without failing', (t) => {
  const collectors = createCollectors({ gpu: { enabled: false } });
  t.after(async () => {
    collectors.forEach((c) => c.close?.());
    await networkOf(collectors).settled(); // the link speed read in the background, and its descriptor
  });
  for (const c of collectors) c.collect(0);
  const values = collectors.map((c) => [c.name, c.collect(1000)]);
  assert.ok(values.find(([name]) => name === 'load')?.[1] !== undefined);
});

test('on this host the collectors keep a fixed set of descriptors open across reports, and close gives them all back', async () => {
  const open = (): number => readdirSync('/proc/self/fd').length;
  const before = open();
  const collectors = createCollectors({ gpu: { enabled: false } });
  // Link speeds are read in the background, each file opened and closed there.
  const network = networkOf(collectors);
  try {
    for (let tick = 0; tick < 5; tick++) for (const c of collectors) c.collect(tick * 1000);
    await network.settled();
    const kept = open();
    assert.ok(kept > before, 'no kernel file kept open on procfs and sysfs');
    for (let tick = 5; tick < 50; tick++) for (const c of collectors) c.collect(tick * 1000);
    await network.settled();
    assert.equal(open(), kept, 'descriptors grew from report 5 to 50');
  } finally {
    collectors.forEach((c) => c.close?.());
  }
  await network.settled();
  assert.equal(open(), before);
});

test('createCollectors gives the network collector its speed reader and where to tell a read stuck for SPEED_STUCK_MS', (t) => {
  const root = mkdtempSync(join(tmpdir(), 'lavarank-test-'));
  t.after(() => rmSync(root, { recursive: true, force: true }));
  mkdirSync(join(root, 'proc/net'), { recursive: true });
  mkdirSync(join(root, 'sys/class/net/eth0/device'), { recursive: true });
  writeFileSync(join(root, 'proc/net/dev'), 'Inter-|   Receive |  Transmit\n face |bytes    packets|bytes    packets\n  eth0: 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0\n');
  const asked: string[] = [];
  const warnings: string[] = [];
  const collectors = createCollectors({ procRoot: join(root, 'proc'), sysRoot: join(root, 'sys'), gpu: { enabled: false }, linkSpeedRead: (path) => void asked.push(path), warn: (m) => warnings.push(m) });
  t.after(() => collectors.forEach((c) => c.close?.()));
  const network = networkOf(collectors);
  network.collect(0);
  network.collect(SPEED_STUCK_MS);
  assert.deepEqual(asked, [join(root, 'sys/class/net/eth0/speed')], 'the reader given, which never answers');
  assert.match(warnings.join('\n'), /has not returned for 60 s/);
});
