import type { Scope } from '../auth/rules.js';
import type { Queryable } from '../db/db.js';
import type { LeaveEffect } from './projection.js';
import { activeHodIds } from '../auth/users.js';

export const APPROVAL_STEPS = ['teacher', 'hod'] as const;
export type ApprovalStep = (typeof APPROVAL_STEPS)[number];
export const LEAVE_STATES = ['pending', 'approved', 'rejected', 'withdrawn', 'revoked'] as const;
export type LeaveState = (typeof LEAVE_STATES)[number];

export interface LeaveType {
  id: string;
  name: string;
  effect: LeaveEffect;
  documentsRequired: boolean;
  maxDays: number;
  termCapDays: number;
  approvalChain: ApprovalStep[];
  facultyMayApply: boolean;
  active: boolean;
}

const TYPE_COLUMNS = `id, name, effect, documents_required as "documentsRequired", max_days as "maxDays", term_cap_days as "termCapDays",
  approval_chain as "approvalChain", faculty_may_apply as "facultyMayApply", active`;

export async function listLeaveTypes(q: Queryable): Promise<LeaveType[]> {
  return (await q.query<LeaveType>(`select ${TYPE_COLUMNS} from leave_types order by id`)).rows;
}

export async function findLeaveType(q: Queryable, id: string): Promise<LeaveType | null> {
  return (await q.query<LeaveType>(`select ${TYPE_COLUMNS} from leave_types where id = $1`, [id])).rows[0] ?? null;
}

export async function saveLeaveType(q: Queryable, type: LeaveType, now: Date): Promise<void> {
  await q.query(
    `insert into leave_types (id, name, effect, documents_required, max_days, term_cap_days, approval_chain, faculty_may_apply, active, updated_at)
     values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
     on conflict (id) do update set name = excluded.name, effect = excluded.effect, documents_required = excluded.documents_required,
       max_days = excluded.max_days, term_cap_days = excluded.term_cap_days, approval_chain = excluded.approval_chain,
       faculty_may_apply = excluded.faculty_may_apply, active = excluded.active, updated_at = excluded.updated_at`,
    [type.id, type.name, type.effect, type.documentsRequired, type.maxDays, type.termCapDays, type.approvalChain, type.facultyMayApply, type.active, now],
  );
}

export interface LeaveDecision {
  step: string | null;
  decision: 'approve' | 'reject' | 'withdraw' | 'revoke';
  actor: string;
  reason: string | null;
  at: Date;
}

export interface LeaveDocument {
  sha256: string;
  filename: string;
  contentType: string;
  sizeBytes: number;
}

export interface LeaveView {
  id: string;
  typeId: string;
  termId: string;
  applicantUserId: string;
  studentIds: string[];
  fromDate: string;
  toDate: string;
  fromTime: string | null;
  toTime: string | null;
  courseIds: string[] | null;
  days: number;
  reason: string;
  state: LeaveState;
  approvalChain: ApprovalStep[];
  approvals: number;
  /** The step whose approval is awaited; null unless pending. */
  awaiting: ApprovalStep | null;
  createdAt: Date;
  updatedAt: Date;
  decisions: LeaveDecision[];
  documents: LeaveDocument[];
}

/** Who a leave concerns, as its object rules see it. */
export interface LeaveOwners {
  applicantUserId: string;
  /** The applicant and the students' own accounts. */
  memberUserIds: string[];
  /** The (first) student's department. */
  departmentId: string | null;
  /** Teachers (with accounts) of a section one of its students is enrolled in. */
  facultyUserIds: string[];
}

const VIEW_COLUMNS = `l.id, l.type_id as "typeId", l.term_id as "termId", l.applicant_user_id::text as "applicantUserId",
  array(select ls.student_id::text from leave_request_students ls where ls.leave_id = l.id order by 1) as "studentIds",
  l.from_date::text as "fromDate", l.to_date::text as "toDate",
  to_char(l.from_time, 'HH24:MI') as "fromTime", to_char(l.to_time, 'HH24:MI') as "toTime",
  l.course_ids as "courseIds", l.days, l.reason, l.state, l.approval_chain as "approvalChain", l.approvals,
  l.created_at as "createdAt", l.updated_at as "updatedAt"`;

type LeaveRow = Omit<LeaveView, 'awaiting' | 'decisions' | 'documents'>;

function awaitingOf(row: LeaveRow): ApprovalStep | null {
  return row.state === 'pending' ? (row.approvalChain[row.approvals] ?? null) : null;
}

