import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { historyLocation, historyRecord } from '../../src/history/record.js';
import { rawFeatures } from '../../src/model/features.js';
import { fullSample } from '../model/helpers.js';

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

  it('makes the same line, byte for byte, of the same sample: keys in their order, numbers as JSON gives them', () => {
    // Pinned so that a cut in the record's making (rawFeatures, historyRecord) cannot move
    // a byte of what retrain reads and sites may parse.
    const features = rawFeatures(fullSample({ busy: 0.37, runnablePerCpu: 0.63, ncpu: 2 }));
    const line = JSON.stringify(historyRecord(1765000000123, 'ol1', { rank: 12.345678901234567, model: 'default#0123abcd', features }));
    assert.equal(
      line,
      '{"ts":1765000000123,"host":"ol1","features":{"cpu_busy":0.37,"cpu_iowait":0.05,"cpu_steal":0.01,"load1_per_cpu":0.518,"runnable_per_cpu":0.496,' +
        '"mem_used":0.625,"swap_io":10,"major_faults":100,"disk_busy_max":0.3,"disk_busy_mean":0.3,"net_util_max":0.008,"psi_cpu_some":0.2,' +
        '"psi_mem_some":0.01,"psi_mem_full":0,"psi_io_some":0.1,"psi_io_full":0.05,"gpu_util_max":null,"gpu_mem_used":null,"cpus":2,' +
        '"free_cpus":1.008,"new_task_cpu_share":1,"cores":null,"quota_host_cpus":null,"quota_host_busy":null,"io_devices":1,"machine_cpus":null,' +
        '"machine_busy":null,"io_queue":null,"io_queue_max":null,"io_blocked":null},"rank":12.345678901234567,"model":"default#0123abcd"}',
    );
  });
});
