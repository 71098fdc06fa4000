import { test } from 'node:test';
import assert from 'node:assert/strict';
import { dateOf } from '../../simulators/zk/wire.js';
import { startTestHub } from '../support/hub.js';
import { punchedEarlier, startRigAgent, startTerminal } from '../support/agentRig.js';
import { waitFor } from '../support/wait.js';

const TEN_MINUTES = 10 * 60_000;

test('a terminal clock 10 minutes fast: its offset is reported, its taps are flagged but keep their time, and the agent sets the clock when allowed', async (t) => {
  const hub = await startTestHub(t);
  const fast = await startTerminal(t, 'CLOCKFAST');
  fast.setClock(new Date(Date.now() + TEN_MINUTES));
  punchedEarlier(fast, 'OLD-', 3, 1);
  const good = await startTerminal(t, 'CLOCKGOOD');
  const agent = await startRigAgent(t, {
    mqttUrl: hub.mqttUrl,
    devices: [
      { id: 'door-fast', kind: 'zk', url: fast.url('tcp') },
      { id: 'door-good', kind: 'zk', url: good.url('tcp') },
    ],
  });
  await waitFor(() => agent.clocks.all().length === 2, { message: 'both clocks read' });
  const fastReading = agent.clocks.all().find((reading) => reading.deviceId === 'door-fast')!;
  assert.ok(Math.abs(fastReading.offsetMs - TEN_MINUTES) < 5_000, `offset ${fastReading.offsetMs} ms`);
  assert.equal(fastReading.flagged, true);
  assert.equal(agent.clocks.all().find((reading) => reading.deviceId === 'door-good')!.flagged, false);

  const live = fast.punch('LIVE-FAST');
  good.punch('LIVE-GOOD');
  const rows = await waitFor(async () => {
    const result = await hub.db.query<{ subject: string; clock_suspect: boolean; device_time: Date }>('select subject, clock_suspect, device_time from events order by subject');
    return result.rows.length === 5 ? result.rows : null;
  }, { message: 'the log records and both live punches at the hub' });
  assert.deepEqual(rows.map((row) => [row.subject, row.clock_suspect]), [
    ['LIVE-FAST', true],
    ['LIVE-GOOD', false],
    ['OLD-0', true],
    ['OLD-1', true],
    ['OLD-2', true],
  ]);
  assert.equal(rows[0]!.device_time.getTime(), dateOf(live.time).getTime(), 'the device time is kept as stamped');

  // The health message carries the offsets to the hub.
  agent.uplink.publishHealthNow();
  await waitFor(async () => {
    const { rows: agents } = await hub.db.query<{ health: { clocks?: { deviceId: string; flagged: boolean }[] } }>('select health from agents');
    return agents[0]?.health.clocks?.some((clock) => clock.deviceId === 'door-fast' && clock.flagged);
  }, { message: 'the flagged clock in the hub\'s agent health' });
});

test('with clock setting on, the agent sets a drifted terminal clock at connect', async (t) => {
  const hub = await startTestHub(t);
  const terminal = await startTerminal(t, 'CLOCKSET');
  terminal.setClock(new Date(Date.now() - TEN_MINUTES));
  const agent = await startRigAgent(t, {
    mqttUrl: hub.mqttUrl,
    devices: [{ id: 'door-set', kind: 'zk', url: terminal.url('tcp') }],
    overrides: { deviceLogs: { pollMs: 3_600_000, clearAtRecords: 0, setClock: true, clockSyncMs: 86_400_000 } },
  });
  await waitFor(() => agent.clocks.all()[0]?.setAt, { message: 'the clock set' });
  assert.ok(Math.abs(dateOf(terminal.now()).getTime() - Date.now()) < 3_000, 'the terminal shows the agent\'s time');
  assert.equal(agent.clocks.all()[0]!.flagged, true, 'the reading before the setting was 10 minutes off');
});
