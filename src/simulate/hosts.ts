// The hosts a simulation runs on: a YAML list written by the administrator, or the
// output of OpenLava's `lshosts -l`/`lshosts -w` (CPUs, memory, CPU factor) and
// `bhosts -l`/`bhosts -w` (job slots, MAX), as captured from a real cluster. Several
// files are merged by host name: lshosts says what a host is, bhosts how many jobs
// it takes. Pure parsers plus one reader.
import { LineCounter } from 'yaml';
import { aliasRefused } from '../config/config.js';
import { ConfigError, ParseError, errorMessage, errorReason } from '../util/errors.js';
import { readRegularTextAsync } from '../util/paths.js';
import { median } from '../util/stats.js';
import { parseYamlDocument } from '../util/yaml.js';
import { diskCount, type HostSpec } from './cluster.js';

// What one file says about a host; missing fields come from another file or defaults.
export interface HostFacts {
  name: string;
  cpus?: number;
  memBytes?: number;
  mxj?: number;
  cpuFactor?: number;
  disks?: number;
  cpusUnknown?: boolean; // lshosts printed "-" for a server host's CPUs (its LIM was down)
}

// Memory a host is given when no file says (per CPU).
export const DEFAULT_MEM_PER_CPU = 4 * 2 ** 30;

const UNITS: Record<string, number> = { '': 2 ** 20, K: 2 ** 10, M: 2 ** 20, G: 2 ** 30, T: 2 ** 40 };

// A size as OpenLava prints it (24105M, 80G, 0M) or as YAML gives it (64G, 65536M, a
// number of GiB); undefined for "-".
export function parseSize(text: string, where: string, numberUnit: 'G' | 'M' = 'M'): number | undefined {
  const t = text.trim();
  if (t === '-') return undefined;
  const m = /^(\d+(?:\.\d+)?)\s*([KMGT]?)B?$/i.exec(t);
  if (m === null) throw new ParseError(where, `size ${JSON.stringify(text)} is not a number with an optional K, M, G or T`);
  const unit = m[2]!.toUpperCase() === '' ? numberUnit : m[2]!.toUpperCase();
  return Number(m[1]) * UNITS[unit]!;
}

function positiveInt(text: string, what: string, where: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1) throw new ParseError(where, `${what} ${JSON.stringify(text)} is not a whole number of at least 1`);
  return n;
}

function positiveNum(text: string, what: string, where: string): number {
  const n = Number(text);
  if (!Number.isFinite(n) || n <= 0) throw new ParseError(where, `${what} ${JSON.stringify(text)} is not a positive number`);
  return n;
}

// Column values of a header line and the line under it, by column name (whitespace-separated).
function columns(header: string, values: string): Map<string, string> {
  const names = header.trim().split(/\s+/);
  const vals = values.trim().split(/\s+/);
  const out = new Map<string, string>();
  names.forEach((n, i) => {
    if (vals[i] !== undefined) out.set(n, vals[i]!);
  });
  return out;
}

// The line of the header under which the host block starting at line `from` has its
// values, looked for only up to the next block: each block is read once, so the
// output of thousands of hosts is one pass, and a block without the header cannot
// take the next host's values.
function blockHeader(lines: readonly string[], from: number, header: RegExp, nextBlock: RegExp): number {
  for (let j = from + 1; j < lines.length; j++) {
    const line = lines[j]!;
    if (header.test(line)) return j;
    if (nextBlock.test(line)) return -1;
  }
  return -1;
}

// A client host in lshosts output (server No: a login or submission host): mbatchd
// never dispatches to it, and lshosts prints "-" for its CPUs, memory and disks.
function isClient(c: Map<string, string>): boolean {
  return c.get('server') === 'No';
}

