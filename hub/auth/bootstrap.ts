import { createHash, timingSafeEqual } from 'node:crypto';
import { HttpError } from '../errors.js';
import { bearerToken, type Authenticator } from './policy.js';
import type { Principal } from './rules.js';

/** Integration API keys start with this, so that authenticators can tell credentials apart. */
export const API_KEY_PREFIX = 'chk_';

const BOOTSTRAP_PRINCIPAL: Principal = { id: 'bootstrap', kind: 'bootstrap', role: 'admin', departmentId: null, scopes: null };

function digest(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}

/**
 * The development admin token (CAMPUSHUB_ADMIN_TOKEN): an admin without a
 * user row, for first setup and tests. Compared as digests, so neither the
 * token's length nor its content leaks through timing.
 */
export function bootstrapAuthenticator(token: string | undefined): Authenticator {
  const expected = token ? digest(token) : null;
  return async (request) => {
    const presented = bearerToken(request);
    if (!presented || !expected) return null;
    // Access tokens (JWTs) and API keys have their own authenticators.
    if (presented.split('.').length === 3 || presented.startsWith(API_KEY_PREFIX)) return null;
    if (!timingSafeEqual(digest(presented), expected)) throw new HttpError(401, 'unauthorized', 'invalid bearer token');
    return BOOTSTRAP_PRINCIPAL;
  };
}
