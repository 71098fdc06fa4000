import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { PROTOCOL_VERSION, agentTopic, encode, uuidv7, type AgentAddress } from '../../protocol/index.js';
import { startTestHub, type TestHub } from '../../test/support/hub.js';
import { enrollTestAgent, foreignCaCertificate, mtlsBroker, testKeys, type TestAgentCredentials } from '../../test/support/pki.js';
import { waitFor } from '../../test/support/wait.js';

interface Attempt {
  client: MqttClient;
  /** Resolves once the broker accepted (true) or the connection ended without CONNACK success (false). */
  outcome: Promise<boolean>;
}

/** Connects without retries and queues `publish` at once, so that a broker that processed anything would have it. */
function attempt(url: string, options: IClientOptions, publish?: { topic: string; payload: Buffer }): Attempt {
  const client = mqtt.connect(url, { protocolVersion: 4, reconnectPeriod: 0, connectTimeout: 10_000, ...options });
  const outcome = new Promise<boolean>((resolve) => {
    client.once('connect', () => resolve(true));
    client.once('error', () => resolve(false));
    client.once('close', () => resolve(false));
  });
  if (publish) client.publish(publish.topic, publish.payload, { qos: 1 }, () => {});
  return { client, outcome };
}

function batch(subject: string) {
  return encode({
    v: PROTOCOL_VERSION,
    batchId: uuidv7(),
    sentAt: new Date().toISOString(),
    events: [{ id: uuidv7(), kind: 'tap', deviceId: 'door-1', method: 'qr', subject, deviceTime: null, receivedAt: new Date().toISOString() }],
  });
}

function credentialsOf(agent: TestAgentCredentials): IClientOptions {
  return { key: agent.keyPem, cert: agent.certificatePem, ca: agent.caCertificatePem, clientId: agent.clientId };
}

/** A subscriber with the hub's own identity that records everything under campushub/v1/#. */
async function spy(t: TestContext, hub: TestHub): Promise<{ topics: string[] }> {
  const identity = await hub.pki.issueHubIdentity('hub');
  const client = await mqtt.connectAsync(hub.mqttUrl, { protocolVersion: 4, reconnectPeriod: 0, key: identity.keyPem, cert: identity.certificatePem, ca: identity.caCertificatePem, clientId: 'campushub-hub-spy' });
  t.after(() => client.endAsync(true));
  await client.subscribeAsync('campushub/v1/#', { qos: 1 });
  const topics: string[] = [];
  client.on('message', (topic) => topics.push(topic));
  return { topics };
}

async function subjects(hub: TestHub): Promise<string[]> {
  const { rows } = await hub.db.query<{ subject: string }>('select subject from events order by subject');
  return rows.map((row) => row.subject);
}

/** A legitimate event published after the refused attempts: once it is stored, anything refused before it would have been too. */
async function barrier(hub: TestHub, agent: TestAgentCredentials, subject: string): Promise<void> {
  const client = await mqtt.connectAsync(hub.mqttUrl, { protocolVersion: 4, reconnectPeriod: 0, ...credentialsOf(agent) });
  await client.publishAsync(agentTopic(agent.address, 'events'), batch(subject), { qos: 1 });
  await waitFor(async () => (await subjects(hub)).includes(subject), { message: `${subject} to be stored` });
  await client.endAsync();
}

