// The YAML configuration: found, trust-checked, parsed once at start into a frozen
// typed object. Every problem names the key, what was expected and what was found,
// with the file, line and column, and all problems are reported at once.
import { closeSync } from 'node:fs';
import { join } from 'node:path';
import type { Document, LineCounter, Node } from 'yaml';
import { ConfigError, errorReason } from '../util/errors.js';
import { readOpenRegular } from '../util/paths.js';
import { RANK_MAX, RANK_MIN } from '../model/rank.js';
import { isValidResourceName } from '../lsf/elim-parse.js';
import { openTrustedAsync, type TrustedOpen } from '../util/trust.js';
import { parseYamlDocument, yamlPackage } from '../util/yaml.js';
import { parseCpuNumbers } from '../collectors/cpulist.js';

// The values of log.level, most severe first (pino's levels).
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

// The config's log section.
export interface LogConfig {
  file: string | null; // null: $LSF_LOGDIR/lavarank.<host>.log, stderr on a terminal, /var/log/lavarank/
  level: LogLevel;
  max_bytes: number; // rotate when the file would grow past this
  keep: number; // rotated files kept (file.1 ... file.N)
}

// The config's history section: where each report's features and rank are kept for retrain.
export interface HistoryConfig {
  enabled: boolean;
  dir: string | null; // null: $LSF_LOGDIR/lavarank-history, else /var/lib/lavarank/history
  max_bytes: number;
  keep: number;
}

// The config's gpu section: whether and how NVIDIA GPUs are queried.
export interface GpuConfig {
  enabled: 'auto' | boolean; // auto: query NVIDIA GPUs if nvidia-smi is found
  command: string;
  interval: number; // seconds between queries, in the background
  timeout: number; // seconds before a query is killed
}

// The config's metrics section.
export interface MetricsConfig {
  textfile: string | null; // a *.prom file for node_exporter's textfile collector, rewritten each tick; null: none
}

// What the kernel cannot tell the network collector.
export interface NetworkConfig {
  link_speed: number | null; // Mb/s assumed for a physical interface whose kernel reports no speed; null: none
}

// What the kernel cannot tell the cpu collector.
export interface CpuConfig {
  job_cpus: readonly number[] | null; // the CPUs jobs may run on; null: lavarank's own affinity (LIM's)
}

// One entry of the config's elims list: a site's own elim that lavarank runs.
export interface ChildElimConfig {
  name: string | null;
  command: readonly string[]; // argv; command[0] is an absolute path
  max_age: number | null; // seconds a value stays valid; null: the default
  stale_value: number | null; // reported for a stale or dead child's names; null: leave them out
}

// The whole config, as parsed, checked and frozen at start.
export interface Config {
  resource: string;
  interval: number; // seconds between reports
  nice: number;
  proc_root: string;
  sys_root: string;
  sample_deadline: number | null; // seconds; null: half the interval
  pessimistic_after: number; // consecutive failed samples before the pessimistic rank
  pessimistic_rank: number;
  model: string | null; // null: the embedded default model
  typed_ranks: boolean; // also report <resource>_cpu, _mem, _io: the ranks of CPU-, memory- and io-bound jobs
  log: LogConfig;
  history: HistoryConfig;
  gpu: GpuConfig;
  elims: readonly ChildElimConfig[];
  metrics: MetricsConfig;
  network: NetworkConfig;
  cpu: CpuConfig;
}

// The configuration used when no file is given.
export function defaultConfig(): Config {
  return {
    resource: 'rank',
    interval: 10,
    nice: 10,
    proc_root: '/proc',
    sys_root: '/sys',
    sample_deadline: null,
    pessimistic_after: 3,
    pessimistic_rank: RANK_MAX,
    model: null,
    typed_ranks: false,
    log: { file: null, level: 'info', max_bytes: 10 * 1024 * 1024, keep: 3 },
    history: { enabled: true, dir: null, max_bytes: 64 * 1024 * 1024, keep: 4 },
    gpu: { enabled: 'auto', command: 'nvidia-smi', interval: 30, timeout: 10 },
    elims: [],
    metrics: { textfile: null },
    network: { link_speed: null },
    cpu: { job_cpus: null },
  };
}

// The fastest link an assumed speed may claim, in Mb/s: 10 Tb/s.
export const MAX_LINK_SPEED_MBPS = 1e7;

