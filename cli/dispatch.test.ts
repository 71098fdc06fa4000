import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { Command, ParsedArgs } from './commands/command.js';
import { COMMANDS } from './commands/index.js';
import { main, parseCommandLine, type CliIo, type CommandLine, type Env } from './dispatch.js';

function capture(): CliIo & { out: string; err: string } {
  const io = {
    out: '',
    err: '',
    stdout: (text: string) => void (io.out += text),
    stderr: (text: string) => void (io.err += text),
  };
  return io;
}

function parsed(line: CommandLine): { command: Command; args: ParsedArgs } {
  assert.ok('command' in line, `expected a command to run, got ${JSON.stringify(line)}`);
  return line;
}

function helpOf(line: CommandLine): string {
  assert.ok('help' in line, `expected help, got ${JSON.stringify(line)}`);
  return line.help;
}

function errorOf(line: CommandLine): string {
  assert.ok('error' in line, `expected an error, got ${JSON.stringify(line)}`);
  return line.error;
}

/** A command that records the arguments it ran with and does what the test tells it to. */
function fakeCommand(behaviour: (args: ParsedArgs) => Promise<number>): Command & { calls: ParsedArgs[] } {
  const calls: ParsedArgs[] = [];
  return {
    name: 'fake',
    summary: 'A stand-in command for tests',
    usage: 'fake <target> [options]',
    positionals: [{ name: 'target', description: 'what to act on', required: true }],
    options: {
      level: { type: 'string', default: 'low', env: 'FAKE_LEVEL', description: 'How hard to try (default low)' },
      verbose: { type: 'boolean', default: false, env: 'FAKE_VERBOSE', description: 'Say more' },
      tag: { type: 'string', multiple: true, description: 'A tag, repeatable' },
      'log-level': { type: 'string', env: 'LOG_LEVEL', description: 'Log level' },
    },
    calls,
    run(args) {
      calls.push(args);
      return behaviour(args);
    },
  };
}

test('no arguments, --help, -h and "help" all print every command with its summary', () => {
  for (const argv of [[], ['--help'], ['-h'], ['help']]) {
    const help = helpOf(parseCommandLine(argv, {}));
    const rows = help.split('\n').map((line) => line.trim().split(/\s{2,}/));
    for (const command of COMMANDS) assert.ok(rows.some(([name, summary]) => name === command.name && summary === command.summary), `${argv.join(' ') || '(nothing)'} lists ${command.name}`);
  }
});

for (const command of COMMANDS) {
  test(`campushub ${command.name} --help shows the usage, every positional, and every option with its description and environment variable`, () => {
    for (const flag of ['--help', '-h']) {
      const help = helpOf(parseCommandLine([command.name, flag], {}));
      assert.ok(help.includes(`Usage: campushub ${command.usage}`));
      for (const positional of command.positionals ?? []) assert.ok(help.includes(positional.name) && help.includes(positional.description));
      for (const [name, spec] of Object.entries(command.options)) {
        const row = help.split('\n').find((line) => line.trimStart().startsWith(`--${name}`));
        assert.ok(row, `--${name} is listed`);
        assert.ok(row.includes(spec.description), `--${name} shows its description`);
        if (spec.env) assert.ok(row.includes(spec.env), `--${name} names ${spec.env}`);
      }
    }
    assert.equal(helpOf(parseCommandLine(['help', command.name], {})), helpOf(parseCommandLine([command.name, '--help'], {})));
  });
}

test('--help wins over a missing positional and an unknown option, so help is always reachable', () => {
  assert.match(helpOf(parseCommandLine(['sim', '--help'], {})), /Usage: campushub sim/);
  assert.match(helpOf(parseCommandLine(['hub', '--no-such-option', '--help'], {})), /Usage: campushub hub/);
});

