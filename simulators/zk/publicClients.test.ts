/**
 * The simulated terminal serving the public npm ZK clients, unmodified, over
 * real TCP on loopback: node-zklib 1.3.0 and zkteco-js 1.7.2. Where a library
 * cannot do an operation the test is skipped with the line of the library
 * that stops it.
 */
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { after, before, describe, it } from 'node:test';
import { waitFor } from '../../test/support/wait.js';
import { MockZkTerminal } from './terminal.js';
import { CMD, dateOf, packTime, unpackTime, type WallClock } from './wire.js';

const require = createRequire(import.meta.url);

/** The parts of node-zklib 1.3.0 (zklib.js) these tests use; the package has no types. */
interface NodeZkLib {
  createSocket(): Promise<void>;
  getInfo(): Promise<{ userCounts: number; logCounts: number; logCapacity: number }>;
  getUsers(): Promise<{ data: { uid: number; role: number; password: string; name: string; cardno: number; userId: string }[]; err: Error | null }>;
  getAttendances(): Promise<{ data: { userSn: number; deviceUserId: string; recordTime: Date }[]; err: Error | null }>;
  getRealTimeLogs(callback: (log: { userId: string; attTime: Date }) => void): Promise<void>;
  executeCmd(command: number, data?: Buffer | string): Promise<Buffer>;
  disableDevice(): Promise<Buffer>;
  enableDevice(): Promise<Buffer>;
  clearAttendanceLog(): Promise<Buffer>;
  disconnect(): Promise<void>;
}
const NodeZkLib = require('node-zklib') as new (ip: string, port: number, timeoutMs: number, udpLocalPort: number) => NodeZkLib;

/** The parts of zkteco-js 1.7.2 (index.js) these tests use. */
interface ZktecoJs {
  createSocket(): Promise<boolean>;
  getInfo(): Promise<{ userCounts: number; logCounts: number; logCapacity: number }>;
  getSerialNumber(): Promise<string>;
  getDeviceName(): Promise<string>;
  getPlatform(): Promise<string>;
  getMacAddress(): Promise<string>;
  getFirmware(): Promise<string>;
  getPIN(): Promise<string>;
  getUsers(): Promise<{ data: { uid: number; role: number; password: string; name: string; cardno: number; userId: string }[] }>;
  getAttendances(): Promise<{ data: { sn: number; user_id: string; record_time: string; type: number; state: number }[] }>;
  setUser(uid: number, userId: string, name: string, password: string, role?: number, card?: number): Promise<Buffer>;
  deleteUser(uid: number): Promise<Buffer>;
  getTime(): Promise<Date>;
  setTime(time: Date): Promise<Buffer>;
  voiceTest(): Promise<Buffer>;
  clearAttendanceLog(): Promise<Buffer>;
  getRealTimeLogs(callback: (log: { userId: string; attTime: Date }) => void): Promise<void>;
  disconnect(): Promise<void>;
}
const ZktecoJs = require('zkteco-js') as new (ip: string, port: number, timeoutMs: number, udpLocalPort: number) => ZktecoJs;

const RECORDS = 3000;
const TIMEOUT_MS = 5000;

async function seededTerminal(): Promise<MockZkTerminal> {
  const terminal = await MockZkTerminal.start();
  terminal.addUser({ uid: 1, userId: '2025001', name: 'Asha Rao', privilege: 14, password: '4321', card: 4_213_567 });
  terminal.addUser({ uid: 2, userId: '2025002', name: 'Vikram Iyer' });
  terminal.fillLog(RECORDS);
  return terminal;
}

function sameSecond(date: Date, clock: WallClock): void {
  assert.equal(date.getTime(), dateOf(clock).getTime());
}

function timePayload(clock: WallClock): Buffer {
  const payload = Buffer.alloc(4);
  payload.writeUInt32LE(packTime(clock));
  return payload;
}