// `lshosts -l`: blocks starting with "HOST_NAME:  name", a header line starting with
// "type" and its values.
export function parseLshostsLong(text: string, where: string): HostFacts[] {
  const lines = text.split('\n');
  const out: HostFacts[] = [];
  for (let i = 0; i < lines.length; i++) {
    const m = /^HOST_NAME:\s*(\S+)/.exec(lines[i]!);
    if (m === null) continue;
    const name = m[1]!;
    const h = blockHeader(lines, i, /^\s*type\s+model\s+cpuf\s+ncpus/, /^HOST_NAME:/);
    if (h === -1 || h + 1 >= lines.length) throw new ParseError(`${where}:${i + 1}`, `host ${name} has no "type model cpuf ncpus ..." line`);
    const c = columns(lines[h]!, lines[h + 1]!);
    if (isClient(c)) continue;
    const at = `${where}:${h + 2}`;
    const facts: HostFacts = { name };
    if (c.has('ncpus') && c.get('ncpus') !== '-') facts.cpus = positiveInt(c.get('ncpus')!, 'ncpus', at);
    else if (c.get('ncpus') === '-') facts.cpusUnknown = true;
    if (c.has('cpuf')) facts.cpuFactor = positiveNum(c.get('cpuf')!, 'cpuf', at);
    // LIM prints 0 disks where it cannot count them: no information.
    const ndisks = Number(c.get('ndisks'));
    if (Number.isInteger(ndisks) && ndisks > 0) facts.disks = ndisks;
    const mem = c.get('maxmem');
    if (mem !== undefined) {
      const bytes = parseSize(mem, at);
      if (bytes !== undefined && bytes > 0) facts.memBytes = bytes;
    }
    out.push(facts);
  }
  return out;
}

// `bhosts -l`: blocks starting with "HOST  name", a "STATUS CPUF JL/U MAX ..." header and its values.
export function parseBhostsLong(text: string, where: string): HostFacts[] {
  const lines = text.split('\n');
  const out: HostFacts[] = [];
  for (let i = 0; i < lines.length; i++) {
    const m = /^HOST\s+(\S+)\s*$/.exec(lines[i]!);
    if (m === null) continue;
    const name = m[1]!;
    const h = blockHeader(lines, i, /^STATUS\s+CPUF\s+JL\/U\s+MAX/, /^HOST\s+\S+\s*$/);
    if (h === -1 || h + 1 >= lines.length) throw new ParseError(`${where}:${i + 1}`, `host ${name} has no "STATUS CPUF JL/U MAX ..." line`);
    const c = columns(lines[h]!, lines[h + 1]!);
    const at = `${where}:${h + 2}`;
    const facts: HostFacts = { name };
    const max = c.get('MAX');
    if (max !== undefined && max !== '-') facts.mxj = positiveInt(max, 'MAX', at);
    if (c.has('CPUF')) facts.cpuFactor = positiveNum(c.get('CPUF')!, 'CPUF', at);
    out.push(facts);
  }
  return out;
}

// `lshosts -w` or `bhosts -w`: one header line starting with HOST_NAME, one line per host.
export function parseHostTable(text: string, where: string): HostFacts[] {
  const lines = text.split('\n');
  const h = lines.findIndex((l) => /^HOST_NAME\s+\S/.test(l));
  if (h === -1) throw new ParseError(where, 'no header line starting with HOST_NAME');
  const out: HostFacts[] = [];
  for (let i = h + 1; i < lines.length; i++) {
    if (lines[i]!.trim() === '') continue;
    const c = columns(lines[h]!, lines[i]!);
    if (isClient(c)) continue;
    const at = `${where}:${i + 1}`;
    const facts: HostFacts = { name: c.get('HOST_NAME')! };
    const ncpus = c.get('ncpus');
    if (ncpus !== undefined && ncpus !== '-') facts.cpus = positiveInt(ncpus, 'ncpus', at);
    else if (ncpus === '-') facts.cpusUnknown = true;
    const cpuf = c.get('cpuf');
    if (cpuf !== undefined) facts.cpuFactor = positiveNum(cpuf, 'cpuf', at);
    const mem = c.get('maxmem');
    if (mem !== undefined) {
      const bytes = parseSize(mem, at);
      if (bytes !== undefined && bytes > 0) facts.memBytes = bytes;
    }
    const max = c.get('MAX');
    if (max !== undefined && max !== '-') facts.mxj = positiveInt(max, 'MAX', at);
    out.push(facts);
  }
  return out;
}

const YAML_KEYS = ['name', 'cpus', 'mem', 'mxj', 'cpu_factor', 'disks', 'count'];
// yaml's own default: a site's list of hosts may use an anchor more than lavarank.yaml.
const MAX_ALIAS_COUNT = 100;

