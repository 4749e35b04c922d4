// How lavarank's own elim is recognised on disk: the wrapper `lavarank install`
// writes into $LSF_SERVERDIR carries a mark on its second line, and runs the
// program dist/src/cli.js. A site that lists that wrapper (or the program) among
// its child elims would have lavarank start itself again and again without end.
import { closeSync, readSync, realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { UsageError } from '../util/errors.js';
import { openRegular } from '../util/paths.js';

// The line that tells lavarank's wrapper from a site's own elim.
export const WRAPPER_MARK = 'lavarank elim wrapper';

// Set by the wrapper to LIM's pid ($PPID, as the shell found it at once), which the
// daemon watches: Node takes a few hundred ms to reach lavarank's code, and a LIM
// killed meanwhile would leave the daemon no parent to miss.
export const LIM_PID_ENV = 'LAVARANK_LIM_PID';

// The options of `lavarank run`, the command line LIM gives the wrapper from ELIMARGS:
// run parses its own with them, and check parses ELIMARGS with them, so that an
// ELIMARGS the elim refuses (it then exits at every start) is found before LIM runs it.
export const RUN_OPTIONS = {
  config: { type: 'string' },
  'no-history': { type: 'boolean' },
  'test-interval': { type: 'string' },
  'test-keep-open': { type: 'boolean' },
  'test-startup-deadline': { type: 'string' },
  help: { type: 'boolean' },
} as const;

// Seconds from --test-interval or $LAVARANK_TEST_INTERVAL: fast reports for tests only.
// run refuses a value out of range before it starts, and check judges ELIMARGS by it.
export function testInterval(flag: string | undefined, env: NodeJS.ProcessEnv): number | undefined {
  const raw = flag ?? env['LAVARANK_TEST_INTERVAL'];
  if (raw === undefined || raw === '') return undefined;
  const seconds = Number(raw);
  if (!Number.isFinite(seconds) || seconds < 0.05 || seconds > 3600) {
    throw new UsageError(`--test-interval / $LAVARANK_TEST_INTERVAL: expected seconds from 0.05 to 3600, received ${JSON.stringify(raw)}`);
  }
  return seconds;
}

// The pid LIM_PID_ENV names in env, or undefined when it names none.
export function limPid(env: NodeJS.ProcessEnv): number | undefined {
  const text = env[LIM_PID_ENV];
  return text !== undefined && /^[1-9]\d{0,9}$/.test(text) ? Number(text) : undefined;
}

// The program LIM's wrapper runs: dist/src/cli.js (this file is dist/src/lsf/wrapper.js).
export function entryPoint(): string {
  return fileURLToPath(new URL('../cli.js', import.meta.url));
}

function realOrSelf(path: string): string {
  try {
    return realpathSync(path);
  } catch {
    return path;
  }
}

// The first bytes of a regular file, or '' when it is none or cannot be read. Asked
// of a child elim's program whether or not it passed its trust check: a device or a
// FIFO another user's link names there is never opened (openRegular).
function head(path: string, bytes = 4096): string {
  let fd: number;
  try {
    fd = openRegular(path);
  } catch {
    return '';
  }
  try {
    const buf = Buffer.alloc(bytes);
    return buf.toString('latin1', 0, readSync(fd, buf, 0, bytes, 0));
  } catch {
    return '';
  } finally {
    closeSync(fd);
  }
}

// Why the program `file` run with `args` is lavarank itself, or undefined if it is
// not: a wrapper of any lavarank install (by its mark), this install's program, or
// any program given this install's program as an argument (node .../cli.js run).
export function selfReference(file: string, args: readonly string[]): string | undefined {
  const entry = realOrSelf(entryPoint());
  if (realOrSelf(file) === entry) return `${file} is lavarank's own program`;
  const text = head(file);
  if (text.startsWith('#!') && (text.includes(WRAPPER_MARK) || text.includes(entry))) return `${file} is lavarank's own elim wrapper`;
  const arg = args.find((a) => a.startsWith('/') && realOrSelf(a) === entry);
  if (arg !== undefined) return `${file} is given lavarank's own program ${arg}`;
  return undefined;
}
