// `lavarank check`: validates the configuration and everything it names (model,
// child elims, log and history locations), prints what would be used, and exits
// 0 or 1 with every problem listed.
import { accessSync, constants, existsSync } from 'node:fs';
import { hostname } from 'node:os';
import { dirname } from 'node:path';
import { parseArgs } from 'node:util';
import { stringify } from 'yaml';
import { print } from '../util/cliio.js';
import { defaultConfig, findConfig, loadConfig, MIN_LIM_INTERVAL, type Config } from '../config.js';
import { ConfigError, errorCode, errorMessage } from '../util/errors.js';
import { findExecutable } from '../util/exec.js';
import { logCandidates } from '../daemon/log.js';
import { describeModel } from '../model/rankers.js';
import { childProgram } from '../daemon/children.js';
import { defaultHistoryDir } from '../history/record.js';
import { trustProblems } from '../util/trust.js';

const USAGE = `Usage: lavarank check [--config FILE]

Validates the configuration and the model, child elims, log and history
locations it names; prints what would be used. Exits 1 listing every problem.`;

// The nearest existing directory at or above path is writable by us.
function writableProblem(path: string): string | undefined {
  let dir = path;
  for (;;) {
    if (existsSync(dir)) {
      try {
        accessSync(dir, constants.W_OK);
        return undefined;
      } catch (err) {
        return `${dir} is not writable (${errorCode(err) ?? errorMessage(err)})`;
      }
    }
    const up = dirname(dir);
    if (up === dir) return `no existing directory above ${path}`;
    dir = up;
  }
}

// Checks everything and prints a report; resolves to 0 when all is well, else 1.
export async function main(argv: string[]): Promise<number> {
  const { values: args } = parseArgs({ args: argv, options: { config: { type: 'string' }, help: { type: 'boolean' } }, strict: true });
  if (args.help === true) {
    print(USAGE);
    return 0;
  }
  const env = process.env;
  const problems: string[] = [];
  const notes: string[] = [];
  const source = findConfig(args.config, env, existsSync);
  let config: Readonly<Config> = defaultConfig();
  try {
    config = loadConfig(source);
  } catch (err) {
    if (err instanceof ConfigError) problems.push(...err.problems);
    else problems.push(errorMessage(err));
  }
  notes.push(`config: ${source.path ?? 'built-in defaults'} (${source.why})`);

  if (config.interval < MIN_LIM_INTERVAL) {
    problems.push(`interval ${config.interval} s: under LIM an interval under ${MIN_LIM_INTERVAL} s is refused (LIM reads one report per 5 s)`);
  }

  const model = describeModel(config);
  notes.push(`model: ${model.description}`);
  problems.push(...model.problems);

  for (const [i, elim] of config.elims.entries()) {
    problems.push(...childProgram(elim.command, `child elim elims[${i}]`).problems);
    notes.push(`child elim ${elim.name ?? `#${i}`}: ${elim.command.join(' ')}`);
  }

  if (config.gpu.enabled !== false) {
    const gpu = findExecutable(config.gpu.command);
    if (gpu === undefined) {
      notes.push(`gpu: ${config.gpu.command} not found${config.gpu.enabled === 'auto' ? ' (GPU features off)' : ''}`);
      if (config.gpu.enabled === true) problems.push(`gpu.command ${config.gpu.command}: not found (gpu.enabled is true)`);
    } else {
      notes.push(`gpu: ${gpu}`);
      problems.push(...trustProblems(gpu, 'gpu.command', { executable: true }));
    }
  }

  const host = hostname();
  const firstFile = logCandidates(config.log, host, env, false).find((t) => t.kind === 'file' && writableProblem(t.path!) === undefined);
  if (firstFile === undefined) problems.push('no log location is writable; logs would be lost (set log.file)');
  else notes.push(`log: ${firstFile.path} (${firstFile.why})`);
  if (config.log.file !== null && firstFile?.path !== config.log.file) {
    problems.push(`log.file ${config.log.file}: ${writableProblem(config.log.file) ?? 'not usable'}`);
  }

  if (config.history.enabled) {
    const dir = config.history.dir ?? defaultHistoryDir(env);
    const why = writableProblem(dir);
    if (why !== undefined) problems.push(`history directory ${dir}: ${why}`);
    notes.push(`history: ${dir}/${host}.jsonl`);
  } else {
    notes.push('history: disabled');
  }

  print(notes.join('\n'));
  print(`\neffective configuration:\n${stringify(config).replace(/^/gm, '  ')}`);
  if (problems.length > 0) {
    print(`${problems.length} problem${problems.length === 1 ? '' : 's'}:\n  ${problems.join('\n  ')}`);
    return 1;
  }
  print('OK');
  return 0;
}
