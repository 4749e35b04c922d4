import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { findExecutable, runCommand } from '../src/exec.js';
import { tempDir } from './helpers.js';

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
