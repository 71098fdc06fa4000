/**
 * The versioned envelope for data encrypted at rest and in transit between
 * hub and agents (fingerprint templates, personal fields, hub secrets).
 *
 * - The payload is AES-256-GCM under a fresh 256-bit data key (DEK) per
 *   object, with a random 96-bit IV and a 128-bit tag.
 * - The payload's AAD binds it to its owner: the canonical bytes of a
 *   context object (e.g. `{subject, finger, templateId, format}` for a
 *   template, `{subject, field}` for a field) and the format version, so a
 *   ciphertext moved to another row fails to open.
 * - The DEK is wrapped either under a key-encryption key (KEK, AES-256-GCM
 *   key wrap with its own AAD naming the KEK id), or for a recipient's RSA
 *   public key (RSA-OAEP-SHA256, the AAD as OAEP label, the recipient key id
 *   being the SHA-256 of its SPKI DER), or it is held outside the envelope
 *   (`external`: the hub's `data_keys` table).
 * - The payload AAD never names the wrapping key, so re-wrapping the DEK
 *   (KEK rotation, handing a template to an agent) leaves the ciphertext as is.
 *
 * docs/security.md describes the byte layout.
 */
import { constants, createCipheriv, createDecipheriv, createHash, createPrivateKey, createPublicKey, privateDecrypt, publicEncrypt, randomBytes, type KeyObject } from 'node:crypto';

export const ENVELOPE_VERSION = 1;
export const DATA_KEY_BYTES = 32;
export const IV_BYTES = 12;
export const TAG_BYTES = 16;

export type EnvelopeErrorCode = 'authentication_failed' | 'unknown_key' | 'unsupported_version' | 'malformed' | 'invalid_argument';

/** Every failure of this module. Messages say what failed; they never contain key material or plaintext. */
export class EnvelopeError extends Error {
  override readonly name = 'EnvelopeError';
  constructor(
    readonly code: EnvelopeErrorCode,
    message: string,
  ) {
    super(message);
  }
}

/** What a ciphertext belongs to. Values are strings, integers or booleans. */
export type EnvelopeContext = Readonly<Record<string, string | number | boolean>>;

/** How the envelope's data key is held. `wrapped` is base64. */
export type KeyWrap =
  | { kind: 'kek'; kid: string; wrapped: string }
  | { kind: 'rsa-oaep-sha256'; kid: string; wrapped: string }
  | { kind: 'external' };

/** The JSON form: every byte field base64. */
export interface Envelope {
  v: typeof ENVELOPE_VERSION;
  key: KeyWrap;
  iv: string;
  tag: string;
  ct: string;
}

const KIND_CODES = { external: 0, kek: 1, 'rsa-oaep-sha256': 2 } as const;
const KIND_BY_CODE = ['external', 'kek', 'rsa-oaep-sha256'] as const;
const KID_PATTERN = /^[A-Za-z0-9._:-]{1,255}$/;
const PAYLOAD_LABEL = Buffer.from('campushub.envelope\0', 'utf8');
const WRAP_LABEL = Buffer.from('campushub.dek-wrap\0', 'utf8');
/** iv || wrapped DEK || tag */
const KEK_WRAP_BYTES = IV_BYTES + DATA_KEY_BYTES + TAG_BYTES;

function fail(code: EnvelopeErrorCode, message: string): never {
  throw new EnvelopeError(code, message);
}

function describeContext(context: EnvelopeContext): string {
  return `{${Object.keys(context).sort().join(', ')}}`;
}

/**
 * The canonical bytes of a context: JSON with keys sorted by code unit and no
 * whitespace. Only strings, safe integers and booleans are allowed, so that
 * the bytes never depend on number formatting.
 */
export function canonicalContext(context: EnvelopeContext): Buffer {
  if (context === null || typeof context !== 'object' || Array.isArray(context)) fail('invalid_argument', 'envelope context must be a plain object');
  const keys = Object.keys(context).sort();
  const parts = keys.map((key) => {
    const value: unknown = context[key];
    if (key === '') fail('invalid_argument', 'envelope context keys must not be empty');
    if (typeof value === 'number' && !Number.isSafeInteger(value)) fail('invalid_argument', `envelope context value of "${key}" must be a safe integer`);
    if (typeof value !== 'string' && typeof value !== 'number' && typeof value !== 'boolean') {
      fail('invalid_argument', `envelope context value of "${key}" must be a string, integer or boolean`);
    }
    return `${JSON.stringify(key)}:${JSON.stringify(value)}`;
  });
  return Buffer.from(`{${parts.join(',')}}`, 'utf8');
}

