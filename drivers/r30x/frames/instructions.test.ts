import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { r30xGoldenFrames, type R30xFixtureValues } from '../../../fixtures/frames/r30x/index.js';
import { describeConfirmation } from './codes.js';
import { R30xFrameError } from './errors.js';
import { Instructions, R30xAck, R30xCommand, type InstructionName } from './instructions.js';
import { layoutSize, type Layout } from './layout.js';
import { Pid, R30xPacket } from './packet.js';
import { hex } from './testSupport.js';

/** Fixture values with the bitmap hex turned into bytes, as the codec holds them. */
function valuesOf(fixture: R30xFixtureValues): Record<string, number | Buffer> {
  return Object.fromEntries(Object.entries(fixture).map(([name, value]) => [name, typeof value === 'string' ? hex(value) : value]));
}

function isInstruction(name: string): name is InstructionName {
  return Object.hasOwn(Instructions, name);
}

function arbitraryValues(layout: Layout): fc.Arbitrary<Record<string, number | Buffer>> {
  return fc.record(
    Object.fromEntries(
      Object.entries(layout).map(([name, type]) => [
        name,
        type === 'bytes32' ? fc.uint8Array({ minLength: 32, maxLength: 32 }).map((bytes) => Buffer.from(bytes)) : fc.nat({ max: { u8: 0xff, u16: 0xffff, u32: 0xffffffff }[type] }),
      ]),
    ),
  ).map((values) => ({ ...values }));
}

const names = Object.keys(Instructions) as InstructionName[];

describe('R30x instructions and acks', () => {
  it('encodes every golden command and decodes it back to its instruction and parameters', () => {
    for (const frame of r30xGoldenFrames) {
      if (frame.direction !== 'host') continue;
      assert.ok(isInstruction(frame.instruction), frame.name);
      const parameters = valuesOf(frame.parameters);
      assert.equal(new R30xCommand(frame.instruction, parameters as never, frame.address).serialize().toString('hex'), frame.hex, frame.name);
      const decoded = R30xCommand.from(R30xPacket.from(hex(frame.hex)));
      assert.equal(decoded.instruction, frame.instruction, frame.name);
      assert.deepEqual(decoded.parameters, parameters, frame.name);
      assert.equal(decoded.address, frame.address, frame.name);
    }
  });

  it('decodes every golden ack to its confirmation and return values, and encodes it back', () => {
    for (const frame of r30xGoldenFrames) {
      if (frame.direction !== 'module') continue;
      assert.ok(isInstruction(frame.replyTo), frame.name);
      const ack = R30xAck.from(frame.replyTo, R30xPacket.from(hex(frame.hex)));
      assert.equal(ack.confirmation, frame.confirmation, frame.name);
      assert.deepEqual(ack.values, frame.values === null ? undefined : valuesOf(frame.values), frame.name);
      assert.equal(ack.serialize().toString('hex'), frame.hex, frame.name);
    }
  });

  it('round-trips any parameters of every instruction', () => {
    for (const name of names) {
      fc.assert(
        fc.property(arbitraryValues(Instructions[name].parameters), fc.nat({ max: 0xffffffff }), (parameters, address) => {
          const decoded = R30xCommand.from(R30xPacket.from(new R30xCommand(name, parameters as never, address).serialize()));
          assert.deepEqual([decoded.instruction, decoded.parameters, decoded.address], [name, parameters, address]);
        }),
        { numRuns: 30 },
      );
    }
  });

  it('round-trips any confirmation and return values of every instruction', () => {
    for (const name of names) {
      fc.assert(
        fc.property(arbitraryValues(Instructions[name].ackValues), fc.nat({ max: 0xff }), (values, confirmation) => {
          const decoded = R30xAck.from(name, R30xPacket.from(new R30xAck(name, confirmation, values as never).serialize()));
          const carriesNothing = confirmation !== 0 && layoutSize(Instructions[name].ackValues) === 0;
          assert.deepEqual([decoded.confirmation, decoded.values], [confirmation, carriesNothing ? undefined : values]);
        }),
        { numRuns: 30 },
      );
    }
  });

  it('reads the Search ack of not found with its page and score fields, as the reference says it always carries them', () => {
    const ack = R30xAck.from('Search', R30xPacket.from(hex('ef01ffffffff07000709000000000017')));
    assert.equal(ack.ok, false);
    assert.deepEqual(ack.values, { pageId: 0, score: 0 });
  });

  it('rejects an OK ack that lacks its return values, and an ack of the wrong length', () => {
    const templateNumWithoutCount = new R30xPacket(Pid.ack, hex('00'));
    assert.throws(() => R30xAck.from('TemplateNum', templateNumWithoutCount), (error) => error instanceof R30xFrameError && error.code === 'length');
    const genImgWithExtraByte = new R30xPacket(Pid.ack, hex('0000'));
    assert.throws(() => R30xAck.from('GenImg', genImgWithExtraByte), (error) => error instanceof R30xFrameError && error.code === 'length');
    assert.throws(() => new R30xAck('TemplateNum', 0, undefined).serialize(), R30xFrameError);
  });

  it('rejects a command packet with an unknown instruction or the wrong PID', () => {
    assert.throws(() => R30xCommand.from(new R30xPacket(Pid.command, hex('99'))), (error) => error instanceof R30xFrameError && error.code === 'layout');
    assert.throws(() => R30xCommand.from(new R30xPacket(Pid.ack, hex('01'))), (error) => error instanceof R30xFrameError && error.code === 'pid');
    assert.throws(() => R30xAck.from('GenImg', new R30xPacket(Pid.command, hex('01'))), (error) => error instanceof R30xFrameError && error.code === 'pid');
  });

  it('refuses parameters that do not fit their fields', () => {
    assert.throws(() => new R30xCommand('Store', { buffer: 1, pageId: 0x10000 }).serialize(), R30xFrameError);
    assert.throws(() => new R30xCommand('VfyPwd', { password: -1 }).serialize(), R30xFrameError);
  });

  it('names confirmation codes, and calls unlisted ones reserved', () => {
    assert.equal(describeConfirmation(0x0b), '0x0B page id out of range');
    assert.equal(describeConfirmation(0x13), '0x13 wrong password');
    assert.equal(describeConfirmation(0x7f), '0x7F reserved code');
  });
});
