// What `lavarank simulate` prints and writes: a table for the terminal, a JSON
// document, and one self-contained HTML report (inline CSS and SVG, no script,
// nothing fetched) with the slowdown CDF per policy, jobs per host over time and the
// reservation sweep. Strings from the input (host names, job families, file names)
// go through the escaping `html` template.
import { html, Html } from '../training/report-html.js';
import { sweepOf, type ExperimentResult, type PolicySummary, type Spread } from './experiment.js';

// What the report says about the run besides the figures.
export interface ReportContext {
  generated: string; // ISO 8601
  command: string; // the command line
  workload: string; // one sentence
  hostsText: string; // one sentence
  model: string; // model id, or "none"
  scheduler: string; // one sentence
  recommended: { d: number; t: number; decay?: number; from: string };
  params: string; // the cluster model's parameters and their source
  notes: string[]; // warnings and remarks
}

const pct = (x: number | undefined): string => (x === undefined || !Number.isFinite(x) ? '-' : `${(x * 100).toFixed(0)}%`);
const fix = (x: number | undefined, d = 3): string => (x === undefined || !Number.isFinite(x) ? '-' : x.toFixed(d));

function withSpread(s: Spread | undefined, digits: number, scale = 1, suffix = ''): string {
  if (s === undefined || !Number.isFinite(s.mean)) return '-';
  const m = (s.mean * scale).toFixed(digits);
  return Number.isFinite(s.ci95) ? `${m}±${(s.ci95 * scale).toFixed(digits)}${suffix}` : `${m}${suffix}`;
}

// The table's rows, as text cells.
export function tableRows(result: ExperimentResult): string[][] {
  const header = ['policy', 'mean slowdown', 'p95', 'excess', 'of oracle gain', 'cut vs default', 'pending s', 'makespan h', 'util mean (min-max)'];
  const rows = result.policies.map((p) => {
    if (p.unavailable !== undefined) return [p.name, p.unavailable, '', '', '', '', '', '', ''];
    // The hosts' lowest and highest utilisation, averaged over seeds like the mean
    // beside them (one seed's extremes could fall outside the seeds' mean).
    const avg = (f: (r: (typeof p.runs)[number]) => number): number => p.runs.reduce((a, r) => a + f(r), 0) / p.runs.length;
    const u = p.runs.length === 0 ? undefined : { min: avg((r) => r.utilisation.min), max: avg((r) => r.utilisation.max) };
    return [
      p.name,
      withSpread(p.meanSlowdown, 3),
      withSpread(p.p95Slowdown, 2),
      withSpread(p.meanExcess, 3),
      p.kind === 'default' || p.kind === 'oracle' ? '' : withSpread(p.gainShare, 0, 100, '%'),
      p.kind === 'default' ? '' : withSpread(p.cutVsDefault, 1, 100, '%'),
      withSpread(p.meanPending, 0),
      withSpread(p.makespan, 1, 1 / 3600),
      u === undefined ? '-' : `${pct(p.utilisation?.mean)} (${pct(u.min)}-${pct(u.max)})`,
    ];
  });
  return [header, ...rows];
}

// Aligned text columns; a row with one long cell (an unavailable policy) is not padded.
export function formatColumns(rows: string[][]): string {
  const width = rows[0]!.map((_, c) => Math.max(...rows.filter((r) => r[2] !== '' || c === 0).map((r) => r[c]!.length)));
  return rows
    .map((r, i) => {
      const line = r[2] === '' && i > 0 ? `${r[0]!.padEnd(width[0]!)}  ${r[1]}` : r.map((cell, c) => (c === 0 ? cell.padEnd(width[c]!) : cell.padStart(width[c]!))).join('  ');
      return line.trimEnd();
    })
    .join('\n');
}

