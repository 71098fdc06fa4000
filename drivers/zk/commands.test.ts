import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { MockZkTerminal } from '../../simulators/zk/terminal.js';
import type { DeviceCommands } from '../core/commands.js';
import { ZkUnknownUserError } from './commands.js';
import { createZkDriver, type ZkDriver } from './driver.js';

describe('ZK commands in vendor-neutral terms, against the simulated terminal', () => {
  let terminal: MockZkTerminal;
  let driver: ZkDriver;
  let commands: Required<DeviceCommands>;

  beforeEach(async () => {
    terminal = await MockZkTerminal.start({ packetGapMs: 0, eventGapMs: 0, udp: false });
    terminal.addUser({ uid: 1, userId: '2025CS001', name: 'Asha Rao', privilege: 14, password: '4321', card: 4_213_567 });
    terminal.addUser({ uid: 4, userId: '2025EC001', name: 'Vikram Iyer' });
    driver = createZkDriver(terminal.url('tcp', { probeMs: 0, realtime: 0 }));
    await driver.open(async () => {});
    // The ZK driver has every group but enroll; the capability test in drivers/core checks which.
    commands = driver.commands as Required<DeviceCommands>;
  });

  afterEach(async () => {
    await driver.close();
    await terminal.close();
  });

  it('describes the terminal with its serial number, name, firmware and counts', async () => {
    const info = await commands.getInfo();
    assert.deepEqual(
      { serialNumber: info.serialNumber, model: info.model, firmware: info.firmware },
      { serialNumber: 'CH360SIM0001', model: 'CampusHub360 ZK simulator', firmware: 'Ver 6.60 Apr 28 2015' },
    );
    assert.equal(info.details.users, 2);
    assert.equal(info.details.userCapacity, 3000);
    assert.equal(info.details.macAddress, '00:17:61:00:00:01');
  });

  it('lists users by user id with their role, and says whether a password is set without showing it', async () => {
    assert.deepEqual(await commands.listUsers(), [
      { userId: '2025CS001', name: 'Asha Rao', details: { uid: 1, role: 'super admin', card: 4_213_567, group: '1', hasPassword: true } },
      { userId: '2025EC001', name: 'Vikram Iyer', details: { uid: 4, role: 'user', card: 0, group: '1', hasPassword: false } },
    ]);
  });

  it('adds a user at the next free uid, renames a known one keeping its uid and password, and deletes by user id', async () => {
    await commands.setUser({ userId: '2025ME001', name: 'Meera Nair', details: {} });
    assert.deepEqual(terminal.users.get(5), { uid: 5, userId: '2025ME001', name: 'Meera Nair', privilege: 0, password: '', card: 0, group: '1' });
    await commands.setUser({ userId: '2025CS001', name: 'Asha R.', details: {} });
    assert.deepEqual(terminal.users.get(1), { uid: 1, userId: '2025CS001', name: 'Asha R.', privilege: 14, password: '4321', card: 4_213_567, group: '1' });
    await commands.deleteUser('2025EC001');
    assert.equal(terminal.users.has(4), false);
    await assert.rejects(commands.deleteUser('nobody'), ZkUnknownUserError);
  });

  it('reads the log with each record\'s subject, method, time and key, and clears it', async () => {
    terminal.punch('2025EC001', 2, 1);
    const [record, ...rest] = await commands.readLogs();
    assert.deepEqual(rest, []);
    assert.equal(record!.subject, '2025EC001');
    assert.equal(record!.method, 'card');
    assert.ok(record!.deviceTime instanceof Date);
    assert.match(record!.deviceKey, /^zk\/CH360SIM0001\//);
    assert.deepEqual(record!.details, { uid: 4, verifyMode: 2, state: 'check-out' });
    await commands.clearLogs();
    assert.deepEqual(await commands.readLogs(), []);
  });

  it('sets and reads the clock, and disables and enables the terminal', async () => {
    const wanted = new Date(2030, 5, 15, 8, 30, 0);
    await commands.setTime(wanted);
    assert.equal((await commands.getTime()).getTime(), wanted.getTime());
    await commands.disable();
    assert.equal(terminal.enabled, false);
    await commands.enable();
    assert.equal(terminal.enabled, true);
  });

  it('uploads, lists, downloads and deletes templates named by user id and finger', async () => {
    const template = Buffer.concat([Buffer.from('4d9853533231', 'hex'), Buffer.alloc(600, 0xa5)]);
    const ref = { subject: '2025EC001', finger: 6 };
    await commands.uploadTemplate(ref, template);
    assert.deepEqual(terminal.templates, [{ uid: 4, finger: 6, flag: 1, data: template }]);
    assert.deepEqual(await commands.listTemplates(), [{ ...ref, details: { uid: 4, flag: 'valid', bytes: template.length } }]);
    assert.deepEqual(await commands.downloadTemplate(ref), template);
    assert.equal(await commands.downloadTemplate({ ...ref, finger: 7 }), null);
    await commands.deleteTemplate(ref);
    assert.deepEqual(await commands.listTemplates(), []);
    await assert.rejects(commands.uploadTemplate({ subject: 'nobody', finger: 0 }, template), ZkUnknownUserError);
  });
});
