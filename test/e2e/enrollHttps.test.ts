import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:https';
import { join } from 'node:path';
import pino from 'pino';
import { enrollAgent, EnrollmentError } from '../../agent/identity.js';
import { startHub } from '../../hub/app.js';
import { hubDefaults, type HubConfig } from '../../hub/config.js';
import { createTestDatabase } from '../support/database.js';
import { TEST_ADMIN_TOKEN } from '../support/hub.js';
import { foreignCaCertificate, testKeys } from '../support/pki.js';
import { tempDir } from '../support/tempDir.js';

test('over HTTPS, agent-enroll talks only to a hub whose certificate chains to the pinned CA; a man in the middle gets no token', async (t) => {
  const database = await createTestDatabase();
  t.after(() => database.drop());
  const dir = tempDir(t, 'enroll-https');
  const keyFile = join(dir, 'keys.json');
  writeFileSync(keyFile, JSON.stringify({ active: 'k1', keys: { k1: randomBytes(32).toString('base64') } }), { mode: 0o600 });
  const defaults = hubDefaults();
  const config = (tls: HubConfig['http']['tls']): HubConfig => ({
    ...defaults,
    http: { ...defaults.http, port: 0, tls },
    broker: { ...defaults.broker, port: 0, security: 'development' },
    database: { url: database.options.databaseUrl, dataDir: database.options.dataDir },
    keys: { keyFile },
    adminToken: TEST_ADMIN_TOKEN,
  });

  // First start: the CA is made; it issues the hub's HTTPS certificate for 127.0.0.1.
  const first = await startHub(config(undefined), pino({ level: 'silent' }));
  const server = await first.pki.issueHubIdentity('server', ['127.0.0.1']);
  const caFingerprint = first.pki.caFingerprint;
  await first.stop();
  writeFileSync(join(dir, 'hub.crt'), server.certificatePem);
  writeFileSync(join(dir, 'hub.key'), server.keyPem, { mode: 0o600 });

  const hub = await startHub(config({ certFile: join(dir, 'hub.crt'), keyFile: join(dir, 'hub.key') }), pino({ level: 'silent' }));
  t.after(() => hub.stop());
  assert.equal(hub.pki.caFingerprint, caFingerprint, 'the CA survived the restart (its key is in the sealed secret store)');
  const issueToken = async () => {
    const response = await hub.app.inject({
      method: 'POST',
      url: '/api/v1/pki/enrollment-tokens',
      headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}` },
      payload: { campusId: 'north' },
    });
    assert.equal(response.statusCode, 201, response.body);
    return (response.json() as { token: string }).token;
  };

  const identity = await enrollAgent({ hubUrl: hub.httpUrl, token: await issueToken(), caFingerprint, agentId: 'gate-1', dataDir: join(dir, 'agent'), bits: 2048 });
  assert.equal(identity.campusId, 'north');

  // A man in the middle with a certificate of his own answers the CA request with the real CA, to pass the pin.
  const impostor = foreignCaCertificate('127.0.0.1', testKeys('impostor'));
  const posted: string[] = [];
  const mitm = createServer({ cert: impostor.certificatePem, key: testKeys('impostor').privateKeyPem }, (request, response) => {
    let body = '';
    request.on('data', (chunk: Buffer) => (body += chunk.toString()));
    request.on('end', () => {
      if (request.method === 'POST') posted.push(body);
      response.setHeader('content-type', 'application/json');
      response.end(JSON.stringify({ caCertificatePem: hub.pki.caCertificatePem, caFingerprint }));
    });
  });
  await new Promise<void>((resolve) => mitm.listen(0, '127.0.0.1', resolve));
  t.after(() => new Promise<void>((resolve) => mitm.close(() => resolve())));
  const port = (mitm.address() as { port: number }).port;
  const stolen = await issueToken();
  await assert.rejects(
    enrollAgent({ hubUrl: `https://127.0.0.1:${port}`, token: stolen, caFingerprint, agentId: 'gate-2', dataDir: join(dir, 'victim'), bits: 2048 }),
    (error: Error) => error instanceof EnrollmentError || /certificate|self.signed|verify/i.test(error.message),
  );
  assert.deepEqual(posted, [], 'the token never reached the man in the middle');
  assert.ok(!existsSync(join(dir, 'victim', 'identity', 'agent.crt')));
});
