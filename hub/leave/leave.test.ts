import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { recordMarks } from '../ledger/ledger.js';
import { FIRST_LECTURE_START, insertSession } from '../../test/support/attendance.js';
import { CAMPUS_IDS, linkUser, seedSmallCampus } from '../../test/support/campus.js';
import { startTestHub, type TestHub } from '../../test/support/hub.js';
import { jsonBody } from '../../test/support/routeMatrix.js';
import { createTestUser, type TestUser } from '../../test/support/users.js';

const [S1, S2, S3] = CAMPUS_IDS.students;
const DAY = 86_400_000;
const SLOTS = { theoryWed: '00000000-0000-4000-8000-000000000111', labTue: '00000000-0000-4000-8000-000000000201' };
const PDF = Buffer.from('%PDF-1.4\n% a medical certificate\n').toString('base64');

interface Setup {
  hub: TestHub;
  clock: { now: number };
  student: TestUser;
  student2: TestUser;
  faculty: TestUser;
  hod: TestUser;
  /** CS301 theory on Monday 3, Wednesday 5 and Friday 7 August 2026, held and finalized. */
  lectures: [string, string, string];
}

/**
 * The small campus on Saturday 8 August 2026: the first week's three CS301
 * lectures were held; S1 was marked present on Monday and absent (by
 * finalization) on Wednesday and Friday.
 */
async function setup(t: TestContext): Promise<Setup> {
  const clock = { now: FIRST_LECTURE_START + 5 * DAY };
  const hub = await startTestHub(t, { scheduler: { intervalMs: 0 } }, { now: () => clock.now });
  await seedSmallCampus(hub.db);
  const student = await createTestUser(hub, { role: 'student', departmentId: 'cs' });
  await linkUser(hub.db, 'student', S1!, student.id);
  const student2 = await createTestUser(hub, { role: 'student', departmentId: 'cs' });
  await linkUser(hub.db, 'student', S2!, student2.id);
  const faculty = await createTestUser(hub, { role: 'faculty', departmentId: 'cs' });
  await linkUser(hub.db, 'faculty', CAMPUS_IDS.facultyCs, faculty.id);
  const hod = await createTestUser(hub, { role: 'hod', departmentId: 'cs' });
  const lectures = [] as unknown as [string, string, string];
  for (const day of [0, 2, 4]) lectures.push(await insertSession(hub.db, { startsAt: FIRST_LECTURE_START + day * DAY, state: 'closed', finalized: true }));
  await hub.db.transaction(async (tx) => {
    await recordMarks(tx, [{ sessionId: lectures[0], studentId: S1!, status: 'present', source: 'manual', actor: faculty.id }], FIRST_LECTURE_START + DAY / 2);
    for (const sessionId of lectures.slice(1)) await recordMarks(tx, [{ sessionId, studentId: S1!, status: 'absent', source: 'automatic', actor: 'system:finalize' }], clock.now - DAY);
  });
  return { hub, clock, student, student2, faculty, hod, lectures };
}

/** After the clock jumped past the access tokens' lifetime. */
async function signInAgain(...users: TestUser[]): Promise<void> {
  for (const user of users) await user.login();
}

async function call(user: TestUser | TestHub, path: string, body?: unknown): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await user.api(path, body === undefined ? {} : { method: 'POST', ...jsonBody(body) });
  const text = await response.text();
  return { status: response.status, body: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
}

async function expectStatus(user: TestUser | TestHub, path: string, body: unknown, status: number, error?: string): Promise<Record<string, unknown>> {
  const result = await call(user, path, body);
  assert.equal(result.status, status, `${path}: ${JSON.stringify(result.body)}`);
  if (error) assert.equal(result.body.error, error);
  return result.body;
}

async function recordOf(hub: TestHub, sessionId: string, studentId: string): Promise<{ status: string; source: string | null }> {
  const { body } = await call(hub, `/api/v1/sessions/${sessionId}/records`);
  const item = (body.items as { studentId: string; status: string; source: string | null }[]).find((entry) => entry.studentId === studentId)!;
  return { status: item.status, source: item.source };
}

