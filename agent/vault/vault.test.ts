import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { encodeEnvelope, recipientWrapper, sealEnvelope, templateContext } from '../../protocol/index.js';
import { testKeys } from '../../test/support/pki.js';
import { tempDir } from '../../test/support/tempDir.js';
import { TemplateVault, VaultError } from './vault.js';

const STUDENT = '00000000-0000-4000-8000-000000000001';

function deliveryFor(publicKeyPem: string, bytes: Buffer, finger = 1) {
  const templateId = randomUUID();
  const context = templateContext({ templateId, studentId: STUDENT, finger, format: 'zk-bio10' });
  const envelope = sealEnvelope(bytes, context, recipientWrapper(publicKeyPem, context));
  return { templateId, studentId: STUDENT, deviceUserId: '1001', finger, format: 'zk-bio10', envelope: encodeEnvelope(envelope).toString('base64') };
}

test('the vault keeps envelopes for its own key only, opens them in memory, and its start-up check finds one altered on disk', (t) => {
  const dir = tempDir(t, 'vault');
  const mine = testKeys('vault-agent');
  const theirs = testKeys('vault-other-campus');
  const vault = new TemplateVault(dir, mine.privateKeyPem);
  const good = deliveryFor(mine.publicKeyPem, Buffer.from('template one'));
  const second = deliveryFor(mine.publicKeyPem, Buffer.from('template two'), 2);
  vault.put(good);
  vault.put(second);
  assert.equal(vault.open(good.templateId).toString(), 'template one');
  assert.throws(() => vault.put(deliveryFor(theirs.publicKeyPem, Buffer.from('x'))), (error: unknown) => error instanceof VaultError && error.code === 'wrong_key');
  assert.throws(() => vault.put({ ...good, envelope: 'AQ==' }), (error: unknown) => error instanceof VaultError && error.code === 'malformed');
  assert.throws(() => vault.open(randomUUID()), (error: unknown) => error instanceof VaultError && error.code === 'unknown_template');
  assert.deepEqual(vault.integrityCheck(), { sqlite: 'ok', templates: 2, unreadable: [] });
  vault.close();

  // Someone edits the file: one ciphertext byte changes.
  const raw = new Database(join(dir, 'vault.sqlite'));
  const { envelope } = raw.prepare<[string], { envelope: Buffer }>('select envelope from templates where template_id = ?').get(second.templateId)!;
  envelope[envelope.length - 1]! ^= 0x80;
  raw.prepare('update templates set envelope = ? where template_id = ?').run(envelope, second.templateId);
  raw.close();

  const reopened = new TemplateVault(dir, mine.privateKeyPem);
  t.after(() => reopened.close());
  const check = reopened.integrityCheck();
  assert.deepEqual([check.sqlite, check.templates, check.unreadable.map((problem) => [problem.templateId, problem.code])], ['ok', 2, [[second.templateId, 'tampered']]]);
  assert.match(check.unreadable[0]!.message, /altered in the vault file/);
  assert.throws(
    () => reopened.open(second.templateId),
    (error: unknown) => error instanceof VaultError && error.code === 'tampered' && /envelope authentication failed: the ciphertext was altered/.test(error.message),
  );
  // A row moved to another student (ciphertext untouched) fails the MAC too.
  const moved = new Database(join(dir, 'vault.sqlite'));
  moved.prepare('update templates set student_id = ? where template_id = ?').run('00000000-0000-4000-8000-000000000009', good.templateId);
  moved.close();
  assert.deepEqual(reopened.integrityCheck().unreadable.map((problem) => problem.code).sort(), ['tampered', 'tampered']);
  // After a key change, the old envelopes show up as sealed for another key until the hub sends them again.
  reopened.useKey(theirs.privateKeyPem);
  assert.deepEqual(reopened.integrityCheck().unreadable.map((problem) => problem.code), ['wrong_key', 'wrong_key']);
});
