/**
 * The HID scanner driver end to end against the independent scanner
 * simulator, through the simulator's stand-in for node-hid. Reconnects run
 * on a manual clock, or with backoff randomness 0 so that a reopen happens
 * at once.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { describe, test, type TestContext } from 'node:test';
import { setImmediate as nextTurn } from 'node:timers/promises';
import pino from 'pino';
import { HidScannerSimulator, simulatedNodeHid, type HidScannerSimulatorOptions } from '../../simulators/hid/device.js';
import { keyboardReports } from '../../simulators/hid/reports.js';
import { ManualTimers } from '../../test/support/manualTimers.js';
import { waitFor } from '../../test/support/wait.js';
import type { ConnectionState, DeviceEvent, EventSink } from '../core/driver.js';
import { TransportUrlError } from '../core/transportUrl.js';
import { createDriver } from '../index.js';
import { createHidScannerDriver, type HidScannerDriverOptions } from './driver.js';

const codes = (count: number, prefix = 'HID') => Array.from({ length: count }, (_, index) => `${prefix}-${String(index).padStart(4, '0')}`);
const payloadOf = (event: DeviceEvent) => (event.type === 'scanned' ? event.payload : assert.fail(`unexpected ${event.type}`));

function simulator(options: HidScannerSimulatorOptions = {}) {
  return new HidScannerSimulator(options);
}

/** A driver on `url` over the simulated scanners, with every state and reason it passes through recorded. */
function startDriver(t: TestContext, url: string, scanners: HidScannerSimulator[], options: HidScannerDriverOptions = {}) {
  const driver = createHidScannerDriver(url, { opener: simulatedNodeHid(...scanners), random: () => 0, ...options });
  const states: Array<[ConnectionState, string | undefined]> = [];
  driver.on('state', (state, reason) => states.push([state, reason]));
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

/** A logger whose records the test can read. */
function capturingLogger() {
  const records: Array<{ level: number; msg: string } & Record<string, unknown>> = [];
  const logger = pino({ level: 'trace' }, { write: (line: string) => void records.push(JSON.parse(line)) });
  return { records, logger };
}

describe('HID scanner driver, keyboard-wedge mode', () => {
  test('scans typed by the scanner reach the sink in the order they were made', async (t) => {
    const scanner = simulator();
    const { driver } = startDriver(t, 'hid://0c2e:0b61', [scanner]);
    const { received, sink } = collectingSink();
    await driver.open(sink);
    assert.equal(driver.state, 'ready');
    const made = [...codes(20), '2025CS001', 'Mixed-Case_#42'];
    for (const code of made) void scanner.scan(code);
    await waitFor(() => received.length === made.length, { message: 'all scans at the sink' });
    assert.deepEqual(received, made);
    assert.equal(driver.stats().rxFrames, made.length);
    const reportBytes = made.flatMap((code) => keyboardReports(code)).reduce((sum, report) => sum + report.length, 0);
    assert.equal(driver.stats().rxBytes, reportBytes, 'rxBytes counts report bytes, not scan bytes');
    assert.equal(driver.stats().txFrames, 0, 'nothing is written to the scanner');
    assert.equal(driver.stats().discardedBytes, 0);
  });

  test('an unplugged scanner is opened again once it is back, and reconnects counts it', async (t) => {
    const timers = new ManualTimers();
    const scanner = simulator();
    const { driver, states } = startDriver(t, 'hid://0c2e:0b61', [scanner], { timers, random: () => 0.5 });
    const { received, sink } = collectingSink();
    await driver.open(sink);
    await scanner.scan('BEFORE');
    const reopening = once(driver, 'state');
    scanner.unplug();
    assert.equal((await reopening)[0], 'reopening');
    assert.match(states.at(-1)?.[1] ?? '', /could not read from HID device \(unplugged\?\)/);

    timers.fireNext();
    await waitFor(() => states.length === 4, { message: 'the retry while unplugged' });
    assert.deepEqual(states.at(-1)?.[0], 'reopening');
    assert.match(states.at(-1)?.[1] ?? '', /no such HID device/);

    scanner.replug();
    timers.fireNext();
    await waitFor(() => driver.state === 'ready', { message: 'the scanner opened again' });
    await scanner.scan('AFTER');
    await waitFor(() => received.length === 2, { message: 'the scan after the replug' });
    assert.deepEqual(received, ['BEFORE', 'AFTER']);
    assert.equal(driver.stats().reconnects, 1);
  });

  test('a scan the sink refuses is logged, and the next scan is still delivered', async (t) => {
    const scanner = simulator();
    const { records, logger } = capturingLogger();
    const { driver } = startDriver(t, 'hid://0c2e:0b61', [scanner], { logger });
    const attempts: string[] = [];
    await driver.open(async (event) => {
      attempts.push(payloadOf(event));
      if (attempts.length === 1) throw new Error('outbox is full');
    });
    await scanner.scan('REFUSED');
    await scanner.scan('STORED');
    await waitFor(() => attempts.length === 2, { message: 'both scans at the sink' });
    assert.deepEqual(attempts, ['REFUSED', 'STORED']);
    const warning = records.find((record) => record.msg === 'sink refused a scan');
    assert.equal(warning?.err, 'outbox is full');
    assert.equal(warning?.ns, 'driver:hid');
  });

  test('garbage reports are counted in discardedBytes and the scans after them arrive whole', async (t) => {
    const garbage = Uint8Array.of(0xde, 0xad, 0xbe);
    const scanner = simulator({ faults: { reportBeforeScan: garbage } });
    const { records, logger } = capturingLogger();
    const { driver } = startDriver(t, 'hid://0c2e:0b61', [scanner], { logger });
    const { received, sink } = collectingSink();
    await driver.open(sink);
    const made = codes(3, 'NOISY');
    for (const code of made) await scanner.scan(code);
    await waitFor(() => received.length === made.length, { message: 'all scans at the sink' });
    assert.deepEqual(received, made);
    assert.equal(driver.stats().discardedBytes, made.length * garbage.length);
    assert.ok(records.some((record) => record.msg === '[DISCARDED]' && record.reason === 'malformed' && record.hex === 'deadbe'));
  });

  test('a scanner that skips release reports loses repeated characters, and only those', async (t) => {
    const scanner = simulator({ faults: { dropReleaseReports: true } });
    const { driver } = startDriver(t, 'hid://0c2e:0b61', [scanner]);
    const { received, sink } = collectingSink();
    await driver.open(sink);
    await scanner.scan('2025CS001');
    await scanner.scan('ABBA');
    await waitFor(() => received.length === 2, { message: 'both scans at the sink' });
    assert.deepEqual(received, ['2025CS01', 'ABA']);
  });

  test('with terminator=tab a Tab ends each scan', async (t) => {
    const scanner = simulator({ keyboard: { terminator: 'tab' } });
    const { driver } = startDriver(t, 'hid://0c2e:0b61?terminator=tab', [scanner]);
    const { received, sink } = collectingSink();
    await driver.open(sink);
    await scanner.scan('FIRST');
    await scanner.scan('SECOND');
    await waitFor(() => received.length === 2, { message: 'both scans at the sink' });
    assert.deepEqual(received, ['FIRST', 'SECOND']);
  });

  test('a scanner in HID POS mode is not taken for a keyboard; the driver keeps reopening and says why', async (t) => {
    const scanner = simulator({ mode: 'pos' });
    const { driver, states } = startDriver(t, 'hid://0c2e:0b61', [scanner], { timers: new ManualTimers() });
    await driver.open(collectingSink().sink);
    assert.equal(driver.state, 'reopening');
    assert.match(states.at(-1)?.[1] ?? '', /no interface with usage page 0x01, usage 0x06 \(found 0x8c\/0x02\)/);
  });

  test('close waits for the scan in the sink, delivers nothing after it, and releases the scanner', async (t) => {
    const scanner = simulator();
    const { driver } = startDriver(t, 'hid://0c2e:0b61', [scanner]);
    const delivered: string[] = [];
    let store: () => void = () => {};
    await driver.open(async (event) => {
      delivered.push(payloadOf(event));
      await new Promise<void>((resolve) => (store = resolve));
    });
    await scanner.scan('IN-SINK');
    await scanner.scan('QUEUED');
    await waitFor(() => driver.stats().rxFrames === 2, { message: 'both scans received' });
    let closed = false;
    const closing = driver.close().then(() => (closed = true));
    await nextTurn();
    assert.equal(closed, false, 'close waits while the sink is storing');
    store();
    await closing;
    assert.deepEqual(delivered, ['IN-SINK']);
    assert.equal(driver.state, 'closed');
    assert.equal(scanner.isOpen, false);
  });
});

describe('HID scanner driver, HID POS mode', () => {
  test('a Honeywell scanner gets its enable report on every open, and long barcodes arrive whole', async (t) => {
    const scanner = simulator({ mode: 'pos', enableReport: [0xfe, 0x01], pos: { vendorSymbology: 0x73 } });
    const { driver } = startDriver(t, 'hid://0c2e:0b61?mode=pos', [scanner]);
    const { received, sink } = collectingSink();
    await driver.open(sink);
    const long = `2025CS001|${'X'.repeat(140)}|END`;
    await scanner.scan(long);
    await waitFor(() => received.length === 1, { message: 'the long scan' });
    scanner.unplug();
    scanner.replug();
    await waitFor(() => driver.state === 'ready' && driver.stats().reconnects === 1, { message: 'the scanner opened again' });
    await scanner.scan('2025CS002');
    await waitFor(() => received.length === 2, { message: 'the scan after the replug' });
    assert.deepEqual(received, [long, '2025CS002']);
    assert.deepEqual(scanner.featureReports, [Buffer.of(0xfe, 0x01), Buffer.of(0xfe, 0x01)]);
  });

  test('a scanner of a vendor without quirks is read with the common layout, and the log says so', async (t) => {
    const scanner = simulator({ mode: 'pos', vendorId: 0x1eab, productId: 0x1d06, pos: { aimOffset: 2 } });
    const { records, logger } = capturingLogger();
    const { driver } = startDriver(t, 'hid://1eab:1d06?mode=pos', [scanner], { logger });
    const { received, sink } = collectingSink();
    await driver.open(sink);
    await scanner.scan('2025EC007');
    await waitFor(() => received.length === 1, { message: 'the scan at the sink' });
    assert.deepEqual(received, ['2025EC007']);
    assert.deepEqual(scanner.featureReports, [], 'only Honeywell and Youjie get the enable report');
    assert.ok(records.some((record) => /no HID POS quirks for this vendor/.test(record.msg) && record.vendorId === 0x1eab));
  });

  test('line breaks inside a barcode are dropped and counted, so one scan stays one scan', async (t) => {
    const scanner = simulator({ mode: 'pos', vendorId: 0x05e0, productId: 0x1900 });
    const { driver } = startDriver(t, 'hid://05e0:1900?mode=pos', [scanner]);
    const { received, sink } = collectingSink();
    await driver.open(sink);
    await scanner.scan('2025CS001\r\nASHA RAO\r');
    await waitFor(() => received.length === 1, { message: 'the scan at the sink' });
    assert.deepEqual(received, ['2025CS001ASHA RAO']);
    assert.equal(driver.stats().discardedBytes, 2);
  });
});

describe('HID scanner driver configuration', () => {
  test('kind and capabilities: scans, without acknowledged delivery', () => {
    const driver = createHidScannerDriver('hid://0c2e:0b61/18223B0F21?mode=pos');
    assert.equal(driver.kind, 'hid-scanner');
    assert.equal(driver.capabilities.scan, true);
    assert.equal(driver.capabilities.identify, false);
    assert.equal(driver.capabilities.acknowledgedDelivery, false);
    assert.equal(driver.state, 'closed');
  });

  test('an unknown option, a bad value, a terminator in POS mode or a non-HID URL is refused with the reason', () => {
    assert.throws(() => createHidScannerDriver('hid://0c2e:0b61?mdoe=pos'), (error: Error) => error instanceof TransportUrlError && /unknown option mdoe/.test(error.message));
    assert.throws(() => createHidScannerDriver('hid://0c2e:0b61?mode=serial'), /mode="serial": expected keyboard or pos/);
    assert.throws(() => createHidScannerDriver('hid://0c2e:0b61?terminator=crlf'), /terminator="crlf": expected enter or tab/);
    assert.throws(() => createHidScannerDriver('hid://0c2e:0b61?mode=pos&terminator=tab'), /terminator applies to mode=keyboard only/);
    assert.throws(() => createHidScannerDriver('serial:///dev/ttyACM0'), /addressed as hid:\/\/vid:pid\[\/serial\]; serial and TCP readers are kind qr/);
  });

  test('the hid kind of drivers/index.ts loads this driver', async () => {
    const driver = await createDriver('hid', 'hid://0c2e:0b61?mode=pos');
    assert.equal(driver.kind, 'hid-scanner');
  });

  test('a driver opens once', async (t) => {
    const { driver } = startDriver(t, 'hid://0c2e:0b61', [simulator()]);
    const { sink } = collectingSink();
    await driver.open(sink);
    await assert.rejects(driver.open(sink), /opens once/);
  });

  test('without a stand-in the driver uses node-hid, loaded only at open, and waits for it or the device', async (t) => {
    const driver = createHidScannerDriver('hid://0c2e:0b61', { timers: new ManualTimers() });
    const states: Array<string | undefined> = [];
    driver.on('state', (_state, reason) => states.push(reason));
    t.after(() => driver.close());
    await driver.open(collectingSink().sink);
    assert.equal(driver.state, 'reopening');
    // Which one depends on the host: libusb missing, or no such scanner plugged in.
    assert.match(states.at(-1) ?? '', /libusb|no such HID device/);
  });
});