describe('node-zklib 1.3.0 against the simulated terminal', () => {
  let terminal: MockZkTerminal;
  let client: NodeZkLib;

  before(async () => {
    terminal = await seededTerminal();
    client = new NodeZkLib('127.0.0.1', terminal.port, TIMEOUT_MS, 0);
    await client.createSocket();
  });

  after(async () => {
    await client.disconnect();
    await terminal.close();
  });

  it('connects over TCP and reads the user count, record count and record capacity', async () => {
    assert.deepEqual(await client.getInfo(), { userCounts: 2, logCounts: RECORDS, logCapacity: 100_000 });
  });

  it('reads every user with its 72-byte fields', async () => {
    const { data, err } = await client.getUsers();
    assert.ok(!err);
    assert.deepEqual(
      data.map(({ uid, role, password, name, cardno, userId }) => ({ uid, role, password, name, cardno, userId })),
      [
        { uid: 1, role: 14, password: '4321', name: 'Asha Rao', cardno: 4_213_567, userId: '2025001' },
        { uid: 2, role: 0, password: '', name: 'Vikram Iyer', cardno: 0, userId: '2025002' },
      ],
    );
  });

  it('reads 3,000 attendance records through the buffered read, requesting every chunk at once', async () => {
    const { data, err } = await client.getAttendances();
    assert.ok(!err, String(err));
    assert.equal(data.length, RECORDS);
    data.forEach((record, index) => {
      const expected = terminal.log[index]!;
      assert.equal(record.deviceUserId, expected.userId);
      assert.equal(record.userSn, expected.uid);
      sameSecond(record.recordTime, expected.time);
    });
    assert.ok(terminal.requests.filter((request) => request.command === CMD.DATA_RDY).length >= 2, 'the log needs more than one chunk');
  });

  it('reads and sets the clock through executeCmd, as it has no time API of its own', async () => {
    const read = await client.executeCmd(CMD.GET_TIME, '');
    assert.equal(read.readUInt16LE(0), CMD.ACK_OK);
    const before = unpackTime(read.readUInt32LE(8));
    assert.ok(Math.abs(dateOf(before).getTime() - dateOf(terminal.now()).getTime()) <= 2000);
    const wanted = { year: 2031, month: 2, day: 3, hour: 4, minute: 5, second: 6 };
    await client.executeCmd(CMD.SET_TIME, timePayload(wanted));
    assert.ok(Math.abs(dateOf(terminal.now()).getTime() - dateOf(wanted).getTime()) <= 2000);
  });

  it('writes and deletes a user through executeCmd, as it has no user-write API of its own', async () => {
    const record = Buffer.alloc(72);
    record.writeUInt16LE(7, 0);
    record.write('Guest', 11);
    record.write('2025007', 48);
    await client.executeCmd(CMD.USER_WRQ, record);
    assert.equal(terminal.users.get(7)?.userId, '2025007');
    await client.executeCmd(CMD.DELETE_USER, Buffer.from([7, 0]));
    assert.equal(terminal.users.has(7), false);
  });

  it('disables and enables the device and clears the attendance log', async () => {
    await client.disableDevice();
    assert.equal(terminal.enabled, false);
    await client.enableDevice();
    assert.equal(terminal.enabled, true);
    await client.clearAttendanceLog();
    assert.equal(terminal.log.length, 0);
    terminal.fillLog(RECORDS);
  });

  it('delivers a punch to its realtime log listener on a fresh connection', async () => {
    const listener = new NodeZkLib('127.0.0.1', terminal.port, TIMEOUT_MS, 0);
    await listener.createSocket();
    try {
      const received = new Promise<{ userId: string; attTime: Date }>((resolve) => void listener.getRealTimeLogs(resolve));
      await waitFor(() => terminal.eventListenerCount === 1, { message: 'the client to register for events' });
      const record = terminal.punch('2025001', 1, 0);
      const log = await received;
      assert.equal(log.userId, '2025001');
      sameSecond(log.attTime, record.time);
    } finally {
      await listener.disconnect();
    }
  });

  it('delivers realtime events on a connection that already read users', {
    skip: 'node-zklib zklibtcp.js:480 attaches its realtime listener only when the socket has no data listeners, and readWithBuffer (zklibtcp.js:311) never removes its own, so after getUsers/getAttendances events are silently dropped (device-protocols.md §2.13 rule 16)',
  });

  it('connects to a terminal with a comm key', {
    skip: 'node-zklib 1.3.0 has no CMD_AUTH: zklibtcp.js:56 connect() sends CMD_CONNECT and resolves on any reply, so a device with a comm key answers ACK_UNAUTH to everything after (§2.13 rule 19)',
  });
});

