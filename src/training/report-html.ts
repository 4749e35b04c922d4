// The report `lavarank retrain` writes next to the model: one self-contained HTML
// file (inline CSS and SVG, no script, nothing fetched) with the holdout table, a
// predicted-vs-actual plot, the error per feature range and what was left out.
// Every string that comes from the data (job names, commands, host and file names,
// parser messages) is user-controlled and goes through the `html` template, which
// escapes whatever it is given unless it is already Html.
import { EXCLUSION_REASONS, type ExclusionCounts, type ExclusionReason } from './jobs.js';
import { labelSettings } from './label.js';
import { FEATURES, unscaleValue, type FeatureSpec } from '../model/features.js';
import { RANK_MAX, clampRank } from '../model/rank.js';

// Markup that is already safe: built by `html`, never from data.
export class Html {
  constructor(readonly text: string) {}
  toString(): string {
    return this.text;
  }
}

const ENTITIES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

// Escapes text for HTML element content and quoted attribute values.
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ENTITIES[c] ?? c);
}

function piece(value: unknown): string {
  if (value instanceof Html) return value.text;
  if (Array.isArray(value)) return value.map(piece).join('');
  if (value === undefined || value === null || value === false) return '';
  return escapeHtml(String(value));
}

// A template tag that escapes every interpolated value except Html (and lists of it).
export function html(strings: TemplateStringsArray, ...values: unknown[]): Html {
  let out = strings[0] ?? '';
  values.forEach((v, i) => {
    out += piece(v) + (strings[i + 1] ?? '');
  });
  return new Html(out);
}

// One row of the holdout table, as the terminal shows it too.
export interface MaeEntry {
  name: string;
  mae: number | null; // null: not available (no installed model, say)
  n: number;
  note: string;
}

// A held-out job, what it measured and what the models said.
export interface HoldoutPoint {
  label: number; // actual slowdown, percent
  values: readonly number[]; // scaled features, as the models saw them
  mask: readonly boolean[];
  predicted: number; // the new model
  installed?: number; // the installed model, when there is a usable one
  job: HoldoutJob;
}

// What the report shows of a held-out job: how it ran and against which baseline it was labelled.
export interface HoldoutJob {
  id: string;
  kind: string;
  host: string;
  start: number; // epoch s
  runtime: number; // s, suspended time excluded
  cpu: number; // user + system CPU seconds
  efficiency: number; // CPU seconds per second of run time per slot
  baseline: number; // the family's baseline efficiency
}

// Everything the report shows. A run that stopped before judging a model (too few
// examples, say) still writes one: then table and holdout are empty and outcome says why.
export interface ReportData {
  generated: string; // ISO 8601
  out: string;
  outcome: string; // one sentence: written, not written and why, dry run, or the error
  newModelId?: string; // the id of the model as written (the one the daemons log); none when no model was trained
  installed: { path: string; id?: string }; // the file compared with; id when it was usable
  table: MaeEntry[];
  holdout: HoldoutPoint[]; // evenly thinned when there are many
  holdoutTotal?: number; // held-out jobs in all; default holdout.length
  worst?: HoldoutPoint[]; // the new model's largest errors over all held-out jobs; default from holdout
  holdoutRange?: { from: number; to: number }; // epoch s of the first and last held-out start
  counts: { jobs: number; examples: number; train: number; calibration: number; holdout: number };
  excluded: ExclusionCounts;
  meanings?: Record<ExclusionReason, string>; // default EXCLUSION_MEANINGS
  label?: string; // how the jobs were labelled: baselines, families
  families?: string[]; // the families left out, a line each (familyLines), the first a heading
  inputs: Array<{ what: string; path: string; summary: string }>;
  problems: string[]; // the first lines the readers skipped, as file:line: reason
  problemCount?: number; // all of them; default problems.length
  training?: string; // one sentence: epochs, best epoch, why it stopped, time
}

