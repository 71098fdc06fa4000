import type { Command } from './command.js';

export const usersCommand: Command = {
  name: 'users',
  summary: 'Add a user from the command line, e.g. the first admin of a new hub',
  usage: 'users add --username <name> --role <role> [--display-name <text>] [--department <id>] [options] < password-file',
  description: [
    'Reads the password from the first line of standard input, so that it never appears in the',
    'process list or the shell history:  printf "%s\\n" "$PASSWORD" | campushub users add --username root --role admin',
    'The same password rules as the API apply. The entry in the audit log names the CLI and the OS user.',
  ].join('\n'),
  positionals: [{ name: 'action', description: 'add', required: true }],
  options: {
    username: { type: 'string', description: 'Sign-in name (letters, digits, . _ @ -)' },
    role: { type: 'string', description: 'admin, hod, faculty, student or service' },
    'display-name': { type: 'string', description: 'Name shown in the app (default: the username)' },
    department: { type: 'string', description: 'Department id; required for an HOD' },
    'database-url': { type: 'string', env: 'DATABASE_URL', description: 'Postgres URL; without it the embedded PGlite is used' },
    'data-dir': { type: 'string', default: './data/hub', env: 'CAMPUSHUB_DATA_DIR', description: 'PGlite data directory (default ./data/hub)' },
    'key-file': { type: 'string', env: 'CAMPUSHUB_KEY_FILE', description: 'Key file with the key-encryption keys, as for `campushub hub`' },
  },
  async run(args) {
    const { runUsers } = await import('../start/users.js');
    return runUsers(args);
  },
};
