import type { ByteLinkFactory } from './link.js';
import { BAUD_RATE_RANGE, SERIAL_LINK_DEFAULTS, serialLinkFactory } from './serial.js';
import { tcpLinkFactory } from './tcp.js';
import { udpLinkFactory } from './udp.js';
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
  /**
   * Offer udp:// (default false). A UDP link delivers each datagram as one
   * `data` event (udp.ts); only a driver whose protocol is one packet per
   * datagram should ask for it, not one that parses a byte stream.
   */
  acceptUdp?: boolean;
}

/**
 * URL options the transport itself reads:
 *   baud   serial:// only; bits per second (50–4000000, default 9600)
 */
export function linkOptionNames(url: TransportUrl): readonly string[] {
  return url.scheme === 'serial' ? ['baud'] : [];
}

/** A factory for the link a transport URL names: tcp://, serial+tcp://, serial:// and, when accepted, udp://. */
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
      if (options.acceptUdp) return udpLinkFactory({ host: url.host, port: url.port });
      throw new UnsupportedTransportError('udp:// is not supported by this driver; use tcp://, serial+tcp:// or serial://');
    case 'hid':
      throw new UnsupportedTransportError(`${url.scheme}:// is not supported by this driver; use tcp://, serial+tcp:// or serial://`);
  }
}
