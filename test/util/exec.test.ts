import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { findExecutable, runCommand, runIsolated } from '../../src/util/exec.js';
import { tempDir } from '../helpers.js';

describe('findExecutable', () => {
  it('finds a program on PATH and skips entries where it is not executable', () => {
    const { dir, cleanup } = tempDir();
    try {
      const a = join(dir, 'a');
      const b = join(dir, 'b');
      mkdirSync(a);
      mkdirSync(b);
      writeFileSync(join(a, 'tool'), '', { mode: 0o644 });
      writeFileSync(join(b, 'tool'), '#!/bin/sh\n');
      chmodSync(join(b, 'tool'), 0o755);
      assert.equal(findExecutable('tool', `${a}:${b}`), join(b, 'tool'));
      assert.equal(findExecutable('other', `${a}:${b}`), undefined);
      assert.equal(findExecutable(join(b, 'tool'), ''), join(b, 'tool'));
    } finally {
      cleanup();
    }
  });
});

describe('runCommand', () => {
  it('runs a program without a shell: shell syntax reaches it as plain arguments', async () => {
    const r = await runCommand('/bin/echo', ['$HOME', ';', 'rm', '-rf', '/'], { timeoutMs: 5000 });
    assert.equal(r.stdout, '$HOME ; rm -rf /\n');
    assert.equal(r.failed, false);
  });
  it('kills a program that outlives its timeout and says so', async () => {
    const r = await runCommand('/bin/sleep', ['10'], { timeoutMs: 200 });
    assert.equal(r.failed, true);
    assert.equal(r.timedOut, true);
  });
  it('refuses a missing or non-positive timeout, naming the option', async () => {
    await assert.rejects(runCommand('/bin/true', [], { timeoutMs: 0 }), /timeoutMs must be a positive number, received 0/);
  });
});

describe('runIsolated', () => {
  it('kills the program and everything it started, at once, when the timeout passes', async () => {
    // A fixture-like shell that leaves a grandchild in its process group, then waits.
    const started = Date.now();
    const r = await runIsolated('/bin/sh', ['-c', 'sleep 30 & echo $!; wait'], { timeoutMs: 300 });
    assert.equal(r.failed, true);
    assert.equal(r.timedOut, true);
    assert.ok(Date.now() - started < 5000, `took ${Date.now() - started} ms`);
    const grandchild = Number(r.stdout.trim());
    assert.ok(grandchild > 0, JSON.stringify(r.stdout));
    await new Promise((resolve) => setTimeout(resolve, 100));
    assert.equal(existsSync(`/proc/${grandchild}`) && !readFileSync(`/proc/${grandchild}/stat`, 'utf8').includes(') Z'), false);
  });
  it('kills it when the abort signal fires, and says it was cancelled', async () => {
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 200);
    const r = await runIsolated('/bin/sleep', ['30'], { timeoutMs: 60_000, signal: controller.signal });
    assert.equal(r.failed, true);
    assert.match(r.reason ?? '', /cancelled/);
  });
  it('reports a program that cannot be started as failed, without throwing', async () => {
    const r = await runIsolated('/nonexistent/program', [], { timeoutMs: 5000 });
    assert.equal(r.failed, true);
    assert.match(r.reason ?? '', /ENOENT/);
  });
  it('returns the output of a program that finishes', async () => {
    const r = await runIsolated('/bin/echo', ['a b'], { timeoutMs: 5000 });
    assert.deepEqual([r.failed, r.stdout], [false, 'a b\n']);
  });
});
