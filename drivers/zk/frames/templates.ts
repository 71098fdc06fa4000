import { decodeEach } from './buffered.js';
import { ZkFrameError, requireBytes, requireInteger } from './errors.js';
import { view } from './fields.js';
import { decodeUser, encodeUser, type UserRecordSize, type ZkUser } from './users.js';

/**
 * Fingerprint templates (§2.9, §2.10). Template bytes are opaque here.
 *
 *   dataset entry (1503 cmd 7)   0 u16le entry size = template length + 6 | 2 u16le uid
 *                                4 u8 finger 0–9 | 5 u8 flag (0 invalid, 1 valid, 3 duress) | 6 template
 *   slot (88 read, 9 read, 19)   0 u16le uid | 2 u8 finger
 *   TMP_WRITE (87)               0 u16le uid | 2 u8 finger | 3 u8 flag | 4 u16le template length
 *   SAVE_USERTEMPS (110)         u32le 12 | u16le 0 | u16le 8
 *   batch upload buffer          u32le |U| · u32le |T| · u32le |F| · U · T · F
 *     U  per user:     u8 02 + the 72- or 28-byte user
 *     T  per template: u8 02 | u16le uid | u8 0x10 + finger | u32le offset of its entry in F
 *     F  per template: u16le template length | template
 */
export interface ZkTemplate {
  uid: number;
  /** 0–9 */
  fingerIndex: number;
  /** 0 invalid, 1 valid, 3 duress. */
  flag: number;
  template: Buffer;
}

const ENTRY_HEAD = 6;
const MAX_TEMPLATE = 0xffff - ENTRY_HEAD;

export function encodeTemplateEntry(entry: ZkTemplate): Buffer {
  requireInteger(entry.uid, 0, 0xffff, 'uid');
  requireInteger(entry.fingerIndex, 0, 0xff, 'finger index');
  requireInteger(entry.flag, 0, 0xff, 'template flag');
  requireInteger(entry.template.length, 0, MAX_TEMPLATE, 'template length');
  const head = Buffer.alloc(ENTRY_HEAD);
  head.writeUInt16LE(entry.template.length + ENTRY_HEAD, 0);
  head.writeUInt16LE(entry.uid, 2);
  head.writeUInt8(entry.fingerIndex, 4);
  head.writeUInt8(entry.flag, 5);
  return Buffer.concat([head, entry.template]);
}

/**
 * Decodes the records of a templates dataset. Entry sizes must add up to the
 * record bytes exactly; pyzk runs off the end otherwise (§2.13 rule 12).
 */
export function decodeTemplates(records: Uint8Array): ZkTemplate[] {
  const data = view(records);
  const out: ZkTemplate[] = [];
  for (let offset = 0; offset < data.length; ) {
    requireBytes(data.subarray(offset), ENTRY_HEAD, 'template entry');
    const size = data.readUInt16LE(offset);
    if (size < ENTRY_HEAD || offset + size > data.length) {
      throw new ZkFrameError('length', `template entry at ${offset} claims ${size} bytes; ${data.length - offset} remain`);
    }
    out.push({
      uid: data.readUInt16LE(offset + 2),
      fingerIndex: data.readUInt8(offset + 4),
      flag: data.readUInt8(offset + 5),
      template: Buffer.from(data.subarray(offset + ENTRY_HEAD, offset + size)),
    });
    offset += size;
  }
  return out;
}

export class TemplateSlot {
  constructor(
    readonly uid: number,
    readonly fingerIndex: number,
  ) {
    requireInteger(uid, 0, 0xffff, 'uid');
    requireInteger(fingerIndex, 0, 0xff, 'finger index');
  }

  static from(payload: Uint8Array): TemplateSlot {
    requireBytes(payload, 3, 'template slot');
    const data = view(payload);
    return new TemplateSlot(data.readUInt16LE(0), data.readUInt8(2));
  }

  serialize(): Buffer {
    const bytes = Buffer.alloc(3);
    bytes.writeUInt16LE(this.uid, 0);
    bytes.writeUInt8(this.fingerIndex, 2);
    return bytes;
  }
}

export class TemplateWrite {
  constructor(
    readonly uid: number,
    readonly fingerIndex: number,
    readonly flag: number,
    readonly size: number,
  ) {
    requireInteger(uid, 0, 0xffff, 'uid');
    requireInteger(fingerIndex, 0, 0xff, 'finger index');
    requireInteger(flag, 0, 0xff, 'template flag');
    requireInteger(size, 0, 0xffff, 'template size');
  }

