// Builds JobFinish records for tests: a successful one-host job unless told otherwise.
import { JOB_STAT_DONE, type JobFinish, type Rusage } from '../../src/lsf/acct.js';

const RUSAGE: Rusage = {
  utime: 1, stime: 0.1, maxrss: 5000, ixrss: 0, ismrss: -1, idrss: 0, isrss: 0, minflt: 800, majflt: 0, nswap: 0,
  inblock: 0, oublock: 16, ioch: -1, msgsnd: 0, msgrcv: 0, nsignals: 0, nvcsw: 16, nivcsw: 8, exutime: -1,
};

let nextId = 1000;

// A job of `name` that ran `runtime` seconds from `start` on `host`.
export function makeJob(name: string, start: number, runtime: number, host = 'ol1', over: Partial<JobFinish> = {}): JobFinish {
  nextId += 1;
  return {
    version: '33', endTime: start + runtime, jobId: nextId, userId: 0, options: 33554435, numProcessors: 1,
    submitTime: start - 5, beginTime: 0, termTime: 0, startTime: start, userName: 'alice', queue: 'normal',
    resReq: '', dependCond: '', preExecCmd: '', fromHost: 'ol1', cwd: '/tmp', inFile: '', outFile: '', errFile: '',
    jobFile: `${start - 5}.${nextId}`, askedHosts: [], execHosts: [host], jStatus: JOB_STAT_DONE, hostFactor: 100,
    jobName: name, command: `run-${name}`, rusage: { ...RUSAGE }, mailUser: '', projectName: 'default', exitStatus: 0,
    maxNumProcessors: 1, loginShell: '', idx: 0, maxRMem: 5000, maxRSwap: 12000, inFileSpool: '', commandSpool: '',
    ...over,
  };
}
