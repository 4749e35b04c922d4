// `npm run bundle`: an offline release tarball, as node_exporter ships them, for
// clusters without registry access. `npm pack` first builds the npm tarball
// (prepack compiles dist/); this script turns that very tarball into
// lavarank-<version>/ with the production node_modules (from package-lock.json),
// bin/lavarank and a short INSTALL, so both hold the same files. Nothing is
// built or downloaded where it is unpacked; only Node.js 20.5 or later is needed.
//
//   npm run bundle [-- --out DIR]     # lavarank-<version>.tgz here, DIR/lavarank-<version>-bundle.tar.gz
//   node dist/scripts/bundle.js --from lavarank-<version>.tgz [--out DIR]
//
// The archive's files are owned by uid 0, readable by all and not writable by group
// or others, so root unpacks a tree lavarank's trust checks accept (LIM runs it as root).
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { print, printError } from '../src/util/cliio.js';
import { errorMessage } from '../src/util/errors.js';
import { findExecutable, runCommand } from '../src/util/exec.js';
import { existingDirectoryProblems } from '../src/util/trust.js';

// The repository root (this file runs as dist/scripts/bundle.js).
const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

// The INSTALL file of a bundle.
export function installText(version: string): string {
  const dir = `lavarank-${version}`;
  return `lavarank ${version}: offline release bundle

Needs Node.js 20.5 or later on every host that runs LIM, at the same path, and
root (with Node 20.5 to 20.9, run bin/lavarank install where this says
scripts/install-elim: those refuse to run a file without an extension here).
Nothing is built or downloaded here: node_modules holds the production
dependencies. As root:

  tar -xzf ${dir}-bundle.tar.gz -C /opt     # files owned by root, not writable by others
  . /opt/openlava/etc/openlava.sh        # your OpenLava's: sets LSF_ENVDIR and LSF_SERVERDIR
  /opt/${dir}/bin/lavarank --version
  /opt/${dir}/bin/lavarank check --lsf-envdir $LSF_ENVDIR   # what is in place already
  /opt/${dir}/scripts/install-elim --merge-conf --default-queue --dry-run   # look first: every file, every diff
  /opt/${dir}/scripts/install-elim --merge-conf --default-queue             # on the master host
  /opt/${dir}/scripts/install-elim                          # on every other host
  lsadmin reconfig && badmin mbdrestart                     # each asks: answer y
  /opt/${dir}/bin/lavarank check                            # about 30 s later; lsload -l shows a rank

--default-queue gives the default queue the rank queue's reservation, so that
bsub -R "order[rank]" without -q spreads a burst instead of herding it; that
queue's jobs then go only to hosts that report a rank: leave it out if some
hosts will not run lavarank. The installed $LSF_SERVERDIR/elim runs
/opt/${dir}/dist/src/cli.js with the Node that ran the installer (--node PATH
for another). To upgrade, unpack the new release beside this directory, never
over it (a bundle of the same version unpacks into ${dir} too: mkdir
/opt/lavarank-<release> && tar -xzf ${dir}-bundle.tar.gz -C /opt/lavarank-<release>),
run its scripts/install-elim as above, then lsadmin reconfig && badmin
mbdrestart (mbatchd reads the merged files only then); remove this directory
only once no elim runs from it (README.md, "Upgrading"). To remove lavarank,
empty the rank queue first (badmin qclose rank: mbdrestart moves its jobs to
lost_and_found), then install-elim --uninstall --merge-conf on the master host,
install-elim --uninstall on the others, lsadmin reconfig && badmin mbdrestart.
Everything else: docs/install.md.
`;
}

async function run(file: string, args: string[], cwd: string): Promise<void> {
  const result = await runCommand(file, args, { timeoutMs: 600_000, cwd });
  if (result.failed) throw new Error(`${file} ${args.join(' ')} failed: ${result.reason ?? ''}\n${result.stderr}`);
}

// Turns the npm tarball packed (from the repository at root) into the bundle in outDir,
// staged below scratch ($TMPDIR); returns its path.
export async function buildBundle(packed: string, root: string, outDir: string, scratch: string = tmpdir()): Promise<string> {
  const npm = findExecutable('npm');
  const tar = findExecutable('tar');
  if (npm === undefined || tar === undefined) throw new Error(`needs npm and tar on PATH (npm: ${npm ?? 'missing'}, tar: ${tar ?? 'missing'})`);
  // The staging tree is filled, chmod'ed and archived by path: whoever else could write
  // scratch could swap it for theirs, and the bundle, which root installs on every
  // host, would ship their dist/src/cli.js (and the chmod of a link of theirs there
  // made a root-only file 0755). A sticky directory such as /tmp keeps our entry ours.
  const problems = existingDirectoryProblems(scratch, 'temporary directory');
  if (problems.length > 0) throw new Error(`the bundle would be staged below ${scratch}, which others could redirect: ${problems.join('; ')}; set TMPDIR to a directory only you can change, or a sticky one such as /tmp`);
  const staging = mkdtempSync(join(scratch, 'lavarank-bundle-'));
  try {
    await run(tar, ['--extract', '--gzip', '--file', resolve(packed), '--directory', staging], staging);
    const version = (JSON.parse(readFileSync(join(staging, 'package', 'package.json'), 'utf8')) as { version: string }).version;
    const name = `lavarank-${version}`;
    const dir = join(staging, name);
    renameSync(join(staging, 'package'), dir);
    // npm never packs the lock file; the bundle installs exactly its versions.
    copyFileSync(join(root, 'package-lock.json'), join(dir, 'package-lock.json'));
    await run(npm, ['ci', '--omit=dev', '--ignore-scripts', '--no-audit', '--no-fund', '--prefer-offline'], dir);
    mkdirSync(join(dir, 'bin'));
    symlinkSync('../dist/src/cli.js', join(dir, 'bin', 'lavarank'));
    for (const exe of ['dist/src/cli.js', 'scripts/install-elim', 'scripts/retrain', 'scripts/calibrate']) chmodSync(join(dir, exe), 0o755);
    writeFileSync(join(dir, 'INSTALL'), installText(version));
    const out = join(resolve(outDir), `${name}-bundle.tar.gz`);
    // Modes as npm pack writes them, whatever the umask here: npm ci and tar make their
    // files and directories by it, so umask 077 made a tree that root on an NFS client
    // (root_squash: nobody there) could not read.
    await run(tar, ['--create', '--gzip', '--file', out, '--owner=0', '--group=0', '--numeric-owner', '--mode=go-w,a+rX', '--sort=name', '--directory', staging, name], staging);
    return out;
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
}

async function main(argv: string[]): Promise<number> {
  const { values } = parseArgs({ args: argv, options: { from: { type: 'string' }, out: { type: 'string' } }, strict: true });
  const version = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
  try {
    print(`wrote ${await buildBundle(values.from ?? `lavarank-${version}.tgz`, ROOT, values.out ?? '.')}`);
    return 0;
  } catch (err) {
    printError(`bundle: ${errorMessage(err)}`);
    return 1;
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  process.exitCode = await main(process.argv.slice(2));
}
