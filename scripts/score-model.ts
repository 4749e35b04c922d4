// Scores a model on calibration runs it was never trained on: by default the shipped
// default model on the squeeze runs (memory stall and swapping, which neither training
// dataset has), next to the simple predictors fitted on the model's own training
// datasets. Prints, per stressor configuration, the measured mean slowdown and each
// predictor's mean rank, then each predictor's MAE with a 95 % interval that resamples
// whole configurations. docs/model.md quotes its output.
//
//   npm run score-model -- --data data/calibration-epyc-2vcpu-squeeze.jsonl [--model models/default.json] [--train FILE ...]
import { dirname, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { loadModel, type LoadedModel } from '../src/model/model.js';
import { clampRank } from '../src/model/rank.js';
import { defaultModelPath } from '../src/model/rankers.js';
import { fitLine, ORDER_MIN_GAP, ORDERS, pairOrder, PREDICTORS, predictAll, type Order, type Predictor } from '../src/training/crossval.js';
import { evalTable, groupBootstrap, type MaeInterval } from '../src/training/evaluate.js';
import { fitBaselines, withoutPsi, type TrainingRow } from '../src/training/train.js';
import { print, printError } from '../src/util/cliio.js';
import { errorMessage } from '../src/util/errors.js';
import { numberOption } from '../src/util/options.js';
import { DEFAULT_DATA, readDatasets } from './train-default.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

// One stressor configuration of the scored runs: its measured and predicted means.
export interface ConfigScore {
  config: string;
  runs: number;
  measured: number; // mean slowdown, percent, clamped as ranks are
  predicted: Record<Predictor, number>; // mean rank of each predictor
}

// What scoreRuns found.
export interface ScoreResult {
  runs: number;
  configs: ConfigScore[];
  mae: Record<Predictor, MaeInterval>;
  defaultOrder?: RunsOrderCheck; // when every row carries the load as read
}

// The scored runs against OpenLava's default order (r15s:pg; r15s on Linux is the
// 1-minute load as read): a line on it fitted on the training rows, and the share of
// pairs of runs of different configurations each order puts as measured (crossval's pairOrder).
export interface RunsOrderCheck {
  lsfLoadLine: MaeInterval;
  backboneMinusLsfLoadLine: MaeInterval; // MAE, paired by run
  order: Record<Order, MaeInterval>;
  orderBackboneMinusLsfLoad: MaeInterval; // paired by run
  pairs: number;
}

// The check against the default order on runs scored as a whole (no folds: the scored
// runs were never trained on), or undefined when a row lacks the load as read.
export function runsOrderCheck(ranks: Record<Predictor, readonly number[]>, trainRows: readonly TrainingRow[], runs: readonly TrainingRow[], groups: readonly string[], seed: number): RunsOrderCheck | undefined {
  if (![...trainRows, ...runs].every((r) => r.rawLoad1PerCpu !== undefined)) return undefined;
  const line = fitLine(trainRows.map((r) => r.rawLoad1PerCpu!), trainRows.map((r) => clampRank(r.label)));
  const labels = runs.map((r) => clampRank(r.label));
  const lsfErr = runs.map((r, i) => Math.abs(clampRank(line.intercept + line.slope * r.rawLoad1PerCpu!) - labels[i]!));
  const scores: Record<Order, readonly number[]> = { ...ranks, lsfLoad: runs.map((r) => r.rawLoad1PerCpu!) };
  const counted = Object.fromEntries(ORDERS.map((p) => [p, pairOrder(labels, scores[p], groups)])) as Record<Order, ReturnType<typeof pairOrder>>;
  const paired = runs.map((_, i) => i).filter((i) => counted.lsfLoad.pairs[i]! > 0);
  const pairedGroups = paired.map((i) => groups[i]!);
  const share = (p: Order): number[] => paired.map((i) => counted[p].right[i]! / counted[p].pairs[i]!);
  const backboneErr = runs.map((_, i) => Math.abs(ranks.backbone[i]! - labels[i]!));
  return {
    lsfLoadLine: groupBootstrap(lsfErr, groups, seed),
    backboneMinusLsfLoadLine: groupBootstrap(backboneErr.map((e, i) => e - lsfErr[i]!), groups, seed),
    order: Object.fromEntries(ORDERS.map((p) => [p, groupBootstrap(share(p), pairedGroups, seed)])) as Record<Order, MaeInterval>,
    orderBackboneMinusLsfLoad: groupBootstrap(share('backbone').map((x, k) => x - share('lsfLoad')[k]!), pairedGroups, seed),
    pairs: counted.lsfLoad.pairs.reduce((a, n) => a + n, 0) / 2,
  };
}

// Each predictor's rank for each run (eval-model's predictors: the model as given, and
// the baselines fitted on trainRows); per configuration means and the MAE over runs,
// intervals by configuration.
export function scoreRuns(model: LoadedModel, trainRows: readonly TrainingRow[], runs: readonly TrainingRow[], seed = 1): ScoreResult {
  if (runs.length === 0) throw new RangeError('no runs to score');
  const base = fitBaselines(trainRows);
  const groups = runs.map((r, i) => r.group ?? `run ${i}`);
  const errors = Object.fromEntries(PREDICTORS.map((p) => [p, [] as number[]])) as Record<Predictor, number[]>;
  const byConfig = new Map<string, { n: number; measured: number; predicted: Record<Predictor, number> }>();
  const ranks = Object.fromEntries(PREDICTORS.map((p) => [p, [] as number[]])) as Record<Predictor, number[]>;
  runs.forEach((row, i) => {
    const y = clampRank(row.label);
    const pred = predictAll(model, base, row);
    const g = byConfig.get(groups[i]!) ?? { n: 0, measured: 0, predicted: Object.fromEntries(PREDICTORS.map((p) => [p, 0])) as Record<Predictor, number> };
    g.n++;
    g.measured += y;
    for (const p of PREDICTORS) {
      const rank = clampRank(pred[p]);
      errors[p].push(Math.abs(rank - y));
      ranks[p].push(rank);
      g.predicted[p] += rank;
    }
    byConfig.set(groups[i]!, g);
  });
  const configs = [...byConfig].map(([config, g]) => ({
    config,
    runs: g.n,
    measured: g.measured / g.n,
    predicted: Object.fromEntries(PREDICTORS.map((p) => [p, g.predicted[p] / g.n])) as Record<Predictor, number>,
  }));
  configs.sort((a, b) => a.measured - b.measured);
  const mae = Object.fromEntries(PREDICTORS.map((p) => [p, groupBootstrap(errors[p], groups, seed)])) as Record<Predictor, MaeInterval>;
  const defaultOrder = runsOrderCheck(ranks, trainRows, runs, groups, seed);
  return { runs: runs.length, configs, mae, ...(defaultOrder === undefined ? {} : { defaultOrder }) };
}

const NOTES: Record<Predictor, string> = {
  model: 'the model as shipped (its backbone, and its correction network if it has one)',
  backbone: "the model's backbone alone, with the model's fitted parameters",
  ridge: 'ridge regression on the same inputs, fitted on the training datasets',
  loadOnly: 'a line on the 1-minute load per CPU, fitted on the training datasets',
  mean: "the training datasets' mean slowdown",
  formula: 'the hand-weighted fallback formula (src/model/rank.ts)',
};

// The per-configuration table and the MAE table, as printed.
export function scoreReport(r: ScoreResult): string {
  const head = `| configuration | runs | measured | ${PREDICTORS.join(' | ')} |`;
  const rule = `|---|--:|--:|${PREDICTORS.map(() => '--:').join('|')}|`;
  const rows = r.configs.map((c) => `| ${c.config} | ${c.runs} | ${c.measured.toFixed(0)} | ${PREDICTORS.map((p) => c.predicted[p].toFixed(0)).join(' | ')} |`);
  return [
    `${r.runs} runs in ${r.configs.length} stressor configurations; mean slowdown and mean rank in percent, clamped to the rank's range`,
    '',
    head,
    rule,
    ...rows,
    '',
    'MAE in rank points; the interval resamples whole configurations',
    '',
    evalTable(PREDICTORS.map((p) => ({ name: p, interval: r.mae[p], note: NOTES[p] }))),
    ...(r.defaultOrder === undefined ? [] : ['', runsOrderReport(r.defaultOrder)]),
  ].join('\n');
}

// The check against the default order, as printed.
export function runsOrderReport(c: RunsOrderCheck): string {
  const d = (x: MaeInterval, digits: number): string => `${x.mae >= 0 ? '+' : ''}${x.mae.toFixed(digits)} (95 % interval ${x.lo.toFixed(digits)} – ${x.hi.toFixed(digits)})`;
  return [
    "against the default order, r15s:pg (r15s on Linux: /proc/loadavg's 1-minute load, not bounded):",
    `line on r15s per CPU, fitted on the training datasets: MAE ${d(c.lsfLoadLine, 1).slice(1)}`,
    `backbone minus line on r15s: ${d(c.backboneMinusLsfLoadLine, 1)}`,
    `order agreement: of ${c.pairs} pairs of runs of different configurations whose slowdowns differ by ${ORDER_MIN_GAP} points or more, the share each order puts as measured (ties half; 0.500 is a coin):`,
    '',
    '| order | share | 95 % interval |',
    '|---|--:|:-:|',
    ...ORDERS.map((p) => `| ${p === 'lsfLoad' ? 'r15s (the load as read)' : p} | ${c.order[p].mae.toFixed(3)} | ${c.order[p].lo.toFixed(3)} – ${c.order[p].hi.toFixed(3)} |`),
    '',
    `order, backbone minus r15s: ${d(c.orderBackboneMinusLsfLoad, 3)}`,
  ].join('\n');
}

// Runs the script; resolves to the exit status.
export async function main(argv: string[]): Promise<number> {
  const { values: args } = parseArgs({
    args: argv,
    options: {
      data: { type: 'string', multiple: true },
      model: { type: 'string' },
      train: { type: 'string', multiple: true },
      seed: { type: 'string' },
      'without-psi': { type: 'boolean' },
      help: { type: 'boolean' },
    },
    strict: true,
  });
  if (args.help === true || args.data === undefined) {
    (args.help === true ? print : printError)('Usage: npm run score-model -- --data FILE ... [--model FILE] [--train FILE ...] [--seed N] [--without-psi]');
    return args.help === true ? 0 : 2;
  }
  const seed = numberOption('seed', args.seed, 1, { integer: true, min: 0, max: 2 ** 31 });
  const model = loadModel(resolve(args.model ?? defaultModelPath()), { trust: false });
  const train = await readDatasets((args.train ?? DEFAULT_DATA.map((p) => resolve(ROOT, p))).map((p) => resolve(p)), printError);
  const scored = await readDatasets(args.data.map((p) => resolve(p)), printError);
  print(`model ${model.id}; baselines fitted on ${train.source.join(', ')}; scored on ${scored.source.join(', ')}`);
  // A file among the training ones (same contents) is no test of anything: say so.
  const inSample = scored.source.filter((_, i) => train.sha256.includes(scored.sha256[i]!));
  if (inSample.length > 0) print(`in sample, not a test: the baselines (and the default model) were fitted on ${inSample.join(', ')}`);
  // As a kernel without PSI (before 4.20) would send the scored runs; the baselines are fitted as they are.
  const runs = args['without-psi'] === true ? scored.rows.map(withoutPsi) : scored.rows;
  if (args['without-psi'] === true) print('scored as a host without PSI would send them: every /proc/pressure input unavailable');
  print('');
  print(scoreReport(scoreRuns(model, train.rows, runs, seed)));
  return 0;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err: unknown) => {
      printError(`score-model: ${errorMessage(err)}`);
      process.exit(1);
    },
  );
}
