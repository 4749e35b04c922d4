// Where calibration's programs may make their work directories: the probe and the
// disk stressor create, truncate and remove files there by path, for hours, as root.
import { existingDirectoryProblems } from '../util/trust.js';

// For existingDirectoryProblems: no group's write is accepted, the syslog group's neither.
export const NO_LOG_GROUP = { logGroup: undefined };

// Why dir ($TMPDIR, or --dir) must not hold calibration's work files, or undefined;
// setting names what the caller's user can set instead (calibrate has no --dir).
// Whoever else owns or can write dir could swap a work directory made there for one of
// theirs and plant links at the names opened next (O_TRUNC): root truncated and filled
// the file a link named (a root-only file in a 0700 directory, 22 MB of stressor data).
// A sticky directory such as /tmp keeps others from touching root's entry. Unlike the
// log's, a directory the syslog group may write (Ubuntu's /var/log) is no exception:
// its members (rsyslogd's user) are not root, and may rename root's entries there.
export function workDirectoryProblem(dir: string, setting = 'TMPDIR (or --dir)'): string | undefined {
  const problems = existingDirectoryProblems(dir, 'temporary directory', NO_LOG_GROUP);
  if (problems.length === 0) return undefined;
  return `the probe's and the disk stressor's files would go below the temporary directory ${dir}, which others could redirect: ${problems.join('; ')}; set ${setting} to a directory only root can change, or a sticky one such as /tmp`;
}
