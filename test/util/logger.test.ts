import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { pino } from 'pino';
import { createLogger, type LevelName, type Logger } from '../../src/util/logger.js';

const TIME = ',"time":"2026-12-07T19:30:00.123Z"';
const LABELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal'] as const;

// The same logger twice: lavarank's and pino with the options lavarank gave it before.
function pair(level: LevelName, name = 'lavarank'): { ours: Logger; theirs: Logger; lines: { ours: string[]; theirs: string[] } } {
  const lines = { ours: [] as string[], theirs: [] as string[] };
  const ours = createLogger({ level, name, time: () => TIME, write: (s) => void lines.ours.push(s) });
  const theirs = pino({ timestamp: () => TIME, formatters: { level: (label: string) => ({ level: label }) }, level, name }, { write: (s: string) => void lines.theirs.push(s) });
  return { ours, theirs, lines };
}

// Field values of the kinds lavarank logs: text, numbers (not finite too), flags, lists and objects.
const value = fc.letrec((tie) => ({
  leaf: fc.oneof(fc.string({ unit: 'binary', maxLength: 50 }), fc.double(), fc.constantFrom(Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, -0), fc.integer(), fc.boolean(), fc.constant(null), fc.constant(undefined)),
  node: fc.oneof({ depthSize: 'small' }, tie('leaf'), fc.array(tie('node'), { maxLength: 4 }), fc.dictionary(fc.string({ maxLength: 8 }), tie('node'), { maxKeys: 4 })),
})).node;

describe('createLogger', () => {
  it('writes, byte for byte, the line pino wrote with lavarank options, for any fields and message', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...LABELS),
        fc.constantFrom(...LABELS),
        fc.option(fc.dictionary(fc.string({ unit: 'binary', maxLength: 10 }), value, { maxKeys: 6 }), { nil: undefined }),
        fc.option(fc.string({ unit: 'binary', maxLength: 60 }), { nil: undefined }),
        (level, at, fields, msg) => {
          const { ours, theirs, lines } = pair(level);
          if (fields === undefined) {
            ours[at](msg ?? '');
            theirs[at](msg ?? '');
          } else {
            ours[at](fields, msg);
            theirs[at](fields, msg);
          }
          assert.deepEqual(lines.ours, lines.theirs);
        },
      ),
      { numRuns: 3000 },
    );
  });

  it('names an error logged as err, with its message as the message, as pino does', () => {
    const { ours, theirs, lines } = pair('info', 'check');
    const err = Object.assign(new RangeError('too far'), { code: 'EFAR' });
    ours.error({ err });
    theirs.error({ err });
    ours.warn({ err: 'a string' }, 'said');
    theirs.warn({ err: 'a string' }, 'said');
    assert.deepEqual(lines.ours, lines.theirs);
    assert.match(lines.ours[0]!, /"err":\{"type":"RangeError","message":"too far","stack":"RangeError: too far\\n.*"code":"EFAR"\},"msg":"too far"\}\n$/);
  });

  it('writes a record holding a cycle or a BigInt without throwing, as a line of JSON', () => {
    const lines: string[] = [];
    const log = createLogger({ level: 'info', name: 'lavarank', time: () => TIME, write: (s) => void lines.push(s) });
    const cycle: Record<string, unknown> = { a: 1 };
    cycle['self'] = cycle;
    log.info({ cycle, big: 12n, inside: { big: 3n } }, 'odd fields');
    assert.equal(lines.length, 1);
    const rec = JSON.parse(lines[0]!) as Record<string, unknown>;
    assert.equal(rec['big'], 12);
    assert.equal(rec['msg'], 'odd fields');
    assert.equal(typeof rec['cycle'], 'string');
  });

  it('answers isLevelEnabled as pino does, silent included', () => {
    for (const level of [...LABELS, 'silent'] as const) {
      const { ours, theirs } = pair(level);
      for (const asked of [...LABELS, 'silent', 'verbose', 'constructor']) assert.equal(ours.isLevelEnabled(asked), theirs.isLevelEnabled(asked), `${level} asked ${asked}`);
      assert.equal(ours.level, level);
    }
  });

  it('refuses a level it does not have, naming it', () => {
    assert.throws(() => createLogger({ level: 'verbose' as LevelName, name: 'x', time: () => TIME, write: () => undefined }), /log level must be one of trace, .*, received "verbose"/);
  });
});
