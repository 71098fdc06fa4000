import type { FastifyInstance, FastifyRequest } from 'fastify';
import { uuidv7 } from '../../protocol/index.js';
import { appendAudit, auditContextOf } from '../audit/append.js';
import { decide, scopeOf } from '../auth/rules.js';
import type { CorrectionSettings, LeaveSettings } from '../config.js';
import { EvidenceDownload, EvidenceUploadBody, sendEvidence, StoredEvidence, storeEvidence, uploadBodyLimit, type EvidenceUpload } from '../corrections/evidence.js';
import type { Db, Queryable } from '../db/db.js';
import { ErrorResponse, HttpError } from '../errors.js';
import { outranks, type AttendanceStatus, type RankedEvent } from '../ledger/precedence.js';
import type { Notifications } from '../notifications/service.js';
import { decodeCursor, pageOf } from '../pagination.js';
import { findStudentOwner, studentOfUser } from '../records/queries.js';
import { addDays, daysBetween } from '../sessions/localTime.js';
import { heldSessions, percentageOf, type HeldSession } from './heldToDate.js';
import { coveredSessions, LEAVE_EFFECTS, reprojectLeave } from './projection.js';
import {
  APPROVAL_STEPS,
  approversAt,
  daysTaken,
  findLeave,
  findLeaveType,
  LEAVE_STATES,
  leaveBalances,
  leaveOwners,
  leaveReport,
  listLeaves,
  listLeaveTypes,
  overlappingLeave,
  saveLeaveType,
  termOf,
  type ApprovalStep,
  type LeaveOwners,
  type LeaveState,
  type LeaveType,
  type LeaveView,
} from './queries.js';

const UUID = { type: 'string', format: 'uuid' } as const;
const DATE = { type: 'string', format: 'date' } as const;
const TIME_OF_DAY = { type: 'string', pattern: '^([01][0-9]|2[0-3]):[0-5][0-9]$' } as const;
const INSTANT = { type: 'string', format: 'date-time' } as const;
const MAX_PAGE = 200;
const LeaveParams = { type: 'object', required: ['id'], properties: { id: UUID } } as const;
const REASON = { type: 'string', minLength: 1, maxLength: 500 } as const;

const LeaveTypeFields = {
    name: { type: 'string', minLength: 1, maxLength: 100 },
    effect: { type: 'string', enum: LEAVE_EFFECTS, description: 'counts_present (on_duty), excluded (excused: out of the denominator), absent_excused (absent, but excused)' },
    documentsRequired: { type: 'boolean' },
    maxDays: { type: 'integer', minimum: 1, maximum: 366, description: 'longest single leave, calendar days' },
    termCapDays: { type: 'integer', minimum: 1, maximum: 366, description: 'days per student per term, approved and pending' },
    approvalChain: { type: 'array', minItems: 1, maxItems: 4, items: { type: 'string', enum: APPROVAL_STEPS }, description: 'who approves, in order' },
    facultyMayApply: { type: 'boolean', description: 'faculty may apply it for a group of students they teach' },
    active: { type: 'boolean', default: true },
} as const;
const LEAVE_TYPE_REQUIRED = ['name', 'effect', 'documentsRequired', 'maxDays', 'termCapDays', 'approvalChain', 'facultyMayApply'];
const LeaveTypeSchema = { type: 'object', required: ['id', ...LEAVE_TYPE_REQUIRED], properties: { id: { type: 'string' }, ...LeaveTypeFields } } as const;

const PercentageView = {
  type: 'object',
  required: ['attended', 'held', 'percent'],
  properties: { attended: { type: 'integer' }, held: { type: 'integer' }, percent: { type: ['number', 'null'] } },
} as const;

