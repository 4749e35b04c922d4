import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { noExclusions } from '../../src/training/jobs.js';
import { featuresFromNamed } from '../../src/model/features.js';
import { escapeHtml, featureRangeErrors, html, Html, renderReport, scatterSvg, thinned, type HoldoutPoint, type ReportData } from '../../src/training/report-html.js';

const EVIL = '<script>alert(1)</script>';
const EVIL_ATTR = '"><img src=x onerror=alert(1)>';

function point(cpu: number, label: number, predicted: number, over: Partial<HoldoutPoint['job']> = {}, installed?: number): HoldoutPoint {
  const f = featuresFromNamed({ cpu_busy: cpu });
  const p: HoldoutPoint = {
    label, values: f.values, mask: f.mask, predicted,
    job: { id: '101', kind: 'name:sim', host: 'node001', start: 1_800_000_000, runtime: 120, cpu: 100, efficiency: 0.83, baseline: 1, ...over },
  };
  if (installed !== undefined) p.installed = installed;
  return p;
}

function data(over: Partial<ReportData> = {}): ReportData {
  return {
    generated: '2027-01-01T00:00:00.000Z',
    out: '/etc/lavarank/model.json',
    outcome: 'Written.',
    newModelId: 'retrained#12345678',
    installed: { path: '/etc/lavarank/model.json', id: 'old#87654321' },
    table: [{ name: 'new model', mae: 4.2, n: 3, note: 'n' }, { name: 'installed model', mae: null, n: 3, note: 'none' }],
    holdout: [point(0.1, 20, 22, {}, 40), point(0.5, 100, 90, {}, 60), point(0.9, 180, 185, {}, 80)],
    holdoutRange: { from: 1_800_000_000, to: 1_800_003_600 },
    counts: { jobs: 10, examples: 8, train: 5, calibration: 0, holdout: 3 },
    excluded: { ...noExclusions(), failed: 2 },
    inputs: [{ what: 'lsb.acct', path: '/var/lsf/logdir/lsb.acct', summary: '10 records' }],
    problems: [],
    training: 'Trained 10 epochs.',
    ...over,
  };
}

describe('escapeHtml', () => {
  test('escapes the five characters that can end text or an attribute', () => {
    assert.equal(escapeHtml(`<a href="x" title='y'>&</a>`), '&lt;a href=&quot;x&quot; title=&#39;y&#39;&gt;&amp;&lt;/a&gt;');
  });
});

describe('html', () => {
  test('escapes interpolated strings and lists of them, but not Html it built', () => {
    const inner = html`<b>${'<i>'}</b>`;
    assert.equal(html`<p>${inner}${['<', '>']}${undefined}${7}</p>`.text, '<p><b>&lt;i&gt;</b>&lt;&gt;7</p>');
    assert.ok(inner instanceof Html);
  });
});

