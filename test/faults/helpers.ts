// Shared by the fault tests: a synthetic host whose /proc and /sys files change
// every tick and the elim's loop run on it, the built elim with child elims,
// process inspection through /proc (RSS, state, descendants), a small tmpfs, a
// seeded random source so that a failing random run can be replayed, and the
// simulated day.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, closeSync, constants, copyFileSync, existsSync, lchownSync, mkdirSync, openSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { FakeClock } from '../../src/util/clock.js';
import type { TestContext } from 'node:test';
import { mkfifo } from '../helpers.js';
import { createCollectors } from '../../src/collectors/index.js';
import { runElim, type Tick } from '../../src/daemon/elim.js';
import { seededRandom } from '../../src/util/random.js';
import { DAEMON_NODE_FLAGS } from '../../src/util/node-flags.js';
import { formulaRanker } from '../../src/model/rank.js';
import { createSampler } from '../../src/daemon/sampler.js';
import { captureLog, dirWithMode, fixture, isAlive, procStatFields, repoRoot, sleep, tempDir, until, writeWithMode } from '../helpers.js';
import { startElim, type Elim } from '../e2e/harness.js';

// Root can open any file whatever its mode, so EACCES faults need another user.
export const isRoot = process.getuid?.() === 0;

// The hostile local user of the security tests: nobody, a real unprivileged uid
// that owns nothing lavarank trusts. Acting as it needs root (setuid in the child).
export const ATTACKER = { uid: 65534, gid: 65534 } as const;
export const NEED_ROOT_FOR_ATTACKER = isRoot ? false : 'needs root to act as another user';

// A directory owned by the attacker (mode 0755) inside parent, which is opened to
// others (0755) so that the attacker can reach it, as a real $LSF_ENVDIR or /tmp is.
export function attackerDir(parent: string, name = 'attacker'): string {
  chmodSync(parent, 0o755);
  const dir = join(parent, name);
  mkdirSync(dir, { mode: 0o755 });
  chownSync(dir, ATTACKER.uid, ATTACKER.gid);
  return dir;
}

// A world-writable directory with the sticky bit, owned by root, like /tmp: anyone
// may create entries there, and only an entry's owner may replace it.
export function stickyDir(parent: string, name = 'tmp'): string {
  chmodSync(parent, 0o755);
  return dirWithMode(parent, name, 0o1777);
}

// Writes a file as the attacker would own it.
export function attackerFile(path: string, text: string, mode = 0o755): string {
  chownSync(writeWithMode(path, text, mode), ATTACKER.uid, ATTACKER.gid);
  return path;
}