// LIM reads one report per 5 s; faster reports pile up in the pipe.
export const MIN_LIM_INTERVAL = 5;

type Path = ReadonlyArray<string | number>;

class Checker {
  readonly problems: string[] = [];
  constructor(
    private readonly where: string,
    private readonly doc: Document | undefined,
    private readonly lines: LineCounter | undefined,
  ) {}

  // file:line:col of the value at path (or of its key), when known.
  at(path: Path, key = false): string {
    if (this.lines === undefined || path.length === 0) return this.where;
    const offset = this.find(path, key)?.range?.[0];
    if (offset === undefined) return this.where;
    const pos = this.lines.linePos(offset);
    return `${this.where}:${pos.line}:${pos.col}`;
  }

  // The node at path (or its key). Where the path goes through an alias (`history:
  // *common`), the alias: the keys below it are written under another key, and the
  // mistake is their use here. Where a key came from a YAML 1.1 merge (`<<: *common`),
  // the merge key. doc.getIn stops at an alias, and such problems had no line.
  private find(path: Path, key: boolean): Node | undefined {
    const { isAlias, isMap, isPair, isScalar, isSeq } = yamlPackage();
    let node: unknown = this.doc?.contents;
    for (const [i, step] of path.entries()) {
      if (isAlias(node)) return node;
      if (isMap(node)) {
        // A key of another type (`5:`, `true:`, `~:`) is a string in the JS object the
        // path comes from: compared as that string, or it would be reported with no line.
        const pair = node.items.find((p) => isPair(p) && isScalar(p.key) && String(p.key.value ?? '') === String(step));
        if (pair === undefined) return node.items.find((p) => isScalar(p.key) && typeof p.key.value === 'symbol')?.key as Node | undefined;
        node = i < path.length - 1 ? pair.value : key ? pair.key : (pair.value ?? pair.key);
      } else if (isSeq(node)) {
        node = node.items[Number(step)];
      } else {
        return undefined;
      }
    }
    return node as Node | undefined;
  }

  fail(path: Path, expected: string, received: unknown, key = false): void {
    this.problems.push(`${this.at(path, key)}: ${keyName(path)}: expected ${expected}, received ${show(received)}`);
  }

  note(path: Path, message: string): void {
    this.problems.push(`${this.at(path)}: ${keyName(path)}: ${message}`);
  }
}

function keyName(path: Path): string {
  return path.map((p) => (typeof p === 'number' ? `[${p}]` : p)).join('.').replace(/\.\[/g, '[');
}

function show(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (typeof value === 'string') return JSON.stringify(value);
  if (Array.isArray(value)) return `a list (${JSON.stringify(value).slice(0, 60)})`;
  if (value instanceof Map) return 'an ordered mapping (!!omap)';
  if (value instanceof Set) return 'a set (!!set)';
  if (value instanceof Date) return 'a timestamp (!!timestamp)';
  if (value instanceof Uint8Array) return 'binary data (!!binary)';
  if (typeof value === 'object') return 'a mapping';
  return String(value);
}

// A mapping as YAML's plain `key: value` gives one. yaml's explicit tags give other
// objects: `!!omap` a Map and `!!set` a Set, which have no keys for checkKeys to find,
// so `log: !!omap [{level: bogus}]` was taken as an empty section, every key ignored.
function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && Object.getPrototypeOf(value) === Object.prototype;
}

function distance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const cur = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = cur;
    }
  }
  return row[b.length]!;
}

// The full names of key at the other levels of the schema (`log.level` for a top-level
// `level`, `interval` for a `log.interval`): a key of the right name at the wrong level.
function elsewhere(path: Path, key: string): string[] {
  const places: string[] = [];
  if (path.length > 0 && (TOP_KEYS as readonly string[]).includes(key)) places.push(key);
  for (const [section, keys] of Object.entries(SECTION_KEYS)) if (section !== path[0] && (keys as readonly string[]).includes(key)) places.push(`${section}.${key}`);
  return places;
}

