// What can be checked of the Dockerfile without a Docker engine: every COPY
// source exists in the build context (and is not ignored) or is produced by the
// build stage, and the entry point is the file tsc makes of src/cli.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { posix } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DAEMON_NODE_FLAGS } from '../src/util/node-flags.js';

const REPO = fileURLToPath(new URL('../../', import.meta.url));
const at = (path: string): string => posix.join(REPO, path);

interface Copy {
  from: string | undefined;
  sources: string[];
  targets: string[]; // where each source lands: absolute, WORKDIR applied
}

interface Stage {
  image: string;
  name: string | undefined;
  workdir: string;
  copies: Copy[];
  runs: string[];
  entrypoint?: string[];
  cmd?: string[];
}

// Instructions with continuation lines joined and comments dropped.
function instructions(text: string): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  let current = '';
  for (const raw of text.split('\n')) {
    if (/^\s*#/.test(raw) && current === '') continue;
    const line = raw.replace(/\s+$/, '');
    if (line.endsWith('\\')) {
      current += line.slice(0, -1) + ' ';
      continue;
    }
    current += line;
    const m = /^\s*(\w+)\s+(.*)$/.exec(current);
    if (m?.[1] !== undefined && m[2] !== undefined) out.push([m[1].toUpperCase(), m[2].trim()]);
    current = '';
  }
  return out;
}

function parseDockerfile(text: string): Stage[] {
  const stages: Stage[] = [];
  for (const [op, args] of instructions(text)) {
    if (op === 'FROM') {
      const [image = '', as, name] = args.split(/\s+/);
      stages.push({ image, name: as?.toUpperCase() === 'AS' ? name : undefined, workdir: '/', copies: [], runs: [] });
      continue;
    }
    const stage = stages.at(-1);
    assert.ok(stage, `${op} before FROM`);
    if (op === 'WORKDIR') stage.workdir = posix.resolve(stage.workdir, args);
    if (op === 'RUN') stage.runs.push(args);
    if (op === 'ENTRYPOINT') stage.entrypoint = JSON.parse(args) as string[];
    if (op === 'CMD') stage.cmd = JSON.parse(args) as string[];
    if (op === 'COPY' || op === 'ADD') {
      const words = args.split(/\s+/);
      const from = words.find((w) => w.startsWith('--from='))?.slice('--from='.length);
      const paths = words.filter((w) => !w.startsWith('--'));
      const dest = paths.pop() ?? '';
      const intoDir = paths.length > 1 || dest.endsWith('/');
      const targets = paths.map((p) => posix.resolve(stage.workdir, intoDir ? posix.join(dest, posix.basename(p)) : dest));
      stage.copies.push({ from, sources: paths, targets });
    }
  }
  return stages;
}

function ignored(source: string, patterns: readonly string[]): boolean {
  const clean = posix.normalize(source).replace(/\/$/, '');
  return patterns.some((pattern) => {
    const re = new RegExp(`^${pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '[^/]*').replace(/\?/g, '[^/]')}(/.*)?$`);
    return re.test(clean);
  });
}

const dockerfile = parseDockerfile(readFileSync(at('Dockerfile'), 'utf8'));
const dockerignore = readFileSync(at('.dockerignore'), 'utf8')
  .split('\n')
  .map((l) => l.trim())
  .filter((l) => l !== '' && !l.startsWith('#'));
const tsconfig = JSON.parse(readFileSync(at('tsconfig.json'), 'utf8')) as { compilerOptions: { rootDir: string; outDir: string } };
const build = dockerfile[0];
const runtime = dockerfile.at(-1);

function isUnder(path: string, dir: string): boolean {
  const rel = posix.relative(dir, path);
  return rel === '' || (!rel.startsWith('..') && !posix.isAbsolute(rel));
}

// The repository path tsc compiles to `output` (relative to the build stage's
// WORKDIR, which holds tsconfig.json), by the tsconfig's rootDir and outDir.
function tscSource(output: string): string | undefined {
  const { rootDir, outDir } = tsconfig.compilerOptions;
  if (!isUnder(posix.normalize(output), posix.normalize(outDir))) return undefined;
  return posix.join(rootDir, posix.relative(posix.normalize(outDir), posix.normalize(output))).replace(/\.js$/, '.ts');
}

// True when an absolute path of the build stage was copied in from the context.
function copiedIntoBuild(path: string): boolean {
  return build?.copies.some((c) => c.from === undefined && c.targets.some((target) => isUnder(path, target))) ?? false;
}

