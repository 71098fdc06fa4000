/**
 * The push driver's receiver against the independent terminal simulator,
 * over real HTTP on 127.0.0.1. The terminal's Delay and ErrorDelay and the
 * receiver's command timeouts run on manual clocks; the receiver is set up
 * with a long Delay and a short ErrorDelay, so the first timer a test fires
 * is the terminal's retry when one is pending and its poll otherwise.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect, createServer } from 'node:net';
import { describe, test, type TestContext } from 'node:test';
import pino from 'pino';
import { MockPushTerminal, type MockPushTerminalOptions } from '../../simulators/zkpush/terminal.js';
import { ManualTimers } from '../../test/support/manualTimers.js';
import { waitFor } from '../../test/support/wait.js';
import type { ConnectionState, DeviceEvent, EventSink } from '../core/driver.js';
import { TransportUrlError } from '../core/transportUrl.js';
import { ZkPushCommandCancelledError, ZkPushCommandTimeoutError } from './commands.js';
import { createZkPushDriver, type ZkPushDriver } from './driver.js';
import { ZkPushUnknownTerminalError } from './receiver.js';

const SERIAL = 'CHS0001';
type Identified = Extract<DeviceEvent, { type: 'identified' }>;

/** A sink that stores every event at once. */
function storingSink() {
  const stored: Identified[] = [];
  const sink: EventSink = async (event) => {
    assert.equal(event.type, 'identified');
    stored.push(event as Identified);
  };
  return { stored, sink };
}

async function openDriver(t: TestContext, sink: EventSink, query = '', timers?: ManualTimers) {
  const driver = createZkPushDriver(`http://127.0.0.1:0?serials=${SERIAL},CHS0002&delay=600&errorDelay=5${query}`, { timers });
  const states: ConnectionState[] = [];
  driver.on('state', (state) => states.push(state));
  t.after(() => driver.close());
  await driver.open(sink);
  return { driver, states, url: `http://127.0.0.1:${driver.address()!.port}` };
}

function startTerminal(t: TestContext, server: string, options: Partial<MockPushTerminalOptions> = {}) {
  const timers = new ManualTimers();
  const terminal = new MockPushTerminal({ server, serialNumber: SERIAL, timers, ...options });
  t.after(() => terminal.stop());
  return { terminal, timers };
}

/** Sends raw bytes and collects the answer until the server closes the connection. */
async function rawExchange(port: number, bytes: string): Promise<string> {
  const socket = connect(port, '127.0.0.1');
  const chunks: Buffer[] = [];
  socket.on('data', (chunk: Buffer) => chunks.push(chunk));
  socket.on('error', () => {});
  await once(socket, 'connect');
  socket.write(bytes);
  await once(socket, 'close');
  return Buffer.concat(chunks).toString('utf8');
}

function gate() {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  return { opened, open };
}

