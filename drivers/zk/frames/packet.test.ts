import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { zkGoldenFrames, zkPacketVectors } from '../../../fixtures/frames/zk/index.js';
import { zkChecksum } from './checksum.js';
import { ZkCommand, zkCodeName } from './codes.js';
import { ZkFrameError } from './errors.js';
import { ZkPacket } from './packet.js';
import { arbitraryBytes, decodesOrRejects, hex } from './testSupport.js';

const arbitraryPacket = fc
  .record({
    command: fc.integer({ min: 0, max: 0xffff }),
    sessionId: fc.integer({ min: 0, max: 0xffff }),
    replyId: fc.integer({ min: 0, max: 0xffff }),
    payload: arbitraryBytes(300),
  })
  .map(({ command, sessionId, replyId, payload }) => new ZkPacket(command, sessionId, replyId, payload));

describe('ZK packet codec', () => {
  for (const vector of zkPacketVectors) {
    it(`decodes and re-encodes the published vector "${vector.name}" byte for byte`, () => {
      const bytes = hex(vector.hex);
      const packet = vector.transport === 'tcp' ? ZkPacket.fromTcp(bytes) : ZkPacket.from(bytes);
      assert.equal(packet.command, vector.command);
      assert.equal(packet.sessionId, vector.sessionId);
      assert.equal(packet.replyId, vector.replyId);
      assert.equal(packet.payload.toString('hex'), vector.payloadHex);
      const header = vector.transport === 'tcp' ? bytes.subarray(8) : bytes;
      assert.equal(header.readUInt16LE(2), vector.checksum);
      assert.equal((vector.transport === 'tcp' ? packet.serializeTcp() : packet.serialize()).toString('hex'), vector.hex);
    });
  }

  it('computes the three worked checksum examples of the reference', () => {
    assert.equal(zkChecksum(hex('e803000000000000')), 0xfc17);
    assert.equal(zkChecksum(hex('d00700002ffb0000')), 0xfcff);
    assert.equal(zkChecksum(hex('d0070000f38d0a0009')), 0x6a29);
  });

  it('reproduces every golden frame of the fixtures from its header fields and payload', () => {
    for (const frame of zkGoldenFrames) {
      const packet = new ZkPacket(frame.command, frame.sessionId, frame.replyId, hex(frame.payloadHex));
      assert.equal(packet.serializeTcp().toString('hex'), frame.hex, frame.name);
      assert.equal(zkCodeName(frame.command), frame.commandName);
    }
  });

  it('rejects a packet whose checksum does not match with a checksum error', () => {
    const bytes = hex('e80318fc00000000');
    assert.throws(() => ZkPacket.from(bytes), (error: unknown) => error instanceof ZkFrameError && error.code === 'checksum');
  });

  it('rejects a TCP packet whose length field disagrees with its size', () => {
    const bytes = hex('5050827d09000000e80317fc00000000');
    assert.throws(() => ZkPacket.fromTcp(bytes), (error: unknown) => error instanceof ZkFrameError && error.code === 'length');
  });

  it('refuses header values that do not fit sixteen bits', () => {
    assert.throws(() => new ZkPacket(ZkCommand.CONNECT, 0x10000, 0), ZkFrameError);
    assert.throws(() => new ZkPacket(-1, 0, 0), ZkFrameError);
  });

  it('names codes it does not know by number', () => {
    assert.equal(zkCodeName(4242), 'code 4242');
  });

  it('round-trips any packet over UDP and TCP', () => {
    fc.assert(
      fc.property(arbitraryPacket, (packet) => {
        for (const decoded of [ZkPacket.from(packet.serialize()), ZkPacket.fromTcp(packet.serializeTcp())]) {
          assert.equal(decoded.command, packet.command);
          assert.equal(decoded.sessionId, packet.sessionId);
          assert.equal(decoded.replyId, packet.replyId);
          assert.ok(decoded.payload.equals(packet.payload));
        }
      }),
    );
  });

  it('detects any single flipped bit in a packet', () => {
    fc.assert(
      fc.property(arbitraryPacket, fc.nat(), fc.integer({ min: 0, max: 7 }), (packet, position, bit) => {
        const bytes = packet.serialize();
        bytes[position % bytes.length]! ^= 1 << bit;
        assert.throws(() => ZkPacket.from(bytes), ZkFrameError);
      }),
    );
  });

  it('answers arbitrary bytes with a packet or a ZkFrameError, nothing else', () => {
    decodesOrRejects((bytes) => ZkPacket.from(bytes));
    decodesOrRejects((bytes) => ZkPacket.fromTcp(bytes));
  });
});
