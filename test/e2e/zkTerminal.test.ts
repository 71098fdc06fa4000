import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startAgent } from '../../agent/agent.js';
import { agentDefaults } from '../../agent/config.js';
import { MockZkTerminal } from '../../simulators/zk/terminal.js';
import { startTestHub } from '../support/hub.js';
import { freePort } from '../support/ports.js';
import { tempDir } from '../support/tempDir.js';
import { waitFor } from '../support/wait.js';

test('punches at a ZK terminal reach the hub as fingerprint taps with the terminal\'s time and a stable device key', async (t) => {
  const hub = await startTestHub(t);
  const terminal = await MockZkTerminal.start();
  t.after(() => terminal.close());
  for (const userId of ['101', '102', '103']) terminal.addUser({ userId, name: `Student ${userId}` });
  const agent = await startAgent({
    ...agentDefaults(),
    agentId: 'zk-agent',
    campusId: 'main',
    mqttUrl: hub.mqttUrl,
    dataDir: tempDir(t, 'agent'),
    devices: [{ id: 'door-204', kind: 'zk', url: terminal.url('tcp') }],
    logLevel: 'silent',
  });
  t.after(() => agent.stop());
  await waitFor(() => agent.devices.health()[0]?.state === 'ready', { message: 'the terminal link to be ready' });

  terminal.punch('101', 1);
  terminal.punch('102', 1);
  terminal.punch('103', 0);
  const { rows } = await waitFor(async () => {
    const result = await hub.db.query<{ subject: string; method: string; device_key: string | null; device_time: Date | null }>(
      'select subject, method, device_key, device_time from events order by subject',
    );
    return result.rows.length === 3 ? result : null;
  }, { message: 'three punches at the hub' });
  assert.deepEqual(rows.map((row) => [row.subject, row.method]), [
    ['101', 'fingerprint'],
    ['102', 'fingerprint'],
    ['103', 'password'],
  ]);
  assert.ok(rows.every((row) => row.device_key?.startsWith(`zk/${terminal.serialNumber}/`) && row.device_time instanceof Date));
});

test('an agent starts while a terminal is unreachable, reports it failed, and takes its punches once it is up', async (t) => {
  const hub = await startTestHub(t);
  const port = await freePort();
  const agent = await startAgent({
    ...agentDefaults(),
    agentId: 'zk-late-agent',
    campusId: 'main',
    mqttUrl: hub.mqttUrl,
    dataDir: tempDir(t, 'agent'),
    devices: [{ id: 'door-205', kind: 'zk', url: `tcp://127.0.0.1:${port}` }],
    logLevel: 'silent',
  });
  t.after(() => agent.stop());
  assert.equal(agent.devices.health()[0]?.state, 'failed');

  const terminal = await MockZkTerminal.start({ port, udp: false });
  t.after(() => terminal.close());
  terminal.addUser({ userId: '201', name: 'Late Student' });
  await waitFor(() => agent.devices.health()[0]?.state === 'ready', { timeoutMs: 15_000, message: 'the agent to reach the terminal' });
  terminal.punch('201', 1);
  await waitFor(async () => (await hub.db.query<{ n: number }>(`select count(*)::int as n from events where subject = '201'`)).rows[0]?.n === 1, {
    message: 'the punch at the hub',
  });
});
