import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { zkGoldenFrames, zkPacketVectors, zkRecordFixtures } from '../../../fixtures/frames/zk/index.js';
import { ZkCommand, ZkEventFlag } from './codes.js';
import { ZkFrameError } from './errors.js';
import { ZkPacket } from './packet.js';
import { decodeRealtimeAttendance, encodeRealtimeAttendance, type ZkRealtimeAttendance } from './realtime.js';
import { arbitraryDateTime, arbitraryText, decodesOrRejects, hex, plain } from './testSupport.js';

const byte = fc.integer({ min: 0, max: 255 });

describe('ZK realtime attendance events', () => {
  it('decodes the captured TCP event: user 999111333, fingerprint, check-in, 2018-06-25 17:41:05', () => {
    const vector = zkPacketVectors.find((candidate) => candidate.command === ZkCommand.REG_EVENT)!;
    const packet = ZkPacket.fromTcp(hex(vector.hex));
    assert.equal(packet.sessionId, ZkEventFlag.ATTLOG);
    assert.equal(packet.replyId, 0);
    assert.deepEqual(decodeRealtimeAttendance(packet.payload), {
      userId: '999111333',
      uid: null,
      verifyMode: 1,
      state: 0,
      time: { year: 2018, month: 6, day: 25, hour: 17, minute: 41, second: 5 },
    });
  });

  it('decodes the event of the golden frames and re-encodes it', () => {
    const frame = zkGoldenFrames.find((candidate) => candidate.decoded?.realtime)!;
    assert.deepEqual(decodeRealtimeAttendance(hex(frame.payloadHex)), frame.decoded!.realtime);
    assert.equal(encodeRealtimeAttendance(frame.decoded!.realtime!, 32).toString('hex'), frame.payloadHex);
  });

  it('decodes the 10-byte layout of old UDP firmware, which carries the uid', () => {
    const [{ event, hex: bytes }] = zkRecordFixtures.realtime10 as [(typeof zkRecordFixtures.realtime10)[number]];
    assert.deepEqual(decodeRealtimeAttendance(hex(bytes)), event);
    assert.equal(encodeRealtimeAttendance(event, 10).toString('hex'), bytes);
  });

  it('reads the longer TFT layouts by their first 32 bytes', () => {
    const base = encodeRealtimeAttendance({ userId: '42', uid: null, verifyMode: 15, state: 1, time: { year: 2025, month: 3, day: 4, hour: 9, minute: 0, second: 0 } }, 32);
    for (const extra of [4, 5, 20, 40]) assert.equal(decodeRealtimeAttendance(Buffer.concat([base, Buffer.alloc(extra)])).userId, '42');
  });

  it('reads the 12-byte layout as a numeric user id', () => {
    const payload = hex('2a0000000100' + '190304090000');
    assert.equal(decodeRealtimeAttendance(payload).userId, '42');
  });

  it('refuses payload lengths that match no layout, which make pyzk spin', () => {
    for (const length of [0, 9, 15, 31, 38, 51]) {
      assert.throws(() => decodeRealtimeAttendance(Buffer.alloc(length)), (error: unknown) => error instanceof ZkFrameError && error.code === 'layout');
    }
  });

  it('round-trips any event in both layouts', () => {
    const pin: fc.Arbitrary<ZkRealtimeAttendance> = fc
      .record({ userId: arbitraryText(24), uid: fc.constant(null), verifyMode: byte, state: byte, time: arbitraryDateTime(2000, 2255) })
      .map(plain);
    const index: fc.Arbitrary<ZkRealtimeAttendance> = fc
      .record({ userId: fc.constant(null), uid: fc.integer({ min: 0, max: 0xffff }), verifyMode: byte, state: byte, time: arbitraryDateTime(2000, 2255) })
      .map(plain);
    fc.assert(fc.property(pin, (event) => assert.deepEqual(decodeRealtimeAttendance(encodeRealtimeAttendance(event, 32)), event)));
    fc.assert(fc.property(index, (event) => assert.deepEqual(decodeRealtimeAttendance(encodeRealtimeAttendance(event, 10)), event)));
  });

  it('answers arbitrary bytes with an event or a ZkFrameError', () => {
    decodesOrRejects((bytes) => decodeRealtimeAttendance(bytes), 80);
  });
});
