// A strict parser of Prometheus's text exposition format (version 0.0.4), for
// checking what lavarank writes for node_exporter's textfile collector. It throws
// on anything a scraper would refuse: a malformed line, a bad name or escape, a
// TYPE after its samples or given twice, a family split in two groups, the same
// series twice, and (as the textfile collector does) a client-side timestamp.

export interface PromSample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface PromFamily {
  name: string;
  type: string; // counter, gauge, histogram, summary or untyped
  help?: string;
  samples: PromSample[];
}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const TYPES = ['counter', 'gauge', 'histogram', 'summary', 'untyped'];
const FLOAT = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$/;

function parseValue(text: string, where: string): number {
  if (text === 'NaN') return Number.NaN;
  if (text === '+Inf' || text === 'Inf') return Infinity;
  if (text === '-Inf') return -Infinity;
  if (!FLOAT.test(text)) throw new Error(`${where}: ${JSON.stringify(text)} is not a float`);
  return Number(text);
}

// The family a sample name belongs to: its own, or a histogram's/summary's base name.
function familyOf(name: string, families: ReadonlyMap<string, PromFamily>): string {
  for (const suffix of ['_bucket', '_sum', '_count']) {
    if (!name.endsWith(suffix)) continue;
    const base = name.slice(0, -suffix.length);
    const type = families.get(base)?.type;
    if (type === 'histogram' || (type === 'summary' && suffix !== '_bucket')) return base;
  }
  return name;
}

// Reads `{a="x",b="y"}` starting at text[at] === '{'; returns the labels and the index after '}'.
function parseLabels(text: string, at: number, where: string): { labels: Record<string, string>; end: number } {
  const labels: Record<string, string> = {};
  let i = at + 1;
  for (;;) {
    while (text[i] === ' ') i++;
    if (text[i] === '}') return { labels, end: i + 1 };
    const name = /^[^=\s}]*/.exec(text.slice(i))![0];
    if (!LABEL_NAME.test(name)) throw new Error(`${where}: bad label name ${JSON.stringify(name)}`);
    if (Object.hasOwn(labels, name)) throw new Error(`${where}: label ${name} given twice`);
    i += name.length;
    if (text[i] !== '=' || text[i + 1] !== '"') throw new Error(`${where}: expected ="value" after label ${name}`);
    i += 2;
    let value = '';
    for (;;) {
      const c = text[i];
      if (c === undefined) throw new Error(`${where}: unterminated value of label ${name}`);
      if (c === '"') break;
      if (c === '\\') {
        const next = text[i + 1];
        if (next === '\\') value += '\\';
        else if (next === '"') value += '"';
        else if (next === 'n') value += '\n';
        else throw new Error(`${where}: bad escape \\${next ?? ''} in label ${name}`);
        i += 2;
        continue;
      }
      value += c;
      i++;
    }
    labels[name] = value;
    i++;
    while (text[i] === ' ') i++;
    if (text[i] === ',') i++;
    else if (text[i] !== '}') throw new Error(`${where}: expected , or } after label ${name}`);
  }
}

function unescapeHelp(text: string, where: string): string {
  return text.replace(/\\(.?)/g, (_, c: string) => {
    if (c === '\\') return '\\';
    if (c === 'n') return '\n';
    throw new Error(`${where}: bad escape \\${c} in HELP`);
  });
}

// Parses a whole exposition; throws naming the line of the first violation.
export function parseExposition(text: string, options: { allowTimestamps?: boolean } = {}): Map<string, PromFamily> {
  if (text !== '' && !text.endsWith('\n')) throw new Error('the exposition does not end with a newline');
  const families = new Map<string, PromFamily>();
  const closed = new Set<string>(); // families whose group of lines has ended
  const series = new Set<string>();
  let current: string | undefined;
  const enter = (name: string, where: string): PromFamily => {
    if (current !== name) {
      if (current !== undefined) closed.add(current);
      if (closed.has(name)) throw new Error(`${where}: lines of ${name} are not one group`);
      current = name;
    }
    let f = families.get(name);
    if (f === undefined) {
      f = { name, type: 'untyped', samples: [] };
      families.set(name, f);
    }
    return f;
  };
  const lines = text.split('\n');
  lines.pop();
  lines.forEach((line, index) => {
    const where = `line ${index + 1}`;
    if (line.trim() === '') return;
    if (line.startsWith('#')) {
      const m = /^#\s+(HELP|TYPE)\s+(\S+)(?:\s(.*))?$/.exec(line);
      if (m === null) return; // a plain comment
      const [, kind, name, rest = ''] = m as unknown as [string, string, string, string | undefined];
      if (!METRIC_NAME.test(name)) throw new Error(`${where}: bad metric name ${JSON.stringify(name)}`);
      const f = enter(name, where);
      if (kind === 'HELP') {
        if (f.help !== undefined) throw new Error(`${where}: second HELP for ${name}`);
        f.help = unescapeHelp(rest, where);
      } else {
        if (!TYPES.includes(rest.trim())) throw new Error(`${where}: unknown TYPE ${JSON.stringify(rest)} for ${name}`);
        if (f.samples.length > 0) throw new Error(`${where}: TYPE of ${name} after its samples`);
        if (f.type !== 'untyped') throw new Error(`${where}: second TYPE for ${name}`);
        f.type = rest.trim();
      }
      return;
    }
    const name = /^[^\s{]*/.exec(line)![0];
    if (!METRIC_NAME.test(name)) throw new Error(`${where}: bad metric name ${JSON.stringify(name)}`);
    let i = name.length;
    let labels: Record<string, string> = {};
    if (line[i] === '{') ({ labels, end: i } = parseLabels(line, i, where));
    const fields = line.slice(i).trim().split(/\s+/);
    if (fields.length < 1 || fields[0] === '' || fields.length > 2) throw new Error(`${where}: expected a value and at most a timestamp`);
    if (fields.length === 2) {
      if (options.allowTimestamps !== true) throw new Error(`${where}: a client-side timestamp (the textfile collector refuses it)`);
      if (!/^-?\d+$/.test(fields[1]!)) throw new Error(`${where}: bad timestamp ${fields[1]}`);
    }
    const value = parseValue(fields[0]!, where);
    const f = enter(familyOf(name, families), where);
    const key = `${name}{${Object.entries(labels).sort().map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(',')}}`;
    if (series.has(key)) throw new Error(`${where}: series ${key} given twice`);
    series.add(key);
    f.samples.push({ name, labels, value });
  });
  return families;
}

// The value of the one sample of a family with these labels; throws if absent.
export function sampleOf(families: ReadonlyMap<string, PromFamily>, name: string, labels: Record<string, string> = {}): number {
  const f = families.get(name);
  const s = f?.samples.find((x) => Object.keys(labels).every((k) => x.labels[k] === labels[k]));
  if (s === undefined) throw new Error(`no sample ${name}${JSON.stringify(labels)}`);
  return s.value;
}
