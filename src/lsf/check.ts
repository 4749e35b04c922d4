// The OpenLava side of `lavarank check`, like `lsadmin ckconfig`: reads lsf.conf,
// lsf.shared, lsf.cluster.<cluster> and lsb.queues the way OpenLava 4.0 does, and
// the installed $LSF_SERVERDIR/elim, and reports everything that would stop rank
// from steering jobs, each with file:line and the offending text.
//
// How OpenLava reads lsf.conf (lib.initenv.c, readconfenv_ and parseLine): one
// KEY=VALUE per line, no blank after "=", the value one word or one "quoted"
// string; a line that is anything else makes the daemons refuse the whole file.
// The last line for a key wins, and a variable set in the environment wins over
// the file. Everything else is read with the section parser of conf.ts.
import { realpath } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { errorCode, errorMessage } from '../util/errors.js';
import { parseCommandLine } from '../util/options.js';
import { existsAsync, isDirectoryAsync, readRegularTextAsync } from '../util/paths.js';
import { checkTrustAsync, installationProblemsAsync } from '../util/trust.js';
import { clusterNames, defaultQueues, intervalAccepted, mbatchdDefaultQueues, parseSections, resourceIgnored, rowMismatch, valueText, type ConfReader, type ConfRow, type ConfSection } from './conf.js';
import { C_BLANKS, limLine, lsfConfdir, lsfSetting, MAX_CONF_BYTES, readLsfConf, type Located } from './lsf-conf.js';
import { durationSeconds, parseResReq, type ResReq } from './res-req.js';
import { chooseCluster, confdirLook, findLsbQueues, lsbQueuesCandidates, probeNode, parseWrapper, wrapperText, WRAPPER_MARK } from './install.js';
import { RUN_OPTIONS, testInterval } from './wrapper.js';

// critical: rank cannot steer jobs (or steers them to the busiest hosts); error:
// something is broken or unsafe; warning: works, but not as lavarank recommends.
export type Severity = 'critical' | 'error' | 'warning';
export const SEVERITIES: readonly Severity[] = ['critical', 'error', 'warning'];

// One problem, where it is (file:line when there is a line) and what to do.
export interface Finding {
  severity: Severity;
  where?: string;
  message: string;
}

// What the OpenLava side is checked against.
export interface LsfCheckInput {
  envdir: string; // $LSF_ENVDIR or --lsf-envdir
  resource: string; // the config's resource name (rank)
  typedRanks?: readonly string[]; // the typed ranks' names when the config reports them (typed_ranks: true)
  env: NodeJS.ProcessEnv; // for the variables that override lsf.conf
  cluster?: string; // --cluster, when lsf.shared lists several
  queues?: string; // --queues FILE instead of $LSB_CONFDIR/lsb.queues or $LSB_CONFDIR/<cluster>/configdir/lsb.queues
  lsf?: boolean; // IBM Spectrum LSF: the wrapper is elim.rank
  program: string; // this build's dist/src/cli.js
  childElims: readonly string[]; // the config's child elim programs
  configPath?: string; // the config file the caller checked (none: built-in defaults), against ELIMARGS' --config
  expected?: { d: number; t: number; resReq: string; why: string }; // what recommend gives
  // Whether the daemon's rule refuses this lsf.conf (lsfLogdirAsync's refusal), when the
  // caller has asked already; else the trust check is made here.
  confRefused?: boolean;
}

// The findings, and the effective OpenLava configuration as lines to print.
export interface LsfCheckResult {
  findings: Finding[];
  effective: string[];
}

// lsf.conf as OpenLava reads it (lsf-conf.ts), with each line the daemons would
// refuse as a critical finding: initenv_ then fails, and LIM, mbatchd and the
// commands stop ("initenv() failed reading lsf.conf"), as without LSF_CONFDIR.
// A byte order mark (some Windows editors write one) is read as the start of the first
// key, which then names no setting: said, since the key looks right in an editor.
export function parseLsfConf(text: string, file: string): { values: Map<string, Located>; findings: Finding[] } {
  const { values, refused } = readLsfConf(text, file);
  const findings: Finding[] = refused.map((r) => ({ severity: 'critical' as const, ...r }));
  for (const [key, { line }] of values) {
    if (!key.startsWith('\uFEFF')) continue;
    findings.push({
      severity: 'error',
      where: `${file}:${line}`,
      message: `${file} starts with a byte order mark, which OpenLava's daemons read as part of the key: they see no ${key.slice(1)} there (save the file without it)`,
    });
  }
  return { values, findings };
}

