import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DRIVER_KINDS, UnknownDriverKindError, createDriver } from './index.js';

test('the qr kind loads the QR line driver for the URL', async () => {
  const driver = await createDriver('qr', 'tcp://127.0.0.1:7001?ack=1');
  assert.equal(driver.kind, 'qr-line');
  assert.equal(driver.capabilities.acknowledgedDelivery, true);
  assert.equal(driver.state, 'closed');
});

test('every kind loads a driver of its family, closed until opened', async () => {
  const urls: Record<string, [url: string, driverKind: string]> = {
    qr: ['tcp://127.0.0.1:7001', 'qr-line'],
    zk: ['tcp://127.0.0.1:4370', 'zk'],
    r30x: ['serial+tcp://127.0.0.1:7002', 'r30x'],
    hid: ['hid://0c2e:0b61', 'hid-scanner'],
    'zk-push': ['http://127.0.0.1:8081?serials=ABC123', 'zk-push'],
  };
  assert.deepEqual([...DRIVER_KINDS].sort(), Object.keys(urls).sort());
  for (const [kind, [url, driverKind]] of Object.entries(urls)) {
    const driver = await createDriver(kind, url);
    assert.equal(driver.kind, driverKind, kind);
    assert.equal(driver.state, 'closed', kind);
  }
});

test('an unknown kind is refused with the list of known kinds', async () => {
  await assert.rejects(
    createDriver('zkk', 'tcp://127.0.0.1:4370'),
    (error: Error) => error instanceof UnknownDriverKindError && error.message.includes(`known kinds: ${DRIVER_KINDS.join(', ')}`),
  );
});

test('names inherited from Object are not taken for driver kinds', async () => {
  await assert.rejects(createDriver('toString', 'tcp://127.0.0.1:7001'), UnknownDriverKindError);
});

test('a bad URL fails the driver creation, not a later open', async () => {
  await assert.rejects(createDriver('qr', 'tcp://127.0.0.1:7001?akc=1'), /unknown option akc/);
});
