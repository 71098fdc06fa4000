import { decodeEach, recordSizeFor } from './buffered.js';
import { ZkFrameError, requireBytes, requireInteger } from './errors.js';
import { parseNumericId, readText, view, writeText } from './fields.js';
import { decodeZkTime, encodeZkTime, type WallClock } from './time.js';

/**
 * One attendance log record (§2.9). The layout depends on the firmware:
 *
 *   40 bytes (TCP)            16 bytes (older, UDP)        8 bytes (oldest)
 *    0 u16le uid                0 u32le user id, numeric     0 u16le uid
 *    2 24s   user id            4 u32le packed time          2 u8    verify type
 *   26 u8    verify type        8 u8    verify type          3 u32le packed time
 *   27 u32le packed time        9 u8    state                7 u8    state
 *   31 u8    state             10 2 reserved
 *   32 8 reserved             12 u32le work code (0 written)
 */
export interface ZkAttendance {
  /** The device's user index; 0 where the layout does not carry it (16 bytes). */
  uid: number;
  /** The user's PIN; '' where the layout does not carry it (8 bytes). */
  userId: string;
  /** How the person was identified: 0 password, 1 fingerprint, 2 card; newer firmware adds more. */
  verifyMode: number;
  /** 0 check-in, 1 check-out, 2 break-out, 3 break-in, 4 overtime-in, 5 overtime-out. */
  state: number;
  time: WallClock;
}

export type AttendanceRecordSize = 40 | 16 | 8;
export const ATTENDANCE_RECORD_SIZES: readonly AttendanceRecordSize[] = [40, 16, 8];

export function encodeAttendance(record: ZkAttendance, size: AttendanceRecordSize): Buffer {
  requireInteger(record.verifyMode, 0, 0xff, 'verify mode');
  requireInteger(record.state, 0, 0xff, 'state');
  const bytes = Buffer.alloc(size);
  const time = encodeZkTime(record.time);
  if (size === 40) {
    requireInteger(record.uid, 0, 0xffff, 'uid');
    bytes.writeUInt16LE(record.uid, 0);
    writeText(bytes, 2, 24, record.userId, 'user id');
    bytes.writeUInt8(record.verifyMode, 26);
    bytes.writeUInt32LE(time, 27);
    bytes.writeUInt8(record.state, 31);
  } else if (size === 16) {
    bytes.writeUInt32LE(parseNumericId(record.userId, 'user id'), 0);
    bytes.writeUInt32LE(time, 4);
    bytes.writeUInt8(record.verifyMode, 8);
    bytes.writeUInt8(record.state, 9);
  } else {
    requireInteger(record.uid, 0, 0xffff, 'uid');
    bytes.writeUInt16LE(record.uid, 0);
    bytes.writeUInt8(record.verifyMode, 2);
    bytes.writeUInt32LE(time, 3);
    bytes.writeUInt8(record.state, 7);
  }
  return bytes;
}

export function decodeAttendance(record: Uint8Array, size: AttendanceRecordSize): ZkAttendance {
  requireBytes(record, size, `${size}-byte attendance record`);
  const data = view(record);
  if (size === 40) {
    return {
      uid: data.readUInt16LE(0),
      userId: readText(data, 2, 24),
      verifyMode: data.readUInt8(26),
      time: decodeZkTime(data.readUInt32LE(27)),
      state: data.readUInt8(31),
    };
  }
  if (size === 16) {
    return {
      uid: 0,
      userId: String(data.readUInt32LE(0)),
      time: decodeZkTime(data.readUInt32LE(4)),
      verifyMode: data.readUInt8(8),
      state: data.readUInt8(9),
    };
  }
  return {
    uid: data.readUInt16LE(0),
    userId: '',
    verifyMode: data.readUInt8(2),
    time: decodeZkTime(data.readUInt32LE(3)),
    state: data.readUInt8(7),
  };
}

/**
 * Decodes the records of an attendance dataset; `count` is the record count
 * from GET_FREE_SIZES. Records longer than 40 bytes (an unknown firmware) are
 * read with the 40-byte fields at their own stride, as pyzk does (§2.13 rule 11).
 */
export function decodeAttendances(records: Uint8Array, count: number): ZkAttendance[] {
  const data = view(records);
  if (data.length === 0) return [];
  const size = recordSizeFor(data.length, count, ATTENDANCE_RECORD_SIZES) as AttendanceRecordSize | null;
  if (size !== null) return decodeEach(data, size, (record) => decodeAttendance(record, size));
  const stride = count > 0 ? data.length / count : 0;
  if (Number.isInteger(stride) && stride > 40) return decodeEach(data, stride, (record) => decodeAttendance(record, 40));
  throw new ZkFrameError('layout', `${data.length} bytes of attendance fit no known record size for ${count} records`);
}
