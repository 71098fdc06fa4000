import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { zkGoldenFrames, zkRecordFixtures } from '../../../fixtures/frames/zk/index.js';
import { decodeAttendance, decodeAttendances, encodeAttendance, type AttendanceRecordSize, type ZkAttendance } from './attendance.js';
import { datasetRecords } from './buffered.js';
import { arbitraryDateTime, arbitraryNumericId, arbitraryText, decodesOrRejects, hex, plain } from './testSupport.js';

const byte = fc.integer({ min: 0, max: 255 });
const uid = fc.integer({ min: 0, max: 0xffff });
const arbitraryRecord: Record<AttendanceRecordSize, fc.Arbitrary<ZkAttendance>> = {
  40: fc.record({ uid, userId: arbitraryText(24), verifyMode: byte, state: byte, time: arbitraryDateTime() }).map(plain),
  16: fc.record({ uid: fc.constant(0), userId: arbitraryNumericId(), verifyMode: byte, state: byte, time: arbitraryDateTime() }).map(plain),
  8: fc.record({ uid, userId: fc.constant(''), verifyMode: byte, state: byte, time: arbitraryDateTime() }).map(plain),
};
const fixtures = { 40: zkRecordFixtures.attendance40, 16: zkRecordFixtures.attendance16, 8: zkRecordFixtures.attendance8 } as const;

describe('ZK attendance records', () => {
  for (const size of [40, 16, 8] as const) {
    for (const { record, hex: bytes } of fixtures[size]) {
      it(`encodes and decodes a ${size}-byte record of user ${record.userId || `uid ${record.uid}`}`, () => {
        assert.equal(encodeAttendance(record, size).toString('hex'), bytes);
        assert.deepEqual(decodeAttendance(hex(bytes), size), record);
      });
    }

    it(`round-trips any ${size}-byte record, alone and as a dataset`, () => {
      fc.assert(fc.property(arbitraryRecord[size], (record) => assert.deepEqual(decodeAttendance(encodeAttendance(record, size), size), record)));
      fc.assert(
        fc.property(fc.array(arbitraryRecord[size], { minLength: 1, maxLength: 30 }), (records) => {
          const bytes = Buffer.concat(records.map((record) => encodeAttendance(record, size)));
          assert.deepEqual(decodeAttendances(bytes, records.length), records);
        }),
      );
    });
  }

  it('decodes the attendance chunk of the golden frames', () => {
    const frame = zkGoldenFrames.find((candidate) => candidate.decoded?.attendance)!;
    assert.deepEqual(decodeAttendances(datasetRecords(hex(frame.payloadHex)), frame.decoded!.attendance!.length), frame.decoded!.attendance);
  });

  it('reads records of an unknown size above 40 bytes with the 40-byte fields, as pyzk does', () => {
    const [first, second] = zkRecordFixtures.attendance40.map(({ hex: bytes }) => Buffer.concat([hex(bytes), Buffer.alloc(4, 0xee)]));
    const records = decodeAttendances(Buffer.concat([first!, second!]), 2);
    assert.deepEqual(records, zkRecordFixtures.attendance40.map(({ record }) => record));
  });

  it('answers arbitrary bytes with records or a ZkFrameError', () => {
    decodesOrRejects((bytes) => decodeAttendance(bytes, 40));
    decodesOrRejects((bytes) => decodeAttendance(bytes, 16));
    decodesOrRejects((bytes) => decodeAttendance(bytes, 8));
    decodesOrRejects((bytes) => decodeAttendances(bytes, bytes.length % 5), 400);
  });
});
