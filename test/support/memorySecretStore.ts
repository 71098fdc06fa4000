import type { SecretStore } from '../../hub/keys/secretStore.js';

/** A SecretStore in memory, for tests: no sealing, nothing survives the process. */
export function memorySecretStore(): SecretStore & { values: Map<string, Buffer> } {
  const values = new Map<string, Buffer>();
  const pending = new Map<string, Promise<Buffer>>();
  return {
    values,
    async getOrCreate(name, create) {
      const known = values.get(name);
      if (known) return known;
      let creating = pending.get(name);
      if (!creating) {
        creating = Promise.resolve(create()).then((value) => {
          values.set(name, value);
          pending.delete(name);
          return value;
        });
        pending.set(name, creating);
      }
      return creating;
    },
    async put(name, value) {
      values.set(name, value);
    },
  };
}