const LeaveViewSchema = {
  $id: 'LeaveView',
  type: 'object',
  required: ['id', 'typeId', 'termId', 'applicantUserId', 'studentIds', 'fromDate', 'toDate', 'days', 'state', 'approvalChain', 'approvals', 'awaiting'],
  properties: {
    id: { type: 'string' },
    typeId: { type: 'string' },
    termId: { type: 'string' },
    applicantUserId: { type: 'string' },
    studentIds: { type: 'array', items: { type: 'string' } },
    fromDate: { type: 'string' },
    toDate: { type: 'string' },
    fromTime: { type: ['string', 'null'] },
    toTime: { type: ['string', 'null'] },
    courseIds: { type: ['array', 'null'], items: { type: 'string' } },
    days: { type: 'integer' },
    reason: { type: 'string' },
    state: { type: 'string', enum: LEAVE_STATES },
    approvalChain: { type: 'array', items: { type: 'string' } },
    approvals: { type: 'integer', description: 'steps of the chain that approved' },
    awaiting: { type: ['string', 'null'], description: 'the step whose decision is awaited (pending only)' },
    createdAt: INSTANT,
    updatedAt: INSTANT,
    decisions: {
      type: 'array',
      items: {
        type: 'object',
        properties: { step: { type: ['string', 'null'] }, decision: { type: 'string' }, actor: { type: 'string' }, reason: { type: ['string', 'null'] }, at: INSTANT },
      },
    },
    documents: { type: 'array', items: StoredEvidence },
  },
} as const;

export interface LeaveRoutesOptions {
  db: Db;
  now: () => number;
  settings: LeaveSettings;
  evidence: Pick<CorrectionSettings, 'evidenceMaxBytes' | 'evidenceTypes'>;
  /** Tells the approvers of the step a leave now awaits, in the transaction that put it there. */
  notifications: Pick<Notifications, 'pendingApproval'>;
}

interface ApplyBody {
  typeId: string;
  studentIds?: string[];
  fromDate: string;
  toDate: string;
  fromTime?: string;
  toTime?: string;
  courseIds?: string[];
  reason: string;
}

