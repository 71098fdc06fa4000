import type { Queryable } from '../db/db.js';
import { enqueueNotification, type OutboxRouting } from './outbox.js';

/** Which rules raise notifications, and their thresholds (docs/notifications.md). */
export interface NotificationRules {
  /** Tell the guardian (through the webhooks: an SMS gateway, say) about each absence. */
  guardianOnAbsence: boolean;
  /** Tell the student after this many absences in a row (0: never). */
  consecutiveAbsences: number;
  /** Tell the student when their attendance in a section falls below this percentage (0: never). */
  belowThresholdPercent: number;
}

/**
 * The held-to-date percentage of one student in one section, the one place
 * its formula lives until the statistics issue (#6) brings the real one:
 * attended (present, late, on duty) over held (finalized sessions with a
 * status, excused ones left out of both). Null before anything was held.
 */
export async function heldToDatePercent(tx: Queryable, studentId: string, sectionId: string): Promise<number | null> {
  const { rows } = await tx.query<{ attended: number; held: number }>(
    `select count(*) filter (where c.status in ('present', 'late', 'on_duty'))::int as attended,
            count(*) filter (where c.status <> 'excused')::int as held
       from attendance_current c
       join sessions s on s.id = c.session_id and s.finalized_at is not null and s.state = 'closed'
       join session_groups g on g.session_id = s.id and g.section_id = $2
      where c.student_id = $1 and c.status is not null`,
    [studentId, sectionId],
  );
  const { attended, held } = rows[0]!;
  return held === 0 ? null : (100 * attended) / held;
}

/**
 * Runs in the finalizing transaction of a session: each student left absent
 * (not excused by approved leave, which the ledger records with source
 * `leave`) may raise a guardian notice, a consecutive-absence warning and a
 * below-threshold warning. Dedupe keys make a re-run raise nothing twice.
 */
export async function notifyOnFinalize(tx: Queryable, routing: OutboxRouting, rules: NotificationRules, sessionId: string, at: Date): Promise<void> {
  const { rows: absent } = await tx.query<{ studentId: string; userId: string | null; startsAt: Date }>(
    `select c.student_id as "studentId", st.user_id as "userId", s.starts_at as "startsAt"
       from attendance_current c join students st on st.id = c.student_id join sessions s on s.id = c.session_id
      where c.session_id = $1 and c.status = 'absent' and c.source <> 'leave'
      order by c.student_id`,
    [sessionId],
  );
  for (const { studentId, userId, startsAt } of absent) {
    const facts = { studentId, sessionId, sessionStartsAt: startsAt.toISOString() };
    if (rules.guardianOnAbsence) {
      await enqueueNotification(tx, routing, { kind: 'absence.guardian', recipient: `guardian:${studentId}`, dedupeKey: sessionId, title: 'Absent from a class', body: facts }, at);
    }
    if (!userId) continue;
    if (rules.consecutiveAbsences > 0 && (await absentInARow(tx, studentId, startsAt, rules.consecutiveAbsences))) {
      await enqueueNotification(
        tx,
        routing,
        { kind: 'absence.consecutive', recipient: userId, dedupeKey: sessionId, title: `Absent from ${rules.consecutiveAbsences} classes in a row`, body: { ...facts, count: rules.consecutiveAbsences } },
        at,
      );
    }
    if (rules.belowThresholdPercent > 0) {
      const { rows: sections } = await tx.query<{ sectionId: string }>('select section_id as "sectionId" from session_groups where session_id = $1', [sessionId]);
      for (const { sectionId } of sections) {
        const percent = await heldToDatePercent(tx, studentId, sectionId);
        if (percent === null || percent >= rules.belowThresholdPercent) continue;
        await enqueueNotification(
          tx,
          routing,
          {
            kind: 'attendance.below_threshold',
            recipient: userId,
            // At most one a day per section, however many absences that day.
            dedupeKey: `${sectionId}:${startsAt.toISOString().slice(0, 10)}`,
            title: `Attendance below ${rules.belowThresholdPercent}%`,
            body: { studentId, sectionId, percent: Math.round(percent * 10) / 10, threshold: rules.belowThresholdPercent },
          },
          at,
        );
      }
    }
  }
}

