// A JSON-lines logger that writes the records pino writes with lavarank's options (the
// level's label, an ISO time, pid, hostname, name, the fields, msg), for the part of
// pino's interface lavarank uses. pino loads worker_threads, assert, sonic-boom,
// thread-stream and a dozen modules more at require time, for transports and
// destinations the daemon never uses: 0.9-1.4 MB of the elim's resident set (2.6-3.2 MB
// of a bare node's), whose target is 50 MB (docs/collectors.md, issue 16's fourteenth
// pass). pino stays the reference, a development dependency: test/util/logger.test.ts
// holds these lines byte for byte to pino's own under the same options.
import { hostname } from 'node:os';

// The levels, most verbose first, with pino's numbers; silent logs nothing.
const LEVELS = { trace: 10, debug: 20, info: 30, warn: 40, error: 50, fatal: 60, silent: Number.POSITIVE_INFINITY } as const;

// A level's name, as log.level takes it.
export type LevelName = keyof typeof LEVELS;

// One level's method: fields and a message, or a message alone.
export interface LogFn {
  (fields: object, msg?: string): void;
  (msg: string): void;
}

// What lavarank's code logs through; pino's own Logger has these too, so a test may pass one.
export interface Logger {
  readonly level: string;
  isLevelEnabled(level: string): boolean;
  trace: LogFn;
  debug: LogFn;
  info: LogFn;
  warn: LogFn;
  error: LogFn;
  fatal: LogFn;
}

// How a logger is made: its level, name, and where each record (one line, with its "\n") goes.
export interface LoggerOptions {
  level: LevelName;
  name: string;
  write: (record: string) => void;
  time: () => string; // the time's text, as in ,"time":"..."; a parameter so tests pass a fixed one
}

// Whether pino's err serializer treats a value as an error: anything with a string message.
function isErrorLike(value: unknown): value is { message: string } {
  return (typeof value === 'object' || typeof value === 'function') && value !== null && typeof (value as { message?: unknown }).message === 'string';
}

// An error's cause as pino-std-serializers reads it: the cause property, or what a
// VError-style cause() returns, where that is error-like.
function errorCause(err: object): { message: string } | undefined {
  const cause = (err as { cause?: unknown }).cause;
  const found = typeof cause === 'function' ? (cause as () => unknown).call(err) : cause;
  return isErrorLike(found) ? found : undefined;
}

// The message and its causes' messages, joined with ': ' (none after a VError-style
// cause, whose message holds its cause's already), as pino's messageWithCauses.
function messageWithCauses(err: { message: string }, seen = new Set<object>(), skip = false): string {
  const message = skip ? '' : err.message;
  if (seen.has(err)) return `${message}: ...`;
  const cause = errorCause(err);
  if (cause === undefined) return message;
  seen.add(err);
  const vError = typeof (err as { cause?: unknown }).cause === 'function';
  return message + (vError ? '' : ': ') + messageWithCauses(cause, seen, vError);
}

// The stack and its causes' stacks, each after "caused by: ", as pino's stackWithCauses
// (which returns a stack that is not a string as it is, where there is no cause).
function stackWithCauses(err: { message: string }, seen = new Set<object>()): unknown {
  const stack: unknown = (err as { stack?: unknown }).stack || '';
  if (seen.has(err)) return (stack as string) + '\ncauses have become circular...';
  const cause = errorCause(err);
  if (cause === undefined) return stack;
  seen.add(err);
  return (stack as string) + '\ncaused by: ' + (stackWithCauses(cause, seen) as string);
}

// An error's fields as pino's err serializer (pino-std-serializers 7, lib/err.js) gives
// them: type, message and stack with their causes', an AggregateError's errors, then its
// other enumerable fields, an error-like one serialized so too unless it is the cause
// (already in message and stack) or an error being serialized (a cycle). raw is pino's
// own (non-enumerable, a getter never undefined), so an error's own raw is never written.
function errorFields(err: { message: string }, inProgress = new Set<object>()): Record<string, unknown> {
  inProgress.add(err);
  const constructor = (err as { constructor?: unknown }).constructor;
  const out: Record<string, unknown> = {
    type: Object.prototype.toString.call(constructor) === '[object Function]' ? (constructor as { name: unknown }).name : (err as { name?: unknown }).name,
    message: messageWithCauses(err),
    stack: stackWithCauses(err),
  };
  const errors = (err as { errors?: unknown }).errors;
  // pino recurses here without its cycle check, and overflows the stack on an
  // AggregateError that holds itself; a log line must not throw, so that one is null.
  if (Array.isArray(errors)) out['aggregateErrors'] = errors.map((e: unknown) => (isErrorLike(e) ? (inProgress.has(e) ? null : errorFields(e, inProgress)) : e));
  for (const key in err) {
    if (out[key] !== undefined || key === 'raw') continue;
    const value = (err as Record<string, unknown>)[key];
    if (!isErrorLike(value)) out[key] = value;
    else if (key !== 'cause' && !inProgress.has(value)) out[key] = errorFields(value, inProgress);
  }
  inProgress.delete(err);
  return out;
}

