import type { FastifyInstance, FastifyRequest } from 'fastify';
import QRCode from 'qrcode';
import { appendAudit, auditContextOf } from '../audit/append.js';
import type { AttendanceSettings } from '../config.js';
import type { Db, Queryable } from '../db/db.js';
import { ErrorResponse, HttpError } from '../errors.js';
import { decodeCursor, pageOf } from '../pagination.js';
import { hasScannedSessionQr, lockRecords, recordAsOf, recordHistory, recordMarks, type LedgerEvent, type NewMark } from '../ledger/ledger.js';
import { ATTENDANCE_STATUSES, type AttendanceStatus } from '../ledger/precedence.js';
import { checkQrToken, issueQrToken, qrWindowAt } from '../ledger/qr.js';
import { attendanceSettingsFor } from '../settings/settings.js';
import { listUnmatchedTaps, UNMATCHED_REASONS, type UnmatchedReason } from '../ledger/unmatched.js';
import {
  findSectionOwner,
  sectionRegister,
  findSession,
  findStudentOwner,
  isOnRoll,
  listStudentRecords,
  sessionRoll,
  studentOfUser,
  type SessionForMarking,
} from './queries.js';

const UUID = { type: 'string', format: 'uuid' } as const;
const STATUS = { type: 'string', enum: ATTENDANCE_STATUSES } as const;
const TIME = { type: 'string', format: 'date-time' } as const;
const NULLABLE_TIME = { type: ['string', 'null'], format: 'date-time' } as const;
const MAX_PAGE = 200;
const SessionParams = { type: 'object', required: ['id'], properties: { id: UUID } } as const;

const LedgerEventView = {
  type: 'object',
  required: ['id', 'status', 'source', 'actor', 'campusId', 'deviceId', 'tapEventId', 'deviceTime', 'receivedAt', 'recordedAt', 'reason'],
  properties: {
    id: { type: 'string' },
    status: { type: 'string' },
    source: { type: 'string' },
    actor: { type: ['string', 'null'] },
    campusId: { type: ['string', 'null'] },
    deviceId: { type: ['string', 'null'] },
    tapEventId: { type: ['string', 'null'] },
    deviceTime: NULLABLE_TIME,
    receivedAt: NULLABLE_TIME,
    recordedAt: TIME,
    reason: { type: ['string', 'null'] },
    revokes: { type: ['string', 'null'], description: 'on a revocation: the event it withdraws (docs/ledger.md, "Revocation")' },
  },
} as const;

const MarkResult = {
  type: 'object',
  required: ['sessionId', 'studentId', 'status', 'source', 'event'],
  properties: { sessionId: { type: 'string' }, studentId: { type: 'string' }, status: { type: 'string' }, source: { type: 'string' }, event: LedgerEventView },
  description: 'the event appended and the record\'s effective status after it',
} as const;

/** Cursors are opaque to clients: the sort key of the page's last row, encoded. */
export interface RecordRoutesOptions {
  db: Db;
  now: () => number;
  settings: AttendanceSettings;
  /** The key of the rotating session QR (the hub secret `attendance.qr-key`). */
  qrKey: Buffer;
}

