import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { countMarks, fillUnmarkedAsAbsent, recordHistory, recordMarks, rankOf, type NewMark } from '../ledger/ledger.js';
import { MARK_SOURCES, project, type AttendanceStatus, type MarkSource } from '../ledger/precedence.js';
import { FIRST_LECTURE_START, insertSession } from '../../test/support/attendance.js';
import { CAMPUS_IDS, linkUser, seedSmallCampus } from '../../test/support/campus.js';
import { startTestHub, type TestHub } from '../../test/support/hub.js';
import { jsonBody } from '../../test/support/routeMatrix.js';
import { createTestUser, type TestUser } from '../../test/support/users.js';

const [S1, S2, S3, S4, S5] = CAMPUS_IDS.students;
const MINUTE = 60_000;

interface Setup {
  hub: TestHub;
  clock: { now: number };
  faculty: TestUser;
  student: TestUser;
  sessionId: string;
}

async function setup(t: TestContext, sessionSpec: Parameters<typeof insertSession>[1] = {}): Promise<Setup> {
  const clock = { now: FIRST_LECTURE_START + 5 * MINUTE };
  const hub = await startTestHub(t, {}, { now: () => clock.now });
  await seedSmallCampus(hub.db);
  const faculty = await createTestUser(hub, { role: 'faculty', departmentId: 'cs' });
  await linkUser(hub.db, 'faculty', CAMPUS_IDS.facultyCs, faculty.id);
  const student = await createTestUser(hub, { role: 'student', departmentId: 'cs' });
  await linkUser(hub.db, 'student', S1!, student.id);
  const sessionId = await insertSession(hub.db, sessionSpec);
  return { hub, clock, faculty, student, sessionId };
}

const post = (user: TestUser, path: string, body: unknown) => user.api(path, { method: 'POST', ...jsonBody(body) });

async function roll(hub: TestHub, sessionId: string): Promise<Record<string, { status: string; source: string | null }>> {
  const response = await hub.api(`/api/v1/sessions/${sessionId}/records`);
  assert.equal(response.status, 200);
  const { items } = (await response.json()) as { items: { studentId: string; status: string; source: string | null }[] };
  return Object.fromEntries(items.map((item) => [item.studentId, { status: item.status, source: item.source }]));
}

async function eventCount(hub: TestHub): Promise<number> {
  const { rows } = await hub.db.query<{ count: number }>('select count(*)::int as count from attendance_events');
  return rows[0]!.count;
}

test('faculty mark one student; the roll shows every student of the session, marked or not, and the mark is audited', async (t) => {
  const { hub, faculty, sessionId } = await setup(t);
  const response = await post(faculty, `/api/v1/sessions/${sessionId}/records`, { studentId: S2, status: 'late', reason: 'came in after the roll call' });
  assert.equal(response.status, 201);
  const body = (await response.json()) as { status: string; source: string; event: { actor: string; reason: string } };
  assert.equal(body.status, 'late');
  assert.equal(body.event.actor, faculty.id);
  assert.deepEqual(await roll(hub, sessionId), {
    [S1!]: { status: 'unmarked', source: null },
    [S2!]: { status: 'late', source: 'manual' },
    [S3!]: { status: 'unmarked', source: null },
  });
  const { rows } = await hub.db.query<{ actor: string; after: { count: number } }>(`select actor, after from audit_log where action = 'records.mark'`);
  assert.deepEqual(rows.map((row) => [row.actor, row.after.count]), [[faculty.id, 1]]);
});

test('bulk marks the whole roll with exceptions, in one audited request; a later faculty manual mark still outranks it', async (t) => {
  const { hub, faculty, sessionId } = await setup(t);
  assert.equal((await post(faculty, `/api/v1/sessions/${sessionId}/records`, { studentId: S3, status: 'absent' })).status, 201);
  const response = await post(faculty, `/api/v1/sessions/${sessionId}/records/bulk`, { status: 'present', except: [{ studentId: S2, status: 'absent' }] });
  assert.equal(response.status, 200);
  assert.deepEqual(await response.json(), { sessionId, marked: 3, counts: { present: 2, absent: 1 } });
  assert.deepEqual(await roll(hub, sessionId), {
    [S1!]: { status: 'present', source: 'bulk' },
    [S2!]: { status: 'absent', source: 'bulk' },
    [S3!]: { status: 'absent', source: 'manual' },
  });
  const { rows } = await hub.db.query<{ after: { marked: number; counts: Record<string, number> } }>(`select after from audit_log where action = 'records.bulk'`);
  assert.deepEqual(rows.map((row) => row.after), [{ status: 'present', exceptions: 1, marked: 3, counts: { present: 2, absent: 1 } }]);
});

