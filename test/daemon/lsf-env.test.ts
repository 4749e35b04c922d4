import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { lsfEnvProblems } from '../../src/daemon/lsf-env.js';
import { startElim } from '../e2e/harness.js';

describe('lsfEnvProblems', () => {
  it('says nothing when LSF_ENVDIR and LSF_LOGDIR are unset or existing directories', () => {
    assert.deepEqual(lsfEnvProblems({}), []);
    assert.deepEqual(lsfEnvProblems({ LSF_ENVDIR: '/', LSF_LOGDIR: '/' }), []);
  });

  it('names an LSF_ENVDIR that does not exist', () => {
    const [p] = lsfEnvProblems({ LSF_ENVDIR: '/nonexistent/etc' });
    assert.match(p ?? '', /^LSF_ENVDIR \/nonexistent\/etc does not exist .*no lavarank\.yaml is looked for there/);
  });

  it('names an LSF_LOGDIR that does not exist and says where the log and history go instead', () => {
    const [p] = lsfEnvProblems({ LSF_LOGDIR: '/nonexistent/log' });
    assert.match(p ?? '', /^LSF_LOGDIR \/nonexistent\/log does not exist, and lavarank does not create .*next location .*\/var\/lib\/lavarank\/history/);
  });

  it('names a relative LSF_LOGDIR, which is ignored', () => {
    assert.match(lsfEnvProblems({ LSF_LOGDIR: 'log' })[0] ?? '', /^LSF_LOGDIR log is not an absolute path and is ignored/);
  });
});

describe("the elim's log", () => {
  it('says at start that LSF_ENVDIR and LSF_LOGDIR do not exist', async () => {
    const elim = startElim({ testInterval: 0.2, env: { LSF_ENVDIR: '/nonexistent/openlava/etc', LSF_LOGDIR: '/nonexistent/openlava/log' } });
    try {
      const envdir = await elim.waitForLog((l) => String(l['msg']).startsWith('LSF_ENVDIR /nonexistent/openlava/etc does not exist'));
      assert.equal(envdir['level'], 'warn');
      await elim.waitForLog((l) => String(l['msg']).startsWith('LSF_LOGDIR /nonexistent/openlava/log does not exist'));
    } finally {
      elim.child.kill('SIGTERM');
      await elim.exited;
      elim.cleanup();
    }
  });
});
