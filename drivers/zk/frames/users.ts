import { decodeEach, recordSizeFor } from './buffered.js';
import { ZkFrameError, requireBytes, requireInteger } from './errors.js';
import { parseNumericId, readText, view, writeText } from './fields.js';

/**
 * A user as the device stores it (§2.9).
 *
 *   72 bytes (TCP, "ZK8")              28 bytes (UDP, "ZK6")
 *    0 u16le uid                         0 u16le uid
 *    2 u8    privilege                   2 u8    privilege
 *    3 8s    password                    3 5s    password
 *   11 24s   name                        8 8s    name
 *   35 u32le card                       16 u32le card
 *   39 u8    (0 written)                20 pad
 *   40 7s    group id                   21 u8    group
 *   47 pad                              22 i16le time zone (0 written)
 *   48 24s   user id (PIN)              24 u32le user id, numeric
 */
export interface ZkUser {
  /** The device's internal index, 1… */
  uid: number;
  /** Bit 0 disabled; bits 1–3 level: 0 user, 2 enroller, 6 admin, 14 super admin. */
  privilege: number;
  password: string;
  name: string;
  card: number;
  /** Text on 72-byte devices; a number 0–255 as text on 28-byte devices. */
  groupId: string;
  /** What the person is known by (the PIN); digits only on 28-byte devices. */
  userId: string;
}

export type UserRecordSize = 72 | 28;
export const USER_RECORD_SIZES: readonly UserRecordSize[] = [72, 28];

export function encodeUser(user: ZkUser, size: UserRecordSize): Buffer {
  requireInteger(user.uid, 0, 0xffff, 'uid');
  requireInteger(user.privilege, 0, 0xff, 'privilege');
  requireInteger(user.card, 0, 0xffffffff, 'card');
  const bytes = Buffer.alloc(size);
  bytes.writeUInt16LE(user.uid, 0);
  bytes.writeUInt8(user.privilege, 2);
  if (size === 72) {
    writeText(bytes, 3, 8, user.password, 'password');
    writeText(bytes, 11, 23, user.name, 'name');
    bytes.writeUInt32LE(user.card, 35);
    writeText(bytes, 40, 7, user.groupId, 'group id');
    writeText(bytes, 48, 24, user.userId, 'user id');
  } else {
    writeText(bytes, 3, 5, user.password, 'password');
    writeText(bytes, 8, 8, user.name, 'name');
    bytes.writeUInt32LE(user.card, 16);
    const group = parseNumericId(user.groupId, 'group id');
    requireInteger(group, 0, 0xff, 'group id');
    bytes.writeUInt8(group, 21);
    bytes.writeUInt32LE(parseNumericId(user.userId, 'user id'), 24);
  }
  return bytes;
}

/** CMD_DELETE_USER payload: the u16le uid (§2.10). */
export function encodeUserDeletion(uid: number): Buffer {
  requireInteger(uid, 0, 0xffff, 'uid');
  const bytes = Buffer.alloc(2);
  bytes.writeUInt16LE(uid);
  return bytes;
}

export function decodeUser(record: Uint8Array, size: UserRecordSize): ZkUser {
  requireBytes(record, size, `${size}-byte user`);
  const data = view(record);
  const common = { uid: data.readUInt16LE(0), privilege: data.readUInt8(2) };
  if (size === 72) {
    return {
      ...common,
      password: readText(data, 3, 8),
      name: readText(data, 11, 24),
      card: data.readUInt32LE(35),
      groupId: readText(data, 40, 7),
      userId: readText(data, 48, 24),
    };
  }
  return {
    ...common,
    password: readText(data, 3, 5),
    name: readText(data, 8, 8),
    card: data.readUInt32LE(16),
    groupId: String(data.readUInt8(21)),
    userId: String(data.readUInt32LE(24)),
  };
}

/** Decodes the records of a users dataset; `count` is the user count from GET_FREE_SIZES. */
export function decodeUsers(records: Uint8Array, count: number): ZkUser[] {
  const data = view(records);
  if (data.length === 0) return [];
  const size = recordSizeFor(data.length, count, USER_RECORD_SIZES) as UserRecordSize | null;
  if (size === null) throw new ZkFrameError('layout', `${data.length} bytes of users fit neither 72- nor 28-byte records`);
  return decodeEach(data, size, (record) => decodeUser(record, size));
}
