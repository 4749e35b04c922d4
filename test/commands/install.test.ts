import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, renameSync, symlinkSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { cliPath } from '../helpers.js';
import { lsfTree } from '../helpers/lsf-tree.js';

test("a refusal writes the control characters of the names a configuration file's link leads to as \\u escapes, since whoever owns the link's directory chose them", () => {
  const t = lsfTree('fresh');
  try {
    const theirs = join(dirname(t.queues), 'q\x1b[8m');
    renameSync(t.queues, theirs);
    chmodSync(theirs, 0o666);
    symlinkSync(theirs, t.queues);
    const r = spawnSync(process.execPath, [cliPath, 'install', '--merge-conf', '--dry-run', '--serverdir', t.sbin, '--envdir', t.etc], { encoding: 'utf8', env: { PATH: process.env['PATH'] ?? '' } });
    assert.equal(r.status, 1, r.stderr);
    assert.doesNotMatch(r.stderr, /\x1b/);
    assert.match(r.stderr, /configuration file .*\/q\\u001b\[8m has mode 0666/);
  } finally {
    t.cleanup();
  }
});