// What each exclusion reason means, with the options that set it.
export function exclusionMeanings(settings: { minRuntimeSec: number; minRuns: number; minCpuShare: number; maxBaselineSpread: number; maxSpeedup: number; maxSlowdown: number }): Record<ExclusionReason, string> {
  return {
    notStarted: 'never started (killed while pending or held)',
    failed: 'exited non-zero or was killed: its run time is not the work of its family',
    requeued: 'ran more than once (requeued by REQUEUE_EXIT_VALUES, a failed pre-exec, migrated; from lsb.events): lsb.acct adds up the CPU time of every run but has the start time of the last',
    badTimes: 'ends before it starts',
    tooShort: `ran under --min-runtime ${settings.minRuntimeSec} s (suspended time excluded): lsb.acct's whole seconds make shorter run times too coarse to label; a site of short jobs can lower it`,
    noUsage: 'the accounting has no user+system CPU time for it, so waiting cannot be told from working',
    noHistory: 'no sample of its first execution host within two intervals before it started',
    fewRuns: `its family has fewer than --min-runs ${settings.minRuns} usable runs before the holdout`,
    lowCpu: `its family's fastest runs keep under ${Math.round(100 * settings.minCpuShare)} % of their slots' CPU busy (sleeping, waiting for io): CPU time does not measure its work`,
    unstable: `its family's fastest runs are not stable: the baselines of its older and its newer runs differ by more than ${Math.round(100 * settings.maxBaselineSpread)} %`,
    outlier: `slowed by more than ${settings.maxSlowdown} %, or over ${settings.maxSpeedup} x its family's baseline CPU efficiency (more threads than usual)`,
  };
}

// The meanings at the default settings (docs/retrain-data.md has the why).
export const EXCLUSION_MEANINGS: Record<ExclusionReason, string> = exclusionMeanings(labelSettings());

// The error of the models over one range of one feature's scaled value.
export interface RangeMae {
  from: number; // scaled, 0..1
  to: number;
  rawFrom: number; // the same bounds as raw values
  rawTo: number;
  n: number;
  mae: number; // new model
  installedMae: number | null;
}

// Per feature: the held-out rows binned by the feature's scaled value (equal-width bins
// over 0..1, the last one closed), with the models' MAE in each. Features no held-out
// row reported are left out: an estimate or the idle value says nothing about the feature.
export function featureRangeErrors(points: readonly HoldoutPoint[], bins = 5): Array<{ feature: FeatureSpec; ranges: RangeMae[] }> {
  const out: Array<{ feature: FeatureSpec; ranges: RangeMae[] }> = [];
  FEATURES.forEach((feature, i) => {
    if (!points.some((p) => p.mask[i] === true)) return;
    const n = new Array<number>(bins).fill(0);
    const err = new Array<number>(bins).fill(0);
    const instErr = new Array<number>(bins).fill(0);
    const instN = new Array<number>(bins).fill(0);
    for (const p of points) {
      const b = Math.min(bins - 1, Math.max(0, Math.floor((p.values[i] ?? 0) * bins)));
      const actual = clampRank(p.label);
      n[b] = (n[b] ?? 0) + 1;
      err[b] = (err[b] ?? 0) + Math.abs(p.predicted - actual);
      if (p.installed !== undefined) {
        instN[b] = (instN[b] ?? 0) + 1;
        instErr[b] = (instErr[b] ?? 0) + Math.abs(p.installed - actual);
      }
    }
    const ranges: RangeMae[] = [];
    for (let b = 0; b < bins; b++) {
      const count = n[b] ?? 0;
      if (count === 0) continue;
      const ni = instN[b] ?? 0;
      ranges.push({
        from: b / bins,
        to: (b + 1) / bins,
        rawFrom: unscaleValue(feature, b / bins),
        rawTo: unscaleValue(feature, (b + 1) / bins),
        n: count,
        mae: (err[b] ?? 0) / count,
        installedMae: ni === 0 ? null : (instErr[b] ?? 0) / ni,
      });
    }
    out.push({ feature, ranges });
  });
  return out;
}

function fmt(x: number | null, digits = 1): string {
  return x === null || !Number.isFinite(x) ? '-' : x.toFixed(digits);
}