/** The payload's AAD: a label, the format version and the canonical context. */
export function payloadAad(context: EnvelopeContext): Buffer {
  return Buffer.concat([PAYLOAD_LABEL, Buffer.of(ENVELOPE_VERSION), canonicalContext(context)]);
}

/** A key wrap's AAD: a label, the format version, the wrap kind, the wrapping key's id and the canonical context. */
export function wrapAad(kind: 'kek' | 'rsa-oaep-sha256', kid: string, context: EnvelopeContext): Buffer {
  checkKid(kid);
  const kidBytes = Buffer.from(kid, 'utf8');
  return Buffer.concat([WRAP_LABEL, Buffer.of(ENVELOPE_VERSION, KIND_CODES[kind], kidBytes.length), kidBytes, canonicalContext(context)]);
}

function checkKid(kid: string): void {
  if (typeof kid !== 'string' || !KID_PATTERN.test(kid)) fail('invalid_argument', 'key id must be 1 to 255 characters of A-Z a-z 0-9 . _ : -');
}

function checkKey(key: Buffer, what: string): void {
  if (!Buffer.isBuffer(key) || key.length !== DATA_KEY_BYTES) fail('invalid_argument', `${what} must be ${DATA_KEY_BYTES} bytes`);
}

/** A fresh random 256-bit key (a DEK or a KEK). */
export function generateDataKey(): Buffer {
  return randomBytes(DATA_KEY_BYTES);
}

// ---- payload --------------------------------------------------------------

export interface EncryptedPayload {
  iv: Buffer;
  tag: Buffer;
  ct: Buffer;
}

/** AES-256-GCM of `plaintext` under `dek`, AAD = payloadAad(context). `iv` only for test vectors. */
export function encryptPayload(dek: Buffer, plaintext: Buffer, context: EnvelopeContext, iv: Buffer = randomBytes(IV_BYTES)): EncryptedPayload {
  checkKey(dek, 'data key');
  if (iv.length !== IV_BYTES) fail('invalid_argument', `IV must be ${IV_BYTES} bytes`);
  const cipher = createCipheriv('aes-256-gcm', dek, iv, { authTagLength: TAG_BYTES });
  cipher.setAAD(payloadAad(context));
  const ct = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return { iv, tag: cipher.getAuthTag(), ct };
}

export function decryptPayload(dek: Buffer, payload: EncryptedPayload, context: EnvelopeContext): Buffer {
  checkKey(dek, 'data key');
  if (payload.iv.length !== IV_BYTES || payload.tag.length !== TAG_BYTES) fail('malformed', 'envelope IV or tag has the wrong length');
  const decipher = createDecipheriv('aes-256-gcm', dek, payload.iv, { authTagLength: TAG_BYTES });
  decipher.setAAD(payloadAad(context));
  decipher.setAuthTag(payload.tag);
  try {
    return Buffer.concat([decipher.update(payload.ct), decipher.final()]);
  } catch {
    fail(
      'authentication_failed',
      `envelope authentication failed: the ciphertext was altered, or it belongs to another context than ${describeContext(context)} given (moved to another row?)`,
    );
  }
}

// ---- DEK wrapping under a KEK ------------------------------------------------

export interface Kek {
  id: string;
  key: Buffer;
}

/** Wraps `dek` under a KEK with AES-256-GCM; AAD = wrapAad('kek', kek.id, context). `iv` only for test vectors. */
export function wrapDataKey(dek: Buffer, kek: Kek, context: EnvelopeContext, iv: Buffer = randomBytes(IV_BYTES)): KeyWrap {
  checkKey(dek, 'data key');
  checkKey(kek.key, `key-encryption key "${kek.id}"`);
  if (iv.length !== IV_BYTES) fail('invalid_argument', `IV must be ${IV_BYTES} bytes`);
  const cipher = createCipheriv('aes-256-gcm', kek.key, iv, { authTagLength: TAG_BYTES });
  cipher.setAAD(wrapAad('kek', kek.id, context));
  const ct = Buffer.concat([cipher.update(dek), cipher.final()]);
  return { kind: 'kek', kid: kek.id, wrapped: Buffer.concat([iv, ct, cipher.getAuthTag()]).toString('base64') };
}