function checkKeys(c: Checker, path: Path, value: Record<string, unknown>, known: readonly string[]): void {
  for (const key of Object.keys(value)) {
    if (known.includes(key)) continue;
    const close = known.filter((k) => distance(k, key) <= 2).map((k) => `'${k}'`);
    const other = close.length > 0 ? [] : elsewhere(path, key).map((k) => `'${k}'`);
    const hint = close.length + other.length > 0 ? ` (did you mean ${[...close, ...other].join(' or ')}?)` : '';
    c.problems.push(`${c.at([...path, key], true)}: unknown key '${keyName([...path, key])}'${hint}; known keys: ${known.join(', ')}`);
  }
}

interface NumberRule {
  min?: number;
  max?: number;
  integer?: boolean;
  above?: number; // exclusive minimum
  unit?: string; // named in the message: "a number of Mb/s"
}

function num(c: Checker, path: Path, value: unknown, fallback: number, rule: NumberRule): number {
  if (value === undefined) return fallback;
  const parts: string[] = [`${rule.integer === true ? 'an integer' : 'a number'}${rule.unit === undefined ? '' : ` of ${rule.unit}`}`];
  if (rule.above !== undefined) parts.push(`greater than ${rule.above}`);
  if (rule.min !== undefined && rule.max !== undefined) parts.push(`from ${rule.min} to ${rule.max}`);
  else if (rule.min !== undefined) parts.push(`of at least ${rule.min}`);
  else if (rule.max !== undefined) parts.push(`of at most ${rule.max}`);
  const expected = parts.join(' ');
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    c.fail(path, expected, value);
    return fallback;
  }
  if (
    (rule.integer === true && !Number.isInteger(value)) ||
    (rule.min !== undefined && value < rule.min) ||
    (rule.max !== undefined && value > rule.max) ||
    (rule.above !== undefined && value <= rule.above)
  ) {
    c.fail(path, expected, value);
    return fallback;
  }
  return value;
}

const SIZE_UNITS: Record<string, number> = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 };

// The largest size taken, 4096G.
const MAX_SIZE_BYTES = 2 ** 42;

// Bytes given as a number or as a string such as "10M", "64MiB", "512k".
function size(c: Checker, path: Path, value: unknown, fallback: number, min: number): number {
  if (value === undefined) return fallback;
  let bytes: number | undefined;
  if (typeof value === 'number' && Number.isInteger(value)) bytes = value;
  if (typeof value === 'string') {
    const m = /^\s*(\d+(?:\.\d+)?)\s*([kmg]?)(?:i?b)?\s*$/i.exec(value);
    if (m !== null) bytes = Math.floor(Number(m[1]) * (SIZE_UNITS[m[2]!.toLowerCase()] ?? 1));
  }
  if (bytes === undefined || bytes < min || bytes > MAX_SIZE_BYTES) {
    // The range whole: a size past the largest was told "of at least 65536".
    c.fail(path, `a size from ${min} bytes to ${MAX_SIZE_BYTES / SIZE_UNITS['g']!}G (a number of bytes, or a string such as "10M")`, value);
    return fallback;
  }
  return bytes;
}

function str(c: Checker, path: Path, value: unknown, fallback: string, test?: (s: string) => string | undefined): string {
  if (value === undefined) return fallback;
  if (typeof value !== 'string' || value.length === 0) {
    c.fail(path, 'a non-empty string', value);
    return fallback;
  }
  const why = test?.(value);
  if (why !== undefined) {
    c.fail(path, why, value);
    return fallback;
  }
  return value;
}

function absolutePath(s: string): string | undefined {
  if (!s.startsWith('/')) return 'an absolute path';
  if (s.includes('\0')) return 'a path without NUL bytes';
  return undefined;
}

function optionalPath(c: Checker, path: Path, value: unknown, fallback: string | null): string | null {
  if (value === undefined) return fallback;
  if (value === null) return null;
  return str(c, path, value, fallback ?? '', absolutePath) || fallback;
}

// node_exporter's textfile collector reads only *.prom files.
function promPath(s: string): string | undefined {
  return absolutePath(s) === undefined && s.endsWith('.prom') ? undefined : "an absolute path ending in .prom (node_exporter's textfile collector reads only *.prom files)";
}

