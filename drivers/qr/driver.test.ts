/**
 * The QR line driver against the independent scanner simulator over real
 * TCP sockets on 127.0.0.1. The reconnect backoff runs with random 0, so a
 * reopen happens at once instead of after a real backoff delay.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { describe, test, type TestContext } from 'node:test';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { startQrScannerSimulator, type QrScannerSimulatorOptions } from '../../simulators/qr/scanner.js';
import { freePort } from '../../test/support/ports.js';
import { waitFor } from '../../test/support/wait.js';
import type { ConnectionState, DeviceEvent, EventSink } from '../core/driver.js';
import { UnsupportedTransportError } from '../core/linkFactory.js';
import { TransportUrlError } from '../core/transportUrl.js';
import { createQrLineDriver, type QrLineDriverOptions } from './driver.js';

const codes = (count: number, prefix = 'QR') => Array.from({ length: count }, (_, index) => `${prefix}-${String(index).padStart(4, '0')}`);
const payloadOf = (event: DeviceEvent) => (event.type === 'scanned' ? event.payload : assert.fail(`unexpected ${event.type}`));

async function startScanner(t: TestContext, options: QrScannerSimulatorOptions = {}) {
  const scanner = await startQrScannerSimulator({ listen: { host: '127.0.0.1', port: 0 }, ...options });
  t.after(() => scanner.stop());
  return scanner;
}

/** A driver on `url` that reopens at once, with every state it passes through recorded. */
function startDriver(t: TestContext, url: string, options: QrLineDriverOptions = {}) {
  const driver = createQrLineDriver(url, { random: () => 0, ...options });
  const states: ConnectionState[] = [];
  driver.on('state', (state) => states.push(state));
  t.after(() => driver.close());
  return { driver, states };
}

/** A sink that stores every payload at once. */
function collectingSink() {
  const received: string[] = [];
  const sink: EventSink = async (event) => {
    received.push(payloadOf(event));
  };
  return { received, sink };
}

describe('QR line driver over TCP', () => {
  test('scans arrive at the sink in the order they were made', async (t) => {
    const scanner = await startScanner(t);
    const { driver } = startDriver(t, `tcp://127.0.0.1:${scanner.address().port}`);
    const { received, sink } = collectingSink();
    await driver.open(sink);
    assert.equal(driver.state, 'ready');
    const made = codes(50);
    for (const code of made) scanner.scan(code);
    await waitFor(() => received.length === made.length, { message: 'all scans at the sink' });
    assert.deepEqual(received, made);
    assert.equal(driver.stats().rxFrames, made.length);
    assert.ok(driver.stats().lastSeenAt instanceof Date);
    assert.equal(driver.stats().txFrames, 0, 'nothing is written to the reader outside ACK mode');
  });

  test('a scan is acknowledged only after the sink resolves, and the next scan waits for that acknowledgement', async (t) => {
    const scanner = await startScanner(t, { ackMode: true });
    const { driver } = startDriver(t, `serial+tcp://127.0.0.1:${scanner.address().port}?ack=1`);
    const log: string[] = [];
    let store: () => void = () => {};
    await driver.open(async (event) => {
      log.push(`sink ${payloadOf(event)}`);
      await new Promise<void>((resolve) => (store = resolve));
      log.push(`stored ${payloadOf(event)}`);
    });
    scanner.on('delivered', (code) => log.push(`acknowledged ${code}`));
    scanner.scan('FIRST');
    scanner.scan('SECOND');
    await waitFor(() => log.includes('sink FIRST'), { message: 'the first scan at the sink' });
    await nextTurn();
    assert.equal(scanner.pending, 2, 'nothing is acknowledged while the sink is storing');
    store();
    await waitFor(() => log.includes('sink SECOND'), { message: 'the second scan at the sink' });
    store();
    await waitFor(() => scanner.pending === 0, { message: 'both scans acknowledged' });
    assert.deepEqual(log, ['sink FIRST', 'stored FIRST', 'acknowledged FIRST', 'sink SECOND', 'stored SECOND', 'acknowledged SECOND']);
    assert.equal(driver.stats().txFrames, 2);
    assert.equal(driver.capabilities.acknowledgedDelivery, true);
  });

  test('a scan the sink refuses is answered with NAK, and the reader sends it again', async (t) => {
    const scanner = await startScanner(t, { ackMode: true });
    const { driver } = startDriver(t, `tcp://127.0.0.1:${scanner.address().port}?ack=1`);
    const attempts: string[] = [];
    await driver.open(async (event) => {
      attempts.push(payloadOf(event));
      if (attempts.length === 1) throw new Error('outbox is full');
    });
    const refused = once(scanner, 'nak', { signal: AbortSignal.timeout(10_000) });
    scanner.scan('2025CS001');
    assert.deepEqual(await refused, ['2025CS001']);
    await waitFor(() => scanner.pending === 0, { message: 'the resent scan acknowledged' });
    assert.deepEqual(attempts, ['2025CS001', '2025CS001']);
  });

  test('when the reader drops the connection mid-line, the driver reconnects and in ACK mode no scan is lost or duplicated', async (t) => {
    const lineLength = 'DROP-0000\r'.length;
    const scanner = await startScanner(t, { ackMode: true, faults: { dropAfterBytes: 2 * lineLength + 4 } });
    const { driver, states } = startDriver(t, `tcp://127.0.0.1:${scanner.address().port}?ack=1`);
    const { received, sink } = collectingSink();
    await driver.open(sink);
    const disconnected = once(scanner, 'disconnect', { signal: AbortSignal.timeout(10_000) });
    const made = codes(10, 'DROP');
    for (const code of made) scanner.scan(code);
    await disconnected;
    await waitFor(() => scanner.pending === 0, { message: 'every scan acknowledged' });
    assert.deepEqual(received, made);
    assert.equal(driver.stats().reconnects, 1);
    assert.deepEqual(states.slice(-2), ['reopening', 'ready']);
    assert.equal(driver.stats().discardedBytes, 4, 'the 4 bytes of the cut line are discarded');
  });

  test('garbage before each scan is counted in discardedBytes and the scans still arrive whole', async (t) => {
    const garbage = Uint8Array.of(0x00, 0xff, 0x1b);
    const scanner = await startScanner(t, { faults: { garbageBeforeScan: garbage, dribbleBytes: 2 } });
    const { driver } = startDriver(t, `tcp://127.0.0.1:${scanner.address().port}`);
    const { received, sink } = collectingSink();
    await driver.open(sink);
    const made = codes(3, 'NOISY');
    for (const code of made) scanner.scan(code);
    await waitFor(() => received.length === made.length, { message: 'all scans at the sink' });
    assert.deepEqual(received, made);
    assert.equal(driver.stats().discardedBytes, made.length * garbage.length);
  });

  test('a configured prefix and AIM identifier are removed from each scan', async (t) => {
    const scanner = await startScanner(t, { prefix: '#', aimIdentifier: ']Q1', terminator: '\r\n' });
    const { driver } = startDriver(t, `tcp://127.0.0.1:${scanner.address().port}?prefix=%23&aim=1`);
    const { received, sink } = collectingSink();
    await driver.open(sink);
    scanner.scan('2025CS001');
    scanner.scan('学生-✓');
    await waitFor(() => received.length === 2, { message: 'both scans at the sink' });
    assert.deepEqual(received, ['2025CS001', '学生-✓']);
  });

  test('a reader that is not reachable at open leaves the driver reopening until it appears', async (t) => {
    const port = await freePort();
    const { driver, states } = startDriver(t, `tcp://127.0.0.1:${port}`, { random: Math.random, backoff: { baseMs: 20, capMs: 50 } });
    const { received, sink } = collectingSink();
    await driver.open(sink);
    assert.equal(driver.state, 'reopening');
    const scanner = await startScanner(t, { listen: { host: '127.0.0.1', port } });
    await waitFor(() => driver.state === 'ready', { message: 'the driver connected' });
    scanner.scan('LATE');
    await waitFor(() => received.length === 1, { message: 'the scan at the sink' });
    assert.deepEqual(states.slice(0, 2), ['opening', 'reopening']);
    assert.equal(driver.stats().reconnects, 0);
  });

  test('close waits for the scan in the sink and delivers nothing after it', async (t) => {
    const scanner = await startScanner(t);
    const { driver } = startDriver(t, `tcp://127.0.0.1:${scanner.address().port}`);
    const delivered: string[] = [];
    let store: () => void = () => {};
    await driver.open(async (event) => {
      delivered.push(payloadOf(event));
      await new Promise<void>((resolve) => (store = resolve));
    });
    scanner.scan('IN-SINK');
    scanner.scan('QUEUED');
    await waitFor(() => driver.stats().rxFrames === 2, { message: 'both scans received' });
    let closed = false;
    const closing = driver.close().then(() => (closed = true));
    await nextTurn();
    assert.equal(closed, false, 'close waits while the sink is storing');
    store();
    await closing;
    assert.deepEqual(delivered, ['IN-SINK']);
    assert.equal(driver.state, 'closed');
  });
});

