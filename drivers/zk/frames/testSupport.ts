/** Generators and checks shared by the codec tests of this folder. */
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { ZkFrameError } from './errors.js';
import type { WallClock } from './time.js';

export const arbitraryDateTime = (minYear = 2000, maxYear = 2099): fc.Arbitrary<WallClock> =>
  fc.record({
    year: fc.integer({ min: minYear, max: maxYear }),
    month: fc.integer({ min: 1, max: 12 }),
    day: fc.integer({ min: 1, max: 31 }),
    hour: fc.integer({ min: 0, max: 23 }),
    minute: fc.integer({ min: 0, max: 59 }),
    second: fc.integer({ min: 0, max: 59 }),
  }).map(plain);

/** fc.record builds null-prototype objects, which deepStrictEqual tells from literals. */
export function plain<T extends object>(value: T): T {
  return { ...value };
}

/** ASCII text without NUL that fits `maxBytes`. */
export const arbitraryText = (maxBytes: number): fc.Arbitrary<string> =>
  fc.string({ unit: fc.integer({ min: 0x20, max: 0x7e }).map((code) => String.fromCharCode(code)), maxLength: maxBytes });

/** Digits as a u32 field carries them back: no leading zeros. */
export const arbitraryNumericId = (max = 0xffffffff): fc.Arbitrary<string> => fc.integer({ min: 0, max }).map(String);

export const arbitraryBytes = (maxLength = 256): fc.Arbitrary<Buffer> => fc.uint8Array({ maxLength }).map((bytes) => Buffer.from(bytes));

/** Runs `decode` on arbitrary input and fails on any exception other than ZkFrameError. */
export function decodesOrRejects(decode: (bytes: Buffer) => unknown, maxLength = 256): void {
  fc.assert(
    fc.property(arbitraryBytes(maxLength), (bytes) => {
      try {
        decode(bytes);
      } catch (error) {
        assert.ok(error instanceof ZkFrameError, `threw ${String(error)}`);
      }
    }),
  );
}

export function hex(text: string): Buffer {
  return Buffer.from(text, 'hex');
}

export function sameWallClock(actual: WallClock, expected: WallClock): void {
  assert.deepEqual({ ...actual }, { ...expected });
}
