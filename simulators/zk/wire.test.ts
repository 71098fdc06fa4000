import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { zkGoldenFrames, zkPacketVectors, zkRecordFixtures, zkVectors } from '../../fixtures/frames/zk/index.js';
import {
  attendanceEvent,
  commKeyFor,
  logRecord,
  packetBytes,
  PacketStream,
  packTime,
  parseUploadBatch,
  parseUserRecord,
  readBody,
  templateEntry,
  timeBytes,
  unpackTime,
  userRecord,
  zkSum,
} from './wire.js';

const hex = (text: string) => Buffer.from(text, 'hex');

describe("the simulator's own ZK codec", () => {
  it('reads and rebuilds every published packet vector', () => {
    for (const vector of zkPacketVectors) {
      const bytes = hex(vector.hex);
      const body = vector.transport === 'tcp' ? bytes.subarray(8) : bytes;
      const packet = readBody(body);
      assert.ok(packet, vector.name);
      assert.deepEqual([packet.code, packet.session, packet.reply, packet.payload.toString('hex')], [vector.command, vector.sessionId, vector.replyId, vector.payloadHex]);
      assert.equal(packetBytes(packet, vector.transport).toString('hex'), vector.hex, vector.name);
    }
  });

  it('rebuilds every golden frame from its fields', () => {
    for (const frame of zkGoldenFrames) {
      assert.equal(packetBytes({ code: frame.command, session: frame.sessionId, reply: frame.replyId, payload: hex(frame.payloadHex) }, 'tcp').toString('hex'), frame.hex, frame.name);
    }
  });

  it('computes the checksum with a wide accumulator that matches the reference examples', () => {
    assert.equal(zkSum(hex('e803000000000000')), 0xfc17);
    assert.equal(zkSum(hex('d00700002ffb0000')), 0xfcff);
    assert.equal(zkSum(hex('d0070000f38d0a0009')), 0x6a29);
  });

  it('drops a packet whose checksum is wrong', () => {
    assert.equal(readBody(hex('e80318fc00000000')), null);
  });

  it('splits a stream of golden frames however it is cut, skipping noise and bad packets', () => {
    const frames = zkGoldenFrames.map((frame) => hex(frame.hex));
    const corrupt = packetBytes({ code: 1000, session: 0, reply: 0, payload: Buffer.alloc(0) }, 'tcp', true);
    const stream = Buffer.concat([hex('00ff'), frames[0]!, corrupt, ...frames.slice(1)]);
    const splitter = new PacketStream();
    const packets = [];
    for (let at = 0; at < stream.length; at += 13) packets.push(...splitter.feed(stream.subarray(at, at + 13)));
    assert.equal(packets.length, frames.length);
    assert.equal(splitter.badChecksums, 1);
  });

  it('packs and unpacks the published time vectors', () => {
    for (const vector of zkVectors.packedTime) {
      assert.equal(packTime(vector.time), vector.value);
      assert.deepEqual(unpackTime(vector.value), vector.time);
    }
    assert.equal(timeBytes(zkVectors.sixByteTime[0]!.time).toString('hex'), zkVectors.sixByteTime[0]!.hex);
  });

  it('derives the published comm keys', () => {
    for (const vector of zkVectors.commKey) assert.equal(commKeyFor(vector.key, vector.sessionId, vector.ticks).toString('hex'), vector.hex);
  });

  it('writes and reads users in the 72- and 28-byte layouts of the fixtures', () => {
    for (const [width, fixtures] of [
      [72, zkRecordFixtures.users72],
      [28, zkRecordFixtures.users28],
    ] as const) {
      for (const { user, hex: bytes } of fixtures) {
        const simUser = { uid: user.uid, userId: user.userId, name: user.name, privilege: user.privilege, password: user.password, card: user.card, group: user.groupId };
        assert.equal(userRecord(simUser, width).toString('hex'), bytes);
        assert.deepEqual(parseUserRecord(hex(bytes), width), simUser);
      }
    }
  });

  it('writes attendance records as the fixtures lay them out, with the captured reserved tail', () => {
    for (const { record, hex: bytes } of zkRecordFixtures.attendance40) {
      const written = logRecord(record, 40);
      assert.equal(written.subarray(0, 32).toString('hex'), bytes.slice(0, 64));
      assert.equal(written.subarray(32).toString('hex'), '00000000ff000000');
    }
    for (const { record, hex: bytes } of zkRecordFixtures.attendance16) assert.equal(logRecord(record, 16).toString('hex'), bytes);
  });

  it('writes template entries and realtime payloads as the fixtures lay them out', () => {
    for (const { template, hex: bytes } of zkRecordFixtures.templates) {
      assert.equal(templateEntry({ uid: template.uid, finger: template.fingerIndex, flag: template.flag, data: hex(template.template) }).toString('hex'), bytes);
    }
    const tcpEvent = zkGoldenFrames.find((frame) => frame.decoded?.realtime)!;
    const { userId, verifyMode, state, time } = tcpEvent.decoded!.realtime!;
    assert.equal(attendanceEvent({ uid: 1, userId: userId!, verifyMode, state, time }, 'tcp').toString('hex'), tcpEvent.payloadHex);
    const [udpEvent] = zkRecordFixtures.realtime10;
    assert.equal(attendanceEvent({ ...udpEvent!.event, userId: '' }, 'udp').toString('hex'), udpEvent!.hex);
  });

  it('reads the batch upload of the fixtures', () => {
    const batch = parseUploadBatch(hex(zkRecordFixtures.templateBatch28.hex), 28);
    assert.ok(batch);
    assert.deepEqual(batch.users.map((user) => user.userId), ['2025001']);
    assert.deepEqual(batch.templates.map((template) => [template.uid, template.finger, template.data.length]), [[1, 6, 16]]);
    assert.equal(parseUploadBatch(hex(zkRecordFixtures.templateBatch28.hex).subarray(1), 28), null);
  });
});
