// `lavarank once`: one sample over a short window, the report line the elim would
// write (or, with --json, the sample, the features and the rank), then exit.
import { hostname } from 'node:os';
import { print, printError } from '../util/cliio.js';
import { errorMessage } from '../util/errors.js';
import { hostInventory } from '../daemon/run.js';
import { cliLogger } from '../daemon/log.js';
import { openRankersAsync } from '../model/rankers.js';
import { clampRank } from '../model/rank.js';
import { formatElimLine } from '../daemon/report.js';
import { typedRankNames } from '../daemon/elim.js';
import { failedRequired, oneShotArgs, sampleOverWindow } from './oneshot.js';

const USAGE = `Usage: lavarank once [--json] [--window SECONDS] [--config FILE]

Takes one sample of this host over a short window (default 1 s, or until the first
GPU query has ended, at most gpu.timeout + 3 s) and prints the report line the elim
would write. --json prints the sample, the features, the rank and the host
inventory (gathered as the elim does, in a process of its own, at most 15 s) instead.`;

// Prints one report (or the JSON detail) and returns 0, or 1 if sampling failed.
export async function main(argv: string[]): Promise<number> {
  const parsed = await oneShotArgs('once', USAGE, argv);
  if (typeof parsed === 'number') return parsed;
  const { config, windowSeconds } = parsed;
  const log = cliLogger();
  const rankers = await openRankersAsync(config, log); // the model's walk in the pool, as the config's
  const sample = await sampleOverWindow(config, windowSeconds, log);
  const broken = failedRequired(sample);
  const result = rankers.current().rank(sample);
  const rank = broken.length > 0 ? config.pessimistic_rank : clampRank(result.rank);
  if (parsed.json) {
    let inventory: unknown;
    try {
      // Out of process, as the daemon gathers it: systeminformation runs nvidia-smi (where
      // lspci lists an NVIDIA board) synchronously and without a timeout, so in this
      // process a wedged GPU driver hung once --json for good.
      inventory = await hostInventory(config.gpu.enabled !== false);
    } catch (err) {
      inventory = { error: errorMessage(err) };
    }
    const typed = broken.length > 0 ? undefined : result.typed;
    const detail = { host: hostname(), ts: new Date(sample.ts).toISOString(), rank, backbone: result.backbone, typed, model: result.model, features: result.features ?? {}, sample, inventory };
    print(JSON.stringify(detail, null, 2));
  } else {
    const pairs: Array<[string, number]> = [[config.resource, rank]];
    if (config.typed_ranks) {
      // As the elim reports them: the rank for every type when there are none, or sampling failed.
      const t = broken.length > 0 || result.typed === undefined ? { rank_cpu: rank, rank_mem: rank, rank_io: rank } : result.typed;
      const [cpu, mem, io] = typedRankNames(config.resource);
      pairs.push([cpu, t.rank_cpu], [mem, t.rank_mem], [io, t.rank_io]);
    }
    print(formatElimLine(pairs).trimEnd());
  }
  if (broken.length > 0) {
    printError(`lavarank once: sampling failed, the elim would report the pessimistic rank: ${broken.map((n) => sample.failures[n]).join('; ')}`);
    return 1;
  }
  return 0;
}
