import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Sample } from '../../src/collectors/types.js';
import { runExperiment } from '../../src/simulate/experiment.js';
import { mergeHosts } from '../../src/simulate/hosts.js';
import { standardPolicies } from '../../src/simulate/policies.js';
import { formatReport, renderHtml, reportJson, tableRows, type ReportContext } from '../../src/simulate/report.js';
import { generateWorkload } from '../../src/simulate/workload.js';

const hosts = mergeHosts([{ name: 'node<1>&', cpus: 8 }, { name: 'n2', cpus: 16 }, { name: 'n3', cpus: 4 }]);
const ranker = { name: 'r', rank: (s: Sample) => ({ rank: 100 * (s.load?.runnablePerCpu ?? 0), model: 'r' }) };
const result = runExperiment({
  hosts,
  workload: (seed) => generateWorkload(hosts, { jobs: 80 }, seed),
  policies: standardPolicies({ d: 4, t: 45 }, [10]),
  seeds: [1, 2],
  ranker,
  traceHosts: 3,
});
const ctx: ReportContext = {
  generated: '2026-12-01T00:00:00Z',
  command: 'lavarank simulate --hosts "<x>"',
  workload: 'generated',
  hostsText: '3 hosts',
  model: 'r',
  scheduler: 'defaults',
  recommended: { d: 4, t: 45, from: 'test' },
  params: 'calibrated',
  notes: ['typed ranks unavailable: model has no typed ranks'],
};

describe('formatReport', () => {
  it('prints one row per policy with its spread, the unavailable ones with their reason, and the sweep', () => {
    const text = formatReport(result, ctx);
    assert.match(text, /^policy +mean slowdown +p95 +excess +of oracle gain/m);
    for (const p of result.policies) assert.match(text, new RegExp(`^${p.name.replace('+', '\\+')} `, 'm'));
    assert.match(text, /^typed\+D4 +unavailable: model has no typed ranks$/m);
    assert.match(text, /^default +\d\.\d{3}±\d\.\d{3} /m);
    assert.match(text, /reservation sweep \(T = 45 s\): D=0: \d\.\d{3}, D=4: \d\.\d{3}, D=10: \d\.\d{3}/);
    assert.match(text, /note: typed ranks unavailable/);
  });
});

describe('tableRows', () => {
  it('gives the utilisation\'s mean, lowest and highest host each averaged over the seeds', () => {
    const rows = tableRows(result);
    const p = result.policies.find((x) => x.name === 'default')!;
    const avg = (f: (r: (typeof p.runs)[number]) => number) => Math.round((100 * p.runs.reduce((a, r) => a + f(r), 0)) / p.runs.length);
    const cell = rows.find((r) => r[0] === 'default')!.at(-1)!;
    assert.equal(cell, `${avg((r) => r.utilisation.mean)}% (${avg((r) => r.utilisation.min)}%-${avg((r) => r.utilisation.max)}%)`);
    for (const row of rows.slice(1)) {
      const m = /^(\d+)% \((\d+)%-(\d+)%\)$/.exec(row.at(-1)!);
      if (m !== null) assert.ok(Number(m[2]) <= Number(m[1]) && Number(m[1]) <= Number(m[3]), row.join(' | '));
    }
  });
});

describe('reportJson', () => {
  it('holds the per-seed figures, the summaries and the context', () => {
    const j = JSON.parse(JSON.stringify(reportJson(result, ctx))) as { policies: Array<{ name: string; runs: unknown[]; meanSlowdown?: { mean: number; ci95: number } }>; seeds: number[]; recommended: unknown };
    assert.deepEqual(j.seeds, [1, 2]);
    assert.equal(j.policies.find((p) => p.name === 'default')!.runs.length, 2);
    assert.equal(typeof j.policies[0]!.meanSlowdown!.ci95, 'number');
    assert.deepEqual(j.recommended, { d: 4, t: 45, from: 'test' });
  });
});

describe('renderHtml', () => {
  const page = renderHtml(result, ctx);

  it('is self-contained: inline SVG plots, no script, nothing fetched', () => {
    assert.ok((page.match(/<svg /g) ?? []).length >= 3); // CDF, traces, sweep
    assert.doesNotMatch(page, /<script|<link|<img|src=|url\(/i);
    assert.doesNotMatch(page, /href="http/);
  });

  it('escapes names from the input', () => {
    assert.match(page, /node&lt;1&gt;&amp;/);
    assert.doesNotMatch(page, /node<1>/);
    assert.match(page, /--hosts &quot;&lt;x&gt;&quot;/);
  });

  it('has the slowdown CDF, jobs per host over time and the D sweep', () => {
    assert.match(page, /Slowdown distribution/);
    assert.match(page, /Jobs per host over time/);
    assert.match(page, /The reservation sweep/);
  });
});
