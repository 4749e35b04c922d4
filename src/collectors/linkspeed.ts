// The link speed of each physical network interface, read off the daemon's thread.
//
// Reading /sys/class/net/<if>/speed runs the driver's get_link_ksettings under the
// kernel's rtnl lock, taken with rtnl_trylock() and restart_syscall() (speed_show in
// net/core/net-sysfs.c; newer kernels wait for the lock instead). While another task
// holds that lock (a driver or firmware reset, a node busy with netlink traffic), the
// read is restarted again and again and does not return: for more than 5 s on busy
// nodes (prometheus/node_exporter#2477), for as long as the lock is held after a
// driver fault. Read synchronously, as every other kernel file here is, it would hold
// the daemon, its reports and SIGTERM for that long while LIM kept the last rank.
// So the speeds are read with fs.read, in libuv's thread pool, one at a time so
// that a read that never returns holds one thread and no others queue behind it, and
// the network collector uses the last speed read. The other files of a report take no
// such lock and stay synchronous (src/collectors/procfs.ts).
import { closeSync, read } from 'node:fs';
import { holdExit } from '../util/exit.js';
import { onKernelFs, openKernelFile, procPath } from './procfs.js';
import { toNumber } from './text.js';
import type { SpeedRead } from './types.js';

// A link's speed is read again at most this often while it moves bytes: links
// renegotiate rarely, and a report reading every NIC's speed cost tens of µs each.
export const SPEED_CHECK_MS = 60_000;
// A read that has not returned after this long is logged (once, and when it returns).
export const SPEED_STUCK_MS = 60_000;

// Parses /sys/class/net/<if>/speed (Mb/s) into bits per second, or undefined when the
// speed is unknown: -1 (SPEED_UNKNOWN, link down), 0, or the 65535 and 4294967295
// that older drivers print for unknown.
export function parseLinkSpeed(text: string): number | undefined {
  const mbps = toNumber(text.trim());
  if (mbps === undefined || mbps <= 0 || mbps === 65535 || mbps === 4294967295) return undefined;
  return mbps * 1e6;
}

// What reads one speed file (SpeedRead) is replaced in tests by one that never calls
// back, as the kernel does while the rtnl lock is held.
export type { SpeedRead } from './types.js';

// A speed file is "%d\n": a few bytes, printed whole at offset 0 (sysfs attributes are).
const SPEED_BYTES = 64;

// The default reader, and what it keeps open.
interface SpeedFiles {
  read: SpeedRead;
  // Closes the path's descriptor kept open and forgets keepOpen's answer for it (its
  // device may be gone, or its name another's).
  drop(path: string): void;
  close(): void;
}

// Opens a speed file on the caller's thread (opening a sysfs attribute takes no rtnl
// lock: only its show(), at read, does), keeps it open where keepOpen says (procfs and
// sysfs, as kernelFile does), and reads it at offset 0 in the thread pool: one step
// there per read, not three. A failed read closes it; the next read opens it again.
function speedFiles(keepOpen: (path: string) => boolean): SpeedFiles {
  const kept = new Map<string, number>();
  // keepOpen's answer for each path, asked once while its link is known and dropped
  // with it: physical names come and go for good (a VF the kernel moves back from a
  // dead container's namespace takes dev<ifindex> where its name is taken), and kept
  // for every name ever seen they held about 90 bytes each for the daemon's life.
  const keeps = new Map<string, boolean>();
  const buffer = Buffer.alloc(SPEED_BYTES); // one read at a time (createLinkSpeeds)
  let inFlight: number | undefined; // the descriptor being read
  return {
    read(path, done) {
      let fd = kept.get(path);
      if (fd === undefined) {
        try {
          fd = openKernelFile('network', path); // O_NONBLOCK: a FIFO planted there answers at once
        } catch (err) {
          return done(err as Error);
        }
        let keep = keeps.get(path);
        if (keep === undefined) keeps.set(path, (keep = keepOpen(path)));
        if (keep) kept.set(path, fd);
      }
      const reading = fd;
      inFlight = reading;
      // Until it returns, the process ends by SIGKILL: process.exit would wait for it.
      const release = holdExit();
      read(reading, buffer, 0, SPEED_BYTES, 0, (err, n) => {
        release();
        inFlight = undefined;
        // Not kept, failed, or dropped or closed while in flight: closed now.
        if (err !== null || kept.get(path) !== reading) {
          if (kept.get(path) === reading) kept.delete(path);
          closeSync(reading);
        }
        done(err, err === null ? buffer.toString('latin1', 0, n) : undefined);
      });
    },
    drop(path) {
      keeps.delete(path);
      const fd = kept.get(path);
      if (fd === undefined) return;
      kept.delete(path);
      if (fd !== inFlight) closeSync(fd); // else its read's return closes it
    },
    close() {
      for (const fd of kept.values()) if (fd !== inFlight) closeSync(fd);
      kept.clear();
    },
  };
}

