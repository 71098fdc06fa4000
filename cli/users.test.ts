import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { createTestDatabase } from '../test/support/database.js';
import { TEST_KEKS } from '../test/support/processes.js';

const CLI = join(process.cwd(), 'cli/campushub.ts');

function campushub(args: string[], stdin: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', CLI, ...args], {
    env: { ...process.env, LOG_LEVEL: 'warn', DATABASE_URL: '', CAMPUSHUB_DATA_DIR: '', CAMPUSHUB_KEKS: TEST_KEKS },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  child.stdin.end(stdin);
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })));
}

test('users add creates the first admin from the command line, with the password from stdin, and audits it', async (t) => {
  const database = await createTestDatabase();
  t.after(() => database.drop());
  const dbArgs = database.options.databaseUrl ? ['--database-url', database.options.databaseUrl] : ['--data-dir', database.options.dataDir!];
  const weak = await campushub(['users', 'add', '--username', 'root', '--role', 'admin', ...dbArgs], 'password\n');
  assert.equal(weak.code, 1);
  assert.match(weak.stderr, /commonly used/);
  const added = await campushub(['users', 'add', '--username', 'root', '--role', 'admin', ...dbArgs], 'the registrar keeps the keys safe\n');
  assert.equal(added.code, 0, added.stderr);
  const { id, role } = JSON.parse(added.stdout) as { id: string; role: string };
  assert.equal(role, 'admin');
  const again = await campushub(['users', 'add', '--username', 'ROOT', '--role', 'admin', ...dbArgs], 'another long passphrase here\n');
  assert.equal(again.code, 1);
  assert.match(again.stderr, /taken/);
  const hod = await campushub(['users', 'add', '--username', 'hod1', '--role', 'hod', ...dbArgs], 'another long passphrase here\n');
  assert.equal(hod.code, 1);
  assert.match(hod.stderr, /department/);
  const db = await database.open();
  t.after(() => db.close());
  const { rows } = await db.query<{ actor: string; source: string; target: string }>("select actor, source, target from audit_log where action = 'user.create'");
  assert.equal(rows.length, 1);
  assert.equal(rows[0]!.source, 'cli');
  assert.equal(rows[0]!.target, `user:${id}`);
  assert.match(rows[0]!.actor, /^cli:/);
});
