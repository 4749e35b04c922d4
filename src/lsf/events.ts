// How long jobs were suspended while running, from OpenLava's event log, lsb.events.
// lsb.acct has no suspended time, and a suspended job accumulates no CPU time, so
// without this it would look like a job that waited for a CPU. Only JOB_STATUS
// records are read: `"JOB_STATUS" "33" eventTime jobId jStatus reason subreasons
// cpuTime endTime ru [19 rusage fields if ru] exitStatus idx`, as OpenLava's
// writeJobStatus() (src/lsbatch/lib/lsb.log.c) writes them. Other records are skipped.
// The same records say which jobs ran more than once: see Suspensions.requeuedWithin.
import type { Readable } from 'node:stream';
import { ParseError } from '../util/errors.js';
import { readLineBatches } from '../util/lines.js';
import { tokenizeAcctLine, type AcctToken } from './acct.js';

// jStatus bits of a job suspended by the system (load thresholds) or by a user (bstop).
export const JOB_STAT_SSUSP = 8;
export const JOB_STAT_USUSP = 16;
// jStatus of a pending job (lsbatch.h).
export const JOB_STAT_PEND = 1;
// jStatus logged, alone, while the job's host is unreachable (lsbatch.h; log_newstatus()).
export const JOB_STAT_UNKWN = 0x10000;

// One JOB_STATUS record: the job's new state and when it changed.
export interface JobStatusEvent {
  time: number; // epoch seconds
  jobId: number;
  idx: number; // array index, 0 for a job that is not an array element
  jStatus: number;
  rusage?: boolean; // the record carries the job's resource usage so far (its `ru` field is 1)
}

function int(token: AcctToken | undefined, name: string, where: string): number {
  const value = token === undefined || token.quoted || !/^-?\d+$/.test(token.text) ? NaN : Number(token.text);
  if (!Number.isSafeInteger(value)) throw new ParseError(where, `${name}: expected an integer, found ${token === undefined ? 'nothing' : JSON.stringify(token.text)}`);
  return value;
}

// Parses one line of lsb.events: a JOB_STATUS record, or undefined for any other record
// (and for the `#pos` header line). Throws ParseError for a JOB_STATUS it cannot read.
export function parseJobStatusLine(line: string, where = 'lsb.events'): JobStatusEvent | undefined {
  if (line.startsWith('#') || !line.startsWith('"JOB_STATUS"')) return undefined;
  const t = tokenizeAcctLine(line, where);
  const time = int(t[2], 'eventTime', where);
  const jobId = int(t[3], 'jobId', where);
  const jStatus = int(t[4], 'jStatus', where);
  const ru = int(t[9], 'ru', where);
  return { time, jobId, jStatus, rusage: ru !== 0, idx: int(t[11 + (ru === 0 ? 0 : 19)], 'idx', where) };
}

// Suspension intervals per job, and the times jobs went back to pending after running,
// from JOB_STATUS events in time order.
export class Suspensions {
  private readonly open = new Map<string, number>(); // job -> suspended since
  private readonly intervals = new Map<string, number[]>(); // job -> [from, to, from, to...]
  private readonly requeues = new Map<string, number[]>(); // job -> times it went back to pending with its usage kept

  // Follows one state change.
  add(e: JobStatusEvent): void {
    // mbatchd lost the job's host (OK_UNREACH in mbd.host.c): the job is still in the
    // state it was, and the state logged when the host is back says what it is then.
    if (e.jStatus === JOB_STAT_UNKWN) return;
    const key = `${e.jobId}.${e.idx}`;
    // A job that ran and is pending again (requeued by REQUEUE_EXIT_VALUES, its pre-exec
    // failed, migrated) keeps that run's usage: mbatchd's statusJob() adds it up
    // (accumulateRU) and logs the pending state with it (ru 1); a job released from a
    // hold never ran and has none. brequeue is not one: the run ends in a JOB_FINISH of
    // its own and the usage starts again (handleRequeueJob).
    if ((e.jStatus & JOB_STAT_PEND) !== 0 && e.rusage === true) {
      const times = this.requeues.get(key);
      if (times === undefined) this.requeues.set(key, [e.time]);
      else times.push(e.time);
    }
    const suspended = (e.jStatus & (JOB_STAT_SSUSP | JOB_STAT_USUSP)) !== 0;
    const since = this.open.get(key);
    if (suspended) {
      if (since === undefined) this.open.set(key, e.time);
      return;
    }
    if (since === undefined) return;
    this.open.delete(key);
    const list = this.intervals.get(key);
    if (list === undefined) this.intervals.set(key, [since, e.time]);
    else list.push(since, e.time);
  }

