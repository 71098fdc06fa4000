import type { Scope } from '../auth/rules.js';
import type { Queryable } from '../db/db.js';

export const SESSION_STATES = ['scheduled', 'open', 'closed', 'cancelled'] as const;
export type SessionState = (typeof SESSION_STATES)[number];
export const SESSION_ORIGINS = ['timetable', 'manual', 'extra'] as const;
export type SessionOrigin = (typeof SESSION_ORIGINS)[number];

export interface SessionGroup {
  sectionId: string;
  subgroupId: string | null;
}

export interface SessionView {
  id: string;
  termId: string;
  campusId: string;
  startsAt: Date;
  endsAt: Date;
  roomId: string | null;
  facultyId: string | null;
  state: SessionState;
  origin: SessionOrigin;
  openedAt: Date | null;
  closedAt: Date | null;
  finalizedAt: Date | null;
  finalizedBy: 'watermarks' | 'timeout' | null;
  cancelledReason: string | null;
  slotId: string | null;
  slotDate: string | null;
  changeId: string | null;
  groups: SessionGroup[];
}

const SESSION_COLUMNS = `s.id, s.term_id as "termId", s.campus_id as "campusId", s.starts_at as "startsAt", s.ends_at as "endsAt",
  s.room_id as "roomId", s.faculty_id as "facultyId", s.state, s.origin, s.opened_at as "openedAt", s.closed_at as "closedAt",
  s.finalized_at as "finalizedAt", s.finalized_by as "finalizedBy", s.cancelled_reason as "cancelledReason",
  s.slot_id as "slotId", s.slot_date::text as "slotDate", s.change_id as "changeId"`;

/**
 * The SQL condition for the sessions a scope may see, on alias `s`, with its
 * parameter pushed onto `params`. Faculty see the sessions of the sections
 * they teach and those they take (a substitute); students the sessions of
 * sections they are enrolled in, their own lab batch only.
 */
export function sessionScopeCondition(scope: Scope, params: unknown[]): string {
  switch (scope.kind) {
    case 'all':
      return 'true';
    case 'none':
      return 'false';
    case 'department':
      params.push(scope.departmentId);
      return `exists (select 1 from session_groups g join course_sections c on c.id = g.section_id where g.session_id = s.id and c.department_id = $${params.length})`;
    case 'teaching':
      params.push(scope.facultyUserId);
      return `(exists (select 1 from session_groups g join section_teachers st on st.section_id = g.section_id join faculty f on f.id = st.faculty_id
                       where g.session_id = s.id and f.user_id = $${params.length})
               or exists (select 1 from faculty f where f.id = s.faculty_id and f.user_id = $${params.length}))`;
    case 'self':
      params.push(scope.userId);
      return `exists (select 1 from session_groups g join enrolments e on e.section_id = g.section_id join students st on st.id = e.student_id
                      where g.session_id = s.id and st.user_id = $${params.length} and (g.subgroup_id is null or g.subgroup_id = e.subgroup_id))`;
  }
}

async function withGroups(db: Queryable, rows: Omit<SessionView, 'groups'>[]): Promise<SessionView[]> {
  if (rows.length === 0) return [];
  const { rows: groups } = await db.query<SessionGroup & { sessionId: string }>(
    `select session_id as "sessionId", section_id as "sectionId", subgroup_id as "subgroupId"
       from session_groups where session_id = any($1::uuid[]) order by section_id`,
    [rows.map((row) => row.id)],
  );
  return rows.map((row) => ({
    ...row,
    groups: groups.filter((group) => group.sessionId === row.id).map(({ sectionId, subgroupId }) => ({ sectionId, subgroupId })),
  }));
}

export async function findSession(db: Queryable, id: string): Promise<SessionView | null> {
  const { rows } = await db.query<Omit<SessionView, 'groups'>>(`select ${SESSION_COLUMNS} from sessions s where s.id = $1`, [id]);
  return (await withGroups(db, rows))[0] ?? null;
}

export interface SessionFilter {
  /** starts_at ≥ from */
  from?: string;
  /** starts_at < to */
  to?: string;
  /** Starts on this local date of its campus. */
  date?: string;
  sectionId?: string;
  roomId?: string;
  state?: SessionState;
  facultyId?: string;
  /** The keyset: sessions after this (starts_at, id). */
  after?: { startsAt: string; id: string };
}

/** Sessions in start order, keyset-paged, only those the scope may see. */
export async function listSessions(db: Queryable, scope: Scope, filter: SessionFilter, limit: number): Promise<SessionView[]> {
  const params: unknown[] = [];
  const conditions = [sessionScopeCondition(scope, params)];
  const add = (condition: (placeholder: string) => string, value: unknown) => {
    params.push(value);
    conditions.push(condition(`$${params.length}`));
  };
  if (filter.from) add((p) => `s.starts_at >= ${p}`, filter.from);
  if (filter.to) add((p) => `s.starts_at < ${p}`, filter.to);
  if (filter.date) add((p) => `(s.starts_at at time zone (select c.timezone from campuses c where c.id = s.campus_id))::date = ${p}::date`, filter.date);
  if (filter.sectionId) add((p) => `exists (select 1 from session_groups g where g.session_id = s.id and g.section_id = ${p})`, filter.sectionId);
  if (filter.roomId) add((p) => `s.room_id = ${p}`, filter.roomId);
  if (filter.state) add((p) => `s.state = ${p}`, filter.state);
  if (filter.facultyId) add((p) => `s.faculty_id = ${p}`, filter.facultyId);
  if (filter.after) {
    params.push(filter.after.startsAt, filter.after.id);
    conditions.push(`(s.starts_at, s.id) > ($${params.length - 1}::timestamptz, $${params.length}::uuid)`);
  }
  params.push(limit);
  const { rows } = await db.query<Omit<SessionView, 'groups'>>(
    `select ${SESSION_COLUMNS} from sessions s where ${conditions.join(' and ')} order by s.starts_at, s.id limit $${params.length}`,
    params,
  );
  return withGroups(db, rows);
}

/** Who a session belongs to, for the policy: its departments, its teachers (and the one taking it) and its students. */
export interface SessionOwners {
  departmentIds: string[];
  facultyUserIds: string[];
  memberUserIds: string[];
}

export async function sessionOwners(db: Queryable, sessionId: string): Promise<SessionOwners> {
  const departments = await db.query<{ id: string }>(
    `select distinct c.department_id as id from session_groups g join course_sections c on c.id = g.section_id where g.session_id = $1 order by 1`,
    [sessionId],
  );
  const faculty = await db.query<{ id: string }>(
    `select f.user_id as id from session_groups g join section_teachers st on st.section_id = g.section_id join faculty f on f.id = st.faculty_id
      where g.session_id = $1 and f.user_id is not null
     union
     select f.user_id from sessions s join faculty f on f.id = s.faculty_id where s.id = $1 and f.user_id is not null`,
    [sessionId],
  );
  const members = await db.query<{ id: string }>(
    `select distinct st.user_id as id from session_groups g join enrolments e on e.section_id = g.section_id join students st on st.id = e.student_id
      where g.session_id = $1 and st.user_id is not null and (g.subgroup_id is null or g.subgroup_id = e.subgroup_id)`,
    [sessionId],
  );
  return { departmentIds: departments.rows.map((row) => row.id), facultyUserIds: faculty.rows.map((row) => row.id), memberUserIds: members.rows.map((row) => row.id) };
}
