import type { Scope } from '../auth/rules.js';
import type { Queryable } from '../db/db.js';

/**
 * Reads of the campus model. Lists of people and sections take the caller's
 * `Scope` into their WHERE clause; reference data (campuses, departments,
 * courses, rooms) is readable by everyone signed in.
 */

export async function listCampuses(db: Queryable) {
  const { rows } = await db.query(`select c.id, c.institution_id as "institutionId", i.name as "institutionName", c.name, c.timezone
                                     from campuses c join institutions i on i.id = c.institution_id order by c.id`);
  return rows;
}

export async function listDepartments(db: Queryable, campusId?: string) {
  const { rows } = await db.query(`select id, campus_id as "campusId", name from departments where ($1::text is null or campus_id = $1) order by id`, [campusId ?? null]);
  return rows;
}

export async function listProgrammes(db: Queryable, departmentId?: string) {
  const { rows } = await db.query(`select id, department_id as "departmentId", name from programmes where ($1::text is null or department_id = $1) order by id`, [departmentId ?? null]);
  return rows;
}

export async function listBatches(db: Queryable, programmeId?: string) {
  const { rows } = await db.query(
    `select b.id, b.programme_id as "programmeId", p.department_id as "departmentId", b.name, b.start_year as "startYear"
       from batches b join programmes p on p.id = b.programme_id where ($1::text is null or b.programme_id = $1) order by b.id`,
    [programmeId ?? null],
  );
  return rows;
}

export async function listCourses(db: Queryable, departmentId?: string) {
  const { rows } = await db.query(
    `select id, department_id as "departmentId", name, credits::float8 as credits from courses where ($1::text is null or department_id = $1) order by id`,
    [departmentId ?? null],
  );
  return rows;
}

export async function listTerms(db: Queryable) {
  const { rows: terms } = await db.query<{ id: string }>(
    `select id, institution_id as "institutionId", name, starts_on::text as "startsOn", ends_on::text as "endsOn" from terms order by starts_on, id`,
  );
  const { rows: periods } = await db.query<{ termId: string }>(
    `select id, term_id as "termId", kind, name, starts_on::text as "startsOn", ends_on::text as "endsOn" from academic_periods order by starts_on, name`,
  );
  return terms.map((term) => ({ ...term, periods: periods.filter((period) => period.termId === term.id).map(({ termId: _, ...period }) => period) }));
}

/** Holidays, optionally only those within a term's dates and those of one campus (with the institution's). */
export async function listHolidays(db: Queryable, filter: { termId?: string; campusId?: string }) {
  const { rows } = await db.query(
    `select h.id, h.campus_id as "campusId", h.on_date::text as date, h.name
       from holidays h
       left join terms t on t.id = $1
      where ($1::text is null or h.on_date between t.starts_on and t.ends_on)
        and ($2::text is null or h.campus_id is null or h.campus_id = $2)
      order by h.on_date, h.campus_id nulls first`,
    [filter.termId ?? null, filter.campusId ?? null],
  );
  return rows;
}

export async function termExists(db: Queryable, termId: string): Promise<boolean> {
  const { rows } = await db.query('select 1 from terms where id = $1', [termId]);
  return rows.length > 0;
}

export interface RoomView {
  id: string;
  campusId: string;
  name: string;
  capacity: number | null;
  devices: { campusId: string; deviceId: string }[];
}

export async function listRooms(db: Queryable, filter: { campusId?: string; roomId?: string }): Promise<RoomView[]> {
  const { rows: rooms } = await db.query<Omit<RoomView, 'devices'>>(
    `select id, campus_id as "campusId", name, capacity from rooms where ($1::text is null or campus_id = $1) and ($2::text is null or id = $2) order by id`,
    [filter.campusId ?? null, filter.roomId ?? null],
  );
  const { rows: devices } = await db.query<{ roomId: string; campusId: string; deviceId: string }>(
    `select room_id as "roomId", campus_id as "campusId", device_id as "deviceId" from room_devices
      where ($1::text is null or room_id = $1) order by campus_id, device_id`,
    [filter.roomId ?? null],
  );
  return rooms.map((room) => ({ ...room, devices: devices.filter((device) => device.roomId === room.id).map(({ campusId, deviceId }) => ({ campusId, deviceId })) }));
}

