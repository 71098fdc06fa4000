import type { Queryable } from '../db/db.js';
import type { AttendanceStatus, MarkSource } from '../ledger/precedence.js';

/**
 * Held-to-date attendance percentage per (student, section), for the impact
 * preview of leave decisions. This is the one place its formula lives, and
 * the statistics engine (issue #6: eligibility, thresholds, forecasts)
 * replaces it: a session counts once it has started and the student has a
 * status in it; `excused` leaves it out of the denominator; `present`,
 * `late` and `on_duty` count as attended; `absent` counts as held.
 */

export interface HeldSession {
  sessionId: string;
  studentId: string;
  sectionId: string;
  sectionCode: string;
  courseId: string;
  status: AttendanceStatus | null;
  source: MarkSource | null;
  eventId: string | null;
}

/** Every started, not cancelled session of these students' rolls, per section, with the current status (null when unmarked). */
export async function heldSessions(q: Queryable, studentIds: readonly string[], now: number): Promise<HeldSession[]> {
  const { rows } = await q.query<HeldSession>(
    `select s.id as "sessionId", r.student_id as "studentId", cs.id as "sectionId", cs.code as "sectionCode", cs.course_id as "courseId",
            c.status, c.source, c.event_id as "eventId"
       from session_roll r
       join sessions s on s.id = r.session_id
       join session_groups g on g.session_id = s.id
       join course_sections cs on cs.id = g.section_id
       join enrolments en on en.section_id = cs.id and en.student_id = r.student_id
       left join attendance_current c on c.session_id = s.id and c.student_id = r.student_id
      where r.student_id = any($1::uuid[]) and s.state <> 'cancelled' and s.starts_at <= $2
      order by cs.code, s.starts_at`,
    [studentIds, new Date(now)],
  );
  return rows;
}

export interface Percentage {
  attended: number;
  held: number;
  /** One decimal; null when nothing was held yet. */
  percent: number | null;
}

const ATTENDED: readonly (AttendanceStatus | null)[] = ['present', 'late', 'on_duty'];

export function percentageOf(statuses: readonly (AttendanceStatus | null)[]): Percentage {
  const counted = statuses.filter((status) => status !== null && status !== 'excused');
  const attended = counted.filter((status) => ATTENDED.includes(status)).length;
  const held = counted.length;
  return { attended, held, percent: held === 0 ? null : Math.round((attended / held) * 1000) / 10 };
}
