import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { zkVectors } from '../../../fixtures/frames/zk/index.js';
import { ZkFrameError } from './errors.js';
import { decodeZkTime, decodeZkTime6, encodeZkTime, encodeZkTime6, formatWallClock, zkDateTimeFromDate, zkDateTimeToDate } from './time.js';
import { arbitraryDateTime, decodesOrRejects, hex, sameWallClock } from './testSupport.js';

describe('ZK time encodings', () => {
  for (const vector of zkVectors.packedTime) {
    it(`decodes and encodes the packed time ${vector.hex} of the reference`, () => {
      assert.equal(hex(vector.hex).readUInt32LE(0), vector.value);
      sameWallClock(decodeZkTime(vector.value), vector.time);
      assert.equal(encodeZkTime(vector.time), vector.value);
    });
  }

  for (const vector of zkVectors.sixByteTime) {
    it(`decodes and encodes the six-byte time ${vector.hex} of the captured event`, () => {
      sameWallClock(decodeZkTime6(hex(vector.hex)), vector.time);
      assert.equal(encodeZkTime6(vector.time).toString('hex'), vector.hex);
    });
  }

  it('round-trips every wall-clock time of 2000–2099 through the packed form', () => {
    fc.assert(fc.property(arbitraryDateTime(), (time) => assert.deepEqual(decodeZkTime(encodeZkTime(time)), time)));
  });

  it('round-trips every packed value below the year 2100', () => {
    fc.assert(fc.property(fc.integer({ min: 0, max: 100 * 372 * 86_400 - 1 }), (value) => assert.equal(encodeZkTime(decodeZkTime(value)), value)));
  });

  it('round-trips every wall-clock time of 2000–2255 through the six-byte form', () => {
    fc.assert(fc.property(arbitraryDateTime(2000, 2255), (time) => assert.deepEqual(decodeZkTime6(encodeZkTime6(time)), time)));
  });

  it('decodes any u32 without throwing, since the device may hold any value', () => {
    fc.assert(fc.property(fc.integer({ min: 0, max: 0xffffffff }), (value) => void decodeZkTime(value)));
  });

  it('refuses to encode times the packed form cannot hold', () => {
    assert.throws(() => encodeZkTime({ year: 1999, month: 12, day: 31, hour: 0, minute: 0, second: 0 }), ZkFrameError);
    assert.throws(() => encodeZkTime({ year: 2024, month: 13, day: 1, hour: 0, minute: 0, second: 0 }), ZkFrameError);
    assert.throws(() => encodeZkTime({ year: 2024, month: 1, day: 1, hour: 24, minute: 0, second: 0 }), ZkFrameError);
  });

  it('answers arbitrary six-byte times with a time or a ZkFrameError', () => {
    decodesOrRejects((bytes) => decodeZkTime6(bytes), 8);
  });

  it('reads and writes wall-clock fields in the host zone and formats them zone-free', () => {
    const date = new Date(2024, 0, 2, 3, 4, 5);
    const time = zkDateTimeFromDate(date);
    assert.deepEqual(time, { year: 2024, month: 1, day: 2, hour: 3, minute: 4, second: 5 });
    assert.equal(zkDateTimeToDate(time).getTime(), date.getTime());
    assert.equal(formatWallClock(time), '2024-01-02T03:04:05');
  });
});
