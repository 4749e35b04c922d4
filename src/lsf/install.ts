// `lavarank install` (and scripts/install-elim): writes the wrapper LIM runs as
// $LSF_SERVERDIR/elim (elim.rank under LSF), merges openlava-conf/ into the
// cluster's files with --merge-conf, and undoes both with --uninstall.
//
// Every check runs before anything is changed, so a refusal leaves the host as
// it was, and --dry-run prints exactly what a real run would do. The wrapper and
// everything it runs are checked with checkTrustAsync, and the installed package the
// program imports from with treeProblemsAsync: LIM runs them as root. What it reads and
// looks at before any change (the trust walks, the elim there now, lsf.conf, the
// cluster's files, LSF_CONFDIR's names) is asked in libuv's pool: a user's FUSE mount
// there whose server answers only the pool held a synchronous look past Ctrl-C.
//
// Decisions:
// - A foreign elim is replaced only with --force, and is then moved to
//   $LSF_SERVERDIR/.lavarank-backup/<name>.<UTC stamp>. LSF's MELIM runs every
//   elim.* in LSF_SERVERDIR itself, never in a subdirectory, so a backup there
//   is never started. --uninstall moves the newest one back. Every install keeps
//   there the oldest (the site's elim before lavarank) and the newest KEPT_BACKUPS.
// - Configuration lines lavarank must change are changed, loudly, not refused:
//   rank declared INCREASING N sends jobs to the busiest host, and rank in the
//   ResourceMap makes order[rank] sort by free slots (OpenLava 4.0). The old line
//   stays in the file as a comment that --uninstall --merge-conf puts back. A
//   same-named resource of another TYPE, or a site queue named "rank", is
//   refused: it is the site's own, not a mistake about lavarank.
// - --uninstall --merge-conf removes lavarank's marked blocks rather than
//   restoring the backups, so edits made since the merge survive. Each changed
//   file is backed up next to itself first, as <file>.lavarank-<UTC stamp>; of
//   those the oldest and the newest KEPT_BACKUPS are kept, by every merge, one
//   that changes nothing included.
import {
  chmodSync,
  chownSync,
  closeSync,
  constants,
  copyFileSync,
  fchmodSync,
  fchownSync,
  fsyncSync,
  linkSync,
  openSync,
  readdirSync,
  renameSync,
  rmdirSync,
  statSync,
  unlinkSync,
  writeFileSync,
  mkdirSync,
  type Stats,
} from 'node:fs';
import { access, lstat, readdir, readFile, realpath } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { UnsyncedRename, randomHex, syncDirectory } from '../util/atomic-file.js';
import { errorCode, errorMessage, errorReason } from '../util/errors.js';
import { parseCommandLine } from '../util/options.js';
import { runCommand } from '../util/exec.js';
import { clusterNames, hasDefaultQueueReservation, lineInFile, mbatchdDefaultQueues, mergeDefaultQueueReservation, mergeQueues, mergeResourceMap, mergeResources, rankQueueRusage, removeBlocks, unifiedDiff, type MergeResult } from './conf.js';
import { isPlainPath, lsfConfdir, lsfSetting, MAX_CONF_BYTES, readLsfConf, type Located } from './lsf-conf.js';
import { DAEMON_NODE_FLAGS } from '../util/node-flags.js';
import { checkTrustAsync, installationProblemsAsync } from '../util/trust.js';
import { existsAsync, isDirectoryAsync, isPresentAsync, readRegularBytesAsync } from '../util/paths.js';
import { LIM_PID_ENV, WRAPPER_MARK } from './wrapper.js';

const PACKAGE_ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const DEFAULT_PROGRAM = join(PACKAGE_ROOT, 'dist', 'src', 'cli.js');
const SNIPPET_DIR = join(PACKAGE_ROOT, 'openlava-conf');

export { WRAPPER_MARK } from './wrapper.js';
// Where a replaced elim is kept, inside LSF_SERVERDIR.
export const BACKUP_DIR = '.lavarank-backup';
// The oldest Node the elim and the installer run on: execa 9, which this installer
// and calibration load, imports events.addAbortListener (20.5).
export const MIN_NODE = { major: 20, minor: 5 };
const MIN_NODE_TEXT = `${MIN_NODE.major}.${MIN_NODE.minor}`;
// Larger than any wrapper lavarank writes; a bigger file is someone else's elim.
const MAX_WRAPPER_BYTES = 64 * 1024;
// The resource whose sort direction and ResourceMap entry the merge enforces.
const RANK = 'rank';

const USAGE = `Usage: lavarank install [options]     (also: scripts/install-elim [options])

Installs the elim wrapper LIM runs, as root, on this host.

  --serverdir DIR   where LIM looks for the elim (default $LSF_SERVERDIR)
  --lsf             IBM Spectrum LSF: install as elim.rank (MELIM runs every elim.*)
  --node PATH       the Node.js (>= ${MIN_NODE_TEXT}) the wrapper runs (default: the one running this)
  --program PATH    lavarank's built CLI (default: dist/src/cli.js of this installation)
  --force           replace an elim that is not lavarank's, keeping it in ${BACKUP_DIR}/
  --merge-conf      also merge openlava-conf/ into lsf.shared, lsf.cluster.<cluster>, lsb.queues
  --envdir DIR      where lsf.conf is (default $LSF_ENVDIR); lsf.shared and
                    lsf.cluster.<cluster> are in the LSF_CONFDIR it sets
  --cluster NAME    the cluster name (default: the first lsf.shared lists, which OpenLava's LIM takes)
  --queues FILE     lsb.queues (default $LSB_CONFDIR/lsb.queues, as OpenLava reads it,
                    else $LSB_CONFDIR/<cluster>/configdir/lsb.queues, as LSF does)
  --no-queue        leave lsb.queues alone
  --default-queue   also give the default queue (lsb.params DEFAULT_QUEUE, else the queue
                    named default), if it has no
                    RES_REQ, the rank queue's reservation, so that bsub -R "order[rank]"
                    without -q spreads bursts; its jobs then go only to hosts that report a
                    rank. Kept by later merges; --no-default-queue takes it out
  --uninstall       remove the wrapper and put back the saved elim; with --merge-conf,
                    take lavarank's blocks out of the configuration files
  --dry-run         show every file, diff and command without changing anything
  -h, --help        this text`;

