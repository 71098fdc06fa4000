import type { FastifyInstance, FastifyRequest } from 'fastify';
import { auditContextOf } from '../audit/append.js';
import type { Db, Queryable } from '../db/db.js';
import { HttpError } from '../errors.js';
import { validateSettings } from './registry.js';
import { changeSettings, effectiveSettings, parseScope, scopeChain, type Scope } from './settings.js';

const SCOPE = { type: 'string', minLength: 3, maxLength: 100, description: 'institution:<id>, campus:<id>, department:<id> or section:<uuid>' } as const;
const TIME = { type: 'string', format: 'date-time' } as const;
const VALUES = { type: 'object', minProperties: 1, maxProperties: 50, additionalProperties: true, description: 'setting key → value; null clears the scope\'s own value' } as const;
const SettingError = { type: 'object', required: ['key', 'path', 'message'], properties: { key: { type: 'string' }, path: { type: 'string' }, message: { type: 'string' } } } as const;
const Effective = {
  type: 'object',
  required: ['key', 'value', 'from', 'effectiveFrom'],
  properties: { key: { type: 'string' }, value: {}, from: { type: 'string' }, effectiveFrom: { type: ['string', 'null'] } },
} as const;
const Version = {
  type: 'object',
  required: ['key', 'value', 'effectiveFrom', 'createdAt', 'actor', 'reason'],
  properties: { key: { type: 'string' }, value: {}, effectiveFrom: TIME, createdAt: TIME, actor: { type: 'string' }, reason: { type: 'string' } },
} as const;

/** Versioned settings: effective values, history, validate and change (docs/settings.md). */
export async function settingsRoutes(app: FastifyInstance, { db, now }: { db: Db; now: () => number }): Promise<void> {
  /** The scope's chain, after the policy's object rule has seen the scope's department. */
  async function authorizedChain(db: Queryable, request: FastifyRequest, text: string): Promise<{ scope: Scope; chain: Scope[] }> {
    const scope = parseScope(text);
    const resolved = await scopeChain(db, scope);
    request.authorize({ departmentId: resolved?.departmentId ?? null });
    if (!resolved) throw new HttpError(404, 'not_found', 'no such object');
    return { scope, chain: resolved.chain };
  }

  app.get<{ Querystring: { scope: string; at?: string } }>(
    '/api/v1/settings/effective',
    {
      config: { policy: 'settings.read' },
      schema: {
        summary: 'Every setting\'s value at a scope at a moment (default now), and which scope it comes from',
        querystring: { type: 'object', required: ['scope'], additionalProperties: false, properties: { scope: SCOPE, at: TIME } },
        response: { 200: { type: 'object', required: ['scope', 'at', 'items'], properties: { scope: { type: 'string' }, at: TIME, items: { type: 'array', items: Effective } } } },
      },
    },
    async (request) => {
      const { chain } = await authorizedChain(db, request, request.query.scope);
      const at = request.query.at ? new Date(request.query.at) : new Date(now());
      return { scope: request.query.scope, at: at.toISOString(), items: await effectiveSettings(db, chain, at) };
    },
  );

  app.get<{ Querystring: { scope: string; key?: string } }>(
    '/api/v1/settings/versions',
    {
      config: { policy: 'settings.read' },
      schema: {
        summary: 'Every version set at exactly this scope, newest first: value, effective-from date, who and why',
        querystring: { type: 'object', required: ['scope'], additionalProperties: false, properties: { scope: SCOPE, key: { type: 'string', maxLength: 100 } } },
        response: { 200: { type: 'object', required: ['items'], properties: { items: { type: 'array', items: Version } } } },
      },
    },
    async (request) => {
      const { scope } = await authorizedChain(db, request, request.query.scope);
      const { rows } = await db.query(
        `select key, value, effective_from as "effectiveFrom", created_at as "createdAt", actor, reason from settings_versions
          where scope_kind = $1 and scope_id = $2 and ($3::text is null or key = $3)
          order by effective_from desc, created_at desc limit 500`,
        [scope.kind, scope.id, request.query.key ?? null],
      );
      return { items: rows };
    },
  );

  app.post<{ Body: { values: Record<string, unknown> } }>(
    '/api/v1/settings/validate',
    {
      config: { policy: 'settings.read' },
      schema: {
        summary: 'Check setting values without saving them: every unknown key and every value that breaks its schema',
        body: { type: 'object', required: ['values'], additionalProperties: false, properties: { values: VALUES } },
        response: { 200: { type: 'object', required: ['valid', 'errors'], properties: { valid: { type: 'boolean' }, errors: { type: 'array', items: SettingError } } } },
      },
    },
    async (request) => {
      const errors = validateSettings(request.body.values);
      return { valid: errors.length === 0, errors };
    },
  );

  app.put<{ Body: { scope: string; values: Record<string, unknown>; effectiveFrom?: string; reason: string } }>(
    '/api/v1/settings',
    {
      config: { policy: 'settings.manage' },
      schema: {
        summary: 'Change settings at a scope from a date (default now), with a reason; the change is a new version and is audited',
        body: {
          type: 'object',
          required: ['scope', 'values', 'reason'],
          additionalProperties: false,
          properties: { scope: SCOPE, values: VALUES, effectiveFrom: TIME, reason: { type: 'string', minLength: 3, maxLength: 500 } },
        },
        response: { 200: { type: 'object', required: ['scope', 'items'], properties: { scope: { type: 'string' }, items: { type: 'array', items: Effective } } } },
      },
    },
    async (request) => {
      const { values, reason } = request.body;
      return db.transaction(async (tx) => {
        const { scope, chain } = await authorizedChain(tx, request, request.body.scope);
        const at = new Date(now());
        const effectiveFrom = request.body.effectiveFrom ? new Date(request.body.effectiveFrom) : at;
        await changeSettings(tx, { scope, values, effectiveFrom, reason }, auditContextOf(request), at);
        return { scope: request.body.scope, items: await effectiveSettings(tx, chain, effectiveFrom, Object.keys(values) as never) };
      });
    },
  );
}
