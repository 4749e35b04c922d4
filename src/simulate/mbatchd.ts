// What OpenLava 4.0's LIM and mbatchd do with load values, as the simulator needs it
// (docs/elim-contract.md; lsf/lim/lim.load.c, lsf/lim/lim.rload.c, lsbatch/daemons/
// mbd.policy.c, mbd.host.c and mbd.main.c of the 4.0 source): how old the values are
// when mbatchd sorts by them, how r15s is normalised, how a job's rusage[]
// reservation is added and when it decays, and the schedule of dispatch sessions
// and load refreshes.

// mbatchd's and LIM's timing, in seconds.
export interface SchedulerSettings {
  mbdSleep: number; // MBD_SLEEP_TIME: a dispatch session every this many seconds (lsb.params template: 10)
  acceptInterval: number; // JOB_ACCEPT_INTERVAL, in sessions (template: 0; code default 1)
  freshPeriod: number; // LOAD_UPDATE_INTVL: loads are refreshed at a session once this much older (15)
  exInterval: number; // EXINTERVAL: a non-master LIM sends its load every this many seconds (15)
  elimInterval: number; // lavarank's report interval (10)
  limPoll: number; // LIM reads the elim's pipe every 5 s (hard-coded)
  elimStart: number; // seconds before the elim's first report (within 2 s of its start)
  staleness: 'auto' | number; // 'auto': the pipeline above; a number: every value exactly this old at each refresh
}

// OpenLava's shipped lsb.params and LIM's defaults.
export const DEFAULT_SCHEDULER: Readonly<SchedulerSettings> = Object.freeze({
  mbdSleep: 10,
  acceptInterval: 0,
  freshPeriod: 15,
  exInterval: 15,
  elimInterval: 10,
  limPoll: 5,
  elimStart: 2,
  staleness: 'auto' as const,
});

// A load index value mbatchd has no value for (a dead or not yet started elim): it
// sorts after every real value with `order[rank]` on a rank declared INCREASING Y.
export const INFINIT_LOAD = 2147483647;

// LIM's normalizeRq (lim.load.c): the run queue length LIM hands mbatchd for r15s,
// r1m and r15m, from the raw load average, the CPU factor and the CPU count. The
// arithmetic is the C code's, in single precision as there.
export function normalizeRq(rawql: number, cpuFactor: number, nprocs: number): number {
  const f32 = Math.fround;
  if (rawql < 0) return 0;
  if (rawql >= INFINIT_LOAD) return rawql;
  if (nprocs < 1) return f32((rawql + 1) / cpuFactor);
  const ifloor = Math.trunc(f32(rawql / nprocs));
  const k1 = f32((rawql - nprocs * ifloor) / nprocs);
  let k2 = Math.min(k1, f32(0.9));
  let slope = f32(1 - 1 / nprocs);
  k2 = Math.min(k2, slope);
  slope = Math.min(slope, f32(0.9));
  const f = f32((slope * (-k1 + 1)) / (1 - k2));
  const nrq = f32((f * ifloor + (1 - f) * f32(rawql / nprocs) + 1) / cpuFactor);
  return nrq < 0 ? 0 : nrq;
}

// The value mbatchd compares for r15s, r1m and r15m (notOrdered in mbd.policy.c):
// the normalised queue length plus one, over the CPU factor once more.
export function r15sSortKey(normalized: number, cpuFactor: number): number {
  return cpuFactor !== 0 ? (normalized + 1) / cpuFactor : normalized;
}

// The last time at or before t of a periodic event with this phase; undefined when
// the first one is still to come.
export function lastTick(t: number, period: number, phase: number): number | undefined {
  if (t < phase) return undefined;
  return phase + period * Math.floor((t - phase) / period + 1e-9);
}

// A host's place in the pipeline: when its elim reports, when its LIM reads the pipe
// and when it sends its load to the master LIM.
export interface HostTiming {
  master: boolean; // the master LIM reads its own elim directly
  elimPhase: number; // first report, within elimStart of the start
  pollPhase: number; // in [0, limPoll)
  exchangePhase: number; // in [0, exInterval)
}

// Random phases for every host; the first host is the master.
export function hostTimings(count: number, s: Readonly<SchedulerSettings>, rand: () => number): HostTiming[] {
  const out: HostTiming[] = [];
  for (let i = 0; i < count; i++) {
    out.push({ master: i === 0, elimPhase: rand() * s.elimStart, pollPhase: rand() * s.limPoll, exchangePhase: rand() * s.exInterval });
  }
  return out;
}

// When the elim sample that mbatchd holds after a refresh at R was taken: the last
// report before LIM's last read before the host's last exchange (the master's LIM
// reads its own elim, with no exchange). undefined while nothing has arrived yet.
// With a fixed staleness, exactly that much before R.
export function rankSampleTime(timing: HostTiming, refresh: number, s: Readonly<SchedulerSettings>): number | undefined {
  if (s.staleness !== 'auto') return refresh - s.staleness >= s.elimStart ? refresh - s.staleness : undefined;
  const sent = timing.master ? refresh : lastTick(refresh, s.exInterval, timing.exchangePhase);
  if (sent === undefined) return undefined;
  const read = lastTick(sent, s.limPoll, timing.pollPhase);
  if (read === undefined) return undefined;
  return lastTick(read, s.elimInterval, timing.elimPhase);
}

// When the load average behind mbatchd's r15s after a refresh at R was read: LIM
// updates r15s only at its exchanges (readLoad in lim.rload.c), the master's too.
// Before the first exchange, the value at the start.
export function loadSampleTime(timing: HostTiming, refresh: number, s: Readonly<SchedulerSettings>): number {
  if (s.staleness !== 'auto') return Math.max(0, refresh - s.staleness);
  return lastTick(refresh, s.exInterval, timing.exchangePhase) ?? 0;
}

// A reservation as rusage[index=value:duration=T:decay=D] asks for it.
export interface Reservation {
  value: number;
  duration: number; // seconds
  decay: number; // 1: linear
}

// What a job's reservation adds at a refresh (adjLsbLoad, mbd.host.c): the value
// times ((T − runTime) / T)^decay while T − runTime is positive, nothing after. The
// runTime mbatchd uses is the one accumulated up to the previous refresh (it is
// brought up to date only after the loads are adjusted), so the reservation
// decays one refresh late.
export function reservedAt(r: Readonly<Reservation>, runTime: number): number {
  const left = r.duration - runTime;
  if (!(left > 0)) return 0;
  return r.value * Math.pow(left / r.duration, r.decay);
}

// The session times at which mbatchd refreshes loads: the first session, then the
// first one more than freshPeriod after the last refresh.
export function refreshDue(now: number, lastRefresh: number | undefined, s: Readonly<SchedulerSettings>): boolean {
  return lastRefresh === undefined || now - lastRefresh > s.freshPeriod;
}

// Whether a host may take another job at a session (getQUsable, mbd.policy.c): with
// JOB_ACCEPT_INTERVAL = k > 0 not within k sessions of its last job; with 0, no limit.
export function acceptsJob(now: number, lastAccept: number, s: Readonly<SchedulerSettings>, acceptInterval = s.acceptInterval): boolean {
  return acceptInterval === 0 || now - lastAccept >= acceptInterval * s.mbdSleep;
}