describe('zkteco-js 1.7.2 against the simulated terminal', () => {
  let terminal: MockZkTerminal;
  let client: ZktecoJs;

  before(async () => {
    terminal = await seededTerminal();
    client = new ZktecoJs('127.0.0.1', terminal.port, TIMEOUT_MS, 0);
    await client.createSocket();
  });

  after(async () => {
    await client.disconnect();
    await terminal.close();
  });

  it('connects over TCP and reads the counts and the device options', async () => {
    assert.deepEqual(await client.getInfo(), { userCounts: 2, logCounts: RECORDS, logCapacity: 100_000 });
    assert.equal(await client.getSerialNumber(), terminal.serialNumber);
    assert.equal(await client.getDeviceName(), 'CampusHub360 ZK simulator');
    assert.equal(await client.getPlatform(), 'ZMM220_TFT');
    assert.equal(await client.getMacAddress(), '00:17:61:00:00:01');
    assert.equal(await client.getPIN(), '9');
    // getFirmware() returns the string with its NUL still on (§2.7).
    assert.equal(await client.getFirmware(), 'Ver 6.60 Apr 28 2015\0');
  });

  it('reads every user', async () => {
    const { data } = await client.getUsers();
    assert.deepEqual(
      data.map(({ uid, userId, name }) => ({ uid, userId, name })),
      [
        { uid: 1, userId: '2025001', name: 'Asha Rao' },
        { uid: 2, userId: '2025002', name: 'Vikram Iyer' },
      ],
    );
  });

  it('reads 3,000 attendance records through the buffered read, one chunk request at a time', async () => {
    const { data } = await client.getAttendances();
    assert.equal(data.length, RECORDS);
    data.forEach((record, index) => {
      const expected = terminal.log[index]!;
      assert.equal(record.user_id, expected.userId);
      assert.equal(record.type, expected.verifyMode);
      assert.equal(record.state, expected.state);
      assert.equal(record.record_time, dateOf(expected.time).toString());
    });
  });

  it('keeps replies in step with requests after a buffered read', async () => {
    const before = await client.getTime();
    assert.ok(Math.abs(before.getTime() - dateOf(terminal.now()).getTime()) <= 2000);
  });

  it('writes a user and deletes it', async () => {
    await client.setUser(9, '2025009', 'Meera Nair', '1234', 0, 65_000);
    assert.deepEqual(terminal.users.get(9), { uid: 9, userId: '2025009', name: 'Meera Nair', privilege: 0, password: '1234', card: 65_000, group: '' });
    await client.deleteUser(9);
    assert.equal(terminal.users.has(9), false);
  });

  it('writes a user with a card number above 65,535', {
    skip: 'zkteco-js src/ztcp.js:1003 writes the card with writeUInt16LE, which throws a RangeError for cards above 65 535 (§2.10)',
  });

  it('sets the clock and reads it back', async () => {
    const wanted = new Date(2031, 1, 3, 4, 5, 6);
    await client.setTime(wanted);
    assert.equal((await client.getTime()).getTime(), wanted.getTime());
  });

  it('runs the voice test and clears the attendance log', async () => {
    await client.voiceTest();
    assert.equal(terminal.requests.at(-1)?.command, CMD.TESTVOICE);
    await client.clearAttendanceLog();
    assert.equal(terminal.log.length, 0);
  });

  it('delivers a punch to its realtime log listener on a fresh connection', async () => {
    const listener = new ZktecoJs('127.0.0.1', terminal.port, TIMEOUT_MS, 0);
    await listener.createSocket();
    try {
      const received: { userId: string; attTime: Date }[] = [];
      await listener.getRealTimeLogs((log) => received.push(log));
      await waitFor(() => terminal.eventListenerCount === 1, { message: 'the client to register for events' });
      const first = terminal.punch('2025002', 2, 1);
      const second = terminal.punch('2025001', 1, 0);
      await waitFor(() => received.length === 2, { message: 'both events' });
      assert.deepEqual(received.map((log) => log.userId), ['2025002', '2025001']);
      sameSecond(received[0]!.attTime, first.time);
      sameSecond(received[1]!.attTime, second.time);
    } finally {
      await listener.disconnect();
    }
  });

  it('connects to a terminal with a comm key', {
    skip: 'zkteco-js 1.7.2 has no CMD_AUTH: src/ztcp.js:72 connect() sends only CMD_CONNECT (§2.13 rule 19)',
  });
});
