import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parse as parseYaml } from 'yaml';
import { MAX_CHILD_ELIMS, MAX_CONFIG_BYTES, defaultConfig, findConfigAsync, loadConfigAsync, parseConfigText } from '../../src/config/config.js';
import { ConfigError } from '../../src/util/errors.js';
import { dirWithMode, repoRoot, tempDir, writeWithMode, yamlDebugOn } from '../helpers.js';

function problemsOf(text: string): string[] {
  try {
    parseConfigText(text, 'lavarank.yaml');
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected ConfigError, got ${String(err)}`);
    return [...err.problems];
  }
  assert.fail('expected the config to be refused');
}

describe('parseConfigText', () => {
  it('gives the defaults for an empty file', () => {
    assert.deepEqual(parseConfigText('', 'x'), defaultConfig());
  });

  it('reads every documented key', () => {
    const c = parseConfigText(
      [
        'resource: load_rank',
        'interval: 20',
        'nice: 5',
        'sample_deadline: 4',
        'pessimistic_after: 5',
        'pessimistic_rank: 900',
        'model: /etc/lavarank/model.json',
        'log: {file: /var/log/x.log, level: debug, max_bytes: 1M, keep: 2}',
        'history: {enabled: false, dir: /data/h, max_bytes: 128MiB, keep: 9}',
        'gpu: {enabled: false, command: /usr/bin/nvidia-smi, interval: 60, timeout: 5}',
        'elims:',
        '  - name: site',
        '    command: [/opt/site/elim, -v]',
        '    max_age: 90',
      ].join('\n'),
      'x',
    );
    assert.equal(c.resource, 'load_rank');
    assert.equal(c.interval, 20);
    assert.equal(c.nice, 5);
    assert.equal(c.sample_deadline, 4);
    assert.equal(c.pessimistic_rank, 900);
    assert.equal(c.log.max_bytes, 1024 * 1024);
    assert.equal(c.history.max_bytes, 128 * 1024 * 1024);
    assert.equal(c.gpu.enabled, false);
    assert.deepEqual(c.elims, [{ name: 'site', command: ['/opt/site/elim', '-v'], max_age: 90, stale_value: null }]);
  });

  it('returns a frozen object', () => {
    const c = parseConfigText('interval: 10', 'x');
    assert.ok(Object.isFrozen(c));
    assert.ok(Object.isFrozen(c.log));
  });

  it('names an unknown key with its line and column and suggests the close one', () => {
    const [p] = problemsOf('interval: 10\nintervall: 20\n');
    assert.equal(p?.startsWith("lavarank.yaml:2:1: unknown key 'intervall' (did you mean 'interval'?)"), true, p);
  });

  it('suggests a key two letters away, whether two were left out or two added, and none three away', () => {
    for (const typed of ['intrvl', 'interrvall']) {
      assert.match(problemsOf(`${typed}: 10\n`)[0] ?? '', new RegExp(`unknown key '${typed}' \\(did you mean 'interval'\\?\\)`), typed);
    }
    assert.doesNotMatch(problemsOf('intrv: 10\n')[0] ?? '', /did you mean/);
  });

  it('gives the line and column of an unknown key that YAML reads as a number, a boolean or null', () => {
    assert.match(problemsOf('interval: 10\n5: x\n')[0] ?? '', /^lavarank\.yaml:2:1: unknown key '5';/);
    assert.match(problemsOf('log:\n  true: x\n')[0] ?? '', /^lavarank\.yaml:2:3: unknown key 'log\.true';/);
    assert.match(problemsOf('nice: 5\n~: x\n')[0] ?? '', /^lavarank\.yaml:2:1: unknown key '';/);
  });

  it('names an unknown key inside a section with its dotted path', () => {
    const [p] = problemsOf('log:\n  levle: debug\n');
    assert.match(p ?? '', /^lavarank\.yaml:2:3: unknown key 'log\.levle' \(did you mean 'level'\?\)/);
  });

  it('names where a key of the right name at the wrong level belongs', () => {
    assert.deepEqual(
      problemsOf('link_speed: 10000\nlog:\n  interval: 5\n').map((p) => p.slice(0, p.indexOf(';'))),
      ["lavarank.yaml:1:1: unknown key 'link_speed' (did you mean 'network.link_speed'?)", "lavarank.yaml:3:3: unknown key 'log.interval' (did you mean 'interval' or 'gpu.interval'?)"],
    );
  });

  it('names the key, the expected and the received value for a wrong type', () => {
    assert.deepEqual(problemsOf('interval: ten\n'), ['lavarank.yaml:1:11: interval: expected a number from 1 to 3600, received "ten"']);
  });

  it('refuses out-of-range values', () => {
    assert.deepEqual(problemsOf('nice: 25\n'), ['lavarank.yaml:1:7: nice: expected an integer from -20 to 19, received 25']);
    assert.deepEqual(problemsOf('pessimistic_rank: -1\n'), [
      'lavarank.yaml:1:19: pessimistic_rank: expected a number from 0 to 1000, received -1',
    ]);
  });

  it('refuses a fraction where an integer is expected', () => {
    assert.deepEqual(problemsOf('nice: 2.5\n'), ['lavarank.yaml:1:7: nice: expected an integer from -20 to 19, received 2.5']);
    assert.match(problemsOf('pessimistic_after: 1.5\n')[0] ?? '', /pessimistic_after: expected an integer from 1 to 1000, received 1\.5/);
    assert.deepEqual(problemsOf('log:\n  keep: 2.5\n'), ['lavarank.yaml:2:9: log.keep: expected an integer from 1 to 100, received 2.5']);
  });

  it('refuses a pessimistic_after of 0, which would report the pessimistic rank at the first failure', () => {
    assert.match(problemsOf('pessimistic_after: 0\n')[0] ?? '', /pessimistic_after: expected an integer from 1 to 1000, received 0/);
  });

  it('refuses a sample deadline longer than the interval', () => {
    assert.match(problemsOf('interval: 10\nsample_deadline: 11\n')[0] ?? '', /sample_deadline: must not exceed interval \(10 s\)/);
  });

  it('refuses relative paths', () => {
    assert.match(problemsOf('model: model.json\n')[0] ?? '', /model: expected an absolute path, received "model.json"/);
  });

  it('refuses a resource name LIM could not use', () => {
    assert.match(problemsOf('resource: "my rank"\n')[0] ?? '', /resource: expected a load index name/);
  });

  it('reads typed_ranks, off by default, and refuses what is not true or false', () => {
    assert.equal(defaultConfig().typed_ranks, false);
    assert.equal(parseConfigText('typed_ranks: true\n', 'x').typed_ranks, true);
    assert.match(problemsOf('typed_ranks: yes please\n')[0] ?? '', /typed_ranks: expected true or false, received "yes please"/);
  });

  it('reads a resource name of 39 characters, LSF\'s limit, and refuses one of 40', () => {
    const name = `r${'x'.repeat(38)}`;
    assert.equal(parseConfigText(`resource: ${name}\n`, 'x').resource, name);
    assert.match(problemsOf(`resource: ${name}x\n`)[0] ?? '', /resource: expected a load index name \(a letter, then letters, digits or _; at most 39\)/);
  });

  it('refuses typed_ranks with a resource name too long to take the _cpu suffix', () => {
    const long = `r${'x'.repeat(37)}`;
    assert.equal(parseConfigText(`resource: ${long}\n`, 'x').resource, long);
    assert.match(problemsOf(`resource: ${long}\ntyped_ranks: true\n`)[0] ?? '', /resource: with typed_ranks: true, "rx+_cpu" must be a load index name too \(at most 39 characters\)/);
  });

  it('reads network.link_speed in Mb/s, null by default and when given as null', () => {
    assert.equal(defaultConfig().network.link_speed, null);
    assert.equal(parseConfigText('network:\n  link_speed: 10000\n', 'x').network.link_speed, 10000);
    assert.equal(parseConfigText('network:\n  link_speed: 2.5\n', 'x').network.link_speed, 2.5);
    assert.equal(parseConfigText('network:\n  link_speed: null\n', 'x').network.link_speed, null);
    assert.equal(parseConfigText('network: {}\n', 'x').network.link_speed, null);
    assert.ok(Object.isFrozen(parseConfigText('network: {link_speed: 1000}\n', 'x').network));
  });

  it('refuses a network.link_speed that is not a speed in Mb/s above 0 and up to 10 Tb/s, naming the key and its line', () => {
    const expected = 'expected a number of Mb/s greater than 0 of at most 10000000';
    assert.deepEqual(problemsOf('network:\n  link_speed: 0\n'), [`lavarank.yaml:2:15: network.link_speed: ${expected}, received 0`]);
    assert.deepEqual(problemsOf('network:\n  link_speed: -1000\n'), [`lavarank.yaml:2:15: network.link_speed: ${expected}, received -1000`]);
    assert.deepEqual(problemsOf('network:\n  link_speed: 10G\n'), [`lavarank.yaml:2:15: network.link_speed: ${expected}, received "10G"`]);
    assert.deepEqual(problemsOf('network:\n  link_speed: "10000"\n'), [`lavarank.yaml:2:15: network.link_speed: ${expected}, received "10000"`]);
    assert.deepEqual(problemsOf('network:\n  link_speed: 2e7\n'), [`lavarank.yaml:2:15: network.link_speed: ${expected}, received 20000000`]);
    assert.deepEqual(problemsOf('network:\n  link_speed: .inf\n'), [`lavarank.yaml:2:15: network.link_speed: ${expected}, received Infinity`]);
  });

  it('refuses an unknown key under network, and a network that is not a mapping, naming them', () => {
    assert.deepEqual(problemsOf('network:\n  link_sped: 1000\n'), [
      "lavarank.yaml:2:3: unknown key 'network.link_sped' (did you mean 'link_speed'?); known keys: link_speed",
    ]);
    assert.deepEqual(problemsOf('network: 10000\n'), ['lavarank.yaml:1:10: network: expected a mapping with keys link_speed, received 10000']);
  });

  it('reads cpu.job_cpus as a kernel CPU list or one CPU number, null by default', () => {
    assert.equal(defaultConfig().cpu.job_cpus, null);
    assert.deepEqual(parseConfigText('cpu:\n  job_cpus: 2-5,8\n', 'x').cpu.job_cpus, [2, 3, 4, 5, 8]);
    assert.deepEqual(parseConfigText('cpu:\n  job_cpus: "0-1"\n', 'x').cpu.job_cpus, [0, 1]);
    assert.deepEqual(parseConfigText('cpu:\n  job_cpus: 3\n', 'x').cpu.job_cpus, [3]);
    assert.equal(parseConfigText('cpu:\n  job_cpus: null\n', 'x').cpu.job_cpus, null);
    assert.ok(Object.isFrozen(parseConfigText('cpu: {job_cpus: 1-2}\n', 'x').cpu.job_cpus));
  });

  it('reads cpu.job_cpus: 0 as CPU 0 alone', () => {
    assert.deepEqual(parseConfigText('cpu:\n  job_cpus: 0\n', 'x').cpu.job_cpus, [0]);
  });

  it('refuses a cpu.job_cpus that is not a CPU list, and an unknown key under cpu, naming them and their line', () => {
    const expected = 'expected a CPU list such as "2-127" or "0-3,8-11"';
    assert.deepEqual(problemsOf('cpu:\n  job_cpus: 5-2\n'), [`lavarank.yaml:2:13: cpu.job_cpus: ${expected}, received "5-2"`]);
    assert.deepEqual(problemsOf('cpu:\n  job_cpus: all\n'), [`lavarank.yaml:2:13: cpu.job_cpus: ${expected}, received "all"`]);
    assert.deepEqual(problemsOf('cpu:\n  job_cpus: -1\n'), [`lavarank.yaml:2:13: cpu.job_cpus: ${expected}, received -1`]);
    assert.deepEqual(problemsOf('cpu:\n  job_cpus: [1, 2]\n'), [`lavarank.yaml:2:13: cpu.job_cpus: ${expected}, received a list ([1,2])`]);
    assert.deepEqual(problemsOf('cpu:\n  job_cpu: 1\n'), ["lavarank.yaml:2:3: unknown key 'cpu.job_cpu' (did you mean 'job_cpus'?); known keys: job_cpus"]);
  });

  it('refuses a log level that pino does not have', () => {
    assert.match(problemsOf('log:\n  level: verbose\n')[0] ?? '', /log\.level: expected one of fatal, error, warn, info, debug, trace, silent, received "verbose"/);
  });

  it('refuses sizes that are not sizes', () => {
    assert.match(problemsOf('history:\n  max_bytes: lots\n')[0] ?? '', /history\.max_bytes: expected a size from 65536 bytes to 4096G/);
  });

  it('refuses a child elim given as a shell command line', () => {
    const p = problemsOf('elims:\n  - command: "/opt/elim --flag"\n');
    assert.match(p[0] ?? '', /elims\[0\]\.command: expected a non-empty list of strings \(program and arguments, no shell\)/);
  });

  it('refuses a child elim whose program is not an absolute path', () => {
    assert.match(problemsOf('elims:\n  - command: [elim.site]\n')[0] ?? '', /elims\[0\]\.command\[0\]: expected an absolute path to the program/);
  });

  it('refuses a child elim argument with a NUL byte in it, naming the argument', () => {
    assert.deepEqual(problemsOf('elims:\n  - command: [/bin/sh, -c, "a\\0b"]\n'), ['lavarank.yaml:2:28: elims[0].command[2]: expected an argument without NUL bytes, received "a\\u0000b"']);
  });

  it('takes up to MAX_CHILD_ELIMS child elims, and refuses one more, naming elims', () => {
    const elims = (n: number): string => `elims:\n${Array.from({ length: n }, (_, i) => `  - command: [/opt/elim.${i}]\n`).join('')}`;
    assert.equal(parseConfigText(elims(MAX_CHILD_ELIMS), 'x').elims.length, MAX_CHILD_ELIMS);
    assert.deepEqual(problemsOf(elims(MAX_CHILD_ELIMS + 1)), [`lavarank.yaml:2:3: elims: ${MAX_CHILD_ELIMS + 1} child elims, at most ${MAX_CHILD_ELIMS}`]);
  });

  it('refuses two child elims of the same name, naming the second', () => {
    assert.deepEqual(problemsOf('elims:\n  - {name: site, command: [/opt/a]}\n  - {name: site, command: [/opt/b]}\n'), ['lavarank.yaml:3:12: elims[1].name: duplicate child elim name "site"']);
  });

  it('takes a child elim name of up to 64 characters, and refuses a longer one', () => {
    const name = 'n'.repeat(64);
    assert.equal(parseConfigText(`elims:\n  - {name: ${name}, command: [/opt/a]}\n`, 'x').elims[0]?.name, name);
    assert.match(problemsOf(`elims:\n  - {name: ${name}x, command: [/opt/a]}\n`)[0] ?? '', /elims\[0\]\.name: expected a name of letters, digits, "\.", "_" or "-" \(at most 64\)/);
  });

  it('takes a child elim max_age of up to a day, and null for the default', () => {
    assert.equal(parseConfigText('elims:\n  - {command: [/opt/a], max_age: 86400}\n', 'x').elims[0]?.max_age, 86400);
    assert.equal(parseConfigText('elims:\n  - {command: [/opt/a], max_age: null}\n', 'x').elims[0]?.max_age, null);
    assert.match(problemsOf('elims:\n  - {command: [/opt/a], max_age: 86401}\n')[0] ?? '', /elims\[0\]\.max_age: expected a number greater than 0 of at most 86400, received 86401/);
  });

  it('refuses a child elim stale_value too large to be written as a plain number', () => {
    assert.equal(parseConfigText('elims:\n  - {command: [/opt/a], stale_value: -1}\n', 'x').elims[0]?.stale_value, -1);
    assert.match(problemsOf('elims:\n  - {command: [/opt/a], stale_value: 1e15}\n')[0] ?? '', /elims\[0\]\.stale_value: expected a finite number, received 1000000000000000/);
  });

  it('lists every problem at once', () => {
    const p = problemsOf('interval: 0\nnice: x\nfoo: 1\ngpu: {enabled: maybe}\n');
    assert.equal(p.length, 4, p.join('\n'));
  });

  it('gives line and column for YAML syntax errors', () => {
    const [p] = problemsOf('interval: 10\nlog: [unclosed\n');
    assert.match(p ?? '', /^lavarank\.yaml:\d+:\d+: invalid YAML: /);
  });

  it('lists the first ten YAML errors of a broken file and counts the rest', () => {
    const problems = problemsOf('"'.repeat(1000));
    assert.equal(problems.length, 11);
    assert.match(problems[10]!, /^lavarank\.yaml: \d+ more YAML errors$/);
  });

  it('gives the line and column of a problem below an alias, where the alias is used, and of a key a YAML 1.1 merge brought', () => {
    assert.deepEqual(problemsOf('log: &l {level: debug}\nhistory: *l\n'), ["lavarank.yaml:2:10: unknown key 'history.level' (did you mean 'log.level'?); known keys: enabled, dir, max_bytes, keep"]);
    assert.deepEqual(problemsOf('%YAML 1.1\n---\ngpu: &g {interval: 30}\nlog:\n  <<: *g\n'), ["lavarank.yaml:5:3: unknown key 'log.interval' (did you mean 'interval' or 'gpu.interval'?); known keys: file, level, max_bytes, keep"]);
  });

  it('gives the line and column of an alias whose anchor is not set before it', () => {
    assert.deepEqual(problemsOf('interval: 20\nlog:\n  level: *lvl\n'), ['lavarank.yaml:3:10: invalid YAML: Unresolved alias (the anchor must be set before the alias): lvl']);
  });

  // yaml's toJS refuses an alias bomb with "Excessive alias count", which says neither
  // line nor column; an anchor counts 1 and each alias 1 more, and past 50 it stops.
  it('gives the line and column of the alias past the limit of aliases (an alias bomb)', () => {
    const text = `x: &a 1\nlist:\n${'  - *a\n'.repeat(60)}`;
    assert.deepEqual(problemsOf(text), ['lavarank.yaml:52:5: invalid YAML: Excessive alias count indicates a resource exhaustion attack']);
  });

  it('refuses duplicate keys', () => {
    const [p] = problemsOf('interval: 10\ninterval: 20\n');
    assert.match(p ?? '', /^lavarank\.yaml:2:1: invalid YAML: Map keys must be unique/);
  });

  it('refuses a key that is a mapping or a list, with its line and column', () => {
    assert.deepEqual(problemsOf('interval: 10\n{TJ: false}: 1\n? [a, b]\n: 2\n'), [
      'lavarank.yaml:2:1: expected a key name, received a mapping as a key',
      'lavarank.yaml:3:3: expected a key name, received a list as a key',
    ]);
  });

  it('refuses a collection key without a warning from the YAML library on stderr', () => {
    const script = `import('${new URL('../../src/config/config.js', import.meta.url).href}').then((m) => { try { m.parseConfigText('{a: 1}: x\\n'); } catch {} })`;
    const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stderr, '');
  });

  it('documents every default in the README block that lists every key with its default', () => {
    const readme = readFileSync(join(repoRoot, 'README.md'), 'utf8');
    const block = /```yaml\n(# \$LSF_ENVDIR\/lavarank\.yaml — every key with its default\n[\s\S]*?)```/.exec(readme);
    assert.ok(block !== null, 'the README block of every key with its default');
    assert.deepEqual(parseConfigText(block[1]!, 'README.md'), defaultConfig());
  });

  it('names in the README block that lists every key with its default each key the config takes, and no other', () => {
    // A key left out of the block would still parse to its default: compare the names themselves.
    const readme = readFileSync(join(repoRoot, 'README.md'), 'utf8');
    const block = /```yaml\n(# \$LSF_ENVDIR\/lavarank\.yaml — every key with its default\n[\s\S]*?)```/.exec(readme);
    assert.ok(block !== null, 'the README block of every key with its default');
    const paths = (value: unknown, prefix = ''): string[] =>
      Object.entries(value as Record<string, unknown>).flatMap(([k, v]) =>
        v !== null && typeof v === 'object' && !Array.isArray(v) ? paths(v, `${prefix}${k}.`) : [`${prefix}${k}`],
      );
    assert.deepEqual(paths(parseYaml(block[1]!)).sort(), paths(defaultConfig()).sort());
  });

  it('accepts the bounds of each range it states', () => {
    const c = parseConfigText(
      [
        'interval: 1',
        'nice: -20',
        'pessimistic_after: 1',
        'log: {keep: 1, max_bytes: 64k}',
        'history: {keep: 1000, max_bytes: 4096G}',
        'gpu: {interval: 1, timeout: 600}',
      ].join('\n'),
      'x',
    );
    assert.deepEqual([c.interval, c.nice, c.pessimistic_after, c.log.keep, c.log.max_bytes, c.history.keep, c.history.max_bytes, c.gpu.interval, c.gpu.timeout], [1, -20, 1, 1, 64 * 1024, 1000, 2 ** 42, 1, 600]);
    const d = parseConfigText('interval: 3600\nnice: 19\npessimistic_after: 1000\nlog: {keep: 100}\n', 'x');
    assert.deepEqual([d.interval, d.nice, d.pessimistic_after, d.log.keep], [3600, 19, 1000, 100]);
  });

  it('reads sizes in binary units, and refuses one past the largest or under the smallest, naming both ends', () => {
    assert.equal(parseConfigText('log:\n  max_bytes: 512k\n', 'x').log.max_bytes, 512 * 1024);
    assert.equal(parseConfigText('log:\n  max_bytes: 2G\n', 'x').log.max_bytes, 2 * 1024 ** 3);
    assert.equal(problemsOf('history:\n  max_bytes: 4097G\n')[0], 'lavarank.yaml:2:14: history.max_bytes: expected a size from 65536 bytes to 4096G (a number of bytes, or a string such as "10M"), received "4097G"');
    assert.match(problemsOf('log:\n  max_bytes: 65535\n')[0] ?? '', /^lavarank\.yaml:2:14: log\.max_bytes: expected a size from 65536 bytes to 4096G/);
  });

  it('accepts a sample deadline equal to the interval', () => {
    assert.equal(parseConfigText('interval: 10\nsample_deadline: 10\n', 'x').sample_deadline, 10);
  });

  it('gives the defaults of a section left empty, its keys commented out', () => {
    assert.deepEqual(parseConfigText('log:\n#  level: debug\nhistory:\ngpu:\n', 'x'), defaultConfig());
  });

  it('refuses a path with a NUL byte in it, naming the key', () => {
    assert.deepEqual(problemsOf('model: "/etc/lavarank/model\\0.json"\n'), ['lavarank.yaml:1:8: model: expected a path without NUL bytes, received "/etc/lavarank/model\\u0000.json"']);
  });

  it('reads metrics.textfile as an absolute path ending in .prom, and refuses one that ends in prom without the dot', () => {
    assert.equal(parseConfigText('metrics:\n  textfile: /var/lib/node_exporter/lavarank.prom\n', 'x').metrics.textfile, '/var/lib/node_exporter/lavarank.prom');
    assert.match(problemsOf('metrics:\n  textfile: /var/lib/node_exporter/lavarankprom\n')[0] ?? '', /^lavarank\.yaml:2:13: metrics\.textfile: expected an absolute path ending in \.prom/);
  });

  it('gives the problem itself as the message of a refusal with one problem, and counts them when there are several', () => {
    const one = (() => {
      try {
        parseConfigText('interval: 0\n', 'lavarank.yaml');
      } catch (err) {
        return err as ConfigError;
      }
      assert.fail('accepted');
    })();
    assert.equal(one.message, 'lavarank.yaml:1:11: interval: expected a number from 1 to 3600, received 0');
    assert.throws(() => parseConfigText('interval: 0\nnice: 50\n', 'lavarank.yaml'), {
      message: '2 problems in lavarank.yaml:\n  lavarank.yaml:1:11: interval: expected a number from 1 to 3600, received 0\n  lavarank.yaml:2:7: nice: expected an integer from -20 to 19, received 50',
    });
  });

  it('refuses a text longer than MAX_CONFIG_BYTES before parsing it, naming its size', () => {
    assert.throws(() => parseConfigText(`#${'x'.repeat(MAX_CONFIG_BYTES)}\n`, 'big.yaml'), { message: `big.yaml: ${MAX_CONFIG_BYTES + 2} bytes; a lavarank config is at most ${MAX_CONFIG_BYTES} bytes (is this the right file?)` });
  });

  it('refuses a top level that is not a mapping', () => {
    assert.match(problemsOf('- 1\n- 2\n')[0] ?? '', /expected a mapping of settings at the top level/);
  });

  it('refuses an ordered mapping or a set (!!omap, !!set) where a mapping belongs, rather than ignoring every key in it', () => {
    assert.deepEqual(problemsOf('log: !!omap [{level: bogus}, {keep: 0}]\nhistory: !!set {enabled}\nelims:\n  - !!omap [{command: [/bin/true]}]\n'), [
      'lavarank.yaml:1:13: log: expected a mapping with keys file, level, max_bytes, keep, received an ordered mapping (!!omap)',
      'lavarank.yaml:2:16: history: expected a mapping with keys enabled, dir, max_bytes, keep, received a set (!!set)',
      'lavarank.yaml:4:12: elims[0]: expected a mapping with keys name, command, max_age, stale_value, received an ordered mapping (!!omap)',
    ]);
    assert.deepEqual(problemsOf('!!omap [{interval: 0}, {bogus: 1}]\n'), ['lavarank.yaml: expected a mapping of settings at the top level, received an ordered mapping (!!omap)']);
  });

  // yaml prints every token when either is set; under LIM stdout is the report pipe,
  // and LOG_STREAM=1 in LIM's environment had the elim write its config's tokens there.
  it("writes nothing to stdout with yaml's LOG_TOKENS or LOG_STREAM set, and leaves both set for child elims", (t) => {
    const yaml = yamlDebugOn(t);
    assert.equal(parseConfigText('interval: 10\nlog:\n  level: warn\n').interval, 10);
    assert.equal(yaml.printed(), 0);
    assert.deepEqual([process.env['LOG_TOKENS'], process.env['LOG_STREAM']], ['1', '1']);
  });
});