export async function leaveRoutes(app: FastifyInstance, { db, now, settings, evidence, notifications }: LeaveRoutesOptions): Promise<void> {
  app.addSchema(LeaveViewSchema);

  async function notifyAwaiting(tx: Queryable, leaveId: string, step: ApprovalStep, at: Date): Promise<void> {
    const owners = (await leaveOwners(tx, leaveId))!;
    const leave = (await findLeave(tx, leaveId))!;
    const summary = `Leave for ${leave.studentIds.length === 1 ? 'a student' : `${leave.studentIds.length} students`}, ${leave.fromDate} to ${leave.toDate}, awaits the ${step} step`;
    // Whoever approved an earlier step may not take the next one.
    const approvedEarlier = new Set(leave.decisions.filter((entry) => entry.decision === 'approve').map((entry) => entry.actor));
    const approverUserIds = (await approversAt(tx, owners, step)).filter((userId) => !approvedEarlier.has(userId));
    await notifications.pendingApproval(tx, { kind: 'leave', id: leaveId, approverUserIds, summary }, at);
  }

  /** The leave, after the caller passed its route's object rule on it (404 for a leave they may not see). */
  async function authorizedLeave(q: Queryable, request: FastifyRequest, id: string, lock = false): Promise<{ leave: LeaveView; owners: LeaveOwners }> {
    const owners = await leaveOwners(q, id);
    request.authorize(owners ? { ownerUserId: owners.applicantUserId, ...owners } : {});
    const leave = owners && (await findLeave(q, id, lock));
    if (!owners || !leave) throw new HttpError(404, 'not_found', 'no such object');
    return { leave, owners };
  }

  app.get(
    '/api/v1/leave/types',
    {
      config: { policy: 'leave.types.read' },
      schema: { summary: 'The leave types: effect on the register, documents, limits, approval chain', response: { 200: { type: 'object', required: ['items'], properties: { items: { type: 'array', items: LeaveTypeSchema } } } } },
    },
    async () => ({ items: await listLeaveTypes(db) }),
  );

  app.put<{ Params: { id: string }; Body: Omit<LeaveType, 'id'> }>(
    '/api/v1/leave/types/:id',
    {
      config: { policy: 'leave.types.manage' },
      schema: {
        summary: 'Create or change a leave type; requests already made keep the approval chain they were made with',
        params: { type: 'object', required: ['id'], properties: { id: { type: 'string', pattern: '^[a-z][a-z0-9_]{1,39}$' } } },
        body: { type: 'object', additionalProperties: false, required: LEAVE_TYPE_REQUIRED, properties: LeaveTypeFields },
        response: { 200: LeaveTypeSchema, 400: ErrorResponse },
      },
    },
    async (request) => {
      const type: LeaveType = { ...request.body, id: request.params.id, active: request.body.active ?? true };
      if (new Set(type.approvalChain).size !== type.approvalChain.length) throw new HttpError(400, 'duplicate_step', 'a step appears twice in the chain', { path: '/approvalChain' });
      if (type.maxDays > type.termCapDays) throw new HttpError(400, 'max_over_cap', 'maxDays cannot exceed termCapDays', { path: '/maxDays' });
      return db.transaction(async (tx) => {
        const before = await findLeaveType(tx, type.id);
        await saveLeaveType(tx, type, new Date(now()));
        await appendAudit(tx, { ...auditContextOf(request), action: 'leave.type.save', target: `leave-type:${type.id}`, before, after: type });
        return type;
      });
    },
  );

  app.post<{ Body: ApplyBody }>(
    '/api/v1/leave',
    {
      config: { policy: 'leave.apply' },
      schema: {
        summary: 'Apply for leave: a student for themselves; faculty (types that allow it), an HOD or an admin for a group of students',
        body: {
          type: 'object',
          additionalProperties: false,
          required: ['typeId', 'fromDate', 'toDate', 'reason'],
          properties: {
            typeId: { type: 'string', minLength: 1, maxLength: 40 },
            studentIds: { type: 'array', minItems: 1, maxItems: 500, items: UUID, description: 'whom it is for; a student leaves it out' },
            fromDate: DATE,
            toDate: DATE,
            fromTime: { ...TIME_OF_DAY, description: 'part of each day: sessions overlapping fromTime–toTime (local)' },
            toTime: TIME_OF_DAY,
            courseIds: { type: 'array', minItems: 1, maxItems: 50, items: { type: 'string', minLength: 1, maxLength: 40 }, description: 'only sessions of these courses' },
            reason: REASON,
          },
        },
        response: { 201: { $ref: 'LeaveView#' }, 400: ErrorResponse, 403: ErrorResponse, 409: ErrorResponse },
      },
    },
    async (request, reply) => {
      const body = request.body;
      const principal = request.principal!;
      const type = await findLeaveType(db, body.typeId);
      if (!type || !type.active) throw new HttpError(400, 'unknown_leave_type', `no active leave type ${body.typeId}`, { path: '/typeId' });
      const studentIds = await applicants(request, type, body.studentIds);
      if (body.toDate < body.fromDate) throw new HttpError(400, 'invalid_dates', 'toDate must not be before fromDate', { path: '/toDate' });
      if ((body.fromTime === undefined) !== (body.toTime === undefined) || (body.fromTime && body.toTime! <= body.fromTime)) {
        throw new HttpError(400, 'invalid_times', 'fromTime and toTime come together, toTime after fromTime', { path: '/toTime' });
      }
      const term = await termOf(db, body.fromDate);
      if (!term) throw new HttpError(400, 'no_term', 'fromDate is in no term', { path: '/fromDate' });
      if (body.toDate > term.endsOn) throw new HttpError(400, 'spans_terms', `a leave ends within its term (${term.endsOn})`, { path: '/toDate' });
      const days = daysBetween(body.fromDate, body.toDate);
      if (days > type.maxDays) throw new HttpError(400, 'too_many_days', `${type.name} is at most ${type.maxDays} days at a time`, { path: '/toDate', days, maxDays: type.maxDays });
      for (const [index, courseId] of (body.courseIds ?? []).entries()) {
        if ((await db.query('select 1 from courses where id = $1', [courseId])).rows.length === 0) throw new HttpError(400, 'unknown_course', `no course ${courseId}`, { path: `/courseIds/${index}` });
      }
      const today = new Date(now()).toISOString().slice(0, 10);
      if (body.fromDate < addDays(today, -settings.backdateDays)) {
        throw new HttpError(409, 'deadline_passed', `leave may be applied for at most ${settings.backdateDays} days after it began`, { path: '/fromDate' });
      }
      const id = uuidv7(now());
      const at = new Date(now());
      await db.transaction(async (tx) => {
        // Serializes applications of the same students, so that two at once cannot both pass the overlap and cap checks.
        for (const studentId of [...studentIds].sort()) await tx.query('select 1 from students where id = $1 for update', [studentId]);
        const overlap = await overlappingLeave(tx, studentIds, body.fromDate, body.toDate);
        if (overlap.length > 0) throw new HttpError(409, 'overlapping_leave', 'a student already has pending or approved leave on these dates', overlap[0]);
        const taken = await daysTaken(tx, studentIds, type.id, term.id, null);
        for (const studentId of studentIds) {
          const takenDays = taken.get(studentId) ?? 0;
          if (takenDays + days > type.termCapDays) {
            throw new HttpError(409, 'cap_exceeded', `${type.name} allows ${type.termCapDays} days a term; ${takenDays} are taken or pending`, { studentId, takenDays, capDays: type.termCapDays });
          }
        }
        await tx.query(
          `insert into leave_requests (id, type_id, term_id, applicant_user_id, from_date, to_date, from_time, to_time, course_ids, days, reason, state, approval_chain, created_at, updated_at)
           values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, 'pending', $12, $13, $13)`,
          [id, type.id, term.id, principal.id, body.fromDate, body.toDate, body.fromTime ?? null, body.toTime ?? null, body.courseIds ?? null, days, body.reason, type.approvalChain, at],
        );
        await tx.query('insert into leave_request_students (leave_id, student_id) select $1, unnest($2::uuid[])', [id, studentIds]);
        await appendAudit(tx, {
          ...auditContextOf(request),
          action: 'leave.apply',
          target: `leave:${id}`,
          after: { typeId: type.id, students: studentIds.length, fromDate: body.fromDate, toDate: body.toDate, days, chain: type.approvalChain },
          reason: body.reason,
        });
        await notifyAwaiting(tx, id, type.approvalChain[0]!, at);
      });
      return reply.code(201).send(await findLeave(db, id));
    },
  );

  /** Whom an application is for: the student themselves, or the listed students the caller may act for. */
  async function applicants(request: FastifyRequest, type: LeaveType, listed: string[] | undefined): Promise<string[]> {
    const principal = request.principal!;
    if (principal.role === 'student') {
      const own = await studentOfUser(db, principal.id);
      if (!own) throw new HttpError(403, 'not_a_student', 'your account is not linked to a student');
      if (listed && (listed.length !== 1 || listed[0] !== own)) throw new HttpError(400, 'student_not_allowed', 'a student applies for themselves only', { path: '/studentIds' });
      return [own];
    }
    if (!listed) throw new HttpError(400, 'students_required', 'name the students the leave is for', { path: '/studentIds' });
    if (principal.role === 'faculty' && !type.facultyMayApply) throw new HttpError(400, 'type_not_for_faculty', `faculty cannot apply ${type.name} for students`, { path: '/typeId' });
    if (new Set(listed).size !== listed.length) throw new HttpError(400, 'duplicate_student', 'a student is listed twice', { path: '/studentIds' });
    for (const [index, studentId] of listed.entries()) {
      const owner = await findStudentOwner(db, studentId);
      if (!owner || decide(principal, 'leave.balances', { ownerUserId: owner.userId, departmentId: owner.departmentId, facultyUserIds: owner.facultyUserIds }) !== 'allow') {
        throw new HttpError(400, 'student_not_allowed', 'no such student among those you teach or manage', { path: `/studentIds/${index}` });
      }
    }
    return listed;
  }

  app.get<{ Querystring: { state?: LeaveState; studentId?: string; termId?: string; limit: number; cursor?: string } }>(
    '/api/v1/leave',
    {
      config: { policy: 'leave.list' },
      schema: {
        summary: 'Leave requests the caller may see, newest first, in pages',
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            state: { type: 'string', enum: LEAVE_STATES },
            studentId: UUID,
            termId: { type: 'string', maxLength: 40 },
            limit: { type: 'integer', minimum: 1, maximum: MAX_PAGE, default: 50 },
            cursor: { type: 'string', maxLength: 200 },
          },
        },
        response: {
          200: {
            type: 'object',
            required: ['items', 'nextCursor'],
            properties: { items: { type: 'array', items: { $ref: 'LeaveView#' } }, nextCursor: { type: ['string', 'null'] } },
          },
          400: ErrorResponse,
        },
      },
    },
    async (request) => {
      const { limit, cursor, ...filter } = request.query;
      const after = cursor ? decodeCursor(cursor) : undefined;
      const rows = await listLeaves(db, scopeOf(request.principal!), { ...filter, ...(after ? { after: { at: new Date(after.at), id: after.id } } : {}) }, limit + 1);
      return pageOf(rows, limit, (last) => [last.createdAt, last.id]);
    },
  );

  app.get<{ Params: { id: string } }>(
    '/api/v1/leave/:id',
    {
      config: { policy: 'leave.read' },
      schema: { summary: 'One leave request with its decisions and documents', params: LeaveParams, response: { 200: { $ref: 'LeaveView#' }, 404: ErrorResponse } },
    },
    async (request) => (await authorizedLeave(db, request, request.params.id)).leave,
  );

  app.get<{ Params: { id: string } }>(
    '/api/v1/leave/:id/impact',
    {
      config: { policy: 'leave.read' },
      schema: {
        summary: 'What approving the leave does to each affected section\'s held-to-date percentage, e.g. "CS301 moves from 73.1% to 76.4%"',
        params: LeaveParams,
        response: {
          200: {
            type: 'object',
            required: ['leaveId', 'items', 'upcomingSessions'],
            properties: {
              leaveId: { type: 'string' },
              items: {
                type: 'array',
                items: {
                  type: 'object',
                  required: ['studentId', 'sectionId', 'sectionCode', 'courseId', 'before', 'after', 'summary'],
                  properties: {
                    studentId: { type: 'string' },
                    sectionId: { type: 'string' },
                    sectionCode: { type: 'string' },
                    courseId: { type: 'string' },
                    before: PercentageView,
                    after: PercentageView,
                    summary: { type: 'string' },
                  },
                },
              },
              upcomingSessions: { type: 'integer', description: 'covered sessions that have not started yet' },
            },
          },
          404: ErrorResponse,
        },
      },
    },
    async (request) => {
      const { leave } = await authorizedLeave(db, request, request.params.id);
      const at = now();
      const covered = await coveredSessions(db, { leaveIds: [leave.id] }, { includePending: true });
      const held = await heldSessions(db, leave.studentIds, at);
      const coveredStatus = new Map(covered.map((projection) => [`${projection.sessionId}/${projection.studentId}`, projection.status]));
      const heldKeys = new Set(held.map((row) => `${row.sessionId}/${row.studentId}`));
      const bySection = new Map<string, HeldSession[]>();
      for (const row of held) bySection.set(`${row.studentId}/${row.sectionId}`, [...(bySection.get(`${row.studentId}/${row.sectionId}`) ?? []), row]);
      const items = [...bySection.values()]
        .filter((rows) => rows.some((row) => coveredStatus.has(`${row.sessionId}/${row.studentId}`)))
        .map((rows) => {
          const first = rows[0]!;
          const before = percentageOf(rows.map((row) => row.status));
          const after = percentageOf(rows.map((row) => withLeave(row, coveredStatus.get(`${row.sessionId}/${row.studentId}`), at)));
          const show = (value: number | null) => (value === null ? 'nothing held' : `${value.toFixed(1)}%`);
          const summary = before.percent === after.percent ? `${first.courseId} stays at ${show(after.percent)}` : `${first.courseId} moves from ${show(before.percent)} to ${show(after.percent)}`;
          return { studentId: first.studentId, sectionId: first.sectionId, sectionCode: first.sectionCode, courseId: first.courseId, before, after, summary };
        });
      const upcomingSessions = covered.filter((projection) => !heldKeys.has(`${projection.sessionId}/${projection.studentId}`)).length;
      return { leaveId: leave.id, items, upcomingSessions };
    },
  );

  /** A session's status once this leave applies, by the ledger's one precedence rule. */
  function withLeave(row: HeldSession, leaveStatus: AttendanceStatus | undefined, at: number) {
    if (!leaveStatus) return row.status;
    const incumbent: RankedEvent | null = row.eventId && row.status && row.source ? { id: row.eventId, status: row.status, source: row.source, recordedAt: 0, tappedAt: 0 } : null;
    return outranks({ id: 'impact-preview', status: leaveStatus, source: 'leave', recordedAt: at, tappedAt: null }, incumbent) ? leaveStatus : row.status;
  }

  async function decideLeave(request: FastifyRequest<{ Params: { id: string }; Body: { reason?: string } }>, decision: 'approve' | 'reject'): Promise<LeaveView> {
    const principal = request.principal!;
    return db.transaction(async (tx) => {
      const { leave, owners } = await authorizedLeave(tx, request, request.params.id, true);
      if (leave.state !== 'pending') throw new HttpError(409, 'already_decided', `the leave is already ${leave.state}`, { state: leave.state });
      if (principal.id === leave.applicantUserId) throw new HttpError(409, 'own_request', 'nobody decides their own leave request');
      const step = leave.awaiting!;
      if (leave.decisions.some((entry) => entry.decision === 'approve' && entry.actor === principal.id)) {
        throw new HttpError(409, 'already_approved', 'you already approved an earlier step; the next step needs someone else', { awaiting: step });
      }
      const mayAct =
        principal.role === 'admin' ||
        (principal.role === 'hod' && principal.departmentId !== null && principal.departmentId === owners.departmentId) ||
        (step === 'teacher' && principal.role === 'faculty' && owners.facultyUserIds.includes(principal.id));
      if (!mayAct) throw new HttpError(409, 'not_your_step', `the leave awaits its ${step} step`, { awaiting: step });
      const type = (await findLeaveType(tx, leave.typeId))!;
      const final = decision === 'reject' || leave.approvals + 1 === leave.approvalChain.length;
      if (decision === 'approve' && final && type.documentsRequired && leave.documents.length === 0) {
        throw new HttpError(409, 'documents_missing', `${type.name} needs a document before it is approved`);
      }
      const at = now();
      const state: LeaveState = decision === 'reject' ? 'rejected' : final ? 'approved' : 'pending';
      await tx.query('update leave_requests set state = $2, approvals = approvals + $3, updated_at = $4 where id = $1', [leave.id, state, decision === 'approve' ? 1 : 0, new Date(at)]);
      await tx.query('insert into leave_decisions (id, leave_id, step, decision, actor, reason, at) values ($1, $2, $3, $4, $5, $6, $7)', [
        uuidv7(at),
        leave.id,
        step,
        decision,
        principal.id,
        request.body.reason ?? null,
        new Date(at),
      ]);
      const projection = state === 'approved' ? await reprojectLeave(tx, { leaveIds: [leave.id] }, at) : null;
      if (state === 'pending') await notifyAwaiting(tx, leave.id, leave.approvalChain[leave.approvals + 1]!, new Date(at));
      await appendAudit(tx, {
        ...auditContextOf(request),
        action: `leave.${decision}`,
        target: `leave:${leave.id}`,
        before: { state: leave.state, approvals: leave.approvals },
        after: { state, step, approvals: leave.approvals + (decision === 'approve' ? 1 : 0), projected: projection?.projected ?? 0 },
        reason: request.body.reason ?? null,
      });
      return (await findLeave(tx, leave.id))!;
    });
  }

  const decisionSchema = (summary: string, reasonRequired: boolean) => ({
    summary,
    params: LeaveParams,
    body: { type: 'object', additionalProperties: false, required: reasonRequired ? ['reason'] : [], properties: { reason: REASON } },
    response: { 200: { $ref: 'LeaveView#' }, 404: ErrorResponse, 409: ErrorResponse },
  });

  app.post<{ Params: { id: string }; Body: { reason?: string } }>(
    '/api/v1/leave/:id/approve',
    {
      config: { policy: 'leave.decide' },
      schema: decisionSchema('Approve the awaited step of the chain; the last approval projects the leave onto every session it covers', false),
    },
    async (request) => decideLeave(request, 'approve'),
  );

  app.post<{ Params: { id: string }; Body: { reason?: string } }>(
    '/api/v1/leave/:id/reject',
    { config: { policy: 'leave.decide' }, schema: decisionSchema('Reject a pending leave request, with the reason', true) },
    async (request) => decideLeave(request, 'reject'),
  );

  app.post<{ Params: { id: string }; Body: { reason?: string } }>(
    '/api/v1/leave/:id/withdraw',
    { config: { policy: 'leave.withdraw' }, schema: decisionSchema('The applicant withdraws a pending request (an approved one is revoked instead)', false) },
    async (request) =>
      db.transaction(async (tx) => {
        const { leave } = await authorizedLeave(tx, request, request.params.id, true);
        if (leave.state !== 'pending') {
          throw new HttpError(409, leave.state === 'approved' ? 'already_approved' : 'already_decided', `the leave is ${leave.state}; only a pending request is withdrawn`, { state: leave.state });
        }
        return closeLeave(tx, request, leave, 'withdraw', 'withdrawn');
      }),
  );

  app.post<{ Params: { id: string }; Body: { reason?: string } }>(
    '/api/v1/leave/:id/revoke',
    {
      config: { policy: 'leave.revoke' },
      schema: decisionSchema('Revoke an approved leave: every session it covered gets a compensating ledger event and is decided as if it had never applied', true),
    },
    async (request) =>
      db.transaction(async (tx) => {
        const { leave } = await authorizedLeave(tx, request, request.params.id, true);
        if (leave.state !== 'approved') throw new HttpError(409, 'not_approved', `the leave is ${leave.state}; only approved leave is revoked`, { state: leave.state });
        return closeLeave(tx, request, leave, 'revoke', 'revoked');
      }),
  );

  async function closeLeave(tx: Queryable, request: FastifyRequest<{ Body: { reason?: string } }>, leave: LeaveView, decision: 'withdraw' | 'revoke', state: LeaveState): Promise<LeaveView> {
    const at = now();
    await tx.query('update leave_requests set state = $2, updated_at = $3 where id = $1', [leave.id, state, new Date(at)]);
    await tx.query('insert into leave_decisions (id, leave_id, step, decision, actor, reason, at) values ($1, $2, null, $3, $4, $5, $6)', [
      uuidv7(at),
      leave.id,
      decision,
      request.principal!.id,
      request.body.reason ?? null,
      new Date(at),
    ]);
    const projection = await reprojectLeave(tx, { leaveIds: [leave.id] }, at);
    await appendAudit(tx, {
      ...auditContextOf(request),
      action: `leave.${decision}`,
      target: `leave:${leave.id}`,
      before: { state: leave.state },
      after: { state, revokedEvents: projection.revoked },
      reason: request.body.reason ?? null,
    });
    return (await findLeave(tx, leave.id))!;
  }

  app.post<{ Params: { id: string }; Body: EvidenceUpload }>(
    '/api/v1/leave/:id/documents',
    {
      config: { policy: 'leave.withdraw' },
      bodyLimit: uploadBodyLimit(evidence),
      schema: {
        summary: 'The applicant adds a document (PDF, PNG or JPEG, base64) to a pending request',
        params: LeaveParams,
        body: EvidenceUploadBody,
        response: { 201: StoredEvidence, 400: ErrorResponse, 404: ErrorResponse, 409: ErrorResponse },
      },
    },
    async (request, reply) => {
      const stored = await db.transaction(async (tx) => {
        const { leave } = await authorizedLeave(tx, request, request.params.id, true);
        if (leave.state !== 'pending') throw new HttpError(409, 'already_decided', `the leave is ${leave.state}; documents go with pending requests`, { state: leave.state });
        const at = now();
        const file = await storeEvidence(tx, evidence, request.body, at);
        await tx.query('insert into leave_documents (leave_id, sha256, filename, uploaded_by, created_at) values ($1, $2, $3, $4, $5) on conflict do nothing', [
          leave.id,
          file.sha256,
          file.filename,
          request.principal!.id,
          new Date(at),
        ]);
        await appendAudit(tx, { ...auditContextOf(request), action: 'leave.document.add', target: `leave:${leave.id}`, after: { sha256: file.sha256, sizeBytes: file.sizeBytes, contentType: file.contentType } });
        return file;
      });
      return reply.code(201).send(stored);
    },
  );

  app.get<{ Params: { id: string; digest: string } }>(
    '/api/v1/leave/:id/documents/:digest',
    {
      config: { policy: 'leave.read' },
      schema: {
        summary: 'Download a document of a leave request (always as an attachment)',
        params: { type: 'object', required: ['id', 'digest'], properties: { id: UUID, digest: { type: 'string', pattern: '^[0-9a-f]{64}$', description: 'the SHA-256 of the file, hex' } } },
        response: { 200: EvidenceDownload, 404: ErrorResponse },
      },
    },
    async (request, reply) => {
      const { leave } = await authorizedLeave(db, request, request.params.id);
      const document = leave.documents.find((entry) => entry.sha256 === request.params.digest);
      if (!document) throw new HttpError(404, 'not_found', 'no such object');
      return sendEvidence(db, reply, document.sha256, document.filename);
    },
  );

  app.get<{ Params: { id: string }; Querystring: { termId?: string } }>(
    '/api/v1/students/:id/leave-balances',
    {
      config: { policy: 'leave.balances' },
      schema: {
        summary: 'A student\'s leave by type in a term: the cap, days approved and pending, and what remains',
        params: LeaveParams,
        querystring: { type: 'object', additionalProperties: false, properties: { termId: { type: 'string', maxLength: 40, description: 'default: the term of today' } } },
        response: {
          200: {
            type: 'object',
            required: ['studentId', 'termId', 'items'],
            properties: {
              studentId: { type: 'string' },
              termId: { type: 'string' },
              items: {
                type: 'array',
                items: {
                  type: 'object',
                  properties: {
                    typeId: { type: 'string' },
                    name: { type: 'string' },
                    termCapDays: { type: 'integer' },
                    approvedDays: { type: 'integer' },
                    pendingDays: { type: 'integer' },
                    remainingDays: { type: 'integer' },
                  },
                },
              },
            },
          },
          400: ErrorResponse,
          404: ErrorResponse,
        },
      },
    },
    async (request) => {
      const owner = await findStudentOwner(db, request.params.id);
      request.authorize(owner ? { ownerUserId: owner.userId, departmentId: owner.departmentId, facultyUserIds: owner.facultyUserIds } : {});
      if (!owner) throw new HttpError(404, 'not_found', 'no such object');
      const termId = request.query.termId ?? (await termOf(db, new Date(now()).toISOString().slice(0, 10)))?.id;
      if (!termId) throw new HttpError(400, 'no_term', 'today is in no term: name one', { path: '/termId' });
      return { studentId: owner.id, termId, items: await leaveBalances(db, owner.id, termId) };
    },
  );

  app.get<{ Querystring: { termId: string } }>(
    '/api/v1/leave/report',
    {
      config: { policy: 'leave.report' },
      schema: {
        summary: 'Leave of a term by type and state: requests, students and student-days (HOD: their department)',
        querystring: { type: 'object', additionalProperties: false, required: ['termId'], properties: { termId: { type: 'string', minLength: 1, maxLength: 40 } } },
        response: {
          200: {
            type: 'object',
            required: ['termId', 'items'],
            properties: {
              termId: { type: 'string' },
              items: {
                type: 'array',
                items: {
                  type: 'object',
                  properties: { typeId: { type: 'string' }, state: { type: 'string' }, requests: { type: 'integer' }, students: { type: 'integer' }, studentDays: { type: 'integer' } },
                },
              },
            },
          },
          400: ErrorResponse,
        },
      },
    },
    async (request) => ({ termId: request.query.termId, items: await leaveReport(db, scopeOf(request.principal!), request.query.termId) }),
  );
}
