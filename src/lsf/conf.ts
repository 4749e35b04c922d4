// Reading and editing OpenLava's configuration files as text, for
// `lavarank install --merge-conf`. Everything lavarank adds sits between
// marker lines, and a line it had to replace is kept inside the block as a
// `#lavarank-was: ` comment, so removing the blocks gives back the file as it
// was, byte for byte. A merge first removes any earlier blocks and then adds
// them again, which makes it idempotent.
//
// Lines keep their own line ending: a file whose line ends are mostly CRLF gets
// CRLF lines from the merge too, any other file LF ones. OpenLava reads both
// (lib.words.c and lib.wconf.c turn the CR into a blank, which a line's end drops).
//
// The parsing follows OpenLava 4.0's lib.words.c and lim.conf.c: `#` outside
// double quotes (in lsb.queues and lsb.params, anywhere) starts a comment, a trailing `\` joins the
// next line (as the daemon reading the file does it: see ConfReader), section
// and keyword names are case-insensitive, a table row's values map to the
// header's keywords by position, `(...)` is one value, `-` and `()` are empty,
// and resource and queue names are case-sensitive.
import { ConfigError } from '../util/errors.js';
import { limLine } from './lsf-conf.js';
import { parseResReq } from './res-req.js';

// The lines that open and close each block lavarank adds to a configuration file, and
// the prefix of a site's line the block replaced, kept as a comment for --uninstall.
export const BLOCK_BEGIN = '# >>> lavarank';
export const BLOCK_END = '# <<< lavarank';
export const WAS_PREFIX = '#lavarank-was: ';

// One row of a table section (Resource, ResourceMap, Cluster) or one KEY = VALUE line.
export interface ConfRow {
  first: number; // index of its first physical line
  last: number; // index of its last physical line (after `\` continuations)
  values: string[]; // as written, `(...)` kept; use valueText() for the content
}

// A `Begin X` ... `End X` section.
export interface ConfSection {
  name: string; // as written after Begin
  begin: number; // line index of Begin
  end: number; // line index of End
  header?: ConfRow; // the keyword line of a table section
  rows: ConfRow[]; // the other lines
}

interface LogicalLine {
  first: number;
  last: number;
  text: string;
}

// Which daemon's reading a file gets, for the one place they differ: a `\` followed
// by blanks or a CR (a CRLF file) before the newline.
// - 'lim': LIM reads lsf.shared and lsf.cluster.<cluster> with getNextLineC_ (via
//   getBeginLine, lsf/lib/lib.confmisc.c), that is getNextLineD_ in
//   lsf/lib/lib.words.c: a `\` joins the next line only when the newline follows it
//   at once; a `\` before a blank or a CR is dropped, the blank kept, and the line
//   ends at its newline.
// - 'mbatchd': mbatchd reads lsb.queues with ls_getconf (lsf/lib/lib.wconf.c), which
//   stores each line with its CR and trailing blanks removed, then getNextLineC_conf
//   joins a stored line that ends in `\`: there `\` + blanks or CR does join.
export type ConfReader = 'lim' | 'mbatchd';

// A physical line without its comment as mbatchd reads lsb.queues and lsb.params
// (getNextLineC_conf, lsf/lib/lib.wconf.c): a `#` starts one wherever it is, inside
// double quotes too, where LIM's getNextLineD_ (limLine) keeps it.
function stripComment(line: string): string {
  const at = line.indexOf('#');
  return at < 0 ? line : line.slice(0, at);
}

function logicalLines(lines: readonly string[], reader: ConfReader): LogicalLine[] {
  const out: LogicalLine[] = [];
  for (let i = 0; i < lines.length; i++) {
    const first = i;
    let text: string;
    if (reader === 'lim') {
      let line = limLine(lines[i] ?? '', false);
      text = line.text;
      while (line.joins && i + 1 < lines.length) {
        line = limLine(lines[++i] ?? '', line.quoted);
        text += line.text;
      }
    } else {
      text = stripComment(lines[i] ?? '');
      while (/\\\s*$/.test(text) && i + 1 < lines.length) {
        text = text.replace(/\\\s*$/, ' ') + stripComment(lines[++i] ?? '');
      }
    }
    if (text.trim() !== '') out.push({ first, last: i, text: text.trim() });
  }
  return out;
}

// Splits a row into values the way getNextValue() does: words, or `(` ... `)` as one.
export function splitValues(text: string): string[] {
  const values: string[] = [];
  const re = /\([^)]*\)?\S*|\S+/g;
  for (const m of text.matchAll(re)) values.push(m[0]);
  return values;
}

// The content of a value: `-` and `()` are empty, `(a b)` is `a b`.
export function valueText(value: string): string {
  if (value === '-') return '';
  if (value.startsWith('(')) return value.slice(1, value.includes(')') ? value.indexOf(')') : undefined).trim();
  return value;
}

function firstWord(text: string): string {
  return (text.split(/\s+/, 1)[0] ?? '').toLowerCase();
}

// Splits text into lines; the last element is '' when the text ends with a newline.
// A CRLF line keeps its CR, so a line lavarank did not write comes back as it was.
export function splitLines(text: string): string[] {
  return text.split('\n');
}

