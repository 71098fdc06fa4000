import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { CAMPUS_IDS, linkUser, seedSmallCampus } from '../../test/support/campus.js';
import { startTestHub, type TestHub } from '../../test/support/hub.js';
import { createTestUser } from '../../test/support/users.js';

interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

async function get<T>(caller: { api: TestHub['api'] }, path: string): Promise<{ status: number; body: T }> {
  const response = await caller.api(path);
  return { status: response.status, body: (await response.json()) as T };
}

async function campusHub(t: Parameters<typeof startTestHub>[0]) {
  const hub = await startTestHub(t);
  await seedSmallCampus(hub.db);
  const users = {
    hodCs: await createTestUser(hub, { role: 'hod', departmentId: 'cs' }),
    hodEe: await createTestUser(hub, { role: 'hod', departmentId: 'ee' }),
    facultyCs: await createTestUser(hub, { role: 'faculty', departmentId: 'cs' }),
    assistantCs: await createTestUser(hub, { role: 'faculty', departmentId: 'cs' }),
    studentCs: await createTestUser(hub, { role: 'student', departmentId: 'cs' }),
    studentEe: await createTestUser(hub, { role: 'student', departmentId: 'ee' }),
  };
  await linkUser(hub.db, 'faculty', CAMPUS_IDS.facultyCs, users.facultyCs.id);
  await linkUser(hub.db, 'faculty', CAMPUS_IDS.facultyCs2, users.assistantCs.id);
  await linkUser(hub.db, 'student', CAMPUS_IDS.students[0]!, users.studentCs.id);
  await linkUser(hub.db, 'student', CAMPUS_IDS.students[4]!, users.studentEe.id);
  return { hub, users };
}

test('reference data: campuses, departments, programmes, batches, courses, terms with periods, holidays of a term, rooms with their doors', async (t) => {
  const { hub, users } = await campusHub(t);
  const student = users.studentCs;
  assert.deepEqual((await get<Page<unknown>>(student, '/api/v1/campuses')).body.items, [{ id: 'main', institutionId: 'demo-univ', institutionName: 'Demo University', name: 'Main campus', timezone: 'Asia/Kolkata' }]);
  assert.deepEqual((await get<Page<{ id: string }>>(student, '/api/v1/departments')).body.items.map((item) => item.id), ['cs', 'ee']);
  assert.deepEqual((await get<Page<{ id: string }>>(student, '/api/v1/programmes?departmentId=ee')).body.items.map((item) => item.id), ['btech-ee']);
  assert.deepEqual((await get<Page<unknown>>(student, '/api/v1/batches?programmeId=btech-cs')).body.items, [{ id: 'cs-2024', programmeId: 'btech-cs', departmentId: 'cs', name: 'CS 2024', startYear: 2024 }]);
  assert.deepEqual((await get<Page<unknown>>(student, '/api/v1/courses?departmentId=cs')).body.items, [{ id: 'CS301', departmentId: 'cs', name: 'Operating Systems', credits: 4 }]);
  const terms = (await get<Page<{ id: string; startsOn: string; periods: { kind: string }[] }>>(student, '/api/v1/terms')).body.items;
  assert.equal(terms[0]!.startsOn, '2026-08-03');
  assert.deepEqual(terms[0]!.periods.map((period) => period.kind), ['instruction', 'examination']);
  const holidays = (await get<Page<{ date: string; campusId: string | null }>>(student, '/api/v1/holidays?termId=2026-odd')).body.items;
  assert.deepEqual(holidays.map((holiday) => [holiday.date, holiday.campusId]), [['2026-08-15', null], ['2026-09-14', 'main'], ['2026-10-02', null]]);
  const unknownTerm = await get<{ error: string; details: unknown }>(student, '/api/v1/holidays?termId=1999-odd');
  assert.equal(unknownTerm.status, 400);
  assert.deepEqual(unknownTerm.body.details, { path: '/termId' });
  const rooms = (await get<Page<{ id: string; devices: { deviceId: string }[] }>>(hub, '/api/v1/rooms')).body.items;
  assert.deepEqual(rooms.find((room) => room.id === 'LAB1')!.devices.map((device) => device.deviceId), ['door-lab1', 'door-lab1-back']);
});

