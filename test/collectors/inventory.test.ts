import assert from 'node:assert/strict';
import { test } from 'node:test';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseMeminfo } from '../../src/collectors/memory.js';
import { pciBus, tempDir } from './helpers.js';
import { collectInventory, collectLocalInventory, isNvidiaDisplay, nvidiaOnPciBus, parseCpuInfo, parseOsRelease } from '../../src/collectors/inventory.js';

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

// The start of this development VM's /proc/cpuinfo (2 vCPU AMD EPYC), one processor's
// lines cut to those the inventory reads and a few around them.
const EPYC_VM = `processor\t: 0
vendor_id\t: AuthenticAMD
cpu family\t: 26
model name\t: AMD EPYC
cpu MHz\t\t: 2095.988
physical id\t: 0
siblings\t: 2
core id\t\t: 0
cpu cores\t: 2

processor\t: 1
vendor_id\t: AuthenticAMD
model name\t: AMD EPYC
cpu MHz\t\t: 2095.988
physical id\t: 0
core id\t\t: 1

`;

// Two sockets of two cores of two SMT threads (the kernel lists each core's second thread
// after every first one): 8 processors, 4 cores, 2 sockets.
function smtNode(): string {
  let out = '';
  let n = 0;
  for (const socket of [0, 1]) for (const core of [0, 1, 0, 1]) out += `processor\t: ${n++}\nvendor_id\t: GenuineIntel\nmodel name\t: Intel(R) Xeon(R) Gold 6130 CPU @ 2.10GHz\ncpu MHz\t\t: 1000.000\nphysical id\t: ${socket}\ncore id\t\t: ${core}\n\n`;
  return out;
}

test('parseCpuInfo reads this VM: 2 processors, 2 cores, one socket', () => {
  assert.deepEqual(parseCpuInfo(EPYC_VM), { manufacturer: 'AMD', brand: 'AMD EPYC', cores: 2, physicalCores: 2, sockets: 1, speedGHz: 2.1 });
});

test('parseCpuInfo counts SMT siblings as one core and each physical id as a socket', () => {
  assert.deepEqual(parseCpuInfo(smtNode()), { manufacturer: 'Intel', brand: 'Intel(R) Xeon(R) Gold 6130 CPU @ 2.10GHz', cores: 8, physicalCores: 4, sockets: 2, speedGHz: 1 });
});

test('parseCpuInfo takes each processor as a core of one socket where the kernel prints no topology (arm64)', () => {
  const arm = 'processor\t: 0\nBogoMIPS\t: 50.00\nCPU implementer\t: 0x41\n\nprocessor\t: 1\nBogoMIPS\t: 50.00\n\n';
  assert.deepEqual(parseCpuInfo(arm), { manufacturer: '', brand: '', cores: 2, physicalCores: 2, sockets: 1, speedGHz: 0 });
  assert.equal(parseCpuInfo('garbage\n'), undefined);
});

test('parseOsRelease reads NAME and VERSION_ID, quoted or not', () => {
  assert.deepEqual(parseOsRelease('PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nNAME="Debian GNU/Linux"\nVERSION_ID="12"\n'), { distro: 'Debian GNU/Linux', release: '12' });
  assert.deepEqual(parseOsRelease("NAME='Rocky Linux'\nVERSION_ID=9.4\n"), { distro: 'Rocky Linux', release: '9.4' });
  assert.deepEqual(parseOsRelease(''), { distro: '', release: '' });
});

// A proc and sys tree with what collectLocalInventory reads.
function hostTree(dir: string): { procRoot: string; sysRoot: string; osRelease: string[] } {
  const procRoot = join(dir, 'proc');
  const sysRoot = join(dir, 'sys');
  mkdirSync(join(procRoot, 'sys', 'kernel'), { recursive: true });
  writeFileSync(join(procRoot, 'cpuinfo'), EPYC_VM);
  writeFileSync(join(procRoot, 'meminfo'), 'MemTotal:       24683748 kB\nMemFree:        20000000 kB\nSwapTotal:             0 kB\n');
  writeFileSync(join(procRoot, 'sys', 'kernel', 'osrelease'), '6.18.44\n');
  writeFileSync(join(procRoot, 'sys', 'kernel', 'hostname'), 'n01\n');
  for (const [name, device, rotational] of [['vda', true, '1'], ['nvme0n1', true, '0'], ['loop0', false, '1'], ['zram0', false, '0']] as const) {
    mkdirSync(join(sysRoot, 'block', name, 'queue'), { recursive: true });
    writeFileSync(join(sysRoot, 'block', name, 'queue', 'rotational'), `${rotational}\n`);
    writeFileSync(join(sysRoot, 'block', name, 'size'), '1024\n');
    if (device) {
      mkdirSync(join(sysRoot, 'block', name, 'device'));
      writeFileSync(join(sysRoot, 'block', name, 'device', 'model'), 'Disk Model      \n');
    }
  }
  writeFileSync(join(dir, 'os-release'), 'NAME="Debian GNU/Linux"\nVERSION_ID="12"\n');
  return { procRoot, sysRoot, osRelease: [join(dir, 'missing'), join(dir, 'os-release')] };
}

