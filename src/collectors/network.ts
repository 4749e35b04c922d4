// Throughput of the physical network interfaces relative to their link speed, from
// /proc/net/dev and /sys/class/net.
import { existsSync } from 'node:fs';
import { createLinkSpeeds } from './linkspeed.js';
import { kernelFile, procPath } from './procfs.js';
import { badLine, bytesAt, lastLineStart, lastLineStartOf, latin1At, numberSlots, ratePerSec, toNumber, tokens } from './text.js';
import { TableReader, keptEntries } from './table.js';
import type { Collector, CollectorOptions, NetInterface, NetworkReading } from './types.js';

const NAME = 'network';

// The byte counters of one /proc/net/dev line.
export interface NetCounters {
  name: string;
  rxBytes: number;
  txBytes: number;
}

// Parses /proc/net/dev: two header lines, then "  eth0: rx_bytes rx_packets ... tx_bytes ...".
// With large counters there may be no space after the colon ("eth0:107891391 ...").
export function parseNetDev(text: string, file = '/proc/net/dev'): NetCounters[] {
  const out: NetCounters[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] ?? '';
    if (line.trim() === '' || line.includes('|')) continue; // the two header lines
    const colon = line.indexOf(':');
    if (colon < 0) throw badLine(NAME, file, i + 1, line, 'no "name:" prefix');
    const name = line.slice(0, colon).trim();
    const t = tokens(line.slice(colon + 1));
    const rx = toNumber(t[0]);
    const tx = toNumber(t[8]);
    if (name === '' || t.length < 16 || rx === undefined || tx === undefined) {
      throw badLine(NAME, file, i + 1, line, 'expected an interface name and 16 counters');
    }
    out.push({ name, rxBytes: rx, txBytes: tx });
  }
  return out;
}

export { parseLinkSpeed } from './linkspeed.js';

// An interface counts when it is backed by hardware: /sys/class/net/<if>/device
// exists. That leaves out lo and every virtual interface (veth, bridge, bond, vlan,
// ifb, tun/tap, docker0, wireguard), whose traffic also crosses a physical interface
// or never leaves the host, so counting it would count bytes twice.
export function isPhysicalInterface(name: string, sysRoot: string): boolean {
  return name !== 'lo' && existsSync(procPath(sysRoot, 'class/net', name, 'device'));
}

const NEWLINE_TEXT = '\n';

// Where one interface's line starts in /proc/net/dev: the text from the start of the
// line through the colon ("%6s:").
interface NetLine {
  name: string;
  needleText: string; // "\n" and the line's start
  hint: number; // where the needle was last found; the search starts a little before
}

// What the hot path knows of /proc/net/dev from the last full reading: the start of
// its last line, its number of lines, every interface's name in order, and where the
// physical ones' lines start. The kernel does not list interfaces in the order they
// were created (by a hash of the name before 5.5, by ifindex modulo 256 up to 6.8), so
// one that comes back (ib0 after a driver reset, a NIC back from a container's
// namespace) may take its line in the middle: the number of lines says so.
export interface NetLayout {
  last: Buffer;
  lines: number;
  names: string[];
  interfaces: NetLine[];
}

// How many newlines the text holds: String's own search, a builtin call per line
// (a search of the bytes goes through Function.prototype.call, twice the instructions).
function newlines(text: string): number {
  let count = 0;
  for (let p = text.indexOf(NEWLINE_TEXT); p >= 0; p = text.indexOf(NEWLINE_TEXT, p + 1)) count++;
  return count;
}

// The interface names of /proc/net/dev in order.
export function netDevNames(text: string): string[] {
  const names: string[] = [];
  for (const line of text.split('\n')) {
    const colon = line.indexOf(':');
    if (colon > 0 && !line.includes('|')) names.push(line.slice(0, colon).trim());
  }
  return names;
}

