import { test } from 'node:test';
import assert from 'node:assert/strict';
import Fastify from 'fastify';
import { installAuthorization, MissingPolicyError } from './policy.js';
import { startTestHub, TEST_ADMIN_TOKEN } from '../../test/support/hub.js';

test('an app with a route that declares no authorization policy refuses to start', async () => {
  const app = Fastify();
  installAuthorization(app, []);
  app.get('/declared', { config: { policy: 'public' } }, async () => 'ok');
  await assert.rejects(
    (async () => {
      app.get('/forgotten', async () => 'oops');
      await app.ready();
    })(),
    (error: Error) => error instanceof MissingPolicyError && /GET \/forgotten/.test(error.message),
  );
});

test('admin routes answer 401 without the admin token or with a wrong one, and public routes answer anyone', async (t) => {
  const hub = await startTestHub(t);
  const noToken = await fetch(`${hub.httpUrl}/api/v1/events`);
  assert.equal(noToken.status, 401);
  assert.deepEqual(Object.keys((await noToken.json()) as object).sort(), ['details', 'error', 'message']);
  assert.equal(noToken.headers.get('www-authenticate'), 'Bearer realm="campushub"');
  const wrong = await fetch(`${hub.httpUrl}/metrics`, { headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}x` } });
  assert.equal(wrong.status, 401);
  const health = await fetch(`${hub.httpUrl}/healthz`);
  assert.equal(health.status, 200);
  assert.equal(((await health.json()) as { status: string }).status, 'ok');
  assert.equal((await hub.api('/api/v1/events')).status, 200);
});

test('a hub started without an admin token refuses every admin request and says why', async (t) => {
  const hub = await startTestHub(t, { adminToken: undefined });
  const response = await hub.api('/api/v1/agents');
  assert.equal(response.status, 401);
  assert.match(((await response.json()) as { message: string }).message, /needs a bearer token/);
});

test('the admin token never appears in the hub log', async (t) => {
  const hub = await startTestHub(t, { logLevel: 'trace' });
  await hub.api('/api/v1/events?limit=1');
  await hub.api('/metrics');
  assert.ok(hub.logs.length > 0);
  assert.ok(!JSON.stringify(hub.logs).includes(TEST_ADMIN_TOKEN));
});
