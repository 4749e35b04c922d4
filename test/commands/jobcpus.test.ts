import assert from 'node:assert/strict';
import { mkdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { hostCpusForRank, jobCpuSet } from '../../src/commands/jobcpus.js';
import { defaultConfig } from '../../src/config/config.js';
import { tempDir } from '../helpers.js';

// The sys and proc roots of a generated host of two online CPUs, under dir.
function twoCpuRoots(dir: string): { sys: string; proc: string } {
  const sys = join(dir, 'sys');
  mkdirSync(join(sys, 'devices/system/cpu'), { recursive: true });
  writeFileSync(join(sys, 'devices/system/cpu/online'), '0-1\n');
  return { sys, proc: join(dir, 'proc') };
}

// A process entry under proc: its comm, its status (uids, root's by default, and
// affinity), and its namespaces as ns links.
function processIn(proc: string, name: string, p: { comm: string; cpus: string; uids?: string; uts: number; net: number }): void {
  mkdirSync(join(proc, name, 'ns'), { recursive: true });
  writeFileSync(join(proc, name, 'comm'), `${p.comm}\n`);
  writeFileSync(join(proc, name, 'status'), `Name:\t${p.comm}\nUid:\t${p.uids ?? '0\t0\t0\t0'}\nCpus_allowed_list:\t${p.cpus}\n`);
  symlinkSync(`uts:[${p.uts}]`, join(proc, name, 'ns', 'uts'));
  symlinkSync(`net:[${p.net}]`, join(proc, name, 'ns', 'net'));
}

describe('hostCpusForRank', () => {
  it('recommends the reservation for the CPUs a job may use where they are some of the online ones, as the rank counts them, else for this process\'s', () => {
    const { dir, cleanup } = tempDir();
    try {
      const sys = join(dir, 'sys');
      const proc = join(dir, 'proc');
      const config = { ...defaultConfig(), sys_root: sys, proc_root: proc };
      assert.deepEqual(hostCpusForRank(config, 64), { cpus: 64, whose: "this host's CPUs" }, 'no online list');
      mkdirSync(join(sys, 'devices/system/cpu'), { recursive: true });
      mkdirSync(proc, { recursive: true });
      writeFileSync(join(sys, 'devices/system/cpu/online'), '0-63\n');
      assert.deepEqual(hostCpusForRank(config, 64), { cpus: 64, whose: "this host's CPUs" }, 'every CPU a job\'s');
      writeFileSync(join(sys, 'devices/system/cpu/isolated'), '2-63\n');
      assert.deepEqual(hostCpusForRank(config, 64), { cpus: 2, whose: 'the 2 CPUs a job may use here, which the rank counts as the host\'s' });
      assert.deepEqual(hostCpusForRank({ ...config, cpu: { job_cpus: [7] } }, 64), { cpus: 1, whose: 'the one CPU a job may use here, which the rank counts as the host\'s' }, 'cpu.job_cpus naming one CPU');
      assert.equal(hostCpusForRank({ ...config, cpu: { job_cpus: [99] } }, 64).cpus, 64, 'no online CPU a job\'s: this process\'s');
    } finally {
      cleanup();
    }
  });

  it("takes the affinity of this host's lim where several hosts' LIMs share one process list: the one sharing the most of this process's UTS and network namespaces", () => {
    const { dir, cleanup } = tempDir();
    try {
      const { sys, proc } = twoCpuRoots(dir);
      const processEntry = (name: string, comm: string, cpus: string, uts: number, net: number): void => processIn(proc, name, { comm, cpus, uts, net });
      processEntry('100', 'lim', '0', 1, 1); // another host's: other namespaces, lower pid
      processEntry('150', 'lim', '0', 2, 1); // this host's hostname, another host's network
      processEntry('200', 'lim', '1', 2, 2);
      processEntry('self', 'lavarank', '0-1', 2, 2);
      const config = { ...defaultConfig(), sys_root: sys, proc_root: proc };
      assert.deepEqual(jobCpuSet(config)?.usable, [1]);
      assert.match(jobCpuSet(config)?.from ?? '', /pid 200\b/);
      // check run in a UTS namespace of its own (unshare -u), in the host's network
      // namespace: the lim that shares the network is this host's.
      rmSync(join(proc, 'self'), { recursive: true });
      processEntry('self', 'lavarank', '0-1', 3, 2);
      assert.match(jobCpuSet(config)?.from ?? '', /pid 200\b/);
      // where no lim shares a namespace with it, the lowest pid is taken, not none
      rmSync(join(proc, 'self'), { recursive: true });
      processEntry('self', 'lavarank', '0-1', 3, 3);
      assert.match(jobCpuSet(config)?.from ?? '', /pid 100\b/);
    } finally {
      cleanup();
    }
  });

  it("takes no other user's process named lim for LIM, nor a setuid program run under that name: a user's lim pinned to one CPU made check and recommend size the reservation for one", () => {
    const { dir, cleanup } = tempDir();
    try {
      const { sys, proc } = twoCpuRoots(dir);
      const processEntry = (name: string, uids: string, cpus: string): void => processIn(proc, name, { comm: 'lim', uids, cpus, uts: 1, net: 1 });
      processEntry('100', '65534\t65534\t65534\t65534', '0'); // started before a reconfig gave LIM a new pid
      processEntry('150', '65534\t0\t0\t0', '0'); // a setuid-root program the user ran as lim
      processEntry('200', '0\t0\t0\t0', '0-1'); // LIM
      mkdirSync(join(proc, 'self', 'ns'), { recursive: true });
      symlinkSync('uts:[1]', join(proc, 'self', 'ns', 'uts'));
      symlinkSync('net:[1]', join(proc, 'self', 'ns', 'net'));
      const set = jobCpuSet({ ...defaultConfig(), sys_root: sys, proc_root: proc });
      assert.deepEqual(set?.usable, [0, 1]);
      assert.match(set?.from ?? '', /pid 200\b/);
    } finally {
      cleanup();
    }
  });
});
