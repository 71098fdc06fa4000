import { randomUUID } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { appendAudit, auditContextOf } from '../audit/append.js';
import type { Db, Queryable } from '../db/db.js';
import { ErrorResponse, HttpError } from '../errors.js';
import { reprojectLeave } from '../leave/projection.js';
import { regenerateGenerated, removeScheduledSession } from '../sessions/generate.js';
import { isoWeekday } from '../sessions/localTime.js';
import type { SessionGroup } from '../sessions/queries.js';
import { decodeCursor, pageOf } from '../pagination.js';
import { checkRoomAndFaculty, loadSections } from '../sessions/routes.js';
import { checkClashes, findSlot, listSlots, slotDepartments, writeSlot, type SlotShape, type SlotView } from './slots.js';

const MAX_PAGE = 1000;
const UUID = { type: 'string', format: 'uuid' } as const;
const ID = { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$' } as const;
const DATE = { type: 'string', format: 'date' } as const;
const TIME = { type: 'string', pattern: '^([01][0-9]|2[0-3]):[0-5][0-9]$', description: 'local time HH:MM' } as const;
const CHANGE_KINDS = ['rescheduled', 'cancelled', 'extra', 'substitute'] as const;
type ChangeKind = (typeof CHANGE_KINDS)[number];

const GroupSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['sectionId'],
  properties: { sectionId: UUID, subgroupId: { type: ['string', 'null'], format: 'uuid' } },
} as const;

const SlotViewSchema = {
  $id: 'SlotView',
  type: 'object',
  required: ['id', 'termId', 'campusId', 'weekday', 'startsAt', 'endsAt', 'roomId', 'facultyId', 'effectiveFrom', 'effectiveTo', 'groups'],
  properties: {
    id: { type: 'string' },
    termId: { type: 'string' },
    campusId: { type: 'string' },
    weekday: { type: 'integer', description: 'ISO weekday: 1 Monday … 7 Sunday' },
    startsAt: { type: 'string' },
    endsAt: { type: 'string' },
    roomId: { type: ['string', 'null'] },
    facultyId: { type: ['string', 'null'] },
    effectiveFrom: { type: 'string' },
    effectiveTo: { type: ['string', 'null'] },
    groups: { type: 'array', items: { type: 'object', properties: { sectionId: { type: 'string' }, subgroupId: { type: ['string', 'null'] } } } },
  },
} as const;

const ChangeViewSchema = {
  $id: 'TimetableChange',
  type: 'object',
  required: ['id', 'kind', 'slotId', 'onDate', 'reason', 'createdBy', 'createdAt'],
  properties: {
    id: { type: 'string' },
    kind: { type: 'string', enum: CHANGE_KINDS },
    slotId: { type: ['string', 'null'] },
    onDate: { type: ['string', 'null'] },
    newDate: { type: ['string', 'null'] },
    newStartsAt: { type: ['string', 'null'] },
    newEndsAt: { type: ['string', 'null'] },
    newRoomId: { type: ['string', 'null'] },
    substituteFacultyId: { type: ['string', 'null'] },
    sectionId: { type: ['string', 'null'] },
    reason: { type: ['string', 'null'] },
    createdBy: { type: 'string' },
    createdAt: { type: 'string', format: 'date-time' },
  },
} as const;

const SlotProperties = {
  termId: ID,
  weekday: { type: 'integer', minimum: 1, maximum: 7 },
  startsAt: TIME,
  endsAt: TIME,
  roomId: { ...ID, type: ['string', 'null'] },
  facultyId: { type: ['string', 'null'], format: 'uuid' },
  effectiveFrom: DATE,
  effectiveTo: { type: ['string', 'null'], format: 'date' },
  groups: { type: 'array', minItems: 1, maxItems: 20, items: GroupSchema },
} as const;

interface SlotBody {
  termId: string;
  weekday: number;
  startsAt: string;
  endsAt: string;
  roomId?: string | null;
  facultyId?: string | null;
  effectiveFrom: string;
  effectiveTo?: string | null;
  groups: { sectionId: string; subgroupId?: string | null }[];
}

interface ChangeBody {
  kind: ChangeKind;
  slotId?: string;
  onDate?: string;
  newDate?: string;
  newStartsAt?: string;
  newEndsAt?: string;
  newRoomId?: string;
  substituteFacultyId?: string;
  sectionId?: string;
  reason?: string;
}

