// Command-line option values shared by the subcommands and scripts.
import { UsageError } from './errors.js';

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
