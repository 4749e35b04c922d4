// The OpenLava directories lavarank takes from its environment. A variable that
// names a directory that does not exist is a mistake (a typo, a file system not
// mounted yet), so it is said, by `lavarank check` and in the daemon's log, rather
// than silently replaced by a default.
import { isDirectory } from '../util/paths.js';

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