async function auditActions(hub: TestHub, prefix: string): Promise<string[]> {
  const { rows } = await hub.db.query<{ action: string }>(`select action from audit_log where action like $1 order by id`, [`${prefix}%`]);
  return rows.map((row) => row.action);
}

test('medical leave walks its chain: preview, teacher then HOD, a document first; approval projects it, a correction stands over it, revocation undoes it', async (t) => {
  const { hub, student, faculty, hod, lectures } = await setup(t);
  const [monday, wednesday, friday] = lectures;
  const leave = await expectStatus(student, '/api/v1/leave', { typeId: 'medical', fromDate: '2026-08-05', toDate: '2026-08-07', reason: 'fever' }, 201);
  assert.equal(leave.state, 'pending');
  assert.equal(leave.awaiting, 'teacher');
  assert.deepEqual(leave.studentIds, [S1]);
  assert.equal(leave.days, 3);
  const id = leave.id as string;
  const toldToApprove = async () =>
    (await hub.db.query<{ recipient: string }>(`select recipient from notifications where kind = 'approval.pending' and dedupe_key = $1 order by recipient`, [`leave:${id}`])).rows.map((row) => row.recipient);
  assert.deepEqual(await toldToApprove(), [faculty.id], 'the teacher step is told');

  // The teacher corrects Friday's mark within the faculty window: applied at once, and it outranks any leave.
  const correction = await expectStatus(faculty, '/api/v1/corrections', { sessionId: friday, studentId: S1, status: 'present', reason: 'was in the lab annex' }, 201);
  assert.equal(correction.state, 'approved');

  const impact = await expectStatus(hod, `/api/v1/leave/${id}/impact`, undefined, 200);
  assert.deepEqual(impact.items, [
    {
      studentId: S1,
      sectionId: CAMPUS_IDS.theory,
      sectionCode: 'CS301-A-TH',
      courseId: 'CS301',
      before: { attended: 2, held: 3, percent: 66.7 },
      after: { attended: 2, held: 2, percent: 100 },
      summary: 'CS301 moves from 66.7% to 100.0%',
    },
  ]);

  // An HOD may take the teacher's step too, but not both steps.
  const otherHod = await createTestUser(hub, { role: 'hod', departmentId: 'cs' });
  await expectStatus(hod, `/api/v1/leave/${id}/approve`, {}, 200);
  assert.deepEqual(await toldToApprove(), [faculty.id, otherHod.id].sort(), 'the HOD step is told to the HODs, not to the one who took the first step');
  await expectStatus(faculty, `/api/v1/leave/${id}/approve`, {}, 409, 'not_your_step');
  await expectStatus(hod, `/api/v1/leave/${id}/approve`, {}, 409, 'already_approved');
  const admin = hub;
  await expectStatus(admin, `/api/v1/leave/${id}/approve`, {}, 409, 'documents_missing');

  await expectStatus(student, `/api/v1/leave/${id}/documents`, { filename: 'cert.html', contentType: 'text/html', contentBase64: Buffer.from('<script>').toString('base64') }, 400, 'evidence_type');
  await expectStatus(student, `/api/v1/leave/${id}/documents`, { filename: 'cert.pdf', contentType: 'application/pdf', contentBase64: Buffer.from('<html>').toString('base64') }, 400, 'evidence_content');
  const document = await expectStatus(student, `/api/v1/leave/${id}/documents`, { filename: '../../etc/cert".pdf', contentType: 'application/pdf', contentBase64: PDF }, 201);
  assert.equal(document.filename, 'cert_.pdf');

  const approved = await expectStatus(admin, `/api/v1/leave/${id}/approve`, { reason: 'certificate seen' }, 200);
  assert.equal(approved.state, 'approved');
  await expectStatus(admin, `/api/v1/leave/${id}/approve`, {}, 409, 'already_decided');
  await expectStatus(student, `/api/v1/leave/${id}/withdraw`, {}, 409, 'already_approved');

  assert.deepEqual(await recordOf(hub, monday, S1!), { status: 'present', source: 'manual' }, 'outside the leave');
  assert.deepEqual(await recordOf(hub, wednesday, S1!), { status: 'excused', source: 'leave' });
  assert.deepEqual(await recordOf(hub, friday, S1!), { status: 'present', source: 'correction' }, 'a correction outranks the leave');

  const download = await student.api(`/api/v1/leave/${id}/documents/${document.sha256 as string}`);
  assert.equal(download.status, 200);
  assert.equal(download.headers.get('content-disposition'), 'attachment; filename="cert_.pdf"');
  assert.equal(download.headers.get('x-content-type-options'), 'nosniff');
  assert.equal(Buffer.from(await download.arrayBuffer()).toString('base64'), PDF);

  const balances = await expectStatus(student, `/api/v1/students/${S1}/leave-balances`, undefined, 200);
  const medical = (balances.items as { typeId: string; approvedDays: number; remainingDays: number }[]).find((item) => item.typeId === 'medical')!;
  assert.deepEqual([medical.approvedDays, medical.remainingDays], [3, 27]);

  await expectStatus(student, `/api/v1/leave/${id}/revoke`, { reason: 'x' }, 403, 'forbidden');
  const eventsBefore = (await hub.db.query<{ count: number }>('select count(*)::int as count from attendance_events')).rows[0]!.count;
  const revoked = await expectStatus(hod, `/api/v1/leave/${id}/revoke`, { reason: 'certificate found forged' }, 200);
  assert.equal(revoked.state, 'revoked');
  await expectStatus(hod, `/api/v1/leave/${id}/revoke`, { reason: 'again' }, 409, 'not_approved');
  assert.deepEqual(await recordOf(hub, wednesday, S1!), { status: 'absent', source: 'automatic' }, 'back to what it was without the leave');
  assert.deepEqual(await recordOf(hub, friday, S1!), { status: 'present', source: 'correction' });
  const { rows: events } = await hub.db.query<{ count: number }>('select count(*)::int as count from attendance_events');
  assert.equal(events[0]!.count, eventsBefore + 2, 'one compensating event each for Wednesday and Friday (where the correction outranked the leave), nothing deleted');
  const history = await expectStatus(hod, `/api/v1/sessions/${wednesday}/records/${S1}/history`, undefined, 200);
  const [, leaveEvent, revocation] = history.events as { id: string; source: string; revokes: string | null }[];
  assert.deepEqual([leaveEvent!.source, revocation!.revokes], ['leave', leaveEvent!.id], 'automatic absent, leave, and the revocation naming it');
  assert.equal((history.events as unknown[]).length, 3);

  assert.deepEqual(await auditActions(hub, 'leave.'), ['leave.apply', 'leave.approve', 'leave.document.add', 'leave.approve', 'leave.revoke']);
});

