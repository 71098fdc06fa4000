import { ZkFrameError } from './errors.js';

/**
 * Fixed-width text fields of the ZK records: NUL-terminated and NUL-padded.
 * Bytes after the first NUL may be garbage on real devices (§2.9), so a read
 * stops at the first NUL.
 */
export function readText(bytes: Uint8Array, offset: number, width: number): string {
  const field = Buffer.from(bytes.buffer, bytes.byteOffset + offset, width);
  const end = field.indexOf(0);
  return field.toString('utf8', 0, end === -1 ? width : end);
}

export function writeText(target: Buffer, offset: number, width: number, text: string, what: string): void {
  const encoded = Buffer.from(text, 'utf8');
  if (encoded.includes(0)) throw new ZkFrameError('range', `${what} must not contain NUL`);
  if (encoded.length > width) {
    throw new ZkFrameError('range', `${what} ${JSON.stringify(text)} is ${encoded.length} bytes; its field holds ${width}`);
  }
  encoded.copy(target, offset);
}

/** A decimal string that a u32 field can carry (28-byte users, 16-byte records): `''` stands for 0. */
export function parseNumericId(text: string, what: string): number {
  if (text === '') return 0;
  const value = /^\d{1,10}$/.test(text) ? Number(text) : NaN;
  if (!(value <= 0xffffffff)) throw new ZkFrameError('range', `${what} ${JSON.stringify(text)} is not a number in 0..4294967295`);
  return value;
}

export function view(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
}
