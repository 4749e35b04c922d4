// The per-host history file: one JSON line per tick, read back by `lavarank retrain`.
import { join } from 'node:path';
import type { RankResult } from '../model/rank.js';
import { isDirectory } from '../util/paths.js';
import { directoryProblems } from '../util/trust.js';

// One line of a history file.
export interface HistoryRecord {
  ts: number; // epoch milliseconds of the sample
  host: string;
  features: Record<string, number | null>; // null where the input was unavailable
  rank: number;
  model: string;
}

// Builds the record the daemon appends for one tick.
export function historyRecord(ts: number, host: string, result: RankResult): HistoryRecord {
  return { ts, host, features: result.features ?? {}, rank: result.rank, model: result.model };
}

// Where history goes when history.dir is not set, and why $LSF_LOGDIR was passed
// over if it was: under $LSF_LOGDIR if it is an existing directory (lavarank never
// creates OpenLava's directory) that no user but root can change (root appends
// there, and retrain learns from what it finds), else /var/lib.
export function chooseHistoryDir(
  env: NodeJS.ProcessEnv,
  isDir: (path: string) => boolean = isDirectory,
  problemsOf: (dir: string) => string[] = (dir) => directoryProblems(dir, 'history directory'),
): { dir: string; skipped?: string } {
  const fallback = '/var/lib/lavarank/history';
  const logdir = env['LSF_LOGDIR'];
  if (logdir === undefined || !logdir.startsWith('/') || !isDir(logdir)) return { dir: fallback };
  const dir = join(logdir, 'lavarank-history');
  const problems = problemsOf(dir);
  if (problems.length === 0) return { dir };
  return { dir: fallback, skipped: `${dir}: ${problems.join('; ')}` };
}

// The history directory when history.dir is not set (see chooseHistoryDir).
export function defaultHistoryDir(env: NodeJS.ProcessEnv, isDir: (path: string) => boolean = isDirectory): string {
  return chooseHistoryDir(env, isDir).dir;
}