test('sections are listed by scope: a student sees only their own, an HOD their department, a teacher what they teach', async (t) => {
  const { hub, users } = await campusHub(t);
  const ids = async (caller: { api: TestHub['api'] }, query = '') => (await get<Page<{ id: string }>>(caller, `/api/v1/sections${query}`)).body.items.map((item) => item.id);
  assert.deepEqual(await ids(hub), [CAMPUS_IDS.theory, CAMPUS_IDS.practical, CAMPUS_IDS.eeTheory]);
  assert.deepEqual(await ids(users.studentCs), [CAMPUS_IDS.theory, CAMPUS_IDS.practical]);
  assert.deepEqual(await ids(users.studentEe), [CAMPUS_IDS.eeTheory]);
  assert.deepEqual(await ids(users.hodEe), [CAMPUS_IDS.eeTheory]);
  assert.deepEqual(await ids(users.hodCs, '?departmentId=ee'), [], 'a filter never widens the scope');
  assert.deepEqual(await ids(users.facultyCs), [CAMPUS_IDS.theory, CAMPUS_IDS.practical]);
  assert.deepEqual(await ids(users.assistantCs), [CAMPUS_IDS.practical]);
  assert.deepEqual(await ids(hub, '?courseId=EE201&termId=2026-odd'), [CAMPUS_IDS.eeTheory]);

  const seen: string[] = [];
  let cursor: string | null = '';
  while (cursor !== null) {
    const page: Page<{ id: string }> = (await get<Page<{ id: string }>>(hub, `/api/v1/sections?limit=1${cursor ? `&cursor=${cursor}` : ''}`)).body;
    seen.push(...page.items.map((item) => item.id));
    cursor = page.nextCursor;
  }
  assert.deepEqual(seen, await ids(hub));
  assert.equal((await hub.api('/api/v1/sections?cursor=bm90LWEtY3Vyc29y')).status, 400);
});

test('one section with its teachers, lab batches and roll, for its teachers and its HOD only', async (t) => {
  const { users } = await campusHub(t);
  const { status, body } = await get<{ code: string; teachers: { employeeNo: string; role: string }[]; subgroups: { code: string }[]; roll: { rollNo: string; subgroupCode: string | null; enrolledOn: string }[] }>(
    users.assistantCs,
    `/api/v1/sections/${CAMPUS_IDS.practical}`,
  );
  assert.equal(status, 200);
  assert.equal(body.code, 'CS301-A-PR');
  assert.deepEqual(body.teachers.map((teacher) => [teacher.employeeNo, teacher.role]), [['F001', 'teacher'], ['F002', 'assistant']]);
  assert.deepEqual(body.subgroups.map((subgroup) => subgroup.code), ['B1', 'B2']);
  assert.deepEqual(body.roll.map((entry) => [entry.rollNo, entry.subgroupCode, entry.enrolledOn]), [
    ['CS24001', 'B1', '2026-07-27'],
    ['CS24002', 'B1', '2026-07-27'],
    ['CS24003', 'B2', '2026-07-27'],
    ['CS24004', 'B2', '2026-08-24'],
  ]);
  assert.equal((await users.hodCs.api(`/api/v1/sections/${CAMPUS_IDS.theory}`)).status, 200);
  const other = await users.hodCs.api(`/api/v1/sections/${CAMPUS_IDS.eeTheory}`);
  const missing = await users.hodCs.api(`/api/v1/sections/${randomUUID()}`);
  assert.equal(other.status, 404);
  assert.deepEqual(await other.json(), await missing.json(), 'another department\'s section looks like no section');
  assert.equal((await users.assistantCs.api(`/api/v1/sections/${CAMPUS_IDS.theory}`)).status, 404);
  assert.equal((await users.studentCs.api(`/api/v1/sections/${CAMPUS_IDS.theory}`)).status, 403);
});

