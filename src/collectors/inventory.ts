// The host's inventory (CPU model, cores, memory, disks, GPUs, OS), gathered once at
// start with systeminformation, for the log and `lavarank once --json`.
//
// systeminformation is only used here, never on the per-tick path: one sample of
// currentLoad, mem, disksIO, networkStats and fsStats forks about 35 processes (cat,
// grep, lsblk, sed, awk, ip...) and costs ~4 ms of CPU plus the children's, next to
// users' jobs every 10 s. The collectors read the same /proc files directly instead.
// It is imported lazily so that the daemon pays for loading it only when called.
import { access, readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type * as Si from 'systeminformation';
import { errorMessage } from '../util/errors.js';
import { parseMeminfo } from './memory.js';
import { monotonicMs } from '../util/clock.js';

type SiModule = typeof Si;

// A plain JSON-able description of the host; a part is null when it could not be had,
// and `errors` then says why.
export interface Inventory {
  cpu: {
    manufacturer: string;
    brand: string;
    cores: number; // logical CPUs
    physicalCores: number;
    sockets: number;
    speedGHz: number;
  } | null;
  memory: { totalBytes: number; swapTotalBytes: number } | null;
  disks: { device: string; type: string; name: string; vendor: string; sizeBytes: number; interfaceType: string }[] | null;
  gpus: { vendor: string; model: string; vramMiB: number | null; driverVersion: string | null }[] | null;
  os: { platform: string; distro: string; release: string; kernel: string; arch: string; hostname: string } | null;
  errors: Record<string, string>;
  durationMs: number;
}

// How long the inventory may take, and where systeminformation comes from.
export interface InventoryOptions {
  timeoutMs?: number; // for all parts together, default 20 s
  load?: () => Promise<SiModule>; // how to get systeminformation; tests pass a fake
  gpus?: boolean; // false: no GPU part (systeminformation runs nvidia-smi for it); default true
}

async function loadSysteminformation(): Promise<SiModule> {
  const mod = (await import('systeminformation')) as SiModule & { default?: SiModule };
  return mod.default ?? mod;
}

// Gathers the inventory, each part on its own so that one failing or hanging leaves
// the others; parts still running at the deadline are reported as timed out (their
// child processes are systeminformation's and finish on their own).
export async function collectInventory(options: InventoryOptions = {}): Promise<Inventory> {
  const timeoutMs = options.timeoutMs ?? 20_000;
  if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) {
    throw new TypeError(`inventory timeoutMs must be a positive number, received ${String(timeoutMs)}`);
  }
  const started = monotonicMs();
  const errors: Record<string, string> = {};
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<'timeout'>((resolve) => {
    // Not unref'd: with every part stuck on a promise, this timer is what ends the wait.
    timer = setTimeout(() => resolve('timeout'), timeoutMs);
  });
  async function part<T>(name: string, get: () => Promise<T>): Promise<T | null> {
    try {
      const value = await Promise.race([get(), deadline]);
      if (value === 'timeout') {
        errors[name] = `timed out after ${timeoutMs} ms`;
        return null;
      }
      return value;
    } catch (err) {
      errors[name] = errorMessage(err);
      return null;
    }
  }
  try {
    if (options.gpus === false) errors['gpus'] = 'not gathered (gpu.enabled is false)';
    const si = await part('systeminformation', options.load ?? loadSysteminformation);
    if (si === null) return { cpu: null, memory: null, disks: null, gpus: null, os: null, errors, durationMs: monotonicMs() - started };
    const [cpu, memory, disks, gpus, os] = await Promise.all([
      part('cpu', async () => {
        const c = await si.cpu();
        return {
          manufacturer: c.manufacturer,
          brand: c.brand,
          cores: c.cores,
          physicalCores: c.physicalCores,
          sockets: c.processors,
          speedGHz: c.speed,
        };
      }),
      part('memory', async () => {
        const m = await si.mem();
        return { totalBytes: m.total, swapTotalBytes: m.swaptotal };
      }),
      part('disks', async () =>
        (await si.diskLayout()).map((d) => ({
          device: d.device,
          type: d.type,
          name: d.name,
          vendor: d.vendor,
          sizeBytes: d.size,
          interfaceType: d.interfaceType,
        })),
      ),
      // graphics() runs nvidia-smi where lspci lists an NVIDIA board.
      options.gpus === false
        ? null
        : part('gpus', async () =>
            (await si.graphics()).controllers.map((g) => ({
              vendor: g.vendor,
              model: g.model,
              vramMiB: g.vram,
              driverVersion: g.driverVersion ?? null,
            })),
          ),
      part('os', async () => {
        const o = await si.osInfo();
        return { platform: o.platform, distro: o.distro, release: o.release, kernel: o.kernel, arch: o.arch, hostname: o.hostname };
      }),
    ]);
    return { cpu, memory, disks, gpus, os, errors, durationMs: monotonicMs() - started };
  } finally {
    clearTimeout(timer);
  }
}

