import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { ConfigError } from '../../src/util/errors.js';
import { mergeHosts, parseBhostsLong, parseHostFile, parseHostTable, parseHostsYaml, parseLshostsLong, parseSize, readHosts, syntheticHosts } from '../../src/simulate/hosts.js';
import { fixture, tempDir, yamlDebugOn } from '../helpers.js';

const lshostsL = readFileSync(fixture('openlava', 'lshosts-l.txt'), 'utf8');
const bhostsL = readFileSync(fixture('openlava', 'bhosts-l.txt'), 'utf8');

describe('parseLshostsLong', () => {
  it('reads CPUs, memory and CPU factor of every host of a real lshosts -l', () => {
    const facts = parseLshostsLong(lshostsL, 'lshosts-l.txt');
    assert.deepEqual(facts.map((f) => f.name), ['ol1', 'ol2', 'ol3']);
    assert.deepEqual(facts[0], { name: 'ol1', cpus: 2, cpuFactor: 100, memBytes: 24105 * 2 ** 20 });
  });
});

describe('parseLshostsLong, hosts that differ', () => {
  it('reads each host from its own block, not from the first block of the file', () => {
    const blocks = lshostsL.split('HOST_NAME:');
    blocks[2] = blocks[2]!.replace('100.0     2      0 24105M', ' 60.0     8      0 64000M');
    const facts = parseLshostsLong(blocks.join('HOST_NAME:'), 'lshosts-l.txt');
    assert.deepEqual(facts.map((f) => [f.name, f.cpus, f.cpuFactor, f.memBytes]), [
      ['ol1', 2, 100, 24105 * 2 ** 20],
      ['ol2', 8, 60, 64000 * 2 ** 20],
      ['ol3', 2, 100, 24105 * 2 ** 20],
    ]);
  });
});

describe('parseBhostsLong', () => {
  it('reads the job slots (MAX) of every host of a real bhosts -l', () => {
    const facts = parseBhostsLong(bhostsL, 'bhosts-l.txt');
    assert.deepEqual(facts.map((f) => [f.name, f.mxj, f.cpuFactor]), [['ol1', 2, 100], ['ol2', 1, 100], ['ol3', 1, 100]]);
  });
});

describe('host blocks without their header line', () => {
  it('lshosts -l: a block without the "type model cpuf ncpus" line is named, not read from the next host', () => {
    const blocks = lshostsL.split('HOST_NAME:');
    blocks[1] = blocks[1]!.replace(/^type .*\n.*\n/m, '');
    assert.throws(() => parseLshostsLong(blocks.join('HOST_NAME:'), 'l'), /^ParseError: l:2: host ol1 has no "type model cpuf ncpus \.\.\." line/);
  });

  it('bhosts -l: a block without the "STATUS CPUF JL/U MAX" line is named, not read from the next host', () => {
    const blocks = bhostsL.split(/^(?=HOST  )/m);
    blocks[0] = blocks[0]!.replace(/^STATUS .*\n.*\n/m, '');
    assert.throws(() => parseBhostsLong(blocks.join(''), 'b'), /^ParseError: b:1: host ol1 has no "STATUS CPUF JL\/U MAX \.\.\." line/);
  });
});

describe('parseHostTable', () => {
  it('reads lshosts -w and bhosts -w tables by their header', () => {
    const lshosts = 'HOST_NAME  type  model  cpuf ncpus maxmem maxswp server RESOURCES\nn1  linux  X86_64  60.0  16  64G  0M  Yes (cs)\nn2  linux  X86_64  90.0  -  32000M  0M  Yes ()\n';
    assert.deepEqual(parseHostTable(lshosts, 'lshosts'), [{ name: 'n1', cpus: 16, cpuFactor: 60, memBytes: 64 * 2 ** 30 }, { name: 'n2', cpuFactor: 90, memBytes: 32000 * 2 ** 20, cpusUnknown: true }]);
    const bhosts = 'HOST_NAME STATUS JL/U MAX NJOBS RUN SSUSP USUSP RSV\nn1 ok - 32 0 0 0 0 0\nn2 closed - - 0 0 0 0 0\n';
    assert.deepEqual(parseHostTable(bhosts, 'bhosts'), [{ name: 'n1', mxj: 32 }, { name: 'n2' }]);
  });

  it('refuses 0 CPUs or slots and a CPU factor of 0, which no host can run with', () => {
    assert.throws(() => parseHostTable('HOST_NAME ncpus\nn1 0\n', 'h.txt'), /h\.txt:2: ncpus "0" is not a whole number of at least 1/);
    assert.throws(() => parseHostTable('HOST_NAME STATUS JL/U MAX\nn1 ok - 0\n', 'h.txt'), /h\.txt:2: MAX "0"/);
    assert.throws(() => parseHostTable('HOST_NAME cpuf ncpus\nn1 0.0 4\n', 'h.txt'), /h\.txt:2: cpuf "0\.0" is not a positive number/);
  });

  it('reads a table saved with CRLF line ends and a blank last line as its hosts only', () => {
    const bhosts = 'HOST_NAME STATUS JL/U MAX NJOBS RUN SSUSP USUSP RSV\r\nn1 ok - 32 0 0 0 0 0\r\n\r\n';
    assert.deepEqual(parseHostTable(bhosts, 'bhosts'), [{ name: 'n1', mxj: 32 }]);
  });

  it('names the file and line of a bad value', () => {
    assert.throws(() => parseHostTable('HOST_NAME ncpus\nn1 two\n', 'h.txt'), /h\.txt:2: ncpus "two"/);
  });
});

