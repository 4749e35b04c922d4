import { afterEach, test } from 'node:test';
import assert from 'node:assert/strict';
import { DAEMON_NODE_FLAGS } from '../../src/util/node-flags.js';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';
import {
  chmodSync,
  chownSync,
  copyFileSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  linkSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BACKUP_DIR, KEPT_BACKUPS, WRAPPER_MARK, backupSuffix, runInstall, stamp, staleBackups, wrapperText, type InstallIO } from '../../src/lsf/install.js';
import { failDirectorySync, writeWithMode } from '../helpers.js';

const REPO = fileURLToPath(new URL('../../../', import.meta.url));
const SAMPLES = join(REPO, 'test', 'fixtures', 'cluster');
const NOW = new Date(Date.UTC(2026, 10, 28, 18, 24, 0));
const STAMP = '20261128-182400';
const uid = process.geteuid?.() ?? 0;

interface Tree {
  root: string;
  sbin: string;
  etc: string;
  shared: string;
  cluster: string;
  queues: string;
  program: string;
  elim: string;
}

const roots: string[] = [];
afterEach(() => {
  for (const root of roots.splice(0)) rmSync(root, { recursive: true, force: true });
});

// A temporary LSF_SERVERDIR and LSF_ENVDIR laid out as OpenLava installs them,
// with copies of the real samples, and a stand-in for the built CLI that prints
// its arguments and PID.
function tree(sample: 'fresh' | 'capture'): Tree {
  const root = mkdtempSync(join(tmpdir(), 'lavarank-install-'));
  roots.push(root);
  chmodSync(root, 0o755);
  const sbin = join(root, 'sbin');
  const etc = join(root, 'etc');
  const configdir = join(etc, 'lsbatch', 'openlava', 'configdir');
  mkdirSync(sbin, { mode: 0o755 });
  mkdirSync(configdir, { recursive: true, mode: 0o755 });
  for (const name of ['lsf.shared', 'lsf.cluster.openlava']) copyFileSync(join(SAMPLES, sample, name), join(etc, name));
  copyFileSync(join(SAMPLES, sample, 'lsb.queues'), join(configdir, 'lsb.queues'));
  const program = join(root, 'cli.js');
  writeFileSync(program, 'process.stdout.write(JSON.stringify({ argv: process.argv.slice(2), pid: process.pid }));\n', { mode: 0o644 });
  return {
    root,
    sbin,
    etc,
    shared: join(etc, 'lsf.shared'),
    cluster: join(etc, 'lsf.cluster.openlava'),
    queues: join(configdir, 'lsb.queues'),
    program,
    elim: join(sbin, 'elim'),
  };
}

interface Run {
  code: number;
  out: string;
  err: string;
}

async function install(t: Tree, ...args: string[]): Promise<Run> {
  return installWithEnv(t, {}, ...args);
}

// install run from a shell whose environment is env.
async function installWithEnv(t: Tree, env: NodeJS.ProcessEnv, ...args: string[]): Promise<Run> {
  const out: string[] = [];
  const err: string[] = [];
  const io: InstallIO = { out: (s) => out.push(s), err: (s) => err.push(s), env, now: () => NOW, uid };
  const conf = args.includes('--merge-conf') ? ['--envdir', t.etc] : [];
  const code = await runInstall(['--serverdir', t.sbin, '--program', t.program, ...conf, ...args], io);
  return { code, out: out.join('\n'), err: err.join('\n') };
}

// Every file under root with its mode and content, to show that nothing changed.
function snapshot(root: string): Map<string, string> {
  const files = new Map<string, string>();
  const walk = (dir: string): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      const st = statSync(path);
      if (entry.isDirectory()) {
        files.set(relative(root, path) + '/', (st.mode & 0o7777).toString(8));
        walk(path);
      } else {
        files.set(relative(root, path), `${(st.mode & 0o7777).toString(8)} ${readFileSync(path, 'latin1')}`);
      }
    }
  };
  walk(root);
  return files;
}

const FOREIGN = '#!/bin/sh\n# the site elim\nwhile :; do echo 1 scratch 5; sleep 10; done\n';

// 0755 whatever the umask: the test checks that --uninstall gives it back that mode.
function plantForeignElim(t: Tree, name = 'elim'): void {
  writeWithMode(join(t.sbin, name), FOREIGN, 0o755);
}

