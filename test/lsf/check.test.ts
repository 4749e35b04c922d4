import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { checkLsf, parseLsfConf, type Finding, type LsfCheckInput } from '../../src/lsf/check.js';
import { wrapperText } from '../../src/lsf/install.js';
import { cliPath } from '../helpers.js';
import { lsfTree, type LsfTree } from '../helpers/lsf-tree.js';

const EXPECTED = { d: 6, t: 45, resReq: 'order[rank] rusage[rank=6:duration=45s:decay=1]', why: 'recommend --cpus 16' };

function input(t: LsfTree, over: Partial<LsfCheckInput> = {}): LsfCheckInput {
  return { envdir: t.etc, resource: 'rank', env: {}, program: cliPath, childElims: [], expected: EXPECTED, ...over };
}

// Installs this build's wrapper as the tree's elim.
function installWrapper(t: LsfTree, node = process.execPath, program = cliPath): string {
  const elim = join(t.sbin, 'elim');
  writeFileSync(elim, wrapperText(node, program), { mode: 0o755 });
  return elim;
}

const find = (findings: readonly Finding[], re: RegExp): Finding | undefined => findings.find((f) => re.test(f.message));

// Rewrites a line of a file.
function edit(path: string, from: string | RegExp, to: string): void {
  const text = readFileSync(path, 'utf8');
  const next = text.replace(from, to);
  assert.notEqual(next, text, `no ${String(from)} in ${path}`);
  writeFileSync(path, next);
}