/** Makes `devices` the room's door devices: others of the room are released, those serving another room move here. */
export async function replaceRoomDevices(tx: Queryable, roomId: string, devices: readonly { campusId: string; deviceId: string }[]): Promise<void> {
  await tx.query('delete from room_devices where room_id = $1', [roomId]);
  await tx.query(
    `insert into room_devices (campus_id, device_id, room_id) select campus_id, device_id, $3 from unnest($1::text[], $2::text[]) as d (campus_id, device_id)
     on conflict (campus_id, device_id) do update set room_id = excluded.room_id`,
    [devices.map((device) => device.campusId), devices.map((device) => device.deviceId), roomId],
  );
}

export async function existingCampuses(db: Queryable, ids: readonly string[]): Promise<Set<string>> {
  const { rows } = await db.query<{ id: string }>('select id from campuses where id = any($1::text[])', [ids]);
  return new Set(rows.map((row) => row.id));
}

/** SQL that limits sections (alias `cs`) to a scope, with its parameters starting at `$first`. */
function sectionScope(scope: Scope, first: number): [string, unknown[]] {
  switch (scope.kind) {
    case 'all':
      return ['true', []];
    case 'department':
      return [`cs.department_id = $${first}`, [scope.departmentId]];
    case 'teaching':
      return [`exists (select 1 from section_teachers st join faculty f on f.id = st.faculty_id where st.section_id = cs.id and f.user_id = $${first})`, [scope.facultyUserId]];
    case 'self':
      return [`exists (select 1 from enrolments e join students s on s.id = e.student_id where e.section_id = cs.id and s.user_id = $${first})`, [scope.userId]];
    case 'none':
      return ['false', []];
  }
}

export interface SectionFilter {
  termId?: string;
  courseId?: string;
  departmentId?: string;
  /** Keyset cursor: sections after this id. */
  afterId?: string;
}

export interface SectionRow {
  id: string;
  code: string;
  termId: string;
  courseId: string;
  courseName: string;
  component: string;
  departmentId: string;
}

const SECTION_COLUMNS = `cs.id, cs.code, cs.term_id as "termId", cs.course_id as "courseId", c.name as "courseName", cs.component, cs.department_id as "departmentId"`;

export async function listSections(db: Queryable, scope: Scope, filter: SectionFilter, limit: number): Promise<SectionRow[]> {
  const params: unknown[] = [filter.termId ?? null, filter.courseId ?? null, filter.departmentId ?? null, filter.afterId ?? null, limit];
  const [scopeSql, scopeParams] = sectionScope(scope, params.length + 1);
  const { rows } = await db.query<SectionRow>(
    `select ${SECTION_COLUMNS}
       from course_sections cs join courses c on c.id = cs.course_id
      where ($1::text is null or cs.term_id = $1) and ($2::text is null or cs.course_id = $2) and ($3::text is null or cs.department_id = $3)
        and ($4::uuid is null or cs.id > $4) and ${scopeSql}
      order by cs.id
      limit $5`,
    [...params, ...scopeParams],
  );
  return rows;
}

export async function findSection(db: Queryable, id: string) {
  const { rows } = await db.query<SectionRow>(`select ${SECTION_COLUMNS} from course_sections cs join courses c on c.id = cs.course_id where cs.id = $1`, [id]);
  const section = rows[0];
  if (!section) return undefined;
  const { rows: teachers } = await db.query<{ userId: string | null }>(
    `select f.id as "facultyId", f.employee_no as "employeeNo", f.name, st.role, f.user_id as "userId"
       from section_teachers st join faculty f on f.id = st.faculty_id where st.section_id = $1 order by st.role desc, f.employee_no`,
    [id],
  );
  const { rows: subgroups } = await db.query(`select id, code from section_subgroups where section_id = $1 order by code`, [id]);
  const { rows: roll } = await db.query(
    `select s.id as "studentId", s.roll_no as "rollNo", s.name, e.subgroup_id as "subgroupId", g.code as "subgroupCode",
            e.enrolled_on::text as "enrolledOn", e.dropped_on::text as "droppedOn"
       from enrolments e join students s on s.id = e.student_id left join section_subgroups g on g.id = e.subgroup_id
      where e.section_id = $1 order by s.roll_no`,
    [id],
  );
  return { ...section, teachers, subgroups, roll };
}

