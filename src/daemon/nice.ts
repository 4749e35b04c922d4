// LIM starts the elim at nice -20, ahead of every user job on the node. Linux keeps
// the nice value per thread and setpriority(PRIO_PROCESS, 0) changes only the
// calling thread, so every thread Node has already started (V8's platform workers,
// libuv's pool) is reniced through /proc/self/task; threads started later inherit
// the main thread's value.
import { readdirSync } from 'node:fs';
import { getPriority, setPriority } from 'node:os';
import { errnoReason, errorCode, errorReason } from '../util/errors.js';

// os.setPriority throws ERR_SYSTEM_ERROR with the errno name in `info.code`.
function sysCode(err: unknown): string | undefined {
  const info = (err as { info?: { code?: unknown } }).info;
  return typeof info?.code === 'string' ? info.code : errorCode(err);
}

// The errno and what it means, for the log ("EACCES (permission denied)").
function sysReason(err: unknown): string {
  const code = sysCode(err);
  return (code === undefined ? undefined : errnoReason(code)) ?? errorReason(err);
}

// What reniceProcess did: the nice value before and after, and the threads it could not change.
export interface ReniceResult {
  before: number; // the main thread's nice value before
  after: number;
  threads: number; // threads changed
  errors: string[];
}

// Sets the nice value of every thread of this process.
export function reniceProcess(nice: number, taskDir = '/proc/self/task'): ReniceResult {
  const before = getPriority(0);
  const errors: string[] = [];
  let tids: number[];
  try {
    tids = readdirSync(taskDir).map(Number).filter((n) => Number.isInteger(n) && n > 0);
  } catch (err) {
    errors.push(`cannot list ${taskDir}: ${errorReason(err)}`);
    tids = [];
  }
  let threads = 0;
  for (const tid of tids) {
    try {
      setPriority(tid, nice);
      threads++;
    } catch (err) {
      // ESRCH: the thread ended meanwhile; anything else (EACCES without root) is reported.
      if (sysCode(err) !== 'ESRCH') errors.push(`thread ${tid}: ${sysReason(err)}`);
    }
  }
  if (tids.length === 0) {
    try {
      setPriority(0, nice);
      threads = 1;
    } catch (err) {
      errors.push(`main thread: ${sysReason(err)}`);
    }
  }
  return { before, after: getPriority(0), threads, errors };
}
