import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, it } from 'node:test';
import { repoRoot } from '../helpers.js';

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
  for (const entry of ['src/run.ts', 'src/rankers.ts']) {
    it(`never reaches brain.js or gpu.js from ${entry}, directly or through a package`, () => {
      const { files, packages } = importGraph(join(repoRoot, entry));
      assert.ok(files.size > 1);
      for (const pkg of FORBIDDEN) {
        assert.equal(packages.has(pkg), false, `${pkg} is reachable: ${packages.get(pkg)?.join(' -> ')}`);
      }
    });
  }

  it('reaches the model code (so the check above looks at what the daemon runs)', () => {
    const { files } = importGraph(join(repoRoot, 'src', 'run.ts'));
    for (const f of ['src/rankers.ts', 'src/model/model.ts', 'src/model/network.ts', 'src/model/features.ts']) {
      assert.ok(files.has(join(repoRoot, f)), `${f} not reached from src/run.ts`);
    }
  });

  it('the check itself sees brain.js where training imports it', () => {
    const { packages } = importGraph(join(repoRoot, 'src', 'model', 'train.ts'));
    assert.ok(packages.has('brain.js'));
    assert.ok(packages.has('gpu.js'));
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
