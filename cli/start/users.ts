import { userInfo } from 'node:os';
import { createInterface } from 'node:readline';
import { createPasswordHasher } from '../../hub/auth/passwords.js';
import { ROLES, type Role } from '../../hub/auth/rules.js';
import { openDb } from '../../hub/db/db.js';
import { migrate } from '../../hub/db/migrate.js';
import { HttpError } from '../../hub/errors.js';
import { openHubKeys } from '../../hub/keys/index.js';
import { createUser } from '../../hub/users/service.js';
import type { ParsedArgs } from '../commands/command.js';
import { requiredArg, stringArg, UsageError } from './args.js';

async function firstLineOfStdin(): Promise<string> {
  const lines = createInterface({ input: process.stdin });
  for await (const line of lines) {
    lines.close();
    return line;
  }
  return '';
}

export async function runUsers(args: ParsedArgs): Promise<number> {
  if (args.positionals[0] !== 'add') throw new UsageError(`unknown action ${JSON.stringify(args.positionals[0] ?? '')}; the only action is add`);
  const username = requiredArg(args, 'username');
  const role = requiredArg(args, 'role');
  if (!(ROLES as readonly string[]).includes(role)) throw new UsageError(`--role must be one of ${ROLES.join(', ')}, not ${JSON.stringify(role)}`);
  const password = await firstLineOfStdin();
  if (!password) throw new UsageError('give the password on standard input (first line)');
  const databaseUrl = stringArg(args, 'database-url');
  const dataDir = databaseUrl ? undefined : (stringArg(args, 'data-dir') ?? './data/hub');
  const db = await openDb({ databaseUrl, dataDir, poolSize: 1 });
  try {
    await migrate(db);
    const keys = await openHubKeys({ db, keyFile: stringArg(args, 'key-file'), dataDir, logger: { warn: (message) => process.stderr.write(`warning: ${message}\n`) } });
    const hasher = await createPasswordHasher();
    const user = await createUser(
      db,
      { fields: keys.fields, hasher, now: Date.now },
      { username, displayName: stringArg(args, 'display-name') ?? username, role: role as Role, departmentId: stringArg(args, 'department') ?? null, password },
      { actor: `cli:${userInfo().username}`, source: 'cli' },
    );
    console.log(JSON.stringify({ id: user.id, username: user.username, role: user.role, departmentId: user.department_id }));
    return 0;
  } catch (error) {
    if (error instanceof HttpError) {
      process.stderr.write(`campushub users add: ${error.message}\n`);
      return 1;
    }
    throw error;
  } finally {
    await db.close();
  }
}
