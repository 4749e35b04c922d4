// The OpenLava directories lavarank takes from its environment. A variable that
// names a directory that does not exist is a mistake (a typo, a file system not
// mounted yet), so it is said, by `lavarank check` and in the daemon's log, rather
// than silently replaced by a default.
import { join } from 'node:path';
import { isPlainPath, lsfConfdir, lsfSetting, MAX_CONF_BYTES, readLsfConf, type Located } from '../lsf/lsf-conf.js';
import { existsAsync, isDirectory, isDirectoryAsync, readOpenRegular } from '../util/paths.js';
import { errorMessage } from '../util/errors.js';
import { openTrustedAsync } from '../util/trust.js';

// LIM passes the elim its own environment, and OpenLava's daemons read LSF_LOGDIR
// from lsf.conf, not from a variable: under a real OpenLava 4.0 LIM the elim had
// LSF_ENVDIR and no LSF_LOGDIR, so its log and history went to /var. This is the
// environment with LSF_LOGDIR taken from $LSF_ENVDIR/lsf.conf (/etc/lsf.conf without
// LSF_ENVDIR, where OpenLava looks then) when the environment does not set it: an
// absolute path as written, nothing expanded. An unreadable lsf.conf changes nothing.
// lsf.conf must pass the trust check, as lavarank.yaml beside it must: root writes
// its log and history where it says. refusal says why an lsf.conf that exists was
// not read (the problems the trust check found), for the log and `lavarank check`;
// from names the lsf.conf LSF_LOGDIR was taken from, so that no message calls it a
// variable of the environment. lsf.conf's walk and open are asked in libuv's pool: an
// lsf.conf under a user's FUSE mount whose server answers the pool and never a main
// thread held the daemon's start (and check, and retrain) on the main thread, SIGTERM
// and SIGKILL alike.
export async function lsfLogdirAsync(env: NodeJS.ProcessEnv, read: (path: string) => string | Promise<string> = readTrustedLsfConfAsync): Promise<LogdirFromConf> {
  const own = env['LSF_LOGDIR'];
  if (own !== undefined && own !== '') return { env };
  const file = lsfConfPath(env);
  let text: string;
  try {
    text = await read(file);
  } catch (err) {
    return notRead(env, file, err);
  }
  return logdirIn(env, file, text);
}

// What lsfLogdirAsync gives (see there).
export interface LogdirFromConf {
  env: NodeJS.ProcessEnv;
  refusal?: string;
  from?: string;
}

function notRead(env: NodeJS.ProcessEnv, file: string, err: unknown): LogdirFromConf {
  // no lsf.conf there: nothing to take, and `lavarank check` says why
  return err instanceof LsfConfRefused ? { env, refusal: `LSF_LOGDIR is not taken from ${file}: ${err.message}` } : { env };
}

function logdirIn(env: NodeJS.ProcessEnv, file: string, text: string): LogdirFromConf {
  const logdir = readLsfConf(text, file).values.get('LSF_LOGDIR')?.value;
  if (logdir === undefined || !isPlainPath(logdir)) return { env };
  return { env: { ...env, LSF_LOGDIR: logdir }, from: file };
}

// The dynamic String resources of lsf.shared (in lsfSharedDir: LSF_CONFDIR, where LIM
// reads it, else $LSF_ENVDIR, else /etc): a child elim's value for one of them is text, which LIM reading that
// elim itself keeps (saveSBValue in lim.rload.c), so lavarank passes it on as text;
// any other value that is not a number is dropped. lsf.shared must pass the trust
// check: a String name read from a file others can change would let them turn a
// child's numeric garbage into text LIM reads as 0. An lsf.shared that cannot be
// read or is refused gives no names, and problem says why, for the log; so does an
// lsf.conf refused when LIM's environment does not set LSF_CONFDIR, since where LIM
// reads lsf.shared is then not known; none there gives none, without a word
// (`lavarank check` names a missing lsf.shared). The parser is loaded only here, by
// a daemon with child elims.
// read gives undefined where there is no file; readConf reads lsf.conf. Both, by
// default, ask their walks and opens in libuv's pool (the daemon calls this at start).
export async function sharedTextResources(
  env: NodeJS.ProcessEnv,
  read: (path: string) => string | undefined | Promise<string | undefined> = readTrustedLsfSharedAsync,
  readConf: (path: string) => string | Promise<string> = readTrustedLsfConfAsync,
): Promise<{ names: Set<string>; problem?: string }> {
  let file: string;
  try {
    file = join(await lsfSharedDir(env, readConf), 'lsf.shared');
  } catch (err) {
    return { names: new Set(), problem: `child elims' String resources are dropped: ${errorMessage(err)}` };
  }
  try {
    const text = await read(file);
    if (text === undefined) return { names: new Set() };
    const { textResources } = await import('../lsf/conf.js');
    return { names: textResources(text, file) };
  } catch (err) {
    return { names: new Set(), problem: `child elims' String resources are dropped: ${file} was not read (${errorMessage(err)})` };
  }
}

