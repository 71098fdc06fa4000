import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { hubDefaults } from '../config.js';
import { decide, type OwnedObject, type Principal, type Role, type RoutePolicy } from './rules.js';
import { startTestHub, type TestHub } from '../../test/support/hub.js';
import { weakCsr } from '../../test/support/pki.js';
import { createTestUser, type TestUser } from '../../test/support/users.js';

/**
 * The route matrix: every route of the hub, called by every role, about an
 * object of the caller's own and about someone else's. Each answer must be
 * what the policy module decides: 401 without credentials, 403 when the
 * role gate says no, 404 when the object rule says no, and the route's
 * success otherwise. A route without an entry here fails the test, so every
 * route a later issue adds must say how to call it.
 */

interface Caller {
  name: string;
  principal: Principal;
  /** The user behind the caller, when there is one. */
  user: TestUser | null;
  call(path: string, init?: RequestInit): Promise<Response>;
}

interface MatrixContext {
  hub: TestHub;
  /** Users of the fixture, by name; `target` names below refer to these. */
  users: Record<string, TestUser>;
}

interface RouteCase {
  /** Builds the request. `target` is whose object it is about (routes with object rules); otherwise the caller. */
  request(context: MatrixContext, caller: Caller, target: TestUser): Promise<{ path: string; body?: unknown }> | { path: string; body?: unknown };
  /** The object as the policy module sees it; only for routes whose rule has an object part. */
  object?(target: TestUser): OwnedObject;
  /** What the route answers when the policy lets the call through. */
  succeeded(response: Response, body: { error?: string }): boolean;
  /** The call ends the caller's (or the target's) sign-ins: everyone signs in again afterwards. */
  endsSessions?: boolean;
  /** The call set the target's password to the body's `newPassword`. */
  setsPassword?: boolean;
}

const json = (body: unknown): RequestInit => ({ body: JSON.stringify(body), headers: { 'content-type': 'application/json' } });
const ok = (statuses: number[]) => (response: Response) => statuses.includes(response.status);
const NEW_PASSWORD = 'a brand new passphrase for the matrix';

