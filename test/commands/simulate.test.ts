import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs, { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, it, mock } from 'node:test';
import { main, parseRankRusage, progressReporter, setupSimulation, simulationOptions } from '../../src/commands/simulate.js';
import { cliPath, dirWithMode, failDirectorySync, fixture, mkfifo, repoRoot, tempDir, testDir } from '../helpers.js';

const run = (args: string[]) => spawnSync(process.execPath, [cliPath, 'simulate', ...args], { encoding: 'utf8', env: { ...process.env, LAVARANK_CONFIG: '' }, timeout: 60_000 });

describe('lavarank simulate', () => {
  it('explains itself with --help', () => {
    const r = run(['--help']);
    assert.equal(r.status, 0);
    assert.match(r.stdout, /Usage: lavarank simulate/);
    assert.match(r.stdout, /--acct FILE/);
  });

  it('replays the lsb.acct fixture on the fixture\'s hosts at a higher load, as JSON, without progress on a pipe', () => {
    const { dir, cleanup } = tempDir();
    try {
      const html = join(dir, 'report.html');
      const r = run(['--hosts', fixture('openlava', 'lshosts-l.txt'), '--hosts', fixture('openlava', 'bhosts-l.txt'), '--acct', fixture('openlava', 'lsb.acct'), '--load', '0.8', '--repeat', '2', '--seeds', '2', '--policies', 'default,rank,rank+D2,oracle', '--sweep', '2', '--json', '--html', html]);
      assert.equal(r.status, 0, r.stderr);
      assert.equal(r.stderr, '');
      const j = JSON.parse(r.stdout) as { hosts: number; jobsPerSeed: number[]; policies: Array<{ name: string; meanSlowdown: { mean: number } }> };
      assert.equal(j.hosts, 3);
      assert.deepEqual(j.jobsPerSeed, [148, 148]);
      assert.deepEqual(j.policies.map((p) => p.name), ['default', 'rank', 'oracle', 'rank+D2']); // the sweep's D after the fixed policies
      for (const p of j.policies) assert.ok(p.meanSlowdown.mean >= 1);
      assert.ok(existsSync(html));
      assert.match(readFileSync(html, 'utf8'), /<svg /);
    } finally {
      cleanup();
    }
  });

  it('refuses a bad option value with exit status 2, naming it', () => {
    const r = run(['--seeds', '0']);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /--seeds: expected/);
  });

  it('checks every option before reading an input: a bad option beside an unreadable file is exit status 2', () => {
    for (const args of [
      ['--hosts', '/nonexistent/hosts.yaml', '--jobs', 'abc'],
      ['--config', '/nonexistent/lavarank.yaml', '--interval', '0'],
      ['--acct', '/nonexistent/lsb.acct', '--load', '9'],
      ['--model', '/nonexistent/model.json', '--d', '1001', '--html', '/nonexistent/report.html'],
    ]) {
      const r = run(args);
      assert.equal(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, /--(jobs|interval|load|d): expected/, args.join(' '));
    }
  });

  it('refuses the reservation given both as --res-req and as --d, with exit status 2, rather than ignore one', () => {
    const r = run(['--res-req', 'order[rank] rusage[rank=8:duration=45s:decay=1]', '--d', '2']);
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, /--res-req and --d\/--t contradict each other/);
  });

  it('refuses --load together with --speedup, with exit status 2, rather than ignore one', () => {
    const r = run(['--acct', fixture('openlava', 'lsb.acct'), '--load', '0.9', '--speedup', '2']);
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, /--load and --speedup contradict each other/);
  });

  it('refuses --load without --acct, with exit status 2, rather than ignore it', () => {
    const r = run(['--load', '5']);
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, /--load applies to a replay of --acct only/);
  });

  it('refuses a generated workload\'s option with --acct, with exit status 2, rather than ignore it', () => {
    const r = run(['--acct', fixture('openlava', 'lsb.acct'), '--utilisation', '0.9']);
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, /--utilisation applies to a generated workload only/);
  });
});

