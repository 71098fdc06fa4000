import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { checkQrToken, issueQrToken, qrWindowAt, readQrToken } from './qr.js';

const key = randomBytes(32);
const contentArbitrary = fc.record({ sessionId: fc.uuid(), window: fc.integer({ min: 0, max: 0xffffffff }), displayId: fc.integer({ min: 0, max: 0xffff }) });

test('property: a token reads back as what was issued, in 52 URL-safe characters', () => {
  fc.assert(
    fc.property(contentArbitrary, (content) => {
      const token = issueQrToken(key, content);
      assert.match(token, /^[A-Za-z0-9_-]{52}$/);
      assert.deepEqual(readQrToken(key, token), { ok: true, content: { ...content, sessionId: content.sessionId.toLowerCase() } });
    }),
  );
});

test('property: any other string is refused without throwing', () => {
  fc.assert(
    fc.property(fc.oneof(fc.string({ maxLength: 80 }), fc.base64String({ minLength: 52, maxLength: 52 }), fc.stringMatching(/^[A-Za-z0-9_-]{52}$/)), (text) => {
      assert.equal(readQrToken(key, text).ok, false);
    }),
  );
});

test('property: changing any one character of a token breaks it', () => {
  fc.assert(
    fc.property(contentArbitrary, fc.nat(51), fc.constantFrom(...'AQgw_-09az'), (content, position, replacement) => {
      const token = issueQrToken(key, content);
      const altered = token.slice(0, position) + replacement + token.slice(position + 1);
      fc.pre(altered !== token && Buffer.from(altered, 'base64url').compare(Buffer.from(token, 'base64url')) !== 0);
      assert.equal(readQrToken(key, altered).ok, false);
    }),
  );
});

test('a token is good in its window and one either side, for its own session, under this key only', () => {
  const sessionId = '0190aaaa-0000-7000-8000-000000000001';
  const nowMs = Date.parse('2026-08-03T09:05:00Z');
  const window = qrWindowAt(nowMs, 15);
  const token = issueQrToken(key, { sessionId, window, displayId: 7 });
  for (const skew of [-1, 0, 1]) assert.equal(checkQrToken(key, token, { sessionId, nowMs: nowMs + skew * 15_000, windowSeconds: 15 }).ok, true, `skew ${skew}`);
  for (const skew of [-2, 2]) {
    assert.deepEqual(checkQrToken(key, token, { sessionId, nowMs: nowMs + skew * 15_000, windowSeconds: 15 }), {
      ok: false,
      code: 'qr_expired',
      message: 'the token has expired; scan the code on the screen again',
    });
  }
  const other = checkQrToken(key, token, { sessionId: '0190aaaa-0000-7000-8000-000000000002', nowMs, windowSeconds: 15 });
  assert.equal(other.ok ? 'ok' : other.code, 'qr_wrong_session');
  const forged = checkQrToken(randomBytes(32), token, { sessionId, nowMs, windowSeconds: 15 });
  assert.equal(forged.ok ? 'ok' : forged.code, 'qr_invalid');
});
