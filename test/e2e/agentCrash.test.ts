import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Outbox } from '../../agent/outbox/outbox.js';
import { startQrScannerSimulator } from '../../simulators/qr/scanner.js';
import { startTestHub, type TestHub } from '../support/hub.js';
import { spawnCampushub, type CampushubProcess } from '../support/processes.js';
import { tempDir } from '../support/tempDir.js';
import { waitFor } from '../support/wait.js';

const TAPS = 1000;

async function eventCounts(hub: TestHub): Promise<{ rows: number; subjects: number }> {
  const { rows } = await hub.db.query<{ rows: number; subjects: number }>('select count(*)::int as rows, count(distinct subject)::int as subjects from events');
  return rows[0]!;
}

test(`an agent killed with SIGKILL halfway through ${TAPS} taps loses none and stores none twice`, async (t) => {
  const hub = await startTestHub(t);
  const scanner = await startQrScannerSimulator({ listen: { host: '127.0.0.1', port: 0 }, ackMode: true });
  t.after(() => scanner.stop());
  let delivered = 0;
  scanner.on('delivered', () => delivered++);
  for (let index = 0; index < TAPS; index++) scanner.scan(`CRASH-${String(index).padStart(4, '0')}`);

  const dataDir = tempDir(t, 'agent');
  const args = [
    'agent',
    '--agent-id', 'crash-agent',
    '--campus-id', 'main',
    '--mqtt-url', hub.mqttUrl,
    '--data-dir', dataDir,
    '--device', `qr:door-1=tcp://127.0.0.1:${scanner.address().port}?ack=1`,
  ];
  let agent: CampushubProcess = spawnCampushub(args);
  await agent.ready;
  await waitFor(() => delivered >= TAPS / 2, { timeoutMs: 60_000, message: 'half the taps to reach the agent' });
  await agent.kill();
  const killedAt = delivered;

  agent = spawnCampushub(args);
  t.after(() => agent.kill());
  await agent.ready;
  await waitFor(async () => scanner.pending === 0 && (await eventCounts(hub)).rows >= TAPS, {
    timeoutMs: 90_000,
    message: `all ${TAPS} taps in the hub (killed after ${killedAt})`,
  });
  assert.equal(await agent.stop(), 0);

  const outbox = new Outbox(dataDir);
  t.after(() => outbox.close());
  assert.equal(outbox.integrityCheck(), 'ok');
  assert.equal(outbox.stats().depth, 0, 'everything acknowledged left the outbox');
  assert.deepEqual(await eventCounts(hub), { rows: TAPS, subjects: TAPS });
  assert.ok(killedAt < TAPS, 'the kill happened before the last tap');
});
