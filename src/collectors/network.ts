// Throughput of the physical network interfaces relative to their link speed, from
// /proc/net/dev and /sys/class/net.
import { existsSync } from 'node:fs';
import { CollectorError } from '../util/errors.js';
import { kernelFile, procPath, type KernelFile } from './procfs.js';
import { badLine, byteIndex, bytesAt, counterAt, fraction, lastLineStart, lastLineStartOf, ratePerSec, toNumber, tokens } from './text.js';
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

// Parses /sys/class/net/<if>/speed (Mb/s) into bits per second, or undefined when the
// speed is unknown: -1 (SPEED_UNKNOWN, link down), 0, or the 65535 and 4294967295
// that older drivers print for unknown.
export function parseLinkSpeed(text: string): number | undefined {
  return bitsPerSec(toNumber(text.trim()));
}

function bitsPerSec(mbps: number | undefined): number | undefined {
  if (mbps === undefined || mbps <= 0 || mbps === 65535 || mbps === 4294967295) return undefined;
  return mbps * 1e6;
}

// An interface counts when it is backed by hardware: /sys/class/net/<if>/device
// exists. That leaves out lo and every virtual interface (veth, bridge, bond, vlan,
// ifb, tun/tap, docker0, wireguard), whose traffic also crosses a physical interface
// or never leaves the host, so counting it would count bytes twice.
export function isPhysicalInterface(name: string, sysRoot: string): boolean {
  return name !== 'lo' && existsSync(procPath(sysRoot, 'class/net', name, 'device'));
}

const NEWLINE = 10;

// The link speed from a `speed` file, or undefined when the kernel does not know it.
// The kernel prints "%d\n": the digits are read from the bytes, and anything else
// (-1 while the link is down) as parseLinkSpeed reads it.
function linkSpeedOf(file: KernelFile): number | undefined {
  try {
    const bytes = file.bytes();
    const mbps = bytes.length > 1 && bytes[bytes.length - 1] === NEWLINE ? counterAt(bytes, 0, bytes.length - 1) : -1;
    return mbps >= 0 ? bitsPerSec(mbps) : parseLinkSpeed(bytes.toString('latin1', 0, bytes.length));
  } catch (err) {
    // The kernel answers EINVAL while the link is down or the driver has no speed,
    // and the file is missing on old kernels: all mean "unknown", not a failure.
    if (err instanceof CollectorError) return undefined;
    throw err;
  }
}

// Where one interface's line starts in /proc/net/dev: the text from the start of the
// line through the colon ("%6s:").
interface NetLine {
  name: string;
  needle: Buffer; // "\n" and the line's start
  hint: number; // where the needle was last found; the search starts a little before
}

// What the hot path knows of /proc/net/dev from the last full reading: the start of
// its last line, every interface's name in order, and where the physical ones' lines
// start. The kernel lists interfaces in the order they were created: a new one
// changes the last line, one gone loses its line.
export interface NetLayout {
  last: Buffer;
  names: string[];
  interfaces: NetLine[];
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
  let offset = 0;
  for (const line of text.split('\n')) {
    const colon = line.indexOf(':');
    if (colon > 0 && !line.includes('|')) found.set(line.slice(0, colon).trim(), { prefix: line.slice(0, colon + 1), at: offset - 1 });
    offset += line.length + 1;
  }
  const lines: NetLine[] = [];
  for (const c of interfaces) {
    const f = found.get(c.name);
    if (f === undefined) return undefined;
    lines.push({ name: c.name, needle: Buffer.from(`\n${f.prefix}`, 'latin1'), hint: f.at });
  }
  const lastAt = lastLineStart(text);
  const colon = text.indexOf(':', lastAt);
  if (colon < 0) return undefined;
  return { last: Buffer.from(text.slice(lastAt, colon + 1), 'latin1'), names: netDevNames(text), interfaces: lines };
}

// After the colon, the 16 counters as the kernel prints them; rx and tx bytes kept.
const NET_FIELDS = / *(\d{1,30}) +\d+ +\d+ +\d+ +\d+ +\d+ +\d+ +\d+ +(\d{1,30}) +\d+ +\d+ +\d+ +\d+ +\d+ +\d+ +\d+/y;

const HINT_SLACK = 256;

// The hot path's reading of /proc/net/dev: the byte counters of the layout's
// interfaces, each found by the start of its line. Undefined when the last line
// changed (an interface added), an interface's line is gone, or is not in the
// kernel's layout: then parseNetDev reads it all. When it returns, parseNetDev gives
// the same counters for these interfaces, or rejects a line this does not read.
// Updates the hints.
export function scanNetDev(bytes: Buffer, layout: NetLayout): NetCounters[] | undefined {
  if (!bytesAt(bytes, layout.last, lastLineStartOf(bytes))) return undefined;
  const out: NetCounters[] = [];
  for (let k = 0; k < layout.interfaces.length; k++) {
    const i = layout.interfaces[k]!;
    let at = bytes.indexOf(i.needle, Math.max(0, i.hint - HINT_SLACK));
    if (at < 0) at = bytes.indexOf(i.needle);
    if (at < 0) return undefined;
    i.hint = at;
    const from = at + i.needle.length;
    const end = byteIndex(bytes, 10, from);
    NET_FIELDS.lastIndex = 0;
    const m = NET_FIELDS.exec(bytes.toString('latin1', from, end < 0 ? bytes.length : end));
    if (m === null) return undefined;
    out.push({ name: i.name, rxBytes: Number(m[1]), txBytes: Number(m[2]) });
  }
  return out;
}

