import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateCampus, importFiles, toCsv, type GeneratedFile, type Row } from '../../fixtures/generate.js';
import { startTestHub, type TestHub } from '../../test/support/hub.js';

const csv = (body: string): RequestInit => ({ method: 'POST', body, headers: { 'content-type': 'text/csv' } });
const json = (body: unknown): RequestInit => ({ method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json' } });

interface ImportAnswer {
  kind?: string;
  rows?: number;
  inserted?: number;
  updated?: number;
  error?: string;
  details?: { errors: { table?: string; row: number; column: string; reason: string }[]; errorCount: number };
}

async function post(hub: TestHub, kind: string, init: RequestInit, query = ''): Promise<{ status: number; body: ImportAnswer }> {
  const response = await hub.api(`/api/v1/import/${kind}${query}`, init);
  return { status: response.status, body: (await response.json()) as ImportAnswer };
}

async function importAll(hub: TestHub, files: GeneratedFile[]): Promise<ImportAnswer[]> {
  const answers: ImportAnswer[] = [];
  for (const file of files) {
    const { status, body } = await post(hub, file.kind, file.name.endsWith('.json') ? json(JSON.parse(file.content)) : csv(file.content));
    assert.equal(status, 200, `${file.name}: ${JSON.stringify(body)}`);
    answers.push(body);
  }
  return answers;
}

async function count(hub: TestHub, table: string): Promise<number> {
  const { rows } = await hub.db.query<{ n: number }>(`select count(*)::int as n from ${table}`);
  return rows[0]!.n;
}

const SMALL = generateCampus({ students: 40, seed: 7 });
const FILES = importFiles(SMALL);

test('a generated campus imports cleanly in file order, and importing it again updates every row and inserts none', async (t) => {
  const hub = await startTestHub(t);
  const first = await importAll(hub, FILES);
  assert.deepEqual(first.map((answer) => [answer.kind, answer.updated]), FILES.map((file) => [file.kind, 0]));
  assert.equal(first.find((answer) => answer.kind === 'students')!.inserted, SMALL.students.length);
  assert.equal(await count(hub, 'students'), SMALL.students.length);
  assert.equal(await count(hub, 'enrolments'), SMALL.enrolments.length);
  assert.equal(await count(hub, 'timetable_slots'), SMALL.timetable.length);
  assert.equal(await count(hub, 'section_subgroups'), SMALL.sections.reduce((sum, section) => sum + (section.subgroups ? String(section.subgroups).split(';').length : 0), 0));

  const again = await importAll(hub, FILES);
  assert.deepEqual(again.map((answer) => [answer.inserted, answer.updated]), first.map((answer) => [0, answer.rows]));
  assert.equal(await count(hub, 'timetable_slots'), SMALL.timetable.length, 'slots are found again by their natural key');
  assert.equal(await count(hub, 'timetable_slot_groups'), SMALL.timetable.length);

  const { rows: audit } = await hub.db.query<{ action: string; after: unknown }>("select action, after from audit_log where action = 'import.students' order by id");
  assert.equal(audit.length, 2);
  assert.deepEqual(audit[1]!.after, { format: 'csv', rows: SMALL.students.length, inserted: 0, updated: SMALL.students.length });
  assert.doesNotMatch(JSON.stringify(audit), new RegExp(String(SMALL.students[0]!.roll_no)), 'the audit log holds counts, never row contents');
});

test('re-importing changes what changed: a renamed student keeps their id, a moved slot keeps its groups', async (t) => {
  const hub = await startTestHub(t);
  await importAll(hub, FILES);
  const student = SMALL.students[0]!;
  const { rows: before } = await hub.db.query<{ id: string }>('select id from students where roll_no = $1', [student.roll_no]);
  const renamed = toCsv(['roll_no', 'name', 'batch', 'enrolment_date'], [{ ...student, name: 'Renamed Student' }]);
  const { body } = await post(hub, 'students', csv(renamed));
  assert.deepEqual(body, { kind: 'students', rows: 1, inserted: 0, updated: 1 });
  const { rows: after } = await hub.db.query<{ id: string; name: string; device_user_id: string | null }>('select id, name, device_user_id from students where roll_no = $1', [student.roll_no]);
  assert.equal(after[0]!.id, before[0]!.id);
  assert.equal(after[0]!.name, 'Renamed Student');
  assert.equal(after[0]!.device_user_id, null, 'an empty cell is a missing value and clears the column');

  const slot = SMALL.timetable[0]!;
  const moved = await post(hub, 'timetable', json([{ ...slot, ends_at: '10:00', room: null }]));
  assert.deepEqual(moved.body, { kind: 'timetable', rows: 1, inserted: 0, updated: 1 });
  assert.equal(await count(hub, 'timetable_slots'), SMALL.timetable.length);
});

test('a file with one bad row writes nothing, and the answer names the row and the column', async (t) => {
  const hub = await startTestHub(t);
  await importAll(hub, FILES.slice(0, 3));
  const students = SMALL.students.slice(0, 5).map((student) => ({ ...student }));
  students[3]!.enrolment_date = '2026-02-30';
  const { status, body } = await post(hub, 'students', csv(toCsv(['roll_no', 'name', 'batch', 'enrolment_date', 'device_user_id'], students)));
  assert.equal(status, 422);
  assert.equal(body.error, 'import_rejected');
  assert.deepEqual(body.details, { errors: [{ row: 4, column: 'enrolment_date', reason: '"2026-02-30" is not a date (YYYY-MM-DD)' }], errorCount: 1 });
  assert.equal(await count(hub, 'students'), 0);
  assert.equal(await count(hub, "audit_log where action = 'import.students'"), 0);
});

test('every error of a file is reported together: types, required values, unknown columns, duplicates and missing references', async (t) => {
  const hub = await startTestHub(t);
  await importAll(hub, FILES.slice(0, 5));
  const section = SMALL.sections.find((row) => row.component === 'practical')!;
  const student = SMALL.students[0]!;
  const enrolments: Row[] = [
    { term: '2026-odd', section: String(section.code), roll_no: String(student.roll_no), subgroup: 'B1', enrolled_on: '2026-08-03' },
    { term: '2026-odd', section: 'NOPE-A-TH', roll_no: 'XX999', subgroup: '', enrolled_on: '2026-08-03' },
    { term: '2026-odd', section: String(section.code), roll_no: String(student.roll_no), subgroup: 'B9', enrolled_on: '2026-08-03' },
    { term: '2026-odd', section: String(section.code), roll_no: String(SMALL.students[1]!.roll_no), subgroup: 'B9', enrolled_on: '' },
    { term: '2026-odd', section: String(section.code), roll_no: String(SMALL.students[2]!.roll_no), subgroup: 'B1', enrolled_on: '2026-08-03', dropped_on: '2026-08-01' },
  ];
  const { status, body } = await post(hub, 'enrolments', csv(`${toCsv(['term', 'section', 'roll_no', 'subgroup', 'enrolled_on', 'dropped_on', 'grade'], enrolments)}`));
  assert.equal(status, 422);
  assert.deepEqual(body.details!.errors, [
    { row: 0, column: 'grade', reason: 'unknown column; the columns are term, section, roll_no, subgroup, enrolled_on, dropped_on' },
    { row: 2, column: 'section', reason: 'no section in that term "NOPE-A-TH"' },
    { row: 2, column: 'roll_no', reason: 'no student with roll number "XX999"' },
    { row: 3, column: 'roll_no', reason: 'term + section + roll_no repeats row 1' },
    { row: 4, column: 'enrolled_on', reason: 'is required' },
    { row: 5, column: 'dropped_on', reason: 'is before enrolled_on' },
  ]);
  assert.equal(await count(hub, 'enrolments'), 0);

  const slot = SMALL.timetable[0]!;
  const slots = await post(hub, 'timetable', json([{ ...slot, room: 'R999', faculty: 'E99999' }, { ...slot, weekday: 9, groups: 'CS101-A-TH/B1;NOPE' }]));
  assert.equal(slots.status, 422);
  assert.deepEqual(slots.body.details!.errors, [
    { row: 1, column: 'room', reason: 'no room on that campus "R999"' },
    { row: 1, column: 'faculty', reason: 'no faculty member "E99999"' },
    { row: 2, column: 'weekday', reason: '"9" is not a whole number from 1 to 7' },
  ]);
});

test('CSV and JSON of the same rows give the same database', async (t) => {
  const snapshot = async (hub: TestHub) =>
    (await hub.db.query(`select s.roll_no, s.name, s.batch_id, s.section_label, s.enrolment_date::text, s.id_card_no, s.device_user_id, s.status,
                                cs.code, e.enrolled_on::text, g.code as subgroup
                           from students s join enrolments e on e.student_id = s.id join course_sections cs on cs.id = e.section_id
                           left join section_subgroups g on g.id = e.subgroup_id order by s.roll_no, cs.code`)).rows;
  const viaCsv = await startTestHub(t);
  await importAll(viaCsv, FILES);
  const viaJson = await startTestHub(t);
  const columns = (content: string) => content.split('\r\n')[0]!.split(',');
  for (const file of FILES) {
    if (file.kind === 'campus') await importAll(viaJson, [file]);
    else {
      const rows = SMALL[file.kind].map((row) => Object.fromEntries(columns(file.content).map((column) => [column, row[column] ?? null])));
      const { status, body } = await post(viaJson, file.kind, json(rows));
      assert.equal(status, 200, JSON.stringify(body));
    }
  }
  assert.deepEqual(await snapshot(viaJson), await snapshot(viaCsv));
});

test('campus tables import one CSV at a time with ?table=, and a file that cannot be read is a 400 that changes nothing', async (t) => {
  const hub = await startTestHub(t);
  const { institutions, campuses } = SMALL.campus;
  assert.equal((await post(hub, 'campus', csv(toCsv(['id', 'name'], institutions)), '?table=institutions')).status, 200);
  assert.equal((await post(hub, 'campus', csv(toCsv(['id', 'institution', 'name', 'timezone'], campuses)), '?table=campuses')).status, 200);
  const noTable = await post(hub, 'campus', csv('id,name\nx,y\n'));
  assert.equal(noTable.status, 400);
  assert.match(noTable.body.details!.errors[0]!.reason, /table=institutions\|campuses/);
  const broken = await post(hub, 'holidays', csv('date,name\n2026-08-15,"Independence Day\n'));
  assert.equal(broken.status, 400);
  assert.deepEqual(broken.body.details!.errors, [{ row: 1, column: '', reason: 'CSV syntax, field 2: a quoted field is not closed before the end of the file' }]);
  const notRows = await post(hub, 'holidays', json({ date: '2026-08-15' }));
  assert.equal(notRows.status, 400);
  assert.equal(await count(hub, 'holidays'), 0);
  const timezone = await post(hub, 'campus', json({ campuses: [{ id: 'north', institution: institutions[0]!.id, name: 'North', timezone: 'Mars/Olympus' }] }));
  assert.deepEqual(timezone.body.details!.errors, [{ table: 'campuses', row: 1, column: 'timezone', reason: '"Mars/Olympus" is not an IANA time zone, e.g. Asia/Kolkata' }]);
});

test('an import may be far larger than the 64 KiB other requests are held to', async (t) => {
  const hub = await startTestHub(t);
  const large = generateCampus({ students: 2000, seed: 1 });
  const files = importFiles(large);
  const students = files.find((file) => file.kind === 'students')!;
  assert.ok(students.content.length > 64 * 1024);
  await importAll(hub, files.slice(0, 4));
  assert.equal(await count(hub, 'students'), large.students.length);
  const tooLargeElsewhere = await hub.api('/api/v1/users', { method: 'POST', body: students.content, headers: { 'content-type': 'text/csv' } });
  assert.notEqual(tooLargeElsewhere.status, 200);
});

test('a combined lecture is one slot: found again by any of its groups, and two rows may not both claim it', async (t) => {
  const hub = await startTestHub(t);
  await importAll(hub, FILES.slice(0, 5));
  const [first, second] = SMALL.sections.filter((section) => section.component === 'theory').map((section) => String(section.code));
  const saturday = { term: '2026-odd', campus: 'main', weekday: 6, starts_at: '09:00', ends_at: '09:50' };
  assert.equal((await post(hub, 'timetable', json([{ ...saturday, groups: [first, second] }]))).body.inserted, 1);
  const reordered = await post(hub, 'timetable', json([{ ...saturday, groups: `${second};${first}`, ends_at: '10:00' }]));
  assert.deepEqual(reordered.body, { kind: 'timetable', rows: 1, inserted: 0, updated: 1 });
  const split = await post(hub, 'timetable', json([{ ...saturday, groups: first }, { ...saturday, groups: second }]));
  assert.equal(split.status, 422);
  assert.deepEqual(split.body.details!.errors, [{ row: 2, column: 'groups', reason: 'is the same slot as row 1 (they share a group at that time)' }]);
  const { rows } = await hub.db.query<{ groups: number; ends_at: string }>('select count(g.*)::int as groups, s.ends_at::text from timetable_slots s join timetable_slot_groups g on g.slot_id = s.id where s.weekday = 6 group by s.id');
  assert.deepEqual(rows, [{ groups: 2, ends_at: '10:00:00' }]);
});
