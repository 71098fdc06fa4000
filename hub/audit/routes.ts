import type { FastifyInstance } from 'fastify';
import type { Db, Queryable } from '../db/db.js';
import { HttpError } from '../errors.js';
import { appendAudit, auditContextOf } from './append.js';

const MAX_PAGE = 500;
/** An export is one response; larger ones are cut by narrowing the time range. */
const MAX_EXPORT_ROWS = 100_000;
const TIME = { type: 'string', format: 'date-time' } as const;

const FILTERS = {
  actor: { type: 'string', maxLength: 200, description: 'who: a user id, `api-key:<id>`, `system:<job>`' },
  target: { type: 'string', maxLength: 300, description: 'what it was done to, e.g. `user:<id>`, `session:<id>`' },
  action: { type: 'string', maxLength: 100, pattern: '^[a-z0-9_.-]+(\\.\\*)?$', description: 'an action, or a prefix such as `leave.*`' },
  from: { ...TIME, description: 'at or after' },
  to: { ...TIME, description: 'before' },
} as const;
interface Filters {
  actor?: string;
  target?: string;
  action?: string;
  from?: string;
  to?: string;
}

const Entry = {
  type: 'object',
  required: ['id', 'seq', 'at', 'actor', 'action', 'target', 'before', 'after', 'reason', 'source', 'outcome'],
  properties: {
    id: { type: 'string' },
    seq: { type: ['string', 'null'] },
    at: TIME,
    actor: { type: 'string' },
    action: { type: 'string' },
    target: { type: ['string', 'null'] },
    before: {},
    after: {},
    reason: { type: ['string', 'null'] },
    source: { type: 'string' },
    outcome: { type: 'string' },
  },
} as const;

interface EntryRow {
  id: string;
  seq: string | null;
  at: Date;
  actor: string;
  action: string;
  target: string | null;
  before: unknown;
  after: unknown;
  reason: string | null;
  source: string;
  outcome: string;
}

function encodeIdCursor(id: string): string {
  return Buffer.from(`audit:${id}`).toString('base64url');
}

function decodeIdCursor(cursor: string): string {
  const match = /^audit:([1-9][0-9]{0,18})$/.exec(Buffer.from(cursor, 'base64url').toString());
  if (!match) throw new HttpError(400, 'invalid_cursor', 'cursor is not one this API returned', { path: '/cursor' });
  return match[1]!;
}

/** Entries matching the filters, newest first, before entry id `before`. */
function searchEntries(db: Queryable, filters: Filters, limit: number, before: string | null) {
  const prefix = filters.action?.endsWith('.*') ? filters.action.slice(0, -1) : null;
  return db.query<EntryRow>(
    `select id::text as id, seq::text as seq, at, actor, action, target, before, after, reason, source, outcome from audit_log
      where ($1::text is null or actor = $1) and ($2::text is null or target = $2)
        and ($3::text is null or action = $3) and ($4::text is null or starts_with(action, $4))
        and ($5::timestamptz is null or at >= $5) and ($6::timestamptz is null or at < $6)
        and ($7::bigint is null or id < $7)
      order by audit_log.id desc limit $8`,
    [filters.actor ?? null, filters.target ?? null, prefix ? null : (filters.action ?? null), prefix, filters.from ?? null, filters.to ?? null, before, limit],
  );
}

const CSV_COLUMNS = ['id', 'seq', 'at', 'actor', 'action', 'target', 'source', 'outcome', 'reason', 'before', 'after'] as const;

function csvField(value: unknown): string {
  const text = value === null || value === undefined ? '' : value instanceof Date ? value.toISOString() : typeof value === 'string' ? value : JSON.stringify(value);
  // Quote every field, and defuse spreadsheet formulas (a cell starting with = + - @).
  return `"${(/^[=+\-@]/.test(text) ? `'${text}` : text).replace(/"/g, '""')}"`;
}

/** Search and export of the audit log (docs/audit.md). An export is itself audited. */
export async function auditRoutes(app: FastifyInstance, { db }: { db: Db }): Promise<void> {
  app.get<{ Querystring: Filters & { limit: number; cursor?: string } }>(
    '/api/v1/audit',
    {
      config: { policy: 'audit.read' },
      schema: {
        summary: 'Search the audit log by actor, target, action and time, newest first, in pages',
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: { ...FILTERS, limit: { type: 'integer', minimum: 1, maximum: MAX_PAGE, default: 100 }, cursor: { type: 'string', maxLength: 100 } },
        },
        response: { 200: { type: 'object', required: ['items', 'nextCursor'], properties: { items: { type: 'array', items: Entry }, nextCursor: { type: ['string', 'null'] } } } },
      },
    },
    async (request) => {
      const { limit, cursor, ...filters } = request.query;
      const { rows } = await searchEntries(db, filters, limit + 1, cursor ? decodeIdCursor(cursor) : null);
      const items = rows.slice(0, limit);
      return { items, nextCursor: rows.length > limit ? encodeIdCursor(items.at(-1)!.id) : null };
    },
  );

  app.get<{ Querystring: Filters & { format: 'csv' | 'json' } }>(
    '/api/v1/audit/export',
    {
      config: { policy: 'audit.export' },
      schema: {
        summary: `Download the entries matching the filters (at most ${MAX_EXPORT_ROWS}) as CSV or JSON; the export is audited`,
        querystring: { type: 'object', additionalProperties: false, required: ['format'], properties: { ...FILTERS, format: { type: 'string', enum: ['csv', 'json'] } } },
      },
    },
    async (request, reply) => {
      const { format, ...filters } = request.query;
      const rows = await db.transaction(async (tx) => {
        const { rows } = await searchEntries(tx, filters, MAX_EXPORT_ROWS + 1, null);
        if (rows.length > MAX_EXPORT_ROWS) throw new HttpError(400, 'export_too_large', `more than ${MAX_EXPORT_ROWS} entries match; narrow from and to`, { path: '/from' });
        await appendAudit(tx, { ...auditContextOf(request), action: 'audit.export', target: 'audit-log', after: { format, filters, entries: rows.length } });
        return rows;
      });
      const name = `campushub-audit-${new Date().toISOString().slice(0, 19).replace(/:/g, '')}.${format}`;
      reply.header('content-disposition', `attachment; filename="${name}"`);
      if (format === 'json') return reply.type('application/json').send(JSON.stringify(rows));
      const lines = [CSV_COLUMNS.join(','), ...rows.map((row) => CSV_COLUMNS.map((column) => csvField(row[column])).join(','))];
      return reply.type('text/csv; charset=utf-8').send(`${lines.join('\r\n')}\r\n`);
    },
  );
}
