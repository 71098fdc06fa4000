import type { Db, Queryable } from '../db/db.js';
import { openOwned, sealOwned } from './dataKeys.js';
import type { Keyring } from './keyring.js';
import type { SecretStore } from './secretStore.js';

const ownerOf = (name: string) => `secret:${name}`;
const contextOf = (name: string) => ({ secret: name });

async function read(tx: Queryable, keyring: Keyring, name: string): Promise<Buffer | undefined> {
  const { rows } = await tx.query<{ sealed: Uint8Array }>('select sealed from hub_secrets where name = $1', [name]);
  const row = rows[0];
  return row ? openOwned(tx, keyring, ownerOf(name), contextOf(name), row.sealed) : undefined;
}

/**
 * Named hub secrets in `hub_secrets`, each sealed with the data key of owner
 * `secret:<name>` (so KEK rotation re-wraps them with everything else).
 * getOrCreate is safe with several hub processes racing: the first insert
 * wins (`on conflict do nothing`) and every caller returns the stored value.
 */
export function createSecretStore(db: Db, keyring: Keyring): SecretStore {
  return {
    async getOrCreate(name, create) {
      const existing = await db.transaction((tx) => read(tx, keyring, name));
      if (existing) return existing;
      const value = await create();
      return db.transaction(async (tx) => {
        const sealed = await sealOwned(tx, keyring, ownerOf(name), contextOf(name), value);
        await tx.query('insert into hub_secrets (name, sealed) values ($1, $2) on conflict (name) do nothing', [name, sealed]);
        const stored = await read(tx, keyring, name);
        if (!stored) throw new Error(`hub secret "${name}" vanished while it was being created`);
        return stored;
      });
    },
    async put(name, value) {
      await db.transaction(async (tx) => {
        const sealed = await sealOwned(tx, keyring, ownerOf(name), contextOf(name), value);
        await tx.query(
          `insert into hub_secrets (name, sealed) values ($1, $2)
           on conflict (name) do update set sealed = excluded.sealed, updated_at = now()`,
          [name, sealed],
        );
      });
    },
  };
}