test('a student outside the session\'s groups on its date is refused with the field path, and nothing is written', async (t) => {
  const { hub, faculty, sessionId } = await setup(t);
  // S4 enrolled on 24 August, after this session; S5 studies EE.
  for (const studentId of [S4, S5]) {
    const response = await post(faculty, `/api/v1/sessions/${sessionId}/records`, { studentId, status: 'present' });
    assert.equal(response.status, 400);
    assert.deepEqual(((await response.json()) as { details: { path: string } }).details.path, '/studentId');
  }
  const bulk = await post(faculty, `/api/v1/sessions/${sessionId}/records/bulk`, { status: 'present', except: [{ studentId: S1, status: 'late' }, { studentId: S5, status: 'absent' }] });
  assert.equal(bulk.status, 400);
  assert.equal(((await bulk.json()) as { details: { path: string } }).details.path, '/except/1/studentId');
  const invalid = await post(faculty, `/api/v1/sessions/${sessionId}/records`, { studentId: S1, status: 'sleeping' });
  assert.equal(invalid.status, 400);
  assert.equal(((await invalid.json()) as { details: { path: string }[] }).details[0]!.path, '/status');
  assert.equal(await eventCount(hub), 0);
  assert.equal((await hub.db.query(`select 1 from audit_log where action like 'records.%'`)).rows.length, 0);
});

test('marks need an open session or a closed one not yet finalized; after finalization every path refuses', async (t) => {
  const { hub, faculty, student, sessionId: openId } = await setup(t);
  const closed = await insertSession(hub.db, { state: 'closed' });
  const scheduled = await insertSession(hub.db, { state: 'scheduled' });
  const finalized = await insertSession(hub.db, { state: 'closed', finalized: true });
  assert.equal((await post(faculty, `/api/v1/sessions/${closed}/records`, { studentId: S1, status: 'present' })).status, 201);
  const refusal = async (sessionId: string) => {
    const manual = await post(faculty, `/api/v1/sessions/${sessionId}/records`, { studentId: S1, status: 'present' });
    const bulk = await post(faculty, `/api/v1/sessions/${sessionId}/records/bulk`, { status: 'present' });
    return [manual.status, ((await manual.json()) as { error: string }).error, bulk.status, ((await bulk.json()) as { error: string }).error];
  };
  assert.deepEqual(await refusal(scheduled), [409, 'session_not_open', 409, 'session_not_open']);
  assert.deepEqual(await refusal(finalized), [409, 'session_finalized', 409, 'session_finalized']);
  const { token } = (await (await faculty.api(`/api/v1/sessions/${openId}/qr`)).json()) as { token: string };
  assert.equal(((await (await post(student, `/api/v1/sessions/${finalized}/scan`, { token })).json()) as { error: string }).error, 'qr_wrong_session');
  const qrOfFinalized = await faculty.api(`/api/v1/sessions/${finalized}/qr`);
  assert.equal(qrOfFinalized.status, 409);
  assert.equal(((await qrOfFinalized.json()) as { message: string }).message, 'records of a finalized session change only through corrections');
});

