import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { chooseCommand, COMMAND_HELD_LIMIT_MS, heldLimitMs, LONG_RUN_HELD_LIMIT_MS, startedByLim } from '../src/cli.js';
import { VERSION } from '../src/util/version.js';
import { cliPath, fixture, portsAfterSigusr1, repoRoot, startReadingFifo, tempDir } from './helpers.js';

const COMMANDS = ['run', 'once', 'check', 'explain', 'recommend', 'calibrate', 'retrain', 'inventory', 'install'];
// No config or LSF environment from the machine running the tests.
const ENV = { PATH: process.env['PATH'] ?? '/usr/bin:/bin' };

describe('chooseCommand', () => {
  it('prints the help for a bare lavarank on a terminal', () => {
    assert.deepEqual(chooseCommand([], true, false), { kind: 'help' });
  });

  it('runs the elim for a bare lavarank whose stdout is a pipe, as under LIM with an old wrapper', () => {
    assert.deepEqual(chooseCommand([], false, true), { kind: 'command', name: 'run', args: [] });
    assert.deepEqual(chooseCommand(['--config', '/etc/l.yaml'], false, true), { kind: 'command', name: 'run', args: ['--config', '/etc/l.yaml'] });
  });

  it('prints the help for a bare lavarank whose stdout is a pipe outside LIM (lavarank | less), and runs no second elim', () => {
    assert.deepEqual(chooseCommand([], false, false), { kind: 'help' });
    const choice = chooseCommand(['--config', '/etc/l.yaml'], false, false);
    assert.equal(choice.kind, 'usage-error');
    assert.match(choice.kind === 'usage-error' ? choice.message : '', /lavarank run --config \/etc\/l\.yaml$/);
  });

  it('takes LIM for the starter where LSF_RESOURCES or LS_ELIM_RESOURCES is set, as LIM and MELIM set them, and only there', () => {
    assert.equal(startedByLim({ LSF_RESOURCES: 'rank ' }), true);
    assert.equal(startedByLim({ LS_ELIM_RESOURCES: 'r15s r1m rank' }), true);
    // OpenLava 4.0's LIM sets it whatever it holds (lim.rload.c: putEnv of an empty
    // resbuf where no dynamic resource is this host's); IBM's checking header lets that run.
    assert.equal(startedByLim({ LSF_RESOURCES: '' }), true);
    assert.equal(startedByLim({ PATH: '/usr/bin', LSF_ENVDIR: '/opt/openlava/etc' }), false);
  });

  it('refuses options without a command on a terminal, showing the run command they meant', () => {
    const choice = chooseCommand(['--config', '/etc/l.yaml'], true, false);
    assert.equal(choice.kind, 'usage-error');
    assert.match(choice.kind === 'usage-error' ? choice.message : '', /lavarank run --config \/etc\/l\.yaml$/);
  });

  it('takes -h after any command as --help, but not after --', () => {
    assert.deepEqual(chooseCommand(['check', '-h'], true, false), { kind: 'command', name: 'check', args: ['--help'] });
    assert.deepEqual(chooseCommand(['retrain', '--', '-h'], true, false), { kind: 'command', name: 'retrain', args: ['--', '-h'] });
  });

  it('prints the help for the word help, as for -h and --help', () => {
    for (const first of ['help', '-h', '--help']) assert.deepEqual(chooseCommand([first], true, false), { kind: 'help' }, first);
  });

  it('takes a single-dash option before any command as an option of run, not as a command', () => {
    assert.deepEqual(chooseCommand(['-x'], false, true), { kind: 'command', name: 'run', args: ['-x'] });
    assert.match(JSON.stringify(chooseCommand(['-x'], true, false)), /no command given/);
  });

  it('takes -h as --help for the run a bare lavarank with stdout a pipe stands for', () => {
    assert.deepEqual(chooseCommand(['--config', '/etc/l.yaml', '-h'], false, true), { kind: 'command', name: 'run', args: ['--config', '/etc/l.yaml', '--help'] });
  });

  it('names a property every object has (toString, constructor, __proto__) as an unknown command', () => {
    for (const name of ['toString', 'constructor', '__proto__', 'hasOwnProperty']) {
      assert.deepEqual(chooseCommand([name], true, false), { kind: 'usage-error', message: `lavarank: unknown command '${name}'` });
    }
  });

  it('answers -V and --version, and names an unknown command', () => {
    assert.deepEqual(chooseCommand(['-V'], false, true), { kind: 'version' });
    assert.deepEqual(chooseCommand(['--version'], true, false), { kind: 'version' });
    assert.deepEqual(chooseCommand(['chek'], true, false), { kind: 'usage-error', message: "lavarank: unknown command 'chek'" });
  });
});

