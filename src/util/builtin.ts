// Node built-ins that stay unloaded until first needed: each, once loaded, stays resident
// for the process's life (node:child_process 0.6 MB, node:net 0.2-0.4 MB, node:tty loads
// node:net), and an elim under LIM with no GPU needs none of them. require, not import():
// spawn, isatty and the socket wrapper are synchronous, and a built-in is in the binary.
import { createRequire } from 'node:module';

const requireHere = createRequire(import.meta.url);

// A getter for one built-in, typed by its caller (`typeof import('node:net')`), that requires
// it at its first call and returns the same module after; which built-ins load so is the
// callers' business, and only util/exec.ts may ask for node:child_process (layout.test).
export function lazyBuiltin<T>(name: `node:${string}`): () => T {
  let loaded: T | undefined;
  return () => (loaded ??= requireHere(name) as T);
}
