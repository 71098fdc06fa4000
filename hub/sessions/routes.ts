import type { FastifyInstance, FastifyRequest } from 'fastify';
import { uuidv7 } from '../../protocol/index.js';
import { appendAudit, auditContextOf } from '../audit/append.js';
import { scopeOf, type OwnedObject } from '../auth/rules.js';
import type { Db, Queryable } from '../db/db.js';
import { decodeCursor, pageOf } from '../pagination.js';
import { ErrorResponse, HttpError } from '../errors.js';
import { daysBetween } from './localTime.js';
import { reprojectLeave } from '../leave/projection.js';
import { generateSessions, replaceGroups } from './generate.js';
import { findSession, listSessions, sessionOwners, SESSION_STATES, type SessionGroup, type SessionState } from './queries.js';
import type { SessionAction, SessionService } from './service.js';
import { listFlags, FLAG_KINDS, type FlagKind } from './flags.js';

const MAX_PAGE = 500;
/** The longest range one generation request may cover: a long term and then some. */
const MAX_GENERATE_DAYS = 400;
const UUID = { type: 'string', format: 'uuid' } as const;
const ID = { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$' } as const;
const DATE = { type: 'string', format: 'date' } as const;
const INSTANT = { type: 'string', format: 'date-time' } as const;

const GroupSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['sectionId'],
  properties: { sectionId: UUID, subgroupId: { type: ['string', 'null'], format: 'uuid' } },
} as const;

export const SessionViewSchema = {
  $id: 'SessionView',
  type: 'object',
  required: ['id', 'termId', 'campusId', 'startsAt', 'endsAt', 'roomId', 'facultyId', 'state', 'origin', 'groups'],
  properties: {
    id: { type: 'string' },
    termId: { type: 'string' },
    campusId: { type: 'string' },
    startsAt: INSTANT,
    endsAt: INSTANT,
    roomId: { type: ['string', 'null'] },
    facultyId: { type: ['string', 'null'] },
    state: { type: 'string', enum: SESSION_STATES },
    origin: { type: 'string' },
    openedAt: { type: ['string', 'null'], format: 'date-time' },
    closedAt: { type: ['string', 'null'], format: 'date-time' },
    finalizedAt: { type: ['string', 'null'], format: 'date-time', description: 'null while a closed session is provisional' },
    finalizedBy: { type: ['string', 'null'], enum: ['watermarks', 'timeout', null] },
    cancelledReason: { type: ['string', 'null'] },
    slotId: { type: ['string', 'null'] },
    slotDate: { type: ['string', 'null'] },
    changeId: { type: ['string', 'null'] },
    groups: { type: 'array', items: { type: 'object', properties: { sectionId: { type: 'string' }, subgroupId: { type: ['string', 'null'] } } } },
  },
} as const;

const FlagSchema = {
  type: 'object',
  required: ['id', 'sessionId', 'kind', 'details', 'createdAt', 'resolvedAt'],
  properties: {
    id: { type: 'string' },
    sessionId: { type: 'string' },
    kind: { type: 'string', enum: FLAG_KINDS },
    details: { type: 'object', additionalProperties: true },
    createdAt: INSTANT,
    resolvedAt: { type: ['string', 'null'], format: 'date-time' },
  },
} as const;

/**
 * Applies a session's object rule. A combined session may span departments:
 * the caller passes if the rule allows them for any one of them.
 */
export async function authorizeSession(request: FastifyRequest, db: Queryable, sessionId: string, exists: boolean): Promise<void> {
  const owners = exists ? await sessionOwners(db, sessionId) : { departmentIds: [], facultyUserIds: [], memberUserIds: [] };
  const objects: OwnedObject[] = (owners.departmentIds.length > 0 ? owners.departmentIds : [null]).map((departmentId) => ({
    departmentId,
    facultyUserIds: owners.facultyUserIds,
    memberUserIds: owners.memberUserIds,
  }));
  let refusal: unknown;
  for (const object of objects) {
    try {
      request.authorize(object);
      return;
    } catch (error) {
      refusal = error;
    }
  }
  throw refusal;
}

