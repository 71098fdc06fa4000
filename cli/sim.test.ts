import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { DeviceDriver, DeviceEvent } from '../drivers/core/driver.js';
import { createDriver } from '../drivers/index.js';
import type { R30xDriver } from '../drivers/r30x/driver.js';
import type { ZkDriver } from '../drivers/zk/driver.js';
import type { ZkPushDriver } from '../drivers/zkpush/driver.js';
import { spawnCampushub, type CampushubProcess } from '../test/support/processes.js';
import { tempDir } from '../test/support/tempDir.js';
import { waitFor } from '../test/support/wait.js';
import { main } from './dispatch.js';

/** A simulator in a child process, stopped when the test ends; resolves with its ready line. */
async function startSim(t: TestContext, args: string[]): Promise<{ sim: CampushubProcess; ready: Record<string, unknown> }> {
  const sim = spawnCampushub(['sim', ...args]);
  t.after(() => sim.kill());
  return { sim, ready: await sim.ready };
}

/** Opens a driver that collects its events, closed when the test ends. */
async function openDriver<T extends DeviceDriver>(t: TestContext, kind: string, url: string): Promise<{ driver: T; events: DeviceEvent[] }> {
  const driver = (await createDriver(kind, url)) as T;
  const events: DeviceEvent[] = [];
  t.after(() => driver.close());
  await driver.open(async (event) => void events.push(event));
  return { driver, events };
}

test('sim zk serves the users of a CSV file to the ZK driver and punches for them on schedule', { timeout: 20_000 }, async (t) => {
  const users = join(tempDir(t, 'sim-zk'), 'users.csv');
  writeFileSync(users, '\uFEFFuserId,name\r\n9001,Asha Rao\r\n9002,"Iyer, Vikram"\r\n');
  const { sim, ready } = await startSim(t, ['zk', '--port', '0', '--users', users, '--serial', 'SIMTEST01', '--punch-interval-ms', '100']);
  assert.equal(ready.kind, 'zk');
  assert.equal(ready.users, 2);

  const { driver, events } = await openDriver<ZkDriver>(t, 'zk', `tcp://127.0.0.1:${ready.port as number}`);
  assert.equal((await driver.getInfo()).serialNumber, 'SIMTEST01');
  assert.deepEqual(
    (await driver.listUsers()).map((user) => [user.userId, user.name]),
    [
      ['9001', 'Asha Rao'],
      ['9002', 'Iyer, Vikram'],
    ],
  );
  const punch = await waitFor(() => events[0], { message: 'a punch from the simulated terminal' });
  assert.ok(punch.type === 'identified' && ['9001', '9002'].includes(punch.subject) && punch.deviceKey?.startsWith('zk/SIMTEST01/'), JSON.stringify(punch));

  assert.equal(await sim.stop(), 0);
});

test('sim r30x over TCP shows its enrolled slots to the R30x driver and touches them in turn', { timeout: 20_000 }, async (t) => {
  const { sim, ready } = await startSim(t, ['r30x', '--port', '0', '--enrolled', '3', '--touch-interval-ms', '500']);
  assert.equal(ready.enrolled, 3);

  const { driver, events } = await openDriver<R30xDriver>(t, 'r30x', `tcp://127.0.0.1:${ready.port as number}`);
  const parameters = await driver.systemParameters();
  assert.equal(parameters.capacity, 1000);
  assert.equal(await driver.templateCount(), 3);
  assert.deepEqual(await driver.occupiedSlots(), [0, 1, 2]);
  const touch = await waitFor(() => events[0], { message: 'a touch of an enrolled finger' });
  assert.ok(touch.type === 'identified' && ['0', '1', '2'].includes(touch.subject) && touch.method === 'fingerprint', JSON.stringify(touch));

  assert.equal(await sim.stop(), 0);
});

test('sim zk-push hands punches of the demo users to a zk-push receiver', { timeout: 20_000 }, async (t) => {
  const { driver, events } = await openDriver<ZkPushDriver>(t, 'zk-push', 'http://127.0.0.1:0?serials=PUSHTEST01');
  const { sim, ready } = await startSim(t, ['zk-push', '--hub-url', `http://127.0.0.1:${driver.address()!.port}`, '--serial', 'PUSHTEST01', '--punch-interval-ms', '100']);
  assert.equal(ready.handshake, true);

  const punch = await waitFor(() => events[0], { message: 'a pushed punch' });
  assert.ok(punch.type === 'identified' && punch.subject === '2025CS001' && punch.deviceKey?.startsWith('zk-push/PUSHTEST01/'), JSON.stringify(punch));

  assert.equal(await sim.stop(), 0);
});

test('sim refuses an unknown kind, a push terminal without --hub-url, touches with nothing enrolled and a user id too long for a ZK terminal', async (t) => {
  const users = join(tempDir(t, 'sim-users'), 'users.json');
  writeFileSync(users, JSON.stringify([{ userId: 'x'.repeat(25), name: 'Too long' }]));
  const cases: [string[], RegExp][] = [
    [['sim', 'zkk'], /unknown simulator "zkk"; choose one of qr, zk, zk-push, r30x/],
    [['sim', 'zk-push'], /--hub-url is required/],
    [['sim', 'zk-push', '--hub-url', 'tcp://127.0.0.1:8081'], /--hub-url must be an http:\/\/ URL/],
    [['sim', 'r30x', '--enrolled', '0', '--touch-interval-ms', '500'], /--touch-interval-ms needs at least one enrolled finger/],
    [['sim', 'r30x', '--enrolled', '1001'], /--enrolled must be a whole number from 0 to 1000/],
    [['sim', 'zk', '--users', users], /entry 1: user id "x{25}" must be 1 to 24 bytes/],
  ];
  for (const [argv, message] of cases) {
    let err = '';
    const code = await main(argv, {}, { stdout: () => {}, stderr: (text) => void (err += text) });
    assert.equal(code, 2, argv.join(' '));
    assert.match(err, message);
  }
});

test('sim --help documents every kind\'s options, naming the kinds each applies to', async () => {
  let out = '';
  assert.equal(await main(['sim', '--help'], {}, { stdout: (text) => void (out += text), stderr: () => {} }), 0);
  for (const [option, kinds] of [
    ['--users', 'zk, zk-push:'],
    ['--punch-interval-ms', 'zk, zk-push:'],
    ['--hub-url', 'zk-push:'],
    ['--enrolled', 'r30x:'],
    ['--touch-interval-ms', 'r30x:'],
  ] as const) {
    assert.match(out, new RegExp(`^ +${option} <value> +${kinds}`, 'm'), option);
  }
});
