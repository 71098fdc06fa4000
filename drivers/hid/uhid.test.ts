/**
 * The HID scanner driver on the real node-hid and kernel hidraw path, with a
 * virtual keyboard from the Linux uhid driver standing in for the scanner.
 * Runs only where /dev/uhid is writable and node-hid loads; elsewhere it is
 * skipped and says why.
 */
import assert from 'node:assert/strict';
import { constants } from 'node:fs';
import { access } from 'node:fs/promises';
import { test } from 'node:test';
import { UHID_PATH, UhidKeyboard } from '../../simulators/hid/uhid.js';
import { ManualTimers } from '../../test/support/manualTimers.js';
import { waitFor } from '../../test/support/wait.js';
import type { DeviceEvent } from '../core/driver.js';
import { loadNodeHid } from '../core/hid.js';
import { createHidScannerDriver } from './driver.js';

/** pid.codes' open-source vendor id with one of its test product ids. */
const VENDOR_ID = 0x1209;
const PRODUCT_ID = 0x0001;

async function whyUhidIsUnavailable(): Promise<string | undefined> {
  if (process.platform !== 'linux') return `uhid is Linux only; this is ${process.platform}`;
  try {
    await access(UHID_PATH, constants.W_OK);
  } catch (error) {
    return `${UHID_PATH} is missing or not writable (${(error as NodeJS.ErrnoException).code}); load the uhid module and run as root to include this test`;
  }
  try {
    await loadNodeHid();
  } catch (error) {
    return (error as Error).message;
  }
  return undefined;
}

const skipReason = await whyUhidIsUnavailable();

test('a uhid keyboard is read through node-hid and hidraw, and its removal is seen as an unplug', { skip: skipReason ?? false }, async (t) => {
  const serialNumber = `campushub-test-${process.pid}`;
  const keyboard = await UhidKeyboard.create({ vendorId: VENDOR_ID, productId: PRODUCT_ID, serialNumber });
  t.after(() => keyboard.destroy());
  const nodeHid = await loadNodeHid();
  await waitFor(async () => (await nodeHid.devicesAsync(VENDOR_ID, PRODUCT_ID)).some((device) => device.serialNumber === serialNumber), {
    timeoutMs: 10_000,
    message: 'node-hid to list the uhid keyboard',
  });

  const driver = createHidScannerDriver(`hid://1209:0001/${serialNumber}`, { timers: new ManualTimers() });
  t.after(() => driver.close());
  const received: string[] = [];
  await driver.open(async (event: DeviceEvent) => {
    if (event.type === 'scanned') received.push(event.payload);
  });
  assert.equal(driver.state, 'ready');

  // The kernel also types this into the console; a shell takes it for a comment.
  const code = '#HIDTEST-2025CS001';
  await keyboard.type(code);
  await waitFor(() => received.length === 1, { timeoutMs: 10_000, message: 'the typed scan at the sink' });
  assert.deepEqual(received, [code]);

  await keyboard.destroy();
  await waitFor(() => driver.state === 'reopening', { timeoutMs: 10_000, message: 'the driver to see the device gone' });
});
