// A generated proc/sys root for a big compute node, for `npm run bench` and by hand:
// what lavarank reads each tick on a host with many CPUs, NVMe namespaces with
// partitions, loop devices and NICs, in the kernel's own formats, pointed at with
// `proc_root` / `sys_root`. The counters can be advanced (writeCounters), each file
// replaced by a rename so that a reader never sees half of one, or rewritten in place
// for a reader that keeps its files open as lavarank keeps procfs's.
//
//   node dist/scripts/gen-bignode.js --out DIR [--cpus 128] [--disks 64] [--partitions 4]
//                                              [--loops 16] [--nics 8] [--threads-per-core 2]
//
// Formats follow the kernel's printf strings: fs/proc/stat.c, block/genhd.c
// (diskstats_show), net/core/net-procfs.c (dev_seq_printf_stats), kernel/sched/psi.c.
import { closeSync, constants, ftruncateSync, mkdirSync, openSync, renameSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';

// The shape of the generated node.
export interface BigNodeSpec {
  cpus: number; // cpu0..cpuN-1, all online
  disks: number; // NVMe namespaces nvme<i>n1, physical
  partitions: number; // per disk: nvme<i>n1p1..pN
  loops: number; // loop0..loopN-1 (virtual)
  nics: number; // physical interfaces ens<i>f0 at 25 Gb/s, besides lo and docker0
  threadsPerCore?: number; // SMT threads per core in sysfs topology (x86's numbering); default 2 where it divides cpus, else 1
}

// The node of issue 16: 128 CPUs, 64 NVMe namespaces with 4 partitions each, 16 loop devices, 8 NICs.
export const BIG_NODE: Readonly<BigNodeSpec> = { cpus: 128, disks: 64, partitions: 4, loops: 16, nics: 8 };

// Where a generated node's files are.
export interface BigNodeRoots {
  procRoot: string;
  sysRoot: string;
}

// How many lines /proc/diskstats has for a spec: disks, their partitions and the loops.
export function blockDevices(spec: BigNodeSpec): number {
  return spec.disks * (1 + spec.partitions) + spec.loops;
}

// The keys of /proc/vmstat on Linux 6.18, in the kernel's order (pswpin, pswpout and
// pgmajfault among them, where the kernel puts them).
const VMSTAT_KEYS = (
  'nr_free_pages nr_free_pages_blocks nr_zone_inactive_anon nr_zone_active_anon nr_zone_inactive_file nr_zone_active_file ' +
  'nr_zone_unevictable nr_zone_write_pending nr_mlock nr_zspages nr_free_cma numa_hit numa_miss numa_foreign numa_interleave ' +
  'numa_local numa_other nr_inactive_anon nr_active_anon nr_inactive_file nr_active_file nr_unevictable nr_slab_reclaimable ' +
  'nr_slab_unreclaimable nr_isolated_anon nr_isolated_file workingset_nodes workingset_refault_anon workingset_refault_file ' +
  'workingset_activate_anon workingset_activate_file workingset_restore_anon workingset_restore_file workingset_nodereclaim ' +
  'nr_anon_pages nr_mapped nr_file_pages nr_dirty nr_writeback nr_shmem nr_shmem_hugepages nr_shmem_pmdmapped nr_file_hugepages ' +
  'nr_file_pmdmapped nr_anon_transparent_hugepages nr_vmscan_write nr_vmscan_immediate_reclaim nr_dirtied nr_written ' +
  'nr_throttled_written nr_kernel_misc_reclaimable nr_foll_pin_acquired nr_foll_pin_released nr_kernel_stack nr_page_table_pages ' +
  'nr_sec_page_table_pages nr_iommu_pages nr_swapcached pgpromote_success pgpromote_candidate pgpromote_candidate_nrl ' +
  'pgdemote_kswapd pgdemote_direct pgdemote_khugepaged pgdemote_proactive nr_hugetlb nr_balloon_pages nr_kernel_file_pages ' +
  'nr_dirty_threshold nr_dirty_background_threshold nr_memmap_pages nr_memmap_boot_pages pgpgin pgpgout pswpin pswpout ' +
  'pgalloc_dma pgalloc_dma32 pgalloc_normal pgalloc_movable pgalloc_device allocstall_dma allocstall_dma32 allocstall_normal ' +
  'allocstall_movable allocstall_device pgskip_dma pgskip_dma32 pgskip_normal pgskip_movable pgskip_device pgfree pgactivate ' +
  'pgdeactivate pglazyfree pgfault pgmajfault pglazyfreed pgrefill pgreuse pgsteal_kswapd pgsteal_direct pgsteal_khugepaged ' +
  'pgsteal_proactive pgscan_kswapd pgscan_direct pgscan_khugepaged pgscan_proactive pgscan_direct_throttle pgscan_anon ' +
  'pgscan_file pgsteal_anon pgsteal_file zone_reclaim_success zone_reclaim_failed pginodesteal slabs_scanned kswapd_inodesteal ' +
  'kswapd_low_wmark_hit_quickly kswapd_high_wmark_hit_quickly pageoutrun pgrotated drop_pagecache drop_slab oom_kill ' +
  'numa_pte_updates numa_huge_pte_updates numa_hint_faults numa_hint_faults_local numa_pages_migrated pgmigrate_success ' +
  'pgmigrate_fail thp_migration_success thp_migration_fail thp_migration_split compact_migrate_scanned compact_free_scanned ' +
  'compact_isolated compact_stall compact_fail compact_success compact_daemon_wake compact_daemon_migrate_scanned ' +
  'compact_daemon_free_scanned htlb_buddy_alloc_success htlb_buddy_alloc_fail unevictable_pgs_culled unevictable_pgs_scanned ' +
  'unevictable_pgs_rescued unevictable_pgs_mlocked unevictable_pgs_munlocked unevictable_pgs_cleared unevictable_pgs_stranded ' +
  'thp_fault_alloc thp_fault_fallback thp_fault_fallback_charge thp_collapse_alloc thp_collapse_alloc_failed thp_file_alloc ' +
  'thp_file_fallback thp_file_fallback_charge thp_file_mapped thp_split_page thp_split_page_failed thp_deferred_split_page ' +
  'thp_underused_split_page thp_split_pmd thp_scan_exceed_none_pte thp_scan_exceed_swap_pte thp_scan_exceed_share_pte ' +
  'thp_split_pud thp_zero_page_alloc thp_zero_page_alloc_failed thp_swpout thp_swpout_fallback balloon_inflate balloon_deflate ' +
  'balloon_migrate swap_ra swap_ra_hit swpin_zero swpout_zero ksm_swpin_copy cow_ksm zswpin zswpout zswpwb ' +
  'direct_map_level2_splits direct_map_level3_splits direct_map_level2_collapses direct_map_level3_collapses nr_unstable'
).split(' ');

// /proc/meminfo of a 1 TiB node with 64 GiB of swap, kB.
const MEMINFO: ReadonlyArray<readonly [string, number | undefined]> = [
  ['MemTotal', 1_056_466_944], ['MemFree', 412_334_080], ['MemAvailable', 701_224_960], ['Buffers', 2_113_536],
  ['Cached', 301_989_888], ['SwapCached', 0], ['Active', 380_108_800], ['Inactive', 201_326_592],
  ['Active(anon)', 260_046_848], ['Inactive(anon)', 10_485_760], ['Active(file)', 120_061_952], ['Inactive(file)', 190_840_832],
  ['Unevictable', 0], ['Mlocked', 0], ['SwapTotal', 67_108_860], ['SwapFree', 66_060_284], ['Zswap', 0], ['Zswapped', 0],
  ['Dirty', 10_240], ['Writeback', 0], ['AnonPages', 270_532_608], ['Mapped', 1_048_576], ['Shmem', 65_536],
  ['KReclaimable', 9_437_184], ['Slab', 14_680_064], ['SReclaimable', 9_437_184], ['SUnreclaim', 5_242_880],
  ['KernelStack', 131_072], ['PageTables', 1_048_576], ['SecPageTables', 0], ['NFS_Unstable', 0], ['Bounce', 0],
  ['WritebackTmp', 0], ['CommitLimit', 595_342_332], ['Committed_AS', 290_000_000], ['VmallocTotal', 34_359_738_367],
  ['VmallocUsed', 524_288], ['VmallocChunk', 0], ['Percpu', 262_144], ['AnonHugePages', 201_326_592], ['ShmemHugePages', 0],
  ['ShmemPmdMapped', 0], ['FileHugePages', 0], ['FilePmdMapped', 0], ['HugePages_Total', undefined], ['HugePages_Free', undefined],
  ['HugePages_Rsvd', undefined], ['HugePages_Surp', undefined], ['Hugepagesize', 2048], ['Hugetlb', 0],
  ['DirectMap4k', 1_048_576], ['DirectMap2M', 100_663_296], ['DirectMap1G', 975_175_680],
];

// Linux numbers interrupts up to nr_irqs; a node with 64 NVMe namespaces has one
// queue (and vector) per CPU per controller, so the `intr` line of /proc/stat is long.
function irqCount(spec: BigNodeSpec): number {
  return 64 + spec.disks * Math.min(spec.cpus, 64) + spec.nics * 16;
}

function pad(value: string | number, width: number): string {
  return String(value).padStart(width);
}

// A counter that grows by about `perTick` each tick, from a large base: the digits
// grow as on a node up for months, and differ from one device or CPU to the next.
function counter(base: number, perTick: number, tick: number, index: number): number {
  return Math.floor(base * (1 + (index % 7) / 10) + tick * perTick * (1 + (index % 5) / 4));
}

function statText(spec: BigNodeSpec, tick: number): string {
  const rows: number[][] = [];
  for (let c = 0; c < spec.cpus; c++) {
    const user = counter(2.1e8, 310, tick, c);
    const nice = counter(1.2e5, 1, tick, c);
    const system = counter(3.3e7, 60, tick, c);
    const idle = counter(6.1e8, 600, tick, c);
    const iowait = counter(4.4e5, 3, tick, c);
    const irq = 0;
    const softirq = counter(2.5e6, 4, tick, c);
    rows.push([user, nice, system, idle, iowait, irq, softirq, 0, 0, 0]);
  }
  const total = rows.reduce((sum, r) => sum.map((v, i) => v + (r[i] ?? 0)), new Array<number>(10).fill(0));
  const lines = [`cpu  ${total.join(' ')}`];
  rows.forEach((r, c) => lines.push(`cpu${c} ${r.join(' ')}`));
  const irqs = new Array<number>(irqCount(spec)).fill(0).map((_, i) => (i % 3 === 0 ? counter(1e6, 40, tick, i) : 0));
  lines.push(`intr ${irqs.reduce((a, b) => a + b, 0)} ${irqs.join(' ')}`);
  lines.push(`ctxt ${counter(9.8e11, 2_000_000, tick, 0)}`);
  lines.push('btime 1790000000');
  lines.push(`processes ${counter(4.2e7, 30, tick, 0)}`);
  lines.push(`procs_running ${1 + (tick % 40)}`);
  lines.push('procs_blocked 0');
  lines.push(`softirq ${counter(5e9, 90_000, tick, 0)} 0 ${new Array<number>(9).fill(0).map((_, i) => counter(5e8, 9000, tick, i)).join(' ')}`);
  return `${lines.join('\n')}\n`;
}

// One diskstats line: "%4d %7d %s" and 17 counters (Linux >= 5.5).
function diskLine(major: number, minor: number, name: string, tick: number, index: number, busy: boolean): string {
  const c = (base: number, per: number) => (busy ? counter(base, per, tick, index) : 0);
  const fields = [
    c(4e7, 900), c(1e5, 2), c(9e9, 230_000), c(2e7, 300), // reads: ios, merges, sectors, ms
    c(8e7, 1800), c(3e6, 40), c(3e10, 700_000), c(9e7, 1600), // writes
    0, c(5e7, 5000), c(1.1e8, 1900), // in flight, io_ticks (ms), time in queue
    c(1e5, 1), 0, c(4e7, 30), c(2e4, 1), // discards
    c(3e6, 20), c(2e6, 30), // flushes
  ];
  return `${pad(major, 4)} ${pad(minor, 7)} ${name} ${fields.join(' ')}`;
}

function diskstatsText(spec: BigNodeSpec, tick: number): string {
  const lines: string[] = [];
  for (let l = 0; l < spec.loops; l++) lines.push(diskLine(7, l, `loop${l}`, tick, l, false));
  let minor = 0;
  for (let d = 0; d < spec.disks; d++) {
    lines.push(diskLine(259, minor++, `nvme${d}n1`, tick, d, true));
    for (let p = 1; p <= spec.partitions; p++) lines.push(diskLine(259, minor++, `nvme${d}n1p${p}`, tick, d * 10 + p, true));
  }
  return `${lines.join('\n')}\n`;
}

function nicNames(spec: BigNodeSpec): string[] {
  return Array.from({ length: spec.nics }, (_, i) => `ens${i >> 1}f${i & 1}`);
}

function netDevText(spec: BigNodeSpec, tick: number): string {
  const lines = [
    'Inter-|   Receive                                                |  Transmit',
    ' face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed',
  ];
  const row = (name: string, rx: number, tx: number) =>
    `${pad(name, 6)}:${pad(rx, 8)} ${pad(Math.floor(rx / 900), 7)}    0    0    0     0          0 ${pad(0, 9)} ${pad(tx, 8)} ${pad(Math.floor(tx / 900), 7)}    0    0    0     0       0          0`;
  lines.push(row('lo', counter(5e9, 1e4, tick, 0), counter(5e9, 1e4, tick, 0)));
  nicNames(spec).forEach((name, i) => lines.push(row(name, counter(8e13, 3e9, tick, i), counter(6e13, 2e9, tick, i))));
  lines.push(row('docker0', 0, 0));
  return `${lines.join('\n')}\n`;
}

function pressureText(tick: number, full: boolean): string {
  const avg = (x: number) => ((tick * 7 + x) % 100).toFixed(2);
  const line = (kind: string, x: number) => `${kind} avg10=${avg(x)} avg60=${avg(x + 3)} avg300=${avg(x + 5)} total=${counter(9e10, 4e5, tick, x)}`;
  return `${line('some', 1)}\n${full ? line('full', 2) : 'full avg10=0.00 avg60=0.00 avg300=0.00 total=0'}\n`;
}

// Replaces a file by a rename, so a concurrent reader sees the old or the new text, never half.
function replaceNamed(path: string, text: string): void {
  const tmp = `${path}.tmp`;
  writeFileSync(tmp, text);
  renameSync(tmp, path);
}

// Rewrites a file in place: the same inode, so a descriptor kept open (lavarank run
// --test-keep-open) reads the new text from offset 0, as it reads procfs's. One write
// from offset 0, then the end cut: never empty in between, but a read that meets the
// write may see part of each text, which procfs never shows.
function rewriteFile(path: string, text: string): void {
  const fd = openSync(path, constants.O_WRONLY | constants.O_CREAT, 0o644);
  try {
    const bytes = Buffer.from(text, 'latin1');
    for (let off = 0; off < bytes.length; ) off += writeSync(fd, bytes, off, bytes.length - off, off);
    ftruncateSync(fd, bytes.length);
  } finally {
    closeSync(fd);
  }
}

// How writeCounters changes the files.
export interface WriteOptions {
  // In place (rewriteFile) rather than replaced by a rename (replaceNamed); default false.
  inPlace?: boolean;
}

// Writes every counter file of the node for tick `tick` (0, 1, 2...): /proc/stat,
// diskstats, net/dev, vmstat, loadavg, meminfo and pressure.
export function writeCounters(roots: BigNodeRoots, spec: BigNodeSpec, tick: number, options: WriteOptions = {}): void {
  const p = roots.procRoot;
  const put = options.inPlace === true ? rewriteFile : replaceNamed;
  put(join(p, 'stat'), statText(spec, tick));
  put(join(p, 'diskstats'), diskstatsText(spec, tick));
  put(join(p, 'net', 'dev'), netDevText(spec, tick));
  put(join(p, 'vmstat'), `${VMSTAT_KEYS.map((k, i) => `${k} ${counter(1e6, i % 4 === 0 ? 100 : 0, tick, i)}`).join('\n')}\n`);
  put(join(p, 'loadavg'), `${(30 + (tick % 10)).toFixed(2)} 28.40 25.10 ${2 + (tick % 30)}/${4000 + tick} ${100_000 + tick}\n`);
  put(join(p, 'meminfo'), `${MEMINFO.map(([k, v]) => `${`${k}:`.padEnd(16)}${pad(v ?? 0, 8)}${v === undefined ? '' : ' kB'}`).join('\n')}\n`);
  put(join(p, 'pressure', 'cpu'), pressureText(tick, false));
  put(join(p, 'pressure', 'memory'), pressureText(tick + 1, true));
  put(join(p, 'pressure', 'io'), pressureText(tick + 2, true));
}

// Creates DIR/proc and DIR/sys for the spec (replacing what was there) with the counters of tick 0
// and the elim's own status (every CPU allowed).
// sysfs: each disk in /sys/block with a `device` and `removable` 0; loops in /sys/block
// without `device`; partitions in /sys/class/block with a `partition` file; each NIC
// in /sys/class/net with a `device` and `speed` 25000; docker0 without `device`.
export function generateBigNode(dir: string, spec: BigNodeSpec): BigNodeRoots {
  const roots = { procRoot: join(dir, 'proc'), sysRoot: join(dir, 'sys') };
  rmSync(roots.procRoot, { recursive: true, force: true });
  rmSync(roots.sysRoot, { recursive: true, force: true });
  mkdirSync(join(roots.procRoot, 'net'), { recursive: true });
  mkdirSync(join(roots.procRoot, 'pressure'), { recursive: true });
  const sys = roots.sysRoot;
  const file = (path: string, text: string) => {
    mkdirSync(join(path, '..'), { recursive: true });
    writeFileSync(path, text);
  };
  const allCpus = spec.cpus === 1 ? '0' : `0-${spec.cpus - 1}`;
  file(join(sys, 'devices/system/cpu/online'), `${allCpus}\n`);
  // The elim's own status, where the cpu collector looks at its affinity every minute, as
  // on a real node: without it, each look is a failed open.
  file(join(roots.procRoot, 'self/status'), `Name:\tnode\nState:\tS (sleeping)\nCpus_allowed_list:\t${allCpus}\nMems_allowed_list:\t0-1\n`);
  // Core k holds CPUs k, k + cores, ...: what a two-socket x86 node's sysfs says.
  const threads = spec.threadsPerCore ?? (spec.cpus % 2 === 0 ? 2 : 1);
  if (!(Number.isInteger(threads) && threads >= 1 && spec.cpus % threads === 0)) throw new RangeError(`threadsPerCore: expected a whole number that divides ${spec.cpus}, received ${threads}`);
  const cores = spec.cpus / threads;
  for (let c = 0; c < spec.cpus; c++) {
    const siblings = Array.from({ length: threads }, (_, t) => (c % cores) + t * cores).join(',');
    file(join(sys, 'devices/system/cpu', `cpu${c}`, 'topology/core_cpus_list'), `${siblings}\n`);
  }
  for (let l = 0; l < spec.loops; l++) file(join(sys, 'block', `loop${l}`, 'removable'), '0\n');
  for (let d = 0; d < spec.disks; d++) {
    const disk = `nvme${d}n1`;
    mkdirSync(join(sys, 'block', disk, 'device'), { recursive: true });
    file(join(sys, 'block', disk, 'removable'), '0\n');
    for (let p = 1; p <= spec.partitions; p++) file(join(sys, 'class/block', `${disk}p${p}`, 'partition'), `${p}\n`);
  }
  for (const name of nicNames(spec)) {
    mkdirSync(join(sys, 'class/net', name, 'device'), { recursive: true });
    file(join(sys, 'class/net', name, 'speed'), '25000\n');
  }
  file(join(sys, 'class/net/docker0/speed'), '-1\n');
  file(join(sys, 'class/net/lo/speed'), '-1\n');
  writeCounters(roots, spec, 0);
  return roots;
}

function positive(name: string, raw: string | undefined, fallback: number): number {
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0 || n > 100_000) throw new RangeError(`--${name}: expected a whole number from 0 to 100000, received ${JSON.stringify(raw)}`);
  return n;
}

