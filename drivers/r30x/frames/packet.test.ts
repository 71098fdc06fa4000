import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { r30xGoldenFrames } from '../../../fixtures/frames/r30x/index.js';
import { R30xFrameError } from './errors.js';
import { MAX_PACKET_SIZE, Pid, R30xPacket, packetChecksum } from './packet.js';
import { arbitraryPacket, hex } from './testSupport.js';

describe('R30x packet', () => {
  it('parses and re-serializes every golden frame byte for byte', () => {
    for (const frame of r30xGoldenFrames) {
      const packet = R30xPacket.from(hex(frame.hex));
      assert.equal(packet.pid, frame.pid, frame.name);
      assert.equal(packet.address, frame.address, frame.name);
      assert.equal(packet.serialize().toString('hex'), frame.hex, frame.name);
    }
  });

  it('computes the TemplateNum checksum of the ZFM-20 manual example as 0x0021', () => {
    assert.equal(packetChecksum(Pid.command, 3, hex('1d')), 0x0021);
    assert.equal(new R30xPacket(Pid.command, hex('1d')).serialize().toString('hex'), 'ef01ffffffff0100031d0021');
  });

  it('drops the carry above 16 bits from the checksum', () => {
    const payload = Buffer.alloc(256, 0xff);
    assert.equal(packetChecksum(Pid.data, 258, payload), (2 + 1 + 2 + 256 * 0xff) & 0xffff);
    assert.deepEqual(R30xPacket.from(new R30xPacket(Pid.data, payload).serialize()).payload, payload);
  });

  it('serializes the largest packet, 256 payload bytes, in 267 bytes', () => {
    assert.equal(new R30xPacket(Pid.endData, Buffer.alloc(256)).serialize().length, MAX_PACKET_SIZE);
  });

  it('round-trips any packet through serialize and from', () => {
    fc.assert(
      fc.property(arbitraryPacket, (packet) => {
        const decoded = R30xPacket.from(packet.serialize());
        assert.deepEqual([decoded.pid, decoded.address, decoded.payload], [packet.pid, packet.address, packet.payload]);
      }),
    );
  });

  const rejections: [string, string, string][] = [
    ['a wrong checksum', 'ef01ffffffff0100031d0022', 'checksum'],
    ['a wrong start code', 'ef02ffffffff0100031d0021', 'startCode'],
    ['an unknown packet identifier', 'ef01ffffffff0300031d0023', 'pid'],
    ['a length field shorter than one payload byte and the checksum', 'ef01ffffffff010002000003', 'length'],
    ['a length field that disagrees with the byte count', 'ef01ffffffff0100041d0021', 'length'],
    ['fewer bytes than the smallest packet', 'ef01ffffffff0100031d00', 'truncated'],
  ];
  for (const [what, bytes, code] of rejections) {
    it(`rejects ${what} with a ${code} frame error`, () => {
      assert.throws(() => R30xPacket.from(hex(bytes)), (error) => error instanceof R30xFrameError && error.code === code);
    });
  }

  it('refuses to build a packet with an empty or oversized payload, an unknown PID or an address beyond 32 bits', () => {
    assert.throws(() => new R30xPacket(Pid.command, Buffer.alloc(0)), R30xFrameError);
    assert.throws(() => new R30xPacket(Pid.data, Buffer.alloc(257)), R30xFrameError);
    assert.throws(() => new R30xPacket(5 as never, hex('00')), R30xFrameError);
    assert.throws(() => new R30xPacket(Pid.ack, hex('00'), 2 ** 32), R30xFrameError);
  });

  it('throws nothing but a frame error for any bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), fc.boolean(), (bytes, withStart) => {
        const input = withStart ? Buffer.concat([hex('ef01'), bytes]) : Buffer.from(bytes);
        try {
          R30xPacket.from(input);
        } catch (error) {
          assert.ok(error instanceof R30xFrameError, String(error));
        }
      }),
    );
  });
});