interface ChangeView {
  id: string;
  kind: ChangeKind;
  slotId: string | null;
  onDate: string | null;
  newDate: string | null;
  newStartsAt: string | null;
  newEndsAt: string | null;
  newRoomId: string | null;
  substituteFacultyId: string | null;
  sectionId: string | null;
  reason: string | null;
  createdBy: string;
  createdAt: Date;
}

const CHANGE_COLUMNS = `id, kind, slot_id as "slotId", on_date::text as "onDate", new_date::text as "newDate", to_char(new_starts_at, 'HH24:MI') as "newStartsAt",
  to_char(new_ends_at, 'HH24:MI') as "newEndsAt", new_room_id as "newRoomId", substitute_faculty_id as "substituteFacultyId", section_id as "sectionId",
  reason, created_by as "createdBy", created_at as "createdAt"`;

/** The object rule of timetable.manage, for each department involved: every one must allow the caller. */
function authorizeDepartments(request: FastifyRequest, departmentIds: readonly (string | null)[]): void {
  for (const departmentId of departmentIds.length > 0 ? departmentIds : [null]) request.authorize({ departmentId });
}

/** Checks a slot as it will be stored: its sections, room, teacher, times, dates and clashes. Returns its campus. */
async function validateSlot(db: Queryable, slot: SlotShape): Promise<string> {
  const sections = await loadSections(db, slot.groups, (index) => `/groups/${index}`);
  const wrongTerm = sections.findIndex((section) => section.termId !== slot.termId);
  if (wrongTerm >= 0) throw new HttpError(400, 'section_of_other_term', `section ${sections[wrongTerm]!.id} belongs to term ${sections[wrongTerm]!.termId}`, { path: `/groups/${wrongTerm}/sectionId` });
  if ((await db.query('select 1 from terms where id = $1', [slot.termId])).rows.length === 0) throw new HttpError(400, 'unknown_term', `no term ${slot.termId}`, { path: '/termId' });
  if (slot.endsAt <= slot.startsAt) throw new HttpError(400, 'invalid_times', 'endsAt must be after startsAt', { path: '/endsAt' });
  if (slot.effectiveTo !== null && slot.effectiveTo < slot.effectiveFrom) throw new HttpError(400, 'invalid_dates', 'effectiveTo must not be before effectiveFrom', { path: '/effectiveTo' });
  await checkRoomAndFaculty(db, slot.roomId, slot.facultyId);
  const campusId = sections[0]!.campusId;
  if (slot.roomId) {
    const room = await db.query<{ campusId: string }>('select campus_id as "campusId" from rooms where id = $1', [slot.roomId]);
    if (room.rows[0]!.campusId !== campusId) throw new HttpError(400, 'room_of_other_campus', `room ${slot.roomId} is not on campus ${campusId}`, { path: '/roomId' });
  }
  await checkClashes(db, slot);
  return campusId;
}

const normalizeGroups = (groups: SlotBody['groups']): SessionGroup[] => groups.map((group) => ({ sectionId: group.sectionId, subgroupId: group.subgroupId ?? null }));

export interface TimetableRoutesOptions {
  db: Db;
  now: () => number;
}

