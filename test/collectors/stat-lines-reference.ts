// scanStat as it was before 2026-12-06 (perfbig17), its cpuN lines found in the bytes
// (byteIndex, each name compared as two 32-bit words), kept as the oracle of the reading
// that finds them in a latin1 string of the file: the same answer, the same times and
// the same idle + iowait for every text. Not used by lavarank.
import { byteIndex, bytesAt, counterAt, EXACT_DIGITS, onlySpacesAndNewlines } from '../../src/collectors/text.js';

const NL_CPU = Buffer.from('\ncpu', 'latin1');
const CPU = Buffer.from('cpu', 'latin1');
const SPACE = 32;
const SPACE_XOR_0 = SPACE ^ 48;
const NEWLINE = 10;

interface WordSet {
  prefixes: Buffer[];
  words: Int32Array;
}

function wordSet(names: readonly string[]): WordSet {
  const prefixes = names.map((n) => Buffer.from(`${n} `, 'latin1'));
  const words = new Int32Array(prefixes.length * 3);
  prefixes.forEach((prefix, i) => {
    if (prefix.length < 5 || prefix.length > 8) return;
    const padded = Buffer.alloc(8);
    prefix.copy(padded);
    words[i * 3] = padded.readInt32LE(0);
    words[i * 3 + 1] = padded.readInt32LE(4);
    words[i * 3 + 2] = prefix.length === 8 ? -1 : (1 << ((prefix.length - 4) * 8)) - 1;
  });
  return { prefixes, words };
}

// The old scanStat(bytes, cpuSet(names), into, idle).
export function referenceScanStat(bytes: Buffer, names: readonly string[], into: number[], idle?: number[]): boolean {
  if (!bytesAt(bytes, CPU, 0) || bytes[3] !== SPACE) return false;
  let p = 4;
  while (bytes[p] === SPACE) p++;
  const newline = byteIndex(bytes, NEWLINE, p);
  if (newline < 0) return false;
  for (let f = 0; f < 8; f++) {
    let end = byteIndex(bytes, SPACE, p);
    if (end < 0 || end > newline) end = f === 7 ? newline : -1;
    if (end <= p) return false;
    const v = counterAt(bytes, p, end);
    if (v < 0) return false;
    into[f] = v;
    p = end + 1;
  }
  if (names.length === 0) return false;
  if (idle !== undefined && !onlySpacesAndNewlines(bytes)) return false;
  return linesOneByOne(bytes, newline, wordSet(names), idle);
}

function linesOneByOne(bytes: Buffer, newline: number, known: WordSet, idle: number[] | undefined): boolean {
  const prefixes = known.prefixes;
  const words = known.words;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
  const last = bytes.length - 8;
  let nl = newline;
  for (let i = 0; i < prefixes.length; i++) {
    const prefix = prefixes[i]!;
    const length = prefix.length;
    if (nl < 0) return false;
    let p = nl + 1;
    const mask = words[i * 3 + 2]!;
    if (mask !== 0 && p <= last) {
      if (view.getInt32(p, true) !== words[i * 3] || (view.getInt32(p + 4, true) & mask) !== words[i * 3 + 1]) return false;
    } else for (let k = 0; k < length; k++) if (bytes[p + k] !== prefix[k]) return false;
    p += length;
    nl = byteIndex(bytes, NEWLINE, p);
    if (idle === undefined) continue;
    const end = nl < 0 ? bytes.length : nl;
    const user = byteIndex(bytes, SPACE, p);
    if (user <= p) return false;
    const nice = byteIndex(bytes, SPACE, user + 1);
    if (nice <= user + 1) return false;
    const system = byteIndex(bytes, SPACE, nice + 1);
    if (system <= nice + 1 || system >= end) return false;
    p = system + 1;
    let start = p;
    let sum = 0;
    let c = bytes[p]! ^ 48;
    for (; c < 10; c = bytes[++p]! ^ 48) sum = sum * 10 + c;
    if (c !== SPACE_XOR_0 || p === start || p - start > EXACT_DIGITS) return false;
    start = ++p;
    let iowait = 0;
    for (c = bytes[p]! ^ 48; c < 10; c = bytes[++p]! ^ 48) iowait = iowait * 10 + c;
    if (p === start || p - start > EXACT_DIGITS || (c !== SPACE_XOR_0 && p !== nl)) return false;
    idle[i] = sum + iowait;
  }
  return nl < 0 || bytes.indexOf(NL_CPU, nl) < 0;
}
