import assert from 'node:assert/strict';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { BIG_NODE, blockDevices, generateBigNode, writeCounters } from '../../scripts/gen-bignode.js';
import { cpuSet, parseStat } from '../../src/collectors/cpu.js';
import { allowedCpusIn } from '../../src/collectors/cpulist.js';
import { diskLayout, parseDiskstats } from '../../src/collectors/disk.js';
import { createCollectors } from '../../src/collectors/index.js';
import type { NetworkCollector } from '../../src/collectors/network.js';
import type { Sample } from '../../src/collectors/types.js';
import { scannedDisks, scannedStat } from '../collectors/helpers.js';
import { tempDir } from '../helpers.js';

const SMALL = { cpus: 6, disks: 3, partitions: 2, loops: 2, nics: 2 };

function sample(collectors: ReturnType<typeof createCollectors>, ms: number): Sample {
  const s: Sample = { ts: ms, failures: {} };
  for (const c of collectors) {
    const v = c.collect(ms);
    if (v !== undefined) (s as unknown as Record<string, unknown>)[c.name] = v;
  }
  return s;
}

// Until the network collector's background speed reads are done.
async function settled(collectors: ReturnType<typeof createCollectors>): Promise<void> {
  for (const c of collectors) if (c.name === 'network') await (c as NetworkCollector).settled();
}

