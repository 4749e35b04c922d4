// The memory squeeze of calibration: a memory cgroup, made under calibrate's own,
// whose limit is smaller than what the squeeze stressor and the probe touch, so
// that with swap they page against each other as on a host whose memory is
// overcommitted, while the rest of the machine (shared with others) is not
// squeezed. Needs root, a memory controller calibrate may create a child under
// (cgroup v1's memory hierarchy or v2 with memory delegated), and swap: a swap file
// calibrate may set up when told to (--swap-file). What a host lacks is said, and
// the squeeze blocks are left out of the plan.
import { closeSync, constants, fsyncSync, mkdirSync, openSync, readFileSync, rmSync, rmdirSync, writeFileSync, writeSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { readCgroupMounts, type CgroupMount } from '../collectors/cgroup.js';
import type { MemoryReading } from '../collectors/types.js';
import { errorCode, errorMessage, errorReason } from '../util/errors.js';
import { absolutePath, findExecutable, runCommand } from '../util/exec.js';
import { existingDirectoryProblems } from '../util/trust.js';
import { NO_LOG_GROUP } from './workdir.js';

// Moves the calling process into a cgroup (v1 or v2: both take a pid in cgroup.procs),
// before it allocates anything, so that all of its memory is charged there.
export function joinCgroup(dir: string): void {
  writeFileSync(join(dir, 'cgroup.procs'), `${process.pid}\n`);
}

// Where a child memory cgroup can be made: the process's own memory cgroup directory.
export type MemoryCgroup = { kind: 'v1' | 'v2'; parent: string } | { why: string };

// Finds the process's memory cgroup from /proc/self/cgroup's text and the cgroup mounts
// of /proc/self/mountinfo (parsed by the collectors' parseCgroupMounts/readCgroupMounts,
// so that calibrate reads mount paths as the elim does: unescaped, and never a user's
// line held whole). cgroup v1 lists "N:memory:/path" (controllers may be comma-joined);
// v2 has "0::/path" and the memory controller must be listed in that cgroup's controllers.
export function findMemoryCgroup(selfCgroup: string, mounts: readonly CgroupMount[], readControllers: (dir: string) => string | undefined): MemoryCgroup {
  const within = (mount: CgroupMount, path: string): string =>
    join(mount.point, mount.root === '/' || !path.startsWith(mount.root) ? path : path.slice(mount.root.length));
  let v2Path: string | undefined;
  for (const line of selfCgroup.split('\n')) {
    const m = /^(\d+):([^:]*):(.*)$/.exec(line.trim());
    if (m === null) continue;
    const [, id, controllers, path] = m as unknown as [string, string, string, string];
    if (id === '0' && controllers === '') v2Path = path;
    else if (controllers.split(',').includes('memory')) {
      const mount = mounts.find((x) => x.version === 1 && x.controllers.includes('memory'));
      if (mount === undefined) return { why: 'the memory cgroup (v1) is listed in /proc/self/cgroup but not mounted' };
      return { kind: 'v1', parent: within(mount, path) };
    }
  }
  if (v2Path === undefined) return { why: 'no memory cgroup: neither a v1 memory hierarchy nor cgroup v2 in /proc/self/cgroup' };
  const mount = mounts.find((x) => x.version === 2);
  if (mount === undefined) return { why: 'cgroup v2 is listed in /proc/self/cgroup but not mounted' };
  const parent = within(mount, v2Path);
  const controllers = readControllers(parent);
  if (controllers === undefined || !controllers.split(/\s+/).includes('memory')) {
    return { why: `cgroup v2 at ${parent} does not offer the memory controller (cgroup.controllers: ${JSON.stringify(controllers?.trim() ?? 'unreadable')})` };
  }
  return { kind: 'v2', parent };
}

// The process's memory cgroup on this host.
export function ownMemoryCgroup(): MemoryCgroup {
  try {
    return findMemoryCgroup(readFileSync('/proc/self/cgroup', 'utf8'), readCgroupMounts('calibrate', '/proc/self/mountinfo') ?? [], (dir) => {
      try {
        return readFileSync(join(dir, 'cgroup.controllers'), 'utf8');
      } catch {
        return undefined;
      }
    });
  } catch (err) {
    return { why: `cannot read /proc/self/cgroup or mountinfo: ${errorMessage(err)}` };
  }
}

// A child memory cgroup with a hard limit, made for the squeeze blocks.
export interface SqueezeCgroup {
  kind: 'v1' | 'v2';
  dir: string;
  limitBytes: number;
}

// Makes the child cgroup and sets its limit; throws with the file and the reason.
export function createSqueezeCgroup(where: { kind: 'v1' | 'v2'; parent: string }, name: string, limitBytes: number): SqueezeCgroup {
  const dir = join(where.parent, name);
  mkdirSync(dir);
  try {
    if (where.kind === 'v1') writeFileSync(join(dir, 'memory.limit_in_bytes'), String(limitBytes));
    else writeFileSync(join(dir, 'memory.max'), String(limitBytes));
  } catch (err) {
    removeCgroup(dir);
    throw new Error(`cannot set the memory limit of ${dir}: ${errorReason(err)}`, { cause: err });
  }
  return { kind: where.kind, dir, limitBytes };
}

// Removes an empty cgroup directory (every process in it has exited); false if it cannot.
export function removeCgroup(dir: string): boolean {
  try {
    rmdirSync(dir);
    return true;
  } catch (err) {
    return errorCode(err) === 'ENOENT';
  }
}

// The memory a cgroup uses and how much of it is reclaimable page cache, from its files.
export function cgroupMemoryUse(c: SqueezeCgroup): { usageBytes: number; inactiveFileBytes: number } {
  const read = (file: string): string => readFileSync(join(c.dir, file), 'utf8');
  const usageBytes = Number(read(c.kind === 'v1' ? 'memory.usage_in_bytes' : 'memory.current').trim());
  const stat = read('memory.stat');
  const key = c.kind === 'v1' ? 'total_inactive_file' : 'inactive_file';
  const m = new RegExp(`^${key} (\\d+)$`, 'm').exec(stat);
  return { usageBytes, inactiveFileBytes: m === null ? 0 : Number(m[1]) };
}

// The memory reading of a host whose memory is the cgroup's limit: what the daemon
// would see on a host that small with that much in use. Rates (swap, faults) stay
// the host's: all the paging there is comes from the squeeze.
export function squeezedMemory(host: MemoryReading, use: { usageBytes: number; inactiveFileBytes: number }, limitBytes: number): MemoryReading {
  const availableBytes = Math.max(0, Math.min(limitBytes, limitBytes - use.usageBytes + use.inactiveFileBytes));
  return { ...host, totalBytes: limitBytes, availableBytes, usedFraction: 1 - availableBytes / limitBytes };
}

// Swap space from /proc/meminfo text, in bytes.
export function swapTotalBytes(meminfo: string): number {
  const m = /^SwapTotal:\s+(\d+) kB$/m.exec(meminfo);
  return m === null ? 0 : Number(m[1]) * 1024;
}

// A system tool by absolute path, found on PATH's absolute entries that only root can
// change (absolutePath): an empty or relative entry names the working directory,
// which may be another user's (/tmp), and a directory others can write holds theirs.
function systemTool(name: string): string {
  const found = findExecutable(name, absolutePath(process.env['PATH']));
  if (found === undefined) throw new Error(`${name} not found on PATH's absolute entries (${process.env['PATH'] ?? ''})`);
  return found;
}

// Makes and enables a swap file (zero-filled, mode 0600, mkswap, swapon); throws
// with the step that failed. Undone by disableSwapFile. Root fills the file, formats
// it and hands it to the kernel by its path, so no one else may be able to replace
// it there: in another user's directory they could swap the file for a link to any
// file between those steps, and root would overwrite it. A sticky directory (/tmp)
// is accepted: its sticky bit keeps others from renaming or removing root's file,
// and O_EXCL | O_NOFOLLOW refuses a name they made first (existingDirectoryProblems).
// A directory the syslog group may write, which the log's may be, is refused: a member
// renamed root's file in a root:syslog 0775 directory during the fill and linked a
// root-only file at its name, and mkswap wrote its signature over that file's first page.
export async function enableSwapFile(path: string, bytes: number, signal: AbortSignal): Promise<void> {
  const problems = existingDirectoryProblems(dirname(resolve(path)), 'swap file directory', NO_LOG_GROUP);
  if (problems.length > 0) throw new Error(`--swap-file ${path}: ${problems.join('; ')}`);
  const tools = { mkswap: systemTool('mkswap'), swapon: systemTool('swapon') };
  const chunk = Buffer.alloc(1024 * 1024);
  // Written, not fallocate'd: swapon refuses files with holes on several filesystems.
  const fd = openSync(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
  try {
    for (let done = 0; done < bytes; done += chunk.length) {
      for (let off = 0; off < chunk.length; ) off += writeSync(fd, chunk, off);
    }
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  for (const [file, args] of [
    [tools.mkswap, [path]],
    [tools.swapon, [path]],
  ] as const) {
    const r = await runCommand(file, args, { timeoutMs: 60_000, signal });
    if (r.failed) {
      rmSync(path, { force: true }); // not in use as swap: swapon is the last step
      throw new Error(`${file} ${path}: ${r.reason ?? 'failed'}: ${r.stderr.trim()}`);
    }
  }
}

// Turns a swap file off (its pages come back to memory first) and removes it;
// returns what went wrong, if anything.
export async function disableSwapFile(path: string): Promise<string | undefined> {
  let swapoff: string;
  try {
    swapoff = systemTool('swapoff');
  } catch (err) {
    return `${errorMessage(err)} (${path} is left in place, still in use as swap)`;
  }
  const r = await runCommand(swapoff, [path], { timeoutMs: 300_000 });
  if (r.failed) return `swapoff ${path}: ${r.reason ?? 'failed'}: ${r.stderr.trim()} (the file is left in place)`;
  try {
    rmSync(path, { force: true });
  } catch (err) {
    return `cannot remove ${path}: ${errorMessage(err)}`;
  }
  return undefined;
}