test('collectLocalInventory reads cpu, memory, disks (devices only) and OS from the roots given, GPUs left out', async (t) => {
  const dir = tempDir(t);
  const inv = await collectLocalInventory(hostTree(dir));
  assert.deepEqual(JSON.parse(JSON.stringify(inv)), inv);
  assert.equal(inv.cpu?.cores, 2);
  assert.deepEqual(inv.memory, { totalBytes: 24683748 * 1024, swapTotalBytes: 0 });
  assert.deepEqual(inv.disks, [
    { device: '/dev/nvme0n1', type: 'NVMe', name: 'Disk Model', vendor: '', sizeBytes: 1024 * 512, interfaceType: 'PCIe' },
    { device: '/dev/vda', type: 'HD', name: 'Disk Model', vendor: '', sizeBytes: 1024 * 512, interfaceType: '' },
  ]);
  assert.deepEqual(inv.os, { platform: process.platform, distro: 'Debian GNU/Linux', release: '12', kernel: '6.18.44', arch: process.arch, hostname: 'n01' });
  assert.equal(inv.gpus, null);
  assert.deepEqual(inv.errors, { gpus: 'not gathered (gpu.enabled is false)' });
});

test('collectLocalInventory leaves a part it cannot read null, naming why, and keeps the others', async (t) => {
  const dir = tempDir(t);
  const roots = hostTree(dir);
  rmSync(join(roots.procRoot, 'cpuinfo'));
  writeFileSync(join(roots.procRoot, 'meminfo'), 'MemTotal: 1 kB\nSwapTotal: lots kB\n');
  const inv = await collectLocalInventory(roots);
  assert.equal(inv.cpu, null);
  assert.match(inv.errors['cpu'] ?? '', /ENOENT.*cpuinfo/);
  assert.equal(inv.memory, null);
  assert.match(inv.errors['memory'] ?? '', new RegExp(`${join(roots.procRoot, 'meminfo')} line 2: .*"SwapTotal: lots kB"`));
  assert.equal(inv.os?.hostname, 'n01');
});

test('collectLocalInventory reads /proc/meminfo as the memory collector does: no SwapTotal line is no swap', async (t) => {
  const dir = tempDir(t);
  const roots = hostTree(dir);
  const text = 'MemTotal:       24683748 kB\nMemFree:        20000000 kB\nHugePages_Total:       0\n';
  writeFileSync(join(roots.procRoot, 'meminfo'), text);
  const inv = await collectLocalInventory(roots);
  const counters = parseMeminfo(text);
  assert.deepEqual(inv.memory, { totalBytes: counters.totalBytes, swapTotalBytes: counters.swapTotalBytes });
  assert.deepEqual(inv.memory, { totalBytes: 24683748 * 1024, swapTotalBytes: 0 });
});

test('isNvidiaDisplay: NVIDIA VGA and 3D controllers only, and nothing for text that is not a sysfs id', () => {
  assert.equal(isNvidiaDisplay('0x10de\n', '0x030200\n'), true); // an A100/H100: 3D controller
  assert.equal(isNvidiaDisplay('0x10de', '0x030000'), true);
  assert.equal(isNvidiaDisplay('0x10de', '0x040300'), false); // the board's HDMI audio function
  assert.equal(isNvidiaDisplay('0x1a03', '0x030000'), false); // a BMC's ASPEED VGA
  assert.equal(isNvidiaDisplay('0x8086', '0x020000'), false);
  assert.equal(isNvidiaDisplay('nvidia', '0x030000'), undefined);
  assert.equal(isNvidiaDisplay('0x10de', '3'), undefined);
});

test('nvidiaOnPciBus: false for a bus without one, true with one, unknown where the bus cannot be read', async () => {
  const roots = [pciBus([['0x8086', '0x060000'], ['0x1a03', '0x030000'], ['0x10de', '0x040300']]), pciBus([['0x8086', '0x060000'], ['0x10de', '0x030200']]), pciBus([['0x8086', 'bridge']])];
  try {
    assert.equal(await nvidiaOnPciBus(roots[0]), false);
    assert.equal(await nvidiaOnPciBus(roots[1]), true);
    assert.equal(await nvidiaOnPciBus(roots[2]), undefined);
    assert.equal(await nvidiaOnPciBus(join(roots[0]!, 'missing')), undefined);
  } finally {
    for (const r of roots) rmSync(r, { recursive: true, force: true });
  }
});