function cells(section: ConfSection, row: ConfRow): Map<string, string> {
  const map = new Map<string, string>();
  (section.header?.values ?? []).forEach((key, i) => {
    const value = row.values[i];
    if (value !== undefined) map.set(key.toUpperCase(), valueText(value));
  });
  return map;
}

function named(sections: readonly ConfSection[], name: string): ConfSection[] {
  return sections.filter((s) => s.name.toLowerCase() === name.toLowerCase());
}

// Every file and directory of the OpenLava side is asked about in libuv's pool: an
// LSF administrator's lsf.conf may name directories of theirs (LSF_CONFDIR,
// LSB_CONFDIR, LSF_SERVERDIR), and a user's FUSE mount there whose server answers the
// pool and never a main thread held check on its main thread, where SIGINT could not end it.
async function readOrUndefined(path: string): Promise<string | undefined> {
  try {
    return await readRegularTextAsync(path, MAX_CONF_BYTES);
  } catch {
    return undefined; // missing or unusable: each caller names the file as missing or unreadable
  }
}

// The text of lines first..last of a file, as written.
function lineText(lines: readonly string[], row: ConfRow): string {
  return lines
    .slice(row.first, row.last + 1)
    .map((l) => l.trim())
    .join(' ');
}

// Checks the OpenLava side; never throws for what it finds, only reports it.
export async function checkLsf(input: LsfCheckInput): Promise<LsfCheckResult> {
  const findings: Finding[] = [];
  const effective: string[] = [];
  const add = (severity: Severity, message: string, where?: string): void => {
    findings.push(where === undefined ? { severity, message } : { severity, where, message });
  };
  const envdir = resolve(input.envdir);
  effective.push(`LSF_ENVDIR: ${envdir}`);
  if (!(await isDirectoryAsync(envdir))) {
    add('critical', `LSF_ENVDIR ${envdir} does not exist (or is not a directory); nothing on the OpenLava side could be checked`);
    return { findings, effective };
  }

  // lsf.conf
  const confFile = join(envdir, 'lsf.conf');
  const confText = await readOrUndefined(confFile);
  let conf = new Map<string, Located>();
  if (confText === undefined) {
    add('error', `${confFile} cannot be read; OpenLava's daemons need it (is LSF_ENVDIR the directory of lsf.conf?)`);
  } else {
    const parsed = parseLsfConf(confText, 'lsf.conf');
    conf = parsed.values;
    findings.push(...parsed.findings);
  }
  // The environment wins over lsf.conf, as in OpenLava's initenv_.
  const setting = (key: string): { value: string; from: string } | undefined => lsfSetting(key, input.env, conf);
  // The daemon takes LSF_LOGDIR from lsf.conf only if no one but root can change it.
  const confShared = input.confRefused ?? (await checkTrustAsync(confFile, 'lsf.conf')).problems.length > 0;
  for (const key of ['LSF_SERVERDIR', 'LSF_LOGDIR', 'LSB_CONFDIR']) {
    const s = setting(key);
    const ignored = key === 'LSF_LOGDIR' && s !== undefined && s.from !== 'environment' && confShared ? '; not taken by lavarank: lsf.conf is not root\'s alone' : '';
    effective.push(`${key}: ${s === undefined ? '(not set)' : `${s.value} (${s.from}${ignored})`}`);
  }

  // lsf.shared and lsf.cluster.<cluster> are in LSF_CONFDIR, where LIM reads them
  const located = lsfConfdir(envdir, input.env, conf);
  const confdir = located.dir;
  const given = setting('LSF_CONFDIR');
  effective.push(`LSF_CONFDIR: ${given === undefined ? '(not set)' : `${given.value} (${given.from})`}`);
  if (located.problem !== undefined && confText !== undefined) add('critical', located.problem, given?.from === 'environment' ? undefined : (given?.from ?? 'lsf.conf'));
  else if (!(await isDirectoryAsync(confdir))) add('critical', `LSF_CONFDIR ${confdir} (${located.from ?? 'lsf.conf'}) does not exist (or is not a directory): LIM reads lsf.shared and lsf.cluster.<cluster> there, and does not start without them`);

  // Findings name these files by their name alone when they sit beside lsf.conf, and by
  // their path when LSF_CONFDIR puts them elsewhere (LSF 10.1 keeps an lsf.conf in /etc/lsf
  // and the rest in $LSF_TOP/conf): "lsf.shared:43" would send one to the wrong file.
  const label = (name: string): string => (resolve(confdir) === envdir ? name : join(confdir, name));

  // lsf.shared: the cluster name and the resource declaration
  const sharedFile = join(confdir, 'lsf.shared');
  const shared = label('lsf.shared');
  const sharedText = await readOrUndefined(sharedFile);
  let sections: ConfSection[] = [];
  if (sharedText === undefined) add('critical', `${sharedFile} cannot be read; LIM reads the resource declarations there`);
  else sections = parseOrReport(sharedText, shared, 'lim', add);
  const sharedLines = sharedText?.split('\n') ?? [];
  const resources = new Map<string, { cells: Map<string, string>; where: string; text: string }>();
  // Lines LIM ignores, said once every line is read: another line may declare the name
  // (the merge leaves such a line as it is and adds lavarank's).
  const ignoredRows: Array<{ name: string | undefined; why: string; where: string; text: string }> = [];
  for (const section of named(sections, 'Resource')) {
    for (const row of section.rows) {
      if (!fits(section, row, shared, sharedLines, add)) continue;
      const c = cells(section, row);
      const name = c.get('RESOURCENAME');
      const ignored = intervalAccepted(c.get('INTERVAL') ?? '')
        ? resourceIgnored((key) => c.get(key) ?? '')
        : `INTERVAL ${c.get('INTERVAL')}, not a whole number of seconds above 0`;
      if (ignored !== undefined) {
        ignoredRows.push({ name, why: ignored, where: `${shared}:${row.first + 1}`, text: lineText(sharedLines, row) });
        continue;
      }
      // LIM ignores a name declared again: the first declaration counts.
      if (name !== undefined && !resources.has(name)) resources.set(name, { cells: c, where: `${shared}:${row.first + 1}`, text: lineText(sharedLines, row) });
    }
  }
  for (const row of ignoredRows) {
    const declared = row.name === undefined ? undefined : resources.get(row.name);
    if (declared === undefined) {
      add('error', `${row.name ?? 'a resource'} is declared with ${row.why}: LIM ignores this line, so ${row.name ?? 'it'} is not declared: ${JSON.stringify(row.text)}`, row.where);
    } else {
      add('warning', `${row.name} is declared with ${row.why}: LIM ignores this line (and logs it at each start); ${declared.where} declares ${row.name}: ${JSON.stringify(row.text)}`, row.where);
    }
  }
  const rank = resources.get(input.resource);
  const r = input.resource;
  if (sharedText !== undefined) {
    if (rank === undefined) {
      add('critical', `${r} is not declared in a Resource section: LIM ignores the value the elim reports, and order[${r}] is refused (add the line from openlava-conf/lsf.shared)`, shared);
    } else {
      const type = rank.cells.get('TYPE') ?? '';
      const increasing = (rank.cells.get('INCREASING') ?? '').toUpperCase();
      if (type.toLowerCase() !== 'numeric') add('critical', `${r} is declared ${type || 'without a TYPE'}, not Numeric: ${JSON.stringify(rank.text)}`, rank.where);
      if ((rank.cells.get('INTERVAL') ?? '') === '') add('critical', `${r} is declared without an INTERVAL, so it is static and no elim reports it: ${JSON.stringify(rank.text)}`, rank.where);
      if (increasing !== 'Y') {
        add(
          'critical',
          `${r} is declared INCREASING ${increasing || '(none)'}: order[${r}] then sends jobs to the BUSIEST host, and to hosts whose elim is dead first; declare it Y: ${JSON.stringify(rank.text)}`,
          rank.where,
        );
      }
      effective.push(`${r}: ${type} INTERVAL ${rank.cells.get('INTERVAL') || '()'} INCREASING ${increasing || '()'} (${rank.where})`);
    }
    // LIM logs a name lsf.shared does not declare as unknown and ignores its value.
    for (const name of input.typedRanks ?? []) {
      if (resources.has(name)) continue;
      add('error', `${name} is not declared in a Resource section: with typed_ranks: true the elim reports it, and LIM ignores it as an unknown name (add the line from openlava-conf/lsf.shared)`, shared);
    }
  }

  // the cluster file: which resources are mapped, and ELIMARGS
  const listed = sharedText === undefined ? [] : clusterNames(sharedText, sharedFile);
  const cluster = chooseCluster(input.cluster, listed, confdir, input.lsf === true, await confdirLook(confdir, listed));
  if ('problem' in cluster) {
    add('critical', cluster.problem);
  } else {
    if (cluster.note !== undefined) add('warning', cluster.note, shared);
    effective.push(`cluster: ${cluster.name} (${cluster.why})`);
    await checkClusterFile(join(confdir, `lsf.cluster.${cluster.name}`), label(`lsf.cluster.${cluster.name}`), r, resources, add, effective, input.configPath);
    const lsbConfdir = setting('LSB_CONFDIR');
    const confdirPath = lsbConfdir?.value ?? join(envdir, 'lsbatch');
    const queues = input.queues ?? (await findLsbQueues(confdirPath, cluster.name, input.lsf === true));
    if (queues === undefined) {
      add('warning', `no lsb.queues at ${lsbQueuesCandidates(confdirPath, cluster.name, input.lsf === true).join(' or ')}, so no queue was checked (pass --queues FILE)`);
    } else {
      await checkQueues(queues, r, increasingOf(rank), input.expected, add, effective, input.queues !== undefined);
    }
  }

  // the installed elim
  const serverdir = setting('LSF_SERVERDIR');
  if (serverdir === undefined) add('critical', 'LSF_SERVERDIR is set neither in the environment nor in lsf.conf: LIM would not know where the elim is', 'lsf.conf');
  else await checkElim(join(serverdir.value, input.lsf === true ? 'elim.rank' : 'elim'), input, add, effective);
  return { findings, effective };
}