// A CPU list as the kernel writes one ("2-127", "0-3,8-11"), or a single CPU number;
// null when not given.
function cpuList(c: Checker, path: Path, value: unknown): number[] | null {
  if (value === undefined || value === null) return null;
  const text = typeof value === 'number' && Number.isInteger(value) && value >= 0 ? String(value) : value;
  const expected = 'a CPU list such as "2-127" or "0-3,8-11"';
  if (typeof text !== 'string') {
    c.fail(path, expected, value);
    return null;
  }
  try {
    return parseCpuNumbers(text, keyName(path), 'config');
  } catch {
    c.fail(path, expected, value);
    return null;
  }
}

function bool(c: Checker, path: Path, value: unknown, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (typeof value !== 'boolean') {
    c.fail(path, 'true or false', value);
    return fallback;
  }
  return value;
}

function section(c: Checker, path: Path, value: unknown, known: readonly string[]): Record<string, unknown> {
  if (value === undefined || value === null) return {};
  if (!isObject(value)) {
    c.fail(path, `a mapping with keys ${known.join(', ')}`, value);
    return {};
  }
  checkKeys(c, path, value, known);
  return value;
}

// The keys of each section that is a mapping.
const SECTION_KEYS = {
  log: ['file', 'level', 'max_bytes', 'keep'],
  history: ['enabled', 'dir', 'max_bytes', 'keep'],
  gpu: ['enabled', 'command', 'interval', 'timeout'],
  metrics: ['textfile'],
  network: ['link_speed'],
  cpu: ['job_cpus'],
} as const;

const TOP_KEYS = [
  'resource',
  'interval',
  'nice',
  'proc_root',
  'sys_root',
  'sample_deadline',
  'pessimistic_after',
  'pessimistic_rank',
  'model',
  'typed_ranks',
  'log',
  'history',
  'gpu',
  'elims',
  'metrics',
  'network',
  'cpu',
] as const;

// lavarank's own names are kept to IBM LSF's 39 characters (OpenLava 4.0 takes child
// elims' names up to 1022): all four must fit in every report's one write.
const OWN_NAME_MAX = 39;

// More child elims than this are refused: each is a process lavarank runs as root.
export const MAX_CHILD_ELIMS = 16;

function checkElims(c: Checker, value: unknown): ChildElimConfig[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) {
    c.fail(['elims'], 'a list of child elims, each with a command', value);
    return [];
  }
  if (value.length > MAX_CHILD_ELIMS) c.note(['elims'], `${value.length} child elims, at most ${MAX_CHILD_ELIMS}`);
  const out: ChildElimConfig[] = [];
  const names = new Set<string>();
  value.forEach((entry: unknown, i) => {
    const path: Path = ['elims', i];
    if (!isObject(entry)) {
      c.fail(path, 'a mapping with keys name, command, max_age, stale_value', entry);
      return;
    }
    checkKeys(c, path, entry, ['name', 'command', 'max_age', 'stale_value']);
    const cmd = entry['command'];
    let command: string[] = [];
    if (!Array.isArray(cmd) || cmd.length === 0 || !cmd.every((a): a is string => typeof a === 'string')) {
      c.fail([...path, 'command'], 'a non-empty list of strings (program and arguments, no shell)', cmd);
    } else if (absolutePath(cmd[0]!) !== undefined) {
      c.fail([...path, 'command', 0], 'an absolute path to the program', cmd[0]);
    } else {
      // No program can receive one (exec takes C strings): refused here, not when the
      // children start, after the first report.
      const nul = cmd.findIndex((a) => a.includes('\0'));
      if (nul >= 0) c.fail([...path, 'command', nul], 'an argument without NUL bytes', cmd[nul]);
      else command = cmd;
    }
    let name: string | null = null;
    if (entry['name'] !== undefined && entry['name'] !== null) {
      name = str(c, [...path, 'name'], entry['name'], '', (s) =>
        /^[A-Za-z0-9_.-]{1,64}$/.test(s) ? undefined : 'a name of letters, digits, ".", "_" or "-" (at most 64)',
      );
      if (name !== '' && names.has(name)) c.note([...path, 'name'], `duplicate child elim name ${show(name)}`);
      names.add(name);
      if (name === '') name = null;
    }
    const maxAge = entry['max_age'] === null ? null : num(c, [...path, 'max_age'], entry['max_age'], -1, { above: 0, max: 86400 });
    let staleValue: number | null = null;
    const rawStale = entry['stale_value'];
    if (rawStale !== undefined && rawStale !== null) {
      if (typeof rawStale === 'number' && Number.isFinite(rawStale) && Math.abs(rawStale) < 1e15) staleValue = rawStale;
      else c.fail([...path, 'stale_value'], 'a finite number', rawStale);
    }
    if (command.length > 0) out.push({ name, command, max_age: maxAge === -1 ? null : maxAge, stale_value: staleValue });
  });
  return out;
}

