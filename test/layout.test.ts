import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, it } from 'node:test';
import { repoRoot } from './helpers.js';

// Packages the running elim must never load: brain.js pulls in gpu.js, which costs
// the daemon about 1.2 ms of CPU per report and 10 MB of RSS.
const FORBIDDEN = ['brain.js', 'gpu.js'];

// Static imports and re-exports that survive compilation (not `import type`).
export function staticImports(source: string): string[] {
  const text = source.replace(/\/\*[\s\S]*?\*\//g, '').replace(/^\s*\/\/.*$/gm, '');
  const found: string[] = [];
  const re = /^\s*(?:import|export)\s+(?!type\s)(?:[^'";]*?\sfrom\s+)?['"]([^'"]+)['"]/gm;
  for (const m of text.matchAll(re)) found.push(m[1]!);
  return found;
}

function packageName(spec: string): string {
  const parts = spec.split('/');
  return spec.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0]!;
}

// Every package a package depends on, transitively, as npm installed them.
function packageClosure(name: string, seen = new Set<string>()): Set<string> {
  if (seen.has(name)) return seen;
  seen.add(name);
  const manifest = join(repoRoot, 'node_modules', name, 'package.json');
  if (!existsSync(manifest)) return seen;
  const deps = (JSON.parse(readFileSync(manifest, 'utf8')) as { dependencies?: Record<string, string> }).dependencies ?? {};
  for (const dep of Object.keys(deps)) packageClosure(dep, seen);
  return seen;
}

// Follows relative imports through the .ts sources from an entry file; returns every
// source file reached and every package imported, with the chain that reached it.
export function importGraph(entry: string): { files: Map<string, string[]>; packages: Map<string, string[]> } {
  const files = new Map<string, string[]>();
  const packages = new Map<string, string[]>();
  const visit = (file: string, chain: string[]): void => {
    if (files.has(file)) return;
    const here = [...chain, relative(repoRoot, file)];
    files.set(file, here);
    for (const spec of staticImports(readFileSync(file, 'utf8'))) {
      if (spec.startsWith('.')) {
        const target = resolve(dirname(file), spec.replace(/\.js$/, '.ts'));
        assert.ok(existsSync(target), `${relative(repoRoot, file)} imports ${spec}, which has no .ts source`);
        visit(target, here);
      } else if (!spec.startsWith('node:')) {
        for (const pkg of packageClosure(packageName(spec))) if (!packages.has(pkg)) packages.set(pkg, [...here, spec]);
      }
    }
  };
  visit(entry, []);
  return { files, packages };
}

describe('the running elim', () => {
  for (const entry of ['src/commands/run.ts', 'src/daemon/run.ts', 'src/model/rankers.ts']) {
    it(`never reaches brain.js or gpu.js from ${entry}, directly or through a package`, () => {
      const { files, packages } = importGraph(join(repoRoot, entry));
      assert.ok(files.size > 1);
      for (const pkg of FORBIDDEN) {
        assert.equal(packages.has(pkg), false, `${pkg} is reachable: ${packages.get(pkg)?.join(' -> ')}`);
      }
    });
  }

  // yaml's code stays resident once loaded: src/util/yaml.ts loads it at the first
  // parse, so that an elim without a lavarank.yaml never does (docs/collectors.md).
  it('never imports the yaml package from src/commands/run.ts, directly or through a package', () => {
    const { packages } = importGraph(join(repoRoot, 'src', 'commands', 'run.ts'));
    assert.equal(packages.has('yaml'), false, `yaml is imported: ${packages.get('yaml')?.join(' -> ')}`);
  });

  // node:child_process, with the dgram and net it loads, stays resident once loaded (0.6
  // MB): util/exec.ts requires it at the first program started, so that an elim that
  // starts none (no GPU query, no child elims, its inventory read in process) never does.
  for (const entry of ['src/cli.ts', 'src/commands/run.ts']) {
    it(`never imports node:child_process from ${entry}, directly or through another file`, () => {
      const { files } = importGraph(join(repoRoot, entry));
      for (const [file, chain] of files) {
        assert.ok(!staticImports(readFileSync(file, 'utf8')).some((s) => s === 'node:child_process' || s === 'child_process'), `node:child_process is imported: ${chain.join(' -> ')}`);
      }
    });
  }

  // pino requires worker_threads, assert, sonic-boom and thread-stream at load, for
  // transports the elim never uses: about 3 MB of RSS (src/util/logger.ts logs instead).
  for (const entry of ['src/cli.ts', 'src/commands/run.ts']) {
    it(`never imports pino from ${entry}, directly or through another file`, () => {
      const { packages } = importGraph(join(repoRoot, entry));
      assert.equal(packages.has('pino'), false, `pino is imported: ${packages.get('pino')?.join(' -> ')}`);
    });
  }

  // node:tty, and node:net, which it requires, stay resident once loaded (0.2-0.6 MB):
  // util/terminal.ts loads tty only for a stdout or stderr that may be a terminal, and
  // report.ts net only for a stdout that is a socket, never under LIM (a pipe and /dev/null).
  for (const entry of ['src/cli.ts', 'src/commands/run.ts']) {
    for (const builtin of ['tty', 'net']) {
      it(`never imports node:${builtin} from ${entry}, directly or through another file`, () => {
        const { files } = importGraph(join(repoRoot, entry));
        for (const [file, chain] of files) {
          assert.ok(!staticImports(readFileSync(file, 'utf8')).some((s) => s === `node:${builtin}` || s === builtin), `node:${builtin} is imported: ${chain.join(' -> ')}`);
        }
      });
    }
  }

  // The global performance loads perf_hooks and ten internal modules at its first use,
  // 0.4 MB that stays resident: the elim reads util/clock.ts's monotonicMs instead.
  it('never uses the global performance in what src/commands/run.ts reaches', () => {
    const { files } = importGraph(join(repoRoot, 'src', 'commands', 'run.ts'));
    for (const [file, chain] of files) {
      const code = readFileSync(file, 'utf8').replace(/\/\*[\s\S]*?\*\//g, '').replace(/^\s*\/\/.*$/gm, '');
      assert.doesNotMatch(code, /\bperformance\./, `the global performance is used: ${chain.join(' -> ')}`);
    }
  });

  it('reaches the model code (so the check above looks at what the daemon runs)', () => {
    const { files } = importGraph(join(repoRoot, 'src', 'commands', 'run.ts'));
    for (const f of ['src/daemon/run.ts', 'src/model/rankers.ts', 'src/model/model.ts', 'src/model/network.ts', 'src/model/features.ts']) {
      assert.ok(files.has(join(repoRoot, f)), `${f} not reached from src/commands/run.ts`);
    }
  });

  it('the check itself sees brain.js where training imports it', () => {
    const { packages } = importGraph(join(repoRoot, 'src', 'training', 'train.ts'));
    assert.ok(packages.has('brain.js'));
    assert.ok(packages.has('gpu.js'));
  });
});

// Every import of a source file, type-only ones included, as repository paths.
function allImports(file: string): string[] {
  const text = readFileSync(file, 'utf8').replace(/\/\*[\s\S]*?\*\//g, '').replace(/^\s*\/\/.*$/gm, '');
  const found: string[] = [];
  for (const m of text.matchAll(/(?:from\s+|import\s*\(\s*|^\s*import\s+)['"](\.{1,2}\/[^'"]+)['"]/gm)) {
    found.push(relative(repoRoot, resolve(dirname(file), m[1]!.replace(/\.js$/, '.ts'))));
  }
  return found;
}

function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(join(repoRoot, dir), { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...sourceFiles(path));
    else if (entry.name.endsWith('.ts')) out.push(path);
  }
  return out;
}

// The folders of src/ and the one concern each holds (README's "Development" map).
const FOLDERS = ['daemon', 'collectors', 'model', 'training', 'calibration', 'lsf', 'history', 'commands', 'util', 'simulate', 'config'];
// The only file directly in src/: the command-line entry point.
const TOP_LEVEL = ['src/cli.ts'];
const folderOf = (file: string): string => file.split('/')[1] ?? '';

describe('the layout of src/', () => {
  const files = sourceFiles('src');

  it('every source file is in a named folder, or is cli.ts', () => {
    for (const f of files) assert.ok(TOP_LEVEL.includes(f) || FOLDERS.includes(folderOf(f)), `${f} is outside the folders of the architecture`);
  });

  it('the daemon and the model never reach training or calibration code, even through other folders', () => {
    for (const f of files.filter((f) => ['daemon', 'model'].includes(folderOf(f)))) {
      const { files: reached } = importGraph(join(repoRoot, f));
      for (const [target, chain] of reached) {
        const rel = relative(repoRoot, target);
        assert.ok(!['training', 'calibration'].includes(folderOf(rel)), `${f} reaches ${rel}: ${chain.join(' -> ')}`);
      }
    }
  });

  it('collectors import only collectors and util: settings come in as parameters', () => {
    for (const f of files.filter((f) => folderOf(f) === 'collectors')) {
      for (const target of allImports(join(repoRoot, f))) {
        assert.ok(['collectors', 'util'].includes(folderOf(target)), `${f} imports ${target}`);
      }
    }
  });

  it('util/ knows nothing of the project: it imports only util/', () => {
    for (const f of files.filter((f) => folderOf(f) === 'util')) {
      for (const target of allImports(join(repoRoot, f))) assert.equal(folderOf(target), 'util', `${f} imports ${target}`);
    }
  });

  it('what the daemon is built on (collectors, model, config, history, lsf, util) never imports the daemon, the commands or cli.ts', () => {
    // Type-only imports count: a type the daemon defines for the model belongs to the model.
    const below = ['collectors', 'model', 'config', 'history', 'lsf', 'util'];
    for (const f of files.filter((f) => below.includes(folderOf(f)))) {
      for (const target of allImports(join(repoRoot, f))) {
        assert.ok(!['daemon', 'commands'].includes(folderOf(target)) && target !== 'src/cli.ts', `${f} imports ${target}`);
      }
    }
  });

  it('only command screens and the helper programs calibrate starts print through the terminal helpers', () => {
    // probe.ts, stress.ts and jobscan.ts are programs of their own, whose stdout calibrate reads.
    const allowed = (f: string): boolean => f === 'src/cli.ts' || folderOf(f) === 'commands' || ['src/calibration/probe.ts', 'src/calibration/stress.ts', 'src/calibration/jobscan.ts'].includes(f);
    for (const f of files) {
      if (allImports(join(repoRoot, f)).includes('src/util/cliio.ts')) assert.ok(allowed(f), `${f} prints through src/util/cliio.ts`);
    }
  });

  it('only src/util/exec.ts starts programs: no other source file imports node:child_process or execa, or loads it through lazyBuiltin', () => {
    for (const f of files.filter((f) => f !== 'src/util/exec.ts')) {
      assert.doesNotMatch(readFileSync(join(repoRoot, f), 'utf8'), /from '(node:)?child_process'|from 'execa'|import\('execa'\)|lazyBuiltin(<.*?>)?\('node:child_process'\)/, `${f} starts programs itself`);
    }
  });

  it('the rules above see real imports (the daemon imports collectors, commands import cliio)', () => {
    assert.ok(allImports(join(repoRoot, 'src/daemon/sampler.ts')).includes('src/collectors/index.ts'));
    assert.ok(allImports(join(repoRoot, 'src/commands/check.ts')).includes('src/util/cliio.ts'));
    assert.ok(allImports(join(repoRoot, 'src/collectors/types.ts')).length === 0);
  });
});

describe('the layout of test/', () => {
  // Folders of tests that cut across src/: whole-program runs, faults, the scripts.
  const CROSS = ['e2e', 'faults', 'scripts', 'fixtures', 'helpers'];

  it('mirrors src/: a test file in a source folder tests the source file of the same name', () => {
    for (const f of sourceFiles('test').filter((f) => f.endsWith('.test.ts'))) {
      const parts = f.split('/');
      if (parts.length > 2 && CROSS.includes(parts[1]!)) continue;
      if (f === 'test/layout.test.ts' || f === 'test/docker.test.ts') continue; // the repository as a whole
      const source = f.replace(/^test\//, 'src/').replace(/\.test\.ts$/, '.ts');
      assert.ok(existsSync(join(repoRoot, source)), `${f} has no ${source}`);
    }
  });
});

describe('staticImports', () => {
  it('finds imports and re-exports, and skips type-only imports and comments', () => {
    const src = [
      "import { a } from './a.js';",
      "import type { B } from './b.js';",
      "import def, { c } from 'pkg';",
      "import './side.js';",
      "export { d } from './d.js';",
      "export * from './e.js';",
      "export type { F } from './f.js';",
      "// import x from './commented.js';",
      'import {',
      '  g,',
      "} from './g.js';",
    ].join('\n');
    assert.deepEqual(staticImports(src), ['./a.js', 'pkg', './side.js', './d.js', './e.js', './g.js']);
  });
});

describe('the documentation', () => {
  it('links only to files of the repository that exist (README.md, docs/, SECURITY.md)', () => {
    const pages = ['README.md', 'SECURITY.md', ...readdirSync(join(repoRoot, 'docs')).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`)];
    const broken: string[] = [];
    for (const page of pages) {
      const text = readFileSync(join(repoRoot, page), 'utf8');
      for (const m of text.matchAll(/\]\(([^)\s#]+)(?:#[^)]*)?\)/g)) {
        const target = m[1]!;
        if (/^[a-z]+:/.test(target)) continue; // http:, mailto:
        if (!existsSync(resolve(repoRoot, dirname(page), target))) broken.push(`${page} -> ${target}`);
      }
    }
    assert.deepEqual(broken, []);
  });

  it('gives, wherever it says how to rebuild the default model, the date models/default.json records', () => {
    // The file records its training date and its id hashes the file: another date rebuilds another id.
    const date = (JSON.parse(readFileSync(join(repoRoot, 'models', 'default.json'), 'utf8')) as { training: { date: string } }).training.date;
    const pages = ['README.md', ...readdirSync(join(repoRoot, 'docs')).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`)];
    const quoted: string[] = [];
    for (const page of pages) {
      const text = readFileSync(join(repoRoot, page), 'utf8').replace(/\s+/g, ' ');
      for (const m of text.matchAll(/train-default`?[^.]*?--date (\S+?)`/g)) quoted.push(`${page}: ${m[1]!}`);
    }
    assert.ok(quoted.length > 0, 'no page gives the rebuild command');
    assert.deepEqual(quoted.filter((q) => !q.endsWith(`: ${date}`)), []);
  });

  it('quotes in the README the validation of docs/model.md: each predictor\'s MAE and interval, and the backbone\'s margin over the ridge', () => {
    const model = readFileSync(join(repoRoot, 'docs', 'model.md'), 'utf8');
    const block = /<!-- npm run eval-model -->([\s\S]*?)<!-- end eval-model -->/.exec(model)?.[1] ?? '';
    const readme = readFileSync(join(repoRoot, 'README.md'), 'utf8');
    const rows: Array<[string, string]> = [['backbone + network', 'backbone + network'], ['backbone alone', '**backbone alone (ships)**'], ['ridge regression', 'ridge regression on the same inputs'], ['load-only line', 'least-squares line on the 1-minute load per CPU'], ['mean', 'mean of the training labels']];
    for (const [inBlock, inReadme] of rows) {
      const m = new RegExp(`^\\| ${inBlock.replace(/[+]/g, '\\+')} +\\| +([\\d.]+) \\| +([\\d.]+ – [\\d.]+) \\|`, 'm').exec(block);
      assert.ok(m !== null, `no ${inBlock} row in model.md's eval-model block`);
      const line = readme.split('\n').find((l) => l.startsWith(`| ${inReadme}`)) ?? '';
      assert.ok(line.includes(`| ${m[2]!} |`) && (line.includes(`| ${m[1]!} |`) || line.includes(`| **${m[1]!}** |`)), `README: ${line}, model.md: ${m[1]!} (${m[2]!})`);
    }
    const margin = /^backbone minus ridge: (-?[\d.]+) \(95 % interval (-?[\d.]+) – (-?[\d.]+)\)$/m.exec(block);
    assert.ok(margin !== null, 'no backbone minus ridge line in model.md\'s eval-model block');
    const minus = (x: string): string => x.replace('-', '−');
    assert.ok(readme.includes(`is ${minus(margin[1]!)} points, with an interval (${minus(margin[2]!)} to ${minus(margin[3]!)})`), 'README\'s margin of the backbone over the ridge');
  });

  it('quotes in docs/model.md the validation models/default.json records: each predictor\'s MAE and the gate\'s decision', () => {
    // train-default records the cross-validated MAEs eval-model prints; a change that moves them rebuilds the file.
    const validation = (JSON.parse(readFileSync(join(repoRoot, 'models', 'default.json'), 'utf8')) as { training: { validation: { mae: Record<string, number>; gate: string } } }).training.validation;
    const block = /<!-- npm run eval-model -->([\s\S]*?)<!-- end eval-model -->/.exec(readFileSync(join(repoRoot, 'docs', 'model.md'), 'utf8'))?.[1] ?? '';
    const rows: Array<[string, string]> = [['backbone + network', 'model'], ['backbone alone', 'backbone'], ['ridge regression', 'ridge'], ['load-only line', 'loadOnly'], ['mean', 'mean'], ['formula', 'formula']];
    for (const [inBlock, key] of rows) {
      const m = new RegExp(`^\\| ${inBlock.replace(/[+]/g, '\\+')} +\\| +([\\d.]+) \\|`, 'm').exec(block);
      assert.equal(m?.[1], validation.mae[key]!.toFixed(1), `${inBlock} in model.md's eval-model block`);
    }
    assert.ok(block.includes(`\ndecision: ${validation.gate}\n`), `model.md's eval-model block does not give the recorded decision: ${validation.gate}`);
  });

  it('quotes in the README the retrain benchmark of docs/retrain.md: wall time, CPU and peak RSS of the largest run', () => {
    const bench = readFileSync(join(repoRoot, 'docs', 'retrain.md'), 'utf8');
    const row = /^\| 1 000 000 \| 10 000 000 \| \*\*([\d.]+) s\*\* \|.*\| \*\*(\d+) MB\*\* \| ([\d.]+) s \|$/m.exec(bench);
    assert.ok(row !== null, 'no 1 000 000-job row in the benchmark table of docs/retrain.md');
    const [wall, rss, cpu] = [Number(row[1]), Number(row[2]), Number(row[3])];
    const readme = readFileSync(join(repoRoot, 'README.md'), 'utf8').split('\n').find((l) => l.startsWith('| `lavarank retrain`')) ?? '';
    assert.ok(readme.includes(`**${rss} MB** peak RSS`), readme);
    assert.ok(readme.includes(`${Math.round(wall)} s wall`), readme);
    assert.ok(readme.includes(`${Math.round(cpu)} s of CPU`), readme);
  });
});
