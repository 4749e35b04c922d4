// Every configuration key wrong in turn, generated from the schema (the keys and
// types of defaultConfig(), plus a table for the keys whose default is null), then
// invalid YAML and a file others can write, against the built daemon and `lavarank
// check`. A new key without wrong values in KINDS fails the first test.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { stringify } from 'yaml';
import { defaultConfig, parseConfigText } from '../../src/config/config.js';
import { ConfigError } from '../../src/util/errors.js';
import { cliPath, tempDir } from '../helpers.js';
import { startElim } from '../e2e/harness.js';

type Kind = 'number' | 'integer' | 'size' | 'path' | 'optional-path' | 'prom-path' | 'optional-number' | 'name' | 'command' | 'level' | 'boolean' | 'tristate' | 'cpu-list';

// What each leaf key holds; the type of its default decides where it is not listed.
const KINDS: Record<string, Kind> = {
  resource: 'name',
  nice: 'integer',
  proc_root: 'path',
  sys_root: 'path',
  sample_deadline: 'optional-number',
  pessimistic_after: 'integer',
  model: 'optional-path',
  'log.file': 'optional-path',
  'log.level': 'level',
  'log.max_bytes': 'size',
  'log.keep': 'integer',
  'history.dir': 'optional-path',
  'history.max_bytes': 'size',
  'history.keep': 'integer',
  'gpu.enabled': 'tristate',
  'gpu.command': 'command',
  'metrics.textfile': 'prom-path',
  'network.link_speed': 'optional-number',
  'cpu.job_cpus': 'cpu-list',
};

// Values no key of that kind accepts: wrong types, then out of range or malformed.
const WRONG: Record<Kind, unknown[]> = {
  number: ['ten', true, [1], { a: 1 }, -1e15, 1e15],
  integer: ['ten', true, [1], { a: 1 }, -1e15, 1e15, 2.5],
  size: [true, [1], { a: 1 }, -1, 1e15, 'ten', '10 parsecs', 1.5],
  'optional-number': ['ten', true, [1], -1e15, 1e15, 0],
  path: [5, true, [1], { a: 1 }, '', 'relative/dir'],
  'optional-path': [5, true, [1], '', 'relative/file'],
  'prom-path': [5, true, [1], '', 'relative/lavarank.prom', '/var/lib/node_exporter/lavarank.txt'],
  name: [5, true, [1], '', 'has space', '9starts_with_digit', 'x'.repeat(40)],
  command: [5, true, [1], '', 'nvidia-smi --flag', 'a;b'],
  level: [5, true, 'loud', 'INFO'],
  boolean: ['yes', 1, [true], 'true'],
  tristate: ['yes', 1, 'sometimes', ['auto']],
  'cpu-list': [true, [1], { a: 1 }, -1, 2.5, '', 'all', '5-2', '0-3;8', '0-99999999'],
};

// Every leaf of the default config, with its dotted path and default value.
function leaves(value: Record<string, unknown>, prefix = ''): Array<[string, unknown]> {
  const out: Array<[string, unknown]> = [];
  for (const [key, v] of Object.entries(value)) {
    const path = prefix === '' ? key : `${prefix}.${key}`;
    if (v !== null && typeof v === 'object' && !Array.isArray(v)) out.push(...leaves(v as Record<string, unknown>, path));
    else out.push([path, v]);
  }
  return out;
}

function kindOf(path: string, fallback: unknown): Kind | undefined {
  if (KINDS[path] !== undefined) return KINDS[path];
  if (typeof fallback === 'number') return 'number';
  if (typeof fallback === 'boolean') return 'boolean';
  return undefined;
}

// A config document with one key set, as YAML text.
function withKey(path: string, value: unknown): string {
  const parts = path.split('.');
  const doc: Record<string, unknown> = {};
  let at = doc;
  for (const part of parts.slice(0, -1)) at = (at[part] = {}) as Record<string, unknown>;
  at[parts.at(-1)!] = value;
  return `# one wrong key\n${stringify(doc)}`;
}

