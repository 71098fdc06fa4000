import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { hubDefaults } from '../config.js';
import { recordMarks } from '../ledger/ledger.js';
import { FIRST_LECTURE_START, insertSession } from '../../test/support/attendance.js';
import { CAMPUS_IDS, linkUser, seedSmallCampus } from '../../test/support/campus.js';
import { startTestHub, type TestHub } from '../../test/support/hub.js';
import { jsonBody } from '../../test/support/routeMatrix.js';
import { createTestUser, type TestUser } from '../../test/support/users.js';

const [S1, S2, S3] = CAMPUS_IDS.students;
const HOUR = 3_600_000;
const PNG = Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), Buffer.from('a photo of the attendance sheet')]).toString('base64');

interface Setup {
  hub: TestHub;
  clock: { now: number };
  student: TestUser;
  student2: TestUser;
  faculty: TestUser;
  eeFaculty: TestUser;
  hod: TestUser;
  /** The CS301 lecture of Monday 3 August 09:00 in R101, finalized: S1 and S3 absent by finalization, S2 present by the teacher. */
  lecture: string;
}

async function setup(t: TestContext): Promise<Setup> {
  const clock = { now: FIRST_LECTURE_START + 8 * HOUR };
  const corrections = { ...hubDefaults().corrections, evidenceMaxBytes: 1024 };
  const hub = await startTestHub(t, { scheduler: { intervalMs: 0 }, corrections }, { now: () => clock.now });
  await seedSmallCampus(hub.db);
  const student = await createTestUser(hub, { role: 'student', departmentId: 'cs' });
  await linkUser(hub.db, 'student', S1!, student.id);
  const student2 = await createTestUser(hub, { role: 'student', departmentId: 'cs' });
  await linkUser(hub.db, 'student', S2!, student2.id);
  const faculty = await createTestUser(hub, { role: 'faculty', departmentId: 'cs' });
  await linkUser(hub.db, 'faculty', CAMPUS_IDS.facultyCs, faculty.id);
  const eeFaculty = await createTestUser(hub, { role: 'faculty', departmentId: 'ee' });
  await linkUser(hub.db, 'faculty', CAMPUS_IDS.facultyEe, eeFaculty.id);
  const hod = await createTestUser(hub, { role: 'hod', departmentId: 'cs' });
  const lecture = await insertSession(hub.db, { state: 'closed', finalized: true });
  await markHeld(hub, lecture, faculty.id);
  return { hub, clock, student, student2, faculty, eeFaculty, hod, lecture };
}

/** S2 marked present by the teacher, the others absent by finalization. */
async function markHeld(hub: TestHub, sessionId: string, teacher: string): Promise<void> {
  await hub.db.transaction(async (tx) => {
    await recordMarks(tx, [{ sessionId, studentId: S2!, status: 'present', source: 'manual', actor: teacher }], FIRST_LECTURE_START + HOUR);
    await recordMarks(
      tx,
      [S1!, S3!].map((studentId) => ({ sessionId, studentId, status: 'absent' as const, source: 'automatic' as const, actor: 'system:finalize' })),
      FIRST_LECTURE_START + 3 * HOUR,
    );
  });
}

/** After the clock jumped past the access tokens' lifetime. */
async function signInAgain(...users: TestUser[]): Promise<void> {
  for (const user of users) await user.login();
}

async function expectStatus(user: TestUser | TestHub, path: string, body: unknown, status: number, error?: string): Promise<Record<string, unknown>> {
  const response = await user.api(path, body === undefined ? {} : { method: 'POST', ...jsonBody(body) });
  const text = await response.text();
  const parsed = text ? (JSON.parse(text) as Record<string, unknown>) : {};
  assert.equal(response.status, status, `${path}: ${text}`);
  if (error) assert.equal(parsed.error, error);
  return parsed;
}

async function recordOf(hub: TestHub, sessionId: string, studentId: string): Promise<{ status: string; source: string | null }> {
  const body = await expectStatus(hub, `/api/v1/sessions/${sessionId}/records`, undefined, 200);
  const item = (body.items as { studentId: string; status: string; source: string | null }[]).find((entry) => entry.studentId === studentId)!;
  return { status: item.status, source: item.source };
}

async function auditActions(hub: TestHub): Promise<string[]> {
  const { rows } = await hub.db.query<{ action: string }>(`select action from audit_log where action like 'corrections.%' order by id`);
  return rows.map((row) => row.action);
}

