import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { r30xGoldenFrames, r30xTransfers } from '../../../fixtures/frames/r30x/index.js';
import { R30xFrameError } from './errors.js';
import { Pid, R30xPacket } from './packet.js';
import { R30xFrameParser, type R30xParsed } from './parser.js';
import { arbitraryPacket, chunked, hex } from './testSupport.js';

const ack = new R30xPacket(Pid.ack, hex('000005')).serialize();
const genImg = new R30xPacket(Pid.command, hex('01')).serialize();
const golden = [...r30xGoldenFrames.map((frame) => hex(frame.hex)), ...r30xTransfers.flatMap((transfer) => transfer.packetsHex.map(hex))];

function framesOf(items: R30xParsed[]): string[] {
  return items.flatMap((item) => (item.type === 'frame' ? [item.packet.serialize().toString('hex')] : []));
}

function discardedOf(items: R30xParsed[]): { reason: string; length: number }[] {
  return items.flatMap((item) => (item.type === 'discarded' ? [{ reason: item.reason, length: item.bytes.length }] : []));
}

function feed(parser: R30xFrameParser, chunks: Uint8Array[]): R30xParsed[] {
  return chunks.flatMap((chunk) => parser.push(chunk));
}

/** Abandons stalled packets until nothing is pending, as repeated reply timeouts would. */
function flush(parser: R30xFrameParser): R30xParsed[] {
  const items: R30xParsed[] = [];
  while (parser.pendingBytes > 0) items.push(...parser.abandonPartialFrame());
  return items;
}

function byteCount(items: R30xParsed[]): number {
  return items.reduce((sum, item) => sum + (item.type === 'frame' ? item.packet.serialize().length : item.bytes.length), 0);
}

