import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { historyLocation, historyRecord } from '../../src/history/record.js';

describe('historyLocation', () => {
  it('takes history.dir when it is set, with the reasons root must not write there', async () => {
    const got = await historyLocation('/data/h', { LSF_LOGDIR: '/opt/lsf/log' }, () => true, (dir) => [`history directory ${dir} is owned by uid 500`]);
    assert.deepEqual(got, { dir: '/data/h', problems: ['history directory /data/h is owned by uid 500'] });
  });

  it('puts history under an $LSF_LOGDIR whose directory passes, with no problems', async () => {
    assert.deepEqual(await historyLocation(null, { LSF_LOGDIR: '/opt/lsf/log' }, () => true, () => [], () => undefined), { dir: '/opt/lsf/log/lavarank-history', problems: [] });
  });

  it('passes over an $LSF_LOGDIR root cannot write (NFS with root_squash) for /var/lib, and says why', async () => {
    const cannotWrite = (dir: string): string | undefined => (dir.startsWith('/nfs/') ? '/nfs/lsf/log is not writable (EACCES)' : undefined);
    assert.deepEqual(await historyLocation(null, { LSF_LOGDIR: '/nfs/lsf/log' }, () => true, () => [], cannotWrite), {
      dir: '/var/lib/lavarank/history',
      skipped: '/nfs/lsf/log/lavarank-history: /nfs/lsf/log is not writable (EACCES)',
      problems: [],
    });
  });

  // access(2) answers for its caller: a user running check or retrain, whom a root-owned
  // $LSF_LOGDIR lets write nothing, was told /var/lib, where root's elims write $LSF_LOGDIR's.
  it("keeps $LSF_LOGDIR's history for a user other than root, who cannot write there where root can", () => {
    const record = new URL('../../src/history/record.js', import.meta.url).href;
    const code = `import(${JSON.stringify(record)}).then(async (m) => process.stdout.write((await m.historyLocation(null, { LSF_LOGDIR: '/' })).dir))`;
    // '/': root's, which only root may write
    const [program, ...args] = process.geteuid?.() === 0 ? ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups', process.execPath] : [process.execPath];
    const r = spawnSync(program!, [...args, '--input-type=module', '-e', code], { encoding: 'utf8' });
    assert.equal(r.stdout, '/lavarank-history', r.stderr);
  });

  it('passes over a refused $LSF_LOGDIR for /var/lib, says why, and judges /var/lib in turn', async () => {
    const problemsOf = (dir: string): string[] => (dir.startsWith('/opt/') ? ['directory /opt/lsf/log is owned by uid 500'] : dir === '/var/lib/lavarank/history' ? ['refused too'] : []);
    assert.deepEqual(await historyLocation(null, { LSF_LOGDIR: '/opt/lsf/log' }, () => true, problemsOf), {
      dir: '/var/lib/lavarank/history',
      skipped: '/opt/lsf/log/lavarank-history: directory /opt/lsf/log is owned by uid 500',
      problems: ['refused too'],
    });
  });

  it('ignores a relative $LSF_LOGDIR, which would put history under whatever directory LIM started in', async () => {
    assert.deepEqual(await historyLocation(null, { LSF_LOGDIR: 'log' }, () => true, () => []), { dir: '/var/lib/lavarank/history', problems: [] });
  });

  it('asks about $LSF_LOGDIR\'s history directory once, not again once it is chosen', async () => {
    const asked: string[] = [];
    await historyLocation(null, { LSF_LOGDIR: '/opt/lsf/log' }, () => true, (dir) => (asked.push(dir), []), () => undefined);
    assert.deepEqual(asked, ['/opt/lsf/log/lavarank-history']);
  });
});

describe('historyRecord', () => {
  it('keeps the features the rank was computed from, nulls included, for retrain to learn from', async () => {
    const features = { cpu_busy: 0.5, gpu_util: null };
    assert.deepEqual(historyRecord(1000, 'ol1', { rank: 42, model: 'linear', features }), { ts: 1000, host: 'ol1', features, rank: 42, model: 'linear' });
    assert.deepEqual(historyRecord(1000, 'ol1', { rank: 42, model: 'formula' }).features, {});
  });
});
