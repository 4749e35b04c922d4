import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { lsfEnvProblems, lsfLogdirAsync, sharedTextResources } from '../../src/daemon/lsf-env.js';
import { startElim } from '../e2e/harness.js';
import { dirWithMode, tempDir, testDir, writeWithMode } from '../helpers.js';
import { until } from '../faults/helpers.js';

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

describe('lsfLogdirAsync', () => {
  // What a read of lsf.conf finds, by path.
  const files = (texts: Record<string, string>) => (path: string): string => {
    const text = texts[path];
    if (text === undefined) throw Object.assign(new Error(`ENOENT: ${path}`), { code: 'ENOENT' });
    return text;
  };

  it('takes LSF_LOGDIR from $LSF_ENVDIR/lsf.conf when LIM did not pass it, leaving the given environment alone', async () => {
    const env = { LSF_ENVDIR: '/opt/openlava/etc', LSF_RESOURCES: 'rank ' };
    const out = (await lsfLogdirAsync(env, files({ '/opt/openlava/etc/lsf.conf': 'LSF_SERVERDIR=/opt/openlava/sbin\nLSF_LOGDIR=/opt/openlava/log # logs\n' }))).env;
    assert.deepEqual(out, { ...env, LSF_LOGDIR: '/opt/openlava/log' });
    assert.equal((env as Record<string, string>)['LSF_LOGDIR'], undefined);
  });

  it('says which lsf.conf LSF_LOGDIR was taken from, and nothing when the environment set it or none was taken', async () => {
    const conf = files({ '/e/lsf.conf': 'LSF_LOGDIR=/e/log\n' });
    assert.equal((await lsfLogdirAsync({ LSF_ENVDIR: '/e' }, conf)).from, '/e/lsf.conf');
    assert.equal((await lsfLogdirAsync({ LSF_ENVDIR: '/e', LSF_LOGDIR: '/own' }, conf)).from, undefined);
    assert.equal((await lsfLogdirAsync({ LSF_ENVDIR: '/e' }, files({ '/e/lsf.conf': 'LSF_SERVERDIR=/x\n' }))).from, undefined);
  });

  it('keeps an LSF_LOGDIR the environment sets, and reads /etc/lsf.conf without LSF_ENVDIR, as OpenLava does', async () => {
    const env = { LSF_LOGDIR: '/var/log/lsf', LSF_ENVDIR: '/opt/openlava/etc' };
    assert.equal((await lsfLogdirAsync(env, files({}))).env, env);
    assert.equal((await lsfLogdirAsync({}, files({ '/etc/lsf.conf': 'LSF_LOGDIR="/srv/lsf log"\n' }))).env['LSF_LOGDIR'], '/srv/lsf log');
  });

  it('treats an empty LSF_LOGDIR or LSF_ENVDIR as unset: lsf.conf is read, and from /etc, never a relative lsf.conf', async () => {
    const conf = files({ '/etc/lsf.conf': 'LSF_LOGDIR=/srv/log\n' });
    assert.equal((await lsfLogdirAsync({ LSF_LOGDIR: '' }, conf)).env['LSF_LOGDIR'], '/srv/log');
    assert.equal((await lsfLogdirAsync({ LSF_ENVDIR: '' }, conf)).from, '/etc/lsf.conf');
  });

  it('changes nothing for a relative or unexpanded value, a missing key or an unreadable lsf.conf', async () => {
    for (const text of ['LSF_LOGDIR=log\n', 'LSF_LOGDIR=$LSF_TOP/log\n', 'LSF_SERVERDIR=/x\n', 'LSF_LOGDIR= /x\n']) {
      assert.equal((await lsfLogdirAsync({ LSF_ENVDIR: '/e' }, files({ '/e/lsf.conf': text }))).env['LSF_LOGDIR'], undefined, text);
    }
    assert.equal((await lsfLogdirAsync({ LSF_ENVDIR: '/e' }, files({}))).env['LSF_LOGDIR'], undefined);
  });
});