/** SQL that limits students (alias `s`, batch's programme `p`) to a scope. */
function studentScope(scope: Scope, first: number): [string, unknown[]] {
  switch (scope.kind) {
    case 'all':
      return ['true', []];
    case 'department':
      return [`p.department_id = $${first}`, [scope.departmentId]];
    case 'teaching':
      return [
        `exists (select 1 from enrolments e join section_teachers st on st.section_id = e.section_id join faculty f on f.id = st.faculty_id
                  where e.student_id = s.id and f.user_id = $${first})`,
        [scope.facultyUserId],
      ];
    case 'self':
      return [`s.user_id = $${first}`, [scope.userId]];
    case 'none':
      return ['false', []];
  }
}

export interface StudentFilter {
  batchId?: string;
  sectionId?: string;
  /** Roll number or name contains this (case-insensitive). */
  q?: string;
  /** Keyset cursor: students after this roll number. */
  afterRollNo?: string;
}

export interface StudentRow {
  id: string;
  rollNo: string;
  name: string;
  batchId: string;
  programmeId: string;
  departmentId: string;
  sectionLabel: string | null;
  enrolmentDate: string;
  idCardNo: string | null;
  deviceUserId: string | null;
  userId: string | null;
  status: string;
}

const STUDENT_COLUMNS = `s.id, s.roll_no as "rollNo", s.name, s.batch_id as "batchId", b.programme_id as "programmeId", p.department_id as "departmentId",
  s.section_label as "sectionLabel", s.enrolment_date::text as "enrolmentDate", s.id_card_no as "idCardNo", s.device_user_id as "deviceUserId",
  s.user_id as "userId", s.status`;

export async function listStudents(db: Queryable, scope: Scope, filter: StudentFilter, limit: number): Promise<StudentRow[]> {
  const like = filter.q === undefined ? null : `%${filter.q.replace(/[\\%_]/g, (char) => `\\${char}`)}%`;
  const params: unknown[] = [filter.batchId ?? null, filter.sectionId ?? null, like, filter.afterRollNo ?? null, limit];
  const [scopeSql, scopeParams] = studentScope(scope, params.length + 1);
  const { rows } = await db.query<StudentRow>(
    `select ${STUDENT_COLUMNS}
       from students s join batches b on b.id = s.batch_id join programmes p on p.id = b.programme_id
      where ($1::text is null or s.batch_id = $1)
        and ($2::uuid is null or exists (select 1 from enrolments x where x.student_id = s.id and x.section_id = $2))
        and ($3::text is null or s.roll_no ilike $3 or s.name ilike $3)
        and ($4::text is null or s.roll_no > $4)
        and ${scopeSql}
      order by s.roll_no
      limit $5`,
    [...params, ...scopeParams],
  );
  return rows;
}

/** One student with what the policy needs: the teachers of the student's sections. */
export async function findStudent(db: Queryable, id: string): Promise<(StudentRow & { facultyUserIds: string[] }) | undefined> {
  const { rows } = await db.query<StudentRow>(
    `select ${STUDENT_COLUMNS} from students s join batches b on b.id = s.batch_id join programmes p on p.id = b.programme_id where s.id = $1`,
    [id],
  );
  const student = rows[0];
  if (!student) return undefined;
  const { rows: teachers } = await db.query<{ userId: string }>(
    `select distinct f.user_id as "userId" from enrolments e join section_teachers st on st.section_id = e.section_id join faculty f on f.id = st.faculty_id
      where e.student_id = $1 and f.user_id is not null`,
    [id],
  );
  return { ...student, facultyUserIds: teachers.map((teacher) => teacher.userId) };
}
