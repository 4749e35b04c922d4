import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';

test('failureStatus writes the control characters of an error as \\u escapes, keeping its lines, since it may quote names other users chose', () => {
  const script = `import('${new URL('../../src/util/cliio.js', import.meta.url).href}').then((m) => {
    process.exitCode = m.failureStatus('lavarank install', new Error('refused:\\n  - configuration file /etc/lsb/q\\x1b[8m\\x9b2K is owned by uid 65534'));
  })`;
  const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8' });
  assert.equal(r.status, 1, r.stderr);
  assert.equal(r.stderr, 'lavarank install: refused:\n  - configuration file /etc/lsb/q\\u001b[8m\\u009b2K is owned by uid 65534\n');
});