describe('lavarank simulate --html', () => {
  it('refuses to write the report over one of its inputs, with exit status 2, leaving it whole', () => {
    const { dir, cleanup } = tempDir();
    try {
      const acct = join(dir, 'lsb.acct');
      writeFileSync(acct, readFileSync(fixture('openlava', 'lsb.acct')));
      const before = readFileSync(acct);
      const r = run(['--hosts', fixture('openlava', 'lshosts-l.txt'), '--acct', acct, '--html', acct]);
      assert.equal(r.status, 2, r.stderr);
      assert.match(r.stderr, /--html .*lsb\.acct is the input --acct .*lsb\.acct; writing the report would destroy it/);
      assert.deepEqual(readFileSync(acct), before);
      // The model the config names, given by neither --model nor --acct.
      const model = join(dir, 'site-model.json');
      writeFileSync(model, readFileSync(join(repoRoot, 'models', 'default.json')), { mode: 0o644 });
      const config = join(dir, 'lavarank.yaml');
      writeFileSync(config, `model: ${model}\n`, { mode: 0o644 });
      const m = run(['--hosts', fixture('openlava', 'lshosts-l.txt'), '--acct', acct, '--config', config, '--html', model]);
      assert.equal(m.status, 2, m.stderr);
      assert.match(m.stderr, /--html .*site-model\.json is the model .*site-model\.json/);
      assert.deepEqual(readFileSync(model), readFileSync(join(repoRoot, 'models', 'default.json')));
    } finally {
      cleanup();
    }
  });
});

describe('lavarank simulate --html in a place it cannot be written', () => {
  it('names --html and its missing directory, before the simulation, not a temp file after it', () => {
    const r = run(['--synthetic', '2', '--jobs', '10', '--seeds', '1', '--html', '/nonexistent-lavarank-dir/report.html']);
    assert.equal(r.status, 1, r.stderr);
    assert.equal(r.stderr, 'lavarank simulate: --html /nonexistent-lavarank-dir/report.html: cannot write into /nonexistent-lavarank-dir: the directory does not exist\n');
    assert.equal(r.stdout, '');
  });

  // Whoever can change the directory could swap it for their link to one of root's
  // between the steps of the write (4a88fce): refused before hours of simulation.
  it('refuses --html in a directory others can write, before the simulation, naming the directory', { skip: process.geteuid?.() === 0 ? false : 'the refusal binds root alone (3946ef4): a user\'s own write lands only where that user may write' }, () => {
    const { dir, cleanup } = tempDir();
    try {
      const open = dirWithMode(dir, 'open', 0o777);
      const r = run(['--synthetic', '2', '--jobs', '10', '--seeds', '1', '--html', join(open, 'report.html')]);
      assert.equal(r.status, 1, r.stderr);
      assert.match(r.stderr, new RegExp(`^lavarank simulate: --html ${open}/report\\.html: HTML report directory ${open} has mode 0777`));
      assert.equal(r.stdout, '', 'no simulation ran');
      assert.deepEqual(readdirSync(open), []);
    } finally {
      cleanup();
    }
  });

  it('names --html when it is a directory, rather than fail renaming a temp file onto it', () => {
    const { dir, cleanup } = tempDir();
    try {
      const r = run(['--synthetic', '2', '--jobs', '10', '--seeds', '1', '--html', dir]);
      assert.equal(r.status, 1, r.stderr);
      assert.equal(r.stderr, `lavarank simulate: --html ${dir}: exists and is not a regular file\n`);
    } finally {
      cleanup();
    }
  });
});

describe('lavarank simulate --html on a full disk', () => {
  // Reproduced on a full tmpfs: "lavarank simulate: ENOSPC: no space left on device, write", no file named.
  it('names --html and the reason, exits with an error and leaves the report there as it was', async (t) => {
    const dir = testDir(t);
    const html = join(dir, 'report.html');
    writeFileSync(html, 'the last report\n');
    const original = fs.writeSync;
    const write = mock.method(fs, 'writeSync', (...args: Parameters<typeof fs.writeSync>) => {
      if (typeof args[0] === 'number' && /\/\.report\.html\.[^/]*\.tmp$/.test(fs.readlinkSync(`/proc/self/fd/${args[0]}`))) {
        throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
      }
      return (original as (...a: unknown[]) => number)(...args);
    });
    syncBuiltinESMExports();
    try {
      await assert.rejects(main(['--synthetic', '2', '--jobs', '10', '--seeds', '1', '--html', html]), {
        message: `--html ${html}: cannot be written: ENOSPC: no space left on device, write; any file there is unchanged`,
      });
      assert.equal(readFileSync(html, 'utf8'), 'the last report\n');
      assert.deepEqual(fs.readdirSync(dir), ['report.html']);
    } finally {
      write.mock.restore();
      syncBuiltinESMExports();
    }
  });
});

