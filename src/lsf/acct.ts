// OpenLava's accounting file, lsb.acct: one JOB_FINISH record per finished job.
// The layout is OpenLava 4.0's writeJobFinish() (src/lsbatch/lib/lsb.log.c), described
// field by field in test/fixtures/openlava/README.md.
import type { Readable } from 'node:stream';
import { ParseError } from '../util/errors.js';
import { readLineBatches } from '../util/lines.js';

// One field of a line: a quoted string (already unquoted) or a bare word.
export interface AcctToken {
  text: string;
  quoted: boolean;
}

// The 19 resource-usage fields, in file order (lsfRu2Str() in lib.lsf.c).
// -1 means "not supplied by the OS"; all are -1 for a job that never ran.
export interface Rusage {
  utime: number; // seconds
  stime: number; // seconds
  maxrss: number; // KB
  ixrss: number;
  ismrss: number;
  idrss: number;
  isrss: number;
  minflt: number;
  majflt: number;
  nswap: number;
  inblock: number;
  oublock: number;
  ioch: number;
  msgsnd: number;
  msgrcv: number;
  nsignals: number;
  nvcsw: number;
  nivcsw: number;
  exutime: number;
}

const RUSAGE_FIELDS = [
  'utime', 'stime', 'maxrss', 'ixrss', 'ismrss', 'idrss', 'isrss', 'minflt', 'majflt', 'nswap',
  'inblock', 'oublock', 'ioch', 'msgsnd', 'msgrcv', 'nsignals', 'nvcsw', 'nivcsw', 'exutime',
] as const satisfies readonly (keyof Rusage)[];

// A JOB_FINISH record. Times are epoch seconds; 0 means "none" (never started, no -b, no -t).
export interface JobFinish {
  version: string;
  endTime: number; // the record's eventTime: written when the job ended
  jobId: number;
  userId: number;
  options: number; // SUB_* bits
  numProcessors: number;
  submitTime: number;
  beginTime: number;
  termTime: number;
  startTime: number;
  userName: string;
  queue: string;
  resReq: string; // the job's own -R, without the queue's RES_REQ
  dependCond: string;
  preExecCmd: string;
  fromHost: string;
  cwd: string;
  inFile: string;
  outFile: string;
  errFile: string;
  jobFile: string;
  askedHosts: string[];
  execHosts: string[]; // one entry per slot, so a host may repeat; empty if never started
  jStatus: number; // JOB_STAT_DONE or JOB_STAT_EXIT
  hostFactor: number;
  jobName: string; // for an array element, the whole array name such as "arr[1-5]"
  command: string;
  rusage: Rusage;
  mailUser: string;
  projectName: string;
  exitStatus: number; // raw wait(2) status: `exit 3` is 768
  maxNumProcessors: number;
  loginShell: string;
  idx: number; // array index, 0 for a job that is not an array element
  maxRMem: number; // KB
  maxRSwap: number; // KB
  inFileSpool: string;
  commandSpool: string;
}

// jStatus of a job that ended with exit status 0 (lsbatch.h).
export const JOB_STAT_DONE = 64;
// jStatus of a job that failed or was killed (lsbatch.h).
export const JOB_STAT_EXIT = 32;

// The JOB_FINISH versions whose layout this parser knows: OPENLAVA_XDR_VERSION of 4.0.
export const KNOWN_VERSIONS: readonly string[] = ['33'];

// Fields without the two host lists; the record has 57 + numAskedHosts + numExHosts.
export const JOB_FINISH_BASE_FIELDS = 57;

