import { R30xFrameError, requireInteger } from './errors.js';
import { DEFAULT_ADDRESS, Pid, R30xPacket, hex8 } from './packet.js';

/**
 * Template transfers (device-protocols.md §4.5): after the ack of UpChar or
 * DownChar, data travels in PID 02 packets of the configured packet size,
 * the last one with PID 08. Nobody acks data packets.
 */

/** Data packet sizes by the code in ReadSysPara and SetSysPara parameter 6. */
export const PACKET_SIZE_BY_CODE = [32, 64, 128, 256] as const;

export function packetSizeFromCode(code: number): number {
  const size = PACKET_SIZE_BY_CODE[code];
  if (size === undefined) throw new R30xFrameError('range', `data packet size code ${code} is not one of 0–3`);
  return size;
}

/** Cuts `bytes` into data packets of `packetSize`; the last packet, possibly shorter, is the end packet. */
export function toDataPackets(bytes: Uint8Array, packetSize: number, address: number = DEFAULT_ADDRESS): R30xPacket[] {
  if (!(PACKET_SIZE_BY_CODE as readonly number[]).includes(packetSize)) {
    throw new R30xFrameError('range', `data packet size must be one of ${PACKET_SIZE_BY_CODE.join(', ')}, got ${packetSize}`);
  }
  if (bytes.length === 0) throw new R30xFrameError('length', 'a transfer carries at least one byte');
  const packets: R30xPacket[] = [];
  for (let offset = 0; offset < bytes.length; offset += packetSize) {
    const end = Math.min(offset + packetSize, bytes.length);
    packets.push(new R30xPacket(end === bytes.length ? Pid.endData : Pid.data, bytes.subarray(offset, end), address));
  }
  return packets;
}

/** Joins the payloads of a transfer's data packets, up to and including the end packet. */
export class DataPacketCollector {
  private readonly parts: Buffer[] = [];
  private size = 0;

  /** `maxBytes` bounds what a module that never sends its end packet can make us hold. */
  constructor(private readonly maxBytes: number) {
    requireInteger(maxBytes, 1, 0x100000, 'transfer size limit');
  }

  /** Takes the next data packet; returns the whole transfer once the end packet is in. */
  accept(packet: R30xPacket): Buffer | undefined {
    if (packet.pid !== Pid.data && packet.pid !== Pid.endData) {
      throw new R30xFrameError('pid', `a data packet has PID 02 or 08, this one 0x${hex8(packet.pid)}`);
    }
    this.size += packet.payload.length;
    if (this.size > this.maxBytes) throw new R30xFrameError('length', `the transfer exceeds ${this.maxBytes} bytes`);
    this.parts.push(packet.payload);
    return packet.pid === Pid.endData ? Buffer.concat(this.parts) : undefined;
  }
}
