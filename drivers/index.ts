import type { DeviceDriver } from './core/driver.js';

/**
 * Driver families by the kind named in an agent's device configuration.
 * Each is imported only when a device of that kind is configured, so a
 * vendor's native dependency (node-hid, say) that fails to load on a host
 * disables only that vendor's devices.
 */
const DRIVER_LOADERS: Record<string, (url: string) => Promise<DeviceDriver>> = {
  qr: async (url) => (await import('./qr/driver.js')).createQrLineDriver(url),
  zk: async (url) => (await import('./zk/driver.js')).createZkDriver(url),
  r30x: async (url) => (await import('./r30x/driver.js')).createR30xDriver(url),
  hid: async (url) => (await import('./hid/driver.js')).createHidScannerDriver(url),
  'zk-push': async (url) => (await import('./zkpush/driver.js')).createZkPushDriver(url),
};

export const DRIVER_KINDS: readonly string[] = Object.keys(DRIVER_LOADERS);

export class UnknownDriverKindError extends Error {
  override readonly name = 'UnknownDriverKindError';
}

export async function createDriver(kind: string, url: string): Promise<DeviceDriver> {
  if (!Object.hasOwn(DRIVER_LOADERS, kind)) {
    throw new UnknownDriverKindError(`unknown device kind ${JSON.stringify(kind)}; known kinds: ${DRIVER_KINDS.join(', ')}`);
  }
  return DRIVER_LOADERS[kind]!(url);
}
