import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { startTestHub, type TestHub } from '../../test/support/hub.js';
import { CAMPUS_IDS, linkUser, seedSmallCampus } from '../../test/support/campus.js';
import { findPattern, scanDatabase } from '../../test/support/plaintextScan.js';
import { jsonBody } from '../../test/support/routeMatrix.js';
import { createTestUser } from '../../test/support/users.js';

const STUDENT = CAMPUS_IDS.students[0]!;
const OTHER = CAMPUS_IDS.students[1]!;

/** A template with a marker no ciphertext or id will contain by chance. */
function markedTemplate(): { bytes: Buffer; marker: Buffer } {
  const marker = Buffer.concat([Buffer.from('MINUTIAE:'), randomBytes(12)]);
  return { bytes: Buffer.concat([randomBytes(40), marker, randomBytes(400)]), marker };
}

async function post(hub: TestHub, path: string, body: unknown = {}) {
  const response = await hub.api(path, { method: 'POST', ...jsonBody(body) });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> & { error?: string; message?: string } };
}

test('templates need consent; they are stored sealed and never leave through the API; withdrawal shreds them and is confirmed', async (t) => {
  const hub = await startTestHub(t);
  await seedSmallCampus(hub.db);
  const student = await createTestUser(hub, { role: 'student', departmentId: 'cs' });
  const stranger = await createTestUser(hub, { role: 'student', departmentId: 'cs' });
  await linkUser(hub.db, 'student', STUDENT, student.id);
  await linkUser(hub.db, 'student', OTHER, stranger.id);
  const { bytes, marker } = markedTemplate();
  const enroll = (finger: number, template = bytes) => post(hub, `/api/v1/students/${STUDENT}/templates`, { finger, format: 'zk-bio10', quality: 71, template: template.toString('base64') });

  const refused = await enroll(1);
  assert.equal(refused.status, 409);
  assert.equal(refused.body.error, 'consent_required');

  // The student grants their own consent; another student cannot, and cannot see the record.
  assert.equal((await stranger.api(`/api/v1/students/${STUDENT}/biometric-consent/grant`, { method: 'POST', ...jsonBody({}) })).status, 404);
  const granted = await student.api(`/api/v1/students/${STUDENT}/biometric-consent/grant`, { method: 'POST', ...jsonBody({ reason: 'I prefer the finger' }) });
  assert.equal(granted.status, 200);
  assert.equal(((await granted.json()) as { status: string }).status, 'granted');
  assert.equal((await post(hub, `/api/v1/students/${STUDENT}/biometric-consent/grant`)).body.error, 'already_granted');
  assert.equal((await stranger.api(`/api/v1/students/${STUDENT}/biometric-consent`)).status, 404);

  const first = await enroll(1);
  assert.equal(first.status, 201, first.body.message);
  assert.deepEqual([first.body.finger, first.body.format, first.body.quality, first.body.status], [1, 'zk-bio10', 71, 'current']);
  const replacement = markedTemplate();
  const second = await enroll(1, replacement.bytes);
  assert.equal(second.status, 201);
  const listed = (await (await student.api(`/api/v1/students/${STUDENT}/templates`)).json()) as { items: { id: string; status: string; deletedReason: string | null }[] };
  assert.deepEqual(listed.items.map((item) => [item.id, item.status, item.deletedReason]), [
    [second.body.id, 'current', null],
    [first.body.id, 'deleted', 'replaced'],
  ]);

  // Sealed at rest: neither template's bytes anywhere in the database, and none in any response or log line.
  assert.deepEqual(await scanDatabase(hub.db, marker, replacement.marker), []);
  const texts = [JSON.stringify(first.body), JSON.stringify(second.body), JSON.stringify(listed), JSON.stringify(hub.logs)];
  for (const text of texts) assert.deepEqual([...findPattern('response/log', text, marker), ...findPattern('response/log', text, replacement.marker)], []);
  const keys = await hub.db.query<{ owner: string }>(`select owner from data_keys where owner like 'template:%'`);
  assert.deepEqual(keys.rows.map((row) => row.owner), [`template:${second.body.id}`], 'the replaced template\'s key is destroyed');

  // Withdrawal: the current template is shredded; nothing had been sent to an agent, so removal is confirmed at once.
  const withdrawn = await student.api(`/api/v1/students/${STUDENT}/biometric-consent/withdraw`, { method: 'POST', ...jsonBody({}) });
  const consent = (await withdrawn.json()) as { status: string; removal: { pendingAgents: number; devicesHolding: number; confirmedAt: string | null } };
  assert.equal(withdrawn.status, 200);
  assert.equal(consent.status, 'withdrawn');
  assert.deepEqual([consent.removal.pendingAgents, consent.removal.devicesHolding, typeof consent.removal.confirmedAt], [0, 0, 'string']);
  const rows = await hub.db.query<{ sealed: Buffer | null; deleted_reason: string }>('select sealed, deleted_reason from templates where student_id = $1 order by enrolled_at', [STUDENT]);
  assert.deepEqual(rows.rows.map((row) => [row.sealed, row.deleted_reason]), [[null, 'replaced'], [null, 'consent withdrawn']]);
  assert.equal((await hub.db.query(`select 1 from data_keys where owner like 'template:%'`)).rows.length, 0);
  assert.equal((await enroll(2)).body.error, 'consent_required');
  assert.equal((await post(hub, `/api/v1/students/${STUDENT}/biometric-consent/withdraw`)).body.error, 'not_granted');

  const audit = await hub.db.query<{ action: string; actor: string }>(`select action, actor from audit_log where action like 'consent.%' or action like 'templates.%' order by id`);
  assert.deepEqual(audit.rows.map((row) => row.action), ['consent.grant', 'templates.enroll', 'templates.enroll', 'consent.withdraw', 'consent.removal_confirmed']);
  assert.equal(audit.rows[0]!.actor, student.id);
});

