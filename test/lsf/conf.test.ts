import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { ConfigError } from '../../src/util/errors.js';
import { parseResReq } from '../../src/lsf/res-req.js';
import {
  BLOCK_BEGIN,
  BLOCK_END,
  clusterNames,
  textResources,
  defaultQueues,
  hasDefaultQueueReservation,
  mergeDefaultQueueReservation,
  mergeQueues,
  mergeResourceMap,
  mergeResources,
  parseSections,
  removeBlocks,
  splitValues,
  unifiedDiff,
  valueText,
} from '../../src/lsf/conf.js';

const REPO = fileURLToPath(new URL('../../../', import.meta.url));
const snippet = (name: string): string => readFileSync(join(REPO, 'openlava-conf', name), 'utf8');
const sample = (dir: string, name: string): string => readFileSync(join(REPO, 'test', 'fixtures', 'cluster', dir, name), 'utf8');
const SHARED = snippet('lsf.shared');
const MAP = snippet('lsf.cluster');
const QUEUE = snippet('lsb.queues');

function resources(text: string): ReturnType<typeof mergeResources> {
  return mergeResources(text, 'lsf.shared', SHARED, 'openlava-conf/lsf.shared', 'rank');
}

test('the shipped snippets declare what the contract asks for', () => {
  const [resource] = parseSections(SHARED, 'lsf.shared', 'lim');
  const rows = resource?.rows.map((r) => r.values.map(valueText)) ?? [];
  assert.deepEqual(rows.map((r) => r.slice(0, 4)), [
    ['rank', 'Numeric', '10', 'Y'],
    ['elimtrig', 'Numeric', '60', 'Y'],
    ['rank_cpu', 'Numeric', '10', 'Y'],
    ['rank_mem', 'Numeric', '10', 'Y'],
    ['rank_io', 'Numeric', '10', 'Y'],
  ]);
  assert.match(rows[0]?.[4] ?? '', /slowdown of a new job in percent, 0 idle, 1000 max/);
  for (const row of rows) assert.ok((row[4] ?? '').length < 256, 'OpenLava keeps 256 bytes of a DESCRIPTION');
  const [map] = parseSections(MAP, 'lsf.cluster', 'lim');
  assert.deepEqual(map?.rows.map((r) => r.values), [['elimtrig', '([default])']]);
  assert.match(QUEUE, /^RES_REQ += order\[rank\] rusage\[rank=\d+:duration=45s:decay=1\]$/m);
  assert.match(QUEUE, /^# D and T: see "lavarank recommend"$/m);
  for (const text of [SHARED, MAP, QUEUE]) {
    for (const line of text.split('\n').filter((l) => !l.startsWith('#'))) {
      assert.doesNotMatch(line, /#/, `no "#" inside a configuration line: ${line}`);
    }
  }
});

test('values: words, (...) as one value, - and () empty', () => {
  assert.deepEqual(splitValues('rank Numeric 10 Y (a b c)'), ['rank', 'Numeric', '10', 'Y', '(a b c)']);
  assert.deepEqual(splitValues('elimtrig ([default])'), ['elimtrig', '([default])']);
  assert.equal(valueText('(a b)'), 'a b');
  assert.equal(valueText('()'), '');
  assert.equal(valueText('-'), '');
});

test('comments start at # outside double quotes (for mbatchd, at any #) and a trailing backslash joins lines', () => {
  const text = 'Begin Queue\nQUEUE_NAME = q # the name\nDESCRIPTION = "a # b" \\\n  more\nEnd Queue\n';
  const rows = (reader: 'lim' | 'mbatchd'): Array<[number, number, string]> =>
    (parseSections(text, 'lsb.queues', reader)[0]?.rows ?? []).map((r) => [r.first, r.last, r.values.join(' ')]);
  assert.deepEqual(rows('lim'), [[1, 1, 'QUEUE_NAME = q'], [2, 3, 'DESCRIPTION = "a # b" more']]);
  // the quoted "#" takes the "\" into its comment: no join
  assert.deepEqual(rows('mbatchd'), [[1, 1, 'QUEUE_NAME = q'], [2, 2, 'DESCRIPTION = "a'], [3, 3, 'more']]);
});

// OpenLava 4.0, lsf/lib/lib.words.c, getNextLineD_ (LIM's reader of lsf.shared and
// lsf.cluster): a "\" joins only when the newline follows it at once.
const RESOURCE_HEAD = 'Begin Resource\nRESOURCENAME TYPE INTERVAL INCREASING DESCRIPTION\n';
const rowsOf = (text: string, reader: 'lim' | 'mbatchd'): Array<[number, number, string]> =>
  (parseSections(text, 'lsf.shared', reader)[0]?.rows ?? []).map((r) => [r.first, r.last, r.values.join(' ')]);

test('as LIM reads lsf.shared, a backslash right before the newline joins the next line, in place of a blank', () => {
  assert.deepEqual(rowsOf(`${RESOURCE_HEAD}fs Boolean () () \\\n(File server)\nEnd Resource\n`, 'lim'), [[2, 3, 'fs Boolean () () (File server)']]);
  assert.deepEqual(rowsOf(`${RESOURCE_HEAD}fs Boolean () ()\\\n(File server)\nEnd Resource\n`, 'lim'), [[2, 3, 'fs Boolean () () (File server)']]);
});

test('as LIM reads lsf.shared, a backslash before blanks or a CR does not join: it is dropped and the line ends', () => {
  for (const [what, end] of [['blanks', ' \t '], ['a CR (a CRLF file)', '\r']]) {
    const text = `${RESOURCE_HEAD}fs Boolean () () \\${end}\nrank Numeric 10 N (old)\nEnd Resource\n`;
    assert.deepEqual(rowsOf(text, 'lim'), [[2, 2, 'fs Boolean () ()'], [3, 3, 'rank Numeric 10 N (old)']], what);
    assert.deepEqual(rowsOf(toCrlf(text), 'lim'), [[2, 2, 'fs Boolean () ()'], [3, 3, 'rank Numeric 10 N (old)']], `${what}, CRLF`);
  }
});

test('as LIM reads it, a backslash before any other character stays, and quotes that character: two backslashes do not join', () => {
  assert.deepEqual(rowsOf(`${RESOURCE_HEAD}fs Boolean () () (a\\#b) \\\\\nrank Numeric 10 N (old)\nEnd Resource\n`, 'lim'), [
    [2, 2, 'fs Boolean () () (a\\#b) \\\\'],
    [3, 3, 'rank Numeric 10 N (old)'],
  ]);
});

test('as mbatchd reads lsb.queues, a backslash before blanks or a CR still joins: ls_getconf trims them first', () => {
  // lsf/lib/lib.wconf.c: ls_getconf stores each line without its trailing blanks (a CR
  // is one), then getNextLineC_conf joins a line that ends in "\".
  for (const end of [' \t ', '\r']) {
    const text = `Begin Queue\nQUEUE_NAME = q\nRES_REQ = order[rank] \\${end}\n  rusage[rank=8:duration=45s:decay=1]\nEnd Queue\n`;
    const [queue] = parseSections(text, 'lsb.queues', 'mbatchd');
    assert.deepEqual(queue?.rows.map((r) => [r.first, r.last]), [[1, 1], [2, 3]], JSON.stringify(end));
  }
});

test('a site\'s rank declared INCREASING N after a line ending in a backslash and blanks or a CR is found and replaced, as LIM would read it', () => {
  for (const end of [' ', '\r']) {
    for (const crlf of [false, true]) {
      const lf = `${RESOURCE_HEAD}fs Boolean () () (File server) \\${end}\nrank Numeric 10 N (old)\nEnd Resource\n`;
      const text = crlf ? toCrlf(lf) : lf;
      const r = resources(text);
      assert.match(r.warnings.join('\n'), /line 4 declared rank with INCREASING N/, `${JSON.stringify(end)}, CRLF ${crlf}`);
      assert.match(r.text, new RegExp(`^#lavarank-was: rank Numeric 10 N \\(old\\)${crlf ? '\r' : ''}$`, 'm'));
      assert.equal(removeBlocks(r.text, 'lsf.shared'), text);
    }
  }
});

test('a section without End is an error naming the file and line', () => {
  assert.throws(() => parseSections('x\nBegin Resource\nRESOURCENAME\n', 'lsf.shared', 'lim'), /lsf\.shared line 2: section "Begin Resource" has no End line/);
});

test('rows are laid out under the site\'s own header, in its column order, with () for columns lavarank does not set', () => {
  const text = 'Begin Resource\nRESOURCENAME  INCREASING  TYPE     RELEASE  INTERVAL  DESCRIPTION\nfoo           ()          Boolean  ()       ()        (x)\nEnd Resource\n';
  const { text: merged } = resources(text);
  const [section] = parseSections(merged, 'lsf.shared', 'lim');
  const rank = section?.rows.find((r) => r.values[0] === 'rank');
  assert.deepEqual(rank?.values.slice(0, 5), ['rank', 'Y', 'Numeric', '()', '10']);
  // Each value starts where its column's keyword starts, as the site's own rows do.
  assert.match(merged, /^rank {10}Y {11}Numeric  \(\) {7}10 {8}\(lavarank: /m);
});

test('a Resource header without INCREASING cannot hold rank and is refused', () => {
  assert.throws(() => resources('Begin Resource\nRESOURCENAME TYPE INTERVAL DESCRIPTION\nEnd Resource\n'), /no INCREASING column/);
});

test('a static rank is refused', () => {
  const text = 'Begin Resource\nRESOURCENAME TYPE INTERVAL INCREASING DESCRIPTION\nrank Numeric () Y (static)\nEnd Resource\n';
  assert.throws(() => resources(text), (err: unknown) => err instanceof ConfigError && /without an INTERVAL/.test(err.message));
});

test('a rank of INTERVAL 0, a line LIM ignores, is refused rather than taken as declared', () => {
  const text = 'Begin Resource\nRESOURCENAME TYPE INTERVAL INCREASING DESCRIPTION\nrank Numeric 0 Y (never)\nEnd Resource\n';
  assert.throws(() => resources(text), (err: unknown) => err instanceof ConfigError && /declares rank with INTERVAL 0, not a whole number of seconds above 0, so LIM ignores that line/.test(err.message));
});

test('rank already declared the right way is left alone and noted', () => {
  const text = 'Begin Resource\nRESOURCENAME TYPE INTERVAL INCREASING DESCRIPTION\nrank numeric 15 y (mine)\nEnd Resource\n';
  const r = resources(text);
  assert.equal(r.warnings.length, 0);
  assert.match(r.notes.join('\n'), /line 3 already declares rank/);
  assert.match(r.text, /^rank numeric 15 y \(mine\)$/m);
  assert.match(r.text, /^elimtrig /m);
});

test('a rank line with fewer values than the header, which LIM ignores, does not count as declared: lavarank\'s line is added, with a note', () => {
  const text = 'Begin Resource\nRESOURCENAME TYPE INTERVAL INCREASING DESCRIPTION\nrank Numeric 10 Y\nEnd Resource\n';
  const r = resources(text);
  assert.match(r.text, /^rank Numeric 10 Y$/m);
  assert.match(r.text, /^rank +Numeric +10 +Y +\(lavarank: predicted slowdown/m);
  assert.match(r.notes.join('\n'), /line 3 names rank with 4 values under a header of 5 keywords; LIM ignores such a line/);
  assert.equal(removeBlocks(r.text, 'lsf.shared'), text);
});

test('a rank line whose DESCRIPTION holds a "#", which LIM cuts there and then ignores, does not count as declared', () => {
  const text = 'Begin Resource\nRESOURCENAME TYPE INTERVAL INCREASING DESCRIPTION\nrank Numeric 10 Y (rank #1)\nEnd Resource\n';
  const r = resources(text);
  assert.match(r.text, /^rank +Numeric +10 +Y +\(lavarank: predicted slowdown/m);
  assert.match(r.notes.join('\n'), /line 3 names rank .*; LIM ignores such a line/);
});

// doresources (lsf/lim/lim.conf.c) ignores a Numeric line whose INCREASING is not Y or
// N, or whose RELEASE is not: the merge took such an elimtrig as declared and added
// nothing, so LIM had no trigger and never started the elim.
test('a trigger line LIM ignores for its INCREASING or RELEASE does not count as declared: lavarank\'s line is added, with a note', () => {
  for (const [row, why] of [
    ['elimtrig Numeric 60 X () (site)', 'INCREASING X, not Y or N'],
    ['elimtrig Numeric 60 Y maybe (site)', 'RELEASE maybe, not Y or N'],
    ['elimtrig Boolean () () Y (site)', 'RELEASE Y, which only a Numeric resource may have'],
  ]) {
    const text = `Begin Resource\nRESOURCENAME TYPE INTERVAL INCREASING RELEASE DESCRIPTION\n${row}\nEnd Resource\n`;
    const r = resources(text);
    assert.match(r.notes.join('\n'), new RegExp(`line 3 declares elimtrig with ${why}; LIM ignores such a line`), row);
    assert.match(r.text, /^elimtrig +Numeric +60 +Y /m, row);
    assert.equal(removeBlocks(r.text, 'lsf.shared'), text);
  }
});

test('a file without a Resource section, or without a final newline, gets a whole section and is restored exactly', () => {
  for (const text of ['Begin Cluster\nClusterName\nc1\nEnd Cluster\n', 'Begin Cluster\nClusterName\nc1\nEnd Cluster', '']) {
    const r = resources(text);
    assert.match(r.text, /^Begin Resource\nRESOURCENAME +TYPE +INTERVAL +INCREASING +DESCRIPTION\nrank /m);
    assert.equal(removeBlocks(r.text, 'f'), text);
    assert.equal(resources(r.text).text, r.text);
  }
});

test('merging is idempotent and removing the blocks restores the input, whatever the mix of sample lines', () => {
  const sharedLines = [
    'Begin Resource',
    'RESOURCENAME  TYPE    INTERVAL INCREASING  DESCRIPTION',
    '   fs         Boolean ()       ()          (File server)',
    '   rank       Numeric 10       N           (old)',
    '   elimtrig   Numeric 60       N           (old trigger)',
    '# a comment',
    '',
    'End Resource',
  ];
  const mapLines = ['Begin ResourceMap', 'RESOURCENAME  LOCATION', 'rank ([default])', 'elimtrig [default]', 'scratch [default]', 'End ResourceMap'];
  const pick = (lines: string[]) =>
    fc.subarray(lines.slice(2, -1)).map((middle) => [lines[0], lines[1], ...middle, lines.at(-1)].join('\n') + '\n');
  fc.assert(
    fc.property(pick(sharedLines), pick(mapLines), fc.constantFrom('', 'Begin Cluster\nClusterName\nc\nEnd Cluster\n'), (shared, map, prefix) => {
      const s = resources(prefix + shared);
      assert.equal(resources(s.text).text, s.text);
      assert.equal(removeBlocks(s.text, 'lsf.shared'), prefix + shared);
      assert.doesNotMatch(s.text, /^\s*rank\s+Numeric\s+10\s+N/m);
      const m = mergeResourceMap(prefix + map, 'lsf.cluster.c', MAP, 'o', ['rank']);
      assert.equal(mergeResourceMap(m.text, 'lsf.cluster.c', MAP, 'o', ['rank']).text, m.text);
      assert.equal(removeBlocks(m.text, 'lsf.cluster.c'), prefix + map);
      assert.doesNotMatch(m.text, /^rank/m);
      assert.match(m.text, /^elimtrig/m);
    }),
  );
});

test('a trigger the site mapped ([all]) is left as it is, with a note that the elim then runs on one host of the instance only', () => {
  const text = sample('fresh', 'lsf.cluster.openlava') + 'Begin ResourceMap\nRESOURCENAME  LOCATION\nelimtrig      ([all])\nEnd ResourceMap\n';
  const m = mergeResourceMap(text, 'lsf.cluster.c', MAP, 'o', ['rank']);
  assert.equal(m.text, text);
  assert.match(m.notes.join('\n'), /already maps elimtrig \(\[all\]\); left as it is\. .*one host of each instance of elimtrig only/);
});

test('a trigger the site mapped with no LOCATION, a line LIM ignores, gets lavarank\'s line added after it', () => {
  const text = sample('fresh', 'lsf.cluster.openlava') + 'Begin ResourceMap\nRESOURCENAME  LOCATION\nelimtrig      ()\nEnd ResourceMap\n';
  const m = mergeResourceMap(text, 'lsf.cluster.c', MAP, 'o', ['rank']);
  assert.match(m.text, /^elimtrig +\(\)\n# >>> lavarank.*\nelimtrig +\(\[default\]\)\n# <<< lavarank\nEnd ResourceMap/m);
  assert.equal(removeBlocks(m.text, 'lsf.cluster.c'), text);
});

test('the queue is appended once, with the D and T note, and a second merge changes nothing', () => {
  const text = sample('fresh', 'lsb.queues');
  const once = mergeQueues(text, 'lsb.queues', QUEUE, 'o').text;
  assert.equal(mergeQueues(once, 'lsb.queues', QUEUE, 'o').text, once);
  assert.equal((once.match(/^Begin Queue/gm) ?? []).length, 3);
  assert.ok(once.startsWith(text.trimEnd()));
  assert.equal(removeBlocks(once, 'lsb.queues'), text);
});

test('a setting an administrator changed or added inside the queue block is kept by a new merge, with a note, and merging again changes nothing', () => {
  const text = sample('fresh', 'lsb.queues');
  const once = mergeQueues(text, 'lsb.queues', QUEUE, 'o').text;
  const d = /rusage\[rank=(\d+):/.exec(once)![1]!;
  // docs/install.md: a larger D for 8-CPU hosts; and a setting of the site's own
  const edited = once.replace(`rusage[rank=${d}:`, 'rusage[rank=11:').replace('QUEUE_NAME   = rank\n', 'QUEUE_NAME   = rank\nUSERS        = all\n');
  const merged = mergeQueues(edited, 'lsb.queues', QUEUE, 'o');
  assert.equal(merged.text, edited);
  assert.equal(merged.notes.length, 2, merged.notes.join('\n'));
  assert.match(merged.notes[0]!, new RegExp(`RES_REQ = order\\[rank\\] rusage\\[rank=11:duration=45s:decay=1\\] .* is kept as it was changed \\(lavarank ships order\\[rank\\] rusage\\[rank=${d}:`));
  assert.match(merged.notes[1]!, /USERS = all, added to lavarank's rank queue, is kept/);
  assert.equal(mergeQueues(merged.text, 'lsb.queues', QUEUE, 'o').text, edited);
  // the line deleted inside the block: lavarank's value comes back
  const deleted = edited.replace(/^RES_REQ .*rank=11.*\n/m, '');
  assert.match(mergeQueues(deleted, 'lsb.queues', QUEUE, 'o').text, new RegExp(`rusage\\[rank=${d}:`));
  assert.equal(removeBlocks(merged.text, 'lsb.queues'), text);
});

const toCrlf = (text: string): string => text.replace(/\n/g, '\r\n');
const toLf = (text: string): string => text.replace(/\r\n/g, '\n');
// a line end that is not CRLF
const LF_ONLY = /(^|[^\r])\n/;
const mergeMap = (text: string): string => mergeResourceMap(text, 'lsf.cluster.openlava', MAP, 'o', ['rank']).text;
const mergeQueue = (text: string): string => mergeQueues(text, 'lsb.queues', QUEUE, 'o').text;

test('a CRLF lsf.shared, lsf.cluster and lsb.queues merge to CRLF lines only, as the LF merge otherwise, and are restored exactly', () => {
  const mappedRank = `${sample('fresh', 'lsf.cluster.openlava')}Begin ResourceMap\nRESOURCENAME  LOCATION\nrank          ([default])\nEnd ResourceMap\n`;
  const cases: Array<[string, string, (text: string) => string]> = [
    ['fresh lsf.shared', sample('fresh', 'lsf.shared'), (t) => resources(t).text],
    ['capture lsf.shared (rank INCREASING N replaced)', sample('capture', 'lsf.shared'), (t) => resources(t).text],
    ['fresh lsf.cluster (no ResourceMap)', sample('fresh', 'lsf.cluster.openlava'), mergeMap],
    ['lsf.cluster mapping rank (taken out)', mappedRank, mergeMap],
    ['lsb.queues', sample('fresh', 'lsb.queues'), mergeQueue],
  ];
  for (const [what, lf, merge] of cases) {
    const lfMerged = merge(lf);
    assert.notEqual(lfMerged, lf, what);
    assert.doesNotMatch(lfMerged, /\r/, `${what}: an LF file stays LF`);
    const crlf = toCrlf(lf);
    const merged = merge(crlf);
    assert.doesNotMatch(merged, LF_ONLY, what);
    assert.equal(toLf(merged), lfMerged, what);
    assert.equal(merge(merged), merged, `${what}: a second merge changes nothing`);
    assert.equal(removeBlocks(merged, what), crlf, what);
  }
});

test('a CRLF file without a final newline still ends without one after the merge, and is restored exactly', () => {
  const cases: Array<[string, (text: string) => string]> = [
    ['Begin Cluster\r\nClusterName\r\nc1\r\nEnd Cluster', (t) => resources(t).text],
    [toCrlf(sample('fresh', 'lsb.queues')).trimEnd(), mergeQueue],
  ];
  for (const [text, merge] of cases) {
    const merged = merge(text);
    assert.doesNotMatch(merged, LF_ONLY);
    assert.ok(merged.endsWith(BLOCK_END), merged.slice(-40));
    assert.equal(toLf(merged), merge(toLf(text)));
    assert.equal(merge(merged), merged);
    assert.equal(removeBlocks(merged, 'f'), text);
  }
});

test('removing a block from the middle of a CRLF file keeps a lone CR that ends its last line', () => {
  const text = `Begin Cluster\r\n${BLOCK_BEGIN}: x\r\nc1\r\n${BLOCK_END}\r\nEnd Cluster\r`;
  assert.equal(removeBlocks(text, 'f'), 'Begin Cluster\r\nEnd Cluster\r');
});

test('in a file of mixed line ends the majority decides, a tie is LF, and lines lavarank did not write keep theirs', () => {
  const mostlyCrlf = 'Begin Cluster\r\nClusterName\nc1\r\nEnd Cluster\r\n';
  const merged = resources(mostlyCrlf).text;
  assert.equal(merged.match(LF_ONLY)?.[0], 'e\n', 'only the ClusterName line ends in LF');
  assert.equal(merged.split('\n').length - merged.split('\r\n').length, 1, 'lines lavarank added end in CRLF');
  assert.equal(removeBlocks(merged, 'f'), mostlyCrlf);
  const tie = 'Begin Cluster\r\nClusterName\nc1\r\nEnd Cluster\n';
  const tieMerged = resources(tie).text;
  assert.equal((tieMerged.match(/\r/g) ?? []).length, 2);
  assert.equal(removeBlocks(tieMerged, 'f'), tie);
});

test('markers that do not pair up are errors naming the line', () => {
  assert.throws(() => removeBlocks(`a\n${BLOCK_BEGIN}\nb\n`, 'f'), /f line 2: a lavarank block never ends/);
  assert.throws(() => removeBlocks(`${BLOCK_BEGIN}\nb\n`, 'f'), /f line 1: a lavarank block never ends/);
  assert.throws(() => removeBlocks(`a\n${BLOCK_END}\n`, 'f'), /f line 2: a lavarank block ends that never started/);
  assert.throws(() => removeBlocks(`${BLOCK_BEGIN}\n${BLOCK_BEGIN}\n${BLOCK_END}\n`, 'f'), /f line 2: a lavarank block starts inside/);
});

test('cluster names come from the Cluster section', () => {
  assert.deepEqual(clusterNames(sample('capture', 'lsf.shared'), 'lsf.shared'), ['openlava']);
  assert.deepEqual(clusterNames('Begin Cluster\nClusterName Servers\na (h1)\nb (h2)\nEnd Cluster\n', 'x'), ['a', 'b']);
});

test('the diff is unified, with three lines of context and correct ranges', () => {
  const a = ['1', '2', '3', '4', '5', '6', '7', '8', '9', '10', ''].join('\n');
  const b = ['1', '2', '3', '4', 'five', '6', '7', '8', '9', '10', 'eleven', ''].join('\n');
  assert.equal(
    unifiedDiff(a, b, 'a', 'b'),
    ['--- a', '+++ b', '@@ -2,10 +2,11 @@', ' 2', ' 3', ' 4', '-5', '+five', ' 6', ' 7', ' 8', ' 9', ' 10', '+eleven', ' '].join('\n'),
  );
  assert.equal(unifiedDiff(a, a, 'a', 'b'), '');
  const far = unifiedDiff(['x', ...Array(20).fill('='), 'y'].join('\n'), ['X', ...Array(20).fill('='), 'Y'].join('\n'), 'a', 'b');
  assert.equal((far.match(/^@@/gm) ?? []).length, 2);
  assert.match(far, /^@@ -1,4 \+1,4 @@$/m);
  assert.match(far, /^@@ -19,4 \+19,4 @@$/m);
});

test('a default queue with its own RES_REQ gets a note exactly when that RES_REQ reserves no rank, as check judges it', () => {
  const reserving = ['rusage[rank=3:duration=1]', 'order[rank] rusage[mem=100:rank=2]', '"rusage[rank=2]"'];
  const not = ['order[rank] rusage[mem=100]', 'rusage[myrank=2]', 'select[rank=1] rusage[mem=1]', 'order[rank]'];
  for (const value of [...reserving, ...not]) {
    const text = `Begin Queue\nQUEUE_NAME = normal\nRES_REQ = ${value}\nEnd Queue\n`;
    const { notes } = mergeDefaultQueueReservation(text, 'lsb.queues', ['normal'], 'rusage[rank=2:duration=45s:decay=1]', 'openlava-conf/lsb.queues');
    assert.equal(notes.length, not.includes(value) ? 1 : 0, value);
    assert.equal(parseResReq(value).rusage.has('rank'), reserving.includes(value), value);
  }
});

test('a value exactly as wide as the gap to the next column is still followed by a blank, so LIM reads the row as written', () => {
  // TYPE starts at 13 and INTERVAL at 20: "Numeric" fills the gap to the last column
  const text = 'Begin Resource\nRESOURCENAME TYPE   INTERVAL INCREASING DESCRIPTION\nEnd Resource\n';
  const { text: merged } = resources(text);
  const [section] = parseSections(merged, 'lsf.shared', 'lim');
  const rank = section?.rows.find((r) => r.values[0] === 'rank');
  assert.deepEqual(rank?.values.slice(0, 4), ['rank', 'Numeric', '10', 'Y']);
});

test('comment and blank lines between Begin Resource and its header are skipped, as LIM skips them', () => {
  const text = 'Begin Resource\n\n# the columns\nRESOURCENAME  TYPE    INTERVAL INCREASING  DESCRIPTION\n   fs         Boolean ()       ()          (File server)\nEnd Resource\n';
  const r = resources(text);
  assert.match(r.text, /^rank +Numeric +10 +Y /m);
  assert.equal(removeBlocks(r.text, 'lsf.shared'), text);
});

test('a site queue named rank is a conflict whatever the case of its QUEUE_NAME keyword', () => {
  for (const key of ['QUEUE_NAME', 'queue_name', 'Queue_Name']) {
    const text = `Begin Queue\n${key} = rank\nPRIORITY = 30\nEnd Queue\n`;
    assert.throws(() => mergeQueues(text, 'lsb.queues', QUEUE, 'o'), /lsb\.queues line 1 already defines a queue named rank/, key);
  }
});

test('lsb.params DEFAULT_QUEUE may list several queues, and each one is returned', () => {
  const text = 'Begin Parameters\nMBD_SLEEP_TIME = 10\nDEFAULT_QUEUE = normal   short\nEnd Parameters\n';
  assert.deepEqual(defaultQueues(text, 'lsb.params'), ['normal', 'short']);
  assert.deepEqual(defaultQueues('Begin Parameters\nMBD_SLEEP_TIME = 10\nEnd Parameters\n', 'lsb.params'), []);
});

test('only a reservation block inside one of the default queues counts as an earlier --default-queue, not one left in a queue that is no longer the default', () => {
  const rusage = 'rusage[rank=2:duration=45s:decay=1]';
  const base = 'Begin Queue\nQUEUE_NAME = normal\nEnd Queue\n\nBegin Queue\nQUEUE_NAME = short\nEnd Queue\n';
  const merged = mergeDefaultQueueReservation(base, 'lsb.queues', ['normal'], rusage, 'o').text;
  assert.equal(hasDefaultQueueReservation(merged, 'lsb.queues', ['normal']), true);
  assert.equal(hasDefaultQueueReservation(merged, 'lsb.queues', ['short']), false);
  assert.equal(hasDefaultQueueReservation(base, 'lsb.queues', ['normal']), false);
});

test('cluster names are read from the CLUSTERNAME column wherever the header puts it', () => {
  assert.deepEqual(clusterNames('Begin Cluster\nServers  ClusterName\n(h1)  a\n(h2 h3)  b\nEnd Cluster\n', 'x'), ['a', 'b']);
});

test('textResources gives the String resources of lsf.shared as LIM reads them: any case, first declaration, rows it ignores left out', () => {
  const text = [
    'Begin Resource',
    'RESOURCENAME  TYPE     INTERVAL INCREASING  DESCRIPTION',
    '   os_state   String   60       ()          (OS state)',
    '   rank       Numeric  10       N           (A rank)',
    '   distro     string   ()       ()          (Distribution: static, still String)',
    '   os_state   Numeric  60       N           (declared again: ignored)',
    '   broken     String   60       ()',
    '   licenses   Numeric  30       N           (# a comment eats the rest: ignored',
    'End Resource',
    'begin resource',
    'RESOURCENAME TYPE INTERVAL INCREASING DESCRIPTION',
    'rack String 60 () (Rack)',
    'end resource',
  ].join('\n');
  assert.deepEqual([...textResources(text, 'lsf.shared')].sort(), ['distro', 'os_state', 'rack']);
  assert.deepEqual([...textResources(SHARED, 'openlava-conf/lsf.shared')], []);
});

// saveSBValue (lsf/lim/lim.rload.c) keeps the text of any dynamic resource that is not
// Numeric, and doresources makes one of TYPE Boolean or of none Boolean: mbatchd reads
// its text with atoi (booleanValue, lsftcl.c), and "-" when the elim has died. A child's
// "true" was dropped, and a dead child's 1 stayed in LIM for good.
test('textResources gives the dynamic Boolean resources too, of TYPE Boolean or none, and not a static one', () => {
  const text = [
    'Begin Resource',
    'RESOURCENAME  TYPE     INTERVAL INCREASING  DESCRIPTION',
    '   gpu_ok     Boolean  60       ()          (GPU healthy)',
    '   scratch    ()       30       ()          (No TYPE: Boolean)',
    '   fast       Boolean  ()       ()          (Static: from the host\'s RESOURCES)',
    '   late       BOOLEAN  0        ()          (An INTERVAL LIM refuses: ignored)',
    'End Resource',
  ].join('\n');
  assert.deepEqual([...textResources(text, 'lsf.shared')].sort(), ['gpu_ok', 'scratch']);
});

test('a merge from another release warns only of what it changes, not again of the rank line and the ResourceMap row an earlier merge replaced', () => {
  const shared = 'Begin Resource\nRESOURCENAME  TYPE    INTERVAL INCREASING  DESCRIPTION\n   rank       Numeric 10       N           (site)\nEnd Resource\n';
  const map = 'Begin ResourceMap\nRESOURCENAME  LOCATION\nrank ([default])\nEnd ResourceMap\n';
  const first = resources(shared);
  const firstMap = mergeResourceMap(map, 'lsf.cluster.c', MAP, 'old/lsf.cluster', ['rank']);
  assert.match(first.warnings.join('\n'), /declared rank with INCREASING N/);
  assert.match(firstMap.warnings.join('\n'), /maps rank in the ResourceMap/);
  // The new release's snippets are found under another path: every block's comment line changes.
  const upgraded = mergeResources(first.text, 'lsf.shared', SHARED, '/opt/lavarank-new/openlava-conf/lsf.shared', 'rank');
  const upgradedMap = mergeResourceMap(firstMap.text, 'lsf.cluster.c', MAP, 'new/lsf.cluster', ['rank']);
  assert.notEqual(upgraded.text, first.text);
  assert.notEqual(upgradedMap.text, firstMap.text);
  assert.deepEqual(upgraded.warnings, []);
  assert.deepEqual(upgradedMap.warnings, []);
  assert.equal(removeBlocks(upgraded.text, 'lsf.shared'), shared);
  assert.equal(removeBlocks(upgradedMap.text, 'lsf.cluster.c'), map);
});

// The merge reads the file with lavarank's blocks taken out, and gave that text's line
// numbers: a rank row re-added by hand below the first merge's block was named lower
// by the block's lines.
test('a ResourceMap row re-added by hand below an earlier merge\'s block is named by its line in the file, blocks included', () => {
  const map = 'Begin ResourceMap\nRESOURCENAME  LOCATION\nrank ([default])\nEnd ResourceMap\n';
  const merged = mergeResourceMap(map, 'lsf.cluster.c', MAP, 'old/lsf.cluster', ['rank']).text;
  const lines = merged.split('\n');
  const end = lines.findIndex((l) => /^End ResourceMap/.test(l));
  lines.splice(end, 0, 'rank ([default])');
  const again = mergeResourceMap(lines.join('\n'), 'lsf.cluster.c', MAP, 'old/lsf.cluster', ['rank']);
  assert.equal(again.warnings.length, 1, again.warnings.join('\n'));
  assert.match(again.warnings[0]!, new RegExp(`^lsf\\.cluster\\.c line ${end + 1} maps rank in the ResourceMap`));
  assert.equal(lines[end], 'rank ([default])');
});

// The merge reads the file with lavarank's blocks taken out: a section without End below
// an earlier merge's block was named by its line in that text, lower by the block's lines.
test('a section without End below an earlier merge\'s block is named by its line in the file, blocks included', () => {
  const queues = mergeQueues('Begin Queue\nQUEUE_NAME = normal\nEnd Queue\n', 'lsb.queues', QUEUE, 'q').text;
  const broken = `${queues}Begin Queue\nQUEUE_NAME = late\n`;
  const begin = broken.split('\n').indexOf('Begin Queue', queues.split('\n').length - 1) + 1; // 1-based
  assert.throws(() => mergeQueues(broken, 'lsb.queues', QUEUE, 'q'), new RegExp(`^ConfigError: lsb\\.queues line ${begin}: section "Begin Queue" has no End line`));
  const shared = resources(sample('fresh', 'lsf.shared')).text;
  const unended = `${shared}Begin HostType\nTYPENAME\n`;
  const at = unended.split('\n').length - 2; // the 1-based line of Begin HostType, the last but one
  assert.throws(() => resources(unended), new RegExp(`^ConfigError: lsf\\.shared line ${at}: section "Begin HostType" has no End line`));
});

// getNextLineC_conf (lsf/lib/lib.wconf.c), which mbatchd reads lsb.queues with, ends a line
// at its first "#", quoted or not; lavarank kept a quoted one's text, so a reservation an
// administrator had commented out inside the quotes still counted.
test('a "#" inside a quoted value of lsb.queues starts a comment, as mbatchd reads it', () => {
  const queues = 'Begin Queue\nQUEUE_NAME = normal\nRES_REQ = "order[rank] # rusage[rank=2:duration=45s:decay=1]"\nEnd Queue\n';
  const r = mergeDefaultQueueReservation(queues, 'lsb.queues', ['normal'], 'rusage[rank=2:duration=45s:decay=1]', 'q');
  assert.match(r.notes.join('\n'), /the default queue normal has its own RES_REQ \("order\[rank\]\), left as it is; add rusage\[rank=2/);
  assert.deepEqual(parseSections(queues, 'lsb.queues', 'mbatchd')[0]?.rows.map((row) => row.values.join(' ')), ['QUEUE_NAME = normal', 'RES_REQ = "order[rank]']);
});

// getNextLineC_conf drops a line from its first "#", so a line that starts with one is
// no line at all: an administrator's RES_REQ commented out is not a RES_REQ.
test('a line of lsb.queues that starts with "#" is a comment, as mbatchd reads it, not a setting', () => {
  const queues = 'Begin Queue\nQUEUE_NAME = normal\n#RES_REQ = "rusage[rank=2:duration=45s:decay=1]"\nEnd Queue\n';
  assert.deepEqual(parseSections(queues, 'lsb.queues', 'mbatchd')[0]?.rows.map((row) => row.values.join(' ')), ['QUEUE_NAME = normal']);
});
