// lsf.conf as OpenLava's daemons read it: KEY=VALUE lines, no blank on either side of
// "=", a value with blanks in double quotes, "#" comments, "\" continuing a line, the
// last line for a key winning. Pure, and small enough for the daemon to load: it
// takes LSF_LOGDIR from here, since LIM does not pass it on.

// OpenLava's configuration files and lavarank's snippets are a few kilobytes; a FIFO or a device there is refused, not waited on.
export const MAX_CONF_BYTES = 4 * 1024 * 1024;

// A value and the line it came from.
export interface Located {
  value: string;
  line: number; // 1-based
}

// A line the daemons refuse (they then refuse the whole file).
export interface RefusedLine {
  where: string; // file:line
  message: string;
}

// The value of each key, the line it came from, and each line the daemons would refuse.
export function readLsfConf(text: string, file: string): { values: Map<string, Located>; refused: RefusedLine[] } {
  const values = new Map<string, Located>();
  const refused: RefusedLine[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const first = i + 1;
    let line = stripComment(lines[i] ?? '');
    while (/\\\s*$/.test(line) && i + 1 < lines.length) line = line.replace(/\\\s*$/, '') + stripComment(lines[++i] ?? '');
    line = line.trim();
    if (line === '') continue;
    const refuse = (why: string): void => {
      refused.push({ where: `${file}:${first}`, message: `${why}, and OpenLava's daemons refuse the whole file: ${JSON.stringify(line)}` });
    };
    const word = line.split(/\s/, 1)[0] ?? '';
    const eq = word.indexOf('=');
    if (eq <= 0) {
      refuse('not a KEY=VALUE line (no blanks around "=")');
      continue;
    }
    const rest = line.slice(eq + 1);
    let value: string;
    if (rest === '') value = '';
    else if (/^\s/.test(rest)) {
      refuse('a blank after "="');
      continue;
    } else if (rest.startsWith('"')) {
      const close = rest.indexOf('"', 1);
      if (close < 0 || rest.slice(close + 1).trim() !== '') {
        refuse(close < 0 ? 'an unclosed quote' : 'more than one value');
        continue;
      }
      value = rest.slice(1, close);
    } else {
      if (/\s/.test(rest)) {
        refuse('more than one value (quote a value with blanks)');
        continue;
      }
      value = rest;
    }
    values.set(word.slice(0, eq), { value, line: first });
  }
  return { values, refused };
}

// True for a value lavarank can use as a path: absolute, with nothing a shell would
// expand ($VAR, `command`), since lsf.conf is never evaluated.
export function isPlainPath(value: string): boolean {
  return value.startsWith('/') && !/[$`]/.test(value);
}

function stripComment(line: string): string {
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    if (line[i] === '"') quoted = !quoted;
    else if (line[i] === '#' && !quoted) return line.slice(0, i);
  }
  return line;
}
