import type { Level } from 'pino';
import type { ParsedArgs } from '../commands/command.js';

export class UsageError extends Error {
  override readonly name = 'UsageError';
}

export function stringArg(args: ParsedArgs, name: string): string | undefined {
  const value = args.values[name];
  return typeof value === 'string' && value !== '' ? value : undefined;
}

export function requiredArg(args: ParsedArgs, name: string): string {
  const value = stringArg(args, name);
  if (value === undefined) throw new UsageError(`--${name} is required`);
  return value;
}

export function integerArg(args: ParsedArgs, name: string, min: number, max: number): number {
  const text = requiredArg(args, name);
  const value = Number(text);
  if (!Number.isInteger(value) || value < min || value > max) throw new UsageError(`--${name} must be a whole number from ${min} to ${max}, not ${JSON.stringify(text)}`);
  return value;
}

export function portArg(args: ParsedArgs, name: string): number {
  return integerArg(args, name, 0, 65535);
}

const LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'];

export function logLevelArg(args: ParsedArgs): Level | 'silent' {
  const level = stringArg(args, 'log-level') ?? 'info';
  if (!LEVELS.includes(level)) throw new UsageError(`--log-level must be one of ${LEVELS.join(', ')}`);
  return level as Level | 'silent';
}

/** Resolves once SIGINT or SIGTERM arrives; a second signal exits at once. */
export function untilSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const onSignal = (signal: NodeJS.Signals) => {
      process.once('SIGINT', () => process.exit(130));
      process.once('SIGTERM', () => process.exit(143));
      resolve(signal);
    };
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
  });
}
