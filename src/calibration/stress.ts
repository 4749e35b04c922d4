// Background stressors for calibration, one kind per process: cpu (a busy loop),
// membw (copying between two large buffers), mem (memory allocated, touched and
// held), squeeze (memory touched over and over inside a memory cgroup too small
// for it, so it swaps) and disk (1 MiB writes, each fsync'd). Run as
// `node dist/src/calibration/stress.js <kind> [--intensity X] [--dir DIR]`. Each prints one JSON
// line once it is at full load, and exits by itself on SIGTERM, SIGINT or SIGHUP,
// when its parent is gone (calibrate killed with SIGKILL) or after --max-seconds,
// removing its temporary files every time.
import { closeSync, fsyncSync, mkdtempSync, openSync, rmSync, unlinkSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setImmediate as yieldToLoop, setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { print, printError, runAsProgram } from '../util/cliio.js';
import { errorMessage } from '../util/errors.js';
import { memoryFractions, parseMeminfo } from '../collectors/memory.js';
import { readKernelText } from '../collectors/procfs.js';
import { joinCgroup } from './cgroup.js';
import { workDirectoryProblem } from './workdir.js';

// The kinds of stressor, as named on the command line and in calibration configs.
export const STRESS_KINDS = ['cpu', 'membw', 'mem', 'squeeze', 'disk'] as const;
export type StressKind = (typeof STRESS_KINDS)[number];

// The mem stressor holds at most MemAvailable minus this (intensity 1), so the
// probe, calibrate and whatever else the host runs keep room.
export const MEM_RESERVE_BYTES = 3 * 1024 ** 3;
// Below this much MemAvailable the mem stressor gives memory back, whatever it
// was asked for: it must never bring the host near the OOM killer.
export const MEM_FLOOR_BYTES = 1024 ** 3;
const MEM_CHUNK_BYTES = 64 * 1024 * 1024;
const MEMBW_BYTES = 256 * 1024 * 1024;
const DISK_CHUNK_BYTES = 1024 * 1024;
const DISK_FILE_CHUNKS = 64; // a new file every 64 MiB, so the disk never fills
// Busy and idle alternate over this period when the intensity is below 1.
const DUTY_PERIOD_MS = 100;

// How a stressor stops: the reason, set once, and a signal that ends any pause at once
// (execa follows SIGTERM with SIGKILL after a second: cleanup must happen before).
interface Stop {
  reason: string | undefined;
  controller: AbortController;
}

function halt(stop: Stop, reason: string): void {
  if (stop.reason !== undefined) return;
  stop.reason = reason;
  stop.controller.abort();
}

async function pause(ms: number, stop: Stop): Promise<void> {
  try {
    await sleep(ms, undefined, { signal: stop.controller.signal });
  } catch (err) {
    if (!stop.controller.signal.aborted) throw err;
  }
}

// What a stressor is asked to do.
export interface StressOptions {
  intensity: number; // 0..1: share of time busy (cpu, membw, disk), share of the allowed memory (mem)
  dir: string; // where the disk stressor makes its temporary directory
  maxSeconds: number;
  bytes?: number; // squeeze: how much memory to keep touching
  cgroup?: string; // a cgroup directory to move into before any work (its cgroup.procs)
  parent?: number; // the pid of the process that started it; default the parent at start-up
}

const PAGE_BYTES = 4096;

// Keeps `bytes` of memory in use by writing to every page over and over. Inside a
// memory cgroup whose limit is below `bytes` (and with swap), each pass swaps pages
// out and back in: the memory stall, swap traffic and major faults of a host whose
// memory is overcommitted, confined to the cgroup calibrate made for it.
async function squeezeMemory(bytes: number, stop: Stop, ready: (details: Record<string, number>) => void): Promise<void> {
  const chunks: Buffer[] = [];
  for (let held = 0; held < bytes && stop.reason === undefined; held += MEM_CHUNK_BYTES) {
    chunks.push(Buffer.allocUnsafeSlow(Math.min(MEM_CHUNK_BYTES, bytes - held)).fill(chunks.length & 0xff));
    await yieldToLoop();
  }
  if (stop.reason !== undefined) return;
  ready({ heldBytes: bytes });
  let pass = 0;
  while (stop.reason === undefined) {
    pass++;
    for (const chunk of chunks) {
      for (let i = 0; i < chunk.length; i += PAGE_BYTES) chunk[i] = pass & 0xff;
      await yieldToLoop();
      if (stop.reason !== undefined) break;
    }
  }
}

// Busy until the slice ends, yielding often enough for signals and the watchdog.
async function dutyCycle(intensity: number, stop: Stop, work: () => void): Promise<void> {
  const busyMs = DUTY_PERIOD_MS * intensity;
  while (stop.reason === undefined) {
    const start = performance.now();
    do {
      work();
      await yieldToLoop();
    } while (stop.reason === undefined && performance.now() - start < busyMs);
    const idleMs = DUTY_PERIOD_MS - (performance.now() - start);
    if (intensity < 1 && idleMs > 0 && stop.reason === undefined) await pause(idleMs, stop);
  }
}

function spin(): void {
  // About 5 ms of integer work per call; the result is kept so it is not optimised away.
  let x = (Date.now() | 1) >>> 0;
  for (let i = 0; i < 1_500_000; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
  }
  spinSink ^= x;
}
let spinSink = 0;

function memAvailable(): number {
  return memoryFractions(parseMeminfo(readKernelText('stress', '/proc/meminfo'))).availableBytes;
}

// V8 frees a Buffer's memory only when it collects the Buffer; the mem stressor
// must give memory back at once when the host runs short, so it asks for a
// collection explicitly.
function collectGarbage(): void {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  gc();
}

async function holdMemory(options: StressOptions, stop: Stop, ready: (details: Record<string, number>) => void): Promise<void> {
  const target = Math.max(0, Math.floor(options.intensity * (memAvailable() - MEM_RESERVE_BYTES)));
  const chunks: Buffer[] = [];
  let held = 0;
  while (held + MEM_CHUNK_BYTES <= target && stop.reason === undefined) {
    if (memAvailable() - MEM_CHUNK_BYTES < MEM_FLOOR_BYTES + MEM_RESERVE_BYTES / 2) break;
    // fill touches every page, so the memory is really taken, not just reserved.
    chunks.push(Buffer.allocUnsafeSlow(MEM_CHUNK_BYTES).fill(chunks.length & 0xff));
    held += MEM_CHUNK_BYTES;
    await yieldToLoop();
  }
  if (stop.reason === undefined) ready({ heldBytes: held, targetBytes: target });
  while (stop.reason === undefined) {
    await pause(250, stop);
    // Others on the host grew: give back enough to stay clear of the floor.
    if (memAvailable() < MEM_FLOOR_BYTES && chunks.length > 0) {
      while (chunks.length > 0 && memAvailable() < MEM_FLOOR_BYTES + 512 * 1024 * 1024) {
        const drop = Math.min(chunks.length, 8);
        chunks.splice(chunks.length - drop, drop);
        held -= drop * MEM_CHUNK_BYTES;
        collectGarbage();
      }
      printError(`stress mem: MemAvailable below ${MEM_FLOOR_BYTES} bytes, now holding ${held} bytes`);
    }
  }
}

async function writeDisk(options: StressOptions, stop: Stop, ready: (details: Record<string, number>) => void, dir: string): Promise<void> {
  const chunk = Buffer.alloc(DISK_CHUNK_BYTES, 0xa5);
  let fd: number | undefined;
  let file = '';
  let inFile = 0;
  let serial = 0;
  let announced = false;
  try {
    await dutyCycle(options.intensity, stop, () => {
      if (fd === undefined) {
        file = join(dir, `stress-${serial++}.dat`);
        fd = openSync(file, 'w', 0o600);
        inFile = 0;
      }
      let off = 0;
      while (off < chunk.length) off += writeSync(fd, chunk, off);
      fsyncSync(fd);
      if (++inFile >= DISK_FILE_CHUNKS) {
        closeSync(fd);
        fd = undefined;
        unlinkSync(file);
      }
      if (!announced) {
        announced = true;
        ready({ chunkBytes: DISK_CHUNK_BYTES });
      }
    });
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

// Runs one stressor until it is told to stop; resolves with the reason it stopped.
export async function runStressor(kind: StressKind, options: StressOptions): Promise<string> {
  const stop: Stop = { reason: undefined, controller: new AbortController() };
  // Should the host run out of memory after all, the kernel kills a stressor first.
  try {
    writeFileSync('/proc/self/oom_score_adj', '1000');
  } catch (err) {
    printError(`stress ${kind}: cannot raise oom_score_adj: ${errorMessage(err)}`);
  }
  if (options.cgroup !== undefined) joinCgroup(options.cgroup);
  const problem = kind === 'disk' ? workDirectoryProblem(options.dir) : undefined;
  if (problem !== undefined) throw new Error(problem);
  // Given by calibrate: one killed while this process was still starting has already
  // left it reparented, and process.ppid read now would never change again.
  const parent = options.parent ?? process.ppid;
  const onSignal = (signal: NodeJS.Signals): void => halt(stop, signal);
  for (const s of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) process.on(s, onSignal);
  // After the handlers: a signal sent as soon as the directory appears must still remove it.
  const dir = kind === 'disk' ? mkdtempSync(join(options.dir, 'lavarank-stress-')) : undefined;
  const deadline = performance.now() + options.maxSeconds * 1000;
  // Reparented (to init or a subreaper) means calibrate died without stopping us.
  const watchdog = setInterval(() => {
    if (process.ppid !== parent) halt(stop, 'parent gone');
    else if (performance.now() > deadline) halt(stop, 'max-seconds reached');
  }, 1000);
  const ready = (details: Record<string, number> = {}): void => {
    print(JSON.stringify({ ready: true, kind, pid: process.pid, intensity: options.intensity, ...details }));
  };
  try {
    switch (kind) {
      case 'cpu':
        ready();
        await dutyCycle(options.intensity, stop, spin);
        break;
      case 'membw': {
        const a = Buffer.allocUnsafeSlow(MEMBW_BYTES).fill(1);
        const b = Buffer.allocUnsafeSlow(MEMBW_BYTES).fill(2);
        let flip = false;
        ready({ bufferBytes: MEMBW_BYTES });
        await dutyCycle(options.intensity, stop, () => {
          if (flip) a.copy(b);
          else b.copy(a);
          flip = !flip;
        });
        break;
      }
      case 'mem':
        await holdMemory(options, stop, ready);
        break;
      case 'squeeze':
        if (options.bytes === undefined) throw new Error('squeeze needs --bytes');
        await squeezeMemory(options.bytes, stop, ready);
        break;
      case 'disk':
        await writeDisk(options, stop, ready, dir!);
        break;
    }
  } finally {
    clearInterval(watchdog);
    for (const s of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) process.removeListener(s, onSignal);
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  }
  return stop.reason ?? 'done';
}

const USAGE = `Usage: node dist/src/calibration/stress.js KIND [--intensity X] [--dir DIR] [--max-seconds S]
                                               [--bytes N] [--cgroup DIR] [--parent PID]

Loads the host until stopped, for lavarank calibrate. KIND is one of:
  cpu    a busy loop on one CPU
  membw  copies between two 256 MiB buffers (memory bandwidth; also uses one CPU)
  mem    allocates and touches X * (MemAvailable - 3 GiB), then holds it; gives
         memory back whenever MemAvailable falls below 1 GiB
  squeeze  allocates --bytes and writes to every page over and over; meant to
         run in a memory cgroup smaller than that (--cgroup), with swap
  disk   1 MiB writes, each fsync'd, in a temporary directory under DIR (default
         $TMPDIR or /tmp), a new file every 64 MiB
--intensity X (0 < X <= 1, default 1) is the share of time busy, or for mem the
share of the allowed memory. --cgroup DIR moves the stressor into that cgroup
first. Prints one JSON line when at full load; stops on
SIGTERM/SIGINT/SIGHUP, when its parent exits (--parent PID: the process that
started it, even if that one was gone before the stressor started), or after
--max-seconds (default 21600), and removes its files.`;

// Runs the stressor named on the command line; returns the exit status.
export async function main(argv: string[]): Promise<number> {
  const { values: args, positionals } = parseArgs({
    args: argv,
    options: {
      intensity: { type: 'string' },
      dir: { type: 'string' },
      'max-seconds': { type: 'string' },
      bytes: { type: 'string' },
      cgroup: { type: 'string' },
      parent: { type: 'string' },
      help: { type: 'boolean' },
    },
    allowPositionals: true,
    strict: true,
  });
  if (args.help === true) {
    print(USAGE);
    return 0;
  }
  const kind = positionals[0];
  if (positionals.length !== 1 || !STRESS_KINDS.includes(kind as StressKind)) {
    printError(`stress: expected one kind among ${STRESS_KINDS.join(', ')}, received ${JSON.stringify(positionals)}`);
    return 2;
  }
  const intensity = args.intensity === undefined ? 1 : Number(args.intensity);
  if (!Number.isFinite(intensity) || intensity <= 0 || intensity > 1) {
    printError(`stress: --intensity: expected a number above 0 and at most 1, received ${JSON.stringify(args.intensity)}`);
    return 2;
  }
  const maxSeconds = args['max-seconds'] === undefined ? 21_600 : Number(args['max-seconds']);
  if (!Number.isFinite(maxSeconds) || maxSeconds <= 0) {
    printError(`stress: --max-seconds: expected a positive number, received ${JSON.stringify(args['max-seconds'])}`);
    return 2;
  }
  const bytes = args.bytes === undefined ? undefined : Number(args.bytes);
  if (bytes !== undefined && !(Number.isInteger(bytes) && bytes >= PAGE_BYTES)) {
    printError(`stress: --bytes: expected a whole number of bytes of at least ${PAGE_BYTES}, received ${JSON.stringify(args.bytes)}`);
    return 2;
  }
  const parent = args.parent === undefined ? undefined : Number(args.parent);
  if (parent !== undefined && !(Number.isInteger(parent) && parent > 0)) {
    printError(`stress: --parent: expected a process id (a whole number above 0), received ${JSON.stringify(args.parent)}`);
    return 2;
  }
  if (kind === 'squeeze' && bytes === undefined) {
    printError('stress: squeeze: --bytes is required (the memory to keep touching)');
    return 2;
  }
  try {
    await runStressor(kind as StressKind, {
      intensity,
      dir: args.dir ?? tmpdir(),
      maxSeconds,
      ...(bytes === undefined ? {} : { bytes }),
      ...(args.cgroup === undefined ? {} : { cgroup: args.cgroup }),
      ...(parent === undefined ? {} : { parent }),
    });
  } catch (err) {
    printError(`stress ${kind}: ${errorMessage(err)}`);
    return 1;
  }
  return 0;
}

await runAsProgram(import.meta.url, main);
