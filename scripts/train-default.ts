// Trains the embedded default model (models/default.json) from the committed
// calibration dataset(s). First the whole recipe is validated as eval-model does
// (grouped, repeated k-fold; src/training/crossval.ts) and the table printed; the
// model, fitted on all rows, keeps its correction network only if it beats the
// backbone alone and the ridge regression there (gateDecision, the rule retrain
// applies too); otherwise the backbone alone is written. Same data and seed, same
// numbers.
//
//   npm run train-default [-- --data data/FILE.jsonl ... --out models/default.json]
//   node dist/scripts/train-default.js --write-synthetic data/calibration-synthetic.jsonl
import { writeFileSync } from 'node:fs';
import { dirname, relative, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { print, printError } from '../src/util/cliio.js';
import { errorMessage } from '../src/util/errors.js';
import { calibrationRows, FOREIGN_RISE_WHY, readCalibrationAsync, usableRecords } from '../src/training/dataset.js';
import { syntheticCalibration } from '../src/training/synthetic.js';
import { fitModel, writeModelFile, type TrainingRow } from '../src/training/train.js';
import { crossValEntries, crossValidate, ORDER_MIN_GAP, ORDERS, type CrossValResult, type DefaultOrderCheck, type Order } from '../src/training/crossval.js';
import { evalTable, type MaeInterval } from '../src/training/evaluate.js';

// The repository root (this file runs as dist/scripts/train-default.js).
const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

// The datasets the default model is trained on, relative to the repository root.
export const DEFAULT_DATA = ['data/calibration-epyc-2vcpu.jsonl', 'data/calibration-epyc-2vcpu-broad.jsonl'];

// The training settings of the default model.
export const DEFAULT_SETTINGS = { name: 'default', seed: 1, epochs: 1000, chunk: 50, hiddenLayers: [8], learningRate: 0.1, momentum: 0.3 } as const;

// The validation the default model must pass: 5 folds, 3 repeats.
export const DEFAULT_VALIDATION = { folds: 5, repeats: 3, seed: 1 } as const;

const USAGE = `Usage: node dist/scripts/train-default.js [--data FILE]... [--out FILE] [--epochs N] [--seed N] [--date ISO] [--force]
       node dist/scripts/train-default.js --write-synthetic FILE [--count N] [--seed N]

Validates the training recipe on calibration datasets (default: ${DEFAULT_DATA.join(', ')})
by grouped k-fold (whole stressor configurations held out), prints the table,
fits the model on all rows and writes it (default: models/default.json): backbone
and correction network if that beats the backbone alone and the ridge regression,
else the backbone alone (--force: keep the network anyway).`;

// The rows of calibration datasets, leaving out runs disturbed by other processes,
// with a line per file of what was read and each file's sha256.
export async function readDatasets(paths: readonly string[], say: (line: string) => void): Promise<{ rows: TrainingRow[]; source: string[]; sha256: string[]; synthetic: boolean }> {
  const rows: TrainingRow[] = [];
  const source: string[] = [];
  const sha256: string[] = [];
  let synthetic = true;
  for (const path of paths) {
    const file = await readCalibrationAsync(path);
    for (const problem of file.problems) printError(`skipped ${problem}`);
    const name = relative(ROOT, path).startsWith('..') ? path : relative(ROOT, path);
    // An empty file, garbage or another kind of JSON lines (a history file) would make every figure NaN.
    if (file.records.length === 0) throw new Error(`${path}: no calibration runs in it${file.skipped > 0 ? ` (${file.skipped} lines skipped)` : ''}; expected a dataset lavarank calibrate wrote`);
    const { usable, leftOut } = usableRecords(file.records);
    source.push(`${name} (${usable.length} of ${file.records.length} probes, sha256 ${file.sha256.slice(0, 16)})`);
    sha256.push(file.sha256);
    say(`${name}: ${file.records.length} probes${file.skipped > 0 ? `, ${file.skipped} lines skipped` : ''}${leftOut > 0 ? `, ${leftOut} left out (${FOREIGN_RISE_WHY})` : ''}`);
    rows.push(...calibrationRows(usable));
    synthetic &&= file.records.every((r) => r['synthetic'] === true);
  }
  return { rows, source, sha256, synthetic };
}

// The validation table with the paired differences and the decision, as printed.
export function validationReport(r: CrossValResult): string {
  const d = (x: { mae: number; lo: number; hi: number }): string => `${x.mae >= 0 ? '+' : ''}${x.mae.toFixed(1)} (95 % interval ${x.lo.toFixed(1)} – ${x.hi.toFixed(1)})`;
  return [
    `grouped ${r.folds}-fold validation, ${r.repeats} repeats: ${r.rows} runs in ${r.groups} stressor configurations, each configuration held out whole;`,
    'MAE in rank points (percent slowdown); the interval resamples whole configurations',
    '',
    evalTable(crossValEntries(r)),
    '',
    `model minus ridge:    ${d(r.difference.ridge)}`,
    `model minus backbone: ${d(r.difference.backbone)}`,
    `backbone minus ridge: ${d(r.backboneMinusRidge)}`,
    `decision: ${r.gate.reason}`,
    `ships: ${r.gate.pass ? 'the backbone and its correction network' : 'the backbone alone (no correction network), since the network does not pass the gate'}`,
    ...(r.defaultOrder === undefined ? [] : ['', defaultOrderReport(r.defaultOrder)]),
  ].join('\n');
}

// The names of the orders in defaultOrderReport's table.
const ORDER_NAMES: Record<Order, string> = {
  model: 'backbone + network',
  backbone: 'backbone alone',
  ridge: 'ridge regression',
  loadOnly: 'load-only line (load bounded)',
  mean: 'mean (every run alike)',
  formula: 'formula',
  lsfLoad: 'r15s (the load as read)',
};

// The comparison with OpenLava's default order on the same held-out runs, as printed.
export function defaultOrderReport(c: DefaultOrderCheck): string {
  const d = (x: MaeInterval, digits = 1): string => `${x.mae >= 0 ? '+' : ''}${x.mae.toFixed(digits)} (95 % interval ${x.lo.toFixed(digits)} – ${x.hi.toFixed(digits)})`;
  return [
    'against the default order, r15s:pg (r15s on Linux: /proc/loadavg\'s 1-minute load, not bounded; no run paged), on the same held-out runs:',
    `line on r15s per CPU:            MAE ${d(c.lsfLoadLine).slice(1)}`,
    `backbone minus load-only line:   ${d(c.backboneMinusLoadOnly)}`,
    `backbone minus line on r15s:     ${d(c.backboneMinusLsfLoadLine)}`,
    `order agreement: of ${Math.round(c.pairs)} pairs of held-out runs of different configurations (summed over repeats; ${c.rowsPaired} runs in a pair)`,
    `whose slowdowns differ by ${ORDER_MIN_GAP} points or more, the share each order puts as measured (ties half; 0.500 is a coin):`,
    '',
    '| order | share | 95 % interval |',
    '|---|--:|:-:|',
    ...ORDERS.map((p) => `| ${ORDER_NAMES[p]} | ${c.order[p].mae.toFixed(3)} | ${c.order[p].lo.toFixed(3)} – ${c.order[p].hi.toFixed(3)} |`),
    '',
    `order, backbone minus r15s:      ${d(c.orderBackboneMinusLsfLoad, 3)}`,
    `order, backbone minus load line: ${d(c.orderBackboneMinusLoadOnly, 3)}`,
  ].join('\n');
}

// Runs the script; resolves to the exit status.
export async function main(argv: string[]): Promise<number> {
  const { values: args } = parseArgs({
    args: argv,
    options: {
      data: { type: 'string', multiple: true },
      out: { type: 'string' },
      epochs: { type: 'string' },
      seed: { type: 'string' },
      date: { type: 'string' },
      force: { type: 'boolean' },
      'write-synthetic': { type: 'string' },
      count: { type: 'string' },
      help: { type: 'boolean' },
    },
    strict: true,
  });
  if (args.help === true) {
    print(USAGE);
    return 0;
  }
  const seed = args.seed === undefined ? DEFAULT_SETTINGS.seed : Number(args.seed);
  if (!Number.isInteger(seed)) throw new Error(`--seed: expected an integer, received ${JSON.stringify(args.seed)}`);

  if (args['write-synthetic'] !== undefined) {
    const count = args.count === undefined ? 600 : Number(args.count);
    if (!Number.isInteger(count) || count < 1) throw new Error(`--count: expected a positive integer, received ${JSON.stringify(args.count)}`);
    const path = resolve(args['write-synthetic']);
    writeFileSync(path, syntheticCalibration({ count, seed }).map((r) => JSON.stringify(r)).join('\n') + '\n');
    print(`wrote ${count} synthetic probes to ${path}`);
    return 0;
  }

  const epochs = args.epochs === undefined ? DEFAULT_SETTINGS.epochs : Number(args.epochs);
  const date = args.date === undefined ? new Date() : new Date(args.date);
  if (Number.isNaN(date.getTime())) throw new Error(`--date: expected an ISO 8601 date, received ${JSON.stringify(args.date)}`);
  const paths = (args.data ?? DEFAULT_DATA.map((p) => resolve(ROOT, p))).map((p) => resolve(p));
  const out = resolve(args.out ?? resolve(ROOT, 'models', 'default.json'));
  const { rows, source, synthetic } = await readDatasets(paths, print);
  const settings = { ...DEFAULT_SETTINGS, seed, epochs };

  const validation = await crossValidate(rows, settings, { ...DEFAULT_VALIDATION, onFold: (done, total) => printError(`fold ${done}/${total}`) });
  print(`\n${validationReport(validation)}`);

  // A network that does not beat the backbone and the ridge regression adds nothing a
  // simpler model does not: then the backbone alone ships (no correction network).
  const withNetwork = validation.gate.pass || args.force === true;
  if (!withNetwork) print(`\n${validation.gate.reason}: the default model is the backbone alone (no correction network; --force to keep the network)`);
  const { model, fit } = await fitModel(rows, {
    ...settings,
    // Logs and history name the model; say so when no real measurement is behind it.
    name: synthetic ? `${DEFAULT_SETTINGS.name}-synthetic` : DEFAULT_SETTINGS.name,
    source,
    now: () => date,
    correction: withNetwork,
  });
  const b = model.backbone;
  print(
    `\nfitted on all ${rows.length} rows (${fit.fitSamples} to fit, +${fit.augmentedSamples} without PSI, ${fit.validationSamples} to choose the epoch; best epoch ${fit.bestEpoch})` +
      `\nbackbone: weights cpu ${b.weights.cpu.toFixed(3)}, mem ${b.weights.mem.toFixed(3)}, io ${b.weights.io.toFixed(3)}; runnableWeight ${b.runnableWeight}, secondsPerPage ${b.secondsPerPage}, memFullFrom ${b.memFullFrom}`,
  );
  Object.assign(model.training, {
    validation: {
      method: `grouped ${validation.folds}-fold, ${validation.repeats} repeats`,
      rows: validation.rows,
      groups: validation.groups,
      mae: Object.fromEntries(Object.entries(validation.mae).map(([k, v]) => [k, Number(v.mae.toFixed(3))])),
      gate: validation.gate.reason,
      ships: withNetwork ? 'backbone + correction network' : 'the backbone alone: the network did not pass the gate',
    },
    holdoutMae: (withNetwork ? validation.mae.model : validation.mae.backbone).mae,
    baselines: Object.fromEntries(Object.entries(validation.mae).filter(([k]) => k !== 'model').map(([k, v]) => [k, v.mae])),
  });
  writeModelFile(out, model);
  print(`\nwrote ${out}`);
  return 0;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err: unknown) => {
      printError(`train-default: ${errorMessage(err)}`);
      process.exit(1);
    },
  );
}