  // Jobs that were suspended at least once (still suspended at the end of the log included).
  get jobs(): number {
    return new Set([...this.intervals.keys(), ...this.open.keys()]).size;
  }

  // Whether the job went back to pending with its usage kept between its submission and
  // its (last) start: its JOB_FINISH then has the CPU time of every run, and the start
  // time of the last one only. Job ids wrap around, so only that window counts.
  requeuedWithin(jobId: number, idx: number, submit: number, start: number): boolean {
    return (this.requeues.get(`${jobId}.${idx}`) ?? []).some((t) => t >= submit && t <= start);
  }

  // Seconds the job was suspended between its start and its end. Job ids wrap around,
  // so only intervals within the run count; one still open at the log's end runs to `end`.
  // Intervals met twice count once: after a switch, mbatchd's new lsb.events repeats
  // the JOB_STATUS records of every job still running that lsb.events.1 holds.
  secondsWithin(jobId: number, idx: number, start: number, end: number): number {
    const key = `${jobId}.${idx}`;
    const list = this.intervals.get(key) ?? [];
    const since = this.open.get(key);
    if (list.length === 0 && since === undefined) return 0;
    const spans: [number, number][] = [];
    for (let i = 0; i + 1 < list.length; i += 2) spans.push([Math.max(start, list[i] ?? 0), Math.min(end, list[i + 1] ?? 0)]);
    if (since !== undefined) spans.push([Math.max(start, since), end]);
    spans.sort((a, b) => a[0] - b[0]);
    let total = 0;
    let covered = -Infinity; // the union so far ends here
    for (const [from, to] of spans) {
      if (to > Math.max(from, covered)) total += to - Math.max(from, covered);
      covered = Math.max(covered, to);
    }
    return total;
  }
}

// What a read of lsb.events found.
export interface EventStats {
  lines: number;
  statusRecords: number;
  malformed: number;
  problems: string[]; // "file:line: reason" of the first maxProblems malformed lines
  incomplete: number;
}

// Reads JOB_STATUS records of a file or stream into `into`; other records are skipped,
// a malformed JOB_STATUS is counted and located, never fatal. Only I/O errors are thrown.
export async function readSuspensions(input: string | Readable, into: Suspensions, options: { source?: string; maxProblems?: number } = {}): Promise<EventStats> {
  const source = options.source ?? (typeof input === 'string' ? input : 'lsb.events');
  const maxProblems = options.maxProblems ?? 100;
  const stats: EventStats = { lines: 0, statusRecords: 0, malformed: 0, problems: [], incomplete: 0 };
  for await (const batch of readLineBatches(input)) {
    for (const line of batch) {
      stats.lines += 1;
      if (!line.complete) {
        stats.incomplete += 1;
        continue;
      }
      let event: JobStatusEvent | undefined;
      try {
        event = line.tooLong ? undefined : parseJobStatusLine(line.text, `${source}:${line.number}`);
      } catch (err) {
        if (!(err instanceof ParseError)) throw err;
        stats.malformed += 1;
        if (stats.problems.length < maxProblems) stats.problems.push(err.message);
        continue;
      }
      if (event === undefined) continue;
      stats.statusRecords += 1;
      into.add(event);
    }
  }
  return stats;
}
