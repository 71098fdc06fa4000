import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { Outbox } from '../../agent/outbox/outbox.js';
import { startTestHub } from '../support/hub.js';
import { hubCounts, proxyToHub, SOAK, startTerminal } from '../support/agentRig.js';
import { freePort } from '../support/ports.js';
import { spawnCampushub, type CampushubProcess } from '../support/processes.js';
import { tempDir } from '../support/tempDir.js';
import { waitFor } from '../support/wait.js';

/** `npm test`: 5 kills in 2,000 punches; `npm run soak`: 20 kills in 10,000. */
const KILLS = SOAK ? 20 : 5;
const PUNCHES = SOAK ? 10_000 : 2_000;
const TERMINALS = 2;
/** Punches per terminal every 20 ms: 100 a second in all. */
const PER_TICK = 1;

async function burstWithKills(t: TestContext, hubReachable: boolean): Promise<void> {
  const hub = await startTestHub(t);
  const proxy = await proxyToHub(t, hub, { up: hubReachable });
  const terminals = await Promise.all(Array.from({ length: TERMINALS }, (_, index) => startTerminal(t, `KILL${hubReachable ? 'R' : 'U'}${index}`)));
  const dataDir = tempDir(t, 'agent');
  const adminPort = await freePort();
  const args = [
    'agent',
    '--agent-id', `kill-agent-${hubReachable ? 'r' : 'u'}`,
    '--campus-id', 'main',
    '--mqtt-url', `mqtt://127.0.0.1:${proxy.port}`,
    '--data-dir', dataDir,
    '--admin-port', String(adminPort),
    ...terminals.flatMap((terminal, index) => ['--device', `zk:door-${index}=${terminal.url('tcp')}`]),
  ];
  let agent: CampushubProcess = spawnCampushub(args);
  t.after(() => agent.kill());
  await agent.ready;

  let punched = 0;
  const burst = setInterval(() => {
    for (const [index, terminal] of terminals.entries()) {
      for (let n = 0; n < PER_TICK && punched < PUNCHES; n++) terminal.punch(`P${index}-${punched++}`);
    }
    if (punched >= PUNCHES) clearInterval(burst);
  }, 20);
  t.after(() => clearInterval(burst));

  // Kill points at random through the burst, each after the restarted agent said it was ready.
  const killAt = Array.from({ length: KILLS }, () => Math.floor(PUNCHES * (0.05 + 0.9 * Math.random()))).sort((a, b) => a - b);
  const integrity: string[] = [];
  for (const at of killAt) {
    await waitFor(() => punched >= at, { timeoutMs: 120_000, message: `${at} punches` });
    await agent.kill();
    const outbox = new Outbox(dataDir);
    integrity.push(outbox.integrityCheck());
    outbox.close();
    agent = spawnCampushub(args);
    await agent.ready;
  }
  await waitFor(() => punched >= PUNCHES, { timeoutMs: 120_000, message: 'the end of the burst' });
  if (!hubReachable) {
    const reached = (await hub.db.query<{ agent_id: string; device_id: string; n: number }>('select agent_id, device_id, count(*)::int as n from events group by 1, 2')).rows;
    assert.deepEqual(reached, [], 'nothing reached the unreachable hub');
    proxy.restore();
  }
  // Punches made while the agent was down were in the terminals' logs, read at each restart; the rest came live.
  await waitFor(async () => (await hubCounts(hub)).rows >= PUNCHES, { timeoutMs: 180_000, message: `all ${PUNCHES} punches at the hub (kills at ${killAt.join(', ')})` });
  // The last acks may still be on their way: the outbox empties once they arrive.
  await waitFor(async () => ((await (await fetch(`http://127.0.0.1:${adminPort}/backlog`)).json()) as { depth: number }).depth === 0, { timeoutMs: 60_000, message: 'the outbox to empty' });
  assert.equal(await agent.stop(), 0);
  const outbox = new Outbox(dataDir);
  t.after(() => outbox.close());
  integrity.push(outbox.integrityCheck());
  assert.deepEqual(integrity, Array(KILLS + 1).fill('ok'), 'PRAGMA integrity_check after every restart');
  assert.deepEqual(await hubCounts(hub), { rows: PUNCHES, keys: PUNCHES, subjects: PUNCHES }, 'the hub has exactly the punches made');
  assert.equal(outbox.stats().depth, 0);
}

test(`an agent killed with SIGKILL ${KILLS} times during a burst of ${PUNCHES} punches at ZK terminals, hub reachable: the hub has exactly the punches`, (t) =>
  burstWithKills(t, true));

test(`an agent killed with SIGKILL ${KILLS} times during a burst of ${PUNCHES} punches at ZK terminals, hub unreachable: the hub has exactly the punches`, (t) =>
  burstWithKills(t, false));
