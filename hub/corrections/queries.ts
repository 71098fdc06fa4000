import type { Scope } from '../auth/rules.js';
import type { Queryable } from '../db/db.js';
import type { AttendanceStatus } from '../ledger/precedence.js';

export const CORRECTION_KINDS = ['dispute', 'faculty', 'incident'] as const;
export type CorrectionKind = (typeof CORRECTION_KINDS)[number];
export const CORRECTION_STATES = ['pending', 'approved', 'rejected', 'withdrawn'] as const;
export type CorrectionState = (typeof CORRECTION_STATES)[number];
export type Approver = 'teacher' | 'hod';

export interface CorrectionItem {
  sessionId: string;
  studentId: string;
  status: AttendanceStatus;
  statusBefore: AttendanceStatus | null;
  eventId: string | null;
}

export interface CorrectionEvidence {
  sha256: string;
  filename: string;
  contentType: string;
  sizeBytes: number;
}

export interface CorrectionView {
  id: string;
  kind: CorrectionKind;
  state: CorrectionState;
  requestedBy: string;
  departmentId: string;
  approver: Approver;
  reasonCode: string | null;
  reason: string;
  roomId: string | null;
  incidentFrom: Date | null;
  incidentTo: Date | null;
  createdAt: Date;
  dueAt: Date;
  escalatedAt: Date | null;
  decidedAt: Date | null;
  decidedBy: string | null;
  decisionReason: string | null;
  items: CorrectionItem[];
  evidence: CorrectionEvidence[];
}

/** Who a correction concerns, for its object rules. */
export interface CorrectionOwners {
  requestedBy: string;
  /** The requester and the students whose marks it changes. */
  memberUserIds: string[];
  departmentId: string;
  /** Teachers (with accounts) of its sessions' sections and the faculty who took them. */
  facultyUserIds: string[];
}

const VIEW_COLUMNS = `c.id, c.kind, c.state, c.requested_by as "requestedBy", c.department_id as "departmentId", c.approver,
  c.reason_code as "reasonCode", c.reason, c.room_id as "roomId", c.incident_from as "incidentFrom", c.incident_to as "incidentTo",
  c.created_at as "createdAt", c.due_at as "dueAt", c.escalated_at as "escalatedAt", c.decided_at as "decidedAt",
  c.decided_by as "decidedBy", c.decision_reason as "decisionReason"`;

type CorrectionRow = Omit<CorrectionView, 'items' | 'evidence'>;

export async function findCorrection(q: Queryable, id: string, lock = false): Promise<CorrectionView | null> {
  if (lock) await q.query('select 1 from corrections where id = $1 for update', [id]);
  const { rows } = await q.query<CorrectionRow>(`select ${VIEW_COLUMNS} from corrections c where c.id = $1`, [id]);
  const row = rows[0];
  if (!row) return null;
  const items = await q.query<CorrectionItem>(
    `select session_id as "sessionId", student_id as "studentId", status, status_before as "statusBefore", event_id as "eventId"
       from correction_items where correction_id = $1 order by session_id, student_id`,
    [id],
  );
  const evidence = await q.query<CorrectionEvidence>(
    `select e.sha256, e.filename, b.content_type as "contentType", b.size_bytes as "sizeBytes"
       from correction_evidence e join evidence_blobs b on b.sha256 = e.sha256 where e.correction_id = $1 order by e.created_at, e.sha256`,
    [id],
  );
  return { ...row, items: items.rows, evidence: evidence.rows };
}

export async function correctionOwners(q: Queryable, id: string): Promise<CorrectionOwners | null> {
  const { rows } = await q.query<CorrectionOwners>(
    `select c.requested_by as "requestedBy", c.department_id as "departmentId",
            array(select distinct u from (select c.requested_by as u
                                          union select st.user_id::text from correction_items i join students st on st.id = i.student_id
                                                 where i.correction_id = c.id and st.user_id is not null) members order by 1) as "memberUserIds",
            array(select distinct f.user_id::text from correction_items i join sessions s on s.id = i.session_id
                    join faculty f on f.user_id is not null
                     and (f.id = s.faculty_id
                          or f.id in (select t.faculty_id from section_teachers t join session_groups g on g.section_id = t.section_id where g.session_id = s.id))
                   where i.correction_id = c.id order by 1) as "facultyUserIds"
       from corrections c where c.id = $1`,
    [id],
  );
  return rows[0] ?? null;
}