interface SectionFacts {
  id: string;
  termId: string;
  departmentId: string;
  campusId: string;
  timeZone: string;
}

/** The sections of a request body, each checked to exist (400 with the field path otherwise). */
export async function loadSections(db: Queryable, groups: readonly SessionGroup[], pathOf: (index: number) => string): Promise<SectionFacts[]> {
  const sections: SectionFacts[] = [];
  for (const [index, group] of groups.entries()) {
    const { rows } = await db.query<SectionFacts>(
      `select cs.id, cs.term_id as "termId", cs.department_id as "departmentId", d.campus_id as "campusId", c.timezone as "timeZone"
         from course_sections cs join departments d on d.id = cs.department_id join campuses c on c.id = d.campus_id where cs.id = $1`,
      [group.sectionId],
    );
    if (!rows[0]) throw new HttpError(400, 'unknown_section', `no section ${group.sectionId}`, { path: `${pathOf(index)}/sectionId` });
    if (group.subgroupId) {
      const subgroup = await db.query('select 1 from section_subgroups where id = $1 and section_id = $2', [group.subgroupId, group.sectionId]);
      if (subgroup.rows.length === 0) throw new HttpError(400, 'unknown_subgroup', `no sub-group ${group.subgroupId} in section ${group.sectionId}`, { path: `${pathOf(index)}/subgroupId` });
    }
    if (groups.findIndex((other) => other.sectionId === group.sectionId) !== index) {
      throw new HttpError(400, 'duplicate_section', 'a section appears twice', { path: `${pathOf(index)}/sectionId` });
    }
    sections.push(rows[0]);
  }
  return sections;
}

export async function checkRoomAndFaculty(db: Queryable, roomId: string | null | undefined, facultyId: string | null | undefined): Promise<void> {
  if (roomId && (await db.query('select 1 from rooms where id = $1', [roomId])).rows.length === 0) throw new HttpError(400, 'unknown_room', `no room ${roomId}`, { path: '/roomId' });
  if (facultyId && (await db.query('select 1 from faculty where id = $1', [facultyId])).rows.length === 0) {
    throw new HttpError(400, 'unknown_faculty', `no faculty ${facultyId}`, { path: '/facultyId' });
  }
}

interface CreateBody {
  groups: SessionGroup[];
  startsAt: string;
  endsAt: string;
  roomId?: string | null;
  facultyId?: string | null;
}

interface ListQuery {
  limit: number;
  cursor?: string;
  from?: string;
  to?: string;
  date?: string;
  sectionId?: string;
  roomId?: string;
  state?: SessionState;
  facultyId?: string;
}

export interface SessionRoutesOptions {
  db: Db;
  sessions: SessionService;
  now: () => number;
}