export interface LinkSpeedOptions {
  sysRoot: string;
  read?: SpeedRead; // default: read in the thread pool, the file kept open where keepOpen says
  keepOpen?: (path: string) => boolean; // default onKernelFs
  // Where a read that has not returned after SPEED_STUCK_MS is told, and its return.
  warn?: (message: string) => void;
}

// What the network collector asks of the speeds.
export interface LinkSpeeds {
  // The last speed read of the link, bits/s; undefined while unknown: never read yet, or
  // the kernel does not know it (link down, a virtual NIC's -1, no speed file).
  speed(name: string): number | undefined;
  // Called once per report with its time, before report(): tells a read stuck for
  // SPEED_STUCK_MS to options.warn.
  at(monotonicMs: number): void;
  // Tells whether the link moved bytes in this report, and asks for its speed to be read
  // when it has never been asked for, or when it moves and either did not at its last
  // report (it may have just come up; so does a link whose read when it was found, or when
  // its counters went back, found no speed) or was last asked for SPEED_CHECK_MS ago or
  // more. An idle link's utilization is 0 whatever its speed: it is not read.
  report(name: string, moved: boolean): void;
  // Drops what is known of the link (it went away, or is not a physical link any more).
  forget(name: string): void;
  // Reads the link's speed again at once, through a file opened afresh, keeping the last
  // one until then: its counters went back, and its name may be another device's now.
  renew(name: string): void;
  // Resolves once no read is in flight or waiting (after close, once the read in flight
  // has returned and closed its descriptor): for tests.
  settled(): Promise<void>;
  // Reads nothing more; a read in flight is left to return (it cannot be cancelled).
  close(): void;
}

// One link's speed and the state its reads are asked by (exported for its stages' tests).
export interface Link {
  readonly name: string;
  readonly path: string;
  speed: number | undefined;
  askedAt: number; // report time of the last read asked for
  moving: boolean; // moved bytes at its last report (taken as true before the first)
  queued: boolean;
  unsure: boolean; // read only when found or when its counters went back, not yet at its first bytes since
}

// Whether a known link's report at now asks for its speed to be read (LinkSpeeds.report
// says when), its moving flag updated; a read asked is a sure one (unsure cleared).
export function asksForRead(link: Link, moved: boolean, now: number): boolean {
  const wasMoving = link.moving;
  link.moving = moved;
  if (!moved || link.queued || (wasMoving && now - link.askedAt < SPEED_CHECK_MS)) return false;
  link.unsure = false;
  return true;
}

// What a returned read of speed (undefined: none) does to the link: a link found, or whose
// counters went back, may be down for a few seconds more (a driver reload: the link
// negotiates): a read then that finds no speed keeps the last one, and the link is read
// again at its first bytes, as a link that comes up. Until 2026-12-05 a 100 Gb/s link's
// speed stayed unknown until SPEED_CHECK_MS later, and its traffic read as a full link
// against LEARNED_FLOOR for as long.
export function takeReadSpeed(link: Link, speed: number | undefined): void {
  if (speed !== undefined || !link.unsure) link.speed = speed;
  else link.moving = false;
}