// The layout of a net/dev text for the given interfaces (in file order), or undefined
// when an interface's line cannot be found by its name.
export function netDevLayout(text: string, interfaces: readonly NetCounters[]): NetLayout | undefined {
  const found = new Map<string, { prefix: string; at: number }>();
  const all = text.split('\n');
  let offset = 0;
  for (const line of all) {
    const colon = line.indexOf(':');
    if (colon > 0 && !line.includes('|')) found.set(line.slice(0, colon).trim(), { prefix: line.slice(0, colon + 1), at: Math.max(0, offset - 1) });
    offset += line.length + 1;
  }
  const lines: NetLine[] = [];
  for (const c of interfaces) {
    const f = found.get(c.name);
    if (f === undefined) return undefined;
    lines.push({ name: c.name, needleText: `\n${f.prefix}`, hint: f.at });
  }
  const lastAt = lastLineStart(text);
  const colon = text.indexOf(':', lastAt);
  if (colon < 0) return undefined;
  return { last: Buffer.from(text.slice(lastAt, colon + 1), 'latin1'), lines: all.length - 1, names: netDevNames(text), interfaces: lines };
}

// The byte counters of the physical interfaces in one reading, in file order, as
// parallel arrays reused from report to report. In the interpreter an object per
// interface per report, and each counter past 2^31 copied out of it as a fresh heap
// number at every load, allocated more than the reading itself.
export interface NetScan {
  interfaces: readonly { name: string }[];
  rxBytes: number[];
  txBytes: number[];
}

// Lists to scan the layout's interfaces into.
export function netScanFor(layout: NetLayout): NetScan {
  const n = layout.interfaces.length;
  return { interfaces: layout.interfaces, rxBytes: numberSlots(n), txBytes: numberSlots(n) };
}

// After the colon, as parseNetDev splits them: 16 fields or more, separated by spaces
// (the kernel pads them: "%7llu %7llu %4llu ..."), the 1st and 9th (rx and tx bytes) of
// 1 to 30 digits, the others anything but whitespace and "|" (a line with "|" is a
// header to parseNetDev), to the end of the line. Checked in three parts, each from
// where the one before ended: the spaces before the 1st, the 1st to the 9th, the 9th to
// the end. Each part can end in one place only (a field's digits or characters are
// followed by a space, its spaces by a character that is not one), so the three match where
// the whole pattern does; checked whole, then from the 1st's end to find the 9th, the
// line's first half was read twice (about 5 000 instructions a line in the interpreter).
// The spaces before rx are skipped by a loop (none or a few; a regular expression's call
// cost 1 800 instructions), and rx and tx are matched as \d+ and their lengths checked
// where they are read: a bounded \d{1,30} costs the regular-expression interpreter
// about 1 400 instructions more a line than \d+ (callgrind, --lite-mode).
// They run on the whole file's text, from the line's rx: none of their parts matches a
// newline, and `(?![^\n])` is the line's end as `$` was in a string of the line.
const RX_TO_TX = /\d+(?: +[^\s|]+){7} +/y;
const TX_TO_END = /\d+(?: +[^\s|]+){7,} *(?![^\n])/y;
const MAX_DIGITS = 30; // of rx and tx, as parseNetDev's toNumber takes them
const SPACE_CODE = 32;

const HINT_SLACK = 256;
const SPACE = ' ';

