import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';

/**
 * Every route declares who may call it, in `config.policy`. There is no
 * default: the hub refuses to start when a route has none. For now there are
 * two rules; the identity issue replaces the development admin token with
 * users, roles and object-level rules.
 */
export type Policy = 'public' | 'admin';

declare module 'fastify' {
  interface FastifyContextConfig {
    policy?: Policy;
  }
  interface FastifyRequest {
    /** Who made the request, for records of who did what. */
    actor: string | null;
  }
}

export class MissingPolicyError extends Error {
  override readonly name = 'MissingPolicyError';
}

function digest(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}

/** Compares digests, so neither the length nor the content of the token leaks through timing. */
function tokenMatches(presented: string, expected: Buffer): boolean {
  return timingSafeEqual(digest(presented), expected);
}

function bearerToken(request: FastifyRequest): string | null {
  const header = request.headers.authorization;
  if (!header) return null;
  const match = /^Bearer\s+(\S+)$/i.exec(header);
  return match ? match[1]! : null;
}

export function installAuthorization(app: FastifyInstance, adminToken: string | undefined): void {
  const expected = adminToken ? digest(adminToken) : null;
  app.decorateRequest('actor', null);

  app.addHook('onRoute', (route) => {
    const policy = route.config?.policy;
    if (policy !== 'public' && policy !== 'admin') {
      throw new MissingPolicyError(`route ${String(route.method)} ${route.url} declares no authorization policy (config.policy)`);
    }
  });

  app.addHook('onRequest', async (request: FastifyRequest, reply: FastifyReply) => {
    const policy = request.routeOptions.config.policy;
    // Requests that match no route have no policy; they end as 404.
    if (policy === undefined || policy === 'public') return;
    const token = bearerToken(request);
    if (!token || !expected || !tokenMatches(token, expected)) {
      reply.header('www-authenticate', 'Bearer realm="campushub"');
      return reply.code(401).send({
        error: 'unauthorized',
        message: expected ? 'this route needs a valid admin bearer token' : 'admin routes are disabled: the hub was started without an admin token',
        details: null,
      });
    }
    request.actor = 'dev-admin';
  });
}
