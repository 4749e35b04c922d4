// Ending the process while a task in libuv's thread pool may never return.
//
// process.exit joins the pool's threads before the process ends (Node calls
// uv_library_shutdown, which waits for each thread's task), so a task that never
// returns holds the exit for ever: a link speed read while another task holds the
// kernel's rtnl lock (src/collectors/linkspeed.ts) would leave a stopped elim running,
// its thread spinning in the kernel, past LIM's 2 s. Such tasks are counted here, and
// an exit with one in the pool ends the process by SIGKILL, which joins no thread: the
// kernel ends a read waiting for rtnl at its next restart or in its interruptible wait
// (LIM ignores exit statuses).
import { closeSync, readdirSync, readlinkSync } from 'node:fs';

let held = 0;
let waiting: (() => void)[] = [];

// Counts a pool task that may never return; the function returned uncounts it (once).
export function holdExit(): () => void {
  held++;
  let released = false;
  return () => {
    if (released) return;
    released = true;
    held--;
    if (held > 0) return;
    const resolve = waiting;
    waiting = [];
    for (const r of resolve) r();
  };
}

// How many tasks counted by holdExit are in the pool.
export function exitHolds(): number {
  return held;
}

// Ends the process with code at once: by SIGKILL while a task counted by holdExit is
// in the pool, else by process.exit.
export function exitNow(code: number): never {
  if (held > 0) killNow();
  process.exit(code);
}

// Ends the process by SIGKILL, stdout's pipe closed first. A thread waiting
// uninterruptibly (a FUSE request its server read and never answers) outlives SIGKILL:
// the process stays a zombie that keeps its descriptors, and so its reader's pipe,
// until that wait ends, and no parent is told it died. Its reader (OpenLava's LIM)
// then sees the end of the pipe, as at any exit: `fscanf` of the next report's count
// fails, and LIM ends the elim's run and starts it again 90 s after its last start
// (getusr() in lim.rload.c), where it waited for the zombie for ever. Callers end the
// process here between reports: the pipe is never closed inside one.
export function killNow(): never {
  closeStdoutPipe();
  process.kill(process.pid, 'SIGKILL');
  throw new Error('SIGKILL did not end the process'); // never reached: the kernel acts before kill returns
}

// Closes fd 1 and every descriptor open on the same pipe or file (the report sink
// reopens it), each named by its /proc link, which asks no file system.
function closeStdoutPipe(): void {
  let stdout: string;
  let fds: string[];
  try {
    stdout = readlinkSync('/proc/self/fd/1');
    fds = readdirSync('/proc/self/fd');
  } catch {
    return; // fd 1 closed, or no /proc: nothing to close, or no way to find it
  }
  for (const fd of fds) {
    try {
      if (readlinkSync(`/proc/self/fd/${fd}`) === stdout) closeSync(Number(fd));
    } catch {
      // the descriptor readdir listed is gone already (its own, closed as the listing ended)
    }
  }
}

// Ends the process with code once the tasks counted by holdExit have returned, or by
// SIGKILL after waitMs: a read in the pool returns in microseconds unless it is stuck.
export async function exitWhenReturned(code: number, waitMs: number): Promise<never> {
  if (held > 0) {
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, waitMs);
      waiting.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }
  return exitNow(code);
}