// The terminal's summary: context, table, sweep and what the columns mean.
export function formatReport(result: ExperimentResult, ctx: ReportContext): string {
  const sweep = sweepOf(result);
  const best = [...sweep].sort((a, b) => a.meanSlowdown.mean - b.meanSlowdown.mean)[0];
  const lines = [
    `workload: ${ctx.workload}`,
    `hosts:    ${ctx.hostsText}`,
    `model:    ${ctx.model}`,
    `mbatchd:  ${ctx.scheduler}`,
    `seeds:    ${result.seeds.join(', ')} (figures are the mean over seeds ± the 95 % interval of that mean)`,
    '',
    formatColumns(tableRows(result)),
    '',
  ];
  if (sweep.length > 1) {
    lines.push(`reservation sweep (T = ${ctx.recommended.t} s): ${sweep.map((s) => `D=${s.d}: ${fix(s.meanSlowdown.mean)}`).join(', ')}`);
    if (best !== undefined) lines.push(`lowest mean slowdown at D = ${best.d}; recommended D = ${ctx.recommended.d} (${ctx.recommended.from})`);
    lines.push('');
  }
  lines.push(
    'slowdown: run time / run time alone on an idle host of its kind; excess: slowdown - 1;',
    '"of oracle gain": (default - policy) / (default - oracle) of the mean slowdown, per seed;',
    'a cut in mean slowdown can never exceed 1 - 1/(default mean slowdown).',
  );
  for (const n of ctx.notes) lines.push(`note: ${n}`);
  return lines.join('\n');
}

// The JSON document --json prints.
export function reportJson(result: ExperimentResult, ctx: ReportContext): Record<string, unknown> {
  return { generated: ctx.generated, command: ctx.command, workload: ctx.workload, hostsText: ctx.hostsText, model: ctx.model, scheduler: ctx.scheduler, recommended: ctx.recommended, params: ctx.params, notes: ctx.notes, sweep: sweepOf(result), ...result };
}

const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#8c564b', '#e377c2', '#7f7f7f', '#bcbd22', '#17becf', '#393b79', '#637939', '#8c6d31', '#843c39'];

interface Axis {
  min: number;
  max: number;
}

function ticks(a: Axis, n = 5): number[] {
  const span = a.max - a.min;
  if (!(span > 0)) return [a.min];
  const raw = span / n;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((k) => k * mag).find((s) => s >= raw) ?? raw;
  const out: number[] = [];
  for (let v = Math.ceil(a.min / step) * step; v <= a.max + 1e-9; v += step) out.push(Number(v.toFixed(10)));
  return out;
}

const fmtTick = (v: number): string => (Math.abs(v) >= 1000 ? v.toFixed(0) : Number(v.toPrecision(3)).toString());

