// The CPU quota and memory limit of the cgroup lavarank runs in, which LIM, sbatchd and
// their jobs share (a container's: docker's --cpus and --memory, compose's cpus: and
// mem_limit:, a systemd unit's CPUQuota= and MemoryMax=). /proc/stat, /proc/meminfo
// and /proc/pressure are the whole machine's there, so a container running its
// quota's worth of work looked idle. Pure parsers of /proc/self/cgroup,
// /proc/self/mountinfo and the cgroup files (cgroup v1 and v2,
// Documentation/admin-guide/cgroup-v2.rst and cgroup-v1/), and the finder of the
// limits over the cgroup and its ancestors, read at start and once a minute
// (docs/collectors.md, "cgroup limits").
import { closeSync, existsSync, readSync } from 'node:fs';
import { join } from 'node:path';
import { CollectorError, errorCode, errorReason } from '../util/errors.js';
import { scanLines } from '../util/scan-lines.js';
import { parsePressure, scanPressure, someTotalIn } from './pressure.js';
import { kernelFile, openKernelFile, readKernelTextIfPresent, unlessMissing, type KernelFile } from './procfs.js';
import { badFile, badLine, ratePerSec, toNumber, tokens } from './text.js';

// The cgroup of a process in each hierarchy: v1's by controller, v2's unified one.
export interface CgroupPaths {
  v1: Map<string, string>;
  v2?: string;
}

// Parses /proc/PID/cgroup: "hierarchy-ID:controller-list:cgroup-path" a line; the v2
// line is "0::PATH". A named v1 hierarchy (name=systemd) holds no controller.
export function parseProcCgroup(text: string, file = '/proc/self/cgroup', collector = 'cpu'): CgroupPaths {
  const out: CgroupPaths = { v1: new Map() };
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (line === '') continue;
    const first = line.indexOf(':');
    const second = first < 0 ? -1 : line.indexOf(':', first + 1);
    const path = line.slice(second + 1);
    if (second < 0 || !/^\d+$/.test(line.slice(0, first)) || !path.startsWith('/')) throw badLine(collector, file, i + 1, line, 'expected ID:controllers:/path');
    const controllers = line.slice(first + 1, second);
    if (controllers === '') out.v2 = path;
    else for (const c of controllers.split(',')) if (!c.startsWith('name=')) out.v1.set(c, path);
  }
  return out;
}

// A cgroup file system mounted in this mount namespace: where, which cgroup of its
// hierarchy is its root (a container's own under cgroup v1, or without a cgroup
// namespace), and its controllers (v1; v2 has them all in one hierarchy).
export interface CgroupMount {
  point: string;
  root: string;
  version: 1 | 2;
  controllers: string[];
}

// mountinfo escapes space, tab, newline and backslash in paths as octal (\040).
function unescapeMountPath(p: string): string {
  return p.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(parseInt(octal, 8)));
}

// The cgroup mounts of /proc/PID/mountinfo (proc(5): "ID parent major:minor root
// mount-point options [optional fields] - type source super-options"). Fields are
// split at spaces only: the kernel escapes space, tab, newline and backslash in a path
// (show_mountinfo, fs/proc_namespace.c) but writes a vertical tab, form feed, carriage
// return or no-break space as it is, and any user may name a FUSE mount point of theirs
// (fusermount) "f\vA\v-\vcgroup\vx\vcpu,memory", \v a vertical tab: split at any blank,
// that line was a cgroup hierarchy at /home/USER/f, whose files they write.
export function parseCgroupMounts(text: string, file = '/proc/self/mountinfo', collector = 'cpu'): CgroupMount[] {
  const out: CgroupMount[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const mount = parseCgroupMountLine(lines[i]!, i + 1, file, collector);
    if (mount !== undefined) out.push(mount);
  }
  return out;
}

// One line of a mountinfo file, line `number` there, as parseCgroupMounts reads it: the
// cgroup mount it describes, or undefined for another file system or an empty line.
function parseCgroupMountLine(line: string, number: number, file: string, collector: string): CgroupMount | undefined {
  const t = line.split(' ').filter((field) => field !== '');
  if (t.length === 0) return undefined;
  const dash = t.indexOf('-', 6);
  if (t.length < 7 || dash < 0 || dash + 3 > t.length) throw badLine(collector, file, number, line, 'expected the fields of proc(5)\'s mountinfo');
  const type = t[dash + 1];
  if (type !== 'cgroup' && type !== 'cgroup2') return undefined;
  const controllers = type === 'cgroup' ? (t[dash + 3] ?? '').split(',').filter((o) => CONTROLLERS.has(o)) : [];
  return { point: unescapeMountPath(t[4]!), root: unescapeMountPath(t[3]!), version: type === 'cgroup' ? 1 : 2, controllers };
}

// The v1 controllers whose files lavarank reads.
const CONTROLLERS = new Set(['cpu', 'cpuacct', 'memory']);

