// The guard of test/helpers.ts: a test file whose processes outlive it fails, and
// the processes are killed, so a leak (a child elim reparented to init after the
// suite) cannot come back unnoticed.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { fixture } from '../helpers.js';
import { isAlive, until } from './helpers.js';

describe('the test helpers', () => {
  it('fail a test file that leaves a process running, naming it, and kill it', async () => {
    const env = { ...process.env };
    delete env['NODE_TEST_CONTEXT']; // a runner of its own, not a child of ours
    const r = spawnSync(process.execPath, ['--test', fixture('leaky.test.mjs')], { encoding: 'utf8', env, timeout: 30_000 });
    assert.equal(r.status, 1, r.stdout);
    const m = /process\(es\) this test file started outlived it \(killed now\): (\d+) sleep 30/.exec(r.stdout);
    assert.ok(m !== null, r.stdout);
    // SIGKILL takes effect when the process next runs, which a loaded host may delay
    // past the moment the runner exits: its death is waited for, not assumed.
    await until('the leaked process to die', () => (isAlive(Number(m[1])) ? undefined : true), 10_000).catch(() => undefined);
    assert.equal(isAlive(Number(m[1])), false, 'the leaked process is still running');
  });
});
