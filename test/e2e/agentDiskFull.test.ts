import { test } from 'node:test';
import assert from 'node:assert/strict';
import mqtt from 'mqtt';
import { Outbox } from '../../agent/outbox/outbox.js';
import { startQrScannerSimulator } from '../../simulators/qr/scanner.js';
import { startTestHub } from '../support/hub.js';
import { hubCounts, proxyToHub, punchedEarlier, startRigAgent, startTerminal } from '../support/agentRig.js';
import { tempDir } from '../support/tempDir.js';
import { waitFor } from '../support/wait.js';

const LOG_RECORDS = 4_000;
const SCANS = 1_000;

test('a full outbox raises the alarm, stops reading the terminal log, refuses scans visibly past the margin, and loses nothing once space returns', async (t) => {
  const hub = await startTestHub(t);
  // What the hub hears on the agents' health channel.
  const spy = await mqtt.connectAsync(hub.mqttUrl, { protocolVersion: 4, reconnectPeriod: 0 });
  t.after(() => spy.endAsync());
  const diskLevels: string[] = [];
  spy.on('message', (_topic, payload) => {
    const health = JSON.parse(payload.toString()) as { disk?: { level: string } };
    if (health.disk) diskLevels.push(health.disk.level);
  });
  await spy.subscribeAsync('campushub/v1/+/+/health');

  const proxy = await proxyToHub(t, hub, { up: false });
  const terminal = await startTerminal(t, 'DISKFULL1');
  punchedEarlier(terminal, 'LOG-', LOG_RECORDS, 8);
  const scanner = await startQrScannerSimulator({ listen: { host: '127.0.0.1', port: 0 }, ackMode: true });
  t.after(() => scanner.stop());
  let naks = 0;
  scanner.on('nak', () => naks++);

  // A budget of about 2,500 taps above an empty outbox, the last 15% reserved for the scanner.
  const empty = new Outbox(tempDir(t, 'empty'));
  const baseline = empty.usedBytes();
  empty.close();
  const maxBytes = baseline + 1_000_000;
  const agent = await startRigAgent(t, {
    mqttUrl: `mqtt://127.0.0.1:${proxy.port}`,
    devices: [
      { id: 'door-zk', kind: 'zk', url: terminal.url('tcp') },
      { id: 'door-qr', kind: 'qr', url: `tcp://127.0.0.1:${scanner.address().port}?ack=1` },
    ],
    overrides: { disk: { maxBytes, reservedBytes: 150_000, alarmRatio: 0.8 } },
  });
  const levelsLogged = () => agent.logs.filter((line) => line.ns === 'agent:disk').map((line) => line.level);

  // The terminal's log is read until the outbox is full; the rest stays on the terminal.
  await waitFor(() => agent.budget.check().level === 'full', { timeoutMs: 60_000, message: 'the outbox full from the log read' });
  const cursor = agent.outbox.logCursor('door-zk');
  assert.ok(cursor && cursor.position < LOG_RECORDS, `reading stopped at ${cursor?.position} of ${LOG_RECORDS}`);
  assert.equal(terminal.log.length, LOG_RECORDS, 'the terminal keeps every record');
  const messages = agent.logs.filter((line) => line.ns === 'agent:disk').map((line) => line.msg);
  assert.ok(messages.includes('outbox disk alarm') && messages.includes('outbox disk full'), `alarm and full in the local log: ${messages.join(', ')}`);
  assert.ok(levelsLogged().every((level) => level === 50), 'both logged as errors');
  const again = await agent.devices.syncLogs();
  assert.equal((again['door-zk'] as { skipped: boolean }).skipped, true, 'no log read while full');
  // A punch now is refused by the agent and stays in the terminal's log for later.
  terminal.punch('LIVE-WHILE-FULL');

  // Scans use the reserved margin, then the reader is refused, visibly, and keeps its scan.
  for (let index = 0; index < SCANS; index++) scanner.scan(`DISK-${String(index).padStart(4, '0')}`);
  await waitFor(() => naks > 0, { timeoutMs: 60_000, message: 'the reader refused once the margin is used' });
  assert.equal(agent.budget.check().level, 'exhausted');
  assert.ok(scanner.pending > 0);

  // The hub comes back: the alarm reaches it, the backlog drains, the log is read to its end and every scan is taken.
  proxy.restore();
  await waitFor(() => diskLevels.some((level) => level !== 'ok'), { message: 'the disk alarm at the hub' });
  await waitFor(async () => scanner.pending === 0 && (await hubCounts(hub)).rows === LOG_RECORDS + 1 + SCANS && agent.outbox.stats().depth === 0, {
    timeoutMs: 240_000,
    message: `all ${LOG_RECORDS + 1} records and ${SCANS} scans at the hub`,
  });
  assert.deepEqual(await hubCounts(hub), { rows: LOG_RECORDS + 1 + SCANS, keys: LOG_RECORDS + 1, subjects: LOG_RECORDS + 1 + SCANS });
  assert.equal(agent.outbox.logCursor('door-zk')?.position, LOG_RECORDS + 1);
  assert.equal(agent.outbox.integrityCheck(), 'ok');
  await waitFor(() => agent.budget.check().level === 'ok', { message: 'the budget back to ok' });
});
