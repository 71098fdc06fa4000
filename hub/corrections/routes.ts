import type { FastifyInstance, FastifyRequest } from 'fastify';
import { uuidv7 } from '../../protocol/index.js';
import { appendAudit, auditContextOf } from '../audit/append.js';
import { scopeOf, type Principal } from '../auth/rules.js';
import { activeHodIds } from '../auth/users.js';
import type { CorrectionSettings } from '../config.js';
import type { Db, Queryable, Transaction } from '../db/db.js';
import { ErrorResponse, HttpError } from '../errors.js';
import { recordMarks } from '../ledger/ledger.js';
import { ATTENDANCE_STATUSES, type AttendanceStatus } from '../ledger/precedence.js';
import type { Notifications } from '../notifications/service.js';
import { decodeCursor, pageOf } from '../pagination.js';
import { findSession, isOnRoll, studentOfUser, type SessionForMarking } from '../records/queries.js';
import type { Scheduler } from '../scheduler/scheduler.js';
import { EvidenceDownload, EvidenceUploadBody, sendEvidence, StoredEvidence, storeEvidence, uploadBodyLimit, type EvidenceUpload } from './evidence.js';
import {
  correctionOwners,
  CORRECTION_KINDS,
  CORRECTION_STATES,
  currentStatusOf,
  findCorrection,
  listCorrections,
  pendingCorrectionOf,
  sessionsInRoom,
  unmarkedByPeople,
  type Approver,
  type CorrectionKind,
  type CorrectionOwners,
  type CorrectionState,
  type CorrectionView,
} from './queries.js';

const UUID = { type: 'string', format: 'uuid' } as const;
const INSTANT = { type: 'string', format: 'date-time' } as const;
const NULLABLE_INSTANT = { type: ['string', 'null'], format: 'date-time' } as const;
const STATUS = { type: 'string', enum: ATTENDANCE_STATUSES } as const;
const REASON = { type: 'string', minLength: 1, maxLength: 500 } as const;
const REASON_CODE = { type: 'string', minLength: 1, maxLength: 40 } as const;
const HOUR = 3_600_000;
const MAX_PAGE = 200;
const CorrectionParams = { type: 'object', required: ['id'], properties: { id: UUID } } as const;

const CorrectionSummary = {
  id: { type: 'string' },
  kind: { type: 'string', enum: CORRECTION_KINDS },
  state: { type: 'string', enum: CORRECTION_STATES },
  requestedBy: { type: 'string' },
  departmentId: { type: 'string' },
  approver: { type: 'string', description: 'who decides while pending: teacher (of the session) or hod' },
  reasonCode: { type: ['string', 'null'] },
  reason: { type: 'string' },
  roomId: { type: ['string', 'null'] },
  incidentFrom: NULLABLE_INSTANT,
  incidentTo: NULLABLE_INSTANT,
  createdAt: INSTANT,
  dueAt: { ...INSTANT, description: 'when a pending correction is escalated to the HOD' },
  escalatedAt: NULLABLE_INSTANT,
  decidedAt: NULLABLE_INSTANT,
  decidedBy: { type: ['string', 'null'] },
  decisionReason: { type: ['string', 'null'] },
} as const;

const CorrectionViewSchema = {
  $id: 'CorrectionView',
  type: 'object',
  required: ['id', 'kind', 'state', 'approver', 'items', 'evidence'],
  properties: {
    ...CorrectionSummary,
    items: {
      type: 'array',
      items: {
        type: 'object',
        properties: { sessionId: { type: 'string' }, studentId: { type: 'string' }, status: { type: 'string' }, statusBefore: { type: ['string', 'null'] }, eventId: { type: ['string', 'null'] } },
      },
    },
    evidence: { type: 'array', items: StoredEvidence },
  },
} as const;

export interface CorrectionRoutesOptions {
  db: Db;
  now: () => number;
  settings: CorrectionSettings;
  /** Tells a pending correction's approvers, in the transaction that leaves it waiting for them. */
  notifications: Pick<Notifications, 'pendingApproval'>;
}

