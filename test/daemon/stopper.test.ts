import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { STOP_DEADLINE_MS, Stopper, stopOnSignals } from '../../src/daemon/stopper.js';

// A Stopper whose exits, timers and log are recorded instead of acted on.
function recorded(): {
  stopper: Stopper;
  lines: string[];
  exits: Array<{ how: 'now' | 'returned'; code: number }>;
  timers: Array<{ run: () => void; ms: number }>;
  ended: string[];
} {
  const lines: string[] = [];
  const exits: Array<{ how: 'now' | 'returned'; code: number }> = [];
  const timers: Array<{ run: () => void; ms: number }> = [];
  const ended: string[] = [];
  const log = {
    info: (m: unknown) => void lines.push(`info ${String(m)}`),
    warn: (m: unknown) => void lines.push(`warn ${String(m)}`),
    error: (a: unknown, b?: unknown) => void lines.push(`error ${String(b ?? a)}`),
  };
  const stopper = new Stopper({
    log: log as never,
    logging: {
      appender: undefined,
      fatalLast: async (message: string) => void lines.push(`fatal ${message}`),
      ending: () => void ended.push('log'),
    },
    exitNow: (code) => void exits.push({ how: 'now', code }),
    exitWhenReturned: (code) => void exits.push({ how: 'returned', code }),
    later: (run, ms) => void timers.push({ run, ms }),
  });
  stopper.children = { kill: () => void ended.push('children'), groups: () => [], close: async () => undefined };
  stopper.writers = { abortHistory: () => void ended.push('history aborted'), lastWrites: () => [Promise.resolve(ended.push('last writes'))] };
  stopper.priority = { back: () => void ended.push('priority back') };
  return { stopper, lines, exits, timers, ended };
}

// Lets the promise chains of an exit settle.
const settled = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('Stopper (the elim\'s stop, forced exit and crash)', () => {
  it('a stop aborts the signal, puts the priority back, tells the log and arms its deadline, exiting nothing yet', async () => {
    const { stopper, lines, exits, timers, ended } = recorded();
    stopper.stop('SIGTERM');
    await settled();
    assert.equal(stopper.signal.aborted, true);
    assert.equal(stopper.groupsSignal.aborted, true);
    assert.equal(stopper.stopping, 'SIGTERM');
    assert.deepEqual(ended, ['log', 'priority back']);
    assert.deepEqual(lines, ['info stopping: SIGTERM']);
    assert.deepEqual(exits, []);
    assert.deepEqual(timers.map((t) => t.ms), [STOP_DEADLINE_MS]);
    assert.equal(stopper.forcedCode, undefined);
  });

  it('a second stop forces the exit with status 1, ending the children and the history first', async () => {
    const { stopper, lines, exits, ended } = recorded();
    stopper.stop('SIGTERM');
    stopper.stop('SIGTERM');
    await settled();
    assert.equal(stopper.forcedCode, 1);
    assert.deepEqual(ended, ['log', 'priority back', 'children', 'history aborted']);
    assert.deepEqual(exits, [{ how: 'returned', code: 1 }]);
    assert.equal(lines[1], 'warn SIGTERM while stopping (SIGTERM); exiting now');
  });

  it('a stop past its deadline forces the exit with status 1', async () => {
    const { stopper, lines, exits, timers } = recorded();
    stopper.stop('parent process 1 is gone');
    timers[0]!.run();
    await settled();
    assert.deepEqual(exits, [{ how: 'returned', code: 1 }]);
    assert.equal(stopper.forcedCode, 1);
    assert.ok(lines.includes('error shutdown took longer than 1.8 s; forcing exit'));
  });

  it('a forced exit aborts the groups\' signal but not the stop\'s', () => {
    const { stopper } = recorded();
    stopper.forceExit(3);
    assert.equal(stopper.groupsSignal.aborted, true);
    assert.equal(stopper.signal.aborted, false);
    assert.equal(stopper.forcedCode, 3);
  });

  it('a crash logs why, writes what the writers hold, then ends the children and exits 1 at once', async () => {
    const { stopper, lines, exits, ended } = recorded();
    stopper.crash('uncaught exception')(new Error('boom'));
    await settled();
    assert.deepEqual(lines, ['fatal uncaught exception; exiting']);
    assert.deepEqual(ended, ['last writes', 'children']);
    assert.deepEqual(exits, [{ how: 'now', code: 1 }]);
  });

  it('a crash whose writers throw still logs that and exits 1', async () => {
    const { stopper, lines, exits } = recorded();
    stopper.writers = { abortHistory: () => undefined, lastWrites: () => { throw new Error('held'); } };
    stopper.crash('unhandled promise rejection')(new Error('boom'));
    await settled();
    assert.ok(lines.includes('error the history records and metrics held at the crash could not be written'));
    assert.deepEqual(exits, [{ how: 'now', code: 1 }]);
  });

  it('a loop that ended by itself stops without a deadline, and does not replace a stop\'s reason', () => {
    const alone = recorded();
    alone.stopper.ended('output-closed');
    assert.equal(alone.stopper.stopping, 'output-closed');
    assert.equal(alone.stopper.signal.aborted, true);
    assert.deepEqual(alone.timers, []);
    assert.deepEqual(alone.ended, ['priority back']);
    const after = recorded();
    after.stopper.stop('SIGTERM');
    after.stopper.ended('aborted');
    assert.equal(after.stopper.stopping, 'SIGTERM');
  });
});

describe('stopOnSignals', () => {
  const handlers = (interactive: boolean): { on: Map<string, () => void>; stops: string[]; lines: string[] } => {
    const on = new Map<string, () => void>();
    const stops: string[] = [];
    const lines: string[] = [];
    stopOnSignals({ stop: (why) => void stops.push(why) }, interactive, { info: (m: unknown) => void lines.push(String(m)) } as never, (sig, listener) => void on.set(sig, listener));
    return { on, stops, lines };
  };

  it('under LIM only SIGTERM stops; SIGINT, SIGHUP and SIGQUIT are logged and ignored', () => {
    const { on, stops, lines } = handlers(false);
    for (const sig of ['SIGINT', 'SIGHUP', 'SIGQUIT', 'SIGTERM']) on.get(sig)!();
    assert.deepEqual(stops, ['SIGTERM']);
    assert.deepEqual(lines, ['SIGINT', 'SIGHUP', 'SIGQUIT'].map((sig) => `${sig} ignored: only SIGTERM stops the elim under LIM`));
  });

  it('on a terminal SIGINT, SIGHUP and SIGQUIT stop the elim too', () => {
    const { on, stops } = handlers(true);
    for (const sig of ['SIGINT', 'SIGHUP', 'SIGQUIT']) on.get(sig)!();
    assert.deepEqual(stops, ['SIGINT', 'SIGHUP', 'SIGQUIT']);
  });
});
