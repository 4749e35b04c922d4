// A character of the Basic Multilingual Plane as a \u escape.
export const unicodeEscape = (c: string): string => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`;

// Text someone else chose (a name in a directory another user owns, a queue in an LSF
// administrator's lsb.queues, a job name) as root's terminal may show it: control
// characters, C1's included, written as \u escapes. Unescaped, an escape sequence
// there can conceal the rest of the output, erase a warning or retitle the window.
export function escapedControls(text: string): string {
  return text.replace(/[\0-\x1f\x7f-\x9f]/g, unicodeEscape);
}

// escapedControls for text of several lines (an error's message and its list of
// problems): newlines and tabs kept, every other control character escaped.
export function escapedControlsInLines(text: string): string {
  return text.replace(/[\0-\x08\x0b-\x1f\x7f-\x9f]/g, unicodeEscape);
}
