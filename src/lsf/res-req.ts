// Resource requirement strings (a queue's RES_REQ, bsub -R): the order[] and rusage[]
// sections, which decide whether and how a queue uses and reserves the rank.

// The parts of a resource requirement string that matter to rank.
export interface ResReq {
  order: string[]; // order[...] terms, e.g. "rank", "-rank", "r15s"
  rusage: Map<string, string>; // rusage[...] keys to values: rank, duration, decay...
}

// Reads order[] and rusage[] out of a RES_REQ or -R string; other sections are skipped.
export function parseResReq(text: string): ResReq {
  const order: string[] = [];
  const rusage = new Map<string, string>();
  for (const m of text.matchAll(/order\[([^\]]*)\]/g)) order.push(...(m[1] ?? '').split(/[:\s]+/).filter((t) => t !== ''));
  for (const m of text.matchAll(/rusage\[([^\]]*)\]/g)) {
    for (const part of (m[1] ?? '').split(/[:,\s]+/)) {
      const eq = part.indexOf('=');
      if (eq > 0) rusage.set(part.slice(0, eq), part.slice(eq + 1));
    }
  }
  return { order, rusage };
}

// Seconds in an rusage duration: a number of minutes, or whole digits with a lower-case
// s, m or h. OpenLava's getTimeVal (lsf/intlib/resreq.c) looks for the unit right after
// the digits, so "1.5m" is refused ("Bad resource requirement syntax") while "1.5" is 90 s.
export function durationSeconds(value: string): number | undefined {
  const m = /^(?:(\d+)([smh])|(\d+(?:\.\d+)?))$/.exec(value);
  if (m === null) return undefined;
  if (m[3] !== undefined) return Number(m[3]) * 60;
  return Number(m[1]) * { s: 1, m: 60, h: 3600 }[m[2] as 's' | 'm' | 'h'];
}
