import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { getPriority } from 'node:os';
import { join } from 'node:path';
import { reniceProcess } from '../../src/daemon/nice.js';
import { tempDir } from '../helpers.js';

// A task directory of our own: the main thread (its tid is the pid), a thread that
// has ended since the listing (no such tid), and names that are not thread ids.
function taskDir(names: string[]): { dir: string; cleanup: () => void } {
  const t = tempDir('lavarank-nice-');
  for (const name of names) mkdirSync(join(t.dir, name));
  return t;
}

test('each listed thread is reniced; one that ended meanwhile and names that are not thread ids are no error', () => {
  const nice = getPriority(0); // unchanged, so the test runner keeps its priority
  const t = taskDir([String(process.pid), '2147483646', 'x', '0', '-3']);
  try {
    assert.deepEqual(reniceProcess(nice, t.dir), { before: nice, after: nice, threads: 1, errors: [] });
  } finally {
    t.cleanup();
  }
});

test('a task directory that cannot be listed is reported, and the main thread is reniced all the same', () => {
  const nice = getPriority(0);
  const t = tempDir('lavarank-nice-');
  try {
    const missing = join(t.dir, 'task');
    const result = reniceProcess(nice, missing);
    assert.equal(result.threads, 1);
    assert.equal(result.after, nice);
    assert.deepEqual(result.errors, [`cannot list ${missing}: ENOENT (no such file or directory)`]);
  } finally {
    t.cleanup();
  }
});

test('an empty task directory still renices the main thread', () => {
  const nice = getPriority(0);
  const t = taskDir([]);
  try {
    assert.deepEqual(reniceProcess(nice, t.dir), { before: nice, after: nice, threads: 1, errors: [] });
  } finally {
    t.cleanup();
  }
});

// Without CAP_SYS_NICE (a user other than root, or root with it dropped, as setpriv does
// here) a nice value below the current one is refused: the daemon's log said "EACCES".
test('says in words why a thread could not be given a lower nice value', (t) => {
  const script = `import(${JSON.stringify(new URL('../../src/daemon/nice.js', import.meta.url).href)}).then((m) => process.stdout.write(JSON.stringify(m.reniceProcess(getPriorityOf0() - 1).errors)));
function getPriorityOf0() { return require('node:os').getPriority(0); }`;
  const root = process.getuid?.() === 0;
  const r = root
    ? spawnSync('setpriv', ['--inh-caps=-sys_nice', '--bounding-set=-sys_nice', process.execPath, '-e', script], { encoding: 'utf8' })
    : spawnSync(process.execPath, ['-e', script], { encoding: 'utf8' });
  if (r.error !== undefined) {
    t.skip(`setpriv could not be run: ${r.error.message}`);
    return;
  }
  const errors = JSON.parse(r.stdout) as string[];
  assert.ok(errors.length > 0, r.stderr);
  for (const e of errors) assert.match(e, /^thread \d+: EACCES \(permission denied\)$/);
});