// True when most of the text's line ends are CRLF; a tie, or no line end, is LF.
// By majority rather than by the first line, so one line pasted from elsewhere
// does not decide for the file; lines the merge adds keep the majority as it was.
function usesCrlf(text: string): boolean {
  const crlf = text.split('\r\n').length - 1;
  const all = text.split('\n').length - 1;
  return crlf > all - crlf;
}

// The lines with the CR of a CRLF file added where it is missing.
function withLineEnd(lines: readonly string[], crlf: boolean): string[] {
  return crlf ? lines.map((line) => (line.endsWith('\r') ? line : `${line}\r`)) : [...lines];
}

// The sections of a configuration file, as reader reads it. Throws ConfigError naming
// the file and line for a section that never ends; lineOf gives the 1-based line in the
// file of a line of text (lineInFile, when text is the file without lavarank's blocks).
export function parseSections(text: string, file: string, reader: ConfReader, lineOf = (index: number): number => index + 1): ConfSection[] {
  const sections: ConfSection[] = [];
  let open: ConfSection | undefined;
  for (const line of logicalLines(splitLines(text), reader)) {
    const word = firstWord(line.text);
    if (open === undefined) {
      if (word === 'begin') {
        const name = line.text.split(/\s+/)[1] ?? '';
        open = { name, begin: line.first, end: -1, rows: [] };
      }
      continue;
    }
    if (word === 'end') {
      open.end = line.first;
      sections.push(open);
      open = undefined;
      continue;
    }
    const row: ConfRow = { first: line.first, last: line.last, values: splitValues(line.text) };
    if (open.header === undefined && open.rows.length === 0 && !line.text.includes('=')) open.header = row;
    else open.rows.push(row);
  }
  if (open !== undefined) {
    throw new ConfigError(`${file} line ${lineOf(open.begin)}: section "Begin ${open.name}" has no End line`);
  }
  return sections;
}

function sectionsNamed(sections: readonly ConfSection[], name: string): ConfSection[] {
  return sections.filter((s) => s.name.toLowerCase() === name.toLowerCase());
}

function column(section: ConfSection, key: string): number {
  return (section.header?.values ?? []).findIndex((k) => k.toUpperCase() === key);
}

// Why LIM ignores a table row, for a message, or undefined when it reads it: mapValues
// (lsf/lib/lib.confmisc.c) ignores a row with more or fewer values than the header has
// keywords ("values do not match keys ... ignoring line"), so a name on such a row is
// neither declared nor mapped. A `(` value left open counts as no value (getNextValue
// gives up on it): a `#` in a DESCRIPTION starts a comment, which takes the `)` away.
export function rowMismatch(section: ConfSection, row: ConfRow): string | undefined {
  const open = row.values.some((v) => v.startsWith('(') && !v.includes(')'));
  const keys = section.header?.values.length ?? 0;
  if (!open && section.header !== undefined && row.values.length === keys) return undefined;
  return `${row.values.length} values under a header of ${keys} keywords${open ? ', one of them a "(" left open (a "#" inside it starts a comment)' : ''}`;
}

// Whether LIM takes a Resource row's INTERVAL: none (a static resource), or one
// whose atoi() is above 0; doresources (lsf/lim/lim.conf.c) ignores the line otherwise.
export function intervalAccepted(interval: string): boolean {
  return interval === '' || Number.parseInt(interval, 10) > 0;
}

// Why LIM ignores a Resource row whose values fit its header, or undefined when it takes
// it (doresources, lsf/lim/lim.conf.c, after the INTERVAL of intervalAccepted): a TYPE
// other than Boolean, String or Numeric (any case) or "!"; a Numeric one whose
// INCREASING is not Y or N (any case), or missing; a RELEASE other than Y or N, or
// given to a resource that is not Numeric. get gives a column's value, '' for none.
export function resourceIgnored(get: (key: string) => string): string | undefined {
  const type = get('TYPE');
  if (type === '!') return undefined; // an external resource: taken before the other columns are looked at
  if (type !== '' && !['boolean', 'string', 'numeric'].includes(type.toLowerCase())) return `TYPE ${type}, not Boolean, String or Numeric`;
  const numeric = type.toLowerCase() === 'numeric';
  const increasing = get('INCREASING');
  if (numeric && !/^[YN]$/i.test(increasing)) return increasing === '' ? 'no INCREASING (Y or N), which a Numeric resource needs' : `INCREASING ${increasing}, not Y or N`;
  const release = get('RELEASE');
  if (release !== '' && !numeric) return `RELEASE ${release}, which only a Numeric resource may have`;
  if (release !== '' && !/^[YN]$/i.test(release)) return `RELEASE ${release}, not Y or N`;
  return undefined;
}

function cell(section: ConfSection, row: ConfRow, key: string): string | undefined {
  const i = column(section, key);
  const value = i < 0 ? undefined : row.values[i];
  return value === undefined ? undefined : valueText(value);
}

