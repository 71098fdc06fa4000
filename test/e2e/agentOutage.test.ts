import { test } from 'node:test';
import assert from 'node:assert/strict';
import { dateOf } from '../../simulators/zk/wire.js';
import { startTestHub } from '../support/hub.js';
import { hubCounts, proxyToHub, punchedEarlier, SOAK, startRigAgent, startTerminal } from '../support/agentRig.js';
import { waitFor } from '../support/wait.js';

/** Taps of the simulated day, across the terminals; `npm run soak` takes 100,000. */
const DAY_TAPS = SOAK ? 100_000 : 10_000;
const TERMINALS = 2;
/** Punched live, while the hub is still down, on top of the day's log. */
const LIVE_PUNCHES = 20;

test(`the hub is down through a day of ${DAY_TAPS} taps: the backlog drains with nothing lost and nothing twice, and cursors and watermarks are right`, async (t) => {
  const hub = await startTestHub(t);
  const proxy = await proxyToHub(t, hub, { up: false });
  const terminals = await Promise.all(Array.from({ length: TERMINALS }, (_, index) => startTerminal(t, `OUTAGE${index}`)));
  terminals.forEach((terminal, index) => punchedEarlier(terminal, `T${index}-`, DAY_TAPS / TERMINALS));
  const agent = await startRigAgent(t, {
    mqttUrl: `mqtt://127.0.0.1:${proxy.port}`,
    devices: terminals.map((terminal, index) => ({ id: `door-${index}`, kind: 'zk', url: terminal.url('tcp') })),
  });

  // The day's logs are read into the outbox while the hub is unreachable.
  await waitFor(() => agent.outbox.stats().depth === DAY_TAPS, { timeoutMs: SOAK ? 600_000 : 120_000, message: `all ${DAY_TAPS} log records in the outbox` });
  for (let index = 0; index < LIVE_PUNCHES; index++) for (const [n, terminal] of terminals.entries()) terminal.punch(`LIVE${n}-${index}`);
  const total = DAY_TAPS + LIVE_PUNCHES * TERMINALS;
  await waitFor(() => agent.outbox.stats().depth === total, { message: 'the live punches in the outbox' });
  // Read again: the live punches are in the logs too, and their device keys keep them from counting twice.
  const reread = await agent.devices.syncLogs();
  assert.deepEqual(Object.values(reread).map((result) => ('recorded' in result ? result.recorded : result.error)), [0, 0]);
  assert.equal(agent.outbox.stats().depth, total);
  assert.equal((await hubCounts(hub)).rows, 0, 'nothing reached the hub during the outage');

  proxy.restore();
  await waitFor(() => agent.outbox.stats().depth === 0 && agent.uplink.inFlightCount === 0, { timeoutMs: SOAK ? 900_000 : 240_000, message: 'the backlog to drain' });
  assert.deepEqual(await hubCounts(hub), { rows: total, keys: total, subjects: total });
  assert.equal(agent.outbox.integrityCheck(), 'ok');

  for (const [index, terminal] of terminals.entries()) {
    const cursor = agent.outbox.logCursor(`door-${index}`);
    assert.equal(cursor?.position, terminal.log.length, `door-${index}'s cursor is at the end of its log`);
    assert.equal(cursor?.serial, terminal.serialNumber);
  }
  // Every record is at the hub, so each door's watermark is at least its newest record's time.
  agent.watermarks.report();
  const newest = terminals.map((terminal) => dateOf(terminal.log.at(-1)!.time).getTime());
  const marks = await waitFor(async () => {
    const { rows } = await hub.db.query<{ device_id: string; up_to: Date }>('select device_id, up_to from device_watermarks order by device_id');
    return rows.length === TERMINALS && rows.every((row, index) => row.up_to.getTime() >= newest[index]!) ? rows : null;
  }, { message: 'each door\'s watermark at the hub past its newest record' });
  assert.deepEqual(marks.map((row) => row.device_id), ['door-0', 'door-1']);
});