describe('parseHostsYaml', () => {
  // yaml prints every token when either is set, and simulate's table goes to stdout.
  it("writes nothing to stdout with yaml's LOG_TOKENS or LOG_STREAM set, and leaves both set", (t) => {
    const yaml = yamlDebugOn(t);
    assert.equal(parseHostsYaml('- {name: a, cpus: 4}\n', 'h.yaml')[0]!.cpus, 4);
    assert.equal(yaml.printed(), 0);
    assert.deepEqual([process.env['LOG_TOKENS'], process.env['LOG_STREAM']], ['1', '1']);
  });

  it('reads hosts with sizes, counts and defaults', () => {
    const facts = parseHostsYaml('- {name: big, cpus: 64, mem: 512G, mxj: 64, cpu_factor: 1.5, disks: 4}\n- {name: small, cpus: 8, count: 2}\n', 'h.yaml');
    assert.deepEqual(facts, [
      { name: 'big', cpus: 64, memBytes: 512 * 2 ** 30, mxj: 64, cpuFactor: 1.5, disks: 4 },
      { name: 'small-1', cpus: 8, memBytes: undefined, mxj: undefined, cpuFactor: undefined, disks: undefined },
      { name: 'small-2', cpus: 8, memBytes: undefined, mxj: undefined, cpuFactor: undefined, disks: undefined },
    ]);
  });

  it('names the file, line and column of YAML whose aliases cannot be resolved (an alias bomb, an alias to no anchor)', () => {
    const bomb = `a: &a [x, x, x, x, x, x, x, x, x]\n${['b', 'c', 'd', 'e', 'f', 'g'].map((k, i) => `${k}: &${k} [${Array(9).fill(`*${'abcdef'[i]}`).join(', ')}]`).join('\n')}\n`;
    assert.throws(() => parseHostsYaml(bomb, 'h.yaml'), (err: unknown) => err instanceof ConfigError && /^h\.yaml:4:8: invalid YAML: Excessive alias count/.test(err.message));
    assert.throws(() => parseHostsYaml('- *nowhere\n', 'h.yaml'), (err: unknown) => err instanceof ConfigError && /^h\.yaml:1:3: invalid YAML: /.test(err.message));
  });

  it('reads a bare number for mem as GiB', () => {
    assert.equal(parseHostsYaml('- {name: a, cpus: 4, mem: 64}\n', 'h.yaml')[0]!.memBytes, 64 * 2 ** 30);
  });

  it('lists every problem: unknown keys, wrong types, a missing CPU count', () => {
    const err = (() => {
      try {
        parseHostsYaml('hosts:\n  - {name: a, cpus: 0}\n  - {name: b, cpu: 4}\n', 'h.yaml');
      } catch (e) {
        return e as ConfigError;
      }
      return undefined;
    })();
    assert.ok(err instanceof ConfigError);
    assert.ok(err.problems.some((p) => p.includes('hosts[0].cpus: expected a whole number')));
    assert.ok(err.problems.some((p) => p.includes('hosts[1].cpu: unknown key')));
    assert.ok(err.problems.some((p) => p.includes('hosts[1].cpus: required')));
    assert.equal(err.problems.filter((p) => p.includes('hosts[0].cpus')).length, 1, 'one problem for a CPU count out of range, not also "required"');
  });

  it('shows .nan and .inf as such, not as null', () => {
    assert.throws(() => parseHostsYaml('- {name: a, cpus: .nan}\n', 'h.yaml'), /hosts\[0\]\.cpus: expected a whole number from 1 to 16384, found NaN/);
    assert.throws(() => parseHostsYaml('- {name: a, cpus: 4, cpu_factor: .inf}\n', 'h.yaml'), /cpu_factor: expected a positive number, found Infinity/);
  });
});

