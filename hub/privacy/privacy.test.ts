import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pino from 'pino';
import { appendAudit } from '../audit/append.js';
import { startAuditSealer } from '../audit/sealer.js';
import { verifyAuditChain } from '../audit/verify.js';
import { runRetention, verifyAuditArchives } from '../retention/retention.js';
import { insertSession } from '../../test/support/attendance.js';
import { CAMPUS_IDS, linkUser, seedSmallCampus } from '../../test/support/campus.js';
import { createTestDatabase } from '../../test/support/database.js';
import { startTestHub } from '../../test/support/hub.js';
import { jsonBody } from '../../test/support/routeMatrix.js';
import { tempDir } from '../../test/support/tempDir.js';
import { signIn } from '../../test/support/users.js';

const YEAR = 365 * 86_400_000;
const logger = pino({ level: 'silent' });

test('the retention job archives expired audit entries with their hashes and purges them; the chain and the archives still verify, and a forged archive does not', async (t) => {
  const database = await createTestDatabase();
  t.after(() => database.drop());
  const db = await database.open();
  t.after(() => db.close());
  const now = Date.parse('2026-11-25T00:00:00Z');
  const append = (count: number, at: number, action: string) =>
    db.query(`insert into audit_log (at, actor, action, target, source) select $1, 'user:a', $2, 'thing:' || i, 'http' from generate_series(1, $3::int) as i`, [new Date(at), action, count]);
  const seal = async () => {
    const sealer = startAuditSealer({ db, logger, intervalMs: 3_600_000 });
    await sealer.sealNow();
    await sealer.stop();
  };
  await append(30, now - 9 * YEAR, 'old.thing');
  await append(20, now - 7.5 * YEAR, 'older.thing');
  await append(10, now - 1 * YEAR, 'recent.thing');
  await seal();

  const archiveDir = tempDir(t, 'audit-archive');
  const first = await runRetention(db, new Date(now - YEAR), { archiveDir });
  assert.equal(first.auditPurged, 30, 'older than 7 years a year ago: the first 30');
  await seal();
  const second = await runRetention(db, new Date(now), { archiveDir });
  assert.equal(second.auditPurged, 20);
  await seal();

  const chain = await verifyAuditChain(db);
  assert.equal(chain.ok, true, JSON.stringify(chain.firstBad));
  assert.equal(chain.anchor?.seq, 50);
  // The first purge's own entry (seq 61) is recent, so it stays, with the second's.
  assert.deepEqual(
    (await db.query<{ action: string }>('select action from audit_log order by seq')).rows.map((row) => row.action),
    [...Array<string>(10).fill('recent.thing'), 'audit.purge', 'audit.purge'],
  );
  assert.deepEqual(await verifyAuditArchives(db, archiveDir), { ok: true, entries: 50 });
  assert.equal(readdirSync(archiveDir).length, 2);

  // Direct deletes stay refused: only the purge function removes entries.
  await assert.rejects(db.query('delete from audit_log where seq = 55'), /append-only/);

  // An edited archive no longer verifies.
  const [file] = readdirSync(archiveDir).sort();
  const path = join(archiveDir, file!);
  writeFileSync(path, readFileSync(path, 'utf8').replace('"thing:7"', '"thing:70"'));
  const forged = await verifyAuditArchives(db, archiveDir);
  assert.equal(forged.ok, false);
  assert.match(forged.problem!, /seq 7: hash does not match its content/);

  // A purge anchor nobody recorded (rows deleted behind the function's back) is reported.
  await db.transaction(async (tx) => {
    await tx.query('alter table audit_log disable trigger audit_log_append_only');
    await tx.query(`delete from audit_log where action = 'audit.purge'`);
    await tx.query('alter table audit_log enable trigger audit_log_append_only');
  });
  const unrecorded = await verifyAuditChain(db);
  assert.equal(unrecorded.ok, false);
  assert.deepEqual([unrecorded.firstBad?.seq, unrecorded.firstBad?.reason], [51, 'unrecorded_purge']);
});

