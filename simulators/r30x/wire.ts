/**
 * The module side of the R30x UART format, written from
 * device-protocols.md §4.1 on its own (never from the driver's codec), so a
 * framing bug on one side cannot hide behind the same bug on the other.
 *
 *   EF 01 | u32be address | u8 PID | u16be length (payload + 2) | payload | u16be checksum
 *   checksum = (PID + length_hi + length_lo + Σ payload) & 0xFFFF
 */
export const PID_COMMAND = 0x01;
export const PID_DATA = 0x02;
export const PID_ACK = 0x07;
export const PID_END_OF_DATA = 0x08;

export interface WirePacket {
  address: number;
  pid: number;
  payload: Buffer;
}

export function encodePacket(address: number, pid: number, payload: Uint8Array): Buffer {
  const length = payload.length + 2;
  const out = Buffer.alloc(9 + length);
  out[0] = 0xef;
  out[1] = 0x01;
  out.writeUInt32BE(address >>> 0, 2);
  out[6] = pid;
  out.writeUInt16BE(length, 7);
  out.set(payload, 9);
  let sum = pid + (length >> 8) + (length & 0xff);
  for (const byte of payload) sum += byte;
  out.writeUInt16BE(sum & 0xffff, 9 + payload.length);
  return out;
}

export type ReaderEvent = { kind: 'packet'; packet: WirePacket } | { kind: 'corrupt'; address: number; pid: number };

type ReaderState = 'start1' | 'start2' | 'header' | 'body';

/**
 * Reads host bytes one at a time, the way module firmware does: hunt for
 * EF 01, take the 7 header bytes, then length bytes. A header whose PID or
 * length cannot be right sends it back to hunting; there is no backtracking,
 * as there would be none in a UART interrupt handler.
 */
export class PacketReader {
  private state: ReaderState = 'start1';
  private header = Buffer.alloc(7);
  private body = Buffer.alloc(0);
  private filled = 0;

  constructor(private readonly onEvent: (event: ReaderEvent) => void) {}

  feed(bytes: Uint8Array): void {
    for (const byte of bytes) this.step(byte);
  }

  private step(byte: number): void {
    switch (this.state) {
      case 'start1':
        if (byte === 0xef) this.state = 'start2';
        return;
      case 'start2':
        this.state = byte === 0x01 ? 'header' : byte === 0xef ? 'start2' : 'start1';
        this.filled = 0;
        return;
      case 'header':
        this.header[this.filled++] = byte;
        if (this.filled < this.header.length) return;
        this.beginBody();
        return;
      case 'body':
        this.body[this.filled++] = byte;
        if (this.filled === this.body.length) this.finishPacket();
        return;
    }
  }

  private beginBody(): void {
    const pid = this.header[4]!;
    const length = this.header.readUInt16BE(5);
    const pidKnown = pid === PID_COMMAND || pid === PID_DATA || pid === PID_ACK || pid === PID_END_OF_DATA;
    if (!pidKnown || length < 3 || length > 258) {
      this.state = 'start1';
      return;
    }
    this.body = Buffer.alloc(length);
    this.filled = 0;
    this.state = 'body';
  }

  private finishPacket(): void {
    this.state = 'start1';
    const address = this.header.readUInt32BE(0);
    const pid = this.header[4]!;
    const length = this.header.readUInt16BE(5);
    const payload = this.body.subarray(0, length - 2);
    let sum = pid + (length >> 8) + (length & 0xff);
    for (const byte of payload) sum += byte;
    if ((sum & 0xffff) !== this.body.readUInt16BE(length - 2)) {
      this.onEvent({ kind: 'corrupt', address, pid });
      return;
    }
    this.onEvent({ kind: 'packet', packet: { address, pid, payload: Buffer.from(payload) } });
  }
}
