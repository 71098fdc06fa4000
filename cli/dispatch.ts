import { parseArgs, type ParseArgsConfig } from 'node:util';
import type { Command, OptionSpec, ParsedArgs } from './commands/command.js';
import { COMMANDS } from './commands/index.js';

export type Env = Readonly<Record<string, string | undefined>>;

/** What a command line asks for: a command to run, a help text to print, or a usage error to report. */
export type CommandLine = { command: Command; args: ParsedArgs } | { help: string } | { error: string };

export interface CliIo {
  stdout(text: string): void;
  stderr(text: string): void;
}

/** Exit code for a command line the dispatcher or a command cannot make sense of (as BSD sysexits' EX_USAGE family and most CLIs do). */
export const USAGE_EXIT_CODE = 2;

const PROGRAM = 'campushub';
const HELP_OPTION = { help: { type: 'boolean', short: 'h' } } as const;
const TRUE_WORDS = new Set(['1', 'true', 'yes', 'on']);
const FALSE_WORDS = new Set(['0', 'false', 'no', 'off']);

export function commandListHelp(commands: readonly Command[] = COMMANDS): string {
  const width = Math.max(...commands.map((command) => command.name.length));
  return [
    `Usage: ${PROGRAM} <command> [options]`,
    '',
    'CampusHub360 Attendance: door devices, campus agents and the central hub.',
    '',
    'Commands:',
    ...commands.map((command) => `  ${command.name.padEnd(width)}  ${command.summary}`),
    '',
    `Run \`${PROGRAM} <command> --help\` for a command's arguments, options and environment variables.`,
    '',
  ].join('\n');
}

function optionLabel(name: string, spec: OptionSpec): string {
  const short = spec.short ? `-${spec.short}, ` : '';
  return `${short}--${name}${spec.type === 'string' ? ' <value>' : ''}`;
}

export function commandHelp(command: Command): string {
  const options: [string, string][] = Object.entries(command.options).map(([name, spec]) => [
    optionLabel(name, spec),
    spec.env ? `${spec.description} [env: ${spec.env}]` : spec.description,
  ]);
  options.push(['-h, --help', 'Show this help']);
  const positionals: [string, string][] = (command.positionals ?? []).map((positional) => [
    positional.name,
    positional.required ? `${positional.description} (required)` : positional.description,
  ]);
  const width = Math.max(...[...options, ...positionals].map(([label]) => label.length));
  const rows = (entries: [string, string][]) => entries.map(([label, text]) => `  ${label.padEnd(width)}  ${text}`);
  return [
    `Usage: ${PROGRAM} ${command.usage}`,
    '',
    command.summary,
    '',
    ...(command.description ? [command.description, ''] : []),
    ...(positionals.length > 0 ? ['Arguments:', ...rows(positionals), ''] : []),
    'Options:',
    ...rows(options),
    '',
    'An option given on the command line wins over its environment variable, which wins over the default.',
    '',
  ].join('\n');
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, index) => index);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    previous = current;
  }
  return previous[b.length]!;
}

/** The candidate nearest to `input`, or undefined when none is near enough to be a plausible typo. */
export function closestName(input: string, candidates: readonly string[]): string | undefined {
  let best: { name: string; distance: number } | undefined;
  for (const name of candidates) {
    const distance = name.startsWith(input) || input.startsWith(name) ? 1 : editDistance(input, name);
    if (!best || distance < best.distance) best = { name, distance };
  }
  return best && best.distance <= Math.max(2, Math.floor(best.name.length / 3)) ? best.name : undefined;
}

/** Raw tokens, parsed leniently, so that --help wins over every other mistake on the line. */
function lenientTokens(argv: readonly string[], options: ParseArgsConfig['options']) {
  return parseArgs({ args: [...argv], options, strict: false, allowPositionals: true, tokens: true }).tokens;
}

/** A mistake in how the command was called, reported with a pointer to --help. */
class UsageProblem extends Error {}

function envValue(name: string, spec: OptionSpec, env: Env): string | boolean | string[] | undefined {
  const raw = spec.env ? env[spec.env] : undefined;
  // An empty variable counts as unset, as compose files and shells produce them for "no value".
  if (raw === undefined || raw === '') return undefined;
  if (spec.type === 'boolean') {
    const word = raw.toLowerCase();
    if (TRUE_WORDS.has(word)) return true;
    if (FALSE_WORDS.has(word)) return false;
    throw new UsageProblem(`${spec.env}=${JSON.stringify(raw)} is not a yes/no value for --${name} (use 1/0, true/false, yes/no or on/off)`);
  }
  return spec.multiple ? [raw] : raw;
}

function unknownOptionMessage(argv: readonly string[], options: NonNullable<ParseArgsConfig['options']>): string {
  const unknown = lenientTokens(argv, options).find((token) => token.kind === 'option' && !Object.hasOwn(options, token.name));
  if (unknown?.kind !== 'option') return 'unknown option';
  const suggestion = closestName(unknown.name, Object.keys(options));
  return `unknown option ${unknown.rawName}${suggestion ? ` (did you mean --${suggestion}?)` : ''}`;
}