// Removes every lavarank block, putting back the lines it had replaced.
// Throws ConfigError for markers that do not pair up.
export function removeBlocks(text: string, file: string): string {
  const out: string[] = [];
  let openedAt = -1;
  const lines = splitLines(text);
  lines.forEach((line, i) => {
    if (line.startsWith(BLOCK_BEGIN)) {
      if (openedAt >= 0) throw new ConfigError(`${file} line ${i + 1}: a lavarank block starts inside the one from line ${openedAt + 1}`);
      openedAt = i;
    } else if (line.startsWith(BLOCK_END)) {
      if (openedAt < 0) throw new ConfigError(`${file} line ${i + 1}: a lavarank block ends that never started`);
      openedAt = -1;
    } else if (openedAt < 0) {
      out.push(line);
    } else if (line.startsWith(WAS_PREFIX)) {
      out.push(line.slice(WAS_PREFIX.length));
    }
  });
  if (openedAt >= 0) throw new ConfigError(`${file} line ${openedAt + 1}: a lavarank block never ends (no "${BLOCK_END}" line)`);
  // A block that ends a file without a final newline was appended after the file's
  // last line, whose line end came with the block (see appendAtEnd): in a CRLF file
  // its CR goes too.
  const last = out.length - 1;
  if (lines.at(-1)?.startsWith(BLOCK_END) === true && usesCrlf(text) && out[last]?.endsWith('\r') === true) {
    out[last] = out[last]!.slice(0, -1);
  }
  return out.join('\n');
}

// A marked block. The replaced lines keep their own line ends, so that removing the
// block gives them back byte for byte; the others get the file's.
function block(crlf: boolean, origin: string, body: readonly string[], replaced: readonly string[] = []): string[] {
  return [
    ...withLineEnd([`${BLOCK_BEGIN}: added by "lavarank install --merge-conf" from ${origin}; "--uninstall --merge-conf" removes it`], crlf),
    ...replaced.map((line) => WAS_PREFIX + line),
    ...withLineEnd([...body, BLOCK_END], crlf),
  ];
}

// Lays a row out under the header's columns, filling columns the row lacks with `()`.
function formatRow(header: ConfRow, headerLine: string, values: ReadonlyMap<string, string>): string {
  const starts: number[] = [];
  let from = 0;
  for (const key of header.values) {
    const at = headerLine.indexOf(key, from);
    starts.push(at);
    from = at + key.length;
  }
  let line = '';
  header.values.forEach((key, i) => {
    const value = values.get(key.toUpperCase()) ?? '()';
    const start = starts[i] ?? 0;
    if (i > 0) line += line.length < start ? ' '.repeat(start - line.length) : ' ';
    line += value;
  });
  return line.trimEnd();
}

interface Edit {
  first: number; // replace lines first..last (inclusive); last = first - 1 inserts before first
  last: number;
  lines: string[];
}

function applyEdits(lines: readonly string[], edits: Edit[]): string {
  const out = [...lines];
  for (const edit of [...edits].sort((a, b) => b.first - a.first)) {
    out.splice(edit.first, edit.last - edit.first + 1, ...edit.lines);
  }
  return out.join('\n');
}

// Inserts lines after the file's last line, before its final newline if it has
// one; nothing outside the block changes, so removing the block restores the file.
// Without a final newline the file still ends without one, after the block; in a
// CRLF file the old last line then gets the CR of its new line end, which
// removeBlocks takes off again.
function appendAtEnd(lines: readonly string[], added: readonly string[], crlf: boolean): Edit {
  const at = lines.length > 0 && lines[lines.length - 1] === '' ? lines.length - 1 : lines.length;
  if (!crlf || at === 0 || at < lines.length) return { first: at, last: at - 1, lines: [...added] };
  const end = added.length - 1;
  return { first: at - 1, last: at - 1, lines: [`${lines[at - 1]}\r`, ...added.map((line, i) => (i === end ? line.replace(/\r$/, '') : line))] };
}

// The outcome of merging one file.
export interface MergeResult {
  text: string; // the new content (equal to the input when nothing changes)
  warnings: string[]; // a line of the site's that lavarank had to change, and why
  notes: string[]; // things found and left alone
}

function rowMap(section: ConfSection, row: ConfRow): Map<string, string> {
  const map = new Map<string, string>();
  (section.header?.values ?? []).forEach((key, i) => {
    const value = row.values[i];
    if (value !== undefined) map.set(key.toUpperCase(), value);
  });
  return map;
}

// One table merge: the site's file without lavarank's blocks, its sections of
// one name, the snippet's table of that name, and what the merge does.
interface TableMerge {
  origin: string;
  pristine: string;
  lines: string[];
  crlf: boolean; // the file's lines end in CRLF
  sections: ConfSection[];
  target: ConfSection | undefined; // the first section with a header: new rows go there
  wanted: ConfSection;
  snippetLines: string[];
  edits: Edit[];
  warnings: string[];
  notes: string[];
  line: (index: number) => number; // the 1-based line in the file of a line of pristine
  replaced: (index: number) => boolean; // whether that line came back from a `#lavarank-was:` line
}

function startTableMerge(text: string, file: string, snippet: string, origin: string, name: string, required: readonly string[]): TableMerge {
  const pristine = removeBlocks(text, file);
  const kept = keptLines(text);
  const line = lineInFile(text, kept);
  // An earlier merge replaced such a line, and warned then. A merge by a new release
  // rewrites every block (their comment lines name its path), and would otherwise warn
  // again of a rank declared N, or mapped, that the file no longer holds.
  const replaced = (index: number): boolean => kept[index]?.replaced === true;
  // Resource in lsf.shared, ResourceMap in lsf.cluster.<cluster>: files LIM reads.
  const sections = sectionsNamed(parseSections(pristine, file, 'lim', line), name);
  const [wanted] = sectionsNamed(parseSections(snippet, origin, 'lim'), name);
  if (wanted?.header === undefined) throw new ConfigError(`${origin}: no "Begin ${name}" table in the snippet`);
  const target = sections.find((s) => s.header !== undefined);
  const header = target?.header;
  if (target !== undefined && header !== undefined) {
    for (const key of required) {
      if (column(target, key) < 0) {
        throw new ConfigError(`${file} line ${line(header.first)}: the ${name} section has no ${key} column, which lavarank's lines need`);
      }
    }
  }
  const lines = splitLines(pristine);
  return { origin, pristine, lines, crlf: usesCrlf(pristine), sections, target, wanted, snippetLines: splitLines(snippet), edits: [], warnings: [], notes: [], line, replaced };
}

