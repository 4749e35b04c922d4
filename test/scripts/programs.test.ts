// scripts/retrain and scripts/calibrate, the programs the package ships beside
// install-elim, where ../dist/ is missing (a clone not built yet).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { repoRoot, testDir } from '../helpers.js';

for (const name of ['retrain', 'calibrate']) {
  test(`scripts/${name} says to build lavarank first, in one line with status 1, where dist/ is missing`, (t) => {
    const dir = testDir(t, 'lavarank-programs-');
    mkdirSync(join(dir, 'scripts'));
    writeFileSync(join(dir, 'package.json'), '{"type": "module"}\n');
    const script = join(dir, 'scripts', name);
    copyFileSync(join(repoRoot, 'scripts', name), script);
    const r = spawnSync(process.execPath, [script, '--help'], { encoding: 'utf8' });
    assert.equal(r.status, 1, r.stderr);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, new RegExp(`^${name}: cannot load lavarank \\(.*dist/src/.*\\); build it first: npm run build\\n$`));
  });
}
