import type { Db } from '../db/db.js';
import { countDataKeysByKek } from './rotate.js';
import type { FieldCipher } from './fieldCipher.js';
import { createFieldCipher } from './fields.js';
import { loadKeyring, type Keyring } from './keyring.js';
import type { SecretStore } from './secretStore.js';
import { createSecretStore } from './secrets.js';

export * from './keyring.js';
export * from './dataKeys.js';
export * from './rotate.js';
export { createFieldCipher } from './fields.js';
export { createSecretStore } from './secrets.js';
export type { FieldCipher } from './fieldCipher.js';
export type { SecretStore } from './secretStore.js';

export interface OpenHubKeysOptions {
  /** A migrated database (0003_keys applied). */
  db: Db;
  /** `--key-file`; else `CAMPUSHUB_KEY_FILE`, then `CAMPUSHUB_KEKS` from `env`. */
  keyFile?: string;
  /** The hub's data directory (PGlite); the development key file goes here when nothing is configured. */
  dataDir?: string;
  env?: Readonly<Record<string, string | undefined>>;
  /** Receives each warning as it is found (also returned). */
  logger?: { warn(message: string): void };
}

export interface HubKeys {
  keyring: Keyring;
  fields: FieldCipher;
  secrets: SecretStore;
  /** Warnings for the log: a development key file, data keys under KEKs the keyring lacks. */
  warnings: string[];
}

/**
 * The hub's key services. Loads the KEKs (key file, `CAMPUSHUB_KEKS`, or a
 * development key file in `dataDir`) and checks that the keyring holds every
 * KEK the database's data keys are wrapped under.
 */
export async function openHubKeys(options: OpenHubKeysOptions): Promise<HubKeys> {
  const { keyring, warnings } = loadKeyring({ keyFile: options.keyFile, env: options.env ?? process.env, dataDir: options.dataDir });
  const missing = [...(await countDataKeysByKek(options.db))].filter(([kid]) => !keyring.has(kid));
  if (missing.length > 0) {
    const list = missing.map(([kid, count]) => `${count} under "${kid}"`).join(', ');
    warnings.push(`${keyring.source} lacks KEKs the database still uses (${list}); values sealed with those data keys cannot be decrypted`);
  }
  for (const warning of warnings) options.logger?.warn(warning);
  return { keyring, fields: createFieldCipher(keyring), secrets: createSecretStore(options.db, keyring), warnings };
}
