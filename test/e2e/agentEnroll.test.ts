import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { startAgent } from '../../agent/agent.js';
import { agentDefaults } from '../../agent/config.js';
import { loadIdentity } from '../../agent/identity.js';
import { startQrScannerSimulator } from '../../simulators/qr/scanner.js';
import { startTestHub } from '../support/hub.js';
import { issueToken, mtlsBroker } from '../support/pki.js';
import { spawnCampushub } from '../support/processes.js';
import { tempDir } from '../support/tempDir.js';
import { waitFor } from '../support/wait.js';

const run = promisify(execFile);
const CLI = join(process.cwd(), 'cli/campushub.ts');

async function campushub(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, ['--import', 'tsx', CLI, ...args], { env: { ...process.env, LOG_LEVEL: 'warn' } });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string };
    return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
  }
}

test('campushub agent-enroll pins the CA, writes the identity, and campushub agent then delivers over mutual TLS', async (t) => {
  const hub = await startTestHub(t, { broker: mtlsBroker() });
  const dataDir = tempDir(t, 'enrolled-agent');
  const { token, caFingerprint } = await issueToken(hub, { campusId: 'east' });

  // A wrong pin (as if a man in the middle had answered with his own CA): refused, nothing written.
  const wrongPin = 'ab'.repeat(32);
  const refused = await campushub(['agent-enroll', '--hub', hub.httpUrl, '--token', token, '--ca-fingerprint', wrongPin, '--agent-id', 'door-agent', '--data-dir', dataDir]);
  assert.equal(refused.code, 1, refused.stderr);
  assert.match(refused.stderr, /does not match the pinned fingerprint/);
  assert.ok(!existsSync(join(dataDir, 'identity', 'agent.crt')), 'no certificate written on a pin mismatch');

  // The hub did issue a certificate for that request (the pin is checked by the agent), so the token is used up: a new one is needed.
  const second = await issueToken(hub, { campusId: 'east' });
  const pinWithColons = second.caFingerprint.toUpperCase().match(/.{2}/g)!.join(':');
  const enrolled = await campushub(['agent-enroll', '--hub', hub.httpUrl, '--token', second.token, '--ca-fingerprint', pinWithColons, '--agent-id', 'door-agent', '--data-dir', dataDir]);
  assert.equal(enrolled.code, 0, enrolled.stderr);
  assert.equal(JSON.parse(enrolled.stdout.trim()).enrolled, 'east/door-agent');
  assert.equal(caFingerprint, second.caFingerprint);
  assert.deepEqual(readdirSync(join(dataDir, 'identity')).sort(), ['agent.crt', 'agent.key', 'ca.crt', 'identity.json']);
  assert.equal(statSync(join(dataDir, 'identity', 'agent.key')).mode & 0o777, 0o600);

  const scanner = await startQrScannerSimulator({ listen: { host: '127.0.0.1', port: 0 }, ackMode: true });
  t.after(() => scanner.stop());
  const agent = spawnCampushub(['agent', '--mqtt-url', hub.mqttUrl, '--data-dir', dataDir, '--device', `qr:door-7=tcp://127.0.0.1:${scanner.address().port}?ack=1`]);
  t.after(() => agent.kill());
  await agent.ready;
  scanner.scan('ENROLLED-1');
  const row = await waitFor(async () => (await hub.db.query<{ campus_id: string; agent_id: string }>('select campus_id, agent_id from events where subject = $1', ['ENROLLED-1'])).rows[0], {
    message: `the tap through the enrolled agent (output: ${agent.output()})`,
  });
  assert.deepEqual(row, { campus_id: 'east', agent_id: 'door-agent' });

  // An enrolled agent refuses a plain mqtt:// URL rather than send without its certificate.
  const plain = await campushub(['agent', '--mqtt-url', hub.mqttUrl.replace('mqtts:', 'mqtt:'), '--data-dir', dataDir]);
  assert.equal(plain.code, 2);
  assert.match(plain.stderr, /mqtts/);
});

test('an agent renews its certificate and goes on with the new one; the old one can then be revoked without cutting it off', async (t) => {
  const hub = await startTestHub(t, { broker: mtlsBroker() });
  const dataDir = tempDir(t, 'renewing-agent');
  const { token, caFingerprint } = await issueToken(hub, { campusId: 'west' });
  const enrolled = await campushub(['agent-enroll', '--hub', hub.httpUrl, '--token', token, '--ca-fingerprint', caFingerprint, '--agent-id', 'renewer', '--data-dir', dataDir]);
  assert.equal(enrolled.code, 0, enrolled.stderr);
  const identity = loadIdentity(dataDir)!;

  const scanner = await startQrScannerSimulator({ listen: { host: '127.0.0.1', port: 0 }, ackMode: true });
  t.after(() => scanner.stop());
  const agent = await startAgent({
    ...agentDefaults(),
    agentId: identity.agentId,
    campusId: identity.campusId,
    mqttUrl: hub.mqttUrl,
    dataDir,
    identity,
    devices: [{ id: 'door-1', kind: 'qr', url: `tcp://127.0.0.1:${scanner.address().port}?ack=1` }],
    logLevel: 'silent',
  });
  t.after(() => agent.stop());
  scanner.scan('BEFORE-RENEWAL');
  await waitFor(async () => (await hub.db.query('select 1 from events where subject = $1', ['BEFORE-RENEWAL'])).rows.length === 1, { message: 'the first tap' });

  const renewed = await agent.renewNow();
  assert.notEqual(renewed.serial, identity.serial);
  assert.equal(loadIdentity(dataDir)!.serial, renewed.serial, 'the renewed identity is on disk');
  await waitFor(() => agent.uplink.connected, { message: 'the agent to reconnect with its new certificate' });
  const revokeOld = await hub.api(`/api/v1/pki/certificates/${identity.serial}/revoke`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"reason":"superseded"}' });
  assert.equal(revokeOld.status, 200);
  scanner.scan('AFTER-RENEWAL');
  await waitFor(async () => (await hub.db.query('select 1 from events where subject = $1', ['AFTER-RENEWAL'])).rows.length === 1, { message: 'a tap after renewal' });
  assert.ok(agent.uplink.connected, 'revoking the old certificate did not cut the renewed agent off');
  const { rows } = await hub.db.query<{ renewed_from: string }>('select renewed_from from pki_certificates where serial = $1', [renewed.serial]);
  assert.equal(rows[0]!.renewed_from, identity.serial);
});