export async function recordRoutes(app: FastifyInstance, { db, now, settings, qrKey }: RecordRoutesOptions): Promise<void> {
  /** The session to mark, locked, after the caller passed its object rule; refuses sessions that cannot take marks. */
  async function markableSession(tx: Queryable, request: FastifyRequest, sessionId: string): Promise<SessionForMarking> {
    const session = await findSession(tx, sessionId, true);
    request.authorize({ departmentId: session?.departmentId ?? null, facultyUserIds: session?.facultyUserIds ?? [] });
    if (!session) throw new HttpError(404, 'not_found', 'no such object');
    refuseUnmarkable(session);
    return session;
  }

  function refuseUnmarkable(session: SessionForMarking): void {
    if (session.finalizedAt) throw new HttpError(409, 'session_finalized', 'records of a finalized session change only through corrections');
    if (session.state !== 'open' && session.state !== 'closed') {
      throw new HttpError(409, 'session_not_open', `the session is ${session.state}; marks need it open, or closed and not yet finalized`, { state: session.state });
    }
  }

  async function requireOnRoll(tx: Queryable, sessionId: string, studentId: string, path: string): Promise<void> {
    if (!(await isOnRoll(tx, sessionId, studentId))) {
      throw new HttpError(400, 'student_not_in_session', 'the student is not enrolled in this session\'s groups on its date', { path, studentId });
    }
  }

  const markResult = (event: LedgerEvent, status: string | null) => ({ sessionId: event.sessionId, studentId: event.studentId, status, source: event.source, event });

  app.post<{ Params: { id: string }; Body: { studentId: string; status: AttendanceStatus; reason?: string } }>(
    '/api/v1/sessions/:id/records',
    {
      config: { policy: 'records.mark' },
      schema: {
        summary: 'Mark one student (faculty manual mark). The session must be open, or closed and not finalized.',
        params: SessionParams,
        body: {
          type: 'object',
          additionalProperties: false,
          required: ['studentId', 'status'],
          properties: { studentId: UUID, status: STATUS, reason: { type: 'string', minLength: 1, maxLength: 500 } },
        },
        response: { 201: MarkResult, 400: ErrorResponse, 404: ErrorResponse, 409: ErrorResponse },
      },
    },
    async (request, reply) => {
      const { studentId, status, reason } = request.body;
      const result = await db.transaction(async (tx) => {
        const session = await markableSession(tx, request, request.params.id);
        await requireOnRoll(tx, session.id, studentId, '/studentId');
        const mark: NewMark = { sessionId: session.id, studentId, status, source: 'manual', actor: request.principal!.id, reason: reason ?? null };
        const [recorded] = await recordMarks(tx, [mark], now());
        const current = await currentStatus(tx, session.id, studentId);
        await appendAudit(tx, {
          ...auditContextOf(request),
          action: 'records.mark',
          target: `session:${session.id}`,
          after: { studentId, status, eventId: recorded!.event.id, effectiveStatus: current, count: 1 },
          reason: reason ?? null,
        });
        return markResult(recorded!.event, current);
      });
      return reply.code(201).send(result);
    },
  );

  app.post<{ Params: { id: string }; Body: { status: AttendanceStatus; except: { studentId: string; status: AttendanceStatus }[]; reason?: string } }>(
    '/api/v1/sessions/:id/records/bulk',
    {
      config: { policy: 'records.mark' },
      schema: {
        summary: 'Mark the whole roll at once: everyone gets `status` except the students listed with their own.',
        params: SessionParams,
        body: {
          type: 'object',
          additionalProperties: false,
          required: ['status'],
          properties: {
            status: STATUS,
            except: {
              type: 'array',
              maxItems: 2000,
              default: [],
              items: { type: 'object', additionalProperties: false, required: ['studentId', 'status'], properties: { studentId: UUID, status: STATUS } },
            },
            reason: { type: 'string', minLength: 1, maxLength: 500 },
          },
        },
        response: {
          200: {
            type: 'object',
            required: ['sessionId', 'marked', 'counts'],
            properties: {
              sessionId: { type: 'string' },
              marked: { type: 'integer', description: 'events appended, one per student on the roll' },
              counts: { type: 'object', additionalProperties: { type: 'integer' }, description: 'events appended by status' },
            },
          },
          400: ErrorResponse,
          404: ErrorResponse,
          409: ErrorResponse,
        },
      },
    },
    async (request) => {
      const { status, except, reason } = request.body;
      return db.transaction(async (tx) => {
        const session = await markableSession(tx, request, request.params.id);
        const roll = new Set((await sessionRoll(tx, session.id)).map((entry) => entry.studentId));
        const exceptions = new Map<string, AttendanceStatus>();
        except.forEach((entry, index) => {
          if (!roll.has(entry.studentId)) {
            throw new HttpError(400, 'student_not_in_session', 'the student is not enrolled in this session\'s groups on its date', { path: `/except/${index}/studentId`, studentId: entry.studentId });
          }
          if (exceptions.has(entry.studentId)) throw new HttpError(400, 'duplicate_student', 'a student is listed twice', { path: `/except/${index}/studentId` });
          exceptions.set(entry.studentId, entry.status);
        });
        const marks = [...roll].map((studentId): NewMark => ({
          sessionId: session.id,
          studentId,
          status: exceptions.get(studentId) ?? status,
          source: 'bulk',
          actor: request.principal!.id,
          reason: reason ?? null,
        }));
        await recordMarks(tx, marks, now());
        const counts: Record<string, number> = {};
        for (const mark of marks) counts[mark.status] = (counts[mark.status] ?? 0) + 1;
        await appendAudit(tx, {
          ...auditContextOf(request),
          action: 'records.bulk',
          target: `session:${session.id}`,
          after: { status, exceptions: exceptions.size, marked: marks.length, counts },
          reason: reason ?? null,
        });
        return { sessionId: session.id, marked: marks.length, counts };
      });
    },
  );

  app.get<{ Params: { id: string } }>(
    '/api/v1/sessions/:id/records',
    {
      config: { policy: 'records.roll' },
      schema: {
        summary: 'The session\'s roll: every student of its groups with the current status (or `unmarked`), its source and when',
        params: SessionParams,
        response: {
          200: {
            type: 'object',
            required: ['sessionId', 'items'],
            properties: {
              sessionId: { type: 'string' },
              items: {
                type: 'array',
                items: {
                  type: 'object',
                  required: ['studentId', 'rollNo', 'name', 'status', 'source', 'updatedAt'],
                  properties: {
                    studentId: { type: 'string' },
                    rollNo: { type: 'string' },
                    name: { type: 'string' },
                    status: { type: 'string', enum: [...ATTENDANCE_STATUSES, 'unmarked'] },
                    source: { type: ['string', 'null'] },
                    updatedAt: NULLABLE_TIME,
                  },
                },
              },
            },
          },
          404: ErrorResponse,
        },
      },
    },
    async (request) => {
      const session = await findSession(db, request.params.id);
      request.authorize({ departmentId: session?.departmentId ?? null, facultyUserIds: session?.facultyUserIds ?? [] });
      if (!session) throw new HttpError(404, 'not_found', 'no such object');
      return { sessionId: session.id, items: await sessionRoll(db, session.id) };
    },
  );

  app.get<{ Params: { id: string }; Querystring: { displayId: number } }>(
    '/api/v1/sessions/:id/qr',
    {
      config: { policy: 'sessions.qr' },
      schema: {
        summary: 'The rotating QR of an open session: a token good for its window and one either side, and the code as SVG',
        params: SessionParams,
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: { displayId: { type: 'integer', minimum: 0, maximum: 65_535, default: 0, description: 'which screen shows it' } },
        },
        response: {
          200: {
            type: 'object',
            required: ['token', 'window', 'windowSeconds', 'expiresAt', 'svg'],
            properties: {
              token: { type: 'string' },
              window: { type: 'integer', description: 'the time window the token was issued for' },
              windowSeconds: { type: 'integer' },
              expiresAt: { ...TIME, description: 'when the screen should fetch the next token' },
              svg: { type: 'string' },
            },
          },
          404: ErrorResponse,
          409: ErrorResponse,
        },
      },
    },
    async (request) => {
      const session = await findSession(db, request.params.id);
      request.authorize({ departmentId: session?.departmentId ?? null, facultyUserIds: session?.facultyUserIds ?? [] });
      if (!session) throw new HttpError(404, 'not_found', 'no such object');
      refuseUnmarkable(session);
      if (session.state !== 'open') throw new HttpError(409, 'session_not_open', 'self-marking by QR needs the session open', { state: session.state });
      const { qrWindowSeconds } = await attendanceSettingsFor(db, session.id, new Date(now()), settings);
      const window = qrWindowAt(now(), qrWindowSeconds);
      const token = issueQrToken(qrKey, { sessionId: session.id, window, displayId: request.query.displayId });
      const expiresAt = new Date((window + 1) * qrWindowSeconds * 1000);
      return { token, window, windowSeconds: qrWindowSeconds, expiresAt, svg: await QRCode.toString(token, { type: 'svg' }) };
    },
  );

  app.post<{ Params: { id: string }; Body: { token: string } }>(
    '/api/v1/sessions/:id/scan',
    {
      config: { policy: 'records.scan' },
      schema: {
        summary: 'A student marks themselves present (or late) by scanning the session\'s rotating QR; once per session',
        params: SessionParams,
        body: { type: 'object', additionalProperties: false, required: ['token'], properties: { token: { type: 'string', minLength: 1, maxLength: 200 } } },
        response: { 201: MarkResult, 400: ErrorResponse, 403: ErrorResponse, 404: ErrorResponse, 409: ErrorResponse },
      },
    },
    async (request, reply) => {
      const at = now();
      // The section's settings (hub/settings), with the hub's configuration as their defaults.
      const effective = await attendanceSettingsFor(db, request.params.id, new Date(at), settings);
      const check = checkQrToken(qrKey, request.body.token, { sessionId: request.params.id, nowMs: at, windowSeconds: effective.qrWindowSeconds });
      if (!check.ok) throw new HttpError(400, check.code, check.message, { path: '/token' });
      const studentId = await studentOfUser(db, request.principal!.id);
      if (!studentId) throw new HttpError(403, 'not_enrolled', 'your account is not linked to a student');
      const result = await db.transaction(async (tx) => {
        const session = await findSession(tx, request.params.id, true);
        if (!session) throw new HttpError(404, 'not_found', 'no such object');
        refuseUnmarkable(session);
        if (session.state !== 'open') throw new HttpError(409, 'session_not_open', 'self-marking by QR needs the session open', { state: session.state });
        if (!(await isOnRoll(tx, session.id, studentId))) throw new HttpError(403, 'not_enrolled', 'you are not enrolled in this session\'s groups');
        // Locked before looking, so that two scans at once cannot both find no earlier scan.
        await lockRecords(tx, [{ sessionId: session.id, studentId }]);
        if (await hasScannedSessionQr(tx, session.id, studentId)) throw new HttpError(409, 'already_recorded', 'you have already scanned this session\'s code');
        const status: AttendanceStatus = at > session.startsAt.getTime() + effective.lateGraceMinutes * 60_000 ? 'late' : 'present';
        const [recorded] = await recordMarks(tx, [{ sessionId: session.id, studentId, status, source: 'qr', actor: request.principal!.id, receivedAt: new Date(at) }], at);
        await appendAudit(tx, { ...auditContextOf(request), action: 'records.scan', target: `session:${session.id}`, after: { studentId, status, eventId: recorded!.event.id } });
        return markResult(recorded!.event, await currentStatus(tx, session.id, studentId));
      });
      return reply.code(201).send(result);
    },
  );

  /** The object of a student's records: the student, their department, and faculty who teach them. */
  async function authorizeStudent(request: FastifyRequest, studentId: string) {
    const owner = await findStudentOwner(db, studentId);
    request.authorize({ ownerUserId: owner?.userId ?? null, departmentId: owner?.departmentId ?? null, facultyUserIds: owner?.facultyUserIds ?? [] });
    if (!owner) throw new HttpError(404, 'not_found', 'no such object');
    return owner;
  }

  app.get<{ Params: { id: string }; Querystring: { limit: number; cursor?: string; from?: string; to?: string; sectionId?: string } }>(
    '/api/v1/students/:id/records',
    {
      config: { policy: 'records.read' },
      schema: {
        summary: 'One student\'s records (sessions with a status), newest first, in pages',
        params: SessionParams,
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            limit: { type: 'integer', minimum: 1, maximum: MAX_PAGE, default: 50 },
            cursor: { type: 'string', maxLength: 200, description: 'nextCursor of the previous page' },
            from: { ...TIME, description: 'sessions starting at or after' },
            to: { ...TIME, description: 'sessions starting before' },
            sectionId: UUID,
          },
        },
        response: {
          200: {
            type: 'object',
            required: ['items', 'nextCursor'],
            properties: {
              items: {
                type: 'array',
                items: {
                  type: 'object',
                  required: ['sessionId', 'startsAt', 'endsAt', 'sections', 'status', 'source', 'updatedAt'],
                  properties: {
                    sessionId: { type: 'string' },
                    startsAt: TIME,
                    endsAt: TIME,
                    sections: { type: 'array', items: { type: 'string' } },
                    status: { type: 'string' },
                    source: { type: 'string' },
                    updatedAt: TIME,
                  },
                },
              },
              nextCursor: { type: ['string', 'null'] },
            },
          },
          400: ErrorResponse,
          404: ErrorResponse,
        },
      },
    },
    async (request) => {
      const owner = await authorizeStudent(request, request.params.id);
      const { limit, cursor, from, to, sectionId } = request.query;
      const before = cursor ? decodeCursor(cursor) : undefined;
      const rows = await listStudentRecords(db, owner.id, { from, to, sectionId, ...(before ? { before: { startsAt: before.at, sessionId: before.id } } : {}) }, limit + 1);
      return pageOf(rows, limit, (last) => [last.startsAt, last.sessionId]);
    },
  );

  app.get<{ Params: { id: string }; Querystring: { limit: number; cursor?: string; from?: string; to?: string } }>(
    '/api/v1/sections/:id/records',
    {
      config: { policy: 'records.roll' },
      schema: {
        summary: 'A section\'s register: its sessions, newest first, each with the status of every marked student of the section, in pages',
        params: SessionParams,
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            limit: { type: 'integer', minimum: 1, maximum: MAX_PAGE, default: 20 },
            cursor: { type: 'string', maxLength: 200, description: 'nextCursor of the previous page' },
            from: { ...TIME, description: 'sessions starting at or after' },
            to: { ...TIME, description: 'sessions starting before' },
          },
        },
        response: {
          200: {
            type: 'object',
            required: ['items', 'nextCursor'],
            properties: {
              items: {
                type: 'array',
                items: {
                  type: 'object',
                  required: ['sessionId', 'startsAt', 'endsAt', 'state', 'finalizedAt', 'records'],
                  properties: {
                    sessionId: { type: 'string' },
                    startsAt: TIME,
                    endsAt: TIME,
                    state: { type: 'string' },
                    finalizedAt: NULLABLE_TIME,
                    records: {
                      type: 'array',
                      items: { type: 'object', required: ['studentId', 'status', 'source'], properties: { studentId: { type: 'string' }, status: { type: 'string' }, source: { type: 'string' } } },
                    },
                  },
                },
              },
              nextCursor: { type: ['string', 'null'] },
            },
          },
          400: ErrorResponse,
          404: ErrorResponse,
        },
      },
    },
    async (request) => {
      const owner = await findSectionOwner(db, request.params.id);
      request.authorize({ departmentId: owner?.departmentId ?? null, facultyUserIds: owner?.facultyUserIds ?? [] });
      if (!owner) throw new HttpError(404, 'not_found', 'no such object');
      const { limit, cursor, from, to } = request.query;
      const before = cursor ? decodeCursor(cursor) : undefined;
      const rows = await sectionRegister(db, owner.id, { from, to, ...(before ? { before: { startsAt: before.at, sessionId: before.id } } : {}) }, limit + 1);
      return pageOf(rows, limit, (last) => [last.startsAt, last.sessionId]);
    },
  );

  app.get<{ Params: { id: string; studentId: string }; Querystring: { asOf?: string } }>(
    '/api/v1/sessions/:id/records/:studentId/history',
    {
      config: { policy: 'records.read' },
      schema: {
        summary: 'One record\'s events in the order they were recorded, and its status as of a time (default now)',
        params: { type: 'object', required: ['id', 'studentId'], properties: { id: UUID, studentId: UUID } },
        querystring: { type: 'object', additionalProperties: false, properties: { asOf: TIME } },
        response: {
          200: {
            type: 'object',
            required: ['sessionId', 'studentId', 'asOf', 'status', 'decidedBy', 'events'],
            properties: {
              sessionId: { type: 'string' },
              studentId: { type: 'string' },
              asOf: TIME,
              status: { type: 'string', enum: [...ATTENDANCE_STATUSES, 'unmarked'] },
              decidedBy: { anyOf: [LedgerEventView, { type: 'null' }] },
              events: { type: 'array', items: LedgerEventView, description: 'every event, also those after asOf' },
            },
          },
          404: ErrorResponse,
        },
      },
    },
    async (request) => {
      const owner = await authorizeStudent(request, request.params.studentId);
      const session = await findSession(db, request.params.id);
      if (!session) throw new HttpError(404, 'not_found', 'no such object');
      const asOf = request.query.asOf ? Date.parse(request.query.asOf) : now();
      const events = await recordHistory(db, session.id, owner.id);
      const decidedBy = recordAsOf(events, asOf);
      return { sessionId: session.id, studentId: owner.id, asOf: new Date(asOf), status: decidedBy?.status ?? 'unmarked', decidedBy, events };
    },
  );

  app.get<{ Querystring: { limit: number; cursor?: string; reason?: UnmatchedReason; from?: string; to?: string } }>(
    '/api/v1/unmatched-taps',
    {
      config: { policy: 'unmatched.read' },
      schema: {
        summary: 'Taps that marked nobody, with the reason, newest first',
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            limit: { type: 'integer', minimum: 1, maximum: MAX_PAGE, default: 50 },
            cursor: { type: 'string', maxLength: 200, description: 'nextCursor of the previous page' },
            reason: { type: 'string', enum: UNMATCHED_REASONS },
            from: { ...TIME, description: 'recorded at or after' },
            to: { ...TIME, description: 'recorded before' },
          },
        },
        response: {
          200: {
            type: 'object',
            required: ['items', 'nextCursor'],
            properties: {
              items: {
                type: 'array',
                items: {
                  type: 'object',
                  required: ['eventId', 'reason', 'details', 'createdAt', 'resolvedAt', 'resolution', 'campusId', 'deviceId', 'method', 'subject', 'tappedAt'],
                  properties: {
                    eventId: { type: 'string' },
                    reason: { type: 'string' },
                    details: { type: 'object', additionalProperties: true },
                    createdAt: TIME,
                    resolvedAt: NULLABLE_TIME,
                    resolution: { type: ['string', 'null'] },
                    campusId: { type: 'string' },
                    deviceId: { type: 'string' },
                    method: { type: 'string' },
                    subject: { type: 'string' },
                    tappedAt: TIME,
                  },
                },
              },
              nextCursor: { type: ['string', 'null'] },
            },
          },
          400: ErrorResponse,
        },
      },
    },
    async (request) => {
      const { limit, cursor, reason, from, to } = request.query;
      const before = cursor ? decodeCursor(cursor) : undefined;
      const rows = await listUnmatchedTaps(db, { reason, from, to, ...(before ? { before: { createdAt: before.at, eventId: before.id } } : {}) }, limit + 1);
      return pageOf(rows, limit, (last) => [last.createdAt, last.eventId]);
    },
  );
}

async function currentStatus(tx: Queryable, sessionId: string, studentId: string): Promise<AttendanceStatus | null> {
  const { rows } = await tx.query<{ status: AttendanceStatus | null }>('select status from attendance_current where session_id = $1 and student_id = $2', [sessionId, studentId]);
  return rows[0]?.status ?? null;
}