describe('zk-push driver with a simulated terminal', () => {
  test('the handshake gives the terminal the configured options and marks it seen', async (t) => {
    const { driver, states, url } = await openDriver(t, storingSink().sink, '&timeZone=330&transInterval=0');
    assert.deepEqual(states, ['opening', 'ready']);
    const { terminal } = startTerminal(t, url);
    assert.equal(await terminal.start(), true);
    assert.deepEqual(terminal.serverOptions, {
      ATTLOGStamp: 'None',
      OPERLOGStamp: 'None',
      ErrorDelay: '5',
      Delay: '600',
      TransTimes: '00:00;14:05',
      TransInterval: '0',
      TransFlag: 'TransData AttLog\tOpLog',
      TimeZone: '330',
      Realtime: '1',
      Encrypt: 'None',
    });
    const stats = driver.terminalStats(SERIAL)!;
    assert.ok(stats.lastSeenAt instanceof Date);
    assert.equal(stats.reconnects, 0);
    assert.equal(driver.terminalStats('CHS0002')!.lastSeenAt, null);
    await terminal.start();
    assert.equal(driver.terminalStats(SERIAL)!.reconnects, 1, 'a second handshake means the terminal restarted');
  });

  test('firmware without pushver gets the legacy option names', async (t) => {
    const { url } = await openDriver(t, storingSink().sink);
    const { terminal } = startTerminal(t, url, { pushVersion: null });
    await terminal.start();
    assert.equal(terminal.serverOptions!.Stamp, 'None');
    assert.equal(terminal.serverOptions!.TransFlag, '1100000000');
    assert.equal(terminal.serverOptions!.ATTLOGStamp, undefined);
  });

  test('punches reach the sink in order, with the PIN, method, terminal time and a stable key', async (t) => {
    const { stored, sink } = storingSink();
    const { driver, url } = await openDriver(t, sink);
    const { terminal } = startTerminal(t, url);
    await terminal.start();
    const times = [new Date(2025, 0, 6, 9, 0, 5), new Date(2025, 0, 6, 9, 0, 7), new Date(2025, 0, 6, 9, 1, 0)];
    terminal.punch('2025CS001', 1, 0, times[0]);
    terminal.punch('2025CS002', 4, 0, times[1]);
    terminal.punch('2025CS001', 15, 1, times[2]);
    await waitFor(() => terminal.pending.length === 0, { message: 'every punch OK’d' });
    assert.deepEqual(stored, [
      { type: 'identified', subject: '2025CS001', method: 'fingerprint', deviceTime: times[0], deviceKey: `zk-push/${SERIAL}/2025CS001/2025-01-06T09:00:05/1/0` },
      { type: 'identified', subject: '2025CS002', method: 'card', deviceTime: times[1], deviceKey: `zk-push/${SERIAL}/2025CS002/2025-01-06T09:00:07/4/0` },
      { type: 'identified', subject: '2025CS001', method: 'face', deviceTime: times[2], deviceKey: `zk-push/${SERIAL}/2025CS001/2025-01-06T09:01:00/15/1` },
    ]);
    const stats = driver.stats();
    assert.ok(stats.rxFrames >= 1 && stats.rxFrames <= 3, 'rxFrames counts uploads');
    assert.ok(stats.rxBytes > 0 && stats.txBytes > 0);
  });

  test('the terminal gets its OK only after the sink has stored every record of the upload', async (t) => {
    const release = gate();
    const stored: string[] = [];
    const { url } = await openDriver(t, async (event) => {
      await release.opened;
      stored.push((event as Identified).subject);
    });
    const { terminal } = startTerminal(t, url);
    const acknowledged: string[] = [];
    terminal.on('acknowledged', (records) => acknowledged.push(...records.map((record) => record.userId)));
    terminal.punch('A1', 1);
    terminal.punch('A2', 1);
    await terminal.start();
    await waitFor(() => terminal.pending.length === 2 && stored.length === 0, { message: 'the upload waiting in the sink' });
    // Give the HTTP exchange every chance to finish early; it must not.
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(acknowledged, []);
    release.open();
    await waitFor(() => terminal.pending.length === 0, { message: 'the OK after the sink resolved' });
    assert.deepEqual(stored, ['A1', 'A2']);
    assert.deepEqual(acknowledged, ['A1', 'A2']);
  });

  test('a sink that rejects makes the terminal send again, and nothing is lost or stored twice', async (t) => {
    const stored: string[] = [];
    let failures = 1;
    const { driver, url } = await openDriver(t, async (event) => {
      const subject = (event as Identified).subject;
      if (subject === 'B2' && failures-- > 0) throw new Error('outbox busy');
      stored.push(subject);
    });
    const { terminal, timers } = startTerminal(t, url);
    for (const pin of ['B1', 'B2', 'B3']) terminal.punch(pin, 1);
    const failed = once(terminal, 'uploadFailed');
    await terminal.start();
    const [, reason] = await failed;
    assert.match(reason, /503/);
    assert.deepEqual(stored, ['B1']);
    assert.equal(terminal.pending.length, 3, 'the terminal keeps what was not OK’d');
    timers.fireNext();
    await waitFor(() => terminal.pending.length === 0, { message: 'the resend OK’d' });
    assert.deepEqual(stored, ['B1', 'B2', 'B3']);
    assert.equal(driver.terminalStats(SERIAL)!.retries, 1, 'B1 was recognised as sent again');
  });

  test('an upload sent again after its OK was lost is recognised and not stored twice', async (t) => {
    const terminalGaveUp = gate();
    const stored: string[] = [];
    const { driver, url } = await openDriver(t, async (event) => {
      await terminalGaveUp.opened;
      stored.push((event as Identified).subject);
    });
    const { terminal, timers } = startTerminal(t, url, { requestTimeoutMs: 200 });
    terminal.on('uploadFailed', () => terminalGaveUp.open());
    terminal.punch('C1', 1);
    terminal.punch('C2', 4);
    await terminal.start();
    await waitFor(() => stored.length === 2, { message: 'the slow upload stored after all' });
    assert.equal(terminal.pending.length, 2, 'the terminal never saw the OK');
    timers.fireNext();
    await waitFor(() => terminal.pending.length === 0, { message: 'the resend OK’d' });
    assert.deepEqual(stored, ['C1', 'C2']);
    assert.equal(driver.terminalStats(SERIAL)!.retries, 2);
  });

  test('damaged lines are reported and skipped, and the rest of the upload is stored and OK’d', async (t) => {
    const { stored, sink } = storingSink();
    const { driver, url } = await openDriver(t, sink);
    const { terminal } = startTerminal(t, url);
    await terminal.start();
    terminal.faults.injectMalformedLines(['garbage', '7\tnot-a-time\t0\t1']);
    terminal.punch('D1', 1);
    await once(terminal, 'acknowledged');
    assert.deepEqual(
      stored.map((event) => event.subject),
      ['D1'],
    );
    assert.equal(driver.terminalStats(SERIAL)!.discardedBytes, 'garbage'.length + '7\tnot-a-time\t0\t1'.length);
  });

  test('a terminal not on the allow-list is refused and reported, and keeps its records', async (t) => {
    const { stored, sink } = storingSink();
    const { driver, url } = await openDriver(t, sink);
    const { terminal, timers } = startTerminal(t, url, { serialNumber: 'STRANGER9' });
    terminal.punch('E1', 1);
    assert.equal(await terminal.start(), false);
    assert.deepEqual(timers.delays, [30_000], 'it tries again after its own ErrorDelay');
    const [unknown] = driver.unknownTerminals();
    assert.equal(unknown?.serial, 'STRANGER9');
    assert.equal(unknown?.requests, 1);
    assert.equal(unknown?.remoteAddress, '127.0.0.1');
    const upload = await fetch(`${url}/iclock/cdata?SN=STRANGER9&table=ATTLOG&Stamp=1`, { method: 'POST', body: 'E1\t2025-01-06 09:00:05\t0\t1\n' });
    assert.equal(upload.status, 403);
    assert.doesNotMatch(await upload.text(), /^OK/);
    assert.equal(driver.unknownTerminals()[0]!.requests, 2);
    assert.deepEqual(stored, []);
    assert.equal(terminal.pending.length, 1);
    assert.equal(driver.stats().lastSeenAt, null, 'a refused terminal is not a live link');
  });

  test('a queued command goes out on the next poll and resolves with the terminal’s result', async (t) => {
    const { driver, url } = await openDriver(t, storingSink().sink);
    const { terminal, timers } = startTerminal(t, url);
    await terminal.start();
    const result = driver.queueCommand(SERIAL, 'DATA UPDATE USERINFO PIN=7\tName=Asha\tPri=0');
    const info = driver.queueCommand(SERIAL, 'INFO');
    timers.fireNext();
    assert.deepEqual(await result, { id: terminal.executed[0]!.id, returnCode: 0, command: 'DATA', details: {} });
    assert.deepEqual(terminal.users.get('7'), { PIN: '7', Name: 'Asha', Pri: '0' });
    assert.deepEqual((await info).details, { '~SerialNumber': SERIAL, UserCount: '1', TransactionCount: '0' });
    assert.equal(driver.terminalStats(SERIAL)!.txFrames, 2, 'txFrames counts commands sent');
  });

  test('a command goes out once, and one left without a result rejects after its timeout', async (t) => {
    const receiverTimers = new ManualTimers();
    const { driver, url } = await openDriver(t, storingSink().sink, '', receiverTimers);
    const { terminal, timers } = startTerminal(t, url);
    await terminal.start();
    terminal.faults.dropCommandResults();
    const result = driver.queueCommand(SERIAL, 'CLEAR LOG', 5_000);
    timers.fireNext();
    await once(terminal, 'commandExecuted');
    await waitFor(() => timers.scheduled === 1, { message: 'the next poll scheduled' });
    timers.fireNext();
    await once(terminal, 'polled');
    assert.equal(terminal.executed.length, 1, 'the command was not sent again');
    receiverTimers.fireNext();
    await assert.rejects(result, (error: Error) => error instanceof ZkPushCommandTimeoutError && /took it but sent no result/.test(error.message));
    assert.equal(driver.terminalStats(SERIAL)!.timeouts, 1);
  });

  test('commands for unknown serials, spanning lines or after close are refused', async (t) => {
    const { driver } = await openDriver(t, storingSink().sink);
    await assert.rejects(driver.queueCommand('NOBODY', 'INFO'), ZkPushUnknownTerminalError);
    await assert.rejects(driver.queueCommand(SERIAL, 'INFO\nC:1:CLEAR LOG'), RangeError);
    const pending = driver.queueCommand(SERIAL, 'REBOOT');
    await driver.close();
    await assert.rejects(pending, ZkPushCommandCancelledError);
    await assert.rejects(driver.queueCommand(SERIAL, 'INFO'), /closed/);
  });

  test('the handshake after an upload tells the terminal the last stamp stored', async (t) => {
    const { url } = await openDriver(t, storingSink().sink);
    const { terminal } = startTerminal(t, url);
    await terminal.start();
    terminal.punch('F1', 1);
    terminal.punch('F2', 1);
    await waitFor(() => terminal.pending.length === 0, { message: 'both OK’d' });
    await terminal.start();
    assert.equal(terminal.serverOptions!.ATTLOGStamp, '2');
  });

  test('a body over maxBody is refused with 413 and nothing is stored', async (t) => {
    const { stored, sink } = storingSink();
    const { driver } = await openDriver(t, sink, '&maxBody=1024');
    const port = driver.address()!.port;
    const line = 'G1\t2025-01-06 09:00:05\t0\t1\t0\t0\t0\n';
    const declared = await rawExchange(port, `POST /iclock/cdata?SN=${SERIAL}&table=ATTLOG HTTP/1.1\r\nHost: x\r\nContent-Length: 2048\r\n\r\n`);
    assert.match(declared, /^HTTP\/1\.1 413 /);
    const body = line.repeat(60);
    const chunked = await rawExchange(port, `POST /iclock/cdata?SN=${SERIAL}&table=ATTLOG HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n${body.length.toString(16)}\r\n${body}\r\n`);
    assert.match(chunked, /^HTTP\/1\.1 413 /);
    assert.deepEqual(stored, []);
  });

  test('a request that does not arrive in full within requestTimeout is dropped', async (t) => {
    const { driver } = await openDriver(t, storingSink().sink, '&requestTimeout=1000');
    const answer = await rawExchange(driver.address()!.port, `POST /iclock/cdata?SN=${SERIAL}&table=ATTLOG HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nG1\t2025`);
    assert.match(answer, /^HTTP\/1\.1 408 /);
    assert.equal(driver.stats().rxFrames, 0);
  });

  test('an operation-log upload is OK’d with its count, and a torn template line is reported without its bytes', async (t) => {
    const logLines: string[] = [];
    const logger = pino({ level: 'debug' }, { write: (line: string) => void logLines.push(line) });
    const driver = createZkPushDriver(`http://127.0.0.1:0?serials=${SERIAL}`, { logger });
    t.after(() => driver.close());
    await driver.open(storingSink().sink);
    const body = 'OPLOG 4\t0\t2015-07-03 14:26:14\t0\t0\t0\t0\nSS21TEMPLATEBYTESaGVsbG8gd29ybGQ=\n';
    const answer = await fetch(`http://127.0.0.1:${driver.address()!.port}/iclock/cdata?SN=${SERIAL}&table=OPERLOG&OpStamp=9`, { method: 'POST', body });
    assert.deepEqual([answer.status, await answer.text()], [200, 'OK: 2']);
    assert.equal(driver.terminalStats(SERIAL)!.discardedBytes, 'SS21TEMPLATEBYTESaGVsbG8gd29ybGQ='.length);
    assert.ok(logLines.some((line) => line.includes('[DISCARDED] OPERLOG line')));
    assert.ok(!logLines.some((line) => line.includes('TEMPLATEBYTES')));
  });

  test('paths and methods outside the push protocol are refused', async (t) => {
    const { url } = await openDriver(t, storingSink().sink);
    assert.equal((await fetch(`${url}/iclock/other?SN=${SERIAL}`)).status, 404);
    assert.equal((await fetch(`${url}/iclock/getrequest?SN=${SERIAL}`, { method: 'POST', body: '' })).status, 405);
    assert.equal((await fetch(`${url}/iclock/getrequest`)).status, 400);
    const ping = await fetch(`${url}/iclock/ping?SN=${SERIAL}`);
    assert.deepEqual([ping.status, await ping.text()], [200, 'OK']);
  });
});

