// `npm run sim-params`: the simulator's cluster-model parameters derived from a
// calibration dataset (default data/calibration-epyc-2vcpu.jsonl), with the groups of
// clean probe runs each comes from, beside the values the simulator uses (CALIBRATED).
//
//   node dist/scripts/sim-params.js [FILE]
import { readCalibrationAsync } from '../src/training/dataset.js';
import { CALIBRATED, deriveClusterParams, roundParams, type ClusterParams } from '../src/simulate/params.js';

const path = process.argv[2] ?? 'data/calibration-epyc-2vcpu.jsonl';
const file = await readCalibrationAsync(path);
const d = deriveClusterParams(file.records);
const rounded = roundParams(d.params);
const lines = [`${path}: ${file.records.length} runs, ${d.runs} clean (others used at most 10 % of the CPUs before and during the probe)`, ''];
for (const [k, ev] of Object.entries(d.evidence)) {
  const used = k in CALIBRATED ? CALIBRATED[k as keyof ClusterParams] : undefined;
  const derived = k in rounded ? rounded[k as keyof ClusterParams] : Math.round(ev.value * 100) / 100;
  lines.push(`${k}: ${derived}${used === undefined ? ' (evidence only)' : used === derived ? ' (= CALIBRATED)' : ` (CALIBRATED has ${used})`}`);
  for (const f of ev.from) lines.push(`    ${f}`);
}
process.stdout.write(`${lines.join('\n')}\n`);