const OPTIONS = {
  serverdir: { type: 'string' },
  lsf: { type: 'boolean' },
  node: { type: 'string' },
  program: { type: 'string' },
  force: { type: 'boolean' },
  'merge-conf': { type: 'boolean' },
  envdir: { type: 'string' },
  cluster: { type: 'string' },
  queues: { type: 'string' },
  'no-queue': { type: 'boolean' },
  'default-queue': { type: 'boolean' },
  'no-default-queue': { type: 'boolean' },
  uninstall: { type: 'boolean' },
  'dry-run': { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

type Options = ReturnType<typeof parseCommandLine<typeof OPTIONS>>;

// Output and surroundings of one run, so tests can pass a sink, an environment and a time.
export interface InstallIO {
  out(text: string): void;
  err(text: string): void;
  env: NodeJS.ProcessEnv;
  now(): Date;
  uid: number; // effective uid; only root can give files to root
  access?: (dir: string) => void | Promise<void>; // throws (or rejects) when we cannot write in dir; default access(2) for W_OK in libuv's pool
}

// A refusal or failure the administrator must act on; the message says what and where.
class InstallError extends Error {
  override name = 'InstallError';
}

interface Step {
  say: string; // what it does; printed after "would:" or "done:"
  run?: () => void; // absent for information lines
}

// The installer with its surroundings as parameters: 0 done, 1 refused or failed, 2 usage error.
export async function runInstall(argv: string[], io: InstallIO): Promise<number> {
  let opts: Options;
  try {
    opts = parseCommandLine(argv, OPTIONS);
  } catch (err) {
    io.err(`lavarank install: ${errorMessage(err)}\n\n${USAGE}`);
    return 2;
  }
  if (opts.help === true) {
    io.out(USAGE);
    return 0;
  }
  const confOnly = (['envdir', 'cluster', 'queues', 'no-queue', 'default-queue', 'no-default-queue'] as const).filter((o) => opts[o] !== undefined);
  if (confOnly.length > 0 && opts['merge-conf'] !== true) {
    io.err(`lavarank install: --${confOnly.join(', --')} only matter${confOnly.length === 1 ? 's' : ''} with --merge-conf\n\n${USAGE}`);
    return 2;
  }
  if (opts['default-queue'] === true && opts['no-default-queue'] === true) {
    io.err(`lavarank install: --default-queue and --no-default-queue contradict each other\n\n${USAGE}`);
    return 2;
  }
  if (opts.force === true && opts.uninstall === true) {
    io.err(`lavarank install: --force and --uninstall do not go together: --uninstall never removes an elim that is not lavarank's\n\n${USAGE}`);
    return 2;
  }
  const dryRun = opts['dry-run'] === true;
  const steps: Step[] = [];
  const next: string[] = [];
  try {
    if (opts.uninstall === true) {
      await planElimRemoval(opts, io, steps);
      if (opts['merge-conf'] === true) await planConf(opts, io, steps, 'unmerge');
      nextAfterUninstall(opts, next);
    } else {
      await planElimBackupPruning(opts, io, steps, await planElim(opts, io, steps));
      const conf = opts['merge-conf'] === true ? await planConf(opts, io, steps, 'merge') : undefined;
      nextAfterInstall(opts, conf?.cluster, next);
    }
  } catch (err) {
    io.err(`lavarank install: ${errorMessage(err)}\nNothing was changed.`);
    return 1;
  }
  if (dryRun) io.out('Dry run: nothing is changed; "would" marks each change a real run makes.');
  for (const step of steps) {
    if (step.run === undefined) {
      io.out(step.say);
      continue;
    }
    if (dryRun) {
      io.out(`  would: ${step.say}`);
      continue;
    }
    try {
      step.run();
    } catch (err) {
      // The file is in place, its directory unsynced (EIO): the step was done, and saying
      // it failed would have the administrator take the new file for the old one.
      if (err instanceof UnsyncedRename) {
        io.out(`  done: ${step.say}`);
        io.err(`lavarank install: ${errorMessage(err)}; check the disk (dmesg) and run the install again\nThe steps printed above it were done; the rest were not.`);
        return 1;
      }
      io.err(`lavarank install: failed to ${step.say}: ${errorMessage(err)}\nThe steps printed above it were done.`);
      return 1;
    }
    io.out(`  done: ${step.say}`);
  }
  io.out(['', 'Next steps:', ...next.map((line) => `  ${line}`)].join('\n'));
  return 0;
}

// A path from an option or, failing that, the environment; made absolute.
function pathFrom(option: string | undefined, env: NodeJS.ProcessEnv, variable: string, flag: string): string {
  const value = option ?? env[variable];
  if (value === undefined || value === '') {
    throw new InstallError(`${variable} is not set; set it (source OpenLava's profile.lsf or openlava.sh) or pass ${flag} DIR`);
  }
  return resolve(value);
}

// Refuses, before anything is changed and in a dry run too, a directory the install must
// write in and cannot. On NFS exported with root_squash (the default) root on a node is
// the server's anonymous user, which a directory of the server's root refuses (access(2)
// asks the server); a read-only mount says EROFS. Found at the write, the temporary
// file's EACCES said neither, and a dry run had promised the change.
async function refuseUnwritable(dir: string, what: string, io: InstallIO): Promise<void> {
  try {
    await (io.access ?? ((d: string) => access(d, constants.W_OK)))(dir);
  } catch (err) {
    const fix =
      errorCode(err) === 'EROFS'
        ? 'it is mounted read-only here: run the install where it is mounted read-write (on the file server)'
        : io.uid === 0
          ? "on NFS exported with root_squash (the default) root here is the file server's anonymous user: run the install as root on the file server, or on a host the export gives no_root_squash"
          : 'run the install as root';
    throw new InstallError(`cannot write in ${what} ${dir}: ${errorReason(err)}; ${fix}`);
  }
}

function refuseUntrusted(problems: string[]): void {
  if (problems.length > 0) {
    throw new InstallError(`LIM runs the elim as root, so everything it runs must be changeable by root only:\n  - ${problems.join('\n  - ')}`);
  }
}

// Single-quoted for sh; a path with a newline or other control character is refused.
function shQuote(path: string, what: string): string {
  if (/[\0-\x1f\x7f]/.test(path)) throw new InstallError(`${what} ${JSON.stringify(path)} contains a control character`);
  return `'${path.replace(/'/g, `'\\''`)}'`;
}

// The sh script LIM executes. exec replaces the shell, so lavarank keeps the PID
// LIM started (LIM's SIGTERM reaches Node, and LIM reaps lavarank itself).
export function wrapperText(node: string, program: string): string {
  return [
    '#!/bin/sh',
    `# ${WRAPPER_MARK}: written by "lavarank install"; "lavarank install --uninstall" removes it.`,
    '# LIM runs this as root. Both paths were fixed at install time; exec hands',
    "# this process to Node so LIM's signals reach lavarank directly. Node reads",
    "# these from the environment LIM passes on (a root shell's, if LIM was started",
    '# from one): --inspect in NODE_OPTIONS would open a debugger port to root.',
    'unset NODE_OPTIONS NODE_PATH NODE_V8_COVERAGE NODE_ICU_DATA',
    "# LIM's pid, taken at once: Node takes a few hundred ms to reach lavarank's code,",
    '# and a LIM killed meanwhile would leave no parent to miss.',
    `${LIM_PID_ENV}=$PPID; export ${LIM_PID_ENV}`,
    `exec ${shQuote(node, 'Node path')} ${DAEMON_NODE_FLAGS.join(' ')} ${shQuote(program, 'program path')} run "$@"`,
    '',
  ].join('\n');
}

// The Node and program an installed wrapper execs, read back from its exec line;
// undefined when the text is not a wrapper lavarank wrote.
export function parseWrapper(text: string): { node: string; program: string } | undefined {
  if (text.split('\n', 2)[1]?.startsWith(`# ${WRAPPER_MARK}`) !== true) return undefined;
  const exec = text.split('\n').find((line) => line.startsWith('exec '));
  if (exec === undefined) return undefined;
  // Single-quoted words as shQuote writes them ('\'' inside), or bare flags.
  const words = [...exec.slice(5).matchAll(/'((?:[^']|'\\'')*)'|(\S+)/g)].map((m) => (m[1] !== undefined ? m[1].replace(/'\\''/g, "'") : m[2]!));
  const node = words[0];
  const program = words.slice(1).find((w) => !w.startsWith('-'));
  return node === undefined || program === undefined ? undefined : { node, program };
}

// A Node's `--version`, or why it cannot run lavarank (it does not run, or is older
// than MIN_NODE).
export async function probeNode(node: string): Promise<{ version: string } | { problem: string }> {
  try {
    return { version: await nodeVersion(node) };
  } catch (err) {
    return { problem: errorMessage(err) };
  }
}

async function nodeVersion(node: string): Promise<string> {
  const result = await runCommand(node, ['--version'], { timeoutMs: 10_000 });
  const version = result.stdout.trim();
  const [, major, minor] = /^v(\d+)\.(\d+)\./.exec(version) ?? [];
  if (result.failed || major === undefined || minor === undefined) {
    throw new InstallError(`cannot run ${node} --version: ${result.reason ?? `it printed ${JSON.stringify(version)}`}; pass --node PATH`);
  }
  if (Number(major) < MIN_NODE.major || (Number(major) === MIN_NODE.major && Number(minor) < MIN_NODE.minor)) {
    throw new InstallError(`${node} is Node ${version}; lavarank needs Node ${MIN_NODE_TEXT} or later (pass --node PATH)`);
  }
  return version;
}

// What is at a path now: nothing, a readable file, or something else.
type Existing = { kind: 'none' } | { kind: 'file'; text: string | undefined; st: Stats } | { kind: 'other'; what: string };

async function existing(path: string): Promise<Existing> {
  let st: Stats;
  try {
    st = await lstat(path);
  } catch (err) {
    if (errorCode(err) === 'ENOENT') return { kind: 'none' };
    throw new InstallError(`cannot look at ${path}: ${errorMessage(err)}`);
  }
  if (st.isSymbolicLink()) return { kind: 'other', what: 'a symbolic link' };
  if (!st.isFile()) return { kind: 'other', what: st.isDirectory() ? 'a directory' : 'not a regular file' };
  return { kind: 'file', text: st.size <= MAX_WRAPPER_BYTES ? await readFile(path, 'utf8') : undefined, st };
}

// Ours when its second line is the mark wrapperText() writes there.
function isOurs(found: Existing): boolean {
  return found.kind === 'file' && found.text?.split('\n', 2)[1]?.startsWith(`# ${WRAPPER_MARK}`) === true;
}

// A UTC time as a backup's name carries it: YYYYMMDD-HHMMSS.
export function stamp(now: Date): string {
  return now.toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15);
}

// The stamp and number of a backup's name after its `.lavarank-` (stamp(), then -n for
// the n-th of the same second: freshPath), or undefined for another name.
export function backupSuffix(suffix: string): { stamp: string; n: number } | undefined {
  const m = /^(\d{8}-\d{6})(?:-(\d+))?$/.exec(suffix);
  return m === null ? undefined : { stamp: m[1]!, n: Number(m[2] ?? 1) };
}

// A path that does not exist yet: base, or base-2, base-3...
async function freshPath(base: string): Promise<string> {
  let path = base;
  for (let n = 2; await existsAsync(path); n++) path = `${base}-${n}`;
  return path;
}

// The name writeAtomically writes path's new text under before its rename: a leading
// dot, so that LIM and MELIM never run it, even when an interrupted install leaves it.
function pendingName(path: string): string {
  return join(dirname(path), `.${basename(path)}.lavarank-new`);
}

// The temporary name of a configuration file's new text: pendingName's, then 8 random hex
// digits. A configuration directory may be sticky (the trust check accepts one, as /tmp),
// where another user's directory at the fixed name failed every merge from then on
// (EISDIR at its unlink; the files before it written, those after not: hostile22), and
// their file made between that unlink and the exclusive open failed the merge (EEXIST).
function randomPendingName(path: string): string {
  return `${pendingName(path)}.${randomHex()}`;
}

// The installer's own regular files at the temporary names of path's new text in its
// directory (pendingName's, randomPendingName's) that an interrupted merge left.
async function leftPending(path: string, uid: number): Promise<string[]> {
  const fixed = basename(pendingName(path));
  const names = (await readdir(dirname(path))).filter((n) => n === fixed || (n.startsWith(`${fixed}.`) && /^[0-9a-f]{8}$/.test(n.slice(fixed.length + 1))));
  return await plainFiles(dirname(path), names, uid);
}

// Copies file to base, or where base is taken when the copy is made (made meanwhile by
// another user in a sticky directory: freshPath looked at plan time) to base-N, N random
// (never a name another user could make first); never through whatever is at the name
// (COPYFILE_EXCL: O_CREAT | O_EXCL, which follows no link). Returns the name used.
function copyExclusive(file: string, base: string): string {
  for (let tries = 0; ; tries++) {
    const to = tries === 0 ? base : `${base}-${2 + Number.parseInt(randomHex(), 16)}`;
    try {
      copyFileSync(file, to, constants.COPYFILE_EXCL);
      return to;
    } catch (err) {
      if (errorCode(err) !== 'EEXIST' || tries === 3) throw err;
    }
  }
}

// Writes through a temporary file and a rename, so LIM never starts a half-written file.
// With aside, the file at path is kept there too, by a second name made just before the
// rename replaces it: path names the old file or the new one at every moment, so a
// write that fails (a full disk) or is interrupted (Ctrl-C) never leaves LIM no elim.
// Without tmp, the fixed pendingName, removed first (the elim's, in an LSF_SERVERDIR
// only root can write: install refuses any other).
function writeAtomically(path: string, text: string, mode: number, owner: { uid: number; gid: number } | undefined, aside?: string, tmp?: string): void {
  if (tmp === undefined) {
    tmp = pendingName(path);
    try {
      unlinkSync(tmp);
    } catch (err) {
      if (errorCode(err) !== 'ENOENT') throw err;
    }
  }
  // Mode and owner are set on the descriptor ('wx': a new file, never a link's target),
  // not by path, which whoever can write the directory could swap for a link meanwhile.
  const fd = openSync(tmp, 'wx', mode);
  try {
    writeFileSync(fd, text);
    fchmodSync(fd, mode);
    if (owner !== undefined) fchownSync(fd, owner.uid, owner.gid);
    // On disk before the rename, and the rename on disk before the next step: on XFS or
    // ext4 without auto_da_alloc, a crash soon after a rename of unsynced data can
    // leave lsf.shared empty, and LIM does not start without it.
    fsyncSync(fd);
  } catch (err) {
    closeSync(fd);
    unlinkSync(tmp);
    throw err;
  }
  closeSync(fd);
  let linked = false;
  try {
    if (aside !== undefined) {
      mkdirSync(dirname(aside), { mode: 0o700, recursive: true });
      linkSync(path, aside);
      linked = true;
    }
    renameSync(tmp, path);
  } catch (err) {
    if (linked && aside !== undefined) unlinkSync(aside);
    unlinkSync(tmp);
    throw err;
  }
  try {
    syncDirectory(dirname(path));
  } catch (err) {
    throw new UnsyncedRename(path, err);
  }
}

// Where the wrapper goes: $LSF_SERVERDIR (or --serverdir) and its name, elim.rank for LSF.
function elimPlace(opts: Options, io: InstallIO): { serverdir: string; name: string } {
  return { serverdir: pathFrom(opts.serverdir, io.env, 'LSF_SERVERDIR', '--serverdir'), name: opts.lsf === true ? 'elim.rank' : 'elim' };
}

// The plan for the wrapper; returns the backup of a foreign elim it makes, if any.
async function planElim(opts: Options, io: InstallIO, steps: Step[]): Promise<string | undefined> {
  const { serverdir, name } = elimPlace(opts, io);
  const target = join(serverdir, name);
  refuseUntrusted((await checkTrustAsync(serverdir, 'LSF_SERVERDIR', { directory: true })).problems);
  const node = resolve(opts.node ?? process.execPath);
  if (!(await existsAsync(node))) throw new InstallError(`the Node binary ${node} does not exist${opts.node === undefined ? '' : ' (--node)'}`);
  const program = resolve(opts.program ?? DEFAULT_PROGRAM);
  if (!(await existsAsync(program))) {
    throw new InstallError(`the lavarank program ${program} does not exist; build lavarank first (npm run build) or pass --program PATH`);
  }
  // The program imports the rest of its package (dist/, node_modules/): all of it runs as root.
  refuseUntrusted([
    ...(await checkTrustAsync(node, 'Node binary', { executable: true })).problems,
    ...(await checkTrustAsync(program, 'lavarank program')).problems,
    ...(await installationProblemsAsync(program, 'lavarank installation')),
  ]);
  const version = await nodeVersion(node);
  const text = wrapperText(node, program);
  const isRoot = io.uid === 0;
  const owner = isRoot ? { uid: 0, gid: 0 } : undefined;
  steps.push({ say: `Elim for ${opts.lsf === true ? "LSF's MELIM" : 'OpenLava'}: ${target}\n  runs: ${node} (${version}) ${program} run` });
  if (!isRoot) {
    steps.push({ say: `  note: not running as root (uid ${io.uid}), so file owners are left as they are; LIM runs the elim as root, so install as root on a cluster.` });
  }
  const found = await existing(target);
  if (found.kind === 'other') {
    throw new InstallError(`${target} is ${found.what}, not an elim lavarank can replace; move it away first`);
  }
  if (found.kind === 'file' && found.text === text) {
    const modeOk = (found.st.mode & 0o7777) === 0o755;
    const ownerOk = !isRoot || (found.st.uid === 0 && found.st.gid === 0);
    if (modeOk && ownerOk) {
      steps.push({ say: `  ${target} is already this wrapper; nothing to do.` });
    } else {
      steps.push({
        say: `set ${target} to mode 0755${isRoot ? ', owner root' : ''}`,
        run: () => {
          chmodSync(target, 0o755);
          if (owner !== undefined) chownSync(target, owner.uid, owner.gid);
        },
      });
    }
    return undefined;
  }
  if (found.kind === 'file' && !isOurs(found)) {
    const firstLine = found.text?.split('\n', 1)[0] ?? `${found.st.size} bytes`;
    if (opts.force !== true) {
      throw new InstallError(
        [
          `${target} already exists and is not lavarank's (it starts with: ${firstLine.slice(0, 80)}).`,
          `  To replace it and keep it in ${join(serverdir, BACKUP_DIR)}/, pass --force.`,
          opts.lsf === true
            ? `  Under LSF's MELIM both can run side by side: lavarank installs as elim.rank, so choose another name only if elim.rank is taken.`
            : `  OpenLava runs only one elim: to keep it running, copy it to a root-owned place and list it under "elims:" in lavarank's config; lavarank then runs it and passes its values on.`,
        ].join('\n'),
      );
    }
    await refuseUnwritable(serverdir, 'LSF_SERVERDIR', io);
    // One step: moved first, the elim would be gone until the write succeeds.
    const backup = await freshPath(join(serverdir, BACKUP_DIR, `${name}.${stamp(io.now())}`));
    steps.push({
      say: `move the existing ${target} to ${backup} (LIM never runs files in a subdirectory)\n    and write ${target} in its place (mode 0755${isRoot ? ', owner root' : ''})`,
      run: () => writeAtomically(target, text, 0o755, owner, backup),
    });
    return backup;
  }
  await refuseUnwritable(serverdir, 'LSF_SERVERDIR', io);
  if (found.kind === 'file') steps.push({ say: `  ${target} is an earlier lavarank wrapper; it is replaced.` });
  steps.push({
    say: `write ${target} (mode 0755${isRoot ? ', owner root' : ''})`,
    run: () => writeAtomically(target, text, 0o755, owner),
  });
  return undefined;
}

// Every --force over a changed foreign elim adds a copy to BACKUP_DIR; the oldest (the
// site's elim before lavarank) and the newest KEPT_BACKUPS are kept, at every install,
// as for the configuration files.
async function planElimBackupPruning(opts: Options, io: InstallIO, steps: Step[], made: string | undefined): Promise<void> {
  const { serverdir, name } = elimPlace(opts, io);
  const dir = join(serverdir, BACKUP_DIR);
  if (!(await isDirectoryAsync(dir))) return;
  try {
    const stale = staleBackups(await backupsOf(join(dir, name), await backupOwner(dir, io.uid), `${name}.`), made);
    if (stale.length === 0) return;
    await refuseUnwritable(dir, 'the backups\' directory', io);
    steps.push(pruneStep(stale, join(serverdir, name)));
  } catch (err) {
    steps.push({ say: `  note: the older backups in ${dir} are left as they are: ${err instanceof InstallError ? err.message : errorMessage(err)}` });
  }
}

async function planElimRemoval(opts: Options, io: InstallIO, steps: Step[]): Promise<void> {
  const { serverdir, name } = elimPlace(opts, io);
  const target = join(serverdir, name);
  const found = await existing(target);
  // The wrapper under the other product's name: run as docs/install.md writes it (no
  // --lsf), an uninstall on LSF would otherwise say done and leave MELIM running lavarank.
  const otherName = opts.lsf === true ? 'elim' : 'elim.rank';
  if (!isOurs(found) && isOurs(await existing(join(serverdir, otherName)))) {
    const flag = opts.lsf === true ? 'without --lsf' : 'with --lsf';
    throw new InstallError(`${join(serverdir, otherName)} is lavarank's wrapper, installed ${flag}; run --uninstall ${flag} to remove it`);
  }
  // What is put back is run by LIM as root: a backup directory another user made first in
  // a sticky LSF_SERVERDIR (which install refuses, and uninstall did not) had their file
  // put back as the elim (2026-12-07, hostile22).
  refuseUntrusted((await checkTrustAsync(serverdir, 'LSF_SERVERDIR', { directory: true })).problems);
  steps.push({ say: `Elim: ${target}` });
  const pending = pendingName(target);
  if (await isPresentAsync(pending)) steps.push({ say: `remove ${pending}, left by an install that was interrupted`, run: () => unlinkSync(pending) });
  if (found.kind === 'none') {
    steps.push({ say: `  there is no ${target}; nothing to remove.` });
  } else if (!isOurs(found)) {
    steps.push({ say: `  ${target} is not lavarank's wrapper; it is left alone.` });
  }
  const backups = join(serverdir, BACKUP_DIR);
  const saved = (await isDirectoryAsync(backups)) ? await backupsOf(join(backups, name), await backupOwner(backups, io.uid), `${name}.`) : [];
  const from = saved.at(-1);
  if (from === undefined) {
    if (isOurs(found)) steps.push({ say: `remove lavarank's wrapper ${target}`, run: () => unlinkSync(target) });
    return;
  }
  if (found.kind !== 'none' && !isOurs(found)) {
    steps.push({ say: `  the saved elim ${from} is not put back, since ${target} is not lavarank's.` });
    return;
  }
  // The rename replaces the wrapper: removed first, LIM would have no elim until it is done.
  steps.push({
    say: `put the saved elim ${from} back as ${target}${isOurs(found) ? ", in place of lavarank's wrapper" : ''}`,
    run: () => {
      renameSync(from, target);
      if (readdirSync(backups).length === 0) rmdirSync(backups);
    },
  });
}

interface ConfFiles {
  envdir: string;
  confdir: string; // LSF_CONFDIR: lsf.shared and lsf.cluster.<cluster>
  note?: string; // why confdir is envdir though lsf.conf does not say so
  clusterNote?: string; // the clusters lsf.shared lists that LIM ignores
  cluster: string;
  shared: string;
  clusterFile: string;
  queues: string | undefined;
}

async function readBytes(path: string, what: string, hint: string): Promise<Buffer> {
  try {
    return await readRegularBytesAsync(path, MAX_CONF_BYTES);
  } catch (err) {
    throw new InstallError(`cannot read ${what} ${path}: ${errorReason(err)}; ${hint}`);
  }
}

async function readText(path: string, what: string, hint: string): Promise<string> {
  return (await readBytes(path, what, hint)).toString('utf8');
}

// A configuration file the merge rewrites whole from its text: bytes that are not
// UTF-8, or a NUL, would not come back as they were, so such a file is refused. A
// byte order mark stays in the text (ignoreBOM), so it is written back as it was,
// and the parser sees it where OpenLava's readers do: as part of the first word.
async function readConfText(file: string): Promise<string> {
  const bytes = await readBytes(file, 'configuration file', 'check the path and its permissions');
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes);
  } catch {
    text = bytes.toString('utf8');
    return refuseText(file, text, text.indexOf('\uFFFD'));
  }
  const nul = text.indexOf('\0');
  return nul < 0 ? text : refuseText(file, text, nul);
}

