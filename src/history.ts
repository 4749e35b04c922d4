// The per-host history file: one JSON line per tick, read back by `lavarank retrain`.
import type { RankResult } from './rank.js';

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