/** One leave with its decisions and documents; `lock` holds it for the rest of the transaction. */
export async function findLeave(q: Queryable, id: string, lock = false): Promise<LeaveView | null> {
  if (lock) await q.query('select 1 from leave_requests where id = $1 for update', [id]);
  const { rows } = await q.query<LeaveRow>(`select ${VIEW_COLUMNS} from leave_requests l where l.id = $1`, [id]);
  const row = rows[0];
  if (!row) return null;
  const decisions = await q.query<LeaveDecision>('select step, decision, actor, reason, at from leave_decisions where leave_id = $1 order by at, id', [id]);
  const documents = await q.query<LeaveDocument>(
    `select d.sha256, d.filename, b.content_type as "contentType", b.size_bytes as "sizeBytes"
       from leave_documents d join evidence_blobs b on b.sha256 = d.sha256 where d.leave_id = $1 order by d.created_at, d.sha256`,
    [id],
  );
  return { ...row, awaiting: awaitingOf(row), decisions: decisions.rows, documents: documents.rows };
}

export async function leaveOwners(q: Queryable, id: string): Promise<LeaveOwners | null> {
  const { rows } = await q.query<LeaveOwners>(
    `select l.applicant_user_id::text as "applicantUserId",
            array(select distinct u from (select l.applicant_user_id::text as u
                                          union select st.user_id::text from leave_request_students ls join students st on st.id = ls.student_id
                                                 where ls.leave_id = l.id and st.user_id is not null) members order by 1) as "memberUserIds",
            (select min(p.department_id) from leave_request_students ls join students st on st.id = ls.student_id
               join batches b on b.id = st.batch_id join programmes p on p.id = b.programme_id where ls.leave_id = l.id) as "departmentId",
            array(select distinct f.user_id::text from leave_request_students ls
                    join enrolments en on en.student_id = ls.student_id
                    join section_teachers t on t.section_id = en.section_id
                    join faculty f on f.id = t.faculty_id
                   where ls.leave_id = l.id and f.user_id is not null order by 1) as "facultyUserIds"
       from leave_requests l where l.id = $1`,
    [id],
  );
  return rows[0] ?? null;
}

export interface LeaveFilter {
  state?: LeaveState;
  studentId?: string;
  termId?: string;
  /** (time, id) of the last row of the previous page. */
  after?: { at: Date; id: string };
}

/** The caller's scope as a condition on `l` (leave_requests). */
function leaveScopeCondition(scope: Scope, params: unknown[]): string {
  switch (scope.kind) {
    case 'all':
      return 'true';
    case 'none':
      return 'false';
    case 'department':
      params.push(scope.departmentId);
      return `exists (select 1 from leave_request_students ls join students st on st.id = ls.student_id join batches b on b.id = st.batch_id
                        join programmes p on p.id = b.programme_id where ls.leave_id = l.id and p.department_id = $${params.length})`;
    case 'teaching':
      params.push(scope.facultyUserId);
      return `(l.applicant_user_id = $${params.length}::text
               or exists (select 1 from leave_request_students ls join enrolments en on en.student_id = ls.student_id
                            join section_teachers t on t.section_id = en.section_id join faculty f on f.id = t.faculty_id
                           where ls.leave_id = l.id and f.user_id = $${params.length}::uuid))`;
    case 'self':
      params.push(scope.userId);
      return `(l.applicant_user_id = $${params.length}::text
               or exists (select 1 from leave_request_students ls join students st on st.id = ls.student_id
                           where ls.leave_id = l.id and st.user_id = $${params.length}::uuid))`;
  }
}

/** Leave requests the scope may see, newest first. */
export async function listLeaves(q: Queryable, scope: Scope, filter: LeaveFilter, limit: number): Promise<(LeaveRow & { awaiting: ApprovalStep | null })[]> {
  const params: unknown[] = [];
  const conditions = [leaveScopeCondition(scope, params)];
  if (filter.state) conditions.push(`l.state = $${params.push(filter.state)}`);
  if (filter.termId) conditions.push(`l.term_id = $${params.push(filter.termId)}`);
  if (filter.studentId) conditions.push(`exists (select 1 from leave_request_students ls where ls.leave_id = l.id and ls.student_id = $${params.push(filter.studentId)})`);
  if (filter.after) conditions.push(`(l.created_at, l.id) < ($${params.push(filter.after.at)}, $${params.push(filter.after.id)}::uuid)`);
  const { rows } = await q.query<LeaveRow>(
    `select ${VIEW_COLUMNS} from leave_requests l where ${conditions.join(' and ')} order by l.created_at desc, l.id desc limit $${params.push(limit)}`,
    params,
  );
  return rows.map((row) => ({ ...row, awaiting: awaitingOf(row) }));
}

