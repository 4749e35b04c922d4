import assert from 'node:assert/strict';
import { statSync } from 'node:fs';
import { test } from 'node:test';
import { workDirectoryProblem } from '../../src/calibration/workdir.js';
import { dirWithMode, syslogGroupIs, testDir } from '../helpers.js';

test('refuses a temporary directory the syslog group may write (root:syslog 0775, as Ubuntu\'s /var/log): its members could swap the work directory made there', (t) => {
  const dir = testDir(t);
  const logs = dirWithMode(dir, 'log', 0o775);
  syslogGroupIs(t, statSync(logs).gid);
  assert.match(workDirectoryProblem(logs, 'TMPDIR') ?? '', new RegExp(`below the temporary directory ${logs}, which others could redirect: temporary directory ${logs} has mode 0775, writable by group or others`));
});
