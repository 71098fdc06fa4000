import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { r30xGoldenFrames, r30xTransfers } from '../../../fixtures/frames/r30x/index.js';
import { DataPacketCollector, PACKET_SIZE_BY_CODE, packetSizeFromCode, toDataPackets } from './dataTransfer.js';
import { R30xFrameError } from './errors.js';
import { R30xAck } from './instructions.js';
import { Pid, R30xPacket } from './packet.js';
import { interpretSystemParameters, occupiedPages } from './replies.js';
import { hex } from './testSupport.js';

function collect(packets: R30xPacket[], maxBytes = 4096): Buffer | undefined {
  const collector = new DataPacketCollector(maxBytes);
  let result: Buffer | undefined;
  for (const packet of packets) result = collector.accept(packet);
  return result;
}

describe('R30x data transfers', () => {
  for (const transfer of r30xTransfers) {
    it(`splits and joins the golden transfer: ${transfer.name}`, () => {
      const packets = toDataPackets(hex(transfer.dataHex), transfer.packetSize);
      assert.deepEqual(
        packets.map((packet) => packet.serialize().toString('hex')),
        transfer.packetsHex,
      );
      assert.equal(collect(transfer.packetsHex.map((packet) => R30xPacket.from(hex(packet))))?.toString('hex'), transfer.dataHex);
    });
  }

  it('round-trips any bytes at every packet size, with only the last packet marked as the end', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 1, maxLength: 2048 }), fc.constantFrom(...PACKET_SIZE_BY_CODE), (bytes, size) => {
        const packets = toDataPackets(bytes, size);
        assert.deepEqual(
          packets.map((packet) => packet.pid),
          packets.map((_, index) => (index === packets.length - 1 ? Pid.endData : Pid.data)),
        );
        assert.ok(packets.every((packet) => packet.payload.length <= size));
        assert.deepEqual(collect(packets), Buffer.from(bytes));
      }),
    );
  });

  it('maps packet size codes 0–3 to 32, 64, 128 and 256 bytes and refuses others', () => {
    assert.deepEqual([0, 1, 2, 3].map(packetSizeFromCode), [32, 64, 128, 256]);
    assert.throws(() => packetSizeFromCode(4), R30xFrameError);
    assert.throws(() => toDataPackets(hex('00'), 100), R30xFrameError);
    assert.throws(() => toDataPackets(Buffer.alloc(0), 128), R30xFrameError);
  });

  it('waits for the end packet, refuses a non-data packet, and stops a transfer that outgrows its limit', () => {
    const collector = new DataPacketCollector(300);
    assert.equal(collector.accept(new R30xPacket(Pid.data, Buffer.alloc(256))), undefined);
    assert.throws(() => collector.accept(new R30xPacket(Pid.ack, hex('00'))), R30xFrameError);
    assert.throws(() => collector.accept(new R30xPacket(Pid.data, Buffer.alloc(256))), (error) => error instanceof R30xFrameError && error.code === 'length');
  });
});

describe('R30x reply values', () => {
  it('resolves the golden ReadSysPara blocks into capacity, packet size and baud rate', () => {
    const blocks = r30xGoldenFrames.filter((frame) => frame.direction === 'module' && frame.replyTo === 'ReadSysPara');
    const interpreted = blocks.map((frame) => {
      const ack = R30xAck.from('ReadSysPara', R30xPacket.from(hex(frame.hex)));
      return interpretSystemParameters(ack.values!);
    });
    assert.deepEqual(interpreted, [
      {
        status: { busy: false, matched: false, passwordVerified: true, imageInBuffer: false },
        systemId: 0,
        capacity: 1000,
        securityLevel: 3,
        address: 0xffffffff,
        packetSize: 128,
        baudRate: 57_600,
      },
      {
        status: { busy: false, matched: true, passwordVerified: false, imageInBuffer: true },
        systemId: 0,
        capacity: 200,
        securityLevel: 5,
        address: 0xabcd,
        packetSize: 256,
        baudRate: 115_200,
      },
    ]);
  });

  it('reads a ReadConList bitmap bit i of byte j as page indexPage·256 + j·8 + i', () => {
    const frame = r30xGoldenFrames.find((candidate) => candidate.name.startsWith('< ReadConList ack: pages'));
    assert.ok(frame?.direction === 'module');
    const ack = R30xAck.from('ReadConList', R30xPacket.from(hex(frame.hex)));
    assert.deepEqual(occupiedPages(0, ack.values!.bitmap), [0, 1, 7, 255]);
    assert.deepEqual(occupiedPages(3, ack.values!.bitmap), [768, 769, 775, 1023]);
    assert.throws(() => occupiedPages(4, Buffer.alloc(32)), R30xFrameError);
  });
});
