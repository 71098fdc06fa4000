import type { FastifyInstance } from 'fastify';
import { ID_PATTERN } from '../../protocol/index.js';
import { appendAudit, auditContextOf } from '../audit/append.js';
import { scopeOf } from '../auth/rules.js';
import type { Db } from '../db/db.js';
import { ErrorResponse, HttpError } from '../errors.js';
import {
  existingCampuses,
  findSection,
  findStudent,
  listBatches,
  listCampuses,
  listCourses,
  listDepartments,
  listHolidays,
  listProgrammes,
  listRooms,
  listSections,
  listStudents,
  listTerms,
  replaceRoomDevices,
  termExists,
} from './queries.js';

const MAX_PAGE = 200;
/** Codes of reference data, as imports accept them. */
const CODE = { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9._\\-/]{0,63}$' } as const;
const UUID = { type: 'string', format: 'uuid' } as const;
const TEXT = { type: 'string' } as const;
const NULLABLE_TEXT = { type: ['string', 'null'] } as const;
const DATE = { type: 'string', format: 'date' } as const;

const object = (properties: Record<string, unknown>) => ({ type: 'object', required: Object.keys(properties), properties }) as const;
const listOf = (item: unknown) => object({ items: { type: 'array', items: item } });
const pageOf = (item: unknown) => object({ items: { type: 'array', items: item }, nextCursor: NULLABLE_TEXT });
const filters = (properties: Record<string, unknown>) => ({ type: 'object', additionalProperties: false, properties }) as const;
const PAGING = { limit: { type: 'integer', minimum: 1, maximum: MAX_PAGE, default: 50 }, cursor: { type: 'string', maxLength: 200, description: 'nextCursor of the previous page' } };

const Device = object({ campusId: TEXT, deviceId: TEXT });
const Room = object({ id: TEXT, campusId: TEXT, name: TEXT, capacity: { type: ['integer', 'null'] }, devices: { type: 'array', items: Device } });
const Section = object({ id: UUID, code: TEXT, termId: TEXT, courseId: TEXT, courseName: TEXT, component: TEXT, departmentId: TEXT });
const SectionDetail = object({
  ...Section.properties,
  teachers: { type: 'array', items: object({ facultyId: UUID, employeeNo: TEXT, name: TEXT, role: TEXT, userId: { type: ['string', 'null'] } }) },
  subgroups: { type: 'array', items: object({ id: UUID, code: TEXT }) },
  roll: {
    type: 'array',
    items: object({ studentId: UUID, rollNo: TEXT, name: TEXT, subgroupId: { type: ['string', 'null'] }, subgroupCode: NULLABLE_TEXT, enrolledOn: DATE, droppedOn: { type: ['string', 'null'] } }),
  },
});
const Student = object({
  id: UUID,
  rollNo: TEXT,
  name: TEXT,
  batchId: TEXT,
  programmeId: TEXT,
  departmentId: TEXT,
  sectionLabel: NULLABLE_TEXT,
  enrolmentDate: DATE,
  idCardNo: NULLABLE_TEXT,
  deviceUserId: NULLABLE_TEXT,
  userId: { type: ['string', 'null'] },
  status: TEXT,
});

/** Cursors are opaque to clients: the sort key of the last item, encoded. */
function encodeCursor(key: string): string {
  return Buffer.from(key).toString('base64url');
}

function decodeCursor(cursor: string, pattern: RegExp): string {
  const key = Buffer.from(cursor, 'base64url').toString();
  if (!pattern.test(key)) throw new HttpError(400, 'invalid_cursor', 'cursor is not one this API returned', { path: '/cursor' });
  return key;
}

const UUID_KEY = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const ROLL_KEY = /^[A-Za-z0-9][A-Za-z0-9._\-/]{0,63}$/;

