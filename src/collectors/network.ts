// Throughput of the physical network interfaces relative to their link speed, from
// /proc/net/dev and /sys/class/net.
import { existsSync } from 'node:fs';
import { CollectorError } from '../util/errors.js';
import { procPath, readKernelText } from './procfs.js';
import { badLine, fraction, ratePerSec, toNumber, tokens } from './text.js';
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
  const mbps = toNumber(text.trim());
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

// The link speed in bits per second, or undefined when the kernel does not know it.
export function readLinkSpeed(name: string, sysRoot: string): number | undefined {
  try {
    return parseLinkSpeed(readKernelText(NAME, procPath(sysRoot, 'class/net', name, 'speed')));
  } catch (err) {
    // The kernel answers EINVAL while the link is down or the driver has no speed,
    // and the file is missing on old kernels: all mean "unknown", not a failure.
    if (err instanceof CollectorError) return undefined;
    throw err;
  }
}

// Totals over the interfaces; utilizationMax only over those with a known speed.
export function summarizeInterfaces(interfaces: NetInterface[]): NetworkReading {
  let rx = 0;
  let tx = 0;
  let utilizationMax: number | undefined;
  for (const i of interfaces) {
    rx += i.rxBytesPerSec;
    tx += i.txBytesPerSec;
    if (i.utilization !== undefined) utilizationMax = Math.max(utilizationMax ?? 0, i.utilization);
  }
  const out: NetworkReading = { interfaces, rxBytesPerSec: rx, txBytesPerSec: tx };
  if (utilizationMax !== undefined) out.utilizationMax = utilizationMax;
  return out;
}

// Reads /proc/net/dev and each physical interface's speed every tick (a link can
// renegotiate). An interface reports from its second reading on and is left out for
// a tick when a counter went backwards (driver reset); it is then classified again,
// in case the name now belongs to another device.
export function createNetworkCollector(options: CollectorOptions = {}): Collector<'network'> {
  const file = procPath(options.procRoot ?? '/proc', 'net/dev');
  const sysRoot = options.sysRoot ?? '/sys';
  const physical = new Map<string, boolean>();
  let previous: { at: number; counters: Map<string, NetCounters> } | undefined;
  return {
    name: NAME,
    collect(monotonicMs) {
      const counters = new Map<string, NetCounters>();
      const seen = new Set<string>();
      for (const c of parseNetDev(readKernelText(NAME, file), file)) {
        seen.add(c.name);
        let isPhysical = physical.get(c.name);
        if (isPhysical === undefined) {
          isPhysical = isPhysicalInterface(c.name, sysRoot);
          physical.set(c.name, isPhysical);
        }
        if (isPhysical) counters.set(c.name, c);
      }
      for (const name of physical.keys()) if (!seen.has(name)) physical.delete(name);
      const before = previous;
      previous = { at: monotonicMs, counters };
      if (before === undefined) return undefined;
      const seconds = (monotonicMs - before.at) / 1000;
      const interfaces: NetInterface[] = [];
      for (const c of counters.values()) {
        const old = before.counters.get(c.name);
        if (old === undefined) continue;
        const rx = ratePerSec(c.rxBytes, old.rxBytes, seconds);
        const tx = ratePerSec(c.txBytes, old.txBytes, seconds);
        if (rx === undefined || tx === undefined) {
          physical.delete(c.name);
          continue;
        }
        const entry: NetInterface = { name: c.name, rxBytesPerSec: rx, txBytesPerSec: tx };
        const speed = readLinkSpeed(c.name, sysRoot);
        if (speed !== undefined) {
          entry.speedBitsPerSec = speed;
          entry.utilization = fraction((Math.max(rx, tx) * 8) / speed);
        }
        interfaces.push(entry);
      }
      if (interfaces.length === 0 && counters.size > 0) return undefined;
      return summarizeInterfaces(interfaces);
    },
  };
}
