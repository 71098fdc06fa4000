import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { MockZkTerminal, type MockZkTerminalOptions } from '../../simulators/zk/terminal.js';
import { waitFor } from '../../test/support/wait.js';
import type { ConnectionState, DeviceEvent, EventSink } from '../core/driver.js';
import { createZkDriver, type ZkDriver, type ZkDriverOptions } from './driver.js';
import { ZkAuthError, ZkLinkClosedError, ZkNotOpenError } from './errors.js';
import { ZkCommand, ZkReply } from './frames/codes.js';
import { MAX_CHUNK } from './frames/buffered.js';

/** Short timeouts and backoff so fault tests finish quickly; probes off unless a test wants one. */
const FAST = { timeoutMs: 300, reconnectMinMs: 10, reconnectMaxMs: 100, probeMs: 0 };

interface Harness {
  terminal: MockZkTerminal;
  driver: ZkDriver;
  events: DeviceEvent[];
  states: ConnectionState[];
}

let harness: Harness | null = null;

interface Setup {
  terminal?: MockZkTerminalOptions;
  /** URL options on top of FAST. */
  query?: Record<string, string | number>;
  sink?: EventSink;
  transport?: 'tcp' | 'udp';
  driver?: ZkDriverOptions;
}

/** A terminal without packet pacing (the driver parses streams) and an open driver whose events are collected. */
async function start({ terminal: terminalOptions, query, sink, transport = 'tcp', driver: driverOptions }: Setup = {}): Promise<Harness> {
  const terminal = await MockZkTerminal.start({ packetGapMs: 0, eventGapMs: 0, ...terminalOptions });
  const events: DeviceEvent[] = [];
  const states: ConnectionState[] = [];
  const driver = createZkDriver(terminal.url(transport, { ...FAST, ...query }), driverOptions);
  driver.on('state', (state) => states.push(state));
  harness = { terminal, driver, events, states };
  await driver.open(sink ?? (async (event) => void events.push(event)));
  return harness;
}

afterEach(async () => {
  await harness?.driver.close();
  await harness?.terminal.close();
  harness = null;
});

