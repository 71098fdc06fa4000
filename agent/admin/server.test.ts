import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startQrScannerSimulator } from '../../simulators/qr/scanner.js';
import { startTestHub } from '../../test/support/hub.js';
import { startRigAgent } from '../../test/support/agentRig.js';
import { waitFor } from '../../test/support/wait.js';

test('the admin server on localhost reports health, Prometheus metrics, devices and the backlog', async (t) => {
  const hub = await startTestHub(t);
  const scanner = await startQrScannerSimulator({ listen: { host: '127.0.0.1', port: 0 }, ackMode: true });
  t.after(() => scanner.stop());
  const agent = await startRigAgent(t, {
    mqttUrl: hub.mqttUrl,
    devices: [{ id: 'door-a', kind: 'qr', url: `tcp://127.0.0.1:${scanner.address().port}?ack=1` }],
    overrides: { admin: { host: '127.0.0.1', port: 0 } },
  });
  assert.match(agent.admin!.url, /^http:\/\/127\.0\.0\.1:\d+$/);
  await waitFor(() => agent.uplink.connected && agent.devices.health()[0]?.state === 'ready', { message: 'agent connected and reader ready' });
  scanner.scan('ADMIN-1');
  await waitFor(async () => (await hub.db.query<{ n: number }>('select count(*)::int as n from events')).rows[0]!.n === 1, { message: 'the scan at the hub' });

  const get = async (path: string) => {
    const response = await fetch(`${agent.admin!.url}${path}`);
    assert.equal(response.status, 200, path);
    return response;
  };
  const health = (await (await get('/health')).json()) as { status: string; backlog: { depth: number }; disk: { level: string }; uplink: { connected: boolean } };
  assert.equal(health.status, 'ok');
  assert.equal(health.uplink.connected, true);
  assert.equal(health.disk.level, 'ok');
  await waitFor(() => agent.outbox.stats().depth === 0, { message: 'the outbox empty' });
  const metrics = await (await get('/metrics')).text();
  assert.match(metrics, /^campushub_agent_outbox_depth 0$/m);
  assert.match(metrics, /^campushub_agent_device_ready\{device="door-a"\} 1$/m);
  assert.match(metrics, /^campushub_agent_disk_level 0$/m);
  const devices = (await (await get('/devices')).json()) as { items: { id: string; state: string }[] };
  assert.deepEqual(devices.items.map(({ id, state }) => ({ id, state })), [{ id: 'door-a', state: 'ready' }]);
  const backlog = (await (await get('/backlog')).json()) as { depth: number; discards: unknown[] };
  assert.deepEqual([backlog.depth, backlog.discards], [0, []]);
  assert.equal((await fetch(`${agent.admin!.url}/health`, { method: 'POST' })).status, 405);
});
