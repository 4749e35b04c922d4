// scanMeminfo as it was before 2026-12-06 (63c0aba), each name found with Buffer's
// lastIndexOf, kept as the oracle of the reading that replaced it: the same answer and
// the same values for every text. Not used by lavarank.
import { MEMINFO_SLOTS } from '../../src/collectors/memory.js';
import { bytesAt, latin1At, numberSlots, u8IndexOf } from '../../src/collectors/text.js';

const MEMINFO_NAMES = ['MemTotal:', 'MemFree:', 'MemAvailable:', 'Buffers:', 'Cached:', 'SwapTotal:', 'SwapFree:'].map((k) => Buffer.from(k, 'latin1'));
const MEMINFO_AFTER_NEWLINE = MEMINFO_NAMES.map((k) => Buffer.concat([Buffer.from('\n'), k]));
const PADDED_COUNT = /^ *\d{1,30}$/;
const SPACE = 32;
const NEWLINE = 10;
const LETTER_K = 107;
const LETTER_B = 66;

function bytesValueAt(bytes: Buffer, key: Buffer, afterNewline: Buffer): number {
  const at = bytes.lastIndexOf(afterNewline);
  if (at >= 0) return at + afterNewline.length;
  return bytesAt(bytes, key, 0) ? key.length : -1;
}

// The old scanMeminfo's answer and the slots it left (those it wrote before a false too).
export function referenceMeminfo(bytes: Buffer): { read: boolean; slots: Array<number | undefined> } {
  const into: Array<number | undefined> = numberSlots(MEMINFO_SLOTS);
  for (let i = 0; i < MEMINFO_NAMES.length; i++) {
    const at = bytesValueAt(bytes, MEMINFO_NAMES[i]!, MEMINFO_AFTER_NEWLINE[i]!);
    if (at < 0) return { read: false, slots: into };
    const newline = u8IndexOf.call(bytes, NEWLINE, at);
    const end = newline - 3;
    if (end <= at || bytes[end] !== SPACE || bytes[end + 1] !== LETTER_K || bytes[end + 2] !== LETTER_B) return { read: false, slots: into };
    const text = latin1At(bytes, at, end);
    if (!PADDED_COUNT.test(text)) return { read: false, slots: into };
    into[i] = Number(text) * 1024;
  }
  return { read: into[0]! > 0, slots: into };
}
