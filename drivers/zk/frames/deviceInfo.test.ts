import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { zkGoldenFrames } from '../../../fixtures/frames/zk/index.js';
import { decodeOptionReply, decodeVersion, encodeOptionRequest, FREE_SIZES_LENGTH, FreeSizes, type FreeSizeCounts } from './deviceInfo.js';
import { ZkFrameError } from './errors.js';
import { decodesOrRejects, hex, plain } from './testSupport.js';

const golden = (predicate: (meaning: NonNullable<(typeof zkGoldenFrames)[number]['decoded']>) => unknown) =>
  zkGoldenFrames.find((frame) => frame.decoded && predicate(frame.decoded))!;

describe('ZK device information payloads', () => {
  it('decodes the free sizes of the golden frames, 92 bytes with every other word zero', () => {
    const frame = golden((meaning) => meaning.freeSizes);
    const payload = hex(frame.payloadHex);
    assert.equal(payload.length, FREE_SIZES_LENGTH);
    assert.deepEqual({ ...FreeSizes.from(payload).counts }, frame.decoded!.freeSizes);
    assert.equal(new FreeSizes(FreeSizes.from(payload).counts).serialize().toString('hex'), frame.payloadHex);
  });

  it('accepts an 80-byte free-sizes reply without the face words', () => {
    const payload = hex(golden((meaning) => meaning.freeSizes).payloadHex).subarray(0, 80);
    const counts = FreeSizes.from(payload).counts;
    assert.equal(counts.records, 3);
    assert.equal(counts.faces, 0);
  });

  it('round-trips any free-sizes counts', () => {
    const word = fc.integer({ min: -0x80000000, max: 0x7fffffff });
    const names = Object.keys(FreeSizes.from(Buffer.alloc(FREE_SIZES_LENGTH)).counts) as (keyof FreeSizeCounts)[];
    const counts = fc.record(Object.fromEntries(names.map((name) => [name, word])) as Record<keyof FreeSizeCounts, fc.Arbitrary<number>>).map(plain);
    fc.assert(fc.property(counts, (values) => assert.deepEqual({ ...FreeSizes.from(new FreeSizes(values).serialize()).counts }, values)));
  });

  it('encodes an option request with the trailing NUL pyzk sends and decodes the reply', () => {
    const request = golden((meaning) => meaning.optionName);
    assert.equal(encodeOptionRequest(request.decoded!.optionName!).toString('hex'), request.payloadHex);
    const reply = golden((meaning) => meaning.option);
    assert.deepEqual(decodeOptionReply(hex(reply.payloadHex)), reply.decoded!.option);
  });

  it('keeps everything after the first = as the value', () => {
    assert.deepEqual(decodeOptionReply(Buffer.from('~ProductTime=2015-04-28 10:00:00=x\0')), { name: '~ProductTime', value: '2015-04-28 10:00:00=x' });
  });

  it('rejects an option name that would break the request and a reply without =', () => {
    assert.throws(() => encodeOptionRequest('A=B'), ZkFrameError);
    assert.throws(() => encodeOptionRequest(''), ZkFrameError);
    assert.throws(() => decodeOptionReply(Buffer.from('garbage\0')), ZkFrameError);
  });

  it('cuts the firmware version at the NUL', () => {
    const frame = golden((meaning) => meaning.version);
    assert.equal(decodeVersion(hex(frame.payloadHex)), frame.decoded!.version);
  });

  it('answers arbitrary bytes with a reply or a ZkFrameError', () => {
    decodesOrRejects((bytes) => FreeSizes.from(bytes), 120);
    decodesOrRejects((bytes) => decodeOptionReply(bytes));
    decodesOrRejects((bytes) => decodeVersion(bytes));
  });
});
