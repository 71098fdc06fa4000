import type { Queryable } from '../db/db.js';
import type { AttendanceStatus, MarkSource } from '../ledger/precedence.js';

/** A session as the marking paths and their policy see it. */
export interface SessionForMarking {
  id: string;
  state: 'scheduled' | 'open' | 'closed' | 'cancelled';
  startsAt: Date;
  endsAt: Date;
  finalizedAt: Date | null;
  /** The department of its (first) section. */
  departmentId: string | null;
  /** Teachers of its sections and the faculty member taking it, who have user accounts. */
  facultyUserIds: string[];
}

/** One session; `lock` holds it (for share) to the end of the transaction, so that finalization waits for marks in flight. */
export async function findSession(q: Queryable, id: string, lock = false): Promise<SessionForMarking | null> {
  if (lock) await q.query('select 1 from sessions where id = $1 for share', [id]);
  const { rows } = await q.query<SessionForMarking>(
    `select s.id, s.state, s.starts_at as "startsAt", s.ends_at as "endsAt", s.finalized_at as "finalizedAt",
            (select min(cs.department_id) from session_groups g join course_sections cs on cs.id = g.section_id where g.session_id = s.id) as "departmentId",
            array(select f.user_id::text from faculty f
                   where f.user_id is not null
                     and (f.id = s.faculty_id
                          or f.id in (select t.faculty_id from section_teachers t join session_groups g on g.section_id = t.section_id where g.session_id = s.id))
                   order by 1) as "facultyUserIds"
       from sessions s where s.id = $1`,
    [id],
  );
  return rows[0] ?? null;
}

export interface RollEntry {
  studentId: string;
  rollNo: string;
  name: string;
  status: AttendanceStatus | 'unmarked';
  source: MarkSource | null;
  updatedAt: Date | null;
}

/** Every student on the session's roll (`session_roll`), with the current status. */
export async function sessionRoll(q: Queryable, sessionId: string): Promise<RollEntry[]> {
  const { rows } = await q.query<RollEntry>(
    `select st.id as "studentId", st.roll_no as "rollNo", st.name, coalesce(c.status, 'unmarked') as status,
            c.source, c.updated_at as "updatedAt"
       from session_roll r
       join students st on st.id = r.student_id
       left join attendance_current c on c.session_id = r.session_id and c.student_id = r.student_id and c.status is not null
      where r.session_id = $1
      order by st.roll_no`,
    [sessionId],
  );
  return rows;
}

export async function isOnRoll(q: Queryable, sessionId: string, studentId: string): Promise<boolean> {
  const { rows } = await q.query('select 1 from session_roll where session_id = $1 and student_id = $2', [sessionId, studentId]);
  return rows.length > 0;
}

/** A student as the `records.read` policy sees them. */
export interface StudentOwner {
  id: string;
  userId: string | null;
  departmentId: string;
  /** Faculty (with user accounts) who teach a section the student is enrolled in. */
  facultyUserIds: string[];
}

export async function findStudentOwner(q: Queryable, studentId: string): Promise<StudentOwner | null> {
  const { rows } = await q.query<StudentOwner>(
    `select st.id, st.user_id::text as "userId", p.department_id as "departmentId",
            array(select distinct f.user_id::text from enrolments en
                    join section_teachers t on t.section_id = en.section_id
                    join faculty f on f.id = t.faculty_id
                   where en.student_id = st.id and f.user_id is not null
                   order by 1) as "facultyUserIds"
       from students st join batches b on b.id = st.batch_id join programmes p on p.id = b.programme_id
      where st.id = $1`,
    [studentId],
  );
  return rows[0] ?? null;
}

export async function studentOfUser(q: Queryable, userId: string): Promise<string | null> {
  const { rows } = await q.query<{ id: string }>('select id from students where user_id = $1', [userId]);
  return rows[0]?.id ?? null;
}

export interface StudentRecord {
  sessionId: string;
  startsAt: Date;
  endsAt: Date;
  sections: string[];
  status: AttendanceStatus;
  source: MarkSource;
  updatedAt: Date;
}

export interface StudentRecordFilter {
  from?: string;
  to?: string;
  sectionId?: string;
  /** Keyset: only sessions before this one (by start, then id). */
  before?: { startsAt: string; sessionId: string };
}