describe('lavarank on the command line', () => {
  it('prints its version for -V and --version', () => {
    for (const flag of ['-V', '--version']) {
      const r = spawnSync(process.execPath, [cliPath, flag], { encoding: 'utf8', env: ENV });
      assert.equal(r.status, 0, r.stderr);
      assert.equal(r.stdout, `${VERSION}\n`);
    }
  });

  for (const name of COMMANDS) {
    it(`prints the usage of ${name} on stdout for -h, and exits 0`, () => {
      const r = spawnSync(process.execPath, [cliPath, name, '-h'], { encoding: 'utf8', env: ENV });
      assert.equal(r.status, 0, r.stderr);
      assert.match(r.stdout, new RegExp(`^Usage: lavarank ${name}\\b`));
      assert.equal(r.stderr, '');
    });
  }

  it('prints a command\'s help without a second Node process: it asks no file system, so it needs no supervising child', { skip: spawnSync('strace', ['-V']).status === 0 ? false : 'needs strace' }, () => {
    const { dir, cleanup } = tempDir();
    try {
      const trace = join(dir, 'execve');
      const r = spawnSync('strace', ['-f', '-qq', '-e', 'trace=execve', '-o', trace, process.execPath, cliPath, 'check', '-h'], { encoding: 'utf8', env: ENV });
      assert.equal(r.status, 0, r.stderr);
      assert.match(r.stdout, /^Usage: lavarank check\b/);
      const execs = readFileSync(trace, 'utf8').split('\n').filter((l) => / execve\(.* = 0$/.test(l));
      assert.equal(execs.length, 1, execs.join('\n'));
    } finally {
      cleanup();
    }
  });

  it('runs the elim when LIM starts it without arguments (LSF_RESOURCES set) and stdout is a pipe', async () => {
    const { dir, cleanup } = tempDir();
    try {
      chmodSync(dir, 0o755);
      const config = join(dir, 'lavarank.yaml');
      writeFileSync(config, `log: {file: ${join(dir, 'l.log')}}\nhistory: {enabled: false}\ngpu: {enabled: false}\n`, { mode: 0o644 });
      const child = spawn(process.execPath, [cliPath], { env: { ...ENV, LSF_RESOURCES: 'rank ', LAVARANK_CONFIG: config, LAVARANK_TEST_INTERVAL: '0.2' }, stdio: ['ignore', 'pipe', 'ignore'] });
      const line = await new Promise<string>((resolve, reject) => {
        let text = '';
        child.stdout.on('data', (chunk: Buffer) => {
          text += chunk.toString();
          if (text.includes('\n')) resolve(text.split('\n')[0]!);
        });
        child.on('exit', (code) => reject(new Error(`exited ${code} before a report`)));
      });
      child.kill('SIGTERM');
      assert.match(line, /^1 rank \d+(\.\d+)?$/);
    } finally {
      cleanup();
    }
  });

  it('prints its help and starts no elim when an administrator pipes a bare lavarank outside LIM (lavarank | less)', () => {
    const { dir, cleanup } = tempDir();
    try {
      chmodSync(dir, 0o755);
      const log = join(dir, 'l.log');
      const config = join(dir, 'lavarank.yaml');
      writeFileSync(config, `log: {file: ${log}}\nhistory: {enabled: false}\ngpu: {enabled: false}\n`, { mode: 0o644 });
      const r = spawnSync(process.execPath, [cliPath], { env: { ...ENV, LAVARANK_CONFIG: config, LAVARANK_TEST_INTERVAL: '0.2' }, encoding: 'utf8', timeout: 30_000 });
      assert.equal(r.status, 0, r.stderr);
      assert.match(r.stdout, /^Usage: lavarank /);
      assert.doesNotMatch(r.stdout, /^1 rank/m);
      assert.throws(() => readFileSync(log), { code: 'ENOENT' }, 'no elim started, so nothing logged');
    } finally {
      cleanup();
    }
  });

  it("opens no inspector at SIGUSR1 in any command, not only run: calibrate and retrain run as root for hours, and Node's would take any local user's code on 127.0.0.1:9229", async () => {
    // simulate reading its accounting file from a pipe that stays open: a command
    // that waits, past its start, as long as the test wants.
    const run = await startReadingFifo([cliPath, 'simulate', '--acct', '/dev/fd/0'], ENV);
    try {
      assert.deepEqual(await portsAfterSigusr1(run.child.pid!), []);
      assert.deepEqual(await portsAfterSigusr1(run.reader), []);
      assert.deepEqual(await run.finish(), { code: 1, signal: null }, 'an empty accounting file is refused, as without the signal');
    } finally {
      run.cleanup();
    }
  });
});


// The rule of README's "Exit statuses": 2 when the command line is wrong in itself, 1
// for every other error (an input that cannot be read or used, a file in the way).
describe('exit statuses', () => {
  // `run` with stdout a pipe logs its refusal as under LIM: into this directory, not the
  // test machine's /var/log/lavarank (the suite may run as root on a real node).
  const { dir: logdir, cleanup } = tempDir();
  after(cleanup);
  const lavarank = (args: string[]) => spawnSync(process.execPath, [cliPath, ...args], { encoding: 'utf8', env: { ...ENV, LSF_LOGDIR: logdir }, timeout: 60_000 });
  const hosts = fixture('openlava', 'lshosts-l.txt');

  it('exits 2 for an unknown command, naming it on stderr with the usage, and writes nothing to stdout', () => {
    for (const name of ['chek', 'toString']) {
      const r = lavarank([name]);
      assert.equal(r.status, 2, r.stderr);
      assert.equal(r.stdout, '');
      assert.match(r.stderr, new RegExp(`^lavarank: unknown command '${name}'\\n\\nUsage: lavarank \\[COMMAND\\]`));
    }
  });

  for (const name of COMMANDS) {
    it(`${name} exits 2 for an unknown option, naming it`, () => {
      const r = lavarank([name, '--no-such-option']);
      assert.equal(r.status, 2, r.stderr);
      assert.match(r.stderr, /--no-such-option/);
      if (name === 'run') assert.match(readFileSync(join(logdir, `lavarank.${hostname()}.log`), 'utf8'), /--no-such-option.*"msg":"cannot start: invalid command line"/);
    });
  }

  it('exits 2 for an option that takes one value given twice, naming both values, where the second would have replaced the first', () => {
    for (const args of [['simulate', '--acct', hosts, '--acct', join(logdir, 'lsb.acct')], ['check', '--config', '/a.yaml', '--config', '/b.yaml'], ['install', '--serverdir', '/a', '--serverdir', '/b']]) {
      const r = lavarank(args);
      assert.equal(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, new RegExp(`^lavarank ${args[0]}: ${args[1]}: given twice, "${args[2]}" then "${args[4]}"; it takes one value\\n`));
    }
  });

  it('run with stdout a pipe and stderr closed, as under LIM, logs a bad option (a quoted ELIMARGS gives one) in its log file and exits 2', () => {
    const { dir, cleanup } = tempDir();
    try {
      // OpenLava passes ELIMARGS = "--config /x.yaml" as the one argument '--config /x.yaml'.
      const r = spawnSync(process.execPath, [cliPath, 'run', '--config /x.yaml'], { encoding: 'utf8', env: { ...ENV, LSF_LOGDIR: dir }, stdio: ['ignore', 'pipe', 'ignore'], timeout: 60_000 });
      assert.equal(r.status, 2);
      assert.equal(r.stdout, '', 'no report');
      const lines = readFileSync(join(dir, `lavarank.${hostname()}.log`), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { level: number | string; msg: string; problems: string[] });
      assert.equal(lines.length, 1);
      assert.equal(lines[0]!.msg, 'cannot start: invalid command line');
      assert.match(lines[0]!.problems.join(' '), /Unknown option '--config \/x\.yaml'.*ELIMARGS/);
    } finally {
      cleanup();
    }
  });

  it('run --help started by the installed wrapper with stdout a pipe (ELIMARGS under LIM) logs the refusal and exits 2, writing no usage to LIM', () => {
    const { dir, cleanup } = tempDir();
    try {
      const r = spawnSync(process.execPath, [cliPath, 'run', '--help'], { encoding: 'utf8', env: { ...ENV, LSF_LOGDIR: dir, LAVARANK_LIM_PID: String(process.pid) }, stdio: ['ignore', 'pipe', 'ignore'], timeout: 60_000 });
      assert.equal(r.status, 2);
      assert.equal(r.stdout, '', 'nothing for LIM to read as a report');
      const lines = readFileSync(join(dir, `lavarank.${hostname()}.log`), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { msg: string; problems: string[] });
      assert.equal(lines.length, 1);
      assert.equal(lines[0]!.msg, 'cannot start: invalid command line');
      assert.match(lines[0]!.problems.join(' '), /--help .*ELIMARGS/);
    } finally {
      cleanup();
    }
  });

  it('exits 2 for an option value out of range, also where the simulator reads it (recommend --hosts)', () => {
    for (const args of [
      ['recommend', '--hosts', hosts, '--seeds', '0'],
      ['recommend', '--hosts', hosts, '--sweep', 'x'],
      ['simulate', '--hosts', hosts, '--seeds', '0'],
      ['simulate', '--runtime', '100,10'],
      ['simulate', '--burst', '2,3'],
      ['simulate', '--mix', '0,0,0'],
    ]) {
      const r = lavarank(args);
      assert.equal(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, new RegExp(`^lavarank ${args[0]!}: ${args[args.length - 2]!}: expected `), args.join(' '));
    }
  });

  it('exits 2 when an output option names one of the inputs, in retrain as in simulate', () => {
    const { dir, cleanup } = tempDir();
    try {
      const acct = join(dir, 'lsb.acct');
      writeFileSync(acct, '');
      const r = lavarank(['retrain', '--dry-run', '--acct', acct, '--history', dir, '--out', join(dir, 'model.json'), '--report', acct]);
      assert.equal(r.status, 2, r.stderr);
      assert.match(r.stderr, /--report .*lsb\.acct is the input --acct/);
    } finally {
      cleanup();
    }
  });

  it('exits 1 for an input file that cannot be read or used, even one named by an option', () => {
    const { dir, cleanup } = tempDir();
    try {
      chmodSync(dir, 0o755);
      const config = join(dir, 'lavarank.yaml');
      writeFileSync(config, 'no_such_key: 1\n', { mode: 0o644 });
      for (const args of [
        ['simulate', '--hosts', join(dir, 'missing-hosts')],
        ['recommend', '--hosts', join(dir, 'missing-hosts')],
        ['recommend', '--model', join(dir, 'missing-model.json')],
        ['retrain', '--acct', join(dir, 'missing-acct'), '--history', dir, '--out', join(dir, 'model.json'), '--dry-run'],
        ...['once', 'explain', 'recommend', 'simulate'].map((name) => [name, '--config', config]),
      ]) {
        const r = lavarank(args);
        assert.equal(r.status, 1, `${args.join(' ')}: ${r.stderr}`);
        assert.doesNotMatch(r.stderr, /--help/, args.join(' '));
      }
    } finally {
      cleanup();
    }
  });

  for (const script of ['retrain', 'calibrate']) {
    it(`scripts/${script} exits as lavarank ${script} does: 2 for an unknown option`, () => {
      const r = spawnSync(process.execPath, [join(repoRoot, 'scripts', script), '--no-such-option'], { encoding: 'utf8', env: ENV });
      assert.equal(r.status, 2, r.stderr);
      assert.equal(r.stderr, `lavarank ${script}: Unknown option '--no-such-option'\nTry "lavarank ${script} --help".\n`);
    });
  }
});

// Starts the program with stdout a pipe whose reader is gone before it writes.
function withClosedStdout(args: string[], env: NodeJS.ProcessEnv = ENV): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.destroy();
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('close', (code) => resolve({ code, stderr }));
  });
}