const MATRIX: Record<string, RouteCase> = {
  'GET /healthz': { request: () => ({ path: '/healthz' }), succeeded: ok([200]) },
  'GET /metrics': { request: () => ({ path: '/metrics' }), succeeded: ok([200]) },
  'GET /api/v1/events': { request: () => ({ path: '/api/v1/events?limit=1' }), succeeded: ok([200]) },
  'GET /api/v1/agents': { request: () => ({ path: '/api/v1/agents' }), succeeded: ok([200]) },
  'POST /api/v1/agents/:agentId/commands': {
    request: () => ({ path: '/api/v1/agents/no-such-agent/commands', body: { op: 'ping', reason: 'route matrix' } }),
    // Allowed through: the hub looks for the agent, which has never reported.
    succeeded: (response, body) => response.status === 404 && body.error === 'unknown_agent',
  },
  'POST /api/v1/auth/login': {
    request: (_context, caller) => ({ path: '/api/v1/auth/login', body: { username: caller.user?.username ?? 'nobody', password: 'wrong password for matrix' } }),
    succeeded: (response, body) => response.status === 401 && body.error === 'invalid_credentials',
  },
  'POST /api/v1/auth/refresh': {
    request: () => ({ path: '/api/v1/auth/refresh', body: { refreshToken: 'rt_not-a-real-token' } }),
    succeeded: (response, body) => response.status === 401 && body.error === 'invalid_refresh_token',
  },
  'POST /api/v1/auth/logout': { request: () => ({ path: '/api/v1/auth/logout', body: { refreshToken: 'rt_not-a-real-token' } }), succeeded: ok([204]) },
  'POST /api/v1/auth/logout-everywhere': { request: () => ({ path: '/api/v1/auth/logout-everywhere' }), succeeded: ok([200]), endsSessions: true },
  'GET /api/v1/auth/me': { request: () => ({ path: '/api/v1/auth/me' }), succeeded: ok([200]) },
  'POST /api/v1/users': {
    request: () => ({ path: '/api/v1/users', body: { username: `m-${randomUUID().slice(0, 8)}`, displayName: 'Matrix', role: 'student' } }),
    succeeded: ok([201]),
  },
  'GET /api/v1/users': { request: () => ({ path: '/api/v1/users?limit=5' }), succeeded: ok([200]) },
  'GET /api/v1/users/:id': {
    request: (_context, _caller, target) => ({ path: `/api/v1/users/${target.id}` }),
    object: (target) => ({ ownerUserId: target.id, departmentId: target.departmentId }),
    succeeded: ok([200]),
  },
  'PATCH /api/v1/users/:id': {
    request: (_context, _caller, target) => ({ path: `/api/v1/users/${target.id}`, body: { displayName: 'Renamed by the matrix' } }),
    succeeded: ok([200]),
  },
  'PUT /api/v1/users/:id/password': {
    request: (_context, caller, target) => ({
      path: `/api/v1/users/${target.id}/password`,
      body: { currentPassword: caller.user?.id === target.id ? target.password : undefined, newPassword: `${NEW_PASSWORD} ${randomUUID().slice(0, 6)}` },
    }),
    object: (target) => ({ ownerUserId: target.id }),
    succeeded: ok([204]),
    endsSessions: true,
    setsPassword: true,
  },
  'POST /api/v1/api-keys': { request: () => ({ path: '/api/v1/api-keys', body: { name: 'matrix', scopes: ['metrics.read'] } }), succeeded: ok([201]) },
  'GET /api/v1/api-keys': { request: () => ({ path: '/api/v1/api-keys' }), succeeded: ok([200]) },
  'POST /api/v1/pki/enrollment-tokens': { request: () => ({ path: '/api/v1/pki/enrollment-tokens', body: { campusId: 'main' } }), succeeded: ok([201]) },
  'POST /api/v1/pki/enroll': {
    request: () => ({ path: '/api/v1/pki/enroll', body: { token: 'not-a-token', agentId: 'agent-1', csrPem: weakCsr() } }),
    succeeded: (response, body) => response.status === 400 && body.error === 'weak_key',
  },
  'POST /api/v1/pki/renew': {
    request: () => ({ path: '/api/v1/pki/renew', body: { certificatePem: 'not a certificate '.repeat(8), csrPem: weakCsr(), signedAt: new Date().toISOString(), signature: 'A'.repeat(344) } }),
    // Allowed through: the renewal checks the CSR, then the certificate and the proof.
    succeeded: (response, body) => response.status === 400 && body.error === 'weak_key',
  },
  'GET /api/v1/pki/certificates': { request: () => ({ path: '/api/v1/pki/certificates' }), succeeded: ok([200]) },
  'POST /api/v1/pki/certificates/:serial/revoke': {
    request: () => ({ path: '/api/v1/pki/certificates/0a1b2c3d/revoke', body: { reason: 'route matrix' } }),
    succeeded: (response, body) => response.status === 404 && body.error === 'not_found',
  },
  'GET /api/v1/pki/ca': { request: () => ({ path: '/api/v1/pki/ca' }), succeeded: ok([200]) },
  'POST /api/v1/pki/broker-certificates': {
    request: () => ({ path: '/api/v1/pki/broker-certificates', body: { role: 'hub', csrPem: weakCsr(), hostnames: [] } }),
    succeeded: (response, body) => response.status === 400 && body.error === 'weak_key',
  },
  'DELETE /api/v1/api-keys/:id': {
    async request(context) {
      const response = await context.hub.api('/api/v1/api-keys', { method: 'POST', ...json({ name: 'to revoke', scopes: ['metrics.read'] }) });
      const { apiKey } = (await response.json()) as { apiKey: { id: string } };
      return { path: `/api/v1/api-keys/${apiKey.id}` };
    },
    succeeded: ok([200]),
  },
};

function expectedStatus(routeCase: RouteCase, policy: RoutePolicy, caller: Caller | null, target: TestUser): 'success' | 401 | 403 | 404 {
  if (policy === 'public') return 'success';
  if (!caller) return 401;
  const decision = decide(caller.principal, policy, routeCase.object?.(target) ?? {});
  return decision === 'allow' ? 'success' : decision === 'forbidden' ? 403 : 404;
}