// Splits one lsb.acct line into fields: words separated by blanks, strings in double
// quotes with "" for an embedded quote (addQStr() in lib.words.c). Throws ParseError.
export function tokenizeAcctLine(line: string, where = 'lsb.acct'): AcctToken[] {
  const tokens: AcctToken[] = [];
  const n = line.length;
  let i = 0;
  for (;;) {
    while (i < n && isBlank(line.charCodeAt(i))) i += 1;
    if (i >= n) return tokens;
    if (line.charCodeAt(i) === QUOTE) {
      const open = i;
      let text = '';
      let from = i + 1;
      for (;;) {
        const q = line.indexOf('"', from);
        if (q === -1) throw new ParseError(where, `unterminated string starting at column ${open + 1}`);
        if (line.charCodeAt(q + 1) === QUOTE) {
          text += line.slice(from, q + 1);
          from = q + 2;
        } else {
          text += line.slice(from, q);
          i = q + 1;
          break;
        }
      }
      if (i < n && !isBlank(line.charCodeAt(i))) {
        throw new ParseError(where, `unexpected ${show(line[i] ?? '')} after the string at column ${open + 1}`);
      }
      tokens.push({ text, quoted: true });
    } else {
      const begin = i;
      while (i < n && !isBlank(line.charCodeAt(i))) i += 1;
      const text = line.slice(begin, i);
      if (text.includes('"')) throw new ParseError(where, `stray quote in field ${show(text)} at column ${begin + 1}`);
      tokens.push({ text, quoted: false });
    }
  }
}

const QUOTE = 0x22;

// mbatchd separates with single spaces; tabs and a CR (a file copied through
// Windows) are accepted too, since they cannot occur outside quotes otherwise.
function isBlank(code: number): boolean {
  return code === 0x20 || code === 0x09 || code === 0x0d;
}

function show(text: string): string {
  return JSON.stringify(text.length > 40 ? `${text.slice(0, 40)}...` : text);
}

// What one line of lsb.acct holds.
export type AcctLine =
  | { kind: 'record'; record: JobFinish }
  | { kind: 'unknownType'; type: string }
  | { kind: 'unknownVersion'; version: string };

// Options of parseAcctLine and readAcct.
export interface AcctParseOptions {
  versions?: readonly string[]; // default KNOWN_VERSIONS
}

// Parses one non-empty line. A JOB_FINISH of a known version becomes a typed record;
// another record type or version is returned as such, since its layout is unknown.
// Throws ParseError (with `where`) for a line that cannot be a record.
export function parseAcctLine(line: string, where = 'lsb.acct', options: AcctParseOptions = {}): AcctLine {
  const tokens = tokenizeAcctLine(line, where);
  const f = new Fields(tokens, where);
  const type = f.str('record type');
  if (type !== 'JOB_FINISH') return { kind: 'unknownType', type };
  const version = f.str('version');
  if (!(options.versions ?? KNOWN_VERSIONS).includes(version)) return { kind: 'unknownVersion', version };
  return { kind: 'record', record: parseJobFinish(f, version, tokens.length, where) };
}

function parseJobFinish(f: Fields, version: string, count: number, where: string): JobFinish {
  const endTime = f.int('eventTime');
  const jobId = f.int('jobId');
  const userId = f.int('userId');
  const options = f.int('options');
  const numProcessors = f.int('numProcessors');
  const submitTime = f.int('submitTime');
  const beginTime = f.int('beginTime');
  const termTime = f.int('termTime');
  const startTime = f.int('startTime');
  const userName = f.str('userName');
  const queue = f.str('queue');
  const resReq = f.str('resReq');
  const dependCond = f.str('dependCond');
  const preExecCmd = f.str('preExecCmd');
  const fromHost = f.str('fromHost');
  const cwd = f.str('cwd');
  const inFile = f.str('inFile');
  const outFile = f.str('outFile');
  const errFile = f.str('errFile');
  const jobFile = f.str('jobFile');
  const numAsked = f.count('numAskedHosts');
  // Checked before reading the lists, so a wrong count reads as a wrong count,
  // not as a type error somewhere further on.
  if (count < JOB_FINISH_BASE_FIELDS + numAsked) {
    throw new ParseError(where, `${count} fields, but numAskedHosts ${numAsked} needs at least ${JOB_FINISH_BASE_FIELDS + numAsked}`);
  }
  const askedHosts = f.strings('askedHosts', numAsked);
  const numEx = f.count('numExHosts');
  const expected = JOB_FINISH_BASE_FIELDS + numAsked + numEx;
  if (count !== expected) {
    throw new ParseError(where, `${count} fields, but numAskedHosts ${numAsked} and numExHosts ${numEx} need ${expected}`);
  }
  const execHosts = f.strings('execHosts', numEx);
  const jStatus = f.int('jStatus');
  const hostFactor = f.num('hostFactor');
  const jobName = f.str('jobName');
  const command = f.str('command');
  const rusage = {} as Rusage;
  for (const name of RUSAGE_FIELDS) rusage[name] = f.num(`ru_${name}`);
  return {
    version, endTime, jobId, userId, options, numProcessors, submitTime, beginTime, termTime, startTime,
    userName, queue, resReq, dependCond, preExecCmd, fromHost, cwd, inFile, outFile, errFile, jobFile,
    askedHosts, execHosts, jStatus, hostFactor, jobName, command, rusage,
    mailUser: f.str('mailUser'),
    projectName: f.str('projectName'),
    exitStatus: f.int('exitStatus'),
    maxNumProcessors: f.int('maxNumProcessors'),
    loginShell: f.str('loginShell'),
    idx: f.int('idx'),
    maxRMem: f.int('maxRMem'),
    maxRSwap: f.int('maxRSwap'),
    inFileSpool: f.str('inFileSpool'),
    commandSpool: f.str('commandSpool'),
  };
}