describe('an output that cannot be written (lavarank ... > /dev/full)', () => {
  it('says so in one line and exits 1 for the help and the version as for a command, with no stack trace', () => {
    for (const args of [['--help'], ['--version'], ['inventory', '--help']]) {
      const r = spawnSync(process.execPath, [cliPath, ...args], { encoding: 'utf8', env: ENV, stdio: ['ignore', openSync('/dev/full', 'w'), 'pipe'] });
      assert.equal(r.status, 1, args.join(' '));
      assert.match(r.stderr, /^lavarank( inventory)?: cannot write to stdout: ENOSPC: no space left on device, write\n$/, args.join(' '));
    }
  });
});

describe('a closed output pipe (lavarank ... | head)', () => {
  it('leaves check quiet, with its own exit status', async () => {
    const { dir, cleanup } = tempDir();
    try {
      chmodSync(dir, 0o755);
      const config = join(dir, 'lavarank.yaml');
      writeFileSync(config, `log: {file: ${join(dir, 'l.log')}}\nhistory: {dir: ${dir}}\ngpu: {enabled: false}\n`, { mode: 0o644 });
      const r = await withClosedStdout([cliPath, 'check', '--config', config]);
      assert.equal(r.stderr, '');
      assert.equal(r.code, 0);
    } finally {
      cleanup();
    }
  });

  it('leaves the help and recommend quiet, exit 0', async () => {
    for (const args of [['--help'], ['recommend', '--cpus', '16']]) {
      const r = await withClosedStdout([cliPath, ...args]);
      assert.deepEqual(r, { code: 0, stderr: '' }, args.join(' '));
    }
  });

  it('lets install-elim finish a dry run quietly, exit 0', async () => {
    const { dir, cleanup } = tempDir();
    try {
      chmodSync(dir, 0o755);
      const serverdir = join(dir, 'sbin');
      mkdirSync(serverdir, { mode: 0o755 });
      const r = await withClosedStdout([join(repoRoot, 'scripts', 'install-elim'), '--dry-run', '--serverdir', serverdir]);
      assert.deepEqual(r, { code: 0, stderr: '' });
    } finally {
      cleanup();
    }
  });
});