// A value as pino writes it, undefined where pino leaves the field out; ancestors are the
// objects it lies inside, given only past a value JSON.stringify refused.
function valueText(value: unknown, ancestors?: object[]): string | undefined {
  switch (typeof value) {
    case 'undefined':
    case 'function':
    case 'symbol':
      return undefined;
    case 'number':
      return Number.isFinite(value) ? String(value) : 'null';
    case 'boolean':
    case 'bigint': // as safe-stable-stringify, pino's fallback, writes it
      return String(value);
    case 'string':
      return JSON.stringify(value);
    default:
      if (ancestors !== undefined) return structureText(value as object | null, ancestors);
      try {
        return JSON.stringify(value);
      } catch {
        // A cycle or a BigInt inside, which JSON.stringify throws at and pino writes through
        // safe-stable-stringify: the rest of the field is kept, and a log line never throws.
        return structureText(value as object | null, []);
      }
  }
}

// An object or null as JSON.stringify writes it, but a cycle back to one of its
// ancestors written "[Circular]" and a BigInt as its digits, as safe-stable-stringify.
// As both, toJSON's result is written as it is, its own toJSON not called (replaced):
// one that returns its object (`toJSON() { return this; }`) recursed here for good.
function structureText(value: object | null, ancestors: object[], replaced = false): string | undefined {
  if (value === null) return 'null';
  const json = (value as { toJSON?: unknown }).toJSON;
  if (!replaced && typeof json === 'function') {
    const result: unknown = (json as () => unknown).call(value);
    return typeof result === 'object' ? structureText(result, ancestors, true) : valueText(result, ancestors);
  }
  if (ancestors.includes(value)) return '"[Circular]"';
  ancestors.push(value);
  let text: string;
  if (Array.isArray(value)) text = `[${value.map((item: unknown) => valueText(item, ancestors) ?? 'null').join(',')}]`;
  else {
    const parts: string[] = [];
    for (const key of Object.keys(value)) {
      const item = valueText((value as Record<string, unknown>)[key], ancestors);
      if (item !== undefined) parts.push(`${JSON.stringify(key)}:${item}`);
    }
    text = `{${parts.join(',')}}`;
  }
  ancestors.pop();
  return text;
}

// What pino writes for a field that safe-stable-stringify cannot write either (a getter
// or a toJSON that throws, a Proxy that refuses its keys). pino throws where an err's own
// getter does; a log line here never throws, so such an err is written so too.
const UNSERIALIZABLE = '"[unable to serialize, circular reference is too complex to analyze]"';

// One record as a line, fields in their own order after the logger's, as pino orders them.
function record(head: string, fields: object | undefined, msg: string | undefined): string {
  let line = head;
  if (fields !== undefined) {
    for (const key of Object.keys(fields)) {
      let text: string | undefined;
      try {
        let value = (fields as Record<string, unknown>)[key];
        if (value === undefined) continue;
        if (key === 'err' && isErrorLike(value)) value = errorFields(value);
        text = valueText(value);
      } catch {
        text = UNSERIALIZABLE;
      }
      if (text !== undefined) line += `,${JSON.stringify(key)}:${text}`;
    }
  }
  if (msg !== undefined) line += `,"msg":${JSON.stringify(msg)}`;
  return `${line}}\n`;
}

// A logger writing one JSON line a record to options.write.
export function createLogger(options: LoggerOptions): Logger {
  const threshold = Object.hasOwn(LEVELS, options.level) ? LEVELS[options.level] : undefined;
  if (threshold === undefined) throw new TypeError(`log level must be one of ${Object.keys(LEVELS).join(', ')}, received ${JSON.stringify(options.level)}`);
  const bindings = `,"pid":${process.pid},"hostname":${JSON.stringify(hostname())},"name":${JSON.stringify(options.name)}`;
  const method = (label: Exclude<LevelName, 'silent'>): LogFn => {
    if (LEVELS[label] < threshold) return () => undefined;
    const head = `{"level":"${label}"`;
    return (first: object | string, msg?: string): void => {
      let fields: object | undefined;
      if (typeof first === 'string') msg = first;
      else if (first === null || first === undefined) fields = undefined; // pino writes the message alone
      else if (first instanceof Error) {
        fields = { err: first };
        msg ??= first.message;
      } else {
        fields = first;
        const err = (first as { err?: unknown; msg?: unknown }).err;
        if (msg === undefined && (first as { msg?: unknown }).msg === undefined && err instanceof Object) msg = (err as { message?: string }).message;
      }
      options.write(record(head + options.time() + bindings, fields, msg));
    };
  };
  return {
    level: options.level,
    isLevelEnabled: (level) => Object.hasOwn(LEVELS, level) && LEVELS[level as LevelName] >= threshold,
    trace: method('trace'),
    debug: method('debug'),
    info: method('info'),
    warn: method('warn'),
    error: method('error'),
    fatal: method('fatal'),
  };
}
