/**
 * Transports are named by URL, parsed only here:
 *   tcp://host:port?opt=v          a TCP socket (ZK terminals, ser2net in raw mode)
 *   udp://host:port                a UDP socket (ZK over UDP)
 *   serial:///dev/ttyUSB0?baud=57600   a local serial port
 *   serial+tcp://host:port         raw serial bytes over TCP (ser2net, serial device servers)
 *   hid://vid:pid[/serial]         a USB HID device, ids in hex
 */
export type TransportScheme = 'tcp' | 'udp' | 'serial' | 'serial+tcp' | 'hid';

export type TransportUrl =
  | { scheme: 'tcp' | 'udp' | 'serial+tcp'; host: string; port: number; options: Record<string, string> }
  | { scheme: 'serial'; path: string; options: Record<string, string> }
  | { scheme: 'hid'; vendorId: number; productId: number; serialNumber?: string; options: Record<string, string> };

export class TransportUrlError extends Error {
  override readonly name = 'TransportUrlError';
}

const HID_URL = /^hid:\/\/([0-9a-f]{1,4}):([0-9a-f]{1,4})(?:\/([^?]+))?(?:\?(.*))?$/i;

export function parseTransportUrl(text: string): TransportUrl {
  if (text.startsWith('hid:')) return parseHidUrl(text);
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new TransportUrlError(`not a transport URL: ${JSON.stringify(text)} (expected e.g. tcp://host:4370 or serial:///dev/ttyUSB0)`);
  }
  const scheme = url.protocol.slice(0, -1);
  const options = Object.fromEntries(url.searchParams.entries());
  switch (scheme) {
    case 'tcp':
    case 'udp':
    case 'serial+tcp': {
      const port = Number(url.port);
      if (!url.hostname) throw new TransportUrlError(`${text}: missing host`);
      if (!Number.isInteger(port) || port < 1 || port > 65535) throw new TransportUrlError(`${text}: missing or invalid port`);
      return { scheme, host: url.hostname.replace(/^\[|\]$/g, ''), port, options };
    }
    case 'serial': {
      const path = decodeURIComponent(url.pathname);
      if (!path || path === '/') throw new TransportUrlError(`${text}: missing device path, e.g. serial:///dev/ttyUSB0`);
      return { scheme, path, options };
    }
    default:
      throw new TransportUrlError(`${text}: unknown transport ${JSON.stringify(scheme)}; use tcp, udp, serial, serial+tcp or hid`);
  }
}

// WHATWG URL parsing rejects hexadecimal ports, so HID URLs are matched directly.
function parseHidUrl(text: string): TransportUrl {
  const match = HID_URL.exec(text);
  if (!match) throw new TransportUrlError(`${text}: expected hid://vid:pid[/serial] with hexadecimal ids`);
  const [, vendor, product, serialNumber, query] = match;
  return {
    scheme: 'hid',
    vendorId: parseInt(vendor!, 16),
    productId: parseInt(product!, 16),
    ...(serialNumber ? { serialNumber: decodeURIComponent(serialNumber) } : {}),
    options: Object.fromEntries(new URLSearchParams(query ?? '').entries()),
  };
}
