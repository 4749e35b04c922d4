// The CPUs a job may use on this host, by the cpu collector's rule, for the commands
// that tell an administrator what the rank counts (check) or size a reservation for
// it (check, recommend).
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { findQuota, placeFinder } from '../collectors/cgroup.js';
import { allowedCpusIn, cpuListIn, jobCpuTest } from '../collectors/cpulist.js';
import type { Config } from '../config/config.js';
import { numberOption } from '../util/options.js';

// The online CPUs and those a job may use, by the daemon's rule (jobCpuTest), and where
// that came from; undefined when sysfs does not list the online CPUs.
// quota: the CPU quota of the running lim's cgroup, which its elim and jobs share and
// the daemon reads as its own (docs/collectors.md, "cgroup limits"), where one is set.
export function jobCpuSet(config: Readonly<Config>): { online: number[]; usable: number[]; isolated: number[]; named: readonly number[] | undefined; from: string; quota?: number } | undefined {
  const online = cpuListIn(join(config.sys_root, 'devices/system/cpu/online'));
  if (online === undefined) return undefined;
  const named = config.cpu.job_cpus ?? undefined;
  const isolated = named === undefined ? (cpuListIn(join(config.sys_root, 'devices/system/cpu/isolated')) ?? []) : [];
  const lim = limPidIn(config.proc_root);
  let allowed: number[] | undefined;
  let from = 'cpu.job_cpus';
  if (named === undefined) {
    allowed = allowedCpusIn(join(config.proc_root, lim === undefined ? 'self' : String(lim), 'status'));
    from = lim === undefined ? "this process's affinity, no lim running here" : `the affinity of lim (pid ${lim}), which its elim and jobs share`;
  }
  const quota = lim === undefined ? undefined : cpuQuotaOf(config, lim);
  return { online, usable: online.filter(jobCpuTest(named, isolated, allowed)), isolated, named, from, ...(quota === undefined ? {} : { quota }) };
}

// The CPU quota, in CPUs, of process pid's cgroup and its ancestors, found as the
// daemon finds its own (findQuota: the cpu and cpuacct places of its /proc/PID/cgroup
// in its /proc/PID/mountinfo); undefined for none, or where the files cannot be read.
function cpuQuotaOf(config: Readonly<Config>, pid: number): number | undefined {
  try {
    const places = placeFinder('cpu', config.proc_root, config.sys_root, ['cpu', 'cpuacct'], String(pid), () => false).places();
    return findQuota(places, () => false)?.[0]?.cpus; // the smallest, as the rank counts the host
  } catch {
    return undefined; // lim gone, no cgroups, or files that do not parse: the daemon then reads no quota either
  }
}

// The CPU count check recommends a reservation for without --cpus: the CPUs a job may
// use where that is some of the online ones, as the rank counts them, else this
// process's (its affinity).
export function hostCpusForRank(config: Readonly<Config>, fallback: number, set = jobCpuSet(config)): { cpus: number; whose: string } {
  if (set !== undefined && set.usable.length > 0 && set.usable.length < set.online.length) {
    const n = set.usable.length;
    return { cpus: n, whose: `${n === 1 ? 'the one CPU' : `the ${n} CPUs`} a job may use here, which the rank counts as the host's` };
  }
  return { cpus: fallback, whose: "this host's CPUs" };
}

// --cpus of check and recommend: a whole number of CPUs, or undefined when not given
// (then hostCpusForRank's). Throws numberOption's error naming the option.
export function cpusOption(value: string | undefined): number | undefined {
  return value === undefined ? undefined : numberOption('cpus', value, 1, { integer: true, min: 1, max: 4096, kind: 'a whole number of CPUs' });
}

// The pid of the running OpenLava or LSF lim of this host, from the comm of each
// process of root's (or of the user check runs as); undefined if none. Any user can
// name a process lim (prctl, or a copy of sleep called lim) and pin it to one CPU:
// taken as LIM, the lowest pid after a reconfig gave LIM a new one, it made check and
// recommend size the reservation for its one CPU (D = 98 for 37 on two). LIM runs as
// root; its uids are read from its status file (not the owner of /proc/PID, which
// the kernel shows as root for a process that made itself undumpable), all four,
// so that a setuid program run under the name lim is not taken either. Where several hosts' LIMs share one process list (a test
// cluster of network and UTS namespaces on one kernel, containers sharing the host's
// pids), this host's is the one that shares the most of this process's UTS and network
// namespaces: both where check runs beside it, the network alone where it runs in a
// UTS namespace of its own (`unshare -u`). The lowest pid wins a tie, so the choice
// does not depend on the order /proc lists them in.
function limPidIn(procRoot: string): number | undefined {
  let names: string[];
  try {
    names = readdirSync(procRoot);
  } catch {
    return undefined;
  }
  const pids = names.filter((name) => /^\d+$/.test(name)).map(Number).sort((a, b) => a - b);
  const here = namespacesOf(procRoot, 'self');
  const uid = process.geteuid?.() ?? 0;
  let best: number | undefined;
  let bestShared = -1;
  for (const pid of pids) {
    let comm: string;
    try {
      comm = readFileSync(join(procRoot, String(pid), 'comm'), 'latin1').trim();
    } catch {
      continue; // gone since the listing, or not readable: not the lim sought
    }
    if (comm !== 'lim' || !ownedBy(procRoot, pid, uid)) continue;
    const there = namespacesOf(procRoot, String(pid));
    const shared = NAMESPACES.filter((ns) => here[ns] !== undefined && here[ns] === there[ns]).length;
    if (shared > bestShared) {
      best = pid;
      bestShared = shared;
    }
  }
  return best;
}

// Whether every uid of process pid (real, effective, saved, file system: the Uid line
// of its status file) is root's or uid.
function ownedBy(procRoot: string, pid: number, uid: number): boolean {
  let status: string;
  try {
    status = readFileSync(join(procRoot, String(pid), 'status'), 'latin1');
  } catch {
    return false; // gone since the listing
  }
  const uids = /^Uid:\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s*$/m.exec(status)?.slice(1).map(Number);
  return uids !== undefined && (uids.every((u) => u === 0) || uids.every((u) => u === uid));
}

const NAMESPACES = ['uts', 'net'] as const;
type Namespace = (typeof NAMESPACES)[number];

// A process's UTS and network namespaces, as its /proc entry's ns links name them
// ("uts:[4026531838]"), each undefined where it cannot be read.
function namespacesOf(procRoot: string, pid: string): Partial<Record<Namespace, string>> {
  const out: Partial<Record<Namespace, string>> = {};
  for (const ns of NAMESPACES) {
    try {
      out[ns] = readlinkSync(join(procRoot, pid, 'ns', ns));
    } catch {
      // not readable: that namespace counts as shared with none
    }
  }
  return out;
}
