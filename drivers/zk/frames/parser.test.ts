import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { zkGoldenFrames } from '../../../fixtures/frames/zk/index.js';
import { ZkPacket } from './packet.js';
import { ZkTcpFrameParser, type ZkParsed } from './parser.js';
import { arbitraryBytes, hex } from './testSupport.js';

const connect = new ZkPacket(1000, 0, 0).serializeTcp();
const ack = new ZkPacket(2000, 0x3c5c, 7, Buffer.from('payload')).serializeTcp();
const golden = zkGoldenFrames.map((frame) => hex(frame.hex));

function framesOf(items: ZkParsed[]): string[] {
  return items.flatMap((item) => (item.type === 'frame' ? [item.packet.serializeTcp().toString('hex')] : []));
}

function discardedOf(items: ZkParsed[]): { reason: string; length: number }[] {
  return items.flatMap((item) => (item.type === 'discarded' ? [{ reason: item.reason, length: item.bytes.length }] : []));
}

function feed(parser: ZkTcpFrameParser, chunks: Buffer[]): ZkParsed[] {
  return chunks.flatMap((chunk) => parser.push(chunk));
}

/** Abandons stalled packets until nothing is pending, as repeated reply timeouts would. */
function flush(parser: ZkTcpFrameParser): ZkParsed[] {
  const items: ZkParsed[] = [];
  while (parser.pendingBytes > 0) items.push(...parser.abandonPartialFrame());
  return items;
}

/** Cuts `bytes` at the given offsets, in any order and with repeats. */
function chunked(bytes: Buffer, cuts: number[]): Buffer[] {
  const points = [...new Set(cuts.map((cut) => cut % (bytes.length + 1)))].sort((a, b) => a - b);
  return [...points, bytes.length].map((end, index) => bytes.subarray(index === 0 ? 0 : points[index - 1]!, end));
}