/** Who has been asked to decide a correction, by the notification outbox. */
async function toldToApprove(hub: TestHub, correctionId: string): Promise<string[]> {
  const { rows } = await hub.db.query<{ recipient: string }>(`select recipient from notifications where kind = 'approval.pending' and dedupe_key = $1 order by recipient`, [`correction:${correctionId}`]);
  return rows.map((row) => row.recipient);
}

test('a student disputes a mark with evidence; the teacher approves it as a compensating event; one left waiting escalates to the HOD', async (t) => {
  const { hub, clock, student, student2, faculty, eeFaculty, hod, lecture } = await setup(t);
  const eeLecture = await insertSession(hub.db, { startsAt: FIRST_LECTURE_START + HOUR, roomId: 'R201', facultyId: CAMPUS_IDS.facultyEe, groups: [{ sectionId: CAMPUS_IDS.eeTheory }] });

  const dispute = await expectStatus(student, '/api/v1/corrections', { sessionId: lecture, status: 'present', reason: 'I was there; the reader failed' }, 201);
  assert.deepEqual([dispute.kind, dispute.state, dispute.approver], ['dispute', 'pending', 'teacher']);
  assert.deepEqual(dispute.items, [{ sessionId: lecture, studentId: S1, status: 'present', statusBefore: 'absent', eventId: null }]);
  const id = dispute.id as string;
  assert.deepEqual(await toldToApprove(hub, id), [faculty.id], 'the teacher is asked');
  await expectStatus(student, '/api/v1/corrections', { sessionId: lecture, status: 'late', reason: 'again' }, 409, 'correction_pending');
  await expectStatus(student, '/api/v1/corrections', { sessionId: lecture, studentId: S3, status: 'present', reason: 'for a friend' }, 400, 'student_not_allowed');
  await expectStatus(student, '/api/v1/corrections', { sessionId: eeLecture, status: 'present', reason: 'not mine' }, 404, 'not_found');
  await expectStatus(student, '/api/v1/corrections', { sessionId: lecture, status: 'absent', reasonCode: 'made_up', reason: 'x' }, 400, 'unknown_reason_code');

  await expectStatus(student, `/api/v1/corrections/${id}/evidence`, { filename: 'sheet.png', contentType: 'image/png', contentBase64: Buffer.alloc(2000).toString('base64') }, 400, 'evidence_size');
  await expectStatus(student, `/api/v1/corrections/${id}/evidence`, { filename: 'sheet.png', contentType: 'image/png', contentBase64: 'not base64!' }, 400, 'evidence_encoding');
  await expectStatus(student2, `/api/v1/corrections/${id}/evidence`, { filename: 'sheet.png', contentType: 'image/png', contentBase64: PNG }, 404, 'not_found');
  const evidence = await expectStatus(student, `/api/v1/corrections/${id}/evidence`, { filename: 'sheet.png', contentType: 'image/png', contentBase64: PNG }, 201);
  const download = await faculty.api(`/api/v1/corrections/${id}/evidence/${evidence.sha256 as string}`);
  assert.equal(download.status, 200);
  assert.equal(download.headers.get('content-type'), 'image/png');
  assert.equal(download.headers.get('content-disposition'), 'attachment; filename="sheet.png"');
  assert.equal(download.headers.get('x-content-type-options'), 'nosniff');
  assert.equal((await student2.api(`/api/v1/corrections/${id}/evidence/${evidence.sha256 as string}`)).status, 404);

  await expectStatus(student, `/api/v1/corrections/${id}/approve`, {}, 403, 'forbidden');
  await expectStatus(eeFaculty, `/api/v1/corrections/${id}/approve`, {}, 404, 'not_found');
  const approved = await expectStatus(faculty, `/api/v1/corrections/${id}/approve`, { reason: 'the sheet shows a signature' }, 200);
  assert.equal(approved.state, 'approved');
  assert.ok((approved.items as { eventId: string | null }[])[0]!.eventId);
  assert.deepEqual(await recordOf(hub, lecture, S1!), { status: 'present', source: 'correction' });
  await expectStatus(faculty, `/api/v1/corrections/${id}/approve`, {}, 409, 'already_decided');
  await expectStatus(hod, `/api/v1/corrections/${id}/reject`, { reason: 'no' }, 409, 'already_decided');
  await expectStatus(student, `/api/v1/corrections/${id}/withdraw`, {}, 409, 'already_decided');
  const { rows } = await hub.db.query<{ source: string }>('select source from attendance_events where session_id = $1 and student_id = $2 order by recorded_at, id', [lecture, S1]);
  assert.deepEqual(rows.map((row) => row.source), ['automatic', 'correction'], 'the absent stays in history; the correction is a new event');

  // A dispute nobody answers: after the service-level time the scheduler hands it to the HOD.
  const waiting = await expectStatus(student2, '/api/v1/corrections', { sessionId: lecture, status: 'late', reason: 'I came late, honestly' }, 201);
  const waitingId = waiting.id as string;
  clock.now += 47 * HOUR;
  await signInAgain(student, hod, faculty);
  await hub.scheduler.runDue();
  assert.equal((await expectStatus(hod, `/api/v1/corrections/${waitingId}`, undefined, 200)).escalatedAt, null);
  clock.now += 2 * HOUR;
  await signInAgain(student, hod, faculty);
  await hub.scheduler.runDue();
  const escalated = await expectStatus(hod, `/api/v1/corrections/${waitingId}`, undefined, 200);
  assert.equal(escalated.approver, 'hod');
  assert.ok(escalated.escalatedAt);
  assert.deepEqual(await toldToApprove(hub, waitingId), [faculty.id, hod.id].sort(), 'the teacher first, then the HOD on escalation');
  await expectStatus(faculty, `/api/v1/corrections/${waitingId}/approve`, {}, 409, 'awaiting_hod');
  await expectStatus(hod, `/api/v1/corrections/${waitingId}/approve`, {}, 400, 'reason_code_required');
  await expectStatus(hod, `/api/v1/corrections/${waitingId}/approve`, { reasonCode: 'data_entry_error' }, 200);
  assert.deepEqual(await recordOf(hub, lecture, S2!), { status: 'late', source: 'correction' });

  const listed = await expectStatus(student, '/api/v1/corrections', undefined, 200);
  assert.deepEqual((listed.items as { id: string }[]).map((item) => item.id), [id]);
  const listedByHod = await expectStatus(hod, '/api/v1/corrections?state=approved', undefined, 200);
  assert.equal((listedByHod.items as unknown[]).length, 2);
  assert.deepEqual(await auditActions(hub), ['corrections.request', 'corrections.evidence.add', 'corrections.approve', 'corrections.request', 'corrections.escalate', 'corrections.approve']);
});

