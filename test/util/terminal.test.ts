import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isTerminal } from '../../src/util/terminal.js';

const TERMINAL_JS = fileURLToPath(new URL('../../src/util/terminal.js', import.meta.url));

// What isTerminal says of fds 1 and 2 in a fresh node, and whether it loaded node:tty.
function askChild(stdio: Array<'pipe' | number>): string {
  const code = `import { isTerminal } from ${JSON.stringify(TERMINAL_JS)}; process.stdout.write(JSON.stringify([isTerminal(1), isTerminal(2), process.moduleLoadList.includes('NativeModule tty')]));`;
  return spawnSync(process.execPath, ['--input-type=module', '-e', code], { stdio: ['ignore', ...stdio], encoding: 'utf8' }).stdout ?? '';
}

describe('isTerminal', () => {
  it('says no for /dev/null, a file, a pipe and a closed fd', () => {
    const dir = mkdtempSync(join(tmpdir(), 'lavarank-terminal-'));
    try {
      const devnull = openSync('/dev/null', 'w');
      const file = openSync(join(dir, 'f'), 'w');
      assert.equal(isTerminal(devnull), false);
      assert.equal(isTerminal(file), false);
      closeSync(file);
      assert.equal(isTerminal(file), false);
      closeSync(devnull);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('never loads node:tty for a pipe and /dev/null, as LIM gives the elim', () => {
    const devnull = openSync('/dev/null', 'w');
    try {
      assert.deepEqual(JSON.parse(askChild(['pipe', devnull])), [false, false, false]);
    } finally {
      closeSync(devnull);
    }
  });

  it('says yes for a terminal', (t) => {
    // script(1) gives the command a pseudo-terminal as its stdout and stderr.
    const probe = spawnSync('script', ['--version'], { encoding: 'utf8' });
    if (probe.status !== 0) return t.skip('script(1) is not installed');
    const shell = `${JSON.stringify(process.execPath)} --input-type=module -e ${JSON.stringify(`import { isTerminal } from ${JSON.stringify(TERMINAL_JS)}; console.log(JSON.stringify([isTerminal(1), isTerminal(2)]));`).replace(/\$/g, '\\$')}`;
    const r = spawnSync('script', ['-qec', shell, '/dev/null'], { stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /\[true,true\]/);
  });
});
