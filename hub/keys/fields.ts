import { EnvelopeError } from '../../protocol/index.js';
import type { Queryable } from '../db/db.js';
import { destroyDataKey, openOwned, sealOwned } from './dataKeys.js';
import type { FieldCipher } from './fieldCipher.js';
import type { Keyring } from './keyring.js';

/** Owner prefixes used by other parts of the key store; a field subject may not take them. */
const RESERVED = ['secret:', 'template:'];

function checkSubject(subject: string): void {
  if (typeof subject !== 'string' || !/^[a-z][a-z0-9_-]*:./.test(subject)) {
    throw new TypeError(`field subject must be namespaced like "user:<id>", not ${JSON.stringify(subject)}`);
  }
  if (RESERVED.some((prefix) => subject.startsWith(prefix))) throw new TypeError(`field subject ${JSON.stringify(subject)} uses a reserved prefix (${RESERVED.join(', ')})`);
}

/**
 * Personal-field encryption: one data key per subject (the `data_keys` owner
 * is the subject itself, e.g. `user:0190…`), created on the first seal; the
 * AAD binds each value to (subject, field). Every open reads the subject's
 * data_keys row, so a shred in any hub process takes effect at once (no
 * cache of unwrapped keys: unwrapping 32 bytes costs less than the read).
 */
export function createFieldCipher(keyring: Keyring): FieldCipher {
  return {
    async seal(tx: Queryable, subject: string, field: string, plaintext: string): Promise<Buffer> {
      checkSubject(subject);
      return sealOwned(tx, keyring, subject, { subject, field }, Buffer.from(plaintext, 'utf8'));
    },
    async open(tx: Queryable, subject: string, field: string, sealed: Buffer): Promise<string> {
      checkSubject(subject);
      try {
        return (await openOwned(tx, keyring, subject, { subject, field }, sealed)).toString('utf8');
      } catch (error) {
        if (error instanceof EnvelopeError) {
          throw new EnvelopeError(error.code, `cannot open field "${field}" of ${subject}: ${error.message}`);
        }
        throw error;
      }
    },
    async shred(tx: Queryable, subject: string): Promise<void> {
      checkSubject(subject);
      await destroyDataKey(tx, subject);
    },
  };
}