function refuseText(file: string, text: string, at: number): never {
  const line = text.slice(0, Math.max(0, at)).split('\n').length;
  throw new InstallError(`${file}:${line}: not UTF-8 text (a NUL or a byte that is not UTF-8); lavarank would not write it back as it is. Is this the right file? Merge ${SNIPPET_DIR}/ by hand if it is.`);
}

// Where mbatchd reads lsb.queues, most likely first: OpenLava 4.0 reads it from
// LSB_CONFDIR itself (mbd.init.c, readQueueConf), IBM Spectrum LSF from
// LSB_CONFDIR/<cluster>/configdir. The other product's place comes second, for a
// tree laid out the other way.
export function lsbQueuesCandidates(confdir: string, cluster: string, lsf: boolean): string[] {
  const flat = join(confdir, 'lsb.queues');
  const perCluster = join(confdir, cluster, 'configdir', 'lsb.queues');
  return lsf ? [perCluster, flat] : [flat, perCluster];
}

// The first candidate that exists, else undefined; each looked at in libuv's pool.
export async function findLsbQueues(confdir: string, cluster: string, lsf: boolean): Promise<string | undefined> {
  for (const path of lsbQueuesCandidates(confdir, cluster, lsf)) if (await existsAsync(path)) return path;
  return undefined;
}

