import { zkChecksum } from './checksum.js';
import { ZkFrameError, requireBytes, requireInteger } from './errors.js';
import { view } from './fields.js';

/**
 * One ZK packet (device-protocols.md §2.1). The ZK header is the same on both
 * transports; a UDP datagram is the header and the payload, nothing else.
 *
 *   ZK header   0 u16le command (request) or reply code
 *               2 u16le checksum over header (this field zeroed) + payload
 *               4 u16le session id; the event flag in realtime event packets
 *               6 u16le reply id, echoed by the device
 *               8 …     payload
 *
 *   TCP prefix  0 50 50 82 7D  magic 0x5050, 0x7D82
 *               4 u32le        length of ZK header + payload
 *               8 …            ZK header
 */
export const ZK_HEADER_SIZE = 8;
export const TCP_PREFIX_SIZE = 8;
export const TCP_MAGIC = Buffer.from([0x50, 0x50, 0x82, 0x7d]);
/**
 * Longest ZK header + payload we accept. Public clients write and read the
 * length as 16 bits (§2.1), and the largest packet in normal use, a DATA packet
 * with a 65 472-byte chunk, is 65 480.
 */
export const MAX_PACKET_LENGTH = 0xffff;

const EMPTY = Buffer.alloc(0);

export class ZkPacket {
  readonly payload: Buffer;

  constructor(
    readonly command: number,
    readonly sessionId: number,
    readonly replyId: number,
    payload: Uint8Array = EMPTY,
  ) {
    requireInteger(command, 0, 0xffff, 'command code');
    requireInteger(sessionId, 0, 0xffff, 'session id');
    requireInteger(replyId, 0, 0xffff, 'reply id');
    if (payload.length > MAX_PACKET_LENGTH - ZK_HEADER_SIZE) {
      throw new ZkFrameError('length', `payload of ${payload.length} bytes exceeds ${MAX_PACKET_LENGTH - ZK_HEADER_SIZE}`);
    }
    this.payload = view(payload);
  }

  /** Parses a ZK header and payload (a whole UDP datagram) and verifies the checksum. */
  static from(bytes: Uint8Array): ZkPacket {
    requireBytes(bytes, ZK_HEADER_SIZE, 'ZK header');
    const data = view(bytes);
    const received = data.readUInt16LE(2);
    const zeroed = Buffer.from(data);
    zeroed.writeUInt16LE(0, 2);
    const expected = zkChecksum(zeroed);
    if (received !== expected) {
      throw new ZkFrameError('checksum', `checksum 0x${hex16(received)} should be 0x${hex16(expected)}`);
    }
    return new ZkPacket(data.readUInt16LE(0), data.readUInt16LE(4), data.readUInt16LE(6), Buffer.from(data.subarray(ZK_HEADER_SIZE)));
  }

  /** Parses exactly one TCP packet: prefix, ZK header and payload. */
  static fromTcp(bytes: Uint8Array): ZkPacket {
    requireBytes(bytes, TCP_PREFIX_SIZE + ZK_HEADER_SIZE, 'TCP packet');
    const data = view(bytes);
    if (!data.subarray(0, 4).equals(TCP_MAGIC)) throw new ZkFrameError('layout', 'TCP packet does not start with 50 50 82 7D');
    const length = data.readUInt32LE(4);
    if (length !== data.length - TCP_PREFIX_SIZE) {
      throw new ZkFrameError('length', `TCP length field says ${length}, packet has ${data.length - TCP_PREFIX_SIZE}`);
    }
    return ZkPacket.from(data.subarray(TCP_PREFIX_SIZE));
  }

  /** The ZK header and payload with the checksum filled in: a UDP datagram. */
  serialize(): Buffer {
    const bytes = Buffer.alloc(ZK_HEADER_SIZE + this.payload.length);
    bytes.writeUInt16LE(this.command, 0);
    bytes.writeUInt16LE(this.sessionId, 4);
    bytes.writeUInt16LE(this.replyId, 6);
    this.payload.copy(bytes, ZK_HEADER_SIZE);
    bytes.writeUInt16LE(zkChecksum(bytes), 2);
    return bytes;
  }

  serializeTcp(): Buffer {
    const body = this.serialize();
    const prefix = Buffer.alloc(TCP_PREFIX_SIZE);
    TCP_MAGIC.copy(prefix);
    prefix.writeUInt32LE(body.length, 4);
    return Buffer.concat([prefix, body]);
  }
}

function hex16(value: number): string {
  return value.toString(16).padStart(4, '0').toUpperCase();
}
