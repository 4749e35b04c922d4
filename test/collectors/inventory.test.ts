import assert from 'node:assert/strict';
import { test } from 'node:test';
import { collectInventory } from '../../src/collectors/inventory.js';

// Just enough of systeminformation for the inventory; `hang` names parts that never answer.
function fakeSi(options: { fail?: string; hang?: string } = {}) {
  const part = <T>(name: string, value: T) => async (): Promise<T> => {
    if (options.fail === name) throw new Error(`${name} exploded`);
    if (options.hang === name) return new Promise<T>(() => {});
    return value;
  };
  return {
    cpu: part('cpu', { manufacturer: 'AMD', brand: 'EPYC', cores: 2, physicalCores: 1, processors: 1, speed: 2.4 }),
    mem: part('mem', { total: 1024, swaptotal: 0 }),
    diskLayout: part('diskLayout', [{ device: '/dev/vda', type: 'HD', name: 'disk', vendor: 'virtio', size: 10, interfaceType: '' }]),
    graphics: part('graphics', { controllers: [{ vendor: 'NVIDIA', model: 'A100', vram: 40960 }] }),
    osInfo: part('osInfo', { platform: 'linux', distro: 'Debian', release: '12', kernel: '6.1', arch: 'x64', hostname: 'n01' }),
  };
}

test('the inventory is a plain JSON-able object of every part', async () => {
  const inv = await collectInventory({ load: async () => fakeSi() as never });
  assert.deepEqual(JSON.parse(JSON.stringify(inv)), inv);
  assert.deepEqual(inv.cpu, { manufacturer: 'AMD', brand: 'EPYC', cores: 2, physicalCores: 1, sockets: 1, speedGHz: 2.4 });
  assert.deepEqual(inv.gpus, [{ vendor: 'NVIDIA', model: 'A100', vramMiB: 40960, driverVersion: null }]);
  assert.equal(inv.os?.hostname, 'n01');
  assert.deepEqual(inv.errors, {});
});

test('a part that fails is null and its error is kept, the others are there', async () => {
  const inv = await collectInventory({ load: async () => fakeSi({ fail: 'diskLayout' }) as never });
  assert.equal(inv.disks, null);
  assert.deepEqual(inv.errors, { disks: 'diskLayout exploded' });
  assert.equal(inv.memory?.totalBytes, 1024);
});

test('a part that hangs is reported as timed out at the deadline', async () => {
  const started = performance.now();
  const inv = await collectInventory({ timeoutMs: 50, load: async () => fakeSi({ hang: 'graphics' }) as never });
  assert.ok(performance.now() - started < 1000);
  assert.equal(inv.gpus, null);
  assert.deepEqual(inv.errors, { gpus: 'timed out after 50 ms' });
  assert.equal(inv.cpu?.cores, 2);
});

test('the real systeminformation describes this host', async () => {
  const inv = await collectInventory({ timeoutMs: 20_000 });
  assert.ok((inv.cpu?.cores ?? 0) > 0, JSON.stringify(inv.errors));
  assert.ok((inv.memory?.totalBytes ?? 0) > 0);
  assert.equal(inv.os?.platform, 'linux');
});

// systeminformation's graphics() runs nvidia-smi; with gpu.enabled false the elim must not,
// and each start left one more nvidia-smi stuck on a wedged driver.
test('with gpus false the GPU part is not gathered and graphics() is never called', async () => {
  const si = fakeSi();
  let called = false;
  si.graphics = async () => {
    called = true;
    return { controllers: [] };
  };
  const inv = await collectInventory({ gpus: false, load: async () => si as never });
  assert.equal(called, false);
  assert.equal(inv.gpus, null);
  assert.deepEqual(inv.errors, { gpus: 'not gathered (gpu.enabled is false)' });
  assert.equal(inv.cpu?.cores, 2);
});