// lsf.conf's settings, read as check and OpenLava's daemons read it (lsf-conf.ts); none
// when envdir has no lsf.conf. lsf.conf is a sh file, but only plain values are used,
// never evaluated. It names the directories whose files the merge rewrites, so it must
// pass their trust check first: another user's lsf.conf named root's real configuration
// directory, whose files passed theirs, and root's merge rewrote them (hostile23).
async function lsfConfValues(envdir: string, uid: number): Promise<Map<string, Located>> {
  const conf = join(envdir, 'lsf.conf');
  if (!(await existsAsync(conf))) return new Map();
  refuseMergeInputs((await checkTrustAsync(conf, 'lsf.conf')).problems, uid);
  return readLsfConf(await readText(conf, 'lsf.conf', 'is --envdir (or LSF_ENVDIR) the directory of lsf.conf?'), conf).values;
}

// LSB_CONFDIR as mbatchd takes it (initenv_ in lib.initenv.c, as check takes it): the
// environment's, else lsf.conf's; $LSF_ENVDIR/lsbatch when neither sets it.
function lsbConfdir(envdir: string, env: NodeJS.ProcessEnv, conf: ReadonlyMap<string, Located>): string {
  const s = lsfSetting('LSB_CONFDIR', env, conf);
  if (s === undefined) return join(envdir, 'lsbatch');
  if (!isPlainPath(s.value)) {
    const where = s.from === 'environment' ? 'the environment' : join(envdir, s.from);
    throw new InstallError(`${where} sets LSB_CONFDIR to ${JSON.stringify(s.value)}, which lavarank does not expand; pass --queues FILE`);
  }
  return s.value;
}

