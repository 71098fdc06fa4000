/**
 * The simulator's own reading of the ZK wire format, written from
 * device-protocols.md §2 and the fixtures, apart from drivers/zk on purpose:
 * a codec bug on one side shows up as a failed exchange instead of hiding
 * behind its mirror image.
 */

/** Codes the terminal understands (§2.4), named as the reference names them. */
export const CMD = {
  DB_RRQ: 7,
  USER_WRQ: 8,
  USERTEMP_RRQ: 9,
  OPTIONS_RRQ: 11,
  OPTIONS_WRQ: 12,
  ATTLOG_RRQ: 13,
  CLEAR_DATA: 14,
  CLEAR_ATTLOG: 15,
  DELETE_USER: 18,
  DELETE_USERTEMP: 19,
  UNLOCK: 31,
  OPLOG_RRQ: 34,
  GET_FREE_SIZES: 50,
  ENABLE_CLOCK: 57,
  STARTVERIFY: 60,
  CANCELCAPTURE: 62,
  WRITE_LCD: 66,
  CLEAR_LCD: 67,
  GET_PINWIDTH: 69,
  TMP_WRITE: 87,
  GET_USERTEMP: 88,
  SAVE_USERTEMPS: 110,
  CHECKSUM_BUFFER: 119,
  DEL_USER_TEMP: 134,
  GET_TIME: 201,
  SET_TIME: 202,
  REG_EVENT: 500,
  CONNECT: 1000,
  EXIT: 1001,
  ENABLEDEVICE: 1002,
  DISABLEDEVICE: 1003,
  RESTART: 1004,
  POWEROFF: 1005,
  REFRESHDATA: 1013,
  REFRESHOPTION: 1014,
  TESTVOICE: 1017,
  GET_VERSION: 1100,
  AUTH: 1102,
  PREPARE_DATA: 1500,
  DATA: 1501,
  FREE_DATA: 1502,
  DATA_WRRQ: 1503,
  DATA_RDY: 1504,
  ACK_OK: 2000,
  ACK_ERROR: 2001,
  ACK_UNAUTH: 2005,
  ACK_UNKNOWN: 0xffff,
} as const;

export const EF_ATTLOG = 1;

const MAGIC = Buffer.from('5050827d', 'hex');

/** RFC 1071 style: add 16-bit LE words into a wide accumulator, fold the carries back in at the end, invert. */
export function zkSum(bytes: Buffer): number {
  let sum = 0;
  for (let i = 0; i + 1 < bytes.length; i += 2) sum += bytes.readUInt16LE(i);
  if (bytes.length % 2 === 1) sum += bytes[bytes.length - 1]!;
  while (sum > 0xffff) sum = (sum % 0x10000) + Math.floor(sum / 0x10000);
  return 0xffff - sum;
}

export interface WirePacket {
  code: number;
  session: number;
  reply: number;
  payload: Buffer;
}

export type Transport = 'tcp' | 'udp';

/** Header (+ TCP prefix) around a payload; `corrupt` sends a checksum that is off by one. */
export function packetBytes(packet: WirePacket, transport: Transport, corrupt = false): Buffer {
  const header = Buffer.alloc(8);
  header.writeUInt16LE(packet.code, 0);
  header.writeUInt16LE(packet.session, 4);
  header.writeUInt16LE(packet.reply, 6);
  const body = Buffer.concat([header, packet.payload]);
  body.writeUInt16LE((zkSum(body) + (corrupt ? 1 : 0)) & 0xffff, 2);
  if (transport === 'udp') return body;
  const prefix = Buffer.alloc(8);
  MAGIC.copy(prefix);
  prefix.writeUInt32LE(body.length, 4);
  return Buffer.concat([prefix, body]);
}

/** A header and payload as sent, or null when too short or its checksum is wrong. */
export function readBody(body: Buffer): WirePacket | null {
  if (body.length < 8) return null;
  const copy = Buffer.from(body);
  const claimed = copy.readUInt16LE(2);
  copy.writeUInt16LE(0, 2);
  if (zkSum(copy) !== claimed) return null;
  return { code: body.readUInt16LE(0), session: body.readUInt16LE(4), reply: body.readUInt16LE(6), payload: Buffer.from(body.subarray(8)) };
}

/**
 * Reassembles packets from TCP reads: clients may send several in one write
 * (node-zklib's burst of 1504 requests) or one across several.
 */
export class PacketStream {
  private pending = Buffer.alloc(0);
  /** Bytes that were not part of any packet, and packets whose checksum was wrong. */
  skippedBytes = 0;
  badChecksums = 0;

