import type { ByteLinkFactory } from './link.js';
import { BAUD_RATE_RANGE, SERIAL_LINK_DEFAULTS, serialLinkFactory } from './serial.js';
import { tcpLinkFactory } from './tcp.js';
import type { TransportUrl } from './transportUrl.js';
import { integerOption } from './urlOptions.js';

export class UnsupportedTransportError extends Error {
  override readonly name = 'UnsupportedTransportError';
}

/** Transport settings that do not belong in a device URL; defaults in tcp.ts and serial.ts. */
export interface LinkFactoryOptions {
  connectTimeoutMs?: number;
  keepAliveDelayMs?: number;
  presenceCheckMs?: number;
}

/**
 * URL options the transport itself reads:
 *   baud   serial:// only; bits per second (50–4000000, default 9600)
 */
export function linkOptionNames(url: TransportUrl): readonly string[] {
  return url.scheme === 'serial' ? ['baud'] : [];
}

/** A factory for the link a transport URL names: tcp://, serial+tcp:// and serial://. */
export function createLinkFactory(url: TransportUrl, options: LinkFactoryOptions = {}): ByteLinkFactory {
  switch (url.scheme) {
    case 'tcp':
    case 'serial+tcp': {
      const host = url.host.includes(':') ? `[${url.host}]` : url.host;
      return tcpLinkFactory({
        host: url.host,
        port: url.port,
        description: `${url.scheme}://${host}:${url.port}`,
        connectTimeoutMs: options.connectTimeoutMs,
        keepAliveDelayMs: options.keepAliveDelayMs,
      });
    }
    case 'serial':
      return serialLinkFactory({
        path: url.path,
        baudRate: integerOption(url.options, 'baud', BAUD_RATE_RANGE, SERIAL_LINK_DEFAULTS.baudRate),
        presenceCheckMs: options.presenceCheckMs,
      });
    case 'udp':
    case 'hid':
      throw new UnsupportedTransportError(`${url.scheme}:// is not supported by this driver; use tcp://, serial+tcp:// or serial://`);
  }
}