function increasingOf(rank: { cells: Map<string, string> } | undefined): string | undefined {
  return rank?.cells.get('INCREASING')?.toUpperCase();
}

// Whether LIM reads a table row; one it ignores, since its values do not match the
// header's keywords, is an error finding: what it declares or maps does not exist for LIM.
function fits(section: ConfSection, row: ConfRow, file: string, lines: readonly string[], add: (s: Severity, m: string, w?: string) => void): boolean {
  const mismatch = rowMismatch(section, row);
  if (mismatch === undefined) return true;
  add(
    'error',
    `${mismatch}: LIM ignores this line ("values do not match keys"), so nothing on it is declared or mapped; give every column a value (() for an empty one): ${JSON.stringify(lineText(lines, row))}`,
    `${file}:${row.first + 1}`,
  );
  return false;
}

function parseOrReport(text: string, file: string, reader: ConfReader, add: (s: Severity, m: string, w?: string) => void): ConfSection[] {
  try {
    return parseSections(text, file, reader);
  } catch (err) {
    add('critical', err instanceof Error ? err.message : String(err), file);
    return [];
  }
}

async function checkClusterFile(
  path: string,
  file: string,
  r: string,
  resources: ReadonlyMap<string, { cells: Map<string, string> }>,
  add: (s: Severity, m: string, w?: string) => void,
  effective: string[],
  configPath?: string,
): Promise<void> {
  const text = await readOrUndefined(path);
  if (text === undefined) {
    add('critical', `${path} cannot be read; LIM reads the ResourceMap there, and does not start without it`);
    return;
  }
  const lines = text.split('\n');
  const sections = parseOrReport(text, file, 'lim', add);
  const mapped: string[] = [];
  let trigger = false;
  let everywhere = false;
  const partial: { name: string; location: string; where: string }[] = [];
  for (const section of named(sections, 'ResourceMap')) {
    for (const row of section.rows) {
      if (!fits(section, row, file, lines, add)) continue;
      const c = cells(section, row);
      const name = c.get('RESOURCENAME');
      if (name === undefined) continue;
      const where = `${file}:${row.first + 1}`;
      const location = c.get('LOCATION') ?? '';
      if (location === '') {
        // doresourcemap (lsf/lim/lim.conf.c): "No LOCATION specified ...; ignoring the line"
        add('error', `${name} has no LOCATION ("-" or "()"): LIM ignores this line, so ${name} is not mapped; give it ([default]): ${JSON.stringify(lineText(lines, row))}`, where);
        continue;
      }
      mapped.push(`${name} (${location}) (${where})`);
      if (name === r) {
        trigger = true; // the elim does start; the ordering is what breaks
        everywhere ||= isDefaultLocation(location);
        add(
          'critical',
          `${r} is in the ResourceMap: OpenLava 4.0 gives a mapped resource the flag mbatchd also uses for free job slots, so order[${r}] sorts hosts by free slots, not by ${r}; map a dummy resource instead (elimtrig, openlava-conf/lsf.cluster): ${JSON.stringify(lineText(lines, row))}`,
          where,
        );
        continue;
      }
      const declared = resources.get(name);
      if (declared === undefined) continue;
      if ((declared.cells.get('INTERVAL') ?? '') === '') continue; // static: starts no elim
      trigger = true;
      if (isDefaultLocation(location)) everywhere = true;
      else partial.push({ name, location, where });
    }
  }
  // One dynamic resource mapped [default] starts the elim on every host (defaultRunElim,
  // lsf/lim/lim.conf.c); without one, LIM starts it on one host of each instance only
  // (announceElimInstance, lsf/lim/lim.internal.c): the first host up in each [...].
  if (!everywhere) {
    for (const { name, location, where } of partial) {
      const shared = instanceWords(location).some((words) => words.includes('all') || words.includes('others'));
      add(
        shared ? 'critical' : 'warning',
        `${name} is mapped to ${location}: LIM then starts the elim on one host of each instance only, the first host up of each [...]` +
          `${shared ? `, and [all] or [others] is one instance shared by many hosts, so a single host reports ${r} for all of them` : ''}; the other hosts report no ${r} (map ${name} ([default]) to start it on every host)`,
        where,
      );
    }
  }
  if (!trigger) {
    add(
      'critical',
      `no dynamic resource is mapped in a ResourceMap section: LIM starts the elim only for a mapped dynamic resource, so it never starts (add elimtrig from openlava-conf/lsf.cluster and declare it in lsf.shared)`,
      file,
    );
  }
  effective.push(`ResourceMap: ${mapped.join(', ') || '(none)'}`);
  // doclparams (lsf/lim/lim.conf.c) skips a Parameters section whose first line has no
  // "=" (a header: "vertical section not supported"), and each ELIMARGS line it reads
  // replaces the one before: the elim gets the last. readHvalues (lib.confmisc.c) takes
  // the line's first word, cut at its "=", as the key, and what follows the line's first
  // "=" as the value, wherever that "=" is: "ELIMARGS --config=/x" sets ELIMARGS to "/x".
  let elimArgs: { value: string; where: string } | undefined;
  for (const section of named(sections, 'Parameters')) {
    if (section.header !== undefined) continue;
    for (const row of section.rows) {
      const text = limLogicalLine(lines, row);
      const key = (text.trimStart().split(' ', 1)[0] ?? '').split('=', 1)[0] ?? '';
      if (!/^ELIMARGS$/i.test(key) || !text.includes('=')) continue; // strcasecmp: ASCII letters only, as /i without u
      elimArgs = { value: limHvalue(text.slice(text.indexOf('=') + 1).replace(/^ +/, '')), where: `${file}:${row.first + 1}` };
    }
  }
  if (elimArgs !== undefined) {
    effective.push(`ELIMARGS: ${elimArgs.value} (${elimArgs.where})`);
    checkElimArgs(elimArgs.value, elimArgs.where, add, configPath);
  }
}