// Checks a parsed YAML value against the schema. Returns the config and every problem.
export function validateConfig(
  raw: unknown,
  where = 'config',
  doc?: Document,
  lines?: LineCounter,
): { config: Config; problems: string[] } {
  const c = new Checker(where, doc, lines);
  const d = defaultConfig();
  const top = raw === null || raw === undefined ? {} : raw;
  if (!isObject(top)) {
    c.problems.push(`${where}: expected a mapping of settings at the top level, received ${show(top)}`);
    return { config: d, problems: c.problems };
  }
  checkKeys(c, [], top, TOP_KEYS);
  const resource = str(c, ['resource'], top['resource'], d.resource, (s) =>
    isValidResourceName(s) && s.length <= OWN_NAME_MAX ? undefined : 'a load index name (a letter, then letters, digits or _; at most 39)',
  );
  const interval = num(c, ['interval'], top['interval'], d.interval, { min: 1, max: 3600 });
  let deadline: number | null = d.sample_deadline;
  if (top['sample_deadline'] !== null && top['sample_deadline'] !== undefined) {
    deadline = num(c, ['sample_deadline'], top['sample_deadline'], -1, { above: 0, max: 3600 });
    if (deadline === -1) deadline = null;
    else if (deadline > interval) {
      c.note(['sample_deadline'], `must not exceed interval (${interval} s), received ${deadline}`);
      deadline = null;
    }
  }
  const log = section(c, ['log'], top['log'], SECTION_KEYS.log);
  const level = log['level'];
  let logLevel: LogLevel = d.log.level;
  if (level !== undefined) {
    if (typeof level === 'string' && (LOG_LEVELS as readonly string[]).includes(level)) logLevel = level as LogLevel;
    else c.fail(['log', 'level'], `one of ${LOG_LEVELS.join(', ')}`, level);
  }
  const history = section(c, ['history'], top['history'], SECTION_KEYS.history);
  const gpu = section(c, ['gpu'], top['gpu'], SECTION_KEYS.gpu);
  const metrics = section(c, ['metrics'], top['metrics'], SECTION_KEYS.metrics);
  const network = section(c, ['network'], top['network'], SECTION_KEYS.network);
  let linkSpeed: number | null = d.network.link_speed;
  if (network['link_speed'] !== undefined && network['link_speed'] !== null) {
    linkSpeed = num(c, ['network', 'link_speed'], network['link_speed'], -1, { above: 0, max: MAX_LINK_SPEED_MBPS, unit: 'Mb/s' });
    if (linkSpeed === -1) linkSpeed = null;
  }
  const cpu = section(c, ['cpu'], top['cpu'], SECTION_KEYS.cpu);
  const jobCpus = cpuList(c, ['cpu', 'job_cpus'], cpu['job_cpus']);
  let gpuEnabled: 'auto' | boolean = d.gpu.enabled;
  if (gpu['enabled'] !== undefined) {
    if (gpu['enabled'] === 'auto' || typeof gpu['enabled'] === 'boolean') gpuEnabled = gpu['enabled'];
    else c.fail(['gpu', 'enabled'], 'auto, true or false', gpu['enabled']);
  }
  const config: Config = {
    resource,
    interval,
    nice: num(c, ['nice'], top['nice'], d.nice, { integer: true, min: -20, max: 19 }),
    proc_root: str(c, ['proc_root'], top['proc_root'], d.proc_root, absolutePath),
    sys_root: str(c, ['sys_root'], top['sys_root'], d.sys_root, absolutePath),
    sample_deadline: deadline,
    pessimistic_after: num(c, ['pessimistic_after'], top['pessimistic_after'], d.pessimistic_after, { integer: true, min: 1, max: 1000 }),
    pessimistic_rank: num(c, ['pessimistic_rank'], top['pessimistic_rank'], d.pessimistic_rank, { min: RANK_MIN, max: RANK_MAX }),
    model: optionalPath(c, ['model'], top['model'], d.model),
    typed_ranks: bool(c, ['typed_ranks'], top['typed_ranks'], d.typed_ranks),
    log: {
      file: optionalPath(c, ['log', 'file'], log['file'], d.log.file),
      level: logLevel,
      max_bytes: size(c, ['log', 'max_bytes'], log['max_bytes'], d.log.max_bytes, 64 * 1024),
      keep: num(c, ['log', 'keep'], log['keep'], d.log.keep, { integer: true, min: 1, max: 100 }),
    },
    history: {
      enabled: bool(c, ['history', 'enabled'], history['enabled'], d.history.enabled),
      dir: optionalPath(c, ['history', 'dir'], history['dir'], d.history.dir),
      max_bytes: size(c, ['history', 'max_bytes'], history['max_bytes'], d.history.max_bytes, 64 * 1024),
      keep: num(c, ['history', 'keep'], history['keep'], d.history.keep, { integer: true, min: 1, max: 1000 }),
    },
    gpu: {
      enabled: gpuEnabled,
      command: str(c, ['gpu', 'command'], gpu['command'], d.gpu.command, (s) =>
        s.startsWith('/') || /^[A-Za-z0-9_.-]+$/.test(s) ? undefined : 'an absolute path or a program name found in PATH',
      ),
      interval: num(c, ['gpu', 'interval'], gpu['interval'], d.gpu.interval, { min: 1, max: 3600 }),
      timeout: num(c, ['gpu', 'timeout'], gpu['timeout'], d.gpu.timeout, { above: 0, max: 600 }),
    },
    elims: [],
    metrics: {
      textfile: metrics['textfile'] === undefined || metrics['textfile'] === null ? null : str(c, ['metrics', 'textfile'], metrics['textfile'], '', promPath) || null,
    },
    network: { link_speed: linkSpeed },
    cpu: { job_cpus: jobCpus },
  };
  config.elims = checkElims(c, top['elims']);
  // The typed ranks are reported as <resource>_cpu, _mem and _io: valid load index names too.
  if (config.typed_ranks && `${config.resource}_cpu`.length > OWN_NAME_MAX) {
    c.note(['resource'], `with typed_ranks: true, ${show(`${config.resource}_cpu`)} must be a load index name too (at most 39 characters): use a resource name of at most 35`);
  }
  return { config, problems: c.problems };
}