export async function sessionRoutes(app: FastifyInstance, { db, sessions, now }: SessionRoutesOptions): Promise<void> {
  app.addSchema(SessionViewSchema);

  app.post<{ Body: CreateBody }>(
    '/api/v1/sessions',
    {
      config: { policy: 'sessions.manage' },
      schema: {
        summary: 'Create a session by hand (origin manual), e.g. a make-up class, for one or more sections of one term',
        body: {
          type: 'object',
          additionalProperties: false,
          required: ['groups', 'startsAt', 'endsAt'],
          properties: {
            groups: { type: 'array', minItems: 1, maxItems: 20, items: GroupSchema },
            startsAt: INSTANT,
            endsAt: INSTANT,
            roomId: { ...ID, type: ['string', 'null'] },
            facultyId: { type: ['string', 'null'], format: 'uuid' },
          },
        },
        response: { 201: { $ref: 'SessionView#' }, 400: ErrorResponse, 404: ErrorResponse },
      },
    },
    async (request, reply) => {
      const body = request.body;
      const sections = await loadSections(db, body.groups, (index) => `/groups/${index}`);
      for (const section of sections) {
        const teachers = await db.query<{ id: string }>(
          'select f.user_id as id from section_teachers st join faculty f on f.id = st.faculty_id where st.section_id = $1 and f.user_id is not null',
          [section.id],
        );
        request.authorize({ departmentId: section.departmentId, facultyUserIds: teachers.rows.map((row) => row.id) });
      }
      if (Date.parse(body.endsAt) <= Date.parse(body.startsAt)) throw new HttpError(400, 'invalid_times', 'endsAt must be after startsAt', { path: '/endsAt' });
      if (new Set(sections.map((section) => section.termId)).size > 1) throw new HttpError(400, 'mixed_terms', 'all sections of a session belong to one term', { path: '/groups' });
      await checkRoomAndFaculty(db, body.roomId, body.facultyId);
      const at = new Date(now());
      const id = uuidv7(at.getTime());
      await db.transaction(async (tx) => {
        await tx.query(
          `insert into sessions (id, term_id, campus_id, starts_at, ends_at, room_id, faculty_id, state, origin, created_at, updated_at)
           values ($1, $2, $3, $4, $5, $6, $7, 'scheduled', 'manual', $8, $8)`,
          [id, sections[0]!.termId, sections[0]!.campusId, body.startsAt, body.endsAt, body.roomId ?? null, body.facultyId ?? null, at],
        );
        await replaceGroups(tx, id, body.groups.map((group) => ({ sectionId: group.sectionId, subgroupId: group.subgroupId ?? null })));
        await reprojectLeave(tx, { sessionIds: [id] }, at.getTime());
        await appendAudit(tx, { ...auditContextOf(request), action: 'session.create', target: `session:${id}`, after: body });
      });
      return reply.code(201).send(await findSession(db, id));
    },
  );

  app.get<{ Querystring: ListQuery }>(
    '/api/v1/sessions',
    {
      config: { policy: 'sessions.list' },
      schema: {
        summary: 'Sessions the caller may see (HOD: department; faculty: what they teach or take; student: their own), by start time, in pages',
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            limit: { type: 'integer', minimum: 1, maximum: MAX_PAGE, default: 100 },
            cursor: { type: 'string', maxLength: 200, description: 'nextCursor of the previous page' },
            from: { ...INSTANT, description: 'starting at or after' },
            to: { ...INSTANT, description: 'starting before' },
            date: { ...DATE, description: "starting on this local date of the session's campus" },
            sectionId: UUID,
            roomId: ID,
            state: { type: 'string', enum: SESSION_STATES },
            facultyId: UUID,
          },
        },
        response: {
          200: {
            type: 'object',
            required: ['items', 'nextCursor'],
            properties: { items: { type: 'array', items: { $ref: 'SessionView#' } }, nextCursor: { type: ['string', 'null'] } },
          },
          400: ErrorResponse,
        },
      },
    },
    async (request) => {
      const { limit, cursor, ...filters } = request.query;
      const after = cursor ? decodeCursor(cursor) : undefined;
      const rows = await listSessions(db, scopeOf(request.principal!), { ...filters, ...(after ? { after: { startsAt: after.at, id: after.id } } : {}) }, limit + 1);
      return pageOf(rows, limit, (last) => [last.startsAt, last.id]);
    },
  );

  app.get<{ Params: { id: string } }>(
    '/api/v1/sessions/:id',
    {
      config: { policy: 'sessions.read' },
      schema: {
        summary: 'One session with its groups and state',
        params: { type: 'object', required: ['id'], properties: { id: UUID } },
        response: { 200: { $ref: 'SessionView#' }, 404: ErrorResponse },
      },
    },
    async (request) => {
      const session = await findSession(db, request.params.id);
      await authorizeSession(request, db, request.params.id, session !== null);
      if (!session) throw new HttpError(404, 'not_found', 'no such object');
      return session;
    },
  );

  for (const action of ['open', 'close', 'cancel'] as const satisfies readonly SessionAction[]) {
    app.post<{ Params: { id: string }; Body: { reason?: string } }>(
      `/api/v1/sessions/:id/${action}`,
      {
        config: { policy: 'sessions.manage' },
        schema: {
          summary:
            action === 'open'
              ? 'Open a scheduled session for marking'
              : action === 'close'
                ? 'Close an open session; it stays provisional until its devices have synced'
                : 'Cancel a scheduled or open session, with a reason; a cancelled session never counts',
          params: { type: 'object', required: ['id'], properties: { id: UUID } },
          ...(action === 'cancel'
            ? { body: { type: 'object', additionalProperties: false, required: ['reason'], properties: { reason: { type: 'string', minLength: 3, maxLength: 500 } } } }
            : {}),
          response: { 200: { $ref: 'SessionView#' }, 400: ErrorResponse, 404: ErrorResponse, 409: ErrorResponse },
        },
      },
      async (request) => {
        const exists = (await findSession(db, request.params.id)) !== null;
        await authorizeSession(request, db, request.params.id, exists);
        if (!exists) throw new HttpError(404, 'not_found', 'no such object');
        await db.transaction((tx) =>
          sessions.transition(tx, request.params.id, action, { audit: auditContextOf(request), at: new Date(now()), reason: request.body?.reason ?? null }),
        );
        return findSession(db, request.params.id);
      },
    );
  }

  app.post<{ Body: { termId: string; from: string; to: string; departmentId?: string } }>(
    '/api/v1/sessions/generate',
    {
      config: { policy: 'timetable.manage' },
      schema: {
        summary: 'Generate (or bring up to date) the sessions of a term from its timetable for a range of local dates; an HOD for their department',
        body: {
          type: 'object',
          additionalProperties: false,
          required: ['termId', 'from', 'to'],
          properties: { termId: ID, from: DATE, to: DATE, departmentId: ID },
        },
        response: {
          200: {
            type: 'object',
            required: ['created', 'updated', 'removed', 'unchanged', 'skippedPast'],
            properties: { created: { type: 'integer' }, updated: { type: 'integer' }, removed: { type: 'integer' }, unchanged: { type: 'integer' }, skippedPast: { type: 'integer' } },
          },
          400: ErrorResponse,
          404: ErrorResponse,
        },
      },
    },
    async (request) => {
      const { termId, from, to, departmentId } = request.body;
      request.authorize({ departmentId: departmentId ?? null });
      if (to < from) throw new HttpError(400, 'invalid_range', 'to must not be before from', { path: '/to' });
      if (daysBetween(from, to) > MAX_GENERATE_DAYS) throw new HttpError(400, 'range_too_long', `at most ${MAX_GENERATE_DAYS} days at once`, { path: '/to' });
      if ((await db.query('select 1 from terms where id = $1', [termId])).rows.length === 0) throw new HttpError(400, 'unknown_term', `no term ${termId}`, { path: '/termId' });
      const at = new Date(now());
      return db.transaction(async (tx) => {
        const result = await generateSessions(tx, { termId, from, to, now: at, ...(departmentId ? { departmentId } : {}) });
        await appendAudit(tx, { ...auditContextOf(request), action: 'sessions.generate', target: `term:${termId}`, after: { from, to, departmentId: departmentId ?? null, ...result } });
        return result;
      });
    },
  );

  app.get<{ Querystring: { limit: number; cursor?: string; kind?: FlagKind; sessionId?: string; open?: boolean } }>(
    '/api/v1/session-flags',
    {
      config: { policy: 'sessions.list' },
      schema: {
        summary: 'Sessions that need a look: not taken, escalated to the HOD, finalized by timeout (scoped like sessions; students see none), newest first',
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            limit: { type: 'integer', minimum: 1, maximum: MAX_PAGE, default: 100 },
            cursor: { type: 'string', maxLength: 200 },
            kind: { type: 'string', enum: FLAG_KINDS },
            sessionId: UUID,
            open: { type: 'boolean', description: 'only unresolved flags (true) or only resolved ones (false)' },
          },
        },
        response: {
          200: { type: 'object', required: ['items', 'nextCursor'], properties: { items: { type: 'array', items: FlagSchema }, nextCursor: { type: ['string', 'null'] } } },
          400: ErrorResponse,
        },
      },
    },
    async (request) => {
      const { limit, cursor, ...filters } = request.query;
      const before = cursor ? decodeCursor(cursor) : undefined;
      const rows = await listFlags(db, scopeOf(request.principal!), { ...filters, ...(before ? { before } : {}) }, limit + 1);
      return pageOf(rows, limit, (last) => [last.createdAt, last.id]);
    },
  );
}