// An SVG line chart with axes, a legend and optional error bars.
function lineChart(
  series: Array<{ label: string; color: string; points: Array<[number, number]>; err?: number[]; dashed?: boolean }>,
  opts: { width?: number; height?: number; x: Axis; y: Axis; xLabel: string; yLabel: string; legend?: boolean },
): Html {
  const W = opts.width ?? 640;
  const H = opts.height ?? 320;
  const m = { l: 56, r: opts.legend === false ? 12 : 150, t: 10, b: 40 };
  const pw = W - m.l - m.r;
  const ph = H - m.t - m.b;
  const sx = (x: number): number => m.l + ((x - opts.x.min) / (opts.x.max - opts.x.min || 1)) * pw;
  const sy = (y: number): number => m.t + ph - ((y - opts.y.min) / (opts.y.max - opts.y.min || 1)) * ph;
  const clipY = (y: number): number => Math.min(opts.y.max, Math.max(opts.y.min, y));
  const parts: string[] = [];
  for (const t of ticks(opts.x)) parts.push(`<line x1="${sx(t)}" y1="${m.t}" x2="${sx(t)}" y2="${m.t + ph}" stroke="#eee"/><text x="${sx(t)}" y="${m.t + ph + 16}" text-anchor="middle">${fmtTick(t)}</text>`);
  for (const t of ticks(opts.y)) parts.push(`<line x1="${m.l}" y1="${sy(t)}" x2="${m.l + pw}" y2="${sy(t)}" stroke="#eee"/><text x="${m.l - 6}" y="${sy(t) + 4}" text-anchor="end">${fmtTick(t)}</text>`);
  parts.push(`<rect x="${m.l}" y="${m.t}" width="${pw}" height="${ph}" fill="none" stroke="#999"/>`);
  parts.push(`<text x="${m.l + pw / 2}" y="${H - 6}" text-anchor="middle">${html`${opts.xLabel}`.text}</text>`);
  parts.push(`<text transform="translate(14 ${m.t + ph / 2}) rotate(-90)" text-anchor="middle">${html`${opts.yLabel}`.text}</text>`);
  series.forEach((s, i) => {
    const pts = s.points.filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y) && x >= opts.x.min && x <= opts.x.max);
    if (pts.length > 0) {
      const d = pts.map(([x, y], k) => `${k === 0 ? 'M' : 'L'}${sx(x).toFixed(1)},${sy(clipY(y)).toFixed(1)}`).join('');
      parts.push(`<path d="${d}" fill="none" stroke="${s.color}" stroke-width="1.6"${s.dashed === true ? ' stroke-dasharray="5 4"' : ''}/>`);
      if (pts.length < 20) for (const [x, y] of pts) parts.push(`<circle cx="${sx(x).toFixed(1)}" cy="${sy(clipY(y)).toFixed(1)}" r="2.5" fill="${s.color}"/>`);
      s.err?.forEach((e, k) => {
        const p = s.points[k];
        if (p === undefined || !Number.isFinite(e)) return;
        parts.push(`<line x1="${sx(p[0]).toFixed(1)}" y1="${sy(clipY(p[1] - e)).toFixed(1)}" x2="${sx(p[0]).toFixed(1)}" y2="${sy(clipY(p[1] + e)).toFixed(1)}" stroke="${s.color}"/>`);
      });
    }
    if (opts.legend !== false) {
      const ly = m.t + 12 + i * 16;
      parts.push(`<line x1="${W - m.r + 10}" y1="${ly - 4}" x2="${W - m.r + 28}" y2="${ly - 4}" stroke="${s.color}" stroke-width="2"${s.dashed === true ? ' stroke-dasharray="5 4"' : ''}/><text x="${W - m.r + 32}" y="${ly}">${html`${s.label}`.text}</text>`);
    }
  });
  return new Html(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" class="chart" font-family="sans-serif" font-size="11"><rect width="${W}" height="${H}" fill="#fff"/>${parts.join('')}</svg>`);
}

function cdfChart(policies: PolicySummary[]): Html {
  // The sweep's extra Ds (listed after the oracle) would only crowd the plot.
  const oracleAt = policies.findIndex((p) => p.kind === 'oracle');
  const shown = (oracleAt === -1 ? policies : policies.slice(0, oracleAt + 1)).filter((p) => p.cdf !== undefined);
  const xmax = Math.max(1.5, ...shown.map((p) => p.cdf![99] ?? 1));
  return lineChart(
    shown.map((p, i) => ({ label: p.name, color: COLORS[i % COLORS.length]!, points: p.cdf!.map((x, q) => [x, q / 100] as [number, number]), dashed: p.kind === 'oracle' || p.kind === 'default' })),
    { x: { min: 1, max: Math.ceil(xmax * 10) / 10 }, y: { min: 0, max: 1 }, xLabel: 'slowdown (run time / idle run time), up to the 99th percentile', yLabel: 'share of jobs' },
  );
}

