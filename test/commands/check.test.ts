import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, chownSync, mkdirSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { dirname, join } from 'node:path';
import { describe, it } from 'node:test';
import { autogroupNote, bySeverity, checkConfig, checkEnvironment, checkGpu, checkHistory, checkHost, checkLog, checkMetrics, checkOpenLava, checkReport, expectedReservation, formatFinding, jobCpusNote, logChoice, networkNote, pressureNote, pressureNoteFor, smtNote } from '../../src/commands/check.js';
import { defaultConfig, type Config } from '../../src/config/config.js';
import { setupLoggingAsync } from '../../src/daemon/log.js';
import { loadModelAsync } from '../../src/model/model.js';
import { modelPathFor } from '../../src/model/rankers.js';
import { recommendForCpus } from '../../src/commands/recommend.js';
import { cliPath, dirWithMode, fixture, mkfifo, tempDir, testDir, writeWithMode } from '../helpers.js';
import { jobCpuSet } from '../../src/commands/jobcpus.js';
import { lsfTree, type LsfTree } from '../helpers/lsf-tree.js';
import { userLoadsBuild } from '../e2e/harness.js';

function lavarank(args: string[], env: NodeJS.ProcessEnv = {}): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [cliPath, ...args], { encoding: 'utf8', env: { PATH: process.env['PATH'] ?? '', ...env } });
  return { status: r.status, stdout: args[0] === 'check' ? asRootWould(r.stdout) : r.stdout, stderr: r.stderr };
}

const NOT_ROOT = /^ {2}WARNING {2}run as uid \d+, not root: .*\n/m;

// check's output as root would print it. Run by another user (a CI that is not root),
// check adds one warning that it judged the files as that user's; the expectations
// here are root's, so that warning is taken out with its count. The warning itself is
// tested below, as nobody.
function asRootWould(stdout: string): string {
  if (process.getuid?.() === 0 || !NOT_ROOT.test(stdout)) return stdout;
  const out = stdout.replace(NOT_ROOT, '');
  const heading = /^(.*), most serious first:\n/.exec(out);
  if (heading === null) return out;
  const parts = heading[1]!.split(', ').flatMap((part) => {
    const m = /^(\d+) warnings?$/.exec(part);
    if (m === null) return [part];
    const n = Number(m[1]) - 1;
    return n === 0 ? [] : [`${n} warning${n === 1 ? '' : 's'}`];
  });
  return parts.length > 0 ? out.replace(heading[0], `${parts.join(', ')}, most serious first:\n`) : out.replace(heading[0], 'OK: no problems\n');
}

// lavarank.yaml in LSF_ENVDIR, where the elim finds it, keeping logs and history in
// the tree; and the sample's own queue without its order[rank], which check would
// rightly flag for lacking the reservation.
function withConfig(t: LsfTree): void {
  writeFileSync(t.queues, readFileSync(t.queues, 'utf8').replace('RES_REQ      = order[rank]\n', ''));
  writeFileSync(join(t.etc, 'lavarank.yaml'), `log: {file: ${join(t.log, 'lavarank.log')}}\nhistory: {dir: ${join(t.log, 'history')}}\ngpu: {enabled: false}\n`, { mode: 0o644 });
}

describe('formatting findings', () => {
  it('puts critical problems before errors before warnings, keeping their order within each', () => {
    const sorted = bySeverity([
      { severity: 'warning', message: 'w1' },
      { severity: 'critical', message: 'c1' },
      { severity: 'error', message: 'e1' },
      { severity: 'critical', message: 'c2' },
    ]);
    assert.deepEqual(sorted.map((f) => f.message), ['c1', 'c2', 'e1', 'w1']);
  });

  it('shows the severity, then file:line, then the message', () => {
    assert.equal(formatFinding({ severity: 'error', where: 'lsf.conf:3', message: 'm' }), 'ERROR    lsf.conf:3: m');
  });
});