  feed(chunk: Buffer): WirePacket[] {
    this.pending = Buffer.concat([this.pending, chunk]);
    const packets: WirePacket[] = [];
    for (;;) {
      const at = this.pending.indexOf(MAGIC);
      if (at < 0) {
        const keep = Math.min(3, this.pending.length);
        this.skip(this.pending.length - keep);
        return packets;
      }
      this.skip(at);
      if (this.pending.length < 8) return packets;
      const size = this.pending.readUInt32LE(4);
      if (size < 8 || size > 0xffff) {
        this.skip(1);
        continue;
      }
      if (this.pending.length < 8 + size) return packets;
      const packet = readBody(this.pending.subarray(8, 8 + size));
      if (packet) {
        packets.push(packet);
        this.pending = this.pending.subarray(8 + size);
      } else {
        this.badChecksums++;
        this.skip(1);
      }
    }
  }

  private skip(count: number): void {
    this.skippedBytes += count;
    this.pending = this.pending.subarray(count);
  }
}

/** Local wall-clock fields, which is all a ZK device keeps (§2.6). */
export interface WallClock {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
}

export function wallClockOf(date: Date): WallClock {
  return { year: date.getFullYear(), month: date.getMonth() + 1, day: date.getDate(), hour: date.getHours(), minute: date.getMinutes(), second: date.getSeconds() };
}

export function dateOf(clock: WallClock): Date {
  return new Date(clock.year, clock.month - 1, clock.day, clock.hour, clock.minute, clock.second);
}

/** Mixed-radix count with 31-day months: Y (mod 100), months of 12, days of 31, then h:m:s. */
export function packTime(clock: WallClock): number {
  const days = (((clock.year - 2000) % 100) * 12 + (clock.month - 1)) * 31 + (clock.day - 1);
  return ((days * 24 + clock.hour) * 60 + clock.minute) * 60 + clock.second;
}

export function unpackTime(value: number): WallClock {
  const [second, minute, hour, day, month] = [60, 60, 24, 31, 12].map((radix) => {
    const digit = value % radix;
    value = (value - digit) / radix;
    return digit;
  }) as [number, number, number, number, number];
  return { year: 2000 + value, month: month + 1, day: day + 1, hour, minute, second };
}

/** `YY MM DD hh mm ss` of realtime events. */
export function timeBytes(clock: WallClock): Buffer {
  return Buffer.from([clock.year % 100, clock.month, clock.day, clock.hour, clock.minute, clock.second]);
}

function u32(value: number): Buffer {
  const bytes = Buffer.alloc(4);
  bytes.writeUInt32LE(value >>> 0);
  return bytes;
}

/** A NUL-padded text field; longer text is cut, as a device's fixed buffer would cut it. */
function text(value: string, width: number): Buffer {
  const field = Buffer.alloc(width);
  field.write(value, 0, width, 'utf8');
  return field;
}

function untext(bytes: Buffer): string {
  const nul = bytes.indexOf(0);
  return bytes.subarray(0, nul < 0 ? bytes.length : nul).toString('utf8');
}

export interface SimUser {
  uid: number;
  userId: string;
  name: string;
  privilege: number;
  password: string;
  card: number;
  group: string;
}

export interface SimRecord {
  uid: number;
  userId: string;
  verifyMode: number;
  state: number;
  time: WallClock;
}

export interface SimTemplate {
  uid: number;
  finger: number;
  flag: number;
  data: Buffer;
}

/** 72-byte user (TCP firmware) or 28-byte user (UDP firmware), §2.9. */
export function userRecord(user: SimUser, width: 72 | 28): Buffer {
  const head = Buffer.alloc(3);
  head.writeUInt16LE(user.uid, 0);
  head[2] = user.privilege;
  if (width === 72) {
    return Buffer.concat([head, text(user.password, 8), text(user.name, 24), u32(user.card), Buffer.alloc(1), text(user.group, 7), Buffer.alloc(1), text(user.userId, 24)]);
  }
  const tail = Buffer.alloc(8);
  tail[1] = Number(user.group) & 0xff;
  tail.writeUInt32LE(Number(user.userId) >>> 0, 4);
  return Buffer.concat([head, text(user.password, 5), text(user.name, 8), u32(user.card), tail]);
}

export function parseUserRecord(bytes: Buffer, width: 72 | 28): SimUser {
  const uid = bytes.readUInt16LE(0);
  const privilege = bytes[2]!;
  if (width === 72) {
    return {
      uid,
      privilege,
      password: untext(bytes.subarray(3, 11)),
      name: untext(bytes.subarray(11, 35)),
      card: bytes.readUInt32LE(35),
      group: untext(bytes.subarray(40, 47)),
      userId: untext(bytes.subarray(48, 72)),
    };
  }
  return {
    uid,
    privilege,
    password: untext(bytes.subarray(3, 8)),
    name: untext(bytes.subarray(8, 16)),
    card: bytes.readUInt32LE(16),
    group: String(bytes[21]),
    userId: String(bytes.readUInt32LE(24)),
  };
}