// The directories, in this mount namespace, of the cgroup at `path` and of each of its
// ancestors up to the mount's root, the cgroup first (no limit above that root can be
// read here: in a container it is the container's own cgroup, which holds its
// limits). undefined where the cgroup is not under the mount's root. A mount under /sys is taken under sysRoot, as the collectors take
// sysfs (tests).
export function cgroupDirs(mount: CgroupMount, path: string, sysRoot = '/sys'): string[] | undefined {
  const root = mount.root === '/' ? '' : mount.root;
  if (path !== root && !path.startsWith(`${root}/`) && root !== '') return undefined;
  const point = mount.point.startsWith('/sys/') && sysRoot !== '/sys' ? join(sysRoot, mount.point.slice(5)) : mount.point;
  const rel = path.slice(root.length).split('/').filter((p) => p !== '');
  if (rel.includes('..')) return undefined; // a cgroup outside this namespace's root
  const dirs: string[] = [];
  for (let n = rel.length; n >= 0; n--) dirs.push(join(point, ...rel.slice(0, n)));
  return dirs;
}

// A file of a directory of cgroupDirs' list (made by join: no trailing slash but at /).
// Concatenated rather than joined: path.join normalises its result character by
// character in the interpreter, about 25 µs for a cgroup's path at each look.
function fileIn(dir: string, name: string): string {
  return dir.endsWith('/') ? dir + name : `${dir}/${name}`;
}

// A cgroup v2 cpu.max: "$MAX $PERIOD", MAX "max" for none. The quota in CPUs, or
// undefined for none.
export function parseCpuMax(text: string, file = 'cpu.max'): number | undefined {
  const t = tokens(text.trim());
  const period = toNumber(t[1]);
  if (t.length !== 2 || period === undefined || !(period > 0)) throw badFile('cpu', file, `expected "$MAX $PERIOD", found "${text.trim()}"`);
  if (t[0] === 'max') return undefined;
  const max = toNumber(t[0]);
  if (max === undefined || !(max > 0)) throw badFile('cpu', file, `expected "$MAX $PERIOD", found "${text.trim()}"`);
  return max / period;
}

// A cgroup v1 cfs quota, cpu.cfs_quota_us: in µs, or undefined for none (-1). Over
// cpu.cfs_period_us (parseCfsPeriod) it is the quota in CPUs.
export function parseCfsQuota(text: string, file = 'cpu.cfs_quota_us'): number | undefined {
  const quota = toNumber(text.trim());
  if (quota === undefined) throw badFile('cpu', file, `expected a quota in µs or -1, found "${text.trim()}"`);
  return quota > 0 ? quota : undefined;
}

// A cgroup v1 cpu.cfs_period_us, in µs.
export function parseCfsPeriod(text: string, file = 'cpu.cfs_period_us'): number {
  const period = toNumber(text.trim());
  if (period === undefined || !(period > 0)) throw badFile('cpu', file, `expected a period in µs, found "${text.trim()}"`);
  return period;
}

// "key value" lines (cpu.stat, memory.stat): the values of the keys asked for,
// undefined where the file does not have them.
export function parseKeyed(text: string, keys: readonly string[], file = 'cpu.stat', collector = 'cpu'): Array<number | undefined> {
  const out: Array<number | undefined> = keys.map(() => undefined);
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const t = tokens(lines[i]!);
    if (t.length === 0) continue;
    const at = keys.indexOf(t[0]!);
    if (at < 0) continue;
    const v = toNumber(t[1]);
    if (t.length !== 2 || v === undefined || v < 0) throw badLine(collector, file, i + 1, lines[i]!, `expected "${t[0]} <count>"`);
    out[at] = v;
  }
  return out;
}

// A memory limit in bytes: v2's memory.max or memory.high ("max" for none), v1's
// memory.limit_in_bytes (none is PAGE_COUNTER_MAX pages, about 2^63 bytes). undefined
// for none, or for one of 2^60 bytes or more, which no machine has.
export function parseMemoryLimit(text: string, file = 'memory.max'): number | undefined {
  const s = text.trim();
  if (s === 'max') return undefined;
  const v = toNumber(s);
  if (v === undefined || v < 0) throw badFile('memory', file, `expected bytes or "max", found "${s}"`);
  return v >= 2 ** 60 ? undefined : v;
}

// Where the files of lavarank's own cgroup are for a controller: the directories of
// the cgroup and its ancestors (cgroupDirs), and whether the hierarchy is v1 or v2.
// v1 is taken where a v1 hierarchy holds the controller (a hybrid layout's unified
// hierarchy then holds none), else v2. undefined where neither is mounted here.
export interface CgroupPlace {
  version: 1 | 2;
  dirs: string[];
}

// The CgroupPlace of a controller (cpu, cpuacct, memory) for the cgroups of
// /proc/self/cgroup and the mounts of /proc/self/mountinfo.
export function placeOf(controller: string, paths: CgroupPaths, mounts: readonly CgroupMount[], sysRoot = '/sys'): CgroupPlace | undefined {
  const v1Path = paths.v1.get(controller);
  if (v1Path !== undefined) {
    for (const m of mounts) {
      if (m.version !== 1 || !m.controllers.includes(controller)) continue;
      const dirs = cgroupDirs(m, v1Path, sysRoot);
      if (dirs !== undefined) return { version: 1, dirs };
    }
    return undefined;
  }
  if (paths.v2 === undefined) return undefined;
  for (const m of mounts) {
    if (m.version !== 2) continue;
    const dirs = cgroupDirs(m, paths.v2, sysRoot);
    if (dirs !== undefined) return { version: 2, dirs };
  }
  return undefined;
}