describe('renderReport', () => {
  test('escapes job names, commands, hosts, paths and parser messages taken from the data', () => {
    const text = renderReport(
      data({
        holdout: [point(0.2, 50, 300, { kind: `name:${EVIL}`, host: EVIL_ATTR, id: EVIL })],
        inputs: [{ what: 'history', path: `/tmp/${EVIL}`, summary: EVIL }],
        problems: [`lsb.acct:3: unexpected ${EVIL}`],
        installed: { path: EVIL_ATTR },
        table: [{ name: 'new model', mae: 1, n: 1, note: EVIL }],
        out: EVIL_ATTR,
      }),
    );
    assert.ok(!text.includes('<script'), 'a <script> element got through');
    assert.ok(!text.includes('<img'), 'an <img> element got through');
    assert.ok(text.includes('&lt;script&gt;alert(1)&lt;/script&gt;'));
    assert.ok(text.includes('&quot;&gt;&lt;img src=x onerror=alert(1)&gt;'));
  });

  test('is self-contained: no script, nothing loaded from elsewhere', () => {
    const text = renderReport(data());
    assert.match(text, /^<!DOCTYPE html>/);
    for (const pattern of [/<script/i, /\bsrc\s*=/i, /\bhref\s*=/i, /url\(/i, /<link/i, /@import/i, /\bon[a-z]+\s*=/i]) {
      assert.doesNotMatch(text, pattern);
    }
  });

  test('draws one plot for the new model and one for the installed model, with a dot per job', () => {
    const text = renderReport(data());
    assert.equal(text.match(/<svg width="360"/g)?.length, 2);
    assert.equal(text.match(/<circle /g)?.length, 6);
    assert.match(text, /new model retrained#12345678/);
    assert.match(text, /installed model old#87654321/);
  });

  test('draws only the new model when there is no usable installed one', () => {
    const text = renderReport(data({ installed: { path: '/x' }, holdout: [point(0.2, 10, 12), point(0.3, 20, 25)] }));
    assert.equal(text.match(/<svg width="360"/g)?.length, 1);
    assert.doesNotMatch(text, /MAE installed/);
  });

  test('names the new model by the id the daemons log', () => {
    assert.match(renderReport(data()), /the new model is <code>retrained#12345678<\/code>, the id the daemons log/);
  });

  test('for a run that stopped early, says why and still lists what was read and left out', () => {
    const text = renderReport(data({ outcome: 'Not written: no usable examples.', table: [], holdout: [], excluded: { ...noExclusions(), tooShort: 66 } }));
    assert.match(text, /No model was judged/);
    assert.doesNotMatch(text, /Predicted vs actual/);
    assert.match(text, /<td>tooShort<\/td><td class="n">66<\/td><td>ran under --min-runtime 10 s/);
  });

  test('shows the first malformed lines and counts the rest', () => {
    const text = renderReport(data({ problems: ['a:1: bad', 'a:2: bad'], problemCount: 30 }));
    assert.match(text, /30 malformed lines were skipped; the first 2:/);
    assert.match(text, /<li><code>a:2: bad<\/code><\/li>/);
    assert.match(text, /and 28 more/);
  });

  test('says when the plots show a thinned sample of the holdout', () => {
    assert.match(renderReport(data({ holdoutTotal: 300 })), /3 of the 300 held-out jobs, evenly spread/);
  });

  test('lists every exclusion reason with its count', () => {
    const text = renderReport(data());
    assert.match(text, /<td>failed<\/td><td class="n">2<\/td>/);
    assert.match(text, /<td>noHistory<\/td><td class="n">0<\/td>/);
  });
});

describe('featureRangeErrors', () => {
  test('bins the held-out jobs by a feature\'s scaled value and gives each bin its MAE and n', () => {
    const points = [point(0.05, 10, 12, {}, 20), point(0.1, 10, 14, {}, 30), point(0.95, 190, 180, {}, 100)];
    const cpu = featureRangeErrors(points).find((f) => f.feature.name === 'cpu_busy');
    assert.ok(cpu !== undefined);
    assert.deepEqual(
      cpu.ranges.map((r) => ({ from: r.from, n: r.n, mae: r.mae, installedMae: r.installedMae })),
      [
        { from: 0, n: 2, mae: 3, installedMae: 15 },
        { from: 0.8, n: 1, mae: 10, installedMae: 90 },
      ],
    );
    assert.equal(cpu.ranges[1]?.to, 1);
    assert.equal(cpu.ranges[1]?.rawFrom, 0.8);
  });

  test('puts the value 1 in the last bin', () => {
    const ranges = featureRangeErrors([point(1, 100, 100)]).find((f) => f.feature.name === 'cpu_busy')?.ranges;
    assert.deepEqual(ranges?.map((r) => r.from), [0.8]);
  });

  test('leaves out features no held-out job reported, and gives no installed MAE without an installed model', () => {
    const found = featureRangeErrors([point(0.5, 10, 10)]);
    assert.deepEqual(found.map((f) => f.feature.name), ['cpu_busy']);
    assert.equal(found[0]?.ranges[0]?.installedMae, null);
  });
});

describe('renderReport, the error per feature range', () => {
  test('gives the ranges of a CPU count in CPUs, the smaller first, and the open end as ∞, not as per-second rates of 1.8e308', () => {
    const onHost = (cpus: number, label: number): HoldoutPoint => {
      const f = featuresFromNamed({ cpu_busy: 0.5, cpus });
      return { ...point(0.5, label, label), values: f.values, mask: f.mask };
    };
    const text = renderReport(data({ holdout: [onHost(2, 10), onHost(32, 20)] }));
    const from = text.indexOf('<code>cpus</code>');
    assert.ok(from > 0, 'a row for cpus');
    const cpus = text.slice(from, text.indexOf('</tbody>', from));
    assert.match(cpus, /<td>4\.0 CPUs to ∞ CPUs<\/td>/);
    assert.match(cpus, /<td>1\.5 CPUs to 4\.0 CPUs<\/td>/);
    assert.doesNotMatch(text, /e\+308/);
    assert.doesNotMatch(cpus, /\/s</);
  });
});

describe('thinned and scatterSvg', () => {
  test('thinned keeps at most max items, evenly spread, the first one included', () => {
    const items = Array.from({ length: 10_000 }, (_, i) => i);
    const kept = thinned(items, 3000);
    assert.equal(kept.length, 3000);
    assert.equal(kept[0], 0);
    assert.ok(kept.every((x, i) => i === 0 || x > (kept[i - 1] ?? Infinity)));
    assert.deepEqual(thinned([1, 2], 3000), [1, 2]);
  });

  test('a plot of many jobs draws at most 3000 dots and says how many it shows', () => {
    const pairs = Array.from({ length: 5000 }, (_, i) => ({ actual: i % 300, predicted: (i * 7) % 300 }));
    const svg = scatterSvg('m', pairs, 300).text;
    assert.equal(svg.match(/<circle /g)?.length, 3000);
    assert.match(svg, /3000 of 5000 jobs shown/);
  });
});
