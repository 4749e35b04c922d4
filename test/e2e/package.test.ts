// Builds both release artifacts from a fresh clone of this repository (its last
// commit: uncommitted changes are not in a clone) as a release manager would,
// `npm ci && npm run bundle` (which runs `npm pack`), then installs each into a
// temporary prefix as an administrator would and runs `lavarank --version` and
// `lavarank install --dry-run` from there. One clone serves every test: the slow
// part is npm ci and the TypeScript build in it. npm takes packages from its cache
// when it has them (--prefer-offline) and from the registry otherwise.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { repoRoot } from '../helpers.js';

const VERSION = (JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { version: string }).version;
const NPM_FLAGS = ['--no-audit', '--no-fund', '--prefer-offline'];

// The environment of a shell an administrator opens: none of the npm_* variables
// `npm test` sets (npm_config_local_prefix and friends would steer the npm run here),
// and this Node first on PATH.
const ENV: NodeJS.ProcessEnv = Object.fromEntries(
  Object.entries(process.env).filter(([k]) => !/^npm_/i.test(k) && k !== 'INIT_CWD' && k !== 'NODE_OPTIONS' && !k.startsWith('LAVARANK_') && !k.startsWith('LSF_')),
);
ENV['PATH'] = `${dirname(process.execPath)}:${process.env['PATH'] ?? '/usr/bin:/bin'}`;

function run(file: string, args: string[], cwd: string): string {
  const r = spawnSync(file, args, { cwd, env: ENV, encoding: 'utf8', timeout: 600_000 });
  assert.equal(r.status, 0, `${file} ${args.join(' ')} (in ${cwd}) exited ${String(r.status)}:\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

let work = '';
let clone = '';
// This machine's global npm config. `--prefix` moves npm's global config to
// <prefix>/etc/npmrc, so a prefixed install would lose what the machine's holds
// (a proxy's certificate authority, a registry mirror) and retry the registry
// until the test's timeout; it is named explicitly instead.
let globalconfig = '';

before(
  () => {
    work = mkdtempSync(join(tmpdir(), 'lavarank-package-'));
    chmodSync(work, 0o755);
    clone = join(work, 'clone');
    globalconfig = run('npm', ['config', 'get', 'globalconfig'], work).trim();
    run('git', ['clone', '--quiet', '--no-hardlinks', repoRoot, clone], work);
    run('npm', ['ci', ...NPM_FLAGS], clone);
    run('npm', ['run', '--silent', 'bundle', '--', '--out', work], clone);
  },
  { timeout: 900_000 },
);

after(() => {
  if (work !== '') rmSync(work, { recursive: true, force: true });
});

// A fresh LSF_SERVERDIR for `install --dry-run`.
function serverdir(name: string): string {
  const dir = join(work, name);
  mkdirSync(dir, { mode: 0o755 });
  return dir;
}

function entries(archive: string): string[] {
  return run('tar', ['--list', '--gzip', '--file', archive], work).split('\n').filter((l) => l !== '');
}

describe('the npm tarball (npm pack)', () => {
  const tgz = (): string => join(clone, `lavarank-${VERSION}.tgz`);

  it('holds the compiled program, the model and the snippets, and no tests or TypeScript sources', () => {
    const files = entries(tgz());
    for (const f of ['package/dist/src/cli.js', 'package/models/default.json', 'package/openlava-conf/lsb.queues', 'package/scripts/install-elim', 'package/docs/install.md']) {
      assert.ok(files.includes(f), `${f} missing`);
    }
    assert.deepEqual(files.filter((f) => f.startsWith('package/dist/test') || f.startsWith('package/src/') || f.endsWith('.ts')), []);
  });

  it('installs with npm install -g into a prefix, without dev dependencies, and runs from there', () => {
    const prefix = join(work, 'prefix');
    run('npm', ['install', '--global', '--prefix', prefix, '--globalconfig', globalconfig, ...NPM_FLAGS, tgz()], work);
    const lavarank = join(prefix, 'bin', 'lavarank');
    const installed = join(prefix, 'lib', 'node_modules', 'lavarank');
    assert.equal(existsSync(join(installed, 'node_modules', 'typescript')), false, 'typescript installed');
    assert.equal(existsSync(join(installed, 'node_modules', 'fast-check')), false, 'fast-check installed');
    assert.equal(run(lavarank, ['--version'], work), `${VERSION}\n`);
    const out = run(lavarank, ['install', '--dry-run', '--serverdir', serverdir('sbin-npm')], work);
    assert.ok(out.includes(`${join(installed, 'dist', 'src', 'cli.js')} run`), out);
    assert.match(out, /would: write .*sbin-npm\/elim/);
  });
});

describe('the offline bundle (npm run bundle)', () => {
  const bundle = (): string => join(work, `lavarank-${VERSION}-bundle.tar.gz`);

  it('holds the production node_modules, bin/lavarank and INSTALL, owned by uid 0 and not writable by others', () => {
    const files = entries(bundle());
    const top = `lavarank-${VERSION}/`;
    for (const f of ['INSTALL', 'bin/lavarank', 'dist/src/cli.js', 'models/default.json', 'node_modules/execa/package.json', 'node_modules/yaml/package.json']) {
      assert.ok(files.includes(top + f), `${f} missing`);
    }
    assert.equal(files.some((f) => f.startsWith(`${top}node_modules/typescript/`)), false, 'typescript bundled');
    assert.equal(files.some((f) => f.startsWith(`${top}node_modules/pino/`)), false, 'pino bundled: only the tests load it');
    const long = run('tar', ['--list', '--verbose', '--numeric-owner', '--gzip', '--file', bundle()], work).split('\n').filter((l) => l !== '');
    // Owner and group 0; no write bit for group (6th character) or others (9th). Symlinks' modes mean nothing.
    for (const line of long.filter((l) => !l.startsWith('l'))) assert.match(line, /^\S{5}-\S{2}-\S* 0\/0 /, line);
  });

  it('runs where it is unpacked: lavarank --version and install --dry-run, also through scripts/install-elim', () => {
    const opt = join(work, 'opt');
    mkdirSync(opt, { mode: 0o755 });
    run('tar', ['--extract', '--gzip', '--file', bundle(), '--directory', opt], work);
    const home = join(opt, `lavarank-${VERSION}`);
    assert.equal(run(join(home, 'bin', 'lavarank'), ['--version'], work), `${VERSION}\n`);
    const sbin = serverdir('sbin-bundle');
    for (const [file, args] of [
      [join(home, 'bin', 'lavarank'), ['install', '--dry-run', '--serverdir', sbin]],
      [join(home, 'scripts', 'install-elim'), ['--dry-run', '--serverdir', sbin]],
    ] as const) {
      const out = run(file, [...args], work);
      assert.ok(out.includes(`${join(home, 'dist', 'src', 'cli.js')} run`), out);
    }
  });
});