function deepFreeze<T>(value: T): Readonly<T> {
  if (typeof value === 'object' && value !== null) {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}

// A lavarank config is a few hundred bytes. The yaml parser's time grows faster
// than the size of some broken input (a 256 KB run of double quotes took 3 s, 94 s
// with its pretty errors), so a larger file is refused before it is parsed.
export const MAX_CONFIG_BYTES = 64 * 1024;
// YAML syntax errors listed; a broken file can have one per character.
const MAX_YAML_ERRORS = 10;

function tooLarge(where: string, bytes: number): ConfigError {
  return new ConfigError(`${where}: ${bytes} bytes; a lavarank config is at most ${MAX_CONFIG_BYTES} bytes (is this the right file?)`);
}

// The first alias in document order whose anchor is not set before it, as yaml resolves
// aliases; one walk, where asking each alias to resolve itself walks the document again.
function unresolvedAlias(doc: Document): Node | undefined {
  const { isAlias, isNode, visit } = yamlPackage();
  const anchors = new Set<string>();
  let found: Node | undefined;
  visit(doc, (_, node) => {
    if (isAlias(node)) {
      if (anchors.has(node.source)) return undefined;
      found = node;
      return visit.BREAK;
    }
    if (isNode(node) && node.anchor !== undefined) anchors.add(node.anchor);
    return undefined;
  });
  return found;
}

// How many aliases toJS follows: past this, yaml refuses the file as an alias bomb.
const MAX_ALIAS_COUNT = 50;

// The alias at which yaml's toJS gives up with "Excessive alias count" (Alias.resolve in
// yaml's nodes/Alias.js, whose error says neither line nor column), found by its own
// count: an anchor starts at 1, each alias to it adds 1, and that count times the most
// values an alias below the anchor stands for (1 for a scalar) may not pass max. In
// document order, as toJS resolves them. Aliases a YAML 1.1 merge key reads again are
// counted once here, so for such a file it may find none.
function excessiveAlias(doc: Document, max: number): Node | undefined {
  const { isAlias, isCollection, isNode, isPair, visit } = yamlPackage();
  const latest = new Map<string, Node>(); // the last anchor of each name so far
  const sources = new Map<Node, Node>(); // each alias's anchor: the last of its name before it
  const counts = new Map<Node, { count: number; aliasCount: number }>();
  const aliasCount = (node: unknown): number => {
    if (isAlias(node)) {
      const source = sources.get(node);
      const data = source === undefined ? undefined : counts.get(source);
      return data === undefined ? 0 : data.count * data.aliasCount;
    }
    if (isCollection(node)) return Math.max(0, ...node.items.map(aliasCount));
    if (isPair(node)) return Math.max(aliasCount(node.key), aliasCount(node.value));
    return 1;
  };
  let found: Node | undefined;
  visit(doc, (_, node) => {
    if (!isNode(node)) return undefined;
    if (node.anchor !== undefined) {
      latest.set(node.anchor, node);
      counts.set(node, { count: 1, aliasCount: 0 });
    }
    if (!isAlias(node)) return undefined;
    const source = latest.get(node.source);
    const data = source === undefined ? undefined : counts.get(source);
    if (source === undefined || data === undefined) return undefined;
    sources.set(node, source);
    data.count += 1;
    if (data.aliasCount === 0) data.aliasCount = aliasCount(source);
    if (data.count * data.aliasCount <= max) return undefined;
    found = node;
    return visit.BREAK;
  });
  return found;
}

// The alias yaml's toJS, given maxAliasCount, refuses a document for: the first one to no
// anchor, else the one past the limit; for the line and column its error lacks.
export function aliasRefused(doc: Document, maxAliasCount: number): Node | undefined {
  return unresolvedAlias(doc) ?? excessiveAlias(doc, maxAliasCount);
}

// Parses YAML text into a frozen Config; throws ConfigError listing every problem.
export function parseConfigText(text: string, where = 'config'): Readonly<Config> {
  if (text.length > MAX_CONFIG_BYTES) throw tooLarge(where, Buffer.byteLength(text));
  const { LineCounter, isCollection, isMap, visit } = yamlPackage();
  const lines = new LineCounter();
  // Positions come from the line counter: yaml's prettyErrors copies the whole line
  // into every error, which is quadratic on a long line full of errors.
  const doc = parseYamlDocument(text, { lineCounter: lines, uniqueKeys: true, prettyErrors: false, strict: true });
  if (doc.errors.length > 0) {
    const problems = doc.errors.slice(0, MAX_YAML_ERRORS).map((e) => {
      const pos = lines.linePos(e.pos[0]);
      const firstLine = e.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '');
      return `${where}:${pos.line}:${pos.col}: invalid YAML: ${firstLine}`;
    });
    if (doc.errors.length > MAX_YAML_ERRORS) problems.push(`${where}: ${doc.errors.length - MAX_YAML_ERRORS} more YAML errors`);
    throw new ConfigError(problems[0]!, { problems });
  }
  // A key that is itself a mapping or a list ({a: 1}: x, ? [a]) has no JS object
  // form: yaml would turn it into a string and print a warning on stderr.
  const complexKeys: string[] = [];
  visit(doc, {
    Pair(_, pair) {
      if (!isCollection(pair.key)) return;
      const pos = lines.linePos(pair.key.range?.[0] ?? 0);
      complexKeys.push(`${where}:${pos.line}:${pos.col}: expected a key name, received a ${isMap(pair.key) ? 'mapping' : 'list'} as a key`);
    },
  });
  if (complexKeys.length > 0) throw new ConfigError(complexKeys[0]!, { problems: complexKeys.slice(0, MAX_YAML_ERRORS) });
  let raw: unknown;
  try {
    raw = doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
  } catch (err) {
    // toJS says neither line nor column: for an alias to no anchor (a typo, or the
    // anchor set after it), the first such alias is where; for too many, the one past
    // the limit.
    const alias = aliasRefused(doc, MAX_ALIAS_COUNT);
    const offset = alias?.range?.[0];
    const pos = offset === undefined ? undefined : lines.linePos(offset);
    throw new ConfigError(`${where}${pos === undefined ? '' : `:${pos.line}:${pos.col}`}: invalid YAML: ${(err as Error).message}`, { cause: err });
  }
  const { config, problems } = validateConfig(raw, where, doc, lines);
  if (problems.length > 0) {
    throw new ConfigError(problems.length === 1 ? problems[0]! : `${problems.length} problems in ${where}:\n  ${problems.join('\n  ')}`, {
      problems,
    });
  }
  return deepFreeze(config);
}