test('with mutual TLS an enrolled agent publishes its events and gets its ack; nobody else gets in', async (t) => {
  const hub = await startTestHub(t, { broker: mtlsBroker() });
  assert.match(hub.mqttUrl, /^mqtts:\/\//);
  const seen = await spy(t, hub);
  const north: AgentAddress = { campusId: 'north', agentId: 'gate-1' };
  const agent = await enrollTestAgent(hub, north);

  // The agent itself: connects, subscribes to its ack, publishes, gets the ack.
  const client = await mqtt.connectAsync(hub.mqttUrl, { protocolVersion: 4, reconnectPeriod: 0, ...credentialsOf(agent) });
  t.after(() => client.endAsync(true));
  const granted = await client.subscribeAsync([agentTopic(north, 'ack'), agentTopic(north, 'cmd/req')], { qos: 1 });
  assert.deepEqual(granted.map((grant) => grant.qos), [1, 1]);
  const acked = new Promise<string>((resolve) => client.once('message', (topic) => resolve(topic)));
  await client.publishAsync(agentTopic(north, 'events'), batch('LEGIT-1'), { qos: 1 });
  assert.equal(await acked, agentTopic(north, 'ack'));
  assert.deepEqual(await subjects(hub), ['LEGIT-1']);

  // Subscriptions outside its own ack and cmd/req are negated (SUBACK 0x80), the connection stays.
  const filters = ['#', '+/#', '$SYS/#', agentTopic({ campusId: 'south', agentId: 'gate-1' }, 'ack'), 'campushub/v1/north/+/ack', agentTopic(north, 'events')];
  // mqtt.js rejects a SUBACK whose every grant is 0x80; the packet is on the error.
  const denied = await client.subscribeAsync(filters, { qos: 1 }).then(
    () => null,
    (error: { packet?: { granted?: number[] } }) => error.packet?.granted,
  );
  assert.deepEqual(denied, [128, 128, 128, 128, 128, 128]);
  assert.ok(client.connected);

  const topic = agentTopic(north, 'events');
  const payload = batch('INTRUDER');
  const now = Date.now();
  const keys = testKeys('north/gate-1');
  const revokedAgent = await enrollTestAgent(hub, { campusId: 'north', agentId: 'gate-2' });
  const revoke = await hub.api(`/api/v1/pki/certificates/${revokedAgent.serial}/revoke`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"reason":"laptop stolen"}' });
  assert.equal(revoke.status, 200);
  const refusals: Record<string, IClientOptions> = {
    'no certificate': { ca: agent.caCertificatePem, clientId: agent.clientId },
    'a certificate of another CA': { ...foreignCaCertificateOptions(keys), ca: agent.caCertificatePem, clientId: agent.clientId },
    'an expired certificate': {
      key: keys.privateKeyPem,
      cert: hub.pki.signUnrecorded({ publicKeyPem: keys.publicKeyPem, commonName: 'north/gate-1', notBefore: new Date(now - 10 * 86_400_000), notAfter: new Date(now - 86_400_000) }),
      ca: agent.caCertificatePem,
      clientId: agent.clientId,
    },
    'a revoked certificate': credentialsOf(revokedAgent),
    'a client id that is not the certificate\'s': { ...credentialsOf(agent), clientId: 'campushub-agent/north/gate-9' },
    'a plain connection': {},
  };
  for (const [what, options] of Object.entries(refusals)) {
    const url = what === 'a plain connection' ? hub.mqttUrl.replace('mqtts:', 'mqtt:') : hub.mqttUrl;
    const refused = attempt(url, options, { topic: what === 'a revoked certificate' ? agentTopic(revokedAgent.address, 'events') : topic, payload });
    assert.equal(await refused.outcome, false, `${what} must be refused`);
    refused.client.end(true);
  }
  await barrier(hub, agent, 'LEGIT-2');
  assert.deepEqual(await subjects(hub), ['LEGIT-1', 'LEGIT-2']);
  assert.ok(!seen.topics.some((seenTopic) => seenTopic.includes('gate-2')), 'nothing of the revoked agent reached a subscriber');
  assert.equal(seen.topics.filter((seenTopic) => seenTopic === topic).length, 2, 'only the two legitimate batches reached a subscriber');
  assert.ok(hub.logs.some((line) => line.reason === 'client_id'));
  assert.ok(hub.logs.some((line) => line.reason === 'revoked'));
});

function foreignCaCertificateOptions(keys: { privateKeyPem: string; publicKeyPem: string }): IClientOptions {
  const foreign = foreignCaCertificate('north/gate-1', keys);
  return { key: keys.privateKeyPem, cert: foreign.certificatePem };
}

test('a campus-A agent publishing on campus B\'s topics is cut off and nothing is delivered', async (t) => {
  const hub = await startTestHub(t, { broker: mtlsBroker() });
  const seen = await spy(t, hub);
  const a = await enrollTestAgent(hub, { campusId: 'campus-a', agentId: 'agent-1' });
  const b: AgentAddress = { campusId: 'campus-b', agentId: 'agent-1' };
  for (const target of [agentTopic(b, 'events'), agentTopic(b, 'status'), agentTopic({ campusId: 'campus-a', agentId: 'agent-2' }, 'events'), agentTopic(b, 'ack'), '$SYS/x']) {
    const client = await mqtt.connectAsync(hub.mqttUrl, { protocolVersion: 4, reconnectPeriod: 0, ...credentialsOf(a) });
    const closed = new Promise<void>((resolve) => client.once('close', () => resolve()));
    client.publish(target, batch(`CROSS-${target}`), { qos: 1 }, () => {});
    await closed;
    client.end(true);
  }
  await barrier(hub, a, 'OWN');
  assert.deepEqual(await subjects(hub), ['OWN']);
  assert.deepEqual([...new Set(seen.topics)], [agentTopic(a.address, 'events')]);
  assert.equal(await hub.metric('campushub_ingest_events_total', { result: 'committed' }), 1);
});

test('revoking a certificate closes the agent\'s live session at once, and it cannot come back', async (t) => {
  const hub = await startTestHub(t, { broker: mtlsBroker() });
  const agent = await enrollTestAgent(hub, { campusId: 'north', agentId: 'to-revoke' });
  const client = await mqtt.connectAsync(hub.mqttUrl, { protocolVersion: 4, reconnectPeriod: 0, ...credentialsOf(agent) });
  t.after(() => client.endAsync(true));
  const closed = new Promise<void>((resolve) => client.once('close', () => resolve()));
  const response = await hub.api(`/api/v1/pki/certificates/${agent.serial}/revoke`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"reason":"decommissioned"}' });
  assert.equal(response.status, 200);
  await closed;
  const again = attempt(hub.mqttUrl, credentialsOf(agent));
  assert.equal(await again.outcome, false);
  again.client.end(true);
  const { rows } = await hub.db.query<{ revoked_by: string; revoke_reason: string }>('select revoked_by, revoke_reason from pki_certificates where serial = $1', [agent.serial]);
  assert.deepEqual(rows[0], { revoked_by: 'bootstrap', revoke_reason: 'decommissioned' });
});

test('broker limits: a publish flood closes the client, too many connections from one address are dropped before TLS, oversize packets before buffering', async (t) => {
  const hub = await startTestHub(t, { broker: mtlsBroker({ rateLimits: { publishesPerSecond: 1, publishBurst: 5, connectionsPerIpPerMinute: 6 } }) });
  // Connections so far from 127.0.0.1: the hub's own client (1).
  const agent = await enrollTestAgent(hub, { campusId: 'north', agentId: 'flood' });
  const client = await mqtt.connectAsync(hub.mqttUrl, { protocolVersion: 4, reconnectPeriod: 0, ...credentialsOf(agent) }); // 2
  const closed = new Promise<void>((resolve) => client.once('close', () => resolve()));
  for (let index = 0; index < 50; index++) client.publish(agentTopic(agent.address, 'health'), Buffer.from('{}'), { qos: 0 });
  await closed;
  client.end(true);
  assert.ok(hub.logs.some((line) => line.reason === 'publish_rate'));

  // An announced 256 MB packet over TLS closes the connection before its body is buffered.
  const port = Number(new URL(hub.mqttUrl).port);
  const guarded = tlsConnect({ host: '127.0.0.1', port, key: agent.keyPem, cert: agent.certificatePem, ca: agent.caCertificatePem }); // 3
  guarded.on('error', () => {});
  await new Promise<void>((resolve) => guarded.once('secureConnect', () => resolve()));
  guarded.write(Buffer.from([0x10, 0xff, 0xff, 0xff, 0x7f]));
  await new Promise<void>((resolve) => guarded.once('close', () => resolve()));
  await waitFor(async () => (await hub.metric('campushub_mqtt_guard_violations_total', { violation: 'oversize' })) === 1, { message: 'the guard violation to be counted' });

  // The limit is 6 a minute from 127.0.0.1, 3 are used: of 8 more raw sockets the first 3 are admitted, the rest dropped unread.
  const sockets: Socket[] = [];
  const closedSockets = new Set<number>();
  t.after(() => sockets.forEach((socket) => socket.destroy()));
  for (let index = 0; index < 8; index++) {
    const socket = netConnect(port, '127.0.0.1');
    socket.on('error', () => {});
    socket.on('close', () => closedSockets.add(index));
    sockets.push(socket);
  }
  await waitFor(() => closedSockets.size === 5, { message: 'five sockets over the limit to be dropped' });
  assert.deepEqual([...closedSockets].sort(), [3, 4, 5, 6, 7]);
  const late = attempt(hub.mqttUrl, credentialsOf(agent));
  assert.equal(await late.outcome, false, 'a real client over the limit is refused as well');
  late.client.end(true);
  assert.ok(hub.logs.some((line) => line.reason === 'connection_rate'));
});