describe('ZK driver over TCP against the simulated terminal', () => {
  let terminal: MockZkTerminal;
  let driver: ZkDriver;
  let events: DeviceEvent[];

  beforeEach(async () => {
    ({ terminal, driver, events } = await start({ terminal: { commKey: 45 }, query: { commKey: 45 } }));
    terminal.addUser({ uid: 1, userId: '2025CS001', name: 'Asha Rao', privilege: 14, password: '4321', card: 4_213_567 });
    terminal.addUser({ uid: 2, userId: '2025EC001', name: 'Vikram Iyer' });
  });

  it('opens with the comm key, registers for events, and declares what it can do', () => {
    assert.equal(driver.kind, 'zk');
    assert.equal(driver.state, 'ready');
    assert.equal(terminal.eventListenerCount, 1);
    assert.deepEqual(driver.capabilities, {
      identify: true,
      scan: false,
      users: true,
      templates: true,
      enroll: false,
      logs: true,
      clearLogs: true,
      time: true,
      enableDisable: true,
      acknowledgedDelivery: true,
    });
  });

  it('reads the device information and the free sizes', async () => {
    assert.deepEqual(await driver.getInfo(), {
      serialNumber: 'CH360SIM0001',
      deviceName: 'CampusHub360 ZK simulator',
      platform: 'ZMM220_TFT',
      vendor: 'CampusHub360',
      macAddress: '00:17:61:00:00:01',
      firmwareVersion: 'Ver 6.60 Apr 28 2015',
    });
    const sizes = await driver.getFreeSizes();
    assert.equal(sizes.users, 2);
    assert.equal(sizes.records, 0);
    assert.equal(sizes.userCapacity, 3000);
    assert.equal(sizes.usersAvailable, 2998);
    assert.equal(sizes.admins, 1);
  });

  it('lists the users from their 72-byte records', async () => {
    assert.deepEqual(await driver.listUsers(), [
      { uid: 1, privilege: 14, password: '4321', name: 'Asha Rao', card: 4_213_567, groupId: '1', userId: '2025CS001' },
      { uid: 2, privilege: 0, password: '', name: 'Vikram Iyer', card: 0, groupId: '1', userId: '2025EC001' },
    ]);
  });

  it('writes a user, which the terminal stores, and deletes it', async () => {
    await driver.setUser({ uid: 3, privilege: 0, password: '', name: 'Meera Nair', card: 70_000, groupId: '2', userId: '2025ME001' });
    assert.deepEqual(terminal.users.get(3), { uid: 3, userId: '2025ME001', name: 'Meera Nair', privilege: 0, password: '', card: 70_000, group: '2' });
    assert.equal(terminal.requests.at(-1)?.command, ZkCommand.REFRESH_DATA);
    await driver.deleteUser(3);
    assert.equal(terminal.users.has(3), false);
  });

  it('downloads a 10,000-record log through the buffered read, chunk by chunk', async () => {
    const records = terminal.fillLog(10_000);
    const progress: number[] = [];
    const entries = await driver.readLogs({ onProgress: (received) => progress.push(received) });
    assert.equal(entries.length, 10_000);
    entries.forEach((entry, index) => {
      const record = records[index]!;
      assert.equal(entry.userId, record.userId);
      assert.equal(entry.uid, record.uid);
      assert.deepEqual(entry.time, record.time);
      assert.equal(entry.verifyMode, record.verifyMode);
      assert.equal(entry.method, record.verifyMode === 2 ? 'card' : 'fingerprint');
    });
    assert.equal(new Set(entries.map((entry) => entry.deviceKey)).size, 10_000, 'device keys are distinct');
    const chunks = Math.ceil((10_000 * 40 + 4) / MAX_CHUNK.tcp);
    assert.equal(progress.length, chunks);
    assert.equal(terminal.requests.filter((request) => request.command === ZkCommand.READ_BUFFER).length, chunks);
  });

  it('reads an empty log without a buffered read', async () => {
    assert.deepEqual(await driver.readLogs(), []);
    assert.equal(terminal.requests.some((request) => request.command === ZkCommand.PREPARE_BUFFER), false);
  });

  it('reads the clock and sets it', async () => {
    const drift = Math.abs((await driver.getTime()).getTime() - Date.now());
    assert.ok(drift <= 2000, `clock off by ${drift} ms`);
    const wanted = new Date(2030, 5, 15, 8, 30, 0);
    await driver.setTime(wanted);
    assert.equal((await driver.getTime()).getTime(), wanted.getTime());
  });

  it('disables and enables the terminal', async () => {
    await driver.disable();
    assert.equal(terminal.enabled, false);
    assert.throws(() => terminal.punch('2025CS001'), /disabled/);
    await driver.enable();
    assert.equal(terminal.enabled, true);
  });

  it('clears the attendance log', async () => {
    terminal.fillLog(20);
    await driver.clearLogs();
    assert.equal(terminal.log.length, 0);
  });

  it('uploads a template, lists it, downloads it and deletes it', async () => {
    const template = Buffer.concat([Buffer.from('4d9853533231', 'hex'), Buffer.alloc(1600, 0xa5)]);
    await driver.uploadTemplate({ uid: 1, fingerIndex: 6, flag: 1, template });
    assert.deepEqual(terminal.templates, [{ uid: 1, finger: 6, flag: 1, data: template }]);
    assert.deepEqual(await driver.listTemplates(), [{ uid: 1, fingerIndex: 6, flag: 1, template }]);
    assert.deepEqual(await driver.downloadTemplate(1, 6), template);
    assert.equal(await driver.downloadTemplate(1, 7), null);
    assert.equal(await driver.deleteTemplate(1, 6), true);
    assert.equal(await driver.deleteTemplate(1, 6), false);
    assert.deepEqual(await driver.listTemplates(), []);
  });

  it('uploads users with their templates in one batch', async () => {
    await driver.uploadUsersWithTemplates([
      {
        user: { uid: 5, privilege: 0, password: '', name: 'Kiran', card: 0, groupId: '1', userId: '2025CE001' },
        templates: [
          { fingerIndex: 0, template: Buffer.alloc(900, 1) },
          { fingerIndex: 1, template: Buffer.alloc(1100, 2) },
        ],
      },
      { user: { uid: 6, privilege: 0, password: '', name: 'Ravi', card: 0, groupId: '1', userId: '2025CE002' }, templates: [{ fingerIndex: 5, template: Buffer.alloc(700, 3) }] },
    ]);
    assert.equal(terminal.users.get(5)?.userId, '2025CE001');
    assert.equal(terminal.users.get(6)?.userId, '2025CE002');
    assert.deepEqual(
      terminal.templates.map((template) => [template.uid, template.finger, template.data.length]),
      [
        [5, 0, 900],
        [5, 1, 1100],
        [6, 5, 700],
      ],
    );
  });

  it('hands a punch to the sink as an identified event and acknowledges it after the sink resolves', async () => {
    const record = terminal.punch('2025CS001', 1, 0);
    await waitFor(() => terminal.eventAcks === 1, { message: 'the acknowledgement' });
    assert.deepEqual(events, [
      {
        type: 'identified',
        subject: '2025CS001',
        method: 'fingerprint',
        deviceTime: new Date(record.time.year, record.time.month - 1, record.time.day, record.time.hour, record.time.minute, record.time.second),
        deviceKey: `zk/CH360SIM0001/2025CS001/${record.time.year}-${String(record.time.month).padStart(2, '0')}-${String(record.time.day).padStart(2, '0')}T${[record.time.hour, record.time.minute, record.time.second].map((part) => String(part).padStart(2, '0')).join(':')}/1/0`,
      },
    ]);
  });

  it('gives a realtime event and the same record in a log download the same device key', async () => {
    terminal.punch('2025EC001', 2, 1);
    await waitFor(() => events.length === 1, { message: 'the event' });
    const [entry] = await driver.readLogs();
    const event = events[0]!;
    assert.equal(event.type, 'identified');
    assert.equal(event.type === 'identified' && event.deviceKey, entry!.deviceKey);
    assert.equal(event.type === 'identified' && event.method, entry!.method);
  });

  it('keeps serving commands while events arrive on the same connection', async () => {
    terminal.fillLog(5000);
    const download = driver.readLogs();
    for (let index = 0; index < 5; index++) terminal.punch('2025CS001');
    assert.equal((await download).length >= 5000, true);
    await waitFor(() => events.length === 5 && terminal.eventAcks === 5, { message: 'five acknowledged events' });
  });

  it('sends CMD_EXIT on close and refuses commands afterwards', async () => {
    await driver.close();
    assert.equal(terminal.requests.at(-1)?.command, ZkCommand.EXIT);
    assert.equal(driver.state, 'closed');
    await assert.rejects(driver.getTime(), ZkNotOpenError);
  });
});