// The hot path's reading of /proc/net/dev: the byte counters of the layout's
// interfaces, each found by the start of its line, written into `into` (from
// netScanFor). False when the last line or the number of lines changed (an interface
// added), an interface's line is gone, or is not in the kernel's layout: then
// parseNetDev reads it all. When
// it returns true, parseNetDev gives the same counters for these interfaces, or
// rejects a line this does not read. Updates the hints.
// One string of the whole file (1.6 kB on 8 NICs), searched with String's builtins and
// with regular expressions that only test and move lastIndex: a string per line cost
// about 6 000 instructions a line more (the line's string, and searches of the bytes
// through Function.prototype.call; callgrind, --lite-mode); a match array and its strings (exec)
// allocated more than the line, and walking the padding byte by byte in the
// interpreter took about three times as long.
export function scanNetDev(bytes: Buffer, layout: NetLayout, into: NetScan): boolean {
  if (!bytesAt(bytes, layout.last, lastLineStartOf(bytes))) return false;
  const text = latin1At(bytes, 0, bytes.length);
  if (newlines(text) !== layout.lines) return false;
  for (let k = 0; k < layout.interfaces.length; k++) {
    const i = layout.interfaces[k]!;
    // Where it was: most lines do not move.
    if (!text.startsWith(i.needleText, i.hint)) {
      let at = text.indexOf(i.needleText, Math.max(0, i.hint - HINT_SLACK));
      if (at < 0) at = text.indexOf(i.needleText);
      if (at < 0) return false;
      i.hint = at;
    }
    let rxStart = i.hint + i.needleText.length;
    while (text.charCodeAt(rxStart) === SPACE_CODE) rxStart++;
    RX_TO_TX.lastIndex = rxStart;
    if (!RX_TO_TX.test(text)) return false;
    const rxEnd = text.indexOf(SPACE, rxStart); // rx's digits end at the first space
    if (rxEnd - rxStart > MAX_DIGITS) return false;
    const txStart = RX_TO_TX.lastIndex;
    TX_TO_END.lastIndex = txStart;
    if (!TX_TO_END.test(text)) return false;
    const txEnd = text.indexOf(SPACE, txStart); // seven fields or more follow tx
    if (txEnd - txStart > MAX_DIGITS) return false;
    into.rxBytes[k] = Number(text.slice(rxStart, rxEnd));
    into.txBytes[k] = Number(text.slice(txStart, txEnd));
  }
  return true;
}

// max(rx, tx) × 8 / speed, at most 1, as fraction() gives it (it is never below 0: the
// rates are not). Comparisons rather than Math.max and Math.min: in the interpreter
// each of their results is a fresh heap number.
function utilizationOf(rxBytesPerSec: number, txBytesPerSec: number, speedBitsPerSec: number): number {
  const u = ((rxBytesPerSec >= txBytesPerSec ? rxBytesPerSec : txBytesPerSec) * 8) / speedBitsPerSec;
  return u < 1 ? u : 1;
}

// A link whose speed neither the kernel nor network.link_speed gives (virtio_net and
// most virtual NICs print -1) is taken to carry at most the highest rate it has carried
// within the last LEARNED_WINDOW_MS, and at least LEARNED_FLOOR: no cluster node's link has
// been slower than 1 Gb/s for two decades, so its load counts rather than reading as
// idle. A transfer at a new high reads as a full link until a faster one shows the
// link can carry more; LEARNED_CEILING (the fastest Ethernet) bounds what a counter
// glitch could make it learn, which would leave every later load looking idle. The
// window bounds how long one burst does so: any local user can send UDP to any address
// at a virtual NIC's speed, and a capacity kept for the daemon's life made a link
// saturated later read as nearly idle for as long.
export const LEARNED_FLOOR = 1e9;
export const LEARNED_CEILING = 400e9;
export const LEARNED_WINDOW_MS = 3_600_000;
// The window is kept as this many buckets of the highest rate each: it ends to within one.
const LEARNED_BUCKETS = 6;
const BUCKET_MS = LEARNED_WINDOW_MS / LEARNED_BUCKETS;

// The highest rates of one link, a bucket of BUCKET_MS each, as a ring.
interface RateBuckets {
  index: number[]; // which bucket (monotonic ms / BUCKET_MS) each slot holds
  most: number[]; // its highest rate, bits/s
}

// The capacity a link without a known speed is taken to have after carrying bits/s,
// given what it was taken to have before (LEARNED_FLOOR at first).
export function learnedCapacity(before: number, bitsPerSec: number): number {
  if (!(bitsPerSec > before)) return before;
  return bitsPerSec < LEARNED_CEILING ? bitsPerSec : LEARNED_CEILING;
}

// The capacities learned of the links without a known speed, each from the highest rate
// it carried in the last LEARNED_WINDOW_MS (LEARNED_FLOOR at least).
export class LearnedSpeeds {
  private readonly links = new Map<string, RateBuckets>();

