import type { FastifyInstance, FastifyRequest } from 'fastify';
import { auditContextOf } from '../audit/append.js';
import type { Db } from '../db/db.js';
import { ErrorResponse, HttpError } from '../errors.js';
import type { FieldCipher } from '../keys/fieldCipher.js';
import { userView } from '../users/view.js';
import type { AuthService } from './service.js';
import { findUserById } from './users.js';

const TokenPairSchema = {
  type: 'object',
  required: ['accessToken', 'tokenType', 'expiresIn', 'refreshToken', 'refreshExpiresAt'],
  properties: {
    accessToken: { type: 'string' },
    tokenType: { type: 'string' },
    expiresIn: { type: 'integer', description: 'seconds' },
    refreshToken: { type: 'string' },
    refreshExpiresAt: { type: 'string', format: 'date-time', description: 'the absolute end of this sign-in' },
  },
} as const;

const RefreshBody = {
  type: 'object',
  additionalProperties: false,
  required: ['refreshToken'],
  properties: { refreshToken: { type: 'string', minLength: 1, maxLength: 200 } },
} as const;

export interface AuthRoutesOptions {
  db: Db;
  auth: AuthService;
  fields: FieldCipher;
  /** Sign-in attempts per client address per minute, before any password is checked. */
  loginRateLimitPerMinute: number;
}

function clientContext(request: FastifyRequest) {
  return { ...auditContextOf(request), userAgent: request.headers['user-agent'] ?? null };
}

export async function authRoutes(app: FastifyInstance, { db, auth, fields, loginRateLimitPerMinute }: AuthRoutesOptions): Promise<void> {
  app.post<{ Body: { username: string; password: string } }>(
    '/api/v1/auth/login',
    {
      config: { policy: 'public', rateLimit: { max: loginRateLimitPerMinute, timeWindow: 60_000 } },
      schema: {
        summary: 'Sign in with a username and password. Returns a 15-minute access token and a refresh token.',
        body: {
          type: 'object',
          additionalProperties: false,
          required: ['username', 'password'],
          properties: { username: { type: 'string', minLength: 1, maxLength: 200 }, password: { type: 'string', minLength: 1, maxLength: 1024 } },
        },
        response: { 200: TokenPairSchema, 401: ErrorResponse, 429: ErrorResponse },
      },
    },
    async (request) => auth.login(request.body.username, request.body.password, clientContext(request)),
  );

  app.post<{ Body: { refreshToken: string } }>(
    '/api/v1/auth/refresh',
    {
      config: { policy: 'public' },
      schema: {
        summary: 'Trade a refresh token for a new pair. Each refresh token works once; presenting it again revokes the whole sign-in.',
        body: RefreshBody,
        response: { 200: TokenPairSchema, 401: ErrorResponse },
      },
    },
    async (request) => auth.refresh(request.body.refreshToken, clientContext(request)),
  );

  app.post<{ Body: { refreshToken: string } }>(
    '/api/v1/auth/logout',
    {
      config: { policy: 'public' },
      schema: { summary: 'End the sign-in that a refresh token belongs to', body: RefreshBody, response: { 204: { type: 'null' } } },
    },
    async (request, reply) => {
      await auth.logout(request.body.refreshToken, auditContextOf(request));
      return reply.code(204).send();
    },
  );

  app.post(
    '/api/v1/auth/logout-everywhere',
    {
      config: { policy: 'session.self' },
      schema: {
        summary: 'End every sign-in of the caller: all refresh tokens stop working and access tokens are refused at once',
        response: { 200: { type: 'object', required: ['revokedSignIns'], properties: { revokedSignIns: { type: 'integer' } } } },
      },
    },
    async (request) => {
      const principal = request.principal!;
      if (principal.kind !== 'user') throw new HttpError(400, 'not_a_user', 'only users have sign-ins');
      return { revokedSignIns: await auth.logoutEverywhere(principal.id, auditContextOf(request)) };
    },
  );

  app.get(
    '/api/v1/auth/me',
    {
      config: { policy: 'session.self' },
      schema: { summary: 'The signed-in user, with personal fields masked', response: { 200: { $ref: 'UserView#' }, 404: ErrorResponse } },
    },
    async (request) => {
      const principal = request.principal!;
      const user = principal.kind === 'user' ? await findUserById(db, principal.id) : null;
      if (!user) throw new HttpError(404, 'not_found', 'the caller is not a user (bootstrap token or API key)');
      return userView(db, fields, user);
    },
  );
}
