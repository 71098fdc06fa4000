import { createPublicKey, randomBytes, sign, verify, type KeyObject } from 'node:crypto';

/**
 * A student's personal QR code: short-lived, signed by the hub with Ed25519,
 * verified by agents offline with the hub's public key.
 *
 *   CHQ1.<base64url payload JSON>.<base64url signature>
 *
 * The signature covers `CHQ1.<payload>`. The payload names the student, when
 * it was issued and until when it holds, and a random nonce, so that a
 * verifier can refuse a code it has already accepted once (a photo of
 * someone else's screen).
 */
export const PERSONAL_QR_PREFIX = 'CHQ1';

export interface PersonalQrClaims {
  /** The student id. */
  sid: string;
  /** Issued and expiry times, Unix seconds. */
  iat: number;
  exp: number;
  /** 128 random bits, base64url: a code is accepted once. */
  n: string;
}

export type PersonalQrFailure = 'malformed' | 'bad_signature' | 'expired' | 'not_yet_valid' | 'replayed';

export class PersonalQrError extends Error {
  override readonly name = 'PersonalQrError';
  constructor(
    readonly code: PersonalQrFailure,
    message: string,
  ) {
    super(message);
  }
}

export function isPersonalQr(text: string): boolean {
  return text.startsWith(`${PERSONAL_QR_PREFIX}.`);
}

export function signPersonalQr(privateKey: KeyObject, studentId: string, issuedAtMs: number, ttlSeconds: number): { code: string; claims: PersonalQrClaims } {
  const iat = Math.floor(issuedAtMs / 1000);
  const claims: PersonalQrClaims = { sid: studentId, iat, exp: iat + ttlSeconds, n: randomBytes(16).toString('base64url') };
  return { code: encodePersonalQr(privateKey, claims), claims };
}

/** The code for exactly these claims (Ed25519 is deterministic: the same key and claims give the same code). */
export function encodePersonalQr(privateKey: KeyObject, claims: PersonalQrClaims): string {
  const signed = `${PERSONAL_QR_PREFIX}.${Buffer.from(JSON.stringify({ sid: claims.sid, iat: claims.iat, exp: claims.exp, n: claims.n })).toString('base64url')}`;
  return `${signed}.${sign(null, Buffer.from(signed), privateKey).toString('base64url')}`;
}

/** The hub's public key as agents receive it: base64 of the SPKI DER. */
export function personalQrPublicKeyText(key: KeyObject): string {
  return createPublicKey(key).export({ type: 'spki', format: 'der' }).toString('base64');
}

export function personalQrPublicKeyOf(text: string): KeyObject {
  const key = createPublicKey({ key: Buffer.from(text, 'base64'), format: 'der', type: 'spki' });
  if (key.asymmetricKeyType !== 'ed25519') throw new PersonalQrError('malformed', `the personal-QR key must be Ed25519, not ${key.asymmetricKeyType ?? 'unknown'}`);
  return key;
}

/**
 * Checks a code's signature and times (allowing `skewSeconds` of clock
 * difference on the start only); replay is the caller's business, since
 * only it knows which nonces it has seen.
 */
export function verifyPersonalQr(code: string, publicKey: KeyObject, nowMs: number, skewSeconds = 30): PersonalQrClaims {
  const parts = code.split('.');
  if (parts.length !== 3 || parts[0] !== PERSONAL_QR_PREFIX) throw new PersonalQrError('malformed', 'not a CampusHub personal QR code');
  const signature = Buffer.from(parts[2]!, 'base64url');
  // Node's decoder skips characters outside the alphabet: only the canonical text of the signature is the code, so no two texts verify alike.
  if (signature.toString('base64url') !== parts[2]) throw new PersonalQrError('bad_signature', 'the personal QR signature is not canonical base64url (altered)');
  let genuine = false;
  try {
    genuine = verify(null, Buffer.from(`${parts[0]}.${parts[1]}`), publicKey, signature);
  } catch {
    // A signature of the wrong length is no signature.
  }
  if (!genuine) throw new PersonalQrError('bad_signature', 'the personal QR code is not signed by this hub (forged or altered)');
  let claims: PersonalQrClaims;
  try {
    claims = JSON.parse(Buffer.from(parts[1]!, 'base64url').toString('utf8')) as PersonalQrClaims;
  } catch {
    throw new PersonalQrError('malformed', 'the personal QR payload is not JSON');
  }
  if (typeof claims.sid !== 'string' || !Number.isSafeInteger(claims.iat) || !Number.isSafeInteger(claims.exp) || typeof claims.n !== 'string') {
    throw new PersonalQrError('malformed', 'the personal QR payload lacks sid, iat, exp or n');
  }
  const now = Math.floor(nowMs / 1000);
  if (now >= claims.exp) throw new PersonalQrError('expired', `the personal QR code expired ${now - claims.exp} s ago`);
  if (claims.iat > now + skewSeconds) throw new PersonalQrError('not_yet_valid', 'the personal QR code was issued in the future (clock skew?)');
  return claims;
}
