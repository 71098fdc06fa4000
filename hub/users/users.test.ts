import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startTestHub, type TestHub } from '../../test/support/hub.js';
import { createTestUser } from '../../test/support/users.js';

const PERSONAL = { email: 'ananya.rao.1987@example.edu', phone: '+91 98450 12345', guardianContact: 'Mr Suresh Rao +91 98860 54321' };

/** Every row of every table of the hub's schema, as text. */
async function databaseDump(hub: TestHub): Promise<string> {
  const { rows: tables } = await hub.db.query<{ tablename: string }>("select tablename from pg_tables where schemaname = current_schema()");
  let dump = '';
  for (const { tablename } of tables) {
    const { rows } = await hub.db.query<{ row: string }>(`select t::text as row from "${tablename}" t`);
    dump += rows.map((row) => row.row).join('\n');
    // bytea columns print as hex: look for the plaintext's hex too.
  }
  return dump;
}

function containsPlaintext(haystack: string): string[] {
  const hex = (value: string) => Buffer.from(value).toString('hex');
  return Object.values(PERSONAL).filter((value) => haystack.includes(value) || haystack.includes(hex(value)) || haystack.includes(value.replace(/\s/g, '')));
}

test('personal fields are stored sealed, answered masked, and their plaintext is nowhere: not in the database, the logs or any API response', async (t) => {
  const hub = await startTestHub(t, { logLevel: 'trace' });
  const responses: string[] = [];
  const record = async (response: Response) => {
    responses.push(JSON.stringify([...response.headers]) + (await response.clone().text()));
    return response;
  };
  const created = await record(
    await hub.api('/api/v1/users', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'ananya', displayName: 'Ananya Rao', role: 'student', departmentId: 'cs', password: 'a long and private passphrase', ...PERSONAL }),
    }),
  );
  assert.equal(created.status, 201);
  const view = (await created.json()) as { id: string; email: string; phone: string; guardianContact: string };
  assert.equal(view.email, 'a•••@e•••.edu');
  assert.equal(view.phone, '•••45');
  assert.equal(view.guardianContact, '•••21');
  const student = await createTestUser(hub, { role: 'student', username: 'ananya-2', ...PERSONAL });
  await record(await student.api('/api/v1/auth/me'));
  await record(await hub.api(`/api/v1/users/${view.id}`));
  await record(await hub.api('/api/v1/users?limit=50'));
  await record(
    await hub.api(`/api/v1/users/${view.id}`, {
      method: 'PATCH',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ phone: '+91 90000 11111', reason: 'new number' }),
    }),
  );
  await record(await hub.api(`/api/v1/users/${view.id}`, { method: 'PATCH', headers: { 'content-type': 'application/json' }, body: JSON.stringify(PERSONAL) }));
  await hub.auditSealer.sealNow();

  assert.deepEqual(containsPlaintext(await databaseDump(hub)), [], 'the database holds no plaintext');
  assert.deepEqual(containsPlaintext(JSON.stringify(hub.logs)), [], 'the logs hold no plaintext');
  assert.deepEqual(containsPlaintext(responses.join('\n')), [], 'no API response holds plaintext');
  // The scan can fail: the plaintext went in, so it would be found if it were stored or echoed.
  assert.ok(hub.logs.length > 0 && responses.length === 6);
});

test('a sealed field copied to another user, or to another column, fails to decrypt with a clear error', async (t) => {
  const hub = await startTestHub(t);
  const a = await createTestUser(hub, { role: 'student', ...PERSONAL });
  const b = await createTestUser(hub, { role: 'student', email: 'someone.else@example.edu' });
  await hub.db.query('update users set email_sealed = (select email_sealed from users where id = $1) where id = $2', [a.id, b.id]);
  const moved = await hub.api(`/api/v1/users/${b.id}`);
  assert.equal(moved.status, 500);
  assert.ok(hub.logs.some((line) => /authentication|decrypt/i.test(JSON.stringify(line))), 'the log says why');
  await hub.db.query('update users set email_sealed = phone_sealed where id = $1', [a.id]);
  assert.equal((await hub.api(`/api/v1/users/${a.id}`)).status, 500);
});