// Where collectLocalInventory reads: the proc and sys roots (the daemon's proc_root and
// sys_root) and the os-release files, the first that reads (os-release(5)).
export interface LocalInventoryOptions {
  procRoot?: string;
  sysRoot?: string;
  osRelease?: readonly string[];
  gpusWhy?: string; // why there is no GPU part, for errors.gpus; default: gpu.enabled is false
}

// NVIDIA's PCI vendor id, and the PCI base class of display controllers (VGA 0x0300, 3D
// 0x0302, which data-centre boards without a display output report, other 0x0380).
const NVIDIA_VENDOR = 0x10de;
const DISPLAY_CLASS = 0x03;

// Whether a PCI device's sysfs vendor and class files ("0x10de", "0x030200") name an
// NVIDIA display controller: what nvidia-smi lists. Undefined for text that is not such a file.
export function isNvidiaDisplay(vendor: string, pciClass: string): boolean | undefined {
  if (!/^0x[0-9a-f]{4}$/i.test(vendor.trim()) || !/^0x[0-9a-f]{6}$/i.test(pciClass.trim())) return undefined;
  return Number(vendor.trim()) === NVIDIA_VENDOR && Number(pciClass.trim()) >> 16 === DISPLAY_CLASS;
}

// Whether any device on the PCI bus (sysRoot/bus/pci/devices) is an NVIDIA display
// controller; undefined where the bus cannot be read, or a device's files are not what
// the kernel writes, so that the caller does not conclude there is none. Read in libuv's pool.
export async function nvidiaOnPciBus(sysRoot = '/sys'): Promise<boolean | undefined> {
  const dir = join(sysRoot, 'bus', 'pci', 'devices');
  try {
    for (const device of await readdir(dir)) {
      const [vendor, pciClass] = await Promise.all([readFile(join(dir, device, 'vendor'), 'latin1'), readFile(join(dir, device, 'class'), 'latin1')]);
      const nvidia = isNvidiaDisplay(vendor, pciClass);
      if (nvidia !== false) return nvidia;
    }
    return false;
  } catch {
    return undefined; // no sysfs, or a device that went away: not known
  }
}

const OS_RELEASE = ['/etc/os-release', '/usr/lib/os-release'] as const;

// The manufacturer of a /proc/cpuinfo vendor_id, as systeminformation names the two it knows.
const VENDORS: Readonly<Record<string, string>> = { GenuineIntel: 'Intel', AuthenticAMD: 'AMD' };

// /proc/cpuinfo as the inventory's cpu part: the first processor's vendor, model name
// and MHz, the processors counted, the cores by their (physical id, core id) pairs and
// the sockets by physical id; where the kernel prints no topology (arm64, s390x), each
// processor a core and one socket. Undefined where no processor is listed.
export function parseCpuInfo(text: string): NonNullable<Inventory['cpu']> | undefined {
  let cores = 0;
  let vendor = '';
  let model = '';
  let mhz = 0;
  let socket = '';
  const sockets = new Set<string>();
  const physical = new Set<string>();
  for (const line of text.split('\n')) {
    const colon = line.indexOf(':');
    if (colon < 0) continue;
    const key = line.slice(0, colon).trim();
    const value = line.slice(colon + 1).trim();
    if (key === 'processor') cores++;
    else if (cores === 1 && key === 'vendor_id') vendor = value;
    else if (cores === 1 && key === 'model name') model = value;
    else if (cores === 1 && key === 'cpu MHz') mhz = Number(value) || 0;
    else if (key === 'physical id') sockets.add((socket = value));
    else if (key === 'core id') physical.add(`${socket} ${value}`);
  }
  if (cores === 0) return undefined;
  return {
    manufacturer: VENDORS[vendor] ?? vendor,
    brand: model,
    cores,
    physicalCores: physical.size > 0 ? physical.size : cores,
    sockets: Math.max(1, sockets.size),
    speedGHz: Math.round(mhz / 10) / 100,
  };
}

