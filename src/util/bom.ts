// The text without the byte order mark a Windows editor puts at its start, if it has one.
export function stripBom(text: string): string {
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
}
