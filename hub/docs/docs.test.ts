import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startTestHub } from '../../test/support/hub.js';

interface OpenApiDocument {
  openapi: string;
  paths: Record<string, Record<string, { summary?: string; description?: string; responses?: Record<string, unknown>; security?: unknown[] }>>;
}

test('GET /docs/openapi.json documents every route with a summary, its responses and its authorization rule', async (t) => {
  const hub = await startTestHub(t);
  const response = await fetch(`${hub.httpUrl}/docs/openapi.json`);
  assert.equal(response.status, 200);
  const document = (await response.json()) as OpenApiDocument;
  assert.match(document.openapi, /^3\./);
  const routes = hub.routes.filter((route) => route.method !== 'HEAD' && route.method !== 'OPTIONS' && !route.url.startsWith('/docs'));
  assert.ok(routes.length > 20);
  for (const route of routes) {
    const path = route.url.replace(/:([A-Za-z]+)/g, '{$1}');
    const operation = document.paths[path]?.[route.method.toLowerCase()];
    assert.ok(operation, `${route.method} ${route.url} is in the OpenAPI document`);
    assert.ok(operation.summary, `${route.method} ${route.url} has a summary`);
    assert.ok(operation.responses && Object.keys(operation.responses).some((status) => status.startsWith('2')), `${route.method} ${route.url} documents its success`);
    assert.match(operation.description ?? '', route.policy === 'public' ? /Public/ : new RegExp(`rule \`${route.policy.replace('.', '\\.')}\``));
  }
});

test('GET /docs is a readable page of the API that needs no script', async (t) => {
  const hub = await startTestHub(t);
  const response = await fetch(`${hub.httpUrl}/docs`);
  assert.equal(response.status, 200);
  assert.match(response.headers.get('content-type') ?? '', /text\/html/);
  const html = await response.text();
  assert.match(html, /\/api\/v1\/auth\/login/);
  assert.doesNotMatch(html, /<script/);
});
