// The calibration probe: a short job of fixed size mixing integer CPU work, memory
// streaming and fsync'd file writes, timed part by part. `lavarank calibrate` runs
// it as a separate process, so its slowdown is that of a real job sharing the host.
// Run as `node dist/src/calibration/probe.js [--scale N] [--dir DIR]`; prints one JSON line.
import { closeSync, fsyncSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { print, printError, runAsProgram } from '../util/cliio.js';
import { joinCgroup } from './cgroup.js';
import { workDirectoryProblem } from './workdir.js';

// The amounts of work at scale 1: about 2.2 s on an idle 2-vCPU EPYC VM, of which
// 1.5 s integer work, 0.65 s memory (0.2 s faulting the buffers in, 14 ms per copy)
// and 0.05 s writes (an fsync of 1 MiB takes about 1 ms on its virtio disk).
export const PROBE_WORK = {
  cpuIterations: 400_000_000, // xorshift32 rounds: pure integer work, no memory traffic
  memBytes: 256 * 1024 * 1024, // each of two buffers: eight times a 32 MiB L3
  memPasses: 32, // copies of one buffer into the other (each reads and writes memBytes)
  diskChunkBytes: 1024 * 1024,
  diskChunks: 32, // each written then fsync'd
} as const;

// What the probe prints: its wall and CPU time and each part's wall time, in seconds,
// and counters that are equal on every run at the same scale.
export interface ProbeResult {
  v: 1;
  scale: number;
  wallSeconds: number;
  cpuSeconds: number; // user + system of the probe's work
  processCpuSeconds: number; // user + system since the process started, node's own start-up included
  parts: { cpu: number; mem: number; disk: number };
  work: { cpuChecksum: number; memBytesCopied: number; diskBytesWritten: number };
}

// The work a given scale asks for; every amount at least one unit.
export function probeWork(scale: number): { cpuIterations: number; memBytes: number; memPasses: number; diskChunks: number } {
  return {
    cpuIterations: Math.max(1, Math.round(PROBE_WORK.cpuIterations * scale)),
    memBytes: Math.max(1024 * 1024, Math.round((PROBE_WORK.memBytes * Math.min(scale, 1)) / 4096) * 4096),
    memPasses: Math.max(1, Math.round(PROBE_WORK.memPasses * Math.max(scale, 1))),
    diskChunks: Math.max(1, Math.round(PROBE_WORK.diskChunks * scale)),
  };
}

// Yielding between slices lets a SIGTERM handler run in the middle of a part.
const CPU_SLICE = 20_000_000;

async function cpuPart(iterations: number): Promise<number> {
  let x = 2463534242;
  let acc = 0;
  for (let done = 0; done < iterations; done += CPU_SLICE) {
    const end = Math.min(iterations, done + CPU_SLICE);
    for (let i = done; i < end; i++) {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      acc = (acc + (x >>> 0)) >>> 0;
    }
    await yieldToLoop();
  }
  return acc;
}

async function memPart(bytes: number, passes: number): Promise<number> {
  // allocUnsafeSlow then fill: every page is faulted in as part of the job, as a
  // real job's first touch of its arrays would be.
  const a = Buffer.allocUnsafeSlow(bytes).fill(1);
  const b = Buffer.allocUnsafeSlow(bytes).fill(2);
  let copied = 0;
  for (let p = 0; p < passes; p++) {
    if (p % 2 === 0) a.copy(b);
    else b.copy(a);
    copied += bytes;
    await yieldToLoop();
  }
  return copied;
}

async function diskPart(dir: string, chunks: number): Promise<number> {
  const chunk = Buffer.alloc(PROBE_WORK.diskChunkBytes, 0x5a);
  const fd = openSync(join(dir, 'probe.dat'), 'w', 0o600);
  let written = 0;
  try {
    for (let i = 0; i < chunks; i++) {
      let off = 0;
      while (off < chunk.length) off += writeSync(fd, chunk, off);
      fsyncSync(fd);
      written += chunk.length;
      await yieldToLoop();
    }
  } finally {
    closeSync(fd);
  }
  return written;
}

function seconds(fromMs: number): number {
  return (performance.now() - fromMs) / 1000;
}

// Runs the probe once in a fresh directory under dir, removed afterwards.
export async function runProbe(options: { scale?: number; dir?: string } = {}): Promise<ProbeResult> {
  const scale = options.scale ?? 1;
  const work = probeWork(scale);
  let workDir: string | undefined;
  const removeDir = (): void => {
    if (workDir !== undefined) rmSync(workDir, { recursive: true, force: true });
  };
  // A probe stopped mid-run (calibrate interrupted) still removes its files. The
  // handlers come before the directory: a SIGTERM sent as soon as it appears would
  // otherwise kill the probe with the signal's default action and leave it behind.
  const onSignal = (): void => {
    removeDir();
    process.exit(143);
  };
  process.once('SIGTERM', onSignal);
  process.once('SIGINT', onSignal);
  try {
    const problem = workDirectoryProblem(options.dir ?? tmpdir());
    if (problem !== undefined) throw new Error(problem);
    workDir = mkdtempSync(join(options.dir ?? tmpdir(), 'lavarank-probe-'));
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    const cpuChecksum = await cpuPart(work.cpuIterations);
    const cpuSeconds = seconds(t0);
    const t1 = performance.now();
    const memBytesCopied = await memPart(work.memBytes, work.memPasses);
    const memSeconds = seconds(t1);
    const t2 = performance.now();
    const diskBytesWritten = await diskPart(workDir, work.diskChunks);
    const diskSeconds = seconds(t2);
    const wallSeconds = seconds(t0);
    const used = process.cpuUsage(cpu0);
    const total = process.cpuUsage();
    return {
      v: 1,
      scale,
      wallSeconds,
      cpuSeconds: (used.user + used.system) / 1e6,
      processCpuSeconds: (total.user + total.system) / 1e6,
      parts: { cpu: cpuSeconds, mem: memSeconds, disk: diskSeconds },
      work: { cpuChecksum, memBytesCopied, diskBytesWritten },
    };
  } finally {
    process.removeListener('SIGTERM', onSignal);
    process.removeListener('SIGINT', onSignal);
    removeDir();
  }
}

const USAGE = `Usage: node dist/src/calibration/probe.js [--scale N] [--dir DIR] [--cgroup DIR]

Runs lavarank's calibration probe once (integer CPU work, 32 copies between two
256 MiB buffers, 32 x 1 MiB writes each fsync'd in a temporary directory under DIR,
default $TMPDIR or /tmp) and prints one JSON line with the times in seconds.
--scale multiplies the amount of work (default 1, about 2.2 s on an idle 2-vCPU EPYC VM).
--cgroup DIR moves the probe into that cgroup before it starts (calibrate's memory squeeze).`;

// Runs the probe and prints its result; returns the exit status.
export async function main(argv: string[]): Promise<number> {
  const { values: args } = parseArgs({
    args: argv,
    options: { scale: { type: 'string' }, dir: { type: 'string' }, cgroup: { type: 'string' }, help: { type: 'boolean' } },
    strict: true,
  });
  if (args.help === true) {
    print(USAGE);
    return 0;
  }
  const scale = args.scale === undefined ? 1 : Number(args.scale);
  if (!Number.isFinite(scale) || scale <= 0 || scale > 100) {
    printError(`probe: --scale: expected a number above 0 and at most 100, received ${JSON.stringify(args.scale)}`);
    return 2;
  }
  if (args.cgroup !== undefined) joinCgroup(args.cgroup);
  print(JSON.stringify(await runProbe({ scale, ...(args.dir === undefined ? {} : { dir: args.dir }) })));
  return 0;
}

await runAsProgram(import.meta.url, main);