  // The link's capacity at monotonicMs, updated with this reading's rates in bytes/s
  // (none for an idle link).
  speed(name: string, rx: number, tx: number, monotonicMs: number): number {
    const now = Math.floor(monotonicMs / BUCKET_MS);
    let buckets = this.links.get(name);
    if (rx > 0 || tx > 0) {
      if (buckets === undefined) {
        buckets = { index: numberSlots(LEARNED_BUCKETS, () => -LEARNED_BUCKETS), most: numberSlots(LEARNED_BUCKETS) };
        this.links.set(name, buckets);
      }
      const slot = now % LEARNED_BUCKETS;
      if (buckets.index[slot] !== now) {
        buckets.index[slot] = now;
        buckets.most[slot] = 0;
      }
      buckets.most[slot] = learnedCapacity(buckets.most[slot]!, (rx >= tx ? rx : tx) * 8);
    }
    let capacity = LEARNED_FLOOR;
    if (buckets === undefined) return capacity;
    for (let i = 0; i < LEARNED_BUCKETS; i++) {
      if (buckets.index[i]! > now - LEARNED_BUCKETS && buckets.most[i]! > capacity) capacity = buckets.most[i]!;
    }
    return capacity;
  }

  // Forgets what a link carried: gone, or its name now another device's.
  delete(name: string): void {
    this.links.delete(name);
  }
}

// The bits per second of options.linkSpeedMbps, checked where it is used.
function assumedSpeed(mbps: number | undefined): number | undefined {
  if (mbps === undefined) return undefined;
  if (!Number.isFinite(mbps) || mbps <= 0) throw new TypeError(`linkSpeedMbps must be a positive number of Mb/s, received ${String(mbps)}`);
  return mbps * 1e6;
}

// The network collector, and a promise of its background speed reads' end (for tests).
export interface NetworkCollector extends Collector<'network'> {
  settled(): Promise<void>;
}