function rawText(spec: FeatureSpec, x: number): string {
  if (spec.unit === 'fraction') return `${(100 * x).toFixed(0)} %`;
  if (spec.unit === 'per-cpu') return `${x.toFixed(2)}/CPU`;
  const n = x < 10 ? x.toFixed(1) : x.toFixed(0);
  // A count of CPUs scales inversely: the bin at scaled 0 reaches CPUs without end.
  if (spec.unit === 'count') return x >= Number.MAX_VALUE ? '∞ CPUs' : `${n} CPUs`;
  return `${n}/s`;
}

// A range of raw values, the smaller first: an inverse or complement scaling turns a
// bin's bounds around (more CPUs is less contention).
function rangeText(spec: FeatureSpec, a: number, b: number): string {
  return a <= b ? `${rawText(spec, a)} to ${rawText(spec, b)}` : `${rawText(spec, b)} to ${rawText(spec, a)}`;
}

function isoMinute(epochSec: number): string {
  return Number.isFinite(epochSec) ? new Date(epochSec * 1000).toISOString().slice(0, 16).replace('T', ' ') : '-';
}

// Every n-th point so that at most `max` are drawn: a plot of 20 000 circles is a
// multi-megabyte file that browsers render slowly, and shows no more than 3 000 do.
export function thinned<T>(items: readonly T[], max: number): T[] {
  if (items.length <= max) return [...items];
  const step = items.length / max;
  return Array.from({ length: max }, (_, i) => items[Math.floor(i * step)]!);
}

const PLOT_POINTS = 3000;

// A predicted-vs-actual scatter plot as inline SVG, with the diagonal of a perfect model.
export function scatterSvg(title: string, pairs: ReadonlyArray<{ actual: number; predicted: number }>, max: number): Html {
  const size = 360;
  const pad = 44;
  const span = size - 2 * pad;
  const x = (v: number): string => (pad + (Math.min(max, Math.max(0, v)) / max) * span).toFixed(1);
  const y = (v: number): string => (size - pad - (Math.min(max, Math.max(0, v)) / max) * span).toFixed(1);
  const step = max <= 100 ? 20 : max <= 250 ? 50 : max <= 500 ? 100 : 200;
  const ticks = Array.from({ length: Math.floor(max / step) + 1 }, (_, i) => i * step);
  const shown = thinned(pairs, PLOT_POINTS);
  const dots = shown.map((p) => `<circle cx="${x(p.actual)}" cy="${y(p.predicted)}" r="1.6"/>`).join('');
  return html`<figure><svg width="${size}" height="${size}" viewBox="0 0 ${size} ${size}" role="img" aria-label="${title}">
<rect x="${pad}" y="${pad}" width="${span}" height="${span}" class="frame"/>
${new Html(ticks.map((t) => `<line x1="${x(t)}" y1="${size - pad}" x2="${x(t)}" y2="${size - pad + 4}" class="axis"/><text x="${x(t)}" y="${size - pad + 16}" text-anchor="middle">${t}</text>` + `<line x1="${pad - 4}" y1="${y(t)}" x2="${pad}" y2="${y(t)}" class="axis"/><text x="${pad - 6}" y="${(Number(y(t)) + 4).toFixed(1)}" text-anchor="end">${t}</text>`).join(''))}
<line x1="${x(0)}" y1="${y(0)}" x2="${x(max)}" y2="${y(max)}" class="diagonal"/>
<g class="dots">${new Html(dots)}</g>
<text x="${size / 2}" y="${size - 6}" text-anchor="middle">actual slowdown (%)</text>
<text x="12" y="${size / 2}" text-anchor="middle" transform="rotate(-90 12 ${size / 2})">predicted rank</text>
</svg><figcaption>${title}${shown.length < pairs.length ? ` (${shown.length} of ${pairs.length} jobs shown)` : ''}</figcaption></figure>`;
}

function bar(value: number, max: number, cls: string): Html {
  const w = max > 0 ? Math.max(1, Math.round((Math.min(value, max) / max) * 120)) : 1;
  return html`<svg width="124" height="10" class="${cls}"><rect x="0" y="1" width="${w}" height="8"/></svg>`;
}

