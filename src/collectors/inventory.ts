// The host's inventory (CPU model, cores, memory, disks, GPUs, OS), gathered once at
// start with systeminformation, for the log and `lavarank once --json`.
//
// systeminformation is only used here, never on the per-tick path: one sample of
// currentLoad, mem, disksIO, networkStats and fsStats forks about 35 processes (cat,
// grep, lsblk, sed, awk, ip...) and costs ~4 ms of CPU plus the children's, next to
// users' jobs every 10 s. The collectors read the same /proc files directly instead.
// It is imported lazily so that the daemon pays for loading it only when called.
import type * as Si from 'systeminformation';
import { errorMessage } from '../util/errors.js';

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
  const started = performance.now();
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
    if (si === null) return { cpu: null, memory: null, disks: null, gpus: null, os: null, errors, durationMs: performance.now() - started };
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
    return { cpu, memory, disks, gpus, os, errors, durationMs: performance.now() - started };
  } finally {
    clearTimeout(timer);
  }
}