test('QR: present within the grace, late after it; a second scan is refused; expired, skewed and foreign tokens', async (t) => {
  const { hub, clock, faculty, student, sessionId } = await setup(t);
  const other = await createTestUser(hub, { role: 'student', departmentId: 'cs' });
  await linkUser(hub.db, 'student', S2!, other.id);
  const qr = async (id = sessionId) => {
    const response = await faculty.api(`/api/v1/sessions/${id}/qr?displayId=3`);
    assert.equal(response.status, 200);
    return (await response.json()) as { token: string; window: number; expiresAt: string; svg: string };
  };
  const first = await qr();
  assert.match(first.svg, /^<svg/);
  assert.equal(Date.parse(first.expiresAt), (first.window + 1) * 15_000);
  const scanned = await post(student, `/api/v1/sessions/${sessionId}/scan`, { token: first.token });
  assert.equal(scanned.status, 201);
  assert.equal(((await scanned.json()) as { status: string }).status, 'present');
  const again = await post(student, `/api/v1/sessions/${sessionId}/scan`, { token: first.token });
  assert.equal(again.status, 409);
  assert.equal(((await again.json()) as { error: string }).error, 'already_recorded');
  const fresh = await post(student, `/api/v1/sessions/${sessionId}/scan`, { token: (await qr()).token });
  assert.equal(fresh.status, 409, 'a new token does not give a second scan either');

  // One window of skew is accepted, two are not.
  clock.now = FIRST_LECTURE_START + 11 * MINUTE;
  const lateToken = (await qr()).token;
  clock.now += 15_000;
  const skewed = await post(other, `/api/v1/sessions/${sessionId}/scan`, { token: lateToken });
  assert.equal(skewed.status, 201);
  assert.equal(((await skewed.json()) as { status: string }).status, 'late', 'after the 10-minute grace');
  clock.now += 15_000;
  const expired = await post(student, `/api/v1/sessions/${sessionId}/scan`, { token: lateToken });
  assert.equal(expired.status, 400);
  assert.deepEqual(await expired.json(), { error: 'qr_expired', message: 'the token has expired; scan the code on the screen again', details: { path: '/token' } });

  const elsewhere = await insertSession(hub.db, { startsAt: FIRST_LECTURE_START });
  const foreign = await post(student, `/api/v1/sessions/${sessionId}/scan`, { token: (await qr(elsewhere)).token });
  assert.equal(foreign.status, 400);
  assert.equal(((await foreign.json()) as { error: string }).error, 'qr_wrong_session');
  const garbage = await post(student, `/api/v1/sessions/${sessionId}/scan`, { token: 'not-a-token' });
  assert.equal(((await garbage.json()) as { error: string }).error, 'qr_invalid');

  const outsider = await createTestUser(hub, { role: 'student', departmentId: 'ee' });
  await linkUser(hub.db, 'student', S5!, outsider.id);
  const notEnrolled = await post(outsider, `/api/v1/sessions/${sessionId}/scan`, { token: (await qr()).token });
  assert.equal(notEnrolled.status, 403);
  assert.equal(((await notEnrolled.json()) as { error: string }).error, 'not_enrolled');
  assert.deepEqual(await roll(hub, sessionId), {
    [S1!]: { status: 'present', source: 'qr' },
    [S2!]: { status: 'late', source: 'qr' },
    [S3!]: { status: 'unmarked', source: null },
  });
});

test('precedence through the database: every ordered pair of sources leaves the status the rule dictates', async (t) => {
  const { hub } = await setup(t);
  const statusOf: Record<MarkSource, AttendanceStatus> = {
    correction: 'excused',
    manual: 'absent',
    bulk: 'late',
    qr: 'present',
    biometric: 'late',
    card: 'present',
    leave: 'on_duty',
    automatic: 'absent',
  };
  const mark = (sessionId: string, source: MarkSource): NewMark => ({
    sessionId,
    studentId: S1!,
    source,
    status: statusOf[source],
    ...(['qr', 'biometric', 'card'].includes(source) ? { campusId: 'main', deviceId: 'door-101', receivedAt: new Date(FIRST_LECTURE_START) } : { actor: 'system:test' }),
  });
  for (const first of MARK_SOURCES) {
    for (const second of MARK_SOURCES) {
      const sessionId = await insertSession(hub.db);
      await hub.db.transaction((tx) => recordMarks(tx, [mark(sessionId, first)], FIRST_LECTURE_START + MINUTE));
      await hub.db.transaction((tx) => recordMarks(tx, [mark(sessionId, second)], FIRST_LECTURE_START + 2 * MINUTE));
      const events = await recordHistory(hub.db, sessionId, S1!);
      const expected = project(events.map((event) => ({ ...rankOf(event), event })))!.event;
      const { rows } = await hub.db.query<{ event_id: string; status: string }>('select event_id, status from attendance_current where session_id = $1', [sessionId]);
      assert.deepEqual(rows, [{ event_id: expected.id, status: expected.status }], `${first} then ${second}`);
    }
  }
});

