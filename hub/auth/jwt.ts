import { createHmac, randomUUID, timingSafeEqual } from 'node:crypto';

/**
 * Access tokens: JWS compact form, HS256 only. The header's `alg` must be
 * exactly the one allowed algorithm (never `none`, never RS256 with the HMAC
 * key as a public key); `typ`, `iss`, `aud`, `exp`, `nbf` and the token type
 * are all checked before any claim is used.
 */
export const ALLOWED_ALGORITHM = 'HS256';
export const TOKEN_ISSUER = 'campushub';
export const TOKEN_AUDIENCE = 'campushub-api';
export const ACCESS_TOKEN_TYPE = 'at+jwt';
/** Tolerated clock difference for exp/nbf, in seconds. */
const LEEWAY_S = 30;

export interface AccessClaims {
  sub: string;
  /** The user's session epoch at issue; "log out everywhere" raises it. */
  sep: number;
  iat: number;
  nbf: number;
  exp: number;
  jti: string;
  iss: string;
  aud: string;
}

export class TokenError extends Error {
  override readonly name = 'TokenError';
}

function base64url(input: Buffer | string): string {
  return Buffer.from(input).toString('base64url');
}

function sign(key: Buffer, signingInput: string): Buffer {
  return createHmac('sha256', key).update(signingInput).digest();
}

export function signAccessToken(key: Buffer, subject: string, sessionEpoch: number, nowMs: number, lifetimeS: number): string {
  const now = Math.floor(nowMs / 1000);
  const header = { alg: ALLOWED_ALGORITHM, typ: ACCESS_TOKEN_TYPE };
  const claims: AccessClaims = { sub: subject, sep: sessionEpoch, iat: now, nbf: now, exp: now + lifetimeS, jti: randomUUID(), iss: TOKEN_ISSUER, aud: TOKEN_AUDIENCE };
  const signingInput = `${base64url(JSON.stringify(header))}.${base64url(JSON.stringify(claims))}`;
  return `${signingInput}.${base64url(sign(key, signingInput))}`;
}

function decodeJson(part: string, what: string): Record<string, unknown> {
  try {
    const value: unknown = JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
    if (typeof value === 'object' && value !== null && !Array.isArray(value)) return value as Record<string, unknown>;
  } catch {
    // reported below
  }
  throw new TokenError(`malformed token ${what}`);
}

export function verifyAccessToken(key: Buffer, token: string, nowMs: number): AccessClaims {
  const parts = token.split('.');
  if (parts.length !== 3) throw new TokenError('malformed token');
  const [headerPart, payloadPart, signaturePart] = parts as [string, string, string];
  const header = decodeJson(headerPart, 'header');
  if (header.alg !== ALLOWED_ALGORITHM) throw new TokenError(`token algorithm ${String(header.alg)} is not allowed`);
  if (header.typ !== ACCESS_TOKEN_TYPE) throw new TokenError('not an access token');
  if (header.crit !== undefined) throw new TokenError('token has critical header parameters this hub does not understand');
  const expected = sign(key, `${headerPart}.${payloadPart}`);
  const presented = Buffer.from(signaturePart, 'base64url');
  if (presented.length !== expected.length || !timingSafeEqual(presented, expected)) throw new TokenError('token signature is invalid');
  const claims = decodeJson(payloadPart, 'payload');
  const now = Math.floor(nowMs / 1000);
  if (claims.iss !== TOKEN_ISSUER) throw new TokenError('token issuer is wrong');
  if (claims.aud !== TOKEN_AUDIENCE) throw new TokenError('token audience is wrong');
  if (typeof claims.exp !== 'number' || claims.exp + LEEWAY_S <= now) throw new TokenError('token has expired');
  if (typeof claims.nbf !== 'number' || claims.nbf - LEEWAY_S > now) throw new TokenError('token is not valid yet');
  if (typeof claims.sub !== 'string' || typeof claims.sep !== 'number' || typeof claims.jti !== 'string' || typeof claims.iat !== 'number') {
    throw new TokenError('token claims are incomplete');
  }
  return claims as unknown as AccessClaims;
}