describe('mergeHosts and readHosts', () => {
  it('merges lshosts (CPUs, memory) with bhosts (slots) by host name', async () => {
    const { dir, cleanup } = tempDir();
    try {
      writeFileSync(join(dir, 'lshosts'), lshostsL);
      writeFileSync(join(dir, 'bhosts'), bhostsL);
      const hosts = await readHosts([join(dir, 'lshosts'), join(dir, 'bhosts')]);
      assert.deepEqual(hosts.map((h) => [h.name, h.cpus, h.mxj, h.speed]), [['ol1', 2, 2, 1], ['ol2', 2, 1, 1], ['ol3', 2, 1, 1]]);
    } finally {
      cleanup();
    }
  });

  it('gives slots = CPUs, 4 GiB per CPU, one disk per 8 CPUs and speeds relative to the median CPU factor by default', () => {
    const [a, b, c] = mergeHosts([{ name: 'a', cpus: 16, cpuFactor: 50 }, { name: 'b', cpus: 4, cpuFactor: 100 }, { name: 'c', cpus: 32, cpuFactor: 200 }]);
    assert.deepEqual([a!.mxj, a!.memBytes, a!.disks, a!.speed], [16, 16 * 4 * 2 ** 30, 2, 0.5]);
    assert.deepEqual([b!.disks, b!.speed, c!.speed], [1, 1, 2]);
  });

  it('refuses a host listed twice in one file, and a count whose names clash with a host', async () => {
    const { dir, cleanup } = tempDir();
    try {
      writeFileSync(join(dir, 'twice.yaml'), '- {name: a, cpus: 8}\n- {name: a, cpus: 16}\n');
      await assert.rejects(readHosts([join(dir, 'twice.yaml')]), /--hosts .*twice\.yaml: host a is listed twice/);
      writeFileSync(join(dir, 'count.yaml'), '- {name: thin, cpus: 8, count: 3}\n- {name: thin-2, cpus: 64}\n');
      await assert.rejects(readHosts([join(dir, 'count.yaml')]), /host thin-2 is listed twice/);
    } finally {
      cleanup();
    }
  });

  it('keeps what an earlier file says about a host, and takes from later files only what it left out', () => {
    const [h] = mergeHosts([{ name: 'a', cpus: 8, cpuFactor: 50 }, { name: 'a', cpus: 16, cpuFactor: 100, mxj: 4 }]);
    assert.deepEqual([h!.cpus, h!.cpuFactor, h!.mxj], [8, 50, 4]);
  });

  it('leaves out the client hosts lshosts lists (server No), which take no batch jobs', () => {
    const client = lshostsL.replace(/(HOST_NAME:  ol3\n.*\n)linux .*Yes\n/, '$1linux          IntelI5 100.0     -      -      -      -      -      0     No\n');
    assert.notEqual(client, lshostsL);
    assert.deepEqual(parseLshostsLong(client, 'l').map((h) => h.name), ['ol1', 'ol2']);
    const table = 'HOST_NAME type model cpuf ncpus maxmem maxswp server RESOURCES\nn1 linux X86_64 60.0 16 64G 0M Yes (cs)\nlogin1 linux X86_64 60.0 - - - No ()\n';
    assert.deepEqual(mergeHosts(parseHostTable(table, 'w')).map((h) => h.name), ['n1']);
  });

  it('says a server host lshosts shows without CPUs had its LIM down, not that lshosts output is missing', () => {
    const down = lshostsL.replace(/(HOST_NAME:  ol3\n.*\n)linux .*Yes\n/, '$1linux          IntelI5 100.0     -      -      -      -      -      0    Yes\n');
    assert.throws(() => mergeHosts(parseLshostsLong(down, 'l')), /lshosts shows no CPU count \("-"\) for host ol3: its LIM was down/);
  });

  it('refuses a host no file gives a CPU count for', () => {
    assert.throws(() => mergeHosts(parseBhostsLong(bhostsL, 'b')), /no CPU count for hosts ol1, ol2, ol3/);
  });

  it('tells the formats apart by their content', () => {
    assert.equal(parseHostFile(lshostsL, 'x')[0]!.cpus, 2);
    assert.equal(parseHostFile(bhostsL, 'x')[0]!.mxj, 2);
    assert.equal(parseHostFile('- {name: y, cpus: 3}\n', 'x')[0]!.cpus, 3);
  });
});

describe('parseSize and syntheticHosts', () => {
  it('reads OpenLava and YAML sizes', () => {
    assert.equal(parseSize('24105M', 'x'), 24105 * 2 ** 20);
    assert.equal(parseSize('80G', 'x'), 80 * 2 ** 30);
    assert.equal(parseSize('64', 'x', 'G'), 64 * 2 ** 30);
    assert.equal(parseSize('-', 'x'), undefined);
    assert.throws(() => parseSize('lots', 'f'), /f: size "lots"/);
  });

  it('makes a heterogeneous cluster of 8 to 64 CPUs', () => {
    const hosts = syntheticHosts(8);
    assert.deepEqual([...new Set(hosts.map((h) => h.cpus))].sort((a, b) => a - b), [8, 16, 32, 64]);
    assert.ok(new Set(hosts.map((h) => h.speed)).size > 1);
  });
});