// The first row LIM reads, in any of the sections, whose RESOURCENAME is name. A row
// naming it that LIM ignores (rowMismatch) gets a note, since lavarank's line is then added.
function findRow(m: TableMerge, file: string, name: string): { section: ConfSection; row: ConfRow } | undefined {
  for (const section of m.sections) {
    for (const row of section.rows) {
      if (cell(section, row, 'RESOURCENAME') !== name) continue;
      const mismatch = rowMismatch(section, row);
      const ignored = m.wanted.name.toLowerCase() === 'resource' && mismatch === undefined ? resourceIgnored((key) => cell(section, row, key) ?? '') : undefined;
      if (ignored !== undefined) {
        m.notes.push(`${file} line ${m.line(row.first)} declares ${name} with ${ignored}; LIM ignores such a line, so it is left as it is and lavarank's line is added.`);
        continue;
      }
      if (mismatch === undefined) return { section, row };
      m.notes.push(
        `${file} line ${m.line(row.first)} names ${name} with ${mismatch}; ` +
          `LIM ignores such a line ("values do not match keys"), so it is left as it is and does not count.`,
      );
    }
  }
  return undefined;
}

// Adds rows before the End line of the target section, or, if the file has no
// such section, a whole one laid out like the snippet's at the end of the file.
function addRows(m: TableMerge, rows: ReadonlyArray<ReadonlyMap<string, string>>): void {
  if (rows.length === 0) return;
  const header = m.target?.header;
  if (m.target !== undefined && header !== undefined) {
    const formatted = rows.map((want) => formatRow(header, m.lines[header.first] ?? '', want));
    m.edits.push({ first: m.target.end, last: m.target.end - 1, lines: block(m.crlf, m.origin, formatted) });
    return;
  }
  const snippetHeader = m.wanted.header;
  const headerLine = m.snippetLines[snippetHeader?.first ?? 0] ?? '';
  const formatted = rows.map((want) => (snippetHeader === undefined ? '' : formatRow(snippetHeader, headerLine, want)));
  const body = [`Begin ${m.wanted.name}`, headerLine.trimEnd(), ...formatted, `End ${m.wanted.name}`];
  m.edits.push(appendAtEnd(m.lines, block(m.crlf, m.origin, body), m.crlf));
}

function finish(m: TableMerge): MergeResult {
  return { text: m.edits.length === 0 ? m.pristine : applyEdits(m.lines, m.edits), warnings: m.warnings, notes: m.notes };
}

// The 1-based line in text of a line of removeBlocks(text), by its 0-based index there
// (a line past them, which a merge appended, by its index alone).
export function lineInFile(text: string, kept = keptLines(text)): (index: number) => number {
  return (index) => (kept[index]?.line ?? index) + 1;
}

// Where each line of the text with lavarank's blocks taken out (removeBlocks) is in
// the text itself: its 0-based line there, and whether it came back from a
// `#lavarank-was:` line (an earlier merge replaced it). Messages give the line as the
// file has it, which is where an administrator looks.
function keptLines(text: string): Array<{ line: number; replaced: boolean }> {
  const kept: Array<{ line: number; replaced: boolean }> = [];
  let inBlock = false;
  splitLines(text).forEach((line, i) => {
    if (line.startsWith(BLOCK_BEGIN)) inBlock = true;
    else if (line.startsWith(BLOCK_END)) inBlock = false;
    else if (!inBlock || line.startsWith(WAS_PREFIX)) kept.push({ line: i, replaced: inBlock });
  });
  return kept;
}

