import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { hostAnswerVectors, scannerLineVectors } from '../../fixtures/frames/qr/vectors.js';
import { ACK, NAK, createLineDecoder, encodeScanLine, type DecodedItem, type LineDecoderOptions, type LineTerminator } from './codec.js';

const bytes = (text: string) => new TextEncoder().encode(text);

/** Decodes `chunks` in order and ends the stream; drops the log-only sample. */
function decode(chunks: Uint8Array[], options?: LineDecoderOptions): DecodedItem[] {
  const decoder = createLineDecoder(options);
  return [...chunks.flatMap((chunk) => decoder.push(chunk)), ...decoder.end()].map(withoutSample);
}

function withoutSample(item: DecodedItem): DecodedItem {
  if (item.type === 'scan') return item;
  const { sampleHex: _sample, ...rest } = item;
  return rest as DecodedItem;
}

const payloads = (items: DecodedItem[]) => items.flatMap((item) => (item.type === 'scan' ? [item.payload] : []));
const discardedLength = (items: DecodedItem[]) => items.reduce((sum, item) => sum + (item.type === 'discarded' ? item.length : 0), 0);

/** Cuts `stream` at the given offsets, in any order, duplicates allowed. */
function cut(stream: Uint8Array, offsets: number[]): Uint8Array[] {
  const points = [...new Set(offsets.map((offset) => offset % (stream.length + 1)))].sort((a, b) => a - b);
  const chunks: Uint8Array[] = [];
  let start = 0;
  for (const point of [...points, stream.length]) {
    chunks.push(stream.subarray(start, point));
    start = point;
  }
  return chunks;
}

function concat(parts: Uint8Array[]): Uint8Array {
  return Uint8Array.from(parts.flatMap((part) => [...part]));
}

const terminator = fc.constantFrom<LineTerminator>('\r', '\r\n', '\n');
/** Text a reader can send: anything but control characters. */
const scanPayload = fc
  .string({ unit: 'binary', minLength: 1, maxLength: 120 })
  .filter((text) => [...text].every((character) => character >= ' ' && character !== '\x7f'));
/** Bytes that can never belong to a scan: C0 controls but CR and LF, DEL, and bytes no UTF-8 sequence uses. */
const noiseByte = fc.oneof(
  fc.integer({ min: 0x00, max: 0x1f }).filter((byte) => byte !== 0x0d && byte !== 0x0a),
  fc.constantFrom(0x7f, 0xc0, 0xc1, 0xf5, 0xf8, 0xfe, 0xff),
);

describe('golden vectors (fixtures/frames/qr)', () => {
  for (const vector of scannerLineVectors()) {
    test(`${vector.name}`, () => {
      assert.deepEqual(decode([Buffer.from(vector.hex, 'hex')], vector.decoder), vector.expect);
    });
  }

  test('the ACK and NAK bytes match the host answers in the fixtures', () => {
    const answers = Object.fromEntries(hostAnswerVectors().map((vector) => [vector.meaning, Buffer.from(vector.hex, 'hex')]));
    assert.deepEqual(answers.ack, Buffer.of(ACK));
    assert.deepEqual(answers.nak, Buffer.of(NAK));
  });
});

