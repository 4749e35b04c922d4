// One sample of this host over a short window, for the interactive subcommands
// (once, explain): what the elim would see at its next tick.
import type { Logger } from 'pino';
import { systemClock } from '../util/clock.js';
import type { CollectorName, Sample } from '../collectors/types.js';
import type { Config } from '../config/config.js';
import { REQUIRED_COLLECTORS } from '../daemon/elim.js';
import { collectorsFromConfig, createSampler } from '../daemon/sampler.js';

// Samples twice, windowSeconds apart (rates need two readings), and returns the second.
export async function sampleOverWindow(config: Readonly<Config>, windowSeconds: number, log: Logger): Promise<Sample> {
  const controller = new AbortController();
  const sampler = createSampler({ collectors: collectorsFromConfig(config, { log, signal: controller.signal }), clock: systemClock, log });
  try {
    sampler.sample();
    await systemClock.sleep(windowSeconds * 1000);
    return sampler.sample();
  } finally {
    sampler.close();
    controller.abort();
  }
}

// The required collectors that failed in sample: when any did, the elim reports the pessimistic rank.
export function failedRequired(sample: Sample): CollectorName[] {
  return REQUIRED_COLLECTORS.filter((name) => sample.failures[name] !== undefined);
}
