import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { startAgent } from '../../agent/agent.js';
import { agentDefaults } from '../../agent/config.js';
import { MockR30xModule } from '../../simulators/r30x/module.js';
import { MockZkTerminal } from '../../simulators/zk/terminal.js';
import { CAMPUS_IDS, seedSmallCampus } from '../support/campus.js';
import { startTestHub } from '../support/hub.js';
import { findPattern, scanDatabase, scanFiles } from '../support/plaintextScan.js';
import { jsonBody } from '../support/routeMatrix.js';
import { tempDir } from '../support/tempDir.js';
import { waitFor } from '../support/wait.js';

const STUDENT = CAMPUS_IDS.students[0]!;

test('a finger enrolled at a terminal or module reaches the hub only with consent on record, sealed all the way', async (t) => {
  const hub = await startTestHub(t);
  await seedSmallCampus(hub.db);
  const terminal = await MockZkTerminal.start({ packetGapMs: 0, eventGapMs: 0 });
  t.after(() => terminal.close());
  const module = new MockR30xModule();
  const { port } = await module.serveTcp();
  t.after(() => module.close());
  // Enrolled at the devices: user 1001's right index on the terminal, a finger at slot 5 of the module.
  const marker = Buffer.concat([Buffer.from('ENROLLED:'), randomBytes(12)]);
  const terminalTemplate = Buffer.concat([randomBytes(100), marker, randomBytes(500)]);
  const { uid } = terminal.addUser({ userId: '1001', name: 'Aarav' });
  terminal.putTemplate({ uid, finger: 6, flag: 1, data: terminalTemplate });
  module.enroll(5, 42);
  const moduleTemplate = module.state.library.get(5)!;

  const dataDir = tempDir(t, 'capture-agent');
  const agent = await startAgent({
    ...agentDefaults(),
    agentId: 'capture-agent',
    campusId: 'main',
    mqttUrl: hub.mqttUrl,
    dataDir,
    devices: [
      { id: 'door-101', kind: 'zk', url: terminal.url('tcp') },
      { id: 'door-lab1', kind: 'r30x', url: `tcp://127.0.0.1:${port}?poll=50` },
    ],
    logLevel: 'silent',
  });
  t.after(() => agent.stop());
  await waitFor(async () => (await hub.db.query(`select 1 from agents where agent_id = 'capture-agent' and state = 'online'`)).rows.length === 1, { message: 'the agent online' });
  await waitFor(() => agent.devices.health().every((device) => device.state === 'ready'), { message: 'both devices ready' });

  const capture = async (body: Record<string, unknown>) => {
    const response = await hub.api(`/api/v1/students/${STUDENT}/templates/capture`, { method: 'POST', ...jsonBody({ agentId: 'capture-agent', ...body }) });
    return { status: response.status, body: (await response.json()) as { error?: string; message?: string; format?: string; source?: string; finger?: number } };
  };

  const refused = await capture({ deviceId: 'door-101', finger: 6 });
  assert.deepEqual([refused.status, refused.body.error], [409, 'consent_required']);
  assert.equal((await hub.db.query(`select 1 from agent_commands where op = 'templates.capture'`)).rows.length, 0, 'the agent was not even asked');

  assert.equal((await hub.api(`/api/v1/students/${STUDENT}/biometric-consent/grant`, { method: 'POST', ...jsonBody({}) })).status, 200);
  const fromTerminal = await capture({ deviceId: 'door-101', finger: 6, quality: 77 });
  assert.equal(fromTerminal.status, 201, fromTerminal.body.message);
  assert.deepEqual([fromTerminal.body.format, fromTerminal.body.source, fromTerminal.body.finger], ['zk-bio10', 'door-101', 6]);
  const fromModule = await capture({ deviceId: 'door-lab1', finger: 2, slot: 5 });
  assert.equal(fromModule.status, 201, fromModule.body.message);
  assert.equal(fromModule.body.format, 'r30x-char');

  const missing = await capture({ deviceId: 'door-101', finger: 9 });
  assert.deepEqual([missing.status, missing.body.error], [502, 'capture_failed']);
  assert.match(missing.body.message!, /holds no template for 1001, finger 9/);
  assert.equal((await capture({ deviceId: 'door-999', finger: 1 })).body.error, 'capture_failed');

  // Sealed at rest everywhere: the hub's tables (command results included), its logs, the agent's files.
  assert.deepEqual(await scanDatabase(hub.db, marker, moduleTemplate.subarray(0, 24)), []);
  for (const pattern of [marker, moduleTemplate.subarray(0, 24)]) {
    assert.deepEqual(findPattern('hub logs', JSON.stringify(hub.logs), pattern), []);
    assert.deepEqual(scanFiles(dataDir, pattern), []);
  }
  const results = await hub.db.query<{ result: unknown }>(`select result from agent_commands where op = 'templates.capture' and status = 'ok' order by requested_at`);
  assert.deepEqual(results.rows.map((row) => row.result), [{ format: 'zk-bio10' }, { format: 'r30x-char' }], 'the record keeps the format, not the sealed template');
  const audit = await hub.db.query<{ after: { source: string } }>(`select after from audit_log where action = 'templates.enroll' order by id`);
  assert.deepEqual(audit.rows.map((row) => row.after.source), ['door-101', 'door-lab1']);
});