// The most of a mountinfo file read: any user with fusermount adds up to mount_max
// (1000 by default) lines, each as long as they make it (below), so a file of any size;
// a host's own mounts make far less. What is past it is left unread, not an error: the
// cgroup file systems, mounted at boot or with the container, come before a user's
// mounts, and a look that failed there failed every elim's cpu and memory sample at
// start and once a minute while one user's mounts kept the file that long.
const MAX_MOUNTINFO_BYTES = 64 * 1024 * 1024;

// The longest line that is kept as a possible cgroup mount's. A cgroup file system's
// root and mount point are paths root made, of at most PATH_MAX bytes each when made
// (16 KiB escaped). A user's FUSE mount point has no bound: renaming a directory above
// it into 70 000 nested ones of 255 blanks made its line 71 MB (the escaped blanks),
// which, held whole, cost the look 5 s of string building on this VM.
const MAX_MOUNT_LINE_BYTES = 64 * 1024;

// Where a mountinfo line may be a cgroup file system's (parseCgroupMounts decides).
const CGROUP_MOUNT = / - cgroup2? /;

// The cgroup mounts of a mountinfo file (parseCgroupMounts), read a chunk at a time so
// that the other lines are never held whole, up to the first line after which enough
// (given the mounts found so far) says no later one can change what is looked for:
// the rest of the file is never read. The kernel makes a line when it is read, and
// lists a namespace's mounts in the order they were made, so a user's FUSE mounts come
// after the cgroup file systems mounted at boot: one whose point they made 71 MB long
// cost the kernel 0.8 s at each read of the whole file, and the look, which then read
// it all and failed past MAX_MOUNTINFO_BYTES, 9-11 s of the elim's time and a failed
// cpu and memory sample a minute. Lines past maxBytes are left out, not an error.
// undefined where the file does not exist.
// enoughPast: asked at each other line once a cgroup mount was found (mounts made after
// the cgroup file systems of boot): true ends the search there too.
export function readCgroupMounts(collector: string, path: string, enough: (mounts: readonly CgroupMount[]) => boolean = () => false, maxBytes = MAX_MOUNTINFO_BYTES, enoughPast: (mounts: readonly CgroupMount[]) => boolean = () => false): CgroupMount[] | undefined {
  const fd = unlessMissing(() => openKernelFile(collector, path));
  if (fd === undefined) return undefined;
  const mounts: CgroupMount[] = [];
  let number = 0; // the line's number in the file
  const read = (buffer: Buffer, length: number): number => {
    try {
      return readSync(fd, buffer, 0, length, null);
    } catch (err) {
      throw new CollectorError(collector, `cannot read ${path}: ${errorReason(err)}`, { cause: err });
    }
  };
  try {
    // A line over MAX_MOUNT_LINE_BYTES comes as undefined; true ends the search.
    scanLines(read, { maxBytes, maxLine: MAX_MOUNT_LINE_BYTES }, (line) => {
      number++;
      if (line === undefined || !CGROUP_MOUNT.test(line)) return mounts.length > 0 && enoughPast(mounts);
      const mount = parseCgroupMountLine(line, number, path, collector);
      if (mount === undefined) return false;
      mounts.push(mount);
      return enough(mounts);
    });
  } finally {
    closeSync(fd);
  }
  return mounts;
}

// Finds the places of controllers (cpu, cpuacct, memory) from /proc/self/cgroup and
// /proc/self/mountinfo under procRoot (or another process's: pid, for check's look at
// lim). /proc/self/cgroup is kept open (kernelFile) and its bytes compared with the last
// look's; mountinfo, hundreds of lines on a host with many mounts, is read and parsed
// again only when they differ (lavarank moved to another cgroup), and then only up to
// the lines that place the controllers (readCgroupMounts): a look once a minute then
// costs one read of a few hundred bytes. A cgroup file system mounted anew, with
// lavarank in the same cgroup, is not seen until then. places() throws CollectorError
// where the files do not parse; an absent file (no cgroups, a fake proc root without
// them) gives no place.
export interface PlaceFinder {
  places(): Array<CgroupPlace | undefined>;
  close(): void;
}