// The administrator's YAML: a list (or `hosts:` holding a list) of
// {name, cpus, mem, mxj, cpu_factor, disks, count}; `count: N` makes N hosts name-1..name-N.
export function parseHostsYaml(text: string, where: string): HostFacts[] {
  const lines = new LineCounter();
  const doc = parseYamlDocument(text, { prettyErrors: false, lineCounter: lines });
  if (doc.errors.length > 0) {
    const e = doc.errors[0]!;
    const pos = e.linePos?.[0];
    throw new ConfigError(`${where}${pos === undefined ? '' : `:${pos.line}:${pos.col}`}: ${e.message}`);
  }
  let list: unknown;
  try {
    list = doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
  } catch (err) {
    // An alias bomb, or an alias to no anchor: yaml's message names no file, line or column.
    const offset = aliasRefused(doc, MAX_ALIAS_COUNT)?.range?.[0];
    const pos = offset === undefined ? undefined : lines.linePos(offset);
    throw new ConfigError(`${where}${pos === undefined ? '' : `:${pos.line}:${pos.col}`}: invalid YAML: ${errorMessage(err)}`, { cause: err });
  }
  if (typeof list === 'object' && list !== null && !Array.isArray(list) && 'hosts' in list) list = (list as { hosts: unknown }).hosts;
  if (!Array.isArray(list)) throw new ConfigError(`${where}: expected a list of hosts (or hosts: with a list), found ${list === null || list === undefined ? "nothing" : typeof list}`);
  const problems: string[] = [];
  const out: HostFacts[] = [];
  list.forEach((entry: unknown, i) => {
    const at = `${where}: hosts[${i}]`;
    if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) {
      problems.push(`${at}: expected a mapping with name, cpus, mem, mxj, cpu_factor, count`);
      return;
    }
    const e = entry as Record<string, unknown>;
    for (const k of Object.keys(e)) if (!YAML_KEYS.includes(k)) problems.push(`${at}.${k}: unknown key (known: ${YAML_KEYS.join(', ')})`);
    const name = e['name'];
    if (typeof name !== 'string' || name.trim() === '') {
      problems.push(`${at}.name: expected a host name, found ${JSON.stringify(name)}`);
      return;
    }
    const int = (k: string, max: number): number | undefined => {
      const v = e[k];
      if (v === undefined) return undefined;
      if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > max) {
        problems.push(`${at}.${k}: expected a whole number from 1 to ${max}, found ${shown(v)}`);
        return undefined;
      }
      return v;
    };
    const cpus = int('cpus', 16384);
    const mxj = int('mxj', 65536);
    const disks = int('disks', 4096);
    const count = int('count', 100_000) ?? 1;
    let cpuFactor: number | undefined;
    if (e['cpu_factor'] !== undefined) {
      const v = e['cpu_factor'];
      if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) problems.push(`${at}.cpu_factor: expected a positive number, found ${shown(v)}`);
      else cpuFactor = v;
    }
    let memBytes: number | undefined;
    if (e['mem'] !== undefined) {
      const v = e['mem'];
      try {
        memBytes = typeof v === 'number' ? v * 2 ** 30 : typeof v === 'string' ? parseSize(v, `${at}.mem`, 'G') : undefined;
        if (memBytes === undefined || !(memBytes > 0)) throw new ParseError(`${at}.mem`, `expected a size such as 64G or a number of GiB, found ${shown(v)}`);
      } catch (err) {
        problems.push(err instanceof Error ? err.message : String(err));
      }
    }
    if (e['cpus'] === undefined) problems.push(`${at}.cpus: required`);
    for (let k = 1; k <= count; k++) {
      out.push({ name: count === 1 ? name : `${name}-${k}`, cpus, memBytes, mxj, cpuFactor, disks });
    }
  });
  if (problems.length > 0) throw new ConfigError(problems.length === 1 ? problems[0]! : `${where}: ${problems.length} problems`, { problems });
  return out;
}

// A YAML value as the message shows it: JSON, except the numbers JSON has no words for (.nan, .inf).
function shown(v: unknown): string {
  return typeof v === 'number' && !Number.isFinite(v) ? String(v) : JSON.stringify(v);
}

// Which parser a file needs, from its content.
export function parseHostFile(text: string, where: string): HostFacts[] {
  if (/^HOST_NAME:/m.test(text)) return parseLshostsLong(text, where);
  if (/^HOST\s+\S+\s*$/m.test(text) && /^STATUS\s+CPUF/m.test(text)) return parseBhostsLong(text, where);
  if (/^HOST_NAME\s+\S/m.test(text)) return parseHostTable(text, where);
  return parseHostsYaml(text, where);
}

