import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { chooseCommand } from '../src/cli.js';
import { VERSION } from '../src/util/version.js';
import { cliPath, repoRoot, tempDir } from './helpers.js';

const COMMANDS = ['run', 'once', 'check', 'explain', 'recommend', 'calibrate', 'retrain', 'inventory', 'install'];
// No config or LSF environment from the machine running the tests.
const ENV = { PATH: process.env['PATH'] ?? '/usr/bin:/bin' };

describe('chooseCommand', () => {
  it('prints the help for a bare lavarank on a terminal', () => {
    assert.deepEqual(chooseCommand([], true), { kind: 'help' });
  });

  it('runs the elim for a bare lavarank whose stdout is a pipe, as under LIM with an old wrapper', () => {
    assert.deepEqual(chooseCommand([], false), { kind: 'command', name: 'run', args: [] });
    assert.deepEqual(chooseCommand(['--config', '/etc/l.yaml'], false), { kind: 'command', name: 'run', args: ['--config', '/etc/l.yaml'] });
  });

  it('refuses options without a command on a terminal, showing the run command they meant', () => {
    const choice = chooseCommand(['--config', '/etc/l.yaml'], true);
    assert.equal(choice.kind, 'usage-error');
    assert.match(choice.kind === 'usage-error' ? choice.message : '', /lavarank run --config \/etc\/l\.yaml$/);
  });

  it('takes -h after any command as --help, but not after --', () => {
    assert.deepEqual(chooseCommand(['check', '-h'], true), { kind: 'command', name: 'check', args: ['--help'] });
    assert.deepEqual(chooseCommand(['retrain', '--', '-h'], true), { kind: 'command', name: 'retrain', args: ['--', '-h'] });
  });

  it('answers -V and --version, and names an unknown command', () => {
    assert.deepEqual(chooseCommand(['-V'], false), { kind: 'version' });
    assert.deepEqual(chooseCommand(['--version'], true), { kind: 'version' });
    assert.deepEqual(chooseCommand(['chek'], true), { kind: 'usage-error', message: "lavarank: unknown command 'chek'" });
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

  it('runs the elim when started without arguments and stdout is a pipe', async () => {
    const { dir, cleanup } = tempDir();
    try {
      chmodSync(dir, 0o755);
      const config = join(dir, 'lavarank.yaml');
      writeFileSync(config, `log: {file: ${join(dir, 'l.log')}}\nhistory: {enabled: false}\ngpu: {enabled: false}\n`, { mode: 0o644 });
      const child = spawn(process.execPath, [cliPath], { env: { ...ENV, LAVARANK_CONFIG: config, LAVARANK_TEST_INTERVAL: '0.2' }, stdio: ['ignore', 'pipe', 'ignore'] });
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