test('faculty correct their own sessions at once within the window, later only through the HOD with a reason code; every refusal', async (t) => {
  const { hub, clock, student, faculty, eeFaculty, hod, lecture } = await setup(t);
  const direct = await expectStatus(faculty, '/api/v1/corrections', { sessionId: lecture, studentId: S3, status: 'late', reason: 'came in at 09:20' }, 201);
  assert.deepEqual([direct.kind, direct.state, direct.decidedBy], ['faculty', 'approved', faculty.id]);
  assert.deepEqual(await recordOf(hub, lecture, S3!), { status: 'late', source: 'correction' });

  await expectStatus(eeFaculty, '/api/v1/corrections', { sessionId: lecture, studentId: S3, status: 'present', reason: 'x' }, 409, 'not_your_section');
  await expectStatus(faculty, '/api/v1/corrections', { sessionId: lecture, status: 'present', reason: 'x' }, 400, 'student_required');
  await expectStatus(faculty, '/api/v1/corrections', { sessionId: lecture, studentId: CAMPUS_IDS.students[4], status: 'present', reason: 'x' }, 400, 'student_not_in_session');
  await expectStatus(faculty, '/api/v1/corrections', { sessionId: lecture, studentId: S3, status: 'late', reason: 'x' }, 409, 'no_change');
  const future = await insertSession(hub.db, { startsAt: FIRST_LECTURE_START + 48 * HOUR, state: 'scheduled' });
  await expectStatus(faculty, '/api/v1/corrections', { sessionId: future, studentId: S3, status: 'present', reason: 'x' }, 409, 'session_not_held');
  const cancelled = await insertSession(hub.db, { startsAt: FIRST_LECTURE_START - 24 * HOUR, state: 'cancelled' });
  await expectStatus(faculty, '/api/v1/corrections', { sessionId: cancelled, studentId: S3, status: 'present', reason: 'x' }, 409, 'session_cancelled');

  clock.now = FIRST_LECTURE_START + 72 * HOUR;
  await signInAgain(student, faculty, hod);
  await expectStatus(faculty, '/api/v1/corrections', { sessionId: lecture, studentId: S2, status: 'absent', reason: 'left after roll call' }, 400, 'reason_code_required');
  const late = await expectStatus(faculty, '/api/v1/corrections', { sessionId: lecture, studentId: S2, status: 'absent', reasonCode: 'data_entry_error', reason: 'left after roll call' }, 201);
  assert.deepEqual([late.state, late.approver], ['pending', 'hod']);
  assert.deepEqual(await recordOf(hub, lecture, S2!), { status: 'present', source: 'manual' }, 'nothing changes before the HOD decides');
  await expectStatus(faculty, `/api/v1/corrections/${late.id as string}/approve`, {}, 409, 'own_request');
  await expectStatus(hod, `/api/v1/corrections/${late.id as string}/reject`, {}, 400);
  await expectStatus(hod, `/api/v1/corrections/${late.id as string}/approve`, { reason: 'confirmed with the class rep' }, 200);
  assert.deepEqual(await recordOf(hub, lecture, S2!), { status: 'absent', source: 'correction' });

  const dispute = await expectStatus(student, '/api/v1/corrections', { sessionId: lecture, status: 'present', reason: 'I was there' }, 201);
  assert.equal(dispute.approver, 'hod', 'past the faculty window a dispute goes to the HOD');
  await expectStatus(faculty, `/api/v1/corrections/${dispute.id as string}/approve`, {}, 409, 'awaiting_hod');
  await expectStatus(student, `/api/v1/corrections/${dispute.id as string}/withdraw`, { reason: 'found my mistake' }, 200);
  await expectStatus(hod, `/api/v1/corrections/${dispute.id as string}/approve`, { reasonCode: 'other' }, 409, 'already_decided');

  clock.now = FIRST_LECTURE_START + 8 * 24 * HOUR;
  await signInAgain(student, hod);
  await expectStatus(student, '/api/v1/corrections', { sessionId: lecture, status: 'present', reason: 'too late' }, 409, 'deadline_passed');
  const hodDirect = await expectStatus(hod, '/api/v1/corrections', { sessionId: lecture, studentId: S1, status: 'excused', reasonCode: 'other', reason: 'medical emergency on campus' }, 201);
  assert.equal(hodDirect.state, 'approved');
  assert.deepEqual(await recordOf(hub, lecture, S1!), { status: 'excused', source: 'correction' });
  const byBootstrapAdmin = await expectStatus(hub, '/api/v1/corrections', { sessionId: lecture, studentId: S2, status: 'late', reasonCode: 'other', reason: 'registrar' }, 201);
  assert.deepEqual([byBootstrapAdmin.state, byBootstrapAdmin.requestedBy], ['approved', 'bootstrap']);
});