/** Days of this type a student has approved or pending in a term, leaving out one request (the one being decided). */
export async function daysTaken(q: Queryable, studentIds: readonly string[], typeId: string, termId: string, exceptLeaveId: string | null): Promise<Map<string, number>> {
  const { rows } = await q.query<{ studentId: string; days: number }>(
    `select ls.student_id as "studentId", coalesce(sum(l.days), 0)::int as days
       from leave_request_students ls join leave_requests l on l.id = ls.leave_id
      where ls.student_id = any($1::uuid[]) and l.type_id = $2 and l.term_id = $3 and l.state in ('pending', 'approved')
        and ($4::uuid is null or l.id <> $4)
      group by ls.student_id`,
    [studentIds, typeId, termId, exceptLeaveId],
  );
  return new Map(rows.map((row) => [row.studentId, row.days]));
}

/** Students of these who already have pending or approved leave on one of these dates. */
export async function overlappingLeave(q: Queryable, studentIds: readonly string[], fromDate: string, toDate: string): Promise<{ studentId: string; leaveId: string }[]> {
  const { rows } = await q.query<{ studentId: string; leaveId: string }>(
    `select ls.student_id as "studentId", l.id as "leaveId"
       from leave_request_students ls join leave_requests l on l.id = ls.leave_id
      where ls.student_id = any($1::uuid[]) and l.state in ('pending', 'approved') and l.from_date <= $3::date and l.to_date >= $2::date
      order by l.created_at`,
    [studentIds, fromDate, toDate],
  );
  return rows;
}

export interface LeaveBalance {
  typeId: string;
  name: string;
  termCapDays: number;
  approvedDays: number;
  pendingDays: number;
  remainingDays: number;
}

export async function leaveBalances(q: Queryable, studentId: string, termId: string): Promise<LeaveBalance[]> {
  const { rows } = await q.query<Omit<LeaveBalance, 'remainingDays'>>(
    `select lt.id as "typeId", lt.name, lt.term_cap_days as "termCapDays",
            coalesce(sum(l.days) filter (where l.state = 'approved'), 0)::int as "approvedDays",
            coalesce(sum(l.days) filter (where l.state = 'pending'), 0)::int as "pendingDays"
       from leave_types lt
       left join (leave_requests l join leave_request_students ls on ls.leave_id = l.id and ls.student_id = $1)
              on l.type_id = lt.id and l.term_id = $2
      group by lt.id, lt.name, lt.term_cap_days
      order by lt.id`,
    [studentId, termId],
  );
  return rows.map((row) => ({ ...row, remainingDays: Math.max(0, row.termCapDays - row.approvedDays - row.pendingDays) }));
}

export interface LeaveReportRow {
  typeId: string;
  state: LeaveState;
  requests: number;
  students: number;
  studentDays: number;
}

/** Leave of a term by type and state, within the caller's scope. */
export async function leaveReport(q: Queryable, scope: Scope, termId: string): Promise<LeaveReportRow[]> {
  const params: unknown[] = [termId];
  const condition = leaveScopeCondition(scope, params);
  const { rows } = await q.query<LeaveReportRow>(
    `select l.type_id as "typeId", l.state, count(distinct l.id)::int as requests, count(distinct ls.student_id)::int as students,
            coalesce(sum(l.days), 0)::int as "studentDays"
       from leave_requests l join leave_request_students ls on ls.leave_id = l.id
      where l.term_id = $1 and ${condition}
      group by l.type_id, l.state
      order by l.type_id, l.state`,
    params,
  );
  return rows;
}

/** The term a local date falls in. */
export async function termOf(q: Queryable, date: string): Promise<{ id: string; startsOn: string; endsOn: string } | null> {
  const { rows } = await q.query<{ id: string; startsOn: string; endsOn: string }>(
    `select id, starts_on::text as "startsOn", ends_on::text as "endsOn" from terms where $1::date between starts_on and ends_on order by starts_on desc limit 1`,
    [date],
  );
  return rows[0] ?? null;
}

/** Who acts at a step of a leave's approval chain: its students' teachers, or the active HODs of their department. */
export async function approversAt(q: Queryable, owners: LeaveOwners, step: ApprovalStep): Promise<string[]> {
  if (step === 'teacher') return owners.facultyUserIds;
  return owners.departmentId ? activeHodIds(q, owners.departmentId) : [];
}