const INT_RE = /^-?\d+$/;
const NUM_RE = /^-?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?$/;

// Reads fields in order, each with the type its position requires: a quoted value
// where a number belongs means the line is shifted, so the record is rejected.
class Fields {
  pos = 0;
  constructor(
    private readonly tokens: readonly AcctToken[],
    private readonly where: string,
  ) {}

  private next(name: string): AcctToken {
    const token = this.tokens[this.pos];
    if (token === undefined) throw new ParseError(this.where, `field ${this.pos + 1} (${name}) is missing`);
    this.pos += 1;
    return token;
  }

  private fail(name: string, expected: string, token: AcctToken): never {
    const found = token.quoted ? `the string ${show(token.text)}` : show(token.text);
    throw new ParseError(this.where, `field ${this.pos} (${name}): expected ${expected}, found ${found}`);
  }

  str(name: string): string {
    const token = this.next(name);
    if (!token.quoted) this.fail(name, 'a quoted string', token);
    return token.text;
  }

  strings(name: string, n: number): string[] {
    const out: string[] = [];
    for (let i = 0; i < n; i += 1) out.push(this.str(`${name}[${i}]`));
    return out;
  }

  int(name: string): number {
    const token = this.next(name);
    const value = token.quoted || !INT_RE.test(token.text) ? NaN : Number(token.text);
    if (!Number.isSafeInteger(value)) this.fail(name, 'an integer', token);
    return value;
  }

  count(name: string): number {
    const value = this.int(name);
    if (value < 0) this.fail(name, 'a count of 0 or more', { text: String(value), quoted: false });
    return value;
  }

  num(name: string): number {
    const token = this.next(name);
    const value = token.quoted || !NUM_RE.test(token.text) ? NaN : Number(token.text);
    if (!Number.isFinite(value)) this.fail(name, 'a number', token);
    return value;
  }
}

// Writes a record as mbatchd does (%3.1f hostFactor, %f times, %1.0f other rusage),
// for test data. Throws RangeError for a string with a newline, which no reader
// of lsb.acct (OpenLava's included) could read back.
export function formatJobFinish(job: JobFinish): string {
  const parts: string[] = [
    q('JOB_FINISH'), q(job.version), int(job.endTime), int(job.jobId), int(job.userId), int(job.options),
    int(job.numProcessors), int(job.submitTime), int(job.beginTime), int(job.termTime), int(job.startTime),
    q(job.userName), q(job.queue), q(job.resReq), q(job.dependCond), q(job.preExecCmd), q(job.fromHost),
    q(job.cwd), q(job.inFile), q(job.outFile), q(job.errFile), q(job.jobFile),
    int(job.askedHosts.length), ...job.askedHosts.map(q), int(job.execHosts.length), ...job.execHosts.map(q),
    int(job.jStatus), job.hostFactor.toFixed(1), q(job.jobName), q(job.command),
  ];
  for (const name of RUSAGE_FIELDS) {
    const value = job.rusage[name];
    parts.push(name === 'utime' || name === 'stime' ? value.toFixed(6) : value.toFixed(0));
  }
  parts.push(
    q(job.mailUser), q(job.projectName), int(job.exitStatus), int(job.maxNumProcessors), q(job.loginShell),
    int(job.idx), int(job.maxRMem), int(job.maxRSwap), q(job.inFileSpool), q(job.commandSpool),
  );
  return parts.join(' ');
}

