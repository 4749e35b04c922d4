import { constants as osConstants } from 'node:os';
import { getSystemErrorMap } from 'node:util';

// The few error classes lavarank raises. Each names what was wrong and where,
// and keeps the underlying error as `cause`.

// A configuration file or value that cannot be used. `problems` lists every
// problem found, so `lavarank check` can print them all at once.
export class ConfigError extends Error {
  override name = 'ConfigError';
  readonly problems: readonly string[];
  constructor(message: string, options: { problems?: readonly string[]; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.problems = options.problems ?? [message];
  }
}

// A command line that is wrong in itself: an option's value malformed or out of
// range, options that contradict each other, an output option naming one of the
// command's own inputs. The commands exit 2 for it, and 1 for every other error
// (README, "Exit statuses"); a subclass, so that whatever takes any ConfigError
// (the daemon's start, check) still does.
export class UsageError extends ConfigError {
  override name = 'UsageError';
}

// A model file that cannot be used: unreadable, malformed, or not matching this build.
export class ModelError extends Error {
  override name = 'ModelError';
  // Refused for something outside the file's text (a directory others may write):
  // the same file may be taken once that is fixed.
  readonly refused: boolean;
  constructor(message: string, options: { cause?: unknown; refused?: boolean } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.refused = options.refused ?? false;
  }
}

// A collector that could not read or parse what the kernel gave it.
export class CollectorError extends Error {
  override name = 'CollectorError';
  readonly collector: string;
  constructor(collector: string, message: string, options: { cause?: unknown } = {}) {
    super(`${collector}: ${message}`, options.cause === undefined ? undefined : { cause: options.cause });
    this.collector = collector;
  }
}

// Input data (accounting file, history, child elim output) that does not parse.
export class ParseError extends Error {
  override name = 'ParseError';
  readonly where: string;
  constructor(where: string, message: string, options: { cause?: unknown } = {}) {
    super(`${where}: ${message}`, options.cause === undefined ? undefined : { cause: options.cause });
    this.where = where;
  }
}

// The message of any thrown value, for logs. A system error libuv has no name for
// keeps Node's message with the errno's name and meaning in place of its number.
export function errorMessage(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const unnamed = unnamedErrno(err);
  if (unnamed === undefined) return err.message;
  const { errno, name } = unnamed;
  const words = errnoWords(name) ?? 'unknown error';
  return err.message.replace(`Unknown system error ${errno}: Unknown system error ${errno}`, `${name}: ${words}`);
}

// The errno code of a Node system error, if it has one. libuv knows no name for some
// errnos Linux returns (EDQUOT, a disk quota, in Node 20), and Node then sets `code` to
// "Unknown system error -122": the name is taken from the number instead.
export function errorCode(err: unknown): string | undefined {
  if (typeof err === 'object' && err !== null && 'code' in err) {
    const code = (err as { code: unknown }).code;
    if (typeof code !== 'string') return undefined;
    return unnamedErrno(err)?.name ?? code;
  }
  return undefined;
}

// The reason of an error in a message: a system error as its errno's name and what it
// means ("ENOSPC (no space left on device)"), since a bare code tells an administrator
// little; any other error (one of lavarank's own, given an errno's code for its callers)
// as its message. The message around it names the file and the operation.
export function errorReason(err: unknown): string {
  const code = errorCode(err);
  const named = code === undefined ? undefined : errnoReason(code);
  if (named !== undefined && isSystemError(err, code ?? '')) return named;
  return errorMessage(err);
}

// An errno's name with what it means ("EACCES (permission denied)"), as errorReason
// words a system error, or undefined for a name that is no errno: for an errno known
// by its name alone (a code kept from a read, os.setPriority's info.code).
export function errnoReason(name: string): string | undefined {
  const words = errnoWords(name);
  return words === undefined ? undefined : `${name} (${words})`;
}

// What an errno name means, in libuv's words (its strerror text), or undefined for a
// name that is no errno.
export function errnoWords(name: string): string | undefined {
  const errno = (osConstants.errno as Record<string, number | undefined>)[name];
  if (errno === undefined) return undefined;
  return systemErrors().get(-errno)?.[1] ?? MISSING_WORDS[name] ?? 'unknown error';
}

// libuv's table of errnos, taken once: Node's getSystemErrorMap builds a new Map of
// every entry at each call (about 150 000 instructions), and a reader of a file that is
// absent as a normal state (no PSI on RHEL 8 and 9, a cgroup's limit file) words the
// error at each failed open, so each report paid it once per absent file.
let systemErrorMap: ReadonlyMap<number, [string, string]> | undefined;
function systemErrors(): ReadonlyMap<number, [string, string]> {
  systemErrorMap ??= getSystemErrorMap();
  return systemErrorMap;
}

// Meanings of the errnos libuv has no entry for, as glibc's strerror gives them.
const MISSING_WORDS: Readonly<Record<string, string>> = {
  EDQUOT: 'disk quota exceeded',
  ESTALE: 'stale file handle',
  ENOLCK: 'no locks available',
  EBADMSG: 'bad message',
  EDEADLK: 'resource deadlock avoided',
  ENOLINK: 'link has been severed',
  ETIME: 'timer expired',
};

// Node's system errors carry the errno's number, and their message begins with its code.
function isSystemError(err: unknown, code: string): boolean {
  if (typeof (err as { errno?: unknown }).errno === 'number') return true;
  return errorMessage(err).startsWith(`${code}: `);
}

const ERRNO_NAMES: ReadonlyMap<number, string> = new Map(Object.entries(osConstants.errno).map(([name, n]) => [n, name]));

// The errno of a system error whose code Node could not name, with the name Linux gives it.
function unnamedErrno(err: object): { errno: number; name: string } | undefined {
  const { code, errno } = err as { code?: unknown; errno?: unknown };
  if (typeof errno !== 'number' || typeof code !== 'string' || !code.startsWith('Unknown system error')) return undefined;
  const name = ERRNO_NAMES.get(-errno);
  return name === undefined ? undefined : { errno, name };
}