test('the Dockerfile has a build stage and a slim Node 20 runtime with production dependencies only', () => {
  assert.ok(build && runtime && build !== runtime, 'two stages');
  assert.equal(runtime.image, 'node:20-bookworm-slim');
  assert.match(build.image, /^node:20/);
  assert.ok(build.runs.some((r) => /\bnpm ci\b/.test(r) && !r.includes('--omit')));
  assert.ok(build.runs.some((r) => /\btsc -p \./.test(r)));
  assert.ok(runtime.runs.some((r) => /\bnpm ci --omit=dev\b/.test(r)));
  assert.deepEqual(runtime.cmd, ['once']);
});

test('every COPY source from the build context exists and is not excluded by .dockerignore', () => {
  for (const stage of dockerfile) {
    for (const copy of stage.copies.filter((c) => c.from === undefined)) {
      for (const source of copy.sources) {
        assert.ok(existsSync(at(source)), `COPY ${source}: no such file or directory in the repository`);
        assert.equal(ignored(source, dockerignore), false, `COPY ${source}: excluded by .dockerignore`);
      }
    }
  }
});

test('.dockerignore keeps local builds and modules out of the context', () => {
  for (const path of ['node_modules', 'dist', '.git', 'test/install.test.ts', 'data', 'lavarank-0.1.0.tgz', 'lavarank-0.1.0-bundle.tar.gz']) assert.ok(ignored(path, dockerignore), path);
});

test('every COPY --from=build source is copied into or compiled in the build stage', () => {
  assert.ok(build);
  for (const copy of runtime?.copies.filter((c) => c.from !== undefined) ?? []) {
    assert.equal(copy.from, build.name, 'copies come from the build stage');
    for (const source of copy.sources) {
      const compiledFrom = tscSource(posix.relative(build.workdir, source));
      const produced = compiledFrom !== undefined && copiedIntoBuild(posix.join(build.workdir, compiledFrom));
      assert.ok(copiedIntoBuild(source) || produced, `${source}: neither copied into the build stage nor compiled there from copied sources`);
    }
  }
});

test('the entry point runs the file tsc makes of src/cli.ts', () => {
  assert.ok(runtime?.entrypoint);
  const [interpreter, ...rest] = runtime.entrypoint;
  assert.equal(interpreter, 'node');
  // The daemon's Node options, as the installed wrapper passes them, then the script.
  assert.deepEqual(rest.slice(0, DAEMON_NODE_FLAGS.length), [...DAEMON_NODE_FLAGS]);
  const script = rest[DAEMON_NODE_FLAGS.length] ?? '';
  assert.ok(script.startsWith('/'), 'absolute entry point');
  // follow the entry point back through the COPY --from=build that put it there
  const copy = runtime.copies.find((c) => c.from !== undefined && c.targets.some((target) => isUnder(script, target)));
  const index = copy?.targets.findIndex((target) => isUnder(script, target)) ?? -1;
  const target = copy?.targets[index];
  assert.ok(copy && target !== undefined, `no COPY --from puts ${script} into the image`);
  const inBuild = posix.join(copy.sources[index] ?? '', posix.relative(target, script));
  const output = posix.relative(build?.workdir ?? '/', inBuild);
  assert.equal(output, 'dist/src/cli.js');
  assert.equal(tscSource(output), 'src/cli.ts', 'tsconfig maps src/cli.ts to dist/src/cli.js');
  assert.ok(existsSync(at('dist/src/cli.js')), 'tsc produced dist/src/cli.js');
});

test('the image ships what the installer needs at run time', () => {
  const dests = runtime?.copies.flatMap((c) => c.targets) ?? [];
  for (const path of ['/opt/lavarank/dist/src', '/opt/lavarank/openlava-conf', '/opt/lavarank/scripts/install-elim', '/opt/lavarank/models']) {
    assert.ok(dests.includes(path), `${path} is in the image`);
  }
  // The npm package's other programs, which the docs run from /opt/lavarank/scripts
  // (docs/retrain.md's cron line, docs/calibration.md).
  for (const path of ['/opt/lavarank/scripts/retrain', '/opt/lavarank/scripts/calibrate']) {
    assert.ok(dests.includes(path), `${path} is in the image`);
  }
});

test('npm start runs the elim with the same Node options as the installed wrapper', () => {
  const pkg = JSON.parse(readFileSync(fileURLToPath(new URL('../../package.json', import.meta.url)), 'utf8')) as { scripts: Record<string, string> };
  assert.ok(pkg.scripts['start']?.includes(`node ${DAEMON_NODE_FLAGS.join(' ')} dist/src/cli.js run`), pkg.scripts['start']);
});