test('every route answers every role, as owner and as non-owner, as the policy module decides', async (t) => {
  const hub = await startTestHub(t, { http: { ...hubDefaults().http, host: '127.0.0.1', port: 0, loginRateLimitPerMinute: 10_000, rateLimitPerMinute: 100_000 } });
  const users: Record<string, TestUser> = {
    admin: await createTestUser(hub, { role: 'admin' }),
    hodCs: await createTestUser(hub, { role: 'hod', departmentId: 'cs' }),
    facultyCs: await createTestUser(hub, { role: 'faculty', departmentId: 'cs' }),
    studentA: await createTestUser(hub, { role: 'student', departmentId: 'cs' }),
    studentB: await createTestUser(hub, { role: 'student', departmentId: 'ee' }),
  };
  const context: MatrixContext = { hub, users };
  const serviceKey = await hub.api('/api/v1/api-keys', { method: 'POST', ...json({ name: 'matrix service', scopes: ['metrics.read', 'events.read', 'agents.read'] }) });
  const { key, apiKey } = (await serviceKey.json()) as { key: string; apiKey: { id: string; scopes: string[] } };

  const userCaller = (name: string, user: TestUser): Caller => ({
    name,
    principal: { id: user.id, kind: 'user', role: user.role, departmentId: user.departmentId, scopes: null },
    user,
    call: (path, init) => user.api(path, init),
  });
  const callers: Caller[] = [
    ...Object.entries(users).map(([name, user]) => userCaller(name, user)),
    {
      name: 'service',
      principal: { id: `api-key:${apiKey.id}`, kind: 'api-key', role: 'service' as Role, departmentId: null, scopes: apiKey.scopes },
      user: null,
      call: (path, init = {}) => fetch(`${hub.httpUrl}${path}`, { ...init, headers: { authorization: `Bearer ${key}`, ...(init.headers ?? {}) } }),
    },
  ];

  const routes = hub.routes.filter((route) => route.method !== 'HEAD');
  const missing = routes.map((route) => `${route.method} ${route.url}`).filter((name) => !MATRIX[name]);
  assert.deepEqual(missing, [], 'every route needs an entry in the route matrix');

  let checked = 0;
  for (const route of routes) {
    const name = `${route.method} ${route.url}`;
    const routeCase = MATRIX[name]!;
    for (const caller of [null, ...callers]) {
      // Object rules are checked about the caller's own object and about each other user's.
      const targets = routeCase.object || route.url.includes(':id') ? Object.values(users) : [caller?.user ?? users.studentA!];
      for (const target of targets) {
        const { path, body } = await routeCase.request(context, caller ?? callers[0]!, target);
        const init: RequestInit = { method: route.method, ...(body === undefined ? {} : json(body)) };
        const response = caller ? await caller.call(path, init) : await fetch(`${hub.httpUrl}${path}`, init);
        const text = await response.text();
        const parsed = (text.startsWith('{') ? JSON.parse(text) : {}) as { error?: string };
        const expected = expectedStatus(routeCase, route.policy, caller, target);
        const label = `${name} by ${caller?.name ?? 'anonymous'} about ${target.username}: got ${response.status} ${text.slice(0, 160)}`;
        if (expected === 'success') assert.ok(routeCase.succeeded(response, parsed), `${label}; expected success`);
        else assert.equal(response.status, expected, `${label}; expected ${expected}`);
        checked++;
        if (expected === 'success' && routeCase.setsPassword) target.password = (body as { newPassword: string }).newPassword;
        if (expected === 'success' && routeCase.endsSessions) for (const user of Object.values(users)) await user.login();
      }
    }
  }
  assert.ok(checked > 100, `the matrix made ${checked} calls`);
});

test('student A cannot read student B, and cannot tell B exists', async (t) => {
  const hub = await startTestHub(t);
  const studentA = await createTestUser(hub, { role: 'student', departmentId: 'cs' });
  const studentB = await createTestUser(hub, { role: 'student', departmentId: 'cs' });
  const other = await studentA.api(`/api/v1/users/${studentB.id}`);
  const nobody = await studentA.api(`/api/v1/users/${randomUUID()}`);
  assert.equal(other.status, 404);
  assert.deepEqual(await other.json(), await nobody.json());
  assert.equal((await studentA.api(`/api/v1/users/${studentA.id}`)).status, 200);
  assert.equal((await studentA.api('/api/v1/users')).status, 403);
});

test('an HOD lists only their own department, by the query, not by filtering afterwards', async (t) => {
  const hub = await startTestHub(t);
  const hod = await createTestUser(hub, { role: 'hod', departmentId: 'cs' });
  await createTestUser(hub, { role: 'student', departmentId: 'cs' });
  await createTestUser(hub, { role: 'student', departmentId: 'ee' });
  const page = (await (await hod.api('/api/v1/users?limit=200')).json()) as { items: { departmentId: string }[] };
  assert.ok(page.items.length >= 2);
  assert.ok(page.items.every((user) => user.departmentId === 'cs'));
});