test('on-duty leave for a group and part of a day; every refusal: wrong type, own request, overlap, length, term cap, deadline, withdraw and reject', async (t) => {
  const { hub, clock, student, student2, faculty, hod } = await setup(t);
  const wednesdayLecture = await insertSession(hub.db, { startsAt: FIRST_LECTURE_START + 9 * DAY, state: 'scheduled' });
  const wednesdayLab = await insertSession(hub.db, {
    startsAt: FIRST_LECTURE_START + 9 * DAY + 5 * 3_600_000,
    state: 'scheduled',
    roomId: 'LAB1',
    groups: [{ sectionId: CAMPUS_IDS.practical, subgroupId: CAMPUS_IDS.labBatch1 }],
  });

  await expectStatus(faculty, '/api/v1/leave', { typeId: 'personal', studentIds: [S1], fromDate: '2026-08-12', toDate: '2026-08-12', reason: 'x' }, 400, 'type_not_for_faculty');
  await expectStatus(faculty, '/api/v1/leave', { typeId: 'on_duty', studentIds: [CAMPUS_IDS.students[4]], fromDate: '2026-08-12', toDate: '2026-08-12', reason: 'x' }, 400, 'student_not_allowed');
  await expectStatus(faculty, '/api/v1/leave', { typeId: 'on_duty', studentIds: [S1], fromDate: '2026-08-12', toDate: '2026-08-12', fromTime: '10:00', reason: 'x' }, 400, 'invalid_times');
  const onDuty = await expectStatus(
    faculty,
    '/api/v1/leave',
    { typeId: 'on_duty', studentIds: [S1, S2], fromDate: '2026-08-12', toDate: '2026-08-12', fromTime: '08:00', toTime: '10:00', reason: 'NCC parade' },
    201,
  );
  assert.equal(onDuty.awaiting, 'hod');
  await expectStatus(faculty, `/api/v1/leave/${onDuty.id as string}/approve`, {}, 409, 'own_request');
  await expectStatus(student, `/api/v1/leave/${onDuty.id as string}/approve`, {}, 403, 'forbidden');
  const other = await createTestUser(hub, { role: 'faculty', departmentId: 'cs' });
  await linkUser(hub.db, 'faculty', CAMPUS_IDS.facultyCs2, other.id);
  await expectStatus(other, `/api/v1/leave/${onDuty.id as string}/approve`, {}, 409, 'not_your_step');
  await expectStatus(hod, `/api/v1/leave/${onDuty.id as string}/approve`, {}, 200);
  assert.deepEqual(await recordOf(hub, wednesdayLecture, S1!), { status: 'on_duty', source: 'leave' });
  assert.deepEqual(await recordOf(hub, wednesdayLecture, S2!), { status: 'on_duty', source: 'leave' });
  assert.deepEqual(await recordOf(hub, wednesdayLecture, S3!), { status: 'unmarked', source: null });
  assert.deepEqual(await recordOf(hub, wednesdayLab, S1!), { status: 'unmarked', source: null }, 'the afternoon lab is outside 08:00–10:00');

  await expectStatus(student, '/api/v1/leave', { typeId: 'personal', fromDate: '2026-08-12', toDate: '2026-08-12', reason: 'x' }, 409, 'overlapping_leave');
  await expectStatus(student, '/api/v1/leave', { typeId: 'personal', studentIds: [S2], fromDate: '2026-08-17', toDate: '2026-08-17', reason: 'x' }, 400, 'student_not_allowed');
  await expectStatus(student, '/api/v1/leave', { typeId: 'personal', fromDate: '2026-08-17', toDate: '2026-08-20', reason: 'x' }, 400, 'too_many_days');
  await expectStatus(student, '/api/v1/leave', { typeId: 'sabbatical', fromDate: '2026-08-17', toDate: '2026-08-17', reason: 'x' }, 400, 'unknown_leave_type');
  await expectStatus(student, '/api/v1/leave', { typeId: 'personal', fromDate: '2026-11-20', toDate: '2026-11-23', reason: 'x' }, 400, 'spans_terms');
  const first = await expectStatus(student, '/api/v1/leave', { typeId: 'personal', fromDate: '2026-08-17', toDate: '2026-08-19', reason: 'wedding' }, 201);
  const second = await expectStatus(student, '/api/v1/leave', { typeId: 'personal', fromDate: '2026-08-24', toDate: '2026-08-26', reason: 'wedding' }, 201);
  await expectStatus(student, '/api/v1/leave', { typeId: 'personal', fromDate: '2026-08-31', toDate: '2026-08-31', reason: 'x' }, 409, 'cap_exceeded');

  await expectStatus(student2, `/api/v1/leave/${first.id as string}/withdraw`, {}, 404, 'not_found');
  await expectStatus(student, `/api/v1/leave/${first.id as string}/withdraw`, {}, 200);
  await expectStatus(student, `/api/v1/leave/${first.id as string}/withdraw`, {}, 409, 'already_decided');
  await expectStatus(faculty, `/api/v1/leave/${first.id as string}/approve`, {}, 409, 'already_decided');
  await expectStatus(faculty, `/api/v1/leave/${second.id as string}/reject`, {}, 400);
  const rejected = await expectStatus(faculty, `/api/v1/leave/${second.id as string}/reject`, { reason: 'exams that week' }, 200);
  assert.equal(rejected.state, 'rejected');
  await expectStatus(student, `/api/v1/leave/${second.id as string}/withdraw`, {}, 409, 'already_decided');
  await expectStatus(hod, `/api/v1/leave/${second.id as string}/revoke`, { reason: 'x' }, 409, 'not_approved');

  clock.now = Date.parse('2026-10-01T06:00:00Z');
  await signInAgain(student, student2, hod);
  await expectStatus(student, '/api/v1/leave', { typeId: 'personal', fromDate: '2026-08-27', toDate: '2026-08-27', reason: 'late' }, 409, 'deadline_passed');

  const own = await expectStatus(student, '/api/v1/leave', undefined, 200);
  assert.equal((own.items as unknown[]).length, 3, 'the student sees the group leave and their own two');
  const others = await expectStatus(student2, '/api/v1/leave', undefined, 200);
  assert.equal((others.items as unknown[]).length, 1);
  const report = await expectStatus(hod, '/api/v1/leave/report?termId=2026-odd', undefined, 200);
  assert.deepEqual(report.items, [
    { typeId: 'on_duty', state: 'approved', requests: 1, students: 2, studentDays: 2 },
    { typeId: 'personal', state: 'rejected', requests: 1, students: 1, studentDays: 3 },
    { typeId: 'personal', state: 'withdrawn', requests: 1, students: 1, studentDays: 3 },
  ]);
});

