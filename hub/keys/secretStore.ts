/**
 * The hub's own named secrets (the CA's private key, the access-token
 * signing key): kept in the database, sealed under the key-encryption key,
 * which itself never enters the database.
 */
export interface SecretStore {
  /** The secret named `name`; the first call makes it with `create` and stores it sealed. Concurrent first calls agree on one value. */
  getOrCreate(name: string, create: () => Buffer | Promise<Buffer>): Promise<Buffer>;
  /** Replaces a secret, e.g. when the CA is re-keyed. */
  put(name: string, value: Buffer): Promise<void>;
}
