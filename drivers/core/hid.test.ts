import assert from 'node:assert/strict';
import { once } from 'node:events';
import { describe, test, type TestContext } from 'node:test';
import { HidScannerSimulator, simulatedNodeHid } from '../../simulators/hid/device.js';
import { HidUnavailableError, hidLinkFactory, loadNodeHid, type HidDeviceOpener, type HidLinkOptions } from './hid.js';
import type { ByteLink } from './link.js';

const KEYBOARD = { page: 0x01, id: 0x06 };
const POS = { page: 0x8c, id: 0x02 };

async function openLink(t: TestContext, options: Omit<HidLinkOptions, 'vendorId' | 'productId'> & { vendorId?: number; productId?: number }): Promise<ByteLink> {
  const link = await hidLinkFactory({ vendorId: 0x0c2e, productId: 0x0b61, ...options })();
  t.after(() => link.close());
  return link;
}

describe('HID link over node-hid', () => {
  test('each data event carries one whole input report, in the order the device sent them', async (t) => {
    const scanner = new HidScannerSimulator();
    const link = await openLink(t, { opener: simulatedNodeHid(scanner) });
    const reports: string[] = [];
    link.on('data', (report) => reports.push(report.toString('hex')));
    await scanner.sendReports([Uint8Array.of(0, 0, 4, 0, 0, 0, 0, 0), Uint8Array.of(0, 0, 0, 0, 0, 0, 0, 0), Uint8Array.of(7)]);
    assert.deepEqual(reports, ['0000040000000000', '0000000000000000', '07']);
    assert.equal(link.description, 'hid://0c2e:0b61');
  });

  test('the interface with the requested usage is opened when a device offers several', async (t) => {
    const keyboard = new HidScannerSimulator({ mode: 'keyboard' });
    const pos = new HidScannerSimulator({ mode: 'pos' });
    await openLink(t, { usage: POS, opener: simulatedNodeHid(keyboard, pos) });
    assert.equal(pos.isOpen, true);
    assert.equal(keyboard.isOpen, false);
  });

  test('a serial number picks one of several devices with the same ids', async (t) => {
    const first = new HidScannerSimulator({ serialNumber: 'ROOM-101' });
    const second = new HidScannerSimulator({ serialNumber: 'ROOM-102' });
    const link = await openLink(t, { serialNumber: 'ROOM-102', opener: simulatedNodeHid(first, second) });
    assert.equal(second.isOpen, true);
    assert.equal(first.isOpen, false);
    assert.equal(link.description, 'hid://0c2e:0b61/ROOM-102');
  });

  test('a missing device, or one without the requested interface, fails the open with what was found', async () => {
    const keyboard = new HidScannerSimulator({ mode: 'keyboard' });
    const opener = simulatedNodeHid(keyboard);
    await assert.rejects(hidLinkFactory({ vendorId: 0x05e0, productId: 0x1200, opener })(), /hid:\/\/05e0:1200: no such HID device/);
    await assert.rejects(
      hidLinkFactory({ vendorId: 0x0c2e, productId: 0x0b61, usage: POS, opener })(),
      /no interface with usage page 0x8c, usage 0x02 \(found 0x01\/0x06\); is the scanner in the right mode\?/,
    );
  });

  test('a device list entry without a usage page is taken on its ids alone', async (t) => {
    const scanner = new HidScannerSimulator();
    const bus = simulatedNodeHid(scanner);
    const opener: HidDeviceOpener = {
      devicesAsync: async (vendorId, productId) => (await bus.devicesAsync(vendorId, productId)).map((device) => ({ ...device, usagePage: undefined, usage: undefined })),
      HIDAsync: bus.HIDAsync,
    };
    await openLink(t, { usage: KEYBOARD, opener });
    assert.equal(scanner.isOpen, true);
  });

  test('feature reports are sent after every open, before any report is read', async (t) => {
    const scanner = new HidScannerSimulator({ mode: 'pos', enableReport: [0xfe, 0x01] });
    const link = await openLink(t, { usage: POS, featureReports: [[0xfe, 0x01]], opener: simulatedNodeHid(scanner) });
    const reports: Buffer[] = [];
    link.on('data', (report) => reports.push(report));
    await scanner.scan('2025CS001');
    assert.deepEqual(scanner.featureReports, [Buffer.of(0xfe, 0x01)]);
    assert.equal(reports.length, 1);
  });

  test('an unplugged device closes the link with node-hid’s read error, and the handle is released', async (t) => {
    const scanner = new HidScannerSimulator();
    const link = await openLink(t, { opener: simulatedNodeHid(scanner) });
    const closed = once(link, 'close');
    scanner.unplug();
    const [error] = (await closed) as [Error | undefined];
    assert.match(error?.message ?? '', /hid:\/\/0c2e:0b61: could not read from HID device \(unplugged\?\)/);
    assert.equal(scanner.isOpen, false);
    await assert.rejects(link.write(Uint8Array.of(0)), /link is closed/);
  });

  test('close ends the link without an error and releases the device', async () => {
    const scanner = new HidScannerSimulator();
    const link = await hidLinkFactory({ vendorId: 0x0c2e, productId: 0x0b61, opener: simulatedNodeHid(scanner) })();
    const closed = once(link, 'close');
    await link.close();
    assert.deepEqual(await closed, [undefined]);
    assert.equal(scanner.isOpen, false);
    await link.close();
  });

  test('write sends an output report', async (t) => {
    const scanner = new HidScannerSimulator();
    const link = await openLink(t, { opener: simulatedNodeHid(scanner) });
    await link.write(Uint8Array.of(0x00, 0x02));
    assert.deepEqual(scanner.outputReports, [Buffer.of(0x00, 0x02)]);
  });

  test('a device that refuses a feature report is closed again and the open fails', async () => {
    const scanner = new HidScannerSimulator();
    const bus = simulatedNodeHid(scanner);
    const opener: HidDeviceOpener = {
      devicesAsync: bus.devicesAsync,
      HIDAsync: {
        open: async (path) => {
          const handle = await bus.HIDAsync.open(path);
          handle.sendFeatureReport = async () => {
            throw new Error('pipe error');
          };
          return handle;
        },
      },
    };
    await assert.rejects(hidLinkFactory({ vendorId: 0x0c2e, productId: 0x0b61, featureReports: [[0xfe, 0x01]], opener })(), /feature report refused: pipe error/);
    assert.equal(scanner.isOpen, false);
  });

  test('node-hid either loads with its native library or fails with HidUnavailableError naming libusb', async () => {
    const outcome: HidDeviceOpener | Error = await loadNodeHid().catch((error: Error) => error);
    if (outcome instanceof Error) {
      assert.ok(outcome instanceof HidUnavailableError);
      assert.match(outcome.message, /libusb/);
    } else {
      assert.equal(typeof outcome.devicesAsync, 'function');
    }
  });
});
