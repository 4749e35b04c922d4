// YAML parsing without the yaml package's debugging output. Its parser and composer
// print every token to stdout (console.log, console.dir) whenever LOG_TOKENS or
// LOG_STREAM is set in the environment, names a site may well use for something else.
// Under LIM stdout is the report pipe: with LOG_STREAM=1 in LIM's environment the elim
// wrote its config's tokens there ("{", "type: 'document'", ...) instead of a report,
// at every start. The two are hidden from yaml while it parses and put back after, so
// that child elims still get LIM's environment as it was.
import { parseDocument } from 'yaml';

const YAML_DEBUG = ['LOG_TOKENS', 'LOG_STREAM'] as const;

// yaml's parseDocument, printing nothing.
export function parseYamlDocument(...args: Parameters<typeof parseDocument>): ReturnType<typeof parseDocument> {
  const saved = YAML_DEBUG.map((name) => [name, process.env[name]] as const);
  for (const name of YAML_DEBUG) delete process.env[name];
  try {
    return parseDocument(...args);
  } finally {
    for (const [name, value] of saved) if (value !== undefined) process.env[name] = value;
  }
}
