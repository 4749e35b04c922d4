// The collectors lavarank runs each tick, listed explicitly in the order the sampler calls them.
import { createCpuCollector } from './cpu.js';
import { createDiskCollector } from './disk.js';
import { createGpuCollector, type GpuOptions } from './gpu.js';
import { createLoadCollector } from './loadavg.js';
import { createMemoryCollector } from './memory.js';
import { createNetworkCollector } from './network.js';
import { createPressureCollector } from './pressure.js';
import type { Collector, CollectorOptions } from './types.js';

// The roots of every reader, whether to give detail, the assumed link speed, the jobs' CPUs, plus the GPU poller's own options.
export interface CollectorsOptions extends CollectorOptions {
  gpu?: GpuOptions; // default: enabled auto, nvidia-smi every 30 s
}

// Creates every collector; the GPU one only unless gpu.enabled is false.
export function createCollectors(options: CollectorsOptions = {}): Collector[] {
  const roots: CollectorOptions = {};
  if (options.procRoot !== undefined) roots.procRoot = options.procRoot;
  if (options.sysRoot !== undefined) roots.sysRoot = options.sysRoot;
  if (options.detail !== undefined) roots.detail = options.detail;
  if (options.keepOpen !== undefined) roots.keepOpen = options.keepOpen;
  if (options.linkSpeedMbps !== undefined) roots.linkSpeedMbps = options.linkSpeedMbps;
  if (options.jobCpus !== undefined) roots.jobCpus = options.jobCpus;
  if (options.warn !== undefined) roots.warn = options.warn;
  if (options.linkSpeedRead !== undefined) roots.linkSpeedRead = options.linkSpeedRead;
  if (options.ownCpuUs !== undefined) roots.ownCpuUs = options.ownCpuUs;
  const collectors: Collector[] = [
    createCpuCollector(roots),
    createLoadCollector(roots),
    createMemoryCollector(roots),
    createDiskCollector(roots),
    createNetworkCollector(roots),
    createPressureCollector(roots),
  ];
  const gpuEnabled = options.gpu?.enabled;
  if (gpuEnabled !== false && gpuEnabled !== 'false') collectors.push(createGpuCollector(options.gpu));
  return collectors;
}
