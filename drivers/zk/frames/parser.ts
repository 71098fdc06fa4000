import { ZkFrameError } from './errors.js';
import { MAX_PACKET_LENGTH, TCP_MAGIC, TCP_PREFIX_SIZE, ZK_HEADER_SIZE, ZkPacket } from './packet.js';

/**
 * What the TCP parser yields. Bytes it cannot use come out as `discarded`,
 * never as an exception:
 *   noise       bytes before the next 50 50 82 7D
 *   length      a prefix whose length field no packet can have
 *   checksum    a complete packet whose checksum is wrong
 *   incomplete  a packet the caller gave up waiting for (abandonPartialFrame)
 */
export type ZkDiscardReason = 'noise' | 'length' | 'checksum' | 'incomplete';

export type ZkParsed = { type: 'frame'; packet: ZkPacket } | { type: 'discarded'; bytes: Buffer; reason: ZkDiscardReason };

const EMPTY = Buffer.alloc(0);

/**
 * Splits a TCP byte stream into ZK packets by the prefix length, whatever the
 * read boundaries (§2.13 rule 1).
 *
 * After a bad checksum it resumes at the next magic after the bad packet's
 * start, not after its claimed end: a length field that lies (too long) would
 * otherwise swallow the good packets behind it. A lie that outruns the stream
 * leaves the parser waiting; the session calls abandonPartialFrame() when its
 * reply times out.
 */
export class ZkTcpFrameParser {
  private buffer: Buffer = EMPTY;

  /** Bytes held while waiting for the rest of a packet. */
  get pendingBytes(): number {
    return this.buffer.length;
  }

  push(chunk: Uint8Array): ZkParsed[] {
    this.buffer = this.buffer.length === 0 ? Buffer.from(chunk) : Buffer.concat([this.buffer, chunk]);
    return this.drain();
  }

  /** Gives up on the packet at the head of the buffer and parses what follows it. */
  abandonPartialFrame(): ZkParsed[] {
    if (this.buffer.length === 0) return [];
    const out: ZkParsed[] = [];
    this.skipToNextMagic(out, 'incomplete');
    out.push(...this.drain());
    return out;
  }

  private drain(): ZkParsed[] {
    const out: ZkParsed[] = [];
    for (;;) {
      const start = this.buffer.indexOf(TCP_MAGIC);
      if (start === -1) {
        this.discard(out, this.buffer.length - partialMagicSuffix(this.buffer), 'noise');
        return out;
      }
      this.discard(out, start, 'noise');
      if (this.buffer.length < TCP_PREFIX_SIZE) return out;
      const length = this.buffer.readUInt32LE(4);
      if (length < ZK_HEADER_SIZE || length > MAX_PACKET_LENGTH) {
        this.skipToNextMagic(out, 'length');
        continue;
      }
      const end = TCP_PREFIX_SIZE + length;
      if (this.buffer.length < end) return out;
      try {
        out.push({ type: 'frame', packet: ZkPacket.from(this.buffer.subarray(TCP_PREFIX_SIZE, end)) });
        this.buffer = this.buffer.subarray(end);
      } catch (error) {
        if (!(error instanceof ZkFrameError)) throw error;
        this.skipToNextMagic(out, 'checksum');
      }
    }
  }

  /** Drops the packet start at offset 0 and everything up to the next magic (or a trailing partial one). */
  private skipToNextMagic(out: ZkParsed[], reason: ZkDiscardReason): void {
    const next = this.buffer.indexOf(TCP_MAGIC, 1);
    this.discard(out, next === -1 ? Math.max(1, this.buffer.length - partialMagicSuffix(this.buffer.subarray(1))) : next, reason);
  }

  private discard(out: ZkParsed[], count: number, reason: ZkDiscardReason): void {
    if (count <= 0) return;
    out.push({ type: 'discarded', bytes: Buffer.from(this.buffer.subarray(0, count)), reason });
    this.buffer = this.buffer.subarray(count);
  }
}

/** Length of the longest tail of `bytes` that could be the start of a magic. */
function partialMagicSuffix(bytes: Buffer): number {
  for (let length = Math.min(TCP_MAGIC.length - 1, bytes.length); length > 0; length--) {
    if (bytes.subarray(bytes.length - length).equals(TCP_MAGIC.subarray(0, length))) return length;
  }
  return 0;
}
