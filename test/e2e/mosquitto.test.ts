import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import mqtt, { type IClientOptions } from 'mqtt';
import { startAgent } from '../../agent/agent.js';
import { agentDefaults } from '../../agent/config.js';
import { enrollAgent } from '../../agent/identity.js';
import { createCsr } from '../../hub/pki/x509.js';
import { PROTOCOL_VERSION, agentTopic, encode, uuidv7, type IssuedCertificate } from '../../protocol/index.js';
import { startQrScannerSimulator } from '../../simulators/qr/scanner.js';
import { startTestHub, type TestHub } from '../support/hub.js';
import { enrollTestAgent, issueToken, testKeys } from '../support/pki.js';
import { freePort } from '../support/ports.js';
import { tempDir } from '../support/tempDir.js';
import { waitFor } from '../support/wait.js';

const MOSQUITTO = '/usr/sbin/mosquitto';
const DEPLOY = join(process.cwd(), 'deploy/mosquitto');

async function brokerCertificate(hub: TestHub, role: 'server' | 'hub', keys: { privateKeyPem: string; publicKeyPem: string }): Promise<IssuedCertificate> {
  const response = await hub.api('/api/v1/pki/broker-certificates', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ role, csrPem: createCsr(keys, 'ignored'), hostnames: role === 'server' ? ['127.0.0.1', 'localhost'] : [] }),
  });
  assert.equal(response.status, 201, await response.clone().text());
  return (await response.json()) as IssuedCertificate;
}

