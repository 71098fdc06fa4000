import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { startTestHub } from '../../test/support/hub.js';
import { tempDir } from '../../test/support/tempDir.js';
import { createTestUser } from '../../test/support/users.js';
import { CHECKPOINT_PUBLIC_KEY_FILE, loadCheckpointPublicKey, readCheckpoints } from './checkpoint.js';
import { verifyAuditChain } from './verify.js';

test('the hub signs a checkpoint of the sealed head with its scheduler, to a directory outside the database, and verify matches it', async (t) => {
  const dir = tempDir(t, 'checkpoints');
  const keyFile = join(tempDir(t, 'checkpoint-key'), 'key.pem');
  let clock = Date.parse('2026-11-25T10:00:00Z');
  const hub = await startTestHub(t, { scheduler: { intervalMs: 0 }, audit: { checkpointDir: dir, checkpointKeyFile: keyFile, archiveDir: undefined } }, { now: () => clock });
  await createTestUser(hub, { role: 'student' });
  await hub.auditSealer.sealNow();
  assert.ok((await hub.scheduler.runDue()).includes('audit.checkpoint'));
  assert.ok(existsSync(keyFile), 'the signing key was created');
  await createTestUser(hub, { role: 'faculty' });
  await hub.auditSealer.sealNow();
  clock += 10 * 60_000;
  assert.ok(!(await hub.scheduler.runDue()).includes('audit.checkpoint'), 'not due again within 15 minutes');
  clock += 5 * 60_000;
  assert.ok((await hub.scheduler.runDue()).includes('audit.checkpoint'));

  assert.equal(readdirSync(dir).filter((name) => name.startsWith('checkpoint-0')).length, 2);
  const { checkpoints, rejected } = readCheckpoints(dir, loadCheckpointPublicKey(join(dir, CHECKPOINT_PUBLIC_KEY_FILE)));
  assert.deepEqual(rejected, []);
  assert.equal(checkpoints.at(-1)?.at, '2026-11-25T10:15:00.000Z');
  const result = await verifyAuditChain(hub.db, { checkpoints });
  assert.equal(result.ok, true);
  assert.equal(result.checkpoints, 2);
});