// Merges the snippet's Resource rows into lsf.shared. `ordered` is the resource
// whose INCREASING direction decides where jobs go: declared the other way, it is
// fixed (the old line kept in the block); a resource of the same name but another
// TYPE, or static where the snippet's is dynamic, is a conflict.
export function mergeResources(text: string, file: string, snippet: string, origin: string, ordered: string): MergeResult {
  const m = startTableMerge(text, file, snippet, origin, 'Resource', ['RESOURCENAME', 'TYPE', 'INTERVAL', 'INCREASING']);
  const missing: Array<Map<string, string>> = [];
  for (const row of m.wanted.rows) {
    const want = rowMap(m.wanted, row);
    const name = valueText(want.get('RESOURCENAME') ?? '');
    const found = findRow(m, file, name);
    if (found === undefined) {
      missing.push(want);
      continue;
    }
    const where = `${file} line ${m.line(found.row.first)}`;
    const type = cell(found.section, found.row, 'TYPE') ?? '';
    const wantType = valueText(want.get('TYPE') ?? '');
    if (type.toLowerCase() !== wantType.toLowerCase()) {
      throw new ConfigError(`${where} declares ${name} as ${type || 'untyped'}, but lavarank needs ${name} ${wantType}; rename or remove that resource first`);
    }
    const interval = cell(found.section, found.row, 'INTERVAL') ?? '';
    if (valueText(want.get('INTERVAL') ?? '') !== '' && interval === '') {
      throw new ConfigError(`${where} declares ${name} without an INTERVAL (a static resource); lavarank needs it dynamic, as in ${origin}`);
    }
    if (!intervalAccepted(interval)) {
      throw new ConfigError(`${where} declares ${name} with INTERVAL ${interval}, not a whole number of seconds above 0, so LIM ignores that line and ${name} is not declared; give it the INTERVAL in ${origin}`);
    }
    const increasing = (cell(found.section, found.row, 'INCREASING') ?? '').toUpperCase();
    const wantIncreasing = valueText(want.get('INCREASING') ?? '').toUpperCase();
    const header = found.section.header;
    if (name === ordered && increasing !== wantIncreasing && header !== undefined) {
      m.edits.push({
        first: found.row.first,
        last: found.row.last,
        lines: block(m.crlf, origin, [formatRow(header, m.lines[header.first] ?? '', want)], m.lines.slice(found.row.first, found.row.last + 1)),
      });
      if (!m.replaced(found.row.first)) {
        m.warnings.push(
          `${where} declared ${name} with INCREASING ${increasing || '(none)'}: order[${name}] would then send jobs to the BUSIEST host, and hosts whose elim is dead first. ` +
            `Replaced by INCREASING ${wantIncreasing}; the old line stays in the file as a comment and --uninstall --merge-conf puts it back.`,
        );
      }
    } else {
      m.notes.push(`${where} already declares ${name} (${type}, INCREASING ${increasing || '(none)'}); left as it is.`);
    }
  }
  addRows(m, missing);
  return finish(m);
}

// Merges the snippet's ResourceMap rows into lsf.cluster.<name>, and takes out
// any row mapping one of `unmapped` (kept in the block as a comment).
export function mergeResourceMap(text: string, file: string, snippet: string, origin: string, unmapped: readonly string[]): MergeResult {
  const m = startTableMerge(text, file, snippet, origin, 'ResourceMap', ['RESOURCENAME', 'LOCATION']);
  for (const section of m.sections) {
    for (const row of section.rows) {
      const name = cell(section, row, 'RESOURCENAME');
      if (name === undefined || !unmapped.includes(name)) continue;
      m.edits.push({ first: row.first, last: row.last, lines: block(m.crlf, origin, [], m.lines.slice(row.first, row.last + 1)) });
      if (!m.replaced(row.first)) {
        m.warnings.push(
          `${file} line ${m.line(row.first)} maps ${name} in the ResourceMap. OpenLava 4.0 then gives ${name} the flag 0x40, which mbatchd also uses for free job slots, ` +
            `so order[${name}] would sort hosts by free slots instead of by ${name}. Taken out (kept as a comment; --uninstall --merge-conf puts it back).`,
        );
      }
    }
  }
  const missing: Array<Map<string, string>> = [];
  for (const row of m.wanted.rows) {
    const want = rowMap(m.wanted, row);
    const name = valueText(want.get('RESOURCENAME') ?? '');
    const existing = findRow(m, file, name);
    if (existing === undefined) {
      missing.push(want);
      continue;
    }
    const location = cell(existing.section, existing.row, 'LOCATION') ?? '';
    const wantLocation = valueText(want.get('LOCATION') ?? '');
    if (location === '') {
      // doresourcemap (lsf/lim/lim.conf.c): "No LOCATION specified ...; ignoring the line"
      m.notes.push(`${file} line ${m.line(existing.row.first)} names ${name} with no LOCATION; LIM ignores such a line, so it is left as it is and lavarank's line is added.`);
      missing.push(want);
      continue;
    }
    m.notes.push(
      `${file} line ${m.line(existing.row.first)} already maps ${name} (${location}); left as it is.` +
        (location === wantLocation
          ? ''
          : ` Unless another dynamic resource is mapped [default], LIM then starts the elim on one host of each instance of ${name} only, the first host up of each [...] ([all] is one instance for the whole cluster); lavarank ships ${wantLocation}.`),
    );
  }
  addRows(m, missing);
  return finish(m);
}

function queueName(section: ConfSection): string | undefined {
  for (const row of section.rows) {
    const m = /^\s*QUEUE_NAME\s*=\s*(\S+)/i.exec(row.values.join(' '));
    if (m?.[1] !== undefined) return m[1];
  }
  return undefined;
}

// The physical lines of each lavarank block's body (without marker and
// `#lavarank-was:` lines), in file order.
function blockBodies(text: string): string[][] {
  const bodies: string[][] = [];
  let open: string[] | undefined;
  for (const line of splitLines(text)) {
    if (line.startsWith(BLOCK_BEGIN)) open = [];
    else if (line.startsWith(BLOCK_END)) {
      if (open !== undefined) bodies.push(open);
      open = undefined;
    } else if (open !== undefined && !line.startsWith(WAS_PREFIX)) open.push(line);
  }
  return bodies;
}

interface Setting {
  key: string; // upper case
  value: string; // whitespace folded
  lines: string[]; // as written (a trailing `\` joins the next)
}

