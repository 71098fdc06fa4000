import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { join } from 'node:path';
import { connect } from 'node:tls';
import forge from 'node-forge';
import { hubDefaults } from '../config.js';
import { startTestHub } from '../../test/support/hub.js';
import { tempDir } from '../../test/support/tempDir.js';

test('a 2 MB request body is refused with 413 before any route sees it', async (t) => {
  const hub = await startTestHub(t);
  const response = await hub.api('/api/v1/users', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username: 'big', displayName: 'x'.repeat(2 * 1024 * 1024), role: 'student' }),
  });
  assert.equal(response.status, 413);
  assert.equal((await hub.db.query("select 1 from users where username = 'big'")).rowCount, 0);
});

test('requests beyond the per-user rate limit get 429 with retry-after', async (t) => {
  const hub = await startTestHub(t, { http: { ...hubDefaults().http, port: 0, rateLimitPerMinute: 5 } });
  const statuses: number[] = [];
  let retryAfter: string | null = null;
  for (let index = 0; index < 7; index++) {
    const response = await hub.api('/api/v1/events?limit=1');
    statuses.push(response.status);
    if (response.status === 429) retryAfter = response.headers.get('retry-after');
  }
  assert.deepEqual(statuses, [200, 200, 200, 200, 200, 429, 429]);
  assert.ok(Number(retryAfter) > 0);
});

test('sign-in attempts are rate-limited per address before any password is checked', async (t) => {
  const hub = await startTestHub(t, { http: { ...hubDefaults().http, port: 0, loginRateLimitPerMinute: 3 } });
  const attempt = () =>
    fetch(`${hub.httpUrl}/api/v1/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: `u${Math.random()}`, password: 'wrong password' }),
    });
  const statuses = [];
  for (let index = 0; index < 4; index++) statuses.push((await attempt()).status);
  assert.deepEqual(statuses, [401, 401, 401, 429]);
});

test('security headers are set, and CORS answers only the allowed origins', async (t) => {
  const hub = await startTestHub(t, { http: { ...hubDefaults().http, port: 0, corsOrigins: ['https://portal.example.edu'] } });
  const response = await fetch(`${hub.httpUrl}/healthz`, { headers: { origin: 'https://portal.example.edu' } });
  assert.equal(response.headers.get('x-content-type-options'), 'nosniff');
  assert.equal(response.headers.get('x-frame-options'), 'SAMEORIGIN');
  assert.ok(response.headers.get('content-security-policy'));
  assert.equal(response.headers.get('strict-transport-security'), null, 'no HSTS over plain HTTP');
  assert.equal(response.headers.get('access-control-allow-origin'), 'https://portal.example.edu');
  const foreign = await fetch(`${hub.httpUrl}/healthz`, { headers: { origin: 'https://evil.example.com' } });
  assert.equal(foreign.headers.get('access-control-allow-origin'), null);
  const preflight = await fetch(`${hub.httpUrl}/api/v1/events`, {
    method: 'OPTIONS',
    headers: { origin: 'https://evil.example.com', 'access-control-request-method': 'GET' },
  });
  assert.equal(preflight.headers.get('access-control-allow-origin'), null);
});

function selfSignedCertificate(): { cert: string; key: string } {
  const keys = forge.pki.rsa.generateKeyPair({ bits: 2048 });
  const cert = forge.pki.createCertificate();
  cert.publicKey = keys.publicKey;
  cert.serialNumber = '01';
  cert.validity.notBefore = new Date(Date.now() - 60_000);
  cert.validity.notAfter = new Date(Date.now() + 86_400_000);
  const name = [{ name: 'commonName', value: 'localhost' }];
  cert.setSubject(name);
  cert.setIssuer(name);
  cert.setExtensions([{ name: 'subjectAltName', altNames: [{ type: 7, ip: '127.0.0.1' }] }]);
  cert.sign(keys.privateKey, forge.md.sha256.create());
  return { cert: forge.pki.certificateToPem(cert), key: forge.pki.privateKeyToPem(keys.privateKey) };
}

test('given a certificate, the hub serves HTTPS only, with HSTS, and refuses TLS older than 1.2', async (t) => {
  const dir = tempDir(t, 'https');
  const { cert, key } = selfSignedCertificate();
  writeFileSync(join(dir, 'cert.pem'), cert);
  writeFileSync(join(dir, 'key.pem'), key, { mode: 0o600 });
  const hub = await startTestHub(t, { http: { ...hubDefaults().http, port: 0, tls: { certFile: join(dir, 'cert.pem'), keyFile: join(dir, 'key.pem') } } });
  assert.match(hub.httpUrl, /^https:\/\//);
  const { status, hsts } = await new Promise<{ status: number; hsts: string | undefined }>((resolve, reject) => {
    httpsRequest(`${hub.httpUrl}/healthz`, { ca: cert }, (response) => {
      response.resume();
      resolve({ status: response.statusCode!, hsts: response.headers['strict-transport-security'] as string | undefined });
    })
      .on('error', reject)
      .end();
  });
  assert.equal(status, 200);
  assert.match(hsts ?? '', /max-age=31536000/);
  const port = Number(new URL(hub.httpUrl).port);
  const oldTls = await new Promise<string>((resolve) => {
    const socket = connect({ host: '127.0.0.1', port, ca: cert, maxVersion: 'TLSv1.1', minVersion: 'TLSv1' }, () => resolve('connected'));
    socket.on('error', (error) => resolve(error.message));
  });
  assert.notEqual(oldTls, 'connected');
});
