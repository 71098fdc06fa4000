import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pino from 'pino';
import { startHub } from '../../hub/app.js';
import { hubDefaults, type HubConfig } from '../../hub/config.js';
import { createTestDatabase } from '../support/database.js';
import { TEST_ADMIN_TOKEN } from '../support/hub.js';
import { spawnCampushub } from '../support/processes.js';
import { tempDir } from '../support/tempDir.js';

async function campushub(args: string[]): Promise<{ code: number | null; stderr: string }> {
  const run = spawnCampushub(args);
  let stderr = '';
  run.child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const [code] = (await once(run.child, 'close')) as [number | null];
  return { code, stderr };
}

test('after keys rotate and retiring the old KEK, a restarted hub still signs in users, reads their sealed fields and keeps its CA', { timeout: 120_000 }, async (t) => {
  const database = await createTestDatabase();
  t.after(() => database.drop());
  const keyFile = join(tempDir(t, 'rotate-hub'), 'keys.json');
  writeFileSync(keyFile, JSON.stringify({ active: 'k1', keys: { k1: randomBytes(32).toString('base64') } }), { mode: 0o600 });
  const defaults = hubDefaults();
  const config: HubConfig = {
    ...defaults,
    http: { ...defaults.http, port: 0 },
    broker: { ...defaults.broker, port: 0, security: 'development' },
    database: { url: database.options.databaseUrl, dataDir: database.options.dataDir },
    keys: { keyFile },
    adminToken: TEST_ADMIN_TOKEN,
    logLevel: 'silent',
  };
  const admin = { authorization: `Bearer ${TEST_ADMIN_TOKEN}` };

  const before = await startHub(config, pino({ level: 'silent' }));
  const created = await before.app.inject({
    method: 'POST',
    url: '/api/v1/users',
    headers: admin,
    payload: { username: 'priya', displayName: 'Priya', role: 'student', password: 'a passphrase that survives rotation', phone: '+91 98450 77777' },
  });
  assert.equal(created.statusCode, 201, created.body);
  const { id, phone } = created.json() as { id: string; phone: string };
  const caFingerprint = before.pki.caFingerprint;
  await before.stop();

  const where = database.options.databaseUrl ? ['--database-url', database.options.databaseUrl] : ['--data-dir', database.options.dataDir!];
  const rotated = await campushub(['keys', 'rotate', '--key-file', keyFile, ...where]);
  assert.equal(rotated.code, 0, rotated.stderr);
  const retired = await campushub(['keys', 'retire', 'k1', '--key-file', keyFile, ...where]);
  assert.equal(retired.code, 0, retired.stderr);

  const after = await startHub(config, pino({ level: 'silent' }));
  t.after(() => after.stop());
  assert.equal(after.pki.caFingerprint, caFingerprint, 'the CA key (a sealed hub secret) still opens');
  const login = await after.app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { username: 'priya', password: 'a passphrase that survives rotation' } });
  assert.equal(login.statusCode, 200, login.body);
  const user = await after.app.inject({ method: 'GET', url: `/api/v1/users/${id}`, headers: admin });
  assert.equal(user.statusCode, 200, user.body);
  assert.equal((user.json() as { phone: string }).phone, phone, 'the sealed phone number still opens');
});
