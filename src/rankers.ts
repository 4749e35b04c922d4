// Chooses the ranker the daemon uses. Until the trained model lands this is the
// documented formula; the report path does not change when the model arrives.
import type { Logger } from 'pino';
import type { Config } from './config.js';
import type { RankerSource } from './elim.js';
import { formulaRanker } from './rank.js';

// The ranker source for this config; throws ModelError for an unusable model file.
export function openRankers(config: Readonly<Config>, log: Logger): RankerSource {
  const ranker = formulaRanker();
  log.info({ model: ranker.name, configured: config.model }, 'ranking with the built-in formula');
  return { current: () => ranker };
}

// What `lavarank check` says about the model this config would use, and its problems.
export function describeModel(config: Readonly<Config>): { description: string; problems: string[] } {
  if (config.model === null) return { description: 'built-in formula', problems: [] };
  return { description: `${config.model} (not yet supported: the built-in formula is used)`, problems: [] };
}
