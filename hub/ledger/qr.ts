import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * The rotating session QR (docs/ledger.md, "Session QR"). A token is
 *
 *   version (1 byte, 1) | session id (16 bytes) | window (uint32 BE) | display id (uint16 BE) | MAC (16 bytes)
 *
 * in base64url, 52 characters. The MAC is HMAC-SHA256 under the hub's
 * `attendance.qr-key` over the first 23 bytes, truncated to 128 bits. The
 * window is the hub's time divided by the window length, so tokens rotate on
 * server time and nothing is generated in advance.
 */

const VERSION = 1;
const BODY_BYTES = 1 + 16 + 4 + 2;
const MAC_BYTES = 16;
const TOKEN_BYTES = BODY_BYTES + MAC_BYTES;
const TOKEN_PATTERN = /^[A-Za-z0-9_-]{52}$/;

export interface QrTokenContent {
  sessionId: string;
  window: number;
  displayId: number;
}

export function qrWindowAt(nowMs: number, windowSeconds: number): number {
  return Math.floor(nowMs / (windowSeconds * 1000));
}

function mac(key: Buffer, body: Buffer): Buffer {
  return createHmac('sha256', key).update(body).digest().subarray(0, MAC_BYTES);
}

export function issueQrToken(key: Buffer, content: QrTokenContent): string {
  const body = Buffer.alloc(BODY_BYTES);
  body.writeUInt8(VERSION, 0);
  Buffer.from(content.sessionId.replaceAll('-', ''), 'hex').copy(body, 1);
  body.writeUInt32BE(content.window, 17);
  body.writeUInt16BE(content.displayId, 21);
  return Buffer.concat([body, mac(key, body)]).toString('base64url');
}

export type QrTokenReading = { ok: true; content: QrTokenContent } | { ok: false; reason: 'malformed' | 'bad_signature' };

/** Reads a token and checks its MAC; never throws. */
export function readQrToken(key: Buffer, token: string): QrTokenReading {
  if (!TOKEN_PATTERN.test(token)) return { ok: false, reason: 'malformed' };
  const bytes = Buffer.from(token, 'base64url');
  if (bytes.length !== TOKEN_BYTES || bytes.readUInt8(0) !== VERSION) return { ok: false, reason: 'malformed' };
  const body = bytes.subarray(0, BODY_BYTES);
  if (!timingSafeEqual(bytes.subarray(BODY_BYTES), mac(key, body))) return { ok: false, reason: 'bad_signature' };
  const hex = body.subarray(1, 17).toString('hex');
  const sessionId = `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
  return { ok: true, content: { sessionId, window: body.readUInt32BE(17), displayId: body.readUInt16BE(21) } };
}

export type QrTokenCheck =
  | { ok: true; content: QrTokenContent }
  | { ok: false; code: 'qr_invalid' | 'qr_wrong_session' | 'qr_expired'; message: string };

/** Whether a scanned token is good for this session now: ±1 window of skew on the hub's clock. */
export function checkQrToken(key: Buffer, token: string, expected: { sessionId: string; nowMs: number; windowSeconds: number }): QrTokenCheck {
  const reading = readQrToken(key, token);
  if (!reading.ok) return { ok: false, code: 'qr_invalid', message: reading.reason === 'malformed' ? 'the token is not a session QR token' : 'the token was not issued by this hub' };
  if (reading.content.sessionId !== expected.sessionId.toLowerCase()) return { ok: false, code: 'qr_wrong_session', message: 'the token belongs to another session' };
  if (Math.abs(reading.content.window - qrWindowAt(expected.nowMs, expected.windowSeconds)) > 1) {
    return { ok: false, code: 'qr_expired', message: 'the token has expired; scan the code on the screen again' };
  }
  return reading;
}