// Which config file the start reads, and why that one.
export interface ConfigSource {
  path: string | null; // null: built-in defaults
  why: string; // which rule chose it
}

// Which file to read: --config, then $LAVARANK_CONFIG, then $LSF_ENVDIR/lavarank.yaml if
// anything is there, asked by an asynchronous exists (in libuv's pool). `exists` must
// count a link to nothing (isPresentAsync, not existsAsync): a lavarank.yaml that links
// to a file system not mounted yet is the site's config, which cannot be read, not the
// absence of one, or the elim ran on the defaults, unsaid, for good.
export async function findConfigAsync(explicit: string | undefined, env: NodeJS.ProcessEnv, exists: (p: string) => Promise<boolean>): Promise<ConfigSource> {
  if (explicit !== undefined) return { path: explicit, why: '--config' };
  const fromEnv = env['LAVARANK_CONFIG'];
  if (fromEnv !== undefined && fromEnv !== '') return { path: fromEnv, why: '$LAVARANK_CONFIG' };
  const envdir = env['LSF_ENVDIR'];
  if (envdir !== undefined && envdir !== '') {
    const candidate = join(envdir, 'lavarank.yaml');
    if (await exists(candidate)) return { path: candidate, why: '$LSF_ENVDIR/lavarank.yaml' };
  }
  return { path: null, why: 'no --config, no $LAVARANK_CONFIG, no $LSF_ENVDIR/lavarank.yaml' };
}