export async function campusRoutes(app: FastifyInstance, { db }: { db: Db }): Promise<void> {
  const referenceList = <Q extends Record<string, string | undefined>>(path: string, summary: string, query: Record<string, unknown>, item: unknown, load: (query: Q) => Promise<unknown[]>) =>
    app.get<{ Querystring: Q }>(
      path,
      { config: { policy: 'campus.read' }, schema: { summary, querystring: filters(query), response: { 200: listOf(item), 400: ErrorResponse } } },
      async (request) => ({ items: await load(request.query as Q) }),
    );

  referenceList('/api/v1/campuses', 'Campuses with their institution and time zone', {}, object({ id: TEXT, institutionId: TEXT, institutionName: TEXT, name: TEXT, timezone: TEXT }), () => listCampuses(db));
  referenceList<{ campusId?: string }>('/api/v1/departments', 'Departments', { campusId: CODE }, object({ id: TEXT, campusId: TEXT, name: TEXT }), (query) => listDepartments(db, query.campusId));
  referenceList<{ departmentId?: string }>('/api/v1/programmes', 'Programmes of study', { departmentId: CODE }, object({ id: TEXT, departmentId: TEXT, name: TEXT }), (query) =>
    listProgrammes(db, query.departmentId),
  );
  referenceList<{ programmeId?: string }>(
    '/api/v1/batches',
    'Batches (a programme\'s intake of one year)',
    { programmeId: CODE },
    object({ id: TEXT, programmeId: TEXT, departmentId: TEXT, name: TEXT, startYear: { type: 'integer' } }),
    (query) => listBatches(db, query.programmeId),
  );
  referenceList<{ departmentId?: string }>('/api/v1/courses', 'Courses', { departmentId: CODE }, object({ id: TEXT, departmentId: TEXT, name: TEXT, credits: { type: ['number', 'null'] } }), (query) =>
    listCourses(db, query.departmentId),
  );
  referenceList(
    '/api/v1/terms',
    'Terms with their academic periods (instruction, examination, vacation)',
    {},
    object({ id: TEXT, institutionId: TEXT, name: TEXT, startsOn: DATE, endsOn: DATE, periods: { type: 'array', items: object({ id: UUID, kind: TEXT, name: TEXT, startsOn: DATE, endsOn: DATE }) } }),
    () => listTerms(db),
  );
  referenceList<{ termId?: string; campusId?: string }>(
    '/api/v1/holidays',
    'Holidays of the institution and its campuses; with termId, those within the term',
    { termId: CODE, campusId: CODE },
    object({ id: UUID, campusId: NULLABLE_TEXT, date: DATE, name: TEXT }),
    async (query) => {
      if (query.termId !== undefined && !(await termExists(db, query.termId))) throw new HttpError(400, 'unknown_term', `no term "${query.termId}"`, { path: '/termId' });
      return listHolidays(db, query);
    },
  );
  referenceList<{ campusId?: string }>('/api/v1/rooms', 'Rooms with the door devices that serve them', { campusId: CODE }, Room, (query) => listRooms(db, { campusId: query.campusId }));

  app.put<{ Params: { id: string }; Body: { devices: { campusId: string; deviceId: string }[]; reason?: string } }>(
    '/api/v1/rooms/:id/devices',
    {
      config: { policy: 'campus.manage' },
      schema: {
        summary: 'Say which door devices serve a room (replaces its list; a device serving another room moves here)',
        params: { type: 'object', required: ['id'], properties: { id: CODE } },
        body: {
          type: 'object',
          additionalProperties: false,
          required: ['devices'],
          properties: {
            devices: {
              type: 'array',
              maxItems: 100,
              uniqueItems: true,
              items: { type: 'object', additionalProperties: false, required: ['campusId', 'deviceId'], properties: { campusId: CODE, deviceId: { type: 'string', pattern: ID_PATTERN } } },
            },
            reason: { type: 'string', minLength: 3, maxLength: 500 },
          },
        },
        response: { 200: Room, 400: ErrorResponse, 404: ErrorResponse },
      },
    },
    async (request) => {
      const { devices, reason } = request.body;
      const known = await existingCampuses(db, devices.map((device) => device.campusId));
      const unknown = devices.findIndex((device) => !known.has(device.campusId));
      if (unknown >= 0) throw new HttpError(400, 'unknown_campus', `no campus "${devices[unknown]!.campusId}"`, { path: `/devices/${unknown}/campusId` });
      return db.transaction(async (tx) => {
        const [before] = await listRooms(tx, { roomId: request.params.id });
        if (!before) throw new HttpError(404, 'not_found', 'no such room');
        await replaceRoomDevices(tx, before.id, devices);
        const [after] = await listRooms(tx, { roomId: before.id });
        await appendAudit(tx, { ...auditContextOf(request), action: 'room.devices.set', target: `room:${before.id}`, before: before.devices, after: after!.devices, reason: reason ?? null });
        return after!;
      });
    },
  );

  app.get<{ Querystring: { limit: number; cursor?: string; termId?: string; courseId?: string; departmentId?: string } }>(
    '/api/v1/sections',
    {
      config: { policy: 'sections.list' },
      schema: {
        summary: 'Course sections the caller may see (HOD: department; faculty: those they teach; student: those they are enrolled in), in pages',
        querystring: filters({ ...PAGING, termId: CODE, courseId: CODE, departmentId: CODE }),
        response: { 200: pageOf(Section), 400: ErrorResponse },
      },
    },
    async (request) => {
      const { limit, cursor, ...filter } = request.query;
      const rows = await listSections(db, scopeOf(request.principal!), { ...filter, ...(cursor ? { afterId: decodeCursor(cursor, UUID_KEY) } : {}) }, limit + 1);
      const items = rows.slice(0, limit);
      return { items, nextCursor: rows.length > limit ? encodeCursor(items.at(-1)!.id) : null };
    },
  );

  app.get<{ Params: { id: string } }>(
    '/api/v1/sections/:id',
    {
      config: { policy: 'sections.read' },
      schema: {
        summary: 'One course section with its teachers, sub-groups and roll',
        params: { type: 'object', required: ['id'], properties: { id: UUID } },
        response: { 200: SectionDetail, 404: ErrorResponse },
      },
    },
    async (request) => {
      const section = await findSection(db, request.params.id);
      request.authorize({
        departmentId: section?.departmentId ?? null,
        facultyUserIds: section?.teachers.flatMap((teacher) => (teacher.userId ? [teacher.userId] : [])) ?? [],
      });
      if (!section) throw new HttpError(404, 'not_found', 'no such object');
      return section;
    },
  );

  app.get<{ Querystring: { limit: number; cursor?: string; batchId?: string; sectionId?: string; q?: string } }>(
    '/api/v1/students',
    {
      config: { policy: 'students.list' },
      schema: {
        summary: 'Students the caller may see (HOD: department; faculty: those they teach), by roll number, in pages',
        querystring: filters({ ...PAGING, batchId: CODE, sectionId: UUID, q: { type: 'string', minLength: 1, maxLength: 100, description: 'roll number or name contains' } }),
        response: { 200: pageOf(Student), 400: ErrorResponse },
      },
    },
    async (request) => {
      const { limit, cursor, ...filter } = request.query;
      const rows = await listStudents(db, scopeOf(request.principal!), { ...filter, ...(cursor ? { afterRollNo: decodeCursor(cursor, ROLL_KEY) } : {}) }, limit + 1);
      const items = rows.slice(0, limit);
      return { items, nextCursor: rows.length > limit ? encodeCursor(items.at(-1)!.rollNo) : null };
    },
  );

  app.get<{ Params: { id: string } }>(
    '/api/v1/students/:id',
    {
      config: { policy: 'students.read' },
      schema: {
        summary: 'One student',
        params: { type: 'object', required: ['id'], properties: { id: UUID } },
        response: { 200: Student, 404: ErrorResponse },
      },
    },
    async (request) => {
      const student = await findStudent(db, request.params.id);
      request.authorize({ ownerUserId: student?.userId ?? null, departmentId: student?.departmentId ?? null, facultyUserIds: student?.facultyUserIds ?? [] });
      if (!student) throw new HttpError(404, 'not_found', 'no such object');
      const { facultyUserIds: _, ...view } = student;
      return view;
    },
  );
}
