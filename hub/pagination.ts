import { HttpError } from './errors.js';

/**
 * Keyset cursors of the lists ordered by (time, id): opaque to clients, the
 * time and id of the last item of the page.
 */
export function encodeCursor(at: Date, id: string): string {
  return Buffer.from(JSON.stringify([at.toISOString(), id])).toString('base64url');
}

export function decodeCursor(cursor: string): { at: string; id: string } {
  try {
    const [at, id] = JSON.parse(Buffer.from(cursor, 'base64url').toString()) as unknown[];
    if (typeof at === 'string' && !Number.isNaN(Date.parse(at)) && typeof id === 'string' && /^[0-9a-f-]{36}$/.test(id)) return { at, id };
  } catch {
    // Falls through to the one answer for any cursor this API did not make.
  }
  throw new HttpError(400, 'invalid_cursor', 'cursor is not one this API returned', { path: '/cursor' });
}
