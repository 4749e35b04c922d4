// Trains the embedded default model (models/default.json) from the committed
// calibration dataset(s), prints the holdout table (model against the mean, the
// load-only fit and the hand-weighted formula) and writes the model only if it
// beats all three. Same data and seed, same numbers.
//
//   npm run train-default [-- --data data/FILE.jsonl ... --out models/default.json]
//   node dist/scripts/train-default.js --write-synthetic data/calibration-synthetic.jsonl
import { writeFileSync } from 'node:fs';
import { dirname, relative, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { print, printError } from '../src/util/cliio.js';
import { errorMessage } from '../src/util/errors.js';
import { calibrationRows, MAX_FOREIGN_RISE, readCalibration, unusableReason } from '../src/training/dataset.js';
import { syntheticCalibration } from '../src/training/synthetic.js';
import { maeTable, trainModel, writeModelFile, type TrainReport } from '../src/training/train.js';

// The repository root (this file runs as dist/scripts/train-default.js).
const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

// The datasets the default model is trained on, relative to the repository root.
// Synthetic until a real `lavarank calibrate` dataset of this kind of machine is committed.
export const DEFAULT_DATA = ['data/calibration-epyc-2vcpu.jsonl'];

// The training settings of the default model.
export const DEFAULT_SETTINGS = { name: 'default', seed: 1, epochs: 2000, chunk: 100, hiddenLayers: [12, 8], learningRate: 0.2, momentum: 0.3 } as const;

const USAGE = `Usage: node dist/scripts/train-default.js [--data FILE]... [--out FILE] [--epochs N] [--seed N] [--date ISO] [--force]
       node dist/scripts/train-default.js --write-synthetic FILE [--count N] [--seed N]

Trains the default model from calibration datasets (default: ${DEFAULT_DATA.join(', ')}),
prints the holdout table and writes the model (default: models/default.json) if
it beats the mean, the load-only fit and the formula (--force: write anyway).`;

// The holdout table the README and docs/model.md show.
export function holdoutTable(report: TrainReport): string {
  return maeTable([
    { name: 'lavarank model', mae: report.holdoutMae, note: 'the neural network' },
    { name: 'mean', mae: report.baselines.mean, note: `always ${report.meanLabel.toFixed(1)}` },
    {
      name: 'load-only fit',
      mae: report.baselines.loadOnly,
      note: `${report.loadOnlyFit.intercept.toFixed(1)} + ${report.loadOnlyFit.slope.toFixed(1)} × load1 per CPU`,
    },
    { name: 'hand-weighted formula', mae: report.baselines.formula, note: 'formulaRanker in src/model/rank.ts' },
    { name: 'lavarank model, no PSI', mae: report.holdoutMaeWithoutPsi, note: 'the holdout as a kernel without PSI sends it' },
  ]);
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

  const rows = [];
  const source: string[] = [];
  let synthetic = true;
  for (const path of paths) {
    const file = readCalibration(path);
    for (const problem of file.problems) printError(`skipped ${problem}`);
    const name = relative(ROOT, path).startsWith('..') ? path : relative(ROOT, path);
    const usable = file.records.filter((r) => unusableReason(r) === undefined);
    const dropped = file.records.length - usable.length;
    source.push(`${name} (${usable.length} of ${file.records.length} probes, sha256 ${file.sha256.slice(0, 16)})`);
    print(`${name}: ${file.records.length} probes${file.skipped > 0 ? `, ${file.skipped} lines skipped` : ''}`);
    if (dropped > 0) print(`  ${dropped} left out: other processes' CPU use rose by more than ${MAX_FOREIGN_RISE * 100} % of the CPUs while the probe ran`);
    rows.push(...calibrationRows(usable));
    synthetic &&= file.records.every((r) => r['synthetic'] === true);
  }

  const { model, report } = await trainModel(rows, {
    ...DEFAULT_SETTINGS,
    // Logs and history name the model; say so when no real measurement is behind it.
    name: synthetic ? `${DEFAULT_SETTINGS.name}-synthetic` : DEFAULT_SETTINGS.name,
    seed,
    epochs,
    source,
    now: () => date,
    onProgress: (p) => {
      if (p.epoch % 500 === 0 || p.epoch === p.epochs) {
        print(`epoch ${p.epoch}/${p.epochs}: training error ${p.trainError.toExponential(2)}, validation MAE ${p.validationMae.toFixed(2)} (best ${p.bestValidationMae.toFixed(2)} at ${p.bestEpoch})`);
      }
    },
  });
  print(`\n${report.trainSamples} rows to fit (+${report.augmentedSamples} without PSI), ${report.validationSamples} to choose the epoch, ${report.holdoutSamples} held out; best epoch ${report.bestEpoch}; ${(report.elapsedMs / 1000).toFixed(1)} s`);
  print(`output: rank = ${model.output.rankAtZero} + y × ${model.output.rankAtOne - model.output.rankAtZero}\n`);
  print(holdoutTable(report));
  if (!report.beatsBaselines && args.force !== true) {
    printError('\nthe model does not beat every baseline on the holdout; not written (--force to write anyway)');
    return 1;
  }
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
