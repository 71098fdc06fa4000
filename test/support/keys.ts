import { randomBytes } from 'node:crypto';
import type { TestContext } from 'node:test';
import type { Db } from '../../hub/db/db.js';
import { keyringFromKeys, type Keyring } from '../../hub/keys/keyring.js';
import { createTestDatabase, type TestDatabase } from './database.js';

/** A fresh migrated test database, opened, closed and dropped when the test ends. */
export async function openTestDb(t: TestContext): Promise<{ database: TestDatabase; db: Db }> {
  const database = await createTestDatabase();
  const db = await database.open();
  t.after(async () => {
    await db.close();
    await database.drop();
  });
  return { database, db };
}

/** Random KEKs by id. */
export function randomKeks(...ids: string[]): Record<string, Buffer> {
  return Object.fromEntries(ids.map((id) => [id, randomBytes(32)]));
}

/** A keyring over some of `keks`, the first id active. */
export function keyringOf(keks: Record<string, Buffer>, ...ids: string[]): Keyring {
  return keyringFromKeys(ids[0]!, Object.fromEntries(ids.map((id) => [id, keks[id]!])));
}