describe('lavarank simulate --html whose directory cannot be synced', () => {
  // EIO from fsync of the directory after the rename (strace's fault injection on a real
  // run): the report had been replaced, and the message said any file there was unchanged.
  it('says the report was written and that the sync failed, not that the file is unchanged', async (t) => {
    const dir = testDir(t);
    const html = join(dir, 'report.html');
    writeFileSync(html, 'the last report\n');
    const restoreSync = failDirectorySync();
    try {
      await assert.rejects(main(['--synthetic', '2', '--jobs', '10', '--seeds', '1', '--html', html]), {
        message: `--html ${html} was written, but its directory ${dir} could not be synced: EIO (i/o error); after a crash ${html} may be as it was before`,
      });
      assert.match(readFileSync(html, 'utf8'), /^<!DOCTYPE html>/);
    } finally {
      restoreSync();
    }
  });
});

describe('lavarank simulate --acct', () => {
  it('names the --acct file that has no job that ran', () => {
    const { dir, cleanup } = tempDir();
    try {
      const acct = join(dir, 'lsb.acct');
      writeFileSync(acct, '');
      const r = run(['--synthetic', '2', '--seeds', '1', '--acct', acct]);
      assert.equal(r.status, 1, r.stderr);
      assert.equal(r.stderr, `lavarank simulate: --acct ${acct}: the accounting file has no job that ran (a start time and an execution host)\n`);
    } finally {
      cleanup();
    }
  });

  it('refuses a FIFO at once and a directory by name, rather than wait on the one for ever and say EISDIR of the other', () => {
    const { dir, cleanup } = tempDir();
    try {
      const fifo = join(dir, 'lsb.acct');
      mkfifo(fifo);
      for (const [acct, what] of [[fifo, 'not a regular file'], [dir, 'a directory']] as const) {
        const r = run(['--synthetic', '2', '--seeds', '1', '--acct', acct]);
        assert.equal(r.signal, null, `${acct}: still reading when killed`);
        assert.equal(r.status, 1, r.stderr);
        assert.equal(r.stderr, `lavarank simulate: --acct ${acct}: ${what}; expected an lsb.acct file\n`);
      }
    } finally {
      cleanup();
    }
  });

  it('says how many lines it skipped and why, instead of replaying fewer jobs silently', () => {
    const { dir, cleanup } = tempDir();
    try {
      const lines = readFileSync(fixture('openlava', 'lsb.acct'), 'utf8').split('\n');
      const bad = lines[0]!.split(' ');
      bad[4] = 'x';
      const acct = join(dir, 'lsb.acct');
      writeFileSync(acct, [...lines.slice(0, 10), bad.join(' '), 'garbage', ...lines.slice(10)].join('\n'));
      const r = run(['--hosts', fixture('openlava', 'lshosts-l.txt'), '--acct', acct, '--seeds', '1', '--json']);
      assert.equal(r.status, 0, r.stderr);
      assert.match(r.stderr, /--acct .*lsb\.acct: skipped 2 malformed \(the first: .*lsb\.acct:11: field 5 \(userId\): expected an integer, found "x"\)/);
    } finally {
      cleanup();
    }
  });

  // A job's directory with a newline splits its line, and what follows the newline is
  // the user's; JSON.stringify quoted it with DEL and C1 as they came (U+009B is CSI).
  it('writes the first malformed line\'s field with its DEL and C1 controls escaped, as root\'s terminal would obey them', () => {
    const { dir, cleanup } = tempDir();
    try {
      const acct = join(dir, 'lsb.acct');
      writeFileSync(acct, `${readFileSync(fixture('openlava', 'lsb.acct'), 'utf8')}\u009b2J\u007f"JOB_FINISH" x\n`);
      const r = run(['--hosts', fixture('openlava', 'lshosts-l.txt'), '--acct', acct, '--seeds', '1', '--json']);
      assert.equal(r.status, 0, r.stderr);
      assert.match(r.stderr, /skipped 1 malformed \(the first: .*: stray quote in field "\\u009b2J\\u007f\\"JOB_FINISH\\"" at column 1\)/);
      assert.doesNotMatch(r.stderr, /[\x7f-\x9f]/);
    } finally {
      cleanup();
    }
  });
});