test('students are listed by scope and read by the policy: self, HOD of the department, their teachers', async (t) => {
  const { hub, users } = await campusHub(t);
  const rolls = async (caller: { api: TestHub['api'] }, query = '') => (await get<Page<{ rollNo: string }>>(caller, `/api/v1/students${query}`)).body.items.map((item) => item.rollNo);
  assert.deepEqual(await rolls(users.hodCs), ['CS24001', 'CS24002', 'CS24003', 'CS24004']);
  assert.deepEqual(await rolls(users.hodEe), ['EE24001', 'EE24002']);
  assert.deepEqual(await rolls(users.facultyCs, `?sectionId=${CAMPUS_IDS.practical}&q=pillai`), ['CS24004']);
  assert.deepEqual(await rolls(hub, '?batchId=ee-2024&limit=1'), ['EE24001']);
  assert.deepEqual(await rolls(hub, '?q=%25'), [], 'a % in q is matched literally');
  assert.equal((await users.studentCs.api('/api/v1/students')).status, 403);

  const own = await get<{ rollNo: string; departmentId: string; userId: string }>(users.studentCs, `/api/v1/students/${CAMPUS_IDS.students[0]}`);
  assert.deepEqual([own.status, own.body.rollNo, own.body.departmentId, own.body.userId], [200, 'CS24001', 'cs', users.studentCs.id]);
  const classmate = await users.studentCs.api(`/api/v1/students/${CAMPUS_IDS.students[1]}`);
  const nobody = await users.studentCs.api(`/api/v1/students/${randomUUID()}`);
  assert.equal(classmate.status, 404);
  assert.deepEqual(await classmate.json(), await nobody.json());
  assert.equal((await users.facultyCs.api(`/api/v1/students/${CAMPUS_IDS.students[3]}`)).status, 200);
  assert.equal((await users.facultyCs.api(`/api/v1/students/${CAMPUS_IDS.students[4]}`)).status, 404);
  assert.equal((await users.hodEe.api(`/api/v1/students/${CAMPUS_IDS.students[5]}`)).status, 200);
});

test('an admin says which door devices serve a room; the change is audited and a device moves from its old room', async (t) => {
  const { hub, users } = await campusHub(t);
  const put = (caller: { api: TestHub['api'] }, room: string, body: unknown) =>
    caller.api(`/api/v1/rooms/${room}/devices`, { method: 'PUT', body: JSON.stringify(body), headers: { 'content-type': 'application/json' } });
  const moved = await put(hub, 'R201', { devices: [{ campusId: 'main', deviceId: 'door-201' }, { campusId: 'main', deviceId: 'door-lab1-back' }], reason: 'back door now opens into 201' });
  assert.equal(moved.status, 200);
  assert.deepEqual(((await moved.json()) as { devices: unknown }).devices, [{ campusId: 'main', deviceId: 'door-201' }, { campusId: 'main', deviceId: 'door-lab1-back' }]);
  const rooms = (await get<Page<{ id: string; devices: { deviceId: string }[] }>>(hub, '/api/v1/rooms')).body.items;
  assert.deepEqual(rooms.find((room) => room.id === 'LAB1')!.devices.map((device) => device.deviceId), ['door-lab1']);
  const { rows } = await hub.db.query<{ before: unknown; after: unknown; reason: string }>("select before, after, reason from audit_log where action = 'room.devices.set' and target = 'room:R201'");
  assert.deepEqual(rows, [{ before: [{ campusId: 'main', deviceId: 'door-201' }], after: [{ campusId: 'main', deviceId: 'door-201' }, { campusId: 'main', deviceId: 'door-lab1-back' }], reason: 'back door now opens into 201' }]);

  const unknownCampus = await put(hub, 'R201', { devices: [{ campusId: 'north', deviceId: 'door-1' }] });
  assert.equal(unknownCampus.status, 400);
  assert.deepEqual(((await unknownCampus.json()) as { details: unknown }).details, { path: '/devices/0/campusId' });
  assert.equal((await put(hub, 'R999', { devices: [] })).status, 404);
  assert.equal((await put(hub, 'R201', { devices: [{ campusId: 'main' }] })).status, 400);
  assert.equal((await put(users.hodCs, 'R201', { devices: [] })).status, 403);
  assert.equal((await hub.db.query("select 1 from audit_log where action = 'room.devices.set'")).rows.length, 1, 'refused changes leave no entry');
});