// The `KEY = VALUE` setting a row of a Queue section holds, if it is one.
function settingOf(lines: readonly string[], row: ConfRow): Setting | undefined {
  const text = lines.slice(row.first, row.last + 1);
  const joined = text.map((l) => stripComment(l).replace(/\\\s*$/, ' ')).join(' ');
  // s: a CRLF line's CR is blank space to OpenLava, but `.` alone does not match it
  const m = /^\s*([A-Za-z_][A-Za-z0-9_]*)\s*=(.*)$/s.exec(joined);
  return m === null ? undefined : { key: m[1]!.toUpperCase(), value: m[2]!.trim().replace(/\s+/g, ' '), lines: text };
}

// Appends the snippet's Queue section to lsb.queues. A queue of the same name
// that lavarank did not add is a conflict: mbatchd would ignore the second one.
// Settings an administrator changed or added inside lavarank's own queue block
// (D in RES_REQ, as docs/install.md advises per host size) are kept, each with a
// note; deleting such a line inside the block brings lavarank's value back. So a
// second merge changes nothing, and a rerun never reverts an edit.
export function mergeQueues(text: string, file: string, snippet: string, origin: string): MergeResult {
  const pristine = removeBlocks(text, file);
  const line = lineInFile(text);
  const lines = splitLines(pristine);
  const snippetLines = splitLines(snippet);
  const [wanted] = sectionsNamed(parseSections(snippet, origin, 'mbatchd'), 'Queue');
  const name = wanted === undefined ? undefined : queueName(wanted);
  if (wanted === undefined || name === undefined) throw new ConfigError(`${origin}: no "Begin Queue" section with a QUEUE_NAME in the snippet`);
  for (const section of sectionsNamed(parseSections(pristine, file, 'mbatchd', line), 'Queue')) {
    if (queueName(section) === name) {
      throw new ConfigError(
        `${file} line ${line(section.begin)} already defines a queue named ${name}, and mbatchd ignores a second queue of the same name. ` +
          `Add lavarank's RES_REQ to it by hand (see ${origin}), rename it, or pass --no-queue.`,
      );
    }
  }
  const notes: string[] = [];
  // the "D and T" note travels with the queue, so it is seen where the numbers are
  const notesAbove = snippetLines.slice(0, wanted.begin).filter((line) => line.startsWith('# D and T'));
  let queue = snippetLines.slice(wanted.begin, wanted.end + 1);
  for (const body of blockBodies(text)) {
    const [ours] = sectionsNamed(parseSections(body.join('\n'), file, 'mbatchd'), 'Queue').filter((q) => queueName(q) === name);
    if (ours === undefined) continue;
    const site = new Map<string, Setting>();
    for (const row of ours.rows) {
      const setting = settingOf(body, row);
      if (setting !== undefined) site.set(setting.key, setting);
    }
    // The queue as it stands in the block, lines and order kept; a shipped setting
    // missing from it (deleted inside the block) is added back before its End line.
    queue = body.slice(ours.begin, ours.end);
    const shippedKeys = new Set<string>();
    for (const row of wanted.rows) {
      const shipped = settingOf(snippetLines, row);
      if (shipped === undefined) continue;
      shippedKeys.add(shipped.key);
      const mine = site.get(shipped.key);
      if (mine === undefined) queue.push(...shipped.lines);
      else if (mine.value !== shipped.value) {
        notes.push(`${file}: ${shipped.key} = ${mine.value} in lavarank's ${name} queue is kept as it was changed (lavarank ships ${shipped.value}); delete that line inside the block to get lavarank's value back.`);
      }
    }
    for (const setting of site.values()) {
      if (!shippedKeys.has(setting.key)) notes.push(`${file}: ${setting.key} = ${setting.value}, added to lavarank's ${name} queue, is kept.`);
    }
    queue.push(body[ours.end]!);
    break;
  }
  const body = [...notesAbove, ...queue];
  const crlf = usesCrlf(pristine);
  return { text: applyEdits(lines, [appendAtEnd(lines, block(crlf, origin, body), crlf)]), warnings: [], notes };
}

// The queues lsb.params names as DEFAULT_QUEUE (a list is allowed), the queues a
// job submitted without -q goes to; none when the setting is absent.
export function defaultQueues(text: string, file: string): string[] {
  const lines = splitLines(text);
  for (const section of sectionsNamed(parseSections(text, file, 'mbatchd'), 'Parameters')) {
    for (const row of section.rows) {
      const setting = settingOf(lines, row);
      if (setting?.key === 'DEFAULT_QUEUE') return setting.value.split(' ').filter((q) => q !== '');
    }
  }
  return [];
}

