// lsf.conf as OpenLava's daemons read it (readconfenv_ and parseLine in
// lsf/lib/lib.initenv.c, line by line through getNextLineC_, as LIM reads lsf.shared):
// KEY=VALUE lines, no blank on either side of "=", a value with blanks in double quotes
// (read by getNextValueQ_, which ends it at a quote: "a"b is a), "#" comments, "\" last
// on a line continuing it, the last line for a key winning. Pure, and small enough for the daemon to load: it
// takes LSF_LOGDIR from here, since LIM does not pass it on.
import { unicodeEscape } from '../util/shown.js';

// OpenLava's configuration files and lavarank's snippets are a few kilobytes; a FIFO or a device there is refused, not waited on.
export const MAX_CONF_BYTES = 4 * 1024 * 1024;

// A value and the line it came from.
export interface Located {
  value: string;
  line: number; // 1-based
}

// A line the daemons refuse (they then refuse the whole file).
export interface RefusedLine {
  where: string; // file:line
  message: string;
}

// The value of each key, the line it came from, and each line the daemons would refuse.
export function readLsfConf(text: string, file: string): { values: Map<string, Located>; refused: RefusedLine[] } {
  const values = new Map<string, Located>();
  const refused: RefusedLine[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const first = i + 1;
    let read = limLine(lines[i] ?? '', false);
    let line = read.text;
    while (read.joins && i + 1 < lines.length) {
      read = limLine(lines[++i] ?? '', read.quoted);
      line += read.text;
    }
    // getNextLineD_ makes every C blank a space and drops those at the end; a line of
    // blanks is skipped. Only C's blanks: a byte order mark or a no-break space is text.
    // A "\" at the end of the file joins nothing. And a last line with no newline that
    // is one byte once its end's blanks are dropped ("X #", "X  "), though not one that
    // was one byte all along, is lost: getNextLineD_ returns NULL for it.
    let raw = line.replace(C_BLANKS, ' ');
    const atEnd = i === lines.length - 1;
    if (atEnd && read.joins) raw = raw.slice(0, -1);
    line = raw.replace(/ +$/, '');
    if (/^ *$/.test(line) || (atEnd && line.length === 1 && line.charCodeAt(0) < 0x80 && raw.length !== 1)) continue;
    const bytes = Buffer.byteLength(line);
    if (bytes > MAX_LINE_BYTES) {
      refused.push({ where: `${file}:${first}`, message: `a line of ${bytes} bytes, over the ${MAX_LINE_BYTES} OpenLava's daemons take, and they refuse the whole file: ${JSON.stringify(line.replace(/^ +/, '').slice(0, 40))}...` });
      continue;
    }
    const parsed = parseLine(line);
    if ('refused' in parsed) {
      // A byte order mark before a comment, or a no-break space, is all such a line may
      // hold: shown escaped, since in quotes either looks like nothing or a blank.
      const shown = JSON.stringify(line.replace(/^ +/, '')).replace(/[\u00A0\uFEFF]/g, unicodeEscape);
      const bom = line.startsWith('\uFEFF') ? ' (a byte order mark, which some editors write first: save the file without it)' : '';
      refused.push({ where: `${file}:${first}`, message: `${parsed.refused}, and OpenLava's daemons refuse the whole file: ${shown}${bom}` });
      continue;
    }
    // "=VALUE" is read as the key "", which names no setting: taken, and ignored.
    if (parsed.key !== '') values.set(parsed.key, { value: parsed.value, line: first });
  }
  return { values, refused };
}

// The longest line parseLine (lsf/lib/lib.initenv.c) takes: it refuses one of
// 8 × PATH_MAX - 1 bytes or more, counted without its comment and its end's blanks,
// before it looks at the key. Checked on OpenLava 4.0's lim -C: 32 766 bytes start.
const MAX_LINE_BYTES = 8 * 4096 - 2;

// C's isspace() in the C locale, which OpenLava's readers use; not Unicode's blanks.
export const C_BLANKS = /[\t\n\v\f\r]/g;

// One line as parseLine (lsf/lib/lib.initenv.c) reads it, its blanks already spaces:
// the key is the first word up to its "="; a blank right after the "=" is refused;
// nothing after it is the empty value; else the value is one getNextValueQ_ word and
// nothing may follow it.
function parseLine(line: string): { key: string; value: string } | { refused: string } {
  const word = line.replace(/^ +/, '').split(' ', 1)[0] ?? '';
  const eq = word.indexOf('=');
  if (eq < 0) return { refused: 'not a KEY=VALUE line (no blanks around "=")' };
  const rest = line.slice(line.indexOf('=') + 1);
  if (rest === '') return { key: word.slice(0, eq), value: '' };
  if (rest.startsWith(' ')) return { refused: 'a blank after "="' };
  const words = rest.split(' ').filter((w) => w !== '');
  const read = nextValueQ(words);
  if (read === undefined) return { refused: 'an unclosed quote' };
  if (read.used < words.length) return { refused: read.quoted ? 'more than one value' : 'more than one value (quote a value with blanks)' };
  return { key: word.slice(0, eq), value: read.value };
}