describe('ZK driver event delivery', () => {
  it('leaves an event the sink refused unacknowledged, and goes on with the next', async () => {
    let refuse = true;
    const accepted: DeviceEvent[] = [];
    const { terminal } = await start({
      sink: async (event) => {
        if (refuse) {
          refuse = false;
          throw new Error('outbox full');
        }
        accepted.push(event);
      },
    });
    terminal.punch('1');
    terminal.punch('2');
    await waitFor(() => accepted.length === 1, { message: 'the second event' });
    assert.equal(accepted[0]!.type === 'identified' && accepted[0]!.subject, '2');
    await waitFor(() => terminal.eventAcks === 1, { message: 'one acknowledgement' });
  });

  it('does not register for events when realtime is off', async () => {
    const { terminal, driver } = await start({ query: { realtime: 0 } });
    assert.equal(terminal.eventListenerCount, 0);
    assert.equal(driver.capabilities.identify, false);
  });
});

describe('ZK driver over UDP against the simulated terminal', () => {
  it('reads 28-byte users and 16-byte records, and names the user of a uid-only realtime event', async () => {
    const { terminal, driver, events } = await start({ transport: 'udp' });
    terminal.addUser({ uid: 4, userId: '2025004', name: 'Anu' });
    terminal.fillLog(2000);
    assert.deepEqual(await driver.listUsers(), [{ uid: 4, privilege: 0, password: '', name: 'Anu', card: 0, groupId: '1', userId: '2025004' }]);
    const entries = await driver.readLogs();
    assert.equal(entries.length, 2000);
    assert.equal(entries[0]!.userId, '2025004');
    assert.ok(terminal.requests.filter((request) => request.command === ZkCommand.READ_BUFFER).length >= 2, '16 KiB chunks over UDP');
    await driver.setUser({ uid: 5, privilege: 0, password: '1', name: 'Bala', card: 9, groupId: '3', userId: '2025005' });
    assert.deepEqual(terminal.users.get(5), { uid: 5, userId: '2025005', name: 'Bala', privilege: 0, password: '1', card: 9, group: '3' });
    terminal.punch('2025005');
    await waitFor(() => events.length === 1, { message: 'the event' });
    assert.equal(events[0]!.type === 'identified' && events[0]!.subject, '2025005');
  });
});

