import fc from 'fast-check';
import { Pid, R30xPacket, type R30xPid } from './packet.js';

export function hex(text: string): Buffer {
  return Buffer.from(text.replace(/\s+/g, ''), 'hex');
}

const PIDS: readonly R30xPid[] = Object.values(Pid);

/** Any packet the codec can carry: every PID, every address, payloads of 1–256 bytes. */
export const arbitraryPacket: fc.Arbitrary<R30xPacket> = fc
  .record({
    pid: fc.constantFrom(...PIDS),
    address: fc.oneof(fc.constant(0xffffffff), fc.nat({ max: 0xffffffff })),
    payload: fc.uint8Array({ minLength: 1, maxLength: 256 }),
  })
  .map(({ pid, address, payload }) => new R30xPacket(pid, payload, address));

/** Cuts `bytes` at the given offsets, in any order and with repeats. */
export function chunked(bytes: Buffer, cuts: number[]): Buffer[] {
  const points = [...new Set(cuts.map((cut) => cut % (bytes.length + 1)))].sort((a, b) => a - b);
  return [...points, bytes.length].map((end, index) => bytes.subarray(index === 0 ? 0 : points[index - 1]!, end));
}
