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

/**
 * One page of a list read with `limit + 1` rows: the first `limit`, and the
 * cursor of the last of them when there was more.
 */
export function pageOf<T>(rows: readonly T[], limit: number, keyOf: (last: T) => [Date, string]): { items: T[]; nextCursor: string | null } {
  const items = rows.slice(0, limit);
  const last = items.at(-1);
  return { items, nextCursor: rows.length > limit && last ? encodeCursor(...keyOf(last)) : null };
}