describe('gen-bignode', () => {
  it('is the node of issue 16 by default: 128 CPUs, 336 block devices, 8 NICs', () => {
    assert.deepEqual(BIG_NODE, { cpus: 128, disks: 64, partitions: 4, loops: 16, nics: 8 });
    assert.equal(blockDevices(BIG_NODE), 336);
    assert.equal(blockDevices({ ...BIG_NODE, disks: 60, loops: 0 }), 300);
  });

  it('writes a node the collectors read as the spec says, and whose counters advance', async () => {
    const { dir, cleanup } = tempDir('lavarank-bignode-');
    try {
      const roots = generateBigNode(join(dir, 'node'), SMALL);
      assert.equal(readFileSync(join(roots.procRoot, 'diskstats'), 'latin1').trim().split('\n').length, blockDevices(SMALL));
      const collectors = createCollectors({ ...roots, gpu: { enabled: false } });
      sample(collectors, 0);
      await settled(collectors); // the NICs' speeds, read in the background
      writeCounters(roots, SMALL, 1);
      const s = sample(collectors, 10_000);
      assert.deepEqual(s.failures, {});
      assert.equal(s.cpu?.online, 6);
      assert.ok(s.cpu !== undefined && s.cpu.busy > 0 && s.cpu.busy < 1, JSON.stringify(s.cpu));
      assert.equal(s.load?.online, 6);
      assert.equal(s.load?.cores, 3); // two threads a core, as a big x86 node's sysfs says
      // The elim's own status, as on a real node: every CPU allowed, so none is left out.
      assert.deepEqual(allowedCpusIn(join(roots.procRoot, 'self/status')), [0, 1, 2, 3, 4, 5]);
      assert.equal(s.cpu?.jobCpus, undefined);
      assert.deepEqual(s.disk?.devices?.map((d) => d.name), ['nvme0n1', 'nvme1n1', 'nvme2n1']);
      assert.ok((s.disk?.writeBytesPerSec ?? 0) > 0);
      assert.deepEqual(s.network?.interfaces?.map((i) => [i.name, i.speedBitsPerSec]), [['ens0f0', 25e9], ['ens0f1', 25e9]]);
      assert.ok((s.memory?.majorFaultsPerSec ?? -1) >= 0 && s.pressure !== undefined);
    } finally {
      cleanup();
    }
  });

  it('writes a node whose 128 CPUs and 64 disks the hot paths read as the strict parsers do', () => {
    const { dir, cleanup } = tempDir('lavarank-bignode-');
    try {
      const roots = generateBigNode(join(dir, 'node'), BIG_NODE);
      writeCounters(roots, BIG_NODE, 3);
      const stat = readFileSync(join(roots.procRoot, 'stat'), 'latin1');
      const parsedStat = parseStat(stat);
      assert.equal(parsedStat.cpus.length, 128);
      assert.deepEqual(scannedStat(Buffer.from(stat, 'latin1'), cpuSet(parsedStat.cpus)), parsedStat.total);
      const diskstats = readFileSync(join(roots.procRoot, 'diskstats'), 'latin1');
      const disks = parseDiskstats(diskstats).filter((d) => /^nvme\d+n1$/.test(d.name));
      assert.equal(disks.length, 64);
      const layout = diskLayout(diskstats, disks);
      assert.ok(layout !== undefined);
      writeCounters(roots, BIG_NODE, 4);
      const later = readFileSync(join(roots.procRoot, 'diskstats'), 'latin1');
      const expected = parseDiskstats(later).filter((d) => /^nvme\d+n1$/.test(d.name));
      assert.notDeepEqual(expected, disks, 'the counters moved');
      assert.deepEqual(scannedDisks(Buffer.from(later, 'latin1'), layout), expected);
      assert.deepEqual(scannedDisks(Buffer.from(later, 'latin1'), layout, false)?.map((d) => [d.ioTicksMs, d.weightedMs]), expected.map((d) => [d.ioTicksMs, d.weightedMs]));
    } finally {
      cleanup();
    }
  });

  it('rewrites the counter files in place when asked, which collectors keeping every file open then read', () => {
    const { dir, cleanup } = tempDir('lavarank-bignode-');
    try {
      const roots = generateBigNode(join(dir, 'node'), SMALL);
      const stat = join(roots.procRoot, 'stat');
      const inode = statSync(stat).ino;
      const collectors = createCollectors({ ...roots, gpu: { enabled: false }, keepOpen: () => true });
      try {
        sample(collectors, 0);
        writeCounters(roots, SMALL, 1, { inPlace: true });
        assert.equal(statSync(stat).ino, inode);
        const s = sample(collectors, 10_000);
        assert.deepEqual(s.failures, {});
        assert.ok(s.cpu !== undefined && s.cpu.busy > 0 && s.cpu.busy < 1, JSON.stringify(s.cpu));
        assert.ok((s.disk?.writeBytesPerSec ?? 0) > 0);
        // A shorter text than the last leaves no tail of it: tick 0's counters are smaller.
        writeCounters(roots, SMALL, 0, { inPlace: true });
        const fresh = generateBigNode(join(dir, 'again'), SMALL);
        assert.equal(readFileSync(stat, 'latin1'), readFileSync(join(fresh.procRoot, 'stat'), 'latin1'));
      } finally {
        for (const c of collectors) c.close?.();
      }
    } finally {
      cleanup();
    }
  });

  it('replaces the counter files by a rename by default, unseen through a descriptor kept open', () => {
    const { dir, cleanup } = tempDir('lavarank-bignode-');
    try {
      const roots = generateBigNode(join(dir, 'node'), SMALL);
      const kept = createCollectors({ ...roots, gpu: { enabled: false }, keepOpen: () => true });
      const reopened = createCollectors({ ...roots, gpu: { enabled: false } });
      try {
        sample(kept, 0);
        sample(reopened, 0);
        const inode = statSync(join(roots.procRoot, 'stat')).ino;
        writeCounters(roots, SMALL, 1);
        assert.notEqual(statSync(join(roots.procRoot, 'stat')).ino, inode);
        // The kept descriptors still read tick 0's files: no time passed in /proc/stat.
        assert.equal(sample(kept, 10_000).cpu, undefined);
        assert.ok((sample(reopened, 10_000).cpu?.busy ?? 0) > 0);
      } finally {
        for (const c of [...kept, ...reopened]) c.close?.();
      }
    } finally {
      cleanup();
    }
  });
});
