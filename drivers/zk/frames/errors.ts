/**
 * The one error the ZK codecs throw. Decoders never throw anything else for
 * bad input, so callers can tell malformed device data from their own bugs.
 *   truncated  fewer bytes than the layout needs
 *   checksum   the packet checksum does not match its contents
 *   length     a length field that cannot be right
 *   range      a value that does not fit its wire field
 *   layout     bytes that match none of the known layouts
 */
export type ZkFrameErrorCode = 'truncated' | 'checksum' | 'length' | 'range' | 'layout';

export class ZkFrameError extends Error {
  override readonly name = 'ZkFrameError';

  constructor(
    readonly code: ZkFrameErrorCode,
    message: string,
  ) {
    super(message);
  }
}

export function requireBytes(bytes: Uint8Array, needed: number, what: string): void {
  if (bytes.length < needed) throw new ZkFrameError('truncated', `${what} needs ${needed} bytes, got ${bytes.length}`);
}

export function requireInteger(value: number, min: number, max: number, what: string): void {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new ZkFrameError('range', `${what} must be an integer in ${min}..${max}, got ${value}`);
  }
}
