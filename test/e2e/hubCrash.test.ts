import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startAgent } from '../../agent/agent.js';
import { agentDefaults } from '../../agent/config.js';
import { startQrScannerSimulator } from '../../simulators/qr/scanner.js';
import { createTestDatabase } from '../support/database.js';
import { TEST_ADMIN_TOKEN } from '../support/hub.js';
import { freePort } from '../support/ports.js';
import { spawnCampushub, TEST_KEKS, type CampushubProcess } from '../support/processes.js';
import { tempDir } from '../support/tempDir.js';
import { waitFor } from '../support/wait.js';

const TAPS = 1000;

async function allEvents(httpUrl: string): Promise<{ id: string; subject: string }[]> {
  const items: { id: string; subject: string }[] = [];
  let cursor: string | null = null;
  do {
    const response: Response = await fetch(`${httpUrl}/api/v1/events?limit=500${cursor ? `&cursor=${cursor}` : ''}`, {
      headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}` },
    });
    assert.equal(response.status, 200);
    const page = (await response.json()) as { items: { id: string; subject: string }[]; nextCursor: string | null };
    items.push(...page.items);
    cursor = page.nextCursor;
  } while (cursor);
  return items;
}

test(`a hub killed with SIGKILL halfway through ${TAPS} taps and restarted ends with each tap stored exactly once`, async (t) => {
  const database = await createTestDatabase();
  t.after(() => database.drop());
  const [httpPort, mqttPort] = [await freePort(), await freePort()];
  const hubArgs = [
    'hub',
    '--http-port', String(httpPort),
    '--mqtt-port', String(mqttPort),
    '--admin-token', TEST_ADMIN_TOKEN,
    '--mqtt-security', 'development',
    ...(database.options.databaseUrl ? ['--database-url', database.options.databaseUrl] : ['--data-dir', database.options.dataDir!]),
  ];
  let hub: CampushubProcess = spawnCampushub(hubArgs, { CAMPUSHUB_KEKS: TEST_KEKS });
  t.after(() => hub.kill());
  await hub.ready;

  const scanner = await startQrScannerSimulator({ listen: { host: '127.0.0.1', port: 0 }, ackMode: true });
  t.after(() => scanner.stop());
  let delivered = 0;
  scanner.on('delivered', () => delivered++);
  for (let index = 0; index < TAPS; index++) scanner.scan(`HUBCRASH-${String(index).padStart(4, '0')}`);

  const defaults = agentDefaults();
  const agent = await startAgent({
    ...defaults,
    agentId: 'hub-crash-agent',
    campusId: 'main',
    mqttUrl: `mqtt://127.0.0.1:${mqttPort}`,
    dataDir: tempDir(t, 'agent'),
    devices: [{ id: 'door-1', kind: 'qr', url: `tcp://127.0.0.1:${scanner.address().port}?ack=1` }],
    // Quick retries keep the test short; the logic is the same at production settings.
    uplink: { ...defaults.uplink, backoffBaseMs: 50, backoffCapMs: 500, ackTimeoutMs: 2_000 },
    logLevel: 'silent',
  });
  t.after(() => agent.stop());

  await waitFor(() => delivered >= TAPS / 2, { timeoutMs: 60_000, message: 'half the taps to reach the agent' });
  await hub.kill();
  const killedAt = delivered;
  hub = spawnCampushub(hubArgs, { CAMPUSHUB_KEKS: TEST_KEKS });
  await hub.ready;

  await waitFor(() => scanner.pending === 0 && agent.outbox.stats().depth === 0 && agent.uplink.inFlightCount === 0, {
    timeoutMs: 90_000,
    message: `the outbox to drain after the hub restart (killed after ${killedAt})`,
  });
  const events = await allEvents(`http://127.0.0.1:${httpPort}`);
  assert.equal(events.length, TAPS);
  assert.equal(new Set(events.map((event) => event.id)).size, TAPS);
  assert.equal(new Set(events.map((event) => event.subject)).size, TAPS);
  assert.ok(killedAt < TAPS, 'the kill happened before the last tap');
});