describe('ZK TCP frame parser', () => {
  it('yields one packet from one chunk', () => {
    assert.deepEqual(framesOf(new ZkTcpFrameParser().push(connect)), [connect.toString('hex')]);
  });

  it('yields two packets that arrive in one chunk', () => {
    assert.deepEqual(framesOf(new ZkTcpFrameParser().push(Buffer.concat([connect, ack]))), [connect, ack].map((b) => b.toString('hex')));
  });

  it('waits for a packet split across two chunks and yields it once complete', () => {
    const parser = new ZkTcpFrameParser();
    assert.deepEqual(parser.push(ack.subarray(0, 11)), []);
    assert.equal(parser.pendingBytes, 11);
    assert.deepEqual(framesOf(parser.push(ack.subarray(11))), [ack.toString('hex')]);
    assert.equal(parser.pendingBytes, 0);
  });

  it('yields a packet whose checksum arrives in a chunk of its own', () => {
    const parser = new ZkTcpFrameParser();
    assert.deepEqual(feed(parser, [ack.subarray(0, 10), ack.subarray(10, 12)]), []);
    assert.deepEqual(framesOf(parser.push(ack.subarray(12))), [ack.toString('hex')]);
  });

  it('skips garbage before the magic, reports it as noise, and parses what follows', () => {
    const items = new ZkTcpFrameParser().push(Buffer.concat([hex('00ff5050827e1234'), connect]));
    assert.deepEqual(discardedOf(items), [{ reason: 'noise', length: 8 }]);
    assert.deepEqual(framesOf(items), [connect.toString('hex')]);
  });

  it('keeps parsing after a checksum mismatch with noise spread over several chunks', () => {
    const corrupt = Buffer.from(ack);
    corrupt[10] = corrupt[10]! ^ 0xff;
    const parser = new ZkTcpFrameParser();
    const items = feed(parser, [hex('0102'), corrupt.subarray(0, 5), corrupt.subarray(5), hex('5050'), hex('99'), connect]);
    assert.deepEqual(discardedOf(items), [
      { reason: 'noise', length: 2 },
      { reason: 'checksum', length: corrupt.length },
      { reason: 'noise', length: 3 },
    ]);
    assert.deepEqual(framesOf(items), [connect.toString('hex')]);
  });

  it('keeps a possible magic at the end of a chunk for the next one', () => {
    const parser = new ZkTcpFrameParser();
    assert.deepEqual(discardedOf(parser.push(hex('aabb5050'))), [{ reason: 'noise', length: 2 }]);
    assert.deepEqual(framesOf(parser.push(connect.subarray(2))), [connect.toString('hex')]);
  });

  it('skips a prefix whose length field is shorter than a header', () => {
    const items = new ZkTcpFrameParser().push(Buffer.concat([hex('5050827d03000000'), connect]));
    assert.deepEqual(discardedOf(items), [{ reason: 'length', length: 8 }]);
    assert.deepEqual(framesOf(items), [connect.toString('hex')]);
  });

  it('skips a prefix whose length field exceeds the largest packet', () => {
    const items = new ZkTcpFrameParser().push(Buffer.concat([hex('5050827d00000100'), connect]));
    assert.deepEqual(discardedOf(items), [{ reason: 'length', length: 8 }]);
    assert.deepEqual(framesOf(items), [connect.toString('hex')]);
  });

  it('recovers the packets swallowed by a length field that claims too much, once its bytes arrive', () => {
    const liar = Buffer.from(connect);
    liar.writeUInt32LE(8 + 2 * ack.length, 4);
    const parser = new ZkTcpFrameParser();
    assert.deepEqual(parser.push(Buffer.concat([liar, ack])), []);
    const items = parser.push(ack);
    assert.deepEqual(discardedOf(items), [{ reason: 'checksum', length: liar.length }]);
    assert.deepEqual(framesOf(items), [ack, ack].map((b) => b.toString('hex')));
  });

  it('gives up on a packet that never completes when asked, and parses what arrived behind it', () => {
    const liar = Buffer.from(connect);
    liar.writeUInt32LE(4000, 4);
    const parser = new ZkTcpFrameParser();
    assert.deepEqual(parser.push(Buffer.concat([liar, ack])), []);
    const items = parser.abandonPartialFrame();
    assert.deepEqual(discardedOf(items), [{ reason: 'incomplete', length: liar.length }]);
    assert.deepEqual(framesOf(items), [ack.toString('hex')]);
    assert.equal(parser.pendingBytes, 0);
  });

  it('parses a packet of the largest size a chunk reply uses', () => {
    const data = new ZkPacket(1501, 1, 2, Buffer.alloc(0xffc0, 0x5a)).serializeTcp();
    assert.deepEqual(framesOf(feed(new ZkTcpFrameParser(), chunked(data, [1000, 30_000, 65_000]))), [data.toString('hex')]);
  });

  it('yields the same packets for any chunking of a valid stream', () => {
    const stream = Buffer.concat(golden);
    const expected = golden.map((bytes) => bytes.toString('hex'));
    fc.assert(
      fc.property(fc.array(fc.nat(), { maxLength: 40 }), (cuts) => {
        const parser = new ZkTcpFrameParser();
        const items = feed(parser, chunked(stream, cuts));
        assert.deepEqual(framesOf(items), expected);
        assert.deepEqual(discardedOf(items), []);
        assert.equal(parser.pendingBytes, 0);
      }),
    );
  });

  it('resynchronises at the next valid packet after any garbage without a magic', () => {
    const noMagic = arbitraryBytes(200).filter((bytes) => !bytes.includes(hex('5050')) && bytes.at(-1) !== 0x50);
    fc.assert(
      fc.property(noMagic, fc.constantFrom(...golden), fc.array(fc.nat(), { maxLength: 8 }), (garbage, packet, cuts) => {
        const items = feed(new ZkTcpFrameParser(), chunked(Buffer.concat([garbage, packet]), cuts));
        assert.deepEqual(framesOf(items), [packet.toString('hex')]);
        assert.equal(discardedOf(items).reduce((sum, item) => sum + item.length, 0), garbage.length);
      }),
    );
  });

  it('accounts for every byte of arbitrary input as a packet or a discard, and never throws or hangs', () => {
    fc.assert(
      fc.property(fc.array(arbitraryBytes(120), { maxLength: 10 }), (chunks) => {
        const parser = new ZkTcpFrameParser();
        const items = [...feed(parser, chunks), ...flush(parser)];
        const accounted = items.reduce((sum, item) => sum + (item.type === 'frame' ? item.packet.serializeTcp().length : item.bytes.length), 0);
        assert.equal(accounted, chunks.reduce((sum, chunk) => sum + chunk.length, 0));
      }),
    );
  });

  it('finds every packet of a stream whose bytes were mutated, except those the mutation touched', () => {
    fc.assert(
      fc.property(fc.array(fc.record({ at: fc.nat(), value: fc.integer({ min: 0, max: 255 }) }), { maxLength: 4 }), (mutations) => {
        const stream = Buffer.concat(golden);
        const touched = new Set<number>();
        for (const { at, value } of mutations) {
          const position = at % stream.length;
          if (stream[position] === value) continue;
          stream[position] = value;
          let start = 0;
          golden.forEach((bytes, index) => {
            if (position >= start && position < start + bytes.length) touched.add(index);
            start += bytes.length;
          });
        }
        const parser = new ZkTcpFrameParser();
        const found = new Set(framesOf([...parser.push(stream), ...flush(parser)]));
        golden.forEach((bytes, index) => {
          if (!touched.has(index)) assert.ok(found.has(bytes.toString('hex')), `lost golden frame ${index}`);
        });
      }),
    );
  });
});
