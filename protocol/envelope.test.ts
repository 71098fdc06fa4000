import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import fc from 'fast-check';
import {
  EnvelopeError,
  canonicalContext,
  decodeEnvelope,
  encodeEnvelope,
  encryptPayload,
  envelopeOf,
  kekUnwrapper,
  kekWrapper,
  openEnvelope,
  parseEnvelope,
  recipientKeyId,
  recipientUnwrapper,
  recipientWrapper,
  rewrapEnvelope,
  sealEnvelope,
  wrapDataKey,
  type EnvelopeContext,
  type EnvelopeErrorCode,
} from './index.js';

const KEK = { id: 'k1', key: Buffer.alloc(32, 0x22) };
const lookup = (kid: string) => (kid === KEK.id ? KEK.key : undefined);
const TEMPLATE = { subject: '2025CS001', finger: 1, templateId: 't-1', format: 'iso19794-2' };

function envelopeError(code: EnvelopeErrorCode, message?: RegExp) {
  return (error: unknown) => {
    assert.ok(error instanceof EnvelopeError, `expected an EnvelopeError, got ${String(error)}`);
    assert.equal(error.code, code, error.message);
    if (message) assert.match(error.message, message);
    return true;
  };
}

const contextArbitrary: fc.Arbitrary<EnvelopeContext> = fc.dictionary(
  fc.string({ minLength: 1, maxLength: 12 }),
  fc.oneof(fc.string({ maxLength: 40 }), fc.integer(), fc.boolean()),
  { maxKeys: 5 },
);

test('golden vector: fixed keys, IVs and plaintext give exactly these bytes (cross-checked with Python cryptography AESGCM)', () => {
  const dek = Buffer.alloc(32, 0x11);
  const payload = encryptPayload(dek, Buffer.from('FMR\0 20\0template'), TEMPLATE, Buffer.alloc(12, 0x33));
  const key = wrapDataKey(dek, KEK, TEMPLATE, Buffer.alloc(12, 0x44));
  const bytes = encodeEnvelope(envelopeOf(payload, key));
  assert.equal(
    bytes.toString('hex'),
    '0101026b31003c444444444444444444444444831eb472f332f293a4b44b3133ccc6d00098e206dbb7ac612a4f331b23d36a664e0cdf8f46e9a94ee03aee2e573943f3' +
      '333333333333333333333333e7fae0f2559af5928840158ade816b7cc2ce0046eaa0452cc6dd861dcb4a974d',
  );
  assert.equal(canonicalContext(TEMPLATE).toString(), '{"finger":1,"format":"iso19794-2","subject":"2025CS001","templateId":"t-1"}');
  assert.equal(openEnvelope(decodeEnvelope(bytes), TEMPLATE, kekUnwrapper(lookup, TEMPLATE)).toString(), 'FMR\0 20\0template');
});

test('any plaintext and context round-trip through the JSON and the binary form', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 600 }), contextArbitrary, (plaintext, context) => {
      const envelope = sealEnvelope(Buffer.from(plaintext), context, kekWrapper(KEK, context));
      const viaJson = parseEnvelope(JSON.parse(JSON.stringify(envelope)));
      const viaBinary = decodeEnvelope(encodeEnvelope(envelope));
      assert.deepEqual(viaBinary, envelope);
      for (const copy of [viaJson, viaBinary]) assert.deepEqual(openEnvelope(copy, context, kekUnwrapper(lookup, context)), Buffer.from(plaintext));
    }),
    { numRuns: 150 },
  );
});

test('context key order does not matter, but every value does', () => {
  fc.assert(
    fc.property(contextArbitrary, fc.string({ minLength: 1, maxLength: 8 }), (context, extra) => {
      const reversed = Object.fromEntries(Object.entries(context).reverse());
      const envelope = sealEnvelope(Buffer.from('x'), context, kekWrapper(KEK, context));
      assert.equal(openEnvelope(envelope, reversed, kekUnwrapper(lookup, reversed)).toString(), 'x');
      const moved = { ...context, [`${extra}!`]: 'elsewhere' };
      assert.throws(() => openEnvelope(envelope, moved, kekUnwrapper(lookup, moved)), envelopeError('authentication_failed'));
    }),
    { numRuns: 100 },
  );
});

test('a ciphertext moved to another owner fails with a clear error, whether the DEK wrap or only the payload is checked', () => {
  const envelope = sealEnvelope(Buffer.from('FMR\0 template'), TEMPLATE, kekWrapper(KEK, TEMPLATE));
  const other = { ...TEMPLATE, subject: '2025CS002' };
  assert.throws(() => openEnvelope(envelope, other, kekUnwrapper(lookup, other)), envelopeError('authentication_failed', /another owner than \{finger, format, subject, templateId\}/));
  // With the right DEK but the wrong payload context (the payload alone moved):
  assert.throws(() => openEnvelope(envelope, other, kekUnwrapper(lookup, TEMPLATE)), envelopeError('authentication_failed', /moved to another row/));
});