test('after a student is erased, the audit table and its archives hold no trace of their name, roll number or email, and the chain verifies', async (t) => {
  const hub = await startTestHub(t);
  await seedSmallCampus(hub.db);
  const studentId = CAMPUS_IDS.students[0]!;
  const [name, rollNo, email] = ['Aarav Sharma', 'CS24001', 'aarav.sharma.2006@example.edu'];

  // The student's account: username is their roll number, display name their name, with an email.
  const created = await hub.api('/api/v1/users', {
    method: 'POST',
    ...jsonBody({ username: rollNo.toLowerCase(), displayName: name, role: 'student', departmentId: 'cs', password: 'a long enough pass phrase 42', email }),
  });
  assert.equal(created.status, 201, await created.clone().text());
  const { id: userId } = (await created.json()) as { id: string };
  await linkUser(hub.db, 'student', studentId, userId);
  const patched = await hub.api(`/api/v1/users/${userId}`, { method: 'PATCH', ...jsonBody({ displayName: `${name} K`, reason: 'name change' }) });
  assert.equal(patched.status, 200, await patched.clone().text());
  assert.equal((await signIn(hub, rollNo.toLowerCase(), 'wrong password')).status, 401);
  const signedIn = (await (await signIn(hub, rollNo.toLowerCase(), 'a long enough pass phrase 42')).json()) as { accessToken: string };
  const sessionId = await insertSession(hub.db, { startsAt: Date.now() - 5 * 60_000 });
  const marked = await hub.api(`/api/v1/sessions/${sessionId}/records`, { method: 'POST', ...jsonBody({ studentId, status: 'late', reason: 'bus' }) });
  assert.equal(marked.status, 201, await marked.clone().text());
  await hub.db.transaction((tx) => appendAudit(tx, { actor: 'system:test', source: 'system', action: 'test.note', target: `student:${studentId}` }));

  // The student downloads everything held about them.
  const exported = await fetch(`${hub.httpUrl}/api/v1/students/${studentId}/data-export`, { headers: { authorization: `Bearer ${signedIn.accessToken}` } });
  assert.equal(exported.status, 200);
  assert.match(exported.headers.get('content-disposition')!, /attachment; filename="campushub-student-/);
  const bundle = (await exported.json()) as { student: { name: string; roll_no: string }; user: { email: string }; attendanceEvents: unknown[]; auditEntries: { action: string }[] };
  assert.deepEqual([bundle.student.name, bundle.student.roll_no, bundle.user.email], [name, rollNo, email]);
  assert.equal(bundle.attendanceEvents.length, 1);
  assert.ok(bundle.auditEntries.some((entry) => entry.action === 'records.mark'));

  const erased = await hub.api(`/api/v1/students/${studentId}/erase`, { method: 'POST', ...jsonBody({ reason: 'request under the data protection act' }) });
  assert.deepEqual(await erased.json(), { userId, keyDestroyed: true });
  assert.equal((await signIn(hub, rollNo.toLowerCase(), 'a long enough pass phrase 42')).status, 401, 'the account is gone');
  const { rows: students } = await hub.db.query<{ name: string; roll_no: string }>('select name, roll_no from students where id = $1', [studentId]);
  assert.deepEqual(students[0], { name: 'erased', roll_no: `erased-${studentId}` });
  const { rows: keys } = await hub.db.query('select 1 from data_keys where owner = $1', [`user:${userId}`]);
  assert.equal(keys.length, 0, 'the data key is destroyed');

  // Everything expires (eight years on), is archived and purged; more entries follow.
  await hub.auditSealer.sealNow();
  const archiveDir = tempDir(t, 'archive');
  const retention = await runRetention(hub.db, new Date(Date.now() + 8 * YEAR), { archiveDir });
  assert.ok(retention.auditPurged > 5);
  await hub.auditSealer.sealNow();

  const traces = [name, rollNo, rollNo.toLowerCase(), email];
  const { rows: table } = await hub.db.query<{ text: string }>('select row_to_json(a)::text as text from audit_log a');
  const archives = readdirSync(archiveDir).map((file) => readFileSync(join(archiveDir, file), 'utf8'));
  assert.ok(table.length > 0 && archives.length === 1);
  for (const trace of traces) {
    assert.deepEqual(table.filter((row) => row.text.toLowerCase().includes(trace.toLowerCase())), [], `audit table mentions ${trace}`);
    assert.ok(!archives.some((archive) => archive.toLowerCase().includes(trace.toLowerCase())), `an archive mentions ${trace}`);
  }
  assert.equal((await verifyAuditChain(hub.db)).ok, true);
  assert.deepEqual(await verifyAuditArchives(hub.db, archiveDir), { ok: true, entries: retention.auditPurged });
});