// A PlaceFinder for the proc and sys roots; keepOpen as kernelFile's.
export function placeFinder(collector: string, procRoot: string, sysRoot: string, controllers: readonly string[], pid = 'self', keepOpen?: (path: string) => boolean): PlaceFinder {
  const cgroupFile = kernelFile(collector, join(procRoot, pid, 'cgroup'), keepOpen);
  const mountFile = join(procRoot, pid, 'mountinfo');
  let seen: Buffer | undefined; // a copy of the bytes the places were found from
  let places: Array<CgroupPlace | undefined> = controllers.map(() => undefined);
  return {
    places() {
      const bytes = cgroupFile.bytesIfPresent();
      if (bytes !== undefined && seen !== undefined && bytes.equals(seen)) return places;
      seen = undefined;
      places = controllers.map(() => undefined);
      if (bytes === undefined) return places;
      const cgroup = Buffer.from(bytes); // the view is kernelFile's shared read buffer, which the next read of any kept file reuses
      const paths = parseProcCgroup(cgroup.toString('latin1'), cgroupFile.path, collector);
      // placeOf takes the first mount that places a controller: once each is placed (or
      // has no cgroup to place), no later line changes the places.
      const placed = (mounts: readonly CgroupMount[]): boolean =>
        controllers.every((c) => placeOf(c, paths, mounts, sysRoot) !== undefined || (!paths.v1.has(c) && paths.v2 === undefined));
      // The unified hierarchy is looked for among the cgroup file systems alone: a host
      // booted with v1 alone prints a "0::" line yet mounts none, and looking on for it
      // would read every user's mount line. The real controllers placed, a line of
      // another file system ends the search.
      const placedBut = (mounts: readonly CgroupMount[]): boolean =>
        controllers.every((c) => c === UNIFIED || placeOf(c, paths, mounts, sysRoot) !== undefined || (!paths.v1.has(c) && paths.v2 === undefined));
      const mounts = readCgroupMounts(collector, mountFile, placed, undefined, controllers.includes(UNIFIED) ? placedBut : undefined);
      if (mounts === undefined) return places;
      places = controllers.map((c) => placeOf(c, paths, mounts, sysRoot));
      seen = cgroup;
      return places;
    },
    close: cgroupFile.close,
  };
}

// The small files that hold a cgroup's limits (cpu.max, cpu.cfs_quota_us and
// cpu.cfs_period_us, memory.max, memory.high, memory.limit_in_bytes), read at each look.
export interface LimitFiles {
  // The file at path parsed by parse (a limit, or undefined for none), or undefined
  // where the file does not exist. Throws parse's errors and the read's.
  value(path: string, parse: (text: string, path: string) => number | undefined): number | undefined;
  // Closes the files not asked for since the last sweep (a cgroup left, a limit file gone).
  sweep(): void;
  close(): void;
}

// LimitFiles that open, read and parse each file at each call (check's one look at
// lim's cgroup).
export function limitFilesOnce(collector: string): LimitFiles {
  return {
    value(path, parse) {
      const text = readKernelTextIfPresent(collector, path);
      return text === undefined ? undefined : parse(text, path);
    },
    sweep: () => undefined,
    close: () => undefined,
  };
}

// LimitFiles kept open between looks, as the per-report files are (kernelFile, keepOpen):
// a look then reads each through its descriptor, one system call, and parses it again
// only where its bytes changed (docker update --cpus and systemctl set-property
// CPUQuota= rewrite it in place). A file found absent (v2's cpu.max where the parent
// has not enabled the cpu controller, memory.max at the root) is asked for with a stat
// at the next look rather than an open that fails, which costs an exception; one that
// appears (the controller enabled) is opened then. A kept file whose read fails (removed
// with its controller: ENODEV) is opened once again, so that it is found absent as an
// open would find it, without failing the reading.
export function limitFilesKept(collector: string, keepOpen?: (path: string) => boolean): LimitFiles {
  interface Kept {
    file: KernelFile;
    absent: boolean;
    bytes: Buffer | undefined; // a copy of the bytes value was parsed from
    value: number | undefined;
    asked: boolean;
  }
  const files = new Map<string, Kept>();
  const read = (kept: Kept): Buffer | undefined => {
    try {
      return kept.file.bytesIfPresent();
    } catch {
      return kept.file.bytesIfPresent(); // opened again (kernelFile closes a file whose read failed); a second failure throws
    }
  };
  return {
    value(path, parse) {
      let kept = files.get(path);
      if (kept === undefined) files.set(path, (kept = { file: kernelFile(collector, path, keepOpen), absent: false, bytes: undefined, value: undefined, asked: true }));
      kept.asked = true;
      if (kept.absent && !existsSync(path)) return undefined;
      const bytes = read(kept);
      kept.absent = bytes === undefined;
      if (bytes === undefined) {
        kept.bytes = undefined;
        return undefined;
      }
      if (kept.bytes === undefined || !bytes.equals(kept.bytes)) {
        kept.bytes = undefined; // parsed again at the next look if parse throws
        kept.value = parse(bytes.toString('latin1'), path);
        kept.bytes = Buffer.from(bytes);
      }
      return kept.value;
    },
    sweep() {
      for (const [path, kept] of files) {
        if (kept.asked) kept.asked = false;
        else {
          kept.file.close();
          files.delete(path);
        }
      }
    },
    close() {
      for (const kept of files.values()) kept.file.close();
      files.clear();
    },
  };
}

// What a CPU quota leaves a job between two reports: the smallest quota in CPUs, and
// the CPUs' worth of time its cgroup used (usage) and spent throttled (each CPU's run
// queue of the cgroup held back for want of quota: throttled_time / throttled_usec,
// summed over the CPUs, so at least one task waited there all that time), with, where
// a larger quota of an ancestor leaves a task less, the tasks that make up the
// difference counted as throttled.
export interface QuotaUse {
  cpus: number;
  used: number;
  throttled: number;
}

