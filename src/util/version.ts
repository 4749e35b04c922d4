// The version of this build, from package.json next to dist/.
import { readFileSync } from 'node:fs';

function readVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version?: unknown };
    return typeof pkg.version === 'string' ? pkg.version : 'unknown';
  } catch {
    return 'unknown'; // package.json not shipped next to dist/
  }
}

// This build's version, as --version prints it; 'unknown' without package.json.
export const VERSION = readVersion();
