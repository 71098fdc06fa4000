import assert from 'node:assert/strict';
import { once } from 'node:events';
import { describe, test } from 'node:test';
import { keyboardReportVectors, posReportVectors, reportBytes } from '../../fixtures/frames/hid/vectors.js';
import { HidScannerSimulator, simulatedNodeHid } from './device.js';
import { keyboardReports, posReports } from './reports.js';

const hex = (reports: Uint8Array[]) => reports.map((report) => Buffer.from(report).toString('hex'));

function keyboardVector(name: string) {
  const vector = keyboardReportVectors().find((candidate) => candidate.name === name);
  return hex(reportBytes(vector ?? assert.fail(`no keyboard vector named ${name}`)));
}

function posVector(name: string) {
  const vector = posReportVectors().find((candidate) => candidate.name === name);
  return hex(reportBytes(vector ?? assert.fail(`no POS vector named ${name}`)));
}

describe('report generation matches the golden vectors (fixtures/frames/hid)', () => {
  test('a student id typed as a wedge types it: press and release per key, Enter at the end', () => {
    assert.deepEqual(hex(keyboardReports('2025CS001')), keyboardVector('a full student-id scan ending in Enter'));
  });

  test('upper case and symbols are typed with left or right Shift as configured', () => {
    assert.deepEqual(hex(keyboardReports('CSE')), keyboardVector('upper-case letters with left Shift'));
    assert.deepEqual(hex(keyboardReports('ECE', { shift: 'right' })), keyboardVector('upper-case letters with right Shift'));
    assert.deepEqual(hex(keyboardReports('!@#$%^&*()_+{}|:"~<>?')), keyboardVector('symbols typed with Shift'));
    assert.deepEqual(hex(keyboardReports("-=[]\\;'`,./ ")), keyboardVector('symbols typed without Shift'));
  });

  test('a report id goes before every report when the scanner numbers its reports', () => {
    assert.deepEqual(hex(keyboardReports('Ab1', { reportId: 1 })), keyboardVector('reports with a report-id prefix (9 bytes)'));
  });

  test('HID POS reports carry count, AIM identifier, data, vendor symbology and the more-follows flag where §5.2 puts them', () => {
    assert.deepEqual(hex(posReports('2025CS001', { vendorSymbology: 0x73 })), posVector('a QR code in one report, Honeywell symbology 0x73'));
    assert.deepEqual(hex(posReports('2025CS002', { vendorSymbology: 0x73, suffix: '\r' })), posVector('a trailing CR is removed'));
    assert.deepEqual(hex(posReports('2025EC007', { aimOffset: 2 })), posVector('AIM identifier at offset 2 (Zebra), no vendor symbology'));
    const long = 'STUDENT:2025CS001;NAME:ASHA RAO;PROGRAMME:BTECH-CSE;SEM:5;SECTION:B';
    assert.deepEqual(hex(posReports(long, { vendorSymbology: 0x73 })), posVector('a barcode longer than one report spans two'));
  });

  test('text a US-layout wedge cannot type, and a malformed AIM identifier, are refused', () => {
    assert.throws(() => keyboardReports('café'), /cannot type "é"/);
    assert.throws(() => keyboardReports('a\tb'), /cannot type "\\t"/);
    assert.throws(() => posReports('X', { aimIdentifier: 'Q1' }), /AIM identifier is '\]' and two characters/);
  });
});

describe('simulated scanner behind a node-hid stand-in', () => {
  test('reports go only to an open handle with a data listener; the rest are lost, as node-hid keeps no buffer', async () => {
    const scanner = new HidScannerSimulator();
    const lost: Uint8Array[] = [];
    scanner.on('lost', (report) => lost.push(report));
    await scanner.scan('a');
    const bus = simulatedNodeHid(scanner);
    const [info] = await bus.devicesAsync(0x0c2e, 0x0b61);
    const handle = await bus.HIDAsync.open(info!.path);
    await scanner.scan('b');
    const received: Buffer[] = [];
    handle.on('data', (report: Buffer) => received.push(report));
    await scanner.scan('c');
    assert.equal(lost.length, 8, 'a and b: press and release each, then Enter press and release');
    assert.deepEqual(hex(received), hex(keyboardReports('c')));
  });

  test('unplugging emits node-hid’s read error as a string and takes the device off the list until replug, under a new path', async () => {
    const scanner = new HidScannerSimulator({ serialNumber: 'DOOR-7' });
    const bus = simulatedNodeHid(scanner);
    const [before] = await bus.devicesAsync(0x0c2e, 0x0b61);
    assert.equal(before?.serialNumber, 'DOOR-7');
    const handle = await bus.HIDAsync.open(before!.path);
    const failed = once(handle, 'error');
    scanner.unplug();
    assert.deepEqual(await failed, ['could not read from HID device']);
    assert.deepEqual(await bus.devicesAsync(0x0c2e, 0x0b61), []);
    await assert.rejects(bus.HIDAsync.open(before!.path), /could not open device/);
    await assert.rejects(handle.write([0]), /could not write/);
    scanner.replug();
    const [after] = await bus.devicesAsync(0x0c2e, 0x0b61);
    assert.notEqual(after?.path, before?.path);
    await handle.close();
    assert.equal(scanner.isOpen, false);
  });

  test('a scanner that waits for an enable report loses its scans until the report arrives, on every open', async () => {
    const scanner = new HidScannerSimulator({ mode: 'pos', enableReport: [0xfe, 0x01] });
    const bus = simulatedNodeHid(scanner);
    const [info] = await bus.devicesAsync(0x0c2e, 0x0b61);
    assert.deepEqual([info?.usagePage, info?.usage], [0x8c, 0x02]);
    const lost: Uint8Array[] = [];
    scanner.on('lost', (report) => lost.push(report));
    const received: Buffer[] = [];
    const first = await bus.HIDAsync.open(info!.path);
    first.on('data', (report: Buffer) => received.push(report));
    await scanner.scan('SILENT');
    await first.sendFeatureReport([0xfe, 0x01]);
    await scanner.scan('HEARD');
    await first.close();
    const second = await bus.HIDAsync.open(info!.path);
    second.on('data', (report: Buffer) => received.push(report));
    await scanner.scan('SILENT-AGAIN');
    assert.deepEqual(hex(received), hex(posReports('HEARD')));
    assert.equal(lost.length, 2);
    await second.close();
  });

  test('the simulator accepts one handle at a time', async () => {
    const scanner = new HidScannerSimulator();
    const bus = simulatedNodeHid(scanner);
    const [info] = await bus.devicesAsync(0x0c2e, 0x0b61);
    const handle = await bus.HIDAsync.open(info!.path);
    await assert.rejects(bus.HIDAsync.open(info!.path), /busy/);
    await handle.close();
  });
});