// Reads /proc/net/dev each tick, and each physical interface's speed in the background
// (src/collectors/linkspeed.ts: once when it is found, then while it moves bytes at its
// first bytes after being idle and at most once a minute, since a link can renegotiate);
// a report uses the last speed read. Where the kernel reports no speed,
// options.linkSpeedMbps is assumed, and without it the capacity is learned (learnedCapacity).
// An interface reports from its second reading on and is left out for
// a tick when a counter went backwards (driver reset); it is then classified again,
// in case the name now belongs to another device. The whole file is parsed and new
// interfaces classified on the first tick and when the lines change; otherwise only
// the physical interfaces' lines are read (scanNetDev).
// Without options.detail (the daemon), only utilizationMax: no list of interfaces, no totals.
export function createNetworkCollector(options: CollectorOptions = {}): NetworkCollector {
  const netDev = kernelFile(NAME, procPath(options.procRoot ?? '/proc', 'net/dev'), options.keepOpen);
  const file = netDev.path;
  const sysRoot = options.sysRoot ?? '/sys';
  const detail = options.detail ?? true;
  const assumed = assumedSpeed(options.linkSpeedMbps); // bits/s, once: the hot path only reads it
  const physical = new Map<string, boolean>();
  const speeds = createLinkSpeeds({
    sysRoot,
    ...(options.warn === undefined ? {} : { warn: options.warn }),
    ...(options.linkSpeedRead === undefined ? {} : { read: options.linkSpeedRead }),
    ...(options.keepOpen === undefined ? {} : { keepOpen: options.keepOpen }),
  }); // of the physical interfaces
  const learned = new LearnedSpeeds(); // of those without a known or assumed speed
  const reclassify = new Set<string>(); // physical interfaces whose counters went back

  function forget(name: string): void {
    physical.delete(name);
    reclassify.delete(name);
    speeds.forget(name);
    learned.delete(name);
  }

  const table = new TableReader<NetLayout, NetScan>(netDev, {
    names: netDevNames,
    // The whole file, its new interfaces classified, and a new layout for the hot path.
    readAll(text) {
      const { kept: list, seen, repeated } = keptEntries(parseNetDev(text, file), (c) => {
        const known = physical.get(c.name);
        let isPhysical = known;
        if (isPhysical === undefined || reclassify.delete(c.name)) {
          isPhysical = isPhysicalInterface(c.name, sysRoot);
          physical.set(c.name, isPhysical);
          // A new one's speed read before the next reading needs it; one classified again
          // after its counters went back had its speed asked for then (speeds.renew).
          if (isPhysical) {
            if (known === undefined) speeds.report(c.name, true);
          } else {
            // After a counter reset the name may be a virtual interface's now.
            speeds.forget(c.name);
            learned.delete(c.name);
          }
        }
        return isPhysical;
      });
      for (const name of physical.keys()) if (!seen.has(name)) forget(name);
      const layout = repeated ? undefined : netDevLayout(text, list);
      // The layout's own list when there is one (same interfaces, same order), so that the next scan lines up with this reading.
      const n = list.length;
      const scan: NetScan = { interfaces: layout?.interfaces ?? list, rxBytes: numberSlots(n, (k) => list[k]!.rxBytes), txBytes: numberSlots(n, (k) => list[k]!.txBytes) };
      return { scan, layout };
    },
    scan: scanNetDev,
    scanFor: netScanFor,
    fits: (scan, layout) => scan.interfaces === layout.interfaces,
  });

  return {
    name: NAME,
    collect(monotonicMs) {
      speeds.at(monotonicMs);
      const now = table.read(monotonicMs);
      const before = table.before;
      if (before === undefined) return undefined;
      const old = before.scan;
      // Read through the same layout, the previous interfaces are in the same order.
      const index = old.interfaces === now.interfaces ? undefined : new Map(old.interfaces.map((c, i) => [c.name, i]));
      const seconds = (monotonicMs - before.at) / 1000;
      let counted = 0;
      let utilizationMax: number | undefined; // over the physical interfaces
      const interfaces: NetInterface[] | undefined = detail ? [] : undefined;
      let rxSum = 0;
      let txSum = 0;
      for (let k = 0; k < now.interfaces.length; k++) {
        const name = now.interfaces[k]!.name;
        const j = index === undefined ? k : index.get(name);
        if (j === undefined) continue;
        const rx = ratePerSec(now.rxBytes[k]!, old.rxBytes[j]!, seconds);
        const tx = ratePerSec(now.txBytes[k]!, old.txBytes[j]!, seconds);
        if (rx === undefined || tx === undefined) {
          // Classified again on the next tick, and its speed read again, in case the
          // name now belongs to another device. The last speed is kept until then:
          // forgotten, the next rate met no speed at all and was measured against
          // LEARNED_FLOOR, a 100 Gb/s link at 5 Gb/s read as full.
          reclassify.add(name);
          speeds.renew(name);
          table.invalidate();
          continue;
        }
        counted++;
        const moved = rx > 0 || tx > 0;
        speeds.report(name, moved);
        const speed = speeds.speed(name) ?? assumed;
        // An idle link's utilization is 0 whatever its capacity: none is learned from it.
        const capacity = speed ?? learned.speed(name, rx, tx, monotonicMs);
        const utilization = utilizationOf(rx, tx, capacity);
        if (utilizationMax === undefined || utilization > utilizationMax) utilizationMax = utilization;
        if (interfaces === undefined) continue;
        const entry: NetInterface = { name, rxBytesPerSec: rx, txBytesPerSec: tx, utilization };
        if (speed !== undefined) entry.speedBitsPerSec = speed;
        else entry.learnedBitsPerSec = capacity;
        interfaces.push(entry);
        rxSum += rx;
        txSum += tx;
      }
      if (counted === 0 && now.interfaces.length > 0) return undefined;
      const out: NetworkReading = interfaces === undefined ? {} : { interfaces, rxBytesPerSec: rxSum, txBytesPerSec: txSum };
      if (utilizationMax !== undefined) out.utilizationMax = utilizationMax;
      return out;
    },
    close() {
      table.close();
      speeds.close();
    },
    settled: () => speeds.settled(),
  };
}
