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

// The message of any thrown value, for logs.
export function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}

// The errno code of a Node system error, if it has one.
export function errorCode(err: unknown): string | undefined {
  if (typeof err === 'object' && err !== null && 'code' in err) {
    const code = (err as { code: unknown }).code;
    return typeof code === 'string' ? code : undefined;
  }
  return undefined;
}
