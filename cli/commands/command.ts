import type { ParseArgsConfig } from 'node:util';

export type OptionSpec = NonNullable<ParseArgsConfig['options']>[string] & {
  /** One line for --help, ending with the default where there is one. */
  description: string;
  /** Environment variable read when the option is not given. */
  env?: string;
};

export interface ParsedArgs {
  values: Record<string, string | boolean | string[] | boolean[] | undefined>;
  positionals: string[];
}

/** One `campushub` subcommand. The dispatcher parses argv against `options` and prints --help from this spec. */
export interface Command {
  name: string;
  /** One line for the command list. */
  summary: string;
  /** Usage line(s) after `campushub `, e.g. `sim qr [options]`. */
  usage: string;
  /** Further explanation printed under the summary in --help. */
  description?: string;
  /** Positional arguments, for --help. */
  positionals?: { name: string; description: string; required?: boolean }[];
  options: Record<string, OptionSpec>;
  /** Resolves with the exit code once the command has finished (for servers: once stopped). */
  run(args: ParsedArgs): Promise<number>;
}