// The files the quota's use is read from, found with the quota.
interface QuotaFiles {
  cpus: number;
  usage: KernelFile; // v1 cpuacct.usage (ns), v2 cpu.stat (usage_usec)
  throttle: KernelFile; // v1 cpu.stat (throttled_time, ns), v2 the same cpu.stat (throttled_usec)
  version: 1 | 2;
}

// The relative path of a directory of cgroupDirs' list, under its mount point (the list's last).
function relativeOf(dirs: readonly string[], at: number): string {
  return dirs[at]!.slice(dirs[dirs.length - 1]!.length);
}

// Every CPU quota over lavarank's cgroup and its ancestors (v2 cpu.max, v1
// cpu.cfs_quota_us over cpu.cfs_period_us; places: the cpu and cpuacct ones), each with
// the files its cgroup's usage and throttling are read from, the smallest quota first;
// undefined where no level has one whose usage can be read (v1 with cpuacct mounted
// apart and the cgroup not at the same path there: that level is left out). Every
// level is kept, not only the smallest: an ancestor's larger quota that siblings share
// (a compose project's cgroup_parent, a slice's CPUQuota=) binds while the smaller
// one is idle. The quota files are read through limits (LimitFiles).
export function findQuota(places: readonly (CgroupPlace | undefined)[], keepOpen: ((path: string) => boolean) | undefined, limits: LimitFiles = limitFilesOnce('cpu')): QuotaFiles[] | undefined {
  const [cpu, acct] = places;
  if (cpu === undefined) return undefined;
  const levels: QuotaFiles[] = [];
  for (let at = 0; at < cpu.dirs.length; at++) {
    const dir = cpu.dirs[at]!;
    let cpus: number | undefined;
    if (cpu.version === 2) {
      cpus = limits.value(fileIn(dir, 'cpu.max'), parseCpuMax);
    } else {
      const quota = limits.value(fileIn(dir, 'cpu.cfs_quota_us'), parseCfsQuota);
      // No quota (-1) needs no period: a read fewer a level.
      const period = quota === undefined ? undefined : limits.value(fileIn(dir, 'cpu.cfs_period_us'), parseCfsPeriod);
      cpus = quota === undefined || period === undefined ? undefined : quota / period;
    }
    if (cpus === undefined) continue;
    const stat = kernelFile('cpu', fileIn(dir, 'cpu.stat'), keepOpen);
    if (cpu.version === 2) {
      levels.push({ cpus, usage: stat, throttle: stat, version: 2 });
      continue;
    }
    // v1: the usage is cpuacct's, at the same cgroup (the same directory where cpu and
    // cpuacct are mounted together, as systemd and docker mount them).
    const rel = relativeOf(cpu.dirs, at);
    const acctDir = acct?.dirs.find((_, i) => relativeOf(acct.dirs, i) === rel);
    if (acctDir === undefined) continue;
    levels.push({ cpus, usage: kernelFile('cpu', fileIn(acctDir, 'cpuacct.usage'), keepOpen), throttle: stat, version: 1 });
  }
  return levels.length === 0 ? undefined : levels.sort((a, b) => a.cpus - b.cpus);
}

const V2_CPU_KEYS = ['usage_usec', 'throttled_usec'] as const;
const V1_THROTTLE_KEYS = ['throttled_time'] as const;

// One reading of a quota's counters, in microseconds: usage and throttled time.
function countersOf(files: QuotaFiles): [number, number] {
  if (files.version === 2) {
    const [usage, throttled] = parseKeyed(files.usage.text(), V2_CPU_KEYS, files.usage.path);
    if (usage === undefined) throw badFile('cpu', files.usage.path, 'no usage_usec line');
    return [usage, throttled ?? 0];
  }
  const usage = toNumber(files.usage.text().trim());
  if (usage === undefined || usage < 0) throw badFile('cpu', files.usage.path, 'expected nanoseconds');
  const [throttled] = parseKeyed(files.throttle.text(), V1_THROTTLE_KEYS, files.throttle.path);
  return [usage / 1000, (throttled ?? 0) / 1000];
}

// Reads lavarank's cgroup's CPU quota and, per report where one is set, its use since
// the last report. The quota is found at the first read and again at each refresh()
// (the cpu collector's look at the affinity, once a minute): a host without one reads
// no cgroup file per report.
export interface QuotaReader {
  refresh(): void;
  read(monotonicMs: number): QuotaUse | undefined;
  close(): void;
}