/** A student's records, newest session first. */
export async function listStudentRecords(q: Queryable, studentId: string, filter: StudentRecordFilter, limit: number): Promise<StudentRecord[]> {
  const params: unknown[] = [studentId];
  const conditions = ['c.student_id = $1', 'c.status is not null'];
  const add = (condition: (n: number) => string, ...values: unknown[]) => {
    const first = params.length + 1;
    params.push(...values);
    conditions.push(condition(first));
  };
  if (filter.from) add((n) => `s.starts_at >= $${n}`, filter.from);
  if (filter.to) add((n) => `s.starts_at < $${n}`, filter.to);
  if (filter.sectionId) add((n) => `exists (select 1 from session_groups g where g.session_id = s.id and g.section_id = $${n})`, filter.sectionId);
  if (filter.before) add((n) => `(s.starts_at, s.id) < ($${n}::timestamptz, $${n + 1}::uuid)`, filter.before.startsAt, filter.before.sessionId);
  params.push(limit);
  const { rows } = await q.query<StudentRecord>(
    `select s.id as "sessionId", s.starts_at as "startsAt", s.ends_at as "endsAt",
            array(select cs.code from session_groups g join course_sections cs on cs.id = g.section_id where g.session_id = s.id order by cs.code) as sections,
            c.status, c.source, c.updated_at as "updatedAt"
       from attendance_current c join sessions s on s.id = c.session_id
      where ${conditions.join(' and ')}
      order by s.starts_at desc, s.id desc
      limit $${params.length}`,
    params,
  );
  return rows;
}

export interface SectionOwner {
  id: string;
  departmentId: string;
  facultyUserIds: string[];
}

/** A section's department and the user ids of its teachers: the object of its register. */
export async function findSectionOwner(q: Queryable, sectionId: string): Promise<SectionOwner | null> {
  const { rows } = await q.query<SectionOwner>(
    `select cs.id, cs.department_id as "departmentId",
            array(select f.user_id::text from section_teachers t join faculty f on f.id = t.faculty_id where t.section_id = cs.id and f.user_id is not null) as "facultyUserIds"
       from course_sections cs where cs.id = $1`,
    [sectionId],
  );
  return rows[0] ?? null;
}

export interface RegisterSession {
  sessionId: string;
  startsAt: Date;
  endsAt: Date;
  state: string;
  finalizedAt: Date | null;
  records: { studentId: string; status: AttendanceStatus; source: MarkSource }[];
}

/**
 * A section's register: its sessions, newest first, each with the statuses
 * of the section's own students (a combined lecture also has others').
 */
export async function sectionRegister(
  q: Queryable,
  sectionId: string,
  filter: { from?: string; to?: string; before?: { startsAt: string; sessionId: string } },
  limit: number,
): Promise<RegisterSession[]> {
  const params: unknown[] = [sectionId];
  const conditions = ['g.section_id = $1'];
  const add = (condition: (n: number) => string, ...values: unknown[]) => {
    const first = params.length + 1;
    params.push(...values);
    conditions.push(condition(first));
  };
  if (filter.from) add((n) => `s.starts_at >= $${n}`, filter.from);
  if (filter.to) add((n) => `s.starts_at < $${n}`, filter.to);
  if (filter.before) add((n) => `(s.starts_at, s.id) < ($${n}::timestamptz, $${n + 1}::uuid)`, filter.before.startsAt, filter.before.sessionId);
  params.push(limit);
  const { rows } = await q.query<RegisterSession>(
    `select s.id as "sessionId", s.starts_at as "startsAt", s.ends_at as "endsAt", s.state, s.finalized_at as "finalizedAt",
            coalesce((select json_agg(json_build_object('studentId', c.student_id, 'status', c.status, 'source', c.source) order by c.student_id)
                        from attendance_current c
                        join enrolments e on e.student_id = c.student_id and e.section_id = $1
                       where c.session_id = s.id and c.status is not null), '[]'::json) as records
       from sessions s join session_groups g on g.session_id = s.id
      where ${conditions.join(' and ')}
      order by s.starts_at desc, s.id desc
      limit $${params.length}`,
    params,
  );
  return rows;
}
