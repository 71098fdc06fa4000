import { test } from 'node:test';
import assert from 'node:assert/strict';
import mqtt from 'mqtt';
import { PROTOCOL_VERSION, agentTopic, uuidv7 } from '../../protocol/index.js';
import { startTestHub } from '../../test/support/hub.js';
import { waitFor } from '../../test/support/wait.js';

test('/metrics exposes ingest rate, batch sizes, lag, rejections, quarantine and connected agents in Prometheus text', async (t) => {
  const hub = await startTestHub(t);
  const address = { campusId: 'main', agentId: 'metrics-agent' };
  const client = await mqtt.connectAsync(hub.mqttUrl, { protocolVersion: 4, reconnectPeriod: 0 });
  t.after(() => client.endAsync(true));
  await client.publishAsync(
    agentTopic(address, 'status'),
    JSON.stringify({ v: PROTOCOL_VERSION, state: 'online', ...address, since: new Date().toISOString(), version: '0.1.0' }),
    { qos: 1, retain: true },
  );
  await client.publishAsync(
    agentTopic(address, 'health'),
    JSON.stringify({ v: PROTOCOL_VERSION, at: new Date().toISOString(), outbox: { depth: 7, oldestAgeMs: 1200, inFlight: 0 }, quarantine: { count: 2 }, devices: [] }),
    { qos: 1 },
  );
  const id = uuidv7();
  await client.publishAsync(
    agentTopic(address, 'events'),
    JSON.stringify({ v: 1, batchId: uuidv7(), sentAt: new Date().toISOString(), events: [{ id, kind: 'tap', deviceId: 'door-1', method: 'qr', subject: 'S1', deviceTime: null, receivedAt: new Date().toISOString() }] }),
    { qos: 1 },
  );
  await waitFor(async () => (await hub.metric('campushub_ingest_events_total', { result: 'committed' })) === 1, { message: 'the event committed' });
  await waitFor(async () => (await hub.metric('campushub_agent_quarantined_events', { agent: 'metrics-agent' })) === 2, { message: 'the health message' });

  const response = await hub.api('/metrics');
  assert.equal(response.status, 200);
  assert.match(response.headers.get('content-type') ?? '', /^text\/plain/);
  const text = await response.text();
  for (const line of [
    'campushub_ingest_events_total{result="committed"} 1',
    'campushub_ingest_batch_size_count 1',
    'campushub_ingest_lag_seconds_count 1',
    'campushub_agents_connected 1',
    'campushub_agent_outbox_depth{agent="metrics-agent"} 7',
    'campushub_agent_quarantined_events{agent="metrics-agent"} 2',
  ]) {
    assert.ok(text.includes(line), `missing ${line}`);
  }
  assert.match(text, /# TYPE campushub_ingest_rejected_messages_total counter/);
});

test('/healthz reports the database backend and answers 503 once the database is gone', async (t) => {
  const hub = await startTestHub(t);
  const healthy = (await (await fetch(`${hub.httpUrl}/healthz`)).json()) as { status: string; databaseBackend: string };
  assert.equal(healthy.status, 'ok');
  assert.equal(healthy.databaseBackend, process.env.TEST_DATABASE_URL ? 'postgres' : 'pglite');
  await hub.db.close();
  const response = await fetch(`${hub.httpUrl}/healthz`);
  assert.equal(response.status, 503);
  assert.equal(((await response.json()) as { database: string }).database, 'unreachable');
});
