import type { FastifyInstance } from 'fastify';
import { appendAudit, auditContextOf } from '../audit/append.js';
import type { Db, Queryable } from '../db/db.js';
import { HttpError } from '../errors.js';
import { decodeCursor, pageOf } from '../pagination.js';

const MAX_PAGE = 200;
const UUID = { type: 'string', format: 'uuid' } as const;
const TIME = { type: 'string', format: 'date-time' } as const;
const NULLABLE_TIME = { type: ['string', 'null'], format: 'date-time' } as const;
const MINUTE_OF_DAY = { type: ['integer', 'null'], minimum: 0, maximum: 1439 } as const;
const object = (properties: Record<string, unknown>) => ({ type: 'object', required: Object.keys(properties), properties }) as const;
const PAGING = { limit: { type: 'integer', minimum: 1, maximum: MAX_PAGE, default: 50 }, cursor: { type: 'string', maxLength: 200, description: 'nextCursor of the previous page' } };

const Notification = object({
  id: UUID,
  kind: { type: 'string' },
  title: { type: 'string' },
  body: { type: 'object', additionalProperties: true },
  createdAt: TIME,
  readAt: NULLABLE_TIME,
});
const Preferences = object({
  email: { type: 'boolean' },
  mutedKinds: { type: 'array', items: { type: 'string', maxLength: 100 }, maxItems: 50 },
  quietFrom: MINUTE_OF_DAY,
  quietTo: MINUTE_OF_DAY,
  timeZone: { type: 'string', minLength: 1, maxLength: 64 },
});
const Attempt = object({ attempt: { type: 'integer' }, at: TIME, outcome: { type: 'string' }, detail: { type: ['string', 'null'] } });
const Delivery = object({
  channel: { type: 'string' },
  destination: { type: 'string' },
  state: { type: 'string' },
  attempts: { type: 'integer' },
  deliveredAt: NULLABLE_TIME,
  lastError: { type: ['string', 'null'] },
  history: { type: 'array', items: Attempt },
});
const LedgerEntry = object({ id: UUID, kind: { type: 'string' }, recipient: { type: 'string' }, createdAt: TIME, deliveries: { type: 'array', items: Delivery } });

const DEFAULT_PREFERENCES = { email: true, mutedKinds: [] as string[], quietFrom: null, quietTo: null, timeZone: 'UTC' };

function isTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat('en', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

/** The in-app inbox, each user's delivery preferences, and the delivery ledger (docs/notifications.md). */
export async function notificationRoutes(app: FastifyInstance, { db, now }: { db: Db; now: () => number }): Promise<void> {
  app.get<{ Querystring: { unread?: boolean; limit: number; cursor?: string } }>(
    '/api/v1/notifications',
    {
      config: { policy: 'notifications.inbox' },
      schema: {
        summary: 'The caller\'s own notifications, newest first, in pages',
        querystring: { type: 'object', additionalProperties: false, properties: { unread: { type: 'boolean' }, ...PAGING } },
        response: { 200: object({ items: { type: 'array', items: Notification }, nextCursor: { type: ['string', 'null'] } }) },
      },
    },
    async (request) => {
      const { limit, cursor, unread } = request.query;
      const after = cursor ? decodeCursor(cursor) : undefined;
      const { rows } = await db.query<{ id: string; kind: string; title: string; body: unknown; createdAt: Date; readAt: Date | null }>(
        `select id, kind, title, body, created_at as "createdAt", read_at as "readAt" from notifications
          where recipient = $1 and ($2::boolean is not true or read_at is null)
            and ($3::timestamptz is null or (created_at, id) < ($3::timestamptz, $4::uuid))
          order by created_at desc, id desc limit $5`,
        [request.principal!.id, unread ?? null, after?.at ?? null, after?.id ?? null, limit + 1],
      );
      return pageOf(rows, limit, (last) => [last.createdAt, last.id]);
    },
  );

  app.post<{ Params: { id: string } }>(
    '/api/v1/notifications/:id/read',
    {
      config: { policy: 'notifications.inbox' },
      schema: {
        summary: 'Mark one of the caller\'s notifications read',
        params: { type: 'object', required: ['id'], properties: { id: UUID } },
        response: { 200: Notification },
      },
    },
    async (request) => {
      const { rows } = await db.query<{ id: string; kind: string; title: string; body: unknown; createdAt: Date; readAt: Date | null }>(
        `update notifications set read_at = coalesce(read_at, $3) where id = $1 and recipient = $2
         returning id, kind, title, body, created_at as "createdAt", read_at as "readAt"`,
        [request.params.id, request.principal!.id, new Date(now())],
      );
      if (!rows[0]) throw new HttpError(404, 'not_found', 'no such object');
      return rows[0];
    },
  );

  app.get(
    '/api/v1/notifications/preferences',
    {
      config: { policy: 'notifications.inbox' },
      schema: { summary: 'The caller\'s delivery preferences: email on or off, muted kinds, quiet hours', response: { 200: Preferences } },
    },
    async (request) => (await readPreferences(db, request.principal!.id)) ?? DEFAULT_PREFERENCES,
  );

  app.put<{ Body: typeof DEFAULT_PREFERENCES & { quietFrom: number | null; quietTo: number | null } }>(
    '/api/v1/notifications/preferences',
    {
      config: { policy: 'notifications.preferences' },
      schema: {
        summary: 'Set the caller\'s delivery preferences; quiet hours are minutes of the day in their time zone, during which email waits',
        body: { ...Preferences, additionalProperties: false },
        response: { 200: Preferences },
      },
    },
    async (request) => {
      const body = request.body;
      if ((body.quietFrom === null) !== (body.quietTo === null)) throw new HttpError(400, 'invalid_quiet_hours', 'quietFrom and quietTo are set together or not at all', { path: '/quietTo' });
      if (!isTimeZone(body.timeZone)) throw new HttpError(400, 'invalid_time_zone', `timeZone ${body.timeZone} is not an IANA time zone`, { path: '/timeZone' });
      if (request.principal!.kind !== 'user') throw new HttpError(403, 'not_a_user', 'preferences belong to a user account');
      const userId = request.principal!.id;
      return db.transaction(async (tx) => {
        const before = await readPreferences(tx, userId);
        await tx.query(
          `insert into notification_preferences (user_id, email, muted_kinds, quiet_from, quiet_to, time_zone, updated_at) values ($1, $2, $3, $4, $5, $6, $7)
           on conflict (user_id) do update set email = excluded.email, muted_kinds = excluded.muted_kinds, quiet_from = excluded.quiet_from,
             quiet_to = excluded.quiet_to, time_zone = excluded.time_zone, updated_at = excluded.updated_at`,
          [userId, body.email, body.mutedKinds, body.quietFrom, body.quietTo, body.timeZone, new Date(now())],
        );
        const after = { email: body.email, mutedKinds: body.mutedKinds, quietFrom: body.quietFrom, quietTo: body.quietTo, timeZone: body.timeZone };
        await appendAudit(tx, { ...auditContextOf(request), action: 'notifications.preferences.set', target: `user:${userId}`, before: before ?? DEFAULT_PREFERENCES, after });
        return after;
      });
    },
  );

  app.get<{ Querystring: { notificationId?: string; state?: string; limit: number; cursor?: string } }>(
    '/api/v1/notifications/deliveries',
    {
      config: { policy: 'notifications.ledger' },
      schema: {
        summary: 'The delivery ledger: notifications newest first, each with its deliveries by channel, their state and every attempt',
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: { notificationId: UUID, state: { type: 'string', enum: ['pending', 'delivered', 'failed'] }, ...PAGING },
        },
        response: { 200: object({ items: { type: 'array', items: LedgerEntry }, nextCursor: { type: ['string', 'null'] } }) },
      },
    },
    async (request) => {
      const { limit, cursor, notificationId, state } = request.query;
      const after = cursor ? decodeCursor(cursor) : undefined;
      const { rows } = await db.query<{ id: string; createdAt: Date }>(
        `select n.id, n.kind, n.recipient, n.created_at as "createdAt",
                coalesce((select json_agg(json_build_object(
                           'channel', d.channel, 'destination', d.destination, 'state', d.state, 'attempts', d.attempts,
                           'deliveredAt', d.delivered_at, 'lastError', d.last_error,
                           'history', coalesce((select json_agg(json_build_object('attempt', a.attempt, 'at', a.at, 'outcome', a.outcome, 'detail', a.detail) order by a.attempt)
                                                  from notification_attempts a
                                                 where a.notification_id = d.notification_id and a.channel = d.channel and a.destination = d.destination), '[]'))
                           order by d.channel, d.destination)
                            from notification_deliveries d where d.notification_id = n.id), '[]') as deliveries
           from notifications n
          where exists (select 1 from notification_deliveries d where d.notification_id = n.id and ($2::text is null or d.state = $2))
            and ($1::uuid is null or n.id = $1)
            and ($3::timestamptz is null or (n.created_at, n.id) < ($3::timestamptz, $4::uuid))
          order by n.created_at desc, n.id desc limit $5`,
        [notificationId ?? null, state ?? null, after?.at ?? null, after?.id ?? null, limit + 1],
      );
      return pageOf(rows, limit, (last) => [new Date(last.createdAt), last.id]);
    },
  );
}

async function readPreferences(db: Queryable, userId: string) {
  const { rows } = await db.query<typeof DEFAULT_PREFERENCES>(
    `select email, muted_kinds as "mutedKinds", quiet_from as "quietFrom", quiet_to as "quietTo", time_zone as "timeZone"
       from notification_preferences where user_id = $1`,
    [userId],
  );
  return rows[0];
}