// A QuotaReader for the proc and sys roots.
export function createQuotaReader(procRoot: string, sysRoot: string, keepOpen?: (path: string) => boolean): QuotaReader {
  const places = placeFinder('cpu', procRoot, sysRoot, ['cpu', 'cpuacct'], 'self', keepOpen);
  const limits = limitFilesKept('cpu', keepOpen);
  let levels: QuotaFiles[] | undefined; // the smallest quota first
  let before: Array<[number, number]> | undefined;
  let beforeMs = 0;
  const close = (): void => {
    for (const files of levels ?? []) {
      files.usage.close();
      if (files.throttle !== files.usage) files.throttle.close();
    }
    levels = undefined;
    before = undefined;
  };
  const sameFiles = (a: readonly QuotaFiles[], b: readonly QuotaFiles[]): boolean =>
    a.length === b.length && a.every((f, i) => f.usage.path === b[i]!.usage.path && f.throttle.path === b[i]!.throttle.path);
  const find = (): QuotaFiles[] | undefined => {
    try {
      return findQuota(places.places(), keepOpen, limits);
    } finally {
      limits.sweep();
    }
  };
  const refresh = (): void => {
    const found = find();
    if (found !== undefined && levels !== undefined && sameFiles(found, levels)) {
      found.forEach((f, i) => (levels![i]!.cpus = f.cpus)); // the same cgroups: their counters go on
      return;
    }
    close();
    levels = found;
  };
  let looked = false; // the first look is at the first read, so that a file that does not parse fails a reading, not the collector's creation
  return {
    refresh,
    read(monotonicMs) {
      if (!looked) {
        looked = true;
        refresh();
      }
      if (levels === undefined) return undefined;
      let now: Array<[number, number]>;
      try {
        now = levels.map(countersOf);
      } catch (err) {
        close(); // this reading fails; the next ones have no quota until the next look finds it again
        throw err;
      }
      const last = before;
      const dt = (monotonicMs - beforeMs) * 1000; // µs
      before = now;
      beforeMs = monotonicMs;
      if (last === undefined || !(dt > 0)) return undefined;
      // Each level leaves a new task Q / (T + 1) of a CPU, T its tasks that want one
      // (CPUs' worth used plus throttled); at the smallest quota Q0 the least of these
      // is Q0 / (T0 + 1) with T0 = max(Q0 × (T + 1) / Q - 1). A level throttled by an
      // ancestor is not throttled itself (its own throttled time stays), so the
      // ancestor's waiting tasks count as throttled ones of the smallest quota.
      const q0 = levels[0]!.cpus;
      let used0 = 0;
      let tasks0 = 0;
      for (let i = 0; i < levels.length; i++) {
        const used = (now[i]![0] - last[i]![0]) / dt;
        const throttled = (now[i]![1] - last[i]![1]) / dt;
        if (used < 0 || throttled < 0) return undefined; // a counter reset (the cgroup made again)
        if (i === 0) {
          used0 = used;
          tasks0 = used + throttled;
        } else tasks0 = Math.max(tasks0, (q0 * (used + throttled + 1)) / levels[i]!.cpus - 1);
      }
      return { cpus: q0, used: used0, throttled: tasks0 - used0 };
    },
    close() {
      close();
      limits.close();
      places.close();
    },
  };
}

// Reports between two looks for a memory limit: a minute at the 10 s interval, as the
// cpu collector looks again for its affinity and quota.
export const LIMITS_CHECK_EVERY = 6;

// The files a memory limit's use is read from, found with the limit.
interface MemoryFiles {
  limit: number; // bytes
  usage: KernelFile; // v2 memory.current, v1 memory.usage_in_bytes
  stat: KernelFile; // memory.stat
  // The inactive file pages (v2 inactive_file, v1 total_inactive_file: the cgroup and its
  // descendants, as usage), then the paging counters: STAT_KEYS_V1 or STAT_KEYS_V2.
  statKeys: readonly string[];
  paged?: { ms: number; counts: Array<number | undefined> }; // the last report's, for rates
  // The unified hierarchy's memory.pressure standing for this level (pressureDirOf), and
  // its "some" total (µs) at the last report, -1 before one; absent where none is read.
  pressure?: { file: KernelFile; total: number; ms: number };
}

// A pseudo-controller for placeOf: no v1 hierarchy holds it, so its place is lavarank's
// cgroup in the unified hierarchy (v2's, or a hybrid host's /sys/fs/cgroup/unified).
export const UNIFIED = 'unified';

// The unified hierarchy's directory whose pressure files stand for level `at` of a
// controller's place: the level itself on v2; on a hybrid host (v1 controllers, the
// unified hierarchy beside them, whose cpu.pressure, io.pressure and memory.pressure
// exist in every cgroup) the unified cgroup at the same path, else lavarank's own, which
// LIM and its jobs share, unless that is the hierarchy's root (the machine's pressure,
// which /proc/pressure gives). undefined where there is none.
export function pressureDirOf(place: CgroupPlace, at: number, unified: CgroupPlace | undefined): string | undefined {
  if (place.version === 2) return place.dirs[at];
  if (unified === undefined || unified.version !== 2) return undefined;
  const rel = relativeOf(place.dirs, at);
  const root = unified.dirs[unified.dirs.length - 1];
  const same = unified.dirs.find((_, i) => relativeOf(unified.dirs, i) === rel);
  if (same !== undefined && same !== root) return same;
  return unified.dirs.length > 1 ? unified.dirs[0] : undefined;
}