// Runs a command as the attacker, to completion; throws if it fails.
export function asAttacker(file: string, args: string[]): void {
  const r = spawnSync(file, args, { uid: ATTACKER.uid, gid: ATTACKER.gid, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${file} ${args.join(' ')} as uid ${ATTACKER.uid}: ${r.status ?? r.signal} ${r.stderr}`);
}

// The attacker swapping the symbolic link `link` between targets as fast as it can
// (test/fixtures/bin/swap-link, run as the attacker) until stop(), which says how
// many swaps it made. ready() resolves once it is swapping: a test's fixed-length
// race must not begin while Node is still starting it (seconds, on a loaded host).
export class LinkSwapper {
  private readonly child: ChildProcess;
  private out = '';
  private readonly closed: Promise<unknown>;
  constructor(link: string, targets: readonly string[]) {
    symlinkAs(targets[0]!, link);
    this.child = spawn(process.execPath, [fixture('bin', 'swap-link'), link, ...targets], {
      uid: ATTACKER.uid,
      gid: ATTACKER.gid,
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    this.child.stdout!.on('data', (d: Buffer) => (this.out += d.toString()));
    // 'close', not 'exit': 'exit' may come before the last of stdout has been read,
    // and the count the swapper prints as it ends would then read as '' (0 swaps).
    this.closed = new Promise((resolve) => this.child.once('close', resolve));
  }
  async ready(timeoutMs = 30_000): Promise<void> {
    const swapping = await until('the link swapper swapping', () => (this.out.startsWith('swapping\n') ? true : this.child.exitCode !== null ? false : undefined), timeoutMs);
    if (!swapping) throw new Error(`the link swapper exited before swapping: ${JSON.stringify(this.out)}`);
  }
  async stop(): Promise<number> {
    this.child.kill('SIGTERM');
    await this.closed;
    const m = /(?:^|\n)(\d+)\n$/.exec(this.out);
    if (m === null) throw new Error(`swap-link ended without its count of swaps: ${JSON.stringify(this.out)}`);
    return Number(m[1]);
  }
}

// The attacker's own link dir/tmp/<name> (tmp like /tmp), swapped between root's `good` and their own file `evil`.
export function attackerSwap(dir: string, name: string, good: string, evil: { name: string; text: string; mode?: number }): { link: string; swapper: LinkSwapper } {
  const own = attackerFile(join(attackerDir(dir), evil.name), evil.text, evil.mode);
  const link = join(stickyDir(dir), name);
  return { link, swapper: new LinkSwapper(link, [good, own]) };
}

// A symbolic link owned by the attacker.
export function symlinkAs(target: string, link: string): void {
  symlinkSync(target, link);
  lchownSync(link, ATTACKER.uid, ATTACKER.gid);
}

// A deterministic random source (mulberry32), so a failing run can be replayed from its seed.
export const random = seededRandom;

// The seed of this run: $LAVARANK_FAULT_SEED to replay one, else a fresh one.
export function runSeed(): number {
  const fromEnv = Number(process.env['LAVARANK_FAULT_SEED']);
  return Number.isInteger(fromEnv) && fromEnv > 0 ? fromEnv : Math.floor(Math.random() * 2 ** 31) + 1;
}

// A count from the environment (for longer runs by hand), else the CI default.
export function envCount(name: string, fallback: number): number {
  const n = Number(process.env[name]);
  return Number.isInteger(n) && n > 0 ? n : fallback;
}

// Writes a file, creating its directory.
export function put(path: string, text: string | Buffer): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, text);
}

// What a synthetic host is doing; every counter only grows unless a test says otherwise.
export interface HostState {
  cpus: number; // online CPUs
  jiffies: number[][]; // per CPU: user nice system idle iowait irq softirq steal
  processes: number;
  load1: number;
  running: number;
  memTotalKb: number;
  memAvailableKb: number;
  vm: { pswpin: number; pswpout: number; pgmajfault: number };
  disk: { readSectors: number; writeSectors: number; ioTicksMs: number };
  net: { rx: number; tx: number };
  psi: number; // avg10 percent, used for all three files
}

// A fake host in a directory: proc/ and sys/ trees in the kernel's formats, rewritten
// from `state` by write(). tick() advances the counters as a host at `busy` would.
export class SyntheticHost {
  readonly procRoot: string;
  readonly sysRoot: string;
  readonly state: HostState;
  readonly frozen = new Set<string>(); // files write() leaves alone: a test owns them
  constructor(readonly root: string, cpus = 4) {
    this.procRoot = join(root, 'proc');
    this.sysRoot = join(root, 'sys');
    this.state = {
      cpus,
      jiffies: Array.from({ length: cpus }, () => [1000, 0, 500, 100_000, 10, 0, 5, 0]),
      processes: 5000,
      load1: 0.5,
      running: 2,
      memTotalKb: 16 * 1024 * 1024,
      memAvailableKb: 12 * 1024 * 1024,
      vm: { pswpin: 0, pswpout: 0, pgmajfault: 100 },
      disk: { readSectors: 1000, writeSectors: 1000, ioTicksMs: 100 },
      net: { rx: 1_000_000, tx: 1_000_000 },
      psi: 1,
    };
    put(join(this.sysRoot, 'block/sda/device'), '');
    put(join(this.sysRoot, 'block/sda/removable'), '0\n');
    put(join(this.sysRoot, 'class/net/eth0/device'), '');
    put(join(this.sysRoot, 'class/net/eth0/speed'), '10000\n');
    this.write();
  }

  // Advances every counter by `seconds` of a host whose CPUs are `busy` (0..1) busy.
  tick(seconds: number, busy: number): void {
    const s = this.state;
    const hz = 100 * seconds;
    for (const cpu of s.jiffies) {
      cpu[0]! += Math.round(hz * busy * 0.8);
      cpu[2]! += Math.round(hz * busy * 0.2);
      cpu[3]! += Math.round(hz * (1 - busy));
    }
    s.processes += 3;
    s.load1 = busy * s.cpus;
    s.running = Math.round(busy * s.cpus) + 1;
    s.memAvailableKb = Math.round(s.memTotalKb * (0.9 - 0.5 * busy));
    s.vm.pgmajfault += 2;
    s.disk.readSectors += Math.round(1000 * seconds);
    s.disk.writeSectors += Math.round(2000 * seconds);
    s.disk.ioTicksMs += Math.round(100 * seconds * busy);
    s.net.rx += Math.round(1e6 * seconds);
    s.net.tx += Math.round(5e5 * seconds);
    s.psi = Math.round(busy * 5000) / 100;
  }

  // Changes the number of online CPUs, as `echo 0 > /sys/devices/system/cpu/cpuN/online` does.
  setOnline(cpus: number): void {
    const s = this.state;
    while (s.jiffies.length < cpus) s.jiffies.push([0, 0, 0, 0, 0, 0, 0, 0]);
    s.jiffies.length = cpus;
    s.cpus = cpus;
  }

  // The files of the tree, rendered from the state, by path under the root.
  render(): Record<string, string> {
    const s = this.state;
    const total = [0, 0, 0, 0, 0, 0, 0, 0];
    for (const cpu of s.jiffies) cpu.forEach((v, i) => (total[i]! += v));
    const stat = [
      `cpu  ${total.join(' ')} 0 0`,
      ...s.jiffies.map((cpu, i) => `cpu${i} ${cpu.join(' ')} 0 0`),
      'intr 0',
      'ctxt 1000',
      `processes ${s.processes}`,
      'procs_running 1',
      '',
    ].join('\n');
    const kb = (name: string, v: number): string => `${`${name}:`.padEnd(16)}${String(v).padStart(8)} kB`;
    const meminfo = [
      kb('MemTotal', s.memTotalKb),
      kb('MemFree', Math.round(s.memAvailableKb / 2)),
      kb('MemAvailable', s.memAvailableKb),
      kb('Buffers', 1000),
      kb('Cached', 100_000),
      kb('SwapTotal', 0),
      kb('SwapFree', 0),
      '',
    ].join('\n');
    const d = s.disk;
    const psi = (full: boolean): string =>
      `some avg10=${s.psi.toFixed(2)} avg60=0.00 avg300=0.00 total=1000\n` + (full ? 'full avg10=0.00 avg60=0.00 avg300=0.00 total=0\n' : '');
    return {
      'proc/stat': stat,
      'proc/loadavg': `${s.load1.toFixed(2)} 0.40 0.30 ${s.running}/300 12345\n`,
      'proc/meminfo': meminfo,
      'proc/vmstat': `pswpin ${s.vm.pswpin}\npswpout ${s.vm.pswpout}\npgmajfault ${s.vm.pgmajfault}\n`,
      'proc/diskstats': `   8       0 sda 100 0 ${d.readSectors} 50 200 0 ${d.writeSectors} 80 0 ${d.ioTicksMs} 130 0 0 0 0 0 0\n`,
      'proc/net/dev':
        'Inter-|   Receive                                                |  Transmit\n' +
        ' face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed\n' +
        `    lo:    3193      29    0    0    0     0          0         0     3193      29    0    0    0     0       0          0\n` +
        `  eth0: ${s.net.rx} 5992 0 0 0 0 0 0 ${s.net.tx} 4056 0 0 0 0 0 0\n`,
      'proc/pressure/cpu': psi(true),
      'proc/pressure/memory': psi(true),
      'proc/pressure/io': psi(true),
      'sys/devices/system/cpu/online': s.cpus === 1 ? '0\n' : `0-${s.cpus - 1}\n`,
    };
  }

  // Writes every file from the state, except the frozen ones.
  write(): void {
    for (const [path, text] of Object.entries(this.render())) if (!this.frozen.has(path)) put(join(this.root, path), text);
  }

  // Puts a fault in place of a file (see FAULTS); returns what undoes it.
  break(rel: string, fault: FileFault): () => void {
    const path = this.path(rel);
    const text = this.render()[rel] ?? '';
    this.frozen.add(rel);
    rmSync(path, { recursive: true, force: true });
    const undo = fault.apply(path, text);
    return () => {
      undo?.();
      rmSync(path, { recursive: true, force: true });
      this.frozen.delete(rel);
      this.write();
    };
  }

  // Absolute path of a file of the tree, e.g. path('proc/stat').
  path(rel: string): string {
    return join(this.root, rel);
  }
}

// What runOnHost saw: each tick, the monotonic time it was reported at, and the log.
export interface HostRun {
  ticks: Tick[];
  mono: number[];
  messages: string[];
}

// runElim with the real collectors and sampler on a synthetic host, the formula
// ranker and a fake clock: `ticks` reports 10 s apart, the host at 50 % CPU.
// afterTick(seq) runs after report seq, once the host has advanced and before its
// files are written, to change what the next sample reads.
export async function runOnHost(
  host: SyntheticHost,
  o: { ticks: number; pessimisticRank?: number; afterTick?: (seq: number, clock: FakeClock) => void },
): Promise<HostRun> {
  const clock = new FakeClock();
  const cap = captureLog();
  const run: HostRun = { ticks: [], mono: [], messages: [] };
  await runElim({
    sampler: createSampler({ collectors: createCollectors({ procRoot: host.procRoot, sysRoot: host.sysRoot, gpu: { enabled: false } }), clock, log: cap.log }),
    rankers: { current: () => formulaRanker() },
    out: { write: () => 'written' },
    log: cap.log,
    clock,
    signal: new AbortController().signal,
    resource: 'rank',
    intervalMs: 10_000,
    pessimisticAfter: 3,
    pessimisticRank: o.pessimisticRank ?? 1000,
    maxTicks: o.ticks,
    onTick: (tick) => {
      run.ticks.push(tick);
      run.mono.push(clock.monotonic());
      host.tick(10, 0.5);
      o.afterTick?.(tick.seq, clock);
      host.write();
    },
  });
  run.messages = cap.messages();
  return run;
}

export { mkfifo };

// One way a kernel file can be broken; apply() finds the path removed and may return
// an undo of its own (closing a descriptor it holds).
export interface FileFault {
  name: string;
  apply(path: string, text: string): (() => void) | void;
}

// The faults of a /proc or /sys file, each as a test would put it in place.
export const FAULTS: readonly FileFault[] = [
  { name: 'missing', apply: () => undefined },
  // Root reads any file whatever its mode; a directory in its place fails for everyone (EISDIR).
  { name: 'unreadable (a directory)', apply: (path) => void mkdirSync(path) },
  ...(isRoot
    ? []
    : [{ name: 'unreadable (mode 000)', apply: (path: string, text: string) => void writeFileSync(path, text, { mode: 0o000 }) }]),
  { name: 'empty', apply: (path) => void writeFileSync(path, '') },
  { name: 'truncated', apply: (path, text) => void writeFileSync(path, text.slice(0, Math.min(10, Math.floor(text.length / 2)))) },
  { name: 'garbage', apply: (path) => void writeFileSync(path, Buffer.from('\x00\x01\xff\xfe garbage \u00bf?\n\x7f\x80 1e999 NaN -Infinity\n', 'latin1')) },
  { name: 'a FIFO nobody writes (a read would hang)', apply: (path) => mkfifo(path) },
  {
    name: 'a FIFO whose writer never writes (a read would hang)',
    apply: (path) => {
      mkfifo(path);
      const fd = openSync(path, constants.O_RDWR); // a writer that holds it open; O_RDWR never blocks
      return () => closeSync(fd);
    },
  },
];

// Copies a fixture elim into dir with mode 0755, so the trust check passes whatever
// umask the checkout was made with; returns its path.
export function installElim(dir: string, name: string, as = `elim.${name}`): string {
  const path = join(dir, as);
  copyFileSync(fixture('elims', name), path);
  chmodSync(path, 0o755);
  return path;
}

// The built elim with the `elims:` config elims(dir) gives, dir a temp dir for child elims that its cleanup() removes.
export function startWithChildren(elims: (dir: string) => string, testInterval = 0.2): Elim {
  const { dir, cleanup } = tempDir('lavarank-children-');
  const elim = startElim({ testInterval, config: elims(dir) });
  const end = elim.cleanup;
  elim.cleanup = async () => {
    await end();
    cleanup();
  };
  return elim;
}

// The built elim with one child elim, test/fixtures/elims/<name>, reporting as `name`.
export function startWithChild(name: string, testInterval = 0.2): Elim {
  return startWithChildren((dir) => `elims:\n  - name: ${name}\n    command: [${installElim(dir, name)}]\n`, testInterval);
}

// Copies a fixture program into dir under a name of our choosing (nvidia-smi, lspci).
export function installBin(dir: string, name: string, as: string): string {
  mkdirSync(dir, { recursive: true });
  const path = join(dir, as);
  copyFileSync(fixture('bin', name), path);
  chmodSync(path, 0o755);
  return path;
}

export { isAlive, sleep, until };

// VmRSS of a process in KiB, from /proc/<pid>/status.
export function vmRssKb(pid: number): number | undefined {
  try {
    const m = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m === null ? undefined : Number(m[1]);
  } catch {
    return undefined;
  }
}

// A process seen below the watched one: its pid and start time (pids are reused).
export interface SeenProcess {
  pid: number;
  parent: number;
  start: string;
  comm: string;
}

// Polls /proc and records every process descended from root while it runs, so that
// after root exits the test can check that none of them outlived it (an orphan is
// reparented, so it can no longer be found from root afterwards).
export class DescendantWatch {
  private readonly seen = new Map<string, SeenProcess>();
  private readonly timer: NodeJS.Timeout;
  constructor(private readonly root: number, everyMs = 20) {
    this.timer = setInterval(() => this.poll(), everyMs);
    this.poll();
  }

  // Walks /proc/<pid>/task/<tid>/children from root down: cheap enough to poll often.
  poll(): void {
    const queue = [this.root];
    while (queue.length > 0) {
      const pid = queue.shift()!;
      let tasks: string[];
      try {
        tasks = readdirSync(`/proc/${pid}/task`);
      } catch {
        continue; // gone meanwhile
      }
      for (const tid of tasks) {
        let kids: string;
        try {
          kids = readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8');
        } catch {
          continue;
        }
        for (const kid of kids.split(' ').filter((k) => k !== '').map(Number)) {
          const f = procStatFields(kid);
          if (f === undefined) continue;
          let comm = '';
          try {
            comm = readFileSync(`/proc/${kid}/comm`, 'utf8').trim();
          } catch {
            // gone meanwhile
          }
          this.seen.set(`${kid}:${f[19]}`, { pid: kid, parent: pid, start: f[19] ?? '', comm });
          queue.push(kid);
        }
      }
    }
  }

  stop(): void {
    clearInterval(this.timer);
  }

  // Every descendant seen so far.
  all(): SeenProcess[] {
    return [...this.seen.values()];
  }

  // Direct children of root seen so far.
  children(): SeenProcess[] {
    return this.all().filter((p) => p.parent === this.root);
  }

  // Those of `among` still running (same pid and start time, not a zombie).
  static survivors(among: SeenProcess[]): SeenProcess[] {
    return among.filter((p) => {
      const f = procStatFields(p.pid);
      return f !== undefined && f[19] === p.start && f[0] !== 'Z' && f[0] !== 'X';
    });
  }

  // Those of `among` still running once graceMs have passed, or none sooner. A process
  // SIGKILLed a moment ago ends only when it next gets a CPU, which on a loaded host
  // (and at the nice 10 the elim's children inherit) can take longer than a fixed
  // 100 ms; a process left behind runs on, and is still there at the end.
  static async survivorsAfter(among: SeenProcess[], graceMs = 5000): Promise<SeenProcess[]> {
    const deadline = Date.now() + graceMs;
    let left = DescendantWatch.survivors(among);
    while (left.length > 0 && Date.now() < deadline) {
      await sleep(25);
      left = DescendantWatch.survivors(among);
    }
    return left;
  }
}

// A tmpfs of `bytes` mounted on dir/name, or undefined when mounting is not permitted.
export interface SmallDisk {
  path: string;
  readOnly(on: boolean): void; // fails (EBUSY) while a file on it is open for writing
  unmount(): void;
}

// Mounts a small tmpfs for full-disk faults (needs root).
export function mountTmpfs(dir: string, bytes: number, name = 'disk'): SmallDisk | undefined {
  const path = join(dir, name);
  mkdirSync(path, { recursive: true });
  const r = spawnSync('mount', ['-t', 'tmpfs', '-o', `size=${bytes},mode=0755`, 'tmpfs', path]);
  if (r.status !== 0) return undefined;
  return {
    path,
    readOnly: (on) => {
      const r = spawnSync('mount', ['-o', `remount,${on ? 'ro' : 'rw'}`, path]);
      if (r.status !== 0) throw new Error(`remount ${on ? 'ro' : 'rw'} ${path}: ${r.stderr.toString()}`);
    },
    unmount: () => void spawnSync('umount', ['-l', path]),
  };
}

// A small tmpfs (mountTmpfs) in a temporary directory of its own, for one test: unmounted
// and the directory removed after the test, its own finally (which stops what writes
// there) included.
export function smallDisk(t: TestContext, bytes: number): { dir: string; disk: SmallDisk } {
  const { dir, cleanup } = tempDir('lavarank-disk-');
  const disk = mountTmpfs(dir, bytes);
  t.after(() => {
    disk?.unmount();
    cleanup();
  });
  if (disk === undefined) throw new Error(`cannot mount a tmpfs of ${bytes} bytes under ${dir}`);
  return { dir, disk };
}

// Whether this process may mount a tmpfs (root, outside a locked-down container).
export const canMount: boolean = (() => {
  if (!isRoot) return false;
  const dir = join('/tmp', `lavarank-mount-probe-${process.pid}`);
  try {
    const disk = mountTmpfs(dir, 65536);
    disk?.unmount();
    return disk !== undefined;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
})();

// Lines of a file that do not parse as JSON, except a last line without newline
// (a write cut short by a kill), which the history reader skips by design.
export function badJsonLines(path: string): string[] {
  if (!existsSync(path)) return [];
  const text = readFileSync(path, 'utf8');
  const lines = text.split('\n');
  lines.pop(); // '' when the file ends with a newline, else a torn line
  return lines.filter((line) => {
    try {
      JSON.parse(line);
      return false;
    } catch {
      return true;
    }
  });
}

/** What soak-sim.ts prints: memory after a forced GC at the end of every simulated hour. */
export interface SimulatedDay {
  ticks: number;
  written: number;
  wallSeconds: number;
  cpuSeconds: number;
  heapGrowthFromHour1: number;
  rssGrowthFromHour1: number;
  heapGrowthFromHour4: number;
  rssGrowthFromHour4: number;
  externalGrowthFromHour4: number;
  historyLines: number;
  historyDropped: number;
  modelReloads: number;
  modelSwitches: number;
  points: Array<{ hour: number; heapUsed: number; rss: number; external: number; codeSpace: number }>;
}

/**
 * The simulated day (soak-sim.ts) in a process of its own, with forced GC and the
 * Node options the installed elim runs with: V8's optimising compiler, which the
 * daemon goes without, would keep adding code for hours at this speed.
 */
export function runSimulatedDay(ticks: number): SimulatedDay {
  const r = spawnSync(process.execPath, ['--expose-gc', ...DAEMON_NODE_FLAGS, join(repoRoot, 'dist', 'test', 'faults', 'soak-sim.js'), String(ticks)], {
    encoding: 'utf8',
    timeout: 600_000,
    maxBuffer: 16 * 1024 * 1024,
  });
  if (r.status !== 0) throw new Error(`soak-sim exited ${r.status ?? r.signal}: ${r.stderr}`);
  return JSON.parse(r.stdout) as SimulatedDay;
}

// A root-mounted FUSE file system on dir that answers attribute requests and never a
// statfs, or (hung 'opendir') never an open of a directory (test/fixtures/fuse-statfs-hang.mjs),
// as an NFS server gone while its attributes are still cached: the pool's stat and the
// walk's lstat are answered, a statfs or a directory's open is asked of the server every time;
// 'main' answers libuv's pool and never a main thread, 'none' answers INIT and then reads
// every request and answers none, mounted for uid 1003 as a user's server would be; 'slow'
// answers everything 20 ms late, any name a directory, each attribute asked of it again;
// 'file' answers as 'main' does, every name there a regular file of root's it will not open;
// 'theirs' is a user's mount shown as theirs that never answers a statfs; 'silent' answers
// nothing, not even INIT; 'drip' makes every name a 64 KiB file whose reads are each
// answered 250 ms late with 4 KiB. The handle is test/fixtures/fuse-mount.mjs, which takes the
// mount and the server down when unmountFuse closes its stdin or this process dies.
export async function fuseHangOver(dir: string, hung: 'statfs' | 'opendir' | 'main' | 'file' | 'exec' | 'none' | 'slow' | 'theirs' | 'silent' | 'drip' = 'statfs'): Promise<ChildProcess> {
  // In a session of its own: a kill of the test's process group (a harness's timeout)
  // killed the servers and left their mounts, 27 after one loaded run.
  const mount = spawn(process.execPath, [fixture('fuse-mount.mjs'), dir, hung], { stdio: ['pipe', 'pipe', 'inherit'], detached: true });
  let out = '';
  mount.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  fuseOutput.set(mount, () => out);
  try {
    const up = await until('the FUSE server mounted', () => out.includes('mounted') || (mount.exitCode !== null ? false : undefined));
    if (!up) throw new Error(`the FUSE mount on ${dir} failed (exit ${mount.exitCode})`);
  } catch (err) {
    mount.stdin?.end();
    throw err;
  }
  return mount;
}

const fuseOutput = new WeakMap<ChildProcess, () => string>();

// Ends the server of a fuseHangOver mount and keeps the mount: the requests it holds fail
// (ENOTCONN) and the threads waiting in them return.
export async function killFuseServer(mount: ChildProcess): Promise<void> {
  mount.kill('SIGUSR2'); // not SIGUSR1, which Node keeps for its inspector
  await until('the FUSE server ended', () => (fuseOutput.get(mount)?.().includes('server ended') === true ? true : undefined));
}

// Ends a FUSE server of fuseHangOver and its mount: killing the server closes /dev/fuse, so
// that a request it holds fails and the thread waiting in it returns; then a lazy unmount.
export async function unmountFuse(server: ChildProcess | undefined, mount: string): Promise<void> {
  if (server !== undefined && server.exitCode === null && server.signalCode === null) {
    const ended = new Promise((resolve) => server.on('exit', resolve));
    server.stdin?.end();
    await Promise.race([ended, sleep(10_000)]);
  }
  if (readFileSync('/proc/self/mountinfo', 'utf8').split('\n').some((l) => l.split(' ')[4] === mount)) spawnSync('umount', ['-l', mount]);
}
