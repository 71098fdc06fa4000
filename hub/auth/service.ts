import type { FastifyRequest } from 'fastify';
import { appendAudit, type AuditContext } from '../audit/append.js';
import type { Db } from '../db/db.js';
import { HttpError } from '../errors.js';
import { signAccessToken, TokenError, verifyAccessToken } from './jwt.js';
import type { PasswordHasher } from './passwords.js';
import { bearerToken, type Authenticator } from './policy.js';
import { familyOfToken, revokeAllFamilies, revokeFamily, rotate, startFamily } from './refreshTokens.js';
import type { Principal } from './rules.js';
import { recordLoginFailure, recordLoginSuccess, throttleWaitMs, type ThrottleLimits } from './throttle.js';
import { findUserById, findUserByUsername, raiseSessionEpoch, setPasswordHash, type UserRow } from './users.js';

export interface AuthSettings {
  /** Access-token lifetime, seconds (15 minutes). */
  accessTokenTtlS: number;
  /** A sign-in's absolute lifetime: its refresh tokens stop working after this, however often they rotate. */
  refreshAbsoluteTtlMs: number;
  throttle: ThrottleLimits;
}

export interface TokenPair {
  accessToken: string;
  tokenType: 'Bearer';
  expiresIn: number;
  refreshToken: string;
  refreshExpiresAt: string;
}

/** What a failed sign-in looks like, whatever the reason: the same status, body and work. */
export const INVALID_CREDENTIALS = new HttpError(401, 'invalid_credentials', 'wrong username or password');

export interface AuthService {
  login(username: string, password: string, context: AuditContext & { userAgent: string | null }): Promise<TokenPair>;
  refresh(refreshToken: string, context: AuditContext & { userAgent: string | null }): Promise<TokenPair>;
  logout(refreshToken: string, context: AuditContext): Promise<void>;
  logoutEverywhere(userId: string, context: AuditContext): Promise<number>;
  /** Reads `Authorization: Bearer <access token>`. */
  accessTokenAuthenticator: Authenticator;
}

export interface AuthServiceDeps {
  db: Db;
  hasher: PasswordHasher;
  signingKey: Buffer;
  now: () => number;
  settings: AuthSettings;
  onLogin?: (result: 'success' | 'failure' | 'throttled') => void;
}

function principalOf(user: UserRow): Principal {
  return { id: user.id, kind: 'user', role: user.role, departmentId: user.department_id, scopes: null };
}