describe('line decoder: parser checklist (house-style 2.5)', () => {
  test('one scan in one chunk is decoded', () => {
    assert.deepEqual(decode([bytes('2025CS001\r')]), [{ type: 'scan', payload: '2025CS001' }]);
  });

  test('two scans in one chunk are decoded in order', () => {
    assert.deepEqual(payloads(decode([bytes('2025CS001\r2025CS002\r')])), ['2025CS001', '2025CS002']);
  });

  test('a scan split across two chunks is decoded once it is complete', () => {
    const decoder = createLineDecoder();
    assert.deepEqual(decoder.push(bytes('2025C')), []);
    assert.deepEqual(decoder.push(bytes('S001\r')).map(withoutSample), [{ type: 'scan', payload: '2025CS001' }]);
  });

  test('a terminator in a chunk of its own completes the scan', () => {
    const decoder = createLineDecoder();
    assert.deepEqual(decoder.push(bytes('2025CS001')), []);
    assert.deepEqual(decoder.push(bytes('\r')).map(withoutSample), [{ type: 'scan', payload: '2025CS001' }]);
  });

  test('the LF of a CR LF in a chunk of its own is not taken for an empty line or a scan', () => {
    assert.deepEqual(decode([bytes('A\r'), bytes('\n'), bytes('B\r'), bytes('\n')]), [
      { type: 'scan', payload: 'A' },
      { type: 'scan', payload: 'B' },
    ]);
  });

  test('garbage before a scan is discarded and the scan still decodes', () => {
    assert.deepEqual(decode([Uint8Array.of(0x00, 0xfe, 0x1b, 0x02), bytes('2025CS001\r')]), [
      { type: 'discarded', reason: 'noise', length: 4 },
      { type: 'scan', payload: '2025CS001' },
    ]);
  });

  test('decoding continues after an over-long line with noise spread over several chunks', () => {
    const items = decode([bytes('AAAAA'), Uint8Array.of(0xff), bytes('AAAA'), bytes('AA\rOK'), Uint8Array.of(0x00), bytes('\r')], { maxLineBytes: 8 });
    assert.deepEqual(payloads(items), ['OK']);
    assert.equal(discardedLength(items), 12 + 1);
    assert.deepEqual(
      items.filter((item) => item.type === 'discarded').map((item) => (item.type === 'discarded' ? item.reason : '')),
      ['too-long', 'too-long', 'noise'],
    );
  });

  test('an unterminated over-long stream is reported chunk by chunk, never held in memory', () => {
    const decoder = createLineDecoder({ maxLineBytes: 4 });
    const first = decoder.push(bytes('0123456789'));
    const second = decoder.push(bytes('abc'));
    assert.deepEqual(first.map(withoutSample), [{ type: 'discarded', reason: 'too-long', length: 10 }]);
    assert.deepEqual(second.map(withoutSample), [{ type: 'discarded', reason: 'too-long', length: 3 }]);
    assert.deepEqual(decoder.push(bytes('\rOK\r')).map(withoutSample), [{ type: 'scan', payload: 'OK' }]);
  });

  test('a partial line at the end of the stream is discarded as incomplete, and the decoder starts afresh', () => {
    const decoder = createLineDecoder();
    decoder.push(bytes('2025CS0'));
    assert.deepEqual(decoder.end().map(withoutSample), [{ type: 'discarded', reason: 'incomplete', length: 7 }]);
    assert.deepEqual(decoder.push(bytes('2025CS001\r')).map(withoutSample), [{ type: 'scan', payload: '2025CS001' }]);
  });

  test('a discarded item carries a hex sample of at most 32 bytes for the trace log', () => {
    const [item] = createLineDecoder({ maxLineBytes: 40 }).push(new Uint8Array(100).fill(0x41));
    assert.equal(item?.type === 'discarded' && item.sampleHex, '41'.repeat(32));
  });

  test('a maximum line length outside 1–65536 is refused', () => {
    assert.throws(() => createLineDecoder({ maxLineBytes: 0 }), RangeError);
    assert.throws(() => createLineDecoder({ maxLineBytes: 65_537 }), RangeError);
  });

  test('encoding refuses a payload a line cannot carry', () => {
    assert.throws(() => encodeScanLine(''), RangeError);
    assert.throws(() => encodeScanLine('A\rB'), RangeError);
  });
});

describe('line decoder: properties', () => {
  test('random bytes in random chunks never throw, and every byte is a terminator, part of a scan or counted as discarded', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 600 }), fc.array(fc.nat(), { maxLength: 20 }), fc.integer({ min: 1, max: 64 }), (stream, offsets, maxLineBytes) => {
        const items = decode(cut(stream, offsets), { maxLineBytes });
        const terminators = stream.filter((byte) => byte === 0x0d || byte === 0x0a).length;
        const scanned = payloads(items).reduce((sum, payload) => sum + bytes(payload).length, 0);
        assert.equal(terminators + scanned + discardedLength(items), stream.length);
      }),
      { numRuns: 500 },
    );
  });

  test('any chunking of a valid stream yields the same scans', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(scanPayload, terminator), { minLength: 1, maxLength: 12 }), fc.array(fc.nat(), { maxLength: 30 }), (scans, offsets) => {
        const stream = concat(scans.map(([payload, end]) => encodeScanLine(payload, { terminator: end })));
        assert.deepEqual(payloads(decode(cut(stream, offsets))), scans.map(([payload]) => payload));
      }),
      { numRuns: 300 },
    );
  });

  test('encoding scans and decoding them with the same format gives the scans back', () => {
    const format = fc.record({
      prefix: fc.option(fc.constantFrom('#', 'SCAN:', 'Ω'), { nil: undefined }),
      aimIdentifier: fc.option(fc.constantFrom(']Q1', ']C0', ']d2', ']E4'), { nil: undefined }),
      terminator,
    });
    fc.assert(
      fc.property(fc.array(scanPayload, { minLength: 1, maxLength: 10 }), format, (scans, { prefix, aimIdentifier, terminator: end }) => {
        const stream = concat(scans.map((payload) => encodeScanLine(payload, { prefix, aimIdentifier, terminator: end })));
        const expected = scans.map((payload) => (aimIdentifier ? { type: 'scan', payload, symbology: aimIdentifier } : { type: 'scan', payload }));
        assert.deepEqual(decode([stream], { prefix, aim: aimIdentifier !== undefined }), expected);
      }),
      { numRuns: 300 },
    );
  });

  test('the decoder resynchronises after garbage before, between and after scans', () => {
    const garbage = fc.array(noiseByte, { maxLength: 24 }).map((list) => Uint8Array.from(list));
    fc.assert(
      fc.property(
        fc.array(fc.tuple(garbage, scanPayload, terminator), { minLength: 1, maxLength: 8 }),
        garbage,
        fc.array(fc.nat(), { maxLength: 20 }),
        (scans, trailing, offsets) => {
          const stream = concat([...scans.flatMap(([noise, payload, end]) => [noise, encodeScanLine(payload, { terminator: end })]), trailing]);
          const items = decode(cut(stream, offsets));
          assert.deepEqual(payloads(items), scans.map(([, payload]) => payload));
          const noiseLength = scans.reduce((sum, [noise]) => sum + noise.length, trailing.length);
          assert.equal(discardedLength(items), noiseLength);
        },
      ),
      { numRuns: 300 },
    );
  });
});
