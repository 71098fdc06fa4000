import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { createDriver } from '../index.js';
import { COMMAND_GROUPS, UnsupportedCommandError, requireCommand, type DeviceCommands } from './commands.js';
import type { DeviceDriver } from './driver.js';

/** Each group of commands is present exactly when its capability flag is true, and getInfo always is. */
function assertCommandsMatchCapabilities(driver: DeviceDriver): void {
  const commands: DeviceCommands = driver.commands;
  assert.equal(typeof commands.getInfo, 'function', `${driver.kind}: getInfo`);
  for (const [capability, names] of Object.entries(COMMAND_GROUPS)) {
    const promised = driver.capabilities[capability as keyof typeof COMMAND_GROUPS];
    const present = names.filter((name) => typeof commands[name] === 'function');
    assert.deepEqual(present, promised ? names : [], `${driver.kind}: the "${capability}" commands`);
  }
  const known = new Set<string>(['getInfo', ...Object.values(COMMAND_GROUPS).flat()]);
  assert.deepEqual(Object.keys(commands).filter((name) => !known.has(name)), [], `${driver.kind}: commands outside the interface`);
}

/** Every configuration of a family that changes its capabilities. */
const FAMILIES: Record<string, string[]> = {
  zk: ['tcp://127.0.0.1:4370', 'udp://127.0.0.1:4370?realtime=0'],
  r30x: ['serial+tcp://127.0.0.1:7002', 'serial:///dev/ttyUSB0?model=r503'],
  'zk-push': ['http://127.0.0.1:8081?serials=ABC123'],
  qr: ['tcp://127.0.0.1:7001', 'serial:///dev/ttyACM0?ack=1'],
  hid: ['hid://0c2e:0b61', 'hid://0c2e:0b61/18223B0F21?mode=pos'],
};

describe('commands match capabilities', () => {
  for (const [kind, urls] of Object.entries(FAMILIES)) {
    test(`${kind}: a command group is present exactly when its capability flag is true`, async () => {
      for (const url of urls) assertCommandsMatchCapabilities(await createDriver(kind, url));
    });
  }
});

test('devices that only send events describe their link', async () => {
  const qr = await (await createDriver('qr', 'serial:///dev/ttyACM0')).commands.getInfo();
  assert.deepEqual(qr, { details: { kind: 'qr-line', transport: 'serial', link: '/dev/ttyACM0' } });
  const hid = await (await createDriver('hid', 'hid://c2e:b61/18223B0F21')).commands.getInfo();
  assert.deepEqual(hid, { details: { kind: 'hid-scanner', transport: 'hid', link: '0c2e:0b61/18223B0F21' } });
});

test('requireCommand hands back the commands when present and names the missing capability when not', async () => {
  const zk = await createDriver('zk', 'tcp://127.0.0.1:4370');
  assert.equal(requireCommand(zk, 'readLogs'), zk.commands);
  const qr = await createDriver('qr', 'tcp://127.0.0.1:7001');
  assert.throws(
    () => requireCommand(qr, 'listUsers'),
    (error) =>
      error instanceof UnsupportedCommandError &&
      error.capability === 'users' &&
      error.message === 'cannot listUsers: its driver (qr-line) lacks the "users" capability (its capabilities: scan)',
  );
});