describe('ZK driver under faults', () => {
  it('reports an error when the link drops mid-download, reconnects, and a retried download gets every record', async () => {
    const { terminal, driver, states } = await start();
    const records = terminal.fillLog(10_000);
    terminal.faults.disconnectMidTransfer(2);
    await assert.rejects(driver.readLogs(), ZkLinkClosedError);
    const entries = await driver.readLogs();
    assert.equal(entries.length, records.length);
    assert.deepEqual(entries.at(-1)!.time, records.at(-1)!.time);
    assert.deepEqual(states, ['opening', 'ready', 'reopening', 'ready']);
    assert.equal(driver.stats().reconnects, 1);
    assert.equal(terminal.eventListenerCount, 1, 'registered for events again');
  });

  it('counts a corrupted reply checksum and recovers by retrying', async () => {
    const { terminal, driver } = await start();
    terminal.faults.corruptChecksums(1, { command: ZkCommand.GET_TIME });
    await driver.getTime();
    assert.deepEqual(pick(driver.stats()), { checksumErrors: 1, timeouts: 1, retries: 1 });
    assert.ok(driver.stats().discardedBytes >= 20);
  });

  it('counts a reply timeout and recovers by retrying', async () => {
    const { terminal, driver } = await start();
    terminal.faults.dropReplies(1, { command: ZkCommand.GET_FREE_SIZES });
    assert.equal((await driver.getFreeSizes()).records, 0);
    assert.deepEqual(pick(driver.stats()), { checksumErrors: 0, timeouts: 1, retries: 1 });
  });

  it('shows a clock reset by the terminal and fixes it with setTime', async () => {
    const { terminal, driver } = await start();
    terminal.faults.resetClock();
    assert.equal((await driver.getTime()).getTime(), new Date(2000, 0, 1, 0, 0, 0).getTime());
    const now = new Date();
    now.setMilliseconds(0);
    await driver.setTime(now);
    assert.ok(Math.abs((await driver.getTime()).getTime() - now.getTime()) <= 2000);
  });

  it('parses replies that arrive a few bytes per write', async () => {
    const { terminal, driver } = await start();
    terminal.fillLog(200);
    terminal.faults.dribble(7);
    assert.equal((await driver.readLogs()).length, 200);
    assert.deepEqual(pick(driver.stats()), { checksumErrors: 0, timeouts: 0, retries: 0 });
  });

  it('refuses to open when the comm key is missing or wrong, without retrying', async () => {
    const terminal = await MockZkTerminal.start({ commKey: 45 });
    try {
      for (const query of [{}, { commKey: 12 }] as Record<string, number>[]) {
        const driver = createZkDriver(terminal.url('tcp', { ...FAST, ...query }));
        await assert.rejects(driver.open(async () => undefined), ZkAuthError);
        assert.equal(driver.state, 'closed');
      }
    } finally {
      await terminal.close();
    }
  });

  it('stops reopening and reports failed when the terminal refuses the comm key after a reconnect', async () => {
    const { terminal, driver } = await start({ terminal: { commKey: 45 }, query: { commKey: 45 } });
    terminal.defineBehavior({ commands: [ZkCommand.AUTH], handle: () => [{ code: ZkReply.ACK_UNAUTH }] });
    terminal.disconnectAll();
    await waitFor(() => driver.state === 'failed', { message: 'the failed state' });
    await assert.rejects(driver.getTime(), ZkNotOpenError);
  });

  it('marks the link degraded after requests keep timing out, and ready once one succeeds', async () => {
    const { terminal, driver, states } = await start({ query: { attempts: 1, timeoutMs: 100 } });
    terminal.faults.dropReplies(3, { command: ZkCommand.GET_TIME });
    for (let index = 0; index < 3; index++) await assert.rejects(driver.getTime());
    assert.equal(driver.state, 'degraded');
    await driver.getTime();
    assert.deepEqual(states.slice(-2), ['degraded', 'ready']);
  });

  it('reopens the link when an idle liveness probe goes unanswered', async () => {
    const { terminal, driver } = await start({ query: { probeMs: 1000, attempts: 1, timeoutMs: 100 } });
    terminal.faults.dropReplies(1, { command: ZkCommand.GET_TIME });
    await waitFor(() => driver.stats().reconnects === 1, { message: 'a reconnect' });
    assert.equal(driver.state, 'ready');
  });

  it('waits for a reopening link before running a command', async () => {
    const { terminal, driver } = await start({ query: { reconnectMinMs: 300, reconnectMaxMs: 300 }, driver: { random: () => 1 } });
    const reopening = new Promise<void>((resolve) => driver.on('state', (state) => state === 'reopening' && resolve()));
    terminal.disconnectAll();
    await reopening;
    const time = driver.getTime();
    assert.equal(driver.state, 'reopening');
    assert.ok(Math.abs((await time).getTime() - Date.now()) <= 2000);
    assert.equal(driver.state, 'ready');
  });
});

function pick(stats: ReturnType<ZkDriver['stats']>) {
  return { checksumErrors: stats.checksumErrors, timeouts: stats.timeouts, retries: stats.retries };
}