test('approved leave follows the timetable: an extra class gets it, a cancelled class and a removed slot lose it, a new session gets it', async (t) => {
  const { hub, clock, student, faculty, hod } = await setup(t);
  clock.now = Date.parse('2026-08-10T00:00:00Z');
  await signInAgain(student, faculty, hod);
  await expectStatus(hub, '/api/v1/sessions/generate', { termId: '2026-odd', from: '2026-08-17', to: '2026-08-21' }, 200);
  const leave = await expectStatus(student, '/api/v1/leave', { typeId: 'medical', fromDate: '2026-08-17', toDate: '2026-08-21', reason: 'surgery' }, 201);
  const id = leave.id as string;
  await expectStatus(student, `/api/v1/leave/${id}/documents`, { filename: 'referral.pdf', contentType: 'application/pdf', contentBase64: PDF }, 201);
  await expectStatus(faculty, `/api/v1/leave/${id}/approve`, {}, 200);
  await expectStatus(hod, `/api/v1/leave/${id}/approve`, {}, 200);

  const leaveStatuses = async () => {
    const { rows } = await hub.db.query<{ slotId: string | null; origin: string; state: string; status: string | null }>(
      `select s.slot_id as "slotId", s.origin, s.state, c.status
         from sessions s left join attendance_current c on c.session_id = s.id and c.student_id = $1
        where s.starts_at >= '2026-08-16' order by s.starts_at`,
      [S1],
    );
    return rows.map((row) => `${row.origin}/${row.state}/${row.status ?? 'unmarked'}`);
  };
  // S1's lectures (Mon, Wed, Fri) and the Tuesday lab of batch B1: excused; EE and the B2 lab are not on S1's roll.
  assert.deepEqual(await leaveStatuses(), [
    'timetable/scheduled/excused',
    'timetable/scheduled/unmarked',
    'timetable/scheduled/excused',
    'timetable/scheduled/excused',
    'timetable/scheduled/unmarked',
    'timetable/scheduled/unmarked',
    'timetable/scheduled/excused',
  ]);

  await expectStatus(hub, '/api/v1/timetable/changes', { kind: 'extra', sectionId: CAMPUS_IDS.theory, newDate: '2026-08-20', newStartsAt: '11:00', newEndsAt: '11:50', newRoomId: 'R101', reason: 'make-up' }, 201);
  await expectStatus(hub, '/api/v1/timetable/changes', { kind: 'cancelled', slotId: SLOTS.theoryWed, onDate: '2026-08-19', reason: 'teacher away' }, 201);
  const removed = await hub.api(`/api/v1/timetable/slots/${SLOTS.labTue}`, { method: 'DELETE' });
  assert.equal(removed.status, 204, await removed.text());
  const afterChanges = [
    'timetable/scheduled/excused',
    'timetable/scheduled/unmarked',
    'timetable/cancelled/unmarked',
    'timetable/cancelled/unmarked',
    'timetable/scheduled/unmarked',
    'extra/scheduled/excused',
    'timetable/scheduled/unmarked',
    'timetable/scheduled/excused',
  ];
  assert.deepEqual(await leaveStatuses(), afterChanges);
  const { rows: revocations } = await hub.db.query<{ count: number }>('select count(*)::int as count from attendance_events where revokes is not null');
  assert.equal(revocations[0]!.count, 2, 'the cancelled lecture and the removed lab: one compensating event each');

  const made = await expectStatus(faculty, '/api/v1/sessions', { groups: [{ sectionId: CAMPUS_IDS.theory }], startsAt: '2026-08-21T10:30:00Z', endsAt: '2026-08-21T11:20:00Z', roomId: 'R101' }, 201);
  assert.deepEqual(await recordOf(hub, made.id as string, S1!), { status: 'excused', source: 'leave' });
  assert.deepEqual(await recordOf(hub, made.id as string, S2!), { status: 'unmarked', source: null });

  await expectStatus(hod, `/api/v1/leave/${id}/revoke`, { reason: 'recovered early' }, 200);
  assert.deepEqual(await leaveStatuses(), [...afterChanges, 'manual/scheduled/unmarked'].map((entry) => entry.replace('excused', 'unmarked')));
});

