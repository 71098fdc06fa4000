import type { FastifyInstance } from 'fastify';
import { ID_PATTERN } from '../../protocol/index.js';
import type { AgentRegistry } from '../agents/registry.js';
import { UnknownAgentError } from '../agents/registry.js';
import { appendAudit, auditContextOf } from '../audit/append.js';
import type { Db } from '../db/db.js';
import { ErrorResponse, HttpError } from '../errors.js';
import type { PersonalQrSigner } from '../personalQr/signer.js';
import { agentCertificates } from '../templates/queries.js';
import { buildOfflineCache } from './offlineCache.js';
import { assignRoom, findDevice, insertDevice, listDevices, roomCampus, type NewDevice } from './queries.js';

const CODE = { type: 'string', pattern: ID_PATTERN } as const;
const NULLABLE_TEXT = { type: ['string', 'null'] } as const;
const NULLABLE_TIME = { type: ['string', 'null'], format: 'date-time' } as const;
const DeviceParams = { type: 'object', required: ['campusId', 'deviceId'], properties: { campusId: CODE, deviceId: CODE } } as const;

const Device = {
  type: 'object',
  required: ['campusId', 'deviceId', 'kind', 'status'],
  properties: {
    campusId: { type: 'string' },
    deviceId: { type: 'string' },
    kind: { type: 'string' },
    name: NULLABLE_TEXT,
    serial: NULLABLE_TEXT,
    agentId: NULLABLE_TEXT,
    status: { type: 'string', enum: ['active', 'retired'] },
    registeredBy: { type: 'string' },
    registeredAt: { type: 'string', format: 'date-time' },
    roomId: NULLABLE_TEXT,
    live: { type: ['object', 'null'], additionalProperties: true, description: 'as the agent last reported it: state, last seen, link statistics' },
    liveAt: NULLABLE_TIME,
    watermark: { ...NULLABLE_TIME, description: 'every event of the device up to this time has reached the hub' },
  },
} as const;

export interface DeviceRouteOptions {
  db: Db;
  registry: Pick<AgentRegistry, 'sendCommand'>;
  signer: PersonalQrSigner;
  openBeforeMinutes: number;
  now: () => number;
}

