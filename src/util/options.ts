// Command-line option values shared by the subcommands and scripts.
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { UsageError } from './errors.js';

type OptionsConfig = NonNullable<ParseArgsConfig['options']>;

// The values of a command line, as parseArgs reads it strictly (no unknown option, no
// positional argument). An option that takes one value given twice with two values is
// refused, naming both: parseArgs keeps the last without a word, so `simulate --acct
// lsb.acct.1 --acct lsb.acct` (retrain takes --acct repeated) replayed lsb.acct alone.
export function parseCommandLine<const O extends OptionsConfig>(args: readonly string[], options: O): ReturnType<typeof parseArgs<{ args: string[]; options: O; strict: true }>>['values'] {
  const { values, tokens } = parseArgs({ args, options, strict: true, allowPositionals: false, tokens: true });
  const given = new Map<string, string | undefined>();
  for (const token of tokens) {
    if (token.kind !== 'option' || options[token.name]?.type !== 'string' || options[token.name]?.multiple === true) continue;
    const before = given.get(token.name);
    if (given.has(token.name) && before !== token.value) {
      throw new UsageError(`${token.rawName}: given twice, ${JSON.stringify(before)} then ${JSON.stringify(token.value)}; it takes one value`);
    }
    given.set(token.name, token.value);
  }
  return values;
}

// The value of a numeric command-line option, or fallback when it was not given;
// throws UsageError naming the option, the range (as `kind`, default "a number" or
// "an integer") and what was received. Blank text is refused, not read as 0.
export function numberOption(name: string, text: string | undefined, fallback: number, rule: { integer?: boolean; min: number; max: number; kind?: string }): number {
  if (text === undefined) return fallback;
  const value = text.trim() === '' ? NaN : Number(text);
  const kind = rule.kind ?? (rule.integer === true ? 'an integer' : 'a number');
  if (!Number.isFinite(value) || (rule.integer === true && !Number.isInteger(value)) || value < rule.min || value > rule.max) {
    throw new UsageError(`--${name}: expected ${kind} from ${rule.min} to ${rule.max}, received ${JSON.stringify(text)}`);
  }
  return value;
}