test('leave types are data: an admin adds one, others may only read them, and a request keeps the chain it was made with', async (t) => {
  const { hub, student, faculty } = await setup(t);
  const types = await expectStatus(student, '/api/v1/leave/types', undefined, 200);
  assert.deepEqual(
    (types.items as { id: string }[]).map((type) => type.id),
    ['institutional_event', 'medical', 'on_duty', 'other', 'personal'],
  );
  const sports = { name: 'Sports meet', effect: 'counts_present', documentsRequired: false, maxDays: 3, termCapDays: 6, approvalChain: ['teacher'], facultyMayApply: true };
  const denied = await faculty.api('/api/v1/leave/types/sports', { method: 'PUT', ...jsonBody(sports) });
  assert.equal(denied.status, 403);
  const bad = await hub.api('/api/v1/leave/types/sports', { method: 'PUT', ...jsonBody({ ...sports, approvalChain: ['teacher', 'teacher'] }) });
  assert.equal(bad.status, 400);
  assert.equal(((await bad.json()) as { details: { path: string } }).details.path, '/approvalChain');
  const saved = await hub.api('/api/v1/leave/types/sports', { method: 'PUT', ...jsonBody(sports) });
  assert.equal(saved.status, 200, await saved.clone().text());
  const leave = await expectStatus(faculty, '/api/v1/leave', { typeId: 'sports', studentIds: [S1], fromDate: '2026-08-10', toDate: '2026-08-10', reason: 'inter-college meet' }, 201);
  assert.deepEqual(leave.approvalChain, ['teacher']);
  const changed = await hub.api('/api/v1/leave/types/sports', { method: 'PUT', ...jsonBody({ ...sports, approvalChain: ['teacher', 'hod'] }) });
  assert.equal(changed.status, 200);
  assert.deepEqual((await expectStatus(hub, `/api/v1/leave/${leave.id as string}`, undefined, 200)).approvalChain, ['teacher']);
  assert.deepEqual(await auditActions(hub, 'leave.type'), ['leave.type.save', 'leave.type.save']);
  const byBootstrapAdmin = await expectStatus(hub, '/api/v1/leave', { typeId: 'institutional_event', studentIds: [S3], fromDate: '2026-08-11', toDate: '2026-08-11', reason: 'convocation' }, 201);
  assert.equal(byBootstrapAdmin.applicantUserId, 'bootstrap');
});

