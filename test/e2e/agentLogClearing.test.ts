import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CMD, wallClockOf } from '../../simulators/zk/wire.js';
import { startTestHub } from '../support/hub.js';
import { hubCounts, punchedEarlier, startRigAgent, startTerminal } from '../support/agentRig.js';
import { waitFor } from '../support/wait.js';

const RECORDS = 50;

test('a punch that lands between the download and the clear of a ZK log is still delivered, and the log is cleared only after a full commit', async (t) => {
  const hub = await startTestHub(t);
  const terminal = await startTerminal(t, 'CLEARING1');
  punchedEarlier(terminal, 'EARLY-', RECORDS, 2);
  const requests: number[] = [];
  let disabled = false;
  let injected = false;
  terminal.on('request', (request) => {
    requests.push(request.command);
    if (request.command === CMD.DISABLEDEVICE) disabled = true;
    // The first question after the disabled terminal's log was downloaded (the count check): a punch the firmware
    // still had in hand is written now, after the download and before any clear.
    if (disabled && !injected && request.command === CMD.OPTIONS_RRQ) {
      injected = true;
      terminal.log.push({ uid: 0, userId: 'RACE-1', verifyMode: 1, state: 0, time: wallClockOf(new Date()) });
    }
  });
  const agent = await startRigAgent(t, {
    mqttUrl: hub.mqttUrl,
    devices: [{ id: 'door-9', kind: 'zk', url: terminal.url('tcp') }],
    overrides: { deviceLogs: { pollMs: 3_600_000, clearAtRecords: 10, setClock: false, clockSyncMs: 86_400_000 } },
  });

  await waitFor(async () => (await hubCounts(hub)).rows === RECORDS + 1, { timeoutMs: 60_000, message: `${RECORDS + 1} records at the hub` });
  await waitFor(() => terminal.log.length === 0 && terminal.enabled, { message: 'the log cleared and the terminal enabled again' });
  assert.ok(injected, 'the racing punch was written');
  const subjects = (await hub.db.query<{ subject: string }>(`select subject from events where subject = 'RACE-1'`)).rows;
  assert.equal(subjects.length, 1, 'the racing punch reached the hub');
  const watched = new Set<number>([CMD.DISABLEDEVICE, CMD.CLEAR_ATTLOG, CMD.ENABLEDEVICE]);
  const order = requests.filter((command) => watched.has(command));
  assert.deepEqual(order, [CMD.DISABLEDEVICE, CMD.CLEAR_ATTLOG, CMD.ENABLEDEVICE], 'disable → download → commit → clear → enable');
  assert.deepEqual(agent.outbox.logCursor('door-9'), { serial: 'CLEARING1', epoch: 2, position: 0, lastHash: null }, 'a new epoch after the clear');

  // The cleared log starts again; a new punch is read from position 0 of the new epoch.
  terminal.punch('AFTER-1');
  await waitFor(async () => (await hubCounts(hub)).rows === RECORDS + 2, { message: 'the punch after the clear at the hub' });
  const reread = await agent.devices.syncLogs();
  assert.deepEqual(reread['door-9'], { read: 1, recorded: 0, newEpoch: false, cleared: false, skipped: false });
  assert.equal((await hubCounts(hub)).keys, RECORDS + 2);
});

test('without clearing configured the agent never clears a device log', async (t) => {
  const hub = await startTestHub(t);
  const terminal = await startTerminal(t, 'NOCLEAR1');
  punchedEarlier(terminal, 'KEEP-', 30, 1);
  const agent = await startRigAgent(t, { mqttUrl: hub.mqttUrl, devices: [{ id: 'door-8', kind: 'zk', url: terminal.url('tcp') }] });
  await waitFor(async () => (await hubCounts(hub)).rows === 30, { message: 'the log at the hub' });
  assert.equal(terminal.log.length, 30);
  assert.equal(agent.outbox.logCursor('door-8')?.position, 30);
  // A log changed underneath (cleared by someone at the terminal, then punched): a new epoch, read from its start.
  terminal.log.length = 0;
  terminal.punch('NEW-1');
  await waitFor(async () => (await hubCounts(hub)).rows === 31, { message: 'the new punch at the hub' });
  const result = await agent.devices.syncLogs();
  assert.deepEqual(result['door-8'], { read: 1, recorded: 0, newEpoch: true, cleared: false, skipped: false }, 'the realtime copy was already recorded');
  assert.equal(agent.outbox.logCursor('door-8')?.epoch, 2);
  assert.equal((await hubCounts(hub)).rows, 31);
});