describe('R30x frame parser', () => {
  it('yields one packet from one chunk', () => {
    assert.deepEqual(framesOf(new R30xFrameParser().push(ack)), [ack.toString('hex')]);
  });

  it('yields two packets that arrive in one chunk', () => {
    assert.deepEqual(framesOf(new R30xFrameParser().push(Buffer.concat([genImg, ack]))), [genImg, ack].map((b) => b.toString('hex')));
  });

  it('waits for a packet split across two chunks and yields it once complete', () => {
    const parser = new R30xFrameParser();
    assert.deepEqual(parser.push(ack.subarray(0, 7)), []);
    assert.equal(parser.pendingBytes, 7);
    assert.deepEqual(framesOf(parser.push(ack.subarray(7))), [ack.toString('hex')]);
    assert.equal(parser.pendingBytes, 0);
  });

  it('yields a packet whose checksum arrives in a chunk of its own', () => {
    const parser = new R30xFrameParser();
    assert.deepEqual(parser.push(ack.subarray(0, ack.length - 2)), []);
    assert.deepEqual(framesOf(parser.push(ack.subarray(ack.length - 2))), [ack.toString('hex')]);
  });

  it('skips garbage before the start code, reports it as noise, and parses what follows', () => {
    const items = new R30xFrameParser().push(Buffer.concat([hex('55 00 ef 02 ff'), ack]));
    assert.deepEqual(discardedOf(items), [{ reason: 'noise', length: 5 }]);
    assert.deepEqual(framesOf(items), [ack.toString('hex')]);
  });

  it('discards the 0x55 an R503 sends after power-up as noise', () => {
    const items = new R30xFrameParser().push(Buffer.concat([hex('55'), ack]));
    assert.deepEqual(discardedOf(items), [{ reason: 'noise', length: 1 }]);
    assert.deepEqual(framesOf(items), [ack.toString('hex')]);
  });

  it('keeps parsing after a checksum mismatch with noise spread over several chunks', () => {
    const corrupt = Buffer.from(ack);
    corrupt[corrupt.length - 1]! ^= 0xff;
    const parser = new R30xFrameParser();
    const items = feed(parser, [hex('0102'), corrupt.subarray(0, 5), corrupt.subarray(5), hex('ef'), hex('99'), genImg]);
    assert.deepEqual(discardedOf(items), [
      { reason: 'noise', length: 2 },
      { reason: 'checksum', length: corrupt.length },
      { reason: 'noise', length: 2 },
    ]);
    assert.deepEqual(framesOf(items), [genImg.toString('hex')]);
  });

  it('keeps a possible start code at the end of a chunk for the next one', () => {
    const parser = new R30xFrameParser();
    assert.deepEqual(discardedOf(parser.push(hex('aabbef'))), [{ reason: 'noise', length: 2 }]);
    assert.deepEqual(framesOf(parser.push(ack.subarray(1))), [ack.toString('hex')]);
  });

  it('skips a header with an unknown packet identifier', () => {
    const items = new R30xFrameParser().push(Buffer.concat([hex('ef01ffffffff05000300'), ack]));
    assert.deepEqual(discardedOf(items), [{ reason: 'pid', length: 10 }]);
    assert.deepEqual(framesOf(items), [ack.toString('hex')]);
  });

  it('skips a header whose length field is too short for a payload byte and the checksum', () => {
    const items = new R30xFrameParser().push(Buffer.concat([hex('ef01ffffffff070002'), ack]));
    assert.deepEqual(discardedOf(items), [{ reason: 'length', length: 9 }]);
    assert.deepEqual(framesOf(items), [ack.toString('hex')]);
  });

  it('skips a header whose length field exceeds the largest packet', () => {
    const items = new R30xFrameParser().push(Buffer.concat([hex('ef01ffffffff020103'), ack]));
    assert.deepEqual(discardedOf(items), [{ reason: 'length', length: 9 }]);
    assert.deepEqual(framesOf(items), [ack.toString('hex')]);
  });

  it('recovers the packets swallowed by a length field that claims too much, once its bytes arrive', () => {
    const liar = Buffer.from(genImg);
    liar.writeUInt16BE(3 + 2 * ack.length, 7);
    const parser = new R30xFrameParser();
    assert.deepEqual(parser.push(Buffer.concat([liar, ack])), []);
    const items = parser.push(ack);
    assert.deepEqual(discardedOf(items), [{ reason: 'checksum', length: liar.length }]);
    assert.deepEqual(framesOf(items), [ack, ack].map((b) => b.toString('hex')));
  });

  it('gives up on a packet that never completes when asked, and parses what arrived behind it', () => {
    const liar = Buffer.from(genImg);
    liar.writeUInt16BE(200, 7);
    const parser = new R30xFrameParser();
    assert.deepEqual(parser.push(Buffer.concat([liar, ack])), []);
    const items = parser.abandonPartialFrame();
    assert.deepEqual(discardedOf(items), [{ reason: 'incomplete', length: liar.length }]);
    assert.deepEqual(framesOf(items), [ack.toString('hex')]);
    assert.equal(parser.pendingBytes, 0);
  });

  it('parses a data packet of the largest size, 256 payload bytes', () => {
    const data = new R30xPacket(Pid.data, Buffer.alloc(256, 0xef)).serialize();
    assert.deepEqual(framesOf(new R30xFrameParser().push(data)), [data.toString('hex')]);
  });

  it('parses a payload full of start codes without resyncing inside it', () => {
    const data = new R30xPacket(Pid.data, Buffer.alloc(128, 0xef).fill(0x01, 64)).serialize();
    const items = feed(new R30xFrameParser(), chunked(data, [10, 11, 73, 74]));
    assert.deepEqual(framesOf(items), [data.toString('hex')]);
    assert.deepEqual(discardedOf(items), []);
  });

  it('yields every golden frame from one stream, in order', () => {
    const items = new R30xFrameParser().push(Buffer.concat(golden));
    assert.deepEqual(framesOf(items), golden.map((b) => b.toString('hex')));
    assert.deepEqual(discardedOf(items), []);
  });

  it('yields the same packets however a valid stream is chunked', () => {
    fc.assert(
      fc.property(fc.array(arbitraryPacket, { minLength: 1, maxLength: 6 }), fc.array(fc.nat(), { maxLength: 40 }), (packets, cuts) => {
        const stream = Buffer.concat(packets.map((packet) => packet.serialize()));
        const items = feed(new R30xFrameParser(), chunked(stream, cuts));
        assert.deepEqual(
          framesOf(items),
          packets.map((packet) => packet.serialize().toString('hex')),
        );
        assert.deepEqual(discardedOf(items), []);
      }),
    );
  });

  it('resyncs at the next valid packet after garbage that holds no start code', () => {
    const garbage = fc.uint8Array({ minLength: 1, maxLength: 80 }).map((bytes) => Buffer.from(bytes.map((byte) => (byte === 0xef ? 0xee : byte))));
    fc.assert(
      fc.property(garbage, arbitraryPacket, fc.array(fc.nat(), { maxLength: 10 }), (noise, packet, cuts) => {
        const items = feed(new R30xFrameParser(), chunked(Buffer.concat([noise, packet.serialize()]), cuts));
        assert.deepEqual(framesOf(items), [packet.serialize().toString('hex')]);
        assert.equal(byteCount(items), noise.length + packet.serialize().length);
      }),
    );
  });

  it('recovers a valid packet behind any broken packet start once the stalled bytes are abandoned', () => {
    const brokenStart = fc.uint8Array({ minLength: 0, maxLength: 12 }).map((bytes) => Buffer.concat([hex('ef01'), bytes]));
    fc.assert(
      fc.property(brokenStart, arbitraryPacket, (broken, packet) => {
        const parser = new R30xFrameParser();
        const items = [...parser.push(Buffer.concat([broken, packet.serialize()])), ...flush(parser)];
        assert.ok(framesOf(items).includes(packet.serialize().toString('hex')));
      }),
    );
  });

  it('never throws on random or mutated bytes, and accounts for every byte it was given', () => {
    const mutatedStream = fc
      .tuple(fc.array(arbitraryPacket, { minLength: 1, maxLength: 4 }), fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 12 }))
      .map(([packets, flips]) => {
        const bytes = Buffer.concat(packets.map((packet) => packet.serialize()));
        for (const [at, value] of flips) bytes[at % bytes.length] = value;
        return bytes;
      });
    fc.assert(
      fc.property(fc.oneof(fc.uint8Array({ maxLength: 600 }).map((bytes) => Buffer.from(bytes)), mutatedStream), fc.array(fc.nat(), { maxLength: 20 }), (bytes, cuts) => {
        const parser = new R30xFrameParser();
        let items: R30xParsed[];
        try {
          items = [...feed(parser, chunked(bytes, cuts)), ...flush(parser)];
        } catch (error) {
          assert.ok(error instanceof R30xFrameError, `only frame errors may escape, got ${String(error)}`);
          throw error;
        }
        assert.equal(byteCount(items), bytes.length);
        assert.equal(parser.pendingBytes, 0);
      }),
    );
  });
});