test('every transition of the leave state machine, legal and illegal, from every state; leave limited to some courses covers only theirs', async (t) => {
  const { hub, student, faculty, hod } = await setup(t);
  const lecture = await insertSession(hub.db, { startsAt: FIRST_LECTURE_START + 14 * DAY, state: 'scheduled' });
  const apply = async (date: string, courseIds?: string[]) =>
    (await expectStatus(student, '/api/v1/leave', { typeId: 'personal', fromDate: date, toDate: date, reason: 'family', ...(courseIds ? { courseIds } : {}) }, 201)).id as string;
  const act = (action: string, id: string) =>
    call(action === 'withdraw' ? student : action === 'revoke' ? hod : faculty, `/api/v1/leave/${id}/${action}`, { reason: 'walk' });

  const byState: Record<string, string> = {};
  byState.pending = await apply('2026-08-20');
  byState.approved = await apply('2026-08-17', ['EE201']);
  await expectStatus(faculty, `/api/v1/leave/${byState.approved}/approve`, {}, 200);
  assert.deepEqual(await recordOf(hub, lecture, S1!), { status: 'unmarked', source: null }, 'a leave for EE201 does not cover a CS301 lecture');
  byState.rejected = await apply('2026-08-21');
  await expectStatus(faculty, `/api/v1/leave/${byState.rejected}/reject`, { reason: 'no' }, 200);
  byState.withdrawn = await apply('2026-08-24');
  await expectStatus(student, `/api/v1/leave/${byState.withdrawn}/withdraw`, {}, 200);
  byState.revoked = await apply('2026-08-25');
  await expectStatus(faculty, `/api/v1/leave/${byState.revoked}/approve`, {}, 200);
  await expectStatus(hod, `/api/v1/leave/${byState.revoked}/revoke`, { reason: 'x' }, 200);

  const expected: Record<string, Record<string, number | string>> = {
    pending: { revoke: 'not_approved' },
    approved: { approve: 'already_decided', reject: 'already_decided', withdraw: 'already_approved', revoke: 200 },
    rejected: { approve: 'already_decided', reject: 'already_decided', withdraw: 'already_decided', revoke: 'not_approved' },
    withdrawn: { approve: 'already_decided', reject: 'already_decided', withdraw: 'already_decided', revoke: 'not_approved' },
    revoked: { approve: 'already_decided', reject: 'already_decided', withdraw: 'already_decided', revoke: 'not_approved' },
  };
  for (const [state, actions] of Object.entries(expected)) {
    for (const [action, outcome] of Object.entries(actions)) {
      const result = await act(action, byState[state]!);
      if (typeof outcome === 'number') assert.equal(result.status, outcome, `${action} when ${state}`);
      else assert.deepEqual([result.status, result.body.error], [409, outcome], `${action} when ${state}`);
    }
  }
  // The legal ones from pending, each on a fresh request.
  for (const [action, state] of [['approve', 'approved'], ['reject', 'rejected'], ['withdraw', 'withdrawn']] as const) {
    const id = await apply(`2026-08-2${['approve', 'reject', 'withdraw'].indexOf(action) + 6}`, ['CS301']);
    const result = await act(action, id);
    assert.deepEqual([result.status, result.body.state], [200, state], `${action} when pending`);
  }
  const nextLecture = await insertSession(hub.db, { startsAt: FIRST_LECTURE_START + 16 * DAY, state: 'scheduled' });
  const covering = await apply('2026-08-19', ['CS301']);
  await expectStatus(faculty, `/api/v1/leave/${covering}/approve`, {}, 200);
  assert.deepEqual(await recordOf(hub, nextLecture, S1!), { status: 'absent', source: 'leave' }, 'personal leave keeps the student absent, excused by its source');
});
