// scanDiskstats's reading of io_ticks as it was before 2026-12-06 (b0d152d), kept as the
// oracle of the reading that replaced it: the same values for every text the old one
// read. Since the weighted time (field 14) is read in the same pass, it reads that field
// too, as a counter up to a space or the line's end. Not used by lavarank.
import type { DiskLayout } from '../../src/collectors/disk.js';
import { bytesAt, counterAt, lastLineStartOf, latin1At, onlySpacesAndNewlines, u8IndexOf } from '../../src/collectors/text.js';

const SPACE = 32;
const NEWLINE = 10;
const IO_TICKS = 13;

// The layout's disks' io_ticks and weighted times as the old scanDiskstats read io_ticks
// (sectors off), or undefined where it left the text to parseDiskstats. Each line is looked for from the
// top, not from the old reading's hint: the texts of the tests name each device once.
export function referenceIoTicks(bytes: Buffer, layout: DiskLayout): { ticks: number[]; weighted: number[] } | undefined {
  if (!bytesAt(bytes, layout.last, lastLineStartOf(bytes)) || !onlySpacesAndNewlines(bytes)) return undefined;
  const ticks: number[] = [];
  const weighted: number[] = [];
  for (const d of layout.disks) {
    let at: number;
    if (bytesAt(bytes, d.prefix, 0)) at = 0;
    else {
      at = bytes.indexOf(d.needle);
      if (at < 0) return undefined;
      at++;
    }
    if (latin1At(bytes, at, at + d.prefix.length) !== d.prefix.toString('latin1')) return undefined;
    let p = at + d.prefix.length;
    const newline = u8IndexOf.call(bytes, NEWLINE, p);
    const stop = newline < 0 ? bytes.length : newline;
    for (let field = 4; field <= IO_TICKS; field++) {
      const end = u8IndexOf.call(bytes, SPACE, p);
      if (end <= p || end >= stop) return undefined;
      if (field === IO_TICKS) {
        const value = counterAt(bytes, p, end);
        if (value < 0) return undefined;
        ticks.push(value);
      }
      p = end + 1;
    }
    const next = bytes[p];
    if (p >= stop || next === undefined || next < 48 || next > 57) return undefined;
    let end = u8IndexOf.call(bytes, SPACE, p);
    if (end < 0 || end > stop) end = stop;
    const value = counterAt(bytes, p, end);
    if (value < 0) return undefined;
    weighted.push(value);
  }
  return { ticks, weighted };
}