/** 40-byte attendance record (TCP firmware) or 16-byte (UDP firmware), §2.9. */
export function logRecord(record: SimRecord, width: 40 | 16): Buffer {
  if (width === 40) {
    const uid = Buffer.alloc(2);
    uid.writeUInt16LE(record.uid);
    // Reserved tail as captured from a real device (§2.9).
    return Buffer.concat([uid, text(record.userId, 24), Buffer.from([record.verifyMode]), u32(packTime(record.time)), Buffer.from([record.state]), Buffer.from('00000000ff000000', 'hex')]);
  }
  return Buffer.concat([u32(Number(record.userId)), u32(packTime(record.time)), Buffer.from([record.verifyMode, record.state, 0, 0]), u32(0)]);
}

/** A templates-dataset entry: size (template + 6), uid, finger, flag, template. */
export function templateEntry(template: SimTemplate): Buffer {
  const head = Buffer.alloc(6);
  head.writeUInt16LE(template.data.length + 6, 0);
  head.writeUInt16LE(template.uid, 2);
  head[4] = template.finger;
  head[5] = template.flag;
  return Buffer.concat([head, template.data]);
}

/** Realtime EF_ATTLOG payload: 32 bytes on TCP/TFT firmware, the 10-byte uid form on old UDP firmware (§2.11). */
export function attendanceEvent(record: SimRecord, transport: Transport): Buffer {
  if (transport === 'tcp') return Buffer.concat([text(record.userId, 24), Buffer.from([record.verifyMode, record.state]), timeBytes(record.time)]);
  const uid = Buffer.alloc(2);
  uid.writeUInt16LE(record.uid);
  return Buffer.concat([uid, Buffer.from([record.verifyMode, record.state]), timeBytes(record.time)]);
}

/**
 * pyzk's batch upload buffer (§2.10): three u32 section lengths, then users
 * (02 + record), template rows (02, uid, 0x10 + finger, offset), and
 * templates (u16 length + bytes). Null when the sections do not add up.
 */
export function parseUploadBatch(buffer: Buffer, width: 72 | 28): { users: SimUser[]; templates: SimTemplate[] } | null {
  if (buffer.length < 12) return null;
  const userBytes = buffer.readUInt32LE(0);
  const rowBytes = buffer.readUInt32LE(4);
  const fingerBytes = buffer.readUInt32LE(8);
  if (12 + userBytes + rowBytes + fingerBytes !== buffer.length || userBytes % (width + 1) || rowBytes % 8) return null;
  const users: SimUser[] = [];
  for (let at = 12; at < 12 + userBytes; at += width + 1) users.push(parseUserRecord(buffer.subarray(at + 1, at + 1 + width), width));
  const fingers = buffer.subarray(12 + userBytes + rowBytes);
  const templates: SimTemplate[] = [];
  for (let at = 12 + userBytes; at < 12 + userBytes + rowBytes; at += 8) {
    const offset = buffer.readUInt32LE(at + 4);
    if (offset + 2 > fingers.length) return null;
    const length = fingers.readUInt16LE(offset);
    if (offset + 2 + length > fingers.length) return null;
    templates.push({ uid: buffer.readUInt16LE(at + 1), finger: buffer[at + 3]! - 0x10, flag: 1, data: Buffer.from(fingers.subarray(offset + 2, offset + 2 + length)) });
  }
  return { users, templates };
}

/** GET_FREE_SIZES reply: 23 little-endian i32, only some of which carry counts (§2.7). */
export function freeSizesPayload(counts: Record<number, number>): Buffer {
  const payload = Buffer.alloc(92);
  for (const [offset, value] of Object.entries(counts)) payload.writeInt32LE(value, Number(offset));
  return payload;
}

/**
 * What CMD_AUTH must carry for comm key `key` in `session` (§2.5). The device
 * takes the ticks byte from the client's payload and recomputes the rest.
 */
export function commKeyFor(key: number, session: number, ticks: number): Buffer {
  let mirrored = 0;
  for (let bit = 0; bit < 32; bit++) if (Math.floor(key / 2 ** bit) % 2 === 1) mirrored += 2 ** (31 - bit);
  const word = u32((mirrored + session) % 2 ** 32);
  const salted = Buffer.from([word[0]! ^ 0x5a, word[1]! ^ 0x4b, word[2]! ^ 0x53, word[3]! ^ 0x4f]);
  return Buffer.from([salted[2]! ^ ticks, salted[3]! ^ ticks, ticks, salted[1]! ^ ticks]);
}
