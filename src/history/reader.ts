// Reading the per-host history files back for `lavarank retrain`. A cluster's history
// is far larger than memory, so records are streamed one file after another; a line
// that is not a valid record (a torn write, a disk error, a hand edit) is counted and
// skipped, never fatal.
import type { Stats } from 'node:fs';
import { lstat, readdir, stat, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { ConfigError, errorCode, errorMessage, ParseError } from '../util/errors.js';
import { openInput } from '../util/paths.js';
import type { HistoryRecord } from './record.js';
import { readLineBatches, streamAsOpened } from '../util/lines.js';

// Checks one line of a history file and returns it as a record. Unknown keys are
// dropped, so files from a newer daemon still read. Throws ParseError.
export function parseHistoryLine(line: string, where = 'history'): HistoryRecord {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch (err) {
    throw new ParseError(where, `not JSON: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new ParseError(where, `expected a JSON object, found ${describe(value)}`);
  }
  const { ts, host, features, rank, model } = value as Record<string, unknown>;
  if (typeof ts !== 'number' || !Number.isFinite(ts)) throw new ParseError(where, `ts: expected a number of epoch ms, found ${describe(ts)}`);
  if (typeof host !== 'string' || host === '') throw new ParseError(where, `host: expected a host name, found ${describe(host)}`);
  if (typeof rank !== 'number' || !Number.isFinite(rank)) throw new ParseError(where, `rank: expected a number, found ${describe(rank)}`);
  if (typeof model !== 'string') throw new ParseError(where, `model: expected a string, found ${describe(model)}`);
  if (typeof features !== 'object' || features === null || Array.isArray(features)) {
    throw new ParseError(where, `features: expected an object, found ${describe(features)}`);
  }
  for (const [name, v] of Object.entries(features)) {
    if (v !== null && (typeof v !== 'number' || !Number.isFinite(v))) {
      throw new ParseError(where, `features.${name}: expected a number or null, found ${describe(v)}`);
    }
  }
  return { ts, host, features: features as Record<string, number | null>, rank, model };
}

function describe(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (Array.isArray(value)) return 'an array';
  // JSON.parse reads 1e400 as Infinity, which JSON.stringify would show as null
  if (typeof value === 'number' && !Number.isFinite(value)) return String(value);
  const text = JSON.stringify(value);
  return text.length > 40 ? `${text.slice(0, 40)}...` : text;
}

// host.jsonl is the file being written; host.jsonl.1, .2... are older rotations.
const HISTORY_FILE = /^(.*\.jsonl)(?:\.(\d+))?$/;

// The history files named by `paths`: files as given, directories expanded to their
// *.jsonl and rotated *.jsonl.N files (not recursively), each host's oldest first.
// A path gone (ENOENT) is added to `gone`, when given, instead of failing the listing,
// unless it is one of `named` (given by itself).
export async function historyFiles(paths: string | readonly string[], gone?: SkippedHistoryFile[], named: readonly string[] = []): Promise<string[]> {
  const files: string[] = [];
  for (const path of typeof paths === 'string' ? [paths] : paths) {
    let isDir: boolean;
    try {
      isDir = (await stat(path)).isDirectory();
    } catch (err) {
      if (gone === undefined || named.includes(path) || errorCode(err) !== 'ENOENT') throw err;
      gone.push({ file: path, why: `${path}: gone before it was read (rotated away?), or a link to nothing` });
      continue;
    }
    if (!isDir) {
      files.push(path);
      continue;
    }
    const found: { base: string; generation: number; path: string }[] = [];
    for (const entry of await readdir(path, { withFileTypes: true })) {
      const m = HISTORY_FILE.exec(entry.name);
      if (m === null || !(entry.isFile() || entry.isSymbolicLink())) continue;
      found.push({ base: m[1] ?? '', generation: m[2] === undefined ? 0 : Number(m[2]), path: join(path, entry.name) });
    }
    found.sort((a, b) => (a.base < b.base ? -1 : a.base > b.base ? 1 : b.generation - a.generation));
    files.push(...found.map((f) => f.path));
  }
  return files;
}

// A line that was not a record, kept for the report.
export interface HistoryProblem {
  file: string;
  line: number;
  message: string;
}

// What a read found and skipped. `problems` holds the first maxProblems malformed lines.
export interface HistoryStats {
  files: number;
  lines: number;
  records: number;
  blank: number;
  malformed: number;
  problems: HistoryProblem[];
  incomplete: number; // last lines without newline: the daemon was killed mid-write
  owners: HistoryOwner[]; // each file read, with the owner of what was opened and read
  skipped: SkippedHistoryFile[]; // files left out (options.skipRefused), each with why
}

// A history file a read left out, and why: refused (another user's link, a FIFO) or
// gone (rotated away by its daemon between listing and opening).
export interface SkippedHistoryFile {
  file: string;
  why: string;
}

// Who owned a history file when it was read: asked of the open descriptor, since its
// name may be removed or replaced by then (their own entry, in a sticky directory).
export interface HistoryOwner {
  file: string;
  uid: number;
}

// Options of readHistory.
export interface HistoryReadOptions {
  maxProblems?: number; // default 100
  maxLineLength?: number;
  // Leave out, in stats.skipped, a file that is refused when opened or is gone by then,
  // rather than throw: one user's link in a sticky history.dir, or a file rotated away
  // while retrain reads, must not stop a retrain of every host's history. Not a file in
  // `named`: one given by itself is meant, and is refused as given.
  skipRefused?: boolean;
  // Follow each host's files through a rotation by its daemon (host.jsonl → .1 → .2 ...)
  // during the read (openRotation), except the files in `named` (given one by one).
  followRotation?: boolean;
  named?: readonly string[];
}

// The records of some history files, read once; `stats` is final when iteration ends.
export interface HistoryReader extends AsyncIterable<HistoryRecord> {
  readonly stats: HistoryStats;
}

// Opens a history file to read and says who owns what was opened (openInput: in a
// sticky history.dir a user's own entry may lead to a device or a FIFO by now).
async function openHistoryFile(file: string): Promise<OpenedHistory> {
  const { handle, stats } = await openInput(file, 'history file');
  return { handle, stats, uid: stats.uid, id: `${stats.dev}:${stats.ino}` };
}

// A history file opened: its descriptor, its owner and its device and inode.
interface OpenedHistory {
  handle: FileHandle;
  stats: Stats; // as opened: read to its size then (streamAsOpened)
  uid: number;
  id: string;
}

// The largest generation a daemon makes (history.keep's largest value, src/config/config.ts).
// Files past it are no rotation's, and are read one at a time: in a sticky history.dir a
// user's thousands of ol1.jsonl.N would otherwise be opened all at once, up to EMFILE.
const MAX_GENERATION = 1000;

// The files in groups read together: one host's current and rotated files found in one
// directory (historyFiles lists them together, oldest first), or a file on its own.
function rotationGroups(files: readonly string[], named: readonly string[]): Array<{ files: string[]; follow: boolean }> {
  const groups: Array<{ files: string[]; follow: boolean }> = [];
  let key: string | undefined;
  for (const file of files) {
    const m = named.includes(file) ? null : HISTORY_FILE.exec(basename(file));
    const k = m === null || Number(m[2] ?? 0) > MAX_GENERATION ? undefined : join(dirname(file), m[1] ?? '');
    const last = groups[groups.length - 1];
    if (k !== undefined && k === key && last !== undefined) last.files.push(file);
    else groups.push({ files: [file], follow: k !== undefined });
    key = k;
  }
  return groups;
}

// Opens one host's files before reading any, newest first, then the generations after
// the oldest listed while they exist, and keeps each file once (by device and inode).
// Its daemon's rotation renames the oldest first (.3 → .4, ..., host.jsonl → .1): opened
// in the other direction, a file renamed between two opens is met again, never missed,
// and one renamed before the first open is found at the next number. Read one by one
// as listed, a rotation in between lost a whole file of the host (up to max_bytes).
async function openRotation(group: readonly string[], follow: boolean, open: (file: string) => Promise<OpenedHistory | undefined>): Promise<Array<OpenedHistory & { file: string }>> {
  const opened: Array<OpenedHistory & { file: string }> = [];
  const take = async (file: string): Promise<void> => {
    const o = await open(file);
    if (o === undefined) return;
    if (opened.some((p) => p.id === o.id)) await o.handle.close();
    else opened.push({ ...o, file });
  };
  try {
    for (const file of [...group].reverse()) await take(file);
    const oldest = group[0] === undefined ? null : HISTORY_FILE.exec(basename(group[0]));
    if (follow && oldest !== null && group[0] !== undefined) {
      const base = join(dirname(group[0]), oldest[1] ?? '');
      for (let n = Number(oldest[2] ?? 0) + 1; n <= MAX_GENERATION && (await exists(`${base}.${n}`)); n++) await take(`${base}.${n}`);
    }
  } catch (err) {
    await Promise.all(opened.map((o) => o.handle.close()));
    throw err;
  }
  return opened.reverse();
}

// Whether a later generation is there. ENAMETOOLONG: the next name of a file named with
// 255 characters (any user's, in a sticky history.dir) cannot exist.
async function exists(path: string): Promise<boolean> {
  try {
    await lstat(path);
    return true;
  } catch (err) {
    if (errorCode(err) === 'ENOENT' || errorCode(err) === 'ENAMETOOLONG') return false;
    throw err;
  }
}

// Streams the records of history files and directories (see historyFiles). Bad lines
// are counted in `stats` and skipped; only I/O errors are thrown.
export function readHistory(paths: string | readonly string[], options: HistoryReadOptions = {}): HistoryReader {
  const maxProblems = options.maxProblems ?? 100;
  const lineOptions = options.maxLineLength === undefined ? {} : { maxLength: options.maxLineLength };
  const stats: HistoryStats = { files: 0, lines: 0, records: 0, blank: 0, malformed: 0, problems: [], incomplete: 0, owners: [], skipped: [] };
  // The file opened, or undefined when it is left out (skipRefused).
  async function openOrSkip(file: string): Promise<OpenedHistory | undefined> {
    try {
      return await openHistoryFile(file);
    } catch (err) {
      if (options.skipRefused !== true || options.named?.includes(file) === true || !(err instanceof ConfigError || errorCode(err) === 'ENOENT')) throw err;
      stats.skipped.push({ file, why: err instanceof ConfigError ? err.message : `${file}: gone before it was read (rotated away?): ${errorMessage(err)}` });
      return undefined;
    }
  }
  let started = false;
  async function* records(): AsyncGenerator<HistoryRecord> {
    if (started) throw new Error('readHistory: a reader can be iterated only once');
    started = true;
    const files = await historyFiles(paths, options.skipRefused === true ? stats.skipped : undefined, options.named);
    const groups = options.followRotation === true ? rotationGroups(files, options.named ?? []) : files.map((file) => ({ files: [file], follow: false }));
    for (const group of groups) {
      const opened = await openRotation(group.files, group.follow, openOrSkip);
      try {
        for (const { file, handle, stats: openedStats, uid } of opened) {
          stats.files += 1;
          stats.owners.push({ file, uid });
          for await (const batch of readLineBatches(streamAsOpened(handle, openedStats), lineOptions)) {
            for (const line of batch) {
              stats.lines += 1;
              if (!line.complete) {
                stats.incomplete += 1;
                continue;
              }
              const where = `${file}:${line.number}`;
              if (line.tooLong) {
                malformed(file, line.number, new ParseError(where, `line longer than ${line.text.length} characters`));
                continue;
              }
              if (line.text.trim() === '') {
                stats.blank += 1;
                continue;
              }
              let record: HistoryRecord;
              try {
                record = parseHistoryLine(line.text, where);
              } catch (err) {
                if (!(err instanceof ParseError)) throw err;
                malformed(file, line.number, err);
                continue;
              }
              stats.records += 1;
              yield record;
            }
          }
        }
      } finally {
        // Left unread when the caller stops early (Ctrl-C) or a read fails: closed, not left to the collector.
        await Promise.all(opened.map((o) => o.handle.close()));
      }
    }
  }
  function malformed(file: string, line: number, err: ParseError): void {
    stats.malformed += 1;
    if (stats.problems.length < maxProblems) stats.problems.push({ file, line, message: err.message });
  }
  return { stats, [Symbol.asyncIterator]: records };
}