test('an incident (reader in R101 down 09:00–11:00): one reviewed correction covers every student nobody marked in the sessions held there', async (t) => {
  const { hub, faculty, eeFaculty, hod, lecture } = await setup(t);
  const second = await insertSession(hub.db, { startsAt: FIRST_LECTURE_START + HOUR, state: 'closed', finalized: true });
  await markHeld(hub, second, faculty.id);
  const elsewhere = await insertSession(hub.db, { startsAt: FIRST_LECTURE_START, state: 'closed', finalized: true, roomId: 'LAB1' });
  await markHeld(hub, elsewhere, faculty.id);
  const window = { from: new Date(FIRST_LECTURE_START).toISOString(), to: new Date(FIRST_LECTURE_START + 2 * HOUR).toISOString() };

  await expectStatus(faculty, '/api/v1/corrections/incidents', { roomId: 'R101', ...window, reason: 'x' }, 400);
  await expectStatus(faculty, '/api/v1/corrections/incidents', { roomId: 'R999', ...window, reasonCode: 'device_fault', reason: 'x' }, 400, 'unknown_room');
  await expectStatus(faculty, '/api/v1/corrections/incidents', { roomId: 'R101', from: window.to, to: window.from, reasonCode: 'device_fault', reason: 'x' }, 400, 'invalid_times');
  await expectStatus(faculty, '/api/v1/corrections/incidents', { roomId: 'R201', ...window, reasonCode: 'device_fault', reason: 'x' }, 409, 'nothing_affected');
  await expectStatus(eeFaculty, '/api/v1/corrections/incidents', { roomId: 'R101', ...window, reasonCode: 'device_fault', reason: 'x' }, 409, 'not_your_section');

  const incident = await expectStatus(faculty, '/api/v1/corrections/incidents', { roomId: 'R101', ...window, reasonCode: 'device_fault', reason: 'reader in R101 down' }, 201);
  assert.deepEqual([incident.kind, incident.state, incident.approver], ['incident', 'pending', 'hod']);
  assert.deepEqual(await toldToApprove(hub, incident.id as string), [hod.id]);
  const items = incident.items as { sessionId: string; studentId: string; status: string }[];
  assert.deepEqual(
    items.map((item) => `${item.sessionId === lecture ? 'first' : 'second'}/${item.studentId}/${item.status}`).sort(),
    [`first/${S1}/present`, `first/${S3}/present`, `second/${S1}/present`, `second/${S3}/present`],
    'S2 was marked by the teacher; LAB1 is another room',
  );
  await expectStatus(faculty, `/api/v1/corrections/${incident.id as string}/approve`, {}, 409, 'own_request');
  await expectStatus(hod, `/api/v1/corrections/${incident.id as string}/approve`, { reason: 'reader log confirms the outage' }, 200);
  for (const sessionId of [lecture, second]) {
    assert.deepEqual(await recordOf(hub, sessionId, S1!), { status: 'present', source: 'correction' });
    assert.deepEqual(await recordOf(hub, sessionId, S2!), { status: 'present', source: 'manual' });
  }
  assert.deepEqual(await recordOf(hub, elsewhere, S1!), { status: 'absent', source: 'automatic' });
  await expectStatus(faculty, '/api/v1/corrections/incidents', { roomId: 'R101', ...window, reasonCode: 'device_fault', reason: 'again' }, 409, 'nothing_affected');

  const byHod = await expectStatus(hod, '/api/v1/corrections/incidents', { roomId: 'LAB1', ...window, status: 'excused', reasonCode: 'device_fault', reason: 'lab reader down' }, 201);
  assert.equal(byHod.state, 'approved', 'an HOD\'s report is the review');
  assert.deepEqual(await recordOf(hub, elsewhere, S1!), { status: 'excused', source: 'correction' });
});

