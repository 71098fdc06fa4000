import { ZkFrameError, requireBytes, requireInteger } from './errors.js';
import { view } from './fields.js';

/**
 * GET_FREE_SIZES (50) reply: ACK_OK + 23 × i32le (§2.7). Offsets into the payload:
 *   16 users · 24 templates · 32 records · 40 op-log records · 48 admins · 52 passwords
 *   56 template capacity · 60 user capacity · 64 record capacity
 *   68 templates available · 72 users available · 76 records available
 *   80 faces · 88 face capacity (present from 92 bytes); every other word 0
 */
const FIELDS = {
  users: 16,
  templates: 24,
  records: 32,
  oplogRecords: 40,
  admins: 48,
  passwords: 52,
  templateCapacity: 56,
  userCapacity: 60,
  recordCapacity: 64,
  templatesAvailable: 68,
  usersAvailable: 72,
  recordsAvailable: 76,
  faces: 80,
  faceCapacity: 88,
} as const;

export type FreeSizeCounts = Record<keyof typeof FIELDS, number>;

export const FREE_SIZES_LENGTH = 92;
/** pyzk refuses fewer bytes; the face words are missing below 92. */
const MIN_FREE_SIZES_LENGTH = 80;

export class FreeSizes {
  constructor(readonly counts: Readonly<FreeSizeCounts>) {
    for (const [name, value] of Object.entries(counts)) requireInteger(value, -0x80000000, 0x7fffffff, name);
  }

  static from(payload: Uint8Array): FreeSizes {
    requireBytes(payload, MIN_FREE_SIZES_LENGTH, 'GET_FREE_SIZES reply');
    const data = view(payload);
    const counts = Object.fromEntries(
      Object.entries(FIELDS).map(([name, offset]) => [name, offset + 4 <= data.length ? data.readInt32LE(offset) : 0]),
    ) as FreeSizeCounts;
    return new FreeSizes(counts);
  }

  serialize(): Buffer {
    const bytes = Buffer.alloc(FREE_SIZES_LENGTH);
    for (const [name, offset] of Object.entries(FIELDS)) bytes.writeInt32LE(this.counts[name as keyof FreeSizeCounts], offset);
    return bytes;
  }
}

/**
 * OPTIONS_RRQ (11): request `Name\0`, reply `Name=Value\0` (§2.7). Devices
 * answer an unknown name with ACK_ERROR, which the session reports.
 */
export function encodeOptionRequest(name: string): Buffer {
  if (!/^[\x21-\x3c\x3e-\x7e]+$/.test(name)) throw new ZkFrameError('range', `option name ${JSON.stringify(name)} must be printable ASCII without '='`);
  return Buffer.from(`${name}\0`, 'ascii');
}

export function decodeOptionReply(payload: Uint8Array): { name: string; value: string } {
  const text = cString(payload);
  const equals = text.indexOf('=');
  if (equals === -1) throw new ZkFrameError('layout', `option reply ${JSON.stringify(text)} has no '='`);
  return { name: text.slice(0, equals), value: text.slice(equals + 1) };
}

/** GET_VERSION (1100) reply: `Ver 6.60 Apr 28 2015\0`. */
export function decodeVersion(payload: Uint8Array): string {
  return cString(payload);
}

function cString(payload: Uint8Array): string {
  const data = view(payload);
  const end = data.indexOf(0);
  return data.toString('utf8', 0, end === -1 ? data.length : end);
}
