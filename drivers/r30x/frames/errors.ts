/**
 * The one error the R30x codecs throw. Decoders throw nothing else for bad
 * input, so callers can tell malformed module data from their own bugs.
 *   truncated  fewer bytes than the layout needs
 *   startCode  the bytes do not begin with EF 01
 *   checksum   the packet checksum does not match its contents
 *   length     a length field or payload size that cannot be right
 *   pid        a packet identifier other than 01, 02, 07 or 08
 *   range      a value that does not fit its wire field
 *   layout     bytes that match no known instruction or reply layout
 */
export type R30xFrameErrorCode = 'truncated' | 'startCode' | 'checksum' | 'length' | 'pid' | 'range' | 'layout';

export class R30xFrameError extends Error {
  override readonly name = 'R30xFrameError';

  constructor(
    readonly code: R30xFrameErrorCode,
    message: string,
  ) {
    super(message);
  }
}

export function requireInteger(value: number, min: number, max: number, what: string): void {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new R30xFrameError('range', `${what} must be an integer in ${min}..${max}, got ${value}`);
  }
}