test('one flipped bit anywhere in the binary form fails with an EnvelopeError', () => {
  const envelope = sealEnvelope(Buffer.from('FMR\0 20\0 short template'), TEMPLATE, kekWrapper(KEK, TEMPLATE));
  const bytes = encodeEnvelope(envelope);
  const codes = new Set<string>();
  for (let bit = 0; bit < bytes.length * 8; bit++) {
    const flipped = Buffer.from(bytes);
    flipped[bit >> 3]! ^= 1 << (bit & 7);
    assert.throws(
      () => openEnvelope(decodeEnvelope(flipped), TEMPLATE, kekUnwrapper(lookup, TEMPLATE)),
      (error: unknown) => {
        assert.ok(error instanceof EnvelopeError, `bit ${bit}: ${String(error)}`);
        codes.add(error.code);
        return true;
      },
      `bit ${bit} flipped was accepted`,
    );
  }
  assert.deepEqual([...codes].sort(), ['authentication_failed', 'malformed', 'unknown_key', 'unsupported_version']);
});

test('unknown KEK, unknown version and malformed input give their own codes, and messages carry no key material', () => {
  const envelope = sealEnvelope(Buffer.from('secret plaintext'), TEMPLATE, kekWrapper(KEK, TEMPLATE));
  assert.throws(() => openEnvelope(envelope, TEMPLATE, kekUnwrapper(() => undefined, TEMPLATE)), envelopeError('unknown_key', /key-encryption key "k1" is not in the keyring/));
  assert.throws(() => parseEnvelope({ ...envelope, v: 2 }), envelopeError('unsupported_version', /version 2 is not supported/));
  assert.throws(() => parseEnvelope({ ...envelope, iv: 'not base64!' }), envelopeError('malformed', /iv/));
  assert.throws(() => decodeEnvelope(Buffer.of(1)), envelopeError('malformed'));
  assert.throws(() => canonicalContext({ n: 1.5 }), envelopeError('invalid_argument'));
  const wrongKek = { id: 'k1', key: Buffer.alloc(32, 0x99) };
  try {
    openEnvelope(envelope, TEMPLATE, kekUnwrapper(() => wrongKek.key, TEMPLATE));
    assert.fail('opened under the wrong KEK');
  } catch (error) {
    assert.ok(error instanceof EnvelopeError && error.code === 'authentication_failed');
    for (const secret of [KEK.key, wrongKek.key]) {
      assert.ok(!error.message.includes(secret.toString('base64')) && !error.message.includes(secret.toString('hex')));
    }
    assert.ok(!error.message.includes('secret plaintext'));
  }
});

test('a template re-wrapped for an agent opens with the agent\'s RSA private key only, and the payload is unchanged', () => {
  const agent = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const stranger = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const stored = sealEnvelope(Buffer.from('FMR\0 20\0minutiae'), TEMPLATE, kekWrapper(KEK, TEMPLATE));
  const forAgent = rewrapEnvelope(stored, kekUnwrapper(lookup, TEMPLATE), recipientWrapper(agent.publicKey, TEMPLATE));

  assert.equal(forAgent.key.kind, 'rsa-oaep-sha256');
  assert.ok('kid' in forAgent.key && forAgent.key.kid === recipientKeyId(agent.publicKey) && /^[0-9a-f]{64}$/.test(forAgent.key.kid));
  assert.equal(recipientKeyId(agent.privateKey), recipientKeyId(agent.publicKey.export({ type: 'spki', format: 'pem' })));
  assert.deepEqual([forAgent.iv, forAgent.tag, forAgent.ct], [stored.iv, stored.tag, stored.ct]);
  assert.ok(!JSON.stringify(forAgent).includes(KEK.id + '"'), 'the agent never sees the hub KEK id or wrap');

  const received = decodeEnvelope(encodeEnvelope(parseEnvelope(JSON.parse(JSON.stringify(forAgent)))));
  assert.equal(openEnvelope(received, TEMPLATE, recipientUnwrapper(agent.privateKey, TEMPLATE)).toString(), 'FMR\0 20\0minutiae');
  assert.throws(() => openEnvelope(received, TEMPLATE, recipientUnwrapper(stranger.privateKey, TEMPLATE)), envelopeError('unknown_key', /not for this key/));
  const other = { ...TEMPLATE, finger: 2 };
  assert.throws(() => openEnvelope(received, other, recipientUnwrapper(agent.privateKey, other)), envelopeError('authentication_failed'));
  assert.throws(() => openEnvelope(received, TEMPLATE, kekUnwrapper(lookup, TEMPLATE)), envelopeError('unknown_key'));
});
