// scanNetDev as it was before 2026-12-06 (dc2246b), each line's fields checked by one
// regular expression and the 9th found by a second from the 1st's end, kept as the
// oracle of the reading that replaced it: the same answer, the same counters and the
// same hints for every text. Not used by lavarank.
import type { NetLayout, NetScan } from '../../src/collectors/network.js';
import { bytesAt, lastLineStartOf, latin1At, u8IndexOf } from '../../src/collectors/text.js';

const FIELDS = / *\d{1,30}(?: +[^\s|]+){7} +\d{1,30}(?: +[^\s|]+){7,} *$/y;
const TO_RX = / */y;
const TO_TX = /(?: +[^\s|]+){7} +/y;
const HINT_SLACK = 256;
const SPACE = ' ';
const NEWLINE = 10;

function newlines(bytes: Uint8Array): number {
  let count = 0;
  for (let p = u8IndexOf.call(bytes, NEWLINE, 0); p >= 0; p = u8IndexOf.call(bytes, NEWLINE, p + 1)) count++;
  return count;
}

function lineAt(bytes: Buffer, at: number): string {
  const end = u8IndexOf.call(bytes, NEWLINE, at + 1);
  return latin1At(bytes, at, end < 0 ? bytes.length : end);
}

// The old scanNetDev.
export function referenceScanNetDev(bytes: Buffer, layout: NetLayout, into: NetScan): boolean {
  if (!bytesAt(bytes, layout.last, lastLineStartOf(bytes)) || newlines(bytes) !== layout.lines) return false;
  for (let k = 0; k < layout.interfaces.length; k++) {
    const i = layout.interfaces[k]!;
    let line = lineAt(bytes, i.hint);
    if (!line.startsWith(i.needleText)) {
      const needle = Buffer.from(i.needleText, 'latin1');
      let at = bytes.indexOf(needle, Math.max(0, i.hint - HINT_SLACK));
      if (at < 0) at = bytes.indexOf(needle);
      if (at < 0) return false;
      i.hint = at;
      line = lineAt(bytes, at);
    }
    const from = i.needleText.length;
    FIELDS.lastIndex = from;
    if (!FIELDS.test(line)) return false;
    TO_RX.lastIndex = from;
    TO_RX.test(line);
    const rxStart = TO_RX.lastIndex;
    const rxEnd = line.indexOf(SPACE, rxStart);
    TO_TX.lastIndex = rxEnd;
    if (!TO_TX.test(line)) return false;
    const txStart = TO_TX.lastIndex;
    into.rxBytes[k] = Number(line.slice(rxStart, rxEnd));
    into.txBytes[k] = Number(line.slice(txStart, line.indexOf(SPACE, txStart)));
  }
  return true;
}
