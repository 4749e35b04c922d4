import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { test } from 'node:test';
import { DAEMON_NODE_FLAGS, INSPECTOR_NOWHERE } from '../../src/util/node-flags.js';

test("with the daemon's flags, SIGUSR1 before lavarank's own listener opens no inspector a local user could reach", async () => {
  // A process with the wrapper's flags and none of lavarank's code: Node's handler is in place.
  const child = spawn(process.execPath, [...DAEMON_NODE_FLAGS, '-e', "process.stdout.write('ready\\n'); setInterval(() => {}, 1000)"], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  try {
    await once(child.stdout, 'data');
    await new Promise((resolve) => setTimeout(resolve, 300)); // Node installs its handler from a thread of its own
    child.kill('SIGUSR1');
    const deadline = Date.now() + 5000;
    while (!stderr.includes(INSPECTOR_NOWHERE) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
    assert.match(stderr, new RegExp(`inspector on ${INSPECTOR_NOWHERE.replace(/\./g, '\\.')}|Debugger listening on ws://${INSPECTOR_NOWHERE.replace(/\./g, '\\.')}`), stderr);
    assert.doesNotMatch(stderr, /127\.0\.0\.1|0\.0\.0\.0|\[::/, 'nothing listens where a local user can connect');
    assert.equal(child.exitCode, null, 'the process goes on');
  } finally {
    child.kill('SIGKILL');
  }
});
