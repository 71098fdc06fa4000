// TEMPORARY until the keys module lands: replaced by openHubKeys.
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import type { FieldCipher } from './fieldCipher.js';
import type { SecretStore } from './secretStore.js';

export function temporaryKeys(): { fields: FieldCipher; secrets: SecretStore } {
  const key = randomBytes(32);
  const values = new Map<string, Buffer>();
  return {
    secrets: {
      async getOrCreate(name, create) {
        if (!values.has(name)) values.set(name, await create());
        return values.get(name)!;
      },
      async put(name, value) {
        values.set(name, value);
      },
    },
    fields: {
      async seal(_tx, subject, field, plaintext) {
        const iv = randomBytes(12);
        const cipher = createCipheriv('aes-256-gcm', key, iv).setAAD(Buffer.from(`${subject}|${field}`));
        const ct = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
        return Buffer.concat([iv, cipher.getAuthTag(), ct]);
      },
      async open(_tx, subject, field, sealed) {
        const decipher = createDecipheriv('aes-256-gcm', key, sealed.subarray(0, 12)).setAAD(Buffer.from(`${subject}|${field}`));
        decipher.setAuthTag(sealed.subarray(12, 28));
        return Buffer.concat([decipher.update(sealed.subarray(28)), decipher.final()]).toString('utf8');
      },
      async shred() {},
    },
  };
}