// The directory of lsf.shared and lsf.cluster.<cluster>: LSF_CONFDIR, where LIM reads
// them, which lsf.conf may set apart from its own directory (lsfConfdir). Without an
// lsf.conf, or one setting no LSF_CONFDIR, envdir; an LSF_CONFDIR that is not an
// absolute path is refused, since the merge would edit files LIM does not read.
function confdirOf(envdir: string, env: NodeJS.ProcessEnv, conf: ReadonlyMap<string, Located>): { dir: string; note?: string } {
  const located = lsfConfdir(envdir, env, conf);
  if (located.from !== undefined && located.problem !== undefined) throw new InstallError(`${located.problem}; set it to the directory of lsf.shared`);
  return located.problem === undefined || conf.size === 0 ? { dir: located.dir } : { dir: located.dir, note: located.problem };
}

// What chooseCluster asks of the files: the names in a directory (none where it is not
// one) and whether a path exists, answered from what confdirLook asked in libuv's pool.
export interface ConfdirLook {
  names(dir: string): string[];
  exists(path: string): boolean;
}

// What chooseCluster asks of confdir (its names, whether each listed cluster's file is
// there), asked in libuv's pool first.
export async function confdirLook(confdir: string, listed: readonly string[]): Promise<ConfdirLook> {
  const names = (await isDirectoryAsync(confdir)) ? await readdir(confdir).catch(() => []) : [];
  const present = new Set<string>();
  for (const c of listed) {
    const path = join(confdir, `lsf.cluster.${c}`);
    if (await existsAsync(path)) present.add(path);
  }
  return { names: () => names, exists: (path) => present.has(path) };
}

