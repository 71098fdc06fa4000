import { createSocket, type Socket } from 'node:dgram';
import { EventEmitter } from 'node:events';
import { isIPv6 } from 'node:net';
import type { ByteLink, ByteLinkEvents, ByteLinkFactory } from './link.js';

export interface UdpLinkOptions {
  host: string;
  port: number;
  /** Shown in logs. Default `udp://host:port`, with an IPv6 host in brackets. */
  description?: string;
}

/**
 * Opens a fresh connected UDP socket per call (ZK terminals on UDP 4370).
 *
 * Unlike the stream links, a UDP link is message-oriented: each `data` event
 * is exactly one datagram, never a part of one or several together, and each
 * write() sends one datagram. Protocols that frame one packet per datagram
 * can therefore skip stream reassembly.
 *
 * There is no connection to lose: a silent peer is noticed only by the
 * driver's own timeouts and probes. A connected socket does report the ICMP
 * "port unreachable" of a host whose port is closed; that ends the link.
 */
export function udpLinkFactory(options: UdpLinkOptions): ByteLinkFactory {
  return () => openUdpLink(options);
}

async function openUdpLink({ host, port, description }: UdpLinkOptions): Promise<ByteLink> {
  const name = description ?? `udp://${isIPv6(host) ? `[${host}]` : host}:${port}`;
  const socket = createSocket(isIPv6(host) ? 'udp6' : 'udp4');
  await new Promise<void>((resolve, reject) => {
    const fail = (error: Error) => {
      socket.close();
      reject(new Error(`${name}: ${error.message}`, { cause: error }));
    };
    socket.once('error', fail);
    socket.connect(port, host, () => {
      socket.off('error', fail);
      resolve();
    });
  });
  return new UdpLink(socket, name);
}

class UdpLink extends EventEmitter<ByteLinkEvents> implements ByteLink {
  /** Set once the link starts to end, by close() or by a socket error. */
  private closed: Promise<void> | undefined;

  constructor(
    private readonly socket: Socket,
    readonly description: string,
  ) {
    super();
    socket.on('message', (datagram) => this.emit('data', datagram));
    socket.on('error', (error) => void this.end(error));
  }

  write(bytes: Uint8Array): Promise<void> {
    if (this.closed) return Promise.reject(new Error(`${this.description}: link is closed`));
    return new Promise((resolve, reject) => this.socket.send(bytes, (error) => (error ? reject(error) : resolve())));
  }

  close(): Promise<void> {
    return this.end(undefined);
  }

  private end(error: Error | undefined): Promise<void> {
    if (this.closed) return this.closed;
    this.closed = new Promise((resolve) =>
      this.socket.close(() => {
        this.emit('close', error);
        resolve();
      }),
    );
    return this.closed;
  }
}