describe('heldLimitMs', () => {
  const limit = (argv: string[]): number | undefined => {
    const choice = chooseCommand(argv, true, false);
    assert.equal(choice.kind, 'command');
    return heldLimitMs(choice as Extract<typeof choice, { kind: 'command' }>);
  };

  it('limits the commands an administrator waits for at a prompt, or a script runs on every host', () => {
    for (const argv of [['check'], ['once', '--json'], ['explain'], ['calibrate', '--summary', 'd.jsonl'], ['calibrate', '--finalize', 'j', '--out', 'o'], ['install', '--dry-run'], ['simulate']]) {
      assert.equal(limit(argv), COMMAND_HELD_LIMIT_MS, argv.join(' '));
    }
  });

  // Unlimited, a user's silent mount on retrain's path held a cron retrain, and its lock,
  // for good: every later run refused to start (hostile26).
  it('gives the long runs a limit long enough to wait out an NFS failover', () => {
    for (const argv of [['retrain', '--acct', '/x'], ['calibrate', '--out', 'd.jsonl']]) {
      const ms = limit(argv);
      assert.equal(ms, LONG_RUN_HELD_LIMIT_MS, argv.join(' '));
      assert.ok(ms !== undefined && ms >= 10 * 60_000 && ms <= 60 * 60_000, `${argv.join(' ')}: ${ms} ms`);
    }
  });
});
