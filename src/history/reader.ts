// Reading the per-host history files back for `lavarank retrain`. A cluster's history
// is far larger than memory, so records are streamed one file after another; a line
// that is not a valid record (a torn write, a disk error, a hand edit) is counted and
// skipped, never fatal.
import { readdir, stat, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { ConfigError, errorCode, errorMessage, ParseError } from '../util/errors.js';
import { openInput } from '../util/paths.js';
import type { HistoryRecord } from './record.js';
import { READ_CHUNK, readLineBatches } from '../util/lines.js';

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
// A path gone (ENOENT) is added to `gone`, when given, instead of failing the listing.
export async function historyFiles(paths: string | readonly string[], gone?: SkippedHistoryFile[]): Promise<string[]> {
  const files: string[] = [];
  for (const path of typeof paths === 'string' ? [paths] : paths) {
    let isDir: boolean;
    try {
      isDir = (await stat(path)).isDirectory();
    } catch (err) {
      if (gone === undefined || errorCode(err) !== 'ENOENT') throw err;
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
  // while retrain reads, must not stop a retrain of every host's history.
  skipRefused?: boolean;
}

// The records of some history files, read once; `stats` is final when iteration ends.
export interface HistoryReader extends AsyncIterable<HistoryRecord> {
  readonly stats: HistoryStats;
}

// Opens a history file to read and says who owns what was opened (openInput: in a
// sticky history.dir a user's own entry may lead to a device or a FIFO by now).
async function openHistoryFile(file: string): Promise<{ handle: FileHandle; uid: number }> {
  const { handle, stats } = await openInput(file, 'history file');
  return { handle, uid: stats.uid };
}

// Streams the records of history files and directories (see historyFiles). Bad lines
// are counted in `stats` and skipped; only I/O errors are thrown.
export function readHistory(paths: string | readonly string[], options: HistoryReadOptions = {}): HistoryReader {
  const maxProblems = options.maxProblems ?? 100;
  const lineOptions = options.maxLineLength === undefined ? {} : { maxLength: options.maxLineLength };
  const stats: HistoryStats = { files: 0, lines: 0, records: 0, blank: 0, malformed: 0, problems: [], incomplete: 0, owners: [], skipped: [] };
  // The file opened, or undefined when it is left out (skipRefused).
  async function openOrSkip(file: string): Promise<{ handle: FileHandle; uid: number } | undefined> {
    try {
      return await openHistoryFile(file);
    } catch (err) {
      if (options.skipRefused !== true || !(err instanceof ConfigError || errorCode(err) === 'ENOENT')) throw err;
      stats.skipped.push({ file, why: err instanceof ConfigError ? err.message : `${file}: gone before it was read (rotated away?): ${errorMessage(err)}` });
      return undefined;
    }
  }
  let started = false;
  async function* records(): AsyncGenerator<HistoryRecord> {
    if (started) throw new Error('readHistory: a reader can be iterated only once');
    started = true;
    for (const file of await historyFiles(paths, options.skipRefused === true ? stats.skipped : undefined)) {
      const opened = await openOrSkip(file);
      if (opened === undefined) continue;
      const { handle, uid } = opened;
      stats.files += 1;
      stats.owners.push({ file, uid });
      for await (const batch of readLineBatches(handle.createReadStream({ highWaterMark: READ_CHUNK }), lineOptions)) {
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
  }
  function malformed(file: string, line: number, err: ParseError): void {
    stats.malformed += 1;
    if (stats.problems.length < maxProblems) stats.problems.push({ file, line, message: err.message });
  }
  return { stats, [Symbol.asyncIterator]: records };
}
