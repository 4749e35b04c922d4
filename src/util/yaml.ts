// YAML parsing without the yaml package's debugging output. Its parser and composer
// print every token to stdout (console.log, console.dir) whenever LOG_TOKENS or
// LOG_STREAM is set in the environment, names a site may well use for something else.
// Under LIM stdout is the report pipe: with LOG_STREAM=1 in LIM's environment the elim
// wrote its config's tokens there ("{", "type: 'document'", ...) instead of a report,
// at every start. The two are hidden from yaml while it parses and put back after, so
// that child elims still get LIM's environment as it was.
//
// The package is loaded at the first parse, not at import: the running elim parses
// YAML only for a lavarank.yaml, and without one (what `lavarank install` leaves) it
// never loads yaml, whose code stays resident once loaded (0.7 MB of the elim's RSS,
// docs/collectors.md). require, not import(): the config is parsed synchronously at
// start, and the package's Node entry is CommonJS, the module `import 'yaml'` gives too.
import { createRequire } from 'node:module';
import type * as Yaml from 'yaml';

let loaded: typeof Yaml | undefined;

// The yaml package, loaded on first use.
export function yamlPackage(): typeof Yaml {
  loaded ??= createRequire(import.meta.url)('yaml') as typeof Yaml;
  return loaded;
}

const YAML_DEBUG = ['LOG_TOKENS', 'LOG_STREAM'] as const;

// yaml's parseDocument, printing nothing.
export function parseYamlDocument(...args: Parameters<typeof Yaml.parseDocument>): ReturnType<typeof Yaml.parseDocument> {
  const { parseDocument } = yamlPackage();
  const saved = YAML_DEBUG.map((name) => [name, process.env[name]] as const);
  for (const name of YAML_DEBUG) delete process.env[name];
  try {
    return parseDocument(...args);
  } finally {
    for (const [name, value] of saved) if (value !== undefined) process.env[name] = value;
  }
}
