import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac, randomBytes } from 'node:crypto';
import { signAccessToken, TokenError, verifyAccessToken } from './jwt.js';

const KEY = randomBytes(32);
const NOW = Date.parse('2026-11-25T10:00:00Z');
const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

function craft(header: Record<string, unknown>, claims: Record<string, unknown>, key: Buffer = KEY): string {
  const input = `${b64(header)}.${b64(claims)}`;
  return `${input}.${createHmac('sha256', key).update(input).digest('base64url')}`;
}

const now = Math.floor(NOW / 1000);
const validClaims = { sub: 'u1', sep: 0, iat: now, nbf: now, exp: now + 900, jti: 'j1', iss: 'campushub', aud: 'campushub-api' };
const validHeader = { alg: 'HS256', typ: 'at+jwt' };

function rejects(token: string, pattern: RegExp) {
  assert.throws(() => verifyAccessToken(KEY, token, NOW), (error: Error) => error instanceof TokenError && pattern.test(error.message));
}

test('a token the hub signed verifies, and crafting one by hand with the same key gives the same result', () => {
  const token = signAccessToken(KEY, 'u1', 3, NOW, 900);
  assert.equal(verifyAccessToken(KEY, token, NOW).sub, 'u1');
  assert.equal(verifyAccessToken(KEY, token, NOW).sep, 3);
  assert.equal(verifyAccessToken(KEY, craft(validHeader, validClaims), NOW).sub, 'u1');
});

test('alg none is refused, with or without a signature', () => {
  const unsigned = `${b64({ alg: 'none', typ: 'at+jwt' })}.${b64(validClaims)}.`;
  rejects(unsigned, /algorithm none is not allowed/);
  rejects(craft({ alg: 'none', typ: 'at+jwt' }, validClaims), /algorithm none/);
  rejects(craft({ alg: 'NONE', typ: 'at+jwt' }, validClaims), /algorithm NONE/);
});

test('other algorithms are refused even when the signature would match', () => {
  rejects(craft({ alg: 'HS512', typ: 'at+jwt' }, validClaims), /algorithm HS512/);
  rejects(craft({ alg: 'RS256', typ: 'at+jwt' }, validClaims), /algorithm RS256/);
});

test('a token signed with another key is refused', () => {
  rejects(craft(validHeader, validClaims, randomBytes(32)), /signature is invalid/);
  const token = signAccessToken(KEY, 'u1', 0, NOW, 900);
  const [header, , signature] = token.split('.');
  rejects(`${header}.${b64({ ...validClaims, sub: 'admin' })}.${signature}`, /signature is invalid/);
});

test('expired, not-yet-valid, wrong-issuer, wrong-audience and wrong-type tokens are refused', () => {
  rejects(craft(validHeader, { ...validClaims, exp: now - 31 }), /expired/);
  rejects(craft(validHeader, { ...validClaims, nbf: now + 31 }), /not valid yet/);
  rejects(craft(validHeader, { ...validClaims, iss: 'someone-else' }), /issuer/);
  rejects(craft(validHeader, { ...validClaims, aud: 'another-api' }), /audience/);
  rejects(craft({ alg: 'HS256', typ: 'JWT' }, validClaims), /not an access token/);
  rejects(craft({ alg: 'HS256' }, validClaims), /not an access token/);
  rejects(craft(validHeader, { ...validClaims, exp: undefined }), /expired/);
  rejects(craft({ ...validHeader, crit: ['exp'] }, validClaims), /critical/);
});

test('malformed tokens are refused with a TokenError, never a crash', () => {
  for (const token of ['', 'a.b', 'a.b.c', '...', `${b64([])}.${b64(validClaims)}.x`, `${b64(validHeader)}.notjson.x`]) {
    assert.throws(() => verifyAccessToken(KEY, token, NOW), TokenError);
  }
});
