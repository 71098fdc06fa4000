import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startQrScannerSimulator } from '../../simulators/qr/scanner.js';
import { startTestHub, type TestHub } from '../support/hub.js';
import { hubCounts, proxyToHub, startRigAgent, startTerminal } from '../support/agentRig.js';
import { waitFor } from '../support/wait.js';

const SCANS = 600;
const PUNCHES = 300;
const CUTS = 6;

/** The hub's rows of one device, in the agent's creation order (event ids are UUIDv7 from one process). */
async function deviceRows(hub: TestHub, deviceId: string): Promise<{ subject: string; ingested_at: Date }[]> {
  return (await hub.db.query<{ subject: string; ingested_at: Date }>('select subject, ingested_at from events where device_id = $1 order by id', [deviceId])).rows;
}

test(`the link to the hub is cut ${CUTS} times and stalled once under steady load: every event arrives, in order per device`, async (t) => {
  const hub = await startTestHub(t);
  const proxy = await proxyToHub(t, hub);
  const scanner = await startQrScannerSimulator({ listen: { host: '127.0.0.1', port: 0 }, ackMode: true });
  t.after(() => scanner.stop());
  const terminal = await startTerminal(t, 'CUTS1');
  const agent = await startRigAgent(t, {
    mqttUrl: `mqtt://127.0.0.1:${proxy.port}`,
    devices: [
      { id: 'door-q', kind: 'qr', url: `tcp://127.0.0.1:${scanner.address().port}?ack=1` },
      { id: 'door-z', kind: 'zk', url: terminal.url('tcp') },
    ],
  });
  await waitFor(() => agent.devices.health().every((device) => device.state === 'ready') && agent.uplink.connected, { message: 'devices and uplink ready' });

  // Steady load: a scan every 10 ms and a punch every 20 ms, while the link is cut and restored.
  const scans = Array.from({ length: SCANS }, (_, index) => `CUT-Q-${String(index).padStart(4, '0')}`);
  const punches = Array.from({ length: PUNCHES }, (_, index) => `CUT-Z-${String(index).padStart(4, '0')}`);
  let scanned = 0;
  let punched = 0;
  const load = setInterval(() => {
    if (scanned < SCANS) scanner.scan(scans[scanned++]!);
    if (scanned < SCANS) scanner.scan(scans[scanned++]!);
    if (punched < PUNCHES) terminal.punch(punches[punched++]!);
  }, 20);
  t.after(() => clearInterval(load));

  // A stall first, while batches are in flight: the connection stays up and carries nothing, so only the ack watchdog can tell.
  await waitFor(() => agent.uplink.inFlightCount > 0, { message: 'batches in flight' });
  const recycles = agent.uplink.watchdogRecycles;
  proxy.stall();
  await waitFor(() => agent.uplink.watchdogRecycles > recycles, { timeoutMs: 30_000, message: 'the watchdog to recycle the stalled client' });
  proxy.restore();

  const total = SCANS + PUNCHES;
  for (let round = 0; round < CUTS; round++) {
    const before = (await hubCounts(hub)).rows;
    await waitFor(async () => (await hubCounts(hub)).rows >= Math.min(before + 20, total), { timeoutMs: 60_000, message: `events flowing before cut ${round + 1}` });
    proxy.cut();
    await waitFor(() => !agent.uplink.connected, { message: `the uplink to notice cut ${round + 1}` });
    const depth = agent.outbox.stats().depth;
    await waitFor(() => agent.outbox.stats().depth > depth || (scanned >= SCANS && punched >= PUNCHES), { message: 'events queueing during the cut' });
    proxy.restore();
    await waitFor(() => agent.uplink.connected, { timeoutMs: 30_000, message: `the uplink back after cut ${round + 1}` });
  }
  await waitFor(async () => (await hubCounts(hub)).rows === total && scanner.pending === 0, {
    timeoutMs: 120_000,
    message: `all ${SCANS + PUNCHES} events at the hub`,
  });
  assert.deepEqual(await hubCounts(hub), { rows: SCANS + PUNCHES, keys: PUNCHES, subjects: SCANS + PUNCHES });
  for (const [deviceId, sent] of [['door-q', scans], ['door-z', punches]] as const) {
    const rows = await deviceRows(hub, deviceId);
    assert.deepEqual(rows.map((row) => row.subject), sent, `${deviceId}: the hub has each event once, created in the order sent`);
    const outOfOrder = rows.findIndex((row, index) => index > 0 && row.ingested_at < rows[index - 1]!.ingested_at);
    assert.equal(outOfOrder, -1, `${deviceId}: no event was committed before one made earlier`);
  }
});
