// lavarank runs as root on every node and acts on its config file, its model file,
// the child elims it starts (and the files their arguments name) and the installed
// tree it loads its own modules from (treeProblemsAsync). A file that another user can
// change is a way to root, so such files are refused: the file and every directory
// above it must be owned by root (or the user lavarank runs as) and not writable by
// group or others (a sticky, world-writable directory such as /tmp is accepted, as for
// ssh keys).
//
// The path is walked one component at a time with lstat, following each symbolic
// link by hand, so every directory and link of the path as given *and* of the path
// it resolves to is looked at, links included (a link another user owns in /tmp is
// theirs to swap). Once the whole chain belongs to root, nobody else can change it,
// so what is then opened or executed by the resolved path is what was checked:
// callers read through openTrusted (one open with O_NOFOLLOW, then fstat on the
// descriptor) and execute the resolved path, never the given one.
import { closeSync, constants, fstat, fstatSync, lstatSync, open, openSync, read, readFileSync, readlinkSync, readSync, statfsSync, type Stats } from 'node:fs';
import { lstat, readdir, readlink, realpath, stat, statfs } from 'node:fs/promises';
import { dirname, join, resolve, sep } from 'node:path';
import { promisify } from 'node:util';
import { errorCode, errorReason } from './errors.js';
import { scanLinesSteps } from './scan-lines.js';

// What a trust check accepts beyond a root-owned file others cannot write.
export interface TrustOptions {
  uid?: number; // the user lavarank runs as; default process.geteuid()
  executable?: boolean; // the file must also have an execute bit
  directory?: boolean; // path is a directory (LSF_SERVERDIR) rather than a file
  sticky?: boolean; // with directory: a sticky directory writable by others (/tmp) is accepted
  logGroup?: number; // a directory only root and this group may write is accepted (see syslogGid)
  device?: boolean; // a device node (character: /dev/null; block: /dev/sda) is accepted as the file, whatever its mode: only root makes device nodes
  fuseMounter?: (entry: string, dev: number) => number | null | undefined; // for tests: fuseMounter's answer
}

// The gid of the group named syslog in groupFile, or undefined. Ubuntu's /var/log is
// root:syslog 0775: the syslog daemon's account writes there, and root alone decides
// who else is in that group. No wider rule holds: a gid below 1000 is not a system
// group everywhere (users is 100, every user's group on SUSE and in Debian's adduser;
// user groups began at 500 on RHEL 6).
export function syslogGid(groupFile = '/etc/group'): number | undefined {
  let text: string;
  try {
    text = readFileSync(groupFile, 'utf8');
  } catch {
    return undefined;
  }
  const m = /^syslog:[^:\n]*:(\d+):/m.exec(text);
  return m === null ? undefined : Number(m[1]);
}

// Whether the group-write bit of a directory is the grant options.logGroup names.
function logGroupWrite(st: Stats, options: TrustOptions): boolean {
  return options.logGroup !== undefined && (st.mode & 0o002) === 0 && st.gid === options.logGroup;
}

// The outcome of checking one path.
export interface TrustVerdict {
  real: string | undefined; // the path with every symbolic link resolved, once walked
  problems: string[]; // empty: the file may be used
  stats?: Stats; // lstat of the resolved file, for checking what is opened against it
  // Where the walk found nothing (ENOENT): the directory, links resolved, in which the
  // missing name would be made, whether others may write there (sticky or not), and
  // the problems of the way to it. Whoever can make the name there chooses what it is.
  // linked: the missing name is a link's target, not a name of the path as given.
  missing?: { dir: string; name: string; linked: boolean; shared: boolean; problems: string[] };
}

// Linux gives up after 40 links (ELOOP); so do we.
const MAX_LINKS = 40;

function describeMode(st: Stats): string {
  return (st.mode & 0o7777).toString(8).padStart(4, '0');
}

function ownerOk(st: Stats, uid: number): boolean {
  return st.uid === 0 || st.uid === uid;
}

// NFS_SUPER_MAGIC (linux/magic.h): statfs's f_type on an NFS mount.
const NFS_SUPER_MAGIC = 0x6969;

// A question about the file system that a walk asks: answered on the caller's thread
// (checkTrust) or in libuv's pool (checkTrustAsync). Every lstat, readlink and statfs of
// a walk is one, since each may be asked of the file system's server (a FUSE server
// answers attributes valid for no time at all, so that a stat made first in the pool
// warms no cache), and one that a user's server never answers on the event loop held
// the daemon's reports and its SIGTERM for good. So is each read of mountinfo by the
// FUSE rule where fusectl is not mounted: a user's mount lines can make it tens of
// megabytes (273-412 ms on the event loop for 62 MB).
type FsAsk =
  | { op: 'lstat'; path: string }
  | { op: 'readlink'; path: string }
  | { op: 'statfs'; path: string }
  | { op: 'read'; fd: number; buffer: Buffer; length: number }
  | { op: 'readdir'; path: string }
  | { op: 'realpath'; path: string }
  | { op: 'stat'; path: string };
type Walk<T> = Generator<FsAsk, T, unknown>;

function answerSync(ask: FsAsk): unknown {
  if (ask.op === 'lstat') return lstatSync(ask.path);
  if (ask.op === 'readlink') return readlinkSync(ask.path);
  if (ask.op === 'read') return readSync(ask.fd, ask.buffer, 0, ask.length, null);
  if (ask.op === 'statfs') return statfsSync(ask.path).type;
  throw new Error(`a synchronous walk asked ${ask.op}, which only the pool's walks ask`);
}

