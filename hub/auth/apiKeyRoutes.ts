import type { FastifyInstance } from 'fastify';
import { appendAudit, auditContextOf } from '../audit/append.js';
import type { Db } from '../db/db.js';
import { ErrorResponse, HttpError } from '../errors.js';
import { API_KEY_SCOPES, issueApiKey, listApiKeys, revokeApiKey } from './apiKeys.js';

const ApiKeyView = {
  type: 'object',
  required: ['id', 'name', 'prefix', 'scopes', 'createdBy', 'createdAt', 'expiresAt', 'lastUsedAt', 'revokedAt'],
  properties: {
    id: { type: 'string' },
    name: { type: 'string' },
    prefix: { type: 'string', description: 'the first characters of the key, to recognise it' },
    scopes: { type: 'array', items: { type: 'string' } },
    createdBy: { type: 'string' },
    createdAt: { type: 'string', format: 'date-time' },
    expiresAt: { type: ['string', 'null'], format: 'date-time' },
    lastUsedAt: { type: ['string', 'null'], format: 'date-time' },
    revokedAt: { type: ['string', 'null'], format: 'date-time' },
  },
} as const;

export async function apiKeyRoutes(app: FastifyInstance, { db, now }: { db: Db; now: () => number }): Promise<void> {
  app.post<{ Body: { name: string; scopes: string[]; expiresInDays?: number } }>(
    '/api/v1/api-keys',
    {
      config: { policy: 'api-keys.manage' },
      schema: {
        summary: 'Issue an integration API key. The key is in this answer only; the hub keeps a hash.',
        body: {
          type: 'object',
          additionalProperties: false,
          required: ['name', 'scopes'],
          properties: {
            name: { type: 'string', minLength: 1, maxLength: 100 },
            scopes: { type: 'array', minItems: 1, uniqueItems: true, items: { type: 'string', enum: API_KEY_SCOPES } },
            expiresInDays: { type: 'integer', minimum: 1, maximum: 3650 },
          },
        },
        response: { 201: { type: 'object', required: ['key', 'apiKey'], properties: { key: { type: 'string' }, apiKey: ApiKeyView } }, 400: ErrorResponse },
      },
    },
    async (request, reply) => {
      const { name, scopes, expiresInDays } = request.body;
      const expiresAt = expiresInDays ? new Date(now() + expiresInDays * 86_400_000) : null;
      const issued = await db.transaction(async (tx) => {
        const result = await issueApiKey(tx, { name, scopes, expiresAt, createdBy: request.principal!.id });
        await appendAudit(tx, { ...auditContextOf(request), action: 'api-key.issue', target: `api-key:${result.view.id}`, after: { name, scopes, expiresAt } });
        return result;
      });
      return reply.code(201).send({ key: issued.key, apiKey: issued.view });
    },
  );

  app.get(
    '/api/v1/api-keys',
    {
      config: { policy: 'api-keys.manage' },
      schema: { summary: 'Integration API keys (never the keys themselves)', response: { 200: { type: 'object', properties: { items: { type: 'array', items: ApiKeyView } } } } },
    },
    async () => ({ items: await listApiKeys(db) }),
  );

  app.delete<{ Params: { id: string } }>(
    '/api/v1/api-keys/:id',
    {
      config: { policy: 'api-keys.manage' },
      schema: {
        summary: 'Revoke an API key; it stops working at once',
        params: { type: 'object', required: ['id'], properties: { id: { type: 'string', format: 'uuid' } } },
        response: { 200: ApiKeyView, 404: ErrorResponse },
      },
    },
    async (request) => {
      const revoked = await db.transaction(async (tx) => {
        const result = await revokeApiKey(tx, request.params.id, new Date(now()));
        if (result) await appendAudit(tx, { ...auditContextOf(request), action: 'api-key.revoke', target: `api-key:${result.id}` });
        return result;
      });
      if (!revoked) throw new HttpError(404, 'not_found', 'no such API key');
      return revoked;
    },
  );
}
