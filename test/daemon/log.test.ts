import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { defaultConfig } from '../../src/config.js';
import { logCandidates, setupLogging } from '../../src/daemon/log.js';
import { tempDir } from '../helpers.js';

describe('logCandidates', () => {
  const log = defaultConfig().log;
  it('tries log.file, then $LSF_LOGDIR, then stderr on a terminal, then /var/log/lavarank', () => {
    const got = logCandidates({ ...log, file: '/x/l.log' }, 'node7', { LSF_LOGDIR: '/lsf/log' }, true);
    assert.deepEqual(
      got.map((t) => t.path ?? t.kind),
      ['/x/l.log', '/lsf/log/lavarank.node7.log', 'stderr', '/var/log/lavarank/lavarank.node7.log'],
    );
  });
  it('skips stderr when it is not a terminal (LIM closes it)', () => {
    assert.ok(!logCandidates(log, 'h', {}, false).some((t) => t.kind === 'stderr'));
  });
});

describe('setupLogging', () => {
  it('falls back to the next location when log.file cannot be written, and says why in the log', async () => {
    const { dir, cleanup } = tempDir();
    try {
      writeFileSync(join(dir, 'file'), '');
      const setup = setupLogging(
        { ...defaultConfig().log, file: join(dir, 'file', 'lavarank.log') },
        { host: 'h1', env: { LSF_LOGDIR: dir }, stderrIsTty: false },
      );
      assert.equal(setup.target.path, join(dir, 'lavarank.h1.log'));
      assert.match(setup.skipped[0] ?? '', /file\/lavarank\.log \(log\.file\): E[A-Z]+$/);
      setup.log.info('hello');
      await setup.close(1000);
      const rec = JSON.parse(readFileSync(join(dir, 'lavarank.h1.log'), 'utf8').trim()) as Record<string, unknown>;
      assert.equal(rec['msg'], 'hello');
      assert.equal(rec['level'], 'info');
    } finally {
      cleanup();
    }
  });

  it('writes a fatal record synchronously, after the lines still queued', () => {
    const { dir, cleanup } = tempDir();
    try {
      const setup = setupLogging({ ...defaultConfig().log, file: join(dir, 'l.log') }, { host: 'h', env: {}, stderrIsTty: false });
      setup.log.info('queued');
      setup.fatalNow('uncaught exception; exiting', new Error('boom'));
      const recs = readFileSync(join(dir, 'l.log'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
      assert.deepEqual(recs.map((r) => r['msg']), ['queued', 'uncaught exception; exiting']);
      assert.equal(recs[1]?.['err'], 'boom');
    } finally {
      cleanup();
    }
  });
});
