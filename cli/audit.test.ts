import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import pino from 'pino';
import { appendAudit } from '../hub/audit/append.js';
import { CHECKPOINT_PUBLIC_KEY_FILE, loadOrCreateCheckpointKey, writeCheckpoint } from '../hub/audit/checkpoint.js';
import { startAuditSealer } from '../hub/audit/sealer.js';
import { createTestDatabase, TEST_ROOT, type TestDatabase } from '../test/support/database.js';
import { tempDir } from '../test/support/tempDir.js';

const CLI = join(process.cwd(), 'cli/campushub.ts');

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function campushub(args: string[]): Promise<Run> {
  const child = spawn(process.execPath, ['--import', 'tsx', CLI, ...args], {
    env: { ...process.env, LOG_LEVEL: 'warn', DATABASE_URL: '', CAMPUSHUB_DATA_DIR: '' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })));
}

function dbArgs(database: TestDatabase): string[] {
  return database.options.databaseUrl ? ['--database-url', database.options.databaseUrl] : ['--data-dir', database.options.dataDir!];
}

/** A test database with `count` sealed entries; closed again, since a PGlite data directory has one user at a time. */
async function sealedDatabase(t: TestContext, count: number): Promise<TestDatabase> {
  const database = await createTestDatabase();
  t.after(() => database.drop());
  const db = await database.open();
  try {
    await db.transaction(async (tx) => {
      for (let index = 0; index < count; index++) await appendAudit(tx, { actor: 'cli:test', source: 'cli', action: `test.step.${index}`, target: `t:${index}` });
    });
    const sealer = startAuditSealer({ db, logger: pino({ level: 'silent' }), intervalMs: 3_600_000 });
    assert.equal(await sealer.sealNow(), count);
    await sealer.stop();
  } finally {
    await db.close();
  }
  return database;
}

test('campushub audit verify exits 0 on an intact log and 1 naming the bad seq after tampering', async (t) => {
  const database = await sealedDatabase(t, 8);

  const intact = await campushub(['audit', 'verify', ...dbArgs(database)]);
  assert.equal(intact.code, 0, intact.stderr);
  assert.match(intact.stdout, /^audit log intact: 8 sealed entries \(head seq 8, hash [0-9a-f]{64}\)\n$/);

  const db = await database.open();
  try {
    await db.transaction(async (tx) => {
      await tx.query('alter table audit_log disable trigger audit_log_append_only');
      await tx.query(`update audit_log set target = 't:forged' where seq = 6`);
      await tx.query('alter table audit_log enable trigger audit_log_append_only');
    });
  } finally {
    await db.close();
  }

  const broken = await campushub(['audit', 'verify', ...dbArgs(database)]);
  assert.equal(broken.code, 1, broken.stderr);
  assert.match(broken.stdout, /^audit log BROKEN at seq 6 \(id \d+, action test\.step\.5\): hash_mismatch: /);

  const json = await campushub(['audit', 'verify', '--json', ...dbArgs(database)]);
  assert.equal(json.code, 1, json.stderr);
  const result = JSON.parse(json.stdout) as { ok: boolean; sealed: number; firstBad: { seq: number; action: string; reason: string } };
  assert.equal(result.ok, false);
  assert.equal(result.sealed, 8);
  assert.deepEqual([result.firstBad.seq, result.firstBad.action, result.firstBad.reason], [6, 'test.step.5', 'hash_mismatch']);
});

test('campushub audit verify exits 3 when there is nothing to check and 2 on an unknown action', async () => {
  const missing = await campushub(['audit', 'verify', '--data-dir', join(TEST_ROOT, 'no-such-audit-dir')]);
  assert.equal(missing.code, 3);
  assert.match(missing.stderr, /could not check the audit log: no PGlite data directory/);

  const unknown = await campushub(['audit', 'frobnicate']);
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /unknown action "frobnicate"; choose one of verify/);
});

test('campushub audit verify checks signed checkpoints and names a truncated tail', async (t) => {
  const database = await sealedDatabase(t, 8);
  const dir = tempDir(t, 'checkpoints');
  const keyFile = join(tempDir(t, 'checkpoint-key'), 'key.pem');
  const db = await database.open();
  try {
    await writeCheckpoint(db, dir, loadOrCreateCheckpointKey(keyFile), new Date('2026-11-25T09:45:00Z'));
  } finally {
    await db.close();
  }
  const checkpointArgs = ['--checkpoint-dir', dir, '--checkpoint-key', join(dir, CHECKPOINT_PUBLIC_KEY_FILE)];
  const intact = await campushub(['audit', 'verify', ...dbArgs(database), ...checkpointArgs]);
  assert.equal(intact.code, 0, intact.stderr);
  assert.match(intact.stdout, /^audit log intact: 8 sealed entries \(head seq 8, hash [0-9a-f]{64}\), 1 signed checkpoints matched\n$/);

  const attacker = await database.open();
  try {
    await attacker.transaction(async (tx) => {
      await tx.query('alter table audit_log disable trigger audit_log_append_only');
      await tx.query('delete from audit_log where seq > 6');
      await tx.query('alter table audit_log enable trigger audit_log_append_only');
    });
  } finally {
    await attacker.close();
  }
  const cut = await campushub(['audit', 'verify', ...dbArgs(database), ...checkpointArgs]);
  assert.equal(cut.code, 1, cut.stderr);
  assert.equal(
    cut.stdout,
    'audit log BROKEN at seq 7 (no entry): truncated: seqs 7 to 8 are gone from the tail, though the checkpoint of 2026-11-25T09:45:00.000Z covers them; 6 sealed entries checked\n',
  );
});