describe('findConfigAsync', () => {
  const none = async (): Promise<boolean> => false;
  it('prefers --config, then $LAVARANK_CONFIG, then $LSF_ENVDIR/lavarank.yaml', async () => {
    const env = { LAVARANK_CONFIG: '/a.yaml', LSF_ENVDIR: '/etc/lsf' };
    assert.deepEqual(await findConfigAsync('/c.yaml', env, async () => true), { path: '/c.yaml', why: '--config' });
    assert.deepEqual(await findConfigAsync(undefined, env, async () => true), { path: '/a.yaml', why: '$LAVARANK_CONFIG' });
    assert.deepEqual(await findConfigAsync(undefined, { LSF_ENVDIR: '/etc/lsf' }, async () => true), {
      path: '/etc/lsf/lavarank.yaml',
      why: '$LSF_ENVDIR/lavarank.yaml',
    });
  });
  it('takes an empty $LAVARANK_CONFIG or $LSF_ENVDIR as unset', async () => {
    assert.deepEqual(await findConfigAsync(undefined, { LAVARANK_CONFIG: '', LSF_ENVDIR: '/etc/lsf' }, async () => true), { path: '/etc/lsf/lavarank.yaml', why: '$LSF_ENVDIR/lavarank.yaml' });
    assert.equal((await findConfigAsync(undefined, { LSF_ENVDIR: '' }, async () => true)).path, null);
  });
  it('falls back to built-in defaults when $LSF_ENVDIR has no lavarank.yaml', async () => {
    assert.equal((await findConfigAsync(undefined, { LSF_ENVDIR: '/etc/lsf' }, none)).path, null);
  });
});

