import { R30xFrameError } from './errors.js';
import { HEADER_SIZE, MAX_LENGTH_FIELD, MIN_LENGTH_FIELD, R30xPacket, START_CODE, isKnownPid } from './packet.js';

/**
 * What the parser yields. Bytes it cannot use come out as `discarded`, never
 * as an exception:
 *   noise       bytes before the next EF 01 (an R503 sends 0x55 after power-up)
 *   pid         a header whose packet identifier is not 01, 02, 07 or 08
 *   length      a header whose length field no packet can have
 *   checksum    a complete packet whose checksum is wrong
 *   incomplete  a packet the caller gave up waiting for (abandonPartialFrame)
 */
export type R30xDiscardReason = 'noise' | 'pid' | 'length' | 'checksum' | 'incomplete';

export type R30xParsed = { type: 'frame'; packet: R30xPacket } | { type: 'discarded'; bytes: Buffer; reason: R30xDiscardReason };

const EMPTY = Buffer.alloc(0);
const START_HIGH = START_CODE[0]!;

/**
 * Splits a UART byte stream into packets, whatever the read boundaries.
 *
 * Anything wrong with a packet start drops only its first byte and resumes
 * at the next EF 01, never after the packet's claimed end: a corrupted
 * length field would otherwise swallow the good packets behind it. Because
 * no packet is longer than 267 bytes, a lying length resolves itself once
 * that many bytes have arrived; when the stream stops short of that, the
 * session calls abandonPartialFrame() on its reply timeout.
 */
export class R30xFrameParser {
  private buffer: Buffer = EMPTY;

  /** Bytes held while waiting for the rest of a packet. */
  get pendingBytes(): number {
    return this.buffer.length;
  }

  push(chunk: Uint8Array): R30xParsed[] {
    this.buffer = this.buffer.length === 0 ? Buffer.from(chunk) : Buffer.concat([this.buffer, chunk]);
    return this.drain();
  }

  /** Gives up on the packet at the head of the buffer and parses what follows it. */
  abandonPartialFrame(): R30xParsed[] {
    if (this.buffer.length === 0) return [];
    const out: R30xParsed[] = [];
    this.dropPacketStart(out, 'incomplete');
    out.push(...this.drain());
    return out;
  }

  private drain(): R30xParsed[] {
    const out: R30xParsed[] = [];
    for (;;) {
      const start = findStartCode(this.buffer, 0);
      this.discard(out, start, 'noise');
      if (this.buffer.length < HEADER_SIZE) return out;
      if (!isKnownPid(this.buffer[6]!)) {
        this.dropPacketStart(out, 'pid');
        continue;
      }
      const lengthField = this.buffer.readUInt16BE(7);
      if (lengthField < MIN_LENGTH_FIELD || lengthField > MAX_LENGTH_FIELD) {
        this.dropPacketStart(out, 'length');
        continue;
      }
      const end = HEADER_SIZE + lengthField;
      if (this.buffer.length < end) return out;
      try {
        out.push({ type: 'frame', packet: R30xPacket.from(this.buffer.subarray(0, end)) });
        this.buffer = this.buffer.subarray(end);
      } catch (error) {
        if (!(error instanceof R30xFrameError)) throw error;
        this.dropPacketStart(out, 'checksum');
      }
    }
  }

  /** Drops the packet start at offset 0 and everything before the next possible start. */
  private dropPacketStart(out: R30xParsed[], reason: R30xDiscardReason): void {
    this.discard(out, findStartCode(this.buffer, 1), reason);
  }

  private discard(out: R30xParsed[], count: number, reason: R30xDiscardReason): void {
    if (count <= 0) return;
    out.push({ type: 'discarded', bytes: Buffer.from(this.buffer.subarray(0, count)), reason });
    this.buffer = this.buffer.subarray(count);
  }
}

/**
 * Offset of the first EF 01 at or after `from`; a lone EF at the very end
 * counts, because its 01 may be in the next chunk. Without either, the
 * buffer length: everything is noise.
 */
function findStartCode(bytes: Buffer, from: number): number {
  for (let at = bytes.indexOf(START_HIGH, from); at !== -1; at = bytes.indexOf(START_HIGH, at + 1)) {
    if (at === bytes.length - 1 || bytes[at + 1] === START_CODE[1]) return at;
  }
  return bytes.length;
}