// getNextValueQ_ (lsf/lib/lib.words.c) on a line's words: a word not starting with
// '"' is the value; else the value starts after that '"' (or is the next word, after
// a '"' alone) and ends at its first '"', or, if it has none, takes further words,
// joined by one blank, up to the last '"' of the first one that holds one (a '"' alone
// ends it there). So "a"b is a, " a" is a, "a   b" is a b. undefined: no closing '"'.
function nextValueQ(words: readonly string[]): { value: string; used: number; quoted: boolean } | undefined {
  const first = words[0] ?? '';
  if (!first.startsWith('"')) return { value: first, used: 1, quoted: false };
  let used = 1;
  let value: string;
  if (first === '"') {
    const next = words[used++];
    if (next === undefined) return undefined;
    value = next;
  } else {
    value = first.slice(1);
  }
  const close = value.indexOf('"');
  if (close >= 0) return { value: value.slice(0, close), used, quoted: true };
  while (used < words.length) {
    const word = words[used++]!;
    if (word === '"') return { value, used, quoted: true };
    value += ` ${word}`;
    const last = value.lastIndexOf('"');
    if (last >= 0) return { value: value.slice(0, last), used, quoted: true };
  }
  return undefined;
}

// True for a value lavarank can use as a path: absolute, with nothing a shell would
// expand ($VAR, `command`), since lsf.conf is never evaluated.
export function isPlainPath(value: string): boolean {
  return value.startsWith('/') && !/[$`]/.test(value);
}

// A setting as OpenLava's daemons take it (initenv_ in lib.initenv.c): the
// environment's when set there, else lsf.conf's; from says which (lsf.conf:line).
export function lsfSetting(key: string, env: NodeJS.ProcessEnv, conf: ReadonlyMap<string, Located>): { value: string; from: string } | undefined {
  const fromEnv = env[key];
  if (fromEnv !== undefined && fromEnv !== '') return { value: fromEnv, from: 'environment' };
  const c = conf.get(key);
  return c === undefined ? undefined : { value: c.value, from: `lsf.conf:${c.line}` };
}

// The directory of lsf.shared and lsf.cluster.<cluster>: LSF_CONFDIR, where LIM reads
// them (readShared, readCluster2 in lim.conf.c), which need not be lsf.conf's directory
// (IBM LSF 10.1: lsf.conf in /etc/lsf, the rest in $LSF_TOP/conf). LIM does not start
// without it (initenv_); then, or when it is not an absolute path (lsf.conf is never
// expanded), lsf.conf's directory envdir is taken, and problem says why.
export function lsfConfdir(envdir: string, env: NodeJS.ProcessEnv, conf: ReadonlyMap<string, Located>): { dir: string; from?: string; problem?: string } {
  const s = lsfSetting('LSF_CONFDIR', env, conf);
  if (s === undefined) {
    return { dir: envdir, problem: `LSF_CONFDIR is set neither in the environment nor in lsf.conf: OpenLava's daemons do not start without it; lsf.shared and lsf.cluster.<cluster> were looked for beside lsf.conf, in ${envdir}` };
  }
  if (!isPlainPath(s.value)) {
    return { dir: envdir, from: s.from, problem: `LSF_CONFDIR ${JSON.stringify(s.value)} (${s.from}) is not an absolute path, and nothing in it is expanded; lsf.shared and lsf.cluster.<cluster> were looked for beside lsf.conf, in ${envdir}` };
  }
  return { dir: s.value, from: s.from };
}

// One physical line as getNextLineD_ (lsf/lib/lib.words.c, confFormat TRUE) reads it,
// with the quote state the line before left: a `#` outside quotes ends it; a `\`
// last on the line joins the next (`\` and newline become a blank); a `\` before a
// blank or a CR is dropped, the blank kept; a `\` before anything else stays, and the
// character after it is taken as it is (neither a quote nor a comment).
export function limLine(line: string, quoted: boolean): { text: string; joins: boolean; quoted: boolean } {
  let text = '';
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (c === '"') quoted = !quoted;
    else if (c === '#' && !quoted) return { text, joins: false, quoted };
    else if (c === '\\') {
      const next = line[++i];
      if (next === undefined) return { text: `${text} `, joins: true, quoted };
      text += /[ \t\v\f\r]/.test(next) ? ' ' : `\\${next}`; // C's isspace(), not Unicode's blanks
      continue;
    }
    text += c;
  }
  return { text, joins: false, quoted };
}