describe('QR line driver configuration', () => {
  test('kind and capabilities follow the URL', () => {
    const plain = createQrLineDriver('tcp://127.0.0.1:7001');
    const acknowledged = createQrLineDriver('serial:///dev/ttyACM0?ack=1&baud=115200');
    assert.equal(plain.kind, 'qr-line');
    assert.equal(plain.capabilities.scan, true);
    assert.equal(plain.capabilities.acknowledgedDelivery, false);
    assert.equal(acknowledged.capabilities.acknowledgedDelivery, true);
    assert.equal(plain.state, 'closed');
  });

  test('an unknown option, a bad value or a baud rate on TCP is refused with the option named', () => {
    assert.throws(() => createQrLineDriver('tcp://127.0.0.1:7001?akc=1'), (error: Error) => error instanceof TransportUrlError && /akc/.test(error.message));
    assert.throws(() => createQrLineDriver('tcp://127.0.0.1:7001?ack=maybe'), /ack="maybe"/);
    assert.throws(() => createQrLineDriver('tcp://127.0.0.1:7001?maxLine=0'), /maxLine="0": expected an integer from 1 to 65536/);
    assert.throws(() => createQrLineDriver('serial:///dev/ttyACM0?baud=12'), /baud="12"/);
    assert.throws(() => createQrLineDriver('tcp://127.0.0.1:7001?baud=9600'), /unknown option baud/);
  });

  test('HID and UDP transports are refused as not supported by this driver', () => {
    assert.throws(() => createQrLineDriver('hid://0c2e:0b61'), (error: Error) => error instanceof UnsupportedTransportError && /not supported by this driver/.test(error.message));
    assert.throws(() => createQrLineDriver('udp://127.0.0.1:7001'), UnsupportedTransportError);
  });

  test('a driver opens once', async (t) => {
    const scanner = await startScanner(t);
    const { driver } = startDriver(t, `tcp://127.0.0.1:${scanner.address().port}`);
    const { sink } = collectingSink();
    await driver.open(sink);
    await assert.rejects(driver.open(sink), /opens once/);
  });
});
