import type { Queryable } from '../db/db.js';

/**
 * Encryption of designated personal fields (phone, email, guardian contact):
 * one data key per subject, wrapped by the key-encryption key. The AAD binds
 * each ciphertext to its subject and field, so a value copied to another row
 * or column fails to decrypt.
 */
export interface FieldCipher {
  seal(tx: Queryable, subject: string, field: string, plaintext: string): Promise<Buffer>;
  open(tx: Queryable, subject: string, field: string, sealed: Buffer): Promise<string>;
  /** Crypto-shredding: destroys the subject's data key, so every field sealed for it becomes unreadable. */
  shred(tx: Queryable, subject: string): Promise<void>;
}
