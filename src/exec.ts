// The one place lavarank runs other programs. Every command goes through execa
// with an argument vector (never a shell), a timeout, and the daemon's abort
// signal, so nothing it starts can outlive it or hang it. execa is imported
// lazily: a daemon with no GPU and no child elims never loads it.
import { accessSync, constants, statSync } from 'node:fs';
import { join } from 'node:path';
import type { ResultPromise } from 'execa';

export interface RunOptions {
  timeoutMs: number;
  signal?: AbortSignal;
  maxBufferBytes?: number;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
}

export interface RunResult {
  stdout: string;
  stderr: string;
  exitCode: number | undefined;
  failed: boolean;
  timedOut: boolean;
  // Why it failed, in one line (not found, timed out, killed, exit code).
  reason?: string;
}

// Time execa gives a command between SIGTERM and SIGKILL.
const FORCE_KILL_AFTER_MS = 1000;

// Runs file with args to completion and returns its output; never throws for the
// command's own failure (the result says why), only for invalid options.
export async function runCommand(file: string, args: readonly string[], options: RunOptions): Promise<RunResult> {
  if (!Number.isFinite(options.timeoutMs) || options.timeoutMs <= 0) {
    throw new TypeError(`runCommand: timeoutMs must be a positive number, received ${String(options.timeoutMs)}`);
  }
  const { execa } = await import('execa');
  const result = await execa(file, args, {
    shell: false,
    reject: false,
    stdin: 'ignore',
    timeout: options.timeoutMs,
    forceKillAfterDelay: FORCE_KILL_AFTER_MS,
    cleanup: false, // lavarank ends its children itself; execa's exit hooks would also fire on ignored signals
    maxBuffer: options.maxBufferBytes ?? 1024 * 1024,
    stripFinalNewline: false,
    ...(options.signal === undefined ? {} : { cancelSignal: options.signal }),
    ...(options.env === undefined ? {} : { env: options.env, extendEnv: false }),
    ...(options.cwd === undefined ? {} : { cwd: options.cwd }),
  });
  const stdout = typeof result.stdout === 'string' ? result.stdout : '';
  const stderr = typeof result.stderr === 'string' ? result.stderr : '';
  const out: RunResult = {
    stdout,
    stderr,
    exitCode: result.exitCode,
    failed: result.failed,
    timedOut: result.timedOut,
  };
  if (result.failed) out.reason = result.shortMessage;
  return out;
}

export interface SpawnOptions {
  signal: AbortSignal;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
}

export type ChildProcess = ResultPromise<{ stdin: 'ignore'; stdout: 'pipe'; stderr: 'ignore'; buffer: false; reject: false }>;

// Starts a long-running child (a site's own elim) whose stdout is read as a stream.
// Aborting signal sends SIGTERM, then SIGKILL after a second. The subprocess is
// returned inside an object: it is a thenable, so an async function returning it
// bare would resolve only when the process exits, with no stream left to read.
export async function spawnLongRunning(
  file: string,
  args: readonly string[],
  options: SpawnOptions,
): Promise<{ child: ChildProcess }> {
  const { execa } = await import('execa');
  const child = execa(file, args, {
    shell: false,
    reject: false,
    stdin: 'ignore',
    stdout: 'pipe',
    stderr: 'ignore',
    buffer: false,
    cleanup: false,
    forceKillAfterDelay: FORCE_KILL_AFTER_MS,
    cancelSignal: options.signal,
    ...(options.env === undefined ? {} : { env: options.env, extendEnv: false }),
    ...(options.cwd === undefined ? {} : { cwd: options.cwd }),
  });
  return { child };
}

// Where `command` would be found (itself if it names a path, else the first match on
// PATH), or undefined when no executable file is there. Reads the filesystem only:
// callers use it to avoid loading execa at all for a program that is not installed.
export function findExecutable(command: string, pathVar: string = process.env['PATH'] ?? ''): string | undefined {
  const candidates = command.includes('/') ? [command] : pathVar.split(':').filter((d) => d !== '').map((d) => join(d, command));
  for (const candidate of candidates) {
    try {
      accessSync(candidate, constants.X_OK);
      if (statSync(candidate).isFile()) return candidate;
    } catch {
      // not here: try the next PATH entry
    }
  }
  return undefined;
}