// os-release(5)'s NAME and VERSION_ID, unquoted; '' for either it lacks.
export function parseOsRelease(text: string): { distro: string; release: string } {
  const out = { distro: '', release: '' };
  for (const line of text.split('\n')) {
    const m = /^(NAME|VERSION_ID)=(.*)$/.exec(line.trim());
    if (m === null) continue;
    const value = m[2]!.replace(/^(["'])(.*)\1$/, '$2');
    if (m[1] === 'NAME') out.distro = value;
    else out.release = value;
  }
  return out;
}

// The block devices under /sys/block that are a device's (a `device` link: disks, not
// loop, ram, zram, dm- or md devices), with their model, vendor and size, sorted.
async function localDisks(sysRoot: string): Promise<NonNullable<Inventory['disks']>> {
  const names = (await readdir(join(sysRoot, 'block'))).sort();
  const out: NonNullable<Inventory['disks']> = [];
  for (const name of names) {
    const dir = join(sysRoot, 'block', name);
    if (!(await access(join(dir, 'device')).then(() => true, () => false))) continue;
    const text = (file: string) => readFile(join(dir, file), 'latin1').then((t) => t.trim(), () => '');
    const nvme = name.startsWith('nvme');
    const rotational = await text('queue/rotational');
    out.push({
      device: `/dev/${name}`,
      type: nvme ? 'NVMe' : rotational === '1' ? 'HD' : rotational === '0' ? 'SSD' : '',
      name: await text('device/model'),
      vendor: await text('device/vendor'),
      sizeBytes: (Number(await text('size')) || 0) * 512,
      interfaceType: nvme ? 'PCIe' : '',
    });
  }
  return out;
}

// The inventory read from /proc, /sys and os-release alone, without GPUs: what the elim
// logs where gpu.enabled is false. systeminformation is not the tool for it: it starts
// lscpu, lsblk, `hostname -f` and others (10 processes here, 4 s), through a Node process
// of the elim's own, since it runs them synchronously (commands/inventory.ts), and that
// start loads node:child_process into the elim for its life (0.6 MB, util/exec.ts); the
// same facts are a few files the kernel writes. With GPUs, systeminformation's lspci
// search, which knows boards no nvidia-smi lists, is still run (hostInventory). Every
// read goes through libuv's pool: none can hold the elim's thread.
export async function collectLocalInventory(options: LocalInventoryOptions = {}): Promise<Inventory> {
  const started = monotonicMs();
  const procRoot = options.procRoot ?? '/proc';
  const sysRoot = options.sysRoot ?? '/sys';
  const errors: Record<string, string> = { gpus: options.gpusWhy ?? 'not gathered (gpu.enabled is false)' };
  const proc = (path: string) => readFile(join(procRoot, path), 'latin1');
  async function part<T>(name: string, get: () => Promise<T>): Promise<T | null> {
    try {
      return await get();
    } catch (err) {
      errors[name] = errorMessage(err);
      return null;
    }
  }
  const [cpu, memory, disks, os] = await Promise.all([
    part('cpu', async () => parseCpuInfo(await proc('cpuinfo')) ?? Promise.reject(new Error(`no processor in ${join(procRoot, 'cpuinfo')}`))),
    part('memory', async () => {
      // The memory collector's parser, so that the inventory and the rank read one file
      // alike: a line it refuses fails both, and a missing SwapTotal is no swap for both
      // (the kernel prints it always, 0 without CONFIG_SWAP; systeminformation's 0 too).
      const m = parseMeminfo(await proc('meminfo'), join(procRoot, 'meminfo'));
      return { totalBytes: m.totalBytes, swapTotalBytes: m.swapTotalBytes };
    }),
    part('disks', () => localDisks(sysRoot)),
    part('os', async () => {
      let release: { distro: string; release: string } = { distro: '', release: '' };
      for (const file of options.osRelease ?? OS_RELEASE) {
        const text = await readFile(file, 'utf8').catch(() => undefined);
        if (text === undefined) continue;
        release = parseOsRelease(text);
        break;
      }
      const [kernel, hostname] = await Promise.all([proc('sys/kernel/osrelease'), proc('sys/kernel/hostname')]);
      return { platform: process.platform as string, ...release, kernel: kernel.trim(), arch: process.arch as string, hostname: hostname.trim() };
    }),
  ]);
  return { cpu, memory, disks, gpus: null, os, errors, durationMs: monotonicMs() - started };
}