export function createAuthService({ db, hasher, signingKey, now, settings, onLogin = () => {} }: AuthServiceDeps): AuthService {
  const tokenPair = (user: UserRow, refresh: { token: string; familyExpiresAt: Date }): TokenPair => ({
    accessToken: signAccessToken(signingKey, user.id, user.session_epoch, now(), settings.accessTokenTtlS),
    tokenType: 'Bearer',
    expiresIn: settings.accessTokenTtlS,
    refreshToken: refresh.token,
    refreshExpiresAt: refresh.familyExpiresAt.toISOString(),
  });

  return {
    async login(username, password, context) {
      const ip = context.ip ?? 'unknown';
      const waitMs = await throttleWaitMs(db, username, ip, now(), settings.throttle);
      if (waitMs > 0) {
        onLogin('throttled');
        throw new HttpError(429, 'too_many_attempts', 'too many failed sign-ins; wait before trying again', { retryAfterSeconds: Math.ceil(waitMs / 1000) });
      }
      const user = await findUserByUsername(db, username);
      let verdict: { ok: boolean; stale: boolean } = { ok: false, stale: false };
      if (user?.password_hash) verdict = await hasher.verify(user.password_hash, password);
      else await hasher.verifyDummy(password);
      const accepted = verdict.ok && user !== null && user.status === 'active';
      const at = new Date(now());
      if (!accepted) {
        await db.transaction(async (tx) => {
          await recordLoginFailure(tx, username, ip, now(), settings.throttle);
          await appendAudit(tx, {
            ...context,
            action: 'auth.login',
            outcome: 'failure',
            target: user ? `user:${user.id}` : null,
            after: { reason: !user ? 'unknown_user' : verdict.ok ? 'disabled' : 'wrong_password' },
          });
        });
        onLogin('failure');
        throw INVALID_CREDENTIALS;
      }
      const rehashed = verdict.stale ? await hasher.hash(password) : null;
      const refresh = await db.transaction(async (tx) => {
        await recordLoginSuccess(tx, username);
        if (rehashed) await setPasswordHash(tx, user.id, rehashed, at);
        const issued = await startFamily(tx, user.id, at, settings.refreshAbsoluteTtlMs, { ip: context.ip ?? null, userAgent: context.userAgent });
        await appendAudit(tx, { ...context, actor: user.id, action: 'auth.login', target: `user:${user.id}`, after: { family: issued.familyId, rehashed: rehashed !== null } });
        return issued;
      });
      onLogin('success');
      return tokenPair(user, refresh);
    },

    async refresh(refreshToken, context) {
      const at = new Date(now());
      const result = await db.transaction(async (tx) => {
        const rotation = await rotate(tx, refreshToken, at);
        if (rotation.outcome === 'reused') {
          await revokeFamily(tx, rotation.familyId, 'reuse', at);
          await appendAudit(tx, {
            ...context,
            actor: rotation.userId,
            action: 'auth.refresh.reuse',
            outcome: 'failure',
            target: `user:${rotation.userId}`,
            after: { family: rotation.familyId, revoked: true },
          });
        }
        if (rotation.outcome !== 'rotated') return rotation;
        const user = await findUserById(tx, rotation.userId);
        if (!user || user.status !== 'active') {
          await revokeFamily(tx, rotation.next.familyId, 'user_disabled', at);
          return { outcome: 'invalid' as const, reason: 'revoked' as const };
        }
        return { ...rotation, user };
      });
      if (result.outcome === 'rotated') return tokenPair(result.user, result.next);
      if (result.outcome === 'reused') {
        throw new HttpError(401, 'refresh_token_reused', 'this refresh token was already used; the sign-in it belongs to has been revoked. Sign in again.');
      }
      throw new HttpError(401, 'invalid_refresh_token', `refresh token is ${result.reason === 'unknown' ? 'not valid' : result.reason}; sign in again`);
    },

    async logout(refreshToken, context) {
      const at = new Date(now());
      await db.transaction(async (tx) => {
        const family = await familyOfToken(tx, refreshToken);
        if (!family) return;
        await revokeFamily(tx, family.familyId, 'logout', at);
        await appendAudit(tx, { ...context, actor: family.userId, action: 'auth.logout', target: `user:${family.userId}`, after: { family: family.familyId } });
      });
    },

    async logoutEverywhere(userId, context) {
      const at = new Date(now());
      return db.transaction(async (tx) => {
        const revoked = await revokeAllFamilies(tx, userId, 'logout_everywhere', at);
        await raiseSessionEpoch(tx, userId);
        await appendAudit(tx, { ...context, action: 'auth.logout-everywhere', target: `user:${userId}`, after: { revokedSignIns: revoked } });
        return revoked;
      });
    },

    async accessTokenAuthenticator(request: FastifyRequest) {
      const token = bearerToken(request);
      if (!token || token.split('.').length !== 3) return null;
      let subject: string;
      let epoch: number;
      try {
        const claims = verifyAccessToken(signingKey, token, now());
        subject = claims.sub;
        epoch = claims.sep;
      } catch (error) {
        if (error instanceof TokenError) throw new HttpError(401, 'invalid_token', error.message);
        throw error;
      }
      const user = await findUserById(db, subject);
      if (!user || user.status !== 'active' || user.session_epoch !== epoch) {
        throw new HttpError(401, 'invalid_token', 'token was revoked; sign in again');
      }
      return principalOf(user);
    },
  };
}
