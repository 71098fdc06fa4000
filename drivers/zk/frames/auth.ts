import { requireInteger } from './errors.js';

/** Ticks byte the public clients send; the device reads it back from the key (§2.5). */
export const DEFAULT_AUTH_TICKS = 50;

const ZKSO = [0x5a, 0x4b, 0x53, 0x4f];

/**
 * The 4-byte CMD_AUTH payload for comm key `key` in session `sessionId`
 * (§2.5, after pyzk make_commkey):
 *   k = bit-reversed key + session (mod 2³²); b = u32le(k) XOR "ZKSO";
 *   swap the 16-bit halves; B = ticks; out = [b0^B, b1^B, B, b3^B].
 */
export function zkCommKey(key: number, sessionId: number, ticks = DEFAULT_AUTH_TICKS): Buffer {
  requireInteger(key, 0, 0xffffffff, 'comm key');
  requireInteger(sessionId, 0, 0xffff, 'session id');
  requireInteger(ticks, 0, 0xff, 'ticks');
  let reversed = 0;
  for (let bit = 0; bit < 32; bit++) reversed = ((reversed << 1) | ((key >>> bit) & 1)) >>> 0;
  const mixed = Buffer.alloc(4);
  mixed.writeUInt32LE((reversed + sessionId) >>> 0);
  const b = [...mixed].map((byte, index) => byte ^ ZKSO[index]!);
  const swapped = [b[2]!, b[3]!, b[0]!, b[1]!];
  return Buffer.from([swapped[0]! ^ ticks, swapped[1]! ^ ticks, ticks, swapped[3]! ^ ticks]);
}