/** Unwraps a KEK-wrapped DEK; `lookup` returns the KEK for an id, or undefined when the keyring lacks it. */
export function unwrapDataKey(wrap: KeyWrap, lookup: (kid: string) => Buffer | undefined, context: EnvelopeContext): Buffer {
  if (wrap.kind !== 'kek') fail('unknown_key', `data key is wrapped as "${wrap.kind}", not under a key-encryption key`);
  checkKid(wrap.kid);
  const kek = lookup(wrap.kid);
  if (!kek) fail('unknown_key', `key-encryption key "${wrap.kid}" is not in the keyring`);
  checkKey(kek, `key-encryption key "${wrap.kid}"`);
  const bytes = decodeBase64(wrap.wrapped, 'wrapped data key');
  if (bytes.length !== KEK_WRAP_BYTES) fail('malformed', `wrapped data key must be ${KEK_WRAP_BYTES} bytes, not ${bytes.length}`);
  const decipher = createDecipheriv('aes-256-gcm', kek, bytes.subarray(0, IV_BYTES), { authTagLength: TAG_BYTES });
  decipher.setAAD(wrapAad('kek', wrap.kid, context));
  decipher.setAuthTag(bytes.subarray(IV_BYTES + DATA_KEY_BYTES));
  try {
    return Buffer.concat([decipher.update(bytes.subarray(IV_BYTES, IV_BYTES + DATA_KEY_BYTES)), decipher.final()]);
  } catch {
    fail('authentication_failed', `data key wrapped under "${wrap.kid}" failed authentication: wrong key-encryption key, altered bytes, or another owner than ${describeContext(context)}`);
  }
}

// ---- DEK wrapping for a recipient (an agent's RSA key) -----------------------

type KeyInput = KeyObject | string | Buffer;

function publicKeyOf(key: KeyInput): KeyObject {
  try {
    if (typeof key === 'object' && !Buffer.isBuffer(key)) return key.type === 'private' ? createPublicKey(key) : key;
    return createPublicKey(key);
  } catch {
    fail('invalid_argument', 'recipient key is not a readable public or private key');
  }
}

/** The recipient key id: lowercase hex SHA-256 of the public key's SPKI DER (the same for its private key). */
export function recipientKeyId(key: KeyInput): string {
  const publicKey = publicKeyOf(key);
  return createHash('sha256').update(publicKey.export({ type: 'spki', format: 'der' })).digest('hex');
}

