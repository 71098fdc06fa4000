import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect } from 'node:net';
import mqtt, { type MqttClient } from 'mqtt';
import { PROTOCOL_VERSION, agentTopic, uuidv7, type Ack, type TapEvent } from '../../protocol/index.js';
import { startTestHub, type TestHub } from '../../test/support/hub.js';
import { waitFor } from '../../test/support/wait.js';

const address = { campusId: 'main', agentId: 'agent-t' };

function tap(overrides: Partial<TapEvent> = {}): TapEvent {
  const id = uuidv7();
  return { id, kind: 'tap', deviceId: 'door-1', method: 'qr', subject: `S-${id.slice(-6)}`, deviceTime: null, receivedAt: new Date().toISOString(), ...overrides };
}

/** An MQTT client standing in for an agent: it publishes batches and collects the acks. */
async function fakeAgent(t: TestContext, hub: TestHub) {
  const client: MqttClient = await mqtt.connectAsync(hub.mqttUrl, { protocolVersion: 4, reconnectPeriod: 0 });
  t.after(() => client.endAsync(true));
  const acks: Ack[] = [];
  client.on('message', (_topic, payload) => acks.push(JSON.parse(payload.toString()) as Ack));
  await client.subscribeAsync(agentTopic(address, 'ack'), { qos: 1 });
  return {
    client,
    acks,
    async send(events: unknown[], batchId = uuidv7()): Promise<Ack> {
      await client.publishAsync(agentTopic(address, 'events'), JSON.stringify({ v: PROTOCOL_VERSION, batchId, sentAt: new Date().toISOString(), events }), { qos: 1 });
      return waitFor(() => acks.find((ack) => ack.batchId === batchId), { message: `ack of batch ${batchId}` });
    },
    publishRaw: (payload: string | Buffer) => client.publishAsync(agentTopic(address, 'events'), payload, { qos: 1 }),
  };
}

async function storedIds(hub: TestHub): Promise<string[]> {
  const { rows } = await hub.db.query<{ id: string }>('select id::text as id from events order by id');
  return rows.map((row) => row.id);
}

test('a batch is committed before it is acknowledged, and a redelivered batch adds no rows', async (t) => {
  const hub = await startTestHub(t);
  const agent = await fakeAgent(t, hub);
  const events = [tap(), tap(), tap()];
  const ack = await agent.send(events);
  assert.deepEqual(ack.committed, events.map((event) => event.id));
  assert.deepEqual(ack.rejected, []);
  assert.deepEqual(await storedIds(hub), events.map((event) => event.id).sort());

  const again = await agent.send(events);
  assert.deepEqual(again.committed, events.map((event) => event.id));
  assert.equal((await storedIds(hub)).length, 3);
  assert.equal(await hub.metric('campushub_ingest_events_total', { result: 'committed' }), 3);
  assert.equal(await hub.metric('campushub_ingest_events_total', { result: 'duplicate' }), 3);
});

test('an event that breaks the schema is rejected by id with its reason, and the rest of its batch commits', async (t) => {
  const hub = await startTestHub(t);
  const agent = await fakeAgent(t, hub);
  const good = tap();
  const bad = { ...tap(), subject: '' };
  const ack = await agent.send([bad, good]);
  assert.deepEqual(ack.committed, [good.id]);
  assert.equal(ack.rejected.length, 1);
  assert.equal(ack.rejected[0]!.id, bad.id);
  assert.match(ack.rejected[0]!.reason, /events\/0\/subject/);
  assert.deepEqual(await storedIds(hub), [good.id]);
  assert.ok(hub.logs.some((line) => line.msg === 'rejected an event' && line.eventId === bad.id));
});

test('bad JSON, a schema-violating envelope and an oversize message are each refused, logged and counted, and good batches still go in', async (t) => {
  const hub = await startTestHub(t);
  const agent = await fakeAgent(t, hub);
  await agent.publishRaw('{"v":1, "batchId": ');
  await agent.publishRaw(JSON.stringify({ v: 1, batchId: 'not-a-uuid', sentAt: 'yesterday', events: [] }));
  // Over the protocol's message limit but under the broker's packet limit: ingest itself must refuse it.
  await agent.publishRaw(Buffer.alloc(1024 * 1024 + 10, 0x20));
  const good = tap();
  const ack = await agent.send([good]);
  assert.deepEqual(ack.committed, [good.id]);
  await waitFor(async () => (await hub.metric('campushub_ingest_rejected_messages_total', { reason: 'too_large' })) === 1, { message: 'too_large counted' });
  assert.equal(await hub.metric('campushub_ingest_rejected_messages_total', { reason: 'bad_json' }), 1);
  assert.equal(await hub.metric('campushub_ingest_rejected_messages_total', { reason: 'schema' }), 1);
  const refusals = hub.logs.filter((line) => line.msg === 'refused an events message');
  assert.deepEqual(refusals.map((line) => line.reason).sort(), ['bad_json', 'schema', 'too_large']);
  assert.match(String(refusals.find((line) => line.reason === 'schema')!.detail), /batchId/);
  assert.deepEqual(await storedIds(hub), [good.id]);
});

test('a 10 MB MQTT message is cut off at its header by the embedded broker, and other agents are unaffected', async (t) => {
  const hub = await startTestHub(t);
  const agent = await fakeAgent(t, hub);
  const attacker = await mqtt.connectAsync(hub.mqttUrl, { protocolVersion: 4, reconnectPeriod: 0 });
  attacker.on('error', () => {});
  const closed = new Promise<void>((resolve) => attacker.once('close', () => resolve()));
  attacker.publish(agentTopic({ campusId: 'main', agentId: 'intruder' }, 'events'), Buffer.alloc(10 * 1024 * 1024, 0x7b), { qos: 1 });
  await closed;
  await attacker.endAsync(true);
  assert.equal(await hub.metric('campushub_mqtt_guard_violations_total', { violation: 'oversize' }), 1);
  assert.ok(hub.logs.some((line) => line.msg === 'closed an MQTT connection that broke the packet limit' && line.violation === 'oversize'));
  const good = tap();
  assert.deepEqual((await agent.send([good])).committed, [good.id]);
});

test('a connection announcing a 256 MB packet is closed without the broker buffering the body', async (t) => {
  const hub = await startTestHub(t);
  const port = Number(new URL(hub.mqttUrl).port);
  const socket = connect(port, '127.0.0.1');
  await once(socket, 'connect');
  // CONNECT for MQTT 3.1.1, then a PUBLISH header announcing 268,435,455 bytes and no body.
  const connectPacket = Buffer.from('101000044d5154540402003c000461747461', 'hex');
  socket.write(connectPacket);
  socket.write(Buffer.from([0x30, 0xff, 0xff, 0xff, 0x7f]));
  await once(socket, 'close');
  assert.equal(await hub.metric('campushub_mqtt_guard_violations_total', { violation: 'oversize' }), 1);
});
