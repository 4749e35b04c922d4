// scripts/bundle.ts on a tiny package of the same layout, without dependencies, so
// that its `npm ci` needs neither the registry nor the cache.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { buildBundle, installText } from '../../scripts/bundle.js';
import { dirWithMode, testDir } from '../helpers.js';

// A package tarball as `npm pack` makes it (files only, no directory entries), and
// the lock file beside it; returns the tarball.
function packTiny(root: string): string {
  const pkg = join(root, 'package');
  for (const dir of ['dist/src', 'scripts']) mkdirSync(join(pkg, dir), { recursive: true });
  const manifest = { name: 'lavarank', version: '9.9.9', type: 'module' };
  writeFileSync(join(pkg, 'package.json'), JSON.stringify(manifest));
  for (const file of ['dist/src/cli.js', 'scripts/install-elim', 'scripts/retrain', 'scripts/calibrate']) writeFileSync(join(pkg, file), '#!/usr/bin/env node\n');
  writeFileSync(join(root, 'package-lock.json'), JSON.stringify({ ...manifest, lockfileVersion: 3, requires: true, packages: { '': manifest } }));
  const files = ['package.json', 'dist/src/cli.js', 'scripts/install-elim', 'scripts/retrain', 'scripts/calibrate'].map((f) => `package/${f}`);
  const tgz = join(root, 'lavarank-9.9.9.tgz');
  const r = spawnSync('tar', ['--create', '--gzip', '--file', tgz, '--directory', root, ...files], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return tgz;
}

test('the bundle built under umask 077 can still be read and searched by everyone, and written by its owner alone', async (t) => {
  const dir = testDir(t, 'lavarank-bundle-test-');
  const tgz = packTiny(dir);
  const umask = process.umask(0o077);
  let bundle: string;
  try {
    bundle = await buildBundle(tgz, dir, dir);
  } finally {
    process.umask(umask);
  }
  const listing = spawnSync('tar', ['--list', '--verbose', '--gzip', '--file', bundle], { encoding: 'utf8' });
  assert.equal(listing.status, 0, listing.stderr);
  const lines = listing.stdout.split('\n').filter((l) => l !== '' && !l.startsWith('l'));
  assert.ok(lines.some((l) => l.includes('lavarank-9.9.9/dist/src/')), listing.stdout);
  // On an NFS export with root_squash, root on the nodes reads as nobody.
  for (const line of lines) {
    const mode = line.slice(0, 10);
    assert.match(mode, mode.startsWith('d') ? /^drwxr-xr-x$/ : /^-rw[-x]r-[-x]r-[-x]$/, line);
  }
});

// Staged in a directory another user could write, the tree could be swapped for theirs
// between npm ci and tar: the bundle shipped their dist/src/cli.js, which root installs.
test('a TMPDIR others can write (not sticky) is refused before anything is staged there', async (t) => {
  const dir = testDir(t, 'lavarank-bundle-test-');
  const tgz = packTiny(dir);
  const open = dirWithMode(dir, 'scratch', 0o777);
  await assert.rejects(buildBundle(tgz, dir, dir, open), (err: Error) => {
    assert.match(err.message, new RegExp(`^the bundle would be staged below ${open}, which others could redirect: .*mode 0777, writable by group or others`));
    return true;
  });
  assert.deepEqual(readdirSync(open), []);
  assert.deepEqual(readdirSync(dir).sort(), ['lavarank-9.9.9.tgz', 'package', 'package-lock.json', 'scratch'], 'no bundle written');
});

// The README's upgrade words: a bundle of the same version unpacked with INSTALL's own
// tar line lands over the running release, and mbatchd reads the merged files only at
// mbdrestart; on OpenLava 4.0 the uninstall's mbdrestart moved the rank queue's jobs to
// lost_and_found.
test('INSTALL upgrades into a directory of its own and restarts mbatchd, and drains the rank queue before removing lavarank', () => {
  const text = installText('1.2.3').replace(/\s+/g, ' ');
  assert.match(text, /To upgrade, .*mkdir \/opt\/lavarank-<release> && tar -xzf lavarank-1\.2\.3-bundle\.tar\.gz -C \/opt\/lavarank-<release>/);
  assert.match(text, /To upgrade, .*then lsadmin reconfig && badmin mbdrestart/);
  assert.match(text, /To remove lavarank, empty the rank queue first \(badmin qclose rank[^)]*lost_and_found\), then install-elim --uninstall --merge-conf/);
});
