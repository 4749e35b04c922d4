// The running elim's ways out (runDaemon): the stop (SIGTERM, LIM gone, a closed
// stdout), the exit a stop cannot wait for (a second signal, the stop's deadline), and
// a crash. Each ends what runs in process groups of its own: the child elims, the host
// inventory and a GPU query.
import type { Logger } from '../util/logger.js';
import { errorMessage } from '../util/errors.js';
import { exitNow, exitWhenReturned } from '../util/exit.js';
import type { ChildElims } from './children.js';
import type { PendingLog } from './log.js';

// How long a forced exit waits for its log line to be written, then for the pool's
// other writes: the 1.8 s deadline's exit is then still within the 2 s LIM waits
// after SIGTERM.
const FORCED_FLUSH_MS = 100;
const FORCED_HOLD_MS = 50;

// How long a stop may take before the exit is forced: LIM waits 2 s after SIGTERM
// before it execs a new LIM; never outlive that.
export const STOP_DEADLINE_MS = 1800;

// What the Stopper is given: the log, and its side effects (tests pass fakes).
export interface StopperParts {
  log: Pick<Logger, 'info' | 'warn' | 'error'>;
  logging: Pick<PendingLog, 'appender' | 'fatalLast' | 'ending'>;
  exitNow?: (code: number) => void; // exitNow by default
  exitWhenReturned?: (code: number, waitMs: number) => unknown; // exitWhenReturned by default
  later?: (run: () => void, ms: number) => void; // an unreferenced setTimeout by default
}

// The stop, forced exit and crash of one running elim. The parts it ends are set on
// it as they come to exist (the writers once opened, the child elims once started).
export class Stopper {
  children: Pick<ChildElims, 'kill' | 'groups' | 'close'> | undefined; // the child elims, once started (after the first report)
  writers: { abortHistory(): void; lastWrites(): Array<Promise<unknown> | undefined> } | undefined; // once opened
  priority: { back(): void } | undefined; // the elim's nice, put back for a stop's last steps
  // The exit status a forced exit gave: a stop that ends meanwhile returns it too.
  forcedCode: number | undefined;
  // Why the elim is stopping, once it is.
  stopping: string | undefined;
  // Aborted by the stop.
  readonly signal: AbortSignal;
  // The collectors' and the inventory's signal: the stop, or a forced exit (which must end
  // a GPU query's and the inventory's process groups too).
  readonly groupsSignal: AbortSignal;
  private readonly stopped = new AbortController();
  // Ends the host inventory and a GPU query (each process group killed) at a forced exit;
  // a stop ends them by `signal`.
  private readonly groupsEnd = new AbortController();
  private readonly parts: Required<StopperParts>;

  constructor(parts: StopperParts) {
    this.parts = {
      exitNow,
      exitWhenReturned,
      later: (run, ms) => setTimeout(run, ms).unref(),
      ...parts,
    };
    this.signal = this.stopped.signal;
    this.groupsSignal = AbortSignal.any([this.stopped.signal, this.groupsEnd.signal]);
  }

  // What an exit that cannot wait for the stop (a bug, a second signal, the deadline)
  // ends first: the child elims' groups, the host inventory's and a GPU query's, or what
  // the stop had not ended yet (a helper ignoring SIGTERM, inside its 0.8 s grace; an
  // inventory in its first seconds, a GPU query, a crash not being a stop) ran on under PID 1.
  endGroups(): void {
    this.children?.kill();
    this.groupsEnd.abort();
  }

