import { randomBytes, randomUUID } from 'node:crypto';
import type { Queryable } from '../db/db.js';
import { HttpError } from '../errors.js';
import { API_KEY_PREFIX } from './bootstrap.js';
import { bearerToken, type Authenticator } from './policy.js';
import { hashToken } from './refreshTokens.js';
import { RULES, type Principal, type Role, type RuleName } from './rules.js';

/** Rules an integration key may be scoped to: those that admit the service role. */
export const API_KEY_SCOPES = (Object.keys(RULES) as RuleName[]).filter((rule) => (RULES[rule].roles as readonly Role[]).includes('service'));

export interface ApiKeyView {
  id: string;
  name: string;
  prefix: string;
  scopes: string[];
  createdBy: string;
  createdAt: string;
  expiresAt: string | null;
  lastUsedAt: string | null;
  revokedAt: string | null;
}

interface ApiKeyRow {
  id: string;
  name: string;
  prefix: string;
  scopes: string[];
  created_by: string;
  created_at: Date;
  expires_at: Date | null;
  last_used_at: Date | null;
  revoked_at: Date | null;
}

function view(row: ApiKeyRow): ApiKeyView {
  return {
    id: row.id,
    name: row.name,
    prefix: row.prefix,
    scopes: row.scopes,
    createdBy: row.created_by,
    createdAt: row.created_at.toISOString(),
    expiresAt: row.expires_at?.toISOString() ?? null,
    lastUsedAt: row.last_used_at?.toISOString() ?? null,
    revokedAt: row.revoked_at?.toISOString() ?? null,
  };
}

export async function issueApiKey(
  db: Queryable,
  input: { name: string; scopes: string[]; expiresAt: Date | null; createdBy: string },
): Promise<{ key: string; view: ApiKeyView }> {
  const unknown = input.scopes.filter((scope) => !(API_KEY_SCOPES as string[]).includes(scope));
  if (unknown.length > 0) {
    throw new HttpError(400, 'invalid_scope', `API keys may be scoped only to ${API_KEY_SCOPES.join(', ')}`, { unknown });
  }
  const key = API_KEY_PREFIX + randomBytes(32).toString('base64url');
  const id = randomUUID();
  const { rows } = await db.query<ApiKeyRow>(
    `insert into api_keys (id, name, key_hash, prefix, scopes, created_by, expires_at) values ($1, $2, $3, $4, $5, $6, $7)
     returning id, name, prefix, scopes, created_by, created_at, expires_at, last_used_at, revoked_at`,
    [id, input.name, hashToken(key), key.slice(0, API_KEY_PREFIX.length + 6), input.scopes, input.createdBy, input.expiresAt],
  );
  return { key, view: view(rows[0]!) };
}

export async function listApiKeys(db: Queryable): Promise<ApiKeyView[]> {
  const { rows } = await db.query<ApiKeyRow>(
    'select id, name, prefix, scopes, created_by, created_at, expires_at, last_used_at, revoked_at from api_keys order by created_at, id',
  );
  return rows.map(view);
}

export async function revokeApiKey(db: Queryable, id: string, now: Date): Promise<ApiKeyView | null> {
  const { rows } = await db.query<ApiKeyRow>(
    `update api_keys set revoked_at = coalesce(revoked_at, $2) where id = $1
     returning id, name, prefix, scopes, created_by, created_at, expires_at, last_used_at, revoked_at`,
    [id, now],
  );
  return rows[0] ? view(rows[0]) : null;
}

/** Bearer `chk_…` keys: a service principal limited to the key's scopes. */
export function apiKeyAuthenticator(db: Queryable, now: () => number): Authenticator {
  return async (request) => {
    const presented = bearerToken(request);
    if (!presented?.startsWith(API_KEY_PREFIX)) return null;
    const { rows } = await db.query<{ id: string; scopes: string[] }>(
      `update api_keys set last_used_at = $2 where key_hash = $1 and revoked_at is null and (expires_at is null or expires_at > $2)
       returning id, scopes`,
      [hashToken(presented), new Date(now())],
    );
    const row = rows[0];
    if (!row) throw new HttpError(401, 'unauthorized', 'API key is unknown, revoked or expired');
    const principal: Principal = { id: `api-key:${row.id}`, kind: 'api-key', role: 'service', departmentId: null, scopes: row.scopes };
    return principal;
  };
}
