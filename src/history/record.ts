// The per-host history file: one JSON line per tick, read back by `lavarank retrain`.
import { join } from 'node:path';
import type { RankResult } from '../model/rank.js';
import { isDirectoryAsync, writableProblemAsync } from '../util/paths.js';
import { directoryProblems, directoryProblemsAsync } from '../util/trust.js';

// One line of a history file.
export interface HistoryRecord {
  ts: number; // epoch milliseconds of the sample
  host: string;
  features: Record<string, number | null>; // null where the input was unavailable
  rank: number;
  model: string;
}

// Records the daemon holds before it writes them together, six a minute at the 10 s
// interval. The file is readied (made and opened) once its directory's check returns,
// not at the first batch, so that a stop before then has one write to make.
export const HISTORY_HOLD = 6;

// Builds the record the daemon appends for one tick.
export function historyRecord(ts: number, host: string, result: RankResult): HistoryRecord {
  return { ts, host, features: result.features ?? {}, rank: result.rank, model: result.model };
}

const DEFAULT_HISTORY_DIR = '/var/lib/lavarank/history';

// Why root must not write history in dir (see directoryProblems).
export function historyDirectoryProblems(dir: string): string[] {
  return directoryProblems(dir, 'history directory');
}

// historyDirectoryProblems with the walk in libuv's pool, for the daemon's event loop.
// signal aborted (the appender closed): rejects before the walk's next question.
export function historyDirectoryProblemsAsync(dir: string, signal?: AbortSignal): Promise<string[]> {
  return directoryProblemsAsync(dir, 'history directory', signal === undefined ? {} : { signal });
}

// Why root cannot create history files at dir (writableProblemAsync), asked only when we
// are root: access(2) answers for its caller, and a user running check or retrain, whom
// nothing in a root-owned $LSF_LOGDIR lets write, was told /var/lib, where root's
// elims write $LSF_LOGDIR's.
async function rootCannotWrite(dir: string): Promise<string | undefined> {
  return (process.geteuid?.() ?? 0) === 0 ? writableProblemAsync(dir) : undefined;
}

// Where history goes when history.dir is not set, and why $LSF_LOGDIR was passed
// over if it was: under $LSF_LOGDIR if it is an existing directory (lavarank never
// creates OpenLava's directory) that no user but root can change (root appends
// there, and retrain learns from what it finds) and that root can write, else
// /var/lib. A shared $LSF_LOGDIR on NFS exported with root_squash, or mounted
// read-only, passes the first rule and not the second: history would be lost for good.
// Each question is asked in libuv's pool by default (tests may answer at once): a
// history directory under a user's FUSE mount whose server answers the pool and never a
// main thread (their directory at a name still to be made below a sticky history.dir
// parent or $LSF_LOGDIR) held the daemon's start, check and retrain there.
export async function chooseHistoryDir(
  env: NodeJS.ProcessEnv,
  isDir: (path: string) => boolean | Promise<boolean> = isDirectoryAsync,
  problemsOf: (dir: string) => string[] | Promise<string[]> = historyDirectoryProblemsAsync,
  cannotWrite: (dir: string) => string | undefined | Promise<string | undefined> = rootCannotWrite,
): Promise<{ dir: string; skipped?: string }> {
  const logdir = env['LSF_LOGDIR'];
  if (logdir === undefined || !logdir.startsWith('/') || !(await isDir(logdir))) return { dir: DEFAULT_HISTORY_DIR };
  const dir = join(logdir, 'lavarank-history');
  const problems = await problemsOf(dir);
  if (problems.length > 0) return { dir: DEFAULT_HISTORY_DIR, skipped: `${dir}: ${problems.join('; ')}` };
  const why = await cannotWrite(dir);
  return why === undefined ? { dir } : { dir: DEFAULT_HISTORY_DIR, skipped: `${dir}: ${why}` };
}

// Where the daemon writes history (history.dir, else chooseHistoryDir), an $LSF_LOGDIR
// passed over and why, and why root must not write there (history is then off): the
// one rule by which the daemon opens history, check says where it goes and retrain
// reads it by default.
export async function historyLocation(
  configured: string | null,
  env: NodeJS.ProcessEnv,
  isDir: (path: string) => boolean | Promise<boolean> = isDirectoryAsync,
  problemsOf: (dir: string) => string[] | Promise<string[]> = historyDirectoryProblemsAsync,
  cannotWrite: (dir: string) => string | undefined | Promise<string | undefined> = rootCannotWrite,
): Promise<{ dir: string; skipped?: string; problems: string[] }> {
  if (configured !== null) return { dir: configured, problems: await problemsOf(configured) };
  const choice = await chooseHistoryDir(env, isDir, problemsOf, cannotWrite);
  // $LSF_LOGDIR's is chosen only once it passed problemsOf: not asked twice.
  return { ...choice, problems: choice.dir === DEFAULT_HISTORY_DIR ? await problemsOf(choice.dir) : [] };
}