// The speeds of the links named to report(), read one at a time.
export function createLinkSpeeds(options: LinkSpeedOptions): LinkSpeeds {
  const files = options.read === undefined ? speedFiles(options.keepOpen ?? onKernelFs) : undefined;
  const readSpeed = options.read ?? files!.read;
  const links = new Map<string, Link>();
  const queue: Link[] = [];
  let reading: Link | undefined; // the read in flight
  let readingSince = 0; // the report time at which it started
  let now = 0; // the latest report time seen
  let toldStuck = false;
  let closed = false;
  let waiters: (() => void)[] = [];

  function settle(): void {
    const done = waiters;
    waiters = [];
    for (const resolve of done) resolve();
  }

  function next(): void {
    if (reading !== undefined) return;
    const link = closed ? undefined : queue.shift();
    if (link === undefined) {
      settle();
      return;
    }
    reading = link;
    readingSince = now;
    const done = (err: Error | null, text?: string): void => {
      if (reading !== link) return; // called back twice
      reading = undefined;
      link.queued = false;
      if (toldStuck) {
        toldStuck = false;
        // After close nothing is read again: a stopping daemon says nothing more of it.
        if (!closed) options.warn?.(`reading ${link.path} returned, ${Math.round((now - readingSince) / 1000)} s or more after it started; link speeds are read again`);
      }
      // The kernel answers EINVAL while the link is down or the driver has no speed, and
      // the file is missing on old kernels: all mean "unknown", as any failure does.
      const speed = err === null && text !== undefined ? parseLinkSpeed(text) : undefined;
      if (links.get(link.name) === link) takeReadSpeed(link, speed);
      next();
    };
    try {
      readSpeed(link.path, done);
    } catch (err) {
      done(err instanceof Error ? err : new Error(String(err))); // a path fs refuses outright: unknown, as a failed read
    }
  }

  function stuck(): void {
    if (reading === undefined || toldStuck || now - readingSince < SPEED_STUCK_MS) return;
    toldStuck = true;
    options.warn?.(
      `reading ${reading.path} has not returned for ${Math.round((now - readingSince) / 1000)} s (a driver holding the kernel's rtnl lock?); ` +
        'the last link speeds are used and none is read again until it returns',
    );
  }

  return {
    speed: (name) => links.get(name)?.speed,
    at(monotonicMs) {
      now = monotonicMs;
      stuck();
    },
    report(name, moved) {
      if (closed) return;
      let link = links.get(name);
      if (link === undefined) {
        link = { name, path: procPath(options.sysRoot, 'class/net', name, 'speed'), speed: undefined, askedAt: now, moving: true, queued: false, unsure: true };
        links.set(name, link);
      } else if (!asksForRead(link, moved, now)) return;
      link.askedAt = now;
      link.queued = true;
      queue.push(link);
      next();
    },
    renew(name) {
      const link = links.get(name);
      if (link === undefined || closed) return;
      files?.drop(link.path);
      link.unsure = true;
      if (link.queued) return;
      link.askedAt = now;
      link.queued = true;
      queue.push(link);
      next();
    },
    forget(name) {
      const link = links.get(name);
      if (link === undefined) return;
      links.delete(name);
      files?.drop(link.path);
      const at = queue.indexOf(link);
      if (at >= 0) queue.splice(at, 1);
    },
    settled() {
      if (reading === undefined && queue.length === 0) return Promise.resolve();
      return new Promise((resolve) => waiters.push(resolve));
    },
    close() {
      closed = true;
      queue.length = 0;
      links.clear();
      files?.close();
      next();
    },
  };
}