/** Wraps `dek` for an RSA public key with RSA-OAEP-SHA256; the OAEP label is wrapAad('rsa-oaep-sha256', kid, context). */
export function wrapDataKeyForRecipient(dek: Buffer, recipientPublicKey: KeyInput, context: EnvelopeContext): KeyWrap {
  checkKey(dek, 'data key');
  const publicKey = publicKeyOf(recipientPublicKey);
  if (publicKey.asymmetricKeyType !== 'rsa') fail('invalid_argument', `recipient key must be RSA, not ${publicKey.asymmetricKeyType ?? 'unknown'}`);
  const kid = recipientKeyId(publicKey);
  const wrapped = publicEncrypt(
    { key: publicKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256', oaepLabel: wrapAad('rsa-oaep-sha256', kid, context) },
    dek,
  );
  return { kind: 'rsa-oaep-sha256', kid, wrapped: wrapped.toString('base64') };
}

/** Unwraps a DEK wrapped for the recipient holding `privateKey`. */
export function unwrapDataKeyAsRecipient(wrap: KeyWrap, privateKey: KeyInput, context: EnvelopeContext): Buffer {
  if (wrap.kind !== 'rsa-oaep-sha256') fail('unknown_key', `data key is wrapped as "${wrap.kind}", not for a recipient key`);
  let key: KeyObject;
  try {
    key = typeof privateKey === 'object' && !Buffer.isBuffer(privateKey) ? privateKey : createPrivateKey(privateKey);
  } catch {
    fail('invalid_argument', 'recipient private key is not readable');
  }
  const ownId = recipientKeyId(key);
  if (wrap.kid !== ownId) fail('unknown_key', `data key is wrapped for recipient ${wrap.kid.slice(0, 16)}…, not for this key (${ownId.slice(0, 16)}…)`);
  let dek: Buffer;
  try {
    dek = privateDecrypt(
      { key, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256', oaepLabel: wrapAad('rsa-oaep-sha256', wrap.kid, context) },
      decodeBase64(wrap.wrapped, 'wrapped data key'),
    );
  } catch (error) {
    if (error instanceof EnvelopeError) throw error;
    fail('authentication_failed', `data key wrapped for recipient ${wrap.kid.slice(0, 16)}… failed to unwrap: altered bytes or another context than ${describeContext(context)}`);
  }
  if (dek.length !== DATA_KEY_BYTES) fail('malformed', 'unwrapped data key has the wrong length');
  return dek;
}

// ---- whole envelopes -------------------------------------------------------

/** Encrypts under a fresh DEK and lets `wrapDek` decide how the DEK is held. */
export function sealEnvelope(plaintext: Buffer, context: EnvelopeContext, wrapDek: (dek: Buffer) => KeyWrap): Envelope {
  const dek = generateDataKey();
  try {
    return envelopeOf(encryptPayload(dek, plaintext, context), wrapDek(dek));
  } finally {
    dek.fill(0);
  }
}

/** Opens an envelope; `unwrapDek` recovers its DEK from the key wrap. */
export function openEnvelope(envelope: Envelope, context: EnvelopeContext, unwrapDek: (key: KeyWrap) => Buffer): Buffer {
  const checked = parseEnvelope(envelope);
  const dek = unwrapDek(checked.key);
  try {
    return decryptPayload(dek, payloadOf(checked), context);
  } finally {
    dek.fill(0);
  }
}

/** The same ciphertext with its DEK wrapped another way (a new KEK, or a recipient). The payload is not touched. */
export function rewrapEnvelope(envelope: Envelope, unwrapDek: (key: KeyWrap) => Buffer, wrapDek: (dek: Buffer) => KeyWrap): Envelope {
  const checked = parseEnvelope(envelope);
  const dek = unwrapDek(checked.key);
  try {
    return { ...checked, key: wrapDek(dek) };
  } finally {
    dek.fill(0);
  }
}

export function envelopeOf(payload: EncryptedPayload, key: KeyWrap): Envelope {
  return { v: ENVELOPE_VERSION, key, iv: payload.iv.toString('base64'), tag: payload.tag.toString('base64'), ct: payload.ct.toString('base64') };
}

export function payloadOf(envelope: Envelope): EncryptedPayload {
  return { iv: decodeBase64(envelope.iv, 'iv'), tag: decodeBase64(envelope.tag, 'tag'), ct: decodeBase64(envelope.ct, 'ct') };
}

function decodeBase64(text: unknown, what: string): Buffer {
  if (typeof text !== 'string') fail('malformed', `envelope field ${what} must be a base64 string`);
  const bytes = Buffer.from(text, 'base64');
  if (bytes.toString('base64') !== text) fail('malformed', `envelope field ${what} is not canonical base64`);
  return bytes;
}

/** Checks an envelope's shape (e.g. one parsed from JSON) and returns it typed. */
export function parseEnvelope(value: unknown): Envelope {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) fail('malformed', 'envelope must be an object');
  const record = value as Record<string, unknown>;
  if (record.v !== ENVELOPE_VERSION) fail('unsupported_version', `envelope version ${JSON.stringify(record.v)} is not supported (this build reads version ${ENVELOPE_VERSION})`);
  const key = record.key as Record<string, unknown> | null | undefined;
  if (key === null || typeof key !== 'object') fail('malformed', 'envelope field key must be an object');
  let wrap: KeyWrap;
  if (key.kind === 'external') wrap = { kind: 'external' };
  else if (key.kind === 'kek' || key.kind === 'rsa-oaep-sha256') {
    if (typeof key.kid !== 'string' || !KID_PATTERN.test(key.kid)) fail('malformed', 'envelope key id is missing or malformed');
    decodeBase64(key.wrapped, 'key.wrapped');
    wrap = { kind: key.kind, kid: key.kid, wrapped: key.wrapped as string };
  } else fail('malformed', `envelope key kind ${JSON.stringify(key.kind)} is unknown`);
  const iv = decodeBase64(record.iv, 'iv');
  const tag = decodeBase64(record.tag, 'tag');
  decodeBase64(record.ct, 'ct');
  if (iv.length !== IV_BYTES) fail('malformed', `envelope IV must be ${IV_BYTES} bytes`);
  if (tag.length !== TAG_BYTES) fail('malformed', `envelope tag must be ${TAG_BYTES} bytes`);
  return { v: ENVELOPE_VERSION, key: wrap, iv: record.iv as string, tag: record.tag as string, ct: record.ct as string };
}

// ---- compact binary form -----------------------------------------------------
//
//   0      1   version (1)
//   1      1   key kind: 0 external, 1 kek, 2 rsa-oaep-sha256
//   [kind 1 and 2 only]
//   2      1   key id length L (1..255)
//   3      L   key id, ASCII
//   3+L    2   wrapped key length W, big-endian
//   5+L    W   wrapped key (kek: iv 12 || wrapped DEK 32 || tag 16; rsa: the OAEP ciphertext)
//   then   12  payload IV
//          16  payload tag
//          …   payload ciphertext (the rest)

export function encodeEnvelope(envelope: Envelope): Buffer {
  const checked = parseEnvelope(envelope);
  const parts: Buffer[] = [Buffer.of(ENVELOPE_VERSION, KIND_CODES[checked.key.kind])];
  if (checked.key.kind !== 'external') {
    const kid = Buffer.from(checked.key.kid, 'ascii');
    const wrapped = Buffer.from(checked.key.wrapped, 'base64');
    if (wrapped.length > 0xffff) fail('invalid_argument', 'wrapped key is too long');
    const length = Buffer.alloc(2);
    length.writeUInt16BE(wrapped.length);
    parts.push(Buffer.of(kid.length), kid, length, wrapped);
  }
  const payload = payloadOf(checked);
  parts.push(payload.iv, payload.tag, payload.ct);
  return Buffer.concat(parts);
}

export function decodeEnvelope(bytes: Uint8Array): Envelope {
  const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (buffer.length < 2) fail('malformed', `envelope of ${buffer.length} bytes is too short`);
  if (buffer[0] !== ENVELOPE_VERSION) fail('unsupported_version', `envelope version ${buffer[0]} is not supported (this build reads version ${ENVELOPE_VERSION})`);
  const kind = KIND_BY_CODE[buffer[1]!];
  if (kind === undefined) fail('malformed', `envelope key kind ${buffer[1]} is unknown`);
  let offset = 2;
  let key: KeyWrap = { kind: 'external' };
  if (kind !== 'external') {
    const kidLength = buffer[offset] ?? 0;
    offset += 1;
    if (kidLength === 0 || offset + kidLength + 2 > buffer.length) fail('malformed', 'envelope key id is truncated');
    const kid = buffer.subarray(offset, offset + kidLength).toString('latin1');
    if (!KID_PATTERN.test(kid)) fail('malformed', 'envelope key id has characters outside A-Z a-z 0-9 . _ : -');
    offset += kidLength;
    const wrappedLength = buffer.readUInt16BE(offset);
    offset += 2;
    if (offset + wrappedLength > buffer.length) fail('malformed', 'envelope wrapped key is truncated');
    key = { kind, kid, wrapped: buffer.subarray(offset, offset + wrappedLength).toString('base64') };
    offset += wrappedLength;
  }
  if (offset + IV_BYTES + TAG_BYTES > buffer.length) fail('malformed', 'envelope IV or tag is truncated');
  const iv = buffer.subarray(offset, offset + IV_BYTES);
  const tag = buffer.subarray(offset + IV_BYTES, offset + IV_BYTES + TAG_BYTES);
  const ct = buffer.subarray(offset + IV_BYTES + TAG_BYTES);
  return envelopeOf({ iv, tag, ct }, key);
}

// ---- convenience wrappers ----------------------------------------------------

export const kekWrapper = (kek: Kek, context: EnvelopeContext) => (dek: Buffer) => wrapDataKey(dek, kek, context);
export const kekUnwrapper = (lookup: (kid: string) => Buffer | undefined, context: EnvelopeContext) => (key: KeyWrap) => unwrapDataKey(key, lookup, context);
export const recipientWrapper = (publicKey: KeyInput, context: EnvelopeContext) => (dek: Buffer) => wrapDataKeyForRecipient(dek, publicKey, context);
export const recipientUnwrapper = (privateKey: KeyInput, context: EnvelopeContext) => (key: KeyWrap) => unwrapDataKeyAsRecipient(key, privateKey, context);
