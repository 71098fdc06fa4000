import { R30xFrameError, requireInteger } from './errors.js';

/**
 * One packet of the R30x / ZFM-20 / AS608 / R503 family (device-protocols.md
 * §4.1). Every multi-byte field is big-endian.
 *
 *   0    EF 01   start code
 *   2    u32be   module address (default FF FF FF FF)
 *   6    u8      packet identifier (PID)
 *   7    u16be   length: payload bytes + 2 for the checksum
 *   9    …       payload, 1–256 bytes
 *   9+n  u16be   checksum: (PID + both length bytes + Σ payload) & 0xFFFF
 *
 * Every packet type carries at least one payload byte (an instruction, a
 * confirmation code or data), so a length field below 3 marks noise.
 */
export const START_CODE = Buffer.from([0xef, 0x01]);
export const HEADER_SIZE = 9;
export const CHECKSUM_SIZE = 2;
export const MIN_PAYLOAD = 1;
export const MAX_PAYLOAD = 256;
export const MIN_LENGTH_FIELD = MIN_PAYLOAD + CHECKSUM_SIZE;
export const MAX_LENGTH_FIELD = MAX_PAYLOAD + CHECKSUM_SIZE;
export const MAX_PACKET_SIZE = HEADER_SIZE + MAX_LENGTH_FIELD;
export const DEFAULT_ADDRESS = 0xffffffff;

export const Pid = {
  /** Host → module: an instruction and its parameters. */
  command: 0x01,
  /** A data packet with more to follow. */
  data: 0x02,
  /** Module → host: a confirmation code and return values. */
  ack: 0x07,
  /** The last data packet of a transfer. */
  endData: 0x08,
} as const;

export type R30xPid = (typeof Pid)[keyof typeof Pid];

const KNOWN_PIDS = new Set<number>(Object.values(Pid));

export function isKnownPid(value: number): value is R30xPid {
  return KNOWN_PIDS.has(value);
}

/** The checksum of a packet with this PID, length field and payload. */
export function packetChecksum(pid: number, lengthField: number, payload: Uint8Array): number {
  let sum = pid + (lengthField >> 8) + (lengthField & 0xff);
  for (const byte of payload) sum += byte;
  return sum & 0xffff;
}

export class R30xPacket {
  readonly payload: Buffer;

  constructor(
    readonly pid: R30xPid,
    payload: Uint8Array,
    readonly address: number = DEFAULT_ADDRESS,
  ) {
    if (!isKnownPid(pid)) throw new R30xFrameError('pid', `unknown packet identifier 0x${hex8(pid)}`);
    requireInteger(address, 0, 0xffffffff, 'module address');
    if (payload.length < MIN_PAYLOAD || payload.length > MAX_PAYLOAD) {
      throw new R30xFrameError('length', `payload must be ${MIN_PAYLOAD}–${MAX_PAYLOAD} bytes, got ${payload.length}`);
    }
    this.payload = Buffer.from(payload);
  }

  /** Parses exactly one packet and verifies its checksum. */
  static from(bytes: Uint8Array): R30xPacket {
    const data = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
    if (data.length < HEADER_SIZE + MIN_LENGTH_FIELD) {
      throw new R30xFrameError('truncated', `a packet needs at least ${HEADER_SIZE + MIN_LENGTH_FIELD} bytes, got ${data.length}`);
    }
    if (data[0] !== START_CODE[0] || data[1] !== START_CODE[1]) {
      throw new R30xFrameError('startCode', `packet starts with ${data.subarray(0, 2).toString('hex')}, not ef01`);
    }
    const pid = data[6]!;
    if (!isKnownPid(pid)) throw new R30xFrameError('pid', `unknown packet identifier 0x${hex8(pid)}`);
    const lengthField = data.readUInt16BE(7);
    if (lengthField < MIN_LENGTH_FIELD || lengthField > MAX_LENGTH_FIELD) {
      throw new R30xFrameError('length', `length field ${lengthField} is outside ${MIN_LENGTH_FIELD}..${MAX_LENGTH_FIELD}`);
    }
    if (data.length !== HEADER_SIZE + lengthField) {
      throw new R30xFrameError('length', `length field says ${lengthField} bytes follow the header, ${data.length - HEADER_SIZE} do`);
    }
    const payload = data.subarray(HEADER_SIZE, data.length - CHECKSUM_SIZE);
    const received = data.readUInt16BE(data.length - CHECKSUM_SIZE);
    const expected = packetChecksum(pid, lengthField, payload);
    if (received !== expected) {
      throw new R30xFrameError('checksum', `checksum 0x${hex16(received)} should be 0x${hex16(expected)}`);
    }
    return new R30xPacket(pid, payload, data.readUInt32BE(2));
  }

  serialize(): Buffer {
    const lengthField = this.payload.length + CHECKSUM_SIZE;
    const bytes = Buffer.alloc(HEADER_SIZE + lengthField);
    START_CODE.copy(bytes, 0);
    bytes.writeUInt32BE(this.address, 2);
    bytes.writeUInt8(this.pid, 6);
    bytes.writeUInt16BE(lengthField, 7);
    this.payload.copy(bytes, HEADER_SIZE);
    bytes.writeUInt16BE(packetChecksum(this.pid, lengthField, this.payload), bytes.length - CHECKSUM_SIZE);
    return bytes;
  }
}

export function hex8(value: number): string {
  return value.toString(16).padStart(2, '0').toUpperCase();
}

function hex16(value: number): string {
  return value.toString(16).padStart(4, '0').toUpperCase();
}
