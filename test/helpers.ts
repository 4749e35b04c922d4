// Shared helpers for tests: paths into the repository, captured logs, temp dirs.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pino, type Logger } from 'pino';

// The repository root (tests run from dist/test/...).
export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

// A path under test/fixtures/.
export function fixture(...parts: string[]): string {
  return join(repoRoot, 'test', 'fixtures', ...parts);
}

// The built CLI.
export const cliPath = join(repoRoot, 'dist', 'src', 'cli.js');

export interface CapturedLog {
  log: Logger;
  lines: Array<Record<string, unknown> & { msg?: string; level?: string }>;
  messages(): string[];
}

// A pino logger whose records are kept in memory, parsed.
export function captureLog(level = 'debug'): CapturedLog {
  const lines: CapturedLog['lines'] = [];
  const log = pino(
    { level, formatters: { level: (label: string) => ({ level: label }) } },
    { write: (s: string) => lines.push(JSON.parse(s) as CapturedLog['lines'][number]) },
  );
  return { log, lines, messages: () => lines.map((l) => String(l.msg)) };
}

// A fresh temporary directory, removed by the returned cleanup function.
export function tempDir(prefix = 'lavarank-test-'): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}
