import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startTestHub, type TestHub } from '../../test/support/hub.js';
import { seedSmallCampus } from '../../test/support/campus.js';
import { jsonBody } from '../../test/support/routeMatrix.js';

async function call(hub: TestHub, method: string, path: string, body?: unknown) {
  const response = await hub.api(path, { method, ...(body === undefined ? {} : jsonBody(body)) });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> & { error?: string; message?: string } };
}

test('devices registry: register, assign to a room of its campus, and see live status, link statistics and the sync watermark', async (t) => {
  const hub = await startTestHub(t);
  await seedSmallCampus(hub.db);
  await hub.db.query(`insert into campuses (id, institution_id, name) values ('north', 'demo-univ', 'North campus')`);
  await hub.db.query(`insert into rooms (id, campus_id, name) values ('N1', 'north', 'North 1')`);

  const registered = await call(hub, 'POST', '/api/v1/devices', { campusId: 'main', deviceId: 'door-301', kind: 'zk', name: 'Room 301 door', serial: 'CKJ1234', agentId: 'agent-a' });
  assert.equal(registered.status, 201, registered.body.message);
  assert.deepEqual([registered.body.roomId, registered.body.live, registered.body.watermark, registered.body.status], [null, null, null, 'active']);
  assert.equal((await call(hub, 'POST', '/api/v1/devices', { campusId: 'main', deviceId: 'door-301', kind: 'zk' })).body.error, 'already_registered');
  const unknown = await call(hub, 'POST', '/api/v1/devices', { campusId: 'nowhere', deviceId: 'door-1', kind: 'zk' });
  assert.deepEqual([unknown.status, unknown.body.error], [400, 'unknown_campus']);
  const badKind = await call(hub, 'POST', '/api/v1/devices', { campusId: 'main', deviceId: 'door-1', kind: 'ZK Terminal' });
  assert.equal(badKind.status, 400);
  assert.match(badKind.body.message!, /kind/);

  const assigned = await call(hub, 'PUT', '/api/v1/devices/main/door-301/room', { roomId: 'R101', reason: 'new door' });
  assert.equal(assigned.body.roomId, 'R101');
  const rooms = await hub.db.query<{ room_id: string }>(`select room_id from room_devices where campus_id = 'main' and device_id = 'door-301'`);
  assert.deepEqual(rooms.rows, [{ room_id: 'R101' }], 'the room is what session matching reads');
  const elsewhere = await call(hub, 'PUT', '/api/v1/devices/main/door-301/room', { roomId: 'N1' });
  assert.deepEqual([elsewhere.status, elsewhere.body.error], [400, 'room_of_another_campus']);
  assert.equal((await call(hub, 'PUT', '/api/v1/devices/main/door-999/room', { roomId: 'R101' })).status, 404);

  // What the agent reports: its health (state, last seen, link statistics) and the watermark.
  const health = { v: 1, at: '2026-11-25T10:00:00.000Z', devices: [{ id: 'door-301', kind: 'zk', state: 'ready', lastSeenAt: '2026-11-25T09:59:58.000Z', link: { reconnects: 2 } }] };
  await hub.db.query(`insert into agents (agent_id, campus_id, health, health_at) values ('agent-a', 'main', $1, $2)`, [JSON.stringify(health), health.at]);
  await hub.db.query(`insert into device_watermarks (campus_id, device_id, up_to, reported_at) values ('main', 'door-301', '2026-11-25T09:55:00Z', now())`);
  const device = await call(hub, 'GET', '/api/v1/devices/main/door-301');
  assert.deepEqual(device.body.live, health.devices[0]);
  assert.equal(device.body.liveAt, health.at);
  assert.equal(device.body.watermark, '2026-11-25T09:55:00.000Z');
  const list = await call(hub, 'GET', '/api/v1/devices?campusId=main');
  assert.deepEqual((list.body.items as { deviceId: string }[]).map((item) => item.deviceId), ['door-301']);
  assert.equal((await call(hub, 'GET', '/api/v1/devices/main/door-404')).status, 404);

  const audit = await hub.db.query<{ action: string; target: string }>(`select action, target from audit_log where action like 'devices.%' order by id`);
  assert.deepEqual(audit.rows, [
    { action: 'devices.register', target: 'device:main/door-301' },
    { action: 'devices.assign_room', target: 'device:main/door-301' },
  ]);
});
