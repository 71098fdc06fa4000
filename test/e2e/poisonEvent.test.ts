import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { startAgent } from '../../agent/agent.js';
import { agentDefaults } from '../../agent/config.js';
import { Outbox } from '../../agent/outbox/outbox.js';
import { uuidv7, type TapEvent } from '../../protocol/index.js';
import { startTestHub } from '../support/hub.js';
import { tempDir } from '../support/tempDir.js';
import { waitFor } from '../support/wait.js';

const GOOD = 1000;

test(`one schema-invalid event ahead of ${GOOD} good ones is quarantined with its reason, and all ${GOOD} are delivered`, async (t) => {
  const hub = await startTestHub(t);
  const dataDir = tempDir(t, 'agent');

  // The outbox refuses invalid events, so the poison goes in underneath it, as a bug or an older agent version would leave it.
  new Outbox(dataDir).close();
  const poisonId = uuidv7();
  const raw = new Database(join(dataDir, 'outbox.sqlite'));
  raw.prepare('insert into outbox (id, body, created_at) values (?, ?, ?)').run(
    poisonId,
    JSON.stringify({ id: poisonId, kind: 'tap', deviceId: 'door-1', method: 'qr', deviceTime: null, receivedAt: new Date().toISOString() }),
    Date.now(),
  );
  raw.close();
  const outbox = new Outbox(dataDir);
  const good: TapEvent[] = Array.from({ length: GOOD }, (_, index) => ({
    id: uuidv7(),
    kind: 'tap',
    deviceId: 'door-1',
    method: 'qr',
    subject: `2025CS${String(index).padStart(4, '0')}`,
    deviceTime: null,
    receivedAt: new Date().toISOString(),
  }));
  outbox.enqueueMany(good);
  outbox.close();

  const agent = await startAgent({ ...agentDefaults(), agentId: 'poisoned', campusId: 'main', mqttUrl: hub.mqttUrl, dataDir, devices: [], logLevel: 'silent' });
  t.after(() => agent.stop());
  await waitFor(() => agent.outbox.stats().depth === 0, { timeoutMs: 60_000, message: 'the outbox to drain' });

  const { rows } = await hub.db.query<{ n: number }>('select count(*)::int as n from events');
  assert.equal(rows[0]!.n, GOOD);
  assert.equal(agent.outbox.stats().quarantined, 1);

  // The hub can see the quarantine through the recorded command path.
  const response = await hub.api('/api/v1/agents/poisoned/commands', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ op: 'quarantine.list', params: { limit: 10 }, reason: 'checking the poison test' }),
  });
  assert.equal(response.status, 200);
  const outcome = (await response.json()) as { status: string; result: { items: { id: string; reason: string }[] } };
  assert.equal(outcome.status, 'ok');
  assert.equal(outcome.result.items.length, 1);
  assert.equal(outcome.result.items[0]!.id, poisonId);
  assert.match(outcome.result.items[0]!.reason, /subject/);
  const recorded = await hub.db.query<{ requested_by: string; reason: string; status: string }>('select requested_by, reason, status from agent_commands');
  assert.deepEqual(recorded.rows, [{ requested_by: 'bootstrap', reason: 'checking the poison test', status: 'ok' }]);
  const audited = await hub.db.query<{ actor: string; action: string; reason: string }>("select actor, action, reason from audit_log where action like 'agent.command.%'");
  assert.deepEqual(audited.rows, [{ actor: 'bootstrap', action: 'agent.command.quarantine.list', reason: 'checking the poison test' }]);
});

test('releasing a quarantined event sends it again, and purging it is the only way it disappears', async (t) => {
  const hub = await startTestHub(t);
  const dataDir = tempDir(t, 'agent');
  const agent = await startAgent({ ...agentDefaults(), agentId: 'releaser', campusId: 'main', mqttUrl: hub.mqttUrl, dataDir, devices: [], logLevel: 'silent' });
  t.after(() => agent.stop());
  const poison = { id: uuidv7(), kind: 'tap', deviceId: 'door-1', method: 'qr', subject: '', deviceTime: null, receivedAt: new Date().toISOString() };
  // Inserted through the agent's own database handle path: a second connection, as a bug would.
  const raw = new Database(join(dataDir, 'outbox.sqlite'));
  raw.prepare('insert into outbox (id, body, created_at) values (?, ?, ?)').run(poison.id, JSON.stringify(poison), Date.now());
  raw.close();
  agent.uplink.pump();
  await waitFor(() => agent.outbox.stats().quarantined === 1, { message: 'the poison to be quarantined' });

  const command = (op: string, params: unknown) =>
    hub.api('/api/v1/agents/releaser/commands', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ op, params, reason: 'operator decision in test' }),
    });
  const released = (await (await command('quarantine.release', { ids: [poison.id] })).json()) as { result: { released: number } };
  assert.equal(released.result.released, 1);
  // Released, sent again, rejected again: it comes back to quarantine rather than vanishing.
  await waitFor(() => agent.outbox.stats().quarantined === 1 && agent.outbox.stats().depth === 0, { message: 'the released event to come back' });
  const badParams = await command('quarantine.purge', { ids: ['not-an-id'] });
  assert.equal(badParams.status, 400);
  assert.match(((await badParams.json()) as { message: string }).message, /ids/);
  const purged = (await (await command('quarantine.purge', { ids: [poison.id] })).json()) as { result: { purged: number } };
  assert.equal(purged.result.purged, 1);
  assert.equal(agent.outbox.stats().quarantined, 0);
});
