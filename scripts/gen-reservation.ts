// Writes the rank queue's reservation, rusage[rank=D:duration=T:decay=1], into the
// files that state it: the shipped openlava-conf/lsb.queues, README.md,
// docs/install.md and docs/model.md. D and T come from recommendForCpus, the code
// of `lavarank recommend --cpus N`, with the embedded default model, so a new
// model changes them in one command; test/scripts/gen-reservation.test.ts fails
// while a file disagrees.
//
//   npm run gen:reservation            # rewrite the files
//   npm run gen:reservation -- --check # exit 1, listing the files that disagree
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { recommendForCpus } from '../src/commands/recommend.js';
import { defaultConfig } from '../src/config/config.js';
import { loadModel, type LoadedModel } from '../src/model/model.js';
import { defaultModelPath } from '../src/model/rankers.js';
import { print, printError } from '../src/util/cliio.js';

// The repository root (this file runs as dist/scripts/gen-reservation.js).
const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

// The node size the shipped queue is for, and the sizes quoted next to it.
export const SHIPPED_CPUS = 16;
const QUOTED_CPUS = [2, 8, 16, 32, 64] as const;

// The reservation for each quoted size, with the model and interval it is for.
export interface ReservationFigures {
  model: string;
  intervalSec: number;
  t: number;
  d: Record<number, number>; // CPUs -> D
  resReq: string; // the shipped queue's RES_REQ
}

// D and T as `lavarank recommend --cpus N` prints them for model at the default interval.
export function reservationFigures(model: LoadedModel): ReservationFigures {
  const intervalSec = defaultConfig().interval;
  const d: Record<number, number> = {};
  for (const cpus of QUOTED_CPUS) d[cpus] = recommendForCpus(model, cpus, { intervalSec }).d;
  const shipped = recommendForCpus(model, SHIPPED_CPUS, { intervalSec });
  return { model: model.id, intervalSec, t: shipped.t, d, resReq: shipped.resReq };
}

// Words laid out in lines of at most width characters, each starting with prefix;
// a `code span` is never broken.
function wrap(text: string, width: number, prefix = ''): string[] {
  const lines: string[] = [];
  let line = '';
  for (const [word] of text.matchAll(/`[^`]*`\S*|\S+/g)) {
    if (line !== '' && prefix.length + line.length + 1 + word.length > width) {
      lines.push(prefix + line);
      line = word;
    } else {
      line = line === '' ? word : `${line} ${word}`;
    }
  }
  if (line !== '') lines.push(prefix + line);
  return lines;
}

const rusage = (f: ReservationFigures): string => /rusage\[[^\]]*\]/.exec(f.resReq)?.[0] ?? f.resReq;

// The "D and T" comment of the lsb.queues snippet.
function queueComment(f: ReservationFigures): string[] {
  const d = f.d;
  return [
    '# D and T: see "lavarank recommend"',
    ...wrap(
      `D = ${d[SHIPPED_CPUS]} is what "lavarank recommend --cpus ${SHIPPED_CPUS}" prints with the embedded default model (${f.model}): ` +
        `the rank a single-threaded CPU-bound job adds, on average, while a burst fills a lightly loaded ${SHIPPED_CPUS}-CPU host's slots (one per CPU). ` +
        `Hosts with fewer CPUs need a larger D (each job is a larger share of the host: ${d[8]} for 8 CPUs), hosts with more a smaller one (${d[32]} for 32 CPUs); ` +
        `run "lavarank recommend --cpus N" for your typical node and model, and "lavarank check" compares this queue with it. ` +
        `T = ${f.t}s is the staleness window for a ${f.intervalSec} s interval: interval + EXINTERVAL (15 s) + mbatchd's load refresh (about 20 s), within the 5-50 s range.`,
      78,
      '# ',
    ),
    ...wrap('(These numbers are written by "npm run gen:reservation" from the model.)', 78, '# '),
  ];
}

// The lsb.queues snippet with its D and T comment and RES_REQ line rewritten.
export function renderQueueSnippet(text: string, f: ReservationFigures): string {
  const lines = text.split('\n');
  const from = lines.findIndex((l) => l.startsWith('# D and T'));
  let to = from;
  while (to >= 0 && to < lines.length && lines[to] !== '#') to++;
  const resReq = lines.findIndex((l) => /^RES_REQ\s*=/.test(l));
  if (from < 0 || to >= lines.length || resReq < 0) throw new Error('lsb.queues: no "# D and T" comment ended by a "#" line, or no RES_REQ line');
  lines[resReq] = lines[resReq]!.replace(/=.*$/, `= ${f.resReq}`);
  lines.splice(from, to - from, ...queueComment(f));
  return lines.join('\n');
}

