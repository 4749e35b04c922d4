// Small questions about paths that several folders ask.
import { statSync } from 'node:fs';

// True when path names an existing directory (following symbolic links).
export function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false; // missing, unreadable or a dangling link: not a directory lavarank can use
  }
}
