import type { Queryable } from '../db/db.js';
import { recordMarks, type NewMark } from '../ledger/ledger.js';
import type { AttendanceStatus } from '../ledger/precedence.js';

export const LEAVE_EFFECTS = ['counts_present', 'excluded', 'absent_excused'] as const;
export type LeaveEffect = (typeof LEAVE_EFFECTS)[number];

/**
 * The status a leave's events carry, by its type's effect: `on_duty` counts
 * as present, `excused` leaves the session out of the denominator, and an
 * absent-excused leave stays `absent` (its source, `leave`, tells that it was
 * excused, e.g. to suppress absence notices).
 */
export const LEAVE_STATUS: Record<LeaveEffect, AttendanceStatus> = { counts_present: 'on_duty', excluded: 'excused', absent_excused: 'absent' };

/** Which projections to bring up to date: those of some leaves, of some sessions, or of the sessions on some local dates. */
export type ProjectionScope = { leaveIds: readonly string[] } | { sessionIds: readonly string[] } | { from: string; to: string };

export interface Projection {
  leaveId: string;
  sessionId: string;
  studentId: string;
  status: AttendanceStatus;
}

interface ActiveProjection extends Projection {
  eventId: string;
}

const LOCAL_START = `(s.starts_at at time zone c.timezone)`;

function sessionFilter(scope: ProjectionScope, column: string): { sql: string; params: unknown[] } {
  if ('leaveIds' in scope) return { sql: 'false', params: [] };
  if ('sessionIds' in scope) return { sql: `${column} = any($1::uuid[])`, params: [scope.sessionIds] };
  return {
    sql: `${column} in (select s.id from sessions s join campuses c on c.id = s.campus_id
                         where ${LOCAL_START}::date between $1::date and $2::date or s.slot_date between $1::date and $2::date)`,
    params: [scope.from, scope.to],
  };
}

/**
 * What approved leave should have put on the ledger in the scope: one
 * projection per (leave, session, student) where the session is not
 * cancelled, the student is on its roll, its local date is within the
 * leave's dates, and it overlaps the leave's hours and courses, if any.
 * `includePending` also covers pending leave, for the impact preview.
 */
export async function coveredSessions(q: Queryable, scope: ProjectionScope, { includePending = false } = {}): Promise<Projection[]> {
  const filter = 'leaveIds' in scope ? { sql: 'l.id = any($1::uuid[])', params: [scope.leaveIds] } : sessionFilter(scope, 's.id');
  const { rows } = await q.query<{ leaveId: string; sessionId: string; studentId: string; effect: LeaveEffect }>(
    `select l.id as "leaveId", s.id as "sessionId", ls.student_id as "studentId", lt.effect
       from leave_requests l
       join leave_types lt on lt.id = l.type_id
       join leave_request_students ls on ls.leave_id = l.id
       join session_roll r on r.student_id = ls.student_id
       join sessions s on s.id = r.session_id
       join campuses c on c.id = s.campus_id
      where l.state in ('approved', ${includePending ? "'pending'" : "'approved'"}) and s.state <> 'cancelled'
        and ${LOCAL_START}::date between l.from_date and l.to_date
        and (l.from_time is null
             or (${LOCAL_START}::time < l.to_time and (s.ends_at at time zone c.timezone)::time > l.from_time))
        and (l.course_ids is null
             or exists (select 1 from session_groups g join course_sections cs on cs.id = g.section_id
                         where g.session_id = s.id and cs.course_id = any(l.course_ids)))
        and ${filter.sql}`,
    filter.params,
  );
  return rows.map((row) => ({ leaveId: row.leaveId, sessionId: row.sessionId, studentId: row.studentId, status: LEAVE_STATUS[row.effect] }));
}

/** The leave events in the scope that no revocation has withdrawn. */
async function activeProjections(q: Queryable, scope: ProjectionScope): Promise<ActiveProjection[]> {
  const filter = 'leaveIds' in scope ? { sql: 'le.leave_id = any($1::uuid[])', params: [scope.leaveIds] } : sessionFilter(scope, 'e.session_id');
  const { rows } = await q.query<ActiveProjection>(
    `select le.leave_id as "leaveId", e.id as "eventId", e.session_id as "sessionId", e.student_id as "studentId", e.status
       from leave_events le join attendance_events e on e.id = le.event_id
      where not exists (select 1 from attendance_events r where r.revokes = e.id) and ${filter.sql}`,
    filter.params,
  );
  return rows;
}

const projectionKey = (projection: Projection) => `${projection.leaveId}/${projection.sessionId}/${projection.studentId}/${projection.status}`;

export interface ReprojectResult {
  projected: number;
  revoked: number;
}

/**
 * Makes the ledger agree with approved leave in the scope, in the caller's
 * transaction: a `leave` event for every covered session that has none yet,
 * and a revocation for every leave event that is no longer covered (the
 * leave was revoked, or the session was cancelled, moved or left the
 * student's roll). Approval, revocation and every timetable change call
 * this; running it twice changes nothing.
 */
export async function reprojectLeave(tx: Queryable, scope: ProjectionScope, now: number): Promise<ReprojectResult> {
  if (('leaveIds' in scope && scope.leaveIds.length === 0) || ('sessionIds' in scope && scope.sessionIds.length === 0)) return { projected: 0, revoked: 0 };
  const wanted = await coveredSessions(tx, scope);
  const active = await activeProjections(tx, scope);
  const activeKeys = new Set(active.map(projectionKey));
  const wantedKeys = new Set(wanted.map(projectionKey));
  const reasonOf = (leaveId: string) => `leave ${leaveId}`;
  const markOf = (projection: Projection): NewMark => ({
    sessionId: projection.sessionId,
    studentId: projection.studentId,
    status: projection.status,
    source: 'leave',
    actor: 'system:leave',
    reason: reasonOf(projection.leaveId),
  });
  const revocations: NewMark[] = active
    .filter((projection) => !wantedKeys.has(projectionKey(projection)))
    .map((projection) => ({ ...markOf(projection), reason: `${reasonOf(projection.leaveId)} no longer covers this session`, revokes: projection.eventId }));
  const additions = wanted.filter((projection) => !activeKeys.has(projectionKey(projection)));
  await recordMarks(tx, revocations, now);
  const recorded = await recordMarks(tx, additions.map(markOf), now);
  if (recorded.length > 0) {
    await tx.query('insert into leave_events (event_id, leave_id) select * from unnest($1::uuid[], $2::uuid[])', [
      recorded.map((mark) => mark.event.id),
      additions.map((projection) => projection.leaveId),
    ]);
  }
  return { projected: additions.length, revoked: revocations.length };
}