/** Who decides a pending correction: the teachers of its sessions, or the HODs of its department. */
async function correctionApprovers(q: Queryable, correction: { id: string; approver: string; departmentId: string }): Promise<string[]> {
  if (correction.approver === 'hod') return activeHodIds(q, correction.departmentId);
  const { rows } = await q.query<{ userId: string }>(
    `select distinct f.user_id::text as "userId"
       from correction_items i
       join session_groups g on g.session_id = i.session_id
       join section_teachers t on t.section_id = g.section_id
       join faculty f on f.id = t.faculty_id
      where i.correction_id = $1 and f.user_id is not null
      order by 1`,
    [correction.id],
  );
  return rows.map((row) => row.userId);
}

async function notifyApprovers(
  tx: Queryable,
  notifications: Pick<Notifications, 'pendingApproval'>,
  correction: { id: string; kind: string; approver: string; departmentId: string },
  at: Date,
): Promise<void> {
  const approverUserIds = await correctionApprovers(tx, correction);
  await notifications.pendingApproval(tx, { kind: 'correction', id: correction.id, approverUserIds, summary: `a ${correction.kind} correction awaits the ${correction.approver} step` }, at);
}

interface CorrectionBody {
  sessionId: string;
  studentId?: string;
  status: AttendanceStatus;
  reasonCode?: string;
  reason: string;
}

interface IncidentBody {
  roomId: string;
  from: string;
  to: string;
  status: AttendanceStatus;
  reasonCode: string;
  reason: string;
}

/**
 * Applies an approved correction: one compensating ledger event (source
 * `correction`) per item, never an UPDATE of what was recorded.
 */
async function applyCorrection(tx: Queryable, correction: Pick<CorrectionView, 'id' | 'items' | 'reasonCode'>, actor: string, now: number): Promise<number> {
  const reason = `correction ${correction.id}${correction.reasonCode ? ` (${correction.reasonCode})` : ''}`;
  const recorded = await recordMarks(
    tx,
    correction.items.map((item) => ({ sessionId: item.sessionId, studentId: item.studentId, status: item.status, source: 'correction' as const, actor, reason })),
    now,
  );
  await tx.query(
    `update correction_items i set event_id = u.event_id
       from unnest($2::uuid[], $3::uuid[], $4::uuid[]) as u(session_id, student_id, event_id)
      where i.correction_id = $1 and i.session_id = u.session_id and i.student_id = u.student_id`,
    [correction.id, recorded.map((mark) => mark.event.sessionId), recorded.map((mark) => mark.event.studentId), recorded.map((mark) => mark.event.id)],
  );
  return recorded.length;
}

/** The scheduler's service-level timer: a correction pending past its due time goes to the HOD. */
export function registerCorrectionJobs(scheduler: Scheduler, everyMs: number, notifications: Pick<Notifications, 'pendingApproval'>): void {
  scheduler.register('corrections.escalate', everyMs, async (tx: Transaction, now: Date) => {
    const { rows } = await tx.query<{ id: string; kind: string; departmentId: string }>(
      `update corrections set approver = 'hod', escalated_at = $1
        where state = 'pending' and escalated_at is null and due_at <= $1
        returning id, kind, department_id as "departmentId"`,
      [now],
    );
    for (const row of rows) {
      await notifyApprovers(tx, notifications, { ...row, approver: 'hod' }, now);
      await appendAudit(tx, {
        actor: 'system:corrections.escalate',
        source: 'system',
        action: 'corrections.escalate',
        target: `correction:${row.id}`,
        after: { approver: 'hod', departmentId: row.departmentId },
      });
    }
  });
}