test('enrollment input is checked and named; deleting twice is a conflict; sync status of an unknown template is not found', async (t) => {
  const hub = await startTestHub(t);
  await seedSmallCampus(hub.db);
  await post(hub, `/api/v1/students/${STUDENT}/biometric-consent/grant`);
  const bad = await post(hub, `/api/v1/students/${STUDENT}/templates`, { finger: 1, format: 'zk-bio10', template: 'not base64!' });
  assert.equal(bad.status, 400);
  assert.match(bad.body.message!, /template/);
  const finger = await post(hub, `/api/v1/students/${STUDENT}/templates`, { finger: 12, format: 'zk-bio10', template: 'AAAA' });
  assert.equal(finger.status, 400);
  assert.match(finger.body.message!, /finger/);
  const format = await post(hub, `/api/v1/students/${STUDENT}/templates`, { finger: 1, format: 'ZK BIO', template: 'AAAA' });
  assert.match(format.body.message!, /format/);
  const created = await post(hub, `/api/v1/students/${STUDENT}/templates`, { finger: 3, format: 'r30x-char', template: randomBytes(512).toString('base64') });
  assert.equal(created.status, 201);
  assert.equal((await hub.api(`/api/v1/templates/${String(created.body.id)}`, { method: 'DELETE' })).status, 200);
  const again = await hub.api(`/api/v1/templates/${String(created.body.id)}`, { method: 'DELETE' });
  assert.equal(again.status, 409);
  const sync = await hub.api(`/api/v1/templates/${String(created.body.id)}/sync`);
  assert.deepEqual(await sync.json(), { agents: [], devices: [] });
  assert.equal((await hub.api('/api/v1/templates/00000000-0000-4000-8000-00000000dead/sync')).status, 404);
  assert.equal((await post(hub, '/api/v1/templates/distribute', { campusId: 'nowhere' })).body.error, 'unknown_campus');
  assert.deepEqual((await post(hub, '/api/v1/templates/distribute', { campusId: 'main' })).body, { agents: [] });
});