/** The shipped campushub.conf and ACL with this test's paths and port; mosquitto in the foreground. */
async function startMosquitto(t: TestContext, dir: string, port: number): Promise<{ output: () => string; stop: () => Promise<void> }> {
  const conf = readFileSync(join(DEPLOY, 'campushub.conf'), 'utf8')
    .replaceAll('/etc/mosquitto/campushub', dir)
    .replace(/^listener 8883$/m, `listener ${port} 127.0.0.1`);
  if (!existsSync(join(dir, 'campushub.acl'))) writeFileSync(join(dir, 'campushub.acl'), readFileSync(join(DEPLOY, 'campushub.acl')));
  // Run as root, mosquitto would switch to its own user, which cannot read this test's files.
  writeFileSync(join(dir, 'campushub.conf'), `${process.getuid?.() === 0 ? 'user root\n' : ''}${conf}\nlog_dest stderr\nlog_type error\nlog_type warning\nlog_type notice\n`);
  const child = spawn(MOSQUITTO, ['-c', join(dir, 'campushub.conf')], { stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: string[] = [];
  child.stdout.on('data', (chunk: Buffer) => lines.push(chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => lines.push(chunk.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await exited;
  };
  t.after(stop);
  return { output: () => lines.join(''), stop };
}

function batch(subject: string): Buffer {
  const now = new Date().toISOString();
  return encode({ v: PROTOCOL_VERSION, batchId: uuidv7(), sentAt: now, events: [{ id: uuidv7(), kind: 'tap', deviceId: 'door-1', method: 'qr', subject, deviceTime: null, receivedAt: now }] });
}

test(
  'Mosquitto with the shipped configuration: enrolled agents deliver, campus A cannot write campus B, no certificate no connection',
  { skip: existsSync(MOSQUITTO) ? false : `${MOSQUITTO} is not installed (apt-get install mosquitto) ` },
  async (t) => {
    const hub = await startTestHub(t);
    const dir = tempDir(t, 'mosquitto');
    const ca = (await (await fetch(`${hub.httpUrl}/api/v1/pki/ca`)).json()) as { caCertificatePem: string };
    const serverKeys = testKeys('mosquitto-server');
    const server = await brokerCertificate(hub, 'server', serverKeys);
    writeFileSync(join(dir, 'ca.crt'), ca.caCertificatePem);
    writeFileSync(join(dir, 'server.crt'), server.certificatePem);
    writeFileSync(join(dir, 'server.key'), serverKeys.privateKeyPem, { mode: 0o600 });
    const port = await freePort();
    const url = `mqtts://127.0.0.1:${port}`;
    const mosquitto = await startMosquitto(t, dir, port);

    // The hub's identity subscribes to everything under the root, as the hub's bus does.
    const hubKeys = testKeys('mosquitto-hub');
    const hubCert = await brokerCertificate(hub, 'hub', hubKeys);
    const hubOptions: IClientOptions = { protocolVersion: 4, reconnectPeriod: 0, key: hubKeys.privateKeyPem, cert: hubCert.certificatePem, ca: ca.caCertificatePem, clientId: 'campushub-hub-test' };
    const subscriber = await waitFor(() => mqtt.connectAsync(url, hubOptions), { message: `mosquitto to accept the hub (log: ${mosquitto.output()})` });
    t.after(() => subscriber.endAsync(true));
    await subscriber.subscribeAsync('campushub/v1/#', { qos: 1 });
    const received: { topic: string; subject: string }[] = [];
    subscriber.on('message', (topic, payload) => {
      const body = JSON.parse(payload.toString()) as { events?: { subject: string }[] };
      received.push({ topic, subject: body.events?.[0]?.subject ?? '' });
    });

    // A real agent, enrolled in process with the same code as `campushub agent-enroll`, delivering through Mosquitto.
    const { token, caFingerprint } = await issueToken(hub, { campusId: 'campus-a' });
    const agentDir = tempDir(t, 'mosquitto-agent');
    const identity = await enrollAgent({ hubUrl: hub.httpUrl, token, caFingerprint, agentId: 'agent-1', dataDir: agentDir, bits: 2048 });
    const scanner = await startQrScannerSimulator({ listen: { host: '127.0.0.1', port: 0 }, ackMode: true });
    t.after(() => scanner.stop());
    const agent = await startAgent({
      ...agentDefaults(),
      agentId: identity.agentId,
      campusId: identity.campusId,
      mqttUrl: url,
      dataDir: agentDir,
      identity,
      devices: [{ id: 'door-1', kind: 'qr', url: `tcp://127.0.0.1:${scanner.address().port}?ack=1` }],
      logLevel: 'silent',
    });
    t.after(() => agent.stop());
    scanner.scan('VIA-MOSQUITTO');
    await waitFor(() => received.some((message) => message.subject === 'VIA-MOSQUITTO'), { message: `the agent's tap at the subscriber (log: ${mosquitto.output()})` });
    assert.ok(received.some((message) => message.topic === agentTopic({ campusId: 'campus-a', agentId: 'agent-1' }, 'events')));

    // Campus A's agent writes into campus B: Mosquitto drops it (MQTT 3.1.1 has no way to say so); its own next message arrives.
    const a = await enrollTestAgent(hub, { campusId: 'campus-a', agentId: 'agent-2' });
    const client = await mqtt.connectAsync(url, { protocolVersion: 4, reconnectPeriod: 0, key: a.keyPem, cert: a.certificatePem, ca: a.caCertificatePem, clientId: a.clientId });
    t.after(() => client.endAsync(true));
    await client.publishAsync(agentTopic({ campusId: 'campus-b', agentId: 'agent-2' }, 'events'), batch('CROSS-CAMPUS'), { qos: 1 });
    await client.publishAsync(agentTopic({ campusId: 'campus-a', agentId: 'agent-1' }, 'events'), batch('IMPERSONATION'), { qos: 1 });
    await client.publishAsync(agentTopic(a.address, 'events'), batch('OWN-TOPIC'), { qos: 1 });
    await waitFor(() => received.some((message) => message.subject === 'OWN-TOPIC'), { message: 'the agent\'s own message' });
    assert.ok(!received.some((message) => message.subject === 'CROSS-CAMPUS'), 'campus A wrote into campus B');
    assert.ok(!received.some((message) => message.subject === 'IMPERSONATION'), 'an agent wrote as another agent');
    // And it cannot listen to another agent's commands: Mosquitto grants the subscription but delivers nothing the ACL does not allow.
    const heard: string[] = [];
    client.on('message', (topic) => heard.push(topic));
    const otherCommands = agentTopic({ campusId: 'campus-b', agentId: 'agent-2' }, 'cmd/req');
    const ownCommands = agentTopic(a.address, 'cmd/req');
    await client.subscribeAsync([otherCommands, ownCommands], { qos: 1 });
    await subscriber.publishAsync(otherCommands, Buffer.from('{}'), { qos: 1 });
    await subscriber.publishAsync(ownCommands, Buffer.from('{}'), { qos: 1 });
    await waitFor(() => heard.includes(ownCommands), { message: 'the agent\'s own command' });
    assert.deepEqual(heard, [ownCommands]);

    // No client certificate: the TLS handshake fails, nothing is published.
    const anonymous = mqtt.connect(url, { protocolVersion: 4, reconnectPeriod: 0, ca: ca.caCertificatePem, clientId: 'nobody' });
    anonymous.publish(agentTopic(a.address, 'events'), batch('ANONYMOUS'), { qos: 1 }, () => {});
    const connected = await new Promise<boolean>((resolve) => {
      anonymous.once('connect', () => resolve(true));
      anonymous.once('error', () => resolve(false));
      anonymous.once('close', () => resolve(false));
    });
    anonymous.end(true);
    assert.equal(connected, false);
    await client.publishAsync(agentTopic(a.address, 'events'), batch('AFTER-ANONYMOUS'), { qos: 1 });
    await waitFor(() => received.some((message) => message.subject === 'AFTER-ANONYMOUS'), { message: 'the barrier message' });
    assert.ok(!received.some((message) => message.subject === 'ANONYMOUS'));

    // Revocation here is a restart with an updated list: deny the identity in the ACL file, restart, and it is cut off.
    await client.endAsync(true);
    await subscriber.endAsync(true);
    await agent.stop();
    await mosquitto.stop();
    writeFileSync(join(dir, 'campushub.acl'), `${readFileSync(join(dir, 'campushub.acl'), 'utf8')}\nuser campus-a/agent-2\ntopic deny campushub/v1/#\n`);
    const restarted = await startMosquitto(t, dir, port);
    const watcher = await waitFor(() => mqtt.connectAsync(url, hubOptions), { message: `mosquitto to come back (log: ${restarted.output()})` });
    t.after(() => watcher.endAsync(true));
    await watcher.subscribeAsync('campushub/v1/#', { qos: 1 });
    const after: string[] = [];
    watcher.on('message', (_topic, payload) => after.push((JSON.parse(payload.toString()) as { events: { subject: string }[] }).events[0]!.subject));
    const denied = await mqtt.connectAsync(url, { protocolVersion: 4, reconnectPeriod: 0, key: a.keyPem, cert: a.certificatePem, ca: a.caCertificatePem, clientId: a.clientId });
    t.after(() => denied.endAsync(true));
    await denied.publishAsync(agentTopic(a.address, 'events'), batch('REVOKED-BY-LIST'), { qos: 1 });
    const other = await enrollTestAgent(hub, { campusId: 'campus-a', agentId: 'agent-3' });
    const still = await mqtt.connectAsync(url, { protocolVersion: 4, reconnectPeriod: 0, key: other.keyPem, cert: other.certificatePem, ca: other.caCertificatePem, clientId: other.clientId });
    t.after(() => still.endAsync(true));
    await still.publishAsync(agentTopic(other.address, 'events'), batch('STILL-ALLOWED'), { qos: 1 });
    await waitFor(() => after.includes('STILL-ALLOWED'), { message: 'the allowed agent after the restart' });
    assert.deepEqual(after, ['STILL-ALLOWED']);
  },
);