async function answerAsync(ask: FsAsk): Promise<unknown> {
  if (ask.op === 'lstat') return lstat(ask.path);
  if (ask.op === 'readlink') return readlink(ask.path);
  if (ask.op === 'read') return readAsync(ask.fd, ask.buffer, ask.length);
  if (ask.op === 'readdir') return readdir(ask.path);
  if (ask.op === 'realpath') return realpath(ask.path);
  if (ask.op === 'stat') return stat(ask.path);
  return (await statfs(ask.path)).type;
}

// fs.read in libuv's pool, giving the number of bytes read.
function readAsync(fd: number, buffer: Buffer, length: number): Promise<number> {
  return new Promise((resolve, reject) => read(fd, buffer, 0, length, null, (err, n) => (err === null ? resolve(n) : reject(err))));
}

// Runs a walk, answering each question with answer; a question's error is thrown into
// the walk where it asked, as the synchronous call would have thrown it there.
function runSync<T>(walk: Walk<T>, answer: (ask: FsAsk) => unknown = answerSync): T {
  let step = walk.next();
  while (step.done !== true) {
    let reply: unknown;
    try {
      reply = answer(step.value);
    } catch (err) {
      step = walk.throw(err);
      continue;
    }
    step = walk.next(reply);
  }
  return step.value;
}

// runSync with every question answered in libuv's pool. Once signal is aborted (the
// daemon's writer closed at a stop), the walk ends before its next question with the
// abort's error, not a verdict: a stop then waits for one question, not for the ~20 of
// a whole walk, which at a load of 20 outlived the exit's 200 ms wait (SIGKILL).
async function runAsync<T>(walk: Walk<T>, signal?: AbortSignal): Promise<T> {
  let step = walk.next();
  while (step.done !== true) {
    if (signal?.aborted === true) {
      walk.return(undefined as T); // its finally blocks: mountinfo's descriptor closed
      signal.throwIfAborted();
    }
    let reply: unknown;
    try {
      reply = await answerAsync(step.value);
    } catch (err) {
      step = walk.throw(err);
      continue;
    }
    step = walk.next(reply);
  }
  return step.value;
}

// What to run to give path to root: `chown` names the command and its target. On
// NFS exported with root_squash (the default), a file root made from this host is
// owned by the anonymous user and root here cannot chown it: that is said instead.
// Asked only when a check has already failed; typeOf gives statfs's f_type.
export function chownAdvice(path: string, chown: string, typeOf: (path: string) => number = (p) => statfsSync(p).type): string {
  return runSync(adviceWalk(path, chown), (ask) => (ask.op === 'statfs' ? typeOf(ask.path) : answerSync(ask)));
}

function* adviceWalk(path: string, chown: string): Walk<string> {
  let onNfs = false;
  try {
    onNfs = ((yield { op: 'statfs', path }) as number) === NFS_SUPER_MAGIC;
  } catch {
    // gone or unreadable meanwhile: the plain advice
  }
  if (!onNfs) return `(${chown})`;
  return `(${chown}; ${path} is on NFS, where root_squash, the default, gives root's own files from this host to the anonymous user and refuses root's chown: chown it on the file server, or install on a local disk)`;
}

// FUSE_SUPER_MAGIC (linux/magic.h): statfs's f_type on a FUSE mount, fuse and fuseblk alike.
const FUSE_SUPER_MAGIC = 0x65735546;

// FUSECTL_SUPER_MAGIC: statfs's f_type of fusectl, the kernel's list of FUSE connections.
const FUSECTL_SUPER_MAGIC = 0x65735543;

// Where systemd mounts fusectl: a directory named by each FUSE mount's device number.
const FUSE_CONNECTIONS = '/sys/fs/fuse/connections';

// How much of mountinfo is read to find a FUSE mount's owner: a user's mount points
// can make it tens of megabytes (docs/collectors.md); past this the owner is unknown.
const MAX_MOUNTINFO_BYTES = 64 * 1024 * 1024;

// The longest mountinfo line looked at. A mount point is at most PATH_MAX bytes when
// made (16 KiB escaped), but a user who can rename a directory above it makes it as
// long as they like (a mount of theirs moved under 70 000 nested directories: a line
// of 71 MB); such a line, skipped, leaves its device's mounter unknown: refused.
const MAX_MOUNTINFO_LINE = 64 * 1024;

// Who mounted the FUSE file system entry is on (dev: its lstat's st_dev), as fusectl's
// entry for it or mountinfo's user_id gives it; null when entry is not on FUSE,
// undefined when that cannot be told. A FUSE server answers every stat with the owner and mode it likes:
// a user's mount over a directory of theirs, with allow_other (fusermount3 where
// /etc/fuse.conf has user_allow_other), showed files of uid 0, mode 0644 there, and
// root took them for its own config and model. mountinfo is read a chunk at a time up
// to the device's line: read whole, one user's 71 MB line made every FUSE mount
// unknown (past the bound), root's own refused, after 3-4 s and 70 MB held.
export function fuseMounter(entry: string, dev: number, typeOf: (path: string) => number = (p) => statfsSync(p).type, mountinfo = '/proc/self/mountinfo', connections = FUSE_CONNECTIONS): number | null | undefined {
  return runSync(fuseMounterWalk(entry, dev, mountinfo, connections), (ask) => (ask.op === 'statfs' ? typeOf(ask.path) : answerSync(ask)));
}

