// The job scan calibrate runs as a child of its own (scanBatchJobs, jobs.ts), so that
// a process whose memory cannot be read holds this program, which calibrate can end,
// and not calibrate: prints runningBatchJobs' result as one JSON line.
import { parseArgs } from 'node:util';
import { print, runAsProgram } from '../util/cliio.js';
import { runningBatchJobs } from './jobs.js';

// Scans --proc-root (default /proc) and prints what it found; returns the exit status.
export async function main(argv: string[]): Promise<number> {
  const { values } = parseArgs({ args: argv, options: { 'proc-root': { type: 'string' } }, strict: true });
  print(JSON.stringify(runningBatchJobs(values['proc-root'] ?? '/proc')));
  return 0;
}

await runAsProgram(import.meta.url, main);
