// Prints how well the default model's training recipe predicts slowdowns it never
// saw: grouped, repeated k-fold over the calibration datasets (whole stressor
// configurations held out), the MAE with a 95 % interval of the model, the backbone
// alone, a ridge regression, the load-only line, the mean and the formula, and the
// write decision; then the same held-out runs against OpenLava's default order, r15s:pg
// (a line on the load as read, and each order's share of pairs put as measured).
// The README and docs/model.md quote its output.
//
//   npm run eval-model [-- --data data/FILE.jsonl ... --folds 5 --repeats 3 --seed 1]
import { dirname, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { print, printError } from '../src/util/cliio.js';
import { errorMessage } from '../src/util/errors.js';
import { numberOption } from '../src/util/options.js';
import { crossValidate } from '../src/training/crossval.js';
import { DEFAULT_DATA, DEFAULT_SETTINGS, DEFAULT_VALIDATION, readDatasets, validationReport } from './train-default.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

// Runs the evaluation and prints the table and what ships; resolves to 0.
export async function main(argv: string[]): Promise<number> {
  const { values: args } = parseArgs({
    args: argv,
    options: { data: { type: 'string', multiple: true }, folds: { type: 'string' }, repeats: { type: 'string' }, seed: { type: 'string' }, help: { type: 'boolean' } },
    strict: true,
  });
  if (args.help === true) {
    print('Usage: npm run eval-model [-- --data FILE ... --folds N --repeats N --seed N]');
    return 0;
  }
  const paths = (args.data ?? DEFAULT_DATA.map((p) => resolve(ROOT, p))).map((p) => resolve(p));
  const folds = numberOption('folds', args.folds, DEFAULT_VALIDATION.folds, { integer: true, min: 2, max: 50 });
  const repeats = numberOption('repeats', args.repeats, DEFAULT_VALIDATION.repeats, { integer: true, min: 1, max: 50 });
  const seed = numberOption('seed', args.seed, DEFAULT_VALIDATION.seed, { integer: true, min: 0, max: 2 ** 31 });
  const { rows } = await readDatasets(paths, print);
  const started = performance.now();
  const r = await crossValidate(rows, DEFAULT_SETTINGS, { folds, repeats, seed, onFold: (done, total) => printError(`fold ${done}/${total}`) });
  print(`\n${validationReport(r)}`);
  printError(`(${((performance.now() - started) / 1000).toFixed(0)} s)`);
  return 0;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err: unknown) => {
      printError(`eval-model: ${errorMessage(err)}`);
      process.exit(1);
    },
  );
}
