import { test } from 'node:test';
import assert from 'node:assert/strict';
import mqtt from 'mqtt';
import { PROTOCOL_VERSION, agentTopic, uuidv7, type Ack, type TapEvent } from '../../protocol/index.js';
import { hubDefaults } from '../../hub/config.js';
import { CAMPUS_IDS, seedSmallCampus } from '../support/campus.js';
import { startTestHub } from '../support/hub.js';
import { waitFor } from '../support/wait.js';

const MINUTE = 60_000;
/** 08:30 in Kolkata on Monday 3 August 2026, the first teaching day of the small campus. */
const MORNING = Date.parse('2026-08-03T03:00:00Z');
const address = { campusId: 'main', agentId: 'agent-main' };

test('a class day end to end: generated from the timetable, opened by the scheduler, taps matched present and late, closed, finalized once the door synced, the rest absent, then frozen', async (t) => {
  let now = MORNING;
  const hub = await startTestHub(t, { scheduler: { ...hubDefaults().scheduler, intervalMs: 0 } }, { now: () => now });
  await seedSmallCampus(hub.db);
  const generated = await hub.api('/api/v1/sessions/generate', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ termId: '2026-odd', from: '2026-08-03', to: '2026-08-03' }),
  });
  assert.equal(generated.status, 200, await generated.clone().text());
  const list = (await (await hub.api('/api/v1/sessions?roomId=R101&date=2026-08-03')).json()) as { items: { id: string; state: string }[] };
  assert.equal(list.items.length, 1);
  const lecture = list.items[0]!.id;

  now = MORNING + 25 * MINUTE; // 08:55, five minutes before the bell
  await hub.scheduler.runDue();
  const state = async () => ((await (await hub.api(`/api/v1/sessions/${lecture}`)).json()) as { state: string; finalizedAt: string | null });
  assert.equal((await state()).state, 'open');

  const client = await mqtt.connectAsync(hub.mqttUrl, { protocolVersion: 4, reconnectPeriod: 0 });
  t.after(() => client.endAsync(true));
  const acks: Ack[] = [];
  client.on('message', (_topic, payload) => acks.push(JSON.parse(payload.toString()) as Ack));
  await client.subscribeAsync(agentTopic(address, 'ack'), { qos: 1 });
  const fingerprint = (subject: string, at: number): TapEvent => ({
    id: uuidv7(),
    kind: 'tap',
    deviceId: 'door-101',
    method: 'fingerprint',
    subject,
    deviceTime: new Date(at).toISOString(),
    receivedAt: new Date(at).toISOString(),
  });
  const batchId = uuidv7();
  await client.publishAsync(
    agentTopic(address, 'events'),
    JSON.stringify({
      v: PROTOCOL_VERSION,
      batchId,
      sentAt: new Date(now).toISOString(),
      events: [fingerprint('1001', MORNING + 28 * MINUTE), fingerprint('1002', MORNING + 45 * MINUTE), fingerprint('1004', MORNING + 29 * MINUTE)],
    }),
    { qos: 1 },
  );
  await waitFor(() => acks.find((ack) => ack.batchId === batchId), { message: 'the batch ack' });
  await hub.matcher.idle();

  now = MORNING + 91 * MINUTE; // 10:01: the 09:50 lecture closed at 10:00
  await hub.scheduler.runDue();
  assert.equal((await state()).state, 'closed');
  assert.equal((await state()).finalizedAt, null, 'provisional until the door has synced');

  // The agent reports later that the door's events up to 10:06 are all delivered (the grace ends at 10:05).
  now = MORNING + 97 * MINUTE;
  await client.publishAsync(
    agentTopic(address, 'sync'),
    JSON.stringify({ v: PROTOCOL_VERSION, at: new Date(now).toISOString(), devices: [{ deviceId: 'door-101', upTo: new Date(MORNING + 96 * MINUTE).toISOString() }] }),
    { qos: 1 },
  );
  await waitFor(async () => (await hub.db.query(`select 1 from device_watermarks where device_id = 'door-101'`)).rows.length > 0, { message: 'the watermark' });
  await hub.scheduler.runDue();
  assert.ok((await state()).finalizedAt, 'finalized once every door of the room synced past the end plus grace');

  const roll = (await (await hub.api(`/api/v1/sessions/${lecture}/records`)).json()) as { items: { studentId: string; status: string; source: string }[] };
  const statusOf = Object.fromEntries(roll.items.map((item) => [item.studentId, `${item.status}/${item.source}`]));
  const [s1, s2, s3] = CAMPUS_IDS.students;
  assert.deepEqual(statusOf, { [s1!]: 'present/biometric', [s2!]: 'late/biometric', [s3!]: 'absent/automatic' }, 'S4 joined on 24 August and is not on this roll');
  const unmatched = await hub.db.query<{ reason: string }>('select reason from unmatched_taps');
  assert.deepEqual(unmatched.rows, [{ reason: 'not_enrolled' }]);

  const register = (await (await hub.api(`/api/v1/sections/${CAMPUS_IDS.theory}/records`)).json()) as { items: { sessionId: string; records: { studentId: string; status: string }[] }[] };
  assert.deepEqual(
    register.items.map((item) => [item.sessionId, item.records.map((record) => record.status)]),
    [[lecture, roll.items.slice().sort((a, b) => (a.studentId < b.studentId ? -1 : 1)).map((item) => item.status)]],
    'the section register shows the same day',
  );

  const late = await hub.api(`/api/v1/sessions/${lecture}/records`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ studentId: s3, status: 'present' }),
  });
  assert.equal(late.status, 409);
  assert.equal(((await late.json()) as { error: string }).error, 'session_finalized');
});