describe('sharedTextResources', () => {
  const SHARED = 'Begin Resource\nRESOURCENAME TYPE INTERVAL INCREASING DESCRIPTION\nos_state String 60 () (OS state)\nrank Numeric 10 N (rank)\nEnd Resource\n';

  it("reads $LSF_ENVDIR/lsf.shared, else /etc's, and gives its String resources", async () => {
    const read = (want: string) => (path: string): string | undefined => (path === want ? SHARED : undefined);
    const noConf = (path: string): string => {
      throw new Error(`${path}: ENOENT`);
    };
    assert.deepEqual(await sharedTextResources({ LSF_ENVDIR: '/e' }, read('/e/lsf.shared'), noConf), { names: new Set(['os_state']) });
    assert.deepEqual(await sharedTextResources({}, read('/etc/lsf.shared'), noConf), { names: new Set(['os_state']) });
    assert.deepEqual(await sharedTextResources({ LSF_ENVDIR: '/e' }, read('/etc/lsf.shared'), noConf), { names: new Set() });
  });

  it("reads lsf.shared in LSF_CONFDIR, where LIM reads it, when lsf.conf or LIM's environment sets it apart from LSF_ENVDIR", async () => {
    const read = (path: string): string | undefined => (path === '/conf/lsf.shared' ? SHARED : undefined);
    const conf = (path: string): string => {
      if (path === '/e/lsf.conf') return 'LSF_ENVDIR=/e\nLSF_CONFDIR=/conf\n';
      throw new Error(`${path}: ENOENT`);
    };
    assert.deepEqual(await sharedTextResources({ LSF_ENVDIR: '/e' }, read, conf), { names: new Set(['os_state']) });
    assert.deepEqual(await sharedTextResources({ LSF_ENVDIR: '/x', LSF_CONFDIR: '/conf' }, read, conf), { names: new Set(['os_state']) });
  });

  it('gives no names and says why for an lsf.shared it may not read, or that LIM could not read either', async () => {
    const refused = await sharedTextResources({ LSF_ENVDIR: '/e' }, () => {
      throw new Error('/e/lsf.shared is writable by others');
    });
    assert.deepEqual(refused.names, new Set());
    assert.equal(refused.problem, "child elims' String resources are dropped: /e/lsf.shared was not read (/e/lsf.shared is writable by others)");
    const unended = await sharedTextResources({ LSF_ENVDIR: '/e' }, () => 'Begin Resource\nRESOURCENAME TYPE\n');
    assert.match(unended.problem ?? '', /\/e\/lsf\.shared was not read \(\/e\/lsf\.shared line 1: section "Begin Resource" has no End line\)/);
  });

  it("passes over an LSF_CONFDIR that is relative or unexpanded, from LIM's environment or lsf.conf, for lsf.conf's own directory", async () => {
    const asked: string[] = [];
    const read = (path: string): undefined => {
      asked.push(path);
      return undefined;
    };
    const noConf = (): string => {
      throw new Error('no lsf.conf');
    };
    await sharedTextResources({ LSF_ENVDIR: '/opt/lsf/conf', LSF_CONFDIR: 'conf' }, read, noConf);
    await sharedTextResources({ LSF_ENVDIR: '/opt/lsf/conf' }, read, () => 'LSF_CONFDIR=$LSF_TOP/conf\n');
    assert.deepEqual(asked, ['/opt/lsf/conf/lsf.shared', '/opt/lsf/conf/lsf.shared']);
  });

  // LIM takes LSF_CONFDIR from lsf.conf: with that file refused, lsf.conf's directory was
  // read instead, without a word (and with LSF_LOGDIR in LIM's environment, nothing said
  // the file was refused at all), so the children's text was dropped as undeclared, or
  // kept for names another lsf.shared declares.
  it("gives no names and says why when lsf.conf is refused and LIM's environment sets no LSF_CONFDIR, whatever LSF_LOGDIR", async () => {
    const { dir, cleanup } = tempDir('lavarank-shared-');
    try {
      const etc = dirWithMode(dir, 'etc', 0o755);
      const conf = dirWithMode(dir, 'conf', 0o755);
      writeWithMode(join(etc, 'lsf.conf'), `LSF_CONFDIR=${conf}\n`, 0o666);
      writeWithMode(join(etc, 'lsf.shared'), SHARED.replace('os_state', 'old_state'), 0o644);
      writeWithMode(join(conf, 'lsf.shared'), SHARED, 0o644);
      for (const env of [{ LSF_ENVDIR: etc }, { LSF_ENVDIR: etc, LSF_LOGDIR: dir }]) {
        const r = await sharedTextResources(env);
        assert.deepEqual(r.names, new Set(), JSON.stringify(env));
        assert.match(r.problem ?? '', /^child elims' String resources are dropped: LSF_CONFDIR, where LIM reads lsf\.shared, is not taken from .*\/etc\/lsf\.conf: .*mode 0666, writable by group or others/);
      }
      assert.deepEqual(await sharedTextResources({ LSF_ENVDIR: etc, LSF_CONFDIR: conf }), { names: new Set(['os_state']) });
    } finally {
      cleanup();
    }
  });

  it('refuses an lsf.shared others can write, which could turn a child\'s garbage into text LIM reads as 0', async () => {
    const { dir, cleanup } = tempDir('lavarank-shared-');
    try {
      writeWithMode(join(dir, 'lsf.shared'), SHARED, 0o666);
      const r = await sharedTextResources({ LSF_ENVDIR: dir });
      assert.deepEqual(r.names, new Set());
      assert.match(r.problem ?? '', /lsf\.shared was not read \(.*writable by/);
      writeWithMode(join(dir, 'lsf.shared'), SHARED, 0o644);
      assert.deepEqual(await sharedTextResources({ LSF_ENVDIR: dir }), { names: new Set(['os_state']) });
    } finally {
      cleanup();
    }
  });
});

describe("the elim's log", () => {
  it('goes to the LSF_LOGDIR of $LSF_ENVDIR/lsf.conf when LIM passes only LSF_ENVDIR, as OpenLava 4.0 does', async (t) => {
    const dir = testDir(t, 'lavarank-logdir-');
    const etc = join(dir, 'etc');
    const logdir = join(dir, 'log');
    mkdirSync(etc);
    mkdirSync(logdir);
    writeFileSync(join(etc, 'lsf.conf'), `LSF_SERVERDIR=${dir}\nLSF_LOGDIR=${logdir}\n`);
    const elim = startElim({ testInterval: 0.2, env: { LSF_ENVDIR: etc }, override: { log: { file: null }, history: { enabled: false } } });
    try {
      await elim.waitForReports(1);
      const log = readFileSync(join(logdir, `lavarank.${hostname()}.log`), 'utf8');
      assert.match(log, /"msg":"lavarank starting"/);
    } finally {
      elim.child.kill('SIGTERM');
      await elim.exited;
      elim.cleanup();
    }
  });


  it('and history with it, without history.dir: both under the LSF_LOGDIR of lsf.conf', async (t) => {
    const dir = testDir(t, 'lavarank-logdir-');
    const etc = join(dir, 'etc');
    const logdir = join(dir, 'log');
    mkdirSync(etc);
    mkdirSync(logdir);
    writeFileSync(join(etc, 'lsf.conf'), `LSF_LOGDIR=${logdir}\n`);
    const elim = startElim({ testInterval: 0.05, env: { LSF_ENVDIR: etc }, override: { log: { file: null }, history: { dir: null } } });
    try {
      // History is written six records at a time.
      await elim.waitForReports(8);
      const history = join(logdir, 'lavarank-history', `${hostname()}.jsonl`);
      await until(`${history} written`, () => (existsSync(history) && readFileSync(history, 'utf8').includes('\n') ? true : undefined));
      assert.match(readFileSync(join(logdir, `lavarank.${hostname()}.log`), 'utf8'), /"msg":"history file"/);
    } finally {
      await elim.cleanup();
    }
  });

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

describe('an lsf.conf others can change', () => {
  it('gives no LSF_LOGDIR, and the refusal says why; the same file made root\'s alone gives it', async () => {
    const { dir, cleanup } = tempDir();
    try {
      const envdir = dirWithMode(dir, 'etc', 0o755);
      const conf = writeWithMode(join(envdir, 'lsf.conf'), `LSF_LOGDIR=${dir}\n`, 0o666);
      const env = { LSF_ENVDIR: envdir };
      assert.equal((await lsfLogdirAsync(env)).env['LSF_LOGDIR'], undefined);
      assert.equal((await lsfLogdirAsync(env)).refusal, `LSF_LOGDIR is not taken from ${conf}: lsf.conf ${conf} has mode 0666, writable by group or others; run: chmod go-w ${conf}`);
      writeWithMode(conf, `LSF_LOGDIR=${dir}\n`, 0o644);
      assert.equal((await lsfLogdirAsync(env)).env['LSF_LOGDIR'], dir);
      assert.equal((await lsfLogdirAsync(env)).refusal, undefined);
    } finally {
      cleanup();
    }
  });
});