/** Whether the student's last `count` finalized sessions up to `until` were all absences (leave-covered ones break the run). */
async function absentInARow(tx: Queryable, studentId: string, until: Date, count: number): Promise<boolean> {
  const { rows } = await tx.query<{ absent: boolean }>(
    `select c.status = 'absent' and c.source <> 'leave' as absent
       from attendance_current c join sessions s on s.id = c.session_id
      where c.student_id = $1 and s.starts_at <= $2 and c.status is not null
      order by s.starts_at desc limit $3`,
    [studentId, until, count],
  );
  return rows.length === count && rows.every((row) => row.absent);
}

/**
 * Not-taken flags become notifications: the session's teacher when it is
 * flagged, the HODs when it is escalated. A scheduler job, so the sessions
 * module needs no knowledge of notifications; the flag id dedupes.
 */
export async function notifySessionFlags(tx: Queryable, routing: OutboxRouting, at: Date): Promise<void> {
  const { rows } = await tx.query<{ flagId: string; sessionId: string; kind: 'not_taken' | 'escalated'; details: { hodUserIds?: string[] }; facultyUserId: string | null; startsAt: Date }>(
    `select f.id as "flagId", f.session_id as "sessionId", f.kind, f.details, u.id as "facultyUserId", s.starts_at as "startsAt"
       from session_flags f join sessions s on s.id = f.session_id
       left join faculty fa on fa.id = s.faculty_id left join users u on u.id = fa.user_id
      where f.kind in ('not_taken', 'escalated') and f.resolved_at is null
        and not exists (select 1 from notifications n where n.kind in ('session.not_taken', 'session.not_taken.escalated') and n.dedupe_key = f.id::text)
      order by f.created_at, f.id limit 500`,
  );
  for (const flag of rows) {
    const recipients = flag.kind === 'not_taken' ? (flag.facultyUserId ? [flag.facultyUserId] : []) : (flag.details.hodUserIds ?? []);
    const kind = flag.kind === 'not_taken' ? 'session.not_taken' : 'session.not_taken.escalated';
    const title = flag.kind === 'not_taken' ? 'A session of yours has no attendance' : 'A session in your department has no attendance';
    for (const recipient of recipients) {
      await enqueueNotification(tx, routing, { kind, recipient, dedupeKey: flag.flagId, title, body: { sessionId: flag.sessionId, sessionStartsAt: flag.startsAt.toISOString() } }, at);
    }
  }
}

/** For the leave and correction workflows: tell each approver a request waits for them. */
export async function notifyPendingApproval(
  tx: Queryable,
  routing: OutboxRouting,
  request: { kind: string; id: string; approverUserIds: string[]; summary: string },
  at: Date,
): Promise<void> {
  for (const approver of request.approverUserIds) {
    await enqueueNotification(
      tx,
      routing,
      { kind: 'approval.pending', recipient: approver, dedupeKey: `${request.kind}:${request.id}`, title: `Waiting for your approval: ${request.summary}`, body: { requestKind: request.kind, requestId: request.id } },
      at,
    );
  }
}

/** For eligibility (#6): tell each student that the list they are on was published. */
export async function notifyEligibilityPublished(
  tx: Queryable,
  routing: OutboxRouting,
  list: { id: string; termId: string; students: { userId: string; eligible: boolean }[] },
  at: Date,
): Promise<void> {
  for (const student of list.students) {
    await enqueueNotification(
      tx,
      routing,
      {
        kind: 'eligibility.published',
        recipient: student.userId,
        dedupeKey: list.id,
        title: student.eligible ? 'You are eligible for the examinations' : 'You are not eligible for the examinations',
        body: { listId: list.id, termId: list.termId, eligible: student.eligible },
      },
      at,
    );
  }
}