// An lsf.conf that exists and fails the trust check; its message lists the problems.
class LsfConfRefused extends Error {
  override name = 'LsfConfRefused';
}

// The directory of the lsf.conf OpenLava reads: $LSF_ENVDIR, else /etc.
function lsfConfDir(env: NodeJS.ProcessEnv): string {
  const envdir = env['LSF_ENVDIR'];
  return envdir !== undefined && envdir !== '' ? envdir : '/etc';
}

// The directory of the lsf.shared LIM reads: LSF_CONFDIR, from LIM's environment, else
// from lsf.conf, as check and install take it (lsfConfdir); where neither names an
// absolute path, or there is no lsf.conf to read, lsf.conf's directory. Throws
// LsfConfRefused for an lsf.conf refused by the trust check when the environment does
// not set LSF_CONFDIR: LIM takes it from that file, so lsf.conf's directory may hold
// another lsf.shared, or none.
async function lsfSharedDir(env: NodeJS.ProcessEnv, readConf: (path: string) => string | Promise<string>): Promise<string> {
  let conf = new Map<string, Located>();
  const path = lsfConfPath(env);
  if (lsfSetting('LSF_CONFDIR', env, conf) === undefined) {
    try {
      conf = readLsfConf(await readConf(path), path).values;
    } catch (err) {
      if (err instanceof LsfConfRefused) throw new LsfConfRefused(`LSF_CONFDIR, where LIM reads lsf.shared, is not taken from ${path}: ${err.message}`);
      // no lsf.conf: LIM does not start without one; lsf.conf's directory
    }
  }
  return lsfConfdir(lsfConfDir(env), env, conf).dir;
}

// The lsf.conf OpenLava reads: $LSF_ENVDIR/lsf.conf, else /etc/lsf.conf.
function lsfConfPath(env: NodeJS.ProcessEnv): string {
  return join(lsfConfDir(env), 'lsf.conf');
}

// lsf.conf's text, if it passes the trust check; throws LsfConfRefused with the
// problems if it exists and does not, another error if it cannot be read. The walk, and
// the look at whether the file exists, in libuv's pool; the read that follows is of a
// file the walk found root's.
function readTrustedLsfConfAsync(path: string): Promise<string> {
  return readTrustedAsync(path, 'lsf.conf');
}

// lsf.shared's text, as readTrustedLsfConfAsync, or undefined if there is none.
async function readTrustedLsfSharedAsync(path: string): Promise<string | undefined> {
  return (await existsAsync(path)) ? readTrustedAsync(path, 'lsf.shared') : undefined;
}

async function readTrustedAsync(path: string, what: string): Promise<string> {
  const opened = await openTrustedAsync(path, what);
  if ('problems' in opened) throw new ((await existsAsync(path)) ? LsfConfRefused : Error)(opened.problems.join('; '));
  return readOpenRegular(opened.fd, MAX_CONF_BYTES).toString('utf8');
}

// lsfEnvProblems with each directory's stat made in libuv's pool, for the daemon's start.
export async function lsfEnvProblemsAsync(env: NodeJS.ProcessEnv): Promise<string[]> {
  const dirs = new Map<string, boolean>();
  for (const name of ['LSF_ENVDIR', 'LSF_LOGDIR']) {
    const dir = env[name];
    if (dir !== undefined && dir !== '' && !dirs.has(dir)) dirs.set(dir, await isDirectoryAsync(dir));
  }
  return lsfEnvProblems(env, (path) => dirs.get(path) === true);
}

// Each LSF_ENVDIR / LSF_LOGDIR that is set but unusable, and what lavarank does instead.
export function lsfEnvProblems(env: NodeJS.ProcessEnv, isDir: (path: string) => boolean = isDirectory): string[] {
  const problems: string[] = [];
  const envdir = env['LSF_ENVDIR'];
  if (envdir !== undefined && envdir !== '' && !isDir(envdir)) {
    problems.push(`LSF_ENVDIR ${envdir} does not exist (or is not a directory), so no lavarank.yaml is looked for there; set LSF_ENVDIR to the directory of lsf.conf`);
  }
  const logdir = env['LSF_LOGDIR'];
  if (logdir !== undefined && logdir !== '') {
    if (!logdir.startsWith('/')) {
      problems.push(`LSF_LOGDIR ${logdir} is not an absolute path and is ignored: the log goes to the next location (see "lavarank check")`);
    } else if (!isDir(logdir)) {
      problems.push(
        `LSF_LOGDIR ${logdir} does not exist, and lavarank does not create OpenLava's log directory (a file system not mounted yet?): ` +
          'the log goes to the next location and history, unless history.dir is set, to /var/lib/lavarank/history',
      );
    }
  }
  return problems;
}
