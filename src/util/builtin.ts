// Node built-ins that stay unloaded until first needed: each, once loaded, stays resident
// for the process's life (node:child_process 0.6 MB, node:net 0.2-0.4 MB, node:tty loads
// node:net), and an elim under LIM with no GPU needs none of them. require, not import():
// spawn, isatty and the socket wrapper are synchronous, and a built-in is in the binary.
import { createRequire } from 'node:module';

// The built-ins loaded lazily, by name, with their types.
interface LazyBuiltins {
  'node:child_process': typeof import('node:child_process');
  'node:net': typeof import('node:net');
  'node:tty': typeof import('node:tty');
}

const requireHere = createRequire(import.meta.url);

// A getter for one built-in that requires it at its first call and returns the same module after.
export function lazyBuiltin<K extends keyof LazyBuiltins>(name: K): () => LazyBuiltins[K] {
  let loaded: LazyBuiltins[K] | undefined;
  return () => (loaded ??= requireHere(name) as LazyBuiltins[K]);
}