test('every transition of the correction state machine, legal and illegal, from every state', async (t) => {
  const { hub, student, faculty, hod } = await setup(t);
  const lectures: string[] = [];
  for (let index = 1; index <= 7; index++) {
    const id = await insertSession(hub.db, { startsAt: FIRST_LECTURE_START - index * 3 * HOUR, state: 'closed', finalized: true });
    await markHeld(hub, id, faculty.id);
    lectures.push(id);
  }
  let next = 0;
  const dispute = async () => (await expectStatus(student, '/api/v1/corrections', { sessionId: lectures[next++], status: 'present', reasonCode: 'device_fault', reason: 'walk' }, 201)).id as string;
  const act = async (action: string, id: string) => {
    const response = await (action === 'withdraw' ? student : hod).api(`/api/v1/corrections/${id}/${action}`, { method: 'POST', ...jsonBody({ reason: 'walk' }) });
    return { status: response.status, body: (await response.json()) as { error?: string; state?: string } };
  };

  const byState: Record<string, string> = { pending: await dispute(), approved: await dispute(), rejected: await dispute(), withdrawn: await dispute() };
  await act('approve', byState.approved!);
  await act('reject', byState.rejected!);
  await act('withdraw', byState.withdrawn!);
  for (const state of ['approved', 'rejected', 'withdrawn']) {
    for (const action of ['approve', 'reject', 'withdraw']) {
      const result = await act(action, byState[state]!);
      assert.deepEqual([result.status, result.body.error], [409, 'already_decided'], `${action} when ${state}`);
    }
  }
  assert.equal((await expectStatus(hod, `/api/v1/corrections/${byState.pending}`, undefined, 200)).state, 'pending');
  for (const [action, state] of [['approve', 'approved'], ['reject', 'rejected'], ['withdraw', 'withdrawn']] as const) {
    const result = await act(action, await dispute());
    assert.deepEqual([result.status, result.body.state], [200, state], `${action} when pending`);
  }
  const { rows } = await hub.db.query<{ count: number }>(`select count(*)::int as count from attendance_events where source = 'correction'`);
  assert.equal(rows[0]!.count, 2, 'only the two approvals reached the ledger');
});