export async function timetableRoutes(app: FastifyInstance, { db, now }: TimetableRoutesOptions): Promise<void> {
  app.addSchema(SlotViewSchema);
  app.addSchema(ChangeViewSchema);

  app.get<{ Querystring: { termId?: string; sectionId?: string; roomId?: string; limit: number; cursor?: string } }>(
    '/api/v1/timetable',
    {
      config: { policy: 'timetable.read' },
      schema: {
        summary: 'Weekly timetable slots (local times), optionally of one term, section or room, in pages. Reference data: every role sees all of it.',
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: { termId: ID, sectionId: UUID, roomId: ID, limit: { type: 'integer', minimum: 1, maximum: MAX_PAGE, default: 200 }, cursor: { type: 'string', maxLength: 100 } },
        },
        response: {
          200: { type: 'object', required: ['items', 'nextCursor'], properties: { items: { type: 'array', items: { $ref: 'SlotView#' } }, nextCursor: { type: ['string', 'null'] } } },
          400: ErrorResponse,
        },
      },
    },
    async (request) => {
      const { limit, cursor, ...filter } = request.query;
      const afterId = cursor ? decodeCursor(cursor).id : undefined;
      const rows = await listSlots(db, { ...filter, ...(afterId ? { afterId } : {}) }, limit + 1);
      return pageOf(rows, limit, (last) => [new Date(0), last.id]);
    },
  );

  app.get<{ Querystring: { termId: string; from?: string; to?: string; limit: number; cursor?: string } }>(
    '/api/v1/timetable/changes',
    {
      config: { policy: 'timetable.read' },
      schema: {
        summary: "A term's one-off timetable changes (rescheduled, cancelled, extra, substitute), by the date they concern, in pages",
        querystring: {
          type: 'object',
          additionalProperties: false,
          required: ['termId'],
          properties: { termId: ID, from: DATE, to: DATE, limit: { type: 'integer', minimum: 1, maximum: MAX_PAGE, default: 200 }, cursor: { type: 'string', maxLength: 100 } },
        },
        response: {
          200: { type: 'object', required: ['items', 'nextCursor'], properties: { items: { type: 'array', items: { $ref: 'TimetableChange#' } }, nextCursor: { type: ['string', 'null'] } } },
          400: ErrorResponse,
        },
      },
    },
    async (request) => {
      const { termId, from, to, limit, cursor } = request.query;
      const params: unknown[] = [termId];
      const conditions = [
        `coalesce((select term_id from timetable_slots ts where ts.id = ch.slot_id), (select term_id from course_sections cs where cs.id = ch.section_id)) = $1`,
      ];
      if (from) conditions.push(`coalesce(ch.on_date, ch.new_date) >= $${params.push(from)}`);
      if (to) conditions.push(`coalesce(ch.on_date, ch.new_date) <= $${params.push(to)}`);
      if (cursor) conditions.push(`ch.id > $${params.push(decodeCursor(cursor).id)}`);
      const { rows } = await db.query<ChangeView>(
        `select ${CHANGE_COLUMNS} from timetable_changes ch where ${conditions.join(' and ')} order by ch.id limit $${params.push(limit + 1)}`,
        params,
      );
      return pageOf(rows, limit, (last) => [new Date(0), last.id]);
    },
  );

  app.post<{ Body: SlotBody }>(
    '/api/v1/timetable/slots',
    {
      config: { policy: 'timetable.manage' },
      schema: {
        summary: 'Add a weekly slot. Refused (409) when it meets another slot in the same room, with the same teacher or the same students.',
        body: { type: 'object', additionalProperties: false, required: ['termId', 'weekday', 'startsAt', 'endsAt', 'effectiveFrom', 'groups'], properties: SlotProperties },
        response: { 201: { $ref: 'SlotView#' }, 400: ErrorResponse, 404: ErrorResponse, 409: ErrorResponse },
      },
    },
    async (request, reply) => {
      const body = request.body;
      const slot: SlotShape = {
        id: randomUUID(),
        termId: body.termId,
        weekday: body.weekday,
        startsAt: body.startsAt,
        endsAt: body.endsAt,
        roomId: body.roomId ?? null,
        facultyId: body.facultyId ?? null,
        effectiveFrom: body.effectiveFrom,
        effectiveTo: body.effectiveTo ?? null,
        groups: normalizeGroups(body.groups),
      };
      const sections = await loadSections(db, slot.groups, (index) => `/groups/${index}`);
      authorizeDepartments(request, [...new Set(sections.map((section) => section.departmentId))]);
      const at = new Date(now());
      await db.transaction(async (tx) => {
        const campusId = await validateSlot(tx, slot);
        await writeSlot(tx, { ...slot, campusId }, true);
        await appendAudit(tx, { ...auditContextOf(request), action: 'timetable.slot.create', target: `timetable-slot:${slot.id}`, after: slot });
        await regenerateGenerated(tx, slot.termId, at);
      });
      return reply.code(201).send(await findSlot(db, slot.id));
    },
  );

  app.patch<{ Params: { id: string }; Body: Partial<SlotBody> & { reason?: string } }>(
    '/api/v1/timetable/slots/:id',
    {
      config: { policy: 'timetable.manage' },
      schema: {
        summary: "Change a slot from now on: future scheduled sessions follow; open, closed and past ones keep what they were",
        params: { type: 'object', required: ['id'], properties: { id: UUID } },
        body: { type: 'object', additionalProperties: false, minProperties: 1, properties: { ...SlotProperties, reason: { type: 'string', minLength: 3, maxLength: 500 } } },
        response: { 200: { $ref: 'SlotView#' }, 400: ErrorResponse, 404: ErrorResponse, 409: ErrorResponse },
      },
    },
    async (request) => {
      const before = await findSlot(db, request.params.id);
      authorizeDepartments(request, before ? await slotDepartments(db, before.id) : []);
      if (!before) throw new HttpError(404, 'not_found', 'no such object');
      const { reason, groups, ...changes } = request.body;
      const slot: SlotShape = {
        ...before,
        ...Object.fromEntries(Object.entries(changes).filter(([, value]) => value !== undefined)),
        roomId: changes.roomId === undefined ? before.roomId : changes.roomId,
        facultyId: changes.facultyId === undefined ? before.facultyId : changes.facultyId,
        effectiveTo: changes.effectiveTo === undefined ? before.effectiveTo : changes.effectiveTo,
        groups: groups ? normalizeGroups(groups) : before.groups,
      };
      if (groups) {
        const sections = await loadSections(db, slot.groups, (index) => `/groups/${index}`);
        authorizeDepartments(request, [...new Set(sections.map((section) => section.departmentId))]);
      }
      const at = new Date(now());
      await db.transaction(async (tx) => {
        const campusId = await validateSlot(tx, slot);
        await writeSlot(tx, { ...slot, campusId }, false);
        await appendAudit(tx, { ...auditContextOf(request), action: 'timetable.slot.update', target: `timetable-slot:${slot.id}`, before, after: slot, reason: reason ?? null });
        for (const termId of new Set([before.termId, slot.termId])) await regenerateGenerated(tx, termId, at);
      });
      return (await findSlot(db, slot.id)) as SlotView;
    },
  );

  app.delete<{ Params: { id: string } }>(
    '/api/v1/timetable/slots/:id',
    {
      config: { policy: 'timetable.manage' },
      schema: {
        summary: 'Remove a slot: its future scheduled sessions go with it; sessions that were held stay, without the link',
        params: { type: 'object', required: ['id'], properties: { id: UUID } },
        response: { 204: { type: 'null' }, 404: ErrorResponse },
      },
    },
    async (request, reply) => {
      const before = await findSlot(db, request.params.id);
      authorizeDepartments(request, before ? await slotDepartments(db, before.id) : []);
      if (!before) throw new HttpError(404, 'not_found', 'no such object');
      const at = new Date(now());
      await db.transaction(async (tx) => {
        const removed = await tx.query<{ id: string }>(`select id from sessions where slot_id = $1 and state = 'scheduled' and starts_at > $2`, [before.id, at]);
        for (const { id } of removed.rows) await removeScheduledSession(tx, id, at);
        await reprojectLeave(tx, { sessionIds: removed.rows.map((row) => row.id) }, at.getTime());
        await tx.query('delete from timetable_slots where id = $1', [before.id]);
        await appendAudit(tx, { ...auditContextOf(request), action: 'timetable.slot.delete', target: `timetable-slot:${before.id}`, before, after: { futureSessionsRemoved: removed.rows.length } });
      });
      return reply.code(204).send();
    },
  );

  app.post<{ Body: ChangeBody }>(
    '/api/v1/timetable/changes',
    {
      config: { policy: 'timetable.manage' },
      schema: {
        summary:
          'A one-off change to one occurrence of a slot (rescheduled, cancelled, substitute) or an extra class for a section. Already generated future sessions follow at once.',
        body: {
          type: 'object',
          additionalProperties: false,
          required: ['kind'],
          properties: {
            kind: { type: 'string', enum: CHANGE_KINDS },
            slotId: UUID,
            onDate: DATE,
            newDate: DATE,
            newStartsAt: TIME,
            newEndsAt: TIME,
            newRoomId: ID,
            substituteFacultyId: UUID,
            sectionId: UUID,
            reason: { type: 'string', minLength: 3, maxLength: 500 },
          },
        },
        response: { 201: { $ref: 'TimetableChange#' }, 400: ErrorResponse, 404: ErrorResponse, 409: ErrorResponse },
      },
    },
    async (request, reply) => {
      const body = request.body;
      const need = (field: keyof ChangeBody, why: string) => {
        if (body[field] === undefined) throw new HttpError(400, 'missing_field', `${body.kind} needs ${field}: ${why}`, { path: `/${field}` });
      };
      let termId: string;
      let slot: SlotView | null = null;
      if (body.kind === 'extra') {
        if (body.slotId !== undefined || body.onDate !== undefined) throw new HttpError(400, 'unexpected_field', 'an extra class belongs to no slot', { path: body.slotId !== undefined ? '/slotId' : '/onDate' });
        need('sectionId', 'the section the extra class is for');
        need('newDate', 'the date of the extra class');
        need('newStartsAt', 'when it starts');
        need('newEndsAt', 'when it ends');
        const [section] = await loadSections(db, [{ sectionId: body.sectionId!, subgroupId: null }], () => '');
        authorizeDepartments(request, [section!.departmentId]);
        termId = section!.termId;
      } else {
        need('slotId', 'the slot whose occurrence changes');
        need('onDate', 'the date of the occurrence');
        slot = await findSlot(db, body.slotId!);
        if (!slot) throw new HttpError(400, 'unknown_slot', `no slot ${body.slotId}`, { path: '/slotId' });
        authorizeDepartments(request, await slotDepartments(db, slot.id));
        termId = slot.termId;
        if (body.kind === 'cancelled') need('reason', 'students see why the class is cancelled');
        if (body.kind === 'substitute') need('substituteFacultyId', 'who takes the class');
        if (body.kind === 'rescheduled' && body.newDate === undefined && body.newStartsAt === undefined && body.newEndsAt === undefined && body.newRoomId === undefined) {
          throw new HttpError(400, 'missing_field', 'rescheduled needs a new date, time or room', { path: '/newDate' });
        }
        const { rows: term } = await db.query<{ startsOn: string; endsOn: string }>('select starts_on::text as "startsOn", ends_on::text as "endsOn" from terms where id = $1', [termId]);
        const onDate = body.onDate!;
        const inEffect = onDate >= slot.effectiveFrom && (slot.effectiveTo === null || onDate <= slot.effectiveTo) && onDate >= term[0]!.startsOn && onDate <= term[0]!.endsOn;
        if (isoWeekday(onDate) !== slot.weekday || !inEffect) throw new HttpError(400, 'not_an_occurrence', `the slot does not meet on ${onDate}`, { path: '/onDate' });
      }
      const startsAt = body.newStartsAt ?? slot?.startsAt;
      const endsAt = body.newEndsAt ?? slot?.endsAt;
      if ((body.kind === 'rescheduled' || body.kind === 'extra') && startsAt! >= endsAt!) throw new HttpError(400, 'invalid_times', 'the new end must be after the new start', { path: '/newEndsAt' });
      await checkRoomAndFaculty(db, body.newRoomId, body.substituteFacultyId);
      const id = randomUUID();
      const at = new Date(now());
      await db.transaction(async (tx) => {
        const inserted = await tx.query(
          `insert into timetable_changes (id, kind, slot_id, on_date, new_date, new_starts_at, new_ends_at, new_room_id, substitute_faculty_id, section_id, reason, created_by, created_at)
           values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
           on conflict do nothing returning id`,
          [
            id,
            body.kind,
            body.slotId ?? null,
            body.onDate ?? null,
            body.newDate ?? null,
            body.newStartsAt ?? null,
            body.newEndsAt ?? null,
            body.newRoomId ?? null,
            body.substituteFacultyId ?? null,
            body.sectionId ?? null,
            body.reason ?? null,
            request.principal!.id,
            at,
          ],
        );
        if (inserted.rows.length === 0) throw new HttpError(409, 'change_exists', `the occurrence of ${body.onDate} already has a change`, { path: '/onDate' });
        await appendAudit(tx, { ...auditContextOf(request), action: `timetable.change.${body.kind}`, target: `timetable-change:${id}`, after: body, reason: body.reason ?? null });
        await regenerateGenerated(tx, termId, at, body.newDate);
      });
      const { rows } = await db.query<ChangeView>(`select ${CHANGE_COLUMNS} from timetable_changes where id = $1`, [id]);
      return reply.code(201).send(rows[0]);
    },
  );
}