// Read errors of a cgroup's pressure file that mean it is gone or not kept: its cgroup
// removed (ENODEV through the kept descriptor, ENOENT at an open), PSI off for cgroups
// (cgroup.pressure 0, psi=0: EOPNOTSUPP).
const PRESSURE_GONE = new Set(['ENODEV', 'ENOENT', 'EOPNOTSUPP', 'ENOTSUP']);

// The share of the time since the last report that some task of a cgroup stalled, from
// its pressure file's "some" total; at the first report, and where the total went back
// (the cgroup made again), its avg10. Throws the read's and the parse's errors.
function pressureShareSince(p: { file: KernelFile; total: number; ms: number }, ms: number): number {
  const text = p.file.text();
  const avg10: Array<number | undefined> = [undefined, undefined];
  let total: number;
  if (scanPressure(text, avg10, 0)) total = someTotalIn(text);
  else {
    const parsed = parsePressure(text, p.file.path);
    avg10[0] = parsed.some.avg10;
    total = parsed.some.total;
  }
  const share = p.total >= 0 && total >= p.total && ms > p.ms ? (total - p.total) / ((ms - p.ms) * 1000) : avg10[0]! / 100;
  p.total = total;
  p.ms = ms;
  return share < 1 ? share : 1;
}

// memory.stat's inactive file pages, then its paging counters in PagingRates' order
// (major faults, swap-ins, swap-outs), of the cgroup and its descendants: v1 has no swap
// counts per cgroup (its swap-ins are major faults); v2 has pswpin and pswpout since
// Linux 6.12 (15ff4d409e1a).
const STAT_KEYS_V1 = ['total_inactive_file', 'total_pgmajfault'] as const;
const STAT_KEYS_V2 = ['inactive_file', 'pgmajfault', 'pswpin', 'pswpout'] as const;

// The paging of a memory limit's cgroup, pages a second; a rate is absent where
// memory.stat has no such counter, at the first report and where a counter went back.
export interface PagingRates {
  majorFaultsPerSec?: number;
  swapInPerSec?: number;
  swapOutPerSec?: number;
}

// Every memory limit over lavarank's cgroup and its ancestors (v2 memory.max and
// memory.high, where reclaim starts; v1 memory.limit_in_bytes), each with its
// cgroup's files; undefined where no level has one. Every level is kept, not only the
// smallest: an ancestor's larger limit that siblings share (a compose project's
// cgroup_parent, a slice's MemoryMax=) can be the fuller. The limit files are read
// through limits (LimitFiles).
export function findMemoryLimit(places: readonly (CgroupPlace | undefined)[], keepOpen: ((path: string) => boolean) | undefined, limits: LimitFiles = limitFilesOnce('memory')): MemoryFiles[] | undefined {
  const [memory, unified] = places;
  if (memory === undefined) return undefined;
  const read = (dir: string, file: string): number | undefined => limits.value(fileIn(dir, file), parseMemoryLimit);
  const v2 = memory.version === 2;
  const levels: MemoryFiles[] = [];
  for (let at = 0; at < memory.dirs.length; at++) {
    const dir = memory.dirs[at]!;
    let limit: number | undefined;
    if (!v2) limit = read(dir, 'memory.limit_in_bytes');
    else {
      const max = read(dir, 'memory.max');
      const high = read(dir, 'memory.high');
      limit = max === undefined ? high : high === undefined || max < high ? max : high;
    }
    if (limit === undefined) continue;
    const pressureDir = pressureDirOf(memory, at, unified);
    levels.push({
      limit,
      usage: kernelFile('memory', fileIn(dir, v2 ? 'memory.current' : 'memory.usage_in_bytes'), keepOpen),
      stat: kernelFile('memory', fileIn(dir, 'memory.stat'), keepOpen),
      statKeys: v2 ? STAT_KEYS_V2 : STAT_KEYS_V1,
      ...(pressureDir === undefined ? {} : { pressure: { file: kernelFile('memory', fileIn(pressureDir, 'memory.pressure'), keepOpen), total: -1, ms: 0 } }),
    });
  }
  return levels.length === 0 ? undefined : levels;
}

// Reads lavarank's cgroup's memory limits and, per report where one is set, the share
// of the fullest in use, less the inactive file pages reclaim takes first, as
// MemAvailable leaves them out, and the paging since the last report at monotonicMs of
// the innermost limit's cgroup (paging: absent without a rate), the jobs' own, never a
// sibling's (the containers of a compose project under a limit of its own, each a host);
// only limits below `belowBytes` (MemTotal) count. The fullest level's paging switched
// with which level was fullest: a service filling past its slice's share then read its
// own paging in place of the slice's, and without PSI a 2-CPU host whose slice's other
// services faulted 5 000 pages a second ranked 13.0 at 79 % of the service's limit and
// 7.6 at 85 % (props80, 2026-12-08); the fullest limit's share is mem_used's alone.
// The limits are found at the first read and again every LIMITS_CHECK_EVERY reads: a
// host without one reads no cgroup file per report.
export interface MemoryLimitReader {
  read(belowBytes?: number, monotonicMs?: number): MemoryLimitUse | undefined;
  close(): void;
}