function main(): void {
  const { values } = parseArgs({
    options: {
      out: { type: 'string' },
      cpus: { type: 'string' },
      disks: { type: 'string' },
      partitions: { type: 'string' },
      loops: { type: 'string' },
      nics: { type: 'string' },
      'threads-per-core': { type: 'string' },
    },
  });
  if (values.out === undefined) throw new RangeError('--out DIR is required');
  const spec: BigNodeSpec = {
    cpus: positive('cpus', values.cpus, BIG_NODE.cpus),
    disks: positive('disks', values.disks, BIG_NODE.disks),
    partitions: positive('partitions', values.partitions, BIG_NODE.partitions),
    loops: positive('loops', values.loops, BIG_NODE.loops),
    nics: positive('nics', values.nics, BIG_NODE.nics),
    ...(values['threads-per-core'] === undefined ? {} : { threadsPerCore: positive('threads-per-core', values['threads-per-core'], 1) }),
  };
  if (spec.cpus < 1) throw new RangeError('--cpus: at least 1');
  const roots = generateBigNode(values.out, spec);
  process.stdout.write(`# ${spec.cpus} CPUs, ${blockDevices(spec)} block devices, ${spec.nics} NICs\nproc_root: ${roots.procRoot}\nsys_root: ${roots.sysRoot}\n`);
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) main();