/** A pending correction of one of these records, if any. */
export async function pendingCorrectionOf(q: Queryable, sessionId: string, studentId: string): Promise<string | null> {
  const { rows } = await q.query<{ id: string }>(
    `select c.id from corrections c join correction_items i on i.correction_id = c.id
      where c.state = 'pending' and i.session_id = $1 and i.student_id = $2 limit 1`,
    [sessionId, studentId],
  );
  return rows[0]?.id ?? null;
}

function correctionScopeCondition(scope: Scope, params: unknown[]): string {
  switch (scope.kind) {
    case 'all':
      return 'true';
    case 'none':
      return 'false';
    case 'department':
      return `c.department_id = $${params.push(scope.departmentId)}`;
    case 'teaching': {
      const user = `$${params.push(scope.facultyUserId)}`;
      return `(c.requested_by = ${user}::text
               or exists (select 1 from correction_items i join sessions s on s.id = i.session_id join faculty f on f.user_id = ${user}::uuid
                           where i.correction_id = c.id
                             and (f.id = s.faculty_id
                                  or f.id in (select t.faculty_id from section_teachers t join session_groups g on g.section_id = t.section_id where g.session_id = s.id))))`;
    }
    case 'self': {
      const user = `$${params.push(scope.userId)}`;
      return `(c.requested_by = ${user}::text
               or exists (select 1 from correction_items i join students st on st.id = i.student_id where i.correction_id = c.id and st.user_id = ${user}::uuid))`;
    }
  }
}

export interface CorrectionFilter {
  state?: CorrectionState;
  kind?: CorrectionKind;
  after?: { at: Date; id: string };
}

/** Corrections the scope may see, newest first (without items: open one for them). */
export async function listCorrections(q: Queryable, scope: Scope, filter: CorrectionFilter, limit: number): Promise<(CorrectionRow & { itemCount: number })[]> {
  const params: unknown[] = [];
  const conditions = [correctionScopeCondition(scope, params)];
  if (filter.state) conditions.push(`c.state = $${params.push(filter.state)}`);
  if (filter.kind) conditions.push(`c.kind = $${params.push(filter.kind)}`);
  if (filter.after) conditions.push(`(c.created_at, c.id) < ($${params.push(filter.after.at)}, $${params.push(filter.after.id)}::uuid)`);
  const { rows } = await q.query<CorrectionRow & { itemCount: number }>(
    `select ${VIEW_COLUMNS}, (select count(*)::int from correction_items i where i.correction_id = c.id) as "itemCount"
       from corrections c where ${conditions.join(' and ')} order by c.created_at desc, c.id desc limit $${params.push(limit)}`,
    params,
  );
  return rows;
}

/** The sessions held in a room during an incident (open or closed, overlapping it), with their owners. */
export async function sessionsInRoom(q: Queryable, roomId: string, from: Date, to: Date): Promise<string[]> {
  const { rows } = await q.query<{ id: string }>(
    `select id from sessions where room_id = $1 and state in ('open', 'closed') and starts_at < $3 and ends_at > $2 order by starts_at, id`,
    [roomId, from, to],
  );
  return rows.map((row) => row.id);
}

/** Students of a session's roll that nobody marked: unmarked, or absent only because finalization filled them in. */
export async function unmarkedByPeople(q: Queryable, sessionId: string): Promise<{ studentId: string; status: AttendanceStatus | null }[]> {
  const { rows } = await q.query<{ studentId: string; status: AttendanceStatus | null }>(
    `select r.student_id as "studentId", c.status
       from session_roll r left join attendance_current c on c.session_id = r.session_id and c.student_id = r.student_id
      where r.session_id = $1 and (c.status is null or c.source = 'automatic')
      order by r.student_id`,
    [sessionId],
  );
  return rows;
}

export async function currentStatusOf(q: Queryable, sessionId: string, studentId: string): Promise<AttendanceStatus | null> {
  const { rows } = await q.query<{ status: AttendanceStatus | null }>('select status from attendance_current where session_id = $1 and student_id = $2', [sessionId, studentId]);
  return rows[0]?.status ?? null;
}