describe('lavarank check with an OpenLava configuration', () => {
  it('passes, exit 0, on a cluster after "lavarank install --merge-conf", for the nodes the snippet is for', () => {
    const t = lsfTree('fresh');
    try {
      withConfig(t);
      const install = lavarank(['install', '--merge-conf', '--serverdir', t.sbin, '--envdir', t.etc]);
      assert.equal(install.status, 0, install.stderr);
      const r = lavarank(['check', '--cpus', '16'], { LSF_ENVDIR: t.etc });
      assert.equal(r.status, 0, r.stdout);
      assert.match(r.stdout, /^OK: no problems\n\neffective configuration:\n/);
      assert.match(r.stdout, /queue rank: RES_REQ = order\[rank\] rusage\[rank=\d+:duration=45s:decay=1\] \(lsb\.queues:\d+\)/);
      assert.match(r.stdout, /elim: .*\/sbin\/elim -> .* \(this build\)/);
    } finally {
      t.cleanup();
    }
  });

  it('with typed_ranks: true, passes when lsf.shared declares the typed ranks, and names one it lacks, exit 1', () => {
    const t = lsfTree('fresh');
    try {
      withConfig(t);
      writeFileSync(join(t.etc, 'lavarank.yaml'), `${readFileSync(join(t.etc, 'lavarank.yaml'), 'utf8')}typed_ranks: true\n`);
      const install = lavarank(['install', '--merge-conf', '--serverdir', t.sbin, '--envdir', t.etc]);
      assert.equal(install.status, 0, install.stderr);
      const declared = lavarank(['check', '--cpus', '16'], { LSF_ENVDIR: t.etc });
      assert.equal(declared.status, 0, declared.stdout);
      writeFileSync(t.shared, readFileSync(t.shared, 'utf8').replace(/^ *rank_io .*\n/m, ''));
      const lacking = lavarank(['check', '--cpus', '16'], { LSF_ENVDIR: t.etc });
      assert.equal(lacking.status, 1, lacking.stdout);
      assert.match(lacking.stdout, /^1 error, most serious first:\n {2}ERROR +lsf\.shared: rank_io is not declared in a Resource section: with typed_ranks: true/);
    } finally {
      t.cleanup();
    }
  });

  // OpenLava 4.0's LIM does not pass LSF_LOGDIR to the elim: the daemon and check
  // take it from lsf.conf, so the log goes where OpenLava's own logs are.
  it('puts the log and history under the LSF_LOGDIR of lsf.conf when the environment does not set it', () => {
    const t = lsfTree('fresh');
    try {
      writeFileSync(join(t.etc, 'lavarank.yaml'), 'gpu: {enabled: false}\n', { mode: 0o644 });
      const r = lavarank(['check', '--cpus', '16'], { LSF_ENVDIR: t.etc });
      assert.match(r.stdout, new RegExp(`^ +log: ${t.log}/lavarank\\.[^ ]+\\.log \\(LSF_LOGDIR in ${t.etc}/lsf\\.conf\\)$`, 'm'), r.stdout);
      assert.match(r.stdout, new RegExp(`^ +history: ${t.log}/lavarank-history/`, 'm'), r.stdout);
      assert.match(r.stdout, new RegExp(`^ +LSF_LOGDIR: ${t.log} \\(lsf\\.conf:\\d+\\)$`, 'm'), r.stdout);
    } finally {
      t.cleanup();
    }
  });

  it('lists problems first, critical before warnings, with file:line, and exits 1', () => {
    const t = lsfTree('capture');
    try {
      writeFileSync(join(t.etc, 'lavarank.yaml'), `log: {file: ${join(t.log, 'l.log')}}\nhistory: {enabled: false}\ngpu: {enabled: false}\n`, { mode: 0o644 });
      const r = lavarank(['check', '--lsf-envdir', t.etc, '--cpus', '16']);
      assert.equal(r.status, 1, r.stdout);
      const problems = r.stdout.slice(0, r.stdout.indexOf('effective configuration:'));
      assert.match(problems, /^2 critical, 1 warning, most serious first:\n/);
      assert.match(problems, /\n {2}CRITICAL lsf\.shared:20: rank is declared INCREASING N/);
      assert.ok(problems.lastIndexOf('CRITICAL') < problems.indexOf('WARNING'), problems);
      assert.match(problems, /WARNING {2}lsb\.queues:4: queue normal has order\[rank\] without rusage/);
    } finally {
      t.cleanup();
    }
  });

  it("writes the control characters of a queue's name as \\u escapes, since lsb.queues may be an LSF administrator's and root's terminal would obey them", () => {
    const t = lsfTree('capture');
    try {
      writeFileSync(join(t.etc, 'lavarank.yaml'), `log: {file: ${join(t.log, 'l.log')}}\nhistory: {enabled: false}\ngpu: {enabled: false}\n`, { mode: 0o644 });
      writeFileSync(t.queues, readFileSync(t.queues, 'utf8').replace('QUEUE_NAME   = normal', 'QUEUE_NAME   = normal\x1b[8m\x9b2K'));
      const r = lavarank(['check', '--lsf-envdir', t.etc, '--cpus', '16']);
      assert.doesNotMatch(r.stdout, /[\x1b\x9b]/);
      assert.match(r.stdout, /WARNING {2}lsb\.queues:4: queue normal\\u001b\[8m\\u009b2K has order\[rank\] without rusage/);
      assert.match(r.stdout, /queue normal\\u001b\[8m\\u009b2K: RES_REQ = order\[rank\]/);
    } finally {
      t.cleanup();
    }
  });

  it('says so when only warnings are found (an LSF_LOGDIR that does not exist), and exits 0', () => {
    const t = lsfTree('fresh');
    try {
      withConfig(t);
      assert.equal(lavarank(['install', '--merge-conf', '--serverdir', t.sbin, '--envdir', t.etc]).status, 0);
      const r = lavarank(['check', '--lsf-envdir', t.etc, '--cpus', '16'], { LSF_LOGDIR: join(t.root, 'nolog') });
      assert.equal(r.status, 0, r.stdout);
      assert.match(r.stdout, /^1 warning, most serious first:\n {2}WARNING {2}LSF_LOGDIR .*nolog does not exist, and lavarank does not create/);
    } finally {
      t.cleanup();
    }
  });

  it('reports a history directory others can write as an error, since the daemon turns history off there', () => {
    const t = lsfTree('fresh');
    try {
      withConfig(t);
      assert.equal(lavarank(['install', '--merge-conf', '--serverdir', t.sbin, '--envdir', t.etc]).status, 0);
      mkdirSync(join(t.log, 'history'));
      chmodSync(join(t.log, 'history'), 0o777);
      const r = lavarank(['check', '--lsf-envdir', t.etc, '--cpus', '16']);
      assert.equal(r.status, 1, r.stdout);
      assert.match(r.stdout, /^1 error, most serious first:\n {2}ERROR {4}history directory .*\/log\/history has mode 0777, writable by group or others; run: chmod go-w .*history would be off/);
      assert.match(r.stdout, /history: off \(its directory is refused\)/);
    } finally {
      t.cleanup();
    }
  });

  it('reports a log.file in a directory others can write as an error, and names the location the log goes to instead', () => {
    const t = lsfTree('fresh');
    try {
      withConfig(t);
      assert.equal(lavarank(['install', '--merge-conf', '--serverdir', t.sbin, '--envdir', t.etc]).status, 0);
      mkdirSync(join(t.log, 'history'));
      chmodSync(t.log, 0o777);
      const r = lavarank(['check', '--lsf-envdir', t.etc, '--cpus', '16']);
      assert.equal(r.status, 1, r.stdout);
      assert.match(r.stdout, /ERROR {4}log\.file .*\/log\/lavarank\.log: log directory .*\/log has mode 0777/);
      assert.doesNotMatch(r.stdout, /log: .*\/log\/lavarank\.log/);
    } finally {
      t.cleanup();
    }
  });

  it('reports log and history files the daemon would refuse (another user\'s), as the daemon does', { skip: process.getuid?.() === 0 ? false : 'needs root to chown' }, () => {
    const t = lsfTree('fresh');
    try {
      withConfig(t);
      assert.equal(lavarank(['install', '--merge-conf', '--serverdir', t.sbin, '--envdir', t.etc]).status, 0);
      mkdirSync(join(t.log, 'history'), { mode: 0o755 });
      const historyFile = join(t.log, 'history', `${hostname()}.jsonl`);
      writeFileSync(historyFile, '');
      chownSync(historyFile, 65534, 65534);
      writeFileSync(join(t.log, 'lavarank.log'), '');
      chownSync(join(t.log, 'lavarank.log'), 65534, 65534);
      const r = lavarank(['check', '--lsf-envdir', t.etc, '--cpus', '16']);
      assert.equal(r.status, 1, r.stdout);
      assert.match(r.stdout, /^2 errors, most serious first:\n/);
      assert.match(r.stdout, /ERROR {4}log\.file .*\/lavarank\.log: .*\/lavarank\.log is owned by uid 65534 \(remove it, or chown root it\)/);
      assert.match(r.stdout, /ERROR {4}history file .*\.jsonl is owned by uid 65534 .*: the daemon would write no history until it is removed/);
    } finally {
      t.cleanup();
    }
  });

  it('says that LSF_LOGDIR is not taken from an lsf.conf others can change, in the findings and in the OpenLava section', () => {
    const t = lsfTree('fresh');
    try {
      withConfig(t);
      assert.equal(lavarank(['install', '--merge-conf', '--serverdir', t.sbin, '--envdir', t.etc]).status, 0);
      chmodSync(join(t.etc, 'lsf.conf'), 0o664);
      const r = lavarank(['check', '--lsf-envdir', t.etc, '--cpus', '16']);
      assert.match(r.stdout, /WARNING {2}LSF_LOGDIR is not taken from .*lsf\.conf: lsf\.conf .* has mode 0664, writable by group or others; run: chmod go-w/);
      assert.match(r.stdout, /LSF_LOGDIR: .*\/log \(lsf\.conf:\d+; not taken by lavarank: lsf\.conf is not root's alone\)/);
      chmodSync(join(t.etc, 'lsf.conf'), 0o644);
      assert.doesNotMatch(lavarank(['check', '--lsf-envdir', t.etc, '--cpus', '16']).stdout, /not taken/);
    } finally {
      t.cleanup();
    }
  });

  it("warns, as the daemon logs, that child elims' String resources are dropped when lsf.conf is refused, LSF_LOGDIR in the environment or not", () => {
    const t = lsfTree('fresh');
    try {
      withConfig(t);
      writeFileSync(join(t.etc, 'lavarank.yaml'), `${readFileSync(join(t.etc, 'lavarank.yaml'), 'utf8')}elims:\n  - command: [/bin/true]\n`);
      chmodSync(join(t.etc, 'lsf.conf'), 0o664);
      for (const env of [{}, { LSF_LOGDIR: t.log }]) {
        const r = lavarank(['check', '--lsf-envdir', t.etc, '--cpus', '16'], env);
        assert.match(r.stdout, /WARNING {2}child elims' String resources are dropped: LSF_CONFDIR, where LIM reads lsf\.shared, is not taken from .*lsf\.conf: .* has mode 0664/, JSON.stringify(env));
      }
      chmodSync(join(t.etc, 'lsf.conf'), 0o644);
      assert.doesNotMatch(lavarank(['check', '--lsf-envdir', t.etc, '--cpus', '16'], { LSF_LOGDIR: t.log }).stdout, /String resources/);
    } finally {
      t.cleanup();
    }
  });

  it('warns when the default queue reserves no rank, since a burst sent there with -R "order[rank]" herds; install --merge-conf --default-queue gives it the reservation', () => {
    const t = lsfTree('fresh');
    try {
      withConfig(t);
      writeFileSync(join(dirname(t.queues), 'lsb.params'), 'Begin Parameters\nDEFAULT_QUEUE = plain\nEnd Parameters\n');
      assert.equal(lavarank(['install', '--merge-conf', '--serverdir', t.sbin, '--envdir', t.etc]).status, 0);
      const before = lavarank(['check', '--lsf-envdir', t.etc, '--cpus', '16']);
      assert.match(before.stdout, /WARNING {2}lsb\.queues: the default queue plain \(lsb\.params DEFAULT_QUEUE\) reserves no rank: a burst sent there with -R "order\[rank\]" herds onto one host/);
      assert.equal(lavarank(['install', '--merge-conf', '--default-queue', '--serverdir', t.sbin, '--envdir', t.etc]).status, 0);
      assert.doesNotMatch(lavarank(['check', '--lsf-envdir', t.etc, '--cpus', '16']).stdout, /reserves no rank/);
    } finally {
      t.cleanup();
    }
  });

  it('reports a FIFO put in place of lsf.shared as unreadable, instead of waiting on it; install --merge-conf refuses it too', () => {
    const t = lsfTree('fresh');
    try {
      withConfig(t);
      rmSync(join(t.etc, 'lsf.shared'));
      mkfifo(join(t.etc, 'lsf.shared'));
      const r = spawnSync(process.execPath, [cliPath, 'check', '--lsf-envdir', t.etc, '--cpus', '16'], { encoding: 'utf8', timeout: 20_000 });
      assert.equal(r.status, 1, `status ${r.status} (${r.signal}): ${r.stdout}`);
      assert.match(r.stdout, /CRITICAL .*lsf\.shared cannot be read/);
      const i = spawnSync(process.execPath, [cliPath, 'install', '--merge-conf', '--dry-run', '--serverdir', t.sbin, '--envdir', t.etc], { encoding: 'utf8', timeout: 20_000 });
      assert.equal(i.status, 1, `status ${i.status} (${i.signal}): ${i.stderr}`);
      assert.match(i.stderr, /lsf\.shared: not a regular file/);
    } finally {
      t.cleanup();
    }
  });

  it("names the reservation recommended for the config's interval and resource in the OpenLava section", () => {
    const t = lsfTree('fresh');
    try {
      withConfig(t);
      writeFileSync(join(t.etc, 'lavarank.yaml'), `${readFileSync(join(t.etc, 'lavarank.yaml'), 'utf8')}interval: 5\nresource: lrank\n`);
      const r = lavarank(['check', '--cpus', '16'], { LSF_ENVDIR: t.etc });
      assert.match(r.stdout, /^ {4}reservation recommended: order\[lrank\] rusage\[lrank=\d+:duration=40s:decay=1\], from "lavarank recommend --cpus 16" \(--cpus; model /m, r.stdout);
    } finally {
      t.cleanup();
    }
  });

  it('reports a child elim that is the installed elim itself, which would start lavarank again and again, and exits 1', () => {
    const t = lsfTree('fresh');
    try {
      withConfig(t);
      assert.equal(lavarank(['install', '--merge-conf', '--serverdir', t.sbin, '--envdir', t.etc]).status, 0);
      writeFileSync(join(t.etc, 'lavarank.yaml'), `${readFileSync(join(t.etc, 'lavarank.yaml'), 'utf8')}elims:\n  - command: [${join(t.sbin, 'elim')}]\n`);
      const r = lavarank(['check', '--cpus', '16'], { LSF_ENVDIR: t.etc });
      assert.equal(r.status, 1, r.stdout);
      assert.match(r.stdout, /ERROR .*child elim .*\/sbin\/elim is the installed elim itself/);
    } finally {
      t.cleanup();
    }
  });

  it('names an LSF_ENVDIR that does not exist, and exits 1', () => {
    const r = lavarank(['check'], { LSF_ENVDIR: '/nonexistent/openlava/etc' });
    assert.equal(r.status, 1, r.stdout);
    assert.match(r.stdout, /CRITICAL LSF_ENVDIR \/nonexistent\/openlava\/etc does not exist/);
  });
});

describe('lavarank check without an OpenLava configuration', () => {
  it('shows network.link_speed in the effective configuration', () => {
    const { dir, cleanup } = tempDir();
    try {
      const config = join(dir, 'lavarank.yaml');
      writeFileSync(config, `log: {file: ${join(dir, 'l.log')}}\nhistory: {enabled: false}\ngpu: {enabled: false}\nnetwork: {link_speed: 10000}\n`, { mode: 0o644 });
      const r = lavarank(['check', '--config', config, '--cpus', '16']);
      const effective = r.stdout.slice(r.stdout.indexOf('effective configuration:'));
      assert.match(effective, /\n {4}network:\n {6}link_speed: 10000\n/, r.stdout);
    } finally {
      cleanup();
    }
  });
});

// Runs check on a config of lavarank's alone (no OpenLava side): the given lines after
// a log file in the directory, no history and no GPU.
function checkAlone(lines: string, env: NodeJS.ProcessEnv = {}, args: string[] = ['--cpus', '16'], prepare?: (dir: string) => void): { status: number | null; stdout: string; stderr: string } {
  const { dir, cleanup } = tempDir();
  try {
    chmodSync(dir, 0o755);
    prepare?.(dir);
    const config = join(dir, 'lavarank.yaml');
    writeFileSync(config, `log: {file: ${join(dir, 'l.log')}}\nhistory: {enabled: false}\n${lines.replaceAll('DIR', dir)}`, { mode: 0o644 });
    return lavarank(['check', '--config', config, ...args], env);
  } finally {
    cleanup();
  }
}

describe('lavarank check of lavarank alone', () => {
  // check said "OK" of a log on a full disk: the administrator learnt of it from the log's gap.
  it('warns of a log and a history whose file system is nearly full', { skip: process.getuid?.() === 0 ? false : 'needs root to mount a tmpfs' }, (t) => {
    const dir = testDir(t);
    const full = join(dir, 'full');
    try {
      chmodSync(dir, 0o755);
      mkdirSync(full);
      const mount = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=8m,mode=0755', 'tmpfs', full]);
      assert.equal(mount.status, 0, String(mount.stderr));
      mkdirSync(join(full, 'history'), { mode: 0o755 });
      writeFileSync(join(full, 'fill'), Buffer.alloc(7 * 1024 * 1024));
      const config = join(dir, 'lavarank.yaml');
      writeFileSync(config, `gpu: {enabled: false}\nlog: {file: ${full}/l.log}\nhistory: {enabled: true, dir: ${full}/history}\n`, { mode: 0o644 });
      const r = lavarank(['check', '--config', config, '--cpus', '16']);
      assert.match(r.stdout, /^ {2}WARNING {2}log \S+\/full\/l\.log: its file system has 1\.0 MiB free of 8\.0 MiB \(12\.5 %\), less than the 360\.0 MiB the log and the history may still take there \(max_bytes × \(keep \+ 1\), less what their files take now\); the log stops when it is full$/m);
      assert.match(r.stdout, /^ {2}WARNING {2}history directory \S+\/full\/history: its file system has 1\.0 MiB free of 8\.0 MiB/m);
      assert.equal(r.status, 0, r.stdout);
    } finally {
      spawnSync('umount', [full]);
    }
  });

  // The threshold was 50 MiB or 1 %, whatever log.max_bytes and history.max_bytes allow:
  // 60 MiB free under a 320 MiB history passed, and 1 MiB free under 64 KiB files warned.
  it('asks of the file system the room the log and the history may still take, from their max_bytes and keep', { skip: process.getuid?.() === 0 ? false : 'needs root to mount a tmpfs' }, (t) => {
    const dir = testDir(t);
    const disk = join(dir, 'disk');
    try {
      chmodSync(dir, 0o755);
      mkdirSync(disk);
      const mount = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=128m,mode=0755', 'tmpfs', disk]);
      assert.equal(mount.status, 0, String(mount.stderr));
      mkdirSync(join(disk, 'history'), { mode: 0o755 });
      writeFileSync(join(disk, 'fill'), Buffer.alloc(68 * 1024 * 1024));
      const config = join(dir, 'lavarank.yaml');
      const write = (log: string, history: string): void => writeFileSync(config, `gpu: {enabled: false}\nlog: {file: ${disk}/l.log${log}}\nhistory: {enabled: true, dir: ${disk}/history${history}}\n`, { mode: 0o644 });
      write('', ', max_bytes: 16MiB, keep: 2');
      const big = lavarank(['check', '--config', config, '--cpus', '16']);
      assert.match(big.stdout, /^ {2}WARNING {2}history directory \S+\/disk\/history: its file system has 60\.0 MiB free of 128\.0 MiB \(46\.9 %\), less than the 88\.0 MiB the log and the history may still take there/m);
      assert.equal(big.status, 0, big.stdout);
      // the rotated files already there are counted as taken: 32 MiB of the fill become two
      writeFileSync(join(disk, 'fill'), Buffer.alloc(36 * 1024 * 1024));
      writeFileSync(join(disk, 'history', `${hostname()}.jsonl.1`), Buffer.alloc(16 * 1024 * 1024));
      writeFileSync(join(disk, 'history', `${hostname()}.jsonl.2`), Buffer.alloc(16 * 1024 * 1024));
      const rotated = lavarank(['check', '--config', config, '--cpus', '16']);
      assert.doesNotMatch(rotated.stdout, /its file system has/, rotated.stdout);
      rmSync(join(disk, 'history'), { recursive: true });
      mkdirSync(join(disk, 'history'), { mode: 0o755 });
      writeFileSync(join(disk, 'fill'), Buffer.alloc(127 * 1024 * 1024));
      write(', max_bytes: 64KiB, keep: 1', ', max_bytes: 64KiB, keep: 2');
      const small = lavarank(['check', '--config', config, '--cpus', '16']);
      assert.match(small.stdout, /note.*|OK|history/); // it ran
      assert.doesNotMatch(small.stdout, /its file system has/, small.stdout);
    } finally {
      spawnSync('umount', [disk]);
    }
  });


  it('passes an interval of 5 s, the least LIM takes, and refuses 4 s as critical', () => {
    const five = checkAlone('gpu: {enabled: false}\ninterval: 5\n');
    assert.equal(five.status, 0, five.stdout);
    const four = checkAlone('gpu: {enabled: false}\ninterval: 4\n');
    assert.equal(four.status, 1, four.stdout);
    assert.match(four.stdout, /^1 critical, most serious first:\n {2}CRITICAL interval 4 s: under LIM an interval under 5 s is refused/);
  });

  it('reports a configured model that cannot be loaded as critical, and exits 1', () => {
    const r = checkAlone('gpu: {enabled: false}\nmodel: /nonexistent/lavarank/model.json\n');
    assert.equal(r.status, 1, r.stdout);
    assert.match(r.stdout, /^1 critical, most serious first:\n {2}CRITICAL .*\/nonexistent\/lavarank\/model\.json/);
  });

  it('reports a proc_root the cpu, load and memory collectors cannot read as critical, since the elim would report the pessimistic rank at every report, and exits 1', () => {
    const r = checkAlone('gpu: {enabled: false}\nproc_root: DIR/proc\n');
    assert.equal(r.status, 1, r.stdout);
    assert.match(r.stdout, /^3 critical, most serious first:\n {2}CRITICAL cpu: cannot open \S*\/proc\/stat: ENOENT \(no such file or directory\): the elim would report the pessimistic rank, 1000, at every report/);
    assert.match(r.stdout, /CRITICAL load: cannot open \S*\/proc\/loadavg: ENOENT/);
    assert.match(r.stdout, /CRITICAL memory: cannot open \S*\/proc\/meminfo: ENOENT/);
  });

  it("prints how the kernel shares the CPUs, from proc_root's sys/kernel/sched_autogroup_enabled, among the effective configuration", () => {
    // sys_root too: on a host whose cgroup v2 has the cpu controller on, /sys would give the other note.
    const r = checkAlone('gpu: {enabled: false}\nproc_root: DIR/proc\nsys_root: DIR/sys\n', {}, ['--cpus', '16'], (dir) => {
      mkdirSync(join(dir, 'proc/sys/kernel'), { recursive: true });
      writeFileSync(join(dir, 'proc/sys/kernel/sched_autogroup_enabled'), '1\n');
    });
    const effective = r.stdout.slice(r.stdout.indexOf('effective configuration:'));
    assert.match(effective, /^ {2}cpu sharing: kernel\.sched_autogroup_enabled = 1: the kernel shares CPU time between sessions first/m, r.stdout);
  });

  it('reports a child elim whose program is missing as an error, and exits 1', () => {
    const r = checkAlone('gpu: {enabled: false}\nelims:\n  - command: [/nonexistent/elim.site]\n');
    assert.equal(r.status, 1, r.stdout);
    assert.match(r.stdout, /^1 error, most serious first:\n {2}ERROR .*\/nonexistent\/elim\.site.*\(lavarank would not start it\)/);
  });

  it('reports a gpu.command not found as an error with gpu.enabled true, and only notes it with auto', () => {
    const on = checkAlone('gpu: {enabled: true, command: /nonexistent/nvidia-smi}\n');
    assert.equal(on.status, 1, on.stdout);
    assert.match(on.stdout, /^1 error, most serious first:\n {2}ERROR {4}gpu\.command \/nonexistent\/nvidia-smi: not found \(gpu\.enabled is true\)/);
    const auto = checkAlone('gpu: {enabled: auto, command: /nonexistent/nvidia-smi}\n');
    assert.equal(auto.status, 0, auto.stdout);
    assert.match(auto.stdout, /^ {2}gpu: \/nonexistent\/nvidia-smi not found \(GPU features off\)$/m);
  });

  // check only looked for the program: a host whose driver is not loaded (or was
  // upgraded without a reboot) passed with "OK: no problems", its GPUs never read.
  it('runs the GPU query and reports its failure in nvidia-smi\'s words: a warning with gpu.enabled auto, an error with true', () => {
    const noDriver = "#!/bin/sh\necho \"NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver.\"\nexit 9\n";
    const auto = checkAlone('gpu: {enabled: auto, command: DIR/nvidia-smi}\n', {}, ['--cpus', '16'], (dir) => void writeWithMode(join(dir, 'nvidia-smi'), noDriver, 0o755));
    assert.equal(auto.status, 0, auto.stdout);
    assert.match(auto.stdout, /^1 warning, most serious first:\n {2}WARNING {2}gpu\.command \S+\/nvidia-smi: the query fails, so GPU features are off: .*exit code 9.*it printed: "NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver\."/);
    const on = checkAlone('gpu: {enabled: true, command: DIR/nvidia-smi}\n', {}, ['--cpus', '16'], (dir) => void writeWithMode(join(dir, 'nvidia-smi'), noDriver, 0o755));
    assert.equal(on.status, 1, on.stdout);
    assert.match(on.stdout, /^1 error, most serious first:\n {2}ERROR {4}gpu\.command \S+\/nvidia-smi: the query fails: .*couldn't communicate with the NVIDIA driver/);
  });

  // The query failed as a whole ("the query fails, so GPU features are off") where it had read the other GPUs.
  it('names a GPU the query could not reach and reads the others: a warning with gpu.enabled auto, an error with true', () => {
    const lost = (dir: string): void => void writeWithMode(join(dir, 'nvidia-smi'), readFileSync(fixture('bin', 'nvidia-smi-lost'), 'utf8'), 0o755);
    const auto = checkAlone('gpu: {enabled: auto, command: DIR/nvidia-smi}\n', {}, ['--cpus', '16'], lost);
    assert.equal(auto.status, 0, auto.stdout);
    assert.match(auto.stdout, /^1 warning, most serious first:\n {2}WARNING {2}gpu\.command \S+\/nvidia-smi: cannot reach GPU 0000:3B:00\.0: GPU is lost\. Reboot the system to recover this GPU; the GPU features read the other GPUs$/m);
    assert.match(auto.stdout, /^ {2}gpu: \S+\/nvidia-smi: 2 GPUs, busiest 85 % used$/m);
    const on = checkAlone('gpu: {enabled: true, command: DIR/nvidia-smi}\n', {}, ['--cpus', '16'], lost);
    assert.equal(on.status, 1, on.stdout);
    assert.match(on.stdout, /^1 error, most serious first:\n {2}ERROR {4}gpu\.command \S+\/nvidia-smi: cannot reach GPU 0000:3B:00\.0/);
  });

  // [GPU requires reset] in one GPU's row failed the query as a whole: "the query fails, so GPU features are off".
  it('names each GPU in trouble by its index and reads the others', () => {
    const reset = (dir: string): void => void writeWithMode(join(dir, 'nvidia-smi'), readFileSync(fixture('bin', 'nvidia-smi-reset'), 'utf8'), 0o755);
    const auto = checkAlone('gpu: {enabled: auto, command: DIR/nvidia-smi}\n', {}, ['--cpus', '16'], reset);
    assert.equal(auto.status, 0, auto.stdout);
    assert.match(auto.stdout, /^2 warnings, most serious first:\n {2}WARNING {2}gpu\.command \S+\/nvidia-smi: cannot reach GPU 1: \[GPU requires reset\]; the GPU features read the other GPUs\n {2}WARNING {2}gpu\.command \S+\/nvidia-smi: cannot reach GPU 3: \[Unknown Error\]; /);
    assert.match(auto.stdout, /^ {2}gpu: \S+\/nvidia-smi: 2 GPUs, busiest 85 % used$/m);
  });

  it('says how many GPUs the query read and how busy the busiest is', () => {
    const r = checkAlone('gpu: {enabled: true, command: DIR/nvidia-smi}\n', {}, ['--cpus', '16'], (dir) => void writeWithMode(join(dir, 'nvidia-smi'), "#!/bin/sh\nprintf '45, 1024, 16384\\n85, 15000, 16384\\n'\n", 0o755));
    assert.equal(r.status, 0, r.stdout);
    assert.match(r.stdout, /^ {2}gpu: \S+\/nvidia-smi: 2 GPUs, busiest 85 % used$/m);
  });

  // The daemon runs as root: it refuses, before every query, a GPU program another
  // user could replace (src/collectors/gpu.ts, test/faults/gpu.test.ts), so check
  // calls it an error, not a warning, even with gpu.enabled auto.
  it('reports a gpu.command another user owns as an error naming its owner and the chown that fixes it, and exits 1', { skip: process.getuid?.() === 0 ? false : 'needs root to chown' }, () => {
    let program = '';
    const r = checkAlone('gpu: {enabled: auto, command: DIR/nvidia-smi}\n', {}, ['--cpus', '16'], (dir) => {
      program = writeWithMode(join(dir, 'nvidia-smi'), '#!/bin/sh\nexit 0\n', 0o755);
      chownSync(program, 65534, 0);
    });
    assert.equal(r.status, 1, r.stdout);
    assert.deepEqual(r.stdout.split('\n').slice(0, 2), [
      '1 error, most serious first:',
      `  ERROR    gpu.command ${program} is owned by uid 65534; it must be owned by root (chown root ${program})`,
    ]);
  });

  it('reports a gpu.command that others can write as an error naming its mode and the chmod that fixes it, and exits 1', () => {
    let program = '';
    const r = checkAlone('gpu: {enabled: true, command: DIR/nvidia-smi}\n', {}, ['--cpus', '16'], (dir) => {
      program = writeWithMode(join(dir, 'nvidia-smi'), '#!/bin/sh\nexit 0\n', 0o777);
    });
    assert.equal(r.status, 1, r.stdout);
    assert.deepEqual(r.stdout.split('\n').slice(0, 2), [
      '1 error, most serious first:',
      `  ERROR    gpu.command ${program} has mode 0777, writable by group or others; run: chmod go-w ${program}`,
    ]);
  });

  it('reports a gpu.command in a directory others can write as an error naming the directory and the chmod that fixes it, and exits 1', () => {
    let program = '';
    let open = '';
    const r = checkAlone('gpu: {enabled: auto, command: DIR/open/nvidia-smi}\n', {}, ['--cpus', '16'], (dir) => {
      open = dirWithMode(dir, 'open', 0o777);
      program = writeWithMode(join(open, 'nvidia-smi'), '#!/bin/sh\nexit 0\n', 0o755);
    });
    assert.equal(r.status, 1, r.stdout);
    assert.deepEqual(r.stdout.split('\n').slice(0, 2), [
      '1 error, most serious first:',
      `  ERROR    directory ${open} above gpu.command ${program} has mode 0777, writable by group or others; run: chmod go-w ${open}`,
    ]);
  });

  it('reports a metrics.textfile in a directory others can write as an error, and exits 1', () => {
    const r = checkAlone('gpu: {enabled: false}\nmetrics: {textfile: DIR/open/lavarank.prom}\n', {}, ['--cpus', '16'], (dir) => chmodSync(dirWithMode(dir, 'open', 0o777), 0o777));
    assert.equal(r.status, 1, r.stdout);
    assert.match(r.stdout, /^1 error, most serious first:\n {2}ERROR .*\/open has mode 0777.*\(metrics would be off\)/);
  });

  it('reports a metrics.textfile whose directory does not exist as an error, since the daemon never makes it, and exits 1', () => {
    const r = checkAlone('gpu: {enabled: false}\nmetrics: {textfile: DIR/missing/lavarank.prom}\n');
    assert.equal(r.status, 1, r.stdout);
    assert.match(r.stdout, /^1 error, most serious first:\n {2}ERROR {4}metrics\.textfile .*\/missing\/lavarank\.prom: its directory .*\/missing does not exist, and lavarank never makes it/);
  });

  it('reports a log.file that is a symbolic link as an error, since the daemon does not follow it', () => {
    const r = checkAlone('gpu: {enabled: false}\n', {}, ['--cpus', '16'], (dir) => symlinkSync(join(dir, 'elsewhere.log'), join(dir, 'l.log')));
    assert.equal(r.status, 1, r.stdout);
    assert.match(r.stdout, /ERROR {4}log\.file .*\/l\.log: .*\/l\.log is a symbolic link, which lavarank does not follow/);
  });

  it('warns, and passes, when history passes over an $LSF_LOGDIR another user owns for its default directory', { skip: process.getuid?.() === 0 ? false : 'needs root to chown' }, () => {
    const { dir, cleanup } = tempDir();
    try {
      chmodSync(dir, 0o755);
      const logdir = join(dir, 'lsf-log');
      mkdirSync(logdir, { mode: 0o755 });
      chownSync(logdir, 65534, 65534);
      const config = join(dir, 'lavarank.yaml');
      writeFileSync(config, `log: {file: ${join(dir, 'l.log')}}\ngpu: {enabled: false}\n`, { mode: 0o644 });
      const r = lavarank(['check', '--config', config, '--cpus', '16'], { LSF_LOGDIR: logdir });
      assert.equal(r.status, 0, r.stdout);
      assert.match(r.stdout, /^ {2}WARNING .*lsf-log.*: history goes to \/var\/lib\/lavarank\/history instead$/m);
    } finally {
      cleanup();
    }
  });

  it('refuses a --cpus that is not a whole number of CPUs from 1 to 4096, with status 2 and the option named', () => {
    for (const cpus of ['0', '2.5', '4097']) {
      const r = checkAlone('gpu: {enabled: false}\n', {}, ['--cpus', cpus]);
      assert.equal(r.status, 2, `--cpus ${cpus}: ${r.stdout}`);
      assert.equal(r.stderr, `lavarank check: --cpus: expected a whole number of CPUs from 1 to 4096, received "${cpus}"\n`);
    }
  });

  it('reports --queues, --cluster or --lsf without $LSF_ENVDIR as an error, since the OpenLava side they apply to is not checked, and exits 1', () => {
    const r = checkAlone('gpu: {enabled: false}\n', {}, ['--cpus', '16', '--queues', '/etc/lsb.queues', '--lsf']);
    assert.equal(r.status, 1, r.stdout);
    assert.match(r.stdout, /^1 error, most serious first:\n {2}ERROR {4}--queues, --lsf: the OpenLava side they apply to is not checked without \$LSF_ENVDIR; pass --lsf-envdir DIR\n/);
  });

  it('takes an empty $LSF_ENVDIR as none: the OpenLava side not checked', () => {
    const r = checkAlone('gpu: {enabled: false}\n', { LSF_ENVDIR: '' });
    assert.equal(r.status, 0, r.stdout);
    assert.match(r.stdout, /^ {4}not checked: no \$LSF_ENVDIR \(pass --lsf-envdir DIR\)$/m);
  });
});

describe('checkReport (check\'s last stage, called alone)', () => {
  it('counts the findings by severity, most serious first, and fails only on something worse than a warning', () => {
    const warned = checkReport([{ severity: 'warning', message: 'w1' }, { severity: 'warning', message: 'w2' }], ['a note'], ['lsf line'], defaultConfig());
    assert.equal(warned.status, 0);
    assert.match(warned.text, /^2 warnings, most serious first:\n {2}WARNING {2}w1\n {2}WARNING {2}w2\n\neffective configuration:\n {2}a note\n {2}OpenLava:\n {4}lsf line\n {2}lavarank\.yaml, with defaults filled in:\n {4}/);
    const failed = checkReport([{ severity: 'warning', message: 'w' }, { severity: 'critical', message: 'c' }, { severity: 'error', message: 'e' }], [], [], defaultConfig());
    assert.equal(failed.status, 1);
    assert.match(failed.text, /^1 critical, 1 error, 1 warning, most serious first:\n {2}CRITICAL c\n {2}ERROR {4}e\n {2}WARNING {2}w\n/);
    // An empty part is the heading's line alone, as print wrote it.
    assert.match(failed.text, /\neffective configuration:\n {2}OpenLava:\n {2}lavarank\.yaml/);
    assert.ok(failed.text.endsWith('\n') && !failed.text.endsWith('\n\n'));
  });

  it('says OK with no finding', () => {
    const ok = checkReport([], [], [], defaultConfig());
    assert.equal(ok.status, 0);
    assert.match(ok.text, /^OK: no problems\n\neffective configuration:\n/);
  });
});

describe('checkHistory (check\'s history stage, called alone)', () => {
  const historyFindings = async (history: Partial<Config['history']>): Promise<{ findings: string[]; notes: string[]; writer: string | undefined }> => {
    const findings: string[] = [];
    const notes: string[] = [];
    const config = defaultConfig();
    const writer = await checkHistory({ ...config, history: { ...config.history, ...history } }, {}, 'node7', { add: (severity, message) => void findings.push(`${severity} ${message}`), notes });
    return { findings, notes, writer: writer?.file };
  };

  it('notes a disabled history and gives no file to check for room', async () => {
    assert.deepEqual(await historyFindings({ enabled: false }), { findings: [], notes: ['history: disabled'], writer: undefined });
  });

  it('gives the host\'s file in a usable directory, and an error where a link stands in its place', async () => {
    const { dir, cleanup } = tempDir();
    try {
      chmodSync(dir, 0o755);
      assert.deepEqual(await historyFindings({ enabled: true, dir }), { findings: [], notes: [`history: ${dir}/node7.jsonl`], writer: join(dir, 'node7.jsonl') });
      symlinkSync('/etc/passwd', join(dir, 'node7.jsonl'));
      const linked = await historyFindings({ enabled: true, dir });
      assert.deepEqual(linked.findings, [`error history file ${dir}/node7.jsonl is a symbolic link, which lavarank does not follow: the daemon would write no history until it is removed`]);
      assert.equal(linked.writer, join(dir, 'node7.jsonl'));
    } finally {
      cleanup();
    }
  });
});

describe('checkLog (check\'s log stage, called alone)', () => {
  const logFindings = async (file: string, env: NodeJS.ProcessEnv): Promise<{ findings: string[]; notes: string[]; writer: string | undefined }> => {
    const findings: string[] = [];
    const notes: string[] = [];
    const config = defaultConfig();
    const writer = await checkLog({ ...config, log: { ...config.log, file } }, 'node7', env, undefined, { add: (severity, message) => void findings.push(`${severity} ${message}`), notes });
    return { findings, notes, writer: writer?.file };
  };

  it('gives log.file as the writer to check for room, and an error naming log.file where it cannot be used, the log then going to LSF_LOGDIR', async () => {
    const { dir, cleanup } = tempDir();
    try {
      chmodSync(dir, 0o755);
      const logdir = dirWithMode(dir, 'lsf-log', 0o755);
      const file = join(dir, 'lavarank.log');
      const usable = await logFindings(file, { LSF_LOGDIR: logdir });
      assert.deepEqual(usable.findings, []);
      assert.equal(usable.writer, file);
      assert.match(usable.notes.join('\n'), new RegExp(`^log: ${file} `));
      writeFileSync(join(dir, 'not-a-dir'), '');
      const refused = await logFindings(join(dir, 'not-a-dir', 'lavarank.log'), { LSF_LOGDIR: logdir });
      assert.equal(refused.findings.length, 1);
      assert.match(refused.findings[0]!, new RegExp(`^error log\\.file ${dir}/not-a-dir/lavarank\\.log: `));
      assert.equal(refused.writer, join(logdir, 'lavarank.node7.log'));
    } finally {
      cleanup();
    }
  });
});

describe('checkMetrics (check\'s metrics stage, called alone)', () => {
  const metricsFindings = async (textfile: string | null): Promise<string[]> => {
    const findings: string[] = [];
    const config = defaultConfig();
    await checkMetrics({ ...config, metrics: { ...config.metrics, textfile } }, { add: (severity, message) => void findings.push(`${severity} ${message}`), notes: [] });
    return findings;
  };

  it('finds nothing without a textfile or with its directory there, and an error where the directory is missing', async () => {
    const { dir, cleanup } = tempDir();
    try {
      chmodSync(dir, 0o755);
      assert.deepEqual(await metricsFindings(null), []);
      assert.deepEqual(await metricsFindings(join(dir, 'lavarank.prom')), []);
      const missing = join(dir, 'textfiles');
      assert.deepEqual(await metricsFindings(join(missing, 'lavarank.prom')), [
        `error metrics.textfile ${missing}/lavarank.prom: its directory ${missing} does not exist, and lavarank never makes it (metrics would not be written); create it: mkdir -m 0755 ${missing}`,
      ]);
    } finally {
      cleanup();
    }
  });
});

describe('expectedReservation (check\'s stage giving recommend\'s reservation, called alone)', () => {
  it('is recommend\'s for --cpus, named so, and nothing where the model cannot be loaded', async () => {
    const config = defaultConfig();
    const model = await loadModelAsync(modelPathFor(config));
    for (const cpus of [2, 64]) {
      const r = recommendForCpus(model, cpus, { intervalSec: config.interval, resource: config.resource });
      assert.deepEqual(await expectedReservation(config, cpus, undefined), { d: r.d, t: r.t, resReq: r.resReq, why: `"lavarank recommend --cpus ${cpus}" (--cpus; model ${r.model})` });
    }
    assert.equal(await expectedReservation({ ...config, model: '/nonexistent/lavarank-model.json' }, 2, undefined), undefined);
  });
});

describe('checkGpu (check\'s GPU stage, called alone)', () => {
  const gpuFindings = async (enabled: Config['gpu']['enabled'], command: string): Promise<{ findings: string[]; notes: string[] }> => {
    const findings: string[] = [];
    const notes: string[] = [];
    const config = defaultConfig();
    await checkGpu({ ...config, gpu: { ...config.gpu, enabled, command } }, { add: (severity, message) => void findings.push(`${severity} ${message}`), notes });
    return { findings, notes };
  };

  it('names a GPU the query cannot reach, as a warning with auto and an error with true, and notes the others read', async () => {
    const { dir, cleanup } = tempDir();
    try {
      chmodSync(dir, 0o755);
      const program = writeWithMode(join(dir, 'nvidia-smi'), readFileSync(fixture('bin', 'nvidia-smi-lost'), 'utf8'), 0o755);
      const auto = await gpuFindings('auto', program);
      assert.deepEqual(auto.findings, [`warning gpu.command ${program}: cannot reach GPU 0000:3B:00.0: GPU is lost. Reboot the system to recover this GPU; the GPU features read the other GPUs`]);
      assert.deepEqual(auto.notes, [`gpu: ${program}: 2 GPUs, busiest 85 % used`]);
      const on = await gpuFindings(true, program);
      assert.deepEqual(on.findings.map((f) => f.split(' ')[0]), ['error']);
    } finally {
      cleanup();
    }
  });

  it('checks nothing with gpu.enabled false, and only notes a missing program with auto', async () => {
    assert.deepEqual(await gpuFindings(false, '/nonexistent/nvidia-smi'), { findings: [], notes: [] });
    assert.deepEqual(await gpuFindings('auto', '/nonexistent/nvidia-smi'), { findings: [], notes: ['gpu: /nonexistent/nvidia-smi not found (GPU features off)'] });
  });
});

describe('check\'s first stages, each called alone', () => {
  const collecting = (): { findings: string[]; notes: string[]; add: (severity: string, message: string) => void } => {
    const findings: string[] = [];
    return { findings, notes: [], add: (severity, message) => void findings.push(`${severity} ${message}`) };
  };

  it('checkEnvironment takes --lsf-envdir as LSF_ENVDIR over the environment\'s, and leaves the environment without it alone', async () => {
    const taken = await checkEnvironment('/nonexistent/lavarank-etc', { LSF_ENVDIR: '/elsewhere' });
    assert.equal(taken.given['LSF_ENVDIR'], '/nonexistent/lavarank-etc');
    assert.equal(taken.env['LSF_ENVDIR'], '/nonexistent/lavarank-etc');
    const kept = await checkEnvironment(undefined, { LSF_ENVDIR: '/elsewhere' });
    assert.equal(kept.given['LSF_ENVDIR'], '/elsewhere');
  });

  it('checkConfig warns first when run by a user other than root, and notes where the config came from', async () => {
    const report = collecting();
    const { source, config } = await checkConfig('/nonexistent/lavarank.yaml', {}, report, 1000);
    assert.match(report.findings[0] ?? '', /^warning run as uid 1000, not root: /);
    assert.deepEqual(report.findings.slice(1).map((f) => f.split(' ')[0]), ['critical']);
    assert.equal(source.path, '/nonexistent/lavarank.yaml');
    assert.deepEqual(config, defaultConfig());
    assert.deepEqual(report.notes, [`config: /nonexistent/lavarank.yaml (${source.why})`]);
  });

  it('checkConfig calls an interval LIM refuses critical, and says nothing of the user as root', async (t) => {
    const dir = testDir(t);
    chmodSync(dir, 0o755);
    const path = writeWithMode(join(dir, 'lavarank.yaml'), 'interval: 2\n', 0o644);
    const report = collecting();
    const { config } = await checkConfig(path, {}, report, 0);
    assert.equal(config.interval, 2);
    assert.deepEqual(report.findings, ['critical interval 2 s: under LIM an interval under 5 s is refused (LIM reads one report per 5 s)']);
  });

  it('checkOpenLava without $LSF_ENVDIR checks nothing of OpenLava and names the options that needed it as an error', async () => {
    const config = defaultConfig();
    const source = { path: null, why: 'built-in defaults' };
    const environment = await checkEnvironment(undefined, {});
    const report = collecting();
    const lines = await checkOpenLava({ queues: '/etc/lsb.queues', cluster: undefined, lsf: true }, config, source, environment, undefined, { ...report, findings: [] });
    assert.deepEqual(lines, ['not checked: no $LSF_ENVDIR (pass --lsf-envdir DIR)']);
    assert.deepEqual(report.findings, ['error --queues, --lsf: the OpenLava side they apply to is not checked without $LSF_ENVDIR; pass --lsf-envdir DIR']);
    const quiet = collecting();
    assert.deepEqual(await checkOpenLava({ queues: undefined, cluster: undefined, lsf: undefined }, config, source, environment, undefined, { ...quiet, findings: [] }), lines);
    assert.deepEqual(quiet.findings, []);
  });

  it('checkHost notes the network and pressure first, and gives the job CPUs it found for the reservation', () => {
    const report = collecting();
    const config = defaultConfig();
    const jobSet = checkHost(config, report);
    assert.deepEqual(report.notes.slice(0, 2), [networkNote(config), pressureNote(config)]);
    assert.deepEqual(report.findings, []);
    assert.deepEqual(jobSet, jobCpuSet(config));
  });
});

describe('where check says the log goes', () => {
  it('is where the daemon logs when the first location is refused (log.file in another user\'s directory)', { skip: process.getuid?.() === 0 ? false : 'needs root to chown' }, async () => {
    const { dir, cleanup } = tempDir();
    try {
      const theirs = join(dir, 'theirs');
      mkdirSync(theirs, { mode: 0o755 });
      chownSync(theirs, 65534, 65534);
      const logdir = join(dir, 'lsf-log');
      mkdirSync(logdir, { mode: 0o755 });
      const config = { ...defaultConfig().log, file: join(theirs, 'lavarank.log') };
      const env = { LSF_LOGDIR: logdir };
      const checked = await logChoice(config, 'h', env);
      const daemon = await setupLoggingAsync(config, { host: 'h', env, stderrIsTty: false });
      await daemon.close(100);
      assert.equal(daemon.target.path, join(logdir, 'lavarank.h.log'));
      assert.equal(checked.chosen?.path, daemon.target.path);
      const why = `log directory ${theirs} is owned by uid 65534; it must be owned by root (chown root ${theirs})`;
      assert.deepEqual(daemon.skipped, [`${config.file} (log.file): ${why}`]);
      assert.deepEqual(checked.skipped.map((s) => [s.target.path, s.why]), [[config.file, why]]);
      assert.deepEqual(readdirSync(theirs), [], 'nothing is created in their directory');
    } finally {
      cleanup();
    }
  });
});

describe('networkNote', () => {
  // A host with two physical links up (one whose driver reports no speed, as virtio's
  // -1), one down, and lo and a bridge, which never count.
  function host(dir: string): { proc: string; sys: string } {
    const proc = join(dir, 'proc');
    const sys = join(dir, 'sys');
    mkdirSync(join(proc, 'net'), { recursive: true });
    const row = (name: string): string => `${name.padStart(6)}: 100 1 0 0 0 0 0 0 200 2 0 0 0 0 0 0`;
    writeFileSync(
      join(proc, 'net/dev'),
      ['Inter-|   Receive |  Transmit', ' face |bytes packets|bytes packets', ...['lo', 'br0', 'eth0', 'ens1', 'ens2'].map(row), ''].join('\n'),
    );
    for (const [name, state, speed] of [['eth0', 'up', '-1'], ['ens1', 'up', '10000'], ['ens2', 'down', '-1'], ['br0', 'up', '-1']] as const) {
      mkdirSync(join(sys, 'class/net', name), { recursive: true });
      if (name !== 'br0') mkdirSync(join(sys, 'class/net', name, 'device'));
      writeFileSync(join(sys, 'class/net', name, 'operstate'), `${state}\n`);
      writeFileSync(join(sys, 'class/net', name, 'speed'), `${speed}\n`);
    }
    return { proc, sys };
  }

  it('names the links that are up and report no speed, whose load the rank then leaves out, until network.link_speed is set', () => {
    const { dir, cleanup } = tempDir();
    try {
      const { proc, sys } = host(dir);
      const config = { ...defaultConfig(), proc_root: proc, sys_root: sys };
      assert.equal(networkNote(config), 'network: eth0, ens1; eth0 reports no link speed, so its load is measured against the highest rate it has carried in the last hour, at least 1 Gb/s, which anyone\'s burst of traffic raises (set network.link_speed, Mb/s, if you know it)');
      assert.equal(networkNote({ ...config, network: { link_speed: 25000 } }), 'network: eth0, ens1 (eth0 taken as 25000 Mb/s: network.link_speed)');
      writeFileSync(join(sys, 'class/net/eth0/speed'), '1000\n');
      assert.equal(networkNote(config), 'network: eth0, ens1 (link speeds from the kernel)');
    } finally {
      cleanup();
    }
  });
});

describe('networkNote of a link whose speed cannot be read', () => {
  it('counts an up link without a speed file among those that report no link speed', () => {
    const { dir, cleanup } = tempDir();
    try {
      const proc = join(dir, 'proc');
      const sys = join(dir, 'sys');
      mkdirSync(join(proc, 'net'), { recursive: true });
      writeFileSync(join(proc, 'net/dev'), 'Inter-|   Receive |  Transmit\n face |bytes packets|bytes packets\n  eth0: 100 1 0 0 0 0 0 0 200 2 0 0 0 0 0 0\n');
      mkdirSync(join(sys, 'class/net/eth0/device'), { recursive: true });
      writeFileSync(join(sys, 'class/net/eth0/operstate'), 'up\n');
      assert.match(networkNote({ ...defaultConfig(), proc_root: proc, sys_root: sys }), /^network: eth0; eth0 reports no link speed/);
    } finally {
      cleanup();
    }
  });
});

describe('pressureNote', () => {
  it('says PSI is read when /proc/pressure/cpu can be read, and that the rank estimates stall when the file is missing', () => {
    const { dir, cleanup } = tempDir();
    try {
      const config = { ...defaultConfig(), proc_root: dir };
      assert.match(pressureNote(config), new RegExp(`^pressure: no ${dir}/pressure/cpu \\(a kernel before 4\\.20, .*so the rank estimates CPU, memory and io stall from other inputs, .*boot with psi=1$`));
      mkdirSync(join(dir, 'pressure'));
      writeFileSync(join(dir, 'pressure/cpu'), 'some avg10=0.00 avg60=0.00 avg300=0.00 total=0\n');
      assert.equal(pressureNote(config), `pressure: PSI read from ${dir}/pressure/cpu`);
    } finally {
      cleanup();
    }
  });

  it('tells a kernel that has PSI but booted with it off (EOPNOTSUPP, as RHEL 8 and 9) to boot with psi=1', () => {
    assert.match(pressureNoteFor('/proc/pressure/cpu', 'EOPNOTSUPP'), /^pressure: PSI is built into this kernel but off .*boot with psi=1/);
    assert.match(pressureNoteFor('/proc/pressure/cpu', 'EACCES'), /^pressure: \/proc\/pressure\/cpu cannot be read: EACCES \(permission denied\); /);
  });
});

describe('pressureNoteFor', () => {
  it('reads ENOTSUP, the name Node gives errno 95 on Linux, as PSI built in but booted off', () => {
    assert.match(pressureNoteFor('/proc/pressure/cpu', 'ENOTSUP'), /^pressure: PSI is built into this kernel but off .*boot with psi=1/);
  });
});

describe('autogroupNote', () => {
  // proc_root's sys/kernel/sched_autogroup_enabled as the kernel writes it, and sys_root's
  // fs/cgroup/cgroup.subtree_control where cgroup v2 is mounted whole.
  function withAutogroup(dir: string, value: string | undefined, controllers?: string): Config {
    if (value !== undefined) {
      mkdirSync(join(dir, 'sys/kernel'), { recursive: true });
      writeFileSync(join(dir, 'sys/kernel/sched_autogroup_enabled'), value);
    }
    if (controllers !== undefined) {
      mkdirSync(join(dir, 'cgroup-sys/fs/cgroup'), { recursive: true });
      writeFileSync(join(dir, 'cgroup-sys/fs/cgroup/cgroup.subtree_control'), controllers);
    }
    return { ...defaultConfig(), proc_root: dir, sys_root: join(dir, 'cgroup-sys') };
  }

  it('says, with autogroup on, that sessions share the CPUs before tasks, that work in other sessions counts for more than it takes, and how to turn it off', () => {
    const { dir, cleanup } = tempDir();
    try {
      assert.match(
        autogroupNote(withAutogroup(dir, '1\n')) ?? '',
        /^cpu sharing: kernel\.sched_autogroup_enabled = 1: the kernel shares CPU time between sessions first, then between a session's tasks .*but the rank counts tasks\. OpenLava runs every job in sbatchd's session, so busy work in other sessions \(logins, lsrun through RES\) counts in the rank for its tasks but takes a session's share: jobs run faster than the rank predicts .*Set kernel\.sched_autogroup_enabled = 0 on compute nodes/,
      );
    } finally {
      cleanup();
    }
  });

  // task_wants_autogroup: a task outside the root CPU cgroup gets no session group, and
  // with cgroup v2's cpu controller on below the root, systemd leaves none of LIM's,
  // its jobs' or a login's tasks there; the remedy the note gave changed nothing.
  it("says, with cgroup v2's cpu controller on below the root, that the cgroups share the CPUs first and that autogroup, on or off, changes nothing", () => {
    const { dir, cleanup } = tempDir();
    try {
      const note = autogroupNote(withAutogroup(dir, '1\n', 'cpuset cpu io memory pids\n')) ?? '';
      assert.match(note, /^cpu sharing: cgroup v2's cpu controller is on \(\S+\/fs\/cgroup\/cgroup\.subtree_control lists cpu\): the kernel shares CPU time between the cgroups first .* so kernel\.sched_autogroup_enabled changes nothing here/);
      assert.equal(autogroupNote(withAutogroup(dir, '0\n', 'cpuset cpu io memory pids\n')), note);
      assert.match(autogroupNote(withAutogroup(dir, '1\n', 'cpuset io memory pids\n')) ?? '', /Set kernel\.sched_autogroup_enabled = 0 on compute nodes/);
    } finally {
      cleanup();
    }
  });

  it('says the CPUs are shared task by task, as the rank assumes, with autogroup off or not in the kernel', () => {
    const { dir, cleanup } = tempDir();
    try {
      assert.equal(autogroupNote(withAutogroup(dir, undefined)), 'cpu sharing: task by task, as the rank assumes (this kernel has no autogroup)');
      assert.equal(autogroupNote(withAutogroup(dir, '0\n')), 'cpu sharing: task by task, as the rank assumes (kernel.sched_autogroup_enabled = 0)');
    } finally {
      cleanup();
    }
  });
});

describe('smtNote', () => {
  it('says when the CPUs are SMT threads, how many cores they make, and says nothing when sysfs does not tell', () => {
    const { dir, cleanup } = tempDir();
    try {
      const config = { ...defaultConfig(), sys_root: dir };
      assert.equal(smtNote(config), undefined);
      const cpu = join(dir, 'devices/system/cpu');
      mkdirSync(join(cpu, 'cpu0/topology'), { recursive: true });
      writeFileSync(join(cpu, 'cpu0/topology/thread_siblings_list'), '0,2\n');
      // cpu0 says SMT, but the online CPUs' cores cannot be counted: the rank counts threads.
      assert.match(smtNote(config) ?? '', /^cpus: 2 threads per core \(SMT\), but the cores of the online CPUs cannot be counted from sysfs, so the rank counts each thread as a CPU/);
      writeFileSync(join(cpu, 'online'), '0-3\n');
      for (const [n, siblings] of [[0, '0,2'], [1, '1,3'], [2, '0,2'], [3, '1,3']] as const) {
        mkdirSync(join(cpu, `cpu${n}/topology`), { recursive: true });
        writeFileSync(join(cpu, `cpu${n}/topology/core_cpus_list`), `${siblings}\n`);
      }
      assert.match(smtNote(config) ?? '', /^cpus: 2 threads per core \(SMT\): 4 CPUs make 2 cores; the rank counts a job placed beside a busy sibling thread as sharing that core, which an assumed 25 % SMT yield makes 60 % slower/);
      writeFileSync(join(cpu, 'cpu0/topology/thread_siblings_list'), '0\n');
      assert.equal(smtNote(config), 'cpus: one thread per core');
    } finally {
      cleanup();
    }
  });
});

describe('jobCpusNote', () => {
  it("names the CPUs the rank takes jobs to be free to use: online, less isolcpus, within a running lim's affinity or cpu.job_cpus", () => {
    const { dir, cleanup } = tempDir();
    try {
      const sys = join(dir, 'sys');
      const proc = join(dir, 'proc');
      const config = { ...defaultConfig(), sys_root: sys, proc_root: proc };
      assert.equal(jobCpusNote(config), undefined, 'no online list: nothing said');
      mkdirSync(join(sys, 'devices/system/cpu'), { recursive: true });
      writeFileSync(join(sys, 'devices/system/cpu/online'), '0-3\n');
      mkdirSync(proc, { recursive: true });
      assert.equal(jobCpusNote(config), "job CPUs: all 4 online (this process's affinity, no lim running here)");
      writeFileSync(join(sys, 'devices/system/cpu/isolated'), '2\n');
      mkdirSync(join(proc, '4242'));
      writeFileSync(join(proc, '4242/comm'), 'lim\n');
      writeFileSync(join(proc, '4242/status'), 'Name:\tlim\nUid:\t0\t0\t0\t0\nCpus_allowed_list:\t0-2\n');
      mkdirSync(join(proc, '77'));
      writeFileSync(join(proc, '77/comm'), 'sbatchd\n');
      assert.match(
        jobCpusNote(config) ?? '',
        /^job CPUs: 2 of the 4 online, CPUs 0-1 \(the affinity of lim \(pid 4242\), which its elim and jobs share, isolcpus 2 left out\): the rank reads the host as a job on these sees it .*name their CPUs in cpu\.job_cpus$/,
      );
      const named = { ...config, cpu: { job_cpus: [1, 2, 3] } };
      assert.match(jobCpusNote({ ...config, cpu: { job_cpus: [0] } }) ?? '', /^job CPUs: 1 of the 4 online, CPU 0 \(cpu\.job_cpus\)/, 'one CPU named as a CPU, not read as a count');
      assert.match(jobCpusNote({ ...config, cpu: { job_cpus: [7] } }) ?? '', /^job CPUs: none of the 4 online \(cpu\.job_cpus\): the rank reads every online CPU as a job's$/, 'no online CPU named: none');
      assert.match(jobCpusNote(named) ?? '', /^job CPUs: 3 of the 4 online, CPUs 1-3 \(cpu\.job_cpus\): the rank reads the host as a job on these sees it \(their count and busy time, and the runnable tasks less one a busy CPU outside them\)$/, 'job_cpus names isolated CPUs too');
    } finally {
      cleanup();
    }
  });
});

describe('jobCpusNote on a host whose lim is pinned to one CPU', () => {
  it('gives the count before the CPU list, so that one CPU does not read as the list "0, 1"', () => {
    // On the real three-host cluster (lim pinned to CPU 0 of 2) check printed
    // "job CPUs: CPU 0, 1 of the 2 online", which reads as CPUs 0 and 1.
    const { dir, cleanup } = tempDir();
    try {
      const sys = join(dir, 'sys');
      const proc = join(dir, 'proc');
      mkdirSync(join(sys, 'devices/system/cpu'), { recursive: true });
      writeFileSync(join(sys, 'devices/system/cpu/online'), '0-1\n');
      mkdirSync(join(proc, '4242'), { recursive: true });
      writeFileSync(join(proc, '4242/comm'), 'lim\n');
      writeFileSync(join(proc, '4242/status'), 'Name:\tlim\nUid:\t0\t0\t0\t0\nCpus_allowed_list:\t0\n');
      const note = jobCpusNote({ ...defaultConfig(), sys_root: sys, proc_root: proc }) ?? '';
      assert.match(note, /^job CPUs: 1 of the 2 online, CPU 0 \(the affinity of lim \(pid 4242\)/);
      assert.doesNotMatch(note, /CPUs? 0, 1/);
    } finally {
      cleanup();
    }
  });
});

describe('jobCpusNote under a CPU quota', () => {
  it("says the rank reads the host as the CPU quota of lim's cgroup where it is fewer CPUs than a job may use", () => {
    const { dir, cleanup } = tempDir();
    try {
      const sys = join(dir, 'sys');
      const proc = join(dir, 'proc');
      const config = { ...defaultConfig(), sys_root: sys, proc_root: proc };
      mkdirSync(join(sys, 'devices/system/cpu'), { recursive: true });
      writeFileSync(join(sys, 'devices/system/cpu/online'), '0-1\n');
      // As on the OpenLava test cluster: lim pinned to CPU 1, in a v1 cpu and cpuacct group with 0.5 CPU.
      mkdirSync(join(proc, '4242'), { recursive: true });
      writeFileSync(join(proc, '4242/comm'), 'lim\n');
      writeFileSync(join(proc, '4242/status'), 'Name:\tlim\nUid:\t0\t0\t0\t0\nCpus_allowed_list:\t1\n');
      writeFileSync(join(proc, '4242/cgroup'), '4:memory:/\n2:cpuacct:/olq\n1:cpu:/olq\n0::/\n');
      writeFileSync(
        join(proc, '4242/mountinfo'),
        '31 30 0:28 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu\n32 30 0:29 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct\n',
      );
      for (const c of ['cpu/olq', 'cpuacct/olq']) mkdirSync(join(sys, 'fs/cgroup', c), { recursive: true });
      writeFileSync(join(sys, 'fs/cgroup/cpu/olq/cpu.cfs_period_us'), '100000\n');
      writeFileSync(join(sys, 'fs/cgroup/cpu/olq/cpu.cfs_quota_us'), '50000\n');
      assert.match(jobCpusNote(config) ?? '', /^job CPUs: 1 of the 2 online, CPU 1 \(the affinity of lim \(pid 4242\).*; lim's cgroup, which its elim and jobs share, has a CPU quota of 0\.5 CPUs, fewer: the rank reads the host as that many CPUs/);
      writeFileSync(join(sys, 'fs/cgroup/cpu/olq/cpu.cfs_quota_us'), '-1\n');
      assert.doesNotMatch(jobCpusNote(config) ?? '', /quota/, 'no quota: nothing said');
      writeFileSync(join(sys, 'fs/cgroup/cpu/olq/cpu.cfs_quota_us'), '150000\n');
      assert.doesNotMatch(jobCpusNote(config) ?? '', /quota/, 'a quota above the one CPU a job may use: the daemon does not count it');
    } finally {
      cleanup();
    }
  });
});

describe('lavarank check run as another user than root', () => {
  const nobody = { uid: 65534, gid: 65534 };
  const skip = process.getuid?.() !== 0 ? 'needs root to run as nobody' : !userLoadsBuild(nobody) ? 'nobody cannot read this build (made under umask 077?)' : false;
  it('warns that it judged the files as that user owns them, where the elim runs as root; as root it does not', { skip }, () => {
    const { dir, cleanup } = tempDir();
    try {
      chmodSync(dir, 0o755);
      const config = join(dir, 'lavarank.yaml');
      writeFileSync(config, 'gpu: {enabled: false}\n', { mode: 0o644 });
      chownSync(config, nobody.uid, nobody.gid);
      const r = spawnSync('setpriv', [`--reuid=${nobody.uid}`, `--regid=${nobody.gid}`, '--clear-groups', process.execPath, cliPath, 'check', '--config', config, '--cpus', '4'], { encoding: 'utf8', cwd: '/', timeout: 30_000 });
      assert.match(r.stdout, /WARNING +run as uid 65534, not root: .* run lavarank check as root/, r.stdout + r.stderr);
      assert.equal(r.status, 1);
      const root = lavarank(['check', '--config', config, '--cpus', '4']);
      assert.doesNotMatch(root.stdout, /not root/);
      assert.match(root.stdout, /CRITICAL .*owned by uid 65534/);
    } finally {
      cleanup();
    }
  });
});

describe('check --help', () => {
  it("gives as --cpus' default the CPUs the reservation is sized for: a job's CPUs where those are fewer than the host's, as recommend's help does", () => {
    const r = spawnSync(process.execPath, [cliPath, 'check', '--help'], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout.replace(/\s+/g, ' '), /--cpus N CPUs of a typical node, for the reservation \(default: this host's, or the CPUs a job may use here where those are fewer, as the rank counts them\)/);
  });
});