test('an option not on the command line takes its environment variable, and without one its default', () => {
  const fromEnv = parsed(parseCommandLine(['hub'], { CAMPUSHUB_HTTP_PORT: '9090', DATABASE_URL: 'postgres://db/hub' }));
  assert.equal(fromEnv.command.name, 'hub');
  assert.equal(fromEnv.args.values['http-port'], '9090');
  assert.equal(fromEnv.args.values['database-url'], 'postgres://db/hub');
  assert.equal(fromEnv.args.values['http-host'], '127.0.0.1', 'the default');
  assert.equal(fromEnv.args.values['admin-token'], undefined, 'no default, no variable');
});

test('the command line wins over the environment, which wins over the default', () => {
  const env: Env = { CAMPUSHUB_AGENT_ID: 'agent-env', CAMPUSHUB_CAMPUS_ID: 'campus-env' };
  const { args } = parsed(parseCommandLine(['agent', '--agent-id', 'agent-cli'], env));
  assert.equal(args.values['agent-id'], 'agent-cli');
  assert.equal(args.values['campus-id'], 'campus-env');
  assert.equal(args.values['mqtt-url'], 'mqtt://127.0.0.1:1883');
});

test('an empty environment variable counts as unset, so the default applies', () => {
  const { args } = parsed(parseCommandLine(['hub'], { CAMPUSHUB_HTTP_HOST: '' }));
  assert.equal(args.values['http-host'], '127.0.0.1');
});

test('a boolean option reads yes/no words from its environment variable and rejects anything else by name', () => {
  const fake = fakeCommand(async () => 0);
  assert.equal(parsed(parseCommandLine(['fake', 'x'], { FAKE_VERBOSE: 'yes' }, [fake])).args.values.verbose, true);
  assert.equal(parsed(parseCommandLine(['fake', 'x'], { FAKE_VERBOSE: '0' }, [fake])).args.values.verbose, false);
  assert.equal(parsed(parseCommandLine(['fake', 'x', '--verbose'], { FAKE_VERBOSE: 'off' }, [fake])).args.values.verbose, true);
  const error = errorOf(parseCommandLine(['fake', 'x'], { FAKE_VERBOSE: 'maybe' }, [fake]));
  assert.match(error, /FAKE_VERBOSE="maybe"/);
  assert.match(error, /--verbose/);
});

test('a repeatable option collects every value, and positionals come through in order', () => {
  const { args } = parsed(parseCommandLine(['agent', '--device', 'qr:door-1=tcp://a:1', '--device', 'qr:door-2=tcp://b:2'], {}));
  assert.deepEqual(args.values.device, ['qr:door-1=tcp://a:1', 'qr:door-2=tcp://b:2']);
  assert.deepEqual(parsed(parseCommandLine(['sim', 'qr', '--ack'], {})).args, {
    values: {
      host: '127.0.0.1',
      port: undefined,
      serial: undefined,
      codes: undefined,
      'interval-ms': '1000',
      count: undefined,
      ack: true,
      users: undefined,
      'punch-interval-ms': undefined,
      'hub-url': undefined,
      enrolled: undefined,
      'touch-interval-ms': undefined,
    },
    positionals: ['qr'],
  });
});

test('an unknown option is named in the error, with the closest real option and a pointer to --help', () => {
  const error = errorOf(parseCommandLine(['hub', '--htp-port', '80'], {}));
  assert.match(error, /unknown option --htp-port/);
  assert.match(error, /did you mean --http-port\?/);
  assert.match(error, /campushub hub --help/);
});

test('a missing required positional, an extra positional and a missing option value are usage errors pointing to --help', () => {
  assert.match(errorOf(parseCommandLine(['sim'], {})), /missing required argument <kind>.*campushub sim --help/);
  assert.match(errorOf(parseCommandLine(['sim', 'qr', 'extra'], {})), /unexpected extra argument "extra"/);
  assert.match(errorOf(parseCommandLine(['hub', 'extra'], {})), /takes no arguments, got "extra"/);
  assert.match(errorOf(parseCommandLine(['hub', '--http-port'], {})), /--http-port.*argument missing.*campushub hub --help/);
});