// Trust-checks, reads and parses the config file named by source. A file that
// fails the trust check is refused unread: it may be a link to a root-only file
// (/etc/shadow), and every parse error would quote its lines into a log others
// can read. It is read from the descriptor the check opened, never by path again.
// The walk's questions are asked in libuv's pool (openTrustedAsync): a config under a
// user's FUSE mount whose server answers the pool and never a main thread held the
// daemon's start there, SIGTERM and SIGKILL alike, and a command past Ctrl-C. The read
// that follows is of a file the walk found root's.
export async function loadConfigAsync(source: ConfigSource): Promise<Readonly<Config>> {
  const path = namedConfig(source);
  return path === null ? deepFreeze(defaultConfig()) : configOpened(source, path, await openTrustedAsync(path, 'config file'));
}

// The config file source names, null for the defaults; throws for an empty name.
function namedConfig(source: ConfigSource): string | null {
  // Else opened as the working directory (/tmp under LIM), and refused under that name.
  if (source.path === '') throw new ConfigError(`${source.why} names no config file: expected a file name, received an empty string`);
  return source.path;
}

// The config in the file the trust check opened, or why it cannot be used.
function configOpened(source: ConfigSource, path: string, opened: TrustedOpen): Readonly<Config> {
  if ('problems' in opened) {
    const unreadable = `config file ${path} cannot be read: `;
    const [only] = opened.problems;
    if (opened.problems.length === 1 && only!.startsWith(unreadable)) {
      throw new ConfigError(`config file ${path} (from ${source.why}) cannot be read: ${only!.slice(unreadable.length)}`);
    }
    throw new ConfigError(`config file ${path} (from ${source.why}) refused, not read: ${opened.problems.join('; ')}`, { problems: opened.problems });
  }
  // Not a FIFO or a device that would block or never end (the check wants a
  // regular file), and not huge.
  if (opened.stats.size > MAX_CONFIG_BYTES) {
    closeSync(opened.fd);
    throw tooLarge(`config file ${path} (from ${source.why})`, opened.stats.size);
  }
  let text: string;
  try {
    text = readOpenRegular(opened.fd, MAX_CONFIG_BYTES).toString('utf8'); // closes the descriptor
  } catch (err) {
    throw new ConfigError(`config file ${path} (from ${source.why}) cannot be read: ${errorReason(err)}`, {
      cause: err,
    });
  }
  return parseConfigText(text, path);
}