describe('zk-push driver lifecycle', () => {
  test('the driver reports its kind and capabilities, and opens only once', async (t) => {
    const { driver } = await openDriver(t, storingSink().sink);
    assert.equal(driver.kind, 'zk-push');
    assert.equal(driver.capabilities.identify, true);
    assert.equal(driver.capabilities.logs, false);
    assert.equal(driver.capabilities.acknowledgedDelivery, true);
    await assert.rejects(driver.open(storingSink().sink), /opens once/);
  });

  test('a port already in use fails the open and leaves the driver failed', async (t) => {
    const blocker = createServer();
    blocker.listen(0, '127.0.0.1');
    await once(blocker, 'listening');
    t.after(() => blocker.close());
    const port = (blocker.address() as { port: number }).port;
    const driver: ZkPushDriver = createZkPushDriver(`http://127.0.0.1:${port}?serials=${SERIAL}`);
    await assert.rejects(driver.open(storingSink().sink), /EADDRINUSE/);
    assert.equal(driver.state, 'failed');
    await driver.close();
    assert.equal(driver.state, 'closed');
  });

  test('stats before open are all zero', () => {
    const driver = createZkPushDriver(`http://127.0.0.1:0?serials=${SERIAL}`);
    assert.equal(driver.stats().rxFrames, 0);
    assert.equal(driver.stats().lastSeenAt, null);
    assert.equal(driver.terminalStats(SERIAL), undefined);
  });

  test('closing waits for the record in the sink, then the terminal is told to send the rest again', async (t) => {
    const release = gate();
    const stored: string[] = [];
    const { driver, url } = await openDriver(t, async (event) => {
      await release.opened;
      stored.push((event as Identified).subject);
    });
    const { terminal } = startTerminal(t, url);
    terminal.punch('H1', 1);
    terminal.punch('H2', 1);
    const failed = once(terminal, 'uploadFailed');
    await terminal.start();
    await waitFor(() => driver.terminalStats(SERIAL)!.rxFrames === 1, { message: 'the upload in the sink' });
    const closed = driver.close();
    release.open();
    await closed;
    assert.deepEqual(stored, ['H1'], 'no record is delivered once close has begun');
    await failed;
    assert.equal(terminal.pending.length, 2);
    assert.equal(driver.state, 'closed');
  });

  test('a bad URL fails the driver creation, not a later open', () => {
    assert.throws(() => createZkPushDriver('http://0.0.0.0:8081'), TransportUrlError);
    assert.throws(() => createZkPushDriver('tcp://0.0.0.0:8081?serials=A'), /plain http/);
  });
});
