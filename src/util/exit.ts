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
  if (held > 0) process.kill(process.pid, 'SIGKILL');
  process.exit(code);
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
