// Reading, at every report, a kernel table of one line per named entry (/proc/diskstats,
// /proc/net/dev) of which a collector uses a few lines: those are found through the
// layout of the last full reading (the hot path), and the whole text is parsed again
// only when its lines change. The disk and network collectors share this; what differs
// between them (the parsers, which entries count, the scan) is their TableFormat.
import type { KernelFile } from './procfs.js';
import { sameItems } from './text.js';

// What the hot path knows from the last full reading; at least every entry's name, in order.
export interface TableLayout {
  readonly names: readonly string[];
}

// How one table is read.
export interface TableFormat<L extends TableLayout, S> {
  // Every entry's name in file order, for the periodic check of the whole list.
  names(text: string): string[];
  // The whole text parsed, its new entries classified: the reading of the entries the
  // collector uses, and the layout to read the next one through (undefined: no hot path).
  readAll(text: string): { scan: S; layout: L | undefined };
  // The hot path: the layout's entries read from the bytes into `into`; false when the
  // lines changed (an entry added, one gone, a line not in the kernel's layout), and
  // then readAll reads the text. May update the layout's hints.
  scan(bytes: Buffer, layout: L, into: S): boolean;
  // A reading to scan the layout's entries into, and whether `scan` is one of this layout's.
  scanFor(layout: L): S;
  fits(scan: S, layout: L): boolean;
}

// What a full reading keeps: the entries `keep` accepts, in file order (a name given
// twice keeps its first place and its last counters), every name seen, and whether a
// name was given twice, which is not the kernel's text, so there is then no hot path.
export function keptEntries<T extends { name: string }>(entries: readonly T[], keep: (entry: T) => boolean): { kept: T[]; seen: Set<string>; repeated: boolean } {
  const kept = new Map<string, T>();
  const seen = new Set<string>();
  let repeated = false;
  for (const entry of entries) {
    repeated ||= seen.has(entry.name);
    seen.add(entry.name);
    if (keep(entry)) kept.set(entry.name, entry);
  }
  return { kept: [...kept.values()], seen, repeated };
}

// A reading and when it was made (monotonic ms).
export interface TimedScan<S> {
  at: number;
  scan: S;
}

// How often every name is checked anyway: an entry added anywhere but at the end (not
// what the kernel does) would not change the last line, which the scans check.
export const RECHECK_MS = 10 * 60_000;

// Reads one table at every report, keeping the last two readings: the one before the
// latest is the target of the next scan, so a report allocates no reading of its own.
export class TableReader<L extends TableLayout, S> {
  private layout: L | undefined;
  private checkedAt = 0;
  private latest: TimedScan<S> | undefined;
  private spare: S | undefined;
  // The reading before the latest read(), or undefined after the first.
  before: TimedScan<S> | undefined;

  constructor(
    private readonly file: KernelFile,
    private readonly format: TableFormat<L, S>,
  ) {}

  // Reads the table now (monotonicMs) and returns the reading; `before` is then the one before it.
  read(monotonicMs: number): S {
    const { file, format } = this;
    const bytes = file.bytes();
    let layout = this.layout;
    if (layout !== undefined && monotonicMs - this.checkedAt >= RECHECK_MS) {
      if (sameItems(format.names(bytes.toString('latin1', 0, bytes.length)), layout.names)) this.checkedAt = monotonicMs;
      else layout = undefined;
    }
    let now: S | undefined;
    if (layout !== undefined) {
      const spare = this.spare;
      const into = spare !== undefined && format.fits(spare, layout) ? spare : format.scanFor(layout);
      if (format.scan(bytes, layout, into)) now = into;
    }
    if (now === undefined) {
      const all = format.readAll(bytes.toString('latin1', 0, bytes.length));
      layout = all.layout;
      this.checkedAt = monotonicMs;
      now = all.scan;
    }
    this.layout = layout;
    const before = this.latest;
    this.before = before;
    this.latest = { at: monotonicMs, scan: now };
    this.spare = before?.scan;
    return now;
  }

  // The next read parses the whole text (an entry must be classified again).
  invalidate(): void {
    this.layout = undefined;
  }

  close(): void {
    this.file.close();
  }
}
