import { randomBytes } from 'node:crypto';

/**
 * UUIDv7 (RFC 9562 §5.7): 48-bit Unix milliseconds, then random bits. Ids made
 * within one millisecond use the 12-bit rand_a field as a counter (method 1 of
 * §6.2), so ids from one process sort in creation order. The event id is the
 * idempotency key of ingest, so it is made once, at the agent's first durable write.
 */
let lastMillis = -1;
let counter = 0;

export function uuidv7(now: number = Date.now()): string {
  if (now <= lastMillis) {
    counter++;
    if (counter > 0xfff) {
      // Counter exhausted within one millisecond: borrow the next millisecond.
      lastMillis++;
      counter = 0;
    }
  } else {
    lastMillis = now;
    counter = 0;
  }
  const bytes = randomBytes(16);
  const ms = BigInt(lastMillis);
  for (let i = 0; i < 6; i++) bytes[i] = Number((ms >> BigInt(8 * (5 - i))) & 0xffn);
  bytes[6] = 0x70 | (counter >> 8);
  bytes[7] = counter & 0xff;
  bytes[8] = (bytes[8]! & 0x3f) | 0x80;
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

export const UUID_PATTERN = '^[0-9a-f]{8}-[0-9a-f]{4}-[1-8][0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$';
const uuidRegex = new RegExp(UUID_PATTERN);

export function isUuid(value: unknown): value is string {
  return typeof value === 'string' && uuidRegex.test(value);
}

/** The creation time carried by a UUIDv7, in Unix milliseconds. */
export function uuidv7Millis(id: string): number {
  return parseInt(id.replace(/-/g, '').slice(0, 12), 16);
}
