// scanStat's reading of each cpuN line's idle + iowait as it was before 2026-12-06
// (b0d152d), kept as the oracle of the reading that replaced it: the same values for
// every text the old one read. Not used by lavarank.
import { scanStat, TIMES_SLOTS, type CpuSet } from '../../src/collectors/cpu.js';
import { EXACT_DIGITS, numberSlots, onlySpacesAndNewlines, u8IndexOf } from '../../src/collectors/text.js';

const SPACE = 32;
const NEWLINE = 10;

// Each cpuN line's idle + iowait as the old scanStat read them, or undefined where it
// left the text to parseStat.
export function referenceCpuIdle(bytes: Buffer, known: CpuSet): number[] | undefined {
  if (!scanStat(bytes, known, numberSlots(TIMES_SLOTS)) || !onlySpacesAndNewlines(bytes)) return undefined;
  const idle: number[] = [];
  let nl = bytes.indexOf(NEWLINE);
  for (const name of known.names) {
    const prefix = Buffer.from(`${name} `, 'latin1');
    let p = nl + 1;
    if (!prefix.equals(bytes.subarray(p, p + prefix.length))) return undefined;
    p += prefix.length;
    nl = u8IndexOf.call(bytes, NEWLINE, p);
    const end = nl < 0 ? bytes.length : nl;
    for (let f = 0; f < 3; f++) {
      const c = bytes[p]! - 48;
      if (!(c >= 0 && c <= 9)) return undefined;
      p = u8IndexOf.call(bytes, SPACE, p) + 1;
      if (p === 0 || p > end) return undefined;
    }
    let start = p;
    let sum = 0;
    for (let c = bytes[p]! - 48; c >= 0 && c <= 9; c = bytes[++p]! - 48) sum = sum * 10 + c;
    if (p === start || p - start > EXACT_DIGITS || bytes[p] !== SPACE) return undefined;
    start = ++p;
    let iowait = 0;
    for (let c = bytes[p]! - 48; c >= 0 && c <= 9; c = bytes[++p]! - 48) iowait = iowait * 10 + c;
    if (p === start || p - start > EXACT_DIGITS || (bytes[p] !== SPACE && p !== nl)) return undefined;
    idle.push(sum + iowait);
  }
  return idle;
}
