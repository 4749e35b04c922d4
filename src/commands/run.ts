// `lavarank run`: the command line of the elim; the daemon itself is src/daemon/run.ts.
import { isTerminal } from '../util/terminal.js';
import { runDaemon } from '../daemon/run.js';
import { limPid, RUN_OPTIONS } from '../lsf/wrapper.js';
import { isUsageError, print, printError } from '../util/cliio.js';
import { systemClock, type Clock } from '../util/clock.js';
import { errorMessage } from '../util/errors.js';
import { parseCommandLine } from '../util/options.js';

const USAGE = `Usage: lavarank run [--config FILE] [--no-history] [--test-interval SECONDS] [--test-keep-open] [--test-startup-deadline SECONDS]

Runs the elim: writes "1 rank N" to stdout every interval, as LIM expects.
  --config FILE            configuration (default: $LAVARANK_CONFIG, then
                           $LSF_ENVDIR/lavarank.yaml, then built-in defaults)
  --no-history             keep no history, whatever the config says (npm start:
                           a foreground demo should not write under /var/lib)
  --test-interval SECONDS  FOR TESTS ONLY: report this often, even under 5 s.
                           Never under LIM: it reads one report per 5 s. A
                           sample may take 5 s unless sample_deadline is set.
  --test-keep-open         FOR TESTS ONLY: keep every file of proc_root and sys_root
                           open, as lavarank keeps those of procfs and sysfs, also
                           under a plain directory (npm run bench's generated node,
                           rewritten in place). A file replaced there would not be seen.
  --test-startup-deadline SECONDS  FOR TESTS ONLY: end the process if its first report
                           is not out within this time (default 60 s).`;

// Runs the elim until stopped; returns the exit status.
export async function main(argv: string[], clock: Clock = systemClock): Promise<number> {
  let args;
  try {
    args = parseCommandLine(argv, RUN_OPTIONS);
  } catch (err) {
    // On a terminal, the usage error as every command gives it. Under LIM stderr is
    // closed, so an ELIMARGS mistake would end the elim with no trace anywhere: the
    // daemon logs it where its log would go, and exits 2.
    if (isTerminal(1) || !isUsageError(err)) throw err;
    return runDaemon({ commandLineProblem: `${errorMessage(err)} (${JSON.stringify(argv)}); under LIM these come from ELIMARGS in lsf.cluster.<cluster>, whose quotes make one argument of what they enclose` }, printError, clock);
  }
  if (args.help === true) {
    // Started by the installed wrapper with stdout a pipe is LIM's doing (ELIMARGS):
    // the usage would reach LIM as a report, and the elim would be restarted every
    // 90 s, so it is refused there like any other bad option. By hand, it prints.
    if (!isTerminal(1) && limPid(process.env) !== undefined) {
      return runDaemon({ commandLineProblem: `--help asks for this usage, which under LIM would be read as a report (${JSON.stringify(argv)}); remove it from ELIMARGS in lsf.cluster.<cluster>` }, printError, clock);
    }
    print(USAGE);
    return 0;
  }
  return runDaemon(
    {
      ...(args.config === undefined ? {} : { config: args.config }),
      ...(args['test-interval'] === undefined ? {} : { testInterval: args['test-interval'] }),
      ...(args['no-history'] === true ? { noHistory: true } : {}),
      ...(args['test-keep-open'] === true ? { testKeepOpen: true } : {}),
      ...(args['test-startup-deadline'] === undefined ? {} : startupDeadline(args['test-startup-deadline'], argv)),
    },
    printError,
    clock,
  );
}

// --test-startup-deadline in ms, or the command line's problem.
function startupDeadline(raw: string, argv: string[]): { startupDeadlineMs: number } | { commandLineProblem: string } {
  const seconds = Number(raw);
  if (!Number.isFinite(seconds) || seconds < 0.1 || seconds > 3600) return { commandLineProblem: `--test-startup-deadline: expected seconds from 0.1 to 3600, received ${JSON.stringify(raw)} (${JSON.stringify(argv)})` };
  return { startupDeadlineMs: seconds * 1000 };
}
