import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { PacketGuard } from './packetGuard.js';

/** The MQTT Remaining Length encoding (MQTT 3.1.1 §2.2.3), written here independently of the guard. */
function remainingLength(length: number): number[] {
  const bytes: number[] = [];
  do {
    let byte = length % 128;
    length = Math.floor(length / 128);
    if (length > 0) byte |= 0x80;
    bytes.push(byte);
  } while (length > 0);
  return bytes;
}

function packet(type: number, bodyLength: number): Buffer {
  return Buffer.from([type, ...remainingLength(bodyLength), ...new Array<number>(bodyLength).fill(0xaa)]);
}

function chunked(stream: Buffer, cuts: number[]): Buffer[] {
  const points = [...new Set(cuts.map((cut) => cut % (stream.length + 1)))].sort((a, b) => a - b);
  const chunks: Buffer[] = [];
  let start = 0;
  for (const point of [...points, stream.length]) {
    if (point > start) chunks.push(stream.subarray(start, point));
    start = Math.max(start, point);
  }
  return chunks;
}

test('any chunking of packets within the limit passes the guard', () => {
  fc.assert(
    fc.property(fc.array(fc.integer({ min: 0, max: 3000 }), { minLength: 1, maxLength: 8 }), fc.array(fc.nat(), { maxLength: 10 }), (sizes, cuts) => {
      const guard = new PacketGuard(3000);
      const stream = Buffer.concat(sizes.map((size) => packet(0x30, size)));
      return chunked(stream, cuts).every((chunk) => guard.inspect(chunk) === null);
    }),
  );
});

test('a packet over the limit is caught at its header, however the bytes are chunked and whatever came before', () => {
  fc.assert(
    fc.property(
      fc.array(fc.integer({ min: 0, max: 500 }), { maxLength: 4 }),
      fc.integer({ min: 1001, max: 268_435_455 }),
      fc.array(fc.nat(), { maxLength: 6 }),
      (before, announced, cuts) => {
        const guard = new PacketGuard(1000);
        const header = Buffer.from([0x30, ...remainingLength(announced)]);
        const stream = Buffer.concat([...before.map((size) => packet(0x30, size)), header]);
        const results = chunked(stream, cuts).map((chunk) => guard.inspect(chunk));
        const last = results.at(-1);
        return results.slice(0, -1).every((result) => result === null) && last?.violation === 'oversize' && last.announced === announced;
      },
    ),
  );
});

test('a Remaining Length with a fifth continuation byte is malformed', () => {
  const guard = new PacketGuard(1 << 28);
  assert.deepEqual(guard.inspect(Buffer.from([0x30, 0xff, 0xff, 0xff, 0xff])), { violation: 'malformed_length' });
});

test('the 26-byte CONNECT that once crashed aedes (aedes #612) is only a small packet to the guard', () => {
  const guard = new PacketGuard(1024);
  assert.equal(guard.inspect(Buffer.from('101000044d5154540502003c0321001400006202d301e0020020', 'hex')), null);
});
