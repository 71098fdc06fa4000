import { createHash, randomBytes, randomUUID } from 'node:crypto';
import type { Queryable } from '../db/db.js';

/** Refresh tokens are random, shown once, and kept only as SHA-256 hashes. */
const REFRESH_PREFIX = 'rt_';

export function hashToken(token: string): Buffer {
  return createHash('sha256').update(token).digest();
}

function newRefreshToken(): string {
  return REFRESH_PREFIX + randomBytes(32).toString('base64url');
}

export interface IssuedRefresh {
  token: string;
  familyId: string;
  familyExpiresAt: Date;
}

/** Starts a family (one sign-in) with its first token. */
export async function startFamily(
  db: Queryable,
  userId: string,
  now: Date,
  absoluteLifetimeMs: number,
  client: { ip: string | null; userAgent: string | null },
): Promise<IssuedRefresh> {
  const familyId = randomUUID();
  const familyExpiresAt = new Date(now.getTime() + absoluteLifetimeMs);
  await db.query('insert into refresh_families (id, user_id, created_at, expires_at, ip, user_agent) values ($1, $2, $3, $4, $5, $6)', [
    familyId,
    userId,
    now,
    familyExpiresAt,
    client.ip,
    client.userAgent?.slice(0, 300) ?? null,
  ]);
  const token = newRefreshToken();
  await db.query('insert into refresh_tokens (token_hash, family_id, issued_at) values ($1, $2, $3)', [hashToken(token), familyId, now]);
  return { token, familyId, familyExpiresAt };
}

export type RotationResult =
  | { outcome: 'rotated'; userId: string; next: IssuedRefresh }
  | { outcome: 'reused'; userId: string; familyId: string }
  | { outcome: 'invalid'; reason: 'unknown' | 'revoked' | 'expired' };

/**
 * Consumes a refresh token and hands out its successor. Consumption is one
 * conditional UPDATE, so of any number of concurrent refreshes with one
 * token exactly one succeeds. A token that was already used means it was
 * copied: the caller revokes the family.
 */
export async function rotate(db: Queryable, token: string, now: Date): Promise<RotationResult> {
  const tokenHash = hashToken(token);
  const consumed = await db.query<{ family_id: string }>(
    'update refresh_tokens set used_at = $2 where token_hash = $1 and used_at is null returning family_id',
    [tokenHash, now],
  );
  const familyId = consumed.rows[0]?.family_id ?? (await familyOf(db, tokenHash));
  if (!familyId) return { outcome: 'invalid', reason: 'unknown' };
  const { rows } = await db.query<{ user_id: string; expires_at: Date; revoked_at: Date | null }>(
    'select user_id, expires_at, revoked_at from refresh_families where id = $1',
    [familyId],
  );
  const family = rows[0]!;
  if (family.revoked_at) return { outcome: 'invalid', reason: 'revoked' };
  if (consumed.rowCount === 0) return { outcome: 'reused', userId: family.user_id, familyId };
  if (family.expires_at.getTime() <= now.getTime()) return { outcome: 'invalid', reason: 'expired' };
  const next = newRefreshToken();
  await db.query('insert into refresh_tokens (token_hash, family_id, issued_at) values ($1, $2, $3)', [hashToken(next), familyId, now]);
  return { outcome: 'rotated', userId: family.user_id, next: { token: next, familyId, familyExpiresAt: family.expires_at } };
}

async function familyOf(db: Queryable, tokenHash: Buffer): Promise<string | null> {
  const { rows } = await db.query<{ family_id: string }>('select family_id from refresh_tokens where token_hash = $1', [tokenHash]);
  return rows[0]?.family_id ?? null;
}

export async function revokeFamily(db: Queryable, familyId: string, reason: string, now: Date): Promise<void> {
  await db.query('update refresh_families set revoked_at = $2, revoked_reason = $3 where id = $1 and revoked_at is null', [familyId, now, reason]);
}

/** The family of a token, if the token exists (used or not). */
export async function familyOfToken(db: Queryable, token: string): Promise<{ familyId: string; userId: string } | null> {
  const { rows } = await db.query<{ family_id: string; user_id: string }>(
    'select t.family_id, f.user_id from refresh_tokens t join refresh_families f on f.id = t.family_id where t.token_hash = $1',
    [hashToken(token)],
  );
  return rows[0] ? { familyId: rows[0].family_id, userId: rows[0].user_id } : null;
}

export async function revokeAllFamilies(db: Queryable, userId: string, reason: string, now: Date): Promise<number> {
  const { rowCount } = await db.query('update refresh_families set revoked_at = $2, revoked_reason = $3 where user_id = $1 and revoked_at is null', [
    userId,
    now,
    reason,
  ]);
  return rowCount;
}