describe('loadConfigAsync', () => {
  it('refuses an empty path, naming where it came from, rather than open the working directory', async () => {
    await assert.rejects(() => loadConfigAsync({ path: '', why: '--config' }), (err: unknown) => err instanceof ConfigError && err.message === '--config names no config file: expected a file name, received an empty string');
  });

  it('loads the yaml package to parse a file, and not for the built-in defaults, which an elim without a lavarank.yaml runs on', async () => {
    const { dir, cleanup } = tempDir();
    try {
      const path = join(dir, 'lavarank.yaml');
      writeFileSync(path, 'interval: 30\n', { mode: 0o644 });
      // In a fresh process: whether the yaml package is among the modules Node loaded
      // (yaml's Node entry is CommonJS, so it is in the require cache however loaded).
      const yamlLoaded = (source: object): string => {
        const script = [
          "import { createRequire } from 'node:module';",
          `const m = await import(${JSON.stringify(new URL('../../src/config/config.js', import.meta.url).href)});`,
          `await m.loadConfigAsync(${JSON.stringify(source)});`,
          "process.stdout.write(String(Object.keys(createRequire(import.meta.url).cache).some((f) => f.includes('/node_modules/yaml/'))));",
        ].join('\n');
        const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
        assert.equal(r.status, 0, r.stderr);
        return r.stdout;
      };
      assert.equal(yamlLoaded({ path: null, why: 'test' }), 'false');
      assert.equal(yamlLoaded({ path, why: 'test' }), 'true');
    } finally {
      cleanup();
    }
  });

  it('reads a file owned by root with mode 0644', async () => {
    const { dir, cleanup } = tempDir();
    try {
      const path = join(dir, 'lavarank.yaml');
      writeFileSync(path, 'interval: 30\n', { mode: 0o644 });
      assert.equal((await loadConfigAsync({ path, why: 'test' })).interval, 30);
    } finally {
      cleanup();
    }
  });

  it('refuses a config file writable by others, saying how to fix it', async () => {
    const { dir, cleanup } = tempDir();
    try {
      const path = writeWithMode(join(dir, 'lavarank.yaml'), 'interval: 30\n', 0o666);
      await assert.rejects(() => loadConfigAsync({ path, why: 'test' }), (err: unknown) => {
        assert.ok(err instanceof ConfigError);
        assert.match(err.message, /mode 0666, writable by group or others; run: chmod go-w/);
        return true;
      });
    } finally {
      cleanup();
    }
  });

  it('does not read a config file it refuses for its mode: its content is never quoted', async () => {
    const { dir, cleanup } = tempDir();
    try {
      const path = writeWithMode(join(dir, 'lavarank.yaml'), 'interval: 0\n', 0o666);
      await assert.rejects(() => loadConfigAsync({ path, why: 'test' }), (err: unknown) => {
        assert.ok(err instanceof ConfigError);
        assert.equal(err.problems.length, 1, err.problems.join('\n'));
        assert.match(err.problems[0]!, /mode 0666/);
        assert.doesNotMatch(err.message, /interval/);
        return true;
      });
    } finally {
      cleanup();
    }
  });

  it('refuses a config file in a directory writable by others', async () => {
    const { dir, cleanup } = tempDir();
    try {
      const sub = dirWithMode(dir, 'etc', 0o777);
      const path = join(sub, 'lavarank.yaml');
      writeFileSync(path, 'interval: 30\n', { mode: 0o644 });
      await assert.rejects(() => loadConfigAsync({ path, why: 'test' }), /directory .*etc above config file .* has mode 0777/);
    } finally {
      cleanup();
    }
  });

  it('refuses a file larger than MAX_CONFIG_BYTES before parsing it, quickly', async () => {
    const { dir, cleanup } = tempDir();
    try {
      const path = join(dir, 'lavarank.yaml');
      writeFileSync(path, '"'.repeat(MAX_CONFIG_BYTES + 1), { mode: 0o644 });
      const started = performance.now();
      await assert.rejects(() => loadConfigAsync({ path, why: 'test' }), /bytes; a lavarank config is at most 65536 bytes/);
      assert.ok(performance.now() - started < 1000);
    } finally {
      cleanup();
    }
  });

  it('reads a file of exactly MAX_CONFIG_BYTES', async () => {
    const { dir, cleanup } = tempDir();
    try {
      const path = join(dir, 'lavarank.yaml');
      const head = 'interval: 30\n#';
      writeFileSync(path, `${head}${'x'.repeat(MAX_CONFIG_BYTES - head.length - 1)}\n`, { mode: 0o644 });
      assert.equal((await loadConfigAsync({ path, why: 'test' })).interval, 30);
    } finally {
      cleanup();
    }
  });

  it('refuses a FIFO as config file instead of blocking on it', async () => {
    const { dir, cleanup } = tempDir();
    try {
      const path = join(dir, 'lavarank.yaml');
      assert.equal(spawnSync('mkfifo', [path]).status, 0);
      await assert.rejects(() => loadConfigAsync({ path, why: 'test' }), /is not a regular file/);
    } finally {
      cleanup();
    }
  });

  it('names the file and the reason when it cannot be read', async () => {
    await assert.rejects(() => loadConfigAsync({ path: '/nonexistent/lavarank.yaml', why: '--config' }), {
      name: 'ConfigError',
      message: 'config file /nonexistent/lavarank.yaml (from --config) cannot be read: ENOENT (no such file or directory)',
    });
  });
});