  // Exits with code without waiting for the stop.
  // The line that says why is queued for libuv's pool, and an exit at once, by SIGKILL
  // while that write was out, lost it: it is given FORCED_FLUSH_MS, and the pool's other
  // writes (the stop's own, going on meanwhile) FORCED_HOLD_MS more before an exit by
  // SIGKILL, both within LIM's 2 s.
  // The history's drain is given up first: readying the file for the stop's last batch
  // (some 20 questions of the pool, each a round trip of the event loop) it outlasted
  // the 150 ms at a load of 18, and the exit was by SIGKILL, not 1, in 2 runs of 5.
  forceExit(code: number): void {
    this.forcedCode ??= code;
    this.endGroups();
    this.writers?.abortHistory();
    void (this.parts.logging.appender?.flush(FORCED_FLUSH_MS) ?? Promise.resolve()).finally(() => this.parts.exitWhenReturned(code, FORCED_HOLD_MS));
  }

  // The handler of a crash (an uncaught exception, an unhandled rejection), `what` naming it.
  // A bug must not die silently: LIM discards stderr, so the reason goes to the log
  // file, written synchronously. Reports are whole or absent (one write each), so an
  // exit here never leaves LIM half a report; LIM marks the host's rank unknown
  // and restarts the elim 90 s after its previous start.
  // Where the log file is not open (its directory gone or refused since), the line
  // waits at most 300 ms for the appender's open, whose walk is asked in libuv's pool.
  // The history records held for the next batch (up to five) and a metrics write under
  // way get the same 300 ms: the crash wrote neither, its exit by SIGKILL while the
  // write was out, and the records were lost without a word (lost71: 3 of 9 reports'
  // records in 4 runs of 4); the history's close tells those it could not write.
  crash(what: string): (err: unknown) => void {
    return (err) => {
      const last: Array<Promise<unknown> | undefined> = [this.parts.logging.fatalLast(`${what}; exiting`, err, 300)];
      try {
        last.push(...(this.writers?.lastWrites() ?? []));
      } catch (failed) {
        this.parts.log.error({ err: errorMessage(failed) }, 'the history records and metrics held at the crash could not be written');
      }
      void Promise.allSettled(last).finally(() => {
        this.endGroups();
        this.parts.exitNow(1);
      });
    };
  }

  // Stops the elim for `why`: the report loop and everything started with `signal` end.
  // A second stop, or one past STOP_DEADLINE_MS, forces the exit with status 1.
  stop(why: string): void {
    const { log } = this.parts;
    if (this.stopping !== undefined) {
      log.warn(`${why} while stopping (${this.stopping}); exiting now`);
      this.forceExit(1);
      return;
    }
    this.stopping = why;
    log.info(`stopping: ${why}`);
    this.parts.logging.ending();
    this.priority?.back();
    this.stopped.abort();
    this.parts.later(() => {
      log.error('shutdown took longer than 1.8 s; forcing exit');
      this.forceExit(1); // by SIGKILL while a link speed read is held in the pool, as process.exit would wait for it
    }, STOP_DEADLINE_MS);
  }

  // The report loop ended by itself (LIM closed the pipe, or went with it): the same
  // stop, without its deadline or a word, unless a stop is under way already.
  ended(reason: string): void {
    if (this.stopping !== undefined) return;
    this.stopping = reason;
    this.priority?.back();
    this.stopped.abort();
  }
}

// Stops on SIGTERM; SIGINT, SIGHUP and SIGQUIT stop the elim on a terminal and are
// logged and ignored under LIM. `on` is process.on but in tests.
export function stopOnSignals(stopper: Pick<Stopper, 'stop'>, interactive: boolean, log: Pick<Logger, 'info'>, on: (signal: NodeJS.Signals, listener: () => void) => void = (signal, listener) => process.on(signal, listener)): void {
  on('SIGTERM', () => stopper.stop('SIGTERM'));
  for (const sig of ['SIGINT', 'SIGHUP', 'SIGQUIT'] as const) {
    // Under LIM these reach the elim only through LIM's process group; LIM itself
    // stops the elim with SIGTERM, so they are ignored there. SIGQUIT's default
    // action, which Node keeps, ended the elim with no word and left its children.
    on(sig, () => (interactive ? stopper.stop(sig) : log.info(`${sig} ignored: only SIGTERM stops the elim under LIM`)));
  }
}
