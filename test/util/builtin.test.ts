import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const BUILTIN_JS = fileURLToPath(new URL('../../src/util/builtin.js', import.meta.url));

describe('lazyBuiltin', () => {
  it('loads the built-in at the getter\'s first call, not when the getter is made, and returns it after', () => {
    // A fresh node: this test process has node:net loaded already.
    const code = [
      `import { lazyBuiltin } from ${JSON.stringify(BUILTIN_JS)};`,
      `const loaded = () => process.moduleLoadList.includes('NativeModule net');`,
      `const net = lazyBuiltin('node:net');`,
      `const before = loaded();`,
      `const first = net();`,
      `const { createRequire } = await import('node:module');`,
      `process.stdout.write(JSON.stringify([before, loaded(), first === net(), first === createRequire(import.meta.url)('node:net')]));`,
    ].join('\n');
    const child = spawnSync(process.execPath, ['--input-type=module', '-e', code], { encoding: 'utf8' });
    assert.equal(child.stderr, '');
    assert.deepEqual(JSON.parse(child.stdout), [false, true, true, true]);
  });
});