// The generated paragraph of each Markdown file, by block name.
function markdownBlocks(f: ReservationFigures): Record<string, string> {
  const d = f.d;
  return {
    readme:
      `The shipped \`${rusage(f)}\` is what \`lavarank recommend --cpus ${SHIPPED_CPUS}\` prints with the embedded default model ` +
      `(\`${f.model}\`): D for ${SHIPPED_CPUS}-CPU hosts (${d[8]} for 8 CPUs, ${d[32]} for 32) and T for the ${f.intervalSec} s interval. ` +
      '`lavarank recommend --cpus N` prints D and T for your typical node, model and interval, and `lavarank check` compares the queue with it.',
    install:
      `The shipped D = ${d[SHIPPED_CPUS]} is what \`lavarank recommend --cpus ${SHIPPED_CPUS}\` prints with the embedded default model ` +
      `(\`${f.model}\`): what a job adds, on average, while a burst fills a lightly loaded ${SHIPPED_CPUS}-CPU host. ` +
      `T = ${f.t} s is the staleness window for a ${f.intervalSec} s interval. Hosts with fewer CPUs need a larger D ` +
      `(${d[8]} for 8 CPUs), hosts with more a smaller one (${d[32]} for 32).`,
    model:
      `With the embedded default model (\`${f.model}\`) and the built-in light states, \`lavarank recommend --cpus N\` gives ` +
      `D = ${d[2]} for 2 CPUs, ${d[8]} for 8, ${d[16]} for 16, ${d[32]} for 32 and ${d[64]} for 64, and T = ${f.t} s at the ${f.intervalSec} s interval: ` +
      `each job is a smaller share of a bigger host. \`openlava-conf/lsb.queues\` ships the ${SHIPPED_CPUS}-CPU figure, \`${f.resReq}\`.`,
  };
}

const BEGIN = (name: string): string => `<!-- npm run gen:reservation: ${name} -->`;
const END = (name: string): string => `<!-- end ${name} -->`;

// A Markdown file with its generated blocks rewritten, and every concrete rank
// reservation in it (a table cell, an example) set to the shipped one.
export function renderMarkdown(text: string, file: string, f: ReservationFigures): string {
  let out = text.replace(/rusage\[rank=\d+:duration=\d+s:decay=1\]/g, rusage(f));
  for (const [name, paragraph] of Object.entries(markdownBlocks(f))) {
    const begin = out.indexOf(BEGIN(name));
    if (begin < 0) continue;
    const end = out.indexOf(END(name), begin);
    if (end < 0) throw new Error(`${file}: "${BEGIN(name)}" without "${END(name)}"`);
    out = `${out.slice(0, begin + BEGIN(name).length)}\n${wrap(paragraph, 80).join('\n')}\n${out.slice(end)}`;
  }
  return out;
}

// The files that state the reservation, relative to the repository root.
export const RESERVATION_FILES = ['openlava-conf/lsb.queues', 'README.md', 'docs/install.md', 'docs/model.md'] as const;

// Each file's text now and as it should be, for model (default: the embedded one).
export function regenerate(root = ROOT, model: LoadedModel = loadModel(defaultModelPath())): Array<{ file: string; now: string; wanted: string }> {
  const f = reservationFigures(model);
  return RESERVATION_FILES.map((file) => {
    const now = readFileSync(join(root, file), 'utf8');
    const wanted = file.endsWith('.md') ? renderMarkdown(now, file, f) : renderQueueSnippet(now, f);
    return { file, now, wanted };
  });
}

async function main(argv: string[]): Promise<number> {
  const { values } = parseArgs({ args: argv, options: { check: { type: 'boolean' } }, strict: true });
  const stale = regenerate().filter((r) => r.now !== r.wanted);
  if (values.check === true) {
    for (const r of stale) printError(`${r.file} disagrees with lavarank recommend; run: npm run gen:reservation`);
    return stale.length === 0 ? 0 : 1;
  }
  for (const r of stale) writeFileSync(join(ROOT, r.file), r.wanted);
  const f = reservationFigures(loadModel(defaultModelPath()));
  print(`${f.model}: ${f.resReq} for ${SHIPPED_CPUS}-CPU hosts; D by CPUs ${JSON.stringify(f.d)}`);
  print(stale.length === 0 ? 'every file already agrees' : `rewrote ${stale.map((r) => r.file).join(', ')}`);
  return 0;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  process.exitCode = await main(process.argv.slice(2));
}
