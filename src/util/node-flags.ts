// The Node.js options the elim runs with, put in the installed wrapper (and used by
// `npm start`, the benchmark, the soak and the end-to-end tests, so they measure
// what LIM runs). --lite-mode keeps V8 from compiling optimised code: the elim's
// hot path is a fraction of a millisecond every 10 s, so optimising it saves
// nothing worth having, while the optimised code grows the resident set for hours
// (measured: 50.5 MB flat with it; 60 MB after a minute and still growing without,
// for 0.1-0.2 ms more CPU per report). --no-expose-wasm: lite mode implies it, and
// V8 would otherwise print a warning about the conflict.
export const DAEMON_NODE_FLAGS: readonly string[] = ['--lite-mode', '--no-expose-wasm'];