// The cluster whose lsf.cluster.<cluster> in confdir is checked or merged: --cluster,
// else the first lsf.shared's Cluster section lists, which is the one OpenLava 4.0's LIM
// takes (doclist and addCluster in lim.conf.c: "Ignoring cluster" for the others; it
// exits when that cluster's file is missing, whatever the others' files), and note says
// so when there are others, or when --cluster names another. Under IBM LSF (lsf), which
// lists every cluster of a MultiCluster site there: the one listed, else, of several,
// the only one whose file is there (a listed name is looked for as it is, dots
// included), else the only lsf.cluster.* file. That scan skips names with dots: the
// merge's backups, lsf.cluster.<cluster>.lavarank-<time>, would match.
export function chooseCluster(
  given: string | undefined,
  listed: readonly string[],
  confdir: string,
  lsf: boolean,
  look: ConfdirLook,
): { name: string; why: string; note?: string } | { problem: string } {
  const [first, ...others] = listed;
  if (given !== undefined) {
    if (lsf || first === undefined || given === first) return { name: given, why: '--cluster' };
    return { name: given, why: '--cluster', note: `OpenLava's LIM reads lsf.cluster.${first}, the first cluster lsf.shared lists, not lsf.cluster.${given} (--cluster)` };
  }
  if (!lsf && first !== undefined) {
    if (others.length === 0) return { name: first, why: "lsf.shared's Cluster section" };
    return {
      name: first,
      why: "the first cluster of lsf.shared's Cluster section, the one OpenLava's LIM takes",
      note: `lsf.shared lists ${listed.length} clusters (${listed.join(', ')}): OpenLava's LIM takes the first, ${first}, and ignores ${others.join(', ')} (its log says "Ignoring cluster ${others[0]}"); remove ${others.length === 1 ? 'that line' : 'those lines'}, or list the cluster LIM should take first`,
    };
  }
  if (listed.length === 1) return { name: listed[0]!, why: "lsf.shared's Cluster section" };
  const scanned = look
    .names(confdir)
    .map((f) => /^lsf\.cluster\.([A-Za-z0-9_-]+)$/.exec(f)?.[1])
    .filter((c): c is string => c !== undefined);
  const present = listed.filter((c) => look.exists(join(confdir, `lsf.cluster.${c}`)));
  const candidates = listed.length > 1 ? present : scanned;
  if (candidates.length === 1) return { name: candidates[0]!, why: `the only lsf.cluster.* file of ${listed.length > 1 ? 'the listed clusters' : confdir}` };
  const files = [...new Set([...present, ...scanned])];
  return {
    problem: `cannot tell which cluster to use: lsf.shared lists ${listed.join(', ') || 'no cluster'}, and ${confdir} has ${
      files.map((c) => `lsf.cluster.${c}`).join(', ') || 'no lsf.cluster.* file'
    }; pass --cluster NAME`,
  };
}

async function findConfFiles(opts: Options, io: InstallIO): Promise<ConfFiles> {
  const envdir = pathFrom(opts.envdir, io.env, 'LSF_ENVDIR', '--envdir');
  const conf = await lsfConfValues(envdir, io.uid);
  const { dir: confdir, note } = confdirOf(envdir, io.env, conf);
  const shared = join(confdir, 'lsf.shared');
  const sharedText = await readText(shared, 'lsf.shared', 'is --envdir (or LSF_ENVDIR) the directory of lsf.conf, and its LSF_CONFDIR that of lsf.shared?');
  const listed = opts.cluster === undefined ? clusterNames(sharedText, shared) : [];
  const chosen = chooseCluster(opts.cluster, listed, confdir, opts.lsf === true, await confdirLook(confdir, listed));
  if ('problem' in chosen) throw new InstallError(chosen.problem);
  const cluster = chosen.name;
  const clusterFile = join(confdir, `lsf.cluster.${cluster}`);
  if (!(await existsAsync(clusterFile))) {
    throw new InstallError(`${clusterFile} does not exist; LIM reads that file for cluster ${cluster}. Is --envdir (or --cluster) right?`);
  }
  let queues: string | undefined;
  if (opts['no-queue'] !== true) {
    if (opts.queues === undefined) {
      const batch = lsbConfdir(envdir, io.env, conf);
      queues = await findLsbQueues(batch, cluster, opts.lsf === true);
      if (queues === undefined) {
        throw new InstallError(`no lsb.queues at ${lsbQueuesCandidates(batch, cluster, opts.lsf === true).join(' or ')}; pass --queues FILE, or --no-queue to leave the queues alone`);
      }
    } else {
      queues = resolve(opts.queues);
      if (!(await existsAsync(queues))) throw new InstallError(`${queues} does not exist; pass --queues FILE, or --no-queue to leave the queues alone`);
    }
  }
  return { envdir, confdir, ...(note === undefined ? {} : { note }), ...(chosen.note === undefined ? {} : { clusterNote: chosen.note }), cluster, shared, clusterFile, queues };
}

// The one refusal of what --merge-conf reads where anyone but root (or the installer,
// uid, whom the trust check accepts too) could change it: the cluster's configuration
// files and lsf.conf, which says where they are. Each problem line names the file.
function refuseMergeInputs(problems: readonly string[], uid: number): void {
  if (problems.length === 0) return;
  throw new InstallError(
    `--merge-conf rewrites the cluster's configuration files, which lsf.conf names, so both must be changeable by root only${uid === 0 ? '' : ` (or by you, uid ${uid})`}:\n  - ${problems.join('\n  - ')}\n` +
      `  Make them and their directories root's and not writable by group or others, pass --envdir the directory of root's lsf.conf, or merge ${SNIPPET_DIR}/ by hand (each snippet says where).`,
  );
}

