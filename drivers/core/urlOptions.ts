import { TransportUrlError } from './transportUrl.js';

/**
 * Readers of transport-URL query options (`?ack=1&maxLine=512`). Every
 * failure names the option and what it accepts, because these values come
 * from an operator's configuration file.
 */

export interface IntegerRange {
  min: number;
  max: number;
}

export function integerOption(options: Record<string, string>, name: string, range: IntegerRange, fallback: number): number {
  const text = options[name];
  if (text === undefined) return fallback;
  const value = Number(text);
  if (!/^\d+$/.test(text) || value < range.min || value > range.max) {
    throw new TransportUrlError(`option ${name}=${JSON.stringify(text)}: expected an integer from ${range.min} to ${range.max}`);
  }
  return value;
}

const TRUE_WORDS = new Set(['', '1', 'true', 'yes', 'on']);
const FALSE_WORDS = new Set(['0', 'false', 'no', 'off']);

/** `?ack`, `?ack=1`, `?ack=true` are true; `?ack=0`, `?ack=false` are false. */
export function booleanOption(options: Record<string, string>, name: string, fallback: boolean): boolean {
  const text = options[name];
  if (text === undefined) return fallback;
  const word = text.toLowerCase();
  if (TRUE_WORDS.has(word)) return true;
  if (FALSE_WORDS.has(word)) return false;
  throw new TransportUrlError(`option ${name}=${JSON.stringify(text)}: expected 1 or 0 (true or false)`);
}

/** Refuses options nobody reads, so a typo such as `?akc=1` fails at start-up instead of being ignored. */
export function rejectUnknownOptions(options: Record<string, string>, known: readonly string[]): void {
  const unknown = Object.keys(options).filter((name) => !known.includes(name));
  if (unknown.length > 0) {
    throw new TransportUrlError(`unknown option${unknown.length > 1 ? 's' : ''} ${unknown.join(', ')}; this URL accepts ${known.join(', ') || 'no options'}`);
  }
}
