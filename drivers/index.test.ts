import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DRIVER_KINDS, UnknownDriverKindError, createDriver } from './index.js';

test('the qr kind loads the QR line driver for the URL', async () => {
  const driver = await createDriver('qr', 'tcp://127.0.0.1:7001?ack=1');
  assert.equal(driver.kind, 'qr-line');
  assert.equal(driver.capabilities.acknowledgedDelivery, true);
  assert.equal(driver.state, 'closed');
});

test('an unknown kind is refused with the list of known kinds', async () => {
  assert.deepEqual(DRIVER_KINDS, ['qr']);
  await assert.rejects(createDriver('zkk', 'tcp://127.0.0.1:4370'), (error: Error) => error instanceof UnknownDriverKindError && /"zkk".*known kinds: qr/.test(error.message));
});

test('names inherited from Object are not taken for driver kinds', async () => {
  await assert.rejects(createDriver('toString', 'tcp://127.0.0.1:7001'), UnknownDriverKindError);
});

test('a bad URL fails the driver creation, not a later open', async () => {
  await assert.rejects(createDriver('qr', 'tcp://127.0.0.1:7001?akc=1'), /unknown option akc/);
});