const STYLE = `body{font:14px/1.4 system-ui,sans-serif;margin:1.5em auto;max-width:1100px;color:#222;padding:0 1em}
h1{font-size:1.4em}h2{font-size:1.15em;margin-top:1.6em;border-bottom:1px solid #ccc}
table{border-collapse:collapse;margin:.5em 0}td,th{padding:2px 8px;border-bottom:1px solid #eee;text-align:left;vertical-align:top}
td.n{text-align:right;font-variant-numeric:tabular-nums}.outcome{font-weight:bold}
figure{display:inline-block;margin:0 1em 1em 0}svg text{font-size:11px;fill:#444}
.frame{fill:#fafafa;stroke:#bbb}.axis{stroke:#888}.diagonal{stroke:#c33;stroke-dasharray:4 3}
.dots circle{fill:#1f5fa8;fill-opacity:.35}.inst .dots circle{fill:#8a5a00}
svg.new rect{fill:#1f5fa8}svg.old rect{fill:#c9a25c}code{font-size:.95em}.muted{color:#777}`;

// The whole report as one HTML document.
export function renderReport(d: ReportData): string {
  const judged = d.table.length > 0;
  const total = d.holdoutTotal ?? d.holdout.length;
  const actualMax = d.holdout.reduce((m, p) => Math.max(m, clampRank(p.label), p.predicted, p.installed ?? 0), 0);
  const plotMax = Math.min(RANK_MAX, Math.max(50, Math.ceil(actualMax / 50) * 50));
  const plots = [
    scatterSvg(`new model ${d.newModelId ?? ''}`, d.holdout.map((p) => ({ actual: clampRank(p.label), predicted: p.predicted })), plotMax),
  ];
  const withInstalled = d.holdout.filter((p) => p.installed !== undefined);
  if (d.installed.id !== undefined && withInstalled.length > 0) {
    const inst = scatterSvg(`installed model ${d.installed.id}`, withInstalled.map((p) => ({ actual: clampRank(p.label), predicted: p.installed ?? 0 })), plotMax);
    plots.push(html`<span class="inst">${inst}</span>`);
  }
  const ranges = featureRangeErrors(d.holdout);
  const maxMae = ranges.reduce((m, f) => f.ranges.reduce((mm, r) => Math.max(mm, r.mae, r.installedMae ?? 0), m), 0);
  const hasInstalled = d.installed.id !== undefined;
  const rangeRows = ranges.map(({ feature, ranges: rs }) =>
    rs.map(
      (r, k) => html`<tr>${k === 0 ? html`<td rowspan="${rs.length}"><code>${feature.name}</code></td>` : ''}<td>${rangeText(feature, r.rawFrom, r.rawTo)}</td><td class="n">${r.n}</td><td class="n">${fmt(r.mae)}</td><td>${bar(r.mae, maxMae, 'new')}</td>${
        hasInstalled ? html`<td class="n">${fmt(r.installedMae)}</td><td>${r.installedMae === null ? '' : bar(r.installedMae, maxMae, 'old')}</td>` : ''
      }</tr>`,
    ),
  );
  const worst = d.worst ?? [...d.holdout].sort((a, b) => Math.abs(b.predicted - clampRank(b.label)) - Math.abs(a.predicted - clampRank(a.label))).slice(0, 10);
  const meanings = d.meanings ?? EXCLUSION_MEANINGS;
  const shown = d.holdout.length < total ? ` (${d.holdout.length} of the ${total} held-out jobs, evenly spread over the holdout)` : '';
  const range = d.holdoutRange;
  const results = !judged
    ? html`<p>No model was judged: the run stopped before (see the outcome above). What was read and left out is below.</p>`
    : html`<h2>Holdout: the ${total} newest jobs</h2>
<p>${range === undefined ? '' : html`Started ${isoMinute(range.from)} to ${isoMinute(range.to)} UTC; `}no model was trained on them, and every predictor below is judged on the same jobs
and the same labels. MAE is the mean absolute difference between the predicted rank and the job's measured slowdown from contention,
in rank points (percent); lower is better.</p>
<table><thead><tr><th>predictor</th><th>MAE</th><th>n</th><th>notes</th></tr></thead><tbody>
${d.table.map((e) => html`<tr><td>${e.name}</td><td class="n">${fmt(e.mae)}</td><td class="n">${e.n}</td><td>${e.note}</td></tr>`)}
</tbody></table>
<p>The installed model is the file the new one would replace, else the one the daemons' config names: <code>${d.installed.path}</code>.</p>

<h2>Predicted vs actual</h2>
<p>One dot per held-out job${shown}; a perfect model puts every dot on the dashed diagonal.</p>
${plots}

<h2>Error per feature range</h2>
<p>Held-out jobs${shown} grouped by each feature's value when they started (equal fifths of the feature's scaled range);
a range where the error is high is where the model has learnt least. Features the history never reported are left out.</p>
<table><thead><tr><th>feature</th><th>range</th><th>n</th><th>MAE new</th><th></th>${hasInstalled ? html`<th>MAE installed</th><th></th>` : ''}</tr></thead><tbody>
${rangeRows}
</tbody></table>

<h2>Largest errors of the new model</h2>
<p>CPU efficiency is CPU time per second of run time per slot; the label is how far it fell below its family's baseline.</p>
<table><thead><tr><th>job</th><th>family</th><th>host</th><th>started (UTC)</th><th>run time s</th><th>CPU s</th><th>efficiency</th><th>family baseline</th><th>actual %</th><th>predicted</th>${hasInstalled ? html`<th>installed</th>` : ''}</tr></thead><tbody>
${worst.map(
  (p) =>
    html`<tr><td>${p.job.id}</td><td><code>${p.job.kind}</code></td><td>${p.job.host}</td><td>${isoMinute(p.job.start)}</td><td class="n">${fmt(p.job.runtime, 0)}</td><td class="n">${fmt(p.job.cpu, 0)}</td><td class="n">${fmt(p.job.efficiency, 2)}</td><td class="n">${fmt(p.job.baseline, 2)}</td><td class="n">${fmt(p.label)}</td><td class="n">${fmt(p.predicted)}</td>${
      hasInstalled ? html`<td class="n">${p.installed === undefined ? '-' : fmt(p.installed)}</td>` : ''
    }</tr>`,
)}
</tbody></table>`;
  const problemCount = d.problemCount ?? d.problems.length;
  const doc = html`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>lavarank retrain report</title>
<style>${new Html(STYLE)}</style></head><body>
<h1>lavarank retrain report</h1>
<p>Generated ${d.generated}. Model file <code>${d.out}</code>${d.newModelId === undefined ? '' : html`; the new model is <code>${d.newModelId}</code>, the id the daemons log when they load it`}.</p>
<p class="outcome">${d.outcome}</p>

${results}

<h2>Data</h2>
<p>${d.counts.jobs} finished jobs read; ${d.counts.examples} kept as examples: ${d.counts.train} to train on${
    d.counts.calibration > 0 ? ` (plus ${d.counts.calibration} calibration rows)` : ''
  }, ${d.counts.holdout} held out. ${d.training ?? ''}</p>
${d.label === undefined ? '' : html`<p>${d.label}</p>`}
<table><thead><tr><th>left out</th><th>jobs</th><th>why</th></tr></thead><tbody>
${EXCLUSION_REASONS.map((r) => html`<tr><td>${r}</td><td class="n">${d.excluded[r]}</td><td>${meanings[r]}</td></tr>`)}
</tbody></table>
${d.families === undefined || d.families.length === 0 ? '' : html`<p>${d.families[0] ?? ''}</p><ul>${d.families.slice(1).map((l) => html`<li>${l.trim()}</li>`)}</ul>`}
<table><thead><tr><th>input</th><th>file</th><th>read</th></tr></thead><tbody>
${d.inputs.map((i) => html`<tr><td>${i.what}</td><td><code>${i.path}</code></td><td>${i.summary}</td></tr>`)}
</tbody></table>
${problemCount === 0 ? '' : html`<p>${problemCount} malformed lines were skipped${problemCount > d.problems.length ? html`; the first ${d.problems.length}` : ''}:</p><ul>${d.problems.map((p) => html`<li><code>${p}</code></li>`)}</ul>${
    problemCount > d.problems.length ? html`<p>and ${problemCount - d.problems.length} more.</p>` : ''
  }`}
<p class="muted">lavarank retrain; see docs/retrain.md.</p>
</body></html>
`;
  return doc.text;
}