test('history lists every event in order and answers "as of" a past time', async (t) => {
  const { hub, clock, faculty, sessionId } = await setup(t);
  const times: number[] = [];
  for (const status of ['absent', 'present', 'late'] as const) {
    clock.now += MINUTE;
    times.push(clock.now);
    assert.equal((await post(faculty, `/api/v1/sessions/${sessionId}/records`, { studentId: S1, status })).status, 201);
  }
  const at = async (asOf?: number) => {
    const response = await hub.api(`/api/v1/sessions/${sessionId}/records/${S1}/history${asOf ? `?asOf=${new Date(asOf).toISOString()}` : ''}`);
    assert.equal(response.status, 200);
    return (await response.json()) as { status: string; events: { status: string; recordedAt: string }[] };
  };
  const now = await at();
  assert.deepEqual(now.events.map((event) => [event.status, Date.parse(event.recordedAt)]), [['absent', times[0]], ['present', times[1]], ['late', times[2]]]);
  assert.equal(now.status, 'late');
  assert.equal((await at(times[0]! - 1)).status, 'unmarked');
  assert.equal((await at(times[0]!)).status, 'absent');
  assert.equal((await at(times[1]! + 30_000)).status, 'present');
  assert.equal((await at(times[1]! + 30_000)).events.length, 3, 'history shows later events too');
});

test('finalization hooks: automatic absents only for unmarked students on the roll, and the mark count', async (t) => {
  const { hub, clock, faculty, sessionId } = await setup(t);
  await post(faculty, `/api/v1/sessions/${sessionId}/records`, { studentId: S1, status: 'present' });
  const filled = await hub.db.transaction((tx) => fillUnmarkedAsAbsent(tx, sessionId, clock.now));
  assert.equal(filled, 2);
  assert.equal(await hub.db.transaction((tx) => fillUnmarkedAsAbsent(tx, sessionId, clock.now)), 0, 'a second run finds nobody unmarked');
  assert.equal(await countMarks(hub.db, sessionId), 3);
  assert.deepEqual(await roll(hub, sessionId), {
    [S1!]: { status: 'present', source: 'manual' },
    [S2!]: { status: 'absent', source: 'automatic' },
    [S3!]: { status: 'absent', source: 'automatic' },
  });
  const { rows } = await hub.db.query<{ actor: string }>(`select distinct actor from attendance_events where source = 'automatic'`);
  assert.deepEqual(rows, [{ actor: 'system:finalize' }]);
});

test('ledger events are never updated or deleted', async (t) => {
  const { hub, faculty, sessionId } = await setup(t);
  await post(faculty, `/api/v1/sessions/${sessionId}/records`, { studentId: S1, status: 'present' });
  await assert.rejects(hub.db.query(`update attendance_events set status = 'absent'`), /append-only: UPDATE refused/);
  await assert.rejects(hub.db.query('delete from attendance_events'), /append-only: DELETE refused/);
  assert.equal(await eventCount(hub), 1);
});

test('race: 200 concurrent marks from mixed sources leave exactly 200 events and the status the rule dictates', async (t) => {
  const { hub, clock, faculty, sessionId } = await setup(t);
  const direct = (source: MarkSource, status: AttendanceStatus, index: number) =>
    hub.db.transaction((tx) =>
      recordMarks(
        tx,
        [{ sessionId, studentId: S1!, source, status, ...(source === 'biometric' || source === 'qr' ? { campusId: 'main', deviceId: 'door-101', receivedAt: new Date(FIRST_LECTURE_START + index * 1000) } : { actor: `system:${source}` }) }],
        clock.now,
      ),
    );
  const work: Promise<unknown>[] = [];
  for (let index = 0; index < 200; index++) {
    const kind = index % 10;
    if (kind < 3) work.push(post(faculty, `/api/v1/sessions/${sessionId}/records`, { studentId: S1, status: index % 2 ? 'present' : 'absent' }).then((r) => assert.equal(r.status, 201)));
    else if (kind === 3) work.push(post(faculty, `/api/v1/sessions/${sessionId}/records/bulk`, { status: 'late' }).then((r) => assert.equal(r.status, 200)));
    else if (kind < 7) work.push(direct(index % 2 ? 'biometric' : 'qr', index % 3 ? 'late' : 'present', index));
    else if (kind < 9) work.push(direct('leave', 'excused', index));
    else work.push(direct('automatic', 'absent', index));
  }
  await Promise.all(work);
  const events = await recordHistory(hub.db, sessionId, S1!);
  assert.equal(events.length, 200);
  const expected = project(events.map((event) => ({ ...rankOf(event), event })))!.event;
  assert.equal(expected.source, 'manual');
  const { rows } = await hub.db.query<{ event_id: string; status: string }>('select event_id, status from attendance_current where session_id = $1 and student_id = $2', [sessionId, S1]);
  assert.deepEqual(rows, [{ event_id: expected.id, status: expected.status }]);
});