export async function deviceRoutes(app: FastifyInstance, { db, registry, signer, openBeforeMinutes, now }: DeviceRouteOptions): Promise<void> {
  app.get<{ Querystring: { campusId?: string } }>(
    '/api/v1/devices',
    {
      config: { policy: 'devices.read' },
      schema: {
        summary: 'Registered door devices with their room, live status and sync watermark',
        querystring: { type: 'object', additionalProperties: false, properties: { campusId: CODE } },
        response: { 200: { type: 'object', required: ['items'], properties: { items: { type: 'array', items: Device } } } },
      },
    },
    async (request) => ({ items: await listDevices(db, request.query.campusId) }),
  );

  app.post<{ Body: NewDevice & { reason?: string } }>(
    '/api/v1/devices',
    {
      config: { policy: 'devices.manage' },
      schema: {
        summary: 'Register a door device',
        body: {
          type: 'object',
          additionalProperties: false,
          required: ['campusId', 'deviceId', 'kind'],
          properties: {
            campusId: CODE,
            deviceId: { ...CODE, description: 'the id its agent gives it, as in events' },
            kind: { type: 'string', pattern: '^[a-z0-9-]{1,32}$', description: 'driver kind: zk, zk-push, r30x, qr, hid' },
            name: { type: ['string', 'null'], maxLength: 200, default: null },
            serial: { type: ['string', 'null'], maxLength: 100, default: null },
            agentId: { type: ['string', 'null'], pattern: ID_PATTERN, default: null },
            reason: { type: 'string', maxLength: 500 },
          },
        },
        response: { 201: Device, 400: ErrorResponse, 409: ErrorResponse },
      },
    },
    async (request, reply) => {
      const { reason, ...device } = request.body;
      const view = await db.transaction(async (tx) => {
        const { rows } = await tx.query('select 1 from campuses where id = $1', [device.campusId]);
        if (rows.length === 0) throw new HttpError(400, 'unknown_campus', `no campus "${device.campusId}"`, { path: '/campusId' });
        if (!(await insertDevice(tx, device, request.principal!.id, new Date(now())))) {
          throw new HttpError(409, 'already_registered', `device ${device.deviceId} of campus ${device.campusId} is registered already`);
        }
        await appendAudit(tx, { ...auditContextOf(request), action: 'devices.register', target: `device:${device.campusId}/${device.deviceId}`, after: device, reason: reason ?? null });
        return (await findDevice(tx, device.campusId, device.deviceId))!;
      });
      return reply.code(201).send(view);
    },
  );

  app.get<{ Params: { campusId: string; deviceId: string } }>(
    '/api/v1/devices/:campusId/:deviceId',
    {
      config: { policy: 'devices.read' },
      schema: { summary: 'One door device: registration, room, live status and link statistics, sync watermark', params: DeviceParams, response: { 200: Device, 404: ErrorResponse } },
    },
    async (request) => {
      const device = await findDevice(db, request.params.campusId, request.params.deviceId);
      if (!device) throw new HttpError(404, 'not_found', 'no such object');
      return device;
    },
  );

  app.put<{ Params: { campusId: string; deviceId: string }; Body: { roomId: string | null; reason?: string } }>(
    '/api/v1/devices/:campusId/:deviceId/room',
    {
      config: { policy: 'devices.manage' },
      schema: {
        summary: 'Assign a device to a room of its campus (null: to none); taps at it then count for that room\'s sessions',
        params: DeviceParams,
        body: { type: 'object', additionalProperties: false, required: ['roomId'], properties: { roomId: { type: ['string', 'null'], pattern: ID_PATTERN }, reason: { type: 'string', maxLength: 500 } } },
        response: { 200: Device, 400: ErrorResponse, 404: ErrorResponse },
      },
    },
    async (request) => {
      const { campusId, deviceId } = request.params;
      const { roomId, reason } = request.body;
      return db.transaction(async (tx) => {
        const before = await findDevice(tx, campusId, deviceId);
        if (!before) throw new HttpError(404, 'not_found', 'no such object');
        if (roomId !== null) {
          const campus = await roomCampus(tx, roomId);
          if (!campus) throw new HttpError(400, 'unknown_room', `no room "${roomId}"`, { path: '/roomId' });
          if (campus !== campusId) throw new HttpError(400, 'room_of_another_campus', `room ${roomId} is on campus ${campus}, not ${campusId}`, { path: '/roomId' });
        }
        await assignRoom(tx, campusId, deviceId, roomId, new Date(now()));
        await appendAudit(tx, { ...auditContextOf(request), action: 'devices.assign_room', target: `device:${campusId}/${deviceId}`, before: { roomId: before.roomId }, after: { roomId }, reason: reason ?? null });
        return (await findDevice(tx, campusId, deviceId))!;
      });
    },
  );

  app.post<{ Body: { campusId: string } }>(
    '/api/v1/devices/offline-cache',
    {
      config: { policy: 'devices.manage' },
      schema: {
        summary: 'Send today\'s sessions, door devices and rolls, with the personal-QR key, to every agent of a campus, for door decisions while the hub is unreachable',
        body: { type: 'object', additionalProperties: false, required: ['campusId'], properties: { campusId: CODE } },
        response: {
          200: {
            type: 'object',
            required: ['day', 'sessions', 'agents'],
            properties: {
              day: { type: 'string' },
              sessions: { type: 'integer' },
              agents: { type: 'array', items: { type: 'object', properties: { agentId: { type: 'string' }, status: { type: 'string', enum: ['ok', 'error', 'timeout', 'unknown_agent'] } } } },
            },
          },
          400: ErrorResponse,
        },
      },
    },
    async (request) => {
      const { campusId } = request.body;
      const { rows } = await db.query('select 1 from campuses where id = $1', [campusId]);
      if (rows.length === 0) throw new HttpError(400, 'unknown_campus', `no campus "${campusId}"`, { path: '/campusId' });
      const at = new Date(now());
      const cache = await buildOfflineCache(db, campusId, at, openBeforeMinutes, signer.publicKeyText);
      const agents: { agentId: string; status: string }[] = [];
      for (const { agentId } of await agentCertificates(db, campusId, at)) {
        try {
          // The record keeps the day and the count, not the rolls.
          const outcome = await registry.sendCommand(agentId, 'offline.cache', cache, auditContextOf(request), 'offline cache', { params: { day: cache.day, sessions: cache.sessions.length } });
          agents.push({ agentId, status: outcome.status });
        } catch (error) {
          if (!(error instanceof UnknownAgentError)) throw error;
          agents.push({ agentId, status: 'unknown_agent' });
        }
      }
      return { day: cache.day, sessions: cache.sessions.length, agents };
    },
  );
}