// A row's line as getNextLineD_ (lsf/lib/lib.words.c) gives it to readHvalues: its
// physical lines joined, each blank (tab, CR, the newline of a `\` continuation) a
// space, blanks in a row kept, those at its end dropped.
function limLogicalLine(lines: readonly string[], row: ConfRow): string {
  let text = '';
  let quoted = false;
  for (let i = row.first; i <= row.last; i++) {
    const line = limLine(lines[i] ?? '', quoted);
    text += line.text;
    quoted = line.quoted;
  }
  return text.replace(C_BLANKS, ' ').replace(/ +$/, '');
}

// A KEY = VALUE value as readHvalues and putValue (lsf/lib/lib.confmisc.c) give it to
// LIM: a "(" first is dropped with the text from the last ")" on, and "-" is empty.
function limHvalue(text: string): string {
  let value = text;
  if (value.startsWith('(')) {
    value = value.slice(1);
    const close = value.lastIndexOf(')');
    if (close >= 0) value = value.slice(0, close);
  }
  return value === '-' ? '' : value;
}

// The words of each instance [...] of a ResourceMap LOCATION, as addResourceMap and
// parseHostList (lsf/lim/lim.conf.c) split them: host, type or model names, or the
// reserved words default, all and others (case-sensitive).
function instanceWords(location: string): string[][] {
  return [...location.matchAll(/\[([^\]]*)\]/g)].map((m) => (m[1] ?? '').split(/\s+/).filter((w) => w !== ''));
}

