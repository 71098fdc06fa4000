import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startAgent, type Agent } from '../../agent/agent.js';
import { agentDefaults, type AgentConfig } from '../../agent/config.js';
import type { ConfigDocument } from '../../protocol/index.js';
import { MockZkTerminal } from '../../simulators/zk/terminal.js';
import { startTestHub } from '../support/hub.js';
import { freePort } from '../support/ports.js';
import { jsonBody } from '../support/routeMatrix.js';
import { tempDir } from '../support/tempDir.js';
import { waitFor } from '../support/wait.js';

test('remote config documents: committed when healthy, not reapplied when unchanged, rolled back when a device fails, refused when invalid or stale', async (t) => {
  const hub = await startTestHub(t);
  const terminal = await MockZkTerminal.start({ packetGapMs: 0, eventGapMs: 0 });
  t.after(() => terminal.close());
  const dataDir = tempDir(t, 'config-agent');
  const config: AgentConfig = { ...agentDefaults(), agentId: 'cfg-agent', campusId: 'main', mqttUrl: hub.mqttUrl, dataDir, devices: [], configHealthTimeoutMs: 10_000, logLevel: 'silent' };
  let agent: Agent = await startAgent(config);
  t.after(() => agent.stop());
  await waitFor(async () => (await hub.db.query(`select 1 from agents where agent_id = 'cfg-agent' and state = 'online'`)).rows.length === 1, { message: 'the agent online' });

  const apply = async (document: unknown) => {
    const response = await hub.api('/api/v1/agents/cfg-agent/commands', { method: 'POST', ...jsonBody({ op: 'config.apply', params: { document }, reason: 'door rollout' }) });
    assert.equal(response.status, 200, await response.clone().text());
    const body = (await response.json()) as { status: string; result: { outcome: string; version: number; hash: string; reason?: string } };
    assert.equal(body.status, 'ok');
    return body.result;
  };
  const v1: ConfigDocument = { version: 1, devices: [{ id: 'door-301', kind: 'zk', url: terminal.url('tcp') }] };

  const committed = await apply(v1);
  assert.deepEqual([committed.outcome, committed.version], ['committed', 1]);
  assert.match(committed.hash, /^[0-9a-f]{64}$/);
  assert.deepEqual(agent.devices.health().map((device) => [device.id, device.state]), [['door-301', 'ready']]);
  const running = agent.devices.drivers()[0]!.driver;

  // The same document again (keys in another order): the hash is unchanged, so nothing is applied.
  const again = await apply({ devices: [{ url: terminal.url('tcp'), kind: 'zk', id: 'door-301' }], version: 1 });
  assert.deepEqual([again.outcome, again.hash], ['unchanged', committed.hash]);
  assert.equal(agent.devices.drivers()[0]!.driver, running, 'the driver was not reopened');

  // A device that cannot be reached fails the health check: everything goes back to version 1.
  const unreachable = await freePort();
  const rolledBack = await apply({ version: 2, devices: [...v1.devices, { id: 'door-302', kind: 'zk', url: `tcp://127.0.0.1:${unreachable}` }] });
  assert.equal(rolledBack.outcome, 'rolled_back');
  assert.match(rolledBack.reason!, /door-302 failed to open/);
  await waitFor(() => agent.devices.health().length === 1 && agent.devices.health()[0]!.state === 'ready', { message: 'version 1 running again' });
  assert.equal(agent.configDocuments.current().document.version, 1);
  const restored = agent.devices.drivers()[0]!.driver;

  // Invalid and stale documents change nothing.
  const badKind = await apply({ version: 3, devices: [{ id: 'door-303', kind: 'fax', url: 'tcp://127.0.0.1:1' }] });
  assert.deepEqual([badKind.outcome, /devices\/0: unknown device kind "fax"/.test(badKind.reason!)], ['invalid', true]);
  const duplicate = await apply({ version: 3, devices: [v1.devices[0], v1.devices[0]] });
  assert.match(duplicate.reason!, /devices\/1: id door-301 is taken/);
  const stale = await apply({ version: 1, devices: [] });
  assert.deepEqual([stale.outcome, /not newer than the committed 1/.test(stale.reason!)], ['invalid', true]);
  // A document of the wrong shape does not even leave the hub.
  const shapeless = await hub.api('/api/v1/agents/cfg-agent/commands', { method: 'POST', ...jsonBody({ op: 'config.apply', params: { document: { version: 'four', devices: [] } }, reason: 'typo' }) });
  assert.deepEqual([shapeless.status, ((await shapeless.json()) as { message: string }).message], [400, 'params of config.apply: /document/version: Expected integer']);
  assert.equal(agent.devices.drivers()[0]!.driver, restored, 'refused documents did not touch the running devices');

  // The committed document survives a restart and its devices run again.
  assert.equal(JSON.parse(readFileSync(join(dataDir, 'config', 'committed.json'), 'utf8')).version, 1);
  assert.ok(existsSync(join(dataDir, 'config', 'staged.json')));
  await agent.stop();
  agent = await startAgent(config);
  await waitFor(() => agent.devices.health()[0]?.state === 'ready', { message: 'door-301 back after a restart' });
  assert.deepEqual(agent.devices.health().map((device) => device.id), ['door-301']);
  const audit = await hub.db.query<{ n: number }>(`select count(*)::int as n from audit_log where action = 'agent.command.config.apply'`);
  assert.equal(audit.rows[0]!.n, 6, 'every document pushed is on record with who sent it and why');
});
