// lavarank runs as root on every node and acts on its config file, its model file
// and the child elims it starts. A file that another user can change is a way to
// root, so such files are refused: the file and every directory above it must be
// owned by root (or the user lavarank runs as) and not writable by group or others
// (a sticky, world-writable directory such as /tmp is accepted, as for ssh keys).
import { realpathSync, statSync, type Stats } from 'node:fs';
import { dirname } from 'node:path';
import { errorCode } from './errors.js';

export interface TrustOptions {
  uid?: number; // the user lavarank runs as; default process.geteuid()
  executable?: boolean; // the file must also have an execute bit
  directory?: boolean; // path is a directory (LSF_SERVERDIR) rather than a file
}

function describeMode(st: Stats): string {
  return (st.mode & 0o7777).toString(8).padStart(4, '0');
}

function ownerOk(st: Stats, uid: number): boolean {
  return st.uid === 0 || st.uid === uid;
}

// Returns every reason `path` cannot be trusted, as sentences naming `what` and the
// offending path; an empty list means the file may be used.
export function trustProblems(path: string, what: string, options: TrustOptions = {}): string[] {
  const uid = options.uid ?? process.geteuid?.() ?? 0;
  const problems: string[] = [];
  let real: string;
  let st: Stats;
  try {
    real = realpathSync(path);
    st = statSync(real);
  } catch (err) {
    return [`${what} ${path} cannot be read: ${errorCode(err) ?? String(err)}`];
  }
  if (options.directory === true ? !st.isDirectory() : !st.isFile()) {
    problems.push(`${what} ${path} is not a ${options.directory === true ? 'directory' : 'regular file'}`);
  }
  if (!ownerOk(st, uid)) {
    problems.push(`${what} ${real} is owned by uid ${st.uid}; it must be owned by root (chown root ${real})`);
  }
  if ((st.mode & 0o022) !== 0) {
    problems.push(`${what} ${real} has mode ${describeMode(st)}, writable by group or others; run: chmod go-w ${real}`);
  }
  if (options.executable === true && (st.mode & 0o111) === 0) {
    problems.push(`${what} ${real} is not executable; run: chmod 755 ${real}`);
  }
  const dirs = new Set<string>();
  for (const start of [dirname(real), dirname(path)]) {
    let dir = start;
    for (;;) {
      dirs.add(dir);
      const up = dirname(dir);
      if (up === dir) break;
      dir = up;
    }
  }
  for (const dir of dirs) {
    let ds: Stats;
    try {
      ds = statSync(dir);
    } catch {
      continue; // a lexical parent of a symlink that does not resolve; the real path was checked
    }
    const sticky = (ds.mode & 0o1000) !== 0;
    if (!ownerOk(ds, uid)) {
      problems.push(`directory ${dir} above ${what} ${path} is owned by uid ${ds.uid}; it must be owned by root`);
    } else if (!sticky && (ds.mode & 0o022) !== 0) {
      problems.push(
        `directory ${dir} above ${what} ${path} has mode ${describeMode(ds)}, writable by group or others; run: chmod go-w ${dir}`,
      );
    }
  }
  return problems;
}