// fuseMounter with its questions asked in libuv's pool (a user's server may answer none).
export function fuseMounterAsync(entry: string, dev: number): Promise<number | null | undefined> {
  return runAsync(fuseMounterWalk(entry, dev, '/proc/self/mountinfo', FUSE_CONNECTIONS));
}

// fuseMounter as a walk: its statfs and lstat questions answered by the walk's runner.
function* fuseMounterWalk(entry: string, dev: number, mountinfo: string, connections: string): Walk<number | null | undefined> {
  const d = BigInt(dev);
  const major = ((d >> 8n) & 0xfffn) | ((d >> 32n) & ~0xfffn);
  const minor = (d & 0xffn) | ((d >> 12n) & ~0xffn);
  // A statfs is asked of the file system's server every time, never cached (NFS's
  // FSSTAT, FUSE's STATFS), where the walk's lstat, after a stat in libuv's pool, is
  // answered from the cache: on a server that stopped answering it held the daemon's
  // event loop, no report and no SIGTERM. fusectl's list is the kernel's own.
  const listed = yield* fuseConnection(connections, (major << 20n) | minor);
  if (listed === false || (listed === undefined && ((yield { op: 'statfs', path: entry }) as number) !== FUSE_SUPER_MAGIC)) return null;
  // fusectl makes each connection's directory its mounter's (fs/fuse/control.c gives
  // it fc->user_id): no mountinfo to read, so a user's 64 MiB of mount lines before a
  // later root mount's (autofs mounting cvmfs on first use) no longer hide its owner.
  if (listed !== undefined) return listed.uid;
  // "ID PARENT MAJOR:MINOR ROOT POINT ... - TYPE SOURCE SUPER-OPTIONS"; paths escape blanks (\040).
  const ofDevice = new RegExp(`^\\d+ \\d+ ${major}:${minor} `);
  let fd: number;
  try {
    fd = openSync(mountinfo, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch {
    return undefined;
  }
  let owner: number | undefined;
  try {
    const scan = scanLinesSteps({ maxBytes: MAX_MOUNTINFO_BYTES, maxLine: MAX_MOUNTINFO_LINE }, (line) => {
      if (line === undefined || !ofDevice.test(line)) return false;
      const superOptions = line.slice(line.indexOf(' - ') + 3).split(' ')[2] ?? '';
      const id = /(?:^|,)user_id=(\d+)(?:,|$)/.exec(superOptions)?.[1];
      owner = id === undefined ? undefined : Number(id);
      return true;
    });
    for (let step = scan.next(); step.done !== true; ) step = scan.next((yield { op: 'read', fd, ...step.value }) as number);
  } catch {
    return undefined;
  } finally {
    closeSync(fd);
  }
  return owner;
}

// fusectl's entry, mounted at connections, for the FUSE connection of the kernel's
// device number kdev (major << 20 | minor); false when fusectl lists none, undefined
// where fusectl is not there (a container, a host where nothing mounted it).
function* fuseConnection(connections: string, kdev: bigint): Walk<Stats | false | undefined> {
  let type: number;
  try {
    type = (yield { op: 'statfs', path: connections }) as number;
  } catch {
    return undefined; // no such directory, or no sysfs: the entry's statfs tells
  }
  if (type !== FUSECTL_SUPER_MAGIC) return undefined;
  try {
    return (yield { op: 'lstat', path: join(connections, String(kdev)) }) as Stats;
  } catch (err) {
    if (errorCode(err) === 'ENOENT') return false;
    throw err;
  }
}

function join2(dir: string, name: string): string {
  return dir === '/' ? `/${name}` : `${dir}/${name}`;
}

function parent(dir: string): string {
  const at = dir.lastIndexOf('/');
  return at <= 0 ? '/' : dir.slice(0, at);
}

// Problems of the resolved file itself (type, owner, mode), from its lstat or fstat.
function fileProblems(st: Stats, shown: string, real: string, what: string, options: TrustOptions, uid: number): string[] {
  return runSync(fileProblemsWalk(st, shown, real, what, options, uid));
}

function* fileProblemsWalk(st: Stats, shown: string, real: string, what: string, options: TrustOptions, uid: number): Walk<string[]> {
  const problems: string[] = [];
  const device = options.device === true && (st.isCharacterDevice() || st.isBlockDevice());
  const wrongType = !device && (options.directory === true ? !st.isDirectory() : !st.isFile());
  if (device) {
    // its content is a driver's; who owns it still matters (a user's own pty)
  } else if (wrongType) {
    problems.push(`${what} ${shown} is not a ${options.directory === true ? 'directory' : 'regular file'}`);
  }
  if (!ownerOk(st, uid)) {
    problems.push(`${what} ${real} is owned by uid ${st.uid}; it must be owned by root ${yield* adviceWalk(real, `chown root ${real}`)}`);
  }
  const stickyOk = options.directory === true && options.sticky === true && (st.mode & 0o1000) !== 0;
  const groupOk = options.directory === true && logGroupWrite(st, options);
  // Refused for its type already, its mode is beside the point: "run: chmod go-w
  // /dev/null" (for --config /dev/null) would break the host.
  if ((st.mode & 0o022) !== 0 && !stickyOk && !groupOk && !device && !wrongType) {
    // A sticky directory (/tmp, /dev/shm, a scratch area) is shared on purpose: taking
    // its write bit away would break the host, not make the path safe.
    const fix = st.isDirectory() && (st.mode & 0o1000) !== 0 ? `anyone may add files there; name a directory only root can write instead` : `run: chmod go-w ${real}`;
    problems.push(`${what} ${real} has mode ${describeMode(st)}, writable by group or others; ${fix}`);
  }
  if (options.executable === true && (st.mode & 0o111) === 0) {
    problems.push(`${what} ${real} is not executable; run: chmod 755 ${real}`);
  }
  return problems;
}

// Walks `path` and returns its resolved path and every reason it cannot be trusted.
export function checkTrust(path: string, what: string, options: TrustOptions = {}): TrustVerdict {
  return runSync(trustWalk(path, what, options));
}

// checkTrust with every lstat, readlink and statfs made in libuv's pool: for the daemon's
// event loop, which a file system's server that never answers would otherwise hold.
// signal aborted: rejects with its reason before the next question.
export function checkTrustAsync(path: string, what: string, options: TrustOptions = {}, signal?: AbortSignal): Promise<TrustVerdict> {
  return runAsync(trustWalk(path, what, options), signal);
}

function* trustWalk(path: string, what: string, options: TrustOptions): Walk<TrustVerdict> {
  const uid = options.uid ?? process.geteuid?.() ?? 0;
  const problems: string[] = [];
  const fail = (err: unknown): TrustVerdict => ({ real: undefined, problems: [`${what} ${path} cannot be read: ${errorReason(err)}`] });
  // The directories walked that others may write (sticky, or the log group's). Kept by
  // path, not as the last one walked: a link's '..' or absolute target moves current
  // back to a directory walked earlier, which is then the file's parent.
  const shared = new Set<string>();
  const checkDir = function* (dir: string, st: Stats): Walk<void> {
    if ((st.mode & 0o022) !== 0) shared.add(dir);
    if (!ownerOk(st, uid)) {
      problems.push(`directory ${dir} above ${what} ${path} is owned by uid ${st.uid}; it must be owned by root ${yield* adviceWalk(dir, `chown root ${dir}`)}`);
    } else if ((st.mode & 0o1000) === 0 && (st.mode & 0o022) !== 0 && !logGroupWrite(st, options)) {
      problems.push(`directory ${dir} above ${what} ${path} has mode ${describeMode(st)}, writable by group or others; run: chmod go-w ${dir}`);
    }
  };
  // Each directory walked, by path, with its st_dev: an entry on another device than
  // its directory is the root of a mount, whose owners a FUSE server makes up.
  const devOf = new Map<string, number>();
  // true: entry is on a FUSE mount of someone else's, refused.
  const checkMount = function* (entry: string, st: Stats, dir: string): Walk<boolean> {
    if (st.dev === devOf.get(dir)) return false;
    let owner: number | null | undefined;
    try {
      owner = options.fuseMounter === undefined ? yield* fuseMounterWalk(entry, st.dev, '/proc/self/mountinfo', FUSE_CONNECTIONS) : options.fuseMounter(entry, st.dev);
    } catch {
      owner = undefined;
    }
    if (owner === null || owner === 0 || owner === uid) return false;
    problems.push(
      `${entry} on the path of ${what} ${path} is on a FUSE file system ${owner === undefined ? 'whose mounter cannot be told from /proc/self/mountinfo' : `that uid ${owner} mounted`}, whose server makes up the owners and modes it shows; it must be on a file system root mounted`,
    );
    return true;
  };
  if (path.includes('\0')) return { real: undefined, problems: [`${what} ${JSON.stringify(path)} contains a NUL byte`] };
  let current = '/';
  try {
    const st = (yield { op: 'lstat', path: '/' }) as Stats;
    if (!ownerOk(st, uid) || (st.mode & 0o022) !== 0) yield* checkDir('/', st);
    devOf.set('/', st.dev);
  } catch (err) {
    return fail(err);
  }
  const pending = resolve(path).split('/').filter((c) => c !== '' && c !== '.');
  let links = 0;
  let own = pending.length; // the components of path as given still pending: always the last ones
  while (pending.length > 0) {
    const linked = pending.length > own;
    if (!linked) own--;
    const name = pending.shift()!;
    if (name === '..') {
      current = parent(current); // current is already free of links, so '..' is lexical
      continue;
    }
    const entry = join2(current, name);
    let st: Stats;
    try {
      st = (yield { op: 'lstat', path: entry }) as Stats;
    } catch (err) {
      const verdict = fail(err);
      if (errorCode(err) === 'ENOENT') verdict.missing = { dir: current, name, linked, shared: shared.has(current), problems: [...problems] };
      return verdict;
    }
    if (st.isSymbolicLink()) {
      // A link is replaced, never changed, but its owner may replace it in a sticky
      // directory; root's links alone are kept whatever the directory.
      if (!ownerOk(st, uid)) {
        problems.push(`symbolic link ${entry} on the path of ${what} ${path} is owned by uid ${st.uid}, who can point it elsewhere; it must be owned by root`);
      }
      if (++links > MAX_LINKS) return fail(Object.assign(new Error('too many symbolic links'), { code: 'ELOOP' }));
      let target: string;
      try {
        target = (yield { op: 'readlink', path: entry }) as string;
      } catch (err) {
        return fail(err);
      }
      if (target.startsWith('/')) current = '/';
      pending.unshift(...target.split('/').filter((c) => c !== '' && c !== '.'));
      continue;
    }
    // Nothing more is asked of their server: what it answers is theirs to make up, and
    // one that never answers the chown advice's statfs held `check` and a pool thread.
    if (st.dev !== devOf.get(current) && (yield* checkMount(entry, st, current))) return { real: undefined, problems };
    if (pending.length === 0) {
      problems.push(...(yield* fileProblemsWalk(st, path, entry, what, options, uid)));
      // In a directory others may write, a file of root's with a second name may be
      // another user's link to it (possible where fs.protected_hardlinks is 0): root's
      // /etc/shadow would pass every check above as a config or model file.
      if (shared.has(current) && !st.isDirectory() && st.nlink > 1) {
        problems.push(`${what} ${entry} has ${st.nlink} hard links and sits in ${current}, a directory others can write, so another user may have linked it there; copy it to a directory of root's`);
      }
      return { real: entry, problems, stats: st };
    }
    if (!st.isDirectory()) return { real: undefined, problems: [`${what} ${path} cannot be used: ${entry} is not a directory`] };
    if (!ownerOk(st, uid) || (st.mode & 0o022) !== 0) yield* checkDir(entry, st); // else it finds nothing: no generator made
    devOf.set(entry, st.dev);
    current = entry;
  }
  // The path named a directory by '..' or '/': nothing after it to walk.
  let st: Stats;
  try {
    st = (yield { op: 'lstat', path: current }) as Stats;
  } catch (err) {
    return fail(err);
  }
  problems.push(...(yield* fileProblemsWalk(st, path, current, what, options, uid)));
  return { real: current, problems, stats: st };
}

// Returns every reason `path` cannot be trusted, as sentences naming `what` and the
// offending path; an empty list means the file may be used.
export function trustProblems(path: string, what: string, options: TrustOptions = {}): string[] {
  return checkTrust(path, what, options).problems;
}

// Options of treeProblemsAsync.
export interface TreeOptions {
  uid?: number; // as TrustOptions.uid
  skip?: readonly string[]; // names of entries directly under root not walked; default ['.git']
  limit?: number; // problems listed at most, the rest counted in one more; default 10
  maxEntries?: number; // entries looked at, at most; default 20 000 (an installed lavarank has about 2 500)
}

// Why the installed program tree at root cannot be trusted: root as a directory
// (checkTrust, so every directory above it too), then every directory and file below
// it, by lstat without following links, owned by root (or uid) and not writable by
// group or others. Node loads any file of dist/ and node_modules/ the program
// imports, so one file that another user can write runs their code as root. A link
// whose target is outside the tree has that target checked as a path. .git is
// skipped: nothing runs from it. Every question is asked in libuv's pool: a sticky
// directory of the tree that the program's own walk does not pass may hold a user's
// FUSE mount, whose server answering only the pool held check, and would hold the
// daemon's reports, in the walk's lstat on the main thread, past Ctrl-C and SIGTERM.
// signal aborted (the daemon stopping): rejects with its reason before the next question.
export function treeProblemsAsync(root: string, what: string, options: TreeOptions = {}, signal?: AbortSignal): Promise<string[]> {
  return runAsync(treeWalk(root, what, options), signal);
}

function* treeWalk(root: string, what: string, options: TreeOptions): Walk<string[]> {
  const uid = options.uid ?? process.geteuid?.() ?? 0;
  const limit = options.limit ?? 10;
  // Bounded: a link out of the tree to a large directory (root's own doing) would
  // otherwise keep the daemon's walk going for minutes.
  const maxEntries = options.maxEntries ?? 20_000;
  const skip = new Set(options.skip ?? ['.git']);
  const verdict = yield* trustWalk(root, what, { uid, directory: true });
  if (verdict.real === undefined || verdict.problems.length > 0) return verdict.problems;
  const top = verdict.real;
  const problems: string[] = [];
  let more = 0;
  const add = (problem: string): void => {
    if (problems.length < limit) problems.push(problem);
    else more++;
  };
  const listed = (): string[] => (more > 0 ? [...problems, `and ${more} more`] : problems);
  const inside = (path: string): boolean => path === top || path.startsWith(top.endsWith(sep) ? top : top + sep);
  // Directories walked, by real path: a link to a directory out of the tree has that
  // directory walked too (Node loads what is below it), once, whatever links lead there.
  const walked = new Set<string>([top]);
  const pending: Array<[string, string]> = [[top, top]]; // a directory, and the walked root it is under
  let seen = 0;
  while (pending.length > 0) {
    const [dir, base] = pending.pop()!;
    let names: string[];
    try {
      names = (yield { op: 'readdir', path: dir }) as string[];
    } catch (err) {
      add(`${what}: ${dir} cannot be listed: ${errorReason(err)}`);
      continue;
    }
    for (const name of names) {
      if (dir === top && skip.has(name)) continue;
      if (++seen > maxEntries) {
        add(`${what} ${top} has more than ${maxEntries} entries; the rest were not checked`);
        return listed();
      }
      const path = join(dir, name);
      let st: Stats;
      try {
        st = (yield { op: 'lstat', path }) as Stats;
      } catch (err) {
        if (errorCode(err) !== 'ENOENT') add(`${what}: ${path} cannot be read: ${errorReason(err)}`);
        continue;
      }
      if (st.isSymbolicLink()) {
        let target: string;
        try {
          target = (yield { op: 'realpath', path }) as string;
        } catch (err) {
          // A link to nothing yet loads what whoever can make its target puts there.
          if (errorCode(err) === 'ENOENT') {
            let text = '';
            try {
              text = (yield { op: 'readlink', path }) as string;
            } catch {
              // gone meanwhile
            }
            if (!inside(resolve(dirname(path), text))) add(`${what} ${path} is a link to ${text}, which does not exist: whoever can create it there runs their code as root; remove the link`);
          }
          continue;
        }
        if (inside(target)) continue; // walked as part of the tree
        let isDir = false;
        try {
          isDir = ((yield { op: 'stat', path: target }) as Stats).isDirectory();
        } catch {
          // gone or unreadable meanwhile: checked as a file, whose walk says why
        }
        for (const problem of (yield* trustWalk(path, `${what} (a link out of ${top})`, { uid, directory: isDir })).problems) add(problem);
        if (isDir && !walked.has(target)) {
          walked.add(target);
          pending.push([target, target]);
        }
        continue;
      }
      if (!ownerOk(st, uid)) add(`${what} ${path} is owned by uid ${st.uid}; it must be owned by root ${yield* adviceWalk(path, `chown -R root ${base}`)}`);
      else if ((st.mode & 0o022) !== 0) add(`${what} ${path} has mode ${describeMode(st)}, writable by group or others; run: chmod -R go-w ${base}`);
      if (st.isDirectory()) pending.push([path, base]);
    }
  }
  return listed();
}

// treeProblemsAsync of the package program belongs to (packageRootOfAsync), or none when
// it belongs to none: what install and check ask of the installation (the daemon, whose
// message names the root, calls the two itself).
export async function installationProblemsAsync(program: string, what: string): Promise<string[]> {
  const root = await packageRootOfAsync(program);
  return root === undefined ? [] : treeProblemsAsync(root, what);
}

// The root of the package a program file belongs to: the nearest directory above it
// with a package.json (dist/src/cli.js is three levels down), or undefined; its
// questions asked in libuv's pool. The program's links are resolved first, as Node
// resolves its main module's: an npm -g bin link (/usr/bin/lavarank ->
// ../lib/node_modules/lavarank/dist/src/cli.js) names the package the modules are
// loaded from, not /usr/bin. signal: as treeProblemsAsync's.
export function packageRootOfAsync(program: string, signal?: AbortSignal): Promise<string | undefined> {
  return runAsync(packageRootWalk(program), signal);
}

function* packageRootWalk(program: string): Walk<string | undefined> {
  let real: string;
  try {
    real = (yield { op: 'realpath', path: program }) as string;
  } catch {
    real = resolve(program);
  }
  let dir = dirname(real);
  for (let i = 0; i < 6; i++) {
    try {
      yield { op: 'stat', path: join(dir, 'package.json') };
      return dir;
    } catch {
      // none here (or unreadable, as existsSync says): the directory above
    }
    const up = dirname(dir);
    if (up === dir) return undefined;
    dir = up;
  }
  return undefined;
}

// Why root must not create or append files in dir (the log's, the history's):
// dir, or the directory it would be made in when it (or a directory above it) is still
// to be made, fails checkTrust as a directory. A sticky one such as /tmp passes, since
// there only an entry's owner can replace it. So does one only root and the syslog
// group may write (Ubuntu's /var/log, root:syslog 0775; see syslogGid).
// Whoever owns a directory on the way, or can write to it, could point the rest of
// the path anywhere: root would then create its files, rename its rotated logs and
// append its lines wherever they chose.
export function directoryProblems(dir: string, what: string, options: { uid?: number; logGroup?: number } = {}): string[] {
  return walkDirectory(dir, what, options).problems;
}

// A directory path walked by checkTrust: its problems and, when it is still to be made,
// where the walk stopped. A missing dir is judged by the walk up to the missing name,
// links included, not by the nearest ancestor that exists: a link of another user's in
// /tmp that leads nowhere does not exist for existsSync, so /tmp was judged, and the
// link then pointed at a directory of root's when root made, opened or renamed there.
interface DirectoryWalk {
  problems: string[];
  missing?: { dir: string; name: string; linked: boolean; shared: boolean };
}

function walkDirectory(dir: string, what: string, options: { uid?: number; logGroup?: number }): DirectoryWalk {
  return directoryWalk(dir, checkTrust(dir, what, directoryRules(options)));
}

// walkDirectory with its questions asked in libuv's pool (checkTrustAsync).
async function walkDirectoryAsync(dir: string, what: string, options: AsyncDirectoryOptions): Promise<DirectoryWalk> {
  const { signal, ...rules } = options;
  return directoryWalk(dir, await checkTrustAsync(dir, what, directoryRules(rules), signal));
}

// The options of the directory checks made in libuv's pool: signal, once aborted, ends
// the walk before its next question (checkTrustAsync) and the check rejects.
export interface AsyncDirectoryOptions {
  uid?: number;
  logGroup?: number;
  signal?: AbortSignal;
}

function directoryRules(options: { uid?: number; logGroup?: number }): TrustOptions {
  const logGroup = 'logGroup' in options ? options.logGroup : syslogGid();
  return { ...options, directory: true, sticky: true, ...(logGroup === undefined ? {} : { logGroup }) };
}

function directoryWalk(dir: string, verdict: TrustVerdict): DirectoryWalk {
  const missing = verdict.missing;
  if (missing === undefined) return { problems: verdict.problems };
  return { problems: missing.problems.map((problem) => `${problem} (${dir} is to be created there)`), missing: { dir: missing.dir, name: missing.name, linked: missing.linked, shared: missing.shared } };
}

// directoryProblems with its questions asked in libuv's pool: for the daemon's event loop.
export async function directoryProblemsAsync(dir: string, what: string, options: AsyncDirectoryOptions = {}): Promise<string[]> {
  return (await walkDirectoryAsync(dir, what, options)).problems;
}

// A directory held open: root makes, opens and renames its entries as path/<name>
// (path: /proc/self/fd/<fd>, which names the directory opened, wherever it is now).
export interface HeldDirectory {
  fd: number;
  path: string;
}

// dir, opened and then walked by directoryProblems' rules, held only if that walk
// passes and ends at the directory opened (same st_dev and st_ino). A name by path is
// resolved again at each use: whoever may rename entries of a directory above dir
// (the syslog group in Ubuntu's /var/log, root:syslog 0775) swapped dir for their link
// between the check and root's open, and root made and appended to its log, and
// renamed its rotations, in any directory the link named. The caller closes fd. error:
// the open's, where dir could not be opened (missing, not a directory).
export function holdDirectory(dir: string, what: string, options: { uid?: number; logGroup?: number } = {}): HeldDirectory | { problems: string[]; error?: unknown } {
  let fd: number;
  try {
    fd = openSync(dir, constants.O_RDONLY | constants.O_DIRECTORY);
  } catch (err) {
    return { problems: [`${what} ${dir} cannot be opened: ${errorReason(err)}`], error: err };
  }
  return keepIfWalked(fd, dir, what, options);
}

const openAsync = promisify(open);

// holdDirectory with the open made in libuv's pool, for the daemon's event loop: an open
// of a directory is asked of its file system's server every time (FUSE's OPENDIR, NFS's
// close-to-open GETATTR), where the walk's lstat after a stat in the pool is answered
// from the cache, and a server that stopped answering held the reports and SIGTERM there.
// options.signal aborted: rejects with its error, before the open or at the walk's next question.
export async function holdDirectoryAsync(dir: string, what: string, options: AsyncDirectoryOptions = {}): Promise<HeldDirectory | { problems: string[] }> {
  const { signal, ...rules } = options;
  signal?.throwIfAborted();
  let fd: number;
  try {
    fd = await openAsync(dir, constants.O_RDONLY | constants.O_DIRECTORY);
  } catch (err) {
    return { problems: [`${what} ${dir} cannot be opened: ${errorReason(err)}`] };
  }
  // The walk and the descriptor's fstat in the pool as well: each may be asked of the server.
  try {
    const verdict = await checkTrustAsync(dir, what, directoryRules(rules), signal);
    return heldIfSame(fd, dir, what, verdict, await fstatAsync(fd));
  } catch (err) {
    closeSync(fd);
    if (signal?.aborted === true) throw err; // the abort's error, not a problem of dir's
    return { problems: [`${what} ${dir} cannot be checked: ${errorReason(err)}`] };
  }
}

const fstatAsync = promisify(fstat);

// fd, dir opened, kept if dir's walk passes and ends at that directory; else closed.
function keepIfWalked(fd: number, dir: string, what: string, options: { uid?: number; logGroup?: number }): HeldDirectory | { problems: string[] } {
  try {
    const verdict = checkTrust(dir, what, directoryRules(options));
    return heldIfSame(fd, dir, what, verdict, verdict.problems.length === 0 && verdict.stats !== undefined ? fstatSync(fd) : undefined);
  } catch (err) {
    closeSync(fd);
    return { problems: [`${what} ${dir} cannot be checked: ${errorReason(err)}`] };
  }
}

// fd held if verdict passed and st (fd's fstat) is the directory it ended at; else closed.
function heldIfSame(fd: number, dir: string, what: string, verdict: TrustVerdict, st: Stats | undefined): HeldDirectory | { problems: string[] } {
  let problems = verdict.problems;
  if (problems.length === 0 && verdict.stats !== undefined && st !== undefined) {
    if (st.dev === verdict.stats.dev && st.ino === verdict.stats.ino) return { fd, path: `/proc/self/fd/${fd}` };
    problems = [`${what} ${dir} was replaced while it was being checked`];
  }
  closeSync(fd);
  return { problems };
}

// The directory mkdir -p makes next on the way to dir, named by the path checkTrust
// resolved (every directory and link above it root's, so no one else can redirect it),
// or undefined once dir exists; a problem on the way is thrown. Made one level at a
// time this way, a link someone puts at a name not made yet (in /tmp) is never
// followed: mkdir does not follow a link at the name it makes, and the next walk
// refuses the link. A recursive mkdir of the path made root's directories wherever
// such a link pointed.
export function nextDirectoryToMake(dir: string, what: string, options: { uid?: number; logGroup?: number } = {}): string | undefined {
  return nextDirectory(dir, what, walkDirectory(dir, what, options));
}

// nextDirectoryToMake with its walk's questions asked in libuv's pool.
export async function nextDirectoryToMakeAsync(dir: string, what: string, options: AsyncDirectoryOptions = {}): Promise<string | undefined> {
  return nextDirectory(dir, what, await walkDirectoryAsync(dir, what, options));
}

function nextDirectory(dir: string, what: string, walk: DirectoryWalk): string | undefined {
  if (walk.problems.length > 0) throw Object.assign(new Error(walk.problems.join('; ')), { code: 'EREFUSED' });
  if (walk.missing === undefined) return undefined;
  const next = join2(walk.missing.dir, walk.missing.name);
  // As mkdir -p: a link's target is not made (a mount point not mounted yet would fill).
  if (walk.missing.linked) throw Object.assign(new Error(`${what} ${dir} leads through a symbolic link to ${next}, which does not exist`), { code: 'ENOENT' });
  return next;
}

// directoryProblems for a directory root writes into by path but never makes itself
// (the metrics file's, a swap file's). One still to be made is refused when someone
// other than root could make it: the directory it would be made in is one others may
// write (sticky, as /tmp, or the syslog group's). directoryProblems accepts it, and
// between the check and the open they could make it a link to any directory, where
// root would then create, fill and rename its files. The log and history need no such
// rule: the appender makes their directory itself (nextDirectoryToMake).
export function existingDirectoryProblems(dir: string, what: string, options: { uid?: number; logGroup?: number } = {}): string[] {
  return existingProblems(dir, what, walkDirectory(dir, what, options));
}

// existingDirectoryProblems with its walk's questions asked in libuv's pool.
export async function existingDirectoryProblemsAsync(dir: string, what: string, options: AsyncDirectoryOptions = {}): Promise<string[]> {
  return existingProblems(dir, what, await walkDirectoryAsync(dir, what, options));
}

function existingProblems(dir: string, what: string, walk: DirectoryWalk): string[] {
  if (walk.problems.length > 0 || walk.missing === undefined || !walk.missing.shared) return walk.problems;
  return [`${what} ${dir} does not exist, and ${walk.missing.dir}, where it would be made, can be written by others: they could make ${dir} a link to any directory before root writes there; create it first (mkdir -m 0755 ${dir})`];
}

// A file opened for reading after it passed the trust check, or why it was not.
export type TrustedOpen = { fd: number; real: string; stats: Stats } | { problems: string[] };

// How many times openTrusted checks and opens a file that keeps being replaced between
// its check and its open: root's own atomic renames (`lavarank retrain` writing the
// model) land there, and a daemon starting at that instant must not refuse the new
// file for it. Each attempt checks the path in full.
const REPLACED_ATTEMPTS = 3;

// Checks `path`, then opens its resolved path once (O_NOFOLLOW: the last component
// must be the file that was checked; O_NONBLOCK: a FIFO swapped in never blocks)
// and checks the descriptor again with fstat: same file, still a regular file owned
// by root and not writable by others. Nothing is opened, and nothing read, when the
// check fails. A file replaced between the check and the open is checked and opened
// again, up to REPLACED_ATTEMPTS times. The caller reads from fd and closes it.
export function openTrusted(path: string, what: string, options: TrustOptions = {}): TrustedOpen {
  let opened = openTrustedOnce(path, what, options);
  for (let attempt = 1; attempt < REPLACED_ATTEMPTS && 'replaced' in opened; attempt++) opened = openTrustedOnce(path, what, options);
  return 'replaced' in opened ? { problems: opened.problems } : opened;
}

// One check and open of openTrusted; `replaced` when the only problem is that the file
// changed between the two.
export function openTrustedOnce(path: string, what: string, options: TrustOptions = {}): TrustedOpen | { problems: string[]; replaced: true } {
  return openChecked(path, what, options, checkTrust(path, what, options));
}

// openTrusted with the walk's questions asked in libuv's pool, for the daemon's event
// loop (a model file at a reload): a user's FUSE server on the way that answers the pool
// and never the event loop held the reports and SIGTERM in the walk. The open and fstat
// that follow are made only once the walk passed, on a path every part of which is root's.
export async function openTrustedAsync(path: string, what: string, options: TrustOptions = {}, signal?: AbortSignal): Promise<TrustedOpen> {
  let opened = openChecked(path, what, options, await checkTrustAsync(path, what, options, signal));
  for (let attempt = 1; attempt < REPLACED_ATTEMPTS && 'replaced' in opened; attempt++) opened = openChecked(path, what, options, await checkTrustAsync(path, what, options, signal));
  return 'replaced' in opened ? { problems: opened.problems } : opened;
}

// The open of openTrustedOnce, given the verdict of path's walk.
function openChecked(path: string, what: string, options: TrustOptions, verdict: TrustVerdict): TrustedOpen | { problems: string[]; replaced: true } {
  const uid = options.uid ?? process.geteuid?.() ?? 0;
  if (verdict.problems.length > 0 || verdict.real === undefined || verdict.stats === undefined) return { problems: verdict.problems };
  let fd: number;
  try {
    fd = openSync(verdict.real, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK | constants.O_NOCTTY);
  } catch (err) {
    return { problems: [`${what} ${path} cannot be read: ${errorReason(err)}`] };
  }
  try {
    const st = fstatSync(fd);
    const problems = fileProblems(st, path, verdict.real, what, options, uid);
    const replaced = st.dev !== verdict.stats.dev || st.ino !== verdict.stats.ino;
    if (replaced) problems.push(`${what} ${path} was replaced while it was being checked`);
    if (problems.length > 0) {
      closeSync(fd);
      return replaced && problems.length === 1 ? { problems, replaced } : { problems };
    }
    return { fd, real: verdict.real, stats: st };
  } catch (err) {
    closeSync(fd);
    return { problems: [`${what} ${path} cannot be read: ${errorReason(err)}`] };
  }
}