test('install writes a POSIX sh wrapper that execs Node with the built program and run "$@"', async () => {
  const t = tree('fresh');
  const r = await install(t);
  assert.equal(r.code, 0, r.err);
  const text = readFileSync(t.elim, 'utf8');
  assert.equal(text, wrapperText(process.execPath, t.program));
  assert.match(text, /^#!\/bin\/sh\n/);
  assert.ok(text.includes(`exec '${process.execPath}' ${DAEMON_NODE_FLAGS.join(' ')} '${t.program}' run "$@"\n`), text);
  const st = statSync(t.elim);
  assert.equal(st.mode & 0o7777, 0o755);
  if (uid === 0) assert.deepEqual([st.uid, st.gid], [0, 0]);
  assert.match(r.out, /done: write .*sbin\/elim \(mode 0755/);
  assert.match(r.out, /lsadmin reconfig/);
  assert.match(r.out, /badmin mbdrestart/);
  assert.match(r.out, /lsload -l/);
  assert.match(r.out, /bsub -R "order\[rank\]"/);
  assert.match(r.out, /--merge-conf/, 'without --merge-conf the next steps say how to merge');
});

test('the wrapper runs Node without the NODE_OPTIONS (and the like) of the environment LIM passes on', async () => {
  const t = tree('fresh');
  assert.equal((await install(t)).code, 0);
  const env = { ...process.env, NODE_OPTIONS: '--require /nonexistent/hook.cjs', NODE_PATH: '/nonexistent' };
  const child = spawn(t.elim, [], { stdio: ['ignore', 'pipe', 'pipe'], env });
  let output = '';
  let errors = '';
  child.stdout.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr.on('data', (d: Buffer) => (errors += d.toString()));
  const code = await new Promise((resolve) => child.on('close', resolve));
  assert.equal(code, 0, errors);
  assert.deepEqual((JSON.parse(output) as { argv: string[] }).argv, ['run']);
});

test('the wrapper hands its own PID to Node and passes LIM\'s arguments through', async () => {
  const t = tree('fresh');
  assert.equal((await install(t)).code, 0);
  const child = spawn(t.elim, ['a', 'b c'], { stdio: ['ignore', 'pipe', 'inherit'] });
  let output = '';
  child.stdout.on('data', (d: Buffer) => (output += d.toString()));
  await new Promise((resolve) => child.on('close', resolve));
  const printed = JSON.parse(output) as { argv: string[]; pid: number };
  assert.deepEqual(printed.argv, ['run', 'a', 'b c']);
  assert.equal(printed.pid, child.pid);
});

test('paths with quotes are quoted safely in the wrapper', () => {
  const text = wrapperText("/opt/it's/node", '/opt/lava rank/cli.js');
  assert.ok(text.includes(`exec '/opt/it'\\''s/node' ${DAEMON_NODE_FLAGS.join(' ')} '/opt/lava rank/cli.js' run "$@"`), text);
  const r = spawnSync('/bin/sh', ['-n'], { input: text });
  assert.equal(r.status, 0);
  assert.throws(() => wrapperText('/opt/a\nb/node', '/x'), /control character/);
});

test('reinstalling the identical wrapper changes nothing', async () => {
  const t = tree('fresh');
  await install(t);
  const before = snapshot(t.root);
  const mtime = statSync(t.elim).mtimeMs;
  const r = await install(t);
  assert.equal(r.code, 0);
  assert.match(r.out, /already this wrapper; nothing to do/);
  assert.deepEqual(snapshot(t.root), before);
  assert.equal(statSync(t.elim).mtimeMs, mtime);
});

test('an earlier lavarank wrapper is replaced without --force and without a backup', async () => {
  const t = tree('fresh');
  writeFileSync(t.elim, `#!/bin/sh\n# ${WRAPPER_MARK}\nexec '/old/node' '/old/cli.js' run "$@"\n`, { mode: 0o755 });
  const r = await install(t);
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /earlier lavarank wrapper/);
  assert.equal(readFileSync(t.elim, 'utf8'), wrapperText(process.execPath, t.program));
  assert.equal(existsSync(join(t.sbin, BACKUP_DIR)), false);
});

test('an existing elim that is not lavarank\'s is refused without --force, and nothing changes', async () => {
  const t = tree('fresh');
  plantForeignElim(t);
  const before = snapshot(t.root);
  const r = await install(t, '--merge-conf');
  assert.equal(r.code, 1);
  assert.match(r.err, new RegExp(`${t.elim} already exists and is not lavarank's`));
  assert.match(r.err, /--force/);
  assert.match(r.err, /elims:/);
  assert.match(r.err, /Nothing was changed/);
  assert.deepEqual(snapshot(t.root), before);
});

test('--force keeps the old elim under a name LIM never runs and --uninstall puts it back', async () => {
  const t = tree('fresh');
  plantForeignElim(t);
  const r = await install(t, '--force');
  assert.equal(r.code, 0, r.err);
  const backup = join(t.sbin, BACKUP_DIR, `elim.${STAMP}`);
  assert.equal(readFileSync(backup, 'utf8'), FOREIGN);
  assert.equal(statSync(join(t.sbin, BACKUP_DIR)).mode & 0o777, 0o700);
  // nothing in LSF_SERVERDIR itself but the wrapper: neither OpenLava (elim) nor MELIM (elim.*) can start the old one
  assert.deepEqual(readdirSync(t.sbin).sort(), [BACKUP_DIR, 'elim']);
  assert.ok(readFileSync(t.elim, 'utf8').includes(WRAPPER_MARK));

  const u = await install(t, '--uninstall');
  assert.equal(u.code, 0, u.err);
  assert.equal(readFileSync(t.elim, 'utf8'), FOREIGN);
  assert.equal(statSync(t.elim).mode & 0o777, 0o755);
  assert.equal(existsSync(join(t.sbin, BACKUP_DIR)), false);
});

// The one-link rule keeps other users' hard links out of a directory they can write; in
// the installer's own 0700 backup directory nobody else can reach a file to link it, and
// a site's elim that has a second name of its own (a hard link the site made) was saved
// with two links: --uninstall then put nothing back and removed the wrapper (review76).
test('--uninstall puts back a saved elim that has another name of the site\'s, from the installer\'s own backup directory', async () => {
  const t = tree('fresh');
  plantForeignElim(t);
  linkSync(t.elim, join(t.root, 'elim-site-copy'));
  assert.equal((await install(t, '--force')).code, 0);
  const u = await install(t, '--uninstall');
  assert.equal(u.code, 0, u.err);
  assert.equal(readFileSync(t.elim, 'utf8'), FOREIGN);
});

// Runs fn with fs.<name> replaced by a version that throws ENOSPC (as on a full disk)
// when fails(args) says so, and restores it after.
async function failing<T>(name: 'fsyncSync' | 'renameSync', fails: (...args: never[]) => boolean, fn: () => Promise<T>): Promise<T> {
  const real = fs[name] as (...args: unknown[]) => unknown;
  (fs as unknown as Record<string, unknown>)[name] = (...args: never[]): unknown => {
    if (fails(...args)) throw Object.assign(new Error(`ENOSPC: no space left on device, ${name}`), { code: 'ENOSPC' });
    return real(...args);
  };
  syncBuiltinESMExports();
  try {
    return await fn();
  } finally {
    (fs as unknown as Record<string, unknown>)[name] = real;
    syncBuiltinESMExports();
  }
}

test('--force that fails to write the wrapper (a full disk) leaves the site elim where LIM runs it', async () => {
  const t = tree('fresh');
  plantForeignElim(t);
  const isNewElim = (fd: number): boolean => fs.readlinkSync(`/proc/self/fd/${fd}`).endsWith('/.elim.lavarank-new');
  const r = await failing('fsyncSync', isNewElim, () => install(t, '--force'));
  assert.equal(r.code, 1);
  assert.match(r.err, /ENOSPC/);
  assert.equal(readFileSync(t.elim, 'utf8'), FOREIGN);
  assert.deepEqual(readdirSync(t.sbin), ['elim']);
});

// EIO syncing LSF_SERVERDIR once the wrapper was renamed into place (as strace's fault
// injection gave lsf.shared's merge on a real run): install said it had failed to write
// the wrapper, which was in place, and that only the steps before it were done.
test('an install whose directory cannot be synced after the wrapper is renamed into place says the wrapper was written, not that it failed, and stops', async () => {
  const t = tree('fresh');
  const restoreSync = failDirectorySync();
  let r: Run;
  try {
    r = await install(t, '--merge-conf');
  } finally {
    restoreSync();
  }
  assert.equal(r.code, 1);
  assert.match(r.out, /done: write \S*sbin\/elim/);
  assert.equal(readFileSync(t.elim, 'utf8'), wrapperText(process.execPath, t.program));
  assert.doesNotMatch(r.err, /failed to/);
  assert.match(r.err, /^lavarank install: (\S*sbin\/elim) was written, but its directory \S*sbin could not be synced: EIO \(i\/o error\); after a crash \1 may be as it was before; check the disk \(dmesg\) and run the install again\nThe steps printed above it were done; the rest were not\.$/);
  assert.doesNotMatch(readFileSync(t.shared, 'utf8'), /rank/, 'the merge after it is not made');
});

// install run by root where the server says EACCES to writes in the directories named
// (root on a node of an NFS export with root_squash: the server's anonymous user).
async function installSquashed(t: Tree, refused: readonly string[], ...args: string[]): Promise<Run> {
  const out: string[] = [];
  const err: string[] = [];
  const access = (dir: string): void => {
    if (refused.includes(dir)) throw Object.assign(new Error(`EACCES: permission denied, access '${dir}'`), { code: 'EACCES' });
  };
  const io: InstallIO = { out: (s) => out.push(s), err: (s) => err.push(s), env: {}, now: () => NOW, uid: 0, access };
  const conf = args.includes('--merge-conf') ? ['--envdir', t.etc] : [];
  const code = await runInstall(['--serverdir', t.sbin, '--program', t.program, ...conf, ...args], io);
  return { code, out: out.join('\n'), err: err.join('\n') };
}

test('an LSF_SERVERDIR root cannot write (NFS with root_squash) is refused before anything changes, naming it and the file server', async () => {
  const t = tree('fresh');
  const before = snapshot(t.root);
  const r = await installSquashed(t, [t.sbin]);
  assert.equal(r.code, 1);
  assert.equal(r.err, `lavarank install: cannot write in LSF_SERVERDIR ${t.sbin}: EACCES (permission denied); on NFS exported with root_squash (the default) root here is the file server's anonymous user: run the install as root on the file server, or on a host the export gives no_root_squash\nNothing was changed.`);
  assert.deepEqual(snapshot(t.root), before);
});

test('--dry-run finds out an LSF_SERVERDIR root cannot write, rather than promise the wrapper', async () => {
  const t = tree('fresh');
  const r = await installSquashed(t, [t.sbin], '--dry-run');
  assert.equal(r.code, 1);
  assert.doesNotMatch(r.out, /would: write/);
  assert.match(r.err, /cannot write in LSF_SERVERDIR .*: EACCES \(permission denied\)/);
});

test('--merge-conf whose lsf.shared directory root cannot write changes no file, the wrapper included', async () => {
  const t = tree('fresh');
  const before = snapshot(t.root);
  const r = await installSquashed(t, [t.etc], '--merge-conf');
  assert.equal(r.code, 1);
  assert.match(r.err, new RegExp(`^lavarank install: cannot write in lsf\\.shared's directory ${t.etc}: EACCES \\(permission denied\\); on NFS exported with root_squash`));
  assert.deepEqual(snapshot(t.root), before);
});

test('--uninstall that fails to put the saved elim back leaves lavarank\'s wrapper where LIM runs it', async () => {
  const t = tree('fresh');
  plantForeignElim(t);
  assert.equal((await install(t, '--force')).code, 0);
  const wrapper = readFileSync(t.elim, 'utf8');
  const intoElim = (_from: string, to: string): boolean => to === t.elim;
  const u = await failing('renameSync', intoElim, () => install(t, '--uninstall'));
  assert.equal(u.code, 1);
  assert.equal(readFileSync(t.elim, 'utf8'), wrapper);
  assert.equal(readFileSync(join(t.sbin, BACKUP_DIR, `elim.${STAMP}`), 'utf8'), FOREIGN);
});

test('--uninstall removes the wrapper when nothing was saved, and leaves a foreign elim alone', async () => {
  const t = tree('fresh');
  await install(t);
  const r = await install(t, '--uninstall');
  assert.equal(r.code, 0, r.err);
  assert.equal(existsSync(t.elim), false);
  assert.match(r.out, /lsadmin reconfig/);

  plantForeignElim(t);
  const again = await install(t, '--uninstall');
  assert.equal(again.code, 0);
  assert.match(again.out, /not lavarank's wrapper; it is left alone/);
  assert.equal(readFileSync(t.elim, 'utf8'), FOREIGN);
});

test('--uninstall also removes the temporary wrapper an interrupted install left beside the elim', async () => {
  const t = tree('fresh');
  await install(t);
  const pending = join(t.sbin, '.elim.lavarank-new');
  writeFileSync(pending, 'half a wrapper');
  const r = await install(t, '--uninstall');
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /left by an install that was interrupted/);
  assert.equal(existsSync(pending), false);
  assert.equal(existsSync(t.elim), false);
});

test('--uninstall leaves a saved elim in the backup when a foreign elim took the wrapper\'s place, and never overwrites that one', async () => {
  const t = tree('fresh');
  plantForeignElim(t);
  assert.equal((await install(t, '--force')).code, 0);
  const newer = '#!/bin/sh\n# the site elim, put back by hand\n';
  writeFileSync(t.elim, newer, { mode: 0o755 });
  const u = await install(t, '--uninstall');
  assert.equal(u.code, 0, u.err);
  assert.match(u.out, /is not put back, since .* is not lavarank's/);
  assert.equal(readFileSync(t.elim, 'utf8'), newer);
  assert.equal(readFileSync(join(t.sbin, BACKUP_DIR, `elim.${STAMP}`), 'utf8'), FOREIGN);
});

// A sticky LSF_SERVERDIR (which install refuses) let oltest make the backup directory
// first and their script in it was put back as the elim LIM runs as root; a link there,
// or a file of several names, was put back too (2026-12-07, hostile22).
test('--uninstall puts nothing back in an LSF_SERVERDIR others can write, and puts back only the installer\'s own plain files', async () => {
  const t = tree('fresh');
  const dir = join(t.sbin, BACKUP_DIR);
  mkdirSync(dir, { mode: 0o700 });
  writeFileSync(join(dir, 'elim.99991231-235959'), '#!/bin/sh\nid > /tmp/owned\n', { mode: 0o755 });
  chmodSync(t.sbin, 0o1777);
  const before = snapshot(t.root);
  const r = await install(t, '--uninstall');
  assert.equal(r.code, 1);
  assert.match(r.err, /LSF_SERVERDIR \S*sbin has mode 1777/);
  assert.match(r.err, /Nothing was changed/);
  assert.deepEqual(snapshot(t.root), before);

  chmodSync(t.sbin, 0o755);
  rmSync(join(dir, 'elim.99991231-235959'));
  symlinkSync('/bin/sh', join(dir, 'elim.99991231-235959'));
  const linked = await install(t, '--uninstall');
  assert.equal(linked.code, 0, linked.err);
  assert.equal(existsSync(t.elim), false);
  assert.equal(lstatSync(join(dir, 'elim.99991231-235959')).isSymbolicLink(), true);
});

// A backup directory that others can write or that another user owns, in an LSF_SERVERDIR
// only root can write: what is in it may be theirs, so only the installer's own files of
// one link are put back (no test reached that rule, review77: with it gone all passed).
test("--uninstall from a backup directory others can write, or another user's, puts back only the installer's own file of one link", async () => {
  const t = tree('fresh');
  const dir = join(t.sbin, BACKUP_DIR);
  const own = join(dir, 'elim.20261201-000000');
  const linked = join(dir, 'elim.99991231-235959');
  mkdirSync(dir, { mode: 0o755 });
  writeFileSync(own, '#!/bin/sh\necho own\n', { mode: 0o755 });
  writeFileSync(join(t.root, 'elsewhere'), '#!/bin/sh\nid > /tmp/owned\n', { mode: 0o755 });
  linkSync(join(t.root, 'elsewhere'), linked);
  chmodSync(dir, 0o777);
  const r = await install(t, '--uninstall');
  assert.equal(r.code, 0, r.err);
  assert.equal(readFileSync(t.elim, 'utf8'), '#!/bin/sh\necho own\n', 'the file of two links was put back');
  assert.equal(existsSync(linked), true);
  if (uid !== 0) return; // giving the directory to another user needs root

  rmSync(t.elim);
  rmSync(linked);
  writeFileSync(own, '#!/bin/sh\necho own\n', { mode: 0o755 });
  writeFileSync(linked, '#!/bin/sh\nid > /tmp/owned\n', { mode: 0o755 });
  chownSync(linked, 1003, 1003);
  chmodSync(dir, 0o755);
  chownSync(dir, 1003, 1003);
  const theirs = await install(t, '--uninstall');
  assert.equal(theirs.code, 0, theirs.err);
  assert.equal(readFileSync(t.elim, 'utf8'), '#!/bin/sh\necho own\n', "the file of uid 1003 was put back");
  assert.equal(existsSync(linked), true);
});

test('--lsf installs elim.rank beside an existing elim and leaves that one alone', async () => {
  const t = tree('fresh');
  plantForeignElim(t);
  const r = await install(t, '--lsf');
  assert.equal(r.code, 0, r.err);
  assert.ok(readFileSync(join(t.sbin, 'elim.rank'), 'utf8').includes(WRAPPER_MARK));
  assert.equal(readFileSync(t.elim, 'utf8'), FOREIGN);
  assert.equal((await install(t, '--lsf', '--uninstall')).code, 0);
  assert.deepEqual(readdirSync(t.sbin), ['elim']);
});

// IBM's "External load indices commands" (LSF 10.1): after adding a host-based dynamic
// resource, every LIM must restart to start its elims; OpenLava's reconfig starts it.
test('--lsf tells to restart every LIM after the install and the uninstall, and the OpenLava install does not', async () => {
  const t = tree('fresh');
  const r = await install(t, '--lsf');
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /lsadmin reconfig[^\n]*\n +badmin mbdrestart[^\n]*\n +lsadmin limrestart all /);
  const u = await install(t, '--lsf', '--uninstall');
  assert.equal(u.code, 0, u.err);
  assert.match(u.out, /^ +lsadmin limrestart all /m);
  const o = tree('fresh');
  const plain = await install(o);
  assert.equal(plain.code, 0, plain.err);
  assert.doesNotMatch(plain.out, /limrestart/);
});

// docs/install.md's Uninstall section shows the commands without --lsf: run as written
// on LSF, --uninstall looked at elim only and said done, and MELIM ran lavarank on.
test('--uninstall without --lsf, where lavarank is installed as elim.rank (or with --lsf, where it is elim), names the flag and changes nothing', async () => {
  const t = tree('fresh');
  plantForeignElim(t);
  assert.equal((await install(t, '--lsf')).code, 0);
  const before = snapshot(t.root);
  const r = await install(t, '--uninstall');
  assert.equal(r.code, 1);
  assert.match(r.err, /elim\.rank is lavarank's wrapper, installed with --lsf; run --uninstall with --lsf to remove it\nNothing was changed\./);
  assert.deepEqual(snapshot(t.root), before);

  const u = tree('fresh');
  assert.equal((await install(u)).code, 0);
  const other = await install(u, '--uninstall', '--lsf');
  assert.equal(other.code, 1);
  assert.match(other.err, /elim is lavarank's wrapper, installed without --lsf; run --uninstall without --lsf to remove it/);
  assert.ok(existsSync(u.elim));
});

test('--dry-run shows the files, diffs and commands and changes nothing', async () => {
  const t = tree('capture');
  plantForeignElim(t);
  const before = snapshot(t.root);
  const r = await install(t, '--force', '--merge-conf', '--dry-run');
  assert.equal(r.code, 0, r.err);
  assert.deepEqual(snapshot(t.root), before);
  assert.match(r.out, /^Dry run: nothing is changed/);
  assert.match(r.out, /would: move the existing .*sbin\/elim to .*\.lavarank-backup\/elim\.20261128-182400/);
  assert.match(r.out, /and write .*sbin\/elim in its place/);
  assert.match(r.out, /would: back up .*lsf\.shared to .*lsf\.shared\.lavarank-20261128-182400/);
  assert.match(r.out, /^\+rank +Numeric 10 +Y /m);
  assert.match(r.out, /^\+RES_REQ += order\[rank\] rusage\[rank=\d+:duration=45s:decay=1\]/m);
  assert.match(r.out, /lsadmin reconfig/);
  assert.doesNotMatch(r.out, /done:/);
});

test('--dry-run --uninstall changes nothing either', async () => {
  const t = tree('fresh');
  plantForeignElim(t);
  await install(t, '--force', '--merge-conf');
  const before = snapshot(t.root);
  const r = await install(t, '--uninstall', '--merge-conf', '--dry-run');
  assert.equal(r.code, 0, r.err);
  assert.deepEqual(snapshot(t.root), before);
  assert.match(r.out, /would: put the saved elim/);
  assert.match(r.out, /^-# >>> lavarank/m);
});

// On OpenLava 4.0, mbdrestart without lavarank's blocks moved the rank queue's pending jobs
// to lost_and_found and ran a job held with -R "select[rank<50] order[rank]" on any host.
test('--uninstall --merge-conf, dry run or not, tells to empty the rank queue before mbdrestart, and --uninstall alone does not', async () => {
  const t = tree('fresh');
  assert.equal((await install(t, '--merge-conf')).code, 0);
  const dry = await install(t, '--uninstall', '--merge-conf', '--dry-run');
  assert.equal(dry.code, 0, dry.err);
  assert.match(dry.out, /Empty the rank queue first \(badmin qclose rank; [^\n]*\n[^\n]*lost_and_found[^\n]*bswitch[\s\S]*badmin mbdrestart/);
  const u = await install(t, '--uninstall', '--merge-conf');
  assert.equal(u.code, 0, u.err);
  assert.match(u.out, /Empty the rank queue first/);
  const o = tree('fresh');
  assert.equal((await install(o)).code, 0);
  const plain = await install(o, '--uninstall');
  assert.equal(plain.code, 0, plain.err);
  assert.doesNotMatch(plain.out, /lost_and_found/);
});

// On OpenLava 4.0 the rank queue closed for an uninstall (badmin qclose rank, as its next
// steps ask) came back Closed:Active after a reinstall's merge and mbdrestart: mbatchd keeps
// the close in lsb.events, and bsub -q rank said "Queue has been closed. Job not submitted."
test('the uninstall says mbatchd remembers the rank queue closed, and the install says to check it and how to open it', async () => {
  const t = tree('fresh');
  assert.equal((await install(t, '--merge-conf')).code, 0);
  const u = await install(t, '--uninstall', '--merge-conf');
  assert.equal(u.code, 0, u.err);
  assert.match(u.out, /badmin qclose rank[\s\S]*remembers the close[^\n]*install lavarank again[^\n]*badmin qopen rank/);
  const again = await install(t, '--merge-conf');
  assert.equal(again.code, 0, again.err);
  assert.match(again.out, /^ +bqueues rank +# Open:Active; "Closed" [^\n]*: badmin qopen rank$/m);
});

test('every file install writes, and its directory after the rename, is synced to disk before install goes on', async () => {
  const t = tree('fresh');
  // What each fsync reached, in order, named by its descriptor's path at that moment.
  const synced: string[] = [];
  const realFsync = fs.fsyncSync;
  fs.fsyncSync = ((fd: number): void => {
    synced.push(fs.readlinkSync(`/proc/self/fd/${fd}`));
    realFsync(fd);
  }) as typeof fs.fsyncSync;
  syncBuiltinESMExports();
  try {
    const r = await install(t, '--merge-conf');
    assert.equal(r.code, 0, r.err);
  } finally {
    fs.fsyncSync = realFsync;
    syncBuiltinESMExports();
  }
  for (const file of [t.elim, t.shared, t.cluster, t.queues]) {
    const pending = join(dirname(file), `.${file.slice(dirname(file).length + 1)}.lavarank-new`);
    const data = synced.findIndex((p) => p === pending || (p.startsWith(`${pending}.`) && /^[0-9a-f]{8}$/.test(p.slice(pending.length + 1))));
    assert.ok(data >= 0, `${file}'s new text was not synced: ${synced.join(', ')}`);
    assert.ok(synced.indexOf(dirname(file), data + 1) > data, `${dirname(file)} was not synced after ${file}'s rename: ${synced.join(', ')}`);
  }
});

test('--merge-conf on a fresh cluster adds rank, elimtrig and the rank queue, with backups, and a second merge changes nothing', async () => {
  const t = tree('fresh');
  const originals = [t.shared, t.cluster, t.queues].map((f) => readFileSync(f, 'utf8'));
  const r = await install(t, '--merge-conf');
  assert.equal(r.code, 0, r.err);
  const shared = readFileSync(t.shared, 'utf8');
  assert.match(shared, /^rank +Numeric 10 +Y +\(lavarank: predicted slowdown of a new job in percent, 0 idle, 1000 max or unknown\)$/m);
  assert.match(shared, /^elimtrig +Numeric 60 +Y /m);
  // the rows went inside the existing Resource section, before its End line
  assert.ok(shared.indexOf('elimtrig') < shared.indexOf('End Resource'));
  const cluster = readFileSync(t.cluster, 'utf8');
  assert.match(cluster, /^Begin ResourceMap\nRESOURCENAME +LOCATION\nelimtrig +\(\[default\]\)\nEnd ResourceMap$/m);
  assert.doesNotMatch(cluster, /^rank/m);
  const queues = readFileSync(t.queues, 'utf8');
  assert.match(queues, /^QUEUE_NAME += rank$/m);
  assert.match(queues, /^# D and T: see "lavarank recommend"$/m);
  [t.shared, t.cluster, t.queues].forEach((f, i) => assert.equal(readFileSync(`${f}.lavarank-${STAMP}`, 'utf8'), originals[i]));
  assert.match(r.out, /^--- .*lsf\.shared \(now\)$/m);
  assert.match(r.out, /^\+\+\+ .*lsf\.shared \(merged\)$/m);

  const before = snapshot(t.root);
  const again = await install(t, '--merge-conf');
  assert.equal(again.code, 0, again.err);
  assert.deepEqual(snapshot(t.root), before);
  assert.equal((again.out.match(/already merged; unchanged/g) ?? []).length, 3);
});

// Every upgrade's merge left one more <file>.lavarank-<time> beside each file, which
// nothing removed (13 sets on the test cluster).
test('--merge-conf keeps the oldest backup of a file and the newest three, this run\'s among them, and removes only its own backups', async () => {
  const t = tree('fresh');
  const earlier = ['20261101-000000', '20261110-000000', '20261120-000000', '20261120-000000-2', '20261125-000000'].map((s) => `${t.shared}.lavarank-${s}`);
  earlier.forEach((f, i) => writeFileSync(f, `backup ${i}\n`));
  const others = [`${t.shared}.lavarank-notes`, `${t.shared}.lavarank-20261102-000000.txt`];
  others.forEach((f) => writeFileSync(f, 'not a backup\n'));
  symlinkSync(t.shared, `${t.shared}.lavarank-20261103-000000`);
  const dry = await install(t, '--merge-conf', '--dry-run');
  assert.equal(dry.code, 0, dry.err);
  assert.match(dry.out, /would: remove 2 older backups of \S*lsf\.shared \(lsf\.shared\.lavarank-20261110-000000, lsf\.shared\.lavarank-20261120-000000; kept: the oldest, and the newest 3\)$/m);
  const r = await install(t, '--merge-conf');
  assert.equal(r.code, 0, r.err);
  const left = readdirSync(dirname(t.shared)).filter((f) => f.startsWith('lsf.shared.lavarank-')).sort();
  assert.deepEqual(left, ['lsf.shared.lavarank-20261101-000000', 'lsf.shared.lavarank-20261102-000000.txt', 'lsf.shared.lavarank-20261103-000000', 'lsf.shared.lavarank-20261120-000000-2', 'lsf.shared.lavarank-20261125-000000', `lsf.shared.lavarank-${STAMP}`, 'lsf.shared.lavarank-notes']);
  assert.equal(readFileSync(`${t.shared}.lavarank-20261101-000000`, 'utf8'), 'backup 0\n');
});

// A release that changed none of the files pruned nothing: its merge returned before
// the pruning, so an old excess stayed (the administrator's leftovers, stop 74).
test('--merge-conf that changes no file still keeps only the oldest backup of each file and the newest three, and the dry run says so', async () => {
  const t = tree('fresh');
  assert.equal((await install(t, '--merge-conf')).code, 0);
  const earlier = ['20261101-000000', '20261105-000000', '20261110-000000', '20261120-000000', '20261125-000000'].map((s) => `${t.shared}.lavarank-${s}`);
  earlier.forEach((f, i) => writeFileSync(f, `backup ${i}\n`));
  const dry = await install(t, '--merge-conf', '--dry-run');
  assert.equal(dry.code, 0, dry.err);
  assert.match(dry.out, /lsf\.shared: already merged; unchanged\.\n {2}would: remove 2 older backups of \S*lsf\.shared \(lsf\.shared\.lavarank-20261105-000000, lsf\.shared\.lavarank-20261110-000000; kept: the oldest, and the newest 3\)$/m);
  assert.equal(readdirSync(dirname(t.shared)).filter((f) => f.startsWith('lsf.shared.lavarank-')).length, 6);
  const r = await install(t, '--merge-conf');
  assert.equal(r.code, 0, r.err);
  assert.equal((r.out.match(/already merged; unchanged/g) ?? []).length, 3);
  const left = readdirSync(dirname(t.shared)).filter((f) => f.startsWith('lsf.shared.lavarank-')).sort();
  assert.deepEqual(left, ['lsf.shared.lavarank-20261101-000000', 'lsf.shared.lavarank-20261120-000000', 'lsf.shared.lavarank-20261125-000000', `lsf.shared.lavarank-${STAMP}`]);
  assert.equal(readFileSync(`${t.shared}.lavarank-20261101-000000`, 'utf8'), 'backup 0\n');
});

// Every --force over a foreign elim kept one more copy in .lavarank-backup/, which nothing removed.
test('every install keeps the oldest saved elim and the newest three in the backup directory, this run\'s among them, and the dry run says so', async () => {
  const t = tree('fresh');
  const dir = join(t.sbin, BACKUP_DIR);
  mkdirSync(dir, { mode: 0o700 });
  const saved = ['20261101-000000', '20261105-000000', '20261110-000000', '20261120-000000', '20261125-000000'].map((s) => join(dir, `elim.${s}`));
  saved.forEach((f, i) => writeFileSync(f, `elim ${i}\n`));
  writeFileSync(join(dir, 'elim.rank.20261102-000000'), 'another product\'s\n');
  plantForeignElim(t);
  const dry = await install(t, '--force', '--dry-run');
  assert.equal(dry.code, 0, dry.err);
  assert.match(dry.out, /would: remove 2 older backups of \S*sbin\/elim \(elim\.20261105-000000, elim\.20261110-000000; kept: the oldest, and the newest 3\)$/m);
  const r = await install(t, '--force');
  assert.equal(r.code, 0, r.err);
  assert.deepEqual(readdirSync(dir).sort(), ['elim.20261101-000000', 'elim.20261120-000000', 'elim.20261125-000000', `elim.${STAMP}`, 'elim.rank.20261102-000000'].sort());
  assert.equal(readFileSync(join(dir, `elim.${STAMP}`), 'utf8'), FOREIGN);
  // an install over its own wrapper, which changes nothing, prunes too
  writeFileSync(join(dir, 'elim.20261102-000000'), 'elim 5\n');
  writeFileSync(join(dir, 'elim.20261103-000000'), 'elim 6\n');
  const again = await install(t);
  assert.equal(again.code, 0, again.err);
  assert.match(again.out, /is already this wrapper; nothing to do/);
  assert.match(again.out, /remove 2 older backups of \S*sbin\/elim \(elim\.20261102-000000, elim\.20261103-000000;/);
  assert.deepEqual(readdirSync(dir).sort(), ['elim.20261101-000000', 'elim.20261120-000000', 'elim.20261125-000000', `elim.${STAMP}`, 'elim.rank.20261102-000000'].sort());
});

// A saved elim keeps the site elim's owner (an lsfadmin's, say): counting only the
// installer's files, a root install pruned none of them and --uninstall put none back,
// though only the installer can write the backup directory (review75's line).
test('the saved elims of another owner in the installer\'s own backup directory are pruned and put back like its own', { skip: uid !== 0 && 'needs root to give files to another user' }, async () => {
  const t = tree('fresh');
  const dir = join(t.sbin, BACKUP_DIR);
  mkdirSync(dir, { mode: 0o700 });
  const saved = ['20261101-000000', '20261105-000000', '20261110-000000', '20261120-000000', '20261125-000000'].map((s) => join(dir, `elim.${s}`));
  saved.forEach((f, i) => {
    writeFileSync(f, `elim ${i}\n`, { mode: 0o755 });
    chownSync(f, 1003, 1003);
  });
  plantForeignElim(t);
  const r = await install(t, '--force');
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /remove 2 older backups of \S*sbin\/elim \(elim\.20261105-000000, elim\.20261110-000000;/);
  assert.deepEqual(readdirSync(dir).sort(), ['elim.20261101-000000', 'elim.20261120-000000', 'elim.20261125-000000', `elim.${STAMP}`].sort());
  rmSync(join(dir, `elim.${STAMP}`));
  const u = await install(t, '--uninstall');
  assert.equal(u.code, 0, u.err);
  assert.equal(readFileSync(t.elim, 'utf8'), 'elim 4\n');
  assert.equal(statSync(t.elim).uid, 1003);
});

// In a sticky configuration directory (the trust check accepts one, as it does /tmp),
// oltest's files named as backups, one sorting oldest and two newest, had root remove
// its three real backups, the file before lavarank among them, and keep theirs as "the
// oldest" (2026-12-07, hostile21).
test('--merge-conf counts as backups only files of its own user, so another user\'s names in a sticky directory neither remove nor replace them', { skip: uid !== 0 && 'needs root to give files to another user' }, async () => {
  const t = tree('fresh');
  chmodSync(t.etc, 0o1777);
  const mine = ['20261101-000000', '20261110-000000', '20261120-000000'].map((s) => `${t.shared}.lavarank-${s}`);
  mine.forEach((f, i) => writeFileSync(f, `backup ${i}\n`));
  const theirs = ['00000000-000000', '99991231-235959', '99991231-235959-2'].map((s) => `${t.shared}.lavarank-${s}`);
  for (const f of theirs) {
    writeFileSync(f, 'planted\n');
    chownSync(f, 1003, 1003);
  }
  const r = await install(t, '--merge-conf');
  assert.equal(r.code, 0, r.err);
  assert.doesNotMatch(r.out, /remove \d+ older backups? of \S*lsf\.shared\b/);
  for (const [i, f] of mine.entries()) assert.equal(readFileSync(f, 'utf8'), `backup ${i}\n`, f);
  for (const f of theirs) assert.equal(readFileSync(f, 'utf8'), 'planted\n', f);
});

// Where fs.protected_hardlinks is 0, oltest's hard links to a root file (/etc/hostname),
// named as backups sorting first and last in a sticky configuration directory, are root's
// files: the built CLI removed root's three real backups and kept the links (hostile22).
test('--merge-conf counts no file of several names as its backup, so hard links to the installer\'s files neither remove nor replace its backups', async () => {
  const t = tree('fresh');
  chmodSync(t.etc, 0o1777);
  const mine = ['20261101-000000', '20261110-000000', '20261120-000000'].map((s) => `${t.shared}.lavarank-${s}`);
  mine.forEach((f, i) => writeFileSync(f, `backup ${i}\n`));
  const target = join(t.root, 'someone-elses');
  writeFileSync(target, 'not a backup\n');
  const links = ['00000000-000000', '99991231-235959', '99991231-235959-2'].map((s) => `${t.shared}.lavarank-${s}`);
  for (const f of links) fs.linkSync(target, f);
  const r = await install(t, '--merge-conf');
  assert.equal(r.code, 0, r.err);
  assert.doesNotMatch(r.out, /remove \d+ older backups? of \S*lsf\.shared\b/);
  for (const [i, f] of mine.entries()) assert.equal(readFileSync(f, 'utf8'), `backup ${i}\n`, f);
  for (const f of links) assert.equal(statSync(f).nlink, 4, f);
});

// In a sticky configuration directory, oltest's directory at the fixed temporary name
// `.lsf.cluster.openlava.lavarank-new` failed every merge after lsf.shared was written
// (EISDIR at its unlink), and their file at the backup's name made after the plan looked
// failed it before anything was written (EEXIST: 1 run of 5 against a loop making each
// next name, on the built CLI) (2026-12-07, hostile22).
test('--merge-conf writes through names no one can make first, takes another backup name where one is made meanwhile, and removes only its own interrupted temporary files', async () => {
  const t = tree('fresh');
  chmodSync(t.etc, 0o1777);
  const squatted = join(t.etc, '.lsf.cluster.openlava.lavarank-new');
  mkdirSync(squatted);
  writeFileSync(join(squatted, 'theirs'), 'x');
  const left = join(t.etc, '.lsf.shared.lavarank-new.0123abcd');
  writeFileSync(left, 'half a file');
  const taken = `${t.shared}.lavarank-${STAMP}`;
  const real = fs.copyFileSync;
  fs.copyFileSync = ((from: string, to: string, mode?: number): void => {
    if (to === taken && !existsSync(taken)) writeFileSync(taken, 'made meanwhile\n');
    real(from, to, mode);
  }) as typeof fs.copyFileSync;
  syncBuiltinESMExports();
  let r: Run;
  try {
    r = await install(t, '--merge-conf');
  } finally {
    fs.copyFileSync = real;
    syncBuiltinESMExports();
  }
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /was made meanwhile by someone else/);
  assert.equal(readFileSync(taken, 'utf8'), 'made meanwhile\n');
  const copies = readdirSync(t.etc).filter((n) => /^lsf\.shared\.lavarank-\d{8}-\d{6}-\d+$/.test(n));
  assert.equal(copies.length, 1, readdirSync(t.etc).join(', '));
  assert.equal(backupSuffix(copies[0]!.slice('lsf.shared.lavarank-'.length))?.stamp, STAMP);
  assert.match(readFileSync(t.cluster, 'utf8'), /^elimtrig +\(\[default\]\)$/m);
  assert.equal(readFileSync(join(squatted, 'theirs'), 'utf8'), 'x');
  assert.equal(existsSync(left), false);
  assert.deepEqual(readdirSync(t.etc).filter((n) => n.includes('lavarank-new')), [basename(squatted)]);
});

test('staleBackups keeps the oldest and the newest KEPT_BACKUPS, the one just made counted the newest', () => {
  assert.equal(KEPT_BACKUPS, 3);
  assert.deepEqual(staleBackups([], 'n'), []);
  assert.deepEqual(staleBackups(['a', 'b', 'c'], 'n'), []);
  assert.deepEqual(staleBackups(['a', 'b', 'c', 'd', 'e'], 'n'), ['b', 'c']);
  assert.deepEqual(staleBackups(['a', 'n', 'b', 'c', 'd'], 'n'), ['b']);
});

test('--merge-conf run again keeps D changed in the rank queue (as docs/install.md advises), says so, and a third run changes nothing', async () => {
  const t = tree('fresh');
  assert.equal((await install(t, '--merge-conf')).code, 0);
  writeFileSync(t.queues, readFileSync(t.queues, 'utf8').replace(/rusage\[rank=\d+:/, 'rusage[rank=11:'));
  const edited = snapshot(t.root);
  const again = await install(t, '--merge-conf');
  assert.equal(again.code, 0, again.err);
  assert.deepEqual(snapshot(t.root), edited);
  assert.match(again.out, /note: .*lsb\.queues: RES_REQ = order\[rank\] rusage\[rank=11:.* is kept as it was changed/);
  assert.match(again.out, /lsb\.queues: already merged; unchanged/);
  await install(t, '--merge-conf');
  assert.deepEqual(snapshot(t.root), edited);
});

test('--merge-conf leaves the default queue alone unless asked', async () => {
  const t = tree('fresh');
  writeFileSync(join(dirname(t.queues), 'lsb.params'), 'Begin Parameters\nDEFAULT_QUEUE = plain\nEnd Parameters\n');
  const r = await install(t, '--merge-conf');
  assert.equal(r.code, 0, r.err);
  assert.equal((readFileSync(t.queues, 'utf8').match(/rusage\[rank=/g) ?? []).length, 1, 'only the rank queue reserves');
  assert.doesNotMatch(r.out, /default queue/);
  const both = await install(t, '--merge-conf', '--default-queue', '--no-default-queue');
  assert.equal(both.code, 2);
  assert.match(both.err, /--default-queue and --no-default-queue contradict each other/);
});

test('--merge-conf --default-queue gives the default queue (lsb.params DEFAULT_QUEUE) the rank queue\'s reservation when it has no RES_REQ, so that bsub -R "order[rank]" without -q spreads bursts; reruns keep it, it follows D, --no-default-queue and --uninstall take it out', async () => {
  const t = tree('fresh');
  const original = readFileSync(t.queues, 'utf8');
  writeFileSync(join(dirname(t.queues), 'lsb.params'), 'Begin Parameters\nDEFAULT_QUEUE  = plain   #default job queue name\nJOB_ACCEPT_INTERVAL = 0\nEnd Parameters\n');
  const r = await install(t, '--merge-conf', '--default-queue');
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /note: .*the default queue plain gets rusage\[rank=2:duration=45s:decay=1\].* then go only to hosts that report a rank .*--no-default-queue/);
  const queues = readFileSync(t.queues, 'utf8');
  // inside the plain queue, before its End line, in a block that --uninstall takes out
  const plain = queues.slice(queues.indexOf('QUEUE_NAME   = plain'), queues.indexOf('End Queue', queues.indexOf('QUEUE_NAME   = plain')));
  assert.match(plain, /^# >>> lavarank: added by .*\nRES_REQ {5}= rusage\[rank=2:duration=45s:decay=1\]\n# <<< lavarank$/m);
  const before = snapshot(t.root);
  const again = await install(t, '--merge-conf');
  assert.equal(again.code, 0, again.err);
  assert.deepEqual(snapshot(t.root), before, 'a second merge, without the flag, keeps it and changes nothing');
  // an upgrade's note said the queue "gets" what it already had (admin72's walk)
  assert.match(again.out, /note: .*the default queue plain keeps the reservation an earlier merge gave it \(rusage\[rank=2:duration=45s:decay=1\]\), so that .* then go only to hosts that report a rank/);
  assert.doesNotMatch(again.out, /default queue plain gets/);
  // the default queue follows a D changed in the rank queue's block
  writeFileSync(t.queues, readFileSync(t.queues, 'utf8').replace('order[rank] rusage[rank=2:', 'order[rank] rusage[rank=11:'));
  assert.equal((await install(t, '--merge-conf')).code, 0);
  assert.match(readFileSync(t.queues, 'utf8'), /^RES_REQ {5}= rusage\[rank=11:duration=45s:decay=1\]$/m);
  assert.equal((await install(t, '--merge-conf', '--no-default-queue')).code, 0);
  assert.doesNotMatch(readFileSync(t.queues, 'utf8'), /^RES_REQ {5}= rusage/m);
  assert.equal((await install(t, '--merge-conf')).code, 0);
  assert.doesNotMatch(readFileSync(t.queues, 'utf8'), /^RES_REQ {5}= rusage/m, 'taken out, it stays out');
  assert.equal((await install(t, '--merge-conf', '--default-queue')).code, 0);
  assert.equal((await install(t, '--uninstall', '--merge-conf')).code, 0);
  assert.equal(readFileSync(t.queues, 'utf8'), original);
});

// mbd.init.c (OpenLava 4.0): without a DEFAULT_QUEUE naming a queue lsb.queues defines,
// mbatchd takes the queue named default, else makes one of its own. --default-queue
// then did nothing at all, and said nothing.
test('--merge-conf --default-queue without a DEFAULT_QUEUE says where mbatchd sends jobs without -q, and gives its queue default the reservation', async () => {
  const t = tree('fresh');
  const params = join(dirname(t.queues), 'lsb.params');
  writeFileSync(params, 'Begin Parameters\nJOB_ACCEPT_INTERVAL = 0\nEnd Parameters\n');
  const none = await install(t, '--merge-conf', '--default-queue');
  assert.equal(none.code, 0, none.err);
  assert.match(none.out, /note: .*lsb\.params sets no DEFAULT_QUEUE, and .*lsb\.queues defines no queue named default, so mbatchd sends jobs submitted without -q to a queue default of its own, .*set DEFAULT_QUEUE in/);
  assert.equal((readFileSync(t.queues, 'utf8').match(/rusage\[rank=/g) ?? []).length, 1, 'only the rank queue reserves');
  rmSync(params);
  writeFileSync(t.queues, readFileSync(t.queues, 'utf8').replace('QUEUE_NAME   = plain', 'QUEUE_NAME   = default'));
  const fallback = await install(t, '--merge-conf', '--default-queue');
  assert.equal(fallback.code, 0, fallback.err);
  assert.match(fallback.out, /note: there is no .*lsb\.params, so mbatchd sends jobs submitted without -q to the queue named default in /);
  assert.match(fallback.out, /note: .*the default queue default gets rusage\[rank=2:duration=45s:decay=1\]/);
  const queues = readFileSync(t.queues, 'utf8');
  const queue = queues.slice(queues.indexOf('QUEUE_NAME   = default'), queues.indexOf('End Queue', queues.indexOf('QUEUE_NAME   = default')));
  assert.match(queue, /^RES_REQ {5}= rusage\[rank=2:duration=45s:decay=1\]$/m);
});

test('--merge-conf --default-queue leaves a default queue with its own RES_REQ alone, and says what to add', async () => {
  const t = tree('fresh');
  writeFileSync(join(dirname(t.queues), 'lsb.params'), 'Begin Parameters\nDEFAULT_QUEUE = normal\nEnd Parameters\n');
  const r = await install(t, '--merge-conf', '--default-queue');
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /note: .*lsb\.queues line 1: the default queue normal has its own RES_REQ \(order\[rank\]\), left as it is; add rusage\[rank=2:duration=45s:decay=1\] to it/);
  const queues = readFileSync(t.queues, 'utf8');
  assert.equal((queues.match(/rusage\[rank=/g) ?? []).length, 1, 'only the rank queue reserves');
});

// mergeDefaultQueueReservation was given the merge of lsb.queues, without lavarank's
// blocks, and its note gave that text's line: a rerun named a default queue below
// another's reservation block three lines too high.
test('--merge-conf run again names a default queue with its own RES_REQ by its line in the file, a reservation block above it included', async () => {
  const t = tree('fresh');
  writeFileSync(join(dirname(t.queues), 'lsb.params'), 'Begin Parameters\nDEFAULT_QUEUE = plain normal\nEnd Parameters\n');
  writeFileSync(t.queues, 'Begin Queue\nQUEUE_NAME = plain\nEnd Queue\n\nBegin Queue\nQUEUE_NAME = normal\nRES_REQ = order[r15s]\nEnd Queue\n');
  const first = await install(t, '--merge-conf', '--default-queue');
  assert.equal(first.code, 0, first.err);
  assert.match(first.out, /note: .*lsb\.queues line 5: the default queue normal has its own RES_REQ/);
  const lines = readFileSync(t.queues, 'utf8').split('\n');
  const begin = lines.indexOf('QUEUE_NAME = normal'); // the 1-based line of its Begin, the line above
  assert.ok(begin > 5, 'the reservation block sits above it');
  const again = await install(t, '--merge-conf');
  assert.equal(again.code, 0, again.err);
  assert.match(again.out, new RegExp(`note: .*lsb\\.queues line ${begin}: the default queue normal has its own RES_REQ`));
});

test('rank declared INCREASING N is changed to Y, loudly, and --uninstall --merge-conf restores every file byte for byte', async () => {
  const t = tree('capture');
  const originals = [t.shared, t.cluster, t.queues].map((f) => readFileSync(f, 'utf8'));
  const r = await install(t, '--merge-conf');
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /WARNING: .*lsf\.shared line 20 declared rank with INCREASING N: order\[rank\] would then send jobs to the BUSIEST host/);
  const shared = readFileSync(t.shared, 'utf8');
  assert.match(shared, /^#lavarank-was: {4}rank +Numeric 10 +N /m);
  assert.match(shared, /^rank +Numeric 10 +Y /m);
  assert.doesNotMatch(shared, /^\s+rank\s+Numeric\s+10\s+N/m, 'no active rank line with N is left');
  assert.equal((shared.match(/^\s*elimtrig\s/gm) ?? []).length, 1, 'the existing elimtrig is not declared twice');
  assert.match(r.out, /already declares elimtrig/);
  assert.match(r.out, /already maps elimtrig/);

  const u = await install(t, '--uninstall', '--merge-conf');
  assert.equal(u.code, 0, u.err);
  [t.shared, t.cluster, t.queues].forEach((f, i) => assert.equal(readFileSync(f, 'utf8'), originals[i]));
});

test('--merge-conf keeps each configuration file\'s mode, and --uninstall --merge-conf too', async () => {
  const t = tree('fresh');
  const modes = [0o640, 0o600, 0o604];
  [t.shared, t.cluster, t.queues].forEach((f, i) => chmodSync(f, modes[i]!));
  const r = await install(t, '--merge-conf');
  assert.equal(r.code, 0, r.err);
  assert.deepEqual([t.shared, t.cluster, t.queues].map((f) => statSync(f).mode & 0o7777), modes);
  const u = await install(t, '--uninstall', '--merge-conf');
  assert.equal(u.code, 0, u.err);
  assert.deepEqual([t.shared, t.cluster, t.queues].map((f) => statSync(f).mode & 0o7777), modes);
});

test('--merge-conf keeps lsf.shared readable by all under a root umask of 077, so users\' lsload still reads it', async () => {
  const t = tree('fresh');
  chmodSync(t.shared, 0o644);
  const old = process.umask(0o077);
  try {
    const r = await install(t, '--merge-conf');
    assert.equal(r.code, 0, r.err);
  } finally {
    process.umask(old);
  }
  assert.equal(statSync(t.shared).mode & 0o7777, 0o644);
});

test('CRLF configuration files stay CRLF through --merge-conf, and --uninstall --merge-conf restores them byte for byte', async () => {
  const t = tree('capture');
  const files = [t.shared, t.cluster, t.queues];
  for (const f of files) writeFileSync(f, readFileSync(f, 'utf8').replace(/\n/g, '\r\n'));
  const originals = files.map((f) => readFileSync(f, 'utf8'));
  const r = await install(t, '--merge-conf');
  assert.equal(r.code, 0, r.err);
  for (const f of files) assert.doesNotMatch(readFileSync(f, 'utf8'), /(^|[^\r])\n/, `${f} has only CRLF lines`);
  assert.match(readFileSync(t.queues, 'utf8'), /^QUEUE_NAME += rank\r$/m);
  assert.equal((await install(t, '--uninstall', '--merge-conf')).code, 0);
  files.forEach((f, i) => assert.equal(readFileSync(f, 'utf8'), originals[i]));
});

test('configuration files saved with a byte order mark keep it through --merge-conf, and --uninstall --merge-conf restores them byte for byte', async () => {
  const t = tree('capture');
  const files = [t.shared, t.cluster, t.queues];
  // A Windows editor's UTF-8 mark before a comment line, which OpenLava's readers skip as a line of its own.
  for (const f of files) writeFileSync(f, `\uFEFF# saved on Windows\n${readFileSync(f, 'utf8')}`);
  const originals = files.map((f) => readFileSync(f));
  assert.equal((await install(t, '--merge-conf')).code, 0);
  for (const f of files) assert.deepEqual([...readFileSync(f).subarray(0, 3)], [0xef, 0xbb, 0xbf], `${f} keeps its mark`);
  assert.equal((await install(t, '--uninstall', '--merge-conf')).code, 0);
  files.forEach((f, i) => assert.deepEqual(readFileSync(f), originals[i]));
});

test('rank in the ResourceMap is taken out, loudly, and elimtrig mapped instead', async () => {
  const t = tree('fresh');
  const original = `${readFileSync(t.cluster, 'utf8')}Begin ResourceMap\nRESOURCENAME  LOCATION\nrank          ([default])\nEnd ResourceMap\n`;
  writeFileSync(t.cluster, original);
  const r = await install(t, '--merge-conf');
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /WARNING: .*lsf\.cluster\.openlava line \d+ maps rank in the ResourceMap\. OpenLava 4\.0 then gives rank the flag 0x40/);
  const cluster = readFileSync(t.cluster, 'utf8');
  assert.doesNotMatch(cluster, /^rank/m);
  assert.match(cluster, /^#lavarank-was: rank +\(\[default\]\)$/m);
  assert.match(cluster, /^elimtrig +\(\[default\]\)$/m);
  assert.equal((cluster.match(/^Begin ResourceMap/gm) ?? []).length, 1);
  assert.equal((await install(t, '--uninstall', '--merge-conf')).code, 0);
  assert.equal(readFileSync(t.cluster, 'utf8'), original);
});

test('a resource named rank of another type is refused before anything is written', async () => {
  const t = tree('fresh');
  writeFileSync(t.shared, readFileSync(t.shared, 'utf8').replace('End Resource', '   rank       Boolean ()       ()          (site flag)\nEnd Resource'));
  const before = snapshot(t.root);
  const r = await install(t, '--merge-conf');
  assert.equal(r.code, 1);
  assert.match(r.err, /lsf\.shared line \d+ declares rank as Boolean, but lavarank needs rank Numeric/);
  assert.deepEqual(snapshot(t.root), before, 'not even the elim was written');
});

test('a site queue named rank is refused, and --no-queue merges the rest', async () => {
  const t = tree('fresh');
  writeFileSync(t.queues, `${readFileSync(t.queues, 'utf8')}\nBegin Queue\nQUEUE_NAME = rank\nEnd Queue\n`);
  const r = await install(t, '--merge-conf');
  assert.equal(r.code, 1);
  assert.match(r.err, /lsb\.queues line \d+ already defines a queue named rank/);
  assert.match(r.err, /--no-queue/);
  const queues = readFileSync(t.queues, 'utf8');
  const ok = await install(t, '--merge-conf', '--no-queue');
  assert.equal(ok.code, 0, ok.err);
  assert.equal(readFileSync(t.queues, 'utf8'), queues);
  assert.match(readFileSync(t.shared, 'utf8'), /^rank /m);
});

test('lsb.queues is found through LSB_CONFDIR in lsf.conf, or given with --queues', async () => {
  const t = tree('fresh');
  const confdir = join(t.root, 'batchconf');
  mkdirSync(join(confdir, 'openlava', 'configdir'), { recursive: true });
  const queues = join(confdir, 'openlava', 'configdir', 'lsb.queues');
  copyFileSync(t.queues, queues);
  writeFileSync(join(t.etc, 'lsf.conf'), `LSF_SERVERDIR=${t.sbin}\nLSB_CONFDIR="${confdir}"\n`);
  const r = await install(t, '--merge-conf');
  assert.equal(r.code, 0, r.err);
  assert.match(readFileSync(queues, 'utf8'), /QUEUE_NAME += rank/);
  assert.doesNotMatch(readFileSync(t.queues, 'utf8'), /QUEUE_NAME += rank/);

  writeFileSync(join(t.etc, 'lsf.conf'), 'LSB_CONFDIR=$LSF_TOP/conf\n');
  const refused = await install(t, '--merge-conf');
  assert.equal(refused.code, 1);
  assert.match(refused.err, /does not expand; pass --queues FILE/);
  assert.equal((await install(t, '--merge-conf', '--queues', t.queues)).code, 0);
  assert.match(readFileSync(t.queues, 'utf8'), /QUEUE_NAME += rank/);
});

// initenv_ (lsf/lib/lib.initenv.c) lets a variable of the environment win over lsf.conf,
// for mbatchd's LSB_CONFDIR as for every setting, and check takes it so; the merge read
// lsf.conf's alone and edited an lsb.queues mbatchd does not read.
test('LSB_CONFDIR in the environment wins over lsf.conf\'s, as mbatchd and check take it', async () => {
  const t = tree('fresh');
  const fromEnv = join(t.root, 'envconf');
  mkdirSync(fromEnv, { mode: 0o755 });
  copyFileSync(t.queues, join(fromEnv, 'lsb.queues'));
  const fromConf = join(t.root, 'confconf');
  mkdirSync(fromConf, { mode: 0o755 });
  copyFileSync(t.queues, join(fromConf, 'lsb.queues'));
  writeFileSync(join(t.etc, 'lsf.conf'), `LSF_SERVERDIR=${t.sbin}\nLSB_CONFDIR=${fromConf}\n`);
  const r = await installWithEnv(t, { LSB_CONFDIR: fromEnv }, '--merge-conf');
  assert.equal(r.code, 0, r.err);
  assert.match(readFileSync(join(fromEnv, 'lsb.queues'), 'utf8'), /QUEUE_NAME += rank/);
  assert.doesNotMatch(readFileSync(join(fromConf, 'lsb.queues'), 'utf8'), /QUEUE_NAME += rank/);
  const refused = await installWithEnv(t, { LSB_CONFDIR: '$LSF_TOP/conf' }, '--merge-conf');
  assert.match(refused.err, /the environment sets LSB_CONFDIR to "\$LSF_TOP\/conf", which lavarank does not expand; pass --queues FILE/);
});

// OpenLava 4.0's mbatchd reads $LSB_CONFDIR/lsb.queues (mbd.init.c); LSF reads
// $LSB_CONFDIR/<cluster>/configdir/lsb.queues. A real 4.0 install has only the first.
test('lsb.queues is found where OpenLava 4.0 reads it, LSB_CONFDIR itself, before the LSF place, and LSF first with --lsf', async () => {
  const t = tree('fresh');
  const confdir = join(t.root, 'olconf');
  mkdirSync(confdir, { mode: 0o755 });
  const flat = join(confdir, 'lsb.queues');
  copyFileSync(t.queues, flat);
  // A comment after the value, as OpenLava's own lsf.conf has them: read as check reads it.
  writeFileSync(join(t.etc, 'lsf.conf'), `LSF_SERVERDIR=${t.sbin}\nLSB_CONFDIR=${confdir}   # batch configuration\n`);
  const r = await install(t, '--merge-conf', '--dry-run');
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, new RegExp(`${flat.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
  mkdirSync(join(confdir, 'openlava', 'configdir'), { recursive: true, mode: 0o755 });
  const perCluster = join(confdir, 'openlava', 'configdir', 'lsb.queues');
  copyFileSync(t.queues, perCluster);
  const ol = await install(t, '--merge-conf');
  assert.equal(ol.code, 0, ol.err);
  assert.match(readFileSync(flat, 'utf8'), /QUEUE_NAME += rank/);
  assert.doesNotMatch(readFileSync(perCluster, 'utf8'), /QUEUE_NAME += rank/);

  rmSync(flat);
  rmSync(perCluster);
  const none = await install(t, '--merge-conf');
  assert.equal(none.code, 1);
  assert.ok(none.err.includes(`no lsb.queues at ${flat} or ${perCluster}; pass --queues FILE`), none.err);
});

// IBM LSF 10.1 keeps lsf.conf in LSF_ENVDIR (/etc/lsf) and lsf.shared, lsf.cluster.<cluster>
// and lsbatch/ in LSF_CONFDIR ($LSF_TOP/conf); LIM reads the two from LSF_CONFDIR (readShared,
// lim.conf.c), whatever directory lsf.conf is in.
test('--merge-conf and --uninstall --merge-conf change lsf.shared and lsf.cluster.<cluster> in the LSF_CONFDIR lsf.conf sets, where LIM reads them', async () => {
  const t = tree('fresh');
  const conf = join(t.root, 'conf');
  mkdirSync(conf, { mode: 0o755 });
  const shared = join(conf, 'lsf.shared');
  const cluster = join(conf, 'lsf.cluster.openlava');
  renameSync(t.shared, shared);
  renameSync(t.cluster, cluster);
  const originals = [shared, cluster].map((f) => readFileSync(f, 'utf8'));
  writeFileSync(join(t.etc, 'lsf.conf'), `LSF_SERVERDIR=${t.sbin}\nLSF_CONFDIR=${conf}\nLSB_CONFDIR=${join(t.etc, 'lsbatch')}\n`);
  const r = await install(t, '--merge-conf');
  assert.equal(r.code, 0, r.err);
  assert.match(readFileSync(shared, 'utf8'), /^rank +Numeric 10 +Y /m);
  assert.match(readFileSync(cluster, 'utf8'), /^elimtrig +\(\[default\]\)$/m);
  assert.deepEqual(readdirSync(t.etc).sort(), ['lsbatch', 'lsf.conf']);
  const u = await install(t, '--uninstall', '--merge-conf');
  assert.equal(u.code, 0, u.err);
  assert.deepEqual([shared, cluster].map((f) => readFileSync(f, 'utf8')), originals);
});

test('--merge-conf with an lsf.conf that sets no LSF_CONFDIR merges beside it and says once why, and says nothing of it where LSF_CONFDIR is set', async () => {
  const t = tree('fresh');
  writeFileSync(join(t.etc, 'lsf.conf'), `LSF_SERVERDIR=${t.sbin}\n`);
  const r = await install(t, '--merge-conf');
  assert.equal(r.code, 0, r.err);
  assert.match(readFileSync(t.shared, 'utf8'), /^rank +Numeric 10 +Y /m);
  assert.equal(r.out.match(/note: LSF_CONFDIR is set neither in the environment nor in lsf\.conf/g)?.length, 1, r.out);
  const u = await install(t, '--uninstall', '--merge-conf');
  assert.equal(u.code, 0, u.err);
  writeFileSync(join(t.etc, 'lsf.conf'), `LSF_SERVERDIR=${t.sbin}\nLSF_CONFDIR=${t.etc}\n`);
  const set = await install(t, '--merge-conf');
  assert.equal(set.code, 0, set.err);
  assert.doesNotMatch(set.out, /note: (LSF_CONFDIR|undefined)/);
});

test('--merge-conf refuses an LSF_CONFDIR that is not an absolute path, which it would not expand, and changes nothing', async () => {
  const t = tree('fresh');
  writeFileSync(join(t.etc, 'lsf.conf'), `LSF_SERVERDIR=${t.sbin}\nLSF_CONFDIR=$LSF_TOP/conf\n`);
  const before = snapshot(t.root);
  const r = await install(t, '--merge-conf');
  assert.equal(r.code, 1);
  assert.match(r.err, /LSF_CONFDIR "\$LSF_TOP\/conf" \(lsf\.conf:2\) is not an absolute path, and nothing in it is expanded.*set it to the directory of lsf\.shared\nNothing was changed\./s);
  assert.deepEqual(snapshot(t.root), before);
});

test('under --lsf, the cluster name comes from lsf.shared, or --cluster when it lists several whose files are there', async () => {
  const t = tree('fresh');
  writeFileSync(t.shared, readFileSync(t.shared, 'utf8').replace('openlava\nEnd Cluster', 'openlava\nother\nEnd Cluster'));
  writeFileSync(join(t.etc, 'lsf.cluster.other'), 'Begin ClusterAdmins\nAdministrators = root\nEnd ClusterAdmins\n');
  const r = await install(t, '--lsf', '--merge-conf', '--no-queue');
  assert.equal(r.code, 1);
  assert.match(r.err, /cannot tell which cluster .* lists openlava, other.*pass --cluster NAME/s);
  const ok = await install(t, '--lsf', '--merge-conf', '--no-queue', '--cluster', 'openlava');
  assert.equal(ok.code, 0, ok.err);
  assert.match(readFileSync(t.cluster, 'utf8'), /^elimtrig/m);
});

// doclist and addCluster (lsf/lim/lim.conf.c): OpenLava 4.0's LIM takes the first
// cluster of lsf.shared's Cluster section and logs "Ignoring cluster" for the others;
// "lim -C" with first and openlava listed, only lsf.cluster.openlava there, stopped with
// "cannot open .../lsf.cluster.first". The merge edited lsf.cluster.openlava.
test("when lsf.shared lists several clusters, the merge takes the first, which OpenLava's LIM takes, and says the others are ignored", async () => {
  const t = tree('fresh');
  writeFileSync(t.shared, readFileSync(t.shared, 'utf8').replace('openlava\nEnd Cluster', 'first\nopenlava\nEnd Cluster'));
  const before = readFileSync(t.cluster, 'utf8');
  const r = await install(t, '--merge-conf');
  assert.equal(r.code, 1);
  assert.match(r.err, /lsf\.cluster\.first does not exist; LIM reads that file for cluster first/);
  assert.equal(readFileSync(t.cluster, 'utf8'), before);
  writeFileSync(t.shared, readFileSync(t.shared, 'utf8').replace('first\nopenlava\nEnd Cluster', 'openlava\nother\nEnd Cluster'));
  writeFileSync(join(t.etc, 'lsf.cluster.other'), 'Begin ClusterAdmins\nAdministrators = root\nEnd ClusterAdmins\n');
  const ok = await install(t, '--merge-conf');
  assert.equal(ok.code, 0, ok.err);
  assert.match(ok.out, /note: lsf\.shared lists 2 clusters \(openlava, other\): OpenLava's LIM takes the first, openlava, and ignores other/);
  assert.match(readFileSync(t.cluster, 'utf8'), /^elimtrig/m);
});

test('a Node binary that does not exist is named as missing, not as a permission problem', async () => {
  const t = tree('fresh');
  const r = await install(t, '--node', join(t.root, 'nonexistent', 'node'));
  assert.equal(r.code, 1);
  assert.match(r.err, /the Node binary .*nonexistent\/node does not exist \(--node\)/);
  assert.equal(existsSync(t.elim), false);
});

test('a Node older than 20 is refused', async () => {
  const t = tree('fresh');
  const old = join(t.root, 'node18');
  writeFileSync(old, '#!/bin/sh\necho v18.19.0\n', { mode: 0o755 });
  const r = await install(t, '--node', old);
  assert.equal(r.code, 1);
  assert.match(r.err, /node18 is Node v18\.19\.0; lavarank needs Node 20\.5 or later/);
  assert.equal(existsSync(t.elim), false);
});

test('a Node 20 older than 20.5, which cannot load execa (the GPU queries, check, this installer), is refused', async () => {
  const t = tree('fresh');
  const old = join(t.root, 'node20.4');
  writeFileSync(old, '#!/bin/sh\necho v20.4.0\n', { mode: 0o755 });
  const r = await install(t, '--node', old);
  assert.equal(r.code, 1);
  assert.match(r.err, /node20\.4 is Node v20\.4\.0; lavarank needs Node 20\.5 or later/);
  assert.equal(existsSync(t.elim), false);
});

test('files and directories others could change are refused, naming the fix', async () => {
  const t = tree('fresh');
  chmodSync(t.sbin, 0o777);
  const r = await install(t);
  assert.equal(r.code, 1);
  assert.match(r.err, /LSF_SERVERDIR .*sbin has mode 0777.*chmod go-w/);
  chmodSync(t.sbin, 0o755);
  chmodSync(t.program, 0o666);
  const p = await install(t);
  assert.equal(p.code, 1);
  assert.match(p.err, /lavarank program .*cli\.js has mode 0666/);
});

test('a program whose package holds a module others could change is refused, naming the module and the fix', async () => {
  const t = tree('fresh');
  // The stand-in program as the root of a package: its node_modules are imported by it, as root.
  writeFileSync(join(t.root, 'package.json'), '{"name":"lavarank"}\n', { mode: 0o644 });
  mkdirSync(join(t.root, 'node_modules', 'pino'), { recursive: true, mode: 0o755 });
  const module = join(t.root, 'node_modules', 'pino', 'pino.js');
  writeFileSync(module, '', { mode: 0o644 });
  chmodSync(module, 0o664);
  const r = await install(t);
  assert.equal(r.code, 1);
  assert.match(r.err, new RegExp(`lavarank installation ${module.replace(/[.]/g, '\\.')} has mode 0664, writable by group or others; run: chmod -R go-w ${t.root}`));
  assert.equal(existsSync(t.elim), false);
  chmodSync(module, 0o644);
  assert.equal((await install(t)).code, 0);
});

test('--merge-conf refuses configuration files others could change, or a link in a directory they can write, before writing anything', async () => {
  const t = tree('fresh');
  chmodSync(t.queues, 0o666);
  const before = snapshot(t.root);
  const r = await install(t, '--merge-conf');
  assert.equal(r.code, 1);
  assert.match(r.err, /configuration file .*lsb\.queues has mode 0666/);
  assert.match(r.err, /merge .*openlava-conf\/? by hand/);
  assert.deepEqual(snapshot(t.root), before);

  // Whoever can write configdir swaps lsb.queues for a link to a file root owns elsewhere.
  chmodSync(t.queues, 0o644);
  const configdir = join(t.queues, '..');
  chmodSync(configdir, 0o777);
  const victim = join(t.root, 'victim.conf');
  writeFileSync(victim, 'untouched\n', { mode: 0o600 });
  rmSync(t.queues);
  symlinkSync(victim, t.queues);
  const l = await install(t, '--merge-conf');
  assert.equal(l.code, 1);
  assert.match(l.err, /configdir above configuration file .*lsb\.queues has mode 0777/);
  assert.equal(readFileSync(victim, 'utf8'), 'untouched\n');
  assert.deepEqual(readdirSync(t.root).filter((f) => f.startsWith('victim')), ['victim.conf'], 'no backup of it either');
});

test('--merge-conf refuses a configuration file that is not UTF-8 text, naming its line, and changes nothing', async () => {
  const t = tree('fresh');
  writeFileSync(t.shared, Buffer.concat([readFileSync(t.shared), Buffer.from([0x23, 0x20, 0xe9, 0x74, 0xe9, 0x0a])])); // "# été" in Latin-1
  const before = snapshot(t.root);
  const r = await install(t, '--merge-conf');
  assert.equal(r.code, 1);
  assert.match(r.err, /lsf\.shared:\d+: not UTF-8 text/);
  assert.deepEqual(snapshot(t.root), before);
  // U+FFFD written as UTF-8 is text like any other.
  const ascii = readFileSync(t.shared, 'latin1').replace(/# \xe9t\xe9\n$/, '');
  writeFileSync(t.shared, `${ascii}# note: \uFFFD placeholder\n`, 'utf8');
  assert.equal((await install(t, '--merge-conf', '--dry-run')).code, 0);
});

test('--merge-conf refuses a configuration file holding a NUL byte, naming its line, and changes nothing', async () => {
  const t = tree('fresh');
  writeFileSync(t.cluster, Buffer.concat([readFileSync(t.cluster), Buffer.from('# x\0y\n')]));
  const before = snapshot(t.root);
  const r = await install(t, '--merge-conf');
  assert.equal(r.code, 1);
  assert.match(r.err, /lsf\.cluster\.openlava:\d+: not UTF-8 text/);
  assert.deepEqual(snapshot(t.root), before);
});

test('--merge-conf writes through a configuration file that is a link to a root-only place, keeping the link, and backs up the file it names', async () => {
  const t = tree('fresh');
  const shared = join(t.root, 'shared');
  mkdirSync(shared, { mode: 0o755 });
  const real = join(shared, 'lsf.shared');
  copyFileSync(t.shared, real);
  const original = readFileSync(real, 'utf8');
  rmSync(t.shared);
  symlinkSync(real, t.shared);
  const r = await install(t, '--merge-conf');
  assert.equal(r.code, 0, r.err);
  assert.ok(lstatSync(t.shared).isSymbolicLink(), 'lsf.shared is still the link');
  assert.match(readFileSync(real, 'utf8'), /^rank\s/m);
  assert.equal(readFileSync(`${real}.lavarank-${STAMP}`, 'utf8'), original);
});

test('missing settings and files are named in the error', async () => {
  const io: InstallIO = { out: () => {}, err: (s) => errors.push(s), env: {}, now: () => NOW, uid };
  const errors: string[] = [];
  assert.equal(await runInstall([], io), 1);
  assert.match(errors.join('\n'), /LSF_SERVERDIR is not set; .* pass --serverdir DIR/);
  const t = tree('fresh');
  // Not through install(), whose --program would be given twice.
  errors.length = 0;
  assert.equal(await runInstall(['--serverdir', t.sbin, '--program', join(t.root, 'missing.js')], io), 1);
  assert.match(errors.join('\n'), /missing\.js does not exist; build lavarank first/);
  rmSync(t.shared);
  const s = await install(t, '--merge-conf');
  assert.match(s.err, /cannot read lsf\.shared .*lsf\.shared: ENOENT/);
});

test('LSF_SERVERDIR and LSF_ENVDIR are taken from the environment', async () => {
  const t = tree('fresh');
  const io: InstallIO = { out: () => {}, err: () => {}, env: { LSF_SERVERDIR: t.sbin, LSF_ENVDIR: t.etc }, now: () => NOW, uid };
  assert.equal(await runInstall(['--program', t.program, '--merge-conf'], io), 0);
  assert.ok(existsSync(t.elim));
  assert.match(readFileSync(t.shared, 'utf8'), /^rank /m);
});

test('an unknown option, or options that do nothing together, are usage errors', async () => {
  const t = tree('fresh');
  const r = await install(t, '--frobnicate');
  assert.equal(r.code, 2);
  assert.match(r.err, /Unknown option '--frobnicate'/);
  assert.match(r.err, /Usage: lavarank install/);
  const lone = await install(t, '--no-queue', '--envdir', t.etc);
  assert.equal(lone.code, 2);
  assert.match(lone.err, /--envdir, --no-queue only matter with --merge-conf/);
  assert.equal((await install(t, '--uninstall', '--force')).code, 2);
  assert.equal(existsSync(t.elim), false);
});

test('scripts/install-elim runs the built installer', () => {
  const t = tree('fresh');
  const script = join(REPO, 'scripts', 'install-elim');
  assert.ok((statSync(script).mode & 0o111) !== 0, 'scripts/install-elim is executable');
  const r = spawnSync(script, ['--serverdir', t.sbin, '--program', t.program, '--dry-run'], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /would: write .*sbin\/elim/);
  assert.equal(existsSync(t.elim), false);
});

test('--uninstall puts back the newest saved elim, when several were saved', async () => {
  const t = tree('fresh');
  await install(t);
  const backups = join(t.sbin, BACKUP_DIR);
  mkdirSync(backups, { mode: 0o700 });
  writeFileSync(join(backups, 'elim.20261101-000000'), '#!/bin/sh\n# oldest\n', { mode: 0o755 });
  writeFileSync(join(backups, 'elim.20261120-000000'), '#!/bin/sh\n# older\n', { mode: 0o755 });
  writeFileSync(join(backups, 'elim.20261120-000000-2'), FOREIGN, { mode: 0o755 });
  const u = await install(t, '--uninstall');
  assert.equal(u.code, 0, u.err);
  assert.equal(readFileSync(t.elim, 'utf8'), FOREIGN);
  assert.deepEqual(readdirSync(backups).sort(), ['elim.20261101-000000', 'elim.20261120-000000']);
});

// freshPath numbers a second's backups -2, -3 ... -10: sorted as text, -10 came before -2
// and the uninstall put back the ninth of ten (review75); backupsOf's order is the stamp's, then the number's.
test('--uninstall puts back the newest saved elim of ten saved in the same second', async () => {
  const t = tree('fresh');
  await install(t);
  const backups = join(t.sbin, BACKUP_DIR);
  mkdirSync(backups, { mode: 0o700 });
  writeFileSync(join(backups, 'elim.20261120-000000'), '#!/bin/sh\n# first\n', { mode: 0o755 });
  for (let n = 2; n < 10; n++) writeFileSync(join(backups, `elim.20261120-000000-${n}`), `#!/bin/sh\n# ${n}\n`, { mode: 0o755 });
  writeFileSync(join(backups, 'elim.20261120-000000-10'), FOREIGN, { mode: 0o755 });
  const u = await install(t, '--uninstall');
  assert.equal(u.code, 0, u.err);
  assert.equal(readFileSync(t.elim, 'utf8'), FOREIGN);
  assert.equal(existsSync(join(backups, 'elim.20261120-000000-10')), false);
});

test('--uninstall puts the saved elim back when the wrapper is already gone', async () => {
  const t = tree('fresh');
  plantForeignElim(t);
  assert.equal((await install(t, '--force')).code, 0);
  rmSync(t.elim);
  const u = await install(t, '--uninstall');
  assert.equal(u.code, 0, u.err);
  assert.equal(readFileSync(t.elim, 'utf8'), FOREIGN);
  assert.equal(existsSync(join(t.sbin, BACKUP_DIR)), false);
});

test('reinstalling the identical wrapper with another mode sets it back to 0755', async () => {
  const t = tree('fresh');
  await install(t);
  for (const mode of [0o700, 0o775]) {
    chmodSync(t.elim, mode);
    const r = await install(t);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /done: set .* to mode 0755/);
    assert.equal(statSync(t.elim).mode & 0o7777, 0o755);
  }
});

test('with --lsf, lsb.queues under LSB_CONFDIR/<cluster>/configdir is merged before a flat one in LSB_CONFDIR', async () => {
  const t = tree('fresh');
  const confdir = join(t.root, 'lsfconf');
  const perClusterDir = join(confdir, 'openlava', 'configdir');
  mkdirSync(perClusterDir, { recursive: true, mode: 0o755 });
  const flat = join(confdir, 'lsb.queues');
  const perCluster = join(perClusterDir, 'lsb.queues');
  copyFileSync(t.queues, flat);
  copyFileSync(t.queues, perCluster);
  writeFileSync(join(t.etc, 'lsf.conf'), `LSF_SERVERDIR=${t.sbin}\nLSB_CONFDIR=${confdir}\n`);
  const r = await install(t, '--lsf', '--merge-conf');
  assert.equal(r.code, 0, r.err);
  assert.match(readFileSync(perCluster, 'utf8'), /QUEUE_NAME += rank/);
  assert.equal(readFileSync(flat, 'utf8'), readFileSync(t.queues, 'utf8'));
});

test('when lsf.shared lists several clusters and only one has its lsf.cluster file, that one is configured', async () => {
  const t = tree('fresh');
  writeFileSync(t.shared, readFileSync(t.shared, 'utf8').replace('openlava\nEnd Cluster', 'openlava\nother\nEnd Cluster'));
  const r = await install(t, '--merge-conf');
  assert.equal(r.code, 0, r.err);
  assert.match(readFileSync(t.cluster, 'utf8'), /^elimtrig/m);
});

test('when lsf.shared lists several clusters, one named with dots whose lsf.cluster file alone is there is configured', async () => {
  const t = tree('fresh');
  writeFileSync(t.shared, readFileSync(t.shared, 'utf8').replace('openlava\nEnd Cluster', 'hpc.prod-1\nother\nEnd Cluster'));
  const cluster = join(t.etc, 'lsf.cluster.hpc.prod-1');
  renameSync(t.cluster, cluster);
  const r = await install(t, '--merge-conf', '--no-queue');
  assert.equal(r.code, 0, r.err);
  assert.match(readFileSync(cluster, 'utf8'), /^elimtrig/m);
});

test('a configuration file refused for a NUL or a non-UTF-8 byte is named with the line that holds it', async () => {
  const t = tree('fresh');
  const lines = readFileSync(t.cluster, 'utf8').split('\n').length; // the appended line is this one
  writeFileSync(t.cluster, Buffer.concat([readFileSync(t.cluster), Buffer.from('# x\0y\n')]));
  assert.match((await install(t, '--merge-conf')).err, new RegExp(`lsf\\.cluster\\.openlava:${lines}: not UTF-8 text`));
  const u = tree('fresh');
  const sharedLines = readFileSync(u.shared, 'utf8').split('\n').length;
  writeFileSync(u.shared, Buffer.concat([readFileSync(u.shared), Buffer.from([0x23, 0x20, 0xe9, 0x0a])]));
  assert.match((await install(u, '--merge-conf')).err, new RegExp(`lsf\\.shared:${sharedLines}: not UTF-8 text`));
});

test('backupSuffix reads back the stamp that stamp() puts in a backup\'s name, and freshPath\'s number after it', () => {
  const when = stamp(new Date('2026-12-07T08:15:30.123Z'));
  assert.equal(when, '20261207-081530');
  assert.deepEqual(backupSuffix(when), { stamp: when, n: 1 });
  assert.deepEqual(backupSuffix(`${when}-12`), { stamp: when, n: 12 });
  for (const other of ['', 'x', '20261207-0815', `${when}-`, `${when}.bak`, `x${when}`]) assert.equal(backupSuffix(other), undefined, other);
});

// lsf.conf says where the files the merge rewrites are (LSF_CONFDIR, LSB_CONFDIR): one in
// a directory of oltest's, naming root's real configuration directory, had root's merge
// rewrite the files there, which passed their own check (2026-12-07, hostile23).
test("--merge-conf refuses an lsf.conf another user can change, before it follows LSF_CONFDIR", { skip: uid !== 0 && 'needs root to give files to another user' }, async () => {
  const t = tree('fresh');
  const theirs = join(t.root, 'theirs');
  mkdirSync(theirs, { mode: 0o755 });
  writeFileSync(join(theirs, 'lsf.conf'), `LSF_CONFDIR=${t.etc}\nLSB_CONFDIR=${join(t.etc, 'lsbatch')}\n`);
  chownSync(theirs, 1003, 1003);
  chownSync(join(theirs, 'lsf.conf'), 1003, 1003);
  const before = snapshot(t.etc);
  const out: string[] = [];
  const err: string[] = [];
  const io: InstallIO = { out: (s) => out.push(s), err: (s) => err.push(s), env: {}, now: () => NOW, uid };
  const code = await runInstall(['--serverdir', t.sbin, '--program', t.program, '--merge-conf', '--envdir', theirs], io);
  assert.notEqual(code, 0, out.join('\n'));
  assert.match(err.join('\n'), new RegExp(`lsf\\.conf ${theirs}/lsf\\.conf.*owned by uid 1003`));
  assert.deepEqual(snapshot(t.etc), before);
});

// The two refusals of what --merge-conf reads were written apart, and lsf.conf's left out
// "(or by you, uid N)", which its trust check accepts as the cluster files' does (review77).
test('--merge-conf refuses an lsf.conf others can write in the words it refuses the files it names in, and changes nothing', async () => {
  const t = tree('fresh');
  const conf = join(t.etc, 'lsf.conf');
  writeFileSync(conf, `LSF_CONFDIR=${t.etc}\n`, { mode: 0o666 });
  chmodSync(conf, 0o666);
  const before = snapshot(t.root);
  const byConf = await install(t, '--merge-conf');
  assert.equal(byConf.code, 1);
  assert.match(byConf.err, /lsf\.conf .*lsf\.conf has mode 0666/);
  assert.deepEqual(snapshot(t.root), before);
  chmodSync(conf, 0o644);
  chmodSync(t.queues, 0o666);
  const byQueues = await install(t, '--merge-conf');
  assert.equal(byQueues.code, 1);
  assert.match(byQueues.err, /configuration file .*lsb\.queues has mode 0666/);
  // The same words around each one's problem lines.
  const words = (text: string): string[] => text.split('\n').filter((line) => !line.startsWith('  - '));
  assert.deepEqual(words(byConf.err), words(byQueues.err));
  assert.match(byConf.err, uid === 0 ? /changeable by root only:/ : new RegExp(`changeable by root only \\(or by you, uid ${uid}\\):`));
  assert.match(byConf.err, /pass --envdir the directory of root's lsf\.conf/);
});
