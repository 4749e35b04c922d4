import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { test } from 'node:test';
import { readFileSync } from 'node:fs';
import { DAEMON_NODE_FLAGS, INSPECTOR_NOWHERE } from '../../src/util/node-flags.js';
import { until } from '../helpers.js';

// Whether pid has a handler for SIGUSR1 (signal 10: bit 9 of SigCgt in /proc/<pid>/status).
function catchesSigusr1(pid: number): boolean {
  const hex = /^SigCgt:\s*([0-9a-f]+)$/m.exec(readFileSync(`/proc/${pid}/status`, 'latin1'))?.[1];
  return hex !== undefined && (BigInt(`0x${hex}`) & (1n << 9n)) !== 0n;
}

test("with the daemon's flags, SIGUSR1 before lavarank's own listener opens no inspector a local user could reach", async () => {
  // A process with the wrapper's flags and none of lavarank's code: Node's handler is in place.
  const child = spawn(process.execPath, [...DAEMON_NODE_FLAGS, '-e', "process.stdout.write('ready\\n'); setInterval(() => {}, 1000)"], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  try {
    await once(child.stdout, 'data');
    // Node installs its handler from a thread of its own, at a moment no output tells:
    // a fixed 300 ms wait could end before it on a loaded host, and SIGUSR1's default
    // action would end the process. The handler is waited for where the kernel shows it.
    await until("Node's SIGUSR1 handler", () => (catchesSigusr1(child.pid!) ? true : undefined), 20_000);
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
