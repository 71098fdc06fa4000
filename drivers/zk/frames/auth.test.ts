import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { zkVectors } from '../../../fixtures/frames/zk/index.js';
import { zkCommKey } from './auth.js';
import { ZkFrameError } from './errors.js';

describe('ZK comm-key derivation', () => {
  for (const vector of zkVectors.commKey) {
    it(`derives ${vector.hex} for key ${vector.key} in session 0x${vector.sessionId.toString(16)} as pyzk does`, () => {
      assert.equal(zkCommKey(vector.key, vector.sessionId, vector.ticks).toString('hex'), vector.hex);
    });
  }

  it('carries the ticks byte in the clear at offset 2, where the device reads it back', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 999_999 }), fc.integer({ min: 0, max: 0xffff }), fc.integer({ min: 0, max: 255 }), (key, session, ticks) => {
        const derived = zkCommKey(key, session, ticks);
        assert.equal(derived.length, 4);
        assert.equal(derived[2], ticks);
      }),
    );
  });

  it('gives different keys different payloads in the same session', () => {
    assert.notEqual(zkCommKey(1, 0x45cf).toString('hex'), zkCommKey(2, 0x45cf).toString('hex'));
  });

  it('refuses keys outside 32 bits', () => {
    assert.throws(() => zkCommKey(-1, 0), ZkFrameError);
    assert.throws(() => zkCommKey(2 ** 32, 0), ZkFrameError);
  });
});
