import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { recommendForCpus } from '../../src/commands/recommend.js';
import { loadModel, modelFromFile } from '../../src/model/model.js';
import { defaultModelPath } from '../../src/model/rankers.js';
import { SHIPPED_CPUS, regenerate, renderMarkdown, renderQueueSnippet, reservationFigures } from '../../scripts/gen-reservation.js';
import { cliPath, repoRoot } from '../helpers.js';
import { randomModelFile } from '../model/helpers.js';

const SNIPPET = join(repoRoot, 'openlava-conf', 'lsb.queues');
const shippedResReq = (): string => /^RES_REQ\s*=\s*(.*)$/m.exec(readFileSync(SNIPPET, 'utf8'))?.[1] ?? '';

describe('the shipped reservation', () => {
  it('in lsb.queues is what lavarank recommend --cpus 16 prints for the embedded default model', () => {
    const r = spawnSync(process.execPath, [cliPath, 'recommend', '--cpus', String(SHIPPED_CPUS), '--json'], {
      encoding: 'utf8',
      env: { PATH: process.env['PATH'] ?? '' },
    });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(shippedResReq(), (JSON.parse(r.stdout) as { resReq: string }).resReq);
  });

  it('agrees in every file that states it (else: npm run gen:reservation)', () => {
    for (const { file, now, wanted } of regenerate()) assert.equal(now, wanted, `${file} disagrees with lavarank recommend; run: npm run gen:reservation`);
  });
});

describe('gen-reservation', () => {
  const other = modelFromFile(randomModelFile({ seed: 7 }));
  const figures = reservationFigures(other);

  it('takes D and T from recommendForCpus for each node size', () => {
    assert.equal(figures.resReq, recommendForCpus(other, SHIPPED_CPUS, { intervalSec: 10 }).resReq);
    assert.equal(figures.d[8], recommendForCpus(other, 8, { intervalSec: 10 }).d);
    assert.equal(figures.t, 45);
  });

  it('rewrites only the D and T comment and the RES_REQ line of the snippet, and is idempotent', () => {
    const now = readFileSync(SNIPPET, 'utf8');
    const next = renderQueueSnippet(now, figures);
    assert.equal(renderQueueSnippet(next, figures), next);
    assert.match(next, new RegExp(`^RES_REQ      = ${figures.resReq.replace(/[[\]]/g, '\\$&')}$`, 'm'));
    assert.ok(next.includes(`(${other.id})`));
    const outside = (text: string): string[] => text.split('\n').filter((l) => !l.startsWith('# ') && !l.startsWith('RES_REQ'));
    assert.deepEqual(outside(next), outside(now));
  });

  it('rewrites the marked Markdown paragraphs and every concrete rank reservation', () => {
    const text = 'a `rusage[rank=99:duration=45s:decay=1]` b\n\n<!-- npm run gen:reservation: install -->\nold\n<!-- end install -->\n';
    const out = renderMarkdown(text, 'x.md', figures);
    assert.ok(!out.includes('rank=99') && !out.includes('\nold\n'));
    assert.match(out, new RegExp(`The shipped D = ${figures.d[16]} is what`));
    assert.equal(renderMarkdown(out, 'x.md', figures), out);
  });

  it('uses the model it is given: the embedded default gives the shipped line', () => {
    assert.equal(reservationFigures(loadModel(defaultModelPath())).resReq, shippedResReq());
  });
});
