import type { DeviceCommands, DeviceDetails, DeviceTemplateRef } from '../core/commands.js';
import type { ZkDriver } from './driver.js';
import type { ZkUser } from './frames/users.js';

/** Attendance state of a log record, by its code. */
const PUNCH_STATES = ['check-in', 'check-out', 'break-out', 'break-in', 'overtime-in', 'overtime-out'];

/** Privilege bits 1–3, the level. */
const ROLES = new Map([
  [0, 'user'],
  [1, 'enroller'],
  [3, 'admin'],
  [7, 'super admin'],
]);

const TEMPLATE_FLAGS = new Map([
  [0, 'invalid'],
  [1, 'valid'],
  [3, 'duress'],
]);
const VALID_TEMPLATE = 1;

export class ZkUnknownUserError extends Error {
  override readonly name = 'ZkUnknownUserError';
}

function roleOf(privilege: number): string {
  const level = (privilege >> 1) & 0b111;
  const role = ROLES.get(level) ?? `level ${level}`;
  return privilege & 1 ? `${role} (disabled)` : role;
}

/**
 * The vendor-neutral commands over a ZK driver's own. ZK commands name a
 * user by the uid the terminal assigned; callers know the person by user id
 * (the subject of events), so the adapter looks the uid up in the user list.
 */
export function zkCommands(zk: ZkDriver): DeviceCommands {
  const userNamed = async (userId: string): Promise<ZkUser> => {
    const user = (await zk.listUsers()).find((candidate) => candidate.userId === userId);
    if (!user) throw new ZkUnknownUserError(`the terminal has no user ${JSON.stringify(userId)}`);
    return user;
  };
  const uidOf = async (ref: DeviceTemplateRef): Promise<number> => (await userNamed(ref.subject)).uid;

  return {
    async getInfo() {
      const info = await zk.getInfo();
      const sizes = await zk.getFreeSizes();
      const details: DeviceDetails = {
        ...(info.platform === null ? {} : { platform: info.platform }),
        ...(info.vendor === null ? {} : { vendor: info.vendor }),
        ...(info.macAddress === null ? {} : { macAddress: info.macAddress }),
        users: sizes.users,
        userCapacity: sizes.userCapacity,
        templates: sizes.templates,
        templateCapacity: sizes.templateCapacity,
        logRecords: sizes.records,
        logCapacity: sizes.recordCapacity,
        // Terminals without a face sensor report a capacity of 0.
        ...(sizes.faceCapacity > 0 ? { faces: sizes.faces, faceCapacity: sizes.faceCapacity } : {}),
      };
      return { serialNumber: info.serialNumber ?? undefined, model: info.deviceName ?? undefined, firmware: info.firmwareVersion, details };
    },

    async listUsers() {
      return (await zk.listUsers()).map((user) => ({
        userId: user.userId,
        name: user.name,
        // Passwords stay on the device; the listing says only whether one is set.
        details: { uid: user.uid, role: roleOf(user.privilege), card: user.card, group: user.groupId, hasPassword: user.password !== '' },
      }));
    },

    /** A new user gets the next free uid and no privilege, password or card; a known one keeps them and takes the new name. */
    async setUser(user) {
      const users = await zk.listUsers();
      const known = users.find((candidate) => candidate.userId === user.userId);
      const uid = known?.uid ?? Math.max(0, ...users.map((candidate) => candidate.uid)) + 1;
      await zk.setUser({ privilege: 0, password: '', card: 0, groupId: '1', ...known, uid, userId: user.userId, name: user.name });
    },

    async deleteUser(userId) {
      await zk.deleteUser((await userNamed(userId)).uid);
    },

    async readLogs() {
      return (await zk.readLogs()).map((record) => ({
        subject: record.userId,
        method: record.method,
        deviceTime: record.deviceTime,
        deviceKey: record.deviceKey,
        details: { uid: record.uid, verifyMode: record.verifyMode, state: PUNCH_STATES[record.state] ?? `state ${record.state}` },
      }));
    },

    clearLogs: () => zk.clearLogs(),
    getTime: () => zk.getTime(),
    setTime: (date) => zk.setTime(date),
    enable: () => zk.enable(),
    disable: () => zk.disable(),

    async listTemplates() {
      const templates = await zk.listTemplates();
      const userIds = new Map((await zk.listUsers()).map((user) => [user.uid, user.userId]));
      return templates.map((template) => ({
        // A template left behind by a deleted user has no user id; its uid is all there is to name it by.
        subject: userIds.get(template.uid) ?? String(template.uid),
        finger: template.fingerIndex,
        details: { uid: template.uid, flag: TEMPLATE_FLAGS.get(template.flag) ?? `flag ${template.flag}`, bytes: template.template.length },
      }));
    },

    async downloadTemplate(ref) {
      return zk.downloadTemplate(await uidOf(ref), ref.finger);
    },

    async uploadTemplate(ref, bytes) {
      await zk.uploadTemplate({ uid: await uidOf(ref), fingerIndex: ref.finger, flag: VALID_TEMPLATE, template: Buffer.from(bytes) });
    },

    async deleteTemplate(ref) {
      await zk.deleteTemplate(await uidOf(ref), ref.finger);
    },
  };
}