async function planConf(opts: Options, io: InstallIO, steps: Step[], mode: 'merge' | 'unmerge'): Promise<ConfFiles> {
  const files = await findConfFiles(opts, io);
  // Root reads, backs up and rewrites these files. Whoever else could change one of
  // them, a directory above it or a link on the way could point it at any file (a
  // link to /etc/shadow, swapped in between the check and the write) and have root
  // rewrite that file, or copy it into their directory.
  const problems: string[] = [];
  for (const f of [files.shared, files.clusterFile, files.queues]) if (f !== undefined) problems.push(...(await checkTrustAsync(f, 'configuration file')).problems);
  refuseMergeInputs(problems, io.uid);
  const snippet = async (name: string): Promise<{ text: string; origin: string }> => {
    const origin = join(SNIPPET_DIR, name);
    return { text: await readText(origin, 'snippet', 'is this installation complete?'), origin };
  };
  const edits: Array<{ file: string; change: (text: string) => MergeResult }> = [];
  if (mode === 'merge') {
    const shared = await snippet('lsf.shared');
    const map = await snippet('lsf.cluster');
    const queue = await snippet('lsb.queues');
    edits.push({ file: files.shared, change: (t) => mergeResources(t, files.shared, shared.text, shared.origin, RANK) });
    edits.push({ file: files.clusterFile, change: (t) => mergeResourceMap(t, files.clusterFile, map.text, map.origin, [RANK]) });
    if (files.queues !== undefined) {
      const path = files.queues;
      const params = join(dirname(path), 'lsb.params');
      const paramsText = (await existsAsync(params)) ? await readConfText(params) : undefined;
      edits.push({
        file: path,
        change: (t) => {
          const merged = mergeQueues(t, path, queue.text, queue.origin);
          if (opts['no-default-queue'] === true) return merged;
          // Against the merged file, which defines lavarank's queue (DEFAULT_QUEUE = rank).
          const defaults = mbatchdDefaultQueues(paramsText, params, merged.text, path);
          // Asked for, or added by an earlier merge: a rerun keeps what the site chose.
          if (opts['default-queue'] !== true && !hasDefaultQueueReservation(t, path, defaults.queues)) return merged;
          const earlier = defaults.queues.filter((q) => hasDefaultQueueReservation(t, path, [q]));
          const done = withDefaultQueues(merged, path, defaults.queues, queue.origin, lineInFile(t), earlier);
          return { ...done, notes: [...defaults.notes, ...done.notes] };
        },
      });
    }
  } else {
    for (const file of [files.shared, files.clusterFile, files.queues]) {
      if (file !== undefined) edits.push({ file, change: (t) => ({ text: removeBlocks(t, file), warnings: [], notes: [] }) });
    }
  }
  steps.push({ say: `\nConfiguration of cluster ${files.cluster} (LSF_CONFDIR ${files.confdir}):` });
  if (files.note !== undefined) steps.push({ say: `  note: ${files.note}` });
  if (files.clusterNote !== undefined) steps.push({ say: `  note: ${files.clusterNote}` });
  const when = stamp(io.now());
  // every file is merged before anything is written, so a conflict in the last file changes nothing
  const planned: Array<{ file: string; before: string; result: MergeResult }> = [];
  for (const { file, change } of edits) {
    const before = await readConfText(file);
    planned.push({ file, before, result: change(before) });
  }
  for (const { file, before, result } of planned) {
    // a warning is about a change; once made, the block in the file records it
    if (result.text !== before) for (const warning of result.warnings) steps.push({ say: `  WARNING: ${warning}` });
    for (const note of result.notes) steps.push({ say: `  note: ${note}` });
    if (result.text === before) {
      steps.push({ say: `  ${file}: ${mode === 'merge' ? 'already merged' : 'no lavarank block'}; unchanged.` });
      // Pruned here too: a release that changes no file would otherwise keep every older set.
      const real = await realpath(file);
      const stale = staleBackups(await backupsOf(real, io.uid));
      if (stale.length > 0) {
        try {
          await refuseUnwritable(dirname(real), `${basename(real)}'s directory`, io);
          steps.push(pruneStep(stale, real));
        } catch (err) {
          if (!(err instanceof InstallError)) throw err;
          steps.push({ say: `  note: ${stale.length} older backup${stale.length === 1 ? '' : 's'} of ${real} left: ${err.message}` });
        }
      }
      continue;
    }
    steps.push({ say: unifiedDiff(before, result.text, `${file} (now)`, `${file} (${mode === 'merge' ? 'merged' : 'restored'})`) });
    const real = await realpath(file);
    await refuseUnwritable(dirname(real), `${basename(real)}'s directory`, io);
    for (const left of await leftPending(real, io.uid)) steps.push({ say: `remove ${left}, left by an install that was interrupted`, run: () => unlinkSync(left) });
    const backup = await freshPath(`${real}.lavarank-${when}`);
    const copy: Step = {
      say: `back up ${real} to ${backup}`,
      run: () => {
        const made = copyExclusive(real, backup);
        if (made !== backup) copy.say = `back up ${real} to ${made} (${basename(backup)} was made meanwhile by someone else)`;
      },
    };
    steps.push(copy);
    steps.push({
      say: `write ${real}`,
      run: () => {
        const st = statSync(real);
        writeAtomically(real, result.text, st.mode & 0o7777, io.uid === 0 ? { uid: st.uid, gid: st.gid } : undefined, undefined, randomPendingName(real));
      },
    });
    const stale = staleBackups(await backupsOf(real, io.uid), backup);
    if (stale.length > 0) steps.push(pruneStep(stale, real));
  }
  return files;
}

// The step that removes the stale backups of file (a configuration file, or the elim
// whose replaced versions BACKUP_DIR keeps).
function pruneStep(stale: readonly string[], file: string): Step {
  return {
    say: `remove ${stale.length} older backup${stale.length === 1 ? '' : 's'} of ${file} (${stale.map((f) => basename(f)).join(', ')}; kept: the oldest, and the newest ${KEPT_BACKUPS})`,
    run: () => stale.forEach((f) => unlinkSync(f)),
  };
}

// How many of a configuration file's newest backups a merge keeps, besides the oldest.
export const KEPT_BACKUPS = 3;

// The backups of file a merge made, as regular files beside it named
// <file>.lavarank-<UTC stamp>[-n] (or prefix<UTC stamp>[-n]) that uid (the installer's
// user, who made them) owns, of one link, oldest first; looked at in libuv's pool. Another
// user's files of such names, in a sticky directory the trust check accepts, sorted first
// and last, so that their "oldest" was kept as the file before lavarank and root removed
// its own real ones (2026-12-07, hostile21); where fs.protected_hardlinks is 0 their hard
// links to any root file did the same (hostile22). The merge's copies have one link; a
// saved elim has as many as the site's elim had, and any where uid is undefined.
async function backupsOf(file: string, uid: number | undefined, prefix = `${basename(file)}.lavarank-`): Promise<string[]> {
  return await plainFiles(dirname(file), backupNames(await readdir(dirname(file)), prefix), uid);
}