test('an unknown command suggests the closest command name, or lists them all when none is close', () => {
  assert.match(errorOf(parseCommandLine(['hbu'], {})), /unknown command "hbu"\. Did you mean `campushub hub`\?/);
  assert.match(errorOf(parseCommandLine(['migrat'], {})), /Did you mean `campushub migrate`\?/);
  assert.match(errorOf(parseCommandLine(['help', 'agnet'], {})), /Did you mean `campushub agent`\?/);
  const far = errorOf(parseCommandLine(['xyzzy'], {}));
  assert.ok(far.includes(`Commands: ${COMMANDS.map((command) => command.name).join(', ')}.`), far);
  assert.match(far, /campushub --help/);
});

test('main prints help to stdout and exits 0, and prints usage errors to stderr and exits 2', async () => {
  const help = capture();
  assert.equal(await main(['--help'], {}, help), 0);
  assert.match(help.out, /Commands:/);
  assert.equal(help.err, '');

  for (const argv of [['nope'], ['hub', '--bogus'], ['sim'], ['--version']]) {
    const io = capture();
    assert.equal(await main(argv, {}, io), 2, argv.join(' '));
    assert.equal(io.out, '');
    assert.match(io.err, /--help/);
  }
});

test('main runs the command with the resolved arguments and exits with the code it returns', async () => {
  const fake = fakeCommand(async () => 3);
  const io = capture();
  assert.equal(await main(['fake', 'target-1', '--tag', 'a', '--tag', 'b'], { FAKE_LEVEL: 'high' }, io, [fake]), 3);
  assert.deepEqual(fake.calls, [{ values: { level: 'high', verbose: false, tag: ['a', 'b'], 'log-level': undefined }, positionals: ['target-1'] }]);
  assert.equal(io.err, '');
});

test('an error thrown by a command prints its message without a stack and exits 1', async () => {
  const io = capture();
  const fake = fakeCommand(async () => {
    throw new Error('the database is unreachable');
  });
  assert.equal(await main(['fake', 'x'], {}, io, [fake]), 1);
  assert.equal(io.err, 'campushub fake: the database is unreachable\n');
});

test('with LOG_LEVEL=debug, or --log-level debug, an error thrown by a command prints its stack', async () => {
  const fake = fakeCommand(async () => {
    throw new Error('the database is unreachable');
  });
  for (const [argv, env] of [[['fake', 'x'], { LOG_LEVEL: 'debug' }], [['fake', 'x', '--log-level', 'debug'], {}]] as const) {
    const io = capture();
    assert.equal(await main(argv, env, io, [fake]), 1);
    assert.match(io.err, /the database is unreachable\n\s+at /);
  }
});

test('a UsageError thrown by a command exits 2 with a pointer to the command\'s --help', async () => {
  class UsageError extends Error {
    override readonly name = 'UsageError';
  }
  const fake = fakeCommand(async () => {
    throw new UsageError('--level must be low or high');
  });
  const io = capture();
  assert.equal(await main(['fake', 'x'], {}, io, [fake]), 2);
  assert.equal(io.err, 'campushub fake: --level must be low or high. Run `campushub fake --help` for usage.\n');
});

test('the campushub executable exits 0 on --help and 2 on an unknown command', async () => {
  const run = (argv: string[]) =>
    new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
      const child = execFile(process.execPath, ['--import', 'tsx', fileURLToPath(new URL('./campushub.ts', import.meta.url)), ...argv], (_error, stdout, stderr) =>
        resolve({ code: child.exitCode, stdout, stderr }),
      );
    });
  const [help, unknown] = await Promise.all([run(['--help']), run(['hbu'])]);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /Usage: campushub <command>/);
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /Did you mean `campushub hub`\?/);
});
