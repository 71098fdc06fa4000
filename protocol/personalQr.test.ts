import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createPrivateKey, createPublicKey, generateKeyPairSync } from 'node:crypto';
import fc from 'fast-check';
import {
  PersonalQrError,
  encodePersonalQr,
  personalQrPublicKeyOf,
  personalQrPublicKeyText,
  signPersonalQr,
  verifyPersonalQr,
  type PersonalQrClaims,
} from './index.js';

/** An Ed25519 key from a fixed seed (RFC 8410 PKCS#8 prefix + 32 bytes), for a golden vector. */
const SEED_KEY = createPrivateKey({ key: Buffer.concat([Buffer.from('302e020100300506032b657004220420', 'hex'), Buffer.alloc(32, 7)]), format: 'der', type: 'pkcs8' });
const CLAIMS: PersonalQrClaims = { sid: '00000000-0000-4000-8000-000000000001', iat: 1_790_000_000, exp: 1_790_000_060, n: 'AAAAAAAAAAAAAAAAAAAAAA' };

test('golden vector: a fixed key and claims give exactly this code (cross-checked with Python cryptography Ed25519), valid within its minute only', () => {
  const code = encodePersonalQr(SEED_KEY, CLAIMS);
  assert.equal(
    code,
    'CHQ1.eyJzaWQiOiIwMDAwMDAwMC0wMDAwLTQwMDAtODAwMC0wMDAwMDAwMDAwMDEiLCJpYXQiOjE3OTAwMDAwMDAsImV4cCI6MTc5MDAwMDA2MCwibiI6IkFBQUFBQUFBQUFBQUFBQUFBQUFBQUEifQ' +
      '.gQQG9u8BrU86bI104TsKeq_oK-d9wlllKJQVvvXMms7fvsSARw4firlH0U789T4nuR1Xqb_wVaS9Qxj0KdXKBw',
  );
  const publicKey = personalQrPublicKeyOf(personalQrPublicKeyText(SEED_KEY));
  assert.deepEqual(verifyPersonalQr(code, publicKey, 1_790_000_030_000), CLAIMS);
  assert.throws(() => verifyPersonalQr(code, publicKey, 1_790_000_060_000), (error: unknown) => error instanceof PersonalQrError && error.code === 'expired');
  assert.throws(() => verifyPersonalQr(code, publicKey, 1_789_999_000_000), (error: unknown) => error instanceof PersonalQrError && error.code === 'not_yet_valid');
  assert.match(code, /^CHQ1\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{86}$/);
});

test('any string is either a valid code or a PersonalQrError, never another exception', () => {
  const publicKey = createPublicKey(SEED_KEY);
  const genuine = encodePersonalQr(SEED_KEY, CLAIMS);
  fc.assert(
    fc.property(fc.oneof(fc.string(), fc.string().map((tail) => `CHQ1.${tail}`), fc.nat(genuine.length - 1).chain((at) => fc.string({ minLength: 1, maxLength: 3 }).map((text) => genuine.slice(0, at) + text + genuine.slice(at + 1)))), (input) => {
      try {
        verifyPersonalQr(input, publicKey, 1_790_000_030_000);
        assert.equal(input, genuine, 'only the genuine code verifies');
      } catch (error) {
        assert.ok(error instanceof PersonalQrError, String(error));
      }
    }),
    { numRuns: 500 },
  );
});

test('a signature spelt differently is refused, though the lenient decoder reads the same bytes (found by the property above)', () => {
  const publicKey = createPublicKey(SEED_KEY);
  const genuine = encodePersonalQr(SEED_KEY, CLAIMS);
  const signatureAt = genuine.lastIndexOf('.') + 1;
  const underscore = genuine.indexOf('_', signatureAt);
  assert.ok(underscore > 0, 'the golden signature has an underscore');
  for (const respelt of [
    genuine.slice(0, underscore) + '/' + genuine.slice(underscore + 1),
    genuine.slice(0, underscore) + '/ ' + genuine.slice(underscore + 1),
    `${genuine.slice(0, signatureAt + 10)} ${genuine.slice(signatureAt + 10)}`,
    `${genuine}==`,
  ]) {
    assert.throws(() => verifyPersonalQr(respelt, publicKey, 1_790_000_030_000), (error: unknown) => error instanceof PersonalQrError && error.code === 'bad_signature', respelt);
  }
  assert.equal(verifyPersonalQr(genuine, publicKey, 1_790_000_030_000).sid, CLAIMS.sid);
});

test('a code signed by another key is refused as forged; a non-Ed25519 key is refused as the hub key', () => {
  const other = generateKeyPairSync('ed25519').privateKey;
  const { code } = signPersonalQr(other, CLAIMS.sid, Date.now(), 60);
  assert.throws(() => verifyPersonalQr(code, createPublicKey(SEED_KEY), Date.now()), (error: unknown) => error instanceof PersonalQrError && error.code === 'bad_signature' && /forged or altered/.test(error.message));
  const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey.export({ type: 'spki', format: 'der' }).toString('base64');
  assert.throws(() => personalQrPublicKeyOf(rsa), /must be Ed25519/);
});
