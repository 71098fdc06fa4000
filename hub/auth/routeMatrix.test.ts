import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { hubDefaults } from '../config.js';
import { decide, type Role, type RoutePolicy } from './rules.js';
import { startTestHub } from '../../test/support/hub.js';
import { jsonBody as json, type Caller, type MatrixContext, type RouteCase, type RouteCases } from '../../test/support/routeMatrix.js';
import { createTestUser, type TestUser } from '../../test/support/users.js';

/**
 * The route matrix: every route of the hub, called by every role, about an
 * object of the caller's own and about someone else's. Each answer must be
 * what the policy module decides: 401 without credentials, 403 when the
 * role gate says no, 404 when the object rule says no, and the route's
 * success otherwise. A route without an entry in its domain's
 * `routes.cases.ts` fails the test, so every route a later issue adds must
 * say how to call it.
 */

/** Every domain's cases, from `hub/<domain>/routes.cases.ts`. */
async function loadRouteCases(): Promise<RouteCases[]> {
  const hubDir = fileURLToPath(new URL('..', import.meta.url));
  const files = readdirSync(hubDir, { withFileTypes: true })
    .filter((entry) => entry.isDirectory() && existsSync(join(hubDir, entry.name, 'routes.cases.ts')))
    .map((entry) => join(hubDir, entry.name, 'routes.cases.ts'));
  return Promise.all(files.map(async (file) => ((await import(pathToFileURL(file).href)) as { routeCases: RouteCases }).routeCases));
}

function expectedStatus(routeCase: RouteCase, policy: RoutePolicy, caller: Caller | null, target: TestUser, context: MatrixContext): 'success' | 401 | 403 | 404 {
  if (policy === 'public') return 'success';
  if (!caller) return 401;
  const decision = decide(caller.principal, policy, routeCase.object?.(target, context) ?? {});
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
  const context: MatrixContext = { hub, users, state: {} };
  const domains = await loadRouteCases();
  const MATRIX: Record<string, RouteCase> = {};
  for (const domain of domains) {
    await domain.setup?.(context);
    for (const [name, routeCase] of Object.entries(domain.cases)) {
      assert.ok(!MATRIX[name], `${name} has two entries in the route matrix`);
      MATRIX[name] = routeCase;
    }
  }
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

  // Audit coverage: every state-changing route declares what it audits, and each successful call writes it.
  const STATE_CHANGING = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);
  const undeclared = routes
    .filter((route) => STATE_CHANGING.has(route.method))
    .map((route) => `${route.method} ${route.url}`)
    .filter((name) => !MATRIX[name]!.audits?.length && !MATRIX[name]!.auditExempt);
  assert.deepEqual(undeclared, [], 'every state-changing route declares its audit actions (`audits`) or why it has none (`auditExempt`) in its routes.cases.ts');
  const lastAuditId = async () => Number((await hub.db.query<{ id: string | null }>('select max(id)::text as id from audit_log')).rows[0]?.id ?? 0);
  const audited = new Set<string>();

  let checked = 0;
  for (const route of routes) {
    const name = `${route.method} ${route.url}`;
    const routeCase = MATRIX[name]!;
    for (const caller of [null, ...callers]) {
      // Object rules are checked about the caller's own object and about each other user's.
      const targets = routeCase.object || route.url.includes(':') ? Object.values(users) : [caller?.user ?? users.studentA!];
      for (const target of targets) {
        const { path, body } = await routeCase.request(context, caller ?? callers[0]!, target);
        const init: RequestInit = { method: route.method, ...(body === undefined ? {} : json(body)) };
        const auditedBefore = routeCase.audits ? await lastAuditId() : 0;
        const response = caller ? await caller.call(path, init) : await fetch(`${hub.httpUrl}${path}`, init);
        if (routeCase.audits && response.ok) {
          const { rows } = await hub.db.query<{ action: string }>('select action from audit_log where id > $1', [auditedBefore]);
          const actions = rows.map((row) => row.action);
          assert.ok(
            actions.some((action) => routeCase.audits!.includes(action)),
            `${name} by ${caller?.name ?? 'anonymous'} answered ${response.status} but wrote none of ${routeCase.audits.join(', ')} (wrote: ${actions.join(', ') || 'nothing'})`,
          );
          audited.add(name);
        }
        const text = await response.text();
        const parsed = (text.startsWith('{') ? JSON.parse(text) : {}) as { error?: string };
        const expected = expectedStatus(routeCase, route.policy, caller, target, context);
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
  // A case whose allowed call is still refused further on (an unknown agent, a wrong password) shows no audit here; its own tests cover it.
  const unseen = routes.map((route) => `${route.method} ${route.url}`).filter((name) => MATRIX[name]!.audits && !audited.has(name));
  if (unseen.length > 0) t.diagnostic(`audit actions not observed in the matrix (no 2xx answer): ${unseen.join(', ')}`);
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
