// Loaded into the daemon with --import by `npm run soak` (scripts/soak.ts), never
// otherwise: every $LAVARANK_SOAK_EVERY_MS, a forced GC (node --expose-gc) and one
// JSON line of memory figures appended to $LAVARANK_SOAK_PROBE, so the real-time
// run is measured as the simulated day measures itself. Writes nothing to stdout,
// which belongs to LIM.
import { appendFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { writeHeapSnapshot } from 'node:v8';

const out = process.env['LAVARANK_SOAK_PROBE'];
const every = Number(process.env['LAVARANK_SOAK_EVERY_MS'] ?? 30_000);
const gc = (globalThis as { gc?: () => void }).gc;

// $LAVARANK_SOAK_SNAPSHOTS: seconds after start at which to write a heap snapshot next
// to the probe file, for comparing what the heap holds (a diagnosis aid).
const snapshots = (process.env['LAVARANK_SOAK_SNAPSHOTS'] ?? '').split(',').filter((t) => t !== '').map(Number);
if (out !== undefined && gc !== undefined) {
  for (const at of snapshots) {
    setTimeout(() => {
      gc();
      writeHeapSnapshot(join(dirname(out), `heap-${at}s.heapsnapshot`));
    }, at * 1000).unref();
  }
}

if (out !== undefined && gc !== undefined && every > 0) {
  setInterval(() => {
    gc();
    gc();
    const m = process.memoryUsage();
    const line = { at: Date.now(), rss: m.rss, heapUsed: m.heapUsed, heapTotal: m.heapTotal, external: m.external, arrayBuffers: m.arrayBuffers };
    appendFileSync(out, `${JSON.stringify(line)}\n`);
  }, every).unref();
}