  static from(payload: Uint8Array): TemplateWrite {
    requireBytes(payload, 6, 'TMP_WRITE payload');
    const data = view(payload);
    return new TemplateWrite(data.readUInt16LE(0), data.readUInt8(2), data.readUInt8(3), data.readUInt16LE(4));
  }

  serialize(): Buffer {
    const bytes = Buffer.alloc(6);
    bytes.writeUInt16LE(this.uid, 0);
    bytes.writeUInt8(this.fingerIndex, 2);
    bytes.writeUInt8(this.flag, 3);
    bytes.writeUInt16LE(this.size, 4);
    return bytes;
  }
}

/** The fixed payload of _CMD_SAVE_USERTEMPS as pyzk sends it; its meaning is not documented. */
export const SAVE_USERTEMPS_PAYLOAD = Buffer.from([12, 0, 0, 0, 0, 0, 8, 0]);

export interface UserWithTemplates {
  user: ZkUser;
  /** Finger index and template bytes; the batch format has no flag, so uploads are stored valid. */
  templates: { fingerIndex: number; template: Buffer }[];
}

const BATCH_MARK = 0x02;
const BATCH_FINGER_BASE = 0x10;

export function encodeUserTemplateBatch(entries: readonly UserWithTemplates[], userSize: UserRecordSize): Buffer {
  const users: Buffer[] = [];
  const table: Buffer[] = [];
  const fingers: Buffer[] = [];
  let fingerOffset = 0;
  for (const { user, templates } of entries) {
    users.push(Buffer.from([BATCH_MARK]), encodeUser(user, userSize));
    for (const { fingerIndex, template } of templates) {
      requireInteger(fingerIndex, 0, 0xff - BATCH_FINGER_BASE, 'finger index');
      requireInteger(template.length, 0, 0xffff, 'template length');
      const row = Buffer.alloc(8);
      row.writeUInt8(BATCH_MARK, 0);
      row.writeUInt16LE(user.uid, 1);
      row.writeUInt8(BATCH_FINGER_BASE + fingerIndex, 3);
      row.writeUInt32LE(fingerOffset, 4);
      table.push(row);
      const length = Buffer.alloc(2);
      length.writeUInt16LE(template.length);
      fingers.push(length, template);
      fingerOffset += 2 + template.length;
    }
  }
  const parts = [Buffer.concat(users), Buffer.concat(table), Buffer.concat(fingers)];
  const head = Buffer.alloc(12);
  parts.forEach((part, index) => head.writeUInt32LE(part.length, index * 4));
  return Buffer.concat([head, ...parts]);
}

export function decodeUserTemplateBatch(batch: Uint8Array, userSize: UserRecordSize): UserWithTemplates[] {
  const data = view(batch);
  requireBytes(data, 12, 'template batch head');
  const [userBytes, tableBytes, fingerBytes] = [0, 4, 8].map((offset) => data.readUInt32LE(offset)) as [number, number, number];
  if (12 + userBytes + tableBytes + fingerBytes !== data.length) {
    throw new ZkFrameError('length', `template batch sections add up to ${12 + userBytes + tableBytes + fingerBytes}, buffer has ${data.length}`);
  }
  if (userBytes % (userSize + 1) !== 0 || tableBytes % 8 !== 0) throw new ZkFrameError('layout', 'template batch sections hold partial rows');
  const fingers = data.subarray(12 + userBytes + tableBytes);
  const entries = decodeEach(data.subarray(12, 12 + userBytes), userSize + 1, (row) => ({
    user: decodeUser(row.subarray(1), userSize),
    templates: [] as UserWithTemplates['templates'],
  }));
  for (const row of decodeEach(data.subarray(12 + userBytes, 12 + userBytes + tableBytes), 8, (bytes) => bytes)) {
    const uid = row.readUInt16LE(1);
    const offset = row.readUInt32LE(4);
    const owner = entries.find((entry) => entry.user.uid === uid);
    requireBytes(fingers.subarray(offset), 2, 'batch template length');
    const length = fingers.readUInt16LE(offset);
    if (!owner || offset + 2 + length > fingers.length) throw new ZkFrameError('layout', `batch template row for uid ${uid} points nowhere`);
    owner.templates.push({ fingerIndex: row.readUInt8(3) - BATCH_FINGER_BASE, template: Buffer.from(fingers.subarray(offset + 2, offset + 2 + length)) });
  }
  return entries;
}