/**
 * Parses one subcommand's arguments against its spec. Values resolve as command line,
 * then the option's environment variable, then its default; the spec's defaults are
 * kept away from parseArgs so that an explicit value can be told from a default.
 */
function parseCommandArgs(command: Command, argv: readonly string[], env: Env): CommandLine {
  const options: NonNullable<ParseArgsConfig['options']> = { ...HELP_OPTION };
  for (const [name, spec] of Object.entries(command.options)) {
    const { description: _description, env: _env, default: _default, ...parseSpec } = spec;
    options[name] = parseSpec;
  }
  const seeHelp = `Run \`${PROGRAM} ${command.name} --help\` for usage.`;
  const fail = (problem: string): CommandLine => ({ error: `${PROGRAM} ${command.name}: ${problem}. ${seeHelp}` });

  if (lenientTokens(argv, options).some((token) => token.kind === 'option' && token.name === 'help')) return { help: commandHelp(command) };

  let parsed;
  try {
    parsed = parseArgs({ args: [...argv], options, strict: true, allowPositionals: true });
  } catch (error) {
    const code = (error as { code?: string }).code;
    if (code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') return fail(unknownOptionMessage(argv, options));
    return fail((error as Error).message.split('\n')[0]!.replace(/\.$/, ''));
  }

  const declared = command.positionals ?? [];
  const missing = declared.filter((positional, index) => positional.required && parsed.positionals[index] === undefined);
  if (missing.length > 0) return fail(`missing required argument ${missing.map((positional) => `<${positional.name}>`).join(' ')}`);
  if (parsed.positionals.length > declared.length) {
    const extra = parsed.positionals.slice(declared.length).map((value) => JSON.stringify(value)).join(' ');
    return fail(declared.length === 0 ? `takes no arguments, got ${extra}` : `unexpected extra argument ${extra}`);
  }

  const values: ParsedArgs['values'] = {};
  try {
    for (const [name, spec] of Object.entries(command.options)) {
      // parseArgs types a repeated option as (string | boolean)[], though one option only ever has one type.
      const given = parsed.values[name] as ParsedArgs['values'][string];
      values[name] = given ?? envValue(name, spec, env) ?? spec.default;
    }
  } catch (error) {
    if (error instanceof UsageProblem) return fail(error.message);
    throw error;
  }
  return { command, args: { values, positionals: parsed.positionals } };
}

/** Turns `campushub`'s arguments (without node and the script) into what to do. */
export function parseCommandLine(argv: readonly string[], env: Env, commands: readonly Command[] = COMMANDS): CommandLine {
  const [first, ...rest] = argv;
  if (first === undefined || first === '--help' || first === '-h') return { help: commandListHelp(commands) };
  if (first === 'help') return rest[0] === undefined ? { help: commandListHelp(commands) } : parseCommandLine([rest[0], '--help'], env, commands);
  if (first.startsWith('-')) return { error: `${PROGRAM}: unknown option ${first} before the command. Run \`${PROGRAM} --help\` for the list of commands.` };

  const command = commands.find((candidate) => candidate.name === first);
  if (!command) {
    const names = commands.map((candidate) => candidate.name);
    const suggestion = closestName(first, names);
    const hint = suggestion ? `Did you mean \`${PROGRAM} ${suggestion}\`?` : `Commands: ${names.join(', ')}.`;
    return { error: `${PROGRAM}: unknown command ${JSON.stringify(first)}. ${hint} Run \`${PROGRAM} --help\` for the list of commands.` };
  }
  return parseCommandArgs(command, rest, env);
}

function isDebug(args: ParsedArgs, env: Env): boolean {
  const level = typeof args.values['log-level'] === 'string' ? args.values['log-level'] : env.LOG_LEVEL;
  return level === 'debug' || level === 'trace';
}

/** One line for an error nobody caught; the stack only when asked for, as users mostly need the message. */
export function describeFatalError(error: unknown, debug: boolean): string {
  if (error instanceof Error) return debug && error.stack ? error.stack : error.message;
  return String(error);
}

/** Runs `campushub` with these arguments and resolves with the process's exit code. */
export async function main(argv: readonly string[], env: Env, io: CliIo, commands: readonly Command[] = COMMANDS): Promise<number> {
  const line = parseCommandLine(argv, env, commands);
  if ('help' in line) {
    io.stdout(line.help);
    return 0;
  }
  if ('error' in line) {
    io.stderr(`${line.error}\n`);
    return USAGE_EXIT_CODE;
  }
  const { command, args } = line;
  try {
    return await command.run(args);
  } catch (error) {
    // Commands report bad argument values (a malformed port, an unknown simulator kind) as UsageError.
    if (error instanceof Error && error.name === 'UsageError') {
      io.stderr(`${PROGRAM} ${command.name}: ${error.message}. Run \`${PROGRAM} ${command.name} --help\` for usage.\n`);
      return USAGE_EXIT_CODE;
    }
    io.stderr(`${PROGRAM} ${command.name}: ${describeFatalError(error, isDebug(args, env))}\n`);
    return 1;
  }
}
