import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { startAgent } from '../../agent/agent.js';
import { agentDefaults } from '../../agent/config.js';
import { startQrScannerSimulator } from '../../simulators/qr/scanner.js';
import { startTestHub } from '../support/hub.js';
import { tempDir } from '../support/tempDir.js';
import { waitFor } from '../support/wait.js';

const MQTT_URL = process.env.TEST_MQTT_URL;
const TAPS = 200;

test(
  'taps travel from a scanner through an agent and an external broker (MQTT_URL) into the hub',
  { skip: MQTT_URL ? false : 'set TEST_MQTT_URL (e.g. mqtt://127.0.0.1:1883) to run against an external broker' },
  async (t) => {
    const hub = await startTestHub(t, { mqttUrl: MQTT_URL });
    assert.equal(hub.mqttUrl, MQTT_URL);
    // A campus of its own, so that other users of a shared broker do not meet this test's topics.
    const campusId = `ci-${randomBytes(4).toString('hex')}`;
    const scanner = await startQrScannerSimulator({ listen: { host: '127.0.0.1', port: 0 }, ackMode: true });
    t.after(() => scanner.stop());
    for (let index = 0; index < TAPS; index++) scanner.scan(`EXT-${index}`);
    const agent = await startAgent({
      ...agentDefaults(),
      agentId: 'external-agent',
      campusId,
      mqttUrl: MQTT_URL!,
      dataDir: tempDir(t, 'agent'),
      devices: [{ id: 'door-1', kind: 'qr', url: `tcp://127.0.0.1:${scanner.address().port}?ack=1` }],
      logLevel: 'silent',
    });
    t.after(() => agent.stop());
    await waitFor(async () => {
      const { rows } = await hub.db.query<{ n: number }>('select count(*)::int as n from events where campus_id = $1', [campusId]);
      return rows[0]!.n === TAPS && agent.outbox.stats().depth === 0;
    }, { timeoutMs: 60_000, message: `${TAPS} taps through the external broker` });
    const online = await waitFor(async () => {
      const { rows } = await hub.db.query<{ state: string }>('select state from agents where agent_id = $1', ['external-agent']);
      return rows[0]?.state === 'online';
    }, { message: 'the agent\'s retained status to reach the hub' });
    assert.ok(online);
  },
);
