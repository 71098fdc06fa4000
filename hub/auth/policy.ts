import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { HttpError } from '../errors.js';
import { decide, hasObjectRule, isRoutePolicy, mayUse, type OwnedObject, type Principal, type RoutePolicy } from './rules.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    policy?: RoutePolicy;
  }
  interface FastifyRequest {
    /** Who made the request; null only on public routes. */
    principal: Principal | null;
    /**
     * Applies the route's object rule to the object the route is about. A
     * route whose rule has an object part must call it before answering.
     */
    authorize(object: OwnedObject): void;
    objectAuthorized: boolean;
  }
}

/**
 * Finds who is calling, from the request's credentials. Returns null when the
 * request carries none this authenticator understands, and throws an
 * HttpError(401) when it carries one that is invalid. Sign-in methods (local
 * passwords now, OIDC later) all end in a token that one of these reads.
 */
export type Authenticator = (request: FastifyRequest) => Promise<Principal | null>;

export class MissingPolicyError extends Error {
  override readonly name = 'MissingPolicyError';
}

export function bearerToken(request: FastifyRequest): string | null {
  const header = request.headers.authorization;
  if (!header) return null;
  const match = /^Bearer\s+(\S+)$/i.exec(header);
  return match ? match[1]! : null;
}

function unauthorized(reply: FastifyReply, message: string): FastifyReply {
  reply.header('www-authenticate', 'Bearer realm="campushub"');
  return reply.code(401).send({ error: 'unauthorized', message, details: null });
}

/**
 * Default deny: a route without a known policy stops the hub at startup; a
 * request to a non-public route needs a principal whose role the rule admits;
 * a rule with an object part is enforced by `request.authorize`, and a route
 * that forgets to call it answers 500 instead of leaking the object.
 */
/** A route as the authorization layer saw it: what the route matrix test walks. */
export interface RouteEntry {
  method: string;
  url: string;
  policy: RoutePolicy;
}

export function installAuthorization(app: FastifyInstance, authenticators: readonly Authenticator[]): RouteEntry[] {
  const routes: RouteEntry[] = [];
  app.decorateRequest('principal', null);
  app.decorateRequest('objectAuthorized', false);
  app.decorateRequest('authorize', function (this: FastifyRequest, object: OwnedObject) {
    const policy = this.routeOptions.config.policy;
    if (!this.principal || policy === undefined || policy === 'public') throw new HttpError(500, 'internal', 'authorize() called on a route without a rule');
    const decision = decide(this.principal, policy, object);
    if (decision === 'forbidden') throw new HttpError(403, 'forbidden', `your role may not use this route (${policy})`);
    if (decision === 'not-found') throw new HttpError(404, 'not_found', 'no such object');
    this.objectAuthorized = true;
  });

  app.addHook('onRoute', (route) => {
    // The CORS plugin's preflight answers only which origins and methods are allowed; it reads and changes nothing.
    if (route.method === 'OPTIONS' && route.url === '*') route.config = { ...route.config, policy: 'public' };
    const policy = route.config?.policy;
    if (!isRoutePolicy(policy)) {
      throw new MissingPolicyError(`route ${String(route.method)} ${route.url} declares no known authorization policy (config.policy: ${String(policy)})`);
    }
    for (const method of [route.method].flat()) routes.push({ method, url: route.url, policy });
  });

  app.addHook('onRequest', async (request, reply) => {
    const policy = request.routeOptions.config.policy;
    // Requests that match no route have no policy; they end as 404.
    if (policy === undefined || policy === 'public') return;
    let principal: Principal | null = null;
    for (const authenticate of authenticators) {
      principal = await authenticate(request);
      if (principal) break;
    }
    if (!principal) return unauthorized(reply, 'this route needs a bearer token: sign in at POST /api/v1/auth/login');
    request.principal = principal;
    if (!mayUse(principal, policy)) {
      return reply.code(403).send({ error: 'forbidden', message: `your role (${principal.role}) may not use this route (${policy})`, details: null });
    }
  });

  app.addHook('preSerialization', async (request, reply, payload) => {
    const policy = request.routeOptions.config.policy;
    if (policy === undefined || policy === 'public' || reply.statusCode >= 300) return payload;
    if (hasObjectRule(policy) && !request.objectAuthorized) {
      request.log.error({ policy, url: request.routeOptions.url }, 'route answered without applying its object rule');
      throw new HttpError(500, 'internal', 'authorization was not applied');
    }
    return payload;
  });
  return routes;
}
