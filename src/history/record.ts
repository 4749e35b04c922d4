// The per-host history file: one JSON line per tick, read back by `lavarank retrain`.
import { join } from 'node:path';
import type { RankResult } from '../model/rank.js';
import { isDirectory } from '../util/paths.js';

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

// Where history goes when history.dir is not set: under $LSF_LOGDIR if it is an
// existing directory (lavarank never creates OpenLava's directory), else /var/lib.
export function defaultHistoryDir(env: NodeJS.ProcessEnv, isDir: (path: string) => boolean = isDirectory): string {
  const logdir = env['LSF_LOGDIR'];
  if (logdir !== undefined && logdir.startsWith('/') && isDir(logdir)) return join(logdir, 'lavarank-history');
  return '/var/lib/lavarank/history';
}