// The queues a job submitted without -q goes to, as mbatchd picks them at its start
// (mbd.init.c, after reading lsb.queues): those DEFAULT_QUEUE names that lsb.queues
// defines (it ignores the others); if none, the queue lsb.queues names "default"; if
// there is none either, a queue mbatchd makes itself ("default", createDefQueue), which
// no file holds. params is lsb.params' text (undefined: no lsb.params); notes say
// which of these it was when it was not DEFAULT_QUEUE alone.
export function mbatchdDefaultQueues(params: string | undefined, paramsFile: string, queues: string, queuesFile: string): { queues: string[]; notes: string[] } {
  const defined = new Set(sectionsNamed(parseSections(queues, queuesFile, 'mbatchd'), 'Queue').flatMap((s) => queueName(s) ?? []));
  const named = params === undefined ? [] : defaultQueues(params, paramsFile);
  const valid = named.filter((q) => defined.has(q));
  const notes = named.filter((q) => !defined.has(q)).map((q) => `${paramsFile}: DEFAULT_QUEUE names ${q}, which ${queuesFile} does not define; mbatchd ignores it.`);
  if (valid.length > 0) return { queues: valid, notes };
  const why = params === undefined ? `there is no ${paramsFile}` : named.length === 0 ? `${paramsFile} sets no DEFAULT_QUEUE` : `DEFAULT_QUEUE names no queue ${queuesFile} defines`;
  if (defined.has('default')) {
    return { queues: ['default'], notes: [...notes, `${why}, so mbatchd sends jobs submitted without -q to the queue named default in ${queuesFile}.`] };
  }
  return {
    queues: [],
    notes: [
      ...notes,
      `${why}, and ${queuesFile} defines no queue named default, so mbatchd sends jobs submitted without -q to a queue default of its own, which no file holds and no merge can give a reservation; ` +
        `set DEFAULT_QUEUE in ${paramsFile} (DEFAULT_QUEUE = rank sends them to lavarank's queue) and merge again.`,
    ],
  };
}

// The rusage[...] section of the RES_REQ of the queue in lavarank's blocks of
// lsb.queues, as merged (a D changed inside the block by the site included), or undefined.
export function rankQueueRusage(text: string, file: string): string | undefined {
  for (const body of blockBodies(text)) {
    for (const section of sectionsNamed(parseSections(body.join('\n'), file, 'mbatchd'), 'Queue')) {
      for (const row of section.rows) {
        const setting = settingOf(body, row);
        if (setting?.key === 'RES_REQ') return /rusage\[[^\]]*\]/.exec(setting.value)?.[0];
      }
    }
  }
  return undefined;
}

// Whether one of the queues already holds a lavarank block (the reservation an
// earlier merge with --default-queue added), so that a rerun keeps it.
export function hasDefaultQueueReservation(text: string, file: string, queues: readonly string[]): boolean {
  const lines = splitLines(text);
  return sectionsNamed(parseSections(text, file, 'mbatchd'), 'Queue').some((section) => {
    const name = queueName(section);
    return name !== undefined && queues.includes(name) && lines.slice(section.begin, section.end).some((line) => line.startsWith(BLOCK_BEGIN));
  });
}

// Adds lavarank's reservation (`RES_REQ = rusage[rank=D:...]`) to each default queue
// that has no RES_REQ, in a block before its End line. A job submitted without -q
// as `bsub -R "order[rank]"` then spreads a burst by rank instead of herding onto
// the host that looked least loaded: mbatchd takes a queue's rusage for a resource
// the job's own -R does not reserve (getReserveValues, lsbatch/daemons/mbd.host.c),
// while the job's order[] still wins, and jobs that give no order[] keep mbatchd's
// own. A queue with its own RES_REQ is the site's to edit: a note says what to add,
// naming the line where line puts it (lineInFile of the file, when text is a merge of it).
// earlier: the queues whose reservation an earlier merge added (text is the merge,
// without lavarank's blocks), which the note says they keep rather than get.
export function mergeDefaultQueueReservation(
  text: string,
  file: string,
  queues: readonly string[],
  rusage: string,
  origin: string,
  line = (index: number): number => index + 1,
  earlier: readonly string[] = [],
): MergeResult {
  const lines = splitLines(text);
  const sections = sectionsNamed(parseSections(text, file, 'mbatchd'), 'Queue');
  const edits: Edit[] = [];
  const notes: string[] = [];
  const crlf = usesCrlf(text);
  for (const name of queues) {
    const section = sections.find((s) => queueName(s) === name);
    if (section === undefined) {
      notes.push(`${file}: the default queue ${name} (lsb.params DEFAULT_QUEUE) is not defined here; jobs sent there with -R "order[rank]" get no reservation.`);
      continue;
    }
    const resReq = section.rows.map((row) => settingOf(lines, row)).find((s) => s?.key === 'RES_REQ');
    if (resReq === undefined) {
      edits.push({ first: section.end, last: section.end - 1, lines: block(crlf, origin, [`RES_REQ     = ${rusage}`]) });
      // mbatchd cannot reserve on an unknown value (ckResReserve, mbd.policy.c).
      notes.push(
        `${file}: the default queue ${name} ${earlier.includes(name) ? `keeps the reservation an earlier merge gave it (${rusage})` : `gets ${rusage}`}, so that -R "order[rank]" spreads bursts there; its jobs, ordinary ones included, ` +
          `then go only to hosts that report a rank (a host without a running elim shows "-" and takes none): merge with --no-default-queue to take it out if some hosts run no lavarank.`,
      );
    } else if (!parseResReq(resReq.value).rusage.has('rank')) {
      notes.push(
        `${file} line ${line(section.begin)}: the default queue ${name} has its own RES_REQ (${resReq.value}), left as it is; ` +
          `add ${rusage} to it so that jobs sent there with -R "order[rank]" spread by rank instead of herding.`,
      );
    }
  }
  return { text: edits.length === 0 ? text : applyEdits(lines, edits), warnings: [], notes };
}