function traceCharts(policies: PolicySummary[]): Html {
  const shown = policies.filter((p) => p.trace !== undefined && p.trace.hosts.length > 0 && p.trace.times.length > 0);
  if (shown.length === 0) return html`<p>No host was traced.</p>`;
  const tmax = Math.max(...shown.map((p) => p.trace!.times[p.trace!.times.length - 1]!)) / 3600;
  const ymax = shown.reduce((a, p) => p.trace!.running.reduce((b, line) => line.reduce((c, v) => Math.max(c, v), b), a), 1);
  const charts = shown.map((p) => {
    const t = p.trace!;
    // At most 400 points per line: every k-th session.
    const step = Math.max(1, Math.ceil(t.times.length / 400));
    const series = t.hosts.map((name, k) => ({
      label: name,
      color: COLORS[k % COLORS.length]!,
      points: t.times.filter((_, i) => i % step === 0).map((time, i) => [time / 3600, t.running[k]![i * step]!] as [number, number]),
    }));
    return html`<figure><figcaption>${p.name}</figcaption>${lineChart(series, { width: 460, height: 220, x: { min: 0, max: tmax }, y: { min: 0, max: ymax }, xLabel: 'hours', yLabel: 'jobs running', legend: false })}</figure>`;
  });
  const legend = shown[0]!.trace!.hosts.map((name, k) => html`<span style="color:${COLORS[k % COLORS.length]!}">&#9632; ${name}</span> `);
  return html`<p>${legend}</p><div class="grid">${charts}</div>`;
}

function sweepChart(result: ExperimentResult): Html {
  const sweep = sweepOf(result);
  if (sweep.length < 2) return html`<p>No sweep was run (give --sweep).</p>`;
  const base = result.policies.find((p) => p.kind === 'default')?.meanSlowdown?.mean;
  const oracle = result.policies.find((p) => p.kind === 'oracle')?.meanSlowdown?.mean;
  const xs = sweep.map((s) => s.d);
  const ys = sweep.flatMap((s) => [s.meanSlowdown.mean - (s.meanSlowdown.ci95 || 0), s.meanSlowdown.mean + (s.meanSlowdown.ci95 || 0)]);
  if (base !== undefined) ys.push(base);
  if (oracle !== undefined) ys.push(oracle);
  const lo = Math.min(...ys.filter(Number.isFinite));
  const hi = Math.max(...ys.filter(Number.isFinite));
  const pad = (hi - lo) * 0.1 || 0.05;
  const x = { min: Math.min(...xs), max: Math.max(...xs) };
  const flat = (v: number | undefined, label: string, color: string) => (v === undefined ? [] : [{ label, color, points: [[x.min, v], [x.max, v]] as Array<[number, number]>, dashed: true }]);
  return lineChart(
    [
      { label: 'order[rank] rusage D', color: COLORS[0]!, points: sweep.map((s) => [s.d, s.meanSlowdown.mean] as [number, number]), err: sweep.map((s) => s.meanSlowdown.ci95) },
      ...flat(base, 'default r15s:pg', COLORS[1]!),
      ...flat(oracle, 'oracle', COLORS[2]!),
    ],
    { x, y: { min: lo - pad, max: hi + pad }, xLabel: 'D (rank points reserved per job)', yLabel: 'mean slowdown' },
  );
}