// What a memory limit's reader gives: the fullest limit and its share in use, the
// innermost limit's cgroup's paging, and the share of the interval some task of a limited cgroup stalled
// on memory, from its own memory.pressure (pressureDirOf), the worst of them: PSI
// memory is the machine's, weighted over every CPU's busy time, and the backbone costs
// it as the share itself, so a container's stall is diluted there on a busy machine.
// Absent where no pressure file is read.
export interface MemoryLimitUse {
  limitBytes: number;
  usedFraction: number;
  paging?: PagingRates;
  pressureSome?: number;
}

// A MemoryLimitReader for the proc and sys roots.
export function createMemoryLimitReader(procRoot: string, sysRoot: string, keepOpen?: (path: string) => boolean): MemoryLimitReader {
  const places = placeFinder('memory', procRoot, sysRoot, ['memory', UNIFIED], 'self', keepOpen);
  const limits = limitFilesKept('memory', keepOpen);
  let levels: MemoryFiles[] | undefined;
  let since = LIMITS_CHECK_EVERY;
  const close = (): void => {
    for (const files of levels ?? []) {
      files.usage.close();
      files.stat.close();
      files.pressure?.file.close();
    }
    levels = undefined;
  };
  return {
    read(belowBytes = Infinity, monotonicMs) {
      if (++since >= LIMITS_CHECK_EVERY) {
        since = 0;
        let found: MemoryFiles[] | undefined;
        try {
          found = findMemoryLimit(places.places(), keepOpen, limits);
        } finally {
          limits.sweep();
        }
        if (found !== undefined && levels !== undefined && found.length === levels.length && found.every((f, i) => f.usage.path === levels![i]!.usage.path)) {
          found.forEach((f, i) => {
            const kept = levels![i]!;
            kept.limit = f.limit;
            // A pressure file gone since, or another one (lavarank's unified cgroup moved): the look's.
            if (kept.pressure?.file.path !== f.pressure?.file.path || kept.pressure === undefined) {
              kept.pressure?.file.close();
              if (f.pressure === undefined) delete kept.pressure;
              else kept.pressure = f.pressure;
            }
          });
        } else {
          close();
          levels = found;
        }
      }
      if (levels === undefined) return undefined;
      let fullest: MemoryLimitUse | undefined;
      let paging: PagingRates | undefined;
      let stalled: number | undefined;
      try {
        for (const files of levels) {
          if (!(files.limit < belowBytes)) {
            files.paged = undefined; // counted again later, its first rate is since then, not since now
            if (files.pressure !== undefined) files.pressure.total = -1; // and its first stall share its avg10
            continue;
          }
          if (files.pressure !== undefined && monotonicMs !== undefined) {
            try {
              const some = pressureShareSince(files.pressure, monotonicMs);
              if (stalled === undefined || some > stalled) stalled = some;
            } catch (err) {
              if (!(err instanceof CollectorError) || !PRESSURE_GONE.has(errorCode(err.cause) ?? '')) throw err;
              files.pressure.file.close(); // gone: this level's pressure is left out until the next look
              delete files.pressure;
            }
          }
          const usage = toNumber(files.usage.text().trim());
          if (usage === undefined || usage < 0) throw badFile('memory', files.usage.path, 'expected bytes');
          const [inactive, ...counts] = parseKeyed(files.stat.text(), files.statKeys, files.stat.path, 'memory');
          const used = Math.max(0, usage - (inactive ?? 0)) / files.limit;
          const usedFraction = used < 1 ? used : 1;
          // The levels go from lavarank's cgroup up: the first one counted is the innermost.
          const rates = monotonicMs === undefined ? undefined : pagingSince(files, counts, monotonicMs);
          if (fullest === undefined) paging = rates;
          if (fullest === undefined || usedFraction > fullest.usedFraction) fullest = { limitBytes: files.limit, usedFraction };
        }
      } catch (err) {
        close(); // this reading fails; the next ones have no limit until the next look finds it again
        throw err;
      }
      if (fullest !== undefined && paging !== undefined) fullest.paging = paging;
      if (fullest !== undefined && stalled !== undefined) fullest.pressureSome = stalled;
      return fullest;
    },
    close() {
      close();
      limits.close();
      places.close();
    },
  };
}

// A level's paging rates since its last report's counts, which it then keeps; undefined
// where none can be had (the first report, or no counter in its memory.stat).
function pagingSince(files: MemoryFiles, counts: Array<number | undefined>, ms: number): PagingRates | undefined {
  const last = files.paged;
  files.paged = { ms, counts };
  if (last === undefined) return undefined;
  const seconds = (ms - last.ms) / 1000;
  const rates: PagingRates = {};
  const faults = ratePerSec(counts[0], last.counts[0], seconds);
  const swapIn = ratePerSec(counts[1], last.counts[1], seconds);
  const swapOut = ratePerSec(counts[2], last.counts[2], seconds);
  if (faults !== undefined) rates.majorFaultsPerSec = faults;
  if (swapIn !== undefined) rates.swapInPerSec = swapIn;
  if (swapOut !== undefined) rates.swapOutPerSec = swapOut;
  return faults === undefined && swapIn === undefined && swapOut === undefined ? undefined : rates;
}