function q(text: string): string {
  if (/[\n\r]/.test(text)) throw new RangeError(`lsb.acct strings cannot hold a newline: ${show(text)}`);
  return `"${text.replaceAll('"', '""')}"`;
}

function int(value: number): string {
  if (!Number.isSafeInteger(value)) throw new RangeError(`expected an integer, received ${value}`);
  return String(value);
}

// A line that was not a record, kept for the report.
export interface AcctProblem {
  line: number;
  message: string;
}

// What a read skipped, by reason. `problems` holds the first maxProblems malformed lines.
export interface AcctStats {
  lines: number;
  records: number;
  blank: number;
  malformed: number;
  problems: AcctProblem[];
  unknownTypes: Map<string, number>;
  unknownVersions: Map<string, number>;
  incomplete: number; // a last line without newline: mbatchd was still writing it
}

// What a read skipped, one phrase per reason ("2 malformed", "1 incomplete last
// line", "3 JOB_NEW"), empty when it skipped nothing: the words every command that
// reads lsb.acct uses to say so.
export function skippedLines(stats: Readonly<AcctStats>, firstProblem = false): string[] {
  const malformed = firstProblem && stats.problems[0] !== undefined ? ` (the first: ${stats.problems[0].message})` : '';
  return [
    stats.malformed > 0 ? `${stats.malformed} malformed${malformed}` : '',
    stats.incomplete > 0 ? `${stats.incomplete} incomplete last line` : '',
    ...[...stats.unknownTypes].map(([t, n]) => `${n} ${t}`),
    ...[...stats.unknownVersions].map(([v, n]) => `${n} of unknown version ${v}`),
  ].filter((x) => x !== '');
}

// Options of readAcct.
export interface AcctReadOptions extends AcctParseOptions {
  source?: string; // the name in messages; default the path, or "lsb.acct" for a stream
  maxProblems?: number; // default 100
  maxLineLength?: number;
}

// The records of one lsb.acct, read once; `stats` is final when iteration ends.
export interface AcctReader extends AsyncIterable<JobFinish> {
  readonly stats: AcctStats;
}

// Streams the JOB_FINISH records of a file or stream. Lines that are not records are
// counted in `stats` and skipped; only I/O errors are thrown.
export function readAcct(input: string | Readable, options: AcctReadOptions = {}): AcctReader {
  const source = options.source ?? (typeof input === 'string' ? input : 'lsb.acct');
  const maxProblems = options.maxProblems ?? 100;
  const stats: AcctStats = {
    lines: 0, records: 0, blank: 0, malformed: 0, problems: [],
    unknownTypes: new Map(), unknownVersions: new Map(), incomplete: 0,
  };
  let started = false;
  async function* records(): AsyncGenerator<JobFinish> {
    if (started) throw new Error(`readAcct(${source}): a reader can be iterated only once`);
    started = true;
    const lineOptions = options.maxLineLength === undefined ? {} : { maxLength: options.maxLineLength };
    for await (const batch of readLineBatches(input, lineOptions)) {
      for (const line of batch) {
        stats.lines += 1;
        const where = `${source}:${line.number}`;
        if (!line.complete) {
          stats.incomplete += 1;
          continue;
        }
        if (line.tooLong) {
          malformed(new ParseError(where, `line longer than ${line.text.length} characters`), line.number);
          continue;
        }
        if (line.text.trim() === '') {
          stats.blank += 1;
          continue;
        }
        let parsed: AcctLine;
        try {
          parsed = parseAcctLine(line.text, where, options);
        } catch (err) {
          if (!(err instanceof ParseError)) throw err;
          malformed(err, line.number);
          continue;
        }
        if (parsed.kind === 'unknownType') increment(stats.unknownTypes, parsed.type);
        else if (parsed.kind === 'unknownVersion') increment(stats.unknownVersions, parsed.version);
        else {
          stats.records += 1;
          yield parsed.record;
        }
      }
    }
  }
  function malformed(err: ParseError, line: number): void {
    stats.malformed += 1;
    if (stats.problems.length < maxProblems) stats.problems.push({ line, message: err.message });
  }
  return { stats, [Symbol.asyncIterator]: records };
}

function increment(counts: Map<string, number>, key: string): void {
  counts.set(key, (counts.get(key) ?? 0) + 1);
}