// The whole HTML report.
export function renderHtml(result: ExperimentResult, ctx: ReportContext): string {
  const rows = tableRows(result);
  const table = html`<table><thead><tr>${rows[0]!.map((h) => html`<th>${h}</th>`)}</tr></thead><tbody>${rows.slice(1).map((r) => html`<tr>${r.map((c, i) => (i === 0 ? html`<td class="name">${c}</td>` : html`<td>${c}</td>`))}</tr>`)}</tbody></table>`;
  const policies = result.policies.map((p) => html`<li><b>${p.name}</b>: ${p.description}${p.unavailable === undefined ? '' : ` (${p.unavailable})`}</li>`);
  const byType = result.policies.filter((p) => p.runs.length > 0).map((p) => {
    const cell = (t: 'cpu' | 'mem' | 'io'): string => {
      const v = p.runs.map((r) => r.byType[t]?.meanSlowdown).filter((x): x is number => x !== undefined);
      return v.length === 0 ? '-' : fix(v.reduce((a, b) => a + b, 0) / v.length);
    };
    return html`<tr><td class="name">${p.name}</td><td>${cell('cpu')}</td><td>${cell('mem')}</td><td>${cell('io')}</td></tr>`;
  });
  const hostsOf = result.policies.find((p) => p.kind === 'default')?.hosts ?? result.policies.find((p) => p.hosts !== undefined)?.hosts ?? [];
  const shownHosts = hostsOf.slice(0, 40);
  const utilRows = shownHosts.map((h) => html`<tr><td class="name">${h.name}</td><td>${h.cpus}</td>${result.policies.filter((p) => p.hosts !== undefined).map((p) => {
    const u = p.hosts!.find((x) => x.name === h.name);
    return html`<td>${u === undefined ? '-' : `${pct(u.utilisation)} / ${u.jobs}`}</td>`;
  })}</tr>`);
  const doc = html`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>lavarank simulate</title>
<style>
body{font-family:system-ui,sans-serif;margin:2em;max-width:1100px;color:#222}
table{border-collapse:collapse;margin:1em 0;font-size:13px}th,td{border:1px solid #ccc;padding:3px 8px;text-align:right}td.name,th:first-child{text-align:left}
svg.chart text{fill:#333}
.grid{display:flex;flex-wrap:wrap;gap:8px}figure{margin:0}figcaption{font-weight:bold;font-size:13px}
code,pre{background:#f5f5f5}pre{padding:.5em;white-space:pre-wrap}.note{color:#a33}
</style></head><body>
<h1>What ordering by rank gains: lavarank simulate</h1>
<p>Generated ${ctx.generated}. <code>${ctx.command}</code></p>
<ul><li>Workload: ${ctx.workload}</li><li>Hosts: ${ctx.hostsText}</li><li>Rank model: ${ctx.model}</li><li>mbatchd: ${ctx.scheduler}</li>
<li>Seeds: ${result.seeds.join(', ')}; ${result.jobsPerSeed.join(', ')} jobs; ${result.seconds.toFixed(1)} s of simulation, ${result.rankCalls} calls of the ranker.</li>
<li>Cluster model: ${ctx.params}</li></ul>
${ctx.notes.map((n) => html`<p class="note">${n}</p>`)}
<h2>Policies</h2>
<p>Figures are means over the seeds, ± the half-width of the 95 % confidence interval of that mean. Slowdown is a job's run time over its run time alone on an idle host of the kind it ran on; excess is slowdown − 1, what contention costs. "Of oracle gain" is (default − policy) / (default − oracle) of the mean slowdown, computed per seed. A cut in mean slowdown can never exceed 1 − 1/(default's mean slowdown).</p>
${table}
<ul>${policies}</ul>
<h2>Slowdown by job type (mean over seeds)</h2>
<table><thead><tr><th>policy</th><th>cpu</th><th>mem</th><th>io</th></tr></thead><tbody>${byType}</tbody></table>
<h2>Slowdown distribution (first seed)</h2>
${cdfChart(result.policies)}
<h2>Jobs per host over time (first seed, first hosts of the list)</h2>
<p>Ties keep the host list's order, so bursts that herd land on the first hosts.</p>
${traceCharts(result.policies)}
<h2>The reservation sweep</h2>
<p>order[rank] rusage[rank=D:duration=${ctx.recommended.t}s:decay=${ctx.recommended.decay ?? 1}] for each D (D = 0: no reservation); recommended D = ${ctx.recommended.d} (${ctx.recommended.from}).</p>
${sweepChart(result)}
<h2>Per-host utilisation and jobs (first seed${hostsOf.length > shownHosts.length ? `, first ${shownHosts.length} of ${hostsOf.length} hosts` : ''})</h2>
<table><thead><tr><th>host</th><th>CPUs</th>${result.policies.filter((p) => p.hosts !== undefined).map((p) => html`<th>${p.name}</th>`)}</tr></thead><tbody>${utilRows}</tbody></table>
</body></html>
`;
  return doc.text;
}