describe('parseLsfConf', () => {
  it('reads KEY=VALUE lines with their line numbers; the last line for a key wins; quotes hold blanks', () => {
    const { values, findings } = parseLsfConf('# c\nA=1\nB="x y"  # note\nA=2\nC=\n', 'lsf.conf');
    assert.deepEqual(findings, []);
    assert.deepEqual(Object.fromEntries(values), { A: { value: '2', line: 4 }, B: { value: 'x y', line: 3 }, C: { value: '', line: 5 } });
  });

  it('names every line OpenLava refuses, with its line and text', () => {
    const { findings } = parseLsfConf('A = 1\nB= 2\nC=1 2\nD=ok\n', 'lsf.conf');
    assert.deepEqual(
      findings.map((f) => f.where),
      ['lsf.conf:1', 'lsf.conf:2', 'lsf.conf:3'],
    );
    assert.match(findings[1]!.message, /a blank after "=", and OpenLava's daemons refuse the whole file: "B= 2"/);
  });

  // Checked on OpenLava 4.0 (2026-12-05): "lim -C" with LSF_LOG_MASK = LOG_INFO in
  // lsf.conf stops with "initenv() failed reading lsf.conf", as without LSF_CONFDIR,
  // which check calls critical; such a line was only an error.
  it('calls a line OpenLava refuses critical: LIM does not start with it', () => {
    const { findings } = parseLsfConf('LSF_LOG_MASK = LOG_INFO\nD=ok\n', 'lsf.conf');
    assert.deepEqual(findings.map((f) => f.severity), ['critical']);
  });

  // parseLine (lsf/lib/lib.initenv.c) refuses a line of 8 × PATH_MAX - 1 bytes or more,
  // and readconfenv_ then the file: on OpenLava 4.0, "lim -C" with a quoted LSF_X of 32 767
  // bytes stopped with "initenv() failed reading lsf.conf"; with 32 766, or those and a
  // comment after them, it started. check read such a line as a setting.
  it('refuses a line of 32 767 bytes or more, its comment and end blanks not counted, and takes no setting from it', () => {
    const line = (bytes: number): string => `LSF_X="${'a '.repeat(bytes).slice(0, bytes - 'LSF_X=""'.length)}"`;
    const { values, findings } = parseLsfConf(`${line(32767)}
${line(32766)}  # a comment past the limit
D=ok
`, 'lsf.conf');
    assert.deepEqual(findings.map((f) => [f.severity, f.where]), [['critical', 'lsf.conf:1']]);
    assert.match(findings[0]!.message, /^a line of 32767 bytes, over the 32766 OpenLava's daemons take, and they refuse the whole file: "LSF_X=\\"a a /);
    assert.equal(values.get('LSF_X')?.line, 2);
  });

  it('refuses a quoted value followed by another value, and takes no setting from it', () => {
    const { values, findings } = parseLsfConf('LSF_LOGDIR="/opt/log" /tmp\nD=ok\n', 'lsf.conf');
    assert.deepEqual(findings.map((f) => f.where), ['lsf.conf:1']);
    assert.match(findings[0]!.message, /more than one value/);
    assert.deepEqual([...values.keys()], ['D']);
  });

  // parseLine (lsf/lib/lib.initenv.c, OpenLava 4.0) cuts the key at the first word's
  // "=" and never asks that it be empty: "=/opt/log" is the key "", which matchEnv finds
  // in no list, so the line is skipped. check called it a line that stops LIM (critical).
  it('takes a line with nothing before "=" as OpenLava does, a setting of no name, and keeps no value from it', () => {
    const { values, findings } = parseLsfConf('=/opt/log\nD=ok\n= a\n', 'lsf.conf');
    assert.deepEqual(findings.map((f) => f.where), ['lsf.conf:3'], 'a blank after "=" is refused whatever the key');
    assert.deepEqual([...values.keys()], ['D']);
  });

  // parseLine and getNextValueQ_ (lsf/lib/lib.initenv.c, lib.words.c, OpenLava 4.0)
  // end a quoted value at its quote and fold the blanks inside it; check called
  // LSF_X="a"b, which LIM takes as a, a line that stops LIM (critical).
  it('reads a quoted value as OpenLava does: cut at its closing quote, its blanks folded, a blank after the opening quote dropped', () => {
    const { values, findings } = parseLsfConf('A="a"b\nB=" a"\nC="a   b"\nD="a b"c"\nE=a"b\n', 'lsf.conf');
    assert.deepEqual(findings, []);
    assert.deepEqual(
      [...values].map(([k, v]) => [k, v.value]),
      [['A', 'a'], ['B', 'a'], ['C', 'a b'], ['D', 'a b"c'], ['E', 'a"b']],
    );
  });

  it('takes only C\'s blanks as blanks: a no-break space is part of a value, a byte order mark part of the first key, which check names', () => {
    const { values, findings } = parseLsfConf('\uFEFFLSF_CONFDIR=/opt/conf\nLSF_X=\u00A0a\n\u00A0\n', 'lsf.conf');
    assert.deepEqual(findings.map((f) => [f.severity, f.where]), [['critical', 'lsf.conf:3'], ['error', 'lsf.conf:1']]);
    assert.equal(values.get('LSF_CONFDIR'), undefined);
    assert.equal(values.get('LSF_X')?.value, '\u00A0a');
    assert.match(findings[1]!.message, /byte order mark.*they see no LSF_CONFDIR there/);
  });

  // lsf.conf usually starts with comments: saved with a byte order mark, its first line is
  // the mark alone, which the daemons refuse, and the message quoted it as "".
  it('names a byte order mark before a comment, which makes the first line one the daemons refuse, and shows it escaped', () => {
    const { findings } = parseLsfConf('\uFEFF# lsf.conf\nLSF_CONFDIR=/opt/conf\n', 'lsf.conf');
    assert.deepEqual(findings.map((f) => [f.severity, f.where]), [['critical', 'lsf.conf:1']]);
    assert.match(findings[0]!.message, /refuse the whole file: "\\ufeff" \(a byte order mark, .*save the file without it\)$/);
  });

  it('skips a last line with no newline that is one character once its blanks are dropped, as getNextLineD_ does', () => {
    assert.deepEqual(parseLsfConf('A=1\nx  # note', 'lsf.conf').findings, []);
    assert.equal(parseLsfConf('A=1\nx', 'lsf.conf').findings.length, 1, 'one character all along is read, and refused');
    assert.equal(parseLsfConf('A=1\nx  \n', 'lsf.conf').findings.length, 1, 'a newline ends it: read, and refused');
  });

  it('continues a line as getNextLineC_ does: only a "\\" right before the newline joins, and the join is a blank', () => {
    // Joined with a blank, a value split over two lines is two values, which OpenLava refuses.
    const split = parseLsfConf('LSF_LOGDIR=/opt/\\\nopenlava/log\n', 'lsf.conf');
    assert.equal(split.values.get('LSF_LOGDIR'), undefined);
    assert.match(split.findings[0]?.message ?? '', /more than one value/);
    // "\\" then a blank (or the CR of a CRLF file) joins nothing: two settings, not one.
    const { values, findings } = parseLsfConf('LSF_LOGDIR=/opt/log\\ \nLSF_SERVERDIR=/x\r\nLSB_CONFDIR=/c\\\r\nLSF_ENVDIR=/e\n', 'lsf.conf');
    assert.deepEqual(findings, []);
    assert.deepEqual([...values].map(([k, v]) => [k, v.value, v.line]), [['LSF_LOGDIR', '/opt/log', 1], ['LSF_SERVERDIR', '/x', 2], ['LSB_CONFDIR', '/c', 3], ['LSF_ENVDIR', '/e', 4]]);
  });
});

describe('checkLsf', () => {
  it('finds rank declared INCREASING N, with lsf.shared:line and the line itself', async () => {
    const t = lsfTree('capture');
    try {
      const { findings } = await checkLsf(input(t));
      const f = find(findings, /INCREASING N/);
      assert.equal(f?.severity, 'critical');
      assert.equal(f?.where, 'lsf.shared:20');
      assert.match(f?.message ?? '', /BUSIEST host.*"rank +Numeric 10 +N +\(A rank for this host\.\)"/);
    } finally {
      t.cleanup();
    }
  });

  it('finds rank in the ResourceMap, and a missing trigger when nothing else is mapped', async () => {
    const t = lsfTree('capture');
    try {
      edit(t.cluster, 'elimtrig ([default])', 'rank ([default])');
      const { findings } = await checkLsf(input(t));
      const mapped = find(findings, /is in the ResourceMap/);
      assert.equal(mapped?.where, 'lsf.cluster.openlava:14');
      assert.match(mapped?.message ?? '', /sorts hosts by free slots.*"rank \(\[default\]\)"/);
      assert.equal(find(findings, /no dynamic resource is mapped/), undefined, 'rank mapped still starts the elim');
      edit(t.cluster, 'rank ([default])', 'fs ([default])');
      const after = await checkLsf(input(t));
      assert.equal(find(after.findings, /no dynamic resource is mapped/)?.severity, 'critical');
    } finally {
      t.cleanup();
    }
  });

  it('finds a quoted ELIMARGS, which OpenLava 4.0 passes as one mangled argument that the elim refuses, and an ELIMARGS --config other than the config checked', async () => {
    const t = lsfTree('capture');
    try {
      writeFileSync(t.cluster, `${readFileSync(t.cluster, 'utf8')}\nBegin Parameters\nELIMARGS = "--config /etc/lavarank/site.yaml"\nEnd Parameters\n`);
      const quoted = await checkLsf(input(t));
      const q = find(quoted.findings, /ELIMARGS is quoted/);
      assert.equal(q?.severity, 'critical');
      assert.match(q?.where ?? '', /^lsf\.cluster\.openlava:\d+$/);
      edit(t.cluster, '"--config /etc/lavarank/site.yaml"', '--config /etc/lavarank/site.yaml');
      const other = await checkLsf(input(t));
      assert.equal(find(other.findings, /ELIMARGS is quoted/), undefined);
      assert.match(find(other.findings, /ELIMARGS gives the elim --config/)?.message ?? '', /read built-in defaults.*lavarank check --config \/etc\/lavarank\/site\.yaml/);
      const same = await checkLsf(input(t, { configPath: '/etc/lavarank/site.yaml' }));
      assert.equal(find(same.findings, /ELIMARGS/), undefined);
      assert.ok(same.effective.some((l) => l.startsWith('ELIMARGS: --config /etc/lavarank/site.yaml')));
    } finally {
      t.cleanup();
    }
  });

  it('finds rank not declared at all', async () => {
    const t = lsfTree('fresh');
    try {
      const { findings } = await checkLsf(input(t));
      assert.equal(find(findings, /rank is not declared in a Resource section/)?.severity, 'critical');
    } finally {
      t.cleanup();
    }
  });

  it('with typed_ranks, finds each typed rank lsf.shared does not declare, whose value LIM would ignore', async () => {
    const t = lsfTree('capture');
    try {
      const typedRanks = ['rank_cpu', 'rank_mem', 'rank_io'];
      const undeclared = (findings: readonly Finding[]): Finding[] => findings.filter((f) => /^rank_\w+ is not declared/.test(f.message));
      assert.deepEqual(undeclared((await checkLsf(input(t))).findings), [], 'without typed_ranks');
      const missing = undeclared((await checkLsf(input(t, { typedRanks }))).findings);
      assert.deepEqual(missing.map((f) => [f.severity, f.where, f.message.split(' ')[0]]), typedRanks.map((n) => ['error', 'lsf.shared', n]));
      assert.match(missing[0]!.message, /LIM ignores it as an unknown name/);
      edit(t.shared, /^( +rank +Numeric.*)$/m, `$1\n   rank_cpu   Numeric 10       Y           (cpu)\n   rank_mem   Numeric 10       Y           (mem)\n   rank_io    Numeric 10       Y           (io)`);
      assert.deepEqual(undeclared((await checkLsf(input(t, { typedRanks }))).findings), []);
    } finally {
      t.cleanup();
    }
  });

  it('finds a queue ordering by rank without the reservation, and one ordering by -rank', async () => {
    const t = lsfTree('capture');
    try {
      edit(t.shared, /rank {7}Numeric 10 {7}N/, 'rank       Numeric 10       Y');
      const first = await checkLsf(input(t));
      const noRusage = find(first.findings, /queue normal has order\[rank\] without rusage/);
      assert.equal(noRusage?.severity, 'warning');
      assert.equal(noRusage?.where, 'lsb.queues:4');
      edit(t.queues, 'RES_REQ      = order[rank]', 'RES_REQ      = order[-rank]');
      const second = await checkLsf(input(t));
      assert.equal(find(second.findings, /orders by -rank: with rank INCREASING Y that picks the BUSIEST host/)?.severity, 'critical');
    } finally {
      t.cleanup();
    }
  });

  it('reports an lsb.queues named by --queues that cannot be read as an error, not as a file to pass with --queues', async () => {
    const t = lsfTree('capture');
    try {
      const missing = join(t.etc, 'no-such-lsb.queues');
      const r = await checkLsf({ ...input(t), queues: missing });
      const finding = find(r.findings, /no queue was checked/);
      assert.equal(finding?.severity, 'error');
      assert.equal(finding?.message, `--queues ${missing} cannot be read (missing, unreadable or not a regular file), so no queue was checked`);
    } finally {
      t.cleanup();
    }
  });

  it('reads lsb.queues where OpenLava 4.0 keeps it, in LSB_CONFDIR itself, and names both places when neither has it', async () => {
    const t = lsfTree('capture');
    try {
      writeFileSync(join(t.etc, 'lsf.conf'), `LSB_CONFDIR=${t.etc}\n`);
      const flat = join(t.etc, 'lsb.queues');
      writeFileSync(flat, readFileSync(t.queues, 'utf8'));
      rmSync(t.queues);
      const found = await checkLsf(input(t));
      assert.equal(find(found.findings, /queue normal has order\[rank\] without rusage/)?.where, 'lsb.queues:4');
      rmSync(flat);
      const none = await checkLsf(input(t));
      const missing = find(none.findings, /no lsb\.queues at/);
      assert.equal(missing?.severity, 'warning');
      assert.ok(missing?.message.includes(`${flat} or ${join(t.etc, 'openlava', 'configdir', 'lsb.queues')}`), missing?.message);
    } finally {
      t.cleanup();
    }
  });

  it("compares the queue's D and T with recommend's, naming both", async () => {
    const t = lsfTree('capture');
    try {
      edit(t.queues, 'RES_REQ      = order[rank]', 'RES_REQ      = order[rank] rusage[rank=8:duration=45s:decay=1]');
      const { findings } = await checkLsf(input(t));
      const f = find(findings, /reserves rank=8/);
      assert.equal(f?.severity, 'warning');
      assert.match(f?.message ?? '', /queue normal reserves rank=8 for duration=45s; recommend --cpus 16 gives rank=6 for duration=45s/);
      edit(t.queues, 'rank=8', 'rank=6');
      assert.equal(find((await checkLsf(input(t))).findings, /reserves rank=/), undefined);
      edit(t.queues, 'duration=45s', 'duration=45S');
      assert.equal(find((await checkLsf(input(t))).findings, /bsub refuses this rusage/)?.severity, 'error');
    } finally {
      t.cleanup();
    }
  });

  it('finds no elim installed, and an elim that is not lavarank’s', async () => {
    const t = lsfTree('capture');
    try {
      assert.match(find((await checkLsf(input(t))).findings, /elim does not exist/)?.message ?? '', /run "lavarank install"/);
      writeFileSync(join(t.sbin, 'elim'), '#!/bin/sh\necho 1 scratch 5\n', { mode: 0o755 });
      assert.equal(find((await checkLsf(input(t))).findings, /is not lavarank's wrapper/)?.severity, 'critical');
    } finally {
      t.cleanup();
    }
  });

  it("accepts this build's wrapper, and names one of another build or with a Node that does not run", async () => {
    const t = lsfTree('capture');
    try {
      installWrapper(t);
      const ok = await checkLsf(input(t));
      assert.deepEqual(ok.findings.filter((f) => f.message.includes(t.sbin)), []);
      assert.ok(ok.effective.some((l) => l.includes('(this build)') && l.includes(process.version)), ok.effective.join('\n'));
      const other = join(t.root, 'cli.js');
      writeFileSync(other, '', { mode: 0o644 });
      installWrapper(t, process.execPath, other);
      assert.equal(find((await checkLsf(input(t))).findings, /runs .*cli\.js, not this build/)?.severity, 'error');
      installWrapper(t, join(t.root, 'no-node'));
      assert.equal(find((await checkLsf(input(t))).findings, /runs Node .*no-node, which does not work here/)?.severity, 'critical');
    } finally {
      t.cleanup();
    }
  });

  it('names a module of the wrapper\'s installation that others could change', async () => {
    const t = lsfTree('capture');
    try {
      const pkg = join(t.root, 'lavarank');
      mkdirSync(join(pkg, 'dist', 'src'), { recursive: true, mode: 0o755 });
      mkdirSync(join(pkg, 'node_modules', 'pino'), { recursive: true, mode: 0o755 });
      writeFileSync(join(pkg, 'package.json'), '{"name":"lavarank"}\n', { mode: 0o644 });
      const program = join(pkg, 'dist', 'src', 'cli.js');
      writeFileSync(program, '', { mode: 0o644 });
      const module = join(pkg, 'node_modules', 'pino', 'pino.js');
      writeFileSync(module, '', { mode: 0o644 });
      installWrapper(t, process.execPath, program);
      assert.equal(find((await checkLsf(input(t))).findings, /installation/), undefined);
      chmodSync(module, 0o666);
      const found = find((await checkLsf(input(t))).findings, /installation/);
      assert.equal(found?.severity, 'error');
      assert.equal(found?.message, `the elim's installation ${module} has mode 0666, writable by group or others; run: chmod -R go-w ${pkg}`);
    } finally {
      t.cleanup();
    }
  });

  it('refuses a child elim that is the installed elim itself', async () => {
    const t = lsfTree('capture');
    try {
      const elim = installWrapper(t);
      const { findings } = await checkLsf(input(t, { childElims: [elim] }));
      assert.equal(find(findings, /is the installed elim itself/)?.severity, 'error');
    } finally {
      t.cleanup();
    }
  });

  it('takes LSF_SERVERDIR from the environment before lsf.conf, as OpenLava does', async () => {
    const t = lsfTree('capture');
    try {
      const { effective, findings } = await checkLsf(input(t, { env: { LSF_SERVERDIR: join(t.root, 'other') } }));
      assert.ok(effective.includes(`LSF_SERVERDIR: ${join(t.root, 'other')} (environment)`), effective.join('\n'));
      assert.match(find(findings, /elim does not exist/)?.message ?? '', /other\/elim/);
    } finally {
      t.cleanup();
    }
  });

  it('reads lsf.shared and lsf.cluster.<cluster> in the LSF_CONFDIR lsf.conf sets, where LIM reads them, not beside lsf.conf (IBM LSF 10.1: lsf.conf in /etc/lsf)', async () => {
    const t = lsfTree('capture');
    try {
      const conf = join(t.root, 'conf');
      mkdirSync(conf, { mode: 0o755 });
      for (const name of ['lsf.shared', 'lsf.cluster.openlava']) renameSync(join(t.etc, name), join(conf, name));
      edit(join(t.etc, 'lsf.conf'), /^LSF_CONFDIR=.*$/m, `LSF_CONFDIR=${conf}`);
      const { findings, effective } = await checkLsf(input(t));
      assert.equal(find(findings, /lsf\.(shared|cluster\.openlava) cannot be read/), undefined, findings.map((f) => f.message).join('\n'));
      assert.equal(find(findings, /INCREASING N/)?.where, `${conf}/lsf.shared:20`);
      assert.ok(effective.includes(`LSF_CONFDIR: ${conf} (lsf.conf:4)`), effective.join('\n'));
      assert.ok(effective.includes("cluster: openlava (lsf.shared's Cluster section)"), effective.join('\n'));
    } finally {
      t.cleanup();
    }
  });

  // With LSF_CONFDIR apart from lsf.conf's directory, "lsf.shared:20" sent the reader to
  // the lsf.shared beside lsf.conf (an old copy there, in LSF 10.1's layout), not LIM's.
  it('names lsf.shared and lsf.cluster.<cluster> by their path when LSF_CONFDIR is not lsf.conf\'s directory, and by their name when it is', async () => {
    const t = lsfTree('capture');
    try {
      writeFileSync(t.cluster, `${readFileSync(t.cluster, 'utf8')}\nBegin Parameters\nELIMARGS = --bogus\nEnd Parameters\n`);
      const where = async (): Promise<Array<string | undefined>> => {
        const { findings } = await checkLsf(input(t));
        return [find(findings, /INCREASING N/)?.where, find(findings, /ELIMARGS gives the elim a command line it refuses/)?.where];
      };
      assert.deepEqual(await where(), ['lsf.shared:20', 'lsf.cluster.openlava:18']);
      const conf = join(t.root, 'conf');
      mkdirSync(conf, { mode: 0o755 });
      for (const name of ['lsf.shared', 'lsf.cluster.openlava']) renameSync(join(t.etc, name), join(conf, name));
      edit(join(t.etc, 'lsf.conf'), /^LSF_CONFDIR=.*$/m, `LSF_CONFDIR=${conf}/`);
      assert.deepEqual(await where(), [`${conf}/lsf.shared:20`, `${conf}/lsf.cluster.openlava:18`]);
    } finally {
      t.cleanup();
    }
  });

  it('calls an lsf.conf that sets no LSF_CONFDIR critical, since OpenLava\'s daemons do not start without it, and then reads lsf.shared beside lsf.conf', async () => {
    const t = lsfTree('capture');
    try {
      edit(join(t.etc, 'lsf.conf'), /^LSF_CONFDIR=.*\n/m, '');
      const { findings } = await checkLsf(input(t));
      assert.equal(find(findings, /LSF_CONFDIR is set neither in the environment nor in lsf\.conf/)?.severity, 'critical');
      assert.equal(find(findings, /INCREASING N/)?.where, 'lsf.shared:20');
      const own = await checkLsf(input(t, { env: { LSF_CONFDIR: t.etc } }));
      assert.equal(find(own.findings, /LSF_CONFDIR/), undefined);
    } finally {
      t.cleanup();
    }
  });

  it('names an LSF_ENVDIR that does not exist and checks nothing else', async () => {
    const { findings } = await checkLsf({ envdir: '/nonexistent/etc', resource: 'rank', env: {}, program: cliPath, childElims: [] });
    assert.equal(findings.length, 1);
    assert.match(findings[0]!.message, /LSF_ENVDIR \/nonexistent\/etc does not exist/);
  });
});

describe('checkLsf, as LIM and mbatchd read the files', () => {
  const withTree = async (fn: (t: LsfTree) => Promise<void>): Promise<void> => {
    const t = lsfTree('capture');
    try {
      await fn(t);
    } finally {
      t.cleanup();
    }
  };

  it('judges rank by its first declaration, the one LIM keeps, not a later one', () =>
    withTree(async (t) => {
      edit(t.shared, /End Resource/, '   rank       Numeric 10       Y           (declared again)\nEnd Resource');
      const f = find((await checkLsf(input(t))).findings, /INCREASING N/);
      assert.equal(f?.where, 'lsf.shared:20');
    }));

  it('finds rank and the trigger on lines with fewer values than the header, which LIM ignores, so rank is not declared and no elim starts', () =>
    withTree(async (t) => {
      edit(t.shared, /rank {7}Numeric 10 {7}N {11}\(A rank for this host\.\)/, 'rank       Numeric 10       Y');
      edit(t.cluster, 'elimtrig ([default])', 'elimtrig');
      const { findings } = await checkLsf(input(t));
      const ignored = findings.filter((f) => /LIM ignores this line/.test(f.message));
      assert.deepEqual(ignored.map((f) => [f.severity, f.where]), [['error', 'lsf.shared:20'], ['error', 'lsf.cluster.openlava:14']]);
      assert.match(ignored[0]!.message, /^4 values under a header of 5 keywords/);
      assert.equal(find(findings, /rank is not declared/)?.severity, 'critical');
      assert.equal(find(findings, /no dynamic resource is mapped/)?.severity, 'critical');
    }));

  it('finds rank declared with a "#" in its DESCRIPTION: the comment takes the closing ")" away, and LIM ignores the line', () =>
    withTree(async (t) => {
      edit(t.shared, /rank {7}Numeric 10 {7}N {11}\(A rank for this host\.\)/, 'rank       Numeric 10       Y           (rank #1 for this host)');
      const { findings } = await checkLsf(input(t));
      const ignored = find(findings, /LIM ignores this line/);
      assert.equal(ignored?.where, 'lsf.shared:20');
      assert.match(ignored?.message ?? '', /a "\(" left open \(a "#" inside it starts a comment\)/);
      assert.equal(find(findings, /rank is not declared/)?.severity, 'critical');
    }));

  // doresources (lsf/lim/lim.conf.c): "No INCREASING specified for a numeric resource";
  // LIM ignores the line, so rank is not declared at all.
  it('takes the TYPE case-insensitively, as LIM does, and a Numeric rank with INCREASING left empty as not declared', () =>
    withTree(async (t) => {
      edit(t.shared, /rank {7}Numeric 10 {7}N/, 'rank       numeric 10       ()');
      const { findings } = await checkLsf(input(t));
      assert.equal(find(findings, /not Numeric/), undefined);
      assert.equal(find(findings, /rank is declared with no INCREASING \(Y or N\).*LIM ignores this line/)?.severity, 'error');
      assert.equal(find(findings, /rank is not declared in a Resource section/)?.severity, 'critical');
    }));

  // doresources ignores a Numeric line whose INCREASING is not Y or N: check took such
  // an elimtrig as declared, and so the elim as started, while LIM never starts it.
  it('takes a trigger declared with an INCREASING other than Y or N (any case) as not declared, so nothing starts the elim', () =>
    withTree(async (t) => {
      const check = async (increasing: string): Promise<readonly Finding[]> => {
        edit(t.shared, /elimtrig {3}Numeric 60 {7}\S/, `elimtrig   Numeric 60       ${increasing}`);
        return (await checkLsf(input(t))).findings;
      };
      const refused = await check('X');
      assert.equal(find(refused, /elimtrig is declared with INCREASING X, not Y or N: LIM ignores this line/)?.severity, 'error', refused.map((f) => f.message).join('\n'));
      assert.equal(find(refused, /no dynamic resource is mapped/)?.severity, 'critical');
      const lower = await check('y');
      assert.equal(find(lower, /elimtrig is declared with/), undefined, 'y is Y to strcasecmp');
      assert.equal(find(lower, /no dynamic resource is mapped/), undefined);
    }));

  // install --merge-conf leaves a line LIM ignores as it is and adds lavarank's below it:
  // check then said the name was not declared, an error after a merge that worked.
  it('warns of a line LIM ignores, without calling the name undeclared, when a later line declares it', () =>
    withTree(async (t) => {
      edit(t.shared, /elimtrig {3}Numeric 60 {7}\S/, 'elimtrig   Numeric 60       X');
      edit(t.shared, /End Resource/, 'elimtrig   Numeric 60       Y           (declared again)\nEnd Resource');
      const { findings } = await checkLsf(input(t));
      const ignored = find(findings, /elimtrig is declared with INCREASING X/);
      assert.equal(ignored?.severity, 'warning', findings.map((f) => f.message).join('\n'));
      assert.doesNotMatch(ignored?.message ?? '', /not declared/);
      assert.equal(find(findings, /no dynamic resource is mapped/), undefined);
    }));

  it('takes LSF_SERVERDIR from lsf.conf when the environment sets it empty', () =>
    withTree(async (t) => {
      const { effective } = await checkLsf(input(t, { env: { LSF_SERVERDIR: '' } }));
      assert.ok(effective.includes(`LSF_SERVERDIR: ${t.sbin} (lsf.conf:5)`), effective.join('\n'));
    }));

  it('warns of the trigger mapped to some hosts only, since LIM starts the elim only where it is', () =>
    withTree(async (t) => {
      edit(t.cluster, 'elimtrig ([default])', 'elimtrig ([ol1])');
      const f = find((await checkLsf(input(t))).findings, /elimtrig is mapped to \[ol1\]/);
      assert.equal(f?.severity, 'warning');
      assert.equal(f?.where, 'lsf.cluster.openlava:14');
    }));

  it('calls the trigger mapped ([all]) critical: all hosts share one instance, and LIM starts the elim on one host of it', () =>
    withTree(async (t) => {
      edit(t.cluster, 'elimtrig ([default])', 'elimtrig ([all])');
      const f = find((await checkLsf(input(t))).findings, /elimtrig is mapped to \[all\]/);
      assert.equal(f?.severity, 'critical');
      assert.match(f?.message ?? '', /one host of each instance only.*a single host reports rank for all of them/);
    }));

  it('says that hosts listed in one [...] share one instance, of which only the first host up runs the elim', () =>
    withTree(async (t) => {
      edit(t.cluster, 'elimtrig ([default])', 'elimtrig ([ol1 ol2])');
      const f = find((await checkLsf(input(t))).findings, /elimtrig is mapped to \[ol1 ol2\]/);
      assert.equal(f?.severity, 'warning');
      assert.match(f?.message ?? '', /one host of each instance only, the first host up of each \[\.\.\.\]/);
    }));

  it('takes rank declared with INTERVAL 0 as LIM does, as not declared', () =>
    withTree(async (t) => {
      edit(t.shared, /^( +rank +Numeric) 10 /m, '$1 0  ');
      const { findings } = await checkLsf(input(t));
      assert.equal(find(findings, /rank is declared with INTERVAL 0, not a whole number of seconds above 0: LIM ignores this line/)?.where, 'lsf.shared:20');
      assert.equal(find(findings, /rank is not declared in a Resource section/)?.severity, 'critical');
    }));

  it('takes a trigger mapped with no LOCATION as LIM does, as no mapping: the elim never starts', () =>
    withTree(async (t) => {
      edit(t.cluster, 'elimtrig ([default])', 'elimtrig ()');
      const { findings } = await checkLsf(input(t));
      assert.equal(find(findings, /elimtrig has no LOCATION/)?.severity, 'error');
      assert.equal(find(findings, /no dynamic resource is mapped/)?.severity, 'critical');
    }));

  it('does not warn of a resource mapped to some hosts when another is mapped [default], since the elim then starts on every host', () =>
    withTree(async (t) => {
      edit(t.cluster, 'elimtrig ([default])', 'elimtrig ([default])\nrankinc ([all])');
      const { findings } = await checkLsf(input(t));
      assert.equal(find(findings, /rankinc is mapped/), undefined, findings.map((f) => f.message).join('\n'));
    }));

  it('finds an ELIMARGS in single quotes too, and reads --config=PATH as --config PATH', () =>
    withTree(async (t) => {
      const base = readFileSync(t.cluster, 'utf8');
      writeFileSync(t.cluster, `${base}\nBegin Parameters\nELIMARGS = '--config /etc/lavarank/site.yaml'\nEnd Parameters\n`);
      assert.equal(find((await checkLsf(input(t))).findings, /ELIMARGS is quoted/)?.severity, 'critical');
      writeFileSync(t.cluster, `${base}\nBegin Parameters\nELIMARGS = --config=/etc/lavarank/site.yaml\nEnd Parameters\n`);
      assert.match(find((await checkLsf(input(t))).findings, /ELIMARGS gives the elim --config/)?.message ?? '', /--config \/etc\/lavarank\/site\.yaml, but this check read built-in defaults/);
    }));

  // The elim refuses a command line with an unknown option, an option given twice with
  // two values (since 2026-12-05), or --help under LIM: it exits at every start. check
  // said nothing of them, or warned only of the last --config, and exited 0.
  it('finds an ELIMARGS the elim refuses: --config given twice with two values, an unknown option, --help', () =>
    withTree(async (t) => {
      const base = readFileSync(t.cluster, 'utf8');
      const refused = async (args: string): Promise<Finding | undefined> => {
        writeFileSync(t.cluster, `${base}\nBegin Parameters\nELIMARGS = ${args}\nEnd Parameters\n`);
        return find((await checkLsf(input(t, { configPath: '/etc/lavarank/site.yaml' }))).findings, /ELIMARGS gives the elim (a command line it refuses|--help)/);
      };
      const twice = await refused('--config /etc/lavarank/old.yaml --config /etc/lavarank/site.yaml');
      assert.equal(twice?.severity, 'critical');
      assert.match(twice?.message ?? '', /--config: given twice, "\/etc\/lavarank\/old\.yaml" then "\/etc\/lavarank\/site\.yaml"/);
      assert.equal((await refused('--confg /etc/lavarank/site.yaml'))?.severity, 'critical');
      assert.equal((await refused('--config /etc/lavarank/site.yaml --help'))?.severity, 'critical');
      assert.equal(await refused('--config /etc/lavarank/site.yaml --config /etc/lavarank/site.yaml'), undefined, 'the same value twice is taken');
      assert.equal(await refused('--config=/etc/lavarank/site.yaml --no-history'), undefined);
    }));

  // run refuses a --test-interval out of 0.05..3600 s (exit 2, "cannot start: invalid
  // command line") after parsing: check passed ELIMARGS = --test-interval 5s in silence.
  it('finds an ELIMARGS --test-interval the elim refuses, and passes one it takes', () =>
    withTree(async (t) => {
      const base = readFileSync(t.cluster, 'utf8');
      const refused = async (args: string): Promise<Finding | undefined> => {
        writeFileSync(t.cluster, `${base}\nBegin Parameters\nELIMARGS = ${args}\nEnd Parameters\n`);
        return find((await checkLsf(input(t))).findings, /ELIMARGS gives the elim a command line it refuses/);
      };
      const unit = await refused('--test-interval 5s');
      assert.equal(unit?.severity, 'critical');
      assert.match(unit?.message ?? '', /expected seconds from 0\.05 to 3600, received "5s"/);
      assert.equal((await refused('--test-interval 0'))?.severity, 'critical');
      assert.equal(await refused('--test-interval 5'), undefined);
    }));

  // Checked on OpenLava 4.0 (2026-12-05): LIM ran "elim run --no-history" for each of
  // ELIMARGS = (--no-history), the second of ELIMARGS = --bogus / ELIMARGS = --no-history,
  // and "elim run" for ELIMARGS = -, where check called each critical.
  it('reads ELIMARGS as LIM does: its parentheses dropped, "-" as no options, the last line of several, none from a section LIM skips', () =>
    withTree(async (t) => {
      const base = readFileSync(t.cluster, 'utf8');
      const check = async (section: string): Promise<{ findings: readonly Finding[]; effective: readonly string[] }> => {
        writeFileSync(t.cluster, `${base}\nBegin Parameters\n${section}End Parameters\n`);
        return checkLsf(input(t));
      };
      const refused = /ELIMARGS gives the elim (a command line it refuses|--help)|ELIMARGS is quoted/;
      for (const section of ['ELIMARGS = (--no-history)\n', 'ELIMARGS = -\n', 'ELIMARGS = --bogus\nELIMARGS = --no-history\n']) {
        const { findings } = await check(section);
        assert.equal(find(findings, refused), undefined, `${section}: ${findings.map((f) => f.message).join('\n')}`);
      }
      const parens = await check('ELIMARGS = (--config /etc/lavarank/site.yaml)\n');
      assert.ok(parens.effective.some((l) => l.startsWith('ELIMARGS: --config /etc/lavarank/site.yaml (')), parens.effective.join('\n'));
      assert.match(find(parens.findings, /ELIMARGS gives the elim --config/)?.message ?? '', /--config \/etc\/lavarank\/site\.yaml, but this check read/);
      assert.equal(find((await check('ELIMARGS = --no-history\nELIMARGS = --bogus\n')).findings, refused)?.severity, 'critical');
      // a first line without "=": LIM skips the section ("vertical section not supported")
      assert.equal(find((await check('ELIMARGS\nELIMARGS = --bogus\n')).findings, refused), undefined);
    }));

  // readHvalues (lsf/lib/lib.confmisc.c, OpenLava 4.0) cuts the line's first word at its
  // "=" for the key and takes the value after the line's first "=", wherever it is:
  // "ELIMARGS --config=/x" gives the elim "/x", which it refuses, while check saw no ELIMARGS.
  it('reads an ELIMARGS line with no "=" after the key as LIM does: the value starts after the first "=" on the line', () =>
    withTree(async (t) => {
      const base = readFileSync(t.cluster, 'utf8');
      writeFileSync(t.cluster, `${base}\nBegin Parameters\nelimargs --config=/etc/lavarank/site.yaml\nEnd Parameters\n`);
      const { findings, effective } = await checkLsf(input(t));
      assert.ok(effective.includes('ELIMARGS: /etc/lavarank/site.yaml (lsf.cluster.openlava:18)'), effective.join('\n'));
      assert.equal(find(findings, /ELIMARGS gives the elim a command line it refuses/)?.severity, 'critical');
    }));

  // parseCommandArgs (lsf/intlib/misc.c, OpenLava 4.0) falls behind by one character
  // for each blank after the first of a run and never ends the last argument there:
  // ELIMARGS = --config /etc/lavarank/site.yaml \ + an indented --no-history gave the
  // elim "--no-historystory" (refused: exit 2 at every start) while check said nothing.
  it('finds an ELIMARGS whose blanks in a row make LIM repeat the end of its last argument, as a continuation line does', () =>
    withTree(async (t) => {
      const base = readFileSync(t.cluster, 'utf8');
      const check = async (section: string): Promise<Finding | undefined> => {
        writeFileSync(t.cluster, `${base}\nBegin Parameters\n${section}End Parameters\n`);
        return find((await checkLsf(input(t, { configPath: '/etc/lavarank/site.yaml' }))).findings, /ELIMARGS has blanks in a row/);
      };
      const continued = await check('ELIMARGS = --config /etc/lavarank/site.yaml \\\n    --no-history\n');
      assert.equal(continued?.severity, 'critical');
      assert.match(continued?.message ?? '', /the elim gets \["--config","\/etc\/lavarank\/site\.yaml","--no-historystory"\]/);
      assert.match((await check('ELIMARGS = --config  /etc/lavarank/site.yaml\n'))?.message ?? '', /"\/etc\/lavarank\/site\.yamll"/);
      assert.match((await check('ELIMARGS = (--no-history )\n'))?.message ?? '', /\["--no-history",""\]/);
      assert.equal(await check('ELIMARGS =\t--config\t/etc/lavarank/site.yaml\t# the site\'s\r\n'), undefined, 'a tab alone is one blank');
      assert.equal(await check('ELIMARGS = --config /etc/lavarank/site.yaml\\\n--no-history\n'), undefined, 'a continuation with no blank before its "\\"');
    }));

  it('finds a reservation bsub refuses (a negative D) and a duration other than recommend\'s', () =>
    withTree(async (t) => {
      edit(t.queues, 'RES_REQ      = order[rank]', 'RES_REQ      = order[rank] rusage[rank=-6:duration=45s:decay=1]');
      assert.equal(find((await checkLsf(input(t))).findings, /bsub refuses this rusage/)?.severity, 'error');
      edit(t.queues, 'rank=-6:duration=45s', 'rank=6:duration=90s');
      const f = find((await checkLsf(input(t))).findings, /reserves rank=6 for duration=90s/);
      assert.equal(f?.severity, 'warning');
    }));

  it('refuses a child elim that reaches the installed elim through a link', () =>
    withTree(async (t) => {
      const elim = installWrapper(t);
      const link = join(t.root, 'site-elim');
      symlinkSync(elim, link);
      assert.equal(find((await checkLsf(input(t, { childElims: [link] }))).findings, /is the installed elim itself/)?.severity, 'error');
    }));

  it('warns of a default queue (lsb.params DEFAULT_QUEUE) that reserves no rank, and not of one that does', () =>
    withTree(async (t) => {
      writeFileSync(join(t.queues, '..', 'lsb.params'), 'Begin Parameters\nDEFAULT_QUEUE = normal\nEnd Parameters\n');
      assert.equal(find((await checkLsf(input(t))).findings, /the default queue normal \(lsb.params DEFAULT_QUEUE\) reserves no rank/)?.severity, 'warning');
      edit(t.queues, 'RES_REQ      = order[rank]', 'RES_REQ      = order[rank] rusage[rank=6:duration=45s:decay=1]');
      assert.equal(find((await checkLsf(input(t))).findings, /the default queue normal/), undefined);
    }));

  // mbd.init.c: without a DEFAULT_QUEUE naming a queue lsb.queues defines, mbatchd
  // sends jobs without -q to the queue named default; check looked at DEFAULT_QUEUE only.
  it('warns of the queue named default when no DEFAULT_QUEUE names a defined queue, since mbatchd then sends jobs without -q there', () =>
    withTree(async (t) => {
      writeFileSync(join(t.queues, '..', 'lsb.params'), 'Begin Parameters\nDEFAULT_QUEUE = nosuch\nEnd Parameters\n');
      edit(t.queues, 'QUEUE_NAME   = plain', 'QUEUE_NAME   = default');
      const f = find((await checkLsf(input(t))).findings, /the default queue default \(where mbatchd sends jobs without -q when no DEFAULT_QUEUE names a queue\) reserves no rank/);
      assert.equal(f?.severity, 'warning');
    }));

  it('checks the cluster lsf.shared names, even beside the lsf.cluster file of another', () =>
    withTree(async (t) => {
      writeFileSync(join(t.etc, 'lsf.cluster.other'), 'Begin ClusterAdmins\nAdministrators = root\nEnd ClusterAdmins\n');
      const { effective, findings } = await checkLsf(input(t));
      assert.ok(effective.includes("cluster: openlava (lsf.shared's Cluster section)"), effective.join('\n'));
      assert.equal(find(findings, /cannot tell which cluster/), undefined);
    }));

  // doclist and addCluster (lsf/lim/lim.conf.c): LIM takes the first cluster listed and
  // ignores the others; "lim -C" with only the second's file there stopped with "cannot
  // open .../lsf.cluster.first". check checked the second's file and passed.
  it("checks the first cluster lsf.shared lists, which OpenLava's LIM takes, and warns that the others are ignored", () =>
    withTree(async (t) => {
      edit(t.shared, 'openlava\nEnd Cluster', 'first\nopenlava\nEnd Cluster');
      const { effective, findings } = await checkLsf(input(t));
      assert.ok(effective.includes("cluster: first (the first cluster of lsf.shared's Cluster section, the one OpenLava's LIM takes)"), effective.join('\n'));
      assert.equal(find(findings, /lsf\.cluster\.first cannot be read; LIM reads the ResourceMap there, and does not start without it/)?.severity, 'critical');
      assert.equal(find(findings, /^lsf\.shared lists 2 clusters \(first, openlava\): OpenLava's LIM takes the first, first, and ignores openlava/)?.severity, 'warning');
      const named = await checkLsf(input(t, { cluster: 'openlava' }));
      assert.equal(find(named.findings, /OpenLava's LIM reads lsf\.cluster\.first, the first cluster lsf\.shared lists, not lsf\.cluster\.openlava \(--cluster\)/)?.severity, 'warning');
    }));

  it('checks the one cluster of several lsf.shared lists whose lsf.cluster file is there, also when its name has dots', () =>
    withTree(async (t) => {
      edit(t.shared, 'openlava\nEnd Cluster', 'hpc.prod-1\nother\nEnd Cluster');
      renameSync(t.cluster, join(t.etc, 'lsf.cluster.hpc.prod-1'));
      const { effective, findings } = await checkLsf(input(t, { queues: t.queues }));
      assert.equal(find(findings, /cannot tell which cluster/), undefined, findings.map((f) => f.message).join('\n'));
      assert.ok(effective.includes('ResourceMap: elimtrig ([default]) (lsf.cluster.hpc.prod-1:14)'), effective.join('\n'));
    }));

  it('finds a wrapper whose Node is older than lavarank needs', () =>
    withTree(async (t) => {
      const old = join(t.root, 'node18');
      writeFileSync(old, '#!/bin/sh\necho v18.19.0\n', { mode: 0o755 });
      installWrapper(t, old);
      assert.match(find((await checkLsf(input(t))).findings, /Node v18\.19\.0; lavarank needs Node 20\.5 or later/)?.severity ?? '', /^critical$/);
    }));

  it('names a wrapper another version of lavarank install wrote', () =>
    withTree(async (t) => {
      const elim = installWrapper(t);
      writeFileSync(elim, readFileSync(elim, 'utf8').replace('unset NODE_OPTIONS', '# an older layout\nunset NODE_OPTIONS'), { mode: 0o755 });
      assert.equal(find((await checkLsf(input(t))).findings, /written by another version of lavarank install/)?.severity, 'warning');
    }));
});