// Whether a LOCATION gives every host its own instance: an instance naming default.
function isDefaultLocation(location: string): boolean {
  return instanceWords(location).some((words) => words.includes('default'));
}

// ELIMARGS as OpenLava 4.0's LIM uses it: split at blanks (limElimArgv) and appended
// to the elim's command line (the installed wrapper passes them on after "run"). Quotes keep what
// they enclose as one argument, and 4.0's splitter mangles its end: on 4.0,
// ELIMARGS = "--config /x.yaml" (as LSF's manuals write it) reached the elim as the
// one argument '--config /x.yamll"', which it refuses (logged, exit 2), with nothing
// in lim.log at LOG_WARNING. The same options unquoted work.
function checkElimArgs(value: string, where: string, add: (s: Severity, m: string, w?: string) => void, configPath: string | undefined): void {
  if (/["']/.test(value)) {
    add(
      'critical',
      `ELIMARGS is quoted: OpenLava 4.0's LIM then passes the quoted text as one argument, its end mangled, which the elim refuses, so it exits at once and the rank shows "-" (its log says "invalid command line"; lim.log says nothing); write the options unquoted, e.g. ELIMARGS = --config /etc/lavarank/lavarank.yaml (now: ELIMARGS = ${value})`,
      where,
    );
    return;
  }
  const written = value.split(/\s+/).filter((w) => w !== '');
  const argv = limElimArgv(value);
  if (argv.join('\0') !== written.join('\0')) {
    add(
      'critical',
      `ELIMARGS has blanks in a row (a tab beside a blank, a "\\" continuation line, blanks inside its (...)) or a "\\": OpenLava 4.0's LIM then repeats the end of its last argument or adds an empty one, so the elim gets ${JSON.stringify(argv)}, not ${JSON.stringify(written)}: an option it refuses or a file that is not there, so it exits at once, at every start, and the rank shows "-" (lim.log says nothing); write the options on one line, one blank between them (now: ELIMARGS = ${value})`,
      where,
    );
    return;
  }
  // Read as the elim reads them: one it refuses (an unknown option, --config given twice
  // with two values, --help) ends it at every start, and lim.log says nothing.
  let args: ReturnType<typeof parseCommandLine<typeof RUN_OPTIONS>>;
  try {
    args = parseCommandLine(argv, RUN_OPTIONS);
    testInterval(args['test-interval'], {}); // run refuses "--test-interval 5s" before it starts
  } catch (err) {
    // both throw only for a command line run refuses
    add('critical', `ELIMARGS gives the elim a command line it refuses (${errorMessage(err)}), so it exits at once, at every start, and the rank shows "-" (its log says "invalid command line"; lim.log says nothing): ELIMARGS = ${value}`, where);
    return;
  }
  if (args.help === true) {
    add('critical', `ELIMARGS gives the elim --help, which it refuses under LIM (the usage would be read as a report), so it exits at once, at every start, and the rank shows "-": ELIMARGS = ${value}`, where);
    return;
  }
  const config = args.config;
  if (config !== undefined && config !== configPath) {
    add(
      'warning',
      `ELIMARGS gives the elim --config ${config}, but this check read ${configPath ?? 'built-in defaults'}: what is listed here is not what the elim uses; run "lavarank check --config ${config}"`,
      where,
    );
  }
}

// ELIMARGS split into the elim's arguments as parseCommandArgs (lsf/intlib/misc.c,
// OpenLava 4.0) splits it, in place: its write position falls behind its read position
// at each quote, each `\` and each blank after the first of a run, and nothing ends
// the last argument at the write position, so that argument keeps as many characters
// of the text's end again ("--config  /x" gives "--config", "/xx"); a blank last gives
// an empty argument.
function limElimArgv(args: string): string[] {
  const s = [...args];
  const at = (k: number): string => s[k] ?? '\0';
  let i = 0;
  let j = 0;
  while (at(j) === ' ' || at(j) === '\t') j++;
  if (at(j) === '\0') return [];
  s[i] = at(j);
  const starts = [i];
  let quote = '';
  do {
    const c = at(j);
    if (c === ' ' || c === '\t') {
      if (quote !== '') {
        s[i++] = at(j++);
      } else {
        s[j++] = '\0';
        s[i++] = '\0';
        while (at(j) === ' ' || at(j) === '\t') j++;
        s[i] = at(j);
        starts.push(i);
      }
    } else if (c === '"' || c === "'") {
      if (quote === '') quote = c;
      else if (quote !== c) s[i++] = c;
      else quote = '';
      j++;
    } else if (c === '\\') {
      if (quote !== "'") j++;
      s[i++] = at(j++);
    } else {
      s[i++] = at(j++);
    }
  } while (at(j) !== '\0');
  const text = s.join('');
  return starts.map((start) => {
    const end = text.indexOf('\0', start);
    return text.slice(start, end < 0 ? undefined : end);
  });
}

async function checkQueues(
  path: string,
  r: string,
  increasing: string | undefined,
  expected: LsfCheckInput['expected'],
  add: (s: Severity, m: string, w?: string) => void,
  effective: string[],
  given = false, // named by --queues
): Promise<void> {
  const text = await readOrUndefined(path);
  if (text === undefined) {
    // The file asked for, not one looked for: "pass --queues FILE" to whoever just did, exit 0.
    if (given) add('error', `--queues ${path} cannot be read (missing, unreadable or not a regular file), so no queue was checked`);
    else add('warning', `${path} cannot be read, so no queue was checked (pass --queues FILE)`);
    return;
  }
  const file = 'lsb.queues';
  effective.push(`lsb.queues: ${path}`);
  let ordering = 0;
  // The queues a job without -q goes to (lsb.params beside lsb.queues), and whether
  // each reserves the rank: without it, bsub -R "order[rank]" there herds a burst.
  // Without a DEFAULT_QUEUE naming a queue defined here, mbatchd takes the queue named default.
  const paramsText = await readOrUndefined(join(dirname(path), 'lsb.params'));
  const listed = paramsText === undefined ? [] : defaultQueues(paramsText, 'lsb.params');
  const defaults = new Map<string, boolean>();
  try {
    for (const q of mbatchdDefaultQueues(paramsText, 'lsb.params', text, file).queues) defaults.set(q, false);
  } catch {
    // a section without End: parseOrReport below reports it, and no queue is judged
  }
  for (const section of named(parseOrReport(text, file, 'mbatchd', add), 'Queue')) {
    let name = '?';
    let resReq: { value: string; where: string } | undefined;
    for (const row of section.rows) {
      const m = /^(\w+)\s*=\s*(.*)$/.exec(row.values.join(' '));
      if (m === null) continue;
      if (m[1]!.toUpperCase() === 'QUEUE_NAME') name = m[2]!;
      if (m[1]!.toUpperCase() === 'RES_REQ') resReq = { value: m[2]!.replace(/^"(.*)"$/, '$1'), where: `${file}:${row.first + 1}` };
    }
    const req = resReq === undefined ? undefined : parseResReq(resReq.value);
    if (defaults.has(name)) defaults.set(name, req?.rusage.has(r) === true);
    if (resReq === undefined || req === undefined) continue;
    const term = req.order.find((t) => t === r || t === `-${r}`);
    if (term === undefined) continue;
    ordering++;
    effective.push(`queue ${name}: RES_REQ = ${resReq.value} (${resReq.where})`);
    if (term === `-${r}` && increasing === 'Y') {
      add('critical', `queue ${name} orders by ${term}: with ${r} INCREASING Y that picks the BUSIEST host; use order[${r}]: ${JSON.stringify(resReq.value)}`, resReq.where);
    }
    checkReservation(name, r, req, resReq, expected, add);
  }
  if (ordering === 0) {
    add('warning', `no queue has order[${r}] in its RES_REQ: only jobs submitted with -R "order[${r}]" use the rank (add the queue from openlava-conf/lsb.queues)`, file);
  }
  for (const [name, reserves] of defaults) {
    if (!reserves) {
      const why = listed.includes(name) ? 'lsb.params DEFAULT_QUEUE' : 'where mbatchd sends jobs without -q when no DEFAULT_QUEUE names a queue';
      add('warning', `the default queue ${name} (${why}) reserves no ${r}: a burst sent there with -R "order[${r}]" herds onto one host; add the rank queue's rusage[${r}=...] to its RES_REQ (lavarank install --merge-conf --default-queue does, if it has none; its jobs then go only to hosts that report a rank)`, file);
    }
  }
}

function checkReservation(
  name: string,
  r: string,
  req: ResReq,
  resReq: { value: string; where: string },
  expected: LsfCheckInput['expected'],
  add: (s: Severity, m: string, w?: string) => void,
): void {
  const d = req.rusage.get(r);
  if (d === undefined) {
    add(
      'warning',
      `queue ${name} has order[${r}] without rusage[${r}=D:duration=T:decay=1]: a burst of jobs herds onto one host (JOB_ACCEPT_INTERVAL=0) or goes round robin (=1)${
        expected === undefined ? '' : `; ${expected.why} gives ${expected.resReq}`
      }`,
      resReq.where,
    );
    return;
  }
  const duration = req.rusage.get('duration');
  if (!/^\d+(\.\d+)?$/.test(d) || (duration !== undefined && durationSeconds(duration) === undefined)) {
    add('error', `queue ${name}: bsub refuses this rusage (no negative values; a lower-case time unit such as 45s): ${JSON.stringify(resReq.value)}`, resReq.where);
    return;
  }
  if (expected === undefined) return;
  const seconds = duration === undefined ? undefined : durationSeconds(duration);
  if (Number(d) !== expected.d || seconds !== expected.t) {
    add(
      'warning',
      `queue ${name} reserves ${r}=${d} for ${duration === undefined ? 'no duration' : `duration=${duration}`}; ${expected.why} gives ${r}=${expected.d} for duration=${expected.t}s (${expected.resReq})`,
      resReq.where,
    );
  }
}

async function checkElim(path: string, input: LsfCheckInput, add: (s: Severity, m: string, w?: string) => void, effective: string[]): Promise<void> {
  const text = await readOrUndefined(path);
  if (text === undefined) {
    add('critical', `${path} does not exist or cannot be read: LIM has no elim to start; run "lavarank install"`);
    effective.push(`elim: ${path} (missing)`);
    return;
  }
  const wrapper = parseWrapper(text);
  if (wrapper === undefined) {
    add(
      'critical',
      `${path} is not lavarank's wrapper (no "${WRAPPER_MARK}" line; it starts with ${JSON.stringify(text.split('\n', 1)[0]?.slice(0, 60) ?? '')}): LIM runs that instead of lavarank`,
    );
    effective.push(`elim: ${path} (not lavarank's)`);
    return;
  }
  const { node, program } = wrapper;
  const here = await realOrSelf(input.program);
  const there = await realOrSelf(program);
  const programThere = await existsAsync(program);
  let programNote = 'this build';
  if (!programThere) {
    add('critical', `${path} runs ${program}, which does not exist: LIM's elim dies at once; run "lavarank install" from this build`);
    programNote = 'missing';
  } else if (there !== here) {
    add('error', `${path} runs ${program}, not this build (${input.program}); run "lavarank install" from the build you mean LIM to run`);
    programNote = 'another build';
  }
  const version = await probeNode(node);
  let nodeNote: string;
  if ('problem' in version) {
    add('critical', `${path} runs Node ${node}, which does not work here: ${version.problem}`);
    nodeNote = 'does not run';
  } else {
    nodeNote = version.version;
  }
  if (text !== wrapperText(node, program)) {
    add('warning', `${path} was written by another version of lavarank install (its text differs from what this one writes); run "lavarank install" again`);
  }
  for (const problem of [...(await checkTrustAsync(path, 'the elim', { executable: true })).problems, ...(await checkTrustAsync(node, "the elim's Node", { executable: true })).problems]) {
    add('error', problem);
  }
  if (programThere) {
    // The installation is walked only once the program's own walk passed: where that
    // walk fails, both would name the same directories.
    const programProblems = (await checkTrustAsync(program, "the elim's program")).problems;
    for (const problem of programProblems.length > 0 ? programProblems : await installationProblemsAsync(program, "the elim's installation")) add('error', problem);
  }
  const installed = await realOrSelf(path);
  for (const child of input.childElims) {
    if ((await realOrSelf(child)) === installed) {
      add('error', `child elim ${child} is the installed elim itself: lavarank would start itself, again and again; list the site's own elim there`);
    }
  }
  effective.push(`elim: ${path} -> ${node} (${nodeNote}) ${program} (${programNote})`);
}

async function realOrSelf(path: string): Promise<string> {
  try {
    return await realpath(path);
  } catch (err) {
    return errorCode(err) === undefined ? path : resolve(path);
  }
}
