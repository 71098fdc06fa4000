import { ZkFrameError, requireInteger } from './errors.js';
import { readText, view, writeText } from './fields.js';
import { decodeZkTime6, encodeZkTime6, type WallClock } from './time.js';

/**
 * EF_ATTLOG realtime event payloads (§2.11), told apart by exact length as
 * pyzk does:
 *
 *   10   u16le uid | u8 verify | u8 state | 6-byte time            old UDP firmware
 *   12   u32le user id | u8 verify | u8 state | 6-byte time
 *   14   the 10-byte layout + 4 bytes
 *   32   24s user id | u8 verify | u8 state | 6-byte time           TCP / TFT firmware
 *   36, 37, ≥ 52   the 32-byte layout + 4, 5 or ≥ 20 bytes
 *
 * The event packet itself is cmd 500, session field EF_ATTLOG (1), reply id 0.
 */
export interface ZkRealtimeAttendance {
  /** The user's PIN; null in the 10- and 14-byte layouts, which carry the uid instead. */
  userId: string | null;
  /** The device's user index; null where the layout carries the PIN. */
  uid: number | null;
  verifyMode: number;
  state: number;
  time: WallClock;
}

export type RealtimeLayout = 32 | 10;

export function decodeRealtimeAttendance(payload: Uint8Array): ZkRealtimeAttendance {
  const data = view(payload);
  const tail = (offset: number) => ({ verifyMode: data.readUInt8(offset), state: data.readUInt8(offset + 1), time: decodeZkTime6(data, offset + 2) });
  switch (data.length) {
    case 10:
    case 14:
      return { userId: null, uid: data.readUInt16LE(0), ...tail(2) };
    case 12:
      return { userId: String(data.readUInt32LE(0)), uid: null, ...tail(4) };
    case 32:
    case 36:
    case 37:
      return { userId: readText(data, 0, 24), uid: null, ...tail(24) };
    default:
      if (data.length >= 52) return { userId: readText(data, 0, 24), uid: null, ...tail(24) };
      throw new ZkFrameError('layout', `no realtime attendance layout is ${data.length} bytes long`);
  }
}

export function encodeRealtimeAttendance(event: ZkRealtimeAttendance, layout: RealtimeLayout): Buffer {
  requireInteger(event.verifyMode, 0, 0xff, 'verify mode');
  requireInteger(event.state, 0, 0xff, 'state');
  const bytes = Buffer.alloc(layout);
  const at = layout === 32 ? 24 : 2;
  if (layout === 32) {
    writeText(bytes, 0, 24, event.userId ?? '', 'user id');
  } else {
    const uid = event.uid ?? -1;
    requireInteger(uid, 0, 0xffff, 'uid');
    bytes.writeUInt16LE(uid, 0);
  }
  bytes.writeUInt8(event.verifyMode, at);
  bytes.writeUInt8(event.state, at + 1);
  encodeZkTime6(event.time).copy(bytes, at + 2);
  return bytes;
}