function refusal(text: string): ConfigError {
  try {
    parseConfigText(text, 'lavarank.yaml');
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected a ConfigError, got ${String(err)}`);
    return err;
  }
  assert.fail(`accepted:\n${text}`);
}

const LEAVES = leaves(defaultConfig() as unknown as Record<string, unknown>).filter(([path]) => path !== 'elims');

describe('every configuration key wrong in turn', () => {
  it('has wrong values for every key of the schema', () => {
    const missing = LEAVES.filter(([path, v]) => kindOf(path, v) === undefined).map(([path]) => path);
    assert.deepEqual(missing, [], 'add these keys to KINDS');
  });

  for (const [path, fallback] of LEAVES) {
    const kind = kindOf(path, fallback);
    if (kind === undefined) continue;
    for (const value of WRONG[kind]) {
      it(`${path}: ${JSON.stringify(value)} is refused with one problem naming the key, its line and column, and what was expected`, () => {
        const err = refusal(withKey(path, value));
        assert.equal(err.problems.length, 1, err.problems.join('\n'));
        const problem = err.problems[0]!;
        // After the comment line and any section line; a list or mapping starts on the next line.
        const line = (path.includes('.') ? 3 : 2) + (typeof value === 'object' ? 1 : 0);
        assert.match(problem, new RegExp(`^lavarank\\.yaml:${line}:\\d+: ${path.replace('.', '\\.')}: `), problem);
        assert.match(problem, /expected|must/);
      });
    }
  }

  for (const section of ['log', 'history', 'gpu', 'metrics', 'network', 'cpu']) {
    it(`${section}: a value that is not a mapping, or an unknown key in it, is refused naming it`, () => {
      assert.match(refusal(`${section}: 5\n`).problems[0]!, new RegExp(`^lavarank\\.yaml:1:\\d+: ${section}: expected a mapping`));
      assert.match(refusal(`${section}:\n  bogus: 1\n`).problems[0]!, new RegExp(`^lavarank\\.yaml:2:3: unknown key '${section}\\.bogus'`));
    });
  }

  const ELIM_WRONG: Array<[string, string]> = [
    ['command: /opt/elim -v', 'elims[0].command'],
    ['command: []', 'elims[0].command'],
    ['command: [relative/elim]', 'elims[0].command[0]'],
    ['command: [/opt/elim, 5]', 'elims[0].command'],
    ['command: [/opt/elim]\n    name: "bad name"', 'elims[0].name'],
    ['command: [/opt/elim]\n    max_age: -1', 'elims[0].max_age'],
    ['command: [/opt/elim]\n    max_age: ten', 'elims[0].max_age'],
    ['command: [/opt/elim]\n    stale_value: .inf', 'elims[0].stale_value'],
    ['command: [/opt/elim]\n    stale_value: zero', 'elims[0].stale_value'],
    ['command: [/opt/elim]\n    bogus: 1', "unknown key 'elims[0].bogus'"],
  ];
  for (const [entry, key] of ELIM_WRONG) {
    it(`elims: ${JSON.stringify(entry)} is refused naming ${key}`, () => {
      const err = refusal(`elims:\n  - ${entry}\n`);
      assert.equal(err.problems.length, 1, err.problems.join('\n'));
      assert.ok(err.problems[0]!.includes(key), err.problems[0]);
    });
  }
});

// Writes a config file (mode 0644 unless told) into a fresh directory.
function configFile(text: string, mode = 0o644): { path: string; dir: string; cleanup: () => void } {
  const { dir, cleanup } = tempDir('lavarank-config-');
  const path = join(dir, 'lavarank.yaml');
  writeFileSync(path, text);
  chmodSync(path, mode);
  return { path, dir, cleanup };
}

// Everything wrong at once: one bad value per key, a typo, a bad child elim.
const ALL_WRONG = [
  'resource: "bad name"',
  'interval: 0',
  'nice: 50',
  'proc_root: proc',
  'sys_root: 7',
  'sample_deadline: -3',
  'pessimistic_after: 0',
  'pessimistic_rank: 5000',
  'model: model.json',
  'log: {file: log.txt, level: loud, max_bytes: 10 parsecs, keep: 0}',
  'history: {enabled: maybe, dir: hist, max_bytes: -1, keep: 1.5}',
  'gpu: {enabled: sometimes, command: "nvidia-smi -q", interval: 0, timeout: -1}',
  'intervall: 10',
  'elims: [{command: "/opt/elim -v"}]',
  'metrics: {textfile: lavarank.txt}',
  'network: {link_speed: 0}',
].join('\n');
const ALL_KEYS = [
  'resource', 'interval', 'nice', 'proc_root', 'sys_root', 'sample_deadline', 'pessimistic_after', 'pessimistic_rank', 'model',
  'log.file', 'log.level', 'log.max_bytes', 'log.keep', 'history.enabled', 'history.dir', 'history.max_bytes', 'history.keep',
  'gpu.enabled', 'gpu.command', 'gpu.interval', 'gpu.timeout', "unknown key 'intervall' (did you mean 'interval'?)", 'elims[0].command',
  'metrics.textfile', 'network.link_speed',
];

function check(path: string): { status: number | null; stdout: string } {
  const r = spawnSync(process.execPath, [cliPath, 'check', '--config', path], { encoding: 'utf8', env: { PATH: process.env['PATH'] } });
  return { status: r.status, stdout: r.stdout };
}

describe('a configuration the daemon cannot use', { concurrency: false }, () => {
  it('lavarank check lists every wrong key with its line, and exits 1', () => {
    const { path, cleanup } = configFile(ALL_WRONG);
    try {
      const r = check(path);
      assert.equal(r.status, 1, r.stdout);
      const listed = r.stdout.slice(0, r.stdout.indexOf('effective configuration:'));
      for (const key of ALL_KEYS) assert.ok(listed.includes(key), `${key} not listed:\n${listed}`);
      assert.match(listed, new RegExp(`${path.replaceAll('/', '\\/')}:10:\\d+: log\\.level: expected one of`));
    } finally {
      cleanup();
    }
  });

  it('lavarank check refuses a file others can write without reading it, names the fix, and exits 1', () => {
    const { path, cleanup } = configFile('interval: 0\nintervall: 10\n', 0o666);
    try {
      const r = check(path);
      assert.equal(r.status, 1, r.stdout);
      assert.match(r.stdout, /mode 0666, writable by group or others; run: chmod go-w/);
      // Anyone could have put anything there, /etc/shadow's lines included: not one is quoted.
      assert.doesNotMatch(r.stdout, /intervall|interval: expected/);
    } finally {
      cleanup();
    }
  });

  // The daemon cannot know the configured log file, so it says why where the
  // defaults put the log: here $LSF_LOGDIR.
  const cases: Array<{ name: string; text: string; mode?: number; expect: RegExp }> = [
    { name: 'a key with a wrong value', text: 'gpu:\n  timeout: -1\n', expect: /lavarank\.yaml:2:\d+: gpu\.timeout: expected a number greater than 0/ },
    { name: 'invalid YAML', text: 'interval: 10\nlog: {file: /x\n', expect: /lavarank\.yaml:\d+:\d+: invalid YAML: / },
    { name: 'a file others can write', text: 'interval: 10\n', mode: 0o666, expect: /writable by group or others; run: chmod go-w/ },
  ];
  for (const c of cases) {
    it(`the daemon refuses ${c.name}: exit 1, no report, and the reason in the log`, async () => {
      const { path, dir, cleanup } = configFile(c.text, c.mode);
      const elim = startElim({ args: ['--config', path], env: { LSF_LOGDIR: dir } });
      try {
        const exit = await elim.exited;
        assert.equal(exit.code, 1);
        assert.equal(elim.reads.length, 0, 'a report was written');
        const log = readFileSync(join(dir, `lavarank.${hostname()}.log`), 'utf8');
        const fatal = log.split('\n').filter((l) => l.includes('"level":"fatal"'));
        assert.equal(fatal.length, 1, log);
        assert.match(fatal[0]!, /cannot start: invalid configuration/);
        assert.match(fatal[0]!, c.expect);
      } finally {
        await elim.cleanup();
        cleanup();
      }
    });
  }
});


