// Lists every function of src/ longer than a bound (150 lines by default), longest
// first: style.md's last section asks that a long orchestration read as its stages.
// `npm run long-functions [-- LINES [DIR]]`; counts a function's lines from its first
// to its last, comments and blank lines included, nested functions in their parent too.
import { readFileSync, readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { pathToFileURL } from 'node:url';
import ts from 'typescript';

// A function's name and extent.
export interface FunctionSpan {
  file: string;
  name: string;
  line: number; // first line, from 1
  lines: number;
}

// The name a function is known by: its own, its variable's, its property's or method's.
function nameOf(node: ts.Node): string {
  if ((ts.isFunctionDeclaration(node) || ts.isMethodDeclaration(node) || ts.isFunctionExpression(node)) && node.name !== undefined) return node.name.getText();
  if (ts.isConstructorDeclaration(node)) return 'constructor';
  if ((ts.isGetAccessorDeclaration(node) || ts.isSetAccessorDeclaration(node)) && node.name !== undefined) return node.name.getText();
  const parent = node.parent;
  if (ts.isVariableDeclaration(parent) || ts.isPropertyAssignment(parent) || ts.isPropertyDeclaration(parent)) return parent.name.getText();
  return '(anonymous)';
}

// The functions of one file's text, every one of them, nested ones included.
export function functionSpans(file: string, text: string): FunctionSpan[] {
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.ES2022, true);
  const spans: FunctionSpan[] = [];
  const visit = (node: ts.Node): void => {
    if (ts.isFunctionLike(node) && 'body' in node && node.body !== undefined) {
      const first = source.getLineAndCharacterOfPosition(node.getStart(source)).line;
      const last = source.getLineAndCharacterOfPosition(node.getEnd()).line;
      spans.push({ file, name: nameOf(node), line: first + 1, lines: last - first + 1 });
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return spans;
}

function tsFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return tsFiles(path);
    return entry.isFile() && entry.name.endsWith('.ts') ? [path] : [];
  });
}

function main(): void {
  const bound = Number(process.argv[2] ?? 150);
  if (!Number.isInteger(bound) || bound < 1) throw new Error(`LINES must be a positive whole number, received ${JSON.stringify(process.argv[2])}`);
  const dir = process.argv[3] ?? 'src';
  const long = tsFiles(dir)
    .flatMap((file) => functionSpans(relative(process.cwd(), file), readFileSync(file, 'utf8')))
    .filter((span) => span.lines > bound)
    .sort((a, b) => b.lines - a.lines);
  for (const span of long) console.log(`${String(span.lines).padStart(5)}  ${span.name}  ${span.file}:${span.line}`);
  console.log(`${long.length} functions of ${dir} over ${bound} lines`);
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) main();
