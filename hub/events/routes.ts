import type { FastifyInstance } from 'fastify';
import { ID_PATTERN, TAP_METHODS, UUID_PATTERN } from '../../protocol/index.js';
import type { Db } from '../db/db.js';
import { ErrorResponse, HttpError } from '../errors.js';
import { listEvents, type EventFilter } from './queries.js';

const MAX_PAGE = 500;

const EventItem = {
  type: 'object',
  required: ['id', 'campusId', 'agentId', 'deviceId', 'kind', 'method', 'subject', 'deviceTime', 'receivedAt', 'ingestedAt'],
  properties: {
    id: { type: 'string' },
    campusId: { type: 'string' },
    agentId: { type: 'string' },
    deviceId: { type: 'string' },
    kind: { type: 'string' },
    method: { type: 'string' },
    subject: { type: 'string' },
    deviceTime: { type: ['string', 'null'], format: 'date-time' },
    receivedAt: { type: 'string', format: 'date-time' },
    ingestedAt: { type: 'string', format: 'date-time' },
    deviceKey: { type: ['string', 'null'] },
    score: { type: ['number', 'null'] },
  },
} as const;

interface EventsQuery {
  limit: number;
  cursor?: string;
  campusId?: string;
  agentId?: string;
  deviceId?: string;
  subject?: string;
  method?: string;
  from?: string;
  to?: string;
}

/** Cursors are opaque to clients: the id of the last event of the page, encoded. */
function encodeCursor(id: string): string {
  return Buffer.from(id).toString('base64url');
}

function decodeCursor(cursor: string): string {
  const id = Buffer.from(cursor, 'base64url').toString();
  if (!new RegExp(UUID_PATTERN).test(id)) throw new HttpError(400, 'invalid_cursor', 'cursor is not one this API returned', { cursor });
  return id;
}

export async function eventRoutes(app: FastifyInstance, { db }: { db: Db }): Promise<void> {
  app.get<{ Querystring: EventsQuery }>(
    '/api/v1/events',
    {
      config: { policy: 'events.read' },
      schema: {
        summary: 'Taps as delivered by the campus agents, newest first',
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            limit: { type: 'integer', minimum: 1, maximum: MAX_PAGE, default: 50 },
            cursor: { type: 'string', maxLength: 100, description: 'nextCursor of the previous page' },
            campusId: { type: 'string', pattern: ID_PATTERN },
            agentId: { type: 'string', pattern: ID_PATTERN },
            deviceId: { type: 'string', pattern: ID_PATTERN },
            subject: { type: 'string', minLength: 1, maxLength: 256 },
            method: { type: 'string', enum: [...TAP_METHODS] },
            from: { type: 'string', format: 'date-time', description: 'received at or after' },
            to: { type: 'string', format: 'date-time', description: 'received before' },
          },
        },
        response: {
          200: {
            type: 'object',
            required: ['items', 'nextCursor'],
            properties: { items: { type: 'array', items: EventItem }, nextCursor: { type: ['string', 'null'] } },
          },
          400: ErrorResponse,
          401: ErrorResponse,
        },
      },
    },
    async (request) => {
      const { limit, cursor, ...filters } = request.query;
      const filter: EventFilter = { ...filters, ...(cursor ? { beforeId: decodeCursor(cursor) } : {}) };
      const rows = await listEvents(db, filter, limit + 1);
      const items = rows.slice(0, limit);
      const last = items.at(-1);
      return { items, nextCursor: rows.length > limit && last ? encodeCursor(last.id) : null };
    },
  );
}