// The paths in dir of those names that are regular files (lstat, in libuv's pool) that
// uid owns, of one link, or any regular file where uid is undefined (a directory no one
// but the installer can write: no one else put a file or a link there, and a saved elim
// keeps the links the site gave it, whose --uninstall put nothing back; review76), in the
// order of names: what the installer takes as its own files to remove or put back, never
// a link, another user's file or, where others can write dir, a hard link.
async function plainFiles(dir: string, names: readonly string[], uid: number | undefined): Promise<string[]> {
  const own = async (n: string): Promise<string[]> => {
    const st = await lstat(join(dir, n)).catch(() => undefined);
    return st?.isFile() === true && (uid === undefined || (st.uid === uid && st.nlink === 1)) ? [join(dir, n)] : [];
  };
  return (await Promise.all(names.map(own))).flat();
}

// Whose files in BACKUP_DIR count as its saved elims: anyone's where the directory is the
// installer's and no one else can write it (only the installer put files there: a saved
// elim keeps the site's owner, an lsfadmin's say, which uid alone never pruned nor put
// back; review75), else the installer's only, as in a configuration directory.
async function backupOwner(dir: string, uid: number): Promise<number | undefined> {
  const st = await lstat(dir).catch(() => undefined);
  return st?.isDirectory() === true && st.uid === uid && (st.mode & 0o022) === 0 ? undefined : uid;
}

// The names of `names` that are prefix followed by a backup's suffix (backupSuffix),
// oldest first: by stamp, then by freshPath's number (-10 after -2, which text sorts before).
function backupNames(names: readonly string[], prefix: string): string[] {
  const keyed: Array<{ name: string; stamp: string; n: number }> = [];
  for (const name of names) {
    const found = name.startsWith(prefix) ? backupSuffix(name.slice(prefix.length)) : undefined;
    if (found !== undefined) keyed.push({ name, ...found });
  }
  return keyed.sort((a, b) => (a.stamp < b.stamp ? -1 : a.stamp > b.stamp ? 1 : a.n - b.n)).map((k) => k.name);
}

// Which backups go once `made` joins them: every upgrade's merge adds one a file, which
// nothing removed (13 sets on the test cluster). The oldest is kept, the file as it was
// before lavarank first changed it, which an administrator leaving lavarank wants back,
// and the newest KEPT_BACKUPS, this run's (made, if it makes one) among them.
export function staleBackups(existing: readonly string[], made?: string): string[] {
  const all = made === undefined ? [...existing] : [...existing.filter((f) => f !== made), made];
  return all.slice(1, Math.max(1, all.length - KEPT_BACKUPS));
}

// The merged lsb.queues with lavarank's reservation added to the default queues
// (mergeDefaultQueueReservation), the notes of both steps kept; line: where a line of
// the merge is in the file as it is; earlier: the queues that file already reserves in.
function withDefaultQueues(merged: MergeResult, file: string, queues: readonly string[], origin: string, line: (index: number) => number, earlier: readonly string[]): MergeResult {
  const rusage = rankQueueRusage(merged.text, file);
  if (queues.length === 0 || rusage === undefined) return merged;
  const added = mergeDefaultQueueReservation(merged.text, file, queues, rusage, origin, line, earlier);
  return { text: added.text, warnings: [...merged.warnings, ...added.warnings], notes: [...merged.notes, ...added.notes] };
}

function nextAfterInstall(opts: Options, cluster: string | undefined, next: string[]): void {
  const clusterFile = `lsf.cluster.${cluster ?? '<cluster>'}`;
  if (opts['merge-conf'] !== true) {
    next.push(
      `Merge ${SNIPPET_DIR}/ into lsf.shared, ${clusterFile} and lsb.queues (each snippet says where and why),`,
      '  or run this again with --merge-conf; the configuration is shared, so once is enough.',
    );
  }
  next.push(
    'Install the wrapper on every host that runs LIM (run this there too), unless LSF_SERVERDIR is shared.',
    `On the master host, as root (${opts.lsf === true ? 'reconfig and mbdrestart ask' : 'both ask'} for confirmation):`,
    opts.lsf === true
      ? `  lsadmin reconfig       # the management host candidates' LIMs reread lsf.shared and ${clusterFile}`
      : `  lsadmin reconfig       # LIM rereads lsf.shared and ${clusterFile} and starts the elim on every host`,
    '  badmin mbdrestart      # mbatchd picks up the rank resource and the rank queue',
  );
  // IBM's "External load indices commands" (LSF 10.1): after adding a host-based dynamic
  // resource, every LIM it affects must restart to start its elims; reconfig alone does not.
  if (opts.lsf === true) next.push('  lsadmin limrestart all # LSF: every LIM restarts and starts its elims, as IBM says after adding a host-based resource (elimtrig)');
  next.push(
    'About 30 s later, check:',
    '  lsload -l              # every host shows a number under rank; "-" means no report yet',
    '  lsinfo                 # rank is listed with ORDER "Inc" (declared INCREASING Y)',
    // mbatchd keeps a queue's qclose in lsb.events across mbdrestart, even with the queue
    // taken out of lsb.queues and put back: a reinstall after the uninstall's qclose found it
    // Closed:Active ("Queue has been closed. Job not submitted.") on OpenLava 4.0.
    '  bqueues rank           # Open:Active; "Closed" if it was closed before an uninstall: badmin qopen rank',
    'Then submit:',
    '  bsub -q rank ./job',
    '  bsub -R "order[rank]" ./job',
  );
  if (opts.lsf === true) next.push('(The snippets and checks above were made on OpenLava 4.0; compare them with your LSF version.)');
}

function nextAfterUninstall(opts: Options, next: string[]): void {
  // What mbatchd did with them at mbdrestart, on OpenLava 4.0 (docs/install.md, "Uninstall").
  if (opts['merge-conf'] === true) {
    next.push(
      'Empty the rank queue first (badmin qclose rank; bjobs -u all -q rank): at mbdrestart mbatchd moves its',
      '  jobs to lost_and_found, where they pend until you bswitch them, and drops the whole -R of a job that',
      '  names rank there ("Bad resource requirement" in its log), which then runs on any host.',
      '  mbatchd remembers the close: if you install lavarank again later, badmin qopen rank.',
    );
  }
  next.push('On the master host, as root:', '  lsadmin reconfig       # LIM ends the running elim and starts the restored one, if any');
  if (opts['merge-conf'] === true) next.push('  badmin mbdrestart      # mbatchd forgets the rank resource and the rank queue');
  if (opts.lsf === true) next.push('  lsadmin limrestart all # LSF: every LIM restarts its MELIM, which no longer finds elim.rank');
  if (opts['merge-conf'] !== true) next.push('The configuration still declares rank and maps elimtrig; remove them with --uninstall --merge-conf.');
}