// Totals over the interfaces; utilizationMax only over those with a known speed.
export function summarizeInterfaces(interfaces: NetInterface[]): NetworkReading {
  let rx = 0;
  let tx = 0;
  let utilizationMax: number | undefined;
  for (let k = 0; k < interfaces.length; k++) {
    const i = interfaces[k]!;
    rx += i.rxBytesPerSec;
    tx += i.txBytesPerSec;
    if (i.utilization !== undefined) utilizationMax = Math.max(utilizationMax ?? 0, i.utilization);
  }
  const out: NetworkReading = { interfaces, rxBytesPerSec: rx, txBytesPerSec: tx };
  if (utilizationMax !== undefined) out.utilizationMax = utilizationMax;
  return out;
}

// How often the hot path checks every interface name anyway: an interface added anywhere but at
// the end (not what the kernel does) would not change the last line.
const RECHECK_MS = 10 * 60_000;

// Reads /proc/net/dev and each physical interface's speed every tick (a link can
// renegotiate). An interface reports from its second reading on and is left out for
// a tick when a counter went backwards (driver reset); it is then classified again,
// in case the name now belongs to another device. The whole file is parsed and new
// interfaces classified on the first tick and when the lines change; otherwise only
// the physical interfaces' lines are read (scanNetDev).
export function createNetworkCollector(options: CollectorOptions = {}): Collector<'network'> {
  const netDev = kernelFile(NAME, procPath(options.procRoot ?? '/proc', 'net/dev'));
  const file = netDev.path;
  const sysRoot = options.sysRoot ?? '/sys';
  const physical = new Map<string, boolean>();
  const speedFiles = new Map<string, KernelFile>(); // of the physical interfaces
  let layout: NetLayout | undefined;
  let checkedAt = 0;
  let previous: { at: number; counters: NetCounters[]; layout: NetLayout | undefined } | undefined;

  function forget(name: string): void {
    physical.delete(name);
    speedFiles.get(name)?.close();
    speedFiles.delete(name);
  }

  function linkSpeed(name: string): number | undefined {
    let speed = speedFiles.get(name);
    if (speed === undefined) {
      speed = kernelFile(NAME, procPath(sysRoot, 'class/net', name, 'speed'));
      speedFiles.set(name, speed);
    }
    return linkSpeedOf(speed);
  }

  // The whole file, its new interfaces classified, and a new layout for the hot path.
  function readAll(text: string, monotonicMs: number): NetCounters[] {
    const counters = new Map<string, NetCounters>();
    const seen = new Set<string>();
    let repeated = false; // a name twice: not the kernel's text, no hot path
    for (const c of parseNetDev(text, file)) {
      repeated ||= seen.has(c.name);
      seen.add(c.name);
      let isPhysical = physical.get(c.name);
      if (isPhysical === undefined) {
        isPhysical = isPhysicalInterface(c.name, sysRoot);
        physical.set(c.name, isPhysical);
      }
      if (isPhysical) counters.set(c.name, c);
    }
    for (const name of physical.keys()) if (!seen.has(name)) forget(name);
    const list = [...counters.values()];
    layout = repeated ? undefined : netDevLayout(text, list);
    checkedAt = monotonicMs;
    return list;
  }

  return {
    name: NAME,
    collect(monotonicMs) {
      const bytes = netDev.bytes();
      if (layout !== undefined && monotonicMs - checkedAt >= RECHECK_MS) {
        const names = netDevNames(bytes.toString('latin1', 0, bytes.length));
        if (names.length === layout.names.length && names.every((n, i) => n === layout!.names[i])) checkedAt = monotonicMs;
        else layout = undefined;
      }
      const used = layout;
      const counters = (used === undefined ? undefined : scanNetDev(bytes, used)) ?? readAll(bytes.toString('latin1', 0, bytes.length), monotonicMs);
      const before = previous;
      previous = { at: monotonicMs, counters, layout };
      if (before === undefined) return undefined;
      // Read through the same layout, the previous counters are in the same order.
      const aligned = layout !== undefined && before.layout === layout && before.counters.length === counters.length;
      const byName = aligned ? undefined : new Map(before.counters.map((c) => [c.name, c]));
      const seconds = (monotonicMs - before.at) / 1000;
      const interfaces: NetInterface[] = [];
      for (let k = 0; k < counters.length; k++) {
        const c = counters[k]!;
        const old = byName === undefined ? before.counters[k] : byName.get(c.name);
        if (old === undefined) continue;
        const rx = ratePerSec(c.rxBytes, old.rxBytes, seconds);
        const tx = ratePerSec(c.txBytes, old.txBytes, seconds);
        if (rx === undefined || tx === undefined) {
          forget(c.name);
          layout = undefined; // classify it again on the next tick
          continue;
        }
        const entry: NetInterface = { name: c.name, rxBytesPerSec: rx, txBytesPerSec: tx };
        const speed = linkSpeed(c.name);
        if (speed !== undefined) {
          entry.speedBitsPerSec = speed;
          entry.utilization = fraction((Math.max(rx, tx) * 8) / speed);
        }
        interfaces.push(entry);
      }
      if (interfaces.length === 0 && counters.length > 0) return undefined;
      return summarizeInterfaces(interfaces);
    },
    close() {
      netDev.close();
      for (const speed of speedFiles.values()) speed.close();
      speedFiles.clear();
    },
  };
}
