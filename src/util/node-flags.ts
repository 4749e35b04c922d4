// The Node.js options the elim runs with, put in the installed wrapper (and used by
// `npm start`, the benchmark, the soak and the end-to-end tests, so they measure
// what LIM runs). --lite-mode keeps V8 from compiling optimised code: the elim's
// hot path is a fraction of a millisecond every 10 s, so optimising it saves
// nothing worth having, while the optimised code grows the resident set for hours
// (measured: 50.5 MB flat with it; 60 MB after a minute and still growing without,
// for 0.1-0.2 ms more CPU per report). --no-expose-wasm: lite mode implies it, and
// V8 would otherwise print a warning about the conflict. --no-memory-reducer: between
// two reports the process is idle, which V8's memory reducer takes as the moment to
// give the young generation's pages back to the kernel, so every report faulted in
// fresh pages again (56 minor faults per report against 17 without it) and woke GC
// threads; measured side by side on a generated 128-CPU node (2-3 s test interval),
// it cost 0.6-1.8 ms of CPU per report, for 1-1.5 MB less RSS (48 against 49-49.5 MB,
// flat over 10 minutes at 1 s). Old-generation collections still run as the heap fills.
// --single-threaded-gc: the heap is a few MB, so V8's helper threads cost more to wake
// than the work they take over; collecting on the main thread saved 0.1-0.4 ms of CPU
// per report side by side, and the elim no longer wakes four threads on a node whose
// CPUs belong to jobs. A pause of a few ms every few reports does not matter at 10 s.
// Sparkplug without the optimiser saved up to 10 % per report (not in every round) but took RSS to 51 MB.
// WebAssembly scanners would need --jitless off, and Liftoff's code paged in took 1.3 MB more RSS (stop 54).
// Compiling only the scanners (--turbo-filter=scan*): a quarter less per report on a
// 128-CPU node, still twice the floor, and 3.7 MiB of the compiler's code paged in from
// the node binary took RSS to 53-54 MiB; Sparkplug for them alone saved 8-14 % for 0.8 MiB
// (docs/collectors.md, "V8's compilers for the scanners alone").
// --jitless instead of --lite-mode (no optimize-for-size) saved nothing and took RSS to 52.7 MB;
// --no-lazy-feedback-allocation saved nothing.
// --expose-gc: without the memory reducer, what start-up leaves behind stays resident;
// the daemon runs two full collections at its third report (src/daemon/run.ts), which
// took its resident set from 52.5 to 49.6 MB (10^6 bytes) on a 2-vCPU VM, and kept it
// 1-3 MB under the same daemon without them over the next 21 minutes. No code but
// lavarank's runs in the process: model and config files are data, never evaluated.
// `npm run bench:flags` measures other flags against these, side by side.
// --inspect-port=192.0.2.1:9229: at SIGUSR1 Node 20 (which has no --disable-sigusr1)
// opens its inspector, on 127.0.0.1:9229 by default, where any local user could run
// code as root. lavarank's own SIGUSR1 listener replaces Node's once `run` starts, but
// not in the first 0.15-0.2 s of start-up. This address (TEST-NET-1, RFC 5737, never
// assigned to a host) makes the inspector fail to bind ("address not available"), and
// even where net.ipv4.ip_nonlocal_bind lets it bind, no packet to it is delivered here.
// It does not start the inspector; it only says where one would listen.
export const INSPECTOR_NOWHERE = '192.0.2.1:9229';
// The Node.js options the daemon runs with (see the comment at the top of this file).
export const DAEMON_NODE_FLAGS: readonly string[] = ['--lite-mode', '--no-expose-wasm', '--no-memory-reducer', '--single-threaded-gc', '--expose-gc', `--inspect-port=${INSPECTOR_NOWHERE}`];

// What every Node process lavarank itself starts is given (the daemon's host inventory,
// calibrate's stressors and probe, all root's): its inspector has nowhere to listen in
// the start-up before keepInspectorClosed runs.
export const CHILD_NODE_FLAGS: readonly string[] = [`--inspect-port=${INSPECTOR_NOWHERE}`];

// Replaces Node's SIGUSR1 handler, which opens the inspector on 127.0.0.1:9229 for any
// local user to run code in, with a listener of lavarank's own that does nothing: for
// every lavarank program, not the daemon alone. calibrate and its stressors run as root
// for hours, and one `pkill -USR1 node` gave a user root in a stressor.
export function keepInspectorClosed(): void {
  process.on('SIGUSR1', () => undefined);
}