// Merges facts by host name (later files fill what earlier ones left out, in the
// order hosts first appear) into hosts: MXJ defaults to the CPUs, memory to
// DEFAULT_MEM_PER_CPU per CPU, the disks to diskCount's one per 8 CPUs, the CPU
// factor to 1; speed is the CPU factor over the median CPU factor. Throws
// ConfigError for a host without a CPU count.
export function mergeHosts(facts: readonly HostFacts[]): HostSpec[] {
  const byName = new Map<string, HostFacts>();
  for (const f of facts) {
    const had = byName.get(f.name);
    if (had === undefined) byName.set(f.name, { ...f });
    else {
      for (const k of ['cpus', 'memBytes', 'mxj', 'cpuFactor', 'disks'] as const) if (had[k] === undefined && f[k] !== undefined) had[k] = f[k];
      if (f.cpusUnknown === true) had.cpusUnknown = true;
    }
  }
  const down = [...byName.values()].filter((h) => h.cpus === undefined && h.cpusUnknown === true).map((h) => h.name);
  if (down.length > 0) throw new ConfigError(`lshosts shows no CPU count ("-") for host${down.length > 1 ? 's' : ''} ${down.slice(0, 5).join(', ')}${down.length > 5 ? ', ...' : ''}: its LIM was down when lshosts ran; run lshosts again while it is up, give cpus: in a YAML file, or leave the host out`);
  const missing = [...byName.values()].filter((h) => h.cpus === undefined).map((h) => h.name);
  if (missing.length > 0) throw new ConfigError(`no CPU count for host${missing.length > 1 ? 's' : ''} ${missing.slice(0, 5).join(', ')}${missing.length > 5 ? ', ...' : ''}: give lshosts output or cpus: in the YAML`);
  if (byName.size === 0) throw new ConfigError('no hosts: the host files list none');
  const list = [...byName.values()];
  const ref = median(list.map((h) => h.cpuFactor ?? 1));
  return list.map((h) => {
    const cpus = h.cpus!;
    const cpuFactor = h.cpuFactor ?? 1;
    return { name: h.name, cpus, memBytes: h.memBytes ?? cpus * DEFAULT_MEM_PER_CPU, mxj: h.mxj ?? cpus, disks: diskCount({ cpus, disks: h.disks }), cpuFactor, speed: cpuFactor / ref };
  });
}

// lshosts -l of 100 000 hosts is about 100 MB; a FIFO or a device is refused, not waited on.
const MAX_HOSTS_BYTES = 256 * 1024 * 1024;

// Reads and merges host files, each read in libuv's pool: a user's FUSE mount at one,
// whose server answers the pool and never a main thread, held the main thread there.
export async function readHosts(paths: readonly string[]): Promise<HostSpec[]> {
  const facts: HostFacts[] = [];
  for (const path of paths) {
    let text: string;
    try {
      text = await readRegularTextAsync(path, MAX_HOSTS_BYTES);
    } catch (err) {
      throw new ConfigError(`--hosts ${path}: cannot read: ${errorReason(err)}`, { cause: err });
    }
    const parsed = parseHostFile(text, path);
    // Files are merged by host name; within one file a name twice is a mistake (two
    // hosts entered under one name, or a count's "name-2" clashing with a host so named).
    const seen = new Set<string>();
    for (const h of parsed) {
      if (seen.has(h.name)) throw new ConfigError(`--hosts ${path}: host ${h.name} is listed twice; each host once per file (files are merged by name)`);
      seen.add(h.name);
    }
    facts.push(...parsed);
  }
  return mergeHosts(facts);
}

// A heterogeneous cluster for generated runs: `count` hosts cycling through 8, 16, 32
// and 64 CPUs with 4 GiB per CPU, MXJ = CPUs, CPU factors 0.8 to 1.4.
export function syntheticHosts(count: number): HostSpec[] {
  const sizes = [8, 16, 32, 64];
  const factors = [1, 1.4, 0.8, 1.2, 1];
  const facts: HostFacts[] = [];
  for (let i = 0; i < count; i++) {
    const cpus = sizes[i % sizes.length]!;
    facts.push({ name: `node${String(i + 1).padStart(4, '0')}`, cpus, memBytes: cpus * DEFAULT_MEM_PER_CPU, mxj: cpus, cpuFactor: factors[i % factors.length]! });
  }
  return mergeHosts(facts);
}