// The resources whose value from an elim LIM keeps as text (saveSBValue in
// lim.rload.c: any dynamic one that is not Numeric): those lsf.shared declares with TYPE
// String (any case), and the dynamic Boolean ones (TYPE Boolean, or none, with an
// INTERVAL), whose text mbatchd reads with atoi. As LIM reads the Resource sections: a
// row LIM ignores (rowMismatch, intervalAccepted, resourceIgnored) declares nothing, and
// a name declared again keeps its first declaration.
export function textResources(text: string, file: string): Set<string> {
  const kept = new Map<string, boolean>();
  for (const section of sectionsNamed(parseSections(text, file, 'lim'), 'Resource')) {
    for (const row of section.rows) {
      const name = cell(section, row, 'RESOURCENAME');
      if (rowMismatch(section, row) !== undefined || name === undefined || kept.has(name)) continue;
      const get = (key: string): string => cell(section, row, key) ?? '';
      const interval = get('INTERVAL');
      if (!intervalAccepted(interval) || resourceIgnored(get) !== undefined) continue;
      const type = get('TYPE').toLowerCase();
      kept.set(name, type === 'string' || ((type === 'boolean' || type === '') && interval !== ''));
    }
  }
  return new Set([...kept].flatMap(([name, text]) => (text ? [name] : [])));
}

// The cluster names listed in lsf.shared's Cluster section.
export function clusterNames(text: string, file: string): string[] {
  const names: string[] = [];
  for (const section of sectionsNamed(parseSections(text, file, 'lim'), 'Cluster')) {
    const i = Math.max(0, column(section, 'CLUSTERNAME'));
    for (const row of section.rows) {
      const name = row.values[i];
      if (name !== undefined) names.push(valueText(name));
    }
  }
  return names;
}

// A unified diff of two texts with three lines of context, or '' when equal.
export function unifiedDiff(before: string, after: string, fromName: string, toName: string): string {
  if (before === after) return '';
  const a = splitLines(before);
  const b = splitLines(after);
  let prefix = 0;
  while (prefix < a.length && prefix < b.length && a[prefix] === b[prefix]) prefix++;
  let suffix = 0;
  while (suffix < a.length - prefix && suffix < b.length - prefix && a[a.length - 1 - suffix] === b[b.length - 1 - suffix]) suffix++;
  const am = a.slice(prefix, a.length - suffix);
  const bm = b.slice(prefix, b.length - suffix);
  // ops over the middle: ' ' keep, '-' delete, '+' insert (LCS; the middle is small in practice)
  const ops: Array<[' ' | '-' | '+', string]> = [];
  if (am.length * bm.length > 4_000_000) {
    for (const line of am) ops.push(['-', line]);
    for (const line of bm) ops.push(['+', line]);
  } else {
    const w = bm.length + 1;
    const lcs = new Uint32Array((am.length + 1) * w);
    for (let i = am.length - 1; i >= 0; i--) {
      for (let j = bm.length - 1; j >= 0; j--) {
        lcs[i * w + j] = am[i] === bm[j] ? (lcs[(i + 1) * w + j + 1] ?? 0) + 1 : Math.max(lcs[(i + 1) * w + j] ?? 0, lcs[i * w + j + 1] ?? 0);
      }
    }
    let i = 0;
    let j = 0;
    while (i < am.length || j < bm.length) {
      if (i < am.length && j < bm.length && am[i] === bm[j]) {
        ops.push([' ', am[i++] ?? '']);
        j++;
      } else if (i < am.length && (j === bm.length || (lcs[(i + 1) * w + j] ?? 0) >= (lcs[i * w + j + 1] ?? 0))) {
        ops.push(['-', am[i++] ?? '']);
      } else {
        ops.push(['+', bm[j++] ?? '']);
      }
    }
  }
  const all: Array<[' ' | '-' | '+', string]> = [
    ...a.slice(0, prefix).map((l): [' ', string] => [' ', l]),
    ...ops,
    ...a.slice(a.length - suffix).map((l): [' ', string] => [' ', l]),
  ];
  const out = [`--- ${fromName}`, `+++ ${toName}`];
  const CONTEXT = 3;
  const isChange = (x: number): boolean => all[x] !== undefined && all[x]?.[0] !== ' ';
  let k = 0;
  while (k < all.length) {
    while (k < all.length && !isChange(k)) k++;
    if (k >= all.length) break;
    const start = Math.max(0, k - CONTEXT);
    let end = k;
    // one hunk goes on while the next change is within 2 × CONTEXT unchanged lines
    for (;;) {
      while (isChange(end)) end++;
      let next = end;
      while (next < all.length && !isChange(next)) next++;
      if (next < all.length && next - end <= 2 * CONTEXT) end = next;
      else break;
    }
    end = Math.min(all.length, end + CONTEXT);
    const before = all.slice(0, start);
    const hunk = all.slice(start, end);
    const aStart = before.filter(([op]) => op !== '+').length;
    const bStart = before.filter(([op]) => op !== '-').length;
    const aLen = hunk.filter(([op]) => op !== '+').length;
    const bLen = hunk.filter(([op]) => op !== '-').length;
    out.push(`@@ -${aStart + (aLen > 0 ? 1 : 0)},${aLen} +${bStart + (bLen > 0 ? 1 : 0)},${bLen} @@`);
    for (const [op, line] of hunk) out.push(op + line);
    k = end;
  }
  return out.join('\n');
}