describe('parseRankRusage', () => {
  it('reads D and T from the queue\'s RES_REQ, and refuses a string without them', () => {
    assert.deepEqual(parseRankRusage('order[rank] rusage[rank=8:duration=45s:decay=1]'), { d: 8, t: 45, decay: 1 });
    assert.deepEqual(parseRankRusage('rusage[mem=100:rank=2.5:duration=1m:decay=1]'), { d: 2.5, t: 60, decay: 1 });
    // A bare duration is minutes, as OpenLava (and lavarank check) read it.
    assert.deepEqual(parseRankRusage('rusage[rank=8:duration=2:decay=1]'), { d: 8, t: 120, decay: 1 });
    assert.throws(() => parseRankRusage('order[rank]'), /--res-req: expected rusage\[rank=D:duration=T/);
    assert.throws(() => parseRankRusage('rusage[rank=:duration=45s]'), /--res-req/);
  });

  it('reads a RES_REQ without decay= as a reservation held whole until T (decay 0), as mbatchd holds it', () => {
    assert.deepEqual(parseRankRusage('order[rank] rusage[rank=8:duration=45s]'), { d: 8, t: 45, decay: 0 });
  });

  it('reads the reservation of the resource the RES_REQ orders by, as a queue of a config with resource: lrank has it', () => {
    assert.deepEqual(parseRankRusage('order[lrank] rusage[lrank=8:duration=45s:decay=1]'), { d: 8, t: 45, decay: 1 });
    assert.throws(() => parseRankRusage('order[lrank] rusage[rank=8:duration=45s:decay=1]'), /--res-req: expected rusage\[lrank=D:duration=T/);
  });

  it('keeps the decay the RES_REQ gives', () => {
    assert.equal(parseRankRusage('order[rank] rusage[rank=8:duration=45s:decay=2]').decay, 2);
  });

  it('refuses a decay that is not a number, naming --res-req', () => {
    assert.throws(() => parseRankRusage('rusage[rank=8:duration=45s:decay=x]'), { name: 'UsageError', message: /^--res-req: expected decay= a number >= 0/ });
  });
});

describe('simulationOptions', () => {
  it('refuses --synthetic beside --hosts, which would replace it, rather than ignore it', () => {
    assert.throws(() => simulationOptions({ hosts: ['lshosts.txt'], synthetic: '40' }), { name: 'UsageError', message: /--hosts and --synthetic contradict each other/ });
  });

  it('runs --seeds seeds in a row from --seed', () => {
    assert.deepEqual(simulationOptions({ seed: '7', seeds: '3' }).seeds, [7, 8, 9]);
  });

  it('sweeps D over 0,2,5,10,20,40 by default', () => {
    assert.deepEqual(simulationOptions({}).sweep, [0, 2, 5, 10, 20, 40]);
  });

  it('takes a --runtime whose MIN equals its MAX', () => {
    const o = simulationOptions({ runtime: '60,60' });
    assert.ok('generate' in o.workload);
    assert.deepEqual([o.workload.generate.runtimeMin, o.workload.generate.runtimeMax], [60, 60]);
  });

  it('refuses a --burst whose size is not a whole number of jobs', () => {
    assert.throws(() => simulationOptions({ burst: '0.5,2.5' }), { name: 'UsageError', message: '--burst: expected SHARE,SIZE: a share from 0 to 1 and a whole number of jobs of at least 1, received "0.5,2.5"' });
  });

  it('refuses a --background share past 0.95', () => {
    assert.throws(() => simulationOptions({ background: '1' }), { name: 'UsageError', message: /^--background: expected a number from 0 to 0\.95/ });
  });

  it('refuses an --interval under LIM\'s 5 s poll, where LIM falls behind the reports, rather than simulate fresher ranks', () => {
    assert.throws(() => simulationOptions({ interval: '2' }), { name: 'UsageError', message: /^--interval: expected seconds from 5 to 3600 \(under 5 s LIM falls behind the elim's reports/ });
    assert.equal(simulationOptions({ interval: '5' }).interval, 5);
  });

  it('refuses --acct together with --generate rather than ignore one', () => {
    assert.throws(() => simulationOptions({ acct: '/x/lsb.acct', generate: true }), { name: 'UsageError', message: '--acct and --generate: choose one' });
  });
});

describe('setupSimulation', () => {
  it('takes the elim interval from --interval and the reservation from --d and --t, and leaves D 0 out of the sweep', async () => {
    const setup = await setupSimulation({ synthetic: '4', interval: '7', d: '3', t: '30', sweep: '0,5' });
    assert.equal(setup.input.scheduler?.elimInterval, 7);
    assert.deepEqual([setup.recommended.d, setup.recommended.t, setup.recommended.from], [3, 30, '--d']);
    assert.ok(!setup.input.policies.some((p) => p.name === 'rank+D0'), setup.input.policies.map((p) => p.name).join(', '));
    assert.ok(setup.input.policies.some((p) => p.name === 'rank+D5'));
  });

  it('simulates the --res-req reservation with the RES_REQ\'s decay: none given is the whole D held until T', async () => {
    const setup = await setupSimulation({ synthetic: '4', 'res-req': 'order[rank] rusage[rank=8:duration=45s]', sweep: '0,5' });
    for (const name of ['rank+D8', 'typed+D8', 'rank+D5']) {
      assert.deepEqual(setup.input.policies.find((p) => p.name === name)?.reservation, { value: name === 'rank+D5' ? 5 : 8, duration: 45, decay: 0 }, name);
    }
  });

  it('refuses a config whose interval is under LIM\'s 5 s poll when no --interval replaces it, naming the config\'s interval', async () => {
    const { dir, cleanup } = tempDir();
    try {
      const config = join(dir, 'lavarank.yaml');
      writeFileSync(config, 'interval: 3\n');
      await assert.rejects(setupSimulation({ synthetic: '4', config }), { name: 'ConfigError', message: /^the config's interval 3 s cannot be simulated: under 5 s LIM falls behind .*; give --interval 5 or more$/ });
      assert.equal((await setupSimulation({ synthetic: '4', config, interval: '10' })).input.scheduler?.elimInterval, 10);
    } finally {
      cleanup();
    }
  });

  it('refuses a --policies list naming one policy it does not know, naming it', async () => {
    await assert.rejects(setupSimulation({ synthetic: '4', policies: 'rank,bogus' }), { name: 'UsageError', message: /^--policies: unknown bogus; known: / });
  });
});

describe('parseRankRusage of no reservation', () => {
  it('reads a D of 0 from the RES_REQ, a queue that reserves nothing', () => {
    assert.deepEqual(parseRankRusage('order[rank] rusage[rank=0:duration=45s:decay=1]'), { d: 0, t: 45, decay: 1 });
  });
});

describe('progressReporter', () => {
  it('draws a bar redrawn in place on a terminal, and nothing elsewhere', () => {
    assert.equal(progressReporter(false), undefined);
    // On a terminal it writes to fd 2 itself: run it in a child whose stderr is a pipe.
    const module = pathToFileURL(join(cliPath, '..', 'commands', 'simulate.js')).href;
    const code = `import(${JSON.stringify(module)}).then((m) => m.progressReporter(true)({ run: 1, runs: 2, policy: 'rank', seed: 3, finished: 5, jobs: 10 }))`;
    const r = spawnSync(process.execPath, ['-e', code], { encoding: 'utf8', timeout: 30_000 });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, /^\r\[#{8}\.{22}\]  25%  run 1\/2 rank seed 3\x1b\[K$/);
  });
});