export async function correctionRoutes(app: FastifyInstance, { db, now, settings, notifications }: CorrectionRoutesOptions): Promise<void> {
  app.addSchema(CorrectionViewSchema);

  function checkReasonCode(code: string | undefined | null, required: boolean): void {
    if (!code) {
      if (required) throw new HttpError(400, 'reason_code_required', `a correction after the ${settings.facultyWindowHours}-hour window names a reason code`, { path: '/reasonCode', allowed: settings.reasonCodes });
      return;
    }
    if (!settings.reasonCodes.includes(code)) throw new HttpError(400, 'unknown_reason_code', `reason codes are ${settings.reasonCodes.join(', ')}`, { path: '/reasonCode' });
  }

  /** Whether the caller corrects this session's marks themselves: its teachers, its department's HOD, an admin. */
  function correctsDirectly(principal: Principal, session: SessionForMarking): boolean {
    if (principal.role === 'admin') return true;
    if (principal.role === 'hod') return principal.departmentId !== null && principal.departmentId === session.departmentId;
    return principal.role === 'faculty' && session.facultyUserIds.includes(principal.id);
  }

  async function authorizedCorrection(q: Queryable, request: FastifyRequest, id: string, lock = false): Promise<{ correction: CorrectionView; owners: CorrectionOwners }> {
    const owners = await correctionOwners(q, id);
    request.authorize(owners ? { ownerUserId: owners.requestedBy, ...owners } : {});
    const correction = owners && (await findCorrection(q, id, lock));
    if (!owners || !correction) throw new HttpError(404, 'not_found', 'no such object');
    return { correction, owners };
  }

  async function insertCorrection(
    tx: Queryable,
    spec: { id: string; kind: CorrectionKind; state: CorrectionState; requestedBy: string; departmentId: string; approver: Approver; reasonCode: string | null; reason: string; at: number },
    items: { sessionId: string; studentId: string; status: AttendanceStatus; statusBefore: AttendanceStatus | null }[],
    incident?: { roomId: string; from: string; to: string },
  ): Promise<void> {
    const at = new Date(spec.at);
    const decided = spec.state === 'approved';
    await tx.query(
      `insert into corrections (id, kind, state, requested_by, department_id, approver, reason_code, reason, room_id, incident_from, incident_to, created_at, due_at, decided_at, decided_by)
       values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)`,
      [
        spec.id,
        spec.kind,
        spec.state,
        spec.requestedBy,
        spec.departmentId,
        spec.approver,
        spec.reasonCode,
        spec.reason,
        incident?.roomId ?? null,
        incident?.from ?? null,
        incident?.to ?? null,
        at,
        new Date(spec.at + settings.slaHours * HOUR),
        decided ? at : null,
        decided ? spec.requestedBy : null,
      ],
    );
    await tx.query(
      `insert into correction_items (correction_id, session_id, student_id, status, status_before)
       select $1, * from unnest($2::uuid[], $3::uuid[], $4::text[], $5::text[])`,
      [spec.id, items.map((item) => item.sessionId), items.map((item) => item.studentId), items.map((item) => item.status), items.map((item) => item.statusBefore)],
    );
  }

  app.post<{ Body: CorrectionBody }>(
    '/api/v1/corrections',
    {
      config: { policy: 'corrections.request' },
      schema: {
        summary:
          'Dispute one\'s own mark (student, within the dispute window) or correct a session one teaches (faculty: applied at once within the faculty window, afterwards the HOD approves, with a reason code)',
        body: {
          type: 'object',
          additionalProperties: false,
          required: ['sessionId', 'status', 'reason'],
          properties: { sessionId: UUID, studentId: { ...UUID, description: 'whose mark; a student leaves it out' }, status: STATUS, reasonCode: REASON_CODE, reason: REASON },
        },
        response: { 201: { $ref: 'CorrectionView#' }, 400: ErrorResponse, 403: ErrorResponse, 404: ErrorResponse, 409: ErrorResponse },
      },
    },
    async (request, reply) => {
      const principal = request.principal!;
      const body = request.body;
      const own = principal.role === 'student' ? await studentOfUser(db, principal.id) : null;
      if (principal.role === 'student' && !own) throw new HttpError(403, 'not_a_student', 'your account is not linked to a student');
      if (own && body.studentId && body.studentId !== own) throw new HttpError(400, 'student_not_allowed', 'a student disputes their own marks only', { path: '/studentId' });
      const studentId = own ?? body.studentId;
      if (!studentId) throw new HttpError(400, 'student_required', 'name the student whose mark is corrected', { path: '/studentId' });
      checkReasonCode(body.reasonCode, false);
      const id = uuidv7(now());
      await db.transaction(async (tx) => {
        const at = now();
        const session = await findSession(tx, body.sessionId, true);
        if (!session) throw new HttpError(404, 'not_found', 'no such object');
        const onRoll = await isOnRoll(tx, session.id, studentId);
        if (own && !onRoll) throw new HttpError(404, 'not_found', 'no such object');
        if (!own) {
          if (!correctsDirectly(principal, session)) {
            throw new HttpError(409, 'not_your_section', 'you do not teach this session\'s section: its teachers or its HOD correct it', { path: '/sessionId' });
          }
          if (!onRoll) throw new HttpError(400, 'student_not_in_session', 'the student is not enrolled in this session\'s groups on its date', { path: '/studentId' });
        }
        if (session.state === 'cancelled') throw new HttpError(409, 'session_cancelled', 'a cancelled session has no marks to correct');
        if (session.state === 'scheduled' || session.startsAt.getTime() > at) throw new HttpError(409, 'session_not_held', 'the session has not been held yet');
        const before = await currentStatusOf(tx, session.id, studentId);
        if (before === body.status) throw new HttpError(409, 'no_change', `the mark is already ${body.status}`);
        const pending = await pendingCorrectionOf(tx, session.id, studentId);
        if (pending) throw new HttpError(409, 'correction_pending', 'a correction of this mark is already pending', { correctionId: pending });
        const endedAt = session.endsAt.getTime();
        const withinFacultyWindow = at <= endedAt + settings.facultyWindowHours * HOUR;
        const department = session.departmentId!;
        const item = [{ sessionId: session.id, studentId, status: body.status, statusBefore: before }];
        const base = { id, requestedBy: principal.id, departmentId: department, reasonCode: body.reasonCode ?? null, reason: body.reason, at };
        if (own) {
          if (at > endedAt + settings.disputeWindowDays * 24 * HOUR) {
            throw new HttpError(409, 'deadline_passed', `marks are disputed within ${settings.disputeWindowDays} days of the session`, { deadline: new Date(endedAt + settings.disputeWindowDays * 24 * HOUR) });
          }
          await insertCorrection(tx, { ...base, kind: 'dispute', state: 'pending', approver: withinFacultyWindow ? 'teacher' : 'hod' }, item);
        } else if (withinFacultyWindow || principal.role !== 'faculty') {
          checkReasonCode(body.reasonCode, !withinFacultyWindow);
          await insertCorrection(tx, { ...base, kind: 'faculty', state: 'approved', approver: principal.role === 'faculty' ? 'teacher' : 'hod' }, item);
          await applyCorrection(tx, { id, items: item.map((entry) => ({ ...entry, eventId: null })), reasonCode: body.reasonCode ?? null }, principal.id, at);
        } else {
          checkReasonCode(body.reasonCode, true);
          await insertCorrection(tx, { ...base, kind: 'faculty', state: 'pending', approver: 'hod' }, item);
        }
        const created = (await findCorrection(tx, id))!;
        if (created.state === 'pending') await notifyApprovers(tx, notifications, created, new Date(at));
        await appendAudit(tx, {
          ...auditContextOf(request),
          action: 'corrections.request',
          target: `correction:${id}`,
          after: { kind: created.kind, state: created.state, approver: created.approver, sessionId: session.id, studentId, statusBefore: before, status: body.status, reasonCode: body.reasonCode ?? null },
          reason: body.reason,
        });
      });
      return reply.code(201).send(await findCorrection(db, id));
    },
  );

  app.post<{ Body: IncidentBody }>(
    '/api/v1/corrections/incidents',
    {
      config: { policy: 'corrections.incident' },
      schema: {
        summary:
          'An incident ("the reader in room 204 was down 10:00–10:50"): one correction of every student nobody marked in the sessions held in the room meanwhile; a teacher\'s report awaits the HOD, an HOD\'s applies at once',
        body: {
          type: 'object',
          additionalProperties: false,
          required: ['roomId', 'from', 'to', 'reasonCode', 'reason'],
          properties: { roomId: { type: 'string', minLength: 1, maxLength: 40 }, from: INSTANT, to: INSTANT, status: { ...STATUS, default: 'present' }, reasonCode: REASON_CODE, reason: REASON },
        },
        response: { 201: { $ref: 'CorrectionView#' }, 400: ErrorResponse, 409: ErrorResponse },
      },
    },
    async (request, reply) => {
      const principal = request.principal!;
      const body = request.body;
      const from = new Date(body.from);
      const to = new Date(body.to);
      if (to <= from) throw new HttpError(400, 'invalid_times', 'to must be after from', { path: '/to' });
      checkReasonCode(body.reasonCode, true);
      if ((await db.query('select 1 from rooms where id = $1', [body.roomId])).rows.length === 0) throw new HttpError(400, 'unknown_room', `no room ${body.roomId}`, { path: '/roomId' });
      const id = uuidv7(now());
      await db.transaction(async (tx) => {
        const at = now();
        const sessions: SessionForMarking[] = [];
        for (const sessionId of await sessionsInRoom(tx, body.roomId, from, to)) sessions.push((await findSession(tx, sessionId, true))!);
        const mine = sessions.filter((session) => correctsDirectly(principal, session));
        if (sessions.length === 0) throw new HttpError(409, 'nothing_affected', 'no session was held in that room at that time');
        if (mine.length === 0) throw new HttpError(409, 'not_your_section', 'you teach none of the sessions held in that room at that time');
        const items: { sessionId: string; studentId: string; status: AttendanceStatus; statusBefore: AttendanceStatus | null }[] = [];
        for (const session of mine) {
          for (const entry of await unmarkedByPeople(tx, session.id)) {
            if (await pendingCorrectionOf(tx, session.id, entry.studentId)) continue;
            items.push({ sessionId: session.id, studentId: entry.studentId, status: body.status, statusBefore: entry.status });
          }
        }
        if (items.length === 0) throw new HttpError(409, 'nothing_affected', 'every student of those sessions was marked by a person or has a correction pending');
        const reviewedNow = principal.role !== 'faculty';
        await insertCorrection(
          tx,
          { id, kind: 'incident', state: reviewedNow ? 'approved' : 'pending', requestedBy: principal.id, departmentId: mine[0]!.departmentId!, approver: 'hod', reasonCode: body.reasonCode, reason: body.reason, at },
          items,
          { roomId: body.roomId, from: from.toISOString(), to: to.toISOString() },
        );
        if (reviewedNow) await applyCorrection(tx, { id, items: items.map((item) => ({ ...item, eventId: null })), reasonCode: body.reasonCode }, principal.id, at);
        else await notifyApprovers(tx, notifications, { id, kind: 'incident', approver: 'hod', departmentId: mine[0]!.departmentId! }, new Date(at));
        await appendAudit(tx, {
          ...auditContextOf(request),
          action: 'corrections.incident',
          target: `correction:${id}`,
          after: { roomId: body.roomId, from: body.from, to: body.to, sessions: new Set(items.map((item) => item.sessionId)).size, students: items.length, status: body.status, state: reviewedNow ? 'approved' : 'pending' },
          reason: body.reason,
        });
      });
      return reply.code(201).send(await findCorrection(db, id));
    },
  );

  app.get<{ Querystring: { state?: CorrectionState; kind?: CorrectionKind; limit: number; cursor?: string } }>(
    '/api/v1/corrections',
    {
      config: { policy: 'corrections.list' },
      schema: {
        summary: 'Corrections the caller may see, newest first, in pages',
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            state: { type: 'string', enum: CORRECTION_STATES },
            kind: { type: 'string', enum: CORRECTION_KINDS },
            limit: { type: 'integer', minimum: 1, maximum: MAX_PAGE, default: 50 },
            cursor: { type: 'string', maxLength: 200 },
          },
        },
        response: {
          200: {
            type: 'object',
            required: ['items', 'nextCursor'],
            properties: {
              items: { type: 'array', items: { type: 'object', properties: { ...CorrectionSummary, itemCount: { type: 'integer' } } } },
              nextCursor: { type: ['string', 'null'] },
            },
          },
          400: ErrorResponse,
        },
      },
    },
    async (request) => {
      const { limit, cursor, ...filter } = request.query;
      const after = cursor ? decodeCursor(cursor) : undefined;
      const rows = await listCorrections(db, scopeOf(request.principal!), { ...filter, ...(after ? { after: { at: new Date(after.at), id: after.id } } : {}) }, limit + 1);
      return pageOf(rows, limit, (last) => [last.createdAt, last.id]);
    },
  );

  app.get<{ Params: { id: string } }>(
    '/api/v1/corrections/:id',
    {
      config: { policy: 'corrections.read' },
      schema: { summary: 'One correction with its items and evidence', params: CorrectionParams, response: { 200: { $ref: 'CorrectionView#' }, 404: ErrorResponse } },
    },
    async (request) => (await authorizedCorrection(db, request, request.params.id)).correction,
  );

  async function decideCorrection(request: FastifyRequest<{ Params: { id: string }; Body: { reason?: string; reasonCode?: string } }>, decision: 'approve' | 'reject'): Promise<CorrectionView> {
    const principal = request.principal!;
    return db.transaction(async (tx) => {
      const { correction } = await authorizedCorrection(tx, request, request.params.id, true);
      if (correction.state !== 'pending') throw new HttpError(409, 'already_decided', `the correction is already ${correction.state}`, { state: correction.state });
      if (correction.requestedBy === principal.id) throw new HttpError(409, 'own_request', 'nobody approves or rejects their own correction');
      if (correction.approver === 'hod' && principal.role === 'faculty') {
        throw new HttpError(409, 'awaiting_hod', correction.escalatedAt ? 'the correction was escalated to the HOD' : 'a correction after the faculty window is the HOD\'s to decide');
      }
      const reasonCode = request.body.reasonCode ?? correction.reasonCode;
      checkReasonCode(request.body.reasonCode, false);
      if (decision === 'approve') checkReasonCode(reasonCode, correction.approver === 'hod');
      const at = now();
      const state: CorrectionState = decision === 'approve' ? 'approved' : 'rejected';
      await tx.query(`update corrections set state = $2, decided_at = $3, decided_by = $4, decision_reason = $5, reason_code = $6 where id = $1`, [
        correction.id,
        state,
        new Date(at),
        principal.id,
        request.body.reason ?? null,
        reasonCode,
      ]);
      const applied = decision === 'approve' ? await applyCorrection(tx, { ...correction, reasonCode }, principal.id, at) : 0;
      await appendAudit(tx, {
        ...auditContextOf(request),
        action: `corrections.${decision}`,
        target: `correction:${correction.id}`,
        before: { state: correction.state, approver: correction.approver },
        after: { state, reasonCode, events: applied },
        reason: request.body.reason ?? null,
      });
      return (await findCorrection(tx, correction.id))!;
    });
  }

  const decisionSchema = (summary: string, reasonRequired: boolean) => ({
    summary,
    params: CorrectionParams,
    body: { type: 'object', additionalProperties: false, required: reasonRequired ? ['reason'] : [], properties: { reason: REASON, reasonCode: REASON_CODE } },
    response: { 200: { $ref: 'CorrectionView#' }, 400: ErrorResponse, 404: ErrorResponse, 409: ErrorResponse },
  });

  app.post<{ Params: { id: string }; Body: { reason?: string; reasonCode?: string } }>(
    '/api/v1/corrections/:id/approve',
    {
      config: { policy: 'corrections.decide' },
      schema: decisionSchema('Approve a pending correction: one compensating ledger event (source correction) per item', false),
    },
    async (request) => decideCorrection(request, 'approve'),
  );

  app.post<{ Params: { id: string }; Body: { reason?: string; reasonCode?: string } }>(
    '/api/v1/corrections/:id/reject',
    { config: { policy: 'corrections.decide' }, schema: decisionSchema('Reject a pending correction, with the reason', true) },
    async (request) => decideCorrection(request, 'reject'),
  );

  app.post<{ Params: { id: string }; Body: { reason?: string } }>(
    '/api/v1/corrections/:id/withdraw',
    { config: { policy: 'corrections.withdraw' }, schema: decisionSchema('The requester withdraws a pending correction', false) },
    async (request) =>
      db.transaction(async (tx) => {
        const { correction } = await authorizedCorrection(tx, request, request.params.id, true);
        if (correction.state !== 'pending') throw new HttpError(409, 'already_decided', `the correction is already ${correction.state}`, { state: correction.state });
        const at = now();
        await tx.query(`update corrections set state = 'withdrawn', decided_at = $2, decided_by = $3, decision_reason = $4 where id = $1`, [
          correction.id,
          new Date(at),
          request.principal!.id,
          request.body.reason ?? null,
        ]);
        await appendAudit(tx, { ...auditContextOf(request), action: 'corrections.withdraw', target: `correction:${correction.id}`, before: { state: 'pending' }, after: { state: 'withdrawn' } });
        return (await findCorrection(tx, correction.id))!;
      }),
  );

  app.post<{ Params: { id: string }; Body: EvidenceUpload }>(
    '/api/v1/corrections/:id/evidence',
    {
      config: { policy: 'corrections.withdraw' },
      bodyLimit: uploadBodyLimit(settings),
      schema: {
        summary: 'The requester adds evidence (PDF, PNG or JPEG, base64) to a pending correction',
        params: CorrectionParams,
        body: EvidenceUploadBody,
        response: { 201: StoredEvidence, 400: ErrorResponse, 404: ErrorResponse, 409: ErrorResponse },
      },
    },
    async (request, reply) => {
      const stored = await db.transaction(async (tx) => {
        const { correction } = await authorizedCorrection(tx, request, request.params.id, true);
        if (correction.state !== 'pending') throw new HttpError(409, 'already_decided', `the correction is already ${correction.state}`, { state: correction.state });
        const at = now();
        const file = await storeEvidence(tx, settings, request.body, at);
        await tx.query('insert into correction_evidence (correction_id, sha256, filename, uploaded_by, created_at) values ($1, $2, $3, $4, $5) on conflict do nothing', [
          correction.id,
          file.sha256,
          file.filename,
          request.principal!.id,
          new Date(at),
        ]);
        await appendAudit(tx, {
          ...auditContextOf(request),
          action: 'corrections.evidence.add',
          target: `correction:${correction.id}`,
          after: { sha256: file.sha256, sizeBytes: file.sizeBytes, contentType: file.contentType },
        });
        return file;
      });
      return reply.code(201).send(stored);
    },
  );

  app.get<{ Params: { id: string; digest: string } }>(
    '/api/v1/corrections/:id/evidence/:digest',
    {
      config: { policy: 'corrections.read' },
      schema: {
        summary: 'Download a correction\'s evidence (always as an attachment)',
        params: { type: 'object', required: ['id', 'digest'], properties: { id: UUID, digest: { type: 'string', pattern: '^[0-9a-f]{64}$', description: 'the SHA-256 of the file, hex' } } },
        response: { 200: EvidenceDownload, 404: ErrorResponse },
      },
    },
    async (request, reply) => {
      const { correction } = await authorizedCorrection(db, request, request.params.id);
      const file = correction.evidence.find((entry) => entry.sha256 === request.params.digest);
      if (!file) throw new HttpError(404, 'not_found', 'no such object');
      return sendEvidence(db, reply, file.sha256, file.filename);
    },
  );
}
